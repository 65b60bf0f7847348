/* check_struct.c — the structure check, phases 1-4 (check_internal.h):
 * config and key files; the packs in storage; every stored index file,
 * each pack it lists against storage (exists, kind, size) and against its
 * own trailer (read by the worker pool: same entries); the trailers of
 * packs no index file lists. FORMAT.md "Pack file", "Index file",
 * "Key file", "Config file". Reads no blob.
 */
#include "store/check/check_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"
#include "store/codec.h"
#include "store/format.h"
#include "store/indexfile.h"
#include "store/keyfile.h"
#include "store/pack_read.h"
#include "store/repo_internal.h"

/* FORMAT.md "Config file": the sealed config's magic (as in repo.c). */

static const char *kind_name(uint8_t kind)
{
	return kind == PACK_KIND_DATA ? "data" : "tree";
}

/* ---- phase 1: config and key files ---- */

typedef struct NameList {
	char **v;
	size_t n, cap;
} NameList;

static int collect_name(const char *name, uint64_t size, void *ctx)
{
	NameList *l = ctx;

	(void)size;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *p = realloc(l->v, cap * sizeof *l->v);
		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		return -ENOMEM;
	l->n++;
	return 0;
}

int check_struct_keys(CheckCtx *c, StrataErr *err)
{
	NameList names = {0};
	char hex[STRATA_ID_HEX_LEN + 1];
	uint8_t *buf = NULL, *plain = NULL, id[STRATA_ID_LEN], sum[STRATA_ID_LEN];
	size_t len = 0, plain_len = 0;
	RemoteErr rerr = {{0}};
	int rc;

	rc = backend_get(c->repo->be, "config", OBJSIZE_CONFIG_MAX, &buf, &len, &rerr);
	if (rc == -EFBIG) {
		check_report_problem(c, CHECK_P_CONFIG, 0, NULL,
		                     "%s for a config (it changed after strata opened it): restore it from a copy",
		                     rerr.msg);
	} else if (rc) {
		repo_remote_err(err, rc, &rerr);
		goto out;
	} else {
		rc = sealed_decode(c->repo->keys, FORMAT_MAGIC_CONFIG, STRATA_FORMAT_VERSION, buf, len, &plain, &plain_len, NULL);
		if (rc == -ENOMEM) {
			strata_err_set(err, rc, "out of memory");
			goto out;
		}
		if (rc)
			check_report_problem(c, CHECK_P_CONFIG, 0, NULL,
			                     "config no longer decodes (%s; it changed after strata opened it): restore it from a copy",
			                     rc == STRATA_EAUTH ? "fails authentication" : strata_strerror(rc));
	}
	free(buf);
	buf = NULL;
	rc = backend_list(c->repo->be, "keys/", collect_name, &names, &rerr);
	if (rc) {
		if (rc == -ENOMEM)
			strata_err_set(err, rc, "out of memory");
		else
			repo_remote_err(err, rc, &rerr);
		goto out;
	}
	for (size_t i = 0; i < names.n; i++) {
		const char *base = strrchr(names.v[i], '/');
		StrataErr kerr = {0};
		KeyFileInfo info;
		base = base ? base + 1 : names.v[i];
		if (codec_unhex(base, id, STRATA_ID_LEN) != 0)
			continue;
		rc = backend_get(c->repo->be, names.v[i], OBJSIZE_KEY_MAX, &buf, &len, &rerr);
		if (rc == -ENOENT)
			continue;      /* removed since the listing (key remove) */
		c->r->key_files++;
		codec_hex(id, STRATA_ID_LEN, hex);
		if (rc == -EFBIG) {
			check_report_problem(c, CHECK_P_KEYFILE, 0, id,
			                     "%s for a key file (not written by strata); if another key works, remove it with `strata key remove %.16s`",
			                     rerr.msg, hex);
			continue;
		}
		if (rc) {
			repo_remote_err(err, rc, &rerr);
			goto out;
		}
		rc = codec_name_hash(c->repo->name_hash, buf, len, sum);
		if (rc) {
			strata_err_set(err, rc, "%s: cannot hash: out of memory", names.v[i]);
			goto out;
		}
		if (memcmp(sum, id, STRATA_ID_LEN) != 0)
			check_report_problem(c, CHECK_P_KEYFILE, 0, id,
			                     "key file %.16s: content does not match its name (damaged); if another key works, remove it with `strata key remove %.16s`",
			                     hex, hex);
		else if (keyfile_info(buf, len, &info, &kerr) != 0)
			check_report_problem(c, CHECK_P_KEYFILE, 0, id, "key file %.16s does not decode: %s", hex, kerr.msg);
		free(buf);
		buf = NULL;
	}
	rc = 0;
out:
	for (size_t i = 0; i < names.n; i++)
		free(names.v[i]);
	free(names.v);
	free(buf);
	free(plain);
	return rc;
}

