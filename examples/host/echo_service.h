/* SPDX-License-Identifier: MIT */
/* The ursock side of the two host-loop examples (host_epoll.c, host_libuv.c): a stream
 * echo service on a loop that someone else's event loop drives (it only starts ops and
 * answers their callbacks, it never runs the loop itself), and the command line both take. */
#ifndef URS_EXAMPLE_ECHO_SERVICE_H
#define URS_EXAMPLE_ECHO_SERVICE_H

#include "ursock.h"

struct echo_service;

struct echo_stats {
	unsigned open;               /* connections now */
	unsigned accepted;           /* connections since the start */
	unsigned long long echoed;   /* bytes sent back */
};

/* Listens on text ("127.0.0.1:0", "[::1]:9000", "/path", "@name") and starts accepting;
 * prints "listening on <address>" (the real port) on stdout. Returns 0 and *out (free it
 * with echo_service_free), or -errno. */
int echo_service_start(urs_loop *loop, const char *text, struct echo_service **out);
/* Stops accepting (the listener is closed) and ends every connection once what it received
 * has been echoed; the loop must then run until idle before echo_service_free. */
void echo_service_stop(struct echo_service *s);
/* Frees the service (after stop and a run until idle); removes a Unix path it created. */
void echo_service_free(struct echo_service *s);
void echo_service_stats(const struct echo_service *s, struct echo_stats *out);

/* The command line both hosts take: [--stats SECONDS] ADDRESS, or --help. Returns -1 when
 * the program goes on (*addr and *stats_every set, 0 = no stats), else the exit code
 * (0 for --help after the usage line, 2 for a bad command line). */
int echo_service_args(int argc, char **argv, const char **addr, double *stats_every);

#endif
