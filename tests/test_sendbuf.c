/* SPDX-License-Identifier: MIT */
/* The send pool (issue 16, item 2): urs_sendbuf_get, urs_send_buf/sendall_buf/sendto_buf.
 * A buffer handed to a send comes back to the pool in every outcome (success, a peer reset
 * mid-send, a timeout, a cancel at any moment, a close with sends queued, urs_loop_free with
 * sends in flight, the socket freed in a callback), only once the kernel is done with it (a
 * zero-copy send's notification), and misuse of the handle gets an error, never a crash.
 * Both backends run every case; the zero-copy ones skip where the loop has no SEND_ZC. */
#define _GNU_SOURCE
#include "testutil.h"
#include "../engine/src/internal.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static urs_loop *pool_loop(unsigned count, unsigned size, unsigned zc)
{
	urs_loop_opts o = { .send_buf_count = count, .send_buf_size = size, .zc_threshold = zc };
	return tu_loop_new(&o);
}

/* How many buffers the pool can lend now (borrows them all, gives them back). */
static int pool_free_count(urs_loop *loop)
{
	urs_buf b[256];
	int n = 0;
	while (n < 256 && urs_sendbuf_get(loop, &b[n]) == 0)
		n++;
	for (int i = 0; i < n; i++)
		assert_int_equal(urs_buf_release(&b[i]), 0);
	return n;
}

/* A TCP pair where the test holds the peer as a raw fd. Small socket buffers both ways: a
 * send of 1 MiB cannot complete while the peer does not read. */
static int raw_tcp_pair(urs_loop *loop, urs_sock **server)
{
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	int small = 32 << 10;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	urs_future acc = urs_accept(l);
	assert_int_equal(connect(fd, &a.u.sa, a.len), 0);
	urs_result r;
	tu_await_eq(acc, 0, &r);
	*server = r.sock;
	assert_int_equal(urs_setsockopt(*server, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	tu_close(l);
	return fd;
}

/* The peer resets: the kernel frees what it held of our zero-copy sends, their
 * notifications come, and a run until idle waits for them. */
static void settle(urs_loop *loop)
{
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	/* Bounded: a notification that is never counted off must fail, not spin. */
	for (int i = 0; loop->sp.notifs_owed && i < 100000; i++)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(loop->sp.notifs_owed, 0);
}

static void reset_peer(urs_loop *loop, int fd)
{
	struct linger lg = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	settle(loop);
}

/* Reads exactly n bytes from fd (blocking) into out. */
static void read_exact(int fd, char *out, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, out + got, n - got);
		assert_true(k > 0);
		got += (size_t)k;
	}
}

struct tally {
	int calls, ok, err;
	int last;
	urs_sock *free_me; /* freed by the first callback */
};

static void tally_cb(urs_result *r, void *user)
{
	struct tally *t = user;
	t->calls++;
	t->last = r->res;
	if (r->res >= 0)
		t->ok++;
	else
		t->err++;
	if (t->free_me) {
		urs_sock_free(t->free_me);
		t->free_me = NULL;
	}
}

static bool have_zc(urs_loop *loop)
{
	return (urs_loop_features(loop) & URS_FEAT_SEND_ZC) && loop->sp.registered;
}

/* ---------------------------------------------------------------- basics */

/* A buffer sent comes back; the caller's handle is emptied; a stale copy is refused. */
static void test_send_returns_buffer(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(4, 4096, 0);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	assert_int_equal(b.len, 4096);
	assert_true(b.id != URS_BUF_NONE);
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.bufs_lent, 1);
	tu_fill(b.data, 3000, 7);
	char want[3000];
	memcpy(want, b.data, sizeof(want));
	urs_buf copy = b;
	urs_future f = urs_send_buf(s, &b, 3000, 0);
	assert_int_equal(urs_future_error(f), 0);
	assert_int_equal(b.id, URS_BUF_NONE);
	assert_null(b.data);
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.bufs_lent, 0);
	tu_await_eq(f, 3000, NULL);
	char got[3000];
	read_exact(fd, got, sizeof(got));
	assert_memory_equal(got, want, sizeof(got));
	/* The copy is stale: sending or releasing it changes nothing. */
	assert_int_equal(urs_future_error(urs_send_buf(s, &copy, 10, 0)), -EALREADY);
	assert_int_equal(urs_buf_release(&copy), -EALREADY);
	assert_int_equal(pool_free_count(loop), 4);
	/* sendall from a buffer. */
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	memset(b.data, 'z', 4096);
	tu_await_eq(urs_sendall_buf(s, &b, 4096, 0), 0, NULL);
	read_exact(fd, got, 3000);
	read_exact(fd, got, 1096);
	assert_int_equal(got[1095], 'z');
	assert_int_equal(pool_free_count(loop), 4);
	close(fd);
	tu_close(s);
	tu_loop_done(loop);
}

/* An empty pool answers -ENOBUFS at once; a buffer coming back (a release, a send's end)
 * makes the next get succeed. */
static void test_pool_exhaustion(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(3, 1 << 20, 0);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	urs_buf b[4];
	for (int i = 0; i < 3; i++)
		assert_int_equal(urs_sendbuf_get(loop, &b[i]), 0);
	assert_int_equal(urs_sendbuf_get(loop, &b[3]), -ENOBUFS);
	assert_int_equal(b[3].id, URS_BUF_NONE);
	assert_int_equal(urs_buf_release(&b[2]), 0);
	assert_int_equal(urs_sendbuf_get(loop, &b[2]), 0);
	/* Three sendalls of 1 MiB the peer does not read: the pool stays empty while they
	 * are in flight. */
	struct tally t = { 0 };
	for (int i = 0; i < 3; i++) {
		memset(b[i].data, 'a' + i, 1 << 20);
		assert_int_equal(urs_then(urs_sendall_buf(s, &b[i], 1 << 20, 0), tally_cb, &t), 0);
	}
	for (int i = 0; i < 10; i++)
		assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
	assert_int_equal(urs_sendbuf_get(loop, &b[3]), -ENOBUFS);
	/* The peer reads: they complete, the buffers come back. */
	char *got = malloc(3 << 20);
	size_t n = 0;
	while (t.calls < 3 || n < (3u << 20)) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 0) > 0) {
			ssize_t k = read(fd, got + n, (3u << 20) - n);
			assert_true(k > 0);
			n += (size_t)k;
		}
		assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
	}
	assert_int_equal(t.ok, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(got[((size_t)i << 20) + 12345], 'a' + i);
	free(got);
	settle(loop);
	assert_int_equal(pool_free_count(loop), 3);
	close(fd);
	tu_close(s);
	tu_loop_done(loop);
}

