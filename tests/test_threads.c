/* SPDX-License-Identifier: MIT */
/* Many loops, one service (issue 12): posts from other threads (none lost, each sender's in
 * order), wakes and stops from another thread and from a signal handler, calls from the
 * wrong thread refused with nothing left pending, sockets handed between loops (10,000
 * connections, byte-exact echoes), and water marks on a socket's queued bytes. Also built
 * and run under ThreadSanitizer (make test TSAN=1). */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------- posts */

enum { SENDERS = 4, PER = 100000, FROM_SENDERS = 2, FROM_PER = 50000 };

struct sink {
	urs_loop *loop;
	uint32_t next[SENDERS + FROM_SENDERS];
	long got, bad, total;
};

static struct sink sink;

static void on_post(urs_loop *loop, void *arg)
{
	uintptr_t v = (uintptr_t)arg;
	unsigned who = (unsigned)(v >> 32), seq = (unsigned)(v & 0xffffffffu);
	if (loop != sink.loop || who >= SENDERS + FROM_SENDERS || seq != sink.next[who])
		sink.bad++;
	else
		sink.next[who]++;
	if (++sink.got == sink.total)
		urs_loop_stop(loop);
}

static void *poster(void *arg)
{
	uintptr_t who = (uintptr_t)arg;
	for (uintptr_t i = 0; i < PER; i++)
		while (urs_loop_post(sink.loop, on_post, (void *)(who << 32 | i)) == -ENOMEM)
			;
	return NULL;
}

/* A sender that runs a loop of its own: its posts wake the sink by IORING_OP_MSG_RING
 * riding on its own submissions. */
static void *poster_from(void *arg)
{
	uintptr_t who = (uintptr_t)arg;
	urs_loop *mine;
	assert_int_equal(urs_loop_new(&mine, NULL), 0);
	for (uintptr_t i = 0; i < FROM_PER; i++) {
		assert_int_equal(urs_loop_post_from(mine, sink.loop, on_post, (void *)(who << 32 | i)), 0);
		if (i % 64 == 63)
			urs_loop_run(mine, URS_RUN_NOWAIT); /* submits the MSG_RING, reaps its CQE */
	}
	urs_loop_run(mine, URS_RUN_NOWAIT);
	assert_int_equal(urs_loop_free(mine), 0);
	return NULL;
}

static void test_posts_many_threads(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	memset(&sink, 0, sizeof(sink));
	sink.loop = loop;
	sink.total = (long)SENDERS * PER + (long)FROM_SENDERS * FROM_PER;
	pthread_t th[SENDERS + FROM_SENDERS];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uintptr_t i = 0; i < SENDERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, poster, (void *)i), 0);
	for (uintptr_t i = 0; i < FROM_SENDERS; i++)
		assert_int_equal(pthread_create(&th[SENDERS + i], NULL, poster_from,
						(void *)(SENDERS + i)), 0);
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_STOP) >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < SENDERS + FROM_SENDERS; i++)
		pthread_join(th[i], NULL);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("%ld posts from %d threads (%d through MSG_RING) in %.1f ms, %ld out of "
		      "order\n", sink.got, SENDERS + FROM_SENDERS, FROM_SENDERS, ms, sink.bad);
	assert_int_equal(sink.got, sink.total);
	assert_int_equal(sink.bad, 0);
	for (int i = 0; i < SENDERS; i++)
		assert_int_equal(sink.next[i], PER);
	for (int i = 0; i < FROM_SENDERS; i++)
		assert_int_equal(sink.next[SENDERS + i], FROM_PER);
	tu_loop_done(loop);
}

static void count_post(urs_loop *loop, void *arg)
{
	(void)loop;
	(*(int *)arg)++;
}

/* Posts still queued when the loop is freed run then: none is lost. */
static void test_posts_run_at_free(void **state)
{
	(void)state;
	urs_loop *loop;
	assert_int_equal(urs_loop_new(&loop, NULL), 0);
	int n = 0;
	for (int i = 0; i < 10; i++)
		assert_int_equal(urs_loop_post(loop, count_post, &n), 0);
	assert_int_equal(n, 0); /* not inside the post */
	assert_int_equal(urs_loop_free(loop), 0);
	assert_int_equal(n, 10);
}

/* ---------------------------------------------------------------- wake and stop */

