# e2e_fssnap_db.sh — backup --fs-snapshot btrfs of databases under load,
# their data on a btrfs of its own on a loop device (tests/btrfs_loop.sh):
# - RocksDB (rocksdb-tools): db_bench fills it with small write buffers
#   and target files, so it flushes and compacts all the time and deletes
#   tables a moment after writing them; every one of 10 snapshots taken
#   while it runs must restore to a database that passes
#   `ldb checkconsistency` and whose `ldb scan` returns keys. (The same
#   load under --freeze-pid and read live: e2e_freeze_rocksdb.sh.)
# - PostgreSQL: pgbench runs TPC-B transactions; each snapshot taken
#   during the load must restore to a cluster that starts (crash
#   recovery from the WAL in the snapshot), passes pg_amcheck, holds every
#   account, and whose balances add up to the history's deltas (each
#   pgbench transaction changes both at once).
# The node is never paused. Counts and times are printed as NOTE lines.
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/btrfs_loop.sh"
. "$(dirname "$0")/rocksdb_lib.sh"
. "$(dirname "$0")/pg_lib.sh"      # free_port, sql (its own PGBIN search: pgbench, pg_amcheck)

MNT="$T/mnt"
PIDS=""
RUNNING=""
PGBIN=""
stop_all() {
	for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for d in $RUNNING; do runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1; done
	PIDS=""
	RUNNING=""
}
trap 'stop_all; btrfs_loop_umount; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', wanted '$3'"; fi; }
state() { s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1); echo "${s:-gone}"; }

"$STRATA" -r "$R" init -q || { fail "init" "cannot create the repository"; e2e_done; }
if ! btrfs_loop_mount "$MNT" 2G; then
	echo "SKIP e2e_fssnap_db: $BTRFS_SKIP"
	e2e_done
fi
chmod 711 "$T"

# ---- RocksDB ----
if ! command -v db_bench >/dev/null 2>&1 || ! command -v ldb >/dev/null 2>&1; then
	fail "RocksDB" "db_bench and ldb are missing: apt-get install rocksdb-tools (make test-deps)"
else
	btrfs subvolume create "$MNT/rocks" >/dev/null
	DB="$MNT/rocks/db"
	rocksdb_start "$DB"
	PIDS="$DBP"
	N=10
	rocksdb_backups "$DB" $N 'round(d["summary"]["duration_s"] * 1000)' --fs-snapshot btrfs
	check "RocksDB: db_bench still writing after $N backups (never paused)" "$(state "$DBP" | tr S R)" R
	check "RocksDB: every backup saw new tables (the load is real)" "$ROCKS_CHANGED" "$N"
	check "RocksDB: no filesystem snapshot left" "$(ls -a "$MNT/rocks" | grep -c '^\.strata-snap-')" 0
	# db_bench stops before the restores: they read only the repository.
	stop_all
	rocksdb_restore_all "$DB" $N
	echo "NOTE RocksDB --fs-snapshot btrfs: $ROCKS_TAKEN snapshots taken under load, $ROCKS_CLEAN restored cleanly; backup ms:$ROCKS_NOTES"
	check "RocksDB: $N snapshots taken with --fs-snapshot btrfs" "$ROCKS_TAKEN" "$N"
	check "RocksDB: every one restores to a database that passes ldb checkconsistency and scans its keys" "$ROCKS_CLEAN" "$N"
	btrfs subvolume delete "$MNT/rocks" >/dev/null
fi

# ---- PostgreSQL ----
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
	if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ] && [ -x "$d/pgbench" ] && [ -x "$d/pg_amcheck" ]; then
		PGBIN=$d
		break
	fi
done
if [ -z "$PGBIN" ]; then
	echo "SKIP PostgreSQL: server binaries (initdb, pg_ctl, psql, pgbench, pg_amcheck) not found"
	e2e_done
fi
if ! id postgres >/dev/null 2>&1; then
	echo "SKIP PostgreSQL: no user postgres to run the server as"
	e2e_done
fi
AS="runuser -u postgres --"
btrfs subvolume create "$MNT/pg" >/dev/null
mkdir -p "$MNT/pg/sock"
chown -R postgres "$MNT/pg"
chmod 755 "$MNT"
PD="$MNT/pg/data"
PORT=$(free_port)
if ! $AS "$PGBIN/initdb" -D "$PD" -U postgres --auth=trust --no-sync >"$T/out" 2>&1; then
	fail "initdb on btrfs" "$(tail -n 5 "$T/out")"
	e2e_done
