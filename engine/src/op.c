/* Ops: the preallocated pool, and each op's way onto the ring (SQEs, hop 2) and back
 * (its CQEs, the continuation an op may need, then the future; hops 4-5). */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BACKOFF_NS = 20 * 1000 * 1000, SEND_CHUNK = 1 << 30 };

/* ---------------------------------------------------------------- the pool */

static int pool_grow(urs_loop *loop)
{
	if ((uint64_t)(loop->nchunks + 1) * OP_CHUNK > loop->max_ops)
		return -EBUSY;
	struct urs_op **chunks = realloc(loop->chunks, (loop->nchunks + 1) * sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	loop->chunks = chunks;
	struct urs_op *c = calloc(OP_CHUNK, sizeof(*c));
	if (!c)
		return -ENOMEM;
	chunks[loop->nchunks] = c;
	for (int i = OP_CHUNK - 1; i >= 0; i--) {
		c[i].idx = loop->nchunks * OP_CHUNK + (uint32_t)i;
		c[i].gen = 1;
		c[i].next = loop->free_ops;
		loop->free_ops = &c[i];
	}
	loop->nchunks++;
	return 0;
}

int urs__op_new(urs_loop *loop, enum op_kind kind, urs_sock *sock, struct urs_op **out)
{
	if (loop->tearing_down)
		return -ECANCELED;
	if (!loop->free_ops) {
		int ret = pool_grow(loop);
		if (ret < 0)
			return ret;
	}
	struct urs_op *op = loop->free_ops;
	loop->free_ops = op->next;
	uint32_t idx = op->idx;
	int32_t gen = op->gen;
	memset(op, 0, sizeof(*op));
	op->idx = idx;
	op->gen = gen;
	op->loop = loop;
	op->kind = (uint8_t)kind;
	op->state = OP_ACTIVE;
	op->sock = sock;
	op->bid = URS_BUF_NONE;
	op->r.buf.id = URS_BUF_NONE;
	loop->active++;
	loop->stats.ops_in_use++;
	if (sock && kind != OPK_CLOSE) {
		op->snext = sock->ops;
		if (sock->ops)
			sock->ops->sprev = op;
		sock->ops = op;
		sock->nops++;
	}
	*out = op;
	return 0;
}

struct urs_op *urs__op_at(urs_loop *loop, uint32_t idx)
{
	if (idx / OP_CHUNK >= loop->nchunks)
		return NULL;
	return &loop->chunks[idx / OP_CHUNK][idx % OP_CHUNK];
}

/* Returns the op to the pool; the generation moves on so every old handle goes stale. */
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
}

/* ---------------------------------------------------------------- onto the ring */

/* Sends on an ordered connection (stream, seqpacket) go one at a time, in the order
 * issued: two sends in the kernel at once may be woken in either order. */
static bool is_ordered_send(const struct urs_op *op)
{
	return (op->kind == OPK_SEND || op->kind == OPK_SENDALL) &&
	       (op->sock->type == SOCK_STREAM || op->sock->type == SOCK_SEQPACKET);
}

/* Room for a sender's address in a multishot recvmsg buffer. */
static unsigned name_room(int family)
{
	return family == AF_INET ? sizeof(struct sockaddr_in)
	       : family == AF_INET6 ? sizeof(struct sockaddr_in6)
				     : sizeof(struct sockaddr_un);
}

static bool is_dgram(const urs_sock *s)
{
	return s->type == SOCK_DGRAM || s->type == SOCK_RAW || s->type == SOCK_RDM;
}

static bool nonblocking(const struct urs_op *op)
{
	return op->sock && op->sock->timeout_ns == 0;
}

static void finish(struct urs_op *op, int res)
{
	op->r.res = res;
	if (op->sock)
		urs__sock_op_done(op->sock, op);
	urs__future_resolve(op);
}

