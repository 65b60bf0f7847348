/* fuzz_config.c — the config file (FORMAT.md §7): repo_config_parse on
 * its decrypted JSON, and sealed_decode of the whole input as a sealed
 * config under the fixed key (header checks; nearly all inputs then fail
 * authentication, except the seeds, whose plaintext is parsed too).
 *
 * Properties: no crash; only documented codes; an accepted config has
 * chunker parameters the chunker accepts, a pack size above the largest
 * chunk, and a format version this binary knows, with its name hash.
 */
#include "fuzz/fuzz.h"
#include "store/format.h"
#include "store/repo_internal.h"

static void parse(const uint8_t *plain, size_t len)
{
	Repo *repo = calloc(1, sizeof *repo);
	StrataErr err = {0};
	int rc;

	FUZZ_ASSERT(repo);
	repo->keys = (CodecKeys *)(uintptr_t)fuzz_keys();
	snprintf(repo->location, sizeof repo->location, "fuzz");
	rc = repo_config_parse(repo, plain, len, &err);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT);
		FUZZ_ASSERT(err.code == rc && strstr(err.msg, "fuzz") != NULL);
	} else {
		FastCdc probe;
		uint64_t gear[256] = {0};
		FUZZ_ASSERT(fastcdc_init(&probe, gear, repo->chunk_min, repo->chunk_avg, repo->chunk_max) == 0);
		FUZZ_ASSERT(repo->pack_size > repo->chunk_max && repo->pack_size <= REPO_MAX_PACK_SIZE);
		FUZZ_ASSERT(repo->cdc.min_len == repo->chunk_min && repo->cdc.max_len == repo->chunk_max);
		FUZZ_ASSERT(strlen(repo->id_hex) == STRATA_ID_HEX_LEN);
		FUZZ_ASSERT(repo->format_version >= STRATA_FORMAT_VERSION_MIN &&
		            repo->format_version <= STRATA_FORMAT_VERSION);
		FUZZ_ASSERT(repo->name_hash == repo_name_hash_of(repo->format_version));
	}
	free(repo);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int rc;

	parse(data, size);
	rc = sealed_decode(fuzz_keys(), FORMAT_MAGIC_CONFIG, STRATA_FORMAT_VERSION, data, size, &plain, &plain_len, NULL);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION || rc == STRATA_EAUTH);
		return 0;
	}
	parse(plain, plain_len);
	free(plain);
	return 0;
}
