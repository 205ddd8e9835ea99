/* SPDX-License-Identifier: MIT */
/* ursock: the socket API users know from Python's socket module, as futures
 * over one io_uring loop per thread.
 *
 * Conventions (see README.md):
 *  - every int result is >= 0 on success and -errno on failure; errno is never read or set;
 *  - a loop and everything made on it belong to the thread that made it: a call on them
 *    from another thread answers -EXDEV and changes nothing (urs_sock_free does nothing);
 *    only urs_loop_post, urs_loop_wake and urs_loop_stop are safe from any thread;
 *  - callbacks run only inside urs_loop_run() or urs_await(), never inside the call that
 *    started, cancelled or freed anything; a call that fails at once never runs its
 *    callback;
 *  - every future resolves exactly once: with its result, -ECANCELED, or -ETIMEDOUT.
 *
 * Lifetimes — every object has one end:
 *  - loop:   urs_loop_new .. urs_loop_free (sockets you still hold survive it as husks);
 *  - socket: urs_socket/accept/adopt .. urs_sock_free. Its close resolves after every
 *            other op on it has resolved and run its callback: the close callback is the
 *            last callback on the socket, the place to free per-connection state. After
 *            urs_sock_free returns no callback on it runs, except that close callback;
 *  - future: returned by a call .. consumed by urs_then's callback, urs_await or
 *            urs_detach; a stale handle answers -EINVAL, never touches memory;
 *  - urs_buf: lent by a receive .. urs_buf_release (a stale copy answers an error);
 *  - FILE from urs_makefile: .. fclose, also after the socket or loop is gone. */
#ifndef URSOCK_H
#define URSOCK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netdb.h>
#include "ursock_version.h"

struct addrinfo; /* <netdb.h>: complete where the POSIX names are visible */

#ifdef __cplusplus
extern "C" {
#endif

#define URS_API __attribute__((visibility("default")))

typedef struct urs_loop urs_loop;
typedef struct urs_sock urs_sock;

/* ---------------------------------------------------------------- addresses */

/* A socket address of any family: Python's (host, port) or a Unix path. */
typedef struct urs_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
		struct sockaddr_storage ss;
	} u;
	socklen_t len; /* 0 = no address (e.g. an unnamed Unix peer) */
} urs_addr;

enum { URS_ADDR_STRLEN = 128 }; /* room for any address urs_addr_format prints (paths are cut) */

/* Parses "127.0.0.1:80", "[::1]:80", "/run/x.sock" (a Unix path) or "@name" (an abstract
 * Unix name). Numeric hosts only: no name resolution, no hidden blocking. Returns 0 or
 * -EINVAL (junk), -ENAMETOOLONG (a path longer than sun_path). */
URS_API int urs_addr_parse(urs_addr *out, const char *text);
/* Writes the text form (as urs_addr_parse reads it) into buf; returns its length, or
 * -ENOSPC when buf is too small, -EAFNOSUPPORT for an unknown family. */
URS_API int urs_addr_format(const urs_addr *a, char *buf, size_t size);
/* Copies a kernel sockaddr; returns 0 or -EINVAL. */
URS_API int urs_addr_from_sockaddr(urs_addr *out, const struct sockaddr *sa, socklen_t len);
/* The port of an AF_INET/AF_INET6 address, or -EAFNOSUPPORT. */
URS_API int urs_addr_port(const urs_addr *a);

/* ---------------------------------------------------------------- loop */

/* Feature bits: what the kernel gave this loop (urs_loop_features) and what a caller can
 * refuse (urs_loop_opts.disable, used by tests to drive every fallback path). */
enum urs_feature {
	URS_FEAT_SINGLE_ISSUER = 1u << 0,   /* IORING_SETUP_SINGLE_ISSUER (6.0) */
	URS_FEAT_DEFER_TASKRUN = 1u << 1,   /* IORING_SETUP_DEFER_TASKRUN (6.1) */
	URS_FEAT_COOP_TASKRUN = 1u << 2,    /* IORING_SETUP_COOP_TASKRUN (5.19) */
	URS_FEAT_SUBMIT_ALL = 1u << 3,      /* IORING_SETUP_SUBMIT_ALL (5.18) */
	URS_FEAT_REG_RING_FD = 1u << 4,     /* io_uring_register_ring_fd (5.18) */
	URS_FEAT_BUF_RING = 1u << 5,        /* provided buffer rings (5.19) */
	URS_FEAT_ACCEPT_MULTI = 1u << 6,    /* multishot accept (5.19) */
	URS_FEAT_RECV_MULTI = 1u << 7,      /* multishot recv/recvmsg (6.0) */
	URS_FEAT_OP_SOCKET = 1u << 8,       /* IORING_OP_SOCKET (5.19) */
	URS_FEAT_OP_BIND = 1u << 9,         /* IORING_OP_BIND (6.11) */
	URS_FEAT_OP_LISTEN = 1u << 10,      /* IORING_OP_LISTEN (6.11) */
	URS_FEAT_SEND_ZC = 1u << 11,        /* IORING_OP_SEND_ZC (6.0): a send from the send
					       pool at or above zc_threshold bytes, on TCP */
	URS_FEAT_NODROP = 1u << 12,         /* IORING_FEAT_NODROP (5.5): CQ overflow keeps CQEs */
	URS_FEAT_MIN_WAIT = 1u << 13,       /* IORING_FEAT_MIN_TIMEOUT (6.12): batched waits */
	URS_FEAT_MSG_RING = 1u << 14,       /* IORING_OP_MSG_RING (5.18): wakes between loops */
	URS_FEAT_FIXED_FILES = 1u << 15,    /* a registered file table (sparse, 5.19): every op
					       on a socket names its slot, no fd lookup */
	URS_FEAT_SPLICE = 1u << 16,         /* IORING_OP_SPLICE (5.7): urs_sendfile without a copy */
	URS_FEAT_BUF_INC = 1u << 20,        /* IOU_PBUF_RING_INC (6.12): a stream's receives fill
					       the loop's buffers piece by piece, so a small
					       message does not take a whole buffer */
	URS_FEAT_RECV_BUNDLE = 1u << 21,    /* IORING_RECVSEND_BUNDLE (6.10): one completion of a
					       receive stream carries several buffers */
	URS_FEAT_SEND_BUFS = 1u << 22,      /* the send pool (urs_sendbuf_get) is registered
					       with the ring (io_uring_register_buffers, 5.1) at
					       its first use; without it, plain memory */
	URS_FEAT_FIXED_SEND = 1u << 23      /* a plain IORING_OP_SEND takes a registered buffer
					       (IORING_RECVSEND_FIXED_BUF; probed by trying) */
};

