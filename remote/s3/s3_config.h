/* s3_config.h — everything the S3 backend knows before its first request:
 * the parsed location, credentials, region, storage classes and tunables.
 *
 * Owns: parsing "s3:http(s)://host[:port]/bucket[/prefix][?opts]" and
 * "s3://bucket[/prefix][?opts]" (the options: s3_opts.h), reading AWS_*
 * and STRATA_S3_* environment variables and the region from
 * ~/.aws/config; the credentials come from s3_cred.h.
 * Never: does network I/O (s3.c does); includes libcurl or libsodium.
 *
 * Thread safety: an S3Config is read-only once s3config_parse() returns.
 */
#ifndef STRATA_REMOTE_S3_CONFIG_H
#define STRATA_REMOTE_S3_CONFIG_H

#include "remote/backend.h"
#include "remote/s3/s3_cred.h"

#include <stdint.h>

/* Requests in flight at once (transfers=, STRATA_S3_TRANSFERS, the CLI's
 * --transfers). The default, 8, keeps a restore's whole-pack GETs and a
 * backup's uploads streaming over a link with tens of ms of round trip
 * (restic's default is 5 connections, the AWS CLI's 10). */
#define S3CONFIG_TRANSFERS_DEFAULT 8
#define S3CONFIG_TRANSFERS_MAX 128

/* The first retry's pause, ms (s3_http.c: doubling up to 10 s, each drawn
 * from [half, full]). */
#define S3CONFIG_BACKOFF_MS_DEFAULT 200

typedef struct S3Config {
	char *url_base;         /* "http://h:p/bucket" (path-style) or
	                         * "https://bucket.s3.REGION.amazonaws.com" */
	int path_style;         /* keys follow url_base after '/'; a bucket
	                         * listing is url_base itself, no '/' */
	char *bucket;
	char *prefix;           /* key prefix: "" or "some/prefix/" */
	char *region;
	S3Cred *cred;           /* the credential chain's pick (s3_cred.h) */
	char *sse;              /* "AES256", "aws:kms", or NULL: no header */
	char *kms_key_id;       /* with aws:kms, or NULL */
	char *ssec_key_b64;     /* SSE-C: the key, base64; wiped on free; or NULL */
	char *ssec_md5_b64;     /* SSE-C: its MD5, base64 */
	const char *lock_mode;  /* "COMPLIANCE", "GOVERNANCE", or NULL: no Object Lock */
	long lock_days;         /* retention of each upload, with lock_mode */
	char *class_data;       /* storage class for "data/..." names; NULL: omit header */
	char *class_metadata;   /* storage class for every other name; NULL: omit */
	char *ca_bundle;        /* STRATA_S3_CA_BUNDLE, or NULL for the system store */
	int insecure_tls;       /* STRATA_S3_INSECURE_TLS=1 */
	int attempts;           /* 1 + STRATA_S3_RETRIES (default 5 retries) */
	long low_speed_time_s;  /* STRATA_S3_LOW_SPEED_TIME, default 60 */
	long backoff_ms;        /* the first retry's pause (doubling, half of it
	                         * random): STRATA_S3_BACKOFF_MS, default 200
	                         * (1..10000; the tests' fault runs use less) */
	long connect_timeout_s; /* 10 */
	int transfers;          /* requests in flight at most: option
	                         * transfers=, else STRATA_S3_TRANSFERS,
	                         * default 8 (1..128) */
	uint64_t list_max_pages;/* STRATA_S3_LIST_MAX_PAGES, default
	                         * S3LIST_MAX_PAGES_DEFAULT (remote/s3/s3_list.h) */
	uint64_t list_max_keys; /* STRATA_S3_LIST_MAX_KEYS, default
	                         * S3LIST_MAX_KEYS_DEFAULT */
} S3Config;

/* s3config_parse — fill *out from location (the whole "s3:..." string),
 * the environment and the AWS files. On failure *out holds nothing to free.
 * Returns 0, -EINVAL (unparsable location, bad option or storage-class
 * spec, bad environment value, an SSE-C key file that is not 32 bytes),
 * -EACCES (no credentials anywhere), or -ENOMEM. Messages name the
 * location without its options. */
int s3config_parse(const char *location, S3Config *out, RemoteErr *err);

/* s3config_storage_class — the storage class to send for an object name,
 * or NULL to send none (STANDARD): class_data for "data/...", none for
 * "locks/..." (short-lived), class_metadata for the rest. */
const char *s3config_storage_class(const S3Config *cfg, const char *name);

/* s3config_min_object — the size below which AWS bills an object of
 * storage class cls as if it were that size, or keeps it out of the
 * cheaper tiers: 131072 (128 KiB) for STANDARD_IA, ONEZONE_IA, GLACIER_IR
 * and INTELLIGENT_TIERING; 0 for NULL, STANDARD, GLACIER, DEEP_ARCHIVE
 * and any other name (tools/cli/doc/s3.md "Storage classes and pack
 * sizes"). Pure. */
uint32_t s3config_min_object(const char *cls);

/* s3config_lock_applies — whether an upload of name carries an Object
 * Lock retention: with lock_mode set, every name but "locks/..." and
 * "prune/..." (store/FORMAT.md: lock files and prune plans, objects that
 * hold no backup data and are deleted in normal operation). */
int s3config_lock_applies(const S3Config *cfg, const char *name);

/* s3config_free — release and wipe what s3config_parse() wrote. Accepts a
 * zeroed struct. */
void s3config_free(S3Config *cfg);

#endif
