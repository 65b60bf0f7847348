# e2e_typecollide.sh — a data chunk whose bytes equal a tree object's has
# the tree's chunk ID; strata must store both blobs, since a blob is its
# type and ID together (FORMAT.md §10, §16). The smallest case: a 3-byte
# file 00 01 00 beside an empty directory, whose tree object is 00 01 00
# (§11: inline, TREE VERSION 1, COUNT 0).
#   - written now: backup, check, check --read-data clean; the file and the
#     empty directory restore bit for bit, in either order of storing (the
#     empty directory first in one snapshot; the file in one snapshot and
#     the directory in a later one); prune after forget keeps what the
#     remaining snapshot needs;
#   - repositories written before 2026-12-07 (tests/golden/typecollide):
#     check reports the blob stored only under the other type (exit 1) and
#     names the fix; restore and ls name it too; `repair snapshots
#     --dry-run` changes nothing; `repair snapshots` stores the blob under
#     its own type, after which check is clean and the snapshot restores
#     bit for bit; a new backup of any source holding the colliding content
#     heals the old snapshot too.
# POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

GOLDEN=$(cd "$(dirname "$0")" && pwd)/golden/typecollide

# contains NAME FILE TEXT — FILE holds TEXT (a fixed string).
contains() {
	if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "no \"$3\" in: $(head -c 600 "$2")"; fi
}

# collide_ok NAME DIR — DIR/f is exactly 00 01 00 and DIR/emptydir an empty directory.
collide_ok() {
	if [ "$(od -An -tx1 "$2/f" | tr -d ' \n')" = 000100 ] && [ -d "$2/emptydir" ] &&
	   [ -z "$(ls -A "$2/emptydir")" ]; then
		pass "$1"
	else
		fail "$1" "$(ls -la "$2" 2>&1 | head -c 300); f = $(od -An -tx1 "$2/f" 2>&1)"
	fi
}

# ---- written now: the empty directory and the file in one snapshot ----
S="$T/src"
mkdir -p "$S/emptydir" "$S/d/emptydir"
printf '\000\001\000' >"$S/f"
printf '\000\001\000' >"$S/d/f"
head -c 100000 /dev/urandom >"$S/d/other"
expect "init" "$STRATA" -r "$R" init -q
expect "backup: a file equal to an empty tree beside an empty directory" "$STRATA" -r "$R" backup -q "$S"
expect "check: clean" "$STRATA" -r "$R" check
expect "check --read-data: clean" "$STRATA" -r "$R" check --read-data
rm -rf "$T/rst"
expect "restore" "$STRATA" -r "$R" restore latest --target "$T/rst"
collide_ok "restore: the file and the empty directory, bit for bit" "$T/rst$S"
collide_ok "restore: the same pair one level down" "$T/rst$S/d"
same_tree "restore: the whole source" "$S" "$T/rst$S"
expect "dump: the file" "$STRATA" -r "$R" dump latest "$S/f"
if [ "$(od -An -tx1 "$T/out" | tr -d ' \n')" = 000100 ]; then pass "dump: 00 01 00"; else fail "dump: 00 01 00" "$(od -An -tx1 "$T/out")"; fi
expect "stats" "$STRATA" -r "$R" stats

# ---- written now: the file first, the empty directory in a later snapshot ----
R2="$T/repo2"
mkdir -p "$T/s1" "$T/s2/emptydir"
printf '\000\001\000' >"$T/s1/f"
expect "init (second repository)" "$STRATA" -r "$R2" init -q
expect "backup of the file alone" "$STRATA" -r "$R2" backup -q "$T/s1"
expect "backup of the empty directory alone" "$STRATA" -r "$R2" backup -q "$T/s2"
expect "check (file, then directory): clean" "$STRATA" -r "$R2" check --read-data
rm -rf "$T/rst"
expect "restore the later snapshot" "$STRATA" -r "$R2" restore latest --target "$T/rst"
if [ -d "$T/rst$T/s2/emptydir" ] && [ -z "$(ls -A "$T/rst$T/s2/emptydir")" ]; then
	pass "restore: the empty directory stored after the file"
else
	fail "restore: the empty directory stored after the file" "$(ls -laR "$T/rst" 2>&1 | head -c 400)"
fi
first=$("$STRATA" -r "$R2" snapshots --json | python3 -c 'import json,sys; print(min(json.load(sys.stdin), key=lambda s: s["time"])["id"])')
expect "forget the file's snapshot" "$STRATA" -r "$R2" forget "$first"
expect "prune" "$STRATA" -r "$R2" prune --max-unused 0
expect "check after prune: clean" "$STRATA" -r "$R2" check --read-data
rm -rf "$T/rst"
expect "restore after prune" "$STRATA" -r "$R2" restore latest --target "$T/rst"
if [ -d "$T/rst$T/s2/emptydir" ]; then pass "restore after prune: the empty directory"; else fail "restore after prune: the empty directory" "missing"; fi

