/* test_backend_local.c — the local directory backend through the public
 * backend_* interface: round trips, atomic overwrite, the errors a caller
 * must tell apart, name rules, file and directory modes, listing, and no
 * temporary files left behind. */
#include "remote/backend.h"
#include "tests/check.h"
#include "tests/test_tmp.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base_dir[256];
static int dir_seq;

/* A fresh repository directory (not yet created) for each test. */
static void new_root(char *out, size_t len)
{
	snprintf(out, len, "%s/r%d", base_dir, ++dir_seq);
}

static int temp_found;

static int find_temp(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag;
	if (strncmp(path + ftw->base, ".tmp-", 5) == 0)
		temp_found++;
	return 0;
}

static Backend *open_local(const char *root)
{
	RemoteErr err;
	Backend *be = NULL;
	int rc = backend_open(root, &be, &err);

	if (rc != 0)
		printf("  backend_open(%s): %d %s\n", root, rc, err.msg);
	return be;
}

static int put_str(Backend *be, const char *name, const char *s)
{
	RemoteErr err;
	int rc = backend_put(be, name, s, strlen(s), &err);

	if (rc != 0)
		printf("  put %s: %d %s\n", name, rc, err.msg);
	return rc;
}

static void test_round_trip(void)
{
	char root[300];
	const char *text = "0123456789abcdef";
	RemoteErr err;
	uint8_t *buf = NULL, range[6];
	size_t len = 0;
	uint64_t size = 0;
	Backend *be;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	CHECK_EQ_INT(put_str(be, "data/3f/3fa1", text), 0);
	CHECK_EQ_INT(backend_get(be, "data/3f/3fa1", SIZE_MAX, &buf, &len, &err), 0);
	CHECK_EQ_INT(len, strlen(text));
	CHECK(buf && memcmp(buf, text, len) == 0);
	free(buf);
	CHECK_EQ_INT(backend_stat(be, "data/3f/3fa1", &size, &err), 0);
	CHECK_EQ_INT(size, 16);
	CHECK_EQ_INT(backend_get_range(be, "data/3f/3fa1", 10, 6, range, &err), 0);
	CHECK(memcmp(range, "abcdef", 6) == 0);
	CHECK_EQ_INT(backend_get_range(be, "data/3f/3fa1", 0, 1, range, &err), 0);
	CHECK(range[0] == '0');

	/* An empty object is an object. */
	CHECK_EQ_INT(backend_put(be, "locks/empty", "", 0, &err), 0);
	buf = NULL;
	CHECK_EQ_INT(backend_get(be, "locks/empty", SIZE_MAX, &buf, &len, &err), 0);
	CHECK_EQ_INT(len, 0);
	free(buf);

	CHECK_EQ_INT(backend_delete(be, "data/3f/3fa1", &err), 0);
	CHECK_EQ_INT(backend_stat(be, "data/3f/3fa1", &size, &err), -ENOENT);
	backend_free(be);
}

static void test_location_forms(void)
{
	char root[300], loc[320], cwd[1024];
	RemoteErr err;
	uint64_t size = 0;
	Backend *be = NULL;

	new_root(root, sizeof(root));
	snprintf(loc, sizeof(loc), "local:%s", root);
	be = open_local(loc);
	REQUIRE(be);
	CHECK_STR(be->location, loc);
	CHECK_EQ_INT(put_str(be, "config", "c"), 0);
	backend_free(be);

	/* Plain absolute path with trailing slashes: same directory. */
	snprintf(loc, sizeof(loc), "%s//", root);
	be = open_local(loc);
	REQUIRE(be);
	CHECK_EQ_INT(backend_stat(be, "config", &size, &err), 0);
	CHECK_EQ_INT(size, 1);
	backend_free(be);

	/* Relative path: resolved against the working directory. */
	REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
	REQUIRE(chdir(base_dir) == 0);
	snprintf(loc, sizeof(loc), "r%d", dir_seq);
	be = open_local(loc);
	CHECK(be != NULL);
	if (be)
		CHECK_EQ_INT(backend_stat(be, "config", &size, &err), 0);
	backend_free(be);
	REQUIRE(chdir(cwd) == 0);

	be = NULL;
	CHECK_EQ_INT(backend_open("", &be, &err), -EINVAL);
	CHECK_EQ_INT(backend_open("local:", &be, &err), -EINVAL);
	CHECK_EQ_INT(backend_open("sftp:host:/srv/repo", &be, &err), -ENOTSUP);
	CHECK(strstr(err.msg, "sftp") != NULL);
	CHECK(be == NULL);
	backend_free(NULL);
}

