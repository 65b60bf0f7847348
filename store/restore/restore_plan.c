/* restore_plan.c — the restore read planner, see restore_plan.h. */
#include "store/restore/restore_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"

typedef struct InRef {
	uint8_t  id[STRATA_ID_LEN];
	uint32_t raw_len;
	uint32_t file;
	uint64_t file_off;
} InRef;

/* A blob while the plan is built: the public part plus its pack. */
typedef struct BuildBlob {
	RestorePlanBlob pub;
	uint8_t pack[STRATA_ID_LEN];
} BuildBlob;

struct RestorePlan {
	uint32_t gap_max, range_max;
	InRef *in;
	size_t nin, in_cap;
	RestorePlanRef *refs;
	size_t refs_cap;
	BuildBlob *bb;
	RestorePlanBlob *blobs;
	size_t nblobs, blobs_cap;
	RestorePlanRange *ranges;
	size_t nranges, ranges_cap;
	uint64_t fetch_bytes;
};

RestorePlan *restore_plan_new(uint32_t gap_max, uint32_t range_max)
{
	RestorePlan *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	p->gap_max = gap_max ? gap_max : RESTORE_PLAN_GAP_MAX;
	p->range_max = range_max ? range_max : RESTORE_PLAN_RANGE_MAX;
	return p;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 1024;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*arr, n * elem);
	if (!q)
		return -ENOMEM;
	*arr = q;
	*cap = n;
	return 0;
}

int restore_plan_add(RestorePlan *p, const uint8_t id[STRATA_ID_LEN], uint32_t raw_len,
                     uint32_t file, uint64_t file_off)
{
	InRef *r;

	if (grow((void **)&p->in, &p->in_cap, p->nin + 1, sizeof *p->in))
		return -ENOMEM;
	r = &p->in[p->nin++];
	memcpy(r->id, id, STRATA_ID_LEN);
	r->raw_len = raw_len;
	r->file = file;
	r->file_off = file_off;
	return 0;
}

size_t restore_plan_nrefs(const RestorePlan *p)
{
	return p->nin;
}

static int cmp_inref(const void *a, const void *b)
{
	const InRef *x = a, *y = b;
	int c = memcmp(x->id, y->id, STRATA_ID_LEN);

	if (c)
		return c;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->file_off < y->file_off ? -1 : x->file_off > y->file_off;
}

static int cmp_blob(const void *a, const void *b)
{
	const BuildBlob *x = a, *y = b;
	int c = memcmp(x->pack, y->pack, STRATA_ID_LEN);

	if (c)
		return c;
	if (x->pub.pack_off != y->pub.pack_off)
		return x->pub.pack_off < y->pub.pack_off ? -1 : 1;
	/* Members of one frame, in the frame's order. */
	return x->pub.member_off < y->pub.member_off ? -1 : x->pub.member_off > y->pub.member_off;
}

/* Distinct chunks of the sorted references, each looked up once. */
static int make_blobs(RestorePlan *p, Index *ix, RestorePlanRef *out_bad, uint8_t out_bad_id[STRATA_ID_LEN])
{
	size_t i = 0, nb = 0;

	if (grow((void **)&p->refs, &p->refs_cap, p->nin, sizeof *p->refs))
		return -ENOMEM;
	while (i < p->nin) {
		size_t j = i;
		IndexEntry e;
		BuildBlob *b;

		while (j < p->nin && memcmp(p->in[j].id, p->in[i].id, STRATA_ID_LEN) == 0)
			j++;
		if (index_lookup(ix, BLOB_DATA, p->in[i].id, &e) != 0) {
			out_bad->file = p->in[i].file;
			out_bad->file_off = p->in[i].file_off;
			memcpy(out_bad_id, p->in[i].id, STRATA_ID_LEN);
			return STRATA_EDAMAGED;
		}
		for (size_t k = i; k < j; k++) {
			if (p->in[k].raw_len != e.raw_len) {
				out_bad->file = p->in[k].file;
				out_bad->file_off = p->in[k].file_off;
				memcpy(out_bad_id, p->in[k].id, STRATA_ID_LEN);
				return STRATA_EDAMAGED;
			}
			p->refs[k].file = p->in[k].file;
			p->refs[k].file_off = p->in[k].file_off;
		}
		if (grow((void **)&p->bb, &p->blobs_cap, nb + 1, sizeof *p->bb))
			return -ENOMEM;
		b = &p->bb[nb++];
		memcpy(b->pub.id, p->in[i].id, STRATA_ID_LEN);
		memcpy(b->pack, e.pack, STRATA_ID_LEN);
		b->pub.pack_off = e.offset;
		b->pub.length = e.length;
		b->pub.raw_len = e.raw_len;
		b->pub.frame_raw = e.frame_raw;
		b->pub.member_off = e.member_off;
		b->pub.first_ref = i;
		b->pub.nrefs = j - i;
		i = j;
	}
	p->nblobs = nb;
	return 0;
}

