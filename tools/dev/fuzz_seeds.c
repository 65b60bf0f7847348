/* fuzz_seeds.c — write the seed corpora of fuzz/fuzz_*.c from a real
 * repository.
 *
 *   build/tools/dev/fuzz_seeds [OUTDIR]        (default fuzz/corpus)
 *
 * Creates a repository in a temporary directory through the store API
 * (repo_init, two backups of a small generated tree with odd names, a
 * symlink, a hard link, a FIFO and an empty file), then reads its files
 * back with the key file's password and writes the decoded objects the
 * harnesses parse into OUTDIR/<harness>/<name>: key files, config and
 * snapshot JSON, index file and pack trailer plaintexts, tree
 * serializations, blobs; packs and sealed files re-sealed under the
 * harnesses' fixed key (fuzz/fuzz.h); chunker inputs; and a few S3 XML
 * documents and lock files written by hand (checked against a real lock
 * and read back with lock_list), and restore-test records written through
 * verified_save (plus one with an outcome from a newer strata). Names are fixed, so running it again replaces
 * the seeds instead of adding to them. Every seed is small.
 *
 * Uses only public headers: sealed files are opened by their FORMAT.md §5
 * layout with codec_open.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "remote/backend.h"
#include "store/backup/backup.h"
#include "store/codec.h"
#include "store/format.h"
#include "store/frame.h"
#include "store/indexfile.h"
#include "store/keycache.h"
#include "store/keyfile.h"
#include "store/lock.h"
#include "store/pack.h"
#include "store/repo.h"
#include "store/snapshot.h"
#include "store/verified.h"

#define SEALED_HDR 12        /* FORMAT.md §5: MAGIC (8) || VERSION (u32 LE) */
#define MAX_TREES 12
#define MAX_TRAILERS 3

static const char *outdir = "fuzz/corpus";
static char tmp[] = "/tmp/strata-fuzz-seeds.XXXXXX";
static Backend *be;
static CodecKeys *repo_keys;
static CodecCtx *cctx;
static int failed;

_Noreturn static void die(const char *what, const char *msg)
{
	fprintf(stderr, "fuzz_seeds: %s: %s\n", what, msg);
	exit(1);
}

static void write_seed(const char *harness, const char *name, const void *data, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", outdir, harness);
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
		die(outdir, strerror(errno));
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		die(path, strerror(errno));
	snprintf(path, sizeof path, "%s/%s/%s", outdir, harness, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
		failed = 1;
	}
}

/* Two-part seeds: a header the harness reads first, then a body. */
static void write_seed2(const char *harness, const char *name, const void *hdr, size_t hlen,
                        const void *body, size_t blen)
{
	uint8_t *buf = malloc(hlen + blen + 1);

	if (!buf)
		die("seed", "out of memory");
	memcpy(buf, hdr, hlen);
	if (blen)
		memcpy(buf + hlen, body, blen);
	write_seed(harness, name, buf, hlen + blen);
	free(buf);
}

/* ---- the source tree ---- */

static uint64_t rng = 0x5eed;

static uint64_t rnd(void)
{
	uint64_t z = (rng += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die(path, "cannot write");
}

static uint8_t text[24000], noise[40000];

static void make_source(const char *src)
{
	static const char *words[] = {"strata ", "chunk ", "pack ", "tree ", "snapshot\n", "index "};
	char p[512], q[512];
	size_t n = 0;

	while (n < sizeof text) {
		const char *w = words[rnd() % 6];
		size_t l = strlen(w);
		if (n + l > sizeof text)
			l = sizeof text - n;
		memcpy(text + n, w, l);
		n += l;
	}
	for (size_t i = 0; i < sizeof noise; i++)
		noise[i] = (uint8_t)rnd();
	if (mkdir(src, 0755) != 0)
		die(src, strerror(errno));
	snprintf(p, sizeof p, "%s/text.txt", src);
	write_file(p, text, sizeof text);
	snprintf(p, sizeof p, "%s/noise.bin", src);
	write_file(p, noise, sizeof noise);
	snprintf(p, sizeof p, "%s/empty", src);
	write_file(p, "", 0);
	snprintf(p, sizeof p, "%s/sp ace", src);
	write_file(p, "x", 1);
	snprintf(p, sizeof p, "%s/caf\xc3\xa9 \x01\xff", src);
	write_file(p, text, 100);
	snprintf(p, sizeof p, "%s/sub", src);
	mkdir(p, 0750);
	snprintf(p, sizeof p, "%s/sub/deeper", src);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/sub/deeper/small.txt", src);
	write_file(p, "hello\n", 6);
	snprintf(p, sizeof p, "%s/sub/.hidden", src);
	write_file(p, noise, 3000);
	snprintf(p, sizeof p, "%s/link", src);
	if (symlink("text.txt", p) != 0)
		die(p, strerror(errno));
	snprintf(p, sizeof p, "%s/dangling", src);
	if (symlink("../nowhere/\xff", p) != 0)
		die(p, strerror(errno));
	snprintf(p, sizeof p, "%s/text.txt", src);
	snprintf(q, sizeof q, "%s/sub/hardlink", src);
	if (link(p, q) != 0)
		die(q, strerror(errno));
	snprintf(p, sizeof p, "%s/fifo", src);
	if (mkfifo(p, 0600) != 0)
		die(p, strerror(errno));
	snprintf(p, sizeof p, "%s/setuid", src);
	write_file(p, "#!/bin/sh\n", 10);
	chmod(p, 04755);
}

static void make_repository(const char *src, const char *repo_dir, const char *cache)
{
	RepoParams params = {0};
	StrataErr err = {0};
	BackupOptions o = {0};
	BackupResult res;
	const char *paths[] = {src}, *tags[] = {"seed", "fuzz"}, *labels[] = {"height=42", "k=v=w"};
	char p[512];
	Repo *repo = NULL;

	/* Small chunks and packs, so that a small tree gives several chunks,
	 * packs and index entries (chunker limits: min >= 64, avg a power of
	 * two, pack >= max + 64 KiB). Minimal Argon2id limits: seeds are
	 * unwrapped on every fuzz iteration. */
	params.chunk_min = 512;
	params.chunk_avg = 2048;
	params.chunk_max = 8192;
	params.pack_size = 8192 + 65536;
	params.kdf_opslimit = 1;
	params.kdf_memlimit = 8192;
	if (repo_init(repo_dir, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), &params, NULL, &err) != 0)
		die("repo_init", err.msg);
	if (repo_open(repo_dir, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), cache, &repo, &err) != 0)
		die("repo_open", err.msg);
	o.paths = paths;
	o.npaths = 1;
	o.host = "fuzzhost";
	o.tags = tags;
	o.ntags = 2;
	o.labels = labels;
	o.nlabels = 2;
	o.stdin_fd = -1;
	o.threads = 1;
	o.time_ns = 1700000000123456789;
	if (backup_run(repo, &o, &res, &err) != 0)
		die("first backup", err.msg);
	/* A second backup after a change: its snapshot has a parent. */
	snprintf(p, sizeof p, "%s/sub/deeper/small.txt", src);
	write_file(p, "hello again\n", 12);
	o.ntags = 0;
	o.nlabels = 0;
	o.time_ns += 3600000000000;
	if (backup_run(repo, &o, &res, &err) != 0)
		die("second backup", err.msg);
	repo_close(repo);
}

