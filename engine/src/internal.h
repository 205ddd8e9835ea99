/* What the files of engine/src share: the loop, socket and op bodies and the urs__ calls
 * between the six hops of the request path (see DESIGN.md). */
#ifndef URS_INTERNAL_H
#define URS_INTERNAL_H

#include "compat.h"
#include "ursock.h"

#include <linux/time_types.h>
#include <sys/uio.h>

/* ---------------------------------------------------------------- ops (op.c) */

enum op_kind {
	OPK_NOP,
	OPK_SLEEP,      /* IORING_OP_TIMEOUT */
	OPK_ACCEPT,
	OPK_ACCEPT_STREAM,
	OPK_CONNECT,
	OPK_CONNECT_EX, /* connect_ex: resolves to the positive errno, as Python */
	OPK_RECV,       /* into a provided buffer */
	OPK_RECV_INTO,  /* into the caller's memory */
	OPK_RECVFROM,   /* recvmsg into a provided buffer, with the sender */
	OPK_RECV_STREAM,
	OPK_RECVFROM_STREAM, /* datagrams with their senders: multishot recvmsg */
	OPK_SEND,
	OPK_SENDALL,
	OPK_SENDTO,
	OPK_SHUTDOWN,
	OPK_CLOSE
};

enum op_state { OP_FREE, OP_ACTIVE, OP_DONE };

/* Which of an op's SQEs a CQE answers: its own request or its linked timeout. A CQE of a
 * cancel request carries UD_IGNORE and no op. */
enum { UD_MAIN = 0, UD_TIMEOUT = 1, UD_IGNORE = 2 };

enum op_flag {
	OPF_BOUND = 1u << 0,     /* a callback is attached */
	OPF_DETACHED = 1u << 1,  /* nobody consumes the result */
	OPF_AWAITED = 1u << 2,   /* urs_await is waiting for it */
	OPF_CANCEL = 1u << 3,    /* cancel asked (urs_cancel, close, loop teardown) */
	OPF_TIMEDOUT = 1u << 4,  /* the linked timeout fired */
	OPF_LINKED = 1u << 5,    /* the current submission carries a linked timeout */
	OPF_QUEUED = 1u << 6,    /* waiting in a queue of ours, not in the kernel */
	OPF_BACKOFF = 1u << 7,   /* accept stream: a backoff timer is in the kernel */
	OPF_READY = 1u << 8,     /* on the loop's ready list */
	OPF_MULTI = 1u << 9      /* the current submission is multishot */
};

struct urs_op {
	urs_loop *loop;
	uint8_t kind;
	uint8_t state;
	uint8_t kpending;        /* CQEs still to come for the current submission */
	uint16_t flags;
	uint32_t idx;
	int32_t gen;
	int res;                 /* result of the latest main CQE */
	uint32_t cflags;         /* its CQE flags */
	urs_sock *sock;
	urs_cb cb;
	void *user;
	struct urs_op *next;     /* free list, ready list, a socket's send queue, buffer waiters */
	struct urs_op *sprev, *snext; /* the socket's list of live ops */
	const char *data;        /* send: what to send; recv_into: where to receive */
	size_t len;
	size_t done;             /* sendall: bytes sent so far */
	int msgflags;
	uint32_t bid;            /* fallback receive: the buffer id this op holds, or URS_BUF_NONE */
	int64_t deadline;        /* sendall: CLOCK_MONOTONIC ns at which the whole call expires */
	struct __kernel_timespec ts; /* the linked timeout's (read by the kernel at submit) */
	struct msghdr msg;       /* recvfrom */
	struct iovec iov;
	urs_result r;            /* what the future resolves to */
};

enum { OP_CHUNK = 256 };

/* ---------------------------------------------------------------- socket (socket.c) */

enum sock_state { SOCK_OPEN, SOCK_CLOSING, SOCK_CLOSED };

struct urs_sock {
	urs_loop *loop;
	int fd;
	int family, type, proto;
	uint8_t state;
	bool free_on_close;      /* urs_sock_free was called while it was open */
	uint32_t files;          /* FILE streams from urs_makefile still open on it */
	int64_t timeout_ns;      /* < 0 none, 0 non-blocking, > 0 linked timeout */
	uint32_t nops;           /* live ops naming this socket */
	struct urs_op *ops;      /* those ops (sprev/snext) */
	struct urs_op *sendq, *sendq_tail; /* stream sends in order; the head is in the kernel */
	struct urs_op *close_op; /* a close waiting for nops to reach 0 */
	urs_sock *lprev, *lnext; /* the loop's list of socket objects */
};

/* ---------------------------------------------------------------- loop (loop.c) */

