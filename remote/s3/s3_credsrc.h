/* s3_credsrc.h — fetching temporary credentials from where AWS keeps
 * them: a credential_process command, STS (AssumeRole and
 * AssumeRoleWithWebIdentity), the container credentials endpoint (ECS,
 * EKS Pod Identity) and the EC2 instance metadata service (IMDSv2).
 *
 * Owns: one fetch from one source, and turning its answer (JSON through
 * jansson, STS XML through s3_xml.c) into an S3Creds.
 * Never: caches or decides when to refresh (s3_cred.c does), logs, or
 * puts a secret into a message: the "why" texts name the source, the
 * HTTP status and the service's error code only.
 *
 * Thread safety: no shared state. Every fetch is a blocking libcurl easy
 * transfer on the caller's thread (libcurl must be loaded: curl_api.h),
 * bounded by a timeout.
 */
#ifndef STRATA_REMOTE_S3_CREDSRC_H
#define STRATA_REMOTE_S3_CREDSRC_H

#include <stddef.h>
#include <stdint.h>

/* Bounds from what AWS issues: access key IDs are 16-128 characters,
 * secrets 40, session tokens up to a few KiB (IMDS and STS tokens are
 * 1-2 KiB; the room is for federated and SSO tokens). */
#define S3CREDS_KEY_MAX 129
#define S3CREDS_SECRET_MAX 257
#define S3CREDS_TOKEN_MAX 8192

typedef struct S3Creds {
	char access_key[S3CREDS_KEY_MAX];
	char secret_key[S3CREDS_SECRET_MAX];
	char token[S3CREDS_TOKEN_MAX];  /* "" when none */
	int64_t expires_s;              /* Unix time; 0: does not expire */
} S3Creds;

/* TLS settings for https endpoints (STS; a container endpoint). */
typedef struct S3CredNet {
	const char *ca_bundle;          /* or NULL for the system store */
	int insecure_tls;
} S3CredNet;

/* The answers below come back as 0, or: -EACCES (the source refused:
 * an HTTP 4xx, a command that failed), -EIO (unreachable, 5xx, a
 * malformed answer), -ENOMEM. why (why_len bytes) says which and never
 * holds a secret. */

/* s3credsrc_process — run command with /bin/sh -c, read its stdout (at
 * most 64 KiB, within 60 s), and parse the credential_process JSON:
 * {"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?,
 * "Expiration"?}. The command's stderr goes to ours. */
int s3credsrc_process(const char *command, S3Creds *out, char *why, size_t why_len);

/* s3credsrc_web_identity — AssumeRoleWithWebIdentity at sts_url (POST,
 * unsigned) with the token read from token_file (read anew each call:
 * Kubernetes rotates it). */
int s3credsrc_web_identity(const char *sts_url, const char *role_arn, const char *session_name,
                           const char *token_file, const S3CredNet *net, S3Creds *out,
                           char *why, size_t why_len);

/* s3credsrc_assume_role — AssumeRole at sts_url, signed (SigV4, service
 * "sts", region) with source; external_id may be NULL. */
int s3credsrc_assume_role(const char *sts_url, const char *region, const char *role_arn,
                          const char *session_name, const char *external_id, const S3Creds *source,
                          const S3CredNet *net, S3Creds *out, char *why, size_t why_len);

/* s3credsrc_container — GET url with "Authorization: auth" when auth is
 * not NULL; the answer is {"AccessKeyId", "SecretAccessKey", "Token",
 * "Expiration"}. */
int s3credsrc_container(const char *url, const char *auth, const S3CredNet *net, S3Creds *out,
                        char *why, size_t why_len);

/* s3credsrc_container_url_ok — 1 when an AWS_CONTAINER_CREDENTIALS_FULL_URI
 * may be used: https, or http to a loopback address or the ECS/EKS agent
 * addresses (169.254.170.2, 169.254.170.23, fd00:ec2::23), as the AWS SDKs
 * require (a token must not travel in clear to anywhere else). */
int s3credsrc_container_url_ok(const char *url);

/* s3credsrc_imds — IMDSv2: PUT endpoint/latest/api/token (TTL 6 h), then
 * the role name and its credentials under
 * /latest/meta-data/iam/security-credentials/, each with the token. */
int s3credsrc_imds(const char *endpoint, S3Creds *out, char *why, size_t why_len);

/* s3credsrc_time_parse — "2026-12-07T15:04:05Z" (fraction and a +00:00
 * offset allowed) to Unix time; 0 or -EINVAL. */
int s3credsrc_time_parse(const char *iso, int64_t *out);

/* s3credsrc_json_parse — the JSON credential documents above (process:
 * with "Version" 1 and "SessionToken"; else "Token" and "Code" when
 * present must be "Success"). 0, -EIO with why, -ENOMEM. */
int s3credsrc_json_parse(const char *json, size_t len, int process, S3Creds *out, char *why, size_t why_len);

/* s3creds_wipe — zero *c. */
void s3creds_wipe(S3Creds *c);

#endif
