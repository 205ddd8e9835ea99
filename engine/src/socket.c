/* The socket API (hop 1 of the request path): check the socket and the arguments, take an
 * op from the pool, start it. Sync methods (bind, listen, getsockname...) live here too. */
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- objects */

urs_sock *urs__sock_new(urs_loop *loop, int fd, int family, int type, int proto)
{
	urs_sock *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->fd = fd;
	s->family = family;
	s->type = type;
	s->proto = proto;
	s->state = SOCK_OPEN;
	s->timeout_ns = -1;
	s->lnext = loop->socks;
	if (loop->socks)
		loop->socks->lprev = s;
	loop->socks = s;
	loop->stats.socks_open++;
	loop->stats.socks_alive++;
	return s;
}

/* Frees the object at once (loop teardown, or a closed socket): no op names it any more. */
void urs__sock_destroy(urs_sock *s)
{
	urs_loop *loop = s->loop;
	if (s->state != SOCK_CLOSED) {
		close(s->fd);
		loop->stats.socks_open--;
	}
	if (s->lprev)
		s->lprev->lnext = s->lnext;
	else
		loop->socks = s->lnext;
	if (s->lnext)
		s->lnext->lprev = s->lprev;
	loop->stats.socks_alive--;
	free(s);
}

/* op no longer names sock: unlink it, let the next queued send go, and start a close
 * that was waiting for the socket's ops. */
void urs__sock_op_done(urs_sock *s, struct urs_op *op)
{
	if (op->kind == OPK_CLOSE) {
		s->state = SOCK_CLOSED;
		s->fd = -1;
		s->loop->stats.socks_open--;
		s->close_op = NULL;
		op->sock = NULL;
		if (s->free_on_close && !s->files)
			urs__sock_destroy(s);
		return;
	}
	if (op->sprev)
		op->sprev->snext = op->snext;
	else if (s->ops == op)
		s->ops = op->snext;
	if (op->snext)
		op->snext->sprev = op->sprev;
	op->sprev = op->snext = NULL;
	s->nops--;
	if (s->sendq == op) {
		s->sendq = op->next;
		if (!s->sendq)
			s->sendq_tail = NULL;
		else if (s->state == SOCK_OPEN)
			urs__op_rearm(s->sendq);
	}
	if (s->close_op && s->nops == 0)
		urs__op_rearm(s->close_op);
}

static int sock_ok(const urs_sock *s)
{
	if (!s)
		return -EINVAL;
	if (s->state != SOCK_OPEN)
		return -EBADF;
	return 0;
}

URS_API int urs_socket(urs_loop *loop, int family, int type, int proto, urs_sock **out)
{
	if (!loop || !out)
		return -EINVAL;
	*out = NULL;
	if (type & (SOCK_NONBLOCK))
		return -EINVAL; /* ring-driven fds stay blocking: use urs_setblocking */
	int base = type & ~SOCK_CLOEXEC;
	int fd = -1;
	struct io_uring_sqe *sqe = (loop->features & URS_FEAT_OP_SOCKET) ? urs__sync_sqe(loop) : NULL;
	if (sqe) {
		io_uring_prep_socket(sqe, family, base | SOCK_CLOEXEC, proto, 0);
		fd = urs__sync_wait(loop);
	} else {
		fd = urs__sys(socket(family, base | SOCK_CLOEXEC, proto));
	}
	if (fd < 0)
		return fd;
	urs_sock *s = urs__sock_new(loop, fd, family, base, proto);
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	*out = s;
	return 0;
}

