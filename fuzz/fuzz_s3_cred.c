/* fuzz_s3_cred.c — the JSON answers that carry temporary S3 credentials
 * (remote/s3/s3_credsrc.c, s3credsrc_json_parse): a `credential_process`
 * program's output (process = 1: "Version" 1, AccessKeyId,
 * SecretAccessKey, optional SessionToken and Expiration) and a container
 * or instance-metadata endpoint's answer (process = 0: "Code",
 * AccessKeyId, SecretAccessKey, Token, Expiration), and the input alone
 * as an ISO 8601 time (s3credsrc_time_parse).
 *
 * Each comes from a program or a server on the node: a broken one, or a
 * hostile one on the network path to a plain-http endpoint, must give a
 * clean error and never a crash, an overrun or half-filled credentials.
 *
 * Properties: no crash or leak; 0 or a negative errno; on failure the
 * output is untouched and the reason is a NUL-terminated, non-empty
 * string within its buffer; on success every string is NUL-terminated
 * within its field, the key ID and the secret are not empty, an endpoint
 * answer (process = 0) has a token and an expiry, and the expiry is 0
 * only when the answer gave none.
 */
#include "fuzz/fuzz.h"
#include "remote/s3/s3_credsrc.h"

static int terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void one(const uint8_t *data, size_t size, int process)
{
	S3Creds c, before;
	char why[256];
	int rc;

	memset(&c, 0xa5, sizeof c);
	before = c;
	memset(why, 0x5a, sizeof why);
	rc = s3credsrc_json_parse((const char *)data, size, process, &c, why, sizeof why);
	FUZZ_ASSERT(rc <= 0);
	if (rc < 0) {
		FUZZ_ASSERT(memcmp(&c, &before, sizeof c) == 0);
		FUZZ_ASSERT(terminated(why, sizeof why) && why[0] != '\0');
		return;
	}
	FUZZ_ASSERT(terminated(c.access_key, sizeof c.access_key) && c.access_key[0]);
	FUZZ_ASSERT(terminated(c.secret_key, sizeof c.secret_key) && c.secret_key[0]);
	FUZZ_ASSERT(terminated(c.token, sizeof c.token));
	if (!process)
		FUZZ_ASSERT(c.token[0] && c.expires_s != 0);
	s3creds_wipe(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char iso[128];
	int64_t t = 0x5a5a;

	one(data, size, 1);
	one(data, size, 0);
	if (size < sizeof iso) {
		memcpy(iso, data, size);
		iso[size] = '\0';
		if (s3credsrc_time_parse(iso, &t) < 0)
			FUZZ_ASSERT(t == 0x5a5a);
	}
	return 0;
}
