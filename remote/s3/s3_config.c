/* s3_config.c — location, credentials, region, storage classes and
 * tunables of the S3 backend. See s3_config.h; the user-visible variables
 * and options are documented at backend_s3_open() in remote/backend.h.
 */
#include "remote/s3/s3_config.h"
#include "remote/backend_internal.h"
#include "remote/s3/s3_list.h"

#include <errno.h>
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

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* ini_lookup — the value of key in [section] of an AWS-style INI file.
 * Returns 0 with *out malloc'ed, 1 when absent (or the file unreadable:
 * the files are optional), -ENOMEM. */
static int ini_lookup(const char *path, const char *section, const char *key, char **out)
{
	char *line = NULL, *p, *eq;
	size_t cap = 0;
	int in_section = 0, rc = 1;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return 1;
	while (getline(&line, &cap, f) >= 0) {
		p = trim(line);
		if (*p == '#' || *p == ';' || !*p)
			continue;
		if (*p == '[') {
			char *end = strchr(p, ']');

			if (end)
				*end = '\0';
			in_section = strcmp(trim(p + 1), section) == 0;
			continue;
		}
		if (!in_section || !(eq = strchr(p, '=')))
			continue;
		*eq = '\0';
		if (strcmp(trim(p), key) != 0)
			continue;
		*out = strdup(trim(eq + 1));
		rc = *out ? 0 : -ENOMEM;
		break;
	}
	free(line);
	fclose(f);
	return rc;
}

/* aws_file — ENV_VAR's value, or ~/.aws/NAME; malloc'ed, NULL if neither. */
static char *aws_file(const char *env_var, const char *name)
{
	const char *v = env_get(env_var), *home;
	char *p;

	if (v)
		return strdup(v);
	home = env_get("HOME");
	if (!home)
		return NULL;
	if (asprintf(&p, "%s/.aws/%s", home, name) < 0)
		return NULL;
	return p;
}

