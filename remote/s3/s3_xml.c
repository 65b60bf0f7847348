/* s3_xml.c — expat-based readers for S3's XML answers and the writer of the
 * CompleteMultipartUpload body. See s3_xml.h for the contract.
 *
 * One small SAX state machine serves every document: it keeps the path of
 * open elements (S3 documents are at most three levels deep for what is
 * read here) and the text of the innermost one, and on each end tag hands
 * (depth, name, text) to the document's own handler.
 */
#include "remote/s3/s3_xml.h"

#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Deepest nesting tracked; deeper elements are ignored. */
#define XML_MAX_DEPTH 8
/* Longest text node kept. Keys are at most 1024 bytes and continuation
 * tokens a few hundred; anything far longer is not a sane S3 answer. */
#define XML_MAX_TEXT 8192

typedef struct XmlState XmlState;
typedef void (*XmlEndFn)(XmlState *st, int depth, const char *name, const char *text);

struct XmlState {
	XML_Parser parser;
	XmlEndFn on_end;
	const char *root;               /* required name of the root element;
	                                 * NULL: any (names[0] tells which) */
	int depth;                      /* number of open elements */
	int root_ok;
	int rc;                         /* first error, 0 if none */
	char names[XML_MAX_DEPTH][64];
	char text[XML_MAX_TEXT + 1];
	size_t text_len;
	void *doc;                      /* the document-specific result */
};

