/* restore_update.c — restore --delta of one file over the existing entry
 * of its name: kept when it already holds the snapshot's content, else
 * the new version is written beside it (what it holds copied, the rest
 * queued) and renamed over it once complete (restore_batch.c). The
 * comparison itself is restore_delta.c's. See restore_internal.h.
 */
#include "store/restore/restore_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/codec.h"

/* Delta restore of n over the existing entry of its name (restore.h,
 * RestoreOptions.delta). Returns 1 when that entry is no regular file
 * the restore can read (it is replaced as without delta), 0 when done
 * (kept, or queued as a temporary file), or an error. */
int restore_update_file(Ctx *c, int dirfd, const TreeNode *n, const char *path, const RestoreLink *first)
{
	RestoreDelta d;
	struct stat st;
	char tmp[32];
	char *tmpdup = NULL;
	uint64_t rnd;
	int old, fd = -1, dfd = -1, rc;

	memset(&d, 0, sizeof d);
	/* O_NONBLOCK: a FIFO planted under the name must not block the open. */
	old = openat(dirfd, n->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (old < 0)
		return 1;      /* a symlink (ELOOP), unreadable, ...: replaced */
	if (fstat(old, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(old);
		return 1;
	}
	/* One name only: a file with more may be linked from outside the
	 * target, and keeping it would change that file too (its metadata);
	 * its bytes are still reused, through a new file. */
	if (c->opts->delta == RESTORE_DELTA_FAST && st.st_nlink == 1 && (uint64_t)st.st_size == n->size &&
	    (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == n->mtime_ns) {
		d.identical = 1;
	} else {
		rc = restore_delta_scan(c->repo, old, (uint64_t)st.st_size, n, c->donors, path, &d, c->err);
		if (rc)
			goto out;
		c->res.bytes_compared += d.bytes_read;
	}
	if (d.identical && st.st_nlink == 1) {
		if (n->nlink > 1 && !first && restore_links_add(&c->links, n->dev, n->ino, n->nlink, path, old) != 0) {
			rc = strata_err_set(c->err, -ENOMEM, "out of memory");
			goto out;
		}
		c->res.errors += (uint64_t)restore_meta_file(c, old, n->uid, n->gid, n->mode, n->mtime_ns, NULL);
		c->res.files++;
		c->res.files_skipped++;
		c->res.bytes_reused += n->size;
		c->prog.files_done++;
		rc = 0;
		goto out;
	}
	rc = restore_batch_reserve(c);
	if (rc)
		goto out;
	/* The new version beside the old, under a name no snapshot entry
	 * of a strata restore uses; left behind only by a crash (--delete
	 * removes it then). */
	codec_random(&rnd, sizeof rnd);
	snprintf(tmp, sizeof tmp, ".strata-delta-%016llx", (unsigned long long)rnd);
	fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = restore_fail_errno(c, path, "cannot create the new version beside it");
		goto out;
	}
	dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	tmpdup = strdup(tmp);
	if (dfd < 0 || !tmpdup) {
		rc = dfd < 0 ? restore_fail_errno(c, path, "cannot keep its directory open")
		             : strata_err_set(c->err, -ENOMEM, "out of memory");
		unlinkat(dirfd, tmp, 0);
		close(fd);
		if (dfd >= 0)
			close(dfd);
		free(tmpdup);
		goto out;
	}
	c->res.files_updated++;
	rc = restore_batch_queue(c, fd, dfd, tmpdup, n, path, first, &d, old);
out:
	restore_delta_free(&d);
	close(old);
	return rc;
}
