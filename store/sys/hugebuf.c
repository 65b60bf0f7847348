/* hugebuf.c — see hugebuf.h. */
#include "store/sys/hugebuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

void *hugebuf_alloc(size_t len, size_t *out_cap)
{
	size_t cap;
	void *p = NULL;

	if (len > SIZE_MAX - HUGEBUF_PAGE)
		return NULL;
	cap = ((len ? len : 1) + HUGEBUF_PAGE - 1) / HUGEBUF_PAGE * HUGEBUF_PAGE;
	if (posix_memalign(&p, HUGEBUF_PAGE, cap) != 0)
		return NULL;
	(void)madvise(p, cap, MADV_HUGEPAGE);   /* a hint: THP may be off */
	if (out_cap)
		*out_cap = cap;
	return p;
}
