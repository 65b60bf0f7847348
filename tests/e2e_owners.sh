#!/bin/sh
# e2e_owners.sh — owners by name (issue 30): a backup records the names of
# its entries' owners; a restore as root on a host whose users and groups
# have other IDs gives the entries those IDs (as tar does), keeps the
# stored ID for a name the host lacks, and --numeric-owner keeps the
# stored IDs. The two hosts are two private mount namespaces (unshare -m)
# with their own /etc/passwd and /etc/group bound over the real ones.
# Needs root and unshare; says SKIP otherwise. POSIX sh.
. tests/e2e_lib.sh
export STRATA_REPOSITORY="$R"

if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "SKIP e2e_owners: needs root and unshare -m"
	e2e_done
fi

# host HOSTDIR CMD... — run CMD with HOSTDIR's passwd and group files.
host() {
	h=$1
	shift
	unshare -m sh -c 'mount --bind "$1/passwd" /etc/passwd && mount --bind "$1/group" /etc/group && shift && exec "$@"' \
		sh "$h" "$@"
}
mkdir -p "$T/old" "$T/new"
printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:4242:4343::/home/alice:/bin/sh\nbob:x:4244:4343::/home/bob:/bin/sh\n' >"$T/old/passwd"
printf 'root:x:0:\nstaff:x:4343:\n' >"$T/old/group"
# The rebuilt host: alice and staff under other IDs, no bob.
printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:5252:5353::/home/alice:/bin/sh\n' >"$T/new/passwd"
printf 'root:x:0:\nstaff:x:5353:\n' >"$T/new/group"

S="$T/src"
mkdir -p "$S/d"
echo a >"$S/d/alice-file"
echo b >"$S/bob-file"
echo n >"$S/nameless"
chown 4242:4343 "$S/d/alice-file" "$S/d"
chown 4244:4343 "$S/bob-file"
chown 7777:7777 "$S/nameless"
expect init "$STRATA" init
expect "backup on the old host" host "$T/old" "$STRATA" backup -q "$S"
expect "cat snapshot" "$STRATA" cat snapshot latest
if [ "$(json "$T/out" "(d['owners']['users'].get('4242'), d['owners']['users'].get('4244'), d['owners']['groups'].get('4343'), '7777' in d['owners']['users'])")" = "('alice', 'bob', 'staff', False)" ]; then
	pass "the snapshot names the owners (an ID without a name is left out)"
else
	fail "the snapshot names the owners" "$(head -c 800 "$T/out")"
fi

# owner PATH — uid:gid
owner() { stat -c %u:%g "$1"; }
expect "restore on the rebuilt host" host "$T/new" "$STRATA" restore latest --target "$T/r1"
if [ "$(owner "$T/r1$S/d/alice-file")" = 5252:5353 ] && [ "$(owner "$T/r1$S/d")" = 5252:5353 ]; then
	pass "names map to the rebuilt host's IDs (files and directories)"
else
	fail "names map to the rebuilt host's IDs" "$(owner "$T/r1$S/d/alice-file") $(owner "$T/r1$S/d")"
fi
if [ "$(owner "$T/r1$S/bob-file")" = 4244:5353 ] && [ "$(owner "$T/r1$S/nameless")" = 7777:7777 ]; then
	pass "a name the host lacks, and an ID without a name, keep the stored ID"
else
	fail "unknown names keep the stored ID" "$(owner "$T/r1$S/bob-file") $(owner "$T/r1$S/nameless")"
fi
expect "restore --numeric-owner" host "$T/new" "$STRATA" restore latest --target "$T/r2" --numeric-owner
if [ "$(owner "$T/r2$S/d/alice-file")" = 4242:4343 ]; then pass "--numeric-owner keeps the stored IDs"; else fail "--numeric-owner keeps the stored IDs" "$(owner "$T/r2$S/d/alice-file")"; fi
e2e_done
