#!/bin/sh
# e2e_format.sh — repository format versions (store/FORMAT.md §3, §7, §18).
# A new repository is format 2: its config header and JSON say 2 and every
# stored file is named by the SHA-256 of its bytes (what sha256sum prints).
# `init --format-version 1` makes a format 1 repository, named by
# BLAKE2b-256 (what `b2sum -l 256` prints), and every command keeps it
# that way: backups, key add, prune's repacks, replication, check with the
# pack hash, bit-exact restores. Any other version is refused at init, and
# replication refuses a source whose header version it does not know.
. tests/e2e_lib.sh

# header_version REPO — the config's sealed-header VERSION (bytes 8..11, LE).
header_version() {
	od -An -tu4 -j8 -N4 "$1/config" | tr -d ' '
}

# names_match NAME REPO TOOL — every named file of REPO (keys, packs, index,
# snapshots, prune plans) is TOOL's hash of its bytes, and there are some.
names_match() {
	bad=0; n=0
	for f in $(cd "$2" && find keys data tree index snapshots prune -type f ! -name '.*' 2>/dev/null); do
		h=$($3 "$2/$f" | cut -d' ' -f1)
		n=$((n + 1))
		[ "$h" = "${f##*/}" ] || { bad=$((bad + 1)); echo "  $f hashes to $h"; }
	done
	if [ "$n" -gt 5 ] && [ "$bad" -eq 0 ]; then pass "$1"; else fail "$1" "$bad of $n files misnamed"; fi
}

S="$T/src"
mkdir -p "$S/d"
head -c 3000000 /dev/urandom >"$S/big"
i=0
while [ $i -lt 20 ]; do printf 'file %d\n' $i >"$S/d/f$i"; i=$((i + 1)); done

# ---- the default: format 2, SHA-256 names ----
expect fmt_version_json "$STRATA" version --json
if grep -q '"format_version": 3' "$T/out"; then pass fmt_binary_reads_3; else fail fmt_binary_reads_3 "$(cat "$T/out")"; fi
expect fmt2_init "$STRATA" -r "$R" init
if [ "$(header_version "$R")" = 2 ]; then pass fmt2_header_2; else fail fmt2_header_2 "header says $(header_version "$R")"; fi
expect fmt2_cat_config "$STRATA" -r "$R" cat config
if grep -q '"version": 2' "$T/out"; then pass fmt2_config_json_2; else fail fmt2_config_json_2 "$(cat "$T/out")"; fi
expect fmt2_backup "$STRATA" -r "$R" backup "$S"
printf 'more\n' >>"$S/d/f3"
expect fmt2_backup2 "$STRATA" -r "$R" backup "$S"
names_match fmt2_names_are_sha256 "$R" sha256sum
k=$(ls "$R/keys" | head -n 1)
if [ "$(b2sum -l 256 "$R/keys/$k" | cut -d' ' -f1)" != "$k" ]; then pass fmt2_names_not_blake2b; else fail fmt2_names_not_blake2b "$k"; fi
expect fmt2_check "$STRATA" -r "$R" check --read-data --pack-hash
expect fmt2_restore "$STRATA" -r "$R" restore latest --target "$T/r2"
same_tree fmt2_restore_bit_exact "$S" "$T/r2$S"

# A pack swapped for another authentic pack passes every blob check; only
# the name hash (--pack-hash) tells, and it must use SHA-256 to tell.
p1=$(cd "$R" && find data -type f | LC_ALL=C sort | head -n 1)
flip_byte "$R/$p1" 100
expect_exit fmt2_damaged_pack_exit 1 "$STRATA" -r "$R" check --read-data --pack-hash
if grep -q "does not hash to its name" "$T/out" "$T/err"; then pass fmt2_damaged_pack_named; else fail fmt2_damaged_pack_named "$(head -c 400 "$T/out")"; fi
flip_byte "$R/$p1" 100
expect fmt2_check_again "$STRATA" -r "$R" check --read-data --pack-hash

