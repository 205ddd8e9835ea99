/* SPDX-License-Identifier: MIT */
/* libFuzzer target over the engine's public API: each input is a program of random
 * interleavings on one small loop (few buffers, few ops, a tiny SQ/CQ) — socketpairs of every
 * type, TCP pairs through a listener, plain-fd peers that reset, sends and sendall (some larger
 * than the socket buffers), every kind of receive, then/await/cancel/detach on live and stale
 * futures, shutdown, close and free (also from inside callbacks), buffer releases (also of
 * stale and forged views), tiny timeouts, bounded loop runs, and at the end the loop's
 * teardown with everything in flight (or a graceful drain).
 *
 * A model runs alongside and is checked after every step and in every callback:
 *  - every future resolves exactly once; no callback on a socket after urs_sock_free (but its
 *    close callback), none after its close callback, and the close callback after every other
 *    callback bound on it;
 *  - every return code is the one the header promises for the model's state (stale handle,
 *    consumer already there, closed socket, stale or forged buffer...);
 *  - every byte is accounted for (engine_model.c): a stream is, in order, what each send
 *    reported sent, never a byte from after a hole, and an end only after all of it;
 *  - a lent buffer never changes while the user holds it; urs_loop_stats agrees with the
 *    buffers the harness holds; nothing leaks: after the drain ops_in_use, bufs_lent,
 *    socks_open and socks_alive are 0, after teardown the fd count is back where it was, and
 *    LeakSanitizer sees every object freed (husks included);
 *  - nothing blocks: awaits are bounded by socket timeouts or by a guard timer that cancels
 *    the awaited future; where every pending op waits for a buffer the user holds, the loop
 *    must answer -ENOBUFS instead of blocking.
 *
 * Files: this one reads the input as a program and ends it; engine_actions.c does what a step
 * does to the engine; engine_futures.c checks what comes back; engine_model.c the bytes.
 *
 * Run: make fuzz-engine FUZZ_SECONDS=N (URSOCK_BACKEND=epoll for that backend).
 * FUZZ_ENGINE_TRACE=1 prints each step of a replayed input, FUZZ_ENGINE_STATS=1 how often the
 * rare checks were reached. A known engine defect, while it waits for its fix, gets a
 * reproducer in fuzz/repro/<name>.c and a known("<name>") where the harness steers around
 * it, so that the fuzzer looks for new ones (FUZZ_ENGINE_STRICT=1, or a comma-separated
 * list of names, turns the steering off); none is known now. */
#define _GNU_SOURCE
#include "engine_harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct harness M;
unsigned long counts[CT__COUNT];
static const char *const ct_name[] = { "inputs", "stall: await -ENOBUFS", "stall: run -ENOBUFS",
				       "guard timer cancelled an await", "stale view refused",
				       "teardown in flight", "graceful drain", "husk checked",
				       "FILE closed after its loop", "stream end checked",
				       "short send skipped (settled)", "accepted socket",
				       "re-entry refused", "socket freed in a callback" };
static uint8_t rawbuf[1 << 16];

/* ---------------------------------------------------------------- reporting */

enum { TRACE_LINES = 96, TRACE_LEN = 200 };
static char trace_ring[TRACE_LINES][TRACE_LEN];
static unsigned trace_n;

void trace(const char *fmt, ...)
{
	char *line = trace_ring[trace_n++ % TRACE_LINES];
	int n = snprintf(line, TRACE_LEN, "%3d%*s ", M.step, M.depth * 2, "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, TRACE_LEN - (size_t)n, fmt, ap);
	va_end(ap);
	if (M.trace)
		fprintf(stderr, "%s\n", line);
}

void fz_fail(const char *fmt, ...)
{
	fprintf(stderr, "\n==== fuzz_engine: invariant broken at step %d%s: ", M.step,
		M.depth ? " (inside a callback)" : "");
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n==== loop opts: bufs %u x %u, max_ops %u, sq %u cq %u, disable %#x; features %#x\n",
		M.opts.buf_count, M.opts.buf_size, M.opts.max_ops, M.opts.sq_entries,
		M.opts.cq_entries, M.opts.disable, M.features);
	fprintf(stderr, "==== last steps:\n");
	unsigned first = trace_n > TRACE_LINES ? trace_n - TRACE_LINES : 0;
	for (unsigned i = first; i < trace_n; i++)
		fprintf(stderr, "  %s\n", trace_ring[i % TRACE_LINES]);
	abort();
}

