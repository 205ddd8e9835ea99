/* SPDX-License-Identifier: MIT */
/* The epoll backend: the same ops, futures, buffers and timeouts where io_uring is refused
 * (seccomp, kernel.io_uring_disabled, memlock) or not wanted. An op's step is its kind's
 * exec: the syscall itself, non-blocking. When it is done it completes as a CQE would;
 * when it would block it waits in its socket's read or write queue — its deadline in the
 * loop's heap — until the fd's next edge (each fd is in the epoll set, edge-triggered, from
 * its first op on). Ops handed over wait and run in the next wait, never inside the call
 * that started them: first those the kernel woke and the continuations of steps that just
 * completed (a stream drains its socket), then a bounded number of new ones, so a burst of
 * sends cannot starve the receives that make room for them. Fds are non-blocking here
 * (O_NONBLOCK, set at their first op): urs_fileno shows that. */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { EVENTS = 64, READY_BUDGET = 1024, NEW_BUDGET = 64 };

static void ep_submit(struct urs_op *op)
{
	op->state = OP_WAITING;
	urs_loop *loop = urs__op_loop(op);
	urs__opq_push((op->flags & OPF_CONT) ? &loop->ep_ready : &loop->ep_pending, op);
}

/* Ops are never in the kernel between two of our calls: there is nothing to cancel. */
static void ep_cancel(struct urs_op *op)
{
	(void)op;
}

/* The fd joins the epoll set at its socket's first op, non-blocking from then on. */
static int watch(urs_loop *loop, urs_sock *s)
{
	if (s->ep_added)
		return 0;
	int fl = fcntl(s->fd, F_GETFL);
	if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return urs__sys(-1);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = s };
	int ret = urs__sys(epoll_ctl(loop->epfd, EPOLL_CTL_ADD, s->fd, &ev));
	if (ret < 0)
		return ret;
	s->ep_added = true;
	loop->stats.enters += 3; /* the two fcntl and the epoll_ctl */
	return 0;
}

/* A receive found no buffer free: it waits for one (-ENOBUFS), as with a ring, where the
 * kernel takes the buffer before it looks for data. But on a stream socket the end and an
 * error need no buffer: a one-byte peek delivers them (bytes waiting stay in the socket).
 * A message socket's peek could not tell an empty datagram from the end. */
static int no_buffer(urs_loop *loop, struct urs_op *op)
{
	urs_sock *s = op->sock;
	if (!s || s->fd < 0 || s->type != SOCK_STREAM || s->ep_rdrained)
		return -ENOBUFS;
	char c;
	loop->stats.enters++;
	int res = urs__sys((int)recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT));
	return res > 0 || res == -EAGAIN ? -ENOBUFS : res;
}

/* One step of one op: done (a completion, as from the ring: returns 1), or parked until
 * its fd's edge or its time. */
static int run_one(urs_loop *loop, struct urs_op *op)
{
	const struct urs_op_kind *k = urs__kind(op);
	urs_sock *s = op->sock;
	if (s && s->fd >= 0) {
		int ret = watch(loop, s);
		if (ret < 0) {
			urs__op_decide(op, ret);
			return 1;
		}
	}
	/* A receive takes its buffer for the call only, and gives it back when the call finds
	 * nothing: a socket waiting for data holds none, so idle connections pin no buffer
	 * and the buffer just released (the top of the free stack) is the next one used,
	 * its pages already resident. None free: no_buffer. */
	bool fresh = (k->flags & KF_BUF) && op->bid == URS_BUF_NONE;
	uint32_t claimed = URS_BUF_NONE;
	uint32_t want = 0;
	int res;
	if (fresh && urs__buf_claim(op) < 0) {
		res = no_buffer(loop, op);
	} else {
		if (fresh)
			claimed = op->bid;
		res = k->exec(op, &want);
		if (s && !(want & URS_EP_NOCALL))
			loop->stats.enters++; /* the socket call exec made (none for a timer) */
		want &= ~URS_EP_NOCALL;
	}
	bool park = res == -EAGAIN && (want == URS_EP_TIMER ||
				       (want && s && !urs__op_dontwait(op)));
	/* Bytes a MSG_WAITALL receive keeps while it waits for more (its done) stay in it. */
	if (park && claimed != URS_BUF_NONE && !urs__op_done(op)) {
		op->bid = URS_BUF_NONE;
		urs__buf_back(loop, claimed);
	}
	if (park && want == URS_EP_TIMER) {
		urs__op_park(op, NULL); /* on the heap until op->deadline */
		return 0;
	}
	if (park) {
		urs__op_park(op, (want & EPOLLIN) ? &s->rwait : &s->wwait);
		return 0;
	}
	op->state = OP_KERNEL;
	op->kpending = 1;
	urs__op_complete(op, UD_MAIN, res, 0);
	return 1;
}

