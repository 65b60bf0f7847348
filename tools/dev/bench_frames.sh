#!/bin/sh
# bench_frames.sh — format 2 against format 3 (frames, store/FORMAT.md
# §9a) and restic on one real data set, in one run: a PostgreSQL data
# directory after `pgbench -i -s SCALE` and 2,000 transactions (the server
# stopped cleanly), backed up once by each (first backup) and once more
# after 1,000 more transactions, then restored. Prints stored bytes, wall
# and CPU seconds and the load beside each figure. Tools run interleaved
# (strata format 2, strata format 3, restic) so that a load swing hits
# all three.
#
#   sh tools/dev/bench_frames.sh [SCALE]     (default 10: ~160 MB)
#
# Needs PostgreSQL's server binaries and pgbench, restic 0.14+ (compression
# auto); as root the server runs as user postgres. Leaves nothing behind.
set -eu
SCALE=${1:-10}
STRATA=${STRATA:-$(pwd)/build/strata}
W=$(mktemp -d "${TMPDIR:-/tmp}/bench-frames.XXXXXX")
trap 'rm -rf "$W"' EXIT INT TERM
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -t/ -k5 -n -r | head -n 1)
AS=
[ "$(id -u)" -eq 0 ] && AS="runuser -u postgres --"
export STRATA_PASSWORD=bench RESTIC_PASSWORD=bench STRATA_CACHE_DIR="$W/cache" RESTIC_CACHE_DIR="$W/rcache"

mkdir -p "$W/pg" && chmod 777 "$W"
[ -n "$AS" ] && chown postgres "$W/pg"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pg_up() { $AS "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/pg.log" -o "-p $PORT -c fsync=off -c listen_addresses=127.0.0.1 -k $W" -w start >/dev/null; }
pg_down() { $AS "$PGBIN/pg_ctl" -D "$W/pg" -m fast -w stop >/dev/null; }
$AS "$PGBIN/initdb" -D "$W/pg" -U postgres >/dev/null
pg_up
$AS pgbench -h 127.0.0.1 -p "$PORT" -U postgres -i -s "$SCALE" -q postgres >/dev/null 2>&1
$AS pgbench -h 127.0.0.1 -p "$PORT" -U postgres -c 4 -t 500 postgres >/dev/null 2>&1
pg_down
echo "data: PostgreSQL $(basename "$(dirname "$PGBIN")"), pgbench scale $SCALE + 2,000 transactions, $(du -sm "$W/pg" | cut -f1) MiB"

"$STRATA" -r "$W/s2" init >/dev/null
"$STRATA" -r "$W/s3" init --format-version 3 >/dev/null
restic -q -r "$W/rs" init --repository-version 2 >/dev/null

# run LABEL CMD... — wall, user+sys seconds, the load, as one line.
run() {
	label=$1; shift
	load=$(cut -d' ' -f1 /proc/loadavg)
	/usr/bin/time -f "%e %U %S" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
	read -r wall user sys <"$W/time"
	printf '%-34s %7.2f s wall %7.2f s CPU   (load %s)' "$label" "$wall" "$(awk "BEGIN { print $user + $sys }")" "$load"
}
stored() { du -sb "$1" | cut -f1; }
step() {
	b2=$(stored "$W/s2") b3=$(stored "$W/s3") br=$(stored "$W/rs")
	run "strata format 2 backup ($1)" "$STRATA" -r "$W/s2" backup "$W/pg"
	echo "   +$(( ($(stored "$W/s2") - b2) / 1024 )) KiB stored"
	run "strata format 3 backup ($1)" "$STRATA" -r "$W/s3" backup "$W/pg"
	echo "   +$(( ($(stored "$W/s3") - b3) / 1024 )) KiB stored"
	run "restic backup ($1)" restic -q -r "$W/rs" backup --compression auto "$W/pg"
	echo "   +$(( ($(stored "$W/rs") - br) / 1024 )) KiB stored"
}
step "first"
pg_up
$AS pgbench -h 127.0.0.1 -p "$PORT" -U postgres -c 4 -t 250 postgres >/dev/null 2>&1
pg_down
step "+1,000 transactions"
for t in s2 s3; do
	rm -rf "$W/out"
	run "strata $t restore (latest)" "$STRATA" -r "$W/$t" restore latest --target "$W/out"
	echo
done
rm -rf "$W/out"
run "restic restore (latest)" restic -q -r "$W/rs" restore latest --target "$W/out"
echo
rm -rf "$W/out"
echo "stored in all: format 2 $(( $(stored "$W/s2") / 1024 )) KiB, format 3 $(( $(stored "$W/s3") / 1024 )) KiB, restic $(( $(stored "$W/rs") / 1024 )) KiB"
