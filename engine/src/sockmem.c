/* SPDX-License-Identifier: MIT */
/* Socket objects' memory: a slab of chunks aligned to their size, so that an object finds
 * its slab from its own address. That matters for a husk (a socket whose loop is gone,
 * README "Lifetimes"): urs_sock_free on it still returns it to the slab, and the slab, left
 * behind by its loop, goes with its last object. Objects are named by index (0: none; cell 0
 * of every chunk is the chunk's header), which keeps links between sockets at 4 bytes, and
 * the loop walks its sockets over the chunks instead of a list through every object.
 *
 * A cell is the socket and its own op (struct urs_sockcell), and a chunk of sockets is also
 * a chunk of ops: its header begins as the pool's (struct urs_opchunk) and the chunk is in
 * the loop's table of op chunks, so an own op is named, found and walked as any op (op.c).
 * The cell goes back to the slab only once its own op is free: a socket released before
 * that (its stream's result still unclaimed) is marked, and the op's free releases it. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum { SOCK_CHUNK_BYTES = 65536, SOCK_PER = SOCK_CHUNK_BYTES / sizeof(struct urs_sockcell) };

struct urs_sockslab {
	struct urs_sockcell **chunks;
	uint32_t nchunks;
	uint32_t free;           /* the first free object (linked through their free_next) */
	uint32_t n;              /* objects out: live, dead, husks */
	bool orphan;             /* its loop is gone: it goes with its last object */
};

/* Cell 0 of every chunk. */
struct sockchunk {
	struct urs_opchunk ops;  /* first, as in every chunk of ops: loop, first op index, the
				    last own op's slot, socks */
	struct urs_sockslab *slab;
	uint32_t first;          /* the socket index of cell 0 */
	uint32_t used;           /* cells ever handed out (1..used) */
};
_Static_assert(sizeof(struct sockchunk) <= sizeof(struct urs_sockcell),
	       "a chunk's header fits cell 0");
_Static_assert(sizeof(urs_sock) == 128, "a socket is two cache lines");
_Static_assert(sizeof(struct urs_op) == 64, "its own op is one");
_Static_assert(sizeof(struct urs_sockcell) == 192 && SOCKCELL_OWN * sizeof(struct urs_op) ==
	       offsetof(struct urs_sockcell, own), "a cell is three op slots, the op the last");
_Static_assert(SOCK_CHUNK_BYTES == OP_CHUNK * sizeof(struct urs_op),
	       "a chunk of sockets is one of ops");
_Static_assert(SOCK_PER >= 2, "a chunk holds sockets");

static struct sockchunk *chunk_of(const urs_sock *s)
{
	return (struct sockchunk *)((uintptr_t)s & ~(uintptr_t)(SOCK_CHUNK_BYTES - 1));
}

int urs__socks_init(urs_loop *loop)
{
	loop->sockslab = calloc(1, sizeof(*loop->sockslab));
	return loop->sockslab ? 0 : -ENOMEM;
}

urs_sock *urs__sock_at(const urs_loop *loop, uint32_t idx)
{
	return idx ? &loop->sockslab->chunks[idx / SOCK_PER][idx % SOCK_PER].sock : NULL;
}

uint32_t urs__sock_idx(const urs_sock *s)
{
	struct sockchunk *c = chunk_of(s);
	return c->first + (uint32_t)((const struct urs_sockcell *)(const void *)s -
				     (const struct urs_sockcell *)(const void *)c);
}

