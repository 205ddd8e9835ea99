/* Futures: value handles to ops, and the hand-over of a result to whoever consumes it
 * (a callback, an awaiter, or nobody). Hops 5 and 6 of the request path. */
#include "internal.h"

#include <string.h>

urs_future urs__future_of(const struct urs_op *op)
{
	urs_future f = { op->loop, op->idx, op->gen };
	return f;
}

/* The op behind a live handle, or NULL with *err set: never dereferences a stale one. */
static struct urs_op *lookup(urs_future f, int *err)
{
	if (f.gen <= 0) {
		*err = f.gen < 0 ? f.gen : -EINVAL;
		return NULL;
	}
	struct urs_op *op = f.loop ? urs__op_at(f.loop, f.idx) : NULL;
	if (!op || op->gen != f.gen || op->state == OP_FREE) {
		*err = -EINVAL;
		return NULL;
	}
	return op;
}

void urs__result_drop(urs_result *r)
{
	if (r->buf.id != URS_BUF_NONE)
		urs_buf_release(&r->buf);
	if (r->sock) {
		urs_sock_free(r->sock);
		r->sock = NULL;
	}
}

static void run_cb(urs_loop *loop, urs_cb cb, urs_result *r, void *user)
{
	loop->depth++;
	cb(r, user);
	loop->depth--;
}

/* A stream's event (a chunk, a connection): its callback runs, the op stays. */
void urs__event(struct urs_op *op, urs_result *r)
{
	run_cb(op->loop, op->cb, r, op->user);
}

/* The op has its result (op->r): give it to its consumer, or keep it until one comes. */
void urs__future_resolve(struct urs_op *op)
{
	urs_loop *loop = op->loop;
	if (op->state == OP_ACTIVE) {
		op->state = OP_DONE;
		loop->active--;
	}
	if (op->flags & OPF_BOUND) {
		/* The handle goes stale before the callback runs: the callback owns the result. */
		urs_cb cb = op->cb;
		void *user = op->user;
		urs_result r = op->r;
		urs__op_free(loop, op);
		run_cb(loop, cb, &r, user);
	} else if (op->flags & OPF_DETACHED) {
		urs__result_drop(&op->r);
		urs__op_free(loop, op);
	}
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
	op->cb = cb;
	op->user = user;
	op->flags |= OPF_BOUND;
	if (op->state == OP_DONE)
		urs__ready_push(op->loop, op);
	return 0;
}

URS_API int urs_await(urs_future f, urs_result *out)
{
	int err;
	struct urs_op *op = lookup(f, &err);
	if (!op) {
		if (out) {
			memset(out, 0, sizeof(*out));
			out->buf.id = URS_BUF_NONE;
			out->res = err;
		}
		return err;
	}
	if (op->flags & (OPF_BOUND | OPF_DETACHED | OPF_AWAITED))
		return -EALREADY;
	urs_loop *loop = op->loop;
	if (loop->depth)
		return -EDEADLK;
	op->flags |= OPF_AWAITED;
	int ret = urs__loop_until(loop, op, f.gen);
	if (ret < 0) {
		op->flags &= ~OPF_AWAITED;
		return ret;
	}
	urs_result r = op->r;
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
	if (op->state != OP_ACTIVE || (op->flags & OPF_READY))
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
	if (op->state == OP_DONE && !(op->flags & OPF_READY)) {
		urs__result_drop(&op->r);
		urs__op_free(op->loop, op);
		return 0;
	}
	op->flags |= OPF_DETACHED;
	return 0;
}

URS_API urs_future urs_nop(urs_loop *loop)
{
	if (!loop)
		return urs__future_err(-EINVAL);
	struct urs_op *op;
	int ret = urs__op_new(loop, OPK_NOP, NULL, &op);
	if (ret < 0)
		return urs__future_err(ret);
	return urs__op_start(op);
}
