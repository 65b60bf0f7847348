/* restore_links.h — the hard-link groups of one restore.
 *
 * Owns: which restored file each group's later members are linked to. A
 * group (the tree's DEV, INO with NLINK above 1) starts with the first
 * member restored and keeps a descriptor of that file while more members
 * are expected, so that they are linked to that inode, never to whatever
 * its path leads to by then (FORMAT.md §14: someone may rename directories
 * on the way). Descriptors held are bounded; past the bound the oldest
 * group's is closed and its later members reopen the path without
 * following symlinks, and only if it still is that inode
 * (restore_node_reopen). Groups are found through a hash of (DEV, INO).
 *
 * Never: creates or links files itself (restore.c does, with
 * restore_node_link), prints. Thread safety: one thread (the walk).
 */
#ifndef STRATA_STORE_RESTORE_LINKS_H
#define STRATA_STORE_RESTORE_LINKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct RestoreLink {
	uint64_t dev, ino;         /* the group, as the tree records it */
	uint64_t left;             /* members still expected (NLINK - 1 - linked) */
	int fd;                    /* the first member's file, or -1 */
	int closed_early;          /* fd closed for the bound: got_* identify the file */
	dev_t got_dev;
	ino_t got_ino;
	char *path;                /* the first member, relative to the target */
} RestoreLink;

/* A plain value: zero it, then restore_links_init. */
typedef struct RestoreLinks {
	RestoreLink *v;
	size_t n, cap;
	uint32_t *slots;           /* hash of (dev, ino): index + 1 into v, 0 free */
	size_t slots_cap;          /* a power of two, at least twice n */
	size_t fds, fds_max;       /* descriptors held in v, and the bound */
	size_t evict;              /* groups below this hold no descriptor */
} RestoreLinks;

/* restore_links_init — empty set holding at most fds_max descriptors
 * (at least 1). */
void restore_links_init(RestoreLinks *s, size_t fds_max);

/* restore_links_find — the group (dev, ino), or NULL if no member of it
 * was restored yet. The pointer lives until the next restore_links_add. */
RestoreLink *restore_links_find(const RestoreLinks *s, uint64_t dev, uint64_t ino);

/* restore_links_add — start group (dev, ino) of nlink names with the file
 * just created at path (relative to the target), open as fd (duplicated:
 * the caller keeps and closes its own). Closes the oldest group's
 * descriptor first when at the bound. 0 or -ENOMEM. */
int restore_links_add(RestoreLinks *s, uint64_t dev, uint64_t ino, uint32_t nlink, const char *path, int fd);

/* restore_links_source — a descriptor of g's first member to link from:
 * its own (*out_reopened = 0: do not close it), or reopened from root_fd
 * by path if the bound closed it (*out_reopened = 1: close it). -errno if
 * it cannot be reached as that file: make a copy instead. */
int restore_links_source(const RestoreLink *g, int root_fd, int *out_reopened);

/* restore_links_linked — one more member of g was linked; the group's
 * descriptor is closed once no more are expected. */
void restore_links_linked(RestoreLinks *s, RestoreLink *g);

/* restore_links_free — close every descriptor, free everything. */
void restore_links_free(RestoreLinks *s);

#endif
