/* SPDX-License-Identifier: MIT */
/* What comes back from the engine, and what the engine fuzzer checks about it: the records of
 * started ops, their consumers (then, await, detach, cancel), the callbacks with the scripts
 * an input gives them (free, close, cancel, start more, re-enter), and every result against
 * the model: resolved once, never after its socket's free or close callback, return codes as
 * the header says, received bytes through engine_model.c. */
#define _GNU_SOURCE
#include "engine_harness.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

const char *const rk_name[] = { "nop",       "sleep",     "guard",    "close",      "accept",
				"accept_strm", "connect", "recv",     "recv_into", "recv_strm",
				"recvfrom",  "rfrom_strm", "send",    "sendall",    "shutdown" };
const char *const st_name[] = { "failed", "open", "then", "detached", "done", "dropped" };

/* ---------------------------------------------------------------- records */

void *user_of(int ri) { return (void *)(uintptr_t)(((uintptr_t)M.gen << 16) | (unsigned)ri); }

bool is_recv(int kind)
{
	return kind == RK_RECV || kind == RK_RECV_INTO || kind == RK_RECV_STREAM ||
	       kind == RK_RECVFROM || kind == RK_RFSTREAM;
}
bool is_stream(int kind)
{
	return kind == RK_RECV_STREAM || kind == RK_RFSTREAM || kind == RK_ACCEPT_STREAM;
}
bool resolved(const struct rec *rc) { return rc->st == ST_FAILED || rc->st == ST_DONE; }

int rec_new(int kind, int ep)
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
struct fz_dir *rx_dir(int ep)
{
	int p = M.ep[ep].peer;
	return p >= 0 ? &M.ep[p].tx : NULL;
}

/* A receive on ep will never be seen: bytes it took are lost to the model. */
void rx_lost(int ep)
{
	struct fz_dir *d = rx_dir(ep);
	if (d && !d->lossy) {
		trace("  %s: a receive goes unseen, stop checking that direction", d->name);
		fz_dir_lossy(d);
	}
}

void rx_done(int ep)
{
	struct ep *e = &M.ep[ep];
	CHECK(e->rx_out > 0, "receive count of %s went below zero", e->name);
	if (--e->rx_out == 0 && rx_dir(ep))
		fz_dir_settled(rx_dir(ep));
}

/* ---------------------------------------------------------------- starting ops */

static bool allowed_start_error(int err)
{
	return err == -EBUSY || err == -ENOMEM || (M.tearing && (err == -ECANCELED || err == -EBADF));
}

/* Records f for ri: want is the error the model says the call must fail with, 0 for none. */
bool started(int ri, urs_future f, int want)
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

