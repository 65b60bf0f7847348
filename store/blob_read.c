/* blob_read.c — fetching blobs and pack trailers, see blob.h. */
#include "store/blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/repo_internal.h"

static const char *blob_type_name(uint8_t type)
{
	switch (type) {
	case BLOB_DATA:     return "data";
	case BLOB_TREE:     return "tree";
	case BLOB_TREEPART: return "tree part";
	default:            return "unknown";
	}
}

int blob_read_at(Repo *repo, CodecCtx *ctx, const uint8_t id[CODEC_ID_LEN], const IndexEntry *e,
                 uint8_t *out, StrataErr *err)
{
	char name[REPO_NAME_MAX], idhex[STRATA_ID_HEX_LEN + 1], packhex[STRATA_ID_HEX_LEN + 1];
	uint8_t *buf;
	RemoteErr rerr = {{0}};
	int rc;

	repo_pack_name(pack_kind_of_blob(e->type), e->pack, name);
	codec_hex(id, CODEC_ID_LEN, idhex);
	codec_hex(e->pack, CODEC_ID_LEN, packhex);
	buf = malloc(e->length ? e->length : 1);
	if (!buf)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = backend_get_range(repo->be, name, e->offset, e->length, buf, &rerr);
	if (rc == -ENOENT || rc == -ERANGE) {
		free(buf);
		return strata_err_set(err, STRATA_EDAMAGED, "chunk %.16s: pack %.16s %s (offset %u, %u bytes)",
		                      idhex, packhex, rc == -ENOENT ? "is missing" : "is truncated",
		                      e->offset, e->length);
	}
	if (rc) {
		free(buf);
		return repo_remote_err(err, rc, &rerr);
	}
	rc = codec_blob_open(ctx, repo->keys, e->type, id, buf, e->length, out, e->raw_len);
	free(buf);
	if (rc == -ENOMEM)
		return strata_err_set(err, rc, "out of memory");
	if (rc)
		return strata_err_set(err, STRATA_EDAMAGED, "chunk %.16s in pack %.16s at offset %u: %s",
		                      idhex, packhex, e->offset,
		                      rc == STRATA_EAUTH ? "fails authentication" :
		                      rc == STRATA_EDAMAGED ? "content does not match its ID" :
		                      "cannot be decoded");
	return 0;
}

int blob_read(Repo *repo, CodecCtx *ctx, uint8_t type, const uint8_t id[CODEC_ID_LEN],
              uint8_t **out, size_t *out_len, StrataErr *err)
{
	char idhex[STRATA_ID_HEX_LEN + 1];
	IndexEntry e;
	Index *ix;
	uint8_t *buf;
	int rc;

	rc = repo_index(repo, &ix, err);
	if (rc)
		return rc;
	codec_hex(id, CODEC_ID_LEN, idhex);
	rc = index_lookup(ix, id, &e);
	if (rc == STRATA_ENOTFOUND)
		return strata_err_set(err, STRATA_EDAMAGED, "%s chunk %.16s is not in the index (missing from the repository)",
		                      blob_type_name(type), idhex);
	if (rc)
		return strata_err_set(err, rc, "index lookup of chunk %.16s failed", idhex);
	if (e.type != type)
		return strata_err_set(err, STRATA_EDAMAGED, "chunk %.16s is a %s blob, expected %s",
		                      idhex, blob_type_name(e.type), blob_type_name(type));
	buf = malloc(e.raw_len ? e.raw_len : 1);
	if (!buf)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = blob_read_at(repo, ctx, id, &e, buf, err);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = e.raw_len;
	return 0;
}

int blob_pack_trailer(Repo *repo, uint8_t kind, const uint8_t pack[CODEC_ID_LEN],
                      PackEntry **out, size_t *out_n, uint64_t *out_size, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	uint8_t footer[PACK_FOOTER_LEN], *trailer = NULL;
	uint32_t trailer_len;
	uint64_t size;
	RemoteErr rerr = {{0}};
	int rc;

	repo_pack_name(kind, pack, name);
	rc = backend_stat(repo->be, name, &size, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	if (size < PACK_FOOTER_LEN)
		return strata_err_set(err, STRATA_EFORMAT, "pack %s: %llu bytes is too short to be a pack",
		                      name, (unsigned long long)size);
	rc = backend_get_range(repo->be, name, size - PACK_FOOTER_LEN, PACK_FOOTER_LEN, footer, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	if (pack_footer_decode(footer, size, &trailer_len) != 0)
		return strata_err_set(err, STRATA_EFORMAT, "pack %s: footer is damaged", name);
	trailer = malloc(trailer_len);
	if (!trailer)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = backend_get_range(repo->be, name, size - PACK_FOOTER_LEN - trailer_len, trailer_len,
	                       trailer, &rerr);
	if (rc) {
		free(trailer);
		return repo_remote_err(err, rc, &rerr);
	}
	rc = pack_trailer_decode(repo->keys, trailer, trailer_len, size, out, out_n);
	free(trailer);
	if (rc)
		return strata_err_set(err, rc, "pack %s: trailer %s", name,
		                      rc == STRATA_EAUTH ? "fails authentication" : strata_strerror(rc));
	*out_size = size;
	return 0;
}
