/* s3_multi.h — the S3 backend's transfers, run through one curl multi
 * handle.
 *
 * Owns: the thread that drives a curl multi handle, the queue of transfers
 * waiting for a slot, and the bound on transfers in flight (--transfers,
 * STRATA_S3_TRANSFERS). The callers stay blocking: each hands over an easy
 * handle it configured and sleeps until that transfer ends, so a backup's
 * or restore's worker threads keep their simple one-request-at-a-time
 * code while every socket of the process is served from one poll loop,
 * and all transfers share the multi handle's connection cache (a
 * connection opened for one worker's request serves the next request of
 * any worker).
 *
 * Never: sets request options or judges answers (s3_http.c does).
 *
 * Thread safety: s3multi_perform may be called from any number of threads
 * at once. The transfer's callbacks (write, header, read, seek) run on the
 * multi thread while the caller sleeps, so they may touch the caller's
 * request without a lock.
 */
#ifndef STRATA_REMOTE_S3_MULTI_H
#define STRATA_REMOTE_S3_MULTI_H

#include <curl/curl.h>

typedef struct S3Multi S3Multi;

/* s3multi_new — an engine running at most transfers (>= 1) transfers at
 * once; more callers wait in a queue, first come first served. Its thread
 * starts with the first transfer. Needs libcurl loaded (curl_api_load).
 * Returns 0, -ENOMEM, or -EIO when libcurl cannot make a multi handle. */
int s3multi_new(int transfers, S3Multi **out);

/* s3multi_perform — run the transfer h is configured for, as
 * curl_easy_perform would, and return its result. h must not be in use
 * elsewhere; its CURLOPT_PRIVATE is taken for the engine's use. When the
 * engine cannot take the transfer (no thread could be started), the
 * caller's thread runs it with curl_easy_perform instead. */
CURLcode s3multi_perform(S3Multi *m, CURL *h);

/* s3multi_free — stop the thread and release the multi handle and its
 * connections. No transfer may be in progress. Accepts NULL. */
void s3multi_free(S3Multi *m);

#endif
