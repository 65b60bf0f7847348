#!/bin/sh
# e2e_replicate_cold.sh — `strata replicate` into every S3 storage class
# (STANDARD, STANDARD_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE) through the
# fault proxy's cold mode (tests/s3/faultproxy.js: a GET of a data/ object
# answers InvalidObjectState until restored): no object is read back after
# its upload, each is checked by a HEAD showing the size and the SHA-256 S3
# verified at upload; the exact requests per run; metadata refused in an
# archive class; a restore from the DEEP_ARCHIVE copy with --cold-wait is
# bit-exact.
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

s3_start || e2e_done
s3_proxy_start || e2e_done
export STRATA_S3_RETRIES=2
S="$T/src"
PX=s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET

check_json() {
	if r=$(json "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $r in $(tr -d '\n' <"$T/out" | head -c 400)"; fi
}

mkdir -p "$S/d"
head -c 400000 /dev/urandom >"$S/big"
i=0
while [ $i -lt 12 ]; do printf 'file %d\n' $i >"$S/d/f$i"; i=$((i + 1)); done
expect cold_init "$STRATA" -r "$R" init
expect cold_backup "$STRATA" -r "$R" backup "$S"
nobj=$(cd "$R" && find . -type f ! -name '.*' ! -path './locks/*' | wc -l)
ndata=$(cd "$R" && find data -type f | wc -l)

# ---- metadata never goes to a class that needs a restore ----
expect_exit cold_metadata_glacier_refused 2 "$STRATA" -r "$R" replicate --to "$PX/x" \
	--storage-class data=GLACIER,metadata=DEEP_ARCHIVE
if [ "$(cat "$T/err")" = 'strata: --storage-class data=GLACIER,metadata=DEEP_ARCHIVE: metadata cannot go to DEEP_ARCHIVE, which must be restored before every read; use STANDARD, STANDARD_IA or GLACIER_IR for metadata' ]; then
	pass cold_metadata_glacier_message
else
	fail cold_metadata_glacier_message "$(cat "$T/err")"
fi

expect_exit cold_force_without_mirror 2 "$STRATA" -r "$R" replicate --to "$PX/x" --force-early-delete
if [ "$(cat "$T/err")" = "strata: replicate: --force-early-delete needs --mirror (without it nothing is deleted) (see 'strata help replicate')" ]; then
	pass cold_force_without_mirror_message
else
	fail cold_force_without_mirror_message "$(cat "$T/err")"
fi

# ---- every class, cold mode on: no GET of any data object ----
s3_cold 0
for cls in STANDARD STANDARD_IA GLACIER_IR GLACIER DEEP_ARCHIVE; do
	s3_faults ''
	expect "cold_repl_$cls" "$STRATA" -r "$R" replicate --to "$PX/c-$cls" --storage-class "data=$cls" --json
	# Every object written, each checked by size and SHA-256 (HEAD with
	# x-amz-checksum-mode, which the proxy answers as S3 does).
	check_json "cold_repl_${cls}_all_checked" "d['targets'][0]['ok'] and d['targets'][0]['objects_copied'] == $nobj and d['targets'][0]['objects_sum_checked'] == $nobj and d['targets'][0]['objects_size_checked'] == 0"
	s3_proxy_log >"$T/plog"
	gets=$(grep -c ' GET /[^?]*/data/' "$T/plog")
	puts=$(grep -c ' PUT ' "$T/plog")
	heads=$(grep -c ' HEAD ' "$T/plog")
	lists=$(grep -c ' GET /[^ ]*list-type=2' "$T/plog")
	all=$(wc -l <"$T/plog")
	# Requests: 8 listings of the target (replica settings, keys, data,
	# tree, wal, index, snapshots, verified), 1 GET of its config
	# (absent), then one PUT and one HEAD per object; nothing else.
	if [ "$gets" -eq 0 ] && [ "$puts" -eq "$nobj" ] && [ "$heads" -eq "$nobj" ] && [ "$lists" -eq 8 ] &&
	   [ "$all" -eq $((9 + 2 * nobj)) ]; then
		pass "cold_repl_${cls}_requests"
	else
		fail "cold_repl_${cls}_requests" "$gets data GETs, $puts PUTs, $heads HEADs, $lists listings, $all requests for $nobj objects"
	fi
	check_json "cold_repl_${cls}_request_count" "d['targets'][0]['requests'] == $((9 + 2 * nobj))"
	# The class each upload asked for (the proxy's header log): data/ in
	# the class given, everything else with no header (STANDARD).
	s3_headers | grep ' PUT ' >"$T/hdr"
	if [ "$cls" = STANDARD ]; then   # sent as no header at all
		nd=$(grep " PUT /$S3_BUCKET/c-$cls/data/" "$T/hdr" | grep -vc 'x-amz-storage-class')
	else
		nd=$(grep -c " PUT /$S3_BUCKET/c-$cls/data/[^ ]* x-amz-storage-class=$cls\$" "$T/hdr")
	fi
	nm=$(grep -v '/data/' "$T/hdr" | grep -vc 'x-amz-storage-class')
	if [ "$nd" -eq "$ndata" ] && [ "$nm" -eq $((nobj - ndata)) ]; then
		pass "cold_repl_${cls}_classes"
	else
		fail "cold_repl_${cls}_classes" "$nd of $ndata data packs in $cls, $nm of $((nobj - ndata)) others without a class: $(head -c 300 "$T/hdr")"
	fi
done

# ---- incremental: a second backup, only the new objects ----
printf 'new\n' >"$S/d/new"
expect cold_backup2 "$STRATA" -r "$R" backup "$S"
nobj2=$(cd "$R" && find . -type f ! -name '.*' ! -path './locks/*' | wc -l)
s3_faults ''
expect cold_repl_incremental "$STRATA" -r "$R" replicate --to "$PX/c-DEEP_ARCHIVE" --storage-class data=DEEP_ARCHIVE --json
check_json cold_repl_incremental_new_only "d['targets'][0]['objects_copied'] == $((nobj2 - nobj)) and d['targets'][0]['objects_present'] == $nobj and d['targets'][0]['requests'] == $((9 + 2 * (nobj2 - nobj)))"
if ! s3_proxy_log | grep -q ' GET /[^?]*/data/'; then pass cold_repl_incremental_no_data_get; else fail cold_repl_incremental_no_data_get "$(s3_proxy_log | grep ' GET /[^?]*/data/' | head -3)"; fi

# ---- a restore from the DEEP_ARCHIVE copy alone, on an empty cache ----
rm -rf "$STRATA_CACHE_DIR"
s3_cold 500
s3_faults ''
expect cold_restore_wait "$STRATA" -r "$PX/c-DEEP_ARCHIVE" restore latest --target "$T/r1" --cold-wait --cold-poll 1
same_tree cold_restore_bit_exact "$S" "$T/r1$S"
s3_proxy_log >"$T/plog"
if grep -q 'POST .*?restore= 202 cold' "$T/plog" && grep -q ' GET /[^?]*/data/.* 403 cold' "$T/plog"; then
	pass cold_restore_was_cold
else
	fail cold_restore_was_cold "$(head -c 400 "$T/plog")"
fi
s3_cold -1

e2e_done
