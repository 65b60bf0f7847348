/* test_lock.c — unit tests for store/lock.c (FORMAT.md §19.1 "Locks"):
 * the lock record's codec, and locks taken against lock files planted in
 * a repository's locks/ by "other processes": which modes conflict, the
 * exact message naming the holder, stale locks ignored, files that are not
 * locks of this repository ignored with a warning, authentic locks that
 * cannot be read blocking every mode, listing and removal, and a lock
 * whose file is removed reported lost.
 *
 * TZ=UTC is set before anything runs, so holder times read the same on
 * every machine. */
#include "store/format.h"
#include "store/lock.h"
#include "store/lock_internal.h"
#include "store/repo_internal.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


static Repo *repo;

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Another machine's lock, refreshed age_s seconds ago, created at the
 * epoch (1970-01-01 00:00:00 UTC in messages). */
static LockRecord foreign(LockMode mode, const char *command, int64_t age_s)
{
	LockRecord r;

	memset(&r, 0, sizeof r);
	r.mode = mode;
	snprintf(r.command, sizeof r.command, "%s", command);
	snprintf(r.host, sizeof r.host, "otherhost");
	snprintf(r.user, sizeof r.user, "bob");
	snprintf(r.machine, sizeof r.machine, "other-boot/pid:[1]");
	r.pid = 42;
	r.pid_start = 7;
	r.created_ns = 0;
	r.refreshed_ns = wall_ns() - age_s * 1000000000LL;
	r.stale_after_s = 1800;
	return r;
}

/* Put raw bytes at locks/<id>; id is written (64 hex digits). */
static int plant_bytes(const void *buf, size_t len, char id[STRATA_ID_HEX_LEN + 1])
{
	uint8_t rid[STRATA_ID_LEN];
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};

	codec_random(rid, sizeof rid);
	codec_hex(rid, sizeof rid, id);
	snprintf(name, sizeof name, "locks/%s", id);
	return backend_put(repo->be, name, buf, len, &rerr);
}

static int plant(const LockRecord *r, char id[STRATA_ID_HEX_LEN + 1])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = lock_record_encode(repo->keys, r, &buf, &len);

	if (rc == 0)
		rc = plant_bytes(buf, len, id);
	free(buf);
	return rc;
}

/* A file sealed with this repository's key as a lock file of version,
 * whatever json holds. */
static int plant_sealed(uint32_t version, const char *json, char id[STRATA_ID_HEX_LEN + 1])
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = sealed_encode(repo->keys, FORMAT_MAGIC_LOCK, version, json, strlen(json), &buf, &len);

	if (rc == 0)
		rc = plant_bytes(buf, len, id);
	free(buf);
	return rc;
}

static void unplant(const char *id)
{
	StrataErr err = {0};

	lock_remove(repo, id, &err);
}

/* Try to take mode; returns the code, the message in msg. */
static int try_take(LockMode mode, char msg[STRATA_ERRMSG_LEN])
{
	LockOptions o = { .command = "test" };
	StrataErr err = {0};
	Lock *l = NULL;
	int rc = lock_acquire(repo, mode, &o, &l, &err);

	snprintf(msg, STRATA_ERRMSG_LEN, "%s", rc ? err.msg : "");
	lock_release(l);
	return rc;
}

static size_t count_locks(void)
{
	LockInfo *v = NULL;
	size_t n = 0;
	StrataErr err = {0};

	if (lock_list(repo, &v, &n, &err) != 0)
		return (size_t)-1;
	free(v);
	return n;
}

static void test_mode_names(void)
{
	CHECK_STR(lock_mode_name(LOCK_SHARED), "shared");
	CHECK_STR(lock_mode_name(LOCK_MARK), "mark");
	CHECK_STR(lock_mode_name(LOCK_EXCLUSIVE), "exclusive");
	CHECK_STR(lock_mode_name((LockMode)9), "unknown");
}