/* Fills the op's SQE (and its linked timeout) for the current step of the op. */
static void submit(struct urs_op *op)
{
	urs_loop *loop = op->loop;
	struct io_uring *ring = &loop->ring;
	urs_sock *sock = op->sock;
	int fd = sock ? sock->fd : -1;
	int64_t tmo = urs__op_timeout_ns(op);
	bool dontwait = false;

	/* The fallback receive takes its buffer before it goes to the kernel. */
	if ((op->kind == OPK_RECV || op->kind == OPK_RECVFROM || op->kind == OPK_RECV_STREAM ||
	     op->kind == OPK_RECVFROM_STREAM) &&
	    !(loop->features & URS_FEAT_BUF_RING) && op->bid == URS_BUF_NONE) {
		int id = urs__buf_take(loop);
		if (id < 0) {
			urs__buf_wait(loop, op);
			return;
		}
		op->bid = (uint32_t)id;
	}
	/* Two SQEs that are linked must go in one submission. */
	if (io_uring_sq_space_left(ring) < 2) {
		loop->stats.enters++;
		io_uring_submit(ring);
	}
	struct io_uring_sqe *sqe = urs__sqe(loop);
	if (!sqe) {
		finish(op, -EBUSY);
		return;
	}
	op->flags &= ~(OPF_LINKED | OPF_MULTI | OPF_TIMEDOUT);
	bool sel = loop->features & URS_FEAT_BUF_RING;
	unsigned blen = op->len < loop->buf_size ? (unsigned)op->len : loop->buf_size;
	int mf = op->msgflags;
	switch ((enum op_kind)op->kind) {
	case OPK_NOP:
		io_uring_prep_nop(sqe);
		break;
	case OPK_SLEEP:
		io_uring_prep_timeout(sqe, &op->ts, 0, 0);
		break;
	case OPK_ACCEPT:
		op->r.addr.len = sizeof(op->r.addr.u);
		io_uring_prep_accept(sqe, fd, &op->r.addr.u.sa, &op->r.addr.len, SOCK_CLOEXEC);
		break;
	case OPK_ACCEPT_STREAM:
		tmo = -1; /* a server's accept has no timeout */
		if (op->flags & OPF_BACKOFF) {
			op->ts.tv_sec = 0;
			op->ts.tv_nsec = BACKOFF_NS;
			io_uring_prep_timeout(sqe, &op->ts, 0, 0);
		} else if (loop->features & URS_FEAT_ACCEPT_MULTI) {
			io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
			op->flags |= OPF_MULTI;
		} else {
			io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
		}
		break;
	case OPK_CONNECT:
	case OPK_CONNECT_EX:
		io_uring_prep_connect(sqe, fd, &op->r.addr.u.sa, op->r.addr.len);
		break;
	case OPK_RECV_STREAM:
		if (sel && (loop->features & URS_FEAT_RECV_MULTI) && tmo < 0) {
			io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = 0;
			op->flags |= OPF_MULTI;
			break;
		}
		blen = loop->buf_size;
		__attribute__((fallthrough)); /* one chunk at a time */
	case OPK_RECV:
		dontwait = nonblocking(op);
		if (sel) {
			io_uring_prep_recv(sqe, fd, NULL, blen, dontwait ? mf | MSG_DONTWAIT : mf);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = 0;
		} else {
			io_uring_prep_recv(sqe, fd, urs__buf_addr(loop, op->bid), blen,
					   dontwait ? mf | MSG_DONTWAIT : mf);
		}
		break;
	case OPK_RECVFROM_STREAM:
		if (sel && (loop->features & URS_FEAT_RECV_MULTI) && tmo < 0) {
			/* The kernel lays out each buffer as io_uring_recvmsg_out, the name
			 * (msg_namelen bytes), then the payload. */
			memset(&op->msg, 0, sizeof(op->msg));
			op->msg.msg_namelen = name_room(sock->family);
			io_uring_prep_recvmsg_multishot(sqe, fd, &op->msg, mf);
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = 0;
			op->flags |= OPF_MULTI;
			break;
		}
		op->len = loop->buf_size;
		blen = loop->buf_size;
		goto recvmsg_once;
	case OPK_RECV_INTO:
		dontwait = nonblocking(op);
		io_uring_prep_recv(sqe, fd, (void *)op->data, (unsigned)op->len,
				   dontwait ? mf | MSG_DONTWAIT : mf);
		break;
	case OPK_RECVFROM:
	recvmsg_once:
		dontwait = nonblocking(op);
		memset(&op->msg, 0, sizeof(op->msg));
		op->msg.msg_name = &op->r.addr.u;
		op->msg.msg_namelen = sizeof(op->r.addr.u);
		op->iov.iov_base = sel ? NULL : urs__buf_addr(loop, op->bid);
		op->iov.iov_len = blen;
		op->msg.msg_iov = &op->iov;
		op->msg.msg_iovlen = 1;
		/* MSG_TRUNC makes the kernel report a datagram's real length. */
		io_uring_prep_recvmsg(sqe, fd, &op->msg, (dontwait ? mf | MSG_DONTWAIT : mf) | MSG_TRUNC);
		if (sel) {
			sqe->flags |= IOSQE_BUFFER_SELECT;
			sqe->buf_group = 0;
		}
		break;
	case OPK_SEND:
	case OPK_SENDALL: {
		dontwait = nonblocking(op);
		size_t left = op->len - op->done;
		unsigned n = left > SEND_CHUNK ? SEND_CHUNK : (unsigned)left;
		mf |= MSG_NOSIGNAL;
		/* MSG_WAITALL lets the kernel continue a short stream send itself (5.19+). */
		if (op->kind == OPK_SENDALL && sock->type == SOCK_STREAM && !dontwait)
			mf |= MSG_WAITALL;
		io_uring_prep_send(sqe, fd, op->data + op->done, n, dontwait ? mf | MSG_DONTWAIT : mf);
		break;
	}
	case OPK_SENDTO:
		dontwait = nonblocking(op);
		memset(&op->msg, 0, sizeof(op->msg));
		op->msg.msg_name = op->r.addr.len ? &op->r.addr.u : NULL;
		op->msg.msg_namelen = op->r.addr.len;
		op->iov.iov_base = (void *)op->data;
		op->iov.iov_len = op->len;
		op->msg.msg_iov = &op->iov;
		op->msg.msg_iovlen = 1;
		io_uring_prep_sendmsg(sqe, fd, &op->msg,
				      (dontwait ? mf | MSG_DONTWAIT : mf) | MSG_NOSIGNAL);
		break;
	case OPK_SHUTDOWN:
		io_uring_prep_shutdown(sqe, fd, op->msgflags);
		tmo = -1;
		break;
	case OPK_CLOSE:
		io_uring_prep_close(sqe, fd);
		tmo = -1;
		break;
	}
	sqe->user_data = urs__ud(op, UD_MAIN);
	op->kpending = 1;
	loop->inflight++;
	/* A socket timeout rides along as a linked timeout; a non-blocking socket uses
	 * MSG_DONTWAIT where the op has it and a zero timeout (try once) where not. */
	if (tmo >= 0 && !dontwait && !(op->flags & OPF_MULTI)) {
		sqe->flags |= IOSQE_IO_LINK;
		struct io_uring_sqe *t = urs__sqe(loop);
		urs__link_timeout(op, t, tmo);
		t->user_data = urs__ud(op, UD_TIMEOUT);
		op->kpending = 2;
		op->flags |= OPF_LINKED;
		loop->inflight++;
	}
}

