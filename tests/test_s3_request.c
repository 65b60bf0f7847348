/* test_s3_request.c — unit tests for what an S3 request says, built
 * without a network: the location parsed into the URL base, bucket,
 * prefix, region and storage classes (remote/s3/s3_config.c), the exact
 * URL and header lines s3http_call sends (s3http_url, s3http_headers),
 * SigV4 percent-encoding (s3http_encode) and the ListObjectsV2 query
 * (s3_list_query), plus the messages of refused locations.
 * The environment is set here: credentials, no region, no AWS files
 * (the credential chain itself: s3_cred.c). */
#include "remote/s3/s3_config.h"
#include "remote/s3/s3_http.h"
#include "remote/s3/s3_internal.h"
#include "tests/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void clean_env(void)
{
	static const char *const vars[] = {
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN", "STRATA_S3_STORAGE_CLASS",
		"STRATA_S3_CA_BUNDLE", "STRATA_S3_INSECURE_TLS", "STRATA_S3_RETRIES", "STRATA_S3_LOW_SPEED_TIME",
		"STRATA_S3_TRANSFERS", "STRATA_S3_LIST_MAX_PAGES", "STRATA_S3_LIST_MAX_KEYS",
	};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/strata-test/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/strata-test/credentials", 1);
}

static void test_encode(void)
{
	char *s;

	s = s3http_encode("data/ab cd+é~_.-", 1);
	CHECK_STR(s, "data/ab%20cd%2B%C3%A9~_.-");
	free(s);
	s = s3http_encode("a/b=c&d", 0);
	CHECK_STR(s, "a%2Fb%3Dc%26d");
	free(s);
	s = s3http_encode("", 0);
	CHECK_STR(s, "");
	free(s);
}

static void test_path_style(void)
{
	S3Config c;
	RemoteErr err = {{0}};
	char *url;

	clean_env();
	REQUIRE(s3config_parse("s3:http://127.0.0.1:9000/bucket/some/prefix/?region=eu-west-3", &c, &err) == 0);
	CHECK_STR(c.url_base, "http://127.0.0.1:9000/bucket");
	CHECK(c.path_style);
	CHECK_STR(c.bucket, "bucket");
	CHECK_STR(c.prefix, "some/prefix/");
	CHECK_STR(c.region, "eu-west-3");
	CHECK(c.cred != NULL);
	CHECK_EQ_INT(c.attempts, 6);
	CHECK_EQ_INT(c.transfers, S3CONFIG_TRANSFERS_DEFAULT);
	CHECK_EQ_INT(c.low_speed_time_s, 60);
	CHECK_EQ_INT(c.connect_timeout_s, 10);
	url = s3http_url(&c, "some/prefix/data/ab cd", NULL);
	CHECK_STR(url, "http://127.0.0.1:9000/bucket/some/prefix/data/ab%20cd");
	free(url);
	/* a bucket request: no trailing slash on a path-style base */
	url = s3http_url(&c, NULL, "list-type=2&max-keys=1000&prefix=x");
	CHECK_STR(url, "http://127.0.0.1:9000/bucket?list-type=2&max-keys=1000&prefix=x");
	free(url);
	s3config_free(&c);
}

static void test_virtual_host(void)
{
	S3Config c;
	RemoteErr err = {{0}};
	char *url;

	clean_env();
	setenv("AWS_REGION", "us-west-2", 1);
	setenv("STRATA_S3_TRANSFERS", "3", 1);
	setenv("STRATA_S3_RETRIES", "0", 1);
	REQUIRE(s3config_parse("s3://my-bucket/backups/host1", &c, &err) == 0);
	CHECK_STR(c.url_base, "https://my-bucket.s3.us-west-2.amazonaws.com");
	CHECK(!c.path_style);
	CHECK_STR(c.prefix, "backups/host1/");
	CHECK_EQ_INT(c.transfers, 3);
	CHECK_EQ_INT(c.attempts, 1);
	url = s3http_url(&c, NULL, "restore=");
	CHECK_STR(url, "https://my-bucket.s3.us-west-2.amazonaws.com/?restore=");
	free(url);
	s3config_free(&c);
	/* a dotted bucket goes path-style (the wildcard certificate) */
	REQUIRE(s3config_parse("s3://my.bucket?transfers=16", &c, &err) == 0);
	CHECK_STR(c.url_base, "https://s3.us-west-2.amazonaws.com/my.bucket");
	CHECK(c.path_style);
	CHECK_STR(c.prefix, "");
	CHECK_EQ_INT(c.transfers, 16);
	s3config_free(&c);
	/* no region anywhere: us-east-1 */
	clean_env();
	REQUIRE(s3config_parse("s3://b", &c, &err) == 0);
	CHECK_STR(c.region, "us-east-1");
	CHECK_STR(c.url_base, "https://b.s3.us-east-1.amazonaws.com");
	s3config_free(&c);
}

