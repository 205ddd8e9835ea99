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
	struct msgx *x = op->ext;
	memset(&op->msg, 0, sizeof(op->msg));
	op->msg.msg_name = op->addr.len ? &op->addr.u : NULL;
	op->msg.msg_namelen = op->addr.len;
	op->msg.msg_iov = x->iov + x->idx;
	op->msg.msg_iovlen = x->iovlen - x->idx;
	if (op->done == 0 && x->controllen) { /* with the first byte only */
		op->msg.msg_control = x->control;
		op->msg.msg_controllen = x->controllen;
	}
}

static int send_mf(const struct urs_op *op)
{
	int mf = mflags(op, op->msgflags | MSG_NOSIGNAL);
	/* As urs_send: a blocking send on a stream sends everything. */
	if (op->sock->type == SOCK_STREAM && !(mf & MSG_DONTWAIT))
		mf |= MSG_WAITALL;
	return mf;
}

static int sendmsg_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	send_msg(op);
	io_uring_prep_sendmsg(sqe, op->sock->fd, &op->msg, (unsigned)send_mf(op));
	return 0;
}

static int sendmsg_exec(struct urs_op *op, uint32_t *want)
{
	send_msg(op);
	int res = urs__sys((int)sendmsg(op->sock->fd, &op->msg,
					op->msgflags | MSG_NOSIGNAL | MSG_DONTWAIT));
	if (res == -EAGAIN)
		*want = EPOLLOUT;
	return res;
}

/* n more bytes went: the copied iovecs move on past them. */
static void advance(struct msgx *x, size_t n)
{
	while (n && x->idx < x->iovlen) {
		struct iovec *v = &x->iov[x->idx];
		size_t k = n < v->iov_len ? n : v->iov_len;
		v->iov_base = (char *)v->iov_base + k;
		v->iov_len -= k;
		n -= k;
		if (!v->iov_len)
			x->idx++;
	}
	while (x->idx < x->iovlen && !x->iov[x->idx].iov_len)
		x->idx++;
}

/* As urs_send: the bytes sent, all of them on a blocking stream unless a timeout, cancel
 * or error cut it (then the count stands, as sendmsg(2)); the copied iovecs move on. */
static enum op_next sendmsg_complete(struct urs_op *op, int res, unsigned cflags)
{
	if (res > 0)
		advance(op->ext, (size_t)res);
	return urs__send_complete(op, res, cflags);
}

static void msg_result(struct urs_op *op, urs_result *r)
{
	struct msgx *x = op->ext;
	if (!x)
		return;
	if (op->kind != OPK_SENDMSG && op->res >= 0) {
		r->control = x->control;
		r->controllen = x->got;
		r->msg_flags = x->flags;
	}
	free(x);
	op->ext = NULL;
}

const struct urs_op_kind urs__kind_sendmsg = {
	.name = "sendmsg",
	.flags = KF_SOCK | KF_TIMEOUT | KF_ORDERED | KF_RETRY,
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
	struct msgx *x = op->ext;
	memset(&op->msg, 0, sizeof(op->msg));
	op->msg.msg_name = &op->addr.u;
	op->msg.msg_namelen = sizeof(op->addr.u);
	if (op->kind == OPK_RECVMSG) {
		uint32_t room = urs__buf_room(op);
		op->iov.iov_base = urs__buf_select(op) ? NULL : urs__buf_addr(op->loop, op->bid);
		op->iov.iov_len = op->len < room ? op->len : room;
		op->msg.msg_iov = &op->iov;
		op->msg.msg_iovlen = 1;
	} else {
		op->msg.msg_iov = x->iov;
		op->msg.msg_iovlen = x->iovlen;
	}
	op->msg.msg_control = x->controllen ? x->control : NULL;
	op->msg.msg_controllen = x->controllen;
}

static int recvmsg_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	recv_msg(op);
	io_uring_prep_recvmsg(sqe, op->sock->fd, &op->msg,
			      (unsigned)mflags(op, op->msgflags | MSG_CMSG_CLOEXEC));
	if (op->kind == OPK_RECVMSG && urs__buf_select(op)) {
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = op->bgroup;
	}
	return 0;
}

static int recvmsg_exec(struct urs_op *op, uint32_t *want)
{
	recv_msg(op);
	int res = urs__sys((int)recvmsg(op->sock->fd, &op->msg,
					op->msgflags | MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
	if (res == -EAGAIN)
		*want = EPOLLIN;
	return res;
}

/* What the kernel wrote back into op->msg: the sender, the control length, the flags. A
 * cut control buffer holds fds the caller cannot trust to be all of them: they are closed
 * (their slots read -1) and the cut is flagged. */
static void took(struct urs_op *op)
{
	struct msgx *x = op->ext;
	op->addr.len = op->msg.msg_namelen <= sizeof(op->addr.u) ? op->msg.msg_namelen : 0;
	x->flags = op->msg.msg_flags;
	x->got = x->controllen && op->msg.msg_controllen <= x->controllen ? op->msg.msg_controllen
									    : 0;
	if (x->flags & MSG_TRUNC)
		op->rflags |= URS_RES_TRUNC;
	if (x->flags & MSG_CTRUNC) {
		op->rflags |= URS_RES_CTRUNC;
		urs__cmsg_close_fds(x->control, x->got);
	}
}

static enum op_next recvmsg_complete(struct urs_op *op, int res, unsigned cflags)
{
	if (op->kind == OPK_RECVMSG) {
		if (res == -ENOBUFS && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT))) {
			urs__buf_take(op, res, cflags, 0);
			return urs__buf_wait(op);
		}
		urs__buf_take(op, res, cflags, (uint32_t)op->iov.iov_len);
	}
	if (res >= 0)
		took(op);
	if (op->kind == OPK_RECVMSG && res > (int)op->iov.iov_len)
		res = (int)op->iov.iov_len;
	op->res = res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_recvmsg = {
	.name = "recvmsg",
	.flags = KF_SOCK | KF_TIMEOUT | KF_BUF | KF_PEER | KF_RETRY,
	.prepare = recvmsg_prepare,
	.exec = recvmsg_exec,
	.complete = recvmsg_complete,
	.retire = urs__sock_retire,
	.result = msg_result,
};

const struct urs_op_kind urs__kind_recvmsg_into = {
	.name = "recvmsg_into",
	.flags = KF_SOCK | KF_TIMEOUT | KF_PEER | KF_RETRY,
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
	struct msgx *x = malloc(sizeof(*x) + iovlen * sizeof(struct iovec));
	if (!x)
		return urs__future_err(-ENOMEM);
	memset(x, 0, sizeof(*x));
	x->iovlen = iovlen;
	if (iovlen)
		memcpy(x->iov, iov, iovlen * sizeof(struct iovec));
	x->control = control;
	x->controllen = controllen;
	advance(x, 0); /* past leading empty iovecs */
	struct urs_op *op;
	ret = urs__op_new(s->loop, kind, s, &op);
	if (ret < 0) {
		free(x);
		return urs__future_err(ret);
	}
	op->ext = x;
	op->bgroup = (uint8_t)bg;
	op->len = kind == OPK_RECVMSG ? bufsize : total;
	op->msgflags = flags;
	if (addr)
		op->addr = *addr;
	else
		op->addr.len = 0;
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
