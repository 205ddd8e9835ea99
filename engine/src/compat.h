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

#endif
