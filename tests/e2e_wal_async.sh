# e2e_wal_async.sh — asynchronous WAL archiving and recovery with a real
# PostgreSQL server (issue 31).
#
# A server on 127.0.0.1 (as user postgres when run as root; small
# max_wal_size, default 16 MiB segments) archives with archive_command =
# 'strata wal-push --async %p'. A base backup goes in; a burst of inserts
# with WAL switches runs; in the middle of it the archiver is SIGKILLed
# (its PID is in its lock file) while PostgreSQL keeps archiving: the
# wal-push calls waiting on it fail, PostgreSQL retries, the retry starts a
# new archiver. Afterwards every segment up to the last switch is in the
# archive with no gap, and recovery of the base backup to a time T inside
# the burst (restore_command = 'strata wal-fetch --async %f %p') has
# exactly the rows committed at T; recovery to the end of the archive has
# them all. Without PostgreSQL binaries it prints "SKIP ..." and passes
# what ran. POSIX sh (bash only for `set -o pipefail`).
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

expect "strata runs" "$STRATA" version

pg_find e2e_wal_async

P="$T/pg"
mkdir -p "$P/bin" "$P/sock"
chmod 711 "$T"
cp "$STRATA" "$P/bin/strata"
printf 'pg async archive password\n' >"$P/pw"
chmod 600 "$P/pw"
cat >"$P/bin/strata-pg" <<EOF
#!/bin/sh
export STRATA_REPOSITORY="$P/repo" STRATA_PASSWORD_FILE="$P/pw" STRATA_CACHE_DIR="$P/cache" STRATA_TESTONLY_WEAK_KDF=1
# A window of 300 ms before each batch is committed, for the kill below.
export STRATA_TESTONLY_WALARCH_DELAY_MS=300
exec "$P/bin/strata" "\$@"
EOF
chmod 755 "$P/bin" "$P/bin/strata" "$P/bin/strata-pg"
[ -n "$AS" ] && chown -R postgres "$P"
SP="$P/bin/strata-pg"

PORT1=$(free_port)
PORT2=$(free_port)
PORT3=$(free_port)
RUNNING=""

kill_helpers() { pg_kill_helpers "$P"; }
stop_all() {
	for d in $RUNNING; do $AS "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1; done
	RUNNING=""
	kill_helpers
}
trap 'stop_all; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT

