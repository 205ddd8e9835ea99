/* SPDX-License-Identifier: MIT */
/* AF_UNIX: stream, datagram and seqpacket; paths and abstract names; socketpair. Every path
 * a test creates lives in its own temporary directory and is removed. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/ursock-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir); /* fails if a test left a path behind */
}

static void path_in_dir(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void stream_echo(const char *text)
{
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr a;
	assert_int_equal(urs_addr_parse(&a, text), 0);
	urs_sock *l, *c;
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_STREAM, 0, &l), 0);
	assert_int_equal(urs_bind(l, &a), 0);
	assert_int_equal(urs_listen(l, 16), 0);
	urs_addr got;
	char buf[URS_ADDR_STRLEN];
	assert_int_equal(urs_getsockname(l, &got), 0);
	assert_true(urs_addr_format(&got, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, text);
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_STREAM, 0, &c), 0);
	urs_future acc = urs_accept(l);
	tu_await_eq(urs_connect(c, &a), 0, NULL);
	urs_result r;
	tu_await_eq(acc, 0, &r);
	urs_sock *s = r.sock;
	/* The client did not bind: its address is unnamed. */
	assert_int_equal(r.addr.u.sa.sa_family, AF_UNIX);
	assert_int_equal(urs_addr_format(&r.addr, buf, sizeof(buf)), 0);
	assert_int_equal(urs_getpeername(c, &got), 0);
	urs_addr_format(&got, buf, sizeof(buf));
	assert_string_equal(buf, text);
	tu_await_eq(urs_sendall(c, "over unix", 9, 0), 0, NULL);
	tu_await_eq(urs_recv(s, 64, 0), 9, &r);
	assert_memory_equal(r.buf.data, "over unix", 9);
	urs_buf_release(&r.buf);
	tu_close(c);
	tu_close(s);
	tu_close(l);
	tu_loop_done(loop);
}

static void test_stream_path(void **state)
{
	(void)state;
	char p[128];
	path_in_dir(p, sizeof(p), "stream.sock");
	stream_echo(p);
	/* close removes nothing: the path is still there, and it is ours to remove */
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(unlink(p), 0);
}

static void test_stream_abstract(void **state)
{
	(void)state;
	char name[64];
	snprintf(name, sizeof(name), "@ursock-test-%d", (int)getpid());
	stream_echo(name);
}

static void test_dgram_sender_address(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	char pa[128], pb[128];
	path_in_dir(pa, sizeof(pa), "a.sock");
	path_in_dir(pb, sizeof(pb), "b.sock");
	urs_addr aa, ab;
	urs_addr_parse(&aa, pa);
	urs_addr_parse(&ab, pb);
	urs_sock *a, *b, *anon;
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &a), 0);
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &b), 0);
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &anon), 0);
	assert_int_equal(urs_bind(a, &aa), 0);
	assert_int_equal(urs_bind(b, &ab), 0);
	tu_await_eq(urs_sendto(a, "from a", 6, 0, &ab), 6, NULL);
	urs_result r;
	tu_await_eq(urs_recvfrom(b, 64, 0), 6, &r);
	char text[URS_ADDR_STRLEN];
	urs_addr_format(&r.addr, text, sizeof(text));
	assert_string_equal(text, pa);
	urs_buf_release(&r.buf);
	/* An unbound sender has no name. */
	tu_await_eq(urs_sendto(anon, "anon", 4, 0, &ab), 4, NULL);
	tu_await_eq(urs_recvfrom(b, 64, 0), 4, &r);
	assert_int_equal(urs_addr_format(&r.addr, text, sizeof(text)), 0);
	urs_buf_release(&r.buf);
	/* zero-length datagram */
	tu_await_eq(urs_sendto(a, NULL, 0, 0, &ab), 0, NULL);
	tu_await_eq(urs_recvfrom(b, 64, 0), 0, &r);
	urs_buf_release(&r.buf);
	tu_close(a);
	tu_close(b);
	tu_close(anon);
	unlink(pa);
	unlink(pb);
	tu_loop_done(loop);
}

struct sizes {
	size_t want[200];
	int n, next, bad;
};

