#!/bin/sh
# e2e_s3_backend.sh — the S3 backend against a real S3 server that checks
# SigV4 signatures (tests/s3/s3lib.sh), driven by build/tools/dev/backend_probe:
# round trips small and multipart, ranges, paginated listings, deletes,
# the errors a user sees, storage classes, credentials from a profile; then
# through tests/s3/faultproxy.js: retries that recover, clear errors when
# every request fails, a hostile server's endless listings and oversized
# objects (bounded requests and bytes, exact messages); and, as root, the
# error when libcurl cannot be loaded (local repositories never load it).
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

PROBE=${PROBE:-$(pwd)/${BUILD:-build}/tools/dev/backend_probe}
if [ ! -x "$PROBE" ]; then
	fail s3_probe_built "$PROBE missing: make ${BUILD:-build}/tools/dev/backend_probe"
	e2e_done
fi
s3_start || e2e_done
# s3api OP ARGS — an independent S3 client (tests/s3api.py: list, head, get,
# put, delete), ~0.1 s of CPU a call where `aws s3api` took ~1.3 s.
s3api() { python3 -S tests/s3api.py "$S3_ENDPOINT" "$S3_BUCKET" "$@"; }
L=$S3_LOCATION
OBJ=s3://$S3_BUCKET/repo
# Retries after 10-20 ms, doubling, instead of 100-200 ms: the proxy's
# faults hit chosen requests and each retry is asserted from its log; the
# default pauses added ~3 s of sleep.
export STRATA_S3_BACKOFF_MS=20

# same NAME FILE_A FILE_B — the files hold the same bytes.
same() {
	if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(cmp "$2" "$3" 2>&1 | head -c 200)"; fi
}

# out_is NAME TEXT — the last command's stdout is exactly TEXT (one line).
out_is() {
	got=$(cat "$T/out")
	if [ "$got" = "$2" ]; then pass "$1"; else fail "$1" "got \"$(printf %s "$got" | head -c 200)\", wanted \"$2\""; fi
}

# log_has NAME REGEX — the proxy saw a request line matching REGEX.
log_has() {
	if s3_proxy_log | grep -q -- "$2"; then pass "$1"; else fail "$1" "no request matching $2 in: $(s3_proxy_log | head -c 400)"; fi
}

head -c 1000 /dev/urandom >"$T/small"
head -c 1000 /dev/urandom >"$T/small2"
: >"$T/empty"
# Just over 64 MiB: uploaded in five parts of 16 MiB.
head -c 70000000 /dev/urandom >"$T/big"

# --- round trips against the server ---------------------------------------
expect s3_put_small "$PROBE" "$L" put config "$T/small"
"$PROBE" "$L" get config >"$T/got" 2>"$T/err"
same s3_get_small "$T/small" "$T/got"
expect s3_stat_small "$PROBE" "$L" stat config
out_is s3_stat_size 1000
"$PROBE" "$L" range config 100 50 >"$T/got" 2>"$T/err"
dd if="$T/small" of="$T/want" bs=1 skip=100 count=50 2>/dev/null
same s3_range_middle "$T/want" "$T/got"
"$PROBE" "$L" range config 990 10 >"$T/got" 2>"$T/err"
tail -c 10 "$T/small" >"$T/want"
same s3_range_tail "$T/want" "$T/got"
expect_exit s3_range_past_end 5 "$PROBE" "$L" range config 990 11
err_has s3_range_past_end_message "$OBJ/config" "past the end"
expect_exit s3_range_beyond 5 "$PROBE" "$L" range config 2000 1
expect s3_put_overwrite "$PROBE" "$L" put config "$T/small2"
"$PROBE" "$L" get config >"$T/got" 2>"$T/err"
same s3_get_overwritten "$T/small2" "$T/got"
expect s3_put_empty "$PROBE" "$L" put locks/empty "$T/empty"
if "$PROBE" "$L" get locks/empty >"$T/got" 2>"$T/err"; then same s3_get_empty "$T/empty" "$T/got"; else fail s3_get_empty "$(cat "$T/err")"; fi

