/* verified.h — restore-test records: what `strata verify-restore` found
 * when it restored a snapshot into a scratch directory and ran a command
 * over it.
 *
 * Owns: the bytes of verified/<snapshot id>/<id> (FORMAT.md §12b: a
 * sealed file, magic STRATAVR, version 1, whose plaintext is one JSON
 * object), writing one, reading them all back into a per-snapshot view
 * (the newest record of each snapshot decides whether it "passed"), and
 * deleting the records of snapshots that are no longer in the repository
 * (prune). Snapshots stay immutable: a test never rewrites one.
 *
 * A record's directory names its snapshot, so prune finds the records of
 * forgotten snapshots by listing alone; the snapshot ID is also inside
 * the sealed plaintext, and a record whose plaintext names another
 * snapshot than its directory is damaged (moved by someone without the
 * key), never counted.
 *
 * Never: prints, restores, runs commands, reads or writes snapshots.
 * Thread safety: the codec functions are pure and reentrant; the others
 * take one Repo from one thread at a time. A VerifiedSet is read-only
 * after verified_load and may be shared between threads.
 */
#ifndef STRATA_STORE_VERIFIED_H
#define STRATA_STORE_VERIFIED_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/format.h"
#include "store/repo.h"

#define VERIFIED_MAX_BYTES  (64u << 10)   /* a record is a few hundred bytes */
#define VERIFIED_NAME_MAX   128           /* bytes of the command's name */
#define VERIFIED_DIR        "verified"

typedef enum VerifiedOutcome {
	VERIFIED_PASSED = 1,      /* the command exited 0 */
	VERIFIED_FAILED,          /* it exited 1..255 (exit_status) */
	VERIFIED_SIGNALLED,       /* a signal it did not get from strata ended it (signal) */
	VERIFIED_TIMEOUT,         /* it ran past the timeout; strata killed it (signal) */
	VERIFIED_RESTORE_FAILED,  /* the restore found the snapshot damaged; nothing ran (detail) */
	VERIFIED_UNKNOWN          /* an outcome a newer strata wrote: never a pass */
} VerifiedOutcome;

/* One record. The strings are NUL-terminated valid UTF-8, cut between
 * characters to fit. name is the command's name only (the basename of
 * its argv[0] or `--name`): never its arguments, which may hold secrets. */
typedef struct VerifiedRecord {
	uint8_t  id[STRATA_ID_LEN];       /* NAME of the record file (set by save and load) */
	uint8_t  snapshot[STRATA_ID_LEN]; /* the snapshot tested */
	int64_t  snapshot_time_ns;        /* its time, so lists need not load it */
	int64_t  time_ns;                 /* when the test ended (Unix ns, tester's clock) */
	VerifiedOutcome outcome;
	int      exit_status;             /* PASSED: 0; FAILED: 1..255; otherwise -1 */
	int      signal;                  /* SIGNALLED, TIMEOUT: 1..127; otherwise 0 */
	int64_t  timeout_s;               /* the limit the command ran under; 0: none */
	double   restore_s, command_s;    /* how long the restore and the command took */
	uint64_t files, bytes;            /* what the restore wrote */
	char     name[VERIFIED_NAME_MAX + 1];
	char     host[256];               /* where the test ran */
	char     user[64];
	char     detail[256];             /* RESTORE_FAILED: the restore's error; else "" */
} VerifiedRecord;

/* verified_outcome_name — "passed", "failed", "signal", "timeout",
 * "restore_failed" or "unknown". */
const char *verified_outcome_name(VerifiedOutcome o);

/* ---- codec (FORMAT.md §12b), shared with fuzz/fuzz_verified.c ---- */

/* verified_record_json — r's plaintext: compact JSON with sorted keys,
 * malloc'ed into *out_json (caller frees), written only on success.
 * Errors: STRATA_EFORMAT when r breaks a rule verified_record_parse
 * checks (an outcome out of range, an exit status that contradicts it,
 * an empty name), -ENOMEM. */
int verified_record_json(const VerifiedRecord *r, char **out_json);

