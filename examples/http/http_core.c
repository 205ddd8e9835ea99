/* SPDX-License-Identifier: MIT */
#include "http_core.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#if !LLHTTP_STRICT_MODE
#error "llhttp must be built with -DLLHTTP_STRICT_MODE=1 (the Makefile does)"
#endif

static const char GET_BODY[] = "Hello from ursock\n";

void http_limits_default(struct http_limits *l)
{
	l->max_target = 8192;
	l->max_header_bytes = 8192;
	l->max_headers = 100;
	l->max_body = 1 << 20;
	l->max_requests = 10000;
	l->max_output = 64 << 10;
	l->header_timeout = 10.0;
	l->body_timeout = 30.0;
	l->idle_timeout = 60.0;
	l->send_timeout = 30.0;
	l->linger_timeout = 2.0;
}

static bool buf_reserve(struct http_buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d)
		return false;
	b->data = d;
	b->cap = cap;
	return true;
}

static bool buf_add(struct http_buf *b, const void *p, size_t n)
{
	if (!n)
		return true;
	if (!buf_reserve(b, n))
		return false;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return true;
}

/* ---------------------------------------------------------------- responses */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* RFC 9110 §6.6.1: every response carries Date as an IMF-fixdate. Formatted when the second
 * changes, once per thread (no lock; time() is a vDSO read). */
static const char *date_now(void)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static _Thread_local time_t shown = -1;
	static _Thread_local char text[40];
	time_t t = time(NULL);
	if (t != shown) {
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7],
			 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		shown = t;
	}
	return text;
}

static char *put(char *w, const char *s, size_t n)
{
	if (n)
		memcpy(w, s, n);
	return w + n;
}

#define PUT(w, lit) put(w, lit, sizeof(lit) - 1)

static char *put_uint(char *w, size_t v)
{
	char digits[24];
	size_t n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*w++ = digits[--n];
	return w;
}

/* Written by hand rather than with snprintf: this runs for every request, and formatting
 * was a fifth of the server's CPU under pipelined load. */
static void respond(struct http_conn *c, int status, const char *body, size_t blen, bool head_only,
		    const char *extra)
{
	const char *why = reason(status);
	size_t why_len = strlen(why), extra_len = extra ? strlen(extra) : 0;
	bool http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
	/* Out of memory: no partial response goes out; the connection just closes. */
	if (!buf_reserve(&c->out, 192 + why_len + extra_len + (head_only ? 0 : blen))) {
		c->close_after = true;
		return;
	}
	char *w = c->out.data + c->out.len;
	w = PUT(w, "HTTP/1.1 ");
	w = put_uint(w, (size_t)status);
	*w++ = ' ';
	w = put(w, why, why_len);
	w = PUT(w, "\r\nServer: ursock\r\nDate: ");
	w = put(w, date_now(), 29);
	w = PUT(w, "\r\nContent-Type: text/plain\r\nContent-Length: ");
	w = put_uint(w, blen);
	w = PUT(w, "\r\n");
	w = put(w, extra, extra_len);
	if (c->close_after)
		w = PUT(w, "Connection: close\r\n");
	else if (http10)
		w = PUT(w, "Connection: keep-alive\r\n");
	w = PUT(w, "\r\n");
	if (!head_only)
		w = put(w, body, blen);
	c->out.len = (size_t)(w - c->out.data);
}

void http_conn_error(struct http_conn *c, int status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	c->close_after = true;
	c->phase = HTTP_PHASE_IDLE;
	respond(c, status, body, (size_t)n, false,
		status == 405 ? "Allow: GET, HEAD, POST, PUT\r\n" : NULL);
}

/* ---------------------------------------------------------------- checks around llhttp */

static struct http_conn *conn_of(llhttp_t *p) { return p->data; }

/* Any non-zero return stops llhttp with an error; error_status says which. */
static int refuse(struct http_conn *c, int status)
{
	c->error_status = status;
	return -1;
}

enum { EV_NONE, EV_HEAD, EV_MESSAGE };
enum { FIELD_OTHER, FIELD_HOST, FIELD_TE, FIELD_EXPECT };

