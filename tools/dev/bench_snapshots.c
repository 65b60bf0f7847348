/* bench_snapshots.c — snapshot-scale benchmark: make N snapshots of a
 * tree through the real backup path (one process, so key derivation is
 * paid once), then time what every-block users do all day, each from a
 * fresh open as a new process would: list the newest 10 snapshots, find a
 * backup's parent, pick the snapshot `restore --at` wants, list them all.
 * The open (Argon2id key derivation) is reported apart: the targets are
 * about the catalogue, and the key derivation is deliberately slow.
 *
 * Usage: bench_snapshots REPO TREE N   (password from STRATA_PASSWORD)
 * Prints the repository bytes each snapshot added and the timings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/backup/backup.h"
#include "store/repo.h"
#include "store/snapcat.h"
#include "store/snapselect.h"
#include "store/snapshot.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process: on a machine shared with other jobs the
 * wall time of a single-threaded query stretches, its CPU time does not. */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct Timing {
	double wall_s, cpu_s;
} Timing;

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

enum { Q_LATEST, Q_PARENT, Q_AT, Q_AT_MID, Q_ALL, NQ };

static const char *const Q_NAMES[NQ] = {
	"latest 10:", "find parent:", "--at 10 back:", "--at mid-history:", "list all:",
};

static int take_time(const Snapshot *snap, void *ctx)
{
	*(int64_t *)ctx = snap->time_ns;
	return 1;
}

/* One query from a fresh open, timed without the open. */
static int fresh_query(const char *loc, int q, const SnapshotFilter *f, const SnapSelect at[2], Timing *out)
{
	StrataErr err = {0};
	Snapshot *snaps = NULL, one;
	Repo *repo = NULL;
	size_t n = 0;
	double t_open, t0, c0;
	int rc;

	if (open_repo(loc, &repo, &t_open))
		return 1;
	t0 = now_s();
	c0 = cpu_s();
	switch (q) {
	case Q_LATEST: rc = snapshot_latest(repo, NULL, 10, &snaps, &n, &err); break;
	case Q_PARENT: rc = snapshot_latest(repo, f, 1, &snaps, &n, &err); break;
	case Q_AT:
	case Q_AT_MID:
		rc = snapselect_find(repo, &at[q - Q_AT], &one, &err);
		if (rc == 0)
			snapshot_clear(&one);
		break;
	default:       rc = snapshot_list(repo, &snaps, &n, &err); break;
	}
	out->wall_s = now_s() - t0;
	out->cpu_s = cpu_s() - c0;
	if (rc)
		fprintf(stderr, "bench_snapshots: query %d: %s\n", q, err.msg);
	snapshot_list_free(snaps, n);
	repo_close(repo);
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
	SnapSelect at[2];
	int64_t oldest_ns = 0;
	double t0, c0, t_open, c_open, t_sync, c_sync, t_walk;
	Timing q[NQ];
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
	repo = NULL;
	rc = 0;

	/* What a fresh command pays, each query in its own Repo as in its own
	 * process: the key derivation, then the query with its catalogue sync. */
	c0 = cpu_s();
	if (open_repo(argv[1], &repo, &t_open))
		return 1;
	c_open = cpu_s() - c0;
	t0 = now_s();
	c0 = cpu_s();
	rc = snapcat_sync(repo, &err);
	t_sync = now_s() - t0;
	c_sync = cpu_s() - c0;
	t0 = now_s();
	if (rc == 0)
		rc = snapshot_latest(repo, NULL, 10, &snaps, &n, &err);
	t_walk = now_s() - t0;
	if (rc || n == 0) {
		fprintf(stderr, "bench_snapshots: %s\n", rc ? err.msg : "no snapshots");
		return 1;
	}
	/* The parent query a backup of the newest snapshot's host and paths
	 * makes, and what `restore --at` picks at the time of the tenth newest
	 * and in the middle of the history (which skips half the catalogue). */
	f.host = snaps[0].host;
	f.paths = (const char *const *)snaps[0].paths;
	f.npaths = snaps[0].npaths;
	memset(at, 0, sizeof at);
	rc = snapcat_foreach(repo, 0, take_time, &oldest_ns, &err);
	if (rc == 1)
		rc = 0;
	at[0].by = at[1].by = SNAPSELECT_AT_TIME;
	at[0].time_ns = snaps[n - 1].time_ns;
	at[1].time_ns = oldest_ns + (snaps[0].time_ns - oldest_ns) / 2;
	repo_close(repo);
	repo = NULL;

	for (int i = 0; i < NQ && rc == 0; i++)
		rc = fresh_query(argv[1], i, &f, at, &q[i]);
	printf("open (Argon2id key derivation, config, key file): %.3f s wall, %.3f s CPU\n", t_open, c_open);
	printf("catalogue sync (listing snapshots/, fingerprint): %.3f s wall, %.3f s CPU\n", t_sync, c_sync);
	printf("latest 10 after the sync: %.4f s\n", t_walk);
	printf("from a fresh open: wall / CPU without the open; wall with it\n");
	for (int i = 0; i < NQ && rc == 0; i++)
		printf("  %-18s %.3f s / %.3f s; %.3f s\n", Q_NAMES[i], q[i].wall_s, q[i].cpu_s, q[i].wall_s + t_open);
	snapshot_list_free(snaps, n);
	return rc ? 1 : 0;
}
