#!/bin/sh
# e2e_s3_repo.sh — the strata binary against a real S3 server that checks
# SigV4 signatures (tests/s3/s3lib.sh): init with a tier rule, backup,
# incremental backup, restore bit-exact, check --read-data, a restore from
# S3 alone on an empty cache, the restore read planner's request counts;
# then through tests/s3/faultproxy.js: 500/503, connections closed
# mid-body, stalls past the timeout, truncated bodies during backup and
# restore (they complete, or fail with one clear line and leave the
# repository valid); archived packs (InvalidObjectState, RestoreObject,
# --cold-wait); a hostile server (listings that never end, objects larger
# than their kind allows: refused unread, junk in locks/ ignored); wrong
# credentials.
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

s3_start || e2e_done
s3_proxy_start || e2e_done
# s3api OP ARGS — an independent S3 client (tests/s3api.py: list, head, get,
# put, delete), ~0.1 s of CPU a call where `aws s3api` took ~1.3 s.
s3api() { python3 -S tests/s3api.py "$S3_ENDPOINT" "$S3_BUCKET" "$@"; }
L=$S3_LOCATION
P=$PROXY_LOCATION
S="$T/src"
export STRATA_S3_RETRIES=3
# Retries after 10-20 ms, doubling, instead of 100-200 ms: the faults below
# are injected at chosen requests (the proxy's plan), not waited out, and
# each one's retry is asserted; the default pauses added ~2 s of sleep.
export STRATA_S3_BACKOFF_MS=20

# json FILE EXPR — a Python expression over the JSON document in FILE (d).