static void seq_cb(urs_result *r, void *user)
{
	struct sizes *sz = user;
	if (!(r->flags & URS_RES_MORE))
		return;
	if (sz->next >= sz->n || r->buf.len != sz->want[sz->next])
		sz->bad++;
	for (uint32_t i = 0; i < r->buf.len; i++)
		if ((unsigned char)r->buf.data[i] != (unsigned char)sz->next)
			sz->bad++;
	sz->next++;
	urs_buf_release(&r->buf);
}

/* Seqpacket keeps message boundaries: many sizes, each arrives whole and alone. */
static void test_seqpacket_boundaries(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	char p[128];
	path_in_dir(p, sizeof(p), "seq.sock");
	urs_addr a;
	urs_addr_parse(&a, p);
	urs_sock *l, *c;
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_SEQPACKET, 0, &l), 0);
	assert_int_equal(urs_bind(l, &a), 0);
	assert_int_equal(urs_listen(l, 4), 0);
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_SEQPACKET, 0, &c), 0);
	urs_future acc = urs_accept(l);
	tu_await_eq(urs_connect(c, &a), 0, NULL);
	urs_result r;
	tu_await_eq(acc, 0, &r);
	urs_sock *s = r.sock;
	struct sizes sz = { .n = 100 };
	static char msg[100][4000];
	for (int i = 0; i < sz.n; i++) {
		sz.want[i] = (size_t)(1 + (i * 397) % 4000);
		memset(msg[i], i, sz.want[i]);
		assert_int_equal(urs_detach(urs_send(c, msg[i], sz.want[i], 0)), 0);
	}
	urs_future st = urs_recv_stream(s, seq_cb, &sz);
	for (int spins = 0; sz.next < sz.n && spins < 10000; spins++)
		urs_loop_run(loop, URS_RUN_ONCE);
	assert_int_equal(sz.next, sz.n);
	assert_int_equal(sz.bad, 0);
	urs_cancel(st);
	/* recvfrom on seqpacket is fine too, and EOF is 0 */
	tu_await_eq(urs_send(c, "end", 3, 0), 3, NULL);
	tu_await_eq(urs_recvfrom(s, 100, 0), 3, &r);
	urs_buf_release(&r.buf);
	tu_await_eq(urs_shutdown(c, SHUT_WR), 0, NULL);
	tu_await_eq(urs_recv(s, 100, 0), 0, NULL);
	tu_close(c);
	tu_close(s);
	tu_close(l);
	unlink(p);
	tu_loop_done(loop);
}

struct msgs {
	int n, trunc;
	int res[8];
	unsigned flags[8];
};

static void msgs_cb(urs_result *r, void *user)
{
	struct msgs *m = user;
	if (!(r->flags & URS_RES_MORE))
		return;
	if (m->n < 8) {
		m->res[m->n] = r->res;
		m->flags[m->n] = r->flags;
	}
	m->n++;
	assert_int_equal((uint32_t)r->res, r->buf.len);
	urs_buf_release(&r->buf);
}

/* Defect 9: a seqpacket message longer than the room for it is flagged URS_RES_TRUNC by
 * every receive — never silently cut — and the next message is whole. */
