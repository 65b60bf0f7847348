/* bench_snapshots.c — snapshot-scale benchmark: make N snapshots of a
 * tree through the real backup path (one process, so key derivation is
 * paid once), then time what every-block users do all day: list the
 * newest 10 snapshots and find a backup's parent, from a fresh open.
 *
 * Usage: bench_snapshots REPO TREE N   (password from STRATA_PASSWORD)
 * Prints the repository bytes each snapshot added and the timings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/backup.h"
#include "store/repo.h"
#include "store/snapshot.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_repo(const char *loc, Repo **out, double *kdf_s)
{
	const char *pw = getenv("STRATA_PASSWORD");
	StrataErr err = {0};
	double t0 = now_s();
	int rc = repo_open(loc, pw, strlen(pw), NULL, out, &err);

	if (rc)
		fprintf(stderr, "bench_snapshots: %s\n", err.msg);
	*kdf_s = now_s() - t0;
	return rc;
}

int main(int argc, char **argv)
{
	const char *paths[1];
	BackupOptions o;
	BackupResult res;
	StrataErr err = {0};
	RepoStats st0, st1;
	Snapshot *snaps = NULL;
	SnapshotFilter f = {0};
	Repo *repo = NULL;
	size_t n = 0;
	long count;
	double t0, t_open, t_list, t_parent;
	int rc;

	if (argc != 4 || !getenv("STRATA_PASSWORD")) {
		fprintf(stderr, "usage: STRATA_PASSWORD=... bench_snapshots REPO TREE N (N=0: only time the queries)\n");
		return 2;
	}
	count = strtol(argv[3], NULL, 10);
	if (count == 0)
		goto query;
	paths[0] = argv[2];
	if (open_repo(argv[1], &repo, &t_open))
		return 1;
	memset(&o, 0, sizeof o);
	o.paths = paths;
	o.npaths = 1;
	o.stdin_fd = -1;
	o.threads = 1;
	/* The first backup stores the data; the rest only new snapshots. */
	if (backup_run(repo, &o, &res, &err) != 0 || repo_stats(repo, &st0, &err) != 0) {
		fprintf(stderr, "bench_snapshots: %s\n", err.msg);
		return 1;
	}
	t0 = now_s();
	for (long i = 1; i < count; i++) {
		rc = backup_run(repo, &o, &res, &err);
		if (rc) {
			fprintf(stderr, "bench_snapshots: backup %ld: %s\n", i, err.msg);
			return 1;
		}
		if (i % 1000 == 0) {
			fprintf(stderr, "\r%ld snapshots (%.1f/s)", i, (double)i / (now_s() - t0));
			fflush(stderr);
		}
	}
	fprintf(stderr, "\n");
	if (repo_stats(repo, &st1, &err) != 0) {
		fprintf(stderr, "bench_snapshots: %s\n", err.msg);
		return 1;
	}
	printf("snapshots: %llu\n", (unsigned long long)st1.snapshots);
	printf("bytes per extra snapshot: %.0f (snapshot file %.0f, trees %.0f)\n",
	       (double)((st1.stored_bytes + st1.snapshot_file_bytes) - (st0.stored_bytes + st0.snapshot_file_bytes)) /
	       (double)(count - 1),
	       (double)(st1.snapshot_file_bytes - st0.snapshot_file_bytes) / (double)(count - 1),
	       (double)(st1.tree_bytes - st0.tree_bytes) / (double)(count - 1));
query:
	repo_close(repo);

	/* What a fresh command pays. */
	if (open_repo(argv[1], &repo, &t_open))
		return 1;
	t0 = now_s();
	rc = snapshot_latest(repo, NULL, 10, &snaps, &n, &err);
	t_list = now_s() - t0;
	if (rc || n == 0) {
		fprintf(stderr, "bench_snapshots: %s\n", err.msg);
		return 1;
	}
	{
		/* The parent query a backup of the newest snapshot's host and
		 * paths makes. */
		Snapshot *parent = NULL;
		size_t np = 0;
		f.host = snaps[0].host;
		f.paths = (const char *const *)snaps[0].paths;
		f.npaths = snaps[0].npaths;
		t0 = now_s();
		rc = snapshot_latest(repo, &f, 1, &parent, &np, &err);
		t_parent = now_s() - t0;
		snapshot_list_free(parent, np);
		snapshot_list_free(snaps, n);
	}
	printf("open (Argon2id key derivation): %.3f s\n", t_open);
	printf("latest 10 (incl. catalogue sync): %.3f s\n", t_list);
	printf("find parent: %.4f s\n", t_parent);
	repo_close(repo);
	return rc ? 1 : 0;
}
