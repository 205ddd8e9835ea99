/* SPDX-License-Identifier: MIT */
/* The socket API (hop 1 of the request path): check the socket and the arguments, take an
 * op from the pool, start it. Sync methods (socket, bind, listen, getsockname...) live here
 * too; the socket's lifetime (close, free) is sock.c's. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- making sockets */

static int own(urs_loop *loop, int fd, int family, int type, int proto, urs_sock **out)
{
	int err = 0;
	*out = urs__sock_new(loop, fd, family, type, proto, &err);
	if (!*out) {
		close(fd);
		return err;
	}
	return 0;
}

URS_API int urs_socket(urs_loop *loop, int family, int type, int proto, urs_sock **out)
{
	if (!loop || !out)
		return -EINVAL;
	*out = NULL;
	if (!urs__mine(loop))
		return -EXDEV;
	if (type & SOCK_NONBLOCK)
		return -EINVAL; /* ring-driven fds stay blocking: use urs_setblocking */
	int base = type & ~SOCK_CLOEXEC;
	int fd;
	struct io_uring_sqe *sqe = (loop->features & URS_FEAT_OP_SOCKET) ? urs__sync_sqe(loop) : NULL;
	if (sqe) {
		io_uring_prep_socket(sqe, family, base | SOCK_CLOEXEC, proto, 0);
		fd = urs__sync_wait(loop);
	} else {
		fd = urs__sys(socket(family, base | SOCK_CLOEXEC, proto));
	}
	if (fd < 0)
		return fd;
	return own(loop, fd, family, base, proto, out);
}

URS_API int urs_sock_adopt(urs_loop *loop, int fd, urs_sock **out)
{
	if (!loop || !out || fd < 0)
		return -EINVAL;
	*out = NULL;
	if (!urs__mine(loop))
		return -EXDEV;
	int family, type, proto;
	socklen_t l = sizeof(int);
	int ret = urs__sys(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &l));
	l = sizeof(int);
	if (ret == 0)
		ret = urs__sys(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l));
	l = sizeof(int);
	if (ret == 0)
		ret = urs__sys(getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l));
	if (ret < 0)
		return ret;
	int err = 0;
	*out = urs__sock_new(loop, fd, family, type, proto, &err);
	if (!*out)
		return err; /* on failure the fd stays the caller's */
	urs__sock_adopted(*out);
	return 0;
}

URS_API int urs_socketpair(urs_loop *loop, int type, urs_sock *out[2])
{
	if (!loop || !out || (type & SOCK_NONBLOCK))
		return -EINVAL;
	out[0] = out[1] = NULL;
	if (!urs__mine(loop))
		return -EXDEV;
	int fds[2];
	int base = type & ~SOCK_CLOEXEC;
	int ret = urs__sys(socketpair(AF_UNIX, base | SOCK_CLOEXEC, 0, fds));
	if (ret < 0)
		return ret;
	ret = own(loop, fds[0], AF_UNIX, base, 0, &out[0]);
	if (ret < 0) {
		close(fds[1]);
		return ret;
	}
	ret = own(loop, fds[1], AF_UNIX, base, 0, &out[1]);
	if (ret < 0) {
		urs_sock_free(out[0]);
		out[0] = NULL;
		return ret;
	}
	return 0;
}

/* ---------------------------------------------------------------- sync methods */

URS_API int urs_bind(urs_sock *s, const urs_addr *a)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return ret;
	if ((ret = urs__addr_check(s, a)) < 0)
		return ret;
	struct io_uring_sqe *sqe =
		(s->loop->features & URS_FEAT_OP_BIND) ? urs__sync_sqe(s->loop) : NULL;
	if (sqe) {
		io_uring_prep_rw(IORING_OP_BIND, sqe, s->fd, &a->u, 0, a->len);
		return urs__sync_wait(s->loop);
	}
	return urs__sys(bind(s->fd, &a->u.sa, a->len));
}

