/* SPDX-License-Identifier: MIT */
/* What a step of the engine fuzzer does to the engine: sockets (socketpairs, TCP pairs through
 * a listener, plain-fd peers), ops started on them, buffers held and given back (also stale,
 * forged and empty views), bounded loop runs, and the stall check: where every pending op
 * waits for a buffer the user holds, the loop must answer -ENOBUFS instead of blocking. */
#define _GNU_SOURCE
#include "engine_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static uint8_t arenas[MAX_EP][FZ_ARENA];
static uint8_t pools[MAX_EP][FZ_POOL_BYTES];
uint8_t into[MAX_REC][INTO_MAX];

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
	M.stale[M.nstale < MAX_STALE ? M.nstale++ : (int)(M.stale_seen % MAX_STALE)] = *copy;
	M.stale_seen++;
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
void take_buf(urs_buf *b, bool hold, bool message)
{
	if (b->id == URS_BUF_NONE) {
		CHECK(b->len == 0, "a view with no buffer has %u bytes", b->len);
		return;
	}
	CHECK(b->loop == M.loop, "a view names another loop");
	/* A byte stream's view fits a buffer; a datagram or seqpacket message up to 64 KiB
	 * comes whole (in a message buffer when it is larger than the loop's buffers). */
	uint32_t most = M.opts.buf_size;
	if (message && most < 65536)
		most = 65536;
	CHECK(M.opts.buf_size == 0 || b->len <= most, "a view of %u bytes in %u-byte buffers",
	      b->len, most);
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

void release_held(int i)
{
	struct held h = M.held[i];
	M.held[i] = M.held[--M.nheld];
	CHECK(sum_of(&h.b) == h.sum, "buffer %u changed while the user held it (gen %u, %u bytes)",
	      h.b.id, h.b.gen, h.b.len);
	trace("release buf %u gen %u", h.b.id, h.b.gen);
	release_view(&h.b, "held");
}

void release_all(void)
{
	while (M.nheld)
		release_held(M.nheld - 1);
}

/* ---------------------------------------------------------------- endpoints */

int ep_new(bool raw, int type, bool tcp, urs_sock *s, int fd)
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

void pair(int a, int b)
{
	M.ep[a].peer = b;
	M.ep[b].peer = a;
}

/* The engine socket of ep, or NULL when the harness must not touch it. */
urs_sock *live(int ep)
{
	if (ep < 0)
		return NULL;
	struct ep *e = &M.ep[ep];
	return !e->raw && !e->freed && !e->husk ? e->s : NULL;
}

int pick_ep(uint8_t b, bool (*ok)(const struct ep *))
{
	for (int k = 0; k < M.nep; k++) {
		int i = (b + k) % M.nep;
		if (ok(&M.ep[i]))
			return i;
	}
	return -1;
}
bool ok_engine(const struct ep *e) { return !e->raw && !e->freed && !e->husk; }
bool ok_raw(const struct ep *e) { return e->raw && e->fd >= 0; }
bool ok_listener(const struct ep *e) { return ok_engine(e) && e->listener; }

/* urs_sock_free: no callback of its ops may run after this (except the close's). */
void free_ep(int ep, const char *why)
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
			rc->st = ST_DROPPED; /* also one that resolved before the callback came */
			if (is_recv(rc->kind))
				rx_lost(ep);
		}
	}
	if (e->rx_out)
		rx_lost(ep);
	urs_sock_free(e->s);
}

/* A socket object the engine handed over (accept): pair it with its client by port. */
void adopt_accepted(urs_sock *s, bool free_it)
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

/* ---------------------------------------------------------------- ops */

int timeout_err(int ep) { return M.ep[ep].closing ? -EBADF : 0; }

void start_send(int ep, uint8_t how, int kind, uint32_t size, int flags)
{
	struct ep *e = &M.ep[ep];
	if (e->type == SOCK_STREAM && size == 0)
		size = 1;
	if (e->type == SOCK_SEQPACKET && size < 4)
		size = 4;
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

void start_recv(int ep, uint8_t how, int kind, uint32_t size, int flags)
{
	struct ep *e = &M.ep[ep];
	int ri = rec_new(kind, ep);
	if (ri < 0)
		return;
	struct rec *rc = &M.rec[ri];
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

void raw_reset(int ep)
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

void new_socketpair(uint8_t b)
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
void new_raw_pair(uint8_t b)
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

void new_tcp(uint8_t b, uint8_t how)
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

void check_stats(void)
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

void run_once(unsigned ms)
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

static bool epoll_backend(void)
{
	return strstr(urs_loop_features_str(M.loop), "backend=epoll") != NULL;
}

/* Every pending op waits for a buffer the user holds: the loop must say -ENOBUFS, not block.
 * Only tried when the model knows that for sure. */
void stall_check(uint8_t b)
{
	urs_loop_stats st;
	/* Let what already ended (cancelled timers...) resolve first. */
	for (int k = 0; k < 3; k++)
		CHECK(urs_loop_run(M.loop, URS_RUN_NOWAIT) >= 0, "urs_loop_run(NOWAIT) failed");
	urs_loop_stats_get(M.loop, &st);
	/* With incremental buffers the user holds pieces: every buffer may have one out while
	 * the kernel still fills one, so no count says the loop is stuck (inputs that turn
	 * the feature off check the stall). */
	if (st.bufs_lent != st.bufs_total || (M.features & URS_FEAT_BUF_INC))
		return;
	int target = -1, pending = 0;
	for (int i = 0; i < M.nrec; i++) {
		struct rec *rc = &M.rec[i];
		if (resolved(rc))
			continue;
		bool bufwait = rc->kind == RK_RECV || rc->kind == RK_RECVFROM ||
			       rc->kind == RK_RECV_STREAM || rc->kind == RK_RFSTREAM;
		/* With a buffer ring the kernel picks a buffer only when data comes, and so does
		 * the epoll backend (a buffer for the call only): a receive armed before the
		 * buffers ran dry waits for data, not for a buffer (the loop is not stuck). */
		if ((M.features & URS_FEAT_BUF_RING || epoll_backend()) && !rc->starved)
			return;
		/* On epoll the read side's end (a FIN, a reset from a peer freed with bytes
		 * unread, its own SHUT_RD) ends a receive without a buffer (stream_ops.c,
		 * ep_rdend): with its peer gone or unknown it may not be waiting at all. */
		if (epoll_backend() && rc->ep >= 0) {
			int peer = M.ep[rc->ep].peer;
			if (peer < 0 || M.ep[peer].freed || M.ep[peer].closing || M.ep[rc->ep].rcv_shut)
				return;
		}
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
		CHECK(ret == -ENOBUFS && out.res == -ENOBUFS && out.buf.id == URS_BUF_NONE,
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

void release_bad(uint8_t b)
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

void forged_future(uint8_t b)
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
