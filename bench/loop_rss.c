/* SPDX-License-Identifier: MIT */
/* The memory a loop costs: resident set size (VmRSS) before urs_loop_new, after it with the
 * default options, after one TCP connection has carried a message each way, and after the
 * loop is freed. For the benchmark report:  build/bench/loop_rss  ->  one JSON line. */
#include "ursock.h"

#include <stdio.h>
#include <string.h>

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			sscanf(line + 6, "%ld", &kib);
	if (f)
		fclose(f);
	return kib;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "loop_rss: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(void)
{
	long before = rss_kib();
	urs_loop *loop;
	int err = urs_loop_new(&loop, NULL);
	if (err < 0)
		return fail("urs_loop_new", err);
	long made = rss_kib();
	urs_addr a;
	urs_sock *l, *c, *s;
	urs_result r;
	urs_addr_parse(&a, "127.0.0.1:0");
	if ((err = urs_socket(loop, AF_INET, SOCK_STREAM, 0, &l)) < 0 || (err = urs_bind(l, &a)) < 0 ||
	    (err = urs_listen(l, 16)) < 0 || (err = urs_getsockname(l, &a)) < 0 ||
	    (err = urs_socket(loop, AF_INET, SOCK_STREAM, 0, &c)) < 0)
		return fail("listener", err);
	urs_future acc = urs_accept(l);
	if ((err = urs_await(urs_connect(c, &a), NULL)) < 0 || (err = urs_await(acc, &r)) < 0)
		return fail("connect", err);
	s = r.sock;
	if ((err = urs_await(urs_sendall(c, "ping", 4, 0), NULL)) < 0 ||
	    (err = urs_await(urs_recv(s, 64, 0), &r)) < 0)
		return fail("ping", err);
	urs_buf_release(&r.buf);
	if ((err = urs_await(urs_sendall(s, "pong", 4, 0), NULL)) < 0 ||
	    (err = urs_await(urs_recv(c, 64, 0), &r)) < 0)
		return fail("pong", err);
	urs_buf_release(&r.buf);
	long used = rss_kib();
	urs_loop_free(loop);
	urs_sock_free(l);
	urs_sock_free(c);
	urs_sock_free(s);
	long freed = rss_kib();
	printf("{\"before_kib\":%ld,\"loop_kib\":%ld,\"after_echo_kib\":%ld,\"after_free_kib\":%ld}\n", before,
	       made - before, used - before, freed - before);
	return 0;
}
