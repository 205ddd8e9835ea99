/* SPDX-License-Identifier: MIT */
/* The libuv baseline: what a C programmer would write instead of ursock, in libuv's usual
 * pattern — uv_read_start with an allocation callback, one uv_write per chunk received
 * (echo) or per batch of responses (HTTP), the buffer freed in the write callback. One loop
 * per thread (-t N), each with its own SO_REUSEPORT listener. --http runs the same HTTP core
 * as examples/http_echo (same parser, responses and limits).
 *
 *   build/bench/libuv_server 127.0.0.1:0 [-t N] [--http]
 *
 * Prints "listening on ADDRESS"; stops on SIGTERM. libuv does not count its system calls,
 * so this server prints no "syscalls" line and the report shows none for it. */
#include "common.h"
#include "http/http_core.h"

#include <pthread.h>
#include <uv.h>

struct conn {
	uv_tcp_t tcp;
	struct http_conn h; /* --http */
	int closing;
};

struct wreq {
	uv_write_t req;
	char *data;
};

static int http_mode, port;
static const char *addr_text;
static struct http_limits limits;
static int threads = 1;
static uv_loop_t *loops[64];
static uv_async_t stops[64];

static void on_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	if (http_mode)
		http_conn_free(&c->h);
	free(c);
}

static void conn_close(struct conn *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	/* libuv suggests 64 KiB; the usual program takes it from malloc. */
	buf->base = malloc(suggested);
	buf->len = buf->base ? suggested : 0;
}

static void on_written(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = req->handle->data;
	free(w->data);
	free(w);
	if (status < 0 || c->closing)
		conn_close(c);
}

/* Hands data (malloc'd, ours to free) to one uv_write. */
static void write_out(struct conn *c, char *data, size_t len)
{
	struct wreq *w = malloc(sizeof(*w));
	w->data = data;
	uv_buf_t b = uv_buf_init(data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
		free(data);
		free(w);
		conn_close(c);
	}
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;
	if (n < 0) {
		free(buf->base);
		conn_close(c);
		return;
	}
	if (n == 0) {
		free(buf->base);
		return;
	}
	if (!http_mode) {
		write_out(c, buf->base, (size_t)n); /* the received chunk goes back as it is */
		return;
	}
	double now = uv_now(s->loop) / 1e3;
	size_t done = 0;
	while (done < (size_t)n && !http_conn_closing(&c->h))
		done += http_conn_feed(&c->h, buf->base + done, (size_t)n - done, now);
	free(buf->base);
	if (http_conn_closing(&c->h)) {
		c->closing = 1;
		uv_read_stop(s);
	}
	if (c->h.out.len) {
		char *out = malloc(c->h.out.len);
		memcpy(out, c->h.out.data, c->h.out.len);
		write_out(c, out, c->h.out.len);
		c->h.out.len = 0;
	} else if (c->closing) {
		conn_close(c);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	if (status < 0)
		return;
	struct conn *c = calloc(1, sizeof(*c));
	uv_tcp_init(server->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (http_mode)
		http_conn_init(&c->h, &limits);
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h)) {
		if (h->type == UV_TCP && h->data)
			conn_close(h->data);
		else
			uv_close(h, NULL);
	}
}

static void on_stop(uv_async_t *a)
{
	uv_walk(a->loop, close_any, NULL);
}

static void *worker(void *arg)
{
	uv_loop_t *loop = arg;
	int lfd = listen_on(addr_text, &port, 1);
	uv_tcp_t server;
	uv_tcp_init(loop, &server);
	server.data = NULL;
	uv_tcp_open(&server, lfd);
	uv_listen((uv_stream_t *)&server, 4096, on_connection);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	return NULL;
}

static void on_term(int sig)
{
	(void)sig;
	for (int i = 0; i < threads; i++)
		uv_async_send(&stops[i]); /* async-signal-safe */
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--http"))
			http_mode = 1;
		else if (!strcmp(argv[i], "--help")) {
			printf("usage: %s ADDRESS [-t N] [--http]\n", argv[0]);
			return 0;
		} else
			addr_text = argv[i];
	}
	if (!addr_text || threads < 1 || threads > 64)
		return 2;
	http_limits_default(&limits);
	int probe = listen_on(addr_text, &port, 1);
	if (probe < 0) {
		perror("listen");
		return 1;
	}
	pthread_t th[64];
	for (int i = 0; i < threads; i++) {
		loops[i] = malloc(sizeof(uv_loop_t));
		uv_loop_init(loops[i]);
		uv_async_init(loops[i], &stops[i], on_stop);
	}
	install_signals(on_term);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, loops[i]);
	close(probe);
	announce(addr_text, port);
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		free(loops[i]);
	}
	return 0;
}
