/* pack.h — pack files: many sealed blobs followed by an encrypted trailer.
 *
 * Owns: building a pack in memory (PackBuilder), its trailer and footer
 * (FORMAT.md "Pack file"), and decoding a trailer read back from storage,
 * checking every entry lies inside the pack and entries do not overlap.
 *
 * Never: talks to the index or decides where a pack is stored.
 * Thread safety: a PackBuilder belongs to one thread (but for
 * pack_builder_hash, see there); decoding is pure.
 */
#ifndef STRATA_STORE_PACK_H
#define STRATA_STORE_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "store/error.h"
#include "store/format.h"

#define PACK_FOOTER_LEN   12          /* trailer length (u32 LE) || "STRATAPK" */
#define PACK_ENTRY_LEN    45          /* type 1 || id 32 || offset 4 || length 4 || raw 4 */
#define PACK_MAX_ENTRIES  (1u << 22)  /* bounds a hostile trailer's count */

typedef struct PackEntry {
	uint8_t  type;                    /* enum BlobType */
	uint8_t  id[CODEC_ID_LEN];
	uint32_t offset;                  /* of the sealed blob from the pack start */
	uint32_t length;                  /* sealed length */
	uint32_t raw_len;                 /* plaintext length */
} PackEntry;

typedef struct PackBuilder {
	uint8_t   *buf;
	size_t     len, cap;
	PackEntry *entries;
	size_t     n, entries_cap;
	CodecNameState hash;              /* the pack's name, of buf[0..hashed) */
	size_t     hashed;
	size_t     nframes;               /* frames committed (FORMAT.md §9a): ENTRIES version 2 */
} PackBuilder;

/* pack_builder_init/free — an empty builder whose pack is named by the
 * name hash alg (the repository's); free releases memory (accepts a
 * zeroed builder). */
void pack_builder_init(PackBuilder *pb, CodecNameHash alg);
void pack_builder_free(PackBuilder *pb);

/* pack_builder_reserve — room for a blob of up to len bytes at the end;
 * returns where to write it. The caller then calls pack_builder_commit. */
int pack_builder_reserve(PackBuilder *pb, size_t len, uint8_t **out_dst);

/* pack_builder_commit — record the blob just written at the reserved
 * place. Its bytes are hashed later: by pack_builder_hash or, at the
 * latest, by pack_builder_finish. */
int pack_builder_commit(PackBuilder *pb, uint8_t type, const uint8_t id[CODEC_ID_LEN],
                        size_t sealed_len, uint32_t raw_len);

/* pack_builder_commit_frame — record the frame (FORMAT.md §9a, format
 * 3) just written at the reserved place: sealed_len bytes sealed
 * from a plaintext of p_len bytes holding the m chunks ids[i] of lens[i]
 * bytes in order (frame_plain_build). Adds the frame entry and its m
 * member entries; the pack's trailer is then written with ENTRIES version
 * 2, which pack_trailer_parse refuses as newer (blob_write.c, only in a
 * format 3 repository). */
int pack_builder_commit_frame(PackBuilder *pb, const uint8_t (*ids)[CODEC_ID_LEN], const uint32_t *lens,
                              size_t m, size_t sealed_len, uint32_t p_len);

/* pack_builder_hash — feed buf[hashed..hashed + len) to the pack's hash
 * and advance hashed. For a writer that hashes committed bytes outside
 * its lock (blob_write.c): the caller guarantees that only it touches
 * hash and hashed meanwhile, that those bytes are committed, and that buf
 * does not move. */
void pack_builder_hash(PackBuilder *pb, size_t len);

/* pack_builder_finish — append the sealed trailer and the footer; the
 * pack is then buf[0..len) and its name out_id (the name hash of the
 * bytes). -ENOMEM also when the name hash could not be computed (a
 * failed allocation in OpenSSL at any point since the last reset).
 * The builder keeps its entries until pack_builder_reset. */
int pack_builder_finish(PackBuilder *pb, const CodecKeys *keys, uint8_t out_id[CODEC_ID_LEN]);

/* pack_builder_reset — empty the builder for the next pack (keeps memory). */
void pack_builder_reset(PackBuilder *pb);

/* pack_footer_decode — the trailer length from the last PACK_FOOTER_LEN
 * bytes of a pack of pack_size bytes. STRATA_EFORMAT on bad magic or a
 * length that does not fit. */
int pack_footer_decode(const uint8_t footer[PACK_FOOTER_LEN], uint64_t pack_size,
                       uint32_t *out_trailer_len);

/* pack_trailer_decode — authenticate and parse a sealed trailer of a pack
 * of pack_size bytes (trailer = the trailer_len bytes before the footer).
 * Checks entries are in order, inside the blob area, not overlapping, with
 * known types and sane lengths. *out malloc'ed (caller frees).
 * Errors: STRATA_EAUTH, STRATA_EFORMAT, STRATA_EVERSION. */
int pack_trailer_decode(const CodecKeys *keys, const uint8_t *trailer, size_t trailer_len,
                        uint64_t pack_size, PackEntry **out, size_t *out_n);

/* pack_trailer_parse — the checks of pack_trailer_decode on an already
 * decrypted trailer plaintext, for a pack whose blobs occupy blob_area
 * bytes (pack size minus trailer and footer). *out malloc'ed (caller
 * frees). Errors: STRATA_EFORMAT, STRATA_EVERSION, -ENOMEM. */
int pack_trailer_parse(const uint8_t *plain, size_t plain_len, uint64_t blob_area,
                       PackEntry **out, size_t *out_n);

/* pack_trailer_parse_frames / pack_trailer_decode_frames — as above, and
 * with frames != 0 they also accept ENTRIES version 2 (FORMAT.md §9a,
 * format 3) by its rules (frame_entries_check): frame entries
 * (FORMAT_BLOB_FRAME) and member entries (FORMAT_BLOB_MEMBER, whose
 * offset is RAW_OFFSET and length 0) come back as they are listed. For a
 * reader of a format 3 repository only (pack_read_trailer passes frames
 * for one). */
int pack_trailer_parse_frames(const uint8_t *plain, size_t plain_len, uint64_t blob_area, int frames,
                              PackEntry **out, size_t *out_n);
int pack_trailer_decode_frames(const CodecKeys *keys, const uint8_t *trailer, size_t trailer_len,
                               uint64_t pack_size, int frames, PackEntry **out, size_t *out_n);

#endif
