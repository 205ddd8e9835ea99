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
 * recv into the loop's provided buffers) and sends each buffer back as it is, releasing it
 * when its send completes: no copy and no malloc per message. */
#include "ursock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct conn {
	urs_sock *sock;
	uint32_t head, tail;  /* buffers being sent back, oldest first (ids, linked by next[]) */
	int eof;              /* the peer is done: close once the last send completes */
	struct conn *prev, *next;
};

static urs_loop *loop;
static uint32_t *next_buf;    /* per buffer id: the next buffer of the same connection */
static struct conn *conns;
static volatile sig_atomic_t stopping;

static void on_signal(int sig) { (void)sig; stopping = 1; }

static void conn_free(struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	urs_sock_free(c->sock);
	free(c);
}

/* A send finished: the buffer it sent goes back to the loop (sends on a socket complete
 * in order, so it is the oldest one). */
static void on_sent(urs_result *r, void *user)
{
	struct conn *c = user;
	urs_buf b = { NULL, 0, c->head, loop };
	c->head = next_buf[c->head];
	if (c->head == URS_BUF_NONE)
		c->tail = URS_BUF_NONE;
	urs_buf_release(&b);
	if ((c->eof && c->head == URS_BUF_NONE) || r->res < 0)
		conn_free(c);
}

static void on_chunk(urs_result *r, void *user)
{
	struct conn *c = user;
	if (!(r->flags & URS_RES_MORE)) { /* EOF, error or close: the stream is over */
		c->eof = 1;
		if (c->head == URS_BUF_NONE)
			conn_free(c);
		return;
	}
	urs_future f = urs_sendall(c->sock, r->buf.data, r->buf.len, 0);
	if (urs_then(f, on_sent, c) < 0) {
		urs_buf_release(&r->buf);
		return;
	}
	next_buf[r->buf.id] = URS_BUF_NONE;
	if (c->tail != URS_BUF_NONE)
		next_buf[c->tail] = r->buf.id;
	else
		c->head = r->buf.id;
	c->tail = r->buf.id;
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
	c->head = c->tail = URS_BUF_NONE;
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	if (urs_future_error(urs_recv_stream(c->sock, on_chunk, c)) < 0)
		conn_free(c);
}

int main(int argc, char **argv)
{
	int type = SOCK_STREAM;
	/* Batched waits: up to 32 completions per wake, at most 50 us later than the first
	 * (kernel 6.12+; plain waits elsewhere). URS_BATCH=N:US overrides, 0:0 turns it off. */
	urs_loop_opts opts = { .buf_count = 1024, .buf_size = 16384, .batch = 32, .batch_wait_us = 50 };
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
	next_buf = calloc(opts.buf_count, sizeof(*next_buf));
	urs_sock *l;
	int one = 1;
	if ((ret = urs_socket(loop, addr.u.sa.sa_family, type, 0, &l)) < 0 ||
	    (ret = urs_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) < 0 ||
	    (ret = urs_bind(l, &addr)) < 0 || (ret = urs_listen(l, 4096)) < 0) {
		fprintf(stderr, "listen on %s: %s\n", argv[1], strerror(-ret));
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
	/* Stop accepting, let every connection's pending sends finish, then close. */
	urs_cancel(acc);
	for (struct conn *c = conns; c; c = c->next)
		urs_detach(urs_shutdown(c->sock, SHUT_RD));
	urs_sock_free(l);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	while (conns)
		conn_free(conns);
	/* For the benchmark: how often the loop entered the kernel (its only syscall on the
	 * request path). */
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	fprintf(stderr, "syscalls %llu\n", (unsigned long long)st.enters);
	urs_loop_free(loop);
	free(next_buf);
	if (text[0] == '/')
		unlink(text); /* the path this server created */
	return 0;
}
