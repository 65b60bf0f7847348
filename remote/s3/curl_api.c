/* curl_api.c — see curl_api.h. */
#include "remote/s3/curl_api.h"

#include <stdio.h>

#include "remote/s3/dynlib.h"

/* The soname Debian's libcurl4 (OpenSSL flavour) installs; the ABI has
 * kept soname 4 since 2006. */
#define CURL_SONAME "libcurl.so.4"

static const DynSym syms[] = {
	DYNSYM(CurlApi, easy_init, "curl_easy_init"),
	DYNSYM(CurlApi, easy_setopt, "curl_easy_setopt"),
	DYNSYM(CurlApi, easy_perform, "curl_easy_perform"),
	DYNSYM(CurlApi, easy_getinfo, "curl_easy_getinfo"),
	DYNSYM(CurlApi, easy_reset, "curl_easy_reset"),
	DYNSYM(CurlApi, easy_cleanup, "curl_easy_cleanup"),
	DYNSYM(CurlApi, easy_strerror, "curl_easy_strerror"),
	DYNSYM(CurlApi, slist_append, "curl_slist_append"),
	DYNSYM(CurlApi, slist_free_all, "curl_slist_free_all"),
	DYNSYM(CurlApi, multi_init, "curl_multi_init"),
	DYNSYM(CurlApi, multi_setopt, "curl_multi_setopt"),
	DYNSYM(CurlApi, multi_add_handle, "curl_multi_add_handle"),
	DYNSYM(CurlApi, multi_remove_handle, "curl_multi_remove_handle"),
	DYNSYM(CurlApi, multi_perform, "curl_multi_perform"),
	DYNSYM(CurlApi, multi_poll, "curl_multi_poll"),
	DYNSYM(CurlApi, multi_wakeup, "curl_multi_wakeup"),
	DYNSYM(CurlApi, multi_info_read, "curl_multi_info_read"),
	DYNSYM(CurlApi, multi_cleanup, "curl_multi_cleanup"),
	DYNSYM(CurlApi, global_init, "curl_global_init")
};

static CurlApi api;

/* libcurl must be initialised once before any other call. */
static int global_init(void *table, char *msg, size_t msg_len)
{
	const CurlApi *c = table;
	CURLcode rc = c->global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK) {
		snprintf(msg, msg_len, "curl_global_init failed: %s", c->easy_strerror(rc));
		return -1;
	}
	return 0;
}

static DynLib lib = DYNLIB_INIT(CURL_SONAME, "libcurl4", syms, &api, global_init);

const CurlApi *curl_api_load(char *msg, size_t msg_len)
{
	return dynlib_get(&lib, msg, msg_len);
}
