/* repo.c — creating and opening repositories, key files. See repo.h.
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

#include "store/index.h"
#include "store/indexfile.h"
#include "store/keycache.h"
#include "store/keyfile.h"
#include "store/repo_internal.h"
#include "store/snapcat.h"

static const char CONFIG_MAGIC[8] = {'S','T','R','A','T','A','C','F'};

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

static int put_key_file(Backend *be, CodecNameHash alg, const uint8_t *buf, size_t len,
                        char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err)
{
	uint8_t id[STRATA_ID_LEN];
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	RemoteErr rerr = {{0}};
	int rc;

	rc = codec_name_hash(alg, buf, len, id);
	if (rc)
		return strata_err_set(err, rc, "cannot hash the key file: out of memory");
	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(name, sizeof name, "keys/%s", hex);
	rc = backend_put(be, name, buf, len, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	if (out_id_hex)
		memcpy(out_id_hex, hex, sizeof hex);
	return 0;
}

static json_t *config_json(int version, const uint8_t id[STRATA_ID_LEN], uint32_t min, uint32_t avg,
                           uint32_t max, uint32_t pack, int64_t created)
{
	char hex[STRATA_ID_HEX_LEN + 1];

	codec_hex(id, STRATA_ID_LEN, hex);
	return json_pack("{s:i, s:s, s:{s:s, s:I, s:I, s:I}, s:I, s:s, s:I}",
	                 "version", version, "id", hex,
	                 "chunker", "algorithm", "fastcdc-normalized-2",
	                 "min", (json_int_t)min, "avg", (json_int_t)avg, "max", (json_int_t)max,
	                 "pack_size", (json_int_t)pack, "hash", "blake2b-256-keyed",
	                 "created", (json_int_t)created);
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
	version = params && params->format_version ? params->format_version : STRATA_FORMAT_VERSION;
	if (version < STRATA_FORMAT_VERSION_MIN || version > STRATA_FORMAT_VERSION)
		return strata_err_set(err, STRATA_EUSAGE, "format version %d: this strata writes versions %d to %d",
		                      version, STRATA_FORMAT_VERSION_MIN, STRATA_FORMAT_VERSION);
	rc = valid_params(min, avg, max, pack, err);
	if (rc)
		return rc;
	rc = backend_open(location, &be, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
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
	rc = keyfile_create(master, password, password_len,
	                    params ? params->kdf_opslimit : 0, params ? params->kdf_memlimit : 0,
	                    &keybuf, &keybuf_len, err);
	if (rc)
		goto out;
	o = config_json(version, id, min, avg, max, pack, (int64_t)time(NULL));
	text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!text) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = sealed_encode(keys, CONFIG_MAGIC, (uint32_t)version, text, strlen(text), &cfg, &cfg_len);
	if (rc) {
		strata_err_set(err, rc, "cannot seal config");
		goto out;
	}
	/* Key file first: a config without a key would be a dead repository. */
	rc = put_key_file(be, repo_name_hash_of(version), keybuf, keybuf_len, NULL, err);
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

struct key_try {
	Backend *be;
	const char *password;
	size_t password_len;
	uint8_t master[CODEC_KEY_LEN];
	char id_hex[STRATA_ID_HEX_LEN + 1];
	uint8_t *keyfile;  /* the bytes of the key file that opened, for the key cache */
	size_t keyfile_len;
	int found;
	int tried;
	int rc;            /* a failure other than a wrong password */
	StrataErr err;
};

static int try_key(const char *name, uint64_t size, void *ctx)
{
	struct key_try *t = ctx;
	const char *base = strrchr(name, '/');
	uint8_t *buf = NULL;
	size_t len = 0;
	RemoteErr rerr = {{0}};
	StrataErr kerr = {0};
	int rc;

	(void)size;
	base = base ? base + 1 : name;
	if (strlen(base) != STRATA_ID_HEX_LEN)
		return 0;
	rc = backend_get(t->be, name, &buf, &len, &rerr);
	if (rc) {
		t->rc = repo_remote_err(&t->err, rc, &rerr);
		return 1;
	}
	t->tried++;
	rc = keyfile_unwrap(buf, len, t->password, t->password_len, t->master, NULL, &kerr);
	if (rc == 0) {
		snprintf(t->id_hex, sizeof t->id_hex, "%s", base);
		t->keyfile = buf;
		t->keyfile_len = len;
		t->found = 1;
		return 1;
	}
	free(buf);
	if (rc != STRATA_EPASSWORD && !t->rc) {
		/* Remember, but go on: another key file may open. */
		t->rc = rc;
		strata_err_set(&t->err, rc, "key file %s: %s", name, kerr.msg);
	}
	return 0;
}

