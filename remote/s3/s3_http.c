/* s3_http.c — the S3 request engine on libcurl. See s3_http.h.
 *
 * libcurl signs with SigV4 (CURLOPT_AWS_SIGV4) but leaves two things to
 * the caller, both handled here: it adds no x-amz-content-sha256 header
 * (the store refuses a request without it), and it signs the query string
 * exactly as written, so callers pass it sorted and encoded.
 *
 * Retries: all of strata's operations are idempotent (a PUT of one name
 * always carries the same bytes), so repeating a request that may have
 * reached the store is safe; only failures a repeat can cure are retried.
 */
#include "remote/s3/s3_http.h"
#include "remote/backend_internal.h"
#include "remote/s3/curl_api.h"
#include "remote/s3/s3_multi.h"
#include "remote/s3/s3_rate.h"
#include "remote/s3/s3_xml.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/* Waits between attempts: cfg->backoff_ms (S3CONFIG_BACKOFF_MS_DEFAULT,
 * 200 ms) doubling up to 10 s, each drawn from [half, full]. The default
 * 6 attempts wait 3.1 to 6.2 s in all: long enough to ride out a
 * throttling burst or a restarting endpoint, short enough that a dead one
 * is reported promptly. */
#define S3_BACKOFF_MAX_MS 10000
/* Below 1 KiB/s for cfg->low_speed_time_s seconds counts as a stalled
 * connection: abort it and retry. */
#define S3_LOW_SPEED_BYTES 1024
/* Idle easy handles kept for reuse (their DNS cache and TLS session
 * ticket; the live connections themselves are kept by the multi handle,
 * s3_multi.c): enough for the handful of threads a backup runs and the 16
 * a restore runs. */
#define S3_POOL_MAX 32
/* A Retry-After longer than this is not waited for in full: a request
 * that has to wait minutes is better reported than hung on. */
#define S3_RETRY_AFTER_MAX_S 60
/* Error documents are small; keep only their start. */
#define S3_ERRBODY_MAX ((size_t)64 << 10)

struct S3Http {
	const S3Config *cfg;
	char sigv4[64];         /* "aws:amz:REGION:s3" */
	S3Multi *multi;         /* runs every transfer, cfg->transfers at once */
	pthread_mutex_t pool_lock;
	CURL *pool[S3_POOL_MAX];
	int pool_n;
	/* counts for s3http_stats, updated with atomic adds */
	uint64_t n_requests, n_retries, n_sent, n_received;
};

void s3http_stats(S3Http *http, BackendStats *out)
{
	out->requests = __atomic_load_n(&http->n_requests, __ATOMIC_RELAXED);
	out->retries = __atomic_load_n(&http->n_retries, __ATOMIC_RELAXED);
	out->bytes_sent = __atomic_load_n(&http->n_sent, __ATOMIC_RELAXED);
	out->bytes_received = __atomic_load_n(&http->n_received, __ATOMIC_RELAXED);
}

/* libcurl's functions (curl_api.h): loaded by the first s3http_new, which
 * fails when they cannot be; every other function here runs after one
 * succeeded. */
#define CX (curl_api_load(NULL, 0))

int s3http_new(const S3Config *cfg, S3Http **out)
{
	S3Http *http;
	int rc;

	if (!curl_api_load(NULL, 0))
		return -ENOSYS;
	http = calloc(1, sizeof(*http));
	if (!http)
		return -ENOMEM;
	rc = s3multi_new(cfg->transfers, &http->multi);
	if (rc < 0) {
		free(http);
		return rc;
	}
	if (pthread_mutex_init(&http->pool_lock, NULL) != 0) {
		s3multi_free(http->multi);
		free(http);
		return -ENOMEM;
	}
	http->cfg = cfg;
	snprintf(http->sigv4, sizeof(http->sigv4), "aws:amz:%s:s3", cfg->region);
	*out = http;
	return 0;
}

