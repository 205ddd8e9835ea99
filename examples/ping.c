/* SPDX-License-Identifier: MIT */
/* ping over a raw ICMP socket (needs CAP_NET_RAW, e.g. root): the echo request is built
 * and the reply checked here, by the program, not by the library.
 *
 *   build/examples/ping 127.0.0.1          (or ::1; -c COUNT, default 3)
 *
 * Each request is a sendto future, each reply a recvfrom future with a 1 s timeout. */
#include "ursock.h"

#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint16_t checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Why the kernel refused a raw socket: without CAP_NET_RAW in the effective set (not root,
 * or root in a container that drops it) that is the reason; with it, a policy (seccomp,
 * an LSM) refused. Read from /proc/self/status, CapEff. */
static const char *raw_refusal_reason(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	bool known = false;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			known = true;
	if (f)
		fclose(f);
	if (!known)
		return "";
	return eff & (1ull << 13) /* CAP_NET_RAW */
		       ? " (CAP_NET_RAW is held: a seccomp or LSM policy refused the socket)"
		       : " (this process lacks CAP_NET_RAW, which raw sockets need)";
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int count = 3;
	const char *host = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			printf("usage: %s [-c COUNT] HOST   (127.0.0.1, ::1)\n", argv[0]);
			return 0;
		}
		if (!strcmp(argv[i], "-c") && i + 1 < argc)
			count = atoi(argv[++i]);
		else
			host = argv[i];
	}
	if (!host || count < 1) {
		fprintf(stderr, "usage: %s [-c COUNT] HOST\n", argv[0]);
		return 2;
	}
	char text[80];
	bool v6 = strchr(host, ':') != NULL;
	snprintf(text, sizeof(text), v6 ? "[%s]:0" : "%s:0", host);
	urs_addr to;
	urs_loop *loop;
	urs_sock *s;
	/* Each step says what failed: a refused io_uring is not a missing capability. */
	int ret = urs_addr_parse(&to, text);
	if (ret < 0) {
		fprintf(stderr, "ping: bad address '%s': expected an IPv4 or IPv6 address\n", host);
		return 2;
	}
	ret = urs_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "ping: urs_loop_new: %s%s\n",
			ret == -EPERM || ret == -ENOSYS ? "io_uring unavailable: " : "", strerror(-ret));
		return 1;
	}
	ret = urs_socket(loop, v6 ? AF_INET6 : AF_INET, SOCK_RAW, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, &s);
	if (ret < 0) {
		fprintf(stderr, "ping: raw %s socket: %s%s\n", v6 ? "ICMPv6" : "ICMP", strerror(-ret),
			ret == -EPERM ? raw_refusal_reason() : "");
		urs_loop_free(loop);
		return 1;
	}
	urs_settimeout(s, 1.0);
	uint16_t id = (uint16_t)getpid();
	int replies = 0;
	for (uint16_t seq = 1; seq <= count; seq++) {
		uint8_t pkt[64] = { v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO, 0 };
		uint16_t nid = htons(id), nseq = htons(seq);
		memcpy(pkt + 4, &nid, 2);
		memcpy(pkt + 6, &nseq, 2);
		memset(pkt + 8, 0xa5, 56);
		if (!v6) { /* the kernel fills ICMPv6 checksums (they cover a pseudo-header) */
			uint16_t c = checksum(pkt, sizeof(pkt));
			memcpy(pkt + 2, &c, 2);
		}
		double t0 = now_ms();
		ret = urs_await(urs_sendto(s, pkt, sizeof(pkt), 0, &to), NULL);
		while (ret >= 0) {
			urs_result r;
			ret = urs_await(urs_recvfrom(s, 1500, 0), &r);
			if (ret < 0)
				break;
			const uint8_t *p = (const uint8_t *)r.buf.data;
			size_t off = v6 ? 0 : (size_t)(p[0] & 0x0f) * 4; /* IPv4 raw: IP header */
			uint16_t rid = 0, rseq = 0;
			bool ok = r.buf.len >= off + 8 &&
				  p[off] == (v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY);
			if (ok) {
				memcpy(&rid, p + off + 4, 2);
				memcpy(&rseq, p + off + 6, 2);
				ok = ntohs(rid) == id && ntohs(rseq) == seq &&
				     (v6 || checksum(p + off, r.buf.len - off) == 0);
			}
			size_t n = r.buf.len - off;
			urs_buf_release(&r.buf);
			if (ok) {
				printf("%zu bytes from %s: icmp_seq=%u time=%.3f ms\n", n, host, seq,
				       now_ms() - t0);
				replies++;
				break;
			}
		}
		if (ret < 0)
			printf("icmp_seq=%u: %s\n", seq, strerror(-ret));
	}
	printf("%d packets transmitted, %d received\n", count, replies);
	urs_sock_free(s);
	urs_loop_run(loop, URS_RUN_UNTIL_IDLE);
	urs_loop_free(loop);
	return replies == count ? 0 : 1;
}