struct other {
	urs_buf b;
	int get, rel;
};

static void *other_thread(void *arg)
{
	struct other *o = arg;
	o->get = urs_sendbuf_get(o->b.loop, &o->b);
	o->rel = urs_buf_release(&o->b);
	return NULL;
}

/* Bad handles: errors that change nothing; a bad length or a closed socket: the buffer is
 * taken and back in the pool. */
static void test_misuse(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(4, 4096, 0);
	urs_loop_opts oo = { .send_buf_count = 4, .send_buf_size = 4096 };
	urs_loop *other;
	assert_int_equal(urs_loop_new(&other, &oo), 0);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	urs_sock *oc, *os;
	tu_tcp_pair(other, "127.0.0.1:0", &oc, &os);
	assert_int_equal(urs_sendbuf_get(NULL, NULL), -EINVAL);
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, NULL), -EINVAL);
	assert_int_equal(urs_future_error(urs_send_buf(c, NULL, 1, 0)), -EINVAL);
	memset(&b, 0, sizeof(b));
	b.id = URS_BUF_NONE;
	assert_int_equal(urs_future_error(urs_send_buf(c, &b, 1, 0)), -EINVAL);
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	urs_buf forged = b;
	forged.id = URS_SENDBUF_TAG | 999;
	assert_int_equal(urs_future_error(urs_send_buf(c, &forged, 1, 0)), -EINVAL);
	assert_int_equal(urs_buf_release(&forged), -EINVAL);
	forged = b;
	forged.gen += 5;
	assert_int_equal(urs_future_error(urs_send_buf(c, &forged, 1, 0)), -EINVAL);
	forged = b;
	forged.loop = NULL;
	assert_int_equal(urs_future_error(urs_send_buf(c, &forged, 1, 0)), -EINVAL);
	/* No socket: nothing changes. */
	assert_int_equal(urs_future_error(urs_send_buf(NULL, &b, 1, 0)), -EINVAL);
	assert_true(b.id != URS_BUF_NONE);
	/* Another loop's socket: still ours, usable after. */
	assert_int_equal(urs_future_error(urs_send_buf(oc, &b, 1, 0)), -EXDEV);
	assert_true(b.id != URS_BUF_NONE);
	/* Another thread: refused there, nothing changes. */
	struct other o = { .b = b };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, other_thread, &o), 0);
	pthread_join(th, NULL);
	assert_int_equal(o.get, -EXDEV);
	assert_int_equal(o.rel, -EXDEV);
	/* Send after release; double release. */
	urs_buf copy = b;
	assert_int_equal(urs_buf_release(&b), 0);
	assert_int_equal(urs_buf_release(&copy), -EALREADY);
	assert_int_equal(urs_future_error(urs_send_buf(c, &copy, 1, 0)), -EALREADY);
	/* A stale copy of a buffer lent again (the pool hands the same one out first): refused,
	 * and the new holder's handle still works. */
	urs_buf relent;
	assert_int_equal(urs_sendbuf_get(loop, &relent), 0);
	assert_int_equal(relent.id, copy.id);
	assert_int_equal(urs_future_error(urs_send_buf(c, &copy, 1, 0)), -EALREADY);
	assert_int_equal(urs_buf_release(&copy), -EALREADY);
	assert_int_equal(urs_buf_release(&relent), 0);
	/* Double send. */
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	copy = b;
	urs_future f = urs_send_buf(c, &b, 5, 0);
	assert_int_equal(urs_future_error(urs_send_buf(c, &copy, 5, 0)), -EALREADY);
	assert_int_equal(urs_future_error(urs_send_buf(c, &b, 5, 0)), -EINVAL); /* emptied */
	tu_await_eq(f, 5, NULL);
	/* Too long: -EMSGSIZE, and the buffer is back in the pool. */
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	assert_int_equal(urs_future_error(urs_send_buf(c, &b, 4097, 0)), -EMSGSIZE);
	assert_int_equal(b.id, URS_BUF_NONE);
	assert_int_equal(pool_free_count(loop), 4);
	/* Nothing to send on a stream: -EINVAL, taken. */
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	assert_int_equal(urs_future_error(urs_send_buf(c, &b, 0, 0)), -EINVAL);
	assert_int_equal(b.id, URS_BUF_NONE);
	/* A closed socket: -EBADF, taken. */
	tu_close(oc);
	urs_sock *dead = c;
	tu_await_eq(urs_close(dead), 0, NULL);
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	assert_int_equal(urs_future_error(urs_send_buf(dead, &b, 1, 0)), -EBADF);
	assert_int_equal(b.id, URS_BUF_NONE);
	assert_int_equal(pool_free_count(loop), 4);
	/* A receive buffer's stale copy is refused the same way. */
	urs_sock_free(dead);
	tu_close(s);
	tu_close(os);
	assert_int_equal(urs_loop_free(other), 0);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- every outcome */

/* The peer resets while sendalls from the pool are in flight and queued: every one resolves
 * with an error, every buffer is back. */
static void test_peer_reset_mid_send(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(8, 1 << 20, 0);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	struct tally t = { 0 };
	for (int i = 0; i < 8; i++) {
		urs_buf b;
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		memset(b.data, 'x', b.len);
		assert_int_equal(urs_then(urs_sendall_buf(s, &b, b.len, 0), tally_cb, &t), 0);
	}
	for (int i = 0; i < 10; i++)
		assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
	char tmp[4096];
	assert_true(read(fd, tmp, sizeof(tmp)) > 0); /* some went */
	reset_peer(loop, fd);
	assert_int_equal(t.calls, 8);
	assert_true(t.err >= 1); /* the socket holds a few MiB: the first may have gone whole */
	assert_int_equal(pool_free_count(loop), 8);
	tu_close(s);
	tu_loop_done(loop);
}

/* Sends that time out (in the kernel and queued behind) give their buffers back. */
static void test_timeout_returns_buffers(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(4, 1 << 20, 0);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	assert_int_equal(urs_settimeout(s, 0.05), 0);
	struct tally t = { 0 };
	for (int i = 0; i < 4; i++) {
		urs_buf b;
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		assert_int_equal(urs_then(urs_sendall_buf(s, &b, b.len, 0), tally_cb, &t), 0);
	}
	/* The peer never reads: they resolve at their timeout (a zero-copy one does not wait
	 * for its notification to resolve). */
	while (t.calls < 4)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_true(t.err >= 1);
	/* The peer goes: every notification owed comes, every buffer is back. */
	reset_peer(loop, fd);
	assert_int_equal(pool_free_count(loop), 4);
	tu_close(s);
	tu_loop_done(loop);
}

