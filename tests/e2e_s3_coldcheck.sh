#!/bin/sh
# e2e_s3_coldcheck.sh — check on a repository whose data packs are in an
# archive storage class (GLACIER), on the local S3 server behind the fault
# proxy in cold mode (every GET of a data/ key answers InvalidObjectState
# until a RestoreObject has completed): the structure check with zero GETs
# of data objects and its exact "could not check" report; a thawed subset
# (--read-data-subset 1/2 --thaw --cold-wait) that restores and reads its
# slice alone; --max-thaw-bytes trimming the slice in ID order; packs
# deleted behind strata's back (a lifecycle expiration) reported by name
# with the snapshots that need them; a pack replaced on the server (its
# stored SHA-256 is not its name); a tree pack moved into GLACIER;
# `strata s3 lifecycle --print`.
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

s3_start || e2e_done
s3_proxy_start || e2e_done
# s3api OP ARGS — an independent S3 client (tests/s3api.py: list, head, get,
# put, delete), ~0.1 s of CPU a call where `aws s3api` took ~1.3 s.
s3api() { python3 -S tests/s3api.py "$S3_ENDPOINT" "$S3_BUCKET" "$@"; }
P=$PROXY_LOCATION
S="$T/src"
export STRATA_S3_RETRIES=2

check_json() {
	if r=$(json "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $r in $(tr -d '\n' <"$T/out" | head -c 600)"; fi
}

# same NAME EXPECTED ACTUAL
same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected [$2], got [$3]"; fi
}

# data_packs — "ID SIZE" of every data pack on the server, sorted by ID.
data_packs() {
	s3api list repo/data/ | sed 's|^repo/data/../||' | sort
}

# in_slice N T — the IDs on stdin whose first 4 bytes, big-endian, are N-1 mod T.
in_slice() {
	while read -r id size; do
		if [ $(( 0x$(printf %.8s "$id") % $2 )) -eq $(( $1 - 1 )) ]; then echo "$id $size"; fi
	done
}

# data_gets — the IDs of data packs the proxy saw a GET for since the last s3_faults, sorted, unique.
data_gets() {
	s3_proxy_log | awk '$2 == "GET" && $3 ~ /\/data\// { n = split($3, a, "/"); sub(/\?.*/, "", a[n]); print a[n] }' | sort -u
}
data_restores() {
	s3_proxy_log | awk '$2 == "POST" && $3 ~ /\/data\/.*\?restore/ { n = split($3, a, "/"); sub(/\?.*/, "", a[n]); print a[n] }' | sort -u
}

# ---- a repository with its data in GLACIER, two snapshots ----
mkdir -p "$S/a" "$S/b"
head -c 3000000 /dev/urandom >"$S/a/one"
head -c 2000000 /dev/urandom >"$S/a/two"
printf 'small\n' >"$S/a/note"
head -c 2500000 /dev/urandom >"$S/b/three"
export STRATA_S3_STORAGE_CLASS=data=GLACIER,metadata=STANDARD
expect cold_init "$STRATA" -r "$P" init --pack-size 1048576
expect cold_backup1 "$STRATA" -r "$P" backup "$S/a" --json
snap1=$(json "$T/out" "d['snapshot_id']")
data_packs >"$T/packs1"
expect cold_backup2 "$STRATA" -r "$P" backup "$S/a" "$S/b" --json
snap2=$(json "$T/out" "d['snapshot_id']")
unset STRATA_S3_STORAGE_CLASS
data_packs >"$T/packs"
npacks=$(wc -l <"$T/packs")
nbytes=$(awk '{ s += $2 } END { print s }' "$T/packs")
if [ "$npacks" -ge 6 ] && [ "$(wc -l <"$T/packs1")" -ge 3 ]; then pass cold_several_packs; else fail cold_several_packs "$npacks data packs"; fi
s3api list repo/data/ | head -n 1 | cut -d' ' -f1 >"$T/key"
s3api head "$(cat "$T/key")" >"$T/head" 2>&1
if grep -q '"StorageClass": "GLACIER"' "$T/head"; then pass cold_data_in_glacier; else fail cold_data_in_glacier "$(head -c 300 "$T/head")"; fi

