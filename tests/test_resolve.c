/* SPDX-License-Identifier: MIT */
/* Host names: urs_getaddrinfo against a DNS server this test starts on 127.0.0.1 (a small
 * one in Python, its own records; never the network): A and AAAA, NXDOMAIN, no data of a
 * family, a server that never answers (timeout), cancel and loop teardown mid-query, many
 * lookups at once. Numeric hosts, answered at once without a server, as Python's
 * getaddrinfo answers them. Then create_connection with happy eyeballs (a name with both
 * families where IPv6 refuses, and where IPv6 never answers: the 250 ms stagger starts
 * IPv4, which wins, and the IPv6 attempt is cancelled and closed) and create_server
 * (dual-stack, reuse_port). A library built without c-ares (URS_CARES=0) resolves numeric
 * hosts only: the tests of names skip, saying so, and test_numeric_hosts checks that a
 * name is refused with -ENOSYS. */
#define _GNU_SOURCE
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char dns_py[] =
	"import socket, struct, sys\n"
	"R = {'both.test': {1: ['127.0.0.1'], 28: ['::1']},\n"
	"     'v4.test': {1: ['127.0.0.1']},\n"
	"     'v6.test': {28: ['::1']},\n"
	"     'two.test': {1: ['127.0.0.1', '127.0.0.2']}}\n"
	"SILENT = {'slow.test'}\n"
	"s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
	"s.bind(('127.0.0.1', 0))\n"
	"print(s.getsockname()[1], flush=True)\n"
	"while True:\n"
	"    data, peer = s.recvfrom(4096)\n"
	"    if len(data) < 17: continue\n"
	"    qid = struct.unpack('>H', data[:2])[0]\n"
	"    i, labels = 12, []\n"
	"    while i < len(data) and data[i]:\n"
	"        n = data[i]; labels.append(data[i+1:i+1+n].decode('ascii', 'replace')); i += 1 + n\n"
	"    i += 1\n"
	"    qtype = struct.unpack('>H', data[i:i+2])[0]\n"
	"    q = data[12:i+4]\n"
	"    name = '.'.join(labels).lower()\n"
	"    if name in SILENT: continue\n"
	"    rcode, ans = 0, []\n"
	"    if name not in R: rcode = 3\n"
	"    else:\n"
	"        fam = socket.AF_INET if qtype == 1 else socket.AF_INET6\n"
	"        for a in R[name].get(qtype, []):\n"
	"            rd = socket.inet_pton(fam, a)\n"
	"            ans.append(b'\\xc0\\x0c' + struct.pack('>HHIH', qtype, 1, 60, len(rd)) + rd)\n"
	"    h = struct.pack('>HHHHHH', qid, 0x8180 | rcode, 1, len(ans), 0, 0)\n"
	"    s.sendto(h + q + b''.join(ans), peer)\n";

static pid_t dns_pid;
static char dns_servers[64];
static bool have_cares; /* the library resolves names (built with c-ares) */

/* Names need c-ares: without it the test is skipped, with the reason. */
static void need_cares(void)
{
	if (!have_cares) {
		print_message("built without c-ares (URS_CARES=0 or no libc-ares-dev): "
			      "urs_getaddrinfo takes numeric hosts only\n");
		skip();
	}
}

