/* SPDX-License-Identifier: MIT */
/* Host names resolved without blocking the loop: urs_getaddrinfo. A numeric host (or none)
 * is parsed at once by getaddrinfo(3) with AI_NUMERICHOST, which never asks a server: the
 * op is decided at the call and delivered at the next turn like every result. A name goes
 * to c-ares where the library is built with it (URS_HAVE_CARES: the Makefile finds
 * libc-ares-dev, or URS_CARES=0 leaves it out); without it a name fails at once, -ENOSYS.
 *
 * c-ares's sockets are driven by the loop itself, no thread. Each call has its own c-ares
 * channel (so a cancel ends exactly that call). c-ares asks us to make its sockets
 * (ares_set_socket_functions): each becomes an internal urs_sock, so the loop owns the fd
 * and closes it only once nothing of ours names it, and the leak check counts it like any
 * socket. c-ares says which of them it wants to read or write (the socket-state callback):
 * for each, a one-shot poll op (OPK_POLL: IORING_OP_POLL_ADD on io_uring, readiness on
 * epoll); its timeouts are a urs_sleep re-armed at c-ares's next deadline after every step.
 * The getaddrinfo op itself waits outside the kernel and is decided by whichever of those
 * finishes the query. Local files (/etc/hosts, resolv.conf, /etc/services) are read
 * synchronously, as every resolver does; the network is never waited for. */
#include "internal.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#ifndef URS_HAVE_CARES
#define URS_HAVE_CARES 0
#endif
#if URS_HAVE_CARES
#include <ares.h>
#include <pthread.h>
#endif

/* The ai_flags urs_getaddrinfo takes: getaddrinfo(3)'s that mean something here. */
enum {
	AI_TAKEN = AI_CANONNAME | AI_NUMERICHOST | AI_PASSIVE | AI_NUMERICSERV | AI_V4MAPPED |
		   AI_ALL | AI_ADDRCONFIG
};

URS_API void urs_addrinfo_free(urs_addrinfo *ai)
{
	while (ai) {
		urs_addrinfo *next = ai->next;
		free(ai->canonname);
		free(ai);
		ai = next;
	}
}

/* Appends an entry to the list *tail ends; NULL when out of memory. */
static urs_addrinfo *add(urs_addrinfo ***tail, int family, int socktype, int protocol,
			 const struct sockaddr *sa, size_t len)
{
	urs_addrinfo *a = calloc(1, sizeof(*a));
	if (!a || urs_addr_from_sockaddr(&a->addr, sa, (socklen_t)len) < 0) {
		free(a);
		return NULL;
	}
	a->family = family;
	a->socktype = socktype;
	a->protocol = protocol;
	**tail = a;
	*tail = &a->next;
	return a;
}

/* ---------------------------------------------------------------- numeric hosts */