static void test_s3_dispatch(void)
{
	RemoteErr err;
	Backend *be = NULL;

	/* Opening an S3 location touches no network; it needs credentials. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	CHECK_EQ_INT(backend_open("s3:http://127.0.0.1:9/bucket/some/prefix", &be, &err), 0);
	if (be)
		CHECK_STR(be->location, "s3:http://127.0.0.1:9/bucket/some/prefix");
	backend_free(be);
	be = NULL;
	CHECK_EQ_INT(backend_open("s3://bucket", &be, &err), 0);
	backend_free(be);
	be = NULL;
	CHECK_EQ_INT(backend_open("s3:ftp://host/bucket", &be, &err), -EINVAL);
	CHECK_EQ_INT(backend_open("s3://", &be, &err), -EINVAL);
	CHECK(be == NULL);
}

static void test_missing(void)
{
	char root[300];
	RemoteErr err;
	uint8_t *buf = NULL, b[4];
	size_t len = 0;
	uint64_t size = 0;
	Backend *be;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	/* The root itself does not exist yet: every read says ENOENT. */
	CHECK_EQ_INT(backend_get(be, "config", SIZE_MAX, &buf, &len, &err), -ENOENT);
	CHECK(strstr(err.msg, "config") != NULL);
	CHECK(strstr(err.msg, "No such file") != NULL);
	CHECK_EQ_INT(backend_stat(be, "config", &size, &err), -ENOENT);
	CHECK_EQ_INT(backend_get_range(be, "config", 0, 1, b, &err), -ENOENT);
	CHECK_EQ_INT(backend_delete(be, "config", &err), -ENOENT);
	CHECK_EQ_INT(put_str(be, "data/00/x", "x"), 0);
	CHECK_EQ_INT(backend_get(be, "data/00/y", SIZE_MAX, &buf, &len, &err), -ENOENT);
	/* A directory is not an object; a file is not a directory. */
	CHECK_EQ_INT(backend_get(be, "data/00", SIZE_MAX, &buf, &len, &err), -ENOENT);
	CHECK_EQ_INT(backend_stat(be, "data", &size, &err), -ENOENT);
	CHECK_EQ_INT(backend_delete(be, "data", &err), -ENOENT);
	CHECK_EQ_INT(backend_get(be, "data/00/x/y", SIZE_MAX, &buf, &len, &err), -ENOENT);
	CHECK(buf == NULL);
	backend_free(be);
}

static void test_range(void)
{
	char root[300];
	RemoteErr err;
	uint8_t b[16];
	Backend *be;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	CHECK_EQ_INT(put_str(be, "obj", "abcdefgh"), 0);
	CHECK_EQ_INT(backend_get_range(be, "obj", 0, 8, b, &err), 0);
	CHECK_EQ_INT(backend_get_range(be, "obj", 7, 1, b, &err), 0);
	CHECK(b[0] == 'h');
	CHECK_EQ_INT(backend_get_range(be, "obj", 8, 0, b, &err), 0);
	CHECK_EQ_INT(backend_get_range(be, "obj", 7, 2, b, &err), -ERANGE);
	CHECK(strstr(err.msg, "obj") != NULL);
	CHECK_EQ_INT(backend_get_range(be, "obj", 0, 9, b, &err), -ERANGE);
	CHECK_EQ_INT(backend_get_range(be, "obj", 9, 0, b, &err), -ERANGE);
	CHECK_EQ_INT(backend_get_range(be, "obj", UINT64_MAX, 2, b, &err), -EINVAL);
	backend_free(be);
}

