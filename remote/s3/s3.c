/* s3.c — the backend for S3 and S3-compatible object stores.
 *
 * Maps the six backend operations onto S3 requests (s3_http.c sends them,
 * s3_config.c parsed the location and credentials, s3_xml.c reads the XML):
 *   put        PUT, or multipart upload above 64 MiB (aborted on failure)
 *   get        GET, checked against the stored SHA-256 when the store has one
 *   get_range  GET with Range: bytes=a-b, exactly len bytes or an error
 *   list       ListObjectsV2, page by page (continuation-token), each page
 *              judged by s3_list.c before its keys are used
 *   delete     HEAD (for -ENOENT, which S3's DELETE never says), DELETE
 *   stat       HEAD
 *   head       HEAD with x-amz-checksum-mode: ENABLED (class, restore, SHA-256)
 *   list_info  list, with each object's <StorageClass> and <LastModified>
 *   thaw       POST ?restore (RestoreObject) for GLACIER / DEEP_ARCHIVE
 * Object NAME is key PREFIX + NAME in the bucket.
 *
 * Integrity: every body goes up with x-amz-content-sha256 (signed, so the
 * store refuses a body altered in transit) and x-amz-checksum-sha256
 * (stored with the object, per part for multipart uploads).
 *
 * Thread safety: the configuration is read-only after open; s3_http.c
 * pools curl handles under a mutex; each call works on its own requests.
 */
#include "remote/backend.h"
#include "remote/backend_internal.h"
#include "remote/s3/curl_api.h"
#include "remote/s3/s3_config.h"
#include "remote/s3/s3_http.h"
#include "remote/s3/s3_internal.h"
#include "remote/s3/s3_list.h"
#include "remote/s3/s3_xml.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Objects above this go up in parts: a failed part costs one part's
 * retransmission, not the whole object's, and S3 caps a single PUT at
 * 5 GiB. */
#define S3_MULTIPART_THRESHOLD ((size_t)64 << 20)
/* Parts of 16 MiB, doubled as needed to stay within S3's 10,000 parts. */
#define S3_PART_SIZE_MIN ((size_t)16 << 20)
#define S3_MAX_PARTS 10000
/* ListObjectsV2 answers at most 1000 keys per page anyway. */
#define S3_LIST_PAGE 1000
/* Bound on the XML answers kept in memory (a 1000-key page is ~400 KiB). */
#define S3_XMLBODY_MAX ((size_t)16 << 20)
/* Room for "s3://BUCKET/PREFIX/NAME" in messages. */
#define WHAT_MAX 1400

typedef struct S3Backend {
	Backend base;           /* first, so a Backend * is an S3Backend * */
	S3Config cfg;
	S3Http *http;
} S3Backend;

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
/* Written once under sodium_once, read-only afterwards. */
static int sodium_rc;

static void sodium_start(void)
{
	sodium_rc = sodium_init() < 0 ? -ENOMEM : 0;
}

static S3Backend *s3_of(Backend *be)
{
	return (S3Backend *)be;
}

/* The hashes that travel with a body: hex for x-amz-content-sha256, base64
 * for x-amz-checksum-sha256. */
typedef struct BodyHash {
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES, sodium_base64_VARIANT_ORIGINAL)];
} BodyHash;

/* SHA-256 through libcrypto, which uses the CPU's SHA instructions (1.6
 * GB/s on this project's machines, libsodium's portable code 0.39): every
 * uploaded byte is hashed once, and a backup's uploads wait for it.
 * libsodium when libcrypto cannot. */
static void body_hash(const void *p, size_t n, BodyHash *out)
{
	unsigned char d[crypto_hash_sha256_BYTES];
	unsigned int got = 0;

	if (EVP_Digest(p, n, d, &got, EVP_sha256(), NULL) != 1 || got != sizeof(d))
		crypto_hash_sha256(d, p, n);
	sodium_bin2hex(out->hex, sizeof(out->hex), d, sizeof(d));
	sodium_bin2base64(out->b64, sizeof(out->b64), d, sizeof(d), sodium_base64_VARIANT_ORIGINAL);
}

/* S3BodyCheckFn for whole-object GETs. */
static int check_body(const uint8_t *body, size_t len, const char *checksum_b64)
{
	BodyHash h;

	body_hash(body ? (const void *)body : "", len, &h);
	return strcmp(h.b64, checksum_b64) == 0 ? 0 : -1;
}

