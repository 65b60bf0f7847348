/* mount_layout.c — the by-id/by-time/by-label/latest layout of
 * `strata mount`, see mount_layout.h. */
#include "tools/cli/mount_layout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli/cli_exit.h"
#include "tools/cli/cli_fmt.h"
#include "tools/cli/cli_progress.h"

/* ---- the snapshot list and its names ---- */

void mount_layout_free(MountLayout *l)
{
	snapshot_list_free(l->snaps, l->nsnaps);
	free(l->id_names);
	free(l->time_names);
	l->snaps = NULL;
	l->nsnaps = 0;
	l->id_names = NULL;
	l->time_names = NULL;
}

static void time_name(int64_t time_ns, char out[MOUNT_TIME_NAME_LEN])
{
	time_t s = (time_t)(time_ns / 1000000000);
	struct tm tm;

	if (time_ns < 0 && time_ns % 1000000000)
		s--;
	if (!localtime_r(&s, &tm) || !strftime(out, MOUNT_TIME_NAME_LEN, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(out, MOUNT_TIME_NAME_LEN, "@%lld", (long long)s);
}

int mount_layout_load(MountLayout *l, StrataErr *err)
{
	Snapshot *snaps = NULL;
	size_t n = 0, i, j;
	char (*ids)[STRATA_ID_HEX_LEN + 1] = NULL;
	char (*times)[MOUNT_TIME_NAME_LEN] = NULL;
	char sid[CLI_FMT_SHORT_ID_LEN];
	int rc;

	if ((rc = snapshot_list(l->repo, &snaps, &n, err)) != 0)
		return rc;
	if (l->filter) {
		size_t w = 0;
		for (i = 0; i < n; i++) {
			if (!snapselect_matches(&snaps[i], l->filter)) {
				snapshot_clear(&snaps[i]);
				continue;
			}
			if (w != i)
				snaps[w] = snaps[i];
			w++;
		}
		n = w;
	}
	ids = calloc(n ? n : 1, sizeof *ids);
	times = calloc(n ? n : 1, sizeof *times);
	if (!ids || !times) {
		snapshot_list_free(snaps, n);
		free(ids);
		free(times);
		return strata_err_set(err, -ENOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		strata_id_hex(snaps[i].id, ids[i]);
		time_name(snaps[i].time_ns, times[i]);
	}
	/* Short IDs: 8 hex digits unless two snapshots share them. */
	for (i = 0; i < n; i++) {
		int clash = 0;
		for (j = 0; j < n && !clash; j++)
			clash = j != i && !memcmp(ids[i], ids[j], CLI_FMT_SHORT_ID_LEN - 1);
		if (!clash)
			ids[i][CLI_FMT_SHORT_ID_LEN - 1] = '\0';
	}
	/* Times: the first snapshot of a second keeps the plain name. */
	for (i = 1; i < n; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(times[i], times[j])) {
				size_t len = strlen(times[i]);
				snprintf(times[i] + len, MOUNT_TIME_NAME_LEN - len, "_%s", cli_fmt_short_id(snaps[i].id, sid));
				break;
			}
	mount_layout_free(l);
	l->snaps = snaps;
	l->nsnaps = n;
	l->id_names = ids;
	l->time_names = times;
	l->loaded_ns = cli_now_ns();
	return 0;
}

/* Reload when the list is older than refresh_ns. A failure keeps serving
 * the old list (the next look tries again). */
static void refresh(MountLayout *l)
{
	StrataErr err = { 0, "" };

	if (cli_now_ns() - l->loaded_ns < l->refresh_ns)
		return;
	if (mount_layout_load(l, &err) != 0) {
		cli_warn("mount: cannot re-read the snapshot list: %s", err.msg);
		l->loaded_ns = cli_now_ns();
	}
}

/* A label is a directory name only if it holds no '/'. */
static int label_usable(const char *kv)
{
	return *kv && !strchr(kv, '/');
}

static int snap_has_label(const Snapshot *s, const char *kv)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i], kv))
			return 1;
	return 0;
}

static const Snapshot *snap_by_id_name(const MountLayout *l, const char *name)
{
	for (size_t i = 0; i < l->nsnaps; i++)
		if (!strcmp(l->id_names[i], name))
			return &l->snaps[i];
	return NULL;
}

static const Snapshot *snap_by_time_name(const MountLayout *l, const char *name, const char *label)
{
	for (size_t i = 0; i < l->nsnaps; i++)
		if (!strcmp(l->time_names[i], name))
			return !label || snap_has_label(&l->snaps[i], label) ? &l->snaps[i] : NULL;
	return NULL;
}

/* The newest snapshot with label kv (NULL = any), as an index. */
static long newest_with(const MountLayout *l, const char *kv)
{
	for (size_t i = l->nsnaps; i-- > 0;)
		if ((!kv || snap_has_label(&l->snaps[i], kv)) && snapshot_selectable(&l->snaps[i], l->include_partial))
			return (long)i;
	return -1;
}

static int label_known(const MountLayout *l, const char *kv)
{
	for (size_t i = 0; label_usable(kv) && i < l->nsnaps; i++)
		if (snap_has_label(&l->snaps[i], kv))
			return 1;
	return 0;
}

int64_t mount_layout_newest_time(const MountLayout *l)
{
	return l->nsnaps ? l->snaps[l->nsnaps - 1].time_ns : 0;
}

/* ---- paths ---- */

