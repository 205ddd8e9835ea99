/* SPDX-License-Identifier: MIT */
/* Found by fuzz_engine: on a seqpacket socket, urs_recv_stream (multishot recvmsg) reports
 * the peer's close as a stream *event* (URS_RES_MORE, res 0, a buffer) instead of ending the
 * stream with res 0 — and keeps doing so: each buffer given back brings another "end".
 * The header: "the stream ends (cb without URS_RES_MORE) at EOF (res 0)".
 * Run: make fuzz-repro (every reproducer, under ASan+UBSan; exit 0 once fixed). */
#include "ursock.h"

#include <stdio.h>

static int events, finals;

static void on_msg(urs_result *r, void *user)
{
	(void)user;
	if (r->flags & URS_RES_MORE) {
		events++;
		if (events <= 3)
			printf("event: res %d, MORE, buf id %u len %u\n", r->res, r->buf.id, r->buf.len);
	} else {
		finals++;
		printf("end: res %d\n", r->res);
	}
	urs_buf_release(&r->buf);
}

int main(void)
{
	urs_loop *loop;
	urs_sock *s[2];
	if (urs_loop_new(&loop, NULL) < 0 || urs_socketpair(loop, SOCK_SEQPACKET, s) < 0)
		return 2;
	urs_future f = urs_recv_stream(s[1], on_msg, NULL);
	urs_sock_free(s[0]); /* the peer goes: s[1] sees the end of its stream */
	for (int i = 0; i < 20 && !finals; i++)
		urs_loop_run(loop, URS_RUN_ONCE);
	printf("after 20 turns: %d events, %d ends (want 0 events, 1 end with res 0)\n", events,
	       finals);
	urs_cancel(f);
	urs_sock_free(s[1]);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	urs_loop_free(loop);
	return events ? 1 : 0;
}