expect s3_put_multipart "$PROBE" "$L" put data/9f/big "$T/big"
"$PROBE" "$L" get data/9f/big >"$T/got" 2>"$T/err"
same s3_get_multipart "$T/big" "$T/got"
rm -f "$T/got"
expect s3_stat_multipart "$PROBE" "$L" stat data/9f/big
out_is s3_stat_multipart_size 70000000
# 20 bytes across the boundary of parts 1 and 2 (16 MiB).
"$PROBE" "$L" range data/9f/big 16777206 20 >"$T/got" 2>"$T/err"
dd if="$T/big" of="$T/want" bs=2 skip=8388603 count=10 2>/dev/null
same s3_range_multipart "$T/want" "$T/got"

# --- listing ----------------------------------------------------------------
# 1100 keys: more than one ListObjectsV2 page of 1000. The first 100 go
# through the backend, 8 PUTs at a time; the other 1000 straight into the
# server's store, as it keeps them (the pinned s3rver's filesystem store:
# KEY._S3rver_object, its MD5 in hex, its metadata), the same names and
# bodies `fill` gives: 1000 PUTs through node took 4-8 s of CPU and wall
# where the listings below are what is tested.
expect s3_fill_100 "$PROBE" "$L" fill snapshots/s 100 8
python3 -S -c 'import hashlib, os, sys
d = sys.argv[1]
for i in range(100, 1100):
    body = b"object %d\n" % i
    base = os.path.join(d, "s%06d._S3rver_" % i)
    for suffix, data in (("object", body), ("object.md5", hashlib.md5(body).hexdigest().encode()),
                         ("metadata.json", b"{\n  \"content-type\": \"application/octet-stream\"\n}")):
        with open(base + suffix, "wb") as f:
            f.write(data)' "$T/s3/data/$S3_BUCKET/repo/snapshots"
"$PROBE" "$L" get snapshots/s001099 >"$T/got" 2>"$T/err"
printf 'object 1099\n' >"$T/want"
same s3_store_object_reads_back "$T/want" "$T/got"
expect s3_list_paginated "$PROBE" "$L" list snapshots/
n=$(wc -l <"$T/out"); u=$(cut -d' ' -f2 "$T/out" | sort -u | wc -l)
if [ "$n" -eq 1100 ] && [ "$u" -eq 1100 ]; then pass s3_list_count; else fail s3_list_count "$n lines, $u distinct, wanted 1100"; fi
expect s3_list_prefix "$PROBE" "$L" list snapshots/s00010
if [ "$(wc -l <"$T/out")" -eq 10 ] && grep -q '^11 snapshots/s000105$' "$T/out"; then
	pass s3_list_prefix_filter
else
	fail s3_list_prefix_filter "$(head -c 300 "$T/out")"
fi
expect s3_list_all "$PROBE" "$L" list
if grep -q '^1000 config$' "$T/out" && grep -q '^70000000 data/9f/big$' "$T/out" && [ "$(wc -l <"$T/out")" -eq 1103 ]; then
	pass s3_list_all_names
else
	fail s3_list_all_names "$(wc -l <"$T/out") lines"
fi
expect s3_list_missing_prefix "$PROBE" "$L" list nothing/
out_is s3_list_missing_empty ""

# --- delete and the errors a user sees ------------------------------------
expect s3_delete "$PROBE" "$L" del locks/empty
expect_exit s3_stat_deleted 3 "$PROBE" "$L" stat locks/empty
expect_exit s3_delete_missing 3 "$PROBE" "$L" del locks/empty
expect_exit s3_get_missing 3 "$PROBE" "$L" get keys/none
err_has s3_get_missing_message "$OBJ/keys/none: NoSuchKey"
expect_exit s3_no_bucket 3 "$PROBE" "s3:$S3_ENDPOINT/no-such-bucket/repo" get config
err_has s3_no_bucket_message "s3://no-such-bucket/repo/config: NoSuchBucket"
expect_exit s3_wrong_secret 4 env AWS_SECRET_ACCESS_KEY=not-the-secret "$PROBE" "$L" put config "$T/small"
err_has s3_wrong_secret_message "$OBJ/config: SignatureDoesNotMatch"
expect_exit s3_wrong_secret_head 4 env AWS_SECRET_ACCESS_KEY=not-the-secret "$PROBE" "$L" stat config
err_has s3_wrong_secret_head_message "$OBJ/config: access denied"
expect_exit s3_bad_name 1 "$PROBE" "$L" put ../escape "$T/small"
err_has s3_bad_name_message "invalid object name"
expect_exit s3_no_credentials 4 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	AWS_SHARED_CREDENTIALS_FILE="$T/none" "$PROBE" "$L" stat config
err_has s3_no_credentials_message "no S3 credentials"
expect_exit s3_bad_location 1 "$PROBE" "s3:ftp://host/bucket" stat config
expect_exit s3_refused_connection 1 env STRATA_S3_RETRIES=1 "$PROBE" "s3:http://127.0.0.1:1/$S3_BUCKET/repo" stat config
err_has s3_refused_connection_message "giving up after 2 attempts" "config"