/* Large objects go through the O_DIRECT path (the aligned part straight
 * from a page-aligned source or through a bounce buffer, then the tail
 * buffered); sizes around the 1 MiB threshold and the 4 KiB alignment
 * must round-trip byte for byte, from an aligned and an unaligned source,
 * on disk and on tmpfs (where O_DIRECT may be refused and the write falls
 * back to buffered). */
static void large_round_trips(const char *root)
{
	static const size_t sizes[] = {
		(1u << 20) - 1, 1u << 20, (1u << 20) + 1, (3u << 20) + 4095, (5u << 20) + 4096, (7u << 20) + 17,
	};
	void *mem = NULL;
	uint8_t *src, *got = NULL;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	RemoteErr err;
	size_t len, i;
	Backend *be = open_local(root);

	REQUIRE(be && posix_memalign(&mem, 4096, (8u << 20) + 4096) == 0);
	src = mem;
	for (i = 0; i < (8u << 20) + 4096; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		src[i] = (uint8_t)x;
	}
	for (size_t shift = 0; shift <= 1; shift++) {
		for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			char name[32];

			snprintf(name, sizeof name, "data/%02zu/big%zu", i, shift);
			CHECK_EQ_INT(backend_put(be, name, src + shift, sizes[i], &err), 0);
			CHECK_EQ_INT(backend_get(be, name, SIZE_MAX, &got, &len, &err), 0);
			CHECK(len == sizes[i]);
			CHECK(got && memcmp(got, src + shift, sizes[i]) == 0);
			free(got);
			got = NULL;
		}
	}
	temp_found = 0;
	nftw(root, find_temp, 16, FTW_PHYS);
	CHECK_EQ_INT(temp_found, 0);
	free(mem);
	backend_free(be);
}

static void test_large_objects(void)
{
	char root[300], shm[64];

	new_root(root, sizeof(root));
	large_round_trips(root);
	snprintf(shm, sizeof shm, "/dev/shm/strata-test-local.%d", (int)getpid());
	if (access("/dev/shm", W_OK) == 0) {
		large_round_trips(shm);
		rm_rf(shm);
	}
}

/* backend_get's max_bytes: an object of exactly the bound reads, one byte
 * more is -EFBIG with the contract's message and nothing written to the
 * outputs; a 3 GiB sparse file is refused from its size alone, with no
 * memory spent on it. */
static void test_get_capped(void)
{
	char root[300], path[400], want[600];
	uint8_t *buf = NULL, src[100];
	size_t len = 7;
	struct rusage ru;
	RemoteErr err;
	Backend *be;
	FILE *f;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	memset(src, 'x', sizeof src);
	CHECK_EQ_INT(backend_put(be, "snapshots/s", src, sizeof src, &err), 0);
	CHECK_EQ_INT(backend_get(be, "snapshots/s", 100, &buf, &len, &err), 0);
	CHECK(len == 100 && buf && memcmp(buf, src, 100) == 0);
	free(buf);
	buf = NULL;
	len = 7;
	CHECK_EQ_INT(backend_get(be, "snapshots/s", 99, &buf, &len, &err), -EFBIG);
	snprintf(want, sizeof want, "local:%s/snapshots/s: 100 bytes, larger than the 99 bytes allowed", root);
	CHECK_STR(err.msg, want);
	CHECK(buf == NULL && len == 7);
	/* Empty objects still read under a bound of 0. */
	CHECK_EQ_INT(backend_put(be, "locks/empty", "", 0, &err), 0);
	CHECK_EQ_INT(backend_get(be, "locks/empty", 0, &buf, &len, &err), 0);
	CHECK_EQ_INT(len, 0);
	free(buf);
	buf = NULL;

	snprintf(path, sizeof path, "%s/locks/huge", root);
	f = fopen(path, "w");
	REQUIRE(f);
	CHECK(ftruncate(fileno(f), (off_t)3 << 30) == 0);
	fclose(f);
	CHECK_EQ_INT(backend_get(be, "locks/huge", (size_t)64 << 10, &buf, &len, &err), -EFBIG);
	snprintf(want, sizeof want, "local:%s/locks/huge: 3221225472 bytes, larger than the 65536 bytes allowed", root);
	CHECK_STR(err.msg, want);
	CHECK(buf == NULL);
	/* Refused from fstat: this process never held the file's 3 GiB (the
	 * large round trips above peak at about 24 MiB). */
	CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss < 512 * 1024);
	backend_free(be);
}

