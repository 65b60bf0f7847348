/* curl_api.c — see curl_api.h. */
#include "remote/curl_api.h"

#include <pthread.h>
#include <stdio.h>

#include "remote/dynlib.h"

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

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
/* Written once under load_once, read-only afterwards. */
static CurlApi api;
static const CurlApi *loaded;
static char load_msg[256];

static void load(void)
{
	CURLcode rc;

	if (dynlib_load(CURL_SONAME, "libcurl4", syms, sizeof syms / sizeof *syms, &api,
	                load_msg, sizeof load_msg) != 0)
		return;
	rc = api.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK) {
		snprintf(load_msg, sizeof load_msg, "curl_global_init failed: %s", api.easy_strerror(rc));
		return;
	}
	loaded = &api;
}

const CurlApi *curl_api_load(char *msg, size_t msg_len)
{
	pthread_once(&load_once, load);
	if (!loaded && msg && msg_len)
		snprintf(msg, msg_len, "%s", load_msg);
	return loaded;
}
