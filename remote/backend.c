/* backend.c — backend_open()'s location dispatch, the backend_* wrappers that
 * call through Backend.ops, and the helpers every implementation shares
 * (remote/backend_internal.h): messages and object-name rules.
 */
#include "remote/backend.h"
#include "remote/backend_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int backend_err_set(RemoteErr *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int backend_err_toobig(RemoteErr *err, const char *where, uint64_t size, size_t max_bytes)
{
	if (size == BACKEND_SIZE_UNKNOWN)
		return backend_err_set(err, -EFBIG, "%s: more than the %zu bytes allowed", where, max_bytes);
	return backend_err_set(err, -EFBIG, "%s: %llu bytes, larger than the %zu bytes allowed",
	                       where, (unsigned long long)size, max_bytes);
}

static void err_clear(RemoteErr *err)
{
	if (err)
		err->msg[0] = '\0';
}

int backend_name_check(const char *name)
{
	size_t len, i, comp_start = 0;

	if (!name)
		return -EINVAL;
	len = strlen(name);
	if (len == 0 || len > BACKEND_NAME_MAX)
		return -EINVAL;
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c == '\0') {
			/* An empty component covers a leading '/', a
			 * trailing '/' and "//". */
			if (i == comp_start || name[comp_start] == '.')
				return -EINVAL;
			comp_start = i + 1;
		} else if (c < 0x20 || c == 0x7f) {
			return -EINVAL;
		}
	}
	return 0;
}

int backend_prefix_check(const char *prefix)
{
	char tmp[BACKEND_NAME_MAX + 2];
	size_t len;

	if (!prefix)
		return -EINVAL;
	len = strlen(prefix);
	if (len == 0)
		return 0;
	if (len > BACKEND_NAME_MAX + 1)
		return -EINVAL;
	memcpy(tmp, prefix, len + 1);
	/* "snapshots/" is a directory prefix: what precedes the slash must be
	 * a valid name; "data/3" must itself look like the start of one, and
	 * a valid start of a component is a valid component. */
	if (tmp[len - 1] == '/')
		tmp[len - 1] = '\0';
	return backend_name_check(tmp);
}

/* A scheme is letters, digits, '+', '-', '.' before a ':' with no '/' in
 * front, so "./a:b" and "/x:y" stay local paths while "sftp:..." is
 * recognised as a scheme this build lacks. */
