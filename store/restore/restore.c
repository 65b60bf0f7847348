/* restore.c — the restore engine, see restore.h: the walk over the
 * snapshot's trees and restore_run; the batch, the range workers, archived
 * packs, the tree prefetch, metadata and --delta files are the other
 * restore_*.c files (restore_internal.h).
 *
 * Safety: everything is created relative to directory descriptors opened
 * with O_NOFOLLOW, entry names were checked by tree_decode (no '/', '.',
 * '..'), so a hostile tree cannot reach outside the target, and a symlink
 * created earlier in the restore is never followed. Files are created
 * (O_EXCL) during the walk and kept open; their chunks go into a batch
 * planned by restore_plan.c; the worker pool fetches each planned range,
 * opens each blob once and writes it through the open descriptors. A
 * file's metadata is applied through its descriptor after its content.
 *
 * Against a local user who can rename entries in a directory of the
 * target while the restore runs (FORMAT.md §14): no metadata is changed
 * by name (directories and files through their descriptors, symlinks,
 * FIFOs and devices through an O_PATH descriptor checked to be the node
 * just made, restore_node.h), hard links come from a descriptor kept for
 * the group's first member, and as root an existing directory another
 * user controls stops the restore unless allow_foreign_dirs.
 */
#include "store/restore/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/blob_read.h"
#include "store/repo_internal.h"
#include "store/restore/restore_internal.h"
#include "store/restore/restore_node.h"
#include "store/restore/restore_strays.h"

/* A batch closes at this many open files (bounded further by RLIMIT_NOFILE;
 * its chunk references: restore_batch.c). */
#define BATCH_FILES_MAX  16384u
/* Bytes in flight: ranges are at most RESTORE_PLAN_RANGE_MAX (17 MiB)
 * plus a RAW_WINDOW, so two or three whole packs at once: peak memory
 * stays under restic's while two cores decrypt. */
#define INFLIGHT_MAX     (48ull << 20)
/* From an object store, throughput comes from parallel requests, and
 * each request costs the store time of its own besides its bytes. Ranges
 * are as for a local restore (a default pack is one request) with 72 MiB
 * in flight: four whole packs at once (peak RSS about restic's). Ranges
 * of at most 8 MiB, eight in flight, made 2.4 times the requests; against
 * the local S3 server of `make bench-s3` (2026-12-05) whole packs restored
 * 525 MiB in 1.78-1.88 s against 2.27 s, and still won through a proxy
 * adding 20 ms of round trip (2.61-2.69 s against 3.00 s). */
#define REMOTE_INFLIGHT_MAX  (72ull << 20)
/* A delta restore needs a few chunks scattered over many packs: merging
 * ranges across gaps of up to 1 MiB (RESTORE_PLAN_GAP_MAX) read a rollback
 * of the 1 GiB bench set 20 blocks back as 170 MB for 62 MB of chunks.
 * Two average chunks (64 KiB) of gap keep requests few where needed
 * chunks sit together and read little else. */
#define DELTA_GAP_MAX    (64u << 10)

static void *make_codec(void) { return codec_ctx_new(); }
static void free_codec(void *p) { codec_ctx_free(p); }

int restore_fail_errno(Ctx *c, const char *path, const char *what)
{
	int e = errno;
	return strata_err_set(c->err, -e, "%s: %s: %s", path, what, strerror(e));
}

/* How many directories deep path is ("" 0, "a" 1, "a/b" 2). */
static unsigned depth_of(const char *path)
{
	unsigned d = *path ? 1 : 0;

	for (; *path; path++)
		d += *path == '/';
	return d;
}

/* RestoreOptions.excludes: a pattern matches the path or any tail of it
 * made of whole names (as `strata find`: "state/sub" matches
 * var/lib/node/state/sub, "*.log" any name ending in .log); one starting
 * with '/' only the whole path. */
static int excluded(const Ctx *c, const char *path)
{
	for (size_t i = 0; i < c->opts->nexcludes; i++) {
		const char *pat = c->opts->excludes[i];
		if (*pat == '/') {
			while (*pat == '/')
				pat++;
			if (fnmatch(pat, path, 0) == 0)
				return 1;
			continue;
		}
		for (const char *p = path; p; p = strchr(p, '/'), p = p ? p + 1 : NULL)
			if (fnmatch(pat, p, 0) == 0)
				return 1;
	}
	return 0;
}

