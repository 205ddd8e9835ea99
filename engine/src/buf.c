/* SPDX-License-Identifier: MIT */
/* Provided buffers, in two groups. Group 0 holds the loop's buffers (buf_count of buf_size
 * bytes, made with the loop): every receive of a byte stream, and every receive that asked
 * for no more than buf_size. Group 1 holds a few message buffers of 64 KiB and room for a
 * recvmsg header (URS_MSG_BUF bytes), made at the first receive that needs one: a datagram
 * or seqpacket message of any size up to 64 KiB then arrives whole in recv, recvfrom and
 * the recvfrom stream, whatever buf_size is (docs/DESIGN.md, kernel-notes/message-buffers.md).
 * Each group is a buffer ring (its own group id) from which the kernel picks a buffer when
 * data arrives; without one (an old kernel, a refused registration, URS_FEAT_BUF_RING
 * disabled) the same buffers are handed out by us, one per receive, from a free stack.
 * Buffer ids are global (group 1's follow group 0's), so a lent urs_buf names its buffer
 * alone. Every buffer comes back through urs__buf_back, which wakes a receive of its group
 * waiting for one. */
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

struct urs_bufgroup *urs__bg_of_id(urs_loop *loop, uint32_t id)
{
	return id >= loop->bg[1].first && loop->bg[1].count ? &loop->bg[1] : &loop->bg[0];
}

static void ring_add(struct urs_bufgroup *g, uint32_t id, int offset)
{
	g->in_ring++;
	io_uring_buf_ring_add(g->br, g->base + (size_t)(id - g->first) * g->size, g->size,
			      (unsigned short)id, io_uring_buf_ring_mask(g->count), offset);
}

static int ring_init(urs_loop *loop, struct urs_bufgroup *g, unsigned bgid)
{
	g->br_map_len = page_round(g->count * sizeof(struct io_uring_buf));
	void *p = mmap(NULL, g->br_map_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
		       -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	g->br = p;
	io_uring_buf_ring_init(g->br);
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)p;
	reg.ring_entries = g->count;
	reg.bgid = (uint16_t)bgid;
	int ret = io_uring_register_buf_ring(&loop->ring, &reg, 0);
	if (ret < 0) {
		munmap(p, g->br_map_len);
		g->br = NULL;
		return ret;
	}
	for (uint32_t i = 0; i < g->count; i++)
		ring_add(g, g->first + i, (int)i);
	io_uring_buf_ring_advance(g->br, (int)g->count);
	return 0;
}

/* The group's memory, its free stack and, where the loop has buffer rings, its ring. Not
 * populated: a page becomes resident when data first lands in it, so a quiet loop costs
 * little (a busy one soon touches all of the loop's own buffers: the ring hands them out in
 * turn), and a small datagram touches one page of a 64 KiB message buffer. */
static int group_init(urs_loop *loop, unsigned bgid)
{
	struct urs_bufgroup *g = &loop->bg[bgid];
	g->map_len = page_round((size_t)g->count * g->size);
	void *p = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	g->base = p;
	g->free = malloc(g->count * sizeof(uint32_t));
	if (!g->free) {
		munmap(p, g->map_len);
		g->base = NULL;
		return -ENOMEM;
	}
	/* Fall back by trying; the reason is kept for urs_loop_features_str. */
	if (loop->features & URS_FEAT_BUF_RING) {
		int ret = ring_init(loop, g, bgid);
		if (ret < 0) {
			if (bgid == 0)
				loop->features &= ~URS_FEAT_BUF_RING;
			g->ring_err = ret;
		}
	}
	if (!g->br) {
		for (uint32_t i = 0; i < g->count; i++)
			g->free[i] = g->first + g->count - 1 - i;
		g->nfree = g->count;
	}
	g->made = true;
	return 0;
}

