/* verified.c — restore-test records, see verified.h. FORMAT.md §12b
 * "Restore-test record". */
#include "store/verified.h"

#include "remote/objsize.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/format.h"
#include "store/lock_internal.h"
#include "store/repo_internal.h"


static const char *const outcome_names[] = {
	[VERIFIED_PASSED] = "passed",
	[VERIFIED_FAILED] = "failed",
	[VERIFIED_SIGNALLED] = "signal",
	[VERIFIED_TIMEOUT] = "timeout",
	[VERIFIED_RESTORE_FAILED] = "restore_failed",
	[VERIFIED_UNKNOWN] = "unknown",
};

const char *verified_outcome_name(VerifiedOutcome o)
{
	if (o < VERIFIED_PASSED || o > VERIFIED_UNKNOWN)
		return "unknown";
	return outcome_names[o];
}

/* The rules of FORMAT.md §12b that tie the fields together; 0 or
 * STRATA_EFORMAT. */
static int record_rules(const VerifiedRecord *r)
{
	int sig = r->outcome == VERIFIED_SIGNALLED || r->outcome == VERIFIED_TIMEOUT;

	if (r->outcome < VERIFIED_PASSED || r->outcome > VERIFIED_UNKNOWN)
		return STRATA_EFORMAT;
	if (r->outcome == VERIFIED_PASSED ? r->exit_status != 0 :
	    r->outcome == VERIFIED_FAILED ? r->exit_status < 1 || r->exit_status > 255 :
	    r->exit_status != -1)
		return STRATA_EFORMAT;
	if (sig ? r->signal < 1 || r->signal > 127 : r->signal != 0)
		return STRATA_EFORMAT;
	if (!r->name[0] || memchr(r->name, '\0', sizeof r->name) == NULL || r->timeout_s < 0)
		return STRATA_EFORMAT;
	return 0;
}

int verified_record_json(const VerifiedRecord *r, char **out_json)
{
	char snap[STRATA_ID_HEX_LEN + 1], name[sizeof r->name], host[sizeof r->host], user[sizeof r->user],
	     detail[sizeof r->detail];
	json_t *o;
	char *text;

	if (record_rules(r) != 0 || r->outcome == VERIFIED_UNKNOWN)
		return STRATA_EFORMAT;
	codec_hex(r->snapshot, STRATA_ID_LEN, snap);
	/* jansson refuses invalid UTF-8: the strings go through the same
	 * cleaning the reader applies, so what is written reads back equal. */
	lock_text_copy(name, sizeof name, r->name);
	lock_text_copy(host, sizeof host, r->host);
	lock_text_copy(user, sizeof user, r->user);
	lock_text_copy(detail, sizeof detail, r->detail);
	o = json_pack("{s:i, s:s, s:I, s:I, s:s, s:i, s:i, s:I, s:f, s:f, s:I, s:I, s:s, s:s, s:s, s:s}",
	              "version", FORMAT_VERSION_VERIFIED, "snapshot", snap,
	              "snapshot_time_ns", (json_int_t)r->snapshot_time_ns, "time_ns", (json_int_t)r->time_ns,
	              "outcome", verified_outcome_name(r->outcome), "exit_status", r->exit_status,
	              "signal", r->signal, "timeout_s", (json_int_t)r->timeout_s,
	              "restore_s", r->restore_s, "command_s", r->command_s,
	              "files", (json_int_t)r->files, "bytes", (json_int_t)r->bytes,
	              "name", name, "host", host, "user", user, "detail", detail);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	*out_json = text;
	return 0;
}

static VerifiedOutcome outcome_parse(const char *s)
{
	for (int o = VERIFIED_PASSED; o < VERIFIED_UNKNOWN; o++)
		if (strcmp(s, outcome_names[o]) == 0)
			return (VerifiedOutcome)o;
	return VERIFIED_UNKNOWN;
}