# Credentials from a profile in a credentials file.
printf '[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n[ci]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/credentials"
expect s3_profile_credentials env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	AWS_SHARED_CREDENTIALS_FILE="$T/credentials" AWS_PROFILE=ci "$PROBE" "$L" stat config
expect_exit s3_profile_default_wrong 4 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	AWS_SHARED_CREDENTIALS_FILE="$T/credentials" "$PROBE" "$L" stat config

# A session token travels as x-amz-security-token, inside the signature.
expect s3_session_token env AWS_SESSION_TOKEN=FwoGZXIvYXdzEBYaDH+token/== "$PROBE" "$L" stat config

# --- TLS: verified by default ------------------------------------------------
if s3_tls_start; then
	expect_exit s3_tls_unknown_ca 1 env STRATA_S3_RETRIES=0 "$PROBE" "$TLS_LOCATION" put config "$T/small"
	err_has s3_tls_unknown_ca_message "certificate" "STRATA_S3_CA_BUNDLE"
	expect s3_tls_ca_bundle env STRATA_S3_CA_BUNDLE="$TLS_CA" "$PROBE" "$TLS_LOCATION" put config "$T/small"
	expect s3_tls_insecure env STRATA_S3_INSECURE_TLS=1 "$PROBE" "$TLS_LOCATION" stat config
	out_is s3_tls_insecure_size 1000
else
	echo "SKIP s3 TLS checks: openssl not installed"
fi

# --- storage classes --------------------------------------------------------
expect s3_class_put_data env STRATA_S3_STORAGE_CLASS=data=GLACIER,metadata=STANDARD \
	"$PROBE" "$L" put data/00/cold "$T/small"
expect s3_class_put_meta env STRATA_S3_STORAGE_CLASS=data=GLACIER,metadata=STANDARD \
	"$PROBE" "$L" put index/warm "$T/small"
expect s3_class_option "$PROBE" "$L?storage_class=data=DEEP_ARCHIVE,metadata=STANDARD_IA" put index/ia "$T/small"
expect_exit s3_class_bad_spec 1 env STRATA_S3_STORAGE_CLASS=GLACIER "$PROBE" "$L" stat config
err_has s3_class_bad_spec_message "bad storage class setting"
s3api head repo/data/00/cold >"$T/head" 2>&1
if grep -q '"StorageClass": "GLACIER"' "$T/head"; then pass s3_class_data_glacier; else fail s3_class_data_glacier "$(head -c 300 "$T/head")"; fi
s3api head repo/index/warm >"$T/head" 2>&1
if grep -q '"ContentLength": 1000' "$T/head" && ! grep -q StorageClass "$T/head"; then
	pass s3_class_metadata_standard
else
	fail s3_class_metadata_standard "$(head -c 300 "$T/head")"
fi
s3api head repo/index/ia >"$T/head" 2>&1
if grep -q '"StorageClass": "STANDARD_IA"' "$T/head"; then pass s3_class_location_option; else fail s3_class_location_option "$(head -c 300 "$T/head")"; fi
# What the backend wrote, an independent client reads back.
s3api get repo/config "$T/got" >/dev/null 2>&1
same s3_aws_reads_our_object "$T/small2" "$T/got"

# --- through the fault proxy: retries that recover --------------------------
s3_proxy_start || e2e_done
P=$PROXY_LOCATION