typedef struct urs_loop_opts {
	unsigned sq_entries;  /* SQ size; 0 = 256 */
	unsigned cq_entries;  /* CQ size, >= sq_entries; 0 = 4 x sq_entries (tests use tiny ones to
				 force overflow) */
	unsigned buf_count;   /* provided buffers, a power of two; 0 = 1024 */
	unsigned buf_size;    /* bytes per provided buffer; 0 = 4096 */
	unsigned max_ops;     /* ops at once, including one reserved per socket for its close;
				 0 = 65536. More answers -EBUSY, never a hang. A socket's
				 first receive stream at a time (urs_recv_stream,
				 urs_recvfrom_stream) is not counted: it lives in the socket's
				 own cell, paid for by the socket */
	unsigned disable;     /* urs_feature bits not to use even where the kernel has them;
				 URSOCK_DISABLE=name,name in the environment adds to it */
	/* Batched waits (servers): a wait asks for up to batch completions but returns as soon
	 * as batch_wait_us microseconds have passed with at least one. Fewer io_uring_enter
	 * calls under load, at most batch_wait_us more latency. 0/1 = wake at the first. Needs
	 * URS_FEAT_MIN_WAIT (6.12); without it waits are plain. */
	unsigned batch;
	unsigned batch_wait_us;
	/* URS_BACKEND_AUTO (0): io_uring, or epoll where io_uring is refused; URS_BACKEND_URING
	 * or URS_BACKEND_EPOLL: that one only. With AUTO, URSOCK_BACKEND=epoll|uring in the
	 * environment picks one, so an unmodified program can be switched. */
	unsigned backend;
	/* The send pool (urs_sendbuf_get): send_buf_count buffers of send_buf_size bytes, made
	 * and registered with the ring at the first urs_sendbuf_get (an idle loop pays
	 * nothing; registration pins the whole pool in memory). 0 = 64 buffers of 16 KiB; at
	 * most 16384 buffers of at most 1 GiB. */
	unsigned send_buf_count;
	unsigned send_buf_size;
	/* A send from the pool of at least zc_threshold bytes on a TCP socket goes zero-copy
	 * (IORING_OP_SEND_ZC), smaller ones as a plain send. 0 = the default (65536: measured
	 * on loopback, where zero-copy copies anyway, see README); 1 = always; UINT_MAX =
	 * never. */
	unsigned zc_threshold;
	/* Room to grow without breaking the ABI (docs/ABI.md): must be zero (a zeroed or
	 * designated-initializer struct is), else urs_loop_new answers -EINVAL — so a program
	 * that sets an option this library does not know fails instead of being ignored. */
	unsigned reserved[13];
} urs_loop_opts;

enum urs_backend_kind {
	URS_BACKEND_AUTO = 0,
	URS_BACKEND_URING = 1, /* io_uring (5.19+ for every feature; see README) */
	URS_BACKEND_EPOLL = 2  /* epoll: the same API and semantics, where io_uring is refused */
};

typedef enum urs_run_mode {
	URS_RUN_UNTIL_IDLE = 0, /* run until no op is pending (or urs_loop_stop) */
	URS_RUN_ONCE = 1,       /* wait for at least one completion, handle what is there */
	URS_RUN_NOWAIT = 2,     /* submit and handle what is already there, never block */
	URS_RUN_UNTIL_STOP = 3  /* run, waiting for posts when nothing is pending, until
				   urs_loop_stop (a loop that serves other threads' posts) */
} urs_run_mode;

/* A function to run on a loop's thread (urs_loop_post). */
typedef void (*urs_post_fn)(urs_loop *loop, void *arg);

/* Counters a loop keeps (urs_loop_stats); the leak check at the end of every test reads
 * ops_in_use, bufs_lent and socks_open. */
typedef struct urs_loop_stats {
	uint64_t enters;        /* system calls the loop made to do its work: io_uring_enter
				   (and file-table updates); on the epoll backend epoll_wait,
				   epoll_ctl/fcntl and each non-blocking socket call */
	uint64_t cqes;          /* completions handled */
	uint64_t nobufs;        /* times a receive found no free buffer and waited for one */
	uint64_t stalls;        /* waits refused with -ENOBUFS: every pending op waited for a
				   buffer the user holds, so nothing could ever wake the loop */
	uint64_t rearms;        /* multishot requests re-armed after the kernel ended them */
	uint64_t stale_cqes;    /* completions for a handle no longer live (ignored) */
	uint64_t cq_overflows;  /* turns that found the CQ overflowed (the kernel kept them) */
	uint64_t cq_dropped;    /* times the kernel lost completions (-EBADR); see urs_loop_run */
	uint32_t ops_in_use;    /* ops taken from the pool, and one per socket not yet closing
				   (its close, reserved: closing never fails for want of an op);
				   a receive stream in its socket's own cell is not one */
	uint32_t ops_max;       /* the pool's limit (urs_loop_opts.max_ops) */
	uint32_t bufs_lent;     /* urs_buf views the user holds: whole buffers, or pieces of
				   them with URS_FEAT_BUF_INC (then it may exceed bufs_total),
				   and send-pool buffers taken with urs_sendbuf_get and not yet
				   sent or given back */
	uint32_t bufs_total;    /* provided buffers of the loop (64 KiB message buffers
				   included once the first is needed) */
	uint32_t socks_open;    /* sockets not yet closed */
	uint32_t socks_alive;   /* urs_sock objects not yet freed */
	uint64_t reserved[8];   /* zero: counters a later version adds (docs/ABI.md) */
} urs_loop_stats;