/* verified_record_parse — the decrypted plaintext of a record (bytes
 * from storage: untrusted) into *out, written only on success (r->id is
 * left zero: the caller knows the file's name). Required: version,
 * snapshot, snapshot_time_ns, time_ns, outcome, name; the rest default to
 * zero or "". Rules: version 1..FORMAT_VERSION_VERIFIED; snapshot 64 hex digits;
 * name 1..VERIFIED_NAME_MAX bytes; "passed" has exit_status 0, "failed"
 * 1..255, the others -1; "signal" and "timeout" have signal 1..127, the
 * others 0; timeout_s, files, bytes not negative. Strings longer than
 * their field are cut between characters.
 * Errors: STRATA_EFORMAT (malformed, over VERIFIED_MAX_BYTES, a rule
 * broken), STRATA_EVERSION (a newer record version). */
int verified_record_parse(const uint8_t *json, size_t len, VerifiedRecord *out);

/* ---- the repository ---- */

/* verified_save — seal r (FORMAT.md §12b) and store it as
 * verified/<r->snapshot hex>/<NAME of the file>; fills r->id. The caller
 * has read the snapshot (the record is written after it, §15).
 * Errors: STRATA_EFORMAT (r breaks a rule, see verified_record_json),
 * backend errors, -ENOMEM; the message names the object. */
int verified_save(Repo *repo, VerifiedRecord *r, StrataErr *err);

/* A record that could not be read: damaged, forged, moved to another
 * snapshot's directory, or written by a newer strata. */
typedef struct VerifiedBad {
	uint8_t id[STRATA_ID_LEN];        /* the file's name */
	uint8_t snapshot[STRATA_ID_LEN];  /* its directory */
	int     code;                     /* STRATA_EAUTH, _EFORMAT, _EDAMAGED, _EVERSION */
	char    message[STRATA_ERRMSG_LEN];  /* names verified/<snap>/<id> and what to do */
} VerifiedBad;

typedef struct VerifiedSet VerifiedSet;

/* verified_load — read every record in the repository. A record that
 * cannot be read is not an error: it is left out and listed in the set
 * (verified_set_bad), for a warning or check's report. A record deleted
 * since the listing is skipped. Errors: backend failures (listing or
 * reading), -ENOMEM. *out freed with verified_set_free. */
int verified_load(Repo *repo, VerifiedSet **out, StrataErr *err);

/* verified_set_free — accepts NULL. */
void verified_set_free(VerifiedSet *set);

/* verified_newest — the newest record (latest time_ns; ties: the larger
 * record ID) of snapshot snap in set, or NULL when it has none. */
const VerifiedRecord *verified_newest(const VerifiedSet *set, const uint8_t snap[STRATA_ID_LEN]);

/* verified_passed — 1 when snap's newest record is VERIFIED_PASSED, else
 * 0: a snapshot that passed once and failed later has not passed. */
int verified_passed(const VerifiedSet *set, const uint8_t snap[STRATA_ID_LEN]);

/* verified_set_count / verified_set_at — every record read, ordered by
 * snapshot ID, then time, then record ID. */
size_t verified_set_count(const VerifiedSet *set);
const VerifiedRecord *verified_set_at(const VerifiedSet *set, size_t i);

/* verified_set_nbad / verified_set_bad — the records that could not be
 * read, in listing order. */
size_t verified_set_nbad(const VerifiedSet *set);
const VerifiedBad *verified_set_bad(const VerifiedSet *set, size_t i);

/* verified_prune — delete the records of snapshots not in the repository,
 * and of the snapshots in ignore[0..nignore) (being forgotten); with
 * dry_run only count them. Read or damaged, a record goes with its
 * directory's snapshot: nothing else depends on it. verified/ is listed
 * before snapshots/, so a record written (after its snapshot) during the
 * run is never taken for an orphan. *out_records counts the records
 * (to be) deleted, *out_snapshots the snapshots they belonged to.
 * Errors: backend failures (a record already gone is not one), -ENOMEM. */
int verified_prune(Repo *repo, const uint8_t (*ignore)[STRATA_ID_LEN], size_t nignore, int dry_run,
                   uint64_t *out_records, uint64_t *out_snapshots, StrataErr *err);

#endif
