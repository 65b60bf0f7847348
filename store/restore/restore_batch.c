/* restore_batch.c — the batch of a restore: files created by the walk and
 * kept open, their chunks queued in the plan; a full batch is planned,
 * fetched (restore_fetch.c), and its files finished (metadata, a delta
 * file renamed over the old one) and closed. See restore_internal.h.
 */
#include "store/restore/restore_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"

/* A batch closes at this many chunk references (48 + ~100 bytes each:
 * ~19 MiB of plan for ~4 GiB of content at 32 KiB chunks). At 512 Ki the
 * plan of a 10 GiB restore took 84 MiB and its peak RSS passed restic's;
 * at 128 Ki it peaked at 106 MiB in the same time (64 Ki saved 2 MiB
 * more for 25 % more page faults). */
#define BATCH_REFS_MAX   (128u * 1024)

static const char *base_name(const char *path)
{
	const char *sl = strrchr(path, '/');

	return sl ? sl + 1 : path;
}

/* After its content: a fresh file's size (a hole may end it), then the
 * metadata; *out_errors the errors to count. Safe on a pool worker (err
 * its own). */
static int finish_meta(const Ctx *c, PendFile *f, int *out_errors, StrataErr *err)
{
	struct stat st;

	if (f->fresh && (fstat(f->fd, &st) != 0 ||
	                 ((uint64_t)st.st_size < f->size && ftruncate(f->fd, (off_t)f->size) != 0)))
		return strata_err_set(err, -errno, "%s: cannot size file: %s", f->path, strerror(errno));
	*out_errors = restore_meta_file(c, f->fd, f->uid, f->gid, f->mode, f->mtime_ns, f->fresh ? &st : NULL);
	return 0;
}

/* After its content: the metadata; a delta file is then made durable and
 * renamed over the old one (FORMAT.md §15: either old or new). */
static int finish_file(Ctx *c, PendFile *f)
{
	struct timespec ts[2];
	struct stat dst;
	int errors = 0, rc;

	rc = finish_meta(c, f, &errors, c->err);
	c->res.errors += (uint64_t)errors;
	if (rc || !f->tmp)
		return rc;
	if (fsync(f->fd) != 0)
		return strata_err_set(c->err, -errno, "%s: fsync of the new version failed: %s", f->path,
		                      strerror(errno));
	/* The rename changes the directory's times, which the walk may have
	 * set already: they are put back as they were. */
	if (fstat(f->dirfd, &dst) != 0)
		return strata_err_set(c->err, -errno, "%s: cannot inspect its directory: %s", f->path, strerror(errno));
	if (renameat(f->dirfd, f->tmp, f->dirfd, base_name(f->path)) != 0)
		return strata_err_set(c->err, -errno, "%s: cannot put the new version in place: %s", f->path,
		                      strerror(errno));
	ts[0] = dst.st_atim;
	ts[1] = dst.st_mtim;
	futimens(f->dirfd, ts);
	free(f->tmp);
	f->tmp = NULL;
	return 0;
}

/* Files a finishing job applies metadata to and closes: enough to keep
 * the job's overhead (a queue entry, a wake-up) below 1 % of its work at
 * about 20 us of system calls a file. */
#define FINISH_FILES 256

typedef struct FinishJob {
	Ctx *c;
	PendFile *f;
	size_t n;
} FinishJob;

/* The metadata of files without a delta temporary, applied and the files
 * closed, on a pool worker: the walk's thread did it all before, one
 * file after another (six system calls each for small files). */
static void finish_job(void *arg, void *state)
{
	FinishJob *j = arg;
	uint64_t errors = 0;

	(void)state;
	for (size_t i = 0; i < j->n; i++) {
		PendFile *f = &j->f[i];
		StrataErr err = {0};
		int e = 0, rc;
		if (f->tmp)
			continue;
		if ((rc = finish_meta(j->c, f, &e, &err)) != 0) {
			restore_fetch_set_fatal(j->c, rc, &err);
			break;
		}
		errors += (uint64_t)e;
		close(f->fd);
		f->fd = -1;
	}
	if (errors) {
		pthread_mutex_lock(&j->c->mu);
		j->c->res.errors += errors;
		pthread_mutex_unlock(&j->c->mu);
	}
}