void s3http_free(S3Http *http)
{
	int i;

	if (!http)
		return;
	s3multi_free(http->multi);
	for (i = 0; i < http->pool_n; i++)
		CX->easy_cleanup(http->pool[i]);
	pthread_mutex_destroy(&http->pool_lock);
	free(http);
}

void s3http_req_free(S3Req *rq)
{
	free(rq->resp.p);
	free(rq->errbody.p);
	rq->resp.p = rq->errbody.p = NULL;
	rq->resp.len = rq->resp.cap = rq->errbody.len = rq->errbody.cap = 0;
}

/* --- curl handle pool ---------------------------------------------------- */

static CURL *pool_get(S3Http *http)
{
	CURL *h = NULL;

	pthread_mutex_lock(&http->pool_lock);
	if (http->pool_n > 0)
		h = http->pool[--http->pool_n];
	pthread_mutex_unlock(&http->pool_lock);
	return h ? h : CX->easy_init();
}

static void pool_put(S3Http *http, CURL *h)
{
	pthread_mutex_lock(&http->pool_lock);
	if (http->pool_n < S3_POOL_MAX) {
		http->pool[http->pool_n++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&http->pool_lock);
	if (h)
		CX->easy_cleanup(h);
}

/* --- helpers ------------------------------------------------------------ */

static int buf_append(S3Buf *b, const void *p, size_t n, size_t max)
{
	if (n > max - b->len)
		return -EOVERFLOW;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *q;

		while (cap < b->len + n)
			cap = cap > max / 2 ? max : cap * 2;
		q = realloc(b->p, cap);
		if (!q)
			return -ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *s3http_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s), i, o = 0;
	char *out = malloc(3 * n + 1);

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* --- libcurl callbacks --------------------------------------------------- */

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
	S3Req *rq = ud;
	size_t n = size * nmemb;
	long status = 0;
	int rc;

	CX->easy_getinfo(rq->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		/* Keep the start of an error document; drop the rest. */
		size_t room = S3_ERRBODY_MAX - rq->errbody.len;

		if (room && buf_append(&rq->errbody, p, n < room ? n : room, S3_ERRBODY_MAX) < 0) {
			rq->oom = 1;
			return 0;
		}
		return n;
	}
	if (rq->dest) {
		if (n > rq->range_len - rq->dest_got) {
			rq->overflow = 1;
			return 0;
		}
		memcpy(rq->dest + rq->dest_got, p, n);
		rq->dest_got += n;
		return n;
	}
	/* An announced length past the bound stops the transfer before one
	 * byte is kept: a hostile store cannot make us read (or allocate)
	 * the gigabytes it claims. */
	if (rq->content_length >= 0 && (uint64_t)rq->content_length > rq->body_max) {
		rq->overflow = 1;
		return 0;
	}
	if (rq->resp.cap == 0 && rq->content_length > 0) {
		/* Size the buffer once from a sane Content-Length. */
		rq->resp.p = malloc((size_t)rq->content_length);
		if (rq->resp.p)
			rq->resp.cap = (size_t)rq->content_length;
	}
	rc = buf_append(&rq->resp, p, n, rq->body_max);
	if (rc < 0) {
		if (rc == -ENOMEM)
			rq->oom = 1;
		else
			rq->overflow = 1;
		return 0;
	}
	return n;
}

