#!/bin/sh
# e2e_restore_batches.sh — restores the read planner cuts into batches
# (store/restore/restore.c): by open files, under a low RLIMIT_NOFILE (batches of
# 64 files), and by chunk references, with a file of more than 128 Ki
# chunks that stays open across two batches. Each restore must be
# bit-exact, and its request count must show the batches: a batch fetches
# its own ranges, so a pack two batches both need is fetched twice.
. tests/e2e_lib.sh

# requests — the "requests" of the restore --json in $T/out.
requests() {
	python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$T/out" 2>/dev/null
}

# data_packs REPO — how many data packs a local repository holds.
data_packs() {
	find "$1/data" -type f ! -name '.tmp-*' | wc -l | tr -d ' '
}

# ---- by open files: 200 files of 3,000 bytes, all in one pack ----
S="$T/small"
mkdir -p "$S"
python3 -S - "$S" <<'PY'
import os, random, sys
random.seed(11)
for i in range(200):
    with open(os.path.join(sys.argv[1], "f%03d" % i), "wb") as f:
        f.write(random.randbytes(3000))
PY
expect files_init "$STRATA" -r "$R" init
expect files_backup "$STRATA" -r "$R" backup "$S"
expect files_restore_unbatched "$STRATA" -r "$R" restore latest --target "$T/r1" --json
n=$(requests)
[ "$n" = 1 ] && pass files_one_request || fail files_one_request "requests $n, wanted 1 (one pack, one batch)"
same_tree files_unbatched_exact "$S" "$T/r1$S"
# 128 descriptors: half for the batch's files, less 64 for the rest, is
# the 64-file floor: 200 files make batches of 64, 64, 64 and 8.
expect files_restore_batched sh -c 'ulimit -n 128 && exec "$@"' sh \
	"$STRATA" -r "$R" restore latest --target "$T/r2" --json
n=$(requests)
[ "$n" = 4 ] && pass files_four_batches || fail files_four_batches "requests $n, wanted 4 (batches of 64 files)"
same_tree files_batched_exact "$S" "$T/r2$S"

# ---- by chunk references: one 100 MB file in ~166,000 chunks of ~600 B ----
R2="$T/repo2"
B="$T/big"
mkdir -p "$B"
python3 -S -c 'import random, sys; random.seed(7); sys.stdout.buffer.write(random.randbytes(100000000))' >"$B/file"
expect refs_init "$STRATA" -r "$R2" init --chunk-min 256 --chunk-avg 512 --chunk-max 1K
expect refs_backup "$STRATA" -r "$R2" backup "$B"
expect refs_restore "$STRATA" -r "$R2" restore latest --target "$T/r3" --json
n=$(requests)
p=$(data_packs "$R2")
# The file's chunks lie in pack order; the batch boundary at the 131,072nd
# reference falls inside a pack, which both batches fetch.
[ "$n" = $((p + 1)) ] && pass refs_two_batches || fail refs_two_batches "requests $n for $p data packs, wanted $((p + 1))"
if cmp "$B/file" "$T/r3$B/file" >"$T/cmp" 2>&1; then pass refs_exact; else fail refs_exact "$(head -c 300 "$T/cmp")"; fi
e2e_done
