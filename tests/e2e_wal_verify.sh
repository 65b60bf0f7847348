# e2e_wal_verify.sh — `strata wal-verify` and `restore --pg-recovery` with
# a real PostgreSQL server (as e2e_postgres.sh: 127.0.0.1, run as user
# postgres when the test runs as root; without server binaries it prints
# SKIP and passes what ran).
#
# A primary archives through `strata wal-push`; a base backup goes in
# labelled kind=pg-base; a restore point rp1, more rows, WAL switches.
#  1. wal-verify on the healthy archive: exit 0 and the exact JSON, whose
#     expected values come from the backup_label (strata dump) and the
#     repository's own wal/ directory, not from wal-verify.
#  2. One archived segment's descriptor removed from the repository: exit 1,
#     the gap named exactly (first = last = that segment), the metrics.
#  3. A staging restore (`restore --pg-recovery=name=rp1`) started with
#     PostgreSQL: it reaches rp1 (row count, log), promotes, runs with
#     archive_mode off, and after it writes and switches WAL the
#     repository's WAL listing is unchanged (nothing archived into it).
#  4. The mistake step 3 prevents, made on purpose: a restored copy with
#     archiving switched back on promotes to timeline 2 and archives into
#     the same repository. wal-verify reports timeline 2, its switch point
#     (from the copy's own 00000002.history) and the fork: timeline 1's
#     segments from the switch segment on, exactly as listed in the
#     repository; exit 0 (a fork alone is no failure).
# Before the server starts: 1 MiB segments across the log-ID rollover (a gap
# named exactly), the refusals of --pg-recovery, its owners as root.
# POSIX sh (bash only for `set -o pipefail` around pg_basebackup's pipe).
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

# ---- without PostgreSQL: arguments and an archive with no base backup ----
expect "init (no server)" "$STRATA" -r "$R" init
expect_exit "wal-verify: unexpected argument is a usage error" 2 "$STRATA" -r "$R" wal-verify extra
expect_exit "wal-verify without any base backup: exit 1" 1 "$STRATA" -r "$R" wal-verify
if grep -q "no base backup: no snapshot is labelled kind=pg-base" "$T/out"; then pass "... saying so"; else fail "no base backup message" "$(cat "$T/out" "$T/err")"; fi

# 1 MiB segments (initdb --wal-segsize=1) across the log-ID rollover
# (...0000000000000FFF is followed by ...0000000100000000): the segment
# size is the archive's own, the gap named exactly.
R1="$T/repo1m"
expect "init (1 MiB segments)" "$STRATA" -r "$R1" init
mkdir -p "$T/w1" "$T/b1"
for s in 000000010000000000000FFE 000000010000000000000FFF 000000010000000100000000 000000010000000100000001; do
	head -c 1048576 /dev/zero >"$T/w1/$s"
	printf '%s' "$s" | dd of="$T/w1/$s" conv=notrunc status=none
	"$STRATA" -r "$R1" wal-push "$T/w1/$s" || fail "wal-push $s" "exit $?"
done
printf 'START WAL LOCATION: 0/FFE00028 (file 000000010000000000000FFE)\nCHECKPOINT LOCATION: 0/FFE00060\nSTART TIMELINE: 1\n' >"$T/b1/backup_label"
(cd "$T/b1" && tar -cf - .) | "$STRATA" -r "$R1" backup --stdin-tar --label kind=pg-base -q
"$STRATA" -r "$R1" --json wal-verify >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(json "$T/out" 'd["segment_size"], d["backups"][0]["ranges"][0]["first"], d["backups"][0]["ranges"][0]["last"], d["backups"][0]["ranges"][0]["segments"]')" = \
   "(1048576, '000000010000000000000FFE', '000000010000000100000001', 4)" ]; then
	pass "1 MiB segments: the range runs across the log-ID rollover, 4 segments, exit 0"
else
	fail "1 MiB segments" "exit $rc: $(head -c 800 "$T/out") $(cat "$T/err")"
