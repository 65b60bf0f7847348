/* test_verified.c — restore-test records (store/verified.h, FORMAT.md
 * §12b): the plaintext codec (round trips for every outcome, each rule
 * of the format refused by reader and writer, cutting of long strings,
 * an outcome from a newer strata never counting as a pass), the sealed
 * file's bytes (magic, version, name = SHA-256 of the file, the
 * directory of its snapshot), the per-snapshot view (the newest record
 * decides; ties by record ID), damaged, forged and moved records left out
 * and listed, and prune deleting the records of forgotten snapshots only.
 */
#include "store/verified.h"
#include "store/repo_internal.h"
#include "store/snapshot.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

static VerifiedRecord sample(VerifiedOutcome o)
{
	VerifiedRecord r;

	memset(&r, 0, sizeof r);
	memset(r.snapshot, 0xab, sizeof r.snapshot);
	r.snapshot_time_ns = 1795000000123456789LL;
	r.time_ns = 1795000100000000000LL;
	r.outcome = o;
	r.exit_status = o == VERIFIED_PASSED ? 0 : o == VERIFIED_FAILED ? 3 : -1;
	r.signal = o == VERIFIED_SIGNALLED ? 11 : o == VERIFIED_TIMEOUT ? 15 : 0;
	r.timeout_s = 3600;
	r.restore_s = 1.5;
	r.command_s = 0.25;
	r.files = 12;
	r.bytes = 1400000;
	snprintf(r.name, sizeof r.name, "ldb");
	snprintf(r.host, sizeof r.host, "node-1");
	snprintf(r.user, sizeof r.user, "ops");
	if (o == VERIFIED_RESTORE_FAILED)
		snprintf(r.detail, sizeof r.detail, "pack 3fa1: chunk fails authentication");
	return r;
}

static int same(const VerifiedRecord *a, const VerifiedRecord *b)
{
	return memcmp(a->snapshot, b->snapshot, STRATA_ID_LEN) == 0 && a->snapshot_time_ns == b->snapshot_time_ns &&
	       a->time_ns == b->time_ns && a->outcome == b->outcome && a->exit_status == b->exit_status &&
	       a->signal == b->signal && a->timeout_s == b->timeout_s && a->restore_s == b->restore_s &&
	       a->command_s == b->command_s && a->files == b->files && a->bytes == b->bytes &&
	       !strcmp(a->name, b->name) && !strcmp(a->host, b->host) && !strcmp(a->user, b->user) &&
	       !strcmp(a->detail, b->detail);
}

static int parse_str(const char *json, VerifiedRecord *out)
{
	return verified_record_parse((const uint8_t *)json, strlen(json), out);
}

static void test_round_trip(void)
{
	for (int o = VERIFIED_PASSED; o < VERIFIED_UNKNOWN; o++) {
		VerifiedRecord r = sample((VerifiedOutcome)o), back;
		char *json = NULL;
		CHECK_EQ_INT(verified_record_json(&r, &json), 0);
		REQUIRE(json);
		memset(&back, 0x5a, sizeof back);
		CHECK_EQ_INT(parse_str(json, &back), 0);
		CHECK(same(&r, &back));
		/* The name of the file is not in its content: left zero. */
		static const uint8_t zero[STRATA_ID_LEN];
		CHECK(memcmp(back.id, zero, STRATA_ID_LEN) == 0);
		free(json);
	}
}

/* The writer's exact bytes: compact, keys sorted (FORMAT.md §12b). */
static void test_exact_json(void)
{
	VerifiedRecord r = sample(VERIFIED_FAILED);
	char *json = NULL, want[1024], hex[STRATA_ID_HEX_LEN + 1];

	codec_hex(r.snapshot, STRATA_ID_LEN, hex);
	snprintf(want, sizeof want,
	         "{\"bytes\":1400000,\"command_s\":0.25,\"detail\":\"\",\"exit_status\":3,\"files\":12,"
	         "\"host\":\"node-1\",\"name\":\"ldb\",\"outcome\":\"failed\",\"restore_s\":1.5,\"signal\":0,"
	         "\"snapshot\":\"%s\",\"snapshot_time_ns\":1795000000123456789,\"time_ns\":1795000100000000000,"
	         "\"timeout_s\":3600,\"user\":\"ops\",\"version\":1}", hex);
	REQUIRE(verified_record_json(&r, &json) == 0);
	CHECK_STR(json, want);
	free(json);
}

