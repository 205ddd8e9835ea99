/* SPDX-License-Identifier: MIT */
/* Socket objects' memory: a slab of chunks aligned to their size, so that an object finds
 * its slab from its own address. That matters for a husk (a socket whose loop is gone,
 * README "Lifetimes"): urs_sock_free on it still returns it to the slab, and the slab, left
 * behind by its loop, goes with its last object. Objects are named by index (0: none; slot 0
 * of every chunk is the chunk's header), which keeps links between sockets at 4 bytes, and
 * the loop walks its sockets over the chunks instead of a list through every object. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum { SOCK_CHUNK_BYTES = 65536, SOCK_PER = SOCK_CHUNK_BYTES / sizeof(urs_sock) };

struct urs_sockslab {
	urs_sock **chunks;
	uint32_t nchunks;
	uint32_t free;           /* the first free object (linked through their free_next) */
	uint32_t n;              /* objects out: live, dead, husks */
	bool orphan;             /* its loop is gone: it goes with its last object */
};

/* Slot 0 of every chunk. */
struct sockchunk {
	struct urs_sockslab *slab;
	uint32_t first;          /* the index of slot 0 */
	uint32_t used;           /* slots ever handed out (1..used) */
};
_Static_assert(sizeof(struct sockchunk) <= sizeof(urs_sock), "a chunk's header fits slot 0");
_Static_assert(sizeof(urs_sock) <= 128, "a socket is two cache lines");
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
	return idx ? &loop->sockslab->chunks[idx / SOCK_PER][idx % SOCK_PER] : NULL;
}

uint32_t urs__sock_idx(const urs_sock *s)
{
	struct sockchunk *c = chunk_of(s);
	return c->first + (uint32_t)(s - (const urs_sock *)(void *)c);
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
		if (!c || c->used + 1 >= SOCK_PER) {
			urs_sock **chunks = realloc(sl->chunks, (sl->nchunks + 1) * sizeof(*chunks));
			if (!chunks)
				return NULL;
			sl->chunks = chunks;
			void *mem = urs__chunk_map(SOCK_CHUNK_BYTES);
			if (!mem)
				return NULL;
			c = mem;
			c->slab = sl;
			c->first = sl->nchunks * SOCK_PER;
			c->used = 0;
			chunks[sl->nchunks++] = mem;
		}
		s = (urs_sock *)(void *)c + ++c->used;
	}
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
		urs_sock *s = &sl->chunks[c][slot];
		if (s->inuse && s->loop && !s->dead) {
			*pos = i;
			return s;
		}
	}
}