s3_faults 1:500,2:503,3:reset,4:drop
expect s3_fault_put_recovers "$PROBE" "$P" put keys/k1 "$T/small"
log_has s3_fault_put_saw_500 "PUT /$S3_BUCKET/repo/keys/k1 500 500"
log_has s3_fault_put_saw_503 "PUT /$S3_BUCKET/repo/keys/k1 503 503"
log_has s3_fault_put_retried "PUT /$S3_BUCKET/repo/keys/k1 200 -$"
s3_faults 1:close,2:flip,3:reset
"$PROBE" "$P" get keys/k1 >"$T/got" 2>"$T/err"
same s3_fault_get_recovers "$T/small" "$T/got"
log_has s3_fault_get_retried "GET /$S3_BUCKET/repo/keys/k1 200 -$"
s3_faults 1:corrupt
expect s3_fault_corrupt_upload_retried "$PROBE" "$P" put keys/k2 "$T/small2"
log_has s3_fault_corrupt_rejected "^1 PUT /$S3_BUCKET/repo/keys/k2 400 corrupt"
"$PROBE" "$L" get keys/k2 >"$T/got" 2>"$T/err"
same s3_fault_corrupt_stored_intact "$T/small2" "$T/got"
s3_faults 1:stall-4000,2:delay-300
STRATA_S3_LOW_SPEED_TIME=1 "$PROBE" "$P" get keys/k2 >"$T/got" 2>"$T/err"
same s3_fault_stall_times_out_and_retries "$T/small2" "$T/got"
log_has s3_fault_stall_injected "^1 GET /$S3_BUCKET/repo/keys/k2 .* stall-4000$"
log_has s3_fault_stall_retried "^2 GET /$S3_BUCKET/repo/keys/k2 200 delay-300$"
s3_faults 1:close
"$PROBE" "$P" range data/9f/big 1000 5000 >"$T/got" 2>"$T/err"
dd if="$T/big" of="$T/want" bs=1000 skip=1 count=5 2>/dev/null
same s3_fault_range_recovers "$T/want" "$T/got"
log_has s3_fault_range_closed "^1 GET /$S3_BUCKET/repo/data/9f/big .* close$"
log_has s3_fault_range_retried "^2 GET /$S3_BUCKET/repo/data/9f/big 20[06] -$"
s3_faults 2:503
expect s3_fault_list_recovers "$PROBE" "$P" list snapshots/
if [ "$(wc -l <"$T/out")" -eq 1100 ]; then pass s3_fault_list_count; else fail s3_fault_list_count "$(wc -l <"$T/out") lines"; fi
log_has s3_list_continuation_token "continuation-token="
s3_faults 3:500,5:corrupt,9:503
expect s3_fault_multipart_recovers "$PROBE" "$P" put data/9f/big2 "$T/big"
log_has s3_multipart_create "POST /$S3_BUCKET/repo/data/9f/big2?uploads= 200"
log_has s3_multipart_part5 "partNumber=5&uploadId=.* 200"
log_has s3_multipart_complete "POST /$S3_BUCKET/repo/data/9f/big2?uploadId=.* 200"
"$PROBE" "$L" get data/9f/big2 >"$T/got" 2>"$T/err"
same s3_fault_multipart_intact "$T/big" "$T/got"
rm -f "$T/got"

# --- through the fault proxy: every request fails ---------------------------
s3_faults '*:503'
expect_exit s3_all_503_put 1 env STRATA_S3_RETRIES=2 "$PROBE" "$P" put keys/k3 "$T/small"
err_has s3_all_503_message "$OBJ/keys/k3: giving up after 3 attempts: SlowDown"
s3_faults '*:reset'
expect_exit s3_all_reset_get 1 env STRATA_S3_RETRIES=2 "$PROBE" "$P" get keys/k1
err_has s3_all_reset_message "$OBJ/keys/k1: giving up after 3 attempts"
s3_faults '*:flip'
expect_exit s3_all_corrupt_get 1 env STRATA_S3_RETRIES=1 "$PROBE" "$P" get keys/k1
err_has s3_all_corrupt_message "$OBJ/keys/k1: giving up after 2 attempts" "SHA-256"
s3_faults 2:500,3:500,4:500
expect_exit s3_multipart_fails 1 env STRATA_S3_RETRIES=2 "$PROBE" "$P" put data/9f/big3 "$T/big"
err_has s3_multipart_fails_message "$OBJ/data/9f/big3 (part 1 of 5): giving up after 3 attempts"
log_has s3_multipart_aborted "DELETE /$S3_BUCKET/repo/data/9f/big3?uploadId="
s3_faults ''
expect_exit s3_multipart_left_nothing 3 "$PROBE" "$L" stat data/9f/big3