/* ---- phase 2: packs in storage ---- */

/* The record for pack id, created if new; caller holds c->mu while
 * workers run (the array moves). */
static int pack_slot_locked(CheckCtx *c, const uint8_t id[STRATA_ID_LEN], uint8_t kind, size_t *out)
{
	uint64_t v;
	CheckPack *p;

	if (check_idmap_get(&c->pack_of, id, &v)) {
		*out = (size_t)v;
		return 0;
	}
	if (c->npacks == c->packs_cap) {
		size_t cap = c->packs_cap ? 2 * c->packs_cap : 256;
		void *q = realloc(c->packs, cap * sizeof *c->packs);
		if (!q)
			return -ENOMEM;
		c->packs = q;
		c->packs_cap = cap;
	}
	if (check_idmap_put(&c->pack_of, id, c->npacks) != 0)
		return -ENOMEM;
	p = &c->packs[c->npacks];
	memset(p, 0, sizeof *p);
	memcpy(p->id, id, STRATA_ID_LEN);
	p->kind = kind;
	*out = c->npacks++;
	return 0;
}

int check_struct_on_pack(const uint8_t id[STRATA_ID_LEN], uint8_t kind, const BackendObjInfo *info, void *ctx)
{
	CheckCtx *c = ctx;
	size_t i;

	if (pack_slot_locked(c, id, kind, &i) != 0)
		return -ENOMEM;
	if (!c->packs[i].in_storage) {
		c->packs[i].in_storage = 1;
		c->packs[i].size = info->size;
		c->packs[i].kind = kind;
		c->packs[i].archived = (uint8_t)(info->archived != 0);
		c->r->packs++;
	}
	return 0;
}

/* ---- phases 3 and 4: index files and trailers ---- */

typedef struct TrailerJob {
	CheckCtx *c;
	size_t pack;                      /* index in c->packs */
	int orphan;                       /* no index file lists the pack */
	uint8_t file[STRATA_ID_LEN];      /* the index file listing it */
	PackEntry *entries;               /* that file's entries for it (owned) */
	size_t n;
} TrailerJob;

static int same_entry(const PackEntry *a, const PackEntry *b)
{
	return a->type == b->type && a->offset == b->offset && a->length == b->length &&
	       a->raw_len == b->raw_len && memcmp(a->id, b->id, STRATA_ID_LEN) == 0;
}

/* Compare an index file's entries for a pack with its trailer; record
 * every index entry the trailer does not confirm. Caller holds c->mu. */
