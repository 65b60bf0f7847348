/* mount_fuse.c — the libfuse3 adapter behind mount_fuse.h: translates
 * FUSE's high-level (path-based) operations into MountFsOps calls. The only
 * file in strata that includes <fuse.h>; compiled as a stub without it. */
#include <errno.h>
#include <string.h>

#include "tools/cli/mount_fuse.h"

#ifdef STRATA_HAVE_FUSE

/* 3.1: fuse_new with fuse_args, the fuse_config passed to init, readdir
 * flags; Debian 11 and later ship 3.10 or newer. */
#define FUSE_USE_VERSION 31
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>

typedef struct Adapter {
	const MountFsOps *ops;
	void *ctx;
} Adapter;

static Adapter *adapter(void)
{
	return fuse_get_context()->private_data;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* Keep file data in the page cache across opens unless the file's
	 * mtime or size changed: a by-id path never changes content, but a
	 * by-time name can come to mean another snapshot when one made in the
	 * same second is forgotten. Names under the top-level directories
	 * come and go (new snapshots), so entries and attributes keep the
	 * default one-second timeouts. */
	cfg->auto_cache = 1;
	cfg->use_ino = 0;
	return fuse_get_context()->private_data;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	Adapter *a = adapter();
	(void)fi;
	memset(st, 0, sizeof *st);
	return a->ops->getattr(a->ctx, path, st);
}

static int fs_readlink(const char *path, char *buf, size_t len)
{
	Adapter *a = adapter();
	return a->ops->readlink(a->ctx, path, buf, len);
}

typedef struct Filler {
	void *buf;
	fuse_fill_dir_t fill;
} Filler;

static int fill_one(void *fill_ctx, const char *name, const struct stat *st)
{
	Filler *f = fill_ctx;
	return f->fill(f->buf, name, st, 0, 0) ? 1 : 0;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	Adapter *a = adapter();
	Filler f = { buf, fill };
	(void)off;
	(void)fi;
	(void)flags;
	/* Offset 0 everywhere: libfuse collects the whole listing in one call
	 * and serves the kernel's further reads from it. */
	if (fill(buf, ".", NULL, 0, 0) || fill(buf, "..", NULL, 0, 0))
		return -ENOMEM;
	return a->ops->readdir(a->ctx, path, fill_one, &f);
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	Adapter *a = adapter();
	uint64_t fh = 0;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;
	if ((rc = a->ops->open(a->ctx, path, &fh)) != 0)
		return rc;
	fi->fh = fh;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
	Adapter *a = adapter();
	(void)path;
	return a->ops->read(a->ctx, fi->fh, buf, len, off);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	Adapter *a = adapter();
	(void)path;
	a->ops->release(a->ctx, fi->fh);
	return 0;
}

static const struct fuse_operations fuse_ops = {
	.init     = fs_init,
	.getattr  = fs_getattr,
	.readlink = fs_readlink,
	.readdir  = fs_readdir,
	.open     = fs_open,
	.read     = fs_read,
	.release  = fs_release,
};

int mount_fuse_available(void)
{
	return 1;
}

int mount_fuse_run(const char *mountpoint, const MountFuseOptions *opts, const MountFsOps *ops,
                   void *ctx, StrataErr *err)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse *f = NULL;
	Adapter a = { ops, ctx };
	char o[512];
	int rc = 0, mounted = 0, signals = 0;

	/* allow_other without default_permissions would let every user read
	 * every file: with it the kernel checks the snapshot's modes and owners. */
	snprintf(o, sizeof o, "ro,fsname=%s,subtype=strata%s", opts->fsname ? opts->fsname : "strata",
	         opts->allow_other ? ",allow_other,default_permissions" : "");
	if (fuse_opt_add_arg(&args, "strata") || fuse_opt_add_arg(&args, "-o") ||
	    fuse_opt_add_arg(&args, o) || (opts->debug && fuse_opt_add_arg(&args, "-d"))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (!(f = fuse_new(&args, &fuse_ops, sizeof fuse_ops, &a))) {
		rc = strata_err_set(err, -EIO, "cannot set up FUSE (see the message above)");
		goto out;
	}
	if (fuse_mount(f, mountpoint) != 0) {
		rc = strata_err_set(err, -EIO, "cannot mount at %s: FUSE refused (see the message above; "
		                    "is /dev/fuse there, and fusermount3 installed?)", mountpoint);
		goto out;
	}
	mounted = 1;
	if (fuse_set_signal_handlers(fuse_get_session(f)) != 0) {
		rc = strata_err_set(err, -EIO, "cannot install signal handlers for the mount at %s", mountpoint);
		goto out;
	}
	signals = 1;
	if (fuse_loop(f) < 0)
		rc = strata_err_set(err, -EIO, "the FUSE session at %s ended with an error", mountpoint);
out:
	if (signals)
		fuse_remove_signal_handlers(fuse_get_session(f));
	if (mounted)
		fuse_unmount(f);
	if (f)
		fuse_destroy(f);
	fuse_opt_free_args(&args);
	return rc;
}

#else /* !STRATA_HAVE_FUSE */

int mount_fuse_available(void)
{
	return 0;
}

int mount_fuse_run(const char *mountpoint, const MountFuseOptions *opts, const MountFsOps *ops,
                   void *ctx, StrataErr *err)
{
	(void)opts;
	(void)ops;
	(void)ctx;
	return strata_err_set(err, STRATA_EREFUSED,
	                      "cannot mount at %s: this strata was built without FUSE support "
	                      "(install libfuse3-dev and fuse3, then rebuild)", mountpoint);
}

#endif
