/* SPDX-License-Identifier: MIT */
/* The send pool: buffers the loop owns, which callers borrow (urs_sendbuf_get), fill and
 * send (urs_send_buf, urs_sendall_buf, urs_sendto_buf). On io_uring the pool is registered
 * with the ring (io_uring_register_buffers), so a send names a buffer index instead of an
 * address the kernel must look up and pin page by page, and a send at or above the
 * zero-copy threshold on TCP goes as IORING_OP_SEND_ZC from the fixed buffer. Everything
 * is made at the first urs_sendbuf_get: registration pins the whole pool, and a loop that
 * never sends from it must stay small (bench/loop_rss). On epoll the same calls send from
 * the same memory with send(2).
 *
 * A buffer is free, the user's (SB_USER, from urs_sendbuf_get until it is sent or given
 * back) or sending (an op holds it in op->bid until its decision, which comes only once
 * the kernel owes that op nothing: for a zero-copy send, after its notification). The
 * handle is an urs_buf whose id carries URS_SENDBUF_TAG and whose generation moves at each
 * lending, so a copy kept after the buffer left the user is refused, never obeyed. The same
 * send calls take a receive buffer lent by a recv (an echo forwards it untouched): the op
 * holds it the same way and it goes back to its group at the decision (kernel-notes/
 * registered-send-buffers.md). */
#include "internal.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { SB_COUNT = 64, SB_SIZE = 16384, SB_ZC = 65536, SB_MAX_COUNT = 16384 };

void urs__sendbuf_init(urs_loop *loop, const urs_loop_opts *opts)
{
	struct urs_sendpool *p = &loop->sp;
	p->count = opts->send_buf_count ? opts->send_buf_count : SB_COUNT;
	p->size = opts->send_buf_size ? opts->send_buf_size : SB_SIZE;
	p->zc_threshold = opts->zc_threshold ? opts->zc_threshold : SB_ZC;
}

/* One send of a byte on a throwaway ring with one registered 64-byte buffer: from that
 * buffer (fixed) or plain, to addr or not. Answers whether it went. */
static bool probe_send(int fd, bool fixed, const struct sockaddr *addr, socklen_t alen)
{
	bool ok = false;
	struct io_uring ring;
	static char byte[64];
	if (io_uring_queue_init(2, &ring, 0) < 0)
		return false;
	struct iovec iov = { byte, sizeof(byte) };
	if (!fixed || io_uring_register_buffers(&ring, &iov, 1) == 0) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		io_uring_prep_send(sqe, fd, byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (fixed) {
			sqe->ioprio |= IORING_RECVSEND_FIXED_BUF;
			sqe->buf_index = 0;
		}
		if (addr)
			io_uring_prep_send_set_addr(sqe, addr, (__u16)alen);
		struct io_uring_cqe *cqe;
		if (io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_peek_cqe(&ring, &cqe) == 0) {
			ok = cqe->res == 1;
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	io_uring_queue_exit(&ring);
	return ok;
}

/* Does a plain IORING_OP_SEND take IORING_RECVSEND_FIXED_BUF? Older kernels answer
 * -EINVAL (6.18 does); newer ones send. Asked once per process on a throwaway ring and a
 * socketpair, since the loop's own ring may be busy with the caller's ops. */
static bool probe_fixed_send(void)
{
	static _Atomic int known; /* 0 unknown, 1 yes, 2 no */
	int k = atomic_load(&known);
	if (k)
		return k == 1;
	bool ok = false;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
		ok = probe_send(sv[0], true, NULL, 0);
		close(sv[0]);
		close(sv[1]);
	}
	atomic_store(&known, ok ? 1 : 2);
	return ok;
}

/* Does a plain IORING_OP_SEND take a destination address (sqe->addr2, as SEND_ZC has
 * since 6.0)? Kernels before it answer -EINVAL, and a datagram from the pool then goes as
 * a SENDMSG. Asked once per process: a UDP socket on loopback sends a byte to itself. */
static bool probe_send_addr(void)
{
	static _Atomic int known; /* 0 unknown, 1 yes, 2 no */
	int k = atomic_load(&known);
	if (k)
		return k == 1;
	bool ok = false;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t alen = sizeof(sin);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &alen) == 0)
		ok = probe_send(fd, false, (struct sockaddr *)&sin, alen);
	if (fd >= 0)
		close(fd);
	atomic_store(&known, ok ? 1 : 2);
	return ok;
}