static void xml_fail(XmlState *st, int rc)
{
	if (!st->rc)
		st->rc = rc;
	XML_StopParser(st->parser, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	XmlState *st = ud;

	(void)attrs;
	if (st->depth == 0) {
		if (st->root && strcmp(name, st->root) != 0) {
			xml_fail(st, -EPROTO);
			return;
		}
		st->root_ok = 1;
	}
	if (st->depth < XML_MAX_DEPTH)
		snprintf(st->names[st->depth], sizeof(st->names[0]), "%s", name);
	st->depth++;
	st->text_len = 0;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	XmlState *st = ud;

	if (len <= 0)
		return;
	if (st->text_len + (size_t)len > XML_MAX_TEXT) {
		xml_fail(st, -EPROTO);
		return;
	}
	memcpy(st->text + st->text_len, s, (size_t)len);
	st->text_len += (size_t)len;
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	XmlState *st = ud;

	st->text[st->text_len] = '\0';
	if (st->depth <= XML_MAX_DEPTH)
		st->on_end(st, st->depth, name, st->text);
	st->depth--;
	st->text_len = 0;
}

/* A DOCTYPE can declare entities; S3 never sends one. Refusing it closes
 * the door on entity-expansion tricks whatever expat's own limits are. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
	(void)name; (void)sysid; (void)pubid; (void)has_internal_subset;
	xml_fail(ud, -EPROTO);
}

/* xml_run — parse xml with st's handlers; 0 or a negative errno. */
static int xml_run(XmlState *st, const char *xml, size_t len)
{
	int rc = 0;

	if (len > (size_t)INT32_MAX)
		return -EPROTO;
	st->parser = XML_ParserCreate("UTF-8");
	if (!st->parser)
		return -ENOMEM;
	XML_SetUserData(st->parser, st);
	XML_SetElementHandler(st->parser, on_start, on_end);
	XML_SetCharacterDataHandler(st->parser, on_text);
	XML_SetStartDoctypeDeclHandler(st->parser, on_doctype);
	if (XML_Parse(st->parser, xml, (int)len, XML_TRUE) != XML_STATUS_OK)
		rc = st->rc ? st->rc
		     : XML_GetErrorCode(st->parser) == XML_ERROR_NO_MEMORY ? -ENOMEM : -EPROTO;
	else if (st->rc)
		rc = st->rc;
	else if (!st->root_ok)
		rc = -EPROTO;
	XML_ParserFree(st->parser);
	st->parser = NULL;
	return rc;
}

/* --- ListObjectsV2 ------------------------------------------------------ */

typedef struct ListDoc {
	S3XmlListPage page;
	size_t cap;
	char *key;              /* of the <Contents> being read */
	uint64_t size;
	int have_size;
	int64_t mtime_s;        /* -1 until a LastModified is read */
	char storage_class[24];
} ListDoc;

/* "2026-12-07T17:00:00.000Z" (ISO 8601, UTC, as S3 writes LastModified):
 * unix seconds, or -1. */
static int64_t parse_iso_time(const char *s)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	return (int64_t)timegm(&tm);
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9' || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static void list_end(XmlState *st, int depth, const char *name, const char *text)
{
	ListDoc *d = st->doc;

	if (depth == 2 && strcmp(name, "IsTruncated") == 0) {
		d->page.truncated = strcmp(text, "true") == 0;
	} else if (depth == 2 && strcmp(name, "NextContinuationToken") == 0) {
		free(d->page.next_token);
		d->page.next_token = strdup(text);
		if (!d->page.next_token)
			xml_fail(st, -ENOMEM);
	} else if (depth == 3 && strcmp(st->names[1], "Contents") == 0) {
		if (strcmp(name, "Key") == 0) {
			free(d->key);
			d->key = strdup(text);
			if (!d->key)
				xml_fail(st, -ENOMEM);
		} else if (strcmp(name, "Size") == 0) {
			if (parse_u64(text, &d->size) < 0)
				xml_fail(st, -EPROTO);
			d->have_size = 1;
		} else if (strcmp(name, "LastModified") == 0) {
			d->mtime_s = parse_iso_time(text);
		} else if (strcmp(name, "StorageClass") == 0) {
			snprintf(d->storage_class, sizeof(d->storage_class), "%s", text);
		}
	} else if (depth == 2 && strcmp(name, "Contents") == 0) {
		if (!d->key || !d->have_size) {
			xml_fail(st, -EPROTO);
			return;
		}
		if (d->page.n_objects == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 64;
			S3XmlObject *o = realloc(d->page.objects, cap * sizeof(*o));

			if (!o) {
				xml_fail(st, -ENOMEM);
				return;
			}
			d->page.objects = o;
			d->cap = cap;
		}
		d->page.objects[d->page.n_objects].key = d->key;
		d->page.objects[d->page.n_objects].size = d->size;
		d->page.objects[d->page.n_objects].mtime_s = d->mtime_s;
		memcpy(d->page.objects[d->page.n_objects].storage_class, d->storage_class, sizeof(d->storage_class));
		d->page.n_objects++;
		d->key = NULL;
		d->have_size = 0;
		d->mtime_s = -1;
		d->storage_class[0] = '\0';
	}
}

void s3xml_list_page_free(S3XmlListPage *page)
{
	size_t i;

	if (!page)
		return;
	for (i = 0; i < page->n_objects; i++)
		free(page->objects[i].key);
	free(page->objects);
	free(page->next_token);
	memset(page, 0, sizeof(*page));
}

int s3xml_list_parse(const char *xml, size_t len, S3XmlListPage *out)
{
	XmlState *st;
	ListDoc d;
	int rc;

	memset(&d, 0, sizeof(d));
	d.mtime_s = -1;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->on_end = list_end;
	st->root = "ListBucketResult";
	st->doc = &d;
	rc = xml_run(st, xml, len);
	free(d.key);
	free(st);
	if (rc < 0) {
		s3xml_list_page_free(&d.page);
		return rc;
	}
	*out = d.page;
	return 0;
}

/* --- <Error> ------------------------------------------------------------ */

static void error_end(XmlState *st, int depth, const char *name, const char *text)
{
	S3XmlError *e = st->doc;

	if (depth != 2)
		return;
	if (strcmp(name, "Code") == 0)
		snprintf(e->code, sizeof(e->code), "%s", text);
	else if (strcmp(name, "Message") == 0)
		snprintf(e->message, sizeof(e->message), "%s", text);
}

int s3xml_error_parse(const char *xml, size_t len, S3XmlError *out)
{
	XmlState *st;
	S3XmlError e;
	int rc;

	memset(&e, 0, sizeof(e));
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->on_end = error_end;
	st->root = "Error";
	st->doc = &e;
	rc = xml_run(st, xml, len);
	free(st);
	if (rc < 0)
		return rc;
	*out = e;
	return 0;
}

/* --- InitiateMultipartUploadResult ------------------------------------- */

static void upload_id_end(XmlState *st, int depth, const char *name, const char *text)
{
	char **id = st->doc;

	if (depth == 2 && strcmp(name, "UploadId") == 0) {
		free(*id);
		*id = strdup(text);
		if (!*id)
			xml_fail(st, -ENOMEM);
	}
}

int s3xml_upload_id_parse(const char *xml, size_t len, char **out_upload_id)
{
	XmlState *st;
	char *id = NULL;
	int rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->on_end = upload_id_end;
	st->root = "InitiateMultipartUploadResult";
	st->doc = &id;
	rc = xml_run(st, xml, len);
	free(st);
	if (rc == 0 && (!id || !*id))
		rc = -EPROTO;
	if (rc < 0) {
		free(id);
		return rc;
	}
	*out_upload_id = id;
	return 0;
}

/* --- STS: AssumeRole, AssumeRoleWithWebIdentity ------------------------ */

static void sts_copy(XmlState *st, char *dst, size_t cap, const char *text)
{
	if (strlen(text) >= cap) {
		xml_fail(st, -EPROTO);
		return;
	}
	memcpy(dst, text, strlen(text) + 1);
}

static void sts_end(XmlState *st, int depth, const char *name, const char *text)
{
	S3XmlSts *c = st->doc;

	if (strcmp(st->names[0], "ErrorResponse") == 0) {
		if (depth == 3 && strcmp(name, "Code") == 0)
			snprintf(c->code, sizeof(c->code), "%s", text);
		else if (depth == 3 && strcmp(name, "Message") == 0)
			snprintf(c->message, sizeof(c->message), "%s", text);
		return;
	}
	if (depth != 4 || strcmp(st->names[2], "Credentials") != 0)
		return;
	if (strcmp(name, "AccessKeyId") == 0)
		sts_copy(st, c->access_key, sizeof(c->access_key), text);
	else if (strcmp(name, "SecretAccessKey") == 0)
		sts_copy(st, c->secret_key, sizeof(c->secret_key), text);
	else if (strcmp(name, "SessionToken") == 0)
		sts_copy(st, c->token, sizeof(c->token), text);
	else if (strcmp(name, "Expiration") == 0)
		sts_copy(st, c->expiration, sizeof(c->expiration), text);
}

int s3xml_sts_parse(const char *xml, size_t len, S3XmlSts *out)
{
	XmlState *st;
	int rc;

	memset(out, 0, sizeof(*out));
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->on_end = sts_end;
	st->root = NULL;
	st->doc = out;
	rc = xml_run(st, xml, len);
	if (rc == 0 && strcmp(st->names[0], "ErrorResponse") == 0)
		rc = out->code[0] ? 1 : -EPROTO;
	else if (rc == 0 && (!out->access_key[0] || !out->secret_key[0] || !out->token[0] ||
	                     !out->expiration[0]))
		rc = -EPROTO;
	free(st);
	if (rc < 0)
		explicit_bzero(out, sizeof(*out));
	return rc;
}

/* --- CompleteMultipartUpload body --------------------------------------- */

/* Appends s to buf[*pos..] with the five XML specials escaped; the caller
 * sized buf for the worst case (6 bytes per input byte). */
static void put_escaped(char *buf, size_t *pos, const char *s)
{
	for (; *s; s++) {
		const char *rep = NULL;

		switch (*s) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: break;
		}
		if (rep) {
			memcpy(buf + *pos, rep, strlen(rep));
			*pos += strlen(rep);
		} else {
			buf[(*pos)++] = *s;
		}
	}
}

