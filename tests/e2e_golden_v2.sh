# e2e_golden_v2.sh — a repository of format version 2 written before frames
# (tests/golden/format-v2, FORMAT.md §9a "Format version rules") stays
# readable, bit for bit, by this strata and by the independent reader:
#   - its config is VERSION 2 and stays so through everything below;
#   - check --read-data: clean, every pack and chunk read;
#   - both snapshots restore to exactly the files they were made from
#     (b2sum of every file, the symlink, the empty file, dates);
#   - tests/reader/strata_reader.py restores the second one bit for bit;
#   - a new backup into it (old blobs beside new ones), then forget of the
#     first snapshot and prune: check --read-data clean and the remaining
#     old snapshot restores bit for bit.
# POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

GOLDEN=$(cd "$(dirname "$0")" && pwd)/golden/format-v2
READER="python3 -S $(cd "$(dirname "$0")" && pwd)/reader/strata_reader.py"
SRC=/tmp/strata-golden-v2/src
export STRATA_PASSWORD_FILE="$GOLDEN/pw"

G="$T/golden"
cp -R "$GOLDEN/repo" "$G"
mkdir -p "$G/locks"

# config_version NAME — the config's clear VERSION (§7) is 2.
config_version() {
	v=$(od -An -tu4 -j8 -N4 "$G/config" | tr -d ' ')
	if [ "$v" = 2 ]; then pass "$1"; else fail "$1" "VERSION $v"; fi
}

# sums_ok NAME DIR EXPECTED — b2sum of every file under DIR equals EXPECTED.
sums_ok() {
	(cd "$2" && find . -type f | sort | xargs b2sum -l 256) >"$T/sums" 2>&1
	if cmp -s "$T/sums" "$3"; then pass "$1"; else fail "$1" "$(diff "$3" "$T/sums" | head -c 400)"; fi
}

# shape_ok NAME DIR MTIME — the link, the empty file and the dates.
shape_ok() {
	got="$(readlink "$2/link") $(stat -c %s "$2/empty") $(stat -c %y "$2/sub/small.txt" | cut -c1-19)"
	if [ "$got" = "text.txt 0 $3" ]; then pass "$1"; else fail "$1" "$got"; fi
}

snap_id() { "$STRATA" -r "$G" snapshots --json | json_in "[s['id'] for s in d if '$1' in s['tags']][0]"; }

config_version "golden: config VERSION 2"
expect "golden: check --read-data" "$STRATA" -r "$G" check --read-data
if grep -q "^read 4 of 4 packs: 112.34 KiB, 34 chunks authenticated and re-hashed$" "$T/out" &&
   grep -q "^no damage found$" "$T/out"; then
	pass "golden: every pack and chunk read, no damage"
else
	fail "golden: every pack and chunk read, no damage" "$(head -c 400 "$T/out")"
fi
S1=$(snap_id first)
S2=$(snap_id second)
expect "golden: restore the first snapshot" "$STRATA" -r "$G" restore "$S1" --target "$T/r1"
sums_ok "golden: first snapshot bit for bit" "$T/r1$SRC" "$GOLDEN/expected-1.b2sum"
shape_ok "golden: first snapshot's link, empty file and dates" "$T/r1$SRC" "2026-12-01 10:00:00"
expect "golden: restore the second snapshot" "$STRATA" -r "$G" restore "$S2" --target "$T/r2"
sums_ok "golden: second snapshot bit for bit" "$T/r2$SRC" "$GOLDEN/expected-2.b2sum"
shape_ok "golden: second snapshot's link, empty file and dates" "$T/r2$SRC" "2026-12-01 11:00:00"
expect "golden: the independent reader restores the second snapshot" $READER "$G" restore "$S2" "$T/rr"
sums_ok "golden: the reader's restore bit for bit" "$T/rr$SRC" "$GOLDEN/expected-2.b2sum"

# New blobs beside the old ones, then prune of the first snapshot.
mkdir -p "$T/new"
cp "$T/r2$SRC/text.txt" "$T/new/copy.txt"
head -c 70000 /dev/urandom >"$T/new/fresh.bin"
expect "golden: a new backup into it" "$STRATA" -r "$G" backup -q "$T/new"
expect "golden: check --read-data after the new backup" "$STRATA" -r "$G" check --read-data
expect "golden: forget the first snapshot" "$STRATA" -r "$G" forget "$S1"
expect "golden: prune" "$STRATA" -r "$G" prune --max-unused 0
expect "golden: check --read-data after prune" "$STRATA" -r "$G" check --read-data
rm -rf "$T/r2"
expect "golden: restore the second snapshot after prune" "$STRATA" -r "$G" restore "$S2" --target "$T/r2"
sums_ok "golden: second snapshot bit for bit after prune" "$T/r2$SRC" "$GOLDEN/expected-2.b2sum"
rm -rf "$T/r3"
expect "golden: restore the new snapshot" "$STRATA" -r "$G" restore latest --target "$T/r3"
same_tree "golden: the new snapshot bit for bit" "$T/new" "$T/r3$T/new"
config_version "golden: config still VERSION 2"

e2e_done
