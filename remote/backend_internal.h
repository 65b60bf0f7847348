/* backend_internal.h — what the backend implementations in remote/ share.
 *
 * Owns: the error-message helper and the rules for valid object names and
 * list prefixes, so that every backend accepts and refuses the same names.
 * Not part of the public contract (remote/backend.h); nothing outside
 * remote/ includes this file.
 */
#ifndef STRATA_REMOTE_BACKEND_INTERNAL_H
#define STRATA_REMOTE_BACKEND_INTERNAL_H

#include "remote/backend.h"

#include <stdint.h>

/* Longest object name accepted. S3 keys are limited to 1024 bytes and a
 * location may add a key prefix in front; repository names are far shorter
 * ("data/3f/" + 64 hex digits). */
#define BACKEND_NAME_MAX 512

/* backend_err_set — format one line into err (which may be NULL) and return
 * code, so that `return backend_err_set(err, -EIO, ...)` works. */
int backend_err_set(RemoteErr *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* BACKEND_SIZE_UNKNOWN — for backend_err_toobig: the object's size was
 * not announced, only that more than max_bytes arrived. */
#define BACKEND_SIZE_UNKNOWN UINT64_MAX

/* backend_err_toobig — the -EFBIG of backend_get, in the one wording
 * every backend uses: "WHERE: N bytes, larger than the M bytes allowed",
 * or "WHERE: more than the M bytes allowed" for BACKEND_SIZE_UNKNOWN.
 * Returns -EFBIG. */
int backend_err_toobig(RemoteErr *err, const char *where, uint64_t size, size_t max_bytes);

/* backend_name_check — 0 when name is a valid object name: non-empty, at
 * most BACKEND_NAME_MAX bytes, '/'-separated components that are non-empty
 * and do not start with '.' (which rules out "." and ".." and keeps names
 * apart from the local backend's ".tmp-" files), no leading or trailing '/',
 * no control characters. -EINVAL otherwise. */
int backend_name_check(const char *name);

/* backend_prefix_check — 0 when prefix is a valid list() prefix: "" (all),
 * or like a name but possibly ending in '/' and with a last component that
 * may be any start of a valid component. -EINVAL otherwise. */
int backend_prefix_check(const char *prefix);

#endif
