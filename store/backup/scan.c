/* scan.c — see scan.h.
 *
 * Every directory queued or listed has a Node, found by path in a hash
 * table until the walk takes it. States: QUEUED (on the stack, in the
 * table), RUNNING (being listed by a worker or the taker), DONE (listed,
 * waiting in the table). The stack is last in, first out, and a listed
 * directory pushes its subdirectories last-to-first, so the workers list
 * in the walk's own depth-first order. Workers stop starting listings
 * while DONE ones hold more than AHEAD_ENTRIES entries or AHEAD_DIRS
 * directories: the memory of running ahead is bounded (~200 bytes an
 * entry), and the walk never waits for that budget, since it lists what
 * it finds QUEUED itself.
 */
#include "store/backup/scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AHEAD_ENTRIES 65536
#define AHEAD_DIRS 4096
#define BUCKETS 4096            /* a power of two */
#define MAX_THREADS 8

enum { QUEUED, RUNNING, DONE };

typedef struct Node {
	struct Node *next;            /* in its bucket */
	char *path;
	uint64_t hash;
	int state;
	ScanDir dir;
} Node;

struct Scan {
	ScanOptions o;
	pthread_mutex_t mu;
	pthread_cond_t work;          /* workers: something queued, or stop */
	pthread_cond_t done;          /* the taker: a listing finished */
	Node *table[BUCKETS];
	Node **stack;
	size_t nstack, stack_cap;
	size_t ahead_entries, ahead_dirs;
	int stop;
	pthread_t *threads;
	unsigned nthreads;
};

static uint64_t hash_path(const char *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;   /* FNV-1a */
	for (; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	return h;
}

static Node **slot_of(Scan *s, const char *path, uint64_t h)
{
	Node **pp = &s->table[h & (BUCKETS - 1)];
	while (*pp && ((*pp)->hash != h || strcmp((*pp)->path, path) != 0))
		pp = &(*pp)->next;
	return pp;
}

void scan_dir_clear(ScanDir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	memset(d, 0, sizeof *d);
}

static void node_free(Node *n)
{
	if (!n)
		return;
	scan_dir_clear(&n->dir);
	free(n->path);
	free(n);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const ScanEntry *)a)->name, ((const ScanEntry *)b)->name);
}

/* List path into *d (no lock held): names, sorted, excluded ones out,
 * each one's lstat. Only -ENOMEM is returned; what the filesystem says
 * goes in d->err and the entries' err. */
static int list_dir(const Scan *s, const char *path, ScanDir *d)
{
	char full[PATH_MAX];
	size_t cap = 0, plen = strcmp(path, "/") == 0 ? 0 : strlen(path);
	struct dirent *de;
	DIR *dir;
	int fd;

	memset(d, 0, sizeof *d);
	/* As opendir does (the serial walk's call): a symlink put there
	 * since the lstat is followed, and then seen as a change. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		d->err = -errno;
		if (fd >= 0)
			close(fd);
		return 0;
	}
	memcpy(full, path, plen);
	full[plen] = '/';
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		size_t nlen = strlen(de->d_name);
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (s->o.excluded && plen + 1 + nlen < sizeof full) {
			memcpy(full + plen + 1, de->d_name, nlen + 1);
			if (s->o.excluded(s->o.excluded_ctx, full, de->d_name))
				continue;
		}
		if (d->n == cap) {
			size_t ncap = cap ? 2 * cap : 32;
			ScanEntry *p = realloc(d->e, ncap * sizeof *p);
			if (!p)
				goto nomem;
			d->e = p;
			cap = ncap;
		}
		if (!(d->e[d->n].name = strdup(de->d_name)))
			goto nomem;
		d->e[d->n].err = 0;
		d->n++;
	}
	if (d->n > 1)
		qsort(d->e, d->n, sizeof *d->e, cmp_entry);
	/* After the whole listing, as the serial walk stats after listing. */
	for (size_t i = 0; i < d->n; i++)
		if (fstatat(fd, d->e[i].name, &d->e[i].st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) != 0)
			d->e[i].err = -errno;
	closedir(dir);
	return 0;
nomem:
	closedir(dir);
	scan_dir_clear(d);
	return -ENOMEM;
}

/* Queue d's subdirectories (below path), last first so the first is on
 * top. Lock held. A subdirectory not queued (no memory, path too long,
 * already known) is listed by the taker: only speed is lost. */
