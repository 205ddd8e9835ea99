/* SPDX-License-Identifier: MIT */
/* Control messages: building them for urs_sendmsg, walking what urs_recvmsg received, and
 * reading the common ones (SCM_RIGHTS, IP_PKTINFO/IPV6_PKTINFO, SCM_TIMESTAMPNS,
 * SCM_CREDENTIALS). The layout is the kernel's (struct cmsghdr, CMSG_ALIGN); the walk
 * checks every length against the buffer, so a malformed buffer answers -EINVAL instead of
 * reading past its end. */
#define _GNU_SOURCE
#include "internal.h"

#include <string.h>
#include <unistd.h>

URS_API int urs_cmsg_add(void *buf, size_t size, size_t *used, int level, int type,
			 const void *data, size_t len)
{
	if (!buf || !used || (!data && len) || *used > size || len > INT32_MAX)
		return -EINVAL;
	if (*used % _Alignof(struct cmsghdr))
		return -EINVAL; /* every message starts aligned: use what urs_cmsg_add left */
	size_t space = CMSG_SPACE(len);
	if (size - *used < space)
		return -ENOSPC;
	struct cmsghdr *c = (struct cmsghdr *)((char *)buf + *used);
	memset(c, 0, space);
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	if (len)
		memcpy(CMSG_DATA(c), data, len);
	*used += space;
	return 0;
}

URS_API int urs_cmsg_add_fds(void *buf, size_t size, size_t *used, const int *fds, size_t n)
{
	if (!fds || n == 0 || n > 253) /* SCM_MAX_FD: the kernel refuses more in one message */
		return -EINVAL;
	return urs_cmsg_add(buf, size, used, SOL_SOCKET, SCM_RIGHTS, fds, n * sizeof(int));
}

URS_API int urs_cmsg_next(const void *buf, size_t len, size_t *pos, urs_cmsg *out)
{
	if (!pos || !out || (!buf && len))
		return -EINVAL;
	if (*pos >= len || len - *pos < sizeof(struct cmsghdr))
		return 0;
	const struct cmsghdr *c = (const struct cmsghdr *)((const char *)buf + *pos);
	if (c->cmsg_len < CMSG_LEN(0) || c->cmsg_len > len - *pos)
		return -EINVAL;
	out->level = c->cmsg_level;
	out->type = c->cmsg_type;
	out->data = CMSG_DATA(c);
	out->len = c->cmsg_len - CMSG_LEN(0);
	size_t step = CMSG_ALIGN(c->cmsg_len);
	*pos = step > len - *pos ? len : *pos + step;
	return 1;
}

URS_API int urs_cmsg_fds(const urs_cmsg *c, int *fds, size_t max)
{
	if (!c || c->level != SOL_SOCKET || c->type != SCM_RIGHTS || (!fds && max))
		return -EINVAL;
	size_t n = c->len / sizeof(int);
	memcpy(fds, c->data, (n < max ? n : max) * sizeof(int));
	return (int)n;
}

URS_API int urs_cmsg_pktinfo(const urs_cmsg *c, urs_addr *dst, int *ifindex)
{
	if (!c || !dst)
		return -EINVAL;
	memset(dst, 0, sizeof(*dst));
	if (c->level == IPPROTO_IP && c->type == IP_PKTINFO && c->len >= sizeof(struct in_pktinfo)) {
		struct in_pktinfo pi;
		memcpy(&pi, c->data, sizeof(pi));
		dst->u.in.sin_family = AF_INET;
		dst->u.in.sin_addr = pi.ipi_addr;
		dst->len = sizeof(dst->u.in);
		if (ifindex)
			*ifindex = pi.ipi_ifindex;
		return 0;
	}
	if (c->level == IPPROTO_IPV6 && c->type == IPV6_PKTINFO &&
	    c->len >= sizeof(struct in6_pktinfo)) {
		struct in6_pktinfo pi;
		memcpy(&pi, c->data, sizeof(pi));
		dst->u.in6.sin6_family = AF_INET6;
		dst->u.in6.sin6_addr = pi.ipi6_addr;
		dst->len = sizeof(dst->u.in6);
		if (ifindex)
			*ifindex = (int)pi.ipi6_ifindex;
		return 0;
	}
	return -EINVAL;
}

URS_API int urs_cmsg_timestamp(const urs_cmsg *c, struct timespec *ts)
{
	if (!c || !ts || c->level != SOL_SOCKET || c->type != SCM_TIMESTAMPNS ||
	    c->len < sizeof(struct timespec))
		return -EINVAL;
	memcpy(ts, c->data, sizeof(*ts));
	return 0;
}

URS_API int urs_cmsg_creds(const urs_cmsg *c, int32_t *pid, uint32_t *uid, uint32_t *gid)
{
	if (!c || c->level != SOL_SOCKET || c->type != SCM_CREDENTIALS ||
	    c->len < sizeof(struct ucred))
		return -EINVAL;
	struct ucred u;
	memcpy(&u, c->data, sizeof(u));
	if (pid)
		*pid = u.pid;
	if (uid)
		*uid = u.uid;
	if (gid)
		*gid = u.gid;
	return 0;
}

void urs__cmsg_close_fds(void *control, size_t len)
{
	size_t pos = 0;
	urs_cmsg c;
	while (urs_cmsg_next(control, len, &pos, &c) == 1) {
		if (c.level != SOL_SOCKET || c.type != SCM_RIGHTS)
			continue;
		int *fds = (int *)c.data; /* the caller's writable control buffer */
		for (size_t i = 0; i < c.len / sizeof(int); i++) {
			int fd;
			memcpy(&fd, &fds[i], sizeof(fd));
			if (fd >= 0)
				close(fd);
			fd = -1;
			memcpy(&fds[i], &fd, sizeof(fd));
		}
	}
}
