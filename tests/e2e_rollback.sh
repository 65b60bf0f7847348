#!/bin/sh
# e2e_rollback.sh — rolling a node back in place (issue 30): restore
# --delta over a copy of a snapshot where 3 files changed, a block file
# grew and a stray file exists fetches under 5 % of the snapshot's bytes
# and leaves a tree identical to the snapshot, content and metadata;
# --delta=fast trusts size and mtime; --delete removes strays only below
# the snapshot's paths and the --include paths, never through a symlink;
# --dry-run changes nothing; recovery metrics and --json times.
#
# ROLLBACK_MB (default 48) sizes the snapshot; the issue's measurement
# uses ROLLBACK_MB=1024 (tools/cli/doc/performance.md).
. tests/e2e_lib.sh

MB=${ROLLBACK_MB:-48}
S="$T/node"          # the node's data directory, backed up
mkdir -p "$S/blocks" "$S/state/sub" "$T/outside"
# The snapshot: block files of 4 MiB, state files, a symlink, an empty file.
nblk=$((MB / 4 - 2))
i=0
while [ "$i" -lt "$nblk" ]; do
	head -c 4194304 /dev/urandom >"$S/blocks/blk$(printf %05d "$i").dat"
	i=$((i + 1))
done
for f in a b c d; do head -c 1048576 /dev/urandom >"$S/state/$f.db"; done
head -c 3145728 /dev/urandom >"$S/state/sub/big.db"
echo "small" >"$S/state/sub/small"
: >"$S/state/empty"
ln -s a.db "$S/state/current"
chmod 0640 "$S/state/b.db"
touch -d '2024-01-02 03:04:05.123456789' "$S/state/c.db"
echo outside >"$T/outside/keep"

expect init "$STRATA" -r "$R" init
expect backup "$STRATA" -r "$R" backup "$S" --tag chain --json
total=$(json "$T/out" "d['summary']['bytes_total']")

# meta DIR — one line per entry: path, type, mode, size, mtime, link target.
meta() { (cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | sort); }
# A copy of the snapshot's restore is the node's directory as found.
expect full_restore "$STRATA" -r "$R" restore latest --target "$T/t" --json
N="$T/t$S"
meta "$S" >"$T/want"
meta "$N" >"$T/got"
if cmp -s "$T/want" "$T/got"; then pass "full restore: metadata as backed up"; else fail "full restore: metadata as backed up" "$(diff "$T/want" "$T/got" | head -5)"; fi
full_fetched=$(json "$T/out" "d['bytes_fetched']")

# The node moved on: 3 files changed (bytes overwritten in place, bytes
# inserted in the middle, one truncated), a block file grew, new files.
python3 - "$N" <<'EOF'
import os, sys
n = sys.argv[1]
with open(n + "/state/a.db", "r+b") as f:
    f.seek(300000); f.write(b"CORRUPT!")
with open(n + "/state/sub/big.db", "rb") as f:
    d = f.read()
with open(n + "/state/sub/big.db", "wb") as f:
    f.write(d[:1500000] + b"inserted" * 4096 + d[1500000:])
with open(n + "/state/b.db", "r+b") as f:
    f.truncate(700000)
# A compaction: c.db rewritten as a new table with a record changed, the
# old file removed (a delta restore finds c.db's bytes in the new one).
with open(n + "/state/c.db", "rb") as f:
    d = f.read()
with open(n + "/state/000123.ldb", "wb") as f:
    f.write(d[:600000] + b"NEWRECORD" + d[600000:])
os.unlink(n + "/state/c.db")
EOF
head -c 2000000 /dev/urandom >>"$N/blocks/blk00000.dat"
head -c 4194304 /dev/urandom >"$N/blocks/blk99999.dat"
echo stray >"$N/state/stray.tmp"
mkdir -p "$N/state/newdir/deeper" && echo x >"$N/state/newdir/deeper/f"
ln -s "$T/outside" "$N/state/escape"          # a stray symlink to outside
echo "not the snapshot's" >"$T/t/other"       # beside the restored paths
mkdir -p "$T/t$T/sibling" && echo keep >"$T/t$T/sibling/f"