static char *full_key(const S3Backend *s3, const char *name)
{
	char *k;

	if (asprintf(&k, "%s%s", s3->cfg.prefix, name) < 0)
		return NULL;
	return k;
}

/* Names an object in messages: "s3://bucket/prefix/name". */
static void what_of(const S3Backend *s3, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "s3://%s/%s%s", s3->cfg.bucket, s3->cfg.prefix, name);
}

static int check_name(const S3Backend *s3, const char *name, char *what, RemoteErr *err)
{
	if (backend_name_check(name) < 0) {
		snprintf(what, WHAT_MAX, "s3://%s/%s", s3->cfg.bucket, s3->cfg.prefix);
		return backend_err_set(err, -EINVAL, "%s: invalid object name \"%s\"", what, name ? name : "");
	}
	what_of(s3, name, what, WHAT_MAX);
	return 0;
}

/* lock_check — after a HEAD: *out_lock = -EPERM with err set when the
 * object is under an Object Lock retention that has not ended. */
static void lock_check(const S3Req *rq, const char *what, int *out_lock, RemoteErr *err)
{
	time_t now = time(NULL);
	struct tm tm;
	const char *p;

	*out_lock = 0;
	if (!rq->lock_until[0])
		return;
	memset(&tm, 0, sizeof(tm));
	p = strptime(rq->lock_until, "%Y-%m-%dT%H:%M:%S", &tm);
	/* An unreadable date counts as a retention in force: the store
	 * would refuse the deletion anyway. */
	if (p && timegm(&tm) <= now)
		return;
	*out_lock = backend_err_set(err, -EPERM, "%s: under Object Lock (%s) until %s: not deleted; "
	                            "it can go once its retention ends", what,
	                            rq->lock_mode[0] ? rq->lock_mode : "retention", rq->lock_until);
}

static int s3_head(S3Backend *s3, const char *key, const char *what, uint64_t *out_size, int *out_lock,
                   RemoteErr *err)
{
	S3Req rq;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rq.method = "HEAD";
	rq.key = key;
	rq.ssec = 1;
	rc = s3http_call(s3->http, &rq, what, err);
	if (rc == 0 && out_lock)
		lock_check(&rq, what, out_lock, err);
	if (rc == 0 && out_size) {
		if (rq.content_length < 0)
			rc = backend_err_set(err, -EIO, "%s: HEAD answer without Content-Length", what);
		else
			*out_size = (uint64_t)rq.content_length;
	}
	s3http_req_free(&rq);
	return rc;
}

static int s3_stat(Backend *be, const char *name, uint64_t *out_size, RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);
	char what[WHAT_MAX], *key;
	int rc;

	rc = check_name(s3, name, what, err);
	if (rc < 0)
		return rc;
	key = full_key(s3, name);
	if (!key)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", what);
	rc = s3_head(s3, key, what, out_size, NULL, err);
	free(key);
	return rc;
}

static int s3_get(Backend *be, const char *name, size_t max_bytes, uint8_t **out_buf, size_t *out_len,
                  RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);
	char what[WHAT_MAX], *key = NULL;
	S3Req rq;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rc = check_name(s3, name, what, err);
	if (rc < 0)
		return rc;
	key = full_key(s3, name);
	if (!key)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", what);
	rq.method = "GET";
	rq.key = key;
	/* No HEAD first: the GET's own Content-Length is checked before any
	 * of its body is kept (s3_http.c), which costs no extra request. */
	rq.body_max = max_bytes;
	rq.body_max_efbig = 1;
	rq.ssec = 1;
	rq.check_body = check_body;
	rc = s3http_call(s3->http, &rq, what, err);
	if (rc < 0)
		goto out;
	if (!rq.resp.p) {
		rq.resp.p = malloc(1);   /* an empty object still gets a buffer */
		if (!rq.resp.p) {
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
			goto out;
		}
	}
	*out_buf = rq.resp.p;
	*out_len = rq.resp.len;
	rq.resp.p = NULL;
out:
	s3http_req_free(&rq);
	free(key);
	return rc;
}