urs_future urs__op_start(struct urs_op *op)
{
	urs_future f = urs__future_of(op);
	if (op->kind == OPK_SENDALL && op->sock->timeout_ns > 0)
		op->deadline = urs__now_ns() + op->sock->timeout_ns;
	if (is_ordered_send(op)) {
		urs_sock *s = op->sock;
		if (s->sendq) {
			s->sendq_tail->next = op;
			s->sendq_tail = op;
			op->next = NULL;
			op->flags |= OPF_QUEUED;
			return f;
		}
		s->sendq = s->sendq_tail = op;
		op->next = NULL;
	}
	submit(op);
	return f;
}

void urs__op_rearm(struct urs_op *op)
{
	op->flags &= ~OPF_QUEUED;
	submit(op);
}

/* ---------------------------------------------------------------- back from the ring */

/* Turns the CQE's buffer (or the fallback buffer the op held) into the lent r->buf. */
static void take_buf(struct urs_op *op, urs_buf *b, int res, uint32_t cflags)
{
	urs_loop *loop = op->loop;
	uint32_t id = URS_BUF_NONE;
	if (cflags & IORING_CQE_F_BUFFER)
		id = cflags >> IORING_CQE_BUFFER_SHIFT;
	else if (op->bid != URS_BUF_NONE)
		id = op->bid;
	op->bid = URS_BUF_NONE;
	b->id = URS_BUF_NONE;
	b->data = NULL;
	b->len = 0;
	b->loop = loop;
	if (id == URS_BUF_NONE)
		return;
	if (res <= 0) {
		urs__buf_put(loop, id);
		return;
	}
	uint32_t len = (uint32_t)res;
	if (len > loop->buf_size)
		len = loop->buf_size;
	urs__buf_lend(loop, b, id, len);
}

