/* SPDX-License-Identifier: MIT */
/* ursock inside a program that already has an event loop (plain epoll here): the host
 * waits on its own fds and on urs_loop_fd(), and lets ursock run without blocking. The
 * ursock side is a stream echo service (host/echo_service.c); the host side owns the
 * signals (a signalfd) and a statistics timer (a timerfd).
 *
 *   build/examples/host_epoll 127.0.0.1:9000 --stats 1     (TCP; "[::1]:0", /path, @name)
 *   build/examples/stream_echo_client 127.0.0.1:9000 hello
 *
 * The first line on stdout is "listening on <address>"; with --stats S a line
 * "stats: N open, N accepted, N bytes echoed" follows every S seconds; SIGINT or SIGTERM
 * stop it cleanly (exit 0) once every connection's pending echo is sent. */
#include "host/echo_service.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

enum { SRC_URING, SRC_SIGNAL, SRC_TIMER };

/* Runs what is ready without blocking until a run handles nothing. Callbacks start new
 * ops, which reach the kernel at the next run: the host must not block while one is still
 * queued, and after a run that ran no callback nothing is. */
static int run_ready(urs_loop *loop)
{
	int n;
	while ((n = urs_loop_run(loop, URS_RUN_NOWAIT)) > 0)
		;
	return n;
}

int main(int argc, char **argv)
{
	double stats_every;
	const char *text;
	int code = echo_service_args(argc, argv, &text, &stats_every);
	if (code >= 0)
		return code;

	/* Signals arrive as reads on a signalfd, like any other event of the host. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0) {
		perror("signalfd/epoll_create1");
		return 1;
	}

	urs_loop *loop;
	int ret = urs_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "urs_loop_new: %s\n", strerror(-ret));
		return 1;
	}
	struct echo_service *svc;
	if ((ret = echo_service_start(loop, text, &svc)) < 0) {
		fprintf(stderr, "listen on %s: %s\n", text, strerror(-ret));
		return 1;
	}

	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = SRC_URING };
	epoll_ctl(ep, EPOLL_CTL_ADD, urs_loop_fd(loop), &ev);
	ev.data.u32 = SRC_SIGNAL;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	int tfd = -1;
	if (stats_every > 0) {
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		struct timespec every = { (time_t)stats_every,
					  (long)((stats_every - (double)(time_t)stats_every) * 1e9) };
		struct itimerspec its = { every, every };
		timerfd_settime(tfd, 0, &its, NULL);
		ev.data.u32 = SRC_TIMER;
		epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	}

	int stopping = 0;
	while (!stopping) {
		/* Before blocking: ursock's completions handled and its new ops submitted. The
		 * ring fd wakes this wait when completions come; then the same call runs them. */
		if ((ret = run_ready(loop)) < 0) {
			fprintf(stderr, "urs_loop_run: %s\n", strerror(-ret));
			break;
		}
		struct epoll_event out[8];
		int n = epoll_wait(ep, out, 8, -1);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			if (out[i].data.u32 == SRC_SIGNAL) {
				struct signalfd_siginfo si;
				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					stopping = 1;
			} else if (out[i].data.u32 == SRC_TIMER) {
				uint64_t ticks;
				if (read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks)) {
					struct echo_stats st;
					echo_service_stats(svc, &st);
					printf("stats: %u open, %u accepted, %llu bytes echoed\n", st.open,
					       st.accepted, st.echoed);
					fflush(stdout);
				}
			}
			/* SRC_URING: nothing to do here; run_ready at the top of the loop runs it */
		}
	}

	/* Stop accepting, let every connection's pending echo finish, then free. Nothing
	 * else is left for the host to do, so ursock may block now. */
	echo_service_stop(svc);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	echo_service_free(svc);
	urs_loop_free(loop);
	if (tfd >= 0)
		close(tfd);
	close(sfd);
	close(ep);
	return ret < 0 ? 1 : 0;
}