static void header_copy(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	while (n && *v == ' ')
		v++, n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static void reset_answer_headers(S3Req *rq)
{
	rq->etag[0] = rq->content_range[0] = rq->checksum[0] = '\0';
	rq->lock_mode[0] = rq->lock_until[0] = '\0';
	rq->class_answered[0] = rq->restore[0] = '\0';
	rq->retry_after_s = 0;
	rq->content_length = -1;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	S3Req *rq = ud;
	size_t n = size * nmemb;

	/* A new status line (after "100 Continue") starts a new header set. */
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		reset_answer_headers(rq);
	} else if (n > 15 && strncasecmp(p, "Content-Length:", 15) == 0) {
		char v[32];
		unsigned long long x;

		header_copy(v, sizeof(v), p + 15, n - 15);
		if (sscanf(v, "%llu", &x) == 1 && x <= INT64_MAX)
			rq->content_length = (int64_t)x;
	} else if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
		header_copy(rq->etag, sizeof(rq->etag), p + 5, n - 5);
	} else if (n > 14 && strncasecmp(p, "Content-Range:", 14) == 0) {
		header_copy(rq->content_range, sizeof(rq->content_range), p + 14, n - 14);
	} else if (n > 22 && strncasecmp(p, "x-amz-checksum-sha256:", 22) == 0) {
		header_copy(rq->checksum, sizeof(rq->checksum), p + 22, n - 22);
	} else if (n > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		char v[32];
		long x;

		/* Seconds; the HTTP-date form is not used by S3. */
		header_copy(v, sizeof(v), p + 12, n - 12);
		if (sscanf(v, "%ld", &x) == 1 && x > 0)
			rq->retry_after_s = x < S3_RETRY_AFTER_MAX_S ? x : S3_RETRY_AFTER_MAX_S;
	} else if (n > 22 && strncasecmp(p, "x-amz-object-lock-mode:", 23) == 0) {
		header_copy(rq->lock_mode, sizeof(rq->lock_mode), p + 23, n - 23);
	} else if (n > 36 && strncasecmp(p, "x-amz-object-lock-retain-until-date:", 36) == 0) {
		header_copy(rq->lock_until, sizeof(rq->lock_until), p + 36, n - 36);
	} else if (n > 20 && strncasecmp(p, "x-amz-storage-class:", 20) == 0) {
		header_copy(rq->class_answered, sizeof(rq->class_answered), p + 20, n - 20);
	} else if (n > 14 && strncasecmp(p, "x-amz-restore:", 14) == 0) {
		header_copy(rq->restore, sizeof(rq->restore), p + 14, n - 14);
	}
	return n;
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *ud)
{
	S3Req *rq = ud;
	size_t n = size * nmemb, left = rq->body_len - rq->body_pos;

	if (n > left)
		n = left;
	if (n == 0)
		return 0;       /* also covers an empty body with body == NULL */
	memcpy(dst, rq->body + rq->body_pos, n);
	rq->body_pos += n;
	return n;
}

/* libcurl rewinds the upload when it must send the body again within one
 * request (e.g. after a 100-continue exchange it could not use). */
static int on_seek(void *ud, curl_off_t off, int origin)
{
	S3Req *rq = ud;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > rq->body_len)
		return CURL_SEEKFUNC_FAIL;
	rq->body_pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* --- judging an answer --------------------------------------------------- */

typedef struct Attempt {
	int rc;                 /* 0 or the contract error */
	int retry;              /* worth another attempt */
	int expired;            /* the store called the credentials expired */
	uint64_t big_size;      /* -EFBIG: the announced size, or BACKEND_SIZE_UNKNOWN */
	char cause[400];        /* for the message */
} Attempt;

/* S3 error codes that a repeat can cure, whatever their HTTP status:
 * throttling, a slow upload the server gave up on, a body corrupted in
 * transit (BadDigest, XAmzContentSHA256Mismatch). */
