/* repo_internal.h — the Repo struct and helpers shared inside store/.
 * Not part of the public API: tools/ never includes this. */
#ifndef STRATA_STORE_REPO_INTERNAL_H
#define STRATA_STORE_REPO_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "chunker/fastcdc.h"
#include "remote/backend.h"
#include "remote/objsize.h"
#include "store/codec.h"
#include "store/error.h"
#include "store/format.h"
#include "store/keycache.h"
#include "store/repo.h"

typedef struct Index Index;
typedef struct BlobStore BlobStore;

/* Defaults (FORMAT.md "Chunking parameters", chunker/README.md). */
#define REPO_DEFAULT_CHUNK_MIN   (8u << 10)
#define REPO_DEFAULT_CHUNK_AVG   (32u << 10)
#define REPO_DEFAULT_CHUNK_MAX   (128u << 10)
#define REPO_DEFAULT_PACK_SIZE   (16u << 20)
#define REPO_MAX_PACK_SIZE       (1024u << 20)

struct Repo {
	Backend   *be;
	char       location[1024];
	uint8_t    id[STRATA_ID_LEN];
	char       id_hex[STRATA_ID_HEX_LEN + 1];
	char       key_id_hex[STRATA_ID_HEX_LEN + 1];  /* key file in use */
	int        key_cached;    /* the key came from the key cache */
	char       key_cache_name[KEYCACHE_NAME_LEN + 1];
	int        key_cache_rc;  /* storing it there: 0 or -errno */
	char       key_hint_path[PATH_MAX];            /* <cache>/last-key/<F>, "" without a cache */
	char       key_hint[STRATA_ID_HEX_LEN + 1];    /* the key ID read from it, "" if none */
	CodecKeys *keys;
	FastCdc    cdc;
	uint32_t   chunk_min, chunk_avg, chunk_max;
	uint32_t   pack_size;
	uint32_t   lock_days;     /* config's object_lock.days, 0 if none */
	int        lock_governance; /* its mode is GOVERNANCE */
	int64_t    created_s;
	int        format_version;                     /* of the config, authenticated */
	CodecNameHash name_hash;                       /* what files are named by (codec.h) */
	char       cache_dir[PATH_MAX];                /* <cache>/<repo-id> */
	Index     *index;                              /* opened by repo_index() */
	struct Kv *snapcat;                            /* snapshot catalogue, opened by snapcat_sync */
	int64_t    snapcat_synced_ns;                  /* CLOCK_MONOTONIC of its last sync, 0 = never */
	pthread_mutex_t lock;                          /* guards lazy opening */
	struct TreePackCache *tree_packs;              /* store/blob_read.h; NULL: none */
};

/* repo_config_parse — parse the decrypted config JSON (FORMAT.md "Config
 * file"; bytes from storage: untrusted) into repo's ID, chunker and pack
 * parameters; derives the chunker from repo->keys, which must be set.
 * STRATA_EFORMAT naming repo->location on any bad field. */
int repo_config_parse(Repo *repo, const uint8_t *plain, size_t plain_len, StrataErr *err);

/* The name hash of a format version (FORMAT.md "Directory tree"):
 * BLAKE2b-256 for format 1, SHA-256 from format 2. */
static inline CodecNameHash repo_name_hash_of(int format_version)
{
	return format_version >= 2 ? CODEC_NAME_SHA256 : CODEC_NAME_BLAKE2B;
}

/* Map a backend failure to a StrataErr: -ENOENT stays -ENOENT etc. */
int repo_remote_err(StrataErr *err, int rc, const RemoteErr *rerr);

/* Object names (FORMAT.md "Directory tree"). out has room for 128 bytes. */
#define REPO_NAME_MAX 160
void repo_pack_name(uint8_t kind, const uint8_t id[STRATA_ID_LEN], char out[REPO_NAME_MAX]);

/* Pack kinds (PACK_KIND_DATA, PACK_KIND_TREE, pack_kind_of_blob):
 * store/format.h. */

/* repo_index — the LMDB index, opened and synced with the stored index
 * files on first use. */
int repo_index(Repo *repo, Index **out, StrataErr *err);

/* repo_mkdir_p — create path and its missing parents, mode 0700 (cache
 * directories, restore targets). 0 or -errno (-ENAMETOOLONG for "" or a
 * path of PATH_MAX or more). */
int repo_mkdir_p(const char *path);

/* ---- key files (repo_keys.c; FORMAT.md "Key file") ---- */

/* The key that opened a repository (repo_keys_unlock). */
typedef struct RepoUnlock {
	uint8_t master[CODEC_KEY_LEN];              /* caller wipes */
	char id_hex[STRATA_ID_HEX_LEN + 1];         /* its key file */
	uint8_t *keyfile;                           /* that file's bytes, malloc'ed (caller frees) */
	size_t keyfile_len;
	int from_cache;                             /* 1: from the key cache entry */
} RepoUnlock;

