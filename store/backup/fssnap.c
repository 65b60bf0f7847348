/* fssnap.c — see fssnap.h. */
#include "store/backup/fssnap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/* The inode number of every btrfs subvolume's root directory
 * (BTRFS_FIRST_FREE_OBJECTID), and of the empty directory a snapshot
 * shows where a nested subvolume was (BTRFS_EMPTY_SUBVOL_DIR_OBJECTID).
 * Both are part of btrfs's on-disk format. */
#define SUBVOL_ROOT_INO 256
#define EMPTY_SUBVOL_INO 2

/* CAP_SYS_ADMIN's bit in /proc/self/status CapEff (linux/capability.h). */
#define CAP_SYS_ADMIN_BIT 21

/* One snapshot made: in the subvolume root dirfd, under name. Slots are
 * allocated up front and only appended to (made counts those complete),
 * so that a signal handler may walk them while the main thread works. */
typedef struct Snap {
	int dirfd;
	char name[64];
	char *root;                   /* the subvolume root's path */
	char *path;                   /* root/name */
	dev_t subvol_dev;             /* the subvolume's device number */
	atomic_int gone;              /* deleted, or being deleted */
} Snap;

struct FsSnap {
	Snap *snaps;
	atomic_size_t made;
	size_t cap;
	BackupView *views;
	size_t nviews;
	FsSnapSource *sources;        /* one per source path */
	size_t nsources;
	char **strs;                  /* every string the views and sources point to */
	size_t nstrs, strs_cap;
	char ***holes;                /* per view: its holes (strings in strs) */
};

int fssnap_parse_mode(const char *s, FsSnapMode *out)
{
	if (!strcmp(s, "btrfs"))
		*out = FSSNAP_BTRFS;
	else if (!strcmp(s, "auto"))
		*out = FSSNAP_AUTO;
	else if (!strcmp(s, "none"))
		*out = FSSNAP_NONE;
	else
		return -EINVAL;
	return 0;
}

/* Keep a copy of str in s (freed with it). NULL without memory. */
static char *keep(FsSnap *s, const char *str)
{
	char *c;

	if (s->nstrs == s->strs_cap) {
		size_t cap = s->strs_cap ? 2 * s->strs_cap : 16;
		char **p = realloc(s->strs, cap * sizeof *p);
		if (!p)
			return NULL;
		s->strs = p;
		s->strs_cap = cap;
	}
	if (!(c = strdup(str)))
		return NULL;
	return s->strs[s->nstrs++] = c;
}

static const char *fs_name(long type)
{
	switch ((unsigned long)type) {
	case BTRFS_SUPER_MAGIC:   return "btrfs";
	case EXT4_SUPER_MAGIC:    return "ext4";
	case XFS_SUPER_MAGIC:     return "xfs";
	case TMPFS_MAGIC:         return "tmpfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	case NFS_SUPER_MAGIC:     return "nfs";
	case 0x2fc12fc1:          return "zfs";    /* ZFS_SUPER_MAGIC, not in linux/magic.h */
	default:                  return "a filesystem without snapshots strata can take";
	}
}

int fssnap_name_parse(const char *name, long *out_pid, unsigned long long *out_start)
{
	char *end;
	long pid;
	unsigned long long start;

	if (strncmp(name, FSSNAP_PREFIX, sizeof FSSNAP_PREFIX - 1) != 0)
		return 0;
	name += sizeof FSSNAP_PREFIX - 1;
	errno = 0;
	pid = strtol(name, &end, 10);
	if (errno || end == name || *end != '-' || pid <= 0)
		return 0;
	name = end + 1;
	start = strtoull(name, &end, 10);
	if (errno || end == name || *end)
		return 0;
	*out_pid = pid;
	*out_start = start;
	return 1;
}

/* The start time of process pid (clock ticks after boot, field 22 of
 * /proc/PID/stat), or 0 when it does not exist. */
static unsigned long long proc_start(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: count
	 * fields from the last ')'. */
	if (!(p = strrchr(buf, ')')))
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		start = strtoull(p, NULL, 10);
	return start;
}

/* Does this process have CAP_SYS_ADMIN in its effective set? */
static int have_sys_admin(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int yes = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "CapEff:", 7)) {
			unsigned long long caps = strtoull(line + 7, NULL, 16);
			yes = (caps >> CAP_SYS_ADMIN_BIT) & 1;
			break;
		}
	fclose(f);
	return yes;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Walk /proc/self/mountinfo: for each mount point, fn(mount point,
 * superblock options, ctx); fn returns non-zero to stop. 0 or -errno. */
