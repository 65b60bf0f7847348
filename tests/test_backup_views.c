/* test_backup_views.c — BackupOptions.views (store/backup/backup.h): a
 * source path read from another directory, recorded under its own path
 * and device; a hole of the view read live and marked partial; the files
 * cache matching across runs; the combinations backup_run refuses. The
 * btrfs side (fssnap.c) runs in tests/e2e_fssnap.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/backup/backup.h"
#include "store/backup/fssnap.h"
#include "store/codec.h"
#include "store/repo.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

#define VIEW_DEV 4242

static char dir[256];

static int put(const char *rel, const char *content)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, rel);
	if (!(f = fopen(p, "w")))
		return -1;
	fputs(content, f);
	return fclose(f);
}

static void mk(const char *rel)
{
	char p[512];

	snprintf(p, sizeof p, "%s/%s", dir, rel);
	mkdir(p, 0755);
}

/* What the walk of a snapshot's tree saw. */
typedef struct Seen {
	char orig[512];               /* the recorded source path, no leading '/' */
	int a_dev_ok, b_seen, x_seen, x_live_dev, copy_seen, n_under;
} Seen;

static int walk_fn(const char *path, const TreeNode *n, void *ctx)
{
	Seen *s = ctx;
	size_t ol = strlen(s->orig);
	char rel[512];

	if (strstr(path, "copy"))
		s->copy_seen = 1;
	if (strncmp(path, s->orig, ol) != 0 || path[ol] != '/')
		return 0;
	snprintf(rel, sizeof rel, "%s", path + ol + 1);
	s->n_under++;
	if (!strcmp(rel, "a"))
		s->a_dev_ok = n->size == 7;        /* the copy's, not orig's 6 bytes */
	else if (!strcmp(rel, "sub/b"))
		s->b_seen = n->nlink == 2 && n->dev == VIEW_DEV;   /* hard links record dev */
	else if (!strcmp(rel, "mnt/x")) {
		s->x_seen = n->size == 4;
		s->x_live_dev = n->dev != VIEW_DEV;
	}
	return 0;
}

static int run(Repo *repo, const BackupView *v, size_t nv, const BackupFreeze *fz, BackupResult *res,
               StrataErr *err)
{
	char orig[512];
	const char *paths[] = { orig };
	BackupOptions o;

	snprintf(orig, sizeof orig, "%s/orig", dir);
	memset(&o, 0, sizeof o);
	o.paths = paths;
	o.npaths = 1;
	o.stdin_fd = -1;
	o.threads = 2;
	o.views = v;
	o.nviews = nv;
	o.freeze = fz;
	return backup_run(repo, &o, res, err);
}

