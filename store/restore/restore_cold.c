/* restore_cold.c — a restore that meets packs in an archive storage
 * class (GLACIER, DEEP_ARCHIVE): a thaw request for every data pack the
 * whole restore needs (once), then stop with a message, or with cold_wait
 * poll until the ranges read. See restore_internal.h.
 */
#include "store/restore/restore_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/blob.h"
#include "store/repo_internal.h"

#define COLD_POLL_S      60
#define COLD_DAYS        7
#define COLD_PACKS_SORT  65536   /* dedupe the pack list every this many */

static int thaw_all(Ctx *c, uint64_t *out_pending);

static void sleep_s(unsigned s)
{
	struct timespec ts = { (time_t)s, 0 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Some ranges met archived packs: ask for every pack the restore needs to
 * be thawed (once), then stop, or with cold_wait poll until they read. */
int restore_cold_handle(Ctx *c)
{
	uint64_t pending = 0;
	size_t *again = NULL, n;
	int rc = 0;

	if (!c->thawed) {
		rc = thaw_all(c, &pending);
		if (rc)
			return rc;
		c->thawed = 1;
		c->res.cold_packs = pending;
	}
	if (!c->opts->cold_wait) {
		if (!c->res.cold_packs)
			c->res.cold_packs = c->ncold;
		return strata_err_set(c->err, -EAGAIN,
		                      "%llu packs this restore needs are in an archive storage class; a restore of "
		                      "each was requested: run the same restore again with --overwrite once they "
		                      "are readable (hours for GLACIER, up to 48 h for DEEP_ARCHIVE), or add "
		                      "--cold-wait to wait for them",
		                      (unsigned long long)c->res.cold_packs);
	}
	while (c->ncold > 0) {
		n = c->ncold;
		free(again);
		again = malloc(n * sizeof *again);
		if (!again)
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		memcpy(again, c->cold, n * sizeof *again);
		c->ncold = 0;
		c->prog.cold_pending = n;
		if (c->opts->progress)
			c->opts->progress(&c->prog, c->opts->progress_ctx);
		sleep_s(c->opts->cold_poll_s ? c->opts->cold_poll_s : COLD_POLL_S);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = restore_fetch_submit(c, again[i]);
		if (rc == 0)
			rc = restore_fetch_wait(c);
		if (rc)
			break;
	}
	c->prog.cold_pending = 0;
	free(again);
	return rc;
}

/* ---- archived packs: which packs the whole restore needs ---- */

typedef struct PackSet {
	uint8_t (*ids)[STRATA_ID_LEN];
	size_t n, cap, sorted;
} PackSet;

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

static void packset_unique(PackSet *s)
{
	size_t w = 0;

	if (s->n == 0)
		return;
	qsort(s->ids, s->n, STRATA_ID_LEN, cmp_id);
	for (size_t i = 0; i < s->n; i++)
		if (w == 0 || memcmp(s->ids[w - 1], s->ids[i], STRATA_ID_LEN) != 0)
			memmove(s->ids[w++], s->ids[i], STRATA_ID_LEN);
	s->n = w;
	s->sorted = w;
}

static int packset_add(PackSet *s, const uint8_t id[STRATA_ID_LEN])
{
	if (s->n > 0 && memcmp(s->ids[s->n - 1], id, STRATA_ID_LEN) == 0)
		return 0;     /* consecutive chunks mostly share a pack */
	if (s->n == s->cap && s->n - s->sorted >= COLD_PACKS_SORT)
		packset_unique(s);
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		void *q = realloc(s->ids, cap * STRATA_ID_LEN);
		if (!q)
			return -ENOMEM;
		s->ids = q;
		s->cap = cap;
	}
	memcpy(s->ids[s->n++], id, STRATA_ID_LEN);
	return 0;
}

/* Walk the wanted part of the snapshot (trees only: hot metadata) and
 * collect the data packs its files' chunks live in. */
static int collect_packs(Ctx *c, const uint8_t tree_id[STRATA_ID_LEN], char *path, size_t plen, PackSet *set)
{
	Tree t;
	int rc;

	rc = tree_load(c->repo, tree_id, &t, c->err);
	if (rc)
		return rc;
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		size_t nl = strlen(n->name), len = plen ? plen + 1 + nl : nl;
		int how;
		if (len >= PATH_MAX)
			continue;
		if (plen)
			path[plen] = '/';
		memcpy(path + (plen ? plen + 1 : 0), n->name, nl + 1);
		how = restore_wanted(c, path);
		if (how && n->type == NODE_DIR)
			rc = collect_packs(c, n->subtree, path, len, set);
		else if (how == 2 && n->type == NODE_FILE)
			for (size_t k = 0; k < n->nchunks && rc == 0; k++) {
				IndexEntry e;
				if (index_lookup(c->ix, BLOB_DATA, n->chunks[k], &e) == 0 && packset_add(set, e.pack))
					rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			}
		path[plen] = '\0';
	}
	tree_clear(&t);
	return rc;
}

typedef struct ThawJob {
	Ctx *ctx;
	const uint8_t *pack;
	uint64_t *pending;
} ThawJob;

static void thaw_job(void *arg, void *state)
{
	ThawJob *j = arg;
	Ctx *c = j->ctx;
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	StrataErr err = {0};
	unsigned days = c->opts->cold_days ? c->opts->cold_days : COLD_DAYS;
	int rc;

	repo_pack_name(PACK_KIND_DATA, j->pack, name);
	rc = backend_thaw(c->repo->be, name, days, &rerr);
	pthread_mutex_lock(&c->mu);
	c->res.requests++;
	if (rc == 0)
		(*j->pending)++;
	pthread_mutex_unlock(&c->mu);
	/* 1: readable already; -ENOTSUP: not archived. */
	if (rc < 0 && rc != -ENOTSUP) {
		repo_remote_err(&err, rc, &rerr);
		strata_err_prefix(&err, "requesting the restore of an archived pack");
		restore_fetch_set_fatal(c, rc, &err);
	}
	free(j);
}

/* thaw_all — a thaw request for every data pack the restore needs, in
 * parallel; *out_pending counts those not readable yet. */
static int thaw_all(Ctx *c, uint64_t *out_pending)
{
	PackSet set = {0};
	char *path = malloc(PATH_MAX);
	uint64_t pending = 0;
	int rc;

	if (!path)
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	path[0] = '\0';
	rc = collect_packs(c, c->snap->tree, path, 0, &set);
	if (rc == 0)
		packset_unique(&set);
	for (size_t i = 0; i < set.n && rc == 0; i++) {
		ThawJob *j = malloc(sizeof *j);
		if (!j) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			break;
		}
		j->ctx = c;
		j->pack = set.ids[i];
		j->pending = &pending;
		rc = workpool_submit(c->pool, thaw_job, j, 1);
		if (rc) {
			free(j);
			rc = strata_err_set(c->err, rc, "out of memory");
		}
	}
	if (rc == 0)
		rc = restore_fetch_wait(c);
	else
		workpool_wait(c->pool);
	free(set.ids);
	free(path);
	if (rc == 0)
		*out_pending = pending;
	return rc;
}
