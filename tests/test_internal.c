/* SPDX-License-Identifier: MIT */
/* White-box checks of engine internals no public call can reach: the loop's CQ size, the
 * recovery when the kernel drops completions (-EBADR, forced through a test hook), and the
 * accept stream's decision on errors of a policy (-EPERM), a stale cancel, a socket
 * refusing zero-copy sends, a zero-copy notification lost. Tests link the static library, so they see
 * internal.h. */
#include "testutil.h"

#include "../engine/src/internal.h"

#include <string.h>
#include <unistd.h>

static void count_cb(urs_result *r, void *user)
{
	int *n = user;
	n[0]++;
	n[1] = r->res;
	urs_buf_release(&r->buf);
}

/* The header promises a CQ four times the SQ by default (defect 11). */
static void test_default_cq_size(void **state)
{
	(void)state;
	urs_loop_opts o = { .sq_entries = 64 };
	urs_loop *loop = tu_loop_new(&o);
	tu_require_ring(loop);
	assert_int_equal(loop->ring.sq.ring_entries, 64);
	assert_int_equal(loop->ring.cq.ring_entries, 256);
	tu_loop_done(loop);
}

/* The kernel drops a completion and says -EBADR (defect 11): the op whose CQE was lost
 * resolves -EBADR instead of pending for ever; a receive that was merely in flight is
 * resubmitted and still gets its data; buffers are all accounted for afterwards. */
static void test_dropped_cqe_recovery(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	tu_require_ring(loop);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	int rn[2] = { 0, 0 };
	assert_int_equal(urs_then(urs_recv(p[1], 16, 0), count_cb, rn), 0);
	urs_loop_run(loop, URS_RUN_NOWAIT); /* the receive is in the kernel */
	loop->fault_drop_cqes = 1;
	int nn[2] = { 0, 0 };
	assert_int_equal(urs_then(urs_nop(loop), count_cb, nn), 0);
	for (int i = 0; i < 100 && !nn[0]; i++)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(nn[0], 1);
	assert_int_equal(nn[1], -EBADR);
	assert_int_equal(rn[0], 0); /* cancelled by the recovery, not by the user: it goes on */
	tu_await_eq(urs_send(p[0], "after", 5, 0), 5, NULL);
	for (int i = 0; i < 100 && !rn[0]; i++)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(rn[0], 1);
	assert_int_equal(rn[1], 5);
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.cq_dropped, 1);
	/* Every buffer can still be used: receive buf_count times, holding none. */
	for (int i = 0; i < 1100; i++) {
		tu_await_eq(urs_send(p[0], "b", 1, 0), 1, NULL);
		tu_await_eq(urs_recv(p[1], 16, 0), 1, NULL);
	}
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* A completion that carried bytes into a partly filled incremental buffer is dropped:
 * the loop no longer knows where in that buffer the kernel is. The recovery registers the
 * rings afresh: the receive whose CQE was lost says -EBADR, a piece held from before stays
 * intact, and every later receive lands where the loop says (kernel-notes/
 * incremental-buffers.md). */
