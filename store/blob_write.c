/* blob_write.c — BlobWriter, see blob.h. FORMAT.md "Pack file",
 * "Write ordering". */
#include "store/blob.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/frame.h"
#include "store/indexfile.h"
#include "store/repo_internal.h"

/* Tree blobs: zstd level 1. Most of a big directory's tree is chunk IDs,
 * which no level compresses: on 100 trees of 1,000 files each (one
 * backup of 100 changed files, issue 34) level 9 stored 4.30-4.38 MiB
 * for 0.19-0.31 s of CPU, level 3 4.32-4.36 MiB and level 1 4.28-4.29
 * MiB for 0.10-0.11 s. Sealing those trees is most of what an
 * incremental of a few changed files in big directories costs. */
#define TREE_ZSTD_LEVEL 1
/* Write a stored index file after this many packs, so that a crash in a
 * long backup leaves little for the next run to cover. */
#define INDEX_EVERY_PACKS 64
/* Finished packs queued or being stored, at most: bounds memory to about
 * (that + 2) packs while storage writes overlap sealing. On a local
 * directory one is enough to overlap them: with two, a 10 GiB first
 * backup peaked at 133-146 MiB against 118-127 with one, at the same
 * speed. An object store answers each PUT after a round trip and its own
 * work, so there as many uploader threads as the backend runs transfers
 * (--transfers) store packs at once, up to UPLOADERS_MAX. */
#define UPLOADERS_MAX 4
/* Stored data packs kept, emptied, for the next ones: a fresh 16 MiB
 * buffer costs 4,096 page faults as it fills (on a VM, a tenth of a
 * backup's CPU); a reused one none. The pack memory bound is unchanged:
 * a spare stands in for a pack that would otherwise be in the queue. */
#define SPARE_PACKS 2
/* Tree packs close sooner than data packs: a directory of large files
 * serializes to megabytes of chunk lists, and a tree pack is held whole
 * until it closes; with 16 MiB tree packs a 10 GiB backup's peak memory
 * grew by the size of that one directory's tree, and with 4 MiB ones a
 * 10 GiB backup still held 4 MiB more than a 2 GiB one (whose trees fill
 * one pack of 1.2 MiB). Restores and checks fetch tree packs whole, which
 * smaller packs also suit. */
#define TREE_PACK_MAX ((size_t)1 << 20)

typedef struct QueuedPack {
	PackBuilder pb;
	uint8_t kind;
} QueuedPack;

/* Pending set of blobs, each held as CHUNK_ID || TYPE (a blob is its type
 * and ID together, index.h): open addressing on the ID's first 8 bytes
 * (IDs are keyed hashes, so uniformly distributed). Backward-shift
 * deletion. */
#define PENDING_KEY_LEN (CODEC_ID_LEN + 1)

typedef struct PendingSet {
	uint8_t (*slots)[PENDING_KEY_LEN];
	uint8_t *used;
	size_t cap, n;
} PendingSet;

typedef struct SessionPack {
	uint8_t id[CODEC_ID_LEN];
	uint8_t kind;
	uint64_t size;
	PackEntry *entries;
	size_t n;
} SessionPack;

struct BlobWriter {
	Repo *repo;
	Index *ix;
	int zlevel;
	pthread_mutex_t mu;
	PackBuilder open[2];           /* by pack kind */
	PendingSet pending;
	SessionPack *session;          /* packs not yet in a stored index file */
	size_t nsession, session_cap;
	BlobWriterStats stats;
	int failed;                    /* a pack upload failed: refuse further puts */
	int rewrite;                   /* store even what the index holds (repack) */
	BlobWriterPackFn on_pack;      /* told of each stored pack (repack), or NULL */
	void *on_pack_ctx;
	StrataErr fail_err;
	/* The uploader threads store finished packs (store_pack). */
	pthread_t uploader[UPLOADERS_MAX];
	int nuploaders;                /* running; also the bound on packs
	                                * queued + being stored */
	pthread_cond_t queue_cv;       /* queue changed or stop set */
	QueuedPack queue[UPLOADERS_MAX];
	size_t qhead, qlen;            /* waiting for an uploader */
	int storing;                   /* taken by an uploader, not yet stored */
	PackBuilder spare[SPARE_PACKS];  /* emptied data packs, buffers kept */
	size_t nspare;
	/* Packs for a class with a minimum billable size (Backend
	 * min_data_object, tools/cli/doc/s3.md "Storage classes and pack
	 * sizes"): a full data pack is held here, not queued, until the next
	 * one holds min_data bytes; at finish a smaller last pack is appended
	 * to it. So no data pack is smaller than min_data unless the whole
	 * session stored less. held is never hashed while held (hash_open
	 * only hashes open[]); pack_builder_finish hashes it whole. */
	size_t min_data;
	PackBuilder held;
	int stop;
	/* One worker at a time feeds an open pack's committed blobs to its
	 * name's hash, outside mu (hash_open). While it does, the pack is not
	 * queued and its buffer does not move; whoever needs either waits on
	 * hash_cv. */
	int hashing[2];                /* by pack kind */
	int hash_waiters;
	pthread_cond_t hash_cv;
};

