/* SPDX-License-Identifier: MIT */
/* What the baseline servers share: address parsing, the listener, the "listening on" line,
 * signal handling, and the exit report (syscall counts) the benchmark reads. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_long n_syscalls; /* every read/write/accept/epoll_wait/enter the server made */

static inline void count_syscall(void) { atomic_fetch_add_explicit(&n_syscalls, 1, memory_order_relaxed); }

/* "127.0.0.1:PORT" or "[::1]:PORT" into a sockaddr; returns its length or 0. */
static inline socklen_t parse_addr(const char *text, struct sockaddr_storage *ss)
{
	char host[64];
	memset(ss, 0, sizeof(*ss));
	const char *colon = strrchr(text, ':');
	if (!colon)
		return 0;
	int port = atoi(colon + 1);
	if (text[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text - 2), text + 1);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? sizeof(*a) : 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? sizeof(*a) : 0;
}

/* A listener with SO_REUSEPORT; *port_io: in, the port to bind (0 = any); out, the real one. */
static inline int listen_on(const char *text, int *port_io, int nonblock)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(text, &ss);
	if (!len)
		return -1;
	if (*port_io)
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)*port_io);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0)
		return -1;
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port_io = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static inline void announce(const char *text, int port)
{
	char shown[80];
	const char *colon = strrchr(text, ':');
	snprintf(shown, sizeof(shown), "%.*s:%d", (int)(colon - text), text, port);
	printf("listening on %s\n", shown);
	fflush(stdout);
}

/* SIGPIPE ignored; SIGTERM/SIGINT run on_term without SA_RESTART, so a blocking accept or
 * epoll_wait returns EINTR and the server sees its stop flag. */
static inline void install_signals(void (*on_term)(int))
{
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static inline void report_exit(void)
{
	fprintf(stderr, "syscalls %ld\n", atomic_load(&n_syscalls));
}

#endif
