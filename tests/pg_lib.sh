# pg_lib.sh — sourced after e2e_lib.sh by the e2e scripts that run a real
# PostgreSQL (e2e_postgres, e2e_wal_async, e2e_wal_verify, e2e_wal_client,
# e2e_fssnap_db): finding the server binaries, a first configuration, a
# free port, a query.
#
#   pg_find NAME     set PGBIN to the newest /usr/lib/postgresql/*/bin with
#                    initdb, pg_ctl, postgres, pg_basebackup and psql (else
#                    the directory of pg_ctl on PATH), and AS to "runuser -u
#                    postgres --" when running as root (the server refuses
#                    to run as root), PGUSER_OS to the user the server runs
#                    as; without them, print
#                    "SKIP NAME: ..." and end the script (e2e_done)
#   pg_init DIR PORT initdb into DIR/data (as $AS, trust, no sync) and the
#                    first postgresql.conf lines every script wants: listen
#                    on 127.0.0.1:PORT, socket in DIR/sock, wal_level
#                    replica, archive_mode on; prints PASS initdb, or FAIL
#                    initdb with initdb's last lines and ends the script
#                    (e2e_done). The caller appends its archive_command and
#                    the rest.
#   free_port        a TCP port free on 127.0.0.1 now
#   sql PORT QUERY   run QUERY as postgres on 127.0.0.1:PORT; unaligned,
#                    tuples only, stops at the first error
#   pg_kill_helpers DIR  end the WAL archiver and fetcher whose PIDs are in
#                    the lock files under DIR/cache/walarch and walfetch
#                    (wal-push/wal-fetch --async); a helper killed by a
#                    signal leaves its PID there, which names another
#                    process once PIDs wrap (tests side by side), so only
#                    a process whose command line names DIR/ is ended
pg_find() {
	PGBIN=
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] && [ -x "$d/pg_basebackup" ] && [ -x "$d/psql" ]; then
			PGBIN=$d
			break
		fi
	done
	if [ -z "$PGBIN" ] && command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		PGBIN=$(dirname "$(command -v pg_ctl)")
	fi
	if [ -z "$PGBIN" ] || ! command -v bash >/dev/null 2>&1; then
		echo "SKIP $1: PostgreSQL server binaries (initdb, pg_ctl, postgres, pg_basebackup, psql) not found"
		e2e_done
	fi
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "SKIP $1: running as root but there is no user postgres"
			e2e_done
		fi
		AS="runuser -u postgres --"
		PGUSER_OS=postgres
	else
		AS=
		PGUSER_OS=$(id -un)
	fi
}
pg_init() {
	if ! $AS "$PGBIN/initdb" -D "$1/data" -U postgres --auth=trust --no-sync >"$T/out" 2>&1; then
		fail "initdb" "$(tail -n 5 "$T/out")"
		e2e_done
	fi
	pass "initdb"
	cat >>"$1/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$1/sock'
wal_level = replica
archive_mode = on
EOF
}
free_port() {
	python3 -S -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
sql() {
	$AS "$PGBIN/psql" -X -q -A -t -h 127.0.0.1 -p "$1" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$2"
}
pg_kill_helpers() {
	for l in "$1"/cache/walarch/*.lock "$1"/cache/walfetch/*.lock; do
		[ -e "$l" ] || continue
		pid=$(cat "$l" 2>/dev/null)
		[ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$1/" && kill "$pid" 2>/dev/null
	done
}
