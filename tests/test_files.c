/* SPDX-License-Identifier: MIT */
/* Direct descriptors (URS_FEAT_FIXED_FILES): a socket on an io_uring loop gets a slot in the
 * ring's registered file table and its ops name the slot. Checked: the feature and its
 * disable bit, a slot reused by a new socket addresses the new socket (not the old file), a
 * full table leaves sockets on their fds and they still work, and a closed socket is closed
 * at once even though the table held it. */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static urs_sock *udp_bound(urs_loop *loop, urs_addr *bound)
{
	urs_addr a;
	urs_sock *s;
	assert_int_equal(urs_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &s), 0);
	assert_int_equal(urs_bind(s, &a), 0);
	assert_int_equal(urs_getsockname(s, bound), 0);
	return s;
}

/* from sends a datagram to to; to receives it and must see from's port as its source. */
static void hop(urs_sock *from, const urs_addr *from_addr, urs_sock *to, const urs_addr *to_addr,
		uint32_t tag)
{
	tu_await_eq(urs_sendto(from, &tag, sizeof(tag), 0, to_addr), (int)sizeof(tag), NULL);
	urs_result r;
	tu_await_eq(urs_recvfrom(to, 64, 0), (int)sizeof(tag), &r);
	uint32_t got;
	memcpy(&got, r.buf.data, sizeof(got));
	assert_int_equal(got, tag);
	assert_int_equal(urs_addr_port(&r.addr), urs_addr_port(from_addr));
	urs_buf_release(&r.buf);
}

static void test_feature_and_disable(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	tu_require_ring(loop);
	if (!(urs_loop_features(loop) & URS_FEAT_FIXED_FILES)) {
		tu_loop_done(loop);
		skip();
	}
	assert_non_null(strstr(urs_loop_features_str(loop), "fixed_files"));
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	tu_await_eq(urs_sendall(c, "slot", 4, 0), 0, NULL);
	urs_result r;
	tu_await_eq(urs_recv(s, 64, 0), 4, &r);
	assert_memory_equal(r.buf.data, "slot", 4);
	urs_buf_release(&r.buf);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);

	urs_loop_opts o = { .disable = URS_FEAT_FIXED_FILES };
	loop = tu_loop_new(&o);
	assert_false(urs_loop_features(loop) & URS_FEAT_FIXED_FILES);
	assert_null(strstr(urs_loop_features_str(loop), "fixed_files"));
	tu_tcp_pair(loop, "[::1]:0", &c, &s);
	tu_await_eq(urs_sendall(s, "plain", 5, 0), 0, NULL);
	tu_await_eq(urs_recv(c, 64, 0), 5, &r);
	assert_memory_equal(r.buf.data, "plain", 5);
	urs_buf_release(&r.buf);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

/* The table is sized from RLIMIT_NOFILE when the loop is made: 32 slots here. Then the limit
 * is raised and 81 sockets are opened: the first 32 sit in slots, the rest on their fds.
 * Every one must send from its own address. Then 80 close and 80 new ones reuse the slots,
 * three rounds, and each must again be itself: a slot still holding the old file would send
 * from the old port (or fail on a closed socket). */
static void test_slots_full_and_reused(void **state)
{
	(void)state;
	struct rlimit old;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max < 1024) {
		print_message("RLIMIT_NOFILE hard limit %lu < 1024: skipping\n",
			      (unsigned long)old.rlim_max);
		skip();
	}
	struct rlimit small = { .rlim_cur = 32, .rlim_max = old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &small), 0);
	urs_loop *loop = tu_loop_new(NULL);
	struct rlimit big = { .rlim_cur = 1024, .rlim_max = old.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &big), 0);
	if (strcmp(tu_backend(loop), "io_uring") ||
	    !(urs_loop_features(loop) & URS_FEAT_FIXED_FILES))
		print_message("no file table on this loop (%s): the sockets run on fds\n",
			      urs_loop_features_str(loop));

	enum { N = 80 };
	urs_addr hub_addr, addr[N];
	urs_sock *hub = udp_bound(loop, &hub_addr);
	for (int round = 0; round < 3; round++) {
		urs_sock *s[N];
		for (int i = 0; i < N; i++)
			s[i] = udp_bound(loop, &addr[i]);
		for (int i = 0; i < N; i++) {
			hop(s[i], &addr[i], hub, &hub_addr, (uint32_t)(round * 1000 + i));
			hop(hub, &hub_addr, s[i], &addr[i], (uint32_t)(round * 1000 + i + 500));
		}
		/* Close in an order unlike the opening one, so slots come back shuffled. */
		for (int i = 0; i < N; i += 2)
			tu_close(s[i]);
		for (int i = 1; i < N; i += 2)
			tu_close(s[i]);
	}
	tu_close(hub);
	tu_loop_done(loop);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

/* A closed socket is closed now: the peer of a closed TCP socket reads the end, a closed UDP
 * port refuses at once (the table's reference is dropped by the close itself). */
static void test_close_is_immediate(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	for (int i = 0; i < 50; i++) {
		urs_sock *c, *s;
		tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
		tu_close(s);
		urs_result r;
		tu_await_eq(urs_recv(c, 64, 0), 0, &r);
		tu_close(c);

		urs_addr aa, ba;
		urs_sock *a = udp_bound(loop, &aa);
		urs_sock *b = udp_bound(loop, &ba);
		tu_await_eq(urs_connect(a, &ba), 0, NULL);
		tu_close(b);
		tu_await_eq(urs_send(a, "x", 1, 0), 1, NULL);
		tu_await_eq(urs_recv(a, 64, 0), -ECONNREFUSED, NULL);
		tu_close(a);
	}
	tu_loop_done(loop);
}

/* URSOCK_DISABLE turns features off from the environment; an unknown name is refused. */
static void test_env_disable(void **state)
{
	(void)state;
	urs_loop *loop;
	assert_int_equal(setenv("URSOCK_DISABLE", "fixed_files, buf_ring", 1), 0);
	assert_int_equal(urs_loop_new(&loop, NULL), 0);
	assert_false(urs_loop_features(loop) & (URS_FEAT_FIXED_FILES | URS_FEAT_BUF_RING));
	urs_loop_free(loop);
	assert_int_equal(setenv("URSOCK_DISABLE", "all", 1), 0);
	assert_int_equal(urs_loop_new(&loop, NULL), 0);
	assert_int_equal(urs_loop_features(loop), 0);
	urs_loop_free(loop);
	assert_int_equal(setenv("URSOCK_DISABLE", "fixed_files,no_such_thing", 1), 0);
	loop = NULL;
	assert_int_equal(urs_loop_new(&loop, NULL), -EINVAL);
	assert_null(loop);
	assert_int_equal(unsetenv("URSOCK_DISABLE"), 0);
	assert_int_equal(urs_loop_new(&loop, NULL), 0);
	if (!strcmp(tu_backend(loop), "io_uring"))
		assert_true(urs_loop_features(loop) & URS_FEAT_BUF_RING);
	urs_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feature_and_disable),
		cmocka_unit_test(test_slots_full_and_reused),
		cmocka_unit_test(test_close_is_immediate),
		cmocka_unit_test(test_env_disable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