static int has_scheme(const char *location, size_t *out_len)
{
	size_t i;

	for (i = 0; location[i]; i++) {
		char c = location[i];

		if (c == ':') {
			if (i == 0)
				return 0;
			*out_len = i;
			return 1;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
			return 0;
	}
	return 0;
}

int backend_open(const char *location, Backend **out_be, RemoteErr *err)
{
	Backend *be = NULL;
	size_t scheme_len;
	int rc;

	err_clear(err);
	if (!location || !*location)
		return backend_err_set(err, -EINVAL, "empty repository location");
	if (strlen(location) >= sizeof(be->location))
		return backend_err_set(err, -EINVAL, "repository location too long (%zu bytes, at most %zu)",
		                       strlen(location), sizeof(be->location) - 1);

	if (strncmp(location, "local:", 6) == 0) {
		if (!location[6])
			return backend_err_set(err, -EINVAL, "%s: no directory after \"local:\"", location);
		rc = backend_local_open(location + 6, &be, err);
	} else if (strncmp(location, "s3:", 3) == 0) {
		rc = backend_s3_open(location, &be, err);
	} else if (has_scheme(location, &scheme_len)) {
		return backend_err_set(err, -ENOTSUP,
		                       "%s: unknown location scheme \"%.*s:\" (built in: local:, s3:; "
		                       "write ./%s for a relative directory)",
		                       location, (int)scheme_len, location, location);
	} else {
		rc = backend_local_open(location, &be, err);
	}
	if (rc < 0)
		return rc;
	snprintf(be->location, sizeof(be->location), "%s", location);
	*out_be = be;
	return 0;
}

int backend_put(Backend *be, const char *name, const void *buf, size_t len, RemoteErr *err)
{
	err_clear(err);
	return be->ops->put(be, name, buf, len, err);
}

int backend_get(Backend *be, const char *name, size_t max_bytes, uint8_t **out_buf, size_t *out_len,
                RemoteErr *err)
{
	err_clear(err);
	return be->ops->get(be, name, max_bytes, out_buf, out_len, err);
}

int backend_get_range(Backend *be, const char *name, uint64_t off, size_t len,
                      uint8_t *buf, RemoteErr *err)
{
	err_clear(err);
	return be->ops->get_range(be, name, off, len, buf, err);
}

int backend_list(Backend *be, const char *prefix, BackendListFn fn, void *ctx, RemoteErr *err)
{
	err_clear(err);
	return be->ops->list(be, prefix, fn, ctx, err);
}

struct names_adapter {
	BackendNameFn fn;
	void *ctx;
};

static int drop_size(const char *name, uint64_t size, void *ctx)
{
	struct names_adapter *a = ctx;

	(void)size;
	return a->fn(name, a->ctx);
}

int backend_list_names(Backend *be, const char *prefix, BackendNameFn fn, void *ctx, RemoteErr *err)
{
	struct names_adapter a = {fn, ctx};

	err_clear(err);
	if (be->ops->list_names)
		return be->ops->list_names(be, prefix, fn, ctx, err);
	return be->ops->list(be, prefix, drop_size, &a, err);
}

struct info_adapter {
	BackendInfoFn fn;
	void *ctx;
};

static int size_only(const char *name, uint64_t size, void *ctx)
{
	struct info_adapter *a = ctx;
	BackendObjInfo info;

	memset(&info, 0, sizeof(info));
	info.size = size;
	info.mtime_s = -1;
	return a->fn(name, &info, a->ctx);
}

int backend_list_info(Backend *be, const char *prefix, BackendInfoFn fn, void *ctx, RemoteErr *err)
{
	struct info_adapter a = {fn, ctx};

	err_clear(err);
	if (be->ops->list_info)
		return be->ops->list_info(be, prefix, fn, ctx, err);
	return be->ops->list(be, prefix, size_only, &a, err);
}

int backend_head(Backend *be, const char *name, BackendObjInfo *out, RemoteErr *err)
{
	BackendObjInfo info;
	int rc;

	err_clear(err);
	if (be->ops->head)
		return be->ops->head(be, name, out, err);
	memset(&info, 0, sizeof(info));
	info.mtime_s = -1;
	rc = be->ops->stat(be, name, &info.size, err);
	if (rc == 0)
		*out = info;
	return rc;
}

int backend_where(Backend *be, BackendWhere *out)
{
	if (!be->ops->where)
		return -ENOTSUP;
	memset(out, 0, sizeof(*out));
	return be->ops->where(be, out);
}

/* GLACIER_IR, the IA classes and INTELLIGENT_TIERING's frequent tiers
 * answer a GET at once (for a retrieval fee); only these two need a
 * RestoreObject first. INTELLIGENT_TIERING's opt-in archive tiers do
 * too, but a listing cannot tell them apart: a GET then answers
 * -ENODATA, which callers handle like an archived object. */
int backend_class_archived(const char *storage_class)
{
	return strcmp(storage_class, "GLACIER") == 0 || strcmp(storage_class, "DEEP_ARCHIVE") == 0;
}

int backend_delete(Backend *be, const char *name, RemoteErr *err)
{
	err_clear(err);
	return be->ops->del(be, name, err);
}

int backend_stat(Backend *be, const char *name, uint64_t *out_size, RemoteErr *err)
{
	err_clear(err);
	return be->ops->stat(be, name, out_size, err);
}

int backend_thaw(Backend *be, const char *name, unsigned days, RemoteErr *err)
{
	err_clear(err);
	if (!be->ops->thaw)
		return backend_err_set(err, -ENOTSUP, "%s: %s: this store has no archive storage class",
		                       be->location, name);
	return be->ops->thaw(be, name, days, err);
}

int backend_set_retention(Backend *be, int governance, unsigned days, RemoteErr *err)
{
	err_clear(err);
	if (!be->ops->set_retention)
		return backend_err_set(err, -ENOTSUP, "%s: Object Lock retention needs an S3 location", be->location);
	return be->ops->set_retention(be, governance, days, err);
}

void backend_stats(Backend *be, BackendStats *out)
{
	memset(out, 0, sizeof(*out));
	if (be->ops->stats)
		be->ops->stats(be, out);
}

void backend_free(Backend *be)
{
	if (be)
		be->ops->free(be);
}