URS_API int urs_listen(urs_sock *s, int backlog)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return ret;
	if (backlog < 0)
		backlog = 0;
	struct io_uring_sqe *sqe =
		(s->loop->features & URS_FEAT_OP_LISTEN) ? urs__sync_sqe(s->loop) : NULL;
	if (sqe) {
		io_uring_prep_rw(IORING_OP_LISTEN, sqe, s->fd, NULL, (unsigned)backlog, 0);
		return urs__sync_wait(s->loop);
	}
	return urs__sys(listen(s->fd, backlog));
}

static int name_of(const urs_sock *s, urs_addr *out, bool peer)
{
	int ret = urs__sock_check(s);
	if (ret < 0 || !out)
		return ret < 0 ? ret : -EINVAL;
	memset(out, 0, sizeof(*out));
	out->len = sizeof(out->u);
	return peer ? urs__sys(getpeername(s->fd, &out->u.sa, &out->len))
		    : urs__sys(getsockname(s->fd, &out->u.sa, &out->len));
}

URS_API int urs_getpeername(const urs_sock *s, urs_addr *out) { return name_of(s, out, true); }
URS_API int urs_getsockname(const urs_sock *s, urs_addr *out) { return name_of(s, out, false); }

URS_API int urs_fileno(const urs_sock *s)
{
	int ret = urs__sock_check(s);
	return ret < 0 ? ret : s->fd;
}

URS_API int urs_sock_family(const urs_sock *s) { return s ? s->family : -EINVAL; }
URS_API int urs_sock_type(const urs_sock *s) { return s ? s->type : -EINVAL; }

URS_API int urs_setsockopt(urs_sock *s, int level, int name, const void *val, socklen_t len)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return ret;
	return urs__sys(setsockopt(s->fd, level, name, val, len));
}

URS_API int urs_getsockopt(const urs_sock *s, int level, int name, void *val, socklen_t *len)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return ret;
	return urs__sys(getsockopt(s->fd, level, name, val, len));
}

/* ---------------------------------------------------------------- async methods */

/* Every async method ends here: take an op, fill it, start it. data/len are the buffer (or
 * a receive size), flags the msg flags (shutdown: how), addr the target or NULL; cb makes
 * it a stream with that callback. */
/* Starts an op of kind on s. bid: a buffer the op holds from the start (a send from a
 * buffer), or URS_BUF_NONE; a call that fails here gives it back. */
static urs_future start_op(urs_sock *s, enum op_kind kind, const void *data, size_t len,
			   int flags, const urs_addr *addr, urs_cb cb, void *user, uint32_t bid);

static urs_future start_io(urs_sock *s, enum op_kind kind, const void *data, size_t len,
			   int flags, const urs_addr *addr, urs_cb cb, void *user)
{
	return start_op(s, kind, data, len, flags, addr, cb, user, URS_BUF_NONE);
}

static urs_future start_op(urs_sock *s, enum op_kind kind, const void *data, size_t len,
			   int flags, const urs_addr *addr, urs_cb cb, void *user, uint32_t bid)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return urs__future_err(ret);
	/* A receive that may want more than the loop's buffer size on a message socket takes
	 * a message buffer (a stream of messages always may), so a message up to 64 KiB comes
	 * whole. */
	unsigned bg = 0;
	if (urs__kinds[kind]->flags & KF_BUF) {
		bg = urs__buf_group_for(s, cb ? URS_MSG_BUF : len, flags);
		if (bg && (ret = urs__buf_group_need(s->loop, bg)) < 0)
			return urs__future_err(ret);
	}
	struct urs_op *op;
	ret = urs__op_new(s->loop, kind, s, &op);
	if (ret < 0)
		return urs__future_err(ret);
	op->bgroup = (uint8_t)bg;
	op->bid = bid;
	struct urs_opx *x = urs__op_x(op);
	if (x) {
		x->data = data;
		x->len = len;
		x->msgflags = flags;
		if (addr)
			urs__op_m(op)->addr = *addr;
	}
	if (cb) {
		op->cb = cb;
		op->user = user;
		op->flags |= OPF_BOUND;
	}
	return urs__op_start(op);
}

static bool is_conn_type(const urs_sock *s)
{
	return s->type == SOCK_STREAM || s->type == SOCK_SEQPACKET;
}

