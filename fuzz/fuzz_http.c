/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the server path: whole connections through the HTTP core, driven as
 * http_echo drives it. The first 8 bytes of an input steer the network and the clock (a
 * seed: where the stream is split, when the server's sends complete, how far time moves);
 * the rest is what the client sends: several requests, any bytes. Run with `make fuzz`
 * (bounded, FUZZ_SECONDS).
 *
 * Each input is played three times:
 *   A  fed whole, sends completing at once, the clock still;
 *   B  split at random points, sends completing at random moments (until then responses
 *      stay queued, the core stops at max_output and the unconsumed rest is fed again);
 *   C  as B, with the clock moving, so that head and body deadlines fire.
 * and must hold, or the target traps:
 *   - the output is a sequence of whole, well-formed responses; every final one has Date,
 *     Server and Content-Length; error responses say Connection: close and nothing follows
 *     a response that does;
 *   - feed consumes everything unless the queued output reached max_output, and the
 *     queued output stays under max_output plus one response;
 *   - B answers exactly what A answers (Date aside): splitting and slow sends change
 *     nothing. One latitude: when both end with an error response, its status may differ.
 *     llhttp reports a span (the target, a field) at the end of each buffer, so a size
 *     limit (414, 431) can be met before or after a syntax error further on in the same
 *     element depending on the split; either way the request is refused and the
 *     connection closed, and every response before it must be the same;
 *   - past every deadline the connection is idle between requests or closing. */
#define _GNU_SOURCE
#include "http/http_core.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                           \
	do {                                                                               \
		if (!(x)) {                                                                \
			fprintf(stderr, "fuzz_http: %s:%d: %s\n", __FILE__, __LINE__, #x); \
			__builtin_trap();                                                  \
		}                                                                          \
	} while (0)

static struct http_limits lim;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void out_add(struct http_buf *b, const char *p, size_t n)
{
	if (!n)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->data = realloc(b->data, b->cap);
		CHECK(b->data);
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Moves what the core answered to the client's side (a send completing). */
static void deliver(struct http_conn *c, struct http_buf *client, struct http_buf *spare)
{
	http_conn_take_output(c, spare);
	out_add(client, spare->data, spare->len);
	spare->len = 0;
}

/* Is out[pos..len) a sequence of whole responses? A response whose Content-Length is that
 * of the GET greeting may answer a HEAD (no body): both readings are tried, and positions
 * already known to fail are remembered, so the check stays linear. *last is set to where
 * the last response begins. */
static bool well_formed(const char *out, size_t len, size_t pos, unsigned char *failed,
			size_t *last)
{
	if (pos == len)
		return true;
	if (failed[pos])
		return false;
	const char *p = out + pos, *end = out + len;
	const char *eoh = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
	bool ok = false;
	if (eoh && end - p >= 13 && !memcmp(p, "HTTP/1.1 ", 9) && p[12] == ' ') {
		int status = atoi(p + 9);
		size_t hlen = (size_t)(eoh + 4 - p);
		char head[1024];
		size_t n = hlen < sizeof(head) - 1 ? hlen : sizeof(head) - 1;
		memcpy(head, p, n);
		head[n] = '\0';
		bool close = strstr(head, "\r\nConnection: close\r\n") != NULL;
		if (status == 100) {
			ok = hlen == 25 && well_formed(out, len, pos + hlen, failed, last);
		} else if (status >= 200 && status <= 505 && strstr(head, "\r\nDate: ") &&
			   strstr(head, "\r\nServer: ursock\r\n") && (status < 400 || close)) {
			const char *cl = strstr(head, "\r\nContent-Length: ");
			size_t body = cl ? strtoul(cl + 18, NULL, 10) : (size_t)-1;
			size_t after = pos + hlen + body;
			if (cl && after <= len && (!close || after == len))
				ok = well_formed(out, len, after, failed, last);
			if (ok && after == len)
				*last = pos;
			if (!ok && cl && body == 18 && (!close || pos + hlen == len)) {
				ok = well_formed(out, len, pos + hlen, failed, last); /* a HEAD */
				if (ok && pos + hlen == len)
					*last = pos;
			}
		}
	}
	if (!ok)
		failed[pos] = 1;
	return ok;
}

/* The Date values differ between runs a second apart: blank them before comparing. */
static void blank_dates(struct http_buf *b)
{
	for (char *p = b->data; p && (p = memmem(p, b->len - (size_t)(p - b->data), "\r\nDate: ", 8));
	     p += 8)
		if (b->len - (size_t)(p - b->data) >= 8 + 29)
			memset(p + 8, 'D', 29);
}

/* One connection over data. split: random chunks and send completions (else one feed and
 * sends completing at once); clock: time moves between chunks. Returns what the client
 * received. */
static struct http_buf play(const char *data, size_t size, uint64_t seed, bool split, bool clock)
{
	struct http_conn c;
	http_conn_init(&c, &lim);
	struct http_buf client = { 0 }, spare = { 0 };
	double now = 0;
	size_t off = 0;
	size_t bound = lim.max_output + lim.max_body + 1024; /* queued output, at most */
	while (off < size && !http_conn_closing(&c)) {
		size_t n = size - off;
		if (split) {
			size_t step = (size_t)(rnd(&seed) % 64) + 1;
			n = n < step ? n : step;
		}
		/* Feed this chunk; what the core leaves is fed again once a send completes. */
		size_t done = 0;
		while (done < n && !http_conn_closing(&c)) {
			size_t k = http_conn_feed(&c, data + off + done, n - done, now);
			CHECK(k <= n - done);
			CHECK(c.out.len <= bound);
			done += k;
			if (done < n && !http_conn_closing(&c)) {
				CHECK(c.out.len >= lim.max_output); /* stopped only for the cap */
				deliver(&c, &client, &spare);
			}
		}
		off += n;
		if (!split || rnd(&seed) % 3 == 0)
			deliver(&c, &client, &spare);
		if (clock) {
			now += (double)(rnd(&seed) % 2000) / 1000.0;
			http_conn_check_deadline(&c, now);
		}
	}
	if (clock && !http_conn_closing(&c)) {
		http_conn_check_deadline(&c, now + 1000);
		CHECK(http_conn_idle(&c) || http_conn_closing(&c));
	}
	deliver(&c, &client, &spare);
	free(spare.data);
	http_conn_free(&c);
	return client;
}

/* Checks out and returns how many of its bytes must be the same in every run: all, or all
 * but a final error response. */
static size_t check_well_formed(const struct http_buf *out)
{
	unsigned char *failed = calloc(out->len + 1, 1);
	size_t last = 0;
	CHECK(failed);
	CHECK(well_formed(out->data, out->len, 0, failed, &last));
	free(failed);
	return out->len && atoi(out->data + last + 9) >= 400 ? last : out->len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!lim.max_output) {
		http_limits_default(&lim);
		lim.max_target = 64;
		lim.max_header_bytes = 256;
		lim.max_headers = 8;
		lim.max_body = 512;
		lim.max_requests = 16;
		lim.max_output = 256;
		lim.header_timeout = 2;
		lim.body_timeout = 3;
	}
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t ctl = size < 8 ? size : 8;
	for (size_t i = 0; i < ctl; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull;
	seed |= 1;
	const char *req = (const char *)data + ctl;
	size = size - ctl;

	struct http_buf a = play(req, size, seed, false, false);
	struct http_buf b = play(req, size, seed, true, false);
	struct http_buf c = play(req, size, seed, true, true);
	size_t same_a = check_well_formed(&a), same_b = check_well_formed(&b);
	check_well_formed(&c);
	blank_dates(&a);
	blank_dates(&b);
	bool a_err = same_a < a.len, b_err = same_b < b.len;
	if (a_err != b_err || same_a != same_b || (same_a && memcmp(a.data, b.data, same_a))) {
		fprintf(stderr, "fuzz_http: split changed the answer:\n--- whole\n%.*s\n--- split\n%.*s\n",
			(int)a.len, a.data, (int)b.len, b.data);
		__builtin_trap();
	}
	free(a.data);
	free(b.data);
	free(c.data);
	return 0;
}
