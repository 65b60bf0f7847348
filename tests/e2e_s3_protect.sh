#!/bin/sh
# e2e_s3_protect.sh — what protects the objects in a bucket, asserted on
# the headers the store receives (tests/s3/faultproxy.js logs them):
# server-side encryption (SSE-S3, SSE-KMS with a key ID, SSE-C with a key
# file, on single and multipart uploads), Object Lock retention on every
# upload but lock files, forget and prune planning around objects under
# retention (kept, reported with the date, no DELETE sent), an append-only
# credential (backup and replicate work, prune fails and deletes nothing),
# Retry-After honoured, and the bandwidth limits (--limit-upload,
# --limit-download: achieved rate against the limit).
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

PROBE=${PROBE:-$(pwd)/${BUILD:-build}/tools/dev/backend_probe}
s3_start || e2e_done
s3_proxy_start || e2e_done
P=$PROXY_LOCATION
B=/$S3_BUCKET/repo
export STRATA_S3_RETRIES=2

# hdr_has NAME REGEX — a line of the proxy's header log matches.
hdr_has() {
	if s3_headers | grep -q -- "$2"; then pass "$1"; else fail "$1" "no request matching $2 in: $(s3_headers | head -c 500)"; fi
}

hdr_lacks() {
	if s3_headers | grep -q -- "$2"; then fail "$1" "$(s3_headers | grep -- "$2" | head -c 300)"; else pass "$1"; fi
}

head -c 1000 /dev/urandom >"$T/small"

# --- server-side encryption ----------------------------------------------------------------
s3_faults ""
expect sse_s3_put "$PROBE" "$P?sse=AES256" put data/00/s3 "$T/small"
hdr_has sse_s3_header "^1 PUT $B/data/00/s3 x-amz-server-side-encryption=AES256$"
KMS=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
s3_faults ""
expect sse_kms_put "$PROBE" "$P?sse=aws:kms&kms-key-id=$KMS" put index/kms "$T/small"
hdr_has sse_kms_headers "^1 PUT $B/index/kms x-amz-server-side-encryption=aws:kms x-amz-server-side-encryption-aws-kms-key-id=$KMS$"
# Multipart: the headers go on CreateMultipartUpload, not on the parts.
head -c 68000000 /dev/urandom >"$T/big"
s3_faults ""
expect sse_kms_multipart env STRATA_S3_SSE=aws:kms STRATA_S3_SSE_KMS_KEY_ID="$KMS" "$PROBE" "$P" put data/01/big "$T/big"
hdr_has sse_kms_multipart_initiate "^1 POST $B/data/01/big?uploads= x-amz-server-side-encryption=aws:kms x-amz-server-side-encryption-aws-kms-key-id=$KMS$"
hdr_has sse_kms_multipart_part_plain "^2 PUT $B/data/01/big?partNumber=1&uploadId=[^ ]*$"
rm -f "$T/big"
# SSE-C: the key on every read and write of the object, never in output.
head -c 32 /dev/urandom >"$T/ssec.key"
KEY64=$(base64 -w0 <"$T/ssec.key")
MD5=$(openssl dgst -md5 -binary <"$T/ssec.key" | base64 -w0)
s3_faults ""
expect sse_c_put "$PROBE" "$P?sse_c_key_file=$T/ssec.key" put keys/c "$T/small"
"$PROBE" "$P?sse_c_key_file=$T/ssec.key" get keys/c >"$T/got" 2>>"$T/err"
if cmp -s "$T/small" "$T/got"; then pass sse_c_round_trip; else fail sse_c_round_trip "bytes differ"; fi
C_HDRS="x-amz-server-side-encryption-customer-algorithm=AES256 x-amz-server-side-encryption-customer-key=$KEY64 x-amz-server-side-encryption-customer-key-md5=$MD5"
hdr_has sse_c_put_headers "^1 PUT $B/keys/c $C_HDRS$"
hdr_has sse_c_get_headers "^2 GET $B/keys/c $C_HDRS$"
if grep -qF -e "$KEY64" "$T/out" "$T/err"; then fail sse_c_key_not_shown "key in output"; else pass sse_c_key_not_shown; fi
printf '0123456789' >"$T/short.key"
expect_exit sse_c_bad_key 1 "$PROBE" "$P?sse_c_key_file=$T/short.key" stat keys/c
err_has sse_c_bad_key_message "s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/repo: SSE-C key file $T/short.key: expected 32 bytes or 64 hex digits, found 10 bytes"
expect_exit sse_bad_value 1 "$PROBE" "$P?sse=DES" stat keys/c
err_has sse_bad_value_message "sse=DES: expected AES256 (S3's keys) or aws:kms"
expect_exit sse_kms_without_sse 1 "$PROBE" "$P?kms_key_id=$KMS" stat keys/c
err_has sse_kms_without_sse_message "kms_key_id= needs sse=aws:kms"
expect_exit sse_both 1 "$PROBE" "$P?sse=AES256&sse_c_key_file=$T/ssec.key" stat keys/c
err_has sse_both_message "sse= and sse_c_key_file= exclude each other"
expect_exit location_unknown_option 1 "$PROBE" "$P?colour=blue" stat keys/c
err_has location_unknown_option_message "unknown location option \"colour=blue\""
expect_exit location_option_twice 1 "$PROBE" "$P?region=us-east-1&region=eu-west-1" stat keys/c
err_has location_option_twice_message "location option region= given twice"

