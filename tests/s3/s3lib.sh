# s3lib.sh — a real S3 server for end-to-end tests: the pinned
# @20minutes/s3rver (checks SigV4 signatures; see shared S3-TESTING notes)
# on 127.0.0.1, and optionally tests/s3/faultproxy.js in front of it.
# Source it after tests/e2e_lib.sh (it uses $T, pass and fail), from the
# repository root.
#
#   s3_start        install (npm ci, once) and start the server; exports
#                   S3_PORT, S3_ENDPOINT, S3_LOCATION and the credentials.
#                   Without node/npm it prints "SKIP ..." and exits 0.
#   s3_proxy_start  start the fault proxy; exports PROXY_PORT, PROXY_LOCATION
#   s3_tls_start    a second server over TLS with a fresh self-signed
#                   certificate; exports TLS_LOCATION and TLS_CA (returns 1
#                   without openssl)
#   s3_faults SPEC  set the proxy's fault plan (see faultproxy.js)
#   s3_proxy_log    print the proxy's request log since the last s3_faults
#   s3_proxy_peak   print the most requests the proxy had open at once since
#   s3_cold MS      archive mode: data/ GETs answer InvalidObjectState until
#                   restored (thawed MS ms after RestoreObject); -1 ends it
#   s3_age DAYS     objects stored until now look DAYS days older in
#                   listings (LastModified); 0 undoes it
#   s3_aws ARGS     run /usr/bin/aws s3api against the server
#   err_has NAME TEXT...  the last expect/expect_exit's stderr holds every TEXT
#   s3_headers      print the proxy's header log (x-amz-server-side-encryption*,
#                   x-amz-object-lock-*, x-amz-security-token, x-amz-storage-class per request)
#   s3_nodelete 1|0 make the proxy refuse every DELETE (an append-only policy)
#   cred_start ARGS start tests/s3/credserver.py ARGS (STS, IMDSv2, container
#                   credentials); exports CRED_URL; cred_count KIND prints
#                   how many credentials it issued of KIND (imds, ecs, sts)
# Every process started is stopped when the script exits.

S3_TESTDIR=${S3_TESTDIR:-$(pwd)/tests/s3}
S3_BUCKET=strata-test
S3_PID=
PROXY_PID=
TLS_PID=
CRED_PIDS=

# The test server's fixed credentials. Region and the metadata switch keep
# the aws CLI from looking anywhere else.
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
	AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
	AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
	AWS_ENDPOINT_URL_STS AWS_ENDPOINT_URL AWS_EC2_METADATA_SERVICE_ENDPOINT \
	STRATA_S3_SSE STRATA_S3_SSE_KMS_KEY_ID STRATA_S3_SSE_C_KEY_FILE STRATA_S3_OBJECT_LOCK_DAYS \
	STRATA_S3_OBJECT_LOCK_MODE STRATA_S3_PATH_STYLE STRATA_S3_LIMIT_UPLOAD STRATA_S3_LIMIT_DOWNLOAD \
	STRATA_S3_LOG STRATA_S3_STORAGE_CLASS STRATA_S3_RETRIES \
	STRATA_S3_LOW_SPEED_TIME STRATA_S3_CA_BUNDLE STRATA_S3_INSECURE_TLS

s3_stop() {
	for pid in $CRED_PIDS $PROXY_PID $TLS_PID $S3_PID; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	PROXY_PID=
	TLS_PID=
	S3_PID=
}

trap 's3_stop; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

# s3_wait_port LOG PATTERN — the port printed in LOG after PATTERN, within 15 s.
s3_wait_port() {
	i=0
	while [ $i -lt 150 ]; do
		p=$(sed -n "s/.*${2}127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p" "$1" 2>/dev/null | head -n 1)
		if [ -n "$p" ]; then
			echo "$p"
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

s3_start() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		echo "SKIP $(basename "$0" .sh): node and npm are needed for the S3 test server"
		exit 0
	fi
	# Scripts running side by side (tests/run.sh) install once: the first
	# takes the lock and runs npm ci, the others wait and find it done.
	if ! (
		flock 9
		[ -f "$S3_TESTDIR/node_modules/@20minutes/s3rver/lib/cli.js" ] ||
			(cd "$S3_TESTDIR" && npm ci --no-audit --no-fund --loglevel=error)
	) 9>"$S3_TESTDIR/.install.lock" >"$T/npm.log" 2>&1; then
		fail s3_server_install "npm ci in tests/s3 failed: $(tail -c 400 "$T/npm.log")"
		return 1
	fi
	mkdir -p "$T/s3"
	# The legacy provider: s3rver's continuation tokens use DES, which
	# OpenSSL 3 keeps there; without it every truncated listing is a 500.
	NODE_OPTIONS=--openssl-legacy-provider node "$S3_TESTDIR/start.js" -d "$T/s3/data" \
		-a 127.0.0.1 -p 0 --configure-bucket "$S3_BUCKET" >"$T/s3/server.log" 2>&1 &
	S3_PID=$!
	if ! S3_PORT=$(s3_wait_port "$T/s3/server.log" "S3rver listening on "); then
		fail s3_server_start "no \"S3rver listening\" line: $(tail -c 400 "$T/s3/server.log")"
		return 1
	fi
	S3_ENDPOINT=http://127.0.0.1:$S3_PORT
	S3_LOCATION=s3:$S3_ENDPOINT/$S3_BUCKET/repo
	export S3_PORT S3_ENDPOINT S3_LOCATION
}

