# e2e_runbook.sh — tools/cli/doc/runbook.md, the disaster recovery runbook, run as written.
# Each procedure's block is cut out of runbook.md (the ```sh block after its
# <!-- runbook:NAME --> marker); the values of the variables at its top are
# replaced by this test's (every variable must be one the test expects, and
# no system path may remain), and the block runs in bash with set -e -o
# pipefail, `strata` and a `systemctl` stand-in first in PATH. Then the
# result is compared with what was backed up:
#   node-lost       a node's chain data directory from a local repository:
#                   the newest snapshot that passed a restore test
#   data-corrupted  the last good snapshot by --at, and by --at-height
#   rollback-in-place  the same in place: restore --delta --delete into /
#   site-lost       from the S3 copy `replicate` made, with an empty cache
#                   (the restore-test records replicated with it)
#                   (tests/s3/s3lib.sh's server; skipped without node/npm)
#   pitr            a real PostgreSQL server (as in e2e_postgres.sh) back to
#                   a point in time; skipped without PostgreSQL or root
# So the README text and what strata does cannot drift apart. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

TOP=$(cd "$(dirname "$0")/.." && pwd)
README="$TOP/tools/cli/doc/runbook.md"
GEN="$(dirname "$STRATA")/tools/dev/gen_chain_data"
PGRUN=""          # PostgreSQL data directories to stop at exit
PGBIN=""
AS=""

stop_pg() {
	for d in $PGRUN; do $AS "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1; done
	PGRUN=""
}

# ---- the test's stand-ins: strata and systemctl ----
mkdir -p "$T/bin"
ln -s "$STRATA" "$T/bin/strata"
cat >"$T/bin/systemctl" <<EOF
#!/bin/sh
# systemctl for the runbook test: logs every call; starts and stops the
# test's PostgreSQL server (settings in $T/pg.env) for "postgresql".
echo "\$*" >>"$T/systemctl.log"
[ -f "$T/pg.env" ] && . "$T/pg.env"
case "\$1 \$2" in
"stop postgresql")  [ -f "\$PGDATA/postmaster.pid" ] && \$AS "\$PGBIN/pg_ctl" -D "\$PGDATA" -m fast -w stop >/dev/null ;;
"start postgresql") \$AS "\$PGBIN/pg_ctl" -D "\$PGDATA" -l "\$PGDATA.log" -w -t 120 start >/dev/null ;;
esac
exit 0
EOF
chmod 755 "$T/bin/systemctl"

# extract.py README NAME VAR=VALUE... — print block NAME with each VAR's
# assignment line replaced; fail when a block assigns a variable not given,
# a given one is not in the block, or a system path is left.
cat >"$T/extract.py" <<'EOF'
import re, shlex, sys
text = open(sys.argv[1], encoding="utf-8").read()
name, subst = sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
m = re.search(r"<!-- runbook:%s -->\n```sh\n(.*?)\n```\n" % re.escape(name), text, re.S)
if not m:
    sys.exit("runbook.md has no ```sh block after <!-- runbook:%s -->" % name)
out, seen = [], set()
for line in m.group(1).split("\n"):
    a = re.match(r"(export )?([A-Z_][A-Z0-9_]*)=", line)
    if a and not line.startswith(" "):
        var = a.group(2)
        if var not in subst:
            sys.exit("block %s sets %s, which the test does not know: %s" % (name, var, line))
        seen.add(var)
        line = "%s%s=%s" % (a.group(1) or "", var, shlex.quote(subst[var]))
    out.append(line)
if set(subst) - seen:
    sys.exit("block %s no longer sets %s" % (name, ", ".join(sorted(set(subst) - seen))))
for line in out:
    code = line.split("#", 1)[0]
    if re.search(r"(^|[\s\"'=])/(srv|var|etc|usr|opt|home)/", code):
        sys.exit("block %s keeps a system path outside its variables: %s" % (name, line))
print("\n".join(out))
EOF

