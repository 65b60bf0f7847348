/* archive_api.c — see archive_api.h. */
#include "store/archive_api.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* The soname Debian's libarchive13 installs; libarchive has kept soname 13
 * since 3.0 (2011). */
#define ARCHIVE_SONAME "libarchive.so.13"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
/* Written once under load_once, read-only afterwards. */
static ArchiveApi api;
static const ArchiveApi *loaded;
static char load_msg[256];

/* dlsym into a function pointer: POSIX guarantees the conversion. */
#define SYM(field, name) do { \
	void *p_ = dlsym(lib, name); \
	if (!p_) { \
		snprintf(load_msg, sizeof load_msg, "%s has no %s", ARCHIVE_SONAME, name); \
		return; \
	} \
	*(void **)(&api.field) = p_; \
} while (0)

static void load(void)
{
	void *lib = dlopen(ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		const char *e = dlerror();

		snprintf(load_msg, sizeof load_msg, "cannot load %s (install libarchive13): %s", ARCHIVE_SONAME,
		         e ? e : "unknown error");
		return;
	}
	SYM(errnum, "archive_errno");
	SYM(error_string, "archive_error_string");
	SYM(set_error, "archive_set_error");
	SYM(format, "archive_format");
	SYM(filter_count, "archive_filter_count");
	SYM(read_new, "archive_read_new");
	SYM(read_support_filter_all, "archive_read_support_filter_all");
	SYM(read_support_format_tar, "archive_read_support_format_tar");
	SYM(read_support_format_cpio, "archive_read_support_format_cpio");
	SYM(read_support_format_zip, "archive_read_support_format_zip");
	SYM(read_open, "archive_read_open");
	SYM(read_next_header, "archive_read_next_header");
	SYM(read_data, "archive_read_data");
	SYM(read_free, "archive_read_free");
	SYM(write_new, "archive_write_new");
	SYM(write_set_format_pax, "archive_write_set_format_pax");
	SYM(write_add_filter_zstd, "archive_write_add_filter_zstd");
	SYM(write_open_fd, "archive_write_open_fd");
	SYM(write_header, "archive_write_header");
	SYM(write_data, "archive_write_data");
	SYM(write_close, "archive_write_close");
	SYM(write_fail, "archive_write_fail");
	SYM(write_free, "archive_write_free");
	SYM(entry_new, "archive_entry_new");
	SYM(entry_clear, "archive_entry_clear");
	SYM(entry_free, "archive_entry_free");
	SYM(entry_pathname, "archive_entry_pathname");
	SYM(entry_hardlink, "archive_entry_hardlink");
	SYM(entry_symlink, "archive_entry_symlink");
	SYM(entry_filetype, "archive_entry_filetype");
	SYM(entry_perm, "archive_entry_perm");
	SYM(entry_uid, "archive_entry_uid");
	SYM(entry_gid, "archive_entry_gid");
	SYM(entry_mtime_is_set, "archive_entry_mtime_is_set");
	SYM(entry_mtime, "archive_entry_mtime");
	SYM(entry_mtime_nsec, "archive_entry_mtime_nsec");
	SYM(entry_rdev, "archive_entry_rdev");
	SYM(entry_set_pathname, "archive_entry_set_pathname");
	SYM(entry_set_hardlink, "archive_entry_set_hardlink");
	SYM(entry_set_symlink, "archive_entry_set_symlink");
	SYM(entry_set_filetype, "archive_entry_set_filetype");
	SYM(entry_set_perm, "archive_entry_set_perm");
	SYM(entry_set_uid, "archive_entry_set_uid");
	SYM(entry_set_gid, "archive_entry_set_gid");
	SYM(entry_set_mtime, "archive_entry_set_mtime");
	SYM(entry_set_size, "archive_entry_set_size");
	SYM(entry_set_rdev, "archive_entry_set_rdev");
	loaded = &api;
}

const ArchiveApi *archive_api_load(char *msg, size_t msg_len)
{
	pthread_once(&load_once, load);
	if (!loaded && msg && msg_len)
		snprintf(msg, msg_len, "%s", load_msg);
	return loaded;
}
