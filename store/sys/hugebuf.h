/* hugebuf.h — large I/O buffers on transparent huge pages.
 *
 * Owns: nothing; one allocation helper for buffers a run fills once and
 * reuses (the backup's read segments, store/chunkpipe.c). On the VMs this
 * project runs on, each first touch of a 4 KiB page traps to the host:
 * filling 64 MiB of fresh memory took 165 ms in 4 KiB pages and 4 ms in
 * 2 MiB ones. The buffer is 2 MiB aligned and advised MADV_HUGEPAGE, which
 * the kernel honours when transparent huge pages are "madvise" or
 * "always"; otherwise it is an ordinary buffer.
 *
 * The cost: a touched huge page is resident whole, so a buffer filled to
 * a varying length (restore's range buffers) holds up to 2 MiB more than
 * it uses; those stay on ordinary pages.
 *
 * Never: keeps a pool (the callers do) or touches the memory. */
#ifndef STRATA_STORE_HUGEBUF_H
#define STRATA_STORE_HUGEBUF_H

#include <stddef.h>

#define HUGEBUF_PAGE ((size_t)2 << 20)

/* hugebuf_alloc — at least len bytes (at least 1), rounded up to whole
 * huge pages; *out_cap (may be NULL) gets the size. NULL when out of
 * memory. Release with free(). */
void *hugebuf_alloc(size_t len, size_t *out_cap);

#endif
