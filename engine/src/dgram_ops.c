/* SPDX-License-Identifier: MIT */
/* Datagram ops: recvfrom (one message with its sender), the stream of them (multishot
 * recvmsg), and sendto. Used by UDP, raw, Unix datagram — and by seqpacket receives,
 * because a message is what they carry: a message longer than the buffer is flagged
 * URS_RES_TRUNC, never silently cut. */
#include "internal.h"

#include <string.h>
#include <sys/epoll.h>

static int dg_flags(const struct urs_op *op, int mf)
{
	return urs__op_nonblocking(op) ? mf | MSG_DONTWAIT : mf;
}

/* One recvmsg into a provided buffer (or the one claimed without a ring), the sender into
 * op->addr; MSG_TRUNC makes the kernel report the message's real length. */
static void msg_once(struct urs_op *op, unsigned len)
{
	struct urs_opm *m = urs__op_m(op);
	urs_loop *loop = urs__op_loop(op);
	memset(&m->msg, 0, sizeof(m->msg));
	m->msg.msg_name = &m->addr.u;
	m->msg.msg_namelen = sizeof(m->addr.u);
	m->iov.iov_base = urs__buf_select(op) ? NULL : urs__buf_addr(loop, op->bid);
	m->iov.iov_len = len;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
}

/* epoll: the same recvmsg, now, into the buffer the op claimed. */
static int recvmsg_now(struct urs_op *op, unsigned len, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	msg_once(op, len);
	int res = urs__sys((int)recvmsg(op->sock->fd, &m->msg,
					x->msgflags | MSG_TRUNC | MSG_DONTWAIT));
	if (res == -EAGAIN)
		return urs__rd_shut_end(op, want);
	return res;
}

static void prep_recvmsg_once(struct urs_op *op, struct io_uring_sqe *sqe, unsigned len)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	bool sel = urs__buf_select(op);
	msg_once(op, len);
	io_uring_prep_recvmsg(sqe, op->sock->fd, &m->msg, dg_flags(op, x->msgflags) | MSG_TRUNC);
	if (sel) {
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = op->bgroup;
	}
}

/* res bytes of a message arrived in the op's buffer: keep what fits and say if it was cut. */
static int take_once(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opm *m = urs__op_m(op);
	unsigned keep = (unsigned)m->iov.iov_len;
	m->addr.len = m->msg.msg_namelen;
	urs__buf_take(op, res, cflags, keep);
	if (res > (int)keep || (m->msg.msg_flags & MSG_TRUNC)) {
		op->rflags |= URS_RES_TRUNC;
		return res > (int)keep ? (int)keep : res;
	}
	return res;
}

/* ---------------------------------------------------------------- recvfrom */

static unsigned want(const struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	uint32_t room = urs__buf_room(op);
	return x->len < room ? (unsigned)x->len : room;
}

static int recvfrom_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	prep_recvmsg_once(op, sqe, want(op));
	return 0;
}

static enum op_next recvfrom_complete(struct urs_op *op, int res, unsigned cflags)
{
	if (res == -ENOBUFS && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT)))
		return urs__buf_wait(op);
	if (res < 0) {
		urs__buf_take(op, res, cflags, 0);
		op->res = res;
		return NEXT_DECIDE;
	}
	op->res = take_once(op, res, cflags);
	return NEXT_DECIDE;
}

static int recvfrom_exec(struct urs_op *op, uint32_t *wait)
{
	return recvmsg_now(op, want(op), wait);
}

const struct urs_op_kind urs__kind_recvfrom = {
	.name = "recvfrom",
	.flags = KF_SOCK | KF_TIMEOUT | KF_BUF | KF_PEER | KF_RETRY | KF_X | KF_M,
	.prepare = recvfrom_prepare,
	.exec = recvfrom_exec,
	.complete = recvfrom_complete,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- recvfrom_into */

/* One recvmsg into the caller's memory, with the sender. On a byte stream MSG_TRUNC would
 * discard bytes, so only message sockets ask the kernel for the real length. */
static void into_msg(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	memset(&m->msg, 0, sizeof(m->msg));
	m->msg.msg_name = &m->addr.u;
	m->msg.msg_namelen = sizeof(m->addr.u);
	m->iov.iov_base = (void *)x->data;
	m->iov.iov_len = x->len;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
}

static int into_flags(const struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	return x->msgflags | (op->sock->type == SOCK_STREAM ? 0 : MSG_TRUNC);
}

static int recvfrom_into_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opm *m = urs__op_m(op);
	into_msg(op);
	io_uring_prep_recvmsg(sqe, op->sock->fd, &m->msg, (unsigned)dg_flags(op, into_flags(op)));
	return 0;
}