int verified_record_parse(const uint8_t *json, size_t len, VerifiedRecord *out)
{
	VerifiedRecord r;
	json_error_t jerr;
	json_t *o = NULL;
	json_int_t version = 0, snap_time = 0, time_ns = 0, exit_status = -1, sig = 0, timeout = 0,
	           files = 0, bytes = 0;
	double restore_s = 0, command_s = 0;
	const char *snap = NULL, *outcome = NULL, *name = NULL, *host = "", *user = "", *detail = "";
	int rc = STRATA_EFORMAT;

	memset(&r, 0, sizeof r);
	if (len > VERIFIED_MAX_BYTES)
		goto out;
	o = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o || json_unpack(o, "{s:I, s:s, s:I, s:I, s:s, s:s, s?I, s?I, s?I, s?F, s?F, s?I, s?I, s?s, s?s, s?s}",
	                      "version", &version, "snapshot", &snap, "snapshot_time_ns", &snap_time,
	                      "time_ns", &time_ns, "outcome", &outcome, "name", &name,
	                      "exit_status", &exit_status, "signal", &sig, "timeout_s", &timeout,
	                      "restore_s", &restore_s, "command_s", &command_s, "files", &files,
	                      "bytes", &bytes, "host", &host, "user", &user, "detail", &detail) != 0)
		goto out;
	if (version < 1)
		goto out;
	if (version > FORMAT_VERSION_VERIFIED) {
		rc = STRATA_EVERSION;
		goto out;
	}
	if (strlen(snap) != STRATA_ID_HEX_LEN || strspn(snap, "0123456789abcdef") != STRATA_ID_HEX_LEN ||
	    codec_unhex(snap, r.snapshot, STRATA_ID_LEN) != 0)
		goto out;
	if (strlen(name) == 0 || strlen(name) > VERIFIED_NAME_MAX)
		goto out;
	if (exit_status < -1 || exit_status > 255 || sig < 0 || sig > 127 || timeout < 0 || files < 0 || bytes < 0)
		goto out;
	r.snapshot_time_ns = snap_time;
	r.time_ns = time_ns;
	r.outcome = outcome_parse(outcome);
	r.exit_status = (int)exit_status;
	r.signal = (int)sig;
	r.timeout_s = timeout;
	r.restore_s = restore_s;
	r.command_s = command_s;
	r.files = (uint64_t)files;
	r.bytes = (uint64_t)bytes;
	lock_text_copy(r.name, sizeof r.name, name);
	lock_text_copy(r.host, sizeof r.host, host);
	lock_text_copy(r.user, sizeof r.user, user);
	lock_text_copy(r.detail, sizeof r.detail, detail);
	/* An outcome a newer strata wrote is kept as "unknown" (never a
	 * pass) without judging fields whose rules it may have changed. */
	if (r.outcome == VERIFIED_UNKNOWN) {
		r.exit_status = -1;
		r.signal = 0;
	}
	if (record_rules(&r) != 0)
		goto out;
	*out = r;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* ---- names ---- */

static void dir_of(const uint8_t snap[STRATA_ID_LEN], char out[REPO_NAME_MAX])
{
	char hex[STRATA_ID_HEX_LEN + 1];

	codec_hex(snap, STRATA_ID_LEN, hex);
	snprintf(out, REPO_NAME_MAX, "%s/%s", VERIFIED_DIR, hex);
}

int verified_save(Repo *repo, VerifiedRecord *r, StrataErr *err)
{
	char dir[REPO_NAME_MAX], *text = NULL;
	int rc = verified_record_json(r, &text);

	if (rc == STRATA_EFORMAT)
		return strata_err_set(err, rc, "restore-test record: outcome %d, exit status %d, signal %d, "
		                      "name \"%s\" break FORMAT.md §12b", (int)r->outcome, r->exit_status, r->signal,
		                      r->name);
	if (rc)
		return strata_err_set(err, rc, "out of memory encoding a restore-test record");
	dir_of(r->snapshot, dir);
	rc = repo_write_named(repo, dir, "a restore-test record", OBJSIZE_VERIFIED_MAX, FORMAT_MAGIC_VERIFIED,
	                      FORMAT_VERSION_VERIFIED, text, strlen(text), r->id, err);
	free(text);
	return rc;
}

/* ---- listing ---- */

typedef struct Entry {
	uint8_t snap[STRATA_ID_LEN];
	uint8_t id[STRATA_ID_LEN];
} Entry;

typedef struct EntryList {
	Entry *v;
	size_t n, cap;
	int oom;
} EntryList;

static int hex64(const char *s, size_t len, uint8_t out[STRATA_ID_LEN])
{
	char buf[STRATA_ID_HEX_LEN + 1];

	if (len != STRATA_ID_HEX_LEN || strspn(s, "0123456789abcdef") < STRATA_ID_HEX_LEN)
		return -1;
	memcpy(buf, s, STRATA_ID_HEX_LEN);
	buf[STRATA_ID_HEX_LEN] = '\0';
	return codec_unhex(buf, out, STRATA_ID_LEN) == 0 ? 0 : -1;
}

