/* s3_xml.h — the XML documents of the S3 protocol that strata reads and
 * writes: ListObjectsV2 pages, <Error> bodies, the answer to
 * CreateMultipartUpload, and the body of CompleteMultipartUpload.
 *
 * Owns: all use of expat. Never: does I/O or knows about HTTP.
 * Input is untrusted bytes from the network: every parser bounds what it
 * keeps, refuses documents with a DOCTYPE (no entity expansion), and
 * answers -EPROTO for anything that is not the expected document.
 *
 * Thread safety: no shared state; every call has its own parser.
 */
#ifndef STRATA_REMOTE_S3_XML_H
#define STRATA_REMOTE_S3_XML_H

#include <stddef.h>
#include <stdint.h>

typedef struct S3XmlObject {
	char *key;              /* full key, as S3 reports it */
	uint64_t size;
	int64_t mtime_s;        /* LastModified, unix seconds; -1 if absent or unreadable */
	char storage_class[24]; /* <StorageClass>, cut to 23 bytes; "" when absent */
} S3XmlObject;

typedef struct S3XmlListPage {
	S3XmlObject *objects;   /* n_objects entries */
	size_t n_objects;
	int truncated;          /* IsTruncated was "true" */
	char *next_token;       /* NextContinuationToken, NULL if absent */
} S3XmlListPage;

/* s3xml_list_parse — parse one ListObjectsV2 page (<ListBucketResult>).
 * Writes *out (free with s3xml_list_page_free) on success only.
 * Returns 0, -EPROTO (not well-formed, wrong root element, a <Contents>
 * without Key or with a bad Size), or -ENOMEM. */
int s3xml_list_parse(const char *xml, size_t len, S3XmlListPage *out);

/* s3xml_list_page_free — release what s3xml_list_parse wrote; leaves the
 * page empty. Accepts NULL and an already-freed page. */
void s3xml_list_page_free(S3XmlListPage *page);

typedef struct S3XmlError {
	char code[64];          /* e.g. "SignatureDoesNotMatch"; "" if absent */
	char message[256];      /* human-readable text, truncated to fit */
} S3XmlError;

/* s3xml_error_parse — parse an S3 <Error> document into *out.
 * Returns 0, or -EPROTO when the bytes are not an <Error> document (then
 * *out is left untouched). Never allocates beyond the parser. */
int s3xml_error_parse(const char *xml, size_t len, S3XmlError *out);

/* s3xml_upload_id_parse — the UploadId of an
 * <InitiateMultipartUploadResult>. *out_upload_id is malloc'ed; the caller
 * frees it. Returns 0, -EPROTO, or -ENOMEM. */
int s3xml_upload_id_parse(const char *xml, size_t len, char **out_upload_id);

/* The answer of STS to AssumeRole or AssumeRoleWithWebIdentity: its
 * <Credentials>, or the <Error> of an <ErrorResponse>. */
typedef struct S3XmlSts {
	char access_key[128];
	char secret_key[256];
	char token[8192];       /* SessionToken */
	char expiration[64];    /* ISO 8601, as sent */
	char code[64];          /* ErrorResponse only */
	char message[256];
} S3XmlSts;

/* s3xml_sts_parse — read an STS answer into *out. Returns 0 with the four
 * credential fields set, 1 for an <ErrorResponse> (code and message set),
 * -EPROTO (anything else, or a credential field missing or too long; *out
 * is then wiped), -ENOMEM. The caller wipes *out after use. */
int s3xml_sts_parse(const char *xml, size_t len, S3XmlSts *out);

typedef struct S3XmlPart {
	unsigned number;        /* 1..10000 */
	char etag[130];         /* as the UploadPart answer's ETag header gave it */
	char checksum[48];      /* base64 SHA-256 of the part, "" for none */
} S3XmlPart;

/* s3xml_complete_build — the <CompleteMultipartUpload> body listing parts
 * in order, text escaped. Returns a malloc'ed NUL-terminated string (the
 * caller frees it) or NULL when out of memory. */
char *s3xml_complete_build(const S3XmlPart *parts, size_t n_parts);

#endif