/* The pool, at its first use: its memory (not populated: registration faults it in, and
 * on epoll a page becomes resident when first filled), its tables and, on io_uring, its
 * registration with one iovec per buffer (buf_index = its index). A refused registration
 * (RLIMIT_MEMLOCK) leaves plain memory: every send still works, as from caller memory. */
static int pool_make(urs_loop *loop)
{
	struct urs_sendpool *p = &loop->sp;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	p->map_len = ((size_t)p->count * p->size + pg - 1) & ~(pg - 1);
	void *m = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	p->base = m;
	p->gen = calloc(p->count, sizeof(*p->gen));
	p->state = calloc(p->count, 1);
	p->free = malloc(p->count * sizeof(*p->free));
	p->owed = calloc(p->count, sizeof(*p->owed));
	p->zc = calloc(p->count, 1);
	if (!p->gen || !p->state || !p->free || !p->owed || !p->zc) {
		urs__sendbuf_fini(loop);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < p->count; i++)
		p->free[i] = p->count - 1 - i;
	p->nfree = p->count;
	if (loop->features & URS_FEAT_SEND_BUFS) {
		struct iovec *iov = malloc(p->count * sizeof(*iov));
		int ret = -ENOMEM;
		if (iov) {
			for (uint32_t i = 0; i < p->count; i++) {
				iov[i].iov_base = p->base + (size_t)i * p->size;
				iov[i].iov_len = p->size;
			}
			ret = io_uring_register_buffers(&loop->ring, iov, p->count);
			loop->stats.enters++;
			free(iov);
		}
		if (ret == 0) {
			p->registered = true;
			if (!(loop->disabled & URS_FEAT_FIXED_SEND) && probe_fixed_send())
				loop->features |= URS_FEAT_FIXED_SEND;
			p->send_addr = probe_send_addr();
		} else {
			p->reg_err = ret;
			loop->features &= ~(URS_FEAT_SEND_BUFS | URS_FEAT_SEND_ZC);
		}
		urs__features_str(loop);
	}
	p->made = true;
	loop->stats.bufs_total += p->count;
	return 0;
}

void urs__sendbuf_orphan(urs_loop *loop)
{
	struct urs_sendpool *p = &loop->sp;
	if (p->registered)
		io_uring_unregister_buffers(&loop->ring);
	p->registered = false;
}

void urs__sendbuf_fini(urs_loop *loop)
{
	struct urs_sendpool *p = &loop->sp;
	urs__sendbuf_orphan(loop);
	if (p->base)
		munmap(p->base, p->map_len);
	free(p->gen);
	free(p->state);
	free(p->free);
	free(p->owed);
	free(p->zc);
	p->owed = NULL;
	p->zc = NULL;
	p->base = NULL;
	p->gen = NULL;
	p->state = NULL;
	p->free = NULL;
	p->nfree = 0;
	p->made = false;
}

URS_API int urs_sendbuf_get(urs_loop *loop, urs_buf *out)
{
	if (!loop || !out)
		return -EINVAL;
	if (!urs__mine(loop))
		return -EXDEV;
	out->id = URS_BUF_NONE;
	out->data = NULL;
	out->len = 0;
	out->gen = 0;
	out->loop = loop;
	struct urs_sendpool *p = &loop->sp;
	if (loop->tearing_down)
		return -ECANCELED;
	if (!p->made) {
		int ret = pool_make(loop);
		if (ret < 0)
			return ret;
	}
	if (!p->nfree)
		return -ENOBUFS;
	uint32_t i = p->free[--p->nfree];
	p->state[i] = SB_USER;
	p->gen[i] = p->gen[i] == UINT32_MAX ? 1 : p->gen[i] + 1;
	loop->stats.bufs_lent++;
	out->id = URS_SENDBUF_TAG | i;
	out->gen = p->gen[i];
	out->data = p->base + (size_t)i * p->size;
	out->len = p->size;
	return 0;
}

