/* The loop and futures: options, run modes, handle misuse, cancel racing completion, CQ
 * overflow, teardown with ops in flight, embedding in a host epoll loop, every fallback. */
#include "testutil.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static void count_cb(urs_result *r, void *user)
{
	int *n = user;
	(*n)++;
	urs_buf_release(&r->buf);
	if (r->sock)
		urs_sock_free(r->sock);
}

static void test_bad_opts(void **state)
{
	(void)state;
	urs_loop *loop;
	assert_int_equal(urs_loop_new(NULL, NULL), -EINVAL);
	urs_loop_opts o = { .buf_count = 3 };
	assert_int_equal(urs_loop_new(&loop, &o), -EINVAL);
	assert_null(loop);
	o = (urs_loop_opts){ .sq_entries = 64, .cq_entries = 8 };
	assert_int_equal(urs_loop_new(&loop, &o), -EINVAL);
	assert_int_equal(urs_loop_run(NULL, URS_RUN_ONCE), -EINVAL);
	urs_loop_free(NULL);
}

static void test_features(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	print_message("features: %s\n", urs_loop_features_str(loop));
	assert_true(strlen(urs_loop_features_str(loop)) > 0);
	assert_true(urs_loop_fd(loop) >= 0);
	tu_loop_done(loop);
}

static void test_run_modes(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	assert_int_equal(urs_loop_run(loop, URS_RUN_NOWAIT), 0);
	assert_int_equal(urs_loop_run(loop, URS_RUN_ONCE), 0); /* nothing pending: no hang */
	assert_int_equal(urs_loop_run(loop, URS_RUN_UNTIL_IDLE), 0);
	assert_int_equal(urs_loop_run(loop, (urs_run_mode)7), -EINVAL);
	int n = 0;
	for (int i = 0; i < 100; i++)
		assert_int_equal(urs_then(urs_nop(loop), count_cb, &n), 0);
	assert_int_equal(n, 0); /* callbacks run only inside run */
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 100);
	assert_int_equal(n, 100);
	tu_loop_done(loop);
}

static void test_future_misuse(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_future f = urs_nop(loop);
	urs_result r;
	assert_int_equal(urs_await(f, &r), 0);
	assert_int_equal(urs_await(f, &r), -EINVAL);   /* double await: stale */
	assert_int_equal(urs_then(f, count_cb, NULL), -EINVAL);
	assert_int_equal(urs_cancel(f), -EINVAL);
	assert_int_equal(urs_detach(f), -EINVAL);

	f = urs_nop(loop);
	int n = 0;
	assert_int_equal(urs_then(f, count_cb, &n), 0);
	assert_int_equal(urs_then(f, count_cb, &n), -EALREADY);
	assert_int_equal(urs_await(f, NULL), -EALREADY);
	assert_int_equal(urs_detach(f), -EALREADY);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(n, 1);

	/* Resolved before anyone asked: then still runs, at the next run. */
	f = urs_nop(loop);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(urs_cancel(f), -EALREADY);
	assert_int_equal(urs_then(f, count_cb, &n), 0);
	assert_int_equal(n, 1);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(n, 2);

	/* Detached, then nobody: no leak. */
	assert_int_equal(urs_detach(urs_nop(loop)), 0);
	f = urs_nop(loop);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(urs_detach(f), 0);

	/* Junk handles and failed-at-once futures. */
	urs_future junk = { loop, 123456, 7 };
	assert_int_equal(urs_await(junk, NULL), -EINVAL);
	urs_future zero = { 0 };
	assert_int_equal(urs_then(zero, count_cb, &n), -EINVAL);
	urs_future failed = urs_recv(NULL, 10, 0);
	assert_int_equal(urs_future_error(failed), -EINVAL);
	assert_int_equal(urs_then(failed, count_cb, &n), -EINVAL);
	assert_int_equal(urs_await(failed, &r), -EINVAL);
	assert_int_equal(r.res, -EINVAL);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(n, 2); /* a call that failed at once never runs its callback */
	tu_loop_done(loop);
}

struct reenter {
	urs_loop *loop;
	int await_ret, run_ret;
};

static void reenter_cb(urs_result *r, void *user)
{
	struct reenter *re = user;
	(void)r;
	urs_future f = urs_nop(re->loop);
	re->await_ret = urs_await(f, NULL);
	re->run_ret = urs_loop_run(re->loop, URS_RUN_NOWAIT);
	urs_detach(f);
}

static void test_reentry_refused(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	struct reenter re = { loop, 0, 0 };
	assert_int_equal(urs_then(urs_nop(loop), reenter_cb, &re), 0);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(re.await_ret, -EDEADLK);
	assert_int_equal(re.run_ret, -EDEADLK);
	tu_loop_done(loop);
}

struct race {
	int resolved, bytes, cancelled;
};

static void race_cb(urs_result *r, void *user)
{
	struct race *st = user;
	st->resolved++;
	if (r->res > 0)
		st->bytes += r->res;
	else if (r->res == -ECANCELED)
		st->cancelled++;
	else
		fail_msg("recv resolved %d", r->res);
	urs_buf_release(&r->buf);
}

