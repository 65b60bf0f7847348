# e2e_postgres.sh — point-in-time recovery of a real PostgreSQL server.
#
# A server on 127.0.0.1 (run as user postgres when the test runs as root)
# archives its WAL with archive_command = 'strata wal-push %p'; a base
# backup goes in with `pg_basebackup -D - -Ft -X none | strata backup
# --stdin-tar --label kind=pg-base`; transactions run; the time T and the
# row count at T are noted; more transactions, pg_switch_wal(). Then the
# base backup is restored (`restore --at T --label kind=pg-base`) into a
# new data directory that recovers with restore_command = 'strata
# wal-fetch %f %p' and recovery_target_time = T: its row count must be the
# one at T. A second restore recovers to the end of the archive.
# Without PostgreSQL binaries it prints "SKIP ..." and passes what ran.
# POSIX sh (bash is used only for `set -o pipefail` around the pipe).
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

expect "strata runs" "$STRATA" version

# As root, the server and every strata call run as postgres; otherwise as
# the current user.
pg_find e2e_postgres

P="$T/pg"                    # everything the server's user touches
mkdir -p "$P/bin" "$P/sock"
chmod 711 "$T"
cp "$STRATA" "$P/bin/strata"
printf 'pg archive password\n' >"$P/pw"
chmod 600 "$P/pw"
cat >"$P/bin/strata-pg" <<EOF
#!/bin/sh
# The environment archive_command and restore_command need.
export STRATA_REPOSITORY="$P/repo" STRATA_PASSWORD_FILE="$P/pw" STRATA_CACHE_DIR="$P/cache"
exec "$P/bin/strata" "\$@"
EOF
chmod 755 "$P/bin" "$P/bin/strata" "$P/bin/strata-pg"
[ -n "$AS" ] && chown -R postgres "$P"
SP="$P/bin/strata-pg"

PORT1=$(free_port)
PORT2=$(free_port)
PORT3=$(free_port)
RUNNING=""

