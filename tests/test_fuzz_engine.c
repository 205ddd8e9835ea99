/* SPDX-License-Identifier: MIT */
/* The engine fuzzer (fuzz/fuzz_engine.c) for a bounded time inside the suite: it starts
 * from the committed seed corpus, fuzzes for FUZZ_TEST_SECONDS in all (default 18, at most
 * 55; the seeds' replay included), and the test fails when the fuzzer reports anything — a
 * crash, a leak, a hang, a broken invariant. It runs on the backend this test runs on
 * (URSOCK_BACKEND, which the fuzzer's loops inherit). The fuzzer is built once with clang
 * (ASan+UBSan) whatever SAN says; its log stays in build/fuzz/test-run.log and a failing
 * input in build/fuzz/engine-crashes/. */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FUZZ_ENGINE_BIN
#error "FUZZ_ENGINE_BIN, FUZZ_ENGINE_SEEDS and FUZZ_ENGINE_WORK come from the Makefile"
#endif

static int seconds(void)
{
	const char *s = getenv("FUZZ_TEST_SECONDS");
	int n = s ? atoi(s) : 18;
	return n < 1 ? 1 : n > 55 ? 55 : n;
}

static void rm_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

/* The fuzzer's last lines about what went wrong, and its summary numbers. */
static void report(const char *log, bool failed)
{
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	char line[1024], done[1024] = "", stats[1024] = "";
	int frames = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Done ", 5))
			memcpy(done, line, sizeof(done));
		if (line[0] == '#' && strstr(line, "cov:"))
			memcpy(stats, line, sizeof(stats));
		if (!failed)
			continue;
		bool frame = !strncmp(line, "    #", 5);
		if (frame ? (strstr(line, "/engine/src/") || strstr(line, "/fuzz/")) && frames++ < 16
			  : (!strncmp(line, "==", 2) || !strncmp(line, "  ", 2) ||
			     strstr(line, "runtime error") || strstr(line, "SUMMARY") ||
			     strstr(line, "Test unit written")))
			print_message("    %s", line);
	}
	fclose(f);
	const char *be = getenv("URSOCK_BACKEND");
	print_message("fuzz_engine (%s): %s%s", be && *be ? be : "auto",
		      stats[0] ? stats : "no progress line\n", done);
}

static void test_fuzz_engine_bounded(void **state)
{
	(void)state;
	assert_int_equal(access(FUZZ_ENGINE_BIN, X_OK), 0);
	char corpus[] = FUZZ_ENGINE_WORK "/test-corpus-XXXXXX";
	assert_non_null(mkdtemp(corpus));
	mkdir(FUZZ_ENGINE_WORK "/engine-crashes", 0755);
	const char *log = FUZZ_ENGINE_WORK "/test-run.log";
	char total[32];
	snprintf(total, sizeof(total), "-max_total_time=%d", seconds());

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(FUZZ_ENGINE_BIN, FUZZ_ENGINE_BIN, total, "-timeout=10", "-max_len=2048",
		      "-print_final_stats=1", "-artifact_prefix=" FUZZ_ENGINE_WORK "/engine-crashes/",
		      corpus, FUZZ_ENGINE_SEEDS, (char *)NULL);
		_exit(127);
	}
	/* Wait on the child's pidfd, bounded: the fuzzer stops itself after max_total_time. */
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	assert_true(pfd >= 0);
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	int ready = poll(&p, 1, (seconds() + 60) * 1000);
	if (ready <= 0)
		kill(pid, SIGKILL);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(pfd);
	rm_dir(corpus);
	bool ok = ready > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	report(log, !ok);
	if (ready <= 0)
		fail_msg("the fuzzer did not stop by itself (killed)");
	if (!ok)
		fail_msg("fuzz_engine found a problem (exit status %#x): see %s; replay the input with "
			 "FUZZ_ENGINE_TRACE=1 " FUZZ_ENGINE_BIN " FILE",
			 status, log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuzz_engine_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
