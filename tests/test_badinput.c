/* SPDX-License-Identifier: MIT */
/* Bad input gets a negative errno, never a crash, a hang or a leak. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

static void test_null_everywhere(void **state)
{
	(void)state;
	urs_sock *s;
	urs_addr a;
	assert_int_equal(urs_socket(NULL, AF_INET, SOCK_STREAM, 0, &s), -EINVAL);
	assert_int_equal(urs_bind(NULL, &a), -EINVAL);
	assert_int_equal(urs_listen(NULL, 1), -EINVAL);
	assert_int_equal(urs_future_error(urs_accept(NULL)), -EINVAL);
	assert_int_equal(urs_future_error(urs_connect(NULL, &a)), -EINVAL);
	assert_int_equal(urs_future_error(urs_recv(NULL, 1, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_send(NULL, "x", 1, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_sendall(NULL, "x", 1, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_close(NULL)), -EINVAL);
	assert_int_equal(urs_getpeername(NULL, &a), -EINVAL);
	assert_int_equal(urs_fileno(NULL), -EINVAL);
	assert_int_equal(urs_settimeout(NULL, 1.0), -EINVAL);
	assert_int_equal(urs_buf_release(NULL), -EINVAL);
	assert_int_equal(urs_addr_parse(NULL, "1.2.3.4:5"), -EINVAL);
	assert_int_equal(urs_addr_parse(&a, NULL), -EINVAL);
	urs_sock_free(NULL);

	urs_loop *loop = tu_loop_new(NULL);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, NULL), -EINVAL);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &s), 0);
	assert_int_equal(urs_bind(s, NULL), -EINVAL);
	assert_int_equal(urs_future_error(urs_connect(s, NULL)), -EINVAL);
	assert_int_equal(urs_future_error(urs_send(s, NULL, 5, 0)), -EFAULT);
	assert_int_equal(urs_future_error(urs_recv_into(s, NULL, 5, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_accept_stream(s, NULL, NULL)), -EINVAL);
	assert_int_equal(urs_future_error(urs_recv_stream(s, NULL, NULL)), -EINVAL);
	assert_int_equal(urs_getsockname(s, NULL), -EINVAL);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_closed_socket(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s;
	urs_addr a;
	assert_int_equal(urs_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &s), 0);
	tu_await_eq(urs_close(s), 0, NULL);
	assert_int_equal(urs_bind(s, &a), -EBADF);
	assert_int_equal(urs_listen(s, 1), -EBADF);
	assert_int_equal(urs_future_error(urs_accept(s)), -EBADF);
	assert_int_equal(urs_future_error(urs_connect(s, &a)), -EBADF);
	assert_int_equal(urs_future_error(urs_recv(s, 10, 0)), -EBADF);
	assert_int_equal(urs_future_error(urs_send(s, "x", 1, 0)), -EBADF);
	assert_int_equal(urs_future_error(urs_sendto(s, "x", 1, 0, &a)), -EBADF);
	assert_int_equal(urs_future_error(urs_close(s)), -EBADF);
	assert_int_equal(urs_fileno(s), -EBADF);
	assert_int_equal(urs_getpeername(s, &a), -EBADF);
	assert_int_equal(urs_settimeout(s, 1.0), -EBADF);
	urs_sock_free(s);
	tu_loop_done(loop);
}

static void test_wrong_use_of_sockets(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr a;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &a);
	/* send on a listening socket, recv on an unconnected one */
	int r = urs_await(urs_send(l, "x", 1, 0), NULL);
	assert_true(r == -ENOTCONN || r == -EPIPE);
	urs_sock *u;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &u), 0);
	assert_int_equal(urs_await(urs_recv(u, 10, 0), NULL), -ENOTCONN);
	assert_int_equal(urs_getpeername(u, &a), -ENOTCONN);
	/* zero and oversize lengths */
	assert_int_equal(urs_future_error(urs_recv(u, 0, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_recv(u, (size_t)1 << 40, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_send(u, "x", 0, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_send(u, "x", (size_t)1 << 40, 0)), -EMSGSIZE);
	/* an address of the wrong family */
	urs_addr a6;
	assert_int_equal(urs_addr_parse(&a6, "[::1]:1"), 0);
	assert_int_equal(urs_bind(u, &a6), -EAFNOSUPPORT);
	assert_int_equal(urs_future_error(urs_connect(u, &a6)), -EAFNOSUPPORT);
	/* a stream has no datagrams; shutdown needs a direction */
	assert_int_equal(urs_future_error(urs_recvfrom(u, 10, 0)), -EOPNOTSUPP);
	assert_int_equal(urs_future_error(urs_shutdown(u, 42)), -EINVAL);
	assert_int_equal(urs_settimeout(u, 0.0 / 0.0), -EINVAL);
	/* no O_NONBLOCK on ring-driven sockets */
	urs_sock *nb;
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0, &nb), -EINVAL);
	/* families and types the kernel does not have */
	assert_int_equal(urs_socket(loop, 12345, SOCK_STREAM, 0, &nb), -EAFNOSUPPORT);
	tu_close(u);
	tu_close(l);
	tu_loop_done(loop);
}