# ---- written before 2026-12-07: the tree blob kept, the data blob not ----
old_repo() {
	rm -rf "$T/$1"
	cp -R "$GOLDEN/$1" "$T/$1"
	mkdir -p "$T/$1/locks"
}
export STRATA_PASSWORD_FILE="$GOLDEN/pw"
GA=/tmp/strata-golden-collide/src-a
old_repo repo-a
expect_exit "old repository a: check exit 1" 1 "$STRATA" -r "$T/repo-a" check
contains "old repository a: check names the collision" "$T/out" "stored only as a tree blob with the same ID"
contains "old repository a: check names the fix" "$T/out" "\`strata repair snapshots\` stores it as data too"
contains "old repository a: check names the file" "$T/out" "${GA#/}/f, bytes 0-2"
rm -rf "$T/ra"
expect_exit "old repository a: restore exit 1" 1 "$STRATA" -r "$T/repo-a" restore latest --target "$T/ra"
contains "old repository a: restore names the collision" "$T/err" "is stored only as a tree blob with the same ID"
expect_exit "old repository a: dump exit 1" 1 "$STRATA" -r "$T/repo-a" dump latest "$GA/f"
contains "old repository a: dump names the collision" "$T/err" "data chunk e9089fc8a2ae4fa2 is stored only as a tree blob"
expect "old repository a: repair snapshots --dry-run" "$STRATA" -r "$T/repo-a" repair snapshots --dry-run
contains "old repository a: dry run says what it would do" "$T/out" "1 blobs stored only under another type (written by strata before 2026-12-07) would be stored under their own (dry run)"
expect_exit "old repository a: the dry run changed nothing" 1 "$STRATA" -r "$T/repo-a" check
expect "old repository a: repair snapshots" "$STRATA" -r "$T/repo-a" repair snapshots
contains "old repository a: repair says it stored the blob" "$T/out" "1 blobs stored only under another type (written by strata before 2026-12-07) stored again under their own"
contains "old repository a: no snapshot rewritten" "$T/out" "1 snapshots: 0 repaired, 1 intact"
expect "old repository a: check --read-data clean after repair" "$STRATA" -r "$T/repo-a" check --read-data
rm -rf "$T/ra"
expect "old repository a: restore after repair" "$STRATA" -r "$T/repo-a" restore latest --target "$T/ra"
collide_ok "old repository a: the file and the empty directory, bit for bit" "$T/ra$GA"
expect "old repository a: repair again finds nothing" "$STRATA" -r "$T/repo-a" repair snapshots
contains "old repository a: nothing healed twice" "$T/out" "1 snapshots: 0 repaired, 1 intact"
if grep -q "stored again" "$T/out"; then fail "old repository a: second repair stores nothing" "$(cat "$T/out")"; else pass "old repository a: second repair stores nothing"; fi

# ---- written before 2026-12-07: the data blob kept, the tree blob not ----
GB=/tmp/strata-golden-collide/src-b2
old_repo repo-b
expect_exit "old repository b: check exit 1" 1 "$STRATA" -r "$T/repo-b" check
contains "old repository b: check names the collision" "$T/out" "stored only as a data blob with the same ID"
contains "old repository b: check names the directory" "$T/out" "directory ${GB#/}/emptydir"
expect_exit "old repository b: ls of the directory exit 1" 1 "$STRATA" -r "$T/repo-b" ls latest "$GB/emptydir"
contains "old repository b: ls names the collision" "$T/err" "tree chunk 8979c6d67a289c17 is stored only as a data blob"
# The other way out: a new backup of anything holding an empty directory
# stores the tree blob, and the old snapshot is whole again.
mkdir -p "$T/s3/another-empty-dir"
expect "old repository b: a new backup with an empty directory" "$STRATA" -r "$T/repo-b" backup -q "$T/s3"
expect "old repository b: check --read-data clean after the new backup" "$STRATA" -r "$T/repo-b" check --read-data
old=$("$STRATA" -r "$T/repo-b" snapshots --json | python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if any("src-b2" in p for p in s["paths"])][0])')
rm -rf "$T/rb"
expect "old repository b: restore of the old snapshot" "$STRATA" -r "$T/repo-b" restore "$old" --target "$T/rb"
if [ -d "$T/rb$GB/emptydir" ] && [ -z "$(ls -A "$T/rb$GB/emptydir")" ]; then
	pass "old repository b: the empty directory restored"
else
	fail "old repository b: the empty directory restored" "$(ls -laR "$T/rb" 2>&1 | head -c 400)"
fi

e2e_done
