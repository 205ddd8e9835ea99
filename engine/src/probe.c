/* Asks the kernel once per loop what it has, into urs_feature bits (see kernel-notes/).
 * Set-up flags are probed by trying them, newest first; opcodes through
 * IORING_REGISTER_PROBE; buffer rings and multishot by trying at first use. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const struct {
	unsigned bit;
	const char *name;
} names[] = {
	{ URS_FEAT_SINGLE_ISSUER, "single_issuer" }, { URS_FEAT_DEFER_TASKRUN, "defer_taskrun" },
	{ URS_FEAT_COOP_TASKRUN, "coop_taskrun" },   { URS_FEAT_SUBMIT_ALL, "submit_all" },
	{ URS_FEAT_REG_RING_FD, "reg_ring_fd" },     { URS_FEAT_BUF_RING, "buf_ring" },
	{ URS_FEAT_ACCEPT_MULTI, "accept_multi" },   { URS_FEAT_RECV_MULTI, "recv_multi" },
	{ URS_FEAT_OP_SOCKET, "op_socket" },         { URS_FEAT_OP_BIND, "op_bind" },
	{ URS_FEAT_OP_LISTEN, "op_listen" },         { URS_FEAT_SEND_ZC, "send_zc" },
	{ URS_FEAT_NODROP, "nodrop" },               { URS_FEAT_MIN_WAIT, "min_wait" },
};

int urs__ring_setup(urs_loop *loop, const urs_loop_opts *opts)
{
	unsigned off = opts->disable;
	/* Newest first; a kernel that does not know a flag answers -EINVAL. */
	const struct {
		unsigned flags;
		unsigned feats;
	} tries[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
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
		p.flags = tries[i].flags;
		if (opts->cq_entries) {
			p.flags |= IORING_SETUP_CQSIZE;
			p.cq_entries = opts->cq_entries;
		}
		ret = io_uring_queue_init_params(opts->sq_entries, &loop->ring, &p);
		if (ret == 0) {
			loop->features = tries[i].feats;
			loop->ring_flags = p.flags;
			if (p.features & IORING_FEAT_NODROP)
				loop->features |= URS_FEAT_NODROP;
			if (p.features & IORING_FEAT_MIN_TIMEOUT)
				loop->features |= URS_FEAT_MIN_WAIT;
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
		if (io_uring_opcode_supported(probe, IORING_OP_SEND_ZC)) {
			/* SEND_ZC (6.0) came with multishot recv; multishot accept (5.19) and
			 * buffer rings (5.19) are older. Each is still confirmed by trying:
			 * registration of the ring, -EINVAL from the first multishot. */
			loop->features |= URS_FEAT_SEND_ZC | URS_FEAT_RECV_MULTI;
		}
		if (io_uring_opcode_supported(probe, IORING_OP_SOCKET))
			loop->features |= URS_FEAT_ACCEPT_MULTI | URS_FEAT_BUF_RING;
		io_uring_free_probe(probe);
	}
	loop->features &= ~off;
	return 0;
}

void urs__features_str(urs_loop *loop)
{
	size_t n = 0;
	loop->feat_str[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(loop->features & names[i].bit))
			continue;
		int w = snprintf(loop->feat_str + n, sizeof(loop->feat_str) - n, "%s%s",
				 n ? " " : "", names[i].name);
		if (w < 0 || (size_t)w >= sizeof(loop->feat_str) - n)
			break;
		n += (size_t)w;
	}
}
