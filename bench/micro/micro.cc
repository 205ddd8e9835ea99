/* SPDX-License-Identifier: MIT */
// Microbenchmarks (Google Benchmark) of ursock's C API: the future round trip, a batch of
// ops through the pool and the ring, buffer lend/release, address parsing, and a
// send+recv pair on a socketpair. Built twice: with the system allocator (micro_sys) and
// with jemalloc (micro_jemalloc); make bench reports them side by side.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <future>
#include <thread>
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

// A loop on a thread of its own that runs what other threads post to it (URS_RUN_UNTIL_STOP).
struct Receiver {
	urs_loop *loop = nullptr;
	std::atomic<long> got{ 0 };
	std::thread th;
	Receiver()
	{
		std::promise<urs_loop *> made;
		auto f = made.get_future();
		th = std::thread([this, &made] {
			urs_loop *l;
			urs_loop_new(&l, nullptr);
			made.set_value(l);
			urs_loop_run(l, URS_RUN_UNTIL_STOP);
			urs_loop_free(l);
		});
		loop = f.get();
	}
	~Receiver()
	{
		urs_loop_stop(loop);
		th.join();
	}
	void wait_for(long n)
	{
		while (got.load(std::memory_order_acquire) < n)
			std::this_thread::yield();
	}
};

void on_post(urs_loop *, void *arg)
{
	static_cast<Receiver *>(arg)->got.fetch_add(1, std::memory_order_release);
}

// urs_loop_post from a plain thread to a loop on another thread: the cost per post, each
// delivered (the eventfd wakes the loop when it had looked; later posts ride along).
void BM_PostToOtherThread(benchmark::State &st)
{
	Receiver r;
	long n = 0;
	for (auto _ : st) {
		urs_loop_post(r.loop, on_post, &r);
		n++;
	}
	r.wait_for(n);
	st.SetItemsProcessed(n);
}
BENCHMARK(BM_PostToOtherThread)->UseRealTime();

// urs_loop_post_from between two loops on two threads: the wake rides on the sender's
// ring as IORING_OP_MSG_RING (its loop turns every 64 posts).
void BM_PostFromLoopMsgRing(benchmark::State &st)
{
	Receiver r;
	Loop mine;
	long n = 0;
	for (auto _ : st) {
		urs_loop_post_from(mine.loop, r.loop, on_post, &r);
		if (++n % 64 == 0)
			urs_loop_run(mine.loop, URS_RUN_NOWAIT);
	}
	urs_loop_run(mine.loop, URS_RUN_NOWAIT);
	r.wait_for(n);
	st.SetItemsProcessed(n);
}
BENCHMARK(BM_PostFromLoopMsgRing)->UseRealTime();

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
