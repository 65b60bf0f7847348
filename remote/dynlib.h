/* dynlib.h — an optional shared library, opened with dlopen and read into
 * a table of function pointers.
 *
 * Owns: the dlopen of one soname and the dlsym of each listed function
 * into the caller's table, with the two messages a user needs when that
 * fails: which library to install, or which function the installed one
 * lacks. remote/curl_api.c (libcurl) and store/archive_api.c (libarchive)
 * load their libraries through it, on first use, so that a command that
 * needs neither never maps them. It lives in remote/ because that is the
 * layer both store/ and remote/ may include.
 *
 * Never: closes a library it opened (the tables stay valid for the life of
 * the process), or keeps state: once-only loading is the caller's
 * (pthread_once).
 */
#ifndef STRATA_REMOTE_DYNLIB_H
#define STRATA_REMOTE_DYNLIB_H

#include <stddef.h>

/* One function: its symbol name and where its pointer goes in the table
 * (offsetof a function-pointer member). */
typedef struct DynSym {
	const char *name;
	size_t offset;
} DynSym;

#define DYNSYM(type, field, name) { name, offsetof(type, field) }

/* dynlib_load — dlopen soname and fill table from syms. 0 on success.
 * -1 with msg set (truncated to msg_len) to "cannot load SONAME (install
 * PACKAGE): <dlerror>" when the library does not open, or "SONAME has no
 * NAME" for the first function it lacks; the table is then partly filled
 * and must not be used. */
int dynlib_load(const char *soname, const char *package, const DynSym *syms, size_t n,
                void *table, char *msg, size_t msg_len);

#endif
