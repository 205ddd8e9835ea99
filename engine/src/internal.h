/* SPDX-License-Identifier: MIT */
/* What the files of engine/src share. The request path (docs/DESIGN.md) is six hops:
 *   socket.c (API) -> op.c start -> backend submit (uring.c + kind->prepare)
 *   -> loop.c wait -> op.c CQE -> kind->complete -> op.c decide -> future.c deliver.
 * The loop core (loop.c, op.c, future.c, buf.c, timer.c, uring.c) knows op kinds only
 * through the table below; socket code (sock.c, socket.c, *_ops.c) plugs in through it. */
#ifndef URS_INTERNAL_H
#define URS_INTERNAL_H

#include "compat.h"
#include "ursock.h"

#include <linux/time_types.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/uio.h>

/* ---------------------------------------------------------------- op kinds */

enum op_kind {
	OPK_NOP,
	OPK_SLEEP,           /* timer.c: IORING_OP_TIMEOUT */
	OPK_CLOSE,           /* sock.c: the socket's reserved close, last of its ordered ops */
	OPK_ACCEPT,          /* conn_ops.c */
	OPK_ACCEPT_STREAM,
	OPK_CONNECT,
	OPK_CONNECT_EX,      /* resolves to the positive errno, as Python */
	OPK_RECV,            /* stream_ops.c: into a provided buffer */
	OPK_RECV_INTO,       /* into the caller's memory */
	OPK_RECV_STREAM,
	OPK_SEND,            /* ordered on stream and seqpacket sockets */
	OPK_SENDALL,
	OPK_SHUTDOWN,        /* SHUT_WR/SHUT_RDWR are ordered: the FIN follows queued bytes */
	OPK_RECVFROM,        /* dgram_ops.c: recvmsg into a provided buffer, with the sender */
	OPK_RECVFROM_STREAM, /* messages with their senders: multishot recvmsg */
	OPK_SENDTO,
	OPK_RECVFROM_INTO,   /* recvmsg into the caller's memory, with the sender */
	OPK_SENDMSG,         /* msg_ops.c: iovecs and control messages; ordered */
	OPK_RECVMSG,         /* into a provided buffer, with control messages */
	OPK_RECVMSG_INTO,    /* into the caller's iovecs, with control messages */
	OPK_SENDFILE,        /* file_ops.c: splice file -> pipe -> socket; ordered */
	OPK_POLL,            /* resolve.c: one readiness wait on a socket (c-ares's) */
	OPK_GETADDRINFO,     /* c-ares: waits outside the kernel, decided by its sub-ops */
	OPK_CREATE_CONN,     /* connect.c: resolve, then happy eyeballs */
	OPK__COUNT
};

/* What a kind's complete() asks for once the kernel owes its current submission nothing. */
enum op_next {
	NEXT_DECIDE, /* op->res is the result */
	NEXT_AGAIN,  /* submit the next step (short send, a stream going on) */
	NEXT_PARKED  /* the kind put the op in a queue of ours (urs__op_park) */
};

enum kind_flag {
	KF_SOCK = 1u << 0,       /* names a socket: linked into its op list while it lives */
	KF_TIMEOUT = 1u << 1,    /* honours the socket's timeout (deadline from the start) */
	KF_BUF = 1u << 2,        /* receives into a provided buffer: may wait for one */
	KF_STREAM = 1u << 3,     /* many events (URS_RES_MORE) then one resolution */
	KF_TRY_ONCE = 1u << 4,   /* non-blocking mode is a zero timeout (no MSG_DONTWAIT) */
	KF_PEER = 1u << 5,       /* the result carries the peer's address (accept, recvfrom) */
	KF_ORDERED = 1u << 6,    /* on a stream or seqpacket socket, runs in issue order */
	KF_RETRY = 1u << 7,      /* may go again after the kernel cut it short for the loop's own
				    reasons (the -EBADR recovery): nothing of it happened twice */
	KF_COUNT = 1u << 8,      /* resolves to the bytes it moved (its done) when a cancel, its
				    timeout or an error cut it after some went, as send(2) (and
				    a MSG_WAITALL receive on epoll, as recv(2)) */
	KF_X = 1u << 9,          /* has a side part (struct urs_opx) from its start */
	KF_M = 1u << 10,         /* and an addresses part (struct urs_opm) */
	KF_SEND = 1u << 11,      /* a send: the buffer in op->bid (send pool or a forwarded
				    receive buffer) goes back at its decision, whatever the result */
	KF_OWN = 1u << 12        /* a receive stream: takes its socket's own op cell when that
				    is free (sockmem.c), else one from the pool */
};

struct urs_op;
struct io_uring_sqe;

/* One row per kind, as the kernel's io_uring/opdef.c. Only prepare and complete are
 * required; the rest are hooks a kind may need. */
struct urs_op_kind {
	const char *name;
	unsigned flags;
	/* The first step: returns true to submit now, false when the kind queued the op (an
	 * ordered send behind another). NULL: submit now. */
	bool (*start)(struct urs_op *op);
	/* io_uring: fills the SQE of the op's current step. Returns 0, or a -errno that
	 * decides the op without submitting anything. */
	int (*prepare)(struct urs_op *op, struct io_uring_sqe *sqe);
	/* epoll: does the op's current step now without blocking. Returns what the CQE would
	 * (a count, a new fd, -errno), or -EAGAIN with *want = EPOLLIN or EPOLLOUT: wait for
	 * that and try again (*want = 0: a timer, op->deadline says until when). */
	int (*exec)(struct urs_op *op, uint32_t *want);
	/* A CQE with IORING_CQE_F_MORE: one event of a stream; the request stays armed. */
	void (*event)(struct urs_op *op, int res, unsigned cflags);
	/* The kernel owes the current submission nothing more: continue or decide. */
	enum op_next (*complete)(struct urs_op *op, int res, unsigned cflags);
	/* The op is being cancelled while it waits in a queue of the kind's (not the kernel):
	 * leave it. Returns false when the kind handles the cancel itself (a close). */
	bool (*cancel)(struct urs_op *op);
	/* The op was just decided (op->res final, callbacks not yet run): a queue moves on. */
	void (*decided)(struct urs_op *op);
	/* The op is done with its socket (decided and, with a callback, delivered). */
	void (*retire)(struct urs_op *op);
	/* The result is being built for its consumer (once per decided op): fill the kind's
	 * own fields of r and hand over, or free, what op->ext holds. */
	void (*result)(struct urs_op *op, urs_result *r);
};

/* exec's *want for an op that waits for a time (op->deadline), not for its fd. */
#define URS_EP_TIMER (1u << 31)
/* ...or'ed into *want by an exec that answered without a system call (the stats count calls). */
#define URS_EP_NOCALL (1u << 30)
/* exec's return for an op that would wait: -EAGAIN with *want set; with *want 0 the -EAGAIN
 * is the result itself. */
