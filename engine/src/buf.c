/* SPDX-License-Identifier: MIT */
/* Provided buffers, in up to three groups. Group 0 holds the loop's buffers (buf_count of
 * buf_size bytes, made with the loop): every receive of a byte stream, and every receive
 * that asked for no more than buf_size. Group 1 holds a few message buffers of 64 KiB and
 * room for a recvmsg header (URS_MSG_BUF bytes), made at the first receive that needs one:
 * a datagram or seqpacket message of any size up to 64 KiB then arrives whole in recv,
 * recvfrom and the recvfrom stream, whatever buf_size is (kernel-notes/message-buffers.md).
 * Each group is a buffer ring (its own group id) from which the kernel picks a buffer when
 * data arrives; without one (an old kernel, a refused registration, URS_FEAT_BUF_RING
 * disabled) the same buffers are handed out by us, one per receive, from a free stack.
 *
 * Incremental consumption (6.12, URS_FEAT_BUF_INC, kernel-notes/incremental-buffers.md):
 * group 0's ring is registered so that the kernel fills a buffer piece by piece, each
 * completion taking only the bytes it received, so a 64-byte message does not take a
 * whole buffer. The kernel would also cut a datagram at the end of a partly filled buffer
 * (and count what it dropped as used), so beside such a ring the messages that would have
 * used group 0 take group 2, plain buffers of the loop's size made at first use.
 *
 * Pieces and lendings: what the user holds (a urs_buf) is a piece of a buffer, named by a
 * lending slot with a generation. A buffer's own slot (slot = its id) serves its first
 * piece; further pieces out at once take extra slots. A buffer goes back to its group when
 * no piece of it is held — by an op's result or by the user — and the kernel is no longer
 * filling it; every way a piece comes back is urs__buf_back or urs_buf_release, which wake
 * a receive of the group waiting for a buffer. Buffer ids are global (group 1's follow
 * group 0's, group 2's group 1's), so a slot names its buffer alone. */
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
	for (unsigned i = URS_BG_COUNT - 1; i > 0; i--)
		if (loop->bg[i].count && id >= loop->bg[i].first)
			return &loop->bg[i];
	return &loop->bg[0];
}

static uint32_t slot_bid(const urs_loop *loop, uint32_t slot)
{
	return slot < loop->nbufs ? slot : loop->lend_bid[slot - loop->nbufs];
}

/* ---------------------------------------------------------------- rings */

/* The ring names a buffer by its index in the group, so every group's ids fit the ring's
 * 16 bits. The position it goes to is remembered: a bundle's later buffers are the ones
 * after its first in ring order. */
static void ring_add(struct urs_bufgroup *g, uint32_t id, int offset)
{
	uint16_t local = (uint16_t)(id - g->first);
	uint16_t pos = (uint16_t)(g->br->tail + offset);
	g->at[pos & (g->count - 1)] = local;
	g->pos[local] = pos;
	g->in_ring++;
	io_uring_buf_ring_add(g->br, g->base + (size_t)local * g->size, g->size, local,
			      io_uring_buf_ring_mask(g->count), offset);
}

static int ring_register(urs_loop *loop, struct urs_bufgroup *g, unsigned bgid, bool inc)
{
	struct io_uring_buf_reg reg;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)g->br;
	reg.ring_entries = g->count;
	reg.bgid = (uint16_t)bgid;
	reg.pad = inc ? URS_PBUF_RING_INC : 0; /* "flags" in newer headers */
	io_uring_buf_ring_init(g->br);
	int ret = io_uring_register_buf_ring(&loop->ring, &reg, 0);
	if (ret == 0)
		g->inc = inc;
	return ret;
}

/* Puts every buffer of g that nothing holds into its ring (or its free stack). */
static void group_fill(urs_loop *loop, struct urs_bufgroup *g)
{
	g->in_ring = 0;
	g->nfree = 0;
	int n = 0;
	/* Lowest ids first out of both: the ring in id order, the stack from the top. */
	for (uint32_t k = 0; k < g->count; k++) {
		uint32_t i = g->br ? g->first + k : g->first + g->count - 1 - k;
		struct urs_bufstate *b = &loop->bstate[i];
		/* Written only when set: a new loop's states stay untouched zero pages. */
		if (b->more)
			b->more = false;
		if (b->pieces)
			continue;
		if (b->off)
			b->off = 0;
		if (g->br)
			ring_add(g, i, n++);
		else
			g->free[g->nfree++] = i;
	}
	if (g->br)
		io_uring_buf_ring_advance(g->br, n);
}