/* Only verified/<64 hex>/<64 hex>: anything else under verified/ is not a
 * record of this format (a newer strata's, or a stray file) and is left
 * alone. */
static int collect_entry(const char *name, void *ctx)
{
	EntryList *l = ctx;
	const char *a = name + sizeof VERIFIED_DIR, *slash;
	Entry e;

	if (strncmp(name, VERIFIED_DIR "/", sizeof VERIFIED_DIR) != 0 || !(slash = strchr(a, '/')) ||
	    hex64(a, (size_t)(slash - a), e.snap) != 0 || hex64(slash + 1, strlen(slash + 1), e.id) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		void *p = realloc(l->v, cap * sizeof *l->v);
		if (!p) {
			l->oom = 1;
			return 1;
		}
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n++] = e;
	return 0;
}

static int list_entries(Repo *repo, EntryList *l, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc = backend_list_names(repo->be, VERIFIED_DIR "/", collect_entry, l, &rerr);

	if (l->oom)
		return strata_err_set(err, -ENOMEM, "listing %s/: out of memory", VERIFIED_DIR);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	return 0;
}

/* ---- the set ---- */

struct VerifiedSet {
	VerifiedRecord *recs;
	size_t n;
	VerifiedBad *bad;
	size_t nbad;
};

static int cmp_record(const void *a, const void *b)
{
	const VerifiedRecord *x = a, *y = b;
	int c = memcmp(x->snapshot, y->snapshot, STRATA_ID_LEN);

	if (c)
		return c;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return memcmp(x->id, y->id, STRATA_ID_LEN);
}

/* Read and parse one record; STRATA_ENOTFOUND when it is gone. */
static int read_record(Repo *repo, const Entry *e, VerifiedRecord *out, StrataErr *err)
{
	char dir[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	uint8_t *plain = NULL;
	size_t len = 0;
	int rc;

	dir_of(e->snap, dir);
	rc = repo_read_named(repo, dir, "a restore-test record", OBJSIZE_VERIFIED_MAX, e->id, FORMAT_MAGIC_VERIFIED,
	                     FORMAT_VERSION_VERIFIED, &plain, &len, err);
	if (rc)
		return rc;
	codec_hex(e->id, STRATA_ID_LEN, hex);
	rc = verified_record_parse(plain, len, out);
	free(plain);
	if (rc == STRATA_EVERSION)
		return strata_err_set(err, rc, "%s/%s: written by a newer strata (record version above %d); upgrade strata",
		                      dir, hex, FORMAT_VERSION_VERIFIED);
	if (rc)
		return strata_err_set(err, rc, "%s/%s: content is malformed", dir, hex);
	if (memcmp(out->snapshot, e->snap, STRATA_ID_LEN) != 0)
		return strata_err_set(err, STRATA_EDAMAGED, "%s/%s: names snapshot %02x%02x%02x%02x, not the one of its "
		                      "directory (moved)", dir, hex, out->snapshot[0], out->snapshot[1],
		                      out->snapshot[2], out->snapshot[3]);
	memcpy(out->id, e->id, STRATA_ID_LEN);
	return 0;
}

static int is_damage(int rc)
{
	return rc == STRATA_EAUTH || rc == STRATA_EFORMAT || rc == STRATA_EDAMAGED || rc == STRATA_EVERSION;
}

int verified_load(Repo *repo, VerifiedSet **out, StrataErr *err)
{
	EntryList l = {0};
	VerifiedSet *s = calloc(1, sizeof *s);
	int rc;

	if (!s)
		return strata_err_set(err, -ENOMEM, "out of memory");
	if ((rc = list_entries(repo, &l, err)))
		goto out;
	s->recs = calloc(l.n ? l.n : 1, sizeof *s->recs);
	s->bad = calloc(l.n ? l.n : 1, sizeof *s->bad);
	if (!s->recs || !s->bad) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		StrataErr rerr = {0};
		rc = read_record(repo, &l.v[i], &s->recs[s->n], &rerr);
		if (rc == STRATA_ENOTFOUND)
			continue;          /* pruned since the listing */
		if (is_damage(rc)) {
			VerifiedBad *b = &s->bad[s->nbad++];
			memcpy(b->id, l.v[i].id, STRATA_ID_LEN);
			memcpy(b->snapshot, l.v[i].snap, STRATA_ID_LEN);
			b->code = rc;
			snprintf(b->message, sizeof b->message, "restore-test record %s", rerr.msg);
			continue;
		}
		if (rc) {
			if (err)
				*err = rerr;
			goto out;
		}
		s->n++;
	}
	rc = 0;
	qsort(s->recs, s->n, sizeof *s->recs, cmp_record);
	*out = s;
	s = NULL;
out:
	free(l.v);
	verified_set_free(s);
	return rc;
}

