/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 echo server on ursock: GET/HEAD answer a small fixed body, POST/PUT echo the
 * request body back. Keep-alive, pipelining (answers in request order), Content-Length and
 * chunked bodies; limits on target, header and body sizes, requests per connection and
 * responses queued per connection; a deadline on every phase (head, body, idle, send,
 * lingering close). Parsing is llhttp's, strict, with the checks of examples/http/http_core.c
 * around it; the README says what is accepted and refused.
 *
 *   build/examples/http_echo 127.0.0.1:8080 -t 2
 *   curl -s http://127.0.0.1:8080/            ->  Hello from ursock
 *   curl -s --data-binary @file http://127.0.0.1:8080/echo
 *   wrk -t1 -c64 -d5s http://127.0.0.1:8080/
 *   build/examples/http_echo 127.0.0.1:8080 -d /srv/www    (GET/HEAD serve files under it)
 *
 * With -d DIR, GET and HEAD serve the regular files under DIR (urs_sendfile: no copy in
 * user space) instead of the fixed body; the target is percent-decoded, a NUL is refused
 * (400), a "." or ".." segment is never followed (404), and the file is opened with
 * openat2(RESOLVE_BENEATH), so no symlink or ".." leads out of DIR (404).
 *
 * One loop per thread (-t N), each with its own SO_REUSEPORT listener: no lock on the
 * request path. The first line on stdout is "listening on <address>" with the real port.
 * SIGINT/SIGTERM stop it gracefully: accepting stops, responses in flight are sent, then
 * exit 0. The library takes no signals: the main thread waits for them with sigwait and
 * the loops see the flag at their next timer tick. */
#define _GNU_SOURCE
#include "ursock.h"

#include "http/http_core.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TICK_MS = 250 };

struct worker;

/* A batch of responses: one sendall, or with -d the sendalls of its bytes with a sendfile of
 * each file body between them. Reused once sent (no malloc per request in steady state). */
struct out {
	struct conn *c;
	struct http_buf b;
	struct http_segs segs;     /* -d: the files within b, in order */
	urs_future *parts;         /* its sends, in order */
	size_t nparts, parts_cap, parts_left;
	int err;                   /* the first of its sends to fail */
	struct out *next;
};

struct conn {
	struct worker *w;
	urs_sock *s;
	struct http_conn h;
	struct out *sending, *sending_tail; /* the sends in flight, in order */
	struct out *spare;                  /* sent batches, for the next ones */
	unsigned nsending, nspare;
	struct http_buf unparsed;  /* received while reading is paused (reading_pause) */
	urs_future rx;
	bool rx_live, rx_cancelled, rx_paused, rx_ended;
	bool closing, lingering, aborted, close_started;
	double last_active, send_started, linger_started;
	struct conn *prev, *next;
};

struct worker {
	int id;
	atomic_int nconns;  /* its connections (least-loaded distribution reads it) */
	urs_loop *loop;
	urs_sock *l;
	urs_addr addr;
	urs_future acc;
	struct conn *conns;
	double now;
	bool stopped;
	int err;
	const char *failed; /* the call that err came from */
	unsigned long long enters;
	pthread_t th;
	sem_t ready;
};

static struct http_limits limits;
static atomic_int stopping;
/* How connections reach the loops: each loop's own SO_REUSEPORT listener (the kernel
 * spreads them), or one acceptor loop handing each to a loop, in turn or to the one with
 * the fewest (urs_sock_handoff). */
enum { DIST_REUSEPORT, DIST_ROUND_ROBIN, DIST_LEAST_LOADED };
static int distribute = DIST_REUSEPORT;
static struct worker *workers;
static int nworkers;

static int root_fd = -1;          /* -d DIR */
static bool send_pool = true;     /* --no-send-pool clears it */
static struct http_files files;

/* -d: opens path (decoded, no "." or ".." segment: http_target_path) under DIR. openat2
 * with RESOLVE_BENEATH refuses any way out of DIR: an absolute symlink, one that climbs
 * out, a magic link. */
