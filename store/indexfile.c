/* indexfile.c — see indexfile.h. FORMAT.md "Index file". */
#include "store/indexfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"
#include "store/format.h"
#include "store/frame.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"

#define PACK_HDR_LEN (CODEC_ID_LEN + 1 + 8 + 4)

void indexfile_packs_free(IndexFilePack *packs, size_t n)
{
	if (!packs)
		return;
	for (size_t i = 0; i < n; i++)
		free(packs[i].entries);
	free(packs);
}

int indexfile_encode(const IndexFilePack *packs, size_t n, uint8_t **out, size_t *out_len)
{
	size_t len = 1 + 4;
	uint8_t *plain, *p;
	int frames = 0;

	for (size_t i = 0; i < n; i++) {
		len += PACK_HDR_LEN + packs[i].n * PACK_ENTRY_LEN;
		for (size_t j = 0; j < packs[i].n && !frames; j++)
			frames = packs[i].entries[j].type == FORMAT_BLOB_FRAME;
	}
	if (len > INDEXFILE_MAX_RAW) {
		*out_len = len;
		return -EFBIG;
	}
	plain = malloc(len);
	if (!plain)
		return -ENOMEM;
	/* Without frames, version 1 byte for byte. */
	plain[0] = frames ? FORMAT_VERSION_INDEX_FRAMES : FORMAT_VERSION_INDEX;
	format_put_le32(plain + 1, (uint32_t)n);
	p = plain + 5;
	for (size_t i = 0; i < n; i++) {
		const IndexFilePack *ip = &packs[i];
		memcpy(p, ip->id, CODEC_ID_LEN);
		p[32] = ip->kind;
		format_put_le32(p + 33, (uint32_t)ip->size);
		format_put_le32(p + 37, (uint32_t)(ip->size >> 32));
		format_put_le32(p + 41, (uint32_t)ip->n);
		p += PACK_HDR_LEN;
		for (size_t j = 0; j < ip->n; j++, p += PACK_ENTRY_LEN) {
			const PackEntry *e = &ip->entries[j];
			p[0] = e->type;
			memcpy(p + 1, e->id, CODEC_ID_LEN);
			format_put_le32(p + 33, e->offset);
			format_put_le32(p + 37, e->length);
			format_put_le32(p + 41, e->raw_len);
		}
	}
	*out = plain;
	*out_len = len;
	return 0;
}

int indexfile_write(Repo *repo, const IndexFilePack *packs, size_t n,
                    uint8_t out_id[CODEC_ID_LEN], StrataErr *err)
{
	size_t len = 0, zlen = 0;
	uint8_t *plain = NULL, *z = NULL;
	int rc;

	rc = indexfile_encode(packs, n, &plain, &len);
	/* Readers refuse content that inflates past this: do not store it. */
	if (rc == -EFBIG)
		return strata_err_set(err, -EFBIG, "an index file listing %zu packs would hold %zu bytes, more than "
		                      "the %zu a reader accepts; nothing written", n, len, (size_t)INDEXFILE_MAX_RAW);
	if (rc)
		return strata_err_set(err, rc, "out of memory");
	rc = codec_compress(plain, len, 3, &z, &zlen);
	free(plain);
	if (rc)
		return strata_err_set(err, rc, "cannot compress index file");
	rc = repo_write_named(repo, "index", "an index file", OBJSIZE_INDEX_MAX, FORMAT_MAGIC_INDEX, FORMAT_VERSION_INDEX,
	                      z, zlen, out_id, err);
	free(z);
	return rc;
}

int indexfile_decode(const uint8_t *buf, size_t len, IndexFilePack **out, size_t *out_n)
{
	return indexfile_decode_frames(buf, len, 0, out, out_n);
}

/* The entries of a pack listed in a CONTENT version 2 index file (§9a):
 * blobs as in version 1, frames (data packs only) inside the pack and
 * followed by their members. 0 or STRATA_EFORMAT. */
static int frame_pack_check(const IndexFilePack *ip)
{
	for (size_t j = 0; j < ip->n;) {
		const PackEntry *e = &ip->entries[j];

		if (e->type == FORMAT_BLOB_MEMBER || e->type > FORMAT_BLOB_FRAME)
			return STRATA_EFORMAT;
		if ((uint64_t)e->offset + e->length > ip->size || e->length < CODEC_BLOB_OVERHEAD)
			return STRATA_EFORMAT;
		if (e->type != FORMAT_BLOB_FRAME) {
			if (pack_kind_of_blob(e->type) != ip->kind)
				return STRATA_EFORMAT;
			j++;
			continue;
		}
		size_t m = ip->kind == PACK_KIND_DATA &&
		           (uint64_t)e->length <= (uint64_t)e->raw_len + CODEC_BLOB_OVERHEAD
		           ? frame_members_check(ip->entries, ip->n, j) : 0;
		if (m == 0)
			return STRATA_EFORMAT;
		j += m + 1;
	}
	return 0;
}

