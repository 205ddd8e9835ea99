/* SPDX-License-Identifier: MIT */
/* SOCK_RAW: ICMP echo over IPv4 and ICMPv6 built and checked here, by the library's user,
 * and an IP_HDRINCL packet whose IPv4 header the test builds itself. Needs CAP_NET_RAW:
 * without it socket creation answers -EPERM and each test skips, saying so. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <unistd.h>

static uint16_t csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static urs_sock *raw_or_skip(urs_loop *loop, int family, int proto)
{
	urs_sock *s;
	int ret = urs_socket(loop, family, SOCK_RAW, proto, &s);
	if (ret == -EPERM || ret == -EACCES) {
		print_message("raw sockets need CAP_NET_RAW (%s): skipping\n", strerror(-ret));
		tu_loop_done(loop);
		skip();
	}
	assert_int_equal(ret, 0);
	return s;
}

static size_t echo_request(uint8_t *pkt, uint8_t type, uint16_t id, uint16_t seq, bool sum)
{
	memset(pkt, 0, 64);
	pkt[0] = type;
	uint16_t nid = htons(id), nseq = htons(seq);
	memcpy(pkt + 4, &nid, 2);
	memcpy(pkt + 6, &nseq, 2);
	memcpy(pkt + 8, "ursock ping payload", 19);
	size_t len = 8 + 19;
	if (sum) {
		uint16_t c = csum(pkt, len);
		memcpy(pkt + 2, &c, 2);
	}
	return len;
}

/* Receives until an ICMP reply of reply_type with id/seq comes (the raw socket also sees
 * the request going out on loopback). Returns its verified ICMP header offset. */
static void await_reply(urs_sock *s, bool has_iphdr, uint8_t reply_type, uint16_t id,
			uint16_t seq)
{
	urs_settimeout(s, 2.0);
	for (int tries = 0; tries < 10; tries++) {
		urs_result r;
		int n = urs_await(urs_recvfrom(s, 1500, 0), &r);
		assert_true(n > 0);
		const uint8_t *p = (const uint8_t *)r.buf.data;
		size_t off = has_iphdr ? (size_t)(p[0] & 0x0f) * 4 : 0;
		bool match = r.buf.len >= off + 8 && p[off] == reply_type;
		if (match) {
			uint16_t rid, rseq;
			memcpy(&rid, p + off + 4, 2);
			memcpy(&rseq, p + off + 6, 2);
			match = ntohs(rid) == id && ntohs(rseq) == seq;
			if (match && has_iphdr) /* IPv4: check the reply's checksum ourselves */
				assert_int_equal(csum(p + off, r.buf.len - off), 0);
			if (match)
				assert_memory_equal(p + off + 8, "ursock ping payload", 19);
		}
		urs_buf_release(&r.buf);
		if (match)
			return;
	}
	fail_msg("no echo reply");
}

static void test_icmp_echo_v4(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s = raw_or_skip(loop, AF_INET, IPPROTO_ICMP);
	urs_addr to;
	urs_addr_parse(&to, "127.0.0.1:0");
	uint8_t pkt[64];
	uint16_t id = (uint16_t)getpid();
	for (uint16_t seq = 1; seq <= 3; seq++) {
		size_t len = echo_request(pkt, ICMP_ECHO, id, seq, true);
		tu_await_eq(urs_sendto(s, pkt, len, 0, &to), (int)len, NULL);
		await_reply(s, true, ICMP_ECHOREPLY, id, seq);
	}
	tu_close(s);
	tu_loop_done(loop);
}

static void test_icmp_echo_v6(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *s = raw_or_skip(loop, AF_INET6, IPPROTO_ICMPV6);
	urs_addr to;
	urs_addr_parse(&to, "[::1]:0");
	uint8_t pkt[64];
	uint16_t id = (uint16_t)getpid();
	for (uint16_t seq = 1; seq <= 3; seq++) {
		/* ICMPv6 checksums cover a pseudo-header: the kernel fills them for raw ICMPv6. */
		size_t len = echo_request(pkt, ICMP6_ECHO_REQUEST, id, seq, false);
		tu_await_eq(urs_sendto(s, pkt, len, 0, &to), (int)len, NULL);
		await_reply(s, false, ICMP6_ECHO_REPLY, id, seq);
	}
	tu_close(s);
	tu_loop_done(loop);
}

/* IP_HDRINCL: the test writes the IPv4 header itself; the reply comes to an ICMP socket. */
static void test_ip_hdrincl(void **state)
{
	(void)state;
	urs_loop *loop = tu_loop_new(NULL);
	urs_sock *icmp = raw_or_skip(loop, AF_INET, IPPROTO_ICMP);
	urs_sock *s = raw_or_skip(loop, AF_INET, IPPROTO_RAW); /* IPPROTO_RAW implies HDRINCL */
	int one = 1;
	assert_int_equal(urs_setsockopt(s, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)), 0);
	uint8_t pkt[128];
	memset(pkt, 0, sizeof(pkt));
	uint16_t id = (uint16_t)(getpid() ^ 0x5a5a);
	size_t ilen = echo_request(pkt + 20, ICMP_ECHO, id, 7, true);
	struct iphdr *ip = (struct iphdr *)pkt;
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	ip->tot_len = htons((uint16_t)(20 + ilen));
	ip->id = htons(0x1234);
	ip->saddr = htonl(INADDR_LOOPBACK);
	ip->daddr = htonl(INADDR_LOOPBACK);
	ip->check = csum(pkt, 20);
	urs_addr to;
	urs_addr_parse(&to, "127.0.0.1:0");
	tu_await_eq(urs_sendto(s, pkt, 20 + ilen, 0, &to), (int)(20 + ilen), NULL);
	await_reply(icmp, true, ICMP_ECHOREPLY, id, 7);
	tu_close(s);
	tu_close(icmp);
	tu_loop_done(loop);
}

/* Without CAP_NET_RAW creation answers -EPERM: checked in a child that drops the
 * capability (root here would otherwise always have it). */
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
static void test_without_cap_net_raw_eperm(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d) < 0)
			_exit(3);
		d[0].effective &= ~(1u << CAP_NET_RAW);
		d[0].permitted &= ~(1u << CAP_NET_RAW);
		if (syscall(SYS_capset, &h, d) < 0)
			_exit(3);
		urs_loop *loop;
		if (urs_loop_new(&loop, NULL) < 0)
			_exit(4);
		urs_sock *s;
		int ret = urs_socket(loop, AF_INET, SOCK_RAW, IPPROTO_ICMP, &s);
		urs_loop_free(loop);
		_exit(ret == -EPERM ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 3)
		skip(); /* capabilities cannot be changed here */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_icmp_echo_v4),
		cmocka_unit_test(test_icmp_echo_v6),
		cmocka_unit_test(test_ip_hdrincl),
		cmocka_unit_test(test_without_cap_net_raw_eperm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
