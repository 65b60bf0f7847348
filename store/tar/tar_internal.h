/* tar_internal.h — what tar.c (export) and tar_import.c share.
 * Not part of the API: only store/tar/tar*.c include it. */
#ifndef STRATA_STORE_TAR_INTERNAL_H
#define STRATA_STORE_TAR_INTERNAL_H

#include <locale.h>

/* Names in pax headers are UTF-8, and libarchive converts them from and to
 * the locale's character set: under the default "C" locale every
 * non-ASCII name would fail to convert. While libarchive runs, the calling
 * thread switches to C.UTF-8 (uselocale: per thread, nothing global), so
 * UTF-8 names pass unchanged and other bytes are kept as raw bytes. */
typedef struct TarLocale {
	locale_t utf8, old;
} TarLocale;

void tar_locale_enter(TarLocale *l);
void tar_locale_leave(TarLocale *l);

/* tar_os_errno — 1 if libarchive's archive_errno() value e came from the
 * operating system: for bad bytes it uses EILSEQ
 * (ARCHIVE_ERRNO_FILE_FORMAT), for misuse EINVAL, otherwise -1. */
int tar_os_errno(int e);

#endif
