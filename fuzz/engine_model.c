/* SPDX-License-Identifier: MIT */
/* The data model of the engine fuzzer (see engine_model.h).
 *
 * Stream bytes: byte j of send i is ((i & 7) << 5) | h(seed, i, j) with a 5-bit hash h. The
 * top bits make neighbouring sends' bytes disjoint, so where a send of unknown length stopped
 * is plain from the first byte of the next one; the hash catches a skipped, repeated or foreign
 * byte. Received chunks are placed at the cursor; one that does not fit waits in a pool for
 * the chunk before it (receives may be observed in another order than the kernel served them).
 * Once no receive is outstanding ("settled") nothing earlier can still come, so a send whose
 * count is unknown may be taken to have stopped where the next one starts.
 *
 * Messages: a 4-byte header (which send, its length), then hashed bytes. */
#include "engine_model.h"

#include <string.h>

unsigned long fz_model_ends, fz_model_skips;

static uint32_t mix(uint32_t seed, uint32_t i, uint32_t j)
{
	uint32_t x = j * 0x9E3779B1u + i * 0x85EBCA77u + seed * 0x27D4EB2Fu;
	x ^= x >> 15;
	x *= 0x2C1B3C6Du;
	x ^= x >> 12;
	return x;
}

void fz_dir_init(struct fz_dir *d, const char *name, bool msgs, bool ordered, uint8_t seed,
		 uint8_t *arena, uint8_t *pool)
{
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->msgs = msgs;
	d->ordered = ordered;
	d->seed = seed;
	d->check_end = true;
	d->settled_max = -1;
	d->arena = arena;
	d->pbytes = pool;
}

const uint8_t *fz_dir_issue(struct fz_dir *d, uint32_t len, uint32_t *idx)
{
	if (d->n >= FZ_TX_MAX || len > FZ_ARENA - d->used || (d->msgs && len > 0xffff))
		return NULL;
	if (d->msgs && len > 0 && len < 4)
		len = 4;
	struct fz_txop *o = &d->op[d->n];
	memset(o, 0, sizeof(*o));
	o->off = d->used;
	o->len = len;
	o->d = -1;
	uint8_t *p = d->arena + o->off;
	uint32_t i = d->n;
	if (d->msgs) {
		for (uint32_t j = 0; j < len; j++)
			p[j] = (uint8_t)(mix(d->seed, i, j) >> 8);
		if (len) {
			p[0] = (uint8_t)(i ^ d->seed);
			p[1] = (uint8_t)((i >> 8) ^ 0x5a);
			p[2] = (uint8_t)len;
			p[3] = (uint8_t)(len >> 8);
		}
	} else {
		for (uint32_t j = 0; j < len; j++)
			p[j] = (uint8_t)(((i & 7) << 5) | (mix(d->seed, i, j) & 31));
	}
	d->used += len;
	*idx = d->n++;
	return p;
}

/* ---------------------------------------------------------------- streams */

static void close_op(struct fz_dir *d, uint32_t i, uint32_t j)
{
	struct fz_txop *o = &d->op[i];
	o->got = j;
	o->closed = true;
	if (o->d >= 0 && o->got != (uint32_t)o->d)
		fz_fail("%s: send #%u reported %d bytes, the receiver had %u of them and then bytes of "
			"a later send (a hole)",
			d->name, i, o->d, o->got);
}

/* Walks p[0..len) from the cursor. skip: a send whose count is unknown may have stopped where
 * the chunk leaves it. *first is the send the chunk starts in. commit: move the cursor. */
static bool walk(struct fz_dir *d, const uint8_t *p, uint32_t len, bool skip, bool commit,
		 uint32_t *first)
{
	uint32_t i = d->ci, j = d->cj;
	bool started = false;
	for (uint32_t k = 0; k < len;) {
		if (i >= d->n)
			return false;
		struct fz_txop *o = &d->op[i];
		uint32_t lim = o->d >= 0 ? (uint32_t)o->d : o->len;
		if (j < lim && p[k] == d->arena[o->off + j]) {
			if (!started && first)
				*first = i;
			started = true;
			j++;
			k++;
			continue;
		}
		if (j < lim && (o->d >= 0 || !skip))
			return false;
		if (commit) {
			close_op(d, i, j);
			if (j < lim)
				fz_model_skips++;
		}
		i++;
		j = 0;
	}
	if (commit) {
		d->ci = i;
		d->cj = j;
		if (i < d->n)
			d->op[i].got = j;
	}
	return true;
}

