/* dynlib.h — an optional shared library, opened with dlopen and read into
 * a table of function pointers.
 *
 * Owns: the dlopen of one soname and the dlsym of each listed function
 * into the caller's table, with the two messages a user needs when that
 * fails: which library to install, or which function the installed one
 * lacks. remote/s3/curl_api.c (libcurl) and store/tar/archive_api.c (libarchive)
 * load their libraries through it, on first use, so that a command that
 * needs neither never maps them. It lives in remote/ because that is the
 * layer both store/ and remote/ may include.
 *
 * Never: closes a library it opened (the tables stay valid for the life of
 * the process). A DynLib is the caller's (a static in curl_api.c or
 * archive_api.c); dynlib_get loads it once, under its own lock, and every
 * later call returns the same table or the same message.
 */
#ifndef STRATA_REMOTE_DYNLIB_H
#define STRATA_REMOTE_DYNLIB_H

#include <pthread.h>
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

/* One library loaded at most once per process: what dynlib_load needs,
 * an optional hook run once after a successful load (libcurl's
 * curl_global_init; it returns 0, or -1 with msg set), and the outcome.
 * Declare it static with DYNLIB_INIT; its fields are dynlib_get's. */
typedef struct DynLib {
	const char *soname;
	const char *package;
	const DynSym *syms;
	size_t n;
	void *table;
	int (*after_load)(void *table, char *msg, size_t msg_len);
	pthread_mutex_t lock;
	int tried;      /* under lock: dynlib_load ran */
	int ok;         /* under lock: it and after_load succeeded */
	char msg[256];  /* under lock: why not, when tried && !ok */
} DynLib;

#define DYNLIB_INIT(soname, package, syms, table, after_load)                         \
	{ (soname), (package), (syms), sizeof(syms) / sizeof *(syms), (table), (after_load), \
	  PTHREAD_MUTEX_INITIALIZER, 0, 0, "" }

/* dynlib_get — lib's table, loading it on the first call. NULL with the
 * load's message copied to msg (when msg_len > 0) if it failed; a failed
 * load is not retried. Safe from any thread. */
const void *dynlib_get(DynLib *lib, char *msg, size_t msg_len);

#endif
