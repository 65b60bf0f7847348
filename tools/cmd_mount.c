/* cmd_mount.c — `strata mount`: browse every snapshot as a read-only file
 * system (FUSE, through tools/mount_fuse.h).
 *
 * Layout of the mount:
 *   by-id/<short id>/...                 each snapshot's tree
 *   by-time/<YYYY-MM-DDTHH:MM:SS>/...    local time, as `snapshots` shows it
 *   by-label/<key>=<value>/<time>/...    snapshots carrying that label
 *   by-label/<key>=<value>/latest        -> the newest of them
 *   latest                               -> by-id/<newest>
 * A short ID shared by two snapshots is shown in full for both; a second
 * snapshot in the same second gets "_<short id>" after its time.
 *
 * The snapshot list is re-read at most every --refresh seconds when a
 * top-level directory is looked at, so new snapshots appear in a long-
 * lived mount. Trees are decoded once and kept in a small LRU cache;
 * reads fetch only the chunk covering the offset asked for (a few decoded
 * chunks are cached), so one file comes back without a full restore.
 *
 * Single-threaded (mount_fuse.h): the callbacks share the caches freely.
 * Holds a shared repository lock while mounted, so prune deletes nothing
 * a reader might still need.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/codec.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "tools/cli.h"
#include "tools/cli_exit.h"
#include "tools/cli_fmt.h"
#include "tools/cli_json.h"
#include "tools/cli_lock.h"
#include "tools/cli_opts.h"
#include "tools/cli_progress.h"
#include "tools/cli_repo.h"
#include "tools/mount_fuse.h"

/* Decoded trees kept: enough for a few directory levels of several
 * snapshots being browsed side by side. */
#define TREE_CACHE_N 64
/* Decoded chunks kept: two readers' sequential streams plus the chunks
 * random reads bounce between (a chunk is at most the repository's
 * chunk_max, 8 MiB by default: 64 MiB at worst). */
#define CHUNK_CACHE_N 8
#define TIME_NAME_LEN 48

enum {
	OPT_ALLOW_OTHER = CLI_OPT_CMD,
	OPT_REFRESH,
	OPT_DEBUG
};

static const struct option longopts[] = {
	{ "allow-other", no_argument,       NULL, OPT_ALLOW_OTHER },
	{ "refresh",     required_argument, NULL, OPT_REFRESH },
	/* Hidden: libfuse's request trace on stderr. */
	{ "fuse-debug",  no_argument,       NULL, OPT_DEBUG },
	{ NULL, 0, NULL, 0 }
};

typedef struct Args {
	MountFuseOptions fuse;
	long refresh_s;
} Args;

typedef struct TreeSlot {
	uint8_t id[STRATA_ID_LEN];
	Tree tree;
	uint64_t used;            /* LRU clock; 0 = empty */
} TreeSlot;

typedef struct ChunkSlot {
	uint8_t id[STRATA_ID_LEN];
	uint8_t *data;
	size_t len;
	uint64_t used;
} ChunkSlot;

/* One open file: everything read needs, copied out of the tree cache. */
typedef struct OpenFile {
	uint8_t (*chunks)[STRATA_ID_LEN];
	uint64_t *starts;         /* offset of each chunk in the file */
	uint32_t *lens;
	size_t nchunks;
	uint64_t size;
	char *path;               /* for error messages */
} OpenFile;

typedef struct Mount {
	const Cli *cli;
	Repo *repo;
	CodecCtx *codec;
	Snapshot *snaps;          /* oldest first */
	size_t nsnaps;
	char (*id_names)[STRATA_ID_HEX_LEN + 1];
	char (*time_names)[TIME_NAME_LEN];
	int64_t loaded_ns;        /* CLOCK_MONOTONIC of the last snapshot_list */
	int64_t refresh_ns;
	uid_t uid;
	gid_t gid;
	uint64_t clock;
	TreeSlot trees[TREE_CACHE_N];
	ChunkSlot chunks[CHUNK_CACHE_N];
} Mount;