static void test_seqpacket_truncation_flagged(void **state)
{
	(void)state;
	static char big[70000];
	memset(big, 'm', sizeof(big));
	for (int multi = 0; multi < 2; multi++) {
		urs_loop_opts o = { .disable = multi ? 0 : URS_FEAT_RECV_MULTI };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_SEQPACKET, p), 0);
		urs_result r;
		char small[100];
		/* recv into a provided buffer: a message buffer for a receive of more than the
		 * loop's 4096 bytes, so 10,000 bytes come whole; past 64 KiB it is cut */
		tu_await_eq(urs_send(p[0], big, 10000, 0), 10000, NULL);
		tu_await_eq(urs_recv(p[1], 65536, 0), 10000, &r);
		assert_false(r.flags & URS_RES_TRUNC);
		urs_buf_release(&r.buf);
		tu_await_eq(urs_send(p[0], big, sizeof(big), 0), (int)sizeof(big), NULL);
		tu_await_eq(urs_recv(p[1], 65536, 0), 65536, &r);
		assert_true(r.flags & URS_RES_TRUNC);
		urs_buf_release(&r.buf);
		tu_await_eq(urs_send(p[0], big, 10, 0), 10, NULL);
		tu_await_eq(urs_recv(p[1], 65536, 0), 10, &r);
		assert_false(r.flags & URS_RES_TRUNC);
		urs_buf_release(&r.buf);
		/* recv into the caller's memory */
		tu_await_eq(urs_send(p[0], big, 1000, 0), 1000, NULL);
		tu_await_eq(urs_recv_into(p[1], small, sizeof(small), 0), (int)sizeof(small), &r);
		assert_true(r.flags & URS_RES_TRUNC);
		/* the stream of messages (multishot recvmsg, or one recvmsg at a time) */
		struct msgs m = { 0 };
		tu_await_eq(urs_send(p[0], big, 100, 0), 100, NULL);
		tu_await_eq(urs_send(p[0], big, sizeof(big), 0), (int)sizeof(big), NULL);
		tu_await_eq(urs_send(p[0], big, 50, 0), 50, NULL);
		urs_future st = urs_recv_stream(p[1], msgs_cb, &m);
		for (int spins = 0; m.n < 3 && spins < 1000; spins++)
			urs_loop_run(loop, URS_RUN_ONCE);
		assert_int_equal(m.n, 3);
		assert_int_equal(m.res[0], 100);
		assert_false(m.flags[0] & URS_RES_TRUNC);
		assert_true(m.flags[1] & URS_RES_TRUNC);
		assert_true(m.res[1] > 0 && m.res[1] < (int)sizeof(big));
		assert_int_equal(m.res[2], 50);
		assert_false(m.flags[2] & URS_RES_TRUNC);
		assert_int_equal(urs_cancel(st), 0);
		tu_close(p[0]);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

/* Fuzz defect 5 (fuzz/repro/seqpacket_waitall_merges.c): MSG_WAITALL on a seqpacket
 * receive is ignored, as a receive there is one message: io_uring retries a short
 * MSG_WAITALL receive on a seqpacket socket as on a stream, and three 2000-byte messages
 * came back as one "message" of 4096 bytes (two glued, the third cut and its rest lost). */
static void test_seqpacket_waitall_one_message(void **state)
{
	(void)state;
	static char msg[3][2000], into[4096];
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_SEQPACKET, p), 0);
	for (int i = 0; i < 3; i++) {
		memset(msg[i], 'a' + i, sizeof(msg[i]));
		tu_await_eq(urs_send(p[0], msg[i], sizeof(msg[i]), 0), (int)sizeof(msg[i]), NULL);
	}
	assert_int_equal(urs_settimeout(p[1], 1.0), 0); /* nothing here may wait for more */
	urs_result r;
	tu_await_eq(urs_recv_into(p[1], into, sizeof(into), MSG_WAITALL), 2000, &r);
	assert_false(r.flags & URS_RES_TRUNC);
	assert_memory_equal(into, msg[0], 2000);
	tu_await_eq(urs_recv(p[1], 4096, MSG_WAITALL), 2000, &r);
	assert_false(r.flags & URS_RES_TRUNC);
	assert_memory_equal(r.buf.data, msg[1], 2000);
	urs_buf_release(&r.buf);
	tu_await_eq(urs_recvfrom(p[1], 4096, MSG_WAITALL), 2000, &r);
	assert_memory_equal(r.buf.data, msg[2], 2000);
	urs_buf_release(&r.buf);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* MSG_WAITALL on a stream waits for every byte asked (io_uring retries the receive, a
 * blocking recv(2) waits; the epoll backend returned the first 3 of 10), and what came
 * before a timeout, the peer's close or a cancel is the result, with its bytes. */
