/* test_restore_safety.c — a hostile snapshot cannot make restore_run write
 * outside its target (FORMAT.md §11 "Tree object", §14 "Security";
 * store/restore.h "Safety").
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/codec.h"
#include "store/repo.h"
#include "store/repo_internal.h"
#include "store/restore.h"
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

/* A node header; with link != 0, FLAGS bit 0 and DEV 1 / INO link / NLINK 2. */
static void e_head(Enc *e, const char *name, size_t name_len, uint8_t type, uint32_t mode,
                   uint64_t size, uint64_t link)
{
	e_uv(e, name_len);
	e_bytes(e, name, name_len);
	e_u8(e, type);
	e_uv(e, mode);
	e_uv(e, (uint64_t)getuid());
	e_uv(e, (uint64_t)getgid());
	e_uv(e, 2000000000ull);            /* zigzag(1e9 ns) */
	e_uv(e, size);
	e_u8(e, link ? 1 : 0);
	if (link) {
		e_uv(e, 1);
		e_uv(e, link);
		e_uv(e, 2);
	}
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
	blobwriter_free(bw);
	codec_ctx_free(cctx);
	repo_close(repo);
	if (tmp[0])
		rm_rf(tmp);
	if (outside[0])
		rm_rf(outside);
	return CHECK_EXIT();
}
