/* btrfschanges.c — see btrfschanges.h. Item layouts: linux/btrfs_tree.h
 * (all little-endian, packed). */
#include "store/backup/btrfschanges.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Search results per ioctl: 64 KiB holds any leaf's items (a leaf is at
 * most 64 KiB, nodesize's maximum). */
#define SEARCH_BUF (64 * 1024)

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return le16toh(v);
}

int btrfschanges_info(const char *snap_root, uint8_t out_src_uuid[16], uint64_t *out_gen, StrataErr *err)
{
	struct btrfs_ioctl_get_subvol_info_args a;
	int fd = open(snap_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;

	if (fd < 0) {
		e = errno;
		return strata_err_set(err, -e, "%s: %s", snap_root, strerror(e));
	}
	memset(&a, 0, sizeof a);
	/* Some kernels return 1 (a parent reference not found, leaked from
	 * a tree search) with every field filled: only < 0 fails. */
	if (ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, &a) < 0) {
		e = errno;
		close(fd);
		return strata_err_set(err, -e, "%s: cannot read the snapshot's generation (BTRFS_IOC_GET_SUBVOL_INFO): %s",
		                      snap_root, strerror(e));
	}
	close(fd);
	memcpy(out_src_uuid, a.parent_uuid, 16);
	*out_gen = a.otransid;
	return 0;
}

/* A growable set of inode numbers (sorted and deduplicated at the end). */
typedef struct Inos {
	uint64_t *v;
	size_t n, cap;
} Inos;