static void test_rules(void)
{
	VerifiedRecord r, out;
	char *json = NULL;
	char snap[STRATA_ID_HEX_LEN + 1], doc[2048];
	static const struct { int outcome, exit_status, signal; } bad[] = {
		{ VERIFIED_PASSED, 1, 0 },  { VERIFIED_PASSED, -1, 0 }, { VERIFIED_PASSED, 0, 9 },
		{ VERIFIED_FAILED, 0, 0 },  { VERIFIED_FAILED, 256, 0 }, { VERIFIED_FAILED, 2, 9 },
		{ VERIFIED_SIGNALLED, -1, 0 }, { VERIFIED_SIGNALLED, 0, 9 }, { VERIFIED_SIGNALLED, -1, 128 },
		{ VERIFIED_TIMEOUT, 2, 15 }, { VERIFIED_RESTORE_FAILED, 0, 0 }, { VERIFIED_RESTORE_FAILED, -1, 15 },
		{ 0, 0, 0 }, { 99, -1, 0 },
	};
	static const char *outcomes[] = { "", "passed", "failed", "signal", "timeout", "restore_failed" };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = sample(VERIFIED_PASSED);
		r.outcome = (VerifiedOutcome)bad[i].outcome;
		r.exit_status = bad[i].exit_status;
		r.signal = bad[i].signal;
		json = NULL;
		CHECK_EQ_INT(verified_record_json(&r, &json), STRATA_EFORMAT);
		CHECK(json == NULL);
		/* And the reader refuses the same combination. */
		if (bad[i].outcome >= VERIFIED_PASSED && bad[i].outcome <= VERIFIED_RESTORE_FAILED) {
			codec_hex(r.snapshot, STRATA_ID_LEN, snap);
			snprintf(doc, sizeof doc, "{\"version\":1,\"snapshot\":\"%s\",\"snapshot_time_ns\":1,\"time_ns\":2,"
			         "\"outcome\":\"%s\",\"name\":\"x\",\"exit_status\":%d,\"signal\":%d}", snap,
			         outcomes[bad[i].outcome], bad[i].exit_status, bad[i].signal);
			memset(&out, 0x5a, sizeof out);
			CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
			CHECK(out.name[0] == 0x5a);    /* written only on success */
		}
	}
	/* An empty name, or one longer than VERIFIED_NAME_MAX. */
	r = sample(VERIFIED_PASSED);
	r.name[0] = '\0';
	CHECK_EQ_INT(verified_record_json(&r, &json), STRATA_EFORMAT);
}

#define DOC(version, snap, name, extra) \
	snprintf(doc, sizeof doc, "{\"version\":%s,\"snapshot\":\"%s\",\"snapshot_time_ns\":1,\"time_ns\":2," \
	         "\"outcome\":\"passed\",\"exit_status\":0,\"name\":\"%s\"%s}", version, snap, name, extra)

static void test_reader_refuses(void)
{
	char snap[STRATA_ID_HEX_LEN + 1], doc[2048], big[VERIFIED_NAME_MAX + 2];
	VerifiedRecord out;
	uint8_t *huge;

	memset(snap, 'c', STRATA_ID_HEX_LEN);
	snap[STRATA_ID_HEX_LEN] = '\0';
	DOC("1", snap, "ok", "");
	CHECK_EQ_INT(parse_str(doc, &out), 0);
	CHECK_EQ_INT(out.outcome, VERIFIED_PASSED);
	/* Defaults for what is optional. */
	CHECK_EQ_INT(out.signal, 0);
	CHECK_EQ_INT(out.files, 0);
	CHECK_STR(out.host, "");
	DOC("2", snap, "ok", "");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EVERSION);
	DOC("0", snap, "ok", "");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
	DOC("\"1\"", snap, "ok", "");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
	/* Hex: lower case, 64 digits. */
	snap[0] = 'C';
	DOC("1", snap, "ok", "");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
	snap[0] = 'c';
	DOC("1", snap + 1, "ok", "");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
	/* Names: not empty, at most VERIFIED_NAME_MAX bytes. */
	DOC("1", snap, "", "");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
	memset(big, 'n', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	DOC("1", snap, big, "");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
	big[VERIFIED_NAME_MAX] = '\0';
	DOC("1", snap, big, "");
	CHECK_EQ_INT(parse_str(doc, &out), 0);
	/* Negative counts, a duplicate key, a missing field, not JSON. */
	DOC("1", snap, "ok", ",\"files\":-1");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
	DOC("1", snap, "ok", ",\"name\":\"other\"");
	CHECK_EQ_INT(parse_str(doc, &out), STRATA_EFORMAT);
	CHECK_EQ_INT(parse_str("{\"version\":1}", &out), STRATA_EFORMAT);
	CHECK_EQ_INT(parse_str("[]", &out), STRATA_EFORMAT);
	CHECK_EQ_INT(verified_record_parse((const uint8_t *)"", 0, &out), STRATA_EFORMAT);
	/* Longer than any record: refused before parsing. */
	huge = malloc(VERIFIED_MAX_BYTES + 1);
	REQUIRE(huge);
	memset(huge, ' ', VERIFIED_MAX_BYTES + 1);
	DOC("1", snap, "ok", "");
	memcpy(huge, doc, strlen(doc));
	CHECK_EQ_INT(verified_record_parse(huge, VERIFIED_MAX_BYTES + 1, &out), STRATA_EFORMAT);
	CHECK_EQ_INT(verified_record_parse(huge, VERIFIED_MAX_BYTES, &out), 0);
	free(huge);
}

