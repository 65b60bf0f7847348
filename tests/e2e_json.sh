# e2e_json.sh — every command's --json output against the schemas in
# tools/cli/doc/JSON.md. A small checker (below) reads the tables between
# <!-- schema NAME --> markers and checks a document field by field, both
# ways: each documented field is there with its type (unless optional), and
# each field printed is documented. The commands run on a small local
# repository (and an S3 one for the cold-storage answer of restore); errors
# are checked against the Error schema with their exit status. At the end,
# every schema of JSON.md must have been exercised and every command of
# `strata --help` must have a section. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

DOC="$(cd "$(dirname "$0")/.." && pwd)/tools/cli/doc/JSON.md"
export STRATA_REPOSITORY="$R"
S="$T/src"
: >"$T/covered"
: >"$T/skipped"   # schemas not checked here (no FUSE, no S3 node): named in the coverage PASS

cat >"$T/jcheck.py" <<'EOF'
# jcheck.py DOC QUEUE — run the checks queued in QUEUE (tab-separated
# lines; schema() and field_is() below write them) and print a PASS or
# FAIL line for each; exit 1 if any failed. One python start for the whole
# script instead of one per check (~80 of them at ~0.05 s of CPU each).
#   schema NAME FILE SCHEMA [LAST_SCHEMA]  the JSON document in FILE matches
#       SCHEMA from DOC; with LAST_SCHEMA, FILE holds JSON lines: the last
#       line is checked against LAST_SCHEMA and every other one against SCHEMA
#   reject NAME FILE SCHEMA  the same check must find a problem
#   expr NAME FILE EXPR      the Python expression EXPR, in which d is the
#       JSON document in FILE, is true
import json, re, sys

PRIM = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "id": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None,
    "short_id": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{8}", v) is not None,
    "time": lambda v: isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", v) is not None,
    "map": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
}

