#!/bin/sh
# e2e_s3_cred.sh — where S3 credentials come from, against the S3 test
# server behind tests/s3/faultproxy.js (which, like S3, refuses a session
# token past its expiry with ExpiredToken) and tests/s3/credserver.py
# (STS, EC2 instance metadata with IMDSv2 tokens, container credentials,
# each checking what the real one checks): the chain in the AWS SDKs'
# order, each source, a location's own profile (replicate --to another
# account), the errors of each source, temporary credentials refreshed
# before they expire during a long run, an ExpiredToken answer cured by a
# refresh, and no secret in output, messages or /proc/PID/cmdline.
. tests/e2e_lib.sh
. tests/s3/s3lib.sh

PROBE=${PROBE:-$(pwd)/${BUILD:-build}/tools/dev/backend_probe}
s3_start || e2e_done
s3_proxy_start || e2e_done
P=$PROXY_LOCATION
ROLE=arn:aws:iam::123456789012:role/strata
printf 'eyJhbGciOiJSUzI1NiJ9.web-identity-token.sig\n' >"$T/jwt"
cred_start --lifetime 3600 --auth 'Bearer ecs-auth-token' --web-token 'eyJhbGciOiJSUzI1NiJ9.web-identity-token.sig' \
	--source-key BASEKEYID || e2e_done
C=$CRED_URL
head -c 1000 /dev/urandom >"$T/small"
expect cred_seed "$PROBE" "$P" put config "$T/small"

# bare CMD... — run with no credentials from anywhere but what the test
# adds: no AWS_* keys, empty AWS files, instance metadata off.
bare() {
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$T/credentials" \
		AWS_CONFIG_FILE="$T/config" AWS_EC2_METADATA_DISABLED=true STRATA_S3_LOG=1 "$@"
}

# no_secret NAME FILE... — no credential text in the files: not the test
# server's key and secret (both "S3RVER"), no session token, no web
# identity or container authorization token, no source key secret.
no_secret() {
	n=$1; shift
	if grep -l -e S3RVER -e fake-exp -e web-identity-token -e ecs-auth-token -e basesecret "$@" >"$T/leak" 2>/dev/null; then
		fail "$n" "a secret in $(cat "$T/leak"): $(grep -h -e S3RVER -e fake-exp -e web-identity-token -e ecs-auth-token -e basesecret "$@" | head -c 300)"
	else
		pass "$n"
	fi
}

# --- the chain's order -------------------------------------------------------
printf '[ci]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n\n[base]\naws_access_key_id = BASEKEYID\naws_secret_access_key = basesecret\n\n[wrongkeys]\naws_access_key_id = S3RVER\naws_secret_access_key = wrong\n' >"$T/credentials"
: >"$T/config"
expect cred_env_before_profile bare env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_PROFILE=wrongkeys \
	"$PROBE" "$P" stat config
err_has cred_env_source "credentials from environment (AWS_ACCESS_KEY_ID)"
expect cred_profile_static bare env AWS_PROFILE=ci "$PROBE" "$P" stat config
err_has cred_profile_static_source "credentials from profile ci (static keys)"
expect_exit cred_profile_missing 4 bare env AWS_PROFILE=nosuch "$PROBE" "$P" stat config
err_has cred_profile_missing_message "no S3 credentials: profile nosuch is in neither $T/credentials nor $T/config"
# The profile named by the location wins over the environment's keys.
expect cred_location_profile bare env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=wrong "$PROBE" "$P?profile=ci" stat config
err_has cred_location_profile_source "credentials from profile ci (static keys)"
expect_exit cred_wrong_profile_keys 4 bare "$PROBE" "$P?profile=wrongkeys" put config "$T/small"
err_has cred_wrong_profile_keys_message "SignatureDoesNotMatch"