static int is_retry_code(const char *code)
{
	static const char *const codes[] = {
		"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
		"BadDigest", "XAmzContentSHA256Mismatch", NULL,
	};
	int i;

	for (i = 0; codes[i]; i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

static void classify_status(const S3Http *http, const S3Req *rq, Attempt *a)
{
	S3XmlError x;
	int have = rq->errbody.len > 0 &&
	           s3xml_error_parse((const char *)rq->errbody.p, rq->errbody.len, &x) == 0 &&
	           x.code[0];
	long st = rq->status;

	if (have)
		snprintf(a->cause, sizeof(a->cause), "%s: %s", x.code, x.message[0] ? x.message : "(no message)");
	else if (st == 404)
		snprintf(a->cause, sizeof(a->cause), "not found (HTTP 404)");
	else if (st == 403)
		/* HEAD answers have no body, so no S3 error code. */
		snprintf(a->cause, sizeof(a->cause), "access denied (HTTP 403%s)",
		         strcmp(rq->method, "HEAD") == 0
		         ? "; the answer to a HEAD names no cause: check the key, secret, region and clock" : "");
	else
		snprintf(a->cause, sizeof(a->cause), "HTTP %ld", st);
	a->retry = (st >= 500 && st != 501) || st == 429 || (have && is_retry_code(x.code));
	/* Temporary credentials that lapsed (a clock far off, a sleep
	 * longer than their margin): fetch new ones and try again. */
	if (have && (strcmp(x.code, "ExpiredToken") == 0 || strcmp(x.code, "TokenRefreshRequired") == 0)) {
		a->expired = 1;
		a->retry = 1;
	}
	/* A HEAD's 400 has no body to say why; with a session token, an
	 * expired one is the likely cause (S3 answers ExpiredToken with 400),
	 * and one fresh fetch settles it. */
	if (!have && st == 400 && strcmp(rq->method, "HEAD") == 0 && rq->signed_with_token) {
		a->expired = 1;
		a->retry = 1;
		snprintf(a->cause, sizeof(a->cause), "HTTP 400 (with a session token: expired?)");
	}
	if (st == 403)
		a->rc = -EACCES;
	else if (st == 404)
		a->rc = -ENOENT;
	else if (st == 416)
		a->rc = -ERANGE;
	else if (st == 507)
		a->rc = -ENOSPC;
	else
		a->rc = -EIO;
	/* A GET of an object in GLACIER or DEEP_ARCHIVE: not a permission
	 * problem, and no retry cures it before a RestoreObject finishes. */
	if (have && strcmp(x.code, "InvalidObjectState") == 0) {
		a->rc = -ENODATA;
		a->retry = 0;
	}
	if (have && st == 403 && strcmp(rq->method, "DELETE") == 0 && strcmp(x.code, "AccessDenied") == 0) {
		size_t l = strlen(a->cause);

		snprintf(a->cause + l, sizeof(a->cause) - l, " (deletion refused: the object is under "
		         "Object Lock retention, or these credentials may write but not delete)");
	}
	if (have && (strcmp(x.code, "PermanentRedirect") == 0 ||
	             strcmp(x.code, "AuthorizationHeaderMalformed") == 0)) {
		size_t l = strlen(a->cause);

		snprintf(a->cause + l, sizeof(a->cause) - l,
		         " (signed for region %s; set AWS_REGION to the bucket's region)", http->cfg->region);
	}
}

/* check_range — a 206 must hold exactly the bytes asked for. */
static void check_range(const S3Req *rq, Attempt *a)
{
	unsigned long long first, last, total;
	uint64_t want_last = rq->range_off + rq->range_len - 1;

	if (rq->status != 206) {
		a->rc = -EIO;
		snprintf(a->cause, sizeof(a->cause), "asked for a byte range, got HTTP %ld instead of 206",
		         rq->status);
		return;
	}
	if (sscanf(rq->content_range, "bytes %llu-%llu/%llu", &first, &last, &total) != 3 ||
	    first != rq->range_off || last < first) {
		a->rc = -EIO;
		snprintf(a->cause, sizeof(a->cause), "bad Content-Range \"%s\" for bytes %llu-%llu",
		         rq->content_range, (unsigned long long)rq->range_off, (unsigned long long)want_last);
		return;
	}
	if (last != want_last) {
		/* The store clipped the range at the end of the object. */
		a->rc = total <= want_last ? -ERANGE : -EIO;
		snprintf(a->cause, sizeof(a->cause), "range %llu+%zu is past the end (%llu bytes)",
		         (unsigned long long)rq->range_off, rq->range_len, total);
		return;
	}
	if (rq->dest_got != rq->range_len) {
		a->rc = -EIO;
		a->retry = 1;
		snprintf(a->cause, sizeof(a->cause), "short body: %zu of %zu bytes", rq->dest_got, rq->range_len);
	}
}

static int retryable_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_UPLOAD_FAILED:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
}

/* judge — the outcome of one perform. */
static void judge(const S3Http *http, const S3Req *rq, CURLcode cc, const char *errbuf, Attempt *a)
{
	if (rq->oom) {
		a->rc = -ENOMEM;
		snprintf(a->cause, sizeof(a->cause), "out of memory for the answer");
		return;
	}
	if (rq->overflow && rq->body_max_efbig && rq->status >= 200 && rq->status <= 299) {
		/* Not retried: the same object is as large next time. */
		a->rc = -EFBIG;
		a->big_size = rq->content_length >= 0 && (uint64_t)rq->content_length > rq->body_max
		              ? (uint64_t)rq->content_length : BACKEND_SIZE_UNKNOWN;
		return;
	}
	if (rq->overflow) {
		a->rc = -EIO;
		snprintf(a->cause, sizeof(a->cause), "answer longer than expected (HTTP %ld)", rq->status);
		return;
	}
	if (cc != CURLE_OK) {
		a->rc = -EIO;
		a->retry = retryable_curl(cc);
		snprintf(a->cause, sizeof(a->cause), "%s%s%.200s%s", CX->easy_strerror(cc),
		         errbuf[0] ? " (" : "", errbuf, errbuf[0] ? ")" : "");
		if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) {
			size_t l = strlen(a->cause);

			snprintf(a->cause + l, sizeof(a->cause) - l,
			         "; set STRATA_S3_CA_BUNDLE to the server's CA file");
		}
		return;
	}
	if (rq->status < 200 || rq->status > 299) {
		classify_status(http, rq, a);
		return;
	}
	if (rq->error_in_200 && rq->resp.len) {
		S3XmlError x;

		/* CompleteMultipartUpload reports late failures in a 200. */
		if (s3xml_error_parse((const char *)rq->resp.p, rq->resp.len, &x) == 0) {
			a->rc = -EIO;
			a->retry = 1;
			snprintf(a->cause, sizeof(a->cause), "%s: %s", x.code, x.message);
			return;
		}
	}
	if (rq->ranged) {
		check_range(rq, a);
		return;
	}
	if (strcmp(rq->method, "HEAD") != 0 && rq->content_length >= 0 &&
	    (uint64_t)rq->content_length != rq->resp.len) {
		/* libcurl normally reports this as CURLE_PARTIAL_FILE. */
		a->rc = -EIO;
		a->retry = 1;
		snprintf(a->cause, sizeof(a->cause), "short body: %zu of %lld bytes",
		         rq->resp.len, (long long)rq->content_length);
		return;
	}
	/* A "-N" suffix marks a checksum of part checksums (multipart
	 * uploads), which the whole body cannot be checked against. */
	if (rq->check_body && rq->checksum[0] && !strchr(rq->checksum, '-') &&
	    rq->check_body(rq->resp.p, rq->resp.len, rq->checksum) != 0) {
		a->rc = -EIO;
		a->retry = 1;
		snprintf(a->cause, sizeof(a->cause), "body of %zu bytes fails its SHA-256 checksum",
		         rq->resp.len);
	}
}