/* A cancel at every moment: before the first turn, after some turns, queued, and after the
 * send completed (its result stands). */
static void test_cancel_every_moment(void **state)
{
	(void)state;
	for (int when = 0; when < 4; when++) {
		urs_loop *loop = pool_loop(4, 1 << 20, 0);
		urs_sock *s;
		int fd = raw_tcp_pair(loop, &s);
		urs_future f[4];
		for (int i = 0; i < 4; i++) {
			urs_buf b;
			assert_int_equal(urs_sendbuf_get(loop, &b), 0);
			memset(b.data, 'c', b.len);
			f[i] = urs_sendall_buf(s, &b, i == 0 && when == 3 ? 100 : b.len, 0);
			assert_int_equal(urs_future_error(f[i]), 0);
		}
		if (when == 1)
			for (int i = 0; i < 5; i++)
				urs_loop_run(loop, URS_RUN_NOWAIT);
		if (when == 3) {
			char tmp[100];
			struct pollfd pf = { fd, POLLIN, 0 };
			while (poll(&pf, 1, 0) == 0)
				assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
			read_exact(fd, tmp, 100);
			while (urs_loop_run(loop, URS_RUN_NOWAIT) >= 0 && pool_free_count(loop) == 0)
				;
		}
		/* when 2: cancel the queued ones only; else the head too. */
		for (int i = when == 2 ? 1 : 0; i < 4; i++)
			urs_cancel(f[i]);
		if (when == 2)
			urs_cancel(f[0]);
		for (int i = 0; i < 4; i++) {
			urs_result r;
			int res = urs_await(f[i], &r);
			if (when == 3 && i == 0)
				assert_int_equal(res, 0);
			else if (i > 0)
				assert_true(res == -ECANCELED || res == -EPIPE);
			else
				assert_int_equal(res, -ECANCELED);
		}
		reset_peer(loop, fd);
		assert_int_equal(pool_free_count(loop), 4);
		tu_close(s);
		tu_loop_done(loop);
	}
}

/* Close with sends queued: they go before the FIN, then the buffers are back; a cancelled
 * (abortive) close fails them and still gives every buffer back. */
static void test_close_with_queued_sends(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(4, 256 << 10, 0);
	for (int abortive = 0; abortive < 2; abortive++) {
		urs_sock *s;
		int fd = raw_tcp_pair(loop, &s);
		struct tally t = { 0 };
		for (int i = 0; i < 4; i++) {
			urs_buf b;
			assert_int_equal(urs_sendbuf_get(loop, &b), 0);
			tu_fill(b.data, b.len, (uint32_t)i);
			assert_int_equal(urs_then(urs_sendall_buf(s, &b, b.len, 0), tally_cb, &t), 0);
		}
		urs_future cl = urs_close(s);
		if (abortive) {
			urs_loop_run(loop, URS_RUN_NOWAIT);
			assert_int_equal(urs_cancel(cl), 0);
			tu_await_eq(cl, 0, NULL);
			assert_int_equal(t.calls, 4);
		} else {
			char *got = malloc(1 << 20);
			size_t n = 0;
			for (;;) {
				struct pollfd p = { fd, POLLIN, 0 };
				if (poll(&p, 1, 0) > 0) {
					ssize_t k = read(fd, got + n, (1u << 20) - n + 1);
					if (k == 0)
						break;
					assert_true(k > 0);
					n += (size_t)k;
				}
				urs_loop_run(loop, URS_RUN_NOWAIT);
			}
			assert_int_equal(n, 1u << 20);
			char want[256];
			for (int i = 0; i < 4; i++) {
				tu_fill(want, sizeof(want), (uint32_t)i);
				assert_memory_equal(got + ((size_t)i << 18), want, sizeof(want));
			}
			free(got);
			tu_await_eq(cl, 0, NULL);
			assert_int_equal(t.ok, 4);
		}
		reset_peer(loop, fd);
		assert_int_equal(pool_free_count(loop), 4);
		urs_sock_free(s);
	}
	tu_loop_done(loop);
}

/* urs_loop_free with sends in flight and queued, and a buffer the user still holds: every
 * send resolves -ECANCELED, the held one stays valid until released (ASan: nothing leaks,
 * nothing is touched after it is freed). */
static void test_loop_free_with_sends(void **state)
{
	(void)state;
	int fds0 = tu_fd_count();
	urs_loop_opts o = { .send_buf_count = 4, .send_buf_size = 1 << 20 };
	urs_loop *loop;
	assert_int_equal(urs_loop_new(&loop, &o), 0);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	struct tally t = { 0 };
	for (int i = 0; i < 3; i++) {
		urs_buf b;
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		assert_int_equal(urs_then(urs_sendall_buf(s, &b, b.len, 0), tally_cb, &t), 0);
	}
	urs_buf held;
	assert_int_equal(urs_sendbuf_get(loop, &held), 0);
	memset(held.data, 'h', held.len);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_loop_free(loop), 0);
	assert_int_equal(t.calls, 3);
	assert_int_equal(t.ok, 0);
	assert_int_equal(held.data[held.len - 1], 'h'); /* still readable */
	assert_int_equal(urs_future_error(urs_send_buf(s, &held, 1, 0)), -EBADF);
	urs_buf copy = held;
	assert_int_equal(urs_buf_release(&held), 0); /* the last one: the loop goes */
	(void)copy;
	urs_sock_free(s);
	close(fd);
	assert_int_equal(tu_fd_count(), fds0);
}

/* The socket freed in the first send's callback: the sends behind resolve, every buffer is
 * back. */