static void test_dropped_cqe_incremental_buffer(void **state)
{
	(void)state;
	urs_loop_opts o = { .buf_count = 4 };
	urs_loop *loop = tu_loop_new(&o);
	tu_require_ring(loop);
	if (!(urs_loop_features(loop) & URS_FEAT_BUF_INC)) {
		print_message("no incremental buffers here: skipping\n");
		urs_loop_free(loop);
		skip();
	}
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	int fd = urs_fileno(p[0]);
	urs_result held;
	assert_int_equal(write(fd, "aaa", 3), 3);
	tu_await_eq(urs_recv(p[1], 16, 0), 3, &held);
	int rn[2] = { 0, 0 };
	assert_int_equal(urs_then(urs_recv(p[1], 16, 0), count_cb, rn), 0);
	urs_loop_run(loop, URS_RUN_NOWAIT); /* the receive is in the kernel */
	loop->fault_drop_cqes = 1;
	assert_int_equal(write(fd, "lost", 4), 4); /* into the same buffer, after "aaa" */
	for (int i = 0; i < 100 && !rn[0]; i++)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(rn[0], 1);
	assert_int_equal(rn[1], -EBADR);
	assert_memory_equal(held.buf.data, "aaa", 3);
	for (int i = 0; i < 200; i++) {
		char msg[100];
		memset(msg, 'a' + i % 26, sizeof(msg));
		assert_int_equal(write(fd, msg, sizeof(msg)), (ssize_t)sizeof(msg));
		urs_result r;
		size_t got = 0;
		while (got < sizeof(msg)) {
			int n = urs_await(urs_recv(p[1], sizeof(msg) - got, 0), &r);
			assert_true(n > 0);
			assert_memory_equal(r.buf.data, msg + got, (size_t)n);
			got += (size_t)n;
			urs_buf_release(&r.buf);
		}
	}
	assert_memory_equal(held.buf.data, "aaa", 3);
	assert_int_equal(urs_buf_release(&held.buf), 0);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* -EPERM from accept (a policy refusing a connection) is reported and retried after a
 * backoff, never at once in a loop (defect 11). */
static void test_accept_eperm_backs_off(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	tu_require_ring(loop);
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	int n[2] = { 0, 0 };
	urs_future f = urs_accept_stream(l, count_cb, n);
	struct urs_op *op = urs__op_at(loop, f.idx);
	assert_non_null(op);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	/* As if the kernel had answered the request -EPERM. */
	op->flags &= (uint16_t)~OPF_MULTI;
	enum op_next next = urs__kind_accept_stream.complete(op, -EPERM, 0);
	assert_int_equal(next, NEXT_AGAIN);
	assert_int_equal(n[0], 1);       /* the server was told */
	assert_int_equal(n[1], -EPERM);
	assert_int_equal(urs__op_x(op)->msgflags, 1); /* and the next submission is the backoff timer */
	next = urs__kind_accept_stream.complete(op, -ECONNABORTED, 0);
	assert_int_equal(next, NEXT_AGAIN); /* one connection failed: next one at once */
	assert_int_equal(n[0], 1);
	urs__op_x(op)->msgflags = 0;
	urs_cancel(f);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	tu_close(l);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- zero-copy faults */

/* A loop whose pool is made and sends zero-copy from one byte up; false (loop freed) where
 * it has no SEND_ZC from a registered pool. */
static bool zc_loop(urs_loop **out, unsigned count)
{
	urs_loop_opts o = { .send_buf_count = count, .send_buf_size = 8192, .zc_threshold = 1 };
	urs_loop *loop = tu_loop_new(&o);
	tu_require_ring(loop);
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0); /* makes the pool */
	assert_int_equal(urs_buf_release(&b), 0);
	if (!(urs_loop_features(loop) & URS_FEAT_SEND_ZC) || !loop->sp.registered) {
		print_message("no zero-copy from registered buffers here: skipping\n");
		urs_loop_free(loop);
		return false;
	}
	*out = loop;
	return true;
}

/* How many buffers the pool can lend now (borrows them all, gives them back). */
static unsigned pool_free(urs_loop *loop)
{
	urs_buf b[64];
	unsigned n = 0;
	while (n < 64 && urs_sendbuf_get(loop, &b[n]) == 0)
		n++;
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(urs_buf_release(&b[i]), 0);
	return n;
}

/* Runs the loop until no notification is owed (bounded: a nop each turn keeps it moving,
 * so one never counted off fails here instead of hanging). */
static void notifs_drain(urs_loop *loop)
{
	for (int i = 0; loop->sp.notifs_owed && i < 1000; i++)
		tu_await_eq(urs_nop(loop), 0, NULL);
	assert_int_equal(loop->sp.notifs_owed, 0);
}

/* Sends len bytes of pattern seed from a pool buffer on s; f: its future. */
static urs_future send_pattern(urs_loop *loop, urs_sock *s, size_t len, uint32_t seed,
			       char *want)
{
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	tu_fill(b.data, len, seed);
	memcpy(want, b.data, len);
	return urs_sendall_buf(s, &b, len, 0);
}

static void read_exact(int fd, char *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, out + got, n - got);
		assert_true(k > 0);
		got += (size_t)k;
	}
}

/* SEND_ZC answers -EOPNOTSUPP (a Unix stream has no zero-copy; the test hook lets the loop
 * try it there, so the refusal is the kernel's own): the step goes again as a plain send,
 * the bytes of it and of the send queued behind it arrive whole and in order, the buffers
 * come back, and the socket's later sends skip zero-copy. */