# --dry-run lists the strays and changes nothing.
meta "$T/t" >"$T/before"
expect dry_run "$STRATA" -r "$R" restore latest --target "$T/t" --delta --delete --dry-run
meta "$T/t" >"$T/after"
if cmp -s "$T/before" "$T/after"; then pass "--dry-run changes nothing"; else fail "--dry-run changes nothing" "$(diff "$T/before" "$T/after" | head -5)"; fi
if grep -qx "would remove ${N#"$T/t/"}/state/stray.tmp" "$T/out" &&
   grep -qx "would remove ${N#"$T/t/"}/state/newdir/" "$T/out" &&
   grep -qx "would remove ${N#"$T/t/"}/blocks/blk99999.dat" "$T/out" &&
   grep -qx "would remove ${N#"$T/t/"}/state/escape" "$T/out" &&
   grep -qx "would remove ${N#"$T/t/"}/state/000123.ldb" "$T/out" &&
   grep -qx "5 entries would be removed; nothing was changed" "$T/out"; then
	pass "--dry-run lists exactly the strays"
else
	fail "--dry-run lists exactly the strays" "$(head -c 600 "$T/out")"
fi

# The rollback: delta restore with --delete, from the JSON.
expect delta_restore "$STRATA" -r "$R" restore latest --target "$T/t" --delta --delete --json
cp "$T/out" "$T/delta.json"
[ -n "${ROLLBACK_SHOW:-}" ] && cat "$T/delta.json" >&2
meta "$N" >"$T/got"
if cmp -s "$T/want" "$T/got"; then pass "delta restore: tree identical to the snapshot (metadata)"; else fail "delta restore: tree identical to the snapshot (metadata)" "$(diff "$T/want" "$T/got" | head -5)"; fi
same_tree "delta restore: content bit-exact" "$S" "$N"
fetched=$(json "$T/delta.json" "d['bytes_fetched']")
if [ "$fetched" -gt 0 ] && [ $((fetched * 100)) -lt $((total * 5)) ]; then
	pass "delta restore fetched under 5 % ($fetched of $total bytes; full restore $full_fetched)"
else
	fail "delta restore fetched under 5 %" "$fetched of $total"
fi
# c.db (1 MiB) came from the compacted table, not from the repository:
# the content taken from fetched chunks ("bytes"; bytes_fetched also
# counts the gaps between needed chunks that one request reads) is less.
content=$(json "$T/delta.json" "d['bytes']")
if [ "$content" -lt 1048576 ]; then pass "the compacted-away file's bytes came from its successor ($content B of content fetched)"; else fail "the compacted-away file's bytes came from its successor" "$content bytes of content fetched"; fi
if [ "$(json "$T/delta.json" "(d['delta']['files_updated'], d['delta']['files_skipped'] >= $nblk + 2, sorted(d['deleted']))")" = \
     "(5, True, ['${N#"$T/t/"}/blocks/blk99999.dat', '${N#"$T/t/"}/state/000123.ldb', '${N#"$T/t/"}/state/escape', '${N#"$T/t/"}/state/newdir', '${N#"$T/t/"}/state/stray.tmp'])" ]; then
	pass "--json: 5 files updated (3 changed, 1 grown, 1 compacted away), the rest kept, the 5 strays removed"
else
	fail "--json: 5 files updated, the rest kept, the strays removed" "$(head -c 800 "$T/delta.json")"
fi
if [ "$(json "$T/delta.json" "d['delta']['bytes_reused'] + d['bytes'] == $total and d['duration_s'] > 0 and d['data_loss_s'] >= 0 and d['snapshot_time'][:2] == '20'")" = True ]; then
	pass "--json: reused plus fetched content is the snapshot; duration_s, data_loss_s, snapshot_time"
else
	fail "--json: reused plus fetched content is the snapshot" "$(head -c 800 "$T/delta.json")"
fi
if [ "$(cat "$T/outside/keep")" = outside ] && [ "$(cat "$T/t/other")" = "not the snapshot's" ] &&
   [ "$(cat "$T/t$T/sibling/f")" = keep ]; then
	pass "--delete stays inside the snapshot's paths and never follows a symlink"
else
	fail "--delete stays inside the snapshot's paths" "$(ls -la "$T/outside" "$T/t" 2>&1 | head -c 400)"
fi
if ls -a "$N/state" "$N/blocks" | grep -q '^\.strata-delta-'; then fail "no temporary files left" "$(ls -a "$N/state")"; else pass "no temporary files left"; fi

# Again over the restored tree: nothing to fetch.
expect delta_again "$STRATA" -r "$R" restore latest --target "$T/t" --delta --delete --json
check=$(json "$T/out" "(d['bytes_fetched'], d['delta']['files_updated'], d['deleted'])")
if [ "$check" = "(0, 0, [])" ]; then pass "delta over an identical tree fetches nothing"; else fail "delta over an identical tree fetches nothing" "$check"; fi