# --- a hostile server: listings that never end -----------------------------
# Each stops after a bounded number of requests with one line naming the
# prefix and the rule it broke (remote/s3/s3_list.h). `timeout`: a client
# without the rules lists for ever.
# nlist — the ListObjectsV2 requests the proxy saw since the last s3_faults.
nlist() { s3_proxy_log | grep -c 'list-type=2'; }
# requests_are NAME N — nlist is N.
requests_are() {
	n=$(nlist)
	if [ "$n" -eq "$2" ]; then pass "$1"; else fail "$1" "$n listing requests, wanted $2"; fi
}
s3_faults '*:list-loop'
expect_exit s3_list_loop_stops 1 timeout 120 "$PROBE" "$P" list snapshots/
err_has s3_list_loop_message \
	"$OBJ/snapshots/: listing stopped: page 2 carries a continuation token this listing had already (the server is going round in circles)"
requests_are s3_list_loop_two_requests 2
s3_faults '*:list-endless'
expect_exit s3_list_endless_page_bound 1 env STRATA_S3_LIST_MAX_PAGES=50 timeout 120 "$PROBE" "$P" list snapshots/
err_has s3_list_endless_page_bound_message \
	"$OBJ/snapshots/: listing stopped: more than 50 pages (STRATA_S3_LIST_MAX_PAGES; raise it for a repository this large)"
requests_are s3_list_endless_50_requests 50
# The 50th page is refused whole: only the keys of the 49 before were reported.
if [ "$(wc -l <"$T/out")" -eq 49 ]; then pass s3_list_endless_nothing_past_the_bound; else
	fail s3_list_endless_nothing_past_the_bound "$(wc -l <"$T/out") keys reported"; fi
s3_faults '*:list-endless'
expect_exit s3_list_endless_key_bound 1 env STRATA_S3_LIST_MAX_KEYS=20 timeout 120 "$PROBE" "$P" list snapshots/
err_has s3_list_endless_key_bound_message \
	"$OBJ/snapshots/: listing stopped: more than 20 objects by page 21 (STRATA_S3_LIST_MAX_KEYS; raise it for a repository this large)"
requests_are s3_list_endless_21_requests 21
s3_faults '*:list-empty'
expect_exit s3_list_empty_stops 1 timeout 120 "$PROBE" "$P" list snapshots/
err_has s3_list_empty_message \
	"$OBJ/snapshots/: listing stopped: 1000 pages in a row up to page 1000 held no object yet said more follow (the server makes no progress)"
requests_are s3_list_empty_1000_requests 1000
s3_faults '*:list-notoken'
expect_exit s3_list_no_token 1 timeout 120 "$PROBE" "$P" list snapshots/
err_has s3_list_no_token_message "$OBJ/snapshots/: listing stopped: page 1 says more follow but carries no continuation token"
s3_faults ''
expect_exit s3_backoff_bad_value 1 env STRATA_S3_BACKOFF_MS=0 "$PROBE" "$L" list snapshots/
err_has s3_backoff_bad_value_message 'STRATA_S3_BACKOFF_MS="0" is not a number in 1..10000'
expect_exit s3_list_bound_bad_value 1 env STRATA_S3_LIST_MAX_PAGES=0 "$PROBE" "$L" list snapshots/
err_has s3_list_bound_bad_value_message 'STRATA_S3_LIST_MAX_PAGES="0" is not a number in 1..1000000000'
expect s3_list_bound_low_but_enough env STRATA_S3_LIST_MAX_PAGES=2 STRATA_S3_LIST_MAX_KEYS=1100 "$PROBE" "$L" list snapshots/
if [ "$(wc -l <"$T/out")" -eq 1100 ]; then pass s3_list_bound_exact_fit; else fail s3_list_bound_exact_fit "$(wc -l <"$T/out") keys"; fi