static void test_zc_refused_falls_back(void **state)
{
	(void)state;
	urs_loop *loop;
	if (!zc_loop(&loop, 4))
		skip();
	loop->fault_zc_any = true;
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	/* A refusal not remembered would be asked again for ever: fail, not hang. */
	assert_int_equal(urs_settimeout(p[0], 10.0), 0);
	uint64_t zc0 = loop->sp.zc_sends, ref0 = loop->sp.zc_refusals;
	static char want[3][8192], got[8192];
	urs_future a = send_pattern(loop, p[0], 3000, 1, want[0]);
	urs_future b = send_pattern(loop, p[0], 2000, 2, want[1]);
	tu_await_eq(a, 0, NULL);
	tu_await_eq(b, 0, NULL);
	assert_int_equal(loop->sp.zc_sends, zc0 + 1);    /* the first tried it... */
	assert_int_equal(loop->sp.zc_refusals, ref0 + 1); /* ...was refused; the second did not */
	int fd = urs_fileno(p[1]);
	read_exact(fd, got, 3000);
	assert_memory_equal(got, want[0], 3000);
	read_exact(fd, got, 2000);
	assert_memory_equal(got, want[1], 2000);
	tu_await_eq(send_pattern(loop, p[0], 8192, 3, want[2]), 0, NULL);
	assert_int_equal(loop->sp.zc_sends, zc0 + 1);
	read_exact(fd, got, 8192);
	assert_memory_equal(got, want[2], 8192);
	notifs_drain(loop);
	assert_int_equal(pool_free(loop), 4);
	/* Another socket is asked afresh. */
	urs_sock *q[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, q), 0);
	tu_await_eq(send_pattern(loop, q[0], 10, 4, want[0]), 0, NULL);
	assert_int_equal(loop->sp.zc_sends, zc0 + 2);
	assert_int_equal(loop->sp.zc_refusals, ref0 + 2);
	read_exact(urs_fileno(q[1]), got, 10);
	assert_memory_equal(got, want[0], 10);
	notifs_drain(loop);
	assert_int_equal(pool_free(loop), 4);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_close(q[0]);
	tu_close(q[1]);
	tu_loop_done(loop);
}

/* The same for a datagram: a Unix datagram socket refuses SEND_ZC with an address; the
 * datagram goes again as a plain send to that address and arrives whole, from its sender. */
static void test_zc_refused_datagram(void **state)
{
	(void)state;
	urs_loop *loop;
	if (!zc_loop(&loop, 2))
		skip();
	loop->fault_zc_any = true;
	urs_sock *tx, *rx;
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &tx), 0);
	assert_int_equal(urs_settimeout(tx, 10.0), 0); /* as above */
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &rx), 0);
	urs_addr auto_name = { .u.un.sun_family = AF_UNIX, .len = sizeof(sa_family_t) };
	assert_int_equal(urs_bind(rx, &auto_name), 0); /* an abstract name of the kernel's */
	assert_int_equal(urs_bind(tx, &auto_name), 0);
	urs_addr to, from;
	assert_int_equal(urs_getsockname(rx, &to), 0);
	assert_int_equal(urs_getsockname(tx, &from), 0);
	uint64_t zc0 = loop->sp.zc_sends, ref0 = loop->sp.zc_refusals;
	for (uint32_t i = 0; i < 2; i++) {
		urs_buf b;
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		tu_fill(b.data, 5000, i);
		char want[5000];
		memcpy(want, b.data, sizeof(want));
		tu_await_eq(urs_sendto_buf(tx, &b, 5000, 0, &to), 5000, NULL);
		urs_result r;
		tu_await_eq(urs_recvfrom(rx, 8192, 0), 5000, &r);
		assert_memory_equal(r.buf.data, want, 5000);
		assert_int_equal(r.addr.len, from.len);
		assert_memory_equal(&r.addr.u, &from.u, from.len);
		urs_buf_release(&r.buf);
		/* Only the first tried zero-copy. */
		assert_int_equal(loop->sp.zc_sends, zc0 + 1);
		assert_int_equal(loop->sp.zc_refusals, ref0 + 1);
	}
	notifs_drain(loop);
	assert_int_equal(pool_free(loop), 2);
	tu_close(tx);
	tu_close(rx);
	tu_loop_done(loop);
}

/* A zero-copy send's notification is lost: the kernel drops the CQE and says -EBADR (the
 * notification is held back by one hook, then thrown away as fault_drop_cqes throws one).
 * The recovery gives the buffer back exactly once (the pool lends exactly its count), the
 * lingering op goes to the pool, nothing stays owed, and the pool keeps working. */
