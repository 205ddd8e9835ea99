/* SPDX-License-Identifier: MIT */
/* Stream echo client: socket -> connect -> send/recv -> close, each step a future awaited
 * in turn, as the Python notes draw it. TCP, Unix stream, or Unix seqpacket (--seqpacket).
 *
 *   build/examples/stream_echo_client 127.0.0.1:8080 hello world   ("[::1]:PORT", /path, @name)
 *   build/examples/stream_echo_client --seqpacket @echo hello
 *
 * Sends each argument (or, with none, each line of stdin) and prints what comes back. */
#include "ursock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int echo(urs_sock *s, const char *msg, size_t len)
{
	int ret = urs_await(urs_sendall(s, msg, len, 0), NULL);
	if (ret < 0)
		return ret;
	size_t got = 0;
	while (got < len) {
		urs_result r;
		ret = urs_await(urs_recv(s, len - got, 0), &r);
		if (ret <= 0)
			return ret < 0 ? ret : -ECONNRESET;
		fwrite(r.buf.data, 1, r.buf.len, stdout);
		got += r.buf.len;
		urs_buf_release(&r.buf);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int type = SOCK_STREAM;
	if (argc >= 3 && !strcmp(argv[1], "--seqpacket")) {
		type = SOCK_SEQPACKET;
		argv++;
		argc--;
	}
	if (argc < 2 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: %s [--seqpacket] ADDRESS [MESSAGE...]   (no message: lines "
				"of stdin)\n", argv[0]);
		return argc < 2 ? 2 : 0;
	}
	urs_addr addr;
	urs_loop *loop;
	urs_sock *s;
	int ret = urs_addr_parse(&addr, argv[1]);
	if (ret == 0)
		ret = urs_loop_new(&loop, NULL);
	if (ret == 0)
		ret = urs_socket(loop, addr.u.sa.sa_family, type, 0, &s);
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	urs_settimeout(s, 10.0);
	ret = urs_await(urs_connect(s, &addr), NULL);
	for (int i = 2; ret == 0 && i < argc; i++) {
		ret = echo(s, argv[i], strlen(argv[i]));
		putchar('\n');
	}
	char line[4096];
	while (ret == 0 && argc == 2 && fgets(line, sizeof(line), stdin))
		ret = echo(s, line, strlen(line));
	if (ret < 0)
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-ret));
	urs_await(urs_close(s), NULL);
	urs_sock_free(s);
	urs_loop_free(loop);
	return ret < 0;
}
