/* archive_api.c — see archive_api.h. */
#include "store/tar/archive_api.h"

#include "remote/s3/dynlib.h"

/* The soname Debian's libarchive13 installs; libarchive has kept soname 13
 * since 3.0 (2011). */
#define ARCHIVE_SONAME "libarchive.so.13"

static const DynSym syms[] = {
	DYNSYM(ArchiveApi, errnum, "archive_errno"),
	DYNSYM(ArchiveApi, error_string, "archive_error_string"),
	DYNSYM(ArchiveApi, set_error, "archive_set_error"),
	DYNSYM(ArchiveApi, format, "archive_format"),
	DYNSYM(ArchiveApi, filter_count, "archive_filter_count"),
	DYNSYM(ArchiveApi, read_new, "archive_read_new"),
	DYNSYM(ArchiveApi, read_support_filter_all, "archive_read_support_filter_all"),
	DYNSYM(ArchiveApi, read_support_format_tar, "archive_read_support_format_tar"),
	DYNSYM(ArchiveApi, read_support_format_cpio, "archive_read_support_format_cpio"),
	DYNSYM(ArchiveApi, read_support_format_zip, "archive_read_support_format_zip"),
	DYNSYM(ArchiveApi, read_open, "archive_read_open"),
	DYNSYM(ArchiveApi, read_next_header, "archive_read_next_header"),
	DYNSYM(ArchiveApi, read_data, "archive_read_data"),
	DYNSYM(ArchiveApi, read_free, "archive_read_free"),
	DYNSYM(ArchiveApi, write_new, "archive_write_new"),
	DYNSYM(ArchiveApi, write_set_format_pax, "archive_write_set_format_pax"),
	DYNSYM(ArchiveApi, write_add_filter_zstd, "archive_write_add_filter_zstd"),
	DYNSYM(ArchiveApi, write_set_bytes_in_last_block, "archive_write_set_bytes_in_last_block"),
	DYNSYM(ArchiveApi, write_open_fd, "archive_write_open_fd"),
	DYNSYM(ArchiveApi, write_header, "archive_write_header"),
	DYNSYM(ArchiveApi, write_data, "archive_write_data"),
	DYNSYM(ArchiveApi, write_close, "archive_write_close"),
	DYNSYM(ArchiveApi, write_fail, "archive_write_fail"),
	DYNSYM(ArchiveApi, write_free, "archive_write_free"),
	DYNSYM(ArchiveApi, entry_new, "archive_entry_new"),
	DYNSYM(ArchiveApi, entry_clear, "archive_entry_clear"),
	DYNSYM(ArchiveApi, entry_free, "archive_entry_free"),
	DYNSYM(ArchiveApi, entry_pathname, "archive_entry_pathname"),
	DYNSYM(ArchiveApi, entry_hardlink, "archive_entry_hardlink"),
	DYNSYM(ArchiveApi, entry_symlink, "archive_entry_symlink"),
	DYNSYM(ArchiveApi, entry_filetype, "archive_entry_filetype"),
	DYNSYM(ArchiveApi, entry_perm, "archive_entry_perm"),
	DYNSYM(ArchiveApi, entry_uid, "archive_entry_uid"),
	DYNSYM(ArchiveApi, entry_gid, "archive_entry_gid"),
	DYNSYM(ArchiveApi, entry_mtime_is_set, "archive_entry_mtime_is_set"),
	DYNSYM(ArchiveApi, entry_mtime, "archive_entry_mtime"),
	DYNSYM(ArchiveApi, entry_mtime_nsec, "archive_entry_mtime_nsec"),
	DYNSYM(ArchiveApi, entry_rdev, "archive_entry_rdev"),
	DYNSYM(ArchiveApi, entry_set_pathname, "archive_entry_set_pathname"),
	DYNSYM(ArchiveApi, entry_set_hardlink, "archive_entry_set_hardlink"),
	DYNSYM(ArchiveApi, entry_set_symlink, "archive_entry_set_symlink"),
	DYNSYM(ArchiveApi, entry_set_filetype, "archive_entry_set_filetype"),
	DYNSYM(ArchiveApi, entry_set_perm, "archive_entry_set_perm"),
	DYNSYM(ArchiveApi, entry_set_uid, "archive_entry_set_uid"),
	DYNSYM(ArchiveApi, entry_set_gid, "archive_entry_set_gid"),
	DYNSYM(ArchiveApi, entry_set_mtime, "archive_entry_set_mtime"),
	DYNSYM(ArchiveApi, entry_set_size, "archive_entry_set_size"),
	DYNSYM(ArchiveApi, entry_set_rdev, "archive_entry_set_rdev")
};

static ArchiveApi api;
static DynLib lib = DYNLIB_INIT(ARCHIVE_SONAME, "libarchive13", syms, &api, NULL);

const ArchiveApi *archive_api_load(char *msg, size_t msg_len)
{
	return dynlib_get(&lib, msg, msg_len);
}
