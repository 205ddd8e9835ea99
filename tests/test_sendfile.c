/* SPDX-License-Identifier: MIT */
/* urs_sendfile: a file to a TCP socket whole and in order between other sends (splice
 * through a pipe, into the socket's registered slot or its fd; the read + send fallback;
 * sendfile(2) on epoll), slices and the file's end, its bytes in urs_sock_queued, the
 * timeout and cancel with the exact count sent, and bad input. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { FSIZE = (1 << 20) + 123 };

static int make_file(size_t size, unsigned char **data)
{
	int fd = memfd_create("urs-sendfile", MFD_CLOEXEC);
	assert_true(fd >= 0);
	unsigned char *d = malloc(size);
	tu_fill(d, size, 42);
	assert_int_equal(write(fd, d, size), (ssize_t)size);
	*data = d;
	return fd;
}

/* Reads exactly n bytes from s (or until EOF); returns how many came. */
static size_t read_all(urs_sock *s, unsigned char *into, size_t n)
{
	size_t got = 0;
	while (got < n) {
		int k = urs_await(urs_recv_into(s, into + got, n - got, 0), NULL);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	return got;
}

static void whole(unsigned disable)
{
	urs_loop_opts o = { .disable = disable };
	urs_loop *loop = tu_loop_new(&o);
	unsigned char *data;
	int fd = make_file(FSIZE, &data);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	assert_int_equal(urs_settimeout(s, 10), 0); /* bytes that never come fail, not hang */
	urs_future a = urs_send(c, "A", 1, 0);
	urs_future f = urs_sendfile(c, fd, 0, 0);
	urs_future slice = urs_sendfile(c, fd, 1000, 5000);
	urs_future past = urs_sendfile(c, fd, FSIZE - 10, 1000); /* only 10 bytes are left */
	urs_future z = urs_send(c, "Z", 1, 0);
	size_t total = 1 + FSIZE + 5000 + 10 + 1;
	unsigned char *in = malloc(total);
	assert_int_equal(read_all(s, in, total), total);
	tu_await_eq(a, 1, NULL);
	urs_result r;
	tu_await_eq(f, FSIZE, &r);
	assert_int_equal(r.sent, FSIZE);
	tu_await_eq(slice, 5000, NULL);
	tu_await_eq(past, 10, NULL);
	tu_await_eq(z, 1, NULL); /* a file that ended first is whole: nothing behind fails */
	assert_int_equal(in[0], 'A');
	unsigned char h1[32], h2[32];
	tu_sha256(in + 1, FSIZE, h1);
	tu_sha256(data, FSIZE, h2);
	assert_memory_equal(h1, h2, 32);
	assert_memory_equal(in + 1 + FSIZE, data + 1000, 5000);
	assert_memory_equal(in + 1 + FSIZE + 5000, data + FSIZE - 10, 10);
	assert_int_equal(in[total - 1], 'Z');
	assert_int_equal(lseek(fd, 0, SEEK_CUR), FSIZE); /* where our write left it: not moved */
	/* Past the end: nothing to send, 0. */
	tu_await_eq(urs_sendfile(c, fd, FSIZE + 5, 0), 0, NULL);
	free(in);
	free(data);
	close(fd);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_sendfile_whole_in_order(void **state)
{
	(void)state;
	whole(0);
}

static void test_sendfile_without_splice(void **state)
{
	(void)state;
	whole(URS_FEAT_SPLICE);
}

/* On io_uring the socket's ops name its registered slot (IOSQE_FIXED_FILE), the splice into
 * it too: the flag makes the kernel take fd_out as a slot while fd_in (our pipe) stays an
 * fd (kernel-notes/splice.md). whole(0) runs that way where the loop has a table; here the
 * same without one. */
static void test_sendfile_without_fixed_files(void **state)
{
	(void)state;
	whole(URS_FEAT_FIXED_FILES);
}

struct marks {
	int n, res[4];
};

static void on_mark(urs_result *r, void *user)
{
	struct marks *m = user;
	if (m->n < 4)
		m->res[m->n] = r->res;
	m->n++;
}

/* A sendfile's bytes count in urs_sock_queued like any ordered send's, leave it as the
 * socket takes them, and a file that ends before the count gives back what it will not
 * send: the water marks rise and fall once each, and the queue ends empty. */
static void test_sendfile_counts_queued(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	unsigned char *data;
	int fd = make_file(FSIZE, &data);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	assert_int_equal(urs_settimeout(s, 10), 0);
	struct marks m = { 0 };
	assert_int_equal(urs_sock_watermarks(c, 65536, 16384, on_mark, &m), 0);
	urs_future f = urs_sendfile(c, fd, 0, 0);
	urs_future z = urs_send(c, "Z", 1, 0);
	assert_int_equal(urs_sock_queued(c), FSIZE + 1);
	/* The file shrinks before a byte went: it ends first, at half. */
	size_t half = FSIZE / 2;
	assert_int_equal(ftruncate(fd, (off_t)half), 0);
	unsigned char *in = malloc(half + 1);
	assert_int_equal(read_all(s, in, half + 1), half + 1);
	urs_result r;
	tu_await_eq(f, (int)half, &r);
	assert_int_equal(r.sent, half);
	tu_await_eq(z, 1, NULL);
	assert_memory_equal(in, data, half);
	assert_int_equal(in[half], 'Z');
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_sock_queued(c), 0);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.res[0], 1);
	assert_int_equal(m.res[1], 0);
	free(in);
	free(data);
	close(fd);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

/* Nobody reads: the timeout (or a cancel) stops it; r.sent is exactly what the peer gets,
 * the stream is torn (the next send fails -EPIPE) and nothing is sent after the hole. */
static void cut(bool cancel)
{
	urs_loop *loop = tu_loop_new(NULL);
	size_t size = 32 << 20;
	unsigned char *data;
	int fd = make_file(size, &data);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	int small = 65536;
	urs_setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	urs_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (!cancel)
		assert_int_equal(urs_settimeout(c, 0.1), 0);
	urs_future f = urs_sendfile(c, fd, 0, 0);
	assert_int_equal(urs_settimeout(c, URS_NO_TIMEOUT), 0); /* the one behind waits for it */
	urs_future behind = urs_send(c, "late", 4, 0);
	if (cancel) {
		tu_await_eq(urs_sleep(loop, 0.1), 0, NULL);
		assert_int_equal(urs_cancel(f), 0);
	}
	urs_result r;
	int res = urs_await(f, &r);
	assert_int_equal(res, cancel ? -ECANCELED : -ETIMEDOUT);
	assert_true(r.sent > 0 && r.sent < size);
	assert_int_equal(urs_await(behind, NULL), -EPIPE);
	assert_int_equal(urs_await(urs_send(c, "x", 1, 0), NULL), -EPIPE);
	/* Close resets the torn connection: read what arrived before the reset. */
	tu_close(c);
	unsigned char *in = malloc(size);
	size_t got = read_all(s, in, size);
	assert_true(got <= r.sent);
	assert_memory_equal(in, data, got);
	free(in);
	free(data);
	close(fd);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_sendfile_timeout_counts(void **state)
{
	(void)state;
	cut(false);
}

static void test_sendfile_cancel_counts(void **state)
{
	(void)state;
	cut(true);
}

/* The exact count: cut, then the peer reads everything that came before the close. */
static void test_sendfile_exact_count(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	size_t size = 16 << 20;
	unsigned char *data;
	int fd = make_file(size, &data);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	assert_int_equal(urs_settimeout(c, 0.05), 0);
	urs_result r;
	assert_int_equal(urs_await(urs_sendfile(c, fd, 0, 0), &r), -ETIMEDOUT);
	/* A graceful end instead of the reset: shutdown is refused on a torn stream, so the
	 * count is checked by reading exactly r.sent bytes, then nothing more within a wait. */
	unsigned char *in = malloc(size);
	assert_int_equal(read_all(s, in, r.sent), r.sent);
	assert_memory_equal(in, data, r.sent);
	assert_int_equal(urs_settimeout(s, 0.05), 0);
	assert_int_equal(urs_await(urs_recv_into(s, in, 1, 0), NULL), -ETIMEDOUT);
	free(in);
	free(data);
	close(fd);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_sendfile_bad_input(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	unsigned char *data;
	int fd = make_file(100, &data);
	urs_sock *c, *s, *u;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &u), 0);
	assert_int_equal(urs_future_error(urs_sendfile(u, fd, 0, 0)), -EOPNOTSUPP);
	assert_int_equal(urs_future_error(urs_sendfile(c, -1, 0, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_sendfile(c, fd, -5, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_sendfile(c, 1000000, 0, 0)), -EBADF);
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(urs_future_error(urs_sendfile(c, p[0], 0, 0)), -EINVAL);
	close(p[0]);
	close(p[1]);
	int wo = open("/dev/null", O_WRONLY | O_CLOEXEC);
	(void)wo;
	close(wo);
	assert_int_equal(urs_setblocking(c, false), 0);
	assert_int_equal(urs_future_error(urs_sendfile(c, fd, 0, 0)), -EINVAL);
	assert_int_equal(urs_future_error(urs_sendfile(NULL, fd, 0, 0)), -EINVAL);
	tu_close(u);
	assert_int_equal(urs_future_error(urs_sendfile(u, fd, 0, 0)), -EBADF);
	free(data);
	close(fd);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sendfile_whole_in_order),
		cmocka_unit_test(test_sendfile_without_splice),
		cmocka_unit_test(test_sendfile_without_fixed_files),
		cmocka_unit_test(test_sendfile_counts_queued),
		cmocka_unit_test(test_sendfile_timeout_counts),
		cmocka_unit_test(test_sendfile_cancel_counts),
		cmocka_unit_test(test_sendfile_exact_count),
		cmocka_unit_test(test_sendfile_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
