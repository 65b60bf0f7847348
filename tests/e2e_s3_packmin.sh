#!/bin/sh
# e2e_s3_packmin.sh — data packs for a storage class with a minimum
# billable size (tools/cli/doc/s3.md "Storage classes and pack sizes"),
# against a real S3 server (tests/s3/s3lib.sh). With 512 KiB packs and
# small chunks, a backup of 1 MiB + 60 KiB of random data stores, under
# STANDARD_IA, two data packs none of which is below 128 KiB (the tail
# joins the second); the same backup into a STANDARD repository stores
# three, the last below 128 KiB. A later backup of 40 KiB stores one pack
# of its own size (the whole backup is smaller than the minimum). Both
# restore bit-exact.
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

s3_start || e2e_done
# s3api OP ARGS — an independent S3 client (tests/s3api.py: list, head, get,
# put, delete), ~0.1 s of CPU a call where `aws s3api` took ~1.3 s.
s3api() { python3 -S tests/s3api.py "$S3_ENDPOINT" "$S3_BUCKET" "$@"; }
SMALL="--chunk-min 1K --chunk-avg 4K --chunk-max 16K --pack-size 512K"
mkdir -p "$T/a" "$T/b"
head -c $((1024 * 1024 + 60 * 1024)) /dev/urandom >"$T/a/big"

# sizes PREFIX: the sizes of the data packs under PREFIX, one a line
sizes() {
	s3api list "$1/data/" 2>/dev/null | cut -d' ' -f2 | sort -n
}

for c in ia std; do
	if [ $c = ia ]; then cls=STANDARD_IA; else cls=STANDARD; fi
	L=s3:$S3_ENDPOINT/$S3_BUCKET/$c
	expect "init_$c" "$STRATA" -r "$L" init $SMALL --storage-class "data=$cls,metadata=STANDARD"
	expect "backup_$c" "$STRATA" -r "$L" backup "$T/a" --storage-class "data=$cls,metadata=STANDARD"
	sizes "$c" >"$T/sizes-$c"
done
n=$(wc -l <"$T/sizes-ia")
small=$(awk '$1 < 131072' "$T/sizes-ia" | wc -l)
if [ "$n" -eq 2 ] && [ "$small" -eq 0 ]; then pass ia_no_pack_below_128k
else fail ia_no_pack_below_128k "packs: $(tr '\n' ' ' <"$T/sizes-ia")"; fi
n=$(wc -l <"$T/sizes-std")
small=$(awk '$1 < 131072' "$T/sizes-std" | wc -l)
if [ "$n" -eq 3 ] && [ "$small" -eq 1 ]; then pass standard_keeps_small_tail
else fail standard_keeps_small_tail "packs: $(tr '\n' ' ' <"$T/sizes-std")"; fi

# A backup smaller than the minimum: one pack of its size.
L=s3:$S3_ENDPOINT/$S3_BUCKET/ia
head -c $((40 * 1024)) /dev/urandom >"$T/a/more"
expect backup_ia_small "$STRATA" -r "$L" backup "$T/a" --storage-class data=STANDARD_IA,metadata=STANDARD
sizes ia >"$T/sizes-ia2"
new=$(sort "$T/sizes-ia" "$T/sizes-ia" "$T/sizes-ia2" | uniq -u)
if [ "$(echo "$new" | grep -c .)" -eq 1 ] && [ "$new" -lt 131072 ] && [ "$new" -gt 40000 ]; then pass ia_small_backup_one_pack
else fail ia_small_backup_one_pack "new packs: $new"; fi

for c in ia std; do
	rm -rf "$T/r"
	expect "restore_$c" "$STRATA" -r "s3:$S3_ENDPOINT/$S3_BUCKET/$c" restore latest --target "$T/r"
	if diff -r "$T/a" "$T/r$T/a" >/dev/null 2>&1 || { [ $c = std ] && cmp -s "$T/a/big" "$T/r$T/a/big"; }; then
		pass "restore_${c}_bit_exact"
	else
		fail "restore_${c}_bit_exact" "$(diff -r "$T/a" "$T/r$T/a" 2>&1 | head -3)"
	fi
done
e2e_done
