/* repo.h — an open repository: the handle every command works through.
 *
 * Owns: creating a repository (config + first key file), opening one with a
 * password (unwrapping the master key, checking the format version),
 * the per-repository cache directory (LMDB index lives there), key-file
 * management, and repository-wide statistics.
 *
 * Never: parses command-line arguments or prints. Keys stay inside the
 * Repo (mlocked, wiped on close); no accessor hands them out.
 *
 * Thread safety: repo_open/repo_close from one thread. Engines (backup,
 * restore, check) may use a Repo from several worker threads internally.
 */
#ifndef STRATA_STORE_REPO_H
#define STRATA_STORE_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/format.h"
#include "remote/backend.h"

#define STRATA_ID_LEN 32          /* every ID and name: a 256-bit hash */
#define STRATA_ID_HEX_LEN 64
/* STRATA_FORMAT_VERSION, STRATA_FORMAT_VERSION_MIN: store/format.h. */

typedef struct Repo Repo;

/* Longest Object Lock retention init records: 100 years. */
#define REPO_LOCK_DAYS_MAX 36500

typedef struct RepoParams {
	uint32_t chunk_min;       /* 0 = default (FORMAT.md "Chunking parameters") */
	uint32_t chunk_avg;
	uint32_t chunk_max;
	uint32_t pack_size;       /* target pack size in bytes; 0 = 16 MiB */
	uint64_t kdf_opslimit;    /* Argon2id; 0 = default */
	uint64_t kdf_memlimit;
	int      format_version;  /* 0 = STRATA_FORMAT_VERSION; 1 for repositories older strata must read */
	uint32_t lock_days;       /* S3 Object Lock retention of every object
	                           * written, recorded in the config (0: none) */
	int      lock_governance; /* GOVERNANCE mode instead of COMPLIANCE */
} RepoParams;

/* repo_init — create a new repository at location (a backend location, see
 * remote/backend.h): random master key, config, first key file wrapped with
 * Argon2id from password. Errors: STRATA_EEXIST (a config is already there),
 * STRATA_EUSAGE (bad params), -errno / backend failures. */
int repo_init(const char *location, const char *password, size_t password_len,
              const RepoParams *params, char out_id_hex[STRATA_ID_HEX_LEN + 1],
              StrataErr *err);

/* repo_open — open an existing repository.
 * cache_dir: NULL picks $STRATA_CACHE_DIR, else $XDG_CACHE_HOME/strata, else
 * ~/.cache/strata; the repository's cache is <cache_dir>/<repo-id>/.
 * Key files are tried in the order of FORMAT.md "Key file" (the one that
 * opened the repository last time first, as recorded in the cache; then
 * the cheapest Argon2id first). A key file whose name is not the hash of
 * its bytes, whose Argon2id settings are out of bounds or that does not
 * decode is skipped before any Argon2id work (repo_open_opts reports each
 * through its log).
 * Errors: STRATA_ENOREPO (no config at location), STRATA_EVERSION (config
 * written by a newer format, or only key files of a newer version),
 * STRATA_EPASSWORD (no key file opens with this password, or there is
 * none), STRATA_EAUTH / STRATA_EFORMAT / STRATA_EDAMAGED (damaged config;
 * every key file skipped: the first one's reason). */
int repo_open(const char *location, const char *password, size_t password_len,
              const char *cache_dir, Repo **out_repo, StrataErr *err);

/* RepoLogFn — a line about opening, for the user (one line, no newline):
 * warning 1 for something skipped that they should know about (a key file
 * that fails its checks: "key file keys/<id>: <why>; skipped"), 0 for a
 * detail worth showing with --verbose (which key file is tried). */
typedef void (*RepoLogFn)(int warning, const char *line, void *ctx);

/* repo_open_opts — repo_open with options. key_cache_ttl > 0 turns the key
 * cache on (keycache.h): the key comes from an entry made by an earlier
 * open with the same password and key file when there is one, else from
 * the key file, and then goes into the cache for key_cache_ttl seconds
 * (at most KEYCACHE_TTL_MAX). The cache never makes an open fail.
 * log (may be NULL: the lines are dropped) hears about key files; with an
 * open that fails, the warnings come before it returns. */
typedef struct RepoOpenOpts {
	const char *cache_dir;
	unsigned key_cache_ttl;
	RepoLogFn log;
	void *log_ctx;
} RepoOpenOpts;
int repo_open_opts(const char *location, const char *password, size_t password_len,
                   const RepoOpenOpts *opts, Repo **out_repo, StrataErr *err);

/* repo_key_cache_state — with the key cache on: 1 when the key came from
 * it, 0 when it was unwrapped and stored there, -errno when storing it
 * failed (no keyring in this kernel or container, say). */
int repo_key_cache_state(const Repo *repo);

/* repo_key_cache_drop — remove this repository's key cache entry: 0, or
 * -ENOKEY when there was none, else -errno from the keyring. */
int repo_key_cache_drop(Repo *repo);

