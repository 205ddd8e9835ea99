# ursock: one Makefile. `make test` and `make run` work on a fresh Debian 12 machine as root:
# scripts/deps.sh installs what is missing first. Everything built goes under build/.
#   make            library, tests, examples
#   make test       run every test binary (SAN=1: under ASan+UBSan, in build/san)
#   make run        start the main example (HTTP/1.1 echo on 127.0.0.1:8080)
#   make examples   build examples/

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined
OPT := -O1 -g $(SANFLAGS) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT := -O2 -g
endif

CC ?= cc
CFLAGS := -std=gnu11 $(OPT) -Wall -Wextra -Werror -fvisibility=hidden -Iengine/include -MMD -MP
LDFLAGS := $(SANFLAGS)
LIBS := -luring -lm

ENGINE_SRC := $(wildcard engine/src/*.c)
ENGINE_OBJ := $(ENGINE_SRC:engine/src/%.c=$(BUILD)/engine/%.o)
LIB := $(BUILD)/libursock.a

TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL := $(BUILD)/tests/testutil.o

EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

# The engine fuzzer: built once with clang (see fuzz-engine below), also run by make test.
FUZZ_ENGINE := build/fuzz/fuzz_engine
FUZZ_ENGINE_SRC := fuzz/fuzz_engine.c fuzz/engine_actions.c fuzz/engine_futures.c fuzz/engine_model.c

DEPS_STAMP := build/.deps-ok

.PHONY: all test run examples clean deps fuzz fuzz-engine fuzz-repro bench bench-build
.SECONDARY:
all: $(LIB) $(TEST_BIN) $(EXAMPLE_BIN) $(BUILD)/examples/http_echo

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	@scripts/deps.sh
	@mkdir -p build && touch $@

$(BUILD)/engine/%.o: engine/src/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(LIB): $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%.o: tests/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TEST_UTIL) $(LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS) -lcmocka -lcrypto -lpthread

$(BUILD)/examples/%: examples/%.c $(LIB) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(LIB) $(LIBS) -lpthread

# llhttp's C sources come from Debian's node-llhttp, compiled from there at build time.
LLHTTP_DIR := /usr/share/llhttp
LLHTTP_INC := /usr/share/include/llhttp
LLHTTP_OBJ := $(patsubst %,$(BUILD)/llhttp/%.o,api http llhttp)
HTTP_OBJ := $(BUILD)/examples/http/http_core.o $(LLHTTP_OBJ)
$(BUILD)/llhttp/%.o: | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(OPT) -fPIC -I$(LLHTTP_INC) -c $(LLHTTP_DIR)/$*.c -o $@
$(BUILD)/examples/http/%.o: examples/http/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(LLHTTP_INC) -c $< -o $@
$(BUILD)/examples/http_echo: examples/http_echo.c $(HTTP_OBJ) $(LIB) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iexamples -I$(LLHTTP_INC) $< $(HTTP_OBJ) -o $@ $(LDFLAGS) $(LIB) $(LIBS) -lpthread

examples: $(EXAMPLE_BIN)

test: $(TEST_BIN) $(EXAMPLE_BIN) $(BUILD)/examples/http_echo $(FUZZ_ENGINE)
	@scripts/run-tests.sh $(BUILD)/tests

# test_fuzz_engine runs the engine fuzzer (below) for FUZZ_TEST_SECONDS (20) from its seeds.
$(BUILD)/tests/test_fuzz_engine.o: CFLAGS += -DFUZZ_ENGINE_BIN='"$(CURDIR)/$(FUZZ_ENGINE)"' \
	-DFUZZ_ENGINE_SEEDS='"$(CURDIR)/fuzz/engine-corpus"' -DFUZZ_ENGINE_WORK='"$(CURDIR)/build/fuzz"'

run: $(BUILD)/examples/http_echo
	@echo "try: curl -s http://127.0.0.1:8080/   curl -s -d hello http://127.0.0.1:8080/   wrk -t1 -c64 -d5s http://127.0.0.1:8080/"
	$(BUILD)/examples/http_echo 127.0.0.1:8080

# ---------------------------------------------------------------- benchmarks
BENCH_BIN := $(BUILD)/bench/epoll_server $(BUILD)/bench/blocking_server $(BUILD)/bench/uring_echo \
	$(BUILD)/bench/echo_client $(BUILD)/bench/micro_sys $(BUILD)/bench/micro_jemalloc
$(BUILD)/bench/%_server: bench/baselines/%_server.c $(HTTP_OBJ) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iexamples -I$(LLHTTP_INC) $< $(HTTP_OBJ) -o $@ $(LDFLAGS) -lpthread
$(BUILD)/bench/uring_echo: bench/baselines/uring_echo.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) -luring
$(BUILD)/bench/echo_client: bench/echo_client.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) -lm
# The Google Benchmark harness (C++ over the C API), with the system allocator and jemalloc.
$(BUILD)/bench/micro.o: bench/micro/micro.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Werror -Iengine/include -c $< -o $@
$(BUILD)/bench/micro_sys: $(BUILD)/bench/micro.o $(LIB)
	$(CXX) $^ -o $@ $(LDFLAGS) -lbenchmark -lpthread $(LIBS)
$(BUILD)/bench/micro_jemalloc: $(BUILD)/bench/micro.o $(LIB)
	$(CXX) $^ -o $@ $(LDFLAGS) -lbenchmark -lpthread $(LIBS) -ljemalloc
bench-build: $(BENCH_BIN) $(BUILD)/examples/http_echo $(BUILD)/examples/stream_echo

# make bench: the full run (under 20 minutes); QUICK=1 checks that it all works (< 2 min).
# Writes bench/report/ (report.md, results.json, PNG plots) and prints the table.
QUICK ?= 0
bench: bench-build
	scripts/bench-deps.sh
	python3 bench/run.py --build $(BUILD) --out bench/report $(if $(filter 1,$(QUICK)),--quick)

# libFuzzer on the HTTP request path (clang), bounded: FUZZ_SECONDS (60) of fuzzing.
FUZZ_SECONDS ?= 60
fuzz: | $(DEPS_STAMP)
	@mkdir -p build/fuzz/corpus
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -Iexamples -I$(LLHTTP_INC) \
		fuzz/fuzz_http.c examples/http/http_core.c $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c \
		$(LLHTTP_DIR)/llhttp.c -o build/fuzz/fuzz_http
	cp -n fuzz/corpus/* build/fuzz/corpus/
	build/fuzz/fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=5 build/fuzz/corpus

# libFuzzer over the engine's public API (fuzz/fuzz_engine.c): random interleavings on one
# small loop, checked against a model after every step. Built once with clang, ASan+UBSan,
# whatever SAN says. make fuzz-engine FUZZ_SECONDS=N fuzzes a corpus under build/fuzz,
# seeded from fuzz/engine-corpus; findings go to build/fuzz/engine-crashes/.
FUZZ_ENGINE_ARGS := -timeout=10 -max_len=2048 -artifact_prefix=build/fuzz/engine-crashes/
$(FUZZ_ENGINE): $(FUZZ_ENGINE_SRC) $(wildcard fuzz/engine_*.h) $(ENGINE_SRC) $(wildcard engine/src/*.h) \
		engine/include/ursock.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Wall -Wextra -Werror -Iengine/include $(FUZZ_ENGINE_SRC) $(ENGINE_SRC) -o $@ $(LIBS)
fuzz-engine: $(FUZZ_ENGINE)
	@mkdir -p build/fuzz/engine-corpus build/fuzz/engine-crashes
	cp -n fuzz/engine-corpus/* build/fuzz/engine-corpus/
	$(FUZZ_ENGINE) -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ENGINE_ARGS) build/fuzz/engine-corpus

# The engine defects fuzz_engine found, one reproducer each (public API only): each exits 0
# once its defect is fixed. The fuzzer steers around them unless FUZZ_ENGINE_STRICT=1 (or the
# names of some), so that it finds new ones meanwhile.
REPRO_SRC := $(wildcard fuzz/repro/*.c)
fuzz-repro: | $(DEPS_STAMP)
	@mkdir -p build/fuzz/repro
	@for f in $(REPRO_SRC); do n=$$(basename $$f .c); \
		$(CC) -std=gnu11 -g -O1 -fsanitize=address,undefined -Wall -Wextra -Werror -Iengine/include \
			$$f $(ENGINE_SRC) -o build/fuzz/repro/$$n $(LIBS) || exit 1; \
		if build/fuzz/repro/$$n >build/fuzz/repro/$$n.log 2>&1; then echo "$$n: fixed"; \
		else echo "$$n: reproduces (build/fuzz/repro/$$n.log)"; fi; done

clean:
	rm -rf build

-include $(ENGINE_OBJ:.o=.d) $(TEST_BIN:%=%.d) $(TEST_UTIL:.o=.d)
