/* SPDX-License-Identifier: MIT */
/* The io_uring backend: SQEs (with a backlog when the SQ is full), the one io_uring_enter
 * of a turn (submit + wait, with the earliest deadline of a waiting op as its timeout, and
 * batched waits on 6.12), copying CQEs out to their ops, cancels, and the recovery when the
 * kernel dropped CQEs (-EBADR). */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { CQE_BATCH = 64 };

/* An SQE with room for need-1 more after it (a linked timeout must go in the same
 * submission). Submits what is queued when the SQ is full; NULL when the kernel takes
 * nothing now (the caller waits in the backlog). */
struct io_uring_sqe *urs__sqe(urs_loop *loop, unsigned need)
{
	struct io_uring *ring = &loop->ring;
	if (io_uring_sq_space_left(ring) < need) {
		loop->stats.enters++;
		io_uring_submit(ring);
		if (io_uring_sq_space_left(ring) < need)
			return NULL;
	}
	return io_uring_get_sqe(ring);
}

static bool push_cancel(urs_loop *loop, struct urs_op *op)
{
	if (loop->ncancels == loop->cancels_cap) {
		uint32_t cap = loop->cancels_cap ? loop->cancels_cap * 2 : 16;
		struct urs_op **v = realloc(loop->cancels, cap * sizeof(*v));
		if (!v)
			return false;
		loop->cancels = v;
		int32_t *g = realloc(loop->cancel_gens, cap * sizeof(*g));
		if (!g)
			return false;
		loop->cancel_gens = g;
		loop->cancels_cap = cap;
	}
	loop->cancels[loop->ncancels] = op;
	loop->cancel_gens[loop->ncancels++] = op->gen;
	return true;
}

/* A cancel request for op, answered with its own tag (UD_CANCEL). One that is asked again
 * after missing twice waits behind a short timer (hard-linked: it goes when the timer
 * expires), 1 ms doubling to 8 ms, so that an op the kernel keeps out of reach for a while
 * does not make the loop spin. */
static bool cancel_now(urs_loop *loop, struct urs_op *op)
{
	unsigned tries = op->cancel_tries;
	struct io_uring_sqe *sqe = urs__sqe(loop, tries >= 2 ? 2 : 1);
	if (!sqe)
		return false;
	if (tries >= 2) {
		struct __kernel_timespec *ts = urs__sqe_ts(loop, sqe);
		urs__ts_set(ts, (int64_t)1000000 << (tries - 2 < 3 ? tries - 2 : 3));
		io_uring_prep_timeout(sqe, ts, 0, 0);
		sqe->flags |= IOSQE_IO_HARDLINK;
		sqe->user_data = urs__ud_loop(UD_LOOP_IGNORE);
		loop->inflight++;
		sqe = io_uring_get_sqe(&loop->ring); /* room was checked */
	}
	io_uring_prep_cancel64(sqe, urs__ud(op, UD_MAIN), 0);
	sqe->user_data = urs__ud(op, UD_CANCEL);
	loop->inflight++;
	return true;
}

/* Asks the kernel to end op; with no room in the SQ the request waits for the next turn
 * (a cancel is never dropped). */
static void ring_cancel(struct urs_op *op)
{
	urs_loop *loop = urs__op_loop(op);
	op->cancel_tries = 0;
	if (loop->recovering || !cancel_now(loop, op)) {
		if (!push_cancel(loop, op))
			op->flags &= ~OPF_CANCEL; /* no memory to remember it: urs_cancel again works */
	}
}

/* What waited for room goes now, in order: cancels first, then the backlog. */
static void ring_flush(urs_loop *loop)
{
	if (loop->recovering)
		return;
	uint32_t kept = 0;
	for (uint32_t i = 0; i < loop->ncancels; i++) {
		struct urs_op *op = loop->cancels[i];
		if (op->gen != loop->cancel_gens[i] || op->state != OP_KERNEL)
			continue; /* it ended meanwhile */
		if (!cancel_now(loop, op)) {
			loop->cancels[kept] = op;
			loop->cancel_gens[kept++] = loop->cancel_gens[i];
		}
	}
	loop->ncancels = kept;
	while (loop->backlog.head && io_uring_sq_space_left(&loop->ring) >= 2) {
		struct urs_op *op = urs__opq_pop(loop, &loop->backlog);
		urs__op_unpark(op);
		urs__op_submit(op);
	}
}

