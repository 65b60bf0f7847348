/* lock_internal.h — the lock record and its codec (FORMAT.md §19.1 "Locks"),
 * shared by store/lock.c and fuzz/fuzz_lock.c; not part of the API.
 *
 * Owns: the bytes of locks/<id>, a sealed file (magic STRATALK, version 1)
 * whose plaintext is one JSON object. Never: touches the backend, judges
 * staleness or prints. Pure functions: safe from any thread.
 */
#ifndef STRATA_STORE_LOCK_INTERNAL_H
#define STRATA_STORE_LOCK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "remote/objsize.h"
#include "store/codec.h"
#include "store/error.h"
#include "store/format.h"
#include "store/lock.h"

#define LOCK_RECORD_MAX_BYTES OBJSIZE_LOCK_MAX   /* a lock is a few hundred bytes */

/* One lock file, decoded. "machine" is the kernel's boot ID and PID
 * namespace: two processes may judge each other's PIDs only when host
 * name and machine are equal (containers sharing a host name have their
 * own PID namespaces; a reboot changes the boot ID). The strings are
 * always NUL-terminated valid UTF-8 (lock_text_copy). */
typedef struct LockRecord {
	LockMode mode;
	char     command[32];
	char     host[256];
	char     user[64];
	char     machine[128];
	int64_t  pid;
	uint64_t pid_start;        /* /proc/<pid>/stat starttime: detects PID reuse */
	int64_t  created_ns, refreshed_ns, stale_after_s;
} LockRecord;

/* lock_record_encode — r as a sealed lock file under keys; *out
 * malloc'ed (caller frees), written only on success. The strings of r
 * must be valid UTF-8 (lock_text_copy). Errors: -ENOMEM. */
int lock_record_encode(const CodecKeys *keys, const LockRecord *r, uint8_t **out, size_t *out_len);

/* lock_record_decode — a whole sealed lock file (at most
 * LOCK_RECORD_MAX_BYTES) into *out_rec, written only on success. The
 * envelope is authenticated whatever VERSION it claims (the §5 envelope is
 * the same for every lock version, FORMAT.md §19.1), so the errors tell
 * what only a holder of the key can have written from what anyone can:
 *   STRATA_EFORMAT   not a sealed lock file at all (too long, too short,
 *                    bad magic, version 0): nothing vouches for it
 *   STRATA_EAUTH     fails authentication (damaged, forged, or sealed
 *                    with another repository's key), whatever its version
 *   STRATA_EVERSION  authentic, of a lock version above this strata's
 *   STRATA_EDAMAGED  authentic, of this version, but its plaintext is not
 *                    a lock record (lock_record_parse refused it)
 *   -ENOMEM */
int lock_record_decode(const CodecKeys *keys, const uint8_t *buf, size_t len, LockRecord *out_rec);

/* lock_record_parse — the decrypted JSON of a lock file into *out_rec, written
 * only on success. Every field of §19.1 must be present with its type;
 * unknown fields are ignored; strings longer than their field are cut
 * before the first character that does not fit. Errors: STRATA_EFORMAT. */
int lock_record_parse(const uint8_t *json, size_t len, LockRecord *out_rec);

/* lock_text_copy — copy the NUL-terminated src into dst[size] as valid
 * UTF-8: a byte that does not start a valid character (stray continuation
 * byte, overlong form, surrogate, code point above U+10FFFF, cut
 * sequence) becomes '?', and a string too long is cut before the first
 * character that does not fit. size > 0. */
void lock_text_copy(char *dst, size_t size, const char *src);

#endif