/* Makes a loop: its backend (a ring, or an epoll set), its op pool and its buffers. opts
 * may be NULL. With the automatic choice, a refused io_uring (-EPERM, -ENOSYS, -EACCES:
 * seccomp, kernel.io_uring_disabled) gives an epoll loop, and -ENOMEM (memlock) is retried
 * with a smaller ring first; urs_loop_features_str says which and why. Returns 0 and *out,
 * or -errno (-EINVAL for bad options, a bad URSOCK_BACKEND or an unknown feature name in
 * URSOCK_DISABLE). The caller owns *out. */
URS_API int urs_loop_new(urs_loop **out, const urs_loop_opts *opts);
/* Ends the loop: every socket closes at once (queued sends are dropped, TCP connections
 * reset), every pending op resolves -ECANCELED and its callback runs (it may free what it
 * owns), results nobody consumed are released, then the loop is freed. Socket objects you
 * have not freed stay valid as husks: every call on them answers -EBADF, urs_sock_free
 * frees them, and a FILE from urs_makefile on one still fcloses (the loop never frees
 * what you hold). Returns 0 (also for NULL), or -EDEADLK from inside one of its callbacks
 * (nothing is changed then). */
URS_API int urs_loop_free(urs_loop *loop);
/* Drives the loop (see urs_run_mode). Returns the number of resolutions, stream events and
 * posts handled, or -EDEADLK when called from inside a callback of the same loop, -EXDEV
 * from a thread that does not own the loop, -EINVAL for a bad mode, -ENOBUFS when it
 * would wait for ever: every pending op waits for a provided
 * buffer you hold and nothing is in the kernel (release one; stats.stalls counts these).
 * If the kernel ever drops completions (-EBADR, memory exhausted), the ops whose
 * completions were lost resolve -EBADR instead of hanging; the rest go on. */
URS_API int urs_loop_run(urs_loop *loop, urs_run_mode mode);
/* Makes a running URS_RUN_UNTIL_IDLE or URS_RUN_UNTIL_STOP return after the current turn
 * (waking it if it waits); called before a run, that run handles what is ready without
 * waiting and returns. Safe from any thread and from a signal handler. */
URS_API void urs_loop_stop(urs_loop *loop);
/* Ends the loop's current or next wait (a run in URS_RUN_ONCE then returns). Safe from any
 * thread and from a signal handler. Returns 0, or -EINVAL for NULL. */
URS_API int urs_loop_wake(urs_loop *loop);
/* Runs fn(loop, arg) on the loop's thread, from its next turn, as a callback would run.
 * Safe from any thread; never blocks for long (a short lock); posts from one thread run in
 * the order posted; none is lost (those still queued run when the loop is freed). Returns
 * 0, or -ENOMEM, -EINVAL. */
URS_API int urs_loop_post(urs_loop *loop, urs_post_fn fn, void *arg);
/* urs_loop_post from a thread that runs a loop of its own (from): the wake rides on from's
 * next submission as an IORING_OP_MSG_RING (5.18), no syscall of its own; an eventfd write
 * where either loop lacks it. Call it on from's thread (-EXDEV otherwise). */
URS_API int urs_loop_post_from(urs_loop *from, urs_loop *to, urs_post_fn fn, void *arg);
/* An fd that turns readable when the loop has work (an eventfd the ring signals, made at
 * the first call; it belongs to the loop). A host event loop polls it and then calls
 * urs_loop_run(loop, URS_RUN_NOWAIT), which also submits what its callbacks started and
 * clears the fd; one run per wake-up is enough. Returns the fd or -errno. */
URS_API int urs_loop_fd(urs_loop *loop);
/* The urs_feature bits this loop uses (the kernel has them and they were not disabled). */
URS_API unsigned urs_loop_features(const urs_loop *loop);
/* A printable form: "backend=io_uring single_issuer ... buf_ring ...", and why a feature
 * the loop wanted is missing ("no_buf_ring(register: ENOMEM)"); the string belongs to the
 * loop. */
URS_API const char *urs_loop_features_str(urs_loop *loop);
/* Fills *out with the loop's counters. */
URS_API void urs_loop_stats_get(const urs_loop *loop, urs_loop_stats *out);

/* ---------------------------------------------------------------- buffers */

/* A view of received bytes lent to the caller. data points into the loop's provided
 * buffers (or nowhere when len is 0 and no buffer was used). Give it back with
 * urs_buf_release; until then that buffer cannot receive again. With incremental buffers
 * (URS_FEAT_BUF_INC) a view may be a piece of a buffer that other views share: the buffer
 * receives again once every piece of it is released. The view is a value: a copy kept
 * after the release is stale, and releasing it is refused. */
typedef struct urs_buf {
	char *data;
	uint32_t len;
	uint32_t id;     /* which lending (a buffer, or a piece of one) this is; URS_BUF_NONE when
			    no buffer is held */
	uint32_t gen;    /* which lending of that id this view is */
	urs_loop *loop;
} urs_buf;

#define URS_BUF_NONE 0xffffffffu

/* Gives a lent buffer back to its loop (a receive buffer, or an unused send buffer from
 * urs_sendbuf_get); a receive waiting for buffers goes on. Returns 0,
 * or -EALREADY for a view already given back (also a stale copy of it), -EINVAL for one
 * never lent (a forged id or generation); an error changes nothing. Releasing an empty
 * view (id == URS_BUF_NONE) is a no-op returning 0. */
URS_API int urs_buf_release(urs_buf *buf);

/* Send buffers: a pool of memory the loop owns (urs_loop_opts.send_buf_count/size),
 * registered with the ring so the kernel needs no page lookup per send (and zero-copy
 * sends at or above zc_threshold bytes on TCP and UDP). Borrow one, fill buf->data, then hand it
 * to urs_send_buf, urs_sendall_buf or urs_sendto_buf, which take it: it returns to the
 * pool by itself once the kernel is done with its memory (after a zero-copy send's
 * notification), whatever the outcome. An unused one goes back with urs_buf_release. The
 * handle is an urs_buf with id and generation: a copy kept after the buffer left you is
 * stale, and every call refuses it. */

/* Borrows a send buffer: fills *out (data, len = its capacity in bytes, id, gen, loop)
 * and returns 0. The pool is made, and on io_uring registered, at the first call. Returns
 * -ENOBUFS when every buffer is lent or sending (never waits: send, or release one),
 * -EINVAL for NULL, -EXDEV from another thread, -ENOMEM when the pool cannot be made. */
