#!/bin/sh
# e2e_replicate.sh — `strata replicate`: a local repository to a real S3
# server (tests/s3/s3lib.sh) with a tier rule, seen object by object by an
# independent client (tests/s3api.py); incremental and idempotent runs; a
# restore and check --read-data from the S3 copy alone on an empty cache;
# S3 back to local; several targets; faults through tests/s3/faultproxy.js
# (500/503, closed and truncated bodies, resets, corrupted uploads, stalls)
# and an interrupted run finished by the next; a damaged source object is
# never copied; a target holding another repository is refused; metrics.
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

s3_start || e2e_done
s3_proxy_start || e2e_done
export STRATA_S3_RETRIES=3
S="$T/src"
L=$S3_LOCATION
P=$PROXY_LOCATION
TIER=data=GLACIER,metadata=STANDARD_IA


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

# objects DIR — the names of a local repository's objects, sorted (no locks).
objects() {
	(cd "$1" && find . -type f ! -name '.*' ! -path './locks/*' | sed 's|^\./||' | LC_ALL=C sort)
}

# s3api OP ARGS — an independent S3 client (tests/s3api.py: list, head, get,
# put, delete), ~0.1 s of CPU a call where `aws s3api` took ~1.3 s.
s3api() { python3 -S tests/s3api.py "$S3_ENDPOINT" "$S3_BUCKET" "$@"; }

# s3_objects PREFIX — the names under bucket/PREFIX/, sorted (no locks).
s3_objects() {
	s3api list "$1/" 2>/dev/null | cut -d' ' -f1 | sed "s|^$1/||" | grep -v '^locks/' | LC_ALL=C sort
}

mkdir -p "$S/d"
head -c 6000000 /dev/urandom >"$S/big"
head -c 2000000 /dev/urandom >"$S/d/mid"
cp "$S/d/mid" "$S/d/mid-copy"
i=0
while [ $i -lt 30 ]; do printf 'file %d\n' $i >"$S/d/f$i"; i=$((i + 1)); done

expect repl_init "$STRATA" -r "$R" init
expect repl_backup "$STRATA" -r "$R" backup "$S"

# ---- local -> S3, with a tier rule ----
expect repl_to_s3 "$STRATA" -r "$R" replicate --to "$L" --storage-class "$TIER" --json
check_json repl_to_s3_counts "d['targets'][0]['ok'] and d['targets'][0]['objects_copied'] == d['targets'][0]['objects_source'] and d['targets'][0]['objects_damaged'] == 0"
objects "$R" >"$T/local.list"
s3_objects repo >"$T/s3.list"
if [ -s "$T/s3.list" ] && cmp -s "$T/local.list" "$T/s3.list"; then
	pass repl_aws_sees_every_object
else
	fail repl_aws_sees_every_object "$(diff "$T/local.list" "$T/s3.list" | head -c 400)"
fi
bad=0; n=0
while read -r k; do
	want=STANDARD_IA
	case "$k" in data/*) want=GLACIER ;; esac
	h=$(s3api head "repo/$k" 2>&1)
	cls=$(printf '%s\n' "$h" | sed -n 's/^ *"StorageClass": "\(.*\)"$/\1/p')
	n=$((n + 1))
	if [ "$cls" != "$want" ]; then bad=$((bad + 1)); echo "  $k: ${cls:-$h}, wanted $want"; fi
done <"$T/s3.list"
if [ "$n" -gt 5 ] && [ "$bad" -eq 0 ]; then pass repl_aws_storage_classes; else fail repl_aws_storage_classes "$bad of $n objects in the wrong class"; fi
bad=0; n=0
for k in $(grep -v '^config$' "$T/s3.list" | head -n 40); do
	rm -f "$T/obj"
	s3api get "repo/$k" "$T/obj" >/dev/null 2>&1
	h=$(sha256sum "$T/obj" 2>/dev/null | cut -d' ' -f1)   # a format 2 repository (e2e_format.sh: format 1)
	n=$((n + 1))
	[ "$h" = "${k##*/}" ] || { bad=$((bad + 1)); echo "  $k hashes to $h"; }
done
if [ "$n" -ge 5 ] && [ "$bad" -eq 0 ]; then pass repl_aws_objects_match_names; else fail repl_aws_objects_match_names "$bad of $n objects"; fi

# ---- idempotent, then incremental ----
expect repl_again "$STRATA" -r "$R" replicate --to "$L" --json
check_json repl_again_copies_nothing "d['targets'][0]['objects_copied'] == 0 and d['targets'][0]['objects_present'] == d['targets'][0]['objects_source']"
head -c 500000 /dev/urandom >>"$S/big"
printf 'new\n' >"$S/d/new"
expect repl_backup2 "$STRATA" -r "$R" backup "$S"
expect repl_incremental "$STRATA" -r "$R" replicate --to "$L" --storage-class "$TIER" --json
check_json repl_incremental_copies_only_new "0 < d['targets'][0]['objects_copied'] <= 6"

# ---- the S3 copy alone: empty cache, restore, check ----
rm -rf "$STRATA_CACHE_DIR"
expect repl_s3_snapshots "$STRATA" -r "$L" snapshots --json
check_json repl_s3_two_snapshots "len(d) == 2"
expect repl_s3_restore "$STRATA" -r "$L" restore latest --target "$T/r1"
same_tree repl_s3_restore_bit_exact "$S" "$T/r1$S"
expect repl_s3_check "$STRATA" -r "$L" check --read-data