int indexfile_decode_frames(const uint8_t *buf, size_t len, int frames, IndexFilePack **out, size_t *out_n)
{
	IndexFilePack *packs = NULL;
	const uint8_t *p = buf, *end = buf + len;
	size_t n, i = 0;
	int rc = STRATA_EFORMAT;

	if (len < 5)
		return STRATA_EFORMAT;
	int v2 = frames && buf[0] == FORMAT_VERSION_INDEX_FRAMES, has_frame = 0;
	if (buf[0] != FORMAT_VERSION_INDEX && !v2)
		return buf[0] > FORMAT_VERSION_INDEX ? STRATA_EVERSION : STRATA_EFORMAT;
	n = format_get_le32(buf + 1);
	p += 5;
	/* Every pack needs at least its header: bounds n before allocating. */
	if (n > (size_t)(end - p) / PACK_HDR_LEN)
		return STRATA_EFORMAT;
	packs = calloc(n ? n : 1, sizeof *packs);
	if (!packs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		IndexFilePack *ip = &packs[i];
		size_t cnt;
		if ((size_t)(end - p) < PACK_HDR_LEN)
			goto fail;
		memcpy(ip->id, p, CODEC_ID_LEN);
		ip->kind = p[32];
		ip->size = (uint64_t)format_get_le32(p + 33) | (uint64_t)format_get_le32(p + 37) << 32;
		cnt = format_get_le32(p + 41);
		p += PACK_HDR_LEN;
		if (ip->kind > 1 || cnt > (size_t)(end - p) / PACK_ENTRY_LEN)
			goto fail;
		ip->entries = malloc((cnt ? cnt : 1) * sizeof *ip->entries);
		if (!ip->entries) {
			rc = -ENOMEM;
			goto fail;
		}
		ip->n = cnt;
		for (size_t j = 0; j < cnt; j++, p += PACK_ENTRY_LEN) {
			PackEntry *e = &ip->entries[j];
			e->type = p[0];
			memcpy(e->id, p + 1, CODEC_ID_LEN);
			e->offset = format_get_le32(p + 33);
			e->length = format_get_le32(p + 37);
			e->raw_len = format_get_le32(p + 41);
			if (v2)
				continue;       /* frame_pack_check below */
			if (e->type > BLOB_TYPE_MAX || pack_kind_of_blob(e->type) != ip->kind ||
			    (uint64_t)e->offset + e->length > ip->size ||
			    e->length < CODEC_BLOB_OVERHEAD)
				goto fail;
		}
		if (v2 && frame_pack_check(ip) != 0)
			goto fail;
		for (size_t j = 0; v2 && j < ip->n && !has_frame; j++)
			has_frame = ip->entries[j].type == FORMAT_BLOB_FRAME;
	}
	/* Version 2 is written only for a frame: without one it is malformed. */
	if (p != end || (v2 && !has_frame))
		goto fail;
	*out = packs;
	*out_n = n;
	return 0;
fail:
	indexfile_packs_free(packs, n);
	return rc;
}

int indexfile_read(Repo *repo, const uint8_t id[CODEC_ID_LEN], IndexFilePack **out,
                   size_t *out_n, StrataErr *err)
{
	uint8_t *z = NULL, *plain = NULL;
	size_t zlen = 0, len = 0;
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	rc = repo_read_named(repo, "index", "an index file", OBJSIZE_INDEX_MAX, id, FORMAT_MAGIC_INDEX, FORMAT_VERSION_INDEX,
	                     &z, &zlen, err);
	if (rc)
		return rc;
	codec_hex(id, CODEC_ID_LEN, hex);
	rc = codec_decompress(z, zlen, INDEXFILE_MAX_RAW, &plain, &len);
	free(z);
	if (rc)
		return strata_err_set(err, rc, "index/%s: cannot be decompressed", hex);
	rc = indexfile_decode_frames(plain, len, repo->format_version >= 3, out, out_n);
	free(plain);
	if (rc)
		return strata_err_set(err, rc, "index/%s: %s", hex, strata_strerror(rc));
	return 0;
}

static int contains(uint8_t (*ids)[CODEC_ID_LEN], size_t n, const uint8_t id[CODEC_ID_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(ids[i], id, CODEC_ID_LEN) == 0)
			return 1;
	return 0;
}