static int s3_get_range(Backend *be, const char *name, uint64_t off, size_t len,
                        uint8_t *buf, RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);
	char what[WHAT_MAX], *key = NULL;
	uint64_t size;
	S3Req rq;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rc = check_name(s3, name, what, err);
	if (rc < 0)
		return rc;
	if (len > UINT64_MAX - off)
		return backend_err_set(err, -EINVAL, "%s: range %llu+%zu overflows",
		                       what, (unsigned long long)off, len);
	key = full_key(s3, name);
	if (!key)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", what);
	if (len == 0) {
		/* "bytes=a-(a-1)" cannot be asked for; a HEAD says whether
		 * the empty range lies within the object. */
		rc = s3_head(s3, key, what, &size, NULL, err);
		if (rc == 0 && off > size)
			rc = backend_err_set(err, -ERANGE, "%s: range %llu+0 is past the end (%llu bytes)",
			                     what, (unsigned long long)off, (unsigned long long)size);
		goto out;
	}
	rq.method = "GET";
	rq.key = key;
	rq.ranged = 1;
	rq.range_off = off;
	rq.range_len = len;
	rq.dest = buf;
	rq.ssec = 1;
	rc = s3http_call(s3->http, &rq, what, err);
out:
	s3http_req_free(&rq);
	free(key);
	return rc;
}

static int put_single(S3Backend *s3, const char *key, const char *what, const void *buf, size_t len,
                      const char *storage_class, int lock, RemoteErr *err)
{
	BodyHash hash;
	S3Req rq;
	int rc;

	body_hash(buf ? buf : "", len, &hash);
	memset(&rq, 0, sizeof(rq));
	rq.method = "PUT";
	rq.key = key;
	rq.body = buf;
	rq.body_len = len;
	rq.payload_sha256 = hash.hex;
	rq.checksum_sha256 = hash.b64;
	rq.content_type = "application/octet-stream";
	rq.storage_class = storage_class;
	rq.body_max = S3_XMLBODY_MAX;
	rq.sse = rq.ssec = 1;
	rq.lock = lock;
	rc = s3http_call(s3->http, &rq, what, err);
	s3http_req_free(&rq);
	return rc;
}

/* abort_upload — AbortMultipartUpload, best effort: the error to report
 * is the one that made us give up, and a store that keeps the parts
 * anyway (some answer 405) only costs storage until its lifecycle rules
 * clean up. */
static void abort_upload(S3Backend *s3, const char *key, const char *enc_id, const char *what)
{
	RemoteErr scratch;
	char *query;
	S3Req rq;

	if (asprintf(&query, "uploadId=%s", enc_id) < 0)
		return;
	memset(&rq, 0, sizeof(rq));
	rq.method = "DELETE";
	rq.key = key;
	rq.query = query;
	rq.body_max = S3_XMLBODY_MAX;
	s3http_call(s3->http, &rq, what, &scratch);
	s3http_req_free(&rq);
	free(query);
}

/* put_multipart — CreateMultipartUpload, UploadPart for each part (each
 * with its own SHA-256 checksum), CompleteMultipartUpload; on any failure
 * after the upload exists, abort it so no orphaned parts keep costing. */
