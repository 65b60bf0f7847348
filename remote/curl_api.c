/* curl_api.c — see curl_api.h. */
#include "remote/curl_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* The soname Debian's libcurl4 (OpenSSL flavour) installs; the ABI has
 * kept soname 4 since 2006. */
#define CURL_SONAME "libcurl.so.4"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
/* Written once under load_once, read-only afterwards. */
static CurlApi api;
static const CurlApi *loaded;
static char load_msg[256];

/* dlsym into a function pointer: POSIX guarantees the conversion. */
#define SYM(field, name) do { \
	void *p_ = dlsym(lib, name); \
	if (!p_) { \
		snprintf(load_msg, sizeof load_msg, "%s has no %s", CURL_SONAME, name); \
		return; \
	} \
	*(void **)(&api.field) = p_; \
} while (0)

static void load(void)
{
	CURLcode (*global_init)(long flags);
	void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	CURLcode rc;

	if (!lib) {
		const char *e = dlerror();

		snprintf(load_msg, sizeof load_msg, "cannot load %s (install libcurl4): %s", CURL_SONAME,
		         e ? e : "unknown error");
		return;
	}
	SYM(easy_init, "curl_easy_init");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_reset, "curl_easy_reset");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_setopt, "curl_multi_setopt");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_perform, "curl_multi_perform");
	SYM(multi_poll, "curl_multi_poll");
	SYM(multi_wakeup, "curl_multi_wakeup");
	SYM(multi_info_read, "curl_multi_info_read");
	SYM(multi_cleanup, "curl_multi_cleanup");
	*(void **)(&global_init) = dlsym(lib, "curl_global_init");
	if (!global_init) {
		snprintf(load_msg, sizeof load_msg, "%s has no curl_global_init", CURL_SONAME);
		return;
	}
	rc = global_init(CURL_GLOBAL_DEFAULT);
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
