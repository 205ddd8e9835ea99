/* SPDX-License-Identifier: MIT */
/* A connection's receive stream in its socket's own op cell (issue 16, item 4): a stream
 * takes no op of the pool, a second one at once does; streams beyond max_ops; a stale
 * future to an old stream whose cell a new socket reuses; the socket freed or closed from
 * the stream's callbacks; the loop freed with streams live; the cell kept while its op
 * still waits on the ready list; a peer's reset; datagram streams; the pool's chunks
 * beside the sockets'. White-box where the cell itself is the point (tests link the static
 * library and see internal.h). */
#define _GNU_SOURCE
#include "testutil.h"

#include "../engine/src/internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct rx {
	urs_sock *s;
	int events, bytes, ended, end_res;
	int free_on;             /* 1: free the socket at the first data event, 2: at the end,
				    3: close it (detached) at the first data event */
	bool hold;               /* keep the last buffer lent (held) */
	urs_buf held;
	urs_sock *echo;          /* send each chunk back on this socket */
	char echo_data[64];
};

static void rx_cb(urs_result *r, void *user)
{
	struct rx *x = user;
	if (r->flags & URS_RES_MORE) {
		x->events++;
		if (r->res > 0)
			x->bytes += r->res;
		if (x->echo && r->res > 0 && (size_t)r->res <= sizeof(x->echo_data)) {
			memcpy(x->echo_data, r->buf.data, (size_t)r->res);
			urs_detach(urs_sendall(x->echo, x->echo_data, (size_t)r->res, 0));
		}
		if (x->hold && !x->held.len)
			x->held = r->buf;
		else
			urs_buf_release(&r->buf);
		if (x->free_on == 1 && x->events == 1)
			urs_sock_free(x->s);
		if (x->free_on == 3 && x->events == 1)
			urs_detach(urs_close(x->s));
		return;
	}
	x->ended++;
	x->end_res = r->res;
	urs_buf_release(&r->buf);
	if (x->free_on == 2)
		urs_sock_free(x->s);
}

static uint32_t in_use(urs_loop *loop)
{
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	return st.ops_in_use;
}

static void run_until(urs_loop *loop, const int *flag, int want)
{
	for (int i = 0; i < 100000 && *flag < want; i++)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_true(*flag >= want);
}

/* A stream on an accepted connection is in the connection's own cell: the pool does not
 * move. A second stream at once comes from the pool, and both receive. */
static void test_stream_takes_no_pool_op(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	uint32_t before = in_use(loop);
	struct rx a = { .s = s }, b = { .s = s };
	urs_future fa = urs_recv_stream(s, rx_cb, &a);
	assert_int_equal(urs_future_error(fa), 0);
	assert_ptr_equal(urs__op_at(loop, fa.idx), urs__sock_own(s));
	assert_int_equal(in_use(loop), before);
	tu_await_eq(urs_send(c, "one", 3, 0), 3, NULL);
	run_until(loop, &a.bytes, 3);
	/* The second comes from the pool. */
	urs_future fb = urs_recv_stream(s, rx_cb, &b);
	assert_int_equal(urs_future_error(fb), 0);
	assert_ptr_not_equal(urs__op_at(loop, fb.idx), urs__sock_own(s));
	assert_int_equal(in_use(loop), before + 1);
	/* With the first cancelled, the second gets what follows. */
	assert_int_equal(urs_cancel(fa), 0);
	run_until(loop, &a.ended, 1);
	assert_int_equal(a.end_res, -ECANCELED);
	assert_int_equal(urs__sock_own(s)->state, OP_FREE);
	tu_await_eq(urs_send(c, "twotwo", 6, 0), 6, NULL);
	run_until(loop, &b.bytes, 6);
	assert_int_equal(a.bytes, 3);
	/* The own cell is free again: a third stream takes it, not the pool. */
	struct rx d = { .s = s };
	urs_future fd = urs_recv_stream(s, rx_cb, &d);
	assert_ptr_equal(urs__op_at(loop, fd.idx), urs__sock_own(s));
	assert_int_equal(in_use(loop), before + 1);
	tu_close(c); /* both streams end with the peer's FIN */
	run_until(loop, &b.ended, 1);
	run_until(loop, &d.ended, 1);
	assert_int_equal(b.end_res, 0);
	assert_int_equal(d.end_res, 0);
	assert_int_equal(in_use(loop), before - 1); /* c's reserved close is gone */
	tu_close(s);
	tu_loop_done(loop);
}

enum { CONNS = 64, SPARE = 8 };

/* 64 connections, each with a live receive stream, echo on a loop whose pool holds only
 * their reserved closes (one per socket: the listener and the 64) and 8 ops more: with a
 * stream taking an op of the pool, the ninth stream would be refused -EBUSY. */