int urs__buf_init(urs_loop *loop, const urs_loop_opts *opts)
{
	loop->buf_count = opts->buf_count;
	loop->buf_size = opts->buf_size;
	loop->bg[0].count = opts->buf_count;
	loop->bg[0].size = opts->buf_size;
	loop->bg[0].first = 0;
	/* As many message buffers as the loop has buffers, up to URS_MSG_BUFS: a loop made
	 * with few buffers (to test waiting for one) has few of these too. */
	loop->bg[1].count = opts->buf_count < URS_MSG_BUFS ? opts->buf_count : URS_MSG_BUFS;
	loop->bg[1].size = URS_MSG_BUF;
	loop->bg[1].first = opts->buf_count;
	uint32_t total = loop->bg[0].count + loop->bg[1].count;
	loop->buf_lent = calloc(total, 1);
	loop->buf_gen = calloc(total, sizeof(uint32_t));
	if (!loop->buf_lent || !loop->buf_gen)
		goto nomem;
	int ret = group_init(loop, 0);
	if (ret < 0)
		goto fail;
	loop->buf_ring_err = loop->bg[0].ring_err;
	return 0;
nomem:
	ret = -ENOMEM;
fail:
	urs__buf_fini(loop);
	return ret;
}

int urs__buf_group_need(urs_loop *loop, unsigned bgid)
{
	if (loop->bg[bgid].made)
		return 0;
	int ret = group_init(loop, bgid);
	if (ret == 0) /* lent counts these too: the total must, or "all lent" lies */
		loop->stats.bufs_total += loop->bg[bgid].count;
	return ret;
}

unsigned urs__buf_group_for(const urs_sock *s, size_t want)
{
	if (s->type == SOCK_STREAM || want <= s->loop->buf_size)
		return 0;
	return 1;
}

static void ring_fini(urs_loop *loop, struct urs_bufgroup *g, unsigned bgid)
{
	if (g->br) {
		io_uring_unregister_buf_ring(&loop->ring, (int)bgid);
		munmap(g->br, g->br_map_len);
		g->br = NULL;
	}
}

void urs__buf_orphan(urs_loop *loop)
{
	for (unsigned i = 0; i < URS_BG_COUNT; i++)
		ring_fini(loop, &loop->bg[i], i);
	urs__sendbuf_orphan(loop);
}

void urs__buf_fini(urs_loop *loop)
{
	for (unsigned i = 0; i < URS_BG_COUNT; i++) {
		struct urs_bufgroup *g = &loop->bg[i];
		ring_fini(loop, g, i);
		if (g->base)
			munmap(g->base, g->map_len);
		g->base = NULL;
		free(g->free);
		g->free = NULL;
		g->made = false;
	}
	urs__sendbuf_fini(loop);
	free(loop->buf_lent);
	free(loop->buf_gen);
	loop->buf_lent = NULL;
	loop->buf_gen = NULL;
}

int urs__buf_claim(struct urs_op *op)
{
	struct urs_bufgroup *g = &urs__op_loop(op)->bg[op->bgroup];
	if (g->br || op->bid != URS_BUF_NONE)
		return 0;
	if (!g->nfree)
		return -ENOBUFS;
	op->bid = g->free[--g->nfree];
	return 0;
}

uint32_t urs__buf_take(struct urs_op *op, int res, uint32_t cflags, uint32_t keep)
{
	urs_loop *loop = urs__op_loop(op);
	struct urs_opx *x = urs__op_x(op);
	uint32_t id = op->bid;
	if (cflags & IORING_CQE_F_BUFFER) {
		id = cflags >> IORING_CQE_BUFFER_SHIFT;
		urs__bg_of_id(loop, id)->in_ring--;
	}
	op->bid = URS_BUF_NONE;
	if (x) {
		x->blen = 0;
		x->bdata = NULL;
	}
	if (id == URS_BUF_NONE)
		return 0;
	if (res <= 0) {
		urs__buf_back(loop, id);
		return 0;
	}
	struct urs_bufgroup *g = urs__bg_of_id(loop, id);
	uint32_t len = (uint32_t)res;
	if (len > keep)
		len = keep;
	if (len > g->size)
		len = g->size;
	op->bid = id;
	if (x) {
		x->bdata = urs__buf_addr(loop, id);
		x->blen = len;
	}
	return len;
}

void urs__buf_back(urs_loop *loop, uint32_t id)
{
	struct urs_bufgroup *g = urs__bg_of_id(loop, id);
	if (g->br) {
		ring_add(g, id, 0);
		io_uring_buf_ring_advance(g->br, 1);
	} else {
		g->free[g->nfree++] = id;
	}
	struct urs_op *w = urs__opq_pop(loop, &g->wait);
	if (w) {
		urs__op_unpark(w);
		urs__op_submit(w);
	}
}

void urs__buf_lend_op(struct urs_op *op, urs_buf *b)
{
	struct urs_opx *x = urs__op_x(op);
	urs__buf_lend(urs__op_loop(op), b, op->bid, x->bdata, x->blen);
	op->bid = URS_BUF_NONE;
	x->bdata = NULL;
	x->blen = 0;
}