static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

/* a (n bytes) equals the lower-case literal, ignoring ASCII case. */
#define IEQUAL(a, n, lit) ((n) == sizeof(lit) - 1 && iequal(a, lit, n))

static bool iequal(const char *a, const char *lower, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = a[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (ch != lower[i])
			return false;
	}
	return true;
}

/* A comma-separated list (RFC 9110 §5.6.1) being walked by list_next. */
struct list {
	const char *p, *end;
	bool done;
};

/* The next element of l, OWS trimmed; empty elements are returned too (length 0) for the
 * caller to skip. Returns false after the last. */
static bool list_next(struct list *l, const char **elem, size_t *len)
{
	if (l->done)
		return false;
	const char *a = l->p, *comma = memchr(a, ',', (size_t)(l->end - a));
	const char *b = comma ? comma : l->end;
	l->done = !comma;
	l->p = comma ? comma + 1 : l->end;
	while (a < b && is_ows(*a))
		a++;
	while (b > a && is_ows(b[-1]))
		b--;
	*elem = a;
	*len = (size_t)(b - a);
	return true;
}

static bool is_hex(char ch) { return (ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f'); }

static bool is_alnum(char ch)
{
	return ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || (ch >= '0' && ch <= '9');
}

static bool is_unreserved_or_sub_delim(char ch)
{
	switch (ch) {
	case '-': case '.': case '_': case '~': case '!': case '$': case '&': case '\'':
	case '(': case ')': case '*': case '+': case ',': case ';': case '=':
		return true;
	default:
		return is_alnum(ch);
	}
}

/* RFC 9112 §3.2, RFC 3986 §3.2.2: Host = uri-host [ ":" port ], uri-host an IP-literal in
 * brackets (IPv6 or IPvFuture), or a reg-name / IPv4address of unreserved, pct-encoded and
 * sub-delims characters; port *DIGIT. An empty value is valid. */
static bool host_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return false;
		size_t lit = (size_t)(close - s) - 1;
		const char *a = s + 1;
		if (lit >= 2 && (a[0] == 'v' || a[0] == 'V')) { /* IPvFuture */
			size_t k = 1;
			while (k < lit && is_hex(a[k]))
				k++;
			if (k == 1 || k >= lit - 1 || a[k] != '.')
				return false;
			for (k++; k < lit; k++)
				if (!is_unreserved_or_sub_delim(a[k]) && a[k] != ':')
					return false;
		} else {
			char text[INET6_ADDRSTRLEN];
			unsigned char bin[16];
			if (lit >= sizeof(text))
				return false;
			memcpy(text, a, lit);
			text[lit] = '\0';
			if (inet_pton(AF_INET6, text, bin) != 1)
				return false;
		}
		i = lit + 2;
	} else {
		for (; i < n && s[i] != ':'; i++) {
			if (s[i] == '%') {
				if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
					return false;
				i += 2;
			} else if (!is_unreserved_or_sub_delim(s[i])) {
				return false;
			}
		}
	}
	if (i == n)
		return true;
	if (s[i] != ':')
		return false;
	for (i++; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* RFC 9112 §5.2: obs-fold, a line break followed by SP or HTAB, is refused. Outside body data
 * no line of a message may begin with whitespace, so the bytes llhttp consumed outside its
 * on_body spans are scanned for LF followed by SP/HTAB (llhttp 8.1 accepts obs-fold even in
 * strict mode). Returns true when one is found. */
static bool has_fold(struct http_conn *c, const char *p, const char *end)
{
	if (p >= end)
		return false;
	if (c->after_lf && is_ows(*p))
		return true;
	for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))) && q + 1 < end; q++)
		if (is_ows(q[1]))
			return true;
	c->after_lf = end[-1] == '\n';
	return false;
}