fi
rm "$R1/wal/00000001/000000010000000100000000"
"$STRATA" -r "$R1" --json wal-verify >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && [ "$(json "$T/out" 'd["backups"][0]["ranges"][0]["gaps"]')" = \
   "[{'first': '000000010000000100000000', 'last': '000000010000000100000000', 'segments': 1}]" ]; then
	pass "1 MiB segments: the first segment of the next log ID missing: exit 1, named exactly"
else
	fail "1 MiB gap" "exit $rc: $(head -c 800 "$T/out") $(cat "$T/err")"
fi

# restore --pg-recovery refusals. errs NAME CODE PATTERN CMD...: exit CODE,
# stderr matching PATTERN.
errs() {
	n=$1; code=$2; pat=$3; shift 3
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc -eq "$code" ] && grep -q -- "$pat" "$T/err"; then pass "$n"; else fail "$n" "exit $rc (wanted $code): $(head -c 400 "$T/err")"; fi
}
mkdir -p "$T/notpg" "$T/evil"
echo data >"$T/notpg/file"
(cd "$T/notpg" && tar -cf - .) | "$STRATA" -r "$R" backup --stdin-tar --label kind=pg-base -q
errs "--pg-recovery with an unknown target: usage" 2 "the target is one of end, immediate, time=TIMESTAMP" \
	"$STRATA" -r "$R" restore latest --target "$T/x1" --pg-recovery=yesterday
errs "--pg-recovery=lsn= wants X/Y" 2 "an LSN is written X/Y" "$STRATA" -r "$R" restore latest --target "$T/x1" --pg-recovery=lsn=12
errs "--pg-recovery=xid= wants a number" 2 "a transaction ID is a decimal number" "$STRATA" -r "$R" restore latest --target "$T/x1" --pg-recovery=xid=abc
errs "--pg-recovery-action alone" 2 "go with --pg-recovery" "$STRATA" -r "$R" restore latest --target "$T/x1" --pg-recovery-action pause
errs "--pg-recovery with --tar" 2 "not with --tar" "$STRATA" -r "$R" restore latest --tar "$T/x.tar" --pg-recovery
errs "--pg-recovery with the password from STRATA_PASSWORD only: usage, nothing restored" 2 "the password does not come from a file" \
	env STRATA_PASSWORD_FILE= STRATA_PASSWORD="correct horse battery staple" "$STRATA" -r "$R" restore latest --target "$T/x2" --pg-recovery
[ ! -e "$T/x2" ] && pass "... no directory written" || fail "nothing restored" "$(ls -la "$T/x2")"
errs "--pg-recovery into a directory that is no data directory" 2 "has no PG_VERSION: --pg-recovery wants the data directory" \
	"$STRATA" -r "$R" restore latest --target "$T/x3" --pg-recovery
# A base backup whose postgresql.auto.conf is a symlink to a file elsewhere.
echo 15 >"$T/evil/PG_VERSION"
echo "keep me" >"$T/victim"
ln -s "$T/victim" "$T/evil/postgresql.auto.conf"
(cd "$T/evil" && tar -cf - .) | "$STRATA" -r "$R" backup --stdin-tar --label kind=pg-base -q
errs "--pg-recovery: a symlink at postgresql.auto.conf is refused" 2 "postgresql.auto.conf: it is a symlink" \
	"$STRATA" -r "$R" restore latest --target "$T/x4" --pg-recovery
if [ "$(cat "$T/victim")" = "keep me" ] && [ ! -e "$T/x4/recovery.signal" ]; then pass "... the file it points to is untouched"; else fail "symlink followed" "$(cat "$T/victim"; ls -la "$T/x4")"; fi
# As root, the files written belong to the data directory's owner, as
# restored (a server running as that user must read them).
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$T/owned"
	echo 15 >"$T/owned/PG_VERSION"
	echo "port = 5432" >"$T/owned/postgresql.auto.conf"
	chmod 640 "$T/owned/postgresql.auto.conf"
	(cd "$T/owned" && tar --owner=65534 --group=65534 --numeric-owner -cf - .) |
		"$STRATA" -r "$R" backup --stdin-tar --label kind=pg-base -q
	"$STRATA" -r "$R" restore latest --numeric-owner --target "$T/x5" --pg-recovery --pg-restore-command 'x %f %p' >"$T/out" 2>"$T/err"
	if [ "$(stat -c '%u %g %a' "$T/x5/postgresql.auto.conf")" = "65534 65534 640" ] &&
	   [ "$(stat -c '%u %g %a' "$T/x5/recovery.signal")" = "$(stat -c '%u %g' "$T/x5") 600" ] &&
	   grep -q "^port = 5432$" "$T/x5/postgresql.auto.conf" && grep -q "^restore_command = 'x %f %p'$" "$T/x5/postgresql.auto.conf"; then
		pass "--pg-recovery as root: postgresql.auto.conf keeps its owner and mode, recovery.signal is the directory owner's"
	else
		fail "--pg-recovery owners" "$(cat "$T/err"; ls -lan "$T/x5")"
	fi