/* -EOPNOTSUPP for an op the socket's type has no use for; checked only on an open socket
 * (a closed one answers -EBADF in start_io). */
static int type_check(const urs_sock *s, bool want_conn)
{
	if (urs__sock_check(s) < 0)
		return 0;
	return is_conn_type(s) == want_conn ? 0 : -EOPNOTSUPP;
}

URS_API urs_future urs_accept(urs_sock *l)
{
	int ret = type_check(l, true);
	if (ret < 0)
		return urs__future_err(ret);
	return start_io(l, OPK_ACCEPT, NULL, 0, 0, NULL, NULL, NULL);
}

URS_API urs_future urs_accept_stream(urs_sock *l, urs_cb cb, void *user)
{
	if (!cb)
		return urs__future_err(-EINVAL);
	int ret = type_check(l, true);
	if (ret < 0)
		return urs__future_err(ret);
	return start_io(l, OPK_ACCEPT_STREAM, NULL, 0, 0, NULL, cb, user);
}

static urs_future connect_common(urs_sock *s, const urs_addr *a, enum op_kind kind)
{
	int ret = urs__sock_check(s);
	if (ret == 0)
		ret = urs__addr_check(s, a);
	if (ret < 0)
		return urs__future_err(ret);
	return start_io(s, kind, NULL, 0, 0, a, NULL, NULL);
}

URS_API urs_future urs_connect(urs_sock *s, const urs_addr *a)
{
	return connect_common(s, a, OPK_CONNECT);
}

URS_API urs_future urs_connect_ex(urs_sock *s, const urs_addr *a)
{
	return connect_common(s, a, OPK_CONNECT_EX);
}

/* A receive on a datagram or seqpacket socket is one message: MSG_WAITALL means nothing
 * there, but io_uring would go on into the next messages of a seqpacket socket until len
 * bytes came (it retries a short MSG_WAITALL receive as on a stream), gluing them into one
 * "message" and cutting the last. */
static int recv_flags(const urs_sock *s, int flags)
{
	return s && s->type != SOCK_STREAM ? flags & ~MSG_WAITALL : flags;
}

URS_API urs_future urs_recv(urs_sock *s, size_t bufsize, int flags)
{
	if (bufsize == 0 || bufsize > INT_MAX)
		return urs__future_err(-EINVAL);
	return start_io(s, OPK_RECV, NULL, bufsize, recv_flags(s, flags), NULL, NULL, NULL);
}

URS_API urs_future urs_recv_into(urs_sock *s, void *data, size_t len, int flags)
{
	if (!data || len == 0 || len > INT_MAX)
		return urs__future_err(-EINVAL);
	return start_io(s, OPK_RECV_INTO, data, len, recv_flags(s, flags), NULL, NULL, NULL);
}

URS_API urs_future urs_recvfrom(urs_sock *s, size_t bufsize, int flags)
{
	if (bufsize == 0 || bufsize > INT_MAX)
		return urs__future_err(-EINVAL);
	if (s && urs__sock_check(s) == 0 && s->type == SOCK_STREAM)
		return urs__future_err(-EOPNOTSUPP); /* a stream has no datagrams: use urs_recv */
	return start_io(s, OPK_RECVFROM, NULL, bufsize, recv_flags(s, flags), NULL, NULL, NULL);
}

URS_API urs_future urs_recvfrom_into(urs_sock *s, void *data, size_t len, int flags)
{
	if (!data || len == 0 || len > INT_MAX)
		return urs__future_err(-EINVAL);
	return start_io(s, OPK_RECVFROM_INTO, data, len, flags, NULL, NULL, NULL);
}

URS_API urs_future urs_recv_stream(urs_sock *s, urs_cb cb, void *user)
{
	if (!cb)
		return urs__future_err(-EINVAL);
	/* Messages (datagrams, seqpacket) keep their boundaries and truncation flag through
	 * recvmsg; only a byte stream uses plain recv. */
	bool bytes = s && s->type == SOCK_STREAM;
	return start_io(s, bytes ? OPK_RECV_STREAM : OPK_RECVFROM_STREAM, NULL, 0, 0, NULL, cb,
			user);
}

