/* pack_read.c — reading stored packs, see pack_read.h. FORMAT.md §8
 * "Blob", §9 "Pack file". */
#include "store/pack_read.h"

#include <errno.h>
#include <stdlib.h>

#include "store/format.h"
#include "store/repo_internal.h"

int pack_read_range(Repo *repo, uint8_t kind, const uint8_t id[STRATA_ID_LEN], uint64_t off, size_t len,
                    uint8_t *out, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	int rc;

	repo_pack_name(kind, id, name);
	rc = backend_get_range(repo->be, name, off, len, out, &rerr);
	return rc ? repo_remote_err(err, rc, &rerr) : 0;
}

int pack_read_whole(Repo *repo, uint8_t kind, const uint8_t id[STRATA_ID_LEN], size_t max_bytes,
                    uint8_t **out, size_t *out_len, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	RemoteErr rerr = {{0}};
	int rc;

	repo_pack_name(kind, id, name);
	rc = backend_get(repo->be, name, max_bytes, out, out_len, &rerr);
	return rc ? repo_remote_err(err, rc, &rerr) : 0;
}

int pack_read_open(CodecCtx *ctx, const Repo *repo, uint8_t type, const uint8_t id[STRATA_ID_LEN],
                   const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t raw_len, int check_id)
{
	return check_id ? codec_blob_open(ctx, repo->keys, type, id, sealed, sealed_len, out, raw_len)
	                : codec_blob_decrypt(ctx, repo->keys, type, id, sealed, sealed_len, out, raw_len);
}

int pack_read_trailer(Repo *repo, uint8_t kind, const uint8_t id[STRATA_ID_LEN], PackEntry **out,
                      size_t *out_n, uint64_t *out_size, StrataErr *err)
{
	char name[REPO_NAME_MAX];
	uint8_t footer[PACK_FOOTER_LEN], *trailer = NULL;
	uint32_t trailer_len;
	uint64_t size;
	RemoteErr rerr = {{0}};
	int rc;

	repo_pack_name(kind, id, name);
	rc = backend_stat(repo->be, name, &size, &rerr);
	if (rc)
		return repo_remote_err(err, rc, &rerr);
	if (size < PACK_FOOTER_LEN)
		return strata_err_set(err, STRATA_EFORMAT, "pack %s: %llu bytes is too short to be a pack",
		                      name, (unsigned long long)size);
	rc = pack_read_range(repo, kind, id, size - PACK_FOOTER_LEN, PACK_FOOTER_LEN, footer, err);
	if (rc)
		return rc;
	if (pack_footer_decode(footer, size, &trailer_len) != 0)
		return strata_err_set(err, STRATA_EFORMAT, "pack %s: footer is damaged", name);
	trailer = malloc(trailer_len);
	if (!trailer)
		return strata_err_set(err, -ENOMEM, "out of memory");
	rc = pack_read_range(repo, kind, id, size - PACK_FOOTER_LEN - trailer_len, trailer_len, trailer, err);
	if (rc) {
		free(trailer);
		return rc;
	}
	rc = pack_trailer_decode_frames(repo->keys, trailer, trailer_len, size, repo->format_version >= 3, out, out_n);
	free(trailer);
	if (rc)
		return strata_err_set(err, rc, "pack %s: trailer %s", name,
		                      rc == STRATA_EAUTH ? "fails authentication" : strata_strerror(rc));
	*out_size = size;
	return 0;
}

PackDamage pack_read_damage(int rc)
{
	switch (rc) {
	case 0:               return PACK_READ_OK;
	case -ENOENT:         return PACK_DAMAGE_MISSING;
	case -ERANGE:         return PACK_DAMAGE_SHORT;
	case STRATA_EAUTH:    return PACK_DAMAGE_AUTH;
	case STRATA_EFORMAT:  return PACK_DAMAGE_DECODE;
	case STRATA_EDAMAGED: return PACK_DAMAGE_HASH;
	default:              return PACK_READ_FAILED;
	}
}
