/* SPDX-License-Identifier: MIT */
/* Datagram echo server: UDP over IPv4/IPv6, or Unix datagram. Each datagram goes back to
 * its sender as it is (recvfrom -> sendto), from the loop's provided buffers: one up to
 * 64 KiB arrives whole (message buffers), whatever the loop's buffer size. A longer one
 * (Unix datagrams can be) arrives cut (URS_RES_TRUNC): it is reported on stderr and not
 * echoed, since its sender never sent what is left of it.
 *
 *   build/examples/dgram_echo 127.0.0.1:9000        (UDP, or "[::1]:0")
 *   build/examples/dgram_echo /tmp/echo.sock        (Unix datagram; "@name" for abstract)
 *   build/examples/dgram_echo_client 127.0.0.1:9000 hello
 *
 * The first line on stdout is "listening on <address>"; SIGINT/SIGTERM stop it (exit 0)
 * and remove the Unix path it created. */
#include "ursock.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static urs_sock *sock;
static volatile sig_atomic_t stopping;

static void on_signal(int sig) { (void)sig; stopping = 1; }

struct pending {
	urs_buf buf;
	urs_addr to;
};

static void on_sent(urs_result *r, void *user)
{
	urs_buf *b = user;
	(void)r;
	urs_buf_release(b);
}

static urs_buf held[4096];

static void on_datagram(urs_result *r, void *user)
{
	(void)user;
	if (!(r->flags & URS_RES_MORE))
		return;
	if (r->addr.len == 0) { /* an unbound Unix sender cannot be answered */
		urs_buf_release(&r->buf);
		return;
	}
	if (r->flags & URS_RES_TRUNC) {
		char from[URS_ADDR_STRLEN];
		urs_addr_format(&r->addr, from, sizeof(from));
		fprintf(stderr, "dgram_echo: a datagram from %s was longer than %u bytes: "
				"dropped, not echoed\n", from, r->buf.len);
		urs_buf_release(&r->buf);
		return;
	}
	urs_buf *b = &held[r->buf.id % 4096];
	*b = r->buf;
	if (urs_then(urs_sendto(sock, b->data, b->len, 0, &r->addr), on_sent, b) < 0)
		urs_buf_release(b);
}

int main(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help")) {
		fprintf(stderr, "usage: %s ADDRESS   (127.0.0.1:9000, [::1]:0, /path, @name)\n",
			argv[0]);
		return argc == 2 ? 0 : 2;
	}
	urs_addr addr;
	urs_loop *loop;
	urs_loop_opts o = { .buf_count = 4096, .buf_size = 2048 };
	int ret = urs_addr_parse(&addr, argv[1]);
	if (ret == 0)
		ret = urs_loop_new(&loop, &o);
	if (ret == 0)
		ret = urs_socket(loop, addr.u.sa.sa_family, SOCK_DGRAM, 0, &sock);
	if (ret == 0)
		ret = urs_bind(sock, &addr);
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	urs_getsockname(sock, &addr);
	char text[URS_ADDR_STRLEN];
	urs_addr_format(&addr, text, sizeof(text));
	printf("listening on %s\n", text);
	fflush(stdout);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	urs_future st = urs_recvfrom_stream(sock, on_datagram, NULL);
	while (!stopping && urs_loop_run(loop, URS_RUN_ONCE) >= 0)
		;
	/* The close cancels the stream and the echoes in flight; their callbacks give the
	 * buffers back before it resolves. */
	urs_cancel(st);
	urs_await(urs_close(sock), NULL);
	urs_sock_free(sock);
	urs_loop_free(loop);
	if (text[0] == '/')
		unlink(text);
	return 0;
}
