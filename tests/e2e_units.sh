# e2e_units.sh — the scheduling and monitoring files an operator installs:
# tools/dist/systemd/ (systemd-analyze verify when systemd is installed; else
# SKIP with the reason), tools/dist/cron/strata (5 time fields, user, command;
# no bare %), every strata command line in them accepted by this strata
# (each option before a "--" is in `strata help CMD`, what follows it is
# verify-restore's command, and the line parses: it fails only
# for want of a repository and writes its job's metrics file), timers'
# schedules, tools/dist/prometheus/strata-alerts.yml (every metric it names is
# one strata writes), and the man page tools/cli/gen_man.sh makes. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

TOP=$(cd "$(dirname "$0")/.." && pwd)
U="$TOP/tools/dist/systemd"
C="$TOP/tools/dist/cron/strata"
A="$TOP/tools/dist/prometheus/strata-alerts.yml"
TF="$T/textfile"
mkdir -p "$TF" "$T/chain"

# ---- unit files: structure ----
for s in "$U"/*.service; do
	n=$(basename "$s")
	if grep -qx 'EnvironmentFile=/etc/strata/strata.env' "$s" && grep -qx 'Type=oneshot' "$s" &&
	   grep -q '^ExecStart=.*--metrics-file' "$s" && grep -q '^ExecStart=.*--job ' "$s"; then
		pass "units: $n: oneshot, EnvironmentFile, --metrics-file, --job"
	else
		fail "units: $n" "missing EnvironmentFile, Type=oneshot, --metrics-file or --job"
	fi
	t="${s%.service}.timer"
	if [ -f "$t" ] && grep -qx 'WantedBy=timers.target' "$t" && grep -q '^OnCalendar=' "$t"; then
		pass "units: $n has a timer"
	else
		fail "units: $n has a timer" "$(basename "$t") missing or without OnCalendar/WantedBy"
	fi
done
for t in "$U"/*.timer; do
	[ -f "${t%.timer}.service" ] || fail "units: $(basename "$t")" "no service of the same name"
done

# ---- a partial snapshot (exit 3) is a failure; producers run by strata ----
# Exit 3 saves a snapshot marked partial, which latest and restore skip:
# no unit may count it as success. A producer piped into --stdin or
# --stdin-tar cannot be told from one that finished (a pipe only ends):
# every producer runs under --stdin-from-command, which writes no snapshot
# when it fails.
if grep -n '^SuccessExitStatus=' "$U"/*.service | grep -Eq '(=| )3( |$)'; then
	fail "units: no unit counts exit 3 (a partial snapshot) as success" "$(grep -n '^SuccessExitStatus=' "$U"/*.service)"
else
	pass "units: no unit counts exit 3 (a partial snapshot) as success"
fi
if grep -En '\|[[:space:]]*[^|]*strata(-pg)? backup' "$U"/*.service "$C" >"$T/piped"; then
	fail "units and cron: no producer piped into strata backup" "$(head -c 400 "$T/piped")"
else
	pass "units and cron: no producer piped into strata backup"
fi
for f in "$U/strata-export.service" "$U/strata-pg-basebackup.service" "$C"; do
	n=$(grep -c -- '--stdin-from-command .*-- ' "$f")
	want=1
	[ "$f" = "$C" ] && want=2
	if [ "$n" -eq "$want" ]; then
		pass "units: $(basename "$f") runs its producer with --stdin-from-command"
	else
		fail "units: $(basename "$f") runs its producer with --stdin-from-command" "$n lines, wanted $want"
	fi
done

# The man page, generated once: systemd-analyze finds it on MANPATH, and
# "the man page" below checks what it holds.
mkdir -p "$T/man/man1"
sh "$TOP/tools/cli/gen_man.sh" "$STRATA" >"$T/man/man1/strata.1" 2>"$T/gen_man.err"

# ---- systemd-analyze verify ----
if command -v systemd-analyze >/dev/null 2>&1; then
	# As installed: the binary at its place ($STRATA here), the man page
	# on MANPATH, so Documentation=man:strata(1) resolves too. systemd runs
	# `man strata(1)` for each of the 14 units and checks its exit status
	# only; MANOPT=-w makes man print where the page is (16 when it finds
	# none, as before) instead of rendering it 14 times (1.5 of its 1.9 s
	# of CPU). groff's rendering is checked under "the man page" below.
	mkdir -p "$T/units"
	for f in "$U"/*.service "$U"/*.timer; do
		sed "s|/usr/local/bin/strata|$STRATA|g" "$f" >"$T/units/$(basename "$f")"
	done
	if (cd "$T/units" && MANOPT=-w MANPATH="$T/man:" systemd-analyze verify ./*.service ./*.timer) >"$T/v" 2>&1 && [ ! -s "$T/v" ]; then
		pass "units: systemd-analyze verify (services, timers, man page)"
	else
		fail "units: systemd-analyze verify" "$(head -c 800 "$T/v")"
	fi
	# The schedules: interval between the next two elapses (in UTC, so a
	# daylight-saving change cannot stretch a day).
	every() {  # every UNIT SECONDS
		cal=$(sed -n 's/^OnCalendar=//p' "$U/$1")
		TZ=UTC systemd-analyze calendar --iterations=2 "$cal" >"$T/cal" 2>&1
		a=$(sed -n 's/^ *Next elapse: //p' "$T/cal")
		b=$(sed -n 's/^ *Iter. #2: //p' "$T/cal")
		d=$(( $(TZ=UTC date -d "$b" +%s) - $(TZ=UTC date -d "$a" +%s) ))
		if [ "$d" -eq "$2" ]; then pass "units: $1 fires every $2 s"; else fail "units: $1 schedule" "$cal: $d s apart, wanted $2"; fi
	}
	every strata-chain-snapshot.timer 60
	every strata-export.timer 900
	every strata-check.timer 86400
	every strata-forget.timer 86400
	every strata-replicate.timer 86400
	every strata-pg-basebackup.timer 86400
	every strata-verify-restore.timer 604800
else
	echo "SKIP: systemd-analyze verify: systemd-analyze not installed (Debian package systemd)"
fi

# ---- cron file syntax ----
cat >"$T/cron.py" <<'EOF'
import re, sys
ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
names = [None, None, None,
         "jan feb mar apr may jun jul aug sep oct nov dec".split(),
         "sun mon tue wed thu fri sat".split()]
def field_ok(f, i):
    lo, hi = ranges[i]
    for item in f.split(","):
        m = re.fullmatch(r"(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/([0-9]+))?", item.lower())
        if not m or (m.group(2) is not None and int(m.group(2)) == 0):
            return False
        if m.group(1) == "*":
            continue
        for v in m.group(1).split("-"):
            if v.isdigit():
                if not lo <= int(v) <= hi:
                    return False
            elif not names[i] or v not in names[i]:
                return False
    return True
bad, jobs = [], 0
for no, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.lstrip().startswith("#"):
        continue
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", line):
        continue
    parts = line.split(None, 6)
    if len(parts) < 7:
        bad.append("%d: wants 5 time fields, a user and a command" % no); continue
    for i in range(5):
        if not field_ok(parts[i], i):
            bad.append("%d: bad time field %r" % (no, parts[i]))
    if not re.fullmatch(r"[a-z_][a-z0-9_-]*", parts[5]):
        bad.append("%d: bad user %r" % (no, parts[5]))
    if re.search(r"(?<!\\)%", parts[6]):
        bad.append("%d: a bare %% (cron makes it a newline): write \\%%" % no)
    if not parts[6].startswith("flock -n "):
        bad.append("%d: not guarded by flock -n" % no)
    jobs += 1
if bad or jobs == 0:
    sys.exit("; ".join(bad) or "no jobs")
print(jobs)
EOF
if n=$(python3 -S "$T/cron.py" "$C" 2>&1); then pass "cron: $n jobs, 5 time fields + user + command, no bare %, flock guard"; else fail "cron: syntax" "$n"; fi
printf '* * * * root echo 50%% done\n' >"$T/badcron"
if python3 -S "$T/cron.py" "$T/badcron" >/dev/null 2>&1; then fail "cron checker rejects a bad file" "accepted"; else pass "cron checker rejects a bad file"; fi

# ---- every strata command line in the units and the cron file ----
# cmds.py prints one JSON array per strata invocation: [source, args...],
# after systemd's (%% $$ ${V} $V) and the shell's ($V "$V" $(date +%u))
# expansions with the values of strata.env.example, and these overrides.
cat >"$T/cmds.py" <<'EOF'
import json, os, re, shlex, sys
env = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line and not line.startswith("#"):
        k, v = line.split("=", 1)
        env[k] = shlex.split(v)[0] if v else ""
for kv in sys.argv[4:]:
    k, v = kv.split("=", 1)
    env[k] = v
out = []
def subst(s):
    s = s.replace("$(date +%u)", "3")
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)",
                  lambda m: env.get(m.group(1) or m.group(2), ""), s)
def script(src, s):
    lex = shlex.shlex(subst(s), posix=True, punctuation_chars=";&|")
    lex.whitespace_split = True
    cmd = []
    for tok in list(lex) + [";"]:
        if tok in (";", "&", "&&", "|", "||"):
            if cmd:
                vector(src, cmd)
            cmd = []
        else:
            cmd.append(tok)
def vector(src, argv):
    while argv and argv[0] in ("exec",):
        argv = argv[1:]
    if not argv:
        return
    base = os.path.basename(argv[0])
    if base == "flock":
        i = 1
        while i < len(argv) and argv[i].startswith("-"):
            i += 1
        vector(src, argv[i + 1:])
    elif base in ("sh", "bash") and "-c" in argv:
        script(src, argv[argv.index("-c") + 1])
    elif base == "strata":
        out.append([src] + argv[1:])
for unit in sys.argv[3].split():
    for line in open(unit):
        m = re.match(r"Exec(Start|StartPost)=[-@+!:]*(.*)", line.rstrip("\n"))
        if m:
            s = m.group(2).replace("%%", "%").replace("$$", "\0")
            s = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), s)
            s = re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: env.get(m.group(1), ""), s)
            vector(os.path.basename(unit), shlex.split(s.replace("\0", "$")))
for no, line in enumerate(open(sys.argv[2]), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("#") or re.match(r"[A-Za-z_][A-Za-z0-9_]*=", line):
        continue
    script("cron line %d" % no, line.split(None, 6)[6].replace("\\%", "%"))
for o in out:
    print(json.dumps(o))
EOF
if python3 -S "$T/cmds.py" "$U/strata.env.example" "$C" "$(echo "$U"/*.service)" \
     "STRATA_METRICS_DIR=$TF" "CHAIN_DATA_DIR=$T/chain" "STRATA_REPLICA=$T/replica" >"$T/cmds" 2>"$T/cmds.err"; then
	pass "units and cron: command lines parse"
else
	fail "units and cron: command lines parse" "$(head -c 400 "$T/cmds.err")"
fi
services=$(ls "$U"/*.service | wc -l)
ncmd=$(wc -l <"$T/cmds")
# Each service has its strata line; pg-basebackup also runs wal-prune, and
# the cron file repeats every job.
if [ "$ncmd" -ge $((2 * services + 1)) ]; then pass "units and cron: $ncmd strata command lines found"; else fail "units and cron: strata lines found" "$ncmd: $(cat "$T/cmds")"; fi

# check_line JSON — check one invocation; sets ok (1 = every check passed)
# and prints PASS/FAIL lines unless quiet=1.
report() { [ "$quiet" = 1 ] || { if [ "$1" = pass ]; then pass "$2"; else fail "$2" "$3"; fi; }; [ "$1" = pass ] || ok=0; }
check_line() {
	ok=1
	# args, one per line, without the source
	python3 -S -c 'import json,sys; [print(a) for a in json.loads(sys.argv[1])]' "$1" >"$T/line"
	src=$(head -n 1 "$T/line")
	tail -n +2 "$T/line" >"$T/args"
	cmd=$(head -n 1 "$T/args")
	name="$src: strata $cmd"
	if ! "$STRATA" help "$cmd" >"$T/help" 2>&1; then
		report fail "$name: a strata command" "$(head -c 200 "$T/help")"
		return
	fi
	missing=""
	# Options after "--" are the command's (verify-restore -- CMD ARGS).
	for o in $(sed '/^--$/,$d' "$T/args" | grep -o '^--[a-z-]*'); do
		grep -q -- "$o\\b" "$T/help" || missing="$missing $o"
	done
	if [ -z "$missing" ]; then report pass "$name: every option in its help"; else report fail "$name: options not in help" "$missing"; fi
	# Run it against a repository that does not exist: it must fail for
	# that (10, or 4 for a target it cannot reach), not with a usage error
	# (2), which would come first.
	rm -f "$TF"/*.prom
	set --
	while IFS= read -r a; do set -- "$@" "$a"; done <"$T/args"
	"$STRATA" -r "$T/no-repo" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	if { [ $rc -eq 10 ] || [ $rc -eq 4 ]; } && ! grep -q "strata help" "$T/err"; then
		report pass "$name: parses (fails only for want of a repository: exit $rc)"
	else
		report fail "$name: parses" "exit $rc: $(head -c 300 "$T/err")"
	fi
	job=$(awk 'p {print; exit} /^--job$/ {p = 1}' "$T/args")
	mf=$(awk 'p {print; exit} /^--metrics-file$/ {p = 1}' "$T/args")
	if [ -n "$mf" ]; then
		if [ -s "$mf" ] && grep -q "job=\"$job\"" "$mf" && [ "$(dirname "$mf")" = "$TF" ]; then
			report pass "$name: writes its job's metrics file into the textfile directory"
		else
			report fail "$name: metrics file" "$mf (job $job): $(head -c 200 "$mf" 2>&1)"
		fi
		[ "$quiet" = 1 ] || echo "$src $mf" >>"$T/metric-files"
	fi
}
quiet=0
while IFS= read -r line; do
	check_line "$line"
done <"$T/cmds"
# The checks catch a bad line: an option strata lacks, a misspelt command.
quiet=1
check_line '["bad.service", "backup", "--no-such-option", "--metrics-file", "'"$TF"'/x.prom", "/srv"]'
if [ $ok = 0 ]; then pass "units: an unknown option is caught"; else fail "units: an unknown option is caught" "accepted"; fi
check_line '["bad.service", "bakcup", "/srv"]'
if [ $ok = 0 ]; then pass "units: an unknown command is caught"; else fail "units: an unknown command is caught" "accepted"; fi
check_line '["bad.service", "verify-restore", "--no-such-option", "--", "ldb", "checkconsistency"]'
if [ $ok = 0 ]; then pass "units: an unknown option before -- is caught"; else fail "units: an unknown option before -- is caught" "accepted"; fi
check_line '["ok.service", "verify-restore", "--job", "vr-check", "--metrics-file", "'"$TF"'/vr-check.prom", "--", "ldb", "--db=/x", "checkconsistency"]'
if [ $ok = 1 ]; then pass "units: the command's own options after -- are not strata's"; else fail "units: options after --" "rejected"; fi
quiet=0

# Two jobs writing one file would overwrite each other's metrics.
if [ -z "$(grep -v '^cron ' "$T/metric-files" | awk '{print $2}' | sort | uniq -d)" ] &&
   [ -z "$(grep '^cron ' "$T/metric-files" | awk '{print $4}' | sort | uniq -d)" ]; then
	pass "units and cron: one metrics file per job"
else
	fail "units and cron: one metrics file per job" "$(sort "$T/metric-files")"
fi
# systemd and cron schedule the same jobs into the same files.
if [ "$(grep -v '^cron ' "$T/metric-files" | awk '{print $2}' | sort)" = "$(grep '^cron ' "$T/metric-files" | awk '{print $4}' | sort)" ]; then
	pass "units and cron: the same jobs"
else
	fail "units and cron: the same jobs" "$(sort -k2 "$T/metric-files")"
fi

# ---- alert rules ----
# Metric names strata writes: a real backup, check, forget, replicate and
# verify-restore.
export STRATA_REPOSITORY="$R"
mkdir -p "$T/src"
printf 'x\n' >"$T/src/f"
"$STRATA" init -q >/dev/null 2>&1
"$STRATA" backup -q --metrics-file "$TF/b.prom" "$T/src" >/dev/null 2>&1
"$STRATA" check -q --metrics-file "$TF/c.prom" >/dev/null 2>&1
"$STRATA" forget -q --keep-last 1 --metrics-file "$TF/f.prom" >/dev/null 2>&1
"$STRATA" replicate -q --to "$T/replica2" --metrics-file "$TF/r.prom" >/dev/null 2>&1
"$STRATA" verify-restore -q --metrics-file "$TF/v.prom" -- true >/dev/null 2>&1
cat "$TF"/*.prom | grep -v '^#' | sed 's/[{ ].*//' | sort -u >"$T/written"
if grep -qx strata_last_success_timestamp_seconds "$T/written" && grep -qx strata_check_success "$T/written"; then
	pass "alerts: strata wrote metrics to compare with"