static void test_zc_notif_lost(void **state)
{
	(void)state;
	urs_loop *loop;
	if (!zc_loop(&loop, 2))
		skip();
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	uint32_t ops0 = st.ops_in_use;
	uint64_t dropped0 = st.cq_dropped;
	static char want[8192], got[8192];
	uint64_t zc0 = loop->sp.zc_sends;
	loop->fault_hold_notifs = true;
	tu_await_eq(send_pattern(loop, c, 4000, 7, want), 0, NULL);
	assert_int_equal(loop->sp.zc_sends, zc0 + 1);
	urs_result r;
	size_t n = 0;
	while (n < 4000) {
		int k = urs_await(urs_recv(s, 4000 - n, 0), &r);
		assert_true(k > 0);
		memcpy(got + n, r.buf.data, (size_t)k);
		n += (size_t)k;
		urs_buf_release(&r.buf);
	}
	assert_memory_equal(got, want, 4000);
	for (int i = 0; !loop->nheld && i < 1000; i++)
		tu_await_eq(urs_nop(loop), 0, NULL);
	assert_int_equal(loop->nheld, 1);
	assert_int_equal(loop->sp.notifs_owed, 1);
	assert_int_equal(pool_free(loop), 1);
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.ops_in_use, ops0 + 1); /* the send lingers for its notification */
	/* Lost: the kernel will say -EBADR. */
	loop->nheld = 0;
	loop->fault_hold_notifs = false;
	loop->fault_badr = true;
	notifs_drain(loop);
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.cq_dropped, dropped0 + 1);
	assert_int_equal(st.ops_in_use, ops0);
	assert_int_equal(pool_free(loop), 2);
	/* The pool and the zero-copy path go on: both buffers out at once, both back. */
	static char want2[8192];
	urs_future f1 = send_pattern(loop, c, 8192, 8, want);
	urs_future f2 = send_pattern(loop, c, 100, 9, want2);
	tu_await_eq(f1, 0, NULL);
	tu_await_eq(f2, 0, NULL);
	assert_int_equal(loop->sp.zc_sends, zc0 + 3);
	int fd = urs_fileno(s);
	read_exact(fd, got, 8192);
	assert_memory_equal(got, want, 8192);
	read_exact(fd, got, 100);
	assert_memory_equal(got, want2, 100);
	notifs_drain(loop);
	assert_int_equal(pool_free(loop), 2);
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.ops_in_use, ops0);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

/* The child of test_stale_cancel_never_waits: 0 when the turn answered -ENOBUFS at once. */
static int stale_cancel_child(void)
{
	urs_loop_opts o = { .buf_count = 2, .disable = URS_FEAT_BUF_INC };
	urs_loop *loop;
	if (urs_loop_new(&loop, &o) < 0)
		return 2;
	urs_sock *p[2];
	if (urs_socketpair(loop, SOCK_STREAM, p) < 0)
		return 3;
	/* The user holds both provided buffers; a receive then waits for one with no
	 * deadline and nothing in the kernel: the stall the loop reports (-ENOBUFS). */
	urs_result held[2];
	for (int i = 0; i < 2; i++) {
		if (urs_await(urs_send(p[0], "x", 1, 0), NULL) != 1 ||
		    urs_await(urs_recv(p[1], 16, 0), &held[i]) != 1)
			return 4;
	}
	/* A receive into the caller's memory, in the kernel, whose cancel waits in
	 * loop->cancels (as when a recovery is under way: ring_cancel keeps it for later). */
	char room[8];
	urs_future a = urs_recv_into(p[0], room, sizeof(room), 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	struct urs_op *op = urs__op_at(loop, a.idx);
	if (!op || op->state != OP_KERNEL)
		return 5;
	int32_t gen = op->gen;
	loop->recovering = true;
	if (urs_cancel(a) < 0)
		return 6;
	loop->recovering = false;
	if (loop->ncancels != 1)
		return 7;
	/* The cancel goes; the receive ends -ECANCELED and its cell goes back to the pool. */
	if (urs_await(a, NULL) != -ECANCELED || op->gen == gen)
		return 8;
	/* What a cancel answered -ENOENT leaves behind when its op's own CQE comes later in
	 * the same reap: an entry for an op that has ended, until the next flush. */
	urs_future f = urs_recv(p[1], 16, 0);
	/* The kernel answers -ENOBUFS (no buffer to select): the receive waits for one. */
	if (urs_await(f, NULL) != -ENOBUFS)
		return 9;
	loop->cancels[0] = op;
	loop->cancel_gens[0] = gen;
	loop->ncancels = 1;
	/* Nothing can come: the turn must say so, not wait for the stale cancel. */
	if (urs_loop_run(loop, URS_RUN_ONCE) != -ENOBUFS)
		return 10;
	urs_buf_release(&held[0].buf);
	urs_buf_release(&held[1].buf);
	urs_loop_free(loop);
	return 0;
}

/* A cancel waiting in loop->cancels for an op that has already ended is no reason to
 * block: counted as something to come, it would make the turn wait for ever (run in a
 * child, stopped by PID if it hangs). */
static void test_stale_cancel_never_waits(void **state)
{
	(void)state;
	urs_loop *probe = tu_loop_new(NULL);
	tu_require_ring(probe);
	tu_loop_done(probe);
	tu_child_ok(stale_cancel_child, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_cq_size),
		cmocka_unit_test(test_dropped_cqe_recovery),
		cmocka_unit_test(test_dropped_cqe_incremental_buffer),
		cmocka_unit_test(test_accept_eperm_backs_off),
		cmocka_unit_test(test_zc_refused_falls_back),
		cmocka_unit_test(test_zc_refused_datagram),
		cmocka_unit_test(test_zc_notif_lost),
		cmocka_unit_test(test_stale_cancel_never_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
