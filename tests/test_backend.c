/* SPDX-License-Identifier: MIT */
/* Where io_uring is refused (issue 11). This binary installs a seccomp filter that fails
 * io_uring_setup with EPERM, as Docker's and containerd's default profiles do, before any
 * test runs: a loop made with the automatic choice must run on epoll, say why, and work end
 * to end; one that demands io_uring gets -EPERM. Then, as an unprivileged user whose ring
 * memory is charged to a small RLIMIT_MEMLOCK (64 KiB, then 0), four loops in one process
 * must all work. It sets URSOCK_BACKEND itself, so it runs once, not once per backend. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static bool filtered;

static int deny_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void require_filter(void)
{
	if (!filtered) {
		print_message("could not install the seccomp filter: skipping\n");
		skip();
	}
}

static void test_demanded_uring_is_refused(void **state)
{
	(void)state;
	require_filter();
	urs_loop *loop = NULL;
	urs_loop_opts o = { .backend = URS_BACKEND_URING };
	assert_int_equal(urs_loop_new(&loop, &o), -EPERM);
	assert_null(loop);
	setenv("URSOCK_BACKEND", "uring", 1);
	assert_int_equal(urs_loop_new(&loop, NULL), -EPERM);
	setenv("URSOCK_BACKEND", "bogus", 1);
	assert_int_equal(urs_loop_new(&loop, NULL), -EINVAL);
	unsetenv("URSOCK_BACKEND");
}

static urs_loop *auto_loop(void)
{
	urs_loop *loop = tu_loop_new(NULL);
	const char *f = urs_loop_features_str(loop);
	print_message("features: %s\n", f);
	assert_string_equal(f, "backend=epoll (io_uring_setup: EPERM)");
	return loop;
}

/* TCP over IPv4 and IPv6: sendall, recv in a loop, the same bytes back. */
static void echo_over(urs_loop *loop, const char *where)
{
	urs_sock *c, *s;
	tu_tcp_pair(loop, where, &c, &s);
	enum { N = 1 << 20 };
	char *out = malloc(N), *in = malloc(N);
	tu_fill(out, N, 9);
	urs_future f = urs_sendall(c, out, N, 0);
	size_t got = 0;
	while (got < N) {
		urs_result r;
		int k = urs_await(urs_recv(s, 65536, 0), &r);
		assert_true(k > 0);
		memcpy(in + got, r.buf.data, (size_t)k);
		got += (size_t)k;
		urs_buf_release(&r.buf);
	}
	tu_await_eq(f, 0, NULL);
	assert_memory_equal(in, out, N);
	free(in);
	free(out);
	tu_close(c);
	tu_close(s);
}

static void test_seccomp_tcp_v4_v6(void **state)
{
	(void)state;
	require_filter();
	urs_loop *loop = auto_loop();
	echo_over(loop, "127.0.0.1:0");
	echo_over(loop, "[::1]:0");
	tu_loop_done(loop);
}

static void test_seccomp_udp_unix_timeouts(void **state)
{
	(void)state;
	require_filter();
	urs_loop *loop = auto_loop();
	/* UDP: a datagram and its sender */
	urs_sock *a, *b;
	urs_addr any, aa, ba;
	urs_addr_parse(&any, "127.0.0.1:0");
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &a), 0);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_DGRAM, 0, &b), 0);
	assert_int_equal(urs_bind(a, &any), 0);
	assert_int_equal(urs_bind(b, &any), 0);
	assert_int_equal(urs_getsockname(a, &aa), 0);
	assert_int_equal(urs_getsockname(b, &ba), 0);
	tu_await_eq(urs_sendto(b, "dgram", 5, 0, &aa), 5, NULL);
	urs_result r;
	tu_await_eq(urs_recvfrom(a, 100, 0), 5, &r);
	assert_memory_equal(r.buf.data, "dgram", 5);
	assert_int_equal(urs_addr_port(&r.addr), urs_addr_port(&ba));
	urs_buf_release(&r.buf);
	/* a timeout on the heap: nothing comes */
	assert_int_equal(urs_settimeout(a, 0.05), 0);
	tu_await_eq(urs_recvfrom(a, 100, 0), -ETIMEDOUT, NULL);
	tu_close(a);
	tu_close(b);
	/* Unix stream and seqpacket pairs, a makefile FILE over one */
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_SEQPACKET, p), 0);
	tu_await_eq(urs_send(p[0], "msg", 3, 0), 3, NULL);
	tu_await_eq(urs_recv(p[1], 100, 0), 3, NULL);
	tu_close(p[0]);
	tu_close(p[1]);
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	FILE *w = urs_makefile(p[0], "w", NULL);
	FILE *rd = urs_makefile(p[1], "r", NULL);
	assert_true(w && rd);
	fprintf(w, "line one\nline two\n");
	fflush(w);
	char line[64];
	assert_non_null(fgets(line, sizeof(line), rd));
	assert_string_equal(line, "line one\n");
	assert_non_null(fgets(line, sizeof(line), rd));
	assert_string_equal(line, "line two\n");
	fclose(w);
	fclose(rd);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* ---------------------------------------------------------------- memlock */