# --- Object Lock -------------------------------------------------------------------------------
mkdir -p "$T/src"
head -c 400000 /dev/urandom >"$T/src/a"
LK="s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/locked?object_lock_days=30"
s3_faults ""
expect lock_init "$STRATA" -r "$LK" init
expect lock_backup "$STRATA" -r "$LK" backup "$T/src"
want_day=$(date -u -d '+30 days' +%Y-%m-%d)
if s3_headers | grep " PUT /$S3_BUCKET/locked/" | grep -v "/locks/" | grep -v "x-amz-object-lock-mode=COMPLIANCE x-amz-object-lock-retain-until-date=${want_day}T" >"$T/unlocked"; [ -s "$T/unlocked" ]; then
	fail lock_every_upload_retained "$(head -c 300 "$T/unlocked")"
elif s3_headers | grep -q " PUT /$S3_BUCKET/locked/data/"; then
	pass lock_every_upload_retained
else
	fail lock_every_upload_retained "no data upload seen: $(s3_headers | head -c 300)"
fi
if s3_headers | grep " PUT /$S3_BUCKET/locked/locks/" | grep -q object-lock; then
	fail lock_files_not_retained "$(s3_headers | grep /locks/ | head -c 300)"
else
	pass lock_files_not_retained
fi
# The second backup no longer has a: the first snapshot's data pack is
# unused once the first snapshot goes.
rm -f "$T/src/a"
echo more >"$T/src/b"
expect lock_backup2 "$STRATA" -r "$LK" backup "$T/src"
s3_faults ""
expect lock_forget_plans_around "$STRATA" -r "$LK" forget --keep-last 1 --prune
err_has lock_forget_reports_kept "strata: warning: kept: s3://$S3_BUCKET/locked/snapshots/" "under Object Lock (COMPLIANCE) until ${want_day}T" "not deleted"
if grep -q "^0 snapshots removed, 2 kept (some under retention" "$T/out"; then pass lock_forget_summary; else fail lock_forget_summary "$(head -c 300 "$T/out")"; fi
if s3_proxy_log | grep " DELETE /$S3_BUCKET/locked/" | grep -qv "/locks/"; then
	fail lock_forget_tried_nothing "$(s3_proxy_log | grep DELETE | head -c 300)"
else
	pass lock_forget_tried_nothing
