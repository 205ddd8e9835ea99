/* SPDX-License-Identifier: MIT */
/* Socket objects and their one end. A socket is made with its close reserved (counted in
 * the pool, with a cell kept for it), so that closing never fails for want of an op. Closing cancels the socket's receives, accepts and
 * connects, lets its ordered sends finish (the FIN follows every queued byte), waits until
 * no op of the socket remains — every callback has run — then closes the fd and resolves
 * the close: the last callback on the socket. The object itself is freed once it is closed
 * and urs_sock_free was called (and no FILE from urs_makefile still uses it). */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

urs_sock *urs__sock_new(urs_loop *loop, int fd, int family, int type, int proto, int *err)
{
	urs_sock *s = urs__sock_alloc(loop);
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	int ret = urs__op_reserve(loop);
	if (ret < 0) {
		urs__sock_release(s);
		*err = ret;
		return NULL;
	}
	s->close_owed = true;
	s->loop = loop;
	s->fd = fd;
	s->family = (uint8_t)family;
	s->type = (uint8_t)type;
	s->proto = (uint16_t)proto;
	s->state = SOCK_OPEN;
	s->timeout_ns = -1;
	s->slot = -1;
	if (loop->be->sock_attach)
		loop->be->sock_attach(s);
	loop->stats.socks_open++;
	loop->stats.socks_alive++;
	return s;
}

int urs__sock_check(const urs_sock *s)
{
	if (!s)
		return -EINVAL;
	if (!s->loop || s->state != SOCK_OPEN)
		return -EBADF;
	if (!urs__mine(s->loop))
		return -EXDEV; /* a socket belongs to its loop's thread */
	return 0;
}

/* Closes the fd; a torn or aborted TCP stream is reset, so the peer cannot take what it
 * got for the whole stream. */
static void close_fd(urs_sock *s)
{
	if ((s->torn || s->abort) && s->type == SOCK_STREAM &&
	    (s->family == AF_INET || s->family == AF_INET6)) {
		struct linger lg = { 1, 0 };
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	s->loop->be->sock_detach(s, true);
	close(s->fd);
	s->fd = -1;
	s->state = SOCK_CLOSED;
	s->loop->stats.socks_open--;
}

/* The object goes once nothing can reach it: freed at the end of the loop's turn (code up
 * the stack may still hold the pointer now). */
static void bury(urs_sock *s)
{
	urs_loop *loop = s->loop;
	if (s->close_owed)
		urs__op_unreserve(loop);
	s->close_owed = false;
	s->close_op = 0;
	s->dead = true;
	loop->stats.socks_alive--;
	s->free_next = loop->dead;
	loop->dead = urs__sock_idx(s);
}

static void maybe_bury(urs_sock *s)
{
	if (s->state == SOCK_CLOSED && s->free_asked && !s->files && !s->dead)
		bury(s);
}

void urs__sock_reap_dead(urs_loop *loop)
{
	while (loop->dead) {
		urs_sock *s = urs__sock_at(loop, loop->dead);
		loop->dead = s->free_next;
		urs__sock_release(s);
	}
}

/* Cancels the socket's ops: all of them, or all but the ordered sends (a graceful close). */
static void cancel_ops(urs_sock *s, bool ordered_too)
{
again:
	for (struct urs_op *o = urs__sock_ops(s); o; o = urs__sock_next(o)) {
		if (o->flags & OPF_CANCEL ||
		    (o->state != OP_WAITING && o->state != OP_KERNEL && o->state != OP_STEPPING))
			continue;
		if (!ordered_too && (urs__kind(o)->flags & KF_ORDERED))
			continue;
		urs__op_cancel(o);
		goto again; /* the list may have changed under us */
	}
}

/* The close proceeds once no op of the socket remains. */
void urs__close_step(urs_sock *s)
{
	struct urs_op *op = urs__op_ptr(s->loop, s->close_op);
	if (s->state != SOCK_CLOSING || s->nops || !op || op->state != OP_WAITING)
		return;
	close_fd(s);
	s->close_op = 0;
	op->sock = NULL;
	urs__op_decide(op, 0);
	maybe_bury(s);
}

void urs__sock_retire(struct urs_op *op)
{
	urs_sock *s = op->sock;
	if (!s)
		return;
	/* Singly linked, oldest first: an op retires after the ones issued before it, mostly,
	 * so it is found near the head. */
	urs_loop *loop = urs__op_loop(op);
	uint32_t i = urs__op_idx(op), prev = 0;
	for (uint32_t o = s->ops; o; prev = o, o = urs__op_ptr(loop, o)->snext) {
		if (o != i)
			continue;
		if (prev)
			urs__op_ptr(loop, prev)->snext = op->snext;
		else
			s->ops = op->snext;
		if (s->ops_tail == i)
			s->ops_tail = prev;
		break;
	}
	op->snext = 0;
	op->sock = NULL;
	s->nops--;
	if (!s->nops && s->state == SOCK_CLOSING)
		urs__close_step(s);
}

void urs__sock_orphan_results(urs_sock *s)
{
	for (struct urs_op *o = urs__sock_ops(s), *next; o; o = next) {
		next = urs__sock_next(o); /* orphaning o takes it off the list */
		if (o->state == OP_DONE && !(o->flags & (OPF_BOUND | OPF_DETACHED | OPF_AWAITED)))
			urs__op_orphan(o);
	}
}

static bool close_start(struct urs_op *op)
{
	urs_sock *s = op->sock;
	s->state = SOCK_CLOSING;
	cancel_ops(s, s->abort);
	/* Results nobody claimed do not hold the close (those decided from now on leave at
	 * their decision). */
	urs__sock_orphan_results(s);
	urs__close_step(s);
	return false; /* the close never goes to the kernel: close(2) on a socket does not block */
}

/* Cancelling a close makes it abortive: the queued sends are cancelled too and a TCP
 * connection is reset. The close itself still happens, and resolves 0. */
static bool close_cancel(struct urs_op *op)
{
	urs_sock *s = op->sock;
	op->flags &= ~OPF_CANCEL;
	s->abort = true;
	cancel_ops(s, true);
	urs__close_step(s);
	return false;
}

static int close_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	(void)op;
	(void)sqe;
	return -EINVAL; /* never submitted */
}