static inline int urs__ep_again(uint32_t *want, uint32_t what)
{
	*want = what;
	return -EAGAIN;
}

extern const struct urs_op_kind *const urs__kinds[OPK__COUNT];
extern const struct urs_op_kind urs__kind_nop, urs__kind_sleep, urs__kind_close,
	urs__kind_accept, urs__kind_accept_stream, urs__kind_connect, urs__kind_connect_ex,
	urs__kind_recv, urs__kind_recv_into, urs__kind_recv_stream, urs__kind_send,
	urs__kind_sendall, urs__kind_shutdown, urs__kind_recvfrom, urs__kind_recvfrom_stream,
	urs__kind_sendto, urs__kind_recvfrom_into, urs__kind_sendmsg, urs__kind_recvmsg,
	urs__kind_recvmsg_into, urs__kind_sendfile, urs__kind_poll, urs__kind_getaddrinfo,
	urs__kind_create_conn;

/* ---------------------------------------------------------------- ops (op.c) */

enum op_state {
	OP_FREE,     /* in the pool (or a socket's own cell, unused) */
	OP_WAITING,  /* started, waiting outside the kernel: a queue of ours or a turn */
	OP_KERNEL,   /* submitted: the kernel owes it kpending CQEs */
	OP_STEPPING, /* the kernel is done with a submission and its kind's complete() runs:
			a callback it runs may ask for a cancel, which complete() then honours */
	OP_DONE,     /* decided: the result waits for its consumer (or the ready list) */
	OP_LINGER    /* consumed, but a zero-copy send's notification is still owed: its
			memory waits for it (sendbuf.c), then the op goes to the pool */
};

/* Which of an op's SQEs a CQE answers: its own, its linked timeout's, or a cancel request
 * aimed at it. UD_LOOP marks the loop's own requests (the recovery barrier, wakes): no op. */
enum { UD_MAIN = 0, UD_TIMEOUT = 1, UD_LOOP = 2, UD_CANCEL = 3 };
enum { UD_LOOP_IGNORE = 0, UD_LOOP_BARRIER = 1, UD_LOOP_WAKE_READ = 2, UD_LOOP_WAKE_MSG = 3 };

enum op_flag {
	OPF_BOUND = 1u << 0,    /* a callback is attached */
	OPF_DETACHED = 1u << 1, /* nobody consumes the result: dropped at delivery */
	OPF_AWAITED = 1u << 2,  /* urs_await is waiting for it */
	OPF_CANCEL = 1u << 3,   /* cancel asked (urs_cancel, close, teardown) */
	OPF_TIMEDOUT = 1u << 4, /* its deadline passed (linked timeout fired, or ours) */
	OPF_MULTI = 1u << 5,    /* the current submission is multishot */
	OPF_READY = 1u << 6,    /* on the loop's ready list */
	OPF_BACKOFF = 1u << 7,  /* accept stream: the current submission is its backoff timer */
	OPF_HEAP = 1u << 8,     /* in the deadline heap */
	OPF_RETIRED = 1u << 9,  /* no longer counted on its socket */
	OPF_CONT = 1u << 10,    /* the submission continues a step that just completed */
	OPF_COUNTED = 1u << 11, /* its unsent bytes count in its socket's queued bytes */
	OPF_BUNDLE = 1u << 12,  /* the current submission is a bundle: a completion may carry
				   several buffers (IORING_RECVSEND_BUNDLE) */
	OPF_LOST = 1u << 13,    /* bytes of it were received into buffers the loop lost track
				   of: it ends -EBADR at the recovery instead of going again */
	OPF_ORPHAN = 1u << 14,  /* decided with no consumer, then its socket closed or went:
				   no callback may be attached to it any more (urs_then -EBADF) */
	OPF_EARLY = 1u << 15    /* its piece of an incremental buffer was taken at its CQE
				   (urs__buf_early): bid is that piece's slot, bdata/blen its view */
};

/* A FIFO of ops waiting outside the kernel (doubly linked: cancel leaves in O(1)). */
struct urs_opq {
	uint32_t head, tail;     /* op indices, 0: none */
};

/* Which waiting queue an op is in (QUEUE_NONE: none); op.c maps it to the queue. */
enum op_queue {
	QUEUE_NONE, QUEUE_BACKLOG, QUEUE_SENDQ, QUEUE_RWAIT, QUEUE_WWAIT, QUEUE_BUFWAIT,
	QUEUE_EP_PENDING, QUEUE_EP_READY
};

/* The op's hot part: one cache line (static assert in op.c). Its loop and index come from
 * its chunk (urs__op_loop, urs__op_idx); the lists it is in link by index (0: none, as
 * slot 0 of every chunk is the chunk's header); what only some ops need is in side parts. */
struct urs_op {
	urs_cb cb;
	void *user;
	urs_sock *sock;
	int32_t gen;
	uint8_t kind;
	uint8_t bgroup;          /* KF_BUF: which group of provided buffers it receives into */
	uint8_t state : 3;       /* enum op_state */
	uint8_t kpending : 2;    /* CQEs still owed for the current submission */
	uint8_t queue : 3;       /* enum op_queue: the waiting queue it is in */
	uint8_t rflags : 3;      /* URS_RES_* of the result */
	uint8_t cancel_tries : 3;/* io_uring: cancel requests that missed it (uring.c; 7 at most) */
	uint16_t flags;
	uint16_t cflags;         /* the latest main CQE's flags; a buffer it names is in bid */
	int res;                 /* the latest main CQE's result, then the decided result */
	uint32_t bid;            /* the lending slot of a piece of buffer this op holds (buf.c),
				    or URS_BUF_NONE */
	uint32_t x;              /* its side part (struct urs_opx, urs__op_x), 0: none */
	uint32_t next, prev;     /* the free list, or its waiting queue */
	uint32_t rnext;          /* the ready list (a decided op may still be in its queue
				    briefly) */
	uint32_t snext;          /* its socket's op list (singly linked, oldest first) */
};

/* Slot 0 of every chunk of ops: chunks are aligned to their size, so an op finds it. A
 * chunk of the pool holds ops only; a chunk of sockets (sockmem.c) is one too, its ops being
 * its sockets' own (struct urs_sockcell), so an op in either finds its loop and index the
 * same way, and an index names either through the loop's one table of chunks. */