static int store_pack(BlobWriter *bw, PackBuilder *pb, uint8_t kind, StrataErr *err);
static void set_failed(BlobWriter *bw, const StrataErr *err);

static void *uploader_main(void *arg)
{
	BlobWriter *bw = arg;

	pthread_mutex_lock(&bw->mu);
	for (;;) {
		while (bw->qlen == 0 && !bw->stop)
			pthread_cond_wait(&bw->queue_cv, &bw->mu);
		if (bw->qlen == 0)
			break;
		QueuedPack qp = bw->queue[bw->qhead];
		bw->qhead = (bw->qhead + 1) % UPLOADERS_MAX;
		bw->qlen--;
		bw->storing++;
		int skip = bw->failed;       /* read under mu: other uploaders set it */
		pthread_mutex_unlock(&bw->mu);
		StrataErr err = {0};
		int rc = skip ? 0 : store_pack(bw, &qp.pb, qp.kind, &err);
		if (rc)
			set_failed(bw, &err);
		pthread_mutex_lock(&bw->mu);
		if (qp.kind == PACK_KIND_DATA && bw->nspare < SPARE_PACKS) {
			pack_builder_reset(&qp.pb);
			bw->spare[bw->nspare++] = qp.pb;
		} else {
			pack_builder_free(&qp.pb);
		}
		/* The bound counts the pack being stored too. */
		bw->storing--;
		pthread_cond_broadcast(&bw->queue_cv);
	}
	pthread_mutex_unlock(&bw->mu);
	return NULL;
}

/* The size at which a pack of kind closes. */
static size_t pack_target(const BlobWriter *bw, uint8_t kind)
{
	size_t ps = bw->repo->pack_size;
	if (kind == PACK_KIND_DATA)
		return ps > bw->min_data ? ps : bw->min_data;
	return ps < TREE_PACK_MAX ? ps : TREE_PACK_MAX;
}

/* Wait, under mu, until no worker is hashing pack kind's open pack. */
static void wait_hashed(BlobWriter *bw, uint8_t kind)
{
	while (bw->hashing[kind]) {
		bw->hash_waiters++;
		pthread_cond_wait(&bw->hash_cv, &bw->mu);
		bw->hash_waiters--;
	}
}

/* Called under mu right after a commit to the open pack of kind: unless
 * another worker is at it, hash its committed blobs with mu released,
 * including those other workers commit meanwhile. Hashing under mu held
 * the other worker waiting for a third of a first backup. The name is
 * the hash of the bytes in order, so one worker at a time does it; the
 * rest go on sealing. pack_builder_finish hashes what is left. */
static void hash_open(BlobWriter *bw, uint8_t kind)
{
	PackBuilder *pb = &bw->open[kind];

	if (bw->hashing[kind])
		return;
	bw->hashing[kind] = 1;
	while (pb->hashed < pb->len) {
		size_t n = pb->len - pb->hashed;
		pthread_mutex_unlock(&bw->mu);
		pack_builder_hash(pb, n);      /* buf[hashed..hashed + n): committed, still */
		pthread_mutex_lock(&bw->mu);
	}
	bw->hashing[kind] = 0;
	if (bw->hash_waiters)
		pthread_cond_broadcast(&bw->hash_cv);
}

/* Under mu: must a pack of kind wait before it is queued? While the
 * upload queue is full, or while a worker is hashing kind's open pack
 * (hash_open: a pack is queued with a settled hash). */
static int queue_busy(const BlobWriter *bw, uint8_t kind)
{
	return bw->hashing[kind] || (int)bw->qlen + bw->storing >= bw->nuploaders;
}

/* Wait, under mu, until queue_busy is 0. The wait releases mu: whatever
 * the caller decided before it must be decided again after it. */
static void wait_queue_room(BlobWriter *bw, uint8_t kind)
{
	while (queue_busy(bw, kind)) {
		if (bw->hashing[kind])
			wait_hashed(bw, kind);
		else
			pthread_cond_wait(&bw->queue_cv, &bw->mu);
	}
}

/* Under mu, with room in the queue (wait_queue_room, mu held since):
 * queue the pack in pb and give pb an empty builder. */