URS_API int urs_sendbuf_get(urs_loop *loop, urs_buf *out);

/* ---------------------------------------------------------------- futures */

/* What an operation resolved to. Fields beyond res are filled as the op says. */
typedef struct urs_result {
	int res;          /* >= 0: bytes / 0 / as the op says; < 0: -errno. For a receive, the
			     bytes delivered (r.buf.len), also when URS_RES_TRUNC says more were cut */
	unsigned flags;   /* URS_RES_* */
	urs_buf buf;      /* recv, recvfrom, streams: the received bytes, lent to you */
	urs_sock *sock;   /* accept: the new connection, yours (close/free it) */
	urs_addr addr;    /* accept, recvfrom: the peer's address */
	size_t sent;      /* sendall, sendmsg, sendfile: bytes sent, also when it failed or timed
			     out */
	/* Added for 0.1.0 (issue 13), at the end (docs/ABI.md). */
	void *control;    /* recvmsg: the control buffer you gave (NULL for other ops) */
	size_t controllen;/* recvmsg: bytes of control messages the kernel wrote into it; walk
			     them with urs_cmsg_next. File descriptors in them (SCM_RIGHTS) are
			     yours; when the result is dropped instead (urs_detach, urs_sock_free,
			     urs_await with NULL) the engine closes them */
	int msg_flags;    /* recvmsg, recvmsg_into: the kernel's msg_flags (MSG_TRUNC,
			     MSG_CTRUNC, MSG_EOR, MSG_OOB, MSG_ERRQUEUE) */
	struct urs_addrinfo *ai; /* getaddrinfo: the addresses, yours: urs_addrinfo_free */
	uint64_t reserved[4]; /* zero: what a later version adds (docs/ABI.md) */
} urs_result;

enum {
	URS_RES_MORE = 1u << 0,  /* a stream event: more events follow on the same callback */
	URS_RES_TRUNC = 1u << 1, /* a datagram or seqpacket message was longer than the room for
				    it: the rest of that message is dropped (MSG_TRUNC) */
	URS_RES_CTRUNC = 1u << 2 /* recvmsg: the control messages did not fit the control buffer
				    (MSG_CTRUNC); file descriptors that did arrive were closed and
				    their slots read -1, the rest were never installed */
};

/* A small value handle to one pending operation. A failed-at-once call returns a future
 * whose gen holds the -errno (urs_future_error tells); a stale or used handle is detected
 * and answered -EINVAL (or -EALREADY), never dereferenced. */
typedef struct urs_future {
	urs_loop *loop;
	uint32_t idx;
	int32_t gen; /* > 0: live handle; <= 0: the call failed at once with this -errno */
} urs_future;

typedef void (*urs_cb)(urs_result *r, void *user);

/* 0 for a future that was started, the -errno of a call that failed at once. */
static inline int urs_future_error(urs_future f) { return f.gen > 0 ? 0 : (f.gen < 0 ? f.gen : -EINVAL); }

/* Runs cb(result, user) once when f resolves (on the loop thread, from urs_loop_run); if f
 * has already resolved, at the next run. Returns 0, or the call's own error for a
 * failed-at-once future (cb is never run), -EINVAL for a stale handle, -EALREADY when the
 * future already has a consumer, -EBADF when f's socket was freed (urs_sock_free), or when
 * f resolved before anyone claimed it and its socket has closed since: no callback runs
 * after either (urs_await or urs_detach still take such a result). */
URS_API int urs_then(urs_future f, urs_cb cb, void *user);
/* Drives the loop until f resolves, then fills *out (may be NULL: a buffer or socket in the
 * result is then released/closed for you) and returns out->res. Returns -EDEADLK when
 * called from inside a callback, -EINVAL/-EALREADY as urs_then, -ENOBUFS when it would
 * wait for ever (every pending op waits for a provided buffer you hold: see urs_loop_run),
 * or another error of urs_loop_run. On every error *out is filled too (out->res is the
 * error, no buffer, no socket); after -EDEADLK, -ENOBUFS or a loop error f is still
 * pending and yours: await it again, attach a callback or detach it. */
URS_API int urs_await(urs_future f, urs_result *out);
/* Asks for f to be cancelled: it resolves -ECANCELED unless it completed first (then its
 * result stands and no data is lost). A cancelled stream send or sendall fails the ordered
 * ops queued behind it (see urs_send); a cancelled close becomes an abortive close (see
 * urs_close). Returns 0, -EINVAL for a stale handle, -EALREADY when it has already
 * resolved. */
URS_API int urs_cancel(urs_future f);
/* Nobody will consume f: its result is dropped when it resolves (a received buffer is
 * released, an accepted socket closed). Returns 0 or -EINVAL/-EALREADY. */
URS_API int urs_detach(urs_future f);
/* A future for a no-op on the ring (tests, benchmarks of the future round trip). */
URS_API urs_future urs_nop(urs_loop *loop);

/* ---------------------------------------------------------------- sockets */

/* Makes a socket on the loop: any family/type/proto the kernel has (AF_INET, AF_INET6,
 * AF_UNIX; SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, SOCK_RDM). Returns 0 and
 * *out, or the kernel's error (-EAFNOSUPPORT, -ESOCKTNOSUPPORT, -EPROTONOSUPPORT, -EPERM).
 * The socket is the loop's; release it with urs_sock_free (which closes it if open). */
URS_API int urs_socket(urs_loop *loop, int family, int type, int proto, urs_sock **out);
/* Wraps an fd the caller already has (the socket then owns and closes it). */
URS_API int urs_sock_adopt(urs_loop *loop, int fd, urs_sock **out);
/* Moves sock to another loop (its thread): the fd, its socket options and its timeout go;
 * the object sock is gone when this returns 0 (do not use it). On to's thread, from its
 * next turn, cb(r, user) runs with r->sock, the new socket on to (yours), or r->res
 * -errno (then the fd was closed). sock must have no op pending (-EBUSY): finish or cancel
 * them first. Call it on sock's loop's thread. Returns 0, -EBUSY, -EINVAL, -ENOMEM. */
