/* SPDX-License-Identifier: MIT */
/* Message ops: sendmsg (iovecs and control messages; one of the ordered sends on a stream
 * or seqpacket socket), recvmsg_into (into the caller's iovecs) and recvmsg (into a
 * provided buffer), both with control messages. The iovec array is copied at the call
 * (op->ext), so a short send can go on from where it stopped without touching the
 * caller's array. Received file descriptors are the caller's; the engine closes those
 * nobody can take: the ones in a control buffer the kernel cut (MSG_CTRUNC) and those of a
 * result that is dropped (future.c). */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

struct msgx {
	size_t iovlen;
	size_t idx;          /* sendmsg: the first iovec with bytes left */
	void *control;
	size_t controllen;
	size_t got;          /* recvmsg: bytes of control messages received */
	int flags;           /* recvmsg: msg_flags */
	struct iovec iov[];
};

static int mflags(const struct urs_op *op, int mf)
{
	return urs__op_nonblocking(op) ? mf | MSG_DONTWAIT : mf;
}

/* ---------------------------------------------------------------- sendmsg */

static void send_msg(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	struct msgx *mx = x->ext;
	memset(&m->msg, 0, sizeof(m->msg));
	m->msg.msg_name = m->addr.len ? &m->addr.u : NULL;
	m->msg.msg_namelen = m->addr.len;
	m->msg.msg_iov = mx->iov + mx->idx;
	m->msg.msg_iovlen = mx->iovlen - mx->idx;
	if (x->done == 0 && mx->controllen) { /* with the first byte only */
		m->msg.msg_control = mx->control;
		m->msg.msg_controllen = mx->controllen;
	}
}

static int send_mf(const struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	int mf = mflags(op, x->msgflags | MSG_NOSIGNAL);
	/* As urs_send: a blocking send on a stream sends everything. */
	if (op->sock->type == SOCK_STREAM && !(mf & MSG_DONTWAIT))
		mf |= MSG_WAITALL;
	return mf;
}

static int sendmsg_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opm *m = urs__op_m(op);
	send_msg(op);
	io_uring_prep_sendmsg(sqe, op->sock->fd, &m->msg, (unsigned)send_mf(op));
	return 0;
}

static int sendmsg_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	send_msg(op);
	int res = urs__sys((int)sendmsg(op->sock->fd, &m->msg,
					x->msgflags | MSG_NOSIGNAL | MSG_DONTWAIT));
	if (res == -EAGAIN)
		*want = EPOLLOUT;
	return res;
}

/* n more bytes went: the copied iovecs move on past them. */
static void advance(struct msgx *mx, size_t n)
{
	while (n && mx->idx < mx->iovlen) {
		struct iovec *v = &mx->iov[mx->idx];
		size_t k = n < v->iov_len ? n : v->iov_len;
		v->iov_base = (char *)v->iov_base + k;
		v->iov_len -= k;
		n -= k;
		if (!v->iov_len)
			mx->idx++;
	}
	while (mx->idx < mx->iovlen && !mx->iov[mx->idx].iov_len)
		mx->idx++;
}

/* As urs_send: the bytes sent, all of them on a blocking stream unless a timeout, cancel
 * or error cut it (then the count stands, as sendmsg(2)); the copied iovecs move on. */
static enum op_next sendmsg_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	if (res > 0)
		advance(x->ext, (size_t)res);
	return urs__send_complete(op, res, cflags);
}

static void msg_result(struct urs_op *op, urs_result *r)
{
	struct urs_opx *x = urs__op_x(op);
	struct msgx *mx = x->ext;
	if (!mx)
		return;
	if (op->kind != OPK_SENDMSG && op->res >= 0) {
		r->control = mx->control;
		r->controllen = mx->got;
		r->msg_flags = mx->flags;
	}
	free(mx);
	x->ext = NULL;
}