static int on_opt(Cli *cli, int opt, const char *arg, void *ctx)
{
	Args *a = ctx;

	switch (opt) {
	case OPT_ALLOW_OTHER:
		a->fuse.allow_other = 1;
		return CLI_CONTINUE;
	case OPT_REFRESH:
		if (cli_parse_int(arg, 0, 86400, &a->refresh_s) < 0)
			return cli_usage(cli, "--refresh wants a number of seconds from 0 to 86400: %s", arg);
		return CLI_CONTINUE;
	case OPT_DEBUG:
		a->fuse.debug = 1;
		return CLI_CONTINUE;
	default:
		return cli_usage(cli, "unexpected option");
	}
}

/* ---- the snapshot list and its names ---- */

static void snaps_free(Mount *m)
{
	snapshot_list_free(m->snaps, m->nsnaps);
	free(m->id_names);
	free(m->time_names);
	m->snaps = NULL;
	m->nsnaps = 0;
	m->id_names = NULL;
	m->time_names = NULL;
}

static void time_name(int64_t time_ns, char out[TIME_NAME_LEN])
{
	time_t s = (time_t)(time_ns / 1000000000);
	struct tm tm;

	if (time_ns < 0 && time_ns % 1000000000)
		s--;
	if (!localtime_r(&s, &tm) || !strftime(out, TIME_NAME_LEN, "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(out, TIME_NAME_LEN, "@%lld", (long long)s);
}

/* snaps_load — (re)read the snapshot list and name each snapshot. On
 * failure the old list stays. */
static int snaps_load(Mount *m, StrataErr *err)
{
	Snapshot *snaps = NULL;
	size_t n = 0, i, j;
	char (*ids)[STRATA_ID_HEX_LEN + 1] = NULL;
	char (*times)[TIME_NAME_LEN] = NULL;
	char sid[CLI_FMT_SHORT_ID_LEN];
	int rc;

	if ((rc = snapshot_list(m->repo, &snaps, &n, err)) != 0)
		return rc;
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
				size_t l = strlen(times[i]);
				snprintf(times[i] + l, TIME_NAME_LEN - l, "_%s", cli_fmt_short_id(snaps[i].id, sid));
				break;
			}
	snaps_free(m);
	m->snaps = snaps;
	m->nsnaps = n;
	m->id_names = ids;
	m->time_names = times;
	m->loaded_ns = cli_now_ns();
	return 0;
}

/* snaps_refresh — reload when the list is older than --refresh. A failure
 * keeps serving the old list (the next look tries again). */
static void snaps_refresh(Mount *m)
{
	StrataErr err = { 0, "" };

	if (cli_now_ns() - m->loaded_ns < m->refresh_ns)
		return;
	if (snaps_load(m, &err) != 0) {
		cli_warn("mount: cannot re-read the snapshot list: %s", err.msg);
		m->loaded_ns = cli_now_ns();
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

static const Snapshot *snap_by_id_name(const Mount *m, const char *name)
{
	for (size_t i = 0; i < m->nsnaps; i++)
		if (!strcmp(m->id_names[i], name))
			return &m->snaps[i];
	return NULL;
}

static const Snapshot *snap_by_time_name(const Mount *m, const char *name, const char *label)
{
	for (size_t i = 0; i < m->nsnaps; i++)
		if (!strcmp(m->time_names[i], name))
			return !label || snap_has_label(&m->snaps[i], label) ? &m->snaps[i] : NULL;
	return NULL;
}

/* The newest snapshot with label kv (NULL = any), as an index. */
static long newest_with(const Mount *m, const char *kv)
{
	for (size_t i = m->nsnaps; i-- > 0;)
		if (!kv || snap_has_label(&m->snaps[i], kv))
			return (long)i;
	return -1;
}

/* ---- caches ---- */

/* tree_get — the decoded tree id, from the cache or the repository. The
 * pointer stays valid until the next tree_get (which may evict it). */
static int tree_get(Mount *m, const uint8_t id[STRATA_ID_LEN], const Tree **out)
{
	StrataErr err = { 0, "" };
	TreeSlot *victim = &m->trees[0];
	Tree t = { NULL, 0, 0 };
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	for (size_t i = 0; i < TREE_CACHE_N; i++) {
		TreeSlot *s = &m->trees[i];
		if (s->used && !memcmp(s->id, id, STRATA_ID_LEN)) {
			s->used = ++m->clock;
			*out = &s->tree;
			return 0;
		}
		if (s->used < victim->used)
			victim = s;
	}
	if ((rc = tree_load(m->repo, id, &t, &err)) != 0) {
		strata_id_hex(id, hex);
		cli_warn("mount: tree %s: %s", hex, err.msg[0] ? err.msg : strata_strerror(rc));
		return rc == -ENOMEM ? -ENOMEM : -EIO;
	}
	tree_clear(&victim->tree);
	victim->tree = t;
	memcpy(victim->id, id, STRATA_ID_LEN);
	victim->used = ++m->clock;
	*out = &victim->tree;
	return 0;
}

/* chunk_get — the decoded data chunk id of raw length want_len. */
static int chunk_get(Mount *m, const uint8_t id[STRATA_ID_LEN], uint32_t want_len, const char *path,
                     const ChunkSlot **out)
{
	StrataErr err = { 0, "" };
	ChunkSlot *victim = &m->chunks[0];
	uint8_t *data = NULL;
	size_t len = 0;
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	for (size_t i = 0; i < CHUNK_CACHE_N; i++) {
		ChunkSlot *s = &m->chunks[i];
		if (s->used && !memcmp(s->id, id, STRATA_ID_LEN)) {
			s->used = ++m->clock;
			*out = s;
			return 0;
		}
		if (s->used < victim->used)
			victim = s;
	}
	strata_id_hex(id, hex);
	if ((rc = blob_read(m->repo, m->codec, BLOB_DATA, id, &data, &len, &err)) != 0) {
		cli_warn("mount: %s: %s", path, err.msg[0] ? err.msg : strata_strerror(rc));
		return rc == -ENOMEM ? -ENOMEM : -EIO;
	}
	if (len != want_len) {
		cli_warn("mount: %s: chunk %s holds %zu bytes, its tree says %u", path, hex, len, want_len);
		free(data);
		return -EIO;
	}
	free(victim->data);
	victim->data = data;
	victim->len = len;
	memcpy(victim->id, id, STRATA_ID_LEN);
	victim->used = ++m->clock;
	*out = victim;
	return 0;
}

static void caches_free(Mount *m)
{
	for (size_t i = 0; i < TREE_CACHE_N; i++)
		tree_clear(&m->trees[i].tree);
	for (size_t i = 0; i < CHUNK_CACHE_N; i++)
		free(m->chunks[i].data);
}

/* ---- paths ---- */

enum WhereKind {
	W_ROOT,        /* "/" */
	W_TOP,         /* "/by-id", "/by-time", "/by-label" */
	W_LABEL,       /* "/by-label/<k=v>" */
	W_LINK,        /* "/latest", "/by-label/<k=v>/latest" */
	W_SNAPROOT,    /* a snapshot's top directory */
	W_NODE         /* an entry inside a snapshot */
};

enum { TOP_ID, TOP_TIME, TOP_LABEL };

typedef struct Where {
	enum WhereKind kind;
	int top;                      /* W_TOP: TOP_* */
	const char *label;            /* W_LABEL: "k=v", points into the caller's path */
	const Snapshot *snap;         /* W_SNAPROOT, W_NODE */
	const TreeNode *node;         /* W_NODE: valid until the next tree_get */
	char link[STRATA_ID_HEX_LEN + TIME_NAME_LEN + 16];  /* W_LINK target */
} Where;

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
static int walk_snapshot(Mount *m, const Snapshot *snap, char **c, size_t n, Where *w)
{
	uint8_t dir[STRATA_ID_LEN];
	const TreeNode *node = NULL;
	const Tree *t;
	int rc;

	w->snap = snap;
	if (n == 0) {
		w->kind = W_SNAPROOT;
		return 0;
	}
	memcpy(dir, snap->tree, STRATA_ID_LEN);
	for (size_t i = 0; i < n; i++) {
		if (node) {
			if (node->type != NODE_DIR)
				return -ENOTDIR;
			memcpy(dir, node->subtree, STRATA_ID_LEN);
		}
		if ((rc = tree_get(m, dir, &t)) != 0 || (rc = find_node(t, c[i], &node)) != 0)
			return rc;
	}
	w->kind = W_NODE;
	w->node = node;
	return 0;
}

static int label_known(const Mount *m, const char *kv)
{
	return label_usable(kv) && newest_with(m, kv) >= 0;
}

/* resolve — what path names. buf is a writable copy of path that w->label
 * may point into. */
static int resolve(Mount *m, char *buf, Where *w)
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
		snaps_refresh(m);
	if (n == 0) {
		w->kind = W_ROOT;
		return 0;
	}
	if (!strcmp(c[0], "latest")) {
		if (n > 1 || (i = newest_with(m, NULL)) < 0)
			return -ENOENT;
		w->kind = W_LINK;
		snprintf(w->link, sizeof w->link, "by-id/%s", m->id_names[i]);
		return 0;
	}
	if (!strcmp(c[0], "by-id") || !strcmp(c[0], "by-time")) {
		w->top = c[0][3] == 'i' ? TOP_ID : TOP_TIME;
		if (n == 1) {
			w->kind = W_TOP;
			return 0;
		}
		snap = w->top == TOP_ID ? snap_by_id_name(m, c[1]) : snap_by_time_name(m, c[1], NULL);
		return snap ? walk_snapshot(m, snap, c + 2, n - 2, w) : -ENOENT;
	}
	if (!strcmp(c[0], "by-label")) {
		w->top = TOP_LABEL;
		if (n == 1) {
			w->kind = W_TOP;
			return 0;
		}
		if (!label_known(m, c[1]))
			return -ENOENT;
		w->label = c[1];
		if (n == 2) {
			w->kind = W_LABEL;
			return 0;
		}
		if (!strcmp(c[2], "latest")) {
			if (n > 3)
				return -ENOENT;
			w->kind = W_LINK;
			snprintf(w->link, sizeof w->link, "%s", m->time_names[newest_with(m, c[1])]);
			return 0;
		}
		snap = snap_by_time_name(m, c[2], c[1]);
		return snap ? walk_snapshot(m, snap, c + 3, n - 3, w) : -ENOENT;
	}
	return -ENOENT;
}

/* ---- attributes ---- */

static void set_times(struct stat *st, int64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	st->st_mtim = st->st_atim = st->st_ctim = ts;
}

static void dir_stat(const Mount *m, int64_t time_ns, struct stat *st)
{
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	set_times(st, time_ns);
}

static void node_stat(const TreeNode *n, struct stat *st)
{
	mode_t type;

	switch (n->type) {
	case NODE_DIR:      type = S_IFDIR; break;
	case NODE_SYMLINK:  type = S_IFLNK; break;
	case NODE_FIFO:     type = S_IFIFO; break;
	case NODE_CHARDEV:  type = S_IFCHR; break;
	case NODE_BLOCKDEV: type = S_IFBLK; break;
	case NODE_SOCKET:   type = S_IFSOCK; break;
	default:            type = S_IFREG; break;
	}
	st->st_mode = type | (n->mode & 07777);
	st->st_nlink = n->type == NODE_DIR ? 2 : n->nlink ? n->nlink : 1;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = (dev_t)n->rdev;
	if (n->type != NODE_DIR) {
		st->st_size = (off_t)n->size;
		st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	}
	set_times(st, n->mtime_ns);
}

static int64_t newest_time(const Mount *m)
{
	return m->nsnaps ? m->snaps[m->nsnaps - 1].time_ns : 0;
}

/* ---- MountFsOps ---- */

static int fs_getattr(void *ctx, const char *path, struct stat *st)
{
	Mount *m = ctx;
	Where w;
	char *buf = strdup(path);
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = resolve(m, buf, &w)) != 0)
		goto out;
	switch (w.kind) {
	case W_ROOT:
	case W_TOP:
	case W_LABEL:
		dir_stat(m, newest_time(m), st);
		break;
	case W_LINK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_uid = m->uid;
		st->st_gid = m->gid;
		st->st_size = (off_t)strlen(w.link);
		set_times(st, newest_time(m));
		break;
	case W_SNAPROOT:
		dir_stat(m, w.snap->time_ns, st);
		break;
	case W_NODE:
		node_stat(w.node, st);
		break;
	}
out:
	free(buf);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct usable labels of every snapshot, sorted. */
static int list_labels(const Mount *m, MountFillFn fill, void *fill_ctx)
{
	const char **v;
	size_t n = 0, i, j;
	int rc = 0;

	for (i = 0; i < m->nsnaps; i++)
		n += m->snaps[i].nlabels;
	if (!(v = malloc((n ? n : 1) * sizeof *v)))
		return -ENOMEM;
	n = 0;
	for (i = 0; i < m->nsnaps; i++)
		for (j = 0; j < m->snaps[i].nlabels; j++)
			if (label_usable(m->snaps[i].labels[j]))
				v[n++] = m->snaps[i].labels[j];
	qsort(v, n, sizeof *v, cmp_str);
	for (i = 0; i < n && rc == 0; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]))
			rc = fill(fill_ctx, v[i], NULL);
	free(v);
	return 0;
}

