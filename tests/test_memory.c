/* SPDX-License-Identifier: MIT */
/* Memory layout (issue 16): ops and sockets from chunks found by index, side parts only for
 * the ops that need them. Many sockets across several socket chunks, reused slots, husks
 * across chunks outliving their loop (LeakSanitizer checks the slab goes with the last
 * one under SAN=1), a pool whose limit ends inside a chunk, a timeout given to a running
 * stream that had no side part. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Room for want more fds, or skip: the hard limit is the machine's. */
static void need_fds(int want)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rlim_t need = (rlim_t)tu_fd_count() + (rlim_t)want + 64;
	if (rl.rlim_cur < need) {
		if (rl.rlim_max < need) {
			print_message("fd limit %lu < %lu: skipped\n", (unsigned long)rl.rlim_max,
				      (unsigned long)need);
			skip();
		}
		rl.rlim_cur = need;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
}

struct count {
	int data, ended, cancelled, timedout, other;
};

static void count_cb(urs_result *r, void *user)
{
	struct count *c = user;
	if (r->flags & URS_RES_MORE) {
		if (r->res > 0)
			c->data++;
		urs_buf_release(&r->buf);
		return;
	}
	urs_buf_release(&r->buf);
	if (r->res == -ECANCELED)
		c->cancelled++;
	else if (r->res == -ETIMEDOUT)
		c->timedout++;
	else if (r->res >= 0)
		c->ended++;
	else
		c->other++;
}

static void stats(urs_loop *loop, urs_loop_stats *st)
{
	urs_loop_stats_get(loop, st);
}

enum { PAIRS = 5000 };

/* 10,000 sockets, each with a receive stream, over many socket chunks; every pair carries a
 * byte; all freed; then as many again in the freed slots. The stream handles of the first
 * round are stale in the second. (Every stream gets data: on epoll a waiting receive holds
 * a buffer, so idle streams beyond the buffer count would starve the rest.) */
static void test_ten_thousand_sockets(void **state)
{
	(void)state;
	need_fds(2 * PAIRS);
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *(*p)[2] = calloc(PAIRS, sizeof(*p));
	urs_future *rx = calloc(PAIRS, sizeof(*rx));
	assert_non_null(p);
	assert_non_null(rx);
	for (int round = 0; round < 2; round++) {
		struct count c = { 0 };
		urs_future old = rx[0];
		for (int i = 0; i < PAIRS; i++) {
			assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
			rx[i] = urs_recv_stream(p[i][1], count_cb, &c);
			assert_int_equal(urs_future_error(rx[i]), 0);
		}
		if (round == 1) /* the first round's handle names a reused op now: stale */
			assert_int_equal(urs_then(old, count_cb, &c), -EINVAL);
		urs_loop_stats st;
		stats(loop, &st);
		assert_int_equal(st.socks_alive, 2 * PAIRS);
		/* two reserved closes; each stream is in its socket's own cell */
		assert_int_equal(st.ops_in_use, 2 * PAIRS);
		for (int i = 0; i < PAIRS; i++)
			assert_int_equal(write(urs_fileno(p[i][0]), "x", 1), 1);
		while (c.data < PAIRS)
			assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
		for (int i = 0; i < PAIRS; i++) {
			urs_sock_free(p[i][1]);
			urs_sock_free(p[i][0]);
		}
		urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
		stats(loop, &st);
		assert_int_equal(st.socks_alive, 0);
		assert_int_equal(st.ops_in_use, 0);
		assert_int_equal(c.data, PAIRS);
		/* urs_sock_free: no callback after it, so the ends are dropped, none seen twice */
		assert_int_equal(c.ended + c.cancelled + c.timedout + c.other, 0);
	}
	free(p);
	free(rx);
	tu_loop_done(loop);
}

/* Sockets the user still holds when the loop goes are husks in the slab's chunks; the slab
 * stays until the last is freed, in any order, and every husk answers -EBADF. */
