/* wal_recovery.h — make a restored PostgreSQL data directory recover from
 * the archive it came from without ever archiving into it
 * (`strata restore --pg-recovery`, tools/cli/doc/postgresql.md "Staging
 * restores").
 *
 * Owns: the recovery target spec (TARGET of --pg-recovery=TARGET) and the
 * files written into the data directory after a restore:
 *   - postgresql.auto.conf gets a block appended (read last by PostgreSQL,
 *     so it wins over postgresql.conf and over earlier lines):
 *       archive_mode = 'off'           the copy never archives: the
 *       archive_command = ''           production repository stays the
 *                                      production server's alone
 *       primary_conninfo = ''          no streaming from the old primary
 *       restore_command = '...'        WAL from the same repository
 *       recovery_target* = ''          every other kind first, so a target
 *                                      left in the backup's own file cannot
 *                                      clash ("multiple recovery targets")
 *       recovery_target_X = ...        then the chosen target, last
 *       recovery_target_action = ...
 *     written to a private temporary file, fsynced and renamed over the
 *     old one (store/sys/outfile.h), with the old file's owner and mode;
 *   - recovery.signal (empty, same owner, 0600) is created;
 *   - postmaster.pid (a filesystem snapshot of a running server holds
 *     one: PostgreSQL would refuse to start, or a reused PID fool it) and
 *     standby.signal (it would win over recovery.signal and make the copy
 *     a standby of production) are removed.
 *
 * Never: starts PostgreSQL, reads the repository, follows a symlink at
 * any of those names (each is checked with lstat; a symlink is refused).
 * Thread safety: no shared state.
 */
#ifndef STRATA_STORE_WAL_RECOVERY_H
#define STRATA_STORE_WAL_RECOVERY_H

#include "store/error.h"

enum WalRecoveryKind {
	WAL_RECOVERY_END = 0,      /* replay to the end of the archive */
	WAL_RECOVERY_IMMEDIATE,    /* stop once consistent: recovery_target = 'immediate' */
	WAL_RECOVERY_TIME,         /* recovery_target_time */
	WAL_RECOVERY_XID,          /* recovery_target_xid */
	WAL_RECOVERY_NAME,         /* recovery_target_name (pg_create_restore_point) */
	WAL_RECOVERY_LSN           /* recovery_target_lsn */
};

#define WAL_RECOVERY_VALUE_MAX 256

typedef struct WalRecoveryTarget {
	int  kind;                               /* enum WalRecoveryKind */
	char value[WAL_RECOVERY_VALUE_MAX];      /* as PostgreSQL reads it; "" for END/IMMEDIATE */
} WalRecoveryTarget;

/* wal_recovery_target_parse — TARGET of --pg-recovery[=TARGET]: NULL,
 * "end" → END; "immediate"; "time=TIMESTAMP" (as PostgreSQL reads
 * recovery_target_time, e.g. "2024-05-01 12:00:00+00"); "xid=N" (decimal);
 * "name=RESTORE_POINT"; "lsn=X/Y". Values are passed to PostgreSQL
 * verbatim, quoted; control characters are refused. STRATA_EUSAGE with a
 * message listing the forms. */
int wal_recovery_target_parse(const char *spec, WalRecoveryTarget *out, StrataErr *err);

/* wal_recovery_kind_name — "end", "immediate", "time", "xid", "name",
 * "lsn". */
const char *wal_recovery_kind_name(int kind);

typedef struct WalRecoveryOptions {
	WalRecoveryTarget target;
	const char *action;            /* "promote", "pause" or "shutdown" */
	const char *restore_command;   /* the restore_command value, unquoted */
} WalRecoveryOptions;

typedef struct WalRecoveryResult {
	int removed_pid;               /* postmaster.pid was there and is gone */
	int removed_standby;           /* standby.signal was there and is gone */
} WalRecoveryResult;

/* wal_recovery_quote — value as a postgresql.conf string literal
 * ('...' with ' doubled) into out (room for 2 * strlen + 3). */
void wal_recovery_quote(const char *value, char *out);

/* wal_recovery_prepare — do the above in pgdata, which must hold
 * PG_VERSION (a data directory: STRATA_EUSAGE naming what to give
 * otherwise). Errors: STRATA_EUSAGE (not a data directory, a symlink at
 * one of the names, a bad action), -errno (err names the file). */
int wal_recovery_prepare(const char *pgdata, const WalRecoveryOptions *o, WalRecoveryResult *out,
                         StrataErr *err);

#endif