/* finish_file for files [0, n) of the batch: those without a temporary on
 * the pool, the rest (a delta file's rename) here after them. Metadata
 * only ever follows the content: the fetch has finished. */
static int finish_files(Ctx *c, size_t n)
{
	size_t njobs = (n + FINISH_FILES - 1) / FINISH_FILES;
	FinishJob *jobs = njobs > 1 ? calloc(njobs, sizeof *jobs) : NULL;
	int rc = 0;

	if (jobs) {
		for (size_t k = 0; k < njobs; k++) {
			jobs[k].c = c;
			jobs[k].f = c->files + k * FINISH_FILES;
			jobs[k].n = k + 1 < njobs ? FINISH_FILES : n - k * FINISH_FILES;
			if (workpool_submit(c->pool, finish_job, &jobs[k], 1) != 0)
				finish_job(&jobs[k], NULL);
		}
		rc = restore_fetch_wait(c);
		free(jobs);
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		if (c->files[i].fd >= 0)
			rc = finish_file(c, &c->files[i]);
	return rc;
}

/* Close the batch's files from from on; a delta file not renamed yet (the
 * restore stopped) leaves no temporary behind. */
void restore_batch_close(Ctx *c, size_t from)
{
	for (size_t i = from; i < c->nfiles; i++) {
		PendFile *f = &c->files[i];
		if (f->fd >= 0)
			close(f->fd);
		if (f->tmp)
			unlinkat(f->dirfd, f->tmp, 0);
		if (f->dirfd >= 0) {
			close(f->dirfd);
			c->ndirfds--;
		}
		free(f->tmp);
		free(f->path);
	}
	c->nfiles = from;
}

/* flush — restore the batch: plan, fetch and write every range, then
 * apply the metadata of the complete files and close them. A file still
 * being queued (the last one) stays open as file 0 of the next batch. */
int restore_batch_flush(Ctx *c)
{
	RestorePlanRef bad;
	uint8_t bad_id[STRATA_ID_LEN];
	char idhex[STRATA_ID_HEX_LEN + 1];
	size_t n, keep;
	int rc;

	if (c->nfiles == 0)
		return 0;
	rc = restore_plan_build(c->plan, c->ix, &bad, bad_id);
	if (rc == STRATA_EDAMAGED) {
		IndexEntry other;
		codec_hex(bad_id, STRATA_ID_LEN, idhex);
		if (index_lookup_any(c->ix, bad_id, &other) == 0 && other.type != BLOB_DATA)
			return strata_err_set(c->err, rc, "%s: data chunk %.16s (at byte %llu) is stored only as a %s blob "
			                      "with the same ID (written by strata before 2026-12-07): "
			                      "`strata repair snapshots` stores it as data",
			                      c->files[bad.file].path, idhex, (unsigned long long)bad.file_off,
			                      codec_blob_type_name(other.type));
		return strata_err_set(c->err, rc, "%s: chunk %.16s (at byte %llu) is missing from the repository "
		                      "or the index disagrees with the tree",
		                      c->files[bad.file].path, idhex, (unsigned long long)bad.file_off);
	}
	if (rc)
		return strata_err_set(c->err, rc, "out of memory planning the restore");
	n = restore_plan_nranges(c->plan);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = restore_fetch_submit(c, i);
	if (rc == 0)
		rc = restore_fetch_wait(c);
	if (rc == 0 && c->ncold)
		rc = restore_cold_handle(c);
	if (rc)
		return rc;
	keep = c->files[c->nfiles - 1].complete ? 0 : 1;
	rc = finish_files(c, c->nfiles - keep);
	if (rc)
		return rc;
	if (keep) {
		PendFile last = c->files[c->nfiles - 1];
		c->nfiles--;
		restore_batch_close(c, 0);
		c->files[0] = last;
		c->nfiles = 1;
	} else {
		restore_batch_close(c, 0);
	}
	restore_plan_reset(c->plan);
	return 0;
}

/* Room for one more open file in the batch (flushing it when full). */
int restore_batch_reserve(Ctx *c)
{
	int rc;

	if (c->nfiles + c->ndirfds + c->nahead >= c->files_max && (rc = restore_batch_flush(c)) != 0)
		return rc;
	if (c->nfiles == c->files_cap) {
		size_t cap = c->files_cap ? 2 * c->files_cap : 256;
		void *q = realloc(c->files, cap * sizeof *c->files);
		if (!q)
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		c->files = q;
		c->files_cap = cap;
	}
	return 0;
}

/* Add the file just created, open as fd, to the batch and queue its
 * chunks (those delta lacks, with delta); takes fd, dirfd and tmp (a
 * delta file: written as tmp in dirfd) whatever happens. */
int restore_batch_queue(Ctx *c, int fd, int dirfd, char *tmp, const TreeNode *n, const char *path,
                      const RestoreLink *first, const RestoreDelta *delta, int old_fd)
{
	PendFile *f;
	uint64_t off = 0;
	int rc;

	/* A file made here without a delta is sized after its content if a
	 * hole ends it (finish_job): one fstat instead of a ftruncate. */
	if (n->size && (delta || tmp) && ftruncate(fd, (off_t)n->size) != 0) {
		rc = restore_fail_errno(c, path, "cannot size file");
		goto fail;
	}
	if (n->nlink > 1 && !first && restore_links_add(&c->links, n->dev, n->ino, n->nlink, path, fd) != 0) {
		rc = strata_err_set(c->err, -ENOMEM, "out of memory");
		goto fail;
	}
	f = &c->files[c->nfiles];
	memset(f, 0, sizeof *f);
	f->fd = fd;
	f->dirfd = dirfd;
	f->tmp = tmp;
	f->mode = n->mode;
	f->uid = n->uid;
	f->gid = n->gid;
	f->mtime_ns = n->mtime_ns;
	f->size = n->size;
	f->fresh = !delta && !tmp;
	f->path = strdup(path);
	c->nfiles++;
	if (dirfd >= 0)
		c->ndirfds++;
	if (!f->path)
		return strata_err_set(c->err, -ENOMEM, "out of memory");
	if (delta) {
		uint64_t copied;
		rc = restore_delta_copy(old_fd, c->donors, fd, n, delta, path, &copied, c->err);
		if (rc)
			return rc;
		c->res.bytes_reused += copied;
	}
	for (size_t i = 0; i < n->nchunks; i++) {
		if (delta && delta->old_off[i] != RESTORE_DELTA_NONE) {
			off += n->chunk_lens[i];
			continue;
		}
		if (restore_plan_add(c->plan, n->chunks[i], n->chunk_lens[i], (uint32_t)(c->nfiles - 1), off))
			return strata_err_set(c->err, -ENOMEM, "out of memory");
		off += n->chunk_lens[i];
		/* A huge file may span batches: it stays open until its
		 * last chunk is queued and written. */
		if (restore_plan_nrefs(c->plan) >= BATCH_REFS_MAX && i + 1 < n->nchunks &&
		    (rc = restore_batch_flush(c)) != 0)
			return rc;
	}
	c->files[c->nfiles - 1].complete = 1;
	c->res.files++;
	c->prog.files_done++;
	if (restore_plan_nrefs(c->plan) >= BATCH_REFS_MAX)
		return restore_batch_flush(c);
	return 0;
fail:
	close(fd);
	if (tmp)
		unlinkat(dirfd, tmp, 0);
	free(tmp);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}