/* Decide what to do with path: 2 restore it whole, 1 only descend (an
 * include lies below), 0 skip. */
int restore_wanted(const Ctx *c, const char *path)
{
	size_t pl = strlen(path);
	int r = 0;

	if (*path && c->opts->nexcludes && excluded(c, path))
		return 0;
	if (c->nincludes == 0)
		return 2;
	for (size_t i = 0; i < c->nincludes; i++) {
		const char *inc = c->includes[i];
		size_t il = strlen(inc);
		if (il == 0 || (strncmp(path, inc, il) == 0 && (path[il] == '\0' || path[il] == '/')))
			return 2;
		if (il > pl && strncmp(inc, path, pl) == 0 && inc[pl] == '/')
			r = 1;
	}
	return r;
}

/* --delete cleans a directory only when it is restored whole and lies at
 * or below one of the snapshot's own paths: the directories above them
 * (/, /var, /var/lib of a backup of /var/lib/node) hold only the way
 * down in the snapshot, and everything else in them is not the
 * snapshot's business. */
static int deletable(const Ctx *c, const char *path)
{
	if (restore_wanted(c, path) != 2 || (c->opts->strip_components && depth_of(path) <= c->opts->strip_components))
		return 0;
	for (size_t i = 0; i < c->snap->npaths; i++) {
		const char *r = c->snap->paths[i];
		size_t rl;
		while (*r == '/')
			r++;
		rl = strlen(r);
		while (rl > 0 && r[rl - 1] == '/')
			rl--;
		if (rl == 0 || (strncmp(path, r, rl) == 0 && (path[rl] == '\0' || path[rl] == '/')))
			return 1;
	}
	return 0;
}

/* Remove an existing entry in the way (only with --overwrite). */
static int clear_way(Ctx *c, int dirfd, const char *name, const char *path)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : restore_fail_errno(c, path, "cannot inspect existing entry");
	if (!c->opts->overwrite && !c->opts->delta)
		return strata_err_set(c->err, STRATA_EEXIST, "%s already exists in the target; use --overwrite to replace it", path);
	if (S_ISDIR(st.st_mode))
		return strata_err_set(c->err, STRATA_EEXIST, "%s: a directory is in the way of a file", path);
	if (unlinkat(dirfd, name, 0) != 0)
		return restore_fail_errno(c, path, "cannot remove existing entry");
	return 0;
}

/* Link n as a further member of group g: 1 if it was linked, 0 if it
 * must be a copy (the first member's file cannot be reached as the inode
 * restored there, or the link fails, e.g. across filesystems), or an
 * error (the name is taken and clear_way refused). */
static int link_member(Ctx *c, int dirfd, const TreeNode *n, const char *path, RestoreLink *g)
{
	int reopened, fd = restore_links_source(g, c->root_fd, &reopened), rc;

	if (fd < 0)
		return 0;
	rc = restore_node_link(fd, dirfd, n->name, c->is_root);
	if (rc == -EEXIST) {
		rc = clear_way(c, dirfd, n->name, path);
		if (rc)
			goto out;
		rc = restore_node_link(fd, dirfd, n->name, c->is_root);
	}
	if (rc == 0) {
		rc = 1;
		restore_links_linked(&c->links, g);
	} else {
		rc = 0;
	}
out:
	if (reopened)
		close(fd);
	return rc;
}

