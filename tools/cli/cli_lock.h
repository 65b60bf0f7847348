/* cli_lock.h — taking the repository lock a command needs.
 *
 * Owns: the one lock a command holds for the rest of the process (released
 * at exit or by cli_unlock), the lock options every command uses, and what
 * happens when a lock is lost while held: the refresher thread prints one
 * error line and ends the process at once with exit code 11 (a writer that
 * lost its lock must not write another byte; every write strata makes is
 * crash-safe, so stopping anywhere leaves a valid repository).
 *
 * Which mode (store/lock.h):
 *   shared     backup, restore, dump, ls, cat, stats, check, forget,
 *              verify-restore (restoring and recording, not while its
 *              command runs)
 *   mark       prune, forget --prune (prune takes "exclusive" itself while
 *              it deletes)
 *   exclusive  repair
 * Take it right after cli_repo_open, before anything reads the index
 * (opening the index may write an index file for packs this machine stored
 * before a crash).
 *
 * Options and environment:
 *   --lock-wait DURATION, else STRATA_LOCK_WAIT=DURATION
 *                                 keep retrying a conflicting lock this long
 *                                 (default 0: fail at once with exit code 11,
 *                                 the same message after a wait)
 *   STRATA_LOCK_RETRY_MS=MS       the longest pause between two tries while
 *                                 waiting, 10 to 5000 (default 5000; the
 *                                 tests' kill rounds use 200: their
 *                                 holders end within a second)
 *   STRATA_LOCK_REFRESH=SECONDS   refresh interval (default 300)
 *   STRATA_LOCK_STALE=SECONDS     how long this process's lock stays valid
 *                                 without a refresh (default 1800); written
 *                                 into the lock, so others judge it by it
 */
#ifndef STRATA_TOOLS_CLI_LOCK_H
#define STRATA_TOOLS_CLI_LOCK_H

#include "store/error.h"
#include "store/lock.h"
#include "store/repo.h"
#include "tools/cli/cli.h"

/* --lock-wait at most (a year), and its forms for usage messages. */
#define CLI_LOCK_WAIT_MAX_S (365L * 86400)
#define CLI_LOCK_WAIT_FORMS "give whole seconds, or a number ending in s, m or h (e.g. 90, 10m, 2h), at most a year"

/* cli_lock_parse_wait — "90", "90s", "10m" or "2h" into seconds, at most
 * CLI_LOCK_WAIT_MAX_S. 0 or -EINVAL. */
int cli_lock_parse_wait(const char *s, long *out_s);

/* cli_lock — take a lock of mode on repo, named after the running command.
 * Errors: STRATA_ELOCKED naming the holder, STRATA_EUSAGE for a malformed
 * STRATA_LOCK_* variable, backend errors. */
int cli_lock(const Cli *cli, Repo *repo, LockMode mode, StrataErr *err);

/* cli_unlock — release the lock now (also done at exit). */
void cli_unlock(void);

/* cli_lock_options — the options cli_lock uses, for locks a store module
 * takes itself (prune's exclusive phase). 0 or STRATA_EUSAGE. */
/* cli_held_lock — the lock cli_lock took (NULL if none), for engines that
 * check it at their point of no return. */
Lock *cli_held_lock(void);

int cli_lock_options(const Cli *cli, LockOptions *out, StrataErr *err);

#endif
