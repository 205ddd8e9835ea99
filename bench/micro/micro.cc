// Microbenchmarks (Google Benchmark) of ursock's C API: the future round trip, a batch of
// ops through the pool and the ring, buffer lend/release, address parsing, and a
// send+recv pair on a socketpair. Built twice: with the system allocator (micro_sys) and
// with jemalloc (micro_jemalloc); make bench reports them side by side.
#include <benchmark/benchmark.h>

#include <cstring>
#include <unistd.h>

extern "C" {
#include "ursock.h"
}

namespace {

struct Loop {
	urs_loop *loop = nullptr;
	explicit Loop(const urs_loop_opts *o = nullptr) { urs_loop_new(&loop, o); }
	~Loop() { urs_loop_free(loop); }
};

// One future: a NOP submitted, completed, awaited: one io_uring_enter each.
void BM_FutureNopAwait(benchmark::State &st)
{
	Loop l;
	for (auto _ : st)
		benchmark::DoNotOptimize(urs_await(urs_nop(l.loop), nullptr));
}
BENCHMARK(BM_FutureNopAwait);

void count_cb(urs_result *, void *user) { ++*static_cast<long *>(user); }

// 64 futures per enter: op taken from the pool, SQE, CQE, callback, op returned.
void BM_FutureBatch64(benchmark::State &st)
{
	Loop l;
	long n = 0;
	for (auto _ : st) {
		for (int i = 0; i < 64; i++)
			urs_then(urs_nop(l.loop), count_cb, &n);
		urs_loop_run(l.loop, URS_RUN_UNTIL_IDLE);
	}
	st.SetItemsProcessed(st.iterations() * 64);
}
BENCHMARK(BM_FutureBatch64);

// A receive on a socketpair: the kernel fills a provided buffer, it is lent and released.
void BM_RecvBufLendRelease(benchmark::State &st)
{
	Loop l;
	urs_sock *p[2];
	urs_socketpair(l.loop, SOCK_STREAM, p);
	int fd = urs_fileno(p[0]);
	for (auto _ : st) {
		if (write(fd, "x", 1) != 1)
			st.SkipWithError("write");
		urs_result r;
		urs_await(urs_recv(p[1], 64, 0), &r);
		urs_buf_release(&r.buf);
	}
	urs_sock_free(p[0]);
	urs_sock_free(p[1]);
	urs_loop_run(l.loop, URS_RUN_UNTIL_IDLE);
}
BENCHMARK(BM_RecvBufLendRelease);

void BM_AddrParseV4(benchmark::State &st)
{
	urs_addr a;
	for (auto _ : st)
		benchmark::DoNotOptimize(urs_addr_parse(&a, "127.0.0.1:8080"));
}
BENCHMARK(BM_AddrParseV4);

void BM_AddrParseV6(benchmark::State &st)
{
	urs_addr a;
	for (auto _ : st)
		benchmark::DoNotOptimize(urs_addr_parse(&a, "[2001:db8::1]:443"));
}
BENCHMARK(BM_AddrParseV6);

// send + recv of 64 bytes on a socketpair, both as futures, one enter for the pair.
void BM_SendRecvPair(benchmark::State &st)
{
	Loop l;
	urs_sock *p[2];
	urs_socketpair(l.loop, SOCK_STREAM, p);
	char msg[64];
	std::memset(msg, 'm', sizeof(msg));
	for (auto _ : st) {
		urs_future rf = urs_recv(p[1], 64, 0);
		urs_future sf = urs_send(p[0], msg, sizeof(msg), 0);
		urs_result r;
		urs_await(sf, nullptr);
		urs_await(rf, &r);
		urs_buf_release(&r.buf);
	}
	st.SetBytesProcessed(st.iterations() * 64);
	urs_sock_free(p[0]);
	urs_sock_free(p[1]);
	urs_loop_run(l.loop, URS_RUN_UNTIL_IDLE);
}
BENCHMARK(BM_SendRecvPair);

// Loop creation and teardown (ring set-up, probing, buffer ring registration).
void BM_LoopNewFree(benchmark::State &st)
{
	for (auto _ : st) {
		urs_loop *loop;
		urs_loop_new(&loop, nullptr);
		urs_loop_free(loop);
	}
}
BENCHMARK(BM_LoopNewFree);

} // namespace

BENCHMARK_MAIN();
