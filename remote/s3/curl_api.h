/* curl_api.h — libcurl, loaded when the first S3 backend opens.
 *
 * Owns: loading libcurl.so.4 with dlopen, once per process, and the table
 * of the libcurl functions remote/s3/s3_http.c calls. libcurl and the ~20
 * libraries it pulls in (GnuTLS for LDAP, Kerberos, SSH, IDN, ...) cost
 * every process that maps them ~4 MiB of resident memory and part of its
 * start-up; commands on a local repository never use them.
 *
 * Never: unloads libcurl (curl_global_init state lives as long as the
 * process). Thread safety: curl_api_load may be called from any thread;
 * the table is read-only once loaded.
 */
#ifndef STRATA_REMOTE_CURL_API_H
#define STRATA_REMOTE_CURL_API_H

#include <stddef.h>

#include <curl/curl.h>

typedef struct CurlApi {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_reset)(CURL *h);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	/* the multi interface, for remote/s3/s3_multi.c */
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *m, CURLMoption opt, ...);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *h);
	CURLMcode (*multi_perform)(CURLM *m, int *running);
	CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd *extra, unsigned n, int timeout_ms, int *ret);
	CURLMcode (*multi_wakeup)(CURLM *m);
	CURLMsg *(*multi_info_read)(CURLM *m, int *left);
	CURLMcode (*multi_cleanup)(CURLM *m);
	/* called once, by curl_api_load */
	CURLcode (*global_init)(long flags);
} CurlApi;

/* curl_api_load — load libcurl and run curl_global_init, the first time;
 * the table, or NULL with the reason (dlerror's text, or curl_global_init's
 * failure) in msg. Later calls return the same result. */
const CurlApi *curl_api_load(char *msg, size_t msg_len);

#endif
