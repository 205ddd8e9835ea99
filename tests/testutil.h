/* SPDX-License-Identifier: MIT */
/* Helpers every test binary shares: a loop per test with the leak check at its end, a
 * listener on port 0, awaiting with a result check. */
#ifndef URS_TESTUTIL_H
#define URS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ursock.h"

/* Makes a loop (opts may be NULL) and records the fds open now, for tu_loop_done. */
urs_loop *tu_loop_new(const urs_loop_opts *opts);
/* The leak check: no op, lent buffer, socket object or fd left, then frees the loop. */
void tu_loop_done(urs_loop *loop);
/* Number of open fds of this process. */
int tu_fd_count(void);
/* A listening socket on text ("127.0.0.1:0", "[::1]:0"...), its real address in *bound. */
urs_sock *tu_listener(urs_loop *loop, const char *text, urs_addr *bound);
/* A connected pair (client, server side) through a listener on text. */
void tu_tcp_pair(urs_loop *loop, const char *text, urs_sock **client, urs_sock **server);
/* Awaits f and asserts its result is want; returns the result in *r when r != NULL. */
void tu_await_eq(urs_future f, int want, urs_result *r);
/* Closes and frees a socket, awaiting the close. */
void tu_close(urs_sock *s);
/* Skips the test (cmocka skip) when io_uring itself is unavailable. */
void tu_require_uring(void);
/* The backend a loop runs on ("io_uring", "epoll"): from urs_loop_features_str. */
const char *tu_backend(urs_loop *loop);
/* Skips the test, saying why, unless loop runs on io_uring (white-box ring checks). */
void tu_require_ring(urs_loop *loop);
/* Waits for a child process the test started and asserts it exited 0. */
void tu_reap(int pid);
/* Runs fn in a forked child and asserts it ended by itself within timeout_ms (else it is
 * stopped by PID: a hang fails the test instead of the suite) with exit status 0; fn's
 * return value is that status. */
void tu_child_ok(int (*fn)(void), int timeout_ms);
/* Fills buf with a deterministic pattern from seed. */
void tu_fill(void *buf, size_t len, uint32_t seed);
/* The built examples beside this test binary ($BUILD/tests/../examples) into out. Returns 0
 * or -1. */
int tu_example_dir(char *out, size_t size);
/* SHA-256 of data into out[32]. */
void tu_sha256(const void *data, size_t len, unsigned char out[32]);

#endif