else
	fail "alerts: metrics written" "$(cat "$T/written")"
fi
cat >"$T/alerts.py" <<'EOF'
import re, sys
try:
    import yaml
except ImportError:
    print("SKIP: alert rule structure: python3-yaml not installed")
    text = open(sys.argv[1]).read()
    exprs = re.findall(r"expr: (.*)", text)
else:
    d = yaml.safe_load(open(sys.argv[1]))
    exprs = []
    for g in d["groups"]:
        assert g["name"] and g["rules"], g
        for r in g["rules"]:
            for k in ("alert", "expr"):
                assert isinstance(r.get(k), (str, int)), (r, k)
            assert r["labels"]["severity"] in ("critical", "warning"), r
            assert r["annotations"]["summary"], r
            exprs.append(str(r["expr"]))
written = set(open(sys.argv[2]).read().split())
used = set(n for e in exprs for n in re.findall(r"\bstrata_[a-z_]+", e))
unknown = sorted(used - written)
if unknown:
    sys.exit("metrics strata does not write: " + ", ".join(unknown))
stale = [e for e in exprs if "strata_last_success_timestamp_seconds" in e and "7200" in e]
if not stale:
    sys.exit("no rule for a backup older than 2 hours (7200 s)")
print(len(exprs))
EOF
if r=$(python3 "$T/alerts.py" "$A" "$T/written" 2>&1); then pass "alerts: $(echo "$r" | tail -n 1) rules, every metric they use is written by strata, 2-hour staleness rule"; else fail "alerts" "$r"; fi
echo "$r" | grep '^SKIP' || true
printf 'strata_last_success_timestamp_seconds\n' >"$T/written-few"
if python3 "$T/alerts.py" "$A" "$T/written-few" >/dev/null 2>&1; then fail "alerts checker catches an unknown metric" "accepted"; else pass "alerts checker catches an unknown metric"; fi

