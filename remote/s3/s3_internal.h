/* s3_internal.h — what s3.c exposes to its unit test; not part of the API
 * (the backend is reached through backend_open, remote/backend.h).
 * Pure functions: safe from any thread. */
#ifndef STRATA_REMOTE_S3_INTERNAL_H
#define STRATA_REMOTE_S3_INTERNAL_H

/* s3_list_query — the query of one ListObjectsV2 page, parameters sorted
 * by name as SigV4 wants them (libcurl signs the query as written):
 * "[continuation-token=TOKEN&]list-type=2&max-keys=1000&prefix=PREFIX".
 * enc_token (NULL on the first page) and enc_prefix are percent-encoded
 * already (s3http_encode, keep_slash 0). malloc'ed; NULL when out of
 * memory. */
char *s3_list_query(const char *enc_token, const char *enc_prefix);

#endif
