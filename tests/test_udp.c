/* SPDX-License-Identifier: MIT */
/* UDP over IPv4 and IPv6: sendto/recvfrom, 10,000 sequenced datagrams through the
 * multishot recvmsg stream, truncation, zero-length datagrams, refusal, bad input. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static urs_sock *udp_bound(urs_loop *loop, const char *where, urs_addr *bound)
{
	urs_addr a;
	urs_sock *s;
	assert_int_equal(urs_addr_parse(&a, where), 0);
	assert_int_equal(urs_socket(loop, a.u.sa.sa_family, SOCK_DGRAM, 0, &s), 0);
	assert_int_equal(urs_bind(s, &a), 0);
	assert_int_equal(urs_getsockname(s, bound), 0);
	return s;
}

static void basic(const char *where)
{
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr aa, ba;
	urs_sock *a = udp_bound(loop, where, &aa);
	urs_sock *b = udp_bound(loop, where, &ba);
	tu_await_eq(urs_sendto(a, "ping", 4, 0, &ba), 4, NULL);
	urs_result r;
	tu_await_eq(urs_recvfrom(b, 100, 0), 4, &r);
	assert_memory_equal(r.buf.data, "ping", 4);
	assert_int_equal(r.addr.u.sa.sa_family, aa.u.sa.sa_family);
	assert_int_equal(urs_addr_port(&r.addr), urs_addr_port(&aa));
	assert_int_equal(r.flags & URS_RES_TRUNC, 0);
	urs_buf_release(&r.buf);
	/* Truncation: the bytes that fit, and the flag. */
	char big[1000];
	memset(big, 'b', sizeof(big));
	tu_await_eq(urs_sendto(b, big, sizeof(big), 0, &aa), 1000, NULL);
	tu_await_eq(urs_recvfrom(a, 10, 0), 10, &r);
	assert_int_equal(r.buf.len, 10);
	assert_true(r.flags & URS_RES_TRUNC);
	urs_buf_release(&r.buf);
	/* Zero-length datagrams are datagrams. */
	tu_await_eq(urs_sendto(a, NULL, 0, 0, &ba), 0, NULL);
	tu_await_eq(urs_recvfrom(b, 10, 0), 0, &r);
	assert_int_equal(urs_addr_port(&r.addr), urs_addr_port(&aa));
	urs_buf_release(&r.buf);
	/* Connected UDP: send/recv. */
	tu_await_eq(urs_connect(a, &ba), 0, NULL);
	tu_await_eq(urs_send(a, "conn", 4, 0), 4, NULL);
	tu_await_eq(urs_recv(b, 100, 0), 4, &r);
	assert_memory_equal(r.buf.data, "conn", 4);
	urs_buf_release(&r.buf);
	urs_addr pa;
	assert_int_equal(urs_getpeername(a, &pa), 0);
	assert_int_equal(urs_addr_port(&pa), urs_addr_port(&ba));
	/* Sending to a closed port: a connected socket hears ECONNREFUSED. */
	tu_close(b);
	tu_await_eq(urs_send(a, "x", 1, 0), 1, NULL);
	int res = urs_await(urs_recv(a, 10, 0), NULL);
	assert_int_equal(res, -ECONNREFUSED);
	tu_close(a);
	tu_loop_done(loop);
}

static void test_basic_v4(void **state)
{
	(void)state;
	basic("127.0.0.1:0");
}

static void test_basic_v6(void **state)
{
	(void)state;
	basic("[::1]:0");
}

struct seqrx {
	uint8_t *seen;
	int got, dup, bad;
	size_t bytes;
};

static void seq_cb(urs_result *r, void *user)
{
	struct seqrx *rx = user;
	if (!(r->flags & URS_RES_MORE))
		return;
	uint32_t seq;
	if (r->buf.len != 64 || (r->flags & URS_RES_TRUNC)) {
		rx->bad++;
	} else {
		memcpy(&seq, r->buf.data, 4);
		if (seq >= 10000 || rx->seen[seq])
			rx->dup++;
		else
			rx->seen[seq] = 1, rx->got++;
		rx->bytes += r->buf.len;
	}
	urs_buf_release(&r->buf);
}

