/* wal_verify.c — the inputs of the wal-verify verdict, read from the
 * repository (see wal_verify.h for what is read and why). */
#include "store/wal/wal_verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/blob.h"
#include "store/snapshot.h"
#include "store/tree.h"
#include "store/wal/wal_internal.h"

#define LABEL_MAX_BYTES (64u << 10)   /* as wal_backup_start: a backup_label is a few lines */

/* Read the chunks of a small file (n of them, size bytes in all, at most
 * cap) into a malloc'ed, NUL-terminated buffer. what names it in errors. */
static int read_chunks(Repo *repo, const uint8_t (*ids)[STRATA_ID_LEN], size_t n, uint64_t size, size_t cap,
                       const char *what, char **out, size_t *out_len, StrataErr *err)
{
	CodecCtx *cctx = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc = 0;

	if (size > cap)
		return strata_err_set(err, STRATA_EFORMAT, "%s: %llu bytes, more than the %zu such a file can hold",
		                      what, (unsigned long long)size, cap);
	if (!(cctx = codec_ctx_new()) || !(text = malloc((size_t)size + 1))) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint8_t *buf = NULL;
		size_t blen = 0;
		rc = blob_read(repo, cctx, BLOB_DATA, ids[i], &buf, &blen, err);
		if (rc == 0 && blen > size - len)
			rc = strata_err_set(err, STRATA_EDAMAGED, "%s: its chunks hold more than its %llu bytes", what,
			                    (unsigned long long)size);
		if (rc == 0) {
			memcpy(text + len, buf, blen);
			len += blen;
		}
		free(buf);
	}
	if (rc == 0 && len != size)
		rc = strata_err_set(err, STRATA_EDAMAGED, "%s: its chunks hold %zu of its %llu bytes", what, len,
		                    (unsigned long long)size);
out:
	codec_ctx_free(cctx);
	if (rc) {
		free(text);
		return rc;
	}
	text[len] = '\0';
	*out = text;
	*out_len = len;
	return 0;
}

/* The parsed history file `name` of the archive. */
static int load_history(Repo *repo, const char *name, WalHistory *out, StrataErr *err)
{
	WalDesc d;
	char *text = NULL, what[64];
	size_t len = 0;
	int rc;

	memset(&d, 0, sizeof d);
	rc = wal_desc_load(repo, name, &d, err);
	if (rc)
		return rc;
	snprintf(what, sizeof what, "WAL history file %s", name);
	rc = read_chunks(repo, (const uint8_t (*)[STRATA_ID_LEN])d.ids, d.n, d.size, WAL_HISTORY_MAX_BYTES, what,
	                 &text, &len, err);
	wal_desc_free(&d);
	if (rc == 0) {
		rc = wal_history_parse(text, len, wal_hex8(name), out, err);
		if (rc && rc != -ENOMEM)
			strata_err_set(err, rc, "%s (%s in the archive; recovery across this timeline fails the same way)",
			               err->msg, name);
	}
	free(text);
	return rc;
}

/* The base backup snap, as wal_verify_plan takes it: a label that cannot
 * be read makes the backup not ok, with why. */
static int load_backup(Repo *repo, const Snapshot *snap, WalBackupCheck *b, StrataErr *err)
{
	TreeNode n;
	StrataErr lerr = { 0, "" };
	char *text = NULL, hex[STRATA_ID_HEX_LEN + 1], what[64];
	size_t len = 0;
	int rc;

	memset(b, 0, sizeof *b);
	memset(&n, 0, sizeof n);
	memcpy(b->snapshot_id, snap->id, STRATA_ID_LEN);
	b->time_ns = snap->time_ns;
	strata_id_hex(snap->id, hex);
	rc = tree_lookup(repo, snap->tree, "backup_label", &n, &lerr);
	if (rc == STRATA_ENOTFOUND) {
		snprintf(b->error, sizeof b->error, "snapshot %.8s has no backup_label at its root: it is not a "
		         "pg_basebackup tar imported with backup --stdin-tar (remove the kind=pg-base label?)", hex);
		return 0;
	}
	if (rc)
		return strata_err_set(err, rc, "%s", lerr.msg);
	snprintf(what, sizeof what, "snapshot %.8s: backup_label", hex);
	if (n.type != NODE_FILE) {
		snprintf(b->error, sizeof b->error, "%s is not a regular file", what);
		tree_node_clear(&n);
		return 0;
	}
	rc = read_chunks(repo, (const uint8_t (*)[STRATA_ID_LEN])n.chunks, n.nchunks, n.size, LABEL_MAX_BYTES, what,
	                 &text, &len, &lerr);
	tree_node_clear(&n);
	if (rc == -ENOMEM)
		return strata_err_set(err, rc, "out of memory");
	if (rc) {
		snprintf(b->error, sizeof b->error, "%s", lerr.msg);   /* names the snapshot */
		return 0;
	}
	rc = wal_label_parse(text, len, &b->label, &lerr);
	free(text);
	if (rc == 0)
		b->label_ok = 1;
	else
		snprintf(b->error, sizeof b->error, "snapshot %.8s: %s", hex, lerr.msg);
	return 0;
}