static int put_multipart(S3Backend *s3, const char *key, const char *what, const uint8_t *buf,
                         size_t len, const char *storage_class, int lock, RemoteErr *err)
{
	char *upload_id = NULL, *enc_id = NULL, *query = NULL, *xml = NULL;
	char part_what[WHAT_MAX + 64];
	size_t part_size = S3_PART_SIZE_MIN, n_parts, i;
	S3XmlPart *parts = NULL;
	RemoteErr scratch;
	BodyHash hash;
	uint64_t size;
	S3Req rq;
	int rc;

	while ((len + part_size - 1) / part_size > S3_MAX_PARTS)
		part_size *= 2;
	n_parts = (len + part_size - 1) / part_size;

	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.key = key;
	rq.query = "uploads=";          /* value-less parameters are signed with '=' */
	rq.content_type = "application/octet-stream";
	rq.storage_class = storage_class;
	rq.extra_header = "x-amz-checksum-algorithm: SHA256";
	rq.body_max = S3_XMLBODY_MAX;
	rq.sse = rq.ssec = 1;
	rq.lock = lock;
	rc = s3http_call(s3->http, &rq, what, err);
	if (rc == 0) {
		rc = s3xml_upload_id_parse((const char *)rq.resp.p, rq.resp.len, &upload_id);
		if (rc < 0)
			rc = backend_err_set(err, rc == -ENOMEM ? -ENOMEM : -EIO,
			                     "%s: unreadable answer to CreateMultipartUpload", what);
	}
	s3http_req_free(&rq);
	if (rc < 0)
		goto out;
	enc_id = s3http_encode(upload_id, 0);
	parts = calloc(n_parts, sizeof(*parts));
	if (!enc_id || !parts) {
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	for (i = 0; i < n_parts; i++) {
		size_t off = i * part_size;

		free(query);
		/* Sorted: partNumber before uploadId. */
		if (asprintf(&query, "partNumber=%zu&uploadId=%s", i + 1, enc_id) < 0) {
			query = NULL;
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
			goto out;
		}
		snprintf(part_what, sizeof(part_what), "%s (part %zu of %zu)", what, i + 1, n_parts);
		memset(&rq, 0, sizeof(rq));
		rq.method = "PUT";
		rq.key = key;
		rq.query = query;
		rq.body = buf + off;
		rq.body_len = len - off < part_size ? len - off : part_size;
		body_hash(rq.body, rq.body_len, &hash);
		rq.payload_sha256 = hash.hex;
		rq.checksum_sha256 = hash.b64;
		rq.body_max = S3_XMLBODY_MAX;
		rq.ssec = 1;
		rc = s3http_call(s3->http, &rq, part_what, err);
		s3http_req_free(&rq);
		if (rc == 0 && !rq.etag[0])
			rc = backend_err_set(err, -EIO, "%s: UploadPart answer without ETag", part_what);
		if (rc < 0)
			goto out;
		parts[i].number = (unsigned)(i + 1);
		snprintf(parts[i].etag, sizeof(parts[i].etag), "%s", rq.etag);
		snprintf(parts[i].checksum, sizeof(parts[i].checksum), "%s", hash.b64);
	}
	xml = s3xml_complete_build(parts, n_parts);
	free(query);
	if (!xml || asprintf(&query, "uploadId=%s", enc_id) < 0) {
		query = NULL;
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.key = key;
	rq.query = query;
	rq.body = (const uint8_t *)xml;
	rq.body_len = strlen(xml);
	body_hash(xml, rq.body_len, &hash);
	rq.payload_sha256 = hash.hex;
	rq.content_type = "application/xml";
	rq.error_in_200 = 1;
	rq.body_max = S3_XMLBODY_MAX;
	rc = s3http_call(s3->http, &rq, what, err);
	s3http_req_free(&rq);
	/* A retried Complete whose first try did succeed finds the upload
	 * gone (NoSuchUpload). The object being there at the right size
	 * then means the first try did its job. */
	if (rc == -ENOENT && rq.attempts_used > 1 &&
	    s3_head(s3, key, what, &size, NULL, &scratch) == 0 && size == len)
		rc = 0;
out:
	if (rc < 0 && enc_id)
		abort_upload(s3, key, enc_id, what);
	free(parts);
	free(xml);
	free(query);
	free(enc_id);
	free(upload_id);
	return rc;
}

static int s3_put(Backend *be, const char *name, const void *buf, size_t len, RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);
	char what[WHAT_MAX], *key;
	const char *storage_class;
	int rc, lock;

	rc = check_name(s3, name, what, err);
	if (rc < 0)
		return rc;
	key = full_key(s3, name);
	if (!key)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", what);
	storage_class = s3config_storage_class(&s3->cfg, name);
	lock = s3config_lock_applies(&s3->cfg, name);
	if (len > S3_MULTIPART_THRESHOLD)
		rc = put_multipart(s3, key, what, buf, len, storage_class, lock, err);
	else
		rc = put_single(s3, key, what, buf, len, storage_class, lock, err);
	free(key);
	return rc;
}

static int s3_del(Backend *be, const char *name, RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);
	char what[WHAT_MAX], *key;
	S3Req rq;
	int rc, locked = 0;

	rc = check_name(s3, name, what, err);
	if (rc < 0)
		return rc;
	key = full_key(s3, name);
	if (!key)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", what);
	/* S3 answers 204 to deleting a missing key; the contract wants
	 * -ENOENT, which only a HEAD first can tell. The same HEAD shows an
	 * Object Lock retention: such an object is not even tried. */
	rc = s3_head(s3, key, what, NULL, &locked, err);
	if (rc == 0 && locked)
		rc = locked;
	if (rc == 0) {
		memset(&rq, 0, sizeof(rq));
		rq.method = "DELETE";
		rq.key = key;
		rq.body_max = S3_XMLBODY_MAX;
		rc = s3http_call(s3->http, &rq, what, err);
		s3http_req_free(&rq);
	}
	free(key);
	return rc;
}

