/* SPDX-License-Identifier: MIT */
/* The library as a packager and a user get it: `make install` into a temporary DESTDIR from
 * a build of its own (with a distribution's hardening flags, which must reach the compiler
 * and the linker), the installed files, the soname, the exported symbols, the man pages (one
 * for every call, each rendering cleanly), programs outside the tree built through
 * pkg-config (shared and --static) and run, the header under strict C11 and C++17 warnings
 * with gcc and clang, and `make uninstall` leaving nothing behind.
 *
 * The build goes to URS_TEST_BUILD (beside the tests, kept between runs so a rerun is
 * incremental); every installed tree is under a mkdtemp directory removed at the end. The
 * nested make gets a clean environment (no MAKEFLAGS, SAN=0, no install directories from
 * the outer make, URS_CARES too: c-ares where it is found), so `make test SAN=1` still
 * installs a plain build, as a packager would. */
#define _GNU_SOURCE
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef URS_SRCDIR
#error "URS_SRCDIR: the source tree, set by the Makefile"
#endif

#define STR_(x) #x
#define STR(x) STR_(x)
#define SONAME "libursock.so." STR(URS_SOVERSION)
#define REALNAME "libursock.so." URS_VERSION_STRING

static char tmp[64];         /* everything installed or compiled here */
static char dest[128];       /* DESTDIR */
static char lib[192];        /* $DESTDIR/usr/local/lib */
static char inc[192];        /* $DESTDIR/usr/local/include */
static char man[192];        /* $DESTDIR/usr/local/share/man */
static char pcpath[256];     /* PKG_CONFIG_PATH for the DESTDIR tree */
static char *install_log;    /* what `make install` printed */
static int install_status;

/* The make every step runs: the source tree, our own build directory, the compiler under
 * test, and a distribution's hardening flags as a packager passes them. */
#define MAKE                                                                                   \
	"env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u DESTDIR -u PREFIX -u LIBDIR " \
	"-u INCLUDEDIR -u PKGCONFIGDIR -u MANDIR -u PYTHON -u LDLIBS -u URS_CARES "               \
	"make -s -j2 -C " URS_SRCDIR " SAN=0"                                                      \
	" BUILD=" URS_TEST_BUILD " CC='" URS_CC "' WERROR=1 CPPFLAGS=-D_FORTIFY_SOURCE=2"       \
	" CFLAGS='-O2 -g -fstack-protector-strong' LDFLAGS='-Wl,-z,relro,-z,now' LDCONFIG=:"

/* Runs a shell command; returns what it printed (stdout and stderr; caller frees) and its
 * exit status in *status. */
static char *run(const char *cmd, int *status)
{
	char *full;
	if (asprintf(&full, "(%s) 2>&1", cmd) < 0)
		fail();
	FILE *f = popen(full, "r");
	free(full);
	assert_non_null(f);
	size_t cap = 1 << 16, len = 0, k;
	char *out = malloc(cap);
	assert_non_null(out);
	while ((k = fread(out + len, 1, cap - len - 1, f)) > 0) {
		len += k;
		if (len + 1 == cap) {
			out = realloc(out, cap *= 2);
			assert_non_null(out);
		}
	}
	out[len] = '\0';
	int st = pclose(f);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

/* Runs a command that must succeed; returns its output (caller frees). */
static char *ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *ok(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd;
	if (vasprintf(&cmd, fmt, ap) < 0)
		fail();
	va_end(ap);
	int st;
	char *out = run(cmd, &st);
	if (st != 0)
		fail_msg("exit %d: %s\n%s", st, cmd, out);
	free(cmd);
	return out;
}

static void has(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not in:\n%s", needle, hay);
}

static void lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("'%s' unexpected in:\n%s", needle, hay);
}

/* A plain `make`, `make examples`, `make check` or `make install` must never install a
 * package (apt needs a network and root a packager's build does not have); and where the
 * optional examples' libraries are missing, the plain examples still build. */