/* Anything of the user's in the kernel or waiting to go (the loop's own listener on its
 * wake eventfd does not count: it keeps no op pending). A cancel waiting to go does not
 * count either: its op, if still in the kernel, is owed a completion anyway, and if not the
 * cancel is dropped at the next flush — counting it would block a turn with nothing to come. */
static bool ring_can_wake(const urs_loop *loop)
{
	return loop->inflight > loop->inflight_own || loop->backlog.head;
}

/* A read of the wake eventfd: it completes when another thread posts, wakes or stops. */
static int ring_arm_wake(urs_loop *loop)
{
	struct io_uring_sqe *sqe = urs__sqe(loop, 1);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, loop->wake_fd, &loop->wake_val, sizeof(loop->wake_val), 0);
	sqe->user_data = urs__ud_loop(UD_LOOP_WAKE_READ);
	loop->inflight++;
	loop->inflight_own++;
	loop->wake_armed = true;
	return 0;
}

static int ring_reap(urs_loop *loop);

/* The answer to a cancel request for op. -ENOENT: the kernel did not find the request —
 * it was in transit (between an attempt and the poll or io-wq worker it goes to next, or
 * its task work pending), or it had just completed. -EALREADY: found running in an io-wq
 * worker, which was told to stop. Either way an op still in the kernel may go on for ever
 * (a send blocked on a full socket), so the cancel is asked again from the next turn,
 * until the op's own completion comes. */
static void cancel_answered(urs_loop *loop, uint64_t ud, int res)
{
	struct urs_op *op = urs__op_at(loop, (uint32_t)(ud >> 2) & 0x3fffffff);
	if (!op || op->gen != (int32_t)(ud >> 32) || op->state != OP_KERNEL ||
	    !(op->flags & OPF_CANCEL) || (res != -ENOENT && res != -EALREADY))
		return;
	loop->cancel_retries++;
	if (op->cancel_tries < 7)
		op->cancel_tries++; /* from 5 on the wait before asking again stays 8 ms */
	if (!push_cancel(loop, op))
		op->flags &= ~OPF_CANCEL; /* no memory to remember it: urs_cancel again works */
}

/* The kernel dropped CQEs: which ops lost theirs is unknown. Cancel everything in flight,
 * then a drained no-op (IOSQE_IO_DRAIN starts only after every earlier request completed)
 * marks the point after which an op still waiting for a CQE has lost it. New submissions
 * wait in the backlog meanwhile. */
static void recover(urs_loop *loop)
{
	loop->stats.cq_dropped++;
	if (loop->recovering)
		return;
	struct io_uring_sqe *sqe;
	while (!(sqe = urs__sqe(loop, 2)))
		ring_reap(loop);
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
	sqe->user_data = urs__ud_loop(UD_LOOP_IGNORE);
	sqe = io_uring_get_sqe(&loop->ring);
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_IO_DRAIN;
	sqe->user_data = urs__ud_loop(UD_LOOP_BARRIER);
	loop->inflight += 2;
	loop->recovering = true;
}

/* Turns an SQE that will carry nothing of ours into a no-op (a prepare that failed after
 * the SQE was taken): the CQE it produces is ignored. */
static void sqe_void(urs_loop *loop, struct io_uring_sqe *sqe)
{
	io_uring_prep_nop(sqe);
	sqe->user_data = urs__ud_loop(UD_LOOP_IGNORE);
	loop->inflight++;
}

/* The op's SQE, and a linked timeout with what is left of its deadline (a zero one for a
 * non-blocking try-once). No room in the SQ, or a recovery under way: the backlog, which
 * goes at the next turn. */