URS_API int urs_sock_handoff(urs_sock *sock, urs_loop *to, urs_cb cb, void *user);
/* A connected pair (AF_UNIX), like socketpair(2). */
URS_API int urs_socketpair(urs_loop *loop, int type, urs_sock *out[2]);
/* You are done with sock: no callback on it runs after this returns (the results of its
 * pending ops are dropped: buffers go back, accepted sockets are closed; an awaiter still
 * gets its result, and a close callback you attached with urs_then(urs_close(sock), ...)
 * still runs, last). An open socket is closed as urs_close does (sends already queued still
 * go, then the FIN). The object is freed once it is closed and no FILE from urs_makefile
 * uses it. sock must not be used after. NULL is ignored. */
URS_API void urs_sock_free(urs_sock *sock);

/* Binds to addr (sync; IORING_OP_BIND when the kernel has it and the loop is idle).
 * Returns 0 or -errno (-EAFNOSUPPORT for an address of another family). */
URS_API int urs_bind(urs_sock *sock, const urs_addr *addr);
/* Starts listening (sync; IORING_OP_LISTEN likewise). Returns 0 or -errno. */
URS_API int urs_listen(urs_sock *sock, int backlog);

/* Accepts one connection: resolves to 0 with r->sock (yours) and r->addr (the peer). */
URS_API urs_future urs_accept(urs_sock *listener);
/* A server's accept: cb runs once per connection with URS_RES_MORE set, r->sock and
 * r->addr; -EMFILE/-ENFILE are reported to cb (with URS_RES_MORE) and accepting resumes
 * after a short backoff. The stream ends (cb without URS_RES_MORE) on cancel, close or a
 * fatal error. Uses multishot accept, re-armed when the kernel ends it. */
URS_API urs_future urs_accept_stream(urs_sock *listener, urs_cb cb, void *user);
/* Connects: resolves 0 or -errno (ECONNREFUSED...), Python's connect(). */
URS_API urs_future urs_connect(urs_sock *sock, const urs_addr *addr);
/* As urs_connect but resolves to 0 or the positive errno value, Python's connect_ex(). */
URS_API urs_future urs_connect_ex(urs_sock *sock, const urs_addr *addr);

/* Receives at most bufsize bytes into a provided buffer: resolves to the byte count with
 * r->buf (lent to you), 0 = the peer closed. Never loses bytes when buffers run out: it
 * waits for one to be released (and honours the socket's timeout meanwhile); a
 * non-blocking receive (timeout 0, or MSG_DONTWAIT in flags) answers -EAGAIN instead. On a
 * datagram or seqpacket socket one message: asked for more than the loop's buffer size, it
 * lands in a message buffer (64 KiB and more), so a message up to 64 KiB comes whole;
 * URS_RES_TRUNC when it was longer than the room (or than bufsize), and MSG_WAITALL is
 * ignored (it would glue messages together); on a stream socket MSG_WAITALL waits for all
 * the bytes asked (up to the loop's buffer size), the peer's close, an error or the
 * timeout. */
URS_API urs_future urs_recv(urs_sock *sock, size_t bufsize, int flags);
/* Receives at most len bytes into the caller's memory, which belongs to the kernel until
 * the future resolves. Resolves to the byte count (URS_RES_TRUNC and MSG_WAITALL as
 * urs_recv). */
URS_API urs_future urs_recv_into(urs_sock *sock, void *data, size_t len, int flags);
/* A datagram and its sender: resolves to the byte count with r->buf and r->addr; a
 * datagram up to 64 KiB comes whole when bufsize allows (message buffers, as urs_recv);
 * URS_RES_TRUNC when it was longer than bufsize or the room (the rest is dropped, as
 * MSG_TRUNC says); res and r->buf.len are then the bytes kept. MSG_WAITALL is ignored,
 * MSG_DONTWAIT as urs_recv. */
URS_API urs_future urs_recvfrom(urs_sock *sock, size_t bufsize, int flags);
/* Streams received chunks: cb runs per chunk with URS_RES_MORE and r->buf (lent to you);
 * the stream ends (cb without URS_RES_MORE) at EOF (res 0), on an error, cancel or close.
 * Uses multishot recv where the kernel has it. On a datagram or seqpacket socket each
 * event is one message, as urs_recvfrom_stream. */
URS_API urs_future urs_recv_stream(urs_sock *sock, urs_cb cb, void *user);

/* Python's recvfrom_into: receives one datagram (or up to len bytes of a stream) into the
 * caller's memory, which belongs to the kernel until the future resolves. Resolves to the
 * byte count with r->addr, the sender (Python's (nbytes, address)); URS_RES_TRUNC when the
 * datagram was longer than len (the rest is dropped). */
URS_API urs_future urs_recvfrom_into(urs_sock *sock, void *data, size_t len, int flags);

/* Streams datagrams with their senders: cb runs per datagram with URS_RES_MORE, r->buf
 * (the payload, lent to you), r->addr and URS_RES_TRUNC when it did not fit; r->res is the
 * datagram's length. Uses multishot recvmsg where the kernel has it, into message buffers
 * (64 KiB + 4 KiB, room for a small header and the sender's address before the payload):
 * every datagram up to 64 KiB arrives whole, whatever the loop's buffer size. */
URS_API urs_future urs_recvfrom_stream(urs_sock *sock, urs_cb cb, void *user);

/* ---------------------------------------------------------------- messages */

/* Python's sendmsg: the bytes of iov[0..iovlen) (at most IOV_MAX entries, INT_MAX bytes)
 * as one send, with control messages (built with urs_cmsg_add: SCM_RIGHTS, SCM_CREDENTIALS,
 * IP_PKTINFO...) and, on an unconnected datagram socket, addr (NULL: none). Resolves to
 * the bytes sent, as urs_send (r->sent too); on a stream or seqpacket socket it is one of
 * the ordered sends (see urs_send): a header and a body go out in order without a copy. The
 * iovec array is copied at the call; the bytes it points to and control belong to the
 * kernel until the future resolves. File descriptors passed stay yours (the kernel takes
 * its own references). Control messages go with the first byte only. */
URS_API urs_future urs_sendmsg(urs_sock *sock, const struct iovec *iov, size_t iovlen,
			       const void *control, size_t controllen, int flags,
			       const urs_addr *addr);