static void test_storage_classes(void)
{
	S3Config c;
	RemoteErr err = {{0}};

	clean_env();
	REQUIRE(s3config_parse("s3:https://h/b?storage_class=data=GLACIER,metadata=STANDARD_IA", &c, &err) == 0);
	CHECK_STR(s3config_storage_class(&c, "data/00/ab"), "GLACIER");
	CHECK_STR(s3config_storage_class(&c, "index/ab"), "STANDARD_IA");
	CHECK(s3config_storage_class(&c, "locks/ab") == NULL);
	s3config_free(&c);
	/* STANDARD is sent as no header at all */
	setenv("STRATA_S3_STORAGE_CLASS", "data=STANDARD", 1);
	REQUIRE(s3config_parse("s3:https://h/b", &c, &err) == 0);
	CHECK(s3config_storage_class(&c, "data/x") == NULL);
	CHECK(s3config_storage_class(&c, "snapshots/x") == NULL);
	s3config_free(&c);
}

static void test_bad_locations(void)
{
	static const struct { const char *loc; int rc; const char *msg; } cases[] = {
		{ "s3:ftp://h/b", -EINVAL, "s3:ftp://h/b: expected s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX] or s3://BUCKET[/PREFIX]" },
		{ "s3:http://user@h/b", -EINVAL, "s3:http://user@h/b: missing or invalid host" },
		{ "s3:http://h/", -EINVAL, "s3:http://h/: missing or invalid bucket name" },
		{ "s3://b?colour=red", -EINVAL, "s3://b: unknown location option \"colour=red\" (see `strata help`: region=, profile=, storage_class=, sse=, object_lock_days=, ...)" },
		{ "s3://b?region=EU", -EINVAL, "s3://b: invalid region \"EU\"" },
		{ "s3://b?transfers=0", -EINVAL, NULL },
		{ "s3://b?storage_class=cold", -EINVAL, "s3://b: bad storage class setting \"cold\": expected data=CLASS,metadata=CLASS (e.g. data=GLACIER,metadata=STANDARD)" },
		{ "s3://b/x/../y", -EINVAL, "s3://b/x/../y: invalid key prefix \"x/../y\"" },
		{ "s3://b/x//y/", -EINVAL, "s3://b/x//y/: invalid key prefix \"x//y\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		S3Config c;
		RemoteErr err = {{0}};
		clean_env();
		CHECK_EQ_INT(s3config_parse(cases[i].loc, &c, &err), cases[i].rc);
		if (cases[i].msg)
			CHECK_STR(err.msg, cases[i].msg);
		else
			CHECK(strncmp(err.msg, "s3://b: ", 8) == 0);   /* the location without its options */
	}
}

static int always(const uint8_t *body, size_t len, const char *b64)
{
	(void)body; (void)len; (void)b64;
	return 0;
}

static void test_headers(void)
{
	S3Config c;
	RemoteErr err = {{0}};
	S3HttpHeaders h;
	S3Req rq;

	clean_env();
	REQUIRE(s3config_parse("s3:http://h/b", &c, &err) == 0);
	/* a bodiless GET, with a session token */
	memset(&rq, 0, sizeof rq);
	rq.method = "GET";
	rq.key = "config";
	REQUIRE(s3http_headers(&c, &rq, "tok", 0, &h) == 0);
	REQUIRE(h.n == 2);
	CHECK_STR(h.line[0], "x-amz-content-sha256: " S3HTTP_EMPTY_SHA256);
	CHECK_STR(h.line[1], "x-amz-security-token: tok");
	s3http_headers_free(&h);
	CHECK_EQ_INT(h.n, 0);
	/* a PUT with every header, in the order sent; SSE and Object Lock
	 * set as the location's options would (s3_config.h), retention 30
	 * days from 2024-01-02 03:04:05 UTC */
	char sse[] = "aws:kms", kms[] = "key-1";

	c.sse = sse;
	c.kms_key_id = kms;
	c.lock_mode = "COMPLIANCE";
	c.lock_days = 30;
	memset(&rq, 0, sizeof rq);
	rq.method = "PUT";
	rq.payload_sha256 = "abc123";
	rq.checksum_sha256 = "q83v";
	rq.storage_class = "GLACIER";
	rq.content_type = "application/octet-stream";
	rq.sse = 1;
	rq.lock = 1;
	rq.extra_header = "x-amz-checksum-algorithm: SHA256";
	REQUIRE(s3http_headers(&c, &rq, "", 1704164645, &h) == 0);
	REQUIRE(h.n == 9);
	CHECK_STR(h.line[0], "x-amz-content-sha256: abc123");
	CHECK_STR(h.line[1], "x-amz-checksum-sha256: q83v");
	CHECK_STR(h.line[2], "x-amz-storage-class: GLACIER");
	CHECK_STR(h.line[3], "Content-Type: application/octet-stream");
	CHECK_STR(h.line[4], "x-amz-server-side-encryption: aws:kms");
	CHECK_STR(h.line[5], "x-amz-server-side-encryption-aws-kms-key-id: key-1");
	CHECK_STR(h.line[6], "x-amz-object-lock-mode: COMPLIANCE");
	CHECK_STR(h.line[7], "x-amz-object-lock-retain-until-date: 2024-02-01T03:04:05Z");
	CHECK_STR(h.line[8], "x-amz-checksum-algorithm: SHA256");
	s3http_headers_free(&h);
	c.sse = NULL;
	c.kms_key_id = NULL;
	c.lock_mode = NULL;
	/* a ranged GET: the last byte is inclusive */
	memset(&rq, 0, sizeof rq);
	rq.method = "GET";
	rq.ranged = 1;
	rq.range_off = 5000000000ULL;
	rq.range_len = 4096;
	REQUIRE(s3http_headers(&c, &rq, NULL, 0, &h) == 0);
	REQUIRE(h.n == 2);
	CHECK_STR(h.line[1], "Range: bytes=5000000000-5000004095");
	s3http_headers_free(&h);
	/* a whole-object GET checked against its stored hash asks for it */
	memset(&rq, 0, sizeof rq);
	rq.method = "GET";
	rq.check_body = always;
	REQUIRE(s3http_headers(&c, &rq, NULL, 0, &h) == 0);
	REQUIRE(h.n == 2);
	CHECK_STR(h.line[1], "x-amz-checksum-mode: ENABLED");
	s3http_headers_free(&h);
	s3config_free(&c);
}

static void test_list_query(void)
{
	char *q, *p = s3http_encode("pre fix/data/", 0), *t = s3http_encode("1/abc+=", 0);

	q = s3_list_query(NULL, p);
	CHECK_STR(q, "list-type=2&max-keys=1000&prefix=pre%20fix%2Fdata%2F");
	free(q);
	q = s3_list_query(t, p);
	CHECK_STR(q, "continuation-token=1%2Fabc%2B%3D&list-type=2&max-keys=1000&prefix=pre%20fix%2Fdata%2F");
	free(q);
	free(p);
	free(t);
}

/* The minimum data pack size kept per storage class (s3.md "Storage
 * classes and pack sizes"). */
static void test_class_minimum(void)
{
	CHECK(s3config_min_object(NULL) == 0);
	CHECK(s3config_min_object("STANDARD") == 0);
	CHECK(s3config_min_object("STANDARD_IA") == 131072);
	CHECK(s3config_min_object("ONEZONE_IA") == 131072);
	CHECK(s3config_min_object("GLACIER_IR") == 131072);
	CHECK(s3config_min_object("INTELLIGENT_TIERING") == 131072);
	CHECK(s3config_min_object("GLACIER") == 0);
	CHECK(s3config_min_object("DEEP_ARCHIVE") == 0);
	CHECK(s3config_min_object("standard_ia") == 0);
}

int main(void)
{
	RUN(test_encode);
	RUN(test_path_style);
	RUN(test_virtual_host);
	RUN(test_storage_classes);
	RUN(test_class_minimum);
	RUN(test_bad_locations);
	RUN(test_headers);
	RUN(test_list_query);
	return CHECK_EXIT();
}
