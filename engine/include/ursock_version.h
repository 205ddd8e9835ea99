/* SPDX-License-Identifier: MIT */
/* ursock's version: the numbers this header was shipped with, and urs_version() for the
 * numbers of the library a program actually runs against (they differ when a program built
 * against one release loads the shared library of another).
 *
 * The Makefile reads the three numbers below: they are the one place the version is kept
 * (the shared library's soname, ursock.pc and CHANGELOG.md follow them). */
#ifndef URSOCK_VERSION_H
#define URSOCK_VERSION_H

#define URS_VERSION_MAJOR 0
#define URS_VERSION_MINOR 1
#define URS_VERSION_PATCH 0

#define URS_VERSION_STR_(x) #x
#define URS_VERSION_STR(x) URS_VERSION_STR_(x)
/* "0.1.0" */
#define URS_VERSION_STRING                                                                       \
	URS_VERSION_STR(URS_VERSION_MAJOR)                                                       \
	"." URS_VERSION_STR(URS_VERSION_MINOR) "." URS_VERSION_STR(URS_VERSION_PATCH)
/* One number that compares in release order: 0x000100 for 0.1.0. */
#define URS_VERSION_HEX ((URS_VERSION_MAJOR << 16) | (URS_VERSION_MINOR << 8) | URS_VERSION_PATCH)

#ifndef URS_API
#define URS_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The running library's URS_VERSION_HEX. */
URS_API unsigned urs_version(void);
/* The running library's URS_VERSION_STRING; a static string. */
URS_API const char *urs_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