# --- credential_process ----------------------------------------------------------
cat >"$T/proc.sh" <<PROC
#!/bin/sh
n=\$(cat "$T/proc.count" 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >"$T/proc.count"
if [ -n "\${PROC_FAIL:-}" ]; then echo "helper: no session" >&2; exit 3; fi
# With PROC_STALE, the first answer's token is already past its expiry
# (the store will say ExpiredToken) though Expiration claims an hour.
ms=\$(( \$(date +%s) * 1000 + 3600000 ))
if [ -n "\${PROC_STALE:-}" ] && [ \$n -eq 1 ]; then ms=1000; fi
exp=\$(date -u -d @\$(( \$(date +%s) + 3600 )) +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version": 1, "AccessKeyId": "S3RVER", "SecretAccessKey": "S3RVER", "SessionToken": "fake-exp-%s-p%s", "Expiration": "%s"}\n' \$ms \$n \$exp
PROC
printf '[profile proc]\ncredential_process = sh %s/proc.sh\n\n[profile assumer]\nrole_arn = %s\nsource_profile = base\nrole_session_name = nightly\n\n[profile badrole]\nrole_arn = arn:aws:iam::123456789012:role/other\nsource_profile = base\n\n[profile norole]\nrole_arn = %s\n\n[profile webid]\nrole_arn = %s\nweb_identity_token_file = %s/jwt\n' \
	"$T" "$ROLE" "$ROLE" "$ROLE" "$T" >"$T/config"
expect cred_process bare env AWS_PROFILE=proc "$PROBE" "$P" stat config
err_has cred_process_source "credentials from profile proc: credential_process (valid until "
expect_exit cred_process_fails 4 bare env AWS_PROFILE=proc PROC_FAIL=1 "$PROBE" "$P" stat config
err_has cred_process_fails_message "no S3 credentials from profile proc: credential_process: credential_process failed (exit status 3)" "helper: no session"
rm -f "$T/proc.count"
s3_faults ""
expect cred_expired_token_refreshed bare env AWS_PROFILE=proc PROC_STALE=1 "$PROBE" "$P" stat config
if s3_proxy_log | grep -q "^1 HEAD .* 400 expired" && s3_proxy_log | grep -q "^2 HEAD .* 200 -" &&
   [ "$(cat "$T/proc.count")" = 2 ]; then
	pass cred_expired_token_fetched_again
else
	fail cred_expired_token_fetched_again "$(s3_proxy_log | head -c 300); helper ran $(cat "$T/proc.count") times"
fi

# --- AssumeRole with a source profile ----------------------------------------------
s3_faults ""
expect cred_assume_role bare env AWS_PROFILE=assumer AWS_ENDPOINT_URL_STS="$C/" "$PROBE" "$P" stat config
err_has cred_assume_role_source "credentials from profile assumer: role $ROLE via STS AssumeRole at $C/, signed with profile base"
if s3_headers | grep -q "HEAD /$S3_BUCKET/repo/config x-amz-security-token=fake-exp-"; then
	pass cred_assume_role_token_sent
else
	fail cred_assume_role_token_sent "$(s3_headers | head -c 300)"
fi
expect_exit cred_assume_role_denied 4 bare env AWS_PROFILE=badrole AWS_ENDPOINT_URL_STS="$C/" "$PROBE" "$P" stat config
err_has cred_assume_role_denied_message "STS: AssumeRole: HTTP 403: AccessDenied: Not authorized to assume arn:aws:iam::123456789012:role/other"
expect_exit cred_role_without_source 1 bare env AWS_PROFILE=norole "$PROBE" "$P" stat config
err_has cred_role_without_source_message "profile norole has role_arn but no source_profile or web_identity_token_file"

# --- web identity -----------------------------------------------------------------
expect cred_web_identity bare env AWS_WEB_IDENTITY_TOKEN_FILE="$T/jwt" AWS_ROLE_ARN="$ROLE" \
	AWS_ENDPOINT_URL_STS="$C/" "$PROBE" "$P" stat config
err_has cred_web_identity_source "credentials from web identity (AWS_WEB_IDENTITY_TOKEN_FILE, role $ROLE) via STS $C/"
expect cred_web_identity_profile bare env AWS_PROFILE=webid AWS_ENDPOINT_URL_STS="$C/" "$PROBE" "$P" stat config
printf 'not-the-token\n' >"$T/jwt2"
expect_exit cred_web_identity_bad_token 4 bare env AWS_WEB_IDENTITY_TOKEN_FILE="$T/jwt2" AWS_ROLE_ARN="$ROLE" \
	AWS_ENDPOINT_URL_STS="$C/" "$PROBE" "$P" stat config
err_has cred_web_identity_bad_token_message "AssumeRoleWithWebIdentity: HTTP 400: InvalidIdentityToken"
expect_exit cred_web_identity_no_file 4 bare env AWS_WEB_IDENTITY_TOKEN_FILE="$T/nofile" AWS_ROLE_ARN="$ROLE" \
	AWS_ENDPOINT_URL_STS="$C/" "$PROBE" "$P" stat config
err_has cred_web_identity_no_file_message "web identity token file $T/nofile: No such file or directory"

# --- container credentials ------------------------------------------------------------
expect cred_container bare env AWS_CONTAINER_CREDENTIALS_FULL_URI="$C/ecs/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN='Bearer ecs-auth-token' "$PROBE" "$P" stat config
err_has cred_container_source "credentials from container endpoint $C/ecs/creds"
printf 'Bearer ecs-auth-token\n' >"$T/ecsauth"
expect cred_container_token_file bare env AWS_CONTAINER_CREDENTIALS_FULL_URI="$C/ecs/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/ecsauth" "$PROBE" "$P" stat config
expect_exit cred_container_bad_auth 4 bare env AWS_CONTAINER_CREDENTIALS_FULL_URI="$C/ecs/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN='Bearer wrong' "$PROBE" "$P" stat config
err_has cred_container_bad_auth_message "no S3 credentials from container endpoint $C/ecs/creds: container credentials endpoint: HTTP 401"
expect_exit cred_container_remote_http 1 bare env AWS_CONTAINER_CREDENTIALS_FULL_URI="http://10.9.8.7/creds" \
	"$PROBE" "$P" stat config
err_has cred_container_remote_http_message "AWS_CONTAINER_CREDENTIALS_FULL_URI http://10.9.8.7/creds: must be https, or http to a loopback address"

# --- EC2 instance metadata, IMDSv2 ---------------------------------------------------------
expect cred_imds bare env -u AWS_EC2_METADATA_DISABLED AWS_EC2_METADATA_DISABLED= \
	AWS_EC2_METADATA_SERVICE_ENDPOINT="$C" "$PROBE" "$P" stat config
err_has cred_imds_source "credentials from instance metadata at $C"
if python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + "/__log").read().decode(), end="")' "$C" |
   grep -q "^imds-token 200"; then pass cred_imds_v2_token_used; else fail cred_imds_v2_token_used "no session token asked"; fi
