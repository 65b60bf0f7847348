/* test_restore_safety.c — a hostile snapshot cannot make restore_run write
 * outside its target (FORMAT.md §11 "Tree object", §14 "Security";
 * store/restore/restore.h "Safety").
 *
 * The snapshots here are forged with the repository key through the real
 * writer path: tree objects are encoded by hand (tree_encode refuses bad
 * names, a hostile writer does not), stored with blobwriter_put(BLOB_TREE)
 * under their chunk ID, made durable with blobwriter_finish and referenced
 * by snapshot_save. For every case restore_run into a fresh target must
 * fail (or skip the entry) without crashing, and nothing may appear or
 * change outside the target: the case directory and the scratch directory
 * are listed before and after, canary paths are checked, and an "outside"
 * directory under /tmp (what hostile symlinks point at) must keep exactly
 * its one victim file with its original bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/codec.h"
#include "store/repo.h"
#include "store/repo_internal.h"
#include "store/restore/restore.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "tests/check.h"

static const char PW[] = "pw";

static char tmp[256], work[300], repo_dir[300], cache_dir[300], outside[256];
static Repo *repo;

/* ---- a hand encoder for tree objects (FORMAT.md §11) ---- */

typedef struct Enc { uint8_t b[8192]; size_t n; } Enc;

static void e_u8(Enc *e, uint8_t v) { e->b[e->n++] = v; }

static void e_bytes(Enc *e, const void *p, size_t n)
{
	memcpy(e->b + e->n, p, n);
	e->n += n;
}

static void e_uv(Enc *e, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		e_u8(e, (uint8_t)(c | (v ? 0x80 : 0)));
	} while (v);
}

/* TREE_OBJECT inline form: 0x00 || VERSION 1 || COUNT. */
static void e_start(Enc *e, uint64_t count)
{
	e->n = 0;
	e_u8(e, 0x00);
	e_u8(e, 1);
	e_uv(e, count);
}

/* A node header owned by uid:gid; with link != 0, FLAGS bit 0 and DEV 1 /
 * INO link / NLINK 2. */
static void e_head_as(Enc *e, const char *name, size_t name_len, uint8_t type, uint32_t mode,
                      uint32_t uid, uint32_t gid, uint64_t size, uint64_t link)
{
	e_uv(e, name_len);
	e_bytes(e, name, name_len);
	e_u8(e, type);
	e_uv(e, mode);
	e_uv(e, uid);
	e_uv(e, gid);
	e_uv(e, 2000000000ull);            /* zigzag(1e9 ns) */
	e_uv(e, size);
	e_u8(e, link ? 1 : 0);
	if (link) {
		e_uv(e, 1);
		e_uv(e, link);
		e_uv(e, 2);
	}
}

/* The same, owned by the user running the test. */
static void e_head(Enc *e, const char *name, size_t name_len, uint8_t type, uint32_t mode,
                   uint64_t size, uint64_t link)
{
	e_head_as(e, name, name_len, type, mode, (uint32_t)getuid(), (uint32_t)getgid(), size, link);
}

/* The one data chunk every forged file holds. */
static const char EVIL[] = "evil bytes\n";
static uint8_t evil_id[STRATA_ID_LEN];

static void e_file(Enc *e, const char *name, size_t name_len, uint64_t link)
{
	e_head(e, name, name_len, NODE_FILE, 0644, sizeof EVIL - 1, link);
	e_uv(e, 1);
	e_bytes(e, evil_id, STRATA_ID_LEN);
	e_uv(e, sizeof EVIL - 1);
}

static void e_dir(Enc *e, const char *name, const uint8_t sub[STRATA_ID_LEN])
{
	e_head(e, name, strlen(name), NODE_DIR, 0755, 0, 0);
	e_bytes(e, sub, STRATA_ID_LEN);
}

static void e_symlink(Enc *e, const char *name, const char *target, uint64_t link)
{
	e_head(e, name, strlen(name), NODE_SYMLINK, 0777, strlen(target), link);
	e_uv(e, strlen(target));
	e_bytes(e, target, strlen(target));
}

/* ---- the writer session ---- */

static BlobWriter *bw;
static CodecCtx *cctx;

static int session_begin(void)
{
	StrataErr err = {0};
	int rc = blobwriter_new(repo, 3, &bw, &err);

	if (rc) {
		printf("  blobwriter_new: %s\n", err.msg);
		return rc;
	}
	codec_chunk_id(repo->keys, EVIL, sizeof EVIL - 1, evil_id);
	return blobwriter_put(bw, cctx, BLOB_DATA, evil_id, EVIL, sizeof EVIL - 1, NULL, &err);
}

/* Store a hand-encoded tree object; its ID in id. */
static int put_tree(const Enc *e, uint8_t id[STRATA_ID_LEN])
{
	StrataErr err = {0};
	int rc;

	codec_chunk_id(repo->keys, e->b, e->n, id);
	rc = blobwriter_put(bw, cctx, BLOB_TREE, id, e->b, e->n, NULL, &err);
	if (rc)
		printf("  blobwriter_put: %s\n", err.msg);
	return rc;
}

/* Finish the session and save a snapshot whose root is root. */
static int session_snapshot(const uint8_t root[STRATA_ID_LEN], Snapshot *snap)
{
	static char host[] = "forger", user[] = "mallory", path0[] = "/x";
	static char *paths[] = { path0 };
	StrataErr err = {0};
	int rc = blobwriter_finish(bw, &err);

	blobwriter_free(bw);
	bw = NULL;
	if (rc) {
		printf("  blobwriter_finish: %s\n", err.msg);
		return rc;
	}
	memset(snap, 0, sizeof *snap);
	snap->time_ns = 1700000000000000000LL;
	snap->host = host;
	snap->user = user;
	snap->paths = paths;
	snap->npaths = 1;
	memcpy(snap->tree, root, STRATA_ID_LEN);
	rc = snapshot_save(repo, snap, &err);
	if (rc)
		printf("  snapshot_save: %s\n", err.msg);
	return rc;
}

/* A snapshot whose root tree is the one encoded in e. */
static int forge(const Enc *e, Snapshot *snap)
{
	uint8_t root[STRATA_ID_LEN];

	if (session_begin() != 0 || put_tree(e, root) != 0)
		return -1;
	return session_snapshot(root, snap);
}

/* ---- observing the filesystem ---- */

