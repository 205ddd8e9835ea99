/* SPDX-License-Identifier: MIT */
/* Lifetimes and ordered streams (issue 10): a socket freed while its ops are pending or
 * from inside their callbacks, the close callback as the last callback, sends that stop
 * short failing what is queued behind them, the FIN behind queued bytes, waits outside the
 * kernel honouring timeouts and cancel, the loop's teardown leaving husks. Every case runs
 * under SAN=1 too. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

struct tally {
	int calls, ok, cancelled, timedout, epipe, other;
	int last_res;
	unsigned order[64];
	int norder;
	unsigned tag_base;
};

static void tally_cb(urs_result *r, void *user)
{
	struct tally *t = user;
	t->calls++;
	t->last_res = r->res;
	if (r->res >= 0)
		t->ok++;
	else if (r->res == -ECANCELED)
		t->cancelled++;
	else if (r->res == -ETIMEDOUT)
		t->timedout++;
	else if (r->res == -EPIPE)
		t->epipe++;
	else
		t->other++;
	urs_buf_release(&r->buf);
	if (r->sock)
		urs_sock_free(r->sock);
}

/* A callback that records its tag in the order it ran. */
struct tagged {
	struct tally *t;
	unsigned tag;
	int res;
	size_t sent;
};

static void tagged_cb(urs_result *r, void *user)
{
	struct tagged *tg = user;
	tg->res = r->res;
	tg->sent = r->sent;
	if (tg->t->norder < 64)
		tg->t->order[tg->t->norder++] = tg->tag;
	tally_cb(r, tg->t);
}

/* Reads everything from a raw fd until EOF or error; returns the byte count, the bytes in
 * *out (malloc'd) and the way it ended in *end (0 EOF, else -errno). */
static size_t drain_fd(int fd, char **out, int *end)
{
	size_t cap = 1 << 20, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (n == cap)
			b = realloc(b, cap *= 2);
		ssize_t k = read(fd, b + n, cap - n);
		if (k > 0) {
			n += (size_t)k;
			continue;
		}
		*end = k == 0 ? 0 : -errno;
		break;
	}
	*out = b;
	return n;
}

/* A TCP pair where the test holds the client as a raw fd (a peer that does what it likes). */
static int raw_tcp_pair(urs_loop *loop, urs_sock **server)
{
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	urs_future acc = urs_accept(l);
	assert_int_equal(connect(fd, &a.u.sa, a.len), 0);
	urs_result r;
	tu_await_eq(acc, 0, &r);
	*server = r.sock;
	tu_close(l);
	return fd;
}

/* In a forked peer: close every inherited fd but the two it uses (the server's socket and
 * the loop's ring among them), so that the parent's close is seen. */
static void child_keep(int a, int b)
{
	for (int fd = 3; fd < 4096; fd++)
		if (fd != a && fd != b)
			close(fd);
}

static void reset_fd(int fd)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* ---------------------------------------------------------------- freeing sockets */

/* Defect 1: urs_sock_free with ops pending while the pool is full frees nothing early. */
static void test_free_with_pool_full(void **state)
{
	(void)state;
	urs_loop_opts o = { .max_ops = 16 };
	urs_loop *loop = tu_loop_new(&o);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0); /* 2 ops reserved */
	struct tally t = { 0 };
	int started = 0;
	for (;;) {
		urs_future f = urs_recv(p[1], 16, 0);
		if (urs_future_error(f) == -EBUSY)
			break;
		assert_int_equal(urs_then(f, tally_cb, &t), 0);
		started++;
	}
	assert_int_equal(started, 14);
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.ops_in_use, st.ops_max);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	urs_sock_free(p[1]); /* the pool is full: its close was reserved */
	urs_sock_free(p[0]);
	tu_loop_done(loop);
	assert_int_equal(t.calls, 0); /* no callback after urs_sock_free */
}

/* The old stream_echo pattern: a send's callback frees the connection while other sends
 * are queued and a receive stream is armed. No callback may see the freed state. */
struct conn {
	urs_sock *s;
	int *freed_calls;
	int *calls;
	bool gone;
};

static void conn_cb(urs_result *r, void *user)
{
	struct conn *c = user;
	(*c->calls)++;
	if (c->gone)
		(*c->freed_calls)++;
	urs_buf_release(&r->buf);
	if (!(r->flags & URS_RES_MORE) && r->res < 0 && !c->gone) {
		c->gone = true; /* the test's "free": any later callback is a use after free */
		urs_sock_free(c->s);
	}
}

