# e2e_prune.sh — forget and prune end to end.
#   1. every keep rule against a synthetic history made through the real
#      backup path (hidden --time, --label, --host), the expected kept sets
#      written out by hand; --dry-run output and --json reasons;
#   2. prune: dry run bytes, deleting, repacking, orphan packs, a plan kept
#      for later (--mark-only, --grace, --min-age-*) and its sweep keeping
#      packs that a newer snapshot needs, refusing to run on a damaged index;
#   3. two hosts backing up into one repository while forget and prune run,
#      repeated; then every snapshot restores bit-exactly and check is clean.
# POSIX sh (run by tests/run.sh with sh). The three parts use their own
# repositories; tests/run.sh runs them side by side.
# e2e-parts: rules prune concurrent
. "$(dirname "$0")/e2e_lib.sh"

# A private copy: other work may relink build/strata while this runs.
cp "$STRATA" "$T/strata" && STRATA="$T/strata"
export TZ=UTC            # calendar buckets of the keep rules are local time
export STRATA_REPOSITORY="$R"
SMALL="--chunk-min 1K --chunk-avg 4K --chunk-max 16K --pack-size 96K"

check() {
	if r=$(json "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $(printf %s "$r" | head -c 200) in $(tr -d '\n' <"$T/out" | head -c 600)"; fi
}
err_has() {
	if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^strata: ' "$T/err" && grep -qF -- "$2" "$T/err"; then
		pass "$1"
	else
		fail "$1" "wanted one line with '$2', stderr was: $(head -c 400 "$T/err")"
	fi
}
out_has() {
	if grep -qE -- "$2" "$T/out"; then pass "$1"; else fail "$1" "no line matching '$2' in: $(head -c 800 "$T/out")"; fi
}

if e2e_part rules; then
# ======================================================================
# 1. Keep rules over a synthetic history
# ======================================================================
mkdir -p "$T/src" "$T/other"
printf 'content\n' >"$T/src/f"
printf 'other\n' >"$T/other/f"
expect "init" "$STRATA" init $SMALL

# snap NAME TIME HOST TAGS HEIGHT [PATH] — one backup named by label name=NAME.
snap() {
	set -- "$@"
	n=$1; tm=$2; h=$3; tags=$4; height=$5; path=${6:-$T/src}
	targs=""
	for t in $(echo "$tags" | tr ',' ' '); do targs="$targs --tag $t"; done
	largs="--label name=$n"
	[ "$height" = "-" ] || largs="$largs --label height=$height"
	"$STRATA" backup -q --time "$tm" --host "$h" $targs $largs "$path" >"$T/out" 2>"$T/err" ||
		fail "backup $n" "$(cat "$T/err")"
}
# Host alpha, /src. ISO weeks: 2023-12-30 Sat and 2023-12-31 Sun are in
# 2023-W52; 2024-01-01 Mon and 2024-01-07 Sun in 2024-W01; 2024-01-08 W02;
# 2024-02-15 W07; 2024-03-01 Fri W09.
snap a "2022-06-15 12:00Z" alpha ""          1000
snap b "2023-12-30 12:00Z" alpha "db,weekly" 1500
snap c "2023-12-31 12:00Z" alpha ""          2000
snap d "2024-01-01 06:00Z" alpha "daily"     2001
snap e "2024-01-01 18:00Z" alpha ""          abc
snap f "2024-01-07 12:00Z" alpha ""          3000
snap g "2024-01-08 12:00Z" alpha "weekly,db" -
snap h "2024-02-15 12:00Z" alpha "db"        100000
snap i "2024-03-01 12:00Z" alpha ""          4500
snap j "2024-03-01 20:00Z" alpha ""          5000
# Host hr: within a few hours.
snap ha "2024-01-01 00:10Z" hr "" -
snap hb "2024-01-01 00:50Z" hr "" -
snap hc "2024-01-01 01:20Z" hr "" -
snap hd "2024-01-01 02:05Z" hr "" -
snap he "2024-01-01 02:40Z" hr "" -
snap hf "2024-01-01 04:00Z" hr "" -
# Other groups.
snap k "2024-01-01 00:00Z" beta "" -
snap l "2024-03-01 10:00Z" beta "" -
expect "18 snapshots" "$STRATA" snapshots --json
check "18 snapshots listed" "len(d)==18"

# kept NAME EXPECTED ARGS... — forget --dry-run --json keeps exactly the
# snapshots named EXPECTED (their name labels, sorted, concatenated).
kept() {
	n=$1; want=$2; shift 2
	if "$STRATA" forget --dry-run --json "$@" >"$T/out" 2>"$T/err"; then
		got=$(json "$T/out" "''.join(sorted(s['labels']['name'] for g in d['groups'] for s in g['keep']))")
		if [ "$got" = "$want" ]; then pass "$n"; else fail "$n" "kept '$got', expected '$want'"; fi
	else
		fail "$n" "exit $?: $(cat "$T/err")"
	fi
}
A="--host alpha"
kept "keep-last 3"                  hij           $A --keep-last 3
kept "keep-last unlimited"          abcdefghij    $A --keep-last unlimited
kept "keep-hourly 3"                hchehf        --host hr --keep-hourly 3
kept "keep-hourly 10 keeps oldest"  hahbhchehf    --host hr --keep-hourly 10
kept "keep-daily 4"                 fghj          $A --keep-daily 4
kept "keep-daily unlimited"         abcefghj      $A --keep-daily unlimited
kept "keep-weekly 3"                ghj           $A --keep-weekly 3
kept "keep-weekly 10 (ISO weeks)"   acfghj        $A --keep-weekly 10
kept "keep-monthly 2"               hj            $A --keep-monthly 2
kept "keep-monthly 5"               acghj         $A --keep-monthly 5
kept "keep-yearly 2"                cj            $A --keep-yearly 2
kept "keep-yearly 5"                acj           $A --keep-yearly 5
kept "keep-within 1d (leap day)"    ij            $A --keep-within 1d
kept "keep-within 16d"              hij           $A --keep-within 16d
kept "keep-within 2m"               fghij         $A --keep-within 2m
kept "keep-within 2m1d"             defghij       $A --keep-within 2m1d
kept "keep-within 1y6m"             bcdefghij     $A --keep-within 1y6m
kept "keep-within 2d12h"            ij            $A --keep-within 2d12h
kept "keep-within 8h is strict"     j             $A --keep-within 8h
kept "keep-tag db,weekly"           bg            $A --keep-tag db,weekly
kept "keep-tag db"                  bgh           $A --keep-tag db
kept "keep-tag either list"         bdg           $A --keep-tag daily --keep-tag weekly,db
kept "keep-label height%1000"       acfhj         $A --keep-label height%1000
kept "keep-label height%500"        abcfhij       $A --keep-label height%500
kept "daily 2 + monthly 3"          ghj           $A --keep-daily 2 --keep-monthly 3
kept "within 2d12h + label"         acfhij        $A --keep-within 2d12h --keep-label height%1000
kept "filter by host: beta"         l             --host beta --keep-last 1
# Groups: alpha /src -> j, alpha /other -> m, hr -> hf, beta -> l.
snap m "2024-01-05 00:00Z" alpha "" - "$T/other"
kept "groups host,paths"            hfjlm         --keep-last 1
kept "group by host"                hfjl          --keep-last 1 --group-by host
kept "one group"                    j             --keep-last 1 --group-by ""
kept "filter by tag"                h             --tag db --keep-last 1

# --dry-run, as a person reads it.
expect "forget --dry-run" "$STRATA" forget $A --keep-daily 4 --keep-label height%1000 --dry-run
out_has "dry run: group header" "^host alpha, paths $T/src: keep 6 of 10 snapshots$"
out_has "dry run: j kept for two reasons" "^  keep +[0-9a-f]{8}  2024-03-01 20:00:00  alpha  labels name=j,height=5000  \(daily, label height%1000\)$"
out_has "dry run: g kept daily" "^  keep +[0-9a-f]{8}  2024-01-08 12:00:00  alpha  tags weekly,db  labels name=g  \(daily\)$"
out_has "dry run: e would be removed" "^  would remove [0-9a-f]{8}  2024-01-01 18:00:00  alpha  labels name=e,height=abc$"
out_has "dry run: total" "^4 snapshots would be removed, 7 kept$"
[ "$(grep -c '^  would remove' "$T/out")" -eq 4 ] && pass "dry run: four removals listed" || fail "dry run: four removals" "$(cat "$T/out")"
expect "forget --dry-run --json" "$STRATA" forget $A --keep-daily 2 --keep-within 2d12h --dry-run --json
check "json: reasons per kept snapshot" "[(s['labels']['name'], s['reasons']) for s in d['groups'][0]['keep']] == [('j', ['daily', 'within 2d12h']), ('i', ['within 2d12h']), ('h', ['daily'])]"
check "json: group key and removals" "d['dry_run'] and d['groups'][0]['host']=='alpha' and d['groups'][0]['paths']==['$T/src'] and d['groups'][0]['tags'] is None and len(d['groups'][0]['remove'])==7 and d['kept']==4 and len(d['removed'])==7 and d['groups'][1]['paths']==['$T/other']"
expect "dry run removed nothing" "$STRATA" snapshots --json
check "still 19 snapshots" "len(d)==19"

# Usage errors.
expect_exit "forget without a rule" 2 "$STRATA" forget
err_has "forget without a rule: message" "no --keep-* rule given: forgetting without one would remove every snapshot"
expect_exit "bad duration" 2 "$STRATA" forget --keep-within 2x
err_has "bad duration: message" "duration '2x': expected NUMBER UNIT pairs"
expect_exit "bad label rule" 2 "$STRATA" forget --keep-label height%0
err_has "bad label rule: message" "expected KEY%N with N a positive number"
expect_exit "bad count" 2 "$STRATA" forget --keep-last 0
expect_exit "bad group-by" 2 "$STRATA" forget --keep-last 1 --group-by hosts
expect_exit "IDs and rules" 2 "$STRATA" forget --keep-last 1 abcd
expect_exit "unknown snapshot ID" 14 "$STRATA" forget ffffffff

# Apply for real.
expect "forget for real" "$STRATA" forget $A --keep-last 3
out_has "forget: total" "^7 snapshots removed, 4 kept$"
expect "snapshots after forget" "$STRATA" snapshots --json
check "12 snapshots left" "len(d)==12 and sorted(s['labels']['name'] for s in d if s['host']=='alpha' and s['paths']==['$T/src'])==['h','i','j']"
ID_M=$(json "$T/out" "[s['id'] for s in d if s['labels']['name']=='m'][0]")
expect "forget by ID" "$STRATA" forget "$(printf %.8s "$ID_M")"
out_has "forget by ID: line" "^removed snapshot $(printf %.8s "$ID_M")$"
expect "prune after forget" "$STRATA" prune
expect "check after forget and prune" "$STRATA" check --read-data

fi

if e2e_part prune; then
# ======================================================================
# 2. Prune
# ======================================================================
R="$T/repo2"
export STRATA_REPOSITORY="$R"
expect "init repo2" "$STRATA" init $SMALL
S="$T/data"
mkdir -p "$S"
i=1; while [ $i -le 40 ]; do head -c 20000 /dev/urandom >"$S/f$(printf %02d $i)"; i=$((i + 1)); done
expect "backup 40 files" "$STRATA" backup "$S"
rm "$S"/f0* "$S"/f1*
expect "backup 31 files" "$STRATA" backup "$S"
( cd "$R" && find . -type f | grep -v '^./locks/' | sort ) >"$T/before"
expect "forget --dry-run --prune" "$STRATA" forget --keep-last 1 --dry-run --prune
out_has "forget --dry-run --prune: what would go" "^  would remove [0-9a-f]{8} "
out_has "forget --dry-run --prune: counts as if forgotten" "^repository: .* 1 snapshots \(after forget\)$"
out_has "forget --dry-run --prune: bytes it would free" "^would free:  [0-9.]+ KiB$"
( cd "$R" && find . -type f | grep -v '^./locks/' | sort ) >"$T/after"
cmp -s "$T/before" "$T/after" && pass "forget --dry-run --prune changes nothing" || fail "forget --dry-run --prune changes nothing" "$(diff "$T/before" "$T/after" | head -5)"
expect "forget the first" "$STRATA" forget --keep-last 1

( cd "$R" && find . -type f | sort ) >"$T/before"
expect "prune --dry-run" "$STRATA" prune --dry-run --json
check "dry run: bytes to free" "d['dry_run'] and d['unused_packs']>0 and d['bytes_to_free']>=d['unused_pack_bytes']>0 and d['plan_id'] is None and d['done']['packs_deleted']==0"
FREE=$(json "$T/out" "d['bytes_to_free']")
expect "prune --dry-run, human" "$STRATA" prune --dry-run
out_has "dry run: would free" "^would free:  [0-9.]+ KiB$"
out_has "dry run: delete line" "^delete: +[1-9][0-9]* packs holding nothing reachable"
( cd "$R" && find . -type f | sort ) >"$T/after"
cmp -s "$T/before" "$T/after" && pass "dry run changes nothing" || fail "dry run changes nothing" "$(diff "$T/before" "$T/after" | head -5)"
SIZE0=$(du -sb "$R/data" | cut -f1)
expect "prune" "$STRATA" --json prune
check "prune: plan written and swept" "d['plan_id'] is not None and d['done']['plans_swept']==1 and d['done']['packs_deleted']>0 and d['done']['plans_pending']==0"
SIZE1=$(du -sb "$R/data" | cut -f1)
[ $((SIZE0 - SIZE1)) -ge $((FREE * 9 / 10)) ] && pass "data shrank by what the dry run said" || fail "data shrank" "$SIZE0 -> $SIZE1, dry run said $FREE"
expect "check --read-data after prune" "$STRATA" check --read-data
expect "restore after prune" "$STRATA" restore latest --target "$T/r1"
same_tree "restore after prune is exact" "$T/r1$S" "$S"

# Repack: every other file goes, so every pack is half unused.
expect "backup before thinning" "$STRATA" backup "$S"
for f in "$S"/f2[13579] "$S"/f3[13579]; do rm "$f"; done
expect "backup thinned" "$STRATA" backup "$S"
expect "forget all but the last" "$STRATA" forget --keep-last 1
expect "prune --max-unused 100: no repacking" "$STRATA" --json prune --max-unused 100 --dry-run
check "max-unused 100 repacks nothing" "d['repack_packs']==0"
expect "prune repacks" "$STRATA" --json prune
check "repacked" "d['repack_packs']>0 and d['done']['packs_written']>0 and d['done']['packs_deleted']>=d['repack_packs'] and d['repack_used_bytes']>0"
expect "check after repack" "$STRATA" check --read-data
expect "restore after repack" "$STRATA" restore latest --target "$T/r2"
same_tree "restore after repack is exact" "$T/r2$S" "$S"
expect "prune again: nothing to do" "$STRATA" --json prune
check "second prune finds nothing" "d['unused_packs']==0 and d['repack_packs']==0 and d['orphan_packs']==0 and d['plan_id'] is None"

# --max-unused is a share of all pack data (restic's rule): one file gone
# out of 60 leaves ~2 % unreachable, tolerated by the default 5 %; 0 %
# rewrites the packs that hold it, and 1 % lies between.
i=41; while [ $i -le 100 ]; do head -c 20000 /dev/urandom >"$S/g$i"; i=$((i + 1)); done
expect "backup 60 more files" "$STRATA" backup "$S"
rm "$S/g70"
expect "backup without one" "$STRATA" backup "$S"
expect "forget the one before" "$STRATA" forget --keep-last 1
expect "prune: a little unused is kept" "$STRATA" --json prune --dry-run
check "default 5%: nothing repacked, the unused bytes kept" "d['repack_packs']==0 and 15000 < d['kept_unused_bytes'] < 60000"
expect "prune --max-unused 0" "$STRATA" --json prune --dry-run --max-unused 0
check "0%: the packs holding it are repacked" "1 <= d['repack_packs'] <= 3 and d['kept_unused_bytes']==0"

# A pack no index file lists (left by a backup killed before its index).
mkdir -p "$R/data/ab"
ORPHAN="$R/data/ab/ab$(printf '%062d' 1)"
head -c 5000 /dev/urandom >"$ORPHAN"
expect "prune deletes an orphan pack" "$STRATA" --json prune
check "one orphan" "d['orphan_packs']==1 and d['orphan_bytes']==5000"
[ ! -e "$ORPHAN" ] && pass "orphan gone" || fail "orphan gone" "still there"

# A plan kept for later: --mark-only, then runs that must wait.
head -c 60000 /dev/urandom >"$S/keepme"
expect "backup with keepme" "$STRATA" backup "$S"
rm "$S/keepme"
expect "backup without keepme" "$STRATA" backup "$S"
expect "forget the keepme snapshot" "$STRATA" forget --keep-last 1
expect "prune --mark-only" "$STRATA" --json prune --mark-only
check "mark-only: plan pending" "d['plan_id'] is not None and d['done']['plans_swept']==0 and d['done']['plans_pending']==1"
expect "a later prune with --grace waits" "$STRATA" prune --grace 1h
out_has "grace: deferred" "^deletion deferred: prune plan [0-9a-f]{8} waits: its grace period has not passed$"
expect "min-age-data waits" "$STRATA" prune --min-age-data 90d
out_has "min-age: deferred" "data packs have not reached their minimum age before deletion"
[ "$(ls "$R/prune" | wc -l)" -eq 1 ] && pass "no second plan while one waits" || fail "no second plan" "$(ls "$R/prune")"
expect "prune sweeps the plan" "$STRATA" --json prune
check "swept" "d['done']['plans_swept']==1 and d['done']['plans_pending']==0"
expect "check after the sweep" "$STRATA" check --read-data

# Resurrection: a snapshot made after the plan needs a condemned pack.
head -c 70000 /dev/urandom >"$T/precious"
cp "$T/precious" "$S/precious"
expect "backup with precious" "$STRATA" backup "$S"
rm "$S/precious"
expect "backup without precious" "$STRATA" backup "$S"
expect "forget the precious snapshot" "$STRATA" forget --keep-last 1
expect "plan condemning precious's packs" "$STRATA" --json prune --mark-only
check "precious packs condemned" "d['unused_packs']>0 and d['done']['plans_pending']==1"
cp "$T/precious" "$S/precious"
expect "backup precious again (deduplicated against condemned packs)" "$STRATA" --json backup "$S"
check "nothing new stored" "d['summary']['bytes_added'] < 70000"
expect "sweep keeps what the new snapshot needs" "$STRATA" --json prune
check "resurrected" "d['done']['plans_swept']==1 and d['done']['packs_resurrected']>0"
expect "check after resurrection" "$STRATA" check --read-data
expect "restore precious" "$STRATA" restore latest --target "$T/r4"
same_tree "precious restored exactly" "$T/r4$S" "$S"

# Prune refuses a repository whose index misses what a snapshot needs.
mkdir -p "$T/saved-index"
cp "$R"/index/* "$T/saved-index/"
rm "$R"/index/*
rm -rf "$STRATA_CACHE_DIR"
( cd "$R" && find . -type f | sort ) >"$T/before"
expect_exit "prune refuses when blobs are unindexed" 1 "$STRATA" prune
err_has "refusal names snapshot and blob" "which no index file lists: prune deletes nothing until \`strata check\` and \`strata repair\` have dealt with it"
( cd "$R" && find . -type f | grep -v '^./locks/' | sort ) >"$T/after"
cmp -s "$T/before" "$T/after" && pass "refusal deleted nothing" || fail "refusal deleted nothing" "$(diff "$T/before" "$T/after" | head)"
cp "$T/saved-index"/* "$R/index/"
rm -rf "$STRATA_CACHE_DIR"
expect "check with the index back" "$STRATA" check --read-data

# WAL descriptors are roots like snapshots: prune keeps their chunks.
mkdir -p "$T/wal"
head -c 300000 /dev/urandom >"$T/wal/000000010000000000000001"
expect "wal-push" "$STRATA" wal-push "$T/wal/000000010000000000000001"
expect "prune with a WAL archive" "$STRATA" --json prune --max-unused 0
check "WAL chunks count as reachable" "d['used_bytes'] > 300000"
expect "wal-fetch after prune" "$STRATA" wal-fetch 000000010000000000000001 "$T/wal/fetched"
cmp -s "$T/wal/fetched" "$T/wal/000000010000000000000001" && pass "WAL file intact after prune" || fail "WAL file intact after prune" "differs"
expect "check with the WAL archive" "$STRATA" check --read-data

expect_exit "prune: bad --max-unused" 2 "$STRATA" prune --max-unused 150
expect_exit "prune: bad --grace" 2 "$STRATA" prune --grace soon
expect_exit "prune: stray argument" 2 "$STRATA" prune now

fi

if e2e_part concurrent; then
# ======================================================================
# 3. Two hosts back up while forget and prune run, repeated
# ======================================================================
R="$T/repo3"
export STRATA_REPOSITORY="$R"
export STRATA_LOCK_WAIT=60
expect "init repo3" "$STRATA" init $SMALL
POOL="$T/pool"
mkdir -p "$POOL" "$T/expect"
i=1; while [ $i -le 24 ]; do head -c 12000 /dev/urandom >"$POOL/p$i"; i=$((i + 1)); done

# backup_loop HOST ROUNDS — each round: a source of 5 random pool files and
# one new file, backed up; the exact tree kept under expect/<snapshot id>.
backup_loop() {
	h=$1; n=$2; k=0
	src="$T/src-$h"
	while [ $k -lt $n ]; do
		rm -rf "$src"; mkdir -p "$src"
		for p in $(ls "$POOL" | shuf -n 5); do cp "$POOL/$p" "$src/$p"; done
		head -c 9000 /dev/urandom >"$src/new-$k"
		if "$STRATA" --json backup --host "$h" "$src" >"$T/bk-$h.json" 2>"$T/bk-$h.err"; then
			id=$(json "$T/bk-$h.json" "d['snapshot_id']")
			cp -a "$src" "$T/expect/$id"
		else
			echo "backup $h failed: $(cat "$T/bk-$h.err")" >>"$T/conc-errors"
		fi
		sleep "0.$(shuf -i 0-3 -n 1)"
		k=$((k + 1))
	done
}
# prune_loop — forget old snapshots of both hosts and prune until told to stop.
prune_loop() {
	while [ ! -e "$T/stop" ]; do
		"$STRATA" forget --group-by host --keep-last 3 >/dev/null 2>>"$T/conc-errors" ||
			echo "forget failed" >>"$T/conc-errors"
		if "$STRATA" --json prune --max-unused 0 >"$T/pr.json" 2>"$T/pr.err"; then
			cat "$T/pr.json" >>"$T/prunes.json"; echo >>"$T/prunes.json"
		else
			echo "prune failed: $(cat "$T/pr.err" "$T/pr.json")" >>"$T/conc-errors"
		fi
	done
}
: >"$T/conc-errors"; : >"$T/prunes.json"
round=1
while [ $round -le 3 ]; do
	rm -f "$T/stop"
	prune_loop & PL=$!
	backup_loop hostA 6 & BA=$!
	backup_loop hostB 6 & BB=$!
	wait $BA; wait $BB
	touch "$T/stop"; wait $PL
	round=$((round + 1))
done
if [ -s "$T/conc-errors" ]; then fail "concurrent runs without errors" "$(head -c 600 "$T/conc-errors")"; else pass "concurrent runs without errors"; fi
python3 - "$T/prunes.json" >"$T/conc-stats" <<'EOF'
import json, sys
text, runs, at, dec = open(sys.argv[1]).read(), [], 0, json.JSONDecoder()
while text[at:].strip():
    at += len(text[at:]) - len(text[at:].lstrip())
    doc, at = dec.raw_decode(text, at)
    runs.append(doc)
print(len(runs), sum(r['done']['plans_swept'] for r in runs), sum(r['done']['packs_deleted'] for r in runs),
      sum(r['done']['packs_resurrected'] for r in runs), sum(1 for r in runs if r['deferred']))
EOF
read NPR NSW NDEL NRES NDEF <"$T/conc-stats"
echo "   concurrency: $NPR prune runs, $NSW plans swept, $NDEL packs deleted, $NRES packs kept for newer snapshots, $NDEF runs deferred"
[ "$NSW" -gt 0 ] && [ "$NDEL" -gt 0 ] && pass "prune deleted data while hosts backed up" || fail "prune deleted data" "$(cat "$T/conc-stats")"
unset STRATA_LOCK_WAIT
expect "final prune" "$STRATA" prune
expect "check --read-data after the concurrent rounds" "$STRATA" check --read-data
expect "snapshots after the concurrent rounds" "$STRATA" snapshots --json
json "$T/out" "'\n'.join(s['id'] for s in d)" >"$T/ids"
nok=0; nbad=0
while read -r id; do
	rm -rf "$T/rc"
	h=$(json "$T/out" "[s['host'] for s in d if s['id']=='$id'][0]")
	if "$STRATA" restore "$id" --target "$T/rc" >/dev/null 2>"$T/rc.err" &&
	   diff -r "$T/rc$T/src-$h" "$T/expect/$id" >/dev/null 2>&1; then
		nok=$((nok + 1))
	else
		nbad=$((nbad + 1)); echo "snapshot $id: $(head -c 300 "$T/rc.err")"
	fi
done <"$T/ids"
[ $nbad -eq 0 ] && [ $nok -gt 0 ] && pass "all $nok snapshots restore bit-exactly" || fail "snapshots restore bit-exactly" "$nbad of $((nok + nbad)) differ"
fi

e2e_done
