/* SPDX-License-Identifier: MIT */
/* urs_addr: parse and print round trips, junk, and text against a PROT_NONE guard page. */
#include "testutil.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void roundtrip(const char *text)
{
	urs_addr a;
	char out[URS_ADDR_STRLEN];
	assert_int_equal(urs_addr_parse(&a, text), 0);
	assert_true(urs_addr_format(&a, out, sizeof(out)) > 0);
	assert_string_equal(out, text);
}

static void test_roundtrips(void **state)
{
	(void)state;
	roundtrip("203.0.113.7:80"); /* documentation addresses: text only, no traffic */
	roundtrip("0.0.0.0:0");
	roundtrip("255.255.255.255:65535");
	roundtrip("[2001:db8::1]:80");
	roundtrip("[::]:0");
	roundtrip("[::ffff:127.0.0.1]:8080");
	roundtrip("[fe80::1%2]:9");
	roundtrip("/run/x.sock");
	roundtrip("@abstract");
	urs_addr a;
	assert_int_equal(urs_addr_parse(&a, "203.0.113.7:8080"), 0);
	assert_int_equal(urs_addr_port(&a), 8080);
	assert_int_equal(urs_addr_parse(&a, "/x"), 0);
	assert_int_equal(urs_addr_port(&a), -EAFNOSUPPORT);
	char small[4];
	assert_int_equal(urs_addr_parse(&a, "203.0.113.7:80"), 0);
	assert_int_equal(urs_addr_format(&a, small, sizeof(small)), -ENOSPC);
}

static void test_junk(void **state)
{
	(void)state;
	const char *junk[] = {
		"", ":", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:8x",
		"1.2.3:80", "256.1.1.1:80", "localhost:80", "::1:80", "[::1]80", "[::1]:",
		"[::1", "[zz::1]:80", "1.2.3.4:80:90", "[2001:db8::1]:123456", "[fe80::1%]:1",
		"[fe80::1%x]:1", " 1.2.3.4:80", "1.2.3.4 :80",
	};
	urs_addr a;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		int r = urs_addr_parse(&a, junk[i]);
		if (r != -EINVAL)
			fail_msg("'%s' parsed as %d", junk[i], r);
	}
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(urs_addr_parse(&a, longpath), -ENAMETOOLONG);
	longpath[0] = '@';
	assert_int_equal(urs_addr_parse(&a, longpath), -ENAMETOOLONG);
	longpath[108] = '\0'; /* '@' + 107 bytes: exactly sun_path */
	assert_int_equal(urs_addr_parse(&a, longpath), 0);
}

/* Every prefix of valid and invalid text placed right before a PROT_NONE page: the parser
 * never reads past the terminating NUL. */
static void test_guard_page(void **state)
{
	(void)state;
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	const char *texts[] = { "203.0.113.7:8080", "[2001:db8::5]:443", "[fe80::1%3]:1", "/tmp/s", "@n" };
	urs_addr a;
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		size_t n = strlen(texts[t]);
		for (size_t k = 0; k <= n; k++) {
			char *p = m + pg - (k + 1);
			memcpy(p, texts[t], k);
			p[k] = '\0';
			(void)urs_addr_parse(&a, p);
		}
	}
	munmap(m, (size_t)pg * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrips),
		cmocka_unit_test(test_junk),
		cmocka_unit_test(test_guard_page),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