void verified_set_free(VerifiedSet *set)
{
	if (!set)
		return;
	free(set->recs);
	free(set->bad);
	free(set);
}

const VerifiedRecord *verified_newest(const VerifiedSet *set, const uint8_t snap[STRATA_ID_LEN])
{
	size_t lo = 0, hi;

	if (!set)
		return NULL;
	/* The first record of a later snapshot; the one before it is the
	 * newest of snap when it belongs to snap (records sort by time). */
	hi = set->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(set->recs[mid].snapshot, snap, STRATA_ID_LEN) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || memcmp(set->recs[lo - 1].snapshot, snap, STRATA_ID_LEN) != 0)
		return NULL;
	return &set->recs[lo - 1];
}

int verified_passed(const VerifiedSet *set, const uint8_t snap[STRATA_ID_LEN])
{
	const VerifiedRecord *r = verified_newest(set, snap);

	return r && r->outcome == VERIFIED_PASSED;
}

size_t verified_set_count(const VerifiedSet *set)
{
	return set ? set->n : 0;
}

const VerifiedRecord *verified_set_at(const VerifiedSet *set, size_t i)
{
	return set && i < set->n ? &set->recs[i] : NULL;
}

size_t verified_set_nbad(const VerifiedSet *set)
{
	return set ? set->nbad : 0;
}

const VerifiedBad *verified_set_bad(const VerifiedSet *set, size_t i)
{
	return set && i < set->nbad ? &set->bad[i] : NULL;
}

/* ---- prune ---- */

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

static int cmp_entry(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(Entry));
}

int verified_prune(Repo *repo, const uint8_t (*ignore)[STRATA_ID_LEN], size_t nignore, int dry_run,
                   uint64_t *out_records, uint64_t *out_snapshots, StrataErr *err)
{
	EntryList l = {0};
	uint8_t (*snaps)[STRATA_ID_LEN] = NULL;
	size_t nsnaps = 0;
	uint64_t records = 0, groups = 0;
	int rc;

	/* Records first: each was written after its snapshot, so a record
	 * listed here has its snapshot in the listing below unless that
	 * snapshot is really gone. */
	if ((rc = list_entries(repo, &l, err)) || l.n == 0 ||
	    (rc = repo_list_ids(repo, "snapshots/", &snaps, &nsnaps, err)))
		goto out;
	qsort(snaps, nsnaps, sizeof *snaps, cmp_id);
	qsort(l.v, l.n, sizeof *l.v, cmp_entry);
	for (size_t i = 0; i < l.n; i++) {
		const Entry *e = &l.v[i];
		int gone = !bsearch(e->snap, snaps, nsnaps, sizeof *snaps, cmp_id);
		for (size_t k = 0; !gone && k < nignore; k++)
			gone = memcmp(ignore[k], e->snap, STRATA_ID_LEN) == 0;
		if (!gone)
			continue;
		if (i == 0 || memcmp(l.v[i - 1].snap, e->snap, STRATA_ID_LEN) != 0)
			groups++;
		records++;
		if (!dry_run) {
			char dir[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1], name[REPO_NAME_MAX + STRATA_ID_HEX_LEN + 2];
			RemoteErr rerr = {{0}};
			dir_of(e->snap, dir);
			codec_hex(e->id, STRATA_ID_LEN, hex);
			snprintf(name, sizeof name, "%s/%s", dir, hex);
			rc = backend_delete(repo->be, name, &rerr);
			/* Under retention (S3 Object Lock): it goes in a later
			 * prune, once the retention ends. */
			if (rc == -ENOENT || rc == -EPERM)
				rc = 0;
			if (rc) {
				repo_remote_err(err, rc, &rerr);
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (rc == 0) {
		if (out_records)
			*out_records = records;
		if (out_snapshots)
			*out_snapshots = groups;
	}
	free(l.v);
	free(snaps);
	return rc;
}
