/* SPDX-License-Identifier: MIT */
/* Side slabs: fixed-size objects named by a 32-bit index (0 names none), for the parts of
 * an op that only some ops need (op.c: struct urs_opx, struct urs_opm). An index instead of
 * a pointer keeps the op's hot part in one cache line. Objects come from chunks grown on
 * demand and never freed before the loop, so an index always names memory; a chunk's
 * memory is touched only as its objects are first handed out, and freed objects are reused
 * first (most recently freed first: the warm ones). */
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>

void urs__slab_init(struct urs_slab *s, uint32_t size)
{
	s->chunks = NULL;
	s->nchunks = 0;
	s->size = size;
	s->free = 0;
	s->fresh = 1; /* index 0 is never handed out: it names none */
	s->n = 0;
}

uint32_t urs__slab_get(struct urs_slab *s)
{
	uint32_t idx = s->free;
	if (idx) {
		s->free = *(uint32_t *)urs__slab_at(s, idx);
		s->n++;
		return idx;
	}
	if (s->fresh >= s->nchunks << URS_SLAB_SHIFT) {
		/* The chunks are used up: one more. */
		if (s->nchunks >= UINT32_MAX >> URS_SLAB_SHIFT)
			return 0;
		char **chunks = realloc(s->chunks, (s->nchunks + 1) * sizeof(*chunks));
		if (!chunks)
			return 0;
		s->chunks = chunks;
		char *c = malloc((size_t)URS_SLAB_PER * s->size);
		if (!c)
			return 0;
		chunks[s->nchunks++] = c;
	}
	s->n++;
	return s->fresh++;
}

void urs__slab_put(struct urs_slab *s, uint32_t idx)
{
	*(uint32_t *)urs__slab_at(s, idx) = s->free;
	s->free = idx;
	s->n--;
}

void urs__slab_fini(struct urs_slab *s)
{
	for (uint32_t c = 0; c < s->nchunks; c++)
		free(s->chunks[c]);
	free(s->chunks);
	s->chunks = NULL;
	s->nchunks = 0;
	s->free = s->n = 0;
	s->fresh = 1;
}

/* Chunks of ops and sockets: zeroed memory aligned to its size (a power of two), straight
 * from the kernel so that a page is resident only once an object in it is used and no
 * allocator gap is spent on the alignment. */
void *urs__chunk_map(size_t bytes)
{
	char *p = mmap(NULL, 2 * bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	char *a = (char *)(((uintptr_t)p + bytes - 1) & ~(uintptr_t)(bytes - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + bytes < p + 2 * bytes)
		munmap(a + bytes, (size_t)(p + 2 * bytes - (a + bytes)));
	return a;
}

void urs__chunk_unmap(void *chunk, size_t bytes)
{
	if (chunk)
		munmap(chunk, bytes);
}