static int recvfrom_into_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opm *m = urs__op_m(op);
	into_msg(op);
	int res = urs__sys((int)recvmsg(op->sock->fd, &m->msg, into_flags(op) | MSG_DONTWAIT));
	if (res == -EAGAIN)
		*want = EPOLLIN;
	return res;
}

static enum op_next recvfrom_into_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	(void)cflags;
	if (res >= 0) {
		m->addr.len = m->msg.msg_namelen <= sizeof(m->addr.u) ? m->msg.msg_namelen : 0;
		if (res > (int)x->len || (m->msg.msg_flags & MSG_TRUNC)) {
			op->rflags |= URS_RES_TRUNC;
			if (res > (int)x->len)
				res = (int)x->len;
		}
	}
	op->res = res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_recvfrom_into = {
	.name = "recvfrom_into",
	.flags = KF_SOCK | KF_TIMEOUT | KF_PEER | KF_RETRY | KF_X | KF_M,
	.prepare = recvfrom_into_prepare,
	.exec = recvfrom_into_exec,
	.complete = recvfrom_into_complete,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- recvfrom stream */

/* Room for a sender's address in a multishot recvmsg buffer; none on a connected
 * seqpacket socket, whose sender is always its peer, so the payload gets that room. */
static unsigned name_room(const urs_sock *s)
{
	if (s->type == SOCK_SEQPACKET)
		return 0;
	return s->family == AF_INET ? sizeof(struct sockaddr_in)
	       : s->family == AF_INET6 ? sizeof(struct sockaddr_in6)
					: sizeof(struct sockaddr_un);
}

/* Multishot recvmsg for datagrams only: at a seqpacket socket's end it keeps posting empty
 * messages instead of ending, so seqpacket takes one recvmsg per message, where 0 is EOF. */
static bool use_multi(const struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	urs_loop *loop = urs__op_loop(op);
	return (loop->features & URS_FEAT_RECV_MULTI) && urs__buf_select(op) && !x->deadline &&
	       !urs__op_nonblocking(op) && urs__sock_dgram(op->sock) && !op->sock->rd_shut;
}

static int rstream_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	if (use_multi(op)) {
		/* The kernel lays out each buffer as io_uring_recvmsg_out, the name
		 * (msg_namelen bytes), then the payload; the flags carry MSG_TRUNC. */
		memset(&m->msg, 0, sizeof(m->msg));
		m->msg.msg_namelen = name_room(op->sock);
		io_uring_prep_recvmsg_multishot(sqe, op->sock->fd, &m->msg, x->msgflags | MSG_TRUNC);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = op->bgroup;
		op->flags |= OPF_MULTI;
		return 0;
	}
	prep_recvmsg_once(op, sqe, urs__buf_room(op));
	return 0;
}

static void deliver(struct urs_op *op, urs_result *r)
{
	if (op->bid != URS_BUF_NONE) {
		urs__buf_lend_op(op, &r->buf);
	}
	urs__event(op, r);
}

static void event_init(struct urs_op *op, urs_result *r)
{
	memset(r, 0, sizeof(*r));
	r->flags = URS_RES_MORE;
	r->buf.id = URS_BUF_NONE;
	r->buf.loop = urs__op_loop(op);
}

/* A multishot buffer: header, name, payload. The lent view starts at the payload; the
 * whole buffer goes back on release (by id). */
static void multi_event(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	urs_result r;
	event_init(op, &r);
	urs__buf_take(op, res, cflags, urs__buf_room(op));
	if (op->bid == URS_BUF_NONE) {
		r.res = res < 0 ? res : -EMSGSIZE;
		urs__event(op, &r);
		return;
	}
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(x->bdata, res, &m->msg);
	if (!o) {
		uint32_t id = op->bid;
		op->bid = URS_BUF_NONE;
		urs__buf_back(urs__op_loop(op), id);
		r.res = -EMSGSIZE;
		urs__event(op, &r);
		return;
	}
	socklen_t nl = o->namelen < m->msg.msg_namelen ? o->namelen : m->msg.msg_namelen;
	memcpy(&r.addr.u, io_uring_recvmsg_name(o), nl);
	r.addr.len = nl;
	x->bdata = io_uring_recvmsg_payload(o, &m->msg);
	x->blen = io_uring_recvmsg_payload_length(o, res, &m->msg);
	r.res = (int)x->blen;
	if ((o->flags & MSG_TRUNC) || o->payloadlen > x->blen)
		r.flags |= URS_RES_TRUNC;
	deliver(op, &r);
}

