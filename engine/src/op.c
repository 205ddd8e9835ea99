/* SPDX-License-Identifier: MIT */
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

_Static_assert(sizeof(struct urs_op) == 64, "the op's hot part is one cache line");
_Static_assert(sizeof(struct urs_opchunk) <= sizeof(struct urs_op), "a chunk's header fits slot 0");
_Static_assert(OP_DONE < 8 && QUEUE_EP_READY < 8, "op states and queues fit their bits");

/* ---------------------------------------------------------------- queues */

/* The queue an op's queue number names. */
static struct urs_opq *queue_of(struct urs_op *op)
{
	urs_loop *loop = urs__op_loop(op);
	switch (op->queue) {
	case QUEUE_BACKLOG: return &loop->backlog;
	case QUEUE_SENDQ: return &op->sock->sendq;
	case QUEUE_RWAIT: return &op->sock->rwait;
	case QUEUE_WWAIT: return &op->sock->wwait;
	case QUEUE_BUFWAIT: return &loop->bg[op->bgroup].wait;
	case QUEUE_EP_PENDING: return &loop->ep_pending;
	case QUEUE_EP_READY: return &loop->ep_ready;
	default: return NULL;
	}
}

/* Which of those q is, for op (a queue of its socket, of its buffer group, or the loop's). */
static enum op_queue queue_num(struct urs_op *op, struct urs_opq *q)
{
	urs_loop *loop = urs__op_loop(op);
	if (q == &loop->backlog)
		return QUEUE_BACKLOG;
	if (q == &loop->ep_pending)
		return QUEUE_EP_PENDING;
	if (q == &loop->ep_ready)
		return QUEUE_EP_READY;
	if (q == &loop->bg[op->bgroup].wait)
		return QUEUE_BUFWAIT;
	urs_sock *s = op->sock;
	if (s && q == &s->sendq)
		return QUEUE_SENDQ;
	if (s && q == &s->rwait)
		return QUEUE_RWAIT;
	if (s && q == &s->wwait)
		return QUEUE_WWAIT;
	abort(); /* an engine bug: every queue an op waits in is one of these */
}

bool urs__op_in(const struct urs_op *op, const struct urs_opq *q)
{
	return op->queue != QUEUE_NONE && queue_of((struct urs_op *)op) == q;
}

struct urs_op *urs__op_qnext(const struct urs_op *op)
{
	return urs__op_ptr(urs__op_loop(op), op->next);
}

void urs__opq_push(struct urs_opq *q, struct urs_op *op)
{
	op->queue = queue_num(op, q) & 7;
	op->next = 0;
	uint32_t i = urs__op_idx(op);
	op->prev = q->tail;
	if (q->tail)
		urs__op_ptr(urs__op_loop(op), q->tail)->next = i;
	else
		q->head = i;
	q->tail = i;
	if (op->queue == QUEUE_BUFWAIT)
		urs__op_loop(op)->bufwait++;
}

void urs__opq_remove(struct urs_op *op)
{
	struct urs_opq *q = queue_of(op);
	if (!q)
		return;
	urs_loop *loop = urs__op_loop(op);
	struct urs_op *prev = urs__op_ptr(loop, op->prev), *next = urs__op_ptr(loop, op->next);
	if (prev)
		prev->next = op->next;
	else
		q->head = op->next;
	if (next)
		next->prev = op->prev;
	else
		q->tail = op->prev;
	if (op->queue == QUEUE_BUFWAIT)
		loop->bufwait--;
	op->queue = QUEUE_NONE;
	op->next = op->prev = 0;
}

struct urs_op *urs__opq_pop(urs_loop *loop, struct urs_opq *q)
{
	struct urs_op *op = q->head ? urs__op_ptr(loop, q->head) : NULL;
	if (op)
		urs__opq_remove(op);
	return op;
}

/* ---------------------------------------------------------------- the pool */

