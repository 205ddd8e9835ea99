/* SPDX-License-Identifier: MIT */
/* sendmsg / recvmsg / recvmsg_into with control messages: 100 fds passed over a socketpair
 * and each used, fds closed when the control buffer is cut or the result dropped,
 * IP_PKTINFO / IPV6_PKTINFO on a wildcard-bound socket, SO_TIMESTAMPNS, SCM_CREDENTIALS, a
 * header and a body sent without a copy in the order of the other sends, the cmsg helpers,
 * timeouts and bad input. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { NFD = 100 };

static void test_100_fds_each_used(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *sp[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, sp), 0);
	int rd[NFD], wr[NFD];
	for (int i = 0; i < NFD; i++) {
		int p[2];
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		rd[i] = p[0];
		wr[i] = p[1];
	}
	char ctl[CMSG_SPACE(NFD * sizeof(int))];
	size_t used = 0;
	assert_int_equal(urs_cmsg_add_fds(ctl, sizeof(ctl), &used, wr, NFD), 0);
	assert_int_equal(used, sizeof(ctl));
	struct iovec iov = { "F", 1 };
	tu_await_eq(urs_sendmsg(sp[0], &iov, 1, ctl, used, 0, NULL), 1, NULL);
	/* The fds sent stay ours: close our copies now, the receiver's are the only ones. */
	for (int i = 0; i < NFD; i++)
		close(wr[i]);
	char rctl[CMSG_SPACE(NFD * sizeof(int))];
	char byte;
	struct iovec riov = { &byte, 1 };
	urs_result r;
	tu_await_eq(urs_recvmsg_into(sp[1], &riov, 1, rctl, sizeof(rctl), 0), 1, &r);
	assert_int_equal(byte, 'F');
	assert_ptr_equal(r.control, rctl);
	assert_int_equal(r.flags & URS_RES_CTRUNC, 0);
	size_t pos = 0;
	urs_cmsg c;
	assert_int_equal(urs_cmsg_next(r.control, r.controllen, &pos, &c), 1);
	int got[NFD];
	assert_int_equal(urs_cmsg_fds(&c, got, NFD), NFD);
	assert_int_equal(urs_cmsg_next(r.control, r.controllen, &pos, &c), 0);
	for (int i = 0; i < NFD; i++) {
		/* Close-on-exec, and each one is the write end of its own pipe. */
		assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
		char msg[8];
		int n = snprintf(msg, sizeof(msg), "%d", i);
		assert_int_equal(write(got[i], msg, (size_t)n), n);
		close(got[i]);
		char in[8] = { 0 };
		assert_int_equal(read(rd[i], in, sizeof(in)), n);
		assert_memory_equal(in, msg, (size_t)n);
		close(rd[i]);
	}
	tu_close(sp[0]);
	tu_close(sp[1]);
	tu_loop_done(loop);
}