static void compare_locked(CheckCtx *c, TrailerJob *j, const PackEntry *te, size_t tn)
{
	const CheckPack *p = &c->packs[j->pack];
	char hex[STRATA_ID_HEX_LEN + 1], fhex[STRATA_ID_HEX_LEN + 1], chex[STRATA_ID_HEX_LEN + 1] = "";
	CheckIdMap at = {0};
	size_t bad = 0;
	uint8_t pack[STRATA_ID_LEN];

	memcpy(pack, p->id, STRATA_ID_LEN);
	for (size_t i = 0; i < tn; i++) {
		if (te[i].type == FORMAT_BLOB_FRAME)
			continue;   /* no ID of its own (FORMAT.md 9a): found by offset below */
		if (check_idmap_put(&at, te[i].id, i) != 0) {
			check_fatal_locked(c, -ENOMEM, NULL, "comparing a trailer");
			goto out;
		}
	}
	codec_hex(pack, STRATA_ID_LEN, hex);
	codec_hex(j->file, STRATA_ID_LEN, fhex);
	for (size_t i = 0; i < j->n; i++) {
		const PackEntry *e = &j->entries[i];
		uint64_t ti;
		if (e->type == FORMAT_BLOB_FRAME) {
			int found = 0;
			for (size_t k = 0; k < tn && !found; k++)
				found = te[k].type == FORMAT_BLOB_FRAME && same_entry(e, &te[k]);
			if (found)
				continue;
		} else if (check_idmap_get(&at, e->id, &ti) && same_entry(e, &te[ti])) {
			continue;
		}
		if (!bad++)
			codec_hex(e->id, STRATA_ID_LEN, chex);
		check_report_chunk_locked(c, e->id, e->type, CHECK_C_MISMATCH, pack, e->offset, e->length, e->raw_len,
		                          "index file and pack trailer disagree on this chunk");
	}
	if (bad || tn != j->n) {
		c->packs[j->pack].mismatch = 1;
		check_report_problem_locked(c, CHECK_P_PACK_MISMATCH, 0, pack,
		                            "pack %.16s: index file %.8s lists %zu chunks, the trailer %zu; %zu index entries are not in the trailer%s%.16s; `strata repair index` rebuilds the index from the trailers",
		                            hex, fhex, j->n, tn, bad, bad ? " (first: chunk " : "", chex);
	}
out:
	check_idmap_free(&at);
}

/* An archived pack that cannot be read now: what a HEAD tells without a
 * GET (FORMAT.md "Check", archived packs). 1 when the HEAD says a thawed
 * copy is readable after all (the trailer is then read as usual), 0 when
 * the pack was recorded as cold, -1 when it was reported missing or the
 * check failed. */
