# e2e_changes.sh — backup --changes (tools/cli/doc/changes.md): the walk
# narrowed to what changed since the parent must give exactly the
# snapshot a full scan gives. On a btrfs of its own (tests/btrfs_loop.sh,
# root; SKIPped with the reason otherwise): rounds of random changes
# (writes, appends, truncations, creations, deletions, renames of files
# and directories, chmod, hard links, symlinks), each backed up with
# btrfs change tracking and then with a full scan: the source's subtree
# ID and the summary's totals must be equal, and a restore must equal the
# tree; a round with changes made during the backup, after which the
# next snapshot holds every change made before its start; the fallback
# reasons in --json. The change journal (`strata watch`): e2e_watch.sh.
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/btrfs_loop.sh"

MNT="$T/mnt"
LIB="$(dirname "$0")/changes_lib.py"
BG=""
trap '[ -n "$BG" ] && kill "$BG" 2>/dev/null; btrfs_loop_umount; rm -rf "$T"' EXIT
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', wanted '$3'"; fi; }
has() { if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "'$3' not in: $(head -c 400 "$2")"; fi; }
# subtree SNAPSHOT PATH — the subtree ID of directory PATH in SNAPSHOT.
subtree() { "$STRATA" -r "$R" ls "$1" --json >"$T/ls.json" && python3 -S "$LIB" subtree "$T/ls.json" "$2"; }
# same_restore NAME SNAPSHOT DIR — a restore of SNAPSHOT holds DIR as it is.
same_restore() {
	rm -rf "$T/rs"
	"$STRATA" -r "$R" restore "$2" --target "$T/rs" -q
	python3 -S "$LIB" manifest "$3" >"$T/m.live"
	python3 -S "$LIB" manifest "$T/rs$3" >"$T/m.rest"
	if cmp -s "$T/m.live" "$T/m.rest"; then pass "$1"; else fail "$1" "$(diff "$T/m.live" "$T/m.rest" | head -c 600)"; fi
}

"$STRATA" -r "$R" init -q || { fail "init" "cannot create the repository"; e2e_done; }

# ---- usage, and the reasons without a snapshot to compare ----
mkdir -p "$T/plain"
printf 'x\n' >"$T/plain/f"
expect_exit "--changes with a bad mode: exit 2" 2 "$STRATA" -r "$R" backup "$T/plain" --changes zfs
has "--changes with a bad mode: says the modes" "$T/err" "--changes wants auto, btrfs, journal or scan: 'zfs'"
expect_exit "--changes btrfs without --fs-snapshot: exit 2" 2 "$STRATA" -r "$R" backup "$T/plain" --changes btrfs
has "--changes btrfs without --fs-snapshot: says why" "$T/err" "--changes btrfs needs --fs-snapshot btrfs"
"$STRATA" -r "$R" backup "$T/plain" --json >"$T/o.json"
check "auto without a snapshot or journal: scans" "$(json "$T/o.json" 'd["changes"]["mode"]')" "scan"
check "auto without a snapshot or journal: says why" "$(json "$T/o.json" 'd["changes"]["fallback"]')" \
	"no --fs-snapshot btrfs and no change journal"
check "a scan counts the directories it visited" "$(json "$T/o.json" 'd["changes"]["dirs_visited"]')" \
	"$(( $(echo "$T/plain" | tr -cd / | wc -c) + 1 ))"
"$STRATA" -r "$R" backup "$T/plain" --changes scan --json >"$T/o.json"
check "--changes scan: says so" "$(json "$T/o.json" 'd["changes"]["requested"] + " " + d["changes"]["mode"] + " " + d["changes"]["fallback"]')" \
	"scan scan --changes scan"

if ! btrfs_loop_mount "$MNT" 300M; then
	echo "SKIP btrfs change tracking: $BTRFS_SKIP"
	e2e_done
fi
S="$MNT/data"
mkdir -p "$S"
python3 -S "$LIB" mutate "$S" 1 300

