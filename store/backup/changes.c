/* changes.c — see changes.h. */
#include "store/backup/changes.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backup/backup_internal.h"
#include "store/backup/btrfschanges.h"
#include "store/backup/changeset.h"
#include "store/backup/changestate.h"
#include "store/backup/journal.h"

struct ChangesPlan {
	ChangesMode mode;
	const char *method;           /* what the set came from: "btrfs" */
	char key[17];
	ChangeSet *cs;
	size_t marked;                /* paths the changes marked (links aside) */
	uint64_t (*link_inodes)[2];   /* the parent's hard-linked files (opts) */
	ChangeState now;              /* what to record once the backup is done */
	uint8_t parent[STRATA_ID_LEN];
	char why[512];                /* why no change set, "" when there is one */
};

int changes_parse_mode(const char *s, ChangesMode *out)
{
	static const char *const names[] = { "auto", "btrfs", "journal", "scan" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (ChangesMode)i;
			return 0;
		}
	return -EINVAL;
}

/* The recorded path of the root of the subvolume that source path (clean)
 * is read from, given where it is read (read_at) in snapshot snap_root.
 * -EXDEV when path does not end with its place in the subvolume (a
 * symlink on the way). */
static int live_root_of(const char *path, const char *read_at, const char *snap_root, char *out)
{
	size_t rl = strlen(snap_root), pl = strlen(path), sl;
	const char *suffix;

	if (strncmp(read_at, snap_root, rl) != 0)
		return -EXDEV;
	suffix = read_at + rl;
	sl = strlen(suffix);
	if (sl == 0) {
		snprintf(out, PATH_MAX, "%s", path);
		return 0;
	}
	if (sl > pl || strcmp(path + pl - sl, suffix) != 0 || suffix[0] != '/')
		return -EXDEV;
	if (pl == sl)
		strcpy(out, "/");
	else
		snprintf(out, PATH_MAX, "%.*s", (int)(pl - sl), path);
	return 0;
}

/* Fill p->now.src from the snapshots taken; with use, find the changes
 * since the recorded state st into p->cs. 0, or 1 with p->why set. */
static int plan_btrfs(ChangesPlan *p, const FsSnap *fss, char **paths, size_t npaths, const ChangeState *st,
                      int have_state)
{
	size_t nviews = 0;
	const BackupView *views = fssnap_views(fss, &nviews);
	int fail = 0;

	for (size_t i = 0; i < npaths; i++) {
		const FsSnapSource *src = fssnap_source(fss, i);
		const BackupView *v = NULL;
		char live[PATH_MAX];
		StrataErr e = {0};
		uint64_t inodes = 0;
		int rc;

		for (size_t k = 0; k < nviews; k++)
			if (strcmp(views[k].path, paths[i]) == 0)
				v = &views[k];
		if (!src->snapshot || !v) {
			if (!fail)
				snprintf(p->why, sizeof p->why, "%s is read live, not from a btrfs snapshot", paths[i]);
			fail = 1;
			continue;
		}
		if (btrfschanges_info(src->snapshot, p->now.src[i].uuid, &p->now.src[i].gen, &e) != 0) {
			if (!fail)
				snprintf(p->why, sizeof p->why, "%s", e.msg);
			fail = 1;
			continue;
		}
		p->now.src[i].btrfs = 1;
		if (fail)
			continue;
		if (!have_state) {
			fail = 1;
			continue;
		}
		if (st->nsrc != npaths || !st->src[i].btrfs) {
			snprintf(p->why, sizeof p->why, "no generation recorded for %s", paths[i]);
			fail = 1;
			continue;
		}
		if (memcmp(st->src[i].uuid, p->now.src[i].uuid, 16) != 0) {
			snprintf(p->why, sizeof p->why, "%s: the snapshot is of a different subvolume than the recorded "
			         "generation's", paths[i]);
			fail = 1;
			continue;
		}
		if (st->src[i].gen > p->now.src[i].gen) {
			snprintf(p->why, sizeof p->why, "%s: the recorded generation %llu is newer than this snapshot's",
			         paths[i], (unsigned long long)st->src[i].gen);
			fail = 1;
			continue;
		}
		if ((rc = live_root_of(paths[i], v->read_at, src->snapshot, live)) != 0) {
			snprintf(p->why, sizeof p->why, "%s: reached through a symlink; its subvolume's paths are not known",
			         paths[i]);
			fail = 1;
			continue;
		}
		/* What was written after the recorded snapshot's transaction
		 * (btrfschanges.h). */
		if (btrfschanges_find(src->snapshot, st->src[i].gen, live, paths[i], p->cs, &inodes, &e) != 0) {
			snprintf(p->why, sizeof p->why, "%s", e.msg);
			fail = 1;
		}
	}
	return fail;
}