static int restore_file(Ctx *c, int dirfd, const TreeNode *n, const char *path)
{
	RestoreLink *first = n->nlink > 1 ? restore_links_find(&c->links, n->dev, n->ino) : NULL;
	int fd = -1, rc = 0;

	/* Each create is exclusive; only when the name is taken (EEXIST) does
	 * clear_way decide, and the create is tried again. A restore into an
	 * empty target, the common case, costs no lookup before each file. */
	if (first) {
		rc = link_member(c, dirfd, n, path, first);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			c->res.files++;
			return 0;
		}
		/* Fall back to a copy. */
	}
	rc = restore_batch_reserve(c);
	if (rc)
		return rc;
	fd = restore_ahead_take(c, n);
	if (fd < 0)
		fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		if (c->opts->delta && (rc = restore_update_file(c, dirfd, n, path, first)) != 1)
			return rc;
		if ((rc = clear_way(c, dirfd, n->name, path)) != 0)
			return rc;
		fd = openat(dirfd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return restore_fail_errno(c, path, "cannot create file");
	if (c->donors && c->donors->n && n->nchunks) {
		/* A file the target lacks: its chunks may be in a stray beside it. */
		RestoreDelta d;
		memset(&d, 0, sizeof d);
		rc = restore_delta_scan(c->repo, -1, 0, n, c->donors, path, &d, c->err);
		if (rc == 0 && d.bytes_present) {
			c->res.files_updated++;
			rc = restore_batch_queue(c, fd, -1, NULL, n, path, first, &d, -1);
		} else if (rc == 0) {
			rc = restore_batch_queue(c, fd, -1, NULL, n, path, first, NULL, -1);
		} else {
			close(fd);
		}
		restore_delta_free(&d);
		return rc;
	}
	return restore_batch_queue(c, fd, -1, NULL, n, path, first, NULL, -1);
}

static int restore_dir(Ctx *c, int dirfd, int private, const uint8_t tree_id[STRATA_ID_LEN], char *path,
                       size_t plen, AheadDir *a);

/* A symlink, FIFO or device node: created with no permissions (mode 0
 * for FIFOs and devices), then opened with O_PATH|O_NOFOLLOW and checked
 * to be that node, and its metadata set through the descriptor. Anyone
 * who can rename entries in dirfd may have put something else under the
 * name by then: a symlink to a file outside the target, or a hard link to
 * one; both fail the check and are left alone. */
static int restore_special(Ctx *c, int dirfd, const TreeNode *n, const char *path)
{
	mode_t type = n->type == NODE_SYMLINK ? S_IFLNK : n->type == NODE_FIFO ? S_IFIFO :
	              n->type == NODE_CHARDEV ? S_IFCHR : S_IFBLK;
	int fd = -1, rc;

	if (type == S_IFLNK) {
		rc = 0;
		if (symlinkat(n->link_target, dirfd, n->name) != 0) {
			int made = 0;
			/* Taken: as for files (restore_file). */
			if (errno == EEXIST && (rc = clear_way(c, dirfd, n->name, path)) == 0)
				made = symlinkat(n->link_target, dirfd, n->name) == 0;
			if (!made && rc == 0)
				rc = restore_fail_errno(c, path, "cannot create symlink");
		}
		if (rc)
			return rc;
	} else {
		rc = clear_way(c, dirfd, n->name, path);
		if (rc)
			return rc;
		if (type == S_IFIFO ? mkfifoat(dirfd, n->name, 0) != 0
		                    : mknodat(dirfd, n->name, type, (dev_t)n->rdev) != 0) {
			/* Devices need privileges: counted, not fatal. */
			c->res.errors++;
			return 0;
		}
	}
	rc = restore_node_open_new(dirfd, n->name, type, n->rdev, c->euid, path, &fd, c->err);
	if (rc)
		return rc;
	c->res.errors += (uint64_t)restore_node_set_meta(fd, type, c->is_root, restore_meta_map_id(&c->users, n->uid),
	                                                 restore_meta_map_id(&c->groups, n->gid),
	                                                 n->mode & (c->is_root ? 07777 : 01777), n->mtime_ns);
	close(fd);
	c->res.files++;
	return 0;
}

/* private: only root can rename entries in dirfd (or the restore does not
 * run as root); see restore_node_dir_check. */
