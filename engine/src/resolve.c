/* Host names resolved without blocking the loop: c-ares, its sockets driven by the loop
 * itself. */
#include "internal.h"

#include <stdlib.h>

URS_API void urs_addrinfo_free(urs_addrinfo *ai)
{
	while (ai) {
		urs_addrinfo *next = ai->next;
		free(ai->canonname);
		free(ai);
		ai = next;
	}
}
