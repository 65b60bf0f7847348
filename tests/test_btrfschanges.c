/* test_btrfschanges.c — unit tests for the item rule of
 * store/backup/btrfschanges.c (tools/cli/doc/changes.md "Why after N"):
 * with the recorded snapshot's transaction N, an inode item, a directory
 * entry or an extent written in N+1 or later marks its inode (a directory
 * to list again, anything else to stat); written in N only a directory
 * entry naming a subvolume root does (a snapshot's creation adds it after
 * copying the root); in a collision item any one entry decides; short
 * items are refused. The items are built as the kernel lays them out
 * (linux/btrfs_tree.h, little-endian).
 */
#include "store/backup/btrfschanges.h"
#include "tests/check.h"

#include <endian.h>
#include <errno.h>
#include <linux/btrfs_tree.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#define N 100

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static size_t inode_item(uint8_t *b, uint64_t transid, uint32_t mode)
{
	memset(b, 0, sizeof(struct btrfs_inode_item));
	put64(b + offsetof(struct btrfs_inode_item, transid), transid);
	put32(b + offsetof(struct btrfs_inode_item, mode), mode);
	return sizeof(struct btrfs_inode_item);
}

/* One entry of a DIR_ITEM/DIR_INDEX at b: location key type loc_type,
 * transid, a name of name_len bytes. Its size. */
static size_t dir_entry(uint8_t *b, uint64_t transid, uint8_t loc_type, uint16_t name_len)
{
	size_t n = sizeof(struct btrfs_dir_item) + name_len;

	memset(b, 'n', n);
	memset(b, 0, sizeof(struct btrfs_dir_item));
	b[offsetof(struct btrfs_dir_item, location) + offsetof(struct btrfs_disk_key, type)] = loc_type;
	put64(b + offsetof(struct btrfs_dir_item, transid), transid);
	put16(b + offsetof(struct btrfs_dir_item, name_len), name_len);
	put16(b + offsetof(struct btrfs_dir_item, data_len), 0);
	return n;
}

static void test_inode_items(void)
{
	uint8_t b[256];
	size_t n;

	n = inode_item(b, N, S_IFREG | 0644);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_INODE_ITEM_KEY, b, n, N), 0);
	n = inode_item(b, N - 1, S_IFDIR | 0755);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_INODE_ITEM_KEY, b, n, N), 0);
	n = inode_item(b, N + 1, S_IFREG | 0644);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_INODE_ITEM_KEY, b, n, N), BTRFSCHANGES_OTHER);
	n = inode_item(b, N + 1, S_IFDIR | 0755);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_INODE_ITEM_KEY, b, n, N), BTRFSCHANGES_DIR);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_INODE_ITEM_KEY, b, n - 1, N), -EIO);
}

static void test_dir_entries(void)
{
	uint8_t b[512];
	size_t n;

	/* In N: a file's entry is in the snapshot; a subvolume's may not be. */
	n = dir_entry(b, N, BTRFS_INODE_ITEM_KEY, 5);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_DIR_ITEM_KEY, b, n, N), 0);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_DIR_INDEX_KEY, b, n, N), 0);
	n = dir_entry(b, N, BTRFS_ROOT_ITEM_KEY, 7);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_DIR_ITEM_KEY, b, n, N), BTRFSCHANGES_DIR);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_DIR_INDEX_KEY, b, n, N), BTRFSCHANGES_DIR);
	/* Before N: neither. After N: both. */
	n = dir_entry(b, N - 1, BTRFS_ROOT_ITEM_KEY, 7);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_DIR_ITEM_KEY, b, n, N), 0);
	n = dir_entry(b, N + 1, BTRFS_INODE_ITEM_KEY, 5);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_DIR_ITEM_KEY, b, n, N), BTRFSCHANGES_DIR);
	/* Name hashes that collide share an item: the second entry decides. */
	n = dir_entry(b, N - 5, BTRFS_INODE_ITEM_KEY, 9);
	n += dir_entry(b + n, N + 2, BTRFS_INODE_ITEM_KEY, 3);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_DIR_ITEM_KEY, b, n, N), BTRFSCHANGES_DIR);
	/* ... and an entry cut short by the item's end is not read. */
	CHECK_EQ_INT(btrfschanges_item(BTRFS_DIR_ITEM_KEY, b, n - 4, N), 0);
}

static void test_extents_and_others(void)
{
	uint8_t b[64] = {0};

	put64(b + offsetof(struct btrfs_file_extent_item, generation), N);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_EXTENT_DATA_KEY, b, sizeof b, N), 0);
	put64(b + offsetof(struct btrfs_file_extent_item, generation), N + 1);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_EXTENT_DATA_KEY, b, sizeof b, N), BTRFSCHANGES_OTHER);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_EXTENT_DATA_KEY, b, 7, N), -EIO);
	/* Other item types (refs, xattrs) do not mark by themselves. */
	CHECK_EQ_INT(btrfschanges_item(BTRFS_INODE_REF_KEY, b, sizeof b, N), 0);
	CHECK_EQ_INT(btrfschanges_item(BTRFS_XATTR_ITEM_KEY, b, sizeof b, N), 0);
}

int main(void)
{
	RUN(test_inode_items);
	RUN(test_dir_entries);
	RUN(test_extents_and_others);
	return CHECK_EXIT();
}