struct urs_opchunk {
	urs_loop *loop;          /* NULL once the loop left a chunk of sockets to its husks */
	uint32_t first;          /* the index of slot 0 */
	uint32_t n;              /* the pool's: its ops, slots 1..n (fewer than OP_CHUNK - 1 only
				    in the last chunk, when max_ops ends there); sockets': the
				    last slot of a socket cell ever handed out */
	bool socks;              /* a chunk of sockets: not the pool's */
};
enum { OP_CHUNK = 1024 };
static inline struct urs_opchunk *urs__op_chunk(const struct urs_op *op)
{
	return (struct urs_opchunk *)((uintptr_t)op &
				      ~(uintptr_t)(OP_CHUNK * sizeof(struct urs_op) - 1));
}
static inline urs_loop *urs__op_loop(const struct urs_op *op)
{
	return urs__op_chunk(op)->loop;
}
static inline uint32_t urs__op_idx(const struct urs_op *op)
{
	struct urs_opchunk *c = urs__op_chunk(op);
	return c->first + (uint32_t)(op - (const struct urs_op *)(void *)c);
}

/* What only some ops need, from side slabs (slab.c) so that an op that needs none of it
 * (a receive stream, a close, a nop) is its hot part alone. Kinds flagged KF_X get one at
 * their start, and so does any op on a socket with a timeout (its deadline); KF_M kinds
 * also get the addresses part. Both go back with the op. */
struct urs_opx {
	const char *data;        /* send: the bytes; recv_into: where to receive */
	size_t len;              /* bytes to send, or room to receive; sleep: nanoseconds */
	size_t done;             /* bytes sent so far (send, sendall); connect on epoll: 1 once
				    in progress */
	int64_t deadline;        /* CLOCK_MONOTONIC ns at which it times out; 0 = never */
	char *bdata;             /* a single receive's result: where its bytes start in the
				    buffer it holds (bid) */
	void *ext;               /* a kind's own state beyond these fields (msg_ops.c: the
				    iovec array; file_ops.c, resolve.c, connect.c: their state) */
	int msgflags;            /* send/recv flags; shutdown: how; poll: its events */
	uint32_t blen;           /* how many bytes of that buffer are the result */
	uint32_t heap;           /* index in the deadline heap while OPF_HEAP */
	uint32_t m;              /* its addresses part (struct urs_opm), 0: none */
};

/* Addresses and a msghdr (KF_M kinds), read by the kernel until the op completes. */
struct urs_opm {
	urs_addr addr;           /* connect/sendto: the target; accept/recvfrom: the peer */
	struct msghdr msg;       /* recvmsg/sendmsg */
	struct iovec iov;
	urs_sock *newsock;       /* accept, create_connection: the new connection, until consumed */
};

/* A slab of fixed-size objects named by index (slab.c): index 0 names none. */
enum { URS_SLAB_SHIFT = 7, URS_SLAB_PER = 1 << URS_SLAB_SHIFT };
struct urs_slab {
	char **chunks;
	uint32_t nchunks;
	uint32_t size;           /* bytes per object */
	uint32_t free;           /* the first free object (linked through their first bytes) */
	uint32_t fresh;          /* objects from here on were never handed out */
	uint32_t n;              /* objects in use */
};
void urs__slab_init(struct urs_slab *s, uint32_t size);
/* An object's index, or 0 when memory ran out. Its contents are whatever they were. */
uint32_t urs__slab_get(struct urs_slab *s);
void urs__slab_put(struct urs_slab *s, uint32_t idx);
void urs__slab_fini(struct urs_slab *s);
void *urs__chunk_map(size_t bytes);
void urs__chunk_unmap(void *chunk, size_t bytes);
static inline void *urs__slab_at(const struct urs_slab *s, uint32_t idx)
{
	return s->chunks[idx >> URS_SLAB_SHIFT] + (size_t)(idx & (URS_SLAB_PER - 1)) * s->size;
}

/* The pool: ops come from chunks grown on demand up to max_ops, never freed before the
 * loop, so a handle's index always names memory. A socket's own op (KF_OWN kinds) is not
 * the pool's and not counted in ops_in_use: its cell lives as long as its socket's chunk,
 * which outlives the loop's ops. */
int urs__op_new(urs_loop *loop, enum op_kind kind, urs_sock *sock, struct urs_op **out);
/* A socket's close: reserve counts it (-EBUSY when the pool is full, -ENOMEM) and makes
 * room for it; urs__op_reserved takes that op, which never fails; unreserve gives the
 * reservation back unused. */
int urs__op_reserve(urs_loop *loop);
void urs__op_unreserve(urs_loop *loop);
struct urs_op *urs__op_reserved(urs_loop *loop, enum op_kind kind, urs_sock *sock);
/* The op a future or a CQE names, or NULL when idx names no op cell (a header, a socket). */
struct urs_op *urs__op_at(const urs_loop *loop, uint32_t idx);
/* Every op cell of the loop, the pool's and its sockets' own, from *pos = 0 on (NULL at the
 * end): what a walk over every op (teardown, the recovery barrier) must see. */
struct urs_op *urs__op_iter(const urs_loop *loop, uint32_t *pos);
/* A new chunk (its header h, OP_CHUNK slots) joins the loop's table of chunks: h->loop and
 * h->first are set. -ENOMEM leaves the table as it was. */
int urs__op_chunk_add(urs_loop *loop, struct urs_opchunk *h);
/* An op goes back: to the pool, or, a socket's own, to its socket cell (and the cell to the
 * slab if the socket was released meanwhile). */
void urs__op_free(urs_loop *loop, struct urs_op *op);
void urs__pool_init(urs_loop *loop);
void urs__pool_free(urs_loop *loop);
static inline const struct urs_op_kind *urs__kind(const struct urs_op *op)
{
	return urs__kinds[op->kind];
}

/* The op's life: start (hop 2) -> submit -> CQEs (hop 4) -> decide (hop 5). */
urs_future urs__op_start(struct urs_op *op);
void urs__op_submit(struct urs_op *op);
void urs__op_complete(struct urs_op *op, unsigned part, int res, uint32_t cflags);
void urs__op_decide(struct urs_op *op, int res);
void urs__op_cancel(struct urs_op *op);
void urs__op_expire(struct urs_op *op);
/* The op is done with its socket: at its decision when its consumer is an awaiter or nobody
 * (detached), after its callback when it has one, when its result is claimed when it had no
 * consumer yet, or as its socket closes (urs__op_orphan). */
void urs__op_retire(struct urs_op *op);
/* A result nobody has claimed leaves its closing (or departing) socket: the close does not
 * wait for it, and urs_then refuses it (urs_await and urs_detach still take it). */
void urs__op_orphan(struct urs_op *op);
/* Waiting outside the kernel: in q (or in no queue when q is NULL), with its deadline
 * armed in the loop's heap. unpark takes it out of both. */
void urs__op_park(struct urs_op *op, struct urs_opq *q);
void urs__op_unpark(struct urs_op *op);
/* A non-blocking op (timeout 0) that would have to wait: it resolves -EAGAIN instead. */
bool urs__op_nonblocking(const struct urs_op *op);
/* The same, or this call's own MSG_DONTWAIT (send and receive flags; other kinds keep no
 * such bit in msgflags): it never waits, for data, room or a buffer. */
