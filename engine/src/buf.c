/* Provided buffers: one buffer ring per loop (group 0) from which the kernel picks a buffer
 * when data arrives; the buffer is lent to the user until urs_buf_release. Without a buffer
 * ring (an old kernel, a refused registration, or URS_FEAT_BUF_RING disabled) the same
 * buffers are handed out by us, one per receive, from a free stack. Either way every
 * buffer comes back through urs__buf_back, which wakes a receive waiting for one. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (n + pg - 1) & ~(pg - 1);
}

static void ring_add(urs_loop *loop, uint32_t id, int offset)
{
	loop->buf_in_ring++;
	io_uring_buf_ring_add(loop->br, urs__buf_addr(loop, id), loop->buf_size, (unsigned short)id,
			      io_uring_buf_ring_mask(loop->buf_count), offset);
}

static int ring_init(urs_loop *loop)
{
	loop->br_map_len = page_round(loop->buf_count * sizeof(struct io_uring_buf));
	void *p = mmap(NULL, loop->br_map_len, PROT_READ | PROT_WRITE,
		       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	loop->br = p;
	io_uring_buf_ring_init(loop->br);
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)p;
	reg.ring_entries = loop->buf_count;
	reg.bgid = 0;
	int ret = io_uring_register_buf_ring(&loop->ring, &reg, 0);
	if (ret < 0) {
		munmap(p, loop->br_map_len);
		loop->br = NULL;
		return ret;
	}
	for (uint32_t i = 0; i < loop->buf_count; i++)
		ring_add(loop, i, (int)i);
	io_uring_buf_ring_advance(loop->br, (int)loop->buf_count);
	return 0;
}

int urs__buf_init(urs_loop *loop, const urs_loop_opts *opts)
{
	loop->buf_count = opts->buf_count;
	loop->buf_size = opts->buf_size;
	loop->buf_map_len = page_round((size_t)loop->buf_count * loop->buf_size);
	/* Not populated: a page becomes resident when data first lands in it, so a quiet
	 * loop costs little (a busy one soon touches them all: the ring hands buffers out in
	 * turn). */
	void *p = mmap(NULL, loop->buf_map_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
		       -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	loop->buf_base = p;
	loop->buf_lent = calloc(loop->buf_count, 1);
	loop->buf_gen = calloc(loop->buf_count, sizeof(uint32_t));
	loop->buf_free = malloc(loop->buf_count * sizeof(uint32_t));
	if (!loop->buf_lent || !loop->buf_gen || !loop->buf_free)
		goto nomem;
	/* Fall back by trying; the reason is kept for urs_loop_features_str. */
	if (loop->features & URS_FEAT_BUF_RING) {
		int ret = ring_init(loop);
		if (ret < 0) {
			loop->features &= ~URS_FEAT_BUF_RING;
			loop->buf_ring_err = ret;
		}
	}
	if (!loop->br) {
		for (uint32_t i = 0; i < loop->buf_count; i++)
			loop->buf_free[i] = loop->buf_count - 1 - i;
		loop->buf_nfree = loop->buf_count;
	}
	return 0;
nomem:
	urs__buf_fini(loop);
	return -ENOMEM;
}

static void ring_fini(urs_loop *loop)
{
	if (loop->br) {
		io_uring_unregister_buf_ring(&loop->ring, 0);
		munmap(loop->br, loop->br_map_len);
		loop->br = NULL;
	}
}

void urs__buf_orphan(urs_loop *loop)
{
	ring_fini(loop);
}

void urs__buf_fini(urs_loop *loop)
{
	ring_fini(loop);
	if (loop->buf_base)
		munmap(loop->buf_base, loop->buf_map_len);
	loop->buf_base = NULL;
	free(loop->buf_lent);
	free(loop->buf_gen);
	free(loop->buf_free);
	loop->buf_lent = NULL;
	loop->buf_gen = NULL;
	loop->buf_free = NULL;
}

int urs__buf_claim(struct urs_op *op)
{
	urs_loop *loop = op->loop;
	if (loop->br || op->bid != URS_BUF_NONE)
		return 0;
	if (!loop->buf_nfree)
		return -ENOBUFS;
	op->bid = loop->buf_free[--loop->buf_nfree];
	return 0;
}

void urs__buf_take(struct urs_op *op, int res, uint32_t cflags, uint32_t keep)
{
	urs_loop *loop = op->loop;
	uint32_t id = op->bid;
	if (cflags & IORING_CQE_F_BUFFER) {
		id = cflags >> IORING_CQE_BUFFER_SHIFT;
		loop->buf_in_ring--;
	}
	op->bid = URS_BUF_NONE;
	op->blen = 0;
	op->bdata = NULL;
	if (id == URS_BUF_NONE)
		return;
	if (res <= 0) {
		urs__buf_back(loop, id);
		return;
	}
	uint32_t len = (uint32_t)res;
	if (len > keep)
		len = keep;
	if (len > loop->buf_size)
		len = loop->buf_size;
	op->bid = id;
	op->bdata = urs__buf_addr(loop, id);
	op->blen = len;
}

