/* SPDX-License-Identifier: MIT */
/* Found by fuzz_engine: a receive stream whose events come one request at a time (the socket
 * has a timeout, or the loop has no multishot receive) resolves twice when its own event
 * callback cancels it, frees its socket or closes it — the usual "stream ended: free the
 * connection" pattern. The second resolution delivers an op already back in the pool:
 * SEGV in urs__buf_lend (ASan), a callback after the final one; after urs_sock_free the
 * double resolution is silent but the op goes back to the pool twice (ops_in_use wraps).
 * Run: make fuzz-repro (every reproducer, under ASan+UBSan; exit 0 once fixed).
 * argv[1]: 0 = urs_cancel(its future), 1 = urs_sock_free(its socket), 2 = urs_close. */
#include "ursock.h"

#include <stdio.h>
#include <stdlib.h>

static int events, finals, how;
static urs_future stream;
static urs_sock *s[2];

static void on_chunk(urs_result *r, void *user)
{
	(void)user;
	if (r->flags & URS_RES_MORE) {
		events++;
		if (how == 0)
			urs_cancel(stream);
		else if (how == 1)
			urs_sock_free(s[1]);
		else
			urs_detach(urs_close(s[1]));
	} else {
		finals++;
		printf("final %d: res %d\n", finals, r->res);
	}
	urs_buf_release(&r->buf);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	how = argc > 1 ? atoi(argv[1]) : 0;
	urs_loop *loop;
	if (urs_loop_new(&loop, NULL) < 0 || urs_socketpair(loop, SOCK_STREAM, s) < 0)
		return 2;
	urs_settimeout(s[1], 1.0); /* one recv per chunk instead of a multishot recv */
	stream = urs_recv_stream(s[1], on_chunk, NULL);
	urs_await(urs_sendall(s[0], "hello", 5, 0), NULL);
	for (int i = 0; i < 5; i++)
		urs_loop_run(loop, URS_RUN_NOWAIT);
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	/* After a free the results are dropped: no final callback then, but the op still goes
	 * back to the pool twice (ops_in_use wraps below zero). In use after: the close ops
	 * reserved for the sockets still there (s[1]'s too when it was only cancelled). */
	int want = how == 1 ? 0 : 1;
	unsigned want_ops = how == 0 ? 2 : 1;
	printf("%d events, %d final callbacks (want %d); ops_in_use %u (want %u)\n", events,
	       finals, want, st.ops_in_use, want_ops);
	int bad = finals != want || st.ops_in_use != want_ops;
	if (how != 1)
		urs_sock_free(s[1]);
	urs_sock_free(s[0]);
	urs_loop_free(loop);
	return bad;
}