static void pool_del(struct fz_dir *d, uint32_t c)
{
	memmove(&d->pool[c], &d->pool[c + 1], (d->npool - c - 1) * sizeof(d->pool[0]));
	d->npool--;
	if (!d->npool)
		d->pused = 0;
}

static void place_pool(struct fz_dir *d, bool settled)
{
	for (;;) {
		bool progress = false;
		for (uint32_t c = 0; c < d->npool && !progress; c++)
			if (walk(d, d->pbytes + d->pool[c].at, d->pool[c].len, false, true, NULL)) {
				pool_del(d, c);
				progress = true;
			}
		if (progress)
			continue;
		if (!settled || !d->npool)
			return;
		/* Nothing continues the cursor and nothing more can come: some send stopped short.
		 * The chunk that starts earliest is next. */
		uint32_t best = d->npool, best_first = 0;
		for (uint32_t c = 0; c < d->npool; c++) {
			uint32_t first = 0;
			if (walk(d, d->pbytes + d->pool[c].at, d->pool[c].len, true, false, &first) &&
			    (best == d->npool || first < best_first)) {
				best = c;
				best_first = first;
			}
		}
		if (best == d->npool) {
			const uint8_t *q = d->pbytes + d->pool[0].at;
			fz_fail("%s: %u received chunk(s) fit nowhere after the cursor (send #%u byte "
				"%u of %u issued): first is %u bytes starting %02x %02x %02x",
				d->name, d->npool, d->ci, d->cj, d->n, d->pool[0].len, q[0],
				d->pool[0].len > 1 ? q[1] : 0, d->pool[0].len > 2 ? q[2] : 0);
		}
		walk(d, d->pbytes + d->pool[best].at, d->pool[best].len, true, true, NULL);
		pool_del(d, best);
	}
}

static void end_check(struct fz_dir *d)
{
	d->ended = true;
	d->end_wait = false;
	if (!d->check_end || d->lossy)
		return;
	fz_model_ends++;
	for (uint32_t i = 0; i < d->n; i++) {
		struct fz_txop *o = &d->op[i];
		if (o->d < 0)
			continue;
		if (d->msgs ? (!o->failed && o->len && !o->got) : o->got != (uint32_t)o->d)
			fz_fail("%s: the end of stream came before send #%u was whole: it reported %d "
				"bytes, the receiver had %u",
				d->name, i, o->d, o->got);
	}
}

void fz_dir_lossy(struct fz_dir *d)
{
	d->lossy = true;
	d->npool = 0;
	d->pused = 0;
}

static void recv_msg(struct fz_dir *d, const uint8_t *p, uint32_t len, bool trunc, bool peek,
		     bool settled)
{
	if (len == 0 && !trunc) {
		/* An empty datagram (a seqpacket end is fz_dir_end's). */
		for (uint32_t i = 0; i < d->n; i++) {
			struct fz_txop *o = &d->op[i];
			if (o->len == 0 && !o->failed && (!o->got || peek)) {
				if (!peek)
					o->got = 1;
				return;
			}
		}
		fz_fail("%s: an empty message arrived, none was sent", d->name);
	}
	if (len < 2) {
		if (!trunc)
			fz_fail("%s: a %u-byte message not flagged truncated", d->name, len);
		if (peek)
			return;
		/* Too short to tell which. In order it is the first one still to come — when that
		 * one is known to have been sent (an earlier one of unknown fate may have failed). */
		if (d->ordered && settled) {
			for (uint32_t i = 0; i < d->n; i++) {
				struct fz_txop *o = &d->op[i];
				if (o->got || o->failed)
					continue;
				if (o->d < 0)
					break;
				if (len && p[0] != d->arena[o->off])
					fz_fail("%s: a cut message is not #%u, the next to come", d->name, i);
				o->got = 1;
				return;
			}
		}
		if (d->ordered)
			fz_dir_lossy(d);
		return;
	}
	uint32_t i = (uint32_t)(p[0] ^ d->seed) | ((uint32_t)(p[1] ^ 0x5a) << 8);
	if (i >= d->n)
		fz_fail("%s: a message names send #%u, only %u were issued", d->name, i, d->n);
	struct fz_txop *o = &d->op[i];
	if (len > o->len)
		fz_fail("%s: message #%u arrived with %u bytes, %u were sent", d->name, i, len, o->len);
	for (uint32_t j = 0; j < len; j++)
		if (p[j] != d->arena[o->off + j])
			fz_fail("%s: message #%u differs at byte %u of %u", d->name, i, j, len);
	if (trunc != (len < o->len))
		fz_fail("%s: message #%u: %u of %u bytes, truncation flag %d", d->name, i, len, o->len,
			trunc);
	if (o->failed)
		fz_fail("%s: message #%u arrived though its send failed", d->name, i);
	if (peek)
		return;
	if (o->got)
		fz_fail("%s: message #%u arrived twice", d->name, i);
	o->got = 1;
	if (d->ordered && settled && (int32_t)i > d->settled_max)
		d->settled_max = (int32_t)i;
	if (d->ordered && settled)
		for (uint32_t k = 0; k < i; k++)
			if (d->op[k].d >= 0 && !d->op[k].failed && !d->op[k].got)
				fz_fail("%s: message #%u arrived but #%u, sent before it, never did",
					d->name, i, k);
}

