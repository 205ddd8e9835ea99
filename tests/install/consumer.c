/* SPDX-License-Identifier: MIT */
/* A program outside the tree, as a user writes one: built by test_install against the
 * installed headers and library through pkg-config (shared and static), and compiled with
 * strict warnings to check that the header is clean for its users.
 * Exit 0 and "ursock <version>: ok" on success, 77 where io_uring is unavailable. */
#include <ursock.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
	/* The library loaded at run time is the one this program was built against. */
	if (urs_version() != URS_VERSION_HEX || strcmp(urs_version_string(), URS_VERSION_STRING)) {
		fprintf(stderr, "header %s, library %s\n", URS_VERSION_STRING, urs_version_string());
		return 2;
	}
	urs_loop *loop;
	int err = urs_loop_new(&loop, NULL);
	if (err < 0) {
		printf("no io_uring here (%s)\n", strerror(-err));
		return 77;
	}
	urs_sock *pair[2];
	if (urs_socketpair(loop, SOCK_STREAM, pair) < 0)
		return 3;
	if (urs_await(urs_sendall(pair[0], "ping", 4, 0), NULL) != 0)
		return 4;
	urs_result r;
	int n = urs_await(urs_recv(pair[1], 64, 0), &r);
	if (n != 4 || memcmp(r.buf.data, "ping", 4) != 0)
		return 5;
	urs_buf_release(&r.buf);
	urs_sock_free(pair[0]);
	urs_sock_free(pair[1]);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	urs_loop_free(loop);
	printf("ursock %s: ok\n", urs_version_string());
	return 0;
}
