/* prune_plan.c — the prune plan file, see prune_internal.h.
 * FORMAT.md "Prune plan" (§19.2). */
#include "store/prune/prune_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "store/format.h"
#include "store/repo_internal.h"

static const char *const WHY_NAME[] = { "keep", "unused", "orphan", "repack" };

void prune_plan_free(Plan *p)
{
	if (!p)
		return;
	free(p->snaps);
	free(p->packs.v);
	free(p->written.v);
	memset(p, 0, sizeof *p);
}

int prune_plan_write(Repo *repo, Plan *p, StrataErr *err)
{
	json_t *o = json_object(), *snaps = json_array(), *packs = json_array(), *written = json_array();
	char hex[STRATA_ID_HEX_LEN + 1], host[256];
	char *text = NULL;
	int rc = -ENOMEM;

	if (!o || !snaps || !packs || !written)
		goto out;
	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "unknown");
	host[sizeof host - 1] = '\0';
	for (size_t i = 0; i < p->nsnaps; i++) {
		codec_hex(p->snaps[i], STRATA_ID_LEN, hex);
		if (json_array_append_new(snaps, json_string(hex)))
			goto out;
	}
	for (size_t i = 0; i < p->packs.n; i++) {
		const PackStat *ps = &p->packs.v[i];
		codec_hex(ps->id, STRATA_ID_LEN, hex);
		if (json_array_append_new(packs, json_pack("[s, i, I, s]", hex, ps->kind, (json_int_t)ps->size,
		                                           WHY_NAME[ps->why])))
			goto out;
	}
	for (size_t i = 0; i < p->written.n; i++) {
		codec_hex(p->written.v[i].id, STRATA_ID_LEN, hex);
		if (json_array_append_new(written, json_pack("[s, i]", hex, p->written.v[i].kind)))
			goto out;
	}
	if (json_object_set_new(o, "version", json_integer(FORMAT_VERSION_PLAN)) ||
	    json_object_set_new(o, "created_ns", json_integer(p->created_ns)) ||
	    json_object_set_new(o, "host", json_string(host)) ||
	    json_object_set(o, "snapshots", snaps) || json_object_set(o, "packs", packs) ||
	    json_object_set(o, "written", written))
		goto out;
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		goto out;
	rc = repo_write_named(repo, PRUNE_PLAN_DIR, "a prune plan", OBJSIZE_PLAN_MAX, FORMAT_MAGIC_PLAN, FORMAT_VERSION_PLAN,
	                      text, strlen(text), p->id, err);
out:
	if (rc == -ENOMEM)
		strata_err_set(err, rc, "out of memory writing the prune plan");
	free(text);
	json_decref(o);
	json_decref(snaps);
	json_decref(packs);
	json_decref(written);
	return rc;
}

static int parse_id(json_t *v, uint8_t out[STRATA_ID_LEN])
{
	const char *s = json_string_value(v);

	return s && codec_unhex(s, out, STRATA_ID_LEN) == 0 ? 0 : STRATA_EFORMAT;
}

int prune_plan_read(Repo *repo, const uint8_t id[STRATA_ID_LEN], Plan *p, StrataErr *err)
{
	uint8_t *buf = NULL;
	size_t len = 0, i;
	json_t *o = NULL, *snaps, *packs, *written, *v;
	json_error_t jerr;
	json_int_t created = 0;
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	memset(p, 0, sizeof *p);
	memcpy(p->id, id, STRATA_ID_LEN);
	rc = repo_read_named(repo, PRUNE_PLAN_DIR, "a prune plan", OBJSIZE_PLAN_MAX, id, FORMAT_MAGIC_PLAN, FORMAT_VERSION_PLAN,
	                     &buf, &len, err);
	if (rc)
		return rc;
	o = json_loadb((const char *)buf, len, 0, &jerr);
	free(buf);
	rc = STRATA_EFORMAT;
	if (!o || json_unpack(o, "{s:I, s:o, s:o, s:o}", "created_ns", &created, "snapshots", &snaps,
	                      "packs", &packs, "written", &written) != 0 ||
	    !json_is_array(snaps) || !json_is_array(packs) || !json_is_array(written))
		goto out;
	p->created_ns = created;
	p->snaps = malloc((json_array_size(snaps) + 1) * sizeof *p->snaps);
	if (!p->snaps) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(snaps, i, v) {
		if (parse_id(v, p->snaps[i]) != 0)
			goto out;
	}
	p->nsnaps = json_array_size(snaps);
	qsort(p->snaps, p->nsnaps, sizeof *p->snaps, prune_cmp_id);
	json_array_foreach(packs, i, v) {
		const char *why = NULL, *idhex = NULL;
		int kind = 0;
		json_int_t size = 0;
		PackStat *ps = prune_pack_push(&p->packs);
		if (!ps) {
			rc = -ENOMEM;
			goto out;
		}
		if (json_unpack(v, "[s, i, I, s]", &idhex, &kind, &size, &why) != 0 ||
		    codec_unhex(idhex, ps->id, STRATA_ID_LEN) != 0 || (kind != PACK_KIND_DATA && kind != PACK_KIND_TREE))
			goto out;
		ps->kind = (uint8_t)kind;
		ps->size = (uint64_t)size;
		ps->why = strcmp(why, "orphan") == 0 ? WHY_ORPHAN : strcmp(why, "repack") == 0 ? WHY_REPACK : WHY_UNUSED;
	}
	if (p->packs.n)
		qsort(p->packs.v, p->packs.n, sizeof *p->packs.v, prune_cmp_id);
	json_array_foreach(written, i, v) {
		const char *idhex = NULL;
		int kind = 0;
		PackStat *ps = prune_pack_push(&p->written);
		if (!ps) {
			rc = -ENOMEM;
			goto out;
		}
		if (json_unpack(v, "[s, i]", &idhex, &kind) != 0 || codec_unhex(idhex, ps->id, STRATA_ID_LEN) != 0 ||
		    (kind != PACK_KIND_DATA && kind != PACK_KIND_TREE))
			goto out;
		ps->kind = (uint8_t)kind;
	}
	rc = 0;
out:
	json_decref(o);
	if (rc) {
		prune_plan_free(p);
		codec_hex(id, STRATA_ID_LEN, hex);
		return strata_err_set(err, rc, PRUNE_PLAN_DIR "/%s: %s", hex,
		                      rc == -ENOMEM ? "out of memory" : "content is malformed");
	}
	return 0;
}

int prune_plan_delete(Repo *repo, const uint8_t id[STRATA_ID_LEN], StrataErr *err)
{
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];

	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(name, sizeof name, PRUNE_PLAN_DIR "/%s", hex);
	return prune_delete(repo, name, err);
}

