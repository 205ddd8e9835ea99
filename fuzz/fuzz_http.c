/* libFuzzer target for the HTTP request path: any bytes, split at fuzzer-chosen points,
 * fed to the protocol core the server runs. It must never crash, hang or leak, and what it
 * answers must always be whole responses. Run with `make fuzz` (bounded). */
#include "http/http_core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_limits lim;
	static int init;
	if (!init) {
		http_limits_default(&lim);
		lim.max_header_bytes = 512;
		lim.max_headers = 8;
		lim.max_body = 1024;
		lim.max_requests = 16;
		init = 1;
	}
	struct http_conn c;
	http_conn_init(&c, &lim);
	struct http_buf spare = { 0 };
	/* The first byte picks a chunk size, as a network would split the stream. */
	size_t step = size ? (size_t)data[0] % 17 + 1 : 1;
	double now = 0;
	for (size_t off = 1; off < size; off += step) {
		size_t n = size - off < step ? size - off : step;
		http_conn_feed(&c, (const char *)data + off, n, now);
		http_conn_take_output(&c, &spare);
		if (spare.len && memcmp(spare.data, "HTTP/1.1 ", 9) != 0)
			__builtin_trap();
		if (http_conn_closing(&c))
			break;
		now += 1.0;
		http_conn_check_deadline(&c, now);
	}
	free(spare.data);
	http_conn_free(&c);
	return 0;
}
