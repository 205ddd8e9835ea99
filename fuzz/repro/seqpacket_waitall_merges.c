/* SPDX-License-Identifier: MIT */
/* Found by fuzz_engine: urs_recv_into (or urs_recv) with MSG_WAITALL on a seqpacket socket
 * returns several messages run together as one result: io_uring retries a short MSG_WAITALL
 * receive on SOCK_SEQPACKET as it does on a stream (io_net_retry), so it goes on into the
 * next messages until len bytes are there, and the engine passes the flag through. Here three
 * 2000-byte messages come back as one 4096-byte "message" flagged URS_RES_TRUNC: the first
 * two glued together, the third cut and its rest dropped; the next receive finds nothing.
 * The header: "On a datagram or seqpacket socket one message".
 * Run: make fuzz-repro (every reproducer, under ASan+UBSan; exit 0 once fixed). */
#include "ursock.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
	static char msg[3][2000], buf[4096];
	urs_loop *loop;
	urs_sock *s[2];
	if (urs_loop_new(&loop, NULL) < 0 || urs_socketpair(loop, SOCK_SEQPACKET, s) < 0)
		return 2;
	for (int i = 0; i < 3; i++) {
		memset(msg[i], 'a' + i, sizeof(msg[i]));
		urs_await(urs_send(s[0], msg[i], sizeof(msg[i]), 0), NULL);
	}
	urs_settimeout(s[1], 0.1);
	urs_result r;
	int n = urs_await(urs_recv_into(s[1], buf, sizeof(buf), MSG_WAITALL), &r);
	printf("recv_into(4096, MSG_WAITALL) = %d, flags %#x, bytes 1999/2000: %c%c (want 2000, "
	       "one message of a's)\n",
	       n, r.flags, buf[1999], buf[2000]);
	int next = urs_await(urs_recv(s[1], 4096, 0), &r);
	printf("next receive = %d (want 2000: the b's)\n", next);
	urs_buf_release(&r.buf);
	urs_sock_free(s[0]);
	urs_sock_free(s[1]);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	urs_loop_free(loop);
	return n != 2000 || next != 2000;
}