static int restore_entry(Ctx *c, int dirfd, int private, const TreeNode *n, char *path, size_t plen, int how)
{
	int rc = 0;

	/* Stripped levels (RestoreOptions.strip_components): a directory's
	 * entries land where it would have been; nothing else there is. */
	if (c->opts->strip_components && depth_of(path) <= c->opts->strip_components)
		return n->type == NODE_DIR ? restore_dir(c, dirfd, private, n->subtree, path, plen, NULL) : 0;
	switch (n->type) {
	case NODE_DIR: {
		int fd, made = 1, mine = 1, meta = how == 2;
		AheadDir *a = c->ready;
		/* Prepared ahead (restore_ahead.c): made by this restore in a
		 * directory only root can change (or not as root), open, its
		 * tree loaded. */
		c->ready = NULL;
		if (a) {
			restore_ahead_wait(c, a);
			fd = a->fd;
			a->fd = -1;
			c->nahead--;       /* now one of the walk's own */
			rc = restore_dir(c, fd, 1, n->subtree, path, plen, a);
			goto dir_done;
		}
		if (mkdirat(dirfd, n->name, 0700) != 0) {
			if (errno != EEXIST)
				return restore_fail_errno(c, path, "cannot create directory");
			made = 0;
		}
		fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return restore_fail_errno(c, path, "cannot open directory (a non-directory is in the way)");
		/* One made just now (0700) in a directory only root can change
		 * is ours; elsewhere it is checked to be. One that was there may
		 * belong to someone who can swap names in it while we work: as
		 * root, refused unless allowed; allowed, and found where others
		 * could have moved it in from elsewhere, it keeps its owner, mode
		 * and times (FORMAT.md §14). */
		if (c->is_root && !made) {
			rc = restore_node_dir_check(fd, path, c->opts->allow_foreign_dirs, &mine, c->err);
			if (!mine && !private)
				meta = 0;
		} else if (c->is_root && !private) {
			rc = restore_node_dir_new(fd, c->euid, path, c->err);
		}
		if (rc == 0)
			rc = restore_dir(c, fd, mine, n->subtree, path, plen, NULL);
	dir_done:
		/* Writing file content later does not touch a directory's
		 * mtime; only creating entries does, and those exist now. */
		if (rc == 0 && how == 2) {
			if (meta)
				restore_meta_dir(c, fd, n);
			c->res.dirs++;
		}
		close(fd);
		return rc;
	}
	case NODE_FILE:
		if (how != 2)
			return 0;
		rc = restore_file(c, dirfd, n, path);
		break;
	case NODE_SYMLINK:
	case NODE_FIFO:
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
		if (how != 2)
			return 0;
		rc = restore_special(c, dirfd, n, path);
		break;
	default:
		break;        /* sockets are not restored */
	}
	return rc;
}

/* path (plen bytes, a directory's path relative to the target) extended
 * by name in place; *out_len its new length. -ENAMETOOLONG (message). */
static int child_path(Ctx *c, char *path, size_t plen, const char *name, size_t *out_len)
{
	size_t nl = strlen(name), len = plen ? plen + 1 + nl : nl;

	if (len >= PATH_MAX)
		return strata_err_set(c->err, -ENAMETOOLONG, "path too long under %s", path);
	if (plen)
		path[plen] = '/';
	memcpy(path + (plen ? plen + 1 : 0), name, nl + 1);
	*out_len = len;
	return 0;
}

/* restore_strays_files' callback: one more donor for c->donors. */
static int add_donor(int fd, uint64_t size, const char *path, void *ctx, StrataErr *err)
{
	Ctx *c = ctx;

	return restore_donors_add(c->repo, c->donors, fd, size, path, err);
}