static inline bool urs__op_dontwait(const struct urs_op *op);
/* Ends the op's current submission in the kernel (a multishot request) without cancelling
 * the op: its kind's complete() sees -ECANCELED and submits the next step its own way. */
void urs__op_rearm(struct urs_op *op);
static inline uint64_t urs__ud(const struct urs_op *op, unsigned part)
{
	return ((uint64_t)(uint32_t)op->gen << 32) | ((uint64_t)urs__op_idx(op) << 2) | part;
}
static inline uint64_t urs__ud_loop(unsigned what) { return ((uint64_t)what << 2) | UD_LOOP; }

void urs__opq_push(struct urs_opq *q, struct urs_op *op);
struct urs_op *urs__opq_pop(urs_loop *loop, struct urs_opq *q);
void urs__opq_remove(struct urs_op *op);
/* Is op waiting in q? The op behind it in its queue. */
bool urs__op_in(const struct urs_op *op, const struct urs_opq *q);
struct urs_op *urs__op_qnext(const struct urs_op *op);

/* ---------------------------------------------------------------- futures (future.c) */

urs_future urs__future_of(const struct urs_op *op);
static inline urs_future urs__future_err(int err)
{
	urs_future f = { NULL, 0, err };
	return f;
}
/* The op is decided: hand its result to its consumer through the ready list. */
void urs__future_resolved(struct urs_op *op);
/* Runs what the ready list holds: callbacks, dropped results. Returns how many. */
int urs__ready_run(urs_loop *loop);
/* A stream's event: runs its callback now, or drops the payload when nobody listens. */
void urs__event(struct urs_op *op, urs_result *r);
void urs__result_drop(urs_result *r);

/* ---------------------------------------------------------------- sockets (sock.c) */

enum sock_state { SOCK_OPEN, SOCK_CLOSING, SOCK_CLOSED };

/* A socket object, from the loop's socket slab (sockmem.c). Ops it names are linked by op
 * index, sockets it links to by socket index (0: none). */
struct urs_sock {
	urs_loop *loop;          /* NULL once the loop is gone: a husk answering -EBADF */
	int fd;
	int slot;                /* its slot in the ring's registered file table, or -1 */
	uint8_t family, type;
	uint16_t proto;
	uint8_t state;
	bool inuse : 1;          /* handed out by the slab (a husk too) */
	bool free_asked : 1;     /* urs_sock_free was called */
	bool torn : 1;           /* a send stopped part-way: close resets, shutdown refuses */
	bool abort : 1;          /* close with a reset (cancelled close, teardown) */
	bool dead : 1;           /* freed: waits in loop->dead for the end of the turn */
	bool rd_shut : 1;        /* its shutdown(SHUT_RD or SHUT_RDWR) succeeded: a datagram
				    receive of 0 bytes is then the end, not an empty datagram */
	bool close_owed : 1;     /* its close is reserved (urs__op_reserve), not yet taken */
	bool ep_added : 1;       /* epoll: the fd is in the loop's epoll set */
	bool ep_rdrained : 1;    /* epoll: a short stream read took all there was; no read is
				    tried again until the fd's next readable edge */
	bool ep_rdend : 1;       /* epoll: the read side ended (FIN, HUP, error, SHUT_RD) */
	bool wm_over : 1;        /* the water mark state last reported */
	bool wm_listed : 1;      /* in the loop's list of crossings to report */
	bool wm_now : 1;         /* the state now */
	bool wm_bounced : 1;     /* it left the reported one and came back */
	bool release_owed : 1;   /* released while its own op was still in use: that op's free
				    gives the cell back (sockmem.c) */
	bool zc_off : 1;         /* it refused a zero-copy send: its sends go plain from then on */
	uint32_t files;          /* FILE streams from urs_makefile still open on it */
	uint32_t nops;           /* live ops naming this socket (not its close) */
	int64_t timeout_ns;      /* < 0 none, 0 non-blocking, > 0 a deadline per op */
	uint32_t ops, ops_tail;  /* those ops (urs__sock_ops, urs__sock_next), oldest first */
	uint32_t send_head;      /* the ordered op in progress (in the kernel or a turn) */
	uint32_t close_op;       /* its close, once started */
	struct urs_opq sendq;    /* ordered ops behind it, in issue order */
	struct urs_opq rwait, wwait; /* epoll: ops waiting for the fd to be readable, writable */
	uint32_t wm_next;        /* the loop's sockets with a water mark crossing to report */
	uint32_t free_next;      /* the loop's dead sockets; in the slab, its free objects */
	size_t queued;           /* bytes of its ordered sends the kernel has not taken */
	size_t wm_high, wm_low;  /* urs_sock_watermarks */
	urs_cb wm_cb;
	void *wm_user;
};

/* A socket's cell in its slab: the socket, then its own op, the cell of its receive stream
 * (KF_OWN), so that a connection idle in a stream costs one 192-byte cell and no op of the
 * pool. The op's slot in the chunk is a multiple of 64 bytes, so it is an op like any other
 * (urs__op_loop, urs__op_idx). Its generation survives the socket's reuse: only the socket
 * part is cleared. */
struct urs_sockcell {
	urs_sock sock;
	struct urs_op own;
};
enum {
	SOCKCELL_SLOTS = sizeof(struct urs_sockcell) / sizeof(struct urs_op),
	SOCKCELL_OWN = offsetof(struct urs_sockcell, own) / sizeof(struct urs_op)
};
static inline struct urs_op *urs__sock_own(urs_sock *s)
{
	return &((struct urs_sockcell *)(void *)s)->own;
}
/* The socket whose cell holds op, a socket's own op (its chunk's socks). */
static inline urs_sock *urs__own_sock(struct urs_op *op)
{
	return (urs_sock *)(void *)((char *)op - offsetof(struct urs_sockcell, own));
}

/* sockmem.c: the loop's socket slab. An object comes zeroed (inuse set) or NULL; release
 * works on a husk too, and while the socket's own op is still in use it only marks the
 * socket (release_owed): the op's free gives the cell back; orphan leaves the slab to its
 * last husk. iter walks the loop's
 * live sockets (not dead, not husks) from *pos = 0 on. */
int urs__socks_init(urs_loop *loop);
urs_sock *urs__sock_alloc(urs_loop *loop);
void urs__sock_release(urs_sock *s);
void urs__socks_orphan(urs_loop *loop);
urs_sock *urs__sock_at(const urs_loop *loop, uint32_t idx);
uint32_t urs__sock_idx(const urs_sock *s);
urs_sock *urs__sock_iter(const urs_loop *loop, uint32_t *pos);