static void test_free_sock_in_callback(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(4, 64 << 10, 0);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	assert_int_equal(urs_settimeout(s, 0.05), 0);
	struct tally t = { .free_me = s };
	for (int i = 0; i < 4; i++) {
		urs_buf b;
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		assert_int_equal(urs_then(urs_sendall_buf(s, &b, b.len, 0), tally_cb, &t), 0);
	}
	while (t.calls < 1)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_null(t.free_me);
	/* No callback runs after the free: the others resolve silently. */
	reset_peer(loop, fd);
	assert_int_equal(t.calls, 1);
	assert_int_equal(pool_free_count(loop), 4);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- zero-copy */

/* Forced zero-copy (threshold 1) on TCP: the send resolves at its result, but its buffer
 * comes back only with the kernel's notification. TCP_CORK holds the bytes in the send
 * queue: the result CQE comes at once, the notification only once they went and were
 * acknowledged, after the uncork. */
static void test_zc_notification_order(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(1, 4096, 1);
	urs_sock *s;
	int fd = raw_tcp_pair(loop, &s);
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	if (!have_zc(loop)) {
		assert_int_equal(urs_buf_release(&b), 0);
		close(fd);
		tu_close(s);
		tu_loop_done(loop);
		skip();
	}
	int one = 1, zero = 0;
	assert_int_equal(urs_setsockopt(s, IPPROTO_TCP, TCP_CORK, &one, sizeof(one)), 0);
	memset(b.data, 'q', 100);
	uint64_t sends0 = loop->sp.zc_sends;
	tu_await_eq(urs_send_buf(s, &b, 100, 0), 100, NULL);
	assert_int_equal(loop->sp.zc_sends, sends0 + 1);
	/* Resolved; the notification not come: the only buffer is not free. */
	urs_buf again;
	for (int i = 0; i < 5; i++) {
		assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
		assert_int_equal(urs_sendbuf_get(loop, &again), -ENOBUFS);
	}
	assert_int_equal(loop->sp.notifs_owed, 1);
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.ops_in_use, 2); /* the send lingers, beside the socket's close op */
	/* The bytes go; their acknowledgement frees the pages; the notification returns it. */
	assert_int_equal(urs_setsockopt(s, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero)), 0);
	char got[100];
	read_exact(fd, got, 100);
	assert_int_equal(got[99], 'q');
	for (int i = 0; urs_sendbuf_get(loop, &again) == -ENOBUFS; i++) {
		assert_true(i < 100000);
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	}
	assert_int_equal(loop->sp.notifs_owed, 0);
	assert_int_equal(urs_buf_release(&again), 0);
	close(fd);
	tu_close(s);
	tu_loop_done(loop);
}

/* Zero-copy on a Unix socket is refused by the kernel (-EOPNOTSUPP): never chosen there;
 * the send goes plain and arrives. */
static void test_zc_unix_goes_plain(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(2, 4096, 1);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	memcpy(b.data, "hello", 5);
	uint64_t zc0 = loop->sp.zc_sends;
	tu_await_eq(urs_send_buf(p[0], &b, 5, 0), 5, NULL);
	assert_true(loop->sp.zc_sends == zc0);
	urs_result r;
	tu_await_eq(urs_recv(p[1], 100, 0), 5, &r);
	assert_memory_equal(r.buf.data, "hello", 5);
	urs_buf_release(&r.buf);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- streams */

struct sink {
	char *got;
	size_t n, cap;
	bool ended;
};

static void sink_cb(urs_result *r, void *user)
{
	struct sink *k = user;
	if (r->flags & URS_RES_MORE) {
		if (r->res > 0) {
			assert_true(k->n + r->buf.len <= k->cap);
			memcpy(k->got + k->n, r->buf.data, r->buf.len);
			k->n += r->buf.len;
		}
		urs_buf_release(&r->buf);
		return;
	}
	k->ended = true;
}

/* 10,000 sends of varied sizes from the pool, mixed with sends from caller memory, arrive
 * byte for byte in order; with zero-copy forced too. */
static void run_stream(unsigned zc)
{
	enum { N = 10000 };
	urs_loop *loop = pool_loop(16, 8192, zc);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	size_t total = 0;
	uint32_t seed = 1;
	size_t *lens = malloc(N * sizeof(*lens));
	for (int i = 0; i < N; i++) {
		seed = seed * 1103515245u + 12345u;
		lens[i] = 1 + (seed >> 8) % 8192;
		total += lens[i];
	}
	char *want = malloc(total);
	tu_fill(want, total, 99);
	struct sink k = { .got = malloc(total), .cap = total };
	assert_int_equal(urs_future_error(urs_recv_stream(s, sink_cb, &k)), 0);
	struct tally t = { 0 };
	size_t off = 0;
	for (int i = 0; i < N; i++) {
		if (i % 7 == 3) {
			/* caller memory, in the same ordered queue */
			assert_int_equal(urs_then(urs_sendall(c, want + off, lens[i], 0), tally_cb, &t), 0);
		} else {
			urs_buf b;
			int ret;
			while ((ret = urs_sendbuf_get(loop, &b)) == -ENOBUFS)
				assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
			assert_int_equal(ret, 0);
			memcpy(b.data, want + off, lens[i]);
			urs_future f = i % 2 ? urs_sendall_buf(c, &b, lens[i], 0)
					     : urs_send_buf(c, &b, lens[i], 0);
			assert_int_equal(urs_then(f, tally_cb, &t), 0);
		}
		off += lens[i];
	}
	while (k.n < total)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(k.n, total);
	assert_memory_equal(k.got, want, total);
	while (t.calls < N)
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	assert_int_equal(t.ok, N);
	if (zc && have_zc(loop))
		assert_true(loop->sp.zc_sends > 0);
	assert_int_equal(pool_free_count(loop), 16);
	tu_close(c);
	tu_close(s);
	assert_true(k.ended);
	free(k.got);
	free(want);
	free(lens);
	tu_loop_done(loop);
}

static void test_stream_10000(void **state)
{
	(void)state;
	run_stream(0);
}

static void test_stream_10000_zc(void **state)
{
	(void)state;
	run_stream(1);
}

/* ---------------------------------------------------------------- receive buffers */

/* A receive buffer forwarded as it came: the send takes it, it goes back to its group
 * after the send, the peer gets the bytes. */
static void test_forward_receive_buffer(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *a, *b;
	tu_tcp_pair(loop, "127.0.0.1:0", &a, &b);
	urs_sock *c, *d;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &d);
	tu_await_eq(urs_sendall(a, "forward me", 10, 0), 0, NULL);
	urs_result r;
	tu_await_eq(urs_recv(b, 100, 0), 10, &r);
	urs_buf copy = r.buf;
	/* A view whose len or data the caller changed: never past the buffer. */
	urs_buf bad = r.buf;
	bad.data -= 1;
	assert_int_equal(urs_future_error(urs_send_buf(c, &bad, 1, 0)), -EINVAL);
	bad = r.buf;
	bad.len = 1u << 30;
	assert_int_equal(urs_future_error(urs_send_buf(c, &bad, 1u << 20, 0)), -EMSGSIZE);
	assert_int_equal(urs_buf_release(&copy), -EALREADY); /* taken, and back */
	tu_await_eq(urs_sendall(a, "forward me", 10, 0), 0, NULL);
	tu_await_eq(urs_recv(b, 100, 0), 10, &r);
	copy = r.buf;
	assert_int_equal(urs_future_error(urs_send_buf(c, &r.buf, 11, 0)), -EMSGSIZE);
	assert_int_equal(urs_buf_release(&copy), -EALREADY); /* taken, and back */
	tu_await_eq(urs_sendall(a, "forward me", 10, 0), 0, NULL);
	tu_await_eq(urs_recv(b, 100, 0), 10, &r);
	copy = r.buf;
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.bufs_lent, 1);
	urs_future f = urs_send_buf(c, &r.buf, 10, 0);
	assert_int_equal(r.buf.id, URS_BUF_NONE);
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.bufs_lent, 0);
	assert_int_equal(urs_future_error(urs_send_buf(c, &copy, 10, 0)), -EALREADY);
	tu_await_eq(f, 10, NULL);
	urs_result r2;
	tu_await_eq(urs_recv(d, 100, 0), 10, &r2);
	assert_memory_equal(r2.buf.data, "forward me", 10);
	urs_buf_release(&r2.buf);
	assert_int_equal(urs_buf_release(&copy), -EALREADY);
	tu_close(a);
	tu_close(b);
	tu_close(c);
	tu_close(d);
	tu_loop_done(loop);
}