static int ring_init(urs_loop *loop, struct urs_bufgroup *g, unsigned bgid, bool inc)
{
	g->br_map_len = page_round(g->count * sizeof(struct io_uring_buf));
	void *p = mmap(NULL, g->br_map_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
		       -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	g->br = p;
	g->at = malloc(2 * g->count * sizeof(uint16_t));
	int ret = g->at ? ring_register(loop, g, bgid, inc) : -ENOMEM;
	if (ret == -EINVAL && inc) {
		/* A kernel before 6.12 refuses the flag: a plain ring, as before. */
		loop->features &= ~URS_FEAT_BUF_INC;
		ret = ring_register(loop, g, bgid, false);
	}
	if (ret < 0) {
		munmap(p, g->br_map_len);
		free(g->at);
		g->at = NULL;
		g->br = NULL;
		return ret;
	}
	g->pos = g->at + g->count;
	return 0;
}

static void ring_fini(urs_loop *loop, struct urs_bufgroup *g, unsigned bgid)
{
	if (g->br) {
		io_uring_unregister_buf_ring(&loop->ring, (int)bgid);
		munmap(g->br, g->br_map_len);
		g->br = NULL;
	}
	free(g->at);
	g->at = g->pos = NULL;
}

/* The group's memory, its free stack and, where the loop has buffer rings, its ring. Not
 * populated: a page becomes resident when data first lands in it, so a quiet loop costs
 * little, and a small datagram touches one page of a 64 KiB message buffer. With a plain
 * ring a busy loop soon touches every buffer (the ring hands them out in turn); with an
 * incremental one, small messages share the pages of the buffer being filled. */
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
		bool inc = bgid == URS_BG_LOOP && (loop->features & URS_FEAT_BUF_INC);
		int ret = ring_init(loop, g, bgid, inc);
		if (ret < 0) {
			if (bgid == URS_BG_LOOP)
				loop->features &= ~(URS_FEAT_BUF_RING | URS_FEAT_BUF_INC);
			g->ring_err = ret;
		}
	}
	if (bgid == URS_BG_LOOP && !g->inc)
		loop->features &= ~URS_FEAT_BUF_INC;
	g->made = true;
	return 0;
}

/* ---------------------------------------------------------------- lending slots */

/* Extra slots, for pieces of a buffer beyond the first out at once. Handles are indices,
 * so the arrays may move. */
static int lend_grow(urs_loop *loop, uint32_t need)
{
	uint32_t extra = loop->nlend - loop->nbufs;
	uint32_t more = extra > need ? extra : need;
	if (more < 64)
		more = 64;
	if (more > UINT32_MAX - 1 - loop->nlend)
		return -ENOMEM;
	uint32_t n = loop->nlend + more;
	uint32_t *gen = realloc(loop->lend_gen, n * sizeof(*gen));
	if (!gen)
		return -ENOMEM;
	loop->lend_gen = gen;
	uint8_t *st = realloc(loop->lend_state, n);
	if (!st)
		return -ENOMEM;
	loop->lend_state = st;
	uint32_t *bid = realloc(loop->lend_bid, (extra + more) * sizeof(*bid));
	if (!bid)
		return -ENOMEM;
	loop->lend_bid = bid;
	uint32_t *fr = realloc(loop->lend_free, (extra + more) * sizeof(*fr));
	if (!fr)
		return -ENOMEM;
	loop->lend_free = fr;
	memset(gen + loop->nlend, 0, more * sizeof(*gen));
	memset(st + loop->nlend, LEND_FREE, more);
	for (uint32_t i = n; i-- > loop->nlend;)
		loop->lend_free[loop->nlend_free++] = i;
	loop->nlend = n;
	return 0;
}

uint32_t urs__buf_reserve(urs_loop *loop, uint32_t n)
{
	if (!loop->bg[URS_BG_LOOP].inc || loop->nlend_free >= n)
		return n;
	if (lend_grow(loop, n - loop->nlend_free) < 0)
		return loop->nlend_free;
	return n;
}