static void test_free_from_callback_with_queue(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	int calls = 0, freed_calls = 0;
	struct conn c = { s, &freed_calls, &calls, false };
	size_t len = 4 << 20;
	char *big = malloc(len);
	memset(big, 'x', len);
	for (int i = 0; i < 8; i++)
		assert_int_equal(urs_then(urs_sendall(s, big, len, 0), conn_cb, &c), 0);
	assert_int_equal(urs_future_error(urs_recv_stream(s, conn_cb, &c)), 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	reset_fd(fd); /* the peer never read, then reset */
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_true(c.gone);
	assert_int_equal(freed_calls, 0);
	free(big);
	tu_loop_done(loop);
}

/* Defect 1b: urs_loop_free runs callbacks that free their connections (the normal "stream
 * ended: free it" pattern) while those connections have ops pending. */
static void test_loop_free_callbacks_free(void **state)
{
	(void)state;
	int fds0 = tu_fd_count();
	urs_loop *loop;
	assert_int_equal(urs_loop_new(&loop, NULL), 0);
	enum { N = 50 };
	urs_sock *p[N][2];
	int calls = 0, freed_calls = 0;
	struct conn cs[N];
	for (int i = 0; i < N; i++) {
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
		cs[i] = (struct conn){ p[i][1], &freed_calls, &calls, false };
		assert_int_equal(urs_future_error(urs_recv_stream(p[i][1], conn_cb, &cs[i])), 0);
		assert_int_equal(urs_then(urs_recv(p[i][1], 8, 0), conn_cb, &cs[i]), 0);
	}
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_loop_free(loop), 0);
	assert_int_equal(freed_calls, 0);
	for (int i = 0; i < N; i++) {
		assert_true(cs[i].gone);
		urs_sock_free(p[i][0]); /* husks the test still held */
	}
	assert_int_equal(tu_fd_count(), fds0);
}

/* The close callback is the last on the socket, after every other op's callback. */
static void test_close_callback_is_last(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	struct tally t = { 0 };
	struct tagged tg[6];
	for (unsigned i = 0; i < 5; i++) {
		tg[i] = (struct tagged){ &t, i, 0, 0 };
		assert_int_equal(urs_then(urs_recv(p[1], 8, 0), tagged_cb, &tg[i]), 0);
	}
	tg[5] = (struct tagged){ &t, 99, 0, 0 };
	assert_int_equal(urs_then(urs_close(p[1]), tagged_cb, &tg[5]), 0);
	assert_int_equal(t.calls, 0); /* nothing runs inside the close call */
	urs_sock_free(p[1]);          /* the close callback still runs */
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(t.calls, 1);
	assert_int_equal(t.order[0], 99);
	assert_int_equal(tg[5].res, 0);
	tu_close(p[0]);
	tu_loop_done(loop);

	/* Without urs_sock_free: the receives' callbacks run (cancelled), then the close's. */
	loop = tu_loop_new(NULL);
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < 5; i++) {
		tg[i] = (struct tagged){ &t, i, 0, 0 };
		assert_int_equal(urs_then(urs_recv(p[1], 8, 0), tagged_cb, &tg[i]), 0);
	}
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_then(urs_close(p[1]), tagged_cb, &tg[5]), 0);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(t.calls, 6);
	assert_int_equal(t.cancelled, 5);
	assert_int_equal(t.order[5], 99);
	urs_sock_free(p[1]);
	tu_close(p[0]);
	tu_loop_done(loop);
}

/* Fuzz defect 3: a result that came before anyone claimed it (here a receive whose deadline
 * passed inside the call that started it, or in a later turn) gets no callback once its
 * socket is freed: one attached before the free is dropped by it, one attached after it is
 * refused with -EBADF; urs_await still takes the result. */
static void test_then_on_early_result_then_free(void **state)
{
	(void)state;
	for (int when = 0; when < 4; when++) {
		urs_loop *loop = tu_loop_new(NULL);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		struct tally t = { 0 };
		urs_future f;
		if (when == 0) {
			/* Decided inside urs_recv: a deadline of 1 ns has passed at its submit. */
			assert_int_equal(urs_settimeout(p[1], 1e-9), 0);
			f = urs_recv(p[1], 16, 0);
			assert_int_equal(urs_then(f, tally_cb, &t), 0);
			urs_sock_free(p[1]);
		} else if (when <= 2) {
			/* Decided in a turn, nobody has claimed it yet. */
			assert_int_equal(urs_settimeout(p[1], 0.001), 0);
			f = urs_recv(p[1], 16, 0);
			tu_await_eq(urs_sleep(loop, 0.02), 0, NULL);
			if (when == 1) {
				assert_int_equal(urs_then(f, tally_cb, &t), 0);
				urs_sock_free(p[1]);
			} else {
				urs_sock_free(p[1]);
				assert_int_equal(urs_then(f, tally_cb, &t), -EBADF);
				assert_int_equal(urs_await(f, NULL), -ETIMEDOUT);
			}
		} else {
			/* Still pending at the free (the free's close cancels it). */
			f = urs_recv(p[1], 16, 0);
			urs_loop_run(loop, URS_RUN_NOWAIT);
			urs_sock_free(p[1]);
			assert_int_equal(urs_then(f, tally_cb, &t), -EBADF);
			assert_int_equal(urs_await(f, NULL), -ECANCELED);
		}
		urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
		assert_int_equal(t.calls, 0);
		tu_close(p[0]);
		tu_loop_done(loop);
	}
}

/* The same with urs_close: the close callback stays the last on the socket. A result nobody
 * claimed before the close no longer takes a callback (-EBADF; urs_await still takes it);
 * one claimed before it runs first. */
