/* frame.h — frames: several consecutive data chunks of one file compressed
 * together and sealed once (FORMAT.md §9a, format version 3).
 *
 * Owns: the frame codec: building a frame's plaintext (HEADER || chunks)
 * from its members, sealing it as a blob of TYPE 3 under the zero ID,
 * opening one and parsing and checking its HEADER, finding a member in
 * it, recomputing the members' keyed hashes; and the rules of ENTRIES
 * version 2 for a frame and its member entries in a pack trailer.
 *
 * Used by the writer (blob_write.c), every reader of data chunks
 * (blob_read.c, restore, wal-fetch, check, prune, repair); only in a
 * format 3 repository (pack_trailer_parse refuses ENTRIES version 2).
 *
 * Never: touches the backend, the index or packs. Thread safety: pure
 * functions; a CodecCtx per thread (codec.h).
 */
#ifndef STRATA_STORE_FRAME_H
#define STRATA_STORE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "store/codec.h"
#include "store/error.h"
#include "store/pack.h"

#define FRAME_MEMBER_LEN   36u                 /* CHUNK_ID 32 || RAW_LENGTH 4 */
#define FRAME_MAX_MEMBERS  255u                /* M is a u8 */
#define FRAME_MAX_RAW      ((size_t)16 << 20)  /* len(P) a reader accepts */
#define FRAME_HEADER_LEN(m) (2u + FRAME_MEMBER_LEN * (size_t)(m))
/* What a writer puts in one frame (FORMAT.md §9a): at most this many
 * members and member bytes. */
#define FRAME_WRITE_MEMBERS 8u
#define FRAME_WRITE_RAW     ((size_t)256 << 10)

typedef struct FrameMember {
	uint8_t  id[CODEC_ID_LEN];
	uint32_t off;          /* where the chunk starts in the frame's plaintext P */
	uint32_t len;          /* RAW_LENGTH */
} FrameMember;

/* frame_plain_build — P = HEADER || data[0] || ... || data[m-1] for the
 * chunks ids[i] of lens[i] bytes (1 <= m <= FRAME_MAX_MEMBERS, each
 * len >= 1, len(P) <= FRAME_MAX_RAW). *out malloc'ed, length *out_len.
 * STRATA_EUSAGE for limits outside those, -ENOMEM. */
int frame_plain_build(const uint8_t (*ids)[CODEC_ID_LEN], const uint8_t *const *data,
                      const uint32_t *lens, size_t m, uint8_t **out, size_t *out_len);

/* frame_header_parse — check P (p_len bytes, authenticated or not) against
 * §9a: version, 1 <= M, lengths >= 1 that account for every byte of P,
 * len(P) <= FRAME_MAX_RAW. On success members[0..*out_m) (room for
 * FRAME_MAX_MEMBERS) hold each member's ID, offset and length.
 * Errors: STRATA_EFORMAT, STRATA_EVERSION (frame version above 1). */
int frame_header_parse(const uint8_t *p, size_t p_len, FrameMember *members, size_t *out_m);

/* frame_seal — seal P (from frame_plain_build) as a frame: a blob of TYPE
 * 3 and the zero ID (codec_blob_seal: zstd at level, raw when that does
 * not shrink it). out has room for p_len + CODEC_BLOB_OVERHEAD bytes. */
int frame_seal(CodecCtx *ctx, const CodecKeys *keys, const uint8_t *p, size_t p_len, int level,
               uint8_t *out, size_t *out_len);

/* frame_open — authenticate and decompress a sealed frame into out
 * (exactly raw_len bytes: the frame entry's RAW_LENGTH), then parse its
 * HEADER into members (room for FRAME_MAX_MEMBERS), *out_m.
 * Errors: STRATA_EAUTH, STRATA_EFORMAT, STRATA_EVERSION, -ENOMEM. */
int frame_open(CodecCtx *ctx, const CodecKeys *keys, const uint8_t *sealed, size_t sealed_len,
               uint8_t *out, size_t raw_len, FrameMember *members, size_t *out_m);