/* ---- reading the repository back ---- */

struct names { char **v; size_t n, cap; };

static int collect(const char *name, uint64_t size, void *ctx)
{
	struct names *l = ctx;

	(void)size;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		if (!l->v)
			die("list", "out of memory");
	}
	l->v[l->n] = strdup(name);
	if (!l->v[l->n])
		die("list", "out of memory");
	l->n++;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct names list(const char *prefix)
{
	struct names l = {0};
	RemoteErr rerr;

	if (backend_list(be, prefix, collect, &l, &rerr) != 0)
		die(prefix, rerr.msg);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof *l.v, cmp_name);
	return l;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static uint8_t *get(const char *name, size_t *len)
{
	uint8_t *buf = NULL;
	RemoteErr rerr;

	if (backend_get(be, name, SIZE_MAX, &buf, len, &rerr) != 0)
		die(name, rerr.msg);
	return buf;
}

/* Open a sealed file (FORMAT.md §5) with the repository's keys. */
static uint8_t *unseal(const uint8_t *buf, size_t len, size_t *out_len)
{
	uint8_t *out = NULL;

	if (len < SEALED_HDR ||
	    codec_open(repo_keys, buf, SEALED_HDR, buf + SEALED_HDR, len - SEALED_HDR, &out, out_len) != 0)
		die("sealed file", "does not open with the repository key");
	return out;
}

/* Seal plain as a sealed file of magic, version 1, under keys. */
static uint8_t *seal_under(const CodecKeys *keys, const char magic[8], const uint8_t *plain, size_t len,
                           size_t *out_len)
{
	uint8_t hdr[SEALED_HDR], *body = NULL, *buf;
	size_t body_len = 0;

	memcpy(hdr, magic, 8);
	format_put_le32(hdr + 8, 1);
	if (codec_seal(keys, hdr, sizeof hdr, plain, len, &body, &body_len) != 0)
		die("seal", "failed");
	buf = malloc(SEALED_HDR + body_len);
	if (!buf)
		die("seal", "out of memory");
	memcpy(buf, hdr, SEALED_HDR);
	memcpy(buf + SEALED_HDR, body, body_len);
	free(body);
	*out_len = SEALED_HDR + body_len;
	return buf;
}

/* Seal plain as a sealed file of magic under the fuzz key. */
static uint8_t *reseal(const char magic[8], const uint8_t *plain, size_t len, size_t *out_len)
{
	return seal_under(fuzz_keys(), magic, plain, len, out_len);
}

/* A key file that opens with FUZZ_PASSWORD but wraps 31 bytes instead of
 * a 32-byte key, built per FORMAT.md §6 (keyfile_create cannot make one). */
static void seed_short_master(const uint8_t master[CODEC_KEY_LEN])
{
	static const uint8_t wrap_ad[] = "strata key v1";
	uint8_t salt[CODEC_SALT_LEN], wrap_key[CODEC_KEY_LEN], *sealed = NULL;
	size_t sealed_len = 0;
	char *salt_b64, *data_b64, json[512];

	memset(salt, 0x17, sizeof salt);
	if (codec_pwhash(wrap_key, sizeof wrap_key, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), salt, 1, 8192) != 0 ||
	    codec_seal_with(wrap_key, wrap_ad, sizeof wrap_ad - 1, master, CODEC_KEY_LEN - 1, &sealed,
	                    &sealed_len) != 0)
		die("key file", "cannot wrap");
	salt_b64 = codec_b64(salt, sizeof salt);
	data_b64 = codec_b64(sealed, sealed_len);
	if (!salt_b64 || !data_b64)
		die("key file", "out of memory");
	snprintf(json, sizeof json, "{\"version\": 1, \"kdf\": \"argon2id13\", \"opslimit\": 1, "
	         "\"memlimit\": 8192, \"salt\": \"%s\", \"data\": \"%s\"}", salt_b64, data_b64);
	write_seed("fuzz_keyfile", "key-short-master.json", json, strlen(json));
	codec_wipe(wrap_key, sizeof wrap_key);
	free(sealed);
	free(salt_b64);
	free(data_b64);
}

