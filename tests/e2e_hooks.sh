# e2e_hooks.sh — backup --pre-hook and --post-hook (tools/cli/cli_hook.h):
# when they run relative to the read, the post-hook's environment for
# success, partial and failure, a failing pre-hook (exact message, exit 4,
# no snapshot), and the post-hook after SIGTERM, SIGINT and errors.
# POSIX sh; real hooks through /bin/sh.
. "$(dirname "$0")/e2e_lib.sh"

S="$T/src"
H="$T/hooklog"
mkdir -p "$S/d" "$H"
printf 'one\n' >"$S/a.txt"
head -c 300000 /dev/urandom >"$S/d/random.bin"
"$STRATA" -r "$R" init -q || { fail "init" "cannot create the repository"; e2e_done; }

nsnaps() { "$STRATA" -r "$R" --json snapshots 2>/dev/null | json_in 'len(d)'; }
# envval FILE NAME — the value of NAME in an `env` dump, or "<unset>".
envval() { v=$(grep "^$2=" "$1" | head -n 1); if [ -n "$v" ]; then echo "${v#*=}"; else echo "<unset>"; fi; }
# check NAME GOT WANT
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', wanted '$3'"; fi; }

POST="env >$H/post.env"

# ---- order: the pre-hook runs before the read, the post-hook after it ----
# The pre-hook writes a file into the source: the snapshot holds it. The
# post-hook changes a file after: the snapshot does not hold that change,
# and the ID it is given is the snapshot just saved.
"$STRATA" -r "$R" --json backup "$S" \
	--pre-hook "echo pre-hook-ran; printf 'from pre\n' >$S/pre.txt" \
	--post-hook "echo post-hook-ran; printf 'from post\n' >>$S/a.txt; $POST" >"$T/out" 2>"$T/err"
rc=$?
check "success: exit 0" "$rc" 0
ID=$(json "$T/out" 'd["snapshot_id"]' 2>/dev/null)
if "$STRATA" -r "$R" dump "$ID" "$S/pre.txt" 2>/dev/null | grep -qx 'from pre'; then
	pass "order: what the pre-hook wrote is in the snapshot (it ran before the read)"
else
	fail "order: pre-hook before the read" "pre.txt not in snapshot $ID"
fi
if [ "$("$STRATA" -r "$R" dump "$ID" "$S/a.txt" 2>/dev/null)" = one ] && grep -qx 'from post' "$S/a.txt"; then
	pass "order: what the post-hook wrote is not in the snapshot (it ran after the read)"
else
	fail "order: post-hook after the read" "a.txt in the snapshot: $("$STRATA" -r "$R" dump "$ID" "$S/a.txt" 2>&1 | head -c 100)"
fi
printf 'one\n' >"$S/a.txt"
# Hook output goes to stderr (stdout stays one JSON document), in order.
if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out" 2>/dev/null &&
   [ "$(grep -c hook-ran "$T/err")" = 2 ] && [ "$(grep hook-ran "$T/err" | head -n 1)" = pre-hook-ran ]; then
	pass "hook output on stderr, pre before post; --json stdout is one document"
else
	fail "hook output" "stdout: $(head -c 200 "$T/out") stderr: $(head -c 200 "$T/err")"
fi
check "success: STRATA_BACKUP_STATUS" "$(envval "$H/post.env" STRATA_BACKUP_STATUS)" success
check "success: STRATA_EXIT_CODE" "$(envval "$H/post.env" STRATA_EXIT_CODE)" 0
check "success: STRATA_SNAPSHOT_ID is the snapshot saved" "$(envval "$H/post.env" STRATA_SNAPSHOT_ID)" "$ID"
check "success: STRATA_PRE_HOOK" "$(envval "$H/post.env" STRATA_PRE_HOOK)" ok
check "success: STRATA_HOOK" "$(envval "$H/post.env" STRATA_HOOK)" post
check "success: STRATA_JOB defaults to backup" "$(envval "$H/post.env" STRATA_JOB)" backup
check "success: no STRATA_ERROR" "$(envval "$H/post.env" STRATA_ERROR)" "<unset>"
check "no --freeze-pid: no STRATA_PAUSED_MS" "$(envval "$H/post.env" STRATA_PAUSED_MS)" "<unset>"