/* What the program does with a future it just started. */
void consume(int ri, uint8_t how)
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
	/* After its own SHUT_RD a datagram socket answers 0 where it would wait: the end, not
	 * an empty datagram (the shutdown may have gone before its future resolved). */
	if (len == 0 && e->type == SOCK_DGRAM && e->shut_rd)
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
		/* The FIN follows every byte queued before it: a sendall before a shutdown(SHUT_WR)
		 * that succeeded went whole, or never started (cancelled or timed out in the
		 * queue); one cut part-way tears the socket and the shutdown answers -EPIPE. (A
		 * plain send's count says where its bytes stop: the stream model checks that.) */
		if (r->res == 0 && rc->flags != SHUT_RD)
			for (int i = 0; i < M.nrec; i++) {
				struct rec *s = &M.rec[i];
				if (s->ep != rc->ep || s->kind != RK_SENDALL || s->st == ST_FAILED ||
				    s->tx >= rc->tx_before)
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
		if (event && r->res == 0 && !(r->flags & URS_RES_TRUNC) && e->type != SOCK_DGRAM)
			fz_fail("%s #%d: an event with 0 bytes on a %s socket (an end must end the stream)",
				rk_name[rc->kind], ri, e->type == SOCK_STREAM ? "stream" : "seqpacket");
		got_data(rc, ri, r, (const uint8_t *)r->buf.data, settled, !event && is_stream(rc->kind));
		if (!event)
			rx_done(rc->ep);
		take_buf(&r->buf, hold, e->type != SOCK_STREAM);
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

static void run_script(int ri)
{
	struct rec *rc = &M.rec[ri];
	rc->script_done = true;
	int ep = rc->ep;
	int other = M.nrec ? rc->arg % M.nrec : -1;
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

void on_result(urs_result *r, void *user)
{
	uintptr_t u = (uintptr_t)user;
	int ri = (int)(u & 0xffff);
	CHECK((u >> 16) == M.gen && ri < M.nrec, "a callback with user %#lx from another input",
	      (unsigned long)u);
	struct rec *rc = &M.rec[ri];
	bool event = is_stream(rc->kind) && (r->flags & URS_RES_MORE);
	M.depth++;
	CHECK(rc->st == ST_THEN, "callback (res %d flags %#x) of %s #%d, which is %s%s", r->res,
	      r->flags, rk_name[rc->kind], ri, st_name[rc->st],
	      rc->st == ST_DROPPED ? " (its socket was freed: no callback may run)" : "");
	CHECK(rc->finals == 0, "%s #%d resolved twice", rk_name[rc->kind], ri);
	if (rc->ep >= 0) {
		struct ep *e = &M.ep[rc->ep];
		CHECK(!e->freed || rc->kind == RK_CLOSE, "callback of %s #%d after urs_sock_free of %s",
		      rk_name[rc->kind], ri, e->name);
		CHECK(!e->close_cb, "callback of %s #%d after the close callback of %s",
		      rk_name[rc->kind], ri, e->name);
		if (rc->kind == RK_CLOSE && !event) {
			/* Every callback attached on the socket ran first, also one attached late
			 * (urs_then refuses a result its close has left behind). */
			for (int i = 0; i < M.nrec; i++) {
				struct rec *o = &M.rec[i];
				CHECK(i == ri || o->ep != rc->ep || o->st != ST_THEN || o->kind == RK_CLOSE,
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
		run_script(ri);
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

void then_rec(int ri, uint8_t script, uint8_t arg)
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
	/* No callback on a socket after its free (but its close's) or after its close callback:
	 * urs_then refuses ops of a freed socket, and results nobody claimed before the socket
	 * closed (whether this one had resolved, only the engine knows while it closes). */
	const struct ep *e = rc->ep >= 0 ? &M.ep[rc->ep] : NULL;
	bool sockop = e && rc->kind != RK_CLOSE;
	if (sockop && (e->freed || e->close_cb)) {
		CHECK(ret == -EBADF, "urs_then on #%d of %s %s = %d, want -EBADF", ri,
		      e->freed ? "freed" : "closed", e->name, ret);
		return;
	}
	if (sockop && e->closing && ret == -EBADF) {
		trace("  #%d resolved unclaimed before its socket closed: no callback", ri);
		return;
	}
	CHECK(ret == 0, "urs_then on open #%d = %d", ri, ret);
	rc->st = ST_THEN;
	rc->script = script;
	rc->arg = arg;
}

void detach_rec(int ri)
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

void do_detach(int ri) { detach_rec(ri); }

void do_cancel(int ri)
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
	/* One send or receive with MSG_DONTWAIT never waits (shutdown keeps its how there). */
	return rc->kind != RK_SHUTDOWN && (rc->flags & MSG_DONTWAIT);
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

void await_rec(int ri)
{
	struct rec *rc = &M.rec[ri];
	urs_result out;
	memset(&out, 0, sizeof(out));
	out.res = SENTINEL;
	if (rc->st != ST_OPEN || M.depth) {
		int ret = urs_await(rc->f, &out);
		trace("await #%d (%s) -> %d", ri, st_name[rc->st], ret);
		CHECK(out.res == ret && out.buf.id == URS_BUF_NONE,
		      "urs_await #%d = %d filled res %d, buf %u", ri, ret, out.res, out.buf.id);
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
	CHECK(out.res == ret && (ret >= 0 || (out.buf.id == URS_BUF_NONE && !out.sock)),
	      "urs_await #%d = %d, result says %d", ri, ret, out.res);
	if (ret == -ENOBUFS) {
		trace("  await #%d: -ENOBUFS (every pending op waits for a held buffer)", ri);
		return; /* the handle stays good */
	}
	CHECK(rc->st == ST_OPEN, "#%d became %s during its own await", ri, st_name[rc->st]);
	rc->st = ST_DONE;
	rc->finals++;
	observe(ri, &out, false);
}