static void test_streams_beyond_the_pool(void **state)
{
	(void)state;
	urs_loop_opts o = { .max_ops = 1 + CONNS + SPARE };
	urs_loop *loop = tu_loop_new(&o);
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	int cfd[CONNS];
	static struct rx x[CONNS];
	memset(x, 0, sizeof(x));
	for (int i = 0; i < CONNS; i++) {
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(cfd[i] >= 0);
		assert_int_equal(connect(cfd[i], &a.u.sa, a.len), 0);
		urs_result r;
		tu_await_eq(urs_accept(l), 0, &r);
		x[i].s = x[i].echo = r.sock;
		urs_future f = urs_recv_stream(r.sock, rx_cb, &x[i]);
		assert_int_equal(urs_future_error(f), 0);
	}
	assert_int_equal(in_use(loop), 1 + CONNS);
	for (int i = 0; i < CONNS; i++) {
		char msg[16], back[16];
		int n = snprintf(msg, sizeof(msg), "conn %d", i);
		assert_int_equal(write(cfd[i], msg, (size_t)n), n);
		run_until(loop, &x[i].bytes, n);
		/* The echo was issued in the callback: its bytes come once the loop sends them. */
		ssize_t got = 0;
		while (got < n) {
			assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
			ssize_t k = recv(cfd[i], back + got, sizeof(back) - (size_t)got, MSG_DONTWAIT);
			if (k > 0)
				got += k;
			else
				assert_true(k < 0 && errno == EAGAIN);
		}
		assert_memory_equal(back, msg, (size_t)n);
	}
	for (int i = 0; i < CONNS; i++)
		close(cfd[i]);
	for (int i = 0; i < CONNS; i++) {
		run_until(loop, &x[i].ended, 1);
		assert_int_equal(x[i].end_res, 0);
		tu_close(x[i].s);
	}
	tu_close(l);
	tu_loop_done(loop);
}

/* A stream cancelled and ended, its socket freed, a new socket in the same cell with a
 * stream of its own in the same op slot: the old future is stale (the cell's generation
 * went on and survived the socket's reuse) and touches nothing of the new stream. */
static void test_stale_future_after_cell_reuse(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	struct rx old = { .s = p[1] };
	urs_future f = urs_recv_stream(p[1], rx_cb, &old);
	struct urs_op *cell = urs__sock_own(p[1]);
	assert_ptr_equal(urs__op_at(loop, f.idx), cell);
	assert_int_equal(urs_cancel(f), 0);
	run_until(loop, &old.ended, 1);
	assert_int_equal(old.end_res, -ECANCELED);
	urs_sock_free(p[1]);
	tu_close(p[0]);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	/* Freed cells are reused first: one of the new pair is in the old cell. */
	urs_sock *q[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, q), 0);
	int mine = urs__sock_own(q[0]) == cell ? 0 : 1;
	assert_ptr_equal(urs__sock_own(q[mine]), cell);
	struct rx now = { .s = q[mine] };
	urs_future g = urs_recv_stream(q[mine], rx_cb, &now);
	assert_int_equal(g.idx, f.idx);
	assert_true(g.gen != f.gen);
	urs_result r;
	assert_int_equal(urs_await(f, &r), -EINVAL);
	assert_int_equal(urs_cancel(f), -EINVAL);
	assert_int_equal(urs_detach(f), -EINVAL);
	assert_int_equal(urs_then(f, rx_cb, &old), -EINVAL);
	/* The new stream is untouched: it receives, and only its callback runs. */
	tu_await_eq(urs_send(q[!mine], "new", 3, 0), 3, NULL);
	run_until(loop, &now.bytes, 3);
	assert_int_equal(now.ended, 0);
	assert_int_equal(old.ended, 1);
	assert_int_equal(old.bytes, 0);
	assert_int_equal(urs_cancel(g), 0);
	run_until(loop, &now.ended, 1);
	assert_int_equal(now.end_res, -ECANCELED);
	tu_close(q[0]);
	tu_close(q[1]);
	tu_loop_done(loop);
}

/* The socket freed from its stream's data event, freed from its final event, closed from
 * its data event: each cell goes back (reused by the next pair), no callback after the
 * free, nothing leaked (SAN=1). */
static void test_free_from_stream_callback(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	for (int how = 1; how <= 3; how++) {
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		struct rx x = { .s = p[1], .free_on = how };
		uint32_t before = in_use(loop);
		urs_future f = urs_recv_stream(p[1], rx_cb, &x);
		assert_ptr_equal(urs__op_at(loop, f.idx), urs__sock_own(p[1]));
		assert_int_equal(in_use(loop), before);
		tu_await_eq(urs_send(p[0], "data", 4, 0), 4, NULL);
		run_until(loop, &x.events, 1);
		if (how == 2) {
			tu_close(p[0]); /* the FIN ends it; its callback frees */
			run_until(loop, &x.ended, 1);
			assert_int_equal(x.end_res, 0);
		}
		urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
		if (how == 1)
			assert_int_equal(x.ended, 0); /* no callback after urs_sock_free */
		if (how == 3) {
			assert_int_equal(x.ended, 1); /* the close cancelled it; s still held */
			assert_int_equal(x.end_res, -ECANCELED);
			urs_sock_free(p[1]);
		}
		if (how != 2)
			tu_close(p[0]);
		urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
		assert_int_equal(x.events, 1);
		assert_int_equal(urs_await(f, NULL), -EINVAL); /* gone with its stream */
	}
	tu_loop_done(loop);
}

/* urs_loop_free with streams live, in own cells and one from the pool: every callback runs
 * once with -ECANCELED; the sockets the test still holds are husks, freed after the loop. */