logs() {
	for l in "$P"/*.log "$P"/cache/walarch/*.log "$P"/cache/walfetch/*.log; do echo "--- $l"; tail -n 15 "$l"; done 2>/dev/null | head -c 4000
}

# wait_archived PORT SEGMENT — pg_stat_archiver's last_archived_wal reaches
# SEGMENT within 120 s.
wait_archived() {
	i=0
	while [ $i -lt 240 ]; do
		last=$(sql "$1" "select coalesce(last_archived_wal, '') from pg_stat_archiver")
		[ -n "$last" ] && [ "$(printf '%s\n%s\n' "$last" "$2" | sort | tail -n 1)" = "$last" ] && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

expect "strata init" $AS "$SP" init
pg_init "$P" "$PORT1"
# --idle 600: on a CPU-starved machine the burst can go a minute without a
# new segment, and an archiver leaving on the default 60 s idle timeout would
# leave nothing to kill below (the helpers are killed at exit).
cat >>"$P/data/postgresql.conf" <<EOF
archive_command = '$SP wal-push --async --idle 600 %p'
max_wal_size = 64MB
min_wal_size = 32MB
max_wal_senders = 4
fsync = off
EOF
if $AS "$PGBIN/pg_ctl" -D "$P/data" -l "$P/primary.log" -w -t 60 start >"$T/out" 2>&1; then
	RUNNING="$P/data"
	pass "primary starts with archive_command = strata wal-push --async"
else
	fail "primary starts" "$(cat "$T/out"; logs)"
	e2e_done
fi
sql "$PORT1" "create table t (id bigserial primary key, v text not null)" >/dev/null
sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 1000) g" >/dev/null
if $AS bash -c 'set -o pipefail; "$1/pg_basebackup" -h 127.0.0.1 -p "$2" -U postgres -D - -Ft -X none -c fast |
	"$3" backup --stdin-tar --stdin-name base.tar --label kind=pg-base -q' sh "$PGBIN" "$PORT1" "$SP" >"$T/out" 2>"$T/err"; then
	pass "pg_basebackup | strata backup --stdin-tar"
else
	fail "pg_basebackup | strata backup" "$(cat "$T/err"; logs)"
	e2e_done
fi
LOCKF=$(ls "$P"/cache/walarch/*.lock 2>/dev/null | head -n 1)
if [ -n "$LOCKF" ] && kill -0 "$(cat "$LOCKF")" 2>/dev/null; then
	pass "the first wal-push --async started an archiver (PID in $(basename "$LOCKF"))"
else
	fail "archiver started" "$(ls -l "$P/cache/walarch" 2>&1; logs)"
fi

# burst N — N rounds of 20,000 rows (about 3 MiB of WAL each) with a WAL
# switch after every other round.
burst() {
	k=0
	while [ $k -lt "$1" ]; do
		sql "$PORT1" "insert into t (v) select md5(g::text) || md5((g+1)::text) from generate_series(1, 20000) g" >/dev/null
		[ $((k % 2)) -eq 1 ] && sql "$PORT1" "select pg_switch_wal()" >/dev/null
		k=$((k + 1))
	done
}

burst 3
sleep 1
N_AT_T=$(sql "$PORT1" "select count(*) from t")
TARGET=$(sql "$PORT1" "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1
# The second half of the burst runs while the archiver is killed.
burst 5 &
BURST=$!
# Kill while an archive_command is waiting on the archiver: a wal-push
# --async client that is still running 0.1 s after it was seen is waiting
# for a batch (inside the archiver's 300 ms window), not answered from
# memory. pgrep only finds it; the archiver is killed by its own PID.
# On a loaded machine the client seen waiting may be answered between
# the look and the kill (or, on a quick one, the client was still starting
# up and found the new archiver itself); then no archive_command failed,
# and the kill is tried again on the next waiting client, with a new short
# burst when this one has ended (at most 5 kills). Each kill must leave a
# new archiver behind (checked below).
kills=0
while [ $kills -lt 5 ]; do
	i=0
	while [ $i -lt 200 ]; do
		c=$(pgrep -f "$P/bin/strata wal-push --async --idle 600 pg_wal/" | head -n 1)
		if [ -n "$c" ]; then
			sleep 0.1
			kill -0 "$c" 2>/dev/null && break
		else
			sleep 0.05
		fi
		i=$((i + 1))
	done
	OLD_PID=$(cat "$LOCKF" 2>/dev/null)
	[ -n "$OLD_PID" ] && kill -KILL "$OLD_PID" 2>/dev/null || break
	kills=$((kills + 1))
	sleep 1
	[ "$(sql "$PORT1" "select failed_count from pg_stat_archiver")" -ge 1 ] && break
	kill -0 $BURST 2>/dev/null || { burst 2 & BURST=$!; }
done
if [ $kills -ge 1 ]; then
	pass "archiver SIGKILLed in the middle of the burst"
else
	fail "kill the archiver" "no PID in $LOCKF"
fi
wait $BURST
burst 1
N_END=$(sql "$PORT1" "select count(*) from t")
SWITCHED=$(sql "$PORT1" "select pg_walfile_name(pg_switch_wal())")
if wait_archived "$PORT1" "$SWITCHED"; then
	pass "PostgreSQL archived everything through $SWITCHED after the kill"
else
	fail "archived after the kill" "wanted $SWITCHED; $(sql "$PORT1" "select * from pg_stat_archiver"); $(logs)"
fi
NEW_PID=$(cat "$LOCKF" 2>/dev/null)
if [ -n "$NEW_PID" ] && [ "$NEW_PID" != "$OLD_PID" ] && kill -0 "$NEW_PID" 2>/dev/null; then
	pass "a new archiver took over (PID $OLD_PID, then $NEW_PID)"
else
	fail "new archiver" "PID $OLD_PID then $NEW_PID"
fi
FAILED=$(sql "$PORT1" "select failed_count from pg_stat_archiver")
ARCHIVED=$(sql "$PORT1" "select archived_count from pg_stat_archiver")
if [ "$FAILED" -ge 1 ] && grep -q "the WAL archiver ended before" "$P/primary.log"; then
	pass "the kill failed a waiting archive_command and PostgreSQL retried it ($FAILED failed, $ARCHIVED archived)"
else
	fail "archive_command failed by the kill" "failed_count $FAILED; $(grep -i archive "$P/primary.log" | tail -n 5)"
fi
$AS "$PGBIN/pg_ctl" -D "$P/data" -m fast -w stop >/dev/null 2>&1
RUNNING=""

$AS "$SP" wal-list --json >"$T/list" 2>&1
if python3 - "$T/list" "$SWITCHED" <<'EOF'
import json, sys
tl = json.load(open(sys.argv[1]))
t = [x for x in tl if x["timeline"] == 1][0]
sys.exit(0 if t["missing"] == 0 and t["last"] >= sys.argv[2] and t["segments"] >= 7 else 1)
EOF
then
	pass "wal-list: timeline 1 through $SWITCHED, no segment missing"
else
	fail "wal-list after the kill" "$(cat "$T/list")"
fi

# recover DIR PORT [TARGET] — restore the base backup into DIR, recover
# through wal-fetch --async (to TARGET or the end of the archive), promote.
recover() {
	dir=$1; port=$2; tgt=${3:-}
	$AS "$SP" restore latest --label kind=pg-base --target "$dir" >"$T/out" 2>"$T/err" ||
		{ fail "restore the base backup into $dir" "$(cat "$T/err")"; return 1; }
	chmod 700 "$dir"
	[ -n "$AS" ] && chown postgres "$dir"
	rm -f "$dir/postmaster.pid"
	cat >>"$dir/postgresql.conf" <<EOF
port = $port
archive_mode = off
restore_command = '$SP wal-fetch --async %f %p'
recovery_target_action = 'promote'
EOF
	[ -n "$tgt" ] && echo "recovery_target_time = '$tgt'" >>"$dir/postgresql.conf"
	$AS touch "$dir/recovery.signal"
	if ! $AS "$PGBIN/pg_ctl" -D "$dir" -l "$dir.log" -w -t 120 start >"$T/out" 2>&1; then
		fail "recovering server in $dir starts" "$(cat "$T/out"; logs)"
		return 1
	fi
	RUNNING="$RUNNING $dir"
	i=0
	while [ $i -lt 240 ] && [ "$(sql "$port" "select pg_is_in_recovery()" 2>/dev/null)" != f ]; do
		sleep 0.5
		i=$((i + 1))
	done
	if [ $i -ge 240 ]; then
		fail "recovery in $dir ends" "$(logs)"
		return 1
	fi
	pass "recovery in $dir ends and the server is promoted"
	return 0
}

if recover "$P/pitr" "$PORT2" "$TARGET"; then
	got=$(sql "$PORT2" "select count(*) from t")
	if [ "$got" = "$N_AT_T" ]; then pass "PITR to T inside the burst: $got rows, as at T"; else fail "PITR to T" "$got rows, wanted $N_AT_T; $(logs)"; fi
	if grep -q "restored log file" "$P/pitr.log"; then pass "WAL came through wal-fetch --async"; else fail "WAL through wal-fetch --async" "$(logs)"; fi
fi
if recover "$P/full" "$PORT3"; then
	got=$(sql "$PORT3" "select count(*) from t")
	if [ "$got" = "$N_END" ]; then pass "recovered to the end of the archive: $got rows"; else fail "recovery to the end" "$got rows, wanted $N_END; $(logs)"; fi
fi
stop_all

e2e_done
