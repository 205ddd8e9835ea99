/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 echo protocol, free of any I/O: bytes in, responses out. examples/http_echo.c
 * drives it with ursock; bench/baselines/ drive the very same code with epoll and with
 * blocking threads, so every server does the same work. Parsing is llhttp's (built with
 * LLHTTP_STRICT_MODE, its lenient flags off); the checks around it that make the server
 * refuse what RFC 9112 says to refuse are in http_core.c, and the README section "What
 * http_echo accepts and refuses" lists them. */
#ifndef HTTP_CORE_H
#define HTTP_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

/* Every limit and deadline of a connection; http_limits_default gives the documented
 * defaults. The core enforces the size limits and the head and body deadlines; the I/O
 * driver enforces max_output, idle_timeout, send_timeout and linger_timeout. */
struct http_limits {
	size_t max_target;       /* request-target bytes (414) */
	size_t max_header_bytes; /* header field names + values, trailers too (431) */
	unsigned max_headers;    /* header fields per request (431) */
	size_t max_body;         /* request body bytes (413) */
	unsigned max_requests;   /* per connection, then Connection: close; 0 = no limit */
	size_t max_output;       /* response bytes queued behind a send before parsing stops */
	double header_timeout;   /* seconds from a request's first byte to its whole head (408) */
	double body_timeout;     /* seconds from the end of the head to the end of the body (408) */
	double idle_timeout;     /* seconds a keep-alive connection may wait for a request */
	double send_timeout;     /* seconds a send may wait for the client to read (then reset) */
	double linger_timeout;   /* seconds to drain the client after the final response */
};

void http_limits_default(struct http_limits *l);

/* A growable byte buffer, kept and reused by its connection. */
struct http_buf {
	char *data;
	size_t len, cap;
};

enum http_phase { HTTP_PHASE_IDLE, HTTP_PHASE_HEAD, HTTP_PHASE_BODY };

/* Static files (http_echo -d DIR): the driver opens what a GET or HEAD names. open gets the
 * decoded path (no NUL in it, starting with '/', no "." or ".." segment) and returns 200
 * with *fd and *size (a regular file), or the status to answer (404, 403, 500). */
struct http_files {
	int (*open)(void *user, const char *path, int *fd, uint64_t *size);
	void *user;
};

/* A file the driver sends after byte `at` of the output it was taken with (http_conn_take_
 * output), before the bytes that follow: a response's body. The driver closes fd. */
struct http_file_seg {
	size_t at;
	int fd;
	uint64_t size;
};

struct http_segs {
	struct http_file_seg *v;
	size_t n, cap;
	uint64_t bytes; /* file bytes queued, counted against max_output */
};

struct http_conn {
	llhttp_t parser;
	const struct http_limits *lim;
	struct http_buf out;   /* responses not yet handed to the socket, in request order */
	struct http_buf body;  /* the body of the request being parsed */
	struct http_buf field; /* the value of a field checked here (Host, Transfer-Encoding...) */
	size_t target_bytes, head_bytes, ext_bytes, body_bytes;
	unsigned headers, requests;
	int error_status;      /* set by a callback that refuses the request */
	uint8_t phase;         /* enum http_phase */
	uint8_t event;         /* what made llhttp pause: the head or the message is complete */
	uint8_t field_kind;    /* which checked field the current value belongs to */
	uint8_t name_len, hosts, te_chunked, version_len;
	bool te_seen, te_last_chunked, te_other, expect_continue, expect_other, target_star;
	bool ext_nonempty;     /* the chunk extension name or value being parsed has a byte */
	bool version_known;    /* llhttp took the version digits (0.9, 1.0, 1.1, 2.0) */
	bool after_lf;         /* the last byte scanned outside body data was LF */
	bool close_after;      /* close once out is sent: an error, Connection: close, limits */
	char name[18];         /* the field name, lower case, while it is short enough to check */
	char version[4];       /* the version digits as received ("1.1") */
	const char *scan;      /* the first byte llhttp consumed that is not yet scanned */
	double phase_started;  /* when the head or body phase began (the caller's clock) */
	double now;            /* the clock given to the current feed */
	const struct http_files *files; /* NULL: GET answers the fixed body */
	struct http_buf target;         /* the request-target, kept in file mode */
	struct http_segs segs;          /* files to send within out, in order */
};

/* Prepares c (the llhttp settings are shared and static). */
void http_conn_init(struct http_conn *c, const struct http_limits *lim);
/* Frees c's buffers; c may be initialised again after. */
void http_conn_free(struct http_conn *c);
/* Feeds received bytes and appends the response of every request they complete to c->out
 * (now is the caller's clock in seconds, for the deadlines). Parsing stops before the next
 * request once c->out holds lim->max_output bytes or more: the caller sends c->out and
 * feeds the rest again. Returns the bytes consumed; once the connection must close after
 * c->out is sent (http_conn_closing), every byte counts as consumed and is ignored. */
size_t http_conn_feed(struct http_conn *c, const char *data, size_t len, double now);
/* True once the connection must close after c->out is sent. */
static inline bool http_conn_closing(const struct http_conn *c) { return c->close_after; }
/* True between requests: no byte of the next request has arrived. */
static inline bool http_conn_idle(const struct http_conn *c) { return c->phase == HTTP_PHASE_IDLE; }
/* The request deadlines at now: a head not complete header_timeout after its first byte,
 * or a body not complete body_timeout after its head, gets a 408 appended to c->out; then
 * returns true and the connection must close once c->out is sent. */
bool http_conn_check_deadline(struct http_conn *c, double now);
/* Appends an error response with its status and Connection: close. */
void http_conn_error(struct http_conn *c, int status);
/* Moves out's bytes to the caller: swaps c->out with *spare (an empty buffer to reuse). In
 * file mode the files to send within those bytes go to *segs (emptied first; may be NULL
 * when no file mode is set). */
void http_conn_take_output(struct http_conn *c, struct http_buf *spare);
void http_conn_take_files(struct http_conn *c, struct http_segs *segs);
/* Decodes a request-target into a file path for http_files.open: percent-decoding, the
 * query dropped. Returns 0, or the status to answer: 400 (a NUL, bad escape, not
 * origin-form), 404 (a "." or ".." segment: never leaves the directory). */
int http_target_path(const char *target, size_t len, char *out, size_t size);

#endif
