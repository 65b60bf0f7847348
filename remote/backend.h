/* backend.h — where repository objects are stored: the interface.
 *
 * Owns: the Backend handle and its six operations on named objects
 * (put, get, get_range, list, delete, stat) plus list_names, a listing
 * without sizes, and backend_open(), which picks
 * an implementation from a location string. Implementations: local.c (a
 * directory on a local filesystem), s3.c (any S3-compatible store).
 *
 * Never: knows what an object means (no decryption, no parsing). It depends
 * on nothing in store/; errors are -errno values plus a message.
 *
 * Names are relative, '/'-separated, without "." or ".." components, e.g.
 * "config", "keys/<hex>", "data/3f/<hex>" (store/FORMAT.md "Directory tree").
 * Precisely: at most 512 bytes, no empty component (so no leading, trailing
 * or doubled '/'), no component starting with '.', no control characters;
 * every backend refuses anything else with -EINVAL, so a name that works on
 * one works on all.
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
 *   -ENODATA    get/get_range: the object sits in an archive storage class
 *               (S3 GLACIER, DEEP_ARCHIVE: "InvalidObjectState") and must
 *               be thawed first (backend_thaw)
 *   -EFBIG      get: the object is larger than the caller's max_bytes
 *   -EPERM      delete: the object is under a retention that has not
 *               ended (S3 Object Lock); err says until when. Nothing was
 *               sent to delete it.
 */
#ifndef STRATA_REMOTE_BACKEND_H
#define STRATA_REMOTE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct RemoteErr {
	char msg[384];   /* one line naming the object and the cause */
} RemoteErr;

typedef struct Backend Backend;

/* What a backend sent and received since it was opened (S3: HTTP
 * requests; a local directory keeps no counts). */
typedef struct BackendStats {
	uint64_t requests;        /* requests sent, repeats included */
	uint64_t retries;         /* repeats of a failed attempt */
	uint64_t bytes_sent;      /* request bodies */
	uint64_t bytes_received;  /* answer bodies */
} BackendStats;

/* Called once per object found by list(); return non-zero to stop the
 * listing early (list then returns that value). */
typedef int (*BackendListFn)(const char *name, uint64_t size, void *ctx);

/* Called once per object found by list_names(); same stopping rule. */
typedef int (*BackendNameFn)(const char *name, void *ctx);

/* What a listing (backend_list_info) or a HEAD (backend_head) tells of one
 * object besides its name. */
typedef struct BackendObjInfo {
	uint64_t size;
	char storage_class[24];  /* as the store names it ("GLACIER"); "" when it
	                          * names none (a local directory) */
	int archived;            /* its class refuses a GET until the object is
	                          * thawed (GLACIER, DEEP_ARCHIVE; backend_class_archived) */
	int64_t mtime_s;         /* when it was stored, unix seconds (S3
	                          * LastModified, from which S3 counts a class's
	                          * minimum storage duration; a local file's
	                          * mtime); -1 when the store does not say, and
	                          * from backend_head */
	/* backend_head only; zero from a listing: */
	int restored;            /* a thawed copy is readable now (S3
	                          * x-amz-restore: ongoing-request="false") */
	int restoring;           /* a thaw was asked for and is under way */
	int has_sha256;          /* the store returned the SHA-256 of the whole
	                          * object recorded at upload (S3
	                          * x-amz-checksum-sha256 of a single-part upload) */
	uint8_t sha256[32];
} BackendObjInfo;

/* Where an S3 backend keeps a repository (backend_where). */
typedef struct BackendWhere {
	char bucket[256];
	char prefix[1024];       /* the key prefix: "" or "some/prefix/" */
	char class_data[24];     /* the class new data/ objects get; "" when no
	                          * header is sent (STANDARD) */
	char class_metadata[24]; /* the class of every other new object, the same way */
} BackendWhere;

/* Called once per object found by list_info(); same stopping rule. */
typedef int (*BackendInfoFn)(const char *name, const BackendObjInfo *info, void *ctx);