static void test_view_recorded_under_original(void)
{
	char orig[512], copy[512], hole[512];
	const char *holes[] = { hole };
	BackupView v;
	BackupResult res;
	Snapshot snap;
	StrataErr err = {0};
	Repo *repo = NULL;
	Seen seen;
	int rc;

	snprintf(dir, sizeof dir, "/tmp/strata-test-views.XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(test_repo_create(dir, &repo) == 0);
	/* orig holds only what the copy lacks: a filesystem mounted at mnt. */
	mk("orig");
	mk("orig/mnt");
	REQUIRE(put("orig/mnt/x", "live") == 0);
	REQUIRE(put("orig/a", "not me") == 0);
	mk("copy");
	mk("copy/sub");
	mk("copy/mnt");          /* the empty mount point, as a snapshot shows it */
	REQUIRE(put("copy/a", "content") == 0);
	REQUIRE(put("copy/sub/b", "bee") == 0);
	{
		char b[512], b2[512];
		snprintf(b, sizeof b, "%s/copy/sub/b", dir);
		snprintf(b2, sizeof b2, "%s/copy/sub/b2", dir);
		REQUIRE(link(b, b2) == 0);
	}
	snprintf(orig, sizeof orig, "%s/orig", dir);
	snprintf(copy, sizeof copy, "%s/copy", dir);
	snprintf(hole, sizeof hole, "%s/orig/mnt", dir);
	memset(&v, 0, sizeof v);
	v.path = orig;
	v.read_at = copy;
	v.dev = VIEW_DEV;
	v.holes = holes;
	v.nholes = 1;

	memset(&res, 0, sizeof res);
	rc = run(repo, &v, 1, NULL, &res, &err);
	CHECK_EQ_INT(rc, STRATA_EPARTIAL);          /* the hole was read live */
	CHECK_EQ_INT(res.partial_count, 1);
	REQUIRE(res.npartial_paths == 1);
	CHECK(!strcmp(res.partial_paths[0].path, hole));
	CHECK(strstr(res.partial_paths[0].detail, "not in the filesystem snapshot") != NULL);
	CHECK_EQ_INT(res.summary.bytes_read, 7 + 3 + 3 + 4);

	memset(&snap, 0, sizeof snap);
	REQUIRE(snapshot_load(repo, res.snapshot_id, &snap, &err) == 0);
	REQUIRE(snap.npaths == 1);
	CHECK(!strcmp(snap.paths[0], orig));
	memset(&seen, 0, sizeof seen);
	snprintf(seen.orig, sizeof seen.orig, "%s", orig + 1);
	CHECK_EQ_INT(tree_walk(repo, snap.tree, walk_fn, &seen, &err), 0);
	CHECK(seen.a_dev_ok);                       /* the copy's a */
	CHECK(seen.b_seen);                         /* on the view's device */
	CHECK(seen.x_seen);                         /* the hole's file, read live */
	CHECK(seen.x_live_dev);
	CHECK(!seen.copy_seen);                     /* nothing under the copy's own path */
	CHECK_EQ_INT(seen.n_under, 6);              /* a, mnt, mnt/x, sub, sub/b, sub/b2 */
	snapshot_clear(&snap);
	backup_result_clear(&res);

	/* The files cache matches the next run: nothing is read again. */
	memset(&res, 0, sizeof res);
	rc = run(repo, &v, 1, NULL, &res, &err);
	CHECK_EQ_INT(rc, STRATA_EPARTIAL);
	CHECK_EQ_INT(res.summary.bytes_read, 0);
	CHECK_EQ_INT(res.summary.files_unchanged, 4);
	backup_result_clear(&res);

	/* A view's device that changes (a copy mounted anew without a
	 * stable one) is another file to the cache: read again. */
	v.dev = VIEW_DEV + 1;
	memset(&res, 0, sizeof res);
	rc = run(repo, &v, 1, NULL, &res, &err);
	CHECK_EQ_INT(res.summary.bytes_read, 7 + 3 + 3);
	backup_result_clear(&res);
	repo_close(repo);
	rm_rf(dir);
}

/* The size of orig/sub/b, seen by a walk. */
static int b_size_fn(const char *path, const TreeNode *n, void *ctx)
{
	size_t pl = strlen(path);

	if (pl >= 10 && !strcmp(path + pl - 10, "orig/sub/b"))
		*(long long *)ctx = (long long)n->size;
	return 0;
}

static void test_innermost_view(void)
{
	char orig[512], copy[512], sub[512], copy2[512];
	BackupView v[2];
	BackupResult res;
	Snapshot snap;
	StrataErr err = {0};
	Repo *repo = NULL;
	long long bsize = -1;

	snprintf(dir, sizeof dir, "/tmp/strata-test-views.XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(test_repo_create(dir, &repo) == 0);
	mk("orig");
	mk("copy");
	mk("copy/sub");
	REQUIRE(put("copy/sub/b", "outer") == 0);
	mk("copy2");
	REQUIRE(put("copy2/b", "the inner one") == 0);
	snprintf(orig, sizeof orig, "%s/orig", dir);
	snprintf(copy, sizeof copy, "%s/copy", dir);
	snprintf(sub, sizeof sub, "%s/orig/sub", dir);
	snprintf(copy2, sizeof copy2, "%s/copy2", dir);
	memset(v, 0, sizeof v);
	v[0].path = orig;
	v[0].read_at = copy;
	v[1].path = sub;          /* nested below v[0]: wins for its paths */
	v[1].read_at = copy2;
	memset(&res, 0, sizeof res);
	CHECK_EQ_INT(run(repo, v, 2, NULL, &res, &err), 0);
	memset(&snap, 0, sizeof snap);
	REQUIRE(snapshot_load(repo, res.snapshot_id, &snap, &err) == 0);
	CHECK_EQ_INT(tree_walk(repo, snap.tree, b_size_fn, &bsize, &err), 0);
	CHECK_EQ_INT(bsize, 13);
	snapshot_clear(&snap);
	backup_result_clear(&res);
	repo_close(repo);
	rm_rf(dir);
}

static int no_stop(void *ctx, StrataErr *err)
{
	(void)ctx; (void)err;
	return 0;
}

static int no_resume(void *ctx)
{
	(void)ctx;
	return 0;
}

static void test_view_refused_with_freeze(void)
{
	BackupView v;
	BackupFreeze fz = { no_stop, no_resume, NULL, 1000000000 };
	BackupResult res;
	StrataErr err = {0};
	Repo *repo = NULL;

	snprintf(dir, sizeof dir, "/tmp/strata-test-views.XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(test_repo_create(dir, &repo) == 0);
	mk("orig");
	memset(&v, 0, sizeof v);
	v.path = "/nowhere";
	v.read_at = "/nowhere";
	memset(&res, 0, sizeof res);
	CHECK_EQ_INT(run(repo, &v, 1, &fz, &res, &err), STRATA_EUSAGE);
	CHECK(strstr(err.msg, "no --freeze-pid") != NULL);
	repo_close(repo);
	rm_rf(dir);
}

static void test_fssnap_names(void)
{
	long pid = 0;
	unsigned long long start = 0;
	FsSnapMode m;

	CHECK(fssnap_name_parse(".strata-snap-123-456789", &pid, &start) == 1);
	CHECK_EQ_INT(pid, 123);
	CHECK_EQ_INT(start, 456789);
	CHECK(fssnap_name_parse(".strata-snap-123", &pid, &start) == 0);
	CHECK(fssnap_name_parse(".strata-snap-0-5", &pid, &start) == 0);
	CHECK(fssnap_name_parse(".strata-snap-12-5x", &pid, &start) == 0);
	CHECK(fssnap_name_parse("strata-snap-12-5", &pid, &start) == 0);
	CHECK(fssnap_name_parse(".strata-snap--1-5", &pid, &start) == 0);
	CHECK(fssnap_parse_mode("btrfs", &m) == 0 && m == FSSNAP_BTRFS);
	CHECK(fssnap_parse_mode("auto", &m) == 0 && m == FSSNAP_AUTO);
	CHECK(fssnap_parse_mode("none", &m) == 0 && m == FSSNAP_NONE);
	CHECK_EQ_INT(fssnap_parse_mode("zfs", &m), -EINVAL);
}

int main(void)
{
	codec_init();
	RUN(test_view_recorded_under_original);
	RUN(test_innermost_view);
	RUN(test_view_refused_with_freeze);
	RUN(test_fssnap_names);
	return CHECK_EXIT();
}
