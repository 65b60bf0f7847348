/* objsize.h — the largest object of each kind a repository may hold.
 *
 * Owns: one table (store/FORMAT.md §14 "Object size limits") of the
 * max_bytes every reader passes to backend_get for a kind of object, and
 * the bound a writer keeps to, so that what strata writes it can read
 * back. A larger object was not written by strata: it is refused (or, in
 * locks/, ignored) before its bytes are read, so a hostile or damaged
 * object costs at most its kind's bound in memory.
 *
 * Kept here, below store/, because replication (remote/replicate.c)
 * copies objects of every kind without a key and bounds its reads too;
 * the store modules that derive a bound from their own layout check it
 * against this table at compile time.
 * Never: code; constants only. Thread safety: nothing to share.
 */
#ifndef STRATA_REMOTE_OBJSIZE_H
#define STRATA_REMOTE_OBJSIZE_H

#include <stddef.h>

/* A sealed file's envelope (FORMAT.md §5): MAGIC (8) || VERSION (4) ||
 * NONCE (24) || ... || TAG (16). */
#define OBJSIZE_SEALED_OVERHEAD ((size_t)52)

/* config: sealed JSON of about 250 bytes (§7). */
#define OBJSIZE_CONFIG_MAX ((size_t)64 << 10)

/* keys/<id>: JSON of about 400 bytes (§6). */
#define OBJSIZE_KEY_MAX ((size_t)64 << 10)

/* locks/<id>: sealed JSON of a few hundred bytes (§19.1); the longest
 * record strata writes (host 255, user 63, command 31 bytes) stays under
 * 1 KiB. Every future lock version must stay within this too: a reader
 * ignores a larger lock file unread. */
#define OBJSIZE_LOCK_MAX ((size_t)64 << 10)

/* snapshots/<id>: sealed JSON (§12), a few hundred bytes plus the paths,
 * tags and labels given to the backup. The writer refuses to store more. */
#define OBJSIZE_SNAPSHOT_MAX ((size_t)16 << 20)

/* verified/<snapshot>/<id>: sealed JSON of a restore test, about 400
 * bytes; its strings are cut (FORMAT.md §12b). */
#define OBJSIZE_VERIFIED_MAX ((size_t)64 << 10)

/* index/<id>: SEALED(zstd frame of at most 1 GiB of content) (§10); zstd's
 * bound for 1 GiB of input is 1 GiB + 4 MiB (ZSTD_COMPRESSBOUND), and the
 * IDs inside do not compress. The writer refuses content past 1 GiB. */
#define OBJSIZE_INDEX_RAW_MAX ((size_t)1 << 30)
#define OBJSIZE_INDEX_MAX (OBJSIZE_INDEX_RAW_MAX + ((size_t)8 << 20))

/* prune/<id>: sealed JSON (§19.2), about 90 bytes per condemned pack: a
 * plan of 1 GiB condemns some 12 million packs (190 TB at the default
 * pack size) in one prune. The writer refuses a larger one. */
#define OBJSIZE_PLAN_MAX ((size_t)1 << 30)

/* wal/<TL>/<NAME>: SEALED(fixed fields, the name, 36 bytes per chunk)
 * (§12a) of a WAL file of at most 1 GiB, cut by the repository's chunker,
 * whose every chunk but the last holds at least chunk_min bytes: at most
 * 1 GiB / chunk_min + 1 chunks. 1024 bytes cover the envelope (52), the
 * fixed fields (54) and the name (40). 4.7 MB with the default 8 KiB
 * chunk_min; 604 MB with the smallest allowed (64 bytes). */
#define OBJSIZE_WAL_DESC_MAX(chunk_min) \
	((size_t)1024 + (((size_t)1 << 30) / (size_t)(chunk_min) + 1) * (size_t)36)
#define OBJSIZE_CHUNK_MIN_LEAST 64      /* the smallest chunk_min a config may set */

/* A pack's trailer (§9): SEALED(1 + 4 + 45 bytes per entry), at most
 * 2^22 entries, as a reader accepts (PACK_MAX_ENTRIES). Checked against
 * the footer's TRAILER_LEN before the trailer is read. */
#define OBJSIZE_TRAILER_MAX (OBJSIZE_SEALED_OVERHEAD + 5 + ((size_t)1 << 22) * 45)

/* data/ and tree/ packs (§9): blob offsets are u32, then the trailer and
 * the 12-byte footer. Only replication reads whole packs of any size
 * (a restore caches whole tree packs within its own memory budget). */
#define OBJSIZE_PACK_MAX (((size_t)1 << 32) + OBJSIZE_TRAILER_MAX + 12)

#endif