void urs__buf_lend_taken(struct urs_op *op, urs_buf *b, uint32_t len)
{
	urs__buf_lend(urs__op_loop(op), b, op->bid, urs__buf_addr(urs__op_loop(op), op->bid), len);
	op->bid = URS_BUF_NONE;
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

/* Could a receive of group g find a buffer now? A buffer the user released while the
 * kernel was answering -ENOBUFS woke nobody, so the waiter checks for itself. */
static bool bufs_free(const struct urs_bufgroup *g)
{
	return g->br ? g->in_ring > 0 : g->nfree > 0;
}

enum op_next urs__buf_wait(struct urs_op *op)
{
	urs_loop *loop = urs__op_loop(op);
	struct urs_bufgroup *g = &loop->bg[op->bgroup];
	/* A non-blocking receive (the socket's mode, or MSG_DONTWAIT for this call) never
	 * waits, for a buffer neither; no byte was taken. */
	if (urs__op_dontwait(op)) {
		op->res = -EAGAIN;
		return NEXT_DECIDE;
	}
	loop->stats.nobufs++;
	if (bufs_free(g) && !g->wait.head)
		return NEXT_AGAIN;
	urs__op_park(op, &g->wait);
	return NEXT_PARKED;
}

uint32_t urs__buf_waiting(const urs_loop *loop)
{
	return loop->bufwait; /* counted as they enter and leave the groups' queues */
}

/* After CQEs were dropped the kernel may have taken buffers whose completions we never
 * saw: with nothing in the kernel any more, every buffer that is neither lent nor held by
 * an op's result is free again. */
void urs__buf_rebuild(urs_loop *loop)
{
	uint32_t total = loop->bg[0].count + loop->bg[1].count;
	uint8_t *held = calloc(total, 1);
	if (!held)
		return;
	for (uint32_t i = 0; i < total; i++)
		held[i] = loop->buf_lent[i];
	for (uint32_t c = 0; c < loop->nchunks; c++)
		for (uint32_t i = 1; i <= urs__op_chunk_n(loop, c); i++) {
			struct urs_op *op = &loop->chunks[c][i];
			if (op->state != OP_FREE && op->bid != URS_BUF_NONE && op->bid < total)
				held[op->bid] = 1;
		}
	for (unsigned b = 0; b < URS_BG_COUNT; b++) {
		struct urs_bufgroup *g = &loop->bg[b];
		if (!g->made)
			continue;
		if (g->br) {
			io_uring_buf_ring_init(g->br);
			g->in_ring = 0;
			int n = 0;
			for (uint32_t i = g->first; i < g->first + g->count; i++)
				if (!held[i])
					ring_add(g, i, n++);
			io_uring_buf_ring_advance(g->br, n);
		} else {
			g->nfree = 0;
			for (uint32_t i = g->first + g->count; i-- > g->first;)
				if (!held[i])
					g->free[g->nfree++] = i;
		}
	}
	free(held);
}

int urs__buf_check(const urs_buf *b)
{
	urs_loop *loop = b->loop;
	if (!loop || b->id >= loop->bg[0].count + loop->bg[1].count)
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
	return 0;
}

void urs__buf_unlend(urs_loop *loop, uint32_t id)
{
	loop->buf_lent[id] = 0;
	loop->stats.bufs_lent--;
}

URS_API int urs_buf_release(urs_buf *b)
{
	if (!b)
		return -EINVAL;
	if (b->id == URS_BUF_NONE)
		return 0;
	if (urs__is_sendbuf(b->id))
		return urs__sendbuf_release(b);
	int ret = urs__buf_check(b);
	if (ret < 0)
		return ret;
	urs_loop *loop = b->loop;
	uint32_t id = b->id;
	urs__buf_unlend(loop, id);
	b->id = URS_BUF_NONE;
	b->data = NULL;
	b->len = 0;
	if (loop->zombie) {
		urs__buf_zombie_check(loop);
		return 0;
	}
	urs__buf_back(loop, id);
	return 0;
}

void urs__buf_zombie_check(urs_loop *loop)
{
	/* The loop is gone; the last buffer given back takes what was left of it. */
	if (!loop->stats.bufs_lent) {
		urs__buf_fini(loop);
		free(loop);
	}
}
