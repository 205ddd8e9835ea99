/* Ops: the pool, and an op's life through the table of kinds — started (hop 2), submitted,
 * its CQEs routed back (hop 4), continued or decided (hop 5). Nothing here knows what a
 * kind does; the kinds live in their family's file (sock.c, conn_ops.c, stream_ops.c,
 * dgram_ops.c, timer.c) and meet the core only through urs__kinds. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

const struct urs_op_kind *const urs__kinds[OPK__COUNT] = {
	[OPK_NOP] = &urs__kind_nop,
	[OPK_SLEEP] = &urs__kind_sleep,
	[OPK_CLOSE] = &urs__kind_close,
	[OPK_ACCEPT] = &urs__kind_accept,
	[OPK_ACCEPT_STREAM] = &urs__kind_accept_stream,
	[OPK_CONNECT] = &urs__kind_connect,
	[OPK_CONNECT_EX] = &urs__kind_connect_ex,
	[OPK_RECV] = &urs__kind_recv,
	[OPK_RECV_INTO] = &urs__kind_recv_into,
	[OPK_RECV_STREAM] = &urs__kind_recv_stream,
	[OPK_SEND] = &urs__kind_send,
	[OPK_SENDALL] = &urs__kind_sendall,
	[OPK_SHUTDOWN] = &urs__kind_shutdown,
	[OPK_RECVFROM] = &urs__kind_recvfrom,
	[OPK_RECVFROM_STREAM] = &urs__kind_recvfrom_stream,
	[OPK_SENDTO] = &urs__kind_sendto,
	[OPK_RECVFROM_INTO] = &urs__kind_recvfrom_into,
	[OPK_SENDMSG] = &urs__kind_sendmsg,
	[OPK_RECVMSG] = &urs__kind_recvmsg,
	[OPK_RECVMSG_INTO] = &urs__kind_recvmsg_into,
	[OPK_SENDFILE] = &urs__kind_sendfile,
	[OPK_POLL] = &urs__kind_poll,
	[OPK_GETADDRINFO] = &urs__kind_getaddrinfo,
	[OPK_CREATE_CONN] = &urs__kind_create_conn,
};

/* ---------------------------------------------------------------- queues */

void urs__opq_push(struct urs_opq *q, struct urs_op *op)
{
	op->q = q;
	op->next = NULL;
	op->prev = q->tail;
	if (q->tail)
		q->tail->next = op;
	else
		q->head = op;
	q->tail = op;
	q->n++;
}

void urs__opq_remove(struct urs_op *op)
{
	struct urs_opq *q = op->q;
	if (!q)
		return;
	if (op->prev)
		op->prev->next = op->next;
	else
		q->head = op->next;
	if (op->next)
		op->next->prev = op->prev;
	else
		q->tail = op->prev;
	q->n--;
	op->q = NULL;
	op->next = op->prev = NULL;
}

struct urs_op *urs__opq_pop(struct urs_opq *q)
{
	struct urs_op *op = q->head;
	if (op)
		urs__opq_remove(op);
	return op;
}

/* ---------------------------------------------------------------- the pool */