/* repo_keys_unlock — find the key file of repo (backend, location,
 * key_cache_name and key_hint_path set) that opens with password: the key
 * cache entry when opts->key_cache_ttl, else the last-used key of
 * repo->key_hint_path, else every other key file, cheapest Argon2id first.
 * alg names key files (the config's clear format version). A key file
 * that is misnamed, out of bounds or malformed is skipped, and reported
 * through opts->log: all at the end, or, when none opens and none took a
 * password, all but the first, which is the error. Sets repo->key_hint.
 * Errors: those of repo_open; backend failures. */
int repo_keys_unlock(Repo *repo, CodecNameHash alg, const char *password, size_t password_len,
                     const RepoOpenOpts *opts, RepoUnlock *out, StrataErr *err);

/* repo_keys_remember — record id_hex as the key that opened repo last, in
 * repo->key_hint_path (atomically), unless that already says so. Only a
 * hint: failures are ignored. */
void repo_keys_remember(Repo *repo, const char *id_hex);

/* repo_key_put — store a key file under keys/<alg of its bytes>. */
int repo_key_put(Backend *be, CodecNameHash alg, const uint8_t *buf, size_t len,
                 char out_id_hex[STRATA_ID_HEX_LEN + 1], StrataErr *err);

/* Sealed files: MAGIC(8) || VERSION(u32 LE) || NONCE || CT || TAG with
 * MAGIC || VERSION as additional data (FORMAT.md "Sealed file"). */
#define SEALED_HEADER_LEN 12
int sealed_encode(const CodecKeys *keys, const char magic[8], uint32_t version,
                  const void *plain, size_t len, uint8_t **out, size_t *out_len);
/* sealed_decode — STRATA_EFORMAT (bad magic or short), STRATA_EVERSION
 * (version > max_version), STRATA_EAUTH. */
int sealed_decode(const CodecKeys *keys, const char magic[8], uint32_t max_version,
                  const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len,
                  uint32_t *out_version);

/* repo_get — backend_get of name with max_bytes, the bound of its kind
 * (remote/objsize.h), kind naming it in messages with its article ("a
 * snapshot file", "an index file").
 * *out malloc'ed. Errors: the backend's, with its message (-ENOENT left
 * for the caller to word); STRATA_EDAMAGED when the object is larger than
 * max_bytes, found before its bytes are read: "WHERE: N bytes, larger
 * than the M bytes allowed for KIND (damaged, or not written by
 * strata)". */
int repo_get(Backend *be, const char *name, const char *kind, size_t max_bytes,
             uint8_t **out, size_t *out_len, StrataErr *err);

/* repo_write_named — seal plain as a file of magic/version, name it by the
 * name hash of its bytes under dir ("index", "snapshots"), put it; returns
 * the ID. A sealed file larger than max_bytes (its kind's bound, which
 * readers apply) is not written: -EFBIG naming kind. */
int repo_write_named(Repo *repo, const char *dir, const char *kind, size_t max_bytes,
                     const char magic[8], uint32_t version,
                     const void *plain, size_t len, uint8_t out_id[STRATA_ID_LEN], StrataErr *err);

/* repo_read_named — get dir/<hex id> (at most max_bytes, repo_get), check
 * its name is the hash of its bytes, and decode. */
int repo_read_named(Repo *repo, const char *dir, const char *kind, size_t max_bytes,
                    const uint8_t id[STRATA_ID_LEN], const char magic[8], uint32_t max_version,
                    uint8_t **out, size_t *out_len, StrataErr *err);

/* snapshot_read_plain — the decrypted JSON of snapshots/<id> (snapshot.c). */
int snapshot_read_plain(Repo *repo, const uint8_t id[STRATA_ID_LEN], uint8_t **out, size_t *out_len,
                        StrataErr *err);

/* snapshot_save_plain — store text (a snapshot's JSON, FORMAT.md §12) as
 * a snapshot file of the given version; writes its ID to out_id and
 * notes it in the catalogue (snapshot.c). The caller checked the JSON. */
int snapshot_save_plain(Repo *repo, uint32_t version, const char *text, size_t len,
                        uint8_t out_id[STRATA_ID_LEN], StrataErr *err);

/* repo_list_ids — IDs of every file under dir ("snapshots/"); names that
 * are not 64 hex characters are skipped. *out malloc'ed. */
int repo_list_ids(Repo *repo, const char *dir, uint8_t (**out)[STRATA_ID_LEN], size_t *out_n,
                  StrataErr *err);

/* repo_resolve_prefix — the ID under dir whose hex starts with prefix. */
int repo_resolve_prefix(Repo *repo, const char *dir, const char *what, const char *prefix,
                        uint8_t out_id[STRATA_ID_LEN], StrataErr *err);

#endif
