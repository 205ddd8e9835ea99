# SPDX-License-Identifier: MIT
# ursock: one Makefile. Everything built goes under $(BUILD) (build/, or build/san with SAN=1).
#
#   make              the library (libursock.a, libursock.so.0), the examples and the man
#                     pages. Needs a C compiler and liburing-dev, nothing else, and never
#                     installs anything: host names (c-ares), examples on another library
#                     (http_echo: llhttp, host_libuv: libuv) and the man pages (python3) are
#                     built where what they need is installed; each is skipped, with a
#                     note, where not
#   make man          the man pages, from the headers' doc comments (scripts/mangen.py)
#   make install      PREFIX=/usr/local DESTDIR= (also LIBDIR, INCLUDEDIR, PKGCONFIGDIR, MANDIR)
#   make uninstall    removes what install put there (same variables)
#   make test         installs what the tests need (scripts/deps.sh), then `make check`
#   make check        builds and runs every test binary, installs no package
#   make run          starts the main example (HTTP/1.1 echo on 127.0.0.1:8080)
#   make examples     every example (the optional ones where their library is there)
#   make fuzz         libFuzzer on the HTTP request path, FUZZ_SECONDS (60)
#   make fuzz-engine  libFuzzer over the engine API against a model, FUZZ_SECONDS (60)
#   make fuzz-repro   the reproducers of the engine defects fuzz-engine found
#   make bench        the benchmarks, report under $(BUILD)/bench-report (QUICK=1: < 2 min)
#   make bench-build  builds the benchmark programs only
#   make bench-report a full run that refreshes the committed bench/report/
#
# The user's CC, CPPFLAGS, CFLAGS, LDFLAGS and LDLIBS are honoured and come after the
# project's own flags (`make CFLAGS=-O1` keeps -std, the warnings and -fvisibility).
# WERROR=1 adds -Werror; `make test`, `make bench` and CI set it, a plain `make` does not.
# SAN=1 builds everything under ASan+UBSan. URS_CARES=0 builds without c-ares even where it
# is installed, URS_CARES=1 fails where it is not (default: use it where it is found).

HASH := \#
COMMA := ,
VERSION_H := engine/include/ursock_version.h
version_part = $(shell sed -n 's/^$(HASH)define URS_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' $(VERSION_H))
VERSION := $(call version_part,MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
# The soname's number: it moves whenever the ABI breaks, whatever the version number says
# (docs/ABI.md).
SOVERSION := 0

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
# Run after an install to the live system (no DESTDIR) as root: the loader's cache must learn
# the new soname. LDCONFIG=: skips it.
LDCONFIG ?= ldconfig

SAN ?= 0
TSAN ?= 0
WERROR ?= 0
ifeq ($(SAN),1)
BUILD ?= build/san
CFLAGS ?= -O1 -g
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(TSAN),1)
# ThreadSanitizer: `make test TSAN=1` runs the threading tests (test_threads, test_embed)
# on both backends; a data race fails them.
BUILD ?= build/tsan
CFLAGS ?= -O1 -g
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TEST_ONLY := test_threads test_embed
else
BUILD ?= build
CFLAGS ?= -O2 -g
SAN_FLAGS :=
endif

CC ?= cc
PKG_CONFIG ?= pkg-config
# The project's flags first, then the user's: the last -O, -g or -f wins, so the user's do.
URS_CPPFLAGS := -Iengine/include
URS_CFLAGS := -std=gnu11 -Wall -Wextra -fvisibility=hidden $(SAN_FLAGS)
WERROR_FLAG := $(if $(filter 1,$(WERROR)),-Werror)
ALL_CFLAGS = $(URS_CPPFLAGS) $(CPPFLAGS) $(URS_CFLAGS) $(WERROR_FLAG) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)
DEPFLAGS = -MMD -MP

