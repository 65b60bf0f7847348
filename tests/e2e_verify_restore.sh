# e2e_verify_restore.sh — `strata verify-restore` and what reads its
# records (tools/cli/doc/verification.md "Restore tests", store/FORMAT.md §12b), driving the
# real binary:
#   - a passing command records ok, a failing one its exit status, a
#     killed one its signal, one past --timeout a timeout; exit 0 / 1;
#   - the command's environment (STRATA_RESTORE_DIR, the snapshot's ID,
#     time, host, paths, tags, labels), working directory, stdin, stdout;
#   - the scratch directory: removed afterwards (default place, --scratch,
#     an empty existing one emptied and kept), after SIGTERM and SIGINT,
#     swept by the next run after SIGKILL; a non-empty one refused;
#     --keep-scratch;
#   - snapshots (table column, --json "verified", --verified), restore,
#     dump and ls --verified: the newest snapshot whose newest test passed,
#     past a newer untested and a newer failed one;
#   - the metrics file; check and selection on damaged, forged and moved
#     records; replicate copies the records; forget + prune delete those
#     of forgotten snapshots; a restore that finds damage is recorded;
#   - a real application: a RocksDB database written by db_bench passes
#     `ldb checkconsistency` after its restore, and fails it when a table
#     file was missing from the backup (skipped without rocksdb-tools);
#   - tools/dist/strata-verify-pg starts a restored PostgreSQL cluster (a
#     stopped server's data directory) and fails one without its control
#     file (skipped without PostgreSQL or root).
# POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

export STRATA_REPOSITORY="$R"
S="$T/src"
VR() { "$STRATA" verify-restore "$@"; }