/* Datagrams from the pool with urs_sendto_buf. */
static void test_sendto_buf(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(2, 2048, 1);
	urs_sock *tx, *rx;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &tx), 0);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &rx), 0);
	urs_addr a;
	assert_int_equal(urs_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(urs_bind(rx, &a), 0);
	assert_int_equal(urs_getsockname(rx, &a), 0);
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	memcpy(b.data, "datagram", 8);
	tu_await_eq(urs_sendto_buf(tx, &b, 8, 0, &a), 8, NULL);
	urs_result r;
	tu_await_eq(urs_recvfrom(rx, 100, 0), 8, &r);
	assert_memory_equal(r.buf.data, "datagram", 8);
	urs_buf_release(&r.buf);
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	assert_int_equal(urs_future_error(urs_sendto_buf(tx, &b, 8, 0, NULL)), -EINVAL);
	assert_int_equal(pool_free_count(loop), 2);
	tu_close(tx);
	tu_close(rx);
	tu_loop_done(loop);
}

/* A datagram pair on loopback: tx and rx bound to text (port 0), *to = rx's address,
 * *from = tx's. False (both closed) where the family has no loopback here. */
static bool dgram_pair(urs_loop *loop, int family, urs_sock **tx, urs_sock **rx, urs_addr *to,
		       urs_addr *from)
{
	const char *text = family == AF_INET6 ? "[::1]:0" : "127.0.0.1:0";
	assert_int_equal(urs_socket(loop, family, SOCK_DGRAM, 0, tx), 0);
	assert_int_equal(urs_socket(loop, family, SOCK_DGRAM, 0, rx), 0);
	urs_addr a;
	assert_int_equal(urs_addr_parse(&a, text), 0);
	int ret = urs_bind(*rx, &a);
	if (ret == -EADDRNOTAVAIL || ret == -EAFNOSUPPORT) {
		tu_close(*tx);
		tu_close(*rx);
		return false;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(urs_bind(*tx, &a), 0);
	assert_int_equal(urs_getsockname(*rx, to), 0);
	assert_int_equal(urs_getsockname(*tx, from), 0);
	return true;
}

/* Sends len bytes of pattern seed from a pool buffer to `to` and checks what rx receives:
 * exactly those bytes, from `from`. */
static void sendto_check(urs_loop *loop, urs_sock *tx, urs_sock *rx, const urs_addr *to,
			 const urs_addr *from, size_t len, uint32_t seed)
{
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	tu_fill(b.data, len, seed);
	char *want = malloc(len);
	assert_non_null(want);
	memcpy(want, b.data, len);
	tu_await_eq(urs_sendto_buf(tx, &b, len, 0, to), (int)len, NULL);
	urs_result r;
	tu_await_eq(urs_recvfrom(rx, 65536, 0), (int)len, &r);
	assert_memory_equal(r.buf.data, want, len);
	assert_int_equal(r.addr.len, from->len);
	assert_memory_equal(&r.addr.u, &from->u, from->len);
	urs_buf_release(&r.buf);
	free(want);
}

/* urs_sendto_buf over UDP (issue 16, item 2): with the threshold low, a datagram from a
 * registered buffer goes as SEND_ZC with the fixed buffer and the address; with it high,
 * as a plain SEND with the address (fixed where the kernel takes it). Either way the peer
 * gets exactly the bytes and the sender's address, and the buffer comes back — a zero-copy
 * one only once its notification was counted off. A datagram longer than the buffer, or
 * than UDP carries, is -EMSGSIZE with the buffer back; a stale handle is refused. */
static void sendto_case(int family, bool zc)
{
	enum { COUNT = 2, SIZE = 66 << 10, BIG = 65600 };
	urs_loop *loop = pool_loop(COUNT, SIZE, zc ? 1 : UINT32_MAX);
	urs_sock *tx, *rx;
	urs_addr to, from;
	if (!dgram_pair(loop, family, &tx, &rx, &to, &from)) {
		tu_loop_done(loop);
		skip();
	}
	int big = 1 << 20;
	assert_int_equal(urs_setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)), 0);
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0); /* makes the pool: have_zc can tell */
	assert_int_equal(urs_buf_release(&b), 0);
	bool uring = loop->sp.registered;
	if (zc && !have_zc(loop))
		print_message("no zero-copy here: the plain path only\n");
	uint64_t zc0 = loop->sp.zc_sends, res0 = loop->sp.zc_results, fx0 = loop->sp.fixed_sends;
	sendto_check(loop, tx, rx, &to, &from, 1500, 1);
	sendto_check(loop, tx, rx, &to, &from, 1, 2);
	if (zc && have_zc(loop)) {
		assert_int_equal(loop->sp.zc_sends, zc0 + 2);
		assert_int_equal(loop->sp.zc_results, res0 + 2); /* each with a notification */
	} else {
		assert_int_equal(loop->sp.zc_sends, zc0);
		if (uring && loop->sp.send_addr && (urs_loop_features(loop) & URS_FEAT_FIXED_SEND))
			assert_int_equal(loop->sp.fixed_sends, fx0 + 2);
	}
	settle(loop);
	assert_int_equal(pool_free_count(loop), COUNT);
	/* Longer than the buffer: taken, refused, back. */
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	urs_buf copy = b;
	assert_int_equal(urs_future_error(urs_sendto_buf(tx, &b, SIZE + 1, 0, &to)), -EMSGSIZE);
	assert_int_equal(b.id, URS_BUF_NONE);
	/* The handle kept from before is stale now. */
	assert_int_equal(urs_future_error(urs_sendto_buf(tx, &copy, 10, 0, &to)), -EALREADY);
	assert_int_equal(pool_free_count(loop), COUNT);
	/* Longer than a UDP datagram: the kernel's -EMSGSIZE, through the same path. */
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	memset(b.data, 'x', BIG);
	zc0 = loop->sp.zc_sends;
	tu_await_eq(urs_sendto_buf(tx, &b, BIG, 0, &to), -EMSGSIZE, NULL);
	if (zc && have_zc(loop))
		assert_int_equal(loop->sp.zc_sends, zc0 + 1);
	settle(loop);
	assert_int_equal(pool_free_count(loop), COUNT);
	/* Nothing of it arrived: the next datagram is the next one received. */
	sendto_check(loop, tx, rx, &to, &from, 700, 3);
	settle(loop);
	assert_int_equal(pool_free_count(loop), COUNT);
	tu_close(tx);
	tu_close(rx);
	tu_loop_done(loop);
}

