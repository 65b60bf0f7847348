/* backend.h — where repository objects are stored: the interface.
 *
 * Owns: the Backend handle and its six operations on named objects
 * (put, get, get_range, list, delete, stat), and backend_open(), which picks
 * an implementation from a location string. Implementations: local.c (a
 * directory on a local filesystem), s3.c (any S3-compatible store).
 *
 * Never: knows what an object means (no decryption, no parsing). It depends
 * on nothing in store/; errors are -errno values plus a message.
 *
 * Names are relative, '/'-separated, without "." or ".." components, e.g.
 * "config", "keys/<hex>", "data/3f/<hex>" (store/FORMAT.md "Directory tree").
 *
 * Durability contract: when put() returns 0 the object is durable
 * (local: temp file, fsync, rename, fsync of the directory) and readers see
 * either the whole old object or the whole new one, never a part.
 *
 * Thread safety: one Backend may be used from several threads at once;
 * each call takes its own RemoteErr.
 *
 * Errors every operation may return (callers tell these apart):
 *   -ENOENT     the object (or repository root) does not exist
 *   -EACCES     credentials refused / permission denied
 *   -ENOSPC     storage full
 *   -EIO        I/O error, or retries exhausted on a remote store
 *   -EINVAL     bad name or range
 *   -ERANGE     get_range asked for bytes past the end of the object
 */
#ifndef STRATA_REMOTE_BACKEND_H
#define STRATA_REMOTE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct RemoteErr {
	char msg[384];   /* one line naming the object and the cause */
} RemoteErr;

typedef struct Backend Backend;

/* Called once per object found by list(); return non-zero to stop the
 * listing early (list then returns that value). */
typedef int (*BackendListFn)(const char *name, uint64_t size, void *ctx);

typedef struct BackendOps {
	int  (*put)(Backend *be, const char *name, const void *buf, size_t len, RemoteErr *err);
	int  (*get)(Backend *be, const char *name, uint8_t **out_buf, size_t *out_len, RemoteErr *err);
	int  (*get_range)(Backend *be, const char *name, uint64_t off, size_t len, uint8_t *buf, RemoteErr *err);
	int  (*list)(Backend *be, const char *prefix, BackendListFn fn, void *ctx, RemoteErr *err);
	int  (*del)(Backend *be, const char *name, RemoteErr *err);
	int  (*stat)(Backend *be, const char *name, uint64_t *out_size, RemoteErr *err);
	void (*free)(Backend *be);
} BackendOps;

struct Backend {
	const BackendOps *ops;
	char location[1024];   /* as given to backend_open, for messages */
};

/* backend_open — open the backend a location names:
 *   "/path" or "path" or "local:/path"     local directory (need not exist yet)
 *   "s3:http(s)://host:port/bucket/prefix" S3-compatible endpoint, path-style
 *   "s3://bucket/prefix"                    AWS S3, endpoint from the region
 * Does not touch the store beyond what the scheme needs to start.
 * Returns 0 and *out_be (free with backend_free), or -EINVAL for an
 * unparsable location, -ENOTSUP for a scheme not built in. */
int backend_open(const char *location, Backend **out_be, RemoteErr *err);

/* backend_put — store buf[0..len) under name, atomically and durably,
 * replacing any existing object of that name. */
int backend_put(Backend *be, const char *name, const void *buf, size_t len, RemoteErr *err);

/* backend_get — read a whole object. *out_buf is malloc'ed; caller frees.
 * -ENOENT when absent. */
int backend_get(Backend *be, const char *name, uint8_t **out_buf, size_t *out_len, RemoteErr *err);

/* backend_get_range — read exactly len bytes at off into buf.
 * -ERANGE (with nothing promised about buf) when the object is shorter. */
int backend_get_range(Backend *be, const char *name, uint64_t off, size_t len,
                      uint8_t *buf, RemoteErr *err);

/* backend_list — call fn for every object whose name starts with prefix
 * (a "directory" prefix like "snapshots/" lists everything below it,
 * recursively). Order unspecified. A missing prefix lists nothing (0). */
int backend_list(Backend *be, const char *prefix, BackendListFn fn, void *ctx, RemoteErr *err);

/* backend_delete — remove an object; -ENOENT if it was not there. */
int backend_delete(Backend *be, const char *name, RemoteErr *err);

/* backend_stat — size of an object; -ENOENT if absent. */
int backend_stat(Backend *be, const char *name, uint64_t *out_size, RemoteErr *err);

/* backend_free — release the handle. Accepts NULL. */
void backend_free(Backend *be);

/* Implementations, normally reached through backend_open(). */
int backend_local_open(const char *dir, Backend **out_be, RemoteErr *err);
int backend_s3_open(const char *location, Backend **out_be, RemoteErr *err);

#endif
