/* cli_json.c — see cli_json.h. */
#include "store/snapshot.h"
#include "tools/cli/cli_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli/cli_fmt.h"

/* s with each byte that is not part of valid UTF-8 replaced by U+FFFD;
 * *out_lossy tells whether anything was replaced. malloc'ed. */
static char *utf8_lossy(const char *s, int *out_lossy)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k, o = 0;
	char *out = malloc(3 * n + 1);   /* worst case: every byte → 3-byte U+FFFD */

	*out_lossy = 0;
	if (!out)
		return NULL;
	while (n > 0) {
		k = cli_fmt_utf8_seq(p, n);
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
			*out_lossy = 1;
		} else {
			memcpy(out + o, p, k);
			o += k;
		}
		p += k;
		n -= k;
	}
	out[o] = '\0';
	return out;
}

json_t *cli_json_str(const char *s)
{
	json_t *v;
	char *fixed;
	int lossy;

	if (!s)
		return json_null();
	v = json_string(s);
	if (v)
		return v;
	if (!(fixed = utf8_lossy(s, &lossy)))
		return NULL;
	v = json_string(fixed);
	free(fixed);
	return v;
}

static json_t *hex_of(const uint8_t *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *s = malloc(2 * n + 1);
	json_t *v;
	size_t i;

	if (!s)
		return NULL;
	for (i = 0; i < n; i++) {
		s[2 * i] = hex[b[i] >> 4];
		s[2 * i + 1] = hex[b[i] & 15];
	}
	s[2 * n] = '\0';
	v = json_string(s);
	free(s);
	return v;
}

int cli_json_set_name(json_t *obj, const char *key, const char *s)
{
	char hexkey[64];
	char *fixed;
	int lossy;

	if (!(fixed = utf8_lossy(s, &lossy)))
		return -ENOMEM;
	if (json_object_set_new(obj, key, json_string(fixed)) < 0) {
		free(fixed);
		return -ENOMEM;
	}
	free(fixed);
	if (lossy) {
		snprintf(hexkey, sizeof hexkey, "%s_hex", key);
		if (json_object_set_new(obj, hexkey, hex_of((const uint8_t *)s, strlen(s))) < 0)
			return -ENOMEM;
	}
	return 0;
}

json_t *cli_json_id(const uint8_t id[STRATA_ID_LEN])
{
	return hex_of(id, STRATA_ID_LEN);
}

json_t *cli_json_time(int64_t time_ns)
{
	char buf[CLI_FMT_TIME_LEN];
	return json_string(cli_fmt_time_rfc3339(time_ns, buf));
}

json_t *cli_json_summary(const SnapshotSummary *s)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}",
		"files",            (json_int_t)s->files,
		"dirs",             (json_int_t)s->dirs,
		"files_new",        (json_int_t)s->files_new,
		"files_changed",    (json_int_t)s->files_changed,
		"files_unchanged",  (json_int_t)s->files_unchanged,
		"bytes_total",      (json_int_t)s->bytes_total,
		"bytes_read",       (json_int_t)s->bytes_read,
		"bytes_added",      (json_int_t)s->bytes_added,
		"bytes_stored",     (json_int_t)s->bytes_stored,
		"chunks_new",       (json_int_t)s->chunks_new,
		"tree_bytes_added", (json_int_t)s->tree_bytes_added,
		"errors",           (json_int_t)s->errors,
		"duration_s",       s->duration_s);
}

