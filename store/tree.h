/* tree.h — directory trees: one tree object per directory.
 *
 * Owns: TreeNode (one directory entry with its metadata and, for a regular
 * file, its chunk list), the versioned tree serialization (FORMAT.md
 * "Tree object"), storing a tree as metadata chunks, loading it back, and a
 * depth-first walk of a snapshot's tree.
 *
 * Never: reads source files or data chunks.
 * Thread safety: tree_encode/tree_decode are pure; tree_load/tree_walk use
 * the Repo's reader and may be called from several threads.
 */
#ifndef STRATA_STORE_TREE_H
#define STRATA_STORE_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"

enum TreeNodeType {
	NODE_FILE    = 1,
	NODE_DIR     = 2,
	NODE_SYMLINK = 3,
	NODE_FIFO    = 4,
	NODE_CHARDEV = 5,
	NODE_BLOCKDEV= 6,
	NODE_SOCKET  = 7
};

typedef struct TreeNode {
	char    *name;          /* NUL-terminated; any bytes but '/' and NUL */
	uint8_t  type;          /* enum TreeNodeType */
	uint32_t mode;          /* permission bits incl. setuid/setgid/sticky (07777) */
	uint32_t uid, gid;
	int64_t  mtime_ns;
	uint64_t size;          /* file: content bytes; symlink: target length */
	uint64_t dev, ino;      /* source identity, for hard links and the files cache */
	uint32_t nlink;
	uint64_t rdev;          /* devices */
	char    *link_target;   /* symlink only */
	uint8_t  subtree[STRATA_ID_LEN];   /* dir only */
	uint8_t (*chunks)[STRATA_ID_LEN];  /* file only, in order */
	uint32_t *chunk_lens;              /* raw length of each chunk */
	size_t   nchunks;
} TreeNode;

typedef struct Tree {
	TreeNode *nodes;        /* sorted by name (bytewise) */
	size_t    n;
	size_t    cap;
} Tree;

/* tree_add — append a node (takes ownership of its pointers). -ENOMEM. */
int tree_add(Tree *t, TreeNode *node);

/* tree_sort — sort nodes by name, as the encoding requires. */
void tree_sort(Tree *t);

/* tree_encode — serialize t (sorted) to *out (malloc'ed). */
int tree_encode(const Tree *t, uint8_t **out, size_t *out_len);

/* tree_decode — parse bytes from an untrusted source. STRATA_EFORMAT with a
 * message on any malformed field, STRATA_EVERSION on a newer tree version. */
int tree_decode(const uint8_t *buf, size_t len, Tree *out, StrataErr *err);

/* tree_clear — free every node of t and the array; t becomes empty. */
void tree_clear(Tree *t);
void tree_node_clear(TreeNode *node);

typedef struct BlobWriter BlobWriter;
typedef struct CodecCtx CodecCtx;

/* tree_store — encode t and store it through bw (as one tree blob, or as
 * tree parts cut by the repository's chunker when large); *out_id is the
 * tree's ID. Identical trees get identical IDs and are stored once. */
int tree_store(Repo *repo, BlobWriter *bw, CodecCtx *ctx, const Tree *t,
               uint8_t out_id[STRATA_ID_LEN], StrataErr *err);

/* A tree stored as it is encoded, node by node, for directories whose
 * serialization should not be held whole (a directory of large files:
 * ~35 bytes a chunk). tree_stream_begin takes the final node count; then
 * every node in name order: tree_stream_node encodes it whole
 * (with_chunks) or up to its file chunk list, which the caller then gives
 * as TYPE_DATA bytes (tree_file_data) through tree_stream_raw, in one or
 * more pieces. tree_stream_finish stores the tree and sets *out_id: the
 * same bytes, parts and ID as tree_store of the same nodes. After a
 * failure every call returns it. tree_stream_free (NULL ok) always. */
typedef struct TreeStream TreeStream;
int tree_stream_begin(TreeStream **out, Repo *repo, BlobWriter *bw, CodecCtx *ctx, size_t count);
int tree_stream_node(TreeStream *s, const TreeNode *n, int with_chunks, StrataErr *err);
int tree_stream_raw(TreeStream *s, const uint8_t *p, size_t len, StrataErr *err);
int tree_stream_finish(TreeStream *s, uint8_t out_id[STRATA_ID_LEN], StrataErr *err);
void tree_stream_free(TreeStream *s);

/* tree_file_data — n entries of a file node's TYPE_DATA into out, which
 * holds TREE_FILE_DATA_MAX(n) bytes, preceded by NCHUNKS = total when
 * first is set (a long list may go in pieces); returns the bytes written. */
#define TREE_FILE_DATA_MAX(n) (10 + (size_t)(n) * (STRATA_ID_LEN + 5))
size_t tree_file_data(uint8_t *out, int first, size_t total, const uint8_t (*ids)[STRATA_ID_LEN],
                      const uint32_t *lens, size_t n);

/* A stored tree object, parsed (FORMAT.md §11): the first byte says
 * whether the tree's bytes follow (FORMAT_TREE_INLINE) or a part list
 * (FORMAT_TREE_PARTS: NPARTS uvarint, then NPARTS x (ID(32) || LEN
 * uvarint)), whose parts' bytes, concatenated in order, are the tree. */
typedef struct TreePart {
	uint8_t  id[STRATA_ID_LEN];     /* a BLOB_TREEPART blob */
	uint64_t len;                   /* its raw length */
} TreePart;

typedef struct TreeObject {
	const uint8_t *tree;            /* inline: the tree's bytes (into the object), else NULL */
	size_t   tree_len;
	TreePart *parts;                /* parts form: malloc'ed, else NULL */
	size_t   nparts;
	uint64_t parts_len;             /* sum of the parts' lengths (at most 2 GiB) */
} TreeObject;

/* tree_object_parse — the stored tree object obj[0..len) (a BLOB_TREE
 * blob's plaintext) into *out, without reading any part; out->tree points
 * into obj. Returns 0; STRATA_EFORMAT when the kind is unknown
 * (*out_unknown_kind set to 1) or the part list is malformed (a short
 * entry, a count larger than the bytes can hold, parts adding up to more
 * than 2 GiB); -ENOMEM. No message: the caller names the tree. Clear with
 * tree_object_clear. */
int tree_object_parse(const uint8_t *obj, size_t len, TreeObject *out, int *out_unknown_kind);
void tree_object_clear(TreeObject *o);

/* tree_load — load and decode tree id from the repository. */
int tree_load(Repo *repo, const uint8_t id[STRATA_ID_LEN], Tree *out, StrataErr *err);

/* tree_walk — depth-first pre-order walk from root. fn gets the path
 * relative to the snapshot root ("a/b/c", no leading slash) and the node;
 * returning non-zero stops the walk with that value. */
typedef int (*TreeWalkFn)(const char *path, const TreeNode *node, void *ctx);
int tree_walk(Repo *repo, const uint8_t root[STRATA_ID_LEN], TreeWalkFn fn, void *ctx, StrataErr *err);

/* tree_lookup — the node at path ("a/b/c"; "" or "/" means the root, whose
 * node is a synthetic directory). The returned node is deep-copied into out;
 * free with tree_node_clear. STRATA_ENOTFOUND naming path. */
int tree_lookup(Repo *repo, const uint8_t root[STRATA_ID_LEN], const char *path,
                TreeNode *out, StrataErr *err);

#endif