static int mounts_each(int (*fn)(const char *mnt, const char *opts, void *ctx), void *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTS */
		char *save = NULL, *tok, *mnt = NULL;
		const char *sopts = "";
		int i = 0, dash = -1;
		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), i++) {
			if (i == 4)
				mnt = tok;
			else if (dash < 0 && i > 5 && !strcmp(tok, "-"))
				dash = i;
			else if (dash >= 0 && i == dash + 3)
				sopts = tok;
		}
		if (!mnt)
			continue;
		unescape(mnt);
		if (fn(mnt, sopts, ctx))
			break;
	}
	free(line);
	fclose(f);
	return 0;
}

/* Is path at or below dir (both clean and absolute)? */
static int under(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (len == 1)
		return path[0] == '/';
	return !strncmp(path, dir, len) && (path[len] == '\0' || path[len] == '/');
}

typedef struct MountOf {
	const char *path;
	char mnt[PATH_MAX];
	char opts[1024];
} MountOf;

/* The mount whose mount point is the longest one at or above path. */
static int mount_of_fn(const char *mnt, const char *opts, void *ctx)
{
	MountOf *m = ctx;

	if (under(m->path, mnt) && strlen(mnt) >= strlen(m->mnt) && strlen(mnt) < sizeof m->mnt) {
		strcpy(m->mnt, mnt);
		snprintf(m->opts, sizeof m->opts, "%s", opts);
	}
	return 0;
}

/* Has the mount at mnt user_subvol_rm_allowed in its options? */
static int opt_has(const char *opts, const char *opt)
{
	size_t len = strlen(opt);

	for (const char *p = opts; (p = strstr(p, opt)) != NULL; p += len)
		if ((p == opts || p[-1] == ',') && (p[len] == '\0' || p[len] == ','))
			return 1;
	return 0;
}

typedef struct Holes {
	FsSnap *s;
	const char *real;             /* the source path resolved */
	const char *recorded;         /* as recorded */
	char **v;
	size_t n, cap;
	int err;
} Holes;

/* A mount point strictly below the source path: not in the snapshot. */
static int holes_fn(const char *mnt, const char *opts, void *ctx)
{
	Holes *h = ctx;
	char rec[PATH_MAX];
	char *k;

	(void)opts;
	if (!under(mnt, h->real) || !strcmp(mnt, h->real))
		return 0;
	if (snprintf(rec, sizeof rec, "%s%s", strcmp(h->recorded, "/") ? h->recorded : "",
	             mnt + (strcmp(h->real, "/") ? strlen(h->real) : 0)) >= (int)sizeof rec)
		return 0;
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->v[i], rec))
			return 0;     /* mounted over twice */
	if (h->n + 1 >= h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 4;
		char **p = realloc(h->v, cap * sizeof *p);
		if (!p) {
			h->err = -ENOMEM;
			return 1;
		}
		h->v = p;
		h->cap = cap;
	}
	if (!(k = keep(h->s, rec))) {
		h->err = -ENOMEM;
		return 1;
	}
	h->v[h->n++] = k;
	h->v[h->n] = NULL;
	return 0;
}

/* The root of the btrfs subvolume that holds real (a resolved path):
 * the nearest directory of inode 256 at or above it on the same device. */
static int subvol_root(const char *real, char *out, StrataErr *err)
{
	struct stat st, top;
	char dir[PATH_MAX];

	if (lstat(real, &top) != 0)
		return strata_err_set(err, -errno, "--fs-snapshot: %s: %s", real, strerror(errno));
	snprintf(dir, sizeof dir, "%s", real);
	if (!S_ISDIR(top.st_mode)) {
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
	}
	for (;;) {
		if (stat(dir, &st) != 0)
			return strata_err_set(err, -errno, "--fs-snapshot: %s: %s", dir, strerror(errno));
		if (st.st_dev != top.st_dev)
			break;    /* cannot happen on btrfs: a subvolume's root is 256 */
		if (st.st_ino == SUBVOL_ROOT_INO) {
			strcpy(out, dir);
			return 0;
		}
		if (!strcmp(dir, "/"))
			break;
		char *slash = strrchr(dir, '/');
		if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
	}
	return strata_err_set(err, -EINVAL, "--fs-snapshot: found no btrfs subvolume root above %s", real);
}