static int on_message_begin(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	c->target_bytes = c->head_bytes = c->ext_bytes = c->body_bytes = 0;
	c->headers = 0;
	c->body.len = 0;
	c->name_len = c->hosts = c->te_chunked = c->version_len = 0;
	c->te_seen = c->te_last_chunked = c->te_other = false;
	c->expect_continue = c->expect_other = false;
	c->target_star = c->version_known = false;
	c->field_kind = FIELD_OTHER;
	c->phase = HTTP_PHASE_HEAD; /* until the head is complete: the header deadline runs */
	c->phase_started = c->now;
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	if (c->target_bytes == 0 && len)
		c->target_star = at[0] == '*';
	if (c->target_bytes == 0)
		c->target.len = 0;
	c->target_bytes += len;
	if (c->target_bytes > c->lim->max_target)
		return refuse(c, 414); /* RFC 9112 §3 */
	if (c->files && !buf_add(&c->target, at, len))
		return refuse(c, 500);
	return 0;
}

static int on_version(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	for (size_t i = 0; i < len; i++, c->version_len++)
		if (c->version_len < sizeof(c->version) - 1)
			c->version[c->version_len] = at[i];
	return 0;
}

static int on_version_complete(llhttp_t *p)
{
	conn_of(p)->version_known = true;
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	c->head_bytes += len;
	if (c->head_bytes > c->lim->max_header_bytes)
		return refuse(c, 431);
	for (size_t i = 0; i < len && c->name_len < sizeof(c->name); i++) {
		char ch = at[i];
		c->name[c->name_len++] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	return 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	if (++c->headers > c->lim->max_headers)
		return refuse(c, 431);
	if (c->name_len == 0)
		return refuse(c, 400); /* ": value": a field name is a token, never empty */
	c->field_kind = FIELD_OTHER;
	if (c->phase == HTTP_PHASE_HEAD) { /* trailer fields are discarded, never checked */
		if (IEQUAL(c->name, c->name_len, "host"))
			c->field_kind = FIELD_HOST;
		else if (IEQUAL(c->name, c->name_len, "transfer-encoding"))
			c->field_kind = FIELD_TE;
		else if (IEQUAL(c->name, c->name_len, "expect"))
			c->field_kind = FIELD_EXPECT;
	}
	c->name_len = 0;
	c->field.len = 0;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	c->head_bytes += len;
	if (c->head_bytes > c->lim->max_header_bytes)
		return refuse(c, 431);
	if (c->field_kind != FIELD_OTHER && !buf_add(&c->field, at, len))
		return refuse(c, 500);
	return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	/* An empty value may come before the buffer was ever allocated: never NULL + 0. */
	const char *s = c->field.data ? c->field.data : "", *end = s + c->field.len, *e;
	struct list l = { s, end, false };
	size_t n;
	switch (c->field_kind) {
	case FIELD_HOST: /* RFC 9112 §3.2: one Host, with a valid value */
		if (c->hosts < 255)
			c->hosts++;
		while (s < end && is_ows(*s))
			s++;
		while (end > s && is_ows(end[-1]))
			end--;
		if (!host_valid(s, (size_t)(end - s)))
			return refuse(c, 400);
		break;
	case FIELD_TE: /* RFC 9112 §6.1: the codings in order, over every field line */
		c->te_seen = true; /* even when empty */
		while (list_next(&l, &e, &n)) {
			if (!n)
				continue;
			bool chunked = IEQUAL(e, n, "chunked");
			c->te_last_chunked = chunked;
			if (chunked && c->te_chunked < 255)
				c->te_chunked++;
			if (!chunked)
				c->te_other = true;
		}
		break;
	case FIELD_EXPECT: /* RFC 9110 §10.1.1 */
		while (list_next(&l, &e, &n)) {
			if (!n)
				continue;
			if (IEQUAL(e, n, "100-continue"))
				c->expect_continue = true;
			else
				c->expect_other = true;
		}
		break;
	}
	c->field_kind = FIELD_OTHER;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	conn_of(p)->event = EV_HEAD; /* judged in http_conn_feed, once the head is scanned */
	return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	if (has_fold(c, c->scan, at)) /* the bytes before this span: chunk lines, the head */
		return refuse(c, 400);
	c->after_lf = false;
	c->scan = at + len;
	c->body_bytes += len;
	if (c->body_bytes > c->lim->max_body)
		return refuse(c, 413);
	/* Only POST and PUT echo their body; the others' is counted and dropped. */
	if ((p->method == HTTP_POST || p->method == HTTP_PUT) && !buf_add(&c->body, at, len))
		return refuse(c, 500);
	return 0;
}

static int on_chunk_header(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	/* A chunk that announces more than the body may hold is refused before it arrives. */
	return p->content_length > c->lim->max_body - c->body_bytes ? refuse(c, 413) : 0;
}

/* Chunk extensions are ignored (RFC 9112 §7.1.1), but bounded and checked for the empty
 * name or value that llhttp 8.1 lets through (";=v", ";n="). */
static int on_chunk_ext(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	(void)at;
	c->ext_bytes += len;
	if (len)
		c->ext_nonempty = true;
	return c->ext_bytes > c->lim->max_header_bytes ? refuse(c, 400) : 0;
}

static int on_chunk_ext_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	if (!c->ext_nonempty)
		return refuse(c, 400);
	c->ext_nonempty = false;
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	conn_of(p)->event = EV_MESSAGE; /* answered in http_conn_feed, once its tail is scanned */
	return HPE_PAUSED;
}

