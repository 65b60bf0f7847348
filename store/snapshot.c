/* snapshot.c — snapshot files, see snapshot.h. FORMAT.md "Snapshot file". */
#include "store/snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/format.h"
#include "store/repo_internal.h"
#include "store/snapcat.h"

void strata_id_hex(const uint8_t id[STRATA_ID_LEN], char out[STRATA_ID_HEX_LEN + 1])
{
	codec_hex(id, STRATA_ID_LEN, out);
}

int strata_id_parse(const char *hex, uint8_t out[STRATA_ID_LEN])
{
	return codec_unhex(hex, out, STRATA_ID_LEN);
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void partial_paths_free(SnapshotPartialPath *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].reason);
		free(v[i].detail);
	}
	free(v);
}

void snapshot_clear(Snapshot *snap)
{
	if (!snap)
		return;
	partial_paths_free(snap->partial_paths, snap->npartial_paths);
	free(snap->host);
	free(snap->user);
	free(snap->hold_reason);
	for (size_t i = 0; i < snap->nusers; i++)
		free(snap->users[i].name);
	for (size_t i = 0; i < snap->ngroups; i++)
		free(snap->groups[i].name);
	free(snap->users);
	free(snap->groups);
	free_strv(snap->paths, snap->npaths);
	free_strv(snap->tags, snap->ntags);
	free_strv(snap->labels, snap->nlabels);
	memset(snap, 0, sizeof *snap);
}

void snapshot_list_free(Snapshot *snaps, size_t n)
{
	if (!snaps)
		return;
	for (size_t i = 0; i < n; i++)
		snapshot_clear(&snaps[i]);
	free(snaps);
}

const char *snapshot_label(const Snapshot *snap, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < snap->nlabels; i++)
		if (strncmp(snap->labels[i], key, kl) == 0 && snap->labels[i][kl] == '=')
			return snap->labels[i] + kl + 1;
	return NULL;
}

/* A string as JSON (FORMAT.md "Snapshot file"): a JSON string when it is
 * valid UTF-8, else {"b64": base64 of its bytes} — file names are bytes. */
static json_t *str_json(const char *s)
{
	json_t *j = json_string(s);
	char *b64;

	if (j)
		return j;
	b64 = codec_b64((const uint8_t *)s, strlen(s));
	j = b64 ? json_pack("{s:s}", "b64", b64) : NULL;
	free(b64);
	return j;
}

/* The inverse of str_json: a malloc'ed NUL-terminated string, or NULL
 * (malformed, or bytes containing NUL). */
static char *json_str(json_t *j)
{
	const char *b64;
	uint8_t *buf;
	size_t len = 0, max;

	if (json_is_string(j))
		return strdup(json_string_value(j));
	if (!json_is_object(j) || json_unpack(j, "{s:s}", "b64", &b64) != 0)
		return NULL;
	max = strlen(b64) / 4 * 3 + 3;
	buf = malloc(max + 1);
	if (!buf)
		return NULL;
	if (codec_unb64(b64, buf, max, &len) != 0 || memchr(buf, '\0', len)) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return (char *)buf;
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, str_json(v[i])) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int json_strv(json_t *a, char ***out, size_t *out_n)
{
	size_t n, i;
	char **v;

	*out = NULL;
	*out_n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a))
		return STRATA_EFORMAT;
	n = json_array_size(a);
	v = calloc(n ? n : 1, sizeof *v);
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!(v[i] = json_str(json_array_get(a, i)))) {
			free_strv(v, i);
			return STRATA_EFORMAT;
		}
	}
	*out = v;
	*out_n = n;
	return 0;
}

static json_t *summary_json(const SnapshotSummary *s)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
	                 "files", (json_int_t)s->files, "dirs", (json_int_t)s->dirs,
	                 "files_new", (json_int_t)s->files_new, "files_changed", (json_int_t)s->files_changed,
	                 "files_unchanged", (json_int_t)s->files_unchanged,
	                 "bytes_total", (json_int_t)s->bytes_total, "bytes_read", (json_int_t)s->bytes_read,
	                 "bytes_added", (json_int_t)s->bytes_added, "bytes_stored", (json_int_t)s->bytes_stored,
	                 "chunks_new", (json_int_t)s->chunks_new, "tree_bytes_added", (json_int_t)s->tree_bytes_added,
	                 "errors", (json_int_t)s->errors, "duration_s", s->duration_s);
}