static int file_open(void *user, const char *path, int *fd, uint64_t *size)
{
	(void)user;
	while (*path == '/')
		path++;
	if (!*path)
		return 404; /* no directory listings */
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	int f = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
	if (f < 0)
		return errno == EACCES || errno == EPERM ? 403 : errno == ENOMEM || errno == EMFILE ? 500
											   : 404;
	struct stat st;
	if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f);
		return 404;
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return 200;
}
static unsigned buf_count = 4096, buf_size = 16384;

static double clock_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void out_free(struct out *o)
{
	for (size_t i = 0; i < o->segs.n; i++)
		close(o->segs.v[i].fd);
	free(o->segs.v);
	free(o->parts);
	free(o->b.data);
	free(o);
}

/* The close callback is the last one on the connection's socket: its state goes here. */
static void on_closed(urs_result *r, void *user)
{
	struct conn *c = user;
	struct worker *w = c->w;
	(void)r;
	atomic_fetch_sub(&w->nconns, 1);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	http_conn_free(&c->h);
	for (struct out *o = c->spare, *n; o; o = n) {
		n = o->next;
		out_free(o);
	}
	free(c->unparsed.data);
	urs_sock_free(c->s);
	free(c);
}

static void rx_cancel(struct conn *c)
{
	if (c->rx_live && !c->rx_cancelled) {
		c->rx_cancelled = true;
		urs_cancel(c->rx); /* its last callback comes back to on_chunk */
	}
}

/* A connection goes once it reads no more and has nothing left to send. After the final
 * response it first half-closes and drains what the client still sends, up to
 * linger_timeout (RFC 9112 §9.6): closing with unread bytes would turn the FIN into a
 * reset that can destroy the response before the client reads it. */
static void conn_maybe_done(struct conn *c)
{
	if (!c->closing || c->nsending || c->h.out.len)
		return;
	if (!c->rx_live) {
		if (!c->close_started) {
			c->close_started = true;
			urs_then(urs_close(c->s), on_closed, c);
		}
		return;
	}
	if (c->lingering)
		return; /* until the client closes or the tick sees linger_timeout pass */
	if (c->aborted || c->w->stopped || limits.linger_timeout <= 0) {
		rx_cancel(c);
		return;
	}
	c->lingering = true;
	c->linger_started = c->w->now;
	urs_detach(urs_shutdown(c->s, SHUT_WR));
}

static void conn_close_soon(struct conn *c)
{
	c->closing = true;
	conn_maybe_done(c);
}

static void flush(struct conn *c);
static void on_chunk(urs_result *r, void *user);

/* Parses and answers what it can of data; returns the bytes consumed, fewer than len once
 * max_output bytes of responses wait in the socket's send queue (see reading_pause). */
static size_t conn_parse(struct conn *c, const char *data, size_t len)
{
	size_t done = 0;
	while (done < len && !c->closing && !http_conn_closing(&c->h)) {
		done += http_conn_feed(&c->h, data + done, len - done, c->w->now);
		flush(c);
		if (urs_sock_queued(c->s) >= limits.max_output)
			break;
	}
	return done;
}

static void reading_start(struct conn *c)
{
	c->rx = urs_recv_stream(c->s, on_chunk, c);
	c->rx_live = urs_future_error(c->rx) == 0;
	c->rx_cancelled = false;
	if (!c->rx_live)
		c->rx_ended = true;
}

/* Backpressure, on the engine's water marks (urs_sock_watermarks, set in on_conn): once
 * limits.max_output bytes of responses wait in the socket's send queue for a client that
 * is slow to take them, parsing stops (conn_parse) and the connection stops reading: its
 * receive stream is cancelled and what it still delivers is kept in c->unparsed; at a
 * quarter of that the rest is parsed and reading resumes. The memory a connection holds is
 * then bounded by max_output, a response and the chunks in flight. */
static void reading_pause(struct conn *c)
{
	if (!c->rx_paused) {
		c->rx_paused = true;
		rx_cancel(c);
	}
}

