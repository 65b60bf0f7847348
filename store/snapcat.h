/* snapcat.h — the snapshot catalogue: a local, time-ordered copy of every
 * snapshot file's decrypted content (FORMAT.md "Local cache").
 *
 * Owns: keeping <cache>/<repo-id>/snapshots (LMDB through kv.h) equal to
 * the repository's snapshots/ directory, and walking it newest or oldest
 * first without decrypting or parsing every snapshot file. A repository
 * with 100,000 snapshots lists its newest ten in a few hundred
 * microseconds once the catalogue is in sync; sync costs one listing of
 * snapshots/ plus reading only the files it has not seen.
 *
 * The set of listed IDs is fingerprinted (count and XOR of IDs, which are
 * hashes of file content) so an unchanged repository costs no lookups.
 * Thread safety: one thread per Repo.
 */
#ifndef STRATA_STORE_SNAPCAT_H
#define STRATA_STORE_SNAPCAT_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"
#include "store/snapshot.h"

/* snapcat_sync — bring the catalogue in line with the repository. A
 * snapshot file that cannot be read or decoded is an error naming it. */
int snapcat_sync(Repo *repo, StrataErr *err);

/* snapcat_foreach — decode and visit snapshots in time order (newest
 * first when newest_first); fn returning non-zero stops the walk. */
typedef int (*SnapcatFn)(const Snapshot *snap, void *ctx);
int snapcat_foreach(Repo *repo, int newest_first, SnapcatFn fn, void *ctx, StrataErr *err);

/* snapcat_note_saved / snapcat_note_deleted — keep the catalogue current
 * after this process wrote or deleted a snapshot file (best effort: a
 * failure only means the next sync does the work). */
void snapcat_note_saved(Repo *repo, const uint8_t id[STRATA_ID_LEN], int64_t time_ns,
                        const uint8_t *plain, size_t len);
void snapcat_note_deleted(Repo *repo, const uint8_t id[STRATA_ID_LEN]);

/* snapcat_close — called by repo_close. */
void snapcat_close(Repo *repo);

#endif
