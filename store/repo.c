/* repo.c — creating and opening repositories. See repo.h. Which key file
 * opens a repository, and key management: repo_keys.c.
 * FORMAT.md "Config file", "Key file", "Local cache". */
#include "store/repo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "store/format.h"
#include "store/index.h"
#include "store/indexfile.h"
#include "store/keycache.h"
#include "store/keyfile.h"
#include "store/repo_internal.h"
#include "store/snapcat.h"


static int valid_params(uint32_t min, uint32_t avg, uint32_t max, uint32_t pack, StrataErr *err)
{
	FastCdc probe;
	uint64_t gear[256] = {0};

	if (fastcdc_init(&probe, gear, min, avg, max) != 0)
		return strata_err_set(err, STRATA_EUSAGE,
		                      "invalid chunk sizes min %u avg %u max %u: need 64 <= min < avg < max <= 64 MiB and avg a power of two",
		                      min, avg, max);
	if (pack < max + (1u << 16) || pack > REPO_MAX_PACK_SIZE)
		return strata_err_set(err, STRATA_EUSAGE, "invalid pack size %u: must exceed the maximum chunk size and be at most 1 GiB",
		                      pack);
	return 0;
}

int repo_mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof tmp)
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static json_t *config_json(int version, const uint8_t id[STRATA_ID_LEN], uint32_t min, uint32_t avg,
                           uint32_t max, uint32_t pack, int64_t created, const RepoParams *params)
{
	char hex[STRATA_ID_HEX_LEN + 1];
	json_t *o;

	codec_hex(id, STRATA_ID_LEN, hex);
	o = json_pack("{s:i, s:s, s:{s:s, s:I, s:I, s:I}, s:I, s:s, s:I}",
	              "version", version, "id", hex,
	              "chunker", "algorithm", "fastcdc-normalized-2",
	              "min", (json_int_t)min, "avg", (json_int_t)avg, "max", (json_int_t)max,
	              "pack_size", (json_int_t)pack, "hash", "blake2b-256-keyed",
	              "created", (json_int_t)created);
	/* FORMAT.md §7 "object_lock". */
	if (o && params && params->lock_days &&
	    json_object_set_new(o, "object_lock", json_pack("{s:s, s:I}", "mode",
	                                                    params->lock_governance ? "GOVERNANCE" : "COMPLIANCE",
	                                                    "days", (json_int_t)params->lock_days)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

int repo_init(const char *location, const char *password, size_t password_len,
              const RepoParams *params, char out_id_hex[STRATA_ID_HEX_LEN + 1],
              StrataErr *err)
{
	uint8_t master[CODEC_KEY_LEN], id[STRATA_ID_LEN], *keybuf = NULL, *cfg = NULL;
	size_t keybuf_len = 0, cfg_len = 0;
	uint32_t min, avg, max, pack;
	int version;
	CodecKeys *keys = NULL;
	Backend *be = NULL;
	RemoteErr rerr = {{0}};
	json_t *o = NULL;
	char *text = NULL;
	uint64_t size;
	int rc;

	rc = codec_init();
	if (rc)
		return strata_err_set(err, rc, "libsodium failed to initialise");
	min = params && params->chunk_min ? params->chunk_min : REPO_DEFAULT_CHUNK_MIN;
	avg = params && params->chunk_avg ? params->chunk_avg : REPO_DEFAULT_CHUNK_AVG;
	max = params && params->chunk_max ? params->chunk_max : REPO_DEFAULT_CHUNK_MAX;
	pack = params && params->pack_size ? params->pack_size : REPO_DEFAULT_PACK_SIZE;
	version = params && params->format_version ? params->format_version : STRATA_FORMAT_VERSION_DEFAULT;
	if (version < STRATA_FORMAT_VERSION_MIN || version > STRATA_FORMAT_VERSION)
		return strata_err_set(err, STRATA_EUSAGE, "format version %d: this strata writes versions %d to %d",
		                      version, STRATA_FORMAT_VERSION_MIN, STRATA_FORMAT_VERSION);
	rc = valid_params(min, avg, max, pack, err);
	if (rc)
		return rc;
	if (params && params->lock_days > REPO_LOCK_DAYS_MAX)
		return strata_err_set(err, STRATA_EUSAGE, "Object Lock retention of %u days: at most %d",
		                      params->lock_days, REPO_LOCK_DAYS_MAX);
	rc = backend_open(location, &be, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	/* The config and key files are retained too. */
	if (params && params->lock_days &&
	    (rc = backend_set_retention(be, params->lock_governance, params->lock_days, &rerr))) {
		rc = strata_err_set(err, rc == -ENOTSUP ? STRATA_EUSAGE : rc, "%s", rerr.msg);
		goto out;
	}
	rc = backend_stat(be, "config", &size, &rerr);
	if (rc == 0) {
		rc = strata_err_set(err, STRATA_EEXIST, "a repository already exists at %s", location);
		goto out;
	}
	if (rc != -ENOENT) {
		repo_remote_err(err, rc, &rerr);
		goto out;
	}
	codec_random(master, sizeof master);
	codec_random(id, sizeof id);
	keys = codec_keys_new(master);
	if (!keys) {
		rc = strata_err_set(err, -ENOMEM, "cannot allocate locked memory for keys");
		goto out;
	}
	rc = keyfile_create(keys, password, password_len,
	                    params ? params->kdf_opslimit : 0, params ? params->kdf_memlimit : 0,
	                    &keybuf, &keybuf_len, err);
	if (rc)
		goto out;
	o = config_json(version, id, min, avg, max, pack, (int64_t)time(NULL), params);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = sealed_encode(keys, FORMAT_MAGIC_CONFIG, (uint32_t)version, text, strlen(text), &cfg, &cfg_len);
	if (rc) {
		strata_err_set(err, rc, "cannot seal config");
		goto out;
	}
	/* Key file first: a config without a key would be a dead repository. */
	rc = repo_key_put(be, repo_name_hash_of(version), keybuf, keybuf_len, NULL, err);
	if (rc)
		goto out;
	rc = backend_put(be, "config", cfg, cfg_len, &rerr);
	if (rc) {
		repo_remote_err(err, rc, &rerr);
		goto out;
	}
	if (out_id_hex)
		codec_hex(id, STRATA_ID_LEN, out_id_hex);
out:
	codec_wipe(master, sizeof master);
	codec_keys_free(keys);
	free(keybuf);
	free(cfg);
	free(text);
	json_decref(o);
	backend_free(be);
	return rc;
}

static int decode_config(Repo *repo, const uint8_t *buf, size_t len, StrataErr *err)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	uint32_t version = 0;
	int rc;

	rc = sealed_decode(repo->keys, FORMAT_MAGIC_CONFIG, STRATA_FORMAT_VERSION, buf, len, &plain, &plain_len, &version);
	if (rc == STRATA_EAUTH)
		return strata_err_set(err, rc, "%s/config fails authentication (damaged, or it belongs to another repository than its key files)",
		                      repo->location);
	if (rc)
		return strata_err_set(err, rc, "%s/config: %s", repo->location, strata_strerror(rc));
	rc = repo_config_parse(repo, plain, plain_len, err);
	free(plain);
	/* The version in the JSON must be the authenticated one of the header. */
	if (rc == 0 && (uint32_t)repo->format_version != version)
		rc = strata_err_set(err, STRATA_EFORMAT, "%s/config: its content says format version %d, its header %u",
		                    repo->location, repo->format_version, version);
	return rc;
}

/* config_lock — the optional "object_lock" of the config (FORMAT.md §7):
 * checked, and handed to the backend, which puts it on every object it
 * writes from now on. A backend without retention (a local copy of an S3
 * repository) ignores it. */
static int config_lock(Repo *repo, json_t *o, StrataErr *err)
{
	json_t *l = json_object_get(o, "object_lock");
	const char *mode = NULL;
	json_int_t days = 0;
	RemoteErr rerr = {{0}};
	int rc;

	if (!l)
		return 0;
	if (json_unpack(l, "{s:s, s:I}", "mode", &mode, "days", &days) != 0 ||
	    (strcmp(mode, "COMPLIANCE") != 0 && strcmp(mode, "GOVERNANCE") != 0) ||
	    days < 1 || days > REPO_LOCK_DAYS_MAX)
		return strata_err_set(err, STRATA_EFORMAT, "%s/config: malformed object_lock", repo->location);
	repo->lock_days = (uint32_t)days;
	repo->lock_governance = strcmp(mode, "GOVERNANCE") == 0;
	if (!repo->be)
		return 0;
	rc = backend_set_retention(repo->be, strcmp(mode, "GOVERNANCE") == 0, (unsigned)days, &rerr);
	return rc && rc != -ENOTSUP ? repo_remote_err(err, rc, &rerr) : 0;
}

int repo_config_parse(Repo *repo, const uint8_t *plain, size_t plain_len, StrataErr *err)
{
	json_error_t jerr;
	json_t *o = NULL;
	json_int_t version = 0, min = 0, avg = 0, max = 0, pack = 0, created = 0;
	const char *idhex = NULL;
	uint64_t gear[256];
	int rc;

	o = json_loadb((const char *)plain, plain_len, 0, &jerr);
	if (!o || json_unpack(o, "{s:I, s:s, s:{s:I, s:I, s:I}, s:I, s?I}", "version", &version, "id", &idhex,
	                      "chunker", "min", &min, "avg", &avg, "max", &max, "pack_size", &pack,
	                      "created", &created) != 0 ||
	    codec_unhex(idhex, repo->id, STRATA_ID_LEN) != 0 ||
	    min <= 0 || avg <= 0 || max <= 0 || pack <= 0 ||
	    min > UINT32_MAX || avg > UINT32_MAX || max > UINT32_MAX || pack > UINT32_MAX ||
	    version < STRATA_FORMAT_VERSION_MIN || version > STRATA_FORMAT_VERSION) {
		json_decref(o);
		return strata_err_set(err, STRATA_EFORMAT, "%s/config: malformed content", repo->location);
	}
	rc = config_lock(repo, o, err);
	json_decref(o);
	if (rc)
		return rc;
	rc = valid_params((uint32_t)min, (uint32_t)avg, (uint32_t)max, (uint32_t)pack, err);
	if (rc)
		return strata_err_set(err, STRATA_EFORMAT, "%s/config: %s", repo->location, err ? err->msg : "");
	repo->chunk_min = (uint32_t)min;
	repo->chunk_avg = (uint32_t)avg;
	repo->chunk_max = (uint32_t)max;
	repo->pack_size = (uint32_t)pack;
	repo->created_s = created;
	repo->format_version = (int)version;
	repo->name_hash = repo_name_hash_of((int)version);
	codec_hex(repo->id, STRATA_ID_LEN, repo->id_hex);
	codec_gear(repo->keys, gear);
	fastcdc_init(&repo->cdc, gear, repo->chunk_min, repo->chunk_avg, repo->chunk_max);
	return 0;
}

int repo_cache_root(const char *cache_dir, char *out, size_t out_len)
{
	const char *env = getenv("STRATA_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (cache_dir && *cache_dir)
		snprintf(out, out_len, "%s", cache_dir);
	else if (env && *env)
		snprintf(out, out_len, "%s", env);
	else if (xdg && *xdg)
		snprintf(out, out_len, "%s/strata", xdg);
	else if (home && *home)
		snprintf(out, out_len, "%s/.cache/strata", home);
	else
		return -ENOENT;
	return 0;
}

int repo_open(const char *location, const char *password, size_t password_len,
              const char *cache_dir, Repo **out_repo, StrataErr *err)
{
	RepoOpenOpts o = { .cache_dir = cache_dir };

	return repo_open_opts(location, password, password_len, &o, out_repo, err);
}

int repo_open_opts(const char *location, const char *password, size_t password_len,
                   const RepoOpenOpts *opts, Repo **out_repo, StrataErr *err)
{
	RepoUnlock t;
	char kname[KEYCACHE_NAME_LEN + 1];
	Repo *repo = NULL;
	uint8_t *cfg = NULL;
	size_t cfg_len = 0;
	uint32_t v = 0;
	RemoteErr rerr = {{0}};
	char root[PATH_MAX];
	int rc, have_root;

	memset(&t, 0, sizeof t);
	rc = codec_init();
	if (rc)
		return strata_err_set(err, rc, "libsodium failed to initialise");
	repo = calloc(1, sizeof *repo);
	if (!repo)
		return strata_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&repo->lock, NULL);
	snprintf(repo->location, sizeof repo->location, "%s", location);
	rc = backend_open(location, &repo->be, &rerr);
	if (rc) {
		repo_remote_err(err, rc, &rerr);
		goto fail;
	}
	rc = repo_get(repo->be, "config", "a config", OBJSIZE_CONFIG_MAX, &cfg, &cfg_len, err);
	if (rc == -ENOENT) {
		rc = strata_err_set(err, STRATA_ENOREPO, "no repository at %s (run `strata init` to create one)", location);
		goto fail;
	}
	if (rc)
		goto fail;
	/* Refuse a newer format before asking anything of the password. */
	if (cfg_len >= SEALED_HEADER_LEN && memcmp(cfg, FORMAT_MAGIC_CONFIG, FORMAT_MAGIC_LEN) == 0) {
		v = format_get_le32(cfg + FORMAT_MAGIC_LEN);
		if (v > STRATA_FORMAT_VERSION) {
			rc = strata_err_set(err, STRATA_EVERSION,
			                    "repository %s has format version %u, this strata reads up to version %d; upgrade strata",
			                    location, v, STRATA_FORMAT_VERSION);
			goto fail;
		}
	} else {
		rc = strata_err_set(err, STRATA_EFORMAT, "%s/config is not a strata config file", location);
		goto fail;
	}
	keycache_name(cfg, cfg_len, kname);
	memcpy(repo->key_cache_name, kname, sizeof kname);
	/* The last-used key is named after the config's bytes, like the key
	 * cache entry: the repository ID, which names the cache directory, is
	 * inside the config and unknown before a key opens it. */
	have_root = repo_cache_root(opts->cache_dir, root, sizeof root) == 0;
	if (have_root && snprintf(repo->key_hint_path, sizeof repo->key_hint_path, "%s/last-key/%s", root,
	                          kname + 7) >= (int)sizeof repo->key_hint_path)
		repo->key_hint_path[0] = '\0';
	/* Version 0 or unknown: the config is refused after the key opens it. */
	rc = repo_keys_unlock(repo, repo_name_hash_of(v > 0 ? (int)v : STRATA_FORMAT_VERSION), password, password_len,
	                      opts, &t, err);
	if (rc)
		goto fail;
	repo->key_cached = t.from_cache;
	repo->keys = codec_keys_new(t.master);
	codec_wipe(t.master, sizeof t.master);
	if (!repo->keys) {
		rc = strata_err_set(err, -ENOMEM, "cannot allocate locked memory for keys");
		goto fail;
	}
	memcpy(repo->key_id_hex, t.id_hex, sizeof t.id_hex);
	rc = decode_config(repo, cfg, cfg_len, err);
	if (rc)
		goto fail;
	/* Only a key that just opened the config is remembered or cached. */
	repo_keys_remember(repo, t.id_hex);
	if (opts->key_cache_ttl && t.keyfile) {
		uint8_t entry[KEYCACHE_ENTRY_LEN], id[STRATA_ID_LEN];

		if (codec_unhex(t.id_hex, id, sizeof id) == 0) {
			keycache_seal(kname, id, t.keyfile, t.keyfile_len, password, password_len,
			              repo->keys->master, entry);
			repo->key_cache_rc = keycache_put(kname, entry, opts->key_cache_ttl);
		}
	}
	if (!have_root) {
		rc = strata_err_set(err, STRATA_EUSAGE, "no cache directory: set STRATA_CACHE_DIR or HOME");
		goto fail;
	}
	if (snprintf(repo->cache_dir, sizeof repo->cache_dir, "%s/%s", root, repo->id_hex) >= (int)sizeof repo->cache_dir) {
		rc = strata_err_set(err, -ENAMETOOLONG, "cache directory path too long: %s", root);
		goto fail;
	}
	free(cfg);
	free(t.keyfile);
	*out_repo = repo;
	return 0;
fail:
	codec_wipe(t.master, sizeof t.master);
	free(t.keyfile);
	free(cfg);
	repo_close(repo);
	return rc;
}

int repo_config_naming(const char *location, const uint8_t *config, size_t len, int *out_sha256,
                       RemoteErr *err)
{
	uint32_t v;

	/* Formats 1 to 3 (3 names objects as 2 does; frames are pack bytes a
	 * copy needs nothing for): a new format must say here how it names
	 * objects (and the message below which versions it replicates). */
	_Static_assert(STRATA_FORMAT_VERSION == 3, "repo_config_naming: a new format version");
	if (len < SEALED_HEADER_LEN || memcmp(config, FORMAT_MAGIC_CONFIG, FORMAT_MAGIC_LEN) != 0) {
		snprintf(err->msg, sizeof err->msg, "%s/config is not a strata config file", location);
		return -EBADMSG;
	}
	v = format_get_le32(config + FORMAT_MAGIC_LEN);
	if (v == 0) {
		snprintf(err->msg, sizeof err->msg, "%s/config has format version 0, which no strata writes (damaged)",
		         location);
		return -EBADMSG;
	}
	if (v > STRATA_FORMAT_VERSION) {
		snprintf(err->msg, sizeof err->msg,
		         "%s has repository format version %u, this strata replicates versions 1 to 3; upgrade strata",
		         location, v);
		return -EPROTONOSUPPORT;
	}
	*out_sha256 = repo_name_hash_of((int)v) == CODEC_NAME_SHA256;
	return 0;
}

void repo_close(Repo *repo)
{
	if (!repo)
		return;
	snapcat_close(repo);
	index_close(repo->index);
	codec_keys_free(repo->keys);
	backend_free(repo->be);
	pthread_mutex_destroy(&repo->lock);
	free(repo);
}

int repo_key_cache_state(const Repo *repo)
{
	return repo->key_cached ? 1 : repo->key_cache_rc;
}

int repo_key_cache_drop(Repo *repo)
{
	return keycache_drop(repo->key_cache_name);
}

const char *repo_id_hex(const Repo *repo)
{
	return repo->id_hex;
}

const char *repo_location(const Repo *repo)
{
	return repo->location;
}

const char *repo_cache_path(const Repo *repo)
{
	return repo->cache_dir;
}

int repo_format_version(const Repo *repo)
{
	return repo->format_version;
}

int repo_index(Repo *repo, Index **out, StrataErr *err)
{
	Index *ix = NULL;
	int rc = 0;

	pthread_mutex_lock(&repo->lock);
	if (repo->index) {
		*out = repo->index;
		goto out;
	}
	rc = repo_mkdir_p(repo->cache_dir);
	if (rc) {
		strata_err_set(err, rc, "cannot create cache directory %s: %s", repo->cache_dir, strerror(-rc));
		goto out;
	}
	rc = index_open_cache(repo->cache_dir, &ix, err);
	if (rc)
		goto out;
	rc = indexfile_sync(repo, ix, err);
	if (rc) {
		index_close(ix);
		goto out;
	}
	repo->index = ix;
	*out = ix;
out:
	pthread_mutex_unlock(&repo->lock);
	return rc;
}

void repo_backend_stats(Repo *repo, BackendStats *out)
{
	backend_stats(repo->be, out);
}

int repo_config_json(Repo *repo, char **out_json, StrataErr *err)
{
	RepoParams lock = { .lock_days = repo->lock_days, .lock_governance = repo->lock_governance };
	json_t *o = config_json(repo->format_version, repo->id, repo->chunk_min, repo->chunk_avg, repo->chunk_max,
	                        repo->pack_size, repo->created_s, &lock);
	char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	if (!text)
		return strata_err_set(err, -ENOMEM, "out of memory");
	*out_json = text;
	return 0;
}