static int restore_dir(Ctx *c, int dirfd, int private, const uint8_t tree_id[STRATA_ID_LEN], char *path,
                       size_t plen, AheadDir *a)
{
	RestoreDonors donors, *outer = c->donors;
	AheadDir *outer_cur = c->cur, *prep[AHEAD_DIRS];
	Tree t;
	size_t ahead = 0;          /* entries below this were looked at for prefetch */
	size_t pending = 0;        /* directories among entries [i, ahead) */
	size_t scan = 0, nprep = 0; /* entries below scan were looked at for prep, which holds nprep */
	int rc = 0;

	if (a) {
		t = a->t;                  /* a keeps it: restore_ahead_take finds entries in it */
	} else {
		rc = restore_trees_get(c, tree_id, &t);
		if (rc)
			return rc;
	}
	c->cur = a;
	/* Delta: the strays' chunks, before --delete removes them (their
	 * descriptors keep them readable). Subdirectories have their own. */
	memset(&donors, 0, sizeof donors);
	c->donors = NULL;
	if (c->opts->delta && restore_wanted(c, path) == 2 && depth_of(path) >= c->opts->strip_components) {
		c->donors = &donors;
		rc = restore_strays_files(dirfd, path, &t, add_donor, c, c->err);
		restore_donors_seal(&donors);
		c->res.bytes_compared += donors.bytes_read;
	}
	/* Strays first: a stray directory may be in the way of a file. */
	if (rc == 0 && c->opts->delete_strays && deletable(c, path))
		rc = restore_strays_remove(dirfd, path, &t, 0, c->opts->on_delete, c->opts->delete_ctx,
		                           &c->res.deleted, c->err);
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		size_t len;
		int how;
		/* Includes would need each child's path here: with includes
		 * the walk loads its trees as it goes. */
		if (c->tpool && c->nincludes == 0) {
			if (i > 0 && i <= ahead && t.nodes[i - 1].type == NODE_DIR)
				pending--;
			for (; ahead < t.n && pending < TREE_AHEAD; ahead++)
				if (t.nodes[ahead].type == NODE_DIR) {
					restore_trees_prefetch(c, t.nodes[ahead].subtree);
					pending++;
				}
		}
		/* The next subdirectories made ahead, their files created by
		 * the pool while the walk works here (restore_ahead.c). */
		for (; c->ahead_on && scan < t.n && nprep < AHEAD_DIRS; scan++) {
			AheadDir *p;
			if (t.nodes[scan].type == NODE_DIR &&
			    (p = restore_ahead_prepare(c, dirfd, private, &t.nodes[scan], scan)) != NULL)
				prep[nprep++] = p;
		}
		if (nprep && prep[0]->idx == i) {
			c->ready = prep[0];
			memmove(prep, prep + 1, --nprep * sizeof *prep);
		}
		if ((rc = child_path(c, path, plen, n->name, &len)) == 0) {
			how = restore_wanted(c, path);
			if (how)
				rc = restore_entry(c, dirfd, private, n, path, len, how);
		}
		/* Not entered (an error first): freed here. */
		restore_ahead_free(c, c->ready);
		c->ready = NULL;
		path[plen] = '\0';
		if (rc)
			break;
		if (c->opts->progress) {
			c->prog.current = n->name;
			c->opts->progress(&c->prog, c->opts->progress_ctx);
		}
	}
	while (nprep)
		restore_ahead_free(c, prep[--nprep]);
	if (a)
		restore_ahead_free(c, a);
	else
		tree_clear(&t);
	c->cur = outer_cur;
	restore_donors_clear(&donors);
	c->donors = outer;
	return rc;
}

/* restore --delete --dry-run: the walk over the directories that exist
 * in the target, reporting the strays of those restored whole; nothing
 * is created or changed. */
static int dry_dir(Ctx *c, int dirfd, const uint8_t tree_id[STRATA_ID_LEN], char *path, size_t plen)
{
	Tree t;
	int rc;

	rc = tree_load(c->repo, tree_id, &t, c->err);
	if (rc)
		return rc;
	if (c->opts->delete_strays && deletable(c, path))
		rc = restore_strays_remove(dirfd, path, &t, 1, c->opts->on_delete, c->opts->delete_ctx,
		                           &c->res.deleted, c->err);
	for (size_t i = 0; i < t.n && rc == 0; i++) {
		const TreeNode *n = &t.nodes[i];
		size_t len;
		int fd;
		if (n->type != NODE_DIR)
			continue;
		if ((rc = child_path(c, path, plen, n->name, &len)) != 0)
			break;
		if (restore_wanted(c, path) && c->opts->strip_components && depth_of(path) <= c->opts->strip_components)
			rc = dry_dir(c, dirfd, n->subtree, path, len);     /* a stripped level */
		else if (restore_wanted(c, path) &&
		         (fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			rc = dry_dir(c, fd, n->subtree, path, len);
			close(fd);
		}
		path[plen] = '\0';
	}
	tree_clear(&t);
	return rc;
}

static char *clean_include(const char *in)
{
	while (*in == '/')
		in++;
	char *s = strdup(in);
	if (s) {
		size_t l = strlen(s);
		while (l > 0 && s[l - 1] == '/')
			s[--l] = '\0';
	}
	return s;
}

/* Every include must name something in the snapshot. */
static int check_includes(Ctx *c, const Snapshot *snap)
{
	for (size_t i = 0; i < c->nincludes; i++) {
		TreeNode n;
		int rc;
		if (c->includes[i][0] == '\0')
			continue;
		rc = tree_lookup(c->repo, snap->tree, c->includes[i], &n, c->err);
		if (rc)
			return rc;
		tree_node_clear(&n);
	}
	return 0;
}

/* The open-file budget of a batch: half the soft limit (raised to the
 * hard limit first), leaving room for directories, the index and the
 * backend's connections. */
static size_t files_budget(void)
{
	struct rlimit rl;
	size_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 256;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit want = rl;
		want.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want) == 0)
			rl = want;
	}
	n = rl.rlim_cur == RLIM_INFINITY ? BATCH_FILES_MAX : (size_t)rl.rlim_cur / 2;
	n = n > 128 ? n - 64 : 64;
	return n < BATCH_FILES_MAX ? n : BATCH_FILES_MAX;
}