fi
expect lock_snapshots_kept "$STRATA" -r "$LK" snapshots --json
if [ "$(json "$T/out" 'len(d)')" = 2 ]; then pass lock_both_snapshots_remain; else fail lock_both_snapshots_remain "$(head -c 300 "$T/out")"; fi
# The first snapshot's file goes behind the proxy's back (straight to the
# server, which knows no Object Lock): its pack and index file are now
# unused but still under retention, and prune must plan around them.
expect lock_forget_direct "$STRATA" -r "s3:$S3_ENDPOINT/$S3_BUCKET/locked" forget --keep-last 1
s3_faults ""
expect lock_prune_plans_around "$STRATA" -r "$LK" --json prune
if [ "$(json "$T/out" 'd["done"]["packs_deleted"] == 0 and d["done"]["locked_index_files"] >= 1 and d["done"]["locked_packs"] >= 1')" = True ]; then
	pass lock_prune_reports_kept
else
	fail lock_prune_reports_kept "$(head -c 400 "$T/out")"
fi
if s3_proxy_log | grep " DELETE /$S3_BUCKET/locked/" | grep -v "/locks/" | grep -v "/prune/" | grep -q .; then
	fail lock_prune_sent_no_delete "$(s3_proxy_log | grep DELETE | head -c 300)"
else
	pass lock_prune_sent_no_delete
fi
expect lock_prune_text "$STRATA" -r "$LK" prune
if grep -q "^kept under retention (S3 Object Lock): [1-9][0-9]* index files\{0,1\}, [1-9][0-9]* packs\{0,1\}; a later prune deletes them once it ends (s3://$S3_BUCKET/locked/index/.*until ${want_day}T" "$T/out"; then
	pass lock_prune_text_says_until
else
	fail lock_prune_text_says_until "$(head -c 400 "$T/out")"
fi
expect lock_check_after "$STRATA" -r "$LK" check
expect_exit lock_bad_days 4 "$STRATA" -r "s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/locked?object_lock_days=0" snapshots
err_has lock_bad_days_message "object_lock_days=\"0\" is not a number in 1..36500"
expect_exit lock_bad_mode 4 "$STRATA" -r "$LK&object_lock_mode=FOREVER" snapshots
err_has lock_bad_mode_message "object_lock_mode=FOREVER: expected COMPLIANCE or GOVERNANCE"

# The retention recorded by init --object-lock-days: later commands put it
# on their uploads with a plain location.
PL="s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/lockcfg"
want7=$(date -u -d '+7 days' +%Y-%m-%d)
s3_faults ""
expect lock_init_recorded "$STRATA" -r "$PL" init --object-lock-days 7 --object-lock-mode GOVERNANCE
hdr_has lock_init_config_retained "PUT /$S3_BUCKET/lockcfg/config x-amz-object-lock-mode=GOVERNANCE x-amz-object-lock-retain-until-date=${want7}T"
expect lock_cat_config "$STRATA" -r "$PL" cat config
if [ "$(json "$T/out" 'd["object_lock"] == {"mode": "GOVERNANCE", "days": 7}')" = True ]; then pass lock_config_field; else fail lock_config_field "$(head -c 300 "$T/out")"; fi
s3_faults ""
expect lock_recorded_backup "$STRATA" -r "$PL" backup "$T/src"
hdr_has lock_recorded_data_retained "PUT /$S3_BUCKET/lockcfg/data/.* x-amz-object-lock-mode=GOVERNANCE x-amz-object-lock-retain-until-date=${want7}T"
hdr_has lock_recorded_snapshot_retained "PUT /$S3_BUCKET/lockcfg/snapshots/.* x-amz-object-lock-mode=GOVERNANCE"
if s3_headers | grep " PUT /$S3_BUCKET/lockcfg/locks/" | grep -q object-lock; then
	fail lock_recorded_lockfile_free "$(s3_headers | grep /locks/ | head -c 200)"
else
	pass lock_recorded_lockfile_free
fi
expect_exit lock_init_local 2 "$STRATA" -r "$T/locallock" init --object-lock-days 7
err_has lock_init_local_message "$T/locallock: Object Lock retention needs an S3 location"
expect_exit lock_init_bad_days 2 "$STRATA" -r "$PL-x" init --object-lock-days 0
err_has lock_init_bad_days_message "--object-lock-days 0: give whole days from 1 to 36500"