static void test_build_installs_no_package(void **state)
{
	(void)state;
	char *out = ok(MAKE " -n all examples install check uninstall");
	lacks(out, "deps.sh");
	lacks(out, "apt-get");
	free(out);
	/* llhttp and libuv "missing": no pkg-config at all, no llhttp sources */
	out = ok(MAKE " PKG_CONFIG=false LLHTTP_DIR=/nonexistent examples");
	has(out, "http_echo not built");
	has(out, "host_libuv not built");
	free(out);
	out = ok("ls " URS_TEST_BUILD "/examples");
	has(out, "stream_echo\n");
	free(out);
}

/* What install put where, with the modes a package wants, and ursock.pc's fields. */
static void test_install_layout(void **state)
{
	(void)state;
	if (install_status != 0)
		fail_msg("make install failed:\n%s", install_log);
	char *out = ok("cd %s && find . | sort", dest);
	printf("installed:\n%s", out); /* whole: print_message cuts long text (68 man pages) */
	fflush(stdout);
	const char *files[] = { "include/ursock.h", "include/ursock_version.h", "lib/libursock.a",
				"lib/" REALNAME, "lib/pkgconfig/ursock.pc", "share/man/man7/ursock.7",
				"share/man/man3/urs_send.3", "share/man/man3/urs_getsockname.3" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[400];
		snprintf(path, sizeof(path), "%s/usr/local/%s", dest, files[i]);
		struct stat st;
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			fail_msg("%s: not a regular file", path);
		mode_t want = strstr(files[i], ".so.") ? 0755 : 0644;
		if ((st.st_mode & 07777) != want)
			fail_msg("%s: mode %o, want %o", path, st.st_mode & 07777, want);
	}
	/* the soname link (the loader's) and the dev link (the linker's) */
	char link[400], target[64];
	snprintf(link, sizeof(link), "%s/" SONAME, lib);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, REALNAME);
	snprintf(link, sizeof(link), "%s/libursock.so", lib);
	n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, SONAME);
	free(out);
	out = ok("cat %s/pkgconfig/ursock.pc", lib);
	print_message("ursock.pc:\n%s", out);
	has(out, "prefix=/usr/local\n");
	has(out, "libdir=${prefix}/lib\n");
	has(out, "Version: " URS_VERSION_STRING "\n");
	/* c-ares where the build found it (make test installs libc-ares-dev) */
	int st;
	free(run("pkg-config --exists libcares", &st));
	has(out, st == 0 ? "Requires.private: liburing, libcares\n" : "Requires.private: liburing\n");
	free(out);
	out = ok("PKG_CONFIG_PATH=%s pkg-config --modversion ursock", pcpath);
	assert_string_equal(out, URS_VERSION_STRING "\n");
	free(out);
}

/* The soname, what the library needs, and that the packager's LDFLAGS and CFLAGS reached
 * the link (-z now, relro) and the compiler (stack protector). */
static void test_soname_and_packager_flags(void **state)
{
	(void)state;
	char *out = ok("readelf -d %s/" REALNAME, lib);
	printf("readelf -d %s:\n%s", REALNAME, out); /* whole: print_message cuts long text */
	fflush(stdout);
	has(out, "(SONAME)             Library soname: [" SONAME "]");
	has(out, "Shared library: [liburing.so.2]");
	has(out, "BIND_NOW");
	lacks(out, "RPATH");
	lacks(out, "RUNPATH");
	lacks(out, "TEXTREL");
	free(out);
	out = ok("readelf -lW %s/" REALNAME, lib);
	has(out, "GNU_RELRO");
	free(out);
	out = ok("nm -D --undefined-only %s/" REALNAME, lib);
	has(out, "__stack_chk_fail");
	free(out);
}

/* The names of the functions the installed headers declare URS_API, one a line, sorted
 * (caller frees). */
static char *declared_functions(void)
{
	return ok("cat %s/ursock.h %s/ursock_version.h | grep -v '^ *#' | tr '\\n' ' ' | grep -o "
		  "'URS_API[^(;]*(' | sed 's/.*[ *]\\([a-z_0-9]*\\)($/\\1/' | sort",
		  inc, inc);
}

