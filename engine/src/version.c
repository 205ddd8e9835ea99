/* The library's own version, compiled in: a program compares it with the URS_VERSION_*
 * macros it was built with to tell which shared library it has loaded. */
#include "ursock.h"

URS_API unsigned urs_version(void) { return URS_VERSION_HEX; }
URS_API const char *urs_version_string(void) { return URS_VERSION_STRING; }