/* Runs up to budget ops of q; those they hand over wait for their turn. */
static int run(urs_loop *loop, struct urs_opq *q, uint32_t budget)
{
	int n = 0;
	while (budget-- && q->head)
		n += run_one(loop, urs__opq_pop(loop, q));
	return n;
}

static int run_all(urs_loop *loop)
{
	return run(loop, &loop->ep_ready, READY_BUDGET) + run(loop, &loop->ep_pending, NEW_BUDGET);
}

static void wake_all(urs_loop *loop, struct urs_opq *q)
{
	struct urs_op *op;
	while ((op = urs__opq_pop(loop, q))) {
		urs__op_unpark(op);
		urs__opq_push(&loop->ep_ready, op);
	}
}

static bool queued(const urs_loop *loop)
{
	return loop->ep_pending.head || loop->ep_ready.head;
}

static int ep_wait(urs_loop *loop, bool block, int64_t deadline)
{
	int n = run_all(loop);
	deadline = urs__heap_next(loop); /* the ops just run may have parked with one */
	int timeout = 0;
	if (block && !n && !queued(loop)) {
		timeout = -1;
		if (deadline) {
			int64_t left = deadline - urs__now_ns();
			timeout = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		}
	}
	struct epoll_event ev[EVENTS];
	loop->stats.enters++;
	int k = urs__sys(epoll_wait(loop->epfd, ev, EVENTS, timeout));
	if (k < 0)
		return k == -EINTR ? n : k;
	for (int i = 0; i < k; i++) {
		urs_sock *s = ev[i].data.ptr;
		if (!s) { /* the wake eventfd: a post, a wake, a stop, or a flush left ops */
			uint64_t v;
			(void)!read(loop->wake_fd, &v, sizeof(v));
			loop->woken = true;
			continue;
		}
		if (s->fd < 0)
			continue; /* closed earlier in this batch */
		if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
			s->ep_rdrained = false;
			if (ev[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))
				s->ep_rdend = true;
			wake_all(loop, &s->rwait);
		}
		if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			wake_all(loop, &s->wwait);
	}
	return n + run(loop, &loop->ep_ready, READY_BUDGET);
}

/* Something could still end a wait: an op to run, or one waiting for an fd or a time (all
 * active ops but those waiting for buffers the user holds). */
static bool ep_can_wake(const urs_loop *loop)
{
	return queued(loop) || loop->active > urs__buf_waiting(loop);
}

/* Ops callbacks handed over run at the next wait; a host polling urs_loop_fd must hear of
 * them: the wake eventfd in the set makes the epoll fd readable. */
static void ep_flush(urs_loop *loop)
{
	if (queued(loop)) {
		uint64_t one = 1;
		(void)!write(loop->wake_fd, &one, sizeof(one));
	}
}

static int ep_fd(urs_loop *loop)
{
	return loop->epfd;
}

/* The wake eventfd in the set (level-triggered: read when seen). */
static int ep_arm_wake(urs_loop *loop)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	return urs__sys(epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev));
}

/* A socket handed to another loop: its fd leaves this epoll set (a close does that by
 * itself). Sockets join the set with their first op (ep_submit). */
static void ep_sock_detach(urs_sock *s, bool closing)
{
	if (s->ep_added && !closing)
		epoll_ctl(s->loop->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	s->ep_added = false;
	s->ep_rdrained = false;
	s->ep_rdend = false;
}

static void ep_fini(urs_loop *loop)
{
	close(loop->epfd);
}

const struct urs_backend urs__be_epoll = {
	.name = "epoll",
	.submit = ep_submit,
	.cancel = ep_cancel,
	.wait = ep_wait,
	.can_wake = ep_can_wake,
	.flush = ep_flush,
	.arm_wake = ep_arm_wake,
	.sock_detach = ep_sock_detach,
	.fd = ep_fd,
	.fini = ep_fini,
};

int urs__epoll_init(urs_loop *loop)
{
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return urs__sys(-1);
	loop->features = 0;
	loop->be = &urs__be_epoll;
	return 0;
}
