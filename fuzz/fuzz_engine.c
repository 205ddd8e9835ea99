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
 * Run: make fuzz-engine FUZZ_SECONDS=N. FUZZ_ENGINE_TRACE=1 prints each step of a replayed
 * input, FUZZ_ENGINE_STATS=1 how often the rare checks were reached. Known engine defects
 * (fuzz/repro/<name>.c) are steered around, so that the fuzzer looks for new ones, unless
 * FUZZ_ENGINE_STRICT is 1 (all) or names some (comma-separated). */
#define _GNU_SOURCE
#include "engine_model.h"
#include "ursock.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	MAX_EP = 16,
	MAX_REC = 384,
	MAX_HELD = 64,
	MAX_STALE = 32,
	MAX_FILES = 4,
	MAX_STEPS = 300,
	INTO_MAX = 4096,
	BUDGET_MS = 250, /* steps stop after this; the ending follows */
	SENTINEL = 0x5eed
};

/* ---------------------------------------------------------------- the model */

enum rkind {
	RK_NOP,
	RK_SLEEP,
	RK_GUARD, /* a timer whose callback cancels the future an await waits for */
	RK_CLOSE,
	RK_ACCEPT,
	RK_ACCEPT_STREAM,
	RK_CONNECT,
	RK_RECV,
	RK_RECV_INTO,
	RK_RECV_STREAM,
	RK_RECVFROM,
	RK_RFSTREAM,
	RK_SEND,
	RK_SENDALL,
	RK_SHUTDOWN
};
static const char *const rk_name[] = { "nop",     "sleep",       "guard",     "close",
				       "accept",  "accept_strm", "connect",   "recv",
				       "recv_into", "recv_strm", "recvfrom",  "rfrom_strm",
				       "send",    "sendall",     "shutdown" };

enum rstate {
	ST_FAILED,   /* failed at once */
	ST_OPEN,     /* started, no consumer yet */
	ST_THEN,     /* a callback is attached */
	ST_DETACHED, /* nobody consumes it */
	ST_DONE,     /* its resolution was seen (callback or await) */
	ST_DROPPED   /* its socket was freed before it resolved: no callback may run */
};
static const char *const st_name[] = { "failed", "open", "then", "detached", "done", "dropped" };

/* What a callback does, chosen when it is attached. */
enum script {
	SC_HOLD,         /* keep the buffers it gets */
	SC_RELEASE,      /* give them back at once */
	SC_FREE_OWN,     /* urs_sock_free its socket */
	SC_CANCEL_OTHER, /* urs_cancel another future */
	SC_CANCEL_SELF,  /* urs_cancel its own future (a stream, mid-stream) */
	SC_CLOSE_OWN,    /* urs_close its socket */
	SC_START,        /* start a receive or a send on its socket */
	SC_REENTER,      /* await, run and free the loop from inside: all -EDEADLK */
	SC_FREE_PEER,    /* free (or reset) the other end */
	SC_RELEASE_ALL,  /* give back every buffer held */
	SC_DETACH_OTHER, /* urs_detach another future */
	SC__COUNT
};

struct rec {
	urs_future f;
	uint8_t kind, st, script, arg;
	int ep;          /* its socket, -1 for none */
	int target;      /* guard: the record it cancels */
	uint32_t tx;     /* send: its index in the socket's direction */
	uint32_t len;
	int flags;       /* msg flags; shutdown: how */
	bool timed;      /* the socket's timeout (or non-blocking mode) bounds it */
	bool cancelled;  /* urs_cancel answered 0 */
	bool early;      /* the callback was attached as it started */
	bool sync;       /* it may resolve inside the call that starts it */
	bool late_free;  /* attached after urs_sock_free of its socket */
	bool maybe_cb;   /* dropped, but its callback may still run (a known defect) */
	bool awaiting;   /* urs_await is waiting for it (further down the stack) */
	bool solo;       /* a receive no other receive on its socket overlapped */
	bool must_whole; /* a send before a shutdown(SHUT_WR) that succeeded: whole or nothing */
	bool starved;    /* a receive started while the harness held every buffer */
	uint32_t tx_before; /* shutdown: the sends issued before it */
	bool script_done;
	int finals, events;
};

struct ep {
	bool raw;      /* a plain fd the harness drives itself */
	bool listener;
	bool tcp;
	urs_sock *s;
	int fd;        /* raw: its fd, -1 once closed */
	int type;
	int peer;      /* the other end, -1 when unknown */
	uint16_t port; /* TCP: the local port, to pair an accepted socket with its client */
	bool freed;    /* urs_sock_free called: the pointer is never used again */
	bool closing;  /* a close started: every new call answers -EBADF */
	bool close_cb; /* its close callback ran */
	bool husk;     /* the loop is gone */
	double timeout;
	int rx_out;    /* receives on it whose results the model has not seen */
	bool shut_rd;  /* shutdown(SHUT_RD or SHUT_RDWR) was asked */
	bool rcv_shut; /* its read side is shut (its own SHUT_RD or the peer's SHUT_WR) */
	int files;
	struct fz_dir tx; /* what it sends */
	char name[40];
};

struct held {
	urs_buf b;
	uint64_t sum;
};

static struct {
	urs_loop *loop;
	urs_loop_opts opts;
	unsigned features;
	unsigned gen;
	struct ep ep[MAX_EP];
	int nep;
	struct rec rec[MAX_REC];
	int nrec;
	struct held held[MAX_HELD];
	int nheld;
	urs_buf stale[MAX_STALE];
	int nstale;
	struct {
		FILE *f;
		int ep;
		bool wrote;
	} file[MAX_FILES];
	int listener;        /* the engine's TCP listener, -1 none */
	urs_addr laddr;
	int raw_lfd;         /* a plain TCP listener for plain-fd peers */
	struct sockaddr_in raw_laddr;
	int depth;           /* > 0 inside a callback */
	bool tearing;        /* inside urs_loop_free */
	int step;
	int64_t t_end;
	int fd_base;
	bool trace;
} M;

/* What the inputs reached (FUZZ_ENGINE_STATS=1 prints it at exit): the checks that need a
 * rare state, to see that the corpus gets there. */
enum {
	CT_INPUTS,
	CT_STALL_AWAIT,
	CT_STALL_RUN,
	CT_GUARD_CANCEL,
	CT_STALE_RELEASE,
	CT_TEARDOWN,
	CT_DRAIN,
	CT_HUSK,
	CT_FILE_AFTER_LOOP,
	CT_END_CHECKED,
	CT_HOLE_SKIPPED,
	CT_ACCEPTED,
	CT_REENTER,
	CT_FREE_IN_CB,
	CT__COUNT
};
static const char *const ct_name[] = { "inputs", "stall: await -ENOBUFS", "stall: run -ENOBUFS",
				       "guard timer cancelled an await", "stale view refused",
				       "teardown in flight", "graceful drain", "husk checked",
				       "FILE closed after its loop", "stream end checked",
				       "short send skipped (settled)", "accepted socket",
				       "re-entry refused", "socket freed in a callback" };
static unsigned long counts[CT__COUNT];

