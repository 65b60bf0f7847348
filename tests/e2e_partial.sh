# e2e_partial.sh — a snapshot strata calls good must be complete (issue 26
# parts 3 and 4, issue 27 finding 6), driving the real binary:
# - files that vanish, cannot be read, grow, are rewritten (mtime), change
#   metadata (ctime), are replaced by a FIFO or a symlink, and directories
#   whose entries change, while a backup reads them: exit 3, the snapshot
#   is saved with "partial": true and exactly those paths and reasons
#   (snapshots --json, cat snapshot), marked in `snapshots`;
# - a partial snapshot is not latest, not the next backup's parent, not
#   picked by --at, --at-height or --label, not counted by forget's keep
#   rules, unless --include-partial; its metrics say failure;
# - a FIFO renamed over a file between its lstat and open does not hang
#   the backup (finding 6: the open was blocking);
# - backup --stdin-from-command: a producer that fails (exit code, signal,
#   cannot run) leaves no snapshot and exits 4 naming its status, also
#   with --stdin-tar; SIGTERM/SIGINT to strata end the producer; one that
#   succeeds gives a bit-exact snapshot.
# Files are changed at an exact point of the backup through the test-only
# hook STRATA_TEST_BACKUP_HOOK (tools/cli/cmd_backup.c): deterministic, no
# timing. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

export STRATA_REPOSITORY="$R"
"$STRATA" init -q >/dev/null 2>&1 || { fail "init" "cannot init"; e2e_done; }
F="$T/metrics/strata-job.prom"
mkdir -p "$T/metrics"

# hooked PHASE TARGET ACTION CMD... — run CMD with the test hook running
# ACTION (a shell command; "$2" is the path) at PHASE ("open": between the
# file's lstat and open; "read": between its read and second stat) of the
# file TARGET only.
hooked() {
	h_phase=$1 h_target=$2 h_action=$3
	shift 3
	STRATA_TEST_BACKUP_HOOK="[ \"\$1\" = $h_phase ] && [ \"\$2\" = '$h_target' ] && { $h_action; }; :" "$@"
}