# Same size, same mtime, other bytes: --delta=fast trusts it, --delta does not.
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(10); f.write(b"Z"*8)' "$N/state/d.db"
touch -d "@$(stat -c %.9Y "$S/state/d.db")" "$N/state/d.db"
expect delta_fast "$STRATA" -r "$R" restore latest --target "$T/t" --delta=fast --json
if ! cmp -s "$S/state/d.db" "$N/state/d.db" && [ "$(json "$T/out" "d['bytes_fetched']")" = 0 ]; then
	pass "--delta=fast keeps a file whose size and mtime match"
else
	fail "--delta=fast keeps a file whose size and mtime match" "$(head -c 400 "$T/out")"
fi
expect delta_full "$STRATA" -r "$R" restore latest --target "$T/t" --delta --json
if cmp -s "$S/state/d.db" "$N/state/d.db" && [ "$(json "$T/out" "d['delta']['files_updated']")" = 1 ]; then
	pass "--delta compares the chunks' keyed hashes and repairs it"
else
	fail "--delta compares the chunks' keyed hashes" "$(head -c 400 "$T/out")"
fi

# --delete with --include: only below the included path.
echo s >"$N/state/sub/stray1"
echo s >"$N/blocks/stray2"
expect delete_include "$STRATA" -r "$R" restore latest --target "$T/t" --include "${S#/}/state/sub" --delta --delete --json
if [ ! -e "$N/state/sub/stray1" ] && [ -e "$N/blocks/stray2" ]; then
	pass "--delete with --include removes strays below the include only"
else
	fail "--delete with --include removes strays below the include only" "$(ls "$N/state/sub" "$N/blocks" | head -c 300)"
fi

# A directory in the way of a file, and a file in the way of a directory.
rm -f "$N/state/a.db" && mkdir "$N/state/a.db" && echo x >"$N/state/a.db/x"
rm -rf "$N/state/sub" && echo x >"$N/state/sub"
expect wrong_kinds "$STRATA" -r "$R" restore latest --target "$T/t" --delta --delete
same_tree "--delete replaces entries of the wrong kind" "$S" "$N"

# Into a new place: --strip-components puts the node's directory at the
# target, --exclude leaves entries out; --delete then cleans below the
# stripped levels only.
depth=$(printf '%s' "$S" | tr -cd / | wc -c)
mkdir -p "$T/new/blocks" && echo stray >"$T/new/blocks/stray" && echo beside >"$T/new/beside"
expect strip "$STRATA" -r "$R" restore latest --target "$T/new" --strip-components "$depth" --exclude 'blk0000[1-3].dat' --exclude state/sub --delta --delete --json
if [ "$(json "$T/out" "sorted(d['deleted'])")" = "['${S#/}/blocks/stray']" ] && [ -e "$T/new/beside" ] &&
   cmp -s "$S/blocks/blk00000.dat" "$T/new/blocks/blk00000.dat" && cmp -s "$S/state/a.db" "$T/new/state/a.db" &&
   [ ! -e "$T/new/blocks/blk00001.dat" ] && [ ! -e "$T/new/state/sub" ] && [ ! -e "$T/new${S%/*}" ]; then
	pass "--strip-components and --exclude: the node's directory at the target, excluded entries left out, --delete below the stripped levels only"
else
	fail "--strip-components and --exclude" "$(head -c 600 "$T/out"; ls -R "$T/new" | head -20)"
fi
expect_exit "--strip-components -1: usage" 2 "$STRATA" -r "$R" restore latest --target "$T/new" --strip-components -1
if grep -q "strip-components wants a number of directories from 0 to 255: -1" "$T/err"; then pass "--strip-components -1: says so"; else fail "--strip-components -1: says so" "$(cat "$T/err")"; fi
expect_exit "--exclude '': usage" 2 "$STRATA" -r "$R" restore latest --target "$T/new" --exclude ''
if grep -q "exclude wants a PATTERN" "$T/err"; then pass "--exclude '': says so"; else fail "--exclude '': says so" "$(cat "$T/err")"; fi

