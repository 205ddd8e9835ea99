/* SPDX-License-Identifier: MIT */
/* Time: Python's settimeout/gettimeout/setblocking, each op's deadline, the loop's one
 * timer structure (a heap of the ops that wait outside the kernel and can time out), and
 * urs_sleep. An op in the kernel carries its deadline as an IORING_OP_LINK_TIMEOUT (see
 * kernel-notes/link-timeout.md); an op in a queue of ours is in the heap, and the loop's
 * wait ends at the heap's earliest deadline. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

int64_t urs__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void urs__ts_set(struct __kernel_timespec *ts, int64_t ns)
{
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

/* now + the socket's timeout, saturating: a timeout of centuries is as good as none but
 * must not wrap into the past. */
void urs__deadline_set(struct urs_op *op)
{
	int64_t t = op->sock ? op->sock->timeout_ns : -1;
	struct urs_opx *x = urs__op_x(op);
	/* An op on a socket with a timeout has a side part (urs__op_new, urs_settimeout). */
	if (!x)
		return;
	if (t <= 0) {
		x->deadline = 0;
		return;
	}
	int64_t now = urs__now_ns();
	x->deadline = t > INT64_MAX - now ? INT64_MAX : now + t;
}

int64_t urs__deadline_left(const struct urs_op *op)
{
	int64_t left = urs__op_deadline(op) - urs__now_ns();
	return left > 0 ? left : 0;
}

/* ---------------------------------------------------------------- the heap */

/* Ops in the heap have a side part: their deadline and their place are there. */
static int64_t dl(const struct urs_op *op)
{
	return urs__op_x(op)->deadline;
}

static void heap_set(struct urs_heap *h, uint32_t i, struct urs_op *op)
{
	h->v[i] = op;
	urs__op_x(op)->heap = i;
}

static void sift_up(struct urs_heap *h, uint32_t i)
{
	struct urs_op *op = h->v[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (dl(h->v[p]) <= dl(op))
			break;
		heap_set(h, i, h->v[p]);
		i = p;
	}
	heap_set(h, i, op);
}

static void sift_down(struct urs_heap *h, uint32_t i)
{
	struct urs_op *op = h->v[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && dl(h->v[c + 1]) < dl(h->v[c]))
			c++;
		if (dl(op) <= dl(h->v[c]))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, op);
}

/* Room for every op that could wait at once, made when an op is taken from the pool, so
 * that parking an op can never fail for want of memory. */
