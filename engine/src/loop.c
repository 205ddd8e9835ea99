/* The loop: one ring per thread, submit + wait in one io_uring_enter, completions handed
 * to their ops. Hops 3 and 4 of the request path (DESIGN.md). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

enum { CQE_BATCH = 64 };

static bool is_pow2(unsigned v) { return v && !(v & (v - 1)); }

URS_API int urs_loop_new(urs_loop **out, const urs_loop_opts *opts)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	urs_loop_opts o = opts ? *opts : (urs_loop_opts){ 0 };
	if (!o.sq_entries)
		o.sq_entries = 256;
	if (!o.buf_count)
		o.buf_count = 1024;
	if (!o.buf_size)
		o.buf_size = 4096;
	if (!o.max_ops)
		o.max_ops = 65536;
	/* A buffer ring holds at most 32768 entries; a buffer id is 16 bits. */
	if (!is_pow2(o.buf_count) || o.buf_count > 32768 || o.buf_size > (1u << 30) ||
	    o.sq_entries > 32768 || (o.cq_entries && o.cq_entries < o.sq_entries) ||
	    o.max_ops > (1u << 28))
		return -EINVAL;

	urs_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->max_ops = o.max_ops;
	loop->batch = o.batch;
	loop->batch_wait_us = o.batch_wait_us;
	int ret = urs__ring_setup(loop, &o);
	if (ret < 0) {
		free(loop);
		return ret;
	}
	ret = urs__buf_init(loop, &o);
	if (ret < 0) {
		io_uring_queue_exit(&loop->ring);
		free(loop);
		return ret;
	}
	urs__features_str(loop);
	*out = loop;
	return 0;
}

URS_API int urs_loop_fd(const urs_loop *loop) { return loop ? loop->ring.ring_fd : -EINVAL; }
URS_API unsigned urs_loop_features(const urs_loop *loop) { return loop ? loop->features : 0; }
URS_API const char *urs_loop_features_str(urs_loop *loop) { return loop ? loop->feat_str : ""; }
URS_API void urs_loop_stop(urs_loop *loop)
{
	if (loop)
		loop->stop = true;
}

URS_API void urs_loop_stats_get(const urs_loop *loop, urs_loop_stats *out)
{
	if (!loop || !out)
		return;
	*out = loop->stats;
}

/* An SQE, submitting what is queued when the SQ is full (a callback may start many ops
 * between two enters). */
struct io_uring_sqe *urs__sqe(urs_loop *loop)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	while (!sqe) {
		loop->stats.enters++;
		int ret = io_uring_submit(&loop->ring);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return NULL;
		sqe = io_uring_get_sqe(&loop->ring);
	}
	return sqe;
}

void urs__ready_push(urs_loop *loop, struct urs_op *op)
{
	op->flags |= OPF_READY;
	op->next = NULL;
	if (loop->ready_tail)
		loop->ready_tail->next = op;
	else
		loop->ready = op;
	loop->ready_tail = op;
}

/* Copies a batch of CQEs out and frees their slots before any handler runs, so a handler
 * (a user callback) may submit and even drive nothing re-entrantly. */
static int reap(urs_loop *loop)
{
	int total = 0;
	for (;;) {
		struct io_uring_cqe *cqes[CQE_BATCH];
		uint64_t ud[CQE_BATCH];
		int res[CQE_BATCH];
		uint32_t fl[CQE_BATCH];
		unsigned n = io_uring_peek_batch_cqe(&loop->ring, cqes, CQE_BATCH);
		for (unsigned i = 0; i < n; i++) {
			ud[i] = cqes[i]->user_data;
			res[i] = cqes[i]->res;
			fl[i] = cqes[i]->flags;
		}
		io_uring_cq_advance(&loop->ring, n);
		for (unsigned i = 0; i < n; i++)
			urs__op_cqe(loop, ud[i], res[i], fl[i]);
		total += (int)n;
		loop->stats.cqes += n;
		if (n < CQE_BATCH)
			break;
	}
	while (loop->ready) {
		struct urs_op *op = loop->ready;
		loop->ready = op->next;
		if (!loop->ready)
			loop->ready_tail = NULL;
		op->flags &= ~OPF_READY;
		urs__future_resolve(op);
		total++;
	}
	return total;
}

/* A batched wait (6.12): up to loop->batch completions, but back after batch_wait_us with at
 * least one. liburing 2.3 has no call for it, so the SQ tail is published here as
 * liburing's own submit does, and min_wait_usec goes where 2.3's header says "pad". */