/* Exactly the functions the installed headers declare URS_API are exported, each in the
 * URSOCK_0 version node: no internal urs__ function, nothing from liburing or libc. */
static void test_exports_are_the_public_api(void **state)
{
	(void)state;
	char *declared = declared_functions();
	char *exported = ok("nm -D --defined-only %s/" REALNAME " | awk '$2 != \"A\" {print $3}' "
			    "| sort", lib);
	int funcs = 0;
	for (char *p = declared; (p = strchr(p, '\n')); p++)
		funcs++;
	print_message("%d functions declared URS_API, exported as name@@URSOCK_0\n", funcs);
	assert_true(funcs > 40);
	/* every exported symbol is name@@URSOCK_0 with name declared, and the other way round */
	char *e = exported, *d = declared;
	while (*d || *e) {
		char *de = strchr(d, '\n'), *ee = strchr(e, '\n');
		if (!de || !ee)
			fail_msg("declared and exported differ near '%.40s' / '%.40s'", d, e);
		*de = '\0';
		*ee = '\0';
		char want[128];
		snprintf(want, sizeof(want), "%s@@URSOCK_0", d);
		if (strcmp(e, want))
			fail_msg("exported '%s', declared '%s'", e, d);
		assert_int_equal(strncmp(e, "urs_", 4), 0);
		assert_true(e[4] != '_');
		d = de + 1;
		e = ee + 1;
	}
	free(declared);
	free(exported);
}

/* Whitespace runs as one space, in place. */
static void squash(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++)
		if (!isspace((unsigned char)*r) || (w > s && w[-1] != ' '))
			*w++ = isspace((unsigned char)*r) ? ' ' : *r;
	*w = '\0';
}

/* Every function the installed headers declare URS_API has a man page (its own, or a .so
 * link to the page it shares), and every installed page renders with groff without one
 * warning. A call's rendered page names it in NAME and shows its prototype exactly as the
 * installed header declares it; ursock(7) lists every call. */
static void test_man_pages(void **state)
{
	(void)state;
	char *out = ok("cd %s && ls man3 | wc -l && ls man7", man);
	print_message("man pages installed under share/man (man3, then man7): %s", out);
	free(out);
	/* groff -ww: every warning; -z: no output but the warnings */
	out = ok("cd %s && for f in man3/* man7/*; do groff -man -Tutf8 -ww -z \"$f\" 2>&1 "
		 "| sed \"s|^|$f: |\"; done", man);
	assert_string_equal(out, "");
	free(out);
	/* the prototypes as the installed headers write them, one a line */
	char *protos = ok("cat %s/ursock.h %s/ursock_version.h | grep -v '^ *#' | tr '\\n\\t' '  ' "
			  "| grep -o 'URS_API[^;]*;' | sed 's/^URS_API *//'", inc, inc);
	char *index = ok("cd %s && groff -man -Tutf8 -P-cbou man7/ursock.7", man);
	char *names = declared_functions();
	int pages = 0;
	for (char *name = strtok(names, "\n"); name; name = strtok(NULL, "\n")) {
		char path[400];
		snprintf(path, sizeof(path), "%s/man3/%s.3", man, name);
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644)
			fail_msg("%s: no man page (a regular file, mode 644) for %s", path, name);
		char *text = ok("cd %s && groff -man -Tutf8 -P-cbou man3/%s.3", man, name);
		/* NAME: "urs_getpeername, urs_getsockname - ..." */
		char *nm = strstr(text, "\nNAME\n");
		if (!nm)
			fail_msg("%s.3: no NAME section:\n%s", name, text);
		char *eol = strchr(nm + 6, '\n'), *dash = strstr(nm + 6, " - ");
		if (!eol || !dash || dash > eol)
			fail_msg("%s.3: NAME is not one line 'name - what':\n%s", name, text);
		char *hit = strstr(nm + 6, name);
		size_t len = strlen(name);
		if (!hit || hit > dash || (hit[len] != ',' && hit[len] != ' '))
			fail_msg("%s.3: %s not in its NAME line:\n%.*s", name, name, (int)(eol - nm), nm);
		/* SYNOPSIS: the prototype, word for word */
		char want[512] = "", call[140];
		snprintf(call, sizeof(call), "%s(", name);
		for (char *l = protos, *nl; (nl = strchr(l, '\n')); l = nl + 1) {
			char *at = strstr(l, call);
			if (at && at < nl && (at[-1] == ' ' || at[-1] == '*')) {
				snprintf(want, sizeof(want), "%.*s", (int)(nl - l), l);
				break;
			}
		}
		squash(want);
		if (!*want)
			fail_msg("no prototype of %s found in the installed headers", name);
		squash(text);
		if (!strstr(text, want))
			fail_msg("%s.3: the prototype '%s' is not in the page:\n%s", name, want, text);
		char ref[128];
		snprintf(ref, sizeof(ref), "%s(3)", name);
		if (!strstr(index, ref))
			fail_msg("ursock(7) does not list %s", ref);
		free(text);
		pages++;
	}
	print_message("%d URS_API functions, each with a page naming it and showing its prototype\n",
		      pages);
	assert_true(pages > 40);
	has(index, "Lifetimes");
	free(index);
	free(names);
	free(protos);
}