/* getaddrinfo(3)'s errors as our -errno: the same as c-ares's for the same cause. */
static int gai_err(int e)
{
	switch (e) {
	case EAI_NONAME:
		return -ENOENT; /* AI_NUMERICHOST and a name, or an empty host */
	case EAI_ADDRFAMILY:
	case EAI_NODATA:
		return -ENODATA; /* an address of another family than asked */
	case EAI_SERVICE:
		return -ESRCH;
	case EAI_FAMILY:
		return -EAFNOSUPPORT;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_BADFLAGS:
	case EAI_SOCKTYPE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* A numeric host, or none: getaddrinfo(3)'s own answer (Python's: one entry per socket
 * type when the hints name none, the protocol filled in, scope ids, V4MAPPED). Returns the
 * count with *out, or -errno; *name is set (and nothing else) for a host that is a name to
 * resolve. */
static int numeric(const char *host, const char *port, const struct addrinfo *hints,
		   urs_addrinfo **out, bool *name)
{
	struct addrinfo h = { 0 }, *res;
	if (hints) {
		h.ai_family = hints->ai_family;
		h.ai_socktype = hints->ai_socktype;
		h.ai_protocol = hints->ai_protocol;
		h.ai_flags = hints->ai_flags;
	}
	bool asked = h.ai_flags & AI_NUMERICHOST;
	h.ai_flags |= AI_NUMERICHOST;
	*out = NULL;
	*name = false;
	int e = getaddrinfo(host, port, &h, &res);
	if (e == EAI_NONAME && host && *host && !asked) {
		*name = true;
		return 0;
	}
	if (e)
		return gai_err(e);
	urs_addrinfo *head = NULL, **tail = &head;
	int n = 0;
	bool ok = true;
	for (const struct addrinfo *a = res; a && ok; a = a->ai_next, n++)
		ok = add(&tail, a->ai_family, a->ai_socktype, a->ai_protocol, a->ai_addr,
			 a->ai_addrlen) != NULL;
	if (ok && head && res->ai_canonname)
		ok = (head->canonname = strdup(res->ai_canonname)) != NULL;
	freeaddrinfo(res);
	if (!ok) {
		urs_addrinfo_free(head);
		return -ENOMEM;
	}
	*out = head;
	return n;
}

/* The msgflags of a getaddrinfo op decided at its call: its ext is its list itself. */
enum { GAI_NUMERIC = 1 };

static void numeric_result(struct urs_op *op, urs_result *r)
{
	struct urs_opx *x = urs__op_x(op);
	if (op->res > 0)
		r->ai = x->ext;
	else
		urs_addrinfo_free(x->ext);
	x->ext = NULL;
}

static urs_future numeric_future(urs_loop *loop, int res, urs_addrinfo *ai)
{
	struct urs_op *op;
	int ret = urs__op_new(loop, OPK_GETADDRINFO, NULL, &op);
	if (ret < 0) {
		urs_addrinfo_free(ai);
		return urs__future_err(ret);
	}
	struct urs_opx *x = urs__op_x(op);
	x->msgflags = GAI_NUMERIC;
	x->ext = ai;
	/* Never submitted: decided now, delivered at the next turn like every result. */
	urs_future f = urs__op_start(op);
	urs__op_decide(op, res);
	return f;
}

static bool lookup_start(struct urs_op *op)
{
	(void)op;
	return false; /* never submitted: decided at its call, or by its sub-ops */
}

/* ---------------------------------------------------------------- the poll kind */

/* A one-shot readiness wait on a socket (c-ares's): resolves to the poll mask. */
static int poll_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	struct urs_opx *x = urs__op_x(op);
	io_uring_prep_poll_add(sqe, op->sock->fd, (unsigned)x->msgflags);
	return 0;
}

static int poll_exec(struct urs_op *op, uint32_t *want)
{
	struct urs_opx *x = urs__op_x(op);
	struct pollfd p = { .fd = op->sock->fd, .events = (short)x->msgflags };
	int n = poll(&p, 1, 0);
	if (n < 0)
		return urs__sys(n);
	if (n == 0 || !p.revents)
		return urs__ep_again(want, (x->msgflags & POLLIN) ? EPOLLIN : EPOLLOUT);
	return p.revents;
}

const struct urs_op_kind urs__kind_poll = {
	.name = "poll",
	.flags = KF_SOCK | KF_RETRY | KF_X,
	.prepare = poll_prepare,
	.exec = poll_exec,
	.complete = urs__complete_as_is,
	.retire = urs__sock_retire,
};

#if URS_HAVE_CARES
/* ================================================================ names, on c-ares */

struct watch {
	int fd;
	urs_sock *sock;        /* our socket object for c-ares's fd, freed with the lookup */
	bool closed;           /* c-ares closed it: our close is under way */
	urs_future rd, wr;     /* the polls armed for it (gen 0: none) */
	bool want_rd, want_wr; /* what c-ares last asked for */
	struct watch *next;
};