static void queue_pack(BlobWriter *bw, PackBuilder *pb, uint8_t kind)
{
	QueuedPack *qp = &bw->queue[(bw->qhead + bw->qlen) % UPLOADERS_MAX];
	qp->pb = *pb;
	qp->kind = kind;
	bw->qlen++;
	if (kind == PACK_KIND_DATA && bw->nspare > 0)
		*pb = bw->spare[--bw->nspare];
	else
		pack_builder_init(pb, bw->repo->name_hash);
	pthread_cond_broadcast(&bw->queue_cv);
}

/* Hand a full open pack (or, at finish, any pack) to the uploader; blocks
 * while the queue is full or a worker is hashing it (hash_open).
 * Called with bw->mu held, which the wait releases: another thread may
 * hand over the same builder meanwhile, so it is taken only if it still
 * holds a blob and at least min_len bytes, whichever pack that now is.
 * Not for the held pack while puts run: see release_held. */
static void enqueue_pack(BlobWriter *bw, PackBuilder *pb, uint8_t kind, size_t min_len)
{
	wait_queue_room(bw, kind);
	if (pb->n == 0 || pb->len < min_len)
		return;
	queue_pack(bw, pb, kind);
}

/* Under mu: queue the held data pack once the open one after it holds
 * min_data bytes. The condition is tested after every wait, not only
 * before it: while the wait releases mu another worker may queue the held
 * pack and hold the open one in its place, leaving an empty open pack
 * behind it. Queuing that newly held pack would leave the session's last
 * pack, if smaller than min_data, with no held pack to join at finish
 * (issue 33; test_chunkpipe test_hold_decided_after_wait). */
static void release_held(BlobWriter *bw)
{
	for (;;) {
		if (!bw->held.n || bw->open[PACK_KIND_DATA].len < bw->min_data)
			return;
		if (queue_busy(bw, PACK_KIND_DATA)) {
			wait_queue_room(bw, PACK_KIND_DATA);
			continue;
		}
		queue_pack(bw, &bw->held, PACK_KIND_DATA);
		return;
	}
}

/* Under mu, with open[DATA] at or past its target and min_data set: the
 * held pack (if any) is queued, then the open one becomes held. Loops
 * because release_held and wait_hashed drop mu: another worker may have
 * done either meanwhile. */
static void hold_data_pack(BlobWriter *bw)
{
	PackBuilder *open = &bw->open[PACK_KIND_DATA];

	for (;;) {
		if (open->len < pack_target(bw, PACK_KIND_DATA))
			return;                  /* another worker closed it */
		if (bw->held.n) {
			release_held(bw);        /* open >= target >= min_data */
			continue;
		}
		if (bw->hashing[PACK_KIND_DATA]) {
			wait_hashed(bw, PACK_KIND_DATA);
			continue;
		}
		pack_builder_free(&bw->held);
		bw->held = *open;
		if (bw->nspare > 0)
			*open = bw->spare[--bw->nspare];
		else
			pack_builder_init(open, bw->repo->name_hash);
		return;
	}
}

/* Close a full pack of kind (under mu): data packs through the hold when
 * a minimum size applies, else straight to the uploaders. */
static void close_pack(BlobWriter *bw, uint8_t kind)
{
	if (kind == PACK_KIND_DATA && bw->min_data)
		hold_data_pack(bw);
	else
		enqueue_pack(bw, &bw->open[kind], kind, pack_target(bw, kind));
}

/* At finish (under mu, no put running): a last data pack below min_data
 * joins the held one, blob by blob (offsets move by the held pack's
 * length; the name is hashed from scratch by pack_builder_finish over
 * the held bytes already hashed plus these). */
static int merge_last_data_pack(BlobWriter *bw)
{
	PackBuilder *open = &bw->open[PACK_KIND_DATA];
	int rc = 0;

	wait_hashed(bw, PACK_KIND_DATA);
	if (!bw->held.n || !open->n || open->len >= bw->min_data)
		return 0;
	for (size_t i = 0; i < open->n && rc == 0; i++) {
		const PackEntry *e = &open->entries[i];
		uint8_t *dst;
		size_t m = e->type == FORMAT_BLOB_FRAME ? frame_members_check(open->entries, open->n, i) : 0;
		if (e->type == FORMAT_BLOB_FRAME && m == 0) {
			rc = STRATA_EFORMAT;   /* never: pack_builder_commit_frame wrote it */
			break;
		}
		rc = pack_builder_reserve(&bw->held, e->length, &dst);
		if (rc)
			break;
		memcpy(dst, open->buf + e->offset, e->length);
		if (m) {
			/* A frame and its members, which follow it (FORMAT.md 9a). */
			uint8_t (*ids)[CODEC_ID_LEN] = malloc(m * sizeof *ids);
			uint32_t *lens = malloc(m * sizeof *lens);
			for (size_t k = 0; ids && lens && k < m; k++) {
				memcpy(ids[k], open->entries[i + 1 + k].id, CODEC_ID_LEN);
				lens[k] = open->entries[i + 1 + k].raw_len;
			}
			rc = ids && lens ? pack_builder_commit_frame(&bw->held, (const uint8_t (*)[CODEC_ID_LEN])ids, lens, m,
			                                            e->length, e->raw_len)
			                 : -ENOMEM;
			free(ids);
			free(lens);
			i += m;
		} else {
			rc = pack_builder_commit(&bw->held, e->type, e->id, e->length, e->raw_len);
		}
	}
	if (rc == 0)
		pack_builder_reset(open);
	return rc;
}