/* Reads the kernel's count of UDP datagrams dropped for a full receive queue. */
static long udp_rcvbuf_errors(const char *proto)
{
	FILE *f = fopen(proto[3] == '6' ? "/proc/net/snmp6" : "/proc/net/snmp", "r");
	if (!f)
		return -1;
	char line[4096], names[4096];
	long v = -1;
	if (proto[3] == '6') {
		char key[128];
		long val;
		while (fscanf(f, "%127s %ld", key, &val) == 2)
			if (!strcmp(key, "Udp6RcvbufErrors"))
				v = val;
	} else {
		while (fgets(names, sizeof(names), f) && fgets(line, sizeof(line), f)) {
			if (strncmp(names, "Udp:", 4))
				continue;
			char *n = strtok(names, " \n"), *save;
			char *x = strtok_r(line, " \n", &save);
			int idx = 0, want = -1;
			for (char *t = n; t; t = strtok(NULL, " \n"), idx++)
				if (!strcmp(t, "RcvbufErrors"))
					want = idx;
			for (idx = 0; x; x = strtok_r(NULL, " \n", &save), idx++)
				if (idx == want)
					v = atol(x);
		}
	}
	fclose(f);
	return v;
}

static void ten_thousand(const char *where, const char *proto)
{
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr ra, sa;
	urs_sock *rxs = udp_bound(loop, where, &ra);
	urs_sock *txs = udp_bound(loop, where, &sa);
	int big = 4 << 20;
	urs_setsockopt(rxs, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct seqrx rx = { calloc(10000, 1), 0, 0, 0, 0 };
	urs_future st = urs_recvfrom_stream(rxs, seq_cb, &rx);
	assert_int_equal(urs_future_error(st), 0);
	long drops0 = udp_rcvbuf_errors(proto);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	static char dgrams[10000][64];
	for (uint32_t i = 0; i < 10000; i++) {
		memcpy(dgrams[i], &i, 4);
		memset(dgrams[i] + 4, (int)i, 60);
		assert_int_equal(urs_detach(urs_sendto(txs, dgrams[i], 64, 0, &ra)), 0);
		if (i % 256 == 255)
			urs_loop_run(loop, URS_RUN_NOWAIT);
	}
	for (int spins = 0; rx.got + rx.dup + rx.bad < 10000 && spins < 200; spins++)
		urs_loop_run(loop, URS_RUN_NOWAIT);
	/* Whatever is still on its way arrives within a few loop turns; then count. */
	for (int spins = 0; rx.got < 10000 && spins < 1000; spins++)
		urs_loop_run(loop, URS_RUN_NOWAIT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long drops = udp_rcvbuf_errors(proto) - drops0;
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("%s: 10000 datagrams in %.1f ms, %d received, %d lost, %d dup, %d bad, "
		      "%ld receive-queue drops\n", where, ms, rx.got, 10000 - rx.got, rx.dup, rx.bad,
		      drops);
	assert_int_equal(rx.dup, 0);
	assert_int_equal(rx.bad, 0);
	if (rx.got < 10000 && drops > 0)
		fail_msg("%d datagrams lost to a full receive queue (%ld drops)", 10000 - rx.got,
			 drops);
	assert_int_equal(rx.got, 10000);
	assert_int_equal(urs_cancel(st), 0);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	free(rx.seen);
	tu_close(rxs);
	tu_close(txs);
	tu_loop_done(loop);
}

static void test_10000_datagrams_v4(void **state)
{
	(void)state;
	ten_thousand("127.0.0.1:0", "udp");
}

static void test_10000_datagrams_v6(void **state)
{
	(void)state;
	ten_thousand("[::1]:0", "udp6");
}

static void test_10000_datagrams_fallback(void **state)
{
	(void)state;
	/* single-shot recvmsg re-armed, and our own buffers instead of a ring */
	urs_loop_opts o = { .disable = URS_FEAT_RECV_MULTI | URS_FEAT_BUF_RING };
	urs_loop *loop = tu_loop_new(&o);
	urs_addr ra, sa;
	urs_sock *rxs = udp_bound(loop, "127.0.0.1:0", &ra);
	urs_sock *txs = udp_bound(loop, "127.0.0.1:0", &sa);
	int big = 4 << 20;
	urs_setsockopt(rxs, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	struct seqrx rx = { calloc(10000, 1), 0, 0, 0, 0 };
	urs_future st = urs_recvfrom_stream(rxs, seq_cb, &rx);
	static char dgrams[2000][64];
	for (uint32_t i = 0; i < 2000; i++) {
		memcpy(dgrams[i], &i, 4);
		assert_int_equal(urs_detach(urs_sendto(txs, dgrams[i], 64, 0, &ra)), 0);
		urs_loop_run(loop, URS_RUN_NOWAIT); /* one datagram per receive: keep pace */
	}
	for (int spins = 0; rx.got < 2000 && spins < 10000; spins++)
		urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(rx.got, 2000);
	urs_cancel(st);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	free(rx.seen);
	tu_close(rxs);
	tu_close(txs);
	tu_loop_done(loop);
}

static void test_bad_input(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr a4, a6;
	urs_sock *s4 = udp_bound(loop, "127.0.0.1:0", &a4);
	urs_sock *s6 = udp_bound(loop, "[::1]:0", &a6);
	/* an address of another family */
	assert_int_equal(urs_future_error(urs_sendto(s4, "x", 1, 0, &a6)), -EAFNOSUPPORT);
	assert_int_equal(urs_future_error(urs_sendto(s4, "x", 1, 0, NULL)), -EINVAL);
	/* larger than a datagram can be */
	static char huge[70000];
	assert_int_equal(urs_await(urs_sendto(s4, huge, sizeof(huge), 0, &a4), NULL), -EMSGSIZE);
	assert_int_equal(urs_await(urs_sendto(s6, huge, sizeof(huge), 0, &a6), NULL), -EMSGSIZE);
	/* recvfrom on a stream socket */
	urs_sock *t;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &t), 0);
	assert_int_equal(urs_future_error(urs_recvfrom(t, 10, 0)), -EOPNOTSUPP);
	assert_int_equal(urs_future_error(urs_recvfrom_stream(t, (urs_cb)1, NULL)), -EOPNOTSUPP);
	/* send without a destination on an unconnected datagram socket */
	assert_int_equal(urs_await(urs_send(s4, "x", 1, 0), NULL), -EDESTADDRREQ);
	tu_close(t);
	tu_close(s4);
	tu_close(s6);
	tu_loop_done(loop);
}

struct dg {
	int n, trunc, whole;
};

static void dg_cb(urs_result *r, void *user)
{
	struct dg *d = user;
	if (!(r->flags & URS_RES_MORE))
		return;
	d->n++;
	if (r->flags & URS_RES_TRUNC)
		d->trunc++;
	else if (r->res == 100)
		d->whole++;
	urs_buf_release(&r->buf);
}

/* A datagram longer than 64 KiB is flagged by the recvfrom stream, with multishot recvmsg
 * and without; one longer than the loop's buffers but within 64 KiB is whole. */
/* Whole datagrams up to 64 KiB through recv, recvfrom and the recvfrom stream, whatever the
 * loop's buffer size, on every buffer path (ring or not, multishot or not); a longer
 * message (AF_UNIX can carry one) is flagged. */
struct dgw {
	int n, trunc;
	size_t lens[8];
	int ok;
	const char *want;
};

static void dgw_cb(urs_result *r, void *user)
{
	struct dgw *d = user;
	if (!(r->flags & URS_RES_MORE))
		return;
	if (d->n < 8)
		d->lens[d->n] = r->buf.len;
	if (r->flags & URS_RES_TRUNC)
		d->trunc++;
	if (r->res > 0 && !(r->flags & URS_RES_TRUNC) && r->buf.len == (uint32_t)r->res &&
	    !memcmp(r->buf.data, d->want, r->buf.len))
		d->ok++;
	d->n++;
	urs_buf_release(&r->buf);
}

static void whole(unsigned disable, int family)
{
	static char big[100000];
	tu_fill(big, sizeof(big), 3);
	urs_loop_opts o = { .disable = disable };
	urs_loop *loop = tu_loop_new(&o);
	urs_sock *a, *b;
	urs_addr ba;
	if (family == AF_UNIX) {
		urs_sock *sp[2];
		assert_int_equal(urs_socketpair(loop, SOCK_DGRAM, sp), 0);
		a = sp[0];
		b = sp[1];
		int sz = 1 << 20;
		urs_setsockopt(a, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		urs_setsockopt(b, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		ba.len = 0;
	} else {
		urs_addr any;
		urs_addr_parse(&any, family == AF_INET ? "127.0.0.1:0" : "[::1]:0");
		assert_int_equal(urs_socket(loop, family, SOCK_DGRAM, 0, &a), 0);
		assert_int_equal(urs_socket(loop, family, SOCK_DGRAM, 0, &b), 0);
		assert_int_equal(urs_bind(b, &any), 0);
		assert_int_equal(urs_getsockname(b, &ba), 0);
		tu_await_eq(urs_connect(a, &ba), 0, NULL);
	}
	size_t top = family == AF_INET ? 65507 : family == AF_INET6 ? 65527 : 65536;
	size_t sizes[] = { 9000, top };
	urs_result r;
	for (int i = 0; i < 2; i++) {
		tu_await_eq(urs_send(a, big, sizes[i], 0), (int)sizes[i], NULL);
		tu_await_eq(urs_recv(b, 65536, 0), (int)sizes[i], &r);
		assert_int_equal(r.flags & URS_RES_TRUNC, 0);
		assert_memory_equal(r.buf.data, big, sizes[i]);
		urs_buf_release(&r.buf);
		tu_await_eq(urs_send(a, big, sizes[i], 0), (int)sizes[i], NULL);
		tu_await_eq(urs_recvfrom(b, 65536, 0), (int)sizes[i], &r);
		assert_int_equal(r.flags & URS_RES_TRUNC, 0);
		assert_memory_equal(r.buf.data, big, sizes[i]);
		urs_buf_release(&r.buf);
		tu_await_eq(urs_send(a, big, sizes[i], 0), (int)sizes[i], NULL);
		char ctl[64];
		tu_await_eq(urs_recvmsg(b, 65536, ctl, sizeof(ctl), 0), (int)sizes[i], &r);
		assert_int_equal(r.flags & URS_RES_TRUNC, 0);
		assert_memory_equal(r.buf.data, big, sizes[i]);
		urs_buf_release(&r.buf);
	}
	/* Asked for fewer bytes than came: cut, and flagged. */
	tu_await_eq(urs_send(a, big, 9000, 0), 9000, NULL);
	tu_await_eq(urs_recv(b, 5000, 0), 5000, &r);
	assert_true(r.flags & URS_RES_TRUNC);
	urs_buf_release(&r.buf);
	struct dgw d = { .want = big };
	urs_future st = urs_recvfrom_stream(b, dgw_cb, &d);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	tu_await_eq(urs_send(a, big, 100, 0), 100, NULL);
	tu_await_eq(urs_send(a, big, 9000, 0), 9000, NULL);
	tu_await_eq(urs_send(a, big, top, 0), (int)top, NULL);
	int want = 3;
	if (family == AF_UNIX) {
		tu_await_eq(urs_send(a, big, sizeof(big), 0), (int)sizeof(big), NULL);
		want = 4;
	}
	for (int spins = 0; d.n < want && spins < 1000; spins++)
		urs_loop_run(loop, URS_RUN_ONCE);
	assert_int_equal(d.n, want);
	assert_int_equal(d.ok, 3);
	assert_int_equal(d.lens[2], top);
	assert_int_equal(d.trunc, want - 3); /* only the one over 64 KiB */
	assert_int_equal(urs_cancel(st), 0);
	tu_close(a);
	tu_close(b);
	tu_loop_done(loop);
}

static void test_whole_datagrams(void **state)
{
	(void)state;
	unsigned dis[] = { 0, URS_FEAT_RECV_MULTI, URS_FEAT_BUF_RING };
	int fam[] = { AF_INET, AF_INET6, AF_UNIX };
	for (int i = 0; i < 3; i++)
		for (int f = 0; f < 3; f++)
			whole(dis[i], fam[f]);
}

/* Python's recvfrom_into: (nbytes, address); a cut datagram is flagged. */
static void test_recvfrom_into(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr aa, ba;
	urs_sock *a = udp_bound(loop, "127.0.0.1:0", &aa);
	urs_sock *b = udp_bound(loop, "127.0.0.1:0", &ba);
	tu_await_eq(urs_sendto(a, "datagram", 8, 0, &ba), 8, NULL);
	char in[64];
	urs_result r;
	tu_await_eq(urs_recvfrom_into(b, in, sizeof(in), 0), 8, &r);
	assert_memory_equal(in, "datagram", 8);
	assert_int_equal(r.addr.len, sizeof(struct sockaddr_in));
	assert_int_equal(urs_addr_port(&r.addr), urs_addr_port(&aa));
	assert_int_equal(r.flags & URS_RES_TRUNC, 0);
	tu_await_eq(urs_sendto(a, "datagram", 8, 0, &ba), 8, NULL);
	tu_await_eq(urs_recvfrom_into(b, in, 3, 0), 3, &r);
	assert_true(r.flags & URS_RES_TRUNC);
	assert_memory_equal(in, "dat", 3);
	/* The next datagram is whole: the cut one's rest was dropped. */
	tu_await_eq(urs_sendto(a, "next", 4, 0, &ba), 4, NULL);
	tu_await_eq(urs_recvfrom_into(b, in, sizeof(in), 0), 4, &r);
	assert_memory_equal(in, "next", 4);
	/* Datagram urs_recv_into: the same truncation flag. */
	tu_await_eq(urs_sendto(a, "datagram", 8, 0, &ba), 8, NULL);
	tu_await_eq(urs_recv_into(b, in, 2, 0), 2, &r);
	assert_true(r.flags & URS_RES_TRUNC);
	assert_int_equal(urs_future_error(urs_recvfrom_into(b, NULL, 3, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_recvfrom_into(b, in, 0, 0)), -EINVAL);
	assert_int_equal(urs_settimeout(b, 0.02), 0);
	assert_int_equal(urs_await(urs_recvfrom_into(b, in, sizeof(in), 0), NULL), -ETIMEDOUT);
	tu_close(a);
	tu_close(b);
	/* On a TCP socket it reads the stream; the address is the peer's or none, as Python. */
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	tu_await_eq(urs_send(c, "tcp", 3, 0), 3, NULL);
	tu_await_eq(urs_recvfrom_into(s, in, sizeof(in), 0), 3, &r);
	assert_memory_equal(in, "tcp", 3);
	assert_int_equal(r.flags & URS_RES_TRUNC, 0);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_stream_truncation_flagged(void **state)
{
	(void)state;
	static char big[70000];
	memset(big, 'd', sizeof(big));
	for (int multi = 0; multi < 2; multi++) {
		/* A 3,000-byte datagram on a loop of 1 KiB buffers is whole (message buffers);
		 * only one over 64 KiB (AF_UNIX) is cut, and flagged. */
		urs_loop_opts o = { .buf_size = 1024, .disable = multi ? 0 : URS_FEAT_RECV_MULTI };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *a, *b;
		urs_addr aa;
		assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &a), 0);
		assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &b), 0);
		urs_addr_parse(&aa, "@urs-trunc-test");
		snprintf(aa.u.un.sun_path + 1, sizeof(aa.u.un.sun_path) - 1, "urs-trunc-%d-%d",
			 (int)getpid(), multi);
		aa.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
				     strlen(aa.u.un.sun_path + 1));
		assert_int_equal(urs_bind(a, &aa), 0);
		int sz = 1 << 20;
		urs_setsockopt(a, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		urs_setsockopt(b, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		struct dg d = { 0 };
		urs_future st = urs_recvfrom_stream(a, dg_cb, &d);
		urs_loop_run(loop, URS_RUN_NOWAIT);
		tu_await_eq(urs_sendto(b, big, 100, 0, &aa), 100, NULL);
		tu_await_eq(urs_sendto(b, big, 3000, 0, &aa), 3000, NULL);
		tu_await_eq(urs_sendto(b, big, sizeof(big), 0, &aa), (int)sizeof(big), NULL);
		tu_await_eq(urs_sendto(b, big, 100, 0, &aa), 100, NULL);
		for (int spins = 0; d.n < 4 && spins < 1000; spins++)
			urs_loop_run(loop, URS_RUN_ONCE);
		assert_int_equal(d.n, 4);
		assert_int_equal(d.trunc, 1);
		assert_int_equal(d.whole, 2);
		assert_int_equal(urs_cancel(st), 0);
		tu_close(a);
		tu_close(b);
		tu_loop_done(loop);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_v4),
		cmocka_unit_test(test_basic_v6),
		cmocka_unit_test(test_10000_datagrams_v4),
		cmocka_unit_test(test_10000_datagrams_v6),
		cmocka_unit_test(test_10000_datagrams_fallback),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_stream_truncation_flagged),
		cmocka_unit_test(test_whole_datagrams),
		cmocka_unit_test(test_recvfrom_into),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
