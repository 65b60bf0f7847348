/* backup_commit.c — the end of every backup: durable data, then the
 * snapshot. See backup_internal.h. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/backup/backup_internal.h"
#include "store/snapshot.h"

static char *dup_or_default(const char *s, const char *dflt)
{
	return strdup(s && *s ? s : dflt);
}

static int fill_strv(char ***out, size_t *out_n, const char *const *in, size_t n)
{
	*out = calloc(n ? n : 1, sizeof **out);
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*out)[i] = strdup(in[i]);
		if (!(*out)[i])
			return -ENOMEM;
		*out_n = i + 1;
	}
	return 0;
}

int backup_parent_find(Repo *repo, const BackupOptions *opts, const char *host, const char *const *paths,
                       size_t npaths, int *out_has, uint8_t *out_id, StrataErr *err)
{
	SnapshotFilter f = {0};
	Snapshot *found = NULL, one;
	size_t n = 0;
	int rc;

	*out_has = 0;
	if (opts->parent) {
		rc = snapshot_resolve(repo, opts->parent, opts->include_partial, &one, err);
		if (rc)
			return strata_err_prefix(err, "--parent");
		memcpy(out_id, one.id, STRATA_ID_LEN);
		*out_has = 1;
		snapshot_clear(&one);
		return 0;
	}
	f.host = host;
	f.paths = paths;
	f.npaths = npaths;
	f.include_partial = opts->include_partial;
	rc = snapshot_latest(repo, &f, 1, &found, &n, err);
	if (rc)
		return rc;
	if (n == 1) {
		memcpy(out_id, found[0].id, STRATA_ID_LEN);
		*out_has = 1;
	}
	snapshot_list_free(found, n);
	return 0;
}

void backup_host(const BackupOptions *opts, char out[256])
{
	if (opts->host && *opts->host) {
		snprintf(out, 256, "%s", opts->host);
		return;
	}
	if (gethostname(out, 256) != 0)
		strcpy(out, "unknown");
	out[255] = '\0';
}

/* The parent: --parent, else the newest snapshot of the same host and
 * paths. Recorded in the snapshot (the files cache does the skipping). */
static int find_parent(Repo *repo, const BackupOptions *opts, Snapshot *snap, StrataErr *err)
{
	return backup_parent_find(repo, opts, snap->host, (const char *const *)snap->paths, snap->npaths,
	                          &snap->has_parent, snap->parent, err);
}

char *backup_user_name(uint32_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &res) != 0 || !res)
		return NULL;
	return strdup(res->pw_name);
}

char *backup_group_name(uint32_t gid)
{
	struct group gr, *res = NULL;
	char *buf = malloc(65536);    /* a group line lists its members */
	char *name = NULL;

	if (buf && getgrgid_r((gid_t)gid, &gr, buf, 65536, &res) == 0 && res)
		name = strdup(res->gr_name);
	free(buf);
	return name;
}