static void test_stream_waitall_waits(void **state)
{
	(void)state;
	for (int into = 0; into < 2; into++) {
		urs_loop *loop = tu_loop_new(NULL);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		assert_int_equal(urs_settimeout(p[1], 0.2), 0);
		char buf[16];
		urs_result r;
		urs_future f;
		for (int end = 0; end < 4; end++) {
			/* end 0: the rest comes; 1: the timeout; 2: a cancel; 3: the peer closes */
			tu_await_eq(urs_send(p[0], "abc", 3, 0), 3, NULL);
			f = into ? urs_recv_into(p[1], buf, 10, MSG_WAITALL)
				 : urs_recv(p[1], 10, MSG_WAITALL);
			for (int i = 0; i < 3; i++)
				assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
			if (end == 0)
				tu_await_eq(urs_send(p[0], "defghijklm", 10, 0), 10, NULL);
			else if (end == 2)
				assert_int_equal(urs_cancel(f), 0);
			else if (end == 3)
				tu_close(p[0]);
			tu_await_eq(f, end == 0 ? 10 : 3, &r);
			const char *got = into ? buf : r.buf.data;
			assert_memory_equal(got, end == 0 ? "abcdefghij" : "abc", end == 0 ? 10 : 3);
			urs_buf_release(&r.buf);
			if (end == 0) { /* what is left of the second send */
				tu_await_eq(urs_recv(p[1], 16, 0), 3, &r);
				assert_memory_equal(r.buf.data, "klm", 3);
				urs_buf_release(&r.buf);
			}
		}
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

struct ends {
	int events, empty, finals, res;
};

static void ends_cb(urs_result *r, void *user)
{
	struct ends *e = user;
	if (r->flags & URS_RES_MORE) {
		e->events++;
		e->empty += r->res == 0;
	} else {
		e->finals++;
		e->res = r->res;
	}
	urs_buf_release(&r->buf);
}

/* Runs the loop until e has its final result, at most about a second (a timer per turn). */
static void run_until_final(urs_loop *loop, struct ends *e)
{
	for (int i = 0; i < 100 && !e->finals; i++) {
		assert_int_equal(urs_detach(urs_sleep(loop, 0.01)), 0);
		assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
	}
}

/* Fuzz defect 4 (fuzz/repro/seqpacket_end_as_event.c): a seqpacket receive stream ends with
 * res 0 when the peer closes, once, with no empty "message" events (multishot recvmsg posted
 * an empty event per buffer at the end instead of ending). */
static void test_seqpacket_stream_ends_at_close(void **state)
{
	(void)state;
	for (int multi = 0; multi < 2; multi++) {
		urs_loop_opts o = { .disable = multi ? 0 : URS_FEAT_RECV_MULTI };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_SEQPACKET, p), 0);
		struct ends e = { 0 };
		assert_int_equal(urs_future_error(urs_recv_stream(p[1], ends_cb, &e)), 0);
		tu_await_eq(urs_send(p[0], "one", 3, 0), 3, NULL);
		tu_close(p[0]);
		run_until_final(loop, &e);
		assert_int_equal(e.events, 1);
		assert_int_equal(e.empty, 0);
		assert_int_equal(e.finals, 1);
		assert_int_equal(e.res, 0);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

/* Fuzz defect 6 (fuzz/repro/dgram_shut_rd_spin.c): after its own shutdown(SHUT_RD) a
 * datagram socket's receives answer 0 at once where they would wait; a receive stream on it
 * delivers what was queued, then ends with res 0 — it spun on those zeros, delivering an
 * empty "datagram" per turn (one recvmsg at a time), or never ended (a multishot recvmsg
 * armed before the shutdown; epoll). */
static void test_dgram_shut_rd_ends_streams(void **state)
{
	(void)state;
	for (int mode = 0; mode < 4; mode++) {
		bool multi = mode & 1, armed_before = mode & 2;
		urs_loop_opts o = { .disable = multi ? 0 : URS_FEAT_RECV_MULTI };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_DGRAM, p), 0);
		struct ends e = { 0 };
		tu_await_eq(urs_send(p[1], "a", 1, 0), 1, NULL);
		tu_await_eq(urs_send(p[1], "b", 1, 0), 1, NULL);
		if (armed_before) {
			assert_int_equal(urs_future_error(urs_recvfrom_stream(p[0], ends_cb, &e)), 0);
			for (int i = 0; i < 100 && e.events < 2; i++)
				assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
		}
		tu_await_eq(urs_shutdown(p[0], SHUT_RD), 0, NULL);
		if (!armed_before)
			assert_int_equal(urs_future_error(urs_recvfrom_stream(p[0], ends_cb, &e)), 0);
		run_until_final(loop, &e);
		assert_int_equal(e.events, 2);
		assert_int_equal(e.empty, 0);
		assert_int_equal(e.finals, 1);
		assert_int_equal(e.res, 0);
		/* A single receive too (bounded: it would otherwise time out). */
		assert_int_equal(urs_settimeout(p[0], 1.0), 0);
		tu_await_eq(urs_recvfrom(p[0], 16, 0), 0, NULL);
		tu_await_eq(urs_recv(p[0], 16, 0), 0, NULL);
		/* A non-blocking one answers as recv(2) does: nothing now. */
		tu_await_eq(urs_recv(p[0], 16, MSG_DONTWAIT), -EAGAIN, NULL);
		tu_close(p[0]);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

static void test_socketpair_every_type(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
	for (int t = 0; t < 3; t++) {
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, types[t], p), 0);
		assert_int_equal(urs_sock_type(p[0]), types[t]);
		tu_await_eq(urs_send(p[0], "pair", 4, 0), 4, NULL);
		urs_result r;
		tu_await_eq(urs_recv(p[1], 16, 0), 4, &r);
		assert_memory_equal(r.buf.data, "pair", 4);
		urs_buf_release(&r.buf);
		tu_close(p[0]);
		tu_close(p[1]);
	}
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_RDM, p), -ESOCKTNOSUPPORT);
	tu_loop_done(loop);
}

