#!/bin/sh
# bench_s3.sh — backup to and restore from a local S3 server, strata and
# restic side by side on the same server.
#
#   sh tools/dev/bench_s3.sh [SIZE]        (make bench-s3 SIZE=1G)
#
# SIZE of generated data (default 512M; K/M/G suffixes): random files of
# 1-24 MiB (incompressible, as chain data mostly is), one duplicated, a
# directory of small files and a sparse file. The server is the npm
# package s3rver 3.7.1 pinned in tests/s3/bench (restic 0.14 cannot talk to
# the SigV4-checking 5.0.0 the tests use; see shared S3-TESTING notes), on
# 127.0.0.1. Runs first backups, each into a fresh repository, then
# restores with an empty cache, strata and restic interleaved,
# BENCH_S3_ROUNDS times each (default 2, best kept): wall and client CPU
# seconds, client peak RSS, throughput, the ratio strata/restic (for
# restores strata's target is at least 2), and the requests and bytes
# downloaded per restored GiB, counted the same way for both from the
# server's request log (strata's own count from restore --json too).
#
# Backups and restores run twice over: straight to the server, and through
# tests/s3/bench/latency_proxy.py, which delays every chunk by
# BENCH_S3_DELAY_MS (default 10) each way, i.e. the round trip a client in
# the same region as its object store sees (0 skips it). On loopback the
# single-threaded s3rver, not the client, bounds both tools; latency is
# where the number of requests in flight and serial round trips show.
# BENCH_S3_KEEP=1 keeps the work directory (server log, data) for study.
#
# Over TLS (a fresh self-signed certificate): restic's S3 client signs
# plain-HTTP uploads with aws-chunked streaming payloads, which s3rver
# 3.7.1 stores undecoded; over HTTPS it sends ordinary bodies. Both tools
# use the same https endpoint. Needs node/npm, restic, openssl, python3.
# Runs only on 127.0.0.1 and stops its server and proxy when done.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)   # tools/dev/ -> the checkout
STRATA=${STRATA:-$ROOT/build/strata}
SIZE=${1:-${SIZE:-512M}}
BENCH_NPM=$ROOT/tests/s3/bench

