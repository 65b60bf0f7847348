#!/bin/sh
# e2e_replicate_mirror.sh — `strata replicate --mirror` into a GLACIER copy
# through the fault proxy (tests/s3/faultproxy.js; its /__age makes stored
# objects look older in listings): after `forget --prune` at the source
# the copy loses the forgotten snapshots and the packs only they needed,
# except packs younger than GLACIER's 90 days, which are held back with the
# index file listing them (--dry-run shows the plan and the fees avoided;
# --force-early-delete deletes them too); the next run, once they are old
# enough, deletes them and the copy holds exactly the source's objects; no
# GET of a data/ object, ever; the copy restores bit-exact at every step;
# a key removed at the source stops opening the copy.
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

s3_start || e2e_done
s3_proxy_start || e2e_done
export STRATA_S3_RETRIES=2
C=s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/mirror
TIER=data=GLACIER

check_json() {
	if r=$(json "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $r in $(tr -d '\n' <"$T/out" | head -c 600)"; fi
}

# no_data_get NAME — the proxy saw no GET of a data/ object since s3_faults.
no_data_get() {
	if s3_proxy_log | grep -q ' GET /[^?]*/data/'; then fail "$1" "$(s3_proxy_log | grep ' GET /[^?]*/data/' | head -3)"; else pass "$1"; fi
}

# snap_ids LOCATION — the snapshot IDs there, sorted.
snap_ids() {
	"$STRATA" -r "$1" snapshots --json | json_in "'\n'.join(sorted(s['id'] for s in d))"
}

# backup_one NAME — a backup of $T/src holding only file NAME (its own pack).
backup_one() {
	rm -rf "$T/src"
	mkdir -p "$T/src"
	head -c 150000 /dev/urandom >"$T/src/$1"
	expect "mirror_backup_$1" "$STRATA" -r "$R" backup "$T/src"
	cp -r "$T/src" "$T/want-$1"
}

expect mirror_init "$STRATA" -r "$R" init
backup_one a
backup_one b
backup_one c
id_a=$("$STRATA" -r "$R" snapshots --json | json_in "d[0]['id']")

# ---- the first mirror run copies everything; the GLACIER copy ages ----
expect mirror_first "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror --json
check_json mirror_first_nothing_deleted "d['targets'][0]['ok'] and d['targets'][0]['mirror']['snapshots_deleted'] == 0 and d['targets'][0]['mirror']['packs_deleted'] == 0"
s3_age 100
backup_one d
id_d=$("$STRATA" -r "$R" snapshots --json | json_in "d[-1]['id']")
expect mirror_second "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror

# ---- forget a (100 days old at the copy) and d (new) at the source ----
expect mirror_forget "$STRATA" -r "$R" forget "$id_a" "$id_d" --prune --max-unused 0
nsrc=$(cd "$R" && find . -type f ! -name '.*' ! -path './locks/*' | wc -l)

s3_faults ''
expect mirror_dry_run "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror --dry-run --json
# d's pack is held back; the index file listing it lists packs of a too,
# so it is replaced by one listing the kept packs only.
check_json mirror_dry_run_plan "d['targets'][0]['mirror']['snapshots_deleted'] == 2 and d['targets'][0]['mirror']['packs_held'] == 1 and d['targets'][0]['mirror']['index_rewritten'] == 1 and d['targets'][0]['mirror']['packs_deleted'] >= 2 and d['targets'][0]['mirror']['fees_avoided_usd'] > 0"
if s3_proxy_log | grep -q ' DELETE '; then fail mirror_dry_run_deletes_nothing "$(s3_proxy_log | grep ' DELETE ' | head -3)"; else pass mirror_dry_run_deletes_nothing; fi
expect mirror_dry_run_text "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror --dry-run
if grep -q '^  mirror: would delete 2 snapshots, 0 key files, 0 restore-test records, [0-9]* index files, [0-9]* packs (' "$T/out" &&
   grep -q '^  mirror: held back 1 packs (.*) younger than their storage class.s minimum duration; early-deletion fees avoided: \$0\.0' "$T/out" &&
   grep -q '^  mirror: would write 1 index file listing the packs kept' "$T/out"; then
	pass mirror_dry_run_text_plan
else
	fail mirror_dry_run_text_plan "$(cat "$T/out")"
fi
expect mirror_dry_run_force "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror --dry-run --force-early-delete --json
check_json mirror_dry_run_force_holds_nothing "d['targets'][0]['mirror']['packs_held'] == 0 and d['targets'][0]['mirror']['index_rewritten'] == 0 and d['targets'][0]['mirror']['fees_avoided_usd'] == 0"

# ---- the mirror run: a's pack goes, d's (young) stays with its index ----
s3_faults ''
expect mirror_after_prune "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror --json
cp "$T/out" "$T/mirror.json"
check_json mirror_after_prune_done "d['targets'][0]['ok'] and d['targets'][0]['mirror']['snapshots_deleted'] == 2 and d['targets'][0]['mirror']['packs_held'] == 1 and d['targets'][0]['mirror']['packs_deleted'] >= 2"
s3_proxy_log >"$T/plog"
ndel=$(grep -c ' DELETE ' "$T/plog")
want=$(json "$T/mirror.json" "sum(d['targets'][0]['mirror'][k] for k in ('snapshots_deleted','keys_deleted','verified_deleted','index_deleted','packs_deleted'))")
if [ "$ndel" -eq "$want" ] && [ "$ndel" -gt 0 ]; then pass mirror_after_prune_deletes; else fail mirror_after_prune_deletes "$ndel DELETEs, $want planned"; fi
no_data_get mirror_after_prune_no_data_get
echo "FIGURES mirror after prune: $(json "$T/mirror.json" "d['targets'][0]['mirror']") requests=$(json "$T/mirror.json" "d['targets'][0]['requests']") bytes_sent=$(json "$T/mirror.json" "d['targets'][0]['bytes_sent']") bytes_received=$(json "$T/mirror.json" "d['targets'][0]['bytes_received']") proxy_requests=$(wc -l <"$T/plog") lists=$(grep -c 'list-type=2' "$T/plog") gets=$(grep ' GET ' "$T/plog" | grep -vc 'list-type=2') puts=$(grep -c ' PUT ' "$T/plog") heads=$(grep -c ' HEAD ' "$T/plog") deletes=$(grep -c ' DELETE ' "$T/plog")"
if [ "$(snap_ids "$C")" = "$(snap_ids "$R")" ]; then pass mirror_same_snapshots; else fail mirror_same_snapshots "$(snap_ids "$C") vs $(snap_ids "$R")"; fi
rm -rf "$STRATA_CACHE_DIR"
expect mirror_copy_check "$STRATA" -r "$C" check
expect mirror_copy_restore "$STRATA" -r "$C" restore latest --target "$T/r1"
same_tree mirror_copy_restore_bit_exact "$T/want-c" "$T/r1$T/src"

# ---- once old enough, the held pack goes: the copy is the source ----
s3_age 100
s3_faults ''
expect mirror_later "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror --json
check_json mirror_later_deletes_held "d['targets'][0]['mirror']['packs_held'] == 0 and d['targets'][0]['mirror']['packs_deleted'] >= 1 and d['targets'][0]['mirror']['index_deleted'] >= 1"
expect mirror_settled "$STRATA" -r "$R" replicate --to "$C" --mirror --dry-run --json
check_json mirror_settled_same_objects "d['targets'][0]['objects_present'] == d['targets'][0]['objects_source'] == $nsrc and sum(v for k, v in d['targets'][0]['mirror'].items() if k.endswith('_deleted')) == 0"
rm -rf "$STRATA_CACHE_DIR"
expect mirror_settled_check "$STRATA" -r "$C" check
expect mirror_settled_restore "$STRATA" -r "$C" restore latest --target "$T/r2"
same_tree mirror_settled_restore_bit_exact "$T/want-c" "$T/r2$T/src"

# ---- a repack at the source uploads nothing the copy holds ----
rm -rf "$T/src"
mkdir -p "$T/src"
head -c 150000 /dev/urandom >"$T/src/x"
head -c 150000 /dev/urandom >"$T/src/y"
expect mirror_backup_xy "$STRATA" -r "$R" backup "$T/src"
id_e=$("$STRATA" -r "$R" snapshots --json | json_in "d[-1]['id']")
expect mirror_xy "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror
rm "$T/src/y"
expect mirror_backup_x "$STRATA" -r "$R" backup "$T/src"
cp -r "$T/src" "$T/want-x"
expect mirror_x "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror
s3_age 100
# The pack of x and y is half unused: prune copies x into a new pack.
expect mirror_repack "$STRATA" -r "$R" forget "$id_e" --prune --max-unused 0 --json
if json "$T/out" "d" | grep -q "'repack_packs': [1-9]"; then pass mirror_repack_happened; else fail mirror_repack_happened "$(head -c 600 "$T/out")"; fi
s3_faults ''
expect mirror_after_repack "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror --json
cp "$T/out" "$T/repack.json"
check_json mirror_after_repack_not_uploaded "d['targets'][0]['mirror']['packs_not_uploaded'] >= 1 and d['targets'][0]['mirror']['packs_kept_needed'] >= 1 and d['targets'][0]['mirror']['packs_held'] == 0"
s3_proxy_log >"$T/plog"
if grep -q ' PUT /[^?]*/data/' "$T/plog"; then fail mirror_after_repack_no_data_put "$(grep ' PUT ' "$T/plog" | head -5)"; else pass mirror_after_repack_no_data_put; fi
no_data_get mirror_after_repack_no_data_get
echo "FIGURES mirror after repack: $(json "$T/repack.json" "d['targets'][0]['mirror']") requests=$(json "$T/repack.json" "d['targets'][0]['requests']") bytes_sent=$(json "$T/repack.json" "d['targets'][0]['bytes_sent']") proxy_requests=$(wc -l <"$T/plog") puts=$(grep -c ' PUT ' "$T/plog")"
rm -rf "$STRATA_CACHE_DIR"
expect mirror_repack_check "$STRATA" -r "$C" check
expect mirror_repack_restore "$STRATA" -r "$C" restore latest --target "$T/r3"
same_tree mirror_repack_restore_bit_exact "$T/want-x" "$T/r3$T/src"
expect mirror_repack_again "$STRATA" -r "$R" replicate --to "$C" --storage-class "$TIER" --mirror --json
check_json mirror_repack_again_nothing "d['targets'][0]['objects_copied'] == 0 and d['targets'][0]['mirror']['packs_deleted'] == 0 and d['targets'][0]['mirror']['index_rewritten'] == 0 and d['targets'][0]['mirror']['cover_index_written'] == False"

# ---- a key removed at the source stops opening the copy ----
printf 'second password\n' >"$T/pw2"
expect mirror_key_add "$STRATA" -r "$R" key add --new-password-file "$T/pw2"
expect mirror_key_copied "$STRATA" -r "$R" replicate --to "$C" --mirror
expect mirror_pw2_opens_copy "$STRATA" --password-file "$T/pw2" -r "$C" snapshots
k2=$("$STRATA" -r "$R" key list --json | json_in "[k['id'] for k in d if not k.get('current')][0]")
expect mirror_key_remove "$STRATA" -r "$R" key remove "$k2"
expect mirror_key_removed "$STRATA" -r "$R" replicate --to "$C" --mirror --json
check_json mirror_key_deleted_at_copy "d['targets'][0]['mirror']['keys_deleted'] == 1"
rm -rf "$STRATA_CACHE_DIR"
expect_exit mirror_pw2_refused 12 "$STRATA" --password-file "$T/pw2" -r "$C" snapshots
expect_exit mirror_pw2_refused_at_source 12 "$STRATA" --password-file "$T/pw2" -r "$R" snapshots
cp "$T/err" "$T/err-source"
expect_exit mirror_pw2_refused_copy_again 12 "$STRATA" --password-file "$T/pw2" -r "$C" snapshots
if [ "$(sed "s|$C|LOC|" "$T/err")" = "$(sed "s|$R|LOC|" "$T/err-source")" ] && grep -q 'password' "$T/err"; then
	pass mirror_pw2_same_error_as_source
else
	fail mirror_pw2_same_error_as_source "copy: $(cat "$T/err") source: $(cat "$T/err-source")"
fi
expect mirror_pw1_still_opens "$STRATA" -r "$C" snapshots

e2e_done