s3_proxy_start() {
	node "$S3_TESTDIR/faultproxy.js" "127.0.0.1:$S3_PORT" >"$T/s3/proxy.log" 2>&1 &
	PROXY_PID=$!
	if ! PROXY_PORT=$(s3_wait_port "$T/s3/proxy.log" "faultproxy listening on "); then
		fail s3_proxy_start "no \"faultproxy listening\" line: $(tail -c 400 "$T/s3/proxy.log")"
		return 1
	fi
	PROXY_LOCATION=s3:http://127.0.0.1:$PROXY_PORT/$S3_BUCKET/repo
	export PROXY_PORT PROXY_LOCATION
}

s3_tls_start() {
	command -v openssl >/dev/null 2>&1 || return 1
	mkdir -p "$T/tls"
	# An EC P-256 key: made in ~10 ms of CPU, where RSA-2048 took 0.3-1 s.
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls/key.pem" -out "$T/tls/cert.pem" \
		>"$T/tls/openssl.log" 2>&1; then
		fail s3_tls_certificate "$(tail -c 300 "$T/tls/openssl.log")"
		return 1
	fi
	NODE_OPTIONS=--openssl-legacy-provider node "$S3_TESTDIR/start.js" -d "$T/tls/data" \
		-a 127.0.0.1 -p 0 --key "$T/tls/key.pem" --cert "$T/tls/cert.pem" \
		--configure-bucket "$S3_BUCKET" >"$T/tls/server.log" 2>&1 &
	TLS_PID=$!
	if ! tls_port=$(s3_wait_port "$T/tls/server.log" "S3rver listening on "); then
		fail s3_tls_start "no \"S3rver listening\" line: $(tail -c 400 "$T/tls/server.log")"
		return 1
	fi
	TLS_LOCATION=s3:https://127.0.0.1:$tls_port/$S3_BUCKET/repo
	TLS_CA=$T/tls/cert.pem
	export TLS_LOCATION TLS_CA
}

# s3_proxy_get PATH — GET a control path of the proxy: with curl (~10 ms
# of CPU a call; the scripts make hundreds of these), else with node, which
# s3_start checked for (~0.1 s a call). Both print the body whatever the
# status and fail when nothing answers; -g: SPEC's characters are literal.
s3_proxy_get() {
	if command -v curl >/dev/null 2>&1; then
		curl -sS -g --noproxy '*' "http://127.0.0.1:$PROXY_PORT$1"
		return
	fi
	node -e 'require("http").get(process.argv[1], (r) => r.pipe(process.stdout))
		.on("error", (e) => { console.error(e.message); process.exit(1) })' \
		"http://127.0.0.1:$PROXY_PORT$1"
}

# SPEC goes into a URL query: it uses only digits, letters, ':', ',', '-', '*'.
s3_faults() {
	s3_proxy_get "/__faults?spec=$1" >/dev/null
}

s3_cold() {
	s3_proxy_get "/__cold?ms=$1" >/dev/null
}

# s3_age DAYS — objects stored until now look DAYS days older in listings
# (faultproxy.js /__age); 0 undoes every shift. The test server's
# LastModified has whole seconds, so the cut is made a second after the
# last upload and the next upload comes a second after the cut: an object
# stored in the same second as the cut would otherwise count as stored
# before it (a pack meant to be young looked 100 days old on a quick run).
s3_age() {
	sleep 1
	s3_proxy_get "/__age?days=$1" >/dev/null
	sleep 1
}

s3_proxy_log() {
	s3_proxy_get /__log
}

s3_proxy_peak() {
	s3_proxy_get /__peak
}

s3_aws() {
	if [ ! -x /usr/bin/aws ]; then
		echo "s3_aws: /usr/bin/aws not found: install the Debian package awscli (make test-deps)" >&2
		return 127
	fi
	/usr/bin/aws --endpoint-url "$S3_ENDPOINT" s3api "$@"
}

# err_has NAME TEXT... — the last expect/expect_exit's stderr holds every TEXT.
err_has() {
	n=$1; shift
	for s in "$@"; do
		if ! grep -qF -- "$s" "$T/err"; then
			fail "$n" "stderr lacks \"$s\": $(head -c 400 "$T/err")"
			return
		fi
	done
	pass "$n"
}

s3_headers() {
	s3_proxy_get /__headers
}

s3_nodelete() {
	s3_proxy_get "/__policy?nodelete=$1" >/dev/null
}

# cred_start ARGS — one more credential server; the last one's URL is CRED_URL.
cred_start() {
	n=$(echo $CRED_PIDS | wc -w)
	python3 "$S3_TESTDIR/credserver.py" "$@" >"$T/s3/cred$n.log" 2>&1 &
	CRED_PIDS="$CRED_PIDS $!"
	if ! cred_port=$(s3_wait_port "$T/s3/cred$n.log" "credserver listening on "); then
		fail cred_server_start "no \"credserver listening\" line: $(tail -c 400 "$T/s3/cred$n.log")"
		return 1
	fi
	CRED_URL=http://127.0.0.1:$cred_port
	export CRED_URL
}

cred_count() {
	python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + "/__count").read().decode(), end="")' \
		"$CRED_URL" | awk -v k="$1" '$1 == k { print $2 }'
}
