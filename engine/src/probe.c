/* SPDX-License-Identifier: MIT */
/* Asks the kernel once per loop what it has, into urs_feature bits (see kernel-notes/).
 * Set-up flags are probed by trying them, newest first; opcodes through
 * IORING_REGISTER_PROBE; multishot accept and receive by trying them on throwaway sockets
 * at set-up. A bit is decided here and never cleared later by an error a caller's input
 * can cause. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct {
	unsigned bit;
	const char *name;
} names[] = {
	{ URS_FEAT_SINGLE_ISSUER, "single_issuer" }, { URS_FEAT_DEFER_TASKRUN, "defer_taskrun" },
	{ URS_FEAT_COOP_TASKRUN, "coop_taskrun" },   { URS_FEAT_SUBMIT_ALL, "submit_all" },
	{ URS_FEAT_REG_RING_FD, "reg_ring_fd" },     { URS_FEAT_BUF_RING, "buf_ring" },
	{ URS_FEAT_ACCEPT_MULTI, "accept_multi" },   { URS_FEAT_RECV_MULTI, "recv_multi" },
	{ URS_FEAT_OP_SOCKET, "op_socket" },         { URS_FEAT_OP_BIND, "op_bind" },
	{ URS_FEAT_OP_LISTEN, "op_listen" },         { URS_FEAT_NODROP, "nodrop" },
	{ URS_FEAT_MIN_WAIT, "min_wait" },         { URS_FEAT_MSG_RING, "msg_ring" },
	{ URS_FEAT_FIXED_FILES, "fixed_files" },     { URS_FEAT_SPLICE, "splice" },
	{ URS_FEAT_BUF_INC, "buf_inc" },             { URS_FEAT_RECV_BUNDLE, "recv_bundle" },
	{ URS_FEAT_SEND_ZC, "send_zc" },             { URS_FEAT_SEND_BUFS, "send_bufs" },
	{ URS_FEAT_FIXED_SEND, "fixed_send" },
};

/* "fixed_files,buf_ring" (commas or spaces; "all") -> feature bits. -EINVAL for a name we
 * do not know: a typo must not silently leave a feature on. */
int urs__features_parse(const char *list, unsigned *out)
{
	unsigned bits = 0;
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ", ");
		if (n) {
			bool found = n == 3 && !strncmp(p, "all", 3);
			if (found)
				bits = ~0u;
			for (size_t i = 0; !found && i < sizeof(names) / sizeof(names[0]); i++)
				if (strlen(names[i].name) == n && !strncmp(p, names[i].name, n)) {
					bits |= names[i].bit;
					found = true;
				}
			if (!found)
				return -EINVAL;
		}
		p += n;
		p += strspn(p, ", ");
	}
	*out = bits;
	return 0;
}

int urs__ring_setup(urs_loop *loop, const urs_loop_opts *opts)
{
	unsigned off = opts->disable;
	/* Newest first; a kernel that does not know a flag answers -EINVAL. */
	const struct {
		unsigned flags;
		unsigned feats;
	} tries[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
			  IORING_SETUP_TASKRUN_FLAG,
		  URS_FEAT_SINGLE_ISSUER | URS_FEAT_DEFER_TASKRUN | URS_FEAT_SUBMIT_ALL },
		{ IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
		  URS_FEAT_COOP_TASKRUN | URS_FEAT_SUBMIT_ALL },
		{ 0, 0 },
	};
	int ret = -EINVAL;
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		if (tries[i].feats & off)
			continue;
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = tries[i].flags | IORING_SETUP_CQSIZE;
		p.cq_entries = opts->cq_entries;
		ret = io_uring_queue_init_params(opts->sq_entries, &loop->ring, &p);
		if (ret == 0) {
			loop->features = tries[i].feats;
			loop->ring_flags = p.flags;
			if (p.features & IORING_FEAT_NODROP)
				loop->features |= URS_FEAT_NODROP;
			if ((p.features & IORING_FEAT_MIN_TIMEOUT) && loop->batch > 1)
				loop->features |= URS_FEAT_MIN_WAIT;
			if (p.features & IORING_FEAT_RECVSEND_BUNDLE)
				loop->features |= URS_FEAT_RECV_BUNDLE;
			break;
		}
		if (ret != -EINVAL)
			return ret; /* -ENOMEM, -EPERM (io_uring disabled), -ENOSYS */
	}
	if (ret < 0)
		return ret;

	if (!(off & URS_FEAT_REG_RING_FD) && io_uring_register_ring_fd(&loop->ring) == 1)
		loop->features |= URS_FEAT_REG_RING_FD;

	struct io_uring_probe *probe = io_uring_get_probe_ring(&loop->ring);
	if (probe) {
		if (io_uring_opcode_supported(probe, IORING_OP_SOCKET))
			loop->features |= URS_FEAT_OP_SOCKET;
		if (io_uring_opcode_supported(probe, IORING_OP_BIND))
			loop->features |= URS_FEAT_OP_BIND;
		if (io_uring_opcode_supported(probe, IORING_OP_LISTEN))
			loop->features |= URS_FEAT_OP_LISTEN;
		if (io_uring_opcode_supported(probe, IORING_OP_MSG_RING))
			loop->features |= URS_FEAT_MSG_RING;
		if (io_uring_opcode_supported(probe, IORING_OP_SPLICE))
			loop->features |= URS_FEAT_SPLICE;
		if (io_uring_opcode_supported(probe, IORING_OP_SEND_ZC))
			loop->features |= URS_FEAT_SEND_ZC;
		/* Candidates, confirmed by trying: buffer rings, incremental or not, at
		 * registration (buf.c), multishot in urs__probe_multishot. */
		loop->features |= URS_FEAT_BUF_RING | URS_FEAT_BUF_INC | URS_FEAT_ACCEPT_MULTI |
				  URS_FEAT_RECV_MULTI;
		io_uring_free_probe(probe);
	}
	/* Registered buffers are as old as io_uring_register (5.1); the send pool registers
	 * at its first use and drops the bit if refused (sendbuf.c). fixed_send is probed
	 * there too. */
	loop->features |= URS_FEAT_SEND_BUFS;
	loop->features &= ~off;
	return 0;
}

