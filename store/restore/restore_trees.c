/* restore_trees.c — the tree prefetch of a restore from S3: a small pool
 * loads the trees of the next subdirectories while the walk works
 * (TREE_AHEAD, restore_internal.h), and the walk takes them from here.
 */
#include "store/restore/restore_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void tree_fetch_job(void *arg, void *state)
{
	TreeFetch *f = arg;
	Ctx *c = f->ctx;
	StrataErr err = {0};
	Tree t;
	int rc;

	(void)state;
	memset(&t, 0, sizeof t);
	rc = tree_load(c->repo, f->id, &t, &err);
	pthread_mutex_lock(&c->tmu);
	f->t = t;
	f->rc = rc;
	f->err = err;
	f->done = 1;
	pthread_cond_broadcast(&c->tcv);
	pthread_mutex_unlock(&c->tmu);
}

/* Start loading tree id; a failure to start is no error (restore_trees_get loads
 * it itself then). */
void restore_trees_prefetch(Ctx *c, const uint8_t id[STRATA_ID_LEN])
{
	TreeFetch *f = calloc(1, sizeof *f);

	if (!f)
		return;
	f->ctx = c;
	memcpy(f->id, id, STRATA_ID_LEN);
	pthread_mutex_lock(&c->tmu);
	f->next = c->tfetch;
	c->tfetch = f;
	pthread_mutex_unlock(&c->tmu);
	if (workpool_submit(c->tpool, tree_fetch_job, f, 1) != 0) {
		pthread_mutex_lock(&c->tmu);
		f->done = 1;
		f->rc = -ENOMEM;       /* restore_trees_get retries it itself */
		pthread_mutex_unlock(&c->tmu);
	}
}

/* The tree id: prefetched if it was, else loaded now. */
int restore_trees_get(Ctx *c, const uint8_t id[STRATA_ID_LEN], Tree *out)
{
	TreeFetch **pp, *f = NULL;
	int rc;

	if (c->tpool) {
		pthread_mutex_lock(&c->tmu);
		for (pp = &c->tfetch; *pp; pp = &(*pp)->next)
			if (memcmp((*pp)->id, id, STRATA_ID_LEN) == 0) {
				f = *pp;
				*pp = f->next;
				break;
			}
		while (f && !f->done)
			pthread_cond_wait(&c->tcv, &c->tmu);
		pthread_mutex_unlock(&c->tmu);
	}
	if (!f || f->rc == -ENOMEM) {
		free(f);
		return tree_load(c->repo, id, out, c->err);
	}
	rc = f->rc;
	if (rc == 0)
		*out = f->t;
	else if (c->err)
		*c->err = f->err;
	free(f);
	return rc;
}

/* After the pool has stopped: trees prefetched but never used (the
 * restore stopped early). */
void restore_trees_free(Ctx *c)
{
	while (c->tfetch) {
		TreeFetch *f = c->tfetch;
		c->tfetch = f->next;
		if (f->done && f->rc == 0)
			tree_clear(&f->t);
		free(f);
	}
}