/* A known engine defect (a reproducer in fuzz/repro/): tolerated, so that the fuzzer looks
 * for new ones, unless FUZZ_ENGINE_STRICT is 1 or names it (a comma-separated list). */
static const char *strict_list;
bool is_strict(const char *name)
{
	return strict_list && (!strcmp(strict_list, "1") || strstr(strict_list, name));
}
bool known(const char *name)
{
	bool strict = is_strict(name);
	trace("  known defect: fuzz/repro/%s.c%s", name, strict ? " (strict: fail)" : "");
	return !strict;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* ---------------------------------------------------------------- the input */

struct rd {
	const uint8_t *p;
	size_t n, i;
};

static uint8_t u8(struct rd *r) { return r->i < r->n ? r->p[r->i++] : 0; }
static uint16_t u16(struct rd *r) { return (uint16_t)(u8(r) | (u8(r) << 8)); }
static bool more(const struct rd *r) { return r->i < r->n; }

/* ---------------------------------------------------------------- the program */

enum opcode {
	OP_PAIR,
	OP_RAW_PAIR,
	OP_TCP,
	OP_ACCEPT,
	OP_ACCEPT_STREAM,
	OP_SEND,
	OP_SENDALL,
	OP_SHUTDOWN,
	OP_RECV,
	OP_RECV_INTO,
	OP_RECV_STREAM,
	OP_RECVFROM,
	OP_RFSTREAM,
	OP_CLOSE,
	OP_FREE,
	OP_TIMEOUT,
	OP_SETOPT,
	OP_THEN,
	OP_AWAIT,
	OP_CANCEL,
	OP_DETACH,
	OP_FORGED,
	OP_RELEASE,
	OP_RELEASE_BAD,
	OP_RUN_NOWAIT,
	OP_RUN_ONCE,
	OP_STOP_RUN,
	OP_STALL,
	OP_RAW_SEND,
	OP_RAW_RECV,
	OP_RAW_SHUT,
	OP_RAW_RESET,
	OP_NOP,
	OP_SLEEP,
	OP_MAKEFILE,
	OP_FCLOSE,
	OP_END,
	OP__COUNT
};

static uint32_t send_size(uint8_t cls, uint16_t v, bool all, int type)
{
	static const uint32_t hi[] = { 16, 256, 1024, 4096, 16384, 65536, 262144, 1 };
	cls %= 8;
	if (type != SOCK_STREAM) {
		if (cls == 7)
			return 0;
		if (cls > 4)
			cls = 4;
	}
	if (cls == 7)
		return 1;
	if (cls == 6 && !all)
		cls = 5;
	return 1 + v % hi[cls];
}

static const uint32_t recv_sizes[] = { 1, 2, 7, 16, 64, 500, 4096, 65536 };
static const double timeouts[] = { -1, 0, 1e-9, 0.001, 0.002, 0.005, -1, 0.003 };
static const int recv_flags[] = { 0, 0, 0, 0, MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, 0 };

static bool step(struct rd *in)
{
	uint8_t op = u8(in) % OP__COUNT, a = u8(in), b = u8(in), how = u8(in);
	int ep;
	switch (op) {
	case OP_PAIR:
		new_socketpair(a);
		break;
	case OP_RAW_PAIR:
		new_raw_pair(a);
		break;
	case OP_TCP:
		new_tcp(a, how);
		break;
	case OP_ACCEPT:
	case OP_ACCEPT_STREAM:
		if ((ep = pick_ep(a, ok_listener)) < 0 && (ep = pick_ep(a, ok_engine)) < 0)
			break;
		{
			int kind = op == OP_ACCEPT ? RK_ACCEPT : RK_ACCEPT_STREAM;
			int ri = rec_new(kind, ep);
			if (ri < 0)
				break;
			struct ep *e = &M.ep[ep];
			int want = e->closing ? -EBADF : e->type == SOCK_DGRAM ? -EOPNOTSUPP : 0;
			if (kind == RK_ACCEPT) {
				if (started(ri, urs_accept(e->s), want))
					consume(ri, how);
			} else {
				M.rec[ri].script = (uint8_t)((how >> 2) % SC__COUNT);
				M.rec[ri].arg = (uint8_t)(how >> 1);
				M.rec[ri].early = true;
				if (started(ri, urs_accept_stream(e->s, on_result, user_of(ri)), want))
					M.rec[ri].st = ST_THEN;
			}
		}
		break;
	case OP_SEND:
	case OP_SENDALL:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		start_send(ep, how, op == OP_SEND ? RK_SEND : RK_SENDALL,
			   send_size(b, u16(in), op == OP_SENDALL, M.ep[ep].type),
			   (b & 0xc0) == 0xc0 ? MSG_DONTWAIT : 0);
		break;
	case OP_SHUTDOWN:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		{
			static const int hows[] = { SHUT_WR, SHUT_RD, SHUT_RDWR, SHUT_WR };
			int h = hows[b % 4];
			int ri = rec_new(RK_SHUTDOWN, ep);
			if (ri < 0)
				break;
			M.rec[ri].flags = h;
			M.rec[ri].tx_before = M.ep[ep].tx.n;
			if (h != SHUT_WR && M.ep[ep].peer >= 0)
				M.ep[M.ep[ep].peer].tx.check_end = false; /* data may follow an end */
			if (h != SHUT_WR)
				M.ep[ep].shut_rd = M.ep[ep].rcv_shut = true;
			if (h != SHUT_RD && M.ep[ep].peer >= 0)
				M.ep[M.ep[ep].peer].rcv_shut = true;
			if (started(ri, urs_shutdown(M.ep[ep].s, h), timeout_err(ep)))
				consume(ri, how);
		}
		break;
	case OP_RECV:
	case OP_RECV_INTO:
	case OP_RECVFROM:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		start_recv(ep, how,
			   op == OP_RECV ? RK_RECV : op == OP_RECV_INTO ? RK_RECV_INTO : RK_RECVFROM,
			   recv_sizes[b % 8], recv_flags[(b >> 3) % 8]);
		break;
	case OP_RECV_STREAM:
	case OP_RFSTREAM:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		start_recv(ep, how, op == OP_RECV_STREAM ? RK_RECV_STREAM : RK_RFSTREAM, 0, 0);
		break;
	case OP_CLOSE:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		{
			int ri = rec_new(RK_CLOSE, ep);
			if (ri < 0)
				break;
			int want = timeout_err(ep);
			M.ep[ep].closing = true;
			if (started(ri, urs_close(M.ep[ep].s), want))
				consume(ri, how);
		}
		break;
	case OP_FREE:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		if ((b & 1) && !M.ep[ep].closing) {
			struct linger lg = { 1, 0 };
			CHECK(urs_setsockopt(M.ep[ep].s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0,
			      "SO_LINGER failed");
			if (M.ep[ep].tcp)
				M.ep[ep].tx.check_end = false;
		}
		free_ep(ep, "program");
		break;
	case OP_TIMEOUT:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		{
			double t = timeouts[b % 8];
			int ret = urs_settimeout(M.ep[ep].s, t);
			trace("settimeout %s %g -> %d", M.ep[ep].name, t, ret);
			CHECK(ret == timeout_err(ep), "urs_settimeout = %d, want %d", ret, timeout_err(ep));
			if (!ret)
				M.ep[ep].timeout = t;
		}
		break;
	case OP_SETOPT:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		{
			int ret, v = 4096;
			struct linger lg = { 1, 0 };
			switch (b % 3) {
			case 0:
				ret = urs_setsockopt(M.ep[ep].s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				if (M.ep[ep].tcp)
					M.ep[ep].tx.check_end = false;
				break;
			case 1:
				ret = urs_setsockopt(M.ep[ep].s, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
				break;
			default:
				ret = urs_setsockopt(M.ep[ep].s, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
			}
			trace("setsockopt %s %d -> %d", M.ep[ep].name, b % 3, ret);
			CHECK(ret == timeout_err(ep), "urs_setsockopt = %d", ret);
		}
		break;
	case OP_THEN:
		if (M.nrec)
			then_rec(a % M.nrec, (uint8_t)(b % SC__COUNT), how);
		break;
	case OP_AWAIT:
		if (M.nrec) {
			struct rec *rc = &M.rec[a % M.nrec];
			if (rc->st == ST_OPEN) {
				rc->script = b & 1 ? SC_RELEASE : SC_HOLD;
				rc->arg = b;
			}
			await_rec(a % M.nrec);
		}
		break;
	case OP_CANCEL:
		if (M.nrec)
			do_cancel(a % M.nrec);
		break;
	case OP_DETACH:
		if (M.nrec)
			detach_rec(a % M.nrec);
		break;
	case OP_FORGED:
		forged_future(a);
		break;
	case OP_RELEASE:
		if (M.nheld)
			release_held(a % M.nheld);
		break;
	case OP_RELEASE_BAD:
		release_bad(a);
		break;
	case OP_RUN_NOWAIT: {
		int ret = urs_loop_run(M.loop, URS_RUN_NOWAIT);
		trace("run nowait -> %d", ret);
		CHECK(ret >= 0, "urs_loop_run(NOWAIT) = %d", ret);
		break;
	}
	case OP_RUN_ONCE:
		run_once(1 + a % 4);
		break;
	case OP_STOP_RUN: {
		urs_loop_stop(M.loop);
		int ret = urs_loop_run(M.loop, URS_RUN_UNTIL_IDLE);
		trace("stop + run until idle -> %d", ret);
		CHECK(ret >= 0, "urs_loop_run after urs_loop_stop = %d", ret);
		break;
	}
	case OP_STALL:
		stall_check(a);
		break;
	case OP_RAW_SEND:
		if ((ep = pick_ep(a, ok_raw)) < 0)
			break;
		{
			struct ep *e = &M.ep[ep];
			uint32_t idx, len = send_size(b, u16(in), false, SOCK_STREAM);
			const uint8_t *data = fz_dir_issue(&e->tx, len, &idx);
			if (!data)
				break;
			ssize_t n = send(e->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			trace("raw send %s %u -> %zd", e->name, len, n);
			fz_dir_sent(&e->tx, idx, n > 0 ? (uint32_t)n : 0, n < 0 ? -errno : 0);
		}
		break;
	case OP_RAW_RECV:
		if ((ep = pick_ep(a, ok_raw)) < 0)
			break;
		{
			struct ep *e = &M.ep[ep];
			size_t len = recv_sizes[b % 8];
			ssize_t n = recv(e->fd, rawbuf, len, MSG_DONTWAIT);
			int err = n < 0 ? errno : 0;
			trace("raw recv %s %zu -> %zd", e->name, len, n);
			struct fz_dir *d = rx_dir(ep);
			if (!d)
				break;
			if (n > 0)
				fz_dir_recv(d, rawbuf, (uint32_t)n, false, false, true);
			else if (n == 0)
				fz_dir_end(d, true);
			else if (err == ECONNRESET || err == EPIPE)
				d->check_end = false;
		}
		break;
	case OP_RAW_SHUT:
		if ((ep = pick_ep(a, ok_raw)) < 0)
			break;
		trace("raw shutdown(WR) %s", M.ep[ep].name);
		shutdown(M.ep[ep].fd, SHUT_WR);
		M.ep[M.ep[ep].peer].rcv_shut = true;
		break;
	case OP_RAW_RESET:
		if ((ep = pick_ep(a, ok_raw)) < 0)
			break;
		raw_reset(ep);
		break;
	case OP_NOP:
	case OP_SLEEP: {
		int ri = rec_new(op == OP_NOP ? RK_NOP : RK_SLEEP, -1);
		if (ri < 0)
			break;
		urs_future f = op == OP_NOP ? urs_nop(M.loop) : urs_sleep(M.loop, (a % 4) / 1000.0);
		if (started(ri, f, 0))
			consume(ri, how);
		break;
	}
	case OP_MAKEFILE:
		if ((ep = pick_ep(a, ok_engine)) < 0)
			break;
		for (int i = 0; i < MAX_FILES; i++)
			if (!M.file[i].f) {
				int err = 0;
				FILE *f = urs_makefile(M.ep[ep].s, "r+", &err);
				trace("makefile %s -> %p %d", M.ep[ep].name, (void *)f, err);
				CHECK(!f == (err != 0), "urs_makefile returned %p with %d", (void *)f, err);
				if (M.ep[ep].closing)
					CHECK(err == -EBADF, "urs_makefile on a closed socket: %d", err);
				else
					CHECK(f || err == -ENOMEM, "urs_makefile = %d", err);
				M.file[i].f = f;
				M.file[i].ep = ep;
				break;
			}
		break;
	case OP_FCLOSE: {
		int i = a % MAX_FILES;
		if (!M.file[i].f)
			break;
		/* Written data flushes at fclose: only where that cannot block (a closed socket). */
		int e = M.file[i].ep;
		bool write = (b & 1) && M.ep[e].closing;
		if (write)
			fputc('x', M.file[i].f);
		int ret = fclose(M.file[i].f);
		trace("fclose file %d of %s (wrote %d) -> %d", i, M.ep[e].name, write, ret);
		CHECK(ret == (write ? EOF : 0), "fclose = %d", ret);
		M.file[i].f = NULL;
		break;
	}
	case OP_END:
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------- endings */

static void close_raw(void)
{
	for (int i = 0; i < M.nep; i++)
		if (M.ep[i].raw && M.ep[i].fd >= 0) {
			close(M.ep[i].fd);
			M.ep[i].fd = -1;
		}
	if (M.raw_lfd >= 0)
		close(M.raw_lfd);
	M.raw_lfd = -1;
}

/* Every callback attached before the end ran exactly once (a freed socket's were dropped). */
static void check_all_resolved(const char *when)
{
	for (int i = 0; i < M.nrec; i++) {
		struct rec *rc = &M.rec[i];
		CHECK(rc->st != ST_THEN, "%s: %s #%d has a callback that never ran", when,
		      rk_name[rc->kind], i);
		CHECK(rc->finals <= 1, "%s #%d resolved %d times", rk_name[rc->kind], i, rc->finals);
	}
}

/* The loop goes with everything in flight: every callback runs (-ECANCELED), sockets the
 * user holds stay as husks answering -EBADF, a FILE on one still closes. */
static void end_teardown(uint8_t b)
{
	release_all();
	M.nstale = 0;
	for (int i = 0; i < MAX_FILES; i++)
		if (M.file[i].f && (b & 1)) {
			CHECK(fclose(M.file[i].f) == 0, "fclose before teardown failed");
			M.file[i].f = NULL;
		}
	trace("urs_loop_free with everything in flight");
	counts[CT_TEARDOWN]++;
	for (int i = 0; i < M.nep; i++)
		M.ep[i].closing = true; /* every socket closes at once */
	M.tearing = true;
	int ret = urs_loop_free(M.loop);
	M.tearing = false;
	CHECK(ret == 0, "urs_loop_free = %d", ret);
	M.loop = NULL;
	CHECK(M.nheld == 0, "buffers held after teardown");
	check_all_resolved("after urs_loop_free");
	for (int i = 0; i < M.nep; i++) {
		struct ep *e = &M.ep[i];
		if (e->raw || e->freed)
			continue;
		e->husk = true;
		urs_sock *s = e->s;
		urs_addr a;
		int r1 = urs_future_error(urs_send(s, "x", 1, 0)),
		    r2 = urs_future_error(urs_recv(s, 16, 0)), r3 = urs_future_error(urs_close(s)),
		    r4 = urs_settimeout(s, 1), r5 = urs_fileno(s), r6 = urs_getsockname(s, &a),
		    r7 = urs_future_error(urs_shutdown(s, SHUT_WR)),
		    r8 = urs_future_error(urs_accept(s));
		CHECK(r1 == -EBADF && r2 == -EBADF && r3 == -EBADF && r4 == -EBADF && r5 == -EBADF &&
			      r6 == -EBADF && r7 == -EBADF && r8 == -EBADF,
		      "husk %s answered %d %d %d %d %d %d %d %d, want -EBADF", e->name, r1, r2, r3, r4,
		      r5, r6, r7, r8);
		CHECK(urs_sock_type(s) == e->type, "husk lost its type");
		counts[CT_HUSK]++;
		if (b & 2) {
			urs_sock_free(s);
			e->freed = true;
		}
	}
	for (int i = 0; i < MAX_FILES; i++)
		if (M.file[i].f) {
			bool write = b & 4;
			if (write)
				fputc('y', M.file[i].f);
			int r = fclose(M.file[i].f);
			CHECK(r == (write ? EOF : 0), "fclose of a FILE that outlived its loop = %d", r);
			counts[CT_FILE_AFTER_LOOP]++;
			M.file[i].f = NULL;
		}
	for (int i = 0; i < M.nep; i++)
		if (!M.ep[i].raw && !M.ep[i].freed) {
			urs_sock_free(M.ep[i].s);
			M.ep[i].freed = true;
		}
}

/* Everything cancelled, every socket freed, every buffer back: the loop must go idle with
 * nothing left (the leak check every test ends with). */
static void end_drain(void)
{
	trace("drain: cancel all, free all, run until idle");
	counts[CT_DRAIN]++;
	for (int i = 0; i < M.nrec; i++)
		if (!resolved(&M.rec[i]))
			do_cancel(i);
	for (int i = 0; i < M.nrec; i++)
		if (M.rec[i].st == ST_OPEN)
			detach_rec(i);
	release_all();
	for (int i = 0; i < MAX_FILES; i++)
		if (M.file[i].f) {
			CHECK(fclose(M.file[i].f) == 0, "fclose failed");
			M.file[i].f = NULL;
		}
	int ret, nep;
	do { /* a callback of the drain may still hand over an accepted socket */
		nep = M.nep;
		for (int i = 0; i < M.nep; i++)
			if (live(i))
				free_ep(i, "drain");
		ret = urs_loop_run(M.loop, URS_RUN_UNTIL_IDLE);
		CHECK(ret >= 0, "urs_loop_run(UNTIL_IDLE) = %d", ret);
	} while (M.nep != nep);
	release_all();
	urs_loop_stats st;
	urs_loop_stats_get(M.loop, &st);
	CHECK(st.ops_in_use == 0 && st.bufs_lent == 0 && st.socks_open == 0 && st.socks_alive == 0,
	      "after the drain: ops_in_use %u bufs_lent %u socks_open %u socks_alive %u, want 0",
	      st.ops_in_use, st.bufs_lent, st.socks_open, st.socks_alive);
	check_all_resolved("after the drain");
	M.nstale = 0;
	M.tearing = true;
	ret = urs_loop_free(M.loop);
	M.tearing = false;
	CHECK(ret == 0, "urs_loop_free = %d", ret);
	M.loop = NULL;
}

/* ---------------------------------------------------------------- libFuzzer */

static void print_counts(void)
{
	counts[CT_END_CHECKED] = fz_model_ends;
	counts[CT_HOLE_SKIPPED] = fz_model_skips;
	fprintf(stderr, "fuzz_engine: what the inputs reached:\n");
	for (int i = 0; i < CT__COUNT; i++)
		fprintf(stderr, "  %-32s %lu\n", ct_name[i], counts[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (getenv("FUZZ_ENGINE_STATS") && *getenv("FUZZ_ENGINE_STATS") == '1')
		atexit(print_counts);
	M.trace = getenv("FUZZ_ENGINE_TRACE") && *getenv("FUZZ_ENGINE_TRACE") == '1';
	strict_list = getenv("FUZZ_ENGINE_STRICT");
	if (strict_list && !*strict_list)
		strict_list = NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd in = { data, size, 0 };
	if (size < 4)
		return 0;
	unsigned gen = M.gen + 1;
	bool tr = M.trace;
	memset(&M, 0, sizeof(M));
	M.gen = gen & 0xffff;
	M.trace = tr;
	M.listener = -1;
	M.raw_lfd = -1;
	trace_n = 0;

	uint8_t h0 = u8(&in), h1 = u8(&in), h2 = u8(&in), h3 = u8(&in);
	static const unsigned sizes[] = { 16, 64, 256, 1024, 4096, 64, 128, 4096 };
	static const unsigned sqs[] = { 2, 4, 8, 32 };
	M.opts.buf_count = 1u << (h0 % 5);
	M.opts.buf_size = sizes[(h0 >> 3) % 8];
	M.opts.max_ops = 4 + h1 % 61;
	M.opts.sq_entries = sqs[h3 % 4];
	M.opts.cq_entries = M.opts.sq_entries << ((h3 >> 2) % 3);
	unsigned dis = 0;
	if (h2 & 1)
		dis |= URS_FEAT_BUF_RING;
	if (h2 & 2)
		dis |= URS_FEAT_RECV_MULTI;
	if (h2 & 4)
		dis |= URS_FEAT_ACCEPT_MULTI;
	if (h2 & 8)
		dis |= URS_FEAT_SINGLE_ISSUER | URS_FEAT_DEFER_TASKRUN;
	if (h2 & 16)
		dis |= URS_FEAT_COOP_TASKRUN;
	if (h2 & 32)
		dis |= URS_FEAT_REG_RING_FD;
	if (h2 & 64)
		dis |= URS_FEAT_OP_SOCKET | URS_FEAT_OP_BIND | URS_FEAT_OP_LISTEN;
	/* h3's bits 0-3 size the rings; 4 and 5 turn off the receive features. */
	if (h3 & 16)
		dis |= URS_FEAT_BUF_INC;
	if (h3 & 32)
		dis |= URS_FEAT_RECV_BUNDLE;
	M.opts.disable = dis;
	if (h2 & 128) {
		M.opts.batch = 8;
		M.opts.batch_wait_us = 50;
	}

	M.fd_base = fd_count();
	int ret = urs_loop_new(&M.loop, &M.opts);
	if (ret < 0) {
		CHECK(ret == -ENOMEM || ret == -ENOSYS || ret == -EPERM, "urs_loop_new = %d", ret);
		return 0;
	}
	M.features = urs_loop_features(M.loop);
	counts[CT_INPUTS]++;
	trace("loop: bufs %u x %u, max_ops %u, sq %u cq %u, features %#x", M.opts.buf_count,
	      M.opts.buf_size, M.opts.max_ops, M.opts.sq_entries, M.opts.cq_entries, M.features);

	M.t_end = now_ms() + BUDGET_MS;
	bool go = true;
	for (M.step = 1; go && more(&in) && M.step <= MAX_STEPS && now_ms() < M.t_end; M.step++) {
		go = step(&in);
		check_stats();
	}
	if ((h3 >> 4) & 1)
		end_drain();
	else
		end_teardown(h3 >> 5);
	close_raw();
	for (int i = 0; i < MAX_FILES; i++)
		CHECK(!M.file[i].f, "a FILE left open");
	int fds = fd_count();
	CHECK(fds == M.fd_base, "%d fds open after the input, %d before", fds, M.fd_base);
	return 0;
}
