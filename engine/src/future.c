/* SPDX-License-Identifier: MIT */
/* Futures: value handles to ops, and the hand-over of a decided op's result to whoever
 * consumes it — a callback, an awaiter, or nobody (hop 6). Decided ops with a consumer
 * wait on the loop's ready list, so a callback only ever runs from the loop's own turn. */
#include "internal.h"

#include <string.h>

urs_future urs__future_of(const struct urs_op *op)
{
	urs_future f = { urs__op_loop(op), urs__op_idx(op), op->gen };
	return f;
}

/* The op behind a live handle, or NULL with *err set: never dereferences a stale one. */
static struct urs_op *lookup(urs_future f, int *err)
{
	if (f.gen <= 0) {
		*err = f.gen < 0 ? f.gen : -EINVAL;
		return NULL;
	}
	if (f.loop && !urs__mine(f.loop)) {
		*err = -EXDEV;
		return NULL;
	}
	struct urs_op *op = f.loop ? urs__op_at(f.loop, f.idx) : NULL;
	if (!op || op->gen != f.gen || op->state == OP_FREE || op->state == OP_LINGER) {
		*err = -EINVAL;
		return NULL;
	}
	return op;
}

void urs__result_drop(urs_result *r)
{
	if (r->buf.id != URS_BUF_NONE)
		urs_buf_release(&r->buf);
	if (r->control && r->controllen) {
		urs__cmsg_close_fds(r->control, r->controllen); /* nobody will take them */
		r->controllen = 0;
	}
	if (r->ai) {
		urs_addrinfo_free(r->ai);
		r->ai = NULL;
	}
	if (r->sock) {
		urs_sock_free(r->sock);
		r->sock = NULL;
	}
}

/* The result a consumer sees, built when it is handed over: the buffer is lent and the
 * accepted socket changes hands only now. */
static void build(struct urs_op *op, urs_result *r)
{
	urs_loop *loop = urs__op_loop(op);
	memset(r, 0, offsetof(urs_result, addr));
	r->res = op->res;
	r->flags = op->rflags;
	r->buf.id = URS_BUF_NONE;
	r->buf.loop = loop;
	/* (a send's buffer is its own: one still there is owed a zero-copy notification) */
	if (op->bid != URS_BUF_NONE && !(urs__kind(op)->flags & KF_SEND)) {
		if (op->x) {
			urs__buf_lend_op(op, &r->buf);
		} else { /* a stream's buffer is lent with its event: none is left at its end */
			urs__buf_back(loop, op->bid);
			op->bid = URS_BUF_NONE;
		}
	}
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = x && x->m ? urs__op_m(op) : NULL;
	r->sock = NULL;
	if (m) {
		r->sock = m->newsock;
		m->newsock = NULL;
	}
	if (m && (urs__kind(op)->flags & KF_PEER))
		r->addr = m->addr;
	else
		r->addr.len = 0;
	r->sent = x ? x->done : 0;
	r->control = NULL;
	r->controllen = 0;
	r->msg_flags = 0;
	r->ai = NULL;
	memset(r->reserved, 0, sizeof(r->reserved));
	if (urs__kind(op)->result)
		urs__kind(op)->result(op, r);
}

static void run_cb(urs_loop *loop, urs_cb cb, urs_result *r, void *user)
{
	loop->depth++;
	cb(r, user);
	loop->depth--;
}

void urs__event(struct urs_op *op, urs_result *r)
{
	if (op->flags & OPF_BOUND)
		run_cb(urs__op_loop(op), op->cb, r, op->user);
	else
		urs__result_drop(r);
}

void urs__future_resolved(struct urs_op *op)
{
	if (!(op->flags & (OPF_BOUND | OPF_DETACHED)))
		return; /* an awaiter, or a consumer still to come, takes it */
	urs_loop *loop = urs__op_loop(op);
	op->flags |= OPF_READY;
	op->rnext = 0;
	if (loop->ready_tail)
		loop->ready_tail->rnext = urs__op_idx(op);
	else
		loop->ready = op;
	loop->ready_tail = op;
}

/* The handle goes stale before the callback runs: the callback owns the result. */
static void deliver(urs_loop *loop, struct urs_op *op)
{
	urs_result r;
	build(op, &r);
	urs__op_retire(op);
	urs_cb cb = op->cb;
	void *user = op->user;
	bool bound = op->flags & OPF_BOUND;
	urs__op_free(loop, op);
	if (bound)
		run_cb(loop, cb, &r, user);
	else
		urs__result_drop(&r);
}

