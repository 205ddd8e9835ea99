/* SPDX-License-Identifier: MIT */
/* Stream ops: receives (into a provided buffer, into the caller's memory, as a stream of
 * chunks) and the ordered queue that sends, sendall, sendto and shutdown share. On a stream
 * or seqpacket socket ordered ops run one at a time in issue order: two sends in the kernel
 * at once may be woken in either order, and a short send would interleave. When one of them
 * does not complete whole — in the kernel or still queued — every op queued behind it fails
 * -EPIPE, so the peer never sees a message from after a hole. When a message was cut on the
 * wire (a sendall stopped part-way) the socket is "torn": later sends and shutdown answer
 * -EPIPE and close resets a TCP connection. */
#include "internal.h"

#include <string.h>
#include <sys/epoll.h>

enum { SEND_CHUNK = 1 << 30 };

/* ---------------------------------------------------------------- the ordered queue */

/* ---------------------------------------------------------------- backpressure */

/* A crossing is reported from the loop's turn, never inside the call that caused it. The
 * state moves at the crossing itself (wm_now); the turn reports where it went. When it went
 * over and came back before the turn looked (on epoll a callback's sends may all go within
 * the same wait), both crossings are reported: a producer that paused on seeing
 * urs_sock_queued above the mark still hears when to go on. */
static void wm_check(urs_sock *s)
{
	if (!s->wm_cb || s->state != SOCK_OPEN)
		return;
	bool now = s->wm_now ? s->queued > s->wm_low : s->queued > s->wm_high;
	if (now == s->wm_now)
		return;
	s->wm_now = now;
	if (now == s->wm_over)
		s->wm_bounced = true; /* back where it was reported: a trip to tell */
	if (!s->wm_listed) {
		s->wm_listed = true;
		s->wm_next = s->loop->wm_list;
		s->loop->wm_list = urs__sock_idx(s);
	}
}

static bool wm_report(urs_sock *s, bool over)
{
	if (!s->wm_cb || s->dead || s->state != SOCK_OPEN)
		return false;
	s->wm_over = over;
	urs_result r;
	memset(&r, 0, sizeof(r));
	r.buf.id = URS_BUF_NONE;
	r.flags = URS_RES_MORE;
	r.res = over;
	r.sent = s->queued;
	s->loop->depth++;
	s->wm_cb(&r, s->wm_user);
	s->loop->depth--;
	return true;
}

int urs__wm_run(urs_loop *loop)
{
	int n = 0;
	while (loop->wm_list) {
		urs_sock *s = urs__sock_at(loop, loop->wm_list);
		loop->wm_list = s->wm_next;
		s->wm_listed = false;
		bool bounced = s->wm_bounced;
		s->wm_bounced = false;
		if (s->wm_now != s->wm_over) {
			n += wm_report(s, s->wm_now);
		} else if (bounced) {
			bool back = s->wm_over;
			/* The callback may free s or set other marks: the second report only
			 * when neither happened. */
			if (wm_report(s, !back)) {
				n++;
				if (s->wm_over == !back && s->wm_now == back)
					n += wm_report(s, back);
			}
		}
	}
	return n;
}

URS_API size_t urs_sock_queued(const urs_sock *s)
{
	return s && s->loop ? s->queued : 0;
}

URS_API int urs_sock_watermarks(urs_sock *s, size_t high, size_t low, urs_cb cb, void *user)
{
	int ret = urs__sock_check(s);
	if (ret < 0)
		return ret;
	if (high && (!cb || low > high))
		return -EINVAL;
	s->wm_high = high;
	s->wm_low = low;
	s->wm_cb = high ? cb : NULL;
	s->wm_user = user;
	s->wm_over = s->wm_now = s->wm_bounced = false;
	wm_check(s);
	return 0;
}

void urs__ordered_sent(struct urs_op *op, int res)
{
	if (res <= 0 || !(op->flags & OPF_COUNTED))
		return;
	urs_sock *s = op->sock;
	s->queued -= (size_t)res;
	wm_check(s);
}

void urs__ordered_shrink(struct urs_op *op, size_t len)
{
	struct urs_opx *x = urs__op_x(op);
	if (len >= x->len)
		return;
	if (op->flags & OPF_COUNTED) {
		op->sock->queued -= x->len - (len > x->done ? len : x->done);
		wm_check(op->sock);
	}
	x->len = len;
}

/* ---------------------------------------------------------------- the ordered queue */

