#!/bin/sh
# bench_rollback.sh — rolling a node back 20 blocks: `restore --delta
# --delete` over the node's current directory against a full restore into
# an empty one, locally and from the S3 test server (issue 30).
#
#   sh tools/dev/bench_rollback.sh [SIZE]     (from the repository root;
#                                              SIZE default 1G)
#
# The bench set (build/tools/dev/gen_chain_data init DIR SIZE) is backed
# up (snapshot A), advanced 20 blocks and backed up again (B). Then, for
# the local repository and for a replica of it on tests/s3's server
# (s3rver on 127.0.0.1, see tests/s3/s3lib.sh; skipped without node/npm):
#   full   restore A into an empty directory
#   delta  restore A with --delta --delete over a copy of the directory
#          at B (the rollback), checked identical to A's restore
#   delta=fast  the same with --delta=fast (files whose size and mtime
#          match are kept unread)
# Each prints wall seconds and restore --json's bytes_fetched, requests,
# bytes_reused. The page cache is not dropped (no root needed): the
# delta's reads of the existing files come from memory, as on a node
# that was running.
. tests/e2e_lib.sh
SIZE=${1:-1G}
GEN=$(pwd)/build/tools/dev/gen_chain_data
[ -x "$GEN" ] || { echo "bench_rollback: run make first" >&2; exit 1; }
D="$T/node"
"$GEN" init "$D" "$SIZE" >/dev/null
"$STRATA" -r "$R" init -q
"$STRATA" -r "$R" backup -q --tag chain "$D"
A=$("$STRATA" -r "$R" snapshots --json | json_in "d[-1]['id']")
"$GEN" advance "$D" 20 >/dev/null
"$STRATA" -r "$R" backup -q --tag chain "$D"
cp -a "$D" "$T/at-b"
total=$("$STRATA" -r "$R" cat snapshot "$A" | json_in "d['summary']['bytes_total']")
echo "bench set $SIZE: snapshot A holds $total bytes; the node is 20 blocks further (B)"

# run NAME REPO ARGS... — one timed restore of A, its JSON summarised.
run() {
	name=$1 repo=$2
	shift 2
	t0=$(date +%s.%N)
	"$STRATA" -r "$repo" restore "$A" --json "$@" >"$T/r.json" 2>"$T/r.err" || { echo "$name failed: $(cat "$T/r.err")"; return 1; }
	t1=$(date +%s.%N)
	python3 - "$name" "$t0" "$t1" "$T/r.json" "$total" <<'EOF'
import json, sys
name, t0, t1, path, total = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
d = json.load(open(path))
delta = d.get("delta", {})
print("%-14s %7.2f s  fetched %12d B (%5.2f %% of A)  requests %5d  reused %12d B  kept %5s  updated %4s  removed %3d" % (
    name, t1 - t0, d["bytes_fetched"], 100.0 * d["bytes_fetched"] / total, d["requests"],
    delta.get("bytes_reused", 0), delta.get("files_skipped", "-"), delta.get("files_updated", "-"),
    len(d.get("deleted", []))))
EOF
}

# both LABEL REPO — a full and a delta restore of A from REPO.
both() {
	rm -rf "$T/full" "$T/roll"
	run "$1 full" "$2" --target "$T/full"
	cp -a "$T/at-b" "$T/roll-src"
	mkdir -p "$T/roll$(dirname "$D")"
	mv "$T/roll-src" "$T/roll$D"
	run "$1 delta" "$2" --target "$T/roll" --delta --delete
	if diff -r --no-dereference "$T/full" "$T/roll" >/dev/null; then echo "$1: delta result identical to the full restore"; else echo "$1: DIFFERS"; fi
	rm -rf "$T/roll"
	cp -a "$T/at-b" "$T/roll-src"
	mkdir -p "$T/roll$(dirname "$D")"
	mv "$T/roll-src" "$T/roll$D"
	run "$1 delta=fast" "$2" --target "$T/roll" --delta=fast --delete
	if diff -r --no-dereference "$T/full" "$T/roll" >/dev/null; then echo "$1: delta=fast result identical to the full restore"; else echo "$1: DIFFERS"; fi
	rm -rf "$T/full" "$T/roll"
}

both local "$R"
. tests/s3/s3lib.sh
s3_start || e2e_done
"$STRATA" -r "$R" replicate --to "$S3_LOCATION" -q >/dev/null 2>"$T/rep.err" ||
	{ echo "replicate failed: $(cat "$T/rep.err")"; exit 1; }
rm -rf "$STRATA_CACHE_DIR"
both s3 "$S3_LOCATION"
