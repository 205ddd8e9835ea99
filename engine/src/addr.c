/* SPDX-License-Identifier: MIT */
/* Addresses: Python's (host, port) and Unix paths as text, parsed and printed. Numeric
 * only: name resolution would block, and a loop never blocks. */
#include "internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *out)
{
	if (!*s)
		return -EINVAL;
	unsigned long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || p - s > 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

URS_API int urs_addr_parse(urs_addr *out, const char *text)
{
	if (!out || !text)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	size_t n = strlen(text);
	if (text[0] == '/' || text[0] == '@' || text[0] == '.') {
		/* A path, or an abstract name: '@' stands for the leading NUL. */
		if (n >= sizeof(out->u.un.sun_path) + (text[0] == '@'))
			return -ENAMETOOLONG;
		if (text[0] == '@' && n > sizeof(out->u.un.sun_path))
			return -ENAMETOOLONG;
		out->u.un.sun_family = AF_UNIX;
		memcpy(out->u.un.sun_path, text, n);
		if (text[0] == '@') {
			out->u.un.sun_path[0] = '\0';
			out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		} else {
			out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		}
		return 0;
	}
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	uint16_t port;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = '\0';
		if (parse_port(end + 2, &port) < 0)
			return -EINVAL;
		char *pct = strchr(host, '%');
		uint32_t scope = 0;
		if (pct) { /* fe80::1%2: a numeric scope id */
			char *e;
			unsigned long v = strtoul(pct + 1, &e, 10);
			if (!pct[1] || *e || v > UINT32_MAX)
				return -EINVAL;
			scope = (uint32_t)v;
			*pct = '\0';
		}
		if (inet_pton(AF_INET6, host, &out->u.in6.sin6_addr) != 1)
			return -EINVAL;
		out->u.in6.sin6_family = AF_INET6;
		out->u.in6.sin6_port = htons(port);
		out->u.in6.sin6_scope_id = scope;
		out->len = sizeof(out->u.in6);
		return 0;
	}
	colon = strrchr(text, ':');
	if (!colon || (size_t)(colon - text) >= sizeof(host) || strchr(text, ':') != colon)
		return -EINVAL;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if (parse_port(colon + 1, &port) < 0)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &out->u.in.sin_addr) != 1)
		return -EINVAL;
	out->u.in.sin_family = AF_INET;
	out->u.in.sin_port = htons(port);
	out->len = sizeof(out->u.in);
	return 0;
}

URS_API int urs_addr_format(const urs_addr *a, char *buf, size_t size)
{
	if (!a || !buf)
		return -EINVAL;
	char host[INET6_ADDRSTRLEN];
	int n;
	if (a->len == 0) {
		n = snprintf(buf, size, "%s", "");
	} else if (a->u.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->u.in.sin_addr, host, sizeof(host));
		n = snprintf(buf, size, "%s:%u", host, ntohs(a->u.in.sin_port));
	} else if (a->u.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, sizeof(host));
		if (a->u.in6.sin6_scope_id)
			n = snprintf(buf, size, "[%s%%%u]:%u", host, a->u.in6.sin6_scope_id,
				     ntohs(a->u.in6.sin6_port));
		else
			n = snprintf(buf, size, "[%s]:%u", host, ntohs(a->u.in6.sin6_port));
	} else if (a->u.sa.sa_family == AF_UNIX) {
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t plen = a->len > off ? a->len - off : 0;
		if (plen == 0) {
			n = snprintf(buf, size, "%s", ""); /* unnamed */
		} else if (a->u.un.sun_path[0] == '\0') {
			/* Abstract: '@' then the name, embedded NULs shown as '@' too. */
			if (plen + 1 > size)
				return -ENOSPC;
			for (size_t i = 0; i < plen; i++)
				buf[i] = a->u.un.sun_path[i] ? a->u.un.sun_path[i] : '@';
			buf[plen] = '\0';
			return (int)plen;
		} else {
			n = snprintf(buf, size, "%.*s", (int)strnlen(a->u.un.sun_path, plen),
				     a->u.un.sun_path);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

URS_API int urs_addr_from_sockaddr(urs_addr *out, const struct sockaddr *sa, socklen_t len)
{
	if (!out || !sa || len > sizeof(out->u))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(&out->u, sa, len);
	out->len = len;
	return 0;
}

URS_API int urs_addr_port(const urs_addr *a)
{
	if (!a)
		return -EINVAL;
	if (a->u.sa.sa_family == AF_INET)
		return ntohs(a->u.in.sin_port);
	if (a->u.sa.sa_family == AF_INET6)
		return ntohs(a->u.in6.sin6_port);
	return -EAFNOSUPPORT;
}

/* An address fits a socket when its family is the socket's (an AF_INET6 socket also
 * takes nothing else: v4-mapped addresses are written as [::ffff:a.b.c.d]). */
int urs__addr_check(const urs_sock *sock, const urs_addr *a)
{
	if (!a || a->len == 0 || a->len > sizeof(a->u))
		return -EINVAL;
	if (a->u.sa.sa_family != sock->family)
		return -EAFNOSUPPORT;
	return 0;
}