/* Stop the uploaders after they have stored everything queued. */
static void stop_uploader(BlobWriter *bw)
{
	if (!bw->nuploaders)
		return;
	pthread_mutex_lock(&bw->mu);
	bw->stop = 1;
	pthread_cond_broadcast(&bw->queue_cv);
	pthread_mutex_unlock(&bw->mu);
	while (bw->nuploaders > 0)
		pthread_join(bw->uploader[--bw->nuploaders], NULL);
}

static void pending_key(uint8_t key[PENDING_KEY_LEN], uint8_t type, const uint8_t id[CODEC_ID_LEN])
{
	memcpy(key, id, CODEC_ID_LEN);
	key[CODEC_ID_LEN] = type;
}

static size_t slot_of(const PendingSet *s, const uint8_t key[PENDING_KEY_LEN])
{
	uint64_t h;

	memcpy(&h, key, sizeof h);
	return (size_t)(h & (s->cap - 1));
}

static int pending_find(const PendingSet *s, const uint8_t key[PENDING_KEY_LEN], size_t *out_slot)
{
	size_t i = slot_of(s, key);

	while (s->used[i]) {
		if (memcmp(s->slots[i], key, PENDING_KEY_LEN) == 0) {
			*out_slot = i;
			return 1;
		}
		i = (i + 1) & (s->cap - 1);
	}
	*out_slot = i;
	return 0;
}

static int pending_grow(PendingSet *s)
{
	PendingSet bigger = {0};
	size_t slot;

	bigger.cap = s->cap ? 2 * s->cap : 4096;
	bigger.slots = malloc(bigger.cap * sizeof *bigger.slots);
	bigger.used = calloc(bigger.cap, 1);
	if (!bigger.slots || !bigger.used) {
		free(bigger.slots);
		free(bigger.used);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->cap; i++) {
		if (!s->used[i])
			continue;
		pending_find(&bigger, s->slots[i], &slot);
		memcpy(bigger.slots[slot], s->slots[i], PENDING_KEY_LEN);
		bigger.used[slot] = 1;
		bigger.n++;
	}
	free(s->slots);
	free(s->used);
	*s = bigger;
	return 0;
}

static int pending_add(PendingSet *s, const uint8_t key[PENDING_KEY_LEN])
{
	size_t slot;

	if ((s->n + 1) * 2 > s->cap) {
		int rc = pending_grow(s);
		if (rc)
			return rc;
	}
	if (pending_find(s, key, &slot))
		return 0;
	memcpy(s->slots[slot], key, PENDING_KEY_LEN);
	s->used[slot] = 1;
	s->n++;
	return 0;
}

