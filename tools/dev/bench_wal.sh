#!/bin/sh
# bench_wal.sh — WAL archiving and recovery, strata and pgBackRest side by
# side in one run (issue 31), with a real PostgreSQL server.
#
#   sh tools/dev/bench_wal.sh            (make bench-wal; BENCH_WAL_SCALE=20)
#
# For each setup — strata synchronous (wal-push / wal-fetch), strata
# asynchronous (wal-push --async, and restore_command strata-wal-fetch, the
# fetcher's libc-only client), pgBackRest gz, pgBackRest compress-type=zst,
# pgBackRest archive-async=y with zst, and the two asynchronous ones again
# with the repository in a local S3 server (strata-async-s3, pgbr-async-s3:
# tests/s3's pinned s3rver over https with a fresh self-signed certificate,
# pgBackRest with repo1-s3-uri-style=path and repo1-storage-verify-tls=n;
# skipped without node and npm) — a
# fresh cluster (16 MiB segments, max_wal_size 256MB) archives a WAL burst:
# `pgbench -i -s SCALE`, a CREATE TABLE AS of SCALE x 50,000 rows, and one
# `pgbench -c 4 -T 10`; then eight single segments with a second between
# them (the "idle server" archive_command wall). A plain base backup taken
# before the burst is then recovered to the end of the archive with the
# setup's restore_command.
#
# Measured, the same way for every setup:
#   - CPU s per segment: the CPU time of every process the archive_command
#     started (and any helper they started: archiver, pgBackRest's async
#     process), from a cpuacct cgroup each archive_command joins first,
#     over the segments archived;
#   - archive_command wall: median over the idle phase's calls;
#   - segments waiting: the most .ready files in pg_wal/archive_status,
#     sampled every 0.2 s during the burst;
#   - repository bytes per GiB of WAL archived;
#   - recovery to the end of the archive: from pg_ctl start to the end of
#     recovery (pg_is_in_recovery() false);
#   - restore_command CPU s per segment (cgroup as above) and median wall.
# Needs root (cgroup, runuser) and PostgreSQL server binaries; pgBackRest is
# installed with apt-get when missing. The issue's burst was 1.9 GB
# (scale 50 and an 8-million-row CREATE TABLE AS); the default here is
# smaller to fit a shared 2-core machine (BENCH_WAL_SCALE raises it).
set -eu