/* A slot for a new piece of buffer id, held for an op: the buffer's own when it is free,
 * else an extra one. URS_BUF_NONE only when memory ran out (urs__buf_reserve makes room
 * before completions are handled, so it does not happen there). */
static uint32_t slot_take(urs_loop *loop, uint32_t id)
{
	uint32_t slot = id;
	if (loop->lend_state[id] != LEND_FREE) {
		if (!loop->nlend_free && lend_grow(loop, 1) < 0)
			return URS_BUF_NONE;
		slot = loop->lend_free[--loop->nlend_free];
		loop->lend_bid[slot - loop->nbufs] = id;
	}
	loop->lend_state[slot] = LEND_OP;
	loop->bstate[id].pieces++;
	return slot;
}

/* Could a receive of group g find a buffer now? A buffer the user released while the
 * kernel was answering -ENOBUFS woke nobody, so the waiter checks for itself. */
static bool bufs_free(const struct urs_bufgroup *g)
{
	return g->br ? g->in_ring > 0 : g->nfree > 0;
}

/* A receive waiting for a buffer of g goes on. One whose wait has already ended (its
 * deadline passed) is decided by the submission, and the next one goes on instead. */
static void wake_one(urs_loop *loop, struct urs_bufgroup *g)
{
	struct urs_op *w;
	while ((w = urs__opq_pop(loop, &g->wait))) {
		bool live = !(w->flags & OPF_CANCEL) &&
			    !(urs__op_deadline(w) && urs__deadline_left(w) <= 0);
		urs__op_unpark(w);
		urs__op_submit(w);
		if (live)
			return;
	}
}

/* The buffer goes back to the kernel (or the free stack), and a receive of its group
 * waiting for a buffer goes on. */
static void give_back(urs_loop *loop, uint32_t id)
{
	struct urs_bufgroup *g = urs__bg_of_id(loop, id);
	loop->bstate[id].off = 0;
	if (g->br) {
		ring_add(g, id, 0);
		io_uring_buf_ring_advance(g->br, 1);
	} else {
		g->free[g->nfree++] = id;
	}
	wake_one(loop, g);
}

/* A piece is done: its slot is free, and its buffer goes back once nothing holds it and
 * the kernel is not filling it. */
static void piece_done(urs_loop *loop, uint32_t slot)
{
	uint32_t id = slot_bid(loop, slot);
	loop->lend_state[slot] = LEND_FREE;
	if (slot >= loop->nbufs)
		loop->lend_free[loop->nlend_free++] = slot;
	struct urs_bufstate *b = &loop->bstate[id];
	if (--b->pieces == 0 && !b->more)
		give_back(loop, id);
}

/* ---------------------------------------------------------------- set-up */

int urs__buf_init(urs_loop *loop, const urs_loop_opts *opts)
{
	loop->buf_count = opts->buf_count;
	loop->buf_size = opts->buf_size;
	struct urs_bufgroup *g0 = &loop->bg[URS_BG_LOOP], *g1 = &loop->bg[URS_BG_MSG],
			    *g2 = &loop->bg[URS_BG_SMALL];
	g0->count = opts->buf_count;
	g0->size = opts->buf_size;
	g0->first = 0;
	int ret = group_init(loop, URS_BG_LOOP);
	if (ret < 0)
		return ret;
	/* As many message buffers as the loop has buffers, up to URS_MSG_BUFS: a loop made
	 * with few buffers (to test waiting for one) has few of these too. */
	g1->count = opts->buf_count < URS_MSG_BUFS ? opts->buf_count : URS_MSG_BUFS;
	g1->size = URS_MSG_BUF;
	g1->first = g0->count;
	g2->count = g0->inc ? g0->count : 0;
	g2->size = g0->size;
	g2->first = g1->first + g1->count;
	loop->nbufs = g0->count + g1->count + g2->count;
	loop->nlend = loop->nbufs;
	loop->bstate = calloc(loop->nbufs, sizeof(*loop->bstate));
	loop->lend_gen = calloc(loop->nlend, sizeof(*loop->lend_gen));
	loop->lend_state = calloc(loop->nlend, 1);
	loop->pieces = malloc(g0->count * sizeof(*loop->pieces));
	if (!loop->bstate || !loop->lend_gen || !loop->lend_state || !loop->pieces) {
		urs__buf_fini(loop);
		return -ENOMEM;
	}
	group_fill(loop, g0);
	loop->buf_ring_err = g0->ring_err;
	return 0;
}