bool urs__ordered_start(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	urs_sock *s = op->sock;
	if (!urs__sock_ordered(s))
		return true; /* datagram sends may be in flight together */
	if (s->torn) {
		urs__op_decide(op, -EPIPE); /* nothing may follow a cut message */
		return false;
	}
	if (x->len > x->done) {
		op->flags |= OPF_COUNTED;
		s->queued += x->len - x->done;
		wm_check(s);
	}
	if (!s->send_head) {
		s->send_head = urs__op_idx(op);
		return true;
	}
	if (urs__op_dontwait(op)) {
		urs__op_decide(op, -EAGAIN); /* it would have to wait its turn */
		return false;
	}
	urs__op_park(op, &s->sendq);
	return false;
}

/* An ordered op is decided (in progress, or cancelled or timed out in the queue — it is
 * still in the queue here): when it did not complete whole, every op behind it fails
 * without sending anything; when it was in progress, the next one goes. */
void urs__ordered_decided(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	urs_sock *s = op->sock;
	if (!s || !urs__sock_ordered(s))
		return;
	bool head = s->send_head == urs__op_idx(op);
	bool whole = op->res >= 0 && x->done == x->len;
	if (op->flags & OPF_COUNTED) {
		op->flags &= ~OPF_COUNTED;
		s->queued -= x->len - x->done; /* what never went */
		wm_check(s);
	}
	if (!whole) {
		/* A plain send's (or sendmsg's) count says where it stopped; a sendall's or
		 * sendfile's cut is a hole. */
		if (x->done > 0 && op->kind != OPK_SEND && op->kind != OPK_SENDMSG)
			s->torn = true;
		struct urs_op *o;
		if (head) {
			while ((o = urs__opq_pop(s->loop, &s->sendq)))
				urs__op_decide(o, -EPIPE);
		} else if (urs__op_in(op, &s->sendq)) {
			while ((o = urs__op_qnext(op))) {
				urs__opq_remove(o);
				urs__op_decide(o, -EPIPE);
			}
		}
	}
	if (!head)
		return;
	s->send_head = 0;
	struct urs_op *next = urs__opq_pop(s->loop, &s->sendq);
	if (next) {
		s->send_head = urs__op_idx(next);
		urs__op_unpark(next);
		urs__op_submit(next);
	}
}

static int sock_flags(const struct urs_op *op, int mf)
{
	if (urs__op_nonblocking(op))
		mf |= MSG_DONTWAIT;
	return mf;
}

/* ---------------------------------------------------------------- recv */

static unsigned recv_len(const struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	uint32_t room = urs__buf_room(op);
	return x->len < room ? (unsigned)x->len : room;
}

/* On a datagram or seqpacket socket MSG_TRUNC makes the kernel report a message's real
 * length, so a message longer than the buffer is flagged, never silently cut. */
static int trunc_flag(const urs_sock *s)
{
	return s->type == SOCK_STREAM ? 0 : MSG_TRUNC;
}

static void prep_recv_buf(struct urs_op *op, struct io_uring_sqe *sqe, unsigned len, int mf)
{
	urs_loop *loop = urs__op_loop(op);
	if (urs__buf_select(op)) {
		io_uring_prep_recv(sqe, op->sock->fd, NULL, len, mf);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = op->bgroup;
	} else {
		io_uring_prep_recv(sqe, op->sock->fd, urs__buf_addr(loop, op->bid), len, mf);
	}
}

static int recv_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	prep_recv_buf(op, sqe, recv_len(op), sock_flags(op, x->msgflags | trunc_flag(op->sock)));
	return 0;
}

/* What a receive of up to keep bytes got: res bytes (more than keep: a message was cut). */
static int kept(struct urs_op *op, int res, unsigned keep)
{
	if (res > (int)keep) {
		op->rflags |= URS_RES_TRUNC;
		return (int)keep;
	}
	return res;
}

static enum op_next recv_complete(struct urs_op *op, int res, unsigned cflags)
{
	if (res == -ENOBUFS && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT))) {
		urs__buf_take(op, res, cflags, 0);
		return urs__buf_wait(op);
	}
	unsigned keep = recv_len(op);
	urs__buf_take(op, res, cflags, keep);
	op->res = res > 0 ? kept(op, res, keep) : res;
	return NEXT_DECIDE;
}

int urs__rd_shut_end(struct urs_op *op, uint32_t *want)
{
	if (op->sock->rd_shut && urs__sock_dgram(op->sock) && !urs__op_dontwait(op))
		return 0;
	*want = EPOLLIN;
	return -EAGAIN;
}