static void ring_submit(struct urs_op *op)
{
	urs_loop *loop = urs__op_loop(op);
	const struct urs_op_kind *k = urs__kind(op);
	if (loop->recovering) {
		urs__op_park(op, &loop->backlog);
		return;
	}
	int64_t left = urs__op_deadline(op) ? urs__deadline_left(op) : -1;
	bool try_once = (k->flags & KF_TRY_ONCE) && urs__op_nonblocking(op);
	bool linked = left > 0 || try_once;
	struct io_uring_sqe *sqe = urs__sqe(loop, linked ? 2 : 1);
	if (!sqe) {
		urs__op_park(op, &loop->backlog);
		return;
	}
	int ret = k->prepare(op, sqe);
	if (ret < 0) {
		sqe_void(loop, sqe);
		urs__op_decide(op, ret);
		return;
	}
	/* Every kind names its socket's fd; where the socket has a slot in the registered
	 * file table, the op names the slot instead (files.c). */
	urs_sock *s = op->sock;
	if (s && s->slot >= 0 && sqe->fd == s->fd) {
		sqe->fd = s->slot;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	sqe->user_data = urs__ud(op, UD_MAIN);
	op->state = OP_KERNEL;
	op->kpending = 1;
	loop->inflight++;
	if (linked && !(op->flags & OPF_MULTI)) {
		sqe->flags |= IOSQE_IO_LINK;
		struct io_uring_sqe *t = io_uring_get_sqe(&loop->ring); /* room was checked */
		struct __kernel_timespec *ts = urs__sqe_ts(loop, t);
		urs__ts_set(ts, try_once ? 0 : left);
		io_uring_prep_link_timeout(t, ts, 0);
		t->user_data = urs__ud(op, UD_TIMEOUT);
		op->kpending = 2;
		loop->inflight++;
	}
}

static int ring_arm_wake(urs_loop *loop);

/* Every request before the recovery barrier has completed: an op still waiting for a CQE
 * lost it. Its outcome is unknown; say so instead of waiting. While recovering nothing new
 * enters the kernel (submissions wait in the backlog), so deciding one op cannot put
 * another in the kernel under the walk. */
static void barrier_passed(urs_loop *loop)
{
	uint32_t pos = 0;
	for (struct urs_op *op; (op = urs__op_iter(loop, &pos));)
		if (op->state == OP_KERNEL) {
			op->kpending = 0;
			op->state = OP_WAITING;
			urs__op_decide(op, -EBADR);
		}
	urs__sendbuf_notifs_lost(loop);
	loop->recovering = false;
	loop->inflight = 0;
	loop->inflight_own = 0;
	urs__buf_rebuild(loop);
	ring_arm_wake(loop);
}

/* A CQE: user_data = {generation, index, part}. A stale one (its op is gone or moved on)
 * is counted and ignored. Returns 1 for an op's CQE, 0 for the loop's own. */
static int dispatch(urs_loop *loop, uint64_t ud, int res, uint32_t cflags)
{
	unsigned part = ud & 3;
	if (!(cflags & IORING_CQE_F_MORE))
		loop->inflight--;
	if (part == UD_LOOP) {
		switch (ud >> 2) {
		case UD_LOOP_BARRIER:
			barrier_passed(loop);
			break;
		case UD_LOOP_WAKE_READ: /* the wake eventfd was written: listen again */
			loop->inflight_own--;
			loop->woken = true;
			if (!loop->recovering && !loop->tearing_down)
				ring_arm_wake(loop);
			break;
		case UD_LOOP_WAKE_MSG: /* another loop's IORING_OP_MSG_RING */
			loop->inflight++; /* it was never counted as owed */
			loop->woken = true;
			break;
		}
		return 0;
	}
	if (part == UD_CANCEL) {
		cancel_answered(loop, ud, res);
		return 0;
	}
	struct urs_op *op = urs__op_at(loop, (uint32_t)(ud >> 2) & 0x3fffffff);
	if ((cflags & IORING_CQE_F_NOTIF) && op && op->gen == (int32_t)(ud >> 32) &&
	    op->state != OP_FREE) {
		/* A zero-copy send's notification: for its buffer, whatever the op does now
		 * (a next step, decided, or lingering for this). */
		urs__sendbuf_notif(op);
		return 0;
	}
	if (!op || op->state != OP_KERNEL || op->gen != (int32_t)(ud >> 32) || !op->kpending) {
		loop->stats.stale_cqes++;
		return 0;
	}
	urs__op_complete(op, part, res, cflags);
	return 1;
}

/* A batched wait (6.12): up to want completions, but back batch_wait_us after the first.
 * liburing 2.3 has no call for it; the SQ tail is published as liburing's own submit does. */
static int enter_ext(urs_loop *loop, unsigned want, unsigned min_wait_us,
		     struct __kernel_timespec *ts)
{
	struct io_uring *ring = &loop->ring;
	struct io_uring_sq *sq = &ring->sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	}
	unsigned to_submit = *sq->ktail - io_uring_smp_load_acquire(sq->khead);
	struct urs_getevents_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.sigmask_sz = _NSIG / 8;
	arg.min_wait_usec = min_wait_us;
	arg.ts = (uint64_t)(uintptr_t)ts;
	unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	int fd = ring->ring_fd;
	if (loop->features & URS_FEAT_REG_RING_FD) {
		flags |= IORING_ENTER_REGISTERED_RING;
		fd = ring->enter_ring_fd;
	}
	return io_uring_enter2((unsigned)fd, to_submit, want, flags, (sigset_t *)&arg,
			       sizeof(arg));
}

