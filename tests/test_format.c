/* test_format.c — the repository format version (store/FORMAT.md §7,
 * §18): a new repository is version 2 in its config's sealed header and
 * in its JSON, and named by SHA-256; a config whose JSON and header
 * disagree on the version is refused with a message that names both; a
 * version the binary does not know is malformed; a version 1 config
 * opens as version 1 and names files by BLAKE2b-256.
 */
#include "store/format.h"
#include "store/repo_internal.h"
#include "tests/check.h"
#include "tests/test_repo.h"
#include "tests/test_tmp.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(*out = malloc((size_t)n + 1)) || fread(*out, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return -1;
	}
	fclose(f);
	*out_len = (size_t)n;
	return 0;
}

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(buf, 1, len, f) == len;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Rename every key file of the repository whose config is cfg_path to
 * the name the header version's hash gives its bytes (FORMAT.md §3: a key
 * file whose name is not NAME of its bytes is skipped). */
static int rename_keys(const char *cfg_path, uint32_t version)
{
	char keys[600], from[900], to[900], hex[CODEC_ID_LEN * 2 + 1];
	uint8_t *buf = NULL, sum[CODEC_ID_LEN];
	size_t len = 0;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	snprintf(keys, sizeof keys, "%.*s/keys", (int)(strlen(cfg_path) - strlen("/config")), cfg_path);
	if (!(d = opendir(keys)))
		return -1;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(from, sizeof from, "%s/%s", keys, e->d_name);
		rc = read_file(from, &buf, &len);
		if (rc == 0)
			rc = codec_name_hash(version == 1 ? CODEC_NAME_BLAKE2B : CODEC_NAME_SHA256, buf, len, sum);
		free(buf);
		buf = NULL;
		if (rc == 0) {
			codec_hex(sum, sizeof sum, hex);
			snprintf(to, sizeof to, "%s/%s", keys, hex);
			rc = rename(from, to);
		}
	}
	closedir(d);
	return rc;
}

/* Seal json as the config under header version, in place of dir's; the
 * key files take the names that version gives them. */
static int put_config(const Repo *repo, const char *cfg_path, uint32_t version, const char *json)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = sealed_encode(repo->keys, FORMAT_MAGIC_CONFIG, version, json, strlen(json), &buf, &len);

	if (rc == 0)
		rc = write_file(cfg_path, buf, len);
	if (rc == 0 && version <= STRATA_FORMAT_VERSION)
		rc = rename_keys(cfg_path, version);
	free(buf);
	return rc;
}

/* The config's JSON with "version":N replaced by "version":v. */
static char *with_version(const char *json, int v)
{
	const char *at = strstr(json, "\"version\":");
	char *out = malloc(strlen(json) + 16);
	size_t head;

	if (!at || !out) {
		free(out);
		return NULL;
	}
	head = (size_t)(at - json) + strlen("\"version\":");
	memcpy(out, json, head);
	sprintf(out + head, "%d%s", v, at + strlen("\"version\":") + 1);
	return out;
}