static void test_sendto_buf_v4_zc(void **state)
{
	(void)state;
	sendto_case(AF_INET, true);
}

static void test_sendto_buf_v4_plain(void **state)
{
	(void)state;
	sendto_case(AF_INET, false);
}

static void test_sendto_buf_v6_zc(void **state)
{
	(void)state;
	sendto_case(AF_INET6, true);
}

static void test_sendto_buf_v6_plain(void **state)
{
	(void)state;
	sendto_case(AF_INET6, false);
}

/* A zero-copy datagram's buffer comes back with its notification, not its result. On
 * loopback the kernel copies the pages at delivery and notifies at once (UDP_CORK does not
 * hold them either: a corked datagram is copied), so the notification is held back with a
 * test hook, as a slow network would delay it: the send has resolved, the only buffer is
 * not free; the notification comes; the buffer is. */
static void test_sendto_buf_zc_notification(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(1, 4096, 1);
	urs_sock *tx, *rx;
	urs_addr to, from;
	assert_true(dgram_pair(loop, AF_INET, &tx, &rx, &to, &from));
	assert_int_equal(pool_free_count(loop), 1);
	if (!have_zc(loop)) {
		tu_close(tx);
		tu_close(rx);
		tu_loop_done(loop);
		skip();
	}
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	memset(b.data, 'u', 100);
	uint64_t zc0 = loop->sp.zc_sends;
	loop->fault_hold_notifs = true;
	tu_await_eq(urs_sendto_buf(tx, &b, 100, 0, &to), 100, NULL);
	assert_int_equal(loop->sp.zc_sends, zc0 + 1);
	urs_result r;
	tu_await_eq(urs_recvfrom(rx, 200, 0), 100, &r);
	assert_int_equal(r.buf.data[99], 'u');
	urs_buf_release(&r.buf);
	/* A nop per turn: a notification that never comes fails here, never hangs. */
	for (int i = 0; !loop->nheld && i < 1000; i++)
		tu_await_eq(urs_nop(loop), 0, NULL);
	assert_int_equal(loop->nheld, 1);
	assert_int_equal(loop->sp.notifs_owed, 1);
	assert_int_equal(pool_free_count(loop), 0);
	urs__fault_release_notifs(loop);
	assert_int_equal(loop->sp.notifs_owed, 0);
	assert_int_equal(pool_free_count(loop), 1);
	tu_close(tx);
	tu_close(rx);
	tu_loop_done(loop);
}

/* Each disable bit forces the plainer path for datagrams too, and it still delivers:
 * send_zc (no zero-copy, whatever the threshold), fixed_send (no fixed plain send),
 * send_bufs (no registration: a sendmsg from the pool's memory). */
static void test_sendto_buf_disabled(void **state)
{
	(void)state;
	const unsigned masks[] = { URS_FEAT_SEND_ZC, URS_FEAT_FIXED_SEND, URS_FEAT_SEND_BUFS };
	for (unsigned m = 0; m < sizeof(masks) / sizeof(masks[0]); m++) {
		urs_loop_opts o = { .send_buf_count = 2, .send_buf_size = 4096, .zc_threshold = 1,
				    .disable = masks[m] };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *tx, *rx;
		urs_addr to, from;
		assert_true(dgram_pair(loop, AF_INET, &tx, &rx, &to, &from));
		urs_buf b;
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		assert_int_equal(urs_buf_release(&b), 0);
		assert_false(urs_loop_features(loop) & masks[m]);
		if (masks[m] == URS_FEAT_SEND_BUFS)
			assert_false(loop->sp.registered);
		uint64_t zc0 = loop->sp.zc_sends, fx0 = loop->sp.fixed_sends;
		sendto_check(loop, tx, rx, &to, &from, 3000, 10 + m);
		/* Only the form the bit leaves may have gone. */
		if (masks[m] != URS_FEAT_FIXED_SEND)
			assert_int_equal(loop->sp.zc_sends, zc0);
		else if (have_zc(loop))
			assert_int_equal(loop->sp.zc_sends, zc0 + 1);
		if (masks[m] != URS_FEAT_SEND_ZC)
			assert_int_equal(loop->sp.fixed_sends, fx0);
		settle(loop);
		assert_int_equal(pool_free_count(loop), 2);
		tu_close(tx);
		tu_close(rx);
		tu_loop_done(loop);
	}
}

/* The pool is made at first use: a loop that never borrows pays nothing; the features
 * string says what the pool got; the disable names exist. */
static void test_lazy_and_features(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	assert_false(loop->sp.made);
	urs_buf b;
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	assert_true(loop->sp.made);
	assert_int_equal(b.len, 16384);
	if (strcmp(tu_backend(loop), "io_uring") == 0) {
		assert_true(loop->sp.registered || loop->sp.reg_err < 0);
		if (loop->sp.registered)
			assert_non_null(strstr(urs_loop_features_str(loop), "send_bufs"));
	} else {
		assert_false(loop->sp.registered);
	}
	assert_int_equal(urs_buf_release(&b), 0);
	tu_loop_done(loop);
	urs_loop_opts o = { .disable = URS_FEAT_SEND_BUFS };
	loop = tu_loop_new(&o);
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	assert_false(loop->sp.registered);
	assert_null(strstr(urs_loop_features_str(loop), "send_bufs"));
	assert_int_equal(urs_buf_release(&b), 0);
	tu_loop_done(loop);
	unsigned bits;
	assert_int_equal(urs__features_parse("send_bufs,send_zc,fixed_send", &bits), 0);
	assert_int_equal(bits, URS_FEAT_SEND_BUFS | URS_FEAT_SEND_ZC | URS_FEAT_FIXED_SEND);
	urs_loop_opts bad = { .send_buf_count = 16385 };
	assert_int_equal(urs_loop_new(&loop, &bad), -EINVAL);
}

/* ---------------------------------------------------------------- random outcomes */