/* One io_uring_enter: submit what is queued and, when block, wait for a completion or
 * until deadline (CLOCK_MONOTONIC ns, 0 = none). */
static int ring_enter(urs_loop *loop, bool block, int64_t deadline)
{
	struct io_uring *ring = &loop->ring;
	if (loop->fault_badr || (loop->buf_lost && !loop->recovering)) {
		loop->fault_badr = false;
		recover(loop);
	}
	ring_flush(loop);
	if (io_uring_cq_ready(ring))
		block = false;
	/* A look that would find nothing costs no syscall: nothing to submit, no completion
	 * waiting, and the kernel's flag says no task work is pending (IORING_SQ_TASKRUN). */
	if (!block && (loop->ring_flags & IORING_SETUP_TASKRUN_FLAG) && !io_uring_sq_ready(ring) &&
	    !(IO_URING_READ_ONCE(*ring->sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)))
		return 0;
	loop->stats.enters++;
	int ret;
	if (!block) {
		ret = io_uring_submit_and_get_events(ring);
	} else {
		struct __kernel_timespec ts, *tsp = NULL;
		if (deadline) {
			int64_t left = deadline - urs__now_ns();
			urs__ts_set(&ts, left > 0 ? left : 0);
			tsp = &ts;
		}
		/* Batch only when busy and only for what can come: no more than half the
		 * requests in the kernel (one stream cannot complete 32 times at once). Busy
		 * means a plain wait found several completions ready at once; a batched wait
		 * that got fewer than it asked for sat out its timer — the loop keeps up with
		 * the load, and waiting only added latency — so the next waits are plain until
		 * a plain one finds several again. */
		unsigned want = loop->inflight / 2 < loop->batch ? loop->inflight / 2 : loop->batch;
		bool busy = loop->batch_asked ? loop->last_reaped >= loop->batch_asked : loop->last_reaped >= 4;
		loop->batch_asked = 0;
		if (want > 1 && (loop->features & URS_FEAT_MIN_WAIT) && busy) {
			loop->batch_asked = want;
			ret = enter_ext(loop, want, loop->batch_wait_us, tsp);
		} else if (tsp) {
			struct io_uring_cqe *cqe;
			ret = io_uring_submit_and_wait_timeout(ring, &cqe, 1, tsp, NULL);
		} else
			ret = io_uring_submit_and_wait(ring, 1);
	}
	if (ret == -EBADR) {
		recover(loop);
		ret = 0;
	}
	if (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY || ret == -ETIME)
		ret = 0;
	return ret < 0 ? ret : 0;
}

void urs__fault_release_notifs(urs_loop *loop)
{
	loop->fault_hold_notifs = false;
	for (unsigned i = 0; i < loop->nheld; i++)
		dispatch(loop, loop->held[i].ud, loop->held[i].res, loop->held[i].flags);
	loop->nheld = 0;
}

/* Copies a batch of CQEs out and frees their slots before any handler runs, so a handler
 * (a user callback) may submit freely. */
