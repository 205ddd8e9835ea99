/* SPDX-License-Identifier: MIT */
/* The test runner itself (defect 10): a failing test that leaves a process behind holding
 * its output must fail, not hang the suite; and test_examples, made to fail right after
 * starting each server, must end promptly and leave no server running. */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[512]; /* the repository: run-tests.sh lives in scripts/ */
static char bindir[512];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *run(const char *cmd, int *status, double *secs)
{
	double t0 = now_s();
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t cap = 1 << 16, len = 0, k;
	char *out = malloc(cap);
	while ((k = fread(out + len, 1, cap - len - 1, f)) > 0) {
		len += k;
		if (len + 1 == cap)
			out = realloc(out, cap *= 2);
	}
	out[len] = '\0';
	int st = pclose(f);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	*secs = now_s() - t0;
	return out;
}

static void test_leftover_child_does_not_hang(void **state)
{
	(void)state;
	char dir[] = "/tmp/ursock-runner-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[600], pidfile[600], cmd[2048];
	snprintf(path, sizeof(path), "%s/test_fake", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/child.pid", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n"
		   "tail -f /dev/null &\n"      /* inherits stdout and stderr, never exits */
		   "echo $! > %s\n"
		   "echo '[  FAILED  ] 1 test(s), listed below:'\n"
		   "exit 1\n", pidfile);
	fclose(f);
	chmod(path, 0755);
	snprintf(cmd, sizeof(cmd), "cd %s && BACKENDS=uring TEST_TIMEOUT=60 timeout 100 scripts/run-tests.sh %s 2>&1",
		 root, dir);
	int st;
	double secs;
	char *out = run(cmd, &st, &secs);
	print_message("runner with a leftover child: exit %d after %.1f s\n", st, secs);
	f = fopen(pidfile, "r");
	int pid = 0;
	if (f) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	if (pid > 0)
		kill(pid, SIGKILL);
	unlink(pidfile);
	unlink(path);
	rmdir(dir);
	assert_true(pid > 0);
	assert_int_equal(st, 1);
	assert_true(secs < 30);
	assert_non_null(strstr(out, "0 passed, 1 failed"));
	free(out);
}

/* Servers started by test_examples still running (their command line names our build). */
static int count_servers(void)
{
	DIR *d = opendir("/proc");
	int n = 0;
	char ex[600];
	snprintf(ex, sizeof(ex), "%s/../examples/", bindir);
	char *exreal = realpath(ex, NULL);
	if (!d || !exreal) {
		if (d)
			closedir(d);
		free(exreal);
		return -1;
	}
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char p[300], buf[1024];
		snprintf(p, sizeof(p), "/proc/%s/cmdline", e->d_name);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		size_t k = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[k] = '\0';
		if (!strncmp(buf, exreal, strlen(exreal)))
			n++;
	}
	closedir(d);
	free(exreal);
	return n;
}

static void test_examples_fail_cleanly(void **state)
{
	(void)state;
	char dir[] = "/tmp/ursock-runner-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char link[600], target[600], cmd[2048];
	snprintf(link, sizeof(link), "%s/test_examples", dir);
	snprintf(target, sizeof(target), "%s/test_examples", bindir);
	assert_int_equal(symlink(target, link), 0);
	int before = count_servers();
	snprintf(cmd, sizeof(cmd),
		 "cd %s && BACKENDS=uring URS_TEST_FAIL_AFTER_START=1 TEST_TIMEOUT=120 timeout 200 "
		 "scripts/run-tests.sh %s 2>&1", root, dir);
	int st;
	double secs;
	char *out = run(cmd, &st, &secs);
	unlink(link);
	rmdir(dir);
	print_message("test_examples failing after each start: exit %d after %.1f s\n", st, secs);
	assert_int_equal(st, 1);
	assert_true(secs < 60);
	assert_non_null(strstr(out, "URS_TEST_FAIL_AFTER_START"));
	assert_int_equal(count_servers(), before);
	free(out);
}

static int setup(void **state)
{
	(void)state;
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(bindir, sizeof(bindir), "%s", dirname(self));
	/* make test runs from the repository root */
	if (!getcwd(root, sizeof(root)))
		return -1;
	char probe[700];
	snprintf(probe, sizeof(probe), "%s/scripts/run-tests.sh", root);
	return access(probe, X_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leftover_child_does_not_hang),
		cmocka_unit_test(test_examples_fail_cleanly),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
