# e2e_wal_s3.sh — wal-fetch from a repository in S3 (tests/s3/s3lib.sh,
# through the fault proxy, which logs every request): a segment's chunks are
# read as a few ranges of their pack, not one GET per chunk (issue 31).
# A 16 MiB WAL segment of mixed content (hundreds of chunks) is pushed, then
# fetched with --prefetch 0: the file is bit for bit the segment, and the
# GETs of data packs number at most 8 (4 MiB ranges of a pack of ~9 MiB;
# before: one per chunk). The async fetcher fetches it too.
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

s3_start || e2e_done
s3_proxy_start || e2e_done
export STRATA_REPOSITORY=$PROXY_LOCATION
SEG=000000010000000000000007
mkdir -p "$T/pg_wal"
# Half random, half a repeating pattern: compressible like WAL, cut into
# hundreds of chunks.
python3 -S -c '
import os, sys
out = bytearray()
while len(out) < 16 << 20:
    out += os.urandom(4096) + (b"page-%08d " % len(out)) * 380
sys.stdout.buffer.write(bytes(out[:16 << 20]))' >"$T/$SEG"
expect "init in S3" "$STRATA" init -q
"$STRATA" wal-push --json "$T/$SEG" >"$T/push.json" 2>"$T/err"
chunks=$(json "$T/push.json" "d['chunks']")
if [ "${chunks:-0}" -ge 100 ]; then pass "wal-push: $chunks chunks"; else fail "wal-push" "$(cat "$T/push.json" "$T/err")"; fi
rm -rf "$STRATA_CACHE_DIR"
s3_faults ''
expect "wal-fetch from S3" "$STRATA" wal-fetch --prefetch 0 "$SEG" "$T/pg_wal/RECOVERYXLOG"
s3_proxy_log >"$T/plog"
if cmp -s "$T/pg_wal/RECOVERYXLOG" "$T/$SEG"; then pass "wal-fetch from S3: bit for bit"; else fail "wal-fetch from S3: content" "differs"; fi
gets=$(grep -c 'GET [^ ]*/data/' "$T/plog")
if [ "$gets" -ge 1 ] && [ "$gets" -le 8 ]; then
	pass "wal-fetch read $chunks chunks with $gets GETs of data packs"
else
	fail "GETs of data packs" "$gets for $chunks chunks: $(grep 'GET' "$T/plog" | head -c 600)"
fi
rm -f "$T/pg_wal/RECOVERYXLOG"
expect "wal-fetch --async from S3" "$STRATA" wal-fetch --async --idle 5 "$SEG" "$T/pg_wal/RECOVERYXLOG"
if cmp -s "$T/pg_wal/RECOVERYXLOG" "$T/$SEG"; then pass "wal-fetch --async: bit for bit"; else fail "wal-fetch --async: content" "differs"; fi
for l in "$STRATA_CACHE_DIR"/walfetch/*.lock; do
	pid=$(cat "$l" 2>/dev/null)
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	i=0
	while [ -n "$pid" ] && [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
done
e2e_done