# ---- the structure check of the cold copy: zero GETs of data objects ----
s3_cold 1000
rm -rf "$STRATA_CACHE_DIR"
s3_faults ''
expect cold_check_json "$STRATA" -r "$P" --json check
same cold_check_no_data_get "" "$(data_gets)"
heads=$(s3_proxy_log | awk '$2 == "HEAD" && $3 ~ /\/data\//' | wc -l)
same cold_check_one_head_per_pack "$npacks" "$heads"
check_json cold_check_ok "d['ok'] and d['damage'] == 0"
check_json cold_check_archived_counts "d['archived']['packs'] == $npacks and d['archived']['bytes'] == $nbytes and d['archived']['trailers_unchecked'] == $npacks"
check_json cold_check_sha256_all "d['archived']['sha256_verified'] == $npacks and d['archived']['sha256_absent'] == 0"
check_json cold_check_nothing_read "d['packs_read'] == [] and d['archived']['thaw_requests'] == 0"
locs=$(json "$T/out" "d['archived']['chunk_locations_unchecked']")
s3_faults ''
expect cold_check_text "$STRATA" -r "$P" check --metrics-file "$T/m.prom"
if grep -qx "strata_check_archived_packs{job=\"check\"} $npacks" "$T/m.prom" &&
	grep -qx 'strata_check_archived_unread_packs{job="check"} 0' "$T/m.prom"; then
	pass cold_check_metrics
else
	fail cold_check_metrics "$(grep archived "$T/m.prom")"
fi
same cold_check_text_no_data_get "" "$(data_gets)"
sed -n '/^archived packs:/,/^  the chunks/p' "$T/out" >"$T/cold_report"
cat >"$T/cold_expected" <<EOF
archived packs: $npacks data packs ($(sed -n 's/^archived packs: [0-9]* data packs (\([^)]*\)).*/\1/p' "$T/out")) are in an archive storage class; checked without reading them:
  present with the size the index records: $npacks
  SHA-256 recorded by the store at upload equal to the pack's name: $npacks (none to compare: 0)
could not check without a thaw:
  the trailers of $npacks archived packs against the index ($locs chunk locations)
  the chunks of every archived pack (authenticated only by reading: --read-data-subset N/T --thaw)
EOF
if cmp -s "$T/cold_report" "$T/cold_expected"; then pass cold_check_text_report; else fail cold_check_text_report "$(diff "$T/cold_expected" "$T/cold_report" | head -20)"; fi
if grep -q '^no damage found$' "$T/out"; then pass cold_check_text_no_damage; else fail cold_check_text_no_damage "$(tail -3 "$T/out")"; fi

# read-data without --thaw: nothing archived is read, all of it is named.
s3_faults ''
expect cold_readdata_nothaw "$STRATA" -r "$P" --json check --read-data
same cold_readdata_nothaw_no_get "" "$(data_gets)"
# (tree packs stay hot: they are read.)
check_json cold_readdata_nothaw_unread "d['archived']['unread_packs'] == $npacks and d['archived']['unread_bytes'] == $nbytes and not set(d['packs_read']) & set('''$(cut -d' ' -f1 "$T/packs")'''.split())"

# ---- a thawed subset: 1/2, restored and read, nothing else ----
in_slice 1 2 <"$T/packs" >"$T/slice1"
s3_cold 1000
s3_faults ''
expect cold_thaw_subset "$STRATA" -r "$P" --json check --read-data-subset 1/2 --thaw --cold-wait --cold-poll 1
cut -d' ' -f1 "$T/slice1" >"$T/slice1.ids"
same cold_thaw_subset_gets_slice_only "$(cat "$T/slice1.ids")" "$(data_gets)"
same cold_thaw_subset_restores_slice_only "$(cat "$T/slice1.ids")" "$(data_restores)"
refused=$(s3_proxy_log | grep -c ' 403 cold')
same cold_thaw_subset_no_refused_get 0 "$refused"
check_json cold_thaw_subset_read "sorted(set(d['packs_read']) & set('''$(cut -d' ' -f1 "$T/packs")'''.split())) == '''$(cat "$T/slice1.ids")'''.split() and d['archived']['thawed_packs_read'] == $(wc -l <"$T/slice1") and d['ok']"
check_json cold_thaw_subset_chunks "d['chunks_verified'] > 0 and d['archived']['unread_packs'] == 0"

# Without --cold-wait: restores requested, nothing read yet, and said so.
s3_cold 600000
s3_faults ''
expect cold_thaw_nowait "$STRATA" -r "$P" check --read-data-subset 2/2 --thaw
in_slice 2 2 <"$T/packs" | cut -d' ' -f1 >"$T/slice2.ids"
same cold_thaw_nowait_restores "$(cat "$T/slice2.ids")" "$(data_restores)"
same cold_thaw_nowait_no_get "" "$(data_gets)"
if grep -q "^  the chunks of $(wc -l <"$T/slice2.ids") archived packs of the read-data selection (.*): restores requested; run the same check again once they are readable, or add --cold-wait$" "$T/out"; then
	pass cold_thaw_nowait_says_rerun