/* The generator refuses a header where a call has no doc comment (`make`, `make man` and
 * `make install` then fail): a declaration with none, and one right under a documented call
 * that takes other parameters (calls share a comment only when they take the same ones).
 * The headers as installed pass. */
static void test_man_generator_refuses_undocumented(void **state)
{
	(void)state;
	const char *gen = URS_SRCDIR "/scripts/mangen.py";
	free(ok("python3 %s --check %s/ursock.h %s/ursock_version.h", gen, inc, inc));
	static const struct {
		const char *name, *awk, *want;
	} cases[] = {
		{ "urs_undocumented",
		  "/^#define URS_API/ { print; print \"\"; print \"URS_API int urs_undocumented(urs_loop "
		  "*loop);\"; next } 1",
		  "urs_undocumented has no doc comment" },
		{ "urs_twin",
		  "!done && /^URS_API .*;$/ { print; print \"URS_API int urs_twin(urs_loop *loop, int "
		  "other);\"; done = 1; next } 1",
		  "urs_twin has no comment of its own" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		free(ok("awk '%s' %s/ursock.h > %s/bad.h && grep -q '%s(' %s/bad.h", cases[i].awk, inc,
			tmp, cases[i].name, tmp));
		int st;
		char cmd[1024];
		snprintf(cmd, sizeof(cmd), "python3 %s --out %s/badman %s/bad.h %s/ursock_version.h",
			 gen, tmp, tmp, inc);
		char *out = run(cmd, &st);
		print_message("%s: exit %d: %s", cases[i].name, st, out);
		assert_int_equal(st, 1);
		has(out, cases[i].want);
		free(out);
		struct stat sb;
		snprintf(cmd, sizeof(cmd), "%s/badman", tmp);
		assert_int_not_equal(stat(cmd, &sb), 0); /* and nothing written */
	}
}

/* Runs a consumer built in tmp against the installed library; it must print want. Exit
 * 77 (no io_uring here) skips the test. */
static void run_consumer(const char *exe, const char *want)
{
	int st;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "LD_LIBRARY_PATH=%s %s/%s", lib, tmp, exe);
	char *out = run(cmd, &st);
	print_message("%s: %s", exe, out);
	if (st == 77) {
		free(out);
		skip();
	}
	assert_int_equal(st, 0);
	assert_string_equal(out, want);
	free(out);
}

/* Builds tests/install/consumer.c out of the tree with pkg-config and runs it. */
static void consumer(const char *pkgflags, const char *ldflags, const char *exe)
{
	free(ok("cd %s && %s -std=c11 -Wall -Wextra %s/tests/install/consumer.c -o %s "
		"%s $(PKG_CONFIG_PATH=%s pkg-config --define-prefix %s ursock)",
		tmp, URS_CC, URS_SRCDIR, exe, ldflags, pcpath, pkgflags));
	run_consumer(exe, "ursock " URS_VERSION_STRING ": ok\n");
}