# Human output: the summary comes before the post-hook's output.
"$STRATA" -r "$R" backup "$S" --job nightly --pre-hook 'env >'"$H/pre.env"'; echo PRE-MARK' \
	--post-hook 'echo POST-MARK' >"$T/both" 2>&1
if [ "$(grep -n 'PRE-MARK' "$T/both" | cut -d: -f1)" -lt "$(grep -n '^snapshot .* saved' "$T/both" | cut -d: -f1)" ] &&
   [ "$(grep -n '^snapshot .* saved' "$T/both" | cut -d: -f1)" -lt "$(grep -n 'POST-MARK' "$T/both" | cut -d: -f1)" ]; then
	pass "output order: pre-hook, then strata's summary, then post-hook"
else
	fail "output order" "$(head -c 400 "$T/both")"
fi
check "pre-hook: STRATA_HOOK=pre" "$(envval "$H/pre.env" STRATA_HOOK)" pre
check "pre-hook: STRATA_JOB from --job" "$(envval "$H/pre.env" STRATA_JOB)" nightly
# The pre-hook must not eat a --stdin stream.
printf 'stream bytes\n' | "$STRATA" -r "$R" backup --stdin --stdin-name s.txt --pre-hook 'cat >/dev/null; true' -q
if [ "$("$STRATA" -r "$R" dump latest s.txt 2>/dev/null)" = "stream bytes" ]; then
	pass "--stdin: the pre-hook reads /dev/null, not the stream"
else
	fail "--stdin and the pre-hook" "dump: $("$STRATA" -r "$R" dump latest s.txt 2>&1 | head -c 100)"
fi

# ---- partial: a source path that does not exist (exit 3) ----
rm -f "$H/post.env"
"$STRATA" -r "$R" backup "$S" "$T/no-such-dir" --post-hook "$POST" >"$T/out" 2>"$T/err"
rc=$?
check "partial: exit 3" "$rc" 3
check "partial: STRATA_BACKUP_STATUS" "$(envval "$H/post.env" STRATA_BACKUP_STATUS)" partial
check "partial: STRATA_EXIT_CODE" "$(envval "$H/post.env" STRATA_EXIT_CODE)" 3
LATEST=$("$STRATA" -r "$R" --json snapshots | json_in 'd[-1]["id"]')
check "partial: STRATA_SNAPSHOT_ID is the snapshot saved" "$(envval "$H/post.env" STRATA_SNAPSHOT_ID)" "$LATEST"
check "partial: STRATA_ERROR is the error line" "$(envval "$H/post.env" STRATA_ERROR)" \
	"snapshot $(echo "$LATEST" | cut -c1-8) saved as partial: 1 source path vanished, could not be read or changed while being read; latest, --at, --label, the next backup's parent and forget's keep counts skip it (--include-partial uses it)"
check "partial: no pre-hook given: STRATA_PRE_HOOK=none" "$(envval "$H/post.env" STRATA_PRE_HOOK)" none

# ---- failure before the pre-hook's turn: no repository ----
rm -f "$H/post.env" "$H/pre-ran"
"$STRATA" -r "$T/no-repo" backup "$S" --pre-hook "touch $H/pre-ran" --post-hook "$POST" >"$T/out" 2>"$T/err"
rc=$?
check "no repository: exit 10" "$rc" 10
if [ ! -e "$H/pre-ran" ]; then pass "no repository: the pre-hook did not run"; else fail "no repository: pre-hook" "it ran"; fi
check "no repository: post-hook STRATA_BACKUP_STATUS" "$(envval "$H/post.env" STRATA_BACKUP_STATUS)" failed
check "no repository: STRATA_EXIT_CODE" "$(envval "$H/post.env" STRATA_EXIT_CODE)" 10
check "no repository: STRATA_PRE_HOOK=none" "$(envval "$H/post.env" STRATA_PRE_HOOK)" none
check "no repository: no STRATA_SNAPSHOT_ID" "$(envval "$H/post.env" STRATA_SNAPSHOT_ID)" "<unset>"
if [ "strata: $(envval "$H/post.env" STRATA_ERROR)" = "$(cat "$T/err")" ]; then
	pass "no repository: STRATA_ERROR is the line strata printed"
