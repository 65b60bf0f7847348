# e2e_metrics.sh — --metrics-file / --job: the Prometheus textfile a
# scheduled job leaves for node_exporter. The file parses as the text
# exposition format; its values equal the run's --json summary; it is
# replaced atomically (no temporary file left, mode 0644); a failed run
# keeps the last success time (or 0 when there never was one) so a
# staleness alert keeps firing; forget and prune write the same job
# metrics; a partial run (exit 3: the snapshot is marked partial) is a
# failure that keeps the last success time. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

S="$T/src"
D="$T/textfile"     # node_exporter's textfile directory
export STRATA_REPOSITORY="$R"
mkdir -p "$S/sub" "$D"
head -c 300000 /dev/urandom >"$S/a.bin"
printf 'hello\n' >"$S/sub/b.txt"
cp "$S/a.bin" "$S/sub/copy.bin"          # deduplicated within the snapshot
"$STRATA" init -q >/dev/null 2>&1 || { fail "init" "cannot init"; e2e_done; }

# prom FILE — parse FILE strictly into JSON {name: {labels-as-text: value}}
# on stdout; exit 1 with a reason when it is not valid exposition text.
cat >"$T/prom.py" <<'EOF'
import json, math, re, sys
samples, helped, typed, seen_names = {}, set(), set(), []
name_re = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
line_re = re.compile(r'^(' + name_re + r')(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (\S+)$')
text = open(sys.argv[1]).read()
if not text.endswith('\n'):
    sys.exit('no final newline')
for ln in text.splitlines():
    if ln.startswith('# HELP '):
        helped.add(ln.split(' ')[2]); continue
    if ln.startswith('# TYPE '):
        parts = ln.split(' ')
        if parts[3] not in ('gauge', 'counter', 'untyped'):
            sys.exit('bad type: ' + ln)
        typed.add(parts[2]); continue
    m = line_re.match(ln)
    if not m:
        sys.exit('bad line: ' + ln)
    name, labels, value = m.group(1), m.group(3) or '', m.group(4)
    if name not in helped or name not in typed:
        sys.exit('sample before its HELP/TYPE: ' + ln)
    if seen_names and seen_names[-1] != name and name in seen_names:
        sys.exit('samples of one name not together: ' + name)
    seen_names.append(name)
    v = float(value.replace('+Inf', 'inf').replace('-Inf', '-inf'))
    samples.setdefault(name, {})[labels] = v if math.isfinite(v) else str(v)
print(json.dumps(samples))
EOF

# check NAME EXPR — EXPR (Python) over m (the parsed metrics file $T/m.json),
# j (the backup's --json output $T/out) and t0/t1 (unix seconds around the run).
check() {
	if r=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
try:
    j = json.load(open(sys.argv[2]))
except Exception:
    j = None
t0, t1 = float(sys.argv[3]), float(sys.argv[4])
print(eval(sys.argv[5]))' "$T/m.json" "$T/out" "$t0" "$t1" "$2" 2>&1) && [ "$r" = True ]; then
		pass "$1"
	else
		fail "$1" "$2 -> $(printf %s "$r" | head -c 300); metrics: $(head -c 600 "$T/m.json")"
	fi
}

# parse NAME FILE — FILE is valid exposition text; parsed into $T/m.json.
parse() {
	if python3 "$T/prom.py" "$2" >"$T/m.json" 2>"$T/perr"; then pass "$1"; else fail "$1" "$(cat "$T/perr")"; : >"$T/m.json"; fi
}

# no_temp NAME — nothing but *.prom files in the textfile directory.
no_temp() {
	if [ -z "$(ls -A "$D" | grep -v '\.prom$')" ]; then pass "$1"; else fail "$1" "$(ls -A "$D")"; fi
}

L='job="chain",command="backup"'
F="$D/strata-chain.prom"