/* epoll: the same receive, now, into the buffer the op claimed. MSG_WAITALL on a stream goes
 * on until len bytes came, as io_uring and a blocking recv(2) do, keeping what came in
 * op->done while it waits for more (and its view in bdata/blen: a cancel or timeout then
 * resolves to what came, KF_COUNT); the peer's close or an error ends it with what came.
 * A short read on a byte stream took everything the socket had, and new bytes raise a new
 * edge (which clears ep_rdrained), so until then a read would only answer EAGAIN: the op
 * waits for the edge without asking (the hand-written epoll loop's rule too; it saves a
 * recv per message). A non-blocking op still asks. Once the read side has ended (the
 * peer's FIN, a hang-up or error, our SHUT_RD) no edge may follow the last bytes, so the
 * rule is off: the next read must ask and see the end. */
static int recv_now(struct urs_op *op, char *buf, size_t len, int mf, uint32_t *want)
{
	urs_sock *s = op->sock;
	struct urs_opx *x = urs__op_x(op); /* a stream may have none: it never waits for all */
	bool wait = !urs__op_dontwait(op);
	bool all = (mf & MSG_WAITALL) && s->type == SOCK_STREAM && wait && x;
	size_t done = x ? x->done : 0;
	for (;;) {
		int res = -EAGAIN;
		uint32_t nocall = 0;
		if (s->ep_rdrained && wait) {
			nocall = URS_EP_NOCALL;
		} else {
			size_t ask = len - done;
			res = urs__sys((int)recv(s->fd, buf + done, ask,
						 (mf & ~MSG_WAITALL) | MSG_DONTWAIT));
			if (res > 0 && (size_t)res < ask && s->type == SOCK_STREAM &&
			    !(mf & MSG_PEEK) && !s->ep_rdend)
				s->ep_rdrained = true;
		}
		if (res > 0 && all) {
			done += (size_t)res;
			x->done = done;
			if (done < len)
				continue;
		} else if (res == -EAGAIN) {
			if (!done) {
				res = urs__rd_shut_end(op, want);
				if (res == -EAGAIN)
					*want |= nocall;
				return res;
			}
			x->bdata = buf;
			x->blen = (uint32_t)done;
			return urs__ep_again(want, EPOLLIN | nocall);
		}
		return done ? (int)done : res;
	}
}

static int recv_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	return recv_now(op, urs__buf_addr(urs__op_loop(op), op->bid), recv_len(op),
			x->msgflags | trunc_flag(op->sock), want);
}

const struct urs_op_kind urs__kind_recv = {
	.name = "recv",
	.flags = KF_SOCK | KF_TIMEOUT | KF_BUF | KF_RETRY | KF_COUNT | KF_X,
	.prepare = recv_prepare,
	.exec = recv_exec,
	.complete = recv_complete,
	.retire = urs__sock_retire,
};

static int recv_into_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	io_uring_prep_recv(sqe, op->sock->fd, (void *)x->data, (unsigned)x->len,
			   sock_flags(op, x->msgflags | trunc_flag(op->sock)));
	return 0;
}

static enum op_next recv_into_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	(void)cflags;
	op->res = res > 0 ? kept(op, res, (unsigned)x->len) : res;
	return NEXT_DECIDE;
}

static int recv_into_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	return recv_now(op, (char *)x->data, x->len, x->msgflags | trunc_flag(op->sock), want);
}

const struct urs_op_kind urs__kind_recv_into = {
	.name = "recv_into",
	.flags = KF_SOCK | KF_TIMEOUT | KF_RETRY | KF_COUNT | KF_X,
	.prepare = recv_into_prepare,
	.exec = recv_into_exec,
	.complete = recv_into_complete,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- recv stream */

/* A stream on a connected stream socket: one multishot recv where the kernel has it and no
 * timeout is set (a timeout is the idle time between chunks: one linked timeout per chunk
 * needs one request per chunk). With URS_FEAT_RECV_BUNDLE a completion may carry several
 * buffers (kernel-notes/recv-bundles.md). */
static int recv_stream_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	urs_loop *loop = urs__op_loop(op);
	/* Not with a linked timeout: its pieces may have to be taken at its CQE, before its
	 * complete() runs (urs__buf_early), and an op keeps one piece only. */
	bool bundle = (loop->features & URS_FEAT_RECV_BUNDLE) && urs__buf_select(op) &&
		      !urs__op_deadline(op) && !urs__op_nonblocking(op);
	op->flags &= (uint16_t)~OPF_BUNDLE;
	if ((loop->features & URS_FEAT_RECV_MULTI) && urs__buf_select(op) &&
	    !urs__op_deadline(op) && !urs__op_nonblocking(op)) {
		io_uring_prep_recv_multishot(sqe, op->sock->fd, NULL, 0, urs__op_msgflags(op));
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = op->bgroup;
		op->flags |= OPF_MULTI;
	} else {
		/* A bundle's size is the buffers' (0), not one buffer's. */
		prep_recv_buf(op, sqe, bundle ? 0 : loop->buf_size,
			      sock_flags(op, urs__op_msgflags(op)));
	}
	if (bundle) {
		sqe->ioprio |= IORING_RECVSEND_BUNDLE;
		op->flags |= OPF_BUNDLE;
	}
	return 0;
}