static void test_then_on_early_result_then_close(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	assert_int_equal(urs_settimeout(p[1], 1e-9), 0);
	struct tally t = { 0 };
	struct tagged early = { &t, 1, 0, 0 }, closed = { &t, 99, 0, 0 };
	urs_future claimed = urs_recv(p[1], 16, 0); /* both decided inside urs_recv */
	urs_future unclaimed = urs_recv(p[1], 16, 0);
	assert_int_equal(urs_then(claimed, tagged_cb, &early), 0);
	assert_int_equal(urs_then(urs_close(p[1]), tagged_cb, &closed), 0);
	assert_int_equal(urs_then(unclaimed, tally_cb, &t), -EBADF);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(t.calls, 2);
	assert_int_equal(t.order[0], 1);
	assert_int_equal(early.res, -ETIMEDOUT);
	assert_int_equal(t.order[1], 99);
	assert_int_equal(urs_then(unclaimed, tally_cb, &t), -EBADF); /* also after the close */
	assert_int_equal(urs_await(unclaimed, NULL), -ETIMEDOUT);
	assert_int_equal(t.calls, 2);
	urs_sock_free(p[1]);
	tu_close(p[0]);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- ordered streams */

/* Defect 3: sendall of 16 MiB, then shutdown(SHUT_WR): the FIN follows every byte. */
static void test_shutdown_after_queued_bytes(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	size_t len = 16u << 20;
	char *big = malloc(len);
	tu_fill(big, len, 7);
	urs_future sa = urs_sendall(s, big, len, 0);
	urs_future sh = urs_shutdown(s, SHUT_WR);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	/* The peer reads in a thread of its own: the loop must keep running to send. */
	int end = 1;
	char *got = NULL;
	size_t n = 0;
	pid_t pid;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		child_keep(fd, pfd[1]);
		n = drain_fd(fd, &got, &end);
		unsigned char sum[32];
		tu_sha256(got, n, sum);
		(void)!write(pfd[1], &n, sizeof(n));
		(void)!write(pfd[1], &end, sizeof(end));
		(void)!write(pfd[1], sum, sizeof(sum));
		_exit(0);
	}
	close(pfd[1]);
	close(fd);
	tu_await_eq(sa, 0, NULL);
	tu_await_eq(sh, 0, NULL);
	unsigned char sum[32], want[32];
	assert_int_equal(read(pfd[0], &n, sizeof(n)), sizeof(n));
	assert_int_equal(read(pfd[0], &end, sizeof(end)), sizeof(end));
	assert_int_equal(read(pfd[0], sum, sizeof(sum)), sizeof(sum));
	close(pfd[0]);
	tu_sha256(big, len, want);
	assert_int_equal(n, len);
	assert_int_equal(end, 0); /* a clean EOF, after all of it */
	assert_memory_equal(sum, want, 32);
	free(big);
	tu_close(s);
	tu_loop_done(loop);
	tu_reap(pid);
}

/* Defect 7: the head of the send queue times out part-way: what was queued behind it never
 * reaches the peer, fails -EPIPE after the head's callback, and the stream is torn. */
static void test_failed_head_fails_queue(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	size_t len = 32u << 20;
	char *a = malloc(len);
	memset(a, 'A', len);
	struct tally t = { 0 };
	struct tagged tg_a = { &t, 1, 0, 0 }, tb = { &t, 2, 0, 0 }, tc = { &t, 3, 0, 0 };
	assert_int_equal(urs_settimeout(s, 0.1), 0);
	assert_int_equal(urs_then(urs_sendall(s, a, len, 0), tagged_cb, &tg_a), 0);
	assert_int_equal(urs_settimeout(s, URS_NO_TIMEOUT), 0); /* B and C wait for A only */
	assert_int_equal(urs_then(urs_send(s, "BBBB", 4, 0), tagged_cb, &tb), 0);
	assert_int_equal(urs_then(urs_sendall(s, "CCCC", 4, 0), tagged_cb, &tc), 0);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(tg_a.res, -ETIMEDOUT);
	assert_true(tg_a.sent > 0 && tg_a.sent < len);
	assert_int_equal(tb.res, -EPIPE);
	assert_int_equal(tc.res, -EPIPE);
	assert_int_equal(tc.sent, 0);
	assert_int_equal(t.norder, 3);
	assert_int_equal(t.order[0], 1); /* the failed op's callback first */
	assert_int_equal(t.order[1], 2);
	assert_int_equal(t.order[2], 3);
	/* No FIN after a hole: shutdown refuses, close resets. */
	tu_await_eq(urs_shutdown(s, SHUT_WR), -EPIPE, NULL);
	tu_close(s);
	char *got;
	int end;
	size_t n = drain_fd(fd, &got, &end);
	close(fd);
	assert_true(n <= tg_a.sent);
	for (size_t i = 0; i < n; i++)
		if (got[i] != 'A')
			fail_msg("byte %zu of the stream is %c: data from after the hole", i, got[i]);
	assert_int_equal(end, -ECONNRESET); /* the peer can tell the stream was cut */
	free(got);
	free(a);
	tu_loop_done(loop);
}

/* Fuzz defect 1 (fuzz/repro/stream_cancel_in_event.c): a receive stream whose events come
 * one request at a time (a timeout on the socket, or no multishot receive) and whose own
 * event callback cancels it, frees its socket or closes it — "the stream ended: free the
 * connection" — resolves once: one final callback (none after the free), and its op goes
 * back to the pool once. */
struct self_end {
	urs_future f;
	urs_sock *s;
	int how, events, finals, final_res;
};

static void self_end_cb(urs_result *r, void *user)
{
	struct self_end *x = user;
	urs_buf_release(&r->buf);
	if (!(r->flags & URS_RES_MORE)) {
		x->finals++;
		x->final_res = r->res;
		return;
	}
	x->events++;
	if (x->how == 0)
		assert_int_equal(urs_cancel(x->f), 0);
	else if (x->how == 1)
		urs_sock_free(x->s);
	else
		assert_int_equal(urs_detach(urs_close(x->s)), 0);
}

