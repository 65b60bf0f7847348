/* check_thaw.c — read-data over archived packs (check_internal.h): which
 * of the selected packs can be read now, which must be thawed first
 * (backend_thaw: S3 RestoreObject), within the budget of
 * CheckOptions.max_thaw_bytes, and the wait for them with cold_wait.
 * A pack counts as archived when the structure check found it cold
 * (CheckPack.cold: its listing named GLACIER or DEEP_ARCHIVE and a HEAD
 * showed no readable thawed copy, or a GET answered InvalidObjectState).
 *
 * Why the budget trims in ID order: a weekly `--read-data-subset N/7
 * --thaw --max-thaw-bytes B` must thaw the same packs when run twice
 * (a retry after a failure pays no second retrieval), and the report says
 * exactly which part of the slice was left out.
 */
#include "store/check/check_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/repo_internal.h"

#define THAW_DAYS_DEFAULT 7      /* days a thawed copy stays readable: a week's checks */
#define THAW_POLL_S_DEFAULT 60   /* as restore --cold-poll: a GLACIER thaw takes hours */

typedef struct ColdRef {
	uint8_t id[STRATA_ID_LEN];
	size_t pack;                 /* index in CheckCtx.packs */
	uint64_t size;
	int state;                   /* THAW_* */
} ColdRef;

enum { THAW_PENDING = 0, THAW_READY = 1, THAW_FAILED = 2 };

typedef struct ThawJob {
	CheckCtx *c;
	ColdRef *ref;
	unsigned days;
} ThawJob;

static int cmp_ref(const void *a, const void *b)
{
	return memcmp(((const ColdRef *)a)->id, ((const ColdRef *)b)->id, STRATA_ID_LEN);
}

static void sleep_s(unsigned s)
{
	struct timespec ts = { (time_t)s, 0 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One RestoreObject: 1 (a thawed copy is readable), 0 (requested now or
 * under way), -ENOTSUP (the store says the object is not archived after
 * all: read it). */
static void thaw_job(void *arg, void *state)
{
	ThawJob *j = arg;
	CheckCtx *c = j->c;
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	StrataErr e = {0};
	int rc;

	(void)state;
	if (check_is_fatal(c))
		goto out;
	repo_pack_name(PACK_KIND_DATA, j->ref->id, name);
	rc = backend_thaw(c->repo->be, name, j->days, &rerr);
	pthread_mutex_lock(&c->mu);
	c->r->thaw_requested++;
	if (rc == 1 || rc == -ENOTSUP) {
		j->ref->state = THAW_READY;
	} else if (rc < 0) {
		j->ref->state = THAW_FAILED;
		repo_remote_err(&e, rc, &rerr);
		strata_err_prefix(&e, "requesting the restore of an archived pack");
		check_fatal_locked(c, rc, &e, "requesting the restore of an archived pack");
	}
	check_step_locked(c);
	pthread_mutex_unlock(&c->mu);
out:
	free(j);
}

/* A thaw request for every pending ref, in parallel; the number still
 * pending afterwards in *out_pending. */
static int thaw_round(CheckCtx *c, ColdRef *refs, size_t n, size_t *out_pending, StrataErr *err)
{
	unsigned days = c->opts->cold_days ? c->opts->cold_days : THAW_DAYS_DEFAULT;
	size_t pending = 0;

	for (size_t i = 0; i < n; i++) {
		ThawJob *j;
		if (refs[i].state != THAW_PENDING)
			continue;
		if (!(j = malloc(sizeof *j))) {
			workpool_wait(c->pool);
			return strata_err_set(err, -ENOMEM, "out of memory");
		}
		j->c = c;
		j->ref = &refs[i];
		j->days = days;
		if (workpool_submit(c->pool, thaw_job, j, 1) != 0) {
			free(j);
			workpool_wait(c->pool);
			return strata_err_set(err, -ENOMEM, "out of memory");
		}
	}
	workpool_wait(c->pool);
	for (size_t i = 0; i < n; i++)
		pending += refs[i].state == THAW_PENDING;
	*out_pending = pending;
	return 0;
}

int check_thaw_select(CheckCtx *c, size_t *sel, size_t *nsel, StrataErr *err)
{
	const CheckOptions *o = c->opts;
	CheckReport *r = c->r;
	ColdRef *refs;
	size_t keep = 0, n = 0, nthaw = 0, pending = 0;
	uint64_t sum = 0;
	int rc = 0;

	refs = malloc((*nsel ? *nsel : 1) * sizeof *refs);
	if (!refs)
		return strata_err_set(err, -ENOMEM, "out of memory");
	/* Packs readable now stay in sel, in their order. */
	for (size_t i = 0; i < *nsel; i++) {
		const CheckPack *p = &c->packs[sel[i]];
		if (!p->cold) {
			sel[keep++] = sel[i];
			continue;
		}
		memcpy(refs[n].id, p->id, STRATA_ID_LEN);
		refs[n].pack = sel[i];
		refs[n].size = p->size;
		refs[n].state = THAW_PENDING;
		n++;
	}
	if (!o->thaw) {
		for (size_t i = 0; i < n; i++) {
			r->cold_unread++;
			r->cold_unread_bytes += refs[i].size;
		}
		goto done;
	}
	qsort(refs, n, sizeof *refs, cmp_ref);
	/* The budget: the first packs in ID order that fit. */
	for (nthaw = 0; nthaw < n; nthaw++) {
		if (o->max_thaw_bytes && sum + refs[nthaw].size > o->max_thaw_bytes)
			break;
		sum += refs[nthaw].size;
	}
	for (size_t i = nthaw; i < n; i++) {
		r->thaw_trimmed++;
		r->thaw_trimmed_bytes += refs[i].size;
	}
	check_phase(c, "thaw", nthaw);
	rc = thaw_round(c, refs, nthaw, &pending, err);
	while (rc == 0 && pending && o->cold_wait && !check_is_fatal(c)) {
		sleep_s(o->cold_poll_s ? o->cold_poll_s : THAW_POLL_S_DEFAULT);
		check_phase(c, "thaw", pending);
		rc = thaw_round(c, refs, nthaw, &pending, err);
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < nthaw; i++) {
		if (refs[i].state == THAW_READY) {
			sel[keep++] = refs[i].pack;
			r->thaw_read++;
			r->thaw_read_bytes += refs[i].size;
		} else {
			r->cold_unread++;
			r->cold_unread_bytes += refs[i].size;
		}
	}
done:
	*nsel = keep;
out:
	free(refs);
	return rc;
}