static int pool_grow(urs_loop *loop)
{
	if (loop->nops_alloc >= loop->max_ops)
		return -EBUSY;
	uint32_t n = loop->max_ops - loop->nops_alloc;
	if (n > OP_CHUNK)
		n = OP_CHUNK;
	struct urs_op **chunks = realloc(loop->chunks, (loop->nchunks + 1) * sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	loop->chunks = chunks;
	/* Every chunk has OP_CHUNK slots so that an index maps to (chunk, slot) by division;
	 * the last one may use fewer when max_ops is not a multiple. */
	struct urs_op *c = calloc(OP_CHUNK, sizeof(*c));
	if (!c)
		return -ENOMEM;
	chunks[loop->nchunks] = c;
	for (int i = (int)n - 1; i >= 0; i--) {
		c[i].idx = loop->nchunks * OP_CHUNK + (uint32_t)i;
		c[i].gen = 1;
		c[i].next = loop->free_ops;
		loop->free_ops = &c[i];
	}
	loop->nchunks++;
	loop->nops_alloc += n;
	return 0;
}

static int take(urs_loop *loop, struct urs_op **out)
{
	if (!loop->free_ops) {
		int ret = pool_grow(loop);
		if (ret < 0)
			return ret;
	}
	struct urs_op *op = loop->free_ops;
	loop->free_ops = op->next;
	uint32_t idx = op->idx;
	int32_t gen = op->gen;
	memset(op, 0, offsetof(struct urs_op, addr)); /* the address is written before use */
	op->idx = idx;
	op->gen = gen;
	op->loop = loop;
	op->bid = URS_BUF_NONE;
	op->ext = NULL;
	loop->stats.ops_in_use++;
	*out = op;
	return 0;
}

int urs__op_new(urs_loop *loop, enum op_kind kind, urs_sock *sock, struct urs_op **out)
{
	if (loop->tearing_down)
		return -ECANCELED;
	int ret = urs__heap_reserve(loop, loop->active + 1);
	if (ret < 0)
		return ret;
	ret = take(loop, out);
	if (ret < 0)
		return ret;
	struct urs_op *op = *out;
	op->kind = (uint8_t)kind;
	op->state = OP_WAITING;
	op->sock = sock;
	loop->active++;
	if (sock && (urs__kinds[kind]->flags & KF_SOCK)) {
		op->snext = sock->ops;
		if (sock->ops)
			sock->ops->sprev = op;
		sock->ops = op;
		sock->nops++;
	}
	return 0;
}

int urs__op_reserve(urs_loop *loop, struct urs_op **out)
{
	int ret = take(loop, out);
	if (ret == 0) {
		(*out)->state = OP_RESERVED;
		(*out)->kind = OPK_CLOSE;
	}
	return ret;
}

void urs__op_unreserve(urs_loop *loop, struct urs_op *op)
{
	urs__op_free(loop, op);
}

struct urs_op *urs__op_at(urs_loop *loop, uint32_t idx)
{
	if (idx / OP_CHUNK >= loop->nchunks)
		return NULL;
	struct urs_op *op = &loop->chunks[idx / OP_CHUNK][idx % OP_CHUNK];
	return op->idx == idx ? op : NULL; /* a slot past max_ops in the last chunk */
}

/* Back to the pool; the generation moves on so every old handle goes stale. */
void urs__op_free(urs_loop *loop, struct urs_op *op)
{
	op->state = OP_FREE;
	op->gen = op->gen == INT32_MAX ? 1 : op->gen + 1;
	op->next = loop->free_ops;
	loop->free_ops = op;
	loop->stats.ops_in_use--;
}

void urs__pool_free(urs_loop *loop)
{
	for (uint32_t c = 0; c < loop->nchunks; c++)
		free(loop->chunks[c]);
	free(loop->chunks);
	free(loop->cancels);
	free(loop->cancel_gens);
}

/* ---------------------------------------------------------------- onto the ring */

bool urs__op_nonblocking(const struct urs_op *op)
{
	return op->sock && op->sock->timeout_ns == 0 && (urs__kind(op)->flags & KF_TIMEOUT);
}

urs_future urs__op_start(struct urs_op *op)
{
	urs_future f = urs__future_of(op);
	const struct urs_op_kind *k = urs__kind(op);
	if (k->flags & KF_TIMEOUT)
		urs__deadline_set(op);
	if (!k->start || k->start(op))
		urs__op_submit(op);
	return f;
}

/* Hands the op's current step to the backend. An op that cannot go now waits: its deadline
 * passed (decided, nothing was sent, so nothing is lost), or no buffer is free. */
void urs__op_submit(struct urs_op *op)
{
	urs_loop *loop = op->loop;
	const struct urs_op_kind *k = urs__kind(op);
	op->flags &= ~(OPF_MULTI | OPF_TIMEDOUT | OPF_BACKOFF);
	if (op->flags & OPF_CANCEL) {
		urs__op_decide(op, -ECANCELED);
		return;
	}
	if (op->deadline && urs__deadline_left(op) <= 0) {
		op->flags |= OPF_TIMEDOUT;
		urs__op_decide(op, -ETIMEDOUT);
		return;
	}
	/* Without a ring the kernel needs the buffer's address with the request; epoll takes
	 * one only for the call itself (epoll.c). */
	if ((k->flags & KF_BUF) && loop->be != &urs__be_epoll && urs__buf_claim(op) < 0) {
		if (urs__buf_wait(op) == NEXT_DECIDE)
			urs__op_decide(op, op->res);
		return;
	}
	loop->be->submit(op);
}

/* ---------------------------------------------------------------- back from the ring */

static void step(struct urs_op *op)
{
	urs_loop *loop = op->loop;
	const struct urs_op_kind *k = urs__kind(op);
	/* The recovery barrier cancelled it, not the user: it goes again after the barrier
	 * when nothing of it can happen twice, else its outcome is unknown. */
	if (loop->recovering && op->res == -ECANCELED &&
	    !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT))) {
		if ((k->flags & KF_RETRY) && !(op->flags & OPF_LOST)) {
			urs__op_park(op, &loop->backlog);
		} else {
			op->state = OP_WAITING;
			urs__op_decide(op, -EBADR);
		}
		return;
	}
	op->state = OP_STEPPING;
	switch (k->complete(op, op->res, op->cflags)) {
	case NEXT_DECIDE:
		urs__op_decide(op, op->res);
		break;
	case NEXT_AGAIN:
		op->state = OP_WAITING;
		op->flags |= OPF_CONT;
		urs__op_submit(op); /* a cancel asked meanwhile decides it there */
		op->flags &= ~OPF_CONT;
		break;
	case NEXT_PARKED:
		/* A callback complete() ran may have cancelled it on its way to the queue. */
		if (op->flags & OPF_CANCEL)
			urs__op_decide(op, -ECANCELED);
		break;
	}
}

