/* test_prune_plan.c — unit tests for store/prune/prune_plan.c, the prune
 * plan file prune/<id> (FORMAT.md §19.2): a plan written is read back
 * with its snapshots and packs sorted and every field equal, its sealed
 * plaintext is the exact JSON the format describes, a plan whose content
 * does not follow §19.2 is refused with "prune/<id>: content is
 * malformed", and deleting is idempotent. */
#include "store/format.h"
#include "store/prune/prune_internal.h"
#include "store/repo_internal.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static Repo *repo;

static void fill_id(uint8_t id[STRATA_ID_LEN], uint8_t first)
{
	memset(id, 0, STRATA_ID_LEN);
	id[0] = first;
	id[STRATA_ID_LEN - 1] = (uint8_t)(first ^ 0x5a);
}

static void add_pack(PackList *l, uint8_t first, uint8_t kind, uint64_t size, uint8_t why)
{
	PackStat *ps = prune_pack_push(l);

	if (!ps)
		exit(2);
	fill_id(ps->id, first);
	ps->kind = kind;
	ps->size = size;
	ps->why = why;
}

/* A plan with its lists in an order other than sorted. */
static void sample_plan(Plan *p)
{
	memset(p, 0, sizeof *p);
	p->created_ns = 1700000000123456789LL;    /* above 2^53: kept exactly */
	p->nsnaps = 2;
	p->snaps = calloc(2, sizeof *p->snaps);
	if (!p->snaps)
		exit(2);
	fill_id(p->snaps[0], 0xc0);
	fill_id(p->snaps[1], 0x10);
	add_pack(&p->packs, 0xee, PACK_KIND_TREE, 4096, WHY_REPACK);
	add_pack(&p->packs, 0x01, PACK_KIND_DATA, 17u << 20, WHY_UNUSED);
	add_pack(&p->packs, 0x7f, PACK_KIND_DATA, 123, WHY_ORPHAN);
	add_pack(&p->written, 0x42, PACK_KIND_DATA, 0, WHY_KEEP);
}

static void hex_of(const uint8_t id[STRATA_ID_LEN], char out[STRATA_ID_HEX_LEN + 1])
{
	codec_hex(id, STRATA_ID_LEN, out);
}

static void test_round_trip(void)
{
	Plan p, q;
	StrataErr err = {0};
	uint8_t zero[STRATA_ID_LEN] = {0};
	uint8_t want[STRATA_ID_LEN];

	sample_plan(&p);
	REQUIRE(prune_plan_write(repo, &p, &err) == 0);
	CHECK(memcmp(p.id, zero, STRATA_ID_LEN) != 0);
	REQUIRE(prune_plan_read(repo, p.id, &q, &err) == 0);
	CHECK(memcmp(q.id, p.id, STRATA_ID_LEN) == 0);
	CHECK_EQ_INT(q.created_ns, 1700000000123456789LL);
	REQUIRE(q.nsnaps == 2);
	fill_id(want, 0x10);
	CHECK(memcmp(q.snaps[0], want, STRATA_ID_LEN) == 0);
	fill_id(want, 0xc0);
	CHECK(memcmp(q.snaps[1], want, STRATA_ID_LEN) == 0);
	REQUIRE(q.packs.n == 3);
	fill_id(want, 0x01);
	CHECK(memcmp(q.packs.v[0].id, want, STRATA_ID_LEN) == 0);
	CHECK_EQ_INT(q.packs.v[0].kind, PACK_KIND_DATA);
	CHECK_EQ_INT(q.packs.v[0].size, 17u << 20);
	CHECK_EQ_INT(q.packs.v[0].why, WHY_UNUSED);
	fill_id(want, 0x7f);
	CHECK(memcmp(q.packs.v[1].id, want, STRATA_ID_LEN) == 0);
	CHECK_EQ_INT(q.packs.v[1].why, WHY_ORPHAN);
	CHECK_EQ_INT(q.packs.v[1].size, 123);
	fill_id(want, 0xee);
	CHECK(memcmp(q.packs.v[2].id, want, STRATA_ID_LEN) == 0);
	CHECK_EQ_INT(q.packs.v[2].kind, PACK_KIND_TREE);
	CHECK_EQ_INT(q.packs.v[2].why, WHY_REPACK);
	REQUIRE(q.written.n == 1);
	fill_id(want, 0x42);
	CHECK(memcmp(q.written.v[0].id, want, STRATA_ID_LEN) == 0);
	CHECK_EQ_INT(q.written.v[0].kind, PACK_KIND_DATA);
	/* prune_pack_find works on the sorted list read back. */
	fill_id(want, 0x7f);
	CHECK(prune_pack_find(&q.packs, want) == &q.packs.v[1]);
	fill_id(want, 0x80);
	CHECK(prune_pack_find(&q.packs, want) == NULL);
	prune_plan_free(&p);
	prune_plan_free(&q);
	/* A freed plan is zeroed; freeing twice is harmless. */
	CHECK(q.snaps == NULL && q.packs.v == NULL && q.packs.n == 0);
	prune_plan_free(&q);
	prune_plan_free(NULL);
}