# ---- a successful backup ----
t0=$(date +%s)
expect "backup --json --metrics-file" "$STRATA" backup --json --metrics-file "$F" --job chain "$S"
t1=$(date +%s)
parse "metrics file parses as exposition text" "$F"
no_temp "no temporary file left"
if [ "$(stat -c %a "$F")" = 644 ]; then pass "metrics file is 0644"; else fail "metrics file mode" "$(stat -c %a "$F")"; fi
# Written through an exclusive temporary file (store/sys/outfile.h): with
# umask 077 the file is still 0644, for node_exporter (another user); a
# symlink at FILE is replaced, not followed.
G="$D/strata-umask.prom"
ln -s "$T/metrics-victim" "$G"
(umask 077; "$STRATA" backup -q --metrics-file "$G" --job umask "$S") >/dev/null 2>"$T/err"
if [ -f "$G" ] && [ ! -L "$G" ] && [ ! -e "$T/metrics-victim" ] && [ "$(stat -c %a "$G")" = 644 ] &&
   grep -q '^strata_success{job="umask",command="backup"} 1$' "$G"; then
	pass "with umask 077 and a symlink at FILE: a 0644 file replaces the symlink"
else
	fail "metrics file with umask 077 and a symlink" "$(ls -l "$G" "$T/metrics-victim" 2>&1; cat "$T/err")"
fi
no_temp "... and no temporary file left"
rm -f "$G"
check "labels job and command" "all(list(v.keys()) == ['$L'] for v in m.values())"
check "bytes_read = summary" "m['strata_bytes_read']['$L'] == j['summary']['bytes_read'] > 0"
check "bytes_added = summary" "m['strata_bytes_added']['$L'] == j['summary']['bytes_added'] > 0"
check "bytes_stored, bytes_total = summary" "m['strata_bytes_stored']['$L'] == j['summary']['bytes_stored'] and m['strata_bytes_total']['$L'] == j['summary']['bytes_total']"
check "files = summary" "m['strata_files']['$L'] == j['summary']['files'] == 3"
check "errors = summary" "m['strata_errors']['$L'] == j['summary']['errors'] == 0"
check "dedup ratio = bytes_total / bytes_added" "abs(m['strata_dedup_ratio']['$L'] - j['summary']['bytes_total'] / j['summary']['bytes_added']) < 1e-9"
check "success, exit code" "m['strata_success']['$L'] == 1 and m['strata_exit_code']['$L'] == 0"
check "no partial paths" "m['strata_partial_paths']['$L'] == j['partial_count'] == 0 and j['partial'] is False"
check "last success = now" "t0 <= m['strata_last_success_timestamp_seconds']['$L'] <= t1 and m['strata_last_run_timestamp_seconds']['$L'] == m['strata_last_success_timestamp_seconds']['$L']"
check "duration covers the backup" "j['summary']['duration_s'] <= m['strata_duration_seconds']['$L'] <= t1 - t0 + 1"
last_ok=$(python3 -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["strata_last_success_timestamp_seconds"][sys.argv[2]]))' "$T/m.json" "$L")

# ---- an unchanged second run replaces the file ----
sleep 1
t0=$(date +%s)
expect "second backup" "$STRATA" backup --json --metrics-file "$F" --job chain "$S"
t1=$(date +%s)
parse "second file parses" "$F"
no_temp "no temporary file after the second run"
check "second run: values of this run" "m['strata_bytes_read']['$L'] == j['summary']['bytes_read'] == 0 and m['strata_files']['$L'] == 3"
check "second run: last success moved on" "m['strata_last_success_timestamp_seconds']['$L'] > $last_ok"
last_ok=$(python3 -c 'import json,sys; print(repr(json.load(open(sys.argv[1]))["strata_last_success_timestamp_seconds"][sys.argv[2]]))' "$T/m.json" "$L")

# ---- a partial run (exit 3: saved, marked partial) is a failure ----
# /proc/self/mem fails to read with EIO, even for root. The snapshot it
# saves is not one latest or a restore would use: the job did not do its
# work, and the last success time stays that of the run before.
if [ -r /proc/self/mem ]; then
	sleep 1
	t0=$(date +%s)
	expect_exit "partial backup" 3 "$STRATA" backup --json --metrics-file "$F" --job chain "$S" /proc/self/mem
	t1=$(date +%s)
	parse "partial run: file parses" "$F"
	check "partial run: errors = summary = 1" "m['strata_errors']['$L'] == j['summary']['errors'] == 1"
	check "partial run: partial paths = 1 = the snapshot's" "m['strata_partial_paths']['$L'] == j['partial_count'] == 1 and j['partial'] is True"
	check "partial run: exit code 3, success 0, last success unchanged, last run now" "m['strata_exit_code']['$L'] == 3 and m['strata_success']['$L'] == 0 and m['strata_last_success_timestamp_seconds']['$L'] == $last_ok and t0 <= m['strata_last_run_timestamp_seconds']['$L'] <= t1"