static json_t *str_array(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	if (!a)
		return NULL;
	for (i = 0; i < n; i++)
		if (json_array_append_new(a, cli_json_str(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* "k=v" labels as an object; a label without '=' maps to "". */
static json_t *label_object(char *const *labels, size_t n)
{
	json_t *o = json_object();
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(labels[i], '=');
		char *key = eq ? strndup(labels[i], (size_t)(eq - labels[i])) : strdup(labels[i]);
		char *fixed;
		int lossy, rc;

		if (!key)
			goto fail;
		fixed = utf8_lossy(key, &lossy);
		free(key);
		if (!fixed)
			goto fail;
		rc = json_object_set_new(o, fixed, cli_json_str(eq ? eq + 1 : ""));
		free(fixed);
		if (rc < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

int cli_json_set_partial(json_t *obj, int partial, uint64_t count, const SnapshotPartialPath *paths, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		json_t *e = json_pack("{s:o,s:o}", "reason", cli_json_str(paths[i].reason),
		                      "detail", cli_json_str(paths[i].detail));
		if (!e || cli_json_set_name(e, "path", paths[i].path) < 0) {
			json_decref(e);
			json_decref(a);
			a = NULL;
		} else if (json_array_append_new(a, e) < 0) {   /* e is dropped */
			json_decref(a);
			a = NULL;
		}
	}
	if (!a)
		return -ENOMEM;
	if (json_object_set_new(obj, "partial", json_boolean(partial)) < 0 ||
	    json_object_set_new(obj, "partial_count", json_integer((json_int_t)count)) < 0) {
		json_decref(a);
		return -ENOMEM;
	}
	return json_object_set_new(obj, "partial_paths", a) < 0 ? -ENOMEM : 0;
}

json_t *cli_json_snapshot(const Snapshot *snap)
{
	char short_id[CLI_FMT_SHORT_ID_LEN];
	json_t *o;

	o = json_pack("{s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
		"id",       cli_json_id(snap->id),
		"short_id", cli_fmt_short_id(snap->id, short_id),
		"time",     cli_json_time(snap->time_ns),
		"host",     cli_json_str(snap->host),
		"user",     cli_json_str(snap->user),
		"paths",    str_array(snap->paths, snap->npaths),
		"tags",     str_array(snap->tags, snap->ntags),
		"labels",   label_object(snap->labels, snap->nlabels),
		"tree",     cli_json_id(snap->tree),
		"parent",   snap->has_parent ? cli_json_id(snap->parent) : json_null(),
		"summary",  cli_json_summary(&snap->summary));
	if (o && cli_json_set_partial(o, snap->partial, snap->partial_count, snap->partial_paths,
	                              snap->npartial_paths) < 0) {
		json_decref(o);
		o = NULL;
	}
	/* A hold and the first ID of a tagged snapshot (FORMAT.md §12),
	 * present only when set, like "partial". */
	if (o && snap->held &&
	    json_object_set_new(o, "hold", json_pack("{s:o,s:o,s:o}", "reason", cli_json_str(snap->hold_reason),
	                                             "time", cli_json_time(snap->hold_time_ns),
	                                             "until", snap->hold_until_ns ? cli_json_time(snap->hold_until_ns)
	                                                                          : json_null())) != 0) {
		json_decref(o);
		o = NULL;
	}
	if (o && (snap->nusers || snap->ngroups)) {
		json_t *ow = json_pack("{s:o,s:o}", "users", json_object(), "groups", json_object());
		char key[16];
		for (size_t i = 0; ow && i < snap->nusers + snap->ngroups; i++) {
			const SnapshotOwner *x = i < snap->nusers ? &snap->users[i] : &snap->groups[i - snap->nusers];
			if (!x->name)
				continue;
			snprintf(key, sizeof key, "%u", (unsigned)x->id);
			if (json_object_set_new(json_object_get(ow, i < snap->nusers ? "users" : "groups"), key,
			                        cli_json_str(x->name)) != 0) {
				json_decref(ow);
				ow = NULL;
			}
		}
		if (!ow || json_object_set_new(o, "owners", ow) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	if (o && snap->has_original && json_object_set_new(o, "original", cli_json_id(snap->original)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

json_t *cli_json_node(const char *path, const TreeNode *node)
{
	char mode[11];
	json_t *o;

	o = json_pack("{s:s,s:i,s:s,s:I,s:o,s:I,s:I,s:I}",
		"type",        cli_fmt_type_name(node->type),
		"mode",        (int)(node->mode & 07777),
		"mode_string", cli_fmt_mode(node->type, node->mode, mode),
		"size",        (json_int_t)node->size,
		"mtime",       cli_json_time(node->mtime_ns),
		"uid",         (json_int_t)node->uid,
		"gid",         (json_int_t)node->gid,
		"nlink",       (json_int_t)node->nlink);
	if (!o)
		return NULL;
	if (cli_json_set_name(o, "path", path) < 0 ||
	    (node->type == NODE_SYMLINK && node->link_target &&
	     cli_json_set_name(o, "link_target", node->link_target) < 0) ||
	    (node->type == NODE_FILE &&
	     json_object_set_new(o, "chunks", json_integer((json_int_t)node->nchunks)) < 0)) {
		json_decref(o);
		return NULL;
	}
	if (node->type == NODE_DIR) {
		/* Equal subtree IDs mean identical directory contents. */
		char hex[STRATA_ID_HEX_LEN + 1];
		strata_id_hex(node->subtree, hex);
		if (json_object_set_new(o, "subtree", json_string(hex)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int cli_json_print(json_t *v, int compact)
{
	int rc;

	if (!v)
		return -ENOMEM;
	rc = json_dumpf(v, stdout, compact ? JSON_COMPACT : JSON_INDENT(2));
	json_decref(v);
	if (rc < 0 || fputc('\n', stdout) == EOF)
		return -EIO;
	return 0;
}

int cli_json_set_requests(json_t *obj, const char *key, Repo *repo)
{
	BackendStats bs;
	json_t *o;

	repo_backend_stats(repo, &bs);
	o = json_pack("{s:I,s:I,s:I,s:I}", "requests", (json_int_t)bs.requests, "retries", (json_int_t)bs.retries,
	              "bytes_sent", (json_int_t)bs.bytes_sent, "bytes_received", (json_int_t)bs.bytes_received);
	if (!o || json_object_set_new(obj, key, o) < 0)
		return -ENOMEM;
	return 0;
}