struct rs {
	urs_loop *loop;
	struct urs_op *op;     /* the getaddrinfo op until it is decided */
	ares_channel ch;
	bool live;             /* ch is made and not destroyed */
	bool done;             /* the query ended: res (and ai) hold its outcome */
	int res;
	urs_addrinfo *ai;
	int socktype, protocol, flags; /* the hints, for the answer's entries */
	urs_future timer;
	uint32_t refs;         /* the op and every sub-op armed for it */
	struct watch *watches;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status = ARES_SUCCESS;

static void lib_init(void)
{
	lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

/* c-ares's outcome as our -errno (Python's gaierror codes have no errno: these are the
 * nearest, and every one is documented in the header). */
static int ares_err(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENOTFOUND:
	case ARES_ENONAME:
		return -ENOENT;      /* no such name (NXDOMAIN) */
	case ARES_ENODATA:
		return -ENODATA;     /* the name has no address of that family */
	case ARES_ETIMEOUT:
		return -ETIMEDOUT;
	case ARES_ECONNREFUSED:
	case ARES_EREFUSED:
		return -ECONNREFUSED;
	case ARES_ESERVFAIL:
		return -EAGAIN;      /* a temporary failure (EAI_AGAIN) */
	case ARES_EFORMERR:
	case ARES_EBADRESP:
	case ARES_ENOTIMP:
		return -EBADMSG;
	case ARES_ENOMEM:
		return -ENOMEM;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return -ECANCELED;
	case ARES_ESERVICE:
		return -ESRCH;       /* an unknown service name */
	case ARES_EBADNAME:
	case ARES_EBADFAMILY:
	case ARES_EBADFLAGS:
	case ARES_EBADHINTS:
		return -EINVAL;
	case ARES_EFILE:
		return -EIO;
	default:
		return -EIO;
	}
}

static void unref(struct rs *rs)
{
	if (--rs->refs)
		return;
	/* Every poll has run its callback (each held a reference): freeing the socket objects
	 * now drops no callback. A freed socket that is still open is closed. */
	for (struct watch *w = rs->watches, *n; w; w = n) {
		n = w->next;
		urs_sock_free(w->sock);
		free(w);
	}
	urs_addrinfo_free(rs->ai);
	free(rs);
}

static struct watch *watch_of(struct rs *rs, int fd)
{
	for (struct watch *w = rs->watches; w; w = w->next)
		if (w->fd == fd && !w->closed)
			return w;
	return NULL;
}

/* ---------------------------------------------------------------- c-ares's sockets */

/* c-ares's socket hooks (ares_set_socket_functions) report a failure as ARES_SOCKET_BAD
 * with errno set, as socket(2) does: errno here is c-ares's contract, not ours, and never
 * reaches a ursock caller (a failed lookup resolves to its -errno through the op). */
static ares_socket_t sock_open(int family, int type, int proto, void *user)
{
	struct rs *rs = user;
	struct watch *w = calloc(1, sizeof(*w));
	if (!w) {
		errno = ENOMEM;
		return ARES_SOCKET_BAD;
	}
	int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
	if (fd < 0) {
		free(w);
		return ARES_SOCKET_BAD;
	}
	int err = 0;
	w->sock = urs__sock_new(rs->loop, fd, family, type, proto, &err);
	if (!w->sock) {
		close(fd);
		free(w);
		errno = -err;
		return ARES_SOCKET_BAD;
	}
	w->fd = fd;
	w->next = rs->watches;
	rs->watches = w;
	return fd;
}

/* c-ares is done with fd: our socket closes it once its polls have ended (their callbacks
 * still run: the object itself is freed only with the lookup's state). */
static int sock_close(ares_socket_t fd, void *user)
{
	struct watch *w = watch_of(user, fd);
	if (!w)
		return close(fd);
	w->closed = true;
	w->want_rd = w->want_wr = false;
	urs_detach(urs_close(w->sock)); /* -EBADF when the loop's teardown closes it already */
	return 0;
}

static int sock_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len,
			void *user)
{
	(void)user;
	return connect(fd, sa, len);
}

static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
				  struct sockaddr *from, ares_socklen_t *fromlen, void *user)
{
	(void)user;
	return recvfrom(fd, buf, len, flags, from, fromlen);
}

static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *user)
{
	(void)user;
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n };
	return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static const struct ares_socket_functions sock_funcs = {
	.asocket = sock_open,
	.aclose = sock_close,
	.aconnect = sock_connect,
	.arecvfrom = sock_recvfrom,
	.asendv = sock_sendv,
};

/* ---------------------------------------------------------------- driving c-ares */

static void after(struct rs *rs);

struct pollarg {
	struct rs *rs;
	struct watch *w;
	bool rd;
};

static void arm_polls(struct rs *rs);

static void poll_cb(urs_result *r, void *user)
{
	struct pollarg *pa = user;
	struct rs *rs = pa->rs;
	struct watch *w = pa->w;
	urs_future *slot = pa->rd ? &w->rd : &w->wr;
	memset(slot, 0, sizeof(*slot)); /* this poll is over */
	if (r->res > 0 && rs->live && !rs->done && !w->closed) {
		ares_socket_t fd = w->fd;
		ares_process_fd(rs->ch, pa->rd ? fd : ARES_SOCKET_BAD, pa->rd ? ARES_SOCKET_BAD : fd);
		after(rs);
	} else if (rs->live && !rs->done) {
		arm_polls(rs); /* cancelled while c-ares changed its mind: what it wants now */
	}
	free(pa);
	unref(rs);
}

