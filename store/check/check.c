/* check.c — integrity verification, see check.h; the files of the module
 * are listed in check_internal.h.
 *
 * Order of work, each phase needing the ones before it:
 *   1. config and key files;
 *   2. the list of pack files in storage (one record per pack);
 *   3. every stored index file: its packs must exist with the size it
 *      says, and each pack's trailer must decode and list the same entries
 *      (trailers are read by the worker pool);
 *   4. packs no index file lists: their trailers (a hint for chunks that
 *      are missing from the index: "pack P holds it");
 *   5. read-data: the selected packs streamed, every blob opened
 *      (archived ones only once thawed: check_thaw.c);
 *      (archived data packs: a HEAD instead, for their size and the
 *      SHA-256 recorded at upload; check_struct.c);
 *   6. every snapshot and every tree it reaches, checking each chunk
 *      reference against the index and the damage found so far, and
 *      naming the snapshots and paths that depend on damaged chunks;
 *   7. the chunks the WAL archive's descriptors name (store/wal/wal.h);
 *   8. the restore-test records (store/verified.h);
 *   9. each missing pack's problem names the snapshots that need it.
 */
#include "store/check/check_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/format.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"

/* ---- names, subsets ---- */

const char *check_problem_name(CheckProblemKind kind)
{
	switch (kind) {
	case CHECK_P_CONFIG:         return "config";
	case CHECK_P_KEYFILE:        return "key_file";
	case CHECK_P_INDEXFILE:      return "index_file";
	case CHECK_P_PACK_MISSING:   return "pack_missing";
	case CHECK_P_PACK_SIZE:      return "pack_size";
	case CHECK_P_PACK_TRAILER:   return "pack_trailer";
	case CHECK_P_PACK_MISMATCH:  return "pack_mismatch";
	case CHECK_P_PACK_HASH:      return "pack_hash";
	case CHECK_P_PACK_UNINDEXED: return "pack_unindexed";
	case CHECK_P_SNAPSHOT:       return "snapshot";
	case CHECK_P_WAL:            return "wal";
	case CHECK_P_VERIFIED:       return "verified";
	}
	return "unknown";
}

const char *check_reason_name(CheckChunkReason reason)
{
	switch (reason) {
	case CHECK_C_NOT_INDEXED:  return "not_indexed";
	case CHECK_C_PACK_MISSING: return "pack_missing";
	case CHECK_C_TRUNCATED:    return "truncated";
	case CHECK_C_MISMATCH:     return "mismatch";
	case CHECK_C_AUTH:         return "auth_failed";
	case CHECK_C_FORMAT:       return "bad_format";
	case CHECK_C_HASH:         return "hash_mismatch";
	case CHECK_C_TREE:         return "tree_unreadable";
	}
	return "unknown";
}

int check_reason_of(int codec_rc)
{
	switch (pack_read_damage(codec_rc)) {
	case PACK_READ_OK:       return 0;
	case PACK_DAMAGE_AUTH:   return CHECK_C_AUTH;
	case PACK_DAMAGE_DECODE: return CHECK_C_FORMAT;
	case PACK_DAMAGE_HASH:   return CHECK_C_HASH;
	default:                 return -1;   /* not a blob's damage: missing and short packs are reported apart */
	}
}

int check_subset_has(const uint8_t pack[STRATA_ID_LEN], uint32_t n, uint32_t t)
{
	return t == 0 || format_get_be32(pack) % t == n - 1;
}

int check_subset_parse(const char *text, CheckOptions *opts, StrataErr *err)
{
	const char *slash = strchr(text, '/');
	size_t len = strlen(text);
	char *end = NULL;

	if (slash) {
		unsigned long n, t;
		errno = 0;
		n = strtoul(text, &end, 10);
		if (errno || end != slash || end == text || slash[1] < '0' || slash[1] > '9')
			goto bad;
		t = strtoul(slash + 1, &end, 10);
		if (errno || *end || n < 1 || t < 1 || n > t || t > 1000000)
			goto bad;
		opts->subset_n = (uint32_t)n;
		opts->subset_t = (uint32_t)t;
		opts->subset_percent = 0;
		return 0;
	}
	if (len >= 2 && text[len - 1] == '%' && text[0] >= '0' && text[0] <= '9') {
		double p;
		errno = 0;
		p = strtod(text, &end);
		if (errno || end != text + len - 1 || !(p > 0) || p > 100)
			goto bad;
		opts->subset_percent = p;
		opts->subset_n = opts->subset_t = 0;
		return 0;
	}
bad:
	return strata_err_set(err, STRATA_EUSAGE,
	                      "invalid subset '%s': want N/T (1 <= N <= T, e.g. 3/7) or P%% (0 < P <= 100, e.g. 5%%)",
	                      text);
}

