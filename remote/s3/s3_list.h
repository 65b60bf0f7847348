/* s3_list.h — the rules a ListObjectsV2 listing must follow to be believed.
 *
 * Owns: judging each page of one listing before its keys are used, so
 * that a hostile or broken server cannot keep a listing going for ever
 * or make its caller accumulate names without end. A page that says more
 * follow (IsTruncated) must carry a continuation token this listing has
 * not seen before, and must make progress: it may not repeat the page
 * before it, and at most S3LIST_EMPTY_RUN_MAX pages in a row may be empty.
 * A listing takes at most max_pages pages and reports at most max_keys
 * objects (S3Config, from STRATA_S3_LIST_MAX_PAGES / _KEYS).
 * Never: does I/O or parses XML (s3.c and s3_xml.c do); the caller sends
 * the next request with the page's token.
 *
 * Thread safety: an S3ListGuard belongs to one listing, in one thread.
 */
#ifndef STRATA_REMOTE_S3_LIST_H
#define STRATA_REMOTE_S3_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "remote/s3/s3_xml.h"

/* The defaults come from what a real repository needs under one prefix.
 * The largest is data/: one object per pack, 16 MiB each by default, so
 * 100 million objects are 1.5 PiB of packs (wal/ holds one descriptor per
 * 16 MiB WAL segment: the same order). The callers keep 32 to ~120 bytes
 * per name (an ID; a replication's name and size), 3 to 12 GB at the
 * bound: a listing that large is a repository that size, not an attack
 * on a small one. Servers answer 1000 keys a page (S3 and every store
 * tested); the page bound leaves room for stores that answer only 100. */
#define S3LIST_MAX_KEYS_DEFAULT  100000000ull
#define S3LIST_MAX_PAGES_DEFAULT 1000000ull
/* A store may answer fewer keys than asked, even none, and say more
 * follow (S3 documents short pages); a thousand empty pages in a row is a
 * server that does not advance. */
#define S3LIST_EMPTY_RUN_MAX 1000u

typedef struct S3ListGuard {
	uint64_t max_pages, max_keys;
	uint64_t pages, keys;           /* judged so far */
	unsigned empty_run;             /* truncated pages without a key, in a row */
	uint64_t last_page_hash;        /* of the previous page's keys and sizes;
	                                 * 0: none (first page, or it was empty) */
	uint64_t *tokens;               /* keyed hashes of the tokens seen, sorted */
	size_t n_tokens, cap_tokens;
	uint8_t hash_key[16];           /* random per listing: a server cannot
	                                 * choose tokens that collide */
} S3ListGuard;

/* s3list_guard_init — start judging a listing of at most max_pages pages
 * and max_keys objects (both at least 1). Allocates nothing. */
void s3list_guard_init(S3ListGuard *g, uint64_t max_pages, uint64_t max_keys);

/* s3list_guard_page — judge the next page before the caller reports its
 * objects. Returns 0: report them, then ask for the next page with
 * page->next_token when page->truncated; or -EIO with why (one line,
 * why_len bytes, naming the page number and the rule broken) when the
 * listing must stop, reporting none of this page; or -ENOMEM. */
int s3list_guard_page(S3ListGuard *g, const S3XmlListPage *page, char *why, size_t why_len);

/* s3list_guard_free — release what the guard allocated. Accepts a guard
 * that was only initialised. */
void s3list_guard_free(S3ListGuard *g);

#endif