void fz_dir_recv(struct fz_dir *d, const uint8_t *p, uint32_t len, bool trunc, bool peek,
		 bool settled)
{
	if (d->lossy)
		return;
	if (d->msgs) {
		recv_msg(d, p, len, trunc, peek, settled);
		if (!peek)
			d->msgs_rx++;
		return;
	}
	if (trunc)
		fz_fail("%s: a stream chunk flagged truncated", d->name);
	if (!len)
		return;
	if (d->ended && d->check_end)
		fz_fail("%s: %u bytes after the end of stream", d->name, len);
	if (peek) {
		if (settled && !d->npool && !walk(d, p, len, true, false, NULL))
			fz_fail("%s: %u peeked bytes are not what comes next (send #%u byte %u)",
				d->name, len, d->ci, d->cj);
		return;
	}
	d->bytes_rx += len;
	if (d->npool == FZ_POOL_MAX || len > FZ_POOL_BYTES - d->pused) {
		fz_dir_lossy(d); /* too much out of order to follow: stop, never guess */
		return;
	}
	memcpy(d->pbytes + d->pused, p, len);
	d->pool[d->npool].at = d->pused;
	d->pool[d->npool].len = len;
	d->npool++;
	d->pused += len;
	place_pool(d, settled);
}

void fz_dir_sent(struct fz_dir *d, uint32_t idx, uint32_t sent, int err)
{
	struct fz_txop *o = &d->op[idx];
	if (o->d >= 0)
		fz_fail("%s: send #%u resolved twice", d->name, idx);
	if (sent > o->len)
		fz_fail("%s: send #%u reported %u bytes sent of %u", d->name, idx, sent, o->len);
	if (d->msgs && err >= 0 && sent != o->len)
		fz_fail("%s: message send #%u reported %u of %u bytes", d->name, idx, sent, o->len);
	o->d = (int32_t)sent;
	o->failed = err < 0;
	if (d->lossy)
		return;
	if (d->msgs) {
		if (err < 0 && o->got)
			fz_fail("%s: message #%u arrived though its send failed (%d)", d->name, idx, err);
		if (d->ended && d->check_end && sent && !o->got)
			fz_fail("%s: message #%u reported sent, the end came before it", d->name, idx);
		if (d->ordered && sent && !o->got && (int32_t)idx < d->settled_max)
			fz_fail("%s: message #%u reported sent, but #%d after it arrived first",
				d->name, idx, d->settled_max);
		return;
	}
	if (o->got > sent)
		fz_fail("%s: the receiver had %u bytes of send #%u, which reported only %u sent (%d)",
			d->name, o->got, idx, sent, err);
	if (o->closed && o->got != sent)
		fz_fail("%s: send #%u reported %u bytes, the receiver had %u and then bytes of a later "
			"send (a hole)",
			d->name, idx, sent, o->got);
	if (d->ended && d->check_end && o->got != sent)
		fz_fail("%s: send #%u reported %u bytes, the end of stream came after %u of them",
			d->name, idx, sent, o->got);
}

void fz_dir_end(struct fz_dir *d, bool settled)
{
	if (d->lossy)
		return;
	if (!settled) {
		d->end_wait = true;
		return;
	}
	place_pool(d, true);
	end_check(d);
}

void fz_dir_settled(struct fz_dir *d)
{
	if (d->lossy)
		return;
	place_pool(d, true);
	if (d->end_wait)
		end_check(d);
}
