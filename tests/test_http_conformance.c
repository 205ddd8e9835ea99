/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 conformance of examples/http_echo, driven over real sockets against the running
 * build (started on port 0, stopped by its PID). One case per requirement a server must meet
 * in RFC 9112 (and the parts of RFC 9110 a server answers), named test_<rfc>_s<section>_...,
 * plus the smuggling cases nginx and h2o test (CL.TE, TE.CL, TE.TE obfuscations, bad chunk
 * sizes and terminators), and the server's own limits and deadlines.
 *
 * Every request is sent in one write, followed by a probe request. A refused request must
 * get exactly one response, with the status named and Connection: close, and then the
 * server closes: the probe (or a smuggled request) is never answered. An accepted request
 * must be answered and then the probe too (it says Connection: close), which shows that the
 * server framed the request exactly as the RFC does. */
#define _GNU_SOURCE
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---------------------------------------------------------------- the server */

struct server {
	pid_t pid;
	int port;
};

static char http_echo[512];
static struct server srv; /* the server of the running group */

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spawns http_echo on 127.0.0.1:0 with extra options; its first line gives the port. */
static int server_start(struct server *s, const char *const opts[])
{
	char *argv[24] = { http_echo, "127.0.0.1:0" };
	int n = 2;
	for (; opts[n - 2] && n < 23; n++)
		argv[n] = (char *)opts[n - 2];
	argv[n] = NULL;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	int err = posix_spawn(&s->pid, http_echo, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (err) {
		close(p[0]);
		return -1;
	}
	FILE *f = fdopen(p[0], "r");
	char line[256] = "";
	struct pollfd pf = { p[0], POLLIN, 0 };
	bool ok = poll(&pf, 1, 10000) == 1 && fgets(line, sizeof(line), f) &&
		  !strncmp(line, "listening on 127.0.0.1:", 23);
	fclose(f); /* the server's later stdout goes nowhere: it prints only at exit */
	s->port = ok ? atoi(line + 23) : 0;
	return ok ? 0 : -1;
}

/* SIGTERM, then its exit status (must be 0) within 10 s, waited on its pidfd. */
static int server_stop(struct server *s)
{
	int pfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	kill(s->pid, SIGTERM);
	struct pollfd pf = { pfd, POLLIN, 0 };
	if (pfd < 0 || poll(&pf, 1, 10000) != 1)
		kill(s->pid, SIGKILL);
	if (pfd >= 0)
		close(pfd);
	int status;
	if (waitpid(s->pid, &status, 0) != s->pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- the client */

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

enum end { END_EOF, END_RESET, END_TIMEOUT };

struct response {
	int status;
	char head[1024];       /* status line and fields */
	const char *body;      /* into the conversation's bytes */
	size_t body_len;
};

struct talk {
	char *raw;
	size_t len;
	enum end end;          /* how the server ended the conversation */
	int n;                 /* responses parsed */
	struct response r[16];
};

/* Reads until the server closes (EOF or reset) or wait_s passes without a byte. */
static void read_until_end(int fd, struct talk *t, double wait_s)
{
	size_t cap = 1 << 16;
	t->raw = malloc(cap + 1);
	t->len = 0;
	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, (int)(wait_s * 1000)) != 1) {
			t->end = END_TIMEOUT;
			break;
		}
		if (t->len == cap)
			t->raw = realloc(t->raw, (cap *= 2) + 1);
		ssize_t k = recv(fd, t->raw + t->len, cap - t->len, 0);
		if (k > 0) {
			t->len += (size_t)k;
			continue;
		}
		t->end = k == 0 ? END_EOF : END_RESET;
		break;
	}
	t->raw[t->len] = '\0';
}

/* Splits the bytes into responses. Each must be whole and well formed: a status line,
 * fields, Content-Length bytes of body (none for 1xx, nor for a HEAD: bit i of head_mask
 * marks response i as one). Every final response carries Date and Server. */
static void parse_responses(struct talk *t, unsigned head_mask)
{
	const char *p = t->raw, *end = t->raw + t->len;
	t->n = 0;
	while (p < end) {
		assert_true(t->n < 16);
		struct response *r = &t->r[t->n];
		const char *eoh = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!eoh || strncmp(p, "HTTP/1.1 ", 9) || eoh - p >= (long)sizeof(r->head))
			fail_msg("response %d is not whole: '%.80s'", t->n, p);
		memcpy(r->head, p, (size_t)(eoh - p + 2));
		r->head[eoh - p + 2] = '\0';
		r->status = atoi(p + 9);
		p = eoh + 4;
		r->body = p;
		r->body_len = 0;
		if (r->status >= 200) {
			assert_non_null(strstr(r->head, "\r\nDate: "));
			assert_non_null(strstr(r->head, "\r\nServer: ursock\r\n"));
			const char *cl = strstr(r->head, "\r\nContent-Length: ");
			assert_non_null(cl);
			if (!(head_mask & (1u << t->n)))
				r->body_len = strtoul(cl + 18, NULL, 10);
		} else {
			assert_null(strstr(r->head, "Content-Length")); /* RFC 9110 §8.6 */
		}
		if ((size_t)(end - p) < r->body_len)
			fail_msg("response %d: body cut at %zu of %zu bytes", t->n, (size_t)(end - p),
				 r->body_len);
		p += r->body_len;
		t->n++;
	}
}

static void talk_free(struct talk *t) { free(t->raw); }

/* One conversation: sends req (len bytes) in one write, reads to the end, parses. */
static void converse(const char *req, size_t len, unsigned head_mask, struct talk *t)
{
	int fd = dial();
	send_all(fd, req, len);
	read_until_end(fd, t, 5.0);
	close(fd);
	parse_responses(t, head_mask);
}

static const char PROBE[] = "GET /probe HTTP/1.1\r\nHost: x\r\n\r\n";
static const char PROBE_CLOSE[] = "GET /probe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
static const char HELLO[] = "Hello from ursock\n";