static void test_text_copy(void)
{
	char out[8];

	lock_text_copy(out, sizeof out, "abc");
	CHECK_STR(out, "abc");
	lock_text_copy(out, sizeof out, "abcdefghij");        /* cut to 7 */
	CHECK_STR(out, "abcdefg");
	lock_text_copy(out, sizeof out, "a\xff" "b\x80" "c");   /* stray bytes */
	CHECK_STR(out, "a?b?c");
	lock_text_copy(out, sizeof out, "\xc0\xaf" "x");        /* overlong '/' */
	CHECK_STR(out, "??x");
	lock_text_copy(out, sizeof out, "\xed\xa0\x80");        /* surrogate D800 */
	CHECK_STR(out, "???");
	lock_text_copy(out, sizeof out, "\xf4\x90\x80\x80");    /* above U+10FFFF */
	CHECK_STR(out, "????");
	lock_text_copy(out, sizeof out, "abcde\xc3\xa9");       /* é fits exactly */
	CHECK_STR(out, "abcde\xc3\xa9");
	lock_text_copy(out, sizeof out, "abcdef\xc3\xa9");      /* é would not fit: cut before it */
	CHECK_STR(out, "abcdef");
	lock_text_copy(out, sizeof out, "ab\xe2\x82");          /* cut sequence */
	CHECK_STR(out, "ab??");
	lock_text_copy(out, 1, "abc");
	CHECK_STR(out, "");
}

static void test_record_codec(void)
{
	LockRecord r = foreign(LOCK_MARK, "prune", 5), back;
	CodecKeys *other;
	uint8_t *buf = NULL, *big, master[CODEC_KEY_LEN];
	size_t len = 0;

	REQUIRE(lock_record_encode(repo->keys, &r, &buf, &len) == 0);
	CHECK(len > SEALED_HEADER_LEN && memcmp(buf, "STRATALK", 8) == 0);
	CHECK(buf[8] == 1 && buf[9] == 0 && buf[10] == 0 && buf[11] == 0);
	memset(&back, 0, sizeof back);
	REQUIRE(lock_record_decode(repo->keys, buf, len, &back) == 0);
	CHECK_EQ_INT(back.mode, LOCK_MARK);
	CHECK_STR(back.command, "prune");
	CHECK_STR(back.host, "otherhost");
	CHECK_STR(back.user, "bob");
	CHECK_STR(back.machine, "other-boot/pid:[1]");
	CHECK_EQ_INT(back.pid, 42);
	CHECK_EQ_INT(back.pid_start, 7);
	CHECK_EQ_INT(back.created_ns, 0);
	CHECK_EQ_INT(back.refreshed_ns, r.refreshed_ns);
	CHECK_EQ_INT(back.stale_after_s, 1800);
	/* another repository's key */
	codec_random(master, sizeof master);
	other = codec_keys_new(master);
	REQUIRE(other);
	CHECK_EQ_INT(lock_record_decode(other, buf, len, &back), STRATA_EAUTH);
	codec_keys_free(other);
	/* a flipped ciphertext byte */
	buf[len - 1] ^= 1;
	CHECK_EQ_INT(lock_record_decode(repo->keys, buf, len, &back), STRATA_EAUTH);
	buf[len - 1] ^= 1;
	/* not a lock file: bad magic, too short, too long */
	buf[7] = 'X';
	CHECK_EQ_INT(lock_record_decode(repo->keys, buf, len, &back), STRATA_EFORMAT);
	buf[7] = 'K';
	CHECK_EQ_INT(lock_record_decode(repo->keys, buf, 5, &back), STRATA_EFORMAT);
	big = calloc(1, LOCK_RECORD_MAX_BYTES + 1);
	REQUIRE(big);
	memcpy(big, buf, len);
	CHECK_EQ_INT(lock_record_decode(repo->keys, big, LOCK_RECORD_MAX_BYTES + 1, &back), STRATA_EFORMAT);
	free(big);
	free(buf);
}

