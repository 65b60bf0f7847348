/* snapcat.h — the snapshot catalogue: a local, time-ordered copy of every
 * snapshot file's decrypted content (FORMAT.md §16 "Local cache").
 *
 * Owns: keeping <cache>/<repo-id>/snapcat (LMDB through kv.h) equal to the
 * repository's snapshots/ directory, and walking it newest or oldest first
 * without reading or decrypting snapshot files. With 100,000 snapshots a
 * sync of an unchanged repository costs one names-only listing of
 * snapshots/ (no stat per file on a local repository) and one keyed hash
 * per listed ID; it reads only the snapshot files the catalogue lacks.
 *
 * Correctness: the catalogue stores a fingerprint of the set of IDs it
 * holds (count, XOR of keyed BLAKE2b of each ID); every transaction that
 * commits keeps it equal to the IDs table or deletes it. A sync compares it
 * with the fingerprint of the fresh listing, so a snapshot another process
 * or host added or removed always shows up; a missing, stale or damaged
 * catalogue only costs reads (a damaged entry is read from the repository
 * and mended on the next sync).
 *
 * Thread safety: one thread per Repo. Several processes may share a
 * catalogue (LMDB serialises their writes).
 */
#ifndef STRATA_STORE_SNAPCAT_H
#define STRATA_STORE_SNAPCAT_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"
#include "store/snapshot.h"

/* snapcat_sync — bring the catalogue in line with the repository: list
 * snapshots/, then (only when the ID set differs) read the snapshot files
 * it lacks and drop the entries no longer listed. A listed snapshot file
 * that cannot be read or decoded is an error naming it; one deleted since
 * the listing is skipped. Errors of the listing as repo_list_ids. */
int snapcat_sync(Repo *repo, StrataErr *err);

/* snapcat_foreach — decode and visit snapshots in time order (newest
 * first when newest_first); fn returning non-zero stops the walk (and is
 * returned). Syncs first unless this Repo synced less than a second ago,
 * so a command's repeated queries cost one listing while a long-lived
 * process still sees other writers. */
typedef int (*SnapcatFn)(const Snapshot *snap, void *ctx);
int snapcat_foreach(Repo *repo, int newest_first, SnapcatFn fn, void *ctx, StrataErr *err);

/* snapcat_foreach_until — snapcat_foreach over the snapshots with
 * time_ns <= max_time_ns only; the newer ones are skipped by their key,
 * without being decoded. */
int snapcat_foreach_until(Repo *repo, int newest_first, int64_t max_time_ns, SnapcatFn fn, void *ctx,
                          StrataErr *err);

/* snapcat_note_saved / snapcat_note_deleted — keep the catalogue current
 * after this process wrote or deleted a snapshot file (best effort: a
 * failure only means the next sync does the work). */
void snapcat_note_saved(Repo *repo, const uint8_t id[STRATA_ID_LEN], int64_t time_ns,
                        const uint8_t *plain, size_t len);
void snapcat_note_deleted(Repo *repo, const uint8_t id[STRATA_ID_LEN]);

/* snapcat_close — called by repo_close. */
void snapcat_close(Repo *repo);

#endif