/* Is b a send buffer its holder may use now? 0, or the -errno every call answers. */
static int check(const urs_buf *b)
{
	urs_loop *loop = b->loop;
	if (!loop || !urs__is_sendbuf(b->id))
		return -EINVAL;
	if (loop->zombie)
		return -EBADF; /* never reached for a released one: see urs__sendbuf_release */
	if (!urs__mine(loop))
		return -EXDEV;
	struct urs_sendpool *p = &loop->sp;
	uint32_t i = b->id & ~URS_SENDBUF_TAG;
	if (!p->made || i >= p->count || b->gen == 0 || p->gen[i] == 0)
		return -EINVAL;
	if (b->gen != p->gen[i])
		return (int32_t)(p->gen[i] - b->gen) > 0 ? -EALREADY : -EINVAL;
	if (p->state[i] != SB_USER)
		return -EALREADY; /* sent, or given back */
	return 0;
}

static void pool_back(urs_loop *loop, uint32_t i)
{
	struct urs_sendpool *p = &loop->sp;
	p->state[i] = SB_FREE;
	p->zc[i] = 0;
	p->free[p->nfree++] = i;
}

int urs__sendbuf_release(urs_buf *b)
{
	urs_loop *loop = b->loop;
	if (loop && loop->zombie && urs__is_sendbuf(b->id)) {
		/* The loop was freed while the user held this one: its tables still stand. */
		struct urs_sendpool *p = &loop->sp;
		uint32_t i = b->id & ~URS_SENDBUF_TAG;
		if (!p->made || i >= p->count || b->gen != p->gen[i])
			return b->gen && p->made && i < p->count ? -EALREADY : -EINVAL;
		if (p->state[i] != SB_USER)
			return -EALREADY;
		p->state[i] = SB_FREE;
		loop->stats.bufs_lent--;
		b->id = URS_BUF_NONE;
		b->data = NULL;
		b->len = 0;
		urs__buf_zombie_check(loop);
		return 0;
	}
	int ret = check(b);
	if (ret < 0)
		return ret;
	pool_back(loop, b->id & ~URS_SENDBUF_TAG);
	loop->stats.bufs_lent--;
	b->id = URS_BUF_NONE;
	b->data = NULL;
	b->len = 0;
	return 0;
}

void urs__sendbuf_back(urs_loop *loop, uint32_t id)
{
	if (urs__is_sendbuf(id))
		pool_back(loop, id & ~URS_SENDBUF_TAG);
	else
		urs__buf_back(loop, id);
}

/* Takes the buffer b names from its holder for a send of len bytes on s: *id and *data
 * say what the op will hold and send. Errors about the handle change nothing (the caller
 * returns them); once this returns 0 the buffer is the engine's. A len beyond it is
 * -EMSGSIZE after the taking: the caller gives it back with the error. */