/* How long a backup waits for the watcher to write out its queue (it
 * answers in milliseconds; a loaded machine can delay it by seconds). */
#define JOURNAL_SYNC_MS 10000

/* The change journal: the position now (recorded for the next backup)
 * and, with use, the changes since the recorded one into p->cs. 0, or 1
 * with p->why set. */
static int plan_journal(ChangesPlan *p, Repo *repo, char **paths, size_t npaths, const ChangeState *st,
                        int have_state, int use)
{
	char root[PATH_MAX];
	JournalPos now, from;
	StrataErr e = {0};
	char *slash;
	int r;

	snprintf(root, sizeof root, "%s", repo_cache_path(repo));
	if (!(slash = strrchr(root, '/')) || slash == root) {
		snprintf(p->why, sizeof p->why, "no local cache for a change journal");
		return 1;
	}
	*slash = '\0';
	memset(&now, 0, sizeof now);
	r = journal_sync(root, (const char *const *)paths, npaths, JOURNAL_SYNC_MS, &now, p->why, sizeof p->why, &e);
	if (r < 0)
		snprintf(p->why, sizeof p->why, "%s", e.msg);
	if (r != 0)
		return 1;
	p->now.journal = 1;
	memcpy(p->now.journal_run, now.run, sizeof now.run);
	p->now.journal_offset = now.offset;
	if (!use)
		return 1;
	if (!have_state || !st->journal) {
		snprintf(p->why, sizeof p->why, "nothing recorded from this change journal yet (the first backup after "
		         "the watcher starts scans)");
		return 1;
	}
	from = now;
	memcpy(from.run, st->journal_run, sizeof from.run);
	from.offset = st->journal_offset;
	if ((r = changeset_new(&p->cs)) != 0) {
		snprintf(p->why, sizeof p->why, "out of memory");
		return 1;
	}
	if (journal_read(&from, &now, p->cs, p->why, sizeof p->why) != 0) {
		changeset_free(p->cs);
		p->cs = NULL;
		return 1;
	}
	p->method = "journal";
	return 0;
}

/* Every name of the parent's hard-linked files: visited (backup.h). */
static int mark_links(ChangesPlan *p, ChangeState *st, BackupOptions *opts, StrataErr *err)
{
	for (size_t i = 0; i < st->nlinks; i++)
		if (changeset_add(p->cs, st->links[i], CHANGESET_STAT | CHANGESET_LINK) != 0)
			return strata_err_set(err, -ENOMEM, "out of memory");
	/* Kept for the backup: moved out of st. */
	if (st->nlinks > 1)
		qsort(st->link_inodes, st->nlinks, sizeof *st->link_inodes, backup_cmp_devino);
	p->link_inodes = st->link_inodes;
	st->link_inodes = NULL;
	opts->link_inodes = (const uint64_t (*)[2])p->link_inodes;
	opts->nlink_inodes = st->nlinks;
	return 0;
}