/* A key file as strata wrote them before host and user were sealed
 * (FORMAT.md §6): both in clear, no "info"; wraps master with
 * FUZZ_PASSWORD. */
static void seed_clear_identity(const uint8_t master[CODEC_KEY_LEN])
{
	static const uint8_t wrap_ad[] = "strata key v1";
	uint8_t salt[CODEC_SALT_LEN], wrap_key[CODEC_KEY_LEN], *sealed = NULL;
	size_t sealed_len = 0;
	char *salt_b64, *data_b64, json[768];

	memset(salt, 0x29, sizeof salt);
	if (codec_pwhash(wrap_key, sizeof wrap_key, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), salt, 1, 8192) != 0 ||
	    codec_seal_with(wrap_key, wrap_ad, sizeof wrap_ad - 1, master, CODEC_KEY_LEN, &sealed, &sealed_len) != 0)
		die("key file", "cannot wrap");
	salt_b64 = codec_b64(salt, sizeof salt);
	data_b64 = codec_b64(sealed, sealed_len);
	if (!salt_b64 || !data_b64)
		die("key file", "out of memory");
	snprintf(json, sizeof json, "{\n  \"created\": 1795000000,\n  \"data\": \"%s\",\n  \"host\": \"node-1\",\n"
	         "  \"kdf\": \"argon2id13\",\n  \"memlimit\": 8192,\n  \"opslimit\": 1,\n  \"salt\": \"%s\",\n"
	         "  \"user\": \"ops\",\n  \"version\": 1\n}", data_b64, salt_b64);
	write_seed("fuzz_keyfile", "key-clear-host.json", json, strlen(json));
	codec_wipe(wrap_key, sizeof wrap_key);
	free(sealed);
	free(salt_b64);
	free(data_b64);
}

/* A real key file with its Argon2id settings at the bounds (16 passes,
 * 4 GiB): accepted, and the limits the fuzzer mutates across. */
static void seed_at_bounds(const uint8_t *buf, size_t len)
{
	char *kf = strndup((const char *)buf, len), out[4096];
	const char *ops = kf ? strstr(kf, "\"opslimit\": 1,") : NULL;
	const char *mem = kf ? strstr(kf, "\"memlimit\": 8192,") : NULL;

	if (!ops || !mem || mem > ops || len + 32 > sizeof out)
		die("key file", "not the layout fuzz_seeds expects (memlimit 8192 before opslimit 1)");
	snprintf(out, sizeof out, "%.*s\"memlimit\": 4294967296,%.*s\"opslimit\": 16,%s",
	         (int)(mem - kf), kf, (int)(ops - mem - 17), mem + 17, ops + 14);
	write_seed("fuzz_keyfile", "key-at-bounds.json", out, strlen(out));
	free(kf);
}

static void seed_keys(void)
{
	struct names l = list("keys/");
	uint8_t master[CODEC_KEY_LEN];
	StrataErr err = {0};
	char name[64];

	if (l.n == 0)
		die("keys/", "no key file");
	for (size_t i = 0; i < l.n; i++) {
		size_t len;
		uint8_t *buf = get(l.v[i], &len);
		snprintf(name, sizeof name, "key-%zu.json", i);
		write_seed("fuzz_keyfile", name, buf, len);
		if (i == 0 && keyfile_unwrap(buf, len, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), master, NULL, &err) != 0)
			die("key file", err.msg);
		if (i == 0)
			seed_at_bounds(buf, len);
		free(buf);
	}
	repo_keys = codec_keys_new(master);
	seed_short_master(master);
	seed_clear_identity(master);
	codec_wipe(master, sizeof master);
	if (!repo_keys)
		die("keys", "out of memory");
	names_free(&l);
}

/* fuzz_keycache: one authentic entry for the harness's name, key file and
 * password, wrapping the fuzz master key. */
static void seed_keycache(void)
{
	uint8_t entry[KEYCACHE_ENTRY_LEN], id[32], master[CODEC_KEY_LEN];

	memset(master, FUZZ_MASTER_BYTE, sizeof master);
	memset(id, 0x11, sizeof id);
	keycache_seal(FUZZ_KEYCACHE_NAME, id, (const uint8_t *)FUZZ_KEYCACHE_KEYFILE, strlen(FUZZ_KEYCACHE_KEYFILE),
	              FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), master, entry);
	write_seed("fuzz_keycache", "entry", entry, sizeof entry);
}

static void seed_config(void)
{
	size_t len, plain_len, sealed_len;
	uint8_t *buf = get("config", &len), *plain = unseal(buf, len, &plain_len), *sealed;

	write_seed("fuzz_config", "config.json", plain, plain_len);
	sealed = reseal(FORMAT_MAGIC_CONFIG, plain, plain_len, &sealed_len);
	write_seed("fuzz_config", "config.sealed", sealed, sealed_len);
	free(sealed);
	free(plain);
	free(buf);
}

static void seed_snapshots(void)
{
	struct names l = list("snapshots/");
	char name[64];

	for (size_t i = 0; i < l.n; i++) {
		size_t len, plain_len;
		uint8_t *buf = get(l.v[i], &len), *plain = unseal(buf, len, &plain_len);
		snprintf(name, sizeof name, "snapshot-%zu.json", i);
		write_seed("fuzz_snapshot", name, plain, plain_len);
		free(plain);
		free(buf);
	}
	names_free(&l);
}