/* The plaintext under the seal: compact JSON, keys sorted, IDs in hex,
 * packs as [id, kind, size, why] (FORMAT.md §19.2). */
static void test_exact_json(void)
{
	Plan p;
	StrataErr err = {0};
	uint8_t *plain = NULL;
	size_t len = 0;
	char host[256], s0[65], s1[65], a[65], b[65], c[65], w[65], *want = NULL;

	sample_plan(&p);
	REQUIRE(prune_plan_write(repo, &p, &err) == 0);
	REQUIRE(repo_read_named(repo, PRUNE_PLAN_DIR, "a prune plan", OBJSIZE_PLAN_MAX, p.id, FORMAT_MAGIC_PLAN, 1,
	                        &plain, &len, &err) == 0);
	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "unknown");
	host[sizeof host - 1] = '\0';
	hex_of(p.snaps[0], s0);
	hex_of(p.snaps[1], s1);
	hex_of(p.packs.v[0].id, a);
	hex_of(p.packs.v[1].id, b);
	hex_of(p.packs.v[2].id, c);
	hex_of(p.written.v[0].id, w);
	REQUIRE(asprintf(&want, "{\"created_ns\":1700000000123456789,\"host\":\"%s\","
	                 "\"packs\":[[\"%s\",1,4096,\"repack\"],[\"%s\",0,17825792,\"unused\"],[\"%s\",0,123,\"orphan\"]],"
	                 "\"snapshots\":[\"%s\",\"%s\"],\"version\":1,\"written\":[[\"%s\",0]]}",
	                 host, a, b, c, s0, s1, w) > 0);
	CHECK_EQ_INT(len, strlen(want));
	CHECK(len == strlen(want) && memcmp(plain, want, len) == 0);
	if (len != strlen(want) || memcmp(plain, want, len) != 0)
		printf("  got  %.*s\n  want %s\n", (int)len, (const char *)plain, want);
	free(want);
	free(plain);
	prune_plan_free(&p);
}

/* Store json as a sealed plan file and try to read it: every one must be
 * refused with the same message naming the file. */
static void expect_malformed(const char *json)
{
	uint8_t id[STRATA_ID_LEN];
	char hex[STRATA_ID_HEX_LEN + 1], want[STRATA_ERRMSG_LEN];
	StrataErr err = {0};
	Plan q;

	memset(&q, 0x55, sizeof q);
	if (repo_write_named(repo, PRUNE_PLAN_DIR, "a prune plan", OBJSIZE_PLAN_MAX, FORMAT_MAGIC_PLAN, 1, json,
	                     strlen(json), id, &err) != 0) {
		printf("  cannot store %s: %s\n", json, err.msg);
		check_test_failed_ = 1;
		return;
	}
	CHECK_EQ_INT(prune_plan_read(repo, id, &q, &err), STRATA_EFORMAT);
	hex_of(id, hex);
	snprintf(want, sizeof want, "prune/%s: content is malformed", hex);
	CHECK_STR(err.msg, want);
	/* A refused plan is left empty (free accepts it). */
	CHECK(q.snaps == NULL && q.packs.v == NULL && q.written.v == NULL);
	prune_plan_free(&q);
}