fi

pg_find e2e_wal_verify

P="$T/pg"
mkdir -p "$P/bin" "$P/sock"
chmod 711 "$T"
cp "$STRATA" "$P/bin/strata"
printf 'pg archive password\n' >"$P/pw"
chmod 600 "$P/pw"
cat >"$P/bin/strata-pg" <<EOF
#!/bin/sh
export STRATA_REPOSITORY="$P/repo" STRATA_PASSWORD_FILE="$P/pw" STRATA_CACHE_DIR="$P/cache" STRATA_TESTONLY_WEAK_KDF=1
exec "$P/bin/strata" "\$@"
EOF
chmod 755 "$P/bin" "$P/bin/strata" "$P/bin/strata-pg"
[ -n "$AS" ] && chown -R postgres "$P"
SP="$P/bin/strata-pg"

PORT1=$(free_port)
PORT2=$(free_port)
PORT3=$(free_port)
RUNNING=""

stop_one() {
	$AS "$PGBIN/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null 2>&1
	RUNNING=$(echo "$RUNNING" | tr ' ' '\n' | grep -v -x -F "$1" | tr '\n' ' ')
}
stop_all() {
	for d in $RUNNING; do $AS "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1; done
	RUNNING=""
	for l in "$P"/cache/*/wal-spool/lock; do [ -e "$l" ] && timeout 60 flock "$l" true; done
}
trap 'stop_all; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT

logs() {
	for l in "$P"/*.log; do echo "--- $l"; tail -n 15 "$l"; done 2>/dev/null | head -c 3000
}
# archived PORT SEGMENT — wait until the server on PORT archived SEGMENT
# (or a later one) with no failure.
archived() {
	i=0
	while [ $i -lt 240 ]; do
		last=$(sql "$1" "select coalesce(last_archived_wal, '') from pg_stat_archiver")
		[ -n "$last" ] && [ "$(printf '%s\n%s\n' "$last" "$2" | sort | tail -n 1)" = "$last" ] && break
		sleep 0.25
		i=$((i + 1))
	done
	[ $i -lt 240 ] && [ "$(sql "$1" "select failed_count from pg_stat_archiver")" = 0 ]
}
# promoted PORT — wait until the server on PORT left recovery.
promoted() {
	i=0
	while [ $i -lt 240 ] && [ "$(sql "$1" "select pg_is_in_recovery()" 2>/dev/null)" != f ]; do
		sleep 0.5
		i=$((i + 1))
	done
	[ $i -lt 240 ]
}
# start DIR PORT — start a restored copy on PORT.
start() {
	chmod 700 "$1"
	printf "port = %s\nunix_socket_directories = '%s'\n" "$2" "$P/sock" >>"$1/postgresql.conf"
	[ -n "$AS" ] && chown -R postgres "$1"
	if $AS "$PGBIN/pg_ctl" -D "$1" -l "$1.log" -w -t 120 start >"$T/out" 2>&1; then
		RUNNING="$RUNNING $1"
		return 0
	fi
	fail "server in $1 starts" "$(cat "$T/out"; logs)"
	return 1
}
walfiles() { (cd "$P/repo/wal" && find . -type f | sort); }

# ---- the primary, a base backup, a restore point ----
expect "strata init" $AS "$SP" init
pg_init "$P" "$PORT1"
cat >>"$P/data/postgresql.conf" <<EOF
archive_command = '$SP wal-push %p'
max_wal_senders = 4
fsync = off
EOF
if $AS "$PGBIN/pg_ctl" -D "$P/data" -l "$P/primary.log" -w -t 60 start >"$T/out" 2>&1; then
	RUNNING="$P/data"
	pass "primary starts with archive_command = strata wal-push"
else
	fail "primary starts" "$(cat "$T/out"; logs)"
	e2e_done
fi
sql "$PORT1" "create table t (id bigserial primary key, v text not null)" >/dev/null
sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 2000) g" >/dev/null
if $AS bash -c 'set -o pipefail; "$1/pg_basebackup" -h 127.0.0.1 -p "$2" -U postgres -D - -Ft -X none -c fast |
	"$3" backup --stdin-tar --stdin-name base.tar --label kind=pg-base -q' sh "$PGBIN" "$PORT1" "$SP" >"$T/out" 2>"$T/err"; then
	pass "base backup labelled kind=pg-base"
else
	fail "base backup" "$(cat "$T/err"; logs)"
	e2e_done
fi
sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 1000) g" >/dev/null
sql "$PORT1" "select pg_switch_wal()" >/dev/null
sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 1000) g" >/dev/null
N_RP1=$(sql "$PORT1" "select count(*) from t")
sql "$PORT1" "select pg_create_restore_point('rp1')" >/dev/null
sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 500) g" >/dev/null
sql "$PORT1" "select pg_switch_wal()" >/dev/null
sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 500) g" >/dev/null
LAST1=$(sql "$PORT1" "select pg_walfile_name(pg_switch_wal())")
if archived "$PORT1" "$LAST1"; then pass "primary archived through $LAST1"; else fail "primary archiving" "$(logs)"; fi
# Stopped, so that nothing but the copies below can add to the archive.
stop_one "$P/data"

# ---- 1. a healthy archive: exit 0, the exact document ----
$AS "$SP" dump latest backup_label >"$T/label" 2>"$T/err" || fail "dump backup_label" "$(cat "$T/err")"
SNAP=$($AS "$SP" snapshots --json --label kind=pg-base | json_in 'd[0]["short_id"]')
walfiles >"$T/files1"
$AS "$SP" --json wal-verify >"$T/v1.json" 2>"$T/err"; rc=$?
# expected LABEL FILES [HISTORY] — the wal-verify document as the backup
# label, the repository's file list and the copy's history file make it.
cat >"$T/expected.py" <<'EOF'
import json, re, sys
label, files = open(sys.argv[1]).read(), open(sys.argv[2]).read().split()
hist = open(sys.argv[3]).read() if len(sys.argv) > 3 else ""
SEG = 16 << 20
def segno(n): return int(n[8:16], 16) * 256 + int(n[16:24], 16)
def name(tl, s): return "%08X%08X%08X" % (tl, s // 256, s % 256)
def lsn(v): return "%X/%X" % (v >> 32, v & 0xFFFFFFFF)
m = re.search(r"START WAL LOCATION: ([0-9A-F]+)/([0-9A-F]+) \(file ([0-9A-F]{24})\)", label)
start_lsn, start = int(m.group(1), 16) << 32 | int(m.group(2), 16), m.group(3)
m = re.search(r"CHECKPOINT LOCATION: ([0-9A-F]+)/([0-9A-F]+)", label)
ckpt = int(m.group(1), 16) << 32 | int(m.group(2), 16)
base = [f.split("/")[-1] for f in files]
segs = {}
for b in base:
    if re.fullmatch(r"[0-9A-F]{24}", b):
        segs.setdefault(int(b[:8], 16), []).append(segno(b))
parts = lambda tl: sum(1 for b in base if b.endswith(".partial") and int(b[:8], 16) == tl)
backs = lambda tl: sum(1 for b in base if b.endswith(".backup") and int(b[:8], 16) == tl)
sw = None
if hist:
    p, x = hist.split()[0:2]
    sw = int(x.split("/")[0], 16) << 32 | int(x.split("/")[1], 16)
tls, forks, ranges = [], [], []
for tl in sorted(segs):
    s = sorted(segs[tl])
    tls.append({"timeline": tl, "parent": 1 if tl == 2 else None, "switch_lsn": lsn(sw) if tl == 2 else None,
                "begin": name(2, sw // SEG) if tl == 2 else None, "history": tl == 2, "history_missing": False,
                "first": name(tl, s[0]), "last": name(tl, s[-1]), "segments": len(s), "partial": parts(tl),
                "backup": backs(tl)})
def rng(tl, lo, hi):
    have = set(segs.get(tl, []))
    gaps, run = [], None
    for x in range(lo, hi + 1):
        if x not in have:
            run = [x, x] if run is None else [run[0], x]
        elif run:
            gaps.append(run); run = None
    if run: gaps.append(run)
    return {"timeline": tl, "first": name(tl, lo), "last": name(tl, hi), "segments": hi - lo + 1,
            "missing": sum(b - a + 1 for a, b in gaps),
            "gaps": [{"first": name(tl, a), "last": name(tl, b), "segments": b - a + 1} for a, b in gaps]}
ranges.append(rng(1, segno(start), max(segs[1])))
if sw is not None:
    s1 = [x for x in sorted(segs[1]) if x >= sw // SEG]
    if s1:
        forks.append({"timeline": 1, "child": 2, "switch_lsn": lsn(sw), "first": name(1, s1[0]),
                      "last": name(1, s1[-1]), "segments": len(s1)})
    ranges.append(rng(2, sw // SEG, max(segs[2])))
missing = sum(r["missing"] for r in ranges)
print(json.dumps({"ok": missing == 0, "problems": int(missing > 0), "segment_size": SEG, "base_backups": 1,
    "base_backups_failing": int(missing > 0), "timelines": tls, "forks": forks,
    "backups": [{"ok": missing == 0, "timeline": 1, "start": start, "start_lsn": lsn(start_lsn),
                 "checkpoint_lsn": lsn(ckpt), "latest_timeline": 2 if sw else 1, "latest_follows": True,
                 "missing": missing, "ranges": ranges, "error": None}]}, sort_keys=True))
EOF
# same_doc NAME GOT EXPECTED — the document minus what the test cannot know
# (request counts, snapshot ID and time, checked separately) equals EXPECTED.
same_doc() {
	if python3 - "$2" "$3" "$SNAP" >"$T/diff" 2>&1 <<'EOF'
import json, sys
got, want, snap = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
del got["requests"]
for b in got["backups"]:
    assert b.pop("short_id") == snap and b.pop("snapshot_id").startswith(snap) and b.pop("time"), b
if got != want:
    sys.exit("got  %s\nwant %s" % (json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True)))
EOF
	then pass "$1"; else fail "$1" "$(head -c 3000 "$T/diff")"; fi
}
python3 "$T/expected.py" "$T/label" "$T/files1" >"$T/want1.json"
if [ $rc -eq 0 ]; then pass "wal-verify on the healthy archive: exit 0"; else fail "wal-verify healthy" "exit $rc: $(cat "$T/err" "$T/v1.json" | head -c 2000)"; fi
same_doc "wal-verify --json: the exact document (one timeline, start segment to $LAST1, no gap)" "$T/v1.json" "$T/want1.json"
expect "wal-verify (text)" $AS "$SP" wal-verify
if grep -q "^ok: 1 base backup" "$T/out" && grep -q "complete" "$T/out"; then pass "... says ok"; else fail "text ok" "$(cat "$T/out")"; fi

# ---- 2. a gap: one segment's descriptor removed from the repository ----
GAPSEG=$(python3 -c 'import sys; s=sys.argv[1]; n=int(s[16:],16)+1; print(s[:16] + "%08X" % n)' "$(sed -n 's/.*(file \([0-9A-F]*\)).*/\1/p' "$T/label")")
if [ -f "$P/repo/wal/00000001/$GAPSEG" ]; then
	mv "$P/repo/wal/00000001/$GAPSEG" "$T/gap-desc"
	walfiles >"$T/files2"
	$AS "$SP" --json wal-verify --metrics-file "$P/wv.prom" >"$T/v2.json" 2>"$T/err"; rc=$?
	python3 "$T/expected.py" "$T/label" "$T/files2" >"$T/want2.json"
	if [ $rc -eq 1 ]; then pass "a missing segment: exit 1"; else fail "gap exit" "exit $rc: $(head -c 600 "$T/v2.json")"; fi
	same_doc "... the exact document: gap $GAPSEG..$GAPSEG, 1 missing" "$T/v2.json" "$T/want2.json"
	if json "$T/v2.json" 'd["backups"][0]["ranges"][0]["gaps"]' | grep -q "'first': '$GAPSEG', 'last': '$GAPSEG', 'segments': 1"; then
		pass "... naming $GAPSEG as first and last missing segment"
	else
		fail "gap names" "$(json "$T/v2.json" 'd["backups"][0]["ranges"]')"
	fi
	if grep -q "^strata_wal_verify_success{job=\"wal-verify\"} 0$" "$P/wv.prom" &&
	   grep -q "^strata_wal_verify_backup_missing_segments{job=\"wal-verify\",snapshot=\"$SNAP\"} 1$" "$P/wv.prom" &&
	   grep -q "^strata_wal_verify_exit_code{job=\"wal-verify\"} 1$" "$P/wv.prom"; then
		pass "... and the metrics say so"
	else
		fail "gap metrics" "$(cat "$P/wv.prom")"
	fi
	$AS "$SP" wal-verify >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc -eq 1 ] && grep -q "1 MISSING: $GAPSEG$" "$T/out" && grep -q "WAL archive check failed: 1 problem" "$T/err"; then
		pass "... the text names it too"
	else
		fail "gap text" "exit $rc: $(cat "$T/out" "$T/err")"
	fi
	mv "$T/gap-desc" "$P/repo/wal/00000001/$GAPSEG"
	expect "the descriptor back: exit 0 again" $AS "$SP" wal-verify --metrics-file "$P/wv.prom"
	if grep -q "^strata_wal_verify_success{job=\"wal-verify\"} 1$" "$P/wv.prom"; then pass "... success metric 1"; else fail "success metric" "$(head -5 "$P/wv.prom")"; fi