/* cancel racing completion: exactly one resolution per future, and no byte lost. */
static void test_cancel_race(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	int fd = urs_fileno(p[0]);
	struct race st = { 0, 0, 0 };
	enum { N = 10000 };
	for (int i = 0; i < N; i++) {
		urs_future f = urs_recv(p[1], 64, 0);
		assert_int_equal(urs_then(f, race_cb, &st), 0);
		/* Vary who wins: data first, the recv in the kernel first, the cancel first. */
		int c;
		switch (i % 4) {
		case 0:
			assert_int_equal(write(fd, "x", 1), 1);
			urs_loop_run(loop, URS_RUN_NOWAIT);
			c = urs_cancel(f);
			break;
		case 1:
			urs_loop_run(loop, URS_RUN_NOWAIT);
			c = urs_cancel(f);
			urs_loop_run(loop, URS_RUN_NOWAIT);
			assert_int_equal(write(fd, "x", 1), 1);
			break;
		case 2:
			urs_loop_run(loop, URS_RUN_NOWAIT);
			assert_int_equal(write(fd, "x", 1), 1);
			c = urs_cancel(f);
			break;
		default:
			c = urs_cancel(f);
			assert_int_equal(write(fd, "x", 1), 1);
			break;
		}
		assert_true(c == 0 || c == -EINVAL || c == -EALREADY);
	}
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(st.resolved, N);
	/* What the cancelled receives did not take is still in the socket. */
	char buf[N];
	int rest = 0;
	urs_settimeout(p[1], 0.0);
	for (;;) {
		int k = urs_await(urs_recv_into(p[1], buf, sizeof(buf), 0), NULL);
		if (k <= 0)
			break;
		rest += k;
	}
	print_message("cancel race: %d received, %d cancelled, %d left in the socket\n", st.bytes,
		      st.cancelled, rest);
	assert_int_equal(st.bytes + rest, N);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

/* A CQ far smaller than the burst: the kernel keeps the overflow (IORING_FEAT_NODROP) and
 * the loop loses no completion, multishot accept included. */
static void test_cq_overflow(void **state)
{
	(void)state;
	urs_loop_opts o = { .sq_entries = 4, .cq_entries = 8 };
	urs_loop *loop = tu_loop_new(&o);
	int n = 0;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(urs_then(urs_nop(loop), count_cb, &n), 0);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(n, 1000);

	enum { P = 64 };
	urs_sock *p[P][2];
	n = 0;
	for (int i = 0; i < P; i++) {
		assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p[i]), 0);
		assert_int_equal(urs_then(urs_recv(p[i][1], 16, 0), count_cb, &n), 0);
	}
	urs_loop_run(loop, URS_RUN_NOWAIT);
	for (int i = 0; i < P; i++)
		assert_int_equal(write(urs_fileno(p[i][0]), "ping", 4), 4);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	assert_int_equal(n, P);
	for (int i = 0; i < P; i++) {
		tu_close(p[i][0]);
		tu_close(p[i][1]);
	}
	tu_loop_done(loop);
}

static void test_teardown_inflight(void **state)
{
	(void)state;
	int fds0 = tu_fd_count();
	urs_loop *loop;
	assert_int_equal(urs_loop_new(&loop, NULL), 0);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	int n = 0;
	for (int i = 0; i < 100; i++)
		assert_int_equal(urs_then(urs_recv(p[1], 16, 0), count_cb, &n), 0);
	urs_future unconsumed = urs_recv(p[0], 16, 0);
	(void)unconsumed;
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_loop_free(loop), 0); /* cancels, runs every callback once, closes */
	assert_int_equal(n, 100);
	assert_int_equal(tu_fd_count(), fds0);
	/* The sockets the test still holds are husks: valid, closed, freed by the test. */
	assert_int_equal(urs_fileno(p[0]), -EBADF);
	assert_int_equal(urs_await(urs_recv(p[1], 16, 0), NULL), -EBADF);
	assert_int_equal(urs_settimeout(p[1], 1.0), -EBADF);
	urs_sock_free(p[0]);
	urs_sock_free(p[1]);
}

struct host {
	urs_sock *s;
	int echoed;
};

static void host_cb(urs_result *r, void *user)
{
	struct host *h = user;
	if (r->res > 0)
		h->echoed += r->res;
	urs_buf_release(&r->buf);
}

/* A host loop (plain epoll) waits on urs_loop_fd and runs the loop without blocking. */
static void test_host_epoll(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *p[2];
	assert_int_equal(urs_socketpair(loop, SOCK_STREAM, p), 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, urs_loop_fd(loop), &ev), 0);
	struct host h = { p[1], 0 };
	for (int round = 0; round < 50; round++) {
		assert_int_equal(urs_then(urs_recv(p[1], 64, 0), host_cb, &h), 0);
		urs_loop_run(loop, URS_RUN_NOWAIT); /* submit */
		assert_int_equal(write(urs_fileno(p[0]), "0123456789", 10), 10);
		int before = h.echoed;
		for (int spins = 0; h.echoed == before && spins < 100; spins++) {
			struct epoll_event out;
			int k = epoll_wait(ep, &out, 1, 1000);
			assert_true(k >= 0);
			urs_loop_run(loop, URS_RUN_NOWAIT);
		}
		assert_int_equal(h.echoed, before + 10);
	}
	close(ep);
	tu_close(p[0]);
	tu_close(p[1]);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_opts),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_run_modes),
		cmocka_unit_test(test_future_misuse),
		cmocka_unit_test(test_reentry_refused),
		cmocka_unit_test(test_cancel_race),
		cmocka_unit_test(test_cq_overflow),
		cmocka_unit_test(test_teardown_inflight),
		cmocka_unit_test(test_host_epoll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