int urs__heap_reserve(urs_loop *loop, uint32_t n)
{
	struct urs_heap *h = &loop->deadlines;
	if (n <= h->cap)
		return 0;
	uint32_t cap = h->cap ? h->cap : 64;
	while (cap < n)
		cap *= 2;
	struct urs_op **v = realloc(h->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	h->cap = cap;
	return 0;
}

void urs__heap_add(urs_loop *loop, struct urs_op *op)
{
	struct urs_heap *h = &loop->deadlines;
	op->flags |= OPF_HEAP;
	h->v[h->n] = op;
	sift_up(h, h->n++);
}

void urs__heap_del(urs_loop *loop, struct urs_op *op)
{
	struct urs_heap *h = &loop->deadlines;
	uint32_t i = urs__op_x(op)->heap;
	op->flags &= ~OPF_HEAP;
	struct urs_op *last = h->v[--h->n];
	if (i == h->n)
		return;
	heap_set(h, i, last);
	if (i > 0 && dl(h->v[(i - 1) / 2]) > dl(last))
		sift_up(h, i);
	else
		sift_down(h, i);
}

/* The earliest deadline of a waiting op, or 0 when none waits. */
int64_t urs__heap_next(const urs_loop *loop)
{
	return loop->deadlines.n ? dl(loop->deadlines.v[0]) : 0;
}

int urs__heap_expire(urs_loop *loop, int64_t now)
{
	int n = 0;
	while (loop->deadlines.n && dl(loop->deadlines.v[0]) <= now) {
		urs__op_expire(loop->deadlines.v[0]);
		n++;
	}
	return n;
}

void urs__heap_free(urs_loop *loop)
{
	free(loop->deadlines.v);
	loop->deadlines.v = NULL;
	loop->deadlines.n = loop->deadlines.cap = 0;
}

/* ---------------------------------------------------------------- socket timeouts */

URS_API int urs_settimeout(urs_sock *sock, double seconds)
{
	int ret = urs__sock_check(sock);
	if (ret < 0)
		return ret;
	if (isnan(seconds))
		return -EINVAL;
	if (seconds < 0) {
		sock->timeout_ns = -1;
		return 0;
	}
	if (seconds > 9.2e9) /* beyond what int64 nanoseconds hold: as good as none */
		seconds = 9.2e9;
	int64_t ns = (int64_t)(seconds * 1e9);
	ns = (seconds > 0 && ns == 0) ? 1 : ns;
	if (ns > 0) {
		/* Its ops still running (a receive stream) take the timeout at their next step:
		 * each needs a side part for its deadline, given now or refused with the call. */
		for (struct urs_op *o = urs__sock_ops(sock); o; o = urs__sock_next(o))
			if ((urs__kind(o)->flags & KF_TIMEOUT) && o->state != OP_DONE &&
			    (ret = urs__op_need_x(o)) < 0)
				return ret;
	}
	sock->timeout_ns = ns;
	return 0;
}

URS_API double urs_gettimeout(const urs_sock *sock)
{
	if (!sock || sock->timeout_ns < 0)
		return URS_NO_TIMEOUT;
	return (double)sock->timeout_ns / 1e9;
}

URS_API int urs_setblocking(urs_sock *sock, bool blocking)
{
	return urs_settimeout(sock, blocking ? URS_NO_TIMEOUT : 0.0);
}

/* ---------------------------------------------------------------- urs_sleep */

URS_API urs_future urs_sleep(urs_loop *loop, double seconds)
{
	if (!loop || isnan(seconds) || seconds < 0)
		return urs__future_err(-EINVAL);
	if (!urs__mine(loop))
		return urs__future_err(-EXDEV);
	if (seconds > 9.2e9)
		seconds = 9.2e9;
	struct urs_op *op;
	int ret = urs__op_new(loop, OPK_SLEEP, NULL, &op);
	if (ret < 0)
		return urs__future_err(ret);
	urs__op_x(op)->len = (size_t)(int64_t)(seconds * 1e9);
	return urs__op_start(op);
}

static int sleep_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct __kernel_timespec *ts = urs__sqe_ts(urs__op_loop(op), sqe);
	urs__ts_set(ts, (int64_t)urs__op_x(op)->len);
	io_uring_prep_timeout(sqe, ts, 0, 0);
	return 0;
}

/* epoll: a wait on the loop's heap. */
static int sleep_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	int64_t now = urs__now_ns(), ns = (int64_t)x->len;
	x->deadline = ns > INT64_MAX - now ? INT64_MAX : now + ns;
	return urs__ep_again(want, URS_EP_TIMER);
}

static enum op_next sleep_complete(struct urs_op *op, int res, unsigned cflags)
{
	(void)cflags;
	op->res = res == -ETIME ? 0 : res; /* the timer ran out: that is a sleep's success */
	return NEXT_DECIDE;
}

/* On the heap (epoll), running out is a deadline passing: the same success. */
static void sleep_decided(struct urs_op *op)
{
	if (op->res == -ETIMEDOUT && !(op->flags & OPF_CANCEL))
		op->res = 0;
}

const struct urs_op_kind urs__kind_sleep = {
	.name = "sleep",
	.flags = KF_X,
	.prepare = sleep_prepare,
	.exec = sleep_exec,
	.complete = sleep_complete,
	.decided = sleep_decided,
};
