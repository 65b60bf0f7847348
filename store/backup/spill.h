/* spill.h — an append-only scratch store for bytes a job writes once and
 * reads back later (a backup's file chunk lists until their directory's
 * tree is stored), so that they need not stay in memory.
 *
 * Owns: the first mem_max bytes not yet written out, in memory, and an
 * unlinked temporary file (O_TMPFILE, mode 0600) that holds the rest and
 * vanishes when closed or when the process dies. If the file cannot be
 * made or written (no such directory, a full disk), the bytes stay in
 * memory instead: a spill never fails for lack of disk, only for lack of
 * memory. Single-threaded.
 */
#ifndef STRATA_STORE_SPILL_H
#define STRATA_STORE_SPILL_H

#include <stddef.h>
#include <stdint.h>

typedef struct Spill Spill;

/* spill_new — a spill whose file goes in dir (NULL or "": $TMPDIR, else
 * /tmp), created on first need. NULL when out of memory. */
Spill *spill_new(const char *dir, size_t mem_max);

/* spill_put — append len bytes; *out_off is where they start. -ENOMEM. */
int spill_put(Spill *s, const void *p, size_t len, uint64_t *out_off);

/* spill_read — copy len bytes from offset off (within what was put) into
 * p. -EIO (or -errno) when the file cannot be read back. */
int spill_read(Spill *s, uint64_t off, void *p, size_t len);

/* spill_file_bytes — bytes held in the file rather than in memory. */
uint64_t spill_file_bytes(const Spill *s);

/* spill_free — close the file and free everything (NULL ok). */
void spill_free(Spill *s);

#endif
