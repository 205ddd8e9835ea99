/* SPDX-License-Identifier: MIT */
/* The echo load client, the same for every server: one thread, epoll, non-blocking
 * sockets. Modes:
 *   pingpong  N connections, each with DEPTH messages of SIZE bytes in flight; a message
 *             counts when its whole echo is back; latency per message (send -> echo).
 *   rate      as pingpong but paced to RATE messages/s in total (wrk2-style: latency from
 *             the scheduled send time, so a slow server cannot hide its queueing).
 *   stream    one connection, 64 KiB writes, reads everything back: bytes/s.
 *   idle      opens N connections (from 127.0.0.x source addresses), one ping each, then
 *             holds them for HOLD seconds (the benchmark reads the server's RSS meanwhile).
 * Bounded: it stops after SECONDS or COUNT messages, whichever first. Prints one line of
 * JSON.
 *
 *   build/bench/echo_client --addr 127.0.0.1:PORT --mode pingpong -c 64 -s 64 -d 5 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
	int fd;
	size_t want;      /* echo bytes still owed for messages in flight */
	size_t wpend;     /* bytes of the current batch not yet written */
	int inflight;
	double *sent_at;  /* per in-flight message, FIFO */
	int head, tail;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int connect_to(const struct sockaddr_in *a, int src_idx)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src_idx >= 0) { /* spread over 127.0.0.x so ports never run out */
		struct sockaddr_in s = { .sin_family = AF_INET };
		s.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(2 + src_idx / 20000));
		bind(fd, (struct sockaddr *)&s, sizeof(s));
	}
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *mode = "pingpong";
	int nconn = 64, depth = 1;
	size_t size = 64;
	double secs = 5, rate = 0, hold = 2;
	long max_count = 100000000;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--addr")) addr = argv[i + 1];
		else if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
		else if (!strcmp(argv[i], "-c")) nconn = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-s")) size = (size_t)atol(argv[i + 1]);
		else if (!strcmp(argv[i], "-d")) secs = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--depth")) depth = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rate")) rate = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--count")) max_count = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--hold")) hold = atof(argv[i + 1]);
	}
	if (!addr || nconn < 1 || depth < 1 || size < 1) {
		fprintf(stderr, "usage: %s --addr 127.0.0.1:PORT [--mode pingpong|rate|stream|idle] "
				"[-c N] [-s SIZE] [-d SECONDS] [--depth D] [--rate R] [--count N] [--hold S]\n",
			argv[0]);
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const char *colon = strrchr(addr, ':');
	char host[64];
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	inet_pton(AF_INET, host, &sa.sin_addr);
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	bool stream = !strcmp(mode, "stream"), idle = !strcmp(mode, "idle");
	if (stream) {
		nconn = 1;
		size = 65536;
		depth = 4;
	}
	char *out = malloc(size * (size_t)depth), *in = malloc(1 << 20);
	memset(out, 'e', size * (size_t)depth);
	struct conn *cs = calloc((size_t)nconn, sizeof(*cs));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int opened = 0;
	for (int i = 0; i < nconn; i++) {
		cs[i].fd = connect_to(&sa, idle ? i : (nconn > 20000 ? i : -1));
		if (cs[i].fd < 0)
			break;
		opened++;
		cs[i].sent_at = calloc((size_t)depth + 1, sizeof(double));
		struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &cs[i] };
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
	}
	size_t lat_cap = 1 << 22, nlat = 0;
	double *lat = malloc(lat_cap * sizeof(double));
	long msgs = 0;
	uint64_t bytes = 0;
	double t0 = now_s(), end = t0 + secs, next_send = t0;
	double interval = rate > 0 ? 1.0 / rate : 0;
	/* Prime: every connection starts with DEPTH messages (rate mode: on schedule). */
	for (int i = 0; i < opened; i++) {
		struct conn *c = &cs[i];
		int k = rate > 0 ? 0 : depth;
		c->wpend = size * (size_t)k;
		c->want = c->wpend;
		for (int m = 0; m < k; m++)
			c->sent_at[c->tail++ % (depth + 1)] = t0;
		c->inflight = k;
	}
	struct epoll_event evs[512];
	double now = t0;
	int rr = 0;
	while (now < end && msgs < max_count) {
		if (rate > 0) { /* hand out scheduled sends round-robin to idle slots */
			while (next_send <= now) {
				int tries = 0;
				while (tries < opened && cs[rr].inflight >= depth) {
					rr = (rr + 1) % opened;
					tries++;
				}
				if (tries == opened)
					break;
				struct conn *c = &cs[rr];
				c->sent_at[c->tail++ % (depth + 1)] = next_send;
				c->inflight++;
				c->wpend += size;
				c->want += size;
				ssize_t w = send(c->fd, out, c->wpend, MSG_NOSIGNAL);
				if (w > 0)
					c->wpend -= (size_t)w;
				next_send += interval;
				rr = (rr + 1) % opened;
			}
		}
		int n = epoll_wait(ep, evs, 512, rate > 0 ? 1 : 100);
		now = now_s();
		for (int e = 0; e < n; e++) {
			struct conn *c = evs[e].data.ptr;
			while (c->wpend) {
				ssize_t w = send(c->fd, out, c->wpend < size * (size_t)depth ? c->wpend : size * (size_t)depth, MSG_NOSIGNAL);
				if (w <= 0)
					break;
				c->wpend -= (size_t)w;
			}
			for (;;) {
				ssize_t r = recv(c->fd, in, 1 << 20, 0);
				if (r <= 0)
					break;
				bytes += (uint64_t)r;
				size_t got = (size_t)r;
				/* Messages complete in order as their bytes come back. */
				while (got) {
					size_t done_before = (c->want - 1) % size + 1; /* bytes left of the oldest */
					size_t take = got < done_before ? got : done_before;
					c->want -= take;
					got -= take;
					if (take == done_before) {
						double st = c->sent_at[c->head++ % (depth + 1)];
						if (nlat < lat_cap)
							lat[nlat++] = now - st;
						msgs++;
						c->inflight--;
						if (rate == 0) { /* closed loop: send the next one */
							c->sent_at[c->tail++ % (depth + 1)] = now;
							c->inflight++;
							c->want += size;
							c->wpend += size;
						}
					}
					if (!c->want)
						break;
				}
			}
			while (c->wpend) {
				ssize_t w = send(c->fd, out, c->wpend < size * (size_t)depth ? c->wpend : size * (size_t)depth, MSG_NOSIGNAL);
				if (w <= 0)
					break;
				c->wpend -= (size_t)w;
			}
		}
		if (idle && msgs >= opened)
			break;
	}
	double took = now_s() - t0;
	if (idle) { /* hold the connections open while the benchmark reads the server's RSS */
		printf("{\"mode\":\"idle\",\"conns\":%d,\"pinged\":%ld}\n", opened, msgs);
		fflush(stdout);
		double until = now_s() + hold;
		while (now_s() < until)
			epoll_wait(ep, evs, 512, 100);
		return 0;
	}
	qsort(lat, nlat, sizeof(double), cmpd);
	double p50 = nlat ? lat[nlat / 2] : 0, p99 = nlat ? lat[nlat * 99 / 100] : 0;
	printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%zu,\"depth\":%d,\"secs\":%.3f,\"msgs\":%ld,"
	       "\"rate\":%.1f,\"bytes_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
	       mode, opened, size, depth, took, msgs, (double)msgs / took, (double)bytes / took,
	       p50 * 1e6, p99 * 1e6);
	return opened == nconn ? 0 : 1;
}
