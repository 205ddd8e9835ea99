/* SPDX-License-Identifier: MIT */
/* The epoll baseline, written as we would for production: edge-triggered, non-blocking,
 * one thread per core (-t N), each with its own SO_REUSEPORT listener and epoll set; reads
 * until EAGAIN, writes what it can and waits for EPOLLOUT for the rest. --http runs the
 * same HTTP core as examples/http_echo (same parser, responses and limits).
 *
 *   build/bench/epoll_server 127.0.0.1:0 [-t N] [--http]
 *
 * Prints "listening on ADDRESS"; on SIGTERM exits 0 and prints "syscalls N" to stderr. */
#include "common.h"
#include "http/http_core.h"

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <time.h>

struct conn {
	int fd;
	struct http_conn h;      /* --http */
	struct http_buf pending; /* bytes not yet written */
	size_t off;
	int closing;
};

static int http_mode, port;
static const char *addr_text;
static struct http_limits limits;
static volatile sig_atomic_t stopping;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void conn_close(struct conn *c)
{
	close(c->fd);
	if (http_mode)
		http_conn_free(&c->h);
	free(c->pending.data);
	free(c);
}

static void append(struct http_buf *b, const char *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->data = realloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Writes what is pending; returns -1 when the connection is done for. */
static int flush(struct conn *c)
{
	while (c->off < c->pending.len) {
		count_syscall();
		ssize_t k = send(c->fd, c->pending.data + c->off, c->pending.len - c->off, MSG_NOSIGNAL);
		if (k < 0)
			return errno == EAGAIN ? 0 : -1;
		c->off += (size_t)k;
	}
	c->pending.len = c->off = 0;
	return c->closing ? -1 : 0;
}

static int on_readable(struct conn *c)
{
	char buf[16384];
	for (;;) {
		count_syscall();
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (http_mode) {
			/* http_conn_feed returns the bytes it consumed: queue its answers, feed the rest. */
			size_t done = 0;
			while (done < (size_t)n && !http_conn_closing(&c->h)) {
				done += http_conn_feed(&c->h, buf + done, (size_t)n - done, now_s());
				append(&c->pending, c->h.out.data, c->h.out.len);
				c->h.out.len = 0;
			}
			if (http_conn_closing(&c->h))
				c->closing = 1;
		} else {
			append(&c->pending, buf, (size_t)n);
		}
		if (flush(c) < 0)
			return -1;
		if ((size_t)n < sizeof(buf))
			return 0; /* drained: no need to read again for EAGAIN */
	}
}

static void *worker(void *arg)
{
	(void)arg;
	int lfd = listen_on(addr_text, &port, 1);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	struct epoll_event evs[256];
	while (!stopping) {
		count_syscall();
		int n = epoll_wait(ep, evs, 256, 200);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				for (;;) {
					count_syscall();
					int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (fd < 0)
						break;
					int one = 1;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					c = calloc(1, sizeof(*c));
					c->fd = fd;
					if (http_mode)
						http_conn_init(&c->h, &limits);
					struct epoll_event cev = { .events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP,
								   .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
				}
				continue;
			}
			int dead = 0;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				dead = 1;
			if (!dead && (evs[i].events & EPOLLOUT) && c->pending.len)
				dead = flush(c) < 0;
			if (!dead && (evs[i].events & (EPOLLIN | EPOLLRDHUP)))
				dead = on_readable(c) < 0;
			if (dead)
				conn_close(c); /* close removes it from the epoll set */
		}
	}
	close(ep);
	close(lfd);
	return NULL;
}

static void on_term(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv)
{
	int threads = 1;
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
	if (!addr_text)
		return 2;
	http_limits_default(&limits);
	install_signals(on_term);
	/* The first listener picks the port; the others share it with SO_REUSEPORT. */
	int probe = listen_on(addr_text, &port, 1);
	if (probe < 0) {
		perror("listen");
		return 1;
	}
	pthread_t th[64];
	for (int i = 0; i < threads && i < 64; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	close(probe);
	announce(addr_text, port);
	for (int i = 0; i < threads && i < 64; i++)
		pthread_join(th[i], NULL);
	report_exit();
	return 0;
}