URS_API int urs_sock_adopt(urs_loop *loop, int fd, urs_sock **out)
{
	if (!loop || !out || fd < 0)
		return -EINVAL;
	*out = NULL;
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
	/* O_NONBLOCK on a ring-driven fd makes io_uring answer -EAGAIN instead of waiting. */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0 && (fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	urs_sock *s = urs__sock_new(loop, fd, family, type, proto);
	if (!s)
		return -ENOMEM;
	*out = s;
	return 0;
}

URS_API int urs_socketpair(urs_loop *loop, int type, urs_sock *out[2])
{
	if (!loop || !out || (type & SOCK_NONBLOCK))
		return -EINVAL;
	out[0] = out[1] = NULL;
	int fds[2];
	int base = type & ~SOCK_CLOEXEC;
	int ret = urs__sys(socketpair(AF_UNIX, base | SOCK_CLOEXEC, 0, fds));
	if (ret < 0)
		return ret;
	out[0] = urs__sock_new(loop, fds[0], AF_UNIX, base, 0);
	out[1] = out[0] ? urs__sock_new(loop, fds[1], AF_UNIX, base, 0) : NULL;
	if (!out[1]) {
		if (out[0])
			urs__sock_destroy(out[0]);
		else
			close(fds[0]);
		close(fds[1]);
		out[0] = NULL;
		return -ENOMEM;
	}
	return 0;
}

URS_API void urs_sock_free(urs_sock *s)
{
	if (!s)
		return;
	s->free_on_close = true;
	if (s->state == SOCK_CLOSED) {
		if (!s->files)
			urs__sock_destroy(s);
		return;
	}
	if (s->state == SOCK_OPEN) {
		urs_future f = urs_close(s);
		if (urs_future_error(f) == 0)
			urs_detach(f);
		else
			urs__sock_destroy(s); /* no op could be had: close it here */
	}
}

/* ---------------------------------------------------------------- sync methods */

URS_API int urs_bind(urs_sock *s, const urs_addr *a)
{
	int ret = sock_ok(s);
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
	int ret = sock_ok(s);
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

URS_API int urs_getpeername(const urs_sock *s, urs_addr *out)
{
	int ret = sock_ok(s);
	if (ret < 0 || !out)
		return ret < 0 ? ret : -EINVAL;
	memset(out, 0, sizeof(*out));
	out->len = sizeof(out->u);
	return urs__sys(getpeername(s->fd, &out->u.sa, &out->len));
}

URS_API int urs_getsockname(const urs_sock *s, urs_addr *out)
{
	int ret = sock_ok(s);
	if (ret < 0 || !out)
		return ret < 0 ? ret : -EINVAL;
	memset(out, 0, sizeof(*out));
	out->len = sizeof(out->u);
	return urs__sys(getsockname(s->fd, &out->u.sa, &out->len));
}

URS_API int urs_fileno(const urs_sock *s)
{
	int ret = sock_ok(s);
	return ret < 0 ? ret : s->fd;
}

URS_API int urs_sock_family(const urs_sock *s) { return s ? s->family : -EINVAL; }
URS_API int urs_sock_type(const urs_sock *s) { return s ? s->type : -EINVAL; }

URS_API int urs_setsockopt(urs_sock *s, int level, int name, const void *val, socklen_t len)
{
	int ret = sock_ok(s);
	if (ret < 0)
		return ret;
	return urs__sys(setsockopt(s->fd, level, name, val, len));
}

URS_API int urs_getsockopt(const urs_sock *s, int level, int name, void *val, socklen_t *len)
{
	int ret = sock_ok(s);
	if (ret < 0)
		return ret;
	return urs__sys(getsockopt(s->fd, level, name, val, len));
}

/* ---------------------------------------------------------------- async methods */

/* Every async method: check, take an op, fill it, start it. */
static urs_future start(urs_sock *s, enum op_kind kind, struct urs_op **out)
{
	int ret = sock_ok(s);
	if (ret < 0)
		return urs__future_err(ret);
	ret = urs__op_new(s->loop, kind, s, out);
	if (ret < 0)
		return urs__future_err(ret);
	return urs__future_of(*out);
}

/* Every async method with arguments ends here: take an op, fill it, start it. data/len are
 * the buffer (or a receive size), flags the msg flags (shutdown: how), addr the target or
 * NULL. */
static urs_future start_io(urs_sock *s, enum op_kind kind, const void *data, size_t len,
			   int flags, const urs_addr *addr)
{
	struct urs_op *op;
	urs_future f = start(s, kind, &op);
	if (f.gen <= 0)
		return f;
	op->data = data;
	op->len = len;
	op->msgflags = flags;
	if (addr)
		op->r.addr = *addr;
	return urs__op_start(op);
}

static bool is_conn_type(const urs_sock *s)
{
	return s->type == SOCK_STREAM || s->type == SOCK_SEQPACKET;
}

URS_API urs_future urs_accept(urs_sock *l)
{
	if (l && l->state == SOCK_OPEN && !is_conn_type(l))
		return urs__future_err(-EOPNOTSUPP);
	struct urs_op *op;
	urs_future f = start(l, OPK_ACCEPT, &op);
	return f.gen > 0 ? urs__op_start(op) : f;
}

URS_API urs_future urs_accept_stream(urs_sock *l, urs_cb cb, void *user)
{
	if (!cb)
		return urs__future_err(-EINVAL);
	if (l && l->state == SOCK_OPEN && !is_conn_type(l))
		return urs__future_err(-EOPNOTSUPP);
	struct urs_op *op;
	urs_future f = start(l, OPK_ACCEPT_STREAM, &op);
	if (f.gen <= 0)
		return f;
	op->cb = cb;
	op->user = user;
	op->flags |= OPF_BOUND;
	return urs__op_start(op);
}

static urs_future connect_common(urs_sock *s, const urs_addr *a, bool ex)
{
	int ret = sock_ok(s);
	if (ret == 0)
		ret = urs__addr_check(s, a);
	if (ret < 0)
		return urs__future_err(ret);
	return start_io(s, ex ? OPK_CONNECT_EX : OPK_CONNECT, NULL, 0, 0, a);
}

URS_API urs_future urs_connect(urs_sock *s, const urs_addr *a) { return connect_common(s, a, false); }
URS_API urs_future urs_connect_ex(urs_sock *s, const urs_addr *a) { return connect_common(s, a, true); }

URS_API urs_future urs_recv(urs_sock *s, size_t bufsize, int flags)
{
	if (bufsize == 0 || bufsize > INT_MAX)
		return urs__future_err(-EINVAL);
	return start_io(s, OPK_RECV, NULL, bufsize, flags, NULL);
}

URS_API urs_future urs_recv_into(urs_sock *s, void *data, size_t len, int flags)
{
	if (!data || len == 0 || len > INT_MAX)
		return urs__future_err(-EINVAL);
	return start_io(s, OPK_RECV_INTO, data, len, flags, NULL);
}

URS_API urs_future urs_recvfrom(urs_sock *s, size_t bufsize, int flags)
{
	if (bufsize == 0 || bufsize > INT_MAX)
		return urs__future_err(-EINVAL);
	if (s && s->state == SOCK_OPEN && s->type == SOCK_STREAM)
		return urs__future_err(-EOPNOTSUPP); /* a stream has no datagrams: use urs_recv */
	return start_io(s, OPK_RECVFROM, NULL, bufsize, flags, NULL);
}

static urs_future stream_common(urs_sock *s, enum op_kind kind, urs_cb cb, void *user)
{
	if (!cb)
		return urs__future_err(-EINVAL);
	struct urs_op *op;
	urs_future f = start(s, kind, &op);
	if (f.gen <= 0)
		return f;
	op->cb = cb;
	op->user = user;
	op->flags |= OPF_BOUND;
	op->len = s->loop->buf_size;
	return urs__op_start(op);
}

URS_API urs_future urs_recv_stream(urs_sock *s, urs_cb cb, void *user)
{
	/* Datagrams keep their boundaries (and zero-length ones) through recvmsg. */
	bool dgram = s && s->type != SOCK_STREAM && s->type != SOCK_SEQPACKET;
	return stream_common(s, dgram ? OPK_RECVFROM_STREAM : OPK_RECV_STREAM, cb, user);
}

URS_API urs_future urs_recvfrom_stream(urs_sock *s, urs_cb cb, void *user)
{
	if (s && s->state == SOCK_OPEN && s->type == SOCK_STREAM)
		return urs__future_err(-EOPNOTSUPP);
	return stream_common(s, OPK_RECVFROM_STREAM, cb, user);
}

static urs_future send_common(urs_sock *s, enum op_kind kind, const void *data, size_t len,
			      int flags)
{
	int ret = sock_ok(s);
	if (ret < 0)
		return urs__future_err(ret);
	if (!data && len)
		return urs__future_err(-EFAULT);
	if (len == 0 && s->type == SOCK_STREAM)
		return urs__future_err(-EINVAL); /* nothing to send on a stream */
	if (len > (kind == OPK_SENDALL ? (size_t)SSIZE_MAX : (size_t)INT_MAX))
		return urs__future_err(-EMSGSIZE);
	return start_io(s, kind, data, len, flags, NULL);
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
	int ret = sock_ok(s);
	if (ret == 0)
		ret = urs__addr_check(s, a);
	if (ret == 0 && !data && len)
		ret = -EFAULT;
	if (ret == 0 && len > INT_MAX)
		ret = -EMSGSIZE;
	if (ret < 0)
		return urs__future_err(ret);
	return start_io(s, OPK_SENDTO, data, len, flags, a);
}

URS_API urs_future urs_shutdown(urs_sock *s, int how)
{
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return urs__future_err(-EINVAL);
	return start_io(s, OPK_SHUTDOWN, NULL, 0, how, NULL);
}

URS_API urs_future urs_close(urs_sock *s)
{
	struct urs_op *op;
	urs_future f = start(s, OPK_CLOSE, &op);
	if (f.gen <= 0)
		return f;
	s->state = SOCK_CLOSING;
	/* Every pending op resolves first (-ECANCELED), then the fd closes: no op can touch
	 * a number the kernel may already have given to a new file. */
	for (struct urs_op *o = s->ops, *next; o; o = next) {
		next = o->snext;
		urs__op_cancel(o);
	}
	if (s->nops == 0)
		return urs__op_start(op);
	s->close_op = op;
	return f;
}