/* Python's recvmsg_into: receives into the caller's iov[0..iovlen) (copied at the call; the
 * memory it points to belongs to the kernel until the future resolves) and control (size
 * controllen, may be NULL/0; it must stay valid until the result is handed over: for a
 * detached future, or one whose socket was freed, until the loop's turn that resolves it
 * has returned, since a dropped result's fds are read from it and closed). Resolves to the bytes received with r->addr (the sender, on
 * an unconnected socket), r->control/r->controllen (the control messages), r->msg_flags
 * and URS_RES_TRUNC / URS_RES_CTRUNC. Received fds are close-on-exec (MSG_CMSG_CLOEXEC)
 * and yours; see urs_result.controllen and URS_RES_CTRUNC for when the engine closes them. */
URS_API urs_future urs_recvmsg_into(urs_sock *sock, const struct iovec *iov, size_t iovlen,
				    void *control, size_t controllen, int flags);
/* Python's recvmsg: as urs_recvmsg_into, the data into a provided buffer lent to you
 * (r->buf, as urs_recv: up to bufsize bytes, a message up to 64 KiB whole). */
URS_API urs_future urs_recvmsg(urs_sock *sock, size_t bufsize, void *control,
			       size_t controllen, int flags);

/* One control message as urs_cmsg_next finds it: data points into the control buffer. */
typedef struct urs_cmsg {
	int level;        /* SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6 */
	int type;         /* SCM_RIGHTS, SCM_CREDENTIALS, SCM_TIMESTAMPNS, IP_PKTINFO, ... */
	const void *data;
	size_t len;       /* bytes of data */
} urs_cmsg;

/* Appends one control message (level, type, len bytes of data) to buf of size bytes, of
 * which *used are taken (start at 0); size buffers with CMSG_SPACE(len) per message.
 * Returns 0 and moves *used on, or -ENOSPC (nothing written), -EINVAL. */
URS_API int urs_cmsg_add(void *buf, size_t size, size_t *used, int level, int type,
			 const void *data, size_t len);
/* SCM_RIGHTS with n fds (they stay yours: the kernel takes its own references at send). */
URS_API int urs_cmsg_add_fds(void *buf, size_t size, size_t *used, const int *fds, size_t n);
/* Walks the control messages of buf[0..len): *pos starts at 0. Returns 1 with *out filled,
 * 0 at the end, -EINVAL for a malformed message (the walk stops). */
URS_API int urs_cmsg_next(const void *buf, size_t len, size_t *pos, urs_cmsg *out);
/* The fds of an SCM_RIGHTS message: copies up to max into fds, returns how many it holds,
 * or -EINVAL for another message. */
URS_API int urs_cmsg_fds(const urs_cmsg *c, int *fds, size_t max);
/* IP_PKTINFO / IPV6_PKTINFO: the address the datagram was sent to (port 0) and the
 * interface it arrived on. Returns 0, or -EINVAL for another message. */
URS_API int urs_cmsg_pktinfo(const urs_cmsg *c, urs_addr *dst, int *ifindex);
/* SCM_TIMESTAMPNS (SO_TIMESTAMPNS): when the kernel received the message (CLOCK_REALTIME). */
URS_API int urs_cmsg_timestamp(const urs_cmsg *c, struct timespec *ts);
/* SCM_CREDENTIALS (SO_PASSCRED on an AF_UNIX socket): the sender's pid, uid and gid. */
URS_API int urs_cmsg_creds(const urs_cmsg *c, int32_t *pid, uint32_t *uid, uint32_t *gid);

/* Sends; resolves to the bytes sent, possibly fewer than len (a blocking send on a stream
 * sends them all unless an error, its timeout or a cancel cuts it; what went before the cut
 * is its result, as send(2)); MSG_DONTWAIT makes this one call non-blocking. data belongs
 * to the kernel until the future resolves. On a stream or seqpacket socket sends, sendall
 * and shutdown run one at a time in the order issued; when one of them does not complete
 * whole (an error, a timeout, a cancel, a short send), every one queued behind it at that
 * moment resolves -EPIPE without sending a byte — the peer never sees data from after a
 * hole. A send's count says where its bytes stop, so the stream goes on after it; a
 * sendall cut part-way leaves the socket torn: later sends and shutdown(SHUT_WR) answer
 * -EPIPE and close resets a TCP connection instead of sending a FIN. Datagram sends may be
 * in flight together. A queued send honours the socket's timeout from the moment it was
 * issued. */
URS_API urs_future urs_send(urs_sock *sock, const void *data, size_t len, int flags);
/* Sends every byte: resolves 0 once all are sent, or -errno; r->sent says how many went. */
URS_API urs_future urs_sendall(urs_sock *sock, const void *data, size_t len, int flags);
/* Sends a datagram to addr; resolves to the bytes sent. */
URS_API urs_future urs_sendto(urs_sock *sock, const void *data, size_t len, int flags,
			      const urs_addr *addr);
/* Sends the first len bytes of buf (a send buffer from urs_sendbuf_get, or a receive
 * buffer lent to you by a recv — its bytes from buf->data, at most buf->len: an echo
 * forwards what it received without a copy), as urs_send does, in the same ordered queue.
 * The call takes the buffer: *buf is emptied (id = URS_BUF_NONE) and the buffer returns to
 * its pool when the kernel is done, whatever the result — also when the call fails at once
 * for any reason but those about the handle itself. Those change nothing (the buffer stays
 * yours): -EINVAL for a NULL sock or buf, an empty or forged handle, -EALREADY for a buffer already sent
 * or given back (a stale copy), -EXDEV for a buffer of another loop than sock's, or from
 * another thread. Then -EMSGSIZE for len beyond the buffer (the buffer is taken), and
 * every error of urs_send. Whether the call took the buffer shows in *buf: emptied when it
 * did (the same -EINVAL may mean either: a forged handle, or no data on a stream). A send from a registered buffer uses the kernel's fixed-buffer
 * forms where it has them (URS_FEAT_FIXED_SEND, URS_FEAT_SEND_ZC); a zero-copy send
 * resolves after its notification, so the sends queued behind it wait for that too. */