int changes_plan(Repo *repo, ChangesMode mode, const FsSnap *fss, BackupOptions *opts, ChangesPlan **out,
                 StrataErr *err)
{
	ChangesPlan *p = calloc(1, sizeof *p);
	char **paths = NULL, host[256], clean[PATH_MAX];
	ChangeState st = {0};
	StrataErr serr = {0};
	int rc = 0, have_state, fail;

	if (!p)
		return strata_err_set(err, -ENOMEM, "out of memory");
	p->mode = mode;
	*out = p;
	if (mode == CHANGES_BTRFS && !fss)
		return strata_err_set(err, STRATA_EUSAGE, "--changes btrfs needs --fs-snapshot btrfs (the changes are "
		                      "found between two of its snapshots)");
	if (opts->stdin_fd >= 0 || opts->npaths == 0) {
		snprintf(p->why, sizeof p->why, "a stream has no changes to track");
		return 0;
	}
	if (!(paths = calloc(opts->npaths, sizeof *paths)) || !(p->now.src = calloc(opts->npaths, sizeof *p->now.src))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	p->now.nsrc = opts->npaths;
	for (size_t i = 0; i < opts->npaths; i++) {
		if (backup_path_clean(opts->paths[i], clean) != 0 || !(paths[i] = strdup(clean))) {
			snprintf(p->why, sizeof p->why, "source path %s cannot be made absolute", opts->paths[i]);
			goto out;
		}
	}
	backup_host(opts, host);
	changestate_key(host, (const char *const *)paths, opts->npaths, opts->excludes, opts->nexcludes, p->key);
	rc = changestate_load(repo, p->key, &st, &serr);
	have_state = rc == 0;
	rc = 0;
	if (!fss || mode == CHANGES_JOURNAL) {
		if (plan_journal(p, repo, paths, opts->npaths, &st, have_state, mode != CHANGES_SCAN) == 0) {
			changeset_seal(p->cs);
			p->marked = changeset_count(p->cs);
			if ((rc = mark_links(p, &st, opts, err)) != 0)
				goto out;
			changeset_seal(p->cs);
			memcpy(p->parent, st.snapshot, STRATA_ID_LEN);
			opts->changes = p->cs;
			opts->changes_parent = p->parent;
		} else if (mode == CHANGES_SCAN) {
			snprintf(p->why, sizeof p->why, "--changes scan");
		} else if (mode == CHANGES_AUTO && strncmp(p->why, "no change journal", 17) == 0) {
			snprintf(p->why, sizeof p->why, "no --fs-snapshot btrfs and no change journal");
		}
		goto out;
	}
	if ((rc = changeset_new(&p->cs)) != 0) {
		rc = strata_err_set(err, rc, "out of memory");
		goto out;
	}
	/* With scan, only what the next backup starts from: a full scan is
	 * as good a parent as any. */
	fail = plan_btrfs(p, fss, paths, opts->npaths, &st, have_state && mode != CHANGES_SCAN);
	if (mode == CHANGES_SCAN) {
		snprintf(p->why, sizeof p->why, "--changes scan");
		fail = 1;
	}
	if (!fail && !have_state)
		fail = 1;
	if (fail) {
		if (!p->why[0])
			snprintf(p->why, sizeof p->why, "no generation recorded for these paths (the first backup with "
			         "change tracking scans)");
		changeset_free(p->cs);
		p->cs = NULL;
		goto out;
	}
	changeset_seal(p->cs);
	p->marked = changeset_count(p->cs);
	if ((rc = mark_links(p, &st, opts, err)) != 0)
		goto out;
	changeset_seal(p->cs);
	p->method = "btrfs";
	opts->changes_links_exact = 1;
	memcpy(p->parent, st.snapshot, STRATA_ID_LEN);
	opts->changes = p->cs;
	opts->changes_parent = p->parent;
out:
	changestate_clear(&st);
	if (paths)
		for (size_t i = 0; i < opts->npaths; i++)
			free(paths[i]);
	free(paths);
	return rc;
}

void changes_finish(ChangesPlan *p, Repo *repo, int rc, const BackupResult *res)
{
	if (!p || !p->key[0])
		return;
	if (rc != 0 || !res || res->partial || !res->link_paths_known) {
		changestate_drop(repo, p->key);
		return;
	}
	memcpy(p->now.snapshot, res->snapshot_id, STRATA_ID_LEN);
	p->now.links = res->link_paths;        /* lent */
	p->now.link_inodes = res->link_inodes;
	p->now.nlinks = res->nlink_paths;
	if (changestate_save(repo, p->key, &p->now, NULL) != 0)
		changestate_drop(repo, p->key);
	p->now.links = NULL;
	p->now.link_inodes = NULL;
	p->now.nlinks = 0;
}

const char *changes_mode_used(const ChangesPlan *p, const BackupResult *res)
{
	return p && p->method && res && res->changes_used ? p->method : "scan";
}

const char *changes_fallback(const ChangesPlan *p, const BackupResult *res)
{
	if (!p)
		return "";
	if (p->why[0])
		return p->why;
	if (res && !res->changes_used)
		return res->changes_fallback;
	return "";
}

size_t changes_marked(const ChangesPlan *p)
{
	return p && p->cs ? p->marked : 0;
}

void changes_free(ChangesPlan *p)
{
	if (!p)
		return;
	changeset_free(p->cs);
	changestate_clear(&p->now);
	free(p->link_inodes);
	free(p);
}