# ---- the first backup has nothing recorded: a full scan ----
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/o.json"
check "first backup: a full scan" "$(json "$T/o.json" 'd["changes"]["mode"]')" "scan"
check "first backup: says why" "$(json "$T/o.json" 'd["changes"]["fallback"]')" "no generation recorded for these paths (the first backup with change tracking scans)"

# ---- rounds: change tracking against a full scan of the same state ----
round=1
while [ $round -le 5 ]; do
	python3 -S "$LIB" mutate "$S" $((round * 7)) $((round * 15))
	"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/a.json" || fail "round $round: backup" "$(cat "$T/err" 2>/dev/null)"
	check "round $round: btrfs tracking used" "$(json "$T/a.json" 'd["changes"]["mode"] + " " + str(d["changes"]["fallback"])')" "btrfs None"
	A=$(json "$T/a.json" 'd["snapshot_id"]')
	same_restore "round $round: the restore holds the tree" "$A" "$S"
	"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --changes scan --json >"$T/b.json"
	B=$(json "$T/b.json" 'd["snapshot_id"]')
	check "round $round: same subtree ID as a full scan" "$(subtree "$A" "$S")" "$(subtree "$B" "$S")"
	check "round $round: same totals as a full scan" \
		"$(json "$T/a.json" '[d["summary"][k] for k in ("files", "dirs", "bytes_total")]')" \
		"$(json "$T/b.json" '[d["summary"][k] for k in ("files", "dirs", "bytes_total")]')"
	"$STRATA" -r "$R" diff "$A" "$B" >"$T/diff.out"
	check "round $round: diff to the full scan is empty" "$(tail -1 "$T/diff.out")" \
		"0 added (0 B), 0 removed (0 B), 0 modified, 0 changed type"
	round=$((round + 1))
done

# ---- nothing changed: only the way to the source is visited ----
# (One backup first: the manifests read the live files, and their atime
# updates come after the last snapshot.)
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs -q
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/a.json"
check "unchanged: btrfs tracking, nothing marked below the source" \
	"$(json "$T/a.json" 'd["changes"]["mode"] + " " + str(d["changes"]["paths_marked"])')" "btrfs 0"
check "unchanged: only the directories down to the source visited" "$(json "$T/a.json" 'd["changes"]["dirs_visited"]')" \
	"$(( $(echo "$S" | tr -cd / | wc -c) + 1 ))"
check "unchanged: nothing read" "$(json "$T/a.json" 'd["summary"]["bytes_read"]')" "0"

# ---- changes during the backup are in the next snapshot ----
for k in 1 2; do
	rm -f "$T/stop"
	python3 -S "$LIB" loop "$S" $((100 + k)) "$T/stop" >"$T/loop.out" &
	BG=$!
	sleep 0.3
	"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/a.json"
	sleep 0.2
	touch "$T/stop"
	wait "$BG"
	BG=""
	check "during backup $k: btrfs tracking used" "$(json "$T/a.json" 'd["changes"]["mode"]')" "btrfs"
	[ "$(cat "$T/loop.out")" -gt 0 ] && pass "during backup $k: the loop changed the tree" || fail "during backup $k" "no changes made"
	"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/a.json"
	A=$(json "$T/a.json" 'd["snapshot_id"]')
	same_restore "after backup $k: the next snapshot holds every change" "$A" "$S"
	"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --changes scan --json >"$T/b.json"
	check "after backup $k: same subtree ID as a full scan" "$(subtree "$A" "$S")" \
		"$(subtree "$(json "$T/b.json" 'd["snapshot_id"]')" "$S")"
done

# ---- fallbacks ----
# The parent is not the snapshot the generation belongs to.
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --parent "$A" --json >"$T/o.json"
check "another parent: a full scan" "$(json "$T/o.json" 'd["changes"]["mode"]')" "scan"
check "another parent: says why" "$(json "$T/o.json" 'd["changes"]["fallback"]')" \
	"the parent snapshot is not the one the changes were recorded against"