else
	fail "gap injection" "no segment $GAPSEG in the archive: $(cat "$T/files1")"
fi

# ---- 3. a staging restore never archives into the source repository ----
if $AS "$SP" restore latest --label kind=pg-base --target "$P/staging" --pg-recovery=name=rp1 >"$T/out" 2>"$T/err" &&
   grep -q "^restore_command = '$P/bin/strata --repo $P/repo --password-file $P/pw --cache-dir $P/cache wal-fetch %f %p'$" "$P/staging/postgresql.auto.conf" &&
   grep -q "^archive_mode = 'off'$" "$P/staging/postgresql.auto.conf" &&
   grep -q "^recovery_target_name = 'rp1'$" "$P/staging/postgresql.auto.conf" && [ -f "$P/staging/recovery.signal" ]; then
	pass "restore --pg-recovery=name=rp1 writes recovery.signal, restore_command, the target, archive_mode off"
else
	fail "restore --pg-recovery" "$(cat "$T/err"; cat "$P/staging/postgresql.auto.conf" 2>&1 | tail -n 14)"
fi
walfiles >"$T/before-staging"
$AS "$SP" --json wal-list >"$T/list-before" 2>&1
if start "$P/staging" "$PORT2" && promoted "$PORT2"; then
	got=$(sql "$PORT2" "select count(*) from t")
	if [ "$got" = "$N_RP1" ]; then pass "staging copy stopped at rp1: $got rows"; else fail "staging target" "$got rows, wanted $N_RP1; $(logs)"; fi
	if grep -q 'recovery stopping at restore point "rp1"' "$P/staging.log"; then pass "... its log says so"; else fail "staging log" "$(tail -n 20 "$P/staging.log")"; fi
	if [ "$(sql "$PORT2" "show archive_mode")" = off ]; then pass "... with archive_mode off"; else fail "staging archive_mode" "$(sql "$PORT2" "show archive_mode")"; fi
	sql "$PORT2" "insert into t (v) select md5(g::text) from generate_series(1, 2000) g" >/dev/null
	sql "$PORT2" "select pg_switch_wal()" >/dev/null
	sql "$PORT2" "insert into t (v) select 'x' from generate_series(1, 10) g" >/dev/null
	sql "$PORT2" "select pg_switch_wal()" >/dev/null
	sql "$PORT2" "checkpoint" >/dev/null
	sleep 2
	if [ "$(sql "$PORT2" "select archived_count + failed_count from pg_stat_archiver")" = 0 ]; then pass "... which archived nothing"; else fail "staging archiver" "$(sql "$PORT2" "select * from pg_stat_archiver")"; fi
	stop_one "$P/staging"
	walfiles >"$T/after-staging"
	$AS "$SP" --json wal-list >"$T/list-after" 2>&1
	if cmp -s "$T/before-staging" "$T/after-staging" && cmp -s "$T/list-before" "$T/list-after"; then
		pass "the repository's WAL listing is unchanged after the staging copy wrote and switched WAL"
	else
		fail "staging archived into the repository" "$(diff "$T/before-staging" "$T/after-staging"; diff "$T/list-before" "$T/list-after")"
	fi