static uint8_t arenas[MAX_EP][FZ_ARENA];
static uint8_t pools[MAX_EP][FZ_POOL_BYTES];
static uint8_t into[MAX_REC][INTO_MAX];
static uint8_t rawbuf[1 << 16];

/* ---------------------------------------------------------------- reporting */

enum { TRACE_LINES = 96, TRACE_LEN = 200 };
static char trace_ring[TRACE_LINES][TRACE_LEN];
static unsigned trace_n;

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
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
static bool is_strict(const char *name)
{
	return strict_list && (!strcmp(strict_list, "1") || strstr(strict_list, name));
}
static bool known(const char *name)
{
	bool strict = is_strict(name);
	trace("  known defect: fuzz/repro/%s.c%s", name, strict ? " (strict: fail)" : "");
	return !strict;
}

#define CHECK(cond, ...)                    \
	do {                                \
		if (!(cond))                \
			fz_fail(__VA_ARGS__); \
	} while (0)

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

/* ---------------------------------------------------------------- buffers */

static uint64_t sum_of(const urs_buf *b)
{
	uint64_t h = 1469598103934665603ull ^ b->len;
	for (uint32_t i = 0; i < b->len; i++)
		h = (h ^ (uint8_t)b->data[i]) * 1099511628211ull;
	return h;
}

static void stale_add(const urs_buf *copy)
{
	M.stale[M.nstale < MAX_STALE ? M.nstale++ : (int)(trace_n % MAX_STALE)] = *copy;
}

/* Gives a view back: it must be taken (0) and leave nothing behind in the view. */
static void release_view(urs_buf *b, const char *why)
{
	urs_buf copy = *b;
	int ret = urs_buf_release(b);
	CHECK(ret == 0, "urs_buf_release(id %u gen %u, %s) = %d, want 0", copy.id, copy.gen, why, ret);
	CHECK(b->id == URS_BUF_NONE, "a released view still names buffer %u", b->id);
	stale_add(&copy);
}

/* A receive's buffer: held (to starve the loop) or given back. */
static void take_buf(urs_buf *b, bool hold)
{
	if (b->id == URS_BUF_NONE) {
		CHECK(b->len == 0, "a view with no buffer has %u bytes", b->len);
		return;
	}
	CHECK(b->loop == M.loop, "a view names another loop");
	CHECK(M.opts.buf_size == 0 || b->len <= M.opts.buf_size, "a view of %u bytes in %u-byte buffers",
	      b->len, M.opts.buf_size);
	if (hold && !M.tearing && M.nheld < MAX_HELD) {
		M.held[M.nheld].b = *b;
		M.held[M.nheld].sum = sum_of(b);
		M.nheld++;
		trace("  hold buf %u gen %u (%u bytes), %d held", b->id, b->gen, b->len, M.nheld);
		b->id = URS_BUF_NONE; /* the table holds it now */
		b->len = 0;
		return;
	}
	release_view(b, "at once");
}

static void release_held(int i)
{
	struct held h = M.held[i];
	M.held[i] = M.held[--M.nheld];
	CHECK(sum_of(&h.b) == h.sum, "buffer %u changed while the user held it (gen %u, %u bytes)",
	      h.b.id, h.b.gen, h.b.len);
	trace("release buf %u gen %u", h.b.id, h.b.gen);
	release_view(&h.b, "held");
}

static void release_all(void)
{
	while (M.nheld)
		release_held(M.nheld - 1);
}

/* ---------------------------------------------------------------- records */

static void on_result(urs_result *r, void *user);
static void do_cancel(int ri);
static void do_detach(int ri);

static void *user_of(int ri) { return (void *)(uintptr_t)(((uintptr_t)M.gen << 16) | (unsigned)ri); }

static bool is_recv(int kind)
{
	return kind == RK_RECV || kind == RK_RECV_INTO || kind == RK_RECV_STREAM ||
	       kind == RK_RECVFROM || kind == RK_RFSTREAM;
}
static bool is_stream(int kind)
{
	return kind == RK_RECV_STREAM || kind == RK_RFSTREAM || kind == RK_ACCEPT_STREAM;
}
static bool resolved(const struct rec *rc) { return rc->st == ST_FAILED || rc->st == ST_DONE; }

static int rec_new(int kind, int ep)
{
	if (M.nrec >= MAX_REC)
		return -1;
	int ri = M.nrec++;
	struct rec *rc = &M.rec[ri];
	memset(rc, 0, sizeof(*rc));
	rc->kind = (uint8_t)kind;
	rc->ep = ep;
	rc->target = -1;
	if (ep >= 0) {
		struct ep *e = &M.ep[ep];
		/* Bounded by the socket's timeout: the kinds that honour it. */
		bool honours = kind == RK_RECV || kind == RK_RECV_INTO || kind == RK_RECVFROM ||
			       kind == RK_SEND || kind == RK_SENDALL || kind == RK_CONNECT ||
			       kind == RK_ACCEPT || kind == RK_RECV_STREAM || kind == RK_RFSTREAM;
		rc->timed = honours && e->timeout >= 0;
		rc->sync = (honours && e->timeout >= 0 && e->timeout < 1e-6) || kind == RK_SHUTDOWN;
	}
	return ri;
}

/* The peer's direction, i.e. what a receive on ep reads, or NULL when not modelled. */
static struct fz_dir *rx_dir(int ep)
{
	int p = M.ep[ep].peer;
	return p >= 0 ? &M.ep[p].tx : NULL;
}

/* A receive on ep will never be seen: bytes it took are lost to the model. */
static void rx_lost(int ep)
{
	struct fz_dir *d = rx_dir(ep);
	if (d && !d->lossy) {
		trace("  %s: a receive goes unseen, stop checking that direction", d->name);
		fz_dir_lossy(d);
	}
}

static void rx_done(int ep)
{
	struct ep *e = &M.ep[ep];
	CHECK(e->rx_out > 0, "receive count of %s went below zero", e->name);
	if (--e->rx_out == 0 && rx_dir(ep))
		fz_dir_settled(rx_dir(ep));
}

/* ---------------------------------------------------------------- endpoints */

static int ep_new(bool raw, int type, bool tcp, urs_sock *s, int fd)
{
	if (M.nep >= MAX_EP)
		return -1;
	int i = M.nep++;
	struct ep *e = &M.ep[i];
	memset(e, 0, sizeof(*e));
	e->raw = raw;
	e->type = type;
	e->tcp = tcp;
	e->s = s;
	e->fd = fd;
	e->peer = -1;
	e->timeout = -1;
	snprintf(e->name, sizeof(e->name), "%s%d(%s)", raw ? "raw" : "ep", i,
		 tcp ? "tcp" : type == SOCK_STREAM ? "ustream" : type == SOCK_DGRAM ? "udgram" : "useq");
	bool msgs = type != SOCK_STREAM;
	fz_dir_init(&e->tx, e->name, msgs, type == SOCK_SEQPACKET, (uint8_t)(i * 37 + 11), arenas[i],
		    pools[i]);
	return i;
}

static void pair(int a, int b)
{
	M.ep[a].peer = b;
	M.ep[b].peer = a;
}

