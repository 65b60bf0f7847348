#!/bin/sh
# bench_s3.sh — backup to and restore from a local S3 server, strata and
# restic side by side on the same server.
#
#   sh tools/bench_s3.sh [SIZE]        (make bench-s3 SIZE=1G)
#
# SIZE of generated data (default 512M; K/M/G suffixes): random files of
# 1-24 MiB (incompressible, as chain data mostly is), one duplicated, a
# directory of small files and a sparse file. The server is the npm
# package s3rver 3.7.1 pinned in tests/s3/bench (restic 0.14 cannot talk to
# the SigV4-checking 5.0.0 the tests use; see shared S3-TESTING notes), on
# 127.0.0.1. Prints backup and restore times and throughput, the restore
# throughput ratio strata/restic (strata's target: at least 2), and the
# requests and bytes downloaded per restored GiB, counted the same way for
# both from the server's request log (strata's own count from restore
# --json is printed too).
#
# Over TLS (a fresh self-signed certificate): restic's S3 client signs
# plain-HTTP uploads with aws-chunked streaming payloads, which s3rver
# 3.7.1 stores undecoded; over HTTPS it sends ordinary bodies. Both tools
# use the same https endpoint. Needs node/npm, restic, openssl, python3.
# Runs only on 127.0.0.1 and stops its server when done.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
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
	for p in $S3_PID; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$W"
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

# ---- strata ----
SL=s3:https://127.0.0.1:$PORT/bench/strata
"$STRATA" -r "$SL" init -q
t0=$(now); "$STRATA" -r "$SL" backup -q "$W/src"; t1=$(now)
st_backup=$(secs "$t0" "$t1")
m=$(log_mark)
t0=$(now); "$STRATA" -r "$SL" restore latest --target "$W/r-strata" --json >"$W/strata-restore.json"; t1=$(now)
set -- $(log_since "$m"); st_all=$1; st_all_bytes=$2
st_restore=$(secs "$t0" "$t1")
diff -r "$W/src" "$W/r-strata$W/src" >/dev/null || { echo "bench_s3: strata restore differs from the source" >&2; exit 1; }
st_req=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$W/strata-restore.json")
st_fetched=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_fetched"])' "$W/strata-restore.json")
rm -rf "$W/r-strata"

# ---- restic ----
RL=s3:https://127.0.0.1:$PORT/bench/restic
restic --cacert "$W/cert.pem" -r "$RL" init -q >/dev/null
t0=$(now); restic --cacert "$W/cert.pem" -r "$RL" backup -q "$W/src" >/dev/null; t1=$(now)
rs_backup=$(secs "$t0" "$t1")
m=$(log_mark)
t0=$(now); restic --cacert "$W/cert.pem" -r "$RL" restore latest --target "$W/r-restic" -q >/dev/null; t1=$(now)
set -- $(log_since "$m"); rs_all=$1; rs_all_bytes=$2
rs_restore=$(secs "$t0" "$t1")
diff -r "$W/src" "$W/r-restic$W/src" >/dev/null || { echo "bench_s3: restic restore differs from the source" >&2; exit 1; }
rm -rf "$W/r-restic"

echo
echo "bench_s3: $(python3 -c "print(f'{$DATA/1048576:.0f}')") MiB apparent ($SIZE generated), s3rver 3.7.1 (https) on 127.0.0.1, $(nproc) cores"
printf '%-8s %10s %10s %11s %11s\n' tool backup_s MiB/s restore_s MiB/s
printf '%-8s %10s %10s %11s %11s\n' strata "$st_backup" "$(mbps "$DATA" "$st_backup")" "$st_restore" "$(mbps "$DATA" "$st_restore")"
printf '%-8s %10s %10s %11s %11s\n' restic "$rs_backup" "$(mbps "$DATA" "$rs_backup")" "$rs_restore" "$(mbps "$DATA" "$rs_restore")"
python3 - "$DATA" "$st_restore" "$rs_restore" "$st_req" "$st_fetched" "$st_all" "$st_all_bytes" "$rs_all" "$rs_all_bytes" <<'EOF'
import sys
data, st, rs = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
st_req, st_fetched, st_all, st_bytes, rs_all, rs_bytes = (int(x) for x in sys.argv[4:10])
gib = data / 2**30
print(f"restore throughput ratio strata/restic: {rs / max(st, 1e-9):.2f} (target >= 2)")
print(f"per restored GiB (server log, every request): strata {st_all / gib:.0f} requests, "
      f"{st_bytes / 2**30 / gib:.3f} GiB downloaded; restic {rs_all / gib:.0f} requests, "
      f"{rs_bytes / 2**30 / gib:.3f} GiB downloaded")
print(f"strata's own count: {st_req} data range requests, {st_fetched / 2**20:.1f} MiB of packs "
      f"({st_req / gib:.0f} per GiB)")
EOF
