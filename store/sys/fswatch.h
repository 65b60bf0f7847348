/* fswatch.h — the watcher behind `strata watch`: fanotify filesystem
 * marks on the roots' filesystems, every change below the roots appended
 * to a change journal (store/backup/journal.h).
 *
 * Owns: the fanotify group (FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME,
 * Linux 5.9+; FAN_MARK_FILESYSTEM on each root's filesystem), turning
 * each event's directory file handle (open_by_handle_at) and name into a
 * path, and the sync answer: on SIGUSR1 every event the kernel queued
 * until then is read (fanotify queues events synchronously, inside the
 * system call that made the change) and in the log before the answer.
 * An overflowed queue (FAN_Q_OVERFLOW), a handle that cannot be resolved
 * for another reason than the object being gone, or a path that the log
 * cannot hold is logged as "O", which makes the next backup scan.
 *
 * Privileges: CAP_SYS_ADMIN (filesystem marks) and CAP_DAC_READ_SEARCH
 * (open_by_handle_at): root. Without them fswatch_run fails with -EPERM;
 * backups then scan (there is no journal).
 * Never: reads file contents. Thread safety: one thread; owns the
 * process's SIGUSR1, SIGTERM, SIGINT and SIGHUP while it runs.
 */
#ifndef STRATA_STORE_FSWATCH_H
#define STRATA_STORE_FSWATCH_H

#include <stddef.h>

#include "store/error.h"

/* fswatch_run — watch roots (absolute, clean, existing directories),
 * appending to the journal in journal_dir (journal.h: a new run), leaving
 * out everything at or below skip (the cache: its writes would feed back;
 * NULL: none), until SIGTERM, SIGINT or SIGHUP (0). ready (may be NULL) is
 * called once the marks are in place. Errors: -EPERM without the
 * privileges, -EINVAL/-ENOSYS on a kernel without FAN_REPORT_DFID_NAME or
 * filesystem marks, -errno naming the root or the journal. */
int fswatch_run(const char *const *roots, size_t nroots, const char *journal_dir, const char *skip,
                void (*ready)(const char *run, void *ctx), void *ctx, StrataErr *err);

#endif