/* Ranges over the blobs sorted by (pack, offset): a blob joins the open
 * range when it is in the same pack, the gap before it is at most gap_max
 * and the range stays within range_max. */
static int make_ranges(RestorePlan *p)
{
	RestorePlanRange *r = NULL;

	p->nranges = 0;
	p->fetch_bytes = 0;
	for (size_t i = 0; i < p->nblobs; i++) {
		const BuildBlob *b = &p->bb[i];
		uint64_t end = (uint64_t)b->pub.pack_off + b->pub.length;

		if (r && memcmp(r->pack, b->pack, STRATA_ID_LEN) == 0 && b->pub.frame_raw &&
		    b->pub.pack_off == p->bb[i - 1].pub.pack_off) {
			/* Another member of the frame just planned: no bytes more. */
			r->raw_bytes += b->pub.raw_len;
			r->nblobs++;
			continue;
		}
		if (r && memcmp(r->pack, b->pack, STRATA_ID_LEN) == 0 &&
		    b->pub.pack_off >= r->off + r->len &&
		    b->pub.pack_off - (r->off + r->len) <= p->gap_max &&
		    end - r->off <= p->range_max) {
			r->len = end - r->off;
			r->raw_bytes += b->pub.raw_len;
			r->nblobs++;
			continue;
		}
		if (grow((void **)&p->ranges, &p->ranges_cap, p->nranges + 1, sizeof *p->ranges))
			return -ENOMEM;
		r = &p->ranges[p->nranges++];
		memcpy(r->pack, b->pack, STRATA_ID_LEN);
		r->off = b->pub.pack_off;
		r->len = b->pub.length;
		r->raw_bytes = b->pub.raw_len;
		r->first_blob = i;
		r->nblobs = 1;
	}
	for (size_t i = 0; i < p->nranges; i++)
		p->fetch_bytes += p->ranges[i].len;
	return 0;
}

int restore_plan_build(RestorePlan *p, Index *ix, RestorePlanRef *out_bad,
                       uint8_t out_bad_id[STRATA_ID_LEN])
{
	int rc;

	p->nblobs = 0;
	p->nranges = 0;
	p->fetch_bytes = 0;
	if (p->nin == 0)
		return 0;
	qsort(p->in, p->nin, sizeof *p->in, cmp_inref);
	rc = make_blobs(p, ix, out_bad, out_bad_id);
	if (rc)
		return rc;
	qsort(p->bb, p->nblobs, sizeof *p->bb, cmp_blob);
	rc = make_ranges(p);
	if (rc)
		return rc;
	/* The public blob array, in range order (the build array is sized
	 * like it, so this never fails after the first batch of that size). */
	free(p->blobs);
	p->blobs = malloc((p->nblobs ? p->nblobs : 1) * sizeof *p->blobs);
	if (!p->blobs)
		return -ENOMEM;
	for (size_t i = 0; i < p->nblobs; i++)
		p->blobs[i] = p->bb[i].pub;
	return 0;
}

size_t restore_plan_nranges(const RestorePlan *p)
{
	return p->nranges;
}

const RestorePlanRange *restore_plan_ranges(const RestorePlan *p)
{
	return p->ranges;
}

const RestorePlanBlob *restore_plan_blobs(const RestorePlan *p)
{
	return p->blobs;
}

const RestorePlanRef *restore_plan_refs(const RestorePlan *p)
{
	return p->refs;
}

uint64_t restore_plan_fetch_bytes(const RestorePlan *p)
{
	return p->fetch_bytes;
}

void restore_plan_reset(RestorePlan *p)
{
	p->nin = 0;
	p->nblobs = 0;
	p->nranges = 0;
	p->fetch_bytes = 0;
}

void restore_plan_free(RestorePlan *p)
{
	if (!p)
		return;
	free(p->in);
	free(p->refs);
	free(p->bb);
	free(p->blobs);
	free(p->ranges);
	free(p);
}