/* Lock files (FORMAT.md §19.1). A real lock names this machine's host,
 * user and boot ID, so the seeds are written by hand in the writer's form
 * (compact JSON, keys sorted): first checked against a lock the real code
 * takes on the repository, then planted there and read back with
 * lock_list, so they are known to decode. */
static const struct {
	const char *name, *mode, *command, *host, *user;
} lock_seeds[] = {
	{"lock-shared", "shared", "backup", "fuzzhost", "ops"},
	/* raw UTF-8 here (C universal character names), \u escapes below */
	{"lock-mark", "mark", "prune", "n\u0153ud-\u00e9t\u00e9", "\u00e9l\u00e8ve"},
	/* longer than the 31 bytes a command keeps: cut between characters */
	{"lock-exclusive", "exclusive", "r\\u00e9paration-\\u00e9t\\u00e9-\\u00e9t\\u00e9-\\u00e9t\\u00e9", "h", "root"},
};
static const char *lock_keys[] = {"command", "created_ns", "host", "machine", "mode", "pid", "pid_start",
                                  "refreshed_ns", "stale_after_s", "user", "version"};

static void lock_json(size_t i, char *out, size_t len)
{
	snprintf(out, len, "{\"command\":\"%s\",\"created_ns\":1700000000123456789,\"host\":\"%s\","
	         "\"machine\":\"6d1f0c4e-8f0b-4c52-9a7e-0b5e6f1d2c3a/pid:[4026531836]\",\"mode\":\"%s\","
	         "\"pid\":%zu,\"pid_start\":983311,\"refreshed_ns\":1700000300123456789,"
	         "\"stale_after_s\":1800,\"user\":\"%s\",\"version\":1}",
	         lock_seeds[i].command, lock_seeds[i].host, lock_seeds[i].mode, 4242 + i, lock_seeds[i].user);
}

/* The real writer puts the same keys in the same order as lock_json. */
static void check_real_lock(const char *repo_dir, const char *cache)
{
	LockOptions lo = {0};
	StrataErr err = {0};
	Repo *repo = NULL;
	Lock *lock = NULL;
	struct names l;
	uint8_t *buf, *plain;
	size_t len, plain_len;
	const char *at;
	char key[64];

	if (repo_open(repo_dir, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), cache, &repo, &err) != 0)
		die("repo_open", err.msg);
	lo.command = "fuzz_seeds";
	if (lock_acquire(repo, LOCK_SHARED, &lo, &lock, &err) != 0)
		die("lock_acquire", err.msg);
	l = list("locks/");
	if (l.n != 1)
		die("locks/", "the lock just taken is not the only one");
	buf = get(l.v[0], &len);
	plain = unseal(buf, len, &plain_len);
	plain = realloc(plain, plain_len + 1);
	if (!plain)
		die("lock", "out of memory");
	plain[plain_len] = '\0';
	at = (const char *)plain;
	for (size_t k = 0; k < sizeof lock_keys / sizeof lock_keys[0]; k++) {
		snprintf(key, sizeof key, "\"%s\":", lock_keys[k]);
		if (!(at = strstr(at, key)))
			die("lock", "the real lock file's keys differ from the seeds' (update lock_json)");
	}
	free(plain);
	free(buf);
	names_free(&l);
	lock_release(lock);
	repo_close(repo);
}

static void seed_locks(const char *repo_dir, const char *cache)
{
	size_t n = sizeof lock_seeds / sizeof lock_seeds[0], nlocks = 0, sealed_len;
	StrataErr err = {0};
	RemoteErr rerr;
	LockInfo *locks = NULL;
	Repo *repo = NULL;
	uint8_t *sealed;
	char json[1024], name[128];

	check_real_lock(repo_dir, cache);
	for (size_t i = 0; i < n; i++) {
		lock_json(i, json, sizeof json);
		snprintf(name, sizeof name, "%s.json", lock_seeds[i].name);
		write_seed("fuzz_lock", name, json, strlen(json));
		sealed = reseal(FORMAT_MAGIC_LOCK, (const uint8_t *)json, strlen(json), &sealed_len);
		snprintf(name, sizeof name, "%s.sealed", lock_seeds[i].name);
		write_seed("fuzz_lock", name, sealed, sealed_len);
		free(sealed);
		/* Planted under the repository's key as locks/<i repeated>. */
		sealed = seal_under(repo_keys, FORMAT_MAGIC_LOCK, (const uint8_t *)json, strlen(json), &sealed_len);
		snprintf(name, sizeof name, "locks/%064zx", i + 1);
		if (backend_put(be, name, sealed, sealed_len, &rerr) != 0)
			die(name, rerr.msg);
		free(sealed);
	}
	if (repo_open(repo_dir, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), cache, &repo, &err) != 0 ||
	    lock_list(repo, &locks, &nlocks, &err) != 0)
		die("lock_list", err.msg);
	if (nlocks != n)
		die("lock_list", "does not list every planted lock");
	for (size_t j = 0; j < nlocks; j++) {
		size_t i = (size_t)strtoul(locks[j].id, NULL, 16) - 1;
		if (i >= n || !locks[j].readable || strcmp(lock_mode_name(locks[j].mode), lock_seeds[i].mode) != 0 ||
		    locks[j].pid != (int64_t)(4242 + i) || locks[j].stale_after_s != 1800)
			die("lock seed", "does not read back as written");
		if (lock_remove(repo, locks[j].id, &err) != 0)
			die("lock_remove", err.msg);
	}
	free(locks);
	repo_close(repo);
}

/* Restore-test records (FORMAT.md §12b) of the first snapshot, one per
 * outcome, written by the real code and read back with verified_load;
 * their plaintexts, and the same sealed under the fuzz key. */