/* req (len bytes, NULs allowed), followed by a probe when probe is true, must get exactly
 * one response, with status and Connection: close, and then the server closes. */
static void once_then_closed(const char *req, size_t len, bool probe, int status)
{
	size_t n = len + (probe ? sizeof(PROBE) - 1 : 0);
	char *buf = malloc(n);
	memcpy(buf, req, len);
	if (probe)
		memcpy(buf + len, PROBE, sizeof(PROBE) - 1);
	struct talk t;
	converse(buf, n, 0, &t);
	free(buf);
	if (t.n != 1 || t.r[0].status != status)
		fail_msg("'%.60s...': %d responses, first %d; want one %d", req, t.n,
			 t.n ? t.r[0].status : 0, status);
	assert_non_null(strstr(t.r[0].head, "\r\nConnection: close\r\n"));
	assert_int_equal(t.end, END_EOF);
	talk_free(&t);
}

/* A refused request: its error status, then the close; the probe is never answered. */
static void refused(const char *req, int status) { once_then_closed(req, strlen(req), true, status); }

/* A request a deadline ends: nothing may follow it (it would complete the request). */
static void timed_out(const char *req, int status)
{
	once_then_closed(req, strlen(req), false, status);
}

/* req followed by a closing probe must get nresp responses (the first with status), then
 * the probe's 200, then the server closes. The caller frees t. */
static void accepted_as(const char *req, unsigned head_mask, int nresp, int status, struct talk *t)
{
	size_t len = strlen(req), n = len + sizeof(PROBE_CLOSE) - 1;
	char *buf = malloc(n);
	memcpy(buf, req, len);
	memcpy(buf + len, PROBE_CLOSE, sizeof(PROBE_CLOSE) - 1);
	converse(buf, n, head_mask, t);
	free(buf);
	if (t->n != nresp + 1 || t->r[0].status != status)
		fail_msg("'%.60s...': %d responses, first %d; want %d then the probe's", req, t->n,
			 t->n ? t->r[0].status : 0, nresp);
	struct response *probe = &t->r[nresp];
	assert_int_equal(probe->status, 200);
	assert_int_equal(probe->body_len, sizeof(HELLO) - 1);
	assert_memory_equal(probe->body, HELLO, sizeof(HELLO) - 1);
	assert_int_equal(t->end, END_EOF);
}

/* req is one request answered 200 with body (NULL: the GET greeting). */
static void accepted(const char *req, const char *body)
{
	struct talk t;
	accepted_as(req, 0, 1, 200, &t);
	if (!body)
		body = HELLO;
	if (t.r[0].body_len != strlen(body) || memcmp(t.r[0].body, body, t.r[0].body_len))
		fail_msg("'%.60s...': body '%.*s', want '%s'", req, (int)t.r[0].body_len,
			 t.r[0].body, body);
	talk_free(&t);
}

/* Each item, put in place of the one %s of fmt, must be refused with status. */
static void each_refused(const char *fmt, const char *const *items, size_t n, int status)
{
	for (size_t i = 0; i < n; i++) {
		char req[512];
		snprintf(req, sizeof(req), fmt, items[i]);
		refused(req, status);
	}
}