check_json() {
	if r=$(json "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $r in $(tr -d '\n' <"$T/out" | head -c 400)"; fi
}

one_error_line() {
	if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^strata: ' "$T/err" && grep -qi -- "$2" "$T/err"; then
		pass "$1"
	else
		fail "$1" "stderr was: $(head -c 400 "$T/err")"
	fi
}

# restored NAME DIR — DIR holds the source tree bit-exact.
restored() {
	same_tree "$1" "$S" "$2$S"
}

err_has() {
	if grep -qF -- "$2" "$T/err"; then pass "$1"; else fail "$1" "stderr lacks \"$2\": $(head -c 400 "$T/err")"; fi
}

# ---- a source tree: big random files, duplicates, small files, holes ----
mkdir -p "$S/d1/d2" "$S/small"
head -c 12000000 /dev/urandom >"$S/big1"
head -c 3000000 /dev/urandom >"$S/d1/rand3m"
cp "$S/big1" "$S/d1/d2/big1-copy"
i=0
while [ $i -lt 60 ]; do
	head -c $((i * 97 + 10)) /dev/urandom >"$S/small/f$i"
	i=$((i + 1))
done
# Directories two deep: the restore walk loads their trees ahead of
# itself, from a whole tree pack fetched once (store/blob_read.h).
i=0
while [ $i -lt 40 ]; do
	mkdir -p "$S/many/d$i/e$i"
	printf '%s\n' "$i" >"$S/many/d$i/e$i/f"
	i=$((i + 1))
done
truncate -s 40M "$S/sparse"
head -c 65536 /dev/urandom | dd of="$S/sparse" bs=65536 seek=300 conv=notrunc status=none
ln -s d1/rand3m "$S/link"
ln "$S/d1/rand3m" "$S/hardlink"
printf 'config=1\n' >"$S/d1/conf"

# ---- init, backup, incremental backup on S3 ----
expect s3repo_init "$STRATA" -r "$L" init --storage-class data=STANDARD_IA,metadata=STANDARD
expect s3repo_backup "$STRATA" -r "$L" backup "$S" --storage-class data=STANDARD_IA,metadata=STANDARD --json
cp "$T/out" "$T/backup1.json"
# The tier rule (given to init and to this backup): data packs STANDARD_IA, the rest STANDARD (no header).
s3api list repo/data/ 2>&1 | head -n 1 | cut -d' ' -f1 >"$T/key"
s3api head "$(cat "$T/key")" >"$T/head" 2>&1
if grep -q '"StorageClass": "STANDARD_IA"' "$T/head"; then pass s3repo_data_class; else fail s3repo_data_class "$(head -c 300 "$T/head")"; fi
s3api head repo/config >"$T/head" 2>&1
if grep -q ContentLength "$T/head" && ! grep -q StorageClass "$T/head"; then pass s3repo_config_standard; else fail s3repo_config_standard "$(head -c 300 "$T/head")"; fi

head -c 1000000 /dev/urandom >>"$S/big1"
printf 'new\n' >"$S/d1/new-file"
expect s3repo_incremental_backup "$STRATA" -r "$L" backup "$S" --json
check_json s3repo_incremental_adds_little "d['summary']['bytes_added'] < 3000000 and d['summary']['files_unchanged'] > 60"
expect s3repo_snapshots "$STRATA" -r "$L" snapshots --json
check_json s3repo_two_snapshots "len(d) == 2"
expect s3repo_ls "$STRATA" -r "$L" ls latest "$S/d1"
if grep -q new-file "$T/out"; then pass s3repo_ls_shows_new_file; else fail s3repo_ls_shows_new_file "$(head -c 300 "$T/out")"; fi

# ---- restore bit-exact, with few requests ----
expect s3repo_restore "$STRATA" -r "$L" restore latest --target "$T/r1" --json
restored s3repo_restore_bit_exact "$T/r1"
nchunks=$("$STRATA" -r "$L" stats --json 2>/dev/null | python3 -S -c 'import json,sys; print(json.load(sys.stdin).get("unique_chunks", 0))' 2>/dev/null || echo 0)
check_json s3repo_restore_counts "d['requests'] > 0 and d['bytes_fetched'] > 0 and d['bytes'] > 60000000"
reqs=$(json "$T/out" "d['requests']")
if [ "$nchunks" -gt 0 ] && [ "$reqs" -lt $((nchunks / 10)) ]; then
	pass s3repo_restore_requests_per_pack
else
	fail s3repo_restore_requests_per_pack "$reqs requests for $nchunks chunks"
fi
kb=$(du -k "$T/r1$S/sparse" | cut -f1)
if [ "$kb" -lt 4096 ]; then pass s3repo_sparse_stays_sparse; else fail s3repo_sparse_stays_sparse "$kb KiB allocated"; fi
hl1=$(stat -c %i "$T/r1$S/d1/rand3m"); hl2=$(stat -c %i "$T/r1$S/hardlink")
if [ -n "$hl1" ] && [ "$hl1" = "$hl2" ]; then pass s3repo_hard_link; else fail s3repo_hard_link "inodes $hl1 $hl2"; fi
expect s3repo_restore_include "$STRATA" -r "$L" restore latest --target "$T/r1i" --include "$S/d1/conf" --json
check_json s3repo_restore_include_one_request "d['files'] == 1 and d['requests'] == 1"
expect s3repo_dump "$STRATA" -r "$L" dump latest "$S/d1/rand3m"
if cmp -s "$T/out" "$S/d1/rand3m"; then pass s3repo_dump_bit_exact; else fail s3repo_dump_bit_exact "differs"; fi

expect s3repo_check_read_data "$STRATA" -r "$L" check --read-data

# ---- from S3 alone: no cache ----
rm -rf "$STRATA_CACHE_DIR"
expect s3repo_empty_cache_snapshots "$STRATA" -r "$L" snapshots
expect s3repo_empty_cache_restore "$STRATA" -r "$L" restore latest --target "$T/r2"
restored s3repo_empty_cache_bit_exact "$T/r2"
if [ -n "$(find "$STRATA_CACHE_DIR" -type f -path '*/index3/data.mdb' 2>/dev/null)" ] &&
   [ -z "$(find "$STRATA_CACHE_DIR" -type f -name '*.tmp*' 2>/dev/null)" ]; then
	pass s3repo_cache_rebuilt
else
	fail s3repo_cache_rebuilt "no index in $STRATA_CACHE_DIR, or temporary files left: $(find "$STRATA_CACHE_DIR" -type f 2>&1 | head -c 300)"
fi

# ---- faults during backup ----
printf 'third\n' >"$S/third"
head -c 2000000 /dev/urandom >"$S/d1/more"
# N counts requests. The key file that opened the repository last time is
# fetched without listing keys/ (FORMAT.md §6), so 15 and 16 list
# snapshots/, whose answers carry no checksum to catch a flipped byte; the
# flip goes to the answer of the snapshot's PUT (17), as it went to the
# index file's PUT when every open listed keys/.
s3_faults 2:500,4:503,6:close,8:reset,10:drop,12:corrupt,14:stall-4000,17:flip
expect s3repo_backup_through_faults env STRATA_S3_LOW_SPEED_TIME=1 "$STRATA" -r "$P" backup "$S"
if s3_proxy_log | grep -q ' 500 500$'; then pass s3repo_backup_saw_faults; else fail s3repo_backup_saw_faults "$(s3_proxy_log | head -c 300)"; fi
s3_faults ''
expect s3repo_after_faults_check "$STRATA" -r "$L" check --read-data
expect s3repo_after_faults_restore "$STRATA" -r "$L" restore latest --target "$T/r3"
restored s3repo_after_faults_bit_exact "$T/r3"

# A backup whose every request fails from some point on: one clear line,
# and the repository stays valid.
printf 'fourth\n' >"$S/fourth"
head -c 1500000 /dev/urandom >"$S/d1/more2"
s3_faults '*:503'
expect_exit s3repo_backup_all_503 4 env STRATA_S3_RETRIES=1 "$STRATA" -r "$P" backup "$S"
one_error_line s3repo_backup_all_503_one_line "giving up after 2 attempts"
s3_faults ''
expect s3repo_after_failed_backup_check "$STRATA" -r "$L" check --read-data
expect s3repo_after_failed_backup_snapshots "$STRATA" -r "$L" snapshots --json
check_json s3repo_after_failed_backup_three "len(d) == 3"

# ---- faults during restore ----
rm -rf "$STRATA_CACHE_DIR"
s3_faults 3:close,5:503,7:flip,9:reset,11:stall-4000,13:delay-200,15:500
# A 1 s low-speed limit makes the stall fault cheap to wait out; on a loaded
# machine an honest transfer can also fall under it, so this run may retry
# more than the default 5 times (every injected fault is still asserted).
expect s3repo_restore_through_faults env STRATA_S3_LOW_SPEED_TIME=1 STRATA_S3_RETRIES=12 "$STRATA" -r "$P" restore latest --target "$T/r4"
s3_proxy_log >"$T/flog"
missing=
for f in close 503 flip reset stall-4000 delay-200 500; do grep -q " $f\$" "$T/flog" || missing="$missing $f"; done
if [ -z "$missing" ]; then pass s3repo_restore_faults_injected; else fail s3repo_restore_faults_injected "never injected:$missing"; fi
s3_faults ''
rm -f "$S/fourth" "$S/d1/more2"   # not in the latest snapshot
restored s3repo_restore_through_faults_bit_exact "$T/r4"
s3_faults '*:503'
expect_exit s3repo_restore_all_503 4 env STRATA_S3_RETRIES=1 "$STRATA" -r "$P" restore latest --target "$T/r5"
one_error_line s3repo_restore_all_503_one_line "giving up"
s3_faults ''
expect s3repo_restore_after_failure "$STRATA" -r "$L" restore latest --target "$T/r5" --overwrite
restored s3repo_restore_after_failure_bit_exact "$T/r5"

# ---- archived packs: InvalidObjectState, RestoreObject, --cold-wait ----
npacks=$(s3api list repo/data/ 2>/dev/null | wc -l)
s3_cold 1500
s3_faults ''
expect_exit s3repo_cold_restore_stops 4 "$STRATA" -r "$P" restore latest --target "$T/r6"
one_error_line s3repo_cold_restore_one_line "archive storage class"
err_has s3repo_cold_restore_says_rerun "--cold-wait"
posted=$(s3_proxy_log | grep -c 'POST .*?restore= 202 cold')
if [ "$posted" -gt 0 ] && [ "$posted" -eq "$npacks" ]; then
	pass s3repo_cold_restore_requested_every_pack
else
	fail s3repo_cold_restore_requested_every_pack "$posted RestoreObject requests for $npacks data packs"
fi
if grep -q "$posted packs" "$T/err"; then pass s3repo_cold_restore_counts_pending; else fail s3repo_cold_restore_counts_pending "$(cat "$T/err")"; fi
s3_proxy_log >"$T/plog"
if grep -q 'GET .*/tree/' "$T/plog" && ! grep -q 'GET .*/tree/.* 403' "$T/plog"; then pass s3repo_cold_trees_stay_hot; else fail s3repo_cold_trees_stay_hot "a tree GET was refused"; fi
expect s3repo_cold_wait "$STRATA" -r "$P" restore latest --target "$T/r6" --overwrite --cold-wait --cold-poll 1
restored s3repo_cold_wait_bit_exact "$T/r6"
# Listing, ls and a structure check never touch data/.
s3_cold 0
s3_faults ''
rm -rf "$STRATA_CACHE_DIR"
expect s3repo_cold_snapshots "$STRATA" -r "$P" snapshots
expect s3repo_cold_ls "$STRATA" -r "$P" ls latest
# (Here the listing says STANDARD_IA while the proxy refuses every data/ GET,
# so check would meet the refusals and fall back; a copy whose listing names
# GLACIER is checked with zero data GETs in tests/e2e_s3_coldcheck.sh.)
s3_proxy_log >"$T/plog"
if [ -s "$T/plog" ] && ! grep -q ' 403 cold' "$T/plog"; then pass s3repo_cold_metadata_only; else fail s3repo_cold_metadata_only "$(s3_proxy_log | grep ' 403 cold' | head -3)"; fi
s3_cold -1

# ---- --transfers: how many requests run at once ----
# Every request held 150 ms at the proxy, far longer than issuing the next
# takes (a few ms): requests allowed at once overlap there, so the peak
# shows the limit; the restore's many readers are limited to the transfers
# allowed, and still restore bit-exact. (300 ms held the ~23 requests of the
# one-at-a-time restore 7 s for the same peak.)
rm -rf "$STRATA_CACHE_DIR"
s3_faults '*:delay-150'
expect s3repo_transfers_1_restore "$STRATA" -r "$P" --transfers 1 restore latest --target "$T/r8"
peak=$(s3_proxy_peak)
if [ "$peak" = 1 ]; then pass s3repo_transfers_1_one_at_a_time; else fail s3repo_transfers_1_one_at_a_time "$peak requests open at once"; fi
restored s3repo_transfers_1_bit_exact "$T/r8"
s3_faults '*:delay-150'
expect s3repo_transfers_3_restore env STRATA_S3_TRANSFERS=3 "$STRATA" -r "$P" restore latest --target "$T/r9"
peak=$(s3_proxy_peak)
if [ "$peak" = 3 ]; then pass s3repo_transfers_3_at_once; else fail s3repo_transfers_3_at_once "$peak requests open at once"; fi
restored s3repo_transfers_3_bit_exact "$T/r9"
# Backup uploads: packs stored by parallel uploaders, at most transfers of
# them. Each data pack's PUT is held 2 s, longer than sealing the next pack
# takes even under the sanitizers, so two uploads overlap. 40 MB are three
# data packs of at most 16 MiB: the third is sealed while the first two are
# held, so a third upload at once would show (60 MB, four packs, proved no
# more and cost ~20 MB more to upload, check and restore).
head -c 40000000 /dev/urandom >"$S/d1/fifth"
s3_faults '*:slowdata-2000'
expect s3repo_transfers_2_backup "$STRATA" -r "$P" --transfers 2 backup "$S"
peak=$(s3_proxy_peak)
if [ "$peak" = 2 ]; then pass s3repo_transfers_2_uploads_at_once; else fail s3repo_transfers_2_uploads_at_once "$peak requests open at once"; fi
s3_faults ''
expect s3repo_transfers_backup_check "$STRATA" -r "$L" check --read-data
expect s3repo_transfers_backup_restore "$STRATA" -r "$L" restore latest --target "$T/r10"
restored s3repo_transfers_backup_bit_exact "$T/r10"
expect_exit s3repo_transfers_zero 2 "$STRATA" -r "$L" --transfers 0 snapshots
one_error_line s3repo_transfers_zero_one_line "--transfers 0: give a number of requests from 1 to 128"
expect_exit s3repo_transfers_option_bad 4 "$STRATA" -r "$L?transfers=500" snapshots
one_error_line s3repo_transfers_option_bad_one_line 'transfers="500" is not a number in 1..128'
expect_exit s3repo_transfers_env_bad 4 env STRATA_S3_TRANSFERS=lots "$STRATA" -r "$L" snapshots
one_error_line s3repo_transfers_env_bad_one_line 'STRATA_S3_TRANSFERS="lots" is not a number in 1..128'

# ---- a hostile server: listings that never end, oversized objects ----
# rss_run CMD... — run CMD (stdout $T/out, stderr $T/err): RC its exit
# status, RSS_KB its peak resident size; under a 2 GiB data limit (not
# with the sanitizers, whose shadow memory it counts).
rss_run() {
	set -- $(python3 -S -c 'import os, resource, subprocess, sys
def limit():
    if "asan" not in os.environ.get("BUILD", ""):
        resource.setrlimit(resource.RLIMIT_DATA, (2 << 30, 2 << 30))
rc = subprocess.call(sys.argv[3:], stdout=open(sys.argv[1], "w"), stderr=open(sys.argv[2], "w"), preexec_fn=limit)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$T/out" "$T/err" "$@")
	RC=$1
	RSS_KB=$2
}
# ran NAME CODE — the last rss_run exited CODE with a peak RSS under 200 MiB.
ran() {
	if [ "$RC" -eq "$2" ]; then pass "$1"; else fail "$1" "exit $RC, wanted $2: $(head -c 400 "$T/err")"; fi
	if [ "$RSS_KB" -lt 204800 ]; then pass "$1: peak RSS under 200 MiB ($((RSS_KB / 1024)) MiB)"; else
		fail "$1: peak RSS under 200 MiB" "$((RSS_KB / 1024)) MiB"; fi
}
err_is() {
	if [ "$(cat "$T/err")" = "$2" ]; then pass "$1"; else fail "$1" "stderr: $(head -c 500 "$T/err")"; fi
}
# sent_below NAME PATH BYTES — the proxy answered one GET of PATH and handed
# the client fewer than BYTES of its 3 GiB before the client hung up.
sent_below() {
	i=0
	while ! s3_proxy_log | grep -q "GET $2 200 .* sent=" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	got=$(s3_proxy_log | grep "GET $2 " | sed -n 's/.* sent=\([0-9]*\)$/\1/p')
	n=$(s3_proxy_log | grep -c "GET $2 ")
	if [ "$n" -eq 1 ] && [ -n "$got" ] && [ "$got" -lt "$3" ]; then pass "$1 ($got bytes sent)"; else
		fail "$1" "$n GETs, sent=${got:-?}: $(s3_proxy_log | tail -n 3)"; fi
}
OBJ="s3://$S3_BUCKET/repo"
s3_faults '*:list-loop-snapshots'
expect_exit s3repo_list_loop_stops 4 timeout 120 "$STRATA" -r "$P" snapshots
err_is s3repo_list_loop_one_line \
	"strata: $OBJ/snapshots/: listing stopped: page 2 carries a continuation token this listing had already (the server is going round in circles)"
s3_faults '*:list-endless-snapshots'
expect_exit s3repo_list_endless_stops 4 env STRATA_S3_LIST_MAX_PAGES=50 timeout 120 "$STRATA" -r "$P" snapshots
err_is s3repo_list_endless_one_line \
	"strata: $OBJ/snapshots/: listing stopped: more than 50 pages (STRATA_S3_LIST_MAX_PAGES; raise it for a repository this large)"
n=$(s3_proxy_log | grep -c 'prefix=repo%2Fsnapshots%2F ')
[ "$n" -eq 50 ] && pass s3repo_list_endless_50_requests || fail s3repo_list_endless_50_requests "$n listing requests"

s3_faults '*:huge-config'
rss_run timeout 120 "$STRATA" -r "$P" snapshots
ran s3repo_huge_config_refused 1
err_is s3repo_huge_config_one_line \
	"strata: $OBJ/config: 3221225472 bytes, larger than the 65536 bytes allowed for a config (damaged, or not written by strata)"
sent_below s3repo_huge_config_not_read "/$S3_BUCKET/repo/config" 67108864
s3_faults ''
LK=$(printf '%064d' 7)
# A lock file of 80 KiB, uploaded by another client: ignored, named.
head -c 81920 /dev/urandom >"$T/junk"
s3api put "repo/locks/$LK" "$T/junk" >/dev/null 2>&1
rss_run "$STRATA" -r "$L" ls latest "$S/d1"
ran s3repo_big_lock_ignored 0
err_is s3repo_big_lock_warning \
	"strata: warning: ignoring $OBJ/locks/$LK: 81920 bytes, larger than the 65536 bytes allowed for a lock file; \`strata unlock\` removes it"
# A small one that the proxy turns into 3 GiB: with a Content-Length,
# then without one.
head -c 300 /dev/urandom >"$T/junk"
s3api put "repo/locks/$LK" "$T/junk" >/dev/null 2>&1
s3_faults '*:huge-locks'
rss_run timeout 120 "$STRATA" -r "$P" ls latest "$S/d1"
ran s3repo_huge_lock_ignored 0
err_is s3repo_huge_lock_warning \
	"strata: warning: ignoring $OBJ/locks/$LK: 3221225472 bytes, larger than the 65536 bytes allowed for a lock file; \`strata unlock\` removes it"
sent_below s3repo_huge_lock_not_read "/$S3_BUCKET/repo/locks/$LK" 67108864
s3_faults '*:hugechunked-locks'
rss_run timeout 120 "$STRATA" -r "$P" ls latest "$S/d1"
ran s3repo_endless_lock_ignored 0
err_is s3repo_endless_lock_warning \
	"strata: warning: ignoring $OBJ/locks/$LK: more than the 65536 bytes allowed for a lock file; \`strata unlock\` removes it"
sent_below s3repo_endless_lock_not_read "/$S3_BUCKET/repo/locks/$LK" 67108864
s3_faults ''
expect s3repo_unlock_removes_junk "$STRATA" -r "$L" unlock
if s3api head "repo/locks/$LK" >/dev/null 2>&1; then
	fail s3repo_junk_lock_gone "repo/locks/$LK is still there"; else pass s3repo_junk_lock_gone; fi
# A snapshot file of 17 MiB: refused with its name and size.
head -c 17825792 /dev/urandom >"$T/junk"
s3api put "repo/snapshots/$LK" "$T/junk" >/dev/null 2>&1
rss_run "$STRATA" -r "$L" snapshots
ran s3repo_big_snapshot_refused 1
err_is s3repo_big_snapshot_one_line \
	"strata: $OBJ/snapshots/$LK: 17825792 bytes, larger than the 16777216 bytes allowed for a snapshot file (damaged, or not written by strata)"
s3api delete "repo/snapshots/$LK" >/dev/null 2>&1
rm -f "$T/junk"
expect s3repo_snapshots_after_junk "$STRATA" -r "$L" snapshots

# ---- wrong credentials: one line ----
expect_exit s3repo_wrong_secret 4 env AWS_SECRET_ACCESS_KEY=wrong "$STRATA" -r "$L" snapshots
one_error_line s3repo_wrong_secret_one_line "SignatureDoesNotMatch\|access denied"
expect_exit s3repo_wrong_key 4 env AWS_ACCESS_KEY_ID=nobody "$STRATA" -r "$L" restore latest --target "$T/r7"
one_error_line s3repo_wrong_key_one_line "denied\|InvalidAccessKeyId\|SignatureDoesNotMatch"
expect_exit s3repo_bad_storage_class 2 "$STRATA" -r "$L" backup "$S" --storage-class data=FROZEN
one_error_line s3repo_bad_storage_class_one_line "unknown storage class"

e2e_done