int urs__buf_group_need(urs_loop *loop, unsigned bgid)
{
	struct urs_bufgroup *g = &loop->bg[bgid];
	if (g->made)
		return 0;
	int ret = group_init(loop, bgid);
	if (ret == 0) {
		group_fill(loop, g);
		/* lent counts these too: the total must, or "all lent" lies */
		loop->stats.bufs_total += g->count;
	}
	return ret;
}

unsigned urs__buf_group_for(const urs_sock *s, size_t want, int flags)
{
	if (s->type == SOCK_STREAM)
		return (flags & MSG_WAITALL) && s->loop->bg[URS_BG_SMALL].count ? URS_BG_SMALL
										: URS_BG_LOOP;
	if (want > s->loop->buf_size)
		return URS_BG_MSG;
	return s->loop->bg[URS_BG_SMALL].count ? URS_BG_SMALL : URS_BG_LOOP;
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
	free(loop->bstate);
	free(loop->lend_gen);
	free(loop->lend_state);
	free(loop->lend_bid);
	free(loop->lend_free);
	free(loop->pieces);
	loop->bstate = NULL;
	loop->lend_gen = NULL;
	loop->lend_state = NULL;
	loop->lend_bid = loop->lend_free = NULL;
	loop->pieces = NULL;
}

/* ---------------------------------------------------------------- receiving */

int urs__buf_claim(struct urs_op *op)
{
	struct urs_bufgroup *g = &urs__op_loop(op)->bg[op->bgroup];
	if (g->br || op->bid != URS_BUF_NONE)
		return 0;
	if (!g->nfree)
		return -ENOBUFS;
	/* A free buffer has no piece out: its own slot is free, so the slot is its id. */
	uint32_t id = g->free[g->nfree - 1];
	uint32_t slot = slot_take(urs__op_loop(op), id);
	if (slot == URS_BUF_NONE)
		return -ENOBUFS;
	g->nfree--;
	op->bid = slot;
	return 0;
}

/* The pieces of a completion from g's ring: res bytes from the buffer cflags names on.
 * One buffer, unless the receive was a bundle or an incremental buffer ended before the
 * bytes did (the kernel then went on into the next buffers, in ring order). The last
 * buffer of an incremental ring stays the kernel's when the completion says BUF_MORE. */
static uint32_t ring_pieces(urs_loop *loop, struct urs_bufgroup *g, int res, uint32_t cflags,
			    bool bundle)
{
	uint32_t id = g->first + (cflags >> IORING_CQE_BUFFER_SHIFT);
	if (id >= g->first + g->count)
		return 0;
	if (res <= 0) {
		/* Nothing landed. A plain ring moved on past the buffer: it comes back now.
		 * An incremental one did not consume anything (the kernel commits the bytes
		 * received, none here): the buffer is still in the ring. */
		if (!g->inc) {
			g->in_ring--;
			give_back(loop, id);
		}
		return 0;
	}
	uint32_t left = (uint32_t)res, n = 0, mask = g->count - 1;
	uint16_t pos = g->pos[id - g->first];
	for (;;) {
		struct urs_bufstate *b = &loop->bstate[id];
		uint32_t room = g->size - b->off;
		uint32_t len = left < room ? left : room;
		bool go_on = left > room && (g->inc || bundle);
		char *data = g->base + (size_t)(id - g->first) * g->size + b->off;
		if (g->inc)
			b->off += len;
		if (!go_on && g->inc && (cflags & IORING_CQE_F_BUF_MORE)) {
			b->more = true; /* still in the ring, at its head */
		} else {
			b->more = false;
			g->in_ring--;
		}
		uint32_t slot = slot_take(loop, id);
		if (slot == URS_BUF_NONE) {
			/* No memory for a lending slot (never after urs__buf_reserve): the
			 * bytes cannot be handed over. */
			if (!b->pieces && !b->more)
				give_back(loop, id);
		} else {
			loop->pieces[n++] = (struct urs_piece){ slot, len, data };
		}
		if (!go_on)
			break;
		left -= len;
		pos++;
		uint16_t next = g->at[pos & mask];
		/* The entry at that position must still be the one the kernel took: it is,
		 * unless completions came back in another order than the kernel took their
		 * buffers (never seen; the -EBADR recovery then rebuilds the rings). */
		if (g->pos[next] != pos || loop->bstate[g->first + next].pieces ||
		    loop->bstate[g->first + next].off) {
			loop->buf_lost = true;
			break;
		}
		id = g->first + next;
	}
	return n;
}