static void test_consumer_shared(void **state)
{
	(void)state;
	char *flags = ok("PKG_CONFIG_PATH=%s pkg-config --define-prefix --cflags --libs ursock", pcpath);
	print_message("pkg-config --cflags --libs ursock: %s", flags);
	free(flags);
	consumer("--cflags --libs", "", "consumer_shared");
	char *out = ok("readelf -d %s/consumer_shared", tmp);
	has(out, "Shared library: [" SONAME "]");
	lacks(out, "liburing"); /* Requires.private: only the library itself links liburing */
	free(out);
	/* and it runs against the installed copy, found through its soname */
	out = ok("LD_LIBRARY_PATH=%s ldd %s/consumer_shared", lib, tmp);
	char want[300];
	snprintf(want, sizeof(want), SONAME " => %s/" SONAME, lib);
	has(out, want);
	free(out);
}

static void test_consumer_static(void **state)
{
	(void)state;
	char *flags = ok("PKG_CONFIG_PATH=%s pkg-config --define-prefix --static --cflags --libs ursock",
			 pcpath);
	print_message("pkg-config --static --cflags --libs ursock: %s", flags);
	has(flags, "-luring"); /* Requires.private brings liburing in for a static link */
	free(flags);
	consumer("--static --cflags --libs", "-static", "consumer_static");
	char *out = ok("readelf -d %s/consumer_static", tmp);
	has(out, "There is no dynamic section");
	free(out);
}

/* Compiles a consumer with strict warnings; fails on any warning. */
static void strict(const char *compiler, const char *flags, const char *src)
{
	int st;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "%s %s -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Wundef "
		 "-Wcast-qual -I%s -fsyntax-only %s/tests/install/%s",
		 compiler, flags, inc, URS_SRCDIR, src);
	char *out = run(cmd, &st);
	int bad = 0;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "warning:") || strstr(line, "error:")) {
			print_error("%s\n", line);
			bad++;
		}
	print_message("%s %s: exit %d, %d warnings\n", compiler, flags, st, bad);
	free(out);
	assert_int_equal(st, 0);
	assert_int_equal(bad, 0);
}

static void test_header_strict_c11_and_cxx17(void **state)
{
	(void)state;
	strict("gcc", "-std=c11 -Wstrict-prototypes -Wmissing-prototypes", "consumer.c");
	strict("clang", "-std=c11 -Wstrict-prototypes -Wmissing-prototypes", "consumer.c");
	strict("g++", "-std=c++17 -Wold-style-cast -Wzero-as-null-pointer-constant", "consumer.cc");
	strict("clang++", "-std=c++17 -Wold-style-cast -Wzero-as-null-pointer-constant", "consumer.cc");
	/* and the C++ program links and runs */
	free(ok("cd %s && g++ -std=c++17 %s/tests/install/consumer.cc -o consumer_cxx "
		"$(PKG_CONFIG_PATH=%s pkg-config --define-prefix --cflags --libs ursock)",
		tmp, URS_SRCDIR, pcpath));
	run_consumer("consumer_cxx", "ursock " URS_VERSION_STRING " from C++: ok\n");
}

/* A user's own prefix with another libdir, no DESTDIR: plain pkg-config finds it. */
static void test_prefix_install_and_uninstall(void **state)
{
	(void)state;
	free(ok(MAKE " install PREFIX=%s/prefix LIBDIR=%s/prefix/lib64", tmp, tmp));
	char *out = ok("cat %s/prefix/lib64/pkgconfig/ursock.pc", tmp);
	has(out, "libdir=${prefix}/lib64\n");
	free(out);
	free(ok("test -f %s/prefix/share/man/man7/ursock.7", tmp)); /* MANDIR follows PREFIX */
	out = ok("PKG_CONFIG_PATH=%s/prefix/lib64/pkgconfig pkg-config --cflags --libs ursock", tmp);
	char want[300];
	snprintf(want, sizeof(want), "-L%s/prefix/lib64 -lursock", tmp);
	has(out, want);
	free(out);
	free(ok(MAKE " uninstall PREFIX=%s/prefix LIBDIR=%s/prefix/lib64", tmp, tmp));
	out = ok("find %s/prefix -type f -o -type l", tmp);
	assert_string_equal(out, "");
	free(out);
}