static void test_loop_free_with_streams(void **state)
{
	(void)state;
	int fds = tu_fd_count();
	urs_loop *loop;
	int ret = urs_loop_new(&loop, NULL);
	if (ret == -ENOSYS || ret == -EPERM)
		skip();
	assert_int_equal(ret, 0);
	enum { N = 8 };
	urs_sock *p[N][2];
	struct rx x[N + 1];
	memset(x, 0, sizeof(x));
	for (int i = 0; i < N; i++) {
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
		x[i].s = p[i][1];
		assert_int_equal(urs_future_error(urs_recv_stream(p[i][1], rx_cb, &x[i])), 0);
	}
	x[N].s = p[0][1];
	assert_int_equal(urs_future_error(urs_recv_stream(p[0][1], rx_cb, &x[N])), 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	urs_sock_free(p[1][1]); /* one freed before: no callback for it */
	assert_int_equal(urs_loop_free(loop), 0);
	for (int i = 0; i <= N; i++) {
		if (i == 1) {
			assert_int_equal(x[i].ended, 0);
			continue;
		}
		assert_int_equal(x[i].ended, 1);
		assert_int_equal(x[i].end_res, -ECANCELED);
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(urs_fileno(p[i][0]), -EBADF); /* a husk */
		urs_sock_free(p[i][0]);
		if (i != 1)
			urs_sock_free(p[i][1]);
	}
	assert_int_equal(tu_fd_count(), fds);
}

/* The rule that keeps a cell from being handed out while its own op lives: a stream's end
 * waits on the ready list while its socket is buried and reaped (the socket freed while
 * the stream waited for a buffer, so the cancel decided it at once). The cell stays out of
 * the slab until the end is delivered, then goes back. The reap runs here by hand, before
 * the ready list: the ordering no turn takes today, which the rule must survive anyway. */
static void test_cell_kept_while_op_lives(void **state)
{
	(void)state;
	urs_loop_opts o = { .buf_count = 1, .buf_size = 4096,
			    .disable = URS_FEAT_BUF_INC | URS_FEAT_RECV_BUNDLE };
	urs_loop *loop = tu_loop_new(&o);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	struct rx x = { .s = p[1], .hold = true };
	urs_future f = urs_recv_stream(p[1], rx_cb, &x);
	struct urs_op *op = urs__sock_own(p[1]);
	assert_ptr_equal(urs__op_at(loop, f.idx), op);
	char data[4096];
	memset(data, 'x', sizeof(data));
	tu_await_eq(urs_sendall(p[0], data, sizeof(data), 0), 0, NULL);
	/* The one buffer is held: more bytes make the stream wait for one outside the kernel. */
	run_until(loop, &x.events, 1);
	tu_await_eq(urs_send(p[0], "more", 4, 0), 4, NULL);
	for (int i = 0; i < 1000 && op->queue != QUEUE_BUFWAIT; i++)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(op->queue, QUEUE_BUFWAIT);
	urs_sock_free(p[1]);
	assert_int_equal(op->state, OP_DONE); /* decided, waiting on the ready list */
	assert_true(p[1]->dead);
	urs__sock_reap_dead(loop);
	assert_true(p[1]->release_owed);
	assert_true(p[1]->inuse);
	/* Not handed out again while its op lives. */
	urs_sock *q[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, q), 0);
	assert_ptr_not_equal(q[0], p[1]);
	assert_ptr_not_equal(q[1], p[1]);
	urs_buf_release(&x.held);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(op->state, OP_FREE);
	assert_int_equal(x.ended, 0); /* freed socket: its end was dropped */
	/* Now it is back: the next socket takes it. */
	urs_sock *r[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, r), 0);
	assert_true(r[0] == p[1] || r[1] == p[1]);
	tu_close(p[0]);
	tu_close(q[0]);
	tu_close(q[1]);
	tu_close(r[0]);
	tu_close(r[1]);
	tu_loop_done(loop);
}

/* A peer's reset in the middle of a stream ends it with the reset (or the end, when the
 * kernel had already taken the FIN's place) and leaves the cell free for the next. */
static void test_peer_reset_mid_stream(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	uint32_t before = in_use(loop);
	struct rx x = { .s = s };
	urs_future f = urs_recv_stream(s, rx_cb, &x);
	assert_ptr_equal(urs__op_at(loop, f.idx), urs__sock_own(s));
	tu_await_eq(urs_send(c, "before", 6, 0), 6, NULL);
	run_until(loop, &x.bytes, 6);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	assert_int_equal(urs_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	tu_close(c);
	run_until(loop, &x.ended, 1);
	assert_true(x.end_res == -ECONNRESET || x.end_res == 0);
	assert_int_equal(x.bytes, 6);
	assert_int_equal(urs__sock_own(s)->state, OP_FREE);
	assert_int_equal(in_use(loop), before - 1); /* c's close went; nothing else moved */
	assert_int_equal(urs_await(f, NULL), -EINVAL);
	tu_close(s);
	tu_loop_done(loop);
}

struct dg {
	int n, ended, end_res;
	char last[16];
};

static void dg_cb(urs_result *r, void *user)
{
	struct dg *d = user;
	if (r->flags & URS_RES_MORE) {
		if (r->res >= 0 && (size_t)r->res < sizeof(d->last)) {
			memcpy(d->last, r->buf.data, (size_t)r->res);
			d->last[r->res] = 0;
		}
		d->n++;
	} else {
		d->ended++;
		d->end_res = r->res;
	}
	urs_buf_release(&r->buf);
}

/* Datagram streams (UDP with urs_recvfrom_stream, a unix datagram pair with urs_recv_stream)
 * take their socket's own cell too; a second one on the same socket takes the pool's. */
static void test_datagram_streams_in_own_cell(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	for (int kind = 0; kind < 2; kind++) {
		urs_sock *tx, *rxs;
		urs_addr ra;
		if (kind == 0) {
			urs_addr a;
			assert_int_equal(urs_addr_parse(&a, "127.0.0.1:0"), 0);
			assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &tx), 0);
			assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &rxs), 0);
			assert_int_equal(urs_bind(rxs, &a), 0);
			assert_int_equal(urs_getsockname(rxs, &ra), 0);
			tu_await_eq(urs_connect(tx, &ra), 0, NULL);
		} else {
			urs_sock *p[2];
			assert_int_equal(urs_socketpair(loop, SOCK_DGRAM, p), 0);
			tx = p[0];
			rxs = p[1];
		}
		uint32_t before = in_use(loop);
		struct dg d = { 0 }, e = { 0 };
		urs_future f = kind == 0 ? urs_recvfrom_stream(rxs, dg_cb, &d)
					 : urs_recv_stream(rxs, dg_cb, &d);
		assert_int_equal(urs_future_error(f), 0);
		assert_ptr_equal(urs__op_at(loop, f.idx), urs__sock_own(rxs));
		assert_int_equal(in_use(loop), before);
		tu_await_eq(urs_send(tx, "first", 5, 0), 5, NULL);
		run_until(loop, &d.n, 1);
		assert_string_equal(d.last, "first");
		urs_future g = urs_recvfrom_stream(rxs, dg_cb, &e);
		assert_ptr_not_equal(urs__op_at(loop, g.idx), urs__sock_own(rxs));
		assert_int_equal(in_use(loop), before + 1);
		assert_int_equal(urs_cancel(f), 0);
		run_until(loop, &d.ended, 1);
		assert_int_equal(d.end_res, -ECANCELED);
		tu_await_eq(urs_send(tx, "second", 6, 0), 6, NULL);
		run_until(loop, &e.n, 1);
		assert_string_equal(e.last, "second");
		assert_int_equal(urs_cancel(g), 0);
		run_until(loop, &e.ended, 1);
		assert_int_equal(urs__sock_own(rxs)->state, OP_FREE);
		tu_close(tx);
		tu_close(rxs);
	}
	tu_loop_done(loop);
}