static int start_dns(void **state)
{
	(void)state;
	urs_loop *probe;
	if (urs_loop_new(&probe, NULL) < 0)
		return -1;
	have_cares = urs_resolver_config(probe, NULL, 0, 0) != -ENOSYS;
	urs_loop_free(probe);
	int p[2];
	if (pipe(p) < 0)
		return -1;
	dns_pid = fork();
	if (dns_pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execlp("python3", "python3", "-c", dns_py, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* The port, up to its newline (it may come in more than one write). */
	char line[32] = { 0 };
	size_t got = 0;
	while (got < sizeof(line) - 1 && !strchr(line, '\n')) {
		ssize_t n = read(p[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	if (!strchr(line, '\n'))
		return -1;
	snprintf(dns_servers, sizeof(dns_servers), "127.0.0.1:%d", atoi(line));
	return 0;
}

static int stop_dns(void **state)
{
	(void)state;
	if (dns_pid > 0) {
		kill(dns_pid, SIGTERM);
		waitpid(dns_pid, NULL, 0);
	}
	return 0;
}

static urs_loop *loop_dns(double timeout, int tries)
{
	need_cares();
	urs_loop *loop = tu_loop_new(NULL);
	assert_int_equal(urs_resolver_config(loop, dns_servers, timeout, tries), 0);
	return loop;
}

static bool has(const urs_addrinfo *ai, const char *text)
{
	char s[URS_ADDR_STRLEN];
	for (; ai; ai = ai->next)
		if (urs_addr_format(&ai->addr, s, sizeof(s)) > 0 && !strcmp(s, text))
			return true;
	return false;
}

static void test_a_and_aaaa(void **state)
{
	(void)state;
	urs_loop *loop = loop_dns(2.0, 2);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	urs_result r;
	tu_await_eq(urs_getaddrinfo(loop, "both.test", "8080", &hints), 2, &r);
	assert_true(has(r.ai, "127.0.0.1:8080"));
	assert_true(has(r.ai, "[::1]:8080"));
	for (urs_addrinfo *a = r.ai; a; a = a->next) {
		assert_int_equal(a->socktype, SOCK_STREAM);
		assert_int_equal(a->protocol, IPPROTO_TCP);
	}
	assert_null(r.ai->canonname); /* only with AI_CANONNAME */
	urs_addrinfo_free(r.ai);
	/* No socket type in the hints: one entry per type, as getaddrinfo(3) and Python. */
	tu_await_eq(urs_getaddrinfo(loop, "v4.test", "80", NULL), 3, &r);
	assert_int_equal(r.ai->socktype, SOCK_STREAM);
	assert_int_equal(r.ai->next->socktype, SOCK_DGRAM);
	assert_int_equal(r.ai->next->protocol, IPPROTO_UDP);
	assert_int_equal(r.ai->next->next->socktype, SOCK_RAW);
	urs_addrinfo_free(r.ai);
	hints.ai_flags = AI_CANONNAME;
	tu_await_eq(urs_getaddrinfo(loop, "v4.test", "80", &hints), 1, &r);
	assert_string_equal(r.ai->canonname, "v4.test");
	urs_addrinfo_free(r.ai);
	hints.ai_flags = 0;
	hints.ai_family = AF_INET;
	tu_await_eq(urs_getaddrinfo(loop, "two.test", "53", &hints), 2, &r);
	assert_true(has(r.ai, "127.0.0.1:53"));
	assert_true(has(r.ai, "127.0.0.2:53"));
	assert_int_equal(r.ai->family, AF_INET);
	urs_addrinfo_free(r.ai);
	/* AAAA only */
	hints.ai_family = AF_INET6;
	tu_await_eq(urs_getaddrinfo(loop, "v6.test", "1", &hints), 1, &r);
	assert_true(has(r.ai, "[::1]:1"));
	urs_addrinfo_free(r.ai);
	/* A name with no address of the family asked: -ENODATA */
	assert_int_equal(urs_await(urs_getaddrinfo(loop, "v4.test", "1", &hints), NULL), -ENODATA);
	tu_loop_done(loop);
}

static void test_nxdomain(void **state)
{
	(void)state;
	urs_loop *loop = loop_dns(2.0, 2);
	assert_int_equal(urs_await(urs_getaddrinfo(loop, "nothere.test", "80", NULL), NULL), -ENOENT);
	/* A result nobody takes is freed. */
	assert_int_equal(urs_detach(urs_getaddrinfo(loop, "both.test", "1", NULL)), 0);
	tu_loop_done(loop);
}

struct quick {
	int res;
	bool ran;
	urs_addrinfo *ai;
};

static void quick_cb(urs_result *r, void *user)
{
	struct quick *q = user;
	q->ran = true;
	q->res = r->res;
	q->ai = r->ai;
}

/* Resolves within one turn that does not wait: no server was asked. */
static int at_once(urs_loop *loop, const char *host, const char *port, int family, int socktype,
		   int flags, urs_addrinfo **ai)
{
	struct addrinfo h = { .ai_family = family, .ai_socktype = socktype, .ai_flags = flags };
	struct quick q = { 0 };
	assert_int_equal(urs_then(urs_getaddrinfo(loop, host, port, &h), quick_cb, &q), 0);
	assert_false(q.ran); /* never inside the call */
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_true(q.ran);
	if (ai)
		*ai = q.ai;
	else
		urs_addrinfo_free(q.ai);
	return q.res;
}

/* Numeric hosts, with or without c-ares: getaddrinfo(3)'s answer (Python's), at once and
 * without a server (the loop's resolver points at one that never answers). Without c-ares
 * a name is refused at once, -ENOSYS, and so is create_connection to one. */
static void test_numeric_hosts(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	if (have_cares)
		assert_int_equal(urs_resolver_config(loop, dns_servers, 5.0, 3), 0);
	urs_addrinfo *ai;
	/* no socket type: one entry per type, the protocol filled in */
	assert_int_equal(at_once(loop, "127.0.0.9", "7", AF_UNSPEC, 0, 0, &ai), 3);
	assert_true(has(ai, "127.0.0.9:7"));
	assert_int_equal(ai->socktype, SOCK_STREAM);
	assert_int_equal(ai->protocol, IPPROTO_TCP);
	assert_int_equal(ai->next->socktype, SOCK_DGRAM);
	assert_int_equal(ai->next->next->socktype, SOCK_RAW);
	assert_null(ai->canonname);
	urs_addrinfo_free(ai);
	assert_int_equal(at_once(loop, "::1", "53", AF_UNSPEC, SOCK_DGRAM, AI_NUMERICHOST, &ai), 1);
	assert_true(has(ai, "[::1]:53"));
	assert_int_equal(ai->protocol, IPPROTO_UDP);
	urs_addrinfo_free(ai);
	/* inet_aton's short forms, a scope id, AI_CANONNAME */
	assert_int_equal(at_once(loop, "127.1", "80", AF_INET, SOCK_STREAM, 0, &ai), 1);
	assert_true(has(ai, "127.0.0.1:80"));
	urs_addrinfo_free(ai);
	assert_int_equal(at_once(loop, "fe80::1%lo", "9", AF_INET6, SOCK_STREAM, 0, &ai), 1);
	assert_int_equal(ai->addr.u.in6.sin6_scope_id, 1);
	urs_addrinfo_free(ai);
	assert_int_equal(at_once(loop, "127.0.0.1", "1", AF_UNSPEC, SOCK_STREAM, AI_CANONNAME, &ai), 1);
	assert_string_equal(ai->canonname, "127.0.0.1");
	urs_addrinfo_free(ai);
	/* an IPv4 address for IPv6: none, or mapped when asked */
	assert_int_equal(at_once(loop, "127.0.0.1", "1", AF_INET6, SOCK_STREAM, 0, NULL), -ENODATA);
	assert_int_equal(at_once(loop, "::1", "1", AF_INET, SOCK_STREAM, 0, NULL), -ENODATA);
	assert_int_equal(at_once(loop, "127.0.0.1", "1", AF_INET6, SOCK_STREAM, AI_V4MAPPED, &ai), 1);
	assert_true(has(ai, "[::ffff:127.0.0.1]:1"));
	urs_addrinfo_free(ai);
	/* no host: the wildcard with AI_PASSIVE, else loopback, both families */
	struct addrinfo h = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	urs_result r;
	tu_await_eq(urs_getaddrinfo(loop, NULL, "8080", &h), 2, &r);
	assert_true(has(r.ai, "0.0.0.0:8080"));
	assert_true(has(r.ai, "[::]:8080"));
	urs_addrinfo_free(r.ai);
	h.ai_flags = 0;
	tu_await_eq(urs_getaddrinfo(loop, NULL, "8080", &h), 2, &r);
	assert_true(has(r.ai, "127.0.0.1:8080"));
	assert_true(has(r.ai, "[::1]:8080"));
	urs_addrinfo_free(r.ai);
	/* refused at once: a name with AI_NUMERICHOST, an empty host, an unknown service */
	assert_int_equal(at_once(loop, "not-numeric.test", "7", 0, SOCK_STREAM, AI_NUMERICHOST, NULL),
			 -ENOENT);
	assert_int_equal(at_once(loop, "", "7", 0, SOCK_STREAM, 0, NULL), -ENOENT);
	assert_int_equal(at_once(loop, "127.0.0.1", "no-such-service", 0, SOCK_STREAM, 0, NULL),
			 -ESRCH);
	/* create_connection to a numeric host needs no resolver */
	urs_addr la;
	urs_sock *l = tu_listener(loop, "[::1]:0", &la);
	char port[16];
	snprintf(port, sizeof(port), "%d", urs_addr_port(&la));
	tu_await_eq(urs_create_connection(loop, "::1", port, URS_NO_TIMEOUT, NULL), 0, &r);
	assert_non_null(r.sock);
	tu_close(r.sock);
	tu_close(l);
	if (!have_cares) {
		assert_int_equal(urs_future_error(urs_getaddrinfo(loop, "localhost", "80", NULL)),
				 -ENOSYS);
		assert_int_equal(urs_future_error(urs_create_connection(loop, "v4.test", port, 1.0,
									NULL)),
				 -ENOSYS);
		assert_int_equal(urs_resolver_config(loop, NULL, 0, 0), -ENOSYS);
		assert_int_equal(urs_resolver_config(loop, "127.0.0.1", 1, 1), -ENOSYS);
	}
	tu_loop_done(loop);
}

static void test_timeout(void **state)
{
	(void)state;
	urs_loop *loop = loop_dns(0.2, 1);
	assert_int_equal(urs_await(urs_getaddrinfo(loop, "slow.test", "80", NULL), NULL), -ETIMEDOUT);
	/* The loop goes on: the next lookup works. */
	assert_int_equal(urs_await(urs_getaddrinfo(loop, "v4.test", "80",
						   &(struct addrinfo){ .ai_socktype = SOCK_STREAM }),
				   NULL),
			 1);
	tu_loop_done(loop);
}

static void cancelled_cb(urs_result *r, void *user)
{
	*(int *)user = r->res;
	assert_null(r->ai);
}

/* Cancel mid-query, and a loop freed with lookups in flight: each resolves -ECANCELED, its
 * sockets and timers go, no fd is left. */
static void test_cancel_and_teardown(void **state)
{
	(void)state;
	urs_loop *loop = loop_dns(5.0, 3);
	urs_future f = urs_getaddrinfo(loop, "slow.test", "80", NULL);
	urs_loop_run(loop, URS_RUN_NOWAIT); /* the query is out */
	assert_int_equal(urs_cancel(f), 0);
	assert_int_equal(urs_await(f, NULL), -ECANCELED);
	/* Cancelled before the loop ever ran: its socket's polls were never armed in the
	 * kernel. And one cancelled as its answer is on its way. */
	f = urs_getaddrinfo(loop, "slow.test", "80", NULL);
	assert_int_equal(urs_cancel(f), 0);
	assert_int_equal(urs_await(f, NULL), -ECANCELED);
	f = urs_getaddrinfo(loop, "v4.test", "80", NULL);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	int c = urs_cancel(f); /* -EALREADY when the answer came within that run */
	assert_true(c == 0 || c == -EALREADY);
	urs_result r;
	int got = urs_await(f, &r);
	assert_true(got == -ECANCELED || got > 0);
	urs_addrinfo_free(r.ai);
	tu_loop_done(loop);
	int fds = tu_fd_count();
	loop = loop_dns(5.0, 3);
	int res[3] = { 1, 1, 1 };
	for (int i = 0; i < 3; i++)
		assert_int_equal(urs_then(urs_getaddrinfo(loop, "slow.test", "80", NULL), cancelled_cb,
					  &res[i]), 0);
	urs_loop_run(loop, URS_RUN_NOWAIT);
	assert_int_equal(urs_loop_free(loop), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(res[i], -ECANCELED);
	assert_int_equal(tu_fd_count(), fds);
}

struct many {
	int ok, left;
};

static void many_cb(urs_result *r, void *user)
{
	struct many *m = user;
	if (r->res == 1 && has(r->ai, "127.0.0.1:80"))
		m->ok++;
	urs_addrinfo_free(r->ai);
	m->left--;
}

static void test_many_at_once(void **state)
{
	(void)state;
	urs_loop *loop = loop_dns(2.0, 3);
	struct many m = { 0, 50 };
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	for (int i = 0; i < 50; i++)
		assert_int_equal(urs_then(urs_getaddrinfo(loop, "v4.test", "80", &hints), many_cb, &m),
				 0);
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	assert_int_equal(m.left, 0);
	assert_int_equal(m.ok, 50);
	tu_loop_done(loop);
}

static void test_bad_input(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	assert_int_equal(urs_future_error(urs_getaddrinfo(NULL, "a", "1", NULL)), -EINVAL);
	assert_int_equal(urs_future_error(urs_getaddrinfo(loop, NULL, NULL, NULL)), -EINVAL);
	struct addrinfo h = { .ai_family = AF_UNIX };
	assert_int_equal(urs_future_error(urs_getaddrinfo(loop, "a", "1", &h)), -EAFNOSUPPORT);
	h = (struct addrinfo){ .ai_flags = 0x40000000 };
	assert_int_equal(urs_future_error(urs_getaddrinfo(loop, "a", "1", &h)), -EINVAL);
	if (have_cares) {
		assert_int_equal(urs_resolver_config(loop, "not an address", 1, 1), -EINVAL);
		assert_int_equal(urs_resolver_config(loop, NULL, -1, 1), 0);
	}
	assert_int_equal(urs_resolver_config(loop, NULL, 0.0 / 0.0, 1), -EINVAL);
	assert_int_equal(urs_resolver_config(loop, NULL, 1, -1), -EINVAL);
	assert_int_equal(urs_resolver_config(NULL, NULL, 1, 1), -EINVAL);
	assert_int_equal(urs_future_error(urs_create_connection(loop, NULL, "1", 1, NULL)), -EINVAL);
	assert_int_equal(urs_future_error(urs_create_connection(loop, "a", "1", 0.0, NULL)), -EINVAL);
	urs_sock *s;
	urs_addr a;
	urs_addr_parse(&a, "127.0.0.1:0");
	assert_int_equal(urs_create_server(loop, &a, 1, URS_SERVER_DUALSTACK, &s), -EINVAL);
	assert_int_equal(urs_create_server(loop, &a, 1, 1u << 9, &s), -EINVAL);
	assert_null(s);
	tu_loop_done(loop);
}

static void peer_is(urs_sock *s, int family)
{
	urs_addr p;
	assert_int_equal(urs_getpeername(s, &p), 0);
	assert_int_equal(p.u.sa.sa_family, family);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* both.test has A and AAAA; only 127.0.0.1 listens: IPv6 (tried first) is refused, IPv4
 * connects at once after that failure (no stagger wait). */
static void test_happy_eyeballs_v6_refused(void **state)
{
	(void)state;
	urs_loop *loop = loop_dns(2.0, 2);
	urs_addr la;
	urs_sock *l = tu_listener(loop, "127.0.0.1:0", &la);
	char port[16];
	snprintf(port, sizeof(port), "%d", urs_addr_port(&la));
	urs_result r;
	tu_await_eq(urs_create_connection(loop, "both.test", port, 5.0, NULL), 0, &r);
	assert_non_null(r.sock);
	peer_is(r.sock, AF_INET);
	assert_true(urs_gettimeout(r.sock) == 5.0);
	urs_result ar;
	tu_await_eq(urs_accept(l), 0, &ar);
	tu_await_eq(urs_sendall(r.sock, "hi", 2, 0), 0, NULL);
	char in[2];
	tu_await_eq(urs_recv_into(ar.sock, in, 2, 0), 2, NULL);
	tu_close(ar.sock);
	tu_close(r.sock);
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.socks_open, 1); /* the listener only: the refused attempt is closed */
	/* Nothing listens at all: the last error. NXDOMAIN: the resolver's. */
	tu_close(l);
	assert_int_equal(urs_await(urs_create_connection(loop, "both.test", port, 5.0, NULL), NULL),
			 -ECONNREFUSED);
	assert_int_equal(urs_await(urs_create_connection(loop, "nothere.test", port, 5.0, NULL), NULL),
			 -ENOENT);
	tu_loop_done(loop);
}

/* The IPv6 listener's accept queue is full, so its SYNs are dropped: that attempt hangs.
 * 250 ms later IPv4 starts and wins; the IPv6 attempt is cancelled and its socket closed. */
static void test_happy_eyeballs_stagger(void **state)
{
	(void)state;
	int fds0 = tu_fd_count();
	urs_loop *loop = loop_dns(2.0, 2);
	urs_addr la, a6;
	urs_sock *l4 = tu_listener(loop, "127.0.0.1:0", &la);
	int port = urs_addr_port(&la);
	char text[64];
	snprintf(text, sizeof(text), "[::1]:%d", port);
	urs_addr_parse(&a6, text);
	int l6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(l6, &a6.u.sa, a6.len) < 0) {
		close(l6);
		tu_close(l4);
		urs_loop_free(loop);
		skip(); /* the port is taken on ::1: rare, nothing to test */
	}
	assert_int_equal(listen(l6, 0), 0);
	int filler = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(filler, &a6.u.sa, a6.len), 0); /* fills the accept queue */
	char port_s[16];
	snprintf(port_s, sizeof(port_s), "%d", port);
	double t0 = now_s();
	urs_result r;
	tu_await_eq(urs_create_connection(loop, "both.test", port_s, 5.0, NULL), 0, &r);
	double took = now_s() - t0;
	peer_is(r.sock, AF_INET);
	/* IPv4 waited for the stagger, and did not wait for IPv6 to fail (its 5 s timeout) */
	assert_true(took >= 0.24 && took < 4.0);
	/* The hanging IPv6 attempt was cancelled and closed, not left to its 5 s timeout. */
	assert_true(urs_loop_run(loop, URS_RUN_UNTIL_IDLE) >= 0);
	assert_true(now_s() - t0 < 4.0);
	urs_loop_stats st;
	urs_loop_stats_get(loop, &st);
	assert_int_equal(st.socks_open, 2); /* the winner and the IPv4 listener */
	tu_close(r.sock);
	/* Cancelled while the IPv6 attempt hangs: -ECANCELED, everything closed. */
	urs_future f = urs_create_connection(loop, "v6.test", port_s, 5.0, NULL);
	tu_await_eq(urs_sleep(loop, 0.05), 0, NULL);
	assert_int_equal(urs_cancel(f), 0);
	assert_int_equal(urs_await(f, NULL), -ECANCELED);
	/* The loop freed with an attempt hanging: no fd is left. */
	f = urs_create_connection(loop, "v6.test", port_s, 5.0, NULL);
	assert_int_equal(urs_detach(f), 0);
	tu_await_eq(urs_sleep(loop, 0.05), 0, NULL);
	tu_close(l4);
	assert_int_equal(urs_loop_free(loop), 0);
	close(filler);
	close(l6);
	assert_int_equal(tu_fd_count(), fds0);
}

static void test_create_server(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_addr any6, got, to;
	urs_addr_parse(&any6, "[::]:0");
	urs_sock *s, *c;
	/* Dual-stack: an IPv4 client reaches the IPv6 listener. */
	assert_int_equal(urs_create_server(loop, &any6, -1, URS_SERVER_DUALSTACK, &s), 0);
	assert_int_equal(urs_getsockname(s, &got), 0);
	char text[64];
	snprintf(text, sizeof(text), "127.0.0.1:%d", urs_addr_port(&got));
	urs_addr_parse(&to, text);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &c), 0);
	urs_future acc = urs_accept(s);
	tu_await_eq(urs_connect(c, &to), 0, NULL);
	urs_result r;
	tu_await_eq(acc, 0, &r);
	tu_close(r.sock);
	tu_close(c);
	tu_close(s);
	/* Not dual-stack: IPv6 only, so IPv4 to that port is refused. */
	assert_int_equal(urs_create_server(loop, &any6, 16, 0, &s), 0);
	assert_int_equal(urs_getsockname(s, &got), 0);
	snprintf(text, sizeof(text), "127.0.0.1:%d", urs_addr_port(&got));
	urs_addr_parse(&to, text);
	assert_int_equal(urs_socket(loop, AF_INET, SOCK_STREAM, 0, &c), 0);
	assert_int_equal(urs_await(urs_connect(c, &to), NULL), -ECONNREFUSED);
	tu_close(c);
	tu_close(s);
	/* reuse_port: two listeners on one port; without it the second is refused. */
	urs_addr a4;
	urs_addr_parse(&a4, "127.0.0.1:0");
	urs_sock *s1, *s2;
	assert_int_equal(urs_create_server(loop, &a4, 16, URS_SERVER_REUSE_PORT, &s1), 0);
	assert_int_equal(urs_getsockname(s1, &got), 0);
	assert_int_equal(urs_create_server(loop, &got, 16, URS_SERVER_REUSE_PORT, &s2), 0);
	urs_sock *s3;
	assert_int_equal(urs_create_server(loop, &got, 16, 0, &s3), -EADDRINUSE);
	tu_close(s1);
	tu_close(s2);
	tu_loop_done(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_and_aaaa),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_numeric_hosts),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_cancel_and_teardown),
		cmocka_unit_test(test_many_at_once),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_happy_eyeballs_v6_refused),
		cmocka_unit_test(test_happy_eyeballs_stagger),
		cmocka_unit_test(test_create_server),
	};
	return cmocka_run_group_tests(tests, start_dns, stop_dns);
}
