/* fuzz_snapshot.c — snapshot_decode on the decrypted JSON of a snapshot
 * file (FORMAT.md §12).
 *
 * Properties: no crash or leak; only documented codes; a failure leaves
 * the snapshot empty; an accepted one has host, user and every path, tag
 * and label as NUL-terminated strings, and a parent only when it says so.
 */
#include "fuzz/fuzz.h"
#include "store/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t id[STRATA_ID_LEN] = {0xf0, 0x0d};
	Snapshot s;
	StrataErr err = {0};
	int rc;

	rc = snapshot_decode(id, data, size, &s, &err);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		FUZZ_ASSERT(err.code == rc && strstr(err.msg, "f00d") != NULL);
		FUZZ_ASSERT(s.host == NULL && s.paths == NULL && s.npaths == 0 && s.nlabels == 0);
		return 0;
	}
	FUZZ_ASSERT(memcmp(s.id, id, STRATA_ID_LEN) == 0);
	FUZZ_ASSERT(s.host && s.user);
	for (size_t i = 0; i < s.npaths; i++)
		FUZZ_ASSERT(s.paths[i] != NULL);
	for (size_t i = 0; i < s.ntags; i++)
		FUZZ_ASSERT(s.tags[i] != NULL);
	for (size_t i = 0; i < s.nlabels; i++) {
		FUZZ_ASSERT(s.labels[i] != NULL);
		/* A "k=v" label is found by its key. */
		const char *eq = strchr(s.labels[i], '=');
		if (eq && eq != s.labels[i] && (size_t)(eq - s.labels[i]) < 64) {
			char key[64];
			memcpy(key, s.labels[i], (size_t)(eq - s.labels[i]));
			key[eq - s.labels[i]] = '\0';
			FUZZ_ASSERT(snapshot_label(&s, key) != NULL);
		}
	}
	if (!s.has_parent) {
		static const uint8_t zero[STRATA_ID_LEN];
		FUZZ_ASSERT(memcmp(s.parent, zero, STRATA_ID_LEN) == 0);
	}
	snapshot_clear(&s);
	snapshot_clear(&s);   /* clearing twice is safe */
	return 0;
}