/* An index a future or a CQE carries names, in a chunk of sockets, only the own op of a
 * cell handed out: never the chunk's header, never a byte of a socket, never a cell beyond
 * those handed out. A forged future to a socket's slot is refused, not read. */
static void test_op_at_names_only_own_cells(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	struct rx x = { .s = p[1] };
	urs_future f = urs_recv_stream(p[1], rx_cb, &x);
	uint32_t own = f.idx, first = own - own % OP_CHUNK;
	assert_ptr_equal(urs__op_at(loop, own), urs__sock_own(p[1]));
	assert_non_null(urs__op_at(loop, urs__op_idx(urs__sock_own(p[0])))); /* free, but a cell */
	for (uint32_t slot = 0; slot < SOCKCELL_SLOTS; slot++)
		assert_null(urs__op_at(loop, first + slot)); /* the header's cell */
	for (uint32_t d = 1; d < SOCKCELL_SLOTS; d++) {
		assert_null(urs__op_at(loop, own - d)); /* the socket's own bytes */
		urs_future forged = { loop, own - d, f.gen };
		assert_int_equal(urs_cancel(forged), -EINVAL);
	}
	/* Past the last cell handed out of this chunk. */
	uint32_t last = own > urs__op_idx(urs__sock_own(p[0])) ? own : urs__op_idx(urs__sock_own(p[0]));
	assert_null(urs__op_at(loop, last + SOCKCELL_SLOTS));
	assert_null(urs__op_at(loop, first + OP_CHUNK - 1));
	assert_int_equal(urs_cancel(f), 0);
	run_until(loop, &x.ended, 1);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

static void sleep_cb(urs_result *r, void *user)
{
	int *n = user;
	if (r->res == -ECANCELED)
		n[0]++;
}

/* The pool's chunks and the sockets' chunks share the loop's table: ops taken past a full
 * chunk of the pool go to the pool's next chunk, over a chunk of sockets added between
 * them, never into it (its header, its sockets). */
static void test_pool_grows_past_socket_chunks(void **state)
{
	(void)state;
	enum { SLEEPS = OP_CHUNK + 100 };
	urs_loop *loop = tu_loop_new(NULL);
	static urs_future f[SLEEPS];
	int cancelled = 0;
	f[0] = urs_sleep(loop, 3600); /* the pool's first chunk... */
	assert_int_equal(urs_then(f[0], sleep_cb, &cancelled), 0);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0); /* ...then one of sockets */
	uint32_t sock_chunk = urs__op_idx(urs__sock_own(p[0])) / OP_CHUNK;
	struct rx x = { .s = p[1] };
	urs_future rs = urs_recv_stream(p[1], rx_cb, &x);
	for (int i = 1; i < SLEEPS; i++) {
		f[i] = urs_sleep(loop, 3600);
		assert_int_equal(urs_future_error(f[i]), 0);
		assert_int_equal(urs_then(f[i], sleep_cb, &cancelled), 0);
		assert_true(f[i].idx / OP_CHUNK != sock_chunk);
	}
	/* The sockets and their stream are intact. */
	tu_await_eq(urs_send(p[0], "still", 5, 0), 5, NULL);
	run_until(loop, &x.bytes, 5);
	for (int i = 0; i < SLEEPS; i++)
		assert_int_equal(urs_cancel(f[i]), 0);
	run_until(loop, &cancelled, SLEEPS);
	assert_int_equal(urs_cancel(rs), 0);
	run_until(loop, &x.ended, 1);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- hostile review */

static void noop_cb(urs_result *r, void *user)
{
	(void)user;
	urs_buf_release(&r->buf);
}

/* Every forged future into a chunk of sockets (the header's cell, every byte of a socket,
 * every own op: used, free, past `used`) and into the pool's chunk and beyond the table,
 * with any generation, is refused by urs_await, urs_cancel, urs_then and urs_detach with
 * an error; only the one live stream's own handle is good, and it stays so (SAN=1 says
 * nothing was read wrongly). */
static void test_forged_futures_everywhere(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	enum { PAIRS = 5 };
	urs_sock *p[PAIRS][2];
	for (int i = 0; i < PAIRS; i++)
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
	/* Some cells freed (their own ops free, old generations), one stream live. */
	for (int i = 0; i < 2; i++) {
		struct rx old = { .s = p[i][1] };
		urs_future f = urs_recv_stream(p[i][1], rx_cb, &old);
		assert_int_equal(urs_cancel(f), 0);
		run_until(loop, &old.ended, 1);
		tu_close(p[i][0]);
		tu_close(p[i][1]);
	}
	struct rx x = { .s = p[PAIRS - 1][1] };
	urs_future live = urs_recv_stream(p[PAIRS - 1][1], rx_cb, &x);
	assert_int_equal(urs_future_error(live), 0);
	uint32_t first = live.idx - live.idx % OP_CHUNK;
	const int32_t gens[] = { 1, 2, 3, live.gen, live.gen + 1, INT32_MAX, -1, 0 };
	uint32_t ranges[][2] = { { first, first + OP_CHUNK },
				 { 0, OP_CHUNK },
				 { loop->nchunks * OP_CHUNK - 2, loop->nchunks * OP_CHUNK + 3000 },
				 { UINT32_MAX - 3, UINT32_MAX } };
	int refused = 0;
	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++)
		for (uint32_t idx = ranges[r][0]; idx < ranges[r][1] || idx == UINT32_MAX; idx++) {
			/* Also the generation the bytes at that slot hold, read as an op. */
			int32_t raw = 1;
			if (idx / OP_CHUNK < loop->nchunks)
				memcpy(&raw, (char *)&loop->chunks[idx / OP_CHUNK][idx % OP_CHUNK] +
					     offsetof(struct urs_op, gen), sizeof(raw));
			for (size_t g = 0; g <= sizeof(gens) / sizeof(gens[0]); g++) {
				int32_t gen = g < sizeof(gens) / sizeof(gens[0]) ? gens[g] : raw;
				if (idx == live.idx && gen == live.gen)
					continue;
				urs_future f = { loop, idx, gen };
				urs_result res;
				assert_true(urs_cancel(f) < 0);
				assert_true(urs_detach(f) < 0);
				assert_true(urs_then(f, noop_cb, NULL) < 0);
				assert_true(urs_await(f, &res) < 0);
				assert_true(res.res < 0);
				assert_int_equal(res.buf.id, URS_BUF_NONE);
				refused++;
			}
			if (idx == UINT32_MAX)
				break;
		}
	assert_true(refused > OP_CHUNK * 2);
	/* The live one is intact and good. */
	tu_await_eq(urs_send(p[PAIRS - 1][0], "alive", 5, 0), 5, NULL);
	run_until(loop, &x.bytes, 5);
	assert_int_equal(urs_then(live, rx_cb, &x), -EALREADY);
	assert_int_equal(urs_cancel(live), 0);
	run_until(loop, &x.ended, 1);
	assert_int_equal(x.end_res, -ECANCELED);
	for (int i = 2; i < PAIRS; i++) {
		tu_close(p[i][0]);
		tu_close(p[i][1]);
	}
	tu_loop_done(loop);
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

struct tagged {
	struct rx x;
	char got[16];
	int len;
};

static void tag_cb(urs_result *r, void *user)
{
	struct tagged *t = user;
	if ((r->flags & URS_RES_MORE) && r->res > 0 && t->len + r->res <= (int)sizeof(t->got)) {
		memcpy(t->got + t->len, r->buf.data, (size_t)r->res);
		t->len += r->res;
	}
	rx_cb(r, &t->x);
}

/* Thousands of sockets, each made with its close reserved, so chunks of sockets and chunks
 * of the pool interleave in the loop's table; a stream on every other one; half freed in a
 * random order (their streams cancelled, or freed with the stream live), the cells reused
 * by new pairs with streams; every stream gets exactly its own bytes, every old future is
 * stale, the pool never lends an op inside a chunk of sockets. */
static void test_thousands_interleaved(void **state)
{
	(void)state;
	enum { N = 1200 };
	urs_loop *loop = tu_loop_new(NULL);
	static urs_sock *p[N][2];
	static struct tagged t[N];
	static urs_future f[N];
	memset(t, 0, sizeof(t));
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			if (round == 1 && p[i][0]) {
				t[i].len = 0; /* kept from round 0 */
				continue;
			}
			assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
			memset(&t[i], 0, sizeof(t[i]));
			t[i].x.s = p[i][1];
			urs_future old = f[i];
			f[i] = urs_recv_stream(p[i][1], tag_cb, &t[i]);
			assert_int_equal(urs_future_error(f[i]), 0);
			assert_ptr_equal(urs__op_at(loop, f[i].idx), urs__sock_own(p[i][1]));
			if (round == 1) {
				assert_int_equal(urs_cancel(old), -EINVAL);
				assert_int_equal(urs_detach(old), -EINVAL);
			}
			/* A pool op now: never in a chunk of sockets. */
			urs_future n = urs_nop(loop);
			assert_int_equal(urs_future_error(n), 0);
			assert_non_null(urs__op_at(loop, n.idx));
			assert_false(((struct urs_opchunk *)(void *)loop->chunks[n.idx / OP_CHUNK])->socks);
			assert_int_equal(urs_detach(n), 0);
		}
		static char out[N][16]; /* a send's bytes live until it completes */
		for (int i = 0; i < N; i++) {
			int len = snprintf(out[i], sizeof(out[i]), "r%d-%d", round, i);
			assert_int_equal(urs_detach(urs_send(p[i][0], out[i], (size_t)len, 0)), 0);
		}
		for (int i = 0; i < N; i++) {
			char msg[16];
			int len = snprintf(msg, sizeof(msg), "r%d-%d", round, i);
			run_until(loop, &t[i].len, len);
			assert_int_equal(t[i].len, len);
			assert_memory_equal(t[i].got, msg, (size_t)len);
		}
		/* Half go, in a random order: cancelled first, or freed with the stream live. */
		static int order[N];
		for (int i = 0; i < N; i++)
			order[i] = i;
		for (int i = N - 1; i > 0; i--) {
			int j = (int)rnd((uint32_t)i + 1), k = order[i];
			order[i] = order[j];
			order[j] = k;
		}
		for (int k = 0; k < N / 2; k++) {
			int i = order[k];
			if (rnd(2))
				assert_int_equal(urs_cancel(f[i]), 0);
			urs_sock_free(p[i][1]);
			urs_sock_free(p[i][0]);
			p[i][0] = p[i][1] = NULL;
		}
		/* (Streams live: never idle.) Until the freed ones are closed and buried. */
		urs_loop_stats st;
		for (int k = 0; k < 100000; k++) {
			urs_loop_stats_get(loop, &st);
			if (st.socks_alive == (uint32_t)(N - N / 2) * 2)
				break;
			assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
		}
		assert_int_equal(st.socks_alive, (N - N / 2) * 2);
		assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0); /* their ends delivered */
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(urs_cancel(f[i]) == 0, p[i][0] != NULL);
		if (p[i][0]) {
			tu_close(p[i][0]);
			tu_close(p[i][1]);
		}
	}
	tu_loop_done(loop);
}