/* --- performing ---------------------------------------------------------- */

/* attempt — perform rq once on rq->h and judge the outcome. */
static void attempt(S3Http *http, S3Req *rq, const char *url, struct curl_slist *headers,
                    const S3Creds *creds, Attempt *a)
{
	const S3Config *cfg = http->cfg;
	char errbuf[CURL_ERROR_SIZE];
	CURL *h = rq->h;
	CURLcode cc;

	memset(a, 0, sizeof(*a));
	rq->status = 0;
	rq->resp.len = 0;
	rq->errbody.len = 0;
	rq->dest_got = 0;
	rq->body_pos = 0;
	rq->overflow = rq->oom = 0;
	reset_answer_headers(rq);
	errbuf[0] = '\0';

	/* reset drops every option but keeps the handle's live connections. */
	CX->easy_reset(h);
	CX->easy_setopt(h, CURLOPT_URL, url);
	CX->easy_setopt(h, CURLOPT_NOSIGNAL, 1L);      /* threads: no SIGALRM */
	CX->easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	CX->easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	CX->easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	CX->easy_setopt(h, CURLOPT_AWS_SIGV4, http->sigv4);
	CX->easy_setopt(h, CURLOPT_USERNAME, creds->access_key);
	CX->easy_setopt(h, CURLOPT_PASSWORD, creds->secret_key);
	/* libcurl holds each transfer to the limit; s3rate_take spaces the
	 * transfers of all threads. */
	if (s3rate_limit(S3RATE_UP))
		CX->easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)s3rate_limit(S3RATE_UP));
	if (s3rate_limit(S3RATE_DOWN))
		CX->easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)s3rate_limit(S3RATE_DOWN));
	CX->easy_setopt(h, CURLOPT_USERAGENT, "strata");
	CX->easy_setopt(h, CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout_s);
	CX->easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)S3_LOW_SPEED_BYTES);
	CX->easy_setopt(h, CURLOPT_LOW_SPEED_TIME, cfg->low_speed_time_s);
	CX->easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	CX->easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	CX->easy_setopt(h, CURLOPT_WRITEDATA, rq);
	CX->easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	CX->easy_setopt(h, CURLOPT_HEADERDATA, rq);
	if (cfg->ca_bundle)
		CX->easy_setopt(h, CURLOPT_CAINFO, cfg->ca_bundle);
	if (cfg->insecure_tls) {
		CX->easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		CX->easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (strcmp(rq->method, "HEAD") == 0) {
		CX->easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "PUT") == 0) {
		CX->easy_setopt(h, CURLOPT_UPLOAD, 1L);
		CX->easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		CX->easy_setopt(h, CURLOPT_READDATA, rq);
		CX->easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		CX->easy_setopt(h, CURLOPT_SEEKDATA, rq);
		CX->easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "POST") == 0) {
		CX->easy_setopt(h, CURLOPT_POST, 1L);
		CX->easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
		CX->easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	} else if (strcmp(rq->method, "DELETE") == 0) {
		CX->easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	}

	cc = s3multi_perform(http->multi, h);
	CX->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rq->status);
	judge(http, rq, cc, errbuf, a);
}

