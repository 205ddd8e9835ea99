/* SPDX-License-Identifier: MIT */
/* Receives that do not waste buffers (issue 16 item 3): incremental buffer consumption
 * (URS_FEAT_BUF_INC, kernel-notes/incremental-buffers.md) lends pieces of one buffer, and a
 * buffer goes back only when the kernel is done with it and every piece is released; recv
 * bundles (URS_FEAT_RECV_BUNDLE, kernel-notes/recv-bundles.md) deliver a completion's
 * buffers as consecutive stream events; datagrams keep arriving whole beside a partly
 * filled buffer. Each case runs with the features on (where the kernel has them) and
 * turned off through the disable mask, on both backends. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The feature sets every case runs under: all on, no incremental buffers, no bundles,
 * neither, no buffer ring at all. */
static const unsigned modes[] = {
	0,
	URS_FEAT_BUF_INC,
	URS_FEAT_RECV_BUNDLE,
	URS_FEAT_BUF_INC | URS_FEAT_RECV_BUNDLE,
	URS_FEAT_BUF_RING,
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static bool has_inc(urs_loop *loop)
{
	return urs_loop_features(loop) & URS_FEAT_BUF_INC;
}

static void send_all(urs_sock *s, const void *data, size_t len)
{
	urs_result r;
	tu_await_eq(urs_sendall(s, data, len, 0), 0, &r);
	assert_int_equal(r.sent, len);
}

/* ---------------------------------------------------------------- pieces */

/* Small messages held at once: with an incremental ring they are consecutive pieces of one
 * buffer, so 32 held 64-byte messages take one 4 KiB buffer of the four; without it each
 * takes a buffer of its own. */
static void test_small_messages_share_a_buffer(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		urs_loop_opts o = { .buf_count = 64, .buf_size = 4096, .disable = modes[m] };
		urs_loop *loop = tu_loop_new(&o);
		bool inc = has_inc(loop);
		if (!strcmp(tu_backend(loop), "io_uring") && !(modes[m] & (URS_FEAT_BUF_INC |
									    URS_FEAT_BUF_RING)))
			assert_true(inc); /* this kernel (6.18) has it: the case must run */
		assert_true(!inc || !(modes[m] & URS_FEAT_BUF_INC));
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		urs_result held[32];
		for (int i = 0; i < 32; i++) {
			char msg[64];
			memset(msg, 'a' + i % 26, sizeof(msg));
			send_all(p[0], msg, sizeof(msg));
			tu_await_eq(urs_recv(p[1], 64, 0), 64, &held[i]);
		}
		for (int i = 0; i < 32; i++) {
			for (int k = 0; k < 64; k++)
				assert_int_equal(held[i].buf.data[k], 'a' + i % 26);
			ptrdiff_t d = held[i].buf.data - held[0].buf.data;
			if (inc)
				assert_int_equal(d, 64 * i); /* one after the other in one buffer */
			else
				assert_int_equal(d % 4096, 0); /* a buffer each */
		}
		urs_loop_stats st;
		urs_loop_stats_get(loop, &st);
		assert_int_equal(st.bufs_lent, 32);
		/* Released in an odd order: odd ones backwards, then even ones. */
		for (int i = 31; i >= 0; i -= 2)
			assert_int_equal(urs_buf_release(&held[i].buf), 0);
		for (int i = 0; i < 32; i += 2)
			assert_int_equal(urs_buf_release(&held[i].buf), 0);
		urs_loop_stats_get(loop, &st);
		assert_int_equal(st.bufs_lent, 0);
		tu_close(p[0]);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

/* 64 pieces of 64 bytes fill a 4 KiB buffer exactly. Fills both buffers of a two-buffer
 * loop, keeping piece keep_a of the first and keep_b of the second: then no buffer is free
 * until one of them is released. */
static void fill_two(urs_sock *p[2], int keep_a, int keep_b, urs_result *ka, urs_result *kb)
{
	for (int b = 0; b < 2; b++) {
		for (int i = 0; i < 64; i++) {
			char msg[64];
			memset(msg, b ? 'B' : 'A', sizeof(msg));
			msg[0] = (char)i;
			send_all(p[0], msg, sizeof(msg));
			urs_result r;
			tu_await_eq(urs_recv(p[1], 64, 0), 64, &r);
			assert_int_equal(r.buf.data[0], (char)i);
			if (i == (b ? keep_b : keep_a))
				*(b ? kb : ka) = r;
			else
				assert_int_equal(urs_buf_release(&r.buf), 0);
		}
	}
}

/* A buffer goes back to the kernel only when the kernel has finished it (no BUF_MORE) and
 * every piece lent from it has been released: one held piece keeps its whole buffer, and
 * releasing it lets a waiting receive land at the buffer's start. */
static void test_buffer_back_after_last_piece(void **state)
{
	(void)state;
	urs_loop_opts o = { .buf_count = 2, .buf_size = 4096 };
	urs_loop *loop = tu_loop_new(&o);
	if (!has_inc(loop)) {
		print_message("no incremental buffers here (%s): skipping\n",
			      urs_loop_features_str(loop));
		urs_loop_free(loop);
		skip();
	}
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_result a, b;
	fill_two(p, 0, 5, &a, &b);
	char *base_a = a.buf.data; /* piece 0: the first buffer's start */
	/* Nothing free: a receive waits, and a wait nothing can end says so. */
	send_all(p[0], "next", 4);
	urs_future f = urs_recv(p[1], 64, 0);
	assert_int_equal(urs_await(f, NULL), -ENOBUFS);
	/* Released while the kernel is done with it: the buffer goes back and the waiting
	 * receive lands at its start. */
	assert_int_equal(urs_buf_release(&a.buf), 0);
	urs_result r;
	tu_await_eq(f, 4, &r);
	assert_ptr_equal(r.buf.data, base_a);
	assert_memory_equal(r.buf.data, "next", 4);
	/* The other held piece was never overwritten. */
	assert_int_equal(b.buf.data[0], 5);
	for (int k = 1; k < 64; k++)
		assert_int_equal(b.buf.data[k], 'B');
	assert_int_equal(urs_buf_release(&r.buf), 0);
	assert_int_equal(urs_buf_release(&b.buf), 0);
	/* Both back: 8 KiB fit again with nothing released in between... */
	urs_result many[2];
	char big[4096];
	memset(big, 'x', sizeof(big));
	send_all(p[0], big, sizeof(big));
	int got = 0;
	for (int i = 0; got < 4096 && i < 2; i++) {
		int n = urs_await(urs_recv(p[1], 4096, 0), &many[i]);
		assert_true(n > 0);
		got += n;
	}
	assert_int_equal(got, 4096);
	for (int i = 0; i < 2 && many[i].buf.len; i++)
		urs_buf_release(&many[i].buf);
	/* ...and a piece kept while the kernel still fills its buffer does not send it back
	 * when released (the kernel is not done): the next piece follows it. */
	urs_result c, d;
	send_all(p[0], "cc", 2);
	tu_await_eq(urs_recv(p[1], 64, 0), 2, &c);
	char *after = c.buf.data + 2;
	assert_int_equal(urs_buf_release(&c.buf), 0);
	send_all(p[0], "dd", 2);
	tu_await_eq(urs_recv(p[1], 64, 0), 2, &d);
	assert_ptr_equal(d.buf.data, after);
	assert_int_equal(urs_buf_release(&d.buf), 0);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* Handles stay checked per piece: a second release, a stale copy of a piece whose slot was
 * lent again, a made-up generation and a made-up slot are refused, and change nothing. */
static void test_piece_handle_misuse(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		urs_loop_opts o = { .buf_count = 4, .disable = modes[m] };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		urs_result r1, r2, r3;
		send_all(p[0], "one", 3);
		tu_await_eq(urs_recv(p[1], 3, 0), 3, &r1);
		send_all(p[0], "two", 3);
		tu_await_eq(urs_recv(p[1], 3, 0), 3, &r2);
		assert_int_not_equal(r1.buf.id, r2.buf.id);
		urs_buf copy = r1.buf;
		assert_int_equal(urs_buf_release(&r1.buf), 0);
		assert_int_equal(urs_buf_release(&r1.buf), 0); /* emptied view: nothing */
		assert_int_equal(urs_buf_release(&copy), -EALREADY);
		send_all(p[0], "six", 3);
		tu_await_eq(urs_recv(p[1], 3, 0), 3, &r3);
		if (has_inc(loop))
			assert_int_equal(r3.buf.id, copy.id); /* r1's slot, lent again */
		assert_int_equal(urs_buf_release(&copy), -EALREADY);
		urs_buf forged = r2.buf;
		forged.gen += 1000;
		assert_int_equal(urs_buf_release(&forged), -EINVAL);
		if (has_inc(loop)) {
			/* r2 is a piece beyond its buffer's first: an extra slot. The one
			 * after it was never lent. */
			forged = r2.buf;
			forged.id = r2.buf.id + 1;
			assert_int_equal(urs_buf_release(&forged), -EINVAL);
		}
		forged.id = 1u << 30;
		assert_int_equal(urs_buf_release(&forged), -EINVAL);
		urs_loop_stats st;
		urs_loop_stats_get(loop, &st);
		assert_int_equal(st.bufs_lent, 2);
		/* Had a refused release freed a buffer, more data would overwrite it. */
		char fill[3000];
		memset(fill, 'f', sizeof(fill));
		send_all(p[0], fill, sizeof(fill));
		urs_result rf;
		int n = urs_await(urs_recv(p[1], sizeof(fill), 0), &rf);
		assert_true(n > 0);
		assert_memory_equal(r2.buf.data, "two", 3);
		assert_memory_equal(r3.buf.data, "six", 3);
		urs_buf_release(&rf.buf);
		assert_int_equal(urs_buf_release(&r2.buf), 0);
		assert_int_equal(urs_buf_release(&r3.buf), 0);
		tu_close(p[0]);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

/* A MSG_WAITALL receive that waits for its second part (one completion of 10 bytes):
 * the next receive must not land over its bytes. On 6.18 the kernel accounts only the
 * first part in an incremental buffer, so such receives take plain buffers. */
static void test_waitall_beside_pieces(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		urs_loop_opts o = { .buf_count = 4, .disable = modes[m] };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		send_all(p[0], "abc", 3);
		urs_future f = urs_recv(p[1], 10, MSG_WAITALL);
		for (int i = 0; i < 3; i++)
			assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
		send_all(p[0], "defghijklm", 10);
		urs_result r, r2;
		tu_await_eq(f, 10, &r);
		tu_await_eq(urs_recv(p[1], 16, 0), 3, &r2);
		assert_memory_equal(r2.buf.data, "klm", 3);
		assert_memory_equal(r.buf.data, "abcdefghij", 10);
		urs_buf_release(&r.buf);
		urs_buf_release(&r2.buf);
		tu_close(p[0]);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

/* ---------------------------------------------------------------- datagrams */

/* The kernel would cut a datagram at the end of a partly filled incremental buffer: beside
 * one (a stream's pieces held in it), datagrams of every size still arrive whole — small
 * ones in plain buffers of the loop's size, large ones in 64 KiB message buffers. */
static void test_datagrams_beside_partial_buffer(void **state)
{
	(void)state;
	for (size_t m = 0; m < NMODES; m++) {
		urs_loop_opts o = { .buf_count = 4, .buf_size = 4096, .disable = modes[m] };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *s[2], *d[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, s), 0);
		assert_int_equal(urs_socketpair(loop, SOCK_DGRAM, d), 0);
		char pad[4000];
		memset(pad, 'p', sizeof(pad));
		send_all(s[0], pad, sizeof(pad));
		urs_result held;
		tu_await_eq(urs_recv(s[1], sizeof(pad), 0), (int)sizeof(pad), &held);
		static char dg[60000];
		tu_fill(dg, sizeof(dg), (uint32_t)m);
		const size_t sizes[] = { 1000, 4096, 60000 };
		for (size_t k = 0; k < 3; k++) {
			tu_await_eq(urs_send(d[0], dg, sizes[k], 0), (int)sizes[k], NULL);
			urs_result r;
			size_t want = sizes[k] > 4096 ? 65536 : 4096;
			tu_await_eq(urs_recv(d[1], want, 0), (int)sizes[k], &r);
			assert_false(r.flags & URS_RES_TRUNC);
			assert_memory_equal(r.buf.data, dg, sizes[k]);
			urs_buf_release(&r.buf);
		}
		/* The held stream piece is intact, and the stream goes on after it. */
		for (size_t k = 0; k < sizeof(pad); k++)
			assert_int_equal(held.buf.data[k], 'p');
		send_all(s[0], "tail", 4);
		urs_result t;
		tu_await_eq(urs_recv(s[1], 64, 0), 4, &t);
		assert_memory_equal(t.buf.data, "tail", 4);
		urs_buf_release(&t.buf);
		urs_buf_release(&held.buf);
		for (int i = 0; i < 2; i++) {
			tu_close(s[i]);
			tu_close(d[i]);
		}
		tu_loop_done(loop);
	}
}

/* ---------------------------------------------------------------- streams under attack */

enum { MAXHELD = 4096 };

struct sink {
	urs_loop *loop;
	urs_sock *sock;
	const unsigned char *want; /* the bytes that must arrive, in order */
	size_t len, got;
	urs_buf held[MAXHELD];
	int nheld;
	int events, ended, end_res;
	int stop_at;   /* at this event: 1 cancel the stream, 2 free the socket */
	int stop_how;
	urs_future stream;
	bool hold;     /* keep pieces (released by the test) rather than at once */
};

static void sink_cb(urs_result *r, void *user)
{
	struct sink *k = user;
	if (!(r->flags & URS_RES_MORE)) {
		k->ended++;
		k->end_res = r->res;
		urs_buf_release(&r->buf);
		return;
	}
	k->events++;
	if (r->res > 0) {
		assert_true(k->got + (size_t)r->res <= k->len);
		assert_int_equal(r->buf.len, (uint32_t)r->res);
		assert_memory_equal(r->buf.data, k->want + k->got, (size_t)r->res);
		k->got += (size_t)r->res;
		if (k->hold && k->nheld < MAXHELD)
			k->held[k->nheld++] = r->buf;
		else
			assert_int_equal(urs_buf_release(&r->buf), 0);
	}
	if (k->events == k->stop_at) {
		if (k->stop_how == 1) {
			assert_int_equal(urs_cancel(k->stream), 0);
		} else if (k->stop_how == 2) {
			urs_sock_free(k->sock);
			k->sock = NULL;
		}
	}
}

static struct sink *sink_new(urs_loop *loop, urs_sock *sock, const unsigned char *want,
			     size_t len, bool hold)
{
	struct sink *k = calloc(1, sizeof(*k));
	assert_non_null(k);
	k->loop = loop;
	k->sock = sock;
	k->want = want;
	k->len = len;
	k->hold = hold;
	return k;
}

/* Releases what the sink holds, odd ones backwards first, then the even ones. */
static void sink_release(struct sink *k)
{
	for (int i = k->nheld - 1 - k->nheld % 2; i >= 0; i -= 2)
		assert_int_equal(urs_buf_release(&k->held[i]), 0);
	for (int i = 0; i < k->nheld; i += 2)
		assert_int_equal(urs_buf_release(&k->held[i]), 0);
	k->nheld = 0;
}

/* A stream whose receiver holds every piece until the loop stalls for want of buffers,
 * then releases them in an odd order: every byte arrives once, in order, through any
 * number of waits for buffers. */
static void test_stream_exhausts_buffers(void **state)
{
	(void)state;
	size_t len = 256 * 1024;
	unsigned char *data = malloc(len);
	tu_fill(data, len, 7);
	for (size_t m = 0; m < NMODES; m++) {
		urs_loop_opts o = { .buf_count = 4, .buf_size = 4096, .disable = modes[m] };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		struct sink *k = sink_new(loop, p[1], data, len, true);
		k->stream = urs_recv_stream(p[1], sink_cb, k);
		/* Sent in writes of 1..97 bytes so that pieces come in many sizes. */
		size_t off = 0;
		for (unsigned w = 1; off < len; w = w % 97 + 1) {
			size_t n = len - off < w ? len - off : w;
			urs_detach(urs_sendall(p[0], data + off, n, 0));
			off += n;
		}
		/* Never blocking: the sends wait in the kernel for the receiver, so a wait
		 * for buffers is no stall the loop could report. No progress for a few turns
		 * with pieces held: release them. */
		size_t last = 0;
		int idle = 0;
		for (int turns = 0; k->got < len && turns < 2000000; turns++) {
			assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
			idle = k->got == last ? idle + 1 : 0;
			last = k->got;
			if (idle > 8 && k->nheld)
				sink_release(k);
		}
		assert_int_equal(k->got, len);
		urs_loop_stats st;
		urs_loop_stats_get(loop, &st);
		assert_true(st.nobufs > 0); /* the receive did wait for buffers */
		sink_release(k);
		tu_close(p[0]);
		assert_int_equal(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0, 1);
		assert_int_equal(k->ended, 1);
		assert_int_equal(k->end_res, 0);
		tu_close(p[1]);
		free(k);
		tu_loop_done(loop);
	}
	free(data);
}

/* The stream cancelled, or its socket freed, from inside its callback at each of its first
 * events, with more bytes (a bundle's worth) already received: nothing leaks, no callback
 * runs after the free, every byte delivered before is right. */
static void test_stream_stopped_in_callback(void **state)
{
	(void)state;
	size_t len = 64 * 1024;
	unsigned char *data = malloc(len);
	tu_fill(data, len, 11);
	for (size_t m = 0; m < NMODES; m++) {
		for (int how = 1; how <= 2; how++) {
			for (int at = 1; at <= 6; at++) {
				urs_loop_opts o = { .buf_count = 8, .buf_size = 4096,
						    .disable = modes[m] };
				urs_loop *loop = tu_loop_new(&o);
				urs_sock *p[2];
				assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
				/* some hold their pieces past the stop */
				struct sink *k = sink_new(loop, p[1], data, len, at % 2);
				k->stop_at = at;
				k->stop_how = how;
				/* All bytes are in the socket before the stream starts: the
				 * first completion can carry several buffers. */
				send_all(p[0], data, 32 * 1024);
				k->stream = urs_recv_stream(p[1], sink_cb, k);
				urs_detach(urs_sendall(p[0], data + 32 * 1024, len - 32 * 1024, 0));
				for (int t = 0; t < 200 && !k->ended && k->sock; t++)
					assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
				assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
				assert_true(k->events >= at);
				if (how == 1) {
					assert_int_equal(k->ended, 1);
					assert_int_equal(k->end_res, -ECANCELED);
				} else {
					assert_int_equal(k->ended, 0); /* freed: no callback */
					assert_int_equal(k->events, at);
				}
				sink_release(k);
				if (k->sock)
					tu_close(k->sock);
				tu_close(p[0]);
				free(k);
				tu_loop_done(loop);
			}
		}
	}
	free(data);
}

/* The peer resets the connection mid-stream while the receiver holds pieces: the stream
 * ends with the reset (or EOF when it won the race), the held pieces stay readable and are
 * released after the end. */
static void test_reset_mid_stream(void **state)
{
	(void)state;
	size_t len = 128 * 1024;
	unsigned char *data = malloc(len);
	tu_fill(data, len, 3);
	for (size_t m = 0; m < NMODES; m++) {
		urs_loop_opts o = { .buf_count = 16, .buf_size = 4096, .disable = modes[m] };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *c, *s;
		tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
		struct sink *k = sink_new(loop, s, data, len, true);
		k->stream = urs_recv_stream(s, sink_cb, k);
		send_all(c, data, 20000);
		while (k->got < 20000)
			assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		assert_int_equal(urs_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
		urs_detach(urs_sendall(c, data + 20000, 1000, 0));
		tu_close(c);
		for (int t = 0; t < 100000 && !k->ended; t++) {
			int rc = urs_loop_run(loop, URS_RUN_ONCE);
			if (rc == -ENOBUFS)
				sink_release(k);
		}
		assert_int_equal(k->ended, 1);
		assert_true(k->end_res == -ECONNRESET || k->end_res == 0);
		assert_true(k->got >= 20000 && k->got <= 21000);
		/* Held pieces are still the bytes they were. */
		size_t at = 0;
		for (int i = 0; i < k->nheld; i++) {
			assert_memory_equal(k->held[i].data, data + at, k->held[i].len);
			at += k->held[i].len;
		}
		sink_release(k);
		tu_close(s);
		free(k);
		tu_loop_done(loop);
	}
	free(data);
}

/* The stream cancelled from outside after each number of turns: what it delivered is a
 * prefix of what was sent, and plain receives then get the rest — no byte lost or
 * repeated, whatever the kernel had already put in buffers (a bundle, a piece). */
static void test_cancel_at_every_turn(void **state)
{
	(void)state;
	size_t len = 48 * 1024;
	unsigned char *data = malloc(len);
	tu_fill(data, len, 5);
	for (size_t m = 0; m < NMODES; m++) {
		for (int turns = 0; turns < 8; turns++) {
			urs_loop_opts o = { .buf_count = 4, .buf_size = 4096, .disable = modes[m] };
			urs_loop *loop = tu_loop_new(&o);
			urs_sock *p[2];
			assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
			send_all(p[0], data, len);
			/* some hold pieces across the cancel */
			struct sink *k = sink_new(loop, p[1], data, len, turns % 2);
			k->stream = urs_recv_stream(p[1], sink_cb, k);
			for (int t = 0; t < turns; t++) {
				assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
				if (k->nheld > 2)
					sink_release(k);
			}
			int rc = urs_cancel(k->stream);
			assert_true(rc == 0 || rc == -EALREADY);
			assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
			assert_int_equal(k->ended, 1);
			sink_release(k);
			while (k->got < len) {
				urs_result r;
				int n = urs_await(urs_recv(p[1], 4096, 0), &r);
				assert_true(n > 0);
				assert_memory_equal(r.buf.data, data + k->got, (size_t)n);
				k->got += (size_t)n;
				urs_buf_release(&r.buf);
			}
			tu_close(p[0]);
			tu_close(p[1]);
			free(k);
			tu_loop_done(loop);
		}
	}
	free(data);
}

/* The loop freed while the user holds pieces of one buffer (extra lending slots): each
 * piece stays readable and releasable, and the last release frees what is left (the leak
 * and use-after-free checks are SAN=1's). */
static void test_loop_free_with_pieces_held(void **state)
{
	(void)state;
	urs_loop_opts o = { .buf_count = 4 };
	urs_loop *loop;
	assert_int_equal(urs_loop_new(&loop, &o), 0);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_result r[3];
	for (int i = 0; i < 3; i++) {
		char c = (char)('x' + i);
		send_all(p[0], &c, 1);
		tu_await_eq(urs_recv(p[1], 1, 0), 1, &r[i]);
	}
	urs_buf copy = r[1].buf;
	assert_int_equal(urs_buf_release(&r[1].buf), 0);
	urs_loop_free(loop);
	assert_int_equal(urs_buf_release(&copy), -EALREADY);
	assert_int_equal(r[0].buf.data[0], 'x');
	assert_int_equal(r[2].buf.data[0], 'z');
	assert_int_equal(urs_buf_release(&r[2].buf), 0);
	assert_int_equal(urs_buf_release(&r[0].buf), 0); /* the last: the loop's rest goes */
	urs_sock_free(p[0]);
	urs_sock_free(p[1]);
}

/* ---------------------------------------------------------------- waiting without a buffer */

/* A receive waiting for data holds no buffer where buffers are taken when data arrives (a
 * ring, or epoll, which takes one for the call only): with one buffer in the loop, a
 * receive pending on a quiet socket does not keep another socket's data waiting. */
static void test_waiting_receive_holds_no_buffer(void **state)
{
	(void)state;
	urs_loop_opts o = { .buf_count = 1 };
	urs_loop *loop = tu_loop_new(&o);
	if (!strcmp(tu_backend(loop), "io_uring") && !(urs_loop_features(loop) & URS_FEAT_BUF_RING)) {
		urs_loop_free(loop);
		skip(); /* without a ring the kernel needs the buffer with the request */
	}
	urs_sock *a[2], *b[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, a), 0);
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, b), 0);
	urs_future quiet = urs_recv(a[1], 64, 0);
	assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
	send_all(b[0], "busy", 4);
	/* Not awaited: where the quiet receive held the buffer this would wait for ever. */
	struct sink *k = calloc(1, sizeof(*k));
	assert_int_equal(urs_then(urs_recv(b[1], 64, 0), sink_cb, k), 0);
	for (int t = 0; t < 1000 && !k->ended; t++)
		assert_true(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0);
	assert_int_equal(k->ended, 1);
	assert_int_equal(k->end_res, 4);
	free(k);
	urs_result r;
	send_all(a[0], "late", 4);
	tu_await_eq(quiet, 4, &r);
	assert_memory_equal(r.buf.data, "late", 4);
	urs_buf_release(&r.buf);
	for (int i = 0; i < 2; i++) {
		tu_close(a[i]);
		tu_close(b[i]);
	}
	tu_loop_done(loop);
}

/* On epoll a receive that finds no buffer free still learns the end of the stream and a
 * reset (they need no buffer), while waiting bytes stay in the socket until a buffer
 * comes back. (A ring answers -ENOBUFS there: the kernel takes a buffer first.) */
static void test_epoll_end_without_buffer(void **state)
{
	(void)state;
	urs_loop_opts o = { .buf_count = 1 };
	urs_loop *loop = tu_loop_new(&o);
	if (strcmp(tu_backend(loop), "epoll")) {
		urs_loop_free(loop);
		skip();
	}
	urs_sock *a[2], *b[2], *c, *d;
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, a), 0);
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, b), 0);
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &d);
	urs_result held, r;
	send_all(a[0], "hold", 4);
	tu_await_eq(urs_recv(a[1], 64, 0), 4, &held); /* the only buffer */
	/* Bytes waiting: the receive waits for the buffer, the bytes stay. */
	send_all(a[0], "more", 4);
	urs_future f = urs_recv(a[1], 64, 0);
	assert_int_equal(urs_await(f, NULL), -ENOBUFS);
	/* The end of another stream needs no buffer. */
	tu_await_eq(urs_shutdown(b[0], SHUT_WR), 0, NULL);
	tu_await_eq(urs_recv(b[1], 64, 0), 0, NULL);
	/* Nor does a reset. */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	assert_int_equal(urs_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	tu_close(c);
	tu_await_eq(urs_recv(d, 64, 0), -ECONNRESET, NULL);
	assert_int_equal(urs_buf_release(&held.buf), 0);
	tu_await_eq(f, 4, &r);
	assert_memory_equal(r.buf.data, "more", 4);
	urs_buf_release(&r.buf);
	for (int i = 0; i < 2; i++) {
		tu_close(a[i]);
		tu_close(b[i]);
	}
	tu_close(d);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- names */

/* The two features have names for URSOCK_DISABLE and urs_loop_features_str, and the
 * environment turns them off as the mask does. */
struct collect {
	char data[256];
	size_t len;
};

static void collect_cb(urs_result *r, void *user)
{
	struct collect *c = user;
	if (r->res > 0 && c->len + (size_t)r->res <= sizeof(c->data)) {
		memcpy(c->data + c->len, r->buf.data, (size_t)r->res);
		c->len += (size_t)r->res;
	}
	urs_buf_release(&r->buf);
}

/* A receive with a timeout completes in two CQEs (its own, then its linked timeout's), and
 * another receive's completion from the same incremental buffer may come between them:
 * where each piece lies follows the order the kernel filled the buffer, not the order the
 * ops' complete() ran. Here A's 35 bytes go first into the shared buffer and B's next; B
 * used to be handed A's bytes (the loop placed B at the buffer's start). Every mode, and
 * both receive forms: a single receive and a stream (a stream with a timeout is one
 * request per chunk). */
static void test_timed_receive_beside_another(void **state)
{
	(void)state;
	static const char a_msg[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";        /* 35 */
	char b_msg[93];
	memset(b_msg, 'B', sizeof(b_msg));
	for (size_t m = 0; m < NMODES; m++)
		for (int stream = 0; stream < 2; stream++) {
			urs_loop_opts o = { .buf_count = 2, .buf_size = 64, .disable = modes[m] };
			urs_loop *loop = tu_loop_new(&o);
			urs_sock *a[2], *b[2];
			assert_int_equal(urs_socketpair(loop, SOCK_STREAM, a), 0);
			assert_int_equal(urs_socketpair(loop, SOCK_STREAM, b), 0);
			send_all(a[0], a_msg, 35);
			send_all(b[0], b_msg, sizeof(b_msg));
			assert_int_equal(urs_settimeout(a[1], 5.0), 0);
			urs_result ra, rb;
			if (!stream) {
				urs_future fa = urs_recv(a[1], 64, 0), fb = urs_recv(b[1], 64, 0);
				int nb = urs_await(fb, &rb);
				tu_await_eq(fa, 35, &ra);
				assert_true(nb > 0);
				assert_null(memchr(rb.buf.data, 'A', (size_t)nb));
				assert_memory_equal(ra.buf.data, a_msg, 35);
				urs_buf_release(&ra.buf);
				urs_buf_release(&rb.buf);
			} else {
				struct collect c = { 0 };
				urs_future fa = urs_recv_stream(a[1], collect_cb, &c);
				urs_future fb = urs_recv(b[1], 64, 0);
				int nb = urs_await(fb, &rb);
				assert_true(nb > 0);
				assert_null(memchr(rb.buf.data, 'A', (size_t)nb));
				urs_buf_release(&rb.buf);
				while (c.len < 35)
					assert_true(urs_loop_run(loop, URS_RUN_ONCE) >= 0);
				assert_int_equal(c.len, 35);
				assert_memory_equal(c.data, a_msg, 35);
				urs_cancel(fa);
				assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
			}
			tu_close(a[0]);
			tu_close(a[1]);
			tu_close(b[0]);
			tu_close(b[1]);
			tu_loop_done(loop);
		}
}

static void test_feature_names(void **state)
{
	(void)state;
	assert_int_equal(setenv("URSOCK_DISABLE", "buf_inc,recv_bundle", 1), 0);
	urs_loop *loop = tu_loop_new(NULL);
	assert_int_equal(urs_loop_features(loop) & (URS_FEAT_BUF_INC | URS_FEAT_RECV_BUNDLE), 0);
	assert_int_equal(unsetenv("URSOCK_DISABLE"), 0);
	tu_loop_done(loop);
	loop = tu_loop_new(NULL);
	const char *str = urs_loop_features_str(loop);
	if (has_inc(loop))
		assert_non_null(strstr(str, " buf_inc"));
	else
		assert_null(strstr(str, " buf_inc"));
	if (urs_loop_features(loop) & URS_FEAT_RECV_BUNDLE)
		assert_non_null(strstr(str, " recv_bundle"));
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_messages_share_a_buffer),
		cmocka_unit_test(test_buffer_back_after_last_piece),
		cmocka_unit_test(test_piece_handle_misuse),
		cmocka_unit_test(test_waitall_beside_pieces),
		cmocka_unit_test(test_datagrams_beside_partial_buffer),
		cmocka_unit_test(test_stream_exhausts_buffers),
		cmocka_unit_test(test_stream_stopped_in_callback),
		cmocka_unit_test(test_reset_mid_stream),
		cmocka_unit_test(test_cancel_at_every_turn),
		cmocka_unit_test(test_loop_free_with_pieces_held),
		cmocka_unit_test(test_waiting_receive_holds_no_buffer),
		cmocka_unit_test(test_epoll_end_without_buffer),
		cmocka_unit_test(test_timed_receive_beside_another),
		cmocka_unit_test(test_feature_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
