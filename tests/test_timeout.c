/* SPDX-License-Identifier: MIT */
/* Socket timeouts as linked timeouts, blocking modes, cancellation on close. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_gettimeout_settimeout(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &s), 0);
	assert_true(urs_gettimeout(s) == URS_NO_TIMEOUT);
	assert_int_equal(urs_settimeout(s, 1.5), 0);
	assert_true(urs_gettimeout(s) == 1.5);
	assert_int_equal(urs_setblocking(s, false), 0);
	assert_true(urs_gettimeout(s) == 0.0);
	assert_int_equal(urs_setblocking(s, true), 0);
	assert_true(urs_gettimeout(s) == URS_NO_TIMEOUT);
	assert_int_equal(urs_settimeout(s, 1e-12), 0); /* tiny but not zero: still a timeout */
	assert_true(urs_gettimeout(s) > 0);
	assert_int_equal(urs_settimeout(s, -3), 0);
	assert_true(urs_gettimeout(s) == URS_NO_TIMEOUT);
	tu_close(s);
	tu_loop_done(loop);
}

struct late {
	int64_t *lateness;
	int n, wrong;
};

/* One receive's own record: when it was issued (its 1 ms runs from there). */
struct late_op {
	struct late *l;
	int64_t issued;
};

static void late_cb(urs_result *r, void *user)
{
	struct late_op *o = user;
	struct late *l = o->l;
	if (r->res != -ETIMEDOUT)
		l->wrong++;
	l->lateness[l->n++] = now_ns() - o->issued - 1000000;
	urs_buf_release(&r->buf);
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* 1,000 idle receives with a 1 ms timeout all resolve -ETIMEDOUT, none before 1 ms after
 * its own issue. */
static void test_1000_idle_recvs_time_out(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	enum { P = 100, PER = 10 };
	urs_sock *p[P][2];
	struct late l = { calloc(P * PER, sizeof(int64_t)), 0, 0 };
	struct late_op *ops = calloc(P * PER, sizeof(*ops));
	for (int i = 0; i < P; i++) {
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
		assert_int_equal(urs_settimeout(p[i][1], 0.001), 0);
	}
	int64_t first = now_ns();
	for (int i = 0; i < P; i++)
		for (int k = 0; k < PER; k++) {
			struct late_op *o = &ops[i * PER + k];
			o->l = &l;
			o->issued = now_ns();
			assert_int_equal(urs_then(urs_recv(p[i][1], 64, 0), late_cb, o), 0);
		}
	print_message("issuing 1000 recvs took %.3f ms\n", (double)(now_ns() - first) / 1e6);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(l.n, P * PER);
	assert_int_equal(l.wrong, 0);
	qsort(l.lateness, (size_t)l.n, sizeof(int64_t), cmp64);
	print_message("1000 x 1 ms recv timeouts: lateness p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		      (double)l.lateness[l.n / 2] / 1e6, (double)l.lateness[l.n * 99 / 100] / 1e6,
		      (double)l.lateness[l.n - 1] / 1e6);
	/* never early: every timeout fires at least 1 ms after its own receive was issued */
	assert_true(l.lateness[0] >= 0);
	free(l.lateness);
	free(ops);
	for (int i = 0; i < P; i++) {
		tu_close(p[i][0]);
		tu_close(p[i][1]);
	}
	tu_loop_done(loop);
}

/* A receive racing its timeout: one resolution each, and data is never dropped: when the
 * timeout wins, the byte is still in the socket; when the data wins, nothing is left. */
static void test_recv_races_timeout(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	int fd = urs_fileno(p[0]);
	int got = 0, timedout = 0;
	enum { N = 10000 };
	for (int i = 0; i < N; i++) {
		/* A timeout of 10 to 100 us and the data 0 to 100 us after the submit: either
		 * may win, and sometimes both land in the same batch. */
		assert_int_equal(urs_settimeout(p[1], (10 + i % 91) * 1e-6), 0);
		urs_future f = urs_recv(p[1], 64, 0);
		urs_loop_run(loop, URS_RUN_NOWAIT);
		for (int64_t until = now_ns() + (i * 7919 % 101) * 1000; now_ns() < until;)
			;
		if (i % 3)
			urs_loop_run(loop, URS_RUN_NOWAIT); /* lets an expired timer win */
		assert_int_equal(write(fd, "x", 1), 1);
		urs_result r;
		int res = urs_await(f, &r);
		char c;
		urs_settimeout(p[1], 0.0);
		int left = urs_await(urs_recv_into(p[1], &c, 1, 0), NULL);
		if (res == 1) {
			got++;
			assert_int_equal(left, -EAGAIN);
			urs_buf_release(&r.buf);
		} else {
			assert_int_equal(res, -ETIMEDOUT);
			assert_int_equal(left, 1);
			timedout++;
		}
	}
	print_message("recv vs timeout x %d: data won %d, timeout won %d, 0 bytes lost\n", N, got,
		      timedout);
	assert_int_equal(got + timedout, N);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

static void test_close_with_1000_pending(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_future f[1000];
	for (int i = 0; i < 1000; i++)
		f[i] = urs_recv(p[1], 64, 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	urs_future c = urs_close(p[1]);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(urs_await(f[i], NULL), -ECANCELED);
	tu_await_eq(c, 0, NULL);
	urs_sock_free(p[1]);
	tu_close(p[0]);
	tu_loop_done(loop);
}

static void test_nonblocking(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	urs_setblocking(l, false);
	assert_int_equal(urs_await(urs_accept(l), NULL), -EAGAIN);
	urs_sock *c;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &c), 0);
	urs_setblocking(c, false);
	int r = urs_await(urs_connect(c, &a), NULL);
	assert_true(r == 0 || r == -EINPROGRESS); /* loopback usually connects at once */
	urs_result ar;
	urs_setblocking(l, true);
	tu_await_eq(urs_accept(l), 0, &ar);
	urs_sock *s = ar.sock;
	urs_setblocking(s, false);
	assert_int_equal(urs_await(urs_recv(s, 10, 0), NULL), -EAGAIN);
	/* Fill the send side: a non-blocking send ends in -EAGAIN, sendall reports what went. */
	static char chunk[1 << 16];
	size_t sent = 0;
	for (;;) {
		int k = urs_await(urs_send(c, chunk, sizeof(chunk), 0), NULL);
		if (k == -EAGAIN)
			break;
		assert_true(k > 0);
		sent += (size_t)k;
	}
	urs_result sr;
	assert_int_equal(urs_await(urs_sendall(c, chunk, sizeof(chunk), 0), &sr), -EAGAIN);
	assert_true(sent > 0);
	tu_close(c);
	tu_close(s);
	tu_close(l);
	tu_loop_done(loop);
}

static void test_accept_timeout(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *l = tu_listener(loop, "[::1]:0", NULL);
	urs_settimeout(l, 0.05);
	int64_t t0 = now_ns();
	assert_int_equal(urs_await(urs_accept(l), NULL), -ETIMEDOUT);
	assert_true(now_ns() - t0 >= 40000000);
	tu_close(l);
	tu_loop_done(loop);
}

/* connect against a full backlog: the listener drops the SYN, the connect times out. */
static void test_connect_timeout_full_backlog(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr a;
	assert_int_equal(urs_addr_parse(&a, "127.0.0.1:0"), 0);
	urs_sock *l;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &l), 0);
	assert_int_equal(urs_bind(l, &a), 0);
	assert_int_equal(urs_listen(l, 0), 0);
	assert_int_equal(urs_getsockname(l, &a), 0);
	urs_sock *c[8];
	int timedout = 0, n = 0;
	for (; n < 8 && !timedout; n++) {
		assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &c[n]), 0);
		urs_settimeout(c[n], 0.2);
		int r = urs_await(urs_connect(c[n], &a), NULL);
		assert_true(r == 0 || r == -ETIMEDOUT);
		timedout += r == -ETIMEDOUT;
	}
	assert_int_equal(timedout, 1);
	for (int i = 0; i < n; i++)
		tu_close(c[i]);
	tu_close(l);
	tu_loop_done(loop);
}

