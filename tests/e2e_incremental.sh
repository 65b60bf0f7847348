#!/bin/sh
# e2e_incremental.sh — the files cache and append-aware incrementals:
# unchanged files are not read, appended files are read from their old last
# chunk, in-place rewrites are caught through ctime, and a missing or
# damaged cache only costs speed (the snapshot's tree is identical).
# Three parts with their own repositories, side by side under tests/run.sh:
# e2e-parts: files wide large
. "$(dirname "$0")/e2e_lib.sh"

S="$STRATA -r $R"
# The subtree ID of the source directory: equal IDs = identical contents.
# (The root tree also records the directories above the source, whose
# mtimes move as other programs use /tmp.)
tree_of() { $S ls "$1" "$SRC" --json | python3 -c "import json,sys; print([e['subtree'] for e in json.load(sys.stdin) if e['path']=='${SRC#/}'][0])"; }
# same_id NAME A B — pass when A and B are the same non-empty tree ID (two
# failed lookups would otherwise compare equal).
same_id() { if [ -n "$2" ] && [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "tree IDs \"$2\" and \"$3\"${4:+: $4}"; fi; }

SRC=$T/a/src
O=$T/o
mkdir -p "$SRC/sub" "$O"
if e2e_part files || e2e_part wide; then
	expect init $S init
fi

if e2e_part files; then
head -c 20000000 /dev/urandom >"$SRC/blocks.dat"
head -c 3000000 /dev/urandom >"$SRC/sub/table.ldb"
printf 'hello\n' >"$SRC/sub/small"

# 1. First backup reads everything.
$S backup "$SRC" --json >"$O/b1.json" 2>"$O/err" || fail first-backup "$(cat "$O/err")"
read1=$(json_in 'd["summary"]["bytes_read"]' <"$O/b1.json")
[ "$read1" -eq 23000006 ] && pass first-backup-reads-all || fail first-backup-reads-all "bytes_read=$read1"

# 2. Unchanged tree: nothing read, no data stored (only the trees of the
# directories above the source may change), files counted unchanged.
$S backup "$SRC" --json >"$O/b2.json" 2>"$O/err" || fail second-backup "$(cat "$O/err")"
r=$(json_in 'd["summary"]["bytes_read"], d["summary"]["bytes_stored"] - d["summary"]["tree_bytes_added"], d["summary"]["files_unchanged"]' <"$O/b2.json")
[ "$r" = "0 0 3" ] && pass unchanged-not-read || fail unchanged-not-read "read/added/unchanged = $r"
same_id unchanged-same-tree "$(tree_of latest)" "$(tree_of "$(json_in 'd["snapshot_id"]' <"$O/b1.json")")"

# 3. Appended file: only the tail (plus the sampled prefix chunks) is read.
head -c 1000000 /dev/urandom >>"$SRC/blocks.dat"
$S backup "$SRC" --json >"$O/b3.json" 2>"$O/err" || fail append-backup "$(cat "$O/err")"
r=$(json_in 'd["summary"]["bytes_read"]' <"$O/b3.json")
# tail: at most one old chunk (128 KiB) + 1 MB new; samples: 17 chunks of at most 128 KiB
if [ "$r" -gt 0 ] && [ "$r" -lt $((1000000 + 18 * 131072)) ]; then pass append-reads-tail; else fail append-reads-tail "bytes_read=$r"; fi
r=$(json_in 'd["summary"]["files_changed"], d["summary"]["files_unchanged"]' <"$O/b3.json")
[ "$r" = "1 2" ] && pass append-counted-changed || fail append-counted-changed "changed/unchanged = $r"
rm -rf "$O/out"
expect append-restore $S restore latest --target "$O/out"
cmp -s "$SRC/blocks.dat" "$O/out$SRC/blocks.dat" && pass append-bit-exact || fail append-bit-exact "restored blocks.dat differs"

# A full re-read gives the same tree as the append-aware path.
$S backup "$SRC" --force-reread --json >"$O/b4.json" 2>"$O/err" || fail reread-backup "$(cat "$O/err")"
[ "$(json_in 'd["summary"]["bytes_read"]' <"$O/b4.json")" -eq 24000006 ] && pass force-reread-reads-all || fail force-reread-reads-all "$(cat "$O/b4.json")"
same_id append-equals-full-rechunk "$(tree_of latest)" "$(tree_of "$(json_in 'd["snapshot_id"]' <"$O/b3.json")")"

# 4. Rewritten in place, same size, mtime forced back: caught by ctime.
touch -r "$SRC/sub/table.ldb" "$O/stamp"
printf 'XXXXXXXX' | dd of="$SRC/sub/table.ldb" bs=1 seek=1000 conv=notrunc 2>/dev/null
touch -r "$O/stamp" "$SRC/sub/table.ldb"
$S backup "$SRC" --json >"$O/b5.json" 2>"$O/err" || fail rewrite-backup "$(cat "$O/err")"
r=$(json_in 'd["summary"]["files_changed"]' <"$O/b5.json")
[ "$r" = "1" ] && pass rewrite-caught-by-ctime || fail rewrite-caught-by-ctime "files_changed=$r"
rm -rf "$O/out"
$S restore latest --target "$O/out" >/dev/null 2>&1
cmp -s "$SRC/sub/table.ldb" "$O/out$SRC/sub/table.ldb" && pass rewrite-restored || fail rewrite-restored "restored table.ldb differs"

# 5. In-place rewrite inside the old prefix while growing, with --verify-prefix=full.
printf 'YYYYYYYY' | dd of="$SRC/blocks.dat" bs=1 seek=5 conv=notrunc 2>/dev/null
head -c 1000 /dev/urandom >>"$SRC/blocks.dat"
$S backup "$SRC" --verify-prefix=full --json >"$O/b6.json" 2>"$O/err" || fail verify-full-backup "$(cat "$O/err")"
rm -rf "$O/out"
$S restore latest --target "$O/out" >/dev/null 2>&1
cmp -s "$SRC/blocks.dat" "$O/out$SRC/blocks.dat" && pass verify-prefix-full-catches-rewrite || fail verify-prefix-full-catches-rewrite "differs"

# 6. The first chunk is always sampled: a rewrite there is caught by default too.
printf 'ZZZZ' | dd of="$SRC/blocks.dat" bs=1 seek=7 conv=notrunc 2>/dev/null
head -c 1000 /dev/urandom >>"$SRC/blocks.dat"
$S backup "$SRC" --json >"$O/b7.json" 2>"$O/err" || fail sample-backup "$(cat "$O/err")"
rm -rf "$O/out"
$S restore latest --target "$O/out" >/dev/null 2>&1
cmp -s "$SRC/blocks.dat" "$O/out$SRC/blocks.dat" && pass sampled-prefix-catches-first-chunk || fail sampled-prefix-catches-first-chunk "differs"

# 7. Deleted cache: full read, same tree.
want=$(tree_of latest)
rm -rf "$STRATA_CACHE_DIR"
$S backup "$SRC" --json >"$O/b8.json" 2>"$O/err" || fail nocache-backup "$(cat "$O/err")"
[ "$(json_in 'd["summary"]["bytes_read"] > 0' <"$O/b8.json")" = "True" ] && pass deleted-cache-reads || fail deleted-cache-reads "$(cat "$O/b8.json")"
same_id deleted-cache-same-tree "$(tree_of latest)" "$want"

# 8. Corrupt cache: every file of the cache overwritten with garbage.
nf=0
for f in $(find "$STRATA_CACHE_DIR" -type f -name 'data.mdb'); do head -c 65536 /dev/urandom >"$f"; nf=$((nf + 1)); done
# The chunk index, the files cache and the snapshot catalogue.
[ "$nf" -ge 3 ] && pass corrupt-cache-files-hit || fail corrupt-cache-files-hit "$nf data.mdb files under $STRATA_CACHE_DIR"
$S backup "$SRC" --json >"$O/b9.json" 2>"$O/err" || fail corrupt-cache-backup "$(cat "$O/err")"
same_id corrupt-cache-same-tree "$(tree_of latest)" "$want" "$(cat "$O/err")"
rm -rf "$O/out"
expect corrupt-cache-restore $S restore latest --target "$O/out"
diff -r "$SRC" "$O/out$SRC" >/dev/null && pass corrupt-cache-restore-identical || fail corrupt-cache-restore-identical "trees differ"

# 9. Parent recorded automatically: the snapshot before it (b8's).
p8=$(json_in 'd["snapshot_id"]' <"$O/b8.json")
$S cat snapshot latest | json_in "d['parent'] == '$p8'" | grep -qx True && pass parent-recorded ||
	fail parent-recorded "latest snapshot's parent is not $p8: $($S cat snapshot latest | head -c 300)"

fi

if e2e_part wide; then
# 10. A wide, deep tree (more entries than the walk keeps queued before it
# waits for the workers: PENDING_NODES in store/backup/backup.c) whose directory
# trees are stored while the walk goes on: restores bit-exactly, every file
# counted once; a change deep in an early directory is picked up.
W=$T/wide
python3 - "$W" <<'PY'
import os, sys, random
root = sys.argv[1]
rnd = random.Random(7)
for a in range(6):
    for b in range(8):
        d = os.path.join(root, "d%d" % a, "e%d" % b)
        os.makedirs(d)
        for i in range(380):
            n = rnd.choice((0, 1, 100, 5000, 70000, 300000)) if i % 50 == 0 else rnd.randrange(0, 400)
            with open(os.path.join(d, "f%03d" % i), "wb") as f:
                f.write(rnd.randbytes(n))
os.symlink("d0/e0/f000", os.path.join(root, "link"))
PY
nw=$(find "$W" -type f | wc -l)
$S backup "$W" --json >"$O/w1.json" 2>"$O/err" || fail wide-backup "$(cat "$O/err")"
[ "$(json_in 'd["summary"]["files"]' <"$O/w1.json")" = "$nw" ] && pass wide-files-counted || fail wide-files-counted "$nw files, summary: $(head -c 300 "$O/w1.json")"
rm -rf "$O/wout"
expect wide-restore $S restore latest --target "$O/wout"
same_tree wide-restore-identical "$W" "$O/wout$W"
head -c 4000 /dev/urandom >"$W/d0/e0/f001"
$S backup "$W" --json >"$O/w2.json" 2>"$O/err" || fail wide-backup-2 "$(cat "$O/err")"
[ "$(json_in 'd["summary"]["files_changed"], d["summary"]["files_unchanged"] + d["summary"]["files_changed"]' <"$O/w2.json")" = "1 $nw" ] &&
	pass wide-one-changed || fail wide-one-changed "$(head -c 300 "$O/w2.json")"
rm -rf "$O/wout"
expect wide-restore-2 $S restore latest --target "$O/wout"
same_tree wide-restore-2-identical "$W" "$O/wout$W"

fi

if e2e_part large; then
# Directories of large files: a done file's chunk list leaves memory for
# the backup's spill (an unlinked file in the cache directory past 1 MiB)
# and comes back when its directory's tree is stored. With 256-byte chunks
# three 6 MB files make ~70,000 chunks, 2.6 MB of lists: past the memory
# part. The restore is bit-exact, a re-read backup gives the same tree ID
# (the lists read back are the ones written), and nothing is left behind.
R2=$T/repo-small-chunks
S2="$STRATA -r $R2"
L=$T/large
mkdir -p "$L/blocks"
for i in 1 2 3; do head -c 6000000 /dev/urandom >"$L/blocks/blk$i.dat"; done
printf 'x\n' >"$L/blocks/a-small"
printf 'y\n' >"$L/z-small"
expect large-init $S2 init --chunk-min 64 --chunk-avg 256 --chunk-max 1024
$S2 backup "$L" --json >"$O/l1.json" 2>"$O/err" || fail large-backup "$(cat "$O/err")"
rm -rf "$O/lout"
expect large-restore $S2 restore latest --target "$O/lout"
same_tree large-restore-identical "$L" "$O/lout$L"
tree2_of() { $S2 ls "$1" "$L" --json | python3 -c "import json,sys; print([e['subtree'] for e in json.load(sys.stdin) if e['path']=='${L#/}'][0])"; }
$S2 backup "$L" --force-reread --json >"$O/l2.json" 2>"$O/err" || fail large-reread "$(cat "$O/err")"
t1=$(tree2_of "$(json_in 'd["snapshot_id"]' <"$O/l1.json")"); t2=$(tree2_of latest)
[ -n "$t1" ] && [ "$t1" = "$t2" ] && pass large-reread-same-tree || fail large-reread-same-tree "$t1 vs $t2"
# The spill file lives in the repository's cache directory, unnamed
# (O_TMPFILE) or unlinked at once: nothing but the caches' LMDB files and
# the record of the key that opened last (last-key/, FORMAT.md §16) and
# what change tracking starts from next time (changes/) stay.
left=$(find "$STRATA_CACHE_DIR" -type f ! -name data.mdb ! -name lock.mdb ! -path '*/last-key/*' ! -path '*/changes/*')
[ -z "$left" ] && [ -n "$(find "$STRATA_CACHE_DIR" -type f -name data.mdb)" ] && pass large-no-spill-left ||
	fail large-no-spill-left "left in $STRATA_CACHE_DIR: $left"
expect large-check $S2 check --read-data
fi

e2e_done