static void put_raw(char *buf, size_t *pos, const char *s)
{
	memcpy(buf + *pos, s, strlen(s));
	*pos += strlen(s);
}

char *s3xml_complete_build(const S3XmlPart *parts, size_t n_parts)
{
	static const char head[] = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
	static const char tail[] = "</CompleteMultipartUpload>";
	/* Per part: the fixed tags (under 120 bytes), a number of at most 10
	 * digits, and the escaped ETag and checksum (6 bytes per byte). */
	size_t per_part = 120 + 10 + 6 * (sizeof(parts[0].etag) + sizeof(parts[0].checksum));
	size_t cap, pos = 0, i;
	char *buf, num[16];

	if (n_parts > (SIZE_MAX - sizeof(head) - sizeof(tail)) / per_part)
		return NULL;
	cap = sizeof(head) + sizeof(tail) + n_parts * per_part;
	buf = malloc(cap);
	if (!buf)
		return NULL;
	put_raw(buf, &pos, head);
	for (i = 0; i < n_parts; i++) {
		put_raw(buf, &pos, "<Part><PartNumber>");
		snprintf(num, sizeof(num), "%u", parts[i].number);
		put_raw(buf, &pos, num);
		put_raw(buf, &pos, "</PartNumber><ETag>");
		put_escaped(buf, &pos, parts[i].etag);
		put_raw(buf, &pos, "</ETag>");
		if (parts[i].checksum[0]) {
			put_raw(buf, &pos, "<ChecksumSHA256>");
			put_escaped(buf, &pos, parts[i].checksum);
			put_raw(buf, &pos, "</ChecksumSHA256>");
		}
		put_raw(buf, &pos, "</Part>");
	}
	put_raw(buf, &pos, tail);
	buf[pos] = '\0';
	return buf;
}