/* max_ops so small that the pool holds only the sockets' reserved closes: streams still
 * start (own cells), a second stream and a receive are -EBUSY and change nothing, a
 * stream ended frees its cell for the next. */
static void test_tiny_max_ops(void **state)
{
	(void)state;
	urs_loop_opts o = { .max_ops = 4 };
	urs_loop *loop = tu_loop_new(&o);
	urs_sock *p[2], *q[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, q), 0);
	assert_int_equal(in_use(loop), 4);
	struct rx x[4];
	memset(x, 0, sizeof(x));
	urs_future f[4];
	urs_sock *s[4] = { p[0], p[1], q[0], q[1] };
	for (int i = 0; i < 4; i++) {
		x[i].s = s[i];
		f[i] = urs_recv_stream(s[i], rx_cb, &x[i]);
		assert_int_equal(urs_future_error(f[i]), 0);
	}
	struct rx y = { .s = p[1] };
	assert_int_equal(urs_future_error(urs_recv_stream(p[1], rx_cb, &y)), -EBUSY);
	assert_int_equal(urs_future_error(urs_recv(p[1], 10, 0)), -EBUSY);
	assert_int_equal(urs_future_error(urs_nop(loop)), -EBUSY);
	assert_int_equal(in_use(loop), 4);
	/* Data both ways, sent by the peer's own stream? No op left for a send: raw writes. */
	assert_int_equal(write(urs_fileno(p[0]), "abc", 3), 3);
	assert_int_equal(write(urs_fileno(q[1]), "defg", 4), 4);
	run_until(loop, &x[1].bytes, 3);
	run_until(loop, &x[2].bytes, 4);
	assert_int_equal(urs_cancel(f[1]), 0);
	run_until(loop, &x[1].ended, 1);
	f[1] = urs_recv_stream(p[1], rx_cb, &y);
	assert_int_equal(urs_future_error(f[1]), 0);
	assert_int_equal(write(urs_fileno(p[0]), "hi", 2), 2);
	run_until(loop, &y.bytes, 2);
	/* Closing needs no op of the pool beyond the reserved ones. */
	for (int i = 0; i < 4; i++)
		urs_detach(urs_close(s[i]));
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	assert_int_equal(y.ended, 1);
	for (int i = 0; i < 4; i++) {
		if (i != 1)
			assert_int_equal(x[i].ended, 1);
		urs_sock_free(s[i]);
	}
	tu_loop_done(loop);
}

