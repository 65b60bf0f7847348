/* wal_timeline.h — PostgreSQL WAL positions, timeline histories and the
 * archive check behind `strata wal-verify`, as pure functions over names
 * and texts (no repository: store/wal/wal_verify.c gathers the inputs).
 *
 * Owns: segment arithmetic for any wal_segment_size (a power of two from
 * 1 MiB to 1 GiB; a log ID holds 4 GiB / segment_size segments, so with
 * 16 MiB segments ...0000000A000000FF is followed by ...0000000B00000000);
 * parsing timeline history files ("0000000N.history", PostgreSQL's
 * format: "PARENT_TLI<TAB>X/Y<TAB>reason" per ancestor, # comments) and
 * the backup_label lines wal-verify needs; and the verdict: for each base
 * backup, which segments the archive must hold from its start segment to
 * the newest segment of every timeline that descends from it, which are
 * missing (as runs of consecutive segments), which timeline PostgreSQL's
 * default recovery_target_timeline = 'latest' picks and whether that
 * timeline descends from the backup, and where a timeline carried on past
 * the point where another branched off (a fork).
 *
 * The rules (tools/cli/doc/postgresql.md "wal-verify" explains them):
 * - Timeline T descends from base backup B (taken on timeline b with its
 *   checkpoint at LSN c) when T == b, or T's history lists b and b ends
 *   there at a switch point above c (PostgreSQL's "requested timeline is
 *   not a child of this server's history" check, tliOfPointInHistory).
 * - A timeline T that branched from its parent at LSN s begins at segment
 *   s / segment_size: recovery reads that segment and the later ones from
 *   T, the earlier ones from the parent (XLogFileReadAnyTLI).
 * - For each timeline T descending from B, the archive must hold every
 *   segment of T from T's first needed segment (B's start segment on b,
 *   T's begin segment otherwise) to the newest of: the newest full segment
 *   T holds, the segment before each descending child's begin, and on b
 *   the backup's stop segment when known (the end of the backup: recovery
 *   is not consistent before it). Only full segments count: a .partial
 *   file is never fetched by recovery.
 * - 'latest' is found as PostgreSQL finds it (findNewestTimeLine): from b,
 *   the highest N such that every history file b+1..N is archived.
 * - A fork: timeline P holds a full segment at or after the begin segment
 *   of a child C (P went on after C branched off: a point-in-time
 *   recovery that promoted, or a restored copy archiving into this
 *   repository). Reported, not a failure.
 * - A timeline above 1 that holds WAL but no history file is a problem:
 *   PostgreSQL archives the history file first, so it was lost.
 *
 * Never: reads the repository, prints. Thread safety: none needed
 * (no shared state).
 */
#ifndef STRATA_STORE_WAL_TIMELINE_H
#define STRATA_STORE_WAL_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/wal/wal.h"

#define WAL_LSN_TEXT_MAX 18            /* "FFFFFFFF/FFFFFFFF" + NUL */
#define WAL_HISTORY_MAX_BYTES (1u << 20) /* a history file holds one short line per ancestor */
#define WAL_VERIFY_MSG_MAX 320

/* wal_segsize_ok — 1 for a wal_segment_size PostgreSQL allows. */
int wal_segsize_ok(uint64_t segment_size);

/* wal_segno — the segment number (log * segments-per-log + seg) of a
 * segment, .partial or .backup name. STRATA_EUSAGE for another name or a
 * seg part that a log of this segment size cannot hold. */
int wal_segno(const char *name, uint64_t segment_size, uint64_t *out_segno);

/* wal_seg_name — the segment name of segno on timeline. out has room for
 * WAL_NAME_MAX + 1. segment_size must pass wal_segsize_ok. */
void wal_seg_name(uint32_t timeline, uint64_t segno, uint64_t segment_size, char out[WAL_NAME_MAX + 1]);

/* wal_lsn_parse — "X/Y" (1-8 hex digits each, either case) to an LSN.
 * STRATA_EFORMAT otherwise. wal_lsn_format writes PostgreSQL's "%X/%X". */
int wal_lsn_parse(const char *s, uint64_t *out_lsn);
void wal_lsn_format(uint64_t lsn, char out[WAL_LSN_TEXT_MAX]);

/* One line of a history file: timeline `parent` ended at `switch_lsn`. */
typedef struct WalHistEntry {
	uint32_t parent;
	uint64_t switch_lsn;
} WalHistEntry;

typedef struct WalHistory {
	uint32_t      timeline;     /* the history file's own timeline */
	WalHistEntry *e;            /* its ancestors, oldest first */
	size_t        n;
} WalHistory;

/* wal_history_parse — the history file of timeline `timeline` (len bytes;
 * need not be NUL-terminated). Blank lines and lines starting with # are
 * skipped; every other line must start "TLI<white>X/Y". Parents must be
 * strictly increasing and below timeline, switch points non-decreasing,
 * and there must be at least one. Fills *out (free with
 * wal_history_free). STRATA_EFORMAT with a message naming the line;
 * -ENOMEM. */
int wal_history_parse(const char *text, size_t len, uint32_t timeline, WalHistory *out, StrataErr *err);
void wal_history_free(WalHistory *h);