/* Delete the snapshot name in dirfd; root (for messages) its directory.
 * As someone without CAP_SYS_ADMIN (user_subvol_rm_allowed), a
 * read-only snapshot is made writable first: the kernel refuses to
 * delete it otherwise. */
static int destroy(int dirfd, const char *name, const char *root, StrataErr *err)
{
	struct btrfs_ioctl_vol_args a;
	int e;

	memset(&a, 0, sizeof a);
	snprintf(a.name, sizeof a.name, "%s", name);
	if (ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &a) == 0)
		return 0;
	e = errno;
	if (e == EPERM || e == EACCES || e == EROFS) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		__u64 flags = 0;
		if (fd >= 0 && ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags) == 0) {
			close(fd);
			if (ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &a) == 0)
				return 0;
			e = errno;
		} else if (fd >= 0) {
			close(fd);
		}
	}
	if (e == EPERM || e == EACCES)
		return strata_err_set(err, -e, "cannot delete the filesystem snapshot %s/%s: %s; deleting a btrfs "
		                      "snapshot needs CAP_SYS_ADMIN (run strata as root) or the mount option "
		                      "user_subvol_rm_allowed; delete it with `btrfs subvolume delete %s/%s`",
		                      root, name, strerror(e), root, name);
	return strata_err_set(err, -e, "cannot delete the filesystem snapshot %s/%s: %s; the next backup with "
	                      "--fs-snapshot deletes it, or `btrfs subvolume delete %s/%s`", root, name,
	                      strerror(e), root, name);
}

/* Delete the snapshots killed runs left in the subvolume root dirfd. */
static int remove_leftovers(int dirfd, const char *root, FsSnapNoteFn note, void *note_ctx, StrataErr *err)
{
	int fd = dup(dirfd), rc = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char msg[PATH_MAX + 200];

	if (!d) {
		if (fd >= 0)
			close(fd);
		return strata_err_set(err, -errno, "--fs-snapshot: cannot list %s: %s", root, strerror(errno));
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		long pid;
		unsigned long long start;
		if (!fssnap_name_parse(de->d_name, &pid, &start))
			continue;
		if (proc_start(pid) == start)
			continue;     /* its run goes on */
		if ((rc = destroy(dirfd, de->d_name, root, err)) != 0)
			break;
		snprintf(msg, sizeof msg, "deleted the filesystem snapshot %s/%s left by an earlier run "
		         "(process %ld, which ended without deleting it)", root, de->d_name, pid);
		if (note)
			note(msg, note_ctx);
	}
	closedir(d);
	return rc;
}