static urs_loop *_Atomic sig_loop;
static _Atomic int sig_how;

static void on_signal(int sig)
{
	(void)sig;
	if (sig_how == 1)
		urs_loop_stop(sig_loop);
	else
		urs_loop_wake(sig_loop);
}

/* The signal's thread: SIGUSR1 is blocked everywhere else, so the handler runs here while
 * the loop's thread sleeps in its wait (no EINTR there: only the wake can end it). */
static void *signal_thread(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (int i = 0; i < 2; i++) {
		struct pollfd none;
		(void)poll(&none, 0, 5000); /* interrupted by the signal */
	}
	return NULL;
}

static void fire_in(long ms)
{
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
	timer_t t;
	assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &t), 0);
	struct itimerspec its = { .it_value = { 0, ms * 1000000 } };
	assert_int_equal(timer_settime(t, 0, &its, NULL), 0);
}

static int64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* From a signal handler: a stop ends a run waiting for posts with nothing pending, a wake
 * ends a ONCE run waiting on a receive that never completes. */
static void test_wake_and_stop_from_signal_handler(void **state)
{
	(void)state;
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGUSR1, &sa, NULL);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, signal_thread, NULL), 0);
	urs_loop *loop = tu_loop_new(NULL);
	sig_loop = loop;
	sig_how = 1;
	int64_t t0 = ms_now();
	fire_in(30);
	assert_int_equal(urs_loop_run(loop, URS_RUN_UNTIL_STOP), 0);
	assert_true(ms_now() - t0 >= 25);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_future f = urs_recv(p[1], 8, 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	sig_how = 2;
	t0 = ms_now();
	fire_in(30);
	assert_int_equal(urs_loop_run(loop, URS_RUN_ONCE), 0); /* woken, nothing handled */
	assert_true(ms_now() - t0 >= 25);
	pthread_join(th, NULL);
	assert_int_equal(urs_cancel(f), 0);
	assert_int_equal(urs_await(f, NULL), -ECANCELED);
	tu_close(p[0]);
	tu_close(p[1]);
	signal(SIGUSR1, SIG_DFL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	tu_loop_done(loop);
}

static void *stopper(void *arg)
{
	struct pollfd none;
	(void)poll(&none, 0, 30);
	urs_loop_stop(arg);
	return NULL;
}

/* From another thread: a stop ends a run blocked on a receive that never completes. */
static void test_stop_from_another_thread(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_future f = urs_recv(p[1], 8, 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, stopper, loop), 0);
	assert_int_equal(urs_loop_run(loop, URS_RUN_UNTIL_IDLE), 0);
	pthread_join(th, NULL);
	assert_int_equal(urs_cancel(f), 0);
	assert_int_equal(urs_await(f, NULL), -ECANCELED);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- the wrong thread */

struct wrong {
	urs_loop *loop;
	urs_sock *s;
	urs_future f;
	urs_buf buf;
	int run, recv, then, cancel, release, send, settimeout, free_ret;
	int sendmsg, recvmsg, recvmsg_into, recvfrom_into, sendfile, gai, conn, server, resolver;
	urs_loop_stats before, after;
};

static void nop_cb(urs_result *r, void *u)
{
	(void)r;
	(void)u;
}

static void *wrong_thread(void *arg)
{
	struct wrong *w = arg;
	urs_loop_stats_get(w->loop, &w->before);
	w->run = urs_loop_run(w->loop, URS_RUN_NOWAIT);
	w->recv = urs_future_error(urs_recv(w->s, 8, 0));
	w->send = urs_future_error(urs_send(w->s, "x", 1, 0));
	w->then = urs_then(w->f, nop_cb, NULL);
	w->cancel = urs_cancel(w->f);
	w->release = urs_buf_release(&w->buf);
	w->settimeout = urs_settimeout(w->s, 1.0);
	char b[8];
	struct iovec v = { b, sizeof(b) };
	w->sendmsg = urs_future_error(urs_sendmsg(w->s, &v, 1, NULL, 0, 0, NULL));
	w->recvmsg = urs_future_error(urs_recvmsg(w->s, 8, NULL, 0, 0));
	w->recvmsg_into = urs_future_error(urs_recvmsg_into(w->s, &v, 1, NULL, 0, 0));
	w->recvfrom_into = urs_future_error(urs_recvfrom_into(w->s, b, sizeof(b), 0));
	w->sendfile = urs_future_error(urs_sendfile(w->s, 0, 0, 1));
	w->gai = urs_future_error(urs_getaddrinfo(w->loop, "127.0.0.1", "80", NULL));
	w->conn = urs_future_error(urs_create_connection(w->loop, "127.0.0.1", "80", 1, NULL));
	urs_addr a;
	urs_sock *srv = NULL;
	urs_addr_parse(&a, "127.0.0.1:0");
	w->server = urs_create_server(w->loop, &a, 8, 0, &srv);
	w->resolver = urs_resolver_config(w->loop, NULL, 1, 1);
	w->free_ret = urs_loop_free(w->loop);
	urs_sock_free(w->s); /* nothing happens */
	urs_loop_stats_get(w->loop, &w->after);
	return NULL;
}

static void test_wrong_thread_refused(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_result r;
	tu_await_eq(urs_send(p[0], "ab", 2, 0), 2, NULL);
	tu_await_eq(urs_recv(p[1], 8, 0), 2, &r);
	struct wrong w = { .loop = loop, .s = p[1], .f = urs_recv(p[1], 8, 0), .buf = r.buf };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, wrong_thread, &w), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.run, -EXDEV);
	assert_int_equal(w.recv, -EXDEV);
	assert_int_equal(w.send, -EXDEV);
	assert_int_equal(w.then, -EXDEV);
	assert_int_equal(w.cancel, -EXDEV);
	assert_int_equal(w.release, -EXDEV);
	assert_int_equal(w.settimeout, -EXDEV);
	assert_int_equal(w.free_ret, -EXDEV);
	assert_int_equal(w.sendmsg, -EXDEV);
	assert_int_equal(w.recvmsg, -EXDEV);
	assert_int_equal(w.recvmsg_into, -EXDEV);
	assert_int_equal(w.recvfrom_into, -EXDEV);
	assert_int_equal(w.sendfile, -EXDEV);
	assert_int_equal(w.gai, -EXDEV);
	assert_int_equal(w.conn, -EXDEV);
	assert_int_equal(w.server, -EXDEV);
	assert_int_equal(w.resolver, -EXDEV);
	assert_int_equal(w.after.ops_in_use, w.before.ops_in_use); /* nothing left pending */
	assert_int_equal(w.after.bufs_lent, 1);
	assert_int_equal(urs_buf_release(&r.buf), 0); /* still ours, still good */
	assert_int_equal(urs_cancel(w.f), 0);
	assert_int_equal(urs_await(w.f, NULL), -ECANCELED);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- hand-off */