static void arm_poll(struct rs *rs, struct watch *w, bool rd)
{
	urs_future *slot = rd ? &w->rd : &w->wr;
	if (slot->gen > 0 || w->closed)
		return;
	struct pollarg *pa = malloc(sizeof(*pa));
	if (!pa)
		return; /* c-ares's own timeout ends the query */
	pa->rs = rs;
	pa->w = w;
	pa->rd = rd;
	struct urs_op *op;
	if (urs__op_new(rs->loop, OPK_POLL, w->sock, &op) < 0) {
		free(pa);
		return;
	}
	urs__op_x(op)->msgflags = rd ? POLLIN : POLLOUT;
	op->cb = poll_cb;
	op->user = pa;
	op->flags |= OPF_BOUND;
	rs->refs++;
	*slot = urs__op_start(op);
}

/* c-ares's socket-state callback: what it wants of fd now. */
static void sock_state(void *user, ares_socket_t fd, int readable, int writable)
{
	struct rs *rs = user;
	struct watch *w = watch_of(rs, fd);
	if (!w)
		return;
	w->want_rd = readable;
	w->want_wr = writable;
	if (!readable)
		urs_cancel(w->rd);
	if (!writable)
		urs_cancel(w->wr);
}

static void timer_cb(urs_result *r, void *user)
{
	struct rs *rs = user;
	if (r->res == 0 && rs->live && !rs->done) {
		memset(&rs->timer, 0, sizeof(rs->timer));
		ares_process_fd(rs->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* its timeouts */
		after(rs);
	}
	unref(rs);
}

static void arm_timer(struct rs *rs)
{
	urs_cancel(rs->timer);
	memset(&rs->timer, 0, sizeof(rs->timer));
	struct timeval max = { 1, 0 }, tv, *t = ares_timeout(rs->ch, &max, &tv);
	double secs = t ? (double)t->tv_sec + (double)t->tv_usec / 1e6 : 1.0;
	urs_future f = urs_sleep(rs->loop, secs);
	int ret = urs_then(f, timer_cb, rs);
	if (ret == 0) {
		rs->refs++;
		rs->timer = f;
	} else if (!rs->done) {
		/* No timer (the op pool is full, memory): nothing would end a query whose server
		 * stays silent. It fails now instead of hanging. */
		rs->done = true;
		rs->res = ret;
	}
}

/* The query's end: the channel goes (closing c-ares's sockets), the timer is cancelled. */
static void stop(struct rs *rs)
{
	if (rs->live) {
		rs->live = false;
		ares_destroy(rs->ch); /* may call lookup_cb with ARES_EDESTRUCTION: done stays */
	}
	urs_cancel(rs->timer);
	memset(&rs->timer, 0, sizeof(rs->timer));
}

static void finish(struct rs *rs)
{
	stop(rs);
	struct urs_op *op = rs->op;
	if (op && op->state == OP_WAITING) {
		urs__op_unpark(op);
		urs__op_decide(op, rs->res);
	}
}

/* After every step of c-ares: the query ended, or its sockets and timer are armed for what
 * it waits for now. */
static void after(struct rs *rs)
{
	if (rs->done) {
		finish(rs);
		return;
	}
	arm_polls(rs);
	arm_timer(rs);
	if (rs->done)
		finish(rs);
}

static void arm_polls(struct rs *rs)
{
	for (struct watch *w = rs->watches; w; w = w->next) {
		if (w->want_rd)
			arm_poll(rs, w, true);
		if (w->want_wr)
			arm_poll(rs, w, false);
	}
}

/* c-ares's answer as getaddrinfo(3) gives it (Python's): hints without a socket type get
 * one entry per type, the protocol is filled in from the type, and the canonical name is
 * there only when AI_CANONNAME asked for it. */
static urs_addrinfo *convert(const struct rs *rs, const struct ares_addrinfo *res, int *n)
{
	static const struct {
		int socktype, protocol;
	} each[] = { { SOCK_STREAM, IPPROTO_TCP }, { SOCK_DGRAM, IPPROTO_UDP }, { SOCK_RAW, 0 } };
	urs_addrinfo *head = NULL, **tail = &head;
	*n = 0;
	for (const struct ares_addrinfo_node *a = res->nodes; a; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		for (size_t i = 0; i < 3; i++) {
			int st = rs->socktype ? rs->socktype : each[i].socktype;
			int pr = rs->socktype ? rs->protocol : each[i].protocol;
			if (!pr)
				pr = st == SOCK_STREAM ? IPPROTO_TCP : st == SOCK_DGRAM ? IPPROTO_UDP : 0;
			if (!add(&tail, a->ai_family, st, pr, a->ai_addr, a->ai_addrlen))
				goto nomem;
			++*n;
			if (rs->socktype)
				break;
		}
	}
	if (head && (rs->flags & AI_CANONNAME)) {
		const char *cn = res->cnames && res->cnames->name ? res->cnames->name : res->name;
		if (cn && !(head->canonname = strdup(cn)))
			goto nomem;
	}
	return head;
nomem:
	urs_addrinfo_free(head);
	*n = -ENOMEM;
	return NULL;
}

static void lookup_cb(void *user, int status, int timeouts, struct ares_addrinfo *res)
{
	(void)timeouts;
	struct rs *rs = user;
	if (rs->done) {
		ares_freeaddrinfo(res);
		return;
	}
	rs->done = true;
	rs->res = ares_err(status);
	if (status == ARES_SUCCESS && res) {
		rs->ai = convert(rs, res, &rs->res);
		if (!rs->res)
			rs->res = -ENODATA;
	}
	ares_freeaddrinfo(res);
}

/* ---------------------------------------------------------------- the op kinds */

static bool lookup_cancel(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	if (x->msgflags == GAI_NUMERIC)
		return true; /* decided at its call: never reached */
	struct rs *rs = x->ext;
	if (!rs->done) {
		rs->done = true;
		rs->res = -ECANCELED;
	}
	stop(rs);
	return true; /* decided -ECANCELED now */
}

static void lookup_decided(struct urs_op *op)
{
	struct urs_opx *x = urs__op_x(op);
	if (x->msgflags == GAI_NUMERIC)
		return;
	struct rs *rs = x->ext;
	rs->op = NULL;
	if (!rs->done) { /* decided by the loop's teardown or a recovery */
		rs->done = true;
		rs->res = op->res;
	}
	stop(rs);
}

static void lookup_result(struct urs_op *op, urs_result *r)
{
	struct urs_opx *x = urs__op_x(op);
	if (x->msgflags == GAI_NUMERIC) {
		numeric_result(op, r);
		return;
	}
	struct rs *rs = x->ext;
	x->ext = NULL;
	if (op->res > 0) {
		r->ai = rs->ai;
		rs->ai = NULL;
	}
	unref(rs);
}

const struct urs_op_kind urs__kind_getaddrinfo = {
	.name = "getaddrinfo",
	.flags = KF_X,
	.start = lookup_start,
	.prepare = urs__never_prepare,
	.exec = urs__never_exec,
	.complete = urs__complete_as_is,
	.cancel = lookup_cancel,
	.decided = lookup_decided,
	.result = lookup_result,
};

static void ares_flags(int ai_flags, int *out)
{
	static const struct {
		int ai, ares;
	} map[] = {
		{ AI_CANONNAME, ARES_AI_CANONNAME },   { AI_NUMERICHOST, ARES_AI_NUMERICHOST },
		{ AI_PASSIVE, ARES_AI_PASSIVE },       { AI_NUMERICSERV, ARES_AI_NUMERICSERV },
		{ AI_V4MAPPED, ARES_AI_V4MAPPED },     { AI_ALL, ARES_AI_ALL },
		{ AI_ADDRCONFIG, ARES_AI_ADDRCONFIG },
	};
	*out = 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (ai_flags & map[i].ai) {
			*out |= map[i].ares;
			ai_flags &= ~map[i].ai;
		}
}

/* A name (the arguments checked): a query on a channel of its own. */
static urs_future ares_lookup(urs_loop *loop, const char *host, const char *port,
			      const struct addrinfo *hints)
{
	struct ares_addrinfo_hints h = { 0 };
	if (hints) {
		ares_flags(hints->ai_flags, &h.ai_flags); /* every flag taken has its match */
		h.ai_family = hints->ai_family;
		h.ai_socktype = hints->ai_socktype;
		h.ai_protocol = hints->ai_protocol;
	}
	pthread_once(&lib_once, lib_init);
	if (lib_status != ARES_SUCCESS)
		return urs__future_err(ares_err(lib_status));
	struct rs *rs = calloc(1, sizeof(*rs));
	if (!rs)
		return urs__future_err(-ENOMEM);
	rs->loop = loop;
	rs->refs = 1;
	rs->socktype = h.ai_socktype;
	rs->protocol = h.ai_protocol;
	rs->flags = hints ? hints->ai_flags : 0;
	struct ares_options o;
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = rs;
	int mask = ARES_OPT_SOCK_STATE_CB;
	if (loop->dns_timeout_ms > 0) {
		o.timeout = loop->dns_timeout_ms;
		mask |= ARES_OPT_TIMEOUTMS;
	}
	if (loop->dns_tries > 0) {
		o.tries = loop->dns_tries;
		mask |= ARES_OPT_TRIES;
	}
	int st = ares_init_options(&rs->ch, &o, mask);
	if (st != ARES_SUCCESS) {
		free(rs);
		return urs__future_err(ares_err(st));
	}
	rs->live = true;
	ares_set_socket_functions(rs->ch, &sock_funcs, rs);
	if (loop->dns_servers &&
	    (st = ares_set_servers_ports_csv(rs->ch, loop->dns_servers)) != ARES_SUCCESS) {
		ares_destroy(rs->ch);
		free(rs);
		return urs__future_err(ares_err(st));
	}
	struct urs_op *op;
	int ret = urs__op_new(loop, OPK_GETADDRINFO, NULL, &op);
	if (ret < 0) {
		ares_destroy(rs->ch);
		free(rs);
		return urs__future_err(ret);
	}
	urs__op_x(op)->ext = rs;
	rs->op = op;
	urs_future f = urs__op_start(op); /* waits outside the kernel */
	urs__op_park(op, NULL);
	/* /etc/hosts and bad input end here, at once: decided now, delivered at the next
	 * turn like every result. */
	ares_getaddrinfo(rs->ch, host, port, &h, lookup_cb, rs);
	after(rs);
	return f;
}

static int ares_config(urs_loop *loop, const char *servers, double timeout, int tries)
{
	char *copy = NULL;
	if (servers) {
		/* Checked now, so a bad list fails here rather than in every later lookup. */
		pthread_once(&lib_once, lib_init);
		ares_channel ch;
		struct ares_options o;
		memset(&o, 0, sizeof(o));
		if (lib_status != ARES_SUCCESS || ares_init_options(&ch, &o, 0) != ARES_SUCCESS)
			return -ENOMEM;
		int st = ares_set_servers_ports_csv(ch, servers);
		ares_destroy(ch);
		if (st != ARES_SUCCESS || !*servers)
			return st == ARES_ENOMEM ? -ENOMEM : -EINVAL;
		if (!(copy = strdup(servers)))
			return -ENOMEM;
	}
	free(loop->dns_servers);
	loop->dns_servers = copy;
	loop->dns_timeout_ms = timeout > 0 ? (int)(timeout * 1000 + 0.5) : 0;
	if (timeout > 0 && !loop->dns_timeout_ms)
		loop->dns_timeout_ms = 1;
	loop->dns_tries = tries;
	return 0;
}

#else /* !URS_HAVE_CARES */
/* ================================================================ no resolver */

const struct urs_op_kind urs__kind_getaddrinfo = {
	.name = "getaddrinfo",
	.flags = KF_X,
	.start = lookup_start,
	.prepare = urs__never_prepare,
	.exec = urs__never_exec,
	.complete = urs__complete_as_is,
	.result = numeric_result,
};

#endif /* URS_HAVE_CARES */

/* ---------------------------------------------------------------- the calls */

URS_API urs_future urs_getaddrinfo(urs_loop *loop, const char *host, const char *port,
				   const struct addrinfo *hints)
{
	if (!loop || (!host && !port))
		return urs__future_err(-EINVAL);
	if (!urs__mine(loop))
		return urs__future_err(-EXDEV);
	if (hints && hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET &&
	    hints->ai_family != AF_INET6)
		return urs__future_err(-EAFNOSUPPORT);
	if (hints && (hints->ai_flags & ~AI_TAKEN))
		return urs__future_err(-EINVAL);
	urs_addrinfo *ai;
	bool name;
	int res = numeric(host, port, hints, &ai, &name);
	if (!name)
		return numeric_future(loop, res, ai);
#if URS_HAVE_CARES
	return ares_lookup(loop, host, port, hints);
#else
	return urs__future_err(-ENOSYS); /* a name, and no resolver built in */
#endif
}

URS_API int urs_resolver_config(urs_loop *loop, const char *servers, double timeout, int tries)
{
	if (!loop || timeout != timeout || timeout > 3600 || tries < 0 || tries > 100)
		return -EINVAL;
	if (!urs__mine(loop))
		return -EXDEV;
#if URS_HAVE_CARES
	return ares_config(loop, servers, timeout, tries);
#else
	(void)servers;
	return -ENOSYS;
#endif
}
