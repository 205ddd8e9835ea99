/* Provided buffers: one buffer ring per loop (group 0) from which the kernel picks a buffer
 * when data arrives; the buffer is lent to the user until urs_buf_release. Without buffer
 * rings (or with URS_FEAT_BUF_RING disabled) the same buffers are handed out by us, one
 * per receive, from a free stack. */
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
	int mask = io_uring_buf_ring_mask(loop->buf_count);
	for (uint32_t i = 0; i < loop->buf_count; i++)
		io_uring_buf_ring_add(loop->br, urs__buf_addr(loop, i), loop->buf_size,
				      (unsigned short)i, mask, (int)i);
	io_uring_buf_ring_advance(loop->br, (int)loop->buf_count);
	return 0;
}

int urs__buf_init(urs_loop *loop, const urs_loop_opts *opts)
{
	loop->buf_count = opts->buf_count;
	loop->buf_size = opts->buf_size;
	loop->buf_map_len = page_round((size_t)loop->buf_count * loop->buf_size);
	/* Populated up front: the buffers' memory is a fixed cost of the loop, paid at
	 * creation, not page faults on the receive path later. */
	void *p = mmap(NULL, loop->buf_map_len, PROT_READ | PROT_WRITE,
		       MAP_ANONYMOUS | MAP_PRIVATE | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	loop->buf_base = p;
	loop->buf_lent = calloc(loop->buf_count, 1);
	if (!loop->buf_lent)
		goto nomem;
	/* Fall back by trying: a kernel without buffer rings refuses the registration. */
	if ((loop->features & URS_FEAT_BUF_RING) && ring_init(loop) < 0)
		loop->features &= ~URS_FEAT_BUF_RING;
	if (!(loop->features & URS_FEAT_BUF_RING)) {
		loop->buf_free = malloc(loop->buf_count * sizeof(uint32_t));
		if (!loop->buf_free)
			goto nomem;
		for (uint32_t i = 0; i < loop->buf_count; i++)
			loop->buf_free[i] = loop->buf_count - 1 - i;
		loop->buf_nfree = loop->buf_count;
	}
	return 0;
nomem:
	urs__buf_fini(loop);
	return -ENOMEM;
}

void urs__buf_fini(urs_loop *loop)
{
	if (loop->br) {
		io_uring_unregister_buf_ring(&loop->ring, 0);
		munmap(loop->br, loop->br_map_len);
		loop->br = NULL;
	}
	if (loop->buf_base)
		munmap(loop->buf_base, loop->buf_map_len);
	loop->buf_base = NULL;
	free(loop->buf_lent);
	loop->buf_lent = NULL;
	free(loop->buf_free);
	loop->buf_free = NULL;
}

int urs__buf_take(urs_loop *loop)
{
	if (!loop->buf_nfree)
		return -ENOBUFS;
	return (int)loop->buf_free[--loop->buf_nfree];
}

void urs__buf_lend(urs_loop *loop, urs_buf *b, uint32_t id, uint32_t len)
{
	b->data = urs__buf_addr(loop, id);
	b->len = len;
	b->id = id;
	b->loop = loop;
	loop->buf_lent[id] = 1;
	loop->stats.bufs_lent++;
}

void urs__buf_put(urs_loop *loop, uint32_t id)
{
	if (loop->br) {
		io_uring_buf_ring_add(loop->br, urs__buf_addr(loop, id), loop->buf_size,
				      (unsigned short)id, io_uring_buf_ring_mask(loop->buf_count), 0);
		io_uring_buf_ring_advance(loop->br, 1);
	} else {
		loop->buf_free[loop->buf_nfree++] = id;
	}
}

/* Could a receive find a buffer now? With a ring, every buffer not lent is in the ring or
 * in a CQE about to be handled; without one, the free stack says. */
static bool bufs_free(const urs_loop *loop)
{
	return loop->br ? loop->stats.bufs_lent < loop->buf_count : loop->buf_nfree > 0;
}

/* A receive found no buffer (-ENOBUFS): it waits, in order, for one to come back. No byte
 * is lost: the data stays in the socket until the receive is re-armed. */
void urs__buf_wait(urs_loop *loop, struct urs_op *op)
{
	loop->stats.nobufs++;
	op->flags |= OPF_QUEUED;
	op->next = NULL;
	if (loop->bufwait_tail)
		loop->bufwait_tail->next = op;
	else
		loop->bufwait = op;
	loop->bufwait_tail = op;
	/* Buffers released between the kernel's -ENOBUFS and now wake nobody else. */
	if (bufs_free(loop) && loop->bufwait == op) {
		loop->bufwait = loop->bufwait_tail = NULL;
		urs__op_rearm(op);
	}
}

bool urs__buf_unwait(urs_loop *loop, struct urs_op *op)
{
	struct urs_op *prev = NULL;
	for (struct urs_op *o = loop->bufwait; o; prev = o, o = o->next) {
		if (o != op)
			continue;
		if (prev)
			prev->next = o->next;
		else
			loop->bufwait = o->next;
		if (loop->bufwait_tail == o)
			loop->bufwait_tail = prev;
		return true;
	}
	return false;
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
	if (!loop->buf_lent[b->id])
		return -EALREADY;
	loop->buf_lent[b->id] = 0;
	loop->stats.bufs_lent--;
	urs__buf_put(loop, b->id);
	b->id = URS_BUF_NONE;
	b->data = NULL;
	b->len = 0;
	struct urs_op *w = loop->bufwait;
	if (w) {
		loop->bufwait = w->next;
		if (!loop->bufwait)
			loop->bufwait_tail = NULL;
		urs__op_rearm(w);
	}
	return 0;
}