static void send_fds(urs_sock *s, int n, int *keep)
{
	int fds[16] = { 0 };
	for (int i = 0; i < n; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	char ctl[CMSG_SPACE(16 * sizeof(int))];
	size_t used = 0;
	assert_int_equal(urs_cmsg_add_fds(ctl, sizeof(ctl), &used, fds, (size_t)n), 0);
	struct iovec iov = { "x", 1 };
	tu_await_eq(urs_sendmsg(s, &iov, 1, ctl, used, 0, NULL), 1, NULL);
	for (int i = 0; i < n; i++) {
		if (keep)
			keep[i] = fds[i];
		else
			close(fds[i]);
	}
}

/* Room for 2 of 10 fds: MSG_CTRUNC; the 2 that arrived are closed and read -1. */
static void test_ctrunc_closes_fds(void **state)
{
	(void)state;
	for (int buffered = 0; buffered < 2; buffered++) {
		urs_loop *loop = tu_loop_new(NULL);
		urs_sock *sp[2];
		assert_int_equal(urs_socketpair(loop, SOCK_DGRAM, sp), 0);
		int before = tu_fd_count();
		send_fds(sp[0], 10, NULL);
		assert_int_equal(tu_fd_count(), before);
		char ctl[CMSG_SPACE(2 * sizeof(int))];
		char byte;
		struct iovec iov = { &byte, 1 };
		urs_result r;
		urs_future f = buffered ? urs_recvmsg(sp[1], 100, ctl, sizeof(ctl), 0)
					: urs_recvmsg_into(sp[1], &iov, 1, ctl, sizeof(ctl), 0);
		tu_await_eq(f, 1, &r);
		assert_true(r.flags & URS_RES_CTRUNC);
		assert_true(r.msg_flags & MSG_CTRUNC);
		assert_int_equal(tu_fd_count(), before); /* nothing leaked */
		size_t pos = 0;
		urs_cmsg c;
		if (urs_cmsg_next(r.control, r.controllen, &pos, &c) == 1) {
			int got[10];
			int n = urs_cmsg_fds(&c, got, 10);
			assert_true(n >= 1 && n <= 2);
			for (int i = 0; i < n; i++)
				assert_int_equal(got[i], -1);
		}
		urs_buf_release(&r.buf);
		tu_close(sp[0]);
		tu_close(sp[1]);
		tu_loop_done(loop);
	}
}

static void never_cb(urs_result *r, void *user)
{
	(void)r;
	(void)user;
	fail_msg("a callback ran after urs_sock_free");
}

/* Results nobody takes: a detached recvmsg, one whose socket is freed, one awaited with
 * NULL, and a cancel racing the fds' arrival. Every fd that arrived is closed. */
static void test_dropped_results_close_fds(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *sp[2];
	assert_int_equal(urs_socketpair(loop, SOCK_SEQPACKET, sp), 0);
	int before = tu_fd_count();
	static char ctl[4][CMSG_SPACE(4 * sizeof(int))];
	/* detached */
	urs_future f = urs_recvmsg(sp[1], 64, ctl[0], sizeof(ctl[0]), 0);
	assert_int_equal(urs_detach(f), 0);
	send_fds(sp[0], 4, NULL);
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	assert_int_equal(tu_fd_count(), before);
	/* awaited with no result wanted */
	send_fds(sp[0], 4, NULL);
	assert_int_equal(urs_await(urs_recvmsg(sp[1], 64, ctl[1], sizeof(ctl[1]), 0), NULL), 1);
	assert_int_equal(tu_fd_count(), before);
	/* a cancel asked after the fds are on their way: completed or cancelled, none leak */
	f = urs_recvmsg(sp[1], 64, ctl[2], sizeof(ctl[2]), 0);
	send_fds(sp[0], 4, NULL);
	urs_cancel(f);
	urs_result r;
	int res = urs_await(f, &r);
	assert_true(res == 1 || res == -ECANCELED);
	if (res == 1) {
		urs_buf_release(&r.buf);
		size_t pos = 0;
		urs_cmsg c;
		while (urs_cmsg_next(r.control, r.controllen, &pos, &c) == 1) {
			int got[4];
			int n = urs_cmsg_fds(&c, got, 4);
			for (int i = 0; i < n; i++)
				close(got[i]);
		}
	} else {
		/* not received: the next receive gets the message and its fds */
		assert_int_equal(urs_await(urs_recvmsg(sp[1], 64, ctl[2], sizeof(ctl[2]), 0), NULL), 1);
	}
	assert_int_equal(tu_fd_count(), before);
	/* the receiving socket freed with its receive pending: the result is dropped */
	f = urs_recvmsg(sp[1], 64, ctl[3], sizeof(ctl[3]), 0);
	assert_int_equal(urs_then(f, never_cb, NULL), 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	/* Sent outside the loop, so that the receive completes only after the free. */
	int fds[4];
	for (int i = 0; i < 4; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char sctl[CMSG_SPACE(sizeof(fds))];
	size_t used = 0;
	assert_int_equal(urs_cmsg_add_fds(sctl, sizeof(sctl), &used, fds, 4), 0);
	struct msghdr m = { .msg_iov = &(struct iovec){ "y", 1 }, .msg_iovlen = 1,
			    .msg_control = sctl, .msg_controllen = used };
	assert_int_equal(sendmsg(urs_fileno(sp[0]), &m, 0), 1);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	urs_sock_free(sp[1]);
	tu_close(sp[0]);
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	tu_loop_done(loop); /* counts fds: the 4 in flight were closed, whichever way */
}

static urs_sock *udp_on(urs_loop *loop, const char *where, urs_addr *bound)
{
	urs_addr a;
	urs_sock *s;
	assert_int_equal(urs_addr_parse(&a, where), 0);
	assert_int_equal(urs_socket(loop, a.u.sa.sa_family, SOCK_DGRAM, 0, &s), 0);
	assert_int_equal(urs_bind(s, &a), 0);
	if (bound)
		assert_int_equal(urs_getsockname(s, bound), 0);
	return s;
}

/* The destination of each datagram on a socket bound to the wildcard. */
static void pktinfo_to(urs_loop *loop, urs_sock *srv, urs_sock *cli, const char *dst_text,
		       int port)
{
	urs_addr dst;
	char text[80];
	snprintf(text, sizeof(text), dst_text, port);
	assert_int_equal(urs_addr_parse(&dst, text), 0);
	tu_await_eq(urs_sendto(cli, "hi", 2, 0, &dst), 2, NULL);
	char ctl[256];
	urs_result r;
	tu_await_eq(urs_recvmsg(srv, 64, ctl, sizeof(ctl), 0), 2, &r);
	assert_memory_equal(r.buf.data, "hi", 2);
	assert_true(r.addr.len > 0); /* the sender */
	urs_buf_release(&r.buf);
	size_t pos = 0;
	urs_cmsg c;
	int seen = 0;
	while (urs_cmsg_next(r.control, r.controllen, &pos, &c) == 1) {
		urs_addr got;
		int ifindex = -1;
		if (urs_cmsg_pktinfo(&c, &got, &ifindex) < 0)
			continue;
		char s[URS_ADDR_STRLEN], want[URS_ADDR_STRLEN];
		urs_addr d0 = dst;
		if (d0.u.sa.sa_family == AF_INET)
			d0.u.in.sin_port = 0;
		else
			d0.u.in6.sin6_port = 0;
		assert_true(urs_addr_format(&got, s, sizeof(s)) > 0);
		assert_true(urs_addr_format(&d0, want, sizeof(want)) > 0);
		assert_string_equal(s, want);
		assert_true(ifindex > 0);
		seen++;
	}
	assert_int_equal(seen, 1);
	(void)loop;
}

static void test_pktinfo_v4(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr b;
	urs_sock *srv = udp_on(loop, "0.0.0.0:0", &b);
	int one = 1;
	assert_int_equal(urs_setsockopt(srv, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)), 0);
	urs_sock *cli = udp_on(loop, "127.0.0.1:0", NULL);
	pktinfo_to(loop, srv, cli, "127.0.0.1:%d", urs_addr_port(&b));
	pktinfo_to(loop, srv, cli, "127.0.0.2:%d", urs_addr_port(&b));
	pktinfo_to(loop, srv, cli, "127.0.0.1:%d", urs_addr_port(&b));
	tu_close(srv);
	tu_close(cli);
	tu_loop_done(loop);
}

static void test_pktinfo_v6(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr b;
	urs_sock *srv = udp_on(loop, "[::]:0", &b);
	int one = 1;
	assert_int_equal(urs_setsockopt(srv, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)), 0);
	urs_sock *cli = udp_on(loop, "[::1]:0", NULL);
	pktinfo_to(loop, srv, cli, "[::1]:%d", urs_addr_port(&b));
	tu_close(srv);
	tu_close(cli);
	tu_loop_done(loop);
}

static void test_timestamp_and_credentials(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *sp[2];
	assert_int_equal(urs_socketpair(loop, SOCK_DGRAM, sp), 0);
	int one = 1;
	assert_int_equal(urs_setsockopt(sp[1], SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0);
	assert_int_equal(urs_setsockopt(sp[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	struct timespec t0, t1, ts = { 0, 0 };
	clock_gettime(CLOCK_REALTIME, &t0);
	tu_await_eq(urs_send(sp[0], "t", 1, 0), 1, NULL);
	char ctl[256];
	urs_result r;
	tu_await_eq(urs_recvmsg(sp[1], 16, ctl, sizeof(ctl), 0), 1, &r);
	clock_gettime(CLOCK_REALTIME, &t1);
	urs_buf_release(&r.buf);
	size_t pos = 0;
	urs_cmsg c;
	int stamps = 0, creds = 0;
	while (urs_cmsg_next(r.control, r.controllen, &pos, &c) == 1) {
		int32_t pid;
		uint32_t uid, gid;
		if (urs_cmsg_timestamp(&c, &ts) == 0)
			stamps++;
		if (urs_cmsg_creds(&c, &pid, &uid, &gid) == 0) {
			assert_int_equal(pid, getpid());
			assert_int_equal(uid, getuid());
			assert_int_equal(gid, getgid());
			creds++;
		}
	}
	assert_int_equal(stamps, 1);
	assert_int_equal(creds, 1);
	int64_t a = (int64_t)t0.tv_sec * 1000000000 + t0.tv_nsec;
	int64_t b = (int64_t)t1.tv_sec * 1000000000 + t1.tv_nsec;
	int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	assert_true(t >= a && t <= b);
	/* Explicit credentials built with urs_cmsg_add are checked by the kernel and kept. */
	struct ucred uc = { getpid(), getuid(), getgid() };
	size_t used = 0;
	char sctl[CMSG_SPACE(sizeof(uc))];
	assert_int_equal(urs_cmsg_add(sctl, sizeof(sctl), &used, SOL_SOCKET, SCM_CREDENTIALS, &uc,
				      sizeof(uc)), 0);
	struct iovec iov = { "c", 1 };
	tu_await_eq(urs_sendmsg(sp[0], &iov, 1, sctl, used, 0, NULL), 1, NULL);
	tu_await_eq(urs_recvmsg(sp[1], 16, ctl, sizeof(ctl), 0), 1, &r);
	urs_buf_release(&r.buf);
	tu_close(sp[0]);
	tu_close(sp[1]);
	tu_loop_done(loop);
}

/* A header and a body from two places, between two plain sends: the peer reads them in
 * issue order, and nothing was copied into one buffer first. */
static void test_vectored_send_ordered(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	static char body[1 << 20];
	tu_fill(body, sizeof(body), 7);
	const char head[] = "HEAD:";
	struct iovec iov[3] = { { (void *)head, 5 }, { NULL, 0 }, { body, sizeof(body) } };
	urs_future f1 = urs_send(c, "A", 1, 0);
	urs_future f2 = urs_sendmsg(c, iov, 3, NULL, 0, 0, NULL);
	urs_future f3 = urs_send(c, "Z", 1, 0);
	/* its bytes count in the socket's queue like any send's */
	assert_int_equal(urs_sock_queued(c), 1 + 5 + (1 << 20) + 1);
	static char in[1 + 5 + (1 << 20) + 1];
	size_t got = 0;
	while (got < sizeof(in)) {
		int n = urs_await(urs_recv_into(s, in + got, sizeof(in) - got, 0), NULL);
		assert_true(n > 0);
		got += (size_t)n;
	}
	tu_await_eq(f1, 1, NULL);
	urs_result r;
	tu_await_eq(f2, 5 + (1 << 20), &r);
	assert_int_equal(r.sent, 5 + (1 << 20));
	tu_await_eq(f3, 1, NULL);
	assert_int_equal(in[0], 'A');
	assert_memory_equal(in + 1, "HEAD:", 5);
	assert_memory_equal(in + 6, body, sizeof(body));
	assert_int_equal(in[sizeof(in) - 1], 'Z');
	assert_int_equal(urs_sock_queued(c), 0);
	/* A sendmsg queued behind a send that is cancelled fails -EPIPE without a byte. */
	assert_int_equal(urs_settimeout(c, 0.05), 0);
	static char fill[8 << 20];
	urs_future big = urs_sendall(c, fill, sizeof(fill), 0); /* nobody reads: it times out */
	assert_int_equal(urs_settimeout(c, URS_NO_TIMEOUT), 0);
	urs_future behind = urs_sendmsg(c, iov, 1, NULL, 0, 0, NULL);
	assert_int_equal(urs_await(big, NULL), -ETIMEDOUT);
	assert_int_equal(urs_await(behind, NULL), -EPIPE);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_recvmsg_into_iovecs_and_sender(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr aa, ba;
	urs_sock *a = udp_on(loop, "127.0.0.1:0", &aa);
	urs_sock *b = udp_on(loop, "127.0.0.1:0", &ba);
	struct iovec out[2] = { { "hello ", 6 }, { "world", 5 } };
	tu_await_eq(urs_sendmsg(a, out, 2, NULL, 0, 0, &ba), 11, NULL);
	char p1[4], p2[16];
	struct iovec in[2] = { { p1, sizeof(p1) }, { p2, sizeof(p2) } };
	urs_result r;
	tu_await_eq(urs_recvmsg_into(b, in, 2, NULL, 0, 0), 11, &r);
	assert_memory_equal(p1, "hell", 4);
	assert_memory_equal(p2, "o world", 7);
	assert_int_equal(urs_addr_port(&r.addr), urs_addr_port(&aa));
	assert_int_equal(r.controllen, 0);
	/* Cut: the bytes that fit and URS_RES_TRUNC. */
	tu_await_eq(urs_sendmsg(a, out, 2, NULL, 0, 0, &ba), 11, NULL);
	struct iovec small = { p1, sizeof(p1) };
	tu_await_eq(urs_recvmsg_into(b, &small, 1, NULL, 0, 0), 4, &r);
	assert_true(r.flags & URS_RES_TRUNC);
	assert_true(r.msg_flags & MSG_TRUNC);
	/* Timeout and non-blocking. */
	assert_int_equal(urs_settimeout(b, 0.02), 0);
	assert_int_equal(urs_await(urs_recvmsg_into(b, in, 2, NULL, 0, 0), NULL), -ETIMEDOUT);
	assert_int_equal(urs_await(urs_recvmsg(b, 100, NULL, 0, 0), NULL), -ETIMEDOUT);
	assert_int_equal(urs_setblocking(b, false), 0);
	assert_int_equal(urs_await(urs_recvmsg(b, 100, NULL, 0, 0), NULL), -EAGAIN);
	tu_close(a);
	tu_close(b);
	tu_loop_done(loop);
}

static void test_cmsg_helpers(void **state)
{
	(void)state;
	char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(3)];
	size_t used = 0;
	int fd = 7;
	assert_int_equal(urs_cmsg_add_fds(buf, sizeof(buf), &used, &fd, 1), 0);
	assert_int_equal(urs_cmsg_add(buf, sizeof(buf), &used, 1, 2, "abc", 3), 0);
	assert_int_equal(used, sizeof(buf));
	assert_int_equal(urs_cmsg_add(buf, sizeof(buf), &used, 1, 2, "abc", 3), -ENOSPC);
	assert_int_equal(urs_cmsg_add_fds(buf, sizeof(buf), &used, &fd, 0), -EINVAL);
	size_t pos = 0;
	urs_cmsg c;
	assert_int_equal(urs_cmsg_next(buf, used, &pos, &c), 1);
	int got = -1;
	assert_int_equal(urs_cmsg_fds(&c, &got, 1), 1);
	assert_int_equal(got, 7);
	assert_int_equal(urs_cmsg_pktinfo(&c, &(urs_addr){ 0 }, NULL), -EINVAL);
	assert_int_equal(urs_cmsg_next(buf, used, &pos, &c), 1);
	assert_int_equal(c.level, 1);
	assert_int_equal(c.type, 2);
	assert_int_equal(c.len, 3);
	assert_memory_equal(c.data, "abc", 3);
	assert_int_equal(urs_cmsg_fds(&c, &got, 1), -EINVAL);
	assert_int_equal(urs_cmsg_next(buf, used, &pos, &c), 0);
	/* A length past the buffer is refused, never read. */
	struct cmsghdr *h = (struct cmsghdr *)buf;
	h->cmsg_len = sizeof(buf) + 64;
	pos = 0;
	assert_int_equal(urs_cmsg_next(buf, used, &pos, &c), -EINVAL);
	h->cmsg_len = 2;
	pos = 0;
	assert_int_equal(urs_cmsg_next(buf, used, &pos, &c), -EINVAL);
}

static void test_bad_input(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *sp[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, sp), 0);
	struct iovec iov = { NULL, 5 };
	assert_int_equal(urs_future_error(urs_sendmsg(sp[0], &iov, 1, NULL, 0, 0, NULL)), -EFAULT);
	assert_int_equal(urs_future_error(urs_sendmsg(sp[0], NULL, 1, NULL, 0, 0, NULL)), -EINVAL);
	assert_int_equal(urs_future_error(urs_sendmsg(sp[0], NULL, 0, NULL, 0, 0, NULL)), -EINVAL);
	assert_int_equal(urs_future_error(urs_sendmsg(sp[0], &iov, 100000, NULL, 0, 0, NULL)),
			 -EINVAL);
	assert_int_equal(urs_future_error(urs_recvmsg(sp[0], 0, NULL, 0, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_recvmsg(sp[0], 10, NULL, 5, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_recvmsg_into(sp[0], NULL, 0, NULL, 0, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_recvmsg(NULL, 10, NULL, 0, 0)), -EINVAL);
	/* Passing an fd that is not open: the kernel's -EBADF, nothing sent. */
	char ctl[CMSG_SPACE(sizeof(int))];
	size_t used = 0;
	int bad = 999999;
	assert_int_equal(urs_cmsg_add_fds(ctl, sizeof(ctl), &used, &bad, 1), 0);
	struct iovec one = { "x", 1 };
	assert_int_equal(urs_await(urs_sendmsg(sp[0], &one, 1, ctl, used, 0, NULL), NULL), -EBADF);
	tu_close(sp[0]);
	assert_int_equal(urs_future_error(urs_sendmsg(sp[0], &one, 1, NULL, 0, 0, NULL)), -EBADF);
	urs_sock_free(sp[0]);
	tu_close(sp[1]);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_100_fds_each_used),
		cmocka_unit_test(test_ctrunc_closes_fds),
		cmocka_unit_test(test_dropped_results_close_fds),
		cmocka_unit_test(test_pktinfo_v4),
		cmocka_unit_test(test_pktinfo_v6),
		cmocka_unit_test(test_timestamp_and_credentials),
		cmocka_unit_test(test_vectored_send_ordered),
		cmocka_unit_test(test_recvmsg_into_iovecs_and_sender),
		cmocka_unit_test(test_cmsg_helpers),
		cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