static void reading_resume(struct conn *c)
{
	if (!c->rx_paused || c->unparsed.len || c->closing)
		return;
	c->rx_paused = false;
	if (!c->rx_live && !c->rx_ended)
		reading_start(c); /* else the cancelled stream's last callback restarts it */
}

/* Parses what was kept while reading was paused, as far as the send queue allows. */
static void parse_unparsed(struct conn *c)
{
	if (!c->unparsed.len || c->closing)
		return;
	size_t done = conn_parse(c, c->unparsed.data, c->unparsed.len);
	memmove(c->unparsed.data, c->unparsed.data + done, c->unparsed.len - done);
	c->unparsed.len -= done;
}

/* The send queue's water marks: over max_output, stop reading; back at a quarter of it,
 * parse what was kept and read again. */
static void on_mark(urs_result *r, void *user)
{
	struct conn *c = user;
	if (r->res == 1) {
		reading_pause(c);
		return;
	}
	parse_unparsed(c);
	reading_resume(c);
	if (http_conn_closing(&c->h) || (c->rx_ended && !c->unparsed.len))
		c->closing = true;
	conn_maybe_done(c);
}

/* A batch went. Batches resolve in order, but one whose sends could not all be queued is
 * cancelled and may end before older ones: it leaves the list wherever it is. */
static void on_sent(urs_result *r, void *user)
{
	struct out *o = user;
	struct conn *c = o->c;
	struct out **pp = &c->sending, *prev = NULL;
	while (*pp != o) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	*pp = o->next;
	if (c->sending_tail == o)
		c->sending_tail = prev;
	c->nsending--;
	o->b.len = 0;
	if (c->nspare < 2) {
		o->next = c->spare;
		c->spare = o;
		c->nspare++;
	} else {
		out_free(o);
	}
	c->last_active = c->send_started = c->w->now;
	if (r->res < 0) {
		c->h.out.len = 0;
		c->closing = true;
	}
	if (http_conn_closing(&c->h) || (c->rx_ended && !c->unparsed.len))
		c->closing = true;
	conn_maybe_done(c);
}

/* One send of a batch is done; the batch is done with its last. The sends are ordered on
 * the socket: when one fails, every one behind it fails -EPIPE without sending. */
static void on_part(urs_result *r, void *user)
{
	struct out *o = user;
	if (r->res < 0 && !o->err)
		o->err = r->res;
	if (--o->parts_left)
		return;
	for (size_t i = 0; i < o->segs.n; i++)
		close(o->segs.v[i].fd);
	o->segs.n = 0;
	o->segs.bytes = 0;
	o->nparts = 0;
	urs_result done = { .res = o->err };
	o->err = 0;
	on_sent(&done, o);
}

static bool part(struct out *o, urs_future f)
{
	if (o->nparts == o->parts_cap) {
		size_t cap = o->parts_cap ? o->parts_cap * 2 : 4;
		urs_future *v = realloc(o->parts, cap * sizeof(*v));
		if (!v) {
			urs_cancel(f);
			urs_detach(f);
			return false;
		}
		o->parts = v;
		o->parts_cap = cap;
	}
	if (urs_then(f, on_part, o) < 0)
		return false; /* it failed at once */
	o->parts[o->nparts++] = f;
	o->parts_left++;
	return true;
}

/* Response bytes go out from the loop's registered send buffers (urs_sendbuf_get: the
 * kernel names their pages by index instead of looking them up per send), copied there a
 * buffer at a time; what the pool cannot take now (every buffer sending) goes from the
 * batch's own memory, which the batch keeps until its last part is sent. --no-send-pool
 * sends everything from the batch's memory. */
static bool send_bytes(struct conn *c, struct out *o, const char *data, size_t len)
{
	while (send_pool && len) {
		urs_buf b;
		if (urs_sendbuf_get(c->w->loop, &b) < 0)
			break;
		size_t n = len < b.len ? len : b.len;
		memcpy(b.data, data, n);
		if (!part(o, urs_sendall_buf(c->s, &b, n, 0))) /* it takes b in every outcome */
			return false;
		data += n;
		len -= n;
	}
	return !len || part(o, urs_sendall(c->s, data, len, 0));
}