char *s3_list_query(const char *enc_token, const char *enc_prefix)
{
	char *query;

	/* Parameters sorted by name, as libcurl signs them as written. */
	if (asprintf(&query, "%s%s%slist-type=2&max-keys=%d&prefix=%s",
	             enc_token ? "continuation-token=" : "", enc_token ? enc_token : "",
	             enc_token ? "&" : "", S3_LIST_PAGE, enc_prefix) < 0)
		return NULL;
	return query;
}

/* s3_list_any — ListObjectsV2 for list (fn) or list_info (ifn): exactly
 * one of them is set. */
static int s3_list_any(Backend *be, const char *prefix, BackendListFn fn, BackendInfoFn ifn, void *ctx,
                       RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);
	size_t plen = strlen(s3->cfg.prefix), i;
	char what[WHAT_MAX], *full = NULL, *enc_prefix = NULL, *enc_token = NULL, *token = NULL;
	char *query = NULL, why[256];
	S3XmlListPage page;
	S3ListGuard guard;
	S3Req rq;
	int rc;

	memset(&page, 0, sizeof(page));
	memset(&rq, 0, sizeof(rq));
	s3list_guard_init(&guard, s3->cfg.list_max_pages, s3->cfg.list_max_keys);
	if (backend_prefix_check(prefix) < 0)
		return backend_err_set(err, -EINVAL, "s3://%s/%s: invalid list prefix \"%s\"",
		                       s3->cfg.bucket, s3->cfg.prefix, prefix ? prefix : "");
	what_of(s3, prefix, what, sizeof(what));
	full = full_key(s3, prefix);
	enc_prefix = full ? s3http_encode(full, 0) : NULL;
	if (!enc_prefix) {
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	for (;;) {
		free(query);
		query = s3_list_query(enc_token, enc_prefix);
		if (!query) {
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
			goto out;
		}
		s3http_req_free(&rq);
		memset(&rq, 0, sizeof(rq));
		rq.method = "GET";
		rq.query = query;
		rq.body_max = S3_XMLBODY_MAX;
		rc = s3http_call(s3->http, &rq, what, err);
		if (rc < 0)
			goto out;
		s3xml_list_page_free(&page);
		rc = s3xml_list_parse((const char *)rq.resp.p, rq.resp.len, &page);
		if (rc < 0) {
			rc = backend_err_set(err, rc == -ENOMEM ? -ENOMEM : -EIO,
			                     "%s: unreadable ListObjectsV2 answer", what);
			goto out;
		}
		/* Judged before any of its keys is reported: a listing that
		 * loops or never ends stops here, with nothing more kept. */
		rc = s3list_guard_page(&guard, &page, why, sizeof(why));
		if (rc < 0) {
			rc = rc == -ENOMEM ? backend_err_set(err, rc, "%s: out of memory", what)
			                   : backend_err_set(err, rc, "%s: listing stopped: %s", what, why);
			goto out;
		}
		for (i = 0; i < page.n_objects; i++) {
			const char *k = page.objects[i].key;

			/* Keys that are not object names (folder markers,
			 * "a//b" from other tools) are skipped, as the local
			 * backend skips what is not a regular file. */
			if (strncmp(k, s3->cfg.prefix, plen) != 0 || backend_name_check(k + plen) < 0)
				continue;
			if (ifn) {
				BackendObjInfo info;

				memset(&info, 0, sizeof(info));
				info.size = page.objects[i].size;
				/* S3 names STANDARD; "" keeps one spelling for "no class". */
				if (strcmp(page.objects[i].storage_class, "STANDARD") != 0)
					memcpy(info.storage_class, page.objects[i].storage_class, sizeof(info.storage_class));
				info.archived = backend_class_archived(info.storage_class);
				info.mtime_s = page.objects[i].mtime_s;
				rc = ifn(k + plen, &info, ctx);
			} else {
				rc = fn(k + plen, page.objects[i].size, ctx);
			}
			if (rc)
				goto out;
		}
		if (!page.truncated)
			break;
		free(token);
		free(enc_token);
		token = page.next_token;
		page.next_token = NULL;
		enc_token = s3http_encode(token, 0);
		if (!enc_token) {
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
			goto out;
		}
	}
	rc = 0;
out:
	s3list_guard_free(&guard);
	s3xml_list_page_free(&page);
	s3http_req_free(&rq);
	free(query);
	free(token);
	free(enc_token);
	free(enc_prefix);
	free(full);
	return rc;
}