/* The head is complete and free of obs-fold: the checks llhttp does not make, in the order
 * a request is read. Returns the error status, or 0 to go on to the body. */
static int judge_head(struct http_conn *c)
{
	llhttp_t *p = &c->parser;
	if (p->http_major != 1 || p->http_minor > 1) /* llhttp takes 0.9 and 2.0 */
		return 505;
	bool http11 = p->http_minor == 1;
	if (c->hosts > 1 || (http11 && c->hosts == 0)) /* RFC 9112 §3.2 */
		return 400;
	if (c->te_seen || (p->flags & F_TRANSFER_ENCODING)) {
		if (!http11) /* RFC 9112 §6.1: faulty framing in HTTP/1.0 */
			return 400;
		/* §6.3: chunked final, and once (llhttp refuses a second chunked as well; checked
		 * here too so that the framing never rests on one parser's rule alone). */
		if (!c->te_last_chunked || c->te_chunked > 1)
			return 400;
		if (c->te_other) /* §6.1: a coding we do not implement */
			return 501;
		if (!(p->flags & F_CHUNKED)) /* llhttp must frame the body as we read it */
			return 400;
	}
	if (c->target_star && c->target_bytes == 1 && p->method != HTTP_OPTIONS) /* §3.2.4 */
		return 400;
	if (p->method != HTTP_GET && p->method != HTTP_HEAD && p->method != HTTP_POST &&
	    p->method != HTTP_PUT)
		return 405;
	if (http11 && c->expect_other)
		return 417;
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->lim->max_body)
		return 413;
	bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
	if (http11 && c->expect_continue && has_body) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (!buf_add(&c->out, cont, sizeof(cont) - 1))
			return 500;
	}
	c->phase = HTTP_PHASE_BODY; /* until the message is complete: the body deadline runs */
	c->phase_started = c->now;
	return 0;
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
					 : -1;
}