/* Sends what the protocol produced as a batch; several may be queued on the socket (the
 * engine keeps them in order), their bytes counted by its water marks. With -d the batch's
 * bytes go as sendalls with each file body (urs_sendfile) between them, all queued at once. */
static void flush(struct conn *c)
{
	if (!c->h.out.len)
		return;
	struct out *o = c->spare;
	if (o) {
		c->spare = o->next;
		c->nspare--;
	} else if (!(o = calloc(1, sizeof(*o)))) {
		c->h.out.len = 0;
		c->closing = true;
		return;
	}
	o->c = c;
	o->next = NULL;
	http_conn_take_output(&c->h, &o->b);
	if (root_fd >= 0)
		http_conn_take_files(&c->h, &o->segs);
	o->parts_left = 1; /* held until every send is queued */
	size_t pos = 0;
	bool ok = true;
	for (size_t i = 0; i < o->segs.n && ok; i++) {
		struct http_file_seg *g = &o->segs.v[i];
		if (g->at > pos)
			ok = send_bytes(c, o, o->b.data + pos, g->at - pos);
		if (ok)
			ok = part(o, urs_sendfile(c->s, g->fd, 0, (size_t)g->size));
		pos = g->at;
	}
	if (ok && o->b.len > pos)
		ok = send_bytes(c, o, o->b.data + pos, o->b.len - pos);
	if (!ok) {
		/* A response cut here must not be followed by anything: the connection goes,
		 * and what of the batch was queued is cancelled (those behind fail too). */
		c->h.out.len = 0;
		c->closing = true;
		o->err = -ENOMEM;
		for (size_t i = 0; i < o->nparts; i++)
			urs_cancel(o->parts[i]);
	}
	if (c->sending_tail)
		c->sending_tail->next = o;
	else
		c->sending = o;
	c->sending_tail = o;
	if (!c->nsending++)
		c->send_started = c->w->now;
	urs_result held = { .res = 0 };
	on_part(&held, o); /* the hold goes: the last send to finish ends the batch */
}

/* The client has not taken a send within send_timeout: reset the connection (SO_LINGER 0)
 * rather than leave its unsent bytes to the kernel. */
static void conn_abort(struct conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	urs_setsockopt(c->s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	c->aborted = c->closing = true;
	if (c->sending) /* the oldest: it fails, those behind it -EPIPE */
		for (size_t i = 0; i < c->sending->nparts; i++)
			urs_cancel(c->sending->parts[i]);
}

static void on_chunk(urs_result *r, void *user)
{
	struct conn *c = user;
	if (!(r->flags & URS_RES_MORE)) { /* EOF, reset, cancel: this stream is over */
		c->rx_live = false;
		if (r->res == -ECANCELED && !c->closing) { /* reading_pause's cancel */
			if (!c->rx_paused)
				reading_start(c); /* resumed meanwhile */
			return;
		}
		c->rx_ended = true;
		if (!c->unparsed.len) /* else what was received is answered first (on_sent) */
			c->closing = true;
		conn_maybe_done(c);
		return;
	}
	c->last_active = c->w->now;
	const char *data = r->buf.data;
	size_t len = r->buf.len;
	if (!c->closing) { /* when closing (lingering), what comes is dropped */
		size_t done = c->unparsed.len ? 0 : conn_parse(c, data, len);
		if (done < len && !c->closing && !http_conn_closing(&c->h)) {
			struct http_buf *u = &c->unparsed;
			if (u->len + (len - done) > u->cap) {
				size_t cap = u->cap ? u->cap * 2 : 16384;
				while (cap < u->len + (len - done))
					cap *= 2;
				char *d = realloc(u->data, cap);
				if (!d) {
					c->closing = true;
					goto out;
				}
				u->data = d;
				u->cap = cap;
			}
			memcpy(u->data + u->len, data + done, len - done);
			u->len += len - done;
			reading_pause(c);
		}
	}
out:
	urs_buf_release(&r->buf);
	if (http_conn_closing(&c->h))
		c->closing = true;
	conn_maybe_done(c);
}

/* A connection this loop serves, from its own accept or handed over by the acceptor. */
static void conn_adopt(struct worker *w, urs_sock *sock)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		urs_sock_free(sock);
		return;
	}
	atomic_fetch_add(&w->nconns, 1);
	c->w = w;
	c->s = sock;
	c->last_active = w->now;
	http_conn_init(&c->h, &limits);
	if (root_fd >= 0)
		c->h.files = &files;
	urs_sock_watermarks(c->s, limits.max_output, limits.max_output / 4, on_mark, c);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	reading_start(c);
	if (!c->rx_live)
		conn_close_soon(c);
}