static void push_subdirs(Scan *s, const char *path, const ScanDir *d)
{
	size_t plen = strcmp(path, "/") == 0 ? 0 : strlen(path);

	for (size_t i = d->n; i > 0; i--) {
		const ScanEntry *e = &d->e[i - 1];
		size_t nlen;
		Node *n, **pp;
		if (e->err || !S_ISDIR(e->st.st_mode))
			continue;
		if (s->o.skip && e->st.st_dev == s->o.skip_dev && e->st.st_ino == s->o.skip_ino)
			continue;
		nlen = strlen(e->name);
		if (plen + 1 + nlen >= PATH_MAX)
			continue;
		if (s->nstack == s->stack_cap) {
			size_t cap = s->stack_cap ? 2 * s->stack_cap : 256;
			Node **p = realloc(s->stack, cap * sizeof *p);
			if (!p)
				return;
			s->stack = p;
			s->stack_cap = cap;
		}
		n = calloc(1, sizeof *n);
		if (!n || !(n->path = malloc(plen + nlen + 2))) {
			free(n);
			return;
		}
		memcpy(n->path, path, plen);
		n->path[plen] = '/';
		memcpy(n->path + plen + 1, e->name, nlen + 1);
		n->hash = hash_path(n->path);
		pp = slot_of(s, n->path, n->hash);
		if (*pp) {
			node_free(n);
			continue;
		}
		*pp = n;
		n->state = QUEUED;
		s->stack[s->nstack++] = n;
	}
	pthread_cond_broadcast(&s->work);
}

static void *worker(void *arg)
{
	Scan *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		Node *n;
		while (!s->stop && (s->nstack == 0 || s->ahead_entries >= AHEAD_ENTRIES || s->ahead_dirs >= AHEAD_DIRS))
			pthread_cond_wait(&s->work, &s->mu);
		if (s->stop)
			break;
		n = s->stack[--s->nstack];
		n->state = RUNNING;
		pthread_mutex_unlock(&s->mu);
		if (list_dir(s, n->path, &n->dir) != 0) {
			/* No memory here: leave it to the taker, who reports it. */
			memset(&n->dir, 0, sizeof n->dir);
			n->dir.err = -ENOMEM;
		}
		pthread_mutex_lock(&s->mu);
		n->state = DONE;
		s->ahead_entries += n->dir.n;
		s->ahead_dirs++;
		push_subdirs(s, n->path, &n->dir);
		pthread_cond_broadcast(&s->done);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

unsigned scan_threads(void)
{
	const char *e = getenv("STRATA_SCAN_THREADS");
	long n;

	if (e && *e) {
		char *end;
		n = strtol(e, &end, 10);
		if (*end == '\0' && n >= 0)
			return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
	}
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2)
		n = 2;
	return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

int scan_new(const ScanOptions *o, Scan **out)
{
	Scan *s = calloc(1, sizeof *s);
	unsigned want = o->threads > MAX_THREADS ? MAX_THREADS : o->threads;

	if (!s)
		return -ENOMEM;
	s->o = *o;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->done, NULL);
	if (want && !(s->threads = calloc(want, sizeof *s->threads))) {
		scan_free(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < want; i++) {
		if (pthread_create(&s->threads[i], NULL, worker, s) != 0)
			break;
		s->nthreads++;
	}
	*out = s;
	return 0;
}

int scan_take(Scan *s, const char *path, ScanDir *out)
{
	uint64_t h = hash_path(path);
	Node **pp, *n;
	int rc;

	pthread_mutex_lock(&s->mu);
	pp = slot_of(s, path, h);
	while (*pp && (*pp)->state == RUNNING) {
		pthread_cond_wait(&s->done, &s->mu);
		pp = slot_of(s, path, h);
	}
	n = *pp;
	if (n && n->state == DONE && n->dir.err == -ENOMEM) {
		/* A worker ran out of memory: list it here, reporting that. */
		s->ahead_entries -= n->dir.n;
		s->ahead_dirs--;
		*pp = n->next;
		node_free(n);
		n = NULL;
	}
	if (n && n->state == DONE) {
		*pp = n->next;
		s->ahead_entries -= n->dir.n;
		s->ahead_dirs--;
		pthread_cond_broadcast(&s->work);
		pthread_mutex_unlock(&s->mu);
		*out = n->dir;
		memset(&n->dir, 0, sizeof n->dir);
		node_free(n);
		return 0;
	}
	if (n) {
		/* Queued: take it off the stack (near the top: the walk goes
		 * in the stack's order) and list it here. */
		for (size_t i = s->nstack; i > 0; i--)
			if (s->stack[i - 1] == n) {
				memmove(&s->stack[i - 1], &s->stack[i], (s->nstack - i) * sizeof *s->stack);
				s->nstack--;
				break;
			}
		*pp = n->next;
		node_free(n);
	}
	pthread_mutex_unlock(&s->mu);
	rc = list_dir(s, path, out);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	push_subdirs(s, path, out);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void scan_free(Scan *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	free(s->threads);
	for (size_t b = 0; b < BUCKETS; b++)
		while (s->table[b]) {
			Node *n = s->table[b];
			s->table[b] = n->next;
			node_free(n);
		}
	free(s->stack);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->done);
	free(s);
}