/* A buffer back wakes one waiter, but an incremental buffer serves many receives, and an
 * end of stream or an error takes none of it: while the group has room, every receive of
 * it that completes wakes the next waiter, so none sleeps beside a free buffer. */
static void wake_more(urs_loop *loop, struct urs_bufgroup *g)
{
	if (g->wait.head && bufs_free(g))
		wake_one(loop, g);
}

/* Where an incremental buffer is filled next is known only by following its completions
 * in the order the kernel posted them. An op with a linked timeout has its complete() run
 * at its last CQE, and another op's completion from the same buffer may come in between
 * (the timeout's CQE is posted after it when the CQ overflows): its piece is taken at its
 * own CQE instead. A receive with a linked timeout takes one buffer (never a bundle:
 * recv_stream_prepare), so one piece; its side part keeps the view (a try-once receive
 * without one gets it now). */
void urs__buf_early(struct urs_op *op, int res, uint32_t cflags)
{
	urs_loop *loop = urs__op_loop(op);
	struct urs_bufgroup *g = &loop->bg[op->bgroup];
	if (!g->inc || (op->flags & OPF_BUNDLE))
		return; /* a whole buffer from its start: where it was filled needs no order */
	if (urs__op_need_x(op) < 0) {
		loop->buf_lost = true; /* no room to keep the view: the recovery sorts it out */
		op->flags |= OPF_LOST;
		return;
	}
	struct urs_opx *x = urs__op_x(op);
	op->bid = URS_BUF_NONE;
	op->cflags &= (uint16_t)~IORING_CQE_F_BUFFER;
	op->flags |= OPF_EARLY;
	uint32_t n = ring_pieces(loop, g, res, cflags, false);
	if (loop->buf_lost)
		op->flags |= OPF_LOST;
	x->bdata = NULL;
	x->blen = 0;
	if (n) {
		op->bid = loop->pieces[0].slot;
		x->bdata = loop->pieces[0].data;
		x->blen = loop->pieces[0].len;
	}
	for (uint32_t i = 1; i < n; i++) /* bytes counted past the buffer's end (MSG_TRUNC) */
		urs__buf_back(loop, loop->pieces[i].slot);
}

uint32_t urs__buf_pieces(struct urs_op *op, int res, uint32_t cflags)
{
	urs_loop *loop = urs__op_loop(op);
	struct urs_bufgroup *g = &loop->bg[op->bgroup];
	struct urs_opx *x = urs__op_x(op);
	uint32_t slot = op->bid;
	op->bid = URS_BUF_NONE;
	if (op->flags & OPF_EARLY) {
		op->flags &= (uint16_t)~OPF_EARLY;
		wake_more(loop, g);
		if (slot == URS_BUF_NONE)
			return 0;
		loop->pieces[0] = (struct urs_piece){ slot, x->blen, x->bdata };
		x->bdata = NULL;
		x->blen = 0;
		return 1;
	}
	if (x) {
		x->bdata = NULL;
		x->blen = 0;
	}
	if (cflags & IORING_CQE_F_BUFFER) {
		if (slot != URS_BUF_NONE) /* not from a ring group: cannot happen, keep count */
			urs__buf_back(loop, slot);
		uint32_t n = ring_pieces(loop, g, res, cflags, op->flags & OPF_BUNDLE);
		if (loop->buf_lost)
			op->flags |= OPF_LOST;
		wake_more(loop, g);
		return n;
	}
	wake_more(loop, g);
	if (slot == URS_BUF_NONE)
		return 0;
	if (res <= 0) {
		urs__buf_back(loop, slot);
		return 0;
	}
	uint32_t len = (uint32_t)res < g->size ? (uint32_t)res : g->size;
	loop->pieces[0] = (struct urs_piece){ slot, len, urs__buf_addr(loop, slot_bid(loop, slot)) };
	return 1;
}