# ---- the man page ----
cp "$T/man/man1/strata.1" "$T/strata.1"
missing=""
nc=0
for c in $("$STRATA" --help | awk '/^Commands:$/ {on = 1; next} on && /^$/ {exit} on {print $1}'); do
	nc=$((nc + 1))
	grep -qx ".SS \"strata $c\"" "$T/strata.1" || missing="$missing $c"
	"$STRATA" help "$c" | head -n 1 | sed 's/-/\\-/g' >"$T/usage"
	grep -qxF "$(cat "$T/usage")" "$T/strata.1" || missing="$missing $c(usage)"
done
[ "$nc" -ge 20 ] || missing="$missing (only $nc commands found in --help)"
if [ -z "$missing" ]; then pass "man: gen_man.sh covers every command with its help"; else fail "man: gen_man.sh" "missing:$missing"; fi
if command -v groff >/dev/null 2>&1; then
	if groff -k -man -Tutf8 -ww -z "$T/strata.1" >"$T/g" 2>&1 && [ ! -s "$T/g" ]; then pass "man: groff renders it without warnings"; else fail "man: groff" "$(head -c 400 "$T/g")"; fi
else
	echo "SKIP: man: groff not installed"
fi
# make install installs the page of the binary it installs, built by the
# Makefile from that binary (-o: never rebuild the binary here; other
# tests may be using it).
rm -f "$TOP/$BUILD/strata.1"
if make -s -C "$TOP" BUILD="$BUILD" -o "$BUILD/strata" "$BUILD/strata.1" >"$T/mk" 2>&1 &&
   cmp -s "$TOP/$BUILD/strata.1" "$T/strata.1" &&
   make -n -C "$TOP" BUILD="$BUILD" DESTDIR=/x PREFIX=/usr install 2>&1 | grep -q "install .*$BUILD/strata.1 /x/usr/share/man/man1/strata.1"; then
	pass "man: make install installs the page generated from the binary"
else
	fail "man: make install" "$(head -c 400 "$T/mk")"
fi

e2e_done