/* The child side: four loops in one process, each echoing over a socketpair. Prints each
 * loop's feature string; exits 0 when all four worked. */
static int four_loops(void)
{
	urs_loop *loops[4] = { 0 };
	for (int i = 0; i < 4; i++) {
		int ret = urs_loop_new(&loops[i], NULL);
		if (ret < 0) {
			fprintf(stderr, "loop %d: urs_loop_new: %s\n", i, strerror(-ret));
			return 1;
		}
		printf("loop %d: %s\n", i, urs_loop_features_str(loops[i]));
	}
	for (int i = 0; i < 4; i++) {
		urs_sock *p[2];
		urs_result r;
		if (urs_socketpair(loops[i], SOCK_STREAM, p) < 0 ||
		    urs_await(urs_sendall(p[0], "four", 4, 0), NULL) != 0 ||
		    urs_await(urs_recv(p[1], 16, 0), &r) != 4 || memcmp(r.buf.data, "four", 4)) {
			fprintf(stderr, "loop %d: the echo failed\n", i);
			return 1;
		}
		urs_buf_release(&r.buf);
		urs_sock_free(p[0]);
		urs_sock_free(p[1]);
	}
	for (int i = 0; i < 4; i++)
		urs_loop_free(loops[i]);
	return 0;
}

static char self_copy[256];

static void memlock_run(const char *limit, char *out, size_t len)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "prlimit --memlock=%s:%s -- setpriv --reuid=65534 --regid=65534 --clear-groups "
		 "--inh-caps=-all --bounding-set=-all -- %s --four-loops 2>&1",
		 limit, limit, self_copy);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	print_message("memlock %s, as nobody:\n%s", limit, out);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_memlock_four_loops(void **state)
{
	(void)state;
	if (!self_copy[0] || access("/usr/bin/setpriv", X_OK) || access("/usr/bin/prlimit", X_OK)) {
		print_message("setpriv/prlimit or a copy runnable by nobody missing: skipping\n");
		skip();
	}
	char out[4096];
	memlock_run("65536", out, sizeof(out));
	memlock_run("0", out, sizeof(out));
	/* With none at all, no ring can be made: every loop says epoll and why. */
	int epoll = 0;
	for (char *p = out; (p = strstr(p, "backend=epoll (io_uring_setup: ENOMEM)")); p++)
		epoll++;
	assert_int_equal(epoll, 4);
}

/* A copy of this binary that the unprivileged user may run (the build tree may not be
 * reachable for it). */
static void make_self_copy(void)
{
	char dir[] = "/tmp/ursock-backend-XXXXXX";
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		return;
	snprintf(self_copy, sizeof(self_copy), "%s/test_backend", dir);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "cp /proc/%d/exe %s && chmod 755 %s", getpid(), self_copy,
		 self_copy);
	if (system(cmd) != 0)
		self_copy[0] = '\0';
}

static void drop_self_copy(void)
{
	if (!self_copy[0])
		return;
	unlink(self_copy);
	*strrchr(self_copy, '/') = '\0';
	rmdir(self_copy);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--four-loops"))
		return four_loops();
	unsetenv("URSOCK_BACKEND");
	make_self_copy();
	/* The memlock test runs before the filter (its children run without it). */
	const struct CMUnitTest before[] = {
		cmocka_unit_test(test_memlock_four_loops),
	};
	int failed = cmocka_run_group_tests_name("memlock", before, NULL, NULL);
	drop_self_copy();
	filtered = deny_io_uring() == 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demanded_uring_is_refused),
		cmocka_unit_test(test_seccomp_tcp_v4_v6),
		cmocka_unit_test(test_seccomp_udp_unix_timeouts),
	};
	return failed + cmocka_run_group_tests_name("seccomp", tests, NULL, NULL);
}
