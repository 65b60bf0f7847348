/* archive_api.h — libarchive, loaded when the first tar import or export
 * starts.
 *
 * Owns: loading libarchive.so.13 with dlopen, once per process, and the
 * table of the libarchive functions store/tar/tar.c and store/tar/tar_import.c
 * call. libarchive pulls in eleven more libraries (libxml2, ICU,
 * libstdc++, lzma, lz4, bzip2, nettle, acl, ...) whose mapping and
 * initialisation cost every process that links it ~5 ms of start-up (an
 * empty program: 7.1 ms linked with -larchive, 2.1 ms without; `strata
 * --version`: 12.1 ms linked, 7.1 ms loaded here) and 3 MiB of resident
 * memory, while only `backup --stdin-tar` and `restore --tar` use it.
 *
 * Never: unloads libarchive. Thread safety: archive_api_load may be called
 * from any thread; the table is read-only once loaded. The types and
 * constants still come from <archive.h> and <archive_entry.h>.
 */
#ifndef STRATA_STORE_ARCHIVE_API_H
#define STRATA_STORE_ARCHIVE_API_H

#include <stddef.h>
#include <time.h>
#include <sys/types.h>

#include <archive.h>
#include <archive_entry.h>

typedef struct ArchiveApi {
	/* struct archive, either direction (archive_errno: errno is a macro) */
	int (*errnum)(struct archive *a);
	const char *(*error_string)(struct archive *a);
	void (*set_error)(struct archive *a, int err, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	int (*format)(struct archive *a);
	int (*filter_count)(struct archive *a);
	/* reading, for store/tar/tar_import.c */
	struct archive *(*read_new)(void);
	int (*read_support_filter_all)(struct archive *a);
	int (*read_support_format_tar)(struct archive *a);
	int (*read_support_format_cpio)(struct archive *a);
	int (*read_support_format_zip)(struct archive *a);
	int (*read_open)(struct archive *a, void *client, archive_open_callback *open_cb,
	                 archive_read_callback *read_cb, archive_close_callback *close_cb);
	int (*read_next_header)(struct archive *a, struct archive_entry **e);
	la_ssize_t (*read_data)(struct archive *a, void *buf, size_t len);
	int (*read_free)(struct archive *a);
	/* writing, for store/tar/tar.c */
	struct archive *(*write_new)(void);
	int (*write_set_format_pax)(struct archive *a);
	int (*write_add_filter_zstd)(struct archive *a);
	int (*write_set_bytes_in_last_block)(struct archive *a, int bytes);
	int (*write_open_fd)(struct archive *a, int fd);
	int (*write_header)(struct archive *a, struct archive_entry *e);
	la_ssize_t (*write_data)(struct archive *a, const void *buf, size_t len);
	int (*write_close)(struct archive *a);
	int (*write_fail)(struct archive *a);
	int (*write_free)(struct archive *a);
	/* struct archive_entry */
	struct archive_entry *(*entry_new)(void);
	struct archive_entry *(*entry_clear)(struct archive_entry *e);
	void (*entry_free)(struct archive_entry *e);
	const char *(*entry_pathname)(struct archive_entry *e);
	const char *(*entry_hardlink)(struct archive_entry *e);
	const char *(*entry_symlink)(struct archive_entry *e);
	__LA_MODE_T (*entry_filetype)(struct archive_entry *e);
	__LA_MODE_T (*entry_perm)(struct archive_entry *e);
	la_int64_t (*entry_uid)(struct archive_entry *e);
	la_int64_t (*entry_gid)(struct archive_entry *e);
	int (*entry_mtime_is_set)(struct archive_entry *e);
	time_t (*entry_mtime)(struct archive_entry *e);
	long (*entry_mtime_nsec)(struct archive_entry *e);
	dev_t (*entry_rdev)(struct archive_entry *e);
	void (*entry_set_pathname)(struct archive_entry *e, const char *path);
	void (*entry_set_hardlink)(struct archive_entry *e, const char *target);
	void (*entry_set_symlink)(struct archive_entry *e, const char *target);
	void (*entry_set_filetype)(struct archive_entry *e, unsigned int type);
	void (*entry_set_perm)(struct archive_entry *e, __LA_MODE_T perm);
	void (*entry_set_uid)(struct archive_entry *e, la_int64_t uid);
	void (*entry_set_gid)(struct archive_entry *e, la_int64_t gid);
	void (*entry_set_mtime)(struct archive_entry *e, time_t s, long ns);
	void (*entry_set_size)(struct archive_entry *e, la_int64_t size);
	void (*entry_set_rdev)(struct archive_entry *e, dev_t rdev);
} ArchiveApi;

/* archive_api_load — load libarchive the first time; the table, or NULL
 * with the reason (dlerror's text and the package to install, or the
 * function the library lacks) in msg. Later calls return the same result. */
const ArchiveApi *archive_api_load(char *msg, size_t msg_len);

#endif
