#include "http_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char GET_BODY[] = "Hello from ursock\n";

void http_limits_default(struct http_limits *l)
{
	l->max_header_bytes = 8192;
	l->max_headers = 100;
	l->max_body = 1 << 20;
	l->max_requests = 10000;
	l->header_timeout = 10.0;
	l->idle_timeout = 60.0;
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

static void buf_add(struct http_buf *b, const void *p, size_t n)
{
	if (n && buf_reserve(b, n)) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	}
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	default: return "Error";
	}
}

static void respond(struct http_conn *c, int status, const char *body, size_t blen, bool head_only,
		    const char *extra)
{
	char h[256];
	bool keep = !c->close_after;
	bool http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
	int n = snprintf(h, sizeof(h),
			 "HTTP/1.1 %d %s\r\nServer: ursock\r\nContent-Type: text/plain\r\n"
			 "Content-Length: %zu\r\n%s%s\r\n",
			 status, reason(status), blen, extra ? extra : "",
			 !keep ? "Connection: close\r\n" : http10 ? "Connection: keep-alive\r\n" : "");
	buf_add(&c->out, h, (size_t)n);
	if (!head_only)
		buf_add(&c->out, body, blen);
}

void http_conn_error(struct http_conn *c, int status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason(status));
	c->close_after = true;
	c->in_head = false;
	respond(c, status, body, (size_t)n, false,
		status == 405 ? "Allow: GET, HEAD, POST, PUT\r\n" : NULL);
}

static struct http_conn *conn_of(llhttp_t *p) { return p->data; }

/* Any non-zero return stops llhttp with an error; error_status says which. */
static int refuse(struct http_conn *c, int status)
{
	c->error_status = status;
	return -1;
}

static int on_message_begin(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	c->head_bytes = 0;
	c->headers = 0;
	c->body.len = 0;
	c->in_head = true; /* until on_headers_complete: the header deadline runs */
	c->head_started = c->now;
	return 0;
}

static int count_head(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	(void)at;
	c->head_bytes += len;
	return c->head_bytes > c->lim->max_header_bytes ? refuse(c, 431) : 0;
}

static int on_header_field_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	return ++c->headers > c->lim->max_headers ? refuse(c, 431) : 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	c->in_head = false;
	if (p->method != HTTP_GET && p->method != HTTP_HEAD && p->method != HTTP_POST &&
	    p->method != HTTP_PUT)
		return refuse(c, 405);
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->lim->max_body)
		return refuse(c, 413);
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct http_conn *c = conn_of(p);
	if (c->body.len + len > c->lim->max_body)
		return refuse(c, 413);
	buf_add(&c->body, at, len);
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct http_conn *c = conn_of(p);
	c->requests++;
	if (!llhttp_should_keep_alive(p) ||
	    (c->lim->max_requests && c->requests >= c->lim->max_requests))
		c->close_after = true;
	if (p->method == HTTP_GET || p->method == HTTP_HEAD)
		respond(c, 200, GET_BODY, sizeof(GET_BODY) - 1, p->method == HTTP_HEAD, NULL);
	else
		respond(c, 200, c->body.data, c->body.len, false, NULL);
	c->body.len = 0;
	/* Stop at a response that closes: later pipelined requests get no answer. */
	return c->close_after ? HPE_PAUSED : 0;
}

static llhttp_settings_t settings;

void http_conn_init(struct http_conn *c, const struct http_limits *lim)
{
	if (!settings.on_message_complete) { /* same values every time: a benign race */
		llhttp_settings_init(&settings);
		settings.on_message_begin = on_message_begin;
		settings.on_url = count_head;
		settings.on_header_field = count_head;
		settings.on_header_value = count_head;
		settings.on_header_field_complete = on_header_field_complete;
		settings.on_headers_complete = on_headers_complete;
		settings.on_body = on_body;
		settings.on_message_complete = on_message_complete;
	}
	memset(c, 0, sizeof(*c));
	c->lim = lim;
	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	c->parser.data = c;
}

void http_conn_free(struct http_conn *c)
{
	free(c->out.data);
	free(c->body.data);
	c->out.data = c->body.data = NULL;
}

bool http_conn_feed(struct http_conn *c, const char *data, size_t len, double now)
{
	if (c->close_after)
		return false;
	c->now = now;
	llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
	if (err == HPE_OK || err == HPE_PAUSED)
		return !c->close_after;
	int status = 400;
	if (c->error_status)
		status = c->error_status; /* a callback refused the request */
	else if (err == HPE_INVALID_METHOD)
		status = 501;
	http_conn_error(c, status);
	return false;
}

bool http_conn_check_deadline(struct http_conn *c, double now)
{
	if (c->close_after || !c->in_head || now - c->head_started < c->lim->header_timeout)
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
