/* SPDX-License-Identifier: MIT */
/* Stream echo server on ursock: socket -> bind -> listen -> accept -> recv/send. TCP over
 * IPv4 or IPv6, Unix stream, or (--seqpacket) Unix seqpacket, where each message comes back
 * as one message.
 *
 *   build/examples/stream_echo 127.0.0.1:8080            (TCP; "[::1]:0" for any free port)
 *   build/examples/stream_echo /tmp/echo.sock            (Unix stream; "@name": abstract)
 *   build/examples/stream_echo --seqpacket @echo         (Unix seqpacket)
 *   build/examples/stream_echo_client 127.0.0.1:8080 hello
 *
 * The first line on stdout is "listening on <address>" with the real port; SIGINT or
 * SIGTERM stop it cleanly (exit 0). Each connection streams its received chunks (multishot
 * recv into the loop's provided buffers) and hands each buffer as it is to urs_sendall_buf,
 * which takes it and gives it back to the loop when the kernel is done with it: no copy,
 * no malloc and no bookkeeping per message. URS_ECHO_SEND=pool copies each chunk into a
 * registered send buffer instead (urs_sendbuf_get), so the send uses the kernel's
 * fixed-buffer forms and, at or above URS_ZC_THRESHOLD bytes (the loop's zc_threshold),
 * zero-copy: the benchmark's way to measure what those buy (README: it does not pay on
 * loopback). A connection's state is freed in its close callback, the last callback on its
 * socket, so a peer that resets in the middle of anything cannot make a callback see freed
 * memory. */
#include "ursock.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct conn {
	urs_sock *sock;
	bool closing;
	bool paused;          /* over the high water mark: not reading (see on_mark) */
	bool rx_live;         /* its receive stream is armed */
	urs_future rx;
	struct conn *prev, *next;
};

/* Backpressure per connection: a peer that sends without reading its echoes stops being
 * read once HIGH_MARK bytes wait to be sent back, and is read again at LOW_MARK; the
 * buffers it holds stay bounded and every other connection keeps being served. */
enum { HIGH_MARK = 256 << 10, LOW_MARK = 64 << 10 };

static urs_loop *loop;
static struct conn *conns;
static bool send_pool; /* URS_ECHO_SEND=pool */
static volatile sig_atomic_t stopping;

static void on_signal(int sig) { (void)sig; stopping = 1; }

/* The close callback is the last on the connection: nothing calls back with c after it,
 * so this is where c goes. Every send has resolved by now, so no buffer is held. */
static void on_closed(urs_result *r, void *user)
{
	struct conn *c = user;
	(void)r;
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	urs_sock_free(c->sock);
	free(c);
}

/* Graceful unless abort: the echoes already queued still go, then the FIN. */
static void conn_close(struct conn *c, bool abort)
{
	if (c->closing)
		return;
	c->closing = true;
	urs_future f = urs_close(c->sock);
	urs_then(f, on_closed, c);
	if (abort)
		urs_cancel(f); /* queued echoes are dropped, the peer gets a reset */
}

/* A send finished; its buffer went back to the loop by itself. When one fails, those
 * behind it fail too (-EPIPE). */
static void on_sent(urs_result *r, void *user)
{
	struct conn *c = user;
	if (r->res < 0)
		conn_close(c, true);
}

static void on_chunk(urs_result *r, void *user);

static void reading_start(struct conn *c)
{
	c->rx = urs_recv_stream(c->sock, on_chunk, c);
	c->rx_live = urs_future_error(c->rx) == 0;
	if (!c->rx_live)
		conn_close(c, true);
}

/* The water marks on the bytes queued back to the peer: stop reading (the stream is
 * cancelled; its last callback comes back to on_chunk), read again. */
static void on_mark(urs_result *r, void *user)
{
	struct conn *c = user;
	c->paused = r->res == 1;
	if (c->closing)
		return;
	if (c->paused && c->rx_live)
		urs_cancel(c->rx);
	else if (!c->paused && !c->rx_live)
		reading_start(c);
}