URS_API urs_future urs_send_buf(urs_sock *sock, urs_buf *buf, size_t len, int flags);
/* urs_sendall from a buffer, with urs_send_buf's rules for the buffer. */
URS_API urs_future urs_sendall_buf(urs_sock *sock, urs_buf *buf, size_t len, int flags);
/* urs_sendto from a buffer, with urs_send_buf's rules for the buffer (-EMSGSIZE also for a
 * datagram longer than the socket carries, from the kernel; the buffer comes back). On a
 * datagram socket (UDP, IPv4 and IPv6) a datagram from a registered buffer of zc_threshold
 * bytes or more goes zero-copy (IORING_OP_SEND_ZC from the fixed buffer, with the address):
 * the future resolves at its result, the buffer returns at the kernel's notification. A
 * smaller one goes as a send with the address (from the fixed buffer where the kernel takes
 * one, URS_FEAT_FIXED_SEND). A socket that refuses zero-copy (-EOPNOTSUPP, -EINVAL: other
 * families, older kernels) sends that datagram and every later one plainly; an error of the
 * call itself (MSG_OOB on UDP, an address too short) is returned and changes nothing. Other socket
 * types, epoll and an unregistered pool send with sendmsg from the buffer's memory. */
URS_API urs_future urs_sendto_buf(urs_sock *sock, urs_buf *buf, size_t len, int flags,
				  const urs_addr *addr);
/* Python's sendfile: count bytes (0: up to the end) of the regular file fd from offset to
 * a stream socket, with no copy through user space (IORING_OP_SPLICE through a pipe; a read
 * and a send where the kernel has no splice; sendfile(2) on epoll). One of the ordered
 * sends (see urs_send): its bytes go between what was queued before and after it. The
 * socket's timeout bounds the whole call. Resolves to the bytes sent (r->sent; res
 * saturates at INT_MAX), fewer only when the file ended first; -errno, -ETIMEDOUT or
 * -ECANCELED when it stopped early, r->sent then says exactly how many went (a cut one
 * tears the stream as a cut sendall does). fd stays yours and must stay open until the
 * future resolves; its file offset is not moved. -EOPNOTSUPP on a socket that is not
 * SOCK_STREAM, -EINVAL for a non-regular file or a non-blocking socket (as Python). */
URS_API urs_future urs_sendfile(urs_sock *sock, int fd, off_t offset, size_t count);
/* Shuts down reading (SHUT_RD), writing (SHUT_WR) or both; resolves 0 or -errno.
 * SHUT_WR/SHUT_RDWR wait behind the queued sends, so the FIN follows every byte; on a torn
 * socket they answer -EPIPE. After SHUT_RD or SHUT_RDWR a datagram socket's receives answer
 * 0 where they would wait (recv(2) does), and its receive streams end with res 0 once what
 * was queued is delivered. */
URS_API urs_future urs_shutdown(urs_sock *sock, int how);
/* Closes gracefully, and never fails for want of memory (the op is reserved with the
 * socket): receives, accepts and connects are cancelled at once; sends and a shutdown
 * already queued still go, each within its timeout; once every op on sock has resolved and
 * run its callback the fd is closed and the close resolves 0 — its callback is the last
 * on sock. Cancelling the close makes it abortive: the queued sends are cancelled too and
 * a TCP connection is reset; it still resolves 0. Later calls on sock answer -EBADF; free
 * the object with urs_sock_free (in the close callback, for instance). */
URS_API urs_future urs_close(urs_sock *sock);

/* Backpressure: the bytes of sock's queued sends (send, sendall, sendto, sendmsg, sendfile
 * on a stream or seqpacket socket) that the kernel has not taken yet. */
URS_API size_t urs_sock_queued(const urs_sock *sock);
/* Water marks on those bytes: cb(r, user) runs when they rise above high (r->res 1: stop
 * producing, e.g. stop reading from the peer) and when they fall back to low or below
 * (r->res 0: go on); r->sent is the bytes queued when it runs, URS_RES_MORE is set. It runs
 * from the loop's turn, never inside urs_send; not after urs_sock_free or once sock is
 * closing. A rise always gets its fall: when both happened before the turn reported the
 * first, both are reported, 1 then 0. high 0 turns it off. Returns 0, -EINVAL (low > high,
 * no cb), -EBADF. */
URS_API int urs_sock_watermarks(urs_sock *sock, size_t high, size_t low, urs_cb cb, void *user);

/* The peer's / own address (sync). Returns 0 or -errno (-ENOTCONN, -EBADF). */
URS_API int urs_getpeername(const urs_sock *sock, urs_addr *out);
URS_API int urs_getsockname(const urs_sock *sock, urs_addr *out);
/* The socket's fd, or -EBADF once closed. */
URS_API int urs_fileno(const urs_sock *sock);
/* setsockopt(2) / getsockopt(2) on the socket's fd (sync; *len is in/out as there).
 * Returns 0 or -errno (-EBADF once closed, the kernel's -ENOPROTOOPT, -EINVAL...). */
URS_API int urs_setsockopt(urs_sock *sock, int level, int name, const void *val, socklen_t len);
URS_API int urs_getsockopt(const urs_sock *sock, int level, int name, void *val, socklen_t *len);
/* The socket's family and type (as given to urs_socket). */
URS_API int urs_sock_family(const urs_sock *sock);
URS_API int urs_sock_type(const urs_sock *sock);

/* ---------------------------------------------------------------- host names */

/* One address getaddrinfo found: a list, freed whole with urs_addrinfo_free. */
typedef struct urs_addrinfo {
	int family;                 /* AF_INET, AF_INET6 */
	int socktype;               /* SOCK_STREAM, SOCK_DGRAM, SOCK_RAW (0 in the hints: an
				       entry per type for each address, as getaddrinfo(3)) */
	int protocol;               /* IPPROTO_TCP, IPPROTO_UDP, or the hints' */
	urs_addr addr;              /* with the port */
	char *canonname;            /* the canonical name, on the first entry with AI_CANONNAME */
	struct urs_addrinfo *next;
} urs_addrinfo;

/* Frees a list from urs_getaddrinfo (NULL is ignored). */
URS_API void urs_addrinfo_free(urs_addrinfo *ai);

