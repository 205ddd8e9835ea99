/* SPDX-License-Identifier: MIT */
// The header from C++17, as a C++ program includes it (no extern "C" of its own): an
// address parsed and printed, a loop made and freed. Built by test_install with strict
// warnings and run.
#include <ursock.h>

#include <cstdio>
#include <cstring>
#include <string>

int main()
{
	urs_addr a;
	if (urs_addr_parse(&a, "[::1]:8080") != 0)
		return 2;
	char text[URS_ADDR_STRLEN];
	if (urs_addr_format(&a, text, sizeof text) < 0 || std::string(text) != "[::1]:8080")
		return 3;
	if (urs_version() != URS_VERSION_HEX)
		return 4;
	urs_loop_opts opts{};
	opts.buf_count = 16;
	urs_loop *loop = nullptr;
	int err = urs_loop_new(&loop, &opts);
	if (err < 0) {
		std::printf("no io_uring here (%s)\n", std::strerror(-err));
		return 77;
	}
	urs_future f = urs_nop(loop);
	if (urs_future_error(f) != 0 || urs_await(f, nullptr) != 0)
		return 5;
	urs_loop_free(loop);
	std::printf("ursock %s from C++: ok\n", urs_version_string());
	return 0;
}
