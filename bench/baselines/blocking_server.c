/* SPDX-License-Identifier: MIT */
/* The blocking baseline: one thread per connection, plain blocking read/write, as a
 * careful programmer writes it without an event loop. --http runs the same HTTP core as
 * examples/http_echo.
 *
 *   build/bench/blocking_server 127.0.0.1:0 [--http]
 *
 * Prints "listening on ADDRESS"; on SIGTERM exits 0 and prints "syscalls N" to stderr. */
#include "common.h"
#include "http/http_core.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static int http_mode;
static struct http_limits limits;
static volatile sig_atomic_t stopping;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		count_syscall();
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[16384];
	struct http_conn h;
	if (http_mode)
		http_conn_init(&h, &limits);
	for (;;) {
		count_syscall();
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!http_mode) {
			if (write_all(fd, buf, (size_t)n) < 0)
				break;
			continue;
		}
		/* http_conn_feed returns the bytes it consumed: write its answers, feed the rest. */
		size_t done = 0;
		while (done < (size_t)n && !http_conn_closing(&h)) {
			done += http_conn_feed(&h, buf + done, (size_t)n - done, now_s());
			if (write_all(fd, h.out.data, h.out.len) < 0)
				goto out;
			h.out.len = 0;
		}
		if (http_conn_closing(&h))
			break;
	}
out:
	if (http_mode)
		http_conn_free(&h);
	close(fd);
	return NULL;
}

static void on_term(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv)
{
	const char *text = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--http"))
			http_mode = 1;
		else if (!strcmp(argv[i], "--help")) {
			printf("usage: %s ADDRESS [--http]\n", argv[0]);
			return 0;
		} else
			text = argv[i];
	}
	if (!text)
		return 2;
	http_limits_default(&limits);
	install_signals(on_term);
	int port = 0;
	int lfd = listen_on(text, &port, 0);
	if (lfd < 0) {
		perror("listen");
		return 1;
	}
	announce(text, port);
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 64 * 1024);
	while (!stopping) {
		count_syscall();
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_t th;
		if (pthread_create(&th, &at, conn_main, (void *)(intptr_t)fd) != 0)
			close(fd);
	}
	report_exit();
	return 0;
}
