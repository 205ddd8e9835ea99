/* SPDX-License-Identifier: MIT */
/* Direct descriptors: the ring's registered file table. A socket on an io_uring loop keeps
 * its regular fd (urs_fileno, setsockopt, getpeername and makefile need one) and also gets a
 * slot in the table; every op on it names the slot with IOSQE_FIXED_FILE, so the kernel
 * does no fd-table lookup (fget) per op. The table is sparse (5.19), its size the process's
 * RLIMIT_NOFILE (at most 65536); slots are ours to hand out. A slot is filled with an
 * IORING_OP_FILES_UPDATE SQE, which the kernel runs in order with the SQEs around it (ops
 * queued after it see the file), and emptied by the register call itself when the socket
 * closes: the table holds a reference to the file, and dropping it in an SQE would close
 * the socket only after the rest of that submission ran (a datagram sent to it next would
 * still arrive, a reset would wait for the next enter). The cost: one SQE when a socket is
 * made, one syscall when it closes, 8 bytes of kernel memory per slot. A full table, or no
 * SQE to carry the update, leaves a socket on its fd. See kernel-notes/direct-descriptors.md. */
#include "internal.h"

#include <stdlib.h>
#include <sys/resource.h>

enum { MAX_SLOTS = 65536 };

void urs__files_init(urs_loop *loop, unsigned disable)
{
	if (disable & URS_FEAT_FIXED_FILES)
		return;
	struct rlimit rl;
	unsigned n = MAX_SLOTS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = (unsigned)rl.rlim_cur;
	if (n < 16)
		return;
	/* calloc: pages of the arrays become resident only as slots are used (a loop that
	 * serves 10 connections does not pay for 65,536 slots). */
	loop->slot_fd = calloc(n, sizeof(*loop->slot_fd));
	loop->slot_free = calloc(n, sizeof(*loop->slot_free));
	if (!loop->slot_fd || !loop->slot_free || io_uring_register_files_sparse(&loop->ring, n) < 0) {
		urs__files_fini(loop);
		return;
	}
	loop->nslots = n;
	loop->nslot_free = loop->slot_next = 0;
	loop->features |= URS_FEAT_FIXED_FILES;
}

void urs__files_fini(urs_loop *loop)
{
	free(loop->slot_fd);
	free(loop->slot_free);
	loop->slot_fd = NULL;
	loop->slot_free = NULL;
	loop->nslots = loop->nslot_free = loop->slot_next = 0;
}

/* The update reads slot_fd[slot] when it is submitted: the loop's own memory, which
 * outlives any socket object. */
static bool update(urs_loop *loop, uint32_t slot)
{
	struct io_uring_sqe *sqe = urs__sqe(loop, 1);
	if (!sqe)
		return false;
	io_uring_prep_files_update(sqe, &loop->slot_fd[slot], 1, (int)slot);
	sqe->user_data = urs__ud_loop(UD_LOOP_IGNORE);
	loop->inflight++;
	return true;
}

void urs__files_add(urs_sock *s)
{
	urs_loop *loop = s->loop;
	s->slot = -1;
	if (!(loop->features & URS_FEAT_FIXED_FILES) || s->fd < 0)
		return;
	uint32_t slot;
	if (loop->nslot_free)
		slot = loop->slot_free[--loop->nslot_free];
	else if (loop->slot_next < loop->nslots)
		slot = loop->slot_next++;
	else
		return; /* the table is full: this socket works on its fd */
	loop->slot_fd[slot] = s->fd;
	if (!update(loop, slot)) {
		loop->slot_fd[slot] = -1;
		loop->slot_free[loop->nslot_free++] = slot;
		return;
	}
	s->slot = (int)slot;
}

void urs__files_remove(urs_sock *s, bool closing)
{
	(void)closing;
	urs_loop *loop = s->loop;
	if (s->slot < 0)
		return;
	uint32_t slot = (uint32_t)s->slot;
	s->slot = -1;
	loop->slot_fd[slot] = -1;
	/* An add for this slot may still wait in the SQ: it now reads -1 and changes nothing. */
	loop->stats.enters++;
	io_uring_register_files_update(&loop->ring, slot, &loop->slot_fd[slot], 1);
	loop->slot_free[loop->nslot_free++] = slot;
}