/* sendall's timeout bounds the whole call and says how many bytes went: exactly those
 * arrive, no more, no fewer. */
static void test_sendall_timeout_reports_sent(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	size_t len = 64u << 20;
	char *big = malloc(len);
	memset(big, 'q', len);
	urs_settimeout(c, 0.1);
	urs_result r;
	int64_t t0 = now_ns();
	assert_int_equal(urs_await(urs_sendall(c, big, len, 0), &r), -ETIMEDOUT);
	int64_t took = now_ns() - t0;
	print_message("sendall timed out after %.1f ms with %zu bytes sent\n", (double)took / 1e6,
		      r.sent);
	assert_true(r.sent > 0 && r.sent < len);
	assert_true(took < 2000000000);
	/* The peer gets exactly the bytes reported sent, and nothing after them. */
	urs_settimeout(s, 0.3);
	size_t got = 0;
	urs_result rr;
	while (got < r.sent) {
		int k = urs_await(urs_recv(s, 65536, 0), &rr);
		assert_true(k > 0);
		got += (size_t)k;
		urs_buf_release(&rr.buf);
	}
	assert_int_equal(got, r.sent);
	assert_int_equal(urs_await(urs_recv(s, 65536, 0), NULL), -ETIMEDOUT);
	/* The stream was cut mid-call: no FIN may make it look complete. */
	tu_await_eq(urs_shutdown(c, SHUT_WR), -EPIPE, NULL);
	free(big);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

struct idle {
	int chunks;
	int end;
};

static void idle_cb(urs_result *r, void *user)
{
	struct idle *st = user;
	if (r->flags & URS_RES_MORE) {
		st->chunks++;
		urs_buf_release(&r->buf);
	} else {
		st->end = r->res;
	}
}

/* A receive stream with a timeout: the timeout is the idle time allowed between chunks. */
static void test_recv_stream_idle_timeout(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_settimeout(p[1], 0.05);
	struct idle st = { 0, 1 };
	assert_int_equal(urs_future_error(urs_recv_stream(p[1], idle_cb, &st)), 0);
	for (int i = 0; i < 3; i++) {
		tu_await_eq(urs_send(p[0], "abc", 3, 0), 3, NULL);
		urs_loop_run(loop, URS_RUN_ONCE);
	}
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_true(st.chunks >= 1);
	assert_int_equal(st.end, -ETIMEDOUT);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

static void test_sleep(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	int64_t t0 = now_ns();
	tu_await_eq(urs_sleep(loop, 0.02), 0, NULL);
	assert_true(now_ns() - t0 >= 20000000);
	urs_future f = urs_sleep(loop, 10.0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_cancel(f), 0);
	assert_int_equal(urs_await(f, NULL), -ECANCELED);
	assert_int_equal(urs_future_error(urs_sleep(loop, -1)), -EINVAL);
	assert_int_equal(urs_future_error(urs_sleep(NULL, 1)), -EINVAL);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gettimeout_settimeout),
		cmocka_unit_test(test_1000_idle_recvs_time_out),
		cmocka_unit_test(test_recv_races_timeout),
		cmocka_unit_test(test_close_with_1000_pending),
		cmocka_unit_test(test_nonblocking),
		cmocka_unit_test(test_accept_timeout),
		cmocka_unit_test(test_connect_timeout_full_backlog),
		cmocka_unit_test(test_sendall_timeout_reports_sent),
		cmocka_unit_test(test_recv_stream_idle_timeout),
		cmocka_unit_test(test_sleep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
