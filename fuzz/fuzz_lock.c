/* fuzz_lock.c — lock files (FORMAT.md §19.1): lock_record_parse on the
 * input as the decrypted JSON of a lock, and lock_record_decode of the
 * whole input as a sealed lock file under the fixed key (header and length
 * checks; nearly all inputs then fail authentication, whatever version
 * they claim, except the seeds, whose plaintext is parsed too).
 *
 * Another process's lock is read by every command that takes a lock, and
 * `strata unlock` prints it: a damaged or planted lock must fail cleanly.
 *
 * Properties: no crash or leak; only documented codes; a failure leaves
 * the output record untouched; an accepted record has a known mode and
 * NUL-terminated strings; re-encoding it and decoding the result gives the
 * same record; an accepted plaintext sealed as a lock file decodes to the
 * same record as the plaintext alone. And the input as a host, user and
 * command name of this machine: lock_text_copy makes a record that
 * encodes (valid UTF-8) and round-trips, leaves valid text that fits as it
 * is, and copying its output again changes nothing.
 */
#include <jansson.h>

#include "fuzz/fuzz.h"
#include "store/format.h"
#include "store/lock_internal.h"
#include "store/repo_internal.h"


static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int same(const LockRecord *a, const LockRecord *b)
{
	return a->mode == b->mode && strcmp(a->command, b->command) == 0 &&
	       strcmp(a->host, b->host) == 0 && strcmp(a->user, b->user) == 0 &&
	       strcmp(a->machine, b->machine) == 0 && a->pid == b->pid &&
	       a->pid_start == b->pid_start && a->created_ns == b->created_ns &&
	       a->refreshed_ns == b->refreshed_ns && a->stale_after_s == b->stale_after_s;
}

/* What every accepted record must satisfy. */
static void check_accepted(const LockRecord *r)
{
	LockRecord again;
	uint8_t *buf = NULL;
	size_t len = 0;

	FUZZ_ASSERT(r->mode == LOCK_SHARED || r->mode == LOCK_MARK || r->mode == LOCK_EXCLUSIVE);
	FUZZ_ASSERT(terminated(r->command, sizeof r->command));
	FUZZ_ASSERT(terminated(r->host, sizeof r->host));
	FUZZ_ASSERT(terminated(r->user, sizeof r->user));
	FUZZ_ASSERT(terminated(r->machine, sizeof r->machine));
	/* The refresher re-encodes a record like this one every few minutes. */
	FUZZ_ASSERT(lock_record_encode(fuzz_keys(), r, &buf, &len) == 0);
	FUZZ_ASSERT(len <= LOCK_RECORD_MAX_BYTES);
	FUZZ_ASSERT(lock_record_decode(fuzz_keys(), buf, len, &again) == 0);
	FUZZ_ASSERT(same(r, &again));
	free(buf);
}

/* A failed decode must not have written its output. */
static void check_untouched(const LockRecord *r)
{
	const uint8_t *p = (const uint8_t *)r;

	for (size_t i = 0; i < sizeof *r; i++)
		FUZZ_ASSERT(p[i] == 0xa5);
}

/* The input as names the local machine supplies (lock_acquire). */
static void check_local_names(const uint8_t *data, size_t size)
{
	char *src = malloc(size + 1), again[sizeof ((LockRecord *)0)->user];
	LockRecord r, back;
	uint8_t *buf = NULL;
	size_t len = 0;

	FUZZ_ASSERT(src);
	memcpy(src, data, size);
	src[size] = '\0';
	memset(&r, 0, sizeof r);
	r.mode = LOCK_SHARED;
	lock_text_copy(r.host, sizeof r.host, src);
	lock_text_copy(r.user, sizeof r.user, src);
	lock_text_copy(r.command, sizeof r.command, src);
	FUZZ_ASSERT(lock_record_encode(fuzz_keys(), &r, &buf, &len) == 0);
	FUZZ_ASSERT(lock_record_decode(fuzz_keys(), buf, len, &back) == 0);
	FUZZ_ASSERT(same(&r, &back));
	free(buf);
	/* Idempotent, and a prefix of what was cut. */
	lock_text_copy(again, sizeof again, r.user);
	FUZZ_ASSERT(strcmp(again, r.user) == 0);
	FUZZ_ASSERT(strncmp(r.user, r.host, strlen(r.user)) == 0);
	/* Text jansson accepts as UTF-8 and that fits is copied unchanged. */
	if (strlen(src) < sizeof r.host) {
		json_t *j = json_string(src);
		if (j)
			FUZZ_ASSERT(strcmp(r.host, src) == 0);
		json_decref(j);
	}
	free(src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LockRecord r, sealed_r;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	check_local_names(data, size);

	memset(&r, 0xa5, sizeof r);
	rc = lock_record_parse(data, size, &r);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT);
		check_untouched(&r);
	} else {
		check_accepted(&r);
		/* The same plaintext as a lock file decodes to the same record. */
		if (size <= LOCK_RECORD_MAX_BYTES / 2) {
			FUZZ_ASSERT(sealed_encode(fuzz_keys(), FORMAT_MAGIC_LOCK, FORMAT_VERSION_LOCK, data, size,
			                          &buf, &len) == 0);
			FUZZ_ASSERT(lock_record_decode(fuzz_keys(), buf, len, &sealed_r) == 0);
			FUZZ_ASSERT(same(&r, &sealed_r));
			free(buf);
		}
	}

	memset(&r, 0xa5, sizeof r);
	rc = lock_record_decode(fuzz_keys(), data, size, &r);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION || rc == STRATA_EAUTH ||
		            rc == STRATA_EDAMAGED);
		check_untouched(&r);
		return 0;
	}
	check_accepted(&r);
	return 0;
}