else
	fail "no repository: STRATA_ERROR" "env: $(envval "$H/post.env" STRATA_ERROR) stderr: $(cat "$T/err")"
fi

# ---- failure after the pre-hook: a --parent that does not exist ----
rm -f "$H/post.env"
"$STRATA" -r "$R" backup "$S" --parent ffffffff --pre-hook true --post-hook "$POST" >"$T/out" 2>"$T/err"
rc=$?
check "error after the pre-hook: exit 14" "$rc" 14
check "error after the pre-hook: STRATA_BACKUP_STATUS" "$(envval "$H/post.env" STRATA_BACKUP_STATUS)" failed
check "error after the pre-hook: STRATA_PRE_HOOK=ok" "$(envval "$H/post.env" STRATA_PRE_HOOK)" ok
check "error after the pre-hook: no STRATA_SNAPSHOT_ID" "$(envval "$H/post.env" STRATA_SNAPSHOT_ID)" "<unset>"

# ---- a failing pre-hook: exact message, exit 4, no snapshot ----
# pre_fails NAME HOOK MESSAGE
pre_fails() {
	before=$(nsnaps)
	rm -f "$H/post.env"
	"$STRATA" -r "$R" backup "$S" --pre-hook "$2" --post-hook "$POST" >"$T/out" 2>"$T/err"
	rc=$?
	check "$1: exit 4" "$rc" 4
	check "$1: one error line" "$(cat "$T/err")" "strata: $3"
	check "$1: no snapshot" "$(nsnaps)" "$before"
	check "$1: post-hook ran, STRATA_PRE_HOOK=failed" "$(envval "$H/post.env" STRATA_PRE_HOOK)" failed
	check "$1: post-hook STRATA_BACKUP_STATUS=failed" "$(envval "$H/post.env" STRATA_BACKUP_STATUS)" failed
}
pre_fails "pre-hook exit 7" 'exit 7' "--pre-hook exited with status 7; nothing was backed up"
pre_fails "pre-hook not found" 'no-such-command-xyz 2>/dev/null' \
	"--pre-hook exited with status 127 (command not found); nothing was backed up"
pre_fails "pre-hook killed" 'kill -KILL $$' "--pre-hook was killed by signal 9 (SIGKILL); nothing was backed up"
"$STRATA" -r "$R" --json backup "$S" --pre-hook 'exit 7' >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 4 ] && python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["error"]
sys.exit(0 if e == {"code": "refused", "exit": 4, "message": "--pre-hook exited with status 7; nothing was backed up"} else 1)' "$T/out"; then
	pass "pre-hook failure with --json: error code refused, exit 4"
else
	fail "pre-hook failure with --json" "exit $rc: $(head -c 300 "$T/out")"
fi

# A failing post-hook is a warning; the exit code stays the backup's.
"$STRATA" -r "$R" backup -q "$S" --post-hook 'exit 5' >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && [ "$(cat "$T/err")" = "strata: warning: --post-hook exited with status 5" ]; then
	pass "failing post-hook: a warning, exit 0"
else
	fail "failing post-hook" "exit $rc: $(head -c 300 "$T/err")"
fi