static void test_stream_ends_in_own_event(void **state)
{
	(void)state;
	for (int mode = 0; mode < 6; mode++) {
		int how = mode % 3;
		bool multi_off = mode >= 3;
		urs_loop_opts o = { .disable = multi_off ? URS_FEAT_RECV_MULTI : 0 };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		if (!multi_off) /* one recv per chunk instead of a multishot recv */
			assert_int_equal(urs_settimeout(p[1], 5.0), 0);
		struct self_end x = { .s = p[1], .how = how };
		x.f = urs_recv_stream(p[1], self_end_cb, &x);
		assert_int_equal(urs_future_error(x.f), 0);
		tu_await_eq(urs_sendall(p[0], "hello", 5, 0), 0, NULL);
		for (int i = 0; i < 100 && (x.events == 0 || (how != 1 && x.finals == 0)); i++)
			assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
		for (int i = 0; i < 5; i++) /* a second resolution would come in these turns */
			assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
		assert_int_equal(x.events, 1);
		assert_int_equal(x.finals, how == 1 ? 0 : 1); /* after the free: no callback */
		if (how != 1)
			assert_int_equal(x.final_res, -ECANCELED);
		urs_loop_stats st;
		urs_loop_stats_get(loop, &st);
		/* The close ops the two sockets hold, or p[0]'s only once p[1] is gone. */
		assert_int_equal(st.ops_in_use, how == 0 ? 2 : 1);
		if (how != 1)
			urs_sock_free(p[1]);
		tu_close(p[0]);
		tu_loop_done(loop);
	}
}

/* A queued send that is cancelled fails the ones queued behind it (-EPIPE, after its own
 * callback, none inside urs_cancel): its bytes and theirs never go, the one ahead finishes,
 * and the stream stays whole (a clean FIN after it). */
static void test_cancel_queued_send(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	size_t len = 8u << 20;
	char *a = malloc(len);
	memset(a, 'A', len);
	struct tally t = { 0 };
	struct tagged tb = { &t, 2, 0, 0 }, tc = { &t, 3, 0, 0 };
	urs_future fa = urs_sendall(s, a, len, 0);
	urs_future fb = urs_sendall(s, "BBBB", 4, 0);
	assert_int_equal(urs_then(fb, tagged_cb, &tb), 0);
	assert_int_equal(urs_then(urs_sendall(s, "CCCC", 4, 0), tagged_cb, &tc), 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_cancel(fb), 0);
	assert_int_equal(t.calls, 0); /* no callback runs inside urs_cancel */
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(t.calls, 2);
	assert_int_equal(t.order[0], 2);
	assert_int_equal(tb.res, -ECANCELED);
	assert_int_equal(tb.sent, 0);
	assert_int_equal(t.order[1], 3);
	assert_int_equal(tc.res, -EPIPE);
	urs_future sh = urs_shutdown(s, SHUT_WR); /* the stream is whole: its FIN may go */
	pid_t pid;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		child_keep(fd, pfd[1]);
		char *got;
		int end;
		size_t n = drain_fd(fd, &got, &end);
		bool ok = n == len && end == 0;
		for (size_t i = 0; ok && i < len; i++)
			ok = got[i] == 'A';
		(void)!write(pfd[1], &ok, sizeof(ok));
		_exit(0);
	}
	close(pfd[1]);
	close(fd);
	tu_await_eq(fa, 0, NULL);
	tu_await_eq(sh, 0, NULL);
	bool ok = false;
	assert_int_equal(read(pfd[0], &ok, sizeof(ok)), sizeof(ok));
	close(pfd[0]);
	assert_true(ok);
	free(a);
	tu_close(s);
	tu_loop_done(loop);
	tu_reap(pid);
}

/* A watchdog for a call that could block for ever: after its time it shuts the peer, which
 * ends a send blocked on it, and says so. */
struct watchdog {
	pthread_t th;
	int stop[2];   /* written by the test when the call returned */
	int peer;
	int ms;
	atomic_bool fired;
};

static void *watchdog_run(void *arg)
{
	struct watchdog *w = arg;
	struct pollfd p = { .fd = w->stop[0], .events = POLLIN };
	if (poll(&p, 1, w->ms) == 0) {
		atomic_store(&w->fired, true);
		shutdown(w->peer, SHUT_RDWR);
	}
	return NULL;
}

static void watchdog_start(struct watchdog *w, int peer, int ms)
{
	assert_int_equal(pipe2(w->stop, O_CLOEXEC), 0);
	w->peer = peer;
	w->ms = ms;
	atomic_store(&w->fired, false);
	assert_int_equal(pthread_create(&w->th, NULL, watchdog_run, w), 0);
}

/* Returns whether it had to fire. */
static bool watchdog_stop(struct watchdog *w)
{
	(void)!write(w->stop[1], "x", 1);
	pthread_join(w->th, NULL);
	close(w->stop[0]);
	close(w->stop[1]);
	return atomic_load(&w->fired);
}

/* Fuzz defect 2 (fuzz/repro/cancel_missed_hangs.c): a send started and cancelled in the same
 * turn, on a full socket whose peer shut its write side, is not yet where the kernel's
 * cancel looks (it is on its way to an io-wq worker, where it then blocks): the cancel
 * answers -ENOENT and must be asked again, or the send, urs_await of it and urs_loop_free
 * block for ever. */