int urs__op_chunk_add(urs_loop *loop, struct urs_opchunk *h)
{
	struct urs_op **chunks = realloc(loop->chunks, (loop->nchunks + 1) * sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	loop->chunks = chunks;
	h->loop = loop;
	h->first = loop->nchunks * OP_CHUNK;
	chunks[loop->nchunks++] = (struct urs_op *)(void *)h;
	return 0;
}

static const struct urs_opchunk *chunk_hdr(const urs_loop *loop, uint32_t c)
{
	return (const struct urs_opchunk *)(const void *)loop->chunks[c];
}

/* A chunk is OP_CHUNK slots aligned to its size: slot 0 is its header (the loop, the
 * chunk's first index), so an op needs neither its loop nor its index in its cache line,
 * and index 0 of every chunk names no op. Its memory is zero from the kernel, and an op's
 * page becomes resident only when the op is first used: the cells kept for reserved closes
 * cost address space, not memory. */
static int pool_grow(urs_loop *loop)
{
	if (loop->nops_alloc >= loop->max_ops)
		return -EBUSY;
	uint32_t n = loop->max_ops - loop->nops_alloc;
	if (n > OP_CHUNK - 1)
		n = OP_CHUNK - 1;
	struct urs_op *c = urs__chunk_map(OP_CHUNK * sizeof(struct urs_op));
	if (!c)
		return -ENOMEM;
	struct urs_opchunk *h = (struct urs_opchunk *)(void *)c;
	if (urs__op_chunk_add(loop, h) < 0) {
		urs__chunk_unmap(c, OP_CHUNK * sizeof(struct urs_op));
		return -ENOMEM;
	}
	h->n = n;
	if (!loop->op_fresh)
		loop->op_fresh = h->first + 1;
	loop->nops_alloc += n;
	return 0;
}

/* An op cell made ready for a new op; its generation goes on from the cell's last (a cell
 * never used is zero from the kernel: generation 1). */
static void op_init(struct urs_op *op)
{
	int32_t gen = op->gen > 0 ? op->gen : 1;
	memset(op, 0, sizeof(*op));
	op->gen = gen;
	op->bid = URS_BUF_NONE;
}

/* A free op: one used before, else the next never used (pool_room made sure there is). */
static struct urs_op *take(urs_loop *loop)
{
	struct urs_op *op = loop->free_ops;
	if (op) {
		loop->free_ops = urs__op_ptr(loop, op->next);
	} else {
		uint32_t c = loop->op_fresh / OP_CHUNK, slot = loop->op_fresh % OP_CHUNK;
		if (slot == 0) { /* past the last slot of chunk c - 1 */
			c--;
			slot = OP_CHUNK;
		}
		if (slot > chunk_hdr(loop, c)->n) {
			/* This chunk is used up: slot 1 of the pool's next chunk, grown by now
			 * (pool_room), past chunks of sockets added in between. */
			do
				c++;
			while (chunk_hdr(loop, c)->socks);
			loop->op_fresh = c * OP_CHUNK + 1;
		}
		op = urs__op_ptr(loop, loop->op_fresh++);
	}
	op_init(op);
	return op;
}

/* Cells for every op taken and every close reserved: a reserved close always finds one. */
static int pool_room(urs_loop *loop, uint32_t want)
{
	while (loop->nops_alloc < want) {
		int ret = pool_grow(loop);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int urs__op_new(urs_loop *loop, enum op_kind kind, urs_sock *sock, struct urs_op **out)
{
	if (loop->tearing_down)
		return -ECANCELED;
	struct urs_op *op;
	int ret;
	if ((urs__kinds[kind]->flags & KF_OWN) && sock && urs__sock_own(sock)->state == OP_FREE) {
		/* The socket's first receive stream: the socket paid for its cell. */
		op = urs__sock_own(sock);
		op_init(op);
	} else {
		/* ops_in_use counts the closes reserved too: they are owed a cell each. */
		if (loop->stats.ops_in_use >= loop->max_ops)
			return -EBUSY;
		ret = pool_room(loop, loop->stats.ops_in_use + 1);
		if (ret < 0)
			return ret;
		op = take(loop);
		loop->stats.ops_in_use++;
	}
	op->kind = (uint8_t)kind;
	/* The side parts it will need: its kind's, and a deadline on a socket with a timeout
	 * (urs_settimeout gives them to the socket's ops already running). */
	unsigned kf = urs__kinds[kind]->flags;
	bool timed = (kf & KF_TIMEOUT) && sock && sock->timeout_ns > 0;
	if (kf & KF_M)
		ret = urs__op_need_m(op);
	else if ((kf & KF_X) || timed)
		ret = urs__op_need_x(op);
	if (ret < 0) {
		urs__op_free(loop, op);
		return ret;
	}
	*out = op;
	op->state = OP_WAITING;
	op->sock = sock;
	loop->active++;
	if (sock && (urs__kinds[kind]->flags & KF_SOCK)) {
		/* At the tail: ops mostly retire oldest first, so unlinking finds them early. */
		uint32_t i = urs__op_idx(op);
		struct urs_op *tail = urs__op_ptr(loop, sock->ops_tail);
		if (tail)
			tail->snext = i;
		else
			sock->ops = i;
		sock->ops_tail = i;
		sock->nops++;
	}
	return 0;
}

/* A socket's close is accounted for, not held: one more op counts as in use and the pool
 * has a cell for it, so that closing never fails for want of an op or of memory. */
int urs__op_reserve(urs_loop *loop)
{
	if (loop->stats.ops_in_use >= loop->max_ops)
		return -EBUSY;
	int ret = pool_room(loop, loop->stats.ops_in_use + 1);
	if (ret < 0)
		return ret;
	loop->stats.ops_in_use++;
	return 0;
}

void urs__op_unreserve(urs_loop *loop)
{
	loop->stats.ops_in_use--;
}

struct urs_op *urs__op_reserved(urs_loop *loop, enum op_kind kind, urs_sock *sock)
{
	struct urs_op *op = take(loop); /* the reservation left a cell free */
	op->kind = (uint8_t)kind;
	op->state = OP_WAITING;
	op->sock = sock;
	loop->active++;
	return op;
}

int urs__op_need_x(struct urs_op *op)
{
	if (op->x)
		return 0;
	urs_loop *loop = urs__op_loop(op);
	/* An op with a side part may wait with a deadline: the heap has room for every one of
	 * them, made now, so that parking never fails. */
	int ret = urs__heap_reserve(loop, loop->xs.n + 1);
	if (ret < 0)
		return ret;
	uint32_t i = urs__slab_get(&loop->xs);
	if (!i)
		return -ENOMEM;
	memset(urs__slab_at(&loop->xs, i), 0, sizeof(struct urs_opx));
	op->x = i;
	return 0;
}

int urs__op_need_m(struct urs_op *op)
{
	int ret = urs__op_need_x(op);
	if (ret < 0)
		return ret;
	struct urs_opx *x = urs__op_x(op);
	if (x->m)
		return 0;
	uint32_t i = urs__slab_get(&urs__op_loop(op)->ms);
	if (!i)
		return -ENOMEM;
	struct urs_opm *m = urs__slab_at(&urs__op_loop(op)->ms, i);
	m->addr.len = 0; /* the rest is written before it is read */
	m->newsock = NULL;
	x->m = i;
	return 0;
}

struct urs_op *urs__op_at(const urs_loop *loop, uint32_t idx)
{
	if (idx / OP_CHUNK >= loop->nchunks)
		return NULL;
	struct urs_op *c = loop->chunks[idx / OP_CHUNK];
	const struct urs_opchunk *h = (const struct urs_opchunk *)(const void *)c;
	uint32_t slot = idx % OP_CHUNK;
	/* Slot 0 is the header; slots past max_ops in the last chunk name no op. In a chunk
	 * of sockets only the own op of a cell handed out is one: the header's cell and the
	 * sockets themselves are not. */
	if (slot == 0 || slot > h->n)
		return NULL;
	if (h->socks && (slot < SOCKCELL_SLOTS || slot % SOCKCELL_SLOTS != SOCKCELL_OWN))
		return NULL;
	return &c[slot];
}

struct urs_op *urs__op_iter(const urs_loop *loop, uint32_t *pos)
{
	for (uint32_t i = *pos + 1; i / OP_CHUNK < loop->nchunks; i++) {
		if (i % OP_CHUNK > chunk_hdr(loop, i / OP_CHUNK)->n) {
			i = (i / OP_CHUNK + 1) * OP_CHUNK; /* on to the next chunk's slot 0 */
			continue;
		}
		struct urs_op *op = urs__op_at(loop, i);
		if (op) {
			*pos = i;
			return op;
		}
	}
	return NULL;
}

/* Back to the pool, or to its socket's cell; the generation moves on so every old handle
 * goes stale. */
void urs__op_free(urs_loop *loop, struct urs_op *op)
{
	if (urs__sendbuf_owed(op)) {
		op->state = OP_LINGER; /* its notification frees it (urs__sendbuf_notif) */
		return;
	}
	if (op->x) {
		struct urs_opx *x = urs__op_x(op);
		if (x->m)
			urs__slab_put(&loop->ms, x->m);
		urs__slab_put(&loop->xs, op->x);
		op->x = 0;
	}
	op->state = OP_FREE;
	op->gen = op->gen == INT32_MAX ? 1 : op->gen + 1;
	if (urs__op_chunk(op)->socks) {
		/* A socket's own op: its socket may have been released while it lived
		 * (a result awaited or claimed after urs_sock_free): the cell goes now. */
		urs_sock *s = urs__own_sock(op);
		if (s->release_owed)
			urs__sock_release(s);
		return;
	}
	op->next = urs__op_ref(loop->free_ops);
	loop->free_ops = op;
	loop->stats.ops_in_use--;
}

void urs__pool_init(urs_loop *loop)
{
	urs__slab_init(&loop->xs, sizeof(struct urs_opx));
	urs__slab_init(&loop->ms, sizeof(struct urs_opm));
}

void urs__pool_free(urs_loop *loop)
{
	urs__slab_fini(&loop->xs);
	urs__slab_fini(&loop->ms);
	for (uint32_t c = 0; c < loop->nchunks; c++)
		if (!chunk_hdr(loop, c)->socks) /* the socket slab's go with the slab */
			urs__chunk_unmap(loop->chunks[c], OP_CHUNK * sizeof(struct urs_op));
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
	urs_loop *loop = urs__op_loop(op);
	const struct urs_op_kind *k = urs__kind(op);
	op->flags &= ~(OPF_MULTI | OPF_TIMEDOUT | OPF_BACKOFF);
	if (op->flags & OPF_CANCEL) {
		urs__op_decide(op, -ECANCELED);
		return;
	}
	if (urs__op_deadline(op) && urs__deadline_left(op) <= 0) {
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
	urs_loop *loop = urs__op_loop(op);
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
	/* The CQE's flags, with the buffer it named back in their upper half. */
	uint32_t cflags = op->cflags;
	if (cflags & IORING_CQE_F_BUFFER) {
		cflags |= op->bid << IORING_CQE_BUFFER_SHIFT;
		op->bid = URS_BUF_NONE;
	}
	op->cflags = 0;
	switch (k->complete(op, op->res, cflags)) {
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
	} else if ((cflags & IORING_CQE_F_MORE) && urs__sendbuf_zc_step(op, urs__op_loop(op))) {
		/* A zero-copy send's result: the op goes on or is decided now (a timeout or
		 * cancel must not wait for the peer to acknowledge), while its buffer waits
		 * for the notification that follows (urs__sendbuf_notif). */
		urs__sendbuf_zc_result(op);
		op->res = res;
		op->cflags = cflags;
	} else if (cflags & IORING_CQE_F_MORE) {
		urs__kind(op)->event(op, res, cflags);
		return;
	} else {
		op->res = res;
		/* A buffer the kernel picked: until complete() takes it, bid names it (an op
		 * whose group has a ring claims none before). */
		op->cflags = (uint16_t)cflags;
		if (cflags & IORING_CQE_F_BUFFER) {
			op->bid = cflags >> IORING_CQE_BUFFER_SHIFT;
			if (op->kpending > 1)
				urs__buf_early(op, res, cflags);
		}
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
	urs_loop *loop = urs__op_loop(op);
	const struct urs_op_kind *k = urs__kind(op);
	if (op->state == OP_DONE || op->state == OP_FREE || op->state == OP_LINGER)
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
	if (res < 0 && (k->flags & KF_COUNT) && urs__op_done(op) && res != -EBADR)
		res = (int)urs__op_done(op);
	op->res = res;
	if (op->flags & OPF_HEAP)
		urs__heap_del(loop, op);
	op->state = OP_DONE;
	loop->active--;
	/* A buffer that carries nothing (an error, a cancel, EOF, an empty datagram, or one
	 * claimed for a step that never ran) goes back now. */
	if (op->bid != URS_BUF_NONE && (res <= 0 || (k->flags & KF_SEND)) &&
	    !urs__sendbuf_owed(op)) {
		/* ...and a send's buffer goes back whatever the result, unless a zero-copy
		 * notification is still owed on it: then it goes back when that comes. */
		uint32_t id = op->bid;
		op->bid = URS_BUF_NONE;
		urs__sendbuf_back(loop, id);
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
	if (urs__op_deadline(op) && !(op->flags & OPF_HEAP))
		urs__heap_add(urs__op_loop(op), op);
}

void urs__op_unpark(struct urs_op *op)
{
	urs__opq_remove(op);
	if (op->flags & OPF_HEAP)
		urs__heap_del(urs__op_loop(op), op);
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
	urs__op_loop(op)->be->cancel(op);
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
		urs__op_loop(op)->be->cancel(op);
}

/* Its deadline passed while it waited outside the kernel. */
void urs__op_expire(struct urs_op *op)
{
	if (op->flags & OPF_BACKOFF) {
		/* Not a timeout: an accept stream's pause is over (epoll). */
		urs__op_x(op)->deadline = 0;
		urs__op_unpark(op);
		urs__op_submit(op);
		return;
	}
	op->flags |= OPF_TIMEDOUT;
	urs__op_decide(op, -ETIMEDOUT);
}
