/* error.h — strata's error codes and the error message carried to the caller.
 *
 * Owns: the reserved range of strata's own error codes, strata_strerror(),
 * and StrataErr, the "what went wrong, naming the object" message that code
 * at a boundary fills. Never allocates. Thread safety: StrataErr is a plain
 * value; one per thread or per call.
 *
 * Convention (STYLE.md §7): a function that can fail returns int; 0 is
 * success, -errno is an OS failure, and STRATA_E* (all below -10000) are
 * strata's own conditions. A caller tells them apart by value.
 */
#ifndef STRATA_STORE_ERROR_H
#define STRATA_STORE_ERROR_H

#include <stddef.h>

enum {
	STRATA_E_FIRST     = -10000,
	STRATA_EAUTH       = -10001, /* AEAD authentication failed: damaged or tampered bytes */
	STRATA_EFORMAT     = -10002, /* bytes do not follow FORMAT.md (bad magic, length, field) */
	STRATA_EVERSION    = -10003, /* format version newer than this binary understands */
	STRATA_ENOTFOUND   = -10004, /* snapshot, object, path or key not found */
	STRATA_ELOCKED     = -10005, /* repository locked by another process */
	STRATA_EPASSWORD   = -10006, /* no key file opens with this password */
	STRATA_ENOREPO     = -10007, /* no repository at this location */
	STRATA_EDAMAGED    = -10008, /* data damaged: hash mismatch, missing chunk or pack */
	STRATA_EUSAGE      = -10009, /* invalid argument from the user */
	STRATA_EPARTIAL    = -10010, /* snapshot saved as partial: source files vanished, unreadable or changed */
	STRATA_EEXIST      = -10011, /* already exists (repository, conflicting object) */
	STRATA_EAMBIGUOUS  = -10012, /* an ID prefix matches several objects */
	STRATA_EREFUSED    = -10013, /* a safety rule refused the operation */
	STRATA_EPRODUCER   = -10014, /* the program producing a backup's input failed: no snapshot */
	STRATA_E_LAST      = -10015
};

#define STRATA_ERRMSG_LEN 512

typedef struct StrataErr {
	int code;                      /* the code last set, 0 if none */
	char msg[STRATA_ERRMSG_LEN];   /* one line, no trailing newline */
} StrataErr;

/* strata_strerror — a static string for any code: strata's own or -errno. */
const char *strata_strerror(int code);

/* strata_err_set — record code and a printf-style message in err (which may
 * be NULL) and return code, so that `return strata_err_set(err, ...)` works.
 * The message should name the object concerned and, where one exists, what
 * the user can do about it. */
int strata_err_set(StrataErr *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* strata_err_prefix — prepend "prefix: " to the current message (context
 * added by an outer layer). Returns err->code. */
int strata_err_prefix(StrataErr *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* strata_err_clear — reset to no error. Accepts NULL. */
void strata_err_clear(StrataErr *err);

#endif