static void on_chunk(urs_result *r, void *user)
{
	struct conn *c = user;
	if (!(r->flags & URS_RES_MORE)) { /* EOF, error, close, or paused: the stream is over */
		c->rx_live = false;
		if (r->res == -ECANCELED && !c->closing) {
			if (!c->paused)
				reading_start(c); /* resumed before the cancel came back */
			return;
		}
		conn_close(c, r->res < 0 && r->res != -ECANCELED);
		return;
	}
	if (r->flags & URS_RES_TRUNC) {
		/* A seqpacket message longer than a buffer: echoing the part would hand the
		 * peer a message it never sent. Say so and drop the connection. */
		fprintf(stderr, "stream_echo: a message over %u bytes was cut; closing that "
				"connection\n", r->buf.len);
		urs_buf_release(&r->buf);
		conn_close(c, true);
		return;
	}
	if (c->closing) {
		urs_buf_release(&r->buf);
		return;
	}
	urs_buf out = r->buf;
	uint32_t len = r->buf.len;
	if (send_pool && urs_sendbuf_get(loop, &out) == 0) {
		memcpy(out.data, r->buf.data, len);
		urs_buf_release(&r->buf);
	} /* else (or with the pool empty) the received buffer itself goes back out */
	/* The send takes the buffer in every outcome, also when it fails at once. */
	if (urs_then(urs_sendall_buf(c->sock, &out, len, 0), on_sent, c) < 0)
		conn_close(c, true);
}

static void on_conn(urs_result *r, void *user)
{
	(void)user;
	if (!(r->flags & URS_RES_MORE) || r->res < 0)
		return; /* -EMFILE and the like: accepting resumes by itself */
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		urs_sock_free(r->sock);
		return;
	}
	c->sock = r->sock;
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	urs_sock_watermarks(c->sock, HIGH_MARK, LOW_MARK, on_mark, c);
	reading_start(c);
}

int main(int argc, char **argv)
{
	int type = SOCK_STREAM;
	/* Batched waits: up to 32 completions per wake, at most 50 us later than the first
	 * (kernel 6.12+; plain waits elsewhere). URS_BATCH=N:US overrides, 0:0 turns it off. */
	urs_loop_opts opts = { .buf_count = 1024, .buf_size = 16384, .batch = 32, .batch_wait_us = 50 };
	const char *zc = getenv("URS_ZC_THRESHOLD");
	if (zc)
		opts.zc_threshold = (unsigned)strtoul(zc, NULL, 0);
	const char *how = getenv("URS_ECHO_SEND");
	send_pool = how && !strcmp(how, "pool");
	if (send_pool)
		opts.send_buf_count = 1024; /* one per receive buffer: 16 MiB, pinned at first use */
	const char *batch = getenv("URS_BATCH");
	if (batch && sscanf(batch, "%u:%u", &opts.batch, &opts.batch_wait_us) != 2)
		opts.batch = 0;
	if (argc == 3 && !strcmp(argv[1], "--seqpacket")) {
		type = SOCK_SEQPACKET;
		argv++;
		argc--;
	}
	if (argc != 2 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: %s [--seqpacket] ADDRESS   (127.0.0.1:8080, [::1]:0, "
				"/path, @name)\n", argv[0]);
		return argc == 2 ? 0 : 2;
	}
	urs_addr addr;
	int ret = urs_addr_parse(&addr, argv[1]);
	if (ret < 0) {
		fprintf(stderr, "bad address %s: %s\n", argv[1], strerror(-ret));
		return 2;
	}
	if ((ret = urs_loop_new(&loop, &opts)) < 0) {
		fprintf(stderr, "urs_loop_new: %s\n", strerror(-ret));
		return 1;
	}
	urs_sock *l;
	int one = 1;
	if ((ret = urs_socket(loop, addr.u.sa.sa_family, type, 0, &l)) < 0 ||
	    (ret = urs_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) < 0 ||
	    (ret = urs_bind(l, &addr)) < 0 || (ret = urs_listen(l, 4096)) < 0) {
		fprintf(stderr, "listen on %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	/* An echo answers at once: Nagle would hold a short echo back until the peer's ACK of
	 * the one before (on a 64 KiB stream that halves the throughput). Accepted TCP sockets
	 * inherit TCP_NODELAY from the listener, so no call per connection. */
	if (type == SOCK_STREAM && addr.u.sa.sa_family != AF_UNIX &&
	    (ret = urs_setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) < 0) {
		fprintf(stderr, "TCP_NODELAY: %s\n", strerror(-ret));
		return 1;
	}
	urs_getsockname(l, &addr);
	char text[URS_ADDR_STRLEN];
	urs_addr_format(&addr, text, sizeof(text));
	printf("listening on %s\n", text);
	fflush(stdout);

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	urs_future acc = urs_accept_stream(l, on_conn, NULL);
	while (!stopping && urs_loop_run(loop, URS_RUN_ONCE) >= 0)
		;
	/* Stop accepting, let every connection's pending echoes finish, then close. */
	urs_cancel(acc);
	for (struct conn *c = conns; c; c = c->next)
		conn_close(c, false);
	urs_sock_free(l);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	/* For the benchmark: how often the loop entered the kernel (its only syscall on the
	 * request path). */
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	fprintf(stderr, "syscalls %llu\n", (unsigned long long)st.enters);
	urs_loop_free(loop);
	if (text[0] == '/')
		unlink(text); /* the path this server created */
	return 0;
}