/* The engine socket of ep, or NULL when the harness must not touch it. */
static urs_sock *live(int ep)
{
	if (ep < 0)
		return NULL;
	struct ep *e = &M.ep[ep];
	return !e->raw && !e->freed && !e->husk ? e->s : NULL;
}

static int pick_ep(uint8_t b, bool (*ok)(const struct ep *))
{
	for (int k = 0; k < M.nep; k++) {
		int i = (b + k) % M.nep;
		if (ok(&M.ep[i]))
			return i;
	}
	return -1;
}
static bool ok_engine(const struct ep *e) { return !e->raw && !e->freed && !e->husk; }
static bool ok_raw(const struct ep *e) { return e->raw && e->fd >= 0; }
static bool ok_listener(const struct ep *e) { return ok_engine(e) && e->listener; }

/* urs_sock_free: no callback of its ops may run after this (except the close's). */
static void free_ep(int ep, const char *why)
{
	struct ep *e = &M.ep[ep];
	trace("free %s (%s)", e->name, why);
	if (M.depth)
		counts[CT_FREE_IN_CB]++;
	e->freed = true;
	e->closing = true;
	for (int i = 0; i < M.nrec; i++) {
		struct rec *rc = &M.rec[i];
		if (rc->ep != ep)
			continue;
		if ((rc->kind == RK_SEND || rc->kind == RK_SENDALL) && !resolved(rc) && e->tcp)
			e->tx.check_end = false;
		if (rc->st == ST_THEN && rc->kind != RK_CLOSE) {
			rc->st = ST_DROPPED;
			/* Attached after it resolved (maybe inside the call that started it): the free
			 * cannot find it any more. */
			rc->maybe_cb = (!rc->early || rc->sync) && !is_stream(rc->kind) &&
				       !is_strict("then_resolved_then_free");
			if (is_recv(rc->kind))
				rx_lost(ep);
		}
	}
	if (e->rx_out)
		rx_lost(ep);
	urs_sock_free(e->s);
}

/* A socket object the engine handed over (accept): pair it with its client by port. */
static void adopt_accepted(urs_sock *s, bool free_it)
{
	int i = free_it ? -1 : ep_new(false, SOCK_STREAM, true, s, -1);
	if (i < 0) {
		trace("  accepted socket: freed at once");
		urs_sock_free(s);
		return;
	}
	urs_addr pa;
	if (urs_getpeername(s, &pa) == 0) {
		int port = urs_addr_port(&pa);
		for (int k = 0; k < M.nep; k++)
			if (k != i && M.ep[k].tcp && !M.ep[k].listener && M.ep[k].peer < 0 &&
			    M.ep[k].port == port && !M.ep[k].raw)
				pair(i, k);
	}
	trace("  accepted %s, peer %d", M.ep[i].name, M.ep[i].peer);
	counts[CT_ACCEPTED]++;
}

/* ---------------------------------------------------------------- starting ops */

static bool allowed_start_error(int err)
{
	return err == -EBUSY || err == -ENOMEM || (M.tearing && (err == -ECANCELED || err == -EBADF));
}

/* Records f for ri: want is the error the model says the call must fail with, 0 for none. */
static bool started(int ri, urs_future f, int want)
{
	struct rec *rc = &M.rec[ri];
	rc->f = f;
	int err = urs_future_error(f);
	trace("%s #%d on %s len %u flags %#x -> %s%d", rk_name[rc->kind], ri,
	      rc->ep >= 0 ? M.ep[rc->ep].name : "loop", rc->len, rc->flags, err ? "error " : "live gen ",
	      err ? err : f.gen);
	if (err) {
		rc->st = ST_FAILED;
		if (want)
			CHECK(err == want || allowed_start_error(err), "%s #%d failed at once with %d, want %d",
			      rk_name[rc->kind], ri, err, want);
		else
			CHECK(allowed_start_error(err), "%s #%d failed at once with %d", rk_name[rc->kind], ri,
			      err);
		if (rc->kind == RK_SEND || rc->kind == RK_SENDALL)
			fz_dir_sent(&M.ep[rc->ep].tx, rc->tx, 0, err);
		return false;
	}
	CHECK(!want, "%s #%d started though the model expected %d", rk_name[rc->kind], ri, want);
	CHECK(f.loop == M.loop && f.gen > 0, "a live future with gen %d", f.gen);
	for (int i = 0; i < ri; i++)
		CHECK(resolved(&M.rec[i]) || M.rec[i].f.idx != f.idx || M.rec[i].st == ST_DETACHED ||
			      M.rec[i].st == ST_DROPPED,
		      "#%d got the op slot %u of #%d, which is not known resolved (%s)", ri, f.idx, i,
		      st_name[M.rec[i].st]);
	rc->st = ST_OPEN;
	if (rc->ep >= 0 && is_recv(rc->kind)) {
		urs_loop_stats st;
		urs_loop_stats_get(M.loop, &st);
		rc->starved = st.bufs_lent == st.bufs_total;
		rc->solo = M.ep[rc->ep].rx_out == 0;
		bool waitall = rc->flags & MSG_WAITALL;
		if (!rc->solo)
			for (int i = 0; i < ri; i++)
				if (M.rec[i].ep == rc->ep && is_recv(M.rec[i].kind) && !resolved(&M.rec[i])) {
					M.rec[i].solo = false;
					waitall |= M.rec[i].flags & MSG_WAITALL;
				}
		/* A MSG_WAITALL receive that got part of its bytes waits on while others take the
		 * next ones: its result is not one piece of the stream (as with recv(2) in two
		 * threads). */
		if (!rc->solo && waitall)
			rx_lost(rc->ep);
		M.ep[rc->ep].rx_out++;
	}
	return true;
}

static void await_rec(int ri);
static void then_rec(int ri, uint8_t script, uint8_t arg);
static void detach_rec(int ri);

/* What the program does with a future it just started. */
static void consume(int ri, uint8_t how)
{
	struct rec *rc = &M.rec[ri];
	if (rc->st != ST_OPEN || is_stream(rc->kind))
		return;
	switch (how & 3) {
	case 0:
		break;
	case 1:
		then_rec(ri, (uint8_t)((how >> 2) % SC__COUNT), (uint8_t)(how >> 1));
		rc->early = true;
		break;
	case 2:
		rc->script = how & 4 ? SC_RELEASE : SC_HOLD;
		rc->arg = how;
		await_rec(ri);
		break;
	case 3:
		detach_rec(ri);
		break;
	}
}

/* ---------------------------------------------------------------- results */

static void check_buf_res(const struct rec *rc, const urs_result *r)
{
	if (r->res > 0 && rc->kind != RK_RECV_INTO)
		CHECK(r->buf.id != URS_BUF_NONE && r->buf.len == (uint32_t)r->res,
		      "%s result %d with a view of %u bytes (id %u)", rk_name[rc->kind], r->res, r->buf.len,
		      r->buf.id);
	if (r->res <= 0)
		CHECK(r->buf.len == 0, "%s result %d with %u bytes", rk_name[rc->kind], r->res, r->buf.len);
}