static enum op_next close_complete(struct urs_op *op, int res, unsigned cflags)
{
	(void)cflags;
	op->res = res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_close = {
	.name = "close",
	.start = close_start,
	.prepare = close_prepare,
	.complete = close_complete,
	.cancel = close_cancel,
};

/* Starts the close reserved for the socket; it never fails. */
static urs_future start_close(urs_sock *s)
{
	struct urs_op *op = urs__op_reserved(s->loop, OPK_CLOSE, s);
	s->close_owed = false;
	s->close_op = urs__op_idx(op);
	return urs__op_start(op);
}

URS_API urs_future urs_close(urs_sock *s)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return urs__future_err(ret);
	return start_close(s);
}

URS_API void urs_sock_free(urs_sock *s)
{
	if (!s)
		return;
	if (s->loop && !urs__mine(s->loop))
		return; /* from another thread: nothing is touched (post it to the loop's thread) */
	if (!s->loop) { /* a husk its loop left behind */
		s->free_asked = true;
		if (!s->files)
			urs__sock_release(s);
		return;
	}
	if (s->free_asked)
		return;
	s->free_asked = true;
	s->wm_cb = NULL;
	/* No callback on s runs after this: results of its pending ops are dropped (buffers
	 * back to the loop, accepted sockets closed). An awaiter still gets its result, and a
	 * close callback set with urs_then(urs_close(s)) still runs. */
	for (struct urs_op *o = urs__sock_ops(s); o; o = urs__sock_next(o))
		if ((o->flags & OPF_BOUND) && !(o->flags & OPF_AWAITED))
			o->flags = (uint16_t)((o->flags & ~OPF_BOUND) | OPF_DETACHED);
	if (s->state == SOCK_OPEN) {
		urs_future f = start_close(s);
		urs_detach(f);
	}
	maybe_bury(s);
}

void urs__sock_give_away(urs_sock *s)
{
	urs_loop *loop = s->loop;
	loop->be->sock_detach(s, false);
	s->fd = -1;
	s->state = SOCK_CLOSED;
	s->free_asked = true;
	loop->stats.socks_open--;
	maybe_bury(s);
}

void urs__sock_adopted(urs_sock *s)
{
	if (s->loop->be != &urs__be_uring)
		return;
	/* O_NONBLOCK on a ring-driven fd makes io_uring answer -EAGAIN instead of waiting. */
	int fl = fcntl(s->fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* A FILE from urs_makefile let go of s. */
void urs__sock_file_closed(urs_sock *s)
{
	s->files--;
	if (!s->loop) {
		if (s->free_asked && !s->files)
			urs__sock_release(s);
		return;
	}
	maybe_bury(s);
}

/* The loop is going: every socket closes at once (queued sends are dropped, TCP resets).
 * First step: cancel. */
void urs__sock_teardown_start(urs_loop *loop)
{
	uint32_t pos = 0;
	for (urs_sock *s; (s = urs__sock_iter(loop, &pos));) {
		s->abort = true;
		if (s->state == SOCK_OPEN)
			urs_detach(start_close(s));
		else if (s->state == SOCK_CLOSING)
			close_cancel(urs__op_ptr(loop, s->close_op));
	}
}

/* Last step, nothing in flight: sockets the user freed go; those the user still holds stay
 * as husks that answer -EBADF until urs_sock_free (the loop never frees what a user holds). */
void urs__sock_teardown(urs_loop *loop)
{
	uint32_t pos = 0;
	for (urs_sock *s; (s = urs__sock_iter(loop, &pos));) {
		if (s->state != SOCK_CLOSED) {
			close(s->fd);
			s->fd = -1;
			s->state = SOCK_CLOSED;
		}
		if (s->close_owed)
			urs__op_unreserve(loop);
		s->close_owed = false;
		s->close_op = 0;
		s->loop = NULL;
		if (s->free_asked && !s->files)
			urs__sock_release(s);
	}
	urs__sock_reap_dead(loop);
}