static void test_cancel_send_in_transit(void **state)
{
	(void)state;
	static char data[1 << 16];
	for (int teardown = 0; teardown < 2; teardown++) {
		int fds0 = tu_fd_count();
		urs_loop *loop;
		assert_int_equal(urs_loop_new(&loop, NULL), 0);
		int fds[2];
		urs_sock *s;
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
		assert_int_equal(urs_sock_adopt(loop, fds[1], &s), 0);
		assert_int_equal(urs_settimeout(s, 0.0), 0); /* fill the peer without blocking */
		while (urs_await(urs_send(s, data, sizeof(data), 0), NULL) > 0)
			;
		assert_int_equal(urs_settimeout(s, -1), 0);
		shutdown(fds[0], SHUT_WR);
		struct watchdog w;
		watchdog_start(&w, fds[0], 5000);
		urs_future f = urs_send(s, data, 1, 0);
		if (teardown) {
			assert_int_equal(urs_loop_free(loop), 0);
			urs_sock_free(s);
		} else {
			assert_int_equal(urs_cancel(f), 0);
			assert_int_equal(urs_await(f, NULL), -ECANCELED);
		}
		assert_false(watchdog_stop(&w)); /* it ended by itself, not by the peer's shutdown */
		if (!teardown) {
			urs_sock_free(s);
			assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
			assert_int_equal(urs_loop_free(loop), 0);
		}
		close(fds[0]);
		assert_int_equal(tu_fd_count(), fds0);
	}
}

/* Found by make fuzz-engine on epoll: a plain send cut by a cancel or its timeout after some
 * of its bytes went resolves to their count, as send(2) and as on io_uring — it said
 * -ECANCELED/-ETIMEDOUT while the peer got bytes the sender thought unsent. The peer reads
 * exactly that many. */
static void test_cut_send_keeps_its_count(void **state)
{
	(void)state;
	size_t len = 1 << 20;
	char *a = malloc(len);
	memset(a, 'A', len);
	for (int by_timeout = 0; by_timeout < 2; by_timeout++) {
		urs_loop *loop = tu_loop_new(NULL);
		int fds[2];
		urs_sock *s;
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
		assert_int_equal(urs_sock_adopt(loop, fds[1], &s), 0);
		if (by_timeout)
			assert_int_equal(urs_settimeout(s, 0.05), 0);
		urs_future f = urs_send(s, a, len, 0); /* far more than the socket holds */
		for (int i = 0; i < 5; i++)
			assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
		if (!by_timeout)
			assert_int_equal(urs_cancel(f), 0);
		int n = urs_await(f, NULL);
		assert_true(n > 0 && (size_t)n < len);
		urs_sock_free(s);
		assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
		char *got;
		int end;
		size_t k = drain_fd(fds[0], &got, &end);
		close(fds[0]);
		assert_int_equal(k, (size_t)n);
		free(got);
		tu_loop_done(loop);
	}
	free(a);
}

/* A sendall cancelled in the kernel stops sending: the peer gets exactly r.sent bytes. */
static void test_cancel_sendall_stops(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	size_t len = 64u << 20;
	char *a = malloc(len);
	memset(a, 'A', len);
	/* A backstop: were the cancel ignored, the sendall would end -ETIMEDOUT, not hang. */
	assert_int_equal(urs_settimeout(s, 10.0), 0);
	urs_future fa = urs_sendall(s, a, len, 0);
	urs_future fb = urs_sendall(s, "BBBB", 4, 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_cancel(fa), 0);
	urs_result r;
	assert_int_equal(urs_await(fa, &r), -ECANCELED);
	assert_true(r.sent < len);
	assert_int_equal(urs_await(fb, NULL), -EPIPE);
	/* Nothing more goes out after the cancel: keep the loop turning a while. */
	for (int i = 0; i < 20; i++)
		urs_loop_run(loop, URS_RUN_NOWAIT);
	urs_sock_free(s);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	char *got;
	int end;
	size_t n = drain_fd(fd, &got, &end);
	close(fd);
	assert_true(n <= r.sent);
	free(got);
	free(a);
	tu_loop_done(loop);
}

/* Close is graceful: the sends queued before it go, then the FIN; a cancelled close is
 * abortive. */
