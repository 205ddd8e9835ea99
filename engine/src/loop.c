/* SPDX-License-Identifier: MIT */
/* The loop: one ring per thread. A turn runs what is ready, submits and waits in one
 * io_uring_enter (hop 3), hands the completions to their ops and runs the callbacks
 * (hops 4-6); it times out ops waiting outside the kernel and never blocks when nothing
 * could wake it. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

static bool is_pow2(unsigned v) { return v && !(v & (v - 1)); }

/* Which backend: the one asked for, or io_uring unless the kernel refuses it. -ENOMEM is a
 * small RLIMIT_MEMLOCK, against which the ring's memory is charged: a smaller ring first. */
static int backend_init(urs_loop *loop, urs_loop_opts *o)
{
	unsigned want = o->backend;
	if (want == URS_BACKEND_AUTO) {
		const char *env = getenv("URSOCK_BACKEND");
		if (env && *env) {
			if (!strcmp(env, "epoll"))
				want = URS_BACKEND_EPOLL;
			else if (!strcmp(env, "uring") || !strcmp(env, "io_uring"))
				want = URS_BACKEND_URING;
			else if (strcmp(env, "auto"))
				return -EINVAL;
		}
	}
	if (want == URS_BACKEND_EPOLL)
		return urs__epoll_init(loop);
	int ret = urs__uring_init(loop, o);
	if (ret == -ENOMEM && want == URS_BACKEND_AUTO && o->sq_entries > 32) {
		urs_loop_opts small = *o;
		small.sq_entries = 32;
		small.cq_entries = 128;
		ret = urs__uring_init(loop, &small);
	}
	if (ret == 0 || want == URS_BACKEND_URING)
		return ret;
	if (ret != -EPERM && ret != -ENOSYS && ret != -EACCES && ret != -ENOMEM)
		return ret;
	loop->backend_why = ret;
	return urs__epoll_init(loop);
}

URS_API int urs_loop_new(urs_loop **out, const urs_loop_opts *opts)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	urs_loop_opts o = opts ? *opts : (urs_loop_opts){ 0 };
	for (size_t i = 0; i < sizeof(o.reserved) / sizeof(o.reserved[0]); i++)
		if (o.reserved[i])
			return -EINVAL; /* an option from a newer header */
	if (!o.sq_entries)
		o.sq_entries = 256;
	if (!o.cq_entries)
		o.cq_entries = 4 * o.sq_entries;
	if (!o.buf_count)
		o.buf_count = 1024;
	if (!o.buf_size)
		o.buf_size = 4096;
	if (!o.max_ops)
		o.max_ops = 65536;
	/* URSOCK_DISABLE=fixed_files,buf_ring: features off without rebuilding (a suspected
	 * kernel bug, a benchmark of what one feature buys). It only ever adds to opts. */
	const char *off = getenv("URSOCK_DISABLE");
	if (off) {
		unsigned bits;
		if (urs__features_parse(off, &bits) < 0)
			return -EINVAL;
		o.disable |= bits;
	}
	/* A buffer ring holds at most 32768 entries; a buffer id is 16 bits. */
	/* An op with a linked timeout needs two SQEs in one submission. */
	if (!is_pow2(o.buf_count) || o.buf_count > 32768 || o.buf_size > (1u << 30) ||
	    o.sq_entries < 2 || o.sq_entries > 32768 || o.backend > URS_BACKEND_EPOLL || o.cq_entries < o.sq_entries || o.cq_entries > 65536 ||
	    o.max_ops > (1u << 28) || o.send_buf_count > 16384 || o.send_buf_size > (1u << 30))
		return -EINVAL;

	urs_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->evfd = -1;
	urs__pool_init(loop);
	int ret = urs__socks_init(loop);
	if (ret == 0 && (ret = urs__posts_init(loop)) < 0)
		urs__socks_orphan(loop);
	if (ret < 0) {
		free(loop);
		return ret;
	}
	loop->max_ops = o.max_ops;
	loop->disabled = o.disable;
	urs__sendbuf_init(loop, &o);
	loop->batch = o.batch;
	loop->batch_wait_us = o.batch_wait_us;
	loop->stats.ops_max = o.max_ops;
	loop->stats.bufs_total = o.buf_count;
	ret = backend_init(loop, &o);
	if (ret < 0) {
		urs__posts_fini(loop);
		urs__socks_orphan(loop);
		free(loop);
		return ret;
	}
	ret = urs__buf_init(loop, &o);
	if (ret == 0)
		ret = loop->be->arm_wake(loop);
	if (ret < 0) {
		urs__buf_fini(loop);
		loop->be->fini(loop);
		urs__posts_fini(loop);
		urs__socks_orphan(loop);
		free(loop);
		return ret;
	}
	urs__probe_multishot(loop);
	urs__features_str(loop);
	*out = loop;
	return 0;
}

URS_API int urs_loop_fd(urs_loop *loop)
{
	return loop ? loop->be->fd(loop) : -EINVAL;
}
URS_API unsigned urs_loop_features(const urs_loop *loop) { return loop ? loop->features : 0; }
URS_API const char *urs_loop_features_str(urs_loop *loop) { return loop ? loop->feat_str : ""; }

URS_API void urs_loop_stats_get(const urs_loop *loop, urs_loop_stats *out)
{
	if (!loop || !out)
		return;
	*out = loop->stats;
	memset(out->reserved, 0, sizeof(out->reserved));
}