/* A multishot recvmsg buffer: header, name, payload. The lent view starts at the payload;
 * the whole buffer goes back on release (by id). */
static void take_msg(struct urs_op *op, urs_result *r, int res, uint32_t cflags)
{
	urs_loop *loop = op->loop;
	r->buf.id = URS_BUF_NONE;
	r->buf.loop = loop;
	if (!(cflags & IORING_CQE_F_BUFFER))
		return;
	uint32_t id = cflags >> IORING_CQE_BUFFER_SHIFT;
	char *base = urs__buf_addr(loop, id);
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(base, res, &op->msg);
	if (!o) {
		urs__buf_put(loop, id);
		r->res = -EMSGSIZE;
		return;
	}
	socklen_t nl = o->namelen < op->msg.msg_namelen ? o->namelen : op->msg.msg_namelen;
	memcpy(&r->addr.u, io_uring_recvmsg_name(o), nl);
	r->addr.len = nl;
	unsigned plen = io_uring_recvmsg_payload_length(o, res, &op->msg);
	urs__buf_lend(loop, &r->buf, id, 0);
	r->buf.data = io_uring_recvmsg_payload(o, &op->msg);
	r->buf.len = plen;
	r->res = (int)o->payloadlen;
	if (o->flags & MSG_TRUNC)
		r->flags |= URS_RES_TRUNC;
}

static void event_chunk(struct urs_op *op, int res, uint32_t cflags)
{
	urs_result r;
	memset(&r, 0, sizeof(r));
	r.res = res;
	r.flags = URS_RES_MORE;
	if (op->kind == OPK_RECVFROM_STREAM && (op->flags & OPF_MULTI)) {
		take_msg(op, &r, res, cflags);
	} else {
		take_buf(op, &r.buf, res, cflags);
		if (op->kind == OPK_RECVFROM_STREAM) {
			r.addr = op->r.addr;
			r.addr.len = op->msg.msg_namelen;
			if ((size_t)res > op->iov.iov_len) {
				r.flags |= URS_RES_TRUNC;
				r.buf.len = (uint32_t)op->iov.iov_len;
			}
		}
	}
	urs__event(op, &r);
}

static void event_conn(struct urs_op *op, int res)
{
	urs_result r;
	memset(&r, 0, sizeof(r));
	r.flags = URS_RES_MORE;
	r.buf.id = URS_BUF_NONE;
	r.res = res < 0 ? res : 0;
	if (res >= 0) {
		urs_sock *l = op->sock;
		r.sock = urs__sock_new(op->loop, res, l->family, l->type, l->proto);
		if (!r.sock) {
			close(res);
			r.res = -ENOMEM;
		} else {
			/* Multishot accept shares one address buffer between connections, so the
			 * peer comes from getpeername instead. */
			r.addr.len = sizeof(r.addr.u);
			if (getpeername(res, &r.addr.u.sa, &r.addr.len) < 0)
				r.addr.len = 0;
		}
	}
	urs__event(op, &r);
}

/* A stream goes on: its request goes back to the kernel (counted when the kernel had
 * ended a multishot one). */
static void stream_rearm(struct urs_op *op)
{
	if (op->flags & OPF_MULTI)
		op->loop->stats.rearms++;
	submit(op);
}