/* Received bytes (or an end) for the model: res is the result, data its bytes. */
static void got_data(struct rec *rc, int ri, const urs_result *r, const uint8_t *data,
		     bool settled, bool stream_final)
{
	struct ep *e = &M.ep[rc->ep];
	struct fz_dir *d = rx_dir(rc->ep);
	bool trunc = r->flags & URS_RES_TRUNC;
	bool peek = rc->flags & MSG_PEEK;
	if (e->type == SOCK_STREAM && trunc)
		fz_fail("%s #%d on a stream socket flagged truncated", rk_name[rc->kind], ri);
	if (r->res < 0) {
		if ((r->res == -ECONNRESET || r->res == -EPIPE) && d && e->tcp)
			d->check_end = false;
		if (r->res == -EMSGSIZE && d)
			rx_lost(rc->ep); /* a message the engine could not lay out: gone, but said so */
		return;
	}
	if (!d)
		return;
	uint32_t len = (uint32_t)r->res;
	bool end = len == 0 && !trunc && e->type != SOCK_DGRAM; /* a peeked end is an end too */
	if (stream_final && !end)
		return; /* a stream's final result carries no message */
	if (len == 0 && e->type == SOCK_DGRAM && e->shut_rd && known("dgram_shut_rd_spin"))
		return;
	if (end) {
		trace("  end of %s (settled %d)", d->name, settled);
		fz_dir_end(d, settled);
		return;
	}
	/* A peek saw the bytes at the cursor of its own time: only known when no other receive
	 * overlapped it. */
	fz_dir_recv(d, data, len, trunc, peek, peek ? rc->solo : settled);
}

/* A result seen (callback or await); event: a stream's URS_RES_MORE event. */
static void observe(int ri, urs_result *r, bool event)
{
	struct rec *rc = &M.rec[ri];
	struct ep *e = rc->ep >= 0 ? &M.ep[rc->ep] : NULL;
	bool hold = rc->script == SC_HOLD && !(rc->arg & 0x80);
	trace("  %s #%d %s res %d flags %#x%s", rk_name[rc->kind], ri, event ? "event" : "resolves",
	      r->res, r->flags, r->buf.id != URS_BUF_NONE ? " +buf" : "");
	CHECK(event == ((r->flags & URS_RES_MORE) != 0), "%s #%d: MORE flag %d on a %s",
	      rk_name[rc->kind], ri, !!(r->flags & URS_RES_MORE), event ? "stream event" : "resolution");
	/* Settled: no receive on that socket outstanding but this one (a stream's own events come
	 * in the kernel's order), so nothing received before can still show up. */
	bool settled = e && is_recv(rc->kind) && e->rx_out == 1;
	switch (rc->kind) {
	case RK_NOP:
		CHECK(r->res == 0 || r->res == -ECANCELED, "nop resolved %d", r->res);
		break;
	case RK_SLEEP:
	case RK_GUARD:
		CHECK(r->res == 0 || r->res == -ECANCELED, "sleep resolved %d", r->res);
		break;
	case RK_CLOSE:
		CHECK(r->res == 0, "close #%d resolved %d: a close always resolves 0", ri, r->res);
		break;
	case RK_CONNECT:
		CHECK(r->res <= 0, "connect resolved %d", r->res);
		break;
	case RK_SHUTDOWN:
		CHECK(r->res <= 0, "shutdown resolved %d", r->res);
		/* The FIN follows every byte queued before it: a send before a shutdown(SHUT_WR)
		 * that succeeded went whole, or never started (cancelled or timed out in the
		 * queue). A send cut short tears the socket and the shutdown answers -EPIPE. */
		if (r->res == 0 && rc->flags != SHUT_RD)
			for (int i = 0; i < M.nrec; i++) {
				struct rec *s = &M.rec[i];
				if (s->ep != rc->ep || (s->kind != RK_SEND && s->kind != RK_SENDALL) ||
				    s->st == ST_FAILED || s->tx >= rc->tx_before)
					continue;
				if (s->st == ST_DONE) {
					uint32_t sent = e->tx.op[s->tx].d >= 0 ? (uint32_t)e->tx.op[s->tx].d : 0;
					CHECK(sent == 0 || sent == s->len,
					      "shutdown #%d succeeded after %s #%d sent %u of %u bytes (the "
					      "FIN must follow every queued byte)",
					      ri, rk_name[s->kind], i, sent, s->len);
				} else {
					s->must_whole = true;
				}
			}
		break;
	case RK_ACCEPT:
	case RK_ACCEPT_STREAM:
		CHECK((r->res == 0) == (r->sock != NULL) || (event && r->res < 0 && !r->sock),
		      "accept result %d with socket %p", r->res, (void *)r->sock);
		CHECK(!r->sock || r->addr.len > 0 || event, "accepted socket with no address");
		if (r->sock)
			adopt_accepted(r->sock, rc->script == SC_RELEASE && event);
		r->sock = NULL;
		if (!event && rc->kind == RK_ACCEPT_STREAM)
			CHECK(r->res < 0, "accept stream ended with %d", r->res);
		break;
	case RK_SEND:
	case RK_SENDALL: {
		uint32_t sent;
		if (rc->kind == RK_SEND) {
			CHECK(r->res <= (int)rc->len, "send of %u resolved %d", rc->len, r->res);
			sent = r->res > 0 ? (uint32_t)r->res : 0;
		} else {
			CHECK(r->res <= 0, "sendall resolved %d", r->res);
			CHECK(r->sent <= rc->len, "sendall of %u says %zu sent", rc->len, r->sent);
			CHECK(r->res < 0 || r->sent == rc->len, "sendall of %u resolved 0 with %zu sent",
			      rc->len, r->sent);
			sent = (uint32_t)r->sent;
		}
		if (e->type != SOCK_STREAM && r->res >= 0 && sent == 0 && rc->len)
			fz_fail("a message send of %u bytes resolved %d", rc->len, r->res);
		if ((r->res == -ECONNRESET || r->res == -EPIPE) && e->tcp && e->peer >= 0)
			M.ep[e->peer].tx.check_end = false;
		if (e->tcp && sent < rc->len)
			e->tx.check_end = false; /* torn: its close resets, bytes in flight may go */
		CHECK(!rc->must_whole || sent == 0 || sent == rc->len,
		      "%s #%d sent %u of %u bytes, but a shutdown(SHUT_WR) after it succeeded (the FIN "
		      "must follow every queued byte)",
		      rk_name[rc->kind], ri, sent, rc->len);
		fz_dir_sent(&e->tx, rc->tx, sent, r->res < 0 ? r->res : 0);
		break;
	}
	case RK_RECV:
	case RK_RECVFROM:
	case RK_RECV_STREAM:
	case RK_RFSTREAM: {
		check_buf_res(rc, r);
		/* An end is the stream's final result, never an event. */
		if (event && r->res == 0 && !(r->flags & URS_RES_TRUNC) && e->type != SOCK_DGRAM) {
			CHECK(known("seqpacket_end_as_event"),
			      "%s #%d: an event with 0 bytes on a %s socket (an end must end the stream)",
			      rk_name[rc->kind], ri, e->type == SOCK_STREAM ? "stream" : "seqpacket");
		}
		got_data(rc, ri, r, (const uint8_t *)r->buf.data, settled, !event && is_stream(rc->kind));
		if (!event)
			rx_done(rc->ep);
		take_buf(&r->buf, hold);
		break;
	}
	case RK_RECV_INTO:
		CHECK(r->res <= (int)rc->len, "recv_into of %u resolved %d", rc->len, r->res);
		got_data(rc, ri, r, into[ri], settled, false);
		rx_done(rc->ep);
		break;
	}
	CHECK(r->buf.id == URS_BUF_NONE, "%s result carries a buffer (id %u)", rk_name[rc->kind],
	      r->buf.id);
}

