/* SPDX-License-Identifier: MIT */
/* sendfile: a file's bytes to a stream socket without passing through user space. On
 * io_uring, IORING_OP_SPLICE moves them file -> pipe -> socket (a pipe per call, grown to
 * 1 MiB where the system allows), one step at a time: fill the pipe from the file, then
 * drain it into the socket (as often as the socket takes less). Without splice (a kernel
 * before 5.7, or URS_FEAT_SPLICE disabled) the steps are a read into a chunk of ours and a
 * send. On epoll it is sendfile(2) on the non-blocking socket. Either way it is one of the
 * socket's ordered sends (the bytes go between what was queued before and after it), its
 * deadline bounds the whole call, and r->sent counts exactly the bytes the socket took:
 * bytes still in the pipe when it stops are discarded with the pipe, never sent later. */
#define _GNU_SOURCE
#include "internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

enum { PIPE_WANT = 1 << 20, CHUNK = 1 << 16, EP_MAX = 1 << 30, SMALL_STEP = 1024 };

enum sf_step { SF_FILL, SF_POLL, SF_DRAIN, SF_SENDFILE };

struct sfx {
	int file;
	int pipe[2];        /* splice: our pipe, or -1 */
	size_t pipesz;
	off_t off;          /* the next byte of the file to read */
	size_t staged;      /* bytes read from the file, not yet taken by the socket */
	char *chunk;        /* without splice: where staged bytes wait */
	size_t chunkoff;
	uint8_t step;
	bool writable;      /* splice: the socket said POLLOUT since the last drain */
};

static size_t left(const struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	const struct sfx *sx = x->ext;
	return x->len - x->done - sx->staged;
}

/* How much of want the socket's send buffer takes now without waiting: half of the memory
 * its limit leaves free (SO_MEMINFO: the queue's memory, which is what TCP checks before it
 * waits; a byte costs at most about two of it), or by the byte count where SO_MEMINFO is
 * missing. */
static size_t room(int fd, size_t want)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t l = sizeof(mi);
	long sndbuf, queued;
	if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &l) == 0 && l > SK_MEMINFO_WMEM_QUEUED * 4) {
		sndbuf = mi[SK_MEMINFO_SNDBUF];
		queued = mi[SK_MEMINFO_WMEM_QUEUED];
	} else {
		int sb = 0, outq = 0;
		l = sizeof(sb);
		if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, &l) < 0 || ioctl(fd, SIOCOUTQ, &outq) < 0)
			return 0;
		sndbuf = sb;
		queued = outq;
	}
	size_t free_ = sndbuf > queued ? (size_t)(sndbuf - queued) / 2 : 0;
	return want < free_ ? want : free_;
}

static int sendfile_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	struct sfx *sx = x->ext;
	int fd = op->sock->fd;
	if (sx->staged) {
		if (sx->pipe[0] >= 0) {
			/* A splice into a socket runs in an io-wq worker, where neither its
			 * linked timeout nor a cancel interrupts it once it waits for room
			 * (6.18, measured: kernel-notes/splice.md). So it never waits: first a
			 * poll for room (which a timeout or cancel does end), then no more than
			 * the room there is. */
			size_t n = room(fd, sx->staged);
			/* POLLOUT and still no room by this count: one small step, which TCP takes
			 * whenever it says writable (so it does not wait), and no spin on POLLOUT. */
			if (sx->writable && !n)
				n = sx->staged < SMALL_STEP ? sx->staged : SMALL_STEP;
			if (!n) {
				sx->step = SF_POLL;
				io_uring_prep_poll_add(sqe, fd, POLLOUT);
				return 0;
			}
			sx->step = SF_DRAIN;
			sx->writable = false;
			io_uring_prep_splice(sqe, sx->pipe[0], -1, fd, -1, (unsigned)n, SPLICE_F_MOVE);
			return 0;
		}
		sx->step = SF_DRAIN;
		io_uring_prep_send(sqe, fd, sx->chunk + sx->chunkoff, sx->staged,
				   MSG_NOSIGNAL | MSG_WAITALL);
		return 0;
	}
	sx->step = SF_FILL;
	size_t n = left(op);
	if (sx->pipe[0] >= 0) {
		if (n > sx->pipesz)
			n = sx->pipesz;
		io_uring_prep_splice(sqe, sx->file, (int64_t)sx->off, sx->pipe[1], -1, (unsigned)n,
				     SPLICE_F_MOVE);
	} else {
		if (n > CHUNK)
			n = CHUNK;
		io_uring_prep_read(sqe, sx->file, sx->chunk, (unsigned)n, (uint64_t)sx->off);
	}
	return 0;
}

/* epoll: sendfile(2) on the non-blocking socket, as much as it takes now. */
static int sendfile_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	struct sfx *sx = x->ext;
	sx->step = SF_SENDFILE;
	size_t n = left(op);
	if (n > EP_MAX)
		n = EP_MAX;
	int res = urs__sys((int)sendfile(op->sock->fd, sx->file, &sx->off, n));
	if (res == -EAGAIN)
		*want = EPOLLOUT;
	return res;
}

