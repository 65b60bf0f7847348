/* test_s3_xml.c — the readers of S3's XML answers take untrusted bytes:
 * well-formed pages parse, everything else is -EPROTO, nothing leaks. */
#include "remote/s3/s3_xml.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_list(const char *xml, S3XmlListPage *page)
{
	return s3xml_list_parse(xml, strlen(xml), page);
}

static void test_list_page(void)
{
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><Prefix>repo/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
		"<IsTruncated>true</IsTruncated>"
		"<Contents><Key>repo/config</Key><LastModified>x</LastModified>"
		"<ETag>&quot;abc&quot;</ETag><Size>155</Size><StorageClass>STANDARD</StorageClass></Contents>\n"
		"  <Contents>\n    <Key>repo/a&amp;b</Key>\n    <Size>18446744073709551615</Size>\n  </Contents>"
		"<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
		"</ListBucketResult>";
	S3XmlListPage page;

	REQUIRE(parse_list(xml, &page) == 0);
	CHECK_EQ_INT(page.n_objects, 2);
	CHECK(page.truncated);
	CHECK_STR(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	if (page.n_objects == 2) {
		CHECK_STR(page.objects[0].key, "repo/config");
		CHECK_EQ_INT(page.objects[0].size, 155);
		CHECK_STR(page.objects[1].key, "repo/a&b");
		CHECK(page.objects[1].size == UINT64_MAX);
		CHECK_STR(page.objects[0].storage_class, "STANDARD");
		CHECK_STR(page.objects[1].storage_class, "");   /* absent: not the one before */
	}
	s3xml_list_page_free(&page);
	CHECK(page.objects == NULL && page.next_token == NULL);
	s3xml_list_page_free(&page);            /* twice is harmless */
	s3xml_list_page_free(NULL);
}

/* <StorageClass> of each object, the archive classes included, and a
 * value longer than any class cut to fit rather than refused. */
static void test_list_classes(void)
{
	const char *xml =
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>repo/data/aa/1</Key><Size>1</Size><StorageClass>GLACIER</StorageClass></Contents>"
		"<Contents><Key>repo/data/bb/2</Key><Size>2</Size><StorageClass>DEEP_ARCHIVE</StorageClass></Contents>"
		"<Contents><Key>repo/tree/cc/3</Key><Size>3</Size></Contents>"
		"<Contents><Key>repo/x</Key><Size>4</Size><StorageClass>ABCDEFGHIJKLMNOPQRSTUVWXYZ</StorageClass></Contents>"
		"</ListBucketResult>";
	S3XmlListPage page;

	REQUIRE(parse_list(xml, &page) == 0);
	REQUIRE(page.n_objects == 4);
	CHECK_STR(page.objects[0].storage_class, "GLACIER");
	CHECK_STR(page.objects[1].storage_class, "DEEP_ARCHIVE");
	CHECK_STR(page.objects[2].storage_class, "");
	CHECK_STR(page.objects[3].storage_class, "ABCDEFGHIJKLMNOPQRSTUVW");
	s3xml_list_page_free(&page);
}

/* <LastModified> as unix seconds next to the class of the same object;
 * absent or unreadable: -1, never the time of the object before. */
static void test_list_times(void)
{
	const char *xml =
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>repo/data/aa/1</Key><LastModified>2026-12-07T17:00:00.000Z</LastModified>"
		"<Size>1</Size><StorageClass>GLACIER</StorageClass></Contents>"
		"<Contents><Key>repo/data/bb/2</Key><Size>2</Size></Contents>"
		"<Contents><Key>repo/tree/cc/3</Key><LastModified>yesterday</LastModified><Size>3</Size></Contents>"
		"<Contents><Key>repo/x</Key><LastModified>1970-01-01T00:00:01Z</LastModified><Size>4</Size></Contents>"
		"</ListBucketResult>";
	S3XmlListPage page;

	REQUIRE(parse_list(xml, &page) == 0);
	REQUIRE(page.n_objects == 4);
	CHECK(page.objects[0].mtime_s == 1796662800);   /* date -u -d 2026-12-07T17:00:00Z +%s */
	CHECK_STR(page.objects[0].storage_class, "GLACIER");
	CHECK(page.objects[1].mtime_s == -1);
	CHECK(page.objects[2].mtime_s == -1);
	CHECK(page.objects[3].mtime_s == 1);
	s3xml_list_page_free(&page);
}

static void test_list_empty(void)
{
	const char *xml = "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount>"
	                  "<IsTruncated>false</IsTruncated></ListBucketResult>";
	S3XmlListPage page;

	REQUIRE(parse_list(xml, &page) == 0);
	CHECK_EQ_INT(page.n_objects, 0);
	CHECK(!page.truncated);
	CHECK(page.next_token == NULL);
	s3xml_list_page_free(&page);
}

static void test_list_many(void)
{
	size_t cap = 1000 * 80 + 200, len = 0, i;
	char *xml = malloc(cap);
	S3XmlListPage page;

	REQUIRE(xml);
	len += (size_t)snprintf(xml + len, cap - len, "<ListBucketResult>");
	for (i = 0; i < 1000; i++)
		len += (size_t)snprintf(xml + len, cap - len,
		                        "<Contents><Key>data/%04zu</Key><Size>%zu</Size></Contents>", i, i);
	len += (size_t)snprintf(xml + len, cap - len, "</ListBucketResult>");
	REQUIRE(s3xml_list_parse(xml, len, &page) == 0);
	CHECK_EQ_INT(page.n_objects, 1000);
	if (page.n_objects == 1000) {
		CHECK_STR(page.objects[999].key, "data/0999");
		CHECK_EQ_INT(page.objects[999].size, 999);
	}
	s3xml_list_page_free(&page);
	free(xml);
}

static void test_list_refused(void)
{
	static const char *const bad[] = {
		"",
		"not xml",
		"<ListBucketResult>",                                           /* unterminated */
		"<Error><Code>AccessDenied</Code></Error>",                     /* wrong root */
		"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>1e3</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>18446744073709551616</Size></Contents></ListBucketResult>",
		"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><ListBucketResult>&a;</ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult><x/>",
	};
	S3XmlListPage page;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse_list(bad[i], &page);

		if (rc != -EPROTO)
			printf("  case %zu: %d\n", i, rc);
		CHECK_EQ_INT(rc, -EPROTO);
	}
}