else
	fail cold_thaw_nowait_says_rerun "$(cat "$T/out")"
fi

# ---- --max-thaw-bytes: the first packs in ID order that fit ----
first2=$(head -n 2 "$T/packs" | awk '{ s += $2 } END { print s }')
third=$(sed -n 3p "$T/packs" | cut -d' ' -f2)
budget=$((first2 + third - 1))
s3_cold 1000
s3_faults ''
expect cold_budget "$STRATA" -r "$P" --json check --read-data-subset 1/1 --thaw --cold-wait --cold-poll 1 --max-thaw-bytes "$budget"
same cold_budget_restores_first_two "$(head -n 2 "$T/packs" | cut -d' ' -f1)" "$(data_restores)"
same cold_budget_gets_first_two "$(head -n 2 "$T/packs" | cut -d' ' -f1)" "$(data_gets)"
check_json cold_budget_report "d['archived']['trimmed_packs'] == $((npacks - 2)) and d['archived']['thawed_packs_read'] == 2 and d['archived']['thawed_bytes_read'] == $first2 and d['archived']['max_thaw_bytes'] == $budget"
s3_faults ''
expect cold_budget_text "$STRATA" -r "$P" check --read-data-subset 1/1 --thaw --cold-wait --cold-poll 1 --max-thaw-bytes "$budget"
if grep -q "^left out by --max-thaw-bytes: $((npacks - 2)) archived packs of the subset (.*), the last in ID order$" "$T/out"; then
	pass cold_budget_text_trimmed
else
	fail cold_budget_text_trimmed "$(cat "$T/out")"
fi
expect_exit cold_budget_needs_thaw 2 "$STRATA" -r "$P" check --read-data --max-thaw-bytes 1G
expect_exit cold_thaw_needs_readdata 2 "$STRATA" -r "$P" check --thaw

# ---- a pack replaced on the server: the SHA-256 recorded at upload gives it away ----
# Its bytes with one byte changed, uploaded through the proxy with their own
# checksum, still in GLACIER: the HEAD shows a SHA-256 that is not its name.
swap=$(sed -n 2p "$T/packs1" | cut -d' ' -f1)
swapkey="repo/data/$(printf %.2s "$swap")/$swap"
s3api get "$swapkey" "$T/orig.pack" >/dev/null
python3 -S -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[100] ^= 1; open(sys.argv[2], "wb").write(b)' "$T/orig.pack" "$T/bad.pack"
# proxy_put FILE — upload FILE as the pack, in GLACIER, with its SHA-256 in x-amz-checksum-sha256.
proxy_put() {
	python3 -S tests/s3api.py "http://127.0.0.1:$PROXY_PORT" "$S3_BUCKET" put "$swapkey" "$1" GLACIER sha256 >/dev/null
}
proxy_put "$T/bad.pack"
s3_faults ''
expect_exit cold_swapped_damage 1 "$STRATA" -r "$P" --json check
same cold_swapped_no_data_get "" "$(data_gets)"
check_json cold_swapped_named "[(p['kind'], p['object']) for p in d['problems']] == [('pack_hash', '$swap')] and d['archived']['sha256_verified'] == $((npacks - 1))"
if json "$T/out" "d['problems'][0]['message']" | grep -qF "the SHA-256 the store recorded at upload is $(sha256sum "$T/bad.pack" | cut -c1-16)..., not its name"; then
	pass cold_swapped_message
else
	fail cold_swapped_message "$(json "$T/out" "d['problems'][0]['message']")"
fi
proxy_put "$T/orig.pack"
expect cold_swapped_back "$STRATA" -r "$P" check

# ---- an expiration behind strata's back: packs named, snapshots too ----
old=$(head -n 1 "$T/packs1" | cut -d' ' -f1)
new=$(cut -d' ' -f1 "$T/packs" | grep -vxF -f "$(cut -d' ' -f1 "$T/packs1" >"$T/p1ids"; echo "$T/p1ids")" | head -n 1)
s3api delete "repo/data/$(printf %.2s "$old")/$old" >/dev/null
s3api delete "repo/data/$(printf %.2s "$new")/$new" >/dev/null
both=$(printf '%s\n%s\n' "$snap1" "$snap2" | sort | cut -c1-8 | tr '\n' ' ' | sed 's/ $//')
s3_faults ''
expect_exit cold_expired_damage 1 "$STRATA" -r "$P" check
if grep -qF "pack $old (data," "$T/out" && grep -F "pack $old (data," "$T/out" | grep -qF "deleted outside strata (a lifecycle expiration?)" &&
	grep -F "pack $old (data," "$T/out" | grep -qF "snapshots affected (2): $both"; then
	pass cold_expired_old_pack_named