static enum op_next stop(struct urs_op *op, int res)
{
	struct urs_opx *x = urs__op_x(op);
	/* Whole when every byte asked for went; an error (or a timeout, or a cancel) after
	 * some went still says how many in r->sent. */
	if (x->done == x->len)
		op->res = x->done > INT_MAX ? INT_MAX : (int)x->done;
	else
		op->res = res < 0 ? res : (op->flags & OPF_CANCEL ? -ECANCELED : -ETIMEDOUT);
	return NEXT_DECIDE;
}

static enum op_next sendfile_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	(void)cflags;
	struct sfx *sx = x->ext;
	if (res < 0)
		return stop(op, res);
	if (res == 0 && (sx->step == SF_FILL || sx->step == SF_SENDFILE)) {
		/* The file ended first: what it had is the whole. */
		urs__ordered_shrink(op, x->done);
		return stop(op, 0);
	}
	switch (sx->step) {
	case SF_POLL:
		sx->writable = true;
		break;
	case SF_FILL:
		sx->staged = (size_t)res;
		sx->chunkoff = 0;
		sx->off += res;
		break;
	case SF_DRAIN:
		sx->staged -= (size_t)res;
		sx->chunkoff += (size_t)res;
		x->done += (size_t)res;
		urs__ordered_sent(op, res);
		break;
	case SF_SENDFILE:
		x->done += (size_t)res;
		urs__ordered_sent(op, res);
		break;
	}
	if (x->done == x->len)
		return stop(op, 0);
	if (op->flags & (OPF_CANCEL | OPF_TIMEDOUT))
		return stop(op, 0);
	return NEXT_AGAIN; /* the deadline bounds the whole call: checked at each submit */
}

static void sfx_free(struct sfx *sx)
{
	if (!sx)
		return;
	if (sx->pipe[0] >= 0) {
		close(sx->pipe[0]);
		close(sx->pipe[1]);
	}
	free(sx->chunk);
	free(sx);
}

static void sendfile_result(struct urs_op *op, urs_result *r)
{
	struct urs_opx *x = urs__op_x(op);
	(void)r;
	sfx_free(x->ext);
	x->ext = NULL;
}

const struct urs_op_kind urs__kind_sendfile = {
	.name = "sendfile",
	.flags = KF_SOCK | KF_TIMEOUT | KF_ORDERED | KF_X,
	.start = urs__ordered_start,
	.prepare = sendfile_prepare,
	.exec = sendfile_exec,
	.complete = sendfile_complete,
	.decided = urs__ordered_decided,
	.retire = urs__sock_retire,
	.result = sendfile_result,
};

/* The way file bytes reach the socket: a pipe to splice through, or a chunk to read into
 * (epoll needs neither). */
static int staging(urs_loop *loop, struct sfx *sx)
{
	sx->pipe[0] = sx->pipe[1] = -1;
	if (loop->be != &urs__be_uring)
		return 0;
	if (loop->features & URS_FEAT_SPLICE) {
		if (pipe2(sx->pipe, O_CLOEXEC) < 0)
			return urs__sys(-1);
		/* A bigger pipe moves more per step; the system's limit may refuse it. */
		int sz = fcntl(sx->pipe[1], F_SETPIPE_SZ, PIPE_WANT);
		if (sz < 0)
			sz = fcntl(sx->pipe[1], F_GETPIPE_SZ);
		sx->pipesz = sz > 0 ? (size_t)sz : 65536;
		return 0;
	}
	sx->chunk = malloc(CHUNK);
	return sx->chunk ? 0 : -ENOMEM;
}

URS_API urs_future urs_sendfile(urs_sock *s, int fd, off_t offset, size_t count)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return urs__future_err(ret);
	if (s->type != SOCK_STREAM)
		return urs__future_err(-EOPNOTSUPP); /* as Python: stream sockets only */
	if (fd < 0 || offset < 0)
		return urs__future_err(-EINVAL);
	if (s->timeout_ns == 0)
		return urs__future_err(-EINVAL); /* as Python: not on a non-blocking socket */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return urs__future_err(urs__sys(-1));
	if (!S_ISREG(st.st_mode))
		return urs__future_err(-EINVAL); /* a file with an end and an offset */
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY)
		return urs__future_err(fl < 0 ? urs__sys(fl) : -EBADF);
	size_t avail = offset < st.st_size ? (size_t)(st.st_size - offset) : 0;
	if (count == 0 || count > avail)
		count = avail; /* up to the end of the file (it may still end sooner) */
	if (count > (size_t)SSIZE_MAX)
		count = (size_t)SSIZE_MAX;
	struct sfx *sx = calloc(1, sizeof(*sx));
	if (!sx)
		return urs__future_err(-ENOMEM);
	sx->file = fd;
	sx->off = offset;
	if ((ret = staging(s->loop, sx)) < 0) {
		sfx_free(sx);
		return urs__future_err(ret);
	}
	struct urs_op *op;
	ret = urs__op_new(s->loop, OPK_SENDFILE, s, &op);
	if (ret < 0) {
		sfx_free(sx);
		return urs__future_err(ret);
	}
	struct urs_opx *x = urs__op_x(op);
	x->ext = sx;
	x->len = count; /* 0: resolves 0 in its turn, behind what is queued */
	return urs__op_start(op);
}