static void seed_verified(const char *repo_dir, const char *cache)
{
	static const struct { const char *name; VerifiedOutcome o; int exit_status, signal; const char *cmd, *detail; } recs[] = {
		{"passed", VERIFIED_PASSED, 0, 0, "ldb", ""},
		{"failed", VERIFIED_FAILED, 1, 0, "verify-pg.sh", ""},
		{"signal", VERIFIED_SIGNALLED, -1, 11, "pg_amcheck", ""},
		{"timeout", VERIFIED_TIMEOUT, -1, 15, "v\u00e9rifier", ""},
		{"restore-failed", VERIFIED_RESTORE_FAILED, -1, 0, "ldb",
		 "pack 3fa1c2d4: chunk 9e8f at offset 4096 fails authentication (var/lib/node/000069.ldb)"},
	};
	struct names l;
	StrataErr err = {0};
	Repo *repo = NULL;
	Snapshot *snaps = NULL;
	VerifiedSet *set = NULL;
	size_t nsnaps = 0, n = sizeof recs / sizeof recs[0], sealed_len;
	uint8_t *sealed;
	char name[128], json[1024];

	if (repo_open(repo_dir, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), cache, &repo, &err) != 0 ||
	    snapshot_list(repo, &snaps, &nsnaps, &err) != 0 || nsnaps == 0)
		die("verified", err.msg[0] ? err.msg : "no snapshot");
	for (size_t i = 0; i < n; i++) {
		VerifiedRecord r;
		memset(&r, 0, sizeof r);
		memcpy(r.snapshot, snaps[0].id, STRATA_ID_LEN);
		r.snapshot_time_ns = snaps[0].time_ns;
		r.time_ns = snaps[0].time_ns + (int64_t)(i + 1) * 1000000000;
		r.outcome = recs[i].o;
		r.exit_status = recs[i].exit_status;
		r.signal = recs[i].signal;
		r.timeout_s = 1800;
		r.restore_s = 2.5;
		r.command_s = i == 4 ? 0 : 0.75;
		r.files = 12;
		r.bytes = 1 << 20;
		snprintf(r.name, sizeof r.name, "%s", i == 3 ? "v\xc3\xa9rifier" : recs[i].cmd);
		snprintf(r.host, sizeof r.host, "fuzzhost");
		snprintf(r.user, sizeof r.user, "ops");
		snprintf(r.detail, sizeof r.detail, "%s", recs[i].detail);
		if (verified_save(repo, &r, &err) != 0)
			die("verified_save", err.msg);
	}
	if (verified_load(repo, &set, &err) != 0 || verified_set_count(set) != n || verified_set_nbad(set) != 0)
		die("verified_load", "does not read back every record written");
	verified_set_free(set);
	l = list("verified/");
	for (size_t i = 0; i < l.n; i++) {
		size_t len, plain_len;
		uint8_t *buf = get(l.v[i], &len), *plain = unseal(buf, len, &plain_len);
		const char *o = strstr((const char *)plain, "\"outcome\":\"");
		size_t k = 0;
		if (!o)
			die(l.v[i], "no outcome");
		o += 11;
		while (k < n && strncmp(o, recs[k].name, strlen(recs[k].name)) != 0 &&
		       !(recs[k].o == VERIFIED_SIGNALLED && !strncmp(o, "signal", 6)) &&
		       !(recs[k].o == VERIFIED_RESTORE_FAILED && !strncmp(o, "restore_failed", 14)))
			k++;
		snprintf(name, sizeof name, "%s.json", k < n ? recs[k].name : "record");
		write_seed("fuzz_verified", name, plain, plain_len);
		sealed = reseal(FORMAT_MAGIC_VERIFIED, plain, plain_len, &sealed_len);
		snprintf(name, sizeof name, "%s.sealed", k < n ? recs[k].name : "record");
		write_seed("fuzz_verified", name, sealed, sealed_len);
		free(sealed);
		free(plain);
		free(buf);
	}
	names_free(&l);
	/* An outcome a newer strata may write: read as "unknown". */
	snprintf(json, sizeof json, "{\"bytes\":0,\"exit_status\":-1,\"name\":\"ldb\",\"outcome\":\"flaky\","
	         "\"signal\":0,\"snapshot\":\"%064d\",\"snapshot_time_ns\":1,\"time_ns\":2,\"version\":1}", 0);
	write_seed("fuzz_verified", "unknown-outcome.json", json, strlen(json));
	snapshot_list_free(snaps, nsnaps);
	repo_close(repo);
}

static void seed_indexfiles(void)
{
	struct names l = list("index/");
	char name[64];

	for (size_t i = 0; i < l.n; i++) {
		size_t len, z_len, plain_len;
		uint8_t *buf = get(l.v[i], &len), *z = unseal(buf, len, &z_len), *plain = NULL;
		if (codec_decompress(z, z_len, 1u << 24, &plain, &plain_len) != 0)
			die(l.v[i], "does not decompress");
		snprintf(name, sizeof name, "index-%zu", i);
		write_seed("fuzz_indexfile", name, plain, plain_len);
		free(plain);
		free(z);
		free(buf);
	}
	names_free(&l);
}

/* Tree objects (FORMAT.md §11) of the repository, plaintext; kept for the
 * pack and codec seeds. */
static uint8_t *trees[MAX_TREES];
static size_t tree_lens[MAX_TREES], ntrees;
static uint8_t *tree_blobs[MAX_TREES];
static size_t tree_blob_lens[MAX_TREES];
static PackEntry tree_entries[MAX_TREES];