enum { HANDOFFS = 10000, IN_FLIGHT = 32 };

struct worker {
	urs_loop *loop;
	pthread_t th;
	pthread_barrier_t *ready;
	_Atomic long echoed, arrived, failed;
};

struct echo {
	struct worker *w;
	urs_sock *s;
	urs_buf held;
};

static void echo_closed(urs_result *r, void *u)
{
	struct echo *e = u;
	(void)r;
	urs_sock_free(e->s);
	free(e);
}

static void echo_sent(urs_result *r, void *u)
{
	struct echo *e = u;
	urs_buf_release(&e->held);
	if (r->res == 0)
		atomic_fetch_add(&e->w->echoed, 1);
}

static void echo_chunk(urs_result *r, void *u)
{
	struct echo *e = u;
	if (!(r->flags & URS_RES_MORE)) {
		urs_then(urs_close(e->s), echo_closed, e);
		return;
	}
	e->held = r->buf;
	if (urs_then(urs_sendall(e->s, r->buf.data, r->buf.len, 0), echo_sent, e) < 0)
		urs_buf_release(&e->held);
}

/* On the worker's thread: a connection handed over from the acceptor. */
static void arrived(urs_result *r, void *u)
{
	struct worker *w = u;
	if (r->res < 0 || !r->sock) {
		atomic_fetch_add(&w->failed, 1);
		return;
	}
	atomic_fetch_add(&w->arrived, 1);
	struct echo *e = calloc(1, sizeof(*e));
	e->w = w;
	e->s = r->sock;
	if (urs_future_error(urs_recv_stream(e->s, echo_chunk, e)) < 0) {
		urs_sock_free(e->s);
		free(e);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	assert_int_equal(urs_loop_new(&w->loop, NULL), 0);
	pthread_barrier_wait(w->ready);
	urs_loop_run(w->loop, URS_RUN_UNTIL_STOP);
	urs_loop_run(w->loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(urs_loop_free(w->loop), 0);
	return NULL;
}

struct acceptor {
	struct worker *w;
	long handed, refused;
};

static void accepted(urs_result *r, void *u)
{
	struct acceptor *a = u;
	if (!(r->flags & URS_RES_MORE) || r->res < 0)
		return;
	if (urs_sock_handoff(r->sock, a->w->loop, arrived, a->w) == 0)
		a->handed++;
	else {
		a->refused++;
		urs_sock_free(r->sock);
	}
}

/* Client side, in its own thread with plain blocking sockets: HANDOFFS connections, a few
 * in flight at once, each sends its number and reads it back. */
struct clients {
	urs_addr to;
	long ok, bad;
	atomic_long unconnected; /* connections that never reached the listener (the machine ran
				    out of ports): the acceptor stops waiting for them */
};

static void *clients_main(void *arg)
{
	struct clients *c = arg;
	int fds[IN_FLIGHT];
	for (int base = 0; base < HANDOFFS; base += IN_FLIGHT) {
		int n = HANDOFFS - base < IN_FLIGHT ? HANDOFFS - base : IN_FLIGHT;
		for (int i = 0; i < n; i++) {
			fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			struct timeval tv = { 10, 0 };
			setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			if (connect(fds[i], &c->to.u.sa, c->to.len) < 0) {
				c->bad++;
				atomic_fetch_add(&c->unconnected, 1);
			}
			uint32_t v = (uint32_t)(base + i);
			(void)!send(fds[i], &v, 4, MSG_NOSIGNAL);
		}
		for (int i = 0; i < n; i++) {
			uint32_t v = 0;
			if (recv(fds[i], &v, 4, MSG_WAITALL) == 4 && v == (uint32_t)(base + i))
				c->ok++;
			else
				c->bad++;
			close(fds[i]);
		}
	}
	return NULL;
}

static void test_handoff_10000(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	pthread_barrier_t ready;
	pthread_barrier_init(&ready, NULL, 2);
	struct worker w = { .ready = &ready };
	assert_int_equal(pthread_create(&w.th, NULL, worker_main, &w), 0);
	pthread_barrier_wait(&ready);
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	struct acceptor acc = { &w, 0, 0 };
	urs_future st = urs_accept_stream(l, accepted, &acc);
	struct clients cl = { .to = a };
	pthread_t ct;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&ct, NULL, clients_main, &cl), 0);
	while (acc.handed + acc.refused + atomic_load(&cl.unconnected) < HANDOFFS)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	pthread_join(ct, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	urs_cancel(st);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	tu_close(l);
	urs_loop_stop(w.loop);
	pthread_join(w.th, NULL);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("hand-off: %ld connections accepted on one loop, echoed on another, in "
		      "%.0f ms: %ld echoes right, %ld wrong, %ld arrived, %ld failed\n",
		      acc.handed, ms, cl.ok, cl.bad, (long)w.arrived, (long)w.failed);
	assert_int_equal(acc.handed, HANDOFFS);
	assert_int_equal(cl.ok, HANDOFFS);
	assert_int_equal(cl.bad, 0);
	assert_int_equal(w.arrived, HANDOFFS);
	assert_int_equal(w.failed, 0);
	pthread_barrier_destroy(&ready);
	tu_loop_done(loop);
}

/* A socket with ops pending cannot be handed off; a freed loop's posts still deliver. */
static void test_handoff_refusals(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_loop *other;
	assert_int_equal(urs_loop_new(&other, NULL), 0);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_future f = urs_recv(p[1], 8, 0);
	assert_int_equal(urs_sock_handoff(p[1], other, nop_cb, NULL), -EBUSY);
	assert_int_equal(urs_cancel(f), 0);
	assert_int_equal(urs_await(f, NULL), -ECANCELED);
	assert_int_equal(urs_sock_handoff(NULL, other, nop_cb, NULL), -EINVAL);
	assert_int_equal(urs_sock_handoff(p[1], NULL, nop_cb, NULL), -EINVAL);
	tu_close(p[0]);
	tu_close(p[1]);
	urs_loop_free(other);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- water marks */

struct marks {
	int events;
	int res[8];
	size_t at[8];
};

static void on_mark(urs_result *r, void *u)
{
	struct marks *m = u;
	if (m->events < 8) {
		m->res[m->events] = r->res;
		m->at[m->events] = r->sent;
	}
	m->events++;
}

static void test_watermarks(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	int small = 4096;
	urs_setsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	struct marks m = { 0 };
	assert_int_equal(urs_sock_watermarks(p[0], 100000, 10000, on_mark, &m), 0);
	assert_int_equal(urs_sock_watermarks(p[0], 10, 20, on_mark, &m), -EINVAL);
	assert_int_equal(urs_sock_watermarks(p[0], 100000, 10000, on_mark, &m), 0);
	static char block[40000];
	urs_future f[4];
	for (int i = 0; i < 3; i++)
		f[i] = urs_sendall(p[0], block, sizeof(block), 0);
	assert_int_equal(m.events, 0); /* never inside urs_send */
	assert_true(urs_sock_queued(p[0]) <= 120000 && urs_sock_queued(p[0]) > 100000);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(m.events, 1);
	assert_int_equal(m.res[0], 1); /* over the high mark: stop producing */
	assert_true(m.at[0] > 100000);
	/* The peer reads: the queue drains past the low mark, once. */
	size_t got = 0;
	while (got < 3 * sizeof(block)) {
		urs_result r;
		int k = urs_await(urs_recv(p[1], 65536, 0), &r);
		assert_true(k > 0);
		got += (size_t)k;
		urs_buf_release(&r.buf);
	}
	for (int i = 0; i < 3; i++)
		tu_await_eq(f[i], 0, NULL);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(m.events, 2);
	assert_int_equal(m.res[1], 0); /* at or below the low mark: go on */
	assert_true(m.at[1] <= 10000);
	assert_int_equal(urs_sock_queued(p[0]), 0);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* Sends queued from a callback that the loop's same turn drains: the rise above the high
 * mark is still reported, and the fall back after it. A producer that paused when it saw
 * urs_sock_queued above the mark must hear when to go on. */
struct burst {
	urs_sock *s;
	urs_future tx;
	bool sent;
};

static void burst_chunk(urs_result *r, void *u)
{
	struct burst *b = u;
	static char block[100000];
	if (r->res > 0 && !b->sent) {
		b->sent = true;
		b->tx = urs_sendall(b->s, block, sizeof(block), 0);
		assert_true(urs_sock_queued(b->s) > 64000);
	}
	urs_buf_release(&r->buf);
}

static void test_watermarks_drained_in_one_turn(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	int big = 1 << 20;
	urs_setsockopt(p[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	urs_setsockopt(p[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct marks m = { 0 };
	assert_int_equal(urs_sock_watermarks(p[0], 64000, 16000, on_mark, &m), 0);
	struct burst b = { .s = p[0] };
	/* The bytes are there before the receive starts: on epoll its first try takes them
	 * and the sends its callback queues run in the same pass. */
	tu_await_eq(urs_send(p[1], "go", 2, 0), 2, NULL);
	urs_future rs = urs_recv_stream(p[0], burst_chunk, &b);
	assert_int_equal(urs_future_error(rs), 0);
	while (!b.sent)
		urs_loop_run(loop, URS_RUN_ONCE);
	tu_await_eq(b.tx, 0, NULL); /* the peer's receive buffer takes it all */
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_sock_queued(p[0]), 0);
	assert_int_equal(m.events, 2);
	assert_int_equal(m.res[0], 1);
	assert_int_equal(m.res[1], 0);
	assert_int_equal(m.at[1], 0);
	urs_cancel(rs);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_posts_many_threads),
		cmocka_unit_test(test_posts_run_at_free),
		cmocka_unit_test(test_wake_and_stop_from_signal_handler),
		cmocka_unit_test(test_stop_from_another_thread),
		cmocka_unit_test(test_wrong_thread_refused),
		cmocka_unit_test(test_handoff_10000),
		cmocka_unit_test(test_handoff_refusals),
		cmocka_unit_test(test_watermarks),
		cmocka_unit_test(test_watermarks_drained_in_one_turn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