/* Each item, put in place of the one %s of fmt, must be accepted with body. */
static void each_accepted(const char *fmt, const char *const *items, size_t n, const char *body)
{
	for (size_t i = 0; i < n; i++) {
		char req[512];
		snprintf(req, sizeof(req), fmt, items[i]);
		accepted(req, body);
	}
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define GET_11 "GET / HTTP/1.1\r\nHost: x\r\n"
#define POST_11 "POST / HTTP/1.1\r\nHost: x\r\n"
#define CHUNKED_11 POST_11 "Transfer-Encoding: chunked\r\n"
#define SMUGGLED "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

/* ---------------------------------------------------------------- RFC 9112 §2 */

/* §2.2: a bare CR in a field value, the request line or the target is invalid. */
static void test_9112_s2_2_bare_cr_refused(void **state)
{
	(void)state;
	refused(GET_11 "X: a\rb\r\n\r\n", 400);
	refused("GET / HTTP/1.1\rHost: x\r\n\r\n", 400);
	refused("GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused(GET_11 "\r\r\n", 400);
}

/* §2.2: a bare LF may end a line (MAY); llhttp refuses it between fields: 400, never a
 * different reading of where a field ends. */
static void test_9112_s2_2_bare_lf_in_fields_refused(void **state)
{
	(void)state;
	refused(GET_11 "X: a\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

/* §2.2: whitespace between the start line and the first field: reject. */
static void test_9112_s2_2_whitespace_before_first_field(void **state)
{
	(void)state;
	refused("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\n\tHost: x\r\n\r\n", 400);
}

/* §2.2: an empty line before the request line is ignored (SHOULD). */
static void test_9112_s2_2_empty_line_before_request(void **state)
{
	(void)state;
	accepted("\r\n" GET_11 "\r\n", NULL);
}

/* §2.3: an HTTP/1.0 request is answered (as HTTP/1.1) and, without keep-alive, closed. */
static void test_9112_s2_3_http10_answered(void **state)
{
	(void)state;
	once_then_closed("GET / HTTP/1.0\r\n\r\n", 18, true, 200); /* the probe is not read */
}

/* §2.3, RFC 9110 §15.6.6: another major version is 505; so are 0.9 and, with llhttp 8.1,
 * minor versions above 1. A malformed version is 400. */
static void test_9112_s2_3_unsupported_version_505(void **state)
{
	(void)state;
	refused("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	refused("GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505);
	refused("GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505);
	refused("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505);
	refused("GET /\r\n\r\n", 505);
	refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
}

static void test_9112_s2_3_malformed_version_400(void **state)
{
	(void)state;
	refused("GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400);
	refused("GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400);
	refused("GET / HTTP/11\r\nHost: x\r\n\r\n", 400);
	refused("GET / http/1.1\r\nHost: x\r\n\r\n", 400);
	refused("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400);
}

/* ---------------------------------------------------------------- RFC 9112 §3 */

/* §3, RFC 9110 §9.1: an unknown method (methods are case-sensitive) is 501. */
static void test_9112_s3_unknown_method_501(void **state)
{
	(void)state;
	refused("BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501);
	refused("get / HTTP/1.1\r\nHost: x\r\n\r\n", 501);
}

/* §3: a request line that is not method SP target SP version is 400. */
static void test_9112_s3_invalid_request_line_400(void **state)
{
	(void)state;
	refused("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused("GET  HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused("GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused("GET x HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused("@GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

/* §3: a request-target longer than the server parses MUST get 414 (--max-target, 8192). */
static void test_9112_s3_target_too_long_414(void **state)
{
	(void)state;
	char req[9000];
	int n = snprintf(req, sizeof(req), "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 8192, 0);
	assert_true(n < (int)sizeof(req));
	refused(req, 414);
	snprintf(req, sizeof(req), "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 8191, 0);
	accepted(req, NULL); /* exactly at the limit */
}

/* §3: printable target bytes outside RFC 3986 pass, as in nginx (the server never
 * interprets the target); controls, spaces and bytes over 0x7e do not (above). README. */
static void test_9112_s3_target_bytes_llhttp_accepts(void **state)
{
	(void)state;
	const char *bytes[] = { "\"", "<", ">", "\\", "^", "`", "{", "|", "}", "a#frag" };
	each_accepted("GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", bytes, COUNT(bytes), NULL);
	refused("GET /\x80 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

/* §3.2: HTTP/1.1 without Host, or with more than one, MUST be 400. */
static void test_9112_s3_2_host_missing_400(void **state)
{
	(void)state;
	refused("GET / HTTP/1.1\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", 400);
}

static void test_9112_s3_2_host_twice_400(void **state)
{
	(void)state;
	refused(GET_11 "Host: y\r\n\r\n", 400);
	refused(GET_11 "Host: x\r\n\r\n", 400);
	refused("GET / HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n", 400); /* any version */
}

/* §3.2: a Host whose value is not uri-host [ ":" port ] MUST be 400. */
static void test_9112_s3_2_host_invalid_400(void **state)
{
	(void)state;
	const char *bad[] = { "a b", "a/b", "a@b", "a:80x", "a:-1", "[::1", "[::g]", "a\"b",
			      "%zz", "[v1]" };
	each_refused("GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad, COUNT(bad), 400);
}

/* §3.2: the forms of a valid Host, the empty value included, and HTTP/1.0 without Host. */
static void test_9112_s3_2_host_valid_forms(void **state)
{
	(void)state;
	const char *good[] = { "example.com", "example.com:8080", "127.0.0.1:80", "[::1]:8080",
			       "[v1.fe80::a+en1]", "", "%41b.c", "a:", "xn--caf-dma.example" };
	each_accepted("GET / HTTP/1.1\r\nHost: %s\r\n\r\n", good, COUNT(good), NULL);
	accepted("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", NULL);
}

/* §3.2.2: a server MUST accept the absolute-form. */
static void test_9112_s3_2_2_absolute_form(void **state)
{
	(void)state;
	accepted("GET http://x/a?b HTTP/1.1\r\nHost: x\r\n\r\n", NULL);
}

/* §3.2.3, §3.2.4: authority-form is for CONNECT only, asterisk-form for OPTIONS only. */
static void test_9112_s3_2_4_asterisk_and_authority_form(void **state)
{
	(void)state;
	refused("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused("GET x:80 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	refused("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 405); /* well formed, not allowed */
	refused("CONNECT x:80 HTTP/1.1\r\nHost: x:80\r\n\r\n", 405);
}

/* ---------------------------------------------------------------- RFC 9112 §5 */

/* §5.1: whitespace between a field name and the colon MUST be 400. */
static void test_9112_s5_1_whitespace_before_colon_400(void **state)
{
	(void)state;
	refused(GET_11 "X : y\r\n\r\n", 400);
	refused(GET_11 "X\t: y\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
}

/* §5.1, RFC 9110 §5.1: a field name is a token: never empty, no separators, and a line
 * without a colon is not a field. */
static void test_9112_s5_1_invalid_field_name_400(void **state)
{
	(void)state;
	refused(GET_11 ": y\r\n\r\n", 400);
	refused(GET_11 "X@Y: 1\r\n\r\n", 400);
	refused(GET_11 "X(Y): 1\r\n\r\n", 400);
	refused(GET_11 "No colon here\r\n\r\n", 400);
	refused(GET_11 "X\x80: 1\r\n\r\n", 400);
}

/* §5.1: OWS around a field value is not part of it. */
static void test_9112_s5_1_ows_around_value(void **state)
{
	(void)state;
	accepted("GET / HTTP/1.1\r\nHost:\t x \t\r\n\r\n", NULL);
	accepted(POST_11 "Content-Length:  3 \r\n\r\nabc", "abc");
}

/* §5.2: obs-fold MUST be rejected (or replaced with SP): 400, wherever it is. */
static void test_9112_s5_2_obs_fold_400(void **state)
{
	(void)state;
	refused(GET_11 "X: a\r\n b\r\n\r\n", 400);
	refused(GET_11 "X: a\r\n\tb\r\n\r\n", 400);
	refused(GET_11 "X:\r\n b\r\n\r\n", 400);
	refused(GET_11 "X: a\r\n \r\n\r\n", 400);
	refused(POST_11 "Content-Length:\r\n 3\r\n\r\nabc", 400);
	refused(CHUNKED_11 "\r\n3\r\nabc\r\n0\r\nX: a\r\n b\r\n\r\n", 400); /* in a trailer */
}

/* ---------------------------------------------------------------- RFC 9112 §6 */

/* §6.1: Transfer-Encoding in HTTP/1.0 MUST be treated as faulty framing: 400, close. */
static void test_9112_s6_1_transfer_encoding_in_http10_400(void **state)
{
	(void)state;
	refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
	refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", 400);
}

/* §6.1: a transfer coding the server does not implement: 501. */
static void test_9112_s6_1_unknown_coding_501(void **state)
{
	(void)state;
	refused(POST_11 "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 501);
	refused(POST_11 "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n"
			"3\r\nabc\r\n0\r\n\r\n", 501);
}

/* §6.1, RFC 9110 §5.6.1: coding names are case-insensitive, empty list elements ignored,
 * OWS (HTAB too) around values; field lines of one name make one list. */
static void test_9112_s6_1_chunked_spellings(void **state)
{
	(void)state;
	const char *te[] = { "Chunked", "CHUNKED", ", chunked", ",,chunked", "\tchunked",
			     ",\r\nTransfer-Encoding: chunked" };
	each_accepted(POST_11 "Transfer-Encoding: %s\r\n\r\n3\r\nabc\r\n0\r\n\r\n", te, COUNT(te),
		      "abc");
}

/* RFC 9110 §5.6.1 says to ignore empty list elements wherever they are; llhttp 8.1 refuses
 * one after chunked (400, never a different framing). README: what llhttp cannot accept. */
static void test_9110_s5_6_1_empty_element_after_chunked_refused(void **state)
{
	(void)state;
	refused(POST_11 "Transfer-Encoding: chunked,\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
	refused(POST_11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: ,\r\n\r\n"
			"3\r\nabc\r\n0\r\n\r\n", 400);
}

/* §6.2, §6.3: Content-Length frames the body; the next request follows it. */
static void test_9112_s6_2_content_length_frames_body(void **state)
{
	(void)state;
	accepted(POST_11 "Content-Length: 11\r\n\r\nhello world", "hello world");
	accepted(POST_11 "Content-Length: 0\r\n\r\n", "");
	accepted(GET_11 "Content-Length: 5\r\n\r\nhello", NULL); /* a GET's body is read, dropped */
}

/* §6.3: Transfer-Encoding with Content-Length: the server MUST close after responding; it
 * refuses (400) as it may. In either order: CL.TE and TE.CL smuggling. */
static void test_9112_s6_3_cl_te_conflict(void **state)
{
	(void)state;
	refused(POST_11 "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" SMUGGLED, 400);
	refused(POST_11 "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n"
			"0\r\n\r\n", 400);
	refused(POST_11 "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
}

/* §6.3: chunked not the final coding (or applied twice, §6.1) MUST be 400. */
static void test_9112_s6_3_chunked_not_final_400(void **state)
{
	(void)state;
	refused(POST_11 "Transfer-Encoding: chunked, gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
	refused(POST_11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"
			"3\r\nabc\r\n0\r\n\r\n", 400);
	refused(POST_11 "Transfer-Encoding: gzip\r\n\r\nabc", 400);
	refused(POST_11 "Transfer-Encoding: chunked, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
	refused(POST_11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
			"3\r\nabc\r\n0\r\n\r\n", 400);
	refused(POST_11 "Transfer-Encoding: \r\n\r\nabc", 400);
	/* the same as the first field of a connection (the fuzzer's find: no buffer yet) */
	refused("POST / HTTP/1.1\r\nTransfer-Encoding:\r\nHost: x\r\n\r\nabc", 400);
}

/* §6.3: an invalid Content-Length MUST be 400 and close. */
static void test_9112_s6_3_invalid_content_length_400(void **state)
{
	(void)state;
	const char *cl[] = { "+1", "-1", "0x1", "1 1", "1,1", "", "abc", "1.0",
			     "99999999999999999999999" };
	each_refused(POST_11 "Content-Length: %s\r\n\r\nx", cl, COUNT(cl), 400);
}

/* §6.3, RFC 9110 §8.6: several Content-Length lines: refused, equal or not. */
static void test_9112_s6_3_duplicate_content_length_400(void **state)
{
	(void)state;
	refused(POST_11 "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400);
	refused(POST_11 "Content-Length: 3\r\nContent-Length: 8\r\n\r\nabc" SMUGGLED, 400);
}

/* §6.3: a request with neither Content-Length nor Transfer-Encoding has no body. */
static void test_9112_s6_3_no_framing_means_no_body(void **state)
{
	(void)state;
	accepted(POST_11 "\r\n", "");
}

/* §6.3, RFC 9110 §15.5.14: a declared body over --max-body (1 MiB) is 413 at once. */
static void test_9112_s6_3_body_too_large_413(void **state)
{
	(void)state;
	refused(POST_11 "Content-Length: 1048577\r\n\r\n", 413);
	refused(CHUNKED_11 "\r\n100001\r\n", 413); /* one chunk over the limit, before its data */
}

/* ---------------------------------------------------------------- RFC 9112 §7 */

/* §7.1: a recipient MUST be able to decode chunked: hex sizes of any case, leading zeros. */
static void test_9112_s7_1_chunked_decoded(void **state)
{
	(void)state;
	accepted(CHUNKED_11 "\r\n5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\na\r\nABCDEFGHIJ\r\n"
			    "0000\r\n\r\n", "hello 0123456789ABCDEFGHIJ");
	accepted(CHUNKED_11 "\r\n0003\r\nabc\r\n0\r\n\r\n", "abc");
}

/* §7.1: a chunk size that is not 1*HEXDIG is invalid: 400 (the smuggling cases of nginx and
 * h2o: signs, 0x, whitespace, overflow, nothing). */
static void test_9112_s7_1_bad_chunk_size_400(void **state)
{
	(void)state;
	const char *size[] = { "0x3", "+3", "-3", " 3", "3 ", "3\t", "", "g", "3\n",
			       "FFFFFFFFFFFFFFFFFFFF", "-FFFFFFFFFFFFFFFF" };
	each_refused(CHUNKED_11 "\r\n%s\r\nabc\r\n0\r\n\r\n" SMUGGLED, size, COUNT(size), 400);
}

/* §7.1: chunk data is exactly chunk-size bytes followed by CRLF; anything else in place of
 * that CRLF is 400, never the start of another request (llhttp 8.1's loose mode took any
 * two bytes there). */
static void test_9112_s7_1_bad_chunk_terminator_400(void **state)
{
	(void)state;
	const char *body[] = { "3\r\nabcXX0\r\n\r\n", ("3\r\nabcXX" SMUGGLED), "3\r\nabc\n0\r\n\r\n",
			       "3\r\nabc\r0\r\n\r\n", "3\r\nabcd\r\n0\r\n\r\n", "3\r\nab\r\n0\r\n\r\n",
			       "3\r\nabc0\r\n\r\n", "3\r\nabc\r\n0\r\n\rX" };
	each_refused(CHUNKED_11 "\r\n%s" SMUGGLED, body, COUNT(body), 400);
}

/* §7.1.1: a recipient MUST ignore chunk extensions it does not recognise. */
static void test_9112_s7_1_1_chunk_extensions_ignored(void **state)
{
	(void)state;
	accepted(CHUNKED_11 "\r\n3;a=b\r\nabc\r\n0\r\n\r\n", "abc");
	accepted(CHUNKED_11 "\r\n3;name\r\nabc\r\n0;last=1\r\n\r\n", "abc");
	accepted(CHUNKED_11 "\r\n3;a=\"q v;w\";b=c\r\nabc\r\n0\r\n\r\n", "abc");
	accepted(CHUNKED_11 "\r\n3;a;b\r\nabc\r\n0\r\n\r\n", "abc");
	/* not valid, yet let through by llhttp with no callback to see it (README) */
	accepted(CHUNKED_11 "\r\n3;a=b;\r\nabc\r\n0\r\n\r\n", "abc");
}

#define CHUNK_EXT CHUNKED_11 "\r\n3%s\r\nabc\r\n0\r\n\r\n"

/* §7.1.1: an extension that is not token [ "=" token / quoted-string ] is 400. */
static void test_9112_s7_1_1_bad_chunk_extension_400(void **state)
{
	(void)state;
	const char *ext[] = { ";=b", ";a=", ";a b", ";a=\"x", ";a=\"x\r\ny\"", ";;" };
	each_refused(CHUNK_EXT, ext, COUNT(ext), 400);
}

/* §7.1.1 allows BWS around ";" and "=", several extensions with or without values, and
 * quoted-pairs; llhttp 8.1 refuses these valid forms (400, the line end never misread).
 * README: what llhttp cannot accept. */
static void test_9112_s7_1_1_extension_forms_llhttp_refuses(void **state)
{
	(void)state;
	const char *ext[] = { " ;a=b", "; a=b", ";a =b", ";a= b", ";a=b;c", ";a=\"b\\\"c\"" };
	each_refused(CHUNK_EXT, ext, COUNT(ext), 400);
}

/* §7.1.2: a trailer section is read and discarded; it cannot reframe the message. */
static void test_9112_s7_1_2_trailer_discarded(void **state)
{
	(void)state;
	accepted(CHUNKED_11 "\r\n3\r\nabc\r\n0\r\nX-Trailer: y\r\n\r\n", "abc");
	accepted(CHUNKED_11 "\r\n3\r\nabc\r\n0\r\nContent-Length: 5\r\nHost: y\r\n\r\n", "abc");
	refused(CHUNKED_11 "\r\n3\r\nabc\r\n0\r\nX : y\r\n\r\n", 400);
}

/* ---------------------------------------------------------------- RFC 9112 §6.1 TE.TE */

/* §6.1, §5: Transfer-Encoding obfuscations (the TE.TE smuggling cases): each is refused or,
 * where it is a valid spelling, decoded as chunked; a smuggled request is never answered. */
static void test_9112_s6_1_smuggle_te_te(void **state)
{
	(void)state;
	struct {
		const char *fields;
		int status;
	} te[] = {
		{ "Transfer-Encoding: xchunked\r\n", 400 },
		{ "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", 400 },
		{ "Transfer-Encoding : chunked\r\n", 400 },
		{ "Transfer-Encoding\r\n: chunked\r\n", 400 },
		{ " Transfer-Encoding: chunked\r\n", 400 },
		{ "X: y\r\n Transfer-Encoding: chunked\r\n", 400 },
		{ "Transfer-Encoding:\r\n chunked\r\n", 400 },
		{ "X: y\nTransfer-Encoding: chunked\r\n", 400 },
		{ "Transfer-Encoding: \x0b" "chunked\r\n", 400 },
		{ "Transfer-Encoding: \"chunked\"\r\n", 400 },
		{ "Transfer-Encoding: chunked;q=1\r\n", 400 },
		{ "Transfer-Encoding: chunk\r\n", 400 },
		{ "Transfer-Encoding: identity, chunked\r\n", 501 },
		{ "Transfer-Encoding: cow\r\n", 400 },
	};
	for (size_t i = 0; i < sizeof(te) / sizeof(te[0]); i++) {
		char req[512];
		snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: x\r\n%sContent-Length: 4\r\n\r\n"
			 "3\r\nabc\r\n0\r\n\r\n" SMUGGLED, te[i].fields);
		refused(req, 400); /* with Content-Length: a conflict as well */
		snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: x\r\n%s\r\n"
			 "3\r\nabc\r\n0\r\n\r\n" SMUGGLED, te[i].fields);
		refused(req, te[i].status);
	}
}

/* ---------------------------------------------------------------- RFC 9112 §9 */

/* §9.3: HTTP/1.1 connections persist; HTTP/1.0 ones with keep-alive, told so. */
static void test_9112_s9_3_persistence(void **state)
{
	(void)state;
	struct talk t;
	accepted_as(GET_11 "\r\n" GET_11 "\r\n", 0, 2, 200, &t);
	talk_free(&t);
	accepted_as("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, 1, 200, &t);
	assert_non_null(strstr(t.r[0].head, "\r\nConnection: keep-alive\r\n"));
	talk_free(&t);
}

/* §9.3.2: pipelined requests are answered in the order received. */
static void test_9112_s9_3_2_pipelined_in_order(void **state)
{
	(void)state;
	struct talk t;
	accepted_as(POST_11 "Content-Length: 5\r\n\r\nfirst" GET_11 "\r\n"
			    "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "6\r\nsecond\r\n0\r\n\r\n" POST_11 "Content-Length: 5\r\n\r\nthird",
		    0, 4, 200, &t);
	const char *want[] = { "first", HELLO, "second", "third" };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(t.r[i].body_len, strlen(want[i]));
		assert_memory_equal(t.r[i].body, want[i], strlen(want[i]));
	}
	talk_free(&t);
}

/* §9.6: after a request with Connection: close the server MUST NOT process any further
 * request; it says close and closes. */
static void test_9112_s9_6_close_stops_processing(void **state)
{
	(void)state;
	const char *reqs[] = { GET_11 "Connection: close\r\n\r\n",
			       GET_11 "Connection: keep-alive, close\r\n\r\n",
			       GET_11 "Connection: CLOSE\r\n\r\n" };
	for (size_t i = 0; i < 3; i++)
		once_then_closed(reqs[i], strlen(reqs[i]), true, 200);
}

/* ---------------------------------------------------------------- RFC 9110 */

/* RFC 9110 §5.4: fields larger than the server processes MUST get a 4xx: 431
 * (--max-header-bytes 8192, --max-headers 100). */
static void test_9110_s5_4_fields_too_large_431(void **state)
{
	(void)state;
	char req[10000];
	int n = snprintf(req, sizeof(req), GET_11 "X: %0*d\r\n\r\n", 8200, 0);
	assert_true(n < (int)sizeof(req));
	refused(req, 431);
	char *p = req + snprintf(req, sizeof(req), GET_11);
	for (int i = 0; i < 100; i++)
		p += sprintf(p, "X%d: 1\r\n", i);
	strcpy(p, "\r\n");
	refused(req, 431);
}

/* RFC 9110 §5.5: CR, LF or NUL in a field value MUST be refused (or replaced); other CTLs
 * are invalid too. obs-text (0x80-0xff) is allowed. */
static void test_9110_s5_5_field_value_characters(void **state)
{
	(void)state;
	const char nul[] = GET_11 "X: a\0b\r\n\r\n";
	once_then_closed(nul, sizeof(nul) - 1, true, 400);
	refused(GET_11 "X: a\x01" "b\r\n\r\n", 400);
	refused(GET_11 "X: a\x7f" "b\r\n\r\n", 400);
	accepted(GET_11 "X: caf\xe9\r\n\r\n", NULL);
}

/* RFC 9110 §6.6.1: an origin server with a clock MUST send Date in 2xx-4xx responses, as an
 * IMF-fixdate of now. */
static void test_9110_s6_6_1_date_on_responses(void **state)
{
	(void)state;
	const char *reqs[] = { GET_11 "Connection: close\r\n\r\n", "GET / HTTP/1.1\r\n\r\n",
			       "DELETE / HTTP/1.1\r\nHost: x\r\n\r\n" };
	for (size_t i = 0; i < 3; i++) {
		struct talk t;
		converse(reqs[i], strlen(reqs[i]), 0, &t);
		assert_int_equal(t.n, 1);
		const char *d = strstr(t.r[0].head, "\r\nDate: ") + 8;
		const char *eol = strstr(d, "\r\n");
		assert_int_equal(eol - d, 29); /* "Sun, 06 Nov 1994 08:49:37 GMT" */
		struct tm tm = { 0 };
		const char *end = strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_true(end == eol);
		double skew = difftime(timegm(&tm), time(NULL));
		assert_true(skew > -5 && skew < 5);
		talk_free(&t);
	}
}

/* RFC 9110 §9.3.2: HEAD gets GET's fields, Content-Length included, and no content. */
static void test_9110_s9_3_2_head_has_no_content(void **state)
{
	(void)state;
	struct talk t;
	accepted_as("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 1, 200, &t);
	assert_non_null(strstr(t.r[0].head, "\r\nContent-Length: 18\r\n"));
	talk_free(&t);
}

/* RFC 9110 §10.1.1: an HTTP/1.1 request with content and Expect: 100-continue gets an
 * immediate 100 before the client sends the content. */
static void test_9110_s10_1_1_expect_continue(void **state)
{
	(void)state;
	int fd = dial();
	const char head[] = POST_11 "Expect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
	send_all(fd, head, sizeof(head) - 1);
	char buf[256];
	struct pollfd pf = { fd, POLLIN, 0 };
	assert_int_equal(poll(&pf, 1, 5000), 1);
	ssize_t k = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(k > 0);
	buf[k] = '\0';
	assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	send_all(fd, "hello", 5);
	struct talk t;
	read_until_end(fd, &t, 5.0);
	close(fd);
	parse_responses(&t, 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.r[0].status, 200);
	assert_memory_equal(t.r[0].body, "hello", 5);
	talk_free(&t);
}

/* RFC 9110 §10.1.1: 100-continue in HTTP/1.0 MUST be ignored; without content there is
 * nothing to continue; another expectation gets 417. */
static void test_9110_s10_1_1_expect_other_cases(void **state)
{
	(void)state;
	struct talk t;
	const char *req = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab";
	converse(req, strlen(req), 0, &t);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.r[0].status, 200);
	talk_free(&t);
	accepted(GET_11 "Expect: 100-continue\r\n\r\n", NULL);
	/* an empty list: no expectation (first field of a connection: the fuzzer's find) */
	accepted("POST / HTTP/1.1\r\nExpect:\r\nHost: x\r\nContent-Length: 1\r\n\r\na", "a");
	refused(POST_11 "Expect: 100-continue-please\r\nContent-Length: 2\r\n\r\nab", 417);
	refused(POST_11 "Expect: 100-continue, other\r\nContent-Length: 2\r\n\r\nab", 417);
}

/* RFC 9110 §7.8: a server may ignore Upgrade; the connection stays HTTP/1.1. */
static void test_9110_s7_8_upgrade_ignored(void **state)
{
	(void)state;
	accepted(GET_11 "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
			"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n", NULL);
	accepted(POST_11 "Upgrade: websocket\r\nConnection: upgrade\r\nContent-Length: 2\r\n\r\nab", "ab");
}

/* RFC 9110 §9.1 and §15.5.6: GET, HEAD, POST, PUT are served; a known method not allowed
 * is 405 and the response MUST list the allowed ones in Allow. */
static void test_9110_s15_5_6_method_not_allowed_405(void **state)
{
	(void)state;
	const char *methods[] = { "DELETE", "OPTIONS", "PATCH", "TRACE" };
	for (size_t i = 0; i < 4; i++) {
		char req[128];
		int n = snprintf(req, sizeof(req), "%s / HTTP/1.1\r\nHost: x\r\n\r\n", methods[i]);
		struct talk t;
		converse(req, (size_t)n, 0, &t);
		assert_int_equal(t.n, 1);
		assert_int_equal(t.r[0].status, 405);
		assert_non_null(strstr(t.r[0].head, "\r\nAllow: GET, HEAD, POST, PUT\r\n"));
		assert_int_equal(t.end, END_EOF);
		talk_free(&t);
	}
}

/* ---------------------------------------------------------------- deadlines and limits */

/* The deadline group's server: --header-timeout 0.5 --body-timeout 1 --idle-timeout 1.5
 * --send-timeout 1 --linger-timeout 2. Deadlines are checked every 250 ms. */

/* RFC 9110 §15.5.9: a head not complete in time gets 408 and the connection closes. */
static void test_9110_s15_5_9_head_deadline_408(void **state)
{
	(void)state;
	double t0 = mono();
	timed_out("GET / HTTP/1.1\r\nHost: sl", 408);
	assert_true(mono() - t0 >= 0.45);
}

/* RFC 9112 §6.3 (incomplete message), RFC 9110 §15.5.9: a declared body that never comes is
 * answered 408 at the body deadline. */
static void test_9112_s6_3_body_never_comes_408(void **state)
{
	(void)state;
	double t0 = mono();
	timed_out(POST_11 "Content-Length: 10\r\n\r\n", 408);
	timed_out(CHUNKED_11 "\r\n5\r\nhel", 408);
	assert_true(mono() - t0 >= 1.9);
}

/* A body trickled a byte every 300 ms (well inside the 1.5 s idle timeout) still ends at
 * the body deadline: 408 about 1 s after the head. */
static void test_9112_s6_3_body_trickle_408(void **state)
{
	(void)state;
	int fd = dial();
	const char head[] = POST_11 "Content-Length: 100\r\n\r\n";
	send_all(fd, head, sizeof(head) - 1);
	double t0 = mono();
	int sent = 0;
	for (; sent < 100; sent++) {
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, 300) == 1)
			break; /* the server answered */
		send_all(fd, "x", 1);
	}
	struct talk t;
	read_until_end(fd, &t, 5.0);
	close(fd);
	parse_responses(&t, 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.r[0].status, 408);
	assert_int_equal(t.end, END_EOF);
	assert_true(sent < 20 && mono() - t0 < 4);
	talk_free(&t);
}

/* RFC 9112 §9.5: an idle connection is closed gracefully, without a response. */
static void test_9112_s9_5_idle_connection_closed(void **state)
{
	(void)state;
	int fd = dial();
	double t0 = mono();
	struct talk t;
	read_until_end(fd, &t, 5.0);
	assert_int_equal(t.end, END_EOF);
	assert_int_equal(t.len, 0);
	double idle = mono() - t0;
	assert_true(idle >= 1.45 && idle < 4);
	talk_free(&t);
	close(fd);
	/* and after a response: the idle time counts from it */
	fd = dial();
	send_all(fd, GET_11 "\r\n", sizeof(GET_11 "\r\n") - 1);
	read_until_end(fd, &t, 5.0);
	close(fd);
	parse_responses(&t, 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.end, END_EOF);
	talk_free(&t);
}

/* RFC 9112 §9.6: after the final response the server half-closes and drains what the
 * client still sends. A client that keeps writing (here 16 MiB after a request with
 * Connection: close) then reads the response and a clean EOF; closed at once, the server
 * would answer the unread bytes with a reset, which fails the client's writes and can
 * destroy the response before it is read. */
static void test_9112_s9_6_lingering_close(void **state)
{
	(void)state;
	int fd = dial();
	send_all(fd, GET_11 "Connection: close\r\n\r\n", sizeof(GET_11 "Connection: close\r\n\r\n") - 1);
	static char junk[1 << 16];
	memset(junk, 'j', sizeof(junk));
	for (int i = 0; i < 256; i++)
		send_all(fd, junk, sizeof(junk));
	struct talk t;
	read_until_end(fd, &t, 5.0);
	close(fd);
	parse_responses(&t, 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.r[0].status, 200);
	assert_int_equal(t.end, END_EOF);
	talk_free(&t);
}

/* Bounded memory: a client that pipelines 1 MiB POSTs and reads nothing is stopped; the
 * server stops reading once a response waits behind its blocked send, so the client's
 * writes stall after what the socket buffers hold (not 96 MiB). Then the send deadline
 * resets the connection. */
static void test_limit_unread_responses_stop_reading(void **state)
{
	(void)state;
	size_t body = 1 << 20;
	char *req = malloc(body + 128);
	int h = sprintf(req, POST_11 "Content-Length: %zu\r\n\r\n", body);
	memset(req + h, 'b', body);
	size_t len = (size_t)h + body, written = 0;
	int fd = dial();
	while (written < (96u << 20)) {
		struct pollfd pf = { fd, POLLOUT, 0 };
		if (poll(&pf, 1, 300) != 1)
			break; /* stalled */
		ssize_t k = send(fd, req + written % len, len - written % len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k < 0)
			break;
		written += (size_t)k;
	}
	free(req);
	print_message("client wrote %.1f MiB before stalling\n", (double)written / (1 << 20));
	assert_true(written < (48u << 20));
	/* the send deadline (1 s) resets the connection: wait for it without reading */
	struct pollfd pf = { fd, 0, 0 };
	assert_int_equal(poll(&pf, 1, 5000), 1);
	assert_true(pf.revents & (POLLERR | POLLHUP));
	int err = 0;
	socklen_t el = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	assert_int_equal(err, ECONNRESET);
	close(fd);
}

/* ---------------------------------------------------------------- groups */

static int start_with(const char *const opts[])
{
	char self[400];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	snprintf(http_echo, sizeof(http_echo), "%s/../examples/http_echo", dirname(self));
	return server_start(&srv, opts);
}

static int start_defaults(void **state)
{
	(void)state;
	static const char *const opts[] = { NULL };
	return start_with(opts);
}

static int start_deadlines(void **state)
{
	(void)state;
	static const char *const opts[] = { "--header-timeout", "0.5", "--body-timeout", "1",
					    "--idle-timeout", "1.5", "--send-timeout", "1",
					    "--linger-timeout", "2", NULL };
	return start_with(opts);
}

static int stop_server(void **state)
{
	(void)state;
	return server_stop(&srv);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest rfc[] = {
		cmocka_unit_test(test_9112_s2_2_bare_cr_refused),
		cmocka_unit_test(test_9112_s2_2_bare_lf_in_fields_refused),
		cmocka_unit_test(test_9112_s2_2_whitespace_before_first_field),
		cmocka_unit_test(test_9112_s2_2_empty_line_before_request),
		cmocka_unit_test(test_9112_s2_3_http10_answered),
		cmocka_unit_test(test_9112_s2_3_unsupported_version_505),
		cmocka_unit_test(test_9112_s2_3_malformed_version_400),
		cmocka_unit_test(test_9112_s3_unknown_method_501),
		cmocka_unit_test(test_9112_s3_invalid_request_line_400),
		cmocka_unit_test(test_9112_s3_target_too_long_414),
		cmocka_unit_test(test_9112_s3_target_bytes_llhttp_accepts),
		cmocka_unit_test(test_9112_s3_2_host_missing_400),
		cmocka_unit_test(test_9112_s3_2_host_twice_400),
		cmocka_unit_test(test_9112_s3_2_host_invalid_400),
		cmocka_unit_test(test_9112_s3_2_host_valid_forms),
		cmocka_unit_test(test_9112_s3_2_2_absolute_form),
		cmocka_unit_test(test_9112_s3_2_4_asterisk_and_authority_form),
		cmocka_unit_test(test_9112_s5_1_whitespace_before_colon_400),
		cmocka_unit_test(test_9112_s5_1_invalid_field_name_400),
		cmocka_unit_test(test_9112_s5_1_ows_around_value),
		cmocka_unit_test(test_9112_s5_2_obs_fold_400),
		cmocka_unit_test(test_9112_s6_1_transfer_encoding_in_http10_400),
		cmocka_unit_test(test_9112_s6_1_unknown_coding_501),
		cmocka_unit_test(test_9112_s6_1_chunked_spellings),
		cmocka_unit_test(test_9112_s6_1_smuggle_te_te),
		cmocka_unit_test(test_9110_s5_6_1_empty_element_after_chunked_refused),
		cmocka_unit_test(test_9112_s6_2_content_length_frames_body),
		cmocka_unit_test(test_9112_s6_3_cl_te_conflict),
		cmocka_unit_test(test_9112_s6_3_chunked_not_final_400),
		cmocka_unit_test(test_9112_s6_3_invalid_content_length_400),
		cmocka_unit_test(test_9112_s6_3_duplicate_content_length_400),
		cmocka_unit_test(test_9112_s6_3_no_framing_means_no_body),
		cmocka_unit_test(test_9112_s6_3_body_too_large_413),
		cmocka_unit_test(test_9112_s7_1_chunked_decoded),
		cmocka_unit_test(test_9112_s7_1_bad_chunk_size_400),
		cmocka_unit_test(test_9112_s7_1_bad_chunk_terminator_400),
		cmocka_unit_test(test_9112_s7_1_1_chunk_extensions_ignored),
		cmocka_unit_test(test_9112_s7_1_1_bad_chunk_extension_400),
		cmocka_unit_test(test_9112_s7_1_1_extension_forms_llhttp_refuses),
		cmocka_unit_test(test_9112_s7_1_2_trailer_discarded),
		cmocka_unit_test(test_9112_s9_3_persistence),
		cmocka_unit_test(test_9112_s9_3_2_pipelined_in_order),
		cmocka_unit_test(test_9112_s9_6_close_stops_processing),
		cmocka_unit_test(test_9110_s5_4_fields_too_large_431),
		cmocka_unit_test(test_9110_s5_5_field_value_characters),
		cmocka_unit_test(test_9110_s6_6_1_date_on_responses),
		cmocka_unit_test(test_9110_s7_8_upgrade_ignored),
		cmocka_unit_test(test_9110_s9_3_2_head_has_no_content),
		cmocka_unit_test(test_9110_s10_1_1_expect_continue),
		cmocka_unit_test(test_9110_s10_1_1_expect_other_cases),
		cmocka_unit_test(test_9110_s15_5_6_method_not_allowed_405),
	};
	const struct CMUnitTest deadlines[] = {
		cmocka_unit_test(test_9110_s15_5_9_head_deadline_408),
		cmocka_unit_test(test_9112_s6_3_body_never_comes_408),
		cmocka_unit_test(test_9112_s6_3_body_trickle_408),
		cmocka_unit_test(test_9112_s9_5_idle_connection_closed),
		cmocka_unit_test(test_9112_s9_6_lingering_close),
		cmocka_unit_test(test_limit_unread_responses_stop_reading),
	};
	int failed = cmocka_run_group_tests_name("rfc", rfc, start_defaults, stop_server);
	failed += cmocka_run_group_tests_name("deadlines", deadlines, start_deadlines, stop_server);
	return failed;
}