urs_sock *urs__sock_new(urs_loop *loop, int fd, int family, int type, int proto, int *err);
void urs__sock_retire(struct urs_op *op);
/* Orphans the socket's decided ops whose results nobody has claimed (urs__op_orphan). */
void urs__sock_orphan_results(urs_sock *s);
void urs__sock_file_closed(urs_sock *s);
/* A hand-off: the fd leaves s (not closed); the object goes as if freed. */
void urs__sock_give_away(urs_sock *s);
/* A socket that came from elsewhere (a hand-off, an adopted fd): its fd suits this loop's
 * backend (blocking for io_uring; epoll makes it non-blocking at its first op). */
void urs__sock_adopted(urs_sock *s);
void urs__sock_reap_dead(urs_loop *loop);
void urs__sock_teardown_start(urs_loop *loop);
void urs__sock_teardown(urs_loop *loop);
int urs__sock_check(const urs_sock *s);
static inline bool urs__sock_ordered(const urs_sock *s)
{
	return s->type == SOCK_STREAM || s->type == SOCK_SEQPACKET;
}
static inline bool urs__sock_dgram(const urs_sock *s)
{
	return s->type == SOCK_DGRAM || s->type == SOCK_RAW || s->type == SOCK_RDM;
}

/* epoll: a receive that found nothing (-EAGAIN). On a datagram socket whose reading was
 * shut, where a blocking receive answers 0 at once, a receive that would wait ends with 0
 * as on io_uring; else it waits for EPOLLIN (stream_ops.c). */
int urs__rd_shut_end(struct urs_op *op, uint32_t *want);

/* The ordered queue (stream_ops.c): sends, shutdown and close on a stream socket go one at
 * a time, in issue order. */
bool urs__ordered_start(struct urs_op *op);
void urs__ordered_decided(struct urs_op *op);
/* res bytes of a counted send went: the socket's queued bytes drop. */
void urs__ordered_sent(struct urs_op *op, int res);
/* The op will send no more than len bytes (a file that ended first): what it no longer
 * owes leaves the socket's queued bytes. */
void urs__ordered_shrink(struct urs_op *op, size_t len);
/* Reports water mark crossings (from the ready list's turn). Returns how many. */
int urs__wm_run(urs_loop *loop);
/* A send's complete(): bytes counted in op->done, continued on a blocking stream, the count
 * as the result (urs_send's rules; sendmsg shares them). */
enum op_next urs__send_complete(struct urs_op *op, int res, unsigned cflags);
/* Rows of kinds that are never submitted (their sub-ops decide them): prepare and exec
 * refuse, complete takes the result as it is. */
int urs__never_prepare(struct urs_op *op, struct io_uring_sqe *sqe);
int urs__never_exec(struct urs_op *op, uint32_t *want);
enum op_next urs__complete_as_is(struct urs_op *op, int res, unsigned cflags);
/* sock.c: the close op's turn came, or an op left a closing socket. */
void urs__close_step(urs_sock *s);

/* ---------------------------------------------------------------- backends */

/* The seam between the loop core and the kernel interface (uring.c, epoll.c). A backend
 * arms an op's current step, ends one in flight, and in its wait submits, waits and hands
 * each completion to urs__op_complete. */
struct urs_backend {
	const char *name;
	void (*submit)(struct urs_op *op);
	void (*cancel)(struct urs_op *op);
	/* Submits, waits (when block) until a completion or deadline (CLOCK_MONOTONIC ns, 0 =
	 * none), hands the completions to their ops. Returns how many, or -errno. */
	int (*wait)(urs_loop *loop, bool block, int64_t deadline);
	/* Could something in the kernel still wake the loop (an op in flight, a request
	 * waiting for room)? */
	bool (*can_wake)(const urs_loop *loop);
	/* What callbacks started goes to the kernel now (the caller may sleep elsewhere). */
	void (*flush)(urs_loop *loop);
	/* Listen on loop->wake_fd: its becoming readable ends a wait and sets loop->woken. */
	int (*arm_wake)(urs_loop *loop);
	/* A socket's fd joins this loop (made or adopted) / leaves it, being closed (closing)
	 * or handed to another loop: the backend registers it or forgets what it keeps. */
	void (*sock_attach)(urs_sock *s);
	void (*sock_detach)(urs_sock *s, bool closing);
	int (*fd)(urs_loop *loop);
	void (*fini)(urs_loop *loop);
};

extern const struct urs_backend urs__be_uring, urs__be_epoll;

/* ---------------------------------------------------------------- loop (loop.c) */

/* The groups of provided buffers (buf.c): the loop's own (byte streams, and messages that
 * fit when the loop's ring is not incremental), message buffers (64 KiB of payload and room
 * for a multishot recvmsg's header and the sender's address, page-aligned), and, beside an
 * incremental ring, plain buffers of the loop's size for messages that fit them. */
enum { URS_BG_LOOP = 0, URS_BG_MSG = 1, URS_BG_SMALL = 2, URS_BG_COUNT = 3 };
enum { URS_MSG_MAX = 65536, URS_MSG_BUF = 65536 + 4096, URS_MSG_BUFS = 64 };

/* One group of provided buffers: ids first .. first + count - 1 (global ids; the ring names
 * them by their index in the group). */
struct urs_bufgroup {
	char *base;
	size_t map_len;
	uint32_t size, count, first;
	struct io_uring_buf_ring *br; /* its buffer ring (group id = its index), or NULL */
	size_t br_map_len;
	bool inc;                /* the ring is incremental (IOU_PBUF_RING_INC) */
	uint16_t *at;            /* with a ring: the buffer (index in the group) added at each
				    ring position (mod count), and per buffer the position it was */
	uint16_t *pos;           /* last added at: the next buffers of a bundle, in ring order */
	uint32_t *free;          /* without a ring: stack of free ids */
	uint32_t nfree;
	uint32_t in_ring;        /* with a ring: buffers the kernel can pick from (also one it
				    has partly filled) */
	int ring_err;            /* why it has no ring */
	bool made;               /* groups 1 and 2 are made at their first use */
	struct urs_opq wait;     /* receives waiting for a buffer of this group */
};

/* A buffer's state (per global id). A buffer goes back to its group when no piece of it is
 * held (by an op's result or by the user) and the kernel is not filling it any more. */
struct urs_bufstate {
	uint32_t off;            /* incremental: bytes the kernel has filled this time round */
	uint32_t pieces;         /* lending slots that name it */
	bool more;               /* incremental: the kernel goes on filling it (BUF_MORE) */
};

/* One piece of a completion: res bytes in data, lending slot slot. */
struct urs_piece {
	uint32_t slot;
	uint32_t len;
	char *data;
};

/* A lending slot: what a urs_buf's id names. Slot i < nbufs is buffer i's own; pieces of a
 * buffer beyond the first out at once (incremental rings) take extra slots. */
enum { LEND_FREE = 0, LEND_OP = 1, LEND_USER = 2 };

/* The send pool (sendbuf.c): ids URS_SENDBUF_TAG | index, so an urs_buf names a send
 * buffer or a receive buffer alone. */