int urs__sendbuf_take(urs_sock *s, urs_buf *b, size_t len, uint32_t *id, const char **data)
{
	if (!s || !b || b->id == URS_BUF_NONE || !b->loop)
		return -EINVAL;
	/* Another loop's buffer (or a forged loop pointer) is refused before it is looked at. */
	if (s->loop && s->loop != b->loop)
		return -EXDEV;
	urs_loop *loop = b->loop;
	if (loop->zombie)
		return -EBADF;
	int ret;
	size_t cap;
	if (urs__is_sendbuf(b->id)) {
		ret = check(b);
		if (ret < 0)
			return ret;
		uint32_t i = b->id & ~URS_SENDBUF_TAG;
		cap = loop->sp.size;
		*data = loop->sp.base + (size_t)i * loop->sp.size;
	} else {
		ret = urs__buf_check(b);
		if (ret < 0)
			return ret;
		/* Its bytes from b->data, at most b->len of them, never past the buffer's end
		 * whatever the caller wrote into its copy of the view. */
		char *base;
		size_t room;
		urs__buf_span(loop, b->id, &base, &room);
		if (b->data < base || b->data > base + room)
			return -EINVAL;
		cap = (size_t)(base + room - b->data);
		if (b->len < cap)
			cap = b->len;
		*data = b->data;
	}
	*id = b->id;
	if (urs__is_sendbuf(b->id)) {
		loop->sp.state[b->id & ~URS_SENDBUF_TAG] = SB_SENDING;
		loop->stats.bufs_lent--;
	} else {
		urs__buf_unlend(loop, b->id);
	}
	b->id = URS_BUF_NONE;
	b->data = NULL;
	b->len = 0;
	return len > cap ? -EMSGSIZE : 0;
}

/* May this step of op go zero-copy: the loop has SEND_ZC, the step is big enough, the
 * socket is an IP one (the others have no zero-copy: the kernel answers -EOPNOTSUPP) that
 * never refused it. A test hook lets any family try, so the kernel's refusal is seen. */
static bool zc_wanted(urs_loop *loop, const urs_sock *s, unsigned n)
{
	return (loop->features & URS_FEAT_SEND_ZC) && n >= loop->sp.zc_threshold && !s->zc_off &&
	       (s->family == AF_INET || s->family == AF_INET6 || loop->fault_zc_any);
}

void urs__sendbuf_prep(struct urs_op *op, struct io_uring_sqe *sqe, const char *p, unsigned n,
		       int mf)
{
	urs_loop *loop = urs__op_loop(op);
	urs_sock *s = op->sock;
	if (urs__is_sendbuf(op->bid) && loop->sp.registered) {
		unsigned idx = op->bid & ~URS_SENDBUF_TAG;
		uint8_t *zc = &loop->sp.zc[idx];
		*zc &= (uint8_t)~SBZ_STEP;
		if (s->type == SOCK_STREAM && !(*zc & SBZ_TRIAL) && zc_wanted(loop, s, n)) {
			io_uring_prep_send_zc_fixed(sqe, s->fd, p, n, mf, 0, idx);
			*zc |= SBZ_STEP;
			loop->sp.zc_sends++;
			return;
		}
		if (loop->features & URS_FEAT_FIXED_SEND) {
			io_uring_prep_send(sqe, s->fd, p, n, mf);
			sqe->ioprio |= IORING_RECVSEND_FIXED_BUF;
			sqe->buf_index = (__u16)idx;
			loop->sp.fixed_sends++;
			return;
		}
	}
	io_uring_prep_send(sqe, s->fd, p, n, mf);
}

bool urs__sendbuf_prep_to(struct urs_op *op, struct io_uring_sqe *sqe, const char *p,
			  unsigned n, int mf, const urs_addr *a)
{
	urs_loop *loop = urs__op_loop(op);
	urs_sock *s = op->sock;
	if (!urs__is_sendbuf(op->bid) || !loop->sp.registered || s->type != SOCK_DGRAM)
		return false;
	unsigned idx = op->bid & ~URS_SENDBUF_TAG;
	uint8_t *zc = &loop->sp.zc[idx];
	*zc &= (uint8_t)~SBZ_STEP;
	if (!(*zc & SBZ_TRIAL) && zc_wanted(loop, s, n)) {
		io_uring_prep_send_zc_fixed(sqe, s->fd, p, n, mf, 0, idx);
		io_uring_prep_send_set_addr(sqe, &a->u.sa, (__u16)a->len);
		*zc |= SBZ_STEP;
		loop->sp.zc_sends++;
		return true;
	}
	if (!loop->sp.send_addr)
		return false;
	io_uring_prep_send(sqe, s->fd, p, n, mf);
	io_uring_prep_send_set_addr(sqe, &a->u.sa, (__u16)a->len);
	if (loop->features & URS_FEAT_FIXED_SEND) {
		sqe->ioprio |= IORING_RECVSEND_FIXED_BUF;
		sqe->buf_index = (__u16)idx;
		loop->sp.fixed_sends++;
	}
	return true;
}