/* A completion for op from its backend: part UD_MAIN (its own) or UD_TIMEOUT (its linked
 * timeout's). When the kernel owes it nothing more, its kind continues or decides it. */
void urs__op_complete(struct urs_op *op, unsigned part, int res, uint32_t cflags)
{
	if (part == UD_TIMEOUT) {
		/* -ETIME: it fired and cancelled the op. -ENOENT/-EALREADY: it fired while the
		 * op was running in an io-wq worker, which is interrupted instead (-EINTR); a
		 * timeout that lost to its op's completion says -ECANCELED. */
		if (res != -ECANCELED)
			op->flags |= OPF_TIMEDOUT;
	} else if (cflags & IORING_CQE_F_MORE) {
		urs__kind(op)->event(op, res, cflags);
		return;
	} else {
		op->res = res;
		op->cflags = cflags;
	}
	if (--op->kpending == 0)
		step(op);
}

/* ---------------------------------------------------------------- deciding */

static void retire(struct urs_op *op)
{
	if (op->flags & OPF_RETIRED)
		return;
	op->flags |= OPF_RETIRED;
	const struct urs_op_kind *k = urs__kind(op);
	if (k->retire)
		k->retire(op);
}

/* The op has its result. A timeout or cancel that cut it short is named as such; the
 * kind's queue moves on; the consumer runs from the ready list, never inside the call
 * that caused the decision. */
