/* fuzz_verified.c — restore-test records (FORMAT.md §12b):
 * verified_record_parse on the input as the decrypted JSON of a record,
 * and the input as a whole sealed record under the fixed key
 * (sealed_decode with magic STRATAVR, then the parse; nearly every
 * mutation fails authentication, the seeds do not).
 *
 * Every `snapshots`, `restore --verified` and `check` reads every record
 * of the repository: a damaged or planted one must fail cleanly, and one
 * that parses must never pass for a test it was not.
 *
 * Properties: no crash or leak; only STRATA_EFORMAT or STRATA_EVERSION
 * from the parse (plus STRATA_EAUTH from the envelope); a failure leaves
 * the output untouched; an accepted record has NUL-terminated strings, a
 * known outcome, the exit status and signal its outcome allows, a name of
 * 1..VERIFIED_NAME_MAX bytes, and "passed" only with exit status 0 and no
 * signal; unless its outcome is one a newer strata wrote, it re-encodes,
 * within VERIFIED_MAX_BYTES, to a plaintext that parses to the same
 * record and re-encodes to the same bytes.
 */
#include "fuzz/fuzz.h"
#include "store/format.h"
#include "store/repo_internal.h"
#include "store/verified.h"


static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int same(const VerifiedRecord *a, const VerifiedRecord *b)
{
	return memcmp(a->snapshot, b->snapshot, STRATA_ID_LEN) == 0 && a->snapshot_time_ns == b->snapshot_time_ns &&
	       a->time_ns == b->time_ns && a->outcome == b->outcome && a->exit_status == b->exit_status &&
	       a->signal == b->signal && a->timeout_s == b->timeout_s && a->files == b->files &&
	       a->bytes == b->bytes && !strcmp(a->name, b->name) && !strcmp(a->host, b->host) &&
	       !strcmp(a->user, b->user) && !strcmp(a->detail, b->detail);
}

static void check_untouched(const VerifiedRecord *r)
{
	const uint8_t *p = (const uint8_t *)r;

	for (size_t i = 0; i < sizeof *r; i++)
		FUZZ_ASSERT(p[i] == 0xa5);
}

static void check_accepted(const VerifiedRecord *r)
{
	VerifiedRecord again;
	char *json = NULL, *json2 = NULL;
	size_t nlen;

	FUZZ_ASSERT(terminated(r->name, sizeof r->name));
	FUZZ_ASSERT(terminated(r->host, sizeof r->host));
	FUZZ_ASSERT(terminated(r->user, sizeof r->user));
	FUZZ_ASSERT(terminated(r->detail, sizeof r->detail));
	nlen = strlen(r->name);
	FUZZ_ASSERT(nlen >= 1 && nlen <= VERIFIED_NAME_MAX);
	FUZZ_ASSERT(r->outcome >= VERIFIED_PASSED && r->outcome <= VERIFIED_UNKNOWN);
	FUZZ_ASSERT(r->exit_status >= -1 && r->exit_status <= 255);
	FUZZ_ASSERT(r->signal >= 0 && r->signal <= 127);
	FUZZ_ASSERT(r->timeout_s >= 0);
	if (r->outcome == VERIFIED_PASSED)
		FUZZ_ASSERT(r->exit_status == 0 && r->signal == 0);
	if (r->outcome == VERIFIED_UNKNOWN) {
		/* This strata never writes an outcome it does not know. */
		FUZZ_ASSERT(verified_record_json(r, &json) == STRATA_EFORMAT && json == NULL);
		return;
	}
	FUZZ_ASSERT(verified_record_json(r, &json) == 0);
	FUZZ_ASSERT(strlen(json) <= VERIFIED_MAX_BYTES);
	memset(&again, 0xa5, sizeof again);
	FUZZ_ASSERT(verified_record_parse((const uint8_t *)json, strlen(json), &again) == 0);
	FUZZ_ASSERT(same(r, &again));
	FUZZ_ASSERT(verified_record_json(&again, &json2) == 0);
	FUZZ_ASSERT(strcmp(json, json2) == 0);
	free(json);
	free(json2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	VerifiedRecord r;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int rc;

	memset(&r, 0xa5, sizeof r);
	rc = verified_record_parse(data, size, &r);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		check_untouched(&r);
	} else {
		check_accepted(&r);
	}

	rc = sealed_decode(fuzz_keys(), FORMAT_MAGIC_VERIFIED, FORMAT_VERSION_VERIFIED, data, size, &plain, &plain_len, NULL);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION || rc == STRATA_EAUTH);
		FUZZ_ASSERT(plain == NULL);
		return 0;
	}
	memset(&r, 0xa5, sizeof r);
	rc = verified_record_parse(plain, plain_len, &r);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		check_untouched(&r);
	} else {
		check_accepted(&r);
	}
	free(plain);
	return 0;
}
