/* blob_read.c — fetching blobs by ID, see blob.h; the tree pack cache, see
 * blob_read.h. The bytes come through the pack reader (pack_read.h). */
#include "store/blob.h"
#include "store/blob_read.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store/frame.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"

/* ---- tree pack cache ---- */

typedef struct PackSlot {
	uint8_t  pack[STRATA_ID_LEN];
	uint8_t *buf;              /* NULL once loaded: read this pack by ranges */
	size_t   len;
	int      loading;          /* a thread is fetching it; others wait */
	uint64_t used;             /* LRU tick */
} PackSlot;

struct TreePackCache {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t max_bytes, bytes;
	uint64_t tick, gets;
	PackSlot *slots;
	size_t n, cap;
};

int blob_read_tree_cache_attach(Repo *repo, size_t max_bytes)
{
	TreePackCache *tc;

	if (repo->tree_packs)
		return -EBUSY;
	tc = calloc(1, sizeof *tc);
	if (!tc)
		return -ENOMEM;
	pthread_mutex_init(&tc->mu, NULL);
	pthread_cond_init(&tc->cv, NULL);
	tc->max_bytes = max_bytes;
	repo->tree_packs = tc;
	return 0;
}

void blob_read_tree_cache_detach(Repo *repo, uint64_t *out_gets)
{
	TreePackCache *tc = repo->tree_packs;

	if (!tc)
		return;
	if (out_gets)
		*out_gets = tc->gets;
	for (size_t i = 0; i < tc->n; i++)
		free(tc->slots[i].buf);
	free(tc->slots);
	pthread_cond_destroy(&tc->cv);
	pthread_mutex_destroy(&tc->mu);
	free(tc);
	repo->tree_packs = NULL;
}

/* Drop least recently used loaded packs until need more bytes fit; with
 * tc->mu held. */
static void cache_evict(TreePackCache *tc, size_t need)
{
	while (tc->bytes + need > tc->max_bytes) {
		size_t victim = tc->n;
		for (size_t i = 0; i < tc->n; i++)
			if (tc->slots[i].buf && (victim == tc->n || tc->slots[i].used < tc->slots[victim].used))
				victim = i;
		if (victim == tc->n)
			return;
		tc->bytes -= tc->slots[victim].len;
		free(tc->slots[victim].buf);
		tc->slots[victim] = tc->slots[--tc->n];
	}
}

/* cache_read — the sealed blob at e into out (e->length bytes) from its
 * whole pack, fetching the pack on first use. 0: served; 1: not served
 * (pack too big, its GET failed, or no memory: read the range instead,
 * which reports any error properly). */
static int cache_read(TreePackCache *tc, Repo *repo, const IndexEntry *e, uint8_t *out)
{
	StrataErr scratch = {0};
	PackSlot *sl;
	uint8_t *buf = NULL;
	size_t len = 0, i;
	int rc;

	pthread_mutex_lock(&tc->mu);
	for (;;) {
		for (i = 0; i < tc->n; i++)
			if (memcmp(tc->slots[i].pack, e->pack, STRATA_ID_LEN) == 0)
				break;
		if (i < tc->n && tc->slots[i].loading) {
			pthread_cond_wait(&tc->cv, &tc->mu);
			continue;
		}
		if (i < tc->n) {
			sl = &tc->slots[i];
			rc = 1;
			if (sl->buf && (uint64_t)e->offset + e->length <= sl->len) {
				memcpy(out, sl->buf + e->offset, e->length);
				sl->used = ++tc->tick;
				rc = 0;
			}
			pthread_mutex_unlock(&tc->mu);
			return rc;
		}
		if (tc->n == tc->cap) {
			size_t cap = tc->cap ? 2 * tc->cap : 16;
			PackSlot *q = realloc(tc->slots, cap * sizeof *q);
			if (!q) {
				pthread_mutex_unlock(&tc->mu);
				return 1;
			}
			tc->slots = q;
			tc->cap = cap;
		}
		sl = &tc->slots[tc->n++];
		memset(sl, 0, sizeof *sl);
		memcpy(sl->pack, e->pack, STRATA_ID_LEN);
		sl->loading = 1;
		pthread_mutex_unlock(&tc->mu);

		/* A pack beyond the cache's budget is never fetched whole
		 * (-EFBIG): its blobs are read by range instead. */
		rc = pack_read_whole(repo, pack_kind_of_blob(e->type), e->pack, tc->max_bytes, &buf, &len, &scratch);

		pthread_mutex_lock(&tc->mu);
		/* The slot array may have moved while unlocked. */
		for (i = 0; i < tc->n; i++)
			if (memcmp(tc->slots[i].pack, e->pack, STRATA_ID_LEN) == 0)
				break;
		tc->gets++;
		if (rc == 0 && len <= tc->max_bytes) {
			/* Evicting may move slots: find ours again after. */
			tc->slots[i].loading = 2;   /* not a victim: buf is NULL yet */
			cache_evict(tc, len);
			for (i = 0; i < tc->n; i++)
				if (memcmp(tc->slots[i].pack, e->pack, STRATA_ID_LEN) == 0)
					break;
			tc->slots[i].buf = buf;
			tc->slots[i].len = len;
			tc->bytes += len;
			buf = NULL;
		}
		tc->slots[i].loading = 0;
		free(buf);
		pthread_cond_broadcast(&tc->cv);
	}
}