struct urs_loop {
	struct io_uring ring;
	unsigned features;
	unsigned ring_flags;
	unsigned batch, batch_wait_us; /* urs_loop_opts: batched waits */
	unsigned last_reaped;    /* completions handled by the previous turn: how busy we are */
	int depth;               /* > 0 while user callbacks run */
	bool stop;
	bool tearing_down;

	/* op pool (op.c) */
	struct urs_op **chunks;
	uint32_t nchunks, max_ops;
	struct urs_op *free_ops;
	struct urs_op *ready, *ready_tail; /* resolved without a CQE; callbacks run next */
	uint32_t active;         /* ops not yet resolved: they keep URS_RUN_UNTIL_IDLE running */
	uint32_t inflight;       /* CQEs the kernel still owes us (ops, timeouts, cancels) */

	/* provided buffers (buf.c) */
	char *buf_base;
	size_t buf_map_len;
	uint32_t buf_size, buf_count;
	struct io_uring_buf_ring *br;
	size_t br_map_len;
	uint8_t *buf_lent;       /* one byte per buffer: 1 while the user holds it */
	uint32_t *buf_free;      /* fallback (no buffer ring): stack of free ids */
	uint32_t buf_nfree;
	struct urs_op *bufwait, *bufwait_tail; /* receives waiting for a buffer */

	urs_sock *socks;
	urs_loop_stats stats;
	char feat_str[320];
};

/* loop.c */
struct io_uring_sqe *urs__sqe(urs_loop *loop);
void urs__ready_push(urs_loop *loop, struct urs_op *op);
int urs__loop_until(urs_loop *loop, struct urs_op *op, int32_t gen);

/* op.c: the pool */
int urs__op_new(urs_loop *loop, enum op_kind kind, urs_sock *sock, struct urs_op **out);
struct urs_op *urs__op_at(urs_loop *loop, uint32_t idx);
void urs__op_free(urs_loop *loop, struct urs_op *op);
void urs__pool_free(urs_loop *loop);
/* op.c: the ring side of an op */
urs_future urs__op_start(struct urs_op *op);
void urs__op_cqe(urs_loop *loop, uint64_t ud, int res, uint32_t cflags);
void urs__op_cancel(struct urs_op *op);
struct io_uring_sqe *urs__sync_sqe(urs_loop *loop);
int urs__sync_wait(urs_loop *loop);
void urs__op_rearm(struct urs_op *op);
static inline uint64_t urs__ud(const struct urs_op *op, unsigned part)
{
	return ((uint64_t)(uint32_t)op->gen << 32) | ((uint64_t)op->idx << 2) | part;
}

/* future.c */
void urs__future_resolve(struct urs_op *op);
void urs__event(struct urs_op *op, urs_result *r);
urs_future urs__future_of(const struct urs_op *op);
static inline urs_future urs__future_err(int err)
{
	urs_future f = { NULL, 0, err };
	return f;
}
void urs__result_drop(urs_result *r);

/* buf.c */
int urs__buf_init(urs_loop *loop, const urs_loop_opts *opts);
void urs__buf_fini(urs_loop *loop);
int urs__buf_take(urs_loop *loop);           /* fallback: a free id or -ENOBUFS */
void urs__buf_lend(urs_loop *loop, urs_buf *b, uint32_t id, uint32_t len);
void urs__buf_put(urs_loop *loop, uint32_t id); /* back to the kernel/free stack */
void urs__buf_wait(urs_loop *loop, struct urs_op *op);
bool urs__buf_unwait(urs_loop *loop, struct urs_op *op);
static inline char *urs__buf_addr(const urs_loop *loop, uint32_t id)
{
	return loop->buf_base + (size_t)id * loop->buf_size;
}

/* probe.c */
int urs__ring_setup(urs_loop *loop, const urs_loop_opts *opts);
void urs__features_str(urs_loop *loop);

/* socket.c */
urs_sock *urs__sock_new(urs_loop *loop, int fd, int family, int type, int proto);
void urs__sock_op_done(urs_sock *sock, struct urs_op *op);
void urs__sock_destroy(urs_sock *sock);

/* timeout.c */
int64_t urs__now_ns(void);
void urs__link_timeout(struct urs_op *op, struct io_uring_sqe *sqe, int64_t ns);
int64_t urs__op_timeout_ns(struct urs_op *op);

/* The one place a libc call's errno becomes our -errno: ret < 0 gives -errno, else ret. */
#include <errno.h>
static inline int urs__sys(int ret)
{
	return ret < 0 ? -errno : ret;
}

/* addr.c */
int urs__addr_check(const urs_sock *sock, const urs_addr *a);

#endif
