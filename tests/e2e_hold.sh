#!/bin/sh
# e2e_hold.sh — tags, labels and holds after the backup (issue 30): a held
# snapshot survives `forget --keep-last 1 --prune` and still restores bit
# for bit; `forget ID` refuses it; `tag` adds and removes tags and labels
# (a new snapshot file, "original" naming the first, restore-test records
# carried over); unhold lets forget remove it; bad input.
. tests/e2e_lib.sh
export STRATA_REPOSITORY="$R"

S="$T/src"
mkdir -p "$S"
expect init "$STRATA" init
head -c 2000000 /dev/urandom >"$S/data"
echo v1 >"$S/version"
cp -a "$S" "$T/v1"
expect backup1 "$STRATA" backup -q --tag chain "$S"
head -c 2000000 /dev/urandom >"$S/data"
echo v2 >"$S/version"
expect backup2 "$STRATA" backup -q --tag chain "$S"
head -c 2000000 /dev/urandom >"$S/data"
echo v3 >"$S/version"
expect backup3 "$STRATA" backup -q --tag chain "$S"
"$STRATA" snapshots --json >"$T/snaps"
first=$(json "$T/snaps" "d[0]['id']")

# A restore test on the first, then a hold: the record follows it.
expect verify "$STRATA" verify-restore "$first" -- true
expect hold "$STRATA" hold "${first%"${first#????????}"}" --reason "last good before INC-42" --json
held=$(json "$T/out" "d[0]['new']")
if [ "$(json "$T/out" "(d[0]['old'] == '$first', d[0]['changed'], d[0]['new'] != '$first')")" = "(True, True, True)" ]; then
	pass "hold writes the snapshot anew and names the new ID"
else
	fail "hold writes the snapshot anew" "$(head -c 400 "$T/out")"
fi
expect cat_held "$STRATA" cat snapshot "$held"
if [ "$(json "$T/out" "(d['hold']['reason'], d['hold']['until'], d['original'] == '$first', d['tags'])")" = "('last good before INC-42', None, True, ['chain'])" ]; then
	pass "the held snapshot: hold reason, original ID, tags kept"
else
	fail "the held snapshot's fields" "$(head -c 600 "$T/out")"
fi
expect verified_kept "$STRATA" cat snapshot --verified
if [ "$(json "$T/out" "d['id']")" = "$held" ]; then pass "its restore-test record followed it (--verified picks it)"; else fail "restore-test record followed" "$(head -c 300 "$T/out")"; fi

# forget --keep-last 1 --prune: the newest by the rule, the held one by its hold.
expect forget_prune "$STRATA" forget --keep-last 1 --prune
if grep -q "keep .*${held%"${held#????????}"}.*held: last good before INC-42" "$T/out"; then pass "forget's plan says why the held snapshot stays"; else fail "forget's plan names the hold" "$(head -c 600 "$T/out")"; fi
"$STRATA" snapshots --json >"$T/snaps"
if [ "$(json "$T/snaps" "len(d)")" = 2 ] && [ "$(json "$T/snaps" "d[0]['id']")" = "$held" ]; then
	pass "a held snapshot survives forget --keep-last 1 --prune"
else
	fail "a held snapshot survives forget --keep-last 1 --prune" "$(head -c 400 "$T/snaps")"
fi
expect restore_held "$STRATA" restore "$held" --target "$T/r"
same_tree "the held snapshot restores bit for bit after the prune" "$T/v1" "$T/r$S"
expect check "$STRATA" check --read-data

expect_exit "forget ID of a held snapshot: refused (4)" 4 "$STRATA" forget "$held"
if grep -q "is held (last good before INC-42); \`strata unhold" "$T/err"; then pass "forget ID of a held snapshot: says so"; else fail "forget ID of a held snapshot: says so" "$(cat "$T/err")"; fi

# tag: add and remove tags and labels; selectors choose the snapshot.
expect tag "$STRATA" tag --tag chain --at '2100-01-01' --add good --remove chain --add-label incident=42 --json
tagged=$(json "$T/out" "d[0]['new']")
expect cat_tagged "$STRATA" cat snapshot latest --tag good
if [ "$(json "$T/out" "(d['id'] == '$tagged', d['tags'], d['labels'])")" = "(True, ['good'], {'incident': '42'})" ]; then
	pass "tag: tags and labels changed, found by the new tag"
else
	fail "tag: tags and labels changed" "$(head -c 600 "$T/out")"
fi
expect tag_again "$STRATA" tag "$tagged" --add good --json
if [ "$(json "$T/out" "(d[0]['changed'], d[0]['new'] == '$tagged')")" = "(False, True)" ]; then pass "tag: no change, no new file"; else fail "tag: no change" "$(head -c 300 "$T/out")"; fi
expect relabel "$STRATA" tag "$tagged" --remove-label incident --json
tagged=$(json "$T/out" "d[0]['new']")
expect cat_relabel "$STRATA" cat snapshot "$tagged"
if [ "$(json "$T/out" "(d['labels'], d['original'] == '$(json "$T/snaps" "d[1]['id']")')")" = "({}, True)" ]; then
	pass "tag --remove-label; original still names the first file"
else
	fail "tag --remove-label" "$(head -c 600 "$T/out")"
fi

# unhold: forget's rules apply again.
expect unhold "$STRATA" unhold "$held" --json
unheld=$(json "$T/out" "d[0]['new']")
expect forget_again "$STRATA" forget --keep-last 1
"$STRATA" snapshots --json >"$T/snaps"
if [ "$(json "$T/snaps" "[s['id'] for s in d]")" = "['$tagged']" ] && ! grep -q "$unheld" "$T/snaps"; then
	pass "after unhold, forget --keep-last 1 removes it"
else
	fail "after unhold, forget removes it" "$(head -c 400 "$T/snaps")"
fi

# Bad input.
expect_exit "hold without --reason: usage" 2 "$STRATA" hold latest
if grep -q "missing --reason TEXT" "$T/err"; then pass "hold without --reason: says so"; else fail "hold without --reason: says so" "$(cat "$T/err")"; fi
expect_exit "hold --until in the past: usage" 2 "$STRATA" hold latest --reason x --until 2001-01-01
if grep -q "until lies in the past" "$T/err"; then pass "hold --until in the past: says so"; else fail "hold --until in the past: says so" "$(cat "$T/err")"; fi
expect_exit "tag with nothing to change: usage" 2 "$STRATA" tag latest
if grep -q "nothing to change" "$T/err"; then pass "tag with nothing to change: says so"; else fail "tag with nothing to change: says so" "$(cat "$T/err")"; fi
expect_exit "tag --add-label without =: usage" 2 "$STRATA" tag latest --add-label incident
if grep -q "add-label wants KEY=VALUE" "$T/err"; then pass "tag --add-label without =: says so"; else fail "tag --add-label without =: says so" "$(cat "$T/err")"; fi
expect_exit "tag of an unknown snapshot: 14" 14 "$STRATA" tag 0000dead --add x
expect_exit "tag --add '': usage" 2 "$STRATA" tag latest --add ''
if grep -q "a tag cannot be empty" "$T/err"; then pass "tag --add '': says so"; else fail "tag --add '': says so" "$(cat "$T/err")"; fi
e2e_done