/* One completion's bytes, as stream events: one per piece of buffer it filled (a bundle
 * fills several; each is lent on its own, so each is released on its own). A callback that
 * frees the socket or cancels the stream does not stop the rest of this completion: those
 * bytes are already out of the socket, so they are delivered, or dropped with their buffers
 * when nobody listens any more. */
static void chunk(struct urs_op *op, int res, unsigned cflags)
{
	urs_loop *loop = urs__op_loop(op);
	urs_result r;
	uint32_t n = urs__buf_pieces(op, res, cflags);
	for (uint32_t i = 0; i < n; i++) {
		/* Callbacks may not take pieces (no completion is handled inside one), but
		 * copy before running them all the same. */
		struct urs_piece p = loop->pieces[i];
		memset(&r, 0, sizeof(r));
		r.flags = URS_RES_MORE;
		r.res = (int)p.len;
		urs__buf_lend(loop, &r.buf, p.slot, p.data, p.len);
		urs__event(op, &r);
	}
	if (!n) {
		/* Bytes without a buffer we can hand over: the loop lost track of it (the
		 * stream ends -EBADR at the recovery) or had no memory to lend it. */
		memset(&r, 0, sizeof(r));
		r.flags = URS_RES_MORE;
		r.res = res > 0 ? (op->flags & OPF_LOST ? -EBADR : -ENOMEM) : res;
		r.buf.id = URS_BUF_NONE;
		r.buf.loop = loop;
		urs__event(op, &r);
	}
}

static void recv_stream_event(struct urs_op *op, int res, unsigned cflags)
{
	chunk(op, res, cflags);
}

static enum op_next recv_stream_complete(struct urs_op *op, int res, unsigned cflags)
{
	bool multi = op->flags & OPF_MULTI;
	if (res > 0) {
		chunk(op, res, cflags);
		if (op->flags & OPF_CANCEL) {
			op->res = -ECANCELED;
			return NEXT_DECIDE;
		}
		if (multi)
			urs__op_loop(op)->stats.rearms++;
		urs__deadline_set(op); /* the idle time starts again */
		return NEXT_AGAIN;
	}
	urs__buf_take(op, res, cflags, 0);
	if (res == -ENOBUFS && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT))) {
		if (multi)
			urs__op_loop(op)->stats.rearms++;
		return urs__buf_wait(op);
	}
	op->res = res; /* 0: the peer closed; else an error, a cancel or the idle timeout */
	return NEXT_DECIDE;
}

static int recv_stream_exec(struct urs_op *op, uint32_t *want)
{
	return recv_now(op, urs__buf_addr(urs__op_loop(op), op->bid), urs__op_loop(op)->buf_size,
			urs__op_msgflags(op), want);
}

const struct urs_op_kind urs__kind_recv_stream = {
	.name = "recv_stream",
	.flags = KF_SOCK | KF_TIMEOUT | KF_BUF | KF_STREAM | KF_RETRY | KF_OWN,
	.prepare = recv_stream_prepare,
	.exec = recv_stream_exec,
	.event = recv_stream_event,
	.complete = recv_stream_complete,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- send, sendall */

static int send_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	size_t left = x->len - x->done;
	unsigned n = left > SEND_CHUNK ? SEND_CHUNK : (unsigned)left;
	int mf = sock_flags(op, x->msgflags | MSG_NOSIGNAL);
	/* A blocking send on a stream sends everything, as send(2) does; MSG_WAITALL lets the
	 * kernel continue a short one itself (5.19+). */
	if (op->sock->type == SOCK_STREAM && !(mf & MSG_DONTWAIT))
		mf |= MSG_WAITALL;
	urs__sendbuf_prep(op, sqe, x->data + x->done, n, mf);
	return 0;
}

/* A send resolves to the bytes sent: all of them unless non-blocking, cut by its timeout
 * or a cancel, or an error came after some went (then the count stands, as send(2)). */
/* epoll: as much as the socket takes now; the kind's complete() goes on as after a short
 * send from the ring. */
static int send_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	size_t left = x->len - x->done;
	size_t n = left > SEND_CHUNK ? SEND_CHUNK : left;
	int res = urs__sys((int)send(op->sock->fd, x->data + x->done, n,
				     x->msgflags | MSG_NOSIGNAL | MSG_DONTWAIT));
	if (res == -EAGAIN)
		*want = EPOLLOUT;
	return res;
}

