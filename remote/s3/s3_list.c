/* s3_list.c — judging the pages of one ListObjectsV2 listing. See s3_list.h.
 *
 * Tokens seen are kept as keyed 64-bit hashes (SipHash-2-4 under a key
 * drawn per listing) in an open-addressing set: 8 bytes a page, so the
 * bound of a million pages costs at most 16 MiB here. Without the key a
 * server could pick two different tokens with one hash and make a good
 * listing look like a loop; with it a false alarm has a chance of about
 * pages^2 / 2^65 (10^-8 at a million pages).
 */
#include "remote/s3/s3_list.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A set of at most cap/2 hashes, so a probe ends soon; 0 marks a free slot. */
#define TOKENS_CAP_MIN 64

void s3list_guard_init(S3ListGuard *g, uint64_t max_pages, uint64_t max_keys)
{
	memset(g, 0, sizeof(*g));
	g->max_pages = max_pages ? max_pages : 1;
	g->max_keys = max_keys ? max_keys : 1;
	randombytes_buf(g->hash_key, sizeof(g->hash_key));
}

void s3list_guard_free(S3ListGuard *g)
{
	if (!g)
		return;
	free(g->tokens);
	g->tokens = NULL;
	g->n_tokens = g->cap_tokens = 0;
}

static uint64_t token_hash(const S3ListGuard *g, const char *token)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)token, strlen(token), g->hash_key);
	memcpy(&v, h, sizeof(v));
	return v ? v : 1;
}

/* Insert h into the open-addressing table t of cap slots (a power of
 * two); 1 when it was there already. */
static int table_add(uint64_t *t, size_t cap, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	while (t[i]) {
		if (t[i] == h)
			return 1;
		i = (i + 1) & (cap - 1);
	}
	t[i] = h;
	return 0;
}

/* 1 when token was seen before in this listing (and remembers it), 0 when
 * new, -ENOMEM. */
static int token_seen(S3ListGuard *g, const char *token)
{
	uint64_t h = token_hash(g, token);

	if (2 * (g->n_tokens + 1) > g->cap_tokens) {
		size_t cap = g->cap_tokens ? 2 * g->cap_tokens : TOKENS_CAP_MIN;
		uint64_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (size_t i = 0; i < g->cap_tokens; i++)
			if (g->tokens[i])
				table_add(t, cap, g->tokens[i]);
		free(g->tokens);
		g->tokens = t;
		g->cap_tokens = cap;
	}
	if (table_add(g->tokens, g->cap_tokens, h))
		return 1;
	g->n_tokens++;
	return 0;
}

/* A keyed hash of the page's keys and sizes in order: equal for a page
 * that repeats the one before it. */
static uint64_t page_hash(const S3ListGuard *g, const S3XmlListPage *page)
{
	crypto_generichash_state st;
	unsigned char out[crypto_generichash_BYTES_MIN];
	uint64_t v;

	crypto_generichash_init(&st, g->hash_key, sizeof(g->hash_key), sizeof(out));
	for (size_t i = 0; i < page->n_objects; i++) {
		unsigned char size[8];

		for (int b = 0; b < 8; b++)
			size[b] = (unsigned char)(page->objects[i].size >> (8 * b));
		/* The NUL ends the key, so "ab"+"c" and "a"+"bc" differ. */
		crypto_generichash_update(&st, (const unsigned char *)page->objects[i].key,
		                          strlen(page->objects[i].key) + 1);
		crypto_generichash_update(&st, size, sizeof(size));
	}
	crypto_generichash_final(&st, out, sizeof(out));
	memcpy(&v, out, sizeof(v));
	return v;
}

int s3list_guard_page(S3ListGuard *g, const S3XmlListPage *page, char *why, size_t why_len)
{
	unsigned long long n = (unsigned long long)++g->pages;
	uint64_t h;
	int rc;

	if (page->n_objects > g->max_keys - g->keys) {
		snprintf(why, why_len, "more than %llu objects by page %llu (STRATA_S3_LIST_MAX_KEYS; "
		         "raise it for a repository this large)", (unsigned long long)g->max_keys, n);
		return -EIO;
	}
	g->keys += page->n_objects;
	if (!page->truncated)
		return 0;
	if (!page->next_token || !*page->next_token) {
		snprintf(why, why_len, "page %llu says more follow but carries no continuation token", n);
		return -EIO;
	}
	rc = token_seen(g, page->next_token);
	if (rc < 0)
		return rc;
	if (rc) {
		snprintf(why, why_len, "page %llu carries a continuation token this listing had already "
		         "(the server is going round in circles)", n);
		return -EIO;
	}
	if (page->n_objects == 0) {
		g->last_page_hash = 0;
		if (++g->empty_run >= S3LIST_EMPTY_RUN_MAX) {
			snprintf(why, why_len, "%u pages in a row up to page %llu held no object yet said more "
			         "follow (the server makes no progress)", g->empty_run, n);
			return -EIO;
		}
	} else {
		g->empty_run = 0;
		h = page_hash(g, page) | 1;   /* never 0, which means "none" */
		if (h == g->last_page_hash) {
			snprintf(why, why_len, "page %llu repeats the page before it (the server makes no progress)", n);
			return -EIO;
		}
		g->last_page_hash = h;
	}
	if (g->pages >= g->max_pages) {
		snprintf(why, why_len, "more than %llu pages (STRATA_S3_LIST_MAX_PAGES; raise it for a "
		         "repository this large)", (unsigned long long)g->max_pages);
		return -EIO;
	}
	return 0;
}