static int s3_list(Backend *be, const char *prefix, BackendListFn fn, void *ctx, RemoteErr *err)
{
	return s3_list_any(be, prefix, fn, NULL, ctx, err);
}

static int s3_list_info(Backend *be, const char *prefix, BackendInfoFn fn, void *ctx, RemoteErr *err)
{
	return s3_list_any(be, prefix, NULL, fn, ctx, err);
}

/* s3_head_info — HEAD with x-amz-checksum-mode: ENABLED. The checksum of
 * a multipart upload ("BASE64-N", a hash of the parts' hashes) is not the
 * object's SHA-256 and is left out; so is one that does not decode. */
static int s3_head_info(Backend *be, const char *name, BackendObjInfo *out, RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);
	char what[WHAT_MAX], *key;
	BackendObjInfo info;
	S3Req rq;
	size_t bin_len = 0;
	int rc;

	rc = check_name(s3, name, what, err);
	if (rc < 0)
		return rc;
	key = full_key(s3, name);
	if (!key)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", what);
	memset(&rq, 0, sizeof(rq));
	memset(&info, 0, sizeof(info));
	info.mtime_s = -1;
	rq.method = "HEAD";
	rq.key = key;
	rq.ssec = 1;
	rq.checksum_mode = 1;
	rc = s3http_call(s3->http, &rq, what, err);
	if (rc == 0 && rq.content_length < 0)
		rc = backend_err_set(err, -EIO, "%s: HEAD answer without Content-Length", what);
	if (rc == 0) {
		info.size = (uint64_t)rq.content_length;
		if (strcmp(rq.class_answered, "STANDARD") != 0)
			memcpy(info.storage_class, rq.class_answered, sizeof(info.storage_class));
		info.archived = backend_class_archived(info.storage_class);
		/* x-amz-restore: ongoing-request="true" while thawing;
		 * ongoing-request="false", expiry-date="..." once readable. */
		info.restoring = strstr(rq.restore, "ongoing-request=\"true\"") != NULL;
		info.restored = strstr(rq.restore, "ongoing-request=\"false\"") != NULL;
		if (rq.checksum[0] && !strchr(rq.checksum, '-') &&
		    sodium_base642bin(info.sha256, sizeof(info.sha256), rq.checksum, strlen(rq.checksum), NULL,
		                      &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
		    bin_len == sizeof(info.sha256))
			info.has_sha256 = 1;
		*out = info;
	}
	s3http_req_free(&rq);
	free(key);
	return rc;
}

/* s3_thaw — RestoreObject (POST ?restore) for an archived object:
 * 202 a restore starts, 409 RestoreAlreadyInProgress, 200 a restored copy
 * is already readable; InvalidObjectState means the object is not in an
 * archive class, and 501 a store without the operation. */
