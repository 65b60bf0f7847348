# e2e_wal_client.sh — strata-wal-fetch, the small (libc and libsodium) restore_command
# client of the WAL fetcher (issue 31), with a real PostgreSQL server.
#
# The client is installed beside a `strata` that logs each start and then
# runs the real one: a call the client serves itself (socket, rename)
# leaves no line; one it hands to `strata wal-fetch --async` does. A server
# on 127.0.0.1 archives a few segments (wal-push --async), a base backup is
# recovered to the end of the archive with restore_command =
# 'strata-wal-fetch %f %p'; the recovered server has every row, and only
# the first call of the recovery (no fetcher yet) went to strata. Then,
# with the fetcher still up: a missing segment and a missing history file
# give strata's exit status 1 and its exact message without starting
# strata; an archived history file is renamed to DEST byte for byte; an
# option, no fetcher, and no STRATA_REPOSITORY go to strata, with its exit
# codes and messages. Without PostgreSQL binaries it prints "SKIP ...".
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

CLIENT=$(dirname "$STRATA")/strata-wal-fetch
expect "strata runs" "$STRATA" version
if [ ! -x "$CLIENT" ]; then
	fail "strata-wal-fetch is built beside strata" "$CLIENT missing"
	e2e_done
fi
if ldd "$CLIENT" | grep -v -e 'libc\.so' -e 'libsodium\.so' -e 'linux-vdso' \
	-e 'libasan\.so' -e 'libubsan\.so' -e 'libstdc++\.so' -e 'libgcc_s\.so' -e 'libm\.so' -e 'ld-linux' | grep -q '=>'; then
	fail "strata-wal-fetch links libc and libsodium only (and the sanitizers' runtime in their build)" "$(ldd "$CLIENT")"
else
	pass "strata-wal-fetch links libc and libsodium only (and the sanitizers' runtime in their build)"
fi

pg_find e2e_wal_client

P="$T/pg"
mkdir -p "$P/bin" "$P/sock"
chmod 711 "$T"
cp "$STRATA" "$P/bin/strata.real"
cp "$CLIENT" "$P/bin/strata-wal-fetch"
printf 'pg client password\n' >"$P/pw"
chmod 600 "$P/pw"
: >"$P/started"
# The strata beside the client: one line per start, then the real program.
cat >"$P/bin/strata" <<EOF
#!/bin/sh
echo "\$*" >>"$P/started"
exec "$P/bin/strata.real" "\$@"
EOF
ENVS="STRATA_REPOSITORY=$P/repo STRATA_PASSWORD_FILE=$P/pw STRATA_CACHE_DIR=$P/cache STRATA_TESTONLY_WEAK_KDF=1"
cat >"$P/bin/strata-pg" <<EOF
#!/bin/sh
export $ENVS
exec "$P/bin/strata.real" "\$@"
EOF
cat >"$P/bin/strata-pg-fetch" <<EOF
#!/bin/sh
export $ENVS
exec "$P/bin/strata-wal-fetch" "\$@"
EOF
chmod 755 "$P/bin" "$P/bin/"*
chmod 666 "$P/started"
[ -n "$AS" ] && chown -R postgres "$P"
SP="$P/bin/strata-pg"
SF="$P/bin/strata-pg-fetch"