const struct urs_op_kind urs__kind_sendmsg = {
	.name = "sendmsg",
	.flags = KF_SOCK | KF_TIMEOUT | KF_ORDERED | KF_RETRY | KF_X | KF_M,
	.start = urs__ordered_start,
	.prepare = sendmsg_prepare,
	.exec = sendmsg_exec,
	.complete = sendmsg_complete,
	.decided = urs__ordered_decided,
	.retire = urs__sock_retire,
	.result = msg_result,
};

/* ---------------------------------------------------------------- recvmsg */

/* The receive's msghdr: the caller's iovecs (recvmsg_into) or one provided buffer. */
static void recv_msg(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	struct msgx *mx = x->ext;
	memset(&m->msg, 0, sizeof(m->msg));
	m->msg.msg_name = &m->addr.u;
	m->msg.msg_namelen = sizeof(m->addr.u);
	if (op->kind == OPK_RECVMSG) {
		uint32_t room = urs__buf_room(op);
		m->iov.iov_base = urs__buf_select(op) ? NULL : urs__buf_addr(urs__op_loop(op), op->bid);
		m->iov.iov_len = x->len < room ? x->len : room;
		m->msg.msg_iov = &m->iov;
		m->msg.msg_iovlen = 1;
	} else {
		m->msg.msg_iov = mx->iov;
		m->msg.msg_iovlen = mx->iovlen;
	}
	m->msg.msg_control = mx->controllen ? mx->control : NULL;
	m->msg.msg_controllen = mx->controllen;
}

static int recvmsg_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	recv_msg(op);
	io_uring_prep_recvmsg(sqe, op->sock->fd, &m->msg,
			      (unsigned)mflags(op, x->msgflags | MSG_CMSG_CLOEXEC));
	if (op->kind == OPK_RECVMSG && urs__buf_select(op)) {
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = op->bgroup;
	}
	return 0;
}

static int recvmsg_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	recv_msg(op);
	int res = urs__sys((int)recvmsg(op->sock->fd, &m->msg,
					x->msgflags | MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
	if (res == -EAGAIN)
		*want = EPOLLIN;
	return res;
}

/* What the kernel wrote back into op->msg: the sender, the control length, the flags. A
 * cut control buffer holds fds the caller cannot trust to be all of them: they are closed
 * (their slots read -1) and the cut is flagged. */
static void took(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	struct msgx *mx = x->ext;
	m->addr.len = m->msg.msg_namelen <= sizeof(m->addr.u) ? m->msg.msg_namelen : 0;
	mx->flags = m->msg.msg_flags;
	mx->got = mx->controllen && m->msg.msg_controllen <= mx->controllen ? m->msg.msg_controllen
									    : 0;
	if (mx->flags & MSG_TRUNC)
		op->rflags |= URS_RES_TRUNC;
	if (mx->flags & MSG_CTRUNC) {
		op->rflags |= URS_RES_CTRUNC;
		urs__cmsg_close_fds(mx->control, mx->got);
	}
}

static enum op_next recvmsg_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opm *m = urs__op_m(op);
	if (op->kind == OPK_RECVMSG) {
		if (res == -ENOBUFS && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT))) {
			urs__buf_take(op, res, cflags, 0);
			return urs__buf_wait(op);
		}
		urs__buf_take(op, res, cflags, (uint32_t)m->iov.iov_len);
	}
	if (res >= 0)
		took(op);
	if (op->kind == OPK_RECVMSG && res > (int)m->iov.iov_len)
		res = (int)m->iov.iov_len;
	op->res = res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_recvmsg = {
	.name = "recvmsg",
	.flags = KF_SOCK | KF_TIMEOUT | KF_BUF | KF_PEER | KF_RETRY | KF_X | KF_M,
	.prepare = recvmsg_prepare,
	.exec = recvmsg_exec,
	.complete = recvmsg_complete,
	.retire = urs__sock_retire,
	.result = msg_result,
};