static int s3_thaw(Backend *be, const char *name, unsigned days, RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);
	char what[WHAT_MAX], *key = NULL, *xml = NULL;
	BodyHash hash;
	S3Req rq;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rc = check_name(s3, name, what, err);
	if (rc < 0)
		return rc;
	key = full_key(s3, name);
	if (!key || asprintf(&xml, "<RestoreRequest xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	                     "<Days>%u</Days><GlacierJobParameters><Tier>Standard</Tier>"
	                     "</GlacierJobParameters></RestoreRequest>", days ? days : 1) < 0) {
		xml = NULL;
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	body_hash(xml, strlen(xml), &hash);
	rq.method = "POST";
	rq.key = key;
	rq.query = "restore=";
	rq.body = (const uint8_t *)xml;
	rq.body_len = strlen(xml);
	rq.payload_sha256 = hash.hex;
	rq.checksum_sha256 = hash.b64;
	rq.content_type = "application/xml";
	rq.body_max = S3_XMLBODY_MAX;
	rc = s3http_call(s3->http, &rq, what, err);
	if (rc == 0)
		rc = rq.status == 200 ? 1 : 0;
	else if (rq.status == 409)
		rc = 0;
	else if (rc == -ENODATA)
		rc = backend_err_set(err, -ENOTSUP, "%s: not in an archive storage class", what);
	else if (rq.status == 501)
		rc = backend_err_set(err, -ENOTSUP, "%s: this store does not implement RestoreObject", what);
out:
	s3http_req_free(&rq);
	free(xml);
	free(key);
	return rc;
}

static void s3_free(Backend *be)
{
	S3Backend *s3 = s3_of(be);

	s3http_free(s3->http);
	s3config_free(&s3->cfg);
	free(s3);
}

static void s3_stats(Backend *be, BackendStats *out)
{
	s3http_stats(s3_of(be)->http, out);
}

/* The repository's retention (its config) applies unless the location
 * or the environment sets one. */
static int s3_set_retention(Backend *be, int governance, unsigned days, RemoteErr *err)
{
	S3Backend *s3 = s3_of(be);

	(void)err;
	if (!s3->cfg.lock_mode) {
		s3->cfg.lock_mode = governance ? "GOVERNANCE" : "COMPLIANCE";
		s3->cfg.lock_days = (long)days;
	}
	return 0;
}

static int s3_where(Backend *be, BackendWhere *out)
{
	S3Backend *s3 = s3_of(be);

	if (strlen(s3->cfg.bucket) >= sizeof(out->bucket) || strlen(s3->cfg.prefix) >= sizeof(out->prefix))
		return -ENAMETOOLONG;
	snprintf(out->bucket, sizeof(out->bucket), "%s", s3->cfg.bucket);
	snprintf(out->prefix, sizeof(out->prefix), "%s", s3->cfg.prefix);
	snprintf(out->class_data, sizeof(out->class_data), "%s", s3->cfg.class_data ? s3->cfg.class_data : "");
	snprintf(out->class_metadata, sizeof(out->class_metadata), "%s",
	         s3->cfg.class_metadata ? s3->cfg.class_metadata : "");
	return 0;
}

static const BackendOps s3_ops = {
	.where = s3_where,
	.stats = s3_stats,
	.set_retention = s3_set_retention,
	.put = s3_put,
	.get = s3_get,
	.get_range = s3_get_range,
	.list = s3_list,
	.list_info = s3_list_info,
	.head = s3_head_info,
	.del = s3_del,
	.stat = s3_stat,
	.free = s3_free,
	.thaw = s3_thaw,
};

int backend_s3_open(const char *location, Backend **out_be, RemoteErr *err)
{
	S3Backend *s3;
	char why[256];
	int rc;

	pthread_once(&sodium_once, sodium_start);
	if (sodium_rc < 0)
		return backend_err_set(err, sodium_rc, "%s: cannot initialise libsodium", location);
	s3 = calloc(1, sizeof(*s3));
	if (!s3)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", location);
	rc = s3config_parse(location, &s3->cfg, err);
	if (rc < 0) {
		free(s3);
		return rc;
	}
	if (!curl_api_load(why, sizeof why)) {
		s3config_free(&s3->cfg);
		free(s3);
		return backend_err_set(err, -ENOSYS, "%s: S3 needs libcurl: %s", location, why);
	}
	rc = s3http_new(&s3->cfg, &s3->http);
	if (rc < 0) {
		s3config_free(&s3->cfg);
		free(s3);
		return backend_err_set(err, rc, "%s: cannot initialise libcurl", location);
	}
	s3->base.ops = &s3_ops;
	s3->base.transfers = s3->cfg.transfers;
	s3->base.min_data_object = s3config_min_object(s3->cfg.class_data);
	snprintf(s3->base.location, sizeof(s3->base.location), "%s", location);
	*out_be = &s3->base;
	return 0;
}