/* A newer strata's outcome reads as "unknown", which is never a pass. */
static void test_unknown_outcome(void)
{
	char doc[1024], snap[STRATA_ID_HEX_LEN + 1];
	VerifiedRecord out;
	char *json = NULL;

	memset(snap, 'd', STRATA_ID_HEX_LEN);
	snap[STRATA_ID_HEX_LEN] = '\0';
	snprintf(doc, sizeof doc, "{\"version\":1,\"snapshot\":\"%s\",\"snapshot_time_ns\":1,\"time_ns\":2,"
	         "\"outcome\":\"half-passed\",\"exit_status\":0,\"signal\":3,\"name\":\"x\"}", snap);
	CHECK_EQ_INT(parse_str(doc, &out), 0);
	CHECK_EQ_INT(out.outcome, VERIFIED_UNKNOWN);
	CHECK_EQ_INT(out.exit_status, -1);
	CHECK_EQ_INT(out.signal, 0);
	CHECK_STR(verified_outcome_name(out.outcome), "unknown");
	/* This strata never writes it. */
	CHECK_EQ_INT(verified_record_json(&out, &json), STRATA_EFORMAT);
}

/* Long strings are cut between characters, never inside one. */
static void test_cut_strings(void)
{
	char doc[4096], host[1200], snap[STRATA_ID_HEX_LEN + 1];
	VerifiedRecord out;
	size_t n = 0;

	memset(snap, 'e', STRATA_ID_HEX_LEN);
	snap[STRATA_ID_HEX_LEN] = '\0';
	/* "é" is two bytes: 300 of them do not fit 255 bytes. */
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(host + n, "\xc3\xa9");
	snprintf(doc, sizeof doc, "{\"version\":1,\"snapshot\":\"%s\",\"snapshot_time_ns\":1,\"time_ns\":2,"
	         "\"outcome\":\"passed\",\"exit_status\":0,\"name\":\"x\",\"host\":\"%s\"}", snap, host);
	REQUIRE(parse_str(doc, &out) == 0);
	CHECK_EQ_INT(strlen(out.host), 254);
	CHECK(strncmp(out.host, host, 254) == 0);
}

/* ---- the repository ---- */

static char tmp_dir[] = "/tmp/strata-test-verified.XXXXXX";
static Repo *repo;

static void snap_dir(const uint8_t snap[STRATA_ID_LEN], char *out, size_t len)
{
	char hex[STRATA_ID_HEX_LEN + 1];

	codec_hex(snap, STRATA_ID_LEN, hex);
	snprintf(out, len, "%s/repo/verified/%s", tmp_dir, hex);
}

