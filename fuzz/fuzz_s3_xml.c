/* fuzz_s3_xml.c — the S3 XML readers (remote/s3/s3_xml.h) on bytes from the
 * network, and the CompleteMultipartUpload writer on hostile ETags.
 *
 * Every input goes to all three readers (a ListObjectsV2 page, an <Error>
 * body, an InitiateMultipartUploadResult): each refuses the others' roots,
 * so one corpus serves all.
 *
 * Properties: no crash or leak; only 0, -EPROTO or -ENOMEM; a parsed page
 * has a key for every object and frees cleanly (twice); an error body's
 * fields are NUL-terminated within their arrays; an upload ID is non-empty;
 * the built body contains exactly the '<' of its own tags (ETags and
 * checksums come out escaped).
 */
#include <errno.h>

#include "fuzz/fuzz.h"
#include "remote/s3/s3_xml.h"

static void build(const uint8_t *data, size_t size)
{
	S3XmlPart parts[4];
	size_t n, k = 0, off = 0, tags = 2;
	char *xml;

	memset(parts, 0, sizeof parts);
	/* Split the input at NUL bytes into ETag, checksum, ETag, ... */
	while (k < 2 * 4 && off < size) {
		const uint8_t *end = memchr(data + off, '\0', size - off);
		size_t len = end ? (size_t)(end - (data + off)) : size - off;
		S3XmlPart *p = &parts[k / 2];
		char *dst = k % 2 ? p->checksum : p->etag;
		size_t cap = k % 2 ? sizeof p->checksum : sizeof p->etag;
		size_t keep = len < cap ? len : cap - 1;
		memcpy(dst, data + off, keep);
		dst[keep] = '\0';
		p->number = (unsigned)(k / 2 + 1) * 977u;
		off += len + 1;
		k++;
	}
	n = (k + 1) / 2;
	for (size_t i = 0; i < n; i++)
		tags += parts[i].checksum[0] ? 8 : 6;
	xml = s3xml_complete_build(parts, n);
	FUZZ_ASSERT(xml != NULL);
	for (const char *p = xml; *p; p++)
		tags -= *p == '<';
	FUZZ_ASSERT(tags == 0);
	free(xml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	S3XmlListPage page;
	S3XmlError e;
	char *id = NULL;
	int rc;

	rc = s3xml_list_parse(xml, size, &page);
	FUZZ_ASSERT(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
	if (rc == 0) {
		FUZZ_ASSERT(page.n_objects == 0 || page.objects != NULL);
		for (size_t i = 0; i < page.n_objects; i++)
			FUZZ_ASSERT(page.objects[i].key != NULL);
		s3xml_list_page_free(&page);
		s3xml_list_page_free(&page);
	}
	memset(&e, 0x7f, sizeof e);
	rc = s3xml_error_parse(xml, size, &e);
	FUZZ_ASSERT(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
	if (rc == 0)
		FUZZ_ASSERT(memchr(e.code, '\0', sizeof e.code) && memchr(e.message, '\0', sizeof e.message));
	rc = s3xml_upload_id_parse(xml, size, &id);
	FUZZ_ASSERT(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
	if (rc == 0) {
		FUZZ_ASSERT(id && id[0]);
		free(id);
	}
	build(data, size);
	return 0;
}