# jq-less JSON reads: py EXPR FILE (d is the document).
py() { python3 -S -c 'import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"; }

# records SNAPSHOT_ID — how many record files the snapshot has.
records() { ls "$R/verified/$1" 2>/dev/null | wc -l; }
all_records() { find "$R/verified" -type f 2>/dev/null | wc -l; }

# id_of INDEX — the full ID of the INDEX-th snapshot, oldest first.
id_of() { "$STRATA" snapshots --json >"$T/snaps.json" && py "d[$1]['id']" "$T/snaps.json"; }

# verified_of ID FIELD — field of snapshots --json's "verified" for ID
# ("None" when it has no record).
verified_of() {
	"$STRATA" snapshots --json >"$T/snaps.json" 2>"$T/snaps.err"
	py "[s['verified'] and s['verified'].get('$2') for s in d if s['id'] == '$1'][0]" "$T/snaps.json"
}

scratch_parent() { echo "$STRATA_CACHE_DIR"/*/verify-restore; }

"$STRATA" init -q || { fail init "cannot init"; e2e_done; }
mkdir -p "$S/dir"
snap() {   # snap TIME CONTENT: a snapshot of $S with a.txt = CONTENT
	printf '%s\n' "$2" >"$S/a.txt"
	"$STRATA" backup -q --host node1 --tag chain --tag daily --label height="$3" --label kind-x=odd \
		--time "$1" "$S"
}
printf 'deep\n' >"$S/dir/b.txt"
snap 2024-05-01T10:00:00Z one 100 && snap 2024-05-01T11:00:00Z two 200 &&
	snap 2024-05-01T12:00:00Z three 300 && snap 2024-05-01T13:00:00Z four 400 ||
	{ fail setup "backups"; e2e_done; }
S1=$(id_of 0); S2=$(id_of 1); S3=$(id_of 2); S4=$(id_of 3)
[ ${#S4} -eq 64 ] && pass "setup: four snapshots" || fail "setup" "ids $S1 $S4"

# ---- outcomes ----
expect_exit "a passing command: exit 0" 0 VR "$S1" -- true
grep -q '^restore test passed: true exited 0 after' "$T/out" && pass "a passing command: says so" || fail "a passing command: says so" "$(cat "$T/out")"
[ "$(verified_of "$S1" ok)" = True ] && [ "$(verified_of "$S1" outcome)" = passed ] &&
	[ "$(verified_of "$S1" exit_status)" = 0 ] && [ "$(verified_of "$S1" name)" = true ] &&
	pass "a passing command: snapshots --json shows ok, passed, exit status 0, its name" ||
	fail "a passing command: snapshots --json" "$(head -c 600 "$T/snaps.json")"
[ "$(records "$S1")" -eq 1 ] && pass "a passing command: one record in verified/<snapshot>/" || fail "a passing command: one record" "$(records "$S1")"

expect_exit "a failing command: exit 1" 1 VR "$S3" -- sh -c 'exit 7'
grep -qx "strata: snapshot ${S3%"${S3#????????}"} did not pass its restore test: sh exited with status 7 after [0-9.]* s; recorded as [0-9a-f]\{8\}" "$T/err" &&
	pass "a failing command: the message names snapshot, command and status" || fail "a failing command: message" "$(cat "$T/err")"
[ "$(verified_of "$S3" ok)" = False ] && [ "$(verified_of "$S3" outcome)" = failed ] && [ "$(verified_of "$S3" exit_status)" = 7 ] &&
	pass "a failing command: recorded with its exit status" || fail "a failing command: recorded" "$(head -c 600 "$T/snaps.json")"

expect_exit "a killed command: exit 1" 1 VR "$S3" --name killer -- sh -c 'kill -SEGV $$'
[ "$(verified_of "$S3" outcome)" = signal ] && [ "$(verified_of "$S3" signal)" = 11 ] && [ "$(verified_of "$S3" name)" = killer ] &&
	pass "a killed command: outcome signal, signal 11, --name recorded" || fail "a killed command" "$(head -c 600 "$T/snaps.json")"

"$STRATA" --json verify-restore "$S4" --timeout 1s -- sh -c 'echo noise; sleep 30' >"$T/out.json" 2>"$T/err"
rc=$?
[ $rc -eq 1 ] && [ "$(py "d['outcome'], d['signal'], d['ok'], d['timeout_s']" "$T/out.json")" = "('timeout', 15, False, 1)" ] &&
	pass "--timeout: stopped with SIGTERM, recorded as timeout, exit 1" || fail "--timeout" "exit $rc: $(head -c 400 "$T/out.json")"
grep -qx noise "$T/err" && pass "the command's stdout goes to stderr; --json stdout is one document" || fail "command stdout" "$(head -c 200 "$T/err")"
# The timeout record of S4 is the newest; make S4 untested again for the
# selection checks below.
rm -rf "$R/verified/$S4"
[ "$(verified_of "$S4" ok)" = None ] && pass "snapshots --json: verified is null without a record" || fail "verified null" "$(verified_of "$S4" ok)"

# ---- what the command sees ----
cat >"$T/probe.sh" <<'EOF'
#!/bin/sh
{
	echo "dir=$STRATA_RESTORE_DIR"
	echo "pwd=$(pwd -P)"
	echo "id=$STRATA_SNAPSHOT_ID"
	echo "short=$STRATA_SNAPSHOT_SHORT_ID"
	echo "time=$STRATA_SNAPSHOT_TIME"
	echo "host=$STRATA_SNAPSHOT_HOST"
	echo "tags=$STRATA_SNAPSHOT_TAGS"
	echo "height=$STRATA_SNAPSHOT_LABEL_HEIGHT"
	echo "kindx=$STRATA_SNAPSHOT_LABEL_KIND_X"
	echo "labels=$(printf %s "$STRATA_SNAPSHOT_LABELS" | tr '\n' ' ')"
	echo "paths=$STRATA_SNAPSHOT_PATHS"
	echo "a=$(cat "$STRATA_RESTORE_PATH/a.txt")"
	echo "b=$(cat "$STRATA_RESTORE_DIR$STRATA_SNAPSHOT_PATHS/dir/b.txt")"
	echo "stdin=$(cat | wc -c)"
	echo "stale=${STRATA_SNAPSHOT_STALE:-unset}"
} >"$PROBE_OUT"
EOF
chmod 755 "$T/probe.sh"
PROBE_OUT="$T/probe.out" STRATA_SNAPSHOT_STALE=x expect "environment: the probe runs" VR "$S2" -- "$T/probe.sh"
"$STRATA" snapshots --json >"$T/snaps.json"
want_time=$(py "[s['time'] for s in d if s['id'] == '$S2'][0]" "$T/snaps.json")
dir=$(sed -n 's/^dir=//p' "$T/probe.out")
check_var() {   # check_var NAME EXPECTED
	got=$(sed -n "s/^$1=//p" "$T/probe.out")
	[ "$got" = "$2" ] && pass "environment: $1" || fail "environment: $1" "got '$got', wanted '$2'"
}
case "$dir" in "$(scratch_parent)"/*) pass "environment: STRATA_RESTORE_DIR is under the cache" ;; *) fail "environment: STRATA_RESTORE_DIR" "$dir" ;; esac
check_var pwd "$dir"
check_var id "$S2"
check_var short "$(printf %.8s "$S2")"
check_var time "$want_time"
check_var host node1
check_var tags chain,daily
check_var height 200
check_var kindx odd
check_var labels "height=200 kind-x=odd"
check_var paths "$S"
check_var a two
check_var b deep
check_var stdin 0
check_var stale unset
[ ! -e "$dir" ] && pass "scratch: the default directory is gone afterwards" || fail "scratch: default directory gone" "$dir exists"
[ -z "$(ls -A "$(scratch_parent)")" ] && pass "scratch: nothing left under the cache" || fail "scratch: nothing left" "$(ls -A "$(scratch_parent)")"

# ---- the scratch directory ----
expect "--scratch: a missing directory is created" VR "$S2" --scratch "$T/scr1" -- test -f "$T/scr1$S/a.txt"
[ ! -e "$T/scr1" ] && pass "--scratch: a directory strata created is removed" || fail "--scratch: removed" "$(ls -la "$T/scr1")"
mkdir "$T/scr2"
expect "--scratch: an empty directory is used" VR "$S2" --scratch "$T/scr2" -- test -f "$T/scr2$S/a.txt"
[ -d "$T/scr2" ] && [ -z "$(ls -A "$T/scr2")" ] && pass "--scratch: an empty directory that existed is emptied and kept" || fail "--scratch: emptied and kept" "$(ls -la "$T/scr2" 2>&1)"
mkdir -p "$T/scr3" && printf 'keep me\n' >"$T/scr3/precious"
nrec=$(all_records)
expect_exit "--scratch: a non-empty directory is refused (exit 4)" 4 VR "$S2" --scratch "$T/scr3" -- true
grep -qx "strata: scratch directory $T/scr3 is not empty; everything in it would be removed after the test: give --scratch an empty or missing directory" "$T/err" &&
	pass "--scratch: the refusal names it and says what to do" || fail "--scratch: refusal message" "$(cat "$T/err")"
[ "$(cat "$T/scr3/precious")" = "keep me" ] && [ "$(all_records)" -eq "$nrec" ] && pass "--scratch: refused, nothing touched, nothing recorded" || fail "--scratch refused: untouched" "$(ls -la "$T/scr3")"
printf 'x' >"$T/afile"
expect_exit "--scratch: a file is refused" 4 VR "$S2" --scratch "$T/afile" -- true
grep -q "is not a directory" "$T/err" && pass "--scratch: a file: message" || fail "--scratch file message" "$(cat "$T/err")"
expect "--keep-scratch keeps the restored files" VR "$S2" --keep-scratch --scratch "$T/scr4" -- true
[ "$(cat "$T/scr4$S/a.txt" 2>&1)" = two ] && grep -qx "scratch directory kept: $T/scr4" "$T/out" && pass "--keep-scratch: files there, path printed" || fail "--keep-scratch" "$(cat "$T/out")"
rm -rf "$T/scr4"
# A chmod 000 directory inside, and a symlink to something outside: the
# removal neither fails nor follows it.
mkdir -p "$T/outside" && printf 'safe\n' >"$T/outside/f"
expect "scratch: unwritable directories and symlinks are removed safely" VR "$S2" --scratch "$T/scr5" -- \
	sh -c 'mkdir -p locked/x && touch locked/x/f && chmod 000 locked/x locked && ln -s "$0" link' "$T/outside"
[ ! -e "$T/scr5" ] && [ "$(cat "$T/outside/f")" = safe ] && pass "scratch: removed, the symlink's target untouched" || fail "scratch: unwritable/symlink" "$(ls -laR "$T/scr5" 2>&1 | head -c 300)"

# ---- signals ----
# sig_test SIGNAL — verify-restore is stopped by SIGNAL while its command
# runs: it dies of the signal, the command is stopped, the scratch
# directory is gone and nothing is recorded.
sig_test() {
	rm -f "$T/started" "$T/cmdpid"
	nrec=$(all_records)
	"$STRATA" verify-restore "$S2" --scratch "$T/scr-sig" -- sh -c 'echo $$ >"$0/cmdpid"; touch "$0/started"; sleep 60' "$T" \
		>"$T/sig.out" 2>"$T/sig.err" &
	pid=$!
	i=0
	while [ ! -e "$T/started" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$T/scr-sig$S/a.txt" ] && pass "$1: the restore is there while the command runs" || fail "$1: restore there" "$(ls -la "$T/scr-sig" 2>&1)"
	kill -"$1" $pid
	wait $pid
	rc=$?
	case $1 in TERM) want=143 ;; INT) want=130 ;; esac
	[ $rc -eq $want ] && pass "$1: strata dies of the signal (exit $want)" || fail "$1: exit" "$rc, wanted $want: $(cat "$T/sig.err")"
	[ ! -e "$T/scr-sig" ] && pass "$1: the scratch directory is gone" || fail "$1: scratch gone" "$(ls -la "$T/scr-sig" 2>&1)"
	cpid=$(cat "$T/cmdpid")
	if kill -0 "$cpid" 2>/dev/null; then fail "$1: the command is stopped" "pid $cpid still runs"; kill -9 "$cpid"; else pass "$1: the command is stopped"; fi
	[ "$(all_records)" -eq "$nrec" ] && pass "$1: nothing recorded" || fail "$1: nothing recorded" "$(all_records) records, was $nrec"
}
sig_test TERM
sig_test INT

# SIGKILL of the process strata's caller started: the rest dies with it,
# and the next run removes the directory it left.
rm -f "$T/started" "$T/cmdpid"
# (exec: the command is one process, which PR_SET_PDEATHSIG stops; what
# it started itself is out of reach once the whole of strata is killed.)
"$STRATA" verify-restore "$S2" -- sh -c 'echo $$ >"$0/cmdpid"; touch "$0/started"; exec sleep 60' "$T" >/dev/null 2>&1 &
pid=$!
i=0
while [ ! -e "$T/started" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
left=$(ls -d "$(scratch_parent)"/* 2>/dev/null)
kill -KILL $pid
wait $pid 2>/dev/null
i=0
while kill -0 "$(cat "$T/cmdpid")" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$(cat "$T/cmdpid")" 2>/dev/null && { fail "KILL: the command is stopped" "still runs"; kill -9 "$(cat "$T/cmdpid")"; } || pass "KILL: the command is stopped"
[ -n "$left" ] && [ -d "$left" ] && pass "KILL: the default scratch directory is left behind" || fail "KILL: left behind" "'$left'"
expect "KILL: the next run succeeds" VR "$S2" -- true
grep -qx "strata: warning: removed scratch directory $left, left by a restore test that was killed" "$T/err" &&
	[ ! -e "$left" ] && pass "KILL: the next run removes the leftover and says so" || fail "KILL: swept" "$(cat "$T/err")"

# ---- selection: the newest snapshot whose newest test passed ----
# S1 passed, S2 passed (several times), S3 failed (newest: killed), S4
# untested, and newer than all.
"$STRATA" restore --verified --target "$T/r1" >"$T/out" 2>"$T/err" && [ "$(cat "$T/r1$S/a.txt")" = two ] &&
	pass "restore --verified: the newest passing snapshot, past a newer failed and a newer untested one" ||
	fail "restore --verified" "$(cat "$T/err") $(ls -R "$T/r1" 2>&1 | head -c 200)"
"$STRATA" snapshots --verified --json >"$T/v.json"
[ "$(py "[s['id'] for s in d]" "$T/v.json")" = "['$S1', '$S2']" ] && pass "snapshots --verified: only those whose newest test passed" || fail "snapshots --verified" "$(head -c 300 "$T/v.json")"
"$STRATA" snapshots >"$T/table"
grep -q '^ID  *Time  *Restore test  *Host' "$T/table" && grep -q "^$(printf %.8s "$S3")  .*  FAILED 20" "$T/table" &&
	grep -q "^$(printf %.8s "$S2")  .*  passed 20" "$T/table" && pass "snapshots: the Restore test column shows passed/FAILED and when" || fail "snapshots column" "$(cat "$T/table")"
expect "dump --verified" sh -c '"$0" dump --verified "$1/a.txt" | grep -qx two' "$STRATA" "$S"
expect "dump latest --verified" sh -c '"$0" dump latest --verified --tag chain "$1/a.txt" | grep -qx two' "$STRATA" "$S"
expect "ls --verified PATH" sh -c '"$0" ls --verified "$1/a.txt" | grep -q "a.txt"' "$STRATA" "$S"
expect_exit "restore SNAPSHOT --verified: not both" 2 "$STRATA" restore "$S1" --verified --target "$T/x"
grep -q "not both" "$T/err" && pass "restore ID --verified: usage message" || fail "ID --verified message" "$(cat "$T/err")"
# S2 fails its next test: S1 is now the newest that passed.
expect_exit "S2 fails its newest test" 1 VR "$S2" -- false
"$STRATA" restore --verified --target "$T/r2" >/dev/null 2>&1 && [ "$(cat "$T/r2$S/a.txt")" = one ] &&
	pass "restore --verified: a snapshot that passed, then failed, is passed over" || fail "passed then failed" "$(ls -R "$T/r2" 2>&1 | head -c 200)"
expect "verify-restore --verified picks the same one" VR --verified -- sh -c 'test "$STRATA_SNAPSHOT_ID" = "$0"' "$S1"
expect_exit "restore --verified --tag nothing: not found" 14 "$STRATA" restore --verified --tag nosuchtag --target "$T/x"
expect_exit "restore --verified --host node1 --label height=400: nothing passed" 14 "$STRATA" restore --verified --label height=400 --target "$T/x"
grep -qx "strata: no snapshot (label height=400, passed a restore test): none of the 1 in the group has passed its newest restore test; \`strata verify-restore\` runs one" "$T/err" &&
	pass "--verified: the miss says none passed and what to run" || fail "--verified miss message" "$(cat "$T/err")"

# ---- metrics ----
M="$T/vr.prom"
expect "metrics: a passing run" VR "$S2" --job vr --metrics-file "$M" -- true
ok_ts=$(sed -n 's/^strata_last_verified_restore_timestamp_seconds{job="vr"} //p' "$M")
grep -qx 'strata_verified_restore_success{job="vr"} 1' "$M" && [ -n "$ok_ts" ] &&
	python3 -S -c 'import sys,time; v=float(sys.argv[1]); sys.exit(0 if abs(time.time()-v) < 600 else 1)' "$ok_ts" &&
	grep -qx 'strata_verified_restore_snapshot_timestamp_seconds{job="vr"} 1714561200' "$M" &&
	grep -qx 'strata_success{job="vr",command="verify-restore"} 1' "$M" &&
	pass "metrics: last verified restore timestamp now, success 1, the snapshot's time" || fail "metrics: pass" "$(cat "$M")"
expect_exit "metrics: a failing run" 1 VR "$S2" --job vr --metrics-file "$M" -- false
grep -qx 'strata_verified_restore_success{job="vr"} 0' "$M" &&
	grep -qx "strata_last_verified_restore_timestamp_seconds{job=\"vr\"} $ok_ts" "$M" &&
	grep -qx 'strata_exit_code{job="vr",command="verify-restore"} 1' "$M" &&
	pass "metrics: a failure sets success 0 and keeps the last verified timestamp" || fail "metrics: fail" "$(cat "$M")"
expect_exit "metrics: no repository" 10 "$STRATA" -r "$T/nope" verify-restore --job vr --metrics-file "$T/nope.prom" -- true
grep -qx 'strata_verified_restore_success{job="vr"} 0' "$T/nope.prom" && grep -qx 'strata_last_verified_restore_timestamp_seconds{job="vr"} 0' "$T/nope.prom" &&
	pass "metrics: written when nothing could run" || fail "metrics: no repo" "$(cat "$T/nope.prom" 2>&1)"
expect "S2 passes again" VR "$S2" -- true

# ---- usage and runtime errors: nothing recorded ----
nrec=$(all_records)
expect_exit "usage: no -- CMD" 2 VR "$S2"
grep -q "missing -- CMD" "$T/err" && pass "usage: no -- CMD: message" || fail "usage: no CMD message" "$(cat "$T/err")"
expect_exit "usage: -- without a command" 2 VR "$S2" --
expect_exit "usage: bad --timeout" 2 VR --timeout 5x -- true
expect_exit "usage: --timeout 0" 2 VR --timeout 0 -- true
expect_exit "usage: a name with a control character" 2 VR --name "$(printf 'a\tb')" -- true
expect_exit "usage: an operand before --" 2 VR "$S2" extra -- true
expect_exit "a program that does not exist: exit 4" 4 VR "$S2" -- /nonexistent/check
grep -qx "strata: cannot run /nonexistent/check: no such program (not in PATH?); nothing was recorded" "$T/err" &&
	pass "a program that does not exist: message" || fail "no such program message" "$(cat "$T/err")"
expect_exit "an unknown snapshot: exit 14" 14 VR deadbeef -- true
[ -e "$T/afile" ] && [ "$(all_records)" -eq "$nrec" ] && pass "errors: nothing recorded" || fail "errors: nothing recorded" "$(all_records), was $nrec"
[ -z "$(ls -A "$(scratch_parent)")" ] && pass "errors: no scratch directory left" || fail "errors: scratch left" "$(ls -A "$(scratch_parent)")"
# The command's arguments never reach the repository: only its name.
expect_exit "a secret in the arguments" 1 VR "$S3" -- sh -c 'exit 3' "hunter2-secret"
[ "$(verified_of "$S3" name)" = sh ] && ! grep -rq hunter2 "$R" "$STRATA_CACHE_DIR" && pass "only the command's name is recorded" || fail "secret" "$(verified_of "$S3" name)"

# ---- check, and damaged, forged, moved records ----
expect "check: clean" "$STRATA" check
grep -q "^checked [0-9]* restore-test records$" "$T/out" && pass "check: counts the records" || fail "check: counts" "$(cat "$T/out")"
newest() { ls -t "$R/verified/$1"/* | head -n 1; }
f=$(newest "$S2")
cp "$f" "$T/rec.bak"
flip_byte "$f" 40
expect_exit "check: a damaged record is damage (exit 1)" 1 "$STRATA" check
grep -q "^  restore-test record verified/$S2/$(basename "$f"): content does not match its name (file damaged); selection ignores it: delete it (nothing depends on it) and test snapshot $(printf %.8s "$S2") again with \`strata verify-restore\`$" "$T/out" &&
	pass "check: the damaged record is named, with what to do" || fail "check: damaged record message" "$(cat "$T/out")"
"$STRATA" --json check >"$T/c.json" 2>/dev/null
[ "$(py "[(p['kind'], p['severity'], p['object']) for p in d['problems']]" "$T/c.json")" = "[('verified', 'damage', '$(basename "$f")')]" ] &&
	pass "check --json: kind verified, damage, the record's ID" || fail "check --json" "$(head -c 500 "$T/c.json")"
# The damaged record was S2's pass: selection warns and falls back.
"$STRATA" restore --verified --target "$T/r3" >"$T/out" 2>"$T/err"
grep -q "^strata: warning: restore-test record verified/$S2/$(basename "$f"): content does not match its name (file damaged); ignored, as if it were not there$" "$T/err" &&
	pass "selection: a damaged record is ignored with a warning" || fail "selection warning" "$(cat "$T/err")"
# S2's newest readable record is then the earlier "false": S1 is picked.
[ "$(cat "$T/r3$S/a.txt")" = one ] && pass "selection: the damaged pass does not count" || fail "selection: damaged pass" "$(ls -R "$T/r3" | head -c 200)"
cp "$T/rec.bak" "$f"
# Forged: a record sealed under another repository's key, put in place.
R2="$T/repo2"
"$STRATA" -r "$R2" init -q && "$STRATA" -r "$R2" backup -q "$S" && "$STRATA" -r "$R2" verify-restore -q -- true
forged=$(find "$R2/verified" -type f | head -n 1)
mkdir -p "$R/verified/$S4"
fname=$(sha256sum "$forged" | cut -c1-64)
cp "$forged" "$R/verified/$S4/$fname"
expect_exit "check: a forged record is damage" 1 "$STRATA" check
grep -q "^  restore-test record verified/$S4/$fname: fails authentication (damaged or tampered)" "$T/out" && pass "check: a forged record fails authentication" || fail "forged" "$(cat "$T/out")"
"$STRATA" snapshots --verified --json >"$T/v.json" 2>"$T/err"
! py "[s['id'] for s in d]" "$T/v.json" | grep -q "$S4" && grep -q "fails authentication (damaged or tampered); ignored" "$T/err" &&
	pass "selection: a forged record makes nothing pass" || fail "forged: selection" "$(cat "$T/err")"
rm -rf "$R/verified/$S4"
# Moved: a pass of S2 copied into S4's directory.
mkdir -p "$R/verified/$S4"
cp "$(ls "$R/verified/$S1"/* | head -n 1)" "$R/verified/$S4/"
moved=$(ls "$R/verified/$S4")
expect_exit "check: a moved record is damage" 1 "$STRATA" check
grep -q "^  restore-test record verified/$S4/$moved: names snapshot $(printf %.8s "$S1"), not the one of its directory (moved)" "$T/out" && pass "check: a moved record is named" || fail "moved" "$(cat "$T/out")"
"$STRATA" restore --verified --label height=400 --target "$T/x" >/dev/null 2>&1
[ $? -eq 14 ] && pass "selection: a moved pass does not make its new snapshot pass" || fail "moved: selection" "S4 was picked"
rm -rf "$R/verified/$S4"
expect "check: clean again" "$STRATA" check

# ---- replicate ----
expect "replicate" "$STRATA" replicate --to "$T/replica"
( cd "$R" && find verified -type f | sort ) >"$T/a.list"
( cd "$T/replica" && find verified -type f | sort ) >"$T/b.list"
[ -s "$T/a.list" ] && cmp -s "$T/a.list" "$T/b.list" && pass "replicate: every record copied" || fail "replicate: records" "$(diff "$T/a.list" "$T/b.list" | head -c 300)"
"$STRATA" -r "$T/replica" restore --verified --target "$T/r4" >/dev/null 2>&1 && [ "$(cat "$T/r4$S/a.txt")" = two ] &&
	pass "replicate: restore --verified on the copy picks the same snapshot" || fail "replicate: restore --verified" "$(ls -R "$T/r4" 2>&1 | head -c 200)"
expect "replicate: check of the copy" "$STRATA" -r "$T/replica" check

# ---- forget + prune ----
before_s2=$(records "$S2")
n1=$(records "$S1")
[ "$n1" -ge 2 ] && pass "forget: S1 has $n1 records" || fail "forget: S1 records" "$n1"
expect "forget S1" "$STRATA" forget "$S1"
expect "check: records of a forgotten snapshot are a warning" "$STRATA" check
grep -q "^strata: warning: $n1 restore-test records of 1 snapshot no longer in the repository (forgotten): \`strata prune\` deletes them$" "$T/err" &&
	pass "check: the warning counts them" || fail "check: forgotten warning" "$(cat "$T/err")"
expect "prune --dry-run" "$STRATA" prune --dry-run
[ "$(records "$S1")" -eq "$n1" ] && grep -q "^would delete $n1 restore-test records of 1 forgotten snapshot$" "$T/out" &&
	pass "prune --dry-run: counts, deletes nothing" || fail "prune --dry-run" "$(cat "$T/out")"
expect "prune" "$STRATA" prune
[ "$(records "$S1")" -eq 0 ] && [ "$(records "$S2")" -eq "$before_s2" ] && grep -q "^deleted $n1 restore-test records of 1 forgotten snapshot$" "$T/out" &&
	pass "prune: the forgotten snapshot's records are gone, the others kept" || fail "prune" "$(cat "$T/out"); $(ls "$R/verified")"
"$STRATA" --json prune >"$T/p.json" 2>/dev/null
[ "$(py "d['verified_records_removed']" "$T/p.json")" = 0 ] && pass "prune --json: verified_records_removed" || fail "prune --json" "$(head -c 300 "$T/p.json")"
expect "check: clean after prune" "$STRATA" check
[ ! -s "$T/err" ] && pass "check: no warning left" || fail "check: no warning" "$(cat "$T/err")"

# ---- a restore that finds damage is the test's answer ----
R3="$T/repo3"
mkdir -p "$T/src3" && head -c 300000 /dev/urandom >"$T/src3/data.bin"
"$STRATA" -r "$R3" init -q && "$STRATA" -r "$R3" backup -q "$T/src3"
for p in $(find "$R3/data" -type f); do flip_byte "$p" 100; done
expect_exit "damaged data: exit 1" 1 "$STRATA" -r "$R3" verify-restore -- true
grep -q "did not pass its restore test: the restore failed: .*; recorded as [0-9a-f]\{8\}$" "$T/err" && pass "damaged data: recorded as a failed restore" || fail "damaged data: message" "$(cat "$T/err")"
"$STRATA" -r "$R3" snapshots --json >"$T/s3.json"
[ "$(py "d[0]['verified']['outcome'], d[0]['verified']['exit_status']" "$T/s3.json")" = "('restore_failed', None)" ] &&
	pass "damaged data: outcome restore_failed" || fail "damaged data: outcome" "$(head -c 400 "$T/s3.json")"
[ -z "$(find "$STRATA_CACHE_DIR" -path '*/verify-restore/*' 2>/dev/null)" ] && pass "damaged data: scratch removed" || fail "damaged data: scratch" "$(find "$STRATA_CACHE_DIR" -path '*/verify-restore/*')"

# ---- a real application: RocksDB ----
if command -v db_bench >/dev/null 2>&1 && command -v ldb >/dev/null 2>&1; then
	RR="$T/rocks-repo"
	DB="$T/node/db"
	mkdir -p "$T/node"
	# Small write buffers: the 10,000 keys land in several table files.
	db_bench --benchmarks=fillseq --num=10000 --db="$DB" --write_buffer_size=262144 --compression_type=none \
		>"$T/db_bench.log" 2>&1
	nsst=$(ls "$DB" | grep -c '\.sst$')
	[ "$nsst" -ge 2 ] && pass "rocksdb: db_bench wrote $nsst table files" || fail "rocksdb: db_bench" "$(tail -n 5 "$T/db_bench.log")"
	"$STRATA" -r "$RR" init -q && "$STRATA" -r "$RR" backup -q --tag rocks --time 2024-06-01T10:00:00Z "$DB"
	CHECK='ldb --db="$STRATA_RESTORE_PATH" checkconsistency && test "$(ldb --db="$STRATA_RESTORE_PATH" scan | wc -l)" -eq 10000'
	expect "rocksdb: the restored database passes ldb checkconsistency and scans 10000 keys" \
		"$STRATA" -r "$RR" verify-restore --tag rocks -- sh -c "$CHECK"
	grep -q "^restore test passed: sh exited 0" "$T/out" && pass "rocksdb: recorded as passed" || fail "rocksdb: passed" "$(cat "$T/out" "$T/err")"
	good=$("$STRATA" -r "$RR" snapshots --json | python3 -S -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
	# A table file lost from the source before the next backup.
	rm "$DB/$(ls "$DB" | grep '\.sst$' | head -n 1)"
	"$STRATA" -r "$RR" backup -q --tag rocks --time 2024-06-01T11:00:00Z "$DB"
	expect_exit "rocksdb: a backup missing a table file fails ldb checkconsistency (exit 1)" 1 \
		"$STRATA" -r "$RR" verify-restore --tag rocks -- sh -c "$CHECK"
	grep -q "No such file or directory" "$T/err" && grep -q "did not pass its restore test: sh exited with status 1" "$T/err" &&
		pass "rocksdb: ldb's complaint and the failure are shown" || fail "rocksdb: failure shown" "$(tail -n 5 "$T/err")"
	"$STRATA" -r "$RR" restore --verified --tag rocks --target "$T/rocks-restore" >/dev/null 2>&1
	"$STRATA" -r "$RR" snapshots --verified --json | python3 -S -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])' >"$T/picked"
	[ "$(cat "$T/picked")" = "$good" ] && ldb --db="$T/rocks-restore$DB" checkconsistency >/dev/null 2>&1 &&
		pass "rocksdb: restore --verified gives the database that passed, and it opens" || fail "rocksdb: restore --verified" "$(cat "$T/picked") vs $good"
else
	echo "SKIP rocksdb: db_bench and ldb not installed (Debian package rocksdb-tools)"
fi

# ---- PostgreSQL: tools/dist/strata-verify-pg ----
PGBIN=
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
	if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then PGBIN=$d; break; fi
done
if [ -n "$PGBIN" ] && [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1; then
	TOP=$(cd "$(dirname "$0")/.." && pwd)
	chmod 711 "$T"
	PGS="$T/pgsrv"
	PGD="$PGS/data"
	mkdir -p "$PGS" && chmod 711 "$PGS" && chown postgres "$PGS"
	runuser -u postgres -- "$PGBIN/initdb" -D "$PGD" -A trust >"$T/initdb.log" 2>&1
	port=$(python3 -S -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGD" -o "-c listen_addresses='' -c unix_socket_directories='$PGS' -c port=$port" \
		-l "$PGS/log" -w start >/dev/null 2>&1
	runuser -u postgres -- "$PGBIN/psql" -h "$PGS" -p "$port" -d postgres -X -q \
		-c "create table accounts as select g as id, g * 10 as balance from generate_series(1, 5000) g" >/dev/null 2>&1
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGD" -m fast -w stop >/dev/null 2>&1
	RP="$T/pg-repo"
	"$STRATA" -r "$RP" init -q && "$STRATA" -r "$RP" backup -q --tag pg --time 2024-07-01T10:00:00Z "$PGD"
	expect "postgres: strata-verify-pg starts the restored cluster and it answers" \
		"$STRATA" -r "$RP" verify-restore --tag pg --scratch "$T/pg-scratch" --timeout 10m --name strata-verify-pg -- \
		env VERIFY_PG_DATA="$PGD" PG_BIN="$PGBIN" "$TOP/tools/dist/strata-verify-pg"
	grep -q "^strata-verify-pg: PostgreSQL [0-9]* started from the restore and answered ([0-9]* databases)$" "$T/err" &&
		grep -q "^restore test passed: strata-verify-pg exited 0" "$T/out" &&
		pass "postgres: the check says what it did; passed and recorded" || fail "postgres: messages" "$(tail -n 5 "$T/err")"
	[ ! -e "$T/pg-scratch" ] && [ -z "$(ps -eo args | grep "^[^ ]*postgres -D $T/pg-scratch" )" ] &&
		pass "postgres: the restored cluster is stopped and the scratch directory gone" || fail "postgres: cleanup" "$(ps -eo args | grep "$T/pg-scratch")"
	# The control file lost from the copy: the cluster cannot start.
	rm "$PGD/global/pg_control"
	"$STRATA" -r "$RP" backup -q --tag pg --time 2024-07-01T11:00:00Z "$PGD"
	expect_exit "postgres: a copy without its control file fails (exit 1)" 1 \
		"$STRATA" -r "$RP" verify-restore --tag pg --scratch "$T/pg-scratch" --timeout 10m --name strata-verify-pg -- \
		env VERIFY_PG_DATA="$PGD" PG_BIN="$PGBIN" "$TOP/tools/dist/strata-verify-pg"
	grep -q "^strata-verify-pg: the restored cluster did not start; its log ends:$" "$T/err" &&
		grep -q "did not pass its restore test: strata-verify-pg exited with status 1" "$T/err" &&
		pass "postgres: the server log's tail and the failure are shown" || fail "postgres: failure shown" "$(tail -n 8 "$T/err")"
	"$STRATA" -r "$RP" snapshots --verified --json >"$T/pgv.json"
	[ "$(py "[s['time'] for s in d]" "$T/pgv.json")" = "['2024-07-01T10:00:00.000000000Z']" ] &&
		pass "postgres: --verified keeps the copy that started" || fail "postgres: --verified" "$(head -c 300 "$T/pgv.json")"
else
	echo "SKIP postgres: PostgreSQL server binaries, root and a user postgres are needed for tools/dist/strata-verify-pg"
fi

e2e_done
