# e2e_freeze.sh — backup --freeze-pid (tools/cli/cli_freeze.h, store/backup/frozen.h):
# the writer is stopped while the source is listed and runs again after;
# the snapshot is the source at one moment (a writer that appends to two
# logs and rewrites a small state file in place, with a large file read in
# between); paused_ms in --json, the summary and the metrics file; SIGKILL
# of strata during the stop (the guard resumes the writer); --freeze-max
# exceeded (writer resumed, no snapshot); PIDs that cannot be stopped.
# RocksDB under load: e2e_freeze_rocksdb.sh. Timings are printed as NOTE
# lines, never asserted.
. "$(dirname "$0")/e2e_lib.sh"

S="$T/src"
mkdir -p "$S/d"
printf 'static\n' >"$S/d/a.txt"
head -c 200000 /dev/urandom >"$S/d/random.bin"
ln -s a.txt "$S/d/link"
"$STRATA" -r "$R" init -q || { fail "init" "cannot create the repository"; e2e_done; }
PIDS=""
cleanup_pids() { for p in $PIDS; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done; }
trap 'cleanup_pids; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT

# state PID — the process's state letter (R, S, T, ...), "gone" when it ended.
# Read with the shell's own read: the polling loops below call it
# hundreds of times a backup, and a sed | cut pipeline cost two forks each.
state() {
	s=
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null
	s=${s##*) }
	s=${s%% *}
	echo "${s:-gone}"
}
nsnaps() { "$STRATA" -r "$R" --json snapshots 2>/dev/null | python3 -S -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', wanted '$3'"; fi; }
jget() { python3 -S -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$1" "$2" 2>/dev/null; }

sleep 600 &
W=$!
PIDS="$W"

# ---- a stopped-and-resumed backup of a static tree restores bit-exact ----
"$STRATA" -r "$R" --json backup "$S" --freeze-pid "$W" >"$T/out" 2>"$T/err"
rc=$?
check "static tree: exit 0" "$rc" 0
P=$(jget "$T/out" '["paused_ms"]')
if python3 -S -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$P" 2>/dev/null; then
	pass "--json: paused_ms is a number above 0"
	echo "NOTE paused_ms of a first backup of 3 files: $P"
else
	fail "--json: paused_ms" "$(head -c 300 "$T/out")"
fi
check "writer runs again after the backup" "$(state "$W")" S
printf 'changed\n' >>"$S/d/a.txt"
"$STRATA" -r "$R" backup "$S" --freeze-pid "$W" --metrics-file "$T/m.prom" >"$T/out" 2>"$T/err"
rc=$?
check "incremental: exit 0" "$rc" 0
if grep -Eq '^  paused:   [0-9]+\.[0-9]{3} ms \(writers stopped while the source was listed\)$' "$T/out"; then
	pass "summary: a paused line"
else
	fail "summary: paused line" "$(cat "$T/out")"
fi
if grep -Eq '^strata_freeze_paused_seconds\{job="backup",command="backup"\} [0-9.e-]+$' "$T/m.prom" &&
   python3 -S -c '
import sys
v = [l.split()[-1] for l in open(sys.argv[1]) if l.startswith("strata_freeze_paused_seconds{")]
sys.exit(0 if len(v) == 1 and float(v[0]) > 0 else 1)' "$T/m.prom"; then
	pass "metrics: strata_freeze_paused_seconds above 0"
else
	fail "metrics: strata_freeze_paused_seconds" "$(grep freeze "$T/m.prom")"
fi
"$STRATA" -r "$R" restore latest --target "$T/r1" -q
same_tree "incremental with --freeze-pid restores bit-exact" "$S" "$T/r1$S"
"$STRATA" -r "$R" backup "$S" --metrics-file "$T/m2.prom" -q
if grep -q freeze "$T/m2.prom"; then fail "metrics without --freeze-pid" "$(grep freeze "$T/m2.prom")"; else
	pass "metrics without --freeze-pid: no freeze sample"; fi

# ---- the snapshot is the source at one moment ----
# The writer appends n to a.log, rewrites s_state.txt (16 bytes) in place
# with n, appends n to z.log, then n+1... The walk reads a.log, then a
# large file, then the other two. Taken at one moment: a >= s >= z >= a-1.
PIT="$T/pit"
mkdir -p "$PIT"
head -c 48000000 /dev/urandom >"$PIT/m_big.bin"
# Start the logs above FROZEN_COPY_MAX (64 KiB): kept open, not copied.
python3 -S -c '
import sys
for f in sys.argv[1:]:
    open(f, "w").write("0\n" * 40000)' "$PIT/a.log" "$PIT/z.log"
cat >"$T/writer.py" <<'EOF'
import os, sys, time
d = sys.argv[1]
a = os.open(d + "/a.log", os.O_WRONLY | os.O_APPEND)
z = os.open(d + "/z.log", os.O_WRONLY | os.O_APPEND)
s = os.open(d + "/s_state.txt", os.O_RDWR | os.O_CREAT, 0o644)
n = 0
while True:
    n += 1
    os.write(a, b"%d\n" % n)
    os.pwrite(s, b"%15d\n" % n, 0)
    os.write(z, b"%d\n" % n)
    # ~2000 rounds a second instead of as fast as it can (a CPU busy for
    # the whole section): a backup reads the 48 MB file between the logs
    # for tens of milliseconds, so rounds still land in between unless
    # the writer is stopped.
    if n % 4 == 0:
        time.sleep(0.002)
EOF
python3 "$T/writer.py" "$PIT" &
PW=$!
PIDS="$PIDS $PW"
# Wait for the writer's first round (python starts slowly on a loaded machine).
i=0; while [ $i -lt 300 ] && [ ! -s "$PIT/s_state.txt" ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.2
# pit_values SNAPSHOT — "a s z": the last numbers of the three files.
pit_values() {
	a=$("$STRATA" -r "$R" dump "$1" "$PIT/a.log" | tail -n 1)
	s=$("$STRATA" -r "$R" dump "$1" "$PIT/s_state.txt" | tr -d ' \n')
	z=$("$STRATA" -r "$R" dump "$1" "$PIT/z.log" | tail -n 1)
	echo "$a $s $z"
}
ok=0
# --force-reread: the large file is read every time, between the logs.
for i in 1 2 3; do
	"$STRATA" -r "$R" --json backup "$PIT" --force-reread --freeze-pid "$PW" >"$T/out" 2>"$T/err" || { fail "point in time: backup $i" "$(head -c 300 "$T/err")"; continue; }
	set -- $(pit_values "$(jget "$T/out" '["snapshot_id"]')")
	if [ $# -eq 3 ] && [ "$1" -ge "$2" ] && [ "$2" -ge "$3" ] && [ "$3" -ge $(($1 - 1)) ]; then
		ok=$((ok + 1))
	else
		echo "NOTE point in time, backup $i: a=${1:-} s=${2:-} z=${3:-}"
	fi
done
check "point in time: 3 backups under writes, each a >= s >= z >= a-1" "$ok" 3
echo "NOTE with --freeze-pid the last backup held a=${1:-} s=${2:-} z=${3:-}"
# Without --freeze-pid the same reads drift apart (shown, not asserted:
# it depends on how far the writer gets while the large file is read).
"$STRATA" -r "$R" --json backup "$PIT" --force-reread >"$T/out" 2>"$T/err"
set -- $(pit_values "$(jget "$T/out" '["snapshot_id"]')")
echo "NOTE without --freeze-pid: a=${1:-} s=${2:-} z=${3:-}"
# Running or in its pause between rounds (S), not stopped (T) or gone.
check "the writer still runs after the backups" "$(state "$PW" | tr S R)" R
# It writes as fast as it can: left running, it kept a CPU busy (and its
# logs growing) for the rest of the script.
kill "$PW" 2>/dev/null
wait "$PW" 2>/dev/null

# ---- stopped during the listing, running after; SIGKILL during it ----
# A tree whose listing takes a while: 30000 entries (the stop lasts about
# the time of their lstat and files-cache lookups).
BIG="$T/many"
python3 -S -c '
import os, sys
for i in range(150):
    d = "%s/d%03d" % (sys.argv[1], i)
    os.makedirs(d)
    for j in range(200):
        open("%s/f%03d" % (d, j), "w").write("x" * (j % 7))' "$BIG"
"$STRATA" -r "$R" backup -q "$BIG" --freeze-pid "$W" || fail "big tree: first backup" "exit $?"
ls -R "$BIG" >"$T/big-before"
# watch PID WRITER — poll WRITER's state every 10 ms until PID ends (gone,
# or a zombie: PID is the script's child, reaped only by its wait); prints
# "seen" if it was ever T (stopped). The stop lasts the listing, 200-300 ms
# of the 0.3-0.4 s backup; polling without a pause kept a CPU busy through
# each backup.
watch() {
	seen=no
	while :; do
		case $(state "$1") in Z|gone) break ;; esac
		[ "$(state "$2")" = T ] && { seen=yes; break; }
		sleep 0.01
	done
	echo $seen
}
seen=no
for i in 1 2 3 4 5; do
	"$STRATA" -r "$R" backup -q "$BIG" --freeze-pid "$W" &
	b=$!
	seen=$(watch $b "$W")
	wait $b
	rc=$?
	[ $rc -eq 0 ] || fail "big tree: backup $i" "exit $rc"
	[ "$seen" = yes ] && break
done
check "the writer is stopped (T) during the listing" "$seen" yes
check "and runs (S) once the backup ended" "$(state "$W")" S

killed=no
for i in 1 2 3 4 5; do
	"$STRATA" -r "$R" backup -q "$BIG" --freeze-pid "$W" &
	b=$!
	if [ "$(watch $b "$W")" = yes ]; then
		t0=$(date +%s%N)
		kill -KILL $b
		n=0
		while [ "$(state "$W")" = T ] && [ $n -lt 5000 ]; do n=$((n + 1)); done
		t1=$(date +%s%N)
		wait $b 2>/dev/null
		killed=yes
		break
	fi
	wait $b
done
if [ $killed = yes ]; then
	echo "NOTE SIGKILL during the stop: the writer ran again after $(( (t1 - t0) / 1000000 )) ms"
	# The guard resumes it at once; a few seconds of slack for a busy machine.
	# Resumed: sleeping again (S), or running on its way there (R).
	if [ "$(state "$W" | tr R S)" = S ] && [ $(( (t1 - t0) / 1000000 )) -lt 5000 ]; then
		pass "SIGKILL of strata during the stop: the guard resumes the writer"
	else
		fail "SIGKILL during the stop" "writer state $(state "$W") after $(( (t1 - t0) / 1000000 )) ms"
	fi
	n=0
	while pgrep -f -- "-r $R backup" >/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	if pgrep -f -- "-r $R backup" >/dev/null; then
		fail "SIGKILL: the guard ends too" "$(pgrep -af -- "-r $R backup")"
	else
		pass "SIGKILL: the guard ends too (no process left)"
	fi
else
	fail "SIGKILL during the stop" "never saw the writer stopped in 5 backups"
fi
# SIGTERM during the stop: the handler resumes the writer at once, the
# post-hook runs, strata ends by the signal and saves nothing.
before=$(nsnaps)
termed=no
for i in 1 2 3 4 5; do
	rm -f "$T/post.env"
	"$STRATA" -r "$R" backup -q "$BIG" --freeze-pid "$W" --post-hook "env >$T/post.env" &
	b=$!
	if [ "$(watch $b "$W")" = yes ]; then
		kill -TERM $b
		wait $b
		rc=$?
		termed=yes
		break
	fi
	wait $b
done
if [ $termed = yes ]; then
	check "SIGTERM during the stop: strata ends by it (143)" "$rc" 143
	check "SIGTERM during the stop: the writer runs" "$(state "$W")" S
	check "SIGTERM during the stop: no snapshot" "$(nsnaps)" $((before + i - 1))
	if grep -qx STRATA_SIGNAL=TERM "$T/post.env" && grep -qx STRATA_BACKUP_STATUS=failed "$T/post.env"; then
		pass "SIGTERM during the stop: the post-hook ran with STRATA_SIGNAL=TERM"
	else
		fail "SIGTERM during the stop: post-hook" "$(grep STRATA_ "$T/post.env" 2>&1 | head -c 300)"
	fi
else
	fail "SIGTERM during the stop" "never saw the writer stopped in 5 backups"
fi
ls -R "$BIG" >"$T/big-after"
if cmp -s "$T/big-before" "$T/big-after"; then pass "nothing written into the source tree (no staging left behind)"; else
	fail "source tree unchanged" "$(diff "$T/big-before" "$T/big-after" | head -c 300)"; fi
"$STRATA" -r "$R" backup -q "$BIG" --freeze-pid "$W"
check "the next run after the SIGKILL succeeds" "$?" 0

# ---- --freeze-max exceeded: writer resumed, the snapshot saved partial ----
before=$(nsnaps)
latest_before=$("$STRATA" -r "$R" cat snapshot latest | python3 -S -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$STRATA" -r "$R" --json backup "$BIG" --freeze-pid "$W" --freeze-max 1ms >"$T/out" 2>"$T/err"
rc=$?
check "--freeze-max exceeded: exit 3" "$rc" 3
# 1 ms: either the listing outlasts it, or (on a busy machine) already
# the stop does; the partial list names where.
if python3 -S - "$T/out" "$BIG" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
big = sys.argv[2]
ok = d.get("partial") is True and any(
    (p["path"] == big or p["path"].startswith(big + "/")) and p["reason"] == "changed" and (
        p["detail"] == "listed after the writers were resumed at --freeze-max (this path and those listed after it)"
        or p["detail"] == "the writers did not stop within --freeze-max; everything was listed while they ran")
    for p in d.get("partial_paths", []))
sys.exit(0 if ok else 1)
PY
then
	pass "--freeze-max exceeded: the snapshot is partial, naming where the listing was"
else
	fail "--freeze-max exceeded: the snapshot is partial, naming where the listing was" "$(head -c 600 "$T/out")"
fi
check "--freeze-max exceeded: the snapshot is saved" "$(nsnaps)" $((before + 1))
check "--freeze-max exceeded: latest skips it" \
	"$("$STRATA" -r "$R" cat snapshot latest | python3 -S -c 'import json,sys; print(json.load(sys.stdin)["id"])')" \
	"$latest_before"
check "--freeze-max exceeded: the writer runs" "$(state "$W")" S

# ---- PIDs that cannot be stopped ----
sh -c 'exit 0' &
DEAD=$!
wait $DEAD
# row NAME CODE MESSAGE CMD...
row() {
	n=$1; code=$2; msg=$3; shift 3
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq "$code" ] && [ "$(cat "$T/err")" = "$msg" ]; then pass "$n: exit $code, one line"; else
		fail "$n" "exit $rc: $(head -c 300 "$T/err")"; fi
}
row "--freeze-pid of no process" 4 "strata: --freeze-pid $DEAD: no such process" \
	"$STRATA" -r "$R" backup "$S" --freeze-pid "$DEAD"
row "--freeze-pid 1" 2 "strata: --freeze-pid 1: cannot stop init" "$STRATA" -r "$R" backup "$S" --freeze-pid 1
sh -c 'exec "$0" -r "$1" backup "$2" --freeze-pid $$' "$STRATA" "$R" "$S" >"$T/out" 2>"$T/err" &
self=$!
wait $self
rc=$?
if [ $rc -eq 2 ] && [ "$(cat "$T/err")" = "strata: --freeze-pid $self: cannot stop strata itself" ]; then
	pass "--freeze-pid of strata itself: exit 2, one line"
else
	fail "--freeze-pid of strata itself" "exit $rc: $(head -c 300 "$T/err")"
fi
row "--freeze-pid abc" 2 "strata: backup: --freeze-pid wants a process ID: 'abc' (see 'strata help backup')" \
	"$STRATA" -r "$R" backup "$S" --freeze-pid abc
row "--freeze-max without --freeze-pid" 2 "strata: backup: --freeze-max needs --freeze-pid (see 'strata help backup')" \
	"$STRATA" -r "$R" backup "$S" --freeze-max 2s
row "--freeze-max 0" 2 "strata: backup: --freeze-max wants a duration from 1ms to 10m, e.g. 500ms, 2s, 1m: '0' (see 'strata help backup')" \
	"$STRATA" -r "$R" backup "$S" --freeze-pid "$W" --freeze-max 0
row "--freeze-pid with --stdin" 2 "strata: backup: --freeze-pid needs PATHs: a stream is read as its producer writes it (see 'strata help backup')" \
	"$STRATA" -r "$R" backup --stdin --freeze-pid "$W"
python3 -S -c 'import threading, time, os, sys
t = threading.Thread(target=time.sleep, args=(30,)); t.start()
print(t.native_id, flush=True); t.join()' >"$T/tid" &
TP=$!
PIDS="$PIDS $TP"
n=0; while [ ! -s "$T/tid" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
TID=$(cat "$T/tid")
row "--freeze-pid of a thread" 4 "strata: --freeze-pid $TID: a thread, not a process (give the process's ID, as pidof prints it)" \
	"$STRATA" -r "$R" backup "$S" --freeze-pid "$TID"
kill $TP 2>/dev/null
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	row "--freeze-pid of another user's process" 4 \
		"strata: --freeze-pid $W: not permitted to stop it (run strata as the writer's user, or as root)" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$STRATA" -r "$R" backup "$S" --freeze-pid "$W"
	check "not permitted: the writer was not stopped" "$(state "$W")" S
else
	echo "SKIP --freeze-pid of another user's process: needs root and setpriv"
fi

e2e_done
