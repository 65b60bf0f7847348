/* wal_fetch.c — WAL files back out of the archive, and the prefetch
 * spool; see wal.h. Chunks of a file are read in parallel (a worker pool)
 * and each repeat (zero pages) is read once. */
#include "store/wal/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/frame.h"
#include "store/index.h"
#include "store/pack_read.h"
#include "store/sys/outfile.h"
#include "store/format.h"
#include "store/repo_internal.h"
#include "store/wal/wal_internal.h"
#include "store/sys/workpool.h"

#define SPOOL_DIR "wal-spool"
#define FETCH_INFLIGHT (64u << 20)

/* ---- files ---- */

/* A fetched or spooled WAL file: written as outfile.h writes (a private
 * temporary file, rename), mode 0600: the server reads it as its owner,
 * and it may hold the database's data. sync: fsync the file and the
 * directory (the spool, which a later call trusts). A file handed to
 * PostgreSQL is not fsynced: after a machine crash recovery asks for it
 * again. */
static int write_atomic(const char *path, const uint8_t *buf, size_t len, int sync, StrataErr *err)
{
	return outfile_write(path, buf, len, 0600, sync ? 0 : OUTFILE_NO_SYNC, err);
}

/* Whether buf (d->size bytes, each chunk read and authenticated under its
 * ID) is what d describes: version 1, the keyed hash of the whole; version
 * 2, CONTENT_ID recomputed from the descriptor's chunk list (the chunks'
 * AEAD binds each to its ID, FORMAT.md §8, so no pass over the bytes). */
static int content_matches(Repo *repo, const WalDesc *d, const uint8_t *buf)
{
	uint8_t id[STRATA_ID_LEN];

	if (d->version < 2)
		codec_chunk_id(repo->keys, buf, d->size, id);
	else if (wal_content_id2(repo->keys, d, id) != 0)
		return 0;
	return memcmp(id, d->content_id, STRATA_ID_LEN) == 0;
}

/* ---- fetch ---- */

/* A WAL segment is ~360 chunks of ~46 KiB, stored one after another in
 * the packs of the batch that archived it: reading each chunk with its own
 * request cost one S3 GET (or one open and pread) per chunk. The chunks
 * are read instead as ranges of adjacent bytes of one pack, as a restore
 * does (store/restore/restore_plan.h): a range takes the next chunk of its
 * pack when the bytes between them are at most RANGE_GAP_MAX (read and
 * dropped: cheaper than another request) and the range stays within
 * RANGE_MAX, so a segment is a few requests, still fetched in parallel. */
#define RANGE_GAP_MAX (256u << 10)
#define RANGE_MAX     (4u << 20)

typedef struct Fetch {
	Repo *repo;
	const WalDesc *d;
	const IndexEntry *ents;      /* per descriptor chunk, for the unique ones */
	const uint64_t *offs;        /* each chunk's offset in buf */
	const uint32_t *u;           /* unique chunks, by pack and offset */
	uint8_t *buf;
	pthread_mutex_t mu;
	int fatal;
	StrataErr ferr;
} Fetch;

typedef struct FetchJob {
	Fetch *f;
	uint32_t first, count;       /* f->u[first .. first+count) */
} FetchJob;

static void *make_codec(void) { return codec_ctx_new(); }
static void free_codec(void *p) { codec_ctx_free(p); }

static void set_fatal(Fetch *f, int rc, const StrataErr *err)
{
	pthread_mutex_lock(&f->mu);
	if (!f->fatal) {
		f->fatal = rc;
		f->ferr = *err;
	}
	pthread_mutex_unlock(&f->mu);
}

/* One range: one read of the pack, then each chunk in it opened
 * (authenticated under its ID, decompressed) straight into buf. */
