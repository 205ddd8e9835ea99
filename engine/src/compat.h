/* SPDX-License-Identifier: MIT */
/* Constants newer than liburing 2.3's headers, each with the kernel that brought it. Every
 * feature behind them is probed at run time (probe.c); these only give the numbers names. */
#ifndef URS_COMPAT_H
#define URS_COMPAT_H

#include <liburing.h>

#ifndef IORING_OP_BIND /* 6.11 */
#define IORING_OP_BIND 56
#endif
#ifndef IORING_OP_LISTEN /* 6.11 */
#define IORING_OP_LISTEN 57
#endif
#ifndef IORING_CQE_F_SOCK_NONEMPTY /* 5.19 */
#define IORING_CQE_F_SOCK_NONEMPTY (1U << 2)
#endif
#ifndef IORING_FEAT_REG_REG_RING /* 6.3: a registered ring fd can be used for io_uring_register */
#define IORING_FEAT_REG_REG_RING (1U << 13)
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT /* 6.12: min_wait_usec in io_uring_getevents_arg (was pad) */
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE /* 6.10: recv/send with IORING_RECVSEND_BUNDLE */
#define IORING_FEAT_RECVSEND_BUNDLE (1U << 14)
#endif
#ifndef IORING_RECVSEND_BUNDLE /* 6.10: in sqe->ioprio, one CQE for several buffers */
#define IORING_RECVSEND_BUNDLE (1U << 4)
#endif
#ifndef IORING_CQE_F_BUF_MORE /* 6.12: an incremental buffer the kernel has not finished */
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif
/* 6.12: io_uring_buf_reg.flags (liburing 2.3 calls the field "pad"): the kernel consumes a
 * ring's buffers piece by piece. */
#define URS_PBUF_RING_INC 2
#ifndef IORING_ASYNC_CANCEL_ALL /* 5.19 */
#define IORING_ASYNC_CANCEL_ALL (1U << 0)
#endif
#ifndef IORING_ASYNC_CANCEL_ANY /* 5.19 */
#define IORING_ASYNC_CANCEL_ANY (1U << 2)
#endif

/* The extended wait argument (5.11). liburing 2.3 names the 6.12 min_wait_usec field "pad";
 * newer releases renamed it. This layout is the kernel ABI, identical in both, so the loop
 * fills its own copy instead of depending on either name. */
struct urs_getevents_arg {
	__u64 sigmask;
	__u32 sigmask_sz;
	__u32 min_wait_usec;
	__u64 ts;
};

#endif
