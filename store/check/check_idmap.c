/* check_idmap.c — see check_idmap.h. */
#include "store/check/check_idmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t idmap_slot(const CheckIdMap *m, const uint8_t id[STRATA_ID_LEN])
{
	uint64_t h;

	memcpy(&h, id, sizeof h);
	return (size_t)(h & (m->cap - 1));
}

static int idmap_find(const CheckIdMap *m, const uint8_t id[STRATA_ID_LEN], size_t *out)
{
	size_t i;

	if (!m->cap)
		return 0;
	for (i = idmap_slot(m, id); m->used[i]; i = (i + 1) & (m->cap - 1)) {
		if (memcmp(m->keys[i], id, STRATA_ID_LEN) == 0) {
			*out = i;
			return 1;
		}
	}
	*out = i;
	return 0;
}

static int idmap_grow(CheckIdMap *m)
{
	CheckIdMap b = {0};
	size_t slot;

	b.cap = m->cap ? 2 * m->cap : 1024;
	b.keys = malloc(b.cap * sizeof *b.keys);
	b.vals = malloc(b.cap * sizeof *b.vals);
	b.used = calloc(b.cap, 1);
	if (!b.keys || !b.vals || !b.used) {
		check_idmap_free(&b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->used[i])
			continue;
		idmap_find(&b, m->keys[i], &slot);
		memcpy(b.keys[slot], m->keys[i], STRATA_ID_LEN);
		b.vals[slot] = m->vals[i];
		b.used[slot] = 1;
		b.n++;
	}
	check_idmap_free(m);
	*m = b;
	return 0;
}

int check_idmap_put(CheckIdMap *m, const uint8_t id[STRATA_ID_LEN], uint64_t val)
{
	size_t slot;

	if ((m->n + 1) * 2 > m->cap && idmap_grow(m) != 0)
		return -ENOMEM;
	if (!idmap_find(m, id, &slot)) {
		memcpy(m->keys[slot], id, STRATA_ID_LEN);
		m->used[slot] = 1;
		m->n++;
	}
	m->vals[slot] = val;
	return 0;
}

int check_idmap_get(const CheckIdMap *m, const uint8_t id[STRATA_ID_LEN], uint64_t *out_val)
{
	size_t slot;

	if (!idmap_find(m, id, &slot))
		return 0;
	if (out_val)
		*out_val = m->vals[slot];
	return 1;
}

void check_idmap_free(CheckIdMap *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	memset(m, 0, sizeof *m);
}