static const char *blob_type_name(uint8_t type)
{
	switch (type) {
	case BLOB_DATA:     return "data";
	case BLOB_TREE:     return "tree";
	case BLOB_TREEPART: return "tree part";
	default:            return "unknown";
	}
}

int blob_read_at(Repo *repo, CodecCtx *ctx, const uint8_t id[CODEC_ID_LEN], const IndexEntry *e,
                 uint8_t *out, StrataErr *err)
{
	char idhex[STRATA_ID_HEX_LEN + 1], packhex[STRATA_ID_HEX_LEN + 1];
	uint8_t *buf;
	int rc;

	codec_hex(id, CODEC_ID_LEN, idhex);
	codec_hex(e->pack, CODEC_ID_LEN, packhex);
	buf = malloc(e->length ? e->length : 1);
	if (!buf)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = 1;
	if (repo->tree_packs && e->type != BLOB_DATA)
		rc = cache_read(repo->tree_packs, repo, e, buf);
	if (rc == 1)
		rc = pack_read_range(repo, pack_kind_of_blob(e->type), e->pack, e->offset, e->length, buf, err);
	if (rc == -ENOENT || rc == -ERANGE) {
		free(buf);
		return strata_err_set(err, STRATA_EDAMAGED, "chunk %.16s: pack %.16s %s (offset %u, %u bytes)",
		                      idhex, packhex, rc == -ENOENT ? "is missing" : "is truncated",
		                      e->offset, e->length);
	}
	if (rc) {
		free(buf);
		return rc;
	}
	if (e->frame_raw)   /* a frame's member (FORMAT.md 9a): open the frame, take the chunk */
		rc = frame_open_member(ctx, repo->keys, buf, e->length, e->frame_raw, id, e->member_off, e->raw_len,
		                       1, out);
	else
		rc = pack_read_open(ctx, repo, e->type, id, buf, e->length, out, e->raw_len, 1);
	free(buf);
	if (rc == -ENOMEM)
		return strata_err_set(err, rc, "out of memory");
	if (rc)
		return strata_err_set(err, STRATA_EDAMAGED, "chunk %.16s in pack %.16s at offset %u%s: %s",
		                      idhex, packhex, e->offset, e->frame_raw ? " (a frame)" : "",
		                      pack_read_damage(rc) == PACK_DAMAGE_AUTH ? "fails authentication" :
		                      pack_read_damage(rc) == PACK_DAMAGE_HASH ? "content does not match its ID" :
		                      "cannot be decoded");
	return 0;
}

int blob_read(Repo *repo, CodecCtx *ctx, uint8_t type, const uint8_t id[CODEC_ID_LEN],
              uint8_t **out, size_t *out_len, StrataErr *err)
{
	char idhex[STRATA_ID_HEX_LEN + 1];
	IndexEntry e;
	Index *ix;
	uint8_t *buf;
	int rc;

	rc = repo_index(repo, &ix, err);
	if (rc)
		return rc;
	codec_hex(id, CODEC_ID_LEN, idhex);
	rc = index_lookup(ix, type, id, &e);
	if (rc == STRATA_ENOTFOUND && index_lookup_any(ix, id, &e) == 0)
		return strata_err_set(err, STRATA_EDAMAGED,
		                      "%s chunk %.16s is stored only as a %s blob with the same ID (written by strata before 2026-12-07): `strata repair snapshots` stores it as %s",
		                      blob_type_name(type), idhex, blob_type_name(e.type), blob_type_name(type));
	if (rc == STRATA_ENOTFOUND)
		return strata_err_set(err, STRATA_EDAMAGED, "%s chunk %.16s is not in the index (missing from the repository)",
		                      blob_type_name(type), idhex);
	if (rc)
		return strata_err_set(err, rc, "index lookup of chunk %.16s failed", idhex);
	buf = malloc(e.raw_len ? e.raw_len : 1);
	if (!buf)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = blob_read_at(repo, ctx, id, &e, buf, err);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = e.raw_len;
	return 0;
}
