/* SPDX-License-Identifier: MIT */
/* makefile: a FILE * over a socket through fopencookie. Each stdio read or write awaits one
 * op on the socket's loop. This is the one place that sets errno: stdio requires it. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct cookie {
	urs_sock *sock;
};

/* Awaiting inside a callback of the same loop would wait for ourselves: refuse before an
 * op is started, so nothing is left pending. A socket whose loop is gone is closed. */
static bool refused(const struct cookie *ck)
{
	if (!ck->sock->loop) {
		errno = EBADF;
		return true;
	}
	if (!ck->sock->loop->depth)
		return false;
	errno = EDEADLK;
	return true;
}

static ssize_t file_read(void *c, char *buf, size_t size)
{
	struct cookie *ck = c;
	if (refused(ck))
		return -1;
	if (size > INT32_MAX)
		size = INT32_MAX;
	int ret = urs_await(urs_recv_into(ck->sock, buf, size, 0), NULL);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

static ssize_t file_write(void *c, const char *buf, size_t size)
{
	struct cookie *ck = c;
	urs_result r;
	if (refused(ck))
		return 0;
	int ret = urs_await(urs_sendall(ck->sock, buf, size, 0), &r);
	if (ret < 0) {
		errno = -ret;
		/* stdio takes a short count as an error; report what went. */
		return ret == -EBADF || ret == -EINVAL ? 0 : (ssize_t)r.sent;
	}
	return (ssize_t)size;
}

static int file_close(void *c)
{
	struct cookie *ck = c;
	urs_sock *s = ck->sock;
	free(ck);
	urs__sock_file_closed(s);
	return 0;
}

URS_API FILE *urs_makefile(urs_sock *sock, const char *mode, int *err)
{
	int e = 0;
	const char *m = NULL;
	if (!sock || !mode)
		e = -EINVAL;
	else if (urs__sock_check(sock) < 0)
		e = -EBADF;
	else if (!strcmp(mode, "r") || !strcmp(mode, "rb"))
		m = "r";
	else if (!strcmp(mode, "w") || !strcmp(mode, "wb"))
		m = "w";
	else if (!strcmp(mode, "rw") || !strcmp(mode, "r+") || !strcmp(mode, "rwb") ||
		 !strcmp(mode, "r+b") || !strcmp(mode, "w+"))
		m = "r+";
	else
		e = -EINVAL;
	struct cookie *ck = NULL;
	FILE *f = NULL;
	if (!e) {
		ck = malloc(sizeof(*ck));
		if (ck) {
			ck->sock = sock;
			cookie_io_functions_t io = { file_read, file_write, NULL, file_close };
			f = fopencookie(ck, m, io);
		}
		if (!f) {
			free(ck);
			e = -ENOMEM;
		} else {
			sock->files++;
		}
	}
	if (err)
		*err = e;
	return f;
}