/* ---- the context ---- */

void check_fatal_locked(CheckCtx *c, int rc, const StrataErr *e, const char *fallback)
{
	if (c->fatal)
		return;
	c->fatal = rc;
	if (e && e->msg[0])
		c->ferr = *e;
	else
		strata_err_set(&c->ferr, rc, "%s: %s", fallback, strata_strerror(rc));
}

void check_fatal(CheckCtx *c, int rc, const StrataErr *e, const char *fallback)
{
	pthread_mutex_lock(&c->mu);
	check_fatal_locked(c, rc, e, fallback);
	pthread_mutex_unlock(&c->mu);
}

int check_is_fatal(CheckCtx *c)
{
	int f;

	pthread_mutex_lock(&c->mu);
	f = c->fatal;
	pthread_mutex_unlock(&c->mu);
	return f;
}

void check_progress_locked(CheckCtx *c)
{
	if (c->opts->progress)
		c->opts->progress(&c->prog, c->opts->progress_ctx);
}

void check_phase(CheckCtx *c, const char *name, uint64_t total)
{
	pthread_mutex_lock(&c->mu);
	c->prog.phase = name;
	c->prog.done = 0;
	c->prog.total = total;
	check_progress_locked(c);
	pthread_mutex_unlock(&c->mu);
}

void check_step_locked(CheckCtx *c)
{
	c->prog.done++;
	check_progress_locked(c);
}

int check_cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STRATA_ID_LEN);
}

/* ---- the run ---- */

int check_run(Repo *repo, const CheckOptions *opts, CheckReport **out_report, StrataErr *err)
{
	struct timespec t0, t1;
	CheckCtx *c = calloc(1, sizeof *c);
	CheckReport *r = calloc(1, sizeof *r);
	int rc, threads = opts->threads > 0 ? opts->threads : workpool_default_threads();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!c || !r) {
		free(c);
		free(r);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->mu, NULL);
	c->repo = repo;
	c->opts = opts;
	c->r = r;
	if (opts->subset_t && (opts->subset_n < 1 || opts->subset_n > opts->subset_t)) {
		rc = strata_err_set(err, STRATA_EUSAGE, "invalid subset %u/%u", opts->subset_n, opts->subset_t);
		goto out;
	}
	if ((rc = repo_list_ids(repo, "snapshots/", &c->snap_ids, &c->nsnap_ids, err)) ||
	    (rc = repo_list_ids(repo, "index/", &c->ix_ids, &c->nix_ids, err)) ||
	    (rc = check_index(repo, &c->ix, err)))
		goto out;
	c->pool = workpool_new(threads, (uint64_t)threads * 4 * CHECK_WINDOW_BYTES, check_data_worker_new,
	                       check_data_worker_free);
	if (!c->pool) {
		rc = strata_err_set(err, -ENOMEM, "cannot start %d worker threads", threads);
		goto out;
	}
	rc = check_struct_keys(c, err);
	if (rc == 0) {
		rc = check_list_packs_info(repo, check_struct_on_pack, c, err);
		if (rc == -ENOMEM)
			strata_err_set(err, rc, "out of memory");
	}
	if (rc == 0 && !c->fatal)
		rc = check_struct_indexfiles(c, err);
	if (rc == 0 && !c->fatal)
		rc = check_struct_orphans(c, err);
	if (rc == 0 && !c->fatal && opts->read_data)
		rc = check_data_run(c, err);
	if (rc == 0 && !c->fatal)
		rc = check_walk_snapshots(c, err);
	if (rc == 0 && !c->fatal)
		rc = check_walk_wal(c, err);
	if (rc == 0 && !c->fatal)
		rc = check_struct_missing(c, err);
	if (rc == 0 && !c->fatal)
		rc = check_verified(c, err);
	if (rc == 0 && c->fatal) {
		rc = c->fatal;
		if (err)
			*err = c->ferr;
	}
	if (rc)
		goto out;
	check_report_sort(r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->duration_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	*out_report = r;
	r = NULL;
out:
	workpool_free(c->pool);
	for (size_t i = 0; i < c->npacks; i++)
		free(c->packs[i].ix_entries);
	free(c->packs);
	check_idmap_free(&c->pack_of);
	check_idmap_free(&c->dmg);
	check_idmap_free(&c->orphan);
	check_idmap_free(&c->trees);
	check_idmap_free(&c->clean_files);
	free(c->snap_ids);
	free(c->ix_ids);
	pthread_mutex_destroy(&c->mu);
	free(c);
	check_report_free(r);
	return rc;
}
