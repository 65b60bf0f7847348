/* s3_cred.c — see s3_cred.h. The chain's order and each source's
 * settings are the AWS SDKs' ("Standardized credential providers" in the
 * AWS SDKs and Tools Reference Guide); s3_credsrc.c speaks to each source.
 */
#include "remote/s3/s3_cred.h"
#include "remote/backend_internal.h"
#include "remote/s3/s3_ini.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Refresh when less than this is left (the AWS SDKs' 5 minutes), or half
 * the lifetime for credentials issued for less than 10 minutes. */
#define REFRESH_MARGIN_S 300
/* After a failed refresh with valid credentials in hand, wait this long
 * (at most) before trying again, so a down endpoint is not asked on
 * every request. */
#define RETRY_AFTER_S 10
/* source_profile chains deeper than this are a loop or a mistake. */
#define PROFILE_DEPTH_MAX 4
#define ECS_AGENT "http://169.254.170.2"
#define IMDS_DEFAULT "http://169.254.169.254"

typedef enum CredKind {
	CRED_STATIC, CRED_PROCESS, CRED_ASSUME_ROLE, CRED_WEB_IDENTITY, CRED_CONTAINER, CRED_IMDS,
} CredKind;

struct S3Cred {
	pthread_mutex_t lock;
	CredKind kind;
	char *where, *desc, *region;
	S3CredNet net;
	char *ca_bundle;
	int log;
	/* source settings (by kind) */
	char *command;                  /* PROCESS */
	char *role_arn, *session_name, *external_id, *token_file, *url; /* STS, container, IMDS */
	char *auth, *auth_file;         /* CONTAINER: Authorization value or file */
	S3Cred *source;                 /* ASSUME_ROLE: the source profile's */
	/* under lock */
	S3Creds cur;
	int have;
	unsigned gen;                   /* bumped at each fetch */
	unsigned stale_gen;             /* gen the store called expired, or 0 */
	int64_t fetched_s, retry_s;
	unsigned refreshes;
	int logged;                     /* the source was named once (log) */
};

static const char *env_get(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int oom(const S3Cred *c, RemoteErr *err)
{
	return backend_err_set(err, -ENOMEM, "%s: out of memory", c->where);
}

static int set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = v ? strdup(v) : NULL;
	return v && !*slot ? -ENOMEM : 0;
}