static int fill_tree(Mount *m, const uint8_t id[STRATA_ID_LEN], MountFillFn fill, void *fill_ctx)
{
	const Tree *t;
	struct stat st;
	int rc;

	if ((rc = tree_get(m, id, &t)) != 0)
		return rc;
	for (size_t i = 0; i < t->n; i++) {
		memset(&st, 0, sizeof st);
		node_stat(&t->nodes[i], &st);
		if (fill(fill_ctx, t->nodes[i].name, &st))
			break;
	}
	return 0;
}

static int fs_readdir(void *ctx, const char *path, MountFillFn fill, void *fill_ctx)
{
	Mount *m = ctx;
	uint8_t id[STRATA_ID_LEN];
	Where w;
	char *buf = strdup(path);
	size_t i;
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = resolve(m, buf, &w)) != 0)
		goto out;
	switch (w.kind) {
	case W_ROOT:
		if (fill(fill_ctx, "by-id", NULL) || fill(fill_ctx, "by-time", NULL) ||
		    fill(fill_ctx, "by-label", NULL))
			break;
		if (m->nsnaps)
			fill(fill_ctx, "latest", NULL);
		break;
	case W_TOP:
		if (w.top == TOP_LABEL) {
			rc = list_labels(m, fill, fill_ctx);
			break;
		}
		for (i = 0; i < m->nsnaps; i++)
			if (fill(fill_ctx, w.top == TOP_ID ? m->id_names[i] : m->time_names[i], NULL))
				break;
		break;
	case W_LABEL:
		for (i = 0; i < m->nsnaps; i++)
			if (snap_has_label(&m->snaps[i], w.label) && fill(fill_ctx, m->time_names[i], NULL))
				goto out;
		fill(fill_ctx, "latest", NULL);
		break;
	case W_LINK:
		rc = -ENOTDIR;
		break;
	case W_SNAPROOT:
		rc = fill_tree(m, w.snap->tree, fill, fill_ctx);
		break;
	case W_NODE:
		if (w.node->type != NODE_DIR) {
			rc = -ENOTDIR;
			break;
		}
		memcpy(id, w.node->subtree, STRATA_ID_LEN);
		rc = fill_tree(m, id, fill, fill_ctx);
		break;
	}