static void test_bad_names(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr a;
	char longp[200];
	memset(longp, 'x', sizeof(longp));
	longp[0] = '/';
	longp[199] = '\0';
	assert_int_equal(urs_addr_parse(&a, longp), -ENAMETOOLONG);
	/* Abstract names with embedded NULs are names of their own, as Linux has them: built
	 * from a sockaddr with an explicit length. */
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	memcpy(sun.sun_path, "\0ab\0cd", 6);
	urs_addr_from_sockaddr(&a, (struct sockaddr *)&sun,
			       (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 6));
	urs_sock *s, *c;
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &s), 0);
	assert_int_equal(urs_bind(s, &a), 0);
	urs_addr got;
	assert_int_equal(urs_getsockname(s, &got), 0);
	assert_int_equal(got.len, a.len);
	assert_memory_equal(got.u.un.sun_path, "\0ab\0cd", 6);
	char text[URS_ADDR_STRLEN];
	assert_int_equal(urs_addr_format(&got, text, sizeof(text)), 6);
	assert_string_equal(text, "@ab@cd");
	assert_int_equal(urs_socket(loop, AF_UNIX, SOCK_DGRAM, 0, &c), 0);
	tu_await_eq(urs_sendto(c, "nul", 3, 0, &a), 3, NULL);
	tu_await_eq(urs_recv(s, 8, 0), 3, NULL);
	/* A name that is only a prefix of it is another name: nobody there. */
	urs_addr prefix = a;
	prefix.len -= 3;
	assert_int_equal(urs_await(urs_sendto(c, "x", 1, 0, &prefix), NULL), -ECONNREFUSED);
	/* wrong family for the socket */
	urs_addr in;
	urs_addr_parse(&in, "127.0.0.1:1");
	assert_int_equal(urs_bind(c, &in), -EAFNOSUPPORT);
	tu_close(s);
	tu_close(c);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_path),
		cmocka_unit_test(test_stream_abstract),
		cmocka_unit_test(test_dgram_sender_address),
		cmocka_unit_test(test_seqpacket_boundaries),
		cmocka_unit_test(test_seqpacket_truncation_flagged),
		cmocka_unit_test(test_seqpacket_waitall_one_message),
		cmocka_unit_test(test_stream_waitall_waits),
		cmocka_unit_test(test_seqpacket_stream_ends_at_close),
		cmocka_unit_test(test_dgram_shut_rd_ends_streams),
		cmocka_unit_test(test_socketpair_every_type),
		cmocka_unit_test(test_bad_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
