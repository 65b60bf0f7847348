/* replica.h — what `replicate --mirror` needs the key for: a copy that
 * keeps its own packs.
 *
 * Owns: (1) before the copy pass, finding the source packs the copy need
 * not receive because every blob they hold is already at the copy (a
 * repack at the source rewrote blobs the copy holds in its own, older
 * packs), and the source index files that list them, which the copy then
 * does not receive either; (2) the "cover" index file the copy gets
 * instead, listing the other packs of those index files (written before
 * the snapshots are copied, so no snapshot at the copy needs a pack no
 * index file lists); (3) for the mirror pass, what each index file of the
 * copy lists, with whether the source still holds any blob of each pack
 * (such a pack is the copy's own copy of live data: kept), and rewriting
 * a set of the copy's index files into one that lists only the packs kept.
 * FORMAT.md §10 ("A chunk ID may be listed more than once": every listing
 * is valid) and tools/cli/doc/replicate.md "Mirror mode".
 *
 * Never: deletes (remote/replicate_mirror.c does, in a safe order), reads
 * a data pack, or writes anything but index files at the copy.
 * Thread safety: one caller at a time.
 */
#ifndef STRATA_STORE_REPLICA_H
#define STRATA_STORE_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/format.h"
#include "store/repo.h"

typedef struct Replica Replica;

typedef struct ReplicaUploadStats {
	uint64_t packs_skipped, bytes_skipped;   /* source packs whose blobs the copy holds */
	uint64_t index_skipped;                  /* source index files not copied (they list those) */
	uint64_t cover_packs;                    /* other packs of those, for the cover index file */
	uint64_t packs_unselected, bytes_unselected;  /* selective: data packs no chosen snapshot needs */
	uint64_t blobs_selected;                 /* selective: data blobs the chosen snapshots need */
} ReplicaUploadStats;

/* replica_new — for a source and its copy, both open with the same key
 * (the copy with a cache of its own: its local index is the copy's).
 * copy may be NULL while the copy holds no repository yet: then nothing
 * is skipped. Borrows both; they must outlive it. */
int replica_new(Repo *src, Repo *copy, Replica **out, StrataErr *err);
void replica_free(Replica *r);

/* replica_set_copy — the copy, once it has been opened (after a first
 * copy pass wrote its keys and config). */
void replica_set_copy(Replica *r, Repo *copy);

/* replica_select — a selective copy: it is to hold only the snapshots
 * ids[0..n) of the source (chosen by the caller, with forget's filters
 * and keep rules). Walks their trees (read from the source) and collects
 * the data blobs they need in a scratch set in directory scratch_dir
 * (created; removed by replica_free). From then on replica_skips names
 * every other snapshot, their restore-test records, every wal/ object,
 * and replica_plan_uploads skips data packs holding none of those blobs;
 * replica_index_packs judges a data pack needed by them alone. Tree packs
 * are copied whole (metadata: small; which trees a pack holds is not
 * worth sorting). */
int replica_select(Replica *r, const uint8_t (*ids)[STRATA_ID_LEN], size_t n, const char *scratch_dir,
                   StrataErr *err);

/* replica_selective — 1 after replica_select. */
int replica_selective(const Replica *r);

/* replica_plan_uploads — decide the skips (1) above; lists index/, data/
 * and tree/ of both and reads the source index files the copy lacks.
 * Errors: backend and index-file errors naming the object. */
int replica_plan_uploads(Replica *r, ReplicaUploadStats *out, StrataErr *err);

/* replica_skips — 1 when object name is not to be copied (plan above). */
int replica_skips(const Replica *r, const char *name);

/* replica_write_cover — write the cover index file (2) at the copy when
 * there is one to write; *out_written = 1 then. */
int replica_write_cover(Replica *r, int *out_written, StrataErr *err);

/* replica_index_packs — the packs index file index_name ("index/<hex>")
 * of the copy lists, as object names, and for each whether the source's
 * index holds any of its blobs (*out_needed). Both arrays malloc'ed, each
 * name too; the caller frees. The file is kept in memory for
 * replica_rewrite_index. */
int replica_index_packs(Replica *r, const char *index_name, char ***out_names, int **out_needed,
                        size_t *out_n, StrataErr *err);

/* replica_rewrite_index — write one index file at the copy listing the
 * packs keep[0..nkeep) ("data/xx/<hex>" names) with the entries the index
 * files read by replica_index_packs gave them. Nothing when nkeep is 0.
 * STRATA_ENOTFOUND for a pack no such index file listed. */
int replica_rewrite_index(Replica *r, const char *const *keep, size_t nkeep, StrataErr *err);

#endif