# block NAME VAR=VALUE... — extract block NAME into $T/NAME.sh.
block() {
	n=$1; shift
	if python3 -S "$T/extract.py" "$README" "$n" "$@" >"$T/$n.sh" 2>"$T/$n.extract"; then
		pass "runbook $n: extracted from runbook.md"
		return 0
	fi
	fail "runbook $n: extracted from runbook.md" "$(cat "$T/$n.extract")"
	return 1
}

# runblock NAME SCRIPT [ENV...] — run SCRIPT as the runbook says (bash,
# set -e -o pipefail); it must exit 0.
runblock() {
	n=$1; script=$2; shift 2
	if env PATH="$T/bin:$PATH" "$@" bash -e -o pipefail "$script" >"$T/$n.log" 2>&1; then
		pass "runbook $n: runs to the end"
		return 0
	fi
	fail "runbook $n: runs to the end" "$(tail -n 8 "$T/$n.log")"
	return 1
}

# same NAME EXPECTED ACTUAL — identical trees.
same() {
	if diff -r --no-dereference "$2" "$3" >"$T/diff" 2>&1; then pass "$1"; else fail "$1" "$(head -c 400 "$T/diff")"; fi
}

# ---- the site before the disaster: node1's chain data, snapshots with
# heights at known times, application exports ----
NODE="$T/node1/var/lib/node"        # node1's data directory
mkdir -p "$(dirname "$NODE")"
newdata() {   # newdata DIR: chain-like data, or plain files without the generator
	if [ -x "$GEN" ]; then "$GEN" init "$1" 12M >/dev/null; else mkdir -p "$1/blocks" && head -c 4000000 /dev/urandom >"$1/blocks/blk0.dat"; fi
}
advance() {
	if [ -x "$GEN" ]; then "$GEN" advance "$1" "$2" >/dev/null; else head -c 300000 /dev/urandom >>"$1/blocks/blk0.dat"; fi
}
height() {
	if [ -x "$GEN" ]; then "$GEN" info "$1" | sed -n 's/^height \([0-9]*\).*/\1/p'; else echo "$2"; fi
}
snap() {   # snap TIME HEIGHT: a chain snapshot of node1
	"$STRATA" -r "$R" backup -q --host node1 --tag chain --label height="$2" --time "$1" "$NODE"
}
"$STRATA" -r "$R" init -q || { fail init "cannot init"; e2e_done; }
newdata "$NODE"
H1=$(height "$NODE" 10)
snap 2024-05-01T10:00:00Z "$H1" && cp -a "$NODE" "$T/expect1"
advance "$NODE" 3
H2=$(height "$NODE" 13)
snap 2024-05-01T11:00:00Z "$H2" && cp -a "$NODE" "$T/expect2"
"$STRATA" -r "$R" backup -q --host node1 --tag export --stdin-from-command --stdin-name state.json -- \
	printf '{"treasury": 1000}\n'
if [ "$H2" -gt "$H1" ]; then pass "setup: two chain snapshots, heights $H1 and $H2"; else fail "setup" "heights $H1 $H2"; fi
# Restore tests: the first snapshot passed, the newer one failed, so
# "the newest snapshot that passed" is the first.
if "$STRATA" -r "$R" verify-restore -q --label height="$H1" -- sh -c 'test -d "$STRATA_RESTORE_PATH"' &&
   ! "$STRATA" -r "$R" verify-restore -q --label height="$H2" -- false 2>/dev/null; then
	pass "setup: the first snapshot passed a restore test, the second failed it"
else
	fail "setup: restore tests" "verify-restore"
fi

# ---- 1. one node lost: a new machine, nothing of node1 left ----
rm -rf "$T/node1"
mkdir -p "$(dirname "$NODE")"
if block node-lost STRATA_REPOSITORY="$R" STRATA_PASSWORD_FILE="$T/pw" NODE_HOST=node1 \
	NODE_DATA="$NODE" SCRATCH="$NODE-restore"; then
	runblock node-lost "$T/node-lost.sh" STRATA_CACHE_DIR="$T/cache-new-machine"
	same "runbook node-lost: the data directory is the newest snapshot that passed a restore test" "$T/expect1" "$NODE"
	[ ! -e "$NODE-restore" ] && pass "runbook node-lost: scratch removed" || fail "runbook node-lost: scratch removed" "still there"
	grep -q '^start node$' "$T/systemctl.log" 2>/dev/null && pass "runbook node-lost: the node is started" || fail "runbook node-lost: the node is started" "no systemctl start node"