struct cross {
	struct rx x;
	urs_sock *victim;       /* freed from this stream's first data event */
	urs_loop *loop;
	int loop_free_ret;
};

static void cross_cb(urs_result *r, void *user)
{
	struct cross *c = user;
	bool data = r->flags & URS_RES_MORE;
	rx_cb(r, &c->x);
	if (data && c->victim) {
		c->loop_free_ret = urs_loop_free(c->loop);
		urs_sock_free(c->victim);
		c->victim = NULL;
		urs_detach(urs_close(c->x.s));
		urs_sock_free(c->x.s);
	}
}

/* From one stream's callback: urs_loop_free (-EDEADLK), another socket freed while its
 * stream holds a decided event and a plain receive on it holds a result nobody claimed,
 * the stream's own socket closed and freed. No callback on the freed ones after that; all
 * cells come back and are reused; nothing leaks (SAN=1). */
static void test_free_other_from_callback(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *a[2], *b[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, a), 0);
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, b), 0);
	struct cross ca = { .x = { .s = a[1] }, .victim = b[1], .loop = loop };
	struct rx xb = { .s = b[1] };
	struct urs_op *cella = urs__sock_own(a[1]), *cellb = urs__sock_own(b[1]);
	urs_future fa = urs_recv_stream(a[1], cross_cb, &ca);
	urs_future fb = urs_recv_stream(b[1], rx_cb, &xb);
	urs_future rb = urs_recv(b[1], 16, 0); /* unclaimed */
	assert_int_equal(urs_future_error(rb), 0);
	/* Both get bytes in the same turn. */
	assert_int_equal(write(urs_fileno(b[0]), "bbbb", 4), 4);
	assert_int_equal(write(urs_fileno(a[0]), "aaaa", 4), 4);
	run_until(loop, &ca.x.events, 1);
	assert_int_equal(ca.loop_free_ret, -EDEADLK);
	int bevents = xb.events;
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	assert_int_equal(xb.events, bevents);
	assert_int_equal(xb.ended, 0);
	assert_int_equal(ca.x.ended, 0);
	/* The freed sockets' futures are stale or still hold a result to await. */
	assert_int_equal(urs_cancel(fa), -EINVAL);
	assert_int_equal(urs_cancel(fb), -EINVAL);
	urs_result r;
	int ret = urs_await(rb, &r);
	assert_true(ret == -EINVAL || ret == 4 || ret == -ECANCELED);
	if (ret >= 0)
		urs_buf_release(&r.buf);
	assert_int_equal(cella->state, OP_FREE);
	assert_int_equal(cellb->state, OP_FREE);
	tu_close(a[0]);
	tu_close(b[0]);
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	/* Both cells back in the slab: the next two pairs reuse them. */
	urs_sock *c[2], *d[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, c), 0);
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, d), 0);
	int found = 0;
	urs_sock *all[4] = { c[0], c[1], d[0], d[1] };
	for (int i = 0; i < 4; i++)
		found += urs__sock_own(all[i]) == cella || urs__sock_own(all[i]) == cellb;
	assert_int_equal(found, 2);
	for (int i = 0; i < 4; i++)
		tu_close(all[i]);
	tu_loop_done(loop);
}