static uint32_t rnd_state = 12345;
static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* 200 connections, each with a random mix of sends from the pool (zero-copy forced on
 * half of them), cancels, a short timeout, a freed socket, a close, a peer that reads some,
 * resets or shuts down, at random moments: every buffer comes back, nothing leaks (SAN). */
static void test_random_outcomes(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(8, 64 << 10, 1);
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	struct tally t = { 0 };
	for (int round = 0; round < 200; round++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		int small = 32 << 10;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		urs_future acc = urs_accept(l);
		assert_int_equal(connect(fd, &a.u.sa, a.len), 0);
		urs_result r;
		tu_await_eq(acc, 0, &r);
		urs_sock *s = r.sock;
		if (rnd(4) == 0)
			assert_int_equal(urs_settimeout(s, 0.001 * (1 + rnd(20))), 0);
		urs_future f[8];
		int n = 1 + (int)rnd(8);
		for (int i = 0; i < n; i++) {
			urs_buf b;
			if (urs_sendbuf_get(loop, &b) < 0) {
				n = i;
				break;
			}
			size_t len = 1 + rnd(b.len);
			memset(b.data, 'a' + i, len);
			f[i] = rnd(2) ? urs_sendall_buf(s, &b, len, 0) : urs_send_buf(s, &b, len, 0);
			assert_int_equal(b.id, URS_BUF_NONE);
			if (rnd(3) == 0)
				assert_int_equal(urs_then(f[i], tally_cb, &t), 0);
			else
				assert_int_equal(urs_detach(f[i]), 0);
		}
		for (int k = (int)rnd(4); k > 0; k--)
			assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
		switch (rnd(6)) {
		case 0:
			for (int i = 0; i < n; i++)
				urs_cancel(f[i]);
			break;
		case 1: {
			char tmp[8192];
			(void)!recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
			break;
		}
		case 2:
			shutdown(fd, SHUT_RD);
			break;
		default:
			break;
		}
		for (int k = (int)rnd(3); k > 0; k--)
			assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
		switch (rnd(3)) {
		case 0:
			urs_sock_free(s); /* graceful close, no callback after */
			s = NULL;
			break;
		case 1: {
			urs_future cl = urs_close(s);
			if (rnd(2))
				urs_cancel(cl); /* abortive */
			urs_detach(cl);
			break;
		}
		default:
			break;
		}
		struct linger lg = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		if (s) {
			assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
			urs_sock_free(s);
		}
		settle(loop);
		assert_int_equal(pool_free_count(loop), 8);
	}
	tu_close(l);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- hostile review */

/* A zero-copy datagram the kernel answers -EOPNOTSUPP or -EINVAL for a reason of its own
 * (a flag UDP has no use for: MSG_OOB; an address too short for the family) is the
 * caller's error, not the socket refusing zero-copy: the error is returned as it is, the
 * buffer comes back, and the socket's next datagram still goes zero-copy. */
static void test_sendto_buf_caller_error_keeps_zc(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(2, 4096, 1);
	urs_sock *tx, *rx;
	urs_addr to, from;
	assert_true(dgram_pair(loop, AF_INET, &tx, &rx, &to, &from));
	assert_int_equal(pool_free_count(loop), 2);
	if (!have_zc(loop)) {
		tu_close(tx);
		tu_close(rx);
		tu_loop_done(loop);
		skip();
	}
	for (int how = 0; how < 2; how++) {
		urs_buf b;
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		memset(b.data, 'o', 64);
		urs_addr shortto = to;
		if (how == 1)
			shortto.len = sizeof(sa_family_t) + 2; /* family and port: no address */
		int want = how == 0 ? -EOPNOTSUPP : -EINVAL;
		tu_await_eq(urs_sendto_buf(tx, &b, 64, how == 0 ? MSG_OOB : 0, &shortto), want,
			    NULL);
		settle(loop);
		assert_int_equal(pool_free_count(loop), 2);
		assert_false(tx->zc_off);
		/* The next good datagram still goes zero-copy, and arrives whole. */
		uint64_t zc0 = loop->sp.zc_sends;
		sendto_check(loop, tx, rx, &to, &from, 300, 7 + (uint32_t)how);
		assert_int_equal(loop->sp.zc_sends, zc0 + 1);
		settle(loop);
	}
	tu_close(tx);
	tu_close(rx);
	tu_loop_done(loop);
}

/* The peer unreachable (ICMP port unreachable on loopback, reported with IP_RECVERR): the
 * datagram that meets the pending error resolves -ECONNREFUSED, zero-copy or plain, its
 * buffer comes back (a zero-copy one after its notification), the socket still sends. */
static void icmp_case(unsigned zc)
{
	urs_loop *loop = pool_loop(2, 4096, zc);
	urs_sock *tx, *rx;
	urs_addr to, from;
	assert_true(dgram_pair(loop, AF_INET, &tx, &rx, &to, &from));
	int one = 1;
	assert_int_equal(urs_setsockopt(tx, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)), 0);
	/* A closed port: a socket bound and closed. */
	urs_sock *gone;
	urs_addr dead;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &gone), 0);
	assert_int_equal(urs_addr_parse(&dead, "127.0.0.1:0"), 0);
	assert_int_equal(urs_bind(gone, &dead), 0);
	assert_int_equal(urs_getsockname(gone, &dead), 0);
	tu_close(gone);
	int refused = 0;
	for (int i = 0; i < 4 && !refused; i++) {
		urs_buf b;
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		memset(b.data, 'i', 200);
		urs_result r;
		urs_future f = urs_sendto_buf(tx, &b, 200, 0, &dead);
		int ret = urs_await(f, &r);
		assert_int_equal(ret, r.res);
		assert_true(r.res == 200 || r.res == -ECONNREFUSED);
		refused = r.res == -ECONNREFUSED;
		settle(loop);
		assert_int_equal(pool_free_count(loop), 2);
	}
	assert_true(refused);
	assert_false(tx->zc_off);
	sendto_check(loop, tx, rx, &to, &from, 500, 11);
	settle(loop);
	assert_int_equal(pool_free_count(loop), 2);
	tu_close(tx);
	tu_close(rx);
	tu_loop_done(loop);
}

static void test_sendto_buf_unreachable(void **state)
{
	(void)state;
	icmp_case(1);
	icmp_case(UINT32_MAX);
}

/* Misuse of urs_sendto_buf: len 0 (an empty datagram: it goes), a stale handle, another
 * loop's buffer (refused, the handle unchanged), a NULL address on a connected UDP socket
 * (-EINVAL, the buffer back), TCP with an address (the address is ignored by TCP: the
 * bytes go to the peer), a husk. Every buffer comes back to its pool. */
