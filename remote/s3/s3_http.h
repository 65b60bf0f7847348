/* s3_http.h — one S3 request over HTTP(S), signed, retried, judged.
 *
 * Owns: all use of libcurl for S3 requests — the pool of curl handles,
 * SigV4 signing (CURLOPT_AWS_SIGV4), the server-side encryption and
 * Object Lock headers, timeouts, the retry loop with backoff, and turning
 * HTTP statuses and S3 <Error> documents into the errors of
 * remote/backend.h with a message naming the object.
 * Never: knows what an operation means (s3.c builds requests) or hashes
 * bodies (s3.c passes the hashes in).
 *
 * Thread safety: an S3Http may be shared by threads; each call takes a curl
 * handle from a mutex-protected pool for its duration. An S3Req belongs to
 * one call.
 */
#ifndef STRATA_REMOTE_S3_HTTP_H
#define STRATA_REMOTE_S3_HTTP_H

#include "remote/backend.h"
#include "remote/s3/s3_config.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* SHA-256 of the empty string: the payload hash of bodiless requests. */
#define S3HTTP_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct S3Http S3Http;

typedef struct S3Buf {
	uint8_t *p;             /* malloc'ed; s3http_req_free frees it */
	size_t len, cap;
} S3Buf;

/* Checks a whole-object body against the base64 SHA-256 the store sent
 * with it; 0 when it matches. */
typedef int (*S3BodyCheckFn)(const uint8_t *body, size_t len, const char *checksum_b64);

/* One request and its answer. Zero it, fill the request part, call
 * s3http_call, read the answer part, then s3http_req_free. */
typedef struct S3Req {
	/* request */
	const char *method;             /* GET, HEAD, PUT, POST, DELETE */
	const char *key;                /* full key; NULL for the bucket */
	const char *query;              /* sorted by name and percent-encoded
	                                 * (libcurl signs it as written),
	                                 * without '?'; NULL for none */
	const uint8_t *body;            /* PUT/POST body, body_len bytes */
	size_t body_len;
	const char *payload_sha256;     /* hex SHA-256 of body; NULL: empty body */
	const char *checksum_sha256;    /* base64, sent as x-amz-checksum-sha256; or NULL */
	const char *content_type;       /* or NULL */
	const char *storage_class;      /* x-amz-storage-class, or NULL */
	const char *extra_header;       /* one "Name: value", or NULL */
	int sse;                        /* an upload (PUT, CreateMultipartUpload):
	                                 * send the location's sse= headers */
	int ssec;                       /* an object's bytes are read or written:
	                                 * send the SSE-C key, when there is one */
	int lock;                       /* an upload: send the Object Lock retention */
	int ranged;                     /* GET bytes [range_off, +range_len) into dest; expects 206 */
	uint64_t range_off;
	size_t range_len;
	uint8_t *dest;
	size_t body_max;                /* bound on a 2xx body kept in resp */
	int body_max_efbig;             /* a 2xx body over body_max (announced
	                                 * by Content-Length, or arriving) is
	                                 * -EFBIG, "the object is too large";
	                                 * otherwise a broken answer, -EIO */
	int error_in_200;               /* a 200 may carry an <Error> document */
	S3BodyCheckFn check_body;       /* ask for the stored checksum and verify */
	int checksum_mode;              /* a HEAD: ask for the stored checksum
	                                 * (x-amz-checksum-mode: ENABLED), found in
	                                 * checksum afterwards */

	/* answer, as of the last attempt */
	long status;
	S3Buf resp;                     /* 2xx body (unless dest) */
	char etag[130];
	int64_t content_length;         /* -1 when absent */
	char lock_mode[16];             /* x-amz-object-lock-mode of a HEAD, or "" */
	char lock_until[40];            /* x-amz-object-lock-retain-until-date, or "" */
	char checksum[64];              /* x-amz-checksum-sha256 of the answer, or "" */
	char class_answered[24];        /* x-amz-storage-class of a HEAD or GET, or "" (STANDARD) */
	char restore[160];              /* x-amz-restore of a HEAD, or "" */
	int attempts_used;

	/* private to s3_http.c */
	void *h;
	S3Buf errbody;
	size_t dest_got, body_pos;
	int overflow, oom;
	int signed_with_token;
	long retry_after_s;             /* Retry-After of the answer, or 0 */
	char content_range[96];
} S3Req;

