/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int fds_at_start = -1;

int tu_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

void tu_require_uring(void)
{
	urs_loop *loop;
	int ret = urs_loop_new(&loop, NULL);
	if (ret == -ENOSYS || ret == -EPERM) {
		print_message("io_uring unavailable (%s): skipping\n", strerror(-ret));
		skip();
	}
	if (ret == 0)
		urs_loop_free(loop);
}

urs_loop *tu_loop_new(const urs_loop_opts *opts)
{
	fds_at_start = tu_fd_count();
	urs_loop *loop = NULL;
	int ret = urs_loop_new(&loop, opts);
	if (ret == -ENOSYS || ret == -EPERM)
		skip();
	assert_int_equal(ret, 0);
	return loop;
}

void tu_loop_done(urs_loop *loop)
{
	urs_loop_stats st;
	/* Anything still running (detached closes...) finishes first. */
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.ops_in_use, 0);
	assert_int_equal(st.bufs_lent, 0);
	assert_int_equal(st.socks_open, 0);
	assert_int_equal(st.socks_alive, 0);
	urs_loop_free(loop);
	assert_int_equal(tu_fd_count(), fds_at_start);
}

urs_sock *tu_listener(urs_loop *loop, const char *text, urs_addr *bound)
{
	urs_addr a;
	urs_sock *s;
	assert_int_equal(urs_addr_parse(&a, text), 0);
	assert_int_equal(urs_socket(loop, a.u.sa.sa_family, SOCK_STREAM, 0, &s), 0);
	int one = 1;
	assert_int_equal(urs_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(urs_bind(s, &a), 0);
	assert_int_equal(urs_listen(s, 4096), 0);
	if (bound)
		assert_int_equal(urs_getsockname(s, bound), 0);
	return s;
}

void tu_tcp_pair(urs_loop *loop, const char *text, urs_sock **client, urs_sock **server)
{
	urs_addr a;
	urs_sock *l = tu_listener(loop, text, &a);
	assert_int_equal(urs_socket(loop, a.u.sa.sa_family, SOCK_STREAM, 0, client), 0);
	urs_future acc = urs_accept(l);
	urs_future con = urs_connect(*client, &a);
	tu_await_eq(con, 0, NULL);
	urs_result r;
	tu_await_eq(acc, 0, &r);
	*server = r.sock;
	tu_close(l);
}

void tu_await_eq(urs_future f, int want, urs_result *r)
{
	urs_result tmp;
	int ret = urs_await(f, r ? r : &tmp);
	if (ret != want)
		print_error("await: got %d (%s), want %d\n", ret, ret < 0 ? strerror(-ret) : "",
			    want);
	assert_int_equal(ret, want);
	if (!r) {
		urs_buf_release(&tmp.buf);
		if (tmp.sock)
			urs_sock_free(tmp.sock);
	}
}

void tu_close(urs_sock *s)
{
	tu_await_eq(urs_close(s), 0, NULL);
	urs_sock_free(s);
}

void tu_fill(void *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	unsigned char *p = buf;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

void tu_sha256(const void *data, size_t len, unsigned char out[32])
{
	SHA256(data, len, out);
}

void tu_reap(int pid)
{
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

void tu_child_ok(int (*fn)(void), int timeout_ms)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	assert_true(pfd >= 0);
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	int ready = poll(&p, 1, timeout_ms);
	if (ready <= 0)
		kill(pid, SIGKILL);
	close(pfd);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(ready > 0); /* it ended by itself */
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int tu_example_dir(char *out, size_t size)
{
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	int w = snprintf(out, size, "%s/../examples", self);
	return w > 0 && (size_t)w < size ? 0 : -1;
}

const char *tu_backend(urs_loop *loop)
{
	return strncmp(urs_loop_features_str(loop), "backend=epoll", 13) ? "io_uring" : "epoll";
}

void tu_require_ring(urs_loop *loop)
{
	if (strcmp(tu_backend(loop), "io_uring")) {
		print_message("this checks the io_uring backend; the loop runs on %s: skipping\n",
			      tu_backend(loop));
		urs_loop_free(loop);
		skip();
	}
}