# --- an append-only credential: writes yes, deletes no -----------------------------------------------
AO="s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/appendonly"
expect ao_init "$STRATA" -r "$AO" init
s3_nodelete 1
expect ao_backup "$STRATA" -r "$AO" backup "$T/src"
echo third >"$T/src/c"
expect ao_backup2 "$STRATA" -r "$AO" backup "$T/src"
expect ao_replicate "$STRATA" -r "$AO" replicate --to "s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/aocopy"
s3_faults ""
expect_exit ao_forget_refused 4 "$STRATA" -r "$AO" forget --keep-last 1 --prune
err_has ao_forget_refused_message "AccessDenied" "deletion refused: the object is under Object Lock retention, or these credentials may write but not delete"
if s3_proxy_log | grep " DELETE " | grep -v " 403 locked" | grep -q .; then
	fail ao_nothing_deleted "$(s3_proxy_log | grep DELETE | head -c 300)"
else
	pass ao_nothing_deleted
fi
s3_nodelete 0
expect ao_check "$STRATA" -r "$AO" check

# --- Retry-After: a floor under the backoff ------------------------------------------------------
s3_faults 1:retryafter-2
t0=$(date +%s%N)
expect retry_after_put "$PROBE" "$P" put keys/ra "$T/small"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ $ms -ge 2000 ] && [ $ms -lt 6000 ] && s3_proxy_log | grep -q "^2 PUT $B/keys/ra 200"; then
	pass retry_after_waited
else
	fail retry_after_waited "$ms ms: $(s3_proxy_log | head -c 200)"
fi