const struct urs_op_kind urs__kind_recvmsg_into = {
	.name = "recvmsg_into",
	.flags = KF_SOCK | KF_TIMEOUT | KF_PEER | KF_RETRY | KF_X | KF_M,
	.prepare = recvmsg_prepare,
	.exec = recvmsg_exec,
	.complete = recvmsg_complete,
	.retire = urs__sock_retire,
	.result = msg_result,
};

/* ---------------------------------------------------------------- the calls */

static urs_future start_msg(urs_sock *s, enum op_kind kind, const struct iovec *iov,
			    size_t iovlen, void *control, size_t controllen, int flags,
			    size_t bufsize, const urs_addr *addr)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return urs__future_err(ret);
	if ((!iov && iovlen) || iovlen > IOV_MAX || (!control && controllen) ||
	    controllen > INT_MAX)
		return urs__future_err(-EINVAL);
	size_t total = 0;
	for (size_t i = 0; i < iovlen; i++) {
		if (!iov[i].iov_base && iov[i].iov_len)
			return urs__future_err(-EFAULT);
		if (iov[i].iov_len > (size_t)INT_MAX - total)
			return urs__future_err(-EMSGSIZE);
		total += iov[i].iov_len;
	}
	if (kind == OPK_SENDMSG && total == 0 && s->type == SOCK_STREAM)
		return urs__future_err(-EINVAL); /* nothing to send on a stream */
	if (kind == OPK_RECVMSG_INTO && total == 0)
		return urs__future_err(-EINVAL);
	if (kind == OPK_RECVMSG && (bufsize == 0 || bufsize > INT_MAX))
		return urs__future_err(-EINVAL);
	if (addr && (ret = urs__addr_check(s, addr)) < 0)
		return urs__future_err(ret);
	unsigned bg = 0;
	if (kind == OPK_RECVMSG) {
		bg = urs__buf_group_for(s, bufsize, flags);
		if (bg && (ret = urs__buf_group_need(s->loop, bg)) < 0)
			return urs__future_err(ret);
	}
	struct msgx *mx = malloc(sizeof(*mx) + iovlen * sizeof(struct iovec));
	if (!mx)
		return urs__future_err(-ENOMEM);
	memset(mx, 0, sizeof(*mx));
	mx->iovlen = iovlen;
	if (iovlen)
		memcpy(mx->iov, iov, iovlen * sizeof(struct iovec));
	mx->control = control;
	mx->controllen = controllen;
	advance(mx, 0); /* past leading empty iovecs */
	struct urs_op *op;
	ret = urs__op_new(s->loop, kind, s, &op);
	if (ret < 0) {
		free(mx);
		return urs__future_err(ret);
	}
	struct urs_opx *x = urs__op_x(op);
	x->ext = mx;
	op->bgroup = (uint8_t)bg;
	x->len = kind == OPK_RECVMSG ? bufsize : total;
	x->msgflags = flags;
	if (addr)
		urs__op_m(op)->addr = *addr;
	else
		urs__op_m(op)->addr.len = 0;
	return urs__op_start(op);
}

URS_API urs_future urs_sendmsg(urs_sock *s, const struct iovec *iov, size_t iovlen,
			       const void *control, size_t controllen, int flags,
			       const urs_addr *addr)
{
	return start_msg(s, OPK_SENDMSG, iov, iovlen, (void *)control, controllen, flags, 0, addr);
}

URS_API urs_future urs_recvmsg_into(urs_sock *s, const struct iovec *iov, size_t iovlen,
				    void *control, size_t controllen, int flags)
{
	return start_msg(s, OPK_RECVMSG_INTO, iov, iovlen, control, controllen, flags, 0, NULL);
}

URS_API urs_future urs_recvmsg(urs_sock *s, size_t bufsize, void *control, size_t controllen,
			       int flags)
{
	return start_msg(s, OPK_RECVMSG, NULL, 0, control, controllen, flags, bufsize, NULL);
}