/* frame_member_at — the member of an opened frame that starts at off: 0
 * when it is chunk id of len bytes (what an index entry promised), else
 * STRATA_EDAMAGED (the frame does not hold that chunk there). */
int frame_member_at(const FrameMember *members, size_t m, const uint8_t id[CODEC_ID_LEN],
                    uint32_t off, uint32_t len);

/* frame_open_member — one member's plaintext from a sealed frame:
 * frame_open (frame_raw: the frame's RAW_LENGTH), frame_member_at (chunk
 * id of len bytes at off), with check_id its keyed hash, then the chunk's
 * len bytes into out. For a reader that needs one member of a frame; one
 * that needs several opens the frame once itself. Errors as frame_open,
 * and STRATA_EDAMAGED (the frame holds no such member, or with check_id
 * its bytes do not hash to id). */
int frame_open_member(CodecCtx *ctx, const CodecKeys *keys, const uint8_t *sealed, size_t sealed_len,
                      uint32_t frame_raw, const uint8_t id[CODEC_ID_LEN], uint32_t off, uint32_t len,
                      int check_id, uint8_t *out);

/* FrameCursor — the frame a reader opened last, for a reader that takes
 * the members of one frame one after another (restore, wal-fetch): each
 * frame is authenticated and decompressed once. Zero it to start;
 * frame_cursor_free releases it. Not shared between threads. */
typedef struct FrameCursor {
	uint8_t *p;             /* the plaintext P */
	size_t cap;
	int64_t at;             /* the frame's place (the caller's key, e.g. its pack offset); -1 none */
	int valid;
	FrameMember *members;   /* FRAME_MAX_MEMBERS */
	size_t m;
} FrameCursor;

/* frame_cursor_member — as frame_open_member, opening the frame at place
 * at (sealed, sealed_len, frame_raw) only when it is not the cursor's. */
int frame_cursor_member(FrameCursor *fc, CodecCtx *ctx, const CodecKeys *keys, int64_t at, const uint8_t *sealed,
                        size_t sealed_len, uint32_t frame_raw, const uint8_t id[CODEC_ID_LEN], uint32_t off,
                        uint32_t len, int check_id, uint8_t *out);
void frame_cursor_free(FrameCursor *fc);

/* frame_verify — recompute each member's keyed hash over its bytes in P:
 * the number of members that do not match; their indices in bad[] (room
 * for m, may be NULL). */
size_t frame_verify(const CodecKeys *keys, const uint8_t *p, const FrameMember *members, size_t m,
                    size_t *bad);

/* frame_members_check — the member entries that must follow the frame
 * entry e[i] (FORMAT.md §9a): the number M >= 1 of TYPE 4 entries after
 * it when the frame entry has the zero ID and RAW_LENGTH <= FRAME_MAX_RAW
 * and its members start at FRAME_HEADER_LEN(M), lie end to end with
 * LENGTH 0 and RAW_LENGTH >= 1 and end at its RAW_LENGTH; else 0. */
size_t frame_members_check(const PackEntry *e, size_t n, size_t i);

/* frame_entries_check — the ENTRIES version 2 rules of §9a over entries
 * e[0..n) of a pack whose blobs occupy blob_area bytes: blob entries
 * (TYPE 0..2) and frame entries (3) lie end to end from 0 to blob_area,
 * each 41 <= LENGTH <= RAW_LENGTH + 41; a frame entry has a zero ID and
 * is followed by M >= 1 member entries (4) whose offsets start at
 * FRAME_HEADER_LEN(M), lie end to end and end at the frame's RAW_LENGTH
 * (<= FRAME_MAX_RAW), with LENGTH 0 and RAW_LENGTH >= 1; a member entry
 * appears nowhere else. For member entries PackEntry.offset is
 * RAW_OFFSET. 0 or STRATA_EFORMAT. */
int frame_entries_check(const PackEntry *e, size_t n, uint64_t blob_area);

#endif
