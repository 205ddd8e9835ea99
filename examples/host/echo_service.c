/* SPDX-License-Identifier: MIT */
/* A stream echo service driven by a host loop: one accept stream, one receive stream per
 * connection, each received buffer sent back as it is and released when its send is done.
 * A connection is freed once its receive stream has ended and no send is pending, so no
 * callback of it ever runs after the free. */
#include "echo_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct conn {
	struct echo_service *svc;
	urs_sock *sock;
	urs_future recv;      /* its receive stream */
	unsigned sending;     /* sends in flight, each holding one lent buffer */
	int ended;            /* the receive stream is over (EOF, error, cancel) */
	struct conn *prev, *next;
};

struct echo_service {
	urs_loop *loop;
	urs_sock *listener;
	urs_future accept;
	struct conn *conns;
	struct echo_stats stats;
	char text[URS_ADDR_STRLEN];
};

struct chunk {
	struct conn *c;
	urs_buf buf;
};

static void conn_free(struct conn *c)
{
	struct echo_service *s = c->svc;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	urs_sock_free(c->sock);
	s->stats.open--;
	free(c);
}

static void conn_maybe_free(struct conn *c)
{
	if (c->ended && !c->sending)
		conn_free(c);
}

static void on_sent(urs_result *r, void *user)
{
	struct chunk *k = user;
	struct conn *c = k->c;
	if (r->res == 0)
		c->svc->stats.echoed += k->buf.len;
	else
		urs_cancel(c->recv); /* the peer is gone: stop receiving too */
	urs_buf_release(&k->buf);
	free(k);
	c->sending--;
	conn_maybe_free(c);
}

static void on_chunk(urs_result *r, void *user)
{
	struct conn *c = user;
	if (!(r->flags & URS_RES_MORE)) { /* EOF, an error, cancel or close: the stream is over */
		c->ended = 1;
		conn_maybe_free(c);
		return;
	}
	struct chunk *k = malloc(sizeof(*k));
	if (!k) {
		urs_buf_release(&r->buf);
		urs_cancel(c->recv);
		return;
	}
	k->c = c;
	k->buf = r->buf; /* the buffer stays lent until its send completes */
	if (urs_then(urs_sendall(c->sock, k->buf.data, k->buf.len, 0), on_sent, k) < 0) {
		urs_buf_release(&k->buf);
		free(k);
		urs_cancel(c->recv);
		return;
	}
	c->sending++;
}

static void on_conn(urs_result *r, void *user)
{
	struct echo_service *s = user;
	if (!(r->flags & URS_RES_MORE) || r->res < 0)
		return; /* the stream ended (stop), or -EMFILE: accepting resumes by itself */
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		urs_sock_free(r->sock);
		return;
	}
	c->svc = s;
	c->sock = r->sock;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->stats.open++;
	s->stats.accepted++;
	c->recv = urs_recv_stream(c->sock, on_chunk, c);
	if (urs_future_error(c->recv) < 0)
		conn_free(c);
}

int echo_service_start(urs_loop *loop, const char *text, struct echo_service **out)
{
	urs_addr addr;
	int ret = urs_addr_parse(&addr, text);
	if (ret < 0)
		return ret;
	struct echo_service *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	int one = 1;
	if ((ret = urs_socket(loop, addr.u.sa.sa_family, SOCK_STREAM, 0, &s->listener)) < 0) {
		free(s);
		return ret;
	}
	if ((ret = urs_setsockopt(s->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) < 0 ||
	    (ret = urs_bind(s->listener, &addr)) < 0 || (ret = urs_listen(s->listener, 1024)) < 0 ||
	    (ret = urs_getsockname(s->listener, &addr)) < 0 ||
	    (ret = urs_addr_format(&addr, s->text, sizeof(s->text))) < 0)
		goto fail;
	s->accept = urs_accept_stream(s->listener, on_conn, s);
	if ((ret = urs_future_error(s->accept)) < 0)
		goto fail;
	printf("listening on %s\n", s->text);
	fflush(stdout);
	*out = s;
	return 0;
fail:
	urs_sock_free(s->listener);
	free(s);
	return ret;
}

void echo_service_stop(struct echo_service *s)
{
	urs_cancel(s->accept);
	urs_sock_free(s->listener); /* closed by the loop's next run */
	s->listener = NULL;
	for (struct conn *c = s->conns; c; c = c->next)
		urs_cancel(c->recv); /* its stream ends; the conn goes once its sends are done */
}

void echo_service_free(struct echo_service *s)
{
	/* After stop and a run until idle no connection is left: each went when its last
	 * callback ran. */
	if (s->text[0] == '/')
		unlink(s->text); /* the path this service created */
	free(s);
}

void echo_service_stats(const struct echo_service *s, struct echo_stats *out) { *out = s->stats; }

int echo_service_args(int argc, char **argv, const char **addr, double *stats_every)
{
	*addr = NULL;
	*stats_every = 0;
	int help = 0, bad = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help"))
			help = 1;
		else if (!strcmp(argv[i], "--stats") && i + 1 < argc)
			*stats_every = atof(argv[++i]);
		else if (!*addr && argv[i][0] != '-')
			*addr = argv[i];
		else
			bad = 1;
	}
	if (!help && !bad && *addr)
		return -1;
	fprintf(stderr, "usage: %s [--stats SECONDS] ADDRESS   (127.0.0.1:9000, [::1]:0, /path, "
			"@name)\n", argv[0]);
	return help ? 0 : 2;
}
