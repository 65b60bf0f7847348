/* snapedit.c — see snapedit.h; FORMAT.md §12 "Changing a snapshot". */
#include "store/snapedit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/codec.h"
#include "store/repo_internal.h"
#include "store/verified.h"

/* Index of the string s in array a, or -1 (only plain strings: a b64
 * element, §12, never equals what a user typed). */
static ssize_t find_str(json_t *a, const char *s, size_t keylen)
{
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *v = json_string_value(json_array_get(a, i));
		if (v && (keylen ? strncmp(v, s, keylen) == 0 && v[keylen] == '=' : strcmp(v, s) == 0))
			return (ssize_t)i;
	}
	return -1;
}

/* The array field name of o, created empty when absent. */
static json_t *array_field(json_t *o, const char *name)
{
	json_t *a = json_object_get(o, name);

	if (json_is_array(a))
		return a;
	a = json_array();
	if (!a || json_object_set_new(o, name, a) != 0)
		return NULL;
	return a;
}

static int edit_json(json_t *o, const SnapEdit *e)
{
	json_t *tags = array_field(o, "tags"), *labels = array_field(o, "labels");
	ssize_t k;

	if (!tags || !labels)
		return -ENOMEM;
	if (e->set_tags) {
		json_array_clear(tags);
		for (size_t i = 0; i < e->ntags; i++)
			if (find_str(tags, e->tags[i], 0) < 0 && json_array_append_new(tags, json_string(e->tags[i])))
				return -ENOMEM;
	}
	for (size_t i = 0; i < e->nremove_tags; i++)
		while ((k = find_str(tags, e->remove_tags[i], 0)) >= 0)
			json_array_remove(tags, (size_t)k);
	for (size_t i = 0; i < e->nadd_tags; i++)
		if (find_str(tags, e->add_tags[i], 0) < 0 && json_array_append_new(tags, json_string(e->add_tags[i])))
			return -ENOMEM;
	for (size_t i = 0; i < e->nremove_labels; i++)
		while ((k = find_str(labels, e->remove_labels[i], strlen(e->remove_labels[i]))) >= 0)
			json_array_remove(labels, (size_t)k);
	for (size_t i = 0; i < e->nset_labels; i++) {
		const char *l = e->set_labels[i];
		size_t kl = (size_t)(strchr(l, '=') - l);
		if ((k = find_str(labels, l, kl)) >= 0)
			json_array_set_new(labels, (size_t)k, json_string(l));
		else if (json_array_append_new(labels, json_string(l)))
			return -ENOMEM;
	}
	if (e->hold > 0) {
		json_t *h = json_pack("{s:s, s:I}", "reason", e->hold_reason ? e->hold_reason : "",
		                      "time_ns", (json_int_t)e->now_ns);
		if (!h || (e->hold_until_ns && json_object_set_new(h, "until_ns", json_integer(e->hold_until_ns))) ||
		    json_object_set_new(o, "hold", h) != 0)
			return -ENOMEM;
	} else if (e->hold < 0) {
		json_object_del(o, "hold");
	}
	return 0;
}

static int check_edit(const SnapEdit *e, StrataErr *err)
{
	for (size_t i = 0; i < e->ntags; i++)
		if (!*e->tags[i])
			return strata_err_set(err, STRATA_EUSAGE, "a tag cannot be empty");
	for (size_t i = 0; i < e->nadd_tags; i++)
		if (!*e->add_tags[i])
			return strata_err_set(err, STRATA_EUSAGE, "a tag cannot be empty");
	for (size_t i = 0; i < e->nset_labels; i++) {
		const char *eq = strchr(e->set_labels[i], '=');
		if (!eq || eq == e->set_labels[i])
			return strata_err_set(err, STRATA_EUSAGE, "a label is KEY=VALUE: '%s'", e->set_labels[i]);
	}
	for (size_t i = 0; i < e->nremove_labels; i++)
		if (!*e->remove_labels[i] || strchr(e->remove_labels[i], '='))
			return strata_err_set(err, STRATA_EUSAGE, "a label to remove is named by its KEY: '%s'",
			                      e->remove_labels[i]);
	return 0;
}

/* The restore-test records of old, copied to the snapshot new_id. */
static int copy_records(Repo *repo, const uint8_t old_id[STRATA_ID_LEN], const uint8_t new_id[STRATA_ID_LEN],
                        StrataErr *err)
{
	VerifiedSet *set = NULL;
	int rc = verified_load(repo, &set, err);

	for (size_t i = 0; rc == 0 && i < verified_set_count(set); i++) {
		VerifiedRecord r = *verified_set_at(set, i);
		if (memcmp(r.snapshot, old_id, STRATA_ID_LEN) != 0)
			continue;
		memcpy(r.snapshot, new_id, STRATA_ID_LEN);
		rc = verified_save(repo, &r, err);
	}
	verified_set_free(set);
	return rc;
}

int snapedit_apply(Repo *repo, const Snapshot *old, const SnapEdit *e, uint8_t out_id[STRATA_ID_LEN],
                   int *out_changed, StrataErr *err)
{
	char hex[STRATA_ID_HEX_LEN + 1];
	uint8_t *plain = NULL, new_id[STRATA_ID_LEN];
	size_t plain_len = 0;
	char *before = NULL, *after = NULL;
	json_t *o = NULL;
	int rc;

	codec_hex(old->id, STRATA_ID_LEN, hex);
	if ((rc = check_edit(e, err)) != 0)
		return rc;
	if ((rc = snapshot_read_plain(repo, old->id, &plain, &plain_len, err)) != 0)
		return rc;
	o = json_loadb((const char *)plain, plain_len, 0, NULL);
	if (!o || !json_is_object(o)) {
		rc = strata_err_set(err, STRATA_EFORMAT, "snapshot %.8s: content is malformed", hex);
		goto out;
	}
	before = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (!before || (rc = edit_json(o, e)) != 0 || !(after = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (strcmp(before, after) == 0) {
		*out_changed = 0;
		memcpy(out_id, old->id, STRATA_ID_LEN);
		goto out;
	}
	/* The first file of the chain, as backed up (§12). */
	if (!old->has_original) {
		free(after);
		after = NULL;
		if (json_object_set_new(o, "original", json_string(hex)) != 0 ||
		    !(after = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
			rc = strata_err_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	/* §12 "Changing a snapshot": new file, records, then the old file. */
	rc = snapshot_save_plain(repo, (uint32_t)json_integer_value(json_object_get(o, "version")), after,
	                         strlen(after), new_id, err);
	if (rc == 0)
		rc = copy_records(repo, old->id, new_id, err);
	if (rc == 0 && (rc = snapshot_delete(repo, old->id, err)) == -ENOENT)
		rc = 0;
	if (rc) {
		strata_err_prefix(err, "snapshot %.8s", hex);
		goto out;
	}
	memcpy(out_id, new_id, STRATA_ID_LEN);
	*out_changed = 1;
out:
	json_decref(o);
	free(before);
	free(after);
	free(plain);
	return rc;
}