def tokens(path):
    out = []
    if path == ".":
        return ()
    for part in path.split("."):
        m = re.fullmatch(r"([^\[\]]*)((?:\[\])*)", part)
        if not m:
            raise SystemExit("bad path in JSON.md: " + path)
        if m.group(1):
            out.append(m.group(1))
        out += ["[]"] * (len(m.group(2)) // 2)
    return tuple(out)

def load(doc):
    schemas = {}
    text = open(doc, encoding="utf-8").read()
    for m in re.finditer(r"<!-- schema (\S+) -->\n(.*?)<!-- /schema -->", text, re.S):
        rows = {}
        for line in m.group(2).splitlines():
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if len(cells) < 2 or not cells[0].startswith("`"):
                continue
            typ, opt = cells[1].replace("\\|", "|"), False
            if "," in typ:
                typ, rest = typ.split(",", 1)
                opt = "optional" in rest
            rows[tokens(cells[0].strip("`"))] = ([t.strip() for t in typ.split("|")], opt)
        schemas[m.group(1)] = rows
    return schemas

class Checker:
    def __init__(self, schemas):
        self.S = schemas
        self.problems = []

    def bad(self, where, what):
        self.problems.append("%s: %s" % (where or ".", what))

    def value(self, v, types, scopes, where):
        for t in types:
            if t in PRIM and PRIM[t](v):
                return
            if t == "object" and isinstance(v, dict):
                return self.obj(v, scopes, where)
            if t == "array" and isinstance(v, list):
                return self.arr(v, scopes, where)
            if t in self.S:
                root = self.S[t].get((), (["object"], False))[0]
                if any((r in PRIM and PRIM[r](v)) or (r == "object" and isinstance(v, dict)) or
                       (r == "array" and isinstance(v, list)) for r in root):
                    return self.value(v, root, scopes + [(t, ())], where)
        self.bad(where, "%s is not %s" % (json.dumps(v)[:80], " | ".join(types)))

    def children(self, scopes, element):
        kids = {}
        for name, pre in scopes:
            for tok, (types, opt) in self.S[name].items():
                if len(tok) == len(pre) + 1 and tok[:len(pre)] == pre and (tok[-1] == "[]") == element:
                    k = kids.setdefault(tok[-1], [types, opt, []])
                    k[2].append((name, tok))
        return kids

    def obj(self, v, scopes, where):
        kids = self.children(scopes, False)
        for key, (types, opt, sub) in kids.items():
            if key in v:
                self.value(v[key], types, sub, where + "." + key)
            elif not opt:
                self.bad(where, "field %s is missing" % key)
        for key in v:
            if key not in kids:
                self.bad(where, "field %s is not documented" % key)

    def arr(self, v, scopes, where):
        kids = self.children(scopes, True)
        if "[]" not in kids:
            if v:
                self.bad(where, "array elements are not documented")
            return
        types, _, sub = kids["[]"]
        for i, e in enumerate(v):
            self.value(e, types, sub, "%s[%d]" % (where, i))

    def check(self, doc, name, where=""):
        if name not in self.S:
            self.bad(where, "no schema %s in JSON.md" % name)
            return
        root = self.S[name].get((), (["object"], False))[0]
        self.value(doc, root, [(name, ())], where)

def problems(schemas, path, schema, last):
    c = Checker(schemas)
    text = open(path, encoding="utf-8").read()
    try:
        if last:
            lines = [l for l in text.split("\n") if l]
            if not lines:
                c.bad("", "no lines")
            for i, l in enumerate(lines):
                c.check(json.loads(l), last if i == len(lines) - 1 else schema, "line %d" % (i + 1))
        else:
            c.check(json.loads(text), schema)
    except ValueError as e:
        c.bad("", "not JSON: %s" % e)
    return c.problems

def main():
    schemas = load(sys.argv[1])
    failed = 0
    for line in open(sys.argv[2], encoding="utf-8"):
        kind, name, path, *args = line.rstrip("\n").split("\t")
        if kind == "expr":
            try:
                d = json.load(open(path))
                r = bool(eval(args[0], {"d": d}))
            except Exception as e:
                r = "%s: %s" % (type(e).__name__, e)
            ok, why = r is True, "%s -> %s" % (args[0], str(r)[:200])
        else:
            p = problems(schemas, path, args[0], args[1] if len(args) > 1 else "")
            if kind == "reject":
                ok, why = bool(p), "accepted"
            else:
                doc = open(path, encoding="utf-8", errors="replace").read(300).replace("\n", " ")
                ok, why = not p, "%s in %s" % ("\n".join(p[:12])[:600], doc)
        if ok:
            print("PASS " + name)
        else:
            print("FAIL %s: %s" % (name, why))
            failed = 1
    sys.exit(failed)

if __name__ == "__main__":
    main()
EOF

# The checks on documents are queued with a copy of $T/out.json and run
# together by jcheck.py (check_queued, at the end): their PASS and FAIL
# lines come there.
mkdir -p "$T/q"
: >"$T/queue"
qn=0
# queue KIND NAME ARGS... — a copy of $T/out.json and one line of the queue.
queue() {
	qn=$((qn + 1))
	cp "$T/out.json" "$T/q/$qn"
	k=$1 n=$2; shift 2
	printf '%s\t%s\t%s' "$k" "$n" "$T/q/$qn" >>"$T/queue"
	for a in "$@"; do printf '\t%s' "$a" >>"$T/queue"; done
	echo >>"$T/queue"
}
check_queued() {
	python3 -S "$T/jcheck.py" "$DOC" "$T/queue" 2>&1 || E2E_FAILED=1
}

# schema NAME SCHEMA [LAST_SCHEMA] — $T/out must match SCHEMA (JSON lines
# with LAST_SCHEMA); records SCHEMA as exercised.
schema() {
	n=$1; shift
	queue schema "$n" "$@"
	for s in "$@"; do echo "$s" >>"$T/covered"; done
}

# run NAME SCHEMA CMD... — run strata --json CMD (exit 0) and check its output.
run() {
	n=$1; sch=$2; shift 2
	"$STRATA" --json "$@" >"$T/out.json" 2>"$T/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$n" "exit $rc: $(head -c 300 "$T/err") $(head -c 300 "$T/out.json")"
		echo "$sch" >>"$T/covered"
		return
	fi
	schema "$n" "$sch"
}

# run_err NAME CODE CMD... — strata --json CMD must exit CODE and print an
# Error document whose exit field is CODE.
run_err() {
	n=$1; code=$2; shift 2
	"$STRATA" --json "$@" >"$T/out.json" 2>"$T/err"
	rc=$?
	if [ $rc -ne "$code" ]; then
		fail "$n" "exit $rc, wanted $code: $(head -c 300 "$T/out.json")"
		return
	fi
	schema "$n" Error
	field_is "$n: exit field" "d['error']['exit']==$code"
}

# field_is NAME EXPR — a Python expression over $T/out.json (as d) is true.
field_is() {
	queue expr "$1" "$2"
}

# ---- the checker itself rejects what it should ----
printf '{"id": "%s", "location": "/r"}\n' "$(printf '%064d' 0)" >"$T/out.json"
queue schema "checker accepts a good document" init
for bad in '{"id": "xyz", "location": "/r"}' '{"location": "/r"}' \
           "{\"id\": \"$(printf '%064d' 0)\", \"location\": \"/r\", \"extra\": 1}" \
           "{\"id\": \"$(printf '%064d' 0)\", \"location\": 5}" 'not json'; do
	printf '%s\n' "$bad" >"$T/out.json"
	queue reject "checker rejects $bad" init
done

# ---- a source with every kind of entry the schemas mention ----
mkdir -p "$S/dir/sub"
printf 'hello\n' >"$S/a.txt"
head -c 200000 /dev/urandom >"$S/dir/random.bin"
printf 'deep\n' >"$S/dir/sub/deep.txt"
ln -s a.txt "$S/link"
ln -s "$(printf 'odd\377target')" "$S/odd-link"
printf 'odd\n' >"$S/$(printf 'name\377')"
mkfifo "$S/fifo"

run "init" init init
run "backup" backup backup --label height=100 --tag json "$S"
S1=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapshot_id"])' "$T/out.json")
printf 'changed\n' >"$S/a.txt"
rm "$S/dir/sub/deep.txt"
printf 'new\n' >"$S/new.txt"
head -c 30000000 /dev/urandom >"$S/dir/bigger.bin"

# --json-progress: progress lines, then the summary line.
"$STRATA" backup --json-progress --label height=101 "$S" >"$T/out.json" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ]; then pass "backup --json-progress exits 0"; else fail "backup --json-progress exits 0" "exit $rc: $(head -c 300 "$T/err")"; fi
schema "backup --json-progress lines" backup-progress backup-summary
if grep -q '"type":"progress"' "$T/out.json" && [ "$(tail -n 1 "$T/out.json" | grep -c '"type":"summary"')" = 1 ]; then
	pass "backup --json-progress: progress lines, then the summary last"
