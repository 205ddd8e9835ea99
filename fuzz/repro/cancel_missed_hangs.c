/* SPDX-License-Identifier: MIT */
/* Found by fuzz_engine (a hang in urs_loop_free): a send that is started and cancelled
 * before the loop submits it never resolves when it blocks, here because the peer shut its
 * write side while our send buffer was full. Both SQEs go in one io_uring_enter; the kernel
 * answers the cancel -ENOENT (the send is between its poll attempt and the io-wq worker it
 * is punted to, where it then blocks in unix_stream_sendmsg), and the engine, which ignores
 * its cancels' results, never asks again: urs_await of the cancelled send blocks for ever,
 * and so does urs_loop_free (argv[1] = 1) — "never a hang", "resolves -ECANCELED".
 * Run: make fuzz-repro (every reproducer, under ASan+UBSan; exit 0 once fixed). */
#include "ursock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static char data[1 << 16];

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "still blocked after 5 s: the cancelled send never resolved\n";
	write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(int argc, char **argv)
{
	int teardown = argc > 1 && atoi(argv[1]);
	setvbuf(stdout, NULL, _IONBF, 0);
	urs_loop *loop;
	int fds[2];
	urs_sock *s;
	if (urs_loop_new(&loop, NULL) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0 ||
	    urs_sock_adopt(loop, fds[1], &s) < 0)
		return 2;
	urs_settimeout(s, 0.0); /* fill the peer without blocking */
	while (urs_await(urs_send(s, data, sizeof(data), 0), NULL) > 0)
		;
	urs_settimeout(s, -1);
	shutdown(fds[0], SHUT_WR);
	signal(SIGALRM, on_alarm);
	alarm(5);
	urs_future f = urs_send(s, data, 1, 0);
	if (teardown) {
		printf("urs_loop_free = %d\n", urs_loop_free(loop));
	} else {
		printf("urs_cancel = %d\n", urs_cancel(f));
		printf("the cancelled send resolved %d\n", urs_await(f, NULL));
		urs_sock_free(s);
		urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
		urs_loop_free(loop);
	}
	if (teardown)
		urs_sock_free(s);
	close(fds[0]);
	return 0;
}