for tool in node npm restic python3 openssl; do
	command -v $tool >/dev/null 2>&1 || { echo "bench_s3: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
[ -x "$STRATA" ] || { echo "bench_s3: $STRATA missing: run make first" >&2; exit 1; }

bytes_of() {
	python3 -c 'import re,sys; m=re.fullmatch(r"(\d+)([KMGT]?)(i?B)?", sys.argv[1]); print(int(m.group(1)) << {"":0,"K":10,"M":20,"G":30,"T":40}[m.group(2)])' "$1"
}
TOTAL=$(bytes_of "$SIZE")

W=$(mktemp -d "${TMPDIR:-/tmp}/strata-bench-s3.XXXXXX")
S3_PID=
cleanup() {
	st=$?
	# "|| true": under set -e the status 143 of a waited-for killed server
	# ended the script here, with that status.
	for p in $S3_PID; do { kill "$p" && wait "$p"; } 2>/dev/null || true; done
	if [ -n "${BENCH_S3_KEEP:-}" ]; then echo "bench_s3: kept $W"; else rm -rf "$W"; fi
	exit $st
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
mbps() { python3 -c "print(f'{$1 / 1048576 / max($2, 1e-9):.1f}')"; }

wait_port() {
	i=0
	while [ $i -lt 200 ]; do
		p=$(sed -n "s/.*${2}127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p" "$1" 2>/dev/null | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

if [ ! -f "$BENCH_NPM/node_modules/s3rver/bin/s3rver.js" ]; then
	echo "bench_s3: installing s3rver 3.7.1 (npm ci in tests/s3/bench)"
	(cd "$BENCH_NPM" && npm ci --no-audit --no-fund --loglevel=error) >/dev/null
fi

# ---- data ----
echo "bench_s3: generating $SIZE of data"
mkdir -p "$W/src/blocks" "$W/src/small"
made=0; i=0
while [ $made -lt $((TOTAL * 9 / 10)) ]; do
	n=$(( (i * 7 % 24 + 1) << 20 ))
	[ $((made + n)) -gt "$TOTAL" ] && n=$((TOTAL - made))
	[ $n -le 0 ] && break
	head -c $n /dev/urandom >"$W/src/blocks/blk$(printf %05d $i).dat"
	made=$((made + n)); i=$((i + 1))
done
cp "$W/src/blocks/blk00000.dat" "$W/src/blocks/copy-of-first.dat"
j=0
while [ $j -lt 500 ]; do head -c $((j * 61 % 8000 + 100)) /dev/urandom >"$W/src/small/s$j"; j=$((j + 1)); done
truncate -s $((TOTAL / 10)) "$W/src/sparse.img"
DATA=$(du -sb --apparent-size "$W/src" | cut -f1)

# ---- server ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$W/key.pem" -out "$W/cert.pem" >/dev/null 2>&1
NODE_OPTIONS=--openssl-legacy-provider node "$BENCH_NPM/node_modules/s3rver/bin/s3rver.js" \
	-d "$W/s3" -a 127.0.0.1 -p 0 --key "$W/key.pem" --cert "$W/cert.pem" \
	--configure-bucket bench >"$W/s3.log" 2>&1 &
S3_PID=$!
SERVER_PID=$S3_PID
PORT=$(wait_port "$W/s3.log" "listening on ") || { echo "bench_s3: s3rver did not start: $(cat "$W/s3.log")" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export STRATA_PASSWORD=bench-password RESTIC_PASSWORD=bench-password
export STRATA_CACHE_DIR="$W/strata-cache" RESTIC_CACHE_DIR="$W/restic-cache"
export STRATA_S3_CA_BUNDLE="$W/cert.pem"
unset STRATA_PASSWORD_FILE STRATA_REPOSITORY

# log_mark / log_since MARK — the server's request lines after MARK:
# "info: PATH STATUS TIME SIZE"; prints "REQUESTS BYTES".
log_mark() { wc -l <"$W/s3.log"; }
log_since() {
	tail -n +"$(($1 + 1))" "$W/s3.log" | python3 -c '
import re, sys
n = total = 0
unit = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}
for line in sys.stdin:
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.search(r"info: \S+ (\d{3}) \S+ ?([\d.]+)?(b|kb|mb|gb)?\s*$", line)
    if not m:
        continue
    n += 1
    if m.group(2):
        total += float(m.group(2)) * unit[m.group(3)]
print(n, int(total))'
}

# timed OUT_FILE CMD... — run CMD, write "WALL CPU RSS" (seconds; CPU =
# user + system of CMD and its children; RSS its peak, KiB) to OUT_FILE;
# CMD's stdout goes to stdout.
timed() {
	python3 - "$@" <<'EOF'
import resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
rc = subprocess.call(cmd)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
open(out, "w").write(f"{wall:.2f} {ru.ru_utime + ru.ru_stime:.2f} {ru.ru_maxrss}\n")
sys.exit(rc)
EOF
}

# ---- the proxy that adds latency ----
DELAY_MS=${BENCH_S3_DELAY_MS:-10}
PROXY_PORT=
if [ "$DELAY_MS" != 0 ]; then
	python3 "$BENCH_NPM/latency_proxy.py" 0 127.0.0.1 "$PORT" "$DELAY_MS" >"$W/proxy.log" 2>&1 &
	S3_PID="$S3_PID $!"
	PROXY_PORT=$(wait_port "$W/proxy.log" "listening on ") ||
		{ echo "bench_s3: latency proxy did not start: $(cat "$W/proxy.log")" >&2; exit 1; }
fi

# ---- backups: strata and restic interleaved, direct and through the proxy ----
ROUNDS=${BENCH_S3_ROUNDS:-2}
# backup_one VIA ROUND TOOL PORT — a first backup into a fresh repository
# (bench/TOOL for the first direct round, which the restores read);
# appends "VIA TOOL WALL CPU RSS_KB" to $W/backups.
backup_one() {
	name=$3-$1-$2
	[ "$1-$2" = direct-1 ] && name=$3
	if [ "$3" = strata ]; then
		"$STRATA" -r "s3:https://127.0.0.1:$PORT/bench/$name" init -q
		timed "$W/t" "$STRATA" -r "s3:https://127.0.0.1:$4/bench/$name" backup -q "$W/src"
	else
		restic --cacert "$W/cert.pem" -r "s3:https://127.0.0.1:$PORT/bench/$name" init -q >/dev/null
		timed "$W/t" restic --cacert "$W/cert.pem" -r "s3:https://127.0.0.1:$4/bench/$name" \
			backup -q "$W/src" >/dev/null
	fi
	echo "$1 $3 $(cat "$W/t")" >>"$W/backups"
}

# interleaved FN — FN VIA ROUND TOOL PORT for each way to the server
# (direct, then through the proxy), ROUNDS rounds, strata then restic.
interleaved() {
	for via in direct proxy; do
		if [ $via = direct ]; then p=$PORT; else p=$PROXY_PORT; fi
		[ -n "$p" ] || continue
		r=1
		while [ $r -le "$ROUNDS" ]; do
			for tool in strata restic; do
				"$1" $via $r $tool "$p"
			done
			r=$((r + 1))
		done
	done
}
: >"$W/backups"
interleaved backup_one

# prefault — as in tools/dev/bench.sh: this VM's host drops memory the guest
# reported free, and the first touch of such a page faults on the host.
# Each restore writes its whole size into the page cache, so before each,
# the same amount is written to and deleted from /dev/shm, and every tool
# finds pages just freed rather than pages the host dropped.
prefault() {
	[ -d /dev/shm ] && [ -w /dev/shm ] || return 0
	dd if=/dev/zero of=/dev/shm/strata-bench-s3-prefault.$$ bs=1M count=$(( TOTAL / 1048576 + 64 )) \
		status=none 2>/dev/null || true
	rm -f /dev/shm/strata-bench-s3-prefault.$$
}

# server_cpu — CPU seconds the S3 server has used so far.
server_cpu() {
	python3 -c 'import os,sys; f=open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split(); print((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK"))' "$SERVER_PID"
}

# restore_one VIA ROUND TOOL PORT — one restore with an empty cache,
# checked against the source; appends "VIA TOOL WALL CPU RSS_KB REQUESTS
# BYTES SERVER_CPU [OWN_REQUESTS OWN_BYTES]" to $W/restores.
restore_one() {
	shift_via=$1
	shift 2
	rm -rf "$W/r" "$W/rcache"
	prefault
	m=$(log_mark)
	c0=$(server_cpu)
	if [ "$1" = strata ]; then
		STRATA_CACHE_DIR="$W/rcache" timed "$W/t" "$STRATA" -r "s3:https://127.0.0.1:$2/bench/strata" \
			restore latest --target "$W/r" --json >"$W/strata-restore.json"
		own=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["requests"], d["bytes_fetched"])' \
			"$W/strata-restore.json")
	else
		RESTIC_CACHE_DIR="$W/rcache" timed "$W/t" restic --cacert "$W/cert.pem" \
			-r "s3:https://127.0.0.1:$2/bench/restic" restore latest --target "$W/r" -q >/dev/null
		own=
	fi
	srv=$(python3 -c "print(f'{$(server_cpu) - $c0:.2f}')")
	diff -r "$W/src" "$W/r$W/src" >/dev/null || { echo "bench_s3: $1 restore differs from the source" >&2; exit 1; }
	rm -rf "$W/r"
	echo "$shift_via $1 $(cat "$W/t") $(log_since "$m") $srv $own" >>"$W/restores"
}

# ---- restores: strata and restic interleaved, direct and through the proxy ----
: >"$W/restores"
interleaved restore_one

echo
echo "bench_s3: $(python3 -c "print(f'{$DATA/1048576:.0f}')") MiB apparent ($SIZE generated), s3rver 3.7.1 (https) on 127.0.0.1, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$DATA" "$DELAY_MS" "$W/backups" "$W/restores" <<'EOF'
import sys
data, delay = int(sys.argv[1]), sys.argv[2]
gib = data / 2**30

def best_of(rows, via):
    best = {}
    for r in rows:
        if r[0] == via and (r[1] not in best or float(r[2]) < float(best[r[1]][2])):
            best[r[1]] = r
    return best

def label(via):
    return "direct" if via == "direct" else f"+{2 * float(delay):.0f} ms RTT (latency_proxy)"

def ratio(best):
    if "strata" in best and "restic" in best:
        return float(best["restic"][2]) / max(float(best["strata"][2]), 1e-9)
    return None

rows = [l.split() for l in open(sys.argv[3]) if l.strip()]
print("first backups (a fresh repository each, best of the rounds by wall; CPU and RSS are the client's):")
for via in ("direct", "proxy"):
    best = best_of(rows, via)
    for tool in ("strata", "restic"):
        if tool in best:
            r = best[tool]
            wall, cpu, rss = float(r[2]), float(r[3]), int(r[4])
            print(f"  {label(via):32s} {tool:7s} {wall:6.2f} s wall {cpu:6.2f} s CPU {data / 2**20 / wall:7.1f} MiB/s"
                  f"  {rss / 1024:6.1f} MiB peak RSS")
    if ratio(best) is not None:
        print(f"  {label(via):32s} throughput ratio strata/restic: {ratio(best):.2f}")

rows = [l.split() for l in open(sys.argv[4]) if l.strip()]
print("restores (empty cache each, best of the rounds by wall; CPU and RSS are the client's, then the server's CPU):")
for via in ("direct", "proxy"):
    best = best_of(rows, via)
    for tool in ("strata", "restic"):
        if tool not in best:
            continue
        r = best[tool]
        wall, cpu, rss, req, nbytes, srv = float(r[2]), float(r[3]), int(r[4]), int(r[5]), int(r[6]), float(r[7])
        extra = ""
        if len(r) > 9:
            extra = f"; own count {int(r[8])} data range requests, {int(r[9]) / 2**20:.1f} MiB of packs"
        print(f"  {label(via):32s} {tool:7s} {wall:6.2f} s wall {cpu:6.2f} s CPU (server {srv:4.2f} s)"
              f" {data / 2**20 / wall:7.1f} MiB/s  {rss / 1024:6.1f} MiB peak RSS  per GiB: {req / gib:4.0f} requests,"
              f" {nbytes / 2**30 / gib:.3f} GiB downloaded{extra}")
    if ratio(best) is not None:
        print(f"  {label(via):32s} throughput ratio strata/restic: {ratio(best):.2f} (target >= 2)")
EOF