else
	fail "backup --json-progress order" "$(head -c 400 "$T/out.json")"
fi
if [ ! -s "$T/err" ]; then pass "backup --json-progress: nothing on stderr"; else fail "backup --json-progress: nothing on stderr" "$(head -c 200 "$T/err")"; fi
S2=$(tail -n 1 "$T/out.json" | python3 -S -c 'import json,sys; print(json.load(sys.stdin)["snapshot_id"])')
"$STRATA" -r "$T/nope" backup --json-progress "$S" >"$T/out.json" 2>"$T/err"
rc=$?
if [ $rc -eq 10 ] && [ "$(wc -l <"$T/out.json")" -eq 1 ]; then pass "backup --json-progress: an error is one line"; else fail "backup --json-progress: an error is one line" "exit $rc: $(head -c 300 "$T/out.json")"; fi
schema "backup --json-progress: the error line" Error

run "snapshots" snapshots snapshots
field_is "snapshots: labels and parent" "d[0]['labels']=={'height':'100'} and d[1]['parent']==d[0]['id']"
run "cat snapshot" cat-snapshot cat snapshot latest
run "cat config" cat-config cat config
run "config show" config-show config show
field_is "config show: not a copy, replica null" "d['replica'] is None and d['config']['id']"
run "ls" ls ls "$S1"
field_is "ls: symlink, non-UTF-8 name and target carry hex" "any(e['type']=='symlink' and e['link_target']=='a.txt' for e in d) and any('path_hex' in e for e in d) and any('link_target_hex' in e for e in d) and any(e['type']=='fifo' for e in d)"
run "diff" diff diff "$S1" "$S2"
field_is "diff: added, removed, modified" "{e['change'] for e in d} >= {'added','removed','modified'}"
run "find" find find '*.txt'
field_is "find: matches in both snapshots" "len({e['snapshot'] for e in d})==2"
run "restore" restore restore latest --target "$T/restore"
echo stray >"$T/restore$S/stray"
run "restore --delta --delete" restore restore latest --target "$T/restore" --delta --delete
field_is "restore --delta --delete: the stray removed, nothing fetched" "d['deleted']==['${S#/}/stray'] and d['bytes_fetched']==0 and d['delta']['mode']=='full'"
run "restore --tar" restore-tar restore "$S1" --tar "$T/s1.tar"
run "verify-restore" verify-restore verify-restore "$S1" --timeout 10m -- true
field_is "verify-restore: passed, recorded" "d['ok'] and d['outcome']=='passed' and d['exit_status']==0 and d['record'] and d['timeout_s']==600"
"$STRATA" --json verify-restore "$S2" -- sh -c 'echo out; exit 3' >"$T/out.json" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ]; then pass "verify-restore: a failed test exits 1"; else fail "verify-restore: a failed test exits 1" "exit $rc"; fi
schema "verify-restore: a failed test" verify-restore
field_is "verify-restore: failed, exit status 3, signal null" "not d['ok'] and d['outcome']=='failed' and d['exit_status']==3 and d['signal'] is None"
run "snapshots with restore tests" snapshots snapshots
field_is "snapshots: verified of each" "d[0]['verified']['ok'] is True and d[1]['verified']['ok'] is False and d[1]['verified']['exit_status']==3"
run_err "verify-restore: a program that cannot run" 4 verify-restore "$S1" -- /nonexistent/check
run "stats" stats stats
run "key list" key-list key list
printf 'second\n' >"$T/pw2"
run "key add" key-add key add --new-password-file "$T/pw2"
K2=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/out.json")
run "key passwd" key-add --password-file "$T/pw2" key passwd --new-password-file "$T/pw2"
K3=$(python3 -S -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/out.json")
run "key remove" key-remove key remove "$K3"
run "check" check check
run "check --read-data" check check --read-data
run "repair index --dry-run" repair-index repair index --dry-run
run "repair snapshots --dry-run" repair-snapshots repair snapshots --dry-run
run "forget --dry-run" forget forget --keep-last 1 --dry-run
field_is "forget: one kept with reasons, one to remove" "d['kept']==1 and len(d['removed'])==1 and d['groups'][0]['keep'][0]['reasons']"
run "forget --dry-run --prune" forget forget --keep-last 1 --dry-run --prune
field_is "forget --prune: a prune report" "d['prune']['dry_run'] is True"
run "prune --dry-run" prune prune --dry-run

# ---- damage: check and repair report it ----
cp -a "$R" "$T/dmg"
for pack in "$T"/dmg/data/*/*; do
	[ "$(stat -c %s "$pack")" -gt 100000 ] && printf 'XX' | dd of="$pack" bs=1 seek=50000 conv=notrunc status=none
done
DMG="-r $T/dmg --cache-dir $T/cache-dmg"
"$STRATA" $DMG --json check --read-data >"$T/out.json" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ]; then pass "check on damage exits 1"; else fail "check on damage exits 1" "exit $rc"; fi
schema "check: damage report" check
field_is "check: damaged chunks with their users" "not d['ok'] and d['damaged_chunks'] and d['damaged_chunks'][0]['users'] and d['damaged_snapshots'] and d['problems'] is not None"
cp -a "$T/dmg" "$T/dmg2"
run "repair index --read-data on damage" repair-index $DMG repair index --read-data --dry-run
field_is "repair index: changed packs listed" "d['changed_packs'] and d['lost_chunks']"
run "repair index --read-data" repair-index $DMG repair index --read-data
run "repair snapshots on damage" repair-snapshots $DMG repair snapshots --dry-run
field_is "repair snapshots: damage listed" "any(s['damage'] for s in d['snapshots'])"

# ---- forget by ID, then a real prune ----
run "forget ID" forget forget "$S1"
field_is "forget ID: removed lists it" "d['removed']==['$S1'] and d['groups']==[]"
run "prune" prune prune
run "forget --prune" forget forget --keep-last 5 --prune

# ---- replicate ----
run "replicate" replicate replicate --to "$T/replica"
field_is "replicate: one target, ok" "len(d['targets'])==1 and d['targets'][0]['ok'] and d['targets'][0]['error'] is None"
if "$STRATA" replicate --mirror --keep-last 1 --to "$T/mirror" >"$T/out" 2>"$T/err"; then
	run "config show at a mirror copy" config-show -r "$T/mirror" config show
	field_is "config show: the copy's stored selection" "d['replica']['selection']['keep_last']==1 and d['replica']['version']==1"
	echo replica-settings >>"$T/covered"   # checked inside config-show's replica field
else
	fail "replicate --mirror for config show" "$(head -c 300 "$T/err")"
fi

# ---- WAL ----
mkdir -p "$T/wal"
head -c 16777216 /dev/zero >"$T/wal/000000010000000000000001"
cp "$T/wal/000000010000000000000001" "$T/wal/000000010000000000000002"
run "wal-push" wal-push wal-push "$T/wal/000000010000000000000001"
run "wal-push again" wal-push wal-push "$T/wal/000000010000000000000002"
run "wal-list" wal-list wal-list
field_is "wal-list: timeline 1, two segments" "d[0]['timeline']==1 and d[0]['segments']==2"
run "wal-fetch" wal-fetch wal-fetch --prefetch 0 000000010000000000000001 "$T/wal-out"
run "wal-prune" wal-prune wal-prune --before 000000010000000000000002 --dry-run
mkdir -p "$T/pgbase"
printf 'START WAL LOCATION: 0/1000028 (file 000000010000000000000001)\nCHECKPOINT LOCATION: 0/1000060\n' >"$T/pgbase/backup_label"
echo 15 >"$T/pgbase/PG_VERSION"
(cd "$T/pgbase" && tar -cf - .) | "$STRATA" backup --stdin-tar --label kind=pg-base -q
run "wal-verify" wal-verify wal-verify
field_is "wal-verify: one base backup, complete to segment 2" "d['ok'] and d['backups'][0]['ranges'][0]['last']=='000000010000000000000002'"
run "restore --pg-recovery" restore restore latest --target "$T/pgr" --pg-recovery=xid=1234 --pg-restore-command 'strata-pg wal-fetch %f %p'
field_is "restore --pg-recovery: described" "d['pg_recovery']['target']=='xid' and d['pg_recovery']['target_value']=='1234' and d['pg_recovery']['restore_command']=='strata-pg wal-fetch %f %p'"
cp "$T/wal/000000010000000000000001" "$T/wal/000000010000000000000003"
run "wal-push --async" wal-push-async wal-push --async --idle 5 "$T/wal/000000010000000000000003"
mkdir -p "$T/wal-rec"
run "wal-fetch --async" wal-fetch-async wal-fetch --async --idle 5 --prefetch 1 000000010000000000000003 "$T/wal-rec/RECOVERYXLOG"
# Stop the archiver and the fetcher (SIGTERM: they release their locks)
# and wait for them, so the lock checks below see only their own locks.
for l in "$STRATA_CACHE_DIR"/walarch/*.lock "$STRATA_CACHE_DIR"/walfetch/*.lock; do
	[ -e "$l" ] || continue
	pid=$(cat "$l")
	kill "$pid" 2>/dev/null
	i=0
	while [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
done

# ---- locks: a backup waiting on its standard input holds one ----
mkfifo "$T/hold"
"$STRATA" backup --stdin --stdin-name held <"$T/hold" >/dev/null 2>&1 &
HOLD=$!
exec 7>"$T/hold"
i=0
while [ "$(ls "$R/locks" 2>/dev/null | wc -l)" -eq 0 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
run "unlock --dry-run" unlock unlock --dry-run
field_is "unlock: the live lock is kept and described" "d['kept']==1 and d['locks'][0]['action']=='kept' and d['locks'][0]['mode']=='shared' and d['locks'][0]['command']=='backup'"
run_err "locked: error document" 11 repair index
exec 7>&-
wait $HOLD

# ---- mount, where FUSE works ----
mkdir -p "$T/mnt"
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null 2>&1 && ! "$STRATA" -r "$T/none" mount "$T/mnt" 2>&1 | grep -q 'without FUSE'; then
	"$STRATA" --json mount "$T/mnt" >"$T/out.json" 2>"$T/err" &
	MPID=$!
	i=0
	while ! mountpoint -q "$T/mnt" && [ $i -lt 100 ] && kill -0 $MPID 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	if mountpoint -q "$T/mnt"; then
		fusermount3 -u "$T/mnt"
		wait $MPID
		schema "mount" mount
	else
		kill $MPID 2>/dev/null
		wait $MPID 2>/dev/null
		echo "SKIP mount: FUSE cannot mount here ($(head -c 200 "$T/err"))"
		echo mount >>"$T/skipped"
	fi
else
	echo "SKIP mount: strata built without FUSE, or no /dev/fuse"
	echo mount >>"$T/skipped"
fi

# ---- watch: its one line, once watching (root: fanotify filesystem marks) ----
if [ "$(id -u)" = 0 ]; then
	: >"$T/out.json"
	"$STRATA" --json watch "$S" >"$T/out.json" 2>"$T/err" &
	WPID=$!
	i=0
	while [ ! -s "$T/out.json" ] && [ $i -lt 100 ] && kill -0 $WPID 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	kill $WPID 2>/dev/null
	wait $WPID 2>/dev/null
	if [ -s "$T/out.json" ]; then
		schema "watch" watch
	else
		echo "SKIP watch: it could not start here ($(head -c 200 "$T/err"))"
		echo watch >>"$T/skipped"
	fi
else
	echo "SKIP watch: fanotify filesystem marks need root"
	echo watch >>"$T/skipped"
fi

run "bench-primitives" bench-primitives bench-primitives
run "version" version version

# ---- restore from archived packs (S3 with the cold-storage proxy) ----
(
	. "$(dirname "$0")/s3/s3lib.sh"
	# s3lib's exit trap would remove $T: this subshell only stops its servers.
	trap 's3_stop' EXIT
	s3_start && s3_proxy_start || exit 1
	"$STRATA" replicate --to "$PROXY_LOCATION" >/dev/null 2>"$T/err" || { echo "FAIL replicate to S3: $(head -c 300 "$T/err")"; exit 1; }
	s3_cold 600000
	"$STRATA" -r "$PROXY_LOCATION" --cache-dir "$T/cache-s3" --json restore "$S2" --target "$T/cold" >"$T/out.json" 2>"$T/err"
	echo "rc=$?" >"$T/cold.rc"
	s3_cold -1
) >"$T/s3.log" 2>&1
cat "$T/s3.log"
if grep -q '^SKIP' "$T/s3.log"; then
	echo restore-cold >>"$T/skipped"
elif [ "$(cat "$T/cold.rc" 2>/dev/null)" = rc=4 ]; then
	schema "restore from archived packs" restore-cold
	field_is "restore cold: status and count" "d['status']=='cold' and d['cold_packs']>0"
else
	fail "restore from archived packs exits 4" "$(cat "$T/cold.rc" 2>/dev/null) $(head -c 300 "$T/out.json") $(head -c 300 "$T/err")"
fi

# ---- tags and holds (last: they give the latest snapshot a new ID) ----
run "tag" tag tag latest --add json-tag
field_is "tag: one snapshot, changed" "len(d)==1 and d[0]['changed'] and d[0]['new']!=d[0]['old']"
run "hold" tag hold latest --reason json --until 2100-01-01
run "snapshots with a hold" snapshots snapshots
run "unhold" tag unhold latest

# ---- errors ----
run_err "error: no repository" 10 -r "$T/nope" snapshots
printf 'wrong\n' >"$T/badpw"
run_err "error: wrong password" 12 --password-file "$T/badpw" snapshots
run_err "error: snapshot not found" 14 ls ffffffff
run_err "error: path not found (dump)" 14 dump latest no/such/file
run_err "error: usage" 2 backup --bogus "$S"
run_err "error: damaged data" 1 -r "$T/dmg2" --cache-dir "$T/cache-dmg2" restore "$S1" --target "$T/r-dmg"
field_is "error codes are names" "d['error']['code'] in ('damaged','auth_failed')"

check_queued

# ---- every schema exercised, every command documented ----
# Prints "ok" or what is missing: a crash or empty output must not pass.
python3 -S - "$DOC" "$T/covered" "$T/skipped" >"$T/cov" <<'EOF' || echo "CRASH $(cat "$T/cov")" >"$T/cov"
import re, sys
doc = open(sys.argv[1], encoding="utf-8").read()
names = set(re.findall(r"<!-- schema (\S+) -->", doc))
shared = {"Summary", "Snapshot", "Node", "PruneReport"}
covered = set(open(sys.argv[2]).read().split())
skipped = set(open(sys.argv[3]).read().split())
missing = names - shared - covered - skipped
if not names:
    print("no schemas found in", sys.argv[1])
elif missing:
    print(" ".join(sorted(missing)))
else:
    print("ok")
EOF
skipped=$(sort -u "$T/skipped" | tr '\n' ' ' | sed 's/ $//')
if [ "$(cat "$T/cov")" != ok ]; then
	fail "schemas not exercised" "$(cat "$T/cov")"
elif [ -n "$skipped" ]; then
	pass "every schema in JSON.md was checked against real output, except skipped: $skipped"
else
	pass "every schema in JSON.md was checked against real output"
fi
"$STRATA" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR>1 && NF {print $1}' >"$T/cmds"
missing=""
for c in $(cat "$T/cmds"); do
	grep -q "^### $c\$" "$DOC" || missing="$missing $c"
done
if [ -s "$T/cmds" ] && [ -z "$missing" ]; then pass "every command has a section in JSON.md"; else fail "commands without a JSON.md section" "$missing"; fi

e2e_done