fi

# ---- 2. data directory corrupted after 11:00: a bad snapshot at 13:00 ----
advance "$NODE" 2
head -c 65536 /dev/urandom | dd of="$(find "$NODE" -type f -size +1M | head -n 1)" bs=1 seek=4096 conv=notrunc status=none
H3=$(height "$NODE" 15)
snap 2024-05-01T13:00:00Z "$H3"
cp -a "$NODE" "$T/expect-corrupt"
: >"$T/systemctl.log"
if block data-corrupted STRATA_REPOSITORY="$R" STRATA_PASSWORD_FILE="$T/pw" NODE_HOST=node1 \
	NODE_DATA="$NODE" SCRATCH="$NODE-restore" GOOD_TIME=2024-05-01T12:00:00Z; then
	runblock data-corrupted "$T/data-corrupted.sh"
	same "runbook data-corrupted --at: the 11:00 snapshot is back" "$T/expect2" "$NODE"
	kept=$(ls -d "$NODE".corrupt-* 2>/dev/null | head -n 1)
	if [ -n "$kept" ]; then same "runbook data-corrupted: the bad copy is kept aside" "$T/expect-corrupt" "$kept"; else fail "runbook data-corrupted: the bad copy is kept aside" "no $NODE.corrupt-*"; fi
	if [ "$(cat "$T/systemctl.log")" = "$(printf 'stop node\nstart node')" ]; then pass "runbook data-corrupted: node stopped, then started"; else fail "runbook data-corrupted: node stopped, then started" "$(cat "$T/systemctl.log")"; fi
	rm -rf "$NODE".corrupt-*
	# The --at-height variant the README describes, back to the first snapshot.
	sed "s/--at \"\$GOOD_TIME\"/--at-height $H1/" "$T/data-corrupted.sh" >"$T/data-corrupted-height.sh"
	if [ "$(grep -c -- "--at-height $H1" "$T/data-corrupted-height.sh")" -eq 2 ]; then
		pass "runbook data-corrupted: --at-height variant made from the block"
		runblock data-corrupted-height "$T/data-corrupted-height.sh"
		same "runbook data-corrupted --at-height $H1: that snapshot is back" "$T/expect1" "$NODE"
	else
		fail "runbook data-corrupted: --at-height variant" "the block no longer has two --at \"\$GOOD_TIME\""
	fi
	rm -rf "$NODE".corrupt-*
fi

# ---- 2a. rolled back in place: the node's directory is corrupted again
# and grew strays; the block rolls it back to the 12:00 choice in place.
head -c 65536 /dev/urandom | dd of="$(find "$NODE" -type f -size +1M | head -n 1)" bs=1 seek=8192 conv=notrunc status=none
echo stray >"$NODE/stray-from-the-bad-state"
: >"$T/systemctl.log"
if block rollback-in-place STRATA_REPOSITORY="$R" STRATA_PASSWORD_FILE="$T/pw" NODE_HOST=node1 \
	NODE_DATA="$NODE" GOOD_TIME=2024-05-01T12:00:00Z; then
	runblock rollback-in-place "$T/rollback-in-place.sh"
	same "runbook rollback-in-place: the 11:00 snapshot is back in place" "$T/expect2" "$NODE"
	if grep -q "would remove .*stray-from-the-bad-state" "$T/rollback-in-place.log"; then pass "runbook rollback-in-place: the dry run names the stray"; else fail "runbook rollback-in-place: the dry run names the stray" "$(head -c 400 "$T/rollback-in-place.log")"; fi
	if [ "$(cat "$T/systemctl.log")" = "$(printf 'stop node\nstart node')" ]; then pass "runbook rollback-in-place: node stopped, then started"; else fail "runbook rollback-in-place: node stopped, then started" "$(cat "$T/systemctl.log")"; fi