fi

# ---- 4. a fork: a restored copy archiving into this repository ----
$AS "$SP" restore latest --label kind=pg-base --target "$P/fork" --pg-recovery=name=rp1 >"$T/out" 2>"$T/err" ||
	fail "restore the fork copy" "$(cat "$T/err")"
# The mistake --pg-recovery prevents, made on purpose after its block.
printf "archive_mode = on\narchive_command = '%s wal-push %%p'\n" "$SP" >>"$P/fork/postgresql.auto.conf"
if start "$P/fork" "$PORT3" && promoted "$PORT3"; then
	sql "$PORT3" "insert into t (v) select md5(g::text) from generate_series(1, 1000) g" >/dev/null
	LAST2=$(sql "$PORT3" "select pg_walfile_name(pg_switch_wal())")
	case $LAST2 in 00000002*) pass "the copy promoted to timeline 2 ($LAST2)" ;; *) fail "fork timeline" "$LAST2" ;; esac
	if archived "$PORT3" "$LAST2"; then pass "... and archived into the repository through $LAST2"; else fail "fork archiving" "$(logs)"; fi
	cp "$P/fork/pg_wal/00000002.history" "$T/hist2"
	stop_one "$P/fork"
	walfiles >"$T/files4"
	$AS "$SP" --json wal-verify >"$T/v4.json" 2>"$T/err"; rc=$?
	python3 "$T/expected.py" "$T/label" "$T/files4" "$T/hist2" >"$T/want4.json"
	if [ $rc -eq 0 ]; then pass "wal-verify with a fork: exit 0"; else fail "fork exit" "exit $rc: $(cat "$T/err"; head -c 1500 "$T/v4.json")"; fi
	same_doc "... the exact document: timeline 2 from its history file, the fork, both ranges" "$T/v4.json" "$T/want4.json"
	SW=$(cut -f2 "$T/hist2" | head -n 1)
	if [ "$(json "$T/v4.json" 'len(d["forks"])')" = 1 ] && [ "$(json "$T/v4.json" 'd["forks"][0]["switch_lsn"]')" = "$SW" ] &&
	   [ "$(json "$T/v4.json" 'd["forks"][0]["segments"]')" -ge 2 ]; then
		pass "... one fork at $SW, timeline 1 going on for $(json "$T/v4.json" 'd["forks"][0]["segments"]') segments"
	else
		fail "fork report" "$(json "$T/v4.json" 'd["forks"]')"
	fi
	$AS "$SP" wal-verify >"$T/out" 2>&1
	if grep -q "^fork: timeline 1 went on after timeline 2 branched off at $SW" "$T/out" &&
	   grep -q "^timeline 2: branched from timeline 1 at $SW" "$T/out"; then
		pass "... and the text names the switch point"
	else
		fail "fork text" "$(cat "$T/out")"
	fi
fi
stop_all

e2e_done
