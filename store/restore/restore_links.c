/* restore_links.c — see restore_links.h. */
#include "store/restore/restore_links.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/restore/restore_node.h"

void restore_links_init(RestoreLinks *s, size_t fds_max)
{
	memset(s, 0, sizeof *s);
	s->fds_max = fds_max ? fds_max : 1;
}

static size_t hash(uint64_t dev, uint64_t ino, size_t cap)
{
	uint64_t h = (ino ^ (dev << 32 | dev >> 32)) * 0x9e3779b97f4a7c15ull;   /* 2^64 / golden ratio */

	return (size_t)(h >> 32) & (cap - 1);
}

/* The slot of (dev, ino): the group's, or the free one to take. */
static uint32_t *slot(const RestoreLinks *s, uint64_t dev, uint64_t ino)
{
	size_t i = hash(dev, ino, s->slots_cap);

	for (;; i = (i + 1) & (s->slots_cap - 1)) {
		uint32_t *p = &s->slots[i];
		if (*p == 0 || (s->v[*p - 1].dev == dev && s->v[*p - 1].ino == ino))
			return p;
	}
}

/* Room in the hash for one more group: at most half full. */
static int reserve_slot(RestoreLinks *s)
{
	uint32_t *old = s->slots;
	size_t old_cap = s->slots_cap, cap = old_cap ? old_cap : 64;

	if (2 * (s->n + 1) <= old_cap)
		return 0;
	if (s->n + 1 >= UINT32_MAX)
		return -ENOMEM;
	while (2 * (s->n + 1) > cap)
		cap *= 2;
	s->slots = calloc(cap, sizeof *s->slots);
	if (!s->slots) {
		s->slots = old;
		return -ENOMEM;
	}
	s->slots_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			*slot(s, s->v[old[i] - 1].dev, s->v[old[i] - 1].ino) = old[i];
	free(old);
	return 0;
}

/* Close g's descriptor, noting which file it was if members are still
 * expected. */
static void close_group(RestoreLinks *s, RestoreLink *g)
{
	struct stat st;

	if (g->fd < 0)
		return;
	if (g->left > 0 && fstat(g->fd, &st) == 0) {
		g->closed_early = 1;
		g->got_dev = st.st_dev;
		g->got_ino = st.st_ino;
	}
	close(g->fd);
	g->fd = -1;
	s->fds--;
}

RestoreLink *restore_links_find(const RestoreLinks *s, uint64_t dev, uint64_t ino)
{
	uint32_t i;

	if (s->n == 0)
		return NULL;
	i = *slot(s, dev, ino);
	return i ? &s->v[i - 1] : NULL;
}

int restore_links_add(RestoreLinks *s, uint64_t dev, uint64_t ino, uint32_t nlink, const char *path, int fd)
{
	RestoreLink *g;

	if (reserve_slot(s) != 0)
		return -ENOMEM;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		void *p = realloc(s->v, cap * sizeof *s->v);
		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	while (s->fds >= s->fds_max && s->evict < s->n)
		close_group(s, &s->v[s->evict++]);
	g = &s->v[s->n];
	memset(g, 0, sizeof *g);
	g->dev = dev;
	g->ino = ino;
	g->left = nlink > 1 ? nlink - 1 : 0;
	g->path = strdup(path);
	if (!g->path)
		return -ENOMEM;
	/* Without a descriptor (EMFILE) the later members are copies. */
	g->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (g->fd >= 0)
		s->fds++;
	s->n++;
	*slot(s, dev, ino) = (uint32_t)s->n;
	return 0;
}

int restore_links_source(const RestoreLink *g, int root_fd, int *out_reopened)
{
	*out_reopened = 0;
	if (g->fd >= 0)
		return g->fd;
	if (!g->closed_early)
		return -EBADF;
	*out_reopened = 1;
	return restore_node_reopen(root_fd, g->path, g->got_dev, g->got_ino);
}

void restore_links_linked(RestoreLinks *s, RestoreLink *g)
{
	if (g->left > 0 && --g->left == 0)
		close_group(s, g);
}

void restore_links_free(RestoreLinks *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].fd >= 0)
			close(s->v[i].fd);
		free(s->v[i].path);
	}
	free(s->v);
	free(s->slots);
	memset(s, 0, sizeof *s);
}
