/* s3_config.c — location, credentials, region, storage classes and
 * tunables of the S3 backend. See s3_config.h; the user-visible variables
 * and options are documented at backend_s3_open() in remote/backend.h.
 */
#include "remote/s3/s3_config.h"
#include "remote/backend_internal.h"
#include "remote/s3/s3_ini.h"
#include "remote/s3/s3_list.h"
#include "remote/s3/s3_opts.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_REGION "us-east-1"
#define DEFAULT_RETRIES 5               /* 6 attempts: about 6 s of backoff */
#define DEFAULT_LOW_SPEED_TIME_S 60
#define CONNECT_TIMEOUT_S 10
/* Storage-class names are short upper-case words (STANDARD_IA,
 * DEEP_ARCHIVE, ...); the bound keeps header values sane. */
#define CLASS_MAX 32

static char *dup_n(const char *s, size_t n)
{
	return strndup(s, n);
}

static const char *env_get(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int region_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 32)
		return 0;
	return strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* Region: location option, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 * region in ~/.aws/config, then us-east-1 (what the AWS SDKs do, minus
 * instance metadata). */
static int load_region(S3Config *cfg, const char *opt, const char *opt_profile, const char *where,
                       RemoteErr *err)
{
	const char *profile = opt_profile ? opt_profile : env_get("AWS_PROFILE");
	const char *r = opt ? opt : opt_profile ? NULL : env_get("AWS_REGION");
	char *from_file = NULL;
	int rc = 0;

	if (!r && !opt_profile)
		r = env_get("AWS_DEFAULT_REGION");
	if (!r) {
		if (s3ini_lookup(S3INI_CONFIG, profile ? profile : "default", "region", &from_file) < 0) {
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", where);
			goto out;
		}
		r = from_file ? from_file : DEFAULT_REGION;
	}
	if (!region_ok(r)) {
		rc = backend_err_set(err, -EINVAL, "%s: invalid region \"%s\"", where, r);
		goto out;
	}
	cfg->region = strdup(r);
	if (!cfg->region)
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", where);
out:
	free(from_file);
	return rc;
}

/* "data=GLACIER,metadata=STANDARD": STANDARD (S3's default) is stored as
 * NULL so that no header is sent, which also suits stores that know no
 * storage classes at all. */