int http_target_path(const char *t, size_t len, char *out, size_t size)
{
	if (!len || t[0] != '/')
		return 400; /* origin-form only */
	size_t n = 0;
	for (size_t i = 0; i < len && t[i] != '?' && t[i] != '#'; i++) {
		char ch = t[i];
		if (ch == '%') {
			int hi = i + 2 < len ? hexval(t[i + 1]) : -1, lo = hi >= 0 ? hexval(t[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				return 400;
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (ch == '\0')
			return 400;
		if (n + 1 >= size)
			return 414;
		out[n++] = ch;
	}
	out[n] = '\0';
	/* Every segment: none may be "." or "..", decoded ("%2e%2e") or not. */
	for (const char *s = out; *s;) {
		while (*s == '/')
			s++;
		const char *e = s;
		while (*e && *e != '/')
			e++;
		size_t k = (size_t)(e - s);
		if ((k == 1 && s[0] == '.') || (k == 2 && s[0] == '.' && s[1] == '.'))
			return 404;
		s = e;
	}
	return 0;
}

static bool seg_add(struct http_conn *c, int fd, uint64_t size)
{
	struct http_segs *g = &c->segs;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 4;
		struct http_file_seg *v = realloc(g->v, cap * sizeof(*v));
		if (!v)
			return false;
		g->v = v;
		g->cap = cap;
	}
	g->v[g->n++] = (struct http_file_seg){ c->out.len, fd, size };
	g->bytes += size;
	return true;
}

/* GET or HEAD of a file under the driver's directory: its head here, its body sent by the
 * driver from the file after it (http_conn_take_files). */
static void answer_file(struct http_conn *c, bool head_only)
{
	char path[4096];
	int fd = -1;
	uint64_t size = 0;
	int status = http_target_path(c->target.data, c->target.len, path, sizeof(path));
	if (!status)
		status = c->files->open(c->files->user, path, &fd, &size);
	if (status != 200) {
		char body[64];
		int n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
		respond(c, status, body, (size_t)n, head_only, NULL);
		return;
	}
	/* The head with the file's length, then the file itself (no body bytes here). */
	size_t before = c->out.len;
	respond(c, 200, NULL, (size_t)size, true, NULL);
	if (c->out.len == before || head_only || !size) {
		close(fd);
		return;
	}
	if (!seg_add(c, fd, size)) {
		close(fd);
		c->out.len = before; /* no head without its body */
		c->close_after = true;
	}
}

void http_conn_take_files(struct http_conn *c, struct http_segs *segs)
{
	struct http_segs t = c->segs;
	c->segs = *segs;
	c->segs.n = 0;
	c->segs.bytes = 0;
	*segs = t;
}

static void answer(struct http_conn *c)
{
	llhttp_t *p = &c->parser;
	c->requests++;
	c->phase = HTTP_PHASE_IDLE;
	if (!llhttp_should_keep_alive(p) ||
	    (c->lim->max_requests && c->requests >= c->lim->max_requests))
		c->close_after = true;
	if ((p->method == HTTP_GET || p->method == HTTP_HEAD) && c->files)
		answer_file(c, p->method == HTTP_HEAD);
	else if (p->method == HTTP_GET || p->method == HTTP_HEAD)
		respond(c, 200, GET_BODY, sizeof(GET_BODY) - 1, p->method == HTTP_HEAD, NULL);
	else
		respond(c, 200, c->body.data, c->body.len, false, NULL);
	c->body.len = 0;
}

static bool is_tchar(char ch)
{
	switch (ch) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
	case '-': case '.': case '^': case '_': case '`': case '|': case '~':
		return true;
	default:
		return is_alnum(ch);
	}
}

/* The status for an error llhttp stopped with at the byte at (before end). Decided from
 * that byte and what was parsed before it, never from what follows in the buffer, so that
 * the answer does not depend on how the stream was split. */
static int status_of(struct http_conn *c, llhttp_errno_t err, const char *at, const char *end)
{
	bool byte = at < end;
	if (c->error_status)
		return c->error_status; /* a callback refused the request */
	switch (err) {
	case HPE_INVALID_METHOD:
		/* llhttp stops at the first byte no method it knows has there: a token byte
		 * means an unknown method (501), anything else a bad request line. */
		return byte && is_tchar(*at) ? 501 : 400;
	case HPE_INVALID_VERSION: {
		const char *v = c->version;
		bool digits = c->version_len == 3 && v[0] >= '0' && v[0] <= '9' && v[1] == '.' &&
			      v[2] >= '0' && v[2] <= '9';
		/* "HTTP/1.2", "HTTP/9.9": well formed and unsupported (llhttp stops right after
		 * the digits, whatever follows). When llhttp took the digits, what follows them
		 * is wrong ("HTTP/1.10"): 400. */
		return digits && !c->version_known ? 505 : 400;
	}
	case HPE_PAUSED_H2_UPGRADE: /* "PRI * HTTP/2.0": the HTTP/2 preface */
		return 505;
	default:
		return 400;
	}
}

static llhttp_settings_t settings;

void http_conn_init(struct http_conn *c, const struct http_limits *lim)
{
	if (!settings.on_message_complete) { /* same values every time: a benign race */
		llhttp_settings_init(&settings);
		settings.on_message_begin = on_message_begin;
		settings.on_url = on_url;
		settings.on_version = on_version;
		settings.on_version_complete = on_version_complete;
		settings.on_header_field = on_header_field;
		settings.on_header_value = on_header_value;
		settings.on_header_field_complete = on_header_field_complete;
		settings.on_header_value_complete = on_header_value_complete;
		settings.on_headers_complete = on_headers_complete;
		settings.on_body = on_body;
		settings.on_chunk_header = on_chunk_header;
		settings.on_chunk_extension_name = on_chunk_ext;
		settings.on_chunk_extension_value = on_chunk_ext;
		settings.on_chunk_extension_name_complete = on_chunk_ext_complete;
		settings.on_chunk_extension_value_complete = on_chunk_ext_complete;
		settings.on_message_complete = on_message_complete;
	}
	memset(c, 0, sizeof(*c));
	c->lim = lim;
	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	/* Off already; said here because each one, on, lets through what RFC 9112 refuses. */
	llhttp_set_lenient_headers(&c->parser, 0);
	llhttp_set_lenient_chunked_length(&c->parser, 0);
	llhttp_set_lenient_keep_alive(&c->parser, 0);
	llhttp_set_lenient_transfer_encoding(&c->parser, 0);
	c->parser.data = c;
}

void http_conn_free(struct http_conn *c)
{
	free(c->out.data);
	free(c->body.data);
	free(c->field.data);
	free(c->target.data);
	for (size_t i = 0; i < c->segs.n; i++)
		close(c->segs.v[i].fd);
	free(c->segs.v);
	c->out.data = c->body.data = c->field.data = c->target.data = NULL;
	c->segs.v = NULL;
	c->segs.n = c->segs.cap = 0;
}

size_t http_conn_feed(struct http_conn *c, const char *data, size_t len, double now)
{
	const char *p = data, *end = data + len;
	c->now = now;
	while (!c->close_after) {
		/* A response waits behind a blocked send: read no further request for now. */
		if (c->phase == HTTP_PHASE_IDLE && c->out.len + c->segs.bytes >= c->lim->max_output)
			return (size_t)(p - data);
		c->event = EV_NONE;
		c->scan = p;
		llhttp_errno_t err = llhttp_execute(&c->parser, p, (size_t)(end - p));
		const char *stop = err == HPE_OK ? end : llhttp_get_error_pos(&c->parser);
		if (err == HPE_OK || err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
			if (has_fold(c, c->scan, stop)) {
				http_conn_error(c, 400);
				break;
			}
		}
		if (err == HPE_OK)
			return len;
		p = stop;
		if (err == HPE_PAUSED) {
			llhttp_resume(&c->parser);
			if (c->event == EV_HEAD) {
				int status = judge_head(c);
				if (status)
					http_conn_error(c, status);
			} else if (c->event == EV_MESSAGE) {
				answer(c);
			}
			continue;
		}
		if (err == HPE_PAUSED_UPGRADE) {
			/* RFC 9110 §7.8: a server may ignore Upgrade; the connection stays HTTP/1.1. */
			llhttp_resume_after_upgrade(&c->parser);
			continue;
		}
		http_conn_error(c, status_of(c, err, p, end));
	}
	return len;
}

bool http_conn_check_deadline(struct http_conn *c, double now)
{
	if (c->close_after || c->phase == HTTP_PHASE_IDLE)
		return false;
	double limit = c->phase == HTTP_PHASE_HEAD ? c->lim->header_timeout : c->lim->body_timeout;
	if (now - c->phase_started < limit)
		return false;
	http_conn_error(c, 408);
	return true;
}

void http_conn_take_output(struct http_conn *c, struct http_buf *spare)
{
	struct http_buf t = c->out;
	c->out = *spare;
	c->out.len = 0;
	*spare = t;
}