/* ---------------------------------------------------------------- scripts */

static void start_recv(int ep, uint8_t how, int kind, uint32_t size, int flags);
static void start_send(int ep, uint8_t how, int kind, uint32_t size, int flags);
static void raw_reset(int ep);

static void run_script(int ri, bool event)
{
	struct rec *rc = &M.rec[ri];
	rc->script_done = true;
	int ep = rc->ep;
	int other = M.nrec ? rc->arg % M.nrec : -1;
	/* A stream's event callback that ends that stream (cancel, free or close of its socket)
	 * resolves it twice when the event came through the op's completion step. */
	if (event && (rc->script == SC_CANCEL_SELF || rc->script == SC_FREE_OWN ||
		      rc->script == SC_CLOSE_OWN || (rc->script == SC_CANCEL_OTHER && other == ri)) &&
	    known("stream_cancel_in_event"))
		return;
	switch (rc->script) {
	case SC_HOLD:
	case SC_RELEASE:
		break;
	case SC_FREE_OWN:
		if (live(ep))
			free_ep(ep, "its own callback");
		break;
	case SC_CANCEL_OTHER:
		if (other >= 0)
			do_cancel(other);
		break;
	case SC_CANCEL_SELF:
		do_cancel(ri);
		break;
	case SC_CLOSE_OWN:
		if (live(ep)) {
			int ci = rec_new(RK_CLOSE, ep);
			if (ci >= 0) {
				bool was = M.ep[ep].closing;
				M.ep[ep].closing = true;
				if (started(ci, urs_close(M.ep[ep].s), was ? -EBADF : 0)) {
					then_rec(ci, SC_HOLD, 0);
					M.rec[ci].early = true;
				}
			}
		}
		break;
	case SC_START:
		if (live(ep) && !M.ep[ep].listener) {
			if (rc->arg & 1)
				start_send(ep, 1 | (SC_RELEASE << 2), RK_SEND, 1 + rc->arg % 64, 0);
			else
				start_recv(ep, 1 | (SC_RELEASE << 2), RK_RECV, 64, 0);
		}
		break;
	case SC_REENTER: {
		urs_result out;
		for (int i = 0; i < M.nrec; i++)
			if (M.rec[i].st == ST_OPEN && !M.rec[i].awaiting) {
				int ret = urs_await(M.rec[i].f, &out);
				CHECK(ret == -EDEADLK, "urs_await inside a callback = %d, want -EDEADLK", ret);
				break;
			}
		int ret = urs_loop_run(M.loop, URS_RUN_NOWAIT);
		CHECK(ret == -EDEADLK, "urs_loop_run inside a callback = %d", ret);
		ret = urs_loop_free(M.loop);
		CHECK(ret == -EDEADLK, "urs_loop_free inside a callback = %d", ret);
		counts[CT_REENTER]++;
		break;
	}
	case SC_FREE_PEER: {
		int p = ep >= 0 ? M.ep[ep].peer : -1;
		if (p < 0)
			break;
		if (M.ep[p].raw) {
			if (M.ep[p].fd >= 0)
				raw_reset(p);
		} else if (live(p)) {
			if (rc->arg & 1) {
				struct linger lg = { 1, 0 };
				int ret = urs_setsockopt(M.ep[p].s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
				CHECK(ret == 0 || (M.ep[p].closing && ret == -EBADF), "SO_LINGER = %d", ret);
				if (M.ep[p].tcp)
					M.ep[p].tx.check_end = false;
			}
			free_ep(p, "a callback of its peer");
		}
		break;
	}
	case SC_RELEASE_ALL:
		release_all();
		break;
	case SC_DETACH_OTHER:
		if (other >= 0)
			do_detach(other);
		break;
	}
}

static void on_result(urs_result *r, void *user)
{
	uintptr_t u = (uintptr_t)user;
	int ri = (int)(u & 0xffff);
	CHECK((u >> 16) == M.gen && ri < M.nrec, "a callback with user %#lx from another input",
	      (unsigned long)u);
	struct rec *rc = &M.rec[ri];
	bool event = is_stream(rc->kind) && (r->flags & URS_RES_MORE);
	M.depth++;
	bool defect = (rc->st == ST_DROPPED && rc->maybe_cb) || rc->late_free;
	if (defect)
		CHECK(known("then_resolved_then_free"), "callback of %s #%d after urs_sock_free",
		      rk_name[rc->kind], ri);
	CHECK(rc->st == ST_THEN || defect, "callback (res %d flags %#x) of %s #%d, which is %s%s", r->res,
	      r->flags, rk_name[rc->kind], ri, st_name[rc->st],
	      rc->st == ST_DROPPED ? " (its socket was freed: no callback may run)" : "");
	CHECK(rc->finals == 0, "%s #%d resolved twice", rk_name[rc->kind], ri);
	if (rc->ep >= 0) {
		struct ep *e = &M.ep[rc->ep];
		CHECK(!e->freed || rc->kind == RK_CLOSE || defect,
		      "callback of %s #%d after urs_sock_free of %s%s", rk_name[rc->kind], ri, e->name,
		      rc->late_free ? " (attached after the free)" : "");
		CHECK(!e->close_cb || !rc->early, "callback of %s #%d after the close callback of %s",
		      rk_name[rc->kind], ri, e->name);
		if (rc->kind == RK_CLOSE && !event) {
			for (int i = 0; i < M.nrec; i++) {
				struct rec *o = &M.rec[i];
				CHECK(i == ri || o->ep != rc->ep || o->st != ST_THEN || !o->early ||
					      o->kind == RK_CLOSE,
				      "close callback of %s ran before the callback of %s #%d", e->name,
				      rk_name[o->kind], i);
			}
			e->close_cb = true;
		}
	}
	if (event) {
		rc->events++;
	} else {
		rc->finals++;
		rc->st = ST_DONE;
	}
	observe(ri, r, event);
	if (!rc->script_done && (!event || rc->events == (rc->arg & 3) + 1))
		run_script(ri, event);
	if (rc->kind == RK_GUARD && !event && rc->target >= 0) {
		struct rec *t = &M.rec[rc->target];
		if (!resolved(t)) {
			trace("  guard cancels #%d", rc->target);
			do_cancel(rc->target);
			counts[CT_GUARD_CANCEL]++;
		}
	}
	M.depth--;
}

/* ---------------------------------------------------------------- consumers */

/* The return of then/await/detach/cancel on a record that is not ST_OPEN. */
static void check_consumer_ret(int ri, int ret, const char *call)
{
	struct rec *rc = &M.rec[ri];
	switch (rc->st) {
	case ST_FAILED:
		CHECK(ret == rc->f.gen, "%s on failed #%d = %d, want %d", call, ri, ret, rc->f.gen);
		break;
	case ST_DONE:
		CHECK(ret == -EINVAL, "%s on consumed #%d = %d, want -EINVAL (stale)", call, ri, ret);
		break;
	case ST_THEN:
		CHECK(ret == -EALREADY, "%s on #%d with a callback = %d, want -EALREADY", call, ri, ret);
		break;
	case ST_DETACHED:
	case ST_DROPPED:
		CHECK(ret == -EALREADY || ret == -EINVAL, "%s on detached #%d = %d", call, ri, ret);
		break;
	}
}

static void then_rec(int ri, uint8_t script, uint8_t arg)
{
	struct rec *rc = &M.rec[ri];
	int ret = urs_then(rc->f, on_result, user_of(ri));
	trace("then #%d script %d arg %d -> %d", ri, script, arg, ret);
	if (rc->awaiting) {
		CHECK(ret == -EALREADY, "urs_then on a future being awaited = %d", ret);
		return;
	}
	if (rc->st != ST_OPEN) {
		check_consumer_ret(ri, ret, "urs_then");
		return;
	}
	CHECK(ret == 0, "urs_then on open #%d = %d", ri, ret);
	rc->st = ST_THEN;
	rc->script = script;
	rc->arg = arg;
	rc->late_free = rc->ep >= 0 && M.ep[rc->ep].freed;
}

static void detach_rec(int ri)
{
	struct rec *rc = &M.rec[ri];
	int ret = urs_detach(rc->f);
	trace("detach #%d -> %d", ri, ret);
	if (rc->awaiting) {
		CHECK(ret == -EALREADY, "urs_detach on a future being awaited = %d", ret);
		return;
	}
	if (rc->st != ST_OPEN) {
		check_consumer_ret(ri, ret, "urs_detach");
		return;
	}
	CHECK(ret == 0, "urs_detach on open #%d = %d", ri, ret);
	rc->st = ST_DETACHED;
	if ((rc->kind == RK_SEND || rc->kind == RK_SENDALL) && M.ep[rc->ep].tcp)
		M.ep[rc->ep].tx.check_end = false; /* it may stop short unseen: a torn close resets */
	if (is_recv(rc->kind)) {
		rx_lost(rc->ep);
		M.ep[rc->ep].rx_out--;
	}
}

static void do_detach(int ri) { detach_rec(ri); }

static void do_cancel(int ri)
{
	struct rec *rc = &M.rec[ri];
	int ret = urs_cancel(rc->f);
	trace("cancel #%d (%s %s) -> %d", ri, rk_name[rc->kind], st_name[rc->st], ret);
	switch (rc->st) {
	case ST_FAILED:
		CHECK(ret == rc->f.gen, "urs_cancel on failed #%d = %d", ri, ret);
		break;
	case ST_DONE:
		CHECK(ret == -EINVAL, "urs_cancel on consumed #%d = %d, want -EINVAL", ri, ret);
		break;
	case ST_OPEN:
	case ST_THEN:
		CHECK(ret == 0 || ret == -EALREADY, "urs_cancel on live #%d = %d", ri, ret);
		break;
	default:
		CHECK(ret == 0 || ret == -EALREADY || ret == -EINVAL, "urs_cancel on detached #%d = %d",
		      ri, ret);
	}
	if (ret == 0) {
		rc->cancelled = true;
		/* A cancelled close is abortive (TCP reset); a cancelled send tears the stream. */
		if (rc->ep >= 0 && M.ep[rc->ep].tcp &&
		    (rc->kind == RK_CLOSE || rc->kind == RK_SEND || rc->kind == RK_SENDALL))
			M.ep[rc->ep].tx.check_end = false;
	}
}

/* Would an await of rc end by itself? (Otherwise a guard timer cancels it.) */
static bool bounded(const struct rec *rc)
{
	if (rc->kind == RK_NOP || rc->kind == RK_SLEEP || rc->kind == RK_GUARD || rc->cancelled ||
	    rc->timed)
		return true;
	if (rc->kind == RK_SHUTDOWN && rc->flags == SHUT_RD)
		return true;
	return false;
}

static int start_guard(int target, unsigned ms)
{
	int gi = rec_new(RK_GUARD, -1);
	if (gi < 0)
		return -1;
	M.rec[gi].target = target;
	if (!started(gi, urs_sleep(M.loop, ms / 1000.0), 0))
		return -1;
	then_rec(gi, SC_HOLD, 0);
	M.rec[gi].early = true;
	return gi;
}

static void await_rec(int ri)
{
	struct rec *rc = &M.rec[ri];
	urs_result out;
	memset(&out, 0, sizeof(out));
	out.res = SENTINEL;
	if (rc->st != ST_OPEN || M.depth) {
		int ret = urs_await(rc->f, &out);
		trace("await #%d (%s) -> %d", ri, st_name[rc->st], ret);
		if (rc->st == ST_OPEN)
			CHECK(ret == (rc->awaiting ? -EALREADY : -EDEADLK),
			      "urs_await inside a callback = %d", ret);
		else
			check_consumer_ret(ri, ret, "urs_await");
		return;
	}
	int guard = -1;
	if (!bounded(rc) && (guard = start_guard(ri, 2 + rc->arg % 8)) < 0) {
		trace("await #%d skipped: no guard timer", ri);
		return;
	}
	trace("await #%d %s", ri, rk_name[rc->kind]);
	rc->awaiting = true;
	int ret = urs_await(rc->f, &out);
	rc->awaiting = false;
	if (guard >= 0 && !resolved(&M.rec[guard]))
		do_cancel(guard); /* not needed any more */
	if (ret == -ENOBUFS && out.res == SENTINEL) {
		trace("  await #%d: -ENOBUFS (every pending op waits for a held buffer)", ri);
		return; /* the handle stays good */
	}
	CHECK(out.res != SENTINEL, "urs_await #%d = %d and filled no result", ri, ret);
	CHECK(ret == out.res, "urs_await #%d = %d, result says %d", ri, ret, out.res);
	CHECK(rc->st == ST_OPEN, "#%d became %s during its own await", ri, st_name[rc->st]);
	rc->st = ST_DONE;
	rc->finals++;
	observe(ri, &out, false);
}

/* ---------------------------------------------------------------- ops */

static int timeout_err(int ep) { return M.ep[ep].closing ? -EBADF : 0; }

static void start_send(int ep, uint8_t how, int kind, uint32_t size, int flags)
{
	struct ep *e = &M.ep[ep];
	if (e->type == SOCK_STREAM && size == 0)
		size = 1;
	if (e->type == SOCK_SEQPACKET && size < 4)
		size = 4;
	/* A send that blocks on such a socket, cancelled before the loop submitted it, is never
	 * found by the cancel: it hangs. */
	if (e->rcv_shut && !e->closing && known("cancel_missed_hangs"))
		return;
	uint32_t idx;
	const uint8_t *data = fz_dir_issue(&e->tx, size, &idx);
	if (!data)
		return;
	int ri = rec_new(kind, ep);
	if (ri < 0)
		return;
	M.rec[ri].tx = idx;
	M.rec[ri].len = e->tx.op[idx].len;
	M.rec[ri].flags = flags;
	urs_future f = kind == RK_SEND ? urs_send(e->s, data, M.rec[ri].len, flags)
				       : urs_sendall(e->s, data, M.rec[ri].len, flags);
	if (started(ri, f, timeout_err(ep)))
		consume(ri, how);
}

static void start_recv(int ep, uint8_t how, int kind, uint32_t size, int flags)
{
	struct ep *e = &M.ep[ep];
	int ri = rec_new(kind, ep);
	if (ri < 0)
		return;
	struct rec *rc = &M.rec[ri];
	if ((flags & MSG_WAITALL) && e->type == SOCK_SEQPACKET && known("seqpacket_waitall_merges"))
		flags &= ~MSG_WAITALL;
	rc->len = size;
	rc->flags = flags;
	int want = timeout_err(ep);
	urs_future f;
	switch (kind) {
	case RK_RECV:
		f = urs_recv(e->s, size, flags);
		break;
	case RK_RECV_INTO:
		if (size > INTO_MAX)
			rc->len = size = INTO_MAX;
		f = urs_recv_into(e->s, into[ri], size, flags);
		break;
	case RK_RECVFROM:
		if (!want && e->type == SOCK_STREAM)
			want = -EOPNOTSUPP;
		f = urs_recvfrom(e->s, size, flags);
		break;
	case RK_RECV_STREAM:
	case RK_RFSTREAM:
		if (kind == RK_RFSTREAM && !want && e->type == SOCK_STREAM)
			want = -EOPNOTSUPP;
		rc->script = (uint8_t)((how >> 2) % SC__COUNT);
		rc->arg = (uint8_t)(how >> 1);
		rc->early = true;
		f = kind == RK_RECV_STREAM ? urs_recv_stream(e->s, on_result, user_of(ri))
					   : urs_recvfrom_stream(e->s, on_result, user_of(ri));
		if (started(ri, f, want))
			rc->st = ST_THEN;
		return;
	default:
		return;
	}
	if (started(ri, f, want))
		consume(ri, how);
}

static void raw_reset(int ep)
{
	struct ep *e = &M.ep[ep];
	trace("raw reset %s", e->name);
	if (e->tcp) {
		struct linger lg = { 1, 0 };
		setsockopt(e->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		e->tx.check_end = false;
	}
	close(e->fd);
	e->fd = -1;
}

/* ---------------------------------------------------------------- making sockets */

static void new_socketpair(uint8_t b)
{
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
	int type = types[b % 3];
	if (M.nep + 2 > MAX_EP)
		return;
	urs_sock *s[2];
	int ret = urs_socketpair(M.loop, type, s);
	trace("socketpair type %d -> %d", type, ret);
	if (ret < 0) {
		CHECK(ret == -EBUSY || ret == -ENOMEM || ret == -EMFILE, "urs_socketpair = %d", ret);
		return;
	}
	int a = ep_new(false, type, false, s[0], -1), c = ep_new(false, type, false, s[1], -1);
	pair(a, c);
	if (b & 0x10) { /* small socket buffers: sends larger than them */
		int v = 4096;
		urs_setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
		urs_setsockopt(s[1], SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
}

static bool raw_listener(void)
{
	if (M.raw_lfd >= 0)
		return true;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&M.raw_laddr, &l) < 0) {
		close(fd);
		return false;
	}
	M.raw_lfd = fd;
	return true;
}

/* A plain-fd peer: one end adopted by the engine, the other driven with plain syscalls. */
static void new_raw_pair(uint8_t b)
{
	if (M.nep + 2 > MAX_EP)
		return;
	bool tcp = b & 1;
	int fds[2];
	if (tcp) {
		if (!raw_listener())
			return;
		fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[0] < 0)
			return;
		if (connect(fds[0], (struct sockaddr *)&M.raw_laddr, sizeof(M.raw_laddr)) < 0 ||
		    (fds[1] = accept4(M.raw_lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			close(fds[0]);
			return;
		}
		int one = 1;
		setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
		return;
	}
	int mine = (b >> 1) & 1;
	urs_sock *s;
	int ret = urs_sock_adopt(M.loop, fds[mine], &s);
	trace("raw pair %s, engine side %d -> %d", tcp ? "tcp" : "unix", mine, ret);
	if (ret < 0) {
		CHECK(ret == -EBUSY || ret == -ENOMEM, "urs_sock_adopt = %d", ret);
		close(fds[0]);
		close(fds[1]);
		return;
	}
	int a = ep_new(false, SOCK_STREAM, tcp, s, -1);
	int r = ep_new(true, SOCK_STREAM, tcp, NULL, fds[!mine]);
	pair(a, r);
}

static bool ensure_listener(void)
{
	if (M.listener >= 0 && live(M.listener))
		return true;
	if (M.nep >= MAX_EP)
		return false;
	urs_sock *s;
	urs_addr a;
	urs_addr_parse(&a, "127.0.0.1:0");
	if (urs_socket(M.loop, AF_INET, SOCK_STREAM, 0, &s) < 0)
		return false;
	if (urs_bind(s, &a) < 0 || urs_listen(s, 16) < 0 || urs_getsockname(s, &M.laddr) < 0) {
		urs_sock_free(s);
		return false;
	}
	M.listener = ep_new(false, SOCK_STREAM, true, s, -1);
	M.ep[M.listener].listener = true;
	trace("listener %s on port %d", M.ep[M.listener].name, urs_addr_port(&M.laddr));
	return true;
}

static void new_tcp(uint8_t b, uint8_t how)
{
	if (M.nep + 2 > MAX_EP || !ensure_listener())
		return;
	urs_sock *s;
	urs_addr a;
	urs_addr_parse(&a, "127.0.0.1:0");
	int ret = urs_socket(M.loop, AF_INET, SOCK_STREAM, 0, &s);
	if (ret < 0) {
		CHECK(ret == -EBUSY || ret == -ENOMEM, "urs_socket = %d", ret);
		return;
	}
	urs_addr mine;
	if (urs_bind(s, &a) < 0 || urs_getsockname(s, &mine) < 0) {
		urs_sock_free(s);
		return;
	}
	int c = ep_new(false, SOCK_STREAM, true, s, -1);
	M.ep[c].port = (uint16_t)urs_addr_port(&mine);
	if (b & 1) {
		int one = 1;
		urs_setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	urs_addr target = M.laddr;
	if (b & 0x40) /* refused: nothing listens on port 1 */
		urs_addr_parse(&target, "127.0.0.1:1");
	int ri = rec_new(RK_CONNECT, c);
	if (ri >= 0 && started(ri, urs_connect(s, &target), 0))
		consume(ri, how);
}

/* ---------------------------------------------------------------- loop runs */

static void check_stats(void)
{
	urs_loop_stats st;
	urs_loop_stats_get(M.loop, &st);
	CHECK(st.bufs_lent == (uint32_t)M.nheld, "stats.bufs_lent %u, the harness holds %d",
	      st.bufs_lent, M.nheld);
	CHECK(st.ops_in_use <= st.ops_max, "ops_in_use %u > ops_max %u", st.ops_in_use, st.ops_max);
	uint32_t mine = 0;
	for (int i = 0; i < M.nep; i++)
		if (!M.ep[i].raw && !M.ep[i].freed)
			mine++;
	CHECK(st.socks_alive >= mine, "socks_alive %u, the harness holds %u", st.socks_alive, mine);
	CHECK(st.socks_open <= st.socks_alive, "socks_open %u > socks_alive %u", st.socks_open,
	      st.socks_alive);
	for (int i = 0; i < M.nheld; i++)
		CHECK(sum_of(&M.held[i].b) == M.held[i].sum,
		      "buffer %u changed while the user held it (gen %u)", M.held[i].b.id,
		      M.held[i].b.gen);
}

static void run_once(unsigned ms)
{
	/* A timer bounds the wait: ONCE blocks for a completion. */
	int si = rec_new(RK_SLEEP, -1);
	if (si < 0 || !started(si, urs_sleep(M.loop, ms / 1000.0), 0)) {
		int ret = urs_loop_run(M.loop, URS_RUN_NOWAIT);
		CHECK(ret >= 0, "urs_loop_run(NOWAIT) = %d", ret);
		return;
	}
	then_rec(si, SC_HOLD, 0);
	M.rec[si].early = true;
	int ret = urs_loop_run(M.loop, URS_RUN_ONCE);
	trace("run once -> %d", ret);
	CHECK(ret >= 0, "urs_loop_run(ONCE) = %d", ret);
}

/* Every pending op waits for a buffer the user holds: the loop must say -ENOBUFS, not block.
 * Only tried when the model knows that for sure. */
static void stall_check(uint8_t b)
{
	urs_loop_stats st;
	/* Let what already ended (cancelled timers...) resolve first. */
	for (int k = 0; k < 3; k++)
		CHECK(urs_loop_run(M.loop, URS_RUN_NOWAIT) >= 0, "urs_loop_run(NOWAIT) failed");
	urs_loop_stats_get(M.loop, &st);
	if (st.bufs_lent != st.bufs_total)
		return;
	int target = -1, pending = 0;
	for (int i = 0; i < M.nrec; i++) {
		struct rec *rc = &M.rec[i];
		if (resolved(rc))
			continue;
		bool bufwait = rc->kind == RK_RECV || rc->kind == RK_RECVFROM ||
			       rc->kind == RK_RECV_STREAM || rc->kind == RK_RFSTREAM;
		/* With a buffer ring the kernel picks a buffer only when data comes: a receive armed
		 * before the ring ran dry waits for data, not for a buffer (the loop is not stuck). */
		if ((M.features & URS_FEAT_BUF_RING) && !rc->starved)
			return;
		if (!bufwait || rc->st == ST_DROPPED || !live(rc->ep) || M.ep[rc->ep].closing ||
		    (rc->st == ST_THEN && rc->script != SC_HOLD) || (rc->flags & MSG_DONTWAIT) ||
		    M.ep[rc->ep].timeout == 0)
			return;
		pending++;
		if (rc->st == ST_OPEN && !rc->timed && !rc->cancelled &&
		    (target < 0 || (b & 1)))
			target = i;
	}
	if (!pending)
		return;
	uint64_t stalls = st.stalls;
	if (target >= 0 && !(b & 2)) {
		urs_result out;
		memset(&out, 0, sizeof(out));
		out.res = SENTINEL;
		trace("stall: await #%d with all %u buffers held", target, st.bufs_total);
		int ret = urs_await(M.rec[target].f, &out);
		CHECK(ret == -ENOBUFS && out.res == SENTINEL,
		      "await #%d with every buffer held and every op waiting for one = %d (res %d), "
		      "want -ENOBUFS",
		      target, ret, out.res);
		counts[CT_STALL_AWAIT]++;
	} else {
		trace("stall: run with all %u buffers held, %d ops waiting", st.bufs_total, pending);
		int ret = 0;
		for (int k = 0; k < pending + 4 && (ret = urs_loop_run(M.loop, b & 4 ? URS_RUN_UNTIL_IDLE
									 : URS_RUN_ONCE)) >= 0;
		     k++)
			;
		CHECK(ret == -ENOBUFS, "urs_loop_run with every op waiting for a held buffer = %d", ret);
		counts[CT_STALL_RUN]++;
	}
	urs_loop_stats_get(M.loop, &st);
	CHECK(st.stalls > stalls, "a stall answered -ENOBUFS without counting it");
}

/* ---------------------------------------------------------------- buffers: bad releases */

static void release_bad(uint8_t b)
{
	urs_loop_stats before, after;
	urs_loop_stats_get(M.loop, &before);
	urs_buf v;
	int want;
	switch (b % 4) {
	case 0:
		if (!M.nstale)
			return;
		v = M.stale[b / 4 % M.nstale];
		want = -EALREADY;
		break;
	case 1:
		memset(&v, 0, sizeof(v));
		v.loop = M.loop;
		v.id = before.bufs_total + b;
		want = -EINVAL;
		break;
	case 2:
		if (!M.nheld)
			return;
		v = M.held[b / 4 % M.nheld].b;
		v.gen += 1000; /* never lent */
		want = -EINVAL;
		break;
	default:
		memset(&v, 0, sizeof(v));
		v.id = URS_BUF_NONE;
		want = 0;
		break;
	}
	urs_buf copy = v;
	int ret = urs_buf_release(&v);
	trace("release bad view (kind %d, id %u gen %u) -> %d", b % 4, copy.id, copy.gen, ret);
	CHECK(ret == want, "urs_buf_release of a %s view = %d, want %d",
	      b % 4 == 0 ? "stale" : b % 4 == 1 ? "forged id" : b % 4 == 2 ? "forged gen" : "empty",
	      ret, want);
	urs_loop_stats_get(M.loop, &after);
	CHECK(after.bufs_lent == before.bufs_lent, "a refused release changed bufs_lent");
	if (b % 4 == 0)
		counts[CT_STALE_RELEASE]++;
}

static void forged_future(uint8_t b)
{
	urs_future f = { M.loop, 0, 0 };
	int want = -EINVAL;
	switch (b % 4) {
	case 0:
		f.idx = 0x3ffffff0;
		f.gen = 1;
		break;
	case 1:
		f.gen = 0x7ffffff0;
		break;
	case 2:
		f.loop = NULL;
		f.gen = 3;
		break;
	default:
		f.gen = -ENOENT;
		want = -ENOENT;
	}
	urs_result out;
	int r1 = urs_then(f, on_result, NULL), r2 = urs_cancel(f), r3 = urs_detach(f),
	    r4 = M.depth ? want : urs_await(f, &out);
	trace("forged future %d -> %d %d %d %d", b % 4, r1, r2, r3, r4);
	CHECK(r1 == want && r2 == want && r3 == want && r4 == want,
	      "a forged future answered then %d cancel %d detach %d await %d, want %d", r1, r2, r3,
	      r4, want);
}

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
				M.file[i].wrote = false;
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
