/* s3_cred.h — the credentials an S3 location signs with: where they come
 * from (the AWS credential chain) and keeping temporary ones fresh.
 *
 * Owns: choosing the source, in the order the AWS SDKs use,
 *   1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
 *   2. a profile (AWS_PROFILE, else "default") of ~/.aws/credentials and
 *      ~/.aws/config: role_arn with source_profile (STS AssumeRole) or
 *      web_identity_token_file, static keys, or credential_process;
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (EKS),
 *      through STS AssumeRoleWithWebIdentity;
 *   4. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 *      _FULL_URI (ECS, EKS Pod Identity);
 *   5. the EC2 instance metadata service, IMDSv2 (unless
 *      AWS_EC2_METADATA_DISABLED=true);
 * a location's profile= takes its profile alone, skipping the chain (a
 * replication target in another account). Endpoints honour the standard
 * overrides: AWS_ENDPOINT_URL_STS (else AWS_ENDPOINT_URL),
 * AWS_EC2_METADATA_SERVICE_ENDPOINT, the container URIs themselves.
 * Temporary credentials are fetched on first use and again before they
 * expire: when less than min(5 min, half their lifetime) is left, so a
 * request never goes out with credentials about to lapse, however long
 * the run (a restore's --cold-wait of hours). A store that answers
 * ExpiredToken anyway (a clock far off) makes the next use fetch anew.
 *
 * Never: does network I/O in s3cred_new (s3cred_get fetches), or lets a
 * secret into a message, a log line or a child's command line. Log lines
 * (with log set: stderr, for strata -v) name the source and expiry only.
 *
 * Thread safety: an S3Cred may be used from any number of threads; one
 * fetch runs at a time, under its lock, while the others wait for it.
 */
#ifndef STRATA_REMOTE_S3_CRED_H
#define STRATA_REMOTE_S3_CRED_H

#include "remote/backend.h"
#include "remote/s3/s3_credsrc.h"

typedef struct S3Cred S3Cred;

typedef struct S3CredOpts {
	const char *where;      /* the location, for messages */
	const char *profile;    /* the location's profile=, or NULL: the chain */
	const char *region;     /* for STS's endpoint and signature */
	S3CredNet net;          /* TLS for https credential endpoints */
	int log;                /* print the source and refreshes on stderr */
} S3CredOpts;

/* s3cred_new — pick the source for o. Static credentials are read now.
 * Returns 0, -EACCES when no source is configured ("no S3 credentials:
 * ..."; with the instance metadata service allowed there always is one),
 * -EINVAL for a profile that names what cannot work (a role_arn without
 * source_profile or web_identity_token_file, a source_profile loop, a
 * container URI to a host the SDKs refuse), -ENOMEM. */
int s3cred_new(const S3CredOpts *o, S3Cred **out, RemoteErr *err);

/* s3cred_get — the credentials to sign with now, copied into *out (wipe
 * it after use), fetching or refreshing them first when needed, and
 * their generation in *out_gen (for s3cred_expired). When a refresh
 * fails while the credentials held are still valid, those are used and
 * the fetch is tried again on a later call. Returns 0, -EACCES (the
 * source refused, or gave nothing), -EIO (unreachable), -ENOMEM; err
 * names the location and the source. */
int s3cred_get(S3Cred *c, S3Creds *out, unsigned *out_gen, RemoteErr *err);

/* s3cred_expired — the store refused generation gen as expired: the
 * next s3cred_get fetches anew (once per generation). Static credentials
 * cannot be refreshed; for them this does nothing. */
void s3cred_expired(S3Cred *c, unsigned gen);

/* s3cred_source — a description of the source, e.g. "container endpoint
 * http://127.0.0.1:4242/creds". Valid as long as c. */
const char *s3cred_source(const S3Cred *c);

/* s3cred_refreshes — how many times credentials were fetched again after
 * the first fetch. */
unsigned s3cred_refreshes(S3Cred *c);

/* s3cred_free — wipe and release. Accepts NULL. */
void s3cred_free(S3Cred *c);

#endif