/* Streams on a seqpacket pair: each message whole, in the socket's own cell; a second
 * stream from the pool; the socket freed from the end. */
static void test_seqpacket_stream(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_SEQPACKET, p), 0);
	uint32_t before = in_use(loop);
	struct dg d = { 0 };
	urs_future f = urs_recv_stream(p[1], dg_cb, &d);
	assert_int_equal(urs_future_error(f), 0);
	assert_ptr_equal(urs__op_at(loop, f.idx), urs__sock_own(p[1]));
	assert_int_equal(in_use(loop), before);
	tu_await_eq(urs_send(p[0], "one", 3, 0), 3, NULL);
	tu_await_eq(urs_send(p[0], "two!", 4, 0), 4, NULL);
	run_until(loop, &d.n, 2);
	assert_string_equal(d.last, "two!");
	tu_close(p[0]);
	run_until(loop, &d.ended, 1);
	assert_int_equal(d.end_res, 0);
	assert_int_equal(urs__sock_own(p[1])->state, OP_FREE);
	tu_close(p[1]);
	tu_loop_done(loop);
}

static void arrived(urs_result *r, void *user)
{
	urs_sock **out = user;
	*out = r->sock;
}

/* urs_sock_handoff of a socket whose stream lives: -EBUSY, nothing changes. With the
 * stream ended it goes; the old cell comes back to its own loop's slab (reused there), the
 * socket arrives in the other loop and its stream takes the new socket's own cell there. */
static void test_handoff_with_stream(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_loop *to;
	assert_int_equal(urs_loop_new(&to, NULL), 0);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	struct rx x = { .s = p[1] };
	urs_future f = urs_recv_stream(p[1], rx_cb, &x);
	struct urs_op *cell = urs__sock_own(p[1]);
	assert_int_equal(urs_sock_handoff(p[1], to, arrived, NULL), -EBUSY);
	tu_await_eq(urs_send(p[0], "pre", 3, 0), 3, NULL);
	run_until(loop, &x.bytes, 3);
	assert_int_equal(urs_cancel(f), 0);
	run_until(loop, &x.ended, 1);
	urs_sock *moved = NULL;
	assert_int_equal(urs_sock_handoff(p[1], to, arrived, &moved), 0);
	assert_int_equal(urs_cancel(f), -EINVAL);
	for (int i = 0; i < 1000 && !moved; i++) {
		assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
		assert_true(urs_loop_run(to, URS_RUN_NOWAIT) >= 0);
	}
	assert_non_null(moved); /* (p[1] is gone: the handoff took the object) */
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	struct rx y = { .s = moved };
	urs_future g = urs_recv_stream(moved, rx_cb, &y);
	assert_int_equal(urs_future_error(g), 0);
	assert_ptr_equal(urs__op_at(to, g.idx), urs__sock_own(moved));
	assert_ptr_equal(g.loop, to);
	/* The old future names the old loop: still stale there. */
	assert_int_equal(urs_await(f, NULL), -EINVAL);
	assert_int_equal(write(urs_fileno(p[0]), "post", 4), 4);
	run_until(to, &y.bytes, 4);
	/* The old cell is reused in the old loop. */
	urs_sock *q[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, q), 0);
	assert_true(urs__sock_own(q[0]) == cell || urs__sock_own(q[1]) == cell);
	tu_close(q[0]);
	tu_close(q[1]);
	tu_close(p[0]);
	assert_int_equal(urs_cancel(g), 0);
	run_until(to, &y.ended, 1);
	urs_sock_free(moved);
	assert_true(urs_loop_run(to, URS_RUN_UNTIL_IDLE) >= 0);
	assert_int_equal(urs_loop_free(to), 0);
	tu_loop_done(loop);
}

