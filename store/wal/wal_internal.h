/* wal_internal.h — what wal.c and wal_fetch.c share. Not part of the API:
 * only store/wal/wal*.c include it. */
#ifndef STRATA_STORE_WAL_INTERNAL_H
#define STRATA_STORE_WAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "store/error.h"
#include "store/repo.h"
#include "store/wal/wal.h"

/* A decoded descriptor (layout in wal.h). */
typedef struct WalDesc {
	uint32_t version;        /* 1: CONTENT_ID over the file; 2: over the chunk list */
	char     name[WAL_NAME_MAX + 1];
	uint8_t  kind;
	uint64_t size;
	int64_t  mtime_ns;
	uint8_t  content_id[STRATA_ID_LEN];
	uint32_t n;
	uint8_t (*ids)[STRATA_ID_LEN];
	uint32_t *lens;
} WalDesc;

/* wal_content_id2 — a version 2 descriptor's CONTENT_ID (FORMAT.md
 * §12a): BLAKE2b-256_{id_key} of WAL_CID2_DOMAIN || SIZE (u64) ||
 * NCHUNKS x (CHUNK_ID || CHUNK_LEN (u32)), from d's size and chunk list. */
int wal_content_id2(const CodecKeys *keys, const WalDesc *d, uint8_t out[STRATA_ID_LEN]);

/* wal_hex8 — 8 upper-case hex digits (already checked) as a number. */
uint32_t wal_hex8(const char *s);

/* wal_check_name — wal_name_parse with a message naming the forms. */
int wal_check_name(const char *name, int *out_kind, StrataErr *err);

/* wal_desc_load — get and decode wal/<timeline>/<name>, checking the name
 * inside. STRATA_ENOTFOUND only when absent. Free with wal_desc_free. */
int wal_desc_load(Repo *repo, const char *name, WalDesc *d, StrataErr *err);
void wal_desc_free(WalDesc *d);

/* wal_names_list — every WAL file name in the archive (wal/<tl>/<name>
 * under its own timeline, valid names only), sorted by strcmp: timeline,
 * then position. *out malloc'ed (NULL when empty), caller frees. */
int wal_names_list(Repo *repo, char (**out)[WAL_NAME_MAX + 1], size_t *out_n, StrataErr *err);

/* wal_read_whole — a regular file of at most WAL_MAX_FILE_BYTES into a
 * malloc'ed buffer, with its mtime. */
int wal_read_whole(const char *path, uint8_t **out, size_t *out_len, int64_t *out_mtime_ns, StrataErr *err);

#endif
