/* SPDX-License-Identifier: MIT */
/* Connection ops: accept (one, or a server's stream of them) and connect. An accepted
 * connection becomes a urs_sock at once, so it is never an fd without an owner. */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

enum { BACKOFF_NS = 20 * 1000 * 1000 };

/* The new connection's socket object; on failure the fd is closed and the error returned. */
static int adopt(struct urs_op *op, int fd, urs_sock **out)
{
	urs_sock *l = op->sock;
	int err = 0;
	*out = urs__sock_new(urs__op_loop(op), fd, l->family, l->type, l->proto, &err);
	if (!*out) {
		close(fd);
		return err;
	}
	return 0;
}

/* ---------------------------------------------------------------- accept */

static int accept_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opm *m = urs__op_m(op);
	m->addr.len = sizeof(m->addr.u);
	io_uring_prep_accept(sqe, op->sock->fd, &m->addr.u.sa, &m->addr.len, SOCK_CLOEXEC);
	return 0;
}

static int accept_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opm *m = urs__op_m(op);
	m->addr.len = sizeof(m->addr.u);
	int res = urs__sys(accept4(op->sock->fd, &m->addr.u.sa, &m->addr.len,
				   SOCK_CLOEXEC | SOCK_NONBLOCK));
	if (res == -EAGAIN)
		*want = EPOLLIN;
	return res;
}

static enum op_next accept_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opm *m = urs__op_m(op);
	(void)cflags;
	if (res >= 0)
		res = adopt(op, res, &m->newsock);
	op->res = res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_accept = {
	.name = "accept",
	.flags = KF_SOCK | KF_TIMEOUT | KF_TRY_ONCE | KF_PEER | KF_RETRY | KF_X | KF_M,
	.prepare = accept_prepare,
	.exec = accept_exec,
	.complete = accept_complete,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- accept stream */

/* op->msgflags is 1 while the next submission is the backoff timer. */
static int accept_stream_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	int fd = op->sock->fd;
	if (x->msgflags) {
		x->msgflags = 0;
		struct __kernel_timespec *ts = urs__sqe_ts(urs__op_loop(op), sqe);
		urs__ts_set(ts, BACKOFF_NS);
		io_uring_prep_timeout(sqe, ts, 0, 0);
		op->flags |= OPF_BACKOFF;
	} else if (urs__op_loop(op)->features & URS_FEAT_ACCEPT_MULTI) {
		io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
		op->flags |= OPF_MULTI;
	} else {
		io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	}
	return 0;
}

/* epoll: the backoff is a wait on the loop's heap, then accepting goes on. */
static int accept_stream_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	if (x->msgflags) {
		x->msgflags = 0;
		op->flags |= OPF_BACKOFF;
		x->deadline = urs__now_ns() + BACKOFF_NS;
		return urs__ep_again(want, URS_EP_TIMER);
	}
	int res = urs__sys(accept4(op->sock->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK));
	if (res == -EAGAIN)
		*want = EPOLLIN;
	return res;
}

/* One event: a connection (r->sock, r->addr), or an error the server should see (out of
 * fds) while accepting goes on. */
static void conn_event(struct urs_op *op, int res)
{
	urs_result r;
	memset(&r, 0, sizeof(r));
	r.flags = URS_RES_MORE;
	r.buf.id = URS_BUF_NONE;
	r.res = res < 0 ? res : 0;
	if (res >= 0) {
		r.res = adopt(op, res, &r.sock);
		/* Multishot accept shares one address buffer between connections, so the peer
		 * comes from getpeername instead. */
		r.addr.len = sizeof(r.addr.u);
		if (r.sock && getpeername(res, &r.addr.u.sa, &r.addr.len) < 0)
			r.addr.len = 0;
		if (!r.sock)
			r.addr.len = 0;
	}
	urs__event(op, &r);
}

static void accept_stream_event(struct urs_op *op, int res, unsigned cflags)
{
	(void)cflags;
	conn_event(op, res);
}

static bool is_transient(int res)
{
	/* This connection failed, not the listener: accept the next one at once. */
	return res == -ECONNABORTED || res == -EINTR || res == -EAGAIN;
}

static bool is_pressure(int res)
{
	/* Out of fds or memory, or refused by a policy: tell the server, wait a little, try
	 * again — never spin on it. */
	return res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM ||
	       res == -EPERM || res == -EPROTO;
}

