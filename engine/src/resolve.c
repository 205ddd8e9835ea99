/* Host names resolved without blocking the loop: urs_getaddrinfo on c-ares, its sockets
 * driven by the loop itself, no thread. Each call has its own c-ares channel (so a cancel
 * ends exactly that call). c-ares asks us to make its sockets (ares_set_socket_functions):
 * each becomes an internal urs_sock, so the loop owns the fd and closes it only once
 * nothing of ours names it, and the leak check counts it like any socket. c-ares says
 * which of them it wants to read or write (the socket-state callback): for each, a one-shot
 * poll op (OPK_POLL: IORING_OP_POLL_ADD on io_uring, readiness on epoll); its timeouts are
 * a urs_sleep re-armed at c-ares's next deadline after every step. The getaddrinfo op
 * itself waits outside the kernel and is decided by whichever of those finishes the
 * query. Local files (/etc/hosts, resolv.conf, /etc/services) are read synchronously, as
 * every resolver does; the network is never waited for. */
#include "internal.h"

#include <ares.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

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
	op->msgflags = rd ? POLLIN : POLLOUT;
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

static urs_addrinfo *convert(const struct ares_addrinfo *res, int *err)
{
	urs_addrinfo *head = NULL, **tail = &head;
	for (const struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
		urs_addrinfo *a = calloc(1, sizeof(*a));
		if (!a || urs_addr_from_sockaddr(&a->addr, n->ai_addr, n->ai_addrlen) < 0) {
			free(a);
			urs_addrinfo_free(head);
			*err = -ENOMEM;
			return NULL;
		}
		a->family = n->ai_family;
		a->socktype = n->ai_socktype;
		a->protocol = n->ai_protocol;
		*tail = a;
		tail = &a->next;
	}
	if (head && res->cnames && res->cnames->name)
		head->canonname = strdup(res->cnames->name);
	else if (head && res->name)
		head->canonname = strdup(res->name);
	*err = 0;
	return head;
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
		int err;
		rs->ai = convert(res, &err);
		rs->res = err;
		if (!rs->ai && !err)
			rs->res = -ENODATA;
		if (rs->ai) {
			int n = 0;
			for (urs_addrinfo *a = rs->ai; a; a = a->next)
				n++;
			rs->res = n;
		}
	}
	ares_freeaddrinfo(res);
}

/* ---------------------------------------------------------------- the op kinds */

static bool lookup_cancel(struct urs_op *op)
{
	struct rs *rs = op->ext;
	if (!rs->done) {
		rs->done = true;
		rs->res = -ECANCELED;
	}
	stop(rs);
	return true; /* decided -ECANCELED now */
}

static void lookup_decided(struct urs_op *op)
{
	struct rs *rs = op->ext;
	rs->op = NULL;
	if (!rs->done) { /* decided by the loop's teardown or a recovery */
		rs->done = true;
		rs->res = op->res;
	}
	stop(rs);
}

static void lookup_result(struct urs_op *op, urs_result *r)
{
	struct rs *rs = op->ext;
	op->ext = NULL;
	if (op->res > 0) {
		r->ai = rs->ai;
		rs->ai = NULL;
	}
	unref(rs);
}

static bool lookup_start(struct urs_op *op)
{
	(void)op;
	return false; /* never submitted: its sub-ops decide it */
}

const struct urs_op_kind urs__kind_getaddrinfo = {
	.name = "getaddrinfo",
	.start = lookup_start,
	.prepare = urs__never_prepare,
	.exec = urs__never_exec,
	.complete = urs__complete_as_is,
	.cancel = lookup_cancel,
	.decided = lookup_decided,
	.result = lookup_result,
};

/* A one-shot readiness wait on a socket (c-ares's): resolves to the poll mask. */
static int poll_prepare(struct urs_op *op, struct io_uring_sqe *sqe)
{
	io_uring_prep_poll_add(sqe, op->sock->fd, (unsigned)op->msgflags);
	return 0;
}

static int poll_exec(struct urs_op *op, uint32_t *want)
{
	struct pollfd p = { .fd = op->sock->fd, .events = (short)op->msgflags };
	int n = poll(&p, 1, 0);
	if (n < 0)
		return urs__sys(n);
	if (n == 0 || !p.revents)
		return urs__ep_again(want, (op->msgflags & POLLIN) ? EPOLLIN : EPOLLOUT);
	return p.revents;
}

const struct urs_op_kind urs__kind_poll = {
	.name = "poll",
	.flags = KF_SOCK | KF_RETRY,
	.prepare = poll_prepare,
	.exec = poll_exec,
	.complete = urs__complete_as_is,
	.retire = urs__sock_retire,
};

/* ---------------------------------------------------------------- the calls */

static int ares_flags(int ai_flags, int *out)
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
	return ai_flags ? -EINVAL : 0;
}

URS_API urs_future urs_getaddrinfo(urs_loop *loop, const char *host, const char *port,
				   const struct addrinfo *hints)
{
	if (!loop || (!host && !port))
		return urs__future_err(-EINVAL);
	if (!urs__mine(loop))
		return urs__future_err(-EXDEV);
	struct ares_addrinfo_hints h = { 0 };
	if (hints) {
		if (hints->ai_family != AF_UNSPEC && hints->ai_family != AF_INET &&
		    hints->ai_family != AF_INET6)
			return urs__future_err(-EAFNOSUPPORT);
		if (ares_flags(hints->ai_flags, &h.ai_flags) < 0)
			return urs__future_err(-EINVAL);
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
	if (loop->dns_servers && (st = ares_set_servers_ports_csv(rs->ch, loop->dns_servers)) != ARES_SUCCESS) {
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
	op->ext = rs;
	rs->op = op;
	urs_future f = urs__op_start(op); /* waits outside the kernel */
	urs__op_park(op, NULL);
	/* Numeric hosts, /etc/hosts and bad input end here, at once: decided now, delivered
	 * at the next turn like every result. */
	ares_getaddrinfo(rs->ch, host, port, &h, lookup_cb, rs);
	after(rs);
	return f;
}

URS_API int urs_resolver_config(urs_loop *loop, const char *servers, double timeout, int tries)
{
	if (!loop || timeout != timeout || timeout > 3600 || tries < 0 || tries > 100)
		return -EINVAL;
	if (!urs__mine(loop))
		return -EXDEV;
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

URS_API void urs_addrinfo_free(urs_addrinfo *ai)
{
	while (ai) {
		urs_addrinfo *next = ai->next;
		free(ai->canonname);
		free(ai);
		ai = next;
	}
}