static void test_close_with_sends_pending(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	size_t len = 8u << 20;
	char *a = malloc(len);
	tu_fill(a, len, 3);
	struct tally t = { 0 };
	for (int i = 0; i < 4; i++)
		assert_int_equal(urs_then(urs_sendall(s, a + (size_t)i * (len / 4), len / 4, 0),
					  tally_cb, &t),
				 0);
	urs_future cl = urs_close(s);
	assert_int_equal(urs_future_error(urs_send(s, "x", 1, 0)), -EBADF);
	pid_t pid;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		child_keep(fd, pfd[1]);
		char *got;
		int end;
		size_t n = drain_fd(fd, &got, &end);
		unsigned char sum[32];
		tu_sha256(got, n, sum);
		(void)!write(pfd[1], &n, sizeof(n));
		(void)!write(pfd[1], &end, sizeof(end));
		(void)!write(pfd[1], sum, sizeof(sum));
		_exit(0);
	}
	close(pfd[1]);
	close(fd);
	tu_await_eq(cl, 0, NULL);
	assert_int_equal(t.ok, 4);
	size_t n;
	int end;
	unsigned char sum[32], want[32];
	assert_int_equal(read(pfd[0], &n, sizeof(n)), sizeof(n));
	assert_int_equal(read(pfd[0], &end, sizeof(end)), sizeof(end));
	assert_int_equal(read(pfd[0], sum, sizeof(sum)), sizeof(sum));
	close(pfd[0]);
	tu_sha256(a, len, want);
	assert_int_equal(n, len);
	assert_int_equal(end, 0);
	assert_memory_equal(sum, want, 32);
	urs_sock_free(s);
	tu_reap(pid);

	/* Abortive: cancel the close while the peer does not read. */
	fd = raw_tcp_pair(loop, &s);
	memset(&t, 0, sizeof(t));
	for (int i = 0; i < 4; i++)
		assert_int_equal(urs_then(urs_sendall(s, a, len, 0), tally_cb, &t), 0);
	cl = urs_close(s);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_cancel(cl), 0);
	tu_await_eq(cl, 0, NULL);
	assert_int_equal(t.calls, 4);
	assert_int_equal(t.ok, 0);
	char *got;
	n = drain_fd(fd, &got, &end);
	assert_int_equal(end, -ECONNRESET);
	free(got);
	close(fd);
	urs_sock_free(s);
	free(a);
	tu_loop_done(loop);
}

/* Cancel on accept and connect: each resolves -ECANCELED once and leaves nothing behind. */
static void test_cancel_accept_connect(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	urs_future acc = urs_accept(l);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_cancel(acc), 0);
	assert_int_equal(urs_await(acc, NULL), -ECANCELED);
	/* A connect that cannot finish: a listener with a full backlog, no SYN answered
	 * quickly is not guaranteed on loopback, so use an address nothing answers on a
	 * blocked route instead: connect to a listener whose accept queue we fill. */
	urs_sock *full;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &full), 0);
	urs_addr fa;
	urs_addr_parse(&fa, "127.0.0.1:0");
	assert_int_equal(urs_bind(full, &fa), 0);
	assert_int_equal(urs_listen(full, 0), 0);
	assert_int_equal(urs_getsockname(full, &fa), 0);
	urs_sock *c[8];
	urs_future cf[8];
	for (int i = 0; i < 8; i++) {
		assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &c[i]), 0);
		cf[i] = urs_connect(c[i], &fa);
	}
	urs_loop_run(loop, URS_RUN_NOWAIT);
	int cancelled = 0, connected = 0;
	for (int i = 0; i < 8; i++) {
		int rc = urs_cancel(cf[i]);
		int res = urs_await(cf[i], NULL);
		if (rc == 0 && res == -ECANCELED)
			cancelled++;
		else if (res == 0)
			connected++;
		else
			fail_msg("connect %d: cancel %d, result %d", i, rc, res);
	}
	print_message("connect cancel: %d cancelled, %d had connected\n", cancelled, connected);
	assert_true(cancelled > 0); /* the backlog of 0 holds one or two: the rest wait */
	for (int i = 0; i < 8; i++)
		tu_close(c[i]);
	tu_close(full);
	tu_close(l);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- waits */

/* Defect 5: a receive waiting for a buffer (the user holds them all) honours its timeout,
 * and a wait that nothing can end answers -ENOBUFS instead of blocking for ever. One buffer
 * per receive (no incremental ring: there two 1-byte receives would share one buffer;
 * test_recvbuf exhausts those). */
