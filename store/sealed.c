/* sealed.c — sealed files (config, index files, snapshots) and the
 * content-addressed naming of repository files. FORMAT.md "Sealed file". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/format.h"
#include "store/repo_internal.h"

int repo_remote_err(StrataErr *err, int rc, const RemoteErr *rerr)
{
	return strata_err_set(err, rc, "%s", rerr->msg[0] ? rerr->msg : strata_strerror(rc));
}

void repo_pack_name(uint8_t kind, const uint8_t id[STRATA_ID_LEN], char out[REPO_NAME_MAX])
{
	char hex[STRATA_ID_HEX_LEN + 1];

	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(out, REPO_NAME_MAX, "%s/%.2s/%s", kind == PACK_KIND_DATA ? "data" : "tree", hex, hex);
}

int sealed_encode(const CodecKeys *keys, const char magic[8], uint32_t version,
                  const void *plain, size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t hdr[SEALED_HEADER_LEN], *body = NULL, *buf;
	size_t body_len;
	int rc;

	memcpy(hdr, magic, 8);
	format_put_le32(hdr + 8, version);
	rc = codec_seal(keys, hdr, sizeof hdr, plain, len, &body, &body_len);
	if (rc)
		return rc;
	buf = malloc(SEALED_HEADER_LEN + body_len);
	if (!buf) {
		free(body);
		return -ENOMEM;
	}
	memcpy(buf, hdr, sizeof hdr);
	memcpy(buf + sizeof hdr, body, body_len);
	free(body);
	*out = buf;
	*out_len = SEALED_HEADER_LEN + body_len;
	return 0;
}

int sealed_decode(const CodecKeys *keys, const char magic[8], uint32_t max_version,
                  const uint8_t *buf, size_t len, uint8_t **out, size_t *out_len,
                  uint32_t *out_version)
{
	uint32_t version;
	int rc;

	if (len < SEALED_HEADER_LEN || memcmp(buf, magic, 8) != 0)
		return STRATA_EFORMAT;
	version = format_get_le32(buf + 8);
	if (version == 0)
		return STRATA_EFORMAT;
	if (version > max_version)
		return STRATA_EVERSION;
	rc = codec_open(keys, buf, SEALED_HEADER_LEN, buf + SEALED_HEADER_LEN,
	                len - SEALED_HEADER_LEN, out, out_len);
	if (rc == 0 && out_version)
		*out_version = version;
	return rc;
}

int repo_get(Backend *be, const char *name, const char *kind, size_t max_bytes,
             uint8_t **out, size_t *out_len, StrataErr *err)
{
	RemoteErr rerr = {{0}};
	int rc;

	rc = backend_get(be, name, max_bytes, out, out_len, &rerr);
	if (rc == -EFBIG)
		return strata_err_set(err, STRATA_EDAMAGED, "%s for %s (damaged, or not written by strata)",
		                      rerr.msg, kind);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	return 0;
}

int repo_write_named(Repo *repo, const char *dir, const char *kind, size_t max_bytes,
                     const char magic[8], uint32_t version,
                     const void *plain, size_t len, uint8_t out_id[STRATA_ID_LEN], StrataErr *err)
{
	uint8_t *buf = NULL, id[STRATA_ID_LEN];
	char hex[STRATA_ID_HEX_LEN + 1], name[REPO_NAME_MAX];
	size_t buf_len;
	RemoteErr rerr = {{0}};
	int rc;

	rc = sealed_encode(repo->keys, magic, version, plain, len, &buf, &buf_len);
	if (rc)
		return strata_err_set(err, rc, "cannot seal %s file: %s", dir, strata_strerror(rc));
	if (buf_len > max_bytes) {
		free(buf);
		/* Readers refuse it unread (remote/objsize.h): better not to
		 * store what nobody could read back. */
		return strata_err_set(err, -EFBIG, "%s of %zu bytes is larger than the %zu bytes "
		                      "strata reads back for one; nothing written", kind, buf_len, max_bytes);
	}
	rc = codec_name_hash(repo->name_hash, buf, buf_len, id);
	if (rc) {
		free(buf);
		return strata_err_set(err, rc, "cannot name %s file: out of memory", dir);
	}
	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(name, sizeof name, "%s/%s", dir, hex);
	rc = backend_put(repo->be, name, buf, buf_len, &rerr);
	free(buf);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	memcpy(out_id, id, STRATA_ID_LEN);
	return 0;
}

