#!/bin/sh
# e2e_selectors.sh — one selector syntax on every command that takes a
# snapshot (issue 30): in a repository holding chain, db and export
# snapshots of two hosts, --host/--tag/--path/--label/--at/--at-height
# make restore, dump, ls, diff, find, cat snapshot and mount pick the
# right one; "latest" alone is the newest overall. Bad combinations are
# usage errors.
. tests/e2e_lib.sh
export STRATA_REPOSITORY="$R"

expect init "$STRATA" init
mkdir -p "$T/chain"
b() { "$STRATA" backup -q "$@" >"$T/out" 2>"$T/err" || fail "backup $*" "$(cat "$T/err")"; }
echo h100 >"$T/chain/state"
b --host n1 --tag chain --label height=100 --time '2026-01-01T00:00Z' "$T/chain"
echo h150 >"$T/chain/state"
b --host n2 --tag chain --label height=150 --time '2026-01-01T01:00Z' "$T/chain"
echo h200 >"$T/chain/state"
echo new >"$T/chain/added"
b --host n1 --tag chain --label height=200 --time '2026-01-01T02:00Z' "$T/chain"
echo "CREATE TABLE t;" | b --host n1 --tag db --stdin --stdin-name db.sql --time '2026-01-01T03:00Z'
echo "export" | b --host n2 --tag export --stdin --stdin-name export.csv --time '2026-01-01T04:00Z'
P=${T#/}/chain

# dump: the db snapshot, though latest overall is the export.
expect_exit "dump latest db.sql without a selector: not in the newest snapshot (14)" 14 "$STRATA" dump latest db.sql
expect "dump latest --tag db" "$STRATA" dump latest db.sql --tag db
if [ "$(cat "$T/out")" = "CREATE TABLE t;" ]; then pass "dump --tag db: the db snapshot's file"; else fail "dump --tag db" "$(head -c 200 "$T/out")"; fi
expect "dump --metrics-file" "$STRATA" dump latest db.sql --tag db --metrics-file "$T/m.prom" --job pgdump
if grep -q '^strata_restore_bytes{job="pgdump",command="dump"} 16$' "$T/m.prom" &&
   grep -q '^strata_restore_data_loss_seconds{job="pgdump",command="dump"} [0-9]' "$T/m.prom" &&
   grep -q '^strata_restore_duration_seconds{job="pgdump",command="dump"} [0-9]' "$T/m.prom"; then
	pass "dump: recovery metrics (bytes, data loss, duration)"
else
	fail "dump: recovery metrics" "$(head -c 800 "$T/m.prom")"
fi

# restore: the newest chain snapshot of n1; by height on n2; by time.
expect "restore --host n1 --tag chain" "$STRATA" restore latest --host n1 --tag chain --target "$T/r1"
if [ "$(cat "$T/r1/$P/state")" = h200 ]; then pass "restore: newest chain snapshot of n1"; else fail "restore --host n1 --tag chain" "$(cat "$T/r1/$P/state" 2>&1)"; fi
expect "restore --at-height 199" "$STRATA" restore --at-height 199 --tag chain --target "$T/r2"
if [ "$(cat "$T/r2/$P/state")" = h150 ]; then pass "restore --at-height 199: height 150"; else fail "restore --at-height 199" "$(cat "$T/r2/$P/state" 2>&1)"; fi
expect "restore --at time --host n1" "$STRATA" restore --at '2026-01-01T01:30Z' --host n1 --target "$T/r3"
if [ "$(cat "$T/r3/$P/state")" = h100 ]; then pass "restore --at: n1 as of 01:30 is height 100"; else fail "restore --at --host n1" "$(cat "$T/r3/$P/state" 2>&1)"; fi

# ls: the export snapshot by tag, the chain one by label.
expect "ls --tag export" "$STRATA" ls latest --tag export
if grep -q 'export.csv' "$T/out" && ! grep -q 'db.sql' "$T/out"; then pass "ls --tag export lists the export"; else fail "ls --tag export" "$(head -c 300 "$T/out")"; fi
expect "dump --label height=150" "$STRATA" dump --label height=150 "$P/state"
if [ "$(cat "$T/out")" = h150 ]; then pass "dump --label height=150: the chain snapshot of n2"; else fail "dump --label height=150" "$(head -c 300 "$T/out")"; fi

# diff: a selector chooses SNAPSHOT1, the group narrows latest.
expect "diff --at-height 100 latest --host n1 --tag chain" "$STRATA" diff --at-height 100 latest --host n1 --tag chain
if grep -q "^+ /*$P/added" "$T/out" && grep -q "^M /*$P/state" "$T/out"; then pass "diff: height 100 to the newest chain of n1"; else fail "diff --at-height" "$(head -c 400 "$T/out")"; fi
first_id=$("$STRATA" snapshots --json | json_in "d[0]['id'][:8]")
expect_exit "diff ID with --tag: usage" 2 "$STRATA" diff "$first_id" latest --tag chain
if grep -q "choose among snapshots for latest" "$T/err"; then pass "diff ID with --tag: says why"; else fail "diff ID with --tag: says why" "$(cat "$T/err")"; fi
expect_exit "diff --at and --at-height: usage" 2 "$STRATA" diff --at-height 1 --at '2026-01-01' latest

# find: the group only, or the one snapshot --at-height picks.
expect "find --tag db" "$STRATA" find --tag db '*'
if [ "$(grep -c . "$T/out")" -eq 1 ] && grep -q 'db.sql' "$T/out"; then pass "find --tag db searches the db snapshot only"; else fail "find --tag db" "$(cat "$T/out")"; fi
expect "find --at-height 150 state" "$STRATA" find --at-height 150 --tag chain state --json
if [ "$(json "$T/out" "len(d)")" = 1 ]; then pass "find --at-height: one snapshot searched"; else fail "find --at-height" "$(head -c 400 "$T/out")"; fi
expect "find --host n1 state" "$STRATA" find --host n1 state --json
if [ "$(json "$T/out" "len(d)")" = 2 ]; then pass "find --host n1: both chain snapshots of n1"; else fail "find --host n1" "$(head -c 400 "$T/out")"; fi

# cat snapshot.
expect "cat snapshot --host n2 --tag export latest" "$STRATA" cat snapshot latest --host n2 --tag export
if [ "$(json "$T/out" "(d['hostname'] if 'hostname' in d else d['host'], d['tags'])")" = "('n2', ['export'])" ]; then pass "cat snapshot: the export of n2"; else fail "cat snapshot --host n2 --tag export" "$(head -c 400 "$T/out")"; fi
expect "cat snapshot --at-height 120" "$STRATA" cat snapshot --at-height 120
if [ "$(json "$T/out" "d['labels']")" = "{'height': '100'}" ]; then pass "cat snapshot --at-height 120: height 100"; else fail "cat snapshot --at-height" "$(head -c 400 "$T/out")"; fi
expect_exit "cat config --tag: usage" 2 "$STRATA" cat config --tag db

# mount: a group, never a single choice.
expect_exit "mount --at-height: usage" 2 "$STRATA" mount --at-height 5 "$T"
if grep -q "mount serves a group of snapshots" "$T/err"; then pass "mount --at-height: says why"; else fail "mount --at-height: says why" "$(cat "$T/err")"; fi
e2e_done