# ---- format 1 on request: BLAKE2b-256 names, kept by every writer ----
R1="$T/repo1"
expect fmt1_init "$STRATA" -r "$R1" init --format-version 1
if [ "$(header_version "$R1")" = 1 ]; then pass fmt1_header_1; else fail fmt1_header_1 "header says $(header_version "$R1")"; fi
expect fmt1_cat_config "$STRATA" -r "$R1" cat config
if grep -q '"version": 1' "$T/out"; then pass fmt1_config_json_1; else fail fmt1_config_json_1 "$(cat "$T/out")"; fi
expect fmt1_backup "$STRATA" -r "$R1" backup "$S"
head -c 400000 /dev/urandom >>"$S/big"
expect fmt1_backup2 "$STRATA" -r "$R1" backup "$S"
printf 'other password\n' >"$T/pw2"
expect fmt1_key_add "$STRATA" -r "$R1" key add --new-password-file "$T/pw2"
expect fmt1_forget "$STRATA" -r "$R1" forget --keep-last 1
expect fmt1_prune "$STRATA" -r "$R1" prune --max-unused 0
names_match fmt1_names_are_blake2b "$R1" "b2sum -l 256"
expect fmt1_check "$STRATA" -r "$R1" check --read-data --pack-hash
expect fmt1_restore "$STRATA" -r "$R1" restore latest --target "$T/r1"
same_tree fmt1_restore_bit_exact "$S" "$T/r1$S"
expect fmt1_replicate "$STRATA" -r "$R1" replicate --to "$T/copy1"
if [ "$(header_version "$T/copy1")" = 1 ]; then pass fmt1_copy_header_1; else fail fmt1_copy_header_1 "copy says $(header_version "$T/copy1")"; fi
names_match fmt1_copy_names_are_blake2b "$T/copy1" "b2sum -l 256"
expect fmt1_copy_check "$STRATA" -r "$T/copy1" check --read-data --pack-hash

# Replication checks each object against the name hash of the source's
# format: a format 1 object damaged at the source is not copied.
expect fmt2_replicate "$STRATA" -r "$R" replicate --to "$T/copy2"
names_match fmt2_copy_names_are_sha256 "$T/copy2" sha256sum
s1=$(ls "$R1/snapshots" | head -n 1)
flip_byte "$R1/snapshots/$s1" 50
expect_exit fmt1_replicate_damaged_exit 1 "$STRATA" -r "$R1" replicate --to "$T/copy3"
if grep -q "its BLAKE2b-256 does not match its name" "$T/err"; then pass fmt1_replicate_damaged_named; else fail fmt1_replicate_damaged_named "$(head -c 400 "$T/err")"; fi
if [ -e "$T/copy3/config" ] && [ ! -e "$T/copy3/snapshots/$s1" ]; then pass fmt1_damaged_not_copied; else fail fmt1_damaged_not_copied "copied"; fi

# Replication has no key: it reads the version from the config's clear
# header, and copies nothing from a source it cannot name-check.
cp -r "$R" "$T/v3"
printf '\004' | dd of="$T/v3/config" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_exit fmt_replicate_newer_exit 13 "$STRATA" -r "$T/v3" replicate --to "$T/copy-v3"
if grep -q "has repository format version 4, this strata replicates versions 1 to 3; upgrade strata" "$T/err" &&
   [ "$(find "$T/copy-v3" -type f 2>/dev/null | wc -l)" -eq 0 ]; then
	pass fmt_replicate_newer_refused
else
	fail fmt_replicate_newer_refused "$(head -c 300 "$T/err"); $(find "$T/copy-v3" -type f 2>/dev/null | head -3)"
fi
printf '\000' | dd of="$T/v3/config" bs=1 seek=8 conv=notrunc 2>/dev/null
expect_exit fmt_replicate_v0_exit 1 "$STRATA" -r "$T/v3" replicate --to "$T/copy-v0"
if grep -q "config has format version 0, which no strata writes (damaged)" "$T/err"; then
	pass fmt_replicate_v0_damaged
else
	fail fmt_replicate_v0_damaged "$(head -c 300 "$T/err")"
fi

# ---- versions this strata does not write ----
for v in 0 4 x; do
	expect_exit "fmt_init_refuses_$v" 2 "$STRATA" -r "$T/bad$v" init --format-version "$v"
	if grep -q -- "--format-version takes 1, 2 or 3, not $v" "$T/err" && [ ! -e "$T/bad$v/config" ]; then
		pass "fmt_init_refuses_${v}_message"
	else
		fail "fmt_init_refuses_${v}_message" "$(head -c 300 "$T/err")"
	fi
done

e2e_done