# --- bandwidth limits -------------------------------------------------------------------------------
# rate NAME BYTES LIMIT CMD... — run CMD, print the achieved rate and
# pass when it is at most 5 % above LIMIT (the limit holds) and at most
# 40 % below (it is not wildly conservative: a limiter that halved the
# rate fails). Idle, the rates land within 1 to 7 % below the limit; the
# slack below is for a loaded test machine, where the transfer gets less
# CPU than the limit allows (28 % below at load 25).
rate() {
	n=$1 bytes=$2 lim=$3; shift 3
	t0=$(date +%s%N)
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	t1=$(date +%s%N)
	r=$(python3 -S -c "import sys; b,l,ns=map(int,sys.argv[1:]); r=b/(ns/1e9); print('%.0f %.1f' % (r, 100*(r-l)/l))" "$bytes" "$lim" $((t1 - t0)))
	echo "$n: $bytes bytes in $(( (t1 - t0) / 1000000 )) ms: ${r% *} B/s against $lim (${r#* } %)"
	pct=${r#* }
	if [ $rc -eq 0 ] && python3 -S -c "import sys; p = float(sys.argv[1]); sys.exit(0 if -40 <= p <= 5 else 1)" "$pct"; then
		pass "$n"
	else
		fail "$n" "exit $rc, ${r% *} B/s against $lim B/s: $(head -c 200 "$T/err")"
	fi
}
head -c 6291456 /dev/urandom >"$T/six"
rate limit_upload_one_object 6291456 2097152 env STRATA_S3_LIMIT_UPLOAD=2097152 "$PROBE" "$P" put data/02/six "$T/six"
rate limit_download_one_object 6291456 2097152 env STRATA_S3_LIMIT_DOWNLOAD=2097152 "$PROBE" "$P" get data/02/six
# The strata program: backup and restore through the options.
rm -rf "$T/src"; mkdir -p "$T/src"; cp "$T/six" "$T/src/six"
RL="s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/rated"
expect limit_init "$STRATA" -r "$RL" init
t0=$(date +%s%N)
expect limit_backup "$STRATA" -r "$RL" --limit-upload 2M backup "$T/src"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "backup --limit-upload 2M of 6 MiB: $ms ms"
if [ $ms -ge 2700 ]; then pass limit_backup_held; else fail limit_backup_held "$ms ms for 6 MiB at 2 MiB/s"; fi
t0=$(date +%s%N)
expect limit_restore "$STRATA" -r "$RL" --limit-download 2M restore latest --target "$T/out_tree"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
echo "restore --limit-download 2M of 6 MiB: $ms ms"
if [ $ms -ge 2700 ]; then pass limit_restore_held; else fail limit_restore_held "$ms ms for 6 MiB at 2 MiB/s"; fi
if cmp -s "$T/six" "$T/out_tree$T/src/six"; then pass limit_restore_bit_exact; else fail limit_restore_bit_exact "differs"; fi
# --- request counts: what backup's, restore's and check's --json and metrics report ----------
echo four >"$T/src/d"
s3_faults 1:503
expect stats_backup_s3 "$STRATA" -r "$PL" --json backup "$T/src" --metrics-file "$T/backup.prom"
if [ "$(json "$T/out" "d['requests']['retries'] >= 1 and d['requests']['requests'] >= 5 and d['requests']['bytes_sent'] > 0")" = True ] &&
   grep -q "^strata_request_retries{.*} [1-9]" "$T/backup.prom" && grep -q "^strata_requests{.*} [1-9]" "$T/backup.prom"; then
	pass stats_backup_counts
else
	fail stats_backup_counts "$(head -c 300 "$T/out"); $(grep request "$T/backup.prom" | head -c 200)"
fi
# restore and check report the same counts (restore as store_requests: its
# requests integer counts pack range reads); a retry shows as one.
s3_faults 1:503
expect stats_restore_s3 "$STRATA" -r "$PL" --json restore latest --target "$T/stats_tree" --metrics-file "$T/restore.prom"
if [ "$(json "$T/out" "d['store_requests']['requests'] >= 3 and d['store_requests']['retries'] == 1 and d['store_requests']['bytes_received'] >= 6291456")" = True ] &&
   grep -q "^strata_requests{.*command=\"restore\"} [1-9]" "$T/restore.prom" &&
   grep -q "^strata_request_bytes_received{.*} [1-9]" "$T/restore.prom"; then
	pass stats_restore_counts
else
	fail stats_restore_counts "$(head -c 400 "$T/out"); $(grep request "$T/restore.prom" | head -c 300)"
fi
if cmp -s "$T/src/six" "$T/stats_tree$T/src/six"; then pass stats_restore_bit_exact; else fail stats_restore_bit_exact "differs"; fi
s3_faults ""
expect stats_check_s3 "$STRATA" -r "$PL" --json check --read-data --metrics-file "$T/check.prom"
if [ "$(json "$T/out" "d['requests']['requests'] >= 3 and d['requests']['retries'] == 0 and d['requests']['bytes_received'] >= 6291456")" = True ] &&
   grep -q "^strata_requests{.*} [1-9]" "$T/check.prom" && grep -q "^strata_request_retries{.*} 0\$" "$T/check.prom"; then
	pass stats_check_counts
else
	fail stats_check_counts "$(head -c 400 "$T/out" | tr '\n' ' '); $(grep request "$T/check.prom" | head -c 300)"
fi
# --- request counts: what replicate's --json and metrics report ----------------------------------
expect stats_init "$STRATA" -r "$R" init
expect stats_backup "$STRATA" -r "$R" backup "$T/src"
s3_faults 1:500
expect stats_replicate "$STRATA" -r "$R" --json replicate --to "s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/statcopy" \
	--metrics-file "$T/repl.prom"
n=$(s3_proxy_log | wc -l)
if [ "$(json "$T/out" "(d['targets'][0]['requests'], d['targets'][0]['retries'], d['targets'][0]['bytes_sent'] > 6291456)")" = "($n, 1, True)" ]; then
	pass stats_replicate_counts
else
	fail stats_replicate_counts "proxy saw $n requests; $(head -c 400 "$T/out")"
fi
if grep -q "^strata_replicate_requests{.*} $n\$" "$T/repl.prom" && grep -q "^strata_replicate_retries{.*} 1\$" "$T/repl.prom"; then
	pass stats_replicate_metrics
else
	fail stats_replicate_metrics "$(grep -e requests -e retries "$T/repl.prom" | head -c 300)"
fi
expect_exit limit_bad_rate 2 "$STRATA" -r "$RL" --limit-upload 10 snapshots
err_has limit_bad_rate_message "--limit-upload 10: give bytes per second from 1K to 1T"
expect_exit limit_bad_suffix 2 "$STRATA" -r "$RL" --limit-download 5X snapshots
e2e_done