void urs__buf_back(urs_loop *loop, uint32_t id)
{
	if (loop->br) {
		ring_add(loop, id, 0);
		io_uring_buf_ring_advance(loop->br, 1);
	} else {
		loop->buf_free[loop->buf_nfree++] = id;
	}
	struct urs_op *w = urs__opq_pop(&loop->bufwait);
	if (w) {
		urs__op_unpark(w);
		urs__op_submit(w);
	}
}

void urs__buf_lend_op(struct urs_op *op, urs_buf *b)
{
	urs__buf_lend(op->loop, b, op->bid, op->bdata, op->blen);
	op->bid = URS_BUF_NONE;
	op->bdata = NULL;
	op->blen = 0;
}

void urs__buf_lend(urs_loop *loop, urs_buf *b, uint32_t id, char *data, uint32_t len)
{
	loop->buf_gen[id]++;
	b->data = data;
	b->len = len;
	b->id = id;
	b->gen = loop->buf_gen[id];
	b->loop = loop;
	loop->buf_lent[id] = 1;
	loop->stats.bufs_lent++;
}

/* Could a receive find a buffer now? A buffer the user released while the kernel was
 * answering -ENOBUFS woke nobody, so the waiter checks for itself. */
static bool bufs_free(const urs_loop *loop)
{
	return loop->br ? loop->buf_in_ring > 0 : loop->buf_nfree > 0;
}

enum op_next urs__buf_wait(struct urs_op *op)
{
	urs_loop *loop = op->loop;
	/* A non-blocking receive (the socket's mode, or MSG_DONTWAIT for this call) never
	 * waits, for a buffer neither; no byte was taken. */
	if (urs__op_dontwait(op)) {
		op->res = -EAGAIN;
		return NEXT_DECIDE;
	}
	loop->stats.nobufs++;
	if (bufs_free(loop) && !loop->bufwait.n)
		return NEXT_AGAIN;
	urs__op_park(op, &loop->bufwait);
	return NEXT_PARKED;
}

/* After CQEs were dropped the kernel may have taken buffers whose completions we never
 * saw: with nothing in the kernel any more, every buffer that is neither lent nor held by
 * an op's result is free again. */
void urs__buf_rebuild(urs_loop *loop)
{
	uint8_t *held = calloc(loop->buf_count, 1);
	if (!held)
		return;
	for (uint32_t i = 0; i < loop->buf_count; i++)
		held[i] = loop->buf_lent[i];
	for (uint32_t c = 0; c < loop->nchunks; c++)
		for (uint32_t i = 0; i < OP_CHUNK; i++) {
			struct urs_op *op = &loop->chunks[c][i];
			if (op->state != OP_FREE && op->bid != URS_BUF_NONE && op->bid < loop->buf_count)
				held[op->bid] = 1;
		}
	if (loop->br) {
		io_uring_buf_ring_init(loop->br);
		loop->buf_in_ring = 0;
		int n = 0;
		for (uint32_t i = 0; i < loop->buf_count; i++)
			if (!held[i])
				ring_add(loop, i, n++);
		io_uring_buf_ring_advance(loop->br, n);
	} else {
		loop->buf_nfree = 0;
		for (uint32_t i = loop->buf_count; i-- > 0;)
			if (!held[i])
				loop->buf_free[loop->buf_nfree++] = i;
	}
	free(held);
}

URS_API int urs_buf_release(urs_buf *b)
{
	if (!b)
		return -EINVAL;
	if (b->id == URS_BUF_NONE)
		return 0;
	urs_loop *loop = b->loop;
	if (!loop || b->id >= loop->buf_count)
		return -EINVAL;
	if (!loop->zombie && !urs__mine(loop))
		return -EXDEV;
	uint32_t cur = loop->buf_gen[b->id];
	if (b->gen == 0 || cur == 0)
		return -EINVAL; /* generations start at 1: never lent */
	if (b->gen != cur)
		/* A copy from an earlier lending (already given back), or a made-up one. */
		return (int32_t)(cur - b->gen) > 0 ? -EALREADY : -EINVAL;
	if (!loop->buf_lent[b->id])
		return -EALREADY;
	loop->buf_lent[b->id] = 0;
	loop->stats.bufs_lent--;
	uint32_t id = b->id;
	b->id = URS_BUF_NONE;
	b->data = NULL;
	b->len = 0;
	if (loop->zombie) {
		/* The loop is gone; the last buffer given back takes what was left of it. */
		if (!loop->stats.bufs_lent) {
			urs__buf_fini(loop);
			free(loop);
		}
		return 0;
	}
	urs__buf_back(loop, id);
	return 0;
}
