/* restore_meta.c — owners and metadata of restored entries: the map of a
 * snapshot's named owners to this host's IDs (as root), and metadata
 * applied through descriptors. See restore_internal.h.
 */
#include "store/restore/restore_internal.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/restore/restore_node.h"

/* name's ID on this host (getpwnam_r/getgrnam_r), or -1. */
static int64_t local_id(const char *name, int group)
{
	char *buf = malloc(65536);    /* a group line lists its members */
	int64_t id = -1;

	if (!buf)
		return -1;
	if (group) {
		struct group gr, *res = NULL;
		if (getgrnam_r(name, &gr, buf, 65536, &res) == 0 && res)
			id = res->gr_gid;
	} else {
		struct passwd pw, *res = NULL;
		if (getpwnam_r(name, &pw, buf, 65536, &res) == 0 && res)
			id = res->pw_uid;
	}
	free(buf);
	return id;
}

/* The map of the snapshot's named owners to this host's IDs, built once
 * (as root, without numeric_owner): a few lookups per restore. */
int restore_meta_idmap(IdMap *m, const SnapshotOwner *v, size_t n, int group)
{
	m->v = calloc(n ? n : 1, sizeof *m->v);
	if (!m->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int64_t id;
		if (!v[i].name || (id = local_id(v[i].name, group)) < 0 || (uint32_t)id == v[i].id)
			continue;
		m->v[m->n].from = v[i].id;
		m->v[m->n++].to = (uint32_t)id;
	}
	return 0;
}

uint32_t restore_meta_map_id(const IdMap *m, uint32_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].from == id)
			return m->v[i].to;
	return id;
}

/* chown through fd to the owner the snapshot means (RestoreOptions
 * numeric_owner); 0 or -1. */
static int chown_mapped(const Ctx *c, int fd, uint32_t uid, uint32_t gid)
{
	return fchown(fd, restore_meta_map_id(&c->users, uid), restore_meta_map_id(&c->groups, gid));
}

/* Metadata through an open descriptor: owner first (chown clears
 * setuid/setgid), then mode, then times. */
int restore_meta_file(const Ctx *c, int fd, uint32_t uid, uint32_t gid, uint32_t mode, int64_t mtime_ns,
                      const struct stat *st)
{
	struct timespec ts[2];
	uint32_t want = mode & (c->is_root ? 07777 : 01777);
	int errors = 0, chowned = 0;

	if (c->is_root) {
		uid_t u = restore_meta_map_id(&c->users, uid);
		gid_t g = restore_meta_map_id(&c->groups, gid);
		if (!st || st->st_uid != u || st->st_gid != g) {
			chowned = 1;
			if (fchown(fd, u, g) != 0)
				errors = 1;
		}
	}
	if (!st || (st->st_mode & 07777) != want || (chowned && (st->st_mode & 06000)))
		fchmod(fd, want);
	restore_node_times(mtime_ns, ts);
	futimens(fd, ts);
	return errors;
}

/* A directory's metadata, through its descriptor (never by name: the
 * name may lead elsewhere by now). */
void restore_meta_dir(Ctx *c, int fd, const TreeNode *n)
{
	struct timespec ts[2];

	if (c->is_root && chown_mapped(c, fd, n->uid, n->gid) != 0)
		c->res.errors++;
	fchmod(fd, n->mode & (c->is_root ? 07777 : 01777));
	restore_node_times(n->mtime_ns, ts);
	futimens(fd, ts);
}