void urs__op_decide(struct urs_op *op, int res)
{
	urs_loop *loop = op->loop;
	const struct urs_op_kind *k = urs__kind(op);
	if (op->state == OP_DONE || op->state == OP_FREE)
		return; /* decided once only, whatever asks again */
	if (res < 0 && res != -ETIMEDOUT) {
		if ((op->flags & OPF_TIMEDOUT) && !(op->flags & OPF_CANCEL) &&
		    (res == -ECANCELED || res == -ETIME || res == -EINTR))
			res = urs__op_nonblocking(op) ? -EAGAIN : -ETIMEDOUT;
		else if (op->flags & OPF_CANCEL)
			res = -ECANCELED;
	}
	/* Cut while it waited between two steps (epoll: for room; a full SQ; its deadline found
	 * passed at the next step): what went stands. An -EBADR outcome is unknown. */
	if (res < 0 && (k->flags & KF_COUNT) && op->done && res != -EBADR)
		res = (int)op->done;
	op->res = res;
	if (op->flags & OPF_HEAP)
		urs__heap_del(loop, op);
	op->state = OP_DONE;
	loop->active--;
	/* A buffer that carries nothing (an error, a cancel, EOF, an empty datagram, or one
	 * claimed for a step that never ran) goes back now. */
	if (op->bid != URS_BUF_NONE && res <= 0) {
		uint32_t id = op->bid;
		op->bid = URS_BUF_NONE;
		urs__buf_back(loop, id);
	}
	/* On the ready list first: its callback runs before those of the ops its decision
	 * moves on (the queue behind a failed send). */
	urs__future_resolved(op);
	if (k->decided)
		k->decided(op); /* still in its queue: the kind sees what waits behind it */
	urs__opq_remove(op);
	/* An awaiter or nobody (detached) does not need the socket. A result nobody has
	 * claimed yet stays on its socket while the socket is open: if the socket is freed or
	 * closed before a callback is attached, none may be (urs_then answers -EBADF), and its
	 * socket finds it there to say so (urs__sock_orphan_results). The op may have been
	 * decided inside the call that started it (a deadline already past, a refused step). */
	if (op->flags & (OPF_AWAITED | OPF_DETACHED))
		retire(op);
	else if (!(op->flags & OPF_BOUND) && op->sock && op->sock->state != SOCK_OPEN)
		urs__op_orphan(op);
}

void urs__op_retire(struct urs_op *op)
{
	retire(op);
}

void urs__op_orphan(struct urs_op *op)
{
	op->flags |= OPF_ORPHAN;
	retire(op);
}

/* ---------------------------------------------------------------- waiting, cancel */

void urs__op_park(struct urs_op *op, struct urs_opq *q)
{
	op->state = OP_WAITING;
	if (q)
		urs__opq_push(q, op);
	if (op->deadline && !(op->flags & OPF_HEAP))
		urs__heap_add(op->loop, op);
}

void urs__op_unpark(struct urs_op *op)
{
	urs__opq_remove(op);
	if (op->flags & OPF_HEAP)
		urs__heap_del(op->loop, op);
}

void urs__op_cancel(struct urs_op *op)
{
	if (op->state == OP_STEPPING) {
		op->flags |= OPF_CANCEL; /* its complete() is running: it honours the flag */
		return;
	}
	if (op->state != OP_WAITING && op->state != OP_KERNEL)
		return;
	const struct urs_op_kind *k = urs__kind(op);
	if (op->state == OP_WAITING) {
		op->flags |= OPF_CANCEL;
		if (k->cancel && !k->cancel(op))
			return;
		urs__op_decide(op, -ECANCELED); /* leaves its queue and the heap there */
		return;
	}
	if (op->flags & OPF_CANCEL)
		return; /* asked already */
	op->flags |= OPF_CANCEL;
	op->loop->be->cancel(op);
}

int urs__never_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	(void)op;
	(void)sqe;
	return -EINVAL;
}

int urs__never_exec(struct urs_op *op, uint32_t *want)
{
	(void)op;
	(void)want;
	return -EINVAL;
}

enum op_next urs__complete_as_is(struct urs_op *op, int res, unsigned cflags)
{
	(void)cflags;
	op->res = res;
	return NEXT_DECIDE;
}

void urs__op_rearm(struct urs_op *op)
{
	if (op->state == OP_KERNEL && !(op->flags & OPF_CANCEL))
		op->loop->be->cancel(op);
}

/* Its deadline passed while it waited outside the kernel. */
void urs__op_expire(struct urs_op *op)
{
	if (op->flags & OPF_BACKOFF) {
		/* Not a timeout: an accept stream's pause is over (epoll). */
		op->deadline = 0;
		urs__op_unpark(op);
		urs__op_submit(op);
		return;
	}
	op->flags |= OPF_TIMEDOUT;
	urs__op_decide(op, -ETIMEDOUT);
}