/* Make the snapshot of the subvolume at root, for this run, into slot. */
static int create(FsSnap *s, const char *root, dev_t dev, FsSnapNoteFn note, void *note_ctx, Snap **out,
                  StrataErr *err)
{
	Snap *sn = &s->snaps[atomic_load(&s->made)];
	struct btrfs_ioctl_vol_args_v2 a;
	MountOf m;
	char path[PATH_MAX];
	int dirfd, rc, e;

	memset(&m, 0, sizeof m);
	m.path = root;
	/* Deleting needs CAP_SYS_ADMIN or user_subvol_rm_allowed: without
	 * either, the snapshot would stay behind; refuse before making it. */
	if (!have_sys_admin()) {
		mounts_each(mount_of_fn, &m);
		if (!opt_has(m.opts, "user_subvol_rm_allowed"))
			return strata_err_set(err, -EPERM, "--fs-snapshot: strata could create a snapshot of the btrfs "
			                      "subvolume %s but not delete it: that needs CAP_SYS_ADMIN (run strata as "
			                      "root) or the mount option user_subvol_rm_allowed on %s (`mount -o "
			                      "remount,user_subvol_rm_allowed %s`, as root); nothing was backed up",
			                      root, m.mnt[0] ? m.mnt : root, m.mnt[0] ? m.mnt : root);
	}
	if ((dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return strata_err_set(err, -errno, "--fs-snapshot: cannot open the subvolume %s: %s", root,
		                      strerror(errno));
	if ((rc = remove_leftovers(dirfd, root, note, note_ctx, err)) != 0) {
		close(dirfd);
		return rc;
	}
	memset(&a, 0, sizeof a);
	a.fd = dirfd;
	a.flags = BTRFS_SUBVOL_RDONLY;
	snprintf(sn->name, sizeof sn->name, FSSNAP_PREFIX "%ld-%llu", (long)getpid(), proc_start(getpid()));
	snprintf(a.name, sizeof a.name, "%s", sn->name);
	if (snprintf(path, sizeof path, "%s/%s", strcmp(root, "/") ? root : "", sn->name) >= (int)sizeof path) {
		close(dirfd);
		return strata_err_set(err, -ENAMETOOLONG, "--fs-snapshot: %s: path too long", root);
	}
	if (ioctl(dirfd, BTRFS_IOC_SNAP_CREATE_V2, &a) != 0) {
		e = errno;
		close(dirfd);
		if (e == EPERM || e == EACCES)
			return strata_err_set(err, -e, "--fs-snapshot: not permitted to create a snapshot of the btrfs "
			                      "subvolume %s (%s): that needs ownership of the subvolume and write access "
			                      "to it, or root; nothing was backed up", root, strerror(e));
		if (e == EROFS)
			return strata_err_set(err, -e, "--fs-snapshot: cannot create a snapshot in %s: the filesystem "
			                      "or subvolume is read-only (read it live: --fs-snapshot none); nothing was "
			                      "backed up", root);
		return strata_err_set(err, -e, "--fs-snapshot: cannot create a snapshot of the btrfs subvolume %s: "
		                      "%s; nothing was backed up", root, strerror(e));
	}
	sn->dirfd = dirfd;
	sn->subvol_dev = dev;
	atomic_store(&sn->gone, 0);
	if (!(sn->root = keep(s, root)) || !(sn->path = keep(s, path))) {
		/* Made but not recorded: delete it at once. */
		destroy(dirfd, sn->name, root, NULL);
		close(dirfd);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	atomic_fetch_add(&s->made, 1);
	*out = sn;
	return 0;
}

/* Set up source path i: its view onto a snapshot (made or shared), or
 * live with FSSNAP_AUTO. */
static int take_one(FsSnap *s, const char *path, size_t i, FsSnapMode mode, FsSnapNoteFn note, void *note_ctx,
                    StrataErr *err)
{
	FsSnapSource *src = &s->sources[i];
	char real[PATH_MAX], root[PATH_MAX], read_at[PATH_MAX + 80], msg[PATH_MAX + 200], clean[PATH_MAX];
	struct statfs fs;
	struct stat st;
	struct timespec t0, t1;
	Snap *sn = NULL;
	BackupView *v;
	Holes h;
	int rc;

	if ((rc = backup_path_clean(path, clean)) != 0)
		return strata_err_set(err, STRATA_EUSAGE, "source path %s: %s", path, strerror(-rc));
	path = clean;
	if (!(src->path = keep(s, path)))
		return strata_err_set(err, -ENOMEM, "out of memory");
	if (!realpath(path, real) || lstat(real, &st) != 0 || statfs(real, &fs) != 0)
		return strata_err_set(err, -errno, "--fs-snapshot: source path %s: %s", path, strerror(errno));
	src->fs = fs_name(fs.f_type);
	if ((unsigned long)fs.f_type != BTRFS_SUPER_MAGIC) {
		if (mode == FSSNAP_BTRFS)
			return strata_err_set(err, STRATA_EREFUSED, "--fs-snapshot btrfs: %s is on %s, not btrfs (use "
			                      "--fs-snapshot auto to read such paths live, or see "
			                      "tools/cli/doc/consistency.md for other filesystems); nothing was backed up",
			                      path, src->fs);
		snprintf(msg, sizeof msg, "--fs-snapshot auto: %s is on %s, not btrfs: read live, not from a "
		         "filesystem snapshot", path, src->fs);
		if (note)
			note(msg, note_ctx);
		return 0;
	}
	if ((rc = subvol_root(real, root, err)) != 0)
		return rc;
	/* One snapshot per subvolume: source paths in the same one are read
	 * at the same moment. */
	for (size_t k = 0; k < atomic_load(&s->made); k++)
		if (!strcmp(s->snaps[k].root, root))
			sn = &s->snaps[k];
	if (!sn) {
		struct stat rst;
		if (stat(root, &rst) != 0)
			return strata_err_set(err, -errno, "--fs-snapshot: %s: %s", root, strerror(errno));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((rc = create(s, root, rst.st_dev, note, note_ctx, &sn, err)) != 0)
			return rc;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		src->create_ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	}
	snprintf(read_at, sizeof read_at, "%s%s", sn->path, real + (strcmp(root, "/") ? strlen(root) : 0));
	memset(&h, 0, sizeof h);
	h.s = s;
	h.real = real;
	h.recorded = path;
	if ((rc = mounts_each(holes_fn, &h)) != 0 || h.err) {
		free(h.v);
		return strata_err_set(err, h.err ? h.err : rc, "--fs-snapshot: cannot read /proc/self/mountinfo: %s",
		                      strerror(-(h.err ? h.err : rc)));
	}
	v = &s->views[s->nviews];
	s->holes[s->nviews] = h.v;
	if (!(v->path = keep(s, path)) || !(v->read_at = keep(s, read_at)) || !(src->snapshot = keep(s, sn->path)))
		return strata_err_set(err, -ENOMEM, "out of memory");
	/* The live path's device: stays the same from run to run (a
	 * snapshot gets a new one each time), so the files cache matches. */
	v->dev = (uint64_t)st.st_dev;
	v->hole_ino = EMPTY_SUBVOL_INO;
	v->holes = (const char *const *)h.v;
	v->nholes = h.n;
	/* Snapshots of other runs going on show as empty directories. */
	v->hide = FSSNAP_PREFIX "*";
	s->nviews++;
	return 0;
}

int fssnap_take(const char *const *paths, size_t npaths, FsSnapMode mode, FsSnapNoteFn note, void *note_ctx,
                FsSnap **out, StrataErr *err)
{
	FsSnap *s = calloc(1, sizeof *s);
	int rc = 0;

	if (!s || !(s->snaps = calloc(npaths ? npaths : 1, sizeof *s->snaps)) ||
	    !(s->views = calloc(npaths ? npaths : 1, sizeof *s->views)) ||
	    !(s->holes = calloc(npaths ? npaths : 1, sizeof *s->holes)) ||
	    !(s->sources = calloc(npaths ? npaths : 1, sizeof *s->sources))) {
		fssnap_free(s);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	s->cap = npaths;
	s->nsources = npaths;
	for (size_t i = 0; i < npaths && rc == 0; i++)
		if (mode != FSSNAP_NONE)
			rc = take_one(s, paths[i], i, mode, note, note_ctx, err);
		else if (!(s->sources[i].path = keep(s, paths[i])))
			rc = strata_err_set(err, -ENOMEM, "out of memory");
	if (rc) {
		fssnap_release(s, NULL);
		fssnap_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

const BackupView *fssnap_views(const FsSnap *s, size_t *out_n)
{
	*out_n = s ? s->nviews : 0;
	return s ? s->views : NULL;
}

const FsSnapSource *fssnap_source(const FsSnap *s, size_t i)
{
	return s && i < s->nsources ? &s->sources[i] : NULL;
}

int fssnap_release(FsSnap *s, StrataErr *err)
{
	int rc = 0, r;

	if (!s)
		return 0;
	for (size_t i = 0; i < atomic_load(&s->made); i++) {
		Snap *sn = &s->snaps[i];
		if (atomic_exchange(&sn->gone, 1))
			continue;
		r = destroy(sn->dirfd, sn->name, sn->root, rc ? NULL : err);
		if (r && !rc)
			rc = r;
	}
	return rc;
}

void fssnap_release_signal_safe(FsSnap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < atomic_load(&s->made); i++) {
		Snap *sn = &s->snaps[i];
		struct btrfs_ioctl_vol_args a;
		if (atomic_exchange(&sn->gone, 1))
			continue;
		memset(&a, 0, sizeof a);
		memcpy(a.name, sn->name, sizeof sn->name);
		(void)ioctl(sn->dirfd, BTRFS_IOC_SNAP_DESTROY, &a);
	}
}

void fssnap_free(FsSnap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < atomic_load(&s->made); i++)
		close(s->snaps[i].dirfd);
	for (size_t i = 0; i < s->cap; i++)
		free(s->holes[i]);
	for (size_t i = 0; i < s->nstrs; i++)
		free(s->strs[i]);
	free(s->strs);
	free(s->holes);
	free(s->snaps);
	free(s->views);
	free(s->sources);
	free(s);
}