#define URS_SENDBUF_TAG 0x40000000u
enum { SB_FREE = 0, SB_USER = 1, SB_SENDING = 2 };
/* The op sending from a buffer: its current step is a SEND_ZC (its result CQE comes with
 * IORING_CQE_F_MORE, the notification after it). Kept with the buffer, not the op, whose
 * flags are full. A socket that refused zero-copy says so itself (urs_sock.zc_off). */
enum { SBZ_STEP = 1, SBZ_TRIAL = 2 }; /* TRIAL: this step is the plain retry of a refused
					   zero-copy one (urs__sendbuf_zc_refused) */
enum { URS_HELD_MAX = 8 }; /* notifications a test may hold back (fault_hold_notifs) */
struct urs_sendpool {
	char *base;
	size_t map_len;
	uint32_t count, size;    /* as the options said */
	uint32_t zc_threshold;
	uint32_t *gen;           /* per buffer: generation of its latest lending */
	uint8_t *state;          /* per buffer: SB_* */
	uint16_t *owed;          /* per buffer: zero-copy notifications still to come */
	uint8_t *zc;             /* per buffer, while an op sends from it: SBZ_* */
	uint32_t notifs_owed;    /* their sum: the loop is not idle while any is owed */
	uint32_t *free;          /* stack of free indexes */
	uint32_t nfree;
	bool made, registered;
	bool send_addr;          /* a plain IORING_OP_SEND takes a destination address */
	int reg_err;             /* why it is not registered (io_uring, not disabled) */
	uint64_t zc_sends, fixed_sends; /* submissions of each form (tests read them) */
	uint64_t zc_results;     /* zero-copy result CQEs seen (their notifications follow) */
	uint64_t zc_refusals;    /* zero-copy steps a socket refused (sent again plain) */
};

struct urs_heap {
	struct urs_op **v;
	uint32_t n, cap;
};

struct urs_post {
	urs_post_fn fn;
	void *arg;
};

struct urs_loop {
	const struct urs_backend *be;
	pthread_t owner;         /* the thread that made the loop: the only one that may use it */
	/* what other threads may touch (thread.c) */
	_Atomic bool stop;
	_Atomic bool wake_pending; /* a wake was sent and the loop has not looked yet */
	_Atomic int xcalls;      /* other threads' calls in progress: the loop outlives them */
	int wake_fd;             /* eventfd: wakes and posts from other threads */
	uint64_t wake_val;       /* where the ring's read of wake_fd lands */
	bool woken;              /* the wait ended for a wake: posts to run */
	bool wake_armed;
	pthread_mutex_t post_mu;
	struct urs_post *posts, *posts_run; /* guarded by post_mu / the loop's own */
	uint32_t nposts, cap_posts, cap_run;
	struct io_uring ring;
	unsigned features;
	unsigned disabled;       /* urs_loop_opts.disable and URSOCK_DISABLE */
	unsigned ring_flags;
	unsigned batch, batch_wait_us;
	unsigned last_reaped;    /* completions handled by the previous turn: how busy we are */
	unsigned batch_asked;    /* what the previous wait asked for when batched, else 0 */
	int depth;               /* > 0 while user callbacks run */
	bool tearing_down;
	bool recovering;         /* CQEs were dropped (-EBADR): a barrier is draining the ring */
	bool zombie;             /* freed while the user held buffers: only they keep it */
	int buf_ring_err;        /* why there is no buffer ring (0: there is one, or disabled) */
	int evfd;                /* urs_loop_fd: an eventfd registered with the ring, or -1 */
	int epfd;                /* epoll backend: its epoll set (wake_fd is in it) */
	struct urs_opq ep_pending; /* epoll backend: ops handed over, to run at the next wait */
	struct urs_opq ep_ready;   /* epoll backend: ops woken by their fd, and continuations */
	int backend_why;         /* why this backend: the io_uring error that refused it, or 0 */

	/* op pool (op.c) */
	struct urs_op **chunks;
	uint32_t nchunks, nops_alloc, max_ops;
	struct urs_op *free_ops;  /* ops used before and freed */
	uint32_t bufwait;         /* receives waiting for a buffer, in every group */
	uint32_t op_fresh;        /* the first op never used (pages untouched until it is) */
	struct urs_slab xs, ms;  /* ops' side parts: struct urs_opx, struct urs_opm */
	struct urs_op *ready, *ready_tail; /* decided, consumer to run */
	uint32_t active;         /* ops started and not yet decided */
	uint32_t inflight;       /* CQEs the kernel still owes us (ops, timeouts, cancels) */
	uint32_t inflight_own;   /* of those, the loop's own listener on wake_fd */
	struct urs_opq backlog;  /* ops that found the SQ full: submitted at the next turn */
	struct urs_op **cancels; /* ops whose cancel request found the SQ full */
	int32_t *cancel_gens;
	uint32_t ncancels, cancels_cap;
	struct urs_heap deadlines; /* ops waiting outside the kernel that can time out */
	struct __kernel_timespec *sqe_ts; /* per SQE slot: a timeout read by the kernel at submit */
	int *slot_fd;            /* registered file table: the fd each update names (files.c) */
	uint32_t *slot_free;     /* slots given back, a stack */
	uint32_t nslots, nslot_free;
	uint32_t slot_next;      /* slots from here on were never used */

	/* provided buffers (buf.c): group 0 the loop's, group 1 message buffers, group 2 small
	 * message buffers beside an incremental group 0 */
	uint32_t buf_size, buf_count; /* group 0's, as the options said */
	struct urs_bufgroup bg[URS_BG_COUNT];
	uint32_t nbufs;          /* buffers of every group: ids 0 .. nbufs - 1 */
	struct urs_bufstate *bstate; /* per buffer */
	uint32_t nlend;          /* lending slots: nbufs, then the extra ones */
	uint32_t *lend_gen;      /* per slot: generation of its latest lending */
	uint8_t *lend_state;     /* per slot: LEND_* */
	uint32_t *lend_bid;      /* per extra slot: the buffer it names */
	uint32_t *lend_free;     /* extra slots free, a stack */
	uint32_t nlend_free;
	struct urs_piece *pieces; /* the pieces of the completion being handled */
	bool buf_lost;           /* a completion named buffers the loop cannot find: recover */

	struct urs_sendpool sp;  /* send buffers (sendbuf.c), made at first use */

	/* resolver (resolve.c): urs_resolver_config */
	char *dns_servers;       /* c-ares's "host:port,..." list, or NULL: resolv.conf */
	int dns_timeout_ms, dns_tries; /* 0: c-ares's defaults */