expect_exit cred_imds_unreachable 4 bare env AWS_EC2_METADATA_DISABLED= \
	AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1 "$PROBE" "$P" stat config
err_has cred_imds_unreachable_message "no S3 credentials: none in the environment or ~/.aws, no web identity or container credentials, and the instance metadata service at http://127.0.0.1:1 gave none (instance metadata: Couldn't connect" "off EC2 set AWS_EC2_METADATA_DISABLED=true"
expect_exit cred_nothing 4 bare "$PROBE" "$P" stat config
err_has cred_nothing_message "no S3 credentials: set AWS_ACCESS_KEY_ID"

# A default profile comes before web identity, container and instance
# credentials (the SDKs' order).
printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$T/credentials.default"
expect cred_default_profile_first bare env AWS_SHARED_CREDENTIALS_FILE="$T/credentials.default" \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$C/ecs/creds" "$PROBE" "$P" stat config
err_has cred_default_profile_first_source "credentials from profile default (static keys)"

# --- replicate --to another account: the target's own profile ------------------------------------
printf '[profile dr]\ncredential_process = sh %s/proc.sh\n' "$T" >>"$T/config"
mkdir -p "$T/src"
head -c 300000 /dev/urandom >"$T/src/a"
expect cred_local_init "$STRATA" -r "$R" init
expect cred_local_backup "$STRATA" -r "$R" backup "$T/src"
expect cred_replicate_target_profile bare env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=wrong \
	"$STRATA" -r "$R" -v replicate --to "s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/dr?profile=dr"
err_has cred_replicate_target_profile_source "s3: s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/dr: credentials from profile dr: credential_process"
no_secret cred_replicate_no_secret "$T/out" "$T/err"

# --- a long run: temporary credentials refreshed before they expire ---------------------------------
# Container credentials that live 4 s; a replicate held to 128 KiB/s by
# --limit-upload so that it lasts about 20 s. Every request must carry a
# live token (the proxy answers ExpiredToken otherwise).
cred_start --lifetime 4 || e2e_done
head -c 2500000 /dev/urandom >"$T/src/b"
expect cred_long_backup "$STRATA" -r "$R" backup "$T/src"
s3_faults ""
t0=$(date +%s%N)
bare env AWS_CONTAINER_CREDENTIALS_FULL_URI="$CRED_URL/ecs/creds" "$STRATA" -r "$R" -v --limit-upload 128K \
	replicate --to "s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/long" >"$T/out" 2>"$T/err" &
spid=$!
sleep 2
tr '\0' ' ' </proc/$spid/cmdline >"$T/cmdline" 2>/dev/null
wait $spid; rc=$?
t1=$(date +%s%N)
secs=$(( (t1 - t0) / 1000000000 ))
issued=$(cred_count ecs)
refreshed=$(grep -c "credentials refreshed from container endpoint" "$T/err")
expired=$(s3_proxy_log | grep -c "400 expired")
requests=$(s3_proxy_log | wc -l)
echo "long run: ${secs} s, $requests requests, $issued credentials issued ($refreshed refreshes), $expired refused as expired"
if [ $rc -eq 0 ]; then pass cred_long_run; else fail cred_long_run "exit $rc: $(tail -c 300 "$T/err")"; fi
if [ "$expired" -eq 0 ]; then pass cred_long_never_expired; else fail cred_long_never_expired "$expired requests refused"; fi
# 4 s credentials, refreshed with 2 s left when a request needs them: the
# run outlives several lifetimes, so several refreshes, each one logged.
if [ "$secs" -ge 12 ] && [ "$refreshed" -ge 2 ] && [ "$refreshed" -eq $((issued - 1)) ]; then
	pass cred_long_refreshes
else
	fail cred_long_refreshes "$secs s, $refreshed refreshes logged, $issued issued"
fi
no_secret cred_long_no_secret "$T/out" "$T/err" "$T/cmdline"
e2e_done
