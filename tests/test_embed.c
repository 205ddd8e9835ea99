/* SPDX-License-Identifier: MIT */
/* The host-loop examples driven as a user would: ursock inside a plain epoll loop
 * (host_epoll) and inside libuv (host_libuv). Each must echo several connections at once
 * byte for byte, keep the host's own timer running beside ursock (its stats line counts
 * the bytes), and on SIGTERM send what it still owes, close and exit 0. Servers listen on
 * port 0 or a path in a temporary directory; each is stopped by its PID. */
#define _GNU_SOURCE
#include "testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char exdir[400];
static char tmpdir[64];
static pid_t running; /* the host of the current test, killed by teardown if a check failed */

struct host {
	pid_t pid;
	int out;          /* its stdout */
	char buf[4096];   /* what was read from it and not yet taken as a line */
	size_t len;
	urs_addr addr;    /* where it listens */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The next line the host prints, waiting at most until deadline; NULL past it or at EOF. */
static char *next_line(struct host *h, char *line, size_t size, double deadline)
{
	for (;;) {
		char *nl = memchr(h->buf, '\n', h->len);
		if (nl) {
			size_t n = (size_t)(nl - h->buf);
			snprintf(line, size, "%.*s", (int)n, h->buf);
			memmove(h->buf, nl + 1, h->len - n - 1);
			h->len -= n + 1;
			return line;
		}
		int ms = (int)((deadline - now()) * 1000);
		struct pollfd pf = { h->out, POLLIN, 0 };
		if (ms <= 0 || poll(&pf, 1, ms) != 1)
			return NULL;
		ssize_t k = read(h->out, h->buf + h->len, sizeof(h->buf) - h->len - 1);
		if (k <= 0)
			return NULL;
		h->len += (size_t)k;
	}
}

/* Starts an example on addr (with its stats timer every `stats` seconds, or none when
 * NULL) and reads its "listening on <address>". */
static void start(struct host *h, const char *prog, const char *addr, const char *stats)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", exdir, prog);
	char *argv[] = { path, (char *)addr, stats ? "--stats" : NULL, (char *)stats, NULL };
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	memset(h, 0, sizeof(*h));
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a test binary that was killed */
		dup2(p[1], 1);
		execv(path, argv);
		_exit(127);
	}
	close(p[1]);
	h->out = p[0];
	running = h->pid;
	char line[256];
	assert_non_null(next_line(h, line, sizeof(line), now() + 10));
	assert_int_equal(strncmp(line, "listening on ", 13), 0);
	assert_int_equal(urs_addr_parse(&h->addr, line + 13), 0);
}

/* SIGTERM, then its exit status within 10 s (a pidfd: no sleeping); must be 0. */
static void stop(struct host *h)
{
	int pfd = (int)syscall(SYS_pidfd_open, h->pid, 0);
	kill(h->pid, SIGTERM);
	if (pfd >= 0) {
		struct pollfd pf = { pfd, POLLIN, 0 };
		if (poll(&pf, 1, 10000) != 1)
			kill(h->pid, SIGKILL);
		close(pfd);
	}
	int status;
	assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
	running = 0;
	close(h->out);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A plain blocking client socket connected to the host (5 s receive timeout). */
static int client(const struct host *h)
{
	int fd = socket(h->addr.u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, &h->addr.u.sa, h->addr.len), 0);
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void recv_exact(int fd, unsigned char *out, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t k = recv(fd, out + got, len - got, 0);
		if (k <= 0)
			fail_msg("recv after %zu of %zu bytes: %zd", got, len, k);
		got += (size_t)k;
	}
}

enum { CLIENTS = 4, BYTES = 96 * 1024 };

/* CLIENTS connections at once, each sending BYTES in uneven writes and reading them all
 * back; with a stats timer, the host's own timer reports the total; then a connection still
 * open at SIGTERM gets its echo and an EOF, and the host exits 0. Without a timer nothing
 * but ursock wakes the host: ops started in callbacks must reach the kernel by themselves. */
static void echo_through(const char *prog, const char *addr, const char *stats)
{
	struct host h;
	start(&h, prog, addr, stats);
	int fds[CLIENTS];
	unsigned char *data = malloc(BYTES), *back = malloc(BYTES);
	assert_non_null(data);
	assert_non_null(back);
	for (int i = 0; i < CLIENTS; i++)
		fds[i] = client(&h);
	for (int i = 0; i < CLIENTS; i++) {
		tu_fill(data, BYTES, (uint32_t)i + 1);
		/* writes of 1 B to 16 KiB: the echo must keep every boundary-free byte in order */
		for (size_t off = 0, step = 1; off < BYTES; off += step, step = step * 3 % 16381 + 1) {
			size_t n = step < BYTES - off ? step : BYTES - off;
			assert_int_equal(send(fds[i], data + off, n, MSG_NOSIGNAL), (ssize_t)n);
		}
	}
	for (int i = 0; i < CLIENTS; i++) {
		tu_fill(data, BYTES, (uint32_t)i + 1);
		recv_exact(fds[i], back, BYTES);
		assert_memory_equal(back, data, BYTES);
		close(fds[i]);
	}
	if (!stats)
		goto last_words;
	/* The host's timer ran beside ursock all along: its stats reach the full count. */
	unsigned long long want = (unsigned long long)CLIENTS * BYTES, echoed = 0;
	unsigned open = 1, accepted = 0;
	char line[256] = "";
	double deadline = now() + 10;
	while ((echoed < want || open) && next_line(&h, line, sizeof(line), deadline))
		if (sscanf(line, "stats: %u open, %u accepted, %llu bytes echoed", &open, &accepted,
			   &echoed) != 3)
			fail_msg("unexpected line: %s", line);
	print_message("%s: %s\n", prog, line);
	assert_int_equal(echoed, want);
	assert_int_equal(accepted, CLIENTS);
	assert_int_equal(open, 0);

last_words:;
	/* Stop with a connection open: what it sent comes back, then EOF, then exit 0. */
	int fd = client(&h);
	assert_int_equal(send(fd, "last words", 10, MSG_NOSIGNAL), 10);
	recv_exact(fd, back, 10);
	assert_memory_equal(back, "last words", 10);
	stop(&h);
	assert_int_equal(recv(fd, back, 16, 0), 0);
	close(fd);
	free(data);
	free(back);
}

static void test_epoll_host(void **state)
{
	(void)state;
	echo_through("host_epoll", "127.0.0.1:0", NULL);
	echo_through("host_epoll", "[::1]:0", "0.02");
}

static void test_libuv_host(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/host.sock", tmpdir);
	echo_through("host_libuv", "127.0.0.1:0", NULL);
	echo_through("host_libuv", path, "0.02");
	assert_int_equal(access(path, F_OK), -1); /* removed by the host on its way out */
}

static int setup(void **state)
{
	(void)state;
	if (tu_example_dir(exdir, sizeof(exdir)) < 0)
		return -1;
	strcpy(tmpdir, "/tmp/ursock-embed-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

/* After a failed check the host is still up: stop it by its PID. */
static int kill_running(void **state)
{
	(void)state;
	if (running > 0) {
		kill(running, SIGKILL);
		waitpid(running, NULL, 0);
		running = 0;
	}
	return 0;
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_epoll_host, kill_running),
		cmocka_unit_test_teardown(test_libuv_host, kill_running),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