static int cold_pack(CheckCtx *c, TrailerJob *j, const uint8_t id[STRATA_ID_LEN], uint8_t kind, int known_cold)
{
	char name[REPO_NAME_MAX], hex[STRATA_ID_HEX_LEN + 1];
	BackendObjInfo info;
	RemoteErr rerr = {{0}};
	StrataErr e = {0};
	CheckPack *p;
	int rc;

	repo_pack_name(kind, id, name);
	codec_hex(id, STRATA_ID_LEN, hex);
	rc = backend_head(c->repo->be, name, &info, &rerr);
	if (rc == 0 && info.restored && !known_cold)
		return 1;
	pthread_mutex_lock(&c->mu);
	p = &c->packs[j->pack];
	if (rc == -ENOENT) {
		check_report_problem_locked(c, CHECK_P_PACK_MISSING, 0, id,
		                            "pack %.16s (%s) disappeared while the check ran: deleted outside strata (a lifecycle expiration?)",
		                            hex, kind_name(kind));
		p->in_storage = 0;
		pthread_mutex_unlock(&c->mu);
		return -1;
	}
	if (rc) {
		repo_remote_err(&e, rc, &rerr);
		check_fatal_locked(c, rc, &e, "asking the store about an archived pack");
		pthread_mutex_unlock(&c->mu);
		return -1;
	}
	p->cold = 1;
	c->r->cold_packs++;
	c->r->cold_bytes += p->size;
	if (!j->orphan)
		c->r->cold_chunks_unchecked += j->n;
	if (info.size != p->size && !p->reported) {
		p->reported = 1;
		check_report_problem_locked(c, CHECK_P_PACK_SIZE, 0, id,
		                            "pack %.16s: the store says %llu bytes, its listing %llu", hex,
		                            (unsigned long long)info.size, (unsigned long long)p->size);
	}
	/* Format 2 names a pack by the SHA-256 of its bytes (FORMAT.md §3),
	 * the very sum S3 recorded when the upload arrived. */
	if (info.has_sha256 && c->repo->name_hash == CODEC_NAME_SHA256) {
		if (memcmp(info.sha256, id, STRATA_ID_LEN) == 0) {
			c->r->cold_sha256_ok++;
		} else {
			char got[STRATA_ID_HEX_LEN + 1];
			codec_hex(info.sha256, STRATA_ID_LEN, got);
			check_report_problem_locked(c, CHECK_P_PACK_HASH, 0, id,
			                            "pack %.16s (archived): the SHA-256 the store recorded at upload is %.16s..., not its name: the object was replaced or damaged before it was stored; put it back from a copy",
			                            hex, got);
		}
	} else {
		c->r->cold_sha256_none++;
	}
	if (j->orphan)
		check_report_problem_locked(c, CHECK_P_PACK_UNINDEXED, 1, id,
		                            "pack %.16s (%s, archived, %llu bytes) is not listed in any index file (an interrupted or running backup, or a lost index file); `strata repair index` lists it once it is thawed",
		                            hex, kind_name(kind), (unsigned long long)p->size);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static void trailer_job(void *arg, void *state)
{
	TrailerJob *j = arg;
	CheckCtx *c = j->c;
	uint8_t id[STRATA_ID_LEN], kind;
	char hex[STRATA_ID_HEX_LEN + 1], fhex[STRATA_ID_HEX_LEN + 1];
	PackEntry *te = NULL;
	size_t tn = 0;
	uint64_t size = 0;
	StrataErr terr = {0};
	CheckPack *p;
	int rc, archived;

	(void)state;
	if (check_is_fatal(c))
		goto out;
	pthread_mutex_lock(&c->mu);
	memcpy(id, c->packs[j->pack].id, STRATA_ID_LEN);
	kind = c->packs[j->pack].kind;
	archived = c->packs[j->pack].archived;
	pthread_mutex_unlock(&c->mu);
	codec_hex(id, STRATA_ID_LEN, hex);
	codec_hex(j->file, STRATA_ID_LEN, fhex);
	/* An archived pack is asked about (HEAD), not read: a GET would be
	 * refused, and on a thawed copy would cost a retrieval. */
	if (archived && cold_pack(c, j, id, kind, 0) != 1)
		goto out;
	rc = pack_read_trailer(c->repo, kind, id, &te, &tn, &size, &terr);
	if (rc == -ENODATA) {
		/* Archived although the listing did not say so (a store that
		 * names no classes, INTELLIGENT_TIERING's archive tiers). */
		pthread_mutex_lock(&c->mu);
		c->packs[j->pack].archived = 1;
		pthread_mutex_unlock(&c->mu);
		cold_pack(c, j, id, kind, 1);
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	p = &c->packs[j->pack];
	if (rc == 0 && j->orphan) {
		for (size_t i = 0; i < tn; i++) {
			if (check_idmap_put(&c->orphan, te[i].id, j->pack) != 0) {
				check_fatal_locked(c, -ENOMEM, NULL, "recording an unindexed pack");
				break;
			}
		}
		check_report_problem_locked(c, CHECK_P_PACK_UNINDEXED, 1, id,
		                            "pack %.16s (%s, %zu chunks, %llu bytes) is not listed in any index file (an interrupted or running backup, or a lost index file); `strata repair index` lists it",
		                            hex, kind_name(kind), tn, (unsigned long long)size);
	} else if (rc == 0) {
		compare_locked(c, j, te, tn);
	} else if (check_damage_code(rc) || rc == -ERANGE || rc == -ENOENT) {
		if (!p->trailer_bad) {
			p->trailer_bad = 1;
			/* terr names the pack ("pack data/3f/3fa1...: trailer ..."). */
			if (j->orphan)
				check_report_problem_locked(c, CHECK_P_PACK_TRAILER, 0, id,
				                            "%s; no index file lists it, so its content cannot be identified: `strata repair index` removes it",
				                            terr.msg);
			else
				check_report_problem_locked(c, CHECK_P_PACK_TRAILER, 0, id,
				                            "%s; index file %.8s still locates its %zu chunks: `strata repair index` rewrites the pack",
				                            terr.msg, fhex, j->n);
		}
		if (!j->orphan && !p->ix_entries) {
			p->ix_entries = j->entries;
			p->ix_n = j->n;
			j->entries = NULL;
		}
	} else {
		check_fatal_locked(c, rc, &terr, "reading a pack trailer");
	}
	pthread_mutex_unlock(&c->mu);
out:
	free(te);
	free(j->entries);
	free(j);
}

static int submit_trailer(CheckCtx *c, size_t pack, int orphan, const uint8_t *file, PackEntry *entries, size_t n)
{
	TrailerJob *j = calloc(1, sizeof *j);

	if (!j) {
		free(entries);
		return -ENOMEM;
	}
	j->c = c;
	j->pack = pack;
	j->orphan = orphan;
	if (file)
		memcpy(j->file, file, STRATA_ID_LEN);
	j->entries = entries;
	j->n = n;
	if (workpool_submit(c->pool, trailer_job, j, 4096 + n * sizeof *entries) != 0) {
		free(entries);
		free(j);
		return -ENOMEM;
	}
	return 0;
}

/* Main-thread checks of one index file's pack against storage; 1 when
 * the trailer should then be compared. Caller holds c->mu. */
static int pack_vs_storage_locked(CheckCtx *c, const IndexFilePack *ip, const uint8_t file[STRATA_ID_LEN],
                                  size_t *out_pack)
{
	char hex[STRATA_ID_HEX_LEN + 1], fhex[STRATA_ID_HEX_LEN + 1];
	CheckPack *p;
	int first;

	if (pack_slot_locked(c, ip->id, ip->kind, out_pack) != 0) {
		check_fatal_locked(c, -ENOMEM, NULL, "recording a pack");
		return 0;
	}
	p = &c->packs[*out_pack];
	first = !p->in_index;
	p->in_index = 1;
	codec_hex(ip->id, STRATA_ID_LEN, hex);
	codec_hex(file, STRATA_ID_LEN, fhex);
	if (!p->in_storage) {
		if (first)
			check_report_problem_locked(c, CHECK_P_PACK_MISSING, 0, ip->id,
			                            "pack %s (%s, %zu chunks, %llu bytes) listed in index file %.8s is missing from the repository: deleted outside strata (a lifecycle expiration?); put it back from a copy if there is one, else see the damaged chunks below",
			                            hex, kind_name(ip->kind), ip->n, (unsigned long long)ip->size, fhex);
		return 0;
	}
	if (p->kind != ip->kind) {
		p->mismatch = 1;
		check_report_problem_locked(c, CHECK_P_PACK_MISMATCH, 0, ip->id,
		                            "pack %.16s is stored as a %s pack but index file %.8s lists it as a %s pack",
		                            hex, kind_name(p->kind), fhex, kind_name(ip->kind));
		return 0;
	}
	if (p->size != ip->size && !p->reported) {
		p->reported = 1;
		check_report_problem_locked(c, CHECK_P_PACK_SIZE, 0, ip->id,
		                            "pack %.16s is %llu bytes but index file %.8s says %llu (%s)",
		                            hex, (unsigned long long)p->size, fhex, (unsigned long long)ip->size,
		                            p->size < ip->size ? "truncated" : "overwritten or extended");
	}
	return 1;
}

int check_struct_indexfiles(CheckCtx *c, StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = c->ix_ids;
	size_t nids = c->nix_ids;
	int rc = 0;

	qsort(ids, nids, sizeof *ids, check_cmp_id);
	check_phase(c, "index", nids);
	for (size_t i = 0; i < nids && rc == 0 && !check_is_fatal(c); i++) {
		IndexFilePack *packs = NULL;
		StrataErr ferr = {0};
		size_t n = 0, pi;
		rc = indexfile_read(c->repo, ids[i], &packs, &n, &ferr);
		if (rc && check_damage_code(rc)) {
			check_report_problem(c, CHECK_P_INDEXFILE, 0, ids[i],
			                     "%s; `strata repair index` replaces the index files from the pack trailers", ferr.msg);
			rc = 0;
			continue;
		}
		if (rc) {
			if (err)
				*err = ferr;
			break;
		}
		c->r->index_files++;
		for (size_t k = 0; k < n && rc == 0; k++) {
			int compare;
			pthread_mutex_lock(&c->mu);
			compare = pack_vs_storage_locked(c, &packs[k], ids[i], &pi);
			pthread_mutex_unlock(&c->mu);
			if (compare) {
				rc = submit_trailer(c, pi, 0, ids[i], packs[k].entries, packs[k].n);
				packs[k].entries = NULL;
				if (rc)
					strata_err_set(err, rc, "out of memory");
			}
		}
		indexfile_packs_free(packs, n);
		pthread_mutex_lock(&c->mu);
		check_step_locked(c);
		pthread_mutex_unlock(&c->mu);
	}
	workpool_wait(c->pool);
	return rc;
}

int check_struct_orphans(CheckCtx *c, StrataErr *err)
{
	int rc = 0;

	for (size_t i = 0; i < c->npacks && rc == 0; i++)
		if (c->packs[i].in_storage && !c->packs[i].in_index)
			rc = submit_trailer(c, i, 1, NULL, NULL, 0);
	workpool_wait(c->pool);
	return rc ? strata_err_set(err, rc, "out of memory") : 0;
}

/* ---- after the walk: who needs each missing pack ---- */

#define MISSING_SNAPS_NAMED 8   /* snapshots named in the message; all are in the list */

static int add_snapshot(CheckProblem *p, const uint8_t id[STRATA_ID_LEN], size_t *cap)
{
	for (size_t i = 0; i < p->nsnapshots; i++)
		if (memcmp(p->snapshots[i], id, STRATA_ID_LEN) == 0)
			return 0;
	if (p->nsnapshots == *cap) {
		size_t ncap = *cap ? 2 * *cap : 8;
		void *q = realloc(p->snapshots, ncap * sizeof *p->snapshots);
		if (!q)
			return -ENOMEM;
		p->snapshots = q;
		*cap = ncap;
	}
	memcpy(p->snapshots[p->nsnapshots++], id, STRATA_ID_LEN);
	return 0;
}

int check_struct_missing(CheckCtx *c, StrataErr *err)
{
	CheckReport *r = c->r;

	for (size_t i = 0; i < r->nproblems; i++) {
		CheckProblem *p = &r->problems[i];
		size_t cap = 0, len;

		if (p->kind != CHECK_P_PACK_MISSING || !p->has_object)
			continue;
		for (size_t k = 0; k < r->nchunks; k++) {
			const CheckChunk *ch = &r->chunks[k];
			if (ch->reason != CHECK_C_PACK_MISSING || !ch->has_location ||
			    memcmp(ch->pack, p->object, STRATA_ID_LEN) != 0)
				continue;
			for (size_t u = 0; u < ch->nusers; u++)
				if (!ch->users[u].is_wal && add_snapshot(p, ch->users[u].snapshot, &cap) != 0)
					return strata_err_set(err, -ENOMEM, "out of memory");
		}
		if (!p->nsnapshots)
			continue;
		qsort(p->snapshots, p->nsnapshots, sizeof *p->snapshots, check_cmp_id);
		len = strlen(p->message);
		len += (size_t)snprintf(p->message + len, sizeof p->message - len, "; snapshots affected (%zu):",
		                        p->nsnapshots);
		for (size_t k = 0; k < p->nsnapshots && k < MISSING_SNAPS_NAMED && len < sizeof p->message; k++) {
			char hex[STRATA_ID_HEX_LEN + 1];
			codec_hex(p->snapshots[k], STRATA_ID_LEN, hex);
			len += (size_t)snprintf(p->message + len, sizeof p->message - len, " %.8s", hex);
		}
		if (p->nsnapshots > MISSING_SNAPS_NAMED && len < sizeof p->message)
			snprintf(p->message + len, sizeof p->message - len, " and %zu more",
			         p->nsnapshots - MISSING_SNAPS_NAMED);
	}
	return 0;
}
