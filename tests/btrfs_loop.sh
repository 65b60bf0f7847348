# btrfs_loop.sh — sourced by e2e scripts after e2e_lib.sh: a btrfs
# filesystem of its own on a loop device (truncate + mkfs.btrfs + mount -o
# loop), unmounted and removed with the scratch directory.
#
#   btrfs_loop_mount DIR SIZE   mount a new btrfs of SIZE (truncate(1)'s
#                               units, e.g. 512M) at DIR; returns 1 and
#                               sets BTRFS_SKIP to why when this machine
#                               cannot (not root, no btrfs-progs, loop
#                               mounts refused)
#   btrfs_loop_umount           unmount it (also done at exit)
BTRFS_SKIP=""
BTRFS_MNT=""
btrfs_loop_umount() {
	[ -n "$BTRFS_MNT" ] || return 0
	umount "$BTRFS_MNT" 2>/dev/null || umount -l "$BTRFS_MNT" 2>/dev/null
	BTRFS_MNT=""
}
btrfs_loop_mount() {
	if [ "$(id -u)" != 0 ]; then
		BTRFS_SKIP="needs root for a loop mount"
		return 1
	fi
	if ! command -v mkfs.btrfs >/dev/null 2>&1 || ! command -v btrfs >/dev/null 2>&1; then
		BTRFS_SKIP="mkfs.btrfs and btrfs are missing: apt-get install btrfs-progs (make test-deps)"
		return 1
	fi
	mkdir -p "$1" || return 1
	truncate -s "$2" "$T/btrfs.img" && mkfs.btrfs -q -f "$T/btrfs.img" >/dev/null 2>"$T/mkfs.err" ||
		{ BTRFS_SKIP="mkfs.btrfs failed: $(head -c 200 "$T/mkfs.err")"; return 1; }
	if ! mount -o loop "$T/btrfs.img" "$1" 2>"$T/mount.err"; then
		BTRFS_SKIP="loop mounts are refused here: $(head -c 200 "$T/mount.err")"
		return 1
	fi
	BTRFS_MNT=$1
	return 0
}
