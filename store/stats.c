/* stats.c — repository statistics (repo_stats in repo.h).
 *
 * Computed from snapshot summaries and the index, never from data: logical
 * bytes are the sum of the snapshots' file bytes; unique bytes are the raw
 * bytes of every data chunk the index holds (chunks no snapshot references
 * any more count until prune removes them). */
#include "store/repo.h"

#include <string.h>

#include "store/index.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"

struct chunk_sum {
	uint64_t data_raw, data_stored, data_chunks, tree_stored, frames, members;
};

static int add_chunk(const uint8_t id[CODEC_ID_LEN], const IndexEntry *e, void *ctx)
{
	struct chunk_sum *s = ctx;

	(void)id;
	if (e->type == BLOB_DATA) {
		s->data_raw += e->raw_len;
		/* A frame's member (FORMAT.md 9a): its share of the frame's
		 * sealed bytes, by plaintext, so that the members of one frame
		 * add up to it (within rounding). */
		s->data_stored += e->frame_raw ? (uint64_t)e->length * e->raw_len / e->frame_raw : e->length;
		s->data_chunks++;
		if (e->frame_raw) {
			s->members++;
			/* A frame's first member starts right after its HEADER. */
			s->frames += e->member_off == 2u + 36u * e->frame_members;
		}
	} else {
		s->tree_stored += e->length;
	}
	return 0;
}

static int add_pack(const uint8_t pack[CODEC_ID_LEN], const IndexPackInfo *info, void *ctx)
{
	RepoStats *st = ctx;

	(void)pack;
	st->packs++;
	st->stored_bytes += info->size;
	return 0;
}

static int add_size(const char *name, uint64_t size, void *ctx)
{
	(void)name;
	*(uint64_t *)ctx += size;
	return 0;
}

int repo_stats(Repo *repo, RepoStats *out, StrataErr *err)
{
	struct chunk_sum cs = {0};
	Snapshot *snaps = NULL;
	RepoStats st;
	RemoteErr rerr = {{0}};
	Index *ix;
	size_t n = 0;
	int rc;

	memset(&st, 0, sizeof st);
	rc = repo_index(repo, &ix, err);
	if (rc)
		return rc;
	rc = snapshot_list(repo, &snaps, &n, err);
	if (rc)
		return rc;
	st.snapshots = n;
	for (size_t i = 0; i < n; i++) {
		st.logical_bytes += snaps[i].summary.bytes_total;
		st.metadata_per_snapshot += (double)snaps[i].summary.tree_bytes_added;
	}
	snapshot_list_free(snaps, n);
	rc = index_foreach_chunk(ix, add_chunk, &cs, err);
	if (rc < 0)
		return rc;
	rc = index_foreach_pack(ix, add_pack, &st, err);
	if (rc < 0)
		return rc;
	rc = backend_list(repo->be, "snapshots/", add_size, &st.snapshot_file_bytes, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	st.unique_bytes = cs.data_raw;
	st.unique_chunks = cs.data_chunks;
	st.index_chunks = index_count(ix);
	st.frames = cs.frames;
	st.frame_members = cs.members;
	st.tree_bytes = cs.tree_stored;
	if (n)
		st.metadata_per_snapshot = (st.metadata_per_snapshot + (double)st.snapshot_file_bytes) / (double)n;
	st.dedup_ratio = st.unique_bytes ? (double)st.logical_bytes / (double)st.unique_bytes : 0.0;
	st.compression_ratio = cs.data_stored ? (double)cs.data_raw / (double)cs.data_stored : 0.0;
	*out = st;
	return 0;
}