/* c-ares is optional: URS_CARES=0 builds and installs a library that needs only liburing
 * (as a machine without libc-ares-dev would): ursock.pc names only liburing, the library
 * does not link libcares, it exports the same calls, and a static consumer links with
 * what pkg-config --static says. */
static void test_install_without_cares(void **state)
{
	(void)state;
	char dest0[128], lib0[192];
	snprintf(dest0, sizeof(dest0), "%s/dest-nocares", tmp);
	snprintf(lib0, sizeof(lib0), "%s/usr/local/lib", dest0);
	char *out = ok(MAKE " BUILD=" URS_TEST_BUILD "-nocares URS_CARES=0 install DESTDIR=%s", dest0);
	has(out, "built without c-ares (URS_CARES=0)");
	free(out);
	out = ok("cat %s/pkgconfig/ursock.pc", lib0);
	has(out, "Requires.private: liburing\n");
	lacks(out, "cares");
	lacks(out, "Libs.private");
	free(out);
	out = ok("readelf -d %s/" REALNAME, lib0);
	has(out, "Shared library: [liburing.so.2]");
	lacks(out, "libcares");
	free(out);
	out = ok("nm -D --defined-only %s/" REALNAME " | awk '{print $3}' | sort > %s/nocares.syms && "
		 "nm -D --defined-only %s/" REALNAME " | awk '{print $3}' | sort | "
		 "diff - %s/nocares.syms && grep -c urs_getaddrinfo %s/nocares.syms",
		 lib0, tmp, lib, tmp, tmp);
	assert_string_equal(out, "1\n");
	free(out);
	free(ok("cd %s && %s -std=c11 %s/tests/install/consumer.c -o consumer_nocares -static "
		"$(PKG_CONFIG_PATH=%s/pkgconfig pkg-config --define-prefix --static --cflags --libs "
		"ursock)",
		tmp, URS_CC, URS_SRCDIR, lib0));
	out = ok("readelf -d %s/consumer_nocares", tmp);
	has(out, "There is no dynamic section");
	free(out);
	free(ok("rm -rf %s", dest0));
}

/* Last: uninstall takes away every file install put there. */
static void test_uninstall_leaves_nothing(void **state)
{
	(void)state;
	free(ok(MAKE " uninstall PREFIX=/usr/local DESTDIR=%s", dest));
	char *out = ok("find %s -type f -o -type l", dest);
	assert_string_equal(out, "");
	free(out);
}

static int setup(void **state)
{
	(void)state;
	strcpy(tmp, "/tmp/ursock-install-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(dest, sizeof(dest), "%s/dest", tmp);
	snprintf(lib, sizeof(lib), "%s/usr/local/lib", dest);
	snprintf(inc, sizeof(inc), "%s/usr/local/include", dest);
	snprintf(man, sizeof(man), "%s/usr/local/share/man", dest);
	snprintf(pcpath, sizeof(pcpath), "%s/pkgconfig", lib);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), MAKE " install PREFIX=/usr/local DESTDIR=%s", dest);
	install_log = run(cmd, &install_status);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(install_log);
	int st;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	free(run(cmd, &st));
	return st;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_installs_no_package),
		cmocka_unit_test(test_install_layout),
		cmocka_unit_test(test_soname_and_packager_flags),
		cmocka_unit_test(test_exports_are_the_public_api),
		cmocka_unit_test(test_man_pages),
		cmocka_unit_test(test_man_generator_refuses_undocumented),
		cmocka_unit_test(test_consumer_shared),
		cmocka_unit_test(test_consumer_static),
		cmocka_unit_test(test_header_strict_c11_and_cxx17),
		cmocka_unit_test(test_prefix_install_and_uninstall),
		cmocka_unit_test(test_install_without_cares),
		cmocka_unit_test(test_uninstall_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