static void pending_remove(PendingSet *s, const uint8_t key[PENDING_KEY_LEN])
{
	size_t i, j;

	if (!s->cap || !pending_find(s, key, &i))
		return;
	s->used[i] = 0;
	s->n--;
	/* Backward-shift: move later members of the probe run into the hole. */
	j = i;
	for (;;) {
		j = (j + 1) & (s->cap - 1);
		if (!s->used[j])
			break;
		size_t home = slot_of(s, s->slots[j]);
		/* j's home is cyclically in (i, j]: it stays. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		memcpy(s->slots[i], s->slots[j], PENDING_KEY_LEN);
		s->used[i] = 1;
		s->used[j] = 0;
		i = j;
	}
}

int blobwriter_new(Repo *repo, int zlevel, BlobWriter **out, StrataErr *err)
{
	BlobWriter *bw = calloc(1, sizeof *bw);
	int rc, want;

	if (!bw)
		return strata_err_set(err, -ENOMEM, "out of memory");
	/* The write path reads first, on purpose: deduplication asks the
	 * index whether a chunk is stored, so the index must hold every
	 * stored index file (repo_index syncs it), and packs a crashed
	 * earlier run stored without their index file are covered now
	 * (indexfile_sync reads their trailers through pack_read.h) rather
	 * than stored a second time. */
	rc = repo_index(repo, &bw->ix, err);
	if (rc) {
		free(bw);
		return rc;
	}
	index_set_lean(bw->ix);   /* a writer's peak memory holds the index's pages */
	rc = pending_grow(&bw->pending);
	if (rc) {
		free(bw);
		return strata_err_set(err, rc, "out of memory");
	}
	bw->repo = repo;
	bw->zlevel = zlevel;   /* 0: auto (codec.h) */
	bw->min_data = repo->be->min_data_object;
	pthread_mutex_init(&bw->mu, NULL);
	pthread_cond_init(&bw->queue_cv, NULL);
	pthread_cond_init(&bw->hash_cv, NULL);
	pack_builder_init(&bw->open[0], repo->name_hash);
	pack_builder_init(&bw->open[1], repo->name_hash);
	want = repo->be->transfers > 1 ? repo->be->transfers : 1;
	if (want > UPLOADERS_MAX)
		want = UPLOADERS_MAX;
	while (bw->nuploaders < want &&
	       pthread_create(&bw->uploader[bw->nuploaders], NULL, uploader_main, bw) == 0)
		bw->nuploaders++;
	if (bw->nuploaders == 0) {
		blobwriter_free(bw);
		return strata_err_set(err, -EAGAIN, "cannot start the pack uploader thread");
	}
	*out = bw;
	return 0;
}

/* Cover the session's packs with one stored index file. Called with the
 * session list detached from the writer (no lock held). */
static int write_session_index(BlobWriter *bw, SessionPack *packs, size_t n, StrataErr *err)
{
	IndexFilePack *ifp = NULL;
	uint8_t (*ids)[CODEC_ID_LEN] = NULL, file_id[CODEC_ID_LEN];
	int rc;

	if (n == 0)
		return 0;
	ifp = calloc(n, sizeof *ifp);
	ids = calloc(n, sizeof *ids);
	if (!ifp || !ids) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(ifp[i].id, packs[i].id, CODEC_ID_LEN);
		ifp[i].kind = packs[i].kind;
		ifp[i].size = packs[i].size;
		ifp[i].entries = packs[i].entries;
		ifp[i].n = packs[i].n;
		memcpy(ids[i], packs[i].id, CODEC_ID_LEN);
	}
	rc = indexfile_write(bw->repo, ifp, n, file_id, err);
	if (rc)
		goto out;
	rc = index_note_indexfile(bw->ix, file_id, (const uint8_t (*)[CODEC_ID_LEN])ids, n, err);
out:
	free(ifp);
	free(ids);
	return rc;
}

static void session_free(SessionPack *packs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(packs[i].entries);
	free(packs);
}

/* Store a finished pack: durable put, then the LMDB index, then out of the
 * pending set (in that order: an ID is always pending or indexed). */