static int find_node(const Tree *t, const char *name, const TreeNode **out)
{
	size_t lo = 0, hi = t->n;

	/* Tree nodes are sorted bytewise; strcmp compares as unsigned char. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->nodes[mid].name, name);
		if (c == 0) {
			*out = &t->nodes[mid];
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

/* walk_snapshot — the entry at components c[0..n) inside snap. */
static int walk_snapshot(MountLayout *l, const Snapshot *snap, char **c, size_t n, MountWhere *w)
{
	uint8_t dir[STRATA_ID_LEN];
	const TreeNode *node = NULL;
	const Tree *t;
	int rc;

	w->snap = snap;
	if (n == 0) {
		w->kind = MOUNT_SNAPROOT;
		return 0;
	}
	memcpy(dir, snap->tree, STRATA_ID_LEN);
	for (size_t i = 0; i < n; i++) {
		if (node) {
			if (node->type != NODE_DIR)
				return -ENOTDIR;
			memcpy(dir, node->subtree, STRATA_ID_LEN);
		}
		if ((rc = mount_cache_tree(l->cache, dir, &t)) != 0 || (rc = find_node(t, c[i], &node)) != 0)
			return rc;
	}
	w->kind = MOUNT_NODE;
	w->node = node;
	return 0;
}

int mount_layout_resolve(MountLayout *l, char *buf, MountWhere *w)
{
	char *c[4096 / 2];
	size_t n = 0;
	const Snapshot *snap;
	char *p, *save = NULL;
	long i;

	memset(w, 0, sizeof *w);
	for (p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (n == sizeof c / sizeof c[0])
			return -ENAMETOOLONG;
		c[n++] = p;
	}
	if (n <= 3)
		refresh(l);
	if (n == 0) {
		w->kind = MOUNT_ROOT;
		return 0;
	}
	if (!strcmp(c[0], "latest")) {
		if (n > 1 || (i = newest_with(l, NULL)) < 0)
			return -ENOENT;
		w->kind = MOUNT_LINK;
		snprintf(w->link, sizeof w->link, "by-id/%s", l->id_names[i]);
		return 0;
	}
	if (!strcmp(c[0], "by-id") || !strcmp(c[0], "by-time")) {
		w->top = c[0][3] == 'i' ? MOUNT_TOP_ID : MOUNT_TOP_TIME;
		if (n == 1) {
			w->kind = MOUNT_TOP;
			return 0;
		}
		snap = w->top == MOUNT_TOP_ID ? snap_by_id_name(l, c[1]) : snap_by_time_name(l, c[1], NULL);
		return snap ? walk_snapshot(l, snap, c + 2, n - 2, w) : -ENOENT;
	}
	if (!strcmp(c[0], "by-label")) {
		w->top = MOUNT_TOP_LABEL;
		if (n == 1) {
			w->kind = MOUNT_TOP;
			return 0;
		}
		if (!label_known(l, c[1]))
			return -ENOENT;
		w->label = c[1];
		if (n == 2) {
			w->kind = MOUNT_LABEL;
			return 0;
		}
		if (!strcmp(c[2], "latest")) {
			if (n > 3)
				return -ENOENT;
			if ((i = newest_with(l, c[1])) < 0)
				return -ENOENT;
			w->kind = MOUNT_LINK;
			snprintf(w->link, sizeof w->link, "%s", l->time_names[i]);
			return 0;
		}
		snap = snap_by_time_name(l, c[2], c[1]);
		return snap ? walk_snapshot(l, snap, c + 3, n - 3, w) : -ENOENT;
	}
	return -ENOENT;
}

/* ---- listing the virtual directories ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct usable labels of every snapshot, sorted. */
static int list_labels(const MountLayout *l, MountFillFn fill, void *fill_ctx)
{
	const char **v;
	size_t n = 0, i, j;
	int rc = 0;

	for (i = 0; i < l->nsnaps; i++)
		n += l->snaps[i].nlabels;
	if (!(v = malloc((n ? n : 1) * sizeof *v)))
		return -ENOMEM;
	n = 0;
	for (i = 0; i < l->nsnaps; i++)
		for (j = 0; j < l->snaps[i].nlabels; j++)
			if (label_usable(l->snaps[i].labels[j]))
				v[n++] = l->snaps[i].labels[j];
	qsort(v, n, sizeof *v, cmp_str);
	for (i = 0; i < n && rc == 0; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]))
			rc = fill(fill_ctx, v[i], NULL);
	free(v);
	return 0;
}

int mount_layout_list(const MountLayout *l, const MountWhere *w, MountFillFn fill, void *fill_ctx)
{
	size_t i;

	switch (w->kind) {
	case MOUNT_ROOT:
		if (fill(fill_ctx, "by-id", NULL) || fill(fill_ctx, "by-time", NULL) ||
		    fill(fill_ctx, "by-label", NULL))
			return 0;
		if (newest_with(l, NULL) >= 0)
			fill(fill_ctx, "latest", NULL);
		return 0;
	case MOUNT_TOP:
		if (w->top == MOUNT_TOP_LABEL)
			return list_labels(l, fill, fill_ctx);
		for (i = 0; i < l->nsnaps; i++)
			if (fill(fill_ctx, w->top == MOUNT_TOP_ID ? l->id_names[i] : l->time_names[i], NULL))
				break;
		return 0;
	case MOUNT_LABEL:
		for (i = 0; i < l->nsnaps; i++)
			if (snap_has_label(&l->snaps[i], w->label) && fill(fill_ctx, l->time_names[i], NULL))
				return 0;
		if (newest_with(l, w->label) >= 0)
			fill(fill_ctx, "latest", NULL);
		return 0;
	default:
		return -ENOTDIR;
	}
}
