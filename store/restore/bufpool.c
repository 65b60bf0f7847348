/* bufpool.c — see bufpool.h. */
#include "store/restore/bufpool.h"

#include <stdlib.h>
#include <string.h>

#define ROUND ((size_t)1 << 20)

void bufpool_init(BufPool *bp, size_t budget)
{
	memset(bp, 0, sizeof *bp);
	pthread_mutex_init(&bp->mu, NULL);
	bp->budget = budget;
}

/* Remove idle buffer i (under mu); the last one takes its place. */
static void take(BufPool *bp, size_t i)
{
	bp->p[i] = bp->p[bp->n - 1];
	bp->cap[i] = bp->cap[bp->n - 1];
	bp->n--;
}

uint8_t *bufpool_get(BufPool *bp, size_t len, size_t *out_cap)
{
	uint8_t *p = NULL, *drop[BUFPOOL_KEEP];
	size_t best = BUFPOOL_KEEP, ndrop = 0, cap;

	if (len > SIZE_MAX - ROUND)
		return NULL;
	cap = ((len ? len : 1) + ROUND - 1) & ~(ROUND - 1);
	pthread_mutex_lock(&bp->mu);
	for (size_t i = 0; i < bp->n; i++)
		if (bp->cap[i] >= len && (best == BUFPOOL_KEEP || bp->cap[i] < bp->cap[best]))
			best = i;
	if (best < BUFPOOL_KEEP) {
		p = bp->p[best];
		*out_cap = bp->cap[best];
		take(bp, best);
	} else {
		while (bp->n > 0 && bp->total + cap > bp->budget) {
			size_t small = 0;

			for (size_t i = 1; i < bp->n; i++)
				if (bp->cap[i] < bp->cap[small])
					small = i;
			drop[ndrop++] = bp->p[small];
			bp->total -= bp->cap[small];
			take(bp, small);
		}
		bp->total += cap;
	}
	pthread_mutex_unlock(&bp->mu);
	for (size_t i = 0; i < ndrop; i++)
		free(drop[i]);
	if (p)
		return p;
	p = malloc(cap);
	if (!p) {
		pthread_mutex_lock(&bp->mu);
		bp->total -= cap;
		pthread_mutex_unlock(&bp->mu);
		return NULL;
	}
	*out_cap = cap;
	return p;
}

void bufpool_put(BufPool *bp, uint8_t *p, size_t cap)
{
	if (!p)
		return;
	pthread_mutex_lock(&bp->mu);
	if (bp->n < BUFPOOL_KEEP) {
		bp->p[bp->n] = p;
		bp->cap[bp->n++] = cap;
		p = NULL;
	} else {
		bp->total -= cap;
	}
	pthread_mutex_unlock(&bp->mu);
	free(p);
}

void bufpool_destroy(BufPool *bp)
{
	for (size_t i = 0; i < bp->n; i++)
		free(bp->p[i]);
	bp->n = 0;
	bp->total = 0;
	pthread_mutex_destroy(&bp->mu);
}