# Other excludes: other recorded state.
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --exclude '*.tmp' --json >"$T/o.json"
check "other excludes: nothing recorded for them" "$(json "$T/o.json" 'd["changes"]["fallback"]')" \
	"no generation recorded for these paths (the first backup with change tracking scans)"
# The same path, another subvolume.
btrfs subvolume create "$MNT/vol" >/dev/null
printf 'v\n' >"$MNT/vol/f"
"$STRATA" -r "$R" backup "$MNT/vol" --fs-snapshot btrfs -q
btrfs subvolume delete "$MNT/vol" >/dev/null
btrfs subvolume create "$MNT/vol" >/dev/null
printf 'v\n' >"$MNT/vol/f"
"$STRATA" -r "$R" backup "$MNT/vol" --fs-snapshot btrfs --json >"$T/o.json"
check "another subvolume at the path: says why" "$(json "$T/o.json" 'd["changes"]["fallback"]')" \
	"$MNT/vol: the snapshot is of a different subvolume than the recorded generation's"
"$STRATA" -r "$R" backup "$MNT/vol" --fs-snapshot btrfs --json >"$T/o.json"
check "the next backup of it: btrfs tracking" "$(json "$T/o.json" 'd["changes"]["mode"]')" "btrfs"
# The subvolume's root backed up: each backup's own snapshot adds its entry
# to that directory after the subvolume is copied, in the transaction the
# next search starts after (tools/cli/doc/changes.md), and removes it later.
mkdir -p "$MNT/vol/d"
for k in 1 2 3; do
	printf 'round %s\n' "$k" >"$MNT/vol/d/f$k"
	[ $k = 2 ] && mkdir "$MNT/vol/e$k"
	"$STRATA" -r "$R" backup "$MNT/vol" --fs-snapshot btrfs --json >"$T/a.json"
	check "subvolume root, round $k: btrfs tracking" "$(json "$T/a.json" 'd["changes"]["mode"]')" "btrfs"
	same_restore "subvolume root, round $k: the restore holds the tree" "$(json "$T/a.json" 'd["snapshot_id"]')" \
		"$MNT/vol"
	"$STRATA" -r "$R" backup "$MNT/vol" --fs-snapshot btrfs --changes scan --json >"$T/b.json"
	check "subvolume root, round $k: same subtree ID as a full scan" \
		"$(subtree "$(json "$T/a.json" 'd["snapshot_id"]')" "$MNT/vol")" \
		"$(subtree "$(json "$T/b.json" 'd["snapshot_id"]')" "$MNT/vol")"
done
# strata watch inside a subvolume other than the top level: fanotify
# refuses the mark (EXDEV), and the message says what serves there.
timeout 10 "$STRATA" watch "$MNT/vol" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 124 ]; then
	echo "SKIP watch inside a btrfs subvolume: this kernel marks it"
else
	check "watch inside a btrfs subvolume: exit 4" "$rc" 4
	has "watch inside a btrfs subvolume: says what serves there" "$T/err" \
		"(inside a btrfs subvolume other than the top level, which fanotify cannot mark: back it up with --fs-snapshot btrfs"
fi
# A damaged record: a full scan, then a good record again.
for f in "$STRATA_CACHE_DIR"/*/changes/*; do printf 'garbage\n' >"$f"; done
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/o.json"
check "a damaged record: a full scan" "$(json "$T/o.json" 'd["changes"]["mode"]')" "scan"
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/o.json"
check "then tracking again" "$(json "$T/o.json" 'd["changes"]["mode"]')" "btrfs"
# A record cut short (it is written without fsync: a machine crash may
# leave a prefix of it): no end line, a full scan.
for f in "$STRATA_CACHE_DIR"/*/changes/*; do sed -i '$d' "$f"; done
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/o.json"
check "a record without its end line: a full scan" "$(json "$T/o.json" 'd["changes"]["mode"]')" "scan"
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --json >"$T/o.json"
check "then tracking again" "$(json "$T/o.json" 'd["changes"]["mode"]')" "btrfs"
e2e_done