fi

# ---- 3. whole site lost: only the S3 copy remains ----
cp -a "$T/expect2" "$T/expect4"
rm -rf "$NODE" && cp -a "$T/expect4" "$NODE"
snap 2024-05-01T14:00:00Z "$H2"
"$STRATA" -r "$R" verify-restore -q --tag chain -- true || fail "setup: the 14:00 snapshot passes a restore test" "verify-restore"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	. "$TOP/tests/s3/s3lib.sh"
	trap 'stop_pg; s3_stop; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
	if s3_start; then
		if "$STRATA" -r "$R" replicate -q --to "$S3_LOCATION" >"$T/out" 2>"$T/err"; then pass "setup: replicate to S3"; else fail "setup: replicate to S3" "$(head -c 300 "$T/err")"; fi
		rm -rf "$R" "$T/cache" "$T/cache-new-machine" "$T/node1"
		mkdir -p "$(dirname "$NODE")"
		if block site-lost AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER STRATA_REPOSITORY="$S3_LOCATION" \
			STRATA_PASSWORD_FILE="$T/pw" STRATA_CACHE_DIR="$T/empty-cache" NODE_HOST=node1 \
			NODE_DATA="$NODE" SCRATCH="$NODE-restore" EXPORTS="$T/exports"; then
			runblock site-lost "$T/site-lost.sh" AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY=
			same "runbook site-lost: the data directory from S3 alone" "$T/expect4" "$NODE"
			if [ "$(cat "$T/exports/state.json" 2>/dev/null)" = '{"treasury": 1000}' ]; then pass "runbook site-lost: the latest export"; else fail "runbook site-lost: the latest export" "$(ls -R "$T/exports" 2>&1 | head -c 300)"; fi
			if [ -n "$(find "$T/empty-cache" -type f -path '*/index3/data.mdb' 2>/dev/null)" ]; then pass "runbook site-lost: the cache was rebuilt from the bucket"; else fail "runbook site-lost: cache" "no index under $T/empty-cache"; fi
		fi
		s3_stop
	fi
else
	echo "SKIP runbook site-lost: node and npm are needed for the local S3 server (tests/s3)"
fi

# ---- 4. a database to a point in time (PostgreSQL as in e2e_postgres.sh) ----
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
	if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/pg_basebackup" ] && [ -x "$d/psql" ]; then PGBIN=$d; break; fi
done
if [ -z "$PGBIN" ] && command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
	PGBIN=$(dirname "$(command -v pg_ctl)")
fi
if [ -z "$PGBIN" ]; then
	echo "SKIP runbook pitr: PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup, psql) not found"
	e2e_done
fi
if [ "$(id -u)" -ne 0 ] || ! id postgres >/dev/null 2>&1 || ! command -v runuser >/dev/null 2>&1; then
	echo "SKIP runbook pitr: the procedure runs strata as postgres with runuser: needs root and a user postgres"
	e2e_done