# A stray directory that is a mount point: --delete does not cross into
# another file system; the restore stops naming it (root, unshare -m).
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
	mkdir -p "$N/state/mnt" && rm -f "$N/state/mnt/x"
	unshare -m sh -c 'mount -t tmpfs none "$1" && echo keep >"$1/x" &&
		"$2" -r "$3" restore latest --target "$4" --delta --delete; echo "rc=$?"; cat "$1/x"' \
		sh "$N/state/mnt" "$STRATA" "$R" "$T/t" >"$T/out" 2>"$T/err"
	if grep -qx "rc=4" "$T/out" && grep -qx keep "$T/out" &&
	   grep -q "state/mnt: not in the snapshot but another file system is mounted there; --delete does not cross file systems" "$T/err"; then
		pass "--delete refuses a stray mount point (exit 4, named) and leaves what is mounted alone"
	else
		fail "--delete refuses a stray mount point" "$(cat "$T/out" "$T/err" | head -c 500)"
	fi
	rmdir "$N/state/mnt"
else
	echo "SKIP --delete and a stray mount point: needs root and unshare -m"
fi

# A delta restore killed (SIGKILL) part way: every file is the old or the
# new version, never a mix; a leftover temporary is a stray the next
# --delete removes, and that run finishes the job.
mkdir -p "$T/crash"
i=0
while [ $i -lt 24 ]; do head -c 1048576 /dev/urandom >"$T/crash/f$i"; i=$((i + 1)); done
expect crash_backup "$STRATA" -r "$R" backup -q --tag crash "$T/crash"
cp -a "$T/crash" "$T/crash-new"
i=0
while [ $i -lt 24 ]; do head -c 1048576 /dev/urandom >"$T/crash/f$i"; i=$((i + 1)); done
cp -a "$T/crash" "$T/crash-old"
mixed=0
for delay in 0.05 0.1 0.2 0.3; do
	rm -rf "$T/crash" && cp -a "$T/crash-old" "$T/crash"
	"$STRATA" -r "$R" restore latest --tag crash --target / --include "$T/crash" --delta --threads 1 >/dev/null 2>&1 &
	pid=$!
	sleep $delay
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	for f in "$T/crash"/f*; do
		b=$(basename "$f")
		cmp -s "$f" "$T/crash-old/$b" || cmp -s "$f" "$T/crash-new/$b" || mixed=$((mixed + 1))
	done
done
if [ $mixed -eq 0 ]; then pass "a delta restore killed part way leaves each file old or new"; else fail "a delta restore killed part way leaves each file old or new" "$mixed files neither"; fi
expect crash_rerun "$STRATA" -r "$R" restore latest --tag crash --target / --include "$T/crash" --delta --delete
if diff -r "$T/crash-new" "$T/crash" >/dev/null && ! ls -a "$T/crash" | grep -q '^\.strata-delta-'; then
	pass "the next --delta --delete finishes it and removes leftovers"
else
	fail "the next --delta --delete finishes it" "$(ls -a "$T/crash" | head)"
fi

# Recovery metrics.
expect metrics "$STRATA" -r "$R" restore latest --target "$T/t" --delta --metrics-file "$T/m.prom" --job rollback
for m in strata_restore_duration_seconds strata_restore_bytes strata_restore_bytes_fetched \
         strata_restore_bytes_reused strata_restore_data_loss_seconds strata_restore_snapshot_timestamp_seconds; do
	if grep -q "^$m{job=\"rollback\",command=\"restore\"} [0-9]" "$T/m.prom"; then pass "metric $m"; else fail "metric $m" "$(head -c 600 "$T/m.prom")"; fi
done
if grep -q '^strata_success{job="rollback",command="restore"} 1$' "$T/m.prom"; then pass "metric strata_success"; else fail "metric strata_success" "$(head -c 300 "$T/m.prom")"; fi

# Bad input.
expect_exit "--dry-run without --delete: usage" 2 "$STRATA" -r "$R" restore latest --target "$T/t" --dry-run
if grep -q "dry-run lists what --delete would remove; give --delete too" "$T/err"; then pass "--dry-run without --delete: says so"; else fail "--dry-run without --delete: says so" "$(head -c 300 "$T/err")"; fi
expect_exit "--delta=bogus: usage" 2 "$STRATA" -r "$R" restore latest --target "$T/t" --delta=bogus
if grep -q "delta takes no value, or =fast" "$T/err"; then pass "--delta=bogus: says so"; else fail "--delta=bogus: says so" "$(head -c 300 "$T/err")"; fi
expect_exit "--delete with --tar: usage" 2 "$STRATA" -r "$R" restore latest --tar "$T/x.tar" --delete
e2e_done