static void test_husks_across_chunks(void **state)
{
	(void)state;
	enum { N = 1500 };
	need_fds(2 * N);
	int fds0 = tu_fd_count();
	urs_loop *loop;
	assert_int_equal(urs_loop_new(&loop, NULL), 0);
	urs_sock *(*p)[2] = calloc(N, sizeof(*p));
	assert_non_null(p);
	for (int i = 0; i < N; i++)
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
	for (int i = 0; i < N; i += 3) /* some freed before: their slots are free, not husks */
		urs_sock_free(p[i][0]);
	assert_int_equal(urs_loop_free(loop), 0);
	assert_int_equal(tu_fd_count(), fds0);
	for (int i = N - 1; i >= 0; i--) {
		assert_int_equal(urs_fileno(p[i][1]), -EBADF);
		assert_int_equal(urs_future_error(urs_send(p[i][1], "x", 1, 0)), -EBADF);
		urs_sock_free(p[i][1]);
		if (i % 3)
			urs_sock_free(p[i][0]);
	}
	free(p);
}

static void sleep_cb(urs_result *r, void *user)
{
	struct count *c = user;
	if (r->res == -ECANCELED)
		c->cancelled++;
	else
		c->other++;
}

/* A limit that ends inside the second chunk of ops: exactly that many ops, the closes
 * reserved included; cancelled and taken again, with the old handles stale. */
static void test_pool_limit_inside_chunk(void **state)
{
	(void)state;
	enum { MAX = 1100 };
	urs_loop_opts o = { .max_ops = MAX };
	urs_loop *loop = tu_loop_new(&o);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0); /* two closes reserved */
	static urs_future f[MAX];
	for (int round = 0; round < 2; round++) {
		struct count c = { 0 };
		urs_future first = f[0];
		int n = 0;
		for (;;) {
			urs_future g = urs_sleep(loop, 3600);
			if (urs_future_error(g) == -EBUSY)
				break;
			assert_int_equal(urs_future_error(g), 0);
			assert_int_equal(urs_then(g, sleep_cb, &c), 0);
			f[n++] = g;
		}
		assert_int_equal(n, MAX - 2);
		if (round == 1)
			assert_int_equal(urs_cancel(first), -EINVAL);
		for (int i = 0; i < n; i++)
			assert_int_equal(urs_cancel(f[i]), 0);
		urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
		assert_int_equal(c.cancelled, MAX - 2);
		assert_int_equal(c.other, 0);
	}
	/* The pool is full again to the last op: closing still works (reserved). */
	struct count c = { 0 };
	for (int i = 0; i < MAX - 2; i++) {
		f[i] = urs_sleep(loop, 3600);
		assert_int_equal(urs_then(f[i], sleep_cb, &c), 0);
	}
	assert_int_equal(urs_future_error(urs_sleep(loop, 3600)), -EBUSY);
	urs_sock_free(p[0]);
	urs_sock_free(p[1]);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	urs_loop_stats st;
	stats(loop, &st);
	assert_int_equal(st.socks_alive, 0);
	assert_int_equal(st.ops_in_use, MAX - 2);
	for (int i = 0; i < MAX - 2; i++)
		assert_int_equal(urs_cancel(f[i]), 0);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(c.cancelled, MAX - 2);
	tu_loop_done(loop);
}

/* A receive stream has no side part; a timeout set while it runs gives it one for its
 * deadline, taken at its next submission: the idle stream times out. A multishot receive
 * (io_uring) stays armed without a deadline until the kernel ends it, so there the data
 * keeps flowing under the new timeout. */
static void test_timeout_on_running_stream(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	struct count c = { 0 };
	assert_int_equal(urs_future_error(urs_recv_stream(p[1], count_cb, &c)), 0);
	assert_int_equal(write(urs_fileno(p[0]), "ab", 2), 2);
	while (!c.data)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(urs_settimeout(p[1], 0.05), 0);
	assert_int_equal(write(urs_fileno(p[0]), "cd", 2), 2); /* its next step takes it */
	if (urs_loop_features(loop) & URS_FEAT_RECV_MULTI) {
		while (c.data < 2)
			assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
		assert_int_equal(c.timedout + c.other + c.ended, 0);
	} else {
		while (!c.timedout && !c.other && !c.ended)
			assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
		assert_int_equal(c.timedout, 1);
		assert_int_equal(c.data, 2);
	}
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ten_thousand_sockets),
		cmocka_unit_test(test_husks_across_chunks),
		cmocka_unit_test(test_pool_limit_inside_chunk),
		cmocka_unit_test(test_timeout_on_running_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