static int parse_classes(S3Config *cfg, const char *spec, const char *where, RemoteErr *err)
{
	const char *p = spec;

	while (*p) {
		size_t n = strcspn(p, ","), kl, cl;
		const char *eq = memchr(p, '=', n), *cls;
		char **slot;

		if (!eq)
			goto bad;
		kl = (size_t)(eq - p);
		cls = eq + 1;
		cl = n - kl - 1;
		if (kl == 4 && memcmp(p, "data", 4) == 0)
			slot = &cfg->class_data;
		else if (kl == 8 && memcmp(p, "metadata", 8) == 0)
			slot = &cfg->class_metadata;
		else
			goto bad;
		if (cl == 0 || cl > CLASS_MAX || strspn(cls, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") < cl)
			goto bad;
		free(*slot);
		*slot = NULL;
		if (!(cl == 8 && memcmp(cls, "STANDARD", 8) == 0)) {
			*slot = dup_n(cls, cl);
			if (!*slot)
				return backend_err_set(err, -ENOMEM, "%s: out of memory", where);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
bad:
	return backend_err_set(err, -EINVAL, "%s: bad storage class setting \"%s\": expected "
	                       "data=CLASS,metadata=CLASS (e.g. data=GLACIER,metadata=STANDARD)",
	                       where, spec);
}

/* A number in lo..hi from v, the value of name (an environment variable
 * or a location option); dflt when v is NULL. */
static int value_long(const char *name, const char *v, long lo, long hi, long dflt, long *out,
                      const char *where, RemoteErr *err)
{
	char *end;
	long x;

	if (!v) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return backend_err_set(err, -EINVAL, "%s: %s=\"%s\" is not a number in %ld..%ld",
		                       where, name, v, lo, hi);
	*out = x;
	return 0;
}

static int env_long(const char *name, long lo, long hi, long dflt, long *out,
                    const char *where, RemoteErr *err)
{
	return value_long(name, env_get(name), lo, hi, dflt, out, where, err);
}

static int bucket_ok(const char *b, size_t n)
{
	/* Wider than AWS's own rules (3-63 of [a-z0-9.-]) because other
	 * S3-compatible stores accept more; narrow enough to need no URL
	 * encoding. */
	return n >= 1 && n <= 255 &&
	       strspn(b, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") >= n;
}

/* Splits "bucket[/prefix]" into cfg->bucket and cfg->prefix ("" or ending
 * in '/'). */
static int split_bucket(S3Config *cfg, const char *path, size_t len, const char *where, RemoteErr *err)
{
	size_t bl = 0, pl;
	const char *pre;
	char *tmp;

	while (bl < len && path[bl] != '/')
		bl++;
	if (!bucket_ok(path, bl))
		return backend_err_set(err, -EINVAL, "%s: missing or invalid bucket name", where);
	pre = path + bl;
	pl = len - bl;
	while (pl && *pre == '/')
		pre++, pl--;
	while (pl && pre[pl - 1] == '/')
		pl--;
	cfg->bucket = dup_n(path, bl);
	tmp = dup_n(pre, pl);
	if (!cfg->bucket || !tmp) {
		free(tmp);
		return backend_err_set(err, -ENOMEM, "%s: out of memory", where);
	}
	if (pl && backend_name_check(tmp) < 0) {
		free(tmp);
		return backend_err_set(err, -EINVAL, "%s: invalid key prefix \"%.*s\"", where, (int)pl, pre);
	}
	if (pl) {
		cfg->prefix = malloc(pl + 2);
		if (cfg->prefix) {
			memcpy(cfg->prefix, tmp, pl);
			memcpy(cfg->prefix + pl, "/", 2);
		}
	} else {
		cfg->prefix = strdup("");
	}
	free(tmp);
	if (!cfg->prefix)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", where);
	return 0;
}

/* ssec_load — the SSE-C key from path: 32 raw bytes, or 64 hex digits
 * (a trailing newline allowed), into cfg's two base64 header values. */
static int ssec_load(S3Config *cfg, const char *path, const char *where, RemoteErr *err)
{
	unsigned char buf[80], key[32], md5[EVP_MAX_MD_SIZE];
	unsigned int md5_len = 0;
	size_t n, i;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (!f)
		return backend_err_set(err, -EINVAL, "%s: SSE-C key file %s: %s", where, path, strerror(errno));
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n >= 64 && strspn((const char *)buf, "0123456789abcdefABCDEF") >= 64 &&
	    (n == 64 || (n == 65 && buf[64] == '\n'))) {
		for (i = 0; i < 32; i++) {
			char h[3] = { (char)buf[2 * i], (char)buf[2 * i + 1], 0 };

			key[i] = (unsigned char)strtoul(h, NULL, 16);
		}
	} else if (n == 32) {
		memcpy(key, buf, 32);
	} else {
		rc = backend_err_set(err, -EINVAL, "%s: SSE-C key file %s: expected 32 bytes or 64 hex digits, "
		                     "found %zu bytes (make one with: head -c 32 /dev/urandom > FILE)", where, path, n);
		goto out;
	}
	cfg->ssec_key_b64 = calloc(1, 48);
	cfg->ssec_md5_b64 = calloc(1, 32);
	if (!cfg->ssec_key_b64 || !cfg->ssec_md5_b64 ||
	    EVP_Digest(key, 32, md5, &md5_len, EVP_md5(), NULL) != 1 || md5_len != 16) {
		rc = backend_err_set(err, -ENOMEM, "%s: cannot prepare the SSE-C key", where);
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)cfg->ssec_key_b64, key, 32);
	EVP_EncodeBlock((unsigned char *)cfg->ssec_md5_b64, md5, 16);
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* load_protection — server-side encryption and Object Lock settings. */
static int load_protection(S3Config *cfg, const S3Opts *o, const char *where, RemoteErr *err)
{
	const char *sse = s3opts_get(o, S3OPT_SSE, NULL), *kms = s3opts_get(o, S3OPT_KMS_KEY_ID, NULL);
	const char *ssec = s3opts_get(o, S3OPT_SSE_C_KEY_FILE, NULL);
	const char *mode = s3opts_get(o, S3OPT_OBJECT_LOCK_MODE, NULL), *from = NULL;
	const char *days = s3opts_get(o, S3OPT_OBJECT_LOCK_DAYS, &from);
	int rc;

	if (sse && strcmp(sse, "AES256") != 0 && strcmp(sse, "aws:kms") != 0)
		return backend_err_set(err, -EINVAL, "%s: sse=%s: expected AES256 (S3's keys) or aws:kms", where, sse);
	if (kms && (!sse || strcmp(sse, "aws:kms") != 0))
		return backend_err_set(err, -EINVAL, "%s: kms_key_id= needs sse=aws:kms", where);
	if (kms && (strlen(kms) > 2048 || strcspn(kms, " \t\r\n") != strlen(kms)))
		return backend_err_set(err, -EINVAL, "%s: kms_key_id= is not a key ID, alias or ARN", where);
	if (ssec && sse)
		return backend_err_set(err, -EINVAL, "%s: sse= and sse_c_key_file= exclude each other: "
		                       "an object is encrypted with S3's, KMS's or your key", where);
	if ((sse && !(cfg->sse = strdup(sse))) || (kms && !(cfg->kms_key_id = strdup(kms))))
		return backend_err_set(err, -ENOMEM, "%s: out of memory", where);
	if (ssec && (rc = ssec_load(cfg, ssec, where, err)) < 0)
		return rc;
	if (mode && strcmp(mode, "COMPLIANCE") != 0 && strcmp(mode, "GOVERNANCE") != 0)
		return backend_err_set(err, -EINVAL, "%s: object_lock_mode=%s: expected COMPLIANCE or GOVERNANCE",
		                       where, mode);
	if (mode && !days)
		return backend_err_set(err, -EINVAL, "%s: object_lock_mode= needs object_lock_days=N", where);
	if (days && (rc = value_long(from, days, 1, 36500, 0, &cfg->lock_days, where, err)) < 0)
		return rc;
	cfg->lock_mode = days ? (mode && strcmp(mode, "GOVERNANCE") == 0 ? "GOVERNANCE" : "COMPLIANCE") : NULL;
	return 0;
}

/* base_url — cfg->url_base for the location's form and path_style. */
static int base_url(S3Config *cfg, int aws, const char *scheme_host, size_t sh_len, const char *host,
                    size_t host_len, const S3Opts *o, const char *where, RemoteErr *err)
{
	const char *from = NULL, *ps = s3opts_get(o, S3OPT_PATH_STYLE, &from);
	long style = -1;
	int rc;

	if (ps && (rc = value_long(from, ps, 0, 1, 0, &style, where, err)) < 0)
		return rc;
	if (!aws) {
		cfg->path_style = style != 0;
		if (cfg->path_style)
			rc = asprintf(&cfg->url_base, "%.*s/%s", (int)sh_len, scheme_host, cfg->bucket);
		else
			rc = asprintf(&cfg->url_base, "%.*s%s.%.*s", (int)(sh_len - host_len), scheme_host,
			              cfg->bucket, (int)host_len, host);
	} else if (style == 1 || (style == -1 && strchr(cfg->bucket, '.'))) {
		/* A dotted bucket name breaks the *.s3.amazonaws.com
		 * certificate under virtual hosting; path-style still works. */
		cfg->path_style = 1;
		rc = asprintf(&cfg->url_base, "https://s3.%s.amazonaws.com/%s", cfg->region, cfg->bucket);
	} else {
		rc = asprintf(&cfg->url_base, "https://%s.s3.%s.amazonaws.com", cfg->bucket, cfg->region);
	}
	if (rc < 0) {
		cfg->url_base = NULL;
		return backend_err_set(err, -ENOMEM, "%s: out of memory", where);
	}
	return 0;
}

int s3config_parse(const char *location, S3Config *out, RemoteErr *err)
{
	S3Config cfg;
	S3Opts opts;
	S3CredOpts co;
	const char *q, *v, *from = NULL, *host, *path;
	char *where = NULL;
	size_t loc_len, host_len;
	long retries = 0, transfers = 0, list_pages = 0, list_keys = 0;
	int rc, aws;

	memset(&cfg, 0, sizeof(cfg));
	memset(&opts, 0, sizeof(opts));
	q = strchr(location, '?');
	loc_len = q ? (size_t)(q - location) : strlen(location);
	/* Messages name the location without its options: a kms_key_id or
	 * a key file's path is nobody's business in a log. */
	where = dup_n(location, loc_len);
	if (!where) {
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", "s3");
		goto out;
	}
	if (q) {
		rc = s3opts_parse(q + 1, &opts, where, err);
		if (rc < 0)
			goto out;
	}
	if (loc_len > 5 && strncmp(location, "s3://", 5) == 0) {
		aws = 1;
		host = NULL;
		host_len = 0;
		path = location + 5;
	} else if (strncmp(location, "s3:http://", 10) == 0 || strncmp(location, "s3:https://", 11) == 0) {
		aws = 0;
		host = strstr(location, "//") + 2;
		host_len = strcspn(host, "/?");
		path = host + host_len;
		while (*path == '/')
			path++;
		/* No user-info: credentials never travel in the location. */
		if (host_len == 0 || memchr(host, '@', host_len) ||
		    strcspn(host, " \t\r\n") < host_len) {
			rc = backend_err_set(err, -EINVAL, "%s: missing or invalid host", where);
			goto out;
		}
	} else {
		rc = backend_err_set(err, -EINVAL, "%s: expected s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX] "
		                     "or s3://BUCKET[/PREFIX]", where);
		goto out;
	}
	rc = split_bucket(&cfg, path, loc_len - (size_t)(path - location), where, err);
	if (rc < 0)
		goto out;
	rc = load_region(&cfg, opts.v[S3OPT_REGION], opts.v[S3OPT_PROFILE], where, err);
	if (rc < 0)
		goto out;
	/* location + 3 is "http(s)://", up to host. */
	rc = base_url(&cfg, aws, location + 3, aws ? 0 : (size_t)(host + host_len - (location + 3)),
	              host, host_len, &opts, where, err);
	if (rc < 0)
		goto out;
	v = s3opts_get(&opts, S3OPT_STORAGE_CLASS, NULL);
	if (v && (rc = parse_classes(&cfg, v, where, err)) < 0)
		goto out;
	if ((rc = load_protection(&cfg, &opts, where, err)) < 0)
		goto out;
	if (env_get("STRATA_S3_CA_BUNDLE")) {
		cfg.ca_bundle = strdup(env_get("STRATA_S3_CA_BUNDLE"));
		if (!cfg.ca_bundle) {
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", where);
			goto out;
		}
	}
	cfg.insecure_tls = env_get("STRATA_S3_INSECURE_TLS") && strcmp(env_get("STRATA_S3_INSECURE_TLS"), "0") != 0;
	v = s3opts_get(&opts, S3OPT_RETRIES, &from);
	rc = value_long(from, v, 0, 100, DEFAULT_RETRIES, &retries, where, err);
	if (rc < 0)
		goto out;
	cfg.attempts = (int)retries + 1;
	rc = env_long("STRATA_S3_LOW_SPEED_TIME", 1, 3600, DEFAULT_LOW_SPEED_TIME_S,
	              &cfg.low_speed_time_s, where, err);
	if (rc < 0)
		goto out;
	rc = env_long("STRATA_S3_BACKOFF_MS", 1, 10000, S3CONFIG_BACKOFF_MS_DEFAULT, &cfg.backoff_ms, where, err);
	if (rc < 0)
		goto out;
	cfg.connect_timeout_s = CONNECT_TIMEOUT_S;
	v = s3opts_get(&opts, S3OPT_TRANSFERS, &from);
	rc = value_long(from, v, 1, S3CONFIG_TRANSFERS_MAX, S3CONFIG_TRANSFERS_DEFAULT, &transfers, where, err);
	if (rc < 0)
		goto out;
	cfg.transfers = (int)transfers;
	rc = env_long("STRATA_S3_LIST_MAX_PAGES", 1, 1000000000L, (long)S3LIST_MAX_PAGES_DEFAULT,
	              &list_pages, where, err);
	if (rc < 0)
		goto out;
	cfg.list_max_pages = (uint64_t)list_pages;
	rc = env_long("STRATA_S3_LIST_MAX_KEYS", 1, 1000000000000L, (long)S3LIST_MAX_KEYS_DEFAULT,
	              &list_keys, where, err);
	if (rc < 0)
		goto out;
	cfg.list_max_keys = (uint64_t)list_keys;
	memset(&co, 0, sizeof(co));
	co.where = where;
	co.profile = opts.v[S3OPT_PROFILE];
	co.region = cfg.region;
	co.net.ca_bundle = cfg.ca_bundle;
	co.net.insecure_tls = cfg.insecure_tls;
	co.log = env_get("STRATA_S3_LOG") && strcmp(env_get("STRATA_S3_LOG"), "0") != 0;
	rc = s3cred_new(&co, &cfg.cred, err);
	if (rc < 0)
		goto out;
	*out = cfg;
	memset(&cfg, 0, sizeof(cfg));
out:
	s3config_free(&cfg);
	s3opts_free(&opts);
	free(where);
	return rc < 0 ? rc : 0;
}

int s3config_lock_applies(const S3Config *cfg, const char *name)
{
	/* Lock files are deleted when the command ends: a retention would
	 * keep every past lock alive, and a stale one could never be
	 * removed. Prune plans ("prune/") are deleted when swept: they hold
	 * no backup data, only what a sweep is to delete. */
	return cfg->lock_mode && strncmp(name, "locks/", 6) != 0 && strncmp(name, "prune/", 6) != 0;
}

const char *s3config_storage_class(const S3Config *cfg, const char *name)
{
	/* Lock files live minutes: an infrequent-access or archive class
	 * would bill them for 30 days or more. */
	if (strncmp(name, "locks/", 6) == 0)
		return NULL;
	return strncmp(name, "data/", 5) == 0 ? cfg->class_data : cfg->class_metadata;
}

uint32_t s3config_min_object(const char *cls)
{
	static const char *const min128k[] = { "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR", "INTELLIGENT_TIERING" };

	for (size_t i = 0; cls && i < sizeof min128k / sizeof min128k[0]; i++)
		if (strcmp(cls, min128k[i]) == 0)
			return 128u << 10;
	return 0;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void s3config_free(S3Config *cfg)
{
	free(cfg->url_base);
	free(cfg->bucket);
	free(cfg->prefix);
	free(cfg->region);
	s3cred_free(cfg->cred);
	free(cfg->sse);
	free(cfg->kms_key_id);
	free_secret(cfg->ssec_key_b64);
	free(cfg->ssec_md5_b64);
	free(cfg->class_data);
	free(cfg->class_metadata);
	free(cfg->ca_bundle);
	memset(cfg, 0, sizeof(*cfg));
}