enum op_next urs__send_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	(void)cflags;
	if (urs__sendbuf_zc_refused(op, res))
		return NEXT_AGAIN; /* nothing went: again as a plain send */
	if (res > 0)
		x->done += (size_t)res;
	urs__ordered_sent(op, res);
	bool blocking_stream = op->sock->type == SOCK_STREAM && !urs__op_dontwait(op);
	if (res > 0 && x->done < x->len && blocking_stream &&
	    !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT)))
		return NEXT_AGAIN;
	op->res = x->done ? (int)x->done : res;
	if (x->done && (op->flags & OPF_CANCEL) && !(op->flags & OPF_TIMEDOUT))
		op->flags &= ~OPF_CANCEL; /* the count stands: the cancel came too late for it */
	return NEXT_DECIDE;
}

static enum op_next sendall_complete(struct urs_op *op, int res, unsigned cflags)
{
	struct urs_opx *x = urs__op_x(op);
	(void)cflags;
	if (urs__sendbuf_zc_refused(op, res))
		return NEXT_AGAIN; /* nothing went: again as a plain send */
	if (res > 0)
		x->done += (size_t)res;
	urs__ordered_sent(op, res);
	if (x->done == x->len) {
		op->res = 0;
		return NEXT_DECIDE;
	}
	if (res >= 0 && !(op->flags & (OPF_CANCEL | OPF_TIMEDOUT)))
		return NEXT_AGAIN; /* the deadline bounds the whole call: checked at submit */
	op->res = res >= 0 ? (op->flags & OPF_CANCEL ? -ECANCELED : -ETIMEDOUT) : res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_send = {
	.name = "send",
	.flags = KF_SOCK | KF_TIMEOUT | KF_ORDERED | KF_RETRY | KF_COUNT | KF_X | KF_SEND,
	.start = urs__ordered_start,
	.prepare = send_prepare,
	.exec = send_exec,
	.complete = urs__send_complete,
	.decided = urs__ordered_decided,
	.retire = urs__sock_retire,
};

const struct urs_op_kind urs__kind_sendall = {
	.name = "sendall",
	.flags = KF_SOCK | KF_TIMEOUT | KF_ORDERED | KF_RETRY | KF_X | KF_SEND,
	.start = urs__ordered_start,
	.prepare = send_prepare,
	.exec = send_exec,
	.complete = sendall_complete,
	.decided = urs__ordered_decided,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- shutdown */

/* SHUT_WR and SHUT_RDWR wait behind the queued sends: the FIN follows every byte. SHUT_RD
 * stops reading at once. */
static bool shutdown_start(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	return x->msgflags == SHUT_RD ? true : urs__ordered_start(op);
}

static int shutdown_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	if (x->msgflags != SHUT_RD && op->sock->torn)
		return -EPIPE; /* a FIN after a hole would make a cut stream look complete */
	io_uring_prep_shutdown(sqe, op->sock->fd, x->msgflags);
	return 0;
}

static int shutdown_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	(void)want;
	if (x->msgflags != SHUT_RD && op->sock->torn)
		return -EPIPE;
	if (x->msgflags != SHUT_WR) { /* reads now end at once: never park them on an edge */
		op->sock->ep_rdend = true;
		op->sock->ep_rdrained = false;
	}
	return urs__sys(shutdown(op->sock->fd, x->msgflags));
}

static enum op_next shutdown_complete(struct urs_op *op, int res, unsigned cflags)
{
	(void)cflags;
	urs_sock *s = op->sock;
	if (res == 0 && urs__op_msgflags(op) != SHUT_WR) {
		/* A datagram socket's receives now answer 0 at once where they would wait (the
		 * end of its receive streams), but a multishot recvmsg armed before waits for a
		 * datagram for ever: it goes again as single receives. */
		s->rd_shut = true;
		if (urs__sock_dgram(s))
			for (struct urs_op *o = urs__sock_ops(s); o; o = urs__sock_next(o))
				if (o->flags & OPF_MULTI)
					urs__op_rearm(o);
	}
	op->res = res;
	return NEXT_DECIDE;
}

const struct urs_op_kind urs__kind_shutdown = {
	.name = "shutdown",
	.flags = KF_SOCK | KF_ORDERED | KF_RETRY | KF_X,
	.start = shutdown_start,
	.prepare = shutdown_prepare,
	.exec = shutdown_exec,
	.complete = shutdown_complete,
	.decided = urs__ordered_decided,
	.retire = urs__sock_retire,
};
