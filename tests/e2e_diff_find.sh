# e2e_diff_find.sh — `strata diff` and `strata find` on two snapshots with
# known differences: exact output lines (human and --json), unchanged
# subtrees skipped unread, find's pattern forms, the no-match memo across
# snapshots, and the errors a user meets. POSIX sh (run by tests/run.sh).
. "$(dirname "$0")/e2e_lib.sh"

S="$T/src"
export STRATA_REPOSITORY="$R"

# json FILE EXPR — a Python expression over the JSON in FILE (bound to d).

# same NAME FILE EXPECTED — FILE holds exactly EXPECTED (a string).
same() {
	printf '%s\n' "$3" >"$T/want"
	if cmp -s "$2" "$T/want"; then pass "$1"; else fail "$1" "$(diff "$T/want" "$2" | head -c 600)"; fi
}

# ---- snapshot 1 ----
mkdir -p "$S/keep/deep" "$S/gonedir/a" "$S/flip"
printf 'same\n' >"$S/same.txt"
printf 'kept\n' >"$S/keep/deep/k.txt"
printf '12345' >"$S/grow.txt"
printf 'meta\n' >"$S/meta.txt"
printf 'tick\n' >"$S/touched.txt"
printf 'abcd' >"$S/rewritten.txt"
head -c 100 /dev/zero >"$S/gone.txt"
printf 'x' >"$S/gonedir/a/x.txt"
printf 'c\n' >"$S/flip/c.txt"
ln -s same.txt "$S/link"
chmod 0644 "$S/meta.txt"
touch -d '2020-01-01 00:00:00' "$S/touched.txt" "$S/rewritten.txt"
"$STRATA" init -q >/dev/null 2>&1 || { fail "init" "cannot init"; e2e_done; }
expect "backup 1" "$STRATA" backup -q --label height=1 "$S"

# ---- snapshot 2: every kind of change ----
printf '1234567890' >"$S/grow.txt"                # modified: size
chmod 0600 "$S/meta.txt"                           # modified: mode only
touch -d '2021-01-01 00:00:00' "$S/touched.txt"    # modified: mtime only
printf 'wxyz' >"$S/rewritten.txt"                  # modified: content only
touch -d '2020-01-01 00:00:00' "$S/rewritten.txt"  # (same size, same mtime)
rm "$S/gone.txt"                                   # removed
rm -r "$S/gonedir"                                 # removed, with all below
rm -r "$S/flip" && printf 'now a file' >"$S/flip"  # dir -> file
rm "$S/link" && printf 'plain' >"$S/link"          # symlink -> file
printf 'new' >"$S/new.txt"                         # added
mkdir "$S/newdir" && printf 'n\n' >"$S/newdir/n1.txt"
expect "backup 2" "$STRATA" backup -q --label height=2 "$S"

