/* restore_ahead.c — files created ahead of the walk (restore_internal.h,
 * AHEAD_DIRS): the walk makes a subdirectory, opens it and loads its tree
 * before it gets there; a pool creates the directory's single-link files
 * (O_EXCL, as the walk would; the final mode at once where safe) and
 * keeps them open; the walk takes each one when it reaches its entry, and
 * does everything else (chunks, metadata) as for a file it created itself.
 *
 * Only a directory this restore has just made (mkdirat succeeded) is
 * prepared, so nothing of anyone else's is in it and no entry can be in
 * a file's way; whatever fails here (a create, the directory, the tree)
 * is left to the walk, which does it again and reports it as before.
 */
#include "store/restore/restore_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A created file's descriptor not yet made (the job's to make). */
#define AHEAD_PLANNED (-2)

int restore_ahead_enabled(const Ctx *c)
{
	const RestoreOptions *o = c->opts;

	return c->cpool && c->nincludes == 0 && o->nexcludes == 0 && o->strip_components == 0 && !o->delta &&
	       !o->delete_strays && !o->dry_run;
}

static void ahead_job(void *arg, void *state)
{
	AheadDir *a = arg;
	Ctx *c = a->ctx;

	(void)state;
	for (size_t j = 0; j < a->t.n; j++) {
		const TreeNode *n = &a->t.nodes[j];
		mode_t mode = 0600;
		if (a->fds[j] != AHEAD_PLANNED)
			continue;
		/* The final mode at once where that shows nobody more than the
		 * restored file will (the owner it will have, no write for
		 * group or others), so the finish has no chmod to do: fstat
		 * tells it what the umask or a default ACL took away. */
		if (!c->is_root || (restore_meta_map_id(&c->users, n->uid) == c->euid &&
		                    restore_meta_map_id(&c->groups, n->gid) == c->egid))
			mode = n->mode & 0755;
		a->fds[j] = openat(a->fd, n->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (a->fds[j] < 0)
			a->fds[j] = -1;
	}
	pthread_mutex_lock(&c->amu);
	a->done = 1;
	pthread_cond_broadcast(&c->acv);
	pthread_mutex_unlock(&c->amu);
}

/* a's directory descriptor (unless the walk took it), tree and memory;
 * its files' descriptors are closed already. */
static void release(Ctx *c, AheadDir *a)
{
	if (a->fd >= 0) {
		close(a->fd);
		c->nahead--;
	}
	tree_clear(&a->t);
	free(a->fds);
	free(a);
}

AheadDir *restore_ahead_prepare(Ctx *c, int dirfd, int private, const TreeNode *n, size_t idx)
{
	AheadDir *a;
	size_t room;

	/* As root under a directory others can change, a new directory is
	 * checked first (restore_node_dir_new): the walk's business. */
	if ((c->is_root && !private) || c->nahead >= c->ahead_max)
		return NULL;
	if (mkdirat(dirfd, n->name, 0700) != 0)
		return NULL;
	a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->ctx = c;
	a->idx = idx;
	a->fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (a->fd < 0)
		goto fail;
	c->nahead++;               /* the directory's descriptor, until the walk takes it */
	if (restore_trees_get(c, n->subtree, &a->t) != 0) {
		memset(&a->t, 0, sizeof a->t);
		goto fail;
	}
	a->fds = malloc((a->t.n ? a->t.n : 1) * sizeof *a->fds);
	if (!a->fds)
		goto fail;
	room = c->ahead_max - c->nahead;
	for (size_t j = 0; j < a->t.n; j++) {
		const TreeNode *f = &a->t.nodes[j];
		a->fds[j] = -1;
		if (f->type == NODE_FILE && f->nlink <= 1 && a->held < room) {
			a->fds[j] = AHEAD_PLANNED;
			a->held++;
		}
	}
	c->nahead += a->held;
	if (a->held == 0 || workpool_submit(c->cpool, ahead_job, a, 1) != 0) {
		for (size_t j = 0; j < a->t.n; j++)
			a->fds[j] = -1;
		c->nahead -= a->held;
		a->held = 0;
		a->done = 1;
	}
	return a;
fail:
	/* The directory stays: the walk finds it made (EEXIST) and goes on
	 * as for any directory already there. */
	release(c, a);
	return NULL;
}

void restore_ahead_wait(Ctx *c, AheadDir *a)
{
	size_t made = 0;

	pthread_mutex_lock(&c->amu);
	while (!a->done)
		pthread_cond_wait(&c->acv, &c->amu);
	pthread_mutex_unlock(&c->amu);
	for (size_t j = 0; j < a->t.n; j++)
		made += a->fds[j] >= 0;
	c->nahead -= a->held - made;
	a->held = made;
}

int restore_ahead_take(Ctx *c, const TreeNode *n)
{
	AheadDir *a = c->cur;
	size_t j;
	int fd;

	if (!a || n < a->t.nodes || n >= a->t.nodes + a->t.n)
		return -1;
	j = (size_t)(n - a->t.nodes);
	fd = a->fds[j];
	if (fd >= 0) {
		a->fds[j] = -1;
		a->held--;
		c->nahead--;
	}
	return fd;
}

void restore_ahead_free(Ctx *c, AheadDir *a)
{
	if (!a)
		return;
	restore_ahead_wait(c, a);
	for (size_t j = 0; j < a->t.n; j++)
		if (a->fds[j] >= 0)
			close(a->fds[j]);
	c->nahead -= a->held;
	release(c, a);
}