static void test_bad_names(void)
{
	static const char *const bad[] = {
		"", "/abs", "a//b", "a/", ".", "..", "a/../b", "a/./b", "../x",
		".hidden", "data/.tmp-123456", "a\nb", "tab\there",
	};
	char root[300], longname[600];
	RemoteErr err;
	uint8_t *buf, b[1];
	size_t len, i;
	uint64_t size;
	Backend *be;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(backend_put(be, bad[i], "x", 1, &err), -EINVAL);
		CHECK_EQ_INT(backend_get(be, bad[i], SIZE_MAX, &buf, &len, &err), -EINVAL);
		CHECK_EQ_INT(backend_get_range(be, bad[i], 0, 1, b, &err), -EINVAL);
		CHECK_EQ_INT(backend_stat(be, bad[i], &size, &err), -EINVAL);
		CHECK_EQ_INT(backend_delete(be, bad[i], &err), -EINVAL);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_EQ_INT(backend_put(be, longname, "x", 1, &err), -EINVAL);
	CHECK_EQ_INT(backend_list(be, "/", NULL, NULL, &err), -EINVAL);
	CHECK_EQ_INT(backend_list(be, "../", NULL, NULL, &err), -EINVAL);
	CHECK_EQ_INT(backend_list(be, "a//", NULL, NULL, &err), -EINVAL);
	CHECK_EQ_INT(backend_list(be, "data/.t", NULL, NULL, &err), -EINVAL);
	/* Nothing was created by any of the refused calls. */
	CHECK(access(root, F_OK) != 0);
	backend_free(be);
}

static void test_modes(void)
{
	char root[300], path[400];
	struct stat st;
	mode_t old = umask(022);
	Backend *be;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	CHECK_EQ_INT(put_str(be, "data/3f/3fa1", "secret bytes"), 0);
	snprintf(path, sizeof(path), "%s/data/3f/3fa1", root);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/data/3f", root);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/data", root);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0700);
	REQUIRE(stat(root, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0700);
	/* Overwriting keeps the mode. */
	CHECK_EQ_INT(put_str(be, "data/3f/3fa1", "other bytes"), 0);
	snprintf(path, sizeof(path), "%s/data/3f/3fa1", root);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	backend_free(be);
	umask(old);
}

static void permission_checks(const char *root)
{
	char path[400];
	RemoteErr err;
	uint8_t *buf = NULL;
	size_t len;
	Backend *be;

	be = open_local(root);
	REQUIRE(be);
	CHECK_EQ_INT(put_str(be, "keys/k1", "k"), 0);
	snprintf(path, sizeof(path), "%s/keys", root);
	REQUIRE(chmod(path, 0500) == 0);
	CHECK_EQ_INT(backend_put(be, "keys/k2", "k", 1, &err), -EACCES);
	CHECK(strstr(err.msg, "keys/k2") != NULL);
	CHECK(strstr(err.msg, "Permission denied") != NULL);
	REQUIRE(chmod(path, 0000) == 0);
	CHECK_EQ_INT(backend_get(be, "keys/k1", SIZE_MAX, &buf, &len, &err), -EACCES);
	CHECK(strstr(err.msg, "keys/k1") != NULL);
	REQUIRE(chmod(path, 0700) == 0);
	backend_free(be);
}

