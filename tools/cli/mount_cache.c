/* mount_cache.c — the tree and chunk caches of `strata mount`, see
 * mount_cache.h. */
#include "tools/cli/mount_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/snapshot.h"
#include "tools/cli/cli_exit.h"

int mount_cache_tree(MountCache *c, const uint8_t id[STRATA_ID_LEN], const Tree **out)
{
	StrataErr err = { 0, "" };
	MountTreeSlot *victim = &c->trees[0];
	Tree t = { NULL, 0, 0 };
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	for (size_t i = 0; i < MOUNT_TREE_CACHE_N; i++) {
		MountTreeSlot *s = &c->trees[i];
		if (s->used && !memcmp(s->id, id, STRATA_ID_LEN)) {
			s->used = ++c->clock;
			*out = &s->tree;
			return 0;
		}
		if (s->used < victim->used)
			victim = s;
	}
	if ((rc = tree_load(c->repo, id, &t, &err)) != 0) {
		strata_id_hex(id, hex);
		cli_warn("mount: tree %s: %s", hex, err.msg[0] ? err.msg : strata_strerror(rc));
		return rc == -ENOMEM ? -ENOMEM : -EIO;
	}
	tree_clear(&victim->tree);
	victim->tree = t;
	memcpy(victim->id, id, STRATA_ID_LEN);
	victim->used = ++c->clock;
	*out = &victim->tree;
	return 0;
}

int mount_cache_chunk(MountCache *c, const uint8_t id[STRATA_ID_LEN], uint32_t want_len,
                      const char *path, const uint8_t **out_data)
{
	StrataErr err = { 0, "" };
	MountChunkSlot *victim = &c->chunks[0];
	uint8_t *data = NULL;
	size_t len = 0;
	char hex[STRATA_ID_HEX_LEN + 1];
	int rc;

	for (size_t i = 0; i < MOUNT_CHUNK_CACHE_N; i++) {
		MountChunkSlot *s = &c->chunks[i];
		if (s->used && !memcmp(s->id, id, STRATA_ID_LEN)) {
			s->used = ++c->clock;
			*out_data = s->data;
			return 0;
		}
		if (s->used < victim->used)
			victim = s;
	}
	strata_id_hex(id, hex);
	if ((rc = blob_read(c->repo, c->codec, BLOB_DATA, id, &data, &len, &err)) != 0) {
		cli_warn("mount: %s: %s", path, err.msg[0] ? err.msg : strata_strerror(rc));
		return rc == -ENOMEM ? -ENOMEM : -EIO;
	}
	if (len != want_len) {
		cli_warn("mount: %s: chunk %s holds %zu bytes, its tree says %u", path, hex, len, want_len);
		free(data);
		return -EIO;
	}
	free(victim->data);
	victim->data = data;
	victim->len = len;
	memcpy(victim->id, id, STRATA_ID_LEN);
	victim->used = ++c->clock;
	*out_data = victim->data;
	return 0;
}

void mount_cache_free(MountCache *c)
{
	for (size_t i = 0; i < MOUNT_TREE_CACHE_N; i++)
		tree_clear(&c->trees[i].tree);
	for (size_t i = 0; i < MOUNT_CHUNK_CACHE_N; i++)
		free(c->chunks[i].data);
}