# ---- signals: the post-hook still runs ----
# A backup of a stream whose producer is still writing waits in the read:
# the signal arrives mid-backup. env --default-signal undoes the SIGINT
# ignore a shell without job control gives background jobs.
# sig_run NAME SIG CODE [PRE]: with PRE, the signal comes once the
# pre-hook wrote $H/pre.state.
sig_run() {
	rm -f "$H/post.env" "$T/fifo" "$H/pre.state"
	mkfifo "$T/fifo"
	before=$(nsnaps)
	(printf 'partial stream\n'; sleep 30) >"$T/fifo" &
	prod=$!
	if [ "${4:-}" = producer ]; then
		env --default-signal=INT "$STRATA" -r "$R" backup --stdin-from-command --post-hook "$POST" -- \
			sh -c 'printf "partial stream\n"; exec sleep 31.25' >"$T/out" 2>"$T/err" &
	elif [ -n "${4:-}" ]; then
		env --default-signal=INT "$STRATA" -r "$R" backup "$S" --pre-hook "$4" --post-hook "$POST" \
			>"$T/out" 2>"$T/err" &
	else
		env --default-signal=INT "$STRATA" -r "$R" backup --stdin --post-hook "$POST" \
			<"$T/fifo" >"$T/out" 2>"$T/err" &
	fi
	pid=$!
	# Wait until it is in the read (its lock is taken) or the pre-hook.
	i=0
	if [ -n "${4:-}" ] && [ "$4" != producer ]; then
		while [ $i -lt 400 ] && [ ! -s "$H/pre.state" ]; do sleep 0.05; i=$((i + 1)); done
	else
		while [ $i -lt 400 ] && [ -z "$(ls "$R/locks" 2>/dev/null)" ]; do sleep 0.05; i=$((i + 1)); done
		sleep 0.3
	fi
	kill -"$2" $pid
	wait $pid
	rc=$?
	kill $prod 2>/dev/null
	wait $prod 2>/dev/null
	check "$1: strata ends by the signal ($3)" "$rc" "$3"
	check "$1: post-hook STRATA_BACKUP_STATUS" "$(envval "$H/post.env" STRATA_BACKUP_STATUS)" failed
	check "$1: post-hook STRATA_SIGNAL" "$(envval "$H/post.env" STRATA_SIGNAL)" "$2"
	check "$1: post-hook STRATA_EXIT_CODE" "$(envval "$H/post.env" STRATA_EXIT_CODE)" "$3"
	check "$1: post-hook STRATA_ERROR" "$(envval "$H/post.env" STRATA_ERROR)" "interrupted by SIG$2"
	check "$1: no snapshot" "$(nsnaps)" "$before"
}
sig_run "SIGTERM during the read" TERM 143
sig_run "SIGINT during the read" INT 130
# With --stdin-from-command: the producer's handler ends the producer and
# passes the signal on to the post-hook's.
sig_run "SIGTERM during --stdin-from-command" TERM 143 producer
# (31.25: a duration no other test sleeps, so pgrep finds only this one)
sleep 0.5
if pgrep -x -f "sleep 31.25" >/dev/null; then
	fail "SIGTERM during --stdin-from-command: the producer is ended" "$(pgrep -a -f 'sleep 31.25')"
else
	pass "SIGTERM during --stdin-from-command: the producer is ended"
fi
# During the pre-hook: it is ended first (the signal passed on), then the
# post-hook runs; the two never overlap.
sig_run "SIGTERM during the pre-hook" TERM 143 "echo started >$H/pre.state; sleep 20; echo finished >>$H/pre.state"
if [ "$(cat "$H/pre.state")" = started ]; then
	pass "SIGTERM during the pre-hook: the pre-hook was ended"
else
	fail "SIGTERM during the pre-hook: ended" "$(cat "$H/pre.state")"
fi
check "SIGTERM during the pre-hook: STRATA_PRE_HOOK=failed" "$(envval "$H/post.env" STRATA_PRE_HOOK)" failed

# ---- usage errors run no hook ----
rm -f "$H/post.env"
"$STRATA" -r "$R" backup --post-hook "$POST" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 2 ] && [ ! -e "$H/post.env" ]; then pass "usage error: exit 2, no hook runs"; else fail "usage error" "exit $rc"; fi
"$STRATA" -r "$R" backup "$S" --pre-hook '' >"$T/out" 2>"$T/err"
rc=$?
check "--pre-hook '': exit 2" "$rc" 2
check "--pre-hook '': message" "$(cat "$T/err")" "strata: backup: --pre-hook wants a shell command (see 'strata help backup')"

e2e_done