/* Root ignores permission bits, so as root the checks run in a child that
 * has become "nobody", inside a directory it may write. */
static void test_permission_denied(void)
{
	char root[320], dir[290];
	pid_t pid;
	int status = 0;

	if (geteuid() != 0) {
		new_root(root, sizeof(root));
		permission_checks(root);
		return;
	}
	snprintf(dir, sizeof(dir), "%s/nobody", base_dir);
	REQUIRE(mkdir(dir, 0777) == 0 && chmod(dir, 0777) == 0 && chmod(base_dir, 0755) == 0);
	snprintf(root, sizeof(root), "%s/repo", dir);
	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		/* A private TMPDIR may be closed to "nobody": nothing to test. */
		if (access(dir, W_OK | X_OK) != 0)
			_exit(3);
		permission_checks(root);
		fflush(stdout);
		_exit(check_test_failed_ ? 1 : 0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
		printf("  (skipped: %s is not reachable for uid 65534)\n", dir);
	else
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	chmod(base_dir, 0700);
}

typedef struct Seen {
	char names[32][64];
	uint64_t sizes[32];
	int n;
	int stop_after;         /* 0: never */
} Seen;

static int collect(const char *name, uint64_t size, void *ctx)
{
	Seen *s = ctx;

	if (s->n < 32) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		s->sizes[s->n] = size;
	}
	s->n++;
	if (s->stop_after && s->n >= s->stop_after)
		return 7;
	return 0;
}

static int seen_has(const Seen *s, const char *name, uint64_t size)
{
	int i;

	for (i = 0; i < s->n && i < 32; i++)
		if (strcmp(s->names[i], name) == 0)
			return s->sizes[i] == size;
	return 0;
}

static int list_count(Backend *be, const char *prefix, Seen *s)
{
	RemoteErr err;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = backend_list(be, prefix, collect, s, &err);
	if (rc != 0)
		printf("  list %s: %d %s\n", prefix, rc, err.msg);
	return rc == 0 ? s->n : -1;
}

static void test_list(void)
{
	char root[300], path[400];
	RemoteErr err;
	Seen s;
	FILE *f;
	Backend *be;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	CHECK_EQ_INT(list_count(be, "", &s), 0);       /* no root yet */
	CHECK_EQ_INT(list_count(be, "data/", &s), 0);
	CHECK_EQ_INT(put_str(be, "config", "cfg"), 0);
	CHECK_EQ_INT(put_str(be, "keys/k1", "key1"), 0);
	CHECK_EQ_INT(put_str(be, "snapshots/s1", "s"), 0);
	CHECK_EQ_INT(put_str(be, "snapshots/s12", "ss"), 0);
	CHECK_EQ_INT(put_str(be, "data/3f/a1", "aaaaa"), 0);
	CHECK_EQ_INT(put_str(be, "data/3f/a2", "a2"), 0);
	CHECK_EQ_INT(put_str(be, "data/40/b1", "b"), 0);
	CHECK_EQ_INT(put_str(be, "datafile", "df"), 0);
	/* A stray temp file from an interrupted write is not an object. */
	snprintf(path, sizeof(path), "%s/data/3f/.tmp-abcdef", root);
	f = fopen(path, "w");
	REQUIRE(f);
	fputs("partial", f);
	fclose(f);

	CHECK_EQ_INT(list_count(be, "", &s), 8);
	CHECK(seen_has(&s, "config", 3));
	CHECK(seen_has(&s, "data/3f/a1", 5));
	CHECK(seen_has(&s, "datafile", 2));
	CHECK_EQ_INT(list_count(be, "data/", &s), 3);
	CHECK(seen_has(&s, "data/3f/a1", 5) && seen_has(&s, "data/3f/a2", 2) && seen_has(&s, "data/40/b1", 1));
	CHECK_EQ_INT(list_count(be, "data", &s), 4);
	CHECK(seen_has(&s, "datafile", 2));
	CHECK_EQ_INT(list_count(be, "data/3", &s), 2);
	CHECK_EQ_INT(list_count(be, "data/3f/", &s), 2);
	CHECK_EQ_INT(list_count(be, "data/3f/a1", &s), 1);
	CHECK_EQ_INT(list_count(be, "snapshots/s1", &s), 2);
	CHECK_EQ_INT(list_count(be, "snapshots/s12", &s), 1);
	CHECK(seen_has(&s, "snapshots/s12", 2));
	CHECK_EQ_INT(list_count(be, "nothing/", &s), 0);
	CHECK_EQ_INT(list_count(be, "nothing/deeper", &s), 0);
	CHECK_EQ_INT(list_count(be, "config/", &s), 0);         /* a file, not a directory */
	CHECK_EQ_INT(list_count(be, "d", &s), 4);

	/* The callback stops the listing; list returns its value. */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	CHECK_EQ_INT(backend_list(be, "", collect, &s, &err), 7);
	CHECK_EQ_INT(s.n, 2);

	/* Deleted objects disappear from listings. */
	CHECK_EQ_INT(backend_delete(be, "data/40/b1", &err), 0);
	CHECK_EQ_INT(list_count(be, "data/", &s), 2);
	backend_free(be);
}