/* A new chunk, in the slab and in the loop's table of op chunks. */
static struct sockchunk *chunk_new(urs_loop *loop, struct urs_sockslab *sl)
{
	struct urs_sockcell **chunks = realloc(sl->chunks, (sl->nchunks + 1) * sizeof(*chunks));
	if (!chunks)
		return NULL;
	sl->chunks = chunks;
	struct sockchunk *c = urs__chunk_map(SOCK_CHUNK_BYTES);
	if (!c)
		return NULL;
	if (urs__op_chunk_add(loop, &c->ops) < 0) {
		urs__chunk_unmap(c, SOCK_CHUNK_BYTES);
		return NULL;
	}
	c->ops.socks = true;
	c->slab = sl;
	c->first = sl->nchunks * SOCK_PER;
	c->used = 0;
	chunks[sl->nchunks++] = (struct urs_sockcell *)(void *)c;
	return c;
}

urs_sock *urs__sock_alloc(urs_loop *loop)
{
	struct urs_sockslab *sl = loop->sockslab;
	urs_sock *s;
	if (sl->free) {
		s = urs__sock_at(loop, sl->free);
		sl->free = s->free_next;
	} else {
		struct sockchunk *c = sl->nchunks ? (struct sockchunk *)(void *)sl->chunks[sl->nchunks - 1]
						  : NULL;
		if (!c || c->used + 1 >= SOCK_PER)
			c = chunk_new(loop, sl);
		if (!c)
			return NULL;
		s = &((struct urs_sockcell *)(void *)c)[++c->used].sock;
		c->ops.n = c->used * SOCKCELL_SLOTS + SOCKCELL_OWN; /* its own op is one now */
	}
	/* The socket part only: its own op is free, and keeps its generation. */
	memset(s, 0, sizeof(*s));
	s->inuse = true;
	sl->n++;
	return s;
}

static void slab_free(struct urs_sockslab *sl)
{
	for (uint32_t i = 0; i < sl->nchunks; i++)
		urs__chunk_unmap(sl->chunks[i], SOCK_CHUNK_BYTES);
	free(sl->chunks);
	free(sl);
}

void urs__sock_release(urs_sock *s)
{
	struct sockchunk *c = chunk_of(s);
	struct urs_sockslab *sl = c->slab;
	/* Its own op still holds a result someone may claim (or is on the ready list): the
	 * cell waits for it (urs__op_free). Without a loop no op runs any more. */
	if (urs__sock_own(s)->state != OP_FREE && c->ops.loop) {
		s->release_owed = true;
		return;
	}
	memset(s, 0, sizeof(*s));
	s->free_next = sl->free;
	sl->free = urs__sock_idx(s);
	if (--sl->n == 0 && sl->orphan)
		slab_free(sl);
}

void urs__socks_orphan(urs_loop *loop)
{
	struct urs_sockslab *sl = loop->sockslab;
	loop->sockslab = NULL;
	if (!sl)
		return;
	/* No op runs once the loop is gone: a cell still waiting for its own op goes now
	 * (only a teardown whose drain failed leaves one). */
	for (uint32_t i = 0; i < sl->nchunks; i++) {
		struct sockchunk *c = (struct sockchunk *)(void *)sl->chunks[i];
		c->ops.loop = NULL;
		for (uint32_t j = 1; j <= c->used; j++)
			if (sl->chunks[i][j].sock.release_owed)
				urs__sock_release(&sl->chunks[i][j].sock);
	}
	sl->orphan = true;
	if (!sl->n)
		slab_free(sl);
}

urs_sock *urs__sock_iter(const urs_loop *loop, uint32_t *pos)
{
	struct urs_sockslab *sl = loop->sockslab;
	for (uint32_t i = *pos + 1;; i++) {
		uint32_t c = i / SOCK_PER, slot = i % SOCK_PER;
		if (c >= sl->nchunks)
			return NULL;
		struct sockchunk *h = (struct sockchunk *)(void *)sl->chunks[c];
		if (slot == 0)
			continue;
		if (slot > h->used) {
			i = (c + 1) * SOCK_PER - 1; /* on to the next chunk */
			continue;
		}
		urs_sock *s = &sl->chunks[c][slot].sock;
		if (s->inuse && s->loop && !s->dead) {
			*pos = i;
			return s;
		}
	}
}
