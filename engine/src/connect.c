/* SPDX-License-Identifier: MIT */
/* Conveniences over the socket calls, as Python's socket module has them:
 * create_connection (resolve, then happy eyeballs, RFC 8305) and create_server. The
 * connection op waits outside the kernel: its sub-ops (the lookup, the connect attempts,
 * the 250 ms stagger timer) are ordinary ops whose callbacks move it on, and it is
 * decided by the first attempt to connect, by the last one to fail, or by a cancel. Every
 * sub-op holds a reference on the shared state, so a callback that comes after the
 * decision (a cancelled attempt) still finds it, and closes what it brings. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { STAGGER_MS = 250 };

struct attempt {
	struct he *he;
	urs_sock *sock;
	urs_future f;
	bool live;
};

struct he {
	urs_loop *loop;
	struct urs_op *op;      /* until decided */
	bool done;
	double timeout;
	urs_addr source;
	urs_future gai, timer;
	urs_addr *addrs;        /* in the order to try them */
	size_t naddrs, next;
	struct attempt *att;    /* one per address */
	uint32_t inflight;      /* attempts not yet resolved */
	int last_err;
	uint32_t refs;
};

static void unref(struct he *he)
{
	if (--he->refs)
		return;
	free(he->addrs);
	free(he->att);
	free(he);
}

/* Stops whatever is still running for he: the lookup, the timer, every attempt (their
 * callbacks close their sockets). */
static void stop_all(struct he *he)
{
	urs_cancel(he->gai);
	urs_cancel(he->timer);
	for (size_t i = 0; i < he->next; i++)
		if (he->att[i].live)
			urs_cancel(he->att[i].f);
}

static void decide(struct he *he, int res, urs_sock *winner)
{
	he->done = true;
	stop_all(he);
	struct urs_op *op = he->op;
	if (op && op->state == OP_WAITING) {
		urs__op_m(op)->newsock = winner;
		urs__op_unpark(op);
		urs__op_decide(op, res);
	} else if (winner) {
		urs_sock_free(winner);
	}
}

static void start_next(struct he *he);

static void conn_cb(urs_result *r, void *user)
{
	struct attempt *a = user;
	struct he *he = a->he;
	a->live = false;
	he->inflight--;
	if (he->done || r->res != 0) {
		urs_sock_free(a->sock); /* lost the race, or failed: closed */
		a->sock = NULL;
		if (!he->done) {
			he->last_err = r->res;
			if (he->next < he->naddrs)
				start_next(he); /* a failure starts the next one at once */
			else if (!he->inflight)
				decide(he, he->last_err, NULL);
		}
	} else {
		urs_sock *s = a->sock;
		a->sock = NULL;
		decide(he, 0, s); /* the first to connect wins; the rest are cancelled */
	}
	unref(he);
}

static void timer_cb(urs_result *r, void *user)
{
	struct he *he = user;
	if (r->res == 0 && !he->done && he->next < he->naddrs)
		start_next(he);
	unref(he);
}

/* The next address's attempt, and the stagger timer for the one after it. An attempt that
 * fails at once (no socket, a bind refused) counts as failed and the next goes. */
static void start_next(struct he *he)
{
	while (!he->done && he->next < he->naddrs) {
		struct attempt *a = &he->att[he->next];
		const urs_addr *to = &he->addrs[he->next++];
		a->he = he;
		int ret = urs_socket(he->loop, to->u.sa.sa_family, SOCK_STREAM, 0, &a->sock);
		if (ret == 0 && he->timeout >= 0)
			ret = urs_settimeout(a->sock, he->timeout);
		if (ret == 0 && he->source.len)
			ret = urs_bind(a->sock, &he->source);
		urs_future f = ret == 0 ? urs_connect(a->sock, to) : urs__future_err(ret);
		if (ret == 0 && (ret = urs_then(f, conn_cb, a)) == 0) {
			a->f = f;
			a->live = true;
			he->inflight++;
			he->refs++;
			break;
		}
		he->last_err = ret;
		if (a->sock)
			urs_sock_free(a->sock);
		a->sock = NULL;
	}
	urs_cancel(he->timer);
	memset(&he->timer, 0, sizeof(he->timer));
	if (he->done)
		return;
	if (he->next < he->naddrs) {
		urs_future t = urs_sleep(he->loop, STAGGER_MS / 1000.0);
		if (urs_then(t, timer_cb, he) == 0) {
			he->timer = t;
			he->refs++;
		}
	} else if (!he->inflight) {
		decide(he, he->last_err ? he->last_err : -ENODATA, NULL);
	}
}

/* RFC 8305 section 4: the families interleaved, the first address of the preferred one
 * (IPv6) first; within a family the resolver's order (RFC 6724). */