/* Write a file behind the backend's back. */
static int put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int collect_name(const char *name, void *ctx)
{
	return collect(name, 0, ctx);
}

/* Every name of a (names, no sizes) also in b, and the counts equal. */
static int same_names(const Seen *a, const Seen *b)
{
	if (a->n != b->n || a->n > 32)
		return 0;
	for (int i = 0; i < a->n; i++) {
		int found = 0;
		for (int j = 0; j < b->n; j++)
			found |= strcmp(a->names[i], b->names[j]) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* list_names reports exactly the objects list does, for every kind of
 * prefix, without following links or reporting directories, FIFOs and
 * temp files; it stops early like list. */
static void test_list_names(void)
{
	static const char *const prefixes[] = {
		"", "data/", "data", "data/3", "data/3f/", "snapshots/", "snapshots/s1",
		"nothing/", "config/", "d",
	};
	char root[300], path[400], target[400];
	RemoteErr err;
	Seen sized, named;
	Backend *be;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	memset(&named, 0, sizeof(named));
	CHECK_EQ_INT(backend_list_names(be, "snapshots/", collect_name, &named, &err), 0);
	CHECK_EQ_INT(named.n, 0);                       /* no root yet */
	CHECK_EQ_INT(put_str(be, "config", "cfg"), 0);
	CHECK_EQ_INT(put_str(be, "snapshots/s1", "s"), 0);
	CHECK_EQ_INT(put_str(be, "snapshots/s12", "ss"), 0);
	CHECK_EQ_INT(put_str(be, "data/3f/a1", "aaaaa"), 0);
	CHECK_EQ_INT(put_str(be, "data/40/b1", "b"), 0);
	CHECK_EQ_INT(put_str(be, "datafile", "df"), 0);
	/* Not objects: a temp file, links to a file and to a directory, a
	 * FIFO, and an empty directory. */
	snprintf(path, sizeof(path), "%s/snapshots/.tmp-abcdef", root);
	REQUIRE(put_file(path, "partial") == 0);
	snprintf(path, sizeof(path), "%s/snapshots/link", root);
	snprintf(target, sizeof(target), "%s/config", root);
	CHECK_EQ_INT(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/data/linkdir", root);
	snprintf(target, sizeof(target), "%s/data/3f", root);
	CHECK_EQ_INT(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/snapshots/fifo", root);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/snapshots/emptydir", root);
	CHECK_EQ_INT(mkdir(path, 0700), 0);

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		int rc;

		CHECK(list_count(be, prefixes[i], &sized) >= 0);
		memset(&named, 0, sizeof(named));
		rc = backend_list_names(be, prefixes[i], collect_name, &named, &err);
		CHECK_EQ_INT(rc, 0);
		if (!same_names(&named, &sized))
			printf("  prefix \"%s\": list_names found %d, list %d\n", prefixes[i], named.n, sized.n);
		CHECK(same_names(&named, &sized));
	}
	CHECK_EQ_INT(list_count(be, "snapshots/", &sized), 2);
	/* Neither the directory symlink nor what it points at twice. */
	CHECK_EQ_INT(list_count(be, "data/", &sized), 2);
	CHECK_EQ_INT(list_count(be, "", &sized), 6);   /* the six put above */

	memset(&named, 0, sizeof(named));
	named.stop_after = 1;
	CHECK_EQ_INT(backend_list_names(be, "", collect_name, &named, &err), 7);
	CHECK_EQ_INT(named.n, 1);
	CHECK_EQ_INT(backend_list_names(be, "../", collect_name, &named, &err), -EINVAL);
	backend_free(be);
}

/* list_info: the same objects as list, each with its file's mtime as
 * the upload time and no storage class; it stops early like list. */
typedef struct Infos {
	int n, stop_after, bad;
	int64_t mtime_a1;
} Infos;

static int collect_info(const char *name, const BackendObjInfo *info, void *ctx)
{
	Infos *in = ctx;

	if (info->storage_class[0] || info->archived || info->has_sha256)
		in->bad++;
	if (strcmp(name, "data/3f/a1") == 0) {
		in->mtime_a1 = info->mtime_s;
		if (info->size != 5)
			in->bad++;
	}
	in->n++;
	return in->stop_after && in->n >= in->stop_after ? 9 : 0;
}

static void test_list_info(void)
{
	char root[300], path[400];
	struct timespec times[2];
	RemoteErr err;
	Infos in;
	Backend *be;

	new_root(root, sizeof(root));
	be = open_local(root);
	REQUIRE(be);
	CHECK_EQ_INT(put_str(be, "data/3f/a1", "aaaaa"), 0);
	CHECK_EQ_INT(put_str(be, "data/40/b1", "b"), 0);
	CHECK_EQ_INT(put_str(be, "config", "cfg"), 0);
	snprintf(path, sizeof(path), "%s/data/3f/a1", root);
	times[0].tv_sec = times[1].tv_sec = 1234567890;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	REQUIRE(utimensat(AT_FDCWD, path, times, 0) == 0);
	memset(&in, 0, sizeof(in));
	in.mtime_a1 = -2;
	CHECK_EQ_INT(backend_list_info(be, "data/", collect_info, &in, &err), 0);
	CHECK_EQ_INT(in.n, 2);
	CHECK_EQ_INT(in.bad, 0);
	CHECK(in.mtime_a1 == 1234567890);
	memset(&in, 0, sizeof(in));
	in.stop_after = 1;
	CHECK_EQ_INT(backend_list_info(be, "", collect_info, &in, &err), 9);
	CHECK_EQ_INT(in.n, 1);
	backend_free(be);
}

/* Two payloads of different sizes; a reader racing the writer must always
 * see one of them whole. */
#define BIG_A (300 * 1024)
#define BIG_B (700 * 1024 + 3)

typedef struct Race {
	Backend *be;
	volatile int stop;
	int bad;
	int reads;
} Race;

static void *race_reader(void *arg)
{
	Race *r = arg;
	RemoteErr err;

	while (!r->stop) {
		uint8_t *buf = NULL;
		size_t len = 0, i;
		int rc = backend_get(r->be, "snapshots/current", SIZE_MAX, &buf, &len, &err);

		if (rc != 0) {
			r->bad++;
			continue;
		}
		if (len != BIG_A && len != BIG_B) {
			r->bad++;
		} else {
			uint8_t want = len == BIG_A ? 'A' : 'B';

			for (i = 0; i < len; i++)
				if (buf[i] != want) {
					r->bad++;
					break;
				}
		}
		r->reads++;
		free(buf);
	}
	return NULL;
}

static void test_overwrite_atomic(void)
{
	char root[300];
	RemoteErr err;
	uint8_t *a = malloc(BIG_A), *b = malloc(BIG_B);
	pthread_t th;
	Race r;
	int i;

	REQUIRE(a && b);
	memset(a, 'A', BIG_A);
	memset(b, 'B', BIG_B);
	memset(&r, 0, sizeof(r));
	new_root(root, sizeof(root));
	r.be = open_local(root);
	REQUIRE(r.be);
	CHECK_EQ_INT(backend_put(r.be, "snapshots/current", a, BIG_A, &err), 0);
	REQUIRE(pthread_create(&th, NULL, race_reader, &r) == 0);
	for (i = 0; i < 40; i++)
		CHECK_EQ_INT(backend_put(r.be, "snapshots/current", i % 2 ? a : b, i % 2 ? BIG_A : BIG_B, &err), 0);
	r.stop = 1;
	pthread_join(th, NULL);
	CHECK_EQ_INT(r.bad, 0);
	CHECK(r.reads > 0);
	temp_found = 0;
	nftw(root, find_temp, 16, FTW_PHYS);
	CHECK_EQ_INT(temp_found, 0);
	backend_free(r.be);
	free(a);
	free(b);
}

typedef struct Writer {
	Backend *be;
	int id;
	int failures;
} Writer;

static void *writer(void *arg)
{
	Writer *w = arg;
	RemoteErr err;
	char name[64], body[32];
	int i;

	for (i = 0; i < 50; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;

		/* All threads create the same new directories at once. */
		snprintf(name, sizeof(name), "data/%02x/t%d-%d", i % 8, w->id, i);
		snprintf(body, sizeof(body), "%d:%d", w->id, i);
		if (backend_put(w->be, name, body, strlen(body), &err) != 0 ||
		    backend_get(w->be, name, SIZE_MAX, &buf, &len, &err) != 0 ||
		    len != strlen(body) || memcmp(buf, body, len) != 0) {
			printf("  thread %d %s: %s\n", w->id, name, err.msg);
			w->failures++;
		}
		free(buf);
	}
	return NULL;
}

static void test_threads(void)
{
	char root[300];
	pthread_t th[4];
	Writer w[4];
	Seen s;
	int i;

	new_root(root, sizeof(root));
	memset(w, 0, sizeof(w));
	w[0].be = open_local(root);
	REQUIRE(w[0].be);
	for (i = 0; i < 4; i++) {
		w[i].be = w[0].be;
		w[i].id = i;
		REQUIRE(pthread_create(&th[i], NULL, writer, &w[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(w[i].failures, 0);
	}
	CHECK_EQ_INT(list_count(w[0].be, "data/", &s), 200);
	temp_found = 0;
	nftw(root, find_temp, 16, FTW_PHYS);
	CHECK_EQ_INT(temp_found, 0);
	backend_free(w[0].be);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(base_dir, sizeof(base_dir), "%s/strata-test-local.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_round_trip);
	RUN(test_location_forms);
	RUN(test_s3_dispatch);
	RUN(test_missing);
	RUN(test_range);
	RUN(test_large_objects);
	RUN(test_get_capped);
	RUN(test_bad_names);
	RUN(test_modes);
	RUN(test_permission_denied);
	RUN(test_list);
	RUN(test_list_names);
	RUN(test_list_info);
	RUN(test_overwrite_atomic);
	RUN(test_threads);
	rm_rf(base_dir);
	return CHECK_EXIT();
}