fi
cat >>"$PD/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$MNT/pg/sock'
EOF
if ! $AS "$PGBIN/pg_ctl" -D "$PD" -l "$MNT/pg/pg.log" -w -t 60 start >"$T/out" 2>&1; then
	fail "PostgreSQL starts on btrfs" "$(cat "$T/out"; tail -n 10 "$MNT/pg/pg.log")"
	e2e_done
fi
RUNNING="$PD"
$AS "$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -i -s 2 -q postgres >"$T/pgi.out" 2>&1 ||
	{ fail "pgbench -i" "$(tail -n 5 "$T/pgi.out")"; e2e_done; }
$AS "$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -c 4 -T 60 postgres >"$T/pgbench.out" 2>&1 &
PIDS="$!"
sleep 2
ids=""
for k in 1 2; do
	"$STRATA" -r "$R" --json backup "$PD" --fs-snapshot btrfs >"$T/pg$k.json" 2>"$T/pg$k.err"
	rc=$?
	check "PostgreSQL under pgbench: backup $k exit 0" "$rc" 0
	[ $rc -eq 0 ] && ids="$ids $(json "$T/pg$k.json" 'd["snapshot_id"]')"
	sleep 1
done
h=$(sql "$PORT" "select count(*) from pgbench_history")
[ "${h:-0}" -gt 0 ] && pass "pgbench committed transactions during the backups ($h)" || fail "pgbench ran" "history: $h"
stop_all
pg_ok=0; pg_n=0
RPORT=$(free_port)
for id in $ids; do
	pg_n=$((pg_n + 1))
	RD="$T/rpg$pg_n"
	"$STRATA" -r "$R" restore "$id" --target "$RD" -q || { fail "PostgreSQL restore $pg_n" "exit $?"; continue; }
	D="$RD$PD"
	chown -R postgres "$RD"
	chmod 700 "$D"
	# A copy of a running server keeps its postmaster.pid; PostgreSQL refuses
	# to start while any process holds that PID (PIDs are reused on a busy
	# machine), so the restore step removes it, as pg_basebackup leaves it out.
	rm -f "$D/postmaster.pid"
	sed -i "s|^port = .*|port = $RPORT|; s|^unix_socket_directories = .*|unix_socket_directories = '$T/rsock'|" "$D/postgresql.conf"
	mkdir -p "$T/rsock" && chown postgres "$T/rsock"
	if ! $AS "$PGBIN/pg_ctl" -D "$D" -l "$MNT/pg/rpg$pg_n.log" -w -t 60 start >"$T/out" 2>&1; then
		fail "PostgreSQL snapshot $pg_n starts" "$(cat "$T/out"; tail -n 10 "$MNT/pg/rpg$pg_n.log")"
		continue
	fi
	RUNNING="$D"
	grep -q "redo starts\|redo done\|database system was not properly shut down" "$MNT/pg/rpg$pg_n.log" &&
		recovered="crash recovery ran" || recovered="no crash recovery in the log"
	acc=$(sql "$RPORT" "select count(*) from pgbench_accounts")
	bal=$(sql "$RPORT" "select (select coalesce(sum(abalance),0) from pgbench_accounts) = (select coalesce(sum(delta),0) from pgbench_history)")
	hist=$(sql "$RPORT" "select count(*) from pgbench_history")
	$AS "$PGBIN/pg_amcheck" -h 127.0.0.1 -p "$RPORT" -U postgres --install-missing -d postgres >"$T/amcheck.out" 2>&1
	am=$?
	if [ "$acc" = 200000 ] && [ "$bal" = t ] && [ $am -eq 0 ]; then
		pg_ok=$((pg_ok + 1))
		echo "NOTE PostgreSQL snapshot $pg_n: starts ($recovered), $hist transactions, balances add up, pg_amcheck passes"
	else
		echo "NOTE PostgreSQL snapshot $pg_n: accounts $acc, balances add up: $bal, pg_amcheck exit $am: $(head -c 300 "$T/amcheck.out")"
	fi
	stop_all
done
echo "NOTE PostgreSQL --fs-snapshot btrfs under pgbench: $pg_n snapshots taken, $pg_ok restored cleanly"
check "PostgreSQL: 2 snapshots taken under pgbench" "$pg_n" 2
check "PostgreSQL: each restores, starts, passes pg_amcheck, balances add up" "$pg_ok" "$pg_n"

e2e_done