/* Names in dir, sorted, joined by '|' (recursive with rec, skipping skip). */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_dir(const char *dir, int rec, const char *skip, char *out, size_t cap)
{
	DIR *d = opendir(dir);
	char *names[256];
	size_t n = 0;
	struct dirent *de;

	if (!d) {
		snprintf(out + strlen(out), cap - strlen(out), "<%s:%s>", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL && n < 256) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		char sub[1024];
		struct stat st;
		snprintf(sub, sizeof sub, "%s/%s", dir, names[i]);
		snprintf(out + strlen(out), cap - strlen(out), "%s|", sub);
		if (rec && (!skip || strcmp(sub, skip) != 0) && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			list_dir(sub, rec, skip, out, cap);
		free(names[i]);
	}
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, cap - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return 0;
}

static int write_small(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t w;

	if (fd < 0)
		return -1;
	w = write(fd, s, strlen(s));
	close(fd);
	return w == (ssize_t)strlen(s) ? 0 : -1;
}

static int restore_opts(const Snapshot *snap, const char *target, int overwrite, int verify, StrataErr *err)
{
	RestoreOptions o;
	RestoreResult res;

	memset(&o, 0, sizeof o);
	memset(err, 0, sizeof *err);
	o.target = target;
	o.overwrite = overwrite;
	o.verify = verify;
	o.threads = 2;
	return restore_run(repo, snap, &o, &res, err);
}

static int restore_to(const Snapshot *snap, const char *target, int overwrite, StrataErr *err)
{
	return restore_opts(snap, target, overwrite, 0, err);
}

/* A case: before/after listings of everything outside the target. */
#define LIST_MAX 65536

typedef struct Watch {
	char casedir[320], target[340];
	char top_before[LIST_MAX], case_before[2048], out_before[2048];
} Watch;

static char scratch[LIST_MAX];

static void snap_outside(const Watch *w, char *top, char *cas, char *out)
{
	top[0] = cas[0] = out[0] = '\0';
	list_dir(work, 1, w->target, top, LIST_MAX);
	list_dir(w->casedir, 0, NULL, cas, 2048);
	list_dir(outside, 1, NULL, out, 2048);
}

static int watch_begin(Watch *w, const char *name)
{
	snprintf(w->casedir, sizeof w->casedir, "%s/%s", work, name);
	snprintf(w->target, sizeof w->target, "%s/target", w->casedir);
	if (mkdir(w->casedir, 0700) != 0)
		return -1;
	snap_outside(w, w->top_before, w->case_before, w->out_before);
	return 0;
}

/* 1 if nothing outside w->target changed (new target itself allowed). */
static int watch_clean(const Watch *w)
{
	static char top[LIST_MAX], cas[2048], out[2048];
	char victim[64] = "", canary[600];
	int ok = 1;

	snap_outside(w, top, cas, out);
	/* The target may have been created; nothing else in the case dir. */
	if (strcmp(cas, w->case_before) != 0) {
		snprintf(scratch, sizeof scratch, "%s%s/target|", w->case_before, w->casedir);
		if (strcmp(cas, scratch) != 0) {
			printf("  case dir changed: before %s after %s\n", w->case_before, cas);
			ok = 0;
		}
	}
	/* The scratch tree, minus the target's subtree, plus the target itself. */
	if (strcmp(top, w->top_before) != 0) {
		char *p = strstr(top, w->target);
		size_t tl = strlen(w->target);
		if (!p || p[tl] != '|') {
			printf("  work dir changed: %.600s\n", top);
			ok = 0;
		} else {
			memmove(p, p + tl + 1, strlen(p + tl + 1) + 1);
			if (strcmp(top, w->top_before) != 0) {
				printf("  work dir changed: %.600s\n", top);
				ok = 0;
			}
		}
	}
	if (strcmp(out, w->out_before) != 0) {
		printf("  outside dir changed: before %s after %s\n", w->out_before, out);
		ok = 0;
	}
	snprintf(canary, sizeof canary, "%s/victim", outside);
	if (read_small(canary, victim, sizeof victim) != 0 || strcmp(victim, "orig\n") != 0) {
		printf("  victim changed: \"%s\"\n", victim);
		ok = 0;
	}
	{
		const char *names[] = { "escape", "pwned", "abs" };
		for (size_t i = 0; i < 3; i++) {
			snprintf(canary, sizeof canary, "%s/%s", tmp, names[i]);
			if (exists(canary)) { printf("  canary %s exists\n", canary); ok = 0; }
			snprintf(canary, sizeof canary, "%s/%s", w->casedir, names[i]);
			if (exists(canary)) { printf("  canary %s exists\n", canary); ok = 0; }
			snprintf(canary, sizeof canary, "%s/%s", outside, names[i]);
			if (exists(canary)) { printf("  canary %s exists\n", canary); ok = 0; }
			snprintf(canary, sizeof canary, "/tmp/%s", names[i]);
			if (exists(canary)) { printf("  canary %s exists\n", canary); ok = 0; }
		}
	}
	return ok;
}

/* ---- setup ---- */

static void test_setup(void)
{
	RepoParams params = { .chunk_min = 1024, .chunk_avg = 4096, .chunk_max = 16384,
	                      .pack_size = 0, .kdf_opslimit = 1, .kdf_memlimit = 8 << 20 };
	StrataErr err = {0};
	char path[400];
	int rc;

	snprintf(tmp, sizeof tmp, "%s/test_restore_safety.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(tmp));
	/* Hostile symlinks point at an absolute /tmp directory. */
	snprintf(outside, sizeof outside, "/tmp/outside-target.XXXXXX");
	REQUIRE(mkdtemp(outside));
	snprintf(path, sizeof path, "%s/victim", outside);
	REQUIRE(write_small(path, "orig\n") == 0);
	snprintf(repo_dir, sizeof repo_dir, "%s/repo", tmp);
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", tmp);
	snprintf(work, sizeof work, "%s/work", tmp);
	REQUIRE(mkdir(work, 0700) == 0);
	REQUIRE(setenv("STRATA_CACHE_DIR", cache_dir, 1) == 0);
	rc = repo_init(repo_dir, PW, strlen(PW), &params, NULL, &err);
	if (rc)
		printf("  repo_init: %s\n", err.msg);
	REQUIRE(rc == 0);
	rc = repo_open(repo_dir, PW, strlen(PW), NULL, &repo, &err);
	if (rc)
		printf("  repo_open: %s\n", err.msg);
	REQUIRE(rc == 0);
	cctx = codec_ctx_new();
	REQUIRE(cctx != NULL);
}

/* Restore a forged root tree into a fresh target: must fail, must not
 * crash, must not touch anything outside the target. */
static int hostile_root(const char *casename, const Enc *e, int want_fail)
{
	Watch w;
	Snapshot snap;
	StrataErr err;
	int rc, ok = 1;

	if (!repo || watch_begin(&w, casename) != 0 || forge(e, &snap) != 0)
		return 0;
	rc = restore_to(&snap, w.target, 0, &err);
	if (want_fail && rc == 0) {
		printf("  %s: restore succeeded\n", casename);
		ok = 0;
	}
	if (rc != 0 && (err.code != rc || err.msg[0] == '\0')) {
		printf("  %s: rc %d without a message\n", casename, rc);
		ok = 0;
	}
	/* Refused by the tree's validation, not by an accident of the file
	 * system (ENOENT, ENAMETOOLONG) that a different target would not
	 * meet. */
	if (want_fail && rc != 0 && rc != STRATA_EFORMAT) {
		printf("  %s: refused with %d (%s), not as a malformed tree\n", casename, rc, err.msg);
		ok = 0;
	}
	if (rc)
		printf("  %s: refused as expected: %s\n", casename, err.msg);
	return watch_clean(&w) && ok;
}

/* ---- cases ---- */

/* The watch itself sees a write beside the target and in the outside
 * directory (so that the cases below cannot pass vacuously). */
static void test_watch_detects(void)
{
	Watch w;
	char path[600];

	REQUIRE(repo && watch_begin(&w, "selftest") == 0);
	CHECK(watch_clean(&w));
	snprintf(path, sizeof path, "%s/escape", w.casedir);
	REQUIRE(write_small(path, "x") == 0);
	CHECK(!watch_clean(&w));
	unlink(path);
	CHECK(watch_clean(&w));
	snprintf(path, sizeof path, "%s/new", outside);
	REQUIRE(write_small(path, "x") == 0);
	CHECK(!watch_clean(&w));
	unlink(path);
	snprintf(path, sizeof path, "%s/victim", outside);
	REQUIRE(write_small(path, "evil\n") == 0);
	CHECK(!watch_clean(&w));
	REQUIRE(write_small(path, "orig\n") == 0);
	CHECK(watch_clean(&w));
}

/* An entry named ".." (a directory holding "escape"), at the root. */
static void test_dotdot_root(void)
{
	Enc sub, root;
	uint8_t sid[STRATA_ID_LEN];

	REQUIRE(repo && session_begin() == 0);
	e_start(&sub, 1);
	e_file(&sub, "escape", 6, 0);
	REQUIRE(put_tree(&sub, sid) == 0);
	e_start(&root, 1);
	e_dir(&root, "..", sid);
	{
		Snapshot snap;
		Watch w;
		StrataErr err;
		uint8_t rid[STRATA_ID_LEN];
		REQUIRE(put_tree(&root, rid) == 0);
		REQUIRE(watch_begin(&w, "dotdot") == 0);
		REQUIRE(session_snapshot(rid, &snap) == 0);
		CHECK(restore_to(&snap, w.target, 0, &err) != 0);
		CHECK_EQ_INT(err.code, STRATA_EFORMAT);
		CHECK(watch_clean(&w));
	}
}

/* ".." as a plain file, nested one level down (part of the target exists). */
static void test_dotdot_nested(void)
{
	Enc sub, root;
	uint8_t sid[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	Snapshot snap;
	Watch w;
	StrataErr err;

	REQUIRE(repo && session_begin() == 0);
	e_start(&sub, 2);
	e_file(&sub, "..", 2, 0);
	e_file(&sub, "ok", 2, 0);
	REQUIRE(put_tree(&sub, sid) == 0);
	e_start(&root, 2);
	e_file(&root, "a", 1, 0);
	e_dir(&root, "d", sid);
	REQUIRE(put_tree(&root, rid) == 0);
	REQUIRE(watch_begin(&w, "dotdot_nested") == 0);
	REQUIRE(session_snapshot(rid, &snap) == 0);
	CHECK(restore_to(&snap, w.target, 0, &err) != 0);
	CHECK_EQ_INT(err.code, STRATA_EFORMAT);
	CHECK(strstr(err.msg, "tree") != NULL);
	CHECK(watch_clean(&w));
}

static void test_dot(void)
{
	Enc e;

	e_start(&e, 1);
	e_file(&e, ".", 1, 0);
	CHECK(hostile_root("dot", &e, 1));
}

static void test_dotdot_slash_escape(void)
{
	Enc e;

	e_start(&e, 1);
	e_file(&e, "../../escape", 12, 0);
	CHECK(hostile_root("dotdot_slash", &e, 1));
	e_start(&e, 1);
	e_file(&e, "../escape", 9, 0);
	CHECK(hostile_root("dotdot_slash1", &e, 1));
}

/* An absolute name: "/etc/x" and one naming the outside directory (so
 * that a bug would be visible there, not in /etc). */
static void test_absolute_name(void)
{
	Enc e;
	char name[300];

	e_start(&e, 1);
	e_file(&e, "/etc/x", 6, 0);
	CHECK(hostile_root("abs_etc", &e, 1));
	snprintf(name, sizeof name, "%s/abs", outside);
	e_start(&e, 1);
	e_file(&e, name, strlen(name), 0);
	CHECK(hostile_root("abs_outside", &e, 1));
	e_start(&e, 1);
	e_file(&e, "sub/abs", 7, 0);
	CHECK(hostile_root("inner_slash", &e, 1));
}

/* A NUL inside a name; an empty name; a name over 4096 bytes. */
static void test_bad_bytes(void)
{
	static char longname[5000];
	Enc *e = malloc(sizeof *e);

	REQUIRE(e);
	e_start(e, 1);
	e_file(e, "escape\0x", 8, 0);
	CHECK(hostile_root("nul", e, 1));
	e_start(e, 1);
	e_file(e, "", 0, 0);
	CHECK(hostile_root("empty", e, 1));
	memset(longname, 'n', 4097);
	e_start(e, 1);
	e_file(e, longname, 4097, 0);
	CHECK(hostile_root("long", e, 1));
	free(e);
}

/* A symlink "link" to the outside directory, then a directory also named
 * "link" holding "pwned" (a repeated name, which would make a naive
 * restorer write through the symlink). */
static void test_symlink_then_dir_same_name(void)
{
	Enc sub, root;
	uint8_t sid[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	Snapshot snap;
	Watch w;
	StrataErr err;

	REQUIRE(repo && session_begin() == 0);
	e_start(&sub, 1);
	e_file(&sub, "pwned", 5, 0);
	REQUIRE(put_tree(&sub, sid) == 0);
	e_start(&root, 2);
	e_symlink(&root, "link", outside, 0);
	e_dir(&root, "link", sid);
	REQUIRE(put_tree(&root, rid) == 0);
	REQUIRE(watch_begin(&w, "symlink_dup_dir") == 0);
	REQUIRE(session_snapshot(rid, &snap) == 0);
	CHECK(restore_to(&snap, w.target, 0, &err) != 0);
	CHECK_EQ_INT(err.code, STRATA_EFORMAT);
	CHECK(watch_clean(&w));
}

/* The same with a file "link" written after the symlink, and a symlink to
 * the victim file followed by a file of the same name. */
static void test_symlink_then_file_same_name(void)
{
	Enc e;
	char victim[300];

	e_start(&e, 2);
	e_symlink(&e, "link", outside, 0);
	e_file(&e, "link", 4, 0);
	CHECK(hostile_root("symlink_dup_file", &e, 1));
	snprintf(victim, sizeof victim, "%s/victim", outside);
	e_start(&e, 2);
	e_symlink(&e, "v", victim, 0);
	e_file(&e, "v", 1, 0);
	CHECK(hostile_root("symlink_dup_victim", &e, 1));
}

/* A symlink "up" to "..", then a directory "up" holding "escape". */
static void test_symlink_dotdot_then_dir(void)
{
	Enc sub, root;
	uint8_t sid[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	Snapshot snap;
	Watch w;
	StrataErr err;

	REQUIRE(repo && session_begin() == 0);
	e_start(&sub, 1);
	e_file(&sub, "escape", 6, 0);
	REQUIRE(put_tree(&sub, sid) == 0);
	e_start(&root, 2);
	e_symlink(&root, "up", "..", 0);
	e_dir(&root, "up", sid);
	REQUIRE(put_tree(&root, rid) == 0);
	REQUIRE(watch_begin(&w, "symlink_dotdot_dup") == 0);
	REQUIRE(session_snapshot(rid, &snap) == 0);
	CHECK(restore_to(&snap, w.target, 0, &err) != 0);
	CHECK(watch_clean(&w));
}

/* Two valid snapshots restored into one target: the first plants symlinks
 * (to "..", to the outside directory, to the victim file); the second has
 * a directory or a file where each symlink is. Without overwrite the
 * second restore stops (STRATA_EEXIST or "not a directory"); with it the
 * symlinks are replaced, never followed. */
static void test_symlink_race_two_snapshots(void)
{
	Enc sub, a, b;
	uint8_t sid[STRATA_ID_LEN], aid[STRATA_ID_LEN], bid[STRATA_ID_LEN];
	Snapshot sa, sb;
	Watch w;
	StrataErr err;
	char victim[300], path[600], buf[64];
	struct stat st;
	int rc;

	snprintf(victim, sizeof victim, "%s/victim", outside);
	REQUIRE(repo && session_begin() == 0);
	e_start(&a, 3);
	e_symlink(&a, "out", outside, 0);
	e_symlink(&a, "up", "..", 0);
	e_symlink(&a, "v", victim, 0);
	REQUIRE(put_tree(&a, aid) == 0);
	REQUIRE(session_snapshot(aid, &sa) == 0);

	REQUIRE(watch_begin(&w, "race") == 0);
	REQUIRE(restore_to(&sa, w.target, 0, &err) == 0);
	snprintf(path, sizeof path, "%s/up", w.target);
	REQUIRE(lstat(path, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(watch_clean(&w));

	/* Second snapshot: dir "out" (holding "pwned") only. */
	REQUIRE(session_begin() == 0);
	e_start(&sub, 1);
	e_file(&sub, "pwned", 5, 0);
	REQUIRE(put_tree(&sub, sid) == 0);
	e_start(&b, 1);
	e_dir(&b, "out", sid);
	REQUIRE(put_tree(&b, bid) == 0);
	REQUIRE(session_snapshot(bid, &sb) == 0);
	CHECK(restore_to(&sb, w.target, 0, &err) != 0);
	CHECK(watch_clean(&w));
	CHECK(restore_to(&sb, w.target, 1, &err) != 0);
	CHECK(watch_clean(&w));

	/* Third: dir "up" (holding "escape"). */
	REQUIRE(session_begin() == 0);
	e_start(&sub, 1);
	e_file(&sub, "escape", 6, 0);
	REQUIRE(put_tree(&sub, sid) == 0);
	e_start(&b, 1);
	e_dir(&b, "up", sid);
	REQUIRE(put_tree(&b, bid) == 0);
	REQUIRE(session_snapshot(bid, &sb) == 0);
	CHECK(restore_to(&sb, w.target, 0, &err) != 0);
	CHECK(watch_clean(&w));
	CHECK(restore_to(&sb, w.target, 1, &err) != 0);
	CHECK(watch_clean(&w));

	/* Fourth: file "v" where the symlink to the victim is. */
	REQUIRE(session_begin() == 0);
	e_start(&b, 1);
	e_file(&b, "v", 1, 0);
	REQUIRE(put_tree(&b, bid) == 0);
	REQUIRE(session_snapshot(bid, &sb) == 0);
	rc = restore_to(&sb, w.target, 0, &err);
	CHECK_EQ_INT(rc, STRATA_EEXIST);
	CHECK(watch_clean(&w));
	rc = restore_to(&sb, w.target, 1, &err);
	CHECK_EQ_INT(rc, 0);
	if (rc)
		printf("  overwrite restore: %s\n", err.msg);
	CHECK(watch_clean(&w));     /* victim still "orig" */
	snprintf(path, sizeof path, "%s/v", w.target);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(read_small(path, buf, sizeof buf) == 0 && strcmp(buf, EVIL) == 0);
}

/* Hard-link groups: a symlink to the victim and a file share (DEV, INO)
 * with NLINK 2; the file must not become a link to the victim. A
 * legitimate group still restores as one inode. */
static void test_hardlink_outside(void)
{
	Enc e;
	Snapshot snap;
	Watch w;
	StrataErr err;
	char victim[300], path[600], path2[600];
	struct stat st, st2, sv;
	int rc;

	snprintf(victim, sizeof victim, "%s/victim", outside);
	REQUIRE(repo && stat(victim, &sv) == 0);
	e_start(&e, 4);
	e_symlink(&e, "a", victim, 9);      /* first of group 9: a symlink outside */
	e_file(&e, "b", 1, 9);              /* must be a fresh file, not the victim */
	e_file(&e, "c", 1, 7);              /* group 7: c and d are one inode */
	e_file(&e, "d", 1, 7);
	REQUIRE(watch_begin(&w, "hardlink") == 0);
	REQUIRE(forge(&e, &snap) == 0);
	rc = restore_to(&snap, w.target, 0, &err);
	if (rc)
		printf("  hardlink restore: %s\n", err.msg);
	CHECK_EQ_INT(rc, 0);
	CHECK(watch_clean(&w));
	snprintf(path, sizeof path, "%s/b", w.target);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	CHECK(st.st_ino != sv.st_ino);
	snprintf(path, sizeof path, "%s/c", w.target);
	snprintf(path2, sizeof path2, "%s/d", w.target);
	CHECK(lstat(path, &st) == 0 && lstat(path2, &st2) == 0 && st.st_ino == st2.st_ino);
	CHECK(stat(victim, &st) == 0 && st.st_nlink == 1);

	/* A group whose first member is a directory entry "d" nested under a
	 * directory the second restore cannot pass: "..": rejected. */
	e_start(&e, 2);
	e_file(&e, "..", 2, 5);
	e_file(&e, "x", 1, 5);
	CHECK(hostile_root("hardlink_dotdot", &e, 1));
}

/* An existing file in the target: STRATA_EEXIST and untouched without
 * overwrite; replaced with it. */
static void test_existing_file(void)
{
	Enc e;
	Snapshot snap;
	Watch w;
	StrataErr err;
	char path[600], buf[64];
	int rc;

	REQUIRE(repo);
	e_start(&e, 1);
	e_file(&e, "f", 1, 0);
	REQUIRE(watch_begin(&w, "existing") == 0);
	REQUIRE(forge(&e, &snap) == 0);
	REQUIRE(mkdir(w.target, 0700) == 0);
	snprintf(path, sizeof path, "%s/f", w.target);
	REQUIRE(write_small(path, "old\n") == 0);
	rc = restore_to(&snap, w.target, 0, &err);
	CHECK_EQ_INT(rc, STRATA_EEXIST);
	CHECK(strstr(err.msg, "f") != NULL && strstr(err.msg, "overwrite") != NULL);
	CHECK(read_small(path, buf, sizeof buf) == 0 && strcmp(buf, "old\n") == 0);
	rc = restore_to(&snap, w.target, 1, &err);
	CHECK_EQ_INT(rc, 0);
	CHECK(read_small(path, buf, sizeof buf) == 0 && strcmp(buf, EVIL) == 0);
	CHECK(watch_clean(&w));
}

/* A chunk sealed from other bytes than its ID names (what a memory error
 * between hashing and sealing on the writing machine would store): it
 * authenticates, so a plain restore writes it; restore --verify recomputes
 * the keyed hash and refuses, naming the file, its byte range and chunk. */
static void test_verify_mis_sealed(void)
{
	static const char RIGHT[] = "right bytes\n", WRONG[] = "wrong bytes\n";
	uint8_t id[STRATA_ID_LEN];
	char target[600], path[700], buf[64], idhex[2 * STRATA_ID_LEN + 1];
	StrataErr err = {0};
	Snapshot snap;
	Enc e;
	int rc;

	REQUIRE(repo && session_begin() == 0);
	codec_chunk_id(repo->keys, RIGHT, sizeof RIGHT - 1, id);
	REQUIRE(blobwriter_put(bw, cctx, BLOB_DATA, id, WRONG, sizeof WRONG - 1, NULL, &err) == 0);
	e_start(&e, 1);
	e_head(&e, "m", 1, NODE_FILE, 0644, sizeof RIGHT - 1, 0);
	e_uv(&e, 1);
	e_bytes(&e, id, STRATA_ID_LEN);
	e_uv(&e, sizeof RIGHT - 1);
	{
		uint8_t root[STRATA_ID_LEN];
		REQUIRE(put_tree(&e, root) == 0);
		REQUIRE(session_snapshot(root, &snap) == 0);
	}
	snprintf(target, sizeof target, "%s/mis-sealed-plain", work);
	CHECK_EQ_INT(restore_opts(&snap, target, 0, 0, &err), 0);
	snprintf(path, sizeof path, "%s/m", target);
	CHECK(read_small(path, buf, sizeof buf) == 0 && strcmp(buf, WRONG) == 0);
	snprintf(target, sizeof target, "%s/mis-sealed-verify", work);
	rc = restore_opts(&snap, target, 0, 1, &err);
	CHECK_EQ_INT(rc, STRATA_EDAMAGED);
	codec_hex(id, 8, idhex);
	CHECK(strstr(err.msg, "m (bytes 0-11): chunk ") != NULL);
	CHECK(strstr(err.msg, idhex) != NULL);
	CHECK(strstr(err.msg, "does not match its ID") != NULL);
	if (rc == 0 || !strstr(err.msg, "does not match"))
		printf("  restore --verify: %d %s\n", rc, err.msg);
}

/* A target that is itself reached through the tree cannot be pre-seeded
 * with a symlink directory either: an existing symlink "d" -> outside in
 * the target and a tree with directory "d" fails, even with overwrite. */
static void test_existing_symlink_dir(void)
{
	Enc sub, root;
	uint8_t sid[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	Snapshot snap;
	Watch w;
	StrataErr err;
	char path[600];

	REQUIRE(repo && session_begin() == 0);
	e_start(&sub, 1);
	e_file(&sub, "pwned", 5, 0);
	REQUIRE(put_tree(&sub, sid) == 0);
	e_start(&root, 1);
	e_dir(&root, "d", sid);
	REQUIRE(put_tree(&root, rid) == 0);
	REQUIRE(session_snapshot(rid, &snap) == 0);
	REQUIRE(watch_begin(&w, "existing_symlink") == 0);
	REQUIRE(mkdir(w.target, 0700) == 0);
	snprintf(path, sizeof path, "%s/d", w.target);
	REQUIRE(symlink(outside, path) == 0);
	CHECK(restore_to(&snap, w.target, 0, &err) != 0);
	CHECK(watch_clean(&w));
	CHECK(restore_to(&snap, w.target, 1, &err) != 0);
	CHECK(watch_clean(&w));
}

/* ---- another user inside the target (issue 27, finding 1) ----
 *
 * A user who owns a directory inside the target can rename its entries
 * while a restore as root runs. These cases play that user (uid 65534)
 * against a restore that was allowed into her directory, and check
 * canaries outside the target after each: a root-owned 0700 file
 * ("secret", what a followed symlink would chmod), a file of her own
 * ("mine", what a hard link swapped in would chown or re-time), root's
 * files named like hard-link members ("h0", "g00"...: what a link by path
 * through a swapped directory would link in), a directory and the
 * outside directory itself. They need root and a second uid; elsewhere
 * they print SKIP. */

#define NOBODY 65534u
#define HGROUPS 8           /* hard-link groups h0..h7 in the race */
#define GGROUPS 40          /* groups g00..g39 in the descriptor-bound case */

static char rbase[64], r_out[128], r_nobody[128], r_secret[160], r_mine[160];
static char r_home[128];    /* hers too, for directories she moves about: no canary */
static int race_ok = -1;    /* -1 not set up, 0 impossible here, 1 ready */

typedef struct Canary {
	char path[200];
	struct stat st;
	int full;               /* 0: "mine", which she links: owner, mode, mtime only */
} Canary;

static Canary canaries[64];
static size_t ncanaries;
static int canaries_quiet;  /* the race prints its first few findings only */

static void canary_add(const char *path, int full)
{
	Canary *c = &canaries[ncanaries++];

	snprintf(c->path, sizeof c->path, "%s", path);
	c->full = full;
	if (lstat(path, &c->st) != 0)
		memset(&c->st, 0, sizeof c->st);
}

static int ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* How many canaries changed since setup (each one printed). A changed
 * one gets its owner, mode and times back and its state becomes the new
 * baseline, so that each case is judged on its own (against code that
 * lets them change, e.g. to check that these cases fail there). */
static int canaries_changed(void)
{
	int changed = 0;

	for (size_t i = 0; i < ncanaries; i++) {
		Canary *c = &canaries[i];
		struct stat st;
		if (lstat(c->path, &st) != 0) {
			if (!canaries_quiet)
				printf("  canary %s: %s\n", c->path, strerror(errno));
			changed++;
			continue;
		}
		if (st.st_mode != c->st.st_mode || st.st_uid != c->st.st_uid || st.st_gid != c->st.st_gid ||
		    !ts_eq(st.st_mtim, c->st.st_mtim) ||
		    (c->full && (st.st_nlink != c->st.st_nlink || !ts_eq(st.st_ctim, c->st.st_ctim)))) {
			if (!canaries_quiet)
				printf("  canary %s changed: mode %o->%o uid %u->%u nlink %lu->%lu mtime %ld->%ld\n",
				       c->path, (unsigned)c->st.st_mode, (unsigned)st.st_mode, (unsigned)c->st.st_uid,
				       (unsigned)st.st_uid, (unsigned long)c->st.st_nlink, (unsigned long)st.st_nlink,
				       (long)c->st.st_mtim.tv_sec, (long)st.st_mtim.tv_sec);
			changed++;
			if (!S_ISLNK(c->st.st_mode)) {
				struct timespec ts[2] = { c->st.st_atim, c->st.st_mtim };
				if (lchown(c->path, c->st.st_uid, c->st.st_gid) != 0 ||
				    chmod(c->path, c->st.st_mode & 07777) != 0 ||
				    utimensat(AT_FDCWD, c->path, ts, AT_SYMLINK_NOFOLLOW) != 0)
					printf("  canary %s: cannot put it back\n", c->path);
			}
			if (lstat(c->path, &st) == 0)
				c->st = st;
		}
	}
	return changed;
}

static int drop_to_nobody(void)
{
	return setgroups(0, NULL) != 0 || setresgid(NOBODY, NOBODY, NOBODY) != 0 ||
	       setresuid(NOBODY, NOBODY, NOBODY) != 0 ? -1 : 0;
}

/* Run fn(arg) as uid/gid 65534 in a child; its exit status (0 = done). */
static int as_nobody(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(drop_to_nobody() != 0 ? 99 : fn(arg));
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int rm_tree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int nobody_can_write(void *arg)
{
	return access((const char *)arg, W_OK | X_OK) == 0 ? 0 : 1;
}

/* The scene: /tmp/strata-race.*, open to all (0755), holding the outside
 * canaries, her own directory and the targets. NULL when ready, else why
 * the cases cannot run here. */
static const char *race_setup(void)
{
	char path[256];

	if (geteuid() != 0)
		return "not root, so no second uid (65534) to race with";
	snprintf(rbase, sizeof rbase, "/tmp/strata-race.XXXXXX");
	if (!mkdtemp(rbase) || chmod(rbase, 0755) != 0)
		return "cannot make /tmp/strata-race.*";
	snprintf(r_out, sizeof r_out, "%s/outside", rbase);
	snprintf(r_nobody, sizeof r_nobody, "%s/nobody", rbase);
	snprintf(r_secret, sizeof r_secret, "%s/secret", r_out);
	snprintf(r_mine, sizeof r_mine, "%s/mine", r_nobody);
	snprintf(r_home, sizeof r_home, "%s/home-nobody", rbase);
	if (mkdir(r_home, 0755) != 0 || chown(r_home, NOBODY, NOBODY) != 0)
		return "cannot make her home";
	snprintf(path, sizeof path, "%s/odir", r_out);
	if (mkdir(r_out, 0755) != 0 || mkdir(r_nobody, 0755) != 0 || chown(r_nobody, NOBODY, NOBODY) != 0 ||
	    write_small(r_secret, "secret\n") != 0 || chmod(r_secret, 0700) != 0 ||
	    write_small(r_mine, "mine\n") != 0 || chmod(r_mine, 0644) != 0 || chown(r_mine, NOBODY, NOBODY) != 0 ||
	    mkdir(path, 0755) != 0)
		return "cannot make the canaries";
	snprintf(path, sizeof path, "%s/odir/inner", r_out);
	if (write_small(path, "inner\n") != 0)
		return "cannot make the canaries";
	canary_add(path, 1);
	snprintf(path, sizeof path, "%s/odir", r_out);
	canary_add(path, 1);
	for (int i = 0; i < HGROUPS + GGROUPS; i++) {
		if (i < HGROUPS)
			snprintf(path, sizeof path, "%s/h%d", r_out, i);
		else
			snprintf(path, sizeof path, "%s/g%02d", r_out, i - HGROUPS);
		if (write_small(path, "outside\n") != 0 || chmod(path, 0600) != 0)
			return "cannot make the canaries";
		canary_add(path, 1);
	}
	canary_add(r_secret, 1);
	canary_add(r_mine, 0);
	canary_add(r_out, 1);
	canary_add(r_nobody, 1);
	if (as_nobody(nobody_can_write, r_nobody) != 0)
		return "uid 65534 cannot work in /tmp";
	return NULL;
}

/* 1 if the cases can run; prints SKIP naming why not. */
static int race_ready(const char *test)
{
	static const char *why;

	if (race_ok < 0) {
		why = race_setup();
		race_ok = why == NULL;
	}
	if (!race_ok)
		printf("SKIP %s: %s\n", test, why);
	return race_ok;
}

/* A fresh target rbase/name (root, 0755) holding u (uid 65534, 0755). */
static int race_target(const char *name, char *target, size_t cap)
{
	char u[300];

	snprintf(target, cap, "%s/%s", rbase, name);
	rm_tree(target);
	snprintf(u, sizeof u, "%s/u", target);
	return mkdir(target, 0755) != 0 || mkdir(u, 0755) != 0 || chown(u, NOBODY, NOBODY) != 0 ? -1 : 0;
}

static void e_special(Enc *e, const char *name, uint8_t type, uint32_t mode, uint64_t rdev)
{
	e_head(e, name, strlen(name), type, mode, 0, 0);
	if (type == NODE_CHARDEV || type == NODE_BLOCKDEV)
		e_uv(e, rdev);
}

static void e_dir_as(Enc *e, const char *name, const uint8_t sub[STRATA_ID_LEN], uint32_t uid, uint32_t mode)
{
	e_head_as(e, name, strlen(name), NODE_DIR, mode, uid, uid, 0, 0);
	e_bytes(e, sub, STRATA_ID_LEN);
}

/* A snapshot: root { u (65534's) { inner's entries } }, in the writer
 * session already begun (for inner's subtrees) or a new one. */
static int forge_in_u(const Enc *inner, Snapshot *snap)
{
	Enc *root = malloc(sizeof *root);
	uint8_t uid_[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	int rc = -1;

	if (root && (bw || session_begin() == 0) && put_tree(inner, uid_) == 0) {
		e_start(root, 1);
		e_dir_as(root, "u", uid_, NOBODY, 0755);
		if (put_tree(root, rid) == 0)
			rc = session_snapshot(rid, snap);
	}
	free(root);
	return rc;
}

static int restore_foreign(const Snapshot *snap, const char *target, RestoreProgressFn fn, void *ctx,
                           StrataErr *err)
{
	RestoreOptions o;
	RestoreResult res;

	memset(&o, 0, sizeof o);
	memset(err, 0, sizeof *err);
	o.target = target;
	o.threads = 2;
	o.allow_foreign_dirs = 1;
	o.progress = fn;
	o.progress_ctx = ctx;
	return restore_run(repo, snap, &o, &res, err);
}

static const char FOREIGN_TAIL[] =
	"restoring as root into a directory another user can change is refused (they could swap its entries "
	"for links while the restore runs); check the directory, or pass --allow-foreign-dirs";

/* Existing directories another user controls: refused as root with the
 * exact message, nothing created inside; allowed with the option. A
 * sticky root directory open to all (/tmp's 01777) is not refused. */
static void test_foreign_dirs(void)
{
	Enc sub, root;
	uint8_t sid[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	Snapshot snap;
	StrataErr err;
	char target[300], home[400], f[500], want[700], buf[64];
	struct stat st;
	int rc;

	if (!race_ready("test_foreign_dirs"))
		return;
	REQUIRE(repo && session_begin() == 0);
	e_start(&sub, 1);
	e_file(&sub, "f", 1, 0);
	REQUIRE(put_tree(&sub, sid) == 0);
	e_start(&root, 1);
	e_dir(&root, "home", sid);
	REQUIRE(put_tree(&root, rid) == 0);
	REQUIRE(session_snapshot(rid, &snap) == 0);

	snprintf(target, sizeof target, "%s/foreign", rbase);
	snprintf(home, sizeof home, "%s/home", target);
	snprintf(f, sizeof f, "%s/f", home);
	REQUIRE(mkdir(target, 0755) == 0 && mkdir(home, 0755) == 0 && chown(home, NOBODY, NOBODY) == 0);
	/* Owned by 65534: refused, with or without --overwrite. */
	for (int overwrite = 0; overwrite <= 1; overwrite++) {
		rc = restore_to(&snap, target, overwrite, &err);
		CHECK_EQ_INT(rc, STRATA_EREFUSED);
		snprintf(want, sizeof want, "home: existing directory owned by uid 65534: %s", FOREIGN_TAIL);
		CHECK_STR(err.msg, want);
		CHECK(!exists(f));
	}
	/* With the option: restored, the directory given its snapshot owner. */
	{
		RestoreOptions o;
		RestoreResult res;
		memset(&o, 0, sizeof o);
		o.target = target;
		o.threads = 2;
		o.allow_foreign_dirs = 1;
		rc = restore_run(repo, &snap, &o, &res, &err);
		CHECK_EQ_INT(rc, 0);
		CHECK(read_small(f, buf, sizeof buf) == 0 && strcmp(buf, EVIL) == 0);
		CHECK(lstat(home, &st) == 0 && st.st_uid == getuid() && (st.st_mode & 07777) == 0755);
	}
	rm_tree(target);

	/* Root's, but writable by its group: refused, naming the mode. */
	REQUIRE(mkdir(target, 0755) == 0 && mkdir(home, 0755) == 0 && chmod(home, 0775) == 0);
	rc = restore_to(&snap, target, 0, &err);
	CHECK_EQ_INT(rc, STRATA_EREFUSED);
	snprintf(want, sizeof want, "home: existing directory writable by group or others (mode 0775, no sticky bit): %s",
	         FOREIGN_TAIL);
	CHECK_STR(err.msg, want);
	CHECK(!exists(f));
	/* Sticky and open to all, root's: others cannot rename root's entries. */
	REQUIRE(chmod(home, 01777) == 0);
	rc = restore_to(&snap, target, 0, &err);
	CHECK_EQ_INT(rc, 0);
	CHECK(read_small(f, buf, sizeof buf) == 0 && strcmp(buf, EVIL) == 0);
	rm_tree(target);

	/* The target itself owned by 65534. */
	REQUIRE(mkdir(target, 0755) == 0 && chown(target, NOBODY, NOBODY) == 0);
	rc = restore_to(&snap, target, 0, &err);
	CHECK_EQ_INT(rc, STRATA_EREFUSED);
	snprintf(want, sizeof want, "%s: existing directory owned by uid 65534: %s", target, FOREIGN_TAIL);
	CHECK_STR(err.msg, want);
	CHECK(!exists(home));
	rm_tree(target);
	CHECK_EQ_INT(canaries_changed(), 0);
}

/* With the option, an existing directory of hers inside her directory
 * (where she could have moved in any directory she can write to, from
 * outside the target too) is restored into but keeps its owner, mode and
 * times; her directory itself, in root's target, gets the snapshot's. */
static void test_foreign_dir_nested(void)
{
	Enc d, e;
	uint8_t did[STRATA_ID_LEN];
	Snapshot snap;
	StrataErr err;
	char target[300], docs[400], f[450], u[400], buf[64];
	struct stat st, before;
	int rc;

	if (!race_ready("test_foreign_dir_nested"))
		return;
	REQUIRE(repo && session_begin() == 0);
	e_start(&d, 1);
	e_file(&d, "f", 1, 0);
	REQUIRE(put_tree(&d, did) == 0);
	e_start(&e, 1);
	e_dir_as(&e, "docs", did, 0, 0755);
	REQUIRE(forge_in_u(&e, &snap) == 0);
	REQUIRE(race_target("nested", target, sizeof target) == 0);
	snprintf(u, sizeof u, "%s/u", target);
	snprintf(docs, sizeof docs, "%s/u/docs", target);
	snprintf(f, sizeof f, "%s/f", docs);
	REQUIRE(chmod(u, 0700) == 0 && mkdir(docs, 0700) == 0 && chown(docs, NOBODY, NOBODY) == 0 &&
	        lstat(docs, &before) == 0);
	rc = restore_foreign(&snap, target, NULL, NULL, &err);
	if (rc)
		printf("  restore: %s\n", err.msg);
	CHECK_EQ_INT(rc, 0);
	CHECK(read_small(f, buf, sizeof buf) == 0 && strcmp(buf, EVIL) == 0);
	/* (Its mtime moved with the entry created in it, but not to the
	 * snapshot's 1 s.) */
	CHECK(lstat(docs, &st) == 0 && st.st_uid == NOBODY && st.st_mode == before.st_mode && st.st_mtim.tv_sec != 1);
	CHECK(lstat(u, &st) == 0 && st.st_uid == NOBODY && (st.st_mode & 07777) == 0755 && st.st_mtim.tv_sec == 1);
	rm_tree(target);
	CHECK_EQ_INT(canaries_changed(), 0);
}

/* FIFOs and devices come back with their modes (setuid ones too), owner,
 * time and device number, also inside a directory of another user. */
static void test_fifo_dev_modes(void)
{
	Enc e;
	Snapshot snap;
	StrataErr err;
	char target[300], path[400];
	struct stat st;
	int rc;

	if (!race_ready("test_fifo_dev_modes"))
		return;
	e_start(&e, 3);
	e_special(&e, "n", NODE_CHARDEV, 04666, makedev(1, 3));
	e_special(&e, "p", NODE_FIFO, 04777, 0);
	e_special(&e, "q", NODE_FIFO, 0640, 0);
	REQUIRE(repo && forge_in_u(&e, &snap) == 0);
	REQUIRE(race_target("modes", target, sizeof target) == 0);
	rc = restore_foreign(&snap, target, NULL, NULL, &err);
	if (rc)
		printf("  restore: %s\n", err.msg);
	CHECK_EQ_INT(rc, 0);
	snprintf(path, sizeof path, "%s/u/p", target);
	CHECK(lstat(path, &st) == 0 && st.st_mode == (S_IFIFO | 04777) && st.st_uid == getuid() &&
	      st.st_mtim.tv_sec == 1 && st.st_mtim.tv_nsec == 0);
	snprintf(path, sizeof path, "%s/u/q", target);
	CHECK(lstat(path, &st) == 0 && st.st_mode == (S_IFIFO | 0640));
	snprintf(path, sizeof path, "%s/u/n", target);
	CHECK(lstat(path, &st) == 0 && st.st_mode == (S_IFCHR | 04666) && st.st_rdev == makedev(1, 3) &&
	      st.st_mtim.tv_sec == 1);
	rm_tree(target);
	CHECK_EQ_INT(canaries_changed(), 0);
}

/* ---- the racing user, stopped at the exact moment: ptrace ----
 *
 * A tracer (a child that attaches to the restoring thread, then drops to
 * uid 65534) stops the restore at the return of the mknodat or symlinkat
 * that created a node in u and, as that user, puts something else under
 * the name before the restore goes on: the window the old code lost
 * (fchmodat by name followed a symlink). Deterministic, unlike the race
 * below. */

enum SwapKind {
	SWAP_NONE,
	SWAP_SYMLINK_SECRET,        /* a symlink to secret renamed over the name */
	SWAP_EXCHANGE_SECRET,       /* the same, swapped with RENAME_EXCHANGE */
	SWAP_HARDLINK_MINE,         /* a hard link to her outside file renamed over it */
	SWAP_OWN_FIFO,              /* her own FIFO (mode 0, like the restore's) */
	SWAP_OWN_DIR                /* a directory: exchanged with hers outside (swap_dir) */
};

static char swap_dir[300];      /* SWAP_OWN_DIR: her directory, outside the target */

static int swap_name(const char *dir, const char *name, int kind)
{
	char tmpn[400], dst[400];

	snprintf(tmpn, sizeof tmpn, "%s/.swap", dir);
	snprintf(dst, sizeof dst, "%s/%s", dir, name);
	unlink(tmpn);
	switch (kind) {
	case SWAP_SYMLINK_SECRET:
		return symlink(r_secret, tmpn) || rename(tmpn, dst) ? -1 : 0;
	case SWAP_EXCHANGE_SECRET:
		return symlink(r_secret, tmpn) || renameat2(AT_FDCWD, tmpn, AT_FDCWD, dst, RENAME_EXCHANGE) ? -1 : 0;
	case SWAP_HARDLINK_MINE:
		return link(r_mine, tmpn) || rename(tmpn, dst) ? -1 : 0;
	case SWAP_OWN_FIFO:
		return mkfifo(tmpn, 0) || chmod(tmpn, 0) || rename(tmpn, dst) ? -1 : 0;
	case SWAP_OWN_DIR:
		/* Moving root's new directory to another parent would need write
		 * permission on it; moving it aside in u does not. */
		return rename(dst, tmpn) || rename(swap_dir, dst) ? -1 : 0;
	default:
		return -1;
	}
}

static int peek_str(pid_t tid, uint64_t addr, char *out, size_t cap)
{
	for (size_t i = 0; i + sizeof(long) <= cap; i += sizeof(long)) {
		long w;
		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, tid, (void *)(uintptr_t)(addr + i), NULL);
		if (errno)
			return -1;
		memcpy(out + i, &w, sizeof w);
		if (memchr(&w, 0, sizeof w))
			return 0;
	}
	return -1;
}

/* The tracer: never returns. Reports 's' (swapped) or 'n' on ack_w. It
 * swaps after the first mknodat, symlinkat or mkdirat that succeeds (the
 * restore's of u/x: u exists, so its mkdirat fails). */
static void tracer_run(pid_t tid, const char *dir, int kind, int att_w, int done_r, int ack_w)
{
	struct __ptrace_syscall_info info;
	uint64_t nr = 0, args[6] = {0};
	int st, swapped = 0;
	char b;

	if (ptrace(PTRACE_SEIZE, tid, NULL, (void *)(uintptr_t)PTRACE_O_TRACESYSGOOD) != 0 ||
	    ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0 || waitpid(tid, &st, __WALL) != tid)
		_exit(10);
	/* Attached: from now on only what uid 65534 may do. */
	if (drop_to_nobody() != 0)
		_exit(11);
	if (write(att_w, "a", 1) != 1 || ptrace(PTRACE_SYSCALL, tid, NULL, NULL) != 0)
		_exit(12);
	for (;;) {
		int sig = 0;
		if (waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st))
			_exit(13);
		if (read(done_r, &b, 1) == 1) {
			ptrace(PTRACE_DETACH, tid, NULL, NULL);
			_exit(write(ack_w, swapped ? "s" : "n", 1) == 1 ? 0 : 14);
		}
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof info, &info) > 0) {
				if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
					nr = info.entry.nr;
					memcpy(args, info.entry.args, sizeof args);
				} else if (info.op == PTRACE_SYSCALL_INFO_EXIT && info.exit.rval == 0 && !swapped &&
				           kind != SWAP_NONE &&
				           (nr == SYS_mknodat || nr == SYS_symlinkat || nr == SYS_mkdirat)) {
					char name[256];
					if (peek_str(tid, nr == SYS_symlinkat ? args[2] : args[1], name, sizeof name) == 0 &&
					    name[0] != '.')
						swapped = swap_name(dir, name, kind) == 0;
				}
			}
		} else if ((st >> 16) == 0) {
			sig = WSTOPSIG(st);       /* a signal for the restoring thread: deliver it */
		}
		if (ptrace(PTRACE_SYSCALL, tid, NULL, (void *)(uintptr_t)sig) != 0)
			_exit(15);
	}
}

/* restore_foreign with the tracer swapping the first node created in dir.
 * *out_swapped: whether it did. -1 (and SKIP printed) if tracing is
 * impossible here. */
static int traced_restore(const Snapshot *snap, const char *target, const char *dir, int kind, StrataErr *err,
                          int *out_rc, int *out_swapped)
{
	int att[2], done[2], ack[2], st;
	pid_t pid, me = getpid();
	char b = 0;

	if (pipe2(att, O_CLOEXEC) || pipe2(done, O_CLOEXEC) || pipe2(ack, O_CLOEXEC) ||
	    fcntl(done[0], F_SETFL, O_NONBLOCK))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		tracer_run(me, dir, kind, att[1], done[0], ack[1]);
	close(att[1]);
	close(done[0]);
	close(ack[1]);
	if (read(att[0], &b, 1) != 1) {
		waitpid(pid, &st, 0);
		printf("  SKIP: cannot trace the restore (exit %d)\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		close(att[0]);
		close(done[1]);
		close(ack[0]);
		return -1;
	}
	*out_rc = restore_foreign(snap, target, NULL, NULL, err);
	if (write(done[1], "d", 1) != 1 || read(ack[0], &b, 1) != 1)
		b = '?';
	waitpid(pid, &st, 0);
	close(att[0]);
	close(done[1]);
	close(ack[0]);
	*out_swapped = b == 's';
	return b == '?' ? -1 : 0;
}

/* One node, swapped by 65534 right after its creation: the restore must
 * refuse it by its path and change nothing outside. */
static void swap_case(const char *casename, uint8_t type, uint32_t mode, int kind)
{
	Enc e;
	Snapshot snap;
	StrataErr err;
	char target[300], u[320], want[400];
	struct stat mine_before;
	int rc = 0, swapped = 0;

	memset(&mine_before, 0, sizeof mine_before);
	e_start(&e, 1);
	if (type == NODE_DIR) {
		Enc d;
		uint8_t did[STRATA_ID_LEN];
		e_start(&d, 1);
		e_file(&d, "a", 1, 0);
		REQUIRE(session_begin() == 0 && put_tree(&d, did) == 0);
		e_dir_as(&e, "x", did, 0, mode);
		REQUIRE(forge_in_u(&e, &snap) == 0);
	} else if (type == NODE_SYMLINK) {
		e_symlink(&e, "x", "somewhere", 0);
		REQUIRE(forge_in_u(&e, &snap) == 0);
	} else {
		e_special(&e, "x", type, mode, makedev(1, 3));
		REQUIRE(forge_in_u(&e, &snap) == 0);
	}
	REQUIRE(race_target(casename, target, sizeof target) == 0);
	snprintf(u, sizeof u, "%s/u", target);
	if (kind == SWAP_OWN_DIR) {
		snprintf(swap_dir, sizeof swap_dir, "%s/%s", r_home, casename);
		REQUIRE(mkdir(swap_dir, 0755) == 0 && chown(swap_dir, NOBODY, NOBODY) == 0 &&
		        stat(swap_dir, &mine_before) == 0);
	}
	if (traced_restore(&snap, target, u, kind, &err, &rc, &swapped) != 0)
		return;
	CHECK_EQ_INT(swapped, kind != SWAP_NONE);
	if (kind == SWAP_NONE) {
		CHECK_EQ_INT(rc, 0);
	} else {
		if (rc != STRATA_EREFUSED)
			printf("  %s: rc %d %s\n", casename, rc, err.msg);
		CHECK_EQ_INT(rc, STRATA_EREFUSED);
		snprintf(want, sizeof want, "u/x: replaced by another file while being restored (someone else can "
		         "rename entries in its directory); left alone");
		CHECK_STR(err.msg, want);
	}
	if (kind == SWAP_OWN_DIR) {
		/* Her directory, now at u/x: not entered, not changed. */
		char a[400];
		struct stat st;
		snprintf(a, sizeof a, "%s/x/a", u);
		CHECK(!exists(a));
		snprintf(a, sizeof a, "%s/x", u);
		CHECK(lstat(a, &st) == 0 && st.st_ino == mine_before.st_ino && st.st_uid == NOBODY &&
		      st.st_mode == mine_before.st_mode && ts_eq(st.st_mtim, mine_before.st_mtim));
	}
	rm_tree(target);                /* first: a link made outside shows in ctime */
	CHECK_EQ_INT(canaries_changed(), 0);
}

static void test_swap_after_create(void)
{
	if (!race_ready("test_swap_after_create"))
		return;
	REQUIRE(repo);
	swap_case("swap_fifo_symlink", NODE_FIFO, 04777, SWAP_SYMLINK_SECRET);
	swap_case("swap_fifo_exchange", NODE_FIFO, 04777, SWAP_EXCHANGE_SECRET);
	swap_case("swap_fifo_hardlink", NODE_FIFO, 04777, SWAP_HARDLINK_MINE);
	swap_case("swap_fifo_own", NODE_FIFO, 04777, SWAP_OWN_FIFO);
	swap_case("swap_chardev_symlink", NODE_CHARDEV, 04666, SWAP_SYMLINK_SECRET);
	swap_case("swap_symlink_hardlink", NODE_SYMLINK, 0777, SWAP_HARDLINK_MINE);
	swap_case("swap_symlink_exchange", NODE_SYMLINK, 0777, SWAP_EXCHANGE_SECRET);
	swap_case("swap_dir_hers", NODE_DIR, 0750, SWAP_OWN_DIR);
}

/* The tracer itself, swapping nothing: the restore under it works, so
 * the cases above test the swap and not the tracing. */
static void test_swap_tracer_control(void)
{
	char path[400];
	struct stat st;

	if (!race_ready("test_swap_tracer_control"))
		return;
	REQUIRE(repo);
	swap_case("swap_none", NODE_FIFO, 04777, SWAP_NONE);
	(void)path;
	(void)st;
}

/* ---- swaps at a point the walk reports (progress callback) ---- */

typedef struct Trigger {
	const char *when;           /* entry name after which to act */
	int (*act)(void *);
	void *arg;
	int fired, result;
} Trigger;

static void on_entry(const RestoreProgress *p, void *ctx)
{
	Trigger *t = ctx;

	if (!t->fired && p->current && strcmp(p->current, t->when) == 0) {
		t->fired = 1;
		t->result = as_nobody(t->act, t->arg);
	}
}

typedef struct SwapArg {
	char a[400], b[400];
} SwapArg;

/* As 65534: a hard link to her outside file at a, exchanged with b. */
static int act_hardlink_exchange(void *arg)
{
	SwapArg *s = arg;

	return link(r_mine, s->a) || renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b, RENAME_EXCHANGE) ? 1 : 0;
}

/* As 65534: a symlink to the outside directory at a, exchanged with b. */
static int act_symlink_exchange(void *arg)
{
	SwapArg *s = arg;

	return symlink(r_out, s->a) || renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b, RENAME_EXCHANGE) ? 1 : 0;
}

/* As 65534: her own directory at a, holding files of hers named like
 * the members (h0..h7, g00..g39), exchanged with b. */
static int act_own_dir_exchange(void *arg)
{
	SwapArg *s = arg;
	char path[500];

	if (mkdir(s->a, 0755) != 0)
		return 1;
	for (int i = 0; i < HGROUPS + GGROUPS; i++) {
		if (i < HGROUPS)
			snprintf(path, sizeof path, "%s/h%d", s->a, i);
		else
			snprintf(path, sizeof path, "%s/g%02d", s->a, i - HGROUPS);
		if (write_small(path, "hers\n") != 0)
			return 1;
	}
	return renameat2(AT_FDCWD, s->a, AT_FDCWD, s->b, RENAME_EXCHANGE) ? 1 : 0;
}

/* A directory in u swapped for a hard link to her outside file while its
 * entries are restored: its owner, mode and time go to the directory
 * through its descriptor, not to whatever the name is then. */
static void test_dir_swapped_during_restore(void)
{
	Enc d, u, root;
	uint8_t did[STRATA_ID_LEN], uid_[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	Snapshot snap;
	StrataErr err;
	SwapArg sa;
	Trigger t = { "a", act_hardlink_exchange, &sa, 0, 0 };
	char target[300], path[500];
	struct stat st;
	int rc;

	if (!race_ready("test_dir_swapped_during_restore"))
		return;
	REQUIRE(repo && session_begin() == 0);
	e_start(&d, 2);
	e_file(&d, "a", 1, 0);
	e_file(&d, "b", 1, 0);
	REQUIRE(put_tree(&d, did) == 0);
	e_start(&u, 1);
	e_dir_as(&u, "d", did, 0, 0750);
	REQUIRE(put_tree(&u, uid_) == 0);
	e_start(&root, 1);
	e_dir_as(&root, "u", uid_, NOBODY, 0755);
	REQUIRE(put_tree(&root, rid) == 0);
	REQUIRE(session_snapshot(rid, &snap) == 0);
	REQUIRE(race_target("dirswap", target, sizeof target) == 0);
	snprintf(sa.a, sizeof sa.a, "%s/u/.x", target);
	snprintf(sa.b, sizeof sa.b, "%s/u/d", target);
	rc = restore_foreign(&snap, target, on_entry, &t, &err);
	if (rc)
		printf("  restore: %s\n", err.msg);
	CHECK_EQ_INT(rc, 0);
	CHECK(t.fired && t.result == 0);
	/* The real directory, now at u/.x, got its metadata. */
	CHECK(lstat(sa.a, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750 && st.st_uid == 0 &&
	      st.st_mtim.tv_sec == 1);
	snprintf(path, sizeof path, "%s/b", sa.a);
	CHECK(exists(path));
	rm_tree(target);
	CHECK_EQ_INT(canaries_changed(), 0);
}

/* Hard-link groups whose first member lies in u/sub: she exchanges sub
 * with a symlink to the outside directory (holding root's h0, g00...)
 * or with a directory of her own once it is done. Later members in z
 * are linked to the inode restored, or (when its descriptor was closed
 * for the bound and the path no longer leads to it) made copies; never
 * linked to what the path leads to. */
static int hardlink_case(const char *casename, int ngroups, const char *prefix, int (*act)(void *))
{
	Enc *sub = malloc(sizeof *sub), *u = malloc(sizeof *u), *z = malloc(sizeof *z), *root = malloc(sizeof *root);
	uint8_t sid[STRATA_ID_LEN], uid_[STRATA_ID_LEN], zid[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	Snapshot snap;
	StrataErr err;
	SwapArg sa;
	Trigger t = { "t", act, &sa, 0, 0 };
	char target[300], name[16], p1[500], p2[500], buf[64];
	struct stat s1, s2;
	int rc, linked = 0, copies = 0, ok = 1;

	if (!sub || !u || !z || !root || session_begin() != 0)
		ok = 0;
	if (ok) {
		e_start(sub, (uint64_t)ngroups);
		e_start(z, (uint64_t)ngroups);
		for (int i = 0; i < ngroups; i++) {
			snprintf(name, sizeof name, "%s%0*d", prefix, prefix[0] == 'g' ? 2 : 1, i);
			e_file(sub, name, strlen(name), 100 + (uint64_t)i);
			e_file(z, name, strlen(name), 100 + (uint64_t)i);
		}
		e_start(u, 2);
		ok = put_tree(sub, sid) == 0 && put_tree(z, zid) == 0;
	}
	if (ok) {
		e_dir(u, "sub", sid);
		e_file(u, "t", 1, 0);
		e_start(root, 2);
		ok = put_tree(u, uid_) == 0;
	}
	if (ok) {
		e_dir_as(root, "u", uid_, NOBODY, 0755);
		e_dir(root, "z", zid);
		ok = put_tree(root, rid) == 0 && session_snapshot(rid, &snap) == 0 &&
		     race_target(casename, target, sizeof target) == 0;
	}
	free(sub);
	free(u);
	free(z);
	free(root);
	if (!ok) {
		printf("  %s: setup failed\n", casename);
		return 0;
	}
	snprintf(sa.a, sizeof sa.a, "%s/u/.s", target);
	snprintf(sa.b, sizeof sa.b, "%s/u/sub", target);
	rc = restore_foreign(&snap, target, act ? on_entry : NULL, &t, &err);
	if (rc) {
		printf("  %s: restore: %s\n", casename, err.msg);
		ok = 0;
	}
	if (act && !(t.fired && t.result == 0)) {
		printf("  %s: the swap did not happen (%d %d)\n", casename, t.fired, t.result);
		ok = 0;
	}
	for (int i = 0; i < ngroups; i++) {
		snprintf(name, sizeof name, "%s%0*d", prefix, prefix[0] == 'g' ? 2 : 1, i);
		/* The first member as restored: under .s once exchanged. */
		snprintf(p1, sizeof p1, "%s/u/%s/%s", target, act ? ".s" : "sub", name);
		snprintf(p2, sizeof p2, "%s/z/%s", target, name);
		if (lstat(p2, &s2) != 0 || !S_ISREG(s2.st_mode) || read_small(p2, buf, sizeof buf) != 0 ||
		    strcmp(buf, EVIL) != 0) {
			printf("  %s: %s is not a restored file\n", casename, p2);
			ok = 0;
			continue;
		}
		if (lstat(p1, &s1) == 0 && s1.st_ino == s2.st_ino)
			linked++;
		else
			copies++;
	}
	printf("  %s: %d linked, %d copies\n", casename, linked, copies);
	rm_tree(target);
	if (canaries_changed() != 0)
		ok = 0;
	return ok ? linked : -1;
}

static void test_hardlink_first_member_moved(void)
{
	if (!race_ready("test_hardlink_first_member_moved"))
		return;
	REQUIRE(repo);
	/* Descriptors open for every group: all linked, even after the swap. */
	CHECK_EQ_INT(hardlink_case("hl_plain", HGROUPS, "h", NULL), HGROUPS);
	CHECK_EQ_INT(hardlink_case("hl_symlink", HGROUPS, "h", act_symlink_exchange), HGROUPS);
	CHECK_EQ_INT(hardlink_case("hl_owndir", HGROUPS, "h", act_own_dir_exchange), HGROUPS);
}

/* The same with more groups than descriptors may stay open (RLIMIT_NOFILE
 * 256: a batch budget of 64 files, 32 group descriptors): the 8 oldest
 * groups reopen their first member by path. Unswapped, that finds the
 * inode restored (all 40 linked); through a symlink it fails and through
 * her own directory it finds another inode: those 8 become copies.
 * Lowering the hard limit cannot be undone without CAP_SYS_RESOURCE
 * (containers drop it): this case runs last. */
static void test_hardlink_descriptor_bound(void)
{
	struct rlimit low = { 256, 256 };

	if (!race_ready("test_hardlink_descriptor_bound"))
		return;
	REQUIRE(repo && setrlimit(RLIMIT_NOFILE, &low) == 0);
	CHECK_EQ_INT(hardlink_case("hlb_plain", GGROUPS, "g", NULL), GGROUPS);
	CHECK_EQ_INT(hardlink_case("hlb_symlink", GGROUPS, "g", act_symlink_exchange), GGROUPS - 8);
	CHECK_EQ_INT(hardlink_case("hlb_owndir", GGROUPS, "g", act_own_dir_exchange), GGROUPS - 8);
}

/* ---- the racing user: a real second process, many restores ----
 *
 * A child running as 65534 watches u with inotify and, as each name the
 * restore creates appears, swaps it: FIFOs and devices for a symlink to
 * secret (renamed over, or RENAME_EXCHANGE), symlinks for a hard link to
 * her outside file, directories for such a hard link or for a directory
 * of hers brought in from outside the target, and once "t0"
 * appears, the finished u/sub (first members of hard-link groups h0..h7,
 * their second members in z) for a symlink to the outside directory.
 * Attempts take turns at what they attack (ATTACK_* by attempt % 4), since
 * a refused swap stops that restore before it reaches later entries.
 * After each attempt the canaries must be unchanged. */

#define RACE_ATTEMPTS 300
#define RACE_BUDGET_S 20        /* stop early on a slow machine: the count is printed */

typedef struct RaceShared {
	int running;                /* a restore is under way (parent writes) */
	int ready;                  /* the child watches u (child writes) */
	unsigned long swaps, mid;   /* renames that succeeded; of those, during a restore */
	int nhers;                  /* directories of hers brought into u (child writes) */
	ino_t hers[16];
} RaceShared;

enum { ATTACK_SPECIAL = 1, ATTACK_SYMLINK = 2, ATTACK_DIR = 4, ATTACK_SUB = 8 };

static const int race_attacks[4] = { ATTACK_SPECIAL, ATTACK_SYMLINK, ATTACK_DIR, ATTACK_SUB };

static void race_child(RaceShared *sh, const char *u, int attempt)
{
	int attack = race_attacks[attempt % 4];
	char buf[4096] __attribute__((aligned(8))), tmpn[64];
	int in, ufd, n = 0, sub_done = 0;

	if (drop_to_nobody() != 0)
		_exit(2);
	ufd = open(u, O_PATH | O_DIRECTORY | O_CLOEXEC);
	in = inotify_init1(IN_CLOEXEC);
	if (ufd < 0 || in < 0 || inotify_add_watch(in, u, IN_CREATE) < 0 ||
	    symlinkat(r_out, ufd, ".evil") != 0)
		_exit(3);
	__atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		ssize_t len = read(in, buf, sizeof buf);
		if (len <= 0)
			continue;
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			const char *name = ev->name;
			int done = -1;
			p += sizeof *ev + ev->len;
			if (ev->len == 0 || name[0] == '.')
				continue;
			snprintf(tmpn, sizeof tmpn, ".t%d", n++);
			if ((name[0] == 'f' || name[0] == 'c') && (attack & ATTACK_SPECIAL)) {
				if (symlinkat(r_secret, ufd, tmpn) == 0)
					done = n % 2 ? renameat2(ufd, tmpn, ufd, name, RENAME_EXCHANGE)
					             : renameat(ufd, tmpn, ufd, name);
			} else if (name[0] == 'd' && (attack & ATTACK_DIR) && n % 2) {
				/* Root's new directory aside, a directory of hers from
				 * outside the target in its place. */
				char hers[200];
				struct stat st;
				snprintf(hers, sizeof hers, "%s/a%d-%s%s", r_home, attempt, name, tmpn);
				if (mkdir(hers, 0755) == 0 && lstat(hers, &st) == 0 && renameat(ufd, name, ufd, tmpn) == 0 &&
				    (done = renameat(AT_FDCWD, hers, ufd, name)) == 0 && sh->nhers < 16)
					sh->hers[sh->nhers++] = st.st_ino;
			} else if ((name[0] == 'l' && (attack & ATTACK_SYMLINK)) || (name[0] == 'd' && (attack & ATTACK_DIR))) {
				if (linkat(AT_FDCWD, r_mine, ufd, tmpn, 0) == 0)
					done = name[0] == 'd' || n % 2 ? renameat2(ufd, tmpn, ufd, name, RENAME_EXCHANGE)
					                               : renameat(ufd, tmpn, ufd, name);
			} else if (name[0] == 't' && (attack & ATTACK_SUB) && !sub_done) {
				sub_done = 1;
				done = renameat2(ufd, ".evil", ufd, "sub", RENAME_EXCHANGE);
			}
			if (done == 0) {
				__atomic_add_fetch(&sh->swaps, 1, __ATOMIC_SEQ_CST);
				if (__atomic_load_n(&sh->running, __ATOMIC_SEQ_CST))
					__atomic_add_fetch(&sh->mid, 1, __ATOMIC_SEQ_CST);
			}
		}
	}
}

/* The race's snapshot: u { c0..c7 devices 04666, d0..d7 directories (each
 * two files), f00..f31 FIFOs 04777, l0..l7 symlinks, sub { h0..h7 },
 * t0..t3 }, z { h0..h7 }. */
static int forge_race(Snapshot *snap)
{
	Enc *u = malloc(sizeof *u), *e = malloc(sizeof *e), *root = malloc(sizeof *root);
	uint8_t did[STRATA_ID_LEN], sid[STRATA_ID_LEN], zid[STRATA_ID_LEN], uid_[STRATA_ID_LEN], rid[STRATA_ID_LEN];
	char name[16];
	int ok = u && e && root && session_begin() == 0;

	if (ok) {
		e_start(e, 2);
		e_file(e, "a", 1, 0);
		e_file(e, "b", 1, 0);
		ok = put_tree(e, did) == 0;
	}
	if (ok) {
		e_start(e, HGROUPS);
		for (int i = 0; i < HGROUPS; i++) {
			snprintf(name, sizeof name, "h%d", i);
			e_file(e, name, strlen(name), 100 + (uint64_t)i);
		}
		ok = put_tree(e, sid) == 0 && put_tree(e, zid) == 0;   /* z holds the same names */
	}
	if (ok) {
		e_start(u, 8 + 8 + 32 + 8 + 1 + 4);
		for (int i = 0; i < 8; i++) {
			snprintf(name, sizeof name, "c%d", i);
			e_special(u, name, NODE_CHARDEV, 04666, makedev(1, 3));
		}
		for (int i = 0; i < 8; i++) {
			snprintf(name, sizeof name, "d%d", i);
			e_dir_as(u, name, did, 0, 0755);
		}
		for (int i = 0; i < 32; i++) {
			snprintf(name, sizeof name, "f%02d", i);
			e_special(u, name, NODE_FIFO, 04777, 0);
		}
		for (int i = 0; i < 8; i++) {
			snprintf(name, sizeof name, "l%d", i);
			e_symlink(u, name, "target", 0);
		}
		e_dir(u, "sub", sid);
		for (int i = 0; i < 4; i++) {
			snprintf(name, sizeof name, "t%d", i);
			e_file(u, name, strlen(name), 0);
		}
		ok = put_tree(u, uid_) == 0;
	}
	if (ok) {
		e_start(root, 2);
		e_dir_as(root, "u", uid_, NOBODY, 0755);
		e_dir(root, "z", zid);
		ok = put_tree(root, rid) == 0 && session_snapshot(rid, snap) == 0;
	}
	free(u);
	free(e);
	free(root);
	return ok ? 0 : -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* After a completed restore: every FIFO and device left in u that the
 * restore made (root's) has its mode, and no member in z is an outside
 * file. */
static int race_result_sane(const char *target)
{
	char path[500];
	struct stat st;
	int ok = 1;

	for (int i = 0; i < 32; i++) {
		snprintf(path, sizeof path, "%s/u/f%02d", target, i);
		if (lstat(path, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_uid == 0 && (st.st_mode & 07777) != 04777) {
			printf("  %s: mode %o\n", path, (unsigned)st.st_mode);
			ok = 0;
		}
	}
	for (int i = 0; i < HGROUPS; i++) {
		snprintf(path, sizeof path, "%s/z/h%d", target, i);
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0) {
			printf("  %s: missing or not root's\n", path);
			ok = 0;
		}
	}
	return ok;
}

/* The directories of hers brought into u from outside the target: still
 * hers, mode 0755, empty: the restore neither entered nor changed them. */
static int race_hers_untouched(const char *target, const RaceShared *sh)
{
	char u[400], path[700];
	DIR *d;
	struct dirent *de;
	int bad = 0;

	snprintf(u, sizeof u, "%s/u", target);
	d = opendir(u);
	if (!d)
		return 1;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		DIR *in;
		int n = 0, hers = 0;
		snprintf(path, sizeof path, "%s/%s", u, de->d_name);
		if (de->d_name[0] == '.' || lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		for (int i = 0; i < sh->nhers; i++)
			hers |= sh->hers[i] == st.st_ino;
		if (!hers)
			continue;
		in = opendir(path);
		while (in && readdir(in))
			n++;
		if (in)
			closedir(in);
		if (st.st_uid != NOBODY || (st.st_mode & 07777) != 0755 || n != 2) {   /* 2: "." and ".." */
			if (!canaries_quiet)
				printf("  %s: her directory was changed\n", path);
			bad++;
		}
	}
	closedir(d);
	return bad == 0;
}

static void test_race_nobody(void)
{
	RaceShared *sh;
	Snapshot snap;
	StrataErr err;
	char target[300], u[320];
	unsigned long swaps = 0, mid = 0;
	int attempts = 0, completed = 0, refused = 0, failed = 0, escaped = 0, insane = 0, hers_changed = 0;
	int tried_by[4] = {0}, escaped_by[4] = {0};
	double t0 = now_s();

	if (!race_ready("test_race_nobody"))
		return;
	REQUIRE(repo && forge_race(&snap) == 0);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(sh != MAP_FAILED);
	while (attempts < RACE_ATTEMPTS && now_s() - t0 < RACE_BUDGET_S) {
		pid_t pid;
		int rc, st;
		attempts++;
		tried_by[(attempts - 1) % 4]++;
		REQUIRE(race_target("race", target, sizeof target) == 0);
		snprintf(u, sizeof u, "%s/u", target);
		memset(sh, 0, sizeof *sh);
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0)
			race_child(sh, u, attempts - 1);
		while (!__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) && waitpid(pid, &st, WNOHANG) == 0)
			usleep(50);
		if (!__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST)) {
			printf("  the racing child could not start\n");
			CHECK(0);
			break;
		}
		__atomic_store_n(&sh->running, 1, __ATOMIC_SEQ_CST);
		rc = restore_foreign(&snap, target, NULL, NULL, &err);
		__atomic_store_n(&sh->running, 0, __ATOMIC_SEQ_CST);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		swaps += sh->swaps;
		mid += sh->mid;
		canaries_quiet = escaped + hers_changed >= 3;
		if (!race_hers_untouched(target, sh))
			hers_changed++;
		if (rc == 0) {
			completed++;
			if (!race_result_sane(target))
				insane++;
		} else if (rc == STRATA_EREFUSED) {
			refused++;
		} else {
			failed++;        /* e.g. a directory swapped before it was opened */
		}
		rm_tree(target);
		canaries_quiet = escaped >= 3;
		if (canaries_changed() != 0) {
			if (escaped < 3)
				printf("  attempt %d reached outside the target (rc %d: %s)\n", attempts - 1, rc, err.msg);
			escaped++;
			escaped_by[(attempts - 1) % 4]++;
		}
	}
	canaries_quiet = 0;
	munmap(sh, sizeof *sh);
	printf("  race: %d attempts in %.1f s, %lu swaps landed during restores (%lu in all); restores: %d "
	       "completed, %d refused a replaced entry, %d failed otherwise; %d reached outside the target, %d "
	       "entered or changed a directory of hers brought in\n",
	       attempts, now_s() - t0, mid, swaps, completed, refused, failed, escaped, hers_changed);
	printf("  race: reached outside, by attack: FIFOs and devices %d of %d, symlinks %d of %d, "
	       "directories %d of %d, the hard links' directory %d of %d\n", escaped_by[0], tried_by[0],
	       escaped_by[1], tried_by[1], escaped_by[2], tried_by[2], escaped_by[3], tried_by[3]);
	CHECK_EQ_INT(escaped, 0);
	CHECK_EQ_INT(hers_changed, 0);
	CHECK_EQ_INT(insane, 0);
	/* The premise: swaps did land while restores ran. */
	CHECK(mid > 0);
	CHECK(attempts > 0);
}

static void rm_rf(const char *dir)
{
	char cmd[700];

	if (dir[0] != '/' || strstr(dir, "'"))
		return;
	snprintf(cmd, sizeof cmd, "chmod -R u+rwX '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
	if (system(cmd) != 0)
		printf("  cleanup of %s failed\n", dir);
}

int main(void)
{
	RUN(test_setup);
	RUN(test_watch_detects);
	RUN(test_dotdot_root);
	RUN(test_dotdot_nested);
	RUN(test_dot);
	RUN(test_dotdot_slash_escape);
	RUN(test_absolute_name);
	RUN(test_bad_bytes);
	RUN(test_symlink_then_dir_same_name);
	RUN(test_symlink_then_file_same_name);
	RUN(test_symlink_dotdot_then_dir);
	RUN(test_symlink_race_two_snapshots);
	RUN(test_hardlink_outside);
	RUN(test_existing_file);
	RUN(test_existing_symlink_dir);
	RUN(test_verify_mis_sealed);
	RUN(test_foreign_dirs);
	RUN(test_foreign_dir_nested);
	RUN(test_fifo_dev_modes);
	RUN(test_swap_tracer_control);
	RUN(test_swap_after_create);
	RUN(test_dir_swapped_during_restore);
	RUN(test_hardlink_first_member_moved);
	RUN(test_race_nobody);
	RUN(test_hardlink_descriptor_bound);     /* last: lowers RLIMIT_NOFILE for good */
	blobwriter_free(bw);
	codec_ctx_free(cctx);
	repo_close(repo);
	if (tmp[0])
		rm_rf(tmp);
	if (outside[0])
		rm_rf(outside);
	if (rbase[0])
		rm_tree(rbase);
	return CHECK_EXIT();
}