SCALE=${BENCH_WAL_SCALE:-20}
SETUPS=${BENCH_WAL_SETUPS:-"strata strata-async pgbr-gz pgbr-zst pgbr-async strata-async-s3 pgbr-async-s3"}
STRATA=${STRATA:-$(pwd)/build/strata}
CLIENT=$(dirname "$STRATA")/strata-wal-fetch
[ -x "$STRATA" ] && [ -x "$CLIENT" ] || { echo "bench_wal: build strata first (make)"; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench_wal: needs root (cgroups, runuser -u postgres)"; exit 2; }
if ! command -v pgbackrest >/dev/null 2>&1; then
	flock /tmp/apt.lock apt-get install -y pgbackrest >/dev/null
fi
PGBIN=
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
	[ -x "$d/pg_ctl" ] && [ -x "$d/pgbench" ] && PGBIN=$d && break
done
[ -n "$PGBIN" ] || { echo "bench_wal: no PostgreSQL server binaries"; exit 2; }
CG=/sys/fs/cgroup/cpuacct
[ -w "$CG" ] || { echo "bench_wal: needs a writable cpuacct cgroup at $CG"; exit 2; }

B=$(mktemp -d /tmp/strata-bench-wal.XXXXXX)
chmod 711 "$B"
AS="runuser -u postgres --"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RES="$B/results"
: >"$RES"
S3_PID=
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
cleanup() {
	rc=$?
	[ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null
	for d in "$B"/*/data "$B"/*/rec; do [ -d "$d" ] && $AS "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true; done
	for l in "$B"/*/cache/walarch/*.lock "$B"/*/cache/walfetch/*.lock; do
		[ -e "$l" ] && kill "$(cat "$l")" 2>/dev/null || true
	done
	# A cgroup goes once its last process has (pgBackRest's async
	# processes and strata's helpers take a moment to exit).
	sleep 2
	for c in "$CG"/strata-bench-$$-*; do [ -d "$c" ] && rmdir "$c" 2>/dev/null || true; done
	[ -n "${BENCH_WAL_KEEP:-}" ] || rm -rf "$B"
	exit $rc
}
trap cleanup EXIT

# The S3 server for the -s3 setups: tests/s3's pinned s3rver (npm ci there
# once), over https, bucket "bench"; its data in $B/s3.
case $SETUPS in
*-s3*)
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		echo "bench_wal: no node/npm: the S3 setups are skipped"
		SETUPS=$(echo "$SETUPS" | tr ' ' '\n' | grep -v -- '-s3$' | tr '\n' ' ')
	else
		S3DIR=$(pwd)/tests/s3
		[ -f "$S3DIR/node_modules/@20minutes/s3rver/lib/cli.js" ] ||
			(cd "$S3DIR" && npm ci --no-audit --no-fund --loglevel=error) >/dev/null
		mkdir -p "$B/tls"
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
			-keyout "$B/tls/key.pem" -out "$B/tls/cert.pem" >/dev/null 2>&1
		chmod 755 "$B/tls"
		chmod 644 "$B/tls/cert.pem"
		# --allow-mismatched-signatures: for pgBackRest's listings
		# ("GET /bench/?list-type=2...") s3rver signs the canonical URI
		# "/bench" and refused them (SignatureDoesNotMatch); strata's
		# signatures match either way.
		NODE_OPTIONS=--openssl-legacy-provider node "$S3DIR/start.js" -d "$B/s3" -a 127.0.0.1 -p 0 \
			--allow-mismatched-signatures \
			--key "$B/tls/key.pem" --cert "$B/tls/cert.pem" --configure-bucket bench >"$B/s3.log" 2>&1 &
		S3_PID=$!
		S3_PORT=
		i=0
		while [ $i -lt 150 ]; do
			S3_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$B/s3.log" | head -n 1)
			[ -n "$S3_PORT" ] && break
			sleep 0.1
			i=$((i + 1))
		done
		[ -n "$S3_PORT" ] || { echo "bench_wal: s3rver did not start: $(cat "$B/s3.log")"; exit 1; }
	fi ;;
esac

sql() { $AS "$PGBIN/psql" -X -q -A -t -h "$SOCK" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1"; }
cg_new() { mkdir "$CG/strata-bench-$$-$1"; chown postgres "$CG/strata-bench-$$-$1/cgroup.procs" "$CG/strata-bench-$$-$1/tasks"; }
cg_cpu_s() { awk '{ printf "%.3f", $1 / 1e9 }' "$CG/strata-bench-$$-$1/cpuacct.usage"; }

# wrapper NAME CGROUP LOG — a script that joins CGROUP, runs its arguments
# and logs "start end status" (seconds) to LOG.
wrapper() {
	cat >"$1" <<EOF
#!/bin/sh
echo \$\$ >"$CG/strata-bench-$$-$2/cgroup.procs"
s=\$(date +%s.%N)
"\$@"
rc=\$?
echo "\$s \$(date +%s.%N) \$rc" >>"$3"
exit \$rc
EOF
	chmod 755 "$1"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) printf "%.3f", a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for setup in $SETUPS; do
	W="$B/$setup"
	SOCK="$W/sock"
	mkdir -p "$W/sock" "$W/bin"
	printf 'bench wal password\n' >"$W/pw"
	chmod 600 "$W/pw"
	cp "$STRATA" "$W/bin/strata"
	cp "$CLIENT" "$W/bin/strata-wal-fetch"
	case $setup in
	*-s3) ENVS="STRATA_REPOSITORY=s3:https://127.0.0.1:$S3_PORT/bench/$setup STRATA_S3_CA_BUNDLE=$B/tls/cert.pem"
	      ENVS="$ENVS AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1" ;;
	*)    ENVS="STRATA_REPOSITORY=$W/repo" ;;
	esac
	ENVS="$ENVS STRATA_PASSWORD_FILE=$W/pw STRATA_CACHE_DIR=$W/cache"
	# strata-pg runs strata, strata-wal-fetch-pg the client, both with the
	# repository's environment (the wrapper postgresql.md describes).
	for prog in strata strata-wal-fetch; do
		w="$W/bin/$prog-pg"
		[ $prog = strata ] && w="$W/bin/strata-pg"
		printf '#!/bin/sh\nexport %s\nexec "%s" "$@"\n' "$ENVS" "$W/bin/$prog" >"$w"
	done
	cat >"$W/pgbackrest.conf" <<EOF
[global]
$(case $setup in *-s3) ;; *) echo "repo1-path=$W/repo" ;; esac)
lock-path=$W/lock
spool-path=$W/spool
log-path=$W/log
log-level-console=warn
log-level-file=off
process-max=2
archive-get-queue-max=128MiB
$(case $setup in pgbr-gz) echo "compress-type=gz";; pgbr-zst) echo "compress-type=zst";; pgbr-async*) printf 'compress-type=zst\narchive-async=y\n';; esac)
$(case $setup in pgbr-*-s3) printf 'repo1-type=s3\nrepo1-path=/%s\nrepo1-s3-bucket=bench\nrepo1-s3-endpoint=127.0.0.1\nrepo1-storage-port=%s\nrepo1-s3-region=us-east-1\nrepo1-s3-key=S3RVER\nrepo1-s3-key-secret=S3RVER\nrepo1-s3-uri-style=path\nrepo1-storage-verify-tls=n\n' "$setup" "$S3_PORT";; esac)

[main]
pg1-path=$W/data
pg1-socket-path=$SOCK
pg1-port=$PORT
EOF
	chown -R postgres "$W"
	chmod 755 "$W/bin" "$W/bin/strata" "$W/bin/strata-pg" "$W/bin/strata-wal-fetch" "$W/bin/strata-wal-fetch-pg"
	case $setup in
	strata)       PUSH="$W/bin/strata-pg wal-push %p";         FETCH="$W/bin/strata-pg wal-fetch %f %p" ;;
	strata-async*) PUSH="$W/bin/strata-pg wal-push --async %p"; FETCH="$W/bin/strata-wal-fetch-pg %f %p" ;;
	pgbr-*)       PUSH="pgbackrest --config=$W/pgbackrest.conf --stanza=main archive-push %p"
	              # %p is relative to pg1-path: the recovering server's.
	              FETCH="pgbackrest --config=$W/pgbackrest.conf --stanza=main --pg1-path=$W/rec archive-get %f \"%p\"" ;;
	esac
	cg_new "$setup-push"
	cg_new "$setup-fetch"
	wrapper "$W/bin/push" "$setup-push" "$W/push.times"
	wrapper "$W/bin/fetch" "$setup-fetch" "$W/fetch.times"
	chown postgres "$W/bin/push" "$W/bin/fetch"
	: >"$W/push.times"; : >"$W/fetch.times"
	chown postgres "$W/push.times" "$W/fetch.times"

	$AS "$PGBIN/initdb" -D "$W/data" -U postgres --auth=trust --no-sync >/dev/null
	cat >>"$W/data/postgresql.conf" <<EOF
listen_addresses = ''
port = $PORT
unix_socket_directories = '$SOCK'
wal_level = replica
archive_mode = on
archive_command = '$W/bin/push $PUSH'
max_wal_size = 256MB
max_wal_senders = 4
EOF
	case $setup in
	strata*) $AS "$W/bin/strata-pg" init >/dev/null 2>&1 ;;
	esac
	$AS "$PGBIN/pg_ctl" -D "$W/data" -l "$W/primary.log" -w start >/dev/null
	case $setup in
	pgbr-*) $AS pgbackrest --config="$W/pgbackrest.conf" --stanza=main stanza-create >/dev/null ;;
	esac
	$AS "$PGBIN/pg_basebackup" -h "$SOCK" -p "$PORT" -U postgres -D "$W/base" -X none -c fast
	# The burst, with .ready sampled every 0.2 s.
	( while [ ! -e "$W/burst.done" ]; do ls "$W/data/pg_wal/archive_status" | grep -c '\.ready$' || true; sleep 0.2; done ) >"$W/ready.samples" &
	SAMPLER=$!
	t0=$(date +%s.%N)
	$AS "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -i -s "$SCALE" -q postgres >/dev/null 2>&1
	sql "create table ctas as select g as id, md5(g::text) as a, md5((g * 7)::text) as b from generate_series(1, $SCALE * 50000) g" >/dev/null
	$AS "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -c 4 -T 10 postgres >/dev/null 2>&1
	last=$(sql "select pg_walfile_name(pg_switch_wal())")
	while :; do
		a=$(sql "select coalesce(last_archived_wal, '') from pg_stat_archiver")
		[ -n "$a" ] && [ "$(printf '%s\n%s\n' "$a" "$last" | sort | tail -n 1)" = "$a" ] && break
		sleep 0.2
	done
	t1=$(date +%s.%N)
	touch "$W/burst.done"
	wait $SAMPLER
	burst_calls=$(wc -l <"$W/push.times")
	# The idle phase: one segment at a time.
	for i in 1 2 3 4 5 6 7 8; do
		sleep 1
		sql "insert into ctas values (-$i, 'x', 'y')" >/dev/null
		sql "select pg_switch_wal()" >/dev/null
	done
	last=$(sql "select pg_walfile_name(pg_switch_wal())")
	while :; do
		a=$(sql "select coalesce(last_archived_wal, '') from pg_stat_archiver")
		[ -n "$a" ] && [ "$(printf '%s\n%s\n' "$a" "$last" | sort | tail -n 1)" = "$a" ] && break
		sleep 0.2
	done
	sleep 1
	segs=$(sql "select archived_count from pg_stat_archiver")
	failed=$(sql "select failed_count from pg_stat_archiver")
	$AS "$PGBIN/pg_ctl" -D "$W/data" -m fast -w stop >/dev/null
	# Helpers that outlive PostgreSQL are stopped so their CPU is final.
	for l in "$W"/cache/walarch/*.lock; do [ -e "$l" ] && kill "$(cat "$l")" 2>/dev/null || true; done
	sleep 1
	push_cpu=$(cg_cpu_s "$setup-push")
	idle_wall=$(tail -n +"$((burst_calls + 1))" "$W/push.times" | awk '$3 == 0 { print $2 - $1 }' | median)
	max_ready=$(sort -n "$W/ready.samples" | tail -n 1)
	case $setup in
	# s3rver keeps each object as <key>._S3rver_object beside its metadata.
	*-s3) repo_bytes=$(find "$B/s3/bench/$setup" -name '*._S3rver_object' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }') ;;
	*)    repo_bytes=$(du -sb "$W/repo" | cut -f1) ;;
	esac

	# Recovery of the base backup to the end of the archive.
	cp -a "$W/base" "$W/rec"
	cat >>"$W/rec/postgresql.conf" <<EOF
archive_mode = off
restore_command = '$W/bin/fetch $FETCH'
recovery_target_action = 'promote'
EOF
	touch "$W/rec/recovery.signal"
	chown -R postgres "$W/rec"
	r0=$(date +%s.%N)
	$AS "$PGBIN/pg_ctl" -D "$W/rec" -l "$W/rec.log" -w -t 3600 start >/dev/null
	while [ "$(sql "select pg_is_in_recovery()" 2>/dev/null)" != f ]; do sleep 0.1; done
	r1=$(date +%s.%N)
	$AS "$PGBIN/pg_ctl" -D "$W/rec" -m fast -w stop >/dev/null
	for l in "$W"/cache/walfetch/*.lock; do [ -e "$l" ] && kill "$(cat "$l")" 2>/dev/null || true; done
	sleep 1
	fetch_cpu=$(cg_cpu_s "$setup-fetch")
	fetched=$(awk '$3 == 0' "$W/fetch.times" | wc -l)
	fetch_wall=$(awk '$3 == 0 { print $2 - $1 }' "$W/fetch.times" | median)
	wal_gib=$(awk -v n="$segs" 'BEGIN { printf "%.3f", n * 16 / 1024 }')
	printf '%s %s %s %s %s %s %s %s %s %s %s %s\n' "$setup" "$segs" "$failed" \
		"$(awk -v c="$push_cpu" -v n="$segs" 'BEGIN { printf "%.3f", c / n }')" "$idle_wall" "$max_ready" \
		"$(awk -v b="$repo_bytes" -v g="$wal_gib" 'BEGIN { printf "%.0f", b / 1048576 / g }')" \
		"$(awk -v a="$r0" -v b="$r1" 'BEGIN { printf "%.1f", b - a }')" \
		"$(awk -v c="$fetch_cpu" -v n="$fetched" 'BEGIN { printf "%.3f", n ? c / n : 0 }')" "$fetch_wall" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" "$fetched" >>"$RES"
	echo "bench_wal: $setup done ($(tail -n 1 "$RES"))"
done

echo
echo "load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(nproc) cores"
echo "WAL burst: pgbench -i -s $SCALE, CREATE TABLE AS of $((SCALE * 50000)) rows, pgbench -c 4 -T 10; 16 MiB segments"
printf '| %s |' ""
awk '{ printf " %s |", $1 }' "$RES"; echo
printf '|---|'; awk '{ printf "---|" }' "$RES"; echo
row() { printf '| %s |' "$1"; awk -v f="$2" -v u="$3" '{ printf " %s%s |", $f, u }' "$RES"; echo; }
row "segments archived" 2 ""
row "archive_command failures" 3 ""
row "archive_command CPU s per segment" 4 ""
row "archive_command median wall, idle server" 5 " s"
row "most segments waiting during the burst" 6 ""
row "repository MiB per GiB of WAL" 7 ""
row "burst until all archived" 11 " s"
row "recovery to end of archive" 8 " s"
row "restore_command CPU s per segment" 9 ""
row "restore_command median wall" 10 " s"
row "segments restored" 12 ""