/* What the op does once the kernel owes it nothing more for its current submission. */
static void step(struct urs_op *op)
{
	urs_loop *loop = op->loop;
	int res = op->res;
	bool cancel = op->flags & OPF_CANCEL;
	bool timedout = op->flags & OPF_TIMEDOUT;

	switch ((enum op_kind)op->kind) {
	case OPK_RECV:
	case OPK_RECVFROM:
		if (res == -ENOBUFS && !cancel && !timedout) {
			urs__buf_wait(loop, op);
			return;
		}
		if (op->kind == OPK_RECVFROM && res >= 0) {
			op->r.addr.len = op->msg.msg_namelen;
			if ((size_t)res > op->iov.iov_len && op->sock->type != SOCK_STREAM)
				op->r.flags |= URS_RES_TRUNC;
		}
		take_buf(op, &op->r.buf, res, op->cflags);
		if (res > 0 && op->r.buf.len > op->len)
			op->r.buf.len = (uint32_t)op->len;
		break;
	case OPK_RECV_STREAM:
	case OPK_RECVFROM_STREAM:
		/* On a datagram socket 0 bytes is an empty datagram, not the end. */
		if (res > 0 || (res == 0 && is_dgram(op->sock))) {
			event_chunk(op, res, op->cflags);
			if (op->state == OP_ACTIVE && !(op->flags & OPF_CANCEL)) {
				stream_rearm(op);
				return;
			}
			res = -ECANCELED;
			break;
		}
		take_buf(op, &op->r.buf, res, op->cflags);
		if (res == -ENOBUFS && !cancel) {
			if (op->flags & OPF_MULTI)
				loop->stats.rearms++;
			urs__buf_wait(loop, op);
			return;
		}
		if (res == -EINVAL && (op->flags & OPF_MULTI) && !cancel) {
			loop->features &= ~URS_FEAT_RECV_MULTI; /* fall back by trying */
			submit(op);
			return;
		}
		break;
	case OPK_ACCEPT_STREAM:
		if (op->flags & OPF_BACKOFF) {
			op->flags &= ~OPF_BACKOFF;
			if (!cancel) {
				submit(op);
				return;
			}
			res = -ECANCELED;
			break;
		}
		if (res >= 0) {
			event_conn(op, res);
			if (!(op->flags & OPF_CANCEL)) {
				stream_rearm(op);
				return;
			}
			res = -ECANCELED;
			break;
		}
		if (cancel)
			break;
		if (res == -EINVAL && (op->flags & OPF_MULTI)) {
			loop->features &= ~URS_FEAT_ACCEPT_MULTI;
			submit(op);
			return;
		}
		if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
			/* Out of fds: tell the server, wait a little, try again, never spin. */
			event_conn(op, res);
			if (op->flags & OPF_CANCEL) {
				res = -ECANCELED;
				break;
			}
			op->flags |= OPF_BACKOFF;
			submit(op);
			return;
		}
		if (res == -ECONNABORTED || res == -EINTR || res == -EAGAIN || res == -EPROTO ||
		    res == -EPERM) {
			submit(op); /* this connection failed, the listener did not */
			return;
		}
		break;
	case OPK_SEND:
	case OPK_SENDALL:
	case OPK_SENDTO:
		if (res > 0)
			op->done += (size_t)res;
		if (op->kind == OPK_SENDALL) {
			op->r.sent = op->done;
			if (res >= 0 && op->done < op->len && !cancel && !timedout) {
				submit(op);
				return;
			}
			if (op->done == op->len)
				res = 0;
			else if (res >= 0)
				res = cancel ? -ECANCELED : -ETIMEDOUT;
		}
		break;
	case OPK_ACCEPT:
		if (res >= 0) {
			urs_sock *l = op->sock;
			op->r.sock = urs__sock_new(loop, res, l->family, l->type, l->proto);
			if (!op->r.sock) {
				close(res);
				res = -ENOMEM;
			} else {
				res = 0;
			}
		}
		break;
	case OPK_SLEEP:
		if (res == -ETIME)
			res = 0; /* the timer ran out: that is a sleep's success */
		break;
	case OPK_NOP:
	case OPK_CONNECT:
	case OPK_CONNECT_EX:
	case OPK_RECV_INTO:
	case OPK_SHUTDOWN:
	case OPK_CLOSE:
		break;
	}
	if (res == -ECANCELED && timedout && !cancel) {
		if (nonblocking(op))
			res = op->kind == OPK_CONNECT || op->kind == OPK_CONNECT_EX ? -EINPROGRESS
											 : -EAGAIN;
		else
			res = -ETIMEDOUT;
	} else if (res == -ETIME && timedout) {
		res = -ETIMEDOUT;
	} else if (cancel && res < 0 && op->kind != OPK_CLOSE) {
		res = -ECANCELED;
	}
	if (op->kind == OPK_CONNECT_EX)
		res = res < 0 ? -res : 0;
	finish(op, res);
}