int repo_read_named(Repo *repo, const char *dir, const char *kind, size_t max_bytes,
                    const uint8_t id[STRATA_ID_LEN], const char magic[8], uint32_t max_version,
                    uint8_t **out, size_t *out_len, StrataErr *err)
{
	uint8_t *buf = NULL, check[STRATA_ID_LEN];
	char hex[STRATA_ID_HEX_LEN + 1], name[REPO_NAME_MAX];
	size_t buf_len;
	int rc;

	codec_hex(id, STRATA_ID_LEN, hex);
	snprintf(name, sizeof name, "%s/%s", dir, hex);
	rc = repo_get(repo->be, name, kind, max_bytes, &buf, &buf_len, err);
	if (rc == -ENOENT)
		return strata_err_set(err, STRATA_ENOTFOUND, "%s: not found in the repository", name);
	if (rc)
		return rc;
	rc = codec_name_hash(repo->name_hash, buf, buf_len, check);
	if (rc) {
		free(buf);
		return strata_err_set(err, rc, "%s: cannot hash: out of memory", name);
	}
	if (memcmp(check, id, STRATA_ID_LEN) != 0) {
		free(buf);
		return strata_err_set(err, STRATA_EDAMAGED,
		                      "%s: content does not match its name (file damaged)", name);
	}
	rc = sealed_decode(repo->keys, magic, max_version, buf, buf_len, out, out_len, NULL);
	free(buf);
	switch (rc) {
	case 0:
		return 0;
	case STRATA_EVERSION:
		return strata_err_set(err, rc, "%s: written by a newer strata (format version above %u); upgrade strata",
		                      name, max_version);
	case STRATA_EAUTH:
		return strata_err_set(err, rc, "%s: fails authentication (damaged or tampered)", name);
	default:
		return strata_err_set(err, rc, "%s: %s", name, strata_strerror(rc));
	}
}

struct id_list {
	uint8_t (*ids)[STRATA_ID_LEN];
	size_t n, cap;
	size_t skip;          /* length of the dir prefix */
	int oom;
};

static int collect_id(const char *name, void *ctx)
{
	struct id_list *l = ctx;
	const char *base = strrchr(name, '/');
	uint8_t id[STRATA_ID_LEN];

	base = base ? base + 1 : name;
	if (codec_unhex(base, id, STRATA_ID_LEN) != 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		void *p = realloc(l->ids, cap * sizeof *l->ids);
		if (!p) {
			l->oom = 1;
			return 1;
		}
		l->ids = p;
		l->cap = cap;
	}
	memcpy(l->ids[l->n++], id, STRATA_ID_LEN);
	return 0;
}

int repo_list_ids(Repo *repo, const char *dir, uint8_t (**out)[STRATA_ID_LEN], size_t *out_n,
                  StrataErr *err)
{
	struct id_list l = {0};
	RemoteErr rerr = {{0}};
	/* Names only: a local snapshots/ of 100,000 files costs no stat each. */
	int rc = backend_list_names(repo->be, dir, collect_id, &l, &rerr);

	if (l.oom) {
		free(l.ids);
		return strata_err_set(err, -ENOMEM, "listing %s: out of memory", dir);
	}
	if (rc) {
		free(l.ids);
		return repo_remote_err(err, rc, &rerr);
	}
	*out = l.ids;
	*out_n = l.n;
	return 0;
}

int repo_resolve_prefix(Repo *repo, const char *dir, const char *what, const char *prefix,
                        uint8_t out_id[STRATA_ID_LEN], StrataErr *err)
{
	uint8_t (*ids)[STRATA_ID_LEN] = NULL;
	size_t n = 0, plen = strlen(prefix), found = 0, at = 0;
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	if (plen == 0 || plen > STRATA_ID_HEX_LEN || strspn(prefix, "0123456789abcdef") != plen)
		return strata_err_set(err, STRATA_ENOTFOUND, "%s %s not found (IDs are hex)", what, prefix);
	rc = repo_list_ids(repo, dir, &ids, &n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		codec_hex(ids[i], STRATA_ID_LEN, hex);
		if (strncmp(hex, prefix, plen) == 0) {
			found++;
			at = i;
		}
	}
	if (found == 1)
		memcpy(out_id, ids[at], STRATA_ID_LEN);
	free(ids);
	if (found == 0)
		return strata_err_set(err, STRATA_ENOTFOUND, "%s %s not found in the repository", what, prefix);
	if (found > 1)
		return strata_err_set(err, STRATA_EAMBIGUOUS, "%s prefix %s matches %zu %ss; give more characters",
		                      what, prefix, found, what);
	return 0;
}