/* One turn. block: 0 never, 1 when something pending could end the wait, 2 for a wake
 * even with nothing pending (URS_RUN_UNTIL_STOP). Returns the number of resolutions,
 * events and posts handled, or -ENOBUFS when it was asked to block but nothing could ever
 * wake it: every pending op waits for a buffer the user holds, and none is in the kernel or
 * has a deadline. */
int urs__loop_turn(urs_loop *loop, int block)
{
	if (loop->evfd >= 0) {
		/* Cleared before looking: what arrives after this read signals it again. */
		uint64_t v;
		(void)!read(loop->evfd, &v, sizeof(v));
	}
	int n = urs__posts_run(loop);
	n += urs__ready_run(loop);
	if (loop->deadlines.n)
		n += urs__heap_expire(loop, urs__now_ns());
	n += urs__ready_run(loop);
	if (n)
		block = 0;
	if (block == 1 && !loop->be->can_wake(loop)) {
		if (!loop->active) {
			block = 0;
		} else if (!loop->deadlines.n) {
			loop->stats.stalls++;
			return -ENOBUFS;
		}
	}
	int reaped = loop->be->wait(loop, block != 0, urs__heap_next(loop));
	if (reaped < 0)
		return reaped;
	loop->last_reaped = (unsigned)reaped;
	n += reaped;
	if (loop->deadlines.n)
		n += urs__heap_expire(loop, urs__now_ns());
	n += urs__posts_run(loop);
	n += urs__ready_run(loop);
	urs__sock_reap_dead(loop);
	return n;
}

URS_API int urs_loop_run(urs_loop *loop, urs_run_mode mode)
{
	if (!loop || (unsigned)mode > URS_RUN_UNTIL_STOP)
		return -EINVAL;
	if (!urs__mine(loop))
		return -EXDEV;
	if (loop->depth)
		return -EDEADLK;
	/* urs_loop_stop before the run: one look, then return. */
	bool stopped = atomic_load(&loop->stop);
	int handled = 0;
	for (;;) {
		bool pending = loop->active || loop->ready;
		if (mode == URS_RUN_UNTIL_IDLE && !pending)
			break;
		int block = stopped || mode == URS_RUN_NOWAIT ? 0
			    : mode == URS_RUN_UNTIL_STOP       ? 2
			    : pending                          ? 1
							       : 0;
		int ret = urs__loop_turn(loop, block);
		if (ret < 0) {
			atomic_store(&loop->stop, false);
			return ret;
		}
		handled += ret;
		/* ONCE is one turn: a signal or a wake that ended the wait returns to the
		 * caller, who may have a flag to look at. */
		if (mode == URS_RUN_ONCE || mode == URS_RUN_NOWAIT || stopped ||
		    atomic_load(&loop->stop))
			break;
	}
	atomic_store(&loop->stop, false);
	/* What the callbacks started goes to the kernel before the caller sleeps elsewhere
	 * (a host loop polling urs_loop_fd would otherwise never hear of it). */
	loop->be->flush(loop);
	urs__sock_reap_dead(loop);
	return handled;
}

/* Runs turns until nothing is pending or in flight (teardown). */
static void drain(urs_loop *loop)
{
	/* Not for zero-copy notifications: one owed on a socket already closed gracefully
	 * comes only when its peer has read everything, maybe never. The kernel keeps the
	 * pages it sends from until then, whatever we unmap, and the ring's exit waits for it
	 * on its own. */
	while (loop->active || loop->ready ||
	       (loop->be->can_wake(loop) &&
		loop->inflight > loop->inflight_own + loop->sp.notifs_owed)) {
		if (urs__loop_turn(loop, 1) < 0)
			break;
	}
}

URS_API int urs_loop_free(urs_loop *loop)
{
	if (!loop)
		return 0;
	if (!urs__mine(loop))
		return -EXDEV;
	if (loop->depth)
		return -EDEADLK;
	/* What other threads posted runs first: a post is never lost. */
	atomic_store(&loop->wake_pending, true);
	urs__posts_run(loop);
	loop->tearing_down = true;
	/* Every socket closes at once and every op is cancelled; each future resolves
	 * (callbacks see -ECANCELED and may free what they own). */
	urs__sock_teardown_start(loop);
	uint32_t pos = 0;
	for (struct urs_op *op; (op = urs__op_iter(loop, &pos));)
		if (op->state == OP_WAITING || op->state == OP_KERNEL)
			urs__op_cancel(op);
	drain(loop);
	/* Results nobody consumed: their buffers go back, their sockets are freed. */
	pos = 0;
	for (struct urs_op *op; (op = urs__op_iter(loop, &pos));)
		if (op->state == OP_DONE && !(op->flags & OPF_READY)) {
			op->flags = (uint16_t)((op->flags & ~OPF_BOUND) | OPF_DETACHED);
			urs__future_resolved(op);
		}
	drain(loop);
	urs__sock_teardown(loop);
	bool lent = loop->stats.bufs_lent > 0;
	if (lent)
		urs__buf_orphan(loop);
	else
		urs__buf_fini(loop);
	loop->be->fini(loop);
	if (loop->evfd >= 0)
		close(loop->evfd);
	urs__posts_fini(loop);
	urs__heap_free(loop);
	urs__pool_free(loop);
	urs__socks_orphan(loop); /* husks the user still holds keep it until they are freed */
	free(loop->dns_servers);
	loop->dns_servers = NULL;
	if (lent) {
		/* Buffers the user still holds stay readable: the loop's memory goes when the
		 * last of them is released. */
		loop->zombie = true;
		return 0;
	}
	free(loop);
	return 0;
}
