/* SPDX-License-Identifier: MIT */
/* Datagram echo client: socket -> (bind, for Unix) -> sendto -> recvfrom -> close.
 *
 *   build/examples/dgram_echo_client 127.0.0.1:9000 hello world
 *   build/examples/dgram_echo_client /tmp/echo.sock hello
 *
 * Sends each argument as one datagram and prints the answer; gives up after 2 seconds. A
 * Unix client binds an abstract name of its own so that the server can answer it. */
#include "ursock.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: %s ADDRESS MESSAGE...\n", argv[0]);
		return argc < 2 || strcmp(argv[1], "--help") ? 2 : 0;
	}
	urs_addr to;
	urs_loop *loop;
	urs_sock *s;
	int ret = urs_addr_parse(&to, argv[1]);
	if (ret == 0)
		ret = urs_loop_new(&loop, NULL);
	if (ret == 0)
		ret = urs_socket(loop, to.u.sa.sa_family, SOCK_DGRAM, 0, &s);
	if (ret == 0 && to.u.sa.sa_family == AF_UNIX) {
		char name[64];
		urs_addr me;
		snprintf(name, sizeof(name), "@ursock-dgram-client-%d", (int)getpid());
		urs_addr_parse(&me, name);
		ret = urs_bind(s, &me);
	}
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	urs_settimeout(s, 2.0);
	for (int i = 2; ret >= 0 && i < argc; i++) {
		ret = urs_await(urs_sendto(s, argv[i], strlen(argv[i]), 0, &to), NULL);
		urs_result r;
		if (ret >= 0)
			ret = urs_await(urs_recvfrom(s, 65536, 0), &r);
		if (ret >= 0) {
			printf("%.*s\n", (int)r.buf.len, r.buf.data);
			urs_buf_release(&r.buf);
		}
	}
	if (ret < 0)
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-ret));
	urs_sock_free(s);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	urs_loop_free(loop);
	return ret < 0;
}
