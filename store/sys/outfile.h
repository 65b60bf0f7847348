/* outfile.h — a file the user names (an exported tar, a fetched WAL file,
 * a metrics textfile, a spooled segment), written privately and atomically.
 *
 * Owns: the temporary file beside the target and the steps that make it
 * the target: write through the descriptor, fchmod to the final mode,
 * fsync, rename over the target, fsync the directory (FORMAT.md §14
 * "Files strata writes outside the repository"). The target never holds a
 * partial file, and nobody else can read, replace or redirect the bytes
 * while they are written:
 *   - the temporary file is an unnamed O_TMPFILE in the target's directory
 *     where the file system and /proc allow linking it later; it vanishes
 *     if the process dies. When no file has the target's name, it is
 *     linked there directly (no temporary name at any instant); otherwise
 *     it is linked under a temporary name and renamed over the target. Otherwise it is named `<base>.tmp-<12 random
 *     [0-9a-z]>` (<base> cut to 200 bytes) and created with
 *     O_CREAT|O_EXCL|O_NOFOLLOW, so a file or symlink planted under any
 *     name is never opened, written through or renamed;
 *   - it is created with mode 0600 and gets its final mode only after the
 *     last byte is written (the umask does not apply to the final mode).
 * All names are resolved relative to one descriptor of the target's
 * directory, opened once.
 *
 * Never: follows a symlink at the temporary name; truncates or writes into
 * an existing file (the target, if it exists, is replaced by rename, so a
 * symlink at the target is replaced, not followed).
 *
 * Thread safety: one OutFile per thread; distinct OutFiles are independent.
 */
#ifndef STRATA_STORE_OUTFILE_H
#define STRATA_STORE_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"

typedef struct OutFile OutFile;

enum {
	/* Skip O_TMPFILE and use the named exclusive temporary file, as on a
	 * file system without O_TMPFILE (tests reach that path with it). */
	OUTFILE_NAMED_TEMP = 1,
	/* Skip both fsyncs of outfile_commit: for a file a machine crash may
	 * lose harmlessly because its reader asks for it again (a WAL file
	 * handed to PostgreSQL's restore_command, which recovery fetches
	 * anew after a crash). The rename still makes it whole or absent to
	 * every process while the machine runs. */
	OUTFILE_NO_SYNC = 2
};

/* outfile_open — start writing path. Opens path's directory and a
 * temporary file in it (mode 0600, write-only). *out is written only on
 * success; release it with outfile_free.
 * Errors (err names path): STRATA_EUSAGE when path ends in "/", ".", or
 * ".."; -EISDIR when path is an existing directory; -EINVAL when it is an
 * existing FIFO, socket or device (rename would replace it, not write into
 * it: give a stream to standard output instead); -errno opening the
 * directory or creating the temporary file (-ENOENT, -EACCES, -EROFS,
 * -ENOSPC, -ENAMETOOLONG); -ENOMEM. */
int outfile_open(const char *path, unsigned flags, OutFile **out, StrataErr *err);

/* outfile_fd — the descriptor to write the content to (owned by f: do not
 * close it). */
int outfile_fd(const OutFile *f);

/* outfile_temp_name — the temporary file's name in the target's
 * directory, or "" while it has none (O_TMPFILE). Owned by f. */
const char *outfile_temp_name(const OutFile *f);

/* outfile_commit — give the file mode (permission bits, at most 07777,
 * exactly: no umask), fsync it, rename it over path and fsync the
 * directory. After a failure before the rename the temporary file is left
 * for outfile_free to remove and path is untouched; a failure of the
 * directory's fsync leaves path in place but perhaps not durable.
 * Errors: -errno (err names the file and the step); STRATA_EUSAGE for a
 * mode above 07777; -EINVAL when called twice. */
int outfile_commit(OutFile *f, unsigned mode, StrataErr *err);

/* outfile_free — close everything; a temporary file not committed is
 * removed. Accepts NULL. */
void outfile_free(OutFile *f);

/* outfile_write — path's whole content is buf[0..len), with mode: open,
 * write, commit and free in one call. Errors as outfile_open and
 * outfile_commit, plus -errno writing (-ENOSPC, -EIO). */
int outfile_write(const char *path, const uint8_t *buf, size_t len, unsigned mode, unsigned flags,
                  StrataErr *err);

#endif
