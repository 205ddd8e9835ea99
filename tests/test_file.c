/* SPDX-License-Identifier: MIT */
/* makefile(): a FILE * on a socket, line protocols, big transfers, EOF, timeouts, a closed
 * peer, and the refusal to run inside a loop callback. */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void line_protocol(urs_loop *loop, urs_sock *a, urs_sock *b)
{
	int err;
	FILE *wa = urs_makefile(a, "w", &err);
	assert_non_null(wa);
	FILE *rb = urs_makefile(b, "rw", &err);
	assert_non_null(rb);
	for (int i = 0; i < 100; i++) {
		assert_true(fprintf(wa, "line %d of the protocol\n", i) > 0);
		assert_int_equal(fflush(wa), 0);
		char line[64];
		assert_non_null(fgets(line, sizeof(line), rb));
		char want[64];
		snprintf(want, sizeof(want), "line %d of the protocol\n", i);
		assert_string_equal(line, want);
	}
	/* rw: answer back on the same FILE. */
	FILE *ra = urs_makefile(a, "r", &err);
	assert_true(fputs("pong\n", rb) >= 0);
	assert_int_equal(fflush(rb), 0);
	char line[16];
	assert_non_null(fgets(line, sizeof(line), ra));
	assert_string_equal(line, "pong\n");
	/* EOF once the writer shuts down. */
	assert_int_equal(fclose(wa), 0); /* the socket stays open */
	assert_true(urs_fileno(a) >= 0);
	tu_await_eq(urs_shutdown(a, SHUT_WR), 0, NULL);
	assert_null(fgets(line, sizeof(line), rb));
	assert_true(feof(rb));
	fclose(rb);
	fclose(ra);
	(void)loop;
}

static void test_line_protocol_tcp(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	line_protocol(loop, c, s);
	tu_close(c);
	tu_close(s);
	tu_loop_done(loop);
}

static void test_line_protocol_unix(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	line_protocol(loop, p[0], p[1]);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

struct reader {
	int fd;
	size_t got;
	unsigned char sha[32];
};

/* The reading side runs on its own thread with its own loop: one loop per thread. */
static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	urs_loop *loop;
	if (urs_loop_new(&loop, NULL) < 0)
		return NULL;
	urs_sock *s;
	urs_sock_adopt(loop, rd->fd, &s);
	FILE *f = urs_makefile(s, "r", NULL);
	size_t cap = 16u << 20;
	unsigned char *all = malloc(cap);
	size_t n;
	while ((n = fread(all + rd->got, 1, 65536 < cap - rd->got ? 65536 : cap - rd->got, f)) > 0)
		rd->got += n;
	tu_sha256(all, rd->got, rd->sha);
	free(all);
	fclose(f);
	urs_sock_free(s);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	urs_loop_free(loop);
	return NULL;
}

static void test_large_fwrite_sha256(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *c, *s;
	tu_tcp_pair(loop, "127.0.0.1:0", &c, &s);
	/* Hand the server side's fd to the reader thread. */
	struct reader rd = { dup(urs_fileno(s)), 0, { 0 } };
	tu_close(s);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
	size_t len = 12u << 20;
	unsigned char *data = malloc(len);
	tu_fill(data, len, 42);
	unsigned char want[32];
	tu_sha256(data, len, want);
	FILE *w = urs_makefile(c, "wb", NULL);
	assert_int_equal(fwrite(data, 1, len, w), len);
	assert_int_equal(fclose(w), 0);
	tu_await_eq(urs_shutdown(c, SHUT_WR), 0, NULL);
	pthread_join(th, NULL);
	assert_int_equal(rd.got, len);
	assert_memory_equal(rd.sha, want, 32);
	free(data);
	tu_close(c);
	tu_loop_done(loop);
}

static void test_fread_timeout(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	urs_settimeout(p[1], 0.02);
	FILE *r = urs_makefile(p[1], "r", NULL);
	char buf[8];
	errno = 0;
	assert_int_equal(fread(buf, 1, sizeof(buf), r), 0);
	assert_true(ferror(r));
	assert_int_equal(errno, ETIMEDOUT);
	fclose(r);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

static void test_closed_peer_epipe(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	tu_close(p[1]);
	FILE *w = urs_makefile(p[0], "w", NULL);
	errno = 0;
	fputs("into the void\n", w);
	assert_int_equal(fflush(w), EOF); /* no SIGPIPE: the process is still here */
	assert_int_equal(errno, EPIPE);
	fclose(w);
	tu_close(p[0]);
	tu_loop_done(loop);
}

struct incb {
	FILE *f;
	int err;
	size_t n;
};

static void read_in_cb(urs_result *r, void *user)
{
	struct incb *st = user;
	char buf[4];
	(void)r;
	errno = 0;
	st->n = fread(buf, 1, sizeof(buf), st->f);
	st->err = errno;
}

static void test_makefile_inside_callback_refused(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	struct incb st = { urs_makefile(p[1], "r", NULL), 0, 1 };
	assert_int_equal(urs_then(urs_nop(loop), read_in_cb, &st), 0);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.err, EDEADLK);
	fclose(st.f);
	/* bad modes and sockets */
	int err;
	assert_null(urs_makefile(p[0], "a", &err));
	assert_int_equal(err, -EINVAL);
	assert_null(urs_makefile(NULL, "r", &err));
	assert_int_equal(err, -EINVAL);
	tu_await_eq(urs_close(p[0]), 0, NULL);
	assert_null(urs_makefile(p[0], "r", &err));
	assert_int_equal(err, -EBADF);
	urs_sock_free(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* The socket object outlives urs_sock_free while a FILE is open on it. */
static void test_file_outlives_free(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	FILE *w = urs_makefile(p[0], "w", NULL);
	fputs("bye\n", w);
	fflush(w);
	urs_sock_free(p[0]); /* closes the socket; the FILE keeps the object */
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	fputs("more\n", w);
	assert_int_equal(fflush(w), EOF);
	assert_int_equal(errno, EBADF);
	fclose(w);
	tu_close(p[1]);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_protocol_tcp),
		cmocka_unit_test(test_line_protocol_unix),
		cmocka_unit_test(test_large_fwrite_sha256),
		cmocka_unit_test(test_fread_timeout),
		cmocka_unit_test(test_closed_peer_epipe),
		cmocka_unit_test(test_makefile_inside_callback_refused),
		cmocka_unit_test(test_file_outlives_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