/* s3http_new — a request engine for cfg, which must outlive it.
 * Loads libcurl (curl_api.h) the first time. Returns 0, -ENOSYS when
 * libcurl cannot be loaded, or -ENOMEM. */
int s3http_new(const S3Config *cfg, S3Http **out);

/* s3http_free — release pooled handles. Accepts NULL. */
void s3http_free(S3Http *http);

/* s3http_call — perform rq, retrying what a repeat can cure (5xx, 429,
 * SlowDown, RequestTimeout, BadDigest, timeouts, dropped connections,
 * truncated or corrupt bodies) up to cfg->attempts times with exponential
 * backoff and jitter, waiting at least what an answer's Retry-After asks
 * (capped at S3_RETRY_AFTER_MAX_S). what names the object in messages
 * ("s3://bucket/key"). Returns 0 on a 2xx answer that passed its checks,
 * or: -EACCES (403), -ENOENT (404: NoSuchKey, NoSuchBucket, NoSuchUpload),
 * -EFBIG (with body_max_efbig: the body is longer than body_max; the
 * transfer stops at the Content-Length or once more than body_max bytes
 * arrived, and is not retried; err as backend_err_toobig words it),
 * -ERANGE (416, or a 206 clipped at the end of the object), -ENODATA (403
 * InvalidObjectState: an archived object), -ENOSPC (507),
 * -ENOMEM, -EIO (anything else; "giving up after N attempts: CAUSE" once
 * retries are spent). err names the object and the S3 code and message.
 * Each attempt signs with the credentials s3cred_get gives then (fresh
 * ones once the held ones near expiry); an ExpiredToken answer makes the
 * next attempt fetch new ones. Transfers honour the process's bandwidth
 * limits (s3_rate.h). */
int s3http_call(S3Http *http, S3Req *rq, const char *what, RemoteErr *err);

/* s3http_stats — requests, retries and body bytes of every s3http_call
 * so far (attempts count one request each). */
void s3http_stats(S3Http *http, BackendStats *out);

/* s3http_req_free — free the answer buffers of rq. */
void s3http_req_free(S3Req *rq);

/* ---- building a request: pure, no libcurl (tests/test_s3_request.c) ---- */

/* The header lines s3http_call sends for a request besides those libcurl
 * adds itself (Host, Authorization, X-Amz-Date, Content-Length), in this
 * order: x-amz-content-sha256 (S3HTTP_EMPTY_SHA256 without a body),
 * x-amz-checksum-sha256, x-amz-security-token (token, when not empty),
 * x-amz-storage-class, Content-Type, x-amz-checksum-mode: ENABLED (with
 * check_body or checksum_mode), the SSE headers (sse), the SSE-C headers (ssec), the
 * Object Lock mode and retain-until date (lock: now + cfg->lock_days,
 * UTC), extra_header as given, Range: bytes=FIRST-LAST (ranged). Each
 * line "Name: value", malloc'ed: they may hold secrets (the SSE-C key, the
 * session token), so s3http_headers_free wipes them. 0, or -ENOMEM with
 * nothing to free. */
#define S3HTTP_HEADERS_MAX 16
typedef struct S3HttpHeaders {
	char *line[S3HTTP_HEADERS_MAX];
	size_t n;
} S3HttpHeaders;
int s3http_headers(const S3Config *cfg, const S3Req *rq, const char *token, time_t now, S3HttpHeaders *out);
void s3http_headers_free(S3HttpHeaders *h);

/* s3http_url — the URL of a request: cfg->url_base, "/" and key
 * percent-encoded with '/' kept, then "?" and query as given; a bucket
 * request (key NULL) has no "/" on a path-style base. malloc'ed; NULL
 * when out of memory. */
char *s3http_url(const S3Config *cfg, const char *key, const char *query);

/* s3http_encode — percent-encode as SigV4 wants: all but A-Z a-z 0-9 - . _ ~
 * as upper-case %XX, '/' kept when keep_slash (object paths). malloc'ed;
 * NULL when out of memory. */
char *s3http_encode(const char *s, int keep_slash);

#endif