static int store_pack(BlobWriter *bw, PackBuilder *pb, uint8_t kind, StrataErr *err)
{
	uint8_t pack_id[CODEC_ID_LEN];
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	SessionPack sp;
	SessionPack *flush = NULL;
	size_t nflush = 0;
	int rc;

	memset(&sp, 0, sizeof sp);
	rc = pack_builder_finish(pb, bw->repo->keys, pack_id);
	if (rc)
		return strata_err_set(err, rc, "cannot finish pack: %s", strata_strerror(rc));
	repo_pack_name(kind, pack_id, name);
	rc = backend_put(bw->repo->be, name, pb->buf, pb->len, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	rc = index_add_pack(bw->ix, pack_id, kind, pb->len, pb->entries, pb->n, 1, err);
	if (rc)
		return rc;
	sp.entries = malloc((pb->n ? pb->n : 1) * sizeof *sp.entries);
	if (!sp.entries)
		return strata_err_set(err, -ENOMEM, "out of memory");
	memcpy(sp.entries, pb->entries, pb->n * sizeof *sp.entries);
	memcpy(sp.id, pack_id, CODEC_ID_LEN);
	sp.kind = kind;
	sp.size = pb->len;
	sp.n = pb->n;

	pthread_mutex_lock(&bw->mu);
	for (size_t i = 0; i < pb->n; i++) {
		uint8_t key[PENDING_KEY_LEN], type = pb->entries[i].type;
		if (type == FORMAT_BLOB_FRAME)
			continue;
		/* A frame's member is pending as the data blob it stands for. */
		pending_key(key, type == FORMAT_BLOB_MEMBER ? BLOB_DATA : type, pb->entries[i].id);
		pending_remove(&bw->pending, key);
	}
	bw->stats.packs_written++;
	if (bw->on_pack)
		bw->on_pack(pack_id, kind, bw->on_pack_ctx);
	if (bw->nsession == bw->session_cap) {
		size_t cap = bw->session_cap ? 2 * bw->session_cap : 16;
		void *p = realloc(bw->session, cap * sizeof *bw->session);
		if (!p) {
			pthread_mutex_unlock(&bw->mu);
			free(sp.entries);
			return strata_err_set(err, -ENOMEM, "out of memory");
		}
		bw->session = p;
		bw->session_cap = cap;
	}
	bw->session[bw->nsession++] = sp;
	if (bw->nsession >= INDEX_EVERY_PACKS) {
		flush = bw->session;
		nflush = bw->nsession;
		bw->session = NULL;
		bw->nsession = bw->session_cap = 0;
	}
	pthread_mutex_unlock(&bw->mu);

	if (flush) {
		rc = write_session_index(bw, flush, nflush, err);
		session_free(flush, nflush);
	}
	return rc;
}

static void set_failed(BlobWriter *bw, const StrataErr *err)
{
	pthread_mutex_lock(&bw->mu);
	if (!bw->failed) {
		bw->failed = 1;
		if (err)
			bw->fail_err = *err;
	}
	pthread_mutex_unlock(&bw->mu);
}

int blobwriter_has(BlobWriter *bw, uint8_t type, const uint8_t id[CODEC_ID_LEN])
{
	uint8_t key[PENDING_KEY_LEN];
	size_t slot;
	int found;

	if (index_lookup(bw->ix, type, id, NULL) == 0)
		return 1;
	pending_key(key, type, id);
	pthread_mutex_lock(&bw->mu);
	found = pending_find(&bw->pending, key, &slot) || index_lookup(bw->ix, type, id, NULL) == 0;
	pthread_mutex_unlock(&bw->mu);
	return found;
}

/* The members of a frame for append_sealed. */
typedef struct FrameSpec {
	const uint8_t (*ids)[CODEC_ID_LEN];
	const uint32_t *lens;
	size_t m;
} FrameSpec;

/* Append sealed bytes to the open pack of kind and record them: the blob
 * (type, id) of raw_len bytes, or with f the frame of f->m members whose
 * plaintext is raw_len bytes. Takes and releases mu. */
static int append_sealed(BlobWriter *bw, uint8_t kind, const uint8_t *sealed, size_t sealed_len, uint8_t type,
                         const uint8_t id[CODEC_ID_LEN], uint32_t raw_len, const FrameSpec *f)
{
	uint8_t *dst;
	int rc;

	pthread_mutex_lock(&bw->mu);
	/* A full pack that another worker is waiting to queue (enqueue_pack
	 * drops the lock while the upload queue is full) takes no more blobs:
	 * packs close at the first blob that reaches pack_size, whatever the
	 * timing. */
	while (bw->open[kind].len >= pack_target(bw, kind))
		close_pack(bw, kind);
	if (bw->open[kind].cap == 0 && kind == PACK_KIND_DATA) {
		/* Size a data pack's buffer once instead of doubling it up. */
		uint8_t *ignored;
		wait_hashed(bw, kind);
		pack_builder_reserve(&bw->open[kind], bw->repo->pack_size + 2 * (size_t)bw->repo->chunk_max, &ignored);
	}
	if (bw->open[kind].len + sealed_len > bw->open[kind].cap)
		wait_hashed(bw, kind);           /* the buffer is about to move */
	rc = pack_builder_reserve(&bw->open[kind], sealed_len, &dst);
	if (rc == 0) {
		memcpy(dst, sealed, sealed_len);
		rc = f ? pack_builder_commit_frame(&bw->open[kind], f->ids, f->lens, f->m, sealed_len, raw_len)
		       : pack_builder_commit(&bw->open[kind], type, id, sealed_len, raw_len);
	}
	if (rc == 0) {
		bw->stats.chunks_new += f ? f->m : 1;
		bw->stats.bytes_new += f ? raw_len - FRAME_HEADER_LEN(f->m) : raw_len;
		if (type == BLOB_DATA)
			bw->stats.bytes_stored += sealed_len;
		else
			bw->stats.tree_bytes_stored += sealed_len;
		if (bw->open[kind].len >= pack_target(bw, kind))
			close_pack(bw, kind);
		else
			hash_open(bw, kind);
		/* The pack after a held one has reached the minimum: the
		 * held one may go. */
		if (kind == PACK_KIND_DATA)
			release_held(bw);
	}
	pthread_mutex_unlock(&bw->mu);
	return rc;
}

int blobwriter_put(BlobWriter *bw, CodecCtx *ctx, uint8_t type, const uint8_t id[CODEC_ID_LEN],
                   const void *data, size_t len, int *out_added, StrataErr *err)
{
	uint8_t kind = pack_kind_of_blob(type), *sealed = NULL, key[PENDING_KEY_LEN];
	size_t sealed_len = 0, slot;
	int rc;

	if (out_added)
		*out_added = 0;
	if (len > UINT32_MAX / 2)
		return strata_err_set(err, -EINVAL, "blob of %zu bytes is too large", len);
	/* Most chunks of an incremental are already indexed: check lock-free.
	 * By type and ID: a blob of another type under this ID (a tree object
	 * with the same bytes) is another blob, stored too. */
	if (!bw->rewrite && index_lookup(bw->ix, type, id, NULL) == 0)
		return 0;
	pending_key(key, type, id);
	pthread_mutex_lock(&bw->mu);
	if (bw->failed) {
		if (err)
			*err = bw->fail_err;
		pthread_mutex_unlock(&bw->mu);
		return bw->fail_err.code ? bw->fail_err.code : -EIO;
	}
	if (pending_find(&bw->pending, key, &slot) ||
	    (!bw->rewrite && index_lookup(bw->ix, type, id, NULL) == 0)) {
		pthread_mutex_unlock(&bw->mu);
		return 0;
	}
	rc = pending_add(&bw->pending, key);
	pthread_mutex_unlock(&bw->mu);
	if (rc)
		return strata_err_set(err, rc, "out of memory");

	/* Seal outside the lock: this is where the CPU goes. */
	sealed = malloc(len + CODEC_BLOB_OVERHEAD);
	if (!sealed) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	rc = codec_blob_seal(ctx, bw->repo->keys, type, id, data, len,
	                     type == BLOB_DATA ? bw->zlevel : TREE_ZSTD_LEVEL, sealed, &sealed_len);
	if (rc) {
		strata_err_set(err, rc, "cannot seal chunk: %s", strata_strerror(rc));
		goto fail;
	}

	rc = append_sealed(bw, kind, sealed, sealed_len, type, id, (uint32_t)len, NULL);
	free(sealed);
	sealed = NULL;
	if (rc) {
		strata_err_set(err, rc, "cannot add chunk to pack: %s", strata_strerror(rc));
		goto fail;
	}
	if (out_added)
		*out_added = 1;
	return 0;
fail:
	free(sealed);
	pthread_mutex_lock(&bw->mu);
	pending_remove(&bw->pending, key);
	pthread_mutex_unlock(&bw->mu);
	return rc;
}


int blobwriter_put_frame(BlobWriter *bw, CodecCtx *ctx, const uint8_t (*ids)[CODEC_ID_LEN],
                         const uint8_t *const *data, const uint32_t *lens, size_t m, StrataErr *err)
{
	uint8_t keys[FRAME_WRITE_MEMBERS][PENDING_KEY_LEN], (*fids)[CODEC_ID_LEN] = NULL;
	const uint8_t *fdata[FRAME_WRITE_MEMBERS];
	uint32_t flens[FRAME_WRITE_MEMBERS];
	uint8_t *p = NULL, *sealed = NULL;
	size_t n = 0, p_len = 0, sealed_len = 0, slot;
	int rc = 0;

	if (m > FRAME_WRITE_MEMBERS)
		return strata_err_set(err, -EINVAL, "a frame of %zu chunks: at most %u", m, FRAME_WRITE_MEMBERS);
	/* The new ones, each made pending once (a repeat within the group
	 * finds the first): deduplication stays per chunk. */
	pthread_mutex_lock(&bw->mu);
	if (bw->failed) {
		if (err)
			*err = bw->fail_err;
		pthread_mutex_unlock(&bw->mu);
		return bw->fail_err.code ? bw->fail_err.code : -EIO;
	}
	for (size_t i = 0; i < m && rc == 0; i++) {
		pending_key(keys[n], BLOB_DATA, ids[i]);
		if (pending_find(&bw->pending, keys[n], &slot) ||
		    (!bw->rewrite && index_lookup(bw->ix, BLOB_DATA, ids[i], NULL) == 0))
			continue;
		rc = pending_add(&bw->pending, keys[n]);
		if (rc == 0) {
			fdata[n] = data[i];
			flens[n] = lens[i];
			n++;
		}
	}
	pthread_mutex_unlock(&bw->mu);
	if (rc) {
		strata_err_set(err, rc, "out of memory");
		goto fail;
	}
	if (n == 1) {
		/* One new chunk stays a blob (FORMAT.md 9a). */
		sealed = malloc(flens[0] + CODEC_BLOB_OVERHEAD);
		rc = sealed ? codec_blob_seal(ctx, bw->repo->keys, BLOB_DATA, keys[0], fdata[0], flens[0], bw->zlevel,
		                              sealed, &sealed_len)
		            : -ENOMEM;
		if (rc == 0)
			rc = append_sealed(bw, PACK_KIND_DATA, sealed, sealed_len, BLOB_DATA, keys[0], flens[0], NULL);
	} else if (n > 1) {
		FrameSpec f;

		fids = malloc(n * sizeof *fids);
		rc = fids ? 0 : -ENOMEM;
		for (size_t i = 0; i < n && rc == 0; i++)
			memcpy(fids[i], keys[i], CODEC_ID_LEN);
		if (rc == 0)
			rc = frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])fids, fdata, flens, n, &p, &p_len);
		if (rc == 0 && !(sealed = malloc(p_len + CODEC_BLOB_OVERHEAD)))
			rc = -ENOMEM;
		if (rc == 0)
			rc = frame_seal(ctx, bw->repo->keys, p, p_len, bw->zlevel, sealed, &sealed_len);
		f.ids = (const uint8_t (*)[CODEC_ID_LEN])fids;
		f.lens = flens;
		f.m = n;
		if (rc == 0)
			rc = append_sealed(bw, PACK_KIND_DATA, sealed, sealed_len, BLOB_DATA, keys[0], (uint32_t)p_len, &f);
	}
	free(p);
	free(sealed);
	free(fids);
	if (rc) {
		strata_err_set(err, rc, "cannot store %zu chunks as a frame: %s", n, strata_strerror(rc));
		goto fail;
	}
	return 0;