static void backoff(long base_ms, int attempt_no, long min_s)
{
	unsigned long ms = base_ms > 0 ? (unsigned long)base_ms : S3CONFIG_BACKOFF_MS_DEFAULT;
	struct timespec ts;
	uint32_t r = 0;
	int i;

	for (i = 1; i < attempt_no && ms < S3_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > S3_BACKOFF_MAX_MS)
		ms = S3_BACKOFF_MAX_MS;
	/* Half fixed, half random ("equal jitter"): clients that failed
	 * together do not all come back at the same moment. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)time(NULL) * 2654435761u;
	ms = ms / 2 + r % (ms / 2 + 1);
	/* The server's Retry-After is a floor, jittered upwards so that
	 * clients told the same do not return together. */
	if (min_s > 0 && ms < (unsigned long)min_s * 1000)
		ms = (unsigned long)min_s * 1000 + r % 250;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* --- building a request (no libcurl) ------------------------------------ */

/* Session tokens run to KiBs: no fixed buffer. */
static void header_add(S3HttpHeaders *h, int *bad, const char *name, const char *value)
{
	char *line;

	if (*bad || h->n == S3HTTP_HEADERS_MAX || asprintf(&line, "%s: %s", name, value) < 0) {
		*bad = 1;
		return;
	}
	h->line[h->n++] = line;
}

void s3http_headers_free(S3HttpHeaders *h)
{
	for (size_t i = 0; i < h->n; i++) {
		explicit_bzero(h->line[i], strlen(h->line[i]));
		free(h->line[i]);
	}
	h->n = 0;
}

int s3http_headers(const S3Config *cfg, const S3Req *rq, const char *token, time_t now, S3HttpHeaders *out)
{
	char range[80], until[40];
	struct tm tm;
	time_t t;
	int bad = 0;

	out->n = 0;
	header_add(out, &bad, "x-amz-content-sha256", rq->payload_sha256 ? rq->payload_sha256 : S3HTTP_EMPTY_SHA256);
	if (rq->checksum_sha256)
		header_add(out, &bad, "x-amz-checksum-sha256", rq->checksum_sha256);
	if (token && token[0])
		header_add(out, &bad, "x-amz-security-token", token);
	if (rq->storage_class)
		header_add(out, &bad, "x-amz-storage-class", rq->storage_class);
	if (rq->content_type)
		header_add(out, &bad, "Content-Type", rq->content_type);
	if (rq->check_body || rq->checksum_mode)
		header_add(out, &bad, "x-amz-checksum-mode", "ENABLED");
	if (rq->sse && cfg->sse) {
		header_add(out, &bad, "x-amz-server-side-encryption", cfg->sse);
		if (cfg->kms_key_id)
			header_add(out, &bad, "x-amz-server-side-encryption-aws-kms-key-id", cfg->kms_key_id);
	}
	if (rq->ssec && cfg->ssec_key_b64) {
		header_add(out, &bad, "x-amz-server-side-encryption-customer-algorithm", "AES256");
		header_add(out, &bad, "x-amz-server-side-encryption-customer-key", cfg->ssec_key_b64);
		header_add(out, &bad, "x-amz-server-side-encryption-customer-key-MD5", cfg->ssec_md5_b64);
	}
	if (rq->lock && cfg->lock_mode) {
		/* now + lock_days, as S3 wants the retention date */
		t = now + (time_t)cfg->lock_days * 86400;
		gmtime_r(&t, &tm);
		strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
		header_add(out, &bad, "x-amz-object-lock-mode", cfg->lock_mode);
		header_add(out, &bad, "x-amz-object-lock-retain-until-date", until);
	}
	if (rq->extra_header && !bad) {
		if (out->n == S3HTTP_HEADERS_MAX || !(out->line[out->n] = strdup(rq->extra_header)))
			bad = 1;
		else
			out->n++;
	}
	if (rq->ranged) {
		snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)rq->range_off,
		         (unsigned long long)(rq->range_off + rq->range_len - 1));
		header_add(out, &bad, "Range", range);
	}
	if (bad) {
		s3http_headers_free(out);
		return -ENOMEM;
	}
	return 0;
}

