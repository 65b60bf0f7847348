/* changeset.c — see changeset.h.
 *
 * A sorted array: the paths strictly below "dir" are exactly those that
 * start with "dir/", which in bytewise order form one contiguous run, so
 * changeset_below is one binary search. */
#include "store/backup/changeset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct Mark {
	char *path;
	int flags;
} Mark;

struct ChangeSet {
	Mark *v;
	size_t n, cap;
};

int changeset_new(ChangeSet **out)
{
	ChangeSet *cs = calloc(1, sizeof *cs);

	if (!cs)
		return -ENOMEM;
	*out = cs;
	return 0;
}

int changeset_add(ChangeSet *cs, const char *path, int flags)
{
	if (path[0] != '/')
		return -EINVAL;
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 64;
		Mark *p = realloc(cs->v, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		cs->v = p;
		cs->cap = cap;
	}
	if (!(cs->v[cs->n].path = strdup(path)))
		return -ENOMEM;
	cs->v[cs->n].flags = flags;
	cs->n++;
	return 0;
}

static int cmp_mark(const void *a, const void *b)
{
	return strcmp(((const Mark *)a)->path, ((const Mark *)b)->path);
}

void changeset_seal(ChangeSet *cs)
{
	size_t w = 0;

	if (cs->n > 1)
		qsort(cs->v, cs->n, sizeof *cs->v, cmp_mark);
	for (size_t i = 0; i < cs->n; i++) {
		if (w > 0 && strcmp(cs->v[w - 1].path, cs->v[i].path) == 0) {
			cs->v[w - 1].flags |= cs->v[i].flags;
			free(cs->v[i].path);
			continue;
		}
		cs->v[w++] = cs->v[i];
	}
	cs->n = w;
}

/* The first mark whose path is >= key. */
static size_t lower_bound(const ChangeSet *cs, const char *key)
{
	size_t lo = 0, hi = cs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(cs->v[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int changeset_flags(const ChangeSet *cs, const char *path)
{
	size_t i = lower_bound(cs, path);

	return i < cs->n && strcmp(cs->v[i].path, path) == 0 ? cs->v[i].flags : 0;
}

int changeset_below(const ChangeSet *cs, const char *dir)
{
	size_t len = strlen(dir), i;
	char *key;
	int below;

	if (strcmp(dir, "/") == 0)
		return cs->n > 1 || (cs->n == 1 && strcmp(cs->v[0].path, "/") != 0);
	if (!(key = malloc(len + 2)))
		return 1;     /* unsure: a hint only ever narrows, so visit */
	memcpy(key, dir, len);
	key[len] = '/';
	key[len + 1] = '\0';
	i = lower_bound(cs, key);
	below = i < cs->n && strncmp(cs->v[i].path, key, len + 1) == 0;
	free(key);
	return below;
}

size_t changeset_count(const ChangeSet *cs)
{
	return cs->n;
}

const char *changeset_path(const ChangeSet *cs, size_t i)
{
	return cs->v[i].path;
}

void changeset_free(ChangeSet *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++)
		free(cs->v[i].path);
	free(cs->v);
	free(cs);
}