# ---- S3 -> local, and several targets at once ----
expect repl_back_to_local "$STRATA" -r "$L" replicate --to "$T/back" --to "local:$T/back2"
if [ "$(grep -c '^replicated to' "$T/out")" -eq 2 ]; then pass repl_two_targets; else fail repl_two_targets "$(cat "$T/out")"; fi
# The S3 copy holds what the source holds since repl_incremental; copied
# back, every object of the source is there under the same name.
objects "$R" >"$T/now.list"
objects "$T/back" >"$T/back.list"
if [ -s "$T/now.list" ] && cmp -s "$T/now.list" "$T/back.list"; then
	pass repl_back_has_everything
else
	fail repl_back_has_everything "$(diff "$T/now.list" "$T/back.list" | head -c 300)"
fi
expect repl_back_check "$STRATA" -r "$T/back2" check --read-data
expect repl_back_restore "$STRATA" -r "$T/back" restore latest --target "$T/r2"
same_tree repl_back_restore_bit_exact "$S" "$T/r2$S"

# ---- faults through the proxy: the copy completes and verifies ----
PF=s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/faulty
s3_faults 2:500,4:503,5:close,7:reset,9:drop,11:corrupt,13:flip,15:stall-4000,17:delay-300,19:close,23:503
expect repl_through_faults env STRATA_S3_LOW_SPEED_TIME=1 "$STRATA" -r "$R" replicate --to "$PF" --threads 3
if s3_proxy_log | grep -q ' 500 500$' && s3_proxy_log | grep -q ' corrupt$'; then pass repl_faults_injected; else fail repl_faults_injected "$(s3_proxy_log | head -c 300)"; fi
s3_faults ''
rm -rf "$STRATA_CACHE_DIR"
expect repl_faults_check "$STRATA" -r "s3:$S3_ENDPOINT/$S3_BUCKET/faulty" check --read-data
expect repl_faults_restore "$STRATA" -r "s3:$S3_ENDPOINT/$S3_BUCKET/faulty" restore latest --target "$T/r3"
same_tree repl_faults_restore_bit_exact "$S" "$T/r3$S"

# ---- interrupted: every request fails part way; the target stays valid ----
PI=s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/interrupted
s3_faults '*:503'
expect_exit repl_interrupted 4 env STRATA_S3_RETRIES=0 "$STRATA" -r "$R" replicate --to "$PI"
one_error_line repl_interrupted_one_line "replicating to $PI"
s3_faults ''
# Let the first objects through, then fail: keys and config land, packs stop.
s3_faults "$(i=8; s=''; while [ $i -le 300 ]; do s="$s$i:503,"; i=$((i + 1)); done; echo "${s%,}")"
expect_exit repl_interrupted_midway 4 env STRATA_S3_RETRIES=0 "$STRATA" -r "$R" replicate --to "$PI" --threads 1
s3_faults ''
if s3api head interrupted/config >/dev/null 2>&1; then
	s3_objects interrupted >"$T/int.list"
	n_snap=$(grep -c '^snapshots/' "$T/int.list")
	if grep -qx config "$T/int.list" && [ "$n_snap" -eq 0 ]; then pass repl_interrupted_no_snapshot_early; else fail repl_interrupted_no_snapshot_early "$n_snap snapshots"; fi
	rm -rf "$STRATA_CACHE_DIR"
	# Opens (keys, config), syncs the index from what landed, lists none.
	expect repl_interrupted_target_valid "$STRATA" -r "s3:$S3_ENDPOINT/$S3_BUCKET/interrupted" snapshots --json
	check_json repl_interrupted_target_empty "d == []"
else
	fail repl_interrupted_midway_config "the first requests were meant to get through"
fi
expect repl_resume "$STRATA" -r "$R" replicate --to "$PI" --json
check_json repl_resume_finishes "d['targets'][0]['ok'] and d['targets'][0]['objects_present'] > 0"
expect repl_resumed_check "$STRATA" -r "s3:$S3_ENDPOINT/$S3_BUCKET/interrupted" check --read-data

# ---- a damaged source object is never copied ----
cp -r "$R" "$T/damaged"
pack=$(find "$T/damaged/data" -type f | head -n 1)
flip_byte "$pack" 100
expect_exit repl_damaged_source 1 "$STRATA" -r "$T/damaged" replicate --to "$T/from-damaged"
one_error_line repl_damaged_source_one_line "fail their hash"
if [ ! -e "$T/from-damaged/${pack#"$T/damaged/"}" ] && [ -e "$T/from-damaged/config" ]; then
	pass repl_damaged_not_copied
else
	fail repl_damaged_not_copied "the damaged pack reached the target"
fi

# ---- refusals ----
expect repl_other_init "$STRATA" -r "$T/other" init
expect_exit repl_other_repo_refused 4 "$STRATA" -r "$R" replicate --to "$T/other"
one_error_line repl_other_repo_one_line "another repository"
expect_exit repl_no_target 2 "$STRATA" -r "$R" replicate
expect_exit repl_no_source 10 "$STRATA" -r "$T/nothing" replicate --to "$T/x"
one_error_line repl_no_source_one_line "no repository"
expect_exit repl_wrong_credentials 4 env AWS_SECRET_ACCESS_KEY=wrong "$STRATA" -r "$R" replicate --to "$L"
one_error_line repl_wrong_credentials_one_line "SignatureDoesNotMatch\|access denied"

# ---- metrics ----
expect repl_metrics "$STRATA" -r "$R" replicate --to "$L" --metrics-file "$T/repl.prom" --job offsite
if grep -q "^strata_replicate_success{job=\"offsite\",target=\"$L\"} 1" "$T/repl.prom" &&
   grep -q '^strata_replicate_last_success_timestamp_seconds' "$T/repl.prom"; then
	pass repl_metrics_file
else
	fail repl_metrics_file "$(head -c 400 "$T/repl.prom")"
fi

e2e_done