# liburing through pkg-config when it is there (a liburing in another prefix), else -luring.
URING_CFLAGS := $(shell $(PKG_CONFIG) --cflags liburing 2>/dev/null)
URING_LIBS := $(or $(shell $(PKG_CONFIG) --libs liburing 2>/dev/null),-luring)
URS_CPPFLAGS += $(URING_CFLAGS)
# c-ares resolves host names for urs_getaddrinfo and urs_create_connection (Debian's
# libc-ares-dev). Optional: found through pkg-config libcares, else by its header (then
# -lcares). Without it the library resolves numeric hosts only (a name: -ENOSYS), and
# ursock.pc names only liburing.
URS_CARES ?=
CARES_PC := $(if $(filter 0,$(URS_CARES)),,$(shell $(PKG_CONFIG) --exists libcares 2>/dev/null && echo yes))
CARES_H := $(if $(filter 0,$(URS_CARES))$(CARES_PC),,$(shell printf '$(HASH)include <ares.h>\n' | \
	$(CC) $(URING_CFLAGS) $(CPPFLAGS) -E -x c - >/dev/null 2>&1 && echo yes))
HAVE_CARES := $(if $(filter 0,$(URS_CARES)),,$(CARES_PC)$(CARES_H))
ifeq ($(URS_CARES)$(HAVE_CARES),1)
$(error URS_CARES=1 but c-ares is not found (pkg-config libcares, ares.h): install libc-ares-dev)
endif
ifneq ($(HAVE_CARES),)
CARES_CFLAGS := $(if $(CARES_PC),$(shell $(PKG_CONFIG) --cflags libcares 2>/dev/null))
CARES_LIBS := $(if $(CARES_PC),$(shell $(PKG_CONFIG) --libs libcares 2>/dev/null),-lcares)
URS_CPPFLAGS += -DURS_HAVE_CARES=1 $(CARES_CFLAGS)
endif
DEP_LIBS = $(URING_LIBS) $(CARES_LIBS)
# ursock.pc: what a static link needs beside libursock.a
PC_REQUIRES := liburing$(if $(CARES_PC),$(COMMA) libcares)
PC_LIBS_PRIVATE := $(if $(CARES_H),-lcares)