static void test_versions(void)
{
	char dir[] = "/tmp/strata-format-XXXXXX", cfg_path[600], loc[600];
	uint8_t *cfg = NULL, *plain = NULL;
	size_t cfg_len = 0, plain_len = 0;
	uint32_t v = 0;
	char *json = NULL, *j1 = NULL, *j3 = NULL, *j4 = NULL;
	Repo *repo = NULL, *again = NULL;
	StrataErr err = {0};

	REQUIRE(mkdtemp(dir) != NULL);
	REQUIRE(test_repo_create(dir, &repo) == 0);
	snprintf(loc, sizeof loc, "%s/repo", dir);
	snprintf(cfg_path, sizeof cfg_path, "%s/config", loc);
	CHECK_EQ_INT(repo_format_version(repo), 2);
	CHECK_EQ_INT(repo->name_hash, CODEC_NAME_SHA256);

	REQUIRE(read_file(cfg_path, &cfg, &cfg_len) == 0);
	REQUIRE(sealed_decode(repo->keys, FORMAT_MAGIC_CONFIG, STRATA_FORMAT_VERSION, cfg, cfg_len, &plain, &plain_len, &v) == 0);
	CHECK_EQ_INT(v, 2);
	json = malloc(plain_len + 1);
	REQUIRE(json);
	memcpy(json, plain, plain_len);
	json[plain_len] = 0;
	CHECK(strstr(json, "\"version\":2") != NULL);
	j1 = with_version(json, 1);
	j3 = with_version(json, 3);
	j4 = with_version(json, 4);
	REQUIRE(j1 && j3 && j4);

	/* JSON 1 under header 2, and JSON 2 under header 1: refused. */
	REQUIRE(put_config(repo, cfg_path, 2, j1) == 0);
	CHECK_EQ_INT(repo_open(loc, TEST_REPO_PW, strlen(TEST_REPO_PW), NULL, &again, &err), STRATA_EFORMAT);
	CHECK(strstr(err.msg, "/config: its content says format version 1, its header 2") != NULL);
	REQUIRE(put_config(repo, cfg_path, 1, json) == 0);
	CHECK_EQ_INT(repo_open(loc, TEST_REPO_PW, strlen(TEST_REPO_PW), NULL, &again, &err), STRATA_EFORMAT);
	CHECK(strstr(err.msg, "/config: its content says format version 2, its header 1") != NULL);
	/* A version this binary does not know, under a header it reads. */
	REQUIRE(put_config(repo, cfg_path, 2, j4) == 0);
	CHECK_EQ_INT(repo_open(loc, TEST_REPO_PW, strlen(TEST_REPO_PW), NULL, &again, &err), STRATA_EFORMAT);
	CHECK(strstr(err.msg, "/config: malformed content") != NULL);
	/* A newer header is refused before any key is tried. */
	REQUIRE(put_config(repo, cfg_path, 4, j4) == 0);
	CHECK_EQ_INT(repo_open(loc, "not the password", 16, NULL, &again, &err), STRATA_EVERSION);
	CHECK(strstr(err.msg, "has format version 4, this strata reads up to version 3; upgrade strata") != NULL);
	/* Version 3 both ways (frames, FORMAT.md 9a): opens, named by SHA-256. */
	REQUIRE(put_config(repo, cfg_path, 3, j3) == 0);
	REQUIRE(repo_open(loc, TEST_REPO_PW, strlen(TEST_REPO_PW), NULL, &again, &err) == 0);
	CHECK_EQ_INT(repo_format_version(again), 3);
	CHECK_EQ_INT(again->name_hash, CODEC_NAME_SHA256);
	repo_close(again);
	/* Version 1 both ways: opens as format 1, named by BLAKE2b-256. */
	REQUIRE(put_config(repo, cfg_path, 1, j1) == 0);
	REQUIRE(repo_open(loc, TEST_REPO_PW, strlen(TEST_REPO_PW), NULL, &again, &err) == 0);
	CHECK_EQ_INT(repo_format_version(again), 1);
	CHECK_EQ_INT(again->name_hash, CODEC_NAME_BLAKE2B);
	repo_close(again);

	repo_close(repo);
	free(cfg);
	free(plain);
	free(json);
	free(j1);
	free(j3);
	free(j4);
	rm_rf(dir);
}

/* The optional object_lock of the config (FORMAT.md §7): read when well
 * formed, the config refused otherwise. */
static void test_object_lock(void)
{
	static const char *const good =
		"{\"chunker\":{\"avg\":2048,\"max\":8192,\"min\":512},\"id\":\"%s\",\"pack_size\":73728,"
		"\"version\":2,\"object_lock\":%s}";
	static const char *const locks[] = {
		"{\"mode\":\"GOVERNANCE\",\"days\":7}", "{\"mode\":\"COMPLIANCE\",\"days\":36500}",
		"{\"mode\":\"FOREVER\",\"days\":7}", "{\"mode\":\"COMPLIANCE\",\"days\":0}",
		"{\"mode\":\"COMPLIANCE\",\"days\":36501}", "{\"days\":7}", "7",
	};
	const char *id = "365e961025218b1a69170d3d528d0abda1acd44610010a1e52af152e431d7750";
	uint8_t master[CODEC_KEY_LEN] = { 1 };
	CodecKeys *keys;
	char text[512];

	REQUIRE(codec_init() == 0);
	keys = codec_keys_new(master);
	REQUIRE(keys);
	for (size_t i = 0; i < sizeof locks / sizeof *locks; i++) {
		Repo *repo = calloc(1, sizeof *repo);
		StrataErr err = { 0, "" };
		int rc;

		REQUIRE(repo);
		repo->keys = keys;
		snprintf(repo->location, sizeof repo->location, "t");
		snprintf(text, sizeof text, good, id, locks[i]);
		rc = repo_config_parse(repo, (const uint8_t *)text, strlen(text), &err);
		if (i < 2) {
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_INT(repo->lock_days, i == 0 ? 7 : 36500);
			CHECK_EQ_INT(repo->lock_governance, i == 0);
		} else {
			CHECK_EQ_INT(rc, STRATA_EFORMAT);
			CHECK(strcmp(err.msg, "t/config: malformed object_lock") == 0);
		}
		free(repo);
	}
	codec_keys_free(keys);
}

int main(void)
{
	RUN(test_versions);
	RUN(test_object_lock);
	return CHECK_EXIT();
}