static int ring_reap(urs_loop *loop)
{
	struct io_uring *ring = &loop->ring;
	int total = 0;
	if (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_CQ_OVERFLOW)
		loop->stats.cq_overflows++;
	for (;;) {
		struct io_uring_cqe *cqes[CQE_BATCH];
		uint64_t ud[CQE_BATCH];
		int res[CQE_BATCH];
		uint32_t fl[CQE_BATCH];
		/* Each completion may need one lending slot more (buf.c); without memory for
		 * them the rest stay in the CQ for a later turn. */
		unsigned room = urs__buf_reserve(loop, CQE_BATCH);
		if (!room)
			return total ? total : -ENOMEM;
		unsigned n = io_uring_peek_batch_cqe(ring, cqes, room);
		for (unsigned i = 0; i < n; i++) {
			ud[i] = cqes[i]->user_data;
			res[i] = cqes[i]->res;
			fl[i] = cqes[i]->flags;
		}
		io_uring_cq_advance(ring, n);
		for (unsigned i = 0; i < n; i++) {
			if (loop->fault_drop_cqes && !(ud[i] & UD_LOOP)) {
				/* Test hook: the kernel lost this CQE and will say -EBADR. */
				loop->fault_drop_cqes--;
				loop->fault_badr = true;
				continue;
			}
			if (loop->fault_hold_notifs && (fl[i] & IORING_CQE_F_NOTIF) &&
			    loop->nheld < URS_HELD_MAX) {
				/* Test hook: a notification late, as a slow network makes it. */
				loop->held[loop->nheld++] = (struct urs_held_cqe){ ud[i], res[i], fl[i] };
				continue;
			}
			total += dispatch(loop, ud[i], res[i], fl[i]);
		}
		loop->stats.cqes += n;
		if (n < room)
			break;
	}
	return total;
}

/* One turn's kernel part: submit and wait in one enter, then the completions. */
static int ring_wait(urs_loop *loop, bool block, int64_t deadline)
{
	int ret = ring_enter(loop, block, deadline);
	if (ret < 0)
		return ret;
	return ring_reap(loop);
}

static void ring_submit_now(urs_loop *loop)
{
	if (io_uring_sq_ready(&loop->ring)) {
		loop->stats.enters++;
		io_uring_submit(&loop->ring);
	}
}

/* The ring fd itself is no good to poll: with IORING_SETUP_DEFER_TASKRUN a completion that
 * arrives while the thread sleeps in another poller is task work that has not run, and the
 * ring fd stays unreadable (seen on 6.18). The kernel does signal a registered eventfd for
 * such work. */
static int ring_fd(urs_loop *loop)
{
	if (loop->evfd >= 0)
		return loop->evfd;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return urs__sys(fd);
	int ret = io_uring_register_eventfd(&loop->ring, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	loop->evfd = fd;
	return fd;
}

static void ring_fini(urs_loop *loop)
{
	io_uring_queue_exit(&loop->ring);
	urs__files_fini(loop);
	free(loop->sqe_ts);
	loop->sqe_ts = NULL;
}

const struct urs_backend urs__be_uring = {
	.name = "io_uring",
	.submit = ring_submit,
	.cancel = ring_cancel,
	.wait = ring_wait,
	.can_wake = ring_can_wake,
	.flush = ring_submit_now,
	.arm_wake = ring_arm_wake,
	.sock_attach = urs__files_add,
	.sock_detach = urs__files_remove,
	.fd = ring_fd,
	.fini = ring_fini,
};

int urs__uring_init(urs_loop *loop, const urs_loop_opts *opts)
{
	int ret = urs__ring_setup(loop, opts);
	if (ret < 0)
		return ret;
	loop->sqe_ts = calloc(loop->ring.sq.ring_entries, sizeof(*loop->sqe_ts));
	if (!loop->sqe_ts) {
		io_uring_queue_exit(&loop->ring);
		return -ENOMEM;
	}
	loop->be = &urs__be_uring;
	urs__files_init(loop, opts->disable);
	return 0;
}

/* ---------------------------------------------------------------- sync ops */

/* bind/listen/socket as ring ops: only when the loop is idle, so that the one CQE that
 * comes back is this op's and no callback runs inside a sync call. */
struct io_uring_sqe *urs__sync_sqe(urs_loop *loop)
{
	if (loop->be != &urs__be_uring || loop->depth || loop->active || loop->inflight || loop->ready || loop->recovering ||
	    io_uring_cq_ready(&loop->ring) || io_uring_sq_ready(&loop->ring))
		return NULL;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	if (sqe)
		sqe->user_data = urs__ud_loop(UD_LOOP_IGNORE);
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
