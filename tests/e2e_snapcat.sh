#!/bin/sh
# e2e_snapcat.sh — the snapshot catalogue through the real binary: two
# hosts (two cache directories) sharing one repository, first on a local
# directory and then on an S3 server. What one host backs up or forgets,
# and what disappears behind both their backs, must show up in the other's
# `snapshots --latest`, `snapshots` and `restore --at`; a deleted or
# damaged catalogue only costs reads. The S3 half is skipped without node.
. tests/e2e_lib.sh

S="$T/src"
mkdir -p "$S/d"
printf 'one\n' >"$S/d/a"
printf 'two\n' >"$S/b"
CA="$T/cache-a"
CB="$T/cache-b"

# json_ids FILE — the IDs of a `snapshots --json` array, in order, one a line.
json_ids() {
	json_in "*(s['id'] + '\n' for s in d), sep='', end=''" <"$1"
}

# same_ids NAME WANT_FILE — $T/out (a --json listing) holds exactly those IDs.
same_ids() {
	json_ids "$T/out" >"$T/got" 2>&1
	if cmp -s "$T/got" "$2"; then pass "$1"; else fail "$1" "got $(tr '\n' ' ' <"$T/got"), wanted $(tr '\n' ' ' <"$2")"; fi
}

# backup_id CACHE LOC — back up $S, print the new snapshot's ID.
backup_id() {
	STRATA_CACHE_DIR=$1 "$STRATA" -r "$2" backup "$S" --json 2>"$T/err" |
		json_in 'd["snapshot_id"]'
}

# scenario PREFIX LOC DELETE_CMD — DELETE_CMD ID removes a snapshot file
# behind strata's back.
scenario() {
	p=$1 loc=$2 del=$3
	expect "${p}_init" "$STRATA" -r "$loc" init
	a1=$(backup_id "$CA" "$loc")
	a2=$(backup_id "$CA" "$loc")
	STRATA_CACHE_DIR=$CA expect "${p}_a_lists" "$STRATA" -r "$loc" --json snapshots --latest 10
	printf '%s\n%s\n' "$a1" "$a2" >"$T/want"
	same_ids "${p}_a_sees_own" "$T/want"

	# Host B backs up twice and forgets A's first snapshot.
	b1=$(backup_id "$CB" "$loc")
	printf 'three\n' >>"$S/b"
	b2=$(backup_id "$CB" "$loc")
	STRATA_CACHE_DIR=$CB expect "${p}_b_forgets" "$STRATA" -r "$loc" forget "$a1"
	printf '%s\n%s\n%s\n' "$a2" "$b1" "$b2" >"$T/want"
	STRATA_CACHE_DIR=$CA expect "${p}_a_latest" "$STRATA" -r "$loc" --json snapshots --latest 10
	same_ids "${p}_a_sees_b_add_and_forget" "$T/want"
	STRATA_CACHE_DIR=$CA expect "${p}_a_all" "$STRATA" -r "$loc" --json snapshots
	same_ids "${p}_a_all_exact" "$T/want"

	# restore --at the newest time picks B's newest snapshot on A.
	STRATA_CACHE_DIR=$CA expect "${p}_a_at" "$STRATA" -r "$loc" --json snapshots --at '2100-01-01'
	printf '%s\n' "$b2" >"$T/want1"
	same_ids "${p}_a_at_picks_newest" "$T/want1"
	STRATA_CACHE_DIR=$CA expect "${p}_a_restore_at" "$STRATA" -r "$loc" restore --at '2100-01-01' --target "$T/${p}_r"
	if grep -q three "$T/${p}_r$S/b"; then pass "${p}_restore_at_content"; else fail "${p}_restore_at_content" "old content"; fi

	# Behind both hosts' backs: B's newest vanishes from the store.
	$del "$b2"
	printf '%s\n%s\n' "$a2" "$b1" >"$T/want"
	STRATA_CACHE_DIR=$CA expect "${p}_a_after_delete" "$STRATA" -r "$loc" --json snapshots --latest 10
	same_ids "${p}_a_sees_delete" "$T/want"
	STRATA_CACHE_DIR=$CB expect "${p}_b_after_delete" "$STRATA" -r "$loc" --json snapshots --latest 10
	same_ids "${p}_b_sees_delete" "$T/want"

	# The catalogue deleted, then damaged: only reads are lost.
	rm -rf "$CA"
	STRATA_CACHE_DIR=$CA expect "${p}_no_catalogue" "$STRATA" -r "$loc" --json snapshots --latest 10
	same_ids "${p}_rebuilt_catalogue" "$T/want"
	nf=0
	for f in "$CA"/*/snapcat/data.mdb; do
		[ -f "$f" ] || continue
		head -c 8192 /dev/urandom | dd of="$f" bs=4096 seek=1 conv=notrunc status=none
		nf=$((nf + 1))
	done
	[ "$nf" -eq 1 ] && pass "${p}_catalogue_damaged" || fail "${p}_catalogue_damaged" "$nf catalogues under $CA"
	STRATA_CACHE_DIR=$CA expect "${p}_damaged_catalogue" "$STRATA" -r "$loc" --json snapshots --latest 10
	same_ids "${p}_damaged_catalogue_exact" "$T/want"
	rm -rf "$CA" "$CB"
}

local_delete() {
	rm -f "$R/snapshots/$1"
}
scenario snapcat_local "$R" local_delete

# ---- the same on S3 ----
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
	. tests/s3/s3lib.sh
	if s3_start; then
		# The object removed with the aws CLI when there is one, else
		# by a third host (a cache neither A nor B shares).
		s3_delete() {
			if [ -x /usr/bin/aws ]; then
				s3_aws delete-object --bucket "$S3_BUCKET" --key "snapcat/snapshots/$1" >/dev/null 2>&1
			else
				STRATA_CACHE_DIR="$T/cache-c" "$STRATA" -r "s3:$S3_ENDPOINT/$S3_BUCKET/snapcat" forget "$1" >/dev/null 2>&1
			fi
		}
		scenario snapcat_s3 "s3:$S3_ENDPOINT/$S3_BUCKET/snapcat" s3_delete
	fi
else
	echo "SKIP snapcat_s3: node and npm are needed for the S3 test server"
fi
e2e_done