	struct urs_sockslab *sockslab; /* its socket objects (sockmem.c) */
	uint32_t dead;           /* freed objects, released at the end of the turn */
	uint32_t wm_list;        /* sockets whose queued bytes crossed a water mark */
	urs_loop_stats stats;
	/* test hooks (tests link the static library and set these through internal.h) */
	unsigned fault_drop_cqes;  /* drop this many CQEs, then report -EBADR as the kernel */
	bool fault_badr;
	bool fault_zc_any;         /* try zero-copy on every socket family (the kernel refuses) */
	bool fault_hold_notifs;    /* keep zero-copy notifications aside (urs__fault_release_notifs) */
	uint8_t nheld;
	struct urs_held_cqe {
		uint64_t ud;
		int32_t res;
		uint32_t flags;
	} held[URS_HELD_MAX];
	uint64_t cancel_retries;   /* cancel requests asked again after missing their op */
	char feat_str[512];
};

/* Test hook: the notifications held by fault_hold_notifs come now, in order; holding stops. */
void urs__fault_release_notifs(urs_loop *loop);

/* The op an index names (in a list: 0 is none). */
static inline struct urs_op *urs__op_ptr(const urs_loop *loop, uint32_t idx)
{
	return idx ? &loop->chunks[idx / OP_CHUNK][idx % OP_CHUNK] : NULL;
}
static inline struct urs_op *urs__sock_ops(const urs_sock *s)
{
	return urs__op_ptr(s->loop, s->ops);
}
static inline struct urs_op *urs__sock_next(const struct urs_op *op)
{
	return urs__op_ptr(urs__op_loop(op), op->snext);
}
static inline uint32_t urs__op_ref(const struct urs_op *op)
{
	return op ? urs__op_idx(op) : 0;
}

/* ---------------------------------------------------------------- an op's side parts */

/* The op's side part, or NULL when it has none (kinds flagged KF_X always have one). */
static inline struct urs_opx *urs__op_x(const struct urs_op *op)
{
	return op->x ? (struct urs_opx *)urs__slab_at(&urs__op_loop(op)->xs, op->x) : NULL;
}
/* The addresses part of a KF_M op. */
static inline struct urs_opm *urs__op_m(const struct urs_op *op)
{
	return urs__slab_at(&urs__op_loop(op)->ms, urs__op_x(op)->m);
}
/* Fields of the side part as an op without one reads them. */
static inline int64_t urs__op_deadline(const struct urs_op *op)
{
	return op->x ? urs__op_x(op)->deadline : 0;
}
static inline int urs__op_msgflags(const struct urs_op *op)
{
	return op->x ? urs__op_x(op)->msgflags : 0;
}
static inline size_t urs__op_done(const struct urs_op *op)
{
	return op->x ? urs__op_x(op)->done : 0;
}
static inline bool urs__op_dontwait(const struct urs_op *op)
{
	return urs__op_nonblocking(op) || (urs__op_msgflags(op) & MSG_DONTWAIT);
}
/* Gives op a side part (and an addresses part) if it has none yet: 0, or -ENOMEM. */
int urs__op_need_x(struct urs_op *op);
int urs__op_need_m(struct urs_op *op);

/* loop.c */
int urs__loop_turn(urs_loop *loop, int block);
/* thread.c */
static inline bool urs__mine(const urs_loop *loop)
{
	return pthread_equal(loop->owner, pthread_self());
}
int urs__posts_init(urs_loop *loop);
void urs__posts_fini(urs_loop *loop);
int urs__posts_run(urs_loop *loop);
int64_t urs__now_ns(void);

/* uring.c: the io_uring backend */
int urs__uring_init(urs_loop *loop, const urs_loop_opts *opts);
/* files.c: the registered file table (direct descriptors) */
void urs__files_init(urs_loop *loop, unsigned disable);
void urs__files_fini(urs_loop *loop);
void urs__files_add(urs_sock *s);
void urs__files_remove(urs_sock *s, bool closing);
int urs__epoll_init(urs_loop *loop);
struct io_uring_sqe *urs__sqe(urs_loop *loop, unsigned need);
/* bind/listen/socket through the ring: an SQE when the loop is idle on the io_uring
 * backend, else NULL (the caller makes the syscall). */
struct io_uring_sqe *urs__sync_sqe(urs_loop *loop);
int urs__sync_wait(urs_loop *loop);
static inline struct __kernel_timespec *urs__sqe_ts(urs_loop *loop, struct io_uring_sqe *sqe)
{
	return &loop->sqe_ts[sqe - loop->ring.sq.sqes];
}

/* buf.c */
int urs__buf_init(urs_loop *loop, const urs_loop_opts *opts);
void urs__buf_fini(urs_loop *loop);
/* urs_loop_free while buffers are lent: drop the kernel's side, keep their memory. */
void urs__buf_orphan(urs_loop *loop);
/* Without a buffer ring, a receive takes its buffer before it is submitted: returns 0
 * (op->bid holds it) or -ENOBUFS. */
int urs__buf_claim(struct urs_op *op);
/* Turns the buffer a receive got (from the CQE, or claimed) into op->bid (and its view,
 * bdata/blen, into the op's side part when it has one): one piece of at most keep bytes.
 * Returns how many of its bytes are the result; 0 when it holds none. */
uint32_t urs__buf_take(struct urs_op *op, int res, uint32_t cflags, uint32_t keep);
/* Every piece a completion carries (a bundle: several buffers; an incremental buffer: the
 * part of it this completion filled) into loop->pieces[0 .. n), each held for op (LEND_OP)
 * until lent or given back. Returns n. */
uint32_t urs__buf_pieces(struct urs_op *op, int res, uint32_t cflags);
/* A receive's CQE named a buffer of an incremental ring while the op still waits for
 * another CQE (its linked timeout): the piece is taken now, in CQE order, since another
 * op's completion from the same buffer may be handled before this op's complete(). */
void urs__buf_early(struct urs_op *op, int res, uint32_t cflags);
/* Before completions are handled: room for n pieces that may need an extra lending slot
 * (at most one per completion). Returns how many completions may be handled (< n only
 * when memory ran out). */
uint32_t urs__buf_reserve(urs_loop *loop, uint32_t n);
/* An op's piece (its lending slot) goes back unlent: when no other piece of its buffer is
 * held and the kernel is done with it, the buffer returns to the kernel or the free stack,
 * and a waiting receive goes on. */
void urs__buf_back(urs_loop *loop, uint32_t slot);
/* Lends the piece in slot (held for an op) to the user as b. */
void urs__buf_lend(urs_loop *loop, urs_buf *b, uint32_t slot, char *data, uint32_t len);
/* Lends the piece op holds (op->bid, its view in the side part) and forgets it. */
void urs__buf_lend_op(struct urs_op *op, urs_buf *b);
/* A receive found no buffer: it waits for one (or -EAGAIN when non-blocking). */
enum op_next urs__buf_wait(struct urs_op *op);
void urs__buf_rebuild(urs_loop *loop);
/* Makes group bgid if it is not made yet (message buffers come at their first use). */
int urs__buf_group_need(urs_loop *loop, unsigned bgid);
/* The group a receive of up to want bytes on s takes: message buffers for a datagram or
 * seqpacket receive that wants more than the loop's buffer size; small message buffers
 * for the others beside an incremental group 0 (the kernel would cut a datagram at the end
 * of a partly filled buffer), and for a MSG_WAITALL stream receive there (the kernel does
 * not account all of its bytes in an incremental buffer; kernel-notes/
 * incremental-buffers.md). */