"$STRATA" snapshots --json >"$T/snaps" 2>"$T/err"
S1=$(json "$T/snaps" "d[0]['short_id']")
S2=$(json "$T/snaps" "d[1]['short_id']")
P=${S#/}      # snapshot paths have no leading slash

# ---- diff: exact lines ----
expect "diff runs" "$STRATA" diff "$S1" "$S2"
same "diff: exact lines" "$T/out" "T $P/flip (dir -> file)
- $P/flip/c.txt (2 B)
- $P/gone.txt (100 B)
- $P/gonedir/
- $P/gonedir/a/
- $P/gonedir/a/x.txt (1 B)
M $P/grow.txt (5 B -> 10 B)
T $P/link (symlink -> file)
M $P/meta.txt (5 B -> 5 B)
+ $P/new.txt (3 B)
+ $P/newdir/
+ $P/newdir/n1.txt (2 B)
M $P/rewritten.txt (4 B -> 4 B)
M $P/touched.txt (5 B -> 5 B)
3 added (5 B), 5 removed (103 B), 4 modified, 2 changed type"

# The walk compares the directories on the way to src and src itself;
# keep/ is identical in both (same subtree ID) and is skipped unread.
depth=$(printf '%s' "$P" | awk -F/ '{print NF}')
expect "diff -v" "$STRATA" diff -v "$S1" "$S2"
if tail -n 1 "$T/out" | grep -qx "compared $((depth + 1)) directories, skipped 1 unchanged ones unread"; then
	pass "diff: unchanged subtree skipped"
else
	fail "diff: unchanged subtree skipped" "$(tail -n 1 "$T/out") (depth $depth)"
fi

expect "diff of a snapshot with itself" "$STRATA" diff -v "$S2" latest
same "diff: nothing changed, nothing read" "$T/out" "0 added (0 B), 0 removed (0 B), 0 modified, 0 changed type
compared 0 directories, skipped 1 unchanged ones unread"

expect "diff reversed" "$STRATA" diff "$S2" "$S1"
if grep -qxF -- "+ $P/gone.txt (100 B)" "$T/out" && grep -qxF -- "- $P/new.txt (3 B)" "$T/out" &&
   grep -qxF -- "T $P/flip (file -> dir)" "$T/out" && grep -qxF -- "+ $P/flip/c.txt (2 B)" "$T/out" &&
   grep -qxF -- "M $P/grow.txt (10 B -> 5 B)" "$T/out"; then
	pass "diff reversed: mirror image"
else
	fail "diff reversed: mirror image" "$(head -c 600 "$T/out")"
fi

# ---- diff --json ----
expect "diff --json" "$STRATA" diff --json "$S1" "$S2"
cat >"$T/want.py" <<EOF
import json, sys
d = json.load(open(sys.argv[1]))
p = "$P/"
want = [
 ("flip", "type", "dir", "file", None, 10),
 ("flip/c.txt", "removed", "file", None, 2, None),
 ("gone.txt", "removed", "file", None, 100, None),
 ("gonedir", "removed", "dir", None, None, None),
 ("gonedir/a", "removed", "dir", None, None, None),
 ("gonedir/a/x.txt", "removed", "file", None, 1, None),
 ("grow.txt", "modified", "file", "file", 5, 10),
 ("link", "type", "symlink", "file", 8, 5),
 ("meta.txt", "modified", "file", "file", 5, 5),
 ("new.txt", "added", None, "file", None, 3),
 ("newdir", "added", None, "dir", None, None),
 ("newdir/n1.txt", "added", None, "file", None, 2),
 ("rewritten.txt", "modified", "file", "file", 4, 4),
 ("touched.txt", "modified", "file", "file", 5, 5),
]
got = [(e["path"][len(p):] if e["path"].startswith(p) else e["path"], e["change"], e["type_before"],
        e["type_after"], e["size_before"], e["size_after"]) for e in d]
if got != want:
    print("got", got)
    sys.exit(1)
EOF
if python3 "$T/want.py" "$T/out" >"$T/py" 2>&1; then pass "diff --json: every field"; else fail "diff --json: every field" "$(head -c 800 "$T/py")"; fi
if [ "$(grep -c '^{' "$T/out")" -eq 14 ]; then pass "diff --json: one object per line"; else fail "diff --json: one object per line" "$(head -c 300 "$T/out")"; fi
expect "diff --json, no change" "$STRATA" diff --json "$S1" "$S1"
same "diff --json: empty array" "$T/out" "[]"

# ---- diff errors ----
expect_exit "diff: one snapshot only" 2 "$STRATA" diff "$S1"
expect_exit "diff: three snapshots" 2 "$STRATA" diff "$S1" "$S2" "$S2"
expect_exit "diff: unknown snapshot" 14 "$STRATA" diff "$S1" ffffffff
if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^strata: .*ffffffff' "$T/err"; then pass "diff: unknown snapshot named"; else fail "diff: unknown snapshot named" "$(cat "$T/err")"; fi

# ---- find ----
T1=$("$STRATA" snapshots | awk -v id="$S1" '$1 == id { print $2 " " $3 }')
expect "find a base name" "$STRATA" find gone.txt
same "find: exact line" "$T/out" "$(printf '%s  %s  %12d  %s' "$S1" "$T1" 100 "$P/gone.txt")"

expect "find --json in one snapshot" "$STRATA" find --json --snapshot "$S2" '*.txt'
if r=$(json "$T/out" "sorted(e['path'][len('$P/'):] for e in d) == ['grow.txt', 'keep/deep/k.txt', 'meta.txt', 'new.txt', 'newdir/n1.txt', 'rewritten.txt', 'same.txt', 'touched.txt'] and all(e['short_id'] == '$S2' and e['snapshot'].startswith('$S2') and e['type'] == 'file' for e in d) and [e['size'] for e in d if e['path'].endswith('/grow.txt')] == [10]") && [ "$r" = True ]; then
	pass "find --json: paths, sizes, snapshot"
else
	fail "find --json: paths, sizes, snapshot" "$r: $(head -c 600 "$T/out")"
fi

expect "find a path tail" "$STRATA" find 'gonedir/*'
if [ "$(awk '{print $1, $5}' "$T/out")" = "$S1 $P/gonedir/a/
$S1 $P/gonedir/a/x.txt" ]; then pass "find: tail of the path"; else fail "find: tail of the path" "$(cat "$T/out")"; fi

expect "find anchored at the root" "$STRATA" find "/$P/same.txt"
if [ "$(awk '{print $1}' "$T/out" | tr '\n' ' ')" = "$S1 $S2 " ]; then pass "find: anchored, in both snapshots, oldest first"; else fail "find: anchored" "$(cat "$T/out")"; fi
expect "find anchored elsewhere" "$STRATA" find /same.txt
if [ ! -s "$T/out" ]; then pass "find: an anchored pattern matches only from the root"; else fail "find: anchored mismatch" "$(cat "$T/out")"; fi

expect "find several patterns" "$STRATA" find new.txt 'x.tx?' --snapshot "$S2" --snapshot "$S1"
if [ "$(awk '{print $1, $5}' "$T/out")" = "$S2 $P/new.txt
$S1 $P/gonedir/a/x.txt" ]; then pass "find: any pattern, snapshots in the order given"; else fail "find: several patterns" "$(cat "$T/out")"; fi

expect "find a directory" "$STRATA" find newdir
if [ "$(awk '{print $5}' "$T/out")" = "$P/newdir/" ]; then pass "find: directories end in /"; else fail "find: directory" "$(cat "$T/out")"; fi

# keep/ is the same tree at the same path in both snapshots: once searched
# without a match, the second snapshot skips it unread.
expect "find nothing" "$STRATA" find -v 'no-such-name*'
if [ ! -s "$T/out" ] && grep -qx "0 matches in 2 snapshots; 1 directories skipped as already searched" "$T/err"; then
	pass "find: no match is empty output, exit 0, unchanged subtree skipped"
else
	fail "find: no match" "out: $(head -c 200 "$T/out") err: $(head -c 300 "$T/err")"
fi
expect "find --json nothing" "$STRATA" find --json 'no-such-name*'
same "find --json: empty array" "$T/out" "[]"

expect_exit "find: no pattern" 2 "$STRATA" find
expect_exit "find: empty pattern" 2 "$STRATA" find ''
expect_exit "find: unknown snapshot" 14 "$STRATA" find --snapshot ffffffff '*'

e2e_done
