/* indexfile.h — stored index files: which chunks each pack holds.
 *
 * Owns: the "index/<id>" file format (FORMAT.md "Index file"), written
 * once after the packs it lists are durable and never changed; and the
 * synchronisation of the local LMDB index with the set of stored files.
 *
 * Never: reads packs except to cover packs this machine wrote before a
 * crash (their trailers), see indexfile_sync.
 * Thread safety: one caller at a time per Repo.
 */
#ifndef STRATA_STORE_INDEXFILE_H
#define STRATA_STORE_INDEXFILE_H

#include <stddef.h>
#include <stdint.h>

#include "remote/objsize.h"
#include "store/error.h"
#include "store/format.h"
#include "store/index.h"
#include "store/pack.h"
#include "store/repo.h"

#define INDEXFILE_MAX_RAW OBJSIZE_INDEX_RAW_MAX   /* refuse index files that inflate past 1 GiB */

typedef struct IndexFilePack {
	uint8_t    id[CODEC_ID_LEN];
	uint8_t    kind;
	uint64_t   size;
	PackEntry *entries;
	size_t     n;
} IndexFilePack;

/* indexfile_write — store one index file listing packs. */
int indexfile_write(Repo *repo, const IndexFilePack *packs, size_t n,
                    uint8_t out_id[CODEC_ID_LEN], StrataErr *err);

/* indexfile_read — load and parse index/<id>. *out malloc'ed; free with
 * indexfile_packs_free. STRATA_EFORMAT/EAUTH/EVERSION name the file. */
int indexfile_read(Repo *repo, const uint8_t id[CODEC_ID_LEN], IndexFilePack **out,
                   size_t *out_n, StrataErr *err);

/* indexfile_decode — parse decrypted, decompressed index bytes. */
int indexfile_decode(const uint8_t *buf, size_t len, IndexFilePack **out, size_t *out_n);

/* indexfile_encode — the CONTENT of an index file listing packs (before
 * compression): version 1, or 2 when a pack lists a frame (FORMAT.md
 * §9a, format 3). *out malloc'ed. -EFBIG beyond
 * INDEXFILE_MAX_RAW, -ENOMEM. */
int indexfile_encode(const IndexFilePack *packs, size_t n, uint8_t **out, size_t *out_len);

/* indexfile_decode_frames — indexfile_decode that, with frames != 0,
 * also accepts CONTENT version 2: frame entries (TYPE 3) in data packs,
 * each followed by its member entries (TYPE 4) by the rules of §9a, the
 * frame inside the pack. For a reader of a format 3 repository only
 * (indexfile_read passes frames for one); indexfile_decode refuses
 * version 2 as newer. */
int indexfile_decode_frames(const uint8_t *buf, size_t len, int frames, IndexFilePack **out, size_t *out_n);

void indexfile_packs_free(IndexFilePack *packs, size_t n);

/* indexfile_sync — bring the LMDB index in line with the repository:
 * ingest stored index files not yet seen; rebuild from scratch when one
 * that was ingested has disappeared (prune replaced it); write an index
 * file for packs this machine stored but never covered (a crash between
 * pack and index write), dropping any such pack that is gone. */
int indexfile_sync(Repo *repo, Index *ix, StrataErr *err);

#endif