int backup_commit(Repo *repo, const BackupOptions *opts, BlobWriter *bw,
                  const char *const *paths, size_t npaths, int64_t time_ns,
                  const struct timespec *t0, SnapshotSummary *sum, Snapshot *snap,
                  StrataErr *err)
{
	BlobWriterStats st;
	struct timespec t1;
	struct passwd *pw;
	char host[256];
	int rc;

	rc = blobwriter_finish(bw, err);
	if (rc)
		return rc;
	blobwriter_stats(bw, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	sum->bytes_added = st.bytes_new;
	sum->bytes_stored = st.bytes_stored + st.tree_bytes_stored;
	sum->tree_bytes_added = st.tree_bytes_stored;
	sum->chunks_new = st.chunks_new;
	sum->duration_s = (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;

	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "unknown");
	host[sizeof host - 1] = '\0';
	pw = getpwuid(getuid());
	snap->time_ns = time_ns;
	snap->host = dup_or_default(opts->host, host);
	snap->user = dup_or_default(pw ? pw->pw_name : NULL, "unknown");
	rc = snap->host && snap->user ? 0 : -ENOMEM;
	if (rc == 0)
		rc = fill_strv(&snap->paths, &snap->npaths, paths, npaths);
	if (rc == 0)
		rc = fill_strv(&snap->tags, &snap->ntags, opts->tags, opts->ntags);
	if (rc == 0)
		rc = fill_strv(&snap->labels, &snap->nlabels, opts->labels, opts->nlabels);
	if (rc)
		return strata_err_set(err, rc, "out of memory");
	snap->summary = *sum;
	rc = find_parent(repo, opts, snap, err);
	if (rc)
		return rc;
	/* The point of no return: a backup whose lock went stale (stopped or
	 * suspended past the timeout; another process may have pruned
	 * meanwhile) must not write a snapshot that names what it stored,
	 * even if its refresher thread has not noticed yet. */
	if (opts->lock && (rc = lock_check(opts->lock, err)) != 0) {
		char why[sizeof err->msg];

		snprintf(why, sizeof why, "%s", err->msg);
		return strata_err_set(err, rc, "%s; stopping at once (no snapshot written; the repository stays valid)",
		                      why);
	}
	return snapshot_save(repo, snap, err);
}

void backup_partial_note(Snapshot *snap, const char *path, const char *reason, const char *detail)
{
	SnapshotPartialPath *p;

	snap->partial = 1;
	snap->partial_count++;
	if (snap->npartial_paths >= SNAPSHOT_PARTIAL_PATHS_MAX)
		return;
	if (snap->npartial_paths == 0 && !snap->partial_paths) {
		/* Room for the whole list at once: at most 24 KB. */
		snap->partial_paths = calloc(SNAPSHOT_PARTIAL_PATHS_MAX, sizeof *snap->partial_paths);
		if (!snap->partial_paths)
			return;
	}
	if (!snap->partial_paths)
		return;
	p = &snap->partial_paths[snap->npartial_paths];
	p->path = strdup(path);
	p->reason = strdup(reason);
	p->detail = strdup(detail ? detail : "");
	if (!p->path || !p->reason || !p->detail) {
		free(p->path);
		free(p->reason);
		free(p->detail);
		memset(p, 0, sizeof *p);
		return;
	}
	snap->npartial_paths++;
}

void backup_result_fill(BackupResult *r, Snapshot *snap, const SnapshotSummary *sum)
{
	if (!r)
		return;
	memset(r, 0, sizeof *r);
	memcpy(r->snapshot_id, snap->id, STRATA_ID_LEN);
	r->summary = *sum;
	r->partial = snap->partial;
	r->partial_count = snap->partial_count;
	r->partial_paths = snap->partial_paths;
	r->npartial_paths = snap->npartial_paths;
	snap->partial_paths = NULL;
	snap->npartial_paths = 0;
}

void backup_result_clear(BackupResult *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->npartial_paths; i++) {
		free(r->partial_paths[i].path);
		free(r->partial_paths[i].reason);
		free(r->partial_paths[i].detail);
	}
	free(r->partial_paths);
	for (size_t i = 0; i < r->nlink_paths; i++)
		free(r->link_paths[i]);
	free(r->link_paths);
	free(r->link_inodes);
	memset(r, 0, sizeof *r);
}

int backup_partial_err(const Snapshot *snap, const char *one, const char *many, StrataErr *err)
{
	char hex[STRATA_ID_HEX_LEN + 1];

	strata_id_hex(snap->id, hex);
	return strata_err_set(err, STRATA_EPARTIAL, "snapshot %.8s saved as partial: %llu %s; latest, --at, "
	                      "--label, the next backup's parent and forget's keep counts skip it "
	                      "(--include-partial uses it)", hex, (unsigned long long)snap->partial_count,
	                      snap->partial_count == 1 ? one : many);
}
