/* SPDX-License-Identifier: MIT */
/* Found by fuzz_engine: "After urs_sock_free returns no callback on it runs, except that close
 * callback" does not hold for an op that resolved before anyone consumed it: it left its
 * socket's op list when it resolved, so urs_sock_free cannot drop its result, and a callback
 * attached with urs_then still runs after the free, with the per-connection state the close
 * callback freed. An op can resolve inside the call that starts it (a deadline already past,
 * a non-blocking op that would wait), so the plain urs_then(urs_recv(s, ...), cb, conn);
 * ...; urs_sock_free(s) pattern hits it too.
 * argv[1]: 0 = then attached after the op resolved, before the free; 1 = after the free;
 * 2 = then attached at once, on a socket with a 1 ns timeout.
 * Run: make fuzz-repro (every reproducer, under ASan+UBSan; exit 0 once fixed). */
#include "ursock.h"

#include <stdio.h>
#include <stdlib.h>

static int calls;

static void on_recv(urs_result *r, void *user)
{
	(void)user;
	calls++;
	printf("recv callback ran after urs_sock_free: res %d\n", r->res);
	urs_buf_release(&r->buf);
}

int main(int argc, char **argv)
{
	int after = argc > 1 ? atoi(argv[1]) : 2;
	urs_loop *loop;
	urs_sock *s[2];
	if (urs_loop_new(&loop, NULL) < 0 || urs_socketpair(loop, SOCK_STREAM, s) < 0)
		return 2;
	if (after == 2) {
		urs_settimeout(s[1], 1e-9);
		urs_then(urs_recv(s[1], 16, 0), on_recv, NULL);
	} else {
		urs_settimeout(s[1], 0.001);
		urs_future f = urs_recv(s[1], 16, 0); /* nobody consumes it yet */
		urs_await(urs_sleep(loop, 0.005), NULL); /* meanwhile it resolves -ETIMEDOUT */
		if (!after)
			urs_then(f, on_recv, NULL);
		urs_sock_free(s[1]); /* no callback on s[1] may run after this */
		if (after)
			printf("urs_then after the free = %d\n", urs_then(f, on_recv, NULL));
	}
	if (after == 2)
		urs_sock_free(s[1]);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	printf("%d callbacks after the free (want 0)\n", calls);
	urs_sock_free(s[0]);
	urs_loop_free(loop);
	return calls != 0;
}