static void seed_packs(const char *dir, const char *kind)
{
	struct names l = list(dir);
	char name[64];

	for (size_t i = 0; i < l.n && i < MAX_TRAILERS; i++) {
		size_t len, plain_len, n = 0;
		uint8_t *pack = get(l.v[i], &len), *plain, area[8];
		uint32_t tlen;
		PackEntry *e = NULL;
		uint64_t blob_area;
		if (len < PACK_FOOTER_LEN || pack_footer_decode(pack + len - PACK_FOOTER_LEN, len, &tlen) != 0)
			die(l.v[i], "bad footer");
		blob_area = len - PACK_FOOTER_LEN - tlen;
		plain = unseal(pack + blob_area, tlen, &plain_len);
		format_put_le32(area, (uint32_t)blob_area);
		format_put_le32(area + 4, (uint32_t)(blob_area >> 32));
		snprintf(name, sizeof name, "trailer-%s-%zu", kind, i);
		write_seed2("fuzz_trailer_plain", name, area, 8, plain, plain_len);
		if (pack_trailer_parse(plain, plain_len, blob_area, &e, &n) != 0)
			die(l.v[i], "trailer does not parse");
		for (size_t j = 0; j < n && ntrees < MAX_TREES; j++) {
			uint8_t *obj;
			if (e[j].type != BLOB_TREE || e[j].raw_len < 2)
				continue;
			obj = malloc(e[j].raw_len);
			if (!obj || codec_blob_open(cctx, repo_keys, e[j].type, e[j].id, pack + e[j].offset,
			                            e[j].length, obj, e[j].raw_len) != 0)
				die(l.v[i], "tree blob does not open");
			/* Kind byte 0: the serialization follows inline. */
			if (obj[0] == 0) {
				snprintf(name, sizeof name, "tree-%zu", ntrees);
				write_seed("fuzz_tree", name, obj + 1, e[j].raw_len - 1);
			}
			trees[ntrees] = obj;
			tree_lens[ntrees] = e[j].raw_len;
			tree_entries[ntrees] = e[j];
			tree_blobs[ntrees] = malloc(e[j].length);
			if (!tree_blobs[ntrees])
				die("tree", "out of memory");
			memcpy(tree_blobs[ntrees], pack + e[j].offset, e[j].length);
			tree_blob_lens[ntrees] = e[j].length;
			ntrees++;
		}
		free(e);
		free(plain);
		free(pack);
	}
	names_free(&l);
}

/* Small packs under the fuzz key: whole files, footer included. */
static void seed_fuzz_packs(void)
{
	static const struct { const char *name; uint8_t type; size_t from, count; } packs[] = {
		{"pack-empty", BLOB_TREE, 0, 0},
		{"pack-tree", BLOB_TREE, 0, 3},
		{"pack-data", BLOB_DATA, 0, 2},
	};
	PackBuilder pb;
	uint8_t id[CODEC_ID_LEN];

	pack_builder_init(&pb, CODEC_NAME_SHA256);
	for (size_t p = 0; p < sizeof packs / sizeof packs[0]; p++) {
		pack_builder_reset(&pb);
		for (size_t i = 0; i < packs[p].count; i++) {
			const uint8_t *plain = packs[p].type == BLOB_DATA ? text + 500 * i : trees[i % ntrees];
			size_t len = packs[p].type == BLOB_DATA ? 300 : tree_lens[i % ntrees], sealed_len = 0;
			uint8_t cid[CODEC_ID_LEN], *dst;
			codec_chunk_id(fuzz_keys(), plain, len, cid);
			if (pack_builder_reserve(&pb, len + CODEC_BLOB_OVERHEAD, &dst) != 0 ||
			    codec_blob_seal(cctx, fuzz_keys(), packs[p].type, cid, plain, len, 3, dst, &sealed_len) != 0 ||
			    pack_builder_commit(&pb, packs[p].type, cid, sealed_len, (uint32_t)len) != 0)
				die("pack", "cannot build");
		}
		if (pack_builder_finish(&pb, fuzz_keys(), id) != 0)
			die("pack", "cannot finish");
		write_seed("fuzz_pack_trailer", packs[p].name, pb.buf, pb.len);
	}
	pack_builder_free(&pb);
}

/* fuzz_frame (FORMAT.md §9a): mode byte 0 a frame plaintext, 1 trailer
 * entries with a frame, 2 RAW_LENGTH || a frame sealed under the fuzz key. */
