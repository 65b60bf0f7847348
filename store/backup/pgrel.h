/* pgrel.h — recognising PostgreSQL relation files for page-run chunking.
 *
 * Owns: the rule of FORMAT.md §13a that says which files a backup cuts in
 * runs of whole 8 KiB pages (chunker/pagerun.h) instead of by content. The
 * rule affects only where chunks are cut, so only deduplication: any
 * reader restores any file whatever way it was cut.
 *
 * Never: opens or reads the file itself; it looks at the path and, for
 * base/ and global/, whether the data directory above holds PG_VERSION
 * (one stat per directory, remembered in a PgRelMemo).
 *
 * Thread safety: a PgRelMemo belongs to one thread.
 */
#ifndef STRATA_STORE_BACKUP_PGREL_H
#define STRATA_STORE_BACKUP_PGREL_H

#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

/* PostgreSQL's BLCKSZ as built by default (a server built with another
 * block size gets content-defined chunks: correct, deduplicates less). */
#define PGREL_PAGE_LEN  8192u
/* Pages per chunk: 2 (16 KiB). Measured on pgbench (notes in FORMAT.md
 * §13a): 1 page stored more (each 8 KiB chunk compresses alone and costs
 * an index entry), 4 pages changed twice the bytes per updated page. */
#define PGREL_RUN_PAGES 2u
#define PGREL_RUN_LEN   (PGREL_PAGE_LEN * PGREL_RUN_PAGES)

/* The data directory last looked at: dir is a path prefix, has_version
 * whether dir/PG_VERSION is a regular file. Zero-initialise. */
typedef struct PgRelMemo {
	char dir[PATH_MAX];
	int has_version;
	int valid;
} PgRelMemo;

/* pgrel_name_ok — name is a relation file name: N, N_fsm, N_vm or N_init
 * with N decimal digits, optionally followed by .S (S decimal digits, the
 * 1 GiB segment number). Pure. */
int pgrel_name_ok(const char *name);

/* pgrel_run_len — PGREL_RUN_LEN when the regular file at path (as opened
 * for reading; st its stat) is a PostgreSQL relation file by FORMAT.md
 * §13a, else 0. Errors (a stat that fails) read as "not one": the rule
 * only steers deduplication. */
uint32_t pgrel_run_len(const char *path, const struct stat *st, PgRelMemo *memo);

#endif