out:
	free(buf);
	return rc;
}

static int fs_readlink(void *ctx, const char *path, char *out, size_t len)
{
	Mount *m = ctx;
	Where w;
	char *buf = strdup(path);
	const char *target = NULL;
	int rc;

	if (!buf)
		return -ENOMEM;
	if (len == 0)
		rc = -EINVAL;
	else if ((rc = resolve(m, buf, &w)) == 0) {
		if (w.kind == W_LINK)
			target = w.link;
		else if (w.kind == W_NODE && w.node->type == NODE_SYMLINK && w.node->link_target)
			target = w.node->link_target;
		else
			rc = -EINVAL;
	}
	if (target)
		snprintf(out, len, "%s", target);
	free(buf);
	return rc;
}

static void file_free(OpenFile *f)
{
	if (!f)
		return;
	free(f->chunks);
	free(f->starts);
	free(f->lens);
	free(f->path);
	free(f);
}

static int fs_open(void *ctx, const char *path, uint64_t *out_fh)
{
	Mount *m = ctx;
	OpenFile *f = NULL;
	const TreeNode *n;
	Where w;
	char *buf = strdup(path);
	uint64_t off = 0;
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = resolve(m, buf, &w)) != 0)
		goto out;
	if (w.kind != W_NODE || w.node->type != NODE_FILE) {
		rc = w.kind == W_NODE && w.node->type != NODE_DIR ? -EINVAL : -EISDIR;
		goto out;
	}
	n = w.node;
	if (!(f = calloc(1, sizeof *f)) || !(f->path = strdup(path)) ||
	    !(f->chunks = malloc((n->nchunks ? n->nchunks : 1) * sizeof *f->chunks)) ||
	    !(f->starts = malloc((n->nchunks ? n->nchunks : 1) * sizeof *f->starts)) ||
	    !(f->lens = malloc((n->nchunks ? n->nchunks : 1) * sizeof *f->lens))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n->nchunks; i++) {
		memcpy(f->chunks[i], n->chunks[i], STRATA_ID_LEN);
		f->lens[i] = n->chunk_lens[i];
		f->starts[i] = off;
		off += n->chunk_lens[i];
	}
	f->nchunks = n->nchunks;
	/* The chunks define the content; a size disagreeing with them is
	 * damage, shown as a short file rather than made-up bytes. */
	f->size = off;
	if (off != n->size)
		cli_warn("mount: %s: its chunks hold %llu bytes, its tree says %llu", path,
		         (unsigned long long)off, (unsigned long long)n->size);
	*out_fh = (uint64_t)(uintptr_t)f;
	f = NULL;