/* Submits a multishot request on fd and cancels it at once: a kernel without the feature
 * fails the request -EINVAL before the cancel finds it. */
static bool try_multishot(urs_loop *loop, int fd, bool accept)
{
	struct io_uring *ring = &loop->ring;
	enum { PROBE_UD = UD_LOOP | (7u << 2) };
	if (io_uring_sq_space_left(ring) < 2)
		return false;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_sqe *cancel = io_uring_get_sqe(ring);
	if (accept) {
		io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	} else {
		io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 0;
	}
	sqe->user_data = PROBE_UD;
	io_uring_prep_cancel64(cancel, PROBE_UD, 0);
	cancel->user_data = urs__ud_loop(UD_LOOP_IGNORE);
	if (io_uring_submit_and_wait(ring, 2) < 0)
		return false;
	bool ok = false;
	for (int seen = 0; seen < 2;) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(ring, &cqe) < 0)
			return false;
		if (cqe->user_data == PROBE_UD && !(cqe->flags & IORING_CQE_F_MORE)) {
			ok = cqe->res == -ECANCELED;
			seen++;
		} else if (cqe->user_data != PROBE_UD) {
			seen++;
		}
		io_uring_cqe_seen(ring, cqe);
	}
	return ok;
}

void urs__probe_multishot(urs_loop *loop)
{
	if (loop->be != &urs__be_uring)
		return;
	/* Bundles take their buffers from a ring. */
	if (!loop->bg[URS_BG_LOOP].br)
		loop->features &= ~URS_FEAT_RECV_BUNDLE;
	unsigned want = loop->features & (URS_FEAT_ACCEPT_MULTI | URS_FEAT_RECV_MULTI);
	loop->features &= ~(URS_FEAT_ACCEPT_MULTI | URS_FEAT_RECV_MULTI);
	/* Only beside DEFER_TASKRUN: without it a multishot receive on 6.18 leaves the loop
	 * stalling in bursts (echo 64 B x 512: about 22,000 msg/s where single receives
	 * make 270,000; kernel-notes/multishot.md). */
	if ((want & URS_FEAT_RECV_MULTI) && loop->bg[0].br &&
	    (loop->features & URS_FEAT_DEFER_TASKRUN)) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
			if (try_multishot(loop, sv[0], false))
				loop->features |= URS_FEAT_RECV_MULTI;
			close(sv[0]);
			close(sv[1]);
		}
	}
	if (want & URS_FEAT_ACCEPT_MULTI) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		/* An address of just the family autobinds to a free abstract name. */
		if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(sa_family_t)) == 0 &&
		    listen(fd, 1) == 0 && try_multishot(loop, fd, true))
			loop->features |= URS_FEAT_ACCEPT_MULTI;
		if (fd >= 0)
			close(fd);
	}
}

void urs__features_str(urs_loop *loop)
{
	size_t n = 0, cap = sizeof(loop->feat_str);
	int w;
	if (loop->backend_why)
		w = snprintf(loop->feat_str, cap, "backend=%s (io_uring_setup: %s)", loop->be->name,
			     strerrorname_np(-loop->backend_why) ? strerrorname_np(-loop->backend_why)
								  : "error");
	else
		w = snprintf(loop->feat_str, cap, "backend=%s", loop->be->name);
	n = (size_t)w;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n < cap; i++) {
		if (!(loop->features & names[i].bit))
			continue;
		w = snprintf(loop->feat_str + n, cap - n, " %s", names[i].name);
		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
	if (loop->sp.reg_err && n < cap) {
		w = snprintf(loop->feat_str + n, cap - n, " no_send_bufs(register: %s)",
			     strerrorname_np(-loop->sp.reg_err) ? strerrorname_np(-loop->sp.reg_err)
								 : "error");
		if (w > 0)
			n += (size_t)w;
	}
	if (loop->buf_ring_err && n < cap)
		snprintf(loop->feat_str + n, cap - n, " no_buf_ring(register: %s)",
			 strerrorname_np(-loop->buf_ring_err) ? strerrorname_np(-loop->buf_ring_err)
							       : "error");
}
