/* wal_timeline.c — WAL positions, history files, backup_label lines and
 * the wal-verify verdict; the rules are in wal_timeline.h. */
#include "store/wal/wal_timeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/wal/wal_internal.h"

#define SEGSIZE_MIN (1ull << 20)
#define SEGSIZE_MAX (1ull << 30)
#define LOG_BYTES   0x100000000ull      /* one log ID: 4 GiB of WAL */

/* ---- positions ---- */

int wal_segsize_ok(uint64_t segment_size)
{
	return segment_size >= SEGSIZE_MIN && segment_size <= SEGSIZE_MAX && !(segment_size & (segment_size - 1));
}

int wal_segno(const char *name, uint64_t segment_size, uint64_t *out_segno)
{
	int kind;
	uint32_t log, seg;

	if (!wal_segsize_ok(segment_size) || wal_name_parse(name, &kind, NULL) != 0 || kind == WAL_HISTORY)
		return STRATA_EUSAGE;
	log = wal_hex8(name + 8);
	seg = wal_hex8(name + 16);
	if (seg >= LOG_BYTES / segment_size)
		return STRATA_EUSAGE;
	*out_segno = (uint64_t)log * (LOG_BYTES / segment_size) + seg;
	return 0;
}

void wal_seg_name(uint32_t timeline, uint64_t segno, uint64_t segment_size, char out[WAL_NAME_MAX + 1])
{
	uint64_t per_log = LOG_BYTES / segment_size;

	snprintf(out, WAL_NAME_MAX + 1, "%08X%08X%08X", (unsigned)timeline, (unsigned)(segno / per_log),
	         (unsigned)(segno % per_log));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 1-8 hex digits at *p, advancing *p. */
static int hex32(const char **p, uint32_t *out)
{
	uint32_t v = 0;
	int n = 0, d;

	while ((d = hexval(**p)) >= 0) {
		if (++n > 8)
			return -1;
		v = v << 4 | (uint32_t)d;
		(*p)++;
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

/* "X/Y" at *p, advancing *p past it. */
static int lsn_at(const char **p, uint64_t *out)
{
	uint32_t hi, lo;

	if (hex32(p, &hi) < 0 || **p != '/')
		return -1;
	(*p)++;
	if (hex32(p, &lo) < 0)
		return -1;
	*out = (uint64_t)hi << 32 | lo;
	return 0;
}

int wal_lsn_parse(const char *s, uint64_t *out_lsn)
{
	const char *p = s;
	uint64_t v;

	if (lsn_at(&p, &v) < 0 || *p)
		return STRATA_EFORMAT;
	*out_lsn = v;
	return 0;
}

void wal_lsn_format(uint64_t lsn, char out[WAL_LSN_TEXT_MAX])
{
	snprintf(out, WAL_LSN_TEXT_MAX, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xFFFFFFFFu));
}

/* ---- history files ---- */

void wal_history_free(WalHistory *h)
{
	if (!h)
		return;
	free(h->e);
	h->e = NULL;
	h->n = 0;
}

int wal_history_parse(const char *text, size_t len, uint32_t timeline, WalHistory *out, StrataErr *err)
{
	WalHistory h = { timeline, NULL, 0 };
	size_t cap = 0, off = 0;
	unsigned line = 0;
	char buf[256];
	int rc = 0;

	while (off < len) {
		const char *eol = memchr(text + off, '\n', len - off), *p;
		size_t ll = eol ? (size_t)(eol - (text + off)) : len - off;
		uint32_t tli;
		uint64_t lsn;
		line++;
		if (memchr(text + off, '\0', ll)) {
			rc = strata_err_set(err, STRATA_EFORMAT, "history file of timeline %u, line %u: a NUL byte",
			                    timeline, line);
			goto out;
		}
		/* Only the first fields matter; a long reason is cut, not refused. */
		snprintf(buf, sizeof buf, "%.*s", (int)(ll < sizeof buf - 1 ? ll : sizeof buf - 1), text + off);
		off += ll + (eol ? 1 : 0);
		p = buf;
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p || *p == '#')
			continue;
		if (*p < '0' || *p > '9') {
			rc = strata_err_set(err, STRATA_EFORMAT, "history file of timeline %u, line %u: does not start "
			                    "with a timeline ID", timeline, line);
			goto out;
		}
		{
			char *end;
			unsigned long v = strtoul(p, &end, 10);
			if (v > UINT32_MAX || (*end != '\t' && *end != ' ')) {
				rc = strata_err_set(err, STRATA_EFORMAT, "history file of timeline %u, line %u: bad "
				                    "timeline ID", timeline, line);
				goto out;
			}
			tli = (uint32_t)v;
			p = end;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (lsn_at(&p, &lsn) < 0 || (*p && *p != '\t' && *p != ' ' && *p != '\r')) {
			rc = strata_err_set(err, STRATA_EFORMAT, "history file of timeline %u, line %u: no switch point "
			                    "X/Y after the timeline ID", timeline, line);
			goto out;
		}
		if (tli == 0 || tli >= timeline || (h.n && tli <= h.e[h.n - 1].parent)) {
			rc = strata_err_set(err, STRATA_EFORMAT, "history file of timeline %u, line %u: timeline %u is "
			                    "not above the line before and below %u", timeline, line, (unsigned)tli, timeline);
			goto out;
		}
		if (h.n && lsn < h.e[h.n - 1].switch_lsn) {
			rc = strata_err_set(err, STRATA_EFORMAT, "history file of timeline %u, line %u: the switch point "
			                    "goes backwards", timeline, line);
			goto out;
		}
		if (h.n == cap) {
			size_t nc = cap ? 2 * cap : 8;
			void *np = realloc(h.e, nc * sizeof *h.e);
			if (!np) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			h.e = np;
			cap = nc;
		}
		h.e[h.n].parent = tli;
		h.e[h.n].switch_lsn = lsn;
		h.n++;
	}
	if (h.n == 0)
		rc = strata_err_set(err, STRATA_EFORMAT, "history file of timeline %u names no parent timeline", timeline);
out:
	if (rc) {
		wal_history_free(&h);
		return rc;
	}
	*out = h;
	return 0;
}

/* ---- backup_label ---- */

/* The text after "KEY: " at the start of a line, or NULL. */
static const char *label_field(const char *text, size_t len, const char *key, size_t *out_len)
{
	size_t kl = strlen(key), off = 0;

	while (off < len) {
		const char *line = text + off, *eol = memchr(line, '\n', len - off);
		size_t ll = eol ? (size_t)(eol - line) : len - off;
		off += ll + 1;
		if (ll > kl + 1 && memcmp(line, key, kl) == 0 && line[kl] == ':' && line[kl + 1] == ' ') {
			*out_len = ll - kl - 2;
			return line + kl + 2;
		}
	}
	return NULL;
}

int wal_label_parse(const char *text, size_t len, WalBackupLabel *out, StrataErr *err)
{
	WalBackupLabel l;
	char buf[128];
	const char *v, *p;
	size_t vl;
	int kind;

	memset(&l, 0, sizeof l);
	v = label_field(text, len, "START WAL LOCATION", &vl);
	if (!v || vl >= sizeof buf)
		return strata_err_set(err, STRATA_EFORMAT, "backup_label has no \"START WAL LOCATION: X/Y (file SEGMENT)\" line");
	memcpy(buf, v, vl);
	buf[vl] = '\0';
	p = buf;
	if (lsn_at(&p, &l.start_lsn) < 0 || strncmp(p, " (file ", 7) != 0 || strlen(p + 7) < WAL_SEG_NAME_LEN + 1 ||
	    p[7 + WAL_SEG_NAME_LEN] != ')')
		return strata_err_set(err, STRATA_EFORMAT, "backup_label: malformed START WAL LOCATION line: %s", buf);
	snprintf(l.start, sizeof l.start, "%.*s", WAL_SEG_NAME_LEN, p + 7);
	if (wal_name_parse(l.start, &kind, &l.timeline) != 0 || kind != WAL_SEGMENT)
		return strata_err_set(err, STRATA_EFORMAT, "backup_label: %s in START WAL LOCATION is not a segment name",
		                      l.start);
	l.checkpoint_lsn = l.start_lsn;
	v = label_field(text, len, "CHECKPOINT LOCATION", &vl);
	if (v) {
		snprintf(buf, sizeof buf, "%.*s", (int)(vl < sizeof buf - 1 ? vl : sizeof buf - 1), v);
		if (wal_lsn_parse(buf, &l.checkpoint_lsn) != 0)
			return strata_err_set(err, STRATA_EFORMAT, "backup_label: malformed CHECKPOINT LOCATION: %s", buf);
	}
	v = label_field(text, len, "START TIMELINE", &vl);
	if (v) {
		char *end;
		unsigned long t;
		snprintf(buf, sizeof buf, "%.*s", (int)(vl < sizeof buf - 1 ? vl : sizeof buf - 1), v);
		t = strtoul(buf, &end, 10);
		if (end == buf || *end || t == 0 || t > UINT32_MAX || (uint32_t)t != l.timeline)
			return strata_err_set(err, STRATA_EFORMAT, "backup_label: START TIMELINE %s does not match the start "
			                      "file %s", buf, l.start);
	}
	*out = l;
	return 0;
}

int wal_backup_stop_parse(const char *text, size_t len, char out[WAL_NAME_MAX + 1], StrataErr *err)
{
	char buf[128], name[WAL_NAME_MAX + 1];
	const char *v, *p;
	size_t vl;
	uint64_t lsn;
	int kind;

	v = label_field(text, len, "STOP WAL LOCATION", &vl);
	if (!v || vl >= sizeof buf)
		return strata_err_set(err, STRATA_EFORMAT, "backup history file has no \"STOP WAL LOCATION: X/Y (file "
		                      "SEGMENT)\" line");
	memcpy(buf, v, vl);
	buf[vl] = '\0';
	p = buf;
	if (lsn_at(&p, &lsn) < 0 || strncmp(p, " (file ", 7) != 0 || strlen(p + 7) < WAL_SEG_NAME_LEN + 1 ||
	    p[7 + WAL_SEG_NAME_LEN] != ')')
		return strata_err_set(err, STRATA_EFORMAT, "backup history file: malformed STOP WAL LOCATION line: %s", buf);
	snprintf(name, sizeof name, "%.*s", WAL_SEG_NAME_LEN, p + 7);
	if (wal_name_parse(name, &kind, NULL) != 0 || kind != WAL_SEGMENT)
		return strata_err_set(err, STRATA_EFORMAT, "backup history file: %s in STOP WAL LOCATION is not a segment "
		                      "name", name);
	memcpy(out, name, sizeof name);
	return 0;
}

uint64_t wal_label_segsize(const WalBackupLabel *l)
{
	uint64_t found = 0, segno;

	for (uint64_t s = SEGSIZE_MIN; s <= SEGSIZE_MAX; s <<= 1)
		if (wal_segno(l->start, s, &segno) == 0 && segno == l->start_lsn / s) {
			if (found)
				return 0;
			found = s;
		}
	return found;
}

/* ---- the verdict ---- */

/* What the plan knows of one timeline. */
typedef struct Tl {
	uint32_t id;
	uint64_t *segs;          /* full segments held, ascending */
	size_t nsegs, cap;
	uint64_t partials, backups;
	const WalHistory *hist;  /* its own history file, or NULL */
	int has_parent;
	uint32_t parent;
	uint64_t begin_lsn;
} Tl;

typedef struct Plan {
	uint64_t segsize;
	Tl *tl;
	size_t ntl;
	WalVerifyReport *r;
	size_t cap_ranges, cap_gaps;
} Plan;

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static Tl *tl_find(const Plan *p, uint32_t id)
{
	size_t lo = 0, hi = p->ntl;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->tl[mid].id == id)
			return &p->tl[mid];
		if (p->tl[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The index of the first held segment >= segno. */
static size_t seg_lower(const Tl *t, uint64_t segno)
{
	size_t lo = 0, hi = t->nsegs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->segs[mid] < segno)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Timeline t descends from timeline b at checkpoint c: walk up the parent
 * links (a parent is always a lower timeline, so this ends). */
static int descends(const Plan *p, uint32_t t, uint32_t b, uint64_t c)
{
	const Tl *x = tl_find(p, t);

	while (x && x->id != b) {
		if (!x->has_parent)
			return 0;
		if (x->parent == b)
			return c < x->begin_lsn;
		x = tl_find(p, x->parent);
	}
	return x != NULL;
}

static int add_gap(Plan *p, uint32_t tli, uint64_t from, uint64_t to)
{
	WalVerifyReport *r = p->r;
	WalGap *g;

	if (r->ngaps == p->cap_gaps) {
		size_t nc = p->cap_gaps ? 2 * p->cap_gaps : 16;
		void *np = realloc(r->gaps, nc * sizeof *r->gaps);
		if (!np)
			return -ENOMEM;
		r->gaps = np;
		p->cap_gaps = nc;
	}
	g = &r->gaps[r->ngaps++];
	wal_seg_name(tli, from, p->segsize, g->first);
	wal_seg_name(tli, to, p->segsize, g->last);
	g->segments = to - from + 1;
	return 0;
}

/* Check [lo, hi] of timeline t for backup b: a range and its gaps. */
static int add_range(Plan *p, WalBackupCheck *b, const Tl *t, uint64_t lo, uint64_t hi)
{
	WalVerifyReport *r = p->r;
	WalRange *rg;
	uint64_t next = lo;
	size_t i;

	if (r->nranges == p->cap_ranges) {
		size_t nc = p->cap_ranges ? 2 * p->cap_ranges : 16;
		void *np = realloc(r->ranges, nc * sizeof *r->ranges);
		if (!np)
			return -ENOMEM;
		r->ranges = np;
		p->cap_ranges = nc;
	}
	rg = &r->ranges[r->nranges++];
	memset(rg, 0, sizeof *rg);
	rg->timeline = t->id;
	wal_seg_name(t->id, lo, p->segsize, rg->first);
	wal_seg_name(t->id, hi, p->segsize, rg->last);
	rg->segments = hi - lo + 1;
	rg->gap0 = r->ngaps;
	/* Walk the held segments, not every number: a range may be huge. */
	for (i = seg_lower(t, lo); i < t->nsegs && t->segs[i] <= hi; i++) {
		if (t->segs[i] > next) {
			if (add_gap(p, t->id, next, t->segs[i] - 1) < 0)
				return -ENOMEM;
			rg->missing += t->segs[i] - next;
		}
		next = t->segs[i] + 1;
	}
	if (next <= hi) {
		if (add_gap(p, t->id, next, hi) < 0)
			return -ENOMEM;
		rg->missing += hi - next + 1;
	}
	/* The pointer may have moved with realloc in add_gap: index again. */
	rg = &r->ranges[r->nranges - 1];
	rg->ngaps = r->ngaps - rg->gap0;
	b->missing += rg->missing;
	b->nranges++;
	return 0;
}

static int check_backup(Plan *p, WalBackupCheck *b)
{
	const WalBackupLabel *l = &b->label;
	uint64_t start;
	uint32_t latest;

	b->range0 = p->r->nranges;
	b->nranges = 0;
	b->missing = 0;
	b->ok = 0;
	if (!b->label_ok)
		return 0;
	if (wal_segno(l->start, p->segsize, &start) != 0 || start != l->start_lsn / p->segsize) {
		char lsn[WAL_LSN_TEXT_MAX];
		wal_lsn_format(l->start_lsn, lsn);
		snprintf(b->error, sizeof b->error, "backup_label: START WAL LOCATION %s is not in file %s with "
		         "%llu-byte segments (the archive's segment size); was the backup taken from another cluster?",
		         lsn, l->start, (unsigned long long)p->segsize);
		b->label_ok = 0;
		return 0;
	}
	latest = l->timeline;
	while (latest < UINT32_MAX && tl_find(p, latest + 1) && tl_find(p, latest + 1)->hist)
		latest++;
	b->latest_timeline = latest;
	b->latest_follows = descends(p, latest, l->timeline, l->checkpoint_lsn);
	for (size_t i = 0; i < p->ntl; i++) {
		const Tl *t = &p->tl[i];
		uint64_t lo, hi;
		int have;
		if (!descends(p, t->id, l->timeline, l->checkpoint_lsn))
			continue;
		if (t->id == l->timeline) {
			uint64_t stop;
			lo = start;
			hi = start;
			have = 1;
			if (l->has_stop && wal_hex8(l->stop) == t->id && wal_segno(l->stop, p->segsize, &stop) == 0 &&
			    stop > hi)
				hi = stop;
		} else {
			lo = t->begin_lsn / p->segsize;
			hi = 0;
			have = 0;
		}
		if (t->nsegs && t->segs[t->nsegs - 1] >= lo && (!have || t->segs[t->nsegs - 1] > hi)) {
			hi = t->segs[t->nsegs - 1];
			have = 1;
		}
		/* Up to the segment before each descending child's begin. */
		for (size_t k = 0; k < p->ntl; k++) {
			const Tl *c = &p->tl[k];
			uint64_t cb;
			if (!c->has_parent || c->parent != t->id || !descends(p, c->id, l->timeline, l->checkpoint_lsn))
				continue;
			cb = c->begin_lsn / p->segsize;
			if (cb > lo && (!have || cb - 1 > hi)) {
				hi = cb - 1;
				have = 1;
			}
		}
		if (have && hi >= lo && add_range(p, b, t, lo, hi) < 0)
			return -ENOMEM;
	}
	b->ok = b->missing == 0 && b->latest_follows;
	return 0;
}

static int collect(Plan *p, const char (*names)[WAL_NAME_MAX + 1], size_t nnames, const WalHistory *hist,
                   size_t nhist, const WalBackupCheck *backups, size_t nbackups)
{
	uint32_t *ids;
	size_t n = 0, total = nnames + nbackups + 1;

	for (size_t i = 0; i < nhist; i++)
		total += 1 + hist[i].n;
	ids = malloc(total * sizeof *ids);
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < nnames; i++)
		ids[n++] = wal_hex8(names[i]);
	for (size_t i = 0; i < nhist; i++) {
		ids[n++] = hist[i].timeline;
		for (size_t k = 0; k < hist[i].n; k++)
			ids[n++] = hist[i].e[k].parent;
	}
	for (size_t i = 0; i < nbackups; i++)
		if (backups[i].label_ok)
			ids[n++] = backups[i].label.timeline;
	qsort(ids, n, sizeof *ids, cmp_u32);
	p->tl = calloc(n ? n : 1, sizeof *p->tl);
	if (!p->tl) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (p->ntl == 0 || p->tl[p->ntl - 1].id != ids[i])
			p->tl[p->ntl++].id = ids[i];
	free(ids);
	for (size_t i = 0; i < nnames; i++) {
		Tl *t = tl_find(p, wal_hex8(names[i]));
		uint64_t segno;
		int kind;
		if (wal_name_parse(names[i], &kind, NULL) != 0)
			continue;
		if (kind == WAL_PARTIAL)
			t->partials++;
		else if (kind == WAL_BACKUP)
			t->backups++;
		if (kind != WAL_SEGMENT || wal_segno(names[i], p->segsize, &segno) != 0)
			continue;
		if (t->nsegs && t->segs[t->nsegs - 1] >= segno)
			continue;   /* names are sorted: never, but keep segs strictly ascending */
		if (t->nsegs == t->cap) {
			size_t nc = t->cap ? 2 * t->cap : 64;
			void *np = realloc(t->segs, nc * sizeof *t->segs);
			if (!np)
				return -ENOMEM;
			t->segs = np;
			t->cap = nc;
		}
		t->segs[t->nsegs++] = segno;
	}
	/* Parent links: from each timeline's own history first, then from the
	 * histories of its descendants (which list it as an ancestor). */
	for (size_t i = 0; i < nhist; i++) {
		Tl *t = tl_find(p, hist[i].timeline);
		if (t->hist)
			continue;
		t->hist = &hist[i];
		t->has_parent = 1;
		t->parent = hist[i].e[hist[i].n - 1].parent;
		t->begin_lsn = hist[i].e[hist[i].n - 1].switch_lsn;
	}
	for (size_t i = 0; i < nhist; i++)
		for (size_t k = 0; k + 1 < hist[i].n; k++) {
			Tl *c = tl_find(p, hist[i].e[k + 1].parent);
			if (c->has_parent)
				continue;
			c->has_parent = 1;
			c->parent = hist[i].e[k].parent;
			c->begin_lsn = hist[i].e[k].switch_lsn;
		}
	return 0;
}

static int report_timelines(Plan *p)
{
	WalVerifyReport *r = p->r;

	r->timelines = calloc(p->ntl ? p->ntl : 1, sizeof *r->timelines);
	if (!r->timelines)
		return -ENOMEM;
	for (size_t i = 0; i < p->ntl; i++) {
		const Tl *t = &p->tl[i];
		WalTimelineInfo *o = &r->timelines[r->ntimelines++];
		o->timeline = t->id;
		o->has_history = t->hist != NULL;
		o->parent = t->has_parent ? t->parent : 0;
		o->switch_lsn = t->has_parent ? t->begin_lsn : 0;
		if (t->has_parent)
			wal_seg_name(t->id, t->begin_lsn / p->segsize, p->segsize, o->begin);
		if (t->nsegs) {
			wal_seg_name(t->id, t->segs[0], p->segsize, o->first);
			wal_seg_name(t->id, t->segs[t->nsegs - 1], p->segsize, o->last);
		}
		o->segments = t->nsegs;
		o->partials = t->partials;
		o->backups = t->backups;
		o->history_missing = t->id > 1 && !t->hist && (t->nsegs || t->partials || t->backups);
		if (o->history_missing)
			r->problems++;
	}
	return 0;
}

static int report_forks(Plan *p)
{
	WalVerifyReport *r = p->r;
	size_t cap = 0;

	for (size_t i = 0; i < p->ntl; i++) {
		const Tl *c = &p->tl[i], *t;
		uint64_t cb;
		size_t k;
		WalFork *f;
		if (!c->has_parent || !(t = tl_find(p, c->parent)))
			continue;
		cb = c->begin_lsn / p->segsize;
		k = seg_lower(t, cb);
		if (k == t->nsegs)
			continue;
		if (r->nforks == cap) {
			size_t nc = cap ? 2 * cap : 4;
			void *np = realloc(r->forks, nc * sizeof *r->forks);
			if (!np)
				return -ENOMEM;
			r->forks = np;
			cap = nc;
		}
		f = &r->forks[r->nforks++];
		f->timeline = t->id;
		f->child = c->id;
		f->switch_lsn = c->begin_lsn;
		wal_seg_name(t->id, t->segs[k], p->segsize, f->first);
		wal_seg_name(t->id, t->segs[t->nsegs - 1], p->segsize, f->last);
		f->segments = t->nsegs - k;
	}
	return 0;
}

void wal_verify_report_free(WalVerifyReport *r)
{
	if (!r)
		return;
	free(r->timelines);
	free(r->forks);
	free(r->backups);
	free(r->ranges);
	free(r->gaps);
	free(r);
}

int wal_verify_plan(uint64_t segment_size, const char (*names)[WAL_NAME_MAX + 1], size_t nnames,
                    const WalHistory *hist, size_t nhist, WalBackupCheck *backups, size_t nbackups,
                    WalVerifyReport **out, StrataErr *err)
{
	Plan p;
	int rc;

	memset(&p, 0, sizeof p);
	if (!wal_segsize_ok(segment_size))
		return strata_err_set(err, STRATA_EUSAGE, "%llu bytes is not a WAL segment size (a power of two from "
		                      "1 MiB to 1 GiB)", (unsigned long long)segment_size);
	for (size_t i = 0; i < nhist; i++)
		if (hist[i].n == 0)
			return strata_err_set(err, STRATA_EUSAGE, "history of timeline %u is empty", hist[i].timeline);
	p.segsize = segment_size;
	p.r = calloc(1, sizeof *p.r);
	if (!p.r)
		return strata_err_set(err, -ENOMEM, "out of memory");
	p.r->segment_size = segment_size;
	p.r->backups = calloc(nbackups ? nbackups : 1, sizeof *p.r->backups);
	rc = p.r->backups ? 0 : -ENOMEM;
	if (rc == 0) {
		memcpy(p.r->backups, backups, nbackups * sizeof *backups);
		p.r->nbackups = nbackups;
		rc = collect(&p, names, nnames, hist, nhist, backups, nbackups);
	}
	if (rc == 0)
		rc = report_timelines(&p);
	if (rc == 0)
		rc = report_forks(&p);
	for (size_t i = 0; rc == 0 && i < nbackups; i++) {
		rc = check_backup(&p, &p.r->backups[i]);
		if (!p.r->backups[i].ok)
			p.r->problems++;
	}
	if (rc == 0 && nbackups == 0)
		p.r->problems++;
	for (size_t i = 0; i < p.ntl; i++)
		free(p.tl[i].segs);
	free(p.tl);
	if (rc) {
		wal_verify_report_free(p.r);
		return strata_err_set(err, rc, "out of memory");
	}
	*out = p.r;
	return 0;
}