static int order(struct he *he, const urs_addrinfo *ai)
{
	size_t n6 = 0, n4 = 0;
	for (const urs_addrinfo *a = ai; a; a = a->next) {
		if (a->family == AF_INET6)
			n6++;
		else if (a->family == AF_INET)
			n4++;
	}
	he->naddrs = n6 + n4;
	if (!he->naddrs)
		return -ENODATA;
	he->addrs = calloc(he->naddrs, sizeof(*he->addrs));
	he->att = calloc(he->naddrs, sizeof(*he->att));
	if (!he->addrs || !he->att)
		return -ENOMEM;
	const urs_addrinfo *p6 = ai, *p4 = ai;
	size_t k = 0;
	bool six = true;
	while (k < he->naddrs) {
		const urs_addrinfo **pp = six ? &p6 : &p4;
		int fam = six ? AF_INET6 : AF_INET;
		while (*pp && (*pp)->family != fam)
			*pp = (*pp)->next;
		if (*pp) {
			he->addrs[k++] = (*pp)->addr;
			*pp = (*pp)->next;
		}
		six = !six;
	}
	return 0;
}

static void lookup_cb(urs_result *r, void *user)
{
	struct he *he = user;
	if (!he->done) {
		int ret = r->res < 0 ? r->res : order(he, r->ai);
		if (ret < 0)
			decide(he, ret, NULL);
		else
			start_next(he);
	}
	urs_addrinfo_free(r->ai);
	r->ai = NULL;
	unref(he);
}

/* ---------------------------------------------------------------- the op kind */

static bool cc_start(struct urs_op *op)
{
	(void)op;
	return false; /* never submitted: its sub-ops decide it */
}

static bool cc_cancel(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	struct he *he = x->ext;
	he->done = true;
	stop_all(he);
	return true;
}

static void cc_decided(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	struct he *he = x->ext;
	he->op = NULL;
	if (!he->done) { /* the loop's teardown */
		he->done = true;
		stop_all(he);
	}
}

static void cc_result(struct urs_op *op, urs_result *r)
{
	struct urs_opx *x = urs__op_x(op);
	(void)r;
	struct he *he = x->ext;
	x->ext = NULL;
	unref(he);
}

const struct urs_op_kind urs__kind_create_conn = {
	.name = "create_connection",
	.flags = KF_X | KF_M,
	.start = cc_start,
	.prepare = urs__never_prepare,
	.exec = urs__never_exec,
	.complete = urs__complete_as_is,
	.cancel = cc_cancel,
	.decided = cc_decided,
	.result = cc_result,
};

URS_API urs_future urs_create_connection(urs_loop *loop, const char *host, const char *port,
					 double timeout, const urs_addr *source)
{
	/* A timeout of 0 (non-blocking) has no attempt to wait for: Python's connect would
	 * raise at once, so the call is refused. */
	if (!loop || !host || !port || isnan(timeout) || timeout == 0)
		return urs__future_err(-EINVAL);
	if (!urs__mine(loop))
		return urs__future_err(-EXDEV);
	if (source && source->u.sa.sa_family != AF_INET && source->u.sa.sa_family != AF_INET6)
		return urs__future_err(-EAFNOSUPPORT);
	struct he *he = calloc(1, sizeof(*he));
	if (!he)
		return urs__future_err(-ENOMEM);
	he->loop = loop;
	he->timeout = timeout < 0 ? -1.0 : timeout;
	he->last_err = -ECONNREFUSED;
	if (source)
		he->source = *source;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	if (source)
		hints.ai_family = source->u.sa.sa_family; /* only what the source can reach */
	urs_future g = urs_getaddrinfo(loop, host, port, &hints);
	int ret = urs_future_error(g);
	struct urs_op *op = NULL;
	if (ret == 0)
		ret = urs__op_new(loop, OPK_CREATE_CONN, NULL, &op);
	if (ret < 0) {
		urs_detach(g);
		urs_cancel(g);
		free(he);
		return urs__future_err(ret);
	}
	urs_then(g, lookup_cb, he); /* a fresh future: cannot fail */
	he->gai = g;
	he->refs = 2; /* the op, the lookup */
	he->op = op;
	urs__op_x(op)->ext = he;
	urs_future f = urs__op_start(op);
	urs__op_park(op, NULL);
	return f;
}

/* ---------------------------------------------------------------- create_server */

URS_API int urs_create_server(urs_loop *loop, const urs_addr *addr, int backlog, unsigned flags,
			      urs_sock **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!loop || !addr || (flags & ~(unsigned)(URS_SERVER_REUSE_PORT | URS_SERVER_DUALSTACK)))
		return -EINVAL;
	if (!urs__mine(loop))
		return -EXDEV;
	int family = addr->u.sa.sa_family;
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if ((flags & URS_SERVER_DUALSTACK) && family != AF_INET6)
		return -EINVAL; /* as Python: dual-stack needs an IPv6 address */
	urs_sock *s;
	int ret = urs_socket(loop, family, SOCK_STREAM, 0, &s);
	if (ret < 0)
		return ret;
	int one = 1, v6only = (flags & URS_SERVER_DUALSTACK) ? 0 : 1;
	ret = urs_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ret == 0 && (flags & URS_SERVER_REUSE_PORT))
		ret = urs_setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (ret == 0 && family == AF_INET6)
		ret = urs_setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (ret == 0)
		ret = urs_bind(s, addr);
	if (ret == 0)
		ret = urs_listen(s, backlog < 0 ? SOMAXCONN : backlog);
	if (ret < 0) {
		urs_sock_free(s);
		return ret;
	}
	*out = s;
	return 0;
}