typedef struct BackendOps {
	int  (*put)(Backend *be, const char *name, const void *buf, size_t len, RemoteErr *err);
	int  (*get)(Backend *be, const char *name, size_t max_bytes, uint8_t **out_buf, size_t *out_len,
	            RemoteErr *err);
	int  (*get_range)(Backend *be, const char *name, uint64_t off, size_t len, uint8_t *buf, RemoteErr *err);
	int  (*list)(Backend *be, const char *prefix, BackendListFn fn, void *ctx, RemoteErr *err);
	int  (*del)(Backend *be, const char *name, RemoteErr *err);
	int  (*stat)(Backend *be, const char *name, uint64_t *out_size, RemoteErr *err);
	void (*free)(Backend *be);
	/* optional (NULL: the backend has no archive tier) */
	int  (*thaw)(Backend *be, const char *name, unsigned days, RemoteErr *err);
	/* optional (NULL: backend_list_names goes through list) */
	int  (*list_names)(Backend *be, const char *prefix, BackendNameFn fn, void *ctx, RemoteErr *err);
	/* optional (NULL: backend_stats reports zeros) */
	void (*stats)(Backend *be, struct BackendStats *out);
	/* optional (NULL: backend_set_retention answers -ENOTSUP) */
	int  (*set_retention)(Backend *be, int governance, unsigned days, RemoteErr *err);
	/* optional (NULL: backend_list_info goes through list, no classes) */
	int  (*list_info)(Backend *be, const char *prefix, BackendInfoFn fn, void *ctx, RemoteErr *err);
	/* optional (NULL: backend_head goes through stat) */
	int  (*head)(Backend *be, const char *name, BackendObjInfo *out, RemoteErr *err);
	/* optional (NULL: backend_where answers -ENOTSUP) */
	int  (*where)(Backend *be, BackendWhere *out);
} BackendOps;