static void test_record_parse(void)
{
	const char *ok = "{\"command\":\"backup\",\"created_ns\":1,\"host\":\"h\",\"machine\":\"m\",\"mode\":\"shared\","
	                 "\"pid\":3,\"pid_start\":4,\"refreshed_ns\":2,\"stale_after_s\":60,\"user\":\"u\","
	                 "\"version\":1,\"later\":[1]}";
	LockRecord r;

	REQUIRE(lock_record_parse((const uint8_t *)ok, strlen(ok), &r) == 0);
	CHECK_EQ_INT(r.mode, LOCK_SHARED);
	CHECK_STR(r.command, "backup");
	CHECK_EQ_INT(r.refreshed_ns, 2);
	CHECK_EQ_INT(r.stale_after_s, 60);
	/* every field is required, with its type */
	static const char *const bad[] = {
		"{\"command\":\"backup\",\"created_ns\":1,\"host\":\"h\",\"machine\":\"m\",\"mode\":\"shared\",\"pid\":3,\"pid_start\":4,\"refreshed_ns\":2,\"stale_after_s\":60,\"user\":\"u\"}",
		"{\"command\":\"backup\",\"created_ns\":1,\"host\":\"h\",\"mode\":\"shared\",\"pid\":3,\"pid_start\":4,\"refreshed_ns\":2,\"stale_after_s\":60,\"user\":\"u\",\"version\":1}",
		"{\"command\":\"backup\",\"created_ns\":1,\"host\":\"h\",\"machine\":\"m\",\"mode\":\"owner\",\"pid\":3,\"pid_start\":4,\"refreshed_ns\":2,\"stale_after_s\":60,\"user\":\"u\",\"version\":1}",
		"{\"command\":\"backup\",\"created_ns\":\"1\",\"host\":\"h\",\"machine\":\"m\",\"mode\":\"shared\",\"pid\":3,\"pid_start\":4,\"refreshed_ns\":2,\"stale_after_s\":60,\"user\":\"u\",\"version\":1}",
		"[]",
		"{",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_EQ_INT(lock_record_parse((const uint8_t *)bad[i], strlen(bad[i]), &r), STRATA_EFORMAT);
}

/* Our own process's locks never conflict with each other, and each is
 * a readable record naming us. */
static void test_own_process(void)
{
	LockOptions o = { .command = "backup" };
	StrataErr err = {0};
	Lock *a = NULL, *b = NULL;
	LockInfo *v = NULL;
	size_t n = 0;

	REQUIRE(lock_acquire(repo, LOCK_SHARED, &o, &a, &err) == 0);
	o.command = "prune";
	CHECK_EQ_INT(lock_acquire(repo, LOCK_EXCLUSIVE, &o, &b, &err), 0);
	CHECK_EQ_INT(lock_check(a, &err), 0);
	REQUIRE(lock_list(repo, &v, &n, &err) == 0);
	CHECK_EQ_INT(n, 2);
	for (size_t i = 0; i < n; i++) {
		CHECK(v[i].readable);
		CHECK_EQ_INT(v[i].pid, getpid());
		CHECK(!v[i].stale);
		CHECK(strncmp(v[i].why, "alive (refreshed ", 17) == 0);
		CHECK(strcmp(v[i].command, v[i].mode == LOCK_SHARED ? "backup" : "prune") == 0);
		CHECK_EQ_INT(v[i].stale_after_s, LOCK_STALE_AFTER_S);
	}
	free(v);
	lock_release(b);
	lock_release(a);
	CHECK_EQ_INT(count_locks(), 0);   /* released locks leave no file */
}

/* The conflict table of lock.h, against live locks of another host. */
static void test_conflicts(void)
{
	static const char *const cmd[] = { "backup", "prune", "repair" };
	/* [holder][taker]: 1 when the holder blocks the taker */
	static const int blocks[3][3] = { { 0, 0, 1 }, { 0, 1, 1 }, { 1, 1, 1 } };
	char id[STRATA_ID_HEX_LEN + 1], msg[STRATA_ERRMSG_LEN], want[STRATA_ERRMSG_LEN];

	for (int h = 0; h < 3; h++) {
		LockRecord r = foreign((LockMode)h, cmd[h], 600);   /* "10 min ago" */
		REQUIRE(plant(&r, id) == 0);
		for (int t = 0; t < 3; t++) {
			int rc = try_take((LockMode)t, msg);
			if (!blocks[h][t]) {
				CHECK_EQ_INT(rc, 0);
				continue;
			}
			CHECK_EQ_INT(rc, STRATA_ELOCKED);
			if (h == LOCK_EXCLUSIVE)
				snprintf(want, sizeof want, "repository is locked exclusively by repair on host otherhost pid 42 (user bob) since 1970-01-01 00:00:00 UTC, alive (refreshed 10 min ago); run `strata unlock` if it is stale");
			else if (t == LOCK_EXCLUSIVE)
				snprintf(want, sizeof want, "repository is in use by %s on host otherhost pid 42 (user bob) since 1970-01-01 00:00:00 UTC, alive (refreshed 10 min ago) (%s lock); wait for it to finish, or run `strata unlock` if it is stale",
				         cmd[h], lock_mode_name((LockMode)h));
			else
				snprintf(want, sizeof want, "repository is locked by prune on host otherhost pid 42 (user bob) since 1970-01-01 00:00:00 UTC, alive (refreshed 10 min ago) (one prune at a time); run `strata unlock` if it is stale");
			CHECK_STR(msg, want);
		}
		/* a refused taker deletes its own file again */
		CHECK_EQ_INT(count_locks(), 1);
		unplant(id);
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Removes the planted lock named by arg after 0.5 s. */
static void *unplant_later(void *arg)
{
	usleep(500000);
	unplant(arg);
	return NULL;
}

/* wait_s: retried until the holder goes; given up after wait_s with the
 * very message of a taker that does not wait; the calling thread's signal
 * mask as it was, whatever the outcome. */
static void test_wait(void)
{
	LockRecord r = foreign(LOCK_EXCLUSIVE, "repair", 600);
	LockOptions o = { .command = "test", .wait_s = 1 };
	char id[STRATA_ID_HEX_LEN + 1], msg[STRATA_ERRMSG_LEN];
	StrataErr err = {0};
	sigset_t before, after;
	pthread_t th;
	Lock *l = NULL;
	int64_t t0, ms;

	pthread_sigmask(SIG_SETMASK, NULL, &before);
	REQUIRE(plant(&r, id) == 0);
	CHECK_EQ_INT(try_take(LOCK_SHARED, msg), STRATA_ELOCKED);
	t0 = mono_ms();
	CHECK_EQ_INT(lock_acquire(repo, LOCK_SHARED, &o, &l, &err), STRATA_ELOCKED);
	ms = mono_ms() - t0;
	/* the last try at the deadline, not a whole back-off after it */
	CHECK(ms >= 1000 && ms < 2000);
	CHECK_STR(err.msg, msg);
	CHECK_EQ_INT(count_locks(), 1);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	CHECK_EQ_INT(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
	CHECK_EQ_INT(sigismember(&after, SIGINT), sigismember(&before, SIGINT));

	o.wait_s = 30;
	REQUIRE(pthread_create(&th, NULL, unplant_later, id) == 0);
	t0 = mono_ms();
	CHECK_EQ_INT(lock_acquire(repo, LOCK_SHARED, &o, &l, &err), 0);
	ms = mono_ms() - t0;
	pthread_join(th, NULL);
	/* tries after 0.1-0.3 s, then 0.2-0.6 s more, ...: within 2 s of it */
	CHECK(ms >= 500 && ms < 2500);
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	CHECK_EQ_INT(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
	lock_release(l);
	CHECK_EQ_INT(count_locks(), 0);
}

/* Not refreshed for longer than its own stale timeout: ignored by takers,
 * listed as stale. A timeout of 0 in the file means the default. */
static void test_stale(void)
{
	LockRecord r = foreign(LOCK_EXCLUSIVE, "prune", 7200);
	char id[STRATA_ID_HEX_LEN + 1], msg[STRATA_ERRMSG_LEN];
	LockInfo *v = NULL;
	size_t n = 0;
	StrataErr err = {0};

	REQUIRE(plant(&r, id) == 0);
	CHECK_EQ_INT(try_take(LOCK_EXCLUSIVE, msg), 0);
	REQUIRE(lock_list(repo, &v, &n, &err) == 0);
	REQUIRE(n == 1);
	CHECK_STR(v[0].id, id);
	CHECK(v[0].readable && v[0].stale);
	CHECK_STR(v[0].why, "not refreshed for 2 h");
	CHECK_STR(v[0].host, "otherhost");
	CHECK_EQ_INT(v[0].mode, LOCK_EXCLUSIVE);
	free(v);
	unplant(id);
	/* 100 s old with its own timeout of 60 s: stale; with 0: 1800 s, alive */
	r = foreign(LOCK_EXCLUSIVE, "prune", 100);
	r.stale_after_s = 60;
	REQUIRE(plant(&r, id) == 0);
	CHECK_EQ_INT(try_take(LOCK_SHARED, msg), 0);
	unplant(id);
	r.stale_after_s = 0;
	REQUIRE(plant(&r, id) == 0);
	CHECK_EQ_INT(try_take(LOCK_SHARED, msg), STRATA_ELOCKED);
	unplant(id);
}

/* A lock of this machine whose process is gone is stale at once. */
static void test_process_gone(void)
{
	LockOptions o = { .command = "backup" };
	char id[STRATA_ID_HEX_LEN + 1], name[REPO_NAME_MAX], msg[STRATA_ERRMSG_LEN], want[128];
	StrataErr err = {0};
	RemoteErr rerr = {{0}};
	Lock *l = NULL;
	LockRecord mine, r;
	LockInfo *v = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	pid_t child;

	/* Our own record gives this machine's host and machine fields. */
	REQUIRE(lock_acquire(repo, LOCK_SHARED, &o, &l, &err) == 0);
	REQUIRE(lock_list(repo, &v, &n, &err) == 0 && n == 1);
	snprintf(name, sizeof name, "locks/%s", v[0].id);
	free(v);
	REQUIRE(backend_get(repo->be, name, LOCK_RECORD_MAX_BYTES, &buf, &len, &rerr) == 0);
	REQUIRE(lock_record_decode(repo->keys, buf, len, &mine) == 0);
	free(buf);
	lock_release(l);
	CHECK_EQ_INT(mine.pid, getpid());
	CHECK_STR(mine.command, "backup");
	CHECK_EQ_INT(mine.mode, LOCK_SHARED);
	if (!mine.machine[0]) {
		printf("  no boot ID or PID namespace here: PIDs are never judged, skipped\n");
		return;
	}
	child = fork();
	REQUIRE(child >= 0);
	if (child == 0)
		_exit(0);
	REQUIRE(waitpid(child, NULL, 0) == child);
	r = mine;
	r.mode = LOCK_EXCLUSIVE;
	r.pid = child;
	r.pid_start = 0;
	r.refreshed_ns = wall_ns();
	REQUIRE(plant(&r, id) == 0);
	CHECK_EQ_INT(try_take(LOCK_EXCLUSIVE, msg), 0);
	REQUIRE(lock_list(repo, &v, &n, &err) == 0 && n == 1);
	snprintf(want, sizeof want, "process %lld on this machine is gone", (long long)child);
	CHECK(v[0].stale);
	CHECK_STR(v[0].why, want);
	free(v);
	unplant(id);
}

static void on_warn(const char *msg, void *ctx)
{
	char *buf = ctx;
	size_t used = strlen(buf);

	snprintf(buf + used, 1024 - used, "%s\n", msg);
}

/* Files in locks/ that cannot be locks of this repository: ignored by
 * every taker (each reported once), listed as stale. */
static void test_junk_ignored(void)
{
	char junk[STRATA_ID_HEX_LEN + 1], alien[STRATA_ID_HEX_LEN + 1], warned[1024] = "";
	LockOptions o = { .command = "prune", .on_warn = on_warn, .warn_ctx = warned };
	LockRecord r = foreign(LOCK_EXCLUSIVE, "prune", 0);
	uint8_t master[CODEC_KEY_LEN], *buf = NULL;
	size_t len = 0, n = 0;
	CodecKeys *other;
	StrataErr err = {0};
	RemoteErr rerr = {{0}};
	LockInfo *v = NULL;
	Lock *l = NULL;

	REQUIRE(plant_bytes("garbage", 7, junk) == 0);
	codec_random(master, sizeof master);
	other = codec_keys_new(master);
	REQUIRE(other && lock_record_encode(other, &r, &buf, &len) == 0);
	codec_keys_free(other);
	REQUIRE(plant_bytes(buf, len, alien) == 0);
	free(buf);
	/* not a lock name: never listed */
	REQUIRE(backend_put(repo->be, "locks/README", "x", 1, &rerr) == 0);
	REQUIRE(lock_acquire(repo, LOCK_EXCLUSIVE, &o, &l, &err) == 0);
	lock_release(l);
	/* once each, in listing order (which the backend does not fix) */
	{
		char a[512], b[512], ab[1024], ba[1024];
		snprintf(a, sizeof a, "ignoring locks/%s: not a sealed lock file; `strata unlock` removes it\n", junk);
		snprintf(b, sizeof b, "ignoring locks/%s: fails authentication (not sealed with this repository's key); "
		         "`strata unlock` removes it\n", alien);
		snprintf(ab, sizeof ab, "%s%s", a, b);
		snprintf(ba, sizeof ba, "%s%s", b, a);
		CHECK(strcmp(warned, ab) == 0 || strcmp(warned, ba) == 0);
		if (strcmp(warned, ab) != 0 && strcmp(warned, ba) != 0)
			printf("  got:\n%s  want:\n%s", warned, ab);
	}
	REQUIRE(lock_list(repo, &v, &n, &err) == 0);
	CHECK_EQ_INT(n, 2);
	for (size_t i = 0; i < n; i++) {
		CHECK(!v[i].readable && v[i].stale);
		CHECK_STR(v[i].why, strcmp(v[i].id, junk) == 0
		          ? "not a lock of this repository, ignored: not a sealed lock file"
		          : "not a lock of this repository, ignored: fails authentication (not sealed with this repository's key)");
	}
	free(v);
	unplant(junk);
	unplant(alien);
	backend_delete(repo->be, "locks/README", &rerr);
}

/* Authentic lock files this strata cannot read block every mode. */
static void test_unreadable_blocks(void)
{
	char id[STRATA_ID_HEX_LEN + 1], msg[STRATA_ERRMSG_LEN], want[STRATA_ERRMSG_LEN];
	size_t n = 0;
	LockInfo *v = NULL;
	StrataErr err = {0};
	const char *json = "{\"version\":2}";

	REQUIRE(plant_sealed(2, json, id) == 0);
	CHECK_EQ_INT(try_take(LOCK_SHARED, msg), STRATA_ELOCKED);
	snprintf(want, sizeof want, "repository has a lock written by a newer strata (locks/%s); upgrade strata, or if no other strata is running, remove it with `strata unlock --remove-all`", id);
	CHECK_STR(msg, want);
	REQUIRE(lock_list(repo, &v, &n, &err) == 0 && n == 1);
	CHECK(!v[0].readable && !v[0].stale);
	CHECK_STR(v[0].why, "cannot be read: written by a newer strata");
	free(v);
	unplant(id);

	REQUIRE(plant_sealed(1, json, id) == 0);
	CHECK_EQ_INT(try_take(LOCK_SHARED, msg), STRATA_ELOCKED);
	snprintf(want, sizeof want, "repository has a lock file that cannot be read (locks/%s: sealed with this repository's key, but not a lock record); if no other strata is running, remove it with `strata unlock --remove-all`", id);
	CHECK_STR(msg, want);
	unplant(id);
	CHECK_EQ_INT(count_locks(), 0);
}

static void test_remove(void)
{
	char id[STRATA_ID_HEX_LEN + 1];
	LockRecord r = foreign(LOCK_SHARED, "backup", 0);
	StrataErr err = {0};

	REQUIRE(plant(&r, id) == 0);
	CHECK_EQ_INT(lock_remove(repo, id, &err), 0);
	CHECK_EQ_INT(count_locks(), 0);
	CHECK_EQ_INT(lock_remove(repo, id, &err), -ENOENT);
	CHECK(strncmp(err.msg, "cannot remove lock locks/", 25) == 0);
}

static void on_lost(const char *why, void *ctx)
{
	snprintf(ctx, 256, "%s", why);
}

/* A lock whose file another process removed is lost: lock_check says so
 * at once, and the refresher reports it through on_lost. */
static void test_lost(void)
{
	char lost[256] = "", want[256];
	LockOptions o = { .command = "prune", .refresh_s = 1, .on_lost = on_lost, .lost_ctx = lost };
	StrataErr err = {0};
	LockInfo *v = NULL;
	size_t n = 0;
	Lock *l = NULL;

	REQUIRE(lock_acquire(repo, LOCK_MARK, &o, &l, &err) == 0);
	REQUIRE(lock_list(repo, &v, &n, &err) == 0 && n == 1);
	snprintf(want, sizeof want, "lock locks/%s was removed by another process (`strata unlock --remove-all`?)", v[0].id);
	CHECK_EQ_INT(lock_remove(repo, v[0].id, &err), 0);
	free(v);
	CHECK_EQ_INT(lock_check(l, &err), STRATA_ELOCKED);
	CHECK_STR(err.msg, want);
	/* the refresher's next tick (1 s) reports it */
	for (int i = 0; i < 50 && !lost[0]; i++)
		usleep(100000);
	CHECK_STR(lost, want);
	lock_release(l);
	CHECK_EQ_INT(count_locks(), 0);
}

int main(void)
{
	char dir[] = "/tmp/strata-test-lock-XXXXXX";

	setenv("TZ", "UTC", 1);
	tzset();
	if (!mkdtemp(dir) || test_repo_create(dir, &repo) != 0)
		return 2;
	RUN(test_mode_names);
	RUN(test_text_copy);
	RUN(test_record_codec);
	RUN(test_record_parse);
	RUN(test_own_process);
	RUN(test_conflicts);
	RUN(test_wait);
	RUN(test_stale);
	RUN(test_process_gone);
	RUN(test_junk_ignored);
	RUN(test_unreadable_blocks);
	RUN(test_remove);
	RUN(test_lost);
	repo_close(repo);
	rm_rf(dir);
	return CHECK_EXIT();
}