static enum op_next accept_stream_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	(void)cflags;
	bool cancel = op->flags & OPF_CANCEL;
	if (op->flags & OPF_BACKOFF) {
		op->res = -ECANCELED;
		return cancel ? NEXT_DECIDE : NEXT_AGAIN;
	}
	if (res >= 0) {
		conn_event(op, res);
		if (op->flags & OPF_CANCEL) {
			op->res = -ECANCELED;
			return NEXT_DECIDE;
		}
		if (op->flags & OPF_MULTI)
			urs__op_loop(op)->stats.rearms++;
		return NEXT_AGAIN;
	}
	if (!cancel && is_transient(res))
		return NEXT_AGAIN;
	if (!cancel && is_pressure(res)) {
		conn_event(op, res);
		if (!(op->flags & OPF_CANCEL)) {
			x->msgflags = 1;
			return NEXT_AGAIN;
		}
	}
	/* Cancelled, closed, or an error of the listener itself (-EINVAL: not listening):
	 * the stream ends with it. */
	op->res = res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_accept_stream = {
	.name = "accept_stream",
	.flags = KF_SOCK | KF_STREAM | KF_RETRY | KF_X,
	.prepare = accept_stream_prepare,
	.exec = accept_stream_exec,
	.event = accept_stream_event,
	.complete = accept_stream_complete,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- connect */

/* Non-blocking (timeout 0): connect(2) itself, once, as Python's non-blocking connect — a
 * zero linked timeout could miss a connect that blocks in an io-wq worker (an AF_UNIX
 * listener with a full backlog). 0, -EINPROGRESS (TCP goes on in the background), -EAGAIN
 * (AF_UNIX backlog full) or the error. */
static bool connect_start(struct urs_op *op)
{
	struct urs_opm *m = urs__op_m(op);
	if (!urs__op_nonblocking(op))
		return true;
	int fd = op->sock->fd;
	int fl = fcntl(fd, F_GETFL);
	int res = fl < 0 ? urs__sys(fl) : urs__sys(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
	if (res == 0) {
		res = urs__sys(connect(fd, &m->addr.u.sa, m->addr.len));
		fcntl(fd, F_SETFL, fl);
	}
	urs__op_decide(op, res);
	return false;
}

static int connect_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opm *m = urs__op_m(op);
	io_uring_prep_connect(sqe, op->sock->fd, &m->addr.u.sa, m->addr.len);
	return 0;
}

/* epoll (the fd is non-blocking there): start the connect, then, once the fd is writable,
 * its outcome is SO_ERROR. An AF_UNIX listener with a full backlog says -EAGAIN, which
 * nothing will signal again: that is the result, as for a non-blocking connect. */
static int connect_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	struct urs_opm *m = urs__op_m(op);
	int fd = op->sock->fd;
	if (!x->done) {
		int res = urs__sys(connect(fd, &m->addr.u.sa, m->addr.len));
		if (res != -EINPROGRESS)
			return res;
		x->done = 1; /* in progress */
		return urs__ep_again(want, EPOLLOUT);
	}
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return urs__sys(-1);
	return -err;
}

static enum op_next connect_complete(struct urs_op *op, int res, unsigned cflags)
{
	(void)cflags;
	op->res = res;
	return NEXT_DECIDE;
}

/* A connect cut by its timeout on a non-blocking socket is in progress, as connect(2)
 * says. */
static void connect_decided(struct urs_op *op)
{
	if (op->res == -EAGAIN && (op->flags & OPF_TIMEDOUT))
		op->res = -EINPROGRESS;
}

/* Python's connect_ex: 0 or the positive errno. */
static void connect_ex_decided(struct urs_op *op)
{
	connect_decided(op);
	op->res = op->res < 0 ? -op->res : 0;
}

const struct urs_op_kind urs__kind_connect = {
	.name = "connect",
	.flags = KF_SOCK | KF_TIMEOUT | KF_X | KF_M,
	.start = connect_start,
	.prepare = connect_prepare,
	.exec = connect_exec,
	.complete = connect_complete,
	.decided = connect_decided,
	.retire = urs__sock_retire,
};

const struct urs_op_kind urs__kind_connect_ex = {
	.name = "connect_ex",
	.flags = KF_SOCK | KF_TIMEOUT | KF_X | KF_M,
	.start = connect_start,
	.prepare = connect_prepare,
	.exec = connect_exec,
	.complete = connect_complete,
	.decided = connect_ex_decided,
	.retire = urs__sock_retire,
};
