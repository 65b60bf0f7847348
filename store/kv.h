/* kv.h — a small transactional key-value store for local caches.
 *
 * Owns: an LMDB environment with a few named tables, used by the files
 * cache and the snapshot catalogue (the chunk index has its own tuned
 * module, index.c). Everything stored through kv is a cache: an
 * environment that fails to open is deleted and recreated empty.
 *
 * Thread safety: reads from any thread; one write transaction at a time
 * per environment (LMDB serializes writers).
 */
#ifndef STRATA_STORE_KV_H
#define STRATA_STORE_KV_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"

typedef struct Kv Kv;
typedef struct KvTxn KvTxn;

#define KV_MAX_TABLES 8

/* kv_open — open (creating) the environment in dir with the given tables
 * (at most KV_MAX_TABLES, referred to by index afterwards). */
int kv_open(const char *dir, const char *const *tables, int ntables, Kv **out, StrataErr *err);
void kv_close(Kv *kv);

/* kv_get — copy of the value (malloc'ed) or STRATA_ENOTFOUND. */
int kv_get(Kv *kv, int table, const void *key, size_t key_len, uint8_t **out, size_t *out_len);

/* kv_view — call fn with the value in place, valid only during the call
 * (no copy: a files-cache entry is ~150 KB for a 128 MiB file, and a
 * copy per lookup is fresh heap to fault in), and return what fn returns;
 * STRATA_ENOTFOUND when absent, -EIO when the store cannot be read. fn
 * must not call into the same Kv: it runs inside a read transaction. */
typedef int (*KvViewFn)(const uint8_t *val, size_t len, void *ctx);
int kv_view(Kv *kv, int table, const void *key, size_t key_len, KvViewFn fn, void *ctx);

/* kv_reader — many lookups through one read transaction: kv_view without
 * a transaction begun and ended per call (two LMDB reader-table updates,
 * a good part of a lookup's cost when a backup looks up every file). A
 * reader sees the store as of when its transaction began, renewed every
 * KV_READER_RENEW views, so writes made meanwhile (by this process or
 * another) may not be seen until then, and a long run does not keep old
 * pages from being reused. Used by one thread at a time; fn as for
 * kv_view. kv_reader_close accepts NULL and must come before kv_close. */
#define KV_READER_RENEW 4096
typedef struct KvReader KvReader;
int kv_reader_open(Kv *kv, KvReader **out);                          /* -ENOMEM */
int kv_reader_view(KvReader *r, int table, const void *key, size_t key_len, KvViewFn fn, void *ctx);
/* kv_reader_refresh — the next view sees the store as of that view
 * (after this process's own commit, for instance). */
void kv_reader_refresh(KvReader *r);
void kv_reader_close(KvReader *r);

/* Write transactions: begin, any number of put/del, then commit or abort. */
int kv_begin(Kv *kv, KvTxn **out, StrataErr *err);
int kv_put(KvTxn *t, int table, const void *key, size_t key_len, const void *val, size_t val_len);
int kv_del(KvTxn *t, int table, const void *key, size_t key_len);   /* absent is not an error */
int kv_drop(KvTxn *t, int table);                                   /* empty a table */
int kv_commit(KvTxn *t, StrataErr *err);
void kv_abort(KvTxn *t);

/* kv_foreach — visit a table in key order (reverse=1: descending); fn
 * returning non-zero stops the walk and is returned. */
typedef int (*KvFn)(const uint8_t *key, size_t key_len, const uint8_t *val, size_t val_len, void *ctx);
int kv_foreach(Kv *kv, int table, int reverse, KvFn fn, void *ctx, StrataErr *err);

/* kv_count — entries in a table. */
uint64_t kv_count(Kv *kv, int table);

#endif