static int ingest(Repo *repo, Index *ix, const uint8_t id[CODEC_ID_LEN], StrataErr *err)
{
	IndexFilePack *packs = NULL;
	uint8_t (*ids)[CODEC_ID_LEN] = NULL;
	size_t n = 0;
	int rc;

	rc = indexfile_read(repo, id, &packs, &n, err);
	if (rc)
		return rc;
	ids = malloc((n ? n : 1) * sizeof *ids);
	if (!ids)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		memcpy(ids[i], packs[i].id, CODEC_ID_LEN);
		rc = index_add_pack(ix, packs[i].id, packs[i].kind, packs[i].size,
		                    packs[i].entries, packs[i].n, 0, err);
	}
	/* With the packs: a rebuild racing with this one is detected there. */
	if (rc == 0)
		rc = index_note_indexfile(ix, id, (const uint8_t (*)[CODEC_ID_LEN])ids, n, err);
	free(ids);
	indexfile_packs_free(packs, n);
	return rc;
}

/* Packs this machine stored whose index file never became durable: write
 * one now from their trailers, re-adding their entries to the local index;
 * forget the ones that are gone. */
static int cover_unindexed(Repo *repo, Index *ix, StrataErr *err)
{
	uint8_t (*ids)[CODEC_ID_LEN] = NULL, (*covered)[CODEC_ID_LEN] = NULL, file_id[CODEC_ID_LEN];
	IndexFilePack *packs = NULL;
	size_t n = 0, m = 0;
	int rc;

	rc = index_list_unindexed(ix, &ids, &n, err);
	if (rc || n == 0)
		goto out;
	packs = calloc(n, sizeof *packs);
	covered = calloc(n, sizeof *covered);
	if (!packs || !covered) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		IndexPackInfo info;
		StrataErr perr = {0};
		if (index_pack_info(ix, ids[i], &info) != 0 ||
		    pack_read_trailer(repo, info.kind, ids[i], &packs[m].entries, &packs[m].n,
		                      &packs[m].size, &perr) != 0) {
			/* Gone or unreadable: its chunks must not be deduplicated against. */
			rc = index_remove_pack(ix, ids[i], err);
			if (rc)
				goto out;
			continue;
		}
		memcpy(packs[m].id, ids[i], CODEC_ID_LEN);
		packs[m].kind = info.kind;
		memcpy(covered[m], ids[i], CODEC_ID_LEN);
		m++;
		/* A run stopped inside index_add_pack indexed only some of the
		 * pack's entries: add them all from the trailer (present ones
		 * keep their place), so its chunks deduplicate again. */
		rc = index_add_pack(ix, ids[i], info.kind, packs[m - 1].size, packs[m - 1].entries,
		                    packs[m - 1].n, 0, err);
		if (rc)
			goto out;
	}
	if (m) {
		rc = indexfile_write(repo, packs, m, file_id, err);
		if (rc == 0)
			rc = index_note_indexfile(ix, file_id, (const uint8_t (*)[CODEC_ID_LEN])covered, m, err);
	}
out:
	indexfile_packs_free(packs, m);
	free(covered);
	free(ids);
	return rc;
}

int indexfile_sync(Repo *repo, Index *ix, StrataErr *err)
{
	uint8_t (*stored)[CODEC_ID_LEN] = NULL, (*seen)[CODEC_ID_LEN] = NULL;
	size_t nstored = 0, nseen = 0;
	int rc, rebuild = 0;

	/* Ingested files first, then the listing: a file another process
	 * writes and notes in between then shows in both, instead of looking
	 * ingested-but-gone and forcing a needless rebuild. */
	rc = index_list_indexfiles(ix, &seen, &nseen, err);
	if (rc)
		goto out;
	rc = repo_list_ids(repo, "index/", &stored, &nstored, err);
	if (rc)
		goto out;
	/* An ingested file that disappeared was replaced by prune or repair:
	 * entries may point at deleted packs, so start over. Quadratic in the
	 * number of index files, which stays small (one per backup run). */
	for (size_t i = 0; i < nseen && !rebuild; i++)
		if (!contains(stored, nstored, seen[i]))
			rebuild = 1;
	if (rebuild) {
		rc = index_clear(ix, err);
		if (rc)
			goto out;
		nseen = 0;
	}
	for (size_t i = 0; i < nstored; i++) {
		if (!rebuild && index_has_indexfile(ix, stored[i]))
			continue;
		rc = ingest(repo, ix, stored[i], err);
		if (rc)
			goto out;
	}
	rc = cover_unindexed(repo, ix, err);
out:
	free(stored);
	free(seen);
	return rc;
}
