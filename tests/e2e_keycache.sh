#!/bin/sh
# e2e_keycache.sh — the opt-in key cache (--key-cache / $STRATA_KEY_CACHE,
# tools/cli/doc/commands.md "Key cache"): off unless asked for; a second run takes the key from
# the kernel keyring and works on real data; the password is still checked;
# a key file changed by `key passwd` or removed stops the entry; `key
# uncache` and the time limit end it; a keyring that refuses the entry (a
# full key quota, as root for uid 65534) costs a warning, not the command;
# without the cache, the key file that opened the repository last time is
# tried first (-v shows the order); a bad value is a usage error.
. "$(dirname "$0")/e2e_lib.sh"
# The key cache stands in for Argon2id with its default settings: keep them.
unset STRATA_TESTONLY_WEAK_KDF

S="$T/src"
mkdir -p "$S/d"
head -c 3000000 /dev/urandom >"$S/d/random.bin"
printf 'block 1\n' >"$S/log"
"$STRATA" init -r "$R" -q || { fail "init" "exit $?"; e2e_done; }
export STRATA_REPOSITORY="$R"
# Whatever an earlier run on this machine left (same repository ID is
# impossible, but be exact about where we start).
"$STRATA" key uncache -q >/dev/null 2>&1

# key_line NAME WANT CMD... — CMD exits 0 and its stderr's "key:" line is
# WANT exactly ("" = no such line).
key_line() {
	n=$1; want=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	got=$(grep '^key: ' "$T/err")
	if [ "$rc" -ne 0 ]; then fail "$n" "exit $rc: $(head -c 300 "$T/err")"
	elif [ "$got" = "$want" ]; then pass "$n"
	else fail "$n" "key line '$got', wanted '$want'"; fi
}

MISS="key: unwrapped; kept in the key cache for 120 s"
HIT="key: from the key cache"

key_line "off by default: no key line" "" "$STRATA" -v snapshots
key_line "off by default: nothing was kept" "$MISS" "$STRATA" -v --key-cache 120 snapshots
key_line "second run: from the cache" "$HIT" "$STRATA" -v --key-cache 120 snapshots
key_line "from \$STRATA_KEY_CACHE too" "$HIT" env STRATA_KEY_CACHE=120 "$STRATA" -v snapshots
key_line "--key-cache 0 turns it off" "" env STRATA_KEY_CACHE=120 "$STRATA" -v --key-cache 0 snapshots

# Real work with the cached key: backup, restore bit-exact, check.
key_line "backup with the cached key" "$HIT" "$STRATA" -v --key-cache 120 backup -q "$S"
key_line "restore with the cached key" "$HIT" "$STRATA" -v --key-cache 120 restore -q latest --target "$T/out1"
same_tree "restore with the cached key is bit-exact" "$S" "$T/out1$S"
key_line "check --read-data with the cached key" "$HIT" "$STRATA" -v --key-cache 120 check -q --read-data

# The password is still checked: a wrong one fails as without the cache.
printf 'wrong\n' >"$T/badpw"
expect_exit "wrong password with an entry: exit 12" 12 "$STRATA" --key-cache 120 --password-file "$T/badpw" snapshots
if [ "$(cat "$T/err")" = "strata: wrong password for repository $R (no key file opens with it)" ]; then
	pass "wrong password with an entry: the usual message"
else
	fail "wrong password with an entry: the usual message" "$(head -c 300 "$T/err")"
fi
key_line "the entry still opens with the right password" "$HIT" "$STRATA" -v --key-cache 120 snapshots

# key passwd replaces the key file the entry was made from: the old password
# no longer opens, even though the entry for it is still in the keyring.
printf 'new password\n' >"$T/pw2"
expect "key passwd" env STRATA_NEW_PASSWORD_FILE="$T/pw2" "$STRATA" key passwd
expect_exit "old password after passwd, entry still there: exit 12" 12 "$STRATA" --key-cache 120 snapshots
key_line "new password: unwrapped, then kept" "$MISS" "$STRATA" -v --key-cache 120 --password-file "$T/pw2" snapshots
key_line "new password: from the cache" "$HIT" "$STRATA" -v --key-cache 120 --password-file "$T/pw2" snapshots
export STRATA_PASSWORD_FILE="$T/pw2"

# key uncache removes the entry; a second uncache finds none.
expect "key uncache" "$STRATA" key uncache
if [ "$(cat "$T/out")" = "removed the key cache entry of $R" ]; then pass "key uncache: message"
else fail "key uncache: message" "$(cat "$T/out")"; fi
expect "key uncache again" "$STRATA" --json key uncache
if [ "$(tr -d ' \n' <"$T/out")" = '{"removed":false}' ]; then pass "key uncache again: none left"
else fail "key uncache again: none left" "$(cat "$T/out")"; fi
key_line "after uncache: unwrapped again" "$MISS" "$STRATA" -v --key-cache 120 snapshots

# The time limit: an entry kept for 1 s is gone 3 s later.
expect "uncache before the time-limit case" "$STRATA" key uncache -q
key_line "1 s entry: unwrapped" "key: unwrapped; kept in the key cache for 1 s" "$STRATA" -v --key-cache 1 snapshots
sleep 3
key_line "1 s entry: gone after 3 s" "key: unwrapped; kept in the key cache for 1 s" "$STRATA" -v --key-cache 1 snapshots
"$STRATA" key uncache -q >/dev/null 2>&1

