/* SPDX-License-Identifier: MIT */
/* The engine fuzzer's model of the data on one direction of a connection (fuzz_engine.c).
 * Every send gets bytes that name the send and the offset in it, so a receiver can tell a lost,
 * repeated, reordered, foreign or overwritten byte from the right one without knowing in
 * advance how much each send will manage to send: a stream must be, in order, a prefix of each
 * send in issue order (the part that send reported sent), and messages must be messages that
 * were sent, whole or flagged truncated, each at most once. */
#ifndef FZ_ENGINE_MODEL_H
#define FZ_ENGINE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	FZ_TX_MAX = 1024,       /* sends per direction and input */
	FZ_ARENA = 1 << 19,     /* bytes sent per direction and input */
	FZ_POOL_MAX = 128,      /* received chunks waiting for an earlier one */
	FZ_POOL_BYTES = 1 << 17
};

struct fz_txop {
	uint32_t off, len; /* its bytes: arena[off .. off + len) */
	int32_t d;         /* bytes the sender was told went; -1 while unknown */
	uint32_t got;      /* bytes (stream) or copies (messages) the receiver has had from it */
	bool closed;       /* stream: the receiver has moved past it, got is final */
	bool failed;       /* it resolved with an error */
};

struct fz_dir {
	const char *name;
	bool msgs;      /* datagrams or seqpacket: messages, not a byte stream */
	bool ordered;   /* messages arrive in issue order (seqpacket: the engine's ordered queue) */
	bool check_end; /* an end of stream must follow every byte reported sent (false once the
			   sender may have reset the connection, or the receiver shut reading) */
	bool lossy;     /* a receive's bytes went where the model cannot see: checks stop */
	uint8_t seed;
	uint8_t *arena; /* the bytes of every send, also what the kernel reads: stable */
	uint32_t used;
	struct fz_txop op[FZ_TX_MAX];
	uint32_t n;
	uint32_t ci, cj; /* stream: the next byte must be op[ci] at offset cj (or a later op's) */
	struct {
		uint32_t at, len;
		bool more;  /* a stream chunk (placed without further receives) */
	} pool[FZ_POOL_MAX];
	uint32_t npool;
	uint8_t *pbytes;
	uint32_t pused;
	bool end_wait; /* an end was seen while other receives were outstanding */
	bool ended;    /* an end was seen and every receive before it was accounted for */
	int32_t settled_max; /* ordered messages: the latest one received with nothing outstanding */
	uint64_t bytes_rx, msgs_rx;
};

/* Set up d for an input; arena (FZ_ARENA bytes) and pool (FZ_POOL_BYTES) are the caller's. */
void fz_dir_init(struct fz_dir *d, const char *name, bool msgs, bool ordered, uint8_t seed,
		 uint8_t *arena, uint8_t *pool);
/* A new send of len bytes: returns its data (stable until the next fz_dir_init) and *idx, or
 * NULL when the direction is full. Messages are at least 4 bytes, or 0. */
const uint8_t *fz_dir_issue(struct fz_dir *d, uint32_t len, uint32_t *idx);
/* The sender learnt what send idx sent: sent bytes (>= 0), or err < 0 with sent bytes before it. */
void fz_dir_sent(struct fz_dir *d, uint32_t idx, uint32_t sent, int err);
/* The receiver got p[0..len). settled: no other receive on that socket is outstanding, so
 * nothing received earlier can still show up (a short send is then a real end of that send).
 * trunc: the engine flagged the message cut. peek: MSG_PEEK (not consumed). */
void fz_dir_recv(struct fz_dir *d, const uint8_t *p, uint32_t len, bool trunc, bool peek,
		 bool settled);
/* The receiver saw the end of the stream (0 bytes on a stream or seqpacket socket). */
void fz_dir_end(struct fz_dir *d, bool settled);
/* The receiver has no receive outstanding any more: what waited must fit now. */
void fz_dir_settled(struct fz_dir *d);
/* Bytes may have been consumed unseen (a dropped or detached receive): stop checking order. */
void fz_dir_lossy(struct fz_dir *d);

/* How often an end of stream was checked, and a short send inferred (settled). */
extern unsigned long fz_model_ends, fz_model_skips;

/* Provided by the harness: report an invariant failure and abort. */
void fz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
