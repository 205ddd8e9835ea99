/* SPDX-License-Identifier: MIT */
/* The yardstick: the leanest TCP echo we can write on raw liburing, no engine. Multishot
 * accept straight into the registered file table (direct descriptors: no fd, no fget per
 * op), one provided buffer ring, multishot recv, and each received buffer sent back as it
 * is (released when its send completes) — from registered memory (the buffer region is
 * also registered, IORING_RECVSEND_FIXED_BUF) where the kernel takes a fixed buffer on a
 * plain send (probed at start; 6.18 does not: -EINVAL, only SEND_ZC takes one, and
 * zero-copy on loopback copies anyway). DEFER_TASKRUN|SINGLE_ISSUER. What ursock's stream_echo costs beyond this is
 * the engine's abstraction.
 *
 *   build/bench/uring_echo 127.0.0.1:0 [--plain]     (--plain: fds and user memory)
 *
 * Prints "listening on ADDRESS"; on SIGTERM exits 0 and prints "syscalls N" (enters). */
#include "common.h"

#include <errno.h>
#include <liburing.h>
#include <sys/mman.h>
#include <sys/resource.h>

enum { NBUF = 4096, BUFSZ = 4096 };
#define ACCEPT_UD (1ull << 62)
#define SEND_UD (1ull << 61)
#define CLOSE_UD (1ull << 60)

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static volatile sig_atomic_t stopping;
static int lfd;
static int direct = 1;  /* sockets in the registered file table */
static int fixed_buf;   /* sends name the registered buffer region (probed) */

static void on_term(int sig) { (void)sig; stopping = 1; }

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *s;
	while (!(s = io_uring_get_sqe(&ring))) {
		count_syscall();
		io_uring_submit(&ring);
	}
	return s;
}

static void arm_accept(void)
{
	struct io_uring_sqe *s = sqe_get();
	if (direct)
		io_uring_prep_multishot_accept_direct(s, lfd, NULL, NULL, 0);
	else
		io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
	s->user_data = ACCEPT_UD;
}

static void arm_recv(int fd)
{
	struct io_uring_sqe *s = sqe_get();
	io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT | (direct ? IOSQE_FIXED_FILE : 0);
	s->buf_group = 0;
	s->user_data = (uint64_t)fd;
}

static void buf_put(unsigned id)
{
	io_uring_buf_ring_add(br, bufs + (size_t)id * BUFSZ, BUFSZ, (unsigned short)id,
			      io_uring_buf_ring_mask(NBUF), 0);
	io_uring_buf_ring_advance(br, 1);
}

static void prep_send(int fd, const char *data, unsigned len, uint64_t ud)
{
	struct io_uring_sqe *s = sqe_get();
	io_uring_prep_send(s, fd, data, len, MSG_NOSIGNAL | MSG_WAITALL);
	if (direct)
		s->flags |= IOSQE_FIXED_FILE;
	if (fixed_buf) {
		s->ioprio |= IORING_RECVSEND_FIXED_BUF;
		s->buf_index = 0;
	}
	s->user_data = ud;
}

/* Does this kernel take a registered buffer on a plain IORING_OP_SEND? One byte over a
 * socketpair tells (older kernels answer -EINVAL). */
static int probe_fixed_send(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	int save = direct;
	direct = 0;
	fixed_buf = 1;
	bufs[0] = 'x';
	prep_send(sv[0], bufs, 1, 0);
	direct = save;
	struct io_uring_cqe *cqe;
	int ok = io_uring_submit_and_wait(&ring, 1) >= 0 && io_uring_peek_cqe(&ring, &cqe) == 0 && cqe->res == 1;
	if (ok || io_uring_peek_cqe(&ring, &cqe) == 0)
		io_uring_cqe_seen(&ring, cqe);
	close(sv[0]);
	close(sv[1]);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[2], "--plain")) {
		direct = 0;
		argc--;
	}
	if (argc != 2 || !strcmp(argv[1], "--help")) {
		printf("usage: %s ADDRESS [--plain]\n", argv[0]);
		return argc == 2 ? 0 : 2;
	}
	install_signals(on_term);
	int port = 0;
	lfd = listen_on(argv[1], &port, 0);
	int one = 1;
	/* Accepted sockets inherit TCP_NODELAY from the listener: a direct descriptor has no
	 * fd to set it on. */
	setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
	p.flags |= IORING_SETUP_CQSIZE;
	p.cq_entries = 16384;
	if (lfd < 0 || io_uring_queue_init_params(1024, &ring, &p) < 0) {
		perror("setup");
		return 1;
	}
	io_uring_register_ring_fd(&ring);
	bufs = mmap(NULL, (size_t)NBUF * BUFSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	io_uring_buf_ring_init(br);
	struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = NBUF };
	if (io_uring_register_buf_ring(&ring, &reg, 0) < 0) {
		perror("buf ring");
		return 1;
	}
	for (unsigned i = 0; i < NBUF; i++)
		buf_put(i);
	if (direct) {
		struct iovec iov = { bufs, (size_t)NBUF * BUFSZ };
		struct rlimit rl; /* the table may not exceed RLIMIT_NOFILE */
		unsigned slots = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (unsigned)rl.rlim_cur
											: 65536;
		int ret = io_uring_register_files_sparse(&ring, slots);
		if (ret >= 0)
			ret = io_uring_register_buffers(&ring, &iov, 1);
		if (ret < 0) {
			fprintf(stderr, "register files/buffers: %s\n", strerror(-ret));
			return 1;
		}
		fixed_buf = probe_fixed_send();
		if (!fixed_buf)
			fprintf(stderr, "uring_echo: this kernel takes no registered buffer on a plain send\n");
	}
	announce(argv[1], port);
	arm_accept();
	while (!stopping) {
		count_syscall();
		struct __kernel_timespec ts = { 0, 200 * 1000 * 1000 };
		struct io_uring_cqe *cqe;
		int ret = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts, NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR)
			break;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			n++;
			uint64_t ud = cqe->user_data;
			int res = cqe->res;
			if (ud == ACCEPT_UD) {
				if (res >= 0) {
					if (!direct)
						setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					arm_recv(res);
				}
				if (!(cqe->flags & IORING_CQE_F_MORE))
					arm_accept();
			} else if (ud == CLOSE_UD) {
				/* a direct descriptor closed */
			} else if (ud & SEND_UD) {
				buf_put((unsigned)(ud & 0xffff));
			} else {
				int fd = (int)ud;
				if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
					unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
					prep_send(fd, bufs + (size_t)id * BUFSZ, (unsigned)res, SEND_UD | id);
					if (!(cqe->flags & IORING_CQE_F_MORE))
						arm_recv(fd);
				} else if (res == -ENOBUFS) {
					arm_recv(fd);
				} else if (!(cqe->flags & IORING_CQE_F_MORE)) {
					if (direct) {
						struct io_uring_sqe *s = sqe_get();
						io_uring_prep_close_direct(s, (unsigned)fd);
						s->user_data = CLOSE_UD;
					} else {
						close(fd);
					}
				}
			}
		}
		io_uring_cq_advance(&ring, n);
	}
	report_exit();
	return 0;
}