# The keyring refuses the entry (its owner's key quota is full): the
# command still works, and says once that each run unwraps the key. Root
# only: it runs as uid 65534, whose quota it fills and then empties.
PY=/usr/bin/python3
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && [ -x "$PY" ]; then
	KQ=$(mktemp -d /tmp/strata-keyquota.XXXXXX)
	chmod 755 "$KQ"
	mkdir "$KQ/w" && chown 65534:65534 "$KQ/w"
	# as_nobody CMD... — CMD as uid/gid 65534, with its own password and cache.
	as_nobody() {
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			env -u STRATA_PASSWORD_FILE -u STRATA_REPOSITORY STRATA_PASSWORD=quota-pw \
			STRATA_CACHE_DIR="$KQ/w/cache" "$@"
	}
	cat >"$KQ/quota.py" <<'EOS'
# fill: add "user" keys to @u until the kernel refuses (EDQUOT), from
# 1000-byte payloads down to 1 byte, so no room is left; clear: empty @u.
import ctypes, errno, sys
k = ctypes.CDLL("libkeyutils.so.1", use_errno=True)
k.add_key.restype = ctypes.c_int32
k.add_key.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32]
k.keyctl_clear.argtypes = [ctypes.c_int32]
USER = -4  # KEY_SPEC_USER_KEYRING
if sys.argv[1] == "clear":
    sys.exit(1 if k.keyctl_clear(USER) != 0 else 0)
n, err = 0, 0
for size in (1000, 100, 10, 1):
    while n < 100000:
        if k.add_key(b"user", b"strata-quota-%d" % n, b"x" * size, size, USER) < 0:
            err = ctypes.get_errno()
            break
        n += 1
sys.exit(0 if err == errno.EDQUOT else 1)
EOS
	if ! as_nobody "$STRATA" -r "$KQ/w/repo" init -q >"$T/out" 2>"$T/err"; then
		fail "keyring full: init as uid 65534" "$(head -c 300 "$T/err")"
	elif ! as_nobody "$PY" "$KQ/quota.py" clear || ! as_nobody "$PY" "$KQ/quota.py" fill; then
		fail "keyring full: setup" "could not fill the key quota of uid 65534"
	else
		expect "keyring full: the command still works" \
			as_nobody "$STRATA" -r "$KQ/w/repo" --key-cache 60 snapshots
		if [ "$(cat "$T/err")" = "strata: warning: key cache: cannot keep the key in the kernel keyring (Disk quota exceeded); each run unwraps it" ]; then
			pass "keyring full: one warning naming why"
		else
			fail "keyring full: one warning naming why" "$(head -c 300 "$T/err")"
		fi
		expect "keyring full: key uncache" as_nobody "$STRATA" -r "$KQ/w/repo" key uncache
		if [ "$(cat "$T/out")" = "no key cache entry for $KQ/w/repo" ]; then pass "keyring full: nothing was kept"
		else fail "keyring full: nothing was kept" "$(cat "$T/out")"; fi
	fi
	as_nobody "$PY" "$KQ/quota.py" clear || fail "keyring full: cleanup" "could not empty @u of uid 65534"
	rm -rf "$KQ"
fi

# Without the key cache, the key file that opened the repository last
# time on this machine (recorded in the cache directory, FORMAT.md §16) is
# tried first; -v says which key files are tried, in order.
R2="$T/r-order"
printf 'order a\n' >"$T/pwa"
printf 'order b\n' >"$T/pwb"
"$STRATA" -r "$R2" --password-file "$T/pwa" init -q >/dev/null 2>&1 || fail "last used first: init" "exit $?"
KA=$(ls "$R2/keys")
expect "last used first: key add" "$STRATA" -r "$R2" --password-file "$T/pwa" key add -q --new-password-file "$T/pwb"
KB=$(ls "$R2/keys" | grep -v "^$KA\$")
# order_is NAME WANT CMD... — CMD exits 0 and its "key file:" lines on
# stderr, joined by "|", are WANT.
order_is() {
	n=$1; want=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	got=$(grep '^key file: ' "$T/err" | paste -sd '|' -)
	if [ "$rc" -ne 0 ]; then fail "$n" "exit $rc: $(head -c 300 "$T/err")"
	elif [ "$got" = "$want" ]; then pass "$n"
	else fail "$n" "key file lines '$got', wanted '$want'"; fi
}
LAST="(it opened the repository last time)"
order_is "last used first: a opened last, b's password tries a, then b" \
	"key file: trying keys/$KA $LAST|key file: trying keys/$KB" \
	"$STRATA" -r "$R2" --password-file "$T/pwb" -v snapshots
order_is "last used first: b is remembered" \
	"key file: trying keys/$KB $LAST" "$STRATA" -r "$R2" --password-file "$T/pwb" -v snapshots
order_is "last used first: a's password tries b first now" \
	"key file: trying keys/$KB $LAST|key file: trying keys/$KA" \
	"$STRATA" -r "$R2" --password-file "$T/pwa" -v snapshots
order_is "last used first: a is remembered again" \
	"key file: trying keys/$KA $LAST" "$STRATA" -r "$R2" --password-file "$T/pwa" -v snapshots

# Bad values are usage errors naming where the value came from.
expect_exit "--key-cache abc: exit 2" 2 "$STRATA" --key-cache abc snapshots
if [ "$(cat "$T/err")" = "strata: --key-cache abc: give whole seconds from 0 (off) to 604800" ]; then
	pass "--key-cache abc: message"
else
	fail "--key-cache abc: message" "$(head -c 300 "$T/err")"
fi
expect_exit "STRATA_KEY_CACHE=604801: exit 2" 2 env STRATA_KEY_CACHE=604801 "$STRATA" snapshots
if [ "$(cat "$T/err")" = "strata: STRATA_KEY_CACHE 604801: give whole seconds from 0 (off) to 604800" ]; then
	pass "STRATA_KEY_CACHE=604801: message"
else
	fail "STRATA_KEY_CACHE=604801: message" "$(head -c 300 "$T/err")"
fi
e2e_done