static int set_fmt(char **slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_fmt(char **slot, const char *fmt, ...)
{
	va_list ap;
	int n;

	free(*slot);
	va_start(ap, fmt);
	n = vasprintf(slot, fmt, ap);
	va_end(ap);
	if (n < 0) {
		*slot = NULL;
		return -ENOMEM;
	}
	return 0;
}

static S3Cred *cred_alloc(const S3CredOpts *o)
{
	S3Cred *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->log = o->log;
	c->net.insecure_tls = o->net.insecure_tls;
	if (set_str(&c->where, o->where) < 0 || set_str(&c->region, o->region) < 0 ||
	    set_str(&c->ca_bundle, o->net.ca_bundle) < 0) {
		s3cred_free(c);
		return NULL;
	}
	c->net.ca_bundle = c->ca_bundle;
	return c;
}

/* sts_url — AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else the regional
 * endpoint (what the SDKs use since 2022). */
static int sts_url(S3Cred *c)
{
	const char *v = env_get("AWS_ENDPOINT_URL_STS");

	if (!v)
		v = env_get("AWS_ENDPOINT_URL");
	if (v)
		return set_str(&c->url, v);
	return set_fmt(&c->url, "https://sts.%s.amazonaws.com/", c->region);
}

static int session_name(S3Cred *c, const char *v)
{
	if (v)
		return set_str(&c->session_name, v);
	return set_fmt(&c->session_name, "strata-%lld", (long long)time(NULL));
}

/* lookup — key in profile, credentials file first, then config file
 * (the AWS CLI's precedence; settings like role_arn may sit in either).
 * 0, 1 absent, -ENOMEM. */
static int lookup(const char *profile, const char *key, char **out)
{
	int rc = s3ini_lookup(S3INI_CREDENTIALS, profile, key, out);

	if (rc == 1)
		rc = s3ini_lookup(S3INI_CONFIG, profile, key, out);
	return rc;
}

static int from_profile(S3Cred *c, const S3CredOpts *o, const char *profile, int explicit_, int depth,
                        RemoteErr *err);

/* profile_role — role_arn in profile: AssumeRole from source_profile, or
 * web identity from web_identity_token_file. */
static int profile_role(S3Cred *c, const S3CredOpts *o, const char *profile, char *role, int depth,
                        RemoteErr *err)
{
	char *src = NULL, *tokf = NULL, *name = NULL, *ext = NULL, *csrc = NULL;
	int rc;

	if ((rc = lookup(profile, "source_profile", &src)) < 0 ||
	    (rc = lookup(profile, "web_identity_token_file", &tokf)) < 0 ||
	    (rc = lookup(profile, "role_session_name", &name)) < 0 ||
	    (rc = lookup(profile, "external_id", &ext)) < 0 ||
	    (rc = lookup(profile, "credential_source", &csrc)) < 0) {
		rc = oom(c, err);
		goto out;
	}
	c->role_arn = role;
	role = NULL;
	if (session_name(c, name) < 0 || sts_url(c) < 0 || set_str(&c->external_id, ext) < 0) {
		rc = oom(c, err);
		goto out;
	}
	if (tokf) {
		c->kind = CRED_WEB_IDENTITY;
		c->token_file = tokf;
		tokf = NULL;
		rc = set_fmt(&c->desc, "profile %s: role %s by web identity via STS %s", profile, c->role_arn, c->url);
		if (rc < 0)
			rc = oom(c, err);
		goto out;
	}
	if (!src) {
		rc = backend_err_set(err, -EINVAL, "%s: profile %s has role_arn but no source_profile or "
		                     "web_identity_token_file%s", c->where, profile,
		                     csrc ? " (credential_source is not supported: use source_profile)" : "");
		goto out;
	}
	if (depth >= PROFILE_DEPTH_MAX) {
		rc = backend_err_set(err, -EINVAL, "%s: profile %s: source_profile chain deeper than %d "
		                     "(a loop?)", c->where, profile, PROFILE_DEPTH_MAX);
		goto out;
	}
	c->kind = CRED_ASSUME_ROLE;
	c->source = cred_alloc(o);
	if (!c->source || set_fmt(&c->desc, "profile %s: role %s via STS AssumeRole at %s, signed with profile %s",
	                          profile, c->role_arn, c->url, src) < 0) {
		rc = oom(c, err);
		goto out;
	}
	c->source->log = 0;
	if (strcmp(src, profile) == 0) {
		/* A profile may be its own source for static keys only. */
		char *k = NULL, *s = NULL;

		rc = s3ini_lookup(S3INI_CREDENTIALS, profile, "aws_access_key_id", &k);
		if (rc == 0)
			rc = s3ini_lookup(S3INI_CREDENTIALS, profile, "aws_secret_access_key", &s);
		if (rc == 0 && (strlen(k) >= S3CREDS_KEY_MAX || strlen(s) >= S3CREDS_SECRET_MAX))
			rc = 1;
		if (rc == 0) {
			c->source->kind = CRED_STATIC;
			snprintf(c->source->cur.access_key, S3CREDS_KEY_MAX, "%s", k);
			snprintf(c->source->cur.secret_key, S3CREDS_SECRET_MAX, "%s", s);
			c->source->have = 1;
			rc = set_str(&c->source->desc, profile) < 0 ? oom(c, err) : 0;
		} else {
			rc = rc < 0 ? oom(c, err)
			     : backend_err_set(err, -EINVAL, "%s: profile %s is its own source_profile but "
			                       "has no static keys", c->where, profile);
		}
		if (k)
			explicit_bzero(k, strlen(k));
		if (s)
			explicit_bzero(s, strlen(s));
		free(k);
		free(s);
		goto out;
	}
	rc = from_profile(c->source, o, src, 1, depth + 1, err);
out:
	free(role);
	free(src);
	free(tokf);
	free(name);
	free(ext);
	free(csrc);
	return rc;
}

/* from_profile — the source profile names. 0, 1 when the profile does
 * not exist and was not asked for by name (the chain goes on), or an
 * error. */
static int from_profile(S3Cred *c, const S3CredOpts *o, const char *profile, int explicit_, int depth,
                        RemoteErr *err)
{
	char *role = NULL, *k = NULL, *s = NULL, *t = NULL, *cmd = NULL, *cpath = NULL, *fpath = NULL;
	int rc;

	if (!s3ini_has_profile(profile)) {
		if (!explicit_)
			return 1;
		cpath = s3ini_path(S3INI_CREDENTIALS);
		fpath = s3ini_path(S3INI_CONFIG);
		rc = backend_err_set(err, -EACCES, "%s: no S3 credentials: profile %s is in neither %s nor %s",
		                     c->where, profile, cpath ? cpath : "~/.aws/credentials",
		                     fpath ? fpath : "~/.aws/config");
		goto out;
	}
	if ((rc = lookup(profile, "role_arn", &role)) < 0)
		goto nomem;
	if (rc == 0) {
		rc = profile_role(c, o, profile, role, depth, err);
		role = NULL;
		goto out;
	}
	if ((rc = lookup(profile, "aws_access_key_id", &k)) < 0 ||
	    (k && (rc = lookup(profile, "aws_secret_access_key", &s)) < 0) ||
	    (k && s && (rc = lookup(profile, "aws_session_token", &t)) < 0))
		goto nomem;
	if (k && s) {
		if (strlen(k) >= S3CREDS_KEY_MAX || strlen(s) >= S3CREDS_SECRET_MAX ||
		    (t && strlen(t) >= S3CREDS_TOKEN_MAX)) {
			rc = backend_err_set(err, -EINVAL, "%s: profile %s: a key, secret or token is too long",
			                     c->where, profile);
			goto out;
		}
		c->kind = CRED_STATIC;
		snprintf(c->cur.access_key, sizeof(c->cur.access_key), "%s", k);
		snprintf(c->cur.secret_key, sizeof(c->cur.secret_key), "%s", s);
		snprintf(c->cur.token, sizeof(c->cur.token), "%s", t ? t : "");
		c->have = 1;
		if (set_fmt(&c->desc, "profile %s (static keys)", profile) < 0)
			goto nomem;
		rc = 0;
		goto out;
	}
	if ((rc = lookup(profile, "credential_process", &cmd)) < 0)
		goto nomem;
	if (rc == 0) {
		c->kind = CRED_PROCESS;
		c->command = cmd;
		cmd = NULL;
		if (set_fmt(&c->desc, "profile %s: credential_process", profile) < 0)
			goto nomem;
		goto out;
	}
	if (!explicit_) {
		rc = 1;
		goto out;
	}
	rc = backend_err_set(err, -EACCES, "%s: no S3 credentials: profile %s has no aws_access_key_id "
	                     "and aws_secret_access_key, credential_process or role_arn", c->where, profile);
	goto out;
nomem:
	rc = oom(c, err);
out:
	if (k)
		explicit_bzero(k, strlen(k));
	if (s)
		explicit_bzero(s, strlen(s));
	if (t)
		explicit_bzero(t, strlen(t));
	free(role);
	free(k);
	free(s);
	free(t);
	free(cmd);
	free(cpath);
	free(fpath);
	return rc;
}

static int from_env_keys(S3Cred *c, RemoteErr *err)
{
	const char *k = env_get("AWS_ACCESS_KEY_ID"), *s = env_get("AWS_SECRET_ACCESS_KEY");
	const char *t = env_get("AWS_SESSION_TOKEN");

	if (strlen(k) >= S3CREDS_KEY_MAX || strlen(s) >= S3CREDS_SECRET_MAX || (t && strlen(t) >= S3CREDS_TOKEN_MAX))
		return backend_err_set(err, -EINVAL, "%s: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or "
		                       "AWS_SESSION_TOKEN is too long", c->where);
	c->kind = CRED_STATIC;
	snprintf(c->cur.access_key, sizeof(c->cur.access_key), "%s", k);
	snprintf(c->cur.secret_key, sizeof(c->cur.secret_key), "%s", s);
	snprintf(c->cur.token, sizeof(c->cur.token), "%s", t ? t : "");
	c->have = 1;
	return set_str(&c->desc, t ? "environment (AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN)"
	                           : "environment (AWS_ACCESS_KEY_ID)") < 0 ? oom(c, err) : 0;
}

static int from_container(S3Cred *c, RemoteErr *err)
{
	const char *rel = env_get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env_get("AWS_CONTAINER_CREDENTIALS_FULL_URI");

	if (rel) {
		if (set_fmt(&c->url, "%s%s%s", ECS_AGENT, rel[0] == '/' ? "" : "/", rel) < 0)
			return oom(c, err);
	} else {
		if (!s3credsrc_container_url_ok(full))
			return backend_err_set(err, -EINVAL, "%s: AWS_CONTAINER_CREDENTIALS_FULL_URI %s: must be "
			                       "https, or http to a loopback address or 169.254.170.2/.23",
			                       c->where, full);
		if (set_str(&c->url, full) < 0)
			return oom(c, err);
	}
	c->kind = CRED_CONTAINER;
	if (set_str(&c->auth, env_get("AWS_CONTAINER_AUTHORIZATION_TOKEN")) < 0 ||
	    set_str(&c->auth_file, env_get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) < 0 ||
	    set_fmt(&c->desc, "container endpoint %s", c->url) < 0)
		return oom(c, err);
	return 0;
}

int s3cred_new(const S3CredOpts *o, S3Cred **out, RemoteErr *err)
{
	const char *profile = env_get("AWS_PROFILE"), *v;
	S3Cred *c = cred_alloc(o);
	char *cpath = NULL;
	int rc;

	if (!c)
		return backend_err_set(err, -ENOMEM, "%s: out of memory", o->where);
	if (o->profile) {
		rc = from_profile(c, o, o->profile, 1, 0, err);
		goto out;
	}
	if (env_get("AWS_ACCESS_KEY_ID") && env_get("AWS_SECRET_ACCESS_KEY")) {
		rc = from_env_keys(c, err);
		goto out;
	}
	rc = from_profile(c, o, profile ? profile : "default", profile != NULL, 0, err);
	if (rc <= 0)
		goto out;
	if (env_get("AWS_WEB_IDENTITY_TOKEN_FILE") && env_get("AWS_ROLE_ARN")) {
		c->kind = CRED_WEB_IDENTITY;
		if (set_str(&c->token_file, env_get("AWS_WEB_IDENTITY_TOKEN_FILE")) < 0 ||
		    set_str(&c->role_arn, env_get("AWS_ROLE_ARN")) < 0 ||
		    session_name(c, env_get("AWS_ROLE_SESSION_NAME")) < 0 || sts_url(c) < 0 ||
		    set_fmt(&c->desc, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE, role %s) via STS %s",
		            c->role_arn, c->url) < 0)
			rc = oom(c, err);
		else
			rc = 0;
		goto out;
	}
	if (env_get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || env_get("AWS_CONTAINER_CREDENTIALS_FULL_URI")) {
		rc = from_container(c, err);
		goto out;
	}
	v = env_get("AWS_EC2_METADATA_DISABLED");
	if (!v || strcasecmp(v, "true") != 0) {
		c->kind = CRED_IMDS;
		v = env_get("AWS_EC2_METADATA_SERVICE_ENDPOINT");
		rc = set_str(&c->url, v ? v : IMDS_DEFAULT) < 0 ||
		     set_fmt(&c->desc, "instance metadata at %s", c->url) < 0 ? oom(c, err) : 0;
		goto out;
	}
	cpath = s3ini_path(S3INI_CREDENTIALS);
	rc = backend_err_set(err, -EACCES, "%s: no S3 credentials: set AWS_ACCESS_KEY_ID and "
	                     "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (a profile of %s), or "
	                     "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or run where container or "
	                     "instance credentials are provided (AWS_EC2_METADATA_DISABLED is set)",
	                     c->where, cpath ? cpath : "~/.aws/credentials");
out:
	free(cpath);
	if (rc < 0) {
		s3cred_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* --- fetching ---------------------------------------------------------------- */

static int read_small_file(const char *path, char **out)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : -ENOMEM;
}

/* fetch — one fetch from c's source, into *out. */
static int fetch(S3Cred *c, S3Creds *out, char *why, size_t why_len)
{
	S3Creds src;
	unsigned gen;
	char *auth = NULL;
	RemoteErr e;
	int rc;

	switch (c->kind) {
	case CRED_PROCESS:
		return s3credsrc_process(c->command, out, why, why_len);
	case CRED_WEB_IDENTITY:
		return s3credsrc_web_identity(c->url, c->role_arn, c->session_name, c->token_file, &c->net,
		                              out, why, why_len);
	case CRED_ASSUME_ROLE:
		rc = s3cred_get(c->source, &src, &gen, &e);
		if (rc < 0) {
			snprintf(why, why_len, "source profile: %s", e.msg);
			return rc;
		}
		rc = s3credsrc_assume_role(c->url, c->region, c->role_arn, c->session_name, c->external_id,
		                           &src, &c->net, out, why, why_len);
		s3creds_wipe(&src);
		return rc;
	case CRED_CONTAINER:
		if (c->auth_file) {
			rc = read_small_file(c->auth_file, &auth);
			if (rc < 0) {
				snprintf(why, why_len, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", c->auth_file,
				         strerror(-rc));
				return rc == -ENOMEM ? rc : -EACCES;
			}
		}
		rc = s3credsrc_container(c->url, auth ? auth : c->auth, &c->net, out, why, why_len);
		if (auth) {
			explicit_bzero(auth, strlen(auth));
			free(auth);
		}
		return rc;
	case CRED_IMDS:
		return s3credsrc_imds(c->url, out, why, why_len);
	case CRED_STATIC:
		break;
	}
	snprintf(why, why_len, "static credentials cannot be fetched again");
	return -EACCES;
}

static int64_t margin_s(const S3Cred *c)
{
	int64_t life = c->cur.expires_s - c->fetched_s;

	if (life < 0)
		life = 0;
	return life / 2 < REFRESH_MARGIN_S ? life / 2 : REFRESH_MARGIN_S;
}

static void time_text(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "no expiry");
}