char *s3http_url(const S3Config *cfg, const char *key, const char *query)
{
	char *path = key ? s3http_encode(key, 1) : strdup(""), *url = NULL;

	if (!path)
		return NULL;
	/* Path-style bucket requests go to ".../bucket" without a trailing
	 * slash: some servers drop it before checking the signature. */
	if (asprintf(&url, "%s%s%s%s%s", cfg->url_base, key || !cfg->path_style ? "/" : "", path,
	             query ? "?" : "", query ? query : "") < 0)
		url = NULL;
	free(path);
	return url;
}

/* build_headers — the header list of one attempt (the session token may
 * change between attempts). NULL when out of memory. */
static struct curl_slist *build_headers(const S3Http *http, const S3Req *rq, const S3Creds *creds)
{
	struct curl_slist *headers = NULL;
	S3HttpHeaders h;
	int bad = 0;

	if (s3http_headers(http->cfg, rq, creds->token, time(NULL), &h) != 0)
		return NULL;
	for (size_t i = 0; i < h.n && !bad; i++) {
		struct curl_slist *l = CX->slist_append(headers, h.line[i]);

		if (l)
			headers = l;
		else
			bad = 1;
	}
	s3http_headers_free(&h);
	if (bad) {
		CX->slist_free_all(headers);
		return NULL;
	}
	return headers;
}

