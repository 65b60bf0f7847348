/* check_report.c — the damage report as the check fills it: problems,
 * damaged chunks (one record per chunk and location, limited by
 * CHECK_MAX_CHUNKS) and the snapshot entries that depend on each, its
 * final order and its freeing. check_internal.h. */
#include "store/check/check_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Add a problem; caller holds c->mu. */
static void vproblem_locked(CheckCtx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                            const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void vproblem_locked(CheckCtx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                            const char *fmt, va_list ap)
{
	CheckReport *r = c->r;
	CheckProblem *p;

	if (r->nproblems % 16 == 0) {
		void *q = realloc(r->problems, (r->nproblems + 16) * sizeof *r->problems);
		if (!q) {
			check_fatal_locked(c, -ENOMEM, NULL, "recording a problem");
			return;
		}
		r->problems = q;
	}
	p = &r->problems[r->nproblems++];
	memset(p, 0, sizeof *p);
	p->kind = kind;
	p->warning = warning;
	if (object) {
		memcpy(p->object, object, STRATA_ID_LEN);
		p->has_object = 1;
	}
	vsnprintf(p->message, sizeof p->message, fmt, ap);
	if (warning)
		r->warnings++;
	else
		r->damage++;
}

void check_report_problem_locked(CheckCtx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                                 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vproblem_locked(c, kind, warning, object, fmt, ap);
	va_end(ap);
}

/* The same, from a thread not holding c->mu. */
void check_report_problem(CheckCtx *c, CheckProblemKind kind, int warning, const uint8_t *object,
                          const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&c->mu);
	va_start(ap, fmt);
	vproblem_locked(c, kind, warning, object, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&c->mu);
}

/* Record a damaged chunk; caller holds c->mu. Returns its index in
 * r->chunks, CHUNK_UNLISTED past CHECK_MAX_CHUNKS, or CHUNK_OOM (fatal
 * set). */
size_t check_report_chunk_locked(CheckCtx *c, const uint8_t id[STRATA_ID_LEN], uint8_t type,
                                 CheckChunkReason reason, const uint8_t *pack, uint32_t offset,
                                 uint32_t length, uint32_t raw_len, const char *detail)
{
	CheckReport *r = c->r;
	CheckChunk *k;

	if (r->nchunks >= CHECK_MAX_CHUNKS) {
		if (check_idmap_put(&c->dmg, id, CHUNK_UNLISTED) != 0)
			goto oom;
		r->chunks_unlisted++;
		r->damage++;
		return CHUNK_UNLISTED;
	}
	if (r->nchunks % 16 == 0) {
		void *q = realloc(r->chunks, (r->nchunks + 16) * sizeof *r->chunks);
		if (!q)
			goto oom;
		r->chunks = q;
	}
	if (check_idmap_put(&c->dmg, id, r->nchunks) != 0)
		goto oom;
	k = &r->chunks[r->nchunks];
	memset(k, 0, sizeof *k);
	memcpy(k->id, id, STRATA_ID_LEN);
	k->type = type;
	k->reason = reason;
	if (pack) {
		k->has_location = 1;
		memcpy(k->pack, pack, STRATA_ID_LEN);
		k->offset = offset;
		k->length = length;
		k->raw_len = raw_len;
	}
	snprintf(k->detail, sizeof k->detail, "%s", detail ? detail : "");
	r->damage++;
	return r->nchunks++;
oom:
	check_fatal_locked(c, -ENOMEM, NULL, "recording a damaged chunk");
	return CHUNK_OOM;
}

int check_report_add_user(CheckCtx *c, size_t k, const uint8_t *snap, const char *path, int is_tree,
                          uint64_t offset, uint64_t length)
{
	CheckChunk *ch;
	CheckUser *u;

	if (k == CHUNK_UNLISTED)
		return 0;
	ch = &c->r->chunks[k];
	ch->users_total++;
	if (ch->nusers >= CHECK_MAX_USERS || c->r->users_listed >= CHECK_MAX_LISTED_USERS)
		return 0;
	if (ch->nusers == 0 || (ch->nusers >= 4 && (ch->nusers & (ch->nusers - 1)) == 0)) {
		void *p = realloc(ch->users, (ch->nusers ? 2 * ch->nusers : 4) * sizeof *ch->users);
		if (!p)
			return -ENOMEM;
		ch->users = p;
	}
	u = &ch->users[ch->nusers];
	memset(u, 0, sizeof *u);
	if (snap)
		memcpy(u->snapshot, snap, STRATA_ID_LEN);
	u->is_wal = !snap;
	u->is_tree = is_tree;
	u->offset = offset;
	u->length = length;
	if (!(u->path = strdup(path)))
		return -ENOMEM;
	ch->nusers++;
	c->r->users_listed++;
	return 0;
}

static int cmp_chunk(const void *a, const void *b)
{
	const CheckChunk *x = a, *y = b;
	int d;

	if (x->has_location != y->has_location)
		return y->has_location - x->has_location;
	if ((d = memcmp(x->pack, y->pack, STRATA_ID_LEN)) != 0)
		return d;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return memcmp(x->id, y->id, STRATA_ID_LEN);
}

void check_report_free(CheckReport *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nchunks; i++) {
		for (size_t u = 0; u < r->chunks[i].nusers; u++)
			free(r->chunks[i].users[u].path);
		free(r->chunks[i].users);
	}
	free(r->chunks);
	for (size_t i = 0; i < r->nproblems; i++)
		free(r->problems[i].snapshots);
	free(r->problems);
	free(r->snaps);
	free(r->packs_read);
	free(r);
}

void check_report_sort(CheckReport *r)
{
	if (r->nchunks)
		qsort(r->chunks, r->nchunks, sizeof *r->chunks, cmp_chunk);
	if (r->npacks_read)
		qsort(r->packs_read, r->npacks_read, sizeof *r->packs_read, check_cmp_id);
}