PORT1=$(free_port)
PORT2=$(free_port)
RUNNING=""
kill_helpers() { pg_kill_helpers "$P"; }
stop_all() {
	for d in $RUNNING; do $AS "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1; done
	RUNNING=""
	kill_helpers
}
trap 'stop_all; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
logs() {
	for l in "$P"/*.log "$P"/cache/walfetch/*.log; do echo "--- $l"; tail -n 15 "$l"; done 2>/dev/null | head -c 4000
}
starts() { grep -c 'wal-fetch' "$P/started"; }

expect "strata init" $AS "$SP" init
pg_init "$P" "$PORT1"
cat >>"$P/data/postgresql.conf" <<EOF
archive_command = '$SP wal-push --async %p'
max_wal_senders = 4
fsync = off
EOF
if ! $AS "$PGBIN/pg_ctl" -D "$P/data" -l "$P/primary.log" -w -t 60 start >"$T/out" 2>&1; then
	fail "primary starts" "$(cat "$T/out"; logs)"
	e2e_done
fi
RUNNING="$P/data"
sql "$PORT1" "create table t (id bigserial primary key, v text not null)" >/dev/null
if ! $AS bash -c 'set -o pipefail; "$1/pg_basebackup" -h 127.0.0.1 -p "$2" -U postgres -D - -Ft -X none -c fast |
	"$3" backup --stdin-tar --stdin-name base.tar --label kind=pg-base -q' sh "$PGBIN" "$PORT1" "$SP" >"$T/out" 2>"$T/err"; then
	fail "pg_basebackup | strata backup" "$(cat "$T/err"; logs)"
	e2e_done
fi
k=0
while [ $k -lt 4 ]; do
	sql "$PORT1" "insert into t (v) select md5(g::text) from generate_series(1, 20000) g" >/dev/null
	sql "$PORT1" "select pg_switch_wal()" >/dev/null
	k=$((k + 1))
done
N_END=$(sql "$PORT1" "select count(*) from t")
LAST=$(sql "$PORT1" "select pg_walfile_name(pg_switch_wal())")
i=0
while [ $i -lt 240 ]; do
	got=$(sql "$PORT1" "select coalesce(last_archived_wal, '') from pg_stat_archiver")
	[ -n "$got" ] && [ "$(printf '%s\n%s\n' "$got" "$LAST" | sort | tail -n 1)" = "$got" ] && break
	sleep 0.5
	i=$((i + 1))
done
[ $i -lt 240 ] && pass "primary archived through $LAST" || fail "archived" "wanted $LAST; $(logs)"
$AS "$PGBIN/pg_ctl" -D "$P/data" -m fast -w stop >/dev/null 2>&1
RUNNING=""
kill_helpers

# Recovery to the end of the archive through the client.
D="$P/rec"
if $AS "$SP" restore latest --label kind=pg-base --target "$D" >"$T/out" 2>"$T/err"; then
	pass "restore the base backup"
else
	fail "restore the base backup" "$(cat "$T/err")"
	e2e_done
fi
chmod 700 "$D"
[ -n "$AS" ] && chown postgres "$D"
rm -f "$D/postmaster.pid"
cat >>"$D/postgresql.conf" <<EOF
port = $PORT2
archive_mode = off
restore_command = '$SF %f %p'
recovery_target_action = 'promote'
EOF
$AS touch "$D/recovery.signal"
if ! $AS "$PGBIN/pg_ctl" -D "$D" -l "$P/rec.log" -w -t 120 start >"$T/out" 2>&1; then
	fail "recovering server starts" "$(cat "$T/out"; logs)"
	e2e_done
fi
RUNNING="$D"
i=0
while [ $i -lt 240 ] && [ "$(sql "$PORT2" "select pg_is_in_recovery()" 2>/dev/null)" != f ]; do
	sleep 0.5
	i=$((i + 1))
done
[ $i -lt 240 ] && pass "recovery through strata-wal-fetch ends, the server is promoted" || fail "recovery ends" "$(logs)"
got=$(sql "$PORT2" "select count(*) from t")
[ "$got" = "$N_END" ] && pass "recovered all $got rows" || fail "rows after recovery" "$got, wanted $N_END"
RESTORED=$(grep -c 'restored log file "0000000100' "$P/rec.log")
if [ "$RESTORED" -ge 5 ] && [ "$(starts)" -eq 1 ]; then
	pass "$RESTORED segments restored; strata started once (the first call, which started the fetcher)"
else
	fail "client served the recovery" "$RESTORED segments restored, strata started $(starts) times: $(cat "$P/started")"
fi
$AS "$PGBIN/pg_ctl" -D "$D" -m fast -w stop >/dev/null 2>&1
RUNNING=""

# The fetcher is still up (60 s idle): calls by hand, in pg_wal.
W="$D/pg_wal"
MISSING=000000010000000100000000
n0=$(starts)
$AS "$SP" wal-fetch --async "$MISSING" "$W/RECOVERYXLOG" >"$T/want.out" 2>"$T/want.err"
want=$?
$AS "$SF" "$MISSING" "$W/RECOVERYXLOG" >"$T/got.out" 2>"$T/got.err"
rc=$?
if [ $rc -eq 1 ] && [ $want -eq 1 ] && [ "$(cat "$T/got.err")" = "strata: WAL file $MISSING is not in the archive" ] &&
	cmp -s "$T/got.err" "$T/want.err" && [ ! -s "$T/got.out" ] && [ ! -e "$W/RECOVERYXLOG" ] && [ "$(starts)" -eq "$n0" ]; then
	pass "missing segment: exit 1 and strata's exact message, without starting strata"
else
	fail "missing segment" "exit $rc (strata $want): $(cat "$T/got.err") / $(cat "$T/want.err"); starts $(starts)"
fi
$AS "$SF" 00000009.history "$W/RECOVERYHISTORY" >"$T/got.out" 2>"$T/got.err"
rc=$?
if [ $rc -eq 1 ] && [ "$(cat "$T/got.err")" = "strata: WAL file 00000009.history is not in the archive" ] &&
	[ ! -e "$W/RECOVERYHISTORY" ] && [ "$(starts)" -eq "$n0" ]; then
	pass "missing history file: exit 1 and the exact message"
else
	fail "missing history file" "exit $rc: $(cat "$T/got.err")"
fi
printf '1\t0/5000000\tno recovery target specified\n' >"$T/00000002.history"
chmod 644 "$T/00000002.history"
expect "wal-push a history file" $AS "$SP" wal-push "$T/00000002.history"
$AS "$SF" 00000002.history "$W/RECOVERYHISTORY" >"$T/got.out" 2>"$T/got.err"
rc=$?
if [ $rc -eq 0 ] && cmp -s "$W/RECOVERYHISTORY" "$T/00000002.history" && [ ! -s "$T/got.err" ] && [ "$(starts)" -eq "$n0" ]; then
	pass "history file: exit 0, DEST byte for byte, without starting strata"
else
	fail "history file" "exit $rc: $(cat "$T/got.err"); starts $(starts)"
fi
$AS "$SF" --prefetch 2 "$MISSING" "$W/RECOVERYXLOG" >"$T/got.out" 2>"$T/got.err"
rc=$?
if [ $rc -eq 1 ] && grep -qx "wal-fetch --async --prefetch 2 $MISSING $W/RECOVERYXLOG" "$P/started"; then
	pass "an option: strata wal-fetch --async runs with the same arguments (exit 1)"
else
	fail "option passed to strata" "exit $rc; $(tail -n 2 "$P/started")"
fi
$AS "$SF" "$MISSING" >"$T/got.out" 2>"$T/got.err"
rc=$?
if [ $rc -eq 128 ] && grep -q "wants NAME and DEST" "$T/got.err"; then
	pass "one argument: strata's usage error, exit 128"
else
	fail "one argument" "exit $rc: $(cat "$T/got.err")"
fi
$AS env -u STRATA_REPOSITORY STRATA_CACHE_DIR="$P/cache" "$P/bin/strata-wal-fetch" "$MISSING" "$W/RECOVERYXLOG" \
	>"$T/got.out" 2>"$T/got.err"
rc=$?
if [ $rc -eq 128 ] && grep -q "no repository given" "$T/got.err"; then
	pass "no STRATA_REPOSITORY: strata's message, exit 128"
else
	fail "no repository" "exit $rc: $(cat "$T/got.err")"
fi
kill_helpers
i=0
while [ $i -lt 100 ] && ls "$P"/cache/walfetch/*.sock >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
n0=$(starts)
$AS "$SF" 00000002.history "$W/RECOVERYHISTORY" >"$T/got.out" 2>"$T/got.err"
rc=$?
if [ $rc -eq 0 ] && cmp -s "$W/RECOVERYHISTORY" "$T/00000002.history" && [ "$(starts)" -eq $((n0 + 1)) ]; then
	pass "no fetcher: strata starts one and the file arrives"
else
	fail "no fetcher" "exit $rc: $(cat "$T/got.err"); starts $(starts)"
fi
stop_all

e2e_done
