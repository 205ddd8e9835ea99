/* The HTTP/1.1 echo protocol, free of any I/O: bytes in, responses out. examples/http_echo.c
 * drives it with ursock; bench/baselines/ drive the very same code with epoll and with
 * blocking threads, so every server does the same work. Parsing is llhttp's. */
#ifndef HTTP_CORE_H
#define HTTP_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

struct http_limits {
	size_t max_header_bytes; /* request line + header fields and values (431) */
	unsigned max_headers;    /* header fields per request (431) */
	size_t max_body;         /* request body bytes (413) */
	unsigned max_requests;   /* per connection, then Connection: close; 0 = no limit */
	double header_timeout;   /* seconds to receive a whole request head (408) */
	double idle_timeout;     /* seconds a keep-alive connection may sit idle */
};

void http_limits_default(struct http_limits *l);

/* A growable byte buffer, kept and reused by its connection. */
struct http_buf {
	char *data;
	size_t len, cap;
};

struct http_conn {
	llhttp_t parser;
	const struct http_limits *lim;
	struct http_buf out;   /* responses not yet handed to the socket, in request order */
	struct http_buf body;  /* the body of the request being parsed */
	size_t head_bytes;
	unsigned headers, requests;
	int error_status;      /* set by a callback that refuses the request */
	bool in_head;          /* a request head has begun and is not complete */
	bool close_after;      /* close once out is sent: an error, Connection: close, limits */
	double head_started;   /* when in_head began (the caller's clock, seconds) */
	double now;            /* the clock given to the current feed */
};

/* Prepares c (the settings are shared and static). */
void http_conn_init(struct http_conn *c, const struct http_limits *lim);
void http_conn_free(struct http_conn *c);
/* Feeds received bytes; appends every complete response to c->out. now is the caller's
 * clock in seconds (for the header deadline). Returns false once the connection must
 * close after c->out is sent (then further bytes are ignored). */
bool http_conn_feed(struct http_conn *c, const char *data, size_t len, double now);
/* Deadlines: true when the head deadline passed (a 408 is appended and the connection
 * must close after it is sent). */
bool http_conn_check_deadline(struct http_conn *c, double now);
/* Appends an error response with its status and Connection: close. */
void http_conn_error(struct http_conn *c, int status);
/* Moves out's bytes to the caller: swaps c->out with *spare (an empty buffer to reuse). */
void http_conn_take_output(struct http_conn *c, struct http_buf *spare);

#endif
