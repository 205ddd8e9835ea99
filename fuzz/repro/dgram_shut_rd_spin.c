/* SPDX-License-Identifier: MIT */
/* Found by fuzz_engine: after shutdown(SHUT_RD) on a Unix datagram socket io_uring's recvmsg
 * completes with 0 at once, and a receive stream on it (one recvmsg per message: no multishot
 * receive, or no buffer ring) takes each 0 for an empty datagram: it never ends and spins,
 * delivering empty "datagrams" nobody sent, one per loop turn. Minor, but a busy loop a
 * caller's input can cause; on a stream or seqpacket socket the stream ends with res 0.
 * Run: make fuzz-repro (every reproducer, under ASan+UBSan; exit 0 once fixed). */
#include "ursock.h"

#include <stdio.h>

static int events, finals;

static void on_dgram(urs_result *r, void *user)
{
	(void)user;
	if (r->flags & URS_RES_MORE)
		events++;
	else
		finals++;
	urs_buf_release(&r->buf);
}

int main(int argc, char **argv)
{
	urs_loop *loop;
	urs_sock *s[2];
	(void)argv;
	urs_loop_opts o = { .disable = argc > 1 ? URS_FEAT_BUF_RING : URS_FEAT_RECV_MULTI };
	if (urs_loop_new(&loop, &o) < 0 || urs_socketpair(loop, SOCK_DGRAM, s) < 0)
		return 2;
	urs_await(urs_shutdown(s[0], SHUT_RD), NULL);
	urs_future f = urs_recvfrom_stream(s[0], on_dgram, NULL);
	for (int i = 0; i < 100; i++) {
		urs_detach(urs_sleep(loop, 0.0001));
		urs_loop_run(loop, URS_RUN_ONCE);
	}
	printf("%d empty datagrams (none was sent), %d ends\n", events, finals);
	urs_cancel(f);
	urs_sock_free(s[0]);
	urs_sock_free(s[1]);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	urs_loop_free(loop);
	return events > 0;
}