void urs__op_cqe(urs_loop *loop, uint64_t ud, int res, uint32_t cflags)
{
	unsigned part = ud & 3;
	if (!(cflags & IORING_CQE_F_MORE))
		loop->inflight--;
	if (part == UD_IGNORE)
		return;
	struct urs_op *op = urs__op_at(loop, (uint32_t)(ud >> 2) & 0x3fffffff);
	if (!op || op->state != OP_ACTIVE || op->gen != (int32_t)(ud >> 32) || !op->kpending) {
		loop->stats.stale_cqes++;
		return;
	}
	if (part == UD_TIMEOUT) {
		if (res == -ETIME)
			op->flags |= OPF_TIMEDOUT;
	} else if (cflags & IORING_CQE_F_MORE) {
		/* A multishot event: the request stays armed. */
		if (op->kind == OPK_RECV_STREAM || op->kind == OPK_RECVFROM_STREAM)
			event_chunk(op, res, cflags);
		else
			event_conn(op, res);
		return;
	} else {
		op->res = res;
		op->cflags = cflags;
	}
	if (--op->kpending == 0)
		step(op);
}

/* ---------------------------------------------------------------- cancel */

void urs__op_cancel(struct urs_op *op)
{
	urs_loop *loop = op->loop;
	if (op->state != OP_ACTIVE || (op->flags & OPF_READY))
		return;
	op->flags |= OPF_CANCEL;
	if (op->flags & OPF_QUEUED) {
		/* Never reached the kernel: resolve it ourselves, at the next run. */
		op->flags &= ~OPF_QUEUED;
		if (!urs__buf_unwait(loop, op) && op->sock) {
			urs_sock *s = op->sock;
			for (struct urs_op **pp = &s->sendq; *pp; pp = &(*pp)->next)
				if (*pp == op) {
					*pp = op->next;
					if (s->sendq_tail == op) {
						s->sendq_tail = s->sendq;
						while (s->sendq_tail && s->sendq_tail->next)
							s->sendq_tail = s->sendq_tail->next;
					}
					break;
				}
		}
		if (op->bid != URS_BUF_NONE) {
			urs__buf_put(loop, op->bid);
			op->bid = URS_BUF_NONE;
		}
		op->r.res = op->kind == OPK_SENDALL && op->done ? -ECANCELED : -ECANCELED;
		op->r.sent = op->done;
		if (op->sock)
			urs__sock_op_done(op->sock, op);
		urs__ready_push(loop, op);
		return;
	}
	if (op->kpending) {
		struct io_uring_sqe *sqe = urs__sqe(loop);
		if (!sqe)
			return;
		io_uring_prep_cancel64(sqe, urs__ud(op, UD_MAIN), 0);
		sqe->user_data = UD_IGNORE;
		loop->inflight++;
	}
	/* Otherwise it is a close waiting for its socket's ops: it resolves when they have. */
}

/* ---------------------------------------------------------------- sync ops */

/* bind/listen/socket as ring ops: only when the loop is idle, so that the one CQE that
 * comes back is this op's and no callback runs inside a sync call. */
struct io_uring_sqe *urs__sync_sqe(urs_loop *loop)
{
	if (loop->depth || loop->active || loop->inflight || loop->ready ||
	    io_uring_cq_ready(&loop->ring) || io_uring_sq_ready(&loop->ring))
		return NULL;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	if (sqe)
		sqe->user_data = UD_IGNORE;
	return sqe;
}

int urs__sync_wait(urs_loop *loop)
{
	struct io_uring_cqe *cqe;
	loop->stats.enters++;
	int ret = io_uring_submit_and_wait(&loop->ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_peek_cqe(&loop->ring, &cqe);
	if (ret < 0)
		return ret;
	int res = cqe->res;
	io_uring_cqe_seen(&loop->ring, cqe);
	return res;
}