fi
AS="runuser -u postgres --"
P="$T/pg"
mkdir -p "$P/bin" "$P/sock"
chmod 711 "$T"
cp "$STRATA" "$P/bin/strata"
printf 'pg archive password\n' >"$P/pw"
chmod 600 "$P/pw"
cat >"$P/bin/strata-pg" <<EOF
#!/bin/sh
export STRATA_REPOSITORY="$P/repo" STRATA_PASSWORD_FILE="$P/pw" STRATA_CACHE_DIR="$P/cache"
exec "$P/bin/strata" "\$@"
EOF
chmod 755 "$P/bin" "$P/bin/strata" "$P/bin/strata-pg"
chown -R postgres "$P"
SP="$P/bin/strata-pg"
PORT=$(python3 -S -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sql() {
	$AS "$PGBIN/psql" -X -q -A -t -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1"
}
printf 'PGDATA=%s\nPGBIN=%s\nAS="%s"\n' "$P/data" "$PGBIN" "$AS" >"$T/pg.env"
$AS "$SP" init -q >"$T/out" 2>&1 || { fail "pitr setup: strata init" "$(cat "$T/out")"; e2e_done; }
$AS "$PGBIN/initdb" -D "$P/data" -U postgres --auth=trust --no-sync >"$T/out" 2>&1 || { fail "pitr setup: initdb" "$(tail -n 5 "$T/out")"; e2e_done; }
cat >>"$P/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$P/sock'
wal_level = replica
archive_mode = on
archive_command = '$SP wal-push %p'
fsync = off
EOF
if $AS "$PGBIN/pg_ctl" -D "$P/data" -l "$P/primary.log" -w -t 60 start >"$T/out" 2>&1; then
	PGRUN="$P/data"
else
	fail "pitr setup: the server starts" "$(cat "$T/out")"
	e2e_done
fi
trap 'stop_pg; s3_stop 2>/dev/null; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
sql "create table t (id bigserial primary key, v text not null)" >/dev/null
sql "insert into t (v) select md5(g::text) from generate_series(1, 1000) g" >/dev/null
# As tools/cli/doc/postgresql.md does it: strata runs pg_basebackup.
if $AS "$SP" backup -q --stdin-tar --stdin-from-command --stdin-name base.tar --label kind=pg-base -- \
	"$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D - -Ft -X none -c fast >"$T/out" 2>&1; then
	pass "pitr setup: base backup"
else
	fail "pitr setup: base backup" "$(cat "$T/out")"
	e2e_done
fi
sql "insert into t (v) select md5(g::text) from generate_series(1, 500) g" >/dev/null
sleep 1
N_AT_T=$(sql "select count(*) from t")
TARGET=$(sql "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1
sql "insert into t (v) select md5(g::text) from generate_series(1, 700) g" >/dev/null
sql "delete from t where id % 10 = 0" >/dev/null
SWITCHED=$(sql "select pg_walfile_name(pg_switch_wal())")
i=0
while [ $i -lt 120 ]; do
	last=$(sql "select coalesce(last_archived_wal, '') from pg_stat_archiver")
	[ -n "$last" ] && [ "$(printf '%s\n%s\n' "$last" "$SWITCHED" | sort | tail -n 1)" = "$last" ] && break
	sleep 0.5
	i=$((i + 1))
done
[ $i -lt 120 ] && pass "pitr setup: WAL archived through $SWITCHED" || fail "pitr setup: WAL archived" "last archived '$last'"

: >"$T/systemctl.log"
if block pitr STRATA_PG="$SP" PGDATA="$P/data" TARGET_TIME="$TARGET"; then
	if runblock pitr "$T/pitr.sh"; then
		PGRUN="$P/data"
		i=0
		while [ $i -lt 240 ] && [ "$(sql "select pg_is_in_recovery()" 2>/dev/null)" != f ]; do sleep 0.5; i=$((i + 1)); done
		if [ $i -lt 240 ]; then pass "runbook pitr: recovery ends, the server is promoted"; else fail "runbook pitr: promoted" "$(tail -n 15 "$P/data.log")"; fi
		got=$(sql "select count(*) from t")
		if [ -n "$got" ] && [ "$got" = "$N_AT_T" ]; then pass "runbook pitr: $got rows, as at $TARGET"; else fail "runbook pitr: rows at the target" "$got rows, wanted $N_AT_T; $(tail -n 15 "$P/data.log")"; fi
		grep -q 'recovery stopping before' "$P/data.log" && pass "runbook pitr: the server stopped at the target time" || fail "runbook pitr: stopped at the target" "$(tail -n 15 "$P/data.log")"
		grep -q 'restored log file' "$P/data.log" && pass "runbook pitr: WAL came through strata wal-fetch" || fail "runbook pitr: WAL through wal-fetch" "$(tail -n 15 "$P/data.log")"
		ls -d "$P"/data.before-pitr-* >/dev/null 2>&1 && pass "runbook pitr: the old data directory is kept" || fail "runbook pitr: old data directory kept" "none"
	fi
fi
stop_pg

e2e_done
