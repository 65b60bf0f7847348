/* check_verified.c — phase 8 (check_internal.h): the restore-test records
 * (store/verified.h, FORMAT.md §12b). Each must open, be named by its
 * hash and name the snapshot of its directory; one that does not is
 * damage (selection already ignores it, with a warning). Records of
 * snapshots no longer in the repository are a warning: forget leaves
 * them for prune to delete.
 */
#include "store/check/check_internal.h"

#include <stdlib.h>
#include <string.h>

#include "store/repo_internal.h"
#include "store/verified.h"

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

int check_verified(CheckCtx *c, StrataErr *err)
{
	VerifiedSet *set = NULL;
	uint8_t (*snaps)[STRATA_ID_LEN] = NULL;
	size_t nsnaps = 0, n;
	uint64_t orphans = 0, orphan_snaps = 0;
	int rc;

	check_phase(c, "verified", 0);
	/* Records first, then snapshots: a record is written after its
	 * snapshot, so one listed here has its snapshot listed below unless
	 * that snapshot is gone. */
	if ((rc = verified_load(c->repo, &set, err)) ||
	    (rc = repo_list_ids(c->repo, "snapshots/", &snaps, &nsnaps, err)))
		goto out;
	if (nsnaps)    /* none: snaps is NULL, which qsort and bsearch must not get */
		qsort(snaps, nsnaps, sizeof *snaps, cmp_id);
	for (size_t i = 0; i < verified_set_nbad(set); i++) {
		const VerifiedBad *b = verified_set_bad(set, i);
		check_report_problem(c, CHECK_P_VERIFIED, 0, b->id,
		                     "%s; selection ignores it: delete it (nothing depends on it) "
		                     "and test snapshot %02x%02x%02x%02x again with `strata verify-restore`",
		                     b->message, b->snapshot[0], b->snapshot[1], b->snapshot[2], b->snapshot[3]);
	}
	n = verified_set_count(set);
	c->r->verified_records = n;
	for (size_t i = 0; i < n; i++) {
		const VerifiedRecord *r = verified_set_at(set, i);
		if (nsnaps && bsearch(r->snapshot, snaps, nsnaps, sizeof *snaps, cmp_id))
			continue;
		orphans++;
		if (i == 0 || memcmp(verified_set_at(set, i - 1)->snapshot, r->snapshot, STRATA_ID_LEN) != 0)
			orphan_snaps++;
	}
	if (orphans)
		check_report_problem(c, CHECK_P_VERIFIED, 1, NULL,
		                     "%llu restore-test record%s of %llu snapshot%s no longer in the repository "
		                     "(forgotten): `strata prune` deletes them", (unsigned long long)orphans,
		                     orphans == 1 ? "" : "s", (unsigned long long)orphan_snaps, orphan_snaps == 1 ? "" : "s");
out:
	verified_set_free(set);
	free(snaps);
	return rc;
}