/* repo_config_naming — which hash names the objects of the repository
 * whose config bytes are config[0..len), from the config's clear sealed
 * header alone (FORMAT.md §5, §7: magic "STRATACF", VERSION u32 LE; no key
 * needed): *out_sha256 = 1 for SHA-256 (format 2), 0 for BLAKE2b-256
 * (format 1). location names the repository in messages. Errors
 * (remote/backend.h codes, for replicate_run's ReplicateNamingFn):
 * -EBADMSG "LOCATION/config is not a strata config file" or "...has format
 * version 0, which no strata writes (damaged)"; -EPROTONOSUPPORT for a
 * version above 2. */
struct RemoteErr;   /* remote/backend.h */
int repo_config_naming(const char *location, const uint8_t *config, size_t len, int *out_sha256,
                       struct RemoteErr *err);

/* repo_backend_stats — the requests, retries and bytes of the repository's
 * backend since open (remote/backend.h; zeros for a local directory). */
void repo_backend_stats(Repo *repo, BackendStats *out);

/* repo_close — flush nothing (every command finishes its own writes), wipe
 * keys, close the index, free. Accepts NULL. */
void repo_close(Repo *repo);

/* repo_id_hex — the repository ID (random, fixed at init), 64 hex chars. */
const char *repo_id_hex(const Repo *repo);

/* repo_location — the location string the repository was opened with. */
const char *repo_location(const Repo *repo);

/* repo_cache_path — this repository's directory in the local cache,
 * <cache>/<repository ID> (FORMAT.md §16); it exists once repo_open
 * returned. Scratch space of commands (verify-restore) goes below it. */
const char *repo_cache_path(const Repo *repo);

/* repo_cache_root — the local cache's root directory, before any
 * repository is opened: cache_dir when given, else $STRATA_CACHE_DIR,
 * $XDG_CACHE_HOME/strata, $HOME/.cache/strata. -ENOENT when none is set.
 * Truncated to out_len. */
int repo_cache_root(const char *cache_dir, char *out, size_t out_len);

/* repo_format_version — the repository's format version (from its
 * authenticated config; FORMAT.md "Config file"). */
int repo_format_version(const Repo *repo);

/* repo_config_json — the decrypted config as a JSON text (for `cat config`).
 * *out_json is malloc'ed; caller frees. */
int repo_config_json(Repo *repo, char **out_json, StrataErr *err);

/* ---- key files ---- */

typedef struct RepoKeyInfo {
	char id[STRATA_ID_HEX_LEN + 1];
	char host[256];           /* "" when the file names none or they do not open */
	char user[64];
	int64_t created_s;        /* unix seconds */
	int current;              /* 1 for the key this Repo was opened with */
	char problem[STRATA_ERRMSG_LEN]; /* "" for a sound key file; else why opening
	                           * skips it (name, bounds, format), or that its host and
	                           * user do not open with this repository's key */
} RepoKeyInfo;

/* repo_key_list — every file in keys/ named like a key file (64 lowercase
 * hex digits), sound or not, so that `key remove` can delete any of them.
 * *out_keys malloc'ed; caller frees. */
int repo_key_list(Repo *repo, RepoKeyInfo **out_keys, size_t *out_n, StrataErr *err);

/* repo_key_add — wrap the master key with a new password in a new key file
 * (default Argon2id settings; host and user sealed, FORMAT.md "Key file"). */
int repo_key_add(Repo *repo, const char *password, size_t password_len,
                 char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err);

/* repo_key_remove — delete the key file whose ID starts with id_prefix.
 * Refuses (STRATA_EREFUSED) to remove the last key or the one in use;
 * STRATA_ENOTFOUND / STRATA_EAMBIGUOUS for the prefix. */
int repo_key_remove(Repo *repo, const char *id_prefix, StrataErr *err);

/* repo_key_passwd — replace the current key file by one for a new
 * password (the new file is durable before the old one is removed); the
 * new one becomes the key tried first by the next open on this machine. */
int repo_key_passwd(Repo *repo, const char *password, size_t password_len,
                    char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err);

/* ---- statistics ---- */

typedef struct RepoStats {
	uint64_t snapshots;
	uint64_t logical_bytes;    /* sum over snapshots of the file bytes they hold */
	uint64_t unique_bytes;     /* raw bytes of distinct chunks those reference */
	uint64_t unique_chunks;
	uint64_t stored_bytes;     /* bytes of every pack file */
	uint64_t packs;
	uint64_t index_chunks;     /* entries in the index */
	uint64_t frames;           /* frames (FORMAT.md 9a, format 3) the index lists */
	uint64_t frame_members;    /* data chunks stored as a frame's member */
	uint64_t tree_bytes;       /* stored bytes of tree (metadata) objects */
	uint64_t snapshot_file_bytes;  /* bytes of snapshot files */
	double   metadata_per_snapshot;/* mean of (new tree bytes + snapshot file) per snapshot */
	double   dedup_ratio;      /* logical_bytes / unique_bytes */
	double   compression_ratio;/* unique raw bytes / stored bytes of those */
} RepoStats;

/* repo_stats — walk every snapshot (trees only; no data reads). */
int repo_stats(Repo *repo, RepoStats *out, StrataErr *err);

#endif