static void test_sendto_buf_misuse(void **state)
{
	(void)state;
	urs_loop_opts oo = { .send_buf_count = 1, .send_buf_size = 4096, .zc_threshold = 1 };
	urs_loop *other;
	assert_int_equal(urs_loop_new(&other, &oo), 0);
	urs_loop *loop = pool_loop(2, 4096, 1);
	urs_sock *tx, *rx;
	urs_addr to, from;
	assert_true(dgram_pair(loop, AF_INET, &tx, &rx, &to, &from));
	urs_buf b, ob;
	/* len 0 */
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	tu_await_eq(urs_sendto_buf(tx, &b, 0, 0, &to), 0, NULL);
	urs_result r;
	tu_await_eq(urs_recvfrom(rx, 100, 0), 0, &r);
	urs_buf_release(&r.buf);
	settle(loop);
	assert_int_equal(pool_free_count(loop), 2);
	/* another loop's buffer */
	assert_int_equal(urs_sendbuf_get(other, &ob), 0);
	urs_buf keep = ob;
	assert_int_equal(urs_future_error(urs_sendto_buf(tx, &ob, 10, 0, &to)), -EXDEV);
	assert_memory_equal(&ob, &keep, sizeof(ob));
	assert_int_equal(urs_buf_release(&ob), 0);
	assert_int_equal(pool_free_count(other), 1);
	/* stale */
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	keep = b;
	tu_await_eq(urs_sendto_buf(tx, &b, 10, 0, &to), 10, NULL);
	assert_int_equal(urs_future_error(urs_sendto_buf(tx, &keep, 10, 0, &to)), -EALREADY);
	tu_await_eq(urs_recvfrom(rx, 100, 0), 10, &r);
	urs_buf_release(&r.buf);
	settle(loop);
	assert_int_equal(pool_free_count(loop), 2);
	/* connected UDP, NULL address: -EINVAL, the buffer back; urs_send_buf sends. */
	tu_await_eq(urs_connect(tx, &to), 0, NULL);
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	assert_int_equal(urs_future_error(urs_sendto_buf(tx, &b, 10, 0, NULL)), -EINVAL);
	assert_int_equal(pool_free_count(loop), 2);
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	memcpy(b.data, "connected!", 10);
	tu_await_eq(urs_send_buf(tx, &b, 10, 0), 10, NULL);
	tu_await_eq(urs_recvfrom(rx, 100, 0), 10, &r);
	assert_memory_equal(r.buf.data, "connected!", 10);
	urs_buf_release(&r.buf);
	settle(loop);
	assert_int_equal(pool_free_count(loop), 2);
	/* TCP with an address */
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	assert_int_equal(urs_sendbuf_get(loop, &b), 0);
	memcpy(b.data, "tcp-bytes", 9);
	tu_await_eq(urs_sendto_buf(c, &b, 9, 0, &to), 9, NULL);
	tu_await_eq(urs_recv(s, 100, 0), 9, &r);
	assert_memory_equal(r.buf.data, "tcp-bytes", 9);
	urs_buf_release(&r.buf);
	settle(loop);
	assert_int_equal(pool_free_count(loop), 2);
	tu_close(c);
	tu_close(s);
	tu_close(tx);
	tu_close(rx);
	tu_loop_done(loop);
	assert_int_equal(urs_loop_free(other), 0);
}

/* A zero-copy datagram whose notification is held, its future cancelled (too late: it
 * resolved) and the loop freed with the notification owed: the loop waits for it or gives
 * the buffer up with its memory, nothing leaks or is read after its unmap (SAN=1), no hang. */
static void test_sendto_buf_loop_free_notif_owed(void **state)
{
	(void)state;
	urs_loop *loop = pool_loop(2, 4096, 1);
	urs_sock *tx, *rx;
	urs_addr to, from;
	assert_true(dgram_pair(loop, AF_INET, &tx, &rx, &to, &from));
	assert_int_equal(pool_free_count(loop), 2);
	if (!have_zc(loop)) {
		tu_close(tx);
		tu_close(rx);
		tu_loop_done(loop);
		skip();
	}
	loop->fault_hold_notifs = true;
	urs_buf b;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(urs_sendbuf_get(loop, &b), 0);
		memset(b.data, 'n', 128);
		urs_future f = urs_sendto_buf(tx, &b, 128, 0, &to);
		if (i == 0) {
			tu_await_eq(f, 128, NULL);
			assert_int_equal(urs_cancel(f), -EINVAL); /* resolved and consumed */
		} else {
			assert_int_equal(urs_cancel(f), 0); /* cancelled in flight, or not yet sent */
			urs_result r;
			int ret = urs_await(f, &r);
			assert_true(ret == 128 || ret == -ECANCELED);
		}
	}
	for (int i = 0; loop->nheld < 1 && i < 1000; i++)
		tu_await_eq(urs_nop(loop), 0, NULL);
	assert_true(loop->nheld >= 1);
	assert_true(loop->sp.notifs_owed >= 1);
	urs_sock_free(tx);
	urs_sock_free(rx);
	assert_int_equal(urs_loop_free(loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_send_returns_buffer),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_peer_reset_mid_send),
		cmocka_unit_test(test_timeout_returns_buffers),
		cmocka_unit_test(test_cancel_every_moment),
		cmocka_unit_test(test_close_with_queued_sends),
		cmocka_unit_test(test_loop_free_with_sends),
		cmocka_unit_test(test_free_sock_in_callback),
		cmocka_unit_test(test_zc_notification_order),
		cmocka_unit_test(test_zc_unix_goes_plain),
		cmocka_unit_test(test_stream_10000),
		cmocka_unit_test(test_stream_10000_zc),
		cmocka_unit_test(test_forward_receive_buffer),
		cmocka_unit_test(test_sendto_buf),
		cmocka_unit_test(test_sendto_buf_v4_zc),
		cmocka_unit_test(test_sendto_buf_v4_plain),
		cmocka_unit_test(test_sendto_buf_v6_zc),
		cmocka_unit_test(test_sendto_buf_v6_plain),
		cmocka_unit_test(test_sendto_buf_zc_notification),
		cmocka_unit_test(test_sendto_buf_disabled),
		cmocka_unit_test(test_lazy_and_features),
		cmocka_unit_test(test_random_outcomes),
		cmocka_unit_test(test_sendto_buf_caller_error_keeps_zc),
		cmocka_unit_test(test_sendto_buf_unreachable),
		cmocka_unit_test(test_sendto_buf_misuse),
		cmocka_unit_test(test_sendto_buf_loop_free_notif_owed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