else
	echo "SKIP: partial backup metrics: no /proc/self/mem"
fi

# ---- a failed run keeps the last success ----
printf 'not the password\n' >"$T/badpw"
sleep 1
t0=$(date +%s)
expect_exit "failed backup (wrong password)" 12 "$STRATA" --password-file "$T/badpw" backup --metrics-file "$F" --job chain "$S"
t1=$(date +%s)
parse "failed run: file parses" "$F"
check "failed run: last success kept" "m['strata_last_success_timestamp_seconds']['$L'] == $last_ok"
check "failed run: exit code, success 0, last run now" "m['strata_exit_code']['$L'] == 12 and m['strata_success']['$L'] == 0 and t0 <= m['strata_last_run_timestamp_seconds']['$L'] <= t1"
check "failed run: no byte counts" "'strata_bytes_read' not in m and 'strata_files' not in m"
expect_exit "failed again" 12 "$STRATA" --password-file "$T/badpw" backup --metrics-file "$F" --job chain "$S"
parse "failed twice: file parses" "$F"
check "failed twice: last success still kept" "m['strata_last_success_timestamp_seconds']['$L'] == $last_ok"

# A job that never succeeded says 0, so time() - last_success is huge.
expect_exit "failed first run" 12 "$STRATA" --password-file "$T/badpw" backup --metrics-file "$D/new.prom" --job fresh "$S"
parse "never succeeded: file parses" "$D/new.prom"
check "never succeeded: last success 0" "m['strata_last_success_timestamp_seconds']['job=\"fresh\",command=\"backup\"'] == 0"
# Another job's file does not feed this one's last success.
expect_exit "failed, other job" 12 "$STRATA" --password-file "$T/badpw" backup --metrics-file "$F" --job other "$S"
parse "other job: file parses" "$F"
check "other job: does not inherit chain's last success" "m['strata_last_success_timestamp_seconds']['job=\"other\",command=\"backup\"'] == 0"

# ---- defaults, stdin, bad options ----
expect "backup --stdin with metrics, default job" sh -c "printf '{\"h\":1}' | \"$STRATA\" backup --json --stdin --stdin-name state.json --metrics-file \"$D/export.prom\""
parse "stdin run: file parses" "$D/export.prom"
check "default job label is the command" "m['strata_files']['job=\"backup\",command=\"backup\"'] == j['summary']['files'] == 1"
rm -f "$D/bad.prom"
expect_exit "bad --job" 2 "$STRATA" backup --metrics-file "$D/bad.prom" --job 'a"b' "$S"
if [ ! -e "$D/bad.prom" ]; then pass "usage error writes no metrics"; else fail "usage error writes no metrics" "file written"; fi
expect_exit "--metrics-file without a value" 2 "$STRATA" backup "$S" --metrics-file
expect_exit "metrics directory missing" 4 "$STRATA" backup -q --metrics-file "$T/nodir/x.prom" "$S"
if grep -q "$T/nodir/x.prom" "$T/err"; then pass "unwritable metrics file: named, exit 4"; else fail "unwritable metrics file" "$(cat "$T/err")"; fi
no_temp "no temporary file after all runs"

# ---- forget and prune write the same job metrics ----
t0=$(date +%s)
expect "forget --metrics-file" "$STRATA" forget -q --keep-last 1 --metrics-file "$D/forget.prom" --job retention
t1=$(date +%s)
parse "forget: file parses" "$D/forget.prom"
check "forget: success and last success" "m['strata_success']['job=\"retention\",command=\"forget\"'] == 1 and t0 <= m['strata_last_success_timestamp_seconds']['job=\"retention\",command=\"forget\"'] <= t1"
expect "prune --metrics-file" "$STRATA" prune -q --metrics-file "$D/prune.prom"
parse "prune: file parses" "$D/prune.prom"
check "prune: default job, exit code 0" "m['strata_exit_code']['job=\"prune\",command=\"prune\"'] == 0"
expect_exit "forget: bad --job" 2 "$STRATA" forget --keep-last 1 --job 'x y'
no_temp "no temporary file from forget and prune"

e2e_done
