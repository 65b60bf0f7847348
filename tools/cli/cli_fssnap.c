/* cli_fssnap.c — see cli_fssnap.h. */
#include "tools/cli/cli_fssnap.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_json.h"

/* The running backup's snapshots, for the signal handlers (tools/ may
 * keep process-wide state). */
static _Atomic(FsSnap *) running;

static void note(const char *msg, void *ctx)
{
	if (!*(const int *)ctx)
		cli_warn("%s", msg);
}

int cli_fssnap_take(char *const *paths, size_t npaths, FsSnapMode mode, int quiet, FsSnap **out,
                    StrataErr *err)
{
	int rc = fssnap_take((const char *const *)paths, npaths, mode, note, &quiet, out, err);

	if (rc == 0)
		atomic_store(&running, *out);
	return rc;
}

int cli_fssnap_release(FsSnap *s, StrataErr *err)
{
	int rc;

	if (!s)
		return 0;
	atomic_store(&running, NULL);
	rc = fssnap_release(s, err);
	return rc;
}

void cli_fssnap_release_all(void)
{
	fssnap_release_signal_safe(atomic_load(&running));
}

json_t *cli_fssnap_json(const char *mode, const FsSnap *s, size_t npaths)
{
	json_t *j = json_pack("{s:s,s:[]}", "mode", mode, "sources"), *arr;

	if (!j)
		return NULL;
	arr = json_object_get(j, "sources");
	for (size_t i = 0; s && i < npaths; i++) {
		const FsSnapSource *src = fssnap_source(s, i);
		json_t *o = json_object();
		if (!o || json_array_append_new(arr, o) < 0 || cli_json_set_name(o, "path", src->path) < 0 ||
		    (src->fs && json_object_set_new(o, "fs", json_string(src->fs)) < 0) ||
		    (src->snapshot ? cli_json_set_name(o, "snapshot", src->snapshot) < 0 ||
		                     json_object_set_new(o, "create_ms", json_real((double)src->create_ns / 1e6)) < 0
		                   : json_object_set_new(o, "live", json_true()) < 0)) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

void cli_fssnap_print(const FsSnap *s, size_t npaths)
{
	for (size_t i = 0; s && i < npaths; i++) {
		const FsSnapSource *src = fssnap_source(s, i);
		if (src->snapshot)
			printf("  fs snapshot: %s read from the btrfs snapshot %s (made in %.1f ms, deleted)\n", src->path,
			       src->snapshot, (double)src->create_ns / 1e6);
		else
			printf("  fs snapshot: %s read live (%s)\n", src->path, src->fs ? src->fs : "not snapshotted");
	}
}

int cli_fssnap_as_view(const char *as, const char *src, BackupView *out, StrataErr *err)
{
	struct stat st;

	if (stat(src, &st) != 0)
		return strata_err_set(err, -errno, "--as %s: cannot read %s, the copy to back up: %s; nothing was "
		                      "backed up", as, src, strerror(errno));
	memset(out, 0, sizeof *out);
	out->path = as;
	out->read_at = src;
	/* The live path's device, when there is one here: the files cache
	 * then matches from run to run, whatever device number the mounted
	 * copy gets each time. */
	out->dev = lstat(as, &st) == 0 ? (uint64_t)st.st_dev : 0;
	return 0;
}