/* On the receiving loop's thread: a connection the acceptor handed over. */
static void on_handed(urs_result *r, void *user)
{
	struct worker *w = user;
	if (r->res < 0 || !r->sock)
		return;
	if (w->stopped)
		urs_sock_free(r->sock);
	else
		conn_adopt(w, r->sock);
}

static struct worker *pick(struct worker *self)
{
	static _Thread_local unsigned next;
	if (distribute == DIST_ROUND_ROBIN)
		return &workers[next++ % (unsigned)nworkers];
	struct worker *best = self;
	for (int i = 0; i < nworkers; i++)
		if (atomic_load(&workers[i].nconns) < atomic_load(&best->nconns))
			best = &workers[i];
	return best;
}

static void on_conn(urs_result *r, void *user)
{
	struct worker *w = user;
	if (!(r->flags & URS_RES_MORE) || r->res < 0)
		return; /* the stream ended, or -EMFILE: accepting resumes by itself */
	struct worker *to = distribute == DIST_REUSEPORT ? w : pick(w);
	if (to == w) {
		conn_adopt(w, r->sock);
	} else if (urs_sock_handoff(r->sock, to->loop, on_handed, to) < 0) {
		conn_adopt(w, r->sock); /* could not move it: serve it here */
	}
}

/* The one timer of a loop: the clock, the deadlines of every connection (send, linger,
 * head and body, idle), and the stop flag. */
static void on_tick(urs_result *r, void *user)
{
	struct worker *w = user;
	(void)r;
	w->now = clock_now();
	for (struct conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (c->nsending && !c->aborted && w->now - c->send_started > limits.send_timeout) {
			conn_abort(c);
			continue;
		}
		if (c->lingering) {
			if (w->now - c->linger_started > limits.linger_timeout || w->stopped)
				rx_cancel(c);
			continue;
		}
		if (c->closing)
			continue;
		if (http_conn_check_deadline(&c->h, w->now)) {
			flush(c);
			conn_close_soon(c);
		} else if (http_conn_idle(&c->h) && !c->nsending && !c->unparsed.len &&
			   w->now - c->last_active > limits.idle_timeout) {
			conn_close_soon(c); /* between requests: closed without a response */
		}
	}
	if (!w->stopped || w->conns)
		urs_then(urs_sleep(w->loop, TICK_MS / 1000.0), on_tick, w);
}

/* Posted by the main thread on SIGINT/SIGTERM (urs_loop_post wakes the loop at once): stop
 * accepting; responses in flight are still sent, then each connection closes. */
static void begin_stop(urs_loop *loop, void *arg)
{
	struct worker *w = arg;
	(void)loop;
	if (w->stopped)
		return;
	w->stopped = true;
	if (w->l) {
		urs_cancel(w->acc);
		urs_sock_free(w->l);
		w->l = NULL;
	}
	for (struct conn *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (c->lingering)
			rx_cancel(c);
		else
			conn_close_soon(c);
	}
}

