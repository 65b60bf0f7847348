#!/bin/sh
# bench_fssnap.sh — a 1-block incremental with and without
# `--fs-snapshot btrfs`, on the bench set (gen_chain_data) kept on a btrfs
# of its own on a loop device. Needs root (loop mount) and btrfs-progs.
#
#   tools/dev/bench_fssnap.sh [SIZE] [ROUNDS]     (default 2G, 7)
#
# Each round advances the set by one block, backs it up live, advances
# one more block and backs it up with --fs-snapshot btrfs, so both modes
# see the same kind of change. Prints each run and the medians of wall
# time (the whole strata process, snapshot creation and deletion
# included), bytes_read, strata's own duration_s (the read and store,
# without opening the repository and without making and deleting the
# snapshot) and the snapshot's creation time.
set -eu
SIZE=${1:-2G}
ROUNDS=${2:-7}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STRATA=$ROOT/build/strata
GEN=$ROOT/build/tools/dev/gen_chain_data
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-fssnap.XXXXXX")
MNT=$W/mnt
trap 'umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null; rm -rf "$W"' EXIT
[ -x "$GEN" ] || (cd "$ROOT" && make -s build/tools/dev/gen_chain_data)
mkdir -p "$MNT"
truncate -s 6G "$W/img"
mkfs.btrfs -q -f "$W/img" >/dev/null
mount -o loop "$W/img" "$MNT"
btrfs subvolume create "$MNT/node" >/dev/null
DATA=$MNT/node/data
"$GEN" init "$DATA" "$SIZE" >/dev/null
sync
export STRATA_PASSWORD=bench STRATA_CACHE_DIR=$W/cache
R=$W/repo
"$STRATA" -r "$R" init -q
"$STRATA" -r "$R" backup -q "$DATA"
now() { date +%s%N; }
one() { # MODE-ARGS... ; prints "wall_s bytes_read duration_s [create_ms]"
	"$GEN" advance "$DATA" 1 >/dev/null
	sync
	t0=$(now)
	"$STRATA" -r "$R" --json backup "$DATA" "$@" >"$W/out.json"
	t1=$(now)
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d.get("fs_snapshot"); print("%.3f %d %.3f%s" % ((int(sys.argv[2]) - int(sys.argv[3])) / 1e9, d["summary"]["bytes_read"], d["summary"]["duration_s"], " %.1f" % f["sources"][0]["create_ms"] if f else ""))' \
		"$W/out.json" "$t1" "$t0"
}
: >"$W/live"; : >"$W/snap"
i=0
while [ $i -lt "$ROUNDS" ]; do
	i=$((i + 1))
	l=$(one); s=$(one --fs-snapshot btrfs)
	echo "round $i: live $l  fs-snapshot $s"
	echo "$l" >>"$W/live"; echo "$s" >>"$W/snap"
done
med() { sort -n -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { print v[int((NR + 1) / 2)] }'; }
echo "median live:        $(med "$W/live" 1) s, bytes_read $(med "$W/live" 2), backup_run $(med "$W/live" 3) s"
echo "median fs-snapshot: $(med "$W/snap" 1) s, bytes_read $(med "$W/snap" 2), backup_run $(med "$W/snap" 3) s, snapshot made in $(med "$W/snap" 4) ms"
