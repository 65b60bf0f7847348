/* format.h — the repository format's constants in one place (store/FORMAT.md):
 * the magic of every file kind, the version of each that this strata
 * writes and the newest it reads, the object kinds (blob types, pack
 * kinds, the two forms of a stored tree object), and the little-endian
 * helpers every byte layout uses.
 *
 * Owns: these numbers and nothing else. A module that reads or writes a
 * file kind takes its magic and version from here, never from a copy.
 * Never: allocates, does I/O or holds state — macros and static inline
 * functions only, so that any file of store/ and tools/dev/ can include it
 * without a dependency. Thread safe.
 */
#ifndef STRATA_STORE_FORMAT_H
#define STRATA_STORE_FORMAT_H

#include <stdint.h>

/* ---- repository format versions (FORMAT.md §18 "Changes") ---- */

#define STRATA_FORMAT_VERSION 3   /* the newest repository version this binary reads and writes (3: frames, FORMAT.md §9a) */
#define STRATA_FORMAT_VERSION_DEFAULT 2  /* what `init` makes without --format-version */
#define STRATA_FORMAT_VERSION_MIN 1  /* the oldest it reads and writes (and can create: `init --format-version`) */

/* ---- magics: the first 8 bytes of each file kind (FORMAT.md §5 "Sealed
 * file", §9 "Pack file"). String literals: compare FORMAT_MAGIC_LEN bytes,
 * never the terminating NUL. ---- */

#define FORMAT_MAGIC_LEN 8
#define FORMAT_MAGIC_CONFIG   "STRATACF"   /* config */
#define FORMAT_MAGIC_INDEX    "STRATAIX"   /* index/<id> */
#define FORMAT_MAGIC_SNAPSHOT "STRATASN"   /* snapshots/<id> */
#define FORMAT_MAGIC_LOCK     "STRATALK"   /* locks/<id> */
#define FORMAT_MAGIC_PLAN     "STRATAPL"   /* prune/<id> */
#define FORMAT_MAGIC_VERIFIED "STRATAVR"   /* verified/<id> */
#define FORMAT_MAGIC_REPLICA  "STRATARS"   /* replica/<id>: a copy's settings (§12c) */
#define FORMAT_MAGIC_WAL      "STRATAWL"   /* wal/<T>/<NAME> descriptors */
#define FORMAT_MAGIC_PACK     "STRATAPK"   /* a pack's footer */
#define FORMAT_MAGIC_TRAILER  "STRATATR"   /* a pack trailer's sealed header */

/* ---- versions of each file kind: what this strata writes, and (for the
 * sealed files) the highest VERSION it opens ---- */

#define FORMAT_VERSION_INDEX     1   /* index files (§10) */
#define FORMAT_VERSION_INDEX_FRAMES 2  /* ... listing a pack with frames (§9a, format 3) */
#define FORMAT_VERSION_TRAILER   1   /* pack trailer plaintext, first byte (§9) */
#define FORMAT_VERSION_TRAILER_FRAMES 2  /* ... of a pack holding frames (§9a, format 3) */
#define FORMAT_VERSION_TREE      1   /* tree object plaintext, first byte (§11) */
#define FORMAT_VERSION_KEYFILE   1   /* key file JSON "version" (§6) */
#define FORMAT_VERSION_LOCK      1   /* lock records (§19.1) */
#define FORMAT_VERSION_PLAN      1   /* prune plans (§19.2) */
#define FORMAT_VERSION_WAL       2   /* WAL descriptors (§12a); 1 still read */
#define FORMAT_VERSION_VERIFIED  1   /* restore-test records (§12b) */
#define FORMAT_VERSION_REPLICA   1   /* replica settings (§12c) */
#define FORMAT_VERSION_BLOB_AD   1   /* first byte of a blob's AEAD data (§8) */
#define FORMAT_VERSION_FRAME     1   /* first byte of a frame's plaintext (§9a, format 3) */
/* A snapshot file's VERSION says whether it is complete (§12): version 1
 * is what every strata reads; a partial snapshot is version 2, so that
 * a strata that knows no partial snapshots refuses it. */
#define FORMAT_VERSION_SNAPSHOT_COMPLETE 1
#define FORMAT_VERSION_SNAPSHOT_PARTIAL  2
#define FORMAT_VERSION_SNAPSHOT_MAX      2

/* ---- object kinds ---- */

/* Blob types (FORMAT.md §8 "Blob"); bound into the AEAD data. */
enum BlobType {
	BLOB_DATA     = 0,   /* file content chunk; goes to data packs */
	BLOB_TREE     = 1,   /* tree object (directory); goes to tree packs */
	BLOB_TREEPART = 2    /* a piece of a large tree; goes to tree packs */
};
#define BLOB_TYPE_MAX 2
/* Format version 3 (FORMAT.md §9a; trailers and index files of a format 1
 * or 2 repository refuse both): a frame of several data
 * chunks sealed as one blob of TYPE 3 under a zero ID, and in a trailer
 * of ENTRIES version 2 the member entries (TYPE 4) that follow it. */
#define FORMAT_BLOB_FRAME  3
#define FORMAT_BLOB_MEMBER 4

/* Pack kinds: which directory a pack lives in (data/ or tree/). */
enum { PACK_KIND_DATA = 0, PACK_KIND_TREE = 1 };
static inline uint8_t pack_kind_of_blob(uint8_t type) { return type == BLOB_DATA ? PACK_KIND_DATA : PACK_KIND_TREE; }

/* The first byte of a stored tree object (FORMAT.md §11): the tree's
 * bytes follow (inline), or the list of its parts (parts). */
#define FORMAT_TREE_INLINE 0
#define FORMAT_TREE_PARTS  1

/* ---- little-endian integers (every width in FORMAT.md is LE) ---- */

static inline void format_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t format_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void format_put_le64(uint8_t *p, uint64_t v)
{
	format_put_le32(p, (uint32_t)v);
	format_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t format_get_le64(const uint8_t *p)
{
	return (uint64_t)format_get_le32(p) | (uint64_t)format_get_le32(p + 4) << 32;
}

/* ---- big-endian, where byte order must be numeric order: the local
 * index's pack-number keys (FORMAT.md §16), check's subset of packs ---- */

static inline void format_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static inline uint32_t format_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#endif