unsigned urs__buf_group_for(const urs_sock *s, size_t want, int flags);
struct urs_bufgroup *urs__bg_of_id(urs_loop *loop, uint32_t id);
/* Receives waiting for a buffer, in every group. */
uint32_t urs__buf_waiting(const urs_loop *loop);
static inline char *urs__buf_addr(urs_loop *loop, uint32_t id)
{
	struct urs_bufgroup *g = urs__bg_of_id(loop, id);
	return g->base + (size_t)(id - g->first) * g->size;
}
/* Does the op's group have a ring (the kernel picks the buffer)? */
static inline bool urs__buf_select(const struct urs_op *op)
{
	return urs__op_loop(op)->bg[op->bgroup].br != NULL;
}
/* Bytes one buffer of the op's group holds. */
static inline uint32_t urs__buf_room(const struct urs_op *op)
{
	return urs__op_loop(op)->bg[op->bgroup].size;
}

/* buf.c: a lent receive buffer handed to a send: checked as urs_buf_release checks
 * (0 or its -errno), then no longer the user's (the op holds it; urs__buf_back at the end). */
int urs__buf_check(const urs_buf *b);
void urs__buf_unlend(urs_loop *loop, uint32_t slot);
/* The buffer the piece in slot lies in: its start and size (a send never reads past it). */
void urs__buf_span(urs_loop *loop, uint32_t slot, char **base, size_t *size);
/* A zombie loop (freed while the user held buffers) goes with the last of them. */
void urs__buf_zombie_check(urs_loop *loop);

/* sendbuf.c */
void urs__sendbuf_init(urs_loop *loop, const urs_loop_opts *opts);
/* The loop goes: unregister (orphan: the user still holds some) / free everything. */
void urs__sendbuf_orphan(urs_loop *loop);
void urs__sendbuf_fini(urs_loop *loop);
/* A send-pool buffer back (to the free stack) or a forwarded receive buffer back. */
void urs__sendbuf_back(urs_loop *loop, uint32_t id);
/* urs_buf_release of a send-pool buffer. */
int urs__sendbuf_release(urs_buf *b);
/* Takes the buffer b names from its holder for a send of len bytes on s (*id, *data: what
 * the op holds and sends). -EINVAL/-EALREADY/-EXDEV/-EBADF about the handle change
 * nothing; after 0 or -EMSGSIZE the buffer is the engine's (the caller gives it back on an
 * error: urs__sendbuf_back). */
int urs__sendbuf_take(urs_sock *s, urs_buf *b, size_t len, uint32_t *id, const char **data);
static inline bool urs__is_sendbuf(uint32_t id)
{
	return id != URS_BUF_NONE && (id & URS_SENDBUF_TAG);
}
/* Fills the SQE of a send step of p[0..n) on the op's socket: the fixed-buffer forms
 * when the op sends from a registered pool buffer (SEND_ZC at or above the threshold on
 * TCP, SEND with a fixed buffer where the kernel takes it), else a plain send. */
void urs__sendbuf_prep(struct urs_op *op, struct io_uring_sqe *sqe, const char *p, unsigned n,
		       int mf);
/* Fills the SQE of a datagram to a from p[0..n) when the op sends from a registered pool
 * buffer on a datagram socket: SEND_ZC from the fixed buffer at or above the threshold,
 * else SEND with the address (fixed where the kernel takes it). False: the caller sends it
 * as a SENDMSG (no pool buffer, no registration, a connected type, or a kernel whose SEND
 * takes no address). */
bool urs__sendbuf_prep_to(struct urs_op *op, struct io_uring_sqe *sqe, const char *p,
			  unsigned n, int mf, const urs_addr *a);
/* A send step's result: true when the socket refused zero-copy (the step goes again as a
 * plain send, and so do the socket's later sends). */
bool urs__sendbuf_zc_refused(struct urs_op *op, int res);
/* A zero-copy send's result CQE came (IORING_CQE_F_MORE): one notification more is owed on
 * its buffer. */
void urs__sendbuf_zc_result(struct urs_op *op);
/* Is op's current step a zero-copy send (a CQE with IORING_CQE_F_MORE is its result)? */
static inline bool urs__sendbuf_zc_step(const struct urs_op *op, const urs_loop *loop)
{
	return urs__is_sendbuf(op->bid) && loop->sp.zc &&
	       (loop->sp.zc[op->bid & ~URS_SENDBUF_TAG] & SBZ_STEP);
}
/* Its notification came (IORING_CQE_F_NOTIF): the buffer may go back once the op is done
 * with it; a lingering op goes to the pool. */
void urs__sendbuf_notif(struct urs_op *op);
/* At the op's decision / when it would go to the pool: is its buffer still owed a
 * notification (then it stays with the op)? */
bool urs__sendbuf_owed(const struct urs_op *op);
/* The kernel lost completions (-EBADR): notifications owed will never come. */
void urs__sendbuf_notifs_lost(urs_loop *loop);

/* timer.c */
void urs__deadline_set(struct urs_op *op);
int64_t urs__deadline_left(const struct urs_op *op);
int urs__heap_reserve(urs_loop *loop, uint32_t n);
void urs__heap_add(urs_loop *loop, struct urs_op *op);
void urs__heap_del(urs_loop *loop, struct urs_op *op);
int64_t urs__heap_next(const urs_loop *loop);
int urs__heap_expire(urs_loop *loop, int64_t now);
void urs__heap_free(urs_loop *loop);
void urs__ts_set(struct __kernel_timespec *ts, int64_t ns);

/* probe.c */
int urs__ring_setup(urs_loop *loop, const urs_loop_opts *opts);
void urs__probe_multishot(urs_loop *loop);
void urs__features_str(urs_loop *loop);
int urs__features_parse(const char *list, unsigned *out);

/* cmsg.c: closes the fds of every SCM_RIGHTS message in control[0..len) and sets their
 * slots to -1 (a result nobody takes, a control buffer the kernel cut). */
void urs__cmsg_close_fds(void *control, size_t len);

/* addr.c */
int urs__addr_check(const urs_sock *sock, const urs_addr *a);

/* The one place a libc call's errno becomes our -errno: ret < 0 gives -errno, else ret. */
#include <errno.h>
static inline int urs__sys(int ret)
{
	return ret < 0 ? -errno : ret;
}

#endif