static int default_threads(int remote)
{
	int n = 2 * workpool_default_threads();

	/* Requests to S3 wait on latency, not on the CPU: as many workers as
	 * ranges REMOTE_INFLIGHT_MAX lets fly, whatever the core count; more
	 * than 32 only adds memory. */
	if (remote)
		n = n < 16 ? 16 : n;
	return n < 8 ? 8 : n > 32 ? 32 : n;
}

int restore_run(Repo *repo, const Snapshot *snap, const RestoreOptions *opts,
                RestoreResult *out_result, StrataErr *err)
{
	Ctx c;
	char *path = NULL;
	int remote, nthreads, cached = 0, root_private = 1, rc;
	uint64_t inflight;

	memset(&c, 0, sizeof c);
	c.repo = repo;
	c.opts = opts;
	c.err = err;
	c.snap = snap;
	c.root_fd = -1;
	c.euid = geteuid();
	c.egid = getegid();
	c.is_root = c.euid == 0;
	pthread_mutex_init(&c.mu, NULL);
	pthread_mutex_init(&c.tmu, NULL);
	pthread_cond_init(&c.tcv, NULL);
	pthread_mutex_init(&c.amu, NULL);
	pthread_cond_init(&c.acv, NULL);
	/* "s3:http(s)://..." or "s3://...": the one backend where requests
	 * wait on the network (remote/backend.h has no such property). */
	remote = strncmp(repo->location, "s3:", 3) == 0;
	nthreads = opts->threads > 0 ? opts->threads : default_threads(remote);
	inflight = remote ? REMOTE_INFLIGHT_MAX : INFLIGHT_MAX;
	/* What is out is bounded by the weight in flight, plus up to 2 MiB a
	 * job of rounding; idle buffers are kept only within that. */
	bufpool_init(&c.bufs, (size_t)inflight + (size_t)nthreads * (2u << 20));
	/* Trees from whole tree packs, one GET each (store/blob_read.h). */
	if (remote) {
		rc = blob_read_tree_cache_attach(repo, TREE_CACHE_MAX);
		if (rc) {
			rc = strata_err_set(err, rc, "out of memory");
			goto out;
		}
		cached = 1;
	}
	rc = repo_index(repo, &c.ix, err);
	if (rc)
		goto out;
	if (c.is_root && !opts->numeric_owner &&
	    (restore_meta_idmap(&c.users, snap->users, snap->nusers, 0) || restore_meta_idmap(&c.groups, snap->groups, snap->ngroups, 1))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (opts->nincludes) {
		c.includes = calloc(opts->nincludes, sizeof *c.includes);
		if (!c.includes) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < opts->nincludes; i++) {
			c.includes[i] = clean_include(opts->includes[i]);
			if (!c.includes[i]) {
				rc = strata_err_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			c.nincludes++;
		}
		rc = check_includes(&c, snap);
		if (rc)
			goto out;
	}
	if (!opts->target || !*opts->target) {
		rc = strata_err_set(err, STRATA_EUSAGE, "no target directory given (--target DIR)");
		goto out;
	}
	if (opts->dry_run) {
		/* A target that does not exist holds no strays. */
		path = malloc(PATH_MAX);
		if (!path) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		path[0] = '\0';
		c.root_fd = open(opts->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c.root_fd < 0 && errno != ENOENT)
			rc = strata_err_set(err, -errno, "cannot open target %s: %s", opts->target, strerror(errno));
		else if (c.root_fd >= 0)
			rc = dry_dir(&c, c.root_fd, snap->tree, path, 0);
		goto out;
	}
	rc = repo_mkdir_p(opts->target);
	if (rc) {
		strata_err_set(err, rc, "cannot create target %s: %s", opts->target, strerror(-rc));
		goto out;
	}
	c.root_fd = open(opts->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.root_fd < 0) {
		rc = strata_err_set(err, -errno, "cannot open target %s: %s", opts->target, strerror(errno));
		goto out;
	}
	/* The target is a directory the restore works in like any other. */
	if (c.is_root && (rc = restore_node_dir_check(c.root_fd, opts->target, opts->allow_foreign_dirs, &root_private,
	                                              err)) != 0)
		goto out;
	c.files_max = files_budget();
	/* Hard-link groups may hold half as many descriptors as a batch
	 * (8,160 at the usual limit of 65,536); a duplicate shares the open
	 * file, so each costs only a slot in the descriptor table. */
	restore_links_init(&c.links, c.files_max / 2);
	c.pool = workpool_new(nthreads, inflight, make_codec, free_codec);
	c.plan = restore_plan_new(opts->delta ? DELTA_GAP_MAX : 0, 0);
	if (remote) {
		/* Weight 1 per tree and no bound that could block the walk:
		 * TREE_AHEAD per level bounds it. */
		c.tpool = workpool_new(TREE_THREADS, UINT64_MAX / 2, NULL, NULL);
		if (!c.tpool) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	/* Files created ahead (restore_ahead.c) hold at most half the
	 * batch's descriptors; a restore without the pool creates them all
	 * in the walk. */
	c.cpool = workpool_new(AHEAD_THREADS, UINT64_MAX / 2, NULL, NULL);
	c.ahead_max = c.files_max / 2;
	c.ahead_on = restore_ahead_enabled(&c);
	path = malloc(PATH_MAX);
	if (!c.pool || !c.plan || !path) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	path[0] = '\0';
	rc = restore_dir(&c, c.root_fd, root_private, snap->tree, path, 0, NULL);
	if (rc == 0)
		rc = restore_batch_flush(&c);
	if (rc == 0 && fsync(c.root_fd) != 0 && errno != EINVAL)
		rc = strata_err_set(err, -errno, "%s: fsync failed: %s", opts->target, strerror(errno));
out:
	/* The pools first: no job may still use a descriptor, the plan or a
	 * prefetch record. */
	workpool_free(c.pool);
	workpool_free(c.tpool);
	workpool_free(c.cpool);
	restore_trees_free(&c);
	if (cached)
		blob_read_tree_cache_detach(repo, NULL);
	pthread_cond_destroy(&c.tcv);
	pthread_mutex_destroy(&c.tmu);
	pthread_cond_destroy(&c.acv);
	pthread_mutex_destroy(&c.amu);
	if (out_result)
		*out_result = c.res;
	restore_batch_close(&c, 0);
	free(c.files);
	free(c.cold);
	bufpool_destroy(&c.bufs);
	restore_plan_free(c.plan);
	if (c.root_fd >= 0)
		close(c.root_fd);
	for (size_t i = 0; i < c.nincludes; i++)
		free(c.includes[i]);
	free(c.includes);
	restore_links_free(&c.links);
	free(c.users.v);
	free(c.groups.v);
	free(path);
	pthread_mutex_destroy(&c.mu);
	return rc;
}

int restore_dump(Repo *repo, const Snapshot *snap, const char *path, int fd, uint64_t *out_bytes,
                 StrataErr *err)
{
	CodecCtx *ctx = NULL;
	char *clean = clean_include(path);
	TreeNode n;
	int rc;

	if (!clean)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = tree_lookup(repo, snap->tree, clean, &n, err);
	free(clean);
	if (rc)
		return rc;
	if (n.type != NODE_FILE) {
		tree_node_clear(&n);
		return strata_err_set(err, STRATA_EUSAGE, "%s is not a regular file", path);
	}
	ctx = codec_ctx_new();
	if (!ctx) {
		tree_node_clear(&n);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n.nchunks && rc == 0; i++) {
		uint8_t *buf = NULL;
		size_t len = 0, done = 0;
		rc = blob_read(repo, ctx, BLOB_DATA, n.chunks[i], &buf, &len, err);
		if (rc)
			break;
		while (done < len) {
			ssize_t w = write(fd, buf + done, len - done);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = strata_err_set(err, -errno, "writing %s: %s", path, strerror(errno));
				break;
			}
			done += (size_t)w;
			if (out_bytes)
				*out_bytes += (uint64_t)w;
		}
		free(buf);
	}
	codec_ctx_free(ctx);
	tree_node_clear(&n);
	return rc;
}
