#!/bin/sh
# e2e_traps.sh — the traps tools/cli/doc/runbook.md "Traps" lists, checked
# (issue 30): prune keeps archived WAL (no snapshot needs it, yet a
# prune after forgetting every snapshot deletes none of it); compressed
# inputs defeat deduplication (a gzip of a file with one line changed adds
# nearly all its bytes again, the plain file a few chunks); backup --time
# and a local: location are taken as documented. POSIX sh.
. tests/e2e_lib.sh
export STRATA_REPOSITORY="$R"
expect init "$STRATA" init

# ---- prune keeps archived WAL ----
W="$T/pg_wal"
mkdir -p "$W"
SEG=000000010000000000000001
head -c 4000000 /dev/urandom >"$W/$SEG"
head -c 12777216 /dev/zero >>"$W/$SEG"
expect "wal-push" "$STRATA" wal-push "$W/$SEG"
mkdir -p "$T/s" && echo x >"$T/s/x"
expect "backup" "$STRATA" backup -q "$T/s"
expect "forget every snapshot" "$STRATA" forget latest
expect "prune with no snapshot left" "$STRATA" prune
expect "wal-fetch after the prune" "$STRATA" wal-fetch "$SEG" "$T/fetched"
if cmp -s "$W/$SEG" "$T/fetched"; then pass "prune keeps archived WAL: the segment comes back bit for bit"; else fail "prune keeps archived WAL" "the fetched segment differs"; fi
expect "check --read-data after the prune" "$STRATA" check --read-data

# ---- compressed inputs defeat deduplication ----
python3 - "$T/dump.sql" <<'EOF'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "w") as f:
    for i in range(60000):
        f.write("INSERT INTO t VALUES (%d, '%x', %d);\n" % (i, r.getrandbits(64), r.randrange(10**6)))
EOF
gzip -n -c "$T/dump.sql" >"$T/dump.sql.gz"
expect "backup plain dump 1" "$STRATA" backup --stdin --stdin-name dump.sql --json <"$T/dump.sql"
expect "backup gzip dump 1" "$STRATA" backup --stdin --stdin-name dump.sql.gz --json <"$T/dump.sql.gz"
sed -i '100s/.*/INSERT INTO t VALUES (99, changed, 0);/' "$T/dump.sql"
gzip -n -c "$T/dump.sql" >"$T/dump.sql.gz"
expect "backup plain dump 2" "$STRATA" backup --stdin --stdin-name dump.sql --json <"$T/dump.sql"
plain=$(json "$T/out" "d['summary']['bytes_added']")
expect "backup gzip dump 2" "$STRATA" backup --stdin --stdin-name dump.sql.gz --json <"$T/dump.sql.gz"
gz=$(json "$T/out" "d['summary']['bytes_added']")
gzsize=$(wc -c <"$T/dump.sql.gz")
if [ "$plain" -lt 300000 ] && [ $((gz * 100)) -gt $((gzsize * 90)) ]; then
	pass "one changed line: plain dump adds $plain B, its gzip adds $gz of $gzsize B (compressed inputs defeat deduplication)"
else
	fail "compressed inputs defeat deduplication" "plain $plain B, gzip $gz of $gzsize B"
fi

# ---- backup --time and a local: location ----
expect "backup --time" "$STRATA" -r "local:$R" backup -q --time '2024-05-01T12:00:00Z' "$T/s"
"$STRATA" snapshots --json --host "$(hostname)" >"$T/snaps"
if [ "$(json "$T/snaps" "[s['time'] for s in d if s['time'].startswith('2024')]")" = "['2024-05-01T12:00:00.000000000Z']" ]; then
	pass "backup --time records the time given; local:PATH is the same repository"
else
	fail "backup --time" "$(head -c 400 "$T/snaps")"
fi
e2e_done
