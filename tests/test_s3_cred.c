/* test_s3_cred.c — the parsers of credential answers (STS XML, the JSON of
 * IMDS, containers and credential_process, ISO 8601 expiries), the rule
 * for container URLs, and the bandwidth budget's arithmetic. The sources
 * themselves are driven end to end by tests/e2e_s3_cred.sh. */
#include "remote/s3/s3_credsrc.h"
#include "remote/s3/s3_rate.h"
#include "remote/s3/s3_xml.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_sts(void)
{
	const char *ok = "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
	                 "<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>x</SubjectFromWebIdentityToken>"
	                 "<Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>sek</SecretAccessKey>"
	                 "<SessionToken>tok/+=</SessionToken><Expiration>2026-12-07T15:00:00Z</Expiration>"
	                 "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
	const char *err = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
	                  "<Message>Not authorized</Message></Error><RequestId>1</RequestId></ErrorResponse>";
	const char *partial = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
	                      "</Credentials></AssumeRoleResult></AssumeRoleResponse>";
	S3XmlSts x;

	REQUIRE(s3xml_sts_parse(ok, strlen(ok), &x) == 0);
	CHECK(strcmp(x.access_key, "ASIAEXAMPLE") == 0);
	CHECK(strcmp(x.secret_key, "sek") == 0);
	CHECK(strcmp(x.token, "tok/+=") == 0);
	CHECK(strcmp(x.expiration, "2026-12-07T15:00:00Z") == 0);
	REQUIRE(s3xml_sts_parse(err, strlen(err), &x) == 1);
	CHECK(strcmp(x.code, "AccessDenied") == 0);
	CHECK(strcmp(x.message, "Not authorized") == 0);
	CHECK_EQ_INT(s3xml_sts_parse(partial, strlen(partial), &x), -EPROTO);
	CHECK(x.access_key[0] == '\0');
	CHECK_EQ_INT(s3xml_sts_parse("<a>", 3, &x), -EPROTO);
}

static void test_time(void)
{
	int64_t t = 0;

	CHECK_EQ_INT(s3credsrc_time_parse("1970-01-02T00:00:00Z", &t), 0);
	CHECK_EQ_INT(t, 86400);
	CHECK_EQ_INT(s3credsrc_time_parse("2026-12-07T15:04:05.123Z", &t), 0);
	CHECK_EQ_INT(t, 1796655845);
	CHECK_EQ_INT(s3credsrc_time_parse("2026-12-07T15:04:05+00:00", &t), 0);
	CHECK_EQ_INT(s3credsrc_time_parse("2026-12-07T15:04:05+02:00", &t), -EINVAL);
	CHECK_EQ_INT(s3credsrc_time_parse("tomorrow", &t), -EINVAL);
}

static void test_json(void)
{
	const char *imds = "{\"Code\":\"Success\",\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\","
	                   "\"Token\":\"T\",\"Expiration\":\"1970-01-01T01:00:00Z\"}";
	const char *fail = "{\"Code\":\"Failure\",\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\","
	                   "\"Token\":\"T\",\"Expiration\":\"1970-01-01T01:00:00Z\"}";
	const char *proc = "{\"Version\":1,\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\"}";
	const char *proc2 = "{\"Version\":2,\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\"}";
	const char *notok = "{\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\",\"Expiration\":\"1970-01-01T01:00:00Z\"}";
	const char *epoch = "{\"Code\":\"Success\",\"AccessKeyId\":\"K\",\"SecretAccessKey\":\"S\","
	                    "\"Token\":\"T\",\"Expiration\":\"1970-01-01T00:00:00Z\"}";
	char why[200];
	S3Creds c;

	REQUIRE(s3credsrc_json_parse(imds, strlen(imds), 0, &c, why, sizeof why) == 0);
	CHECK(strcmp(c.access_key, "K") == 0 && strcmp(c.secret_key, "S") == 0 && strcmp(c.token, "T") == 0);
	CHECK_EQ_INT(c.expires_s, 3600);
	CHECK_EQ_INT(s3credsrc_json_parse(fail, strlen(fail), 0, &c, why, sizeof why), -EACCES);
	CHECK(strstr(why, "Failure") != NULL);
	REQUIRE(s3credsrc_json_parse(proc, strlen(proc), 1, &c, why, sizeof why) == 0);
	CHECK(c.token[0] == '\0' && c.expires_s == 0);
	CHECK_EQ_INT(s3credsrc_json_parse(proc2, strlen(proc2), 1, &c, why, sizeof why), -EIO);
	CHECK_EQ_INT(s3credsrc_json_parse(notok, strlen(notok), 0, &c, why, sizeof why), -EIO);
	CHECK(strstr(why, "Token") != NULL);
	CHECK_EQ_INT(s3credsrc_json_parse("[1]", 3, 0, &c, why, sizeof why), -EIO);
	/* An expiry at the epoch would read as "does not expire" (0). */
	CHECK_EQ_INT(s3credsrc_json_parse(epoch, strlen(epoch), 0, &c, why, sizeof why), -EIO);
	CHECK(strcmp(why, "answer's \"Expiration\" \"1970-01-01T00:00:00Z\" is not an ISO 8601 UTC time after 1970") == 0);
}

static void test_container_url(void)
{
	CHECK(s3credsrc_container_url_ok("https://creds.example.com/x"));
	CHECK(s3credsrc_container_url_ok("http://127.0.0.1:4242/creds"));
	CHECK(s3credsrc_container_url_ok("http://localhost/creds"));
	CHECK(s3credsrc_container_url_ok("http://169.254.170.2/v2/credentials/x"));
	CHECK(s3credsrc_container_url_ok("http://169.254.170.23/v1/credentials"));
	CHECK(!s3credsrc_container_url_ok("http://10.0.0.1/creds"));
	CHECK(!s3credsrc_container_url_ok("http://127.0.0.1.evil.example/creds"));
	CHECK(!s3credsrc_container_url_ok("http://localhost.evil.example/creds"));
	CHECK(!s3credsrc_container_url_ok("http://user@127.0.0.1/creds"));
	CHECK(!s3credsrc_container_url_ok("ftp://127.0.0.1/creds"));
}

static void test_rate(void)
{
	S3RateClock c = { 1000, 0 };

	/* 1000 B/s: 500 bytes take the next 0.5 s. */
	CHECK_EQ_INT(s3rate_reserve(&c, 500, 0), 0);
	CHECK_EQ_INT(c.next_ns, 500000000);
	/* The next transfer waits for the first's time. */
	CHECK_EQ_INT(s3rate_reserve(&c, 1000, 100000000), 400000000);
	CHECK_EQ_INT(c.next_ns, 1500000000);
	/* Idle time earns no burst. */
	CHECK_EQ_INT(s3rate_reserve(&c, 1000, 5000000000), 0);
	CHECK_EQ_INT(c.next_ns, 6000000000);
}

int main(void)
{
	RUN(test_sts);
	RUN(test_time);
	RUN(test_json);
	RUN(test_container_url);
	RUN(test_rate);
	return CHECK_EXIT();
}