static int decode_config(Repo *repo, const uint8_t *buf, size_t len, StrataErr *err)
{
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	uint32_t version = 0;
	int rc;

	rc = sealed_decode(repo->keys, CONFIG_MAGIC, STRATA_FORMAT_VERSION, buf, len, &plain, &plain_len, &version);
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
	json_decref(o);
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

static int cache_root(const char *cache_dir, char *out, size_t out_len)
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

/* The key cache (keycache.h): the entry named after this config, opened
 * with the key file it names and the password. Any failure is a miss. */
static int cached_key(Backend *be, const char *kname, struct key_try *t)
{
	uint8_t entry[KEYCACHE_ENTRY_LEN], id[STRATA_ID_LEN], *buf = NULL;
	char name[8 + STRATA_ID_HEX_LEN];
	RemoteErr rerr = {{0}};
	size_t len = 0;
	int rc;

	if (keycache_get(kname, entry) != 0 || keycache_key_id(entry, sizeof entry, id) != 0)
		return -1;
	codec_hex(id, sizeof id, t->id_hex);
	snprintf(name, sizeof name, "keys/%s", t->id_hex);
	if (backend_get(be, name, &buf, &len, &rerr) != 0)
		return -1;
	rc = keycache_open(kname, entry, sizeof entry, buf, len, t->password, t->password_len, t->master);
	free(buf);
	return rc;
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
	struct key_try t = {0};
	char kname[KEYCACHE_NAME_LEN + 1];
	Repo *repo = NULL;
	uint8_t *cfg = NULL;
	size_t cfg_len = 0;
	RemoteErr rerr = {{0}};
	char root[PATH_MAX];
	int rc;

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
	rc = backend_get(repo->be, "config", &cfg, &cfg_len, &rerr);
	if (rc == -ENOENT) {
		rc = strata_err_set(err, STRATA_ENOREPO, "no repository at %s (run `strata init` to create one)", location);
		goto fail;
	}
	if (rc) {
		repo_remote_err(err, rc, &rerr);
		goto fail;
	}
	/* Refuse a newer format before asking anything of the password. */
	if (cfg_len >= SEALED_HEADER_LEN && memcmp(cfg, CONFIG_MAGIC, 8) == 0) {
		uint32_t v = (uint32_t)cfg[8] | (uint32_t)cfg[9] << 8 | (uint32_t)cfg[10] << 16 | (uint32_t)cfg[11] << 24;
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
	t.be = repo->be;
	t.password = password;
	t.password_len = password_len;
	keycache_name(cfg, cfg_len, kname);
	memcpy(repo->key_cache_name, kname, sizeof kname);
	if (opts->key_cache_ttl) {
		repo->key_cached = cached_key(repo->be, kname, &t) == 0;
		t.found = repo->key_cached;
	}
	rc = t.found ? 0 : backend_list(repo->be, "keys/", try_key, &t, &rerr);
	if (rc < 0) {
		repo_remote_err(err, rc, &rerr);
		goto fail;
	}
	if (!t.found) {
		if (t.rc) {
			rc = t.rc;
			if (err)
				*err = t.err;
		} else if (t.tried == 0) {
			rc = strata_err_set(err, STRATA_EPASSWORD, "repository %s has no key files", location);
		} else {
			rc = strata_err_set(err, STRATA_EPASSWORD, "wrong password for repository %s (no key file opens with it)",
			                    location);
		}
		goto fail;
	}
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
	if (opts->key_cache_ttl && t.keyfile) {
		uint8_t entry[KEYCACHE_ENTRY_LEN], id[STRATA_ID_LEN];

		/* Only a key that just opened the config goes into the cache. */
		if (codec_unhex(t.id_hex, id, sizeof id) == 0) {
			keycache_seal(kname, id, t.keyfile, t.keyfile_len, password, password_len,
			              repo->keys->master, entry);
			repo->key_cache_rc = keycache_put(kname, entry, opts->key_cache_ttl);
		}
	}
	if (cache_root(opts->cache_dir, root, sizeof root) != 0) {
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
	char dir[PATH_MAX + 16];
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
	snprintf(dir, sizeof dir, "%s/index", repo->cache_dir);
	rc = index_open(dir, &ix, err);
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

int repo_config_json(Repo *repo, char **out_json, StrataErr *err)
{
	json_t *o = config_json(repo->format_version, repo->id, repo->chunk_min, repo->chunk_avg, repo->chunk_max,
	                        repo->pack_size, repo->created_s);
	char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	if (!text)
		return strata_err_set(err, -ENOMEM, "out of memory");
	*out_json = text;
	return 0;
}

/* ---- key files ---- */

struct key_list {
	Backend *be;
	const char *current;
	RepoKeyInfo *keys;
	size_t n, cap;
	int rc;
	StrataErr err;
};

static int list_key(const char *name, uint64_t size, void *ctx)
{
	struct key_list *l = ctx;
	const char *base = strrchr(name, '/');
	uint8_t *buf = NULL;
	size_t len = 0;
	RemoteErr rerr = {{0}};
	KeyFileInfo info;
	RepoKeyInfo *k;
	int rc;

	(void)size;
	base = base ? base + 1 : name;
	if (strlen(base) != STRATA_ID_HEX_LEN)
		return 0;
	rc = backend_get(l->be, name, &buf, &len, &rerr);
	if (rc) {
		l->rc = repo_remote_err(&l->err, rc, &rerr);
		return 1;
	}
	rc = keyfile_info(buf, len, &info, NULL);
	free(buf);
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		void *p = realloc(l->keys, cap * sizeof *l->keys);
		if (!p) {
			l->rc = strata_err_set(&l->err, -ENOMEM, "out of memory");
			return 1;
		}
		l->keys = p;
		l->cap = cap;
	}
	k = &l->keys[l->n++];
	memset(k, 0, sizeof *k);
	snprintf(k->id, sizeof k->id, "%s", base);
	if (rc == 0) {
		snprintf(k->host, sizeof k->host, "%s", info.host);
		snprintf(k->user, sizeof k->user, "%s", info.user);
		k->created_s = info.created_s;
	} else {
		snprintf(k->host, sizeof k->host, "(unreadable)");
	}
	k->current = strcmp(base, l->current) == 0;
	return 0;
}

int repo_key_list(Repo *repo, RepoKeyInfo **out_keys, size_t *out_n, StrataErr *err)
{
	struct key_list l = {0};
	RemoteErr rerr = {{0}};
	int rc;

	l.be = repo->be;
	l.current = repo->key_id_hex;
	rc = backend_list(repo->be, "keys/", list_key, &l, &rerr);
	if (l.rc) {
		free(l.keys);
		if (err)
			*err = l.err;
		return l.rc;
	}
	if (rc) {
		free(l.keys);
		return repo_remote_err(err, rc, &rerr);
	}
	*out_keys = l.keys;
	*out_n = l.n;
	return 0;
}

int repo_key_add(Repo *repo, const char *password, size_t password_len,
                 char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = keyfile_create(repo->keys->master, password, password_len, 0, 0, &buf, &len, err);
	if (rc)
		return rc;
	rc = put_key_file(repo->be, repo->name_hash, buf, len, out_id_hex, err);
	free(buf);
	return rc;
}

int repo_key_remove(Repo *repo, const char *id_prefix, StrataErr *err)
{
	RepoKeyInfo *keys = NULL;
	size_t n = 0, found = 0, at = 0, plen = strlen(id_prefix);
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	int rc;

	rc = repo_key_list(repo, &keys, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (plen && strncmp(keys[i].id, id_prefix, plen) == 0) {
			found++;
			at = i;
		}
	}
	if (found == 0) {
		rc = strata_err_set(err, STRATA_ENOTFOUND, "key %s not found", id_prefix);
	} else if (found > 1) {
		rc = strata_err_set(err, STRATA_EAMBIGUOUS, "key prefix %s matches %zu keys", id_prefix, found);
	} else if (n == 1) {
		rc = strata_err_set(err, STRATA_EREFUSED, "refusing to remove the last key of the repository: it would become unreadable");
	} else if (keys[at].current) {
		rc = strata_err_set(err, STRATA_EREFUSED,
		                    "refusing to remove key %.8s: it is the key in use; open the repository with another password to remove it",
		                    keys[at].id);
	} else {
		snprintf(name, sizeof name, "keys/%s", keys[at].id);
		rc = backend_delete(repo->be, name, &rerr);
		if (rc)
			repo_remote_err(err, rc, &rerr);
	}
	free(keys);
	return rc;
}

int repo_key_passwd(Repo *repo, const char *password, size_t password_len,
                    char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err)
{
	char old[STRATA_ID_HEX_LEN + 1], name[REPO_NAME_MAX], id[STRATA_ID_HEX_LEN + 1];
	RemoteErr rerr = {{0}};
	int rc;

	memcpy(old, repo->key_id_hex, sizeof old);
	rc = repo_key_add(repo, password, password_len, id, err);
	if (rc)
		return rc;
	/* The new key file is durable; only now remove the old one. */
	snprintf(name, sizeof name, "keys/%s", old);
	rc = backend_delete(repo->be, name, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	memcpy(repo->key_id_hex, id, sizeof id);
	if (out_id_hex)
		memcpy(out_id_hex, id, sizeof id);
	return 0;
}
