/* SPDX-License-Identifier: MIT */
/* Prints the library's version and what a loop gets from this kernel, for the header of the
 * benchmark report:  build/bench/features  ->  "0.1.0 single_issuer defer_taskrun ..." */
#include "ursock.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
	urs_loop *loop;
	int err = urs_loop_new(&loop, NULL);
	if (err < 0) {
		fprintf(stderr, "features: urs_loop_new: %s\n", strerror(-err));
		return 1;
	}
	printf("%s %s\n", urs_version_string(), urs_loop_features_str(loop));
	urs_loop_free(loop);
	return 0;
}