#define ID64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static void test_malformed(void)
{
	expect_malformed("not json");
	expect_malformed("[]");
	/* each required field missing in turn */
	expect_malformed("{\"snapshots\":[],\"packs\":[],\"written\":[]}");
	expect_malformed("{\"created_ns\":1,\"packs\":[],\"written\":[]}");
	expect_malformed("{\"created_ns\":1,\"snapshots\":[],\"written\":[]}");
	expect_malformed("{\"created_ns\":1,\"snapshots\":[],\"packs\":[]}");
	/* wrong types */
	expect_malformed("{\"created_ns\":\"1\",\"snapshots\":[],\"packs\":[],\"written\":[]}");
	expect_malformed("{\"created_ns\":1,\"snapshots\":{},\"packs\":[],\"written\":[]}");
	/* a snapshot ID that is not 64 hex digits */
	expect_malformed("{\"created_ns\":1,\"snapshots\":[\"abc\"],\"packs\":[],\"written\":[]}");
	expect_malformed("{\"created_ns\":1,\"snapshots\":[7],\"packs\":[],\"written\":[]}");
	/* a pack of kind 2, a short entry, a bad ID */
	expect_malformed("{\"created_ns\":1,\"snapshots\":[],\"packs\":[[\"" ID64 "\",2,1,\"unused\"]],\"written\":[]}");
	expect_malformed("{\"created_ns\":1,\"snapshots\":[],\"packs\":[[\"" ID64 "\",0,1]],\"written\":[]}");
	expect_malformed("{\"created_ns\":1,\"snapshots\":[],\"packs\":[[\"xyz\",0,1,\"unused\"]],\"written\":[]}");
	/* a written copy of kind 5 */
	expect_malformed("{\"created_ns\":1,\"snapshots\":[],\"packs\":[],\"written\":[[\"" ID64 "\",5]]}");
}

/* A "why" other than orphan and repack reads as unused; unknown fields
 * are ignored. */
static void test_lenient(void)
{
	const char *json = "{\"created_ns\":5,\"extra\":true,\"snapshots\":[],\"packs\":[[\"" ID64
	                   "\",1,9,\"later\"]],\"written\":[]}";
	uint8_t id[STRATA_ID_LEN];
	StrataErr err = {0};
	Plan q;

	REQUIRE(repo_write_named(repo, PRUNE_PLAN_DIR, "a prune plan", OBJSIZE_PLAN_MAX, FORMAT_MAGIC_PLAN, 1, json,
	                         strlen(json), id, &err) == 0);
	REQUIRE(prune_plan_read(repo, id, &q, &err) == 0);
	CHECK_EQ_INT(q.created_ns, 5);
	CHECK_EQ_INT(q.nsnaps, 0);
	REQUIRE(q.packs.n == 1);
	CHECK_EQ_INT(q.packs.v[0].why, WHY_UNUSED);
	CHECK_EQ_INT(q.packs.v[0].kind, PACK_KIND_TREE);
	CHECK_EQ_INT(q.packs.v[0].size, 9);
	prune_plan_free(&q);
}

/* A plan sealed with a newer version is refused before its JSON is read. */
static void test_newer_version(void)
{
	const char *json = "{\"created_ns\":1,\"snapshots\":[],\"packs\":[],\"written\":[]}";
	uint8_t id[STRATA_ID_LEN];
	StrataErr err = {0};
	Plan q;

	REQUIRE(repo_write_named(repo, PRUNE_PLAN_DIR, "a prune plan", OBJSIZE_PLAN_MAX, FORMAT_MAGIC_PLAN, 2, json,
	                         strlen(json), id, &err) == 0);
	CHECK_EQ_INT(prune_plan_read(repo, id, &q, &err), STRATA_EVERSION);
}

static void test_delete(void)
{
	Plan p, q;
	StrataErr err = {0};
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	RemoteErr rerr = {{0}};
	uint64_t size = 0;

	sample_plan(&p);
	REQUIRE(prune_plan_write(repo, &p, &err) == 0);
	hex_of(p.id, hex);
	snprintf(name, sizeof name, "prune/%s", hex);
	CHECK_EQ_INT(backend_stat(repo->be, name, &size, &rerr), 0);
	CHECK(size > 0);
	CHECK_EQ_INT(prune_plan_delete(repo, p.id, &err), 0);
	CHECK_EQ_INT(backend_stat(repo->be, name, &size, &rerr), -ENOENT);
	/* Sweeps repeat after a crash: already gone is success. */
	CHECK_EQ_INT(prune_plan_delete(repo, p.id, &err), 0);
	CHECK_EQ_INT(prune_plan_read(repo, p.id, &q, &err), STRATA_ENOTFOUND);
	snprintf(name, sizeof name, "prune/%s: not found in the repository", hex);
	CHECK_STR(err.msg, name);
	prune_plan_free(&p);
}

int main(void)
{
	char dir[] = "/tmp/strata-test-prune-plan-XXXXXX";

	if (!mkdtemp(dir) || test_repo_create(dir, &repo) != 0)
		return 2;
	RUN(test_round_trip);
	RUN(test_exact_json);
	RUN(test_malformed);
	RUN(test_lenient);
	RUN(test_newer_version);
	RUN(test_delete);
	repo_close(repo);
	rm_rf(dir);
	return CHECK_EXIT();
}