static void fetch_job(void *arg, void *state)
{
	FetchJob *j = arg;
	Fetch *f = j->f;
	const IndexEntry *e0 = &f->ents[f->u[j->first]], *el = &f->ents[f->u[j->first + j->count - 1]];
	StrataErr err = {0};
	char hex[STRATA_ID_HEX_LEN + 1], packhex[STRATA_ID_HEX_LEN + 1];
	uint64_t start = e0->offset, len = (uint64_t)el->offset + el->length - start;
	uint8_t *raw = NULL;
	FrameCursor fc = {0};
	int rc = 0;

	codec_hex(e0->pack, STRATA_ID_LEN, packhex);
	if (!state || !(raw = malloc(len ? len : 1))) {
		rc = strata_err_set(&err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = pack_read_range(f->repo, pack_kind_of_blob(e0->type), e0->pack, start, (size_t)len, raw, &err);
	if (rc == -ENOENT || rc == -ERANGE) {
		rc = strata_err_set(&err, STRATA_EDAMAGED, "WAL file %s: pack %.16s %s (offset %llu, %llu bytes)",
		                    f->d->name, packhex, rc == -ENOENT ? "is missing" : "is truncated",
		                    (unsigned long long)start, (unsigned long long)len);
		goto out;
	}
	if (rc) {
		strata_err_prefix(&err, "WAL file %s", f->d->name);
		goto out;
	}
	for (uint32_t k = j->first; k < j->first + j->count; k++) {
		uint32_t i = f->u[k];
		const IndexEntry *e = &f->ents[i];
		if (e->frame_raw)   /* a frame's member (FORMAT.md 9a): each frame opened once */
			rc = frame_cursor_member(&fc, state, f->repo->keys, e->offset, raw + (e->offset - start), e->length,
			                         e->frame_raw, f->d->ids[i], e->member_off, e->raw_len, 1,
			                         f->buf + f->offs[i]);
		else
			rc = pack_read_open(state, f->repo, e->type, f->d->ids[i], raw + (e->offset - start), e->length,
			                    f->buf + f->offs[i], e->raw_len, 1);
		if (rc) {
			codec_hex(f->d->ids[i], STRATA_ID_LEN, hex);
			rc = rc == -ENOMEM ? strata_err_set(&err, rc, "out of memory")
			     : strata_err_set(&err, STRATA_EDAMAGED, "WAL file %s: chunk %.16s in pack %.16s at offset %u: %s",
			                      f->d->name, hex, packhex, e->offset,
			                      pack_read_damage(rc) == PACK_DAMAGE_AUTH ? "fails authentication" :
			                      pack_read_damage(rc) == PACK_DAMAGE_HASH ? "content does not match its ID" :
			                      "cannot be decoded");
			goto out;
		}
	}
out:
	if (rc)
		set_fatal(f, rc, &err);
	frame_cursor_free(&fc);
	free(raw);
	free(j);
}

static int cmp_idx(const void *a, const void *b, void *ctx)
{
	const WalDesc *d = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int r = memcmp(d->ids[x], d->ids[y], STRATA_ID_LEN);

	return r ? r : (x < y ? -1 : x > y);
}

static int cmp_place(const void *a, const void *b, void *ctx)
{
	const IndexEntry *ents = ctx;
	const IndexEntry *x = &ents[*(const uint32_t *)a], *y = &ents[*(const uint32_t *)b];
	int r = memcmp(x->pack, y->pack, STRATA_ID_LEN);

	return r ? r : (x->offset < y->offset ? -1 : x->offset > y->offset);
}

static int read_chunks(Repo *repo, const WalDesc *d, uint8_t *buf, StrataErr *err)
{
	Fetch f;
	WorkPool *pool = NULL;
	Index *ix;
	IndexEntry *ents = NULL;
	uint64_t *offs = NULL;
	uint32_t *order = NULL, *u = NULL, nu = 0;
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	memset(&f, 0, sizeof f);
	pthread_mutex_init(&f.mu, NULL);
	rc = repo_index(repo, &ix, err);
	if (rc)
		goto out;
	offs = malloc((d->n ? d->n : 1) * sizeof *offs);
	order = malloc((d->n ? d->n : 1) * sizeof *order);
	u = malloc((d->n ? d->n : 1) * sizeof *u);
	ents = malloc((d->n ? d->n : 1) * sizeof *ents);
	if (!offs || !order || !u || !ents) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	{
		uint64_t o = 0;
		for (uint32_t i = 0; i < d->n; i++) {
			offs[i] = o;
			order[i] = i;
			o += d->lens[i];
		}
	}
	/* The unique chunks (a repeat, such as a page of zeros, is copied
	 * below), each looked up in the index. */
	qsort_r(order, d->n, sizeof *order, cmp_idx, (void *)(uintptr_t)d);
	for (uint32_t k = 0; k < d->n; k++) {
		uint32_t i = order[k];
		uint64_t off = offs[i];
		if (k > 0 && memcmp(d->ids[order[k - 1]], d->ids[i], STRATA_ID_LEN) == 0)
			continue;
		codec_hex(d->ids[i], STRATA_ID_LEN, hex);
		if (index_lookup(ix, BLOB_DATA, d->ids[i], &ents[i]) != 0) {
			rc = strata_err_set(err, STRATA_EDAMAGED, "WAL file %s: chunk %.16s (bytes %llu-%llu) is missing from "
			                    "the repository", d->name, hex, (unsigned long long)off,
			                    (unsigned long long)(off + d->lens[i] - 1));
			goto out;
		}
		if (ents[i].raw_len != d->lens[i] || ents[i].type != BLOB_DATA) {
			rc = strata_err_set(err, STRATA_EDAMAGED, "WAL file %s: chunk %.16s: index and descriptor disagree on "
			                    "its length", d->name, hex);
			goto out;
		}
		u[nu++] = i;
	}
	qsort_r(u, nu, sizeof *u, cmp_place, ents);
	f.repo = repo;
	f.d = d;
	f.ents = ents;
	f.offs = offs;
	f.u = u;
	f.buf = buf;
	pool = workpool_new(workpool_default_threads() < 8 ? 8 : workpool_default_threads(),
	                    FETCH_INFLIGHT, make_codec, free_codec);
	if (!pool) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (uint32_t k = 0; k < nu;) {
		const IndexEntry *e0 = &ents[u[k]];
		uint64_t end = (uint64_t)e0->offset + e0->length;
		uint32_t n = 1;
		FetchJob *j;
		while (k + n < nu) {
			const IndexEntry *e = &ents[u[k + n]];
			if (e->frame_raw && e->offset == ents[u[k + n - 1]].offset &&
			    memcmp(e->pack, e0->pack, STRATA_ID_LEN) == 0) {
				n++;   /* another member of the same frame: no bytes more */
				continue;
			}
			if (memcmp(e->pack, e0->pack, STRATA_ID_LEN) != 0 || e->offset < end ||
			    e->offset - end > RANGE_GAP_MAX || (uint64_t)e->offset + e->length - e0->offset > RANGE_MAX)
				break;
			end = (uint64_t)e->offset + e->length;
			n++;
		}
		if (!(j = malloc(sizeof *j))) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		j->f = &f;
		j->first = k;
		j->count = n;
		rc = workpool_submit(pool, fetch_job, j, end - e0->offset);
		if (rc) {
			free(j);
			rc = strata_err_set(err, rc, "out of memory");
			goto out;
		}
		k += n;
	}
	workpool_wait(pool);
	if (f.fatal) {
		rc = f.fatal;
		*err = f.ferr;
		goto out;
	}
	for (uint32_t k = 1; k < d->n; k++) {
		uint32_t i = order[k], first = order[k];
		size_t back = k;
		if (memcmp(d->ids[order[k - 1]], d->ids[i], STRATA_ID_LEN) != 0)
			continue;
		while (back > 0 && memcmp(d->ids[order[back - 1]], d->ids[i], STRATA_ID_LEN) == 0)
			first = order[--back];
		memcpy(buf + offs[i], buf + offs[first], d->lens[i]);
	}
out:
	workpool_free(pool);   /* waits for the jobs submitted before a failure */
	free(offs);
	free(order);
	free(u);
	free(ents);
	pthread_mutex_destroy(&f.mu);
	return rc;
}

static int spool_dir(Repo *repo, char out[PATH_MAX])
{
	if (snprintf(out, PATH_MAX, "%s/%s", repo->cache_dir, SPOOL_DIR) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (mkdir(out, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whether buf (d->size bytes from outside the repository: a spool file)
 * holds what d describes: the keyed hash of the whole (version 1) or of
 * each chunk's span (version 2) against the descriptor. */
static int bytes_match(Repo *repo, const WalDesc *d, const uint8_t *buf)
{
	uint8_t id[STRATA_ID_LEN];
	uint64_t off = 0;

	if (d->version < 2) {
		codec_chunk_id(repo->keys, buf, d->size, id);
		return memcmp(id, d->content_id, STRATA_ID_LEN) == 0;
	}
	for (uint32_t i = 0; i < d->n; i++) {
		codec_chunk_id(repo->keys, buf + off, d->lens[i], id);
		if (memcmp(id, d->ids[i], STRATA_ID_LEN) != 0)
			return 0;
		off += d->lens[i];
	}
	return 1;
}

/* A spooled copy of d, if there is one whose keyed hash matches. */
static uint8_t *from_spool(Repo *repo, const WalDesc *d)
{
	char dir[PATH_MAX], path[PATH_MAX + WAL_NAME_MAX + 2];
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t mt;
	StrataErr ignore = {0};

	if (spool_dir(repo, dir) != 0)
		return NULL;
	snprintf(path, sizeof path, "%s/%s", dir, d->name);
	if (access(path, F_OK) != 0)
		return NULL;
	if (wal_read_whole(path, &buf, &len, &mt, &ignore) == 0 && len == d->size && bytes_match(repo, d, buf)) {
		unlink(path);
		return buf;
	}
	/* Stale or damaged: fetch from the repository instead. */
	free(buf);
	unlink(path);
	return NULL;
}

/* The content of d, from the spool or the repository, hash-checked. */
static int load_content(Repo *repo, const WalDesc *d, int use_spool, uint8_t **out, int *out_spooled,
                        StrataErr *err)
{
	uint8_t *buf = use_spool ? from_spool(repo, d) : NULL;
	int rc;

	*out_spooled = buf != NULL;
	if (!buf) {
		buf = malloc(d->size ? d->size : 1);
		if (!buf)
			return strata_err_set(err, -ENOMEM, "out of memory");
		rc = read_chunks(repo, d, buf, err);
		if (rc) {
			free(buf);
			return rc;
		}
		if (!content_matches(repo, d, buf)) {
			free(buf);
			return strata_err_set(err, STRATA_EDAMAGED, "WAL file %s: reassembled content does not match "
			                      "the descriptor's hash", d->name);
		}
	}
	*out = buf;
	return 0;
}

int wal_fetch(Repo *repo, const char *name, const char *dest, WalFetchResult *out,
              StrataErr *err)
{
	WalDesc d;
	uint8_t *buf = NULL;
	int kind, spooled = 0, rc;

	memset(&d, 0, sizeof d);
	rc = wal_check_name(name, &kind, err);
	if (rc)
		return rc;
	rc = wal_desc_load(repo, name, &d, err);
	if (rc)
		return rc;
	rc = load_content(repo, &d, 1, &buf, &spooled, err);
	if (rc == 0)
		rc = write_atomic(dest, buf, d.size, 0, err);
	if (rc == 0 && out) {
		out->size = d.size;
		out->from_spool = spooled;
		out->segment_size = kind == WAL_SEGMENT ? d.size : 0;
	}
	free(buf);
	wal_desc_free(&d);
	return rc;
}

/* ---- prefetch ---- */

int wal_next_segment(const char *seg, uint64_t segment_size, char out[WAL_NAME_MAX + 1])
{
	int kind;
	uint32_t tl, log, sno;
	uint64_t per_log;

	if (wal_name_parse(seg, &kind, &tl) != 0 || kind != WAL_SEGMENT ||
	    segment_size < (1u << 20) || segment_size > WAL_MAX_FILE_BYTES || (segment_size & (segment_size - 1)))
		return STRATA_EUSAGE;
	/* TIMELINE || LOG || SEG, 8 hex each; SEG counts segments within one
	 * 4 GiB "log" (PostgreSQL's XLogSegmentsPerXLogId). */
	per_log = 0x100000000ULL / segment_size;
	log = wal_hex8(seg + 8);
	sno = wal_hex8(seg + 16);
	if (sno >= per_log)
		return STRATA_EUSAGE;
	if (++sno == per_log) {
		sno = 0;
		if (log == UINT32_MAX)
			return STRATA_EUSAGE;
		log++;
	}
	snprintf(out, WAL_NAME_MAX + 1, "%08X%08X%08X", tl, log, sno);
	return 0;
}

/* Remove spool files of this timeline that sort before keep, and
 * leftovers of interrupted prefetches: "NAME.tmp-XXXXXXXXXXXX" (outfile.h,
 * named only without O_TMPFILE) and "NAME.tmp" (earlier versions). */
static void spool_clean(const char *dir, const char *keep)
{
	char path[PATH_MAX + WAL_NAME_MAX + 2];
	DIR *dp = opendir(dir);
	struct dirent *de;

	if (!dp)
		return;
	while ((de = readdir(dp)) != NULL) {
		size_t l = strlen(de->d_name);
		int stale_tmp = (l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0) || strstr(de->d_name, ".tmp-");
		int older = l == WAL_SEG_NAME_LEN && strncmp(de->d_name, keep, 8) == 0 && strcmp(de->d_name, keep) < 0;
		if (!stale_tmp && !older)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(dp);
}

int wal_prefetch(Repo *repo, const char *after, unsigned count, unsigned *out_fetched,
                 StrataErr *err)
{
	char dir[PATH_MAX], lockp[PATH_MAX + 16], path[PATH_MAX + WAL_NAME_MAX + 2];
	char cur[WAL_NAME_MAX + 1], next[WAL_NAME_MAX + 1];
	uint64_t segsize = 0;
	unsigned fetched = 0;
	int lfd = -1, kind, rc;

	rc = wal_name_parse(after, &kind, NULL);
	if (rc || kind != WAL_SEGMENT)
		return strata_err_set(err, STRATA_EUSAGE, "prefetch: %s is not a WAL segment name", after);
	rc = spool_dir(repo, dir);
	if (rc)
		return strata_err_set(err, rc, "cannot create the WAL spool in %s: %s", repo->cache_dir, strerror(-rc));
	snprintf(lockp, sizeof lockp, "%s/lock", dir);
	/* O_NOFOLLOW: a symlink planted at the lock's name would make this
	 * process create or open any file it may write. */
	lfd = open(lockp, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (lfd < 0)
		return strata_err_set(err, -errno, "cannot open %s: %s", lockp, strerror(errno));
	if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		close(lfd);   /* another prefetch is at work */
		if (out_fetched)
			*out_fetched = 0;
		return 0;
	}
	spool_clean(dir, after);
	snprintf(cur, sizeof cur, "%s", after);
	for (unsigned i = 0; i < count; i++) {
		WalDesc d;
		uint8_t *buf = NULL;
		int spooled;
		if (!segsize) {
			/* The size of after's own segment names the ones after it. */
			memset(&d, 0, sizeof d);
			rc = wal_desc_load(repo, cur, &d, err);
			segsize = d.size;
			wal_desc_free(&d);
			if (rc)
				break;
		}
		if (wal_next_segment(cur, segsize, next) != 0)
			break;
		snprintf(cur, sizeof cur, "%s", next);
		snprintf(path, sizeof path, "%s/%s", dir, next);
		if (access(path, F_OK) == 0)
			continue;
		memset(&d, 0, sizeof d);
		rc = wal_desc_load(repo, next, &d, err);
		if (rc)
			break;
		rc = load_content(repo, &d, 0, &buf, &spooled, err);
		if (rc == 0)
			rc = write_atomic(path, buf, d.size, 1, err);
		free(buf);
		wal_desc_free(&d);
		if (rc)
			break;
		fetched++;
	}
	if (rc == STRATA_ENOTFOUND) {
		rc = 0;   /* the end of the archive, for now */
		strata_err_clear(err);
	}
	close(lfd);
	if (rc == 0 && out_fetched)
		*out_fetched = fetched;
	return rc;
}