struct Backend {
	const BackendOps *ops;
	char location[1024];   /* as given to backend_open, for messages */
	int transfers;         /* requests worth running at once (S3: its
	                        * --transfers); 0 or 1: one at a time (a local
	                        * directory, whose writes are one disk's) */
	uint32_t min_data_object; /* bytes an object in data/ is billed as at
	                        * least (S3: by its storage class,
	                        * s3config_min_object); 0: no minimum. Writers
	                        * keep data packs at least this large
	                        * (store/blob_write.c) */
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

/* backend_get — read a whole object of at most max_bytes. *out_buf is
 * malloc'ed; caller frees. -ENOENT when absent. -EFBIG, with nothing
 * allocated beyond max_bytes, when the object is larger: the size is
 * looked at before the body is read (local: fstat; S3: the answer's
 * Content-Length), and the read stops as soon as more than max_bytes
 * arrive (a file growing meanwhile, an S3 answer without a length or
 * with a false one). err then reads "WHERE: N bytes, larger than the M
 * bytes allowed" (or "WHERE: more than the M bytes allowed" when the
 * size was not announced), for the caller to complete with the kind of
 * object. max_bytes is the caller's bound for the kind of object it
 * reads (remote/objsize.h); SIZE_MAX means none. */
int backend_get(Backend *be, const char *name, size_t max_bytes, uint8_t **out_buf, size_t *out_len,
                RemoteErr *err);

/* backend_get_range — read exactly len bytes at off into buf.
 * -ERANGE (with nothing promised about buf) when the object is shorter. */
int backend_get_range(Backend *be, const char *name, uint64_t off, size_t len,
                      uint8_t *buf, RemoteErr *err);

/* backend_list — call fn for every object whose name starts with prefix
 * (a "directory" prefix like "snapshots/" lists everything below it,
 * recursively). Order unspecified. A missing prefix lists nothing (0). */
int backend_list(Backend *be, const char *prefix, BackendListFn fn, void *ctx, RemoteErr *err);

/* backend_list_names — backend_list without the sizes: the same objects,
 * for callers that only need names (the IDs under "snapshots/"). On a
 * local directory this reads directory entries without a stat per file
 * (100,000 snapshot files: one getdents pass instead of 100,000 fstatat
 * calls); a store whose listing carries sizes anyway (S3) just drops them.
 * Errors and the early stop as for backend_list. */
int backend_list_names(Backend *be, const char *prefix, BackendNameFn fn, void *ctx, RemoteErr *err);

/* backend_list_info — backend_list with what the listing says of each
 * object: its storage class (S3 ListObjectsV2 <StorageClass>) and upload
 * time (<LastModified>; a local directory: the file's mtime). The same
 * objects, the same cost, errors and early stop. A backend without
 * classes reports "" for the class; one that keeps no times, -1. */
int backend_list_info(Backend *be, const char *prefix, BackendInfoFn fn, void *ctx, RemoteErr *err);

/* backend_head — what the store keeps about one object without reading
 * it (S3: one HEAD with x-amz-checksum-mode: ENABLED; an archived object
 * answers it like any other, at no retrieval fee). Writes *out on
 * success; -ENOENT when absent. A backend without classes or checksums
 * fills size alone. */
int backend_head(Backend *be, const char *name, BackendObjInfo *out, RemoteErr *err);

/* backend_where — the bucket, key prefix and storage-class rule of an S3
 * backend (as its location, STRATA_S3_STORAGE_CLASS or --storage-class
 * set them), for `strata s3 lifecycle`. 0, or -ENOTSUP for a backend
 * without buckets (a local directory). No I/O. */
int backend_where(Backend *be, BackendWhere *out);

/* backend_class_archived — 1 for a storage class whose objects must be
 * thawed before a GET (GLACIER, DEEP_ARCHIVE), else 0. */
int backend_class_archived(const char *storage_class);

/* backend_delete — remove an object; -ENOENT if it was not there. */
int backend_delete(Backend *be, const char *name, RemoteErr *err);

/* backend_stat — size of an object; -ENOENT if absent. */
int backend_stat(Backend *be, const char *name, uint64_t *out_size, RemoteErr *err);

/* backend_thaw — ask for a readable copy of an archived object (S3
 * RestoreObject, Standard tier) kept for days days. Returns 0 when a
 * restore was requested now or is already under way (the object is not
 * readable yet), 1 when a restored copy is readable already, -ENOTSUP when
 * the backend has no archive tier or the object is not archived, or one of
 * the common errors. Costs one request. */
int backend_thaw(Backend *be, const char *name, unsigned days, RemoteErr *err);

/* backend_set_retention — from now on, give every object put (but lock
 * files and prune plans) a retention of days days (S3 Object Lock;
 * governance: GOVERNANCE mode, else COMPLIANCE), unless the location sets
 * its own (object_lock_days=, which wins). Call it before using be from
 * other threads. Returns 0, or -ENOTSUP (with err) for a backend without
 * retention (a local directory). */
int backend_set_retention(Backend *be, int governance, unsigned days, RemoteErr *err);

/* backend_stats — the counts of be so far into *out; zeros for a backend
 * that keeps none. Safe while other threads use be. */
void backend_stats(Backend *be, BackendStats *out);

/* backend_free — release the handle. Accepts NULL. */
void backend_free(Backend *be);

/* Implementations, normally reached through backend_open(). */

/* backend_local_open — a directory on a local filesystem; created (0700,
 * like every directory below it) by the first put. Objects are files of
 * mode 0600. list() skips dot-files, which include the ".tmp-XXXXXX" files
 * of writes in progress or interrupted, and does not follow symlinks. */
int backend_local_open(const char *dir, Backend **out_be, RemoteErr *err);

/* backend_s3_open — an S3 bucket, given the whole location:
 *   s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]   path-style, any S3-compatible store
 *   s3://BUCKET[/PREFIX]                        AWS, https://BUCKET.s3.REGION.amazonaws.com
 *                                               (path-style for dotted bucket names)
 * Either may end in "?OPTION=VALUE[&...]": the parameters of
 * remote/s3/s3_opts.h (region, profile, storage_class, transfers, retries,
 * path_style, sse, kms_key_id, sse_c_key_file, object_lock_mode,
 * object_lock_days), each with an environment variable standing in.
 * Object NAME is stored under key PREFIX/NAME.
 *
 * Credentials: the AWS credential chain (remote/s3/s3_cred.h): keys in
 * the environment, a profile of ~/.aws/credentials and ~/.aws/config
 * (static keys, credential_process, role_arn with source_profile or
 * web_identity_token_file), web identity, container credentials, EC2
 * instance metadata (IMDSv2); profile= takes one profile alone. Temporary
 * credentials are refreshed before they expire. None configured: -EACCES
 * at open.
 * Region: option region=, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 * "region" in AWS_CONFIG_FILE (default ~/.aws/config), else us-east-1.
 * Uploads carry the sse= / SSE-C headers and, with object_lock_days, an
 * Object Lock retention (not lock files or prune plans); delete() refuses,
 * with -EPERM and no DELETE sent, an object whose retention has not ended.
 * Transfers honour STRATA_S3_LIMIT_UPLOAD/_DOWNLOAD (remote/s3/s3_rate.h).
 *
 * Other environment variables:
 *   STRATA_S3_STORAGE_CLASS   "data=GLACIER,metadata=STANDARD": the
 *       x-amz-storage-class for names under "data/" and for all others;
 *       STANDARD or absent sends no header. The storage_class= option wins.
 *   STRATA_S3_CA_BUNDLE       PEM file of the CAs to verify an https
 *                             endpoint with, instead of the system's.
 *                             Certificates and host names are always
 *                             verified, except with:
 *   STRATA_S3_INSECURE_TLS=1  no certificate verification at all; for test
 *                             setups only (anyone on the path can then
 *                             read and alter requests, credentials aside).
 *   STRATA_S3_RETRIES         retries after the first attempt, 0..100
 *                             (default 5). Retried: 5xx, 429, SlowDown,
 *                             RequestTimeout, BadDigest, timeouts, dropped
 *                             connections, truncated or corrupt bodies,
 *                             with exponential backoff and jitter.
 *   STRATA_S3_LOW_SPEED_TIME  seconds below 1 KiB/s before a transfer
 *                             counts as stalled and is retried (default 60).
 *   STRATA_S3_TRANSFERS       requests in flight at once, 1..128 (default
 *                             8; the transfers= option wins). Requests
 *                             beyond it wait their turn (remote/s3/s3_multi.h).
 *   STRATA_S3_LIST_MAX_PAGES  pages one listing may take, 1..10^9 (default
 *                             1,000,000; S3LIST_MAX_PAGES_DEFAULT in
 *                             remote/s3/s3_list.h gives the reasoning).
 *   STRATA_S3_LIST_MAX_KEYS   objects one listing may report, 1..10^12
 *                             (default 100,000,000). Both bound what a
 *                             hostile or broken server can make a listing
 *                             cost; raise them for a repository with more
 *                             objects under one prefix.
 *
 * Integrity: every upload carries x-amz-content-sha256 (signed) and
 * x-amz-checksum-sha256; a whole-object get verifies the stored SHA-256
 * when the store returns one.
 *
 * Listings: a listing ends when a page says it is complete; a page that
 * says more follow must carry a continuation token never seen before in
 * this listing and must make progress (not repeat the page before it, not
 * be the thousandth empty page in a row), and the bounds above hold;
 * otherwise list() fails with -EIO naming the prefix and the rule broken
 * (remote/s3/s3_list.h).
 *
 * Errors beyond the common ones: 403 -> -EACCES and 404 (NoSuchKey,
 * NoSuchBucket) -> -ENOENT, with the S3 error code and message in err
 * ("s3://bucket/repo/config: SignatureDoesNotMatch: ..."); retries
 * exhausted -> -EIO "giving up after N attempts: LAST CAUSE".
 * delete() costs a HEAD first: S3 never says whether a key existed.
 * Opening does no network I/O. */
int backend_s3_open(const char *location, Backend **out_be, RemoteErr *err);

#endif