static void summary_from(json_t *o, SnapshotSummary *s)
{
	json_int_t v[12] = {0};
	double d = 0;

	if (!o)
		return;
	json_unpack(o, "{s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?I, s?F}",
	            "files", &v[0], "dirs", &v[1], "files_new", &v[2], "files_changed", &v[3],
	            "files_unchanged", &v[4], "bytes_total", &v[5], "bytes_read", &v[6],
	            "bytes_added", &v[7], "bytes_stored", &v[8], "chunks_new", &v[9],
	            "tree_bytes_added", &v[10], "errors", &v[11], "duration_s", &d);
	s->files = (uint64_t)v[0]; s->dirs = (uint64_t)v[1]; s->files_new = (uint64_t)v[2];
	s->files_changed = (uint64_t)v[3]; s->files_unchanged = (uint64_t)v[4];
	s->bytes_total = (uint64_t)v[5]; s->bytes_read = (uint64_t)v[6]; s->bytes_added = (uint64_t)v[7];
	s->bytes_stored = (uint64_t)v[8]; s->chunks_new = (uint64_t)v[9];
	s->tree_bytes_added = (uint64_t)v[10]; s->errors = (uint64_t)v[11]; s->duration_s = d;
}

/* FORMAT.md §12 "partial_paths": [{"path", "reason", "detail"}, ...]. */
static json_t *partial_json(const Snapshot *snap)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < snap->npartial_paths; i++) {
		const SnapshotPartialPath *p = &snap->partial_paths[i];
		json_t *e = json_pack("{s:o, s:o, s:o}", "path", str_json(p->path),
		                      "reason", str_json(p->reason ? p->reason : ""),
		                      "detail", str_json(p->detail ? p->detail : ""));
		if (json_array_append_new(a, e) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The inverse of partial_json into snap. 0 or STRATA_EFORMAT / -ENOMEM. */
static int json_partial(json_t *a, Snapshot *snap)
{
	size_t n;

	if (!json_is_array(a))
		return STRATA_EFORMAT;
	n = json_array_size(a);
	snap->partial_paths = calloc(n ? n : 1, sizeof *snap->partial_paths);
	if (!snap->partial_paths)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		SnapshotPartialPath *p = &snap->partial_paths[i];
		json_t *path = NULL, *reason = NULL, *detail = NULL;
		if (json_unpack(json_array_get(a, i), "{s:o, s:o, s?o}", "path", &path, "reason", &reason,
		                "detail", &detail) != 0)
			return STRATA_EFORMAT;
		snap->npartial_paths = i + 1;
		p->path = json_str(path);
		p->reason = json_str(reason);
		p->detail = detail ? json_str(detail) : strdup("");
		if (!p->path || !p->reason || !p->detail)
			return STRATA_EFORMAT;
	}
	return 0;
}

/* §12 "owners": {"users": {"ID": NAME, ...}, "groups": {...}}, only the
 * IDs that have a name. */
static json_t *owners_json(const SnapshotOwner *v, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++) {
		char key[16];
		if (!v[i].name)
			continue;
		snprintf(key, sizeof key, "%u", (unsigned)v[i].id);
		if (json_object_set_new(o, key, str_json(v[i].name)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int json_owners(json_t *o, SnapshotOwner **out, size_t *out_n)
{
	const char *key;
	json_t *val;
	size_t n = 0;

	if (!json_is_object(o) || json_object_size(o) > SNAPSHOT_OWNERS_MAX)
		return STRATA_EFORMAT;
	*out = calloc(json_object_size(o) ? json_object_size(o) : 1, sizeof **out);
	if (!*out)
		return -ENOMEM;
	json_object_foreach(o, key, val) {
		char *end;
		unsigned long long id;
		if (!*key || strspn(key, "0123456789") != strlen(key) || strlen(key) > 10)
			return STRATA_EFORMAT;
		id = strtoull(key, &end, 10);
		if (id > UINT32_MAX || !((*out)[n].name = json_str(val)))
			return STRATA_EFORMAT;
		(*out)[n++].id = (uint32_t)id;
		*out_n = n;
	}
	return 0;
}

int snapshot_save(Repo *repo, Snapshot *snap, StrataErr *err)
{
	char tree[STRATA_ID_HEX_LEN + 1], parent[STRATA_ID_HEX_LEN + 1];
	uint32_t version = snap->partial ? FORMAT_VERSION_SNAPSHOT_PARTIAL : FORMAT_VERSION_SNAPSHOT_COMPLETE;
	json_t *o;
	char *text;
	int rc;

	codec_hex(snap->tree, STRATA_ID_LEN, tree);
	o = json_pack("{s:i, s:I, s:o, s:o, s:o, s:o, s:o, s:s, s:o}",
	              "version", (int)version, "time_ns", (json_int_t)snap->time_ns,
	              "host", str_json(snap->host ? snap->host : ""), "user", str_json(snap->user ? snap->user : ""),
	              "paths", strv_json(snap->paths, snap->npaths), "tags", strv_json(snap->tags, snap->ntags),
	              "labels", strv_json(snap->labels, snap->nlabels), "tree", tree,
	              "summary", summary_json(&snap->summary));
	if (o && snap->has_parent) {
		codec_hex(snap->parent, STRATA_ID_LEN, parent);
		json_object_set_new(o, "parent", json_string(parent));
	}
	if (o && (snap->nusers || snap->ngroups)) {
		json_t *ow = json_pack("{s:o, s:o}", "users", owners_json(snap->users, snap->nusers),
		                       "groups", owners_json(snap->groups, snap->ngroups));
		if (!ow || json_object_set_new(o, "owners", ow) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o && snap->has_original) {
		char orig[STRATA_ID_HEX_LEN + 1];
		codec_hex(snap->original, STRATA_ID_LEN, orig);
		if (json_object_set_new(o, "original", json_string(orig)) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o && snap->held) {
		json_t *h = json_pack("{s:o, s:I}", "reason", str_json(snap->hold_reason ? snap->hold_reason : ""),
		                      "time_ns", (json_int_t)snap->hold_time_ns);
		if (h && snap->hold_until_ns && json_object_set_new(h, "until_ns", json_integer(snap->hold_until_ns)) != 0) {
			json_decref(h);
			h = NULL;
		}
		if (!h || json_object_set_new(o, "hold", h) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o && snap->partial) {
		json_t *pp = partial_json(snap);
		uint64_t count = snap->partial_count > snap->npartial_paths ? snap->partial_count : snap->npartial_paths;
		if (!pp || json_object_set_new(o, "partial", json_true()) != 0 ||
		    json_object_set_new(o, "partial_count", json_integer((json_int_t)count)) != 0 ||
		    json_object_set_new(o, "partial_paths", pp) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!text)
		return strata_err_set(err, -ENOMEM, "out of memory encoding a snapshot");
	rc = repo_write_named(repo, "snapshots", "a snapshot file", OBJSIZE_SNAPSHOT_MAX, FORMAT_MAGIC_SNAPSHOT,
	                      version, text, strlen(text), snap->id, err);
	if (rc == 0)
		snapcat_note_saved(repo, snap->id, snap->time_ns, (const uint8_t *)text, strlen(text));
	free(text);
	return rc;
}

int snapshot_decode(const uint8_t id[STRATA_ID_LEN], const uint8_t *buf, size_t len, Snapshot *out, StrataErr *err)
{
	json_error_t jerr;
	json_t *o = json_loadb((const char *)buf, len, 0, &jerr);
	json_int_t version = 0, time_ns = 0;
	const char *tree = NULL, *parent = NULL;
	json_t *host = NULL, *user = NULL, *paths = NULL, *tags = NULL, *labels = NULL, *summary = NULL;
	json_t *partial = NULL, *partial_count = NULL, *partial_paths = NULL, *hold = NULL, *owners = NULL;
	const char *original = NULL;
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc = STRATA_EFORMAT;

	codec_hex(id, STRATA_ID_LEN, hex);
	memset(out, 0, sizeof *out);
	if (!o || json_unpack(o, "{s:I, s:I, s:o, s:o, s:o, s?o, s?o, s:s, s?s, s?o}",
	                      "version", &version, "time_ns", &time_ns, "host", &host, "user", &user,
	                      "paths", &paths, "tags", &tags, "labels", &labels, "tree", &tree,
	                      "parent", &parent, "summary", &summary) != 0)
		goto out;
	if (version > FORMAT_VERSION_SNAPSHOT_MAX) {
		rc = STRATA_EVERSION;
		goto out;
	}
	if (json_unpack(o, "{s?o, s?o, s?o, s?o, s?s, s?o}", "partial", &partial, "partial_count", &partial_count,
	                "partial_paths", &partial_paths, "hold", &hold, "original", &original, "owners", &owners) != 0)
		goto out;
	memcpy(out->id, id, STRATA_ID_LEN);
	out->time_ns = time_ns;
	out->host = json_str(host);
	out->user = json_str(user);
	if (!out->host || !out->user)
		goto out;
	if ((rc = json_strv(paths, &out->paths, &out->npaths)) != 0 ||
	    (rc = json_strv(tags, &out->tags, &out->ntags)) != 0 ||
	    (rc = json_strv(labels, &out->labels, &out->nlabels)) != 0)
		goto out;
	rc = STRATA_EFORMAT;
	if (codec_unhex(tree, out->tree, STRATA_ID_LEN) != 0)
		goto out;
	if (parent) {
		if (codec_unhex(parent, out->parent, STRATA_ID_LEN) != 0)
			goto out;
		out->has_parent = 1;
	}
	summary_from(summary, &out->summary);
	if (original) {
		if (codec_unhex(original, out->original, STRATA_ID_LEN) != 0)
			goto out;
		out->has_original = 1;
	}
	if (owners) {
		json_t *u = json_object_get(owners, "users"), *g = json_object_get(owners, "groups");
		if (!json_is_object(owners) || (u && (rc = json_owners(u, &out->users, &out->nusers)) != 0) ||
		    (g && (rc = json_owners(g, &out->groups, &out->ngroups)) != 0)) {
			rc = rc == -ENOMEM ? rc : STRATA_EFORMAT;
			goto out;
		}
		rc = STRATA_EFORMAT;
	}
	if (hold) {
		/* §12 "hold": an object with reason and time_ns, until_ns optional. */
		json_t *reason = NULL;
		json_int_t ht = 0, until = 0;
		if (json_unpack(hold, "{s:o, s:I, s?I}", "reason", &reason, "time_ns", &ht, "until_ns", &until) != 0 ||
		    until < 0 || !(out->hold_reason = json_str(reason)))
			goto out;
		out->held = 1;
		out->hold_time_ns = ht;
		out->hold_until_ns = until;
	}
	/* Partial (§12): "partial" true, whatever the version says, so that a
	 * snapshot is never taken for complete when it claims otherwise. */
	if (partial && !json_is_boolean(partial))
		goto out;
	if (json_is_true(partial)) {
		out->partial = 1;
		if (!partial_paths || !json_is_integer(partial_count) || json_integer_value(partial_count) < 0)
			goto out;
		if ((rc = json_partial(partial_paths, out)) != 0)
			goto out;
		rc = STRATA_EFORMAT;
		out->partial_count = (uint64_t)json_integer_value(partial_count);
		if (out->partial_count < out->npartial_paths)
			goto out;
	}
	rc = 0;
out:
	json_decref(o);
	if (rc) {
		snapshot_clear(out);
		return strata_err_set(err, rc, "snapshot %.8s: %s", hex,
		                      rc == STRATA_EVERSION ? "written by a newer strata; upgrade strata" :
		                      "content is malformed");
	}
	return 0;
}

int snapshot_save_plain(Repo *repo, uint32_t version, const char *text, size_t len,
                        uint8_t out_id[STRATA_ID_LEN], StrataErr *err)
{
	int64_t time_ns;
	json_t *o;
	int rc;

	if (version < FORMAT_VERSION_SNAPSHOT_COMPLETE || version > FORMAT_VERSION_SNAPSHOT_MAX)
		return strata_err_set(err, STRATA_EVERSION, "a snapshot of version %u cannot be written", version);
	o = json_loadb(text, len, 0, NULL);
	time_ns = o ? (int64_t)json_integer_value(json_object_get(o, "time_ns")) : 0;
	json_decref(o);
	rc = repo_write_named(repo, "snapshots", "a snapshot file", OBJSIZE_SNAPSHOT_MAX, FORMAT_MAGIC_SNAPSHOT, version,
	                      text, len, out_id, err);
	if (rc == 0)
		snapcat_note_saved(repo, out_id, time_ns, (const uint8_t *)text, len);
	return rc;
}

int snapshot_read_plain(Repo *repo, const uint8_t id[STRATA_ID_LEN], uint8_t **out, size_t *out_len,
                        StrataErr *err)
{
	return repo_read_named(repo, "snapshots", "a snapshot file", OBJSIZE_SNAPSHOT_MAX, id, FORMAT_MAGIC_SNAPSHOT,
	                       FORMAT_VERSION_SNAPSHOT_MAX, out, out_len, err);
}

int snapshot_load(Repo *repo, const uint8_t id[STRATA_ID_LEN], Snapshot *out, StrataErr *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = repo_read_named(repo, "snapshots", "a snapshot file", OBJSIZE_SNAPSHOT_MAX, id, FORMAT_MAGIC_SNAPSHOT,
	                     FORMAT_VERSION_SNAPSHOT_MAX, &buf, &len, err);
	if (rc)
		return rc;
	rc = snapshot_decode(id, buf, len, out, err);
	free(buf);
	return rc;
}

struct collect {
	Snapshot *snaps;
	size_t n, cap;
	size_t max;                      /* 0 = no limit */
	const SnapshotFilter *f;
};

static int has_str(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

const char *snapshot_owner_name(const SnapshotOwner *v, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return v[i].name;
	return NULL;
}

void snapshot_owner_note(SnapshotOwner **v, size_t *n, uint32_t id, char *(*lookup)(uint32_t id))
{
	SnapshotOwner *q;

	/* Newest first: the IDs of a tree come in runs. */
	for (size_t i = *n; i > 0; i--)
		if ((*v)[i - 1].id == id)
			return;
	if (*n >= SNAPSHOT_OWNERS_MAX || !(q = realloc(*v, (*n + 1) * sizeof *q)))
		return;
	*v = q;
	q[*n].id = id;
	q[*n].name = lookup(id);
	(*n)++;
}

int snapshot_held(const Snapshot *snap, int64_t now_ns)
{
	return snap->held && (snap->hold_until_ns == 0 || snap->hold_until_ns > now_ns);
}

int snapshot_selectable(const Snapshot *snap, int include_partial)
{
	return include_partial || !snap->partial;
}

int snapshot_matches(const Snapshot *snap, const SnapshotFilter *f)
{
	if (!f)
		return 1;
	if (!snapshot_selectable(snap, f->include_partial))
		return 0;
	if (f->host && strcmp(snap->host, f->host) != 0)
		return 0;
	for (size_t i = 0; i < f->ntags; i++)
		if (!has_str(snap->tags, snap->ntags, f->tags[i]))
			return 0;
	if (f->npaths) {
		/* The same set of paths, in any order. */
		if (f->npaths != snap->npaths)
			return 0;
		for (size_t i = 0; i < f->npaths; i++)
			if (!has_str(snap->paths, snap->npaths, f->paths[i]))
				return 0;
	}
	return f->match ? f->match(snap, f->match_ctx) : 1;
}

static int collect_one(const Snapshot *snap, void *ctx)
{
	struct collect *c = ctx;
	Snapshot *copy;

	if (!snapshot_matches(snap, c->f))
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		void *p = realloc(c->snaps, cap * sizeof *c->snaps);
		if (!p)
			return -ENOMEM;
		c->snaps = p;
		c->cap = cap;
	}
	/* The walk frees its snapshot after the call: take the fields over. */
	copy = &c->snaps[c->n++];
	*copy = *snap;
	memset((Snapshot *)(uintptr_t)snap, 0, sizeof *snap);
	return c->max && c->n >= c->max ? 1 : 0;
}

static int collect(Repo *repo, int newest_first, int64_t max_time_ns, const SnapshotFilter *f, size_t max,
                   Snapshot **out, size_t *out_n, StrataErr *err)
{
	struct collect c = {NULL, 0, 0, max, f};
	int rc = snapcat_foreach_until(repo, newest_first, max_time_ns, collect_one, &c, err);

	if (rc < 0) {
		if (rc == -ENOMEM)
			strata_err_set(err, rc, "out of memory");
		snapshot_list_free(c.snaps, c.n);
		return rc;
	}
	*out = c.snaps ? c.snaps : calloc(1, sizeof *c.snaps);
	*out_n = c.n;
	if (!*out)
		return strata_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

int snapshot_list(Repo *repo, Snapshot **out, size_t *out_n, StrataErr *err)
{
	return collect(repo, 0, INT64_MAX, NULL, 0, out, out_n, err);
}

int snapshot_latest(Repo *repo, const SnapshotFilter *f, size_t max, Snapshot **out, size_t *out_n,
                    StrataErr *err)
{
	return collect(repo, 1, INT64_MAX, f, max, out, out_n, err);
}

int snapshot_latest_before(Repo *repo, const SnapshotFilter *f, int64_t max_time_ns, size_t max,
                           Snapshot **out, size_t *out_n, StrataErr *err)
{
	return collect(repo, 1, max_time_ns, f, max, out, out_n, err);
}

int snapshot_resolve(Repo *repo, const char *ref, int include_partial, Snapshot *out, StrataErr *err)
{
	uint8_t id[STRATA_ID_LEN];
	int rc;

	if (strcmp(ref, "latest") == 0) {
		SnapshotFilter f = {0};
		Snapshot *one = NULL;
		size_t n = 0, npartial = 0;
		f.include_partial = include_partial;
		rc = snapshot_latest(repo, &f, 1, &one, &n, err);
		if (rc == 0 && n == 0) {
			snapshot_list_free(one, n);
			one = NULL;
			f.include_partial = 1;
			rc = snapshot_latest(repo, &f, 0, &one, &npartial, err);
			if (rc == 0 && npartial)
				rc = strata_err_set(err, STRATA_ENOTFOUND, "no complete snapshot found: the repository holds only "
				                    "%zu partial snapshot%s (some files vanished, were unreadable or changed while "
				                    "read); --include-partial lets latest pick one", npartial, npartial == 1 ? "" : "s");
			else if (rc == 0)
				rc = strata_err_set(err, STRATA_ENOTFOUND, "no snapshot found: the repository has no snapshots yet");
		}
		if (rc) {
			snapshot_list_free(one, n ? n : npartial);
			return rc;
		}
		*out = one[0];
		free(one);
		return 0;
	}
	rc = repo_resolve_prefix(repo, "snapshots/", "snapshot", ref, id, err);
	if (rc)
		return rc;
	return snapshot_load(repo, id, out, err);
}

int snapshot_find(Repo *repo, const char *ref, Snapshot *out, StrataErr *err)
{
	return snapshot_resolve(repo, ref, 0, out, err);
}

int snapshot_delete(Repo *repo, const uint8_t id[STRATA_ID_LEN], StrataErr *err)
{
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	RemoteErr rerr = {{0}};
	int rc;

	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(name, sizeof name, "snapshots/%s", hex);
	rc = backend_delete(repo->be, name, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	snapcat_note_deleted(repo, id);
	return 0;
}
