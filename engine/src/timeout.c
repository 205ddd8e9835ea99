/* Socket timeouts: Python's settimeout/gettimeout/setblocking, carried by each op as an
 * IORING_OP_LINK_TIMEOUT (see kernel-notes/link-timeout.md). */
#include "internal.h"

#include <math.h>
#include <time.h>

int64_t urs__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The timeout this submission of op carries: -1 none, else ns. sendall's is what is left
 * of the deadline set when the call began, so the timeout bounds the whole call. */
int64_t urs__op_timeout_ns(struct urs_op *op)
{
	if (!op->sock || op->sock->timeout_ns < 0)
		return -1;
	if (op->kind == OPK_SENDALL && op->deadline) {
		int64_t left = op->deadline - urs__now_ns();
		return left > 0 ? left : 0;
	}
	return op->sock->timeout_ns;
}

void urs__link_timeout(struct urs_op *op, struct io_uring_sqe *sqe, int64_t ns)
{
	op->ts.tv_sec = ns / 1000000000;
	op->ts.tv_nsec = ns % 1000000000;
	io_uring_prep_link_timeout(sqe, &op->ts, 0);
}

URS_API int urs_settimeout(urs_sock *sock, double seconds)
{
	if (!sock)
		return -EINVAL;
	if (sock->state != SOCK_OPEN)
		return -EBADF;
	if (isnan(seconds))
		return -EINVAL;
	if (seconds < 0) {
		sock->timeout_ns = -1;
		return 0;
	}
	if (seconds > 9.2e9) /* beyond what int64 nanoseconds hold: as good as none */
		seconds = 9.2e9;
	int64_t ns = (int64_t)(seconds * 1e9);
	sock->timeout_ns = (seconds > 0 && ns == 0) ? 1 : ns;
	return 0;
}

URS_API double urs_gettimeout(const urs_sock *sock)
{
	if (!sock || sock->timeout_ns < 0)
		return URS_NO_TIMEOUT;
	return (double)sock->timeout_ns / 1e9;
}

URS_API int urs_setblocking(urs_sock *sock, bool blocking)
{
	return urs_settimeout(sock, blocking ? URS_NO_TIMEOUT : 0.0);
}

URS_API urs_future urs_sleep(urs_loop *loop, double seconds)
{
	if (!loop || isnan(seconds) || seconds < 0)
		return urs__future_err(-EINVAL);
	if (seconds > 9.2e9)
		seconds = 9.2e9;
	struct urs_op *op;
	int ret = urs__op_new(loop, OPK_SLEEP, NULL, &op);
	if (ret < 0)
		return urs__future_err(ret);
	int64_t ns = (int64_t)(seconds * 1e9);
	op->ts.tv_sec = ns / 1000000000;
	op->ts.tv_nsec = ns % 1000000000;
	return urs__op_start(op);
}
