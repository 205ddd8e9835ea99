/* SPDX-License-Identifier: MIT */
/* The seed table's rarer types: SOCK_RDM exists only where a protocol family provides it
 * (TIPC), SOCK_SEQPACKET over AF_INET only with SCTP. Where the kernel has them they work;
 * elsewhere creation gives the kernel's clear error. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#ifndef AF_TIPC
#define AF_TIPC 30
#endif
#ifndef IPPROTO_SCTP
#define IPPROTO_SCTP 132
#endif

static bool clear_error(int ret)
{
	return ret == -ESOCKTNOSUPPORT || ret == -EAFNOSUPPORT || ret == -EPROTONOSUPPORT;
}

static void test_rdm_refused_on_inet_inet6_unix(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	const int fams[] = { AF_INET, AF_INET6, AF_UNIX };
	for (int i = 0; i < 3; i++) {
		urs_sock *s = NULL;
		int ret = urs_socket(loop, fams[i], SOCK_RDM, 0, &s);
		print_message("socket(%d, SOCK_RDM): %s\n", fams[i], strerror(-ret));
		assert_true(clear_error(ret));
		assert_null(s);
	}
	tu_loop_done(loop);
}

static void test_rdm_over_tipc(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s = NULL;
	int ret = urs_socket(loop, AF_TIPC, SOCK_RDM, 0, &s);
	if (ret < 0) {
		assert_true(clear_error(ret));
		print_message("AF_TIPC: %s (module not loaded?): skipping\n", strerror(-ret));
		tu_loop_done(loop);
		skip();
	}
	assert_int_equal(urs_sock_type(s), SOCK_RDM);
	assert_true(urs_fileno(s) >= 0);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_seqpacket_over_sctp(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *l = NULL;
	int ret = urs_socket(loop, AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP, &l);
	if (ret < 0) {
		assert_true(clear_error(ret));
		print_message("SCTP: %s: skipping\n", strerror(-ret));
		tu_loop_done(loop);
		skip();
	}
	urs_addr a;
	urs_addr_parse(&a, "127.0.0.1:0");
	assert_int_equal(urs_bind(l, &a), 0);
	assert_int_equal(urs_listen(l, 4), 0);
	assert_int_equal(urs_getsockname(l, &a), 0);
	urs_sock *c;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP, &c), 0);
	tu_await_eq(urs_sendto(c, "sctp", 4, 0, &a), 4, NULL);
	urs_result r;
	tu_await_eq(urs_recvfrom(l, 64, 0), 4, &r);
	assert_memory_equal(r.buf.data, "sctp", 4);
	urs_buf_release(&r.buf);
	tu_close(c);
	tu_close(l);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdm_refused_on_inet_inet6_unix),
		cmocka_unit_test(test_rdm_over_tipc),
		cmocka_unit_test(test_seqpacket_over_sctp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
