/* replica_settings.c — see replica_settings.h. FORMAT.md §12c. */
#include "store/replica/replica_settings.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remote/backend.h"
#include "remote/objsize.h"
#include "store/codec.h"
#include "store/format.h"
#include "store/repo_internal.h"

#define SETTINGS_DIR "replica"
#define SETTINGS_VERSION 1
#define SETTINGS_MAX ((size_t)64 << 10)   /* a few hundred bytes in practice */

static const char *const keep_names[] = {
	"keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"
};

static int *keep_field(ReplicaSettings *s, size_t i)
{
	int *f[] = { &s->keep_last, &s->keep_hourly, &s->keep_daily, &s->keep_weekly, &s->keep_monthly,
	             &s->keep_yearly };
	return f[i];
}

char *replica_settings_json(const ReplicaSettings *s)
{
	json_t *o = json_object(), *sel = NULL, *tags;
	ReplicaSettings *m = (ReplicaSettings *)(uintptr_t)s;   /* read only */
	char *out = NULL;

	if (!o)
		return NULL;
	json_object_set_new(o, "version", json_integer(SETTINGS_VERSION));
	json_object_set_new(o, "time_ns", json_integer(s->time_ns));
	json_object_set_new(o, "storage_class", json_string(s->storage_class));
	json_object_set_new(o, "min_age_data_s", json_integer(s->min_age_data_s));
	json_object_set_new(o, "min_age_tree_s", json_integer(s->min_age_tree_s));
	json_object_set_new(o, "force_early_delete", json_boolean(s->force_early_delete));
	if (s->selective) {
		sel = json_object();
		tags = json_array();
		if (!sel || !tags)
			goto out;
		json_object_set_new(sel, "host", s->host[0] ? json_string(s->host) : json_null());
		for (size_t i = 0; i < s->ntags; i++)
			json_array_append_new(tags, json_string(s->tags[i]));
		json_object_set_new(sel, "tags", tags);
		for (size_t i = 0; i < sizeof keep_names / sizeof keep_names[0]; i++)
			json_object_set_new(sel, keep_names[i], json_integer(*keep_field(m, i)));
		json_object_set_new(sel, "keep_within", json_string(s->keep_within));
	}
	json_object_set_new(o, "selection", sel ? sel : json_null());
	out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
out:
	json_decref(o);
	return out;
}

static int copy_str(char *dst, size_t cap, json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) >= cap)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* parse — the JSON of a settings file (untrusted bytes). */
static int parse(const uint8_t *buf, size_t len, ReplicaSettings *out)
{
	json_error_t jerr;
	json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr), *sel, *tags;
	ReplicaSettings s;
	int rc = STRATA_EFORMAT;

	memset(&s, 0, sizeof s);
	if (!o || !json_is_object(o))
		goto out;
	if (!json_is_integer(json_object_get(o, "version")))
		goto out;
	if (json_integer_value(json_object_get(o, "version")) > SETTINGS_VERSION) {
		rc = STRATA_EVERSION;
		goto out;
	}
	if (!json_is_integer(json_object_get(o, "time_ns")) ||
	    copy_str(s.storage_class, sizeof s.storage_class, json_object_get(o, "storage_class")) ||
	    !json_is_integer(json_object_get(o, "min_age_data_s")) ||
	    !json_is_integer(json_object_get(o, "min_age_tree_s")) ||
	    !json_is_boolean(json_object_get(o, "force_early_delete")))
		goto out;
	s.time_ns = json_integer_value(json_object_get(o, "time_ns"));
	s.min_age_data_s = json_integer_value(json_object_get(o, "min_age_data_s"));
	s.min_age_tree_s = json_integer_value(json_object_get(o, "min_age_tree_s"));
	s.force_early_delete = json_is_true(json_object_get(o, "force_early_delete"));
	if (s.min_age_data_s < 0 || s.min_age_tree_s < 0)
		goto out;
	sel = json_object_get(o, "selection");
	if (sel && !json_is_null(sel)) {
		if (!json_is_object(sel))
			goto out;
		s.selective = 1;
		if (!json_is_null(json_object_get(sel, "host")) &&
		    copy_str(s.host, sizeof s.host, json_object_get(sel, "host")))
			goto out;
		tags = json_object_get(sel, "tags");
		if (!json_is_array(tags) || json_array_size(tags) > REPLICA_SETTINGS_MAX_TAGS)
			goto out;
		for (size_t i = 0; i < json_array_size(tags); i++)
			if (copy_str(s.tags[s.ntags++], sizeof s.tags[0], json_array_get(tags, i)))
				goto out;
		for (size_t i = 0; i < sizeof keep_names / sizeof keep_names[0]; i++) {
			json_t *k = json_object_get(sel, keep_names[i]);
			if (!json_is_integer(k) || json_integer_value(k) < -1 || json_integer_value(k) > (1L << 30))
				goto out;
			*keep_field(&s, i) = (int)json_integer_value(k);
		}
		if (copy_str(s.keep_within, sizeof s.keep_within, json_object_get(sel, "keep_within")))
			goto out;
	}
	*out = s;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