out:
	file_free(f);
	free(buf);
	return rc;
}

static int fs_read(void *ctx, uint64_t fh, char *buf, size_t len, off_t off)
{
	Mount *m = ctx;
	OpenFile *f = (OpenFile *)(uintptr_t)fh;
	const ChunkSlot *c;
	uint64_t pos = (uint64_t)off;
	size_t done = 0, lo = 0, hi;
	int rc;

	if (off < 0)
		return -EINVAL;
	if (len > INT32_MAX)
		len = INT32_MAX;   /* the byte count must fit the int returned */
	if (pos >= f->size || f->nchunks == 0)
		return 0;
	/* The last chunk starting at or before pos. */
	hi = f->nchunks;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->starts[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	for (size_t i = lo; i < f->nchunks && done < len; i++) {
		uint64_t in = pos - f->starts[i];
		size_t take;
		if (in >= f->lens[i])
			continue;   /* empty chunks, if a tree holds any */
		if ((rc = chunk_get(m, f->chunks[i], f->lens[i], f->path, &c)) != 0)
			return done ? (int)done : rc;
		take = (size_t)(f->lens[i] - in);
		if (take > len - done)
			take = len - done;
		memcpy(buf + done, c->data + in, take);
		done += take;
		pos += take;
	}
	return (int)done;
}

static void fs_release(void *ctx, uint64_t fh)
{
	(void)ctx;
	file_free((OpenFile *)(uintptr_t)fh);
}

static const MountFsOps mount_ops = {
	.getattr  = fs_getattr,
	.readdir  = fs_readdir,
	.readlink = fs_readlink,
	.open     = fs_open,
	.read     = fs_read,
	.release  = fs_release,
};

/* ---- the command ---- */

static int run(Cli *cli, int argc, char **argv)
{
	Args a;
	Mount m;
	StrataErr err = { 0, "" };
	struct stat st;
	const char *mp;
	int rc, first, exit_code = CLI_EXIT_OK;

	memset(&a, 0, sizeof a);
	memset(&m, 0, sizeof m);
	a.refresh_s = 30;
	if ((rc = cli_opts_parse(cli, argc, argv, "", longopts, on_opt, &a, &first)) != CLI_CONTINUE)
		return rc;
	if (first >= argc)
		return cli_usage(cli, "missing MOUNTPOINT");
	if (argc - first > 1)
		return cli_usage(cli, "unexpected argument %s", argv[first + 1]);
	mp = argv[first];
	if (!mount_fuse_available()) {
		rc = mount_fuse_run(mp, &a.fuse, &mount_ops, &m, &err);
		return cli_fail(cli, rc, &err);
	}
	if (stat(mp, &st) != 0)
		return cli_failf(cli, -errno, "mountpoint %s: %s", mp, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cli_failf(cli, -ENOTDIR, "mountpoint %s: not a directory", mp);

	m.cli = cli;
	m.uid = getuid();
	m.gid = getgid();
	m.refresh_ns = (int64_t)a.refresh_s * 1000000000;
	if ((rc = cli_repo_open(cli, &m.repo, &err)) || (rc = cli_lock(cli, m.repo, LOCK_SHARED, &err)))
		goto fail;
	if (!(m.codec = codec_ctx_new())) {
		exit_code = cli_failf(cli, -ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = snaps_load(&m, &err)) != 0)
		goto fail;
	if (!cli->quiet && !cli->json) {
		printf("serving %zu snapshots at %s (read-only); unmount with `fusermount3 -u %s` or Ctrl-C\n",
		       m.nsnaps, mp, mp);
		fflush(stdout);
	}
	if ((rc = mount_fuse_run(mp, &a.fuse, &mount_ops, &m, &err)) != 0)
		goto fail;
	if (cli->json && cli_json_print(json_pack("{s:s,s:I}", "mountpoint", mp,
	                                          "snapshots", (json_int_t)m.nsnaps), 0) < 0)
		exit_code = cli_failf(cli, -EIO, "cannot write to stdout");
	goto out;
fail:
	exit_code = cli_fail(cli, rc, &err);
out:
	caches_free(&m);
	snaps_free(&m);
	codec_ctx_free(m.codec);
	repo_close(m.repo);
	return exit_code;
}

const CliCommand cmd_mount = {
	.name = "mount",
	.summary = "Browse every snapshot as a read-only file system (FUSE).",
	.usage = "strata mount [--allow-other] [--refresh SECONDS] MOUNTPOINT",
	.help =
		"Mounts the repository at MOUNTPOINT (an existing directory) and serves it\n"
		"until unmounted (`fusermount3 -u MOUNTPOINT`) or interrupted (Ctrl-C,\n"
		"SIGTERM). Runs in the foreground; start it with & or from a service.\n"
		"\n"
		"  by-id/<short id>/                  each snapshot's files\n"
		"  by-time/<YYYY-MM-DDTHH:MM:SS>/     the same by local time (a second\n"
		"                                     snapshot in one second: _<short id>)\n"
		"  by-label/<key>=<value>/<time>/     snapshots with that label, e.g.\n"
		"                                     by-label/height=812345/\n"
		"  by-label/<key>=<value>/latest      -> the newest of them\n"
		"  latest                             -> by-id/<newest snapshot>\n"
		"\n"
		"Files keep their modes, owners and times, and read at any offset: only\n"
		"the chunks covering the bytes asked for are fetched and decrypted, so\n"
		"copying one file out (cp, dd skip=, rsync) needs no full restore.\n"
		"New snapshots appear when a top-level directory is looked at again.\n"
		"Holds a shared lock while mounted: prune waits until unmount.\n"
		"\n"
		"Options:\n"
		"      --allow-other       let other users in (modes and owners are then\n"
		"                          enforced; non-root users need user_allow_other\n"
		"                          in /etc/fuse.conf)\n"
		"      --refresh SECONDS   re-read the snapshot list at most this often\n"
		"                          (default 30; 0: on every look)\n"
		"\n"
		"Needs /dev/fuse and fusermount3 (Debian: fuse3). A strata built without\n"
		"libfuse3 says so and exits 4.\n"
		"\n"
		"Examples:\n"
		"  mkdir -p /mnt/strata && strata mount /mnt/strata &\n"
		"  ls /mnt/strata/by-label/height=812345/\n"
		"  cp /mnt/strata/latest/var/lib/node/config.toml /tmp/\n"
		"  dd if=/mnt/strata/by-id/3fa1c2d4/data/chain.db bs=4096 skip=1000 count=1\n"
		"  fusermount3 -u /mnt/strata\n",
	.run = run,
};