/* Sets up the loop and its listener; on failure w->failed names the call that failed. */
static int worker_listen(struct worker *w)
{
	/* Batched waits: up to 32 completions per wake, at most 50 us after the first. */
	urs_loop_opts o = { .buf_count = buf_count, .buf_size = buf_size, .batch = 32, .batch_wait_us = 50 };
	int one = 1, ret;
	if ((ret = urs_loop_new(&w->loop, &o)) < 0) {
		w->failed = "urs_loop_new";
		return ret;
	}
	if (distribute != DIST_REUSEPORT && w->id > 0)
		return 0; /* the acceptor (loop 0) hands connections over */
	if ((ret = urs_socket(w->loop, w->addr.u.sa.sa_family, SOCK_STREAM, 0, &w->l)) < 0)
		w->failed = "socket";
	else if ((ret = urs_setsockopt(w->l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) < 0)
		w->failed = "setsockopt SO_REUSEADDR";
	else if ((ret = urs_setsockopt(w->l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) < 0)
		w->failed = "setsockopt SO_REUSEPORT";
	else if ((ret = urs_bind(w->l, &w->addr)) < 0)
		w->failed = "bind";
	/* Answers go out at once (no Nagle wait for the peer's ACK); accepted TCP sockets
	 * inherit TCP_NODELAY from the listener, so no call per connection. */
	else if (w->addr.u.sa.sa_family != AF_UNIX &&
		 (ret = urs_setsockopt(w->l, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) < 0)
		w->failed = "setsockopt TCP_NODELAY";
	else if ((ret = urs_listen(w->l, 4096)) < 0)
		w->failed = "listen";
	else if ((ret = urs_getsockname(w->l, &w->addr)) < 0)
		w->failed = "getsockname";
	return ret;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->err = worker_listen(w);
	sem_post(&w->ready);
	if (w->err < 0) {
		urs_sock_free(w->l);
		urs_loop_free(w->loop);
		return NULL;
	}
	w->now = clock_now();
	if (w->l)
		w->acc = urs_accept_stream(w->l, on_conn, w);
	urs_then(urs_sleep(w->loop, TICK_MS / 1000.0), on_tick, w);
	urs_loop_run(w->loop, URS_RUN_UNTIL_IDLE); /* every connection's close callback ran */
	urs_loop_stats st;
	urs_loop_stats_get(w->loop, &st);
	w->enters = st.enters;
	urs_loop_free(w->loop);
	return NULL;
}

static void usage(const char *argv0, FILE *f)
{
	fprintf(f,
		"usage: %s [ADDRESS] [options]     ADDRESS: 127.0.0.1:8080 (default), [::1]:0 ...\n"
		"  -t, --threads N          loops, one per thread (1)\n"
		"      --accept HOW         how connections reach the loops: reuseport (each loop\n"
		"                           listens, the kernel spreads them), roundrobin or\n"
		"                           leastloaded (loop 0 accepts and hands each over)\n"
		"      --max-target N       request-target bytes, else 414 (8192)\n"
		"      --max-header-bytes N header field names + values, else 431 (8192)\n"
		"      --max-headers N      header fields, else 431 (100)\n"
		"      --max-body N         body bytes, else 413 (1048576)\n"
		"      --max-requests N     per connection, then Connection: close; 0 = none (10000)\n"
		"      --max-output N       response bytes queued behind a send before reading\n"
		"                           stops (65536)\n"
		"      --header-timeout S   seconds to send a whole request head, else 408 (10)\n"
		"      --body-timeout S     seconds to send a whole body after its head, else 408 (30)\n"
		"      --idle-timeout S     seconds a keep-alive connection may wait for a request (60)\n"
		"      --send-timeout S     seconds a send may wait for the client to read, else\n"
		"                           the connection is reset (30)\n"
		"      --linger-timeout S   seconds to drain the client after the final response;\n"
		"                           0 = close at once (2)\n"
		"      --buffers N --buffer-size N   provided buffers per loop (4096 x 16384)\n"
		"      --no-send-pool       send responses from the batch's own memory, not from\n"
		"                           the loop's registered send buffers\n"
		"  -d, --dir DIR            GET/HEAD serve the files under DIR (sendfile), nothing\n"
		"                           outside it\n",
		argv0);
}

/* Options are read whole and range-checked: "-5", "10k", "soon" or "" are refused with the
 * reason, never read as 0 or as a prefix. */
static bool opt_count(const char *name, const char *text, unsigned long long min,
		      unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
	if (text[0] < '0' || text[0] > '9' || errno || *end || v < min || v > max) {
		fprintf(stderr, "http_echo: --%s '%s': expected a whole number from %llu to %llu\n",
			name, text, min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool opt_seconds(const char *name, const char *text, double min, double max, double *out)
{
	char *end;
	double v = text[0] >= '0' && text[0] <= '9' ? strtod(text, &end) : NAN;
	if (isnan(v) || *end || v < min || v > max) {
		fprintf(stderr, "http_echo: --%s '%s': expected seconds from %g to %g\n", name, text,
			min, max);
		return false;
	}
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	http_limits_default(&limits);
	unsigned long long threads = 1;
	static const struct option opts[] = {
		{ "threads", required_argument, 0, 't' },
		{ "max-header-bytes", required_argument, 0, 1 },
		{ "max-headers", required_argument, 0, 2 },
		{ "max-body", required_argument, 0, 3 },
		{ "max-requests", required_argument, 0, 4 },
		{ "header-timeout", required_argument, 0, 5 },
		{ "idle-timeout", required_argument, 0, 6 },
		{ "buffers", required_argument, 0, 7 },
		{ "buffer-size", required_argument, 0, 8 },
		{ "max-target", required_argument, 0, 9 },
		{ "max-output", required_argument, 0, 10 },
		{ "body-timeout", required_argument, 0, 11 },
		{ "send-timeout", required_argument, 0, 12 },
		{ "linger-timeout", required_argument, 0, 13 },
		{ "accept", required_argument, 0, 14 },
		{ "no-send-pool", no_argument, 0, 15 },
		{ "dir", required_argument, 0, 'd' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const unsigned long long GiB = 1ull << 30;
	const double DAY = 86400;
	int idx = -1;
	for (int ch; (ch = getopt_long(argc, argv, "t:d:h", opts, &idx)) != -1; idx = -1) {
		const char *name = idx >= 0 ? opts[idx].name : "threads";
		unsigned long long v = 0;
		bool ok = true;
		switch (ch) {
		case 't': ok = opt_count(name, optarg, 1, 256, &threads); break;
		case 1: ok = opt_count(name, optarg, 1, GiB, &v), limits.max_header_bytes = v; break;
		case 2: ok = opt_count(name, optarg, 1, 1u << 20, &v), limits.max_headers = (unsigned)v; break;
		case 3: ok = opt_count(name, optarg, 0, GiB, &v), limits.max_body = v; break;
		case 4: ok = opt_count(name, optarg, 0, UINT32_MAX, &v), limits.max_requests = (unsigned)v; break;
		case 5: ok = opt_seconds(name, optarg, 0.001, DAY, &limits.header_timeout); break;
		case 6: ok = opt_seconds(name, optarg, 0.001, DAY, &limits.idle_timeout); break;
		case 7:
			ok = opt_count(name, optarg, 1, 32768, &v) && !(v & (v - 1));
			if (!ok && v)
				fprintf(stderr, "http_echo: --buffers '%s': expected a power of two\n", optarg);
			buf_count = (unsigned)v;
			break;
		case 8: ok = opt_count(name, optarg, 64, 1u << 20, &v), buf_size = (unsigned)v; break;
		case 9: ok = opt_count(name, optarg, 1, GiB, &v), limits.max_target = v; break;
		case 10: ok = opt_count(name, optarg, 1, GiB, &v), limits.max_output = v; break;
		case 11: ok = opt_seconds(name, optarg, 0.001, DAY, &limits.body_timeout); break;
		case 12: ok = opt_seconds(name, optarg, 0.001, DAY, &limits.send_timeout); break;
		case 13: ok = opt_seconds(name, optarg, 0, 3600, &limits.linger_timeout); break;
		case 14:
			if (!strcmp(optarg, "reuseport"))
				distribute = DIST_REUSEPORT;
			else if (!strcmp(optarg, "roundrobin"))
				distribute = DIST_ROUND_ROBIN;
			else if (!strcmp(optarg, "leastloaded"))
				distribute = DIST_LEAST_LOADED;
			else {
				fprintf(stderr, "http_echo: --accept '%s': expected reuseport, "
						"roundrobin or leastloaded\n", optarg);
				ok = false;
			}
			break;
		case 15: send_pool = false; break;
		case 'd':
			if (root_fd >= 0)
				close(root_fd);
			root_fd = open(optarg, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (root_fd < 0) {
				fprintf(stderr, "http_echo: --dir '%s': %s\n", optarg, strerror(errno));
				return 2;
			}
			files.open = file_open;
			break;
		case 'h': usage(argv[0], stdout); return 0;
		default: usage(argv[0], stderr); return 2;
		}
		if (!ok)
			return 2;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "http_echo: one address expected, got '%s' and '%s'\n", argv[optind],
			argv[optind + 1]);
		return 2;
	}
	urs_addr addr;
	const char *text = optind < argc ? argv[optind] : "127.0.0.1:8080";
	if (urs_addr_parse(&addr, text) < 0 || addr.u.sa.sa_family == AF_UNIX) {
		fprintf(stderr, "http_echo: bad address '%s': expected 127.0.0.1:PORT, [::1]:PORT...\n",
			text);
		return 2;
	}
	/* Signals are for the main thread's sigwait only; the loops never see them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN); /* ursock never raises it; nor should anything else here */

	struct worker *ws = calloc((size_t)threads, sizeof(*ws));
	workers = ws;
	nworkers = (int)threads;
	/* With an acceptor, loop 0 (the one that accepts) starts last, once every loop it may
	 * hand a connection to exists; with SO_REUSEPORT, loop 0 first picks the port. */
	for (int n = 0; n < (int)threads; n++) {
		int i = distribute == DIST_REUSEPORT ? n : (int)threads - 1 - n;
		ws[i].id = i;
		ws[i].addr = i && distribute == DIST_REUSEPORT ? ws[0].addr : addr;
		sem_init(&ws[i].ready, 0, 0);
		pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);
		sem_wait(&ws[i].ready);
		if (ws[i].err < 0) {
			/* Name the call that failed: "listen" for a refused io_uring misleads. */
			int e = -ws[i].err;
			if (strcmp(ws[i].failed, "urs_loop_new"))
				fprintf(stderr, "http_echo: %s %s: %s\n", ws[i].failed, text, strerror(e));
			else if (e == EPERM || e == ENOSYS)
				fprintf(stderr, "http_echo: urs_loop_new: io_uring unavailable: %s\n",
					strerror(e));
			else
				fprintf(stderr, "http_echo: urs_loop_new: %s\n", strerror(e));
			atomic_store(&stopping, 1);
			for (int k = 0; k < (int)threads; k++)
				if (ws[k].loop && k != i)
					urs_loop_post(ws[k].loop, begin_stop, &ws[k]);
			for (int k = 0; k < (int)threads; k++)
				if (ws[k].loop || k == i)
					pthread_join(ws[k].th, NULL);
			free(ws);
			return 1;
		}
	}
	char shown[URS_ADDR_STRLEN];
	urs_addr_format(&ws[0].addr, shown, sizeof(shown));
	printf("listening on %s\n", shown);
	fflush(stdout);

	int sig;
	sigwait(&set, &sig);
	atomic_store(&stopping, 1);
	for (int i = 0; i < (int)threads; i++)
		urs_loop_post(ws[i].loop, begin_stop, &ws[i]);
	unsigned long long enters = 0;
	for (int i = 0; i < (int)threads; i++) {
		pthread_join(ws[i].th, NULL);
		enters += ws[i].enters;
	}
	fprintf(stderr, "syscalls %llu\n", enters); /* io_uring_enter calls, for the benchmark */
	free(ws);
	return 0;
}