int s3cred_get(S3Cred *c, S3Creds *out, unsigned *out_gen, RemoteErr *err)
{
	int64_t now = (int64_t)time(NULL);
	char why[320], until[32];
	S3Creds fresh;
	int rc = 0, forced, due;

	pthread_mutex_lock(&c->lock);
	forced = c->have && c->stale_gen == c->gen && c->kind != CRED_STATIC;
	due = !c->have || forced ||
	      (c->kind != CRED_STATIC && c->cur.expires_s && now >= c->cur.expires_s - margin_s(c) &&
	       now >= c->retry_s);
	if (due) {
		why[0] = '\0';
		rc = fetch(c, &fresh, why, sizeof(why));
		if (rc == 0) {
			c->cur = fresh;
			s3creds_wipe(&fresh);
			if (c->have)
				c->refreshes++;
			c->have = 1;
			c->gen++;
			c->stale_gen = 0;
			c->fetched_s = now;
			c->retry_s = 0;
			if (c->log) {
				time_text(c->cur.expires_s, until, sizeof(until));
				fprintf(stderr, "s3: %s: credentials %s %s (valid until %s)\n", c->where,
				        c->refreshes ? "refreshed from" : "from", c->desc, until);
			}
		} else if (c->have && !forced && (c->cur.expires_s == 0 || now < c->cur.expires_s)) {
			/* Still valid: use them, try again soon. */
			c->retry_s = now + RETRY_AFTER_S;
			if (c->log)
				fprintf(stderr, "s3: %s: credential refresh failed, retrying in %d s: %s\n",
				        c->where, RETRY_AFTER_S, why);
			rc = 0;
		} else if (c->kind == CRED_IMDS && rc == -EIO) {
			/* The chain's last resort: most often not an EC2
			 * instance at all, so say what else was looked at. */
			rc = backend_err_set(err, -EACCES, "%s: no S3 credentials: none in the environment or "
			                     "~/.aws, no web identity or container credentials, and the instance "
			                     "metadata service at %s gave none (%s); off EC2 set "
			                     "AWS_EC2_METADATA_DISABLED=true", c->where, c->url, why);
		} else {
			rc = backend_err_set(err, rc == -ENOMEM ? -ENOMEM : rc == -EIO ? -EIO : -EACCES,
			                     "%s: no S3 credentials from %s: %s", c->where, c->desc, why);
		}
	}
	if (rc == 0 && c->log && !c->logged && c->kind == CRED_STATIC)
		fprintf(stderr, "s3: %s: credentials from %s\n", c->where, c->desc);
	if (rc == 0) {
		c->logged = 1;
		*out = c->cur;
		*out_gen = c->gen;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void s3cred_expired(S3Cred *c, unsigned gen)
{
	pthread_mutex_lock(&c->lock);
	if (c->gen == gen)
		c->stale_gen = gen;
	pthread_mutex_unlock(&c->lock);
}

const char *s3cred_source(const S3Cred *c)
{
	return c->desc;
}

unsigned s3cred_refreshes(S3Cred *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = c->refreshes;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void s3cred_free(S3Cred *c)
{
	if (!c)
		return;
	s3cred_free(c->source);
	s3creds_wipe(&c->cur);
	free(c->where);
	free(c->desc);
	free(c->region);
	free(c->ca_bundle);
	free(c->command);
	free(c->role_arn);
	free(c->session_name);
	free(c->external_id);
	free(c->token_file);
	free(c->url);
	if (c->auth)
		explicit_bzero(c->auth, strlen(c->auth));
	free(c->auth);
	free(c->auth_file);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