stop_all() {
	for d in $RUNNING; do $AS "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1; done
	RUNNING=""
	# A wal-fetch prefetch worker may still be writing to the spool.
	for l in "$P"/cache/*/wal-spool/lock; do [ -e "$l" ] && timeout 60 flock "$l" true; done
}
trap 'stop_all; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT

# sql PORT QUERY — one value, unaligned.

# logs — the end of every server log, for a failure message.
logs() {
	for l in "$P"/*.log; do echo "--- $l"; tail -n 15 "$l"; done 2>/dev/null | head -c 3000
}

# ---- the primary ----
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
sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 1000) g" >/dev/null

# Base backup through a pipe; pipefail so a failed pg_basebackup fails.
if $AS bash -c 'set -o pipefail; "$1/pg_basebackup" -h 127.0.0.1 -p "$2" -U postgres -D - -Ft -X none -c fast |
	"$3" backup --stdin-tar --stdin-name base.tar --label kind=pg-base --tag pg -q' sh "$PGBIN" "$PORT1" "$SP" >"$T/out" 2>"$T/err"; then
	pass "pg_basebackup | strata backup --stdin-tar"
else
	fail "pg_basebackup | strata backup --stdin-tar" "$(cat "$T/err"; logs)"
	e2e_done
fi
$AS "$SP" ls latest >"$T/out" 2>&1
if grep -q "backup_label" "$T/out" && grep -q "PG_VERSION" "$T/out" && grep -q "global/pg_control" "$T/out"; then
	pass "the base backup holds backup_label, PG_VERSION, global/pg_control"
else
	fail "base backup content" "$(head -c 400 "$T/out")"
fi

# Transactions, then T and the count at T, then more transactions.
for i in 1 2 3; do
	sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 500) g" >/dev/null
done
sleep 1
N_AT_T=$(sql "$PORT1" "select count(*) from t")
TARGET=$(sql "$PORT1" "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1
for i in 1 2 3 4; do
	sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 700) g" >/dev/null
done
sql "$PORT1" "delete from t where id % 10 = 0" >/dev/null
N_END=$(sql "$PORT1" "select count(*) from t")
SWITCHED=$(sql "$PORT1" "select pg_walfile_name(pg_switch_wal())")
i=0
while [ $i -lt 120 ]; do
	last=$(sql "$PORT1" "select coalesce(last_archived_wal, '') from pg_stat_archiver")
	[ -n "$last" ] && [ "$(printf '%s\n%s\n' "$last" "$SWITCHED" | sort | tail -n 1)" = "$last" ] && break
	sleep 0.5
	i=$((i + 1))
done
failed=$(sql "$PORT1" "select failed_count from pg_stat_archiver")
if [ $i -lt 120 ] && [ "$failed" = 0 ]; then
	pass "WAL archived through $SWITCHED, no archive_command failure"
else
	fail "WAL archived" "last archived '$last', wanted $SWITCHED; failed_count $failed; $(logs)"
fi
if [ "$N_AT_T" -gt 0 ] && [ "$N_END" != "$N_AT_T" ]; then pass "rows at T: $N_AT_T, at the end: $N_END"; else fail "row counts" "$N_AT_T / $N_END"; fi
$AS "$PGBIN/pg_ctl" -D "$P/data" -m fast -w stop >/dev/null 2>&1
RUNNING=""

# The archive may hold segments after the switched one (a checkpoint or
# the shutdown can fill and archive more), so timeline 1 must reach at
# least $SWITCHED, from no later than it, with nothing missing.
$AS "$SP" --json wal-list >"$T/out" 2>&1
tl1=$(python3 -c '
import json, sys
want = sys.argv[2]
for t in json.load(open(sys.argv[1])):
    if t["timeline"] == 1 and t["first"] and t["last"] and t["first"] <= want <= t["last"] and t["missing"] == 0:
        print("ok")
' "$T/out" "$SWITCHED" 2>/dev/null)
if [ -n "$SWITCHED" ] && [ "$tl1" = ok ]; then pass "wal-list shows timeline 1 up to $SWITCHED"; else fail "wal-list" "wanted timeline 1 through $SWITCHED with no gap: $(cat "$T/out")"; fi

# recover DIR PORT [TARGET] — restore the base backup chosen for TARGET
# into DIR, recover (to TARGET, or to the end of the archive), promote.
recover() {
	dir=$1; port=$2; tgt=${3:-}
	if [ -n "$tgt" ]; then
		$AS "$SP" restore --at "$tgt" --label kind=pg-base --target "$dir" >"$T/out" 2>"$T/err"
	else
		$AS "$SP" restore latest --label kind=pg-base --target "$dir" >"$T/out" 2>"$T/err"
	fi || { fail "restore the base backup into $dir" "$(cat "$T/err")"; return 1; }
	chmod 700 "$dir"
	[ -n "$AS" ] && chown postgres "$dir"
	rm -f "$dir/postmaster.pid"
	cat >>"$dir/postgresql.conf" <<EOF
port = $port
archive_mode = off
restore_command = '$SP wal-fetch %f %p'
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
	if [ "$got" = "$N_AT_T" ]; then pass "recovered to T = $TARGET: $got rows, as at T"; else fail "recovery to T" "$got rows, wanted $N_AT_T; $(logs)"; fi
	if grep -q "recovery stopping before commit" "$P/pitr.log"; then pass "the server stopped at the target time"; else fail "stopped at the target" "$(logs)"; fi
	if grep -q "restored log file" "$P/pitr.log"; then pass "WAL came through restore_command = strata wal-fetch"; else fail "WAL through wal-fetch" "$(logs)"; fi
fi
if recover "$P/full" "$PORT3"; then
	got=$(sql "$PORT3" "select count(*) from t")
	if [ -n "$got" ] && [ "$got" = "$N_END" ]; then pass "recovered to the end of the archive: $got rows"; else fail "recovery to the end" "$got rows, wanted $N_END; $(logs)"; fi
fi
stop_all

e2e_done