static int read_whole(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	*out = malloc((size_t)n + 1);
	*len = (size_t)n;
	if (!*out || fread(*out, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static void test_file_bytes(void)
{
	VerifiedRecord r = sample(VERIFIED_PASSED);
	StrataErr err = {0};
	char dir[700], path[800], hex[STRATA_ID_HEX_LEN + 1];
	uint8_t *buf = NULL, digest[SHA256_DIGEST_LENGTH];
	size_t len = 0;

	memset(r.snapshot, 0x11, STRATA_ID_LEN);
	REQUIRE(verified_save(repo, &r, &err) == 0);
	snap_dir(r.snapshot, dir, sizeof dir);
	codec_hex(r.id, STRATA_ID_LEN, hex);
	snprintf(path, sizeof path, "%s/%s", dir, hex);
	REQUIRE(read_whole(path, &buf, &len) == 0);
	/* MAGIC || VERSION (u32 LE) || NONCE || CIPHERTEXT || TAG */
	CHECK(len > 12 + 24 + 16);
	CHECK(memcmp(buf, "STRATAVR", 8) == 0);
	CHECK(buf[8] == 1 && buf[9] == 0 && buf[10] == 0 && buf[11] == 0);
	/* Format 2: the name is the SHA-256 of the file. */
	SHA256(buf, len, digest);
	CHECK(memcmp(digest, r.id, STRATA_ID_LEN) == 0);
	free(buf);
	/* A record with the writer's rules broken is refused, not written. */
	r.exit_status = 2;
	CHECK_EQ_INT(verified_save(repo, &r, &err), STRATA_EFORMAT);
	CHECK(strstr(err.msg, "FORMAT.md") != NULL);
}

static VerifiedRecord save(uint8_t snap_byte, VerifiedOutcome o, int64_t time_ns)
{
	VerifiedRecord r = sample(o);
	StrataErr err = {0};

	memset(r.snapshot, snap_byte, STRATA_ID_LEN);
	r.time_ns = time_ns;
	if (verified_save(repo, &r, &err) != 0)
		printf("  verified_save: %s\n", err.msg);
	return r;
}

static void test_newest_decides(void)
{
	uint8_t a[STRATA_ID_LEN], b[STRATA_ID_LEN], c[STRATA_ID_LEN], d[STRATA_ID_LEN];
	VerifiedSet *set = NULL;
	StrataErr err = {0};
	VerifiedRecord t1, t2;
	const VerifiedRecord *n;

	memset(a, 0x21, sizeof a);
	memset(b, 0x22, sizeof b);
	memset(c, 0x23, sizeof c);
	memset(d, 0x24, sizeof d);
	/* a: passed, then failed. b: failed, then passed. c: two at the same
	 * time, the larger record ID wins. d: none. */
	save(0x21, VERIFIED_PASSED, 100);
	save(0x21, VERIFIED_FAILED, 200);
	save(0x22, VERIFIED_TIMEOUT, 100);
	save(0x22, VERIFIED_PASSED, 300);
	t1 = save(0x23, VERIFIED_PASSED, 500);
	t2 = save(0x23, VERIFIED_SIGNALLED, 500);
	REQUIRE(verified_load(repo, &set, &err) == 0);
	CHECK_EQ_INT(verified_set_nbad(set), 0);
	CHECK_EQ_INT(verified_passed(set, a), 0);
	CHECK_EQ_INT(verified_newest(set, a)->outcome, VERIFIED_FAILED);
	CHECK_EQ_INT(verified_passed(set, b), 1);
	CHECK_EQ_INT(verified_newest(set, b)->time_ns, 300);
	n = verified_newest(set, c);
	REQUIRE(n);
	CHECK(memcmp(n->id, memcmp(t1.id, t2.id, STRATA_ID_LEN) > 0 ? t1.id : t2.id, STRATA_ID_LEN) == 0);
	CHECK_EQ_INT(verified_passed(set, c), n->outcome == VERIFIED_PASSED);
	CHECK(verified_newest(set, d) == NULL);
	CHECK_EQ_INT(verified_passed(set, d), 0);
	CHECK(verified_newest(NULL, a) == NULL);
	/* Ordered by snapshot, then time. */
	for (size_t i = 1; i < verified_set_count(set); i++) {
		const VerifiedRecord *p = verified_set_at(set, i - 1), *q = verified_set_at(set, i);
		int cmp = memcmp(p->snapshot, q->snapshot, STRATA_ID_LEN);
		CHECK(cmp < 0 || (cmp == 0 && p->time_ns <= q->time_ns));
	}
	verified_set_free(set);
}

/* Damaged, moved and foreign records are left out and listed. */
static void test_bad_records(void)
{
	VerifiedRecord r1 = save(0x31, VERIFIED_PASSED, 10), r2 = save(0x32, VERIFIED_PASSED, 10),
	               r3 = save(0x33, VERIFIED_PASSED, 10);
	char d1[700], d2[700], d3[700], p[900], q[900], h[STRATA_ID_HEX_LEN + 1];
	uint8_t *buf = NULL, s2[STRATA_ID_LEN], s3[STRATA_ID_LEN];
	size_t len = 0, found = 0;
	VerifiedSet *set = NULL;
	StrataErr err = {0};
	FILE *f;

	memset(s2, 0x32, sizeof s2);
	memset(s3, 0x33, sizeof s3);
	snap_dir(r1.snapshot, d1, sizeof d1);
	snap_dir(r2.snapshot, d2, sizeof d2);
	snap_dir(r3.snapshot, d3, sizeof d3);
	/* r1: one byte flipped. */
	codec_hex(r1.id, STRATA_ID_LEN, h);
	snprintf(p, sizeof p, "%s/%s", d1, h);
	REQUIRE(read_whole(p, &buf, &len) == 0);
	buf[len / 2] ^= 0x01;
	f = fopen(p, "wb");
	REQUIRE(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
	free(buf);
	/* r2: moved into r3's directory (its plaintext names 0x32...). */
	codec_hex(r2.id, STRATA_ID_LEN, h);
	snprintf(p, sizeof p, "%s/%s", d2, h);
	snprintf(q, sizeof q, "%s/%s", d3, h);
	REQUIRE(rename(p, q) == 0);
	REQUIRE(verified_load(repo, &set, &err) == 0);
	for (size_t i = 0; i < verified_set_nbad(set); i++) {
		const VerifiedBad *b = verified_set_bad(set, i);
		if (memcmp(b->id, r1.id, STRATA_ID_LEN) == 0) {
			found++;
			CHECK_EQ_INT(b->code, STRATA_EDAMAGED);
			CHECK(strstr(b->message, "content does not match its name") != NULL);
		}
		if (memcmp(b->id, r2.id, STRATA_ID_LEN) == 0) {
			found++;
			CHECK_EQ_INT(b->code, STRATA_EDAMAGED);
			CHECK(strstr(b->message, "not the one of its directory") != NULL);
			CHECK(memcmp(b->snapshot, s3, STRATA_ID_LEN) == 0);
		}
	}
	CHECK_EQ_INT(found, 2);
	CHECK_EQ_INT(verified_passed(set, r1.snapshot), 0);
	CHECK_EQ_INT(verified_passed(set, s2), 0);
	CHECK_EQ_INT(verified_passed(set, s3), 1);     /* r3 itself is fine */
	verified_set_free(set);
	rm_rf(d1);
	REQUIRE(rename(q, p) == 0);
}

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_prune(void)
{
	Snapshot s;
	StrataErr err = {0};
	VerifiedRecord kept, gone;
	char dkept[700], dgone[700], host[] = "h", user[] = "u";
	uint64_t nrec = 0, nsnap = 0;
	uint8_t ignore[1][STRATA_ID_LEN];

	memset(&s, 0, sizeof s);
	s.time_ns = 1;
	s.host = host;
	s.user = user;
	REQUIRE(snapshot_save(repo, &s, &err) == 0);
	kept = save(0, VERIFIED_PASSED, 1);
	memcpy(kept.snapshot, s.id, STRATA_ID_LEN);
	REQUIRE(verified_save(repo, &kept, &err) == 0);
	gone = save(0x41, VERIFIED_FAILED, 1);
	save(0x41, VERIFIED_PASSED, 2);
	snap_dir(kept.snapshot, dkept, sizeof dkept);
	snap_dir(gone.snapshot, dgone, sizeof dgone);
	/* A dry run counts. */
	REQUIRE(verified_prune(repo, NULL, 0, 1, &nrec, &nsnap, &err) == 0);
	CHECK(nrec >= 2);
	CHECK(count_files(dgone) == 2);
	/* Ignored snapshots count as forgotten. */
	memcpy(ignore[0], s.id, STRATA_ID_LEN);
	{
		uint64_t n2 = 0, s2 = 0;
		REQUIRE(verified_prune(repo, (const uint8_t (*)[STRATA_ID_LEN])ignore, 1, 1, &n2, &s2, &err) == 0);
		CHECK_EQ_INT(n2, nrec + 1);
		CHECK_EQ_INT(s2, nsnap + 1);
	}
	REQUIRE(verified_prune(repo, NULL, 0, 0, &nrec, &nsnap, &err) == 0);
	CHECK(count_files(dgone) <= 0);
	CHECK_EQ_INT(count_files(dkept), 1);
	/* Nothing left to do. */
	REQUIRE(verified_prune(repo, NULL, 0, 0, &nrec, &nsnap, &err) == 0);
	CHECK_EQ_INT(nrec, 0);
	CHECK_EQ_INT(nsnap, 0);
}

int main(void)
{
	if (codec_init() != 0 || !mkdtemp(tmp_dir))
		return 1;
	RUN(test_round_trip);
	RUN(test_exact_json);
	RUN(test_rules);
	RUN(test_reader_refuses);
	RUN(test_unknown_outcome);
	RUN(test_cut_strings);
	if (test_repo_create(tmp_dir, &repo) != 0) {
		printf("FAIL test_verified: no repository\n");
		return 1;
	}
	RUN(test_file_bytes);
	RUN(test_newest_decides);
	RUN(test_bad_records);
	RUN(test_prune);
	repo_close(repo);
	rm_rf(tmp_dir);
	return CHECK_EXIT();
}