/* Python's getaddrinfo(host, port, family, type, proto, flags) as a future that never
 * blocks the loop on the network. host may be a numeric address (parsed at once by
 * getaddrinfo(3) with AI_NUMERICHOST, no server asked; NULL: the wildcard with AI_PASSIVE,
 * else loopback) or a name (c-ares: its sockets are driven by the loop, no thread; local
 * files such as /etc/hosts are read at once); port a number or a service name (NULL: 0).
 * hints (may be NULL) gives ai_family (AF_UNSPEC, AF_INET, AF_INET6), ai_socktype,
 * ai_protocol and ai_flags (AI_CANONNAME, AI_NUMERICHOST, AI_PASSIVE, AI_NUMERICSERV,
 * AI_V4MAPPED, AI_ALL, AI_ADDRCONFIG). Resolves to the number of entries with r->ai, a
 * list that is yours (urs_addrinfo_free), in the order to try them (RFC 6724); or -ENOENT
 * (no such name: NXDOMAIN; a name with AI_NUMERICHOST), -ENODATA (no address of that
 * family), -ETIMEDOUT (no server answered in time), -ECONNREFUSED (refused by the servers),
 * -EAGAIN (a temporary failure, SERVFAIL), -EBADMSG (a malformed answer), -ESRCH (an
 * unknown service), -EINVAL (a bad name or hints), -ECANCELED. Cancelling it ends the
 * query and closes its sockets. c-ares is optional at build time: a library built without
 * it (URS_CARES=0, or no libc-ares-dev; urs_resolver_config then answers -ENOSYS)
 * resolves numeric hosts only, and a name fails at once with -ENOSYS. */
URS_API urs_future urs_getaddrinfo(urs_loop *loop, const char *host, const char *port,
				   const struct addrinfo *hints);
/* Where and how the loop's later lookups ask: servers is c-ares's list ("127.0.0.1:5353,
 * [::1]:53"; NULL: /etc/resolv.conf's), timeout the seconds per try (0: c-ares's default),
 * tries per server (0: the default). Returns 0, or -EINVAL (a list c-ares refuses, a bad
 * number), -ENOMEM, -ENOSYS (built without c-ares: names are not resolved). */
URS_API int urs_resolver_config(urs_loop *loop, const char *servers, double timeout, int tries);

/* Python's create_connection((host, port), timeout, source_address): resolves host (as
 * urs_getaddrinfo, SOCK_STREAM) and connects with happy eyeballs (RFC 8305): addresses of
 * the two families interleaved, IPv6 first; the next attempt starts 250 ms after the
 * previous one, or at once when one fails; the first to connect wins and every other
 * attempt is cancelled and its socket closed. timeout (seconds; < 0 none) becomes each
 * attempt's socket timeout and stays on the socket returned. source (may be NULL) is bound
 * first. Resolves to 0 with r->sock (connected, yours), or the resolver's error, or the
 * error of the last attempt to fail (-ECONNREFUSED, -ETIMEDOUT...); -ECANCELED. A timeout
 * of 0 (non-blocking) is refused with -EINVAL; a name in a library built without c-ares
 * fails at once with -ENOSYS (a numeric host works). */
URS_API urs_future urs_create_connection(urs_loop *loop, const char *host, const char *port,
					 double timeout, const urs_addr *source);

enum {
	URS_SERVER_REUSE_PORT = 1u << 0, /* SO_REUSEPORT: one listener per thread on one port */
	URS_SERVER_DUALSTACK = 1u << 1   /* an AF_INET6 listener that takes IPv4 too
					    (IPV6_V6ONLY off); refused on AF_INET */
};

/* Python's create_server(address, family, backlog, reuse_port, dualstack_ipv6): a listening
 * TCP socket on addr (numeric; port 0 picks one) with SO_REUSEADDR, and IPV6_V6ONLY on for
 * an AF_INET6 address unless URS_SERVER_DUALSTACK. backlog < 0: SOMAXCONN. Returns 0 and
 * *out (yours), or -errno (-EADDRINUSE, -EINVAL for a bad flag). */
URS_API int urs_create_server(urs_loop *loop, const urs_addr *addr, int backlog, unsigned flags,
			      urs_sock **out);

/* ---------------------------------------------------------------- timeouts */

#define URS_NO_TIMEOUT (-1.0)

/* Sets the timeout of every later op on sock, as Python's settimeout: seconds > 0 links an
 * IORING_OP_LINK_TIMEOUT to each op (expiry resolves -ETIMEDOUT), 0.0 = non-blocking
 * (-EAGAIN when an op cannot complete at once; connect: -EINPROGRESS), negative = none.
 * Returns 0, -EINVAL for NaN, -EBADF when closed. */
URS_API int urs_settimeout(urs_sock *sock, double seconds);
/* The timeout in seconds, or URS_NO_TIMEOUT. */
URS_API double urs_gettimeout(const urs_sock *sock);
/* setblocking(false) is settimeout(0.0); setblocking(true) is settimeout(None). */
URS_API int urs_setblocking(urs_sock *sock, bool blocking);
/* A timer on the loop (IORING_OP_TIMEOUT): resolves 0 after seconds, -ECANCELED when
 * cancelled. Servers use one periodic timer to sweep deadlines instead of one per socket. */
URS_API urs_future urs_sleep(urs_loop *loop, double seconds);

/* ---------------------------------------------------------------- makefile */

/* Python's makefile(): a buffered FILE * on the socket (fopencookie) for mode "r", "w",
 * "rw"/"r+" (a "b" is accepted and ignored). Reads and writes await ops on the socket's
 * loop, so they honour its timeout (errno ETIMEDOUT) and never raise SIGPIPE (a closed peer
 * gives EPIPE through ferror/errno). They drive the loop: called from inside a loop
 * callback they fail with errno EDEADLK instead of deadlocking. fclose leaves the socket
 * open (close it yourself, as in Python); the socket object outlives urs_sock_free and
 * even urs_loop_free until the last FILE on it is closed (I/O then fails with EBADF).
 * Returns NULL with *err (if err) set to -errno. */
URS_API FILE *urs_makefile(urs_sock *sock, const char *mode, int *err);

#ifdef __cplusplus
}
#endif
#endif