static void test_buffer_misuse(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	tu_await_eq(urs_send(p[0], "abc", 3, 0), 3, NULL);
	urs_result r;
	tu_await_eq(urs_recv(p[1], 16, 0), 3, &r);
	urs_buf copy = r.buf;
	assert_int_equal(urs_buf_release(&r.buf), 0);
	assert_int_equal(urs_buf_release(&r.buf), 0);        /* emptied view: no-op */
	assert_int_equal(urs_buf_release(&copy), -EALREADY); /* a second release */
	urs_buf junk = { .len = 1, .id = 1u << 30, .loop = loop };
	assert_int_equal(urs_buf_release(&junk), -EINVAL);
	urs_buf orphan = { .len = 1, .id = 0 };
	assert_int_equal(urs_buf_release(&orphan), -EINVAL);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* Defect 4: a stale copy of a released buffer, once the buffer is lent again, changes
 * nothing: the new owner's bytes stay, and the kernel does not get the buffer back. */
static void test_stale_buffer_copy(void **state)
{
	(void)state;
	for (int ring = 0; ring < 2; ring++) {
		urs_loop_opts o = { .buf_count = 1, .disable = ring ? 0 : URS_FEAT_BUF_RING };
		urs_loop *loop = tu_loop_new(&o);
		urs_sock *p[2];
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
		urs_result r, r2, r3;
		tu_await_eq(urs_send(p[0], "abc", 3, 0), 3, NULL);
		tu_await_eq(urs_recv(p[1], 16, 0), 3, &r);
		urs_buf stale = r.buf;
		assert_int_equal(urs_buf_release(&r.buf), 0);
		tu_await_eq(urs_send(p[0], "def", 3, 0), 3, NULL);
		tu_await_eq(urs_recv(p[1], 16, 0), 3, &r2);
		assert_int_equal(r2.buf.id, stale.id); /* the only buffer, lent again */
		assert_int_equal(urs_buf_release(&stale), -EALREADY);
		urs_buf forged = r2.buf;
		forged.gen += 1000;
		assert_int_equal(urs_buf_release(&forged), -EINVAL);
		urs_loop_stats st;
		urs_loop_stats_get(loop, &st);
		assert_int_equal(st.bufs_lent, 1);
		/* Had the stale release given the buffer back, this receive would overwrite it. */
		tu_await_eq(urs_send(p[0], "xyz", 3, 0), 3, NULL);
		urs_future f = urs_recv(p[1], 16, 0);
		assert_int_equal(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0, 1);
		assert_int_equal(urs_loop_run(loop, URS_RUN_NOWAIT) >= 0, 1);
		assert_memory_equal(r2.buf.data, "def", 3);
		assert_int_equal(urs_buf_release(&r2.buf), 0);
		tu_await_eq(f, 3, &r3);
		assert_memory_equal(r3.buf.data, "xyz", 3);
		urs_buf_release(&r3.buf);
		tu_close(p[0]);
		tu_close(p[1]);
		tu_loop_done(loop);
	}
}

/* Closing cancels everything pending on the socket: each future resolves, then the fd. */
static void test_close_with_pending(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	urs_future recvs[50];
	for (int i = 0; i < 50; i++)
		recvs[i] = urs_recv(s, 100, 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	urs_future cl = urs_close(s);
	for (int i = 0; i < 50; i++)
		assert_int_equal(urs_await(recvs[i], NULL), -ECANCELED);
	tu_await_eq(cl, 0, NULL);
	urs_sock_free(s);
	tu_close(c);
	tu_loop_done(loop);
}

/* The ABI's reserved space (docs/ABI.md): an option this library does not know is refused,
 * not ignored; counters it does not have read as zero. */
static void test_reserved_space(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(((urs_loop_opts *)0)->reserved) / sizeof(unsigned); i++) {
		urs_loop_opts o = { .buf_count = 4 };
		o.reserved[i] = 1;
		urs_loop *loop = (urs_loop *)&o; /* must be cleared */
		assert_int_equal(urs_loop_new(&loop, &o), -EINVAL);
		assert_null(loop);
	}
	urs_loop *loop = tu_loop_new(NULL);
	urs_loop_stats st;
	memset(&st, 0xa5, sizeof(st));
	urs_loop_stats_get(loop, &st);
	for (size_t i = 0; i < sizeof(st.reserved) / sizeof(st.reserved[0]); i++)
		assert_int_equal(st.reserved[i], 0);
	assert_int_equal(st.socks_open, 0);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	tu_await_eq(urs_send(p[0], "r", 1, 0), 1, NULL);
	urs_result r;
	memset(&r, 0xa5, sizeof(r));
	tu_await_eq(urs_recv(p[1], 8, 0), 1, &r);
	for (size_t i = 0; i < sizeof(r.reserved) / sizeof(r.reserved[0]); i++)
		assert_int_equal(r.reserved[i], 0);
	urs_buf_release(&r.buf);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_everywhere),
		cmocka_unit_test(test_reserved_space),
		cmocka_unit_test(test_closed_socket),
		cmocka_unit_test(test_wrong_use_of_sockets),
		cmocka_unit_test(test_buffer_misuse),
		cmocka_unit_test(test_stale_buffer_copy),
		cmocka_unit_test(test_close_with_pending),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
