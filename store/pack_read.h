/* pack_read.h — the one reader of stored packs (FORMAT.md §9 "Pack file").
 *
 * Owns: fetching bytes of a pack from the repository's backend (a range,
 * or the whole pack), opening the sealed blobs in them, reading a pack's
 * footer and trailer, and saying what a failure means for the pack: is
 * it damage (missing, cut short, a blob that fails its checks) or a
 * failure of the machine (I/O, memory). Every engine that reads packs —
 * blob_read and its tree pack cache, restore, check, repair, prune and the
 * index sync — reads them through here.
 * Never: looks anything up in the index, caches, or words a damaged blob
 * for the user (each caller names where the bytes were needed: a file's
 * path, a chunk, a pack under check); it classifies (pack_read_damage).
 * Thread safety: all functions may be called from many threads at once,
 * each with its own CodecCtx.
 */
#ifndef STRATA_STORE_PACK_READ_H
#define STRATA_STORE_PACK_READ_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "store/error.h"
#include "store/pack.h"
#include "store/repo.h"

/* pack_read_range — bytes [off, off + len) of pack id of kind
 * (PACK_KIND_DATA/TREE) into out. Returns 0, or the backend's code
 * unchanged, with err holding the backend's message: -ENOENT (the pack is
 * not there), -ERANGE (it ends before off + len; nothing promised about
 * out), -ENODATA (archived in a cold storage class: thaw it first),
 * -ENOMEM, -EIO and the like. */
int pack_read_range(Repo *repo, uint8_t kind, const uint8_t id[STRATA_ID_LEN], uint64_t off, size_t len,
                    uint8_t *out, StrataErr *err);

/* pack_read_whole — the whole pack, if it is at most max_bytes long, into
 * *out (malloc'ed, caller frees; written only on success). Errors as
 * pack_read_range, and -EFBIG when it is larger than max_bytes (nothing
 * read). */
int pack_read_whole(Repo *repo, uint8_t kind, const uint8_t id[STRATA_ID_LEN], size_t max_bytes,
                    uint8_t **out, size_t *out_len, StrataErr *err);

/* pack_read_open — open the sealed blob sealed[0..sealed_len) of type and
 * id into out, which has room for exactly raw_len bytes (FORMAT.md §8):
 * authenticate, decompress, and with check_id re-hash the plaintext
 * against id (codec_blob_open); without, the AEAD tag alone vouches for
 * it (codec_blob_decrypt: restore's bulk path). Returns 0 or the codec's
 * code (classify it with pack_read_damage): STRATA_EAUTH, STRATA_EFORMAT,
 * STRATA_EDAMAGED (check_id only), -ENOMEM. */
int pack_read_open(CodecCtx *ctx, const Repo *repo, uint8_t type, const uint8_t id[STRATA_ID_LEN],
                   const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t raw_len, int check_id);

/* pack_read_trailer — a pack's footer and trailer read from storage and
 * decoded (pack_trailer_decode): *out malloc'ed (caller frees), *out_n
 * entries, *out_size the pack's size. Errors, err naming the pack
 * ("pack data/3f/3fa1...: ..."): STRATA_EFORMAT (shorter than a footer,
 * damaged footer, malformed trailer), STRATA_EAUTH (the trailer fails
 * authentication), STRATA_EVERSION, -ENOMEM, and the backend's (-ENOENT
 * when the pack is missing). */
int pack_read_trailer(Repo *repo, uint8_t kind, const uint8_t id[STRATA_ID_LEN], PackEntry **out,
                      size_t *out_n, uint64_t *out_size, StrataErr *err);

/* What a code from the functions above says about the pack. */
typedef enum PackDamage {
	PACK_READ_OK = 0,
	PACK_DAMAGE_MISSING,        /* -ENOENT: the pack is not in storage */
	PACK_DAMAGE_SHORT,          /* -ERANGE: the bytes lie past its end */
	PACK_DAMAGE_AUTH,           /* STRATA_EAUTH: a blob fails authentication */
	PACK_DAMAGE_DECODE,         /* STRATA_EFORMAT: authentic, but does not decode to its length */
	PACK_DAMAGE_HASH,           /* STRATA_EDAMAGED: decrypts, but does not hash to its ID */
	PACK_READ_FAILED = -1       /* anything else: I/O, memory, an archived pack; not damage */
} PackDamage;

/* pack_read_damage — rc (0 or an error above) as a PackDamage. */
PackDamage pack_read_damage(int rc);

#endif
