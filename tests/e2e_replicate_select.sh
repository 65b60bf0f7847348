#!/bin/sh
# e2e_replicate_select.sh — selective copies: `replicate --mirror` with
# --tag, --host and --keep-* (forget's selectors and keep rules) to a local
# directory: the copy holds exactly the chosen snapshots and only the data
# packs they need; when the choice moves on (a keep rule), the snapshots
# and packs no longer chosen go; every step checks and restores bit-exact.
. tests/e2e_lib.sh

C="$T/copy"
check_json() {
	if r=$(json "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $r in $(tr -d '\n' <"$T/out" | head -c 600)"; fi
}
ids() {
	"$STRATA" -r "$1" snapshots --json | json_in "' '.join(sorted(s['id'] for s in d))"
}
ndata() {
	find "$1/data" -type f 2>/dev/null | wc -l
}
# backup_one NAME TAG — a backup of $T/src holding only file NAME (its own data pack).
backup_one() {
	rm -rf "$T/src"
	mkdir -p "$T/src"
	head -c 120000 /dev/urandom >"$T/src/$1"
	expect "select_backup_$1" "$STRATA" -r "$R" backup --tag "$2" "$T/src"
	cp -r "$T/src" "$T/want-$1"
}

expect select_init "$STRATA" -r "$R" init
backup_one a daily
backup_one b daily
backup_one m1 monthly
backup_one c daily
id_m1=$("$STRATA" -r "$R" snapshots --tag monthly --json | json_in "d[0]['id']")
id_c=$("$STRATA" -r "$R" snapshots --json | json_in "d[-1]['id']")

expect_exit select_needs_mirror 2 "$STRATA" -r "$R" replicate --to "$C" --tag monthly
if [ "$(cat "$T/err")" = "strata: replicate: --host, --tag and --keep-* choose the snapshots a mirror holds: add --mirror (see 'strata help replicate')" ]; then
	pass select_needs_mirror_message
else
	fail select_needs_mirror_message "$(cat "$T/err")"
fi

# ---- monthly copies only ----
expect select_monthly "$STRATA" -r "$R" replicate --to "$C" --mirror --tag monthly --json
check_json select_monthly_counts "d['targets'][0]['ok'] and d['targets'][0]['mirror']['selection'] == {'snapshots': 1, 'data_blobs': d['targets'][0]['mirror']['selection']['data_blobs'], 'packs_not_selected': 3, 'bytes_not_selected': d['targets'][0]['mirror']['selection']['bytes_not_selected']} and d['targets'][0]['mirror']['selection']['bytes_not_selected'] > 360000 and d['targets'][0]['mirror']['cover_index_written']"
if [ "$(ids "$C")" = "$id_m1" ]; then pass select_monthly_only_that_snapshot; else fail select_monthly_only_that_snapshot "$(ids "$C")"; fi
if [ "$(ndata "$C")" -eq 1 ]; then pass select_monthly_one_data_pack; else fail select_monthly_one_data_pack "$(ndata "$C") data packs"; fi
expect select_monthly_check "$STRATA" -r "$C" check --read-data
expect select_monthly_restore "$STRATA" -r "$C" restore latest --target "$T/r1"
same_tree select_monthly_restore_bit_exact "$T/want-m1" "$T/r1$T/src"
expect select_monthly_again "$STRATA" -r "$R" replicate --to "$C" --mirror --tag monthly --json
check_json select_monthly_again_nothing "d['targets'][0]['objects_copied'] == 0 and d['targets'][0]['mirror']['packs_deleted'] == 0 and d['targets'][0]['mirror']['snapshots_deleted'] == 0 and not d['targets'][0]['mirror']['cover_index_written']"

# ---- the copy remembers: cat replica, and a plain run follows ----
expect select_cat_replica "$STRATA" -r "$C" cat replica
check_json select_cat_replica_tags "d['selection']['tags'] == ['monthly'] and d['selection']['host'] is None and d['selection']['keep_last'] == 0 and d['min_age_data_s'] == 0 and d['version'] == 1"
backup_one m2 monthly
id_m2=$("$STRATA" -r "$R" snapshots --tag monthly --json | json_in "d[-1]['id']")
expect select_plain_follows "$STRATA" -r "$R" replicate --to "$C" --json
check_json select_plain_follows_json "d['targets'][0]['mirror']['settings_applied'] and not d['targets'][0]['mirror']['settings_written'] and d['targets'][0]['mirror']['selection']['snapshots'] == 2"
if [ "$(ids "$C")" = "$(printf '%s\n%s\n' "$id_m1" "$id_m2" | sort | tr '\n' ' ' | sed 's/ $//')" ]; then pass select_plain_monthly_only; else fail select_plain_monthly_only "$(ids "$C")"; fi
if [ "$(ndata "$C")" -eq 2 ]; then pass select_plain_two_data_packs; else fail select_plain_two_data_packs "$(ndata "$C") data packs"; fi
id_c=$id_m2
rm -rf "$T/want-c"; cp -r "$T/want-m2" "$T/want-c"

# ---- the two newest: m2 comes... (explicit: stored anew) ----
expect select_last2 "$STRATA" -r "$R" replicate --to "$C" --mirror --keep-last 2 --json
check_json select_last2_stored "d['targets'][0]['mirror']['settings_written']"
id_cc=$("$STRATA" -r "$R" snapshots --tag daily --json | json_in "d[-1]['id']")
if [ "$(ids "$C")" = "$(printf '%s\n%s\n' "$id_cc" "$id_m2" | sort | tr '\n' ' ' | sed 's/ $//')" ]; then pass select_last2_snapshots; else fail select_last2_snapshots "$(ids "$C")"; fi
if [ "$(ndata "$C")" -eq 2 ]; then pass select_last2_two_data_packs; else fail select_last2_two_data_packs "$(ndata "$C") data packs"; fi
expect select_last2_check "$STRATA" -r "$C" check --read-data

# ---- the newest only, from host "elsewhere": nothing; then this host ----
expect select_other_host "$STRATA" -r "$R" replicate --to "$C" --mirror --host elsewhere --dry-run --json
check_json select_other_host_would_empty "d['targets'][0]['mirror']['snapshots_deleted'] == 2 and d['targets'][0]['mirror']['selection']['snapshots'] == 0 and not d['targets'][0]['mirror']['settings_written']"
expect select_last1 "$STRATA" -r "$R" replicate --to "$C" --mirror --keep-last 1 --json
check_json select_last1_deletes "d['targets'][0]['mirror']['snapshots_deleted'] == 1 and d['targets'][0]['mirror']['packs_deleted'] >= 1"
if [ "$(ids "$C")" = "$id_c" ]; then pass select_last1_snapshot; else fail select_last1_snapshot "$(ids "$C")"; fi
if [ "$(ndata "$C")" -eq 1 ]; then pass select_last1_one_data_pack; else fail select_last1_one_data_pack "$(ndata "$C") data packs"; fi
expect select_last1_check "$STRATA" -r "$C" check --read-data
expect select_last1_restore "$STRATA" -r "$C" restore latest --target "$T/r2"
same_tree select_last1_restore_bit_exact "$T/want-c" "$T/r2$T/src"

# ---- back to a full mirror: everything arrives ----
expect select_full "$STRATA" -r "$R" replicate --to "$C" --mirror --json
if [ "$(ids "$C")" = "$(ids "$R")" ] && [ "$(ndata "$C")" -eq "$(ndata "$R")" ]; then pass select_full_same; else fail select_full_same "$(ids "$C") / $(ndata "$C") packs"; fi
expect select_full_check "$STRATA" -r "$C" check --read-data

# ---- a copy's minimum data age outlives the run that set it ----
expect select_glacier_copy "$STRATA" -r "$R" replicate --to "$T/g" --mirror --storage-class data=GLACIER
expect select_glacier_settings "$STRATA" -r "$T/g" cat replica
check_json select_glacier_settings_ages "d['min_age_data_s'] == 7776000 and d['min_age_tree_s'] == 0 and d['storage_class'] == 'data=GLACIER' and d['selection'] is None"
expect select_glacier_prune "$STRATA" -r "$T/g" --verbose prune --dry-run
if grep -qx 'replica settings: minimum age 7776000 s for data packs, 0 s for tree packs' "$T/err"; then pass select_glacier_prune_honours; else fail select_glacier_prune_honours "$(cat "$T/err")"; fi
expect_exit select_cat_replica_none 14 "$STRATA" -r "$R" cat replica

e2e_done