# Objects are rebuilt when the compiler or the flags change (-Werror aside: it changes no
# output), so `make CC=clang` or `make CFLAGS=-O0` after a build never mixes objects.
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_TEXT = $(CC) $(CXX) $(filter-out -Werror,$(ALL_CFLAGS)) $(ALL_LDFLAGS) $(LDLIBS) $(DEP_LIBS)
$(FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(subst ','\'',$(FLAGS_TEXT))' > $@.new
	@if cmp -s $@ $@.new; then rm $@.new; else mv $@.new $@; fi

# ---------------------------------------------------------------- the library
LIB_SRC := $(wildcard engine/src/*.c)
LIB_OBJ := $(LIB_SRC:engine/src/%.c=$(BUILD)/engine/%.o)
STATIC_LIB := $(BUILD)/libursock.a
SONAME := libursock.so.$(SOVERSION)
SHARED_REAL := $(BUILD)/libursock.so.$(VERSION)
SHARED_LINKS := $(BUILD)/$(SONAME) $(BUILD)/libursock.so
VERSION_SCRIPT := engine/libursock.map
LIBS := $(STATIC_LIB) $(SHARED_REAL) $(SHARED_LINKS)

$(BUILD)/engine/%.o: engine/src/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -fPIC -c $< -o $@

$(STATIC_LIB): $(LIB_OBJ) Makefile
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

# Only urs_* is exported (the version script); every symbol must resolve at link time.
$(SHARED_REAL): $(LIB_OBJ) $(VERSION_SCRIPT) Makefile
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -shared -Wl,-soname,$(SONAME) \
		-Wl,--version-script=$(VERSION_SCRIPT) -Wl,--no-undefined \
		$(LIB_OBJ) -o $@ $(DEP_LIBS) $(LDLIBS)
$(BUILD)/$(SONAME): $(SHARED_REAL)
	ln -sf $(notdir $<) $@
$(BUILD)/libursock.so: $(BUILD)/$(SONAME)
	ln -sf $(notdir $<) $@

# ---------------------------------------------------------------- examples
# Plain examples need only the library. http_echo needs llhttp's C sources (Debian's
# node-llhttp), host_libuv needs libuv: each is built where its library is installed.
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
HAVE_LLHTTP := $(wildcard $(LLHTTP_DIR)/llhttp.c)
LIBUV_CFLAGS := $(shell $(PKG_CONFIG) --cflags libuv 2>/dev/null)
LIBUV_LIBS := $(shell $(PKG_CONFIG) --libs libuv 2>/dev/null)
HAVE_LIBUV := $(shell $(PKG_CONFIG) --exists libuv 2>/dev/null && echo yes)

OPTIONAL_EXAMPLES := $(filter http_echo host_libuv,$(basename $(notdir $(wildcard examples/*.c))))
PLAIN_EXAMPLES := $(filter-out $(OPTIONAL_EXAMPLES),$(basename $(notdir $(wildcard examples/*.c))))
EXAMPLE_BIN := $(PLAIN_EXAMPLES:%=$(BUILD)/examples/%)
ALL_EXAMPLE_BIN := $(EXAMPLE_BIN) $(OPTIONAL_EXAMPLES:%=$(BUILD)/examples/%)
AVAILABLE_EXAMPLE_BIN := $(EXAMPLE_BIN) $(addprefix $(BUILD)/examples/,$(filter $(OPTIONAL_EXAMPLES), \
	$(if $(HAVE_LLHTTP),http_echo) $(if $(HAVE_LIBUV),host_libuv)))

$(BUILD)/examples/%.o: examples/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c $< -o $@
$(BUILD)/examples/%: $(BUILD)/examples/%.o $(STATIC_LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(filter %.o,$^) $(filter %.a,$^) -o $@ $(DEP_LIBS) -lpthread $(LDLIBS)

# The two host-loop examples share their ursock side (examples/host/).
HOST_OBJ := $(BUILD)/examples/host/echo_service.o
$(BUILD)/examples/host_epoll: $(HOST_OBJ)

# llhttp's C sources, compiled from Debian's node-llhttp at build time (not our code: not
# our warnings either), in its strict mode: the file holds both parsers, and strict refuses
# more (README: what http_echo refuses).
LLHTTP_DEFS := -DLLHTTP_STRICT_MODE=1 -I$(LLHTTP_INC)
LLHTTP_OBJ := $(patsubst %,$(BUILD)/llhttp-strict/%.o,api http llhttp)
HTTP_OBJ := $(BUILD)/examples/http/http_core.o $(LLHTTP_OBJ)
$(BUILD)/llhttp-strict/%.o: $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS) -fPIC $(LLHTTP_DEFS) -c $(LLHTTP_DIR)/$*.c -o $@
$(BUILD)/examples/http/%.o: examples/http/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(LLHTTP_DEFS) -c $< -o $@
$(BUILD)/examples/http_echo.o: examples/http_echo.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Iexamples $(LLHTTP_DEFS) -c $< -o $@
$(BUILD)/examples/http_echo: $(BUILD)/examples/http_echo.o $(HTTP_OBJ) $(STATIC_LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(filter %.o,$^) $(filter %.a,$^) -o $@ $(DEP_LIBS) -lpthread $(LDLIBS)

$(BUILD)/examples/host_libuv.o: examples/host_libuv.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) $(LIBUV_CFLAGS) -c $< -o $@
$(BUILD)/examples/host_libuv: $(BUILD)/examples/host_libuv.o $(HOST_OBJ) $(STATIC_LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(filter %.o,$^) $(filter %.a,$^) -o $@ $(DEP_LIBS) $(or $(LIBUV_LIBS),-luv) $(LDLIBS)

# ---------------------------------------------------------------- man pages
# One page per public call (or group of calls sharing a comment: the others are .so links),
# per struct and enum type, and ursock(7), generated from the doc comments of the public
# headers and README's lifetime table: the pages cannot drift from the code. The generator
# fails when a URS_API function has no comment. It needs python3 and nothing else; where
# python3 is missing `make` and `make install` skip the pages with a note (`make man` fails).
PYTHON ?= python3
HAVE_PYTHON := $(shell command -v $(PYTHON) 2>/dev/null)
MAN_HEADERS := engine/include/ursock.h engine/include/ursock_version.h
MAN_OUT := $(BUILD)/man
MAN_STAMP := $(MAN_OUT)/man7/ursock.7
MAN_IF_PYTHON := $(if $(HAVE_PYTHON),$(MAN_STAMP))

# The whole tree is written again (a call removed from the header loses its page).
$(MAN_STAMP): $(MAN_HEADERS) README.md scripts/mangen.py
	$(PYTHON) scripts/mangen.py --out $(MAN_OUT) --readme README.md $(MAN_HEADERS)

.PHONY: all examples examples-note man man-note cares-note
all: $(LIBS) $(AVAILABLE_EXAMPLE_BIN) examples-note $(MAN_IF_PYTHON) man-note cares-note
examples: $(AVAILABLE_EXAMPLE_BIN) examples-note
examples-note:
	$(if $(HAVE_LLHTTP),,@echo "note: http_echo not built: it needs llhttp's C sources in $(LLHTTP_DIR) (scripts/deps.sh build examples)")
	$(if $(HAVE_LIBUV),,@echo "note: host_libuv not built: it needs libuv (pkg-config libuv; scripts/deps.sh build examples)")
man: $(MAN_STAMP)
man-note:
	$(if $(HAVE_PYTHON),,@echo "note: man pages not built: they need $(PYTHON) (apt-get install python3; then make man)")
cares-note:
	$(if $(HAVE_CARES),,@echo "note: built without c-ares ($(if $(filter 0,$(URS_CARES)),URS_CARES=0,no libc-ares-dev)): urs_getaddrinfo takes numeric hosts only, a name answers -ENOSYS")

# ---------------------------------------------------------------- install
# Headers, both libraries and ursock.pc under $(DESTDIR)$(PREFIX). ursock.pc is written here,
# from the PREFIX/LIBDIR/INCLUDEDIR of this install; paths under PREFIX are kept relative
# to ${prefix} so `pkg-config --define-prefix` can relocate the tree.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
.PHONY: install uninstall
install: $(LIBS) $(MAN_IF_PYTHON) cares-note
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 engine/include/ursock.h engine/include/ursock_version.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED_REAL) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHARED_REAL)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libursock.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|' \
		-e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@REQUIRES_PRIVATE@|$(PC_REQUIRES)|' -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' \
		-e '/^Libs.private: *$$/d' engine/ursock.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/ursock.pc
	@chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/ursock.pc
ifneq ($(HAVE_PYTHON),)
	install -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 644 $(MAN_OUT)/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(MAN_OUT)/man7/*.7 $(DESTDIR)$(MANDIR)/man7/
else
	@echo "note: man pages not installed: they need $(PYTHON) to be built"
endif
	@if [ -z "$(DESTDIR)" ]; then if [ "$$(id -u)" = 0 ]; then $(LDCONFIG); else \
		echo "note: run ldconfig as root if $(LIBDIR) is in the loader's path"; fi; fi
# The man pages go by their prefix (urs_ is the library's own): that also takes the page of
# a call a later header dropped, and needs no python3.
uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/ursock.h $(DESTDIR)$(INCLUDEDIR)/ursock_version.h \
		$(DESTDIR)$(LIBDIR)/libursock.a $(DESTDIR)$(LIBDIR)/$(notdir $(SHARED_REAL)) \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libursock.so \
		$(DESTDIR)$(PKGCONFIGDIR)/ursock.pc
	rm -f $(DESTDIR)$(MANDIR)/man3/urs_*.3 $(DESTDIR)$(MANDIR)/man7/ursock.7

# ---------------------------------------------------------------- tests
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL := $(BUILD)/tests/testutil.o

$(BUILD)/tests/%.o: tests/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Itests -c $< -o $@
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TEST_UTIL) $(STATIC_LIB)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(filter %.o,$^) $(filter %.a,$^) -o $@ $(DEP_LIBS) -lcmocka -lcrypto -lpthread $(LDLIBS)

# test_install builds and installs a tree of its own from this source tree, with this CC.
$(BUILD)/tests/test_install.o: URS_CPPFLAGS += -DURS_SRCDIR='"$(CURDIR)"' -DURS_CC='"$(CC)"' \
	-DURS_TEST_BUILD='"$(abspath $(BUILD))/install-test"' -DURS_SOVERSION=$(SOVERSION)
$(BUILD)/tests/test_install.o: Makefile

# test_fuzz_engine runs the engine fuzzer (fuzz-engine below) for FUZZ_TEST_SECONDS (18) from
# its seeds. The fuzzer is one clang build whatever SAN says.
FUZZ_WORK := build/fuzz
FUZZ_ENGINE := $(FUZZ_WORK)/fuzz_engine
$(BUILD)/tests/test_fuzz_engine.o: URS_CPPFLAGS += -DFUZZ_ENGINE_BIN='"$(abspath $(FUZZ_ENGINE))"' \
	-DFUZZ_ENGINE_SEEDS='"$(CURDIR)/fuzz/engine-corpus"' -DFUZZ_ENGINE_WORK='"$(abspath $(FUZZ_WORK))"'
$(BUILD)/tests/test_fuzz_engine.o: Makefile
$(BUILD)/tests/test_fuzz_engine: | $(FUZZ_ENGINE)

# `make test` is the project's own build: -Werror unless WERROR is given.
TEST_WERROR := $(if $(filter command line,$(origin WERROR)),$(WERROR),1)
.PHONY: test check run
test:
	@scripts/deps.sh build examples test
	@$(MAKE) --no-print-directory check WERROR=$(TEST_WERROR)
check: $(LIBS) $(TEST_BIN) $(ALL_EXAMPLE_BIN) $(MAN_STAMP) $(FUZZ_ENGINE)
	@python3 scripts/spdx.py --check
	@TEST_ONLY="$(TEST_ONLY)" TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		scripts/run-tests.sh $(BUILD)/tests

run:
	@scripts/deps.sh build examples
	@$(MAKE) --no-print-directory $(BUILD)/examples/http_echo
	@echo "try: curl -s http://127.0.0.1:8080/   curl -s -d hello http://127.0.0.1:8080/   wrk -t1 -c64 -d5s http://127.0.0.1:8080/"
	$(BUILD)/examples/http_echo 127.0.0.1:8080

# ---------------------------------------------------------------- benchmarks
BENCH_BIN := $(BUILD)/bench/epoll_server $(BUILD)/bench/blocking_server $(BUILD)/bench/uring_echo \
	$(BUILD)/bench/echo_client $(BUILD)/bench/micro_sys $(BUILD)/bench/micro_jemalloc \
	$(BUILD)/bench/features $(BUILD)/bench/libuv_server $(BUILD)/bench/loop_rss
$(BUILD)/bench/%_server: bench/baselines/%_server.c $(HTTP_OBJ) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iexamples $(LLHTTP_DEFS) $< $(HTTP_OBJ) -o $@ $(ALL_LDFLAGS) -lpthread $(LDLIBS)
$(BUILD)/bench/libuv_server: bench/baselines/libuv_server.c $(HTTP_OBJ) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iexamples $(LLHTTP_DEFS) $(LIBUV_CFLAGS) $< $(HTTP_OBJ) -o $@ $(ALL_LDFLAGS) $(LIBUV_LIBS) -lpthread $(LDLIBS)
$(BUILD)/bench/uring_echo: bench/baselines/uring_echo.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(ALL_LDFLAGS) $(DEP_LIBS) $(LDLIBS)
$(BUILD)/bench/echo_client: bench/echo_client.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(ALL_LDFLAGS) -lm $(LDLIBS)
$(BUILD)/bench/features: bench/features.c $(STATIC_LIB)
	$(CC) $(ALL_CFLAGS) $< $(STATIC_LIB) -o $@ $(ALL_LDFLAGS) $(DEP_LIBS) $(LDLIBS)
$(BUILD)/bench/loop_rss: bench/loop_rss.c $(STATIC_LIB)
	$(CC) $(ALL_CFLAGS) $< $(STATIC_LIB) -o $@ $(ALL_LDFLAGS) $(DEP_LIBS) $(LDLIBS)
# The Google Benchmark harness (C++ over the C API), with the system allocator and jemalloc.
# NDEBUG: the harness's timing loop is inlined into this file from benchmark.h, and must
# not carry its assertions (the library itself is Debian's build, see the report).
$(BUILD)/bench/micro.o: bench/micro/micro.cc $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 -DNDEBUG $(URS_CPPFLAGS) $(CPPFLAGS) -Wall -Wextra $(WERROR_FLAG) $(SAN_FLAGS) \
		$(CFLAGS) $(CXXFLAGS) -c $< -o $@
$(BUILD)/bench/micro_sys: $(BUILD)/bench/micro.o $(STATIC_LIB)
	$(CXX) $(SAN_FLAGS) $(filter %.o,$^) $(filter %.a,$^) -o $@ $(ALL_LDFLAGS) -lbenchmark -lpthread $(DEP_LIBS) $(LDLIBS)
$(BUILD)/bench/micro_jemalloc: $(BUILD)/bench/micro.o $(STATIC_LIB)
	$(CXX) $(SAN_FLAGS) $(filter %.o,$^) $(filter %.a,$^) -o $@ $(ALL_LDFLAGS) -lbenchmark -lpthread $(DEP_LIBS) -ljemalloc $(LDLIBS)

BENCH_WERROR := $(TEST_WERROR)
BENCH_OUT ?= $(BUILD)/bench-report
QUICK ?= 0
.PHONY: bench bench-build bench-bins bench-report
bench-bins: $(BENCH_BIN) $(BUILD)/examples/http_echo $(BUILD)/examples/stream_echo
bench-build:
	@scripts/bench-deps.sh
	@$(MAKE) --no-print-directory bench-bins WERROR=$(BENCH_WERROR)
# make bench: the full run (about 15 minutes on 2 cores); QUICK=1 checks that it all works.
# Writes $(BENCH_OUT)/ (report.md, results.json, PNG plots) and prints the tables.
bench: bench-build
	python3 bench/run.py --build $(BUILD) --out $(BENCH_OUT) $(if $(filter 1,$(QUICK)),--quick)
# The report committed in bench/report/ changes only on purpose: a full run, written there.
bench-report:
	@if [ "$(QUICK)" = 1 ]; then echo "bench-report: a full run only (no QUICK=1)"; exit 2; fi
	@$(MAKE) --no-print-directory bench BENCH_OUT=bench/report

# ---------------------------------------------------------------- fuzzing
# libFuzzer on the HTTP server path (clang, ASan+UBSan, any UB is a finding), bounded:
# FUZZ_SECONDS (60) of fuzzing.
FUZZ_SECONDS ?= 60
.PHONY: fuzz
fuzz:
	@scripts/deps.sh build examples test
	@mkdir -p build/fuzz/corpus
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Iexamples $(LLHTTP_DEFS) \
		fuzz/fuzz_http.c examples/http/http_core.c $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c \
		$(LLHTTP_DIR)/llhttp.c -o build/fuzz/fuzz_http
	cp -n fuzz/corpus/* build/fuzz/corpus/
	build/fuzz/fuzz_http -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=5 build/fuzz/corpus

# libFuzzer over the engine's public API (fuzz/fuzz_engine.c): random interleavings on one
# small loop, checked against a model after every step. Built with clang, ASan+UBSan,
# whatever SAN says, from the engine's sources (not the library: its own instrumentation).
# make fuzz-engine FUZZ_SECONDS=N fuzzes a corpus under build/fuzz seeded from
# fuzz/engine-corpus (FUZZ_JOBS=N runs N fuzzers on it); findings go to
# build/fuzz/engine-crashes/. URSOCK_BACKEND=epoll fuzzes the epoll backend.
FUZZ_ENGINE_SRC := fuzz/fuzz_engine.c fuzz/engine_actions.c fuzz/engine_futures.c fuzz/engine_model.c
FUZZ_ENGINE_ARGS := -timeout=10 -max_len=2048 -artifact_prefix=$(FUZZ_WORK)/engine-crashes/
FUZZ_JOBS ?= 1
FUZZ_CC ?= clang
$(FUZZ_ENGINE): $(FUZZ_ENGINE_SRC) $(wildcard fuzz/engine_*.h) $(LIB_SRC) $(wildcard engine/src/*.h) \
		$(wildcard engine/include/*.h) Makefile
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Wall -Wextra -Werror $(URS_CPPFLAGS) $(FUZZ_ENGINE_SRC) $(LIB_SRC) -o $@ $(DEP_LIBS) -lpthread
.PHONY: fuzz-engine fuzz-repro
fuzz-engine:
	@scripts/deps.sh build test
	@$(MAKE) --no-print-directory $(FUZZ_ENGINE)
	@mkdir -p $(FUZZ_WORK)/engine-corpus $(FUZZ_WORK)/engine-crashes
	cp -n fuzz/engine-corpus/* $(FUZZ_WORK)/engine-corpus/
	$(FUZZ_ENGINE) -max_total_time=$(FUZZ_SECONDS) $(FUZZ_ENGINE_ARGS) -print_final_stats=1 \
		$(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) \
		$(FUZZ_WORK)/engine-corpus fuzz/engine-corpus

# The engine defects fuzz_engine found, one reproducer each (public API only), under
# ASan+UBSan on both backends: each says "fixed" once its defect is. The tests in tests/ keep
# them fixed; these stay as the fuzzer's findings in their plainest form.
REPRO_SRC := $(wildcard fuzz/repro/*.c)
fuzz-repro: $(LIB_SRC)
	@mkdir -p $(FUZZ_WORK)/repro
	@for f in $(REPRO_SRC); do n=$$(basename $$f .c); \
		$(FUZZ_CC) -std=gnu11 -g -O1 -fsanitize=address,undefined -Wall -Wextra -Werror \
			$(URS_CPPFLAGS) $$f $(LIB_SRC) -o $(FUZZ_WORK)/repro/$$n $(DEP_LIBS) -lpthread || exit 1; \
		for b in uring epoll; do \
		if URSOCK_BACKEND=$$b timeout 30 $(FUZZ_WORK)/repro/$$n >$(FUZZ_WORK)/repro/$$n.$$b.log 2>&1; \
		then echo "$$n ($$b): fixed"; \
		else echo "$$n ($$b): reproduces ($(FUZZ_WORK)/repro/$$n.$$b.log)"; fi; done; done

# Mutation check: each mutant breaks one named behaviour in a copy of the tree; the tests
# that cover it must fail (scripts/mutants.py lists them). A few minutes.
.PHONY: mutants
mutants:
	@scripts/deps.sh build examples test
	python3 scripts/mutants.py

.PHONY: clean FORCE
clean:
	rm -rf build
FORCE:

.SECONDARY:
.DEFAULT_GOAL := all
-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d)