static int enter_batched(urs_loop *loop, unsigned want)
{
	struct io_uring *ring = &loop->ring;
	struct io_uring_sq *sq = &ring->sq;
	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	}
	unsigned to_submit = *sq->ktail - io_uring_smp_load_acquire(sq->khead);
	struct io_uring_getevents_arg arg;
	memset(&arg, 0, sizeof(arg));
	arg.sigmask_sz = _NSIG / 8;
	arg.pad = loop->batch_wait_us; /* min_wait_usec */
	unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	int fd = ring->ring_fd;
	if (loop->features & URS_FEAT_REG_RING_FD) {
		flags |= IORING_ENTER_REGISTERED_RING;
		fd = ring->enter_ring_fd;
	}
	return io_uring_enter2((unsigned)fd, to_submit, want, flags, (sigset_t *)&arg,
			       sizeof(arg));
}

/* One io_uring_enter: submit what is queued and wait for wait_nr completions. */
static int enter(urs_loop *loop, unsigned wait_nr)
{
	if (io_uring_cq_ready(&loop->ring))
		wait_nr = 0;
	loop->stats.enters++;
	/* Batch only when busy and only for what can come: no more than half the requests in
	 * the kernel (one stream cannot complete 32 times at once), and only after a turn that
	 * found several completions (a quiet loop must not wait). */
	unsigned want = loop->inflight / 2 < loop->batch ? loop->inflight / 2 : loop->batch;
	if (wait_nr == 1 && want > 1 && (loop->features & URS_FEAT_MIN_WAIT) &&
	    loop->last_reaped >= 4) {
		int ret = enter_batched(loop, want);
		return ret == -EINTR || ret == -EAGAIN || ret == -EBUSY || ret == -ETIME ? 0 : ret;
	}
	int ret = wait_nr ? io_uring_submit_and_wait(&loop->ring, wait_nr)
			  : io_uring_submit_and_get_events(&loop->ring);
	if (ret == -EINTR || ret == -EAGAIN || ret == -EBUSY || ret == -ETIME)
		ret = 0;
	return ret;
}

URS_API int urs_loop_run(urs_loop *loop, urs_run_mode mode)
{
	if (!loop || (unsigned)mode > URS_RUN_NOWAIT)
		return -EINVAL;
	if (loop->depth)
		return -EDEADLK;
	loop->stop = false;
	int handled = 0;
	for (;;) {
		bool idle = loop->active == 0 && !loop->ready && !io_uring_cq_ready(&loop->ring);
		if (idle && mode != URS_RUN_NOWAIT && !io_uring_sq_ready(&loop->ring))
			break;
		unsigned wait = (mode == URS_RUN_NOWAIT || loop->ready || idle) ? 0 : 1;
		int ret = enter(loop, wait);
		if (ret < 0)
			return ret;
		int n = reap(loop);
		loop->last_reaped = (unsigned)n;
		handled += n;
		if (mode != URS_RUN_UNTIL_IDLE || loop->stop)
			break;
	}
	return handled;
}

/* Drives the loop until op leaves OP_ACTIVE; used by urs_await. */
int urs__loop_until(urs_loop *loop, struct urs_op *op, int32_t gen)
{
	while (op->gen == gen && op->state == OP_ACTIVE) {
		int ret = enter(loop, loop->ready ? 0 : 1);
		if (ret < 0)
			return ret;
		reap(loop);
	}
	return 0;
}

URS_API void urs_loop_free(urs_loop *loop)
{
	if (!loop)
		return;
	loop->tearing_down = true;
	loop->depth = 0;
	/* Cancel everything pending; each future resolves (callbacks see -ECANCELED). */
	for (uint32_t c = 0; c < loop->nchunks; c++)
		for (uint32_t i = 0; i < OP_CHUNK; i++) {
			struct urs_op *op = &loop->chunks[c][i];
			if (op->state == OP_ACTIVE)
				urs__op_cancel(op);
		}
	while (loop->active || loop->ready) {
		if (enter(loop, loop->ready ? 0 : 1) < 0)
			break;
		reap(loop);
	}
	/* Results nobody consumed: give back their buffers and sockets. */
	for (uint32_t c = 0; c < loop->nchunks; c++)
		for (uint32_t i = 0; i < OP_CHUNK; i++) {
			struct urs_op *op = &loop->chunks[c][i];
			if (op->state == OP_DONE) {
				urs__result_drop(&op->r);
				urs__op_free(loop, op);
			}
		}
	while (loop->socks)
		urs__sock_destroy(loop->socks);
	urs__buf_fini(loop);
	io_uring_queue_exit(&loop->ring);
	urs__pool_free(loop);
	free(loop);
}