/* The loop freed while the user holds sockets whose streams ended, live, or were freed with
 * the end still on the ready list; the husks freed afterwards in a scrambled order (the
 * last one takes the slab with it: SAN=1 sees no leak and no read after unmap). */
static void test_husks_after_streams(void **state)
{
	(void)state;
	int fds = tu_fd_count();
	urs_loop *loop;
	int ret = urs_loop_new(&loop, NULL);
	if (ret == -ENOSYS || ret == -EPERM)
		skip();
	enum { N = 400 }; /* more than a chunk of sockets */
	static urs_sock *p[N][2];
	static struct rx x[N];
	memset(x, 0, sizeof(x));
	for (int i = 0; i < N; i++) {
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
		x[i].s = p[i][1];
		urs_future f = urs_recv_stream(p[i][1], rx_cb, &x[i]);
		if (i % 3 == 0)
			assert_int_equal(urs_cancel(f), 0);
	}
	assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
	for (int i = 1; i < N; i += 3) {
		urs_sock_free(p[i][1]); /* its end dropped at the teardown */
		p[i][1] = NULL;
	}
	assert_int_equal(urs_loop_free(loop), 0);
	for (int i = 0; i < N; i++) {
		if (i % 3 == 1)
			assert_int_equal(x[i].ended, 0);
		else
			assert_int_equal(x[i].ended, 1);
	}
	for (int k = 0; k < 2 * N; k++) {
		int i = (k * 7919) % N, j = k < N ? 0 : 1;
		if (p[i][j]) {
			assert_int_equal(urs_fileno(p[i][j]), -EBADF);
			assert_int_equal(urs_future_error(urs_recv_stream(p[i][j], rx_cb, &x[0])), -EBADF);
			urs_sock_free(p[i][j]);
			p[i][j] = NULL;
		}
	}
	assert_int_equal(tu_fd_count(), fds);
}

/* The cell kept for its op (release_owed: the socket reaped while its stream's end waits on
 * the ready list), then urs_loop_free at once: the teardown delivers the end (dropped: the
 * socket was freed), the op's free gives the cell back, the slab goes with the loop; the
 * held buffer is still readable and its release frees the loop (SAN=1: no leak, no read
 * after unmap). */
static void test_loop_free_with_cell_owed(void **state)
{
	(void)state;
	int fds = tu_fd_count();
	urs_loop_opts o = { .buf_count = 1, .buf_size = 4096,
			    .disable = URS_FEAT_BUF_INC | URS_FEAT_RECV_BUNDLE };
	urs_loop *loop;
	int ret = urs_loop_new(&loop, &o);
	if (ret == -ENOSYS || ret == -EPERM)
		skip();
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	struct rx x = { .s = p[1], .hold = true };
	urs_future f = urs_recv_stream(p[1], rx_cb, &x);
	struct urs_op *op = urs__sock_own(p[1]);
	assert_ptr_equal(urs__op_at(loop, f.idx), op);
	char data[4096];
	memset(data, 'y', sizeof(data));
	tu_await_eq(urs_sendall(p[0], data, sizeof(data), 0), 0, NULL);
	run_until(loop, &x.events, 1);
	tu_await_eq(urs_send(p[0], "more", 4, 0), 4, NULL);
	for (int i = 0; i < 1000 && op->queue != QUEUE_BUFWAIT; i++)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(op->queue, QUEUE_BUFWAIT);
	urs_sock_free(p[1]);
	urs__sock_reap_dead(loop);
	assert_true(p[1]->release_owed);
	assert_int_equal(urs_loop_free(loop), 0);
	assert_int_equal(x.ended, 0);
	assert_int_equal(x.held.data[0], 'y'); /* still readable */
	assert_int_equal(urs_fileno(p[0]), -EBADF); /* a husk */
	urs_sock_free(p[0]);
	assert_int_equal(urs_buf_release(&x.held), 0); /* the last: the loop goes */
	assert_int_equal(tu_fd_count(), fds);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_takes_no_pool_op),
		cmocka_unit_test(test_streams_beyond_the_pool),
		cmocka_unit_test(test_stale_future_after_cell_reuse),
		cmocka_unit_test(test_free_from_stream_callback),
		cmocka_unit_test(test_loop_free_with_streams),
		cmocka_unit_test(test_cell_kept_while_op_lives),
		cmocka_unit_test(test_peer_reset_mid_stream),
		cmocka_unit_test(test_datagram_streams_in_own_cell),
		cmocka_unit_test(test_op_at_names_only_own_cells),
		cmocka_unit_test(test_pool_grows_past_socket_chunks),
		cmocka_unit_test(test_forged_futures_everywhere),
		cmocka_unit_test(test_thousands_interleaved),
		cmocka_unit_test(test_tiny_max_ops),
		cmocka_unit_test(test_free_other_from_callback),
		cmocka_unit_test(test_seqpacket_stream),
		cmocka_unit_test(test_handoff_with_stream),
		cmocka_unit_test(test_husks_after_streams),
		cmocka_unit_test(test_loop_free_with_cell_owed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