static void seed_frames(void)
{
	static const size_t counts[] = {1, 3, 8};
	uint8_t ids[8][CODEC_ID_LEN];
	const uint8_t *data[8];
	uint32_t lens[8];

	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		size_t m = counts[c], p_len = 0, sealed_len = 0;
		uint8_t *p = NULL, *sealed, mode;
		char name[64];

		for (size_t i = 0; i < m; i++) {
			data[i] = text + 700 * i;
			lens[i] = (uint32_t)(200 + 50 * i);
			codec_chunk_id(fuzz_keys(), data[i], lens[i], ids[i]);
		}
		if (frame_plain_build((const uint8_t (*)[CODEC_ID_LEN])ids, data, lens, m, &p, &p_len) != 0)
			die("frame", "cannot build");
		mode = 0;
		snprintf(name, sizeof name, "plain-%zu", m);
		write_seed2("fuzz_frame", name, &mode, 1, p, p_len);
		sealed = malloc(p_len + CODEC_BLOB_OVERHEAD + 5);
		if (!sealed || frame_seal(cctx, fuzz_keys(), p, p_len, 3, sealed + 5, &sealed_len) != 0)
			die("frame", "cannot seal");
		sealed[0] = 2;
		format_put_le32(sealed + 1, (uint32_t)p_len);
		snprintf(name, sizeof name, "sealed-%zu", m);
		write_seed("fuzz_frame", name, sealed, sealed_len + 5);

		/* a data blob, then the frame and its members, then a data blob */
		size_t n = m + 3, area = 100 + sealed_len + 60;
		uint8_t *ent = calloc(1, 9 + n * PACK_ENTRY_LEN), *r;
		uint32_t off = (uint32_t)FRAME_HEADER_LEN(m);
		if (!ent)
			die("frame", "out of memory");
		ent[0] = 1;
		format_put_le64(ent + 1, area);
		r = ent + 9;
		r[0] = BLOB_DATA; memset(r + 1, 0x11, 32);
		format_put_le32(r + 33, 0); format_put_le32(r + 37, 100); format_put_le32(r + 41, 100);
		r += PACK_ENTRY_LEN;
		r[0] = FORMAT_BLOB_FRAME;
		format_put_le32(r + 33, 100); format_put_le32(r + 37, (uint32_t)sealed_len); format_put_le32(r + 41, (uint32_t)p_len);
		for (size_t i = 0; i < m; i++) {
			r += PACK_ENTRY_LEN;
			r[0] = FORMAT_BLOB_MEMBER;
			memcpy(r + 1, ids[i], CODEC_ID_LEN);
			format_put_le32(r + 33, off); format_put_le32(r + 37, 0); format_put_le32(r + 41, lens[i]);
			off += lens[i];
		}
		r += PACK_ENTRY_LEN;
		r[0] = BLOB_DATA; memset(r + 1, 0x22, 32);
		format_put_le32(r + 33, (uint32_t)(100 + sealed_len)); format_put_le32(r + 37, 60); format_put_le32(r + 41, 30);
		snprintf(name, sizeof name, "entries-%zu", m);
		write_seed("fuzz_frame", name, ent, 9 + n * PACK_ENTRY_LEN);

		/* the same pack listed in an index file: CONTENT version 2 */
		PackEntry pe[FRAME_WRITE_MEMBERS + 3];
		IndexFilePack ip;
		uint8_t *content = NULL;
		size_t content_len = 0;
		memset(&ip, 0, sizeof ip);
		memset(ip.id, 0x33, sizeof ip.id);
		ip.kind = PACK_KIND_DATA;
		ip.size = area + 200;
		ip.entries = pe;
		ip.n = n;
		for (size_t i = 0; i < n; i++) {
			const uint8_t *q = ent + 9 + i * PACK_ENTRY_LEN;
			pe[i].type = q[0];
			memcpy(pe[i].id, q + 1, CODEC_ID_LEN);
			pe[i].offset = format_get_le32(q + 33);
			pe[i].length = format_get_le32(q + 37);
			pe[i].raw_len = format_get_le32(q + 41);
		}
		if (indexfile_encode(&ip, 1, &content, &content_len) != 0)
			die("frame", "cannot encode an index file");
		snprintf(name, sizeof name, "index-frames-%zu", m);
		write_seed("fuzz_indexfile", name, content, content_len);
		free(content);
		free(ent);
		free(sealed);
		free(p);
	}
}

static void codec_hdr(uint8_t hdr[6 + CODEC_ID_LEN], uint8_t mode, uint8_t type, uint32_t raw_len,
                      const uint8_t id[CODEC_ID_LEN])
{
	hdr[0] = mode;
	hdr[1] = type;
	format_put_le32(hdr + 2, raw_len);
	memcpy(hdr + 6, id, CODEC_ID_LEN);
}

static void seed_codec(void)
{
	uint8_t hdr[6 + CODEC_ID_LEN], id[CODEC_ID_LEN], *z = NULL, *msg;
	size_t z_len = 0;
	char name[64], *b64;

	/* Mode 0: stored blobs under the repository's key (never the fuzz key). */
	for (size_t i = 0; i < ntrees && i < 3; i++) {
		codec_hdr(hdr, 0, tree_entries[i].type, tree_entries[i].raw_len, tree_entries[i].id);
		snprintf(name, sizeof name, "stored-%zu", i);
		write_seed2("fuzz_codec", name, hdr, sizeof hdr, tree_blobs[i], tree_blob_lens[i]);
	}
	/* Mode 1: authentic messages — a zstd body and a raw body that open,
	 * the chunk ID computed under the fuzz key. */
	for (size_t i = 0; i < ntrees && i < 2; i++) {
		if (codec_compress(trees[i], tree_lens[i], 9, &z, &z_len) != 0)
			die("zstd", "failed");
		msg = malloc(1 + (z_len > tree_lens[i] ? z_len : tree_lens[i]));
		if (!msg)
			die("codec", "out of memory");
		codec_chunk_id(fuzz_keys(), trees[i], tree_lens[i], id);
		codec_hdr(hdr, 1, BLOB_TREE, (uint32_t)tree_lens[i], id);
		msg[0] = 1;
		memcpy(msg + 1, z, z_len);
		snprintf(name, sizeof name, "authentic-zstd-%zu", i);
		write_seed2("fuzz_codec", name, hdr, sizeof hdr, msg, 1 + z_len);
		msg[0] = 0;
		memcpy(msg + 1, trees[i], tree_lens[i]);
		snprintf(name, sizeof name, "authentic-raw-%zu", i);
		write_seed2("fuzz_codec", name, hdr, sizeof hdr, msg, 1 + tree_lens[i]);
		free(msg);
		free(z);
		z = NULL;
	}
	/* Mode 2: plaintexts to round-trip (compressible, incompressible). */
	hdr[0] = 2; hdr[1] = BLOB_DATA; hdr[2] = 4;
	write_seed2("fuzz_codec", "roundtrip-text", hdr, 3, text, 2000);
	write_seed2("fuzz_codec", "roundtrip-noise", hdr, 3, noise, 500);
	hdr[2] = 0;
	write_seed2("fuzz_codec", "roundtrip-raw", hdr, 3, text, 40);
	/* Mode 3: a zstd frame, hex and base64 text. */
	hdr[0] = 3;
	if (codec_compress(text, 3000, 3, &z, &z_len) != 0)
		die("zstd", "failed");
	write_seed2("fuzz_codec", "misc-zstd", hdr, 1, z, z_len);
	free(z);
	write_seed2("fuzz_codec", "misc-hex", hdr, 1, "00ff7Fa9", 8);
	b64 = codec_b64(noise, 40);
	if (!b64)
		die("base64", "out of memory");
	write_seed2("fuzz_codec", "misc-base64", hdr, 1, b64, strlen(b64));
	free(b64);
}

