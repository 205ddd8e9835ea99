/* The yardstick: the leanest TCP echo we can write on raw liburing, no engine. Multishot
 * accept, one provided buffer ring, multishot recv, and each received buffer sent back as
 * it is (released when its send completes). DEFER_TASKRUN|SINGLE_ISSUER. What ursock's
 * stream_echo costs beyond this is the engine's abstraction.
 *
 *   build/bench/uring_echo 127.0.0.1:0
 *
 * Prints "listening on ADDRESS"; on SIGTERM exits 0 and prints "syscalls N" (enters). */
#include "common.h"

#include <errno.h>
#include <liburing.h>
#include <sys/mman.h>

enum { NBUF = 4096, BUFSZ = 4096, ACCEPT_UD = 1ull << 62, SEND_UD = 1ull << 61 };

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static volatile sig_atomic_t stopping;
static int lfd;

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
	io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
	s->user_data = ACCEPT_UD;
}

static void arm_recv(int fd)
{
	struct io_uring_sqe *s = sqe_get();
	io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
	s->flags |= IOSQE_BUFFER_SELECT;
	s->buf_group = 0;
	s->user_data = (uint64_t)fd;
}

static void buf_put(unsigned id)
{
	io_uring_buf_ring_add(br, bufs + (size_t)id * BUFSZ, BUFSZ, (unsigned short)id,
			      io_uring_buf_ring_mask(NBUF), 0);
	io_uring_buf_ring_advance(br, 1);
}

int main(int argc, char **argv)
{
	if (argc != 2 || !strcmp(argv[1], "--help")) {
		printf("usage: %s ADDRESS\n", argv[0]);
		return argc == 2 ? 0 : 2;
	}
	install_signals(on_term);
	int port = 0;
	lfd = listen_on(argv[1], &port, 0);
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
					int one = 1;
					setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					arm_recv(res);
				}
				if (!(cqe->flags & IORING_CQE_F_MORE))
					arm_accept();
			} else if (ud & SEND_UD) {
				buf_put((unsigned)(ud & 0xffff));
			} else {
				int fd = (int)ud;
				if (res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
					unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
					struct io_uring_sqe *s = sqe_get();
					io_uring_prep_send(s, fd, bufs + (size_t)id * BUFSZ, (unsigned)res,
							   MSG_NOSIGNAL | MSG_WAITALL);
					s->user_data = SEND_UD | id;
					if (!(cqe->flags & IORING_CQE_F_MORE))
						arm_recv(fd);
				} else if (res == -ENOBUFS) {
					arm_recv(fd);
				} else if (!(cqe->flags & IORING_CQE_F_MORE)) {
					close(fd);
				}
			}
		}
		io_uring_cq_advance(&ring, n);
	}
	report_exit();
	return 0;
}