else
	fail cold_expired_old_pack_named "$(grep -F "$old" "$T/out" | head -3)"
fi
if grep -F "pack $new (data," "$T/out" | grep -qF "deleted outside strata (a lifecycle expiration?)" &&
	grep -F "pack $new (data," "$T/out" | grep -qF "snapshots affected (1): $(printf %.8s "$snap2")"; then
	pass cold_expired_new_pack_named
else
	fail cold_expired_new_pack_named "$(grep -F "$new" "$T/out" | head -3)"
fi
same cold_expired_no_data_get "" "$(data_gets)"
expect_exit cold_expired_json 1 "$STRATA" -r "$P" --json check
check_json cold_expired_json_snapshots "sorted((p['object'], p['snapshots']) for p in d['problems'] if p['kind'] == 'pack_missing') == sorted([('$old', sorted(['$snap1', '$snap2'])), ('$new', ['$snap2'])])"
# ---- a tree pack moved into GLACIER behind strata's back ----
# (a lifecycle transition of the whole prefix): the check stops, naming why.
tree=$(s3api list repo/tree/ | head -n 1 | cut -d' ' -f1)
s3_proxy_get "/__class?key=/$S3_BUCKET/$tree&class=GLACIER" >/dev/null
rm -rf "$STRATA_CACHE_DIR"
expect_exit cold_tree_archived 4 "$STRATA" -r "$P" check
if grep -qF 'a tree pack is in an archive storage class; tree packs must stay in a class readable without a restore' "$T/err" &&
	grep -qF "${tree#repo/}" "$T/err"; then
	pass cold_tree_archived_says
else
	fail cold_tree_archived_says "$(cat "$T/err")"
fi
s3_cold -1

# ---- s3 lifecycle --print: transitions of data/ only, never an expiration ----
expect cold_lifecycle "$STRATA" -r "$P?storage_class=data=GLACIER,metadata=STANDARD" s3 lifecycle --print
cp "$T/out" "$T/lc.json"
check_json cold_lifecycle_data_rule "[(r['Filter']['Prefix'], r['Transitions']) for r in d['Rules'] if 'Transitions' in r] == [('repo/data/', [{'Days': 0, 'StorageClass': 'GLACIER'}])]"
check_json cold_lifecycle_no_expiration "not any(k.endswith('Expiration') for r in d['Rules'] for k in r) and all(r['Status'] == 'Enabled' for r in d['Rules'])"
check_json cold_lifecycle_abort_rule "[(r['Filter']['Prefix'], r['AbortIncompleteMultipartUpload']) for r in d['Rules'] if 'AbortIncompleteMultipartUpload' in r] == [('repo/', {'DaysAfterInitiation': 2})]"
# The aws CLI checks the document against S3's schema before sending it
# (the test server may then answer that it has no lifecycle support).
s3_aws put-bucket-lifecycle-configuration --bucket "$S3_BUCKET" --lifecycle-configuration "file://$T/lc.json" >"$T/aws.out" 2>&1
if ! grep -q 'Parameter validation failed' "$T/aws.out"; then pass cold_lifecycle_aws_schema; else fail cold_lifecycle_aws_schema "$(head -c 400 "$T/aws.out")"; fi
expect cold_lifecycle_ladder "$STRATA" -r "$P" s3 lifecycle --print --transition 30:STANDARD_IA --transition 60:GLACIER_IR --transition 150:DEEP_ARCHIVE
check_json cold_lifecycle_ladder_rule "[t['StorageClass'] + ':' + str(t['Days']) for r in d['Rules'] if 'Transitions' in r for t in r['Transitions']] == ['STANDARD_IA:30', 'GLACIER_IR:60', 'DEEP_ARCHIVE:150']"
expect_exit cold_lifecycle_ia_too_soon 2 "$STRATA" -r "$P" s3 lifecycle --print --transition 7:STANDARD_IA
if grep -qF 'S3 moves objects into STANDARD_IA after 30 days at the earliest' "$T/err"; then pass cold_lifecycle_ia_too_soon_says; else fail cold_lifecycle_ia_too_soon_says "$(cat "$T/err")"; fi
expect_exit cold_lifecycle_cold_metadata 2 "$STRATA" -r "$P?storage_class=data=GLACIER,metadata=DEEP_ARCHIVE" s3 lifecycle --print
expect_exit cold_lifecycle_needs_print 2 "$STRATA" -r "$P" s3 lifecycle
expect_exit cold_lifecycle_local 2 "$STRATA" -r "$T/local" s3 lifecycle --print

e2e_done