static int load_credentials(S3Config *cfg, const char *where, RemoteErr *err)
{
	const char *profile = env_get("AWS_PROFILE");
	char *path = NULL, *section = NULL;
	int rc = 0;

	if (env_get("AWS_ACCESS_KEY_ID") && env_get("AWS_SECRET_ACCESS_KEY")) {
		const char *token = env_get("AWS_SESSION_TOKEN");

		cfg->access_key = strdup(env_get("AWS_ACCESS_KEY_ID"));
		cfg->secret_key = strdup(env_get("AWS_SECRET_ACCESS_KEY"));
		if (token)
			cfg->session_token = strdup(token);
		if (!cfg->access_key || !cfg->secret_key || (token && !cfg->session_token))
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", where);
		goto out;
	}
	if (!profile)
		profile = "default";
	path = aws_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	section = strdup(profile);
	if (!path || !section) {
		rc = path || env_get("HOME") ? -ENOMEM : -EACCES;
		backend_err_set(err, rc, "%s: no S3 credentials: set AWS_ACCESS_KEY_ID and "
		                "AWS_SECRET_ACCESS_KEY%s", where, rc == -ENOMEM ? " (out of memory)" : "");
		goto out;
	}
	rc = ini_lookup(path, section, "aws_access_key_id", &cfg->access_key);
	if (rc == 0)
		rc = ini_lookup(path, section, "aws_secret_access_key", &cfg->secret_key);
	if (rc == 0 && ini_lookup(path, section, "aws_session_token", &cfg->session_token) < 0)
		rc = -ENOMEM;
	if (rc == -ENOMEM) {
		backend_err_set(err, rc, "%s: out of memory", where);
	} else if (rc != 0) {
		rc = backend_err_set(err, -EACCES, "%s: no S3 credentials: set AWS_ACCESS_KEY_ID and "
		                     "AWS_SECRET_ACCESS_KEY, or put profile [%s] in %s",
		                     where, profile, path);
	}
out:
	free(path);
	free(section);
	return rc;
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
static int load_region(S3Config *cfg, const char *opt, const char *where, RemoteErr *err)
{
	const char *profile = env_get("AWS_PROFILE");
	const char *r = opt ? opt : env_get("AWS_REGION");
	char *path = NULL, *section = NULL, *from_file = NULL;
	int rc = 0;

	if (!r)
		r = env_get("AWS_DEFAULT_REGION");
	if (!r) {
		path = aws_file("AWS_CONFIG_FILE", "config");
		if (profile && strcmp(profile, "default") != 0) {
			if (asprintf(&section, "profile %s", profile) < 0)
				section = NULL;
		} else {
			section = strdup("default");
		}
		if (path && section && ini_lookup(path, section, "region", &from_file) < 0) {
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
	free(path);
	free(section);
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

/* Location options after '?': storage_class=SPEC, region=NAME and
 * transfers=N, separated by '&'. Writes pointers to malloc'ed values. */
static int parse_options(const char *opts, char **out_class, char **out_region, char **out_transfers,
                         const char *where, RemoteErr *err)
{
	const char *p = opts;

	while (*p) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		char **slot = NULL;

		if (eq && (size_t)(eq - p) == 13 && memcmp(p, "storage_class", 13) == 0)
			slot = out_class;
		else if (eq && (size_t)(eq - p) == 6 && memcmp(p, "region", 6) == 0)
			slot = out_region;
		else if (eq && (size_t)(eq - p) == 9 && memcmp(p, "transfers", 9) == 0)
			slot = out_transfers;
		if (!slot)
			return backend_err_set(err, -EINVAL, "%s: unknown location option \"%.*s\" "
			                       "(known: storage_class=, region=, transfers=)", where, (int)n, p);
		free(*slot);
		*slot = dup_n(eq + 1, n - (size_t)(eq + 1 - p));
		if (!*slot)
			return backend_err_set(err, -ENOMEM, "%s: out of memory", where);
		p += n;
		if (*p == '&')
			p++;
	}
	return 0;
}

int s3config_parse(const char *location, S3Config *out, RemoteErr *err)
{
	S3Config cfg;
	const char *q, *rest, *host, *path;
	char *base = NULL, *opt_class = NULL, *opt_region = NULL, *opt_transfers = NULL;
	size_t loc_len, host_len;
	long retries = 0, transfers = 0, list_pages = 0, list_keys = 0;
	int rc, aws;

	memset(&cfg, 0, sizeof(cfg));
	q = strchr(location, '?');
	loc_len = q ? (size_t)(q - location) : strlen(location);
	if (q) {
		rc = parse_options(q + 1, &opt_class, &opt_region, &opt_transfers, location, err);
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
			rc = backend_err_set(err, -EINVAL, "%s: missing or invalid host", location);
			goto out;
		}
	} else {
		rc = backend_err_set(err, -EINVAL, "%s: expected s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX] "
		                     "or s3://BUCKET[/PREFIX]", location);
		goto out;
	}
	rc = split_bucket(&cfg, path, loc_len - (size_t)(path - location), location, err);
	if (rc < 0)
		goto out;
	rc = load_region(&cfg, opt_region, location, err);
	if (rc < 0)
		goto out;
	if (!aws) {
		cfg.path_style = 1;
		/* location + 3 is "http(s)://", up to host. */
		rc = asprintf(&base, "%.*s%.*s/%s", (int)(host - (location + 3)), location + 3,
		              (int)host_len, host, cfg.bucket);
	} else if (strchr(cfg.bucket, '.')) {
		/* A dotted bucket name breaks the *.s3.amazonaws.com
		 * certificate under virtual hosting; path-style still works. */
		cfg.path_style = 1;
		rc = asprintf(&base, "https://s3.%s.amazonaws.com/%s", cfg.region, cfg.bucket);
	} else {
		rc = asprintf(&base, "https://%s.s3.%s.amazonaws.com", cfg.bucket, cfg.region);
	}
	if (rc < 0) {
		base = NULL;
		rc = backend_err_set(err, -ENOMEM, "%s: out of memory", location);
		goto out;
	}
	cfg.url_base = base;
	base = NULL;
	rest = opt_class ? opt_class : env_get("STRATA_S3_STORAGE_CLASS");
	if (rest) {
		rc = parse_classes(&cfg, rest, location, err);
		if (rc < 0)
			goto out;
	}
	if (env_get("STRATA_S3_CA_BUNDLE")) {
		cfg.ca_bundle = strdup(env_get("STRATA_S3_CA_BUNDLE"));
		if (!cfg.ca_bundle) {
			rc = backend_err_set(err, -ENOMEM, "%s: out of memory", location);
			goto out;
		}
	}
	cfg.insecure_tls = env_get("STRATA_S3_INSECURE_TLS") && strcmp(env_get("STRATA_S3_INSECURE_TLS"), "0") != 0;
	rc = env_long("STRATA_S3_RETRIES", 0, 100, DEFAULT_RETRIES, &retries, location, err);
	if (rc < 0)
		goto out;
	cfg.attempts = (int)retries + 1;
	rc = env_long("STRATA_S3_LOW_SPEED_TIME", 1, 3600, DEFAULT_LOW_SPEED_TIME_S,
	              &cfg.low_speed_time_s, location, err);
	if (rc < 0)
		goto out;
	cfg.connect_timeout_s = CONNECT_TIMEOUT_S;
	rc = opt_transfers
	     ? value_long("transfers", opt_transfers, 1, S3CONFIG_TRANSFERS_MAX,
	                  S3CONFIG_TRANSFERS_DEFAULT, &transfers, location, err)
	     : env_long("STRATA_S3_TRANSFERS", 1, S3CONFIG_TRANSFERS_MAX,
	                S3CONFIG_TRANSFERS_DEFAULT, &transfers, location, err);
	if (rc < 0)
		goto out;
	cfg.transfers = (int)transfers;
	rc = env_long("STRATA_S3_LIST_MAX_PAGES", 1, 1000000000L, (long)S3LIST_MAX_PAGES_DEFAULT,
	              &list_pages, location, err);
	if (rc < 0)
		goto out;
	cfg.list_max_pages = (uint64_t)list_pages;
	rc = env_long("STRATA_S3_LIST_MAX_KEYS", 1, 1000000000000L, (long)S3LIST_MAX_KEYS_DEFAULT,
	              &list_keys, location, err);
	if (rc < 0)
		goto out;
	cfg.list_max_keys = (uint64_t)list_keys;
	rc = load_credentials(&cfg, location, err);
	if (rc < 0)
		goto out;
	*out = cfg;
	memset(&cfg, 0, sizeof(cfg));
out:
	s3config_free(&cfg);
	free(base);
	free(opt_class);
	free(opt_region);
	free(opt_transfers);
	return rc < 0 ? rc : 0;
}

const char *s3config_storage_class(const S3Config *cfg, const char *name)
{
	/* Lock files live minutes: an infrequent-access or archive class
	 * would bill them for 30 days or more. */
	if (strncmp(name, "locks/", 6) == 0)
		return NULL;
	return strncmp(name, "data/", 5) == 0 ? cfg->class_data : cfg->class_metadata;
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
	free(cfg->access_key);
	free_secret(cfg->secret_key);
	free_secret(cfg->session_token);
	free(cfg->class_data);
	free(cfg->class_metadata);
	free(cfg->ca_bundle);
	memset(cfg, 0, sizeof(*cfg));
}