/* -EOPNOTSUPP: the socket has no zero-copy (SOCK_SUPPORT_ZC unset: not TCP or UDP);
 * -EINVAL: this kernel does not take the zero-copy form as asked (an address on it, a flag).
 * Either way nothing went, and a plain send of the same step says what the send itself
 * answers. The same errors also come from the send itself (MSG_OOB on UDP, an address too
 * short for the family): the socket is not asked again only once the plain step went where
 * the zero-copy one was refused (SBZ_TRIAL), never for the caller's error. */
bool urs__sendbuf_zc_refused(struct urs_op *op, int res)
{
	urs_loop *loop = urs__op_loop(op);
	if (!urs__is_sendbuf(op->bid) || !loop->sp.zc)
		return false;
	uint8_t *zc = &loop->sp.zc[op->bid & ~URS_SENDBUF_TAG];
	if (!(*zc & SBZ_STEP)) {
		if ((*zc & SBZ_TRIAL) && res >= 0)
			op->sock->zc_off = true; /* plain went, zero-copy did not: the socket's */
		*zc &= (uint8_t)~SBZ_TRIAL;
		return false;
	}
	if (res != -EOPNOTSUPP && res != -EINVAL)
		return false;
	*zc = (uint8_t)((*zc & ~SBZ_STEP) | SBZ_TRIAL);
	loop->sp.zc_refusals++;
	return true;
}

void urs__sendbuf_zc_result(struct urs_op *op)
{
	struct urs_sendpool *p = &urs__op_loop(op)->sp;
	p->zc_results++;
	p->owed[op->bid & ~URS_SENDBUF_TAG]++;
	p->notifs_owed++;
}

bool urs__sendbuf_owed(const struct urs_op *op)
{
	return urs__is_sendbuf(op->bid) && urs__op_loop(op)->sp.owed &&
	       urs__op_loop(op)->sp.owed[op->bid & ~URS_SENDBUF_TAG] > 0;
}

/* The buffer leaves the op when the op is done with it (decided) and nothing more is owed:
 * back to the pool; a lingering op (consumed meanwhile) goes to the op pool too. */
static void notif_settle(struct urs_op *op)
{
	urs_loop *loop = urs__op_loop(op);
	if (urs__sendbuf_owed(op) || (op->state != OP_DONE && op->state != OP_LINGER))
		return;
	uint32_t id = op->bid;
	op->bid = URS_BUF_NONE;
	pool_back(loop, id & ~URS_SENDBUF_TAG);
	if (op->state == OP_LINGER)
		urs__op_free(loop, op);
}

void urs__sendbuf_notif(struct urs_op *op)
{
	struct urs_sendpool *p = &urs__op_loop(op)->sp;
	if (!urs__is_sendbuf(op->bid) || !p->owed[op->bid & ~URS_SENDBUF_TAG])
		return; /* not ours to count: ignore rather than underflow */
	p->owed[op->bid & ~URS_SENDBUF_TAG]--;
	p->notifs_owed--;
	notif_settle(op);
}

void urs__sendbuf_notifs_lost(urs_loop *loop)
{
	struct urs_sendpool *p = &loop->sp;
	if (!p->notifs_owed)
		return;
	uint32_t pos = 0;
	for (struct urs_op *op; (op = urs__op_iter(loop, &pos));) {
		if (op->state == OP_FREE || !urs__sendbuf_owed(op))
			continue;
		uint32_t b = op->bid & ~URS_SENDBUF_TAG;
		p->notifs_owed -= p->owed[b];
		p->owed[b] = 0;
		notif_settle(op);
	}
}