/* A base backup as wal-verify sees it (from its backup_label). */
typedef struct WalBackupLabel {
	uint32_t timeline;                    /* START TIMELINE, else the start segment's */
	uint64_t start_lsn;                   /* START WAL LOCATION */
	uint64_t checkpoint_lsn;              /* CHECKPOINT LOCATION, else start_lsn */
	char     start[WAL_NAME_MAX + 1];     /* the "(file ...)" of START WAL LOCATION */
	int      has_stop;                    /* stop known, from the archived .backup file */
	char     stop[WAL_NAME_MAX + 1];      /* the "(file ...)" of its STOP WAL LOCATION */
} WalBackupLabel;

/* wal_label_parse — the lines above from a backup_label text (len bytes).
 * STRATA_EFORMAT naming what is missing or malformed. */
int wal_label_parse(const char *text, size_t len, WalBackupLabel *out, StrataErr *err);

/* wal_backup_stop_parse — the "(file SEGMENT)" of the STOP WAL LOCATION
 * line of a backup history file (SEGMENT.OFFSET.backup, which PostgreSQL
 * archives when a base backup ends: the backup_label lines plus STOP
 * lines). STRATA_EFORMAT when there is no such line or it is malformed. */
int wal_backup_stop_parse(const char *text, size_t len, char out[WAL_NAME_MAX + 1], StrataErr *err);

/* wal_label_segsize — the one segment size (1 MiB..1 GiB) at which the
 * label's start LSN falls in its start file; 0 if none or several. */
uint64_t wal_label_segsize(const WalBackupLabel *l);

/* ---- the verdict ---- */

typedef struct WalGap {
	char     first[WAL_NAME_MAX + 1];     /* first missing segment */
	char     last[WAL_NAME_MAX + 1];      /* last missing segment of this run */
	uint64_t segments;
} WalGap;

/* The segments one backup needs on one timeline. */
typedef struct WalRange {
	uint32_t timeline;
	char     first[WAL_NAME_MAX + 1];
	char     last[WAL_NAME_MAX + 1];
	uint64_t segments;                    /* in the range */
	uint64_t missing;
	size_t   gap0, ngaps;                 /* WalVerifyReport.gaps[gap0 .. gap0 + ngaps) */
} WalRange;

typedef struct WalTimelineInfo {
	uint32_t timeline;
	int      has_history;
	uint32_t parent;                      /* 0: none (timeline 1, or no history) */
	uint64_t switch_lsn;                  /* where it branched off parent */
	char     begin[WAL_NAME_MAX + 1];     /* its first segment after the switch ("" without history) */
	char     first[WAL_NAME_MAX + 1];     /* oldest full segment held ("" if none) */
	char     last[WAL_NAME_MAX + 1];
	uint64_t segments, partials, backups;
	int      history_missing;             /* above 1, holds WAL, no history file */
} WalTimelineInfo;

typedef struct WalFork {
	uint32_t timeline;                    /* went on ... */
	uint32_t child;                       /* ... after this one branched off */
	uint64_t switch_lsn;
	char     first[WAL_NAME_MAX + 1];     /* timeline's segments at or after the child's begin */
	char     last[WAL_NAME_MAX + 1];
	uint64_t segments;
} WalFork;

/* One base backup: input (label, or error) and verdict. */
typedef struct WalBackupCheck {
	/* filled by the caller */
	uint8_t  snapshot_id[STRATA_ID_LEN];
	int64_t  time_ns;
	int      label_ok;                    /* 0: error holds why it cannot be checked */
	WalBackupLabel label;
	char     error[WAL_VERIFY_MSG_MAX];
	/* filled by wal_verify_plan */
	uint32_t latest_timeline;             /* what recovery_target_timeline = 'latest' picks */
	int      latest_follows;              /* 1 if that timeline descends from the backup */
	uint64_t missing;                     /* over its ranges */
	size_t   range0, nranges;             /* WalVerifyReport.ranges[...] */
	int      ok;
} WalBackupCheck;

typedef struct WalVerifyReport {
	uint64_t segment_size;
	WalTimelineInfo *timelines; size_t ntimelines;   /* by timeline */
	WalFork         *forks;     size_t nforks;
	WalBackupCheck  *backups;   size_t nbackups;     /* as given (oldest first) */
	WalRange        *ranges;    size_t nranges;
	WalGap          *gaps;      size_t ngaps;
	uint64_t problems;          /* backups not ok + timelines without history
	                               + 1 when there is no base backup at all */
} WalVerifyReport;

/* wal_verify_plan — the verdict over an archive listing.
 * names: every WAL file name of the archive, sorted (strcmp), each valid
 * (wal_name_parse); names whose seg part does not fit segment_size are
 * ignored. hist: the parsed history files (any order; a timeline whose
 * history file is archived but unreadable must not be passed: the caller
 * fails instead). backups: copied into the report (the caller keeps its
 * array), in the same order. Each backup with
 * label_ok whose start file does not match its start LSN at this segment
 * size is marked not ok with an error.
 * Returns 0 with *out (free with wal_verify_report_free), STRATA_EUSAGE for
 * a bad segment_size, -ENOMEM. */
int wal_verify_plan(uint64_t segment_size, const char (*names)[WAL_NAME_MAX + 1], size_t nnames,
                    const WalHistory *hist, size_t nhist, WalBackupCheck *backups, size_t nbackups,
                    WalVerifyReport **out, StrataErr *err);
void wal_verify_report_free(WalVerifyReport *r);

#endif
