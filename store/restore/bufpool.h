/* bufpool.h — reusable large buffers under a byte budget, for restore's
 * range buffers and decryption windows.
 *
 * Owns: the idle buffers (at most BUFPOOL_KEEP) and the count of bytes of
 * every buffer it handed out and not yet freed. Why a pool: a fresh 17 MiB
 * malloc is a fresh mmap whose every page faults in and is unmapped again
 * when freed, which cost a restore more system time than its reads.
 *
 * A request takes the smallest idle buffer that fits, so a 1 MiB window
 * never holds a 17 MiB range buffer hostage. When none fits, idle buffers
 * are freed, smallest first, while the buffers out and idle would pass the
 * budget; then a new one is allocated (rounded up to 1 MiB, so buffers of
 * near sizes serve each other). The budget never refuses a request: the
 * caller bounds what is out (restore's weight in flight), the pool bounds
 * what it keeps on top of that. Kept first fit and by count only, the
 * idle buffers left after every range size a restore met peaked anywhere
 * from 82 to 137 MiB of its RSS.
 *
 * Thread safety: every call may come from any thread.
 */
#ifndef STRATA_STORE_BUFPOOL_H
#define STRATA_STORE_BUFPOOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define BUFPOOL_KEEP 12

typedef struct BufPool {
	pthread_mutex_t mu;
	uint8_t *p[BUFPOOL_KEEP];
	size_t cap[BUFPOOL_KEEP];
	size_t n;
	size_t total;       /* bytes of the buffers out and idle */
	size_t budget;      /* total above which idle buffers are freed */
} BufPool;

/* bufpool_init — an empty pool keeping out + idle under budget bytes. */
void bufpool_init(BufPool *bp, size_t budget);

/* bufpool_get — a buffer of at least len bytes (*out_cap its size), or
 * NULL when out of memory. */
uint8_t *bufpool_get(BufPool *bp, size_t len, size_t *out_cap);

/* bufpool_put — give back a buffer from bufpool_get with its cap (NULL
 * ignored): kept idle, or freed when BUFPOOL_KEEP are idle already. */
void bufpool_put(BufPool *bp, uint8_t *p, size_t cap);

/* bufpool_destroy — free the idle buffers; every buffer must be back. */
void bufpool_destroy(BufPool *bp);

#endif