URS_API urs_future urs_recvfrom_stream(urs_sock *s, urs_cb cb, void *user)
{
	if (!cb)
		return urs__future_err(-EINVAL);
	if (s && urs__sock_check(s) == 0 && s->type == SOCK_STREAM)
		return urs__future_err(-EOPNOTSUPP);
	return start_io(s, OPK_RECVFROM_STREAM, NULL, 0, 0, NULL, cb, user);
}

static urs_future send_common(urs_sock *s, enum op_kind kind, const void *data, size_t len,
			      int flags)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return urs__future_err(ret);
	if (!data && len)
		return urs__future_err(-EFAULT);
	if (len == 0 && s->type == SOCK_STREAM)
		return urs__future_err(-EINVAL); /* nothing to send on a stream */
	if (len > (kind == OPK_SENDALL ? (size_t)SSIZE_MAX : (size_t)INT_MAX))
		return urs__future_err(-EMSGSIZE);
	return start_io(s, kind, data, len, flags, NULL, NULL, NULL);
}

URS_API urs_future urs_send(urs_sock *s, const void *data, size_t len, int flags)
{
	return send_common(s, OPK_SEND, data, len, flags);
}

URS_API urs_future urs_sendall(urs_sock *s, const void *data, size_t len, int flags)
{
	return send_common(s, OPK_SENDALL, data, len, flags);
}

URS_API urs_future urs_sendto(urs_sock *s, const void *data, size_t len, int flags,
			      const urs_addr *a)
{
	int ret = urs__sock_check(s);
	if (ret == 0)
		ret = urs__addr_check(s, a);
	if (ret == 0 && !data && len)
		ret = -EFAULT;
	if (ret == 0 && len > INT_MAX)
		ret = -EMSGSIZE;
	if (ret < 0)
		return urs__future_err(ret);
	return start_io(s, OPK_SENDTO, data, len, flags, a, NULL, NULL);
}

/* The buffer sends: take the buffer (errors about the handle change nothing), then the
 * checks and the start of the plain call; any failure from here gives the buffer back. */
static urs_future send_buf(urs_sock *s, enum op_kind kind, urs_buf *b, size_t len, int flags,
			   const urs_addr *a)
{
	uint32_t id;
	const char *data;
	int ret = urs__sendbuf_take(s, b, len, &id, &data);
	if (ret == -EMSGSIZE)
		goto give_back;
	if (ret < 0)
		return urs__future_err(ret);
	ret = urs__sock_check(s);
	if (ret == 0 && kind == OPK_SENDTO)
		ret = urs__addr_check(s, a);
	if (ret == 0 && len == 0 && s->type == SOCK_STREAM)
		ret = -EINVAL; /* nothing to send on a stream */
	if (ret == 0 && len > INT_MAX)
		ret = -EMSGSIZE;
	if (ret < 0)
		goto give_back;
	urs_future f = start_op(s, kind, data, len, flags, kind == OPK_SENDTO ? a : NULL, NULL,
				NULL, id);
	if (f.loop)
		return f; /* the op holds the buffer: back at its decision */
	ret = f.gen; /* no op was made */
give_back:
	urs__sendbuf_back(b->loop, id); /* take left b->loop */
	return urs__future_err(ret);
}

URS_API urs_future urs_send_buf(urs_sock *s, urs_buf *b, size_t len, int flags)
{
	return send_buf(s, OPK_SEND, b, len, flags, NULL);
}

URS_API urs_future urs_sendall_buf(urs_sock *s, urs_buf *b, size_t len, int flags)
{
	return send_buf(s, OPK_SENDALL, b, len, flags, NULL);
}

URS_API urs_future urs_sendto_buf(urs_sock *s, urs_buf *b, size_t len, int flags,
				  const urs_addr *a)
{
	return send_buf(s, OPK_SENDTO, b, len, flags, a);
}

URS_API urs_future urs_shutdown(urs_sock *s, int how)
{
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return urs__future_err(-EINVAL);
	return start_io(s, OPK_SHUTDOWN, NULL, 0, how, NULL, NULL, NULL);
}