static int inos_add(Inos *s, uint64_t ino)
{
	if (s->n && s->v[s->n - 1] == ino)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		uint64_t *p = realloc(s->v, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = ino;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void inos_seal(Inos *s)
{
	size_t w = 0;

	if (s->n > 1)
		qsort(s->v, s->n, sizeof *s->v, cmp_u64);
	for (size_t i = 0; i < s->n; i++)
		if (w == 0 || s->v[w - 1] != s->v[i])
			s->v[w++] = s->v[i];
	s->n = w;
}

static int inos_has(const Inos *s, uint64_t ino)
{
	return bsearch(&ino, s->v, s->n, sizeof *s->v, cmp_u64) != NULL;
}

typedef int (*ItemFn)(const struct btrfs_ioctl_search_header *h, const uint8_t *data, void *ctx);

/* Every item of the fd's subvolume tree with a key in [min, max] (objectid,
 * type, offset compared as one key) in leaves written in transaction
 * min_transid or later, to fn. */
static int search(int fd, const struct btrfs_ioctl_search_key *range, ItemFn fn, void *ctx)
{
	struct btrfs_ioctl_search_args_v2 *a = malloc(sizeof *a + SEARCH_BUF);
	int rc = 0;

	if (!a)
		return -ENOMEM;
	a->key = *range;
	for (;;) {
		uint64_t off = 0;
		struct btrfs_ioctl_search_header h = {0};
		a->key.nr_items = UINT32_MAX;
		a->buf_size = SEARCH_BUF;
		if (ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, a) != 0) {
			rc = -errno;
			break;
		}
		if (a->key.nr_items == 0)
			break;
		for (uint32_t i = 0; i < a->key.nr_items; i++) {
			if (off + sizeof h > SEARCH_BUF) {
				rc = -EIO;
				goto out;
			}
			memcpy(&h, (const uint8_t *)a->buf + off, sizeof h);
			off += sizeof h;
			if (off + h.len > SEARCH_BUF) {
				rc = -EIO;
				goto out;
			}
			if ((rc = fn(&h, (const uint8_t *)a->buf + off, ctx)) != 0)
				goto out;
			off += h.len;
		}
		/* Resume after the last key returned. */
		a->key.min_objectid = h.objectid;
		a->key.min_type = h.type;
		a->key.min_offset = h.offset;
		if (a->key.min_offset < UINT64_MAX) {
			a->key.min_offset++;
		} else if (a->key.min_type < 255) {
			a->key.min_type++;
			a->key.min_offset = 0;
		} else if (a->key.min_objectid < UINT64_MAX) {
			a->key.min_objectid++;
			a->key.min_type = 0;
			a->key.min_offset = 0;
		} else {
			break;
		}
		if (a->key.min_objectid > a->key.max_objectid)
			break;
	}
out:
	free(a);
	return rc;
}

/* since: the recorded snapshot's transaction N. An item written after it
 * (transid N+1 or later) marks its inode. Of the items written in N
 * itself, the snapshot holds every one but those its own creation (or
 * another snapshot's in the same commit) wrote after copying the
 * subvolume's root: the new entry in the snapshot's parent directory (a
 * DIR_ITEM/DIR_INDEX naming a subvolume root) and that directory's inode
 * (create_pending_snapshot, fs/btrfs/transaction.c). So in N only such
 * an entry marks its directory. */
typedef struct Found {
	uint64_t since;
	Inos dirs, others;
} Found;

int btrfschanges_item(uint8_t type, const uint8_t *d, size_t len, uint64_t since)
{
	switch (type) {
	case BTRFS_INODE_ITEM_KEY:
		if (len < sizeof(struct btrfs_inode_item))
			return -EIO;
		if (get64(d + offsetof(struct btrfs_inode_item, transid)) <= since)
			return 0;
		return S_ISDIR(get32(d + offsetof(struct btrfs_inode_item, mode))) ? BTRFSCHANGES_DIR : BTRFSCHANGES_OTHER;
	case BTRFS_DIR_ITEM_KEY:
	case BTRFS_DIR_INDEX_KEY:
		/* Several entries share an item when their name hashes collide. */
		for (size_t at = 0; at + sizeof(struct btrfs_dir_item) <= len;) {
			const uint8_t *e = d + at;
			uint64_t t = get64(e + offsetof(struct btrfs_dir_item, transid));
			if (t > since || (t == since && e[offsetof(struct btrfs_dir_item, location) +
			                                  offsetof(struct btrfs_disk_key, type)] == BTRFS_ROOT_ITEM_KEY))
				return BTRFSCHANGES_DIR;
			at += sizeof(struct btrfs_dir_item) + get16(e + offsetof(struct btrfs_dir_item, name_len)) +
			      get16(e + offsetof(struct btrfs_dir_item, data_len));
		}
		return 0;
	case BTRFS_EXTENT_DATA_KEY:
		if (len < 8)
			return -EIO;
		return get64(d + offsetof(struct btrfs_file_extent_item, generation)) > since ? BTRFSCHANGES_OTHER : 0;
	default:
		return 0;
	}
}

static int on_changed_item(const struct btrfs_ioctl_search_header *h, const uint8_t *d, void *ctx)
{
	Found *f = ctx;
	int r = btrfschanges_item((uint8_t)h->type, d, h->len, f->since);

	if (r <= 0)
		return r;
	return inos_add(r == BTRFSCHANGES_DIR ? &f->dirs : &f->others, h->objectid);
}

/* The path of directory ino inside the subvolume of fd ("" for its root,
 * else "a/b"), into out (PATH_MAX). -ENOENT when it has none. */
static int dir_path(int fd, uint64_t ino, char *out)
{
	struct btrfs_ioctl_ino_lookup_args a;
	size_t len;

	memset(&a, 0, sizeof a);
	a.treeid = 0;
	a.objectid = ino;
	if (ioctl(fd, BTRFS_IOC_INO_LOOKUP, &a) != 0)
		return -errno;
	a.name[sizeof a.name - 1] = '\0';
	len = strlen(a.name);
	if (len && a.name[len - 1] == '/')
		a.name[--len] = '\0';
	memcpy(out, a.name, len + 1);
	return 0;
}

typedef struct Marker {
	int fd;
	ChangeSet *cs;
	const char *live_root, *within;
	size_t within_len;
	int flags;
	char rel[PATH_MAX];
} Marker;

/* Mark live_root/rel (rel may be "") when at or below within. */
static int mark(Marker *m, const char *rel, int flags)
{
	char full[PATH_MAX];
	int n;

	if (!*rel)
		n = snprintf(full, sizeof full, "%s", m->live_root);
	else
		n = snprintf(full, sizeof full, "%s/%s", strcmp(m->live_root, "/") == 0 ? "" : m->live_root, rel);
	if (n >= (int)sizeof full)
		return -ENAMETOOLONG;
	if (!(m->within_len == 1 ||
	      (strncmp(full, m->within, m->within_len) == 0 && (full[m->within_len] == '\0' || full[m->within_len] == '/'))))
		return 0;
	return changeset_add(m->cs, full, flags);
}

/* One name of a changed inode: parent directory parent, name[0..len). */
static int mark_name(Marker *m, uint64_t parent, const uint8_t *name, size_t len)
{
	char dir[PATH_MAX], rel[PATH_MAX];
	int rc = dir_path(m->fd, parent, dir);

	if (rc == -ENOENT)
		return 0;     /* an unlinked directory: nothing to back up there */
	if (rc)
		return rc;
	if (len == 0 || memchr(name, '/', len) || memchr(name, '\0', len))
		return -EIO;
	if (snprintf(rel, sizeof rel, "%s%s%.*s", dir, *dir ? "/" : "", (int)len, (const char *)name) >= (int)sizeof rel)
		return -ENAMETOOLONG;
	return mark(m, rel, m->flags);
}

static int on_ref(const struct btrfs_ioctl_search_header *h, const uint8_t *d, void *ctx)
{
	Marker *m = ctx;
	uint32_t at = 0;
	int rc;

	if (h->type == BTRFS_INODE_REF_KEY) {
		while (at + sizeof(struct btrfs_inode_ref) <= h->len) {
			size_t nl = get16(d + at + offsetof(struct btrfs_inode_ref, name_len));
			at += (uint32_t)sizeof(struct btrfs_inode_ref);
			if (at + nl > h->len)
				return -EIO;
			if ((rc = mark_name(m, h->offset, d + at, nl)) != 0)
				return rc;
			at += (uint32_t)nl;
		}
	} else if (h->type == BTRFS_INODE_EXTREF_KEY) {
		while (at + sizeof(struct btrfs_inode_extref) <= h->len) {
			uint64_t parent = get64(d + at + offsetof(struct btrfs_inode_extref, parent_objectid));
			size_t nl = get16(d + at + offsetof(struct btrfs_inode_extref, name_len));
			at += (uint32_t)sizeof(struct btrfs_inode_extref);
			if (at + nl > h->len)
				return -EIO;
			if ((rc = mark_name(m, parent, d + at, nl)) != 0)
				return rc;
			at += (uint32_t)nl;
		}
	}
	return 0;
}

int btrfschanges_find(const char *snap_root, uint64_t since_gen, const char *live_root, const char *within,
                      ChangeSet *cs, uint64_t *out_inodes, StrataErr *err)
{
	struct btrfs_ioctl_search_key k;
	Found f = { since_gen, {0}, {0} };
	Marker m;
	char rel[PATH_MAX];
	int fd = open(snap_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		return strata_err_set(err, rc, "%s: %s", snap_root, strerror(-rc));
	}
	memset(&k, 0, sizeof k);
	k.tree_id = 0;                     /* the subvolume fd is in */
	k.min_objectid = BTRFS_FIRST_FREE_OBJECTID;
	k.max_objectid = BTRFS_LAST_FREE_OBJECTID;
	k.max_offset = UINT64_MAX;
	k.min_transid = since_gen;
	k.max_transid = UINT64_MAX;
	k.min_type = 0;
	k.max_type = 255;
	rc = search(fd, &k, on_changed_item, &f);
	if (rc) {
		strata_err_set(err, rc, "%s: cannot search the snapshot for changes (BTRFS_IOC_TREE_SEARCH_V2): %s%s",
		               snap_root, strerror(-rc), rc == -EPERM ? " (it needs CAP_SYS_ADMIN: run as root)" : "");
		goto out;
	}
	inos_seal(&f.dirs);
	inos_seal(&f.others);
	memset(&m, 0, sizeof m);
	m.fd = fd;
	m.cs = cs;
	m.live_root = live_root;
	m.within = within;
	m.within_len = strlen(within);
	for (size_t i = 0; i < f.dirs.n; i++) {
		rc = dir_path(fd, f.dirs.v[i], rel);
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = mark(&m, rel, CHANGESET_RELIST | CHANGESET_STAT);
		if (rc) {
			strata_err_set(err, rc, "%s: cannot find the path of directory inode %llu: %s", snap_root,
			               (unsigned long long)f.dirs.v[i], strerror(-rc));
			goto out;
		}
	}
	m.flags = CHANGESET_STAT;
	for (size_t i = 0; i < f.others.n; i++) {
		if (inos_has(&f.dirs, f.others.v[i]))
			continue;
		memset(&k, 0, sizeof k);
		k.min_objectid = k.max_objectid = f.others.v[i];
		k.min_type = BTRFS_INODE_REF_KEY;
		k.max_type = BTRFS_INODE_EXTREF_KEY;
		k.max_offset = UINT64_MAX;
		k.max_transid = UINT64_MAX;
		if ((rc = search(fd, &k, on_ref, &m)) != 0) {
			strata_err_set(err, rc, "%s: cannot find the names of inode %llu: %s", snap_root,
			               (unsigned long long)f.others.v[i], strerror(-rc));
			goto out;
		}
	}
	*out_inodes = f.dirs.n + f.others.n;
out:
	close(fd);
	free(f.dirs.v);
	free(f.others.v);
	return rc;
}