# --- a hostile server: objects larger than the reader's bound ---------------
# get NAME MAX: refused from the Content-Length, or as soon as more than MAX
# arrived without one; not retried (the object stays as large).
# sent_below NAME PATH BYTES — one GET of PATH, and the proxy handed the
# client fewer than BYTES of its 3 GiB before the client hung up.
sent_below() {
	i=0
	while ! s3_proxy_log | grep -q "GET $2 200 .* sent=" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	got=$(s3_proxy_log | grep "GET $2 " | sed -n 's/.* sent=\([0-9]*\)$/\1/p')
	n=$(s3_proxy_log | grep -c "GET $2 ")
	if [ "$n" -eq 1 ] && [ -n "$got" ] && [ "$got" -lt "$3" ]; then pass "$1 ($got bytes sent)"; else
		fail "$1" "$n GETs, sent=${got:-?}: $(s3_proxy_log | tail -n 3)"; fi
}
expect s3_get_bound_exact "$PROBE" "$L" get keys/k1 1000
expect_exit s3_get_over_bound 6 "$PROBE" "$L" get keys/k1 999
err_has s3_get_over_bound_message "$OBJ/keys/k1: 1000 bytes, larger than the 999 bytes allowed"
s3_faults '*:huge-keys'
expect_exit s3_huge_length_refused 6 timeout 120 "$PROBE" "$P" get keys/k1 65536
err_has s3_huge_length_message "$OBJ/keys/k1: 3221225472 bytes, larger than the 65536 bytes allowed"
sent_below s3_huge_length_not_read "/$S3_BUCKET/repo/keys/k1" 67108864
s3_faults '*:hugechunked-keys'
expect_exit s3_huge_chunked_refused 6 timeout 120 "$PROBE" "$P" get keys/k1 65536
err_has s3_huge_chunked_message "$OBJ/keys/k1: more than the 65536 bytes allowed"
sent_below s3_huge_chunked_not_read "/$S3_BUCKET/repo/keys/k1" 67108864
s3_faults ''

# --- libcurl missing (hidden by a bind mount in a mount namespace; root) ----
# Local repositories never load it; an S3 location says what is missing.
curl_so=$(ldconfig -p 2>/dev/null | awk '/libcurl\.so\.4 / { print $NF; exit }')
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && [ -n "$curl_so" ]; then
	curl_so=$(readlink -f "$curl_so")
	cat >"$T/nocurl.sh" <<EOS
mount --bind /dev/null "$curl_so" || exit 99
"$STRATA" -r "$T/nocurl-repo" init -q || exit 98
"$STRATA" -r "$T/nocurl-repo" snapshots -q || exit 97
exec env AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s AWS_DEFAULT_REGION=us-east-1 \\
	"$STRATA" -r s3:http://127.0.0.1:9/bucket/p snapshots
EOS
	expect_exit s3_no_libcurl_exit4 4 unshare -m sh "$T/nocurl.sh"
	if grep -q "^strata: s3:http://127.0.0.1:9/bucket/p: S3 needs libcurl: cannot load libcurl.so.4 (install libcurl4): " "$T/err"; then
		pass s3_no_libcurl_message
	else
		fail s3_no_libcurl_message "$(head -c 300 "$T/err")"
	fi
	# A libcurl.so.4 that loads but lacks a function strata calls (an
	# incompatible or truncated build): named, exit 4, no crash.
	printf 'void *curl_easy_init(void);\nvoid *curl_easy_init(void) { return 0; }\n' >"$T/fakecurl.c"
	if ${CC:-cc} -shared -fPIC -o "$T/libfakecurl.so" "$T/fakecurl.c" 2>"$T/fakecurl.err"; then
		sed -e "s|mount --bind /dev/null|mount --bind $T/libfakecurl.so|" -e "s|nocurl-repo|fakecurl-repo|g" "$T/nocurl.sh" >"$T/fakecurl.sh"
		expect_exit s3_libcurl_lacks_symbol_exit4 4 unshare -m sh "$T/fakecurl.sh"
		want="strata: s3:http://127.0.0.1:9/bucket/p: S3 needs libcurl: libcurl.so.4 has no curl_easy_setopt"
		if [ "$(cat "$T/err")" = "$want" ]; then
			pass s3_libcurl_lacks_symbol_message
		else
			fail s3_libcurl_lacks_symbol_message "$(head -c 300 "$T/err")"
		fi
	else
		fail s3_libcurl_fake_build "$(head -c 300 "$T/fakecurl.err")"
	fi
fi

e2e_done
