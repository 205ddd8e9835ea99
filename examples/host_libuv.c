/* SPDX-License-Identifier: MIT */
/* ursock inside a libuv program: a uv_poll_t on urs_loop_fd() wakes libuv when ursock has
 * completions, a uv_prepare_t runs ursock without blocking right before libuv blocks (so
 * ops started by any callback reach the kernel), and libuv keeps its own signals and timers.
 * The ursock side is a stream echo service (host/echo_service.c). Needs libuv1-dev.
 *
 *   build/examples/host_libuv 127.0.0.1:9000 --stats 1     (TCP; "[::1]:0", /path, @name)
 *   build/examples/stream_echo_client 127.0.0.1:9000 hello
 *
 * The first line on stdout is "listening on <address>"; with --stats S a line
 * "stats: N open, N accepted, N bytes echoed" follows every S seconds (a uv_timer_t);
 * SIGINT or SIGTERM (uv_signal_t) stop it cleanly (exit 0) once every connection's pending
 * echo is sent. */
#include "host/echo_service.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static urs_loop *loop;
static struct echo_service *svc;
static uv_poll_t ring;
static uv_prepare_t before_wait;
static uv_signal_t sigint, sigterm;
static uv_timer_t stats_timer;
static int failed;

static void stop(void);

/* Runs what is ready without blocking until a run handles nothing: callbacks start new
 * ops, which reach the kernel at the next run, and libuv must not block while one is
 * still queued. */
static void run_ready(void)
{
	int n;
	while ((n = urs_loop_run(loop, URS_RUN_NOWAIT)) > 0)
		;
	if (n < 0) {
		fprintf(stderr, "urs_loop_run: %s\n", strerror(-n));
		failed = 1;
		stop();
	}
}

static void on_ring(uv_poll_t *h, int status, int events)
{
	(void)h;
	(void)events;
	if (status < 0) {
		fprintf(stderr, "uv_poll: %s\n", uv_strerror(status));
		failed = 1;
		stop();
		return;
	}
	run_ready();
}

static void on_before_wait(uv_prepare_t *h)
{
	(void)h;
	run_ready();
}

static void on_stats(uv_timer_t *h)
{
	(void)h;
	struct echo_stats st;
	echo_service_stats(svc, &st);
	printf("stats: %u open, %u accepted, %llu bytes echoed\n", st.open, st.accepted, st.echoed);
	fflush(stdout);
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	stop();
}

/* Closes every libuv handle: uv_run returns once they are gone. */
static void stop(void)
{
	if (uv_is_closing((uv_handle_t *)&ring))
		return;
	uv_close((uv_handle_t *)&ring, NULL);
	uv_close((uv_handle_t *)&before_wait, NULL);
	uv_close((uv_handle_t *)&sigint, NULL);
	uv_close((uv_handle_t *)&sigterm, NULL);
	uv_close((uv_handle_t *)&stats_timer, NULL);
}

int main(int argc, char **argv)
{
	double stats_every;
	const char *text;
	int code = echo_service_args(argc, argv, &text, &stats_every);
	if (code >= 0)
		return code;

	uv_loop_t *uv = uv_default_loop();
	int ret = urs_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "urs_loop_new: %s\n", strerror(-ret));
		return 1;
	}
	if ((ret = echo_service_start(loop, text, &svc)) < 0) {
		fprintf(stderr, "listen on %s: %s\n", text, strerror(-ret));
		return 1;
	}
	uv_poll_init(uv, &ring, urs_loop_fd(loop));
	uv_poll_start(&ring, UV_READABLE, on_ring);
	uv_prepare_init(uv, &before_wait);
	uv_prepare_start(&before_wait, on_before_wait);
	uv_signal_init(uv, &sigint);
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_init(uv, &sigterm);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	uv_timer_init(uv, &stats_timer);
	if (stats_every > 0) {
		uint64_t ms = (uint64_t)(stats_every * 1000);
		uv_timer_start(&stats_timer, on_stats, ms ? ms : 1, ms ? ms : 1);
	}
	uv_run(uv, UV_RUN_DEFAULT);

	/* Stop accepting, let every connection's pending echo finish, then free. libuv has
	 * nothing left to do, so ursock may block now. */
	echo_service_stop(svc);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	echo_service_free(svc);
	urs_loop_free(loop);
	uv_loop_close(uv);
	return failed;
}