int urs__ready_run(urs_loop *loop)
{
	int n = loop->wm_list ? urs__wm_run(loop) : 0;
	while (loop->ready) {
		struct urs_op *op = loop->ready;
		loop->ready = urs__op_ptr(loop, op->rnext);
		if (!loop->ready)
			loop->ready_tail = NULL;
		op->rnext = 0;
		op->flags &= ~OPF_READY;
		deliver(loop, op);
		n++;
	}
	return n;
}

URS_API int urs_then(urs_future f, urs_cb cb, void *user)
{
	int err;
	struct urs_op *op = lookup(f, &err);
	if (!op)
		return err;
	if (!cb)
		return -EINVAL;
	if (op->flags & (OPF_BOUND | OPF_DETACHED | OPF_AWAITED))
		return -EALREADY;
	/* No callback on a socket after urs_sock_free (but its close's), nor after its close
	 * callback: a result that came before anyone claimed it and whose socket has closed or
	 * gone since, or any op of a freed socket, can still be awaited or detached. */
	if ((op->flags & OPF_ORPHAN) ||
	    ((urs__kind(op)->flags & KF_SOCK) && op->sock && op->sock->free_asked))
		return -EBADF;
	op->cb = cb;
	op->user = user;
	op->flags |= OPF_BOUND;
	if (op->state == OP_DONE)
		urs__future_resolved(op);
	return 0;
}

/* An await that returns no result still fills *out: res is the error, nothing is lent. */
static int await_err(urs_result *out, int err)
{
	if (out) {
		memset(out, 0, sizeof(*out));
		out->buf.id = URS_BUF_NONE;
		out->res = err;
	}
	return err;
}

URS_API int urs_await(urs_future f, urs_result *out)
{
	int err;
	struct urs_op *op = lookup(f, &err);
	if (!op)
		return await_err(out, err);
	if (op->flags & (OPF_BOUND | OPF_DETACHED | OPF_AWAITED))
		return await_err(out, -EALREADY);
	urs_loop *loop = urs__op_loop(op);
	if (loop->depth)
		return await_err(out, -EDEADLK);
	op->flags |= OPF_AWAITED;
	while (op->state != OP_DONE) {
		int ret = urs__loop_turn(loop, 1);
		if (ret < 0) {
			op->flags &= ~OPF_AWAITED; /* still pending: the handle stays good */
			return await_err(out, ret);
		}
	}
	urs_result r;
	build(op, &r);
	urs__op_retire(op);
	urs__op_free(loop, op);
	if (out)
		*out = r;
	else
		urs__result_drop(&r);
	return r.res;
}

URS_API int urs_cancel(urs_future f)
{
	int err;
	struct urs_op *op = lookup(f, &err);
	if (!op)
		return err;
	if (op->state == OP_DONE)
		return -EALREADY;
	urs__op_cancel(op);
	return 0;
}

URS_API int urs_detach(urs_future f)
{
	int err;
	struct urs_op *op = lookup(f, &err);
	if (!op)
		return err;
	if (op->flags & (OPF_BOUND | OPF_DETACHED | OPF_AWAITED))
		return -EALREADY;
	op->flags |= OPF_DETACHED;
	if (op->state == OP_DONE)
		urs__future_resolved(op); /* dropped at the next turn, like every other */
	return 0;
}

URS_API urs_future urs_nop(urs_loop *loop)
{
	if (!loop)
		return urs__future_err(-EINVAL);
	if (!urs__mine(loop))
		return urs__future_err(-EXDEV);
	struct urs_op *op;
	int ret = urs__op_new(loop, OPK_NOP, NULL, &op);
	if (ret < 0)
		return urs__future_err(ret);
	return urs__op_start(op);
}

static int nop_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	(void)op;
	io_uring_prep_nop(sqe);
	return 0;
}

static int nop_exec(struct urs_op *op, uint32_t *want)
{
	(void)op;
	(void)want;
	return 0;
}

static enum op_next nop_complete(struct urs_op *op, int res, unsigned cflags)
{
	(void)cflags;
	op->res = res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_nop = {
	.name = "nop",
	.prepare = nop_prepare,
	.exec = nop_exec,
	.complete = nop_complete,
};