static void test_buffer_wait_timeout_and_stall(void **state)
{
	(void)state;
	for (int ring = 0; ring < 2; ring++) {
		urs_loop_opts o = { .buf_count = 2,
				    .disable = URS_FEAT_BUF_INC | (ring ? 0 : URS_FEAT_BUF_RING) };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		urs_result held[2];
		for (int i = 0; i < 2; i++) {
			tu_await_eq(urs_send(p[0], "x", 1, 0), 1, NULL);
			tu_await_eq(urs_recv(p[1], 16, 0), 1, &held[i]);
		}
		tu_await_eq(urs_send(p[0], "y", 1, 0), 1, NULL);
		/* No timeout, nothing in the kernel: the await must not block. */
		urs_future f = urs_recv(p[1], 16, 0);
		assert_int_equal(urs_await(f, NULL), -ENOBUFS);
		assert_int_equal(urs_loop_run(loop, URS_RUN_ONCE), -ENOBUFS);
		urs_loop_stats st;
		urs_loop_stats_get(loop, &st);
		assert_true(st.stalls >= 2);
		assert_true(st.nobufs >= 1);
		/* The future is still good: releasing a buffer lets it finish, with the byte. */
		urs_buf_release(&held[0].buf);
		tu_await_eq(f, 1, &held[0]); /* the user holds both buffers again */
		assert_int_equal(held[0].buf.data[0], 'y');
		/* With a timeout: the wait ends -ETIMEDOUT and the data stays in the socket. */
		tu_await_eq(urs_send(p[0], "z", 1, 0), 1, NULL);
		assert_int_equal(urs_settimeout(p[1], 0.05), 0);
		tu_await_eq(urs_recv(p[1], 16, 0), -ETIMEDOUT, NULL);
		urs_buf_release(&held[0].buf);
		urs_result r;
		tu_await_eq(urs_recv(p[1], 16, 0), 1, &r);
		assert_int_equal(r.buf.data[0], 'z');
		urs_buf_release(&r.buf);
		urs_buf_release(&held[1].buf);
		tu_close(p[0]);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

/* A MSG_DONTWAIT receive or send never waits, whatever the socket's mode: not for a
 * provided buffer (the user holds them all: -EAGAIN, where it used to wait, or stall the
 * loop with -ENOBUFS), nor for data or room (epoll waited for the fd). The socket's timeout
 * only bounds what the old behaviour would do. */
static void test_dontwait_never_waits(void **state)
{
	(void)state;
	static char big[1 << 16];
	for (int ring = 0; ring < 2; ring++) {
		/* One buffer per receive: incremental buffers would share one between the two
		 * held 1-byte receives (test_recvbuf exhausts those). */
		urs_loop_opts o = { .buf_count = 2,
				    .disable = URS_FEAT_BUF_INC | (ring ? 0 : URS_FEAT_BUF_RING) };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		assert_int_equal(urs_settimeout(p[0], 1.0), 0);
		assert_int_equal(urs_settimeout(p[1], 1.0), 0);
		/* Nothing to read. */
		tu_await_eq(urs_recv(p[1], 16, MSG_DONTWAIT), -EAGAIN, NULL);
		/* No room to send: a non-blocking send goes as far as it can, then -EAGAIN. */
		int n;
		while ((n = urs_await(urs_send(p[0], big, sizeof(big), MSG_DONTWAIT), NULL)) > 0)
			;
		assert_int_equal(n, -EAGAIN);
		/* Nor for its turn behind a send that waits for room. */
		urs_future blocked = urs_sendall(p[0], big, sizeof(big), 0);
		tu_await_eq(urs_send(p[0], "z", 1, MSG_DONTWAIT), -EAGAIN, NULL);
		assert_int_equal(urs_cancel(blocked), 0);
		tu_await_eq(blocked, -ECANCELED, NULL);
		/* No buffer: the user holds both; data is there, and stays. */
		urs_result held[2], r;
		urs_sock *q[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, q), 0);
		for (int i = 0; i < 2; i++) {
			tu_await_eq(urs_send(q[0], "x", 1, 0), 1, NULL);
			tu_await_eq(urs_recv(q[1], 16, 0), 1, &held[i]);
		}
		tu_await_eq(urs_send(q[0], "y", 1, 0), 1, NULL);
		assert_int_equal(urs_settimeout(q[1], 1.0), 0);
		urs_loop_stats st0, st1;
		urs_loop_stats_get(loop, &st0);
		tu_await_eq(urs_recv(q[1], 16, MSG_DONTWAIT), -EAGAIN, NULL);
		urs_loop_stats_get(loop, &st1);
		assert_int_equal(st1.stalls, st0.stalls);
		urs_buf_release(&held[0].buf);
		tu_await_eq(urs_recv(q[1], 16, MSG_DONTWAIT), 1, &r);
		assert_int_equal(r.buf.data[0], 'y');
		urs_buf_release(&r.buf);
		urs_buf_release(&held[1].buf);
		tu_close(q[0]);
		tu_close(q[1]);
		tu_close(p[0]);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

/* urs_await fills *out on every error, not only with a result: res is the error, no buffer
 * and no socket are lent; after -ENOBUFS or -EDEADLK the future is still pending. */
struct deadlk {
	urs_future f;
	urs_result out;
	int ret;
};

static void await_in_cb(urs_result *r, void *user)
{
	(void)r;
	struct deadlk *d = user;
	memset(&d->out, 0x5a, sizeof(d->out));
	d->ret = urs_await(d->f, &d->out);
}

static void test_await_error_fills_result(void **state)
{
	(void)state;
	urs_loop_opts o = { .buf_count = 1, .disable = URS_FEAT_BUF_INC }; /* a buffer a receive */
	urs_loop *loop = tu_loop_new(&o);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_result held, out;
	tu_await_eq(urs_send(p[0], "xy", 2, 0), 2, NULL);
	tu_await_eq(urs_recv(p[1], 1, 0), 1, &held);
	urs_future f = urs_recv(p[1], 16, 0); /* waits for the buffer the test holds */
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(urs_await(f, &out), -ENOBUFS);
	assert_int_equal(out.res, -ENOBUFS);
	assert_int_equal(out.buf.id, URS_BUF_NONE);
	assert_int_equal(out.buf.len, 0);
	assert_null(out.sock);
	/* Inside a callback: -EDEADLK, filled too. */
	struct deadlk d = { .f = f };
	assert_int_equal(urs_then(urs_nop(loop), await_in_cb, &d), 0);
	d.ret = 1;
	for (int i = 0; i < 100 && d.ret == 1; i++)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(d.ret, -EDEADLK);
	assert_int_equal(d.out.res, -EDEADLK);
	assert_int_equal(d.out.buf.id, URS_BUF_NONE);
	/* Still pending: the buffer comes back, the byte arrives. */
	urs_buf_release(&held.buf);
	tu_await_eq(f, 1, &out);
	assert_int_equal(out.buf.data[0], 'y');
	urs_buf_release(&out.buf);
	/* A future that has a consumer: -EALREADY, filled. */
	struct tally t = { 0 };
	urs_future g = urs_nop(loop);
	assert_int_equal(urs_then(g, tally_cb, &t), 0);
	memset(&out, 0x5a, sizeof(out));
	assert_int_equal(urs_await(g, &out), -EALREADY);
	assert_int_equal(out.res, -EALREADY);
	assert_int_equal(out.buf.id, URS_BUF_NONE);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* A send waiting in the ordered queue honours its own timeout (counted from its issue)
 * and cancel, while the send ahead of it is still in the kernel. */
static void test_queued_send_timeout(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	size_t len = 32u << 20;
	char *a = malloc(len);
	memset(a, 'A', len);
	urs_future fa = urs_sendall(s, a, len, 0); /* no timeout: blocks, the peer reads nothing */
	assert_int_equal(urs_settimeout(s, 0.05), 0);
	urs_future fb = urs_send(s, "B", 1, 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_await(fb, NULL), -ETIMEDOUT);
	/* the one ahead is untouched */
	assert_int_equal(urs_cancel(fa), 0);
	assert_int_equal(urs_await(fa, NULL), -ECANCELED);
	reset_fd(fd);
	urs_sock_free(s);
	free(a);
	tu_loop_done(loop);
}

/* Defect 6: without a buffer ring, a buffer given back by a cancelled or ended receive
 * wakes the receive waiting for one. */
static void test_fallback_buffer_wakes_waiter(void **state)
{
	(void)state;
	urs_loop_opts o = { .buf_count = 1, .disable = URS_FEAT_BUF_RING };
	urs_loop *loop = tu_loop_new(&o);
	urs_sock *p[2], *q[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, q), 0);
	urs_future first = urs_recv(p[1], 16, 0); /* holds the only buffer in the kernel */
	urs_future waiter = urs_recv(q[1], 16, 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	tu_await_eq(urs_send(q[0], "w", 1, 0), 1, NULL);
	assert_int_equal(urs_cancel(first), 0);
	assert_int_equal(urs_await(first, NULL), -ECANCELED);
	urs_result r;
	tu_await_eq(waiter, 1, &r);
	assert_int_equal(r.buf.data[0], 'w');
	urs_buf_release(&r.buf);
	/* And by a receive that ended at EOF. */
	first = urs_recv(p[1], 16, 0);
	waiter = urs_recv(q[1], 16, 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	tu_await_eq(urs_send(q[0], "v", 1, 0), 1, NULL);
	tu_await_eq(urs_shutdown(p[0], SHUT_WR), 0, NULL);
	tu_await_eq(first, 0, NULL);
	tu_await_eq(waiter, 1, &r);
	assert_int_equal(r.buf.data[0], 'v');
	urs_buf_release(&r.buf);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_close(q[0]);
	tu_close(q[1]);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- teardown */

/* Defect 8: urs_loop_free never frees what the user holds: sockets stay husks, and a FILE
 * from urs_makefile fcloses after the loop is gone. */
static void test_loop_free_leaves_husks(void **state)
{
	(void)state;
	int fds0 = tu_fd_count();
	urs_loop *loop;
	assert_int_equal(urs_loop_new(&loop, NULL), 0);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	FILE *w = urs_makefile(p[0], "w", NULL);
	assert_non_null(w);
	assert_true(fputs("buffered, not flushed", w) >= 0);
	urs_sock_free(p[0]); /* the FILE keeps the object */
	assert_int_equal(urs_loop_free(loop), 0);
	assert_int_equal(urs_fileno(p[1]), -EBADF);
	assert_int_equal(urs_future_error(urs_send(p[1], "x", 1, 0)), -EBADF);
	assert_int_equal(urs_close(p[1]).gen, -EBADF);
	assert_int_equal(fflush(w), EOF);
	assert_int_equal(errno, EBADF);
	fclose(w);
	urs_sock_free(p[1]);
	assert_int_equal(tu_fd_count(), fds0);
}

/* urs_loop_free from inside one of its callbacks is refused and changes nothing. */
struct reentry {
	urs_loop *loop;
	int ret;
};

static void free_in_cb(urs_result *r, void *user)
{
	struct reentry *x = user;
	(void)r;
	x->ret = urs_loop_free(x->loop);
}

static void test_loop_free_inside_callback(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	struct reentry x = { loop, 1 };
	assert_int_equal(urs_then(urs_nop(loop), free_in_cb, &x), 0);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(x.ret, -EDEADLK);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_free_with_pool_full),
		cmocka_unit_test(test_free_from_callback_with_queue),
		cmocka_unit_test(test_loop_free_callbacks_free),
		cmocka_unit_test(test_close_callback_is_last),
		cmocka_unit_test(test_then_on_early_result_then_free),
		cmocka_unit_test(test_then_on_early_result_then_close),
		cmocka_unit_test(test_stream_ends_in_own_event),
		cmocka_unit_test(test_shutdown_after_queued_bytes),
		cmocka_unit_test(test_failed_head_fails_queue),
		cmocka_unit_test(test_cancel_queued_send),
		cmocka_unit_test(test_cancel_sendall_stops),
		cmocka_unit_test(test_cancel_send_in_transit),
		cmocka_unit_test(test_cut_send_keeps_its_count),
		cmocka_unit_test(test_close_with_sends_pending),
		cmocka_unit_test(test_cancel_accept_connect),
		cmocka_unit_test(test_buffer_wait_timeout_and_stall),
		cmocka_unit_test(test_dontwait_never_waits),
		cmocka_unit_test(test_await_error_fills_result),
		cmocka_unit_test(test_queued_send_timeout),
		cmocka_unit_test(test_fallback_buffer_wakes_waiter),
		cmocka_unit_test(test_loop_free_leaves_husks),
		cmocka_unit_test(test_loop_free_inside_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