static void test_list_text_bound(void)
{
	size_t n = 100000, i;
	char *xml = malloc(n + 100);
	S3XmlListPage page;

	REQUIRE(xml);
	strcpy(xml, "<ListBucketResult><Contents><Key>");
	i = strlen(xml);
	memset(xml + i, 'k', n);
	strcpy(xml + i + n, "</Key><Size>1</Size></Contents></ListBucketResult>");
	CHECK_EQ_INT(s3xml_list_parse(xml, strlen(xml), &page), -EPROTO);
	free(xml);
}

static void test_error(void)
{
	const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
	                  "<Message>The request signature we calculated does not match.</Message>"
	                  "<RequestId>1</RequestId></Error>";
	S3XmlError e;

	REQUIRE(s3xml_error_parse(xml, strlen(xml), &e) == 0);
	CHECK_STR(e.code, "SignatureDoesNotMatch");
	CHECK_STR(e.message, "The request signature we calculated does not match.");
	memset(&e, 'x', sizeof(e));
	CHECK_EQ_INT(s3xml_error_parse("<ListBucketResult/>", 19, &e), -EPROTO);
	CHECK(e.code[0] == 'x');                /* untouched on failure */
	CHECK_EQ_INT(s3xml_error_parse("<html>502 Bad Gateway</html>", 28, &e), -EPROTO);
	CHECK_EQ_INT(s3xml_error_parse("Bad Gateway", 11, &e), -EPROTO);
	/* An over-long message is truncated, not refused. */
	{
		char big[1200];

		strcpy(big, "<Error><Code>X</Code><Message>");
		memset(big + strlen(big), 'm', 1000);
		strcpy(big + 30 + 1000, "</Message></Error>");
		REQUIRE(s3xml_error_parse(big, strlen(big), &e) == 0);
		CHECK_EQ_INT(strlen(e.message), sizeof(e.message) - 1);
	}
}

static void test_upload_id(void)
{
	const char *xml = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
	                  "<UploadId>VXBsb2FkIElE+/=</UploadId></InitiateMultipartUploadResult>";
	char *id = NULL;

	REQUIRE(s3xml_upload_id_parse(xml, strlen(xml), &id) == 0);
	CHECK_STR(id, "VXBsb2FkIElE+/=");
	free(id);
	id = NULL;
	xml = "<InitiateMultipartUploadResult><Bucket>b</Bucket></InitiateMultipartUploadResult>";
	CHECK_EQ_INT(s3xml_upload_id_parse(xml, strlen(xml), &id), -EPROTO);
	CHECK(id == NULL);
	xml = "<Error><Code>NoSuchBucket</Code></Error>";
	CHECK_EQ_INT(s3xml_upload_id_parse(xml, strlen(xml), &id), -EPROTO);
}

static void test_complete_build(void)
{
	S3XmlPart parts[2];
	char *xml;

	memset(parts, 0, sizeof(parts));
	parts[0].number = 1;
	strcpy(parts[0].etag, "\"a&b<c>\"");
	strcpy(parts[0].checksum, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	parts[1].number = 10000;
	strcpy(parts[1].etag, "\"e2\"");
	xml = s3xml_complete_build(parts, 2);
	REQUIRE(xml);
	CHECK_STR(xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	               "<Part><PartNumber>1</PartNumber><ETag>&quot;a&amp;b&lt;c&gt;&quot;</ETag>"
	               "<ChecksumSHA256>47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=</ChecksumSHA256></Part>"
	               "<Part><PartNumber>10000</PartNumber><ETag>&quot;e2&quot;</ETag></Part>"
	               "</CompleteMultipartUpload>");
	free(xml);
}

int main(void)
{
	RUN(test_list_page);
	RUN(test_list_classes);
	RUN(test_list_times);
	RUN(test_list_empty);
	RUN(test_list_many);
	RUN(test_list_refused);
	RUN(test_list_text_bound);
	RUN(test_error);
	RUN(test_upload_id);
	RUN(test_complete_build);
	return CHECK_EXIT();
}