static void seed_chunker(void)
{
	static const struct { const char *name; uint8_t p[3]; const uint8_t *data; size_t len; } in[] = {
		{"noise-256", {0, 0, 0}, noise, 12000},
		{"noise-1k", {2, 128, 40}, noise + 1000, 16000},
		{"text-4k", {4, 255, 255}, text, 20000},
		{"text-512", {1, 10, 100}, text + 100, 6000},
	};
	uint8_t hdr[7];

	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		memcpy(hdr, in[i].p, 3);
		format_put_le32(hdr + 3, (uint32_t)(0x1000 + i));
		write_seed2("fuzz_chunker", in[i].name, hdr, sizeof hdr, in[i].data, in[i].len);
	}
	{
		static uint8_t zeros[9000];
		hdr[0] = 3;
		write_seed2("fuzz_chunker", "zeros", hdr, sizeof hdr, zeros, sizeof zeros);
	}
}

/* S3's documents as its API reference shows them. */
static void seed_s3_xml(void)
{
	static const struct { const char *name, *xml; } docs[] = {
		{"list-page",
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		 "<Name>bucket</Name><Prefix>repo/snapshots/</Prefix><KeyCount>2</KeyCount>"
		 "<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
		 "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
		 "<Contents><Key>repo/snapshots/3fa1</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
		 "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>434</Size>"
		 "<StorageClass>STANDARD</StorageClass></Contents>"
		 "<Contents><Key>repo/snapshots/a&amp;b &#x41;</Key><Size>0</Size></Contents>"
		 "</ListBucketResult>"},
		{"list-empty",
		 "<ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>"},
		{"error",
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
		 "<Message>The resource you requested does not exist</Message>"
		 "<Resource>/mybucket/myfoto.jpg</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>"},
		{"upload-id",
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult>"
		 "<Bucket>bucket</Bucket><Key>repo/data/3f/3fa1</Key>"
		 "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
		 "</InitiateMultipartUploadResult>"},
		{"doctype", "<!DOCTYPE Error [<!ENTITY a \"aaaa\">]><Error><Code>&a;</Code></Error>"},
	};
	/* For the CompleteMultipartUpload writer: NULs separate ETags and
	 * checksums. */
	static const char parts[] = "\"etag-1\"\0c2hhMjU2\0\"<&>'\"\0\0plain";

	static const char head[] = "<ListBucketResult><Contents><Key>", tail[] = "</Key><Size>1</Size></Contents></ListBucketResult>";
	char *big;

	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
		write_seed("fuzz_s3_xml", docs[i].name, docs[i].xml, strlen(docs[i].xml));
	write_seed("fuzz_s3_xml", "complete-parts", parts, sizeof parts - 1);
	/* A key one byte over the reader's 8 KiB text limit (s3_xml.c
	 * XML_MAX_TEXT); also lifts libFuzzer's input length limit above it. */
	big = malloc(sizeof head + 8193 + sizeof tail);
	if (!big)
		die("seed", "out of memory");
	memcpy(big, head, sizeof head - 1);
	memset(big + sizeof head - 1, 'k', 8193);
	memcpy(big + sizeof head - 1 + 8193, tail, sizeof tail);
	write_seed("fuzz_s3_xml", "list-long-key", big, strlen(big));
	free(big);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	char src[256], repo_dir[256], cache[256];
	RemoteErr rerr;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: fuzz_seeds [OUTDIR]   (default fuzz/corpus)\n");
		return 2;
	}
	if (argc == 2)
		outdir = argv[1];
	if (codec_init() != 0 || !mkdtemp(tmp))
		die("setup", strerror(errno));
	snprintf(src, sizeof src, "%s/src", tmp);
	snprintf(repo_dir, sizeof repo_dir, "%s/repo", tmp);
	snprintf(cache, sizeof cache, "%s/cache", tmp);
	make_source(src);
	make_repository(src, repo_dir, cache);
	if (backend_open(repo_dir, &be, &rerr) != 0)
		die(repo_dir, rerr.msg);
	cctx = codec_ctx_new();
	if (!cctx)
		die("codec", "out of memory");
	seed_keys();
	seed_keycache();
	seed_config();
	seed_snapshots();
	seed_indexfiles();
	seed_packs("tree/", "tree");
	seed_packs("data/", "data");
	if (ntrees == 0)
		die("tree/", "no tree objects found");
	seed_fuzz_packs();
	seed_frames();
	seed_codec();
	seed_chunker();
	seed_s3_xml();
	seed_locks(repo_dir, cache);
	seed_verified(repo_dir, cache);
	for (size_t i = 0; i < ntrees; i++) {
		free(trees[i]);
		free(tree_blobs[i]);
	}
	codec_ctx_free(cctx);
	codec_keys_free(repo_keys);
	backend_free(be);
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (!failed)
		printf("seeds written to %s/\n", outdir);
	return failed;
}