# pycheck NAME EXPR FILE — EXPR (Python) over d, the JSON document in FILE.
pycheck() {
	if r=$(python3 -S -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$3" "$2" 2>&1) && [ "$r" = True ]; then
		pass "$1"
	else
		fail "$1" "$(printf %s "$r" | head -c 300): $(head -c 700 "$3")"
	fi
}

# partial_case NAME WANT CMD... — CMD is a backup --json that must exit 3
# with a partial snapshot whose partial_paths, in snapshots --json and in
# cat snapshot, are exactly WANT: a Python list of (path, reason, detail).
partial_case() {
	pc_name=$1 pc_want=$2
	shift 2
	"$@" >"$T/b.json" 2>"$T/err"
	rc=$?
	if [ $rc -eq 3 ]; then pass "$pc_name: exit 3"; else fail "$pc_name: exit 3" "exit $rc: $(head -c 400 "$T/err")"; return; fi
	id=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/b.json")
	"$STRATA" --json snapshots >"$T/all.json"
	python3 -S -c 'import json,sys; print(json.dumps([s for s in json.load(open(sys.argv[1])) if s["id"] == sys.argv[2]][0]))' \
		"$T/all.json" "$id" >"$T/s.json"
	"$STRATA" --json cat snapshot "$id" >"$T/c.json"
	for src in backup:b snapshots:s cat:c; do
		pycheck "$pc_name: ${src%%:*} --json lists exactly the paths and reasons" \
			"d['partial'] is True and d['partial_count'] == len($pc_want) and [(p['path'], p['reason'], p['detail']) for p in d['partial_paths']] == $pc_want" \
			"$T/${src##*:}.json"
	done
	# Each one is a warning naming it.
	missing=$(python3 -S -c '
import sys
want, err = eval(sys.argv[1]), open(sys.argv[2]).read()
print(" ".join(p for p, r, d in want if "strata: warning: %s: %s\n" % (p, d) not in err))' "$pc_want" "$T/err")
	if [ -z "$missing" ]; then pass "$pc_name: a warning names each path"; else fail "$pc_name: a warning names each path" "missing for$missing: $(head -c 400 "$T/err")"; fi
}

# ---- what makes a snapshot partial ----
# Files are made seconds before the backup reads them (strata's start
# alone takes longer than a timestamp tick), so a change gives new times.
mkdir -p "$T/v" "$T/g" "$T/w" "$T/c" "$T/f" "$T/l" "$T/d" "$T/fifos"
for d in v g w c f l d; do
	printf 'first\n' >"$T/$d/a"
	head -c 100000 /dev/urandom >"$T/$d/m"
	printf 'last\n' >"$T/$d/z"
done
DIRCH="entries added, removed or renamed while it was read"

partial_case "vanished file" "[('$T/v/m', 'vanished', 'vanished during the backup'), ('$T/v', 'changed', '$DIRCH')]" \
	hooked open "$T/v/m" 'rm -f "$2"' "$STRATA" backup --json "$T/v"
pycheck "vanished file: counted in summary.errors" "d['summary']['errors'] == 1 and d['summary']['files'] == 2" "$T/b.json"

partial_case "file growing while read" "[('$T/g/m', 'changed', 'size changed from 100000 to 105000 bytes while it was read')]" \
	hooked read "$T/g/m" 'head -c 5000 /dev/zero >>"$2"' "$STRATA" backup --json "$T/g"
pycheck "file growing while read: kept as read, not an error" "d['summary']['errors'] == 0 and d['summary']['files'] == 3" "$T/b.json"

partial_case "file rewritten in place while read (mtime)" "[('$T/w/m', 'changed', 'modified while it was read (mtime changed)')]" \
	hooked read "$T/w/m" 'printf XXXX | dd of="$2" bs=1 seek=5000 conv=notrunc 2>/dev/null' "$STRATA" backup --json "$T/w"

partial_case "file whose metadata changed while read (ctime)" "[('$T/c/m', 'changed', 'changed while it was read (ctime changed)')]" \
	hooked read "$T/c/m" 'chmod 600 "$2"' "$STRATA" backup --json "$T/c"

partial_case "directory gaining an entry while read" "[('$T/d', 'changed', '$DIRCH')]" \
	hooked open "$T/d/m" 'touch "${2%/*}/new"' "$STRATA" backup --json "$T/d"

partial_case "symlink swapped in between lstat and open" \
	"[('$T/l/m', 'changed', 'replaced by a symlink between its stat and its open'), ('$T/l', 'changed', '$DIRCH')]" \
	hooked open "$T/l/m" 'ln -sf /etc/passwd "$2"' "$STRATA" backup --json "$T/l"

# Finding 6: a FIFO renamed over the file between its lstat and its open.
# A blocking open waits for a writer for ever (timeout's 124); strata opens
# with O_NONBLOCK, sees another file than the lstat did, and leaves it out.
mkfifo "$T/fifos/p"
partial_case "FIFO renamed over a file between lstat and open (no hang)" \
	"[('$T/f/m', 'changed', 'replaced by a FIFO between its stat and its open'), ('$T/f', 'changed', '$DIRCH')]" \
	hooked open "$T/f/m" "mv '$T/fifos/p' \"\$2\"" timeout 60 "$STRATA" backup --json "$T/f"

# Unreadable: /proc/self/mem opens but fails to read (EIO), even for root.
if [ -r /proc/self/mem ]; then
	mkdir -p "$T/u"
	printf 'x\n' >"$T/u/ok"
	partial_case "unreadable file (read error)" "[('/proc/self/mem', 'unreadable', 'Input/output error')]" \
		"$STRATA" backup --json "$T/u" /proc/self/mem
else
	echo "SKIP: unreadable file: no /proc/self/mem"
fi

# A complete backup of the same trees afterwards: exit 0, not partial.
expect "unchanged trees back up complete (exit 0)" "$STRATA" backup --json "$T/g" "$T/w" "$T/c"
pycheck "complete snapshot: partial false, no paths" "d['partial'] is False and d['partial_count'] == 0 and d['partial_paths'] == []" "$T/out"

# The sealed header of a partial snapshot says version 2, of a complete
# one 1 (FORMAT.md §12): a strata that predates partial snapshots refuses
# the partial one ("upgrade strata") rather than take it for complete.
ver_of() { od -An -tu4 -j8 -N4 "$R/snapshots/$1" | tr -d ' '; }
cid=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/out")
pid=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/b.json")
if [ "$(ver_of "$cid")" = 1 ] && [ "$(ver_of "$pid")" = 2 ]; then
	pass "sealed version: 1 for a complete snapshot, 2 for a partial one"
else
	fail "sealed version" "complete $(ver_of "$cid"), partial $(ver_of "$pid")"
fi

# ---- a partial snapshot is never chosen unless asked ----
S2="$T/sel"
mkdir -p "$S2"
head -c 100000 /dev/urandom >"$S2/f"
expect "selection: complete backup C1" "$STRATA" backup --json --label height=10 --label kind=x --metrics-file "$F" --job sel "$S2"
c1=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/out")
last_ok=$(sed -n 's/^strata_last_success_timestamp_seconds{job="sel",command="backup"} //p' "$F")
sleep 1
# P1 holds f as read, 100007 bytes; the 10 appended after that read make it partial.
head -c 7 /dev/zero >>"$S2/f"
hooked read "$S2/f" 'head -c 10 /dev/zero >>"$2"' "$STRATA" backup --json --force-reread --label height=20 \
	--label kind=x --metrics-file "$F" --job sel "$S2" >"$T/out" 2>"$T/err"
rc=$?
p1=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/out" 2>/dev/null)
if [ $rc -eq 3 ] && [ -n "$p1" ]; then pass "selection: partial backup P1 (exit 3)"; else fail "selection: partial backup P1" "exit $rc: $(head -c 300 "$T/err")"; fi
p1t=$("$STRATA" --json cat snapshot "$p1" | python3 -S -c 'import json,sys; print(json.load(sys.stdin)["time"])')

# Metrics: a failure, the last success time that of C1.
metric() { sed -n "s/^$1{job=\"sel\",command=\"backup\"} //p" "$F"; }
if [ "$(metric strata_success)" = 0 ] && [ "$(metric strata_exit_code)" = 3 ] && [ "$(metric strata_partial_paths)" = 1 ] &&
   [ -n "$last_ok" ] && [ "$(metric strata_last_success_timestamp_seconds)" = "$last_ok" ]; then
	pass "partial run metrics: strata_success 0, exit code 3, 1 partial path, last success unchanged"
else
	fail "partial run metrics" "$(grep -v '^#' "$F")"
fi

# The human table marks it on a line of its own, and says what it means.
"$STRATA" snapshots >"$T/table" 2>&1
if grep -A1 "^$(echo "$p1" | cut -c1-8) " "$T/table" | tail -n 1 | grep -qx '          (partial: 1 path vanished, unreadable or changed while read)' &&
   ! grep -A1 "^$(echo "$c1" | cut -c1-8) " "$T/table" | tail -n 1 | grep -q partial &&
   grep -qx "[0-9]* partial: latest, --at, --label and the next backup's parent skip them (\`strata cat snapshot ID\` lists the paths)" "$T/table"; then
	pass "snapshots table marks the partial snapshot"
else
	fail "snapshots table marks the partial snapshot" "$(cat "$T/table")"
fi

# picks NAME WANT CMD... — CMD (printing a snapshot as JSON, or a list of
# one) picks the snapshot WANT.
picks() {
	pk_name=$1 pk_want=$2
	shift 2
	if "$@" >"$T/pick" 2>"$T/err" && python3 -S -c '
import json, sys
d = json.load(open(sys.argv[1]))
d = d[0] if isinstance(d, list) and len(d) == 1 else d
sys.exit(0 if d["id"] == sys.argv[2] else 1)' "$T/pick" "$pk_want"; then
		pass "$pk_name"
	else
		fail "$pk_name" "$(head -c 300 "$T/pick") $(head -c 300 "$T/err")"
	fi
}
picks "latest is the complete C1, not the newer partial P1" "$c1" "$STRATA" --json cat snapshot latest
picks "--include-partial: latest is P1" "$p1" "$STRATA" --json --include-partial cat snapshot latest
picks "--at P1's time picks C1" "$c1" "$STRATA" --json snapshots --at "$p1t"
picks "--at P1's time --include-partial picks P1" "$p1" "$STRATA" --json --include-partial snapshots --at "$p1t"
picks "--at-height 25 picks C1 (height 10), not P1 (height 20)" "$c1" "$STRATA" --json snapshots --at-height 25
picks "--at-height 25 --include-partial picks P1" "$p1" "$STRATA" --json --include-partial snapshots --at-height 25
picks "--label kind=x picks C1" "$c1" "$STRATA" --json snapshots --at "$p1t" --label kind=x
expect_exit "--label height=20 (only P1 carries it): not found (exit 14)" 14 "$STRATA" restore --label height=20 --target "$T/r0"
if grep -qx "strata: no complete snapshot labelled height=20: 1 partial snapshot passed over (--include-partial selects it)" "$T/err"; then
	pass "--label height=20: the message names the partial snapshot passed over"
else
	fail "--label height=20: message" "$(head -c 300 "$T/err")"
fi
expect "restore --label kind=x restores C1" "$STRATA" restore --label kind=x --target "$T/r1"
if [ "$(stat -c %s "$T/r1$S2/f")" = 100000 ]; then pass "restore --label kind=x: C1's file (100000 bytes)"; else fail "restore --label kind=x: C1's file" "$(stat -c %s "$T/r1$S2/f" 2>&1)"; fi
expect "restore --include-partial --label height=20 restores P1" "$STRATA" --include-partial restore --label height=20 --target "$T/r2"
if [ "$(stat -c %s "$T/r2$S2/f")" = 100007 ]; then pass "restore --include-partial: P1's file (100007 bytes)"; else fail "restore --include-partial: P1's file" "$(stat -c %s "$T/r2$S2/f" 2>&1)"; fi
expect "next backup" "$STRATA" backup --json "$S2"
pycheck "the next backup's parent is C1, not the partial P1" "d['partial'] is False" "$T/out"
c2=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/out")
picks "the next backup's parent is C1, not the partial P1 (cat snapshot)" "$c2" "$STRATA" --json cat snapshot "$c2"
if [ "$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["parent"])' "$T/pick")" = "$c1" ]; then
	pass "parent of the next backup = C1"
else
	fail "parent of the next backup = C1" "$(head -c 300 "$T/pick")"
fi

# ---- forget: partial snapshots do not count toward --keep-N ----
# Host fg (newest last): C1 (01:00), P1 (02:00), C2 (03:00), P2 (04:00),
# in 2020 (--time), so that later snapshots are newer.
G="$T/fg"
mkdir -p "$G"
printf 'x\n' >"$G/f"
fsnap() {  # fsnap HOST TIME partial|complete → prints the ID
	if [ "$3" = partial ]; then
		hooked read "$G/f" 'chmod u+x "$2"; chmod u-x "$2"' "$STRATA" backup --json --force-reread --host "$1" --time "$2" "$G" >"$T/fs" 2>/dev/null
	else
		"$STRATA" backup --json --host "$1" --time "$2" "$G" >"$T/fs" 2>/dev/null
	fi
	python3 -S -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["partial"] == (sys.argv[2] == "partial"); print(d["snapshot_id"])' "$T/fs" "$3"
}
fc1=$(fsnap fg '2020-01-01 01:00' complete)
fp1=$(fsnap fg '2020-01-01 02:00' partial)
fc2=$(fsnap fg '2020-01-01 03:00' complete)
fp2=$(fsnap fg '2020-01-01 04:00' partial)
if [ -n "$fc1" ] && [ -n "$fp1" ] && [ -n "$fc2" ] && [ -n "$fp2" ]; then pass "forget: group of C1 P1 C2 P2"; else fail "forget: group" "$fc1 $fp1 $fc2 $fp2"; fi
# forget_is NAME HOST KEEP REMOVE ARGS... — forget --dry-run --json over
# HOST keeps exactly the IDs KEEP and removes REMOVE (space-separated).
forget_is() {
	fi_name=$1 fi_host=$2 fi_keep=$3 fi_remove=$4
	shift 4
	"$STRATA" --json forget --host "$fi_host" --dry-run "$@" >"$T/fj" 2>"$T/err"
	if python3 -S -c '
import json, sys
d = json.load(open(sys.argv[1]))
keep = sorted(s["id"] for g in d["groups"] for s in g["keep"])
rem = sorted(s["id"] for g in d["groups"] for s in g["remove"])
sys.exit(0 if keep == sorted(sys.argv[2].split()) and rem == sorted(sys.argv[3].split()) else 1)' "$T/fj" "$fi_keep" "$fi_remove"; then
		pass "$fi_name"
	else
		fail "$fi_name" "$(head -c 300 "$T/err") $(python3 -S -c 'import json,sys; d=json.load(open(sys.argv[1])); print([(s["short_id"], s["partial"]) for g in d["groups"] for s in g["keep"]])' "$T/fj" 2>&1)"
	fi
}
forget_is "forget --keep-last 1: keeps C2 (newest complete) and P2 (newer than it), removes C1 and P1" fg "$fc2 $fp2" "$fc1 $fp1" --keep-last 1
forget_is "forget --keep-last 2: keeps C2 and C1 (partial ones do not count), and P2" fg "$fc2 $fc1 $fp2" "$fp1" --keep-last 2
forget_is "forget --include-partial --keep-last 1: counts P2, keeps only it" fg "$fp2" "$fc2 $fc1 $fp1" --include-partial --keep-last 1
forget_is "forget --keep-within 3h --keep-last 1: P1 kept by within (which counts nothing), C1 removed" fg "$fc2 $fp2 $fp1" "$fc1" --keep-within 3h --keep-last 1
expect "forget --keep-last 1 (for real)" "$STRATA" forget --host fg --keep-last 1
"$STRATA" --json snapshots --host fg >"$T/fj"
pycheck "forget --keep-last 1 left C2 and P2" "sorted(s['id'] for s in d) == sorted(['$fc2', '$fp2'])" "$T/fj"
# A group whose backups all came out partial keeps as many as the rule
# says: not all of them, and not none.
ap1=$(fsnap fg2 '2020-02-01 01:00' partial)
ap2=$(fsnap fg2 '2020-02-01 02:00' partial)
ap3=$(fsnap fg2 '2020-02-01 03:00' partial)
forget_is "all-partial group: --keep-last 2 keeps the 2 newest" fg2 "$ap3 $ap2" "$ap1" --keep-last 2

# ---- backup --stdin-from-command: producers that fail leave nothing ----
nsnaps() { "$STRATA" --json snapshots | python3 -S -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
latest_id() { "$STRATA" --json --include-partial cat snapshot latest | python3 -S -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
head -c 3000000 /dev/urandom >"$T/export.bin"
expect "producer exits 0: snapshot saved (exit 0)" "$STRATA" backup --json --stdin-from-command --stdin-name export.bin \
	--metrics-file "$F" --job export -- cat "$T/export.bin"
pycheck "producer exits 0: a complete snapshot" "d['partial'] is False and d['summary']['bytes_total'] == 3000000" "$T/out"
if "$STRATA" dump "$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/out")" export.bin | cmp -s - "$T/export.bin"; then pass "producer exits 0: dump is bit-exact"; else fail "producer exits 0: dump is bit-exact" "differs"; fi
metric() { sed -n "s/^$1{job=\"export\",command=\"backup\"} //p" "$F"; }
last_ok=$(metric strata_last_success_timestamp_seconds)
if [ "$(metric strata_success)" = 1 ] && [ -n "$last_ok" ]; then pass "producer exits 0: metrics success"; else fail "producer exits 0: metrics" "$(grep -v '^#' "$F")"; fi

n0=$(nsnaps)
l0=$(latest_id)
sleep 1
# producer_fails NAME MESSAGE CMD... — exit 4, exactly one line MESSAGE,
# no snapshot written, latest unchanged, metrics: failure, last success kept.
producer_fails() {
	pf_name=$1 pf_msg=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 4 ] && [ "$(cat "$T/err")" = "$pf_msg" ]; then
		pass "$pf_name: exit 4, the producer's status in the message"
	else
		fail "$pf_name: exit 4 and message" "exit $rc: $(head -c 400 "$T/err")"
	fi
	if [ "$(nsnaps)" = "$n0" ] && [ "$(latest_id)" = "$l0" ]; then pass "$pf_name: no snapshot, latest unchanged"; else fail "$pf_name: no snapshot" "$n0 -> $(nsnaps) snapshots"; fi
	if [ "$(metric strata_success)" = 0 ] && [ "$(metric strata_exit_code)" = 4 ] &&
	   [ "$(metric strata_last_success_timestamp_seconds)" = "$last_ok" ]; then
		pass "$pf_name: metrics failure, last success unchanged"
	else
		fail "$pf_name: metrics" "$(grep -v '^#' "$F")"
	fi
}
producer_fails "producer exits 3 after 1,000,000 bytes" \
	"strata: producer sh failed with exit code 3 after writing 1000000 bytes; no snapshot was written" \
	"$STRATA" backup --quiet --stdin-from-command --stdin-name export.bin --metrics-file "$F" --job export -- \
	sh -c 'head -c 1000000 "$1"; exit 3' sh "$T/export.bin"
producer_fails "producer killed by SIGKILL after 1,000,000 bytes" \
	"strata: producer sh was killed by signal 9 (Killed) after writing 1000000 bytes; no snapshot was written" \
	"$STRATA" backup --quiet --stdin-from-command --metrics-file "$F" --job export -- \
	sh -c 'head -c 1000000 "$1"; kill -9 $$' sh "$T/export.bin"
producer_fails "producer that cannot be run" \
	"strata: producer no-such-program-xyz: cannot run it: No such file or directory; no snapshot was written" \
	"$STRATA" backup --quiet --stdin-from-command --metrics-file "$F" --job export -- no-such-program-xyz
"$STRATA" --json backup --stdin-from-command -- false >"$T/out" 2>/dev/null
pycheck "failed producer --json: error producer_failed, exit 4" "d['error']['code'] == 'producer_failed' and d['error']['exit'] == 4 and d['error']['message'] == 'producer false failed with exit code 1 after writing 0 bytes; no snapshot was written'" "$T/out"

# --stdin-tar from a producer: a tar that fails part way, and one that
# writes a whole archive but still exits non-zero.
TS="$T/tarsrc"
mkdir -p "$TS/sub"
head -c 300000 /dev/urandom >"$TS/sub/big"
printf 'hello\n' >"$TS/small"
tarlen=$(tar -C "$TS" -cf - . | wc -c)
"$STRATA" backup --quiet --stdin-tar --stdin-from-command --metrics-file "$F" --job export -- \
	sh -c 'tar -C "$1" -cf - . | head -c 100000; exit 2' sh "$TS" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc -eq 4 ] && grep -qx "strata: producer sh failed with exit code 2; no snapshot was written (reading its output: .*cut short.*)" "$T/err" &&
   [ "$(nsnaps)" = "$n0" ]; then
	pass "--stdin-tar, producer cut short and failed: exit 4 naming it, no snapshot"
else
	fail "--stdin-tar, producer cut short" "exit $rc: $(head -c 400 "$T/err")"
fi
producer_fails "--stdin-tar, a whole archive but the producer exits 2" \
	"strata: producer sh failed with exit code 2 after writing $tarlen bytes; no snapshot was written" \
	"$STRATA" backup --quiet --stdin-tar --stdin-from-command --metrics-file "$F" --job export -- \
	sh -c 'tar -C "$1" -cf - .; exit 2' sh "$TS"
expect "--stdin-tar from a producer that succeeds" "$STRATA" backup --quiet --stdin-tar --stdin-from-command -- tar -C "$TS" -cf - .
if "$STRATA" dump latest sub/big | cmp -s - "$TS/sub/big"; then pass "--stdin-tar from a producer: bit-exact"; else fail "--stdin-tar from a producer: bit-exact" "differs"; fi
n0=$(nsnaps)
l0=$(latest_id)

# SIGTERM and SIGINT to strata end the producer; no snapshot. The producer
# writes a little, says it is running, then waits (not writing): strata
# is blocked reading it when the signal comes.
for sig in 15 2; do
	rm -f "$T/started" "$T/ppid"
	env --default-signal=INT "$STRATA" backup --quiet --stdin-from-command -- \
		sh -c 'echo $$ >"$1/ppid"; head -c 100000 /dev/zero; : >"$1/started"; exec sleep 1000' sh "$T" \
		>/dev/null 2>"$T/err" &
	spid=$!
	i=0
	while [ ! -e "$T/started" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	kill -$sig $spid
	wait $spid
	rc=$?
	want=$((128 + sig))
	ppid=$(cat "$T/ppid")
	# Gone, or a zombie awaiting its new parent: not running either way.
	i=0
	while st=$(ps -o stat= -p "$ppid" 2>/dev/null) && [ "${st#Z}" = "$st" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	if [ $rc -eq $want ] && { [ -z "$st" ] || [ "${st#Z}" != "$st" ]; } && [ "$(nsnaps)" = "$n0" ] && [ "$(latest_id)" = "$l0" ]; then
		pass "signal $sig to strata: it dies of it ($want), the producer is ended, no snapshot"
	else
		fail "signal $sig to strata" "exit $rc (want $want), producer state '$st', snapshots $n0 -> $(nsnaps)"
	fi
done

# Usage: the command goes after --, and nothing else may be backed up.
expect_exit "--stdin-from-command without a command: exit 2" 2 "$STRATA" backup --stdin-from-command
expect_exit "--stdin-from-command with a PATH: exit 2" 2 "$STRATA" backup --stdin-from-command "$TS" -- cat /dev/null
expect "PATHs after -- are still backed up" "$STRATA" backup --json -- "$TS"
pycheck "PATHs after --: the snapshot holds them" "d['partial'] is False and d['summary']['files'] == 2" "$T/out"

e2e_done