int s3http_call(S3Http *http, S3Req *rq, const char *what, RemoteErr *err)
{
	const S3Config *cfg = http->cfg;
	struct curl_slist *headers = NULL;
	char *url = NULL;
	S3Creds *creds = NULL;
	unsigned gen = 0;
	int64_t t0, rate_end;
	Attempt a;
	int rc;

	memset(&a, 0, sizeof(a));
	creds = malloc(sizeof(*creds));
	if (!creds) {
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	url = s3http_url(cfg, rq->key, rq->query);
	if (!url) {
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
		goto out;
	}
	rq->h = pool_get(http);
	if (!rq->h) {
		rc = backend_err_set(err, -ENOMEM, "%s: cannot create a curl handle", what);
		goto out;
	}
	for (rq->attempts_used = 1;; rq->attempts_used++) {
		/* The wait for the link first, then the credentials: a
		 * long wait must not leave them stale. */
		rate_end = 0;
		if (strcmp(rq->method, "PUT") == 0)
			rate_end = s3rate_take(S3RATE_UP, rq->body_len);
		else if (rq->ranged)
			rate_end = s3rate_take(S3RATE_DOWN, rq->range_len);
		rc = s3cred_get(cfg->cred, creds, &gen, err);
		if (rc < 0)
			goto out;
		CX->slist_free_all(headers);
		headers = build_headers(http, rq, creds);
		if (!headers) {
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", what);
			goto out;
		}
		rq->signed_with_token = creds->token[0] != '\0';
		t0 = s3rate_now_ns();
		attempt(http, rq, url, headers, creds, &a);
		__atomic_add_fetch(&http->n_requests, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&http->n_retries, rq->attempts_used > 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&http->n_sent, (uint64_t)(strcmp(rq->method, "POST") == 0 ? rq->body_len
		                                             : rq->body_pos), __ATOMIC_RELAXED);
		__atomic_add_fetch(&http->n_received, (uint64_t)(rq->resp.len + rq->dest_got + rq->errbody.len),
		                   __ATOMIC_RELAXED);
		if (!rq->ranged && strcmp(rq->method, "PUT") != 0)
			s3rate_took(S3RATE_DOWN, rq->resp.len, t0);
		else
			s3rate_wait_until(rate_end);
		if (a.expired)
			s3cred_expired(cfg->cred, gen);
		if (a.rc == 0 || !a.retry || rq->attempts_used >= cfg->attempts)
			break;
		backoff(cfg->backoff_ms, rq->attempts_used, rq->retry_after_s);
	}
	if (a.rc == 0)
		rc = 0;
	else if (a.rc == -EFBIG)
		rc = backend_err_toobig(err, what, a.big_size, rq->body_max);
	else if (a.retry)
		rc = backend_err_set(err, -EIO, "%s: giving up after %d attempts: %s",
		                     what, rq->attempts_used, a.cause);
	else
		rc = backend_err_set(err, a.rc, "%s: %s", what, a.cause);
out:
	if (rq->h) {
		/* Back to the pool without pointers into this request. */
		CX->easy_reset(rq->h);
		pool_put(http, rq->h);
		rq->h = NULL;
	}
	CX->slist_free_all(headers);
	if (creds) {
		s3creds_wipe(creds);
		free(creds);
	}
	free(url);
	return rc;
}
