/* SPDX-License-Identifier: MIT */
/* The library's own version, compiled in: a program compares it with the URS_VERSION_*
 * macros it was built with to tell which shared library it has loaded. */
#include "ursock.h"

URS_API unsigned urs_version(void) { return URS_VERSION_HEX; }
URS_API const char *urs_version_string(void) { return URS_VERSION_STRING; }

/* The sizes of the structs programs allocate are part of the ABI (docs/ABI.md): a new
 * option or counter takes a reserved slot, and these stay as they are. A change here is an
 * ABI break: move the soname. */
_Static_assert(sizeof(urs_loop_opts) == 100, "urs_loop_opts grows only into reserved[]");
_Static_assert(sizeof(urs_loop_stats) == 152, "urs_loop_stats grows only into reserved[]");
#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof(urs_result) == 256, "urs_result grows only into reserved[]");
#endif
