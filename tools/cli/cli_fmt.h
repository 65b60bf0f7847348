/* cli_fmt.h — human-readable formatting: sizes, times, modes, IDs, names.
 *
 * Owns: every conversion of a value to text for people (JSON goes through
 * cli_json.h, which borrows the time and UTF-8 helpers). Pure functions
 * writing into caller buffers; thread-safe.
 */
#ifndef STRATA_TOOLS_CLI_FMT_H
#define STRATA_TOOLS_CLI_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/repo.h"

#define CLI_FMT_BYTES_LEN 32
#define CLI_FMT_TIME_LEN 48
#define CLI_FMT_SHORT_ID_LEN 9     /* 8 hex + NUL */

/* "0 B", "999 B", "1.50 KiB", "20.00 MiB"... (powers of 1024). */
const char *cli_fmt_bytes(uint64_t bytes, char out[CLI_FMT_BYTES_LEN]);

/* Local time "YYYY-MM-DD HH:MM:SS". */
const char *cli_fmt_time_local(int64_t time_ns, char out[CLI_FMT_TIME_LEN]);

/* UTC RFC 3339 with nanoseconds: "2024-05-01T12:00:00.123456789Z". */
const char *cli_fmt_time_rfc3339(int64_t time_ns, char out[CLI_FMT_TIME_LEN]);

/* The first 8 hex characters of id. */
const char *cli_fmt_short_id(const uint8_t id[STRATA_ID_LEN], char out[CLI_FMT_SHORT_ID_LEN]);

/* "drwxr-xr-x", "-rwsr-sr-t", "lrwxrwxrwx", "prw-r--r--": 10 chars + NUL.
 * type is enum TreeNodeType; mode the 07777 bits. */
const char *cli_fmt_mode(uint8_t type, uint32_t mode, char out[11]);

/* "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket". */
const char *cli_fmt_type_name(uint8_t type);

/* cli_fmt_utf8_seq — length (1-4) of the valid UTF-8 sequence at s[0..n),
 * or 0 if the bytes there are not valid UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated). */
size_t cli_fmt_utf8_seq(const unsigned char *s, size_t n);

/* cli_fmt_is_utf8 — 1 when all of s is valid UTF-8, else 0. */
int cli_fmt_is_utf8(const char *s);

/* cli_fmt_name — write s to f so a terminal shows it safely: control bytes,
 * invalid UTF-8 and backslash are written as \xNN / \\ (like `ls -b`). */
void cli_fmt_name(FILE *f, const char *s);

/* cli_fmt_name_width — the terminal columns cli_fmt_name(s) takes, counting
 * one per character (for aligning tables; wide CJK glyphs count one). */
size_t cli_fmt_name_width(const char *s);

#endif
