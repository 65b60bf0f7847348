/* s3_opts.c — see s3_opts.h. */
#include "remote/s3/s3_opts.h"
#include "remote/backend_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const S3OptInfo s3opts_info[S3OPT_N] = {
	[S3OPT_REGION] = { "region", "NAME", "AWS_REGION",
		"region to sign for and, for s3://BUCKET, of the endpoint (BUCKET.s3.REGION.amazonaws.com);\n"
		"      else AWS_DEFAULT_REGION, the profile's region, us-east-1 (with profile=: the profile's first)" },
	[S3OPT_PROFILE] = { "profile", "NAME", NULL,
		"credentials of this ~/.aws profile only, not the chain (AWS_PROFILE is the chain's)" },
	[S3OPT_STORAGE_CLASS] = { "storage_class", "data=CLASS,metadata=CLASS", "STRATA_S3_STORAGE_CLASS",
		"storage classes of new objects (--storage-class)" },
	[S3OPT_TRANSFERS] = { "transfers", "N", "STRATA_S3_TRANSFERS",
		"requests in flight at once, 1..128 (default 8; --transfers)" },
	[S3OPT_RETRIES] = { "retries", "N", "STRATA_S3_RETRIES",
		"retries of a failed request, 0..100 (default 5)" },
	[S3OPT_PATH_STYLE] = { "path_style", "0|1", "STRATA_S3_PATH_STYLE",
		"1: https://HOST/BUCKET/KEY, 0: https://BUCKET.HOST/KEY (default: 1 for s3:http(s)://, 0 for s3://)" },
	[S3OPT_SSE] = { "sse", "AES256|aws:kms", "STRATA_S3_SSE",
		"server-side encryption with S3's keys or KMS (x-amz-server-side-encryption)" },
	[S3OPT_KMS_KEY_ID] = { "kms_key_id", "ARN", "STRATA_S3_SSE_KMS_KEY_ID",
		"the KMS key for sse=aws:kms (default: the account's aws/s3 key)" },
	[S3OPT_SSE_C_KEY_FILE] = { "sse_c_key_file", "FILE", "STRATA_S3_SSE_C_KEY_FILE",
		"SSE-C: 32 raw bytes (or 64 hex digits) sent with every request, never stored by S3" },
	[S3OPT_OBJECT_LOCK_MODE] = { "object_lock_mode", "COMPLIANCE|GOVERNANCE", "STRATA_S3_OBJECT_LOCK_MODE",
		"Object Lock mode of the retention put on uploads (default COMPLIANCE)" },
	[S3OPT_OBJECT_LOCK_DAYS] = { "object_lock_days", "N", "STRATA_S3_OBJECT_LOCK_DAYS",
		"retain every uploaded object (but lock files) N days: not deletable, not overwritable" },
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* decode — value[0..n) with %XX decoded, malloc'ed; NULL with *bad set
 * for a bad escape or an encoded NUL. */
static char *decode(const char *v, size_t n, int *bad)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (v[i] == '%') {
			int hi = i + 2 < n ? hexval(v[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(v[i + 2]) : -1;

			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				*bad = 1;
				free(out);
				return NULL;
			}
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[o++] = v[i];
		}
	}
	out[o] = '\0';
	return out;
}

static int name_is(const char *p, size_t n, const char *name)
{
	size_t i;

	if (strlen(name) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] != name[i] && !(p[i] == '-' && name[i] == '_'))
			return 0;
	return 1;
}

int s3opts_parse(const char *query, S3Opts *out, const char *where, RemoteErr *err)
{
	const char *p = query;

	while (*p) {
		size_t n = strcspn(p, "&"), kl;
		const char *eq = memchr(p, '=', n);
		int i, bad = 0;

		kl = eq ? (size_t)(eq - p) : n;
		for (i = 0; i < S3OPT_N; i++)
			if (name_is(p, kl, s3opts_info[i].name))
				break;
		if (i == S3OPT_N || !eq)
			return backend_err_set(err, -EINVAL, "%s: %s location option \"%.*s\" (see `strata help`: "
			                       "region=, profile=, storage_class=, sse=, object_lock_days=, ...)",
			                       where, i == S3OPT_N ? "unknown" : "valueless", (int)n, p);
		if (out->v[i])
			return backend_err_set(err, -EINVAL, "%s: location option %s= given twice", where,
			                       s3opts_info[i].name);
		out->v[i] = decode(eq + 1, n - kl - 1, &bad);
		if (!out->v[i])
			return bad ? backend_err_set(err, -EINVAL, "%s: location option %s=: bad %%-escape",
			                             where, s3opts_info[i].name)
			           : backend_err_set(err, -ENOMEM, "%s: out of memory", where);
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

const char *s3opts_get(const S3Opts *o, S3Opt opt, const char **out_from)
{
	const char *v = o->v[opt];

	if (v) {
		if (out_from)
			*out_from = s3opts_info[opt].name;
		return v;
	}
	v = s3opts_info[opt].env ? getenv(s3opts_info[opt].env) : NULL;
	if (!v || !*v)
		return NULL;
	if (out_from)
		*out_from = s3opts_info[opt].env;
	return v;
}

void s3opts_free(S3Opts *o)
{
	int i;

	for (i = 0; i < S3OPT_N; i++) {
		if (o->v[i]) {
			explicit_bzero(o->v[i], strlen(o->v[i]));
			free(o->v[i]);
		}
		o->v[i] = NULL;
	}
}