/* The base backups: snapshots labelled kind=pg-base, oldest first. */
static int load_backups(Repo *repo, WalBackupCheck **out, size_t *out_n, StrataErr *err)
{
	Snapshot *all = NULL;
	WalBackupCheck *b = NULL;
	size_t n = 0, nb = 0;
	int rc;

	rc = snapshot_list(repo, &all, &n, err);
	if (rc)
		return rc;
	b = calloc(n ? n : 1, sizeof *b);
	if (!b)
		rc = strata_err_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *k = snapshot_label(&all[i], "kind");
		if (k && strcmp(k, "pg-base") == 0)
			rc = load_backup(repo, &all[i], &b[nb++], err);
	}
	snapshot_list_free(all, n);
	if (rc) {
		free(b);
		return rc;
	}
	*out = b;
	*out_n = nb;
	return 0;
}

/* The segment size the repository records (wal_verify.h). */
static int segment_size(Repo *repo, char (*names)[WAL_NAME_MAX + 1], size_t n, const WalBackupCheck *b,
                        size_t nb, uint64_t *out, StrataErr *err)
{
	WalDesc d;
	int kind, rc;

	for (size_t i = 0; i < n; i++) {
		if (wal_name_parse(names[i], &kind, NULL) != 0 || kind != WAL_SEGMENT)
			continue;
		memset(&d, 0, sizeof d);
		rc = wal_desc_load(repo, names[i], &d, err);
		if (rc)
			return rc;
		*out = d.size;
		wal_desc_free(&d);
		if (!wal_segsize_ok(*out))
			return strata_err_set(err, STRATA_EFORMAT, "WAL segment %s holds %llu bytes, not a WAL segment size "
			                      "(a power of two from 1 MiB to 1 GiB): a file that is no segment was archived "
			                      "under a segment name", names[i], (unsigned long long)*out);
		return 0;
	}
	for (size_t i = 0; i < nb; i++)
		if (b[i].label_ok && (*out = wal_label_segsize(&b[i].label)) != 0)
			return 0;
	*out = WAL_VERIFY_DEFAULT_SEGSIZE;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The stop segment of base backup b from its backup history file
 * (START.OFFSET.backup) when the archive holds it and it reads: only a
 * bound on the range (recovery itself never reads that file), so a file
 * that is absent or unreadable leaves the stop unknown. */
static void load_stop(Repo *repo, char (*names)[WAL_NAME_MAX + 1], size_t n, uint64_t segsize, WalBackupCheck *b)
{
	StrataErr lerr = { 0, "" };
	WalDesc d;
	char name[WAL_NAME_MAX + 1], what[80], *text = NULL;
	size_t len = 0;

	snprintf(name, sizeof name, "%s.%08X.backup", b->label.start, (unsigned)(b->label.start_lsn % segsize));
	if (!n || !bsearch(name, names, n, sizeof *names, cmp_name))
		return;
	memset(&d, 0, sizeof d);
	if (wal_desc_load(repo, name, &d, &lerr) != 0)
		return;
	snprintf(what, sizeof what, "WAL file %s", name);
	if (read_chunks(repo, (const uint8_t (*)[STRATA_ID_LEN])d.ids, d.n, d.size, LABEL_MAX_BYTES, what, &text, &len,
	                &lerr) == 0 && wal_backup_stop_parse(text, len, b->label.stop, &lerr) == 0)
		b->label.has_stop = 1;
	wal_desc_free(&d);
	free(text);
}

int wal_verify_run(Repo *repo, WalVerifyReport **out, StrataErr *err)
{
	char (*names)[WAL_NAME_MAX + 1] = NULL;
	WalHistory *hist = NULL;
	WalBackupCheck *b = NULL;
	size_t n = 0, nhist = 0, nb = 0;
	uint64_t segsize = 0;
	int kind, rc;

	rc = wal_names_list(repo, &names, &n, err);
	if (rc)
		return rc;
	hist = calloc(n ? n : 1, sizeof *hist);
	if (!hist) {
		rc = strata_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (wal_name_parse(names[i], &kind, NULL) != 0 || kind != WAL_HISTORY)
			continue;
		rc = load_history(repo, names[i], &hist[nhist], err);
		if (rc)
			goto out;
		nhist++;
	}
	rc = load_backups(repo, &b, &nb, err);
	if (rc == 0)
		rc = segment_size(repo, names, n, b, nb, &segsize, err);
	for (size_t i = 0; rc == 0 && i < nb; i++)
		if (b[i].label_ok)
			load_stop(repo, names, n, segsize, &b[i]);
	if (rc == 0)
		rc = wal_verify_plan(segsize, (const char (*)[WAL_NAME_MAX + 1])names, n, hist, nhist, b, nb, out, err);
out:
	for (size_t i = 0; i < nhist; i++)
		wal_history_free(&hist[i]);
	free(hist);
	free(b);
	free(names);
	return rc;
}