static void once_event(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opm *m = urs__op_m(op);
	urs_result r;
	event_init(op, &r);
	r.res = take_once(op, res, cflags);
	r.flags |= op->rflags & URS_RES_TRUNC;
	op->rflags = 0;
	r.addr = m->addr;
	deliver(op, &r);
}

static void rstream_event(struct urs_op *op, int res, unsigned cflags)
{
	multi_event(op, res, cflags);
}

static enum op_next rstream_complete(struct urs_op *op, int res, unsigned cflags)
{
	urs_sock *s = op->sock;
	bool multi = op->flags & OPF_MULTI;
	/* Ended by its socket's SHUT_RD (urs__op_rearm): it goes on as single receives. */
	if (multi && res == -ECANCELED && s->rd_shut && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT)))
		return NEXT_AGAIN;
	/* On a datagram socket 0 bytes is an empty datagram — unless its reading was shut
	 * (SHUT_RD), after which every receive answers 0 at once: the end; on seqpacket it is
	 * the end. */
	bool message = res > 0 || (res == 0 && urs__sock_dgram(s) && !multi && !s->rd_shut);
	if (message) {
		if (multi)
			multi_event(op, res, cflags);
		else
			once_event(op, res, cflags);
		if (op->flags & OPF_CANCEL) {
			op->res = -ECANCELED;
			return NEXT_DECIDE;
		}
		if (multi)
			urs__op_loop(op)->stats.rearms++;
		urs__deadline_set(op);
		return NEXT_AGAIN;
	}
	urs__buf_take(op, res, cflags, 0);
	if (res == -ENOBUFS && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT))) {
		if (multi)
			urs__op_loop(op)->stats.rearms++;
		return urs__buf_wait(op);
	}
	op->res = res;
	return NEXT_DECIDE;
}

static int rstream_exec(struct urs_op *op, uint32_t *want)
{
	return recvmsg_now(op, urs__buf_room(op), want);
}

const struct urs_op_kind urs__kind_recvfrom_stream = {
	.name = "recvfrom_stream",
	.flags = KF_SOCK | KF_TIMEOUT | KF_BUF | KF_STREAM | KF_RETRY | KF_X | KF_M | KF_OWN,
	.prepare = rstream_prepare,
	.exec = rstream_exec,
	.event = rstream_event,
	.complete = rstream_complete,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- sendto */

static void msg_to(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	memset(&m->msg, 0, sizeof(m->msg));
	m->msg.msg_name = m->addr.len ? &m->addr.u : NULL;
	m->msg.msg_namelen = m->addr.len;
	m->iov.iov_base = (void *)x->data;
	m->iov.iov_len = x->len;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
}

static int sendto_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	msg_to(op);
	int res = urs__sys((int)sendmsg(op->sock->fd, &m->msg,
					x->msgflags | MSG_NOSIGNAL | MSG_DONTWAIT));
	if (res == -EAGAIN)
		*want = EPOLLOUT;
	return res;
}

static int sendto_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	int mf = dg_flags(op, x->msgflags) | MSG_NOSIGNAL;
	/* A datagram is one step: x->len is at most INT_MAX (send_buf). */
	if (m->addr.len && urs__sendbuf_prep_to(op, sqe, x->data, (unsigned)x->len, mf, &m->addr))
		return 0;
	msg_to(op);
	io_uring_prep_sendmsg(sqe, op->sock->fd, &m->msg, mf);
	return 0;
}

static enum op_next sendto_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	(void)cflags;
	if (urs__sendbuf_zc_refused(op, res))
		return NEXT_AGAIN; /* nothing went: again as a plain send */
	if (res > 0)
		x->done = (size_t)res;
	urs__ordered_sent(op, res);
	op->res = res;
	return NEXT_DECIDE;
}

/* On a connected stream or seqpacket socket a sendto is one more send of the stream: it
 * takes its turn in the ordered queue like the others. */
const struct urs_op_kind urs__kind_sendto = {
	.name = "sendto",
	.flags = KF_SOCK | KF_TIMEOUT | KF_ORDERED | KF_RETRY | KF_X | KF_M | KF_SEND,
	.start = urs__ordered_start,
	.prepare = sendto_prepare,
	.exec = sendto_exec,
	.complete = sendto_complete,
	.decided = urs__ordered_decided,
	.retire = urs__sock_retire,
};
