/* fuzz_tree.c — tree_decode on untrusted bytes (FORMAT.md §11 "Tree
 * object", the serialization inside a tree blob).
 *
 * Properties: no crash, leak or undefined behaviour; a failure leaves the
 * tree empty; an accepted tree has strictly sorted valid names, chunk
 * lengths that add up to each file's size, a symlink target without NUL;
 * and encoding is a fixed point: encode(decode(x)) decodes, and encodes
 * again to the same bytes.
 */
#include "fuzz/fuzz.h"
#include "store/tree.h"

static void check_tree(const Tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const TreeNode *n = &t->nodes[i];
		uint64_t total = 0;
		FUZZ_ASSERT(n->name && n->name[0] && !strchr(n->name, '/'));
		FUZZ_ASSERT(strcmp(n->name, ".") != 0 && strcmp(n->name, "..") != 0);
		FUZZ_ASSERT(i == 0 || strcmp(t->nodes[i - 1].name, n->name) < 0);
		FUZZ_ASSERT(n->mode <= 07777);
		for (size_t c = 0; c < n->nchunks; c++) {
			FUZZ_ASSERT(n->chunk_lens[c] > 0);
			total += n->chunk_lens[c];
		}
		if (n->type == NODE_FILE)
			FUZZ_ASSERT(total == n->size);
		else
			FUZZ_ASSERT(n->nchunks == 0);
		FUZZ_ASSERT((n->type == NODE_SYMLINK) == (n->link_target != NULL));
		if (n->link_target)
			FUZZ_ASSERT(n->link_target[0] != '\0');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Tree t, t2, t3;
	StrataErr err = {0};
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t enc_len = 0, enc2_len = 0;
	int rc;

	rc = tree_decode(data, size, &t, &err);
	if (rc) {
		FUZZ_ASSERT(rc == STRATA_EFORMAT || rc == STRATA_EVERSION);
		FUZZ_ASSERT(t.n == 0 && t.nodes == NULL && err.code == rc && err.msg[0]);
		return 0;
	}
	check_tree(&t);
	FUZZ_ASSERT(tree_encode(&t, &enc, &enc_len) == 0);
	FUZZ_ASSERT(enc_len <= size);   /* canonical form never grows */
	rc = tree_decode(enc, enc_len, &t2, &err);
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(t2.n == t.n);
	check_tree(&t2);
	FUZZ_ASSERT(tree_encode(&t2, &enc2, &enc2_len) == 0);
	FUZZ_ASSERT(enc2_len == enc_len && memcmp(enc, enc2, enc_len) == 0);
	FUZZ_ASSERT(tree_decode(enc2, enc2_len, &t3, &err) == 0);
	tree_clear(&t3);
	tree_clear(&t2);
	tree_clear(&t);
	free(enc);
	free(enc2);
	return 0;
}
