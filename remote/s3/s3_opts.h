/* s3_opts.h — the settings an S3 location may carry after '?', each
 * with the environment variable that stands in for it.
 *
 * Owns: the one table of location parameters (names, variables, help
 * text: `strata help` prints it), and splitting "?name=value&..." into
 * it. Names may be written with '-' or '_' (kms-key-id, kms_key_id);
 * values may be percent-encoded (%26 for '&').
 * Never: checks a value's meaning (s3_config.c does).
 *
 * Thread safety: the table is constant; an S3Opts belongs to one parse.
 */
#ifndef STRATA_REMOTE_S3_OPTS_H
#define STRATA_REMOTE_S3_OPTS_H

#include "remote/backend.h"

typedef enum S3Opt {
	S3OPT_REGION, S3OPT_PROFILE, S3OPT_STORAGE_CLASS, S3OPT_TRANSFERS, S3OPT_RETRIES,
	S3OPT_PATH_STYLE, S3OPT_SSE, S3OPT_KMS_KEY_ID, S3OPT_SSE_C_KEY_FILE,
	S3OPT_OBJECT_LOCK_MODE, S3OPT_OBJECT_LOCK_DAYS,
	S3OPT_N
} S3Opt;

typedef struct S3OptInfo {
	const char *name;       /* as written in a location, with '_' */
	const char *value;      /* what the value looks like, for help */
	const char *env;        /* the variable used when the location has none, or NULL */
	const char *help;       /* one line */
} S3OptInfo;

extern const S3OptInfo s3opts_info[S3OPT_N];

typedef struct S3Opts {
	char *v[S3OPT_N];       /* from the location; NULL when absent */
} S3Opts;

/* s3opts_parse — split query (the text after '?') into *out, which the
 * caller zeroed. Returns 0, -EINVAL ("unknown location option", a
 * parameter without '=', a bad %XX, one given twice) with err naming
 * where, or -ENOMEM. On failure *out may hold values: s3opts_free it. */
int s3opts_parse(const char *query, S3Opts *out, const char *where, RemoteErr *err);

/* s3opts_get — the location's value for opt, else its variable's when
 * set and not empty, else NULL. *out_from names which ("region=" or
 * "AWS_REGION") for messages, when out_from is not NULL. */
const char *s3opts_get(const S3Opts *o, S3Opt opt, const char **out_from);

/* s3opts_free — release (and wipe) the values. Accepts a zeroed struct. */
void s3opts_free(S3Opts *o);

#endif