uint32_t urs__buf_take(struct urs_op *op, int res, uint32_t cflags, uint32_t keep)
{
	urs_loop *loop = urs__op_loop(op);
	uint32_t n = urs__buf_pieces(op, res, cflags);
	if (!n)
		return 0;
	struct urs_piece p = loop->pieces[0];
	/* More than one piece for a receive that takes one: bytes the kernel counted past the
	 * end of an incremental buffer (MSG_TRUNC on a stream discards them). */
	for (uint32_t i = 1; i < n; i++)
		urs__buf_back(loop, loop->pieces[i].slot);
	uint32_t len = p.len < keep ? p.len : keep;
	op->bid = p.slot;
	struct urs_opx *x = urs__op_x(op);
	if (x) {
		x->bdata = p.data;
		x->blen = len;
	}
	return len;
}

void urs__buf_back(urs_loop *loop, uint32_t slot)
{
	if (slot < loop->nlend && loop->lend_state[slot] == LEND_OP)
		piece_done(loop, slot);
}

void urs__buf_lend_op(struct urs_op *op, urs_buf *b)
{
	struct urs_opx *x = urs__op_x(op);
	urs__buf_lend(urs__op_loop(op), b, op->bid, x->bdata, x->blen);
	op->bid = URS_BUF_NONE;
	x->bdata = NULL;
	x->blen = 0;
}

void urs__buf_lend(urs_loop *loop, urs_buf *b, uint32_t slot, char *data, uint32_t len)
{
	loop->lend_gen[slot]++;
	b->data = data;
	b->len = len;
	b->id = slot;
	b->gen = loop->lend_gen[slot];
	b->loop = loop;
	loop->lend_state[slot] = LEND_USER;
	loop->stats.bufs_lent++;
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
 * saw, and an incremental ring's head buffer is partly filled by bytes we never saw. With
 * nothing in the kernel any more, each ring is registered afresh (its head back at 0) and
 * every buffer no piece of which is held goes into it. */
void urs__buf_rebuild(urs_loop *loop)
{
	loop->buf_lost = false;
	for (unsigned b = 0; b < URS_BG_COUNT; b++) {
		struct urs_bufgroup *g = &loop->bg[b];
		if (!g->made)
			continue;
		if (g->br) {
			io_uring_unregister_buf_ring(&loop->ring, (int)b);
			int ret = ring_register(loop, g, b, g->inc);
			if (ret < 0) {
				/* No ring any more: our free stack, one buffer per receive. */
				munmap(g->br, g->br_map_len);
				g->br = NULL;
				g->inc = false;
				g->ring_err = ret;
				if (b == URS_BG_LOOP)
					loop->features &= ~(URS_FEAT_BUF_RING | URS_FEAT_BUF_INC);
			}
		}
		group_fill(loop, g);
	}
}

int urs__buf_check(const urs_buf *b)
{
	urs_loop *loop = b->loop;
	if (!loop || b->id >= loop->nlend)
		return -EINVAL;
	if (!loop->zombie && !urs__mine(loop))
		return -EXDEV;
	uint32_t slot = b->id;
	uint32_t cur = loop->lend_gen[slot];
	if (b->gen == 0 || cur == 0)
		return -EINVAL; /* generations start at 1: never lent */
	if (b->gen != cur)
		/* A copy from an earlier lending (already given back), or a made-up one. */
		return (int32_t)(cur - b->gen) > 0 ? -EALREADY : -EINVAL;
	if (loop->lend_state[slot] != LEND_USER)
		return -EALREADY;
	return 0;
}

void urs__buf_unlend(urs_loop *loop, uint32_t slot)
{
	/* The op that sends it holds the piece now (LEND_OP): urs__buf_back at its end. */
	loop->lend_state[slot] = LEND_OP;
	loop->stats.bufs_lent--;
}

void urs__buf_span(urs_loop *loop, uint32_t slot, char **base, size_t *size)
{
	uint32_t id = slot_bid(loop, slot);
	*base = urs__buf_addr(loop, id);
	*size = urs__bg_of_id(loop, id)->size;
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
	uint32_t slot = b->id;
	loop->stats.bufs_lent--;
	b->id = URS_BUF_NONE;
	b->data = NULL;
	b->len = 0;
	if (loop->zombie) {
		loop->lend_state[slot] = LEND_FREE;
		urs__buf_zombie_check(loop);
		return 0;
	}
	piece_done(loop, slot);
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