typedef struct Found {
	char **names;
	size_t n, cap;
} Found;

static int found_add(const char *name, void *ctx)
{
	Found *f = ctx;

	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 4;
		char **q = realloc(f->names, cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		f->names = q;
		f->cap = cap;
	}
	f->names[f->n] = strdup(name);
	return f->names[f->n++] ? 0 : -ENOMEM;
}

static void found_free(Found *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
}

/* load_newest — the newest of f's files into *out, its index *out_at. */
static int load_newest(Repo *repo, const Found *f, ReplicaSettings *out, size_t *out_at, StrataErr *err)
{
	int have = 0, rc;

	for (size_t i = 0; i < f->n; i++) {
		uint8_t id[CODEC_ID_LEN], *plain = NULL;
		size_t len = 0;
		ReplicaSettings s;
		const char *hex = f->names[i] + strlen(SETTINGS_DIR "/");

		if (strlen(hex) != 2 * CODEC_ID_LEN || codec_unhex(hex, id, sizeof id) != 0)
			continue;      /* not a settings file's name (§3: ignored) */
		rc = repo_read_named(repo, SETTINGS_DIR, "a replica settings file", SETTINGS_MAX, id,
		                     FORMAT_MAGIC_REPLICA, FORMAT_VERSION_REPLICA, &plain, &len, err);
		if (rc)
			return rc;
		rc = parse(plain, len, &s);
		free(plain);
		if (rc)
			return strata_err_set(err, rc, "%s: %s", f->names[i],
			                      rc == STRATA_EVERSION ? "written by a newer strata: upgrade strata"
			                                            : "not a valid replica settings file");
		if (!have || s.time_ns > out->time_ns ||
		    (s.time_ns == out->time_ns && strcmp(f->names[i], f->names[*out_at]) > 0)) {
			*out = s;
			*out_at = i;
			have = 1;
		}
	}
	return have ? 1 : 0;
}

static int list_settings(Repo *repo, Found *f, StrataErr *err)
{
	RemoteErr rerr;
	int rc = backend_list_names(repo->be, SETTINGS_DIR "/", found_add, f, &rerr);

	if (rc == -ENOMEM)
		return strata_err_set(err, rc, "out of memory");
	return rc ? repo_remote_err(err, rc, &rerr) : 0;
}

int replica_settings_load(Repo *repo, ReplicaSettings *out, int *out_found, StrataErr *err)
{
	Found f = {0};
	size_t at = 0;
	int rc;

	*out_found = 0;
	if ((rc = list_settings(repo, &f, err)) == 0) {
		rc = load_newest(repo, &f, out, &at, err);
		if (rc == 1) {
			*out_found = 1;
			rc = 0;
		}
	}
	found_free(&f);
	return rc;
}

int replica_settings_save(Repo *repo, ReplicaSettings *s, int *out_written, StrataErr *err)
{
	ReplicaSettings old;
	Found f = {0};
	uint8_t id[CODEC_ID_LEN];
	char *a = NULL, *b = NULL, hex[2 * CODEC_ID_LEN + 1], name[16 + 2 * CODEC_ID_LEN];
	size_t at = 0;
	int rc, have;
	struct timespec ts;

	*out_written = 0;
	if ((rc = list_settings(repo, &f, err)))
		goto out;
	if ((have = load_newest(repo, &f, &old, &at, err)) < 0) {
		rc = have;
		goto out;
	}
	if (have) {
		s->time_ns = old.time_ns;
		a = replica_settings_json(s);
		b = replica_settings_json(&old);
		if (a && b && strcmp(a, b) == 0 && f.n == 1)
			goto out;           /* unchanged */
		free(a);
		free(b);
		a = b = NULL;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	s->time_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	a = replica_settings_json(s);
	if (!a) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = repo_write_named(repo, SETTINGS_DIR, "a replica settings file", SETTINGS_MAX, FORMAT_MAGIC_REPLICA,
	                      FORMAT_VERSION_REPLICA, a, strlen(a), id, err);
	if (rc)
		goto out;
	*out_written = 1;
	codec_hex(id, CODEC_ID_LEN, hex);
	snprintf(name, sizeof name, SETTINGS_DIR "/%s", hex);
	/* The new file is durable: the older ones can go. */
	for (size_t i = 0; i < f.n; i++) {
		RemoteErr rerr;

		if (strcmp(f.names[i], name) == 0)
			continue;
		rc = backend_delete(repo->be, f.names[i], &rerr);
		if (rc && rc != -ENOENT) {
			rc = repo_remote_err(err, rc, &rerr);
			goto out;
		}
		rc = 0;
	}
out:
	free(a);
	free(b);
	found_free(&f);
	return rc;
}