fail:
	pthread_mutex_lock(&bw->mu);
	for (size_t i = 0; i < n; i++)
		pending_remove(&bw->pending, keys[i]);
	pthread_mutex_unlock(&bw->mu);
	return rc;
}

int blobwriter_finish(BlobWriter *bw, StrataErr *err)
{
	SessionPack *flush;
	size_t nflush;
	int rc;

	pthread_mutex_lock(&bw->mu);
	rc = merge_last_data_pack(bw);
	if (bw->held.n)
		enqueue_pack(bw, &bw->held, PACK_KIND_DATA, 0);
	for (uint8_t kind = 0; kind < 2; kind++)
		if (bw->open[kind].n)
			enqueue_pack(bw, &bw->open[kind], kind, 0);
	pthread_mutex_unlock(&bw->mu);
	if (rc) {
		/* Part of the last pack's blobs may be in both: fail rather
		 * than store them twice. */
		StrataErr e = {0};
		strata_err_set(&e, rc, "cannot add the last chunks to the previous pack: %s", strata_strerror(rc));
		set_failed(bw, &e);
	}
	stop_uploader(bw);
	if (bw->failed) {
		if (err)
			*err = bw->fail_err;
		return bw->fail_err.code ? bw->fail_err.code : -EIO;
	}
	pthread_mutex_lock(&bw->mu);
	flush = bw->session;
	nflush = bw->nsession;
	bw->session = NULL;
	bw->nsession = bw->session_cap = 0;
	pthread_mutex_unlock(&bw->mu);
	rc = write_session_index(bw, flush, nflush, err);
	session_free(flush, nflush);
	return rc;
}

void blobwriter_set_rewrite(BlobWriter *bw, int on, BlobWriterPackFn on_pack, void *ctx)
{
	bw->rewrite = on;
	bw->on_pack = on_pack;
	bw->on_pack_ctx = ctx;
}

void blobwriter_stats(BlobWriter *bw, BlobWriterStats *out)
{
	pthread_mutex_lock(&bw->mu);
	*out = bw->stats;
	pthread_mutex_unlock(&bw->mu);
}

void blobwriter_free(BlobWriter *bw)
{
	if (!bw)
		return;
	/* Without finish: queued packs are still stored (harmless, and the
	 * next run indexes them), then the threads stop. */
	stop_uploader(bw);
	pthread_cond_destroy(&bw->queue_cv);
	pthread_cond_destroy(&bw->hash_cv);
	pack_builder_free(&bw->open[0]);
	pack_builder_free(&bw->open[1]);
	pack_builder_free(&bw->held);
	while (bw->nspare > 0)
		pack_builder_free(&bw->spare[--bw->nspare]);
	session_free(bw->session, bw->nsession);
	free(bw->pending.slots);
	free(bw->pending.used);
	pthread_mutex_destroy(&bw->mu);
	free(bw);
}
