# e2e_lock.sh — repository locks end to end: which modes exclude which, the
# exact "locked" error line and exit code, stale locks (process gone, not
# refreshed), a process that loses its lock stopping at once, files in
# locks/ that are no lock of this repository (ignored with a warning) and
# authentic locks this strata cannot read (they block), `strata unlock`,
# and waiting with --lock-wait (STRATA_LOCK_WAIT): the same error after the
# wait, no lock left by a waiter ended by a signal.
# A small helper built from tests/ against libstrata holds a lock of a
# chosen mode for as long as a test needs (store/lock.h, the real code).
# POSIX sh (run by tests/run.sh with sh).
. "$(dirname "$0")/e2e_lib.sh"

TOP=$(cd "$(dirname "$0")/.." && pwd)
# A private copy: other work may relink build/strata while this runs.
cp "$STRATA" "$T/strata" && STRATA="$T/strata"
BUILD=${BUILD:-build}
HOST=$(hostname)
export STRATA_REPOSITORY="$R"

check() {
	if r=$(json "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $(printf %s "$r" | head -c 200) in $(tr -d '\n' <"$T/out" | head -c 600)"; fi
}
# err_has NAME TEXT — stderr of the last command is one "strata: " line holding TEXT.
err_has() {
	if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^strata: ' "$T/err" && grep -qF -- "$2" "$T/err"; then
		pass "$1"
	else
		fail "$1" "wanted one line with '$2', stderr was: $(head -c 400 "$T/err")"
	fi
}
nlocks() { ls "$R/locks" 2>/dev/null | wc -l; }
# wait_lock — wait until a command started in the background holds a lock
# (the locks/ directory was empty before it started).
wait_lock() {
	i=0
	while [ "$(nlocks)" -eq 0 ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
}

# ---- the lock holder ----
cat >"$T/holdlock.c" <<'EOF'
/* holdlock REPO MODE COMMAND SECONDS [STALE_S] — take a lock through
 * store/lock.h, print "held", hold it SECONDS, release it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/lock.h"
#include "store/repo.h"
int main(int argc, char **argv)
{
	char pw[256];
	FILE *f = fopen(getenv("STRATA_PASSWORD_FILE"), "r");
	Repo *repo = NULL;
	Lock *l = NULL;
	LockOptions o;
	StrataErr err = {0, ""};
	if (argc < 5 || !f || !fgets(pw, sizeof pw, f))
		return 2;
	fclose(f);
	pw[strcspn(pw, "\n")] = '\0';
	memset(&o, 0, sizeof o);
	o.command = argv[3];
	o.stale_after_s = argc > 5 ? atoi(argv[5]) : 0;
	o.refresh_s = 1;
	if (repo_open(argv[1], pw, strlen(pw), NULL, &repo, &err) != 0 ||
	    lock_acquire(repo, !strcmp(argv[2], "exclusive") ? LOCK_EXCLUSIVE :
	                 !strcmp(argv[2], "mark") ? LOCK_MARK : LOCK_SHARED, &o, &l, &err) != 0) {
		fprintf(stderr, "holdlock: %s\n", err.msg);
		repo_close(repo);
		return 11;
	}
	printf("held\n");
	fflush(stdout);
	sleep((unsigned)atoi(argv[4]));
	lock_release(l);
	repo_close(repo);
	return 0;
}
EOF
# ---- a forger of lock files ----
cat >"$T/forgelock.c" <<'EOF'
/* forgelock REPO KIND ID — write locks/ID as KIND:
 *   newer      a lock of lock version 2 sealed with the repository's key
 *   notrecord  a version 1 lock sealed with the repository's key whose
 *              plaintext is not a lock record
 *   foreign    a well-formed version 1 lock sealed with another key
 *   fakenewer  "STRATALK", version 2, then random bytes: what anyone who
 *              can write locks/ can make without the key */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/repo_internal.h"
int main(int argc, char **argv)
{
	static const char rec[] = "{\"version\":1,\"mode\":\"exclusive\",\"command\":\"prune\",\"host\":\"h\","
		"\"user\":\"u\",\"machine\":\"m\",\"pid\":1,\"pid_start\":1,\"created_ns\":1,"
		"\"refreshed_ns\":9000000000000000000,\"stale_after_s\":1800}";
	char pw[256], name[128];
	uint8_t master[32], *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(getenv("STRATA_PASSWORD_FILE"), "r");
	Repo *repo = NULL;
	CodecKeys *other = NULL;
	StrataErr err = {0, ""};
	RemoteErr rerr;
	int rc;
	if (argc != 4 || !f || !fgets(pw, sizeof pw, f))
		return 2;
	fclose(f);
	pw[strcspn(pw, "\n")] = '\0';
	if (repo_open(argv[1], pw, strlen(pw), NULL, &repo, &err) != 0) {
		fprintf(stderr, "forgelock: %s\n", err.msg);
		return 1;
	}
	if (!strcmp(argv[2], "newer")) {
		rc = sealed_encode(repo->keys, "STRATALK", 2, rec, strlen(rec), &buf, &len);
	} else if (!strcmp(argv[2], "notrecord")) {
		rc = sealed_encode(repo->keys, "STRATALK", 1, "[1,2,3]", 7, &buf, &len);
	} else if (!strcmp(argv[2], "foreign")) {
		codec_random(master, sizeof master);
		other = codec_keys_new(master);
		rc = other ? sealed_encode(other, "STRATALK", 1, rec, strlen(rec), &buf, &len) : -1;
	} else if (!strcmp(argv[2], "fakenewer")) {
		len = 12 + 200;
		buf = malloc(len);
		memcpy(buf, "STRATALK\x02\0\0\0", 12);
		codec_random(buf + 12, len - 12);
		rc = 0;
	} else {
		return 2;
	}
	snprintf(name, sizeof name, "locks/%s", argv[3]);
	if (rc != 0 || backend_put(repo->be, name, buf, len, &rerr) != 0)
		return 1;
	free(buf);
	codec_keys_free(other);
	repo_close(repo);
	return 0;
}
EOF
LIB="$TOP/$BUILD/libstrata.a"
[ -f "$LIB" ] || make -s -C "$TOP" BUILD="$BUILD" "$BUILD/libstrata.a" >/dev/null 2>&1
SANFLAGS=""
case "$BUILD" in *asan*) SANFLAGS="-fsanitize=address,undefined" ;; esac
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE $SANFLAGS -I"$TOP" -o "$T/holdlock" "$T/holdlock.c" "$LIB" \
	$(pkg-config --libs libzstd libsodium libcrypto lmdb libcurl libarchive jansson expat libkeyutils) -pthread -lm 2>"$T/cc.err"; then
	fail "build the lock holder" "$(head -c 400 "$T/cc.err")"
	e2e_done
fi
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE $SANFLAGS -I"$TOP" -o "$T/forgelock" "$T/forgelock.c" "$LIB" \
	$(pkg-config --libs libzstd libsodium libcrypto lmdb libcurl libarchive jansson expat libkeyutils) -pthread -lm 2>"$T/cc.err"; then
	fail "build the lock forger" "$(head -c 400 "$T/cc.err")"
	e2e_done
fi

# hold MODE COMMAND SECONDS [STALE] — start a holder in the background;
# returns once it holds the lock; its PID in $HOLDER.
hold() {
	rm -f "$T/held"
	"$T/holdlock" "$R" "$@" >"$T/held" 2>"$T/held.err" &
	HOLDER=$!
	i=0
	while ! grep -q held "$T/held" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 $HOLDER 2>/dev/null; then
			fail "hold $1" "holder did not get the lock: $(cat "$T/held.err")"
			return 1
		fi
		sleep 0.05
	done
}

mkdir -p "$T/src"
head -c 50000 /dev/urandom >"$T/src/a"
expect "init" "$STRATA" init
expect "first backup" "$STRATA" backup "$T/src"

# ---- exclusive excludes everything ----
hold exclusive prune 60
expect_exit "backup while locked exclusively" 11 "$STRATA" backup "$T/src"
err_has "locked: names command, host, pid" "repository is locked exclusively by prune on host $HOST pid $HOLDER (user "
err_has "locked: says what to do" "run \`strata unlock\` if it is stale"
err_has "locked: says it is alive" "alive (refreshed"
expect_exit "restore while locked exclusively" 11 "$STRATA" restore latest --target "$T/r1"
expect_exit "ls while locked exclusively" 11 "$STRATA" ls latest
expect_exit "prune while locked exclusively" 11 "$STRATA" prune
"$STRATA" --json backup "$T/src" >"$T/out" 2>"$T/err"
check "locked --json" "d['error']['code']=='locked' and d['error']['exit']==11 and 'exclusively by prune' in d['error']['message']"
expect "snapshots needs no lock" "$STRATA" snapshots
expect "unlock keeps a live lock" "$STRATA" unlock
if grep -q "^kept .*exclusive lock of prune on host $HOST pid $HOLDER" "$T/out" && grep -q "alive" "$T/out"; then
	pass "unlock lists the live lock"; else fail "unlock lists the live lock" "$(cat "$T/out")"; fi
[ "$(nlocks)" -eq 1 ] && pass "live lock still there" || fail "live lock still there" "$(ls "$R/locks")"

# ---- a killed holder's lock is stale on this machine ----
kill -9 $HOLDER; wait $HOLDER 2>/dev/null
[ "$(nlocks)" -eq 1 ] && pass "kill -9 leaves the lock file" || fail "kill -9 leaves the lock file" "$(nlocks) locks"
expect "unlock --dry-run" "$STRATA" unlock --dry-run
if grep -q "^would remove .*process $HOLDER on this machine is gone" "$T/out"; then
	pass "dry run names the dead process"; else fail "dry run names the dead process" "$(cat "$T/out")"; fi
[ "$(nlocks)" -eq 1 ] && pass "dry run removes nothing" || fail "dry run removes nothing" "$(nlocks) locks"
expect "backup ignores a dead process's lock" "$STRATA" backup "$T/src"
expect "unlock removes the stale lock" "$STRATA" --json unlock
check "unlock --json" "d['removed']==1 and d['kept']==0 and d['locks'][0]['action']=='removed' and d['locks'][0]['mode']=='exclusive' and d['locks'][0]['command']=='prune' and d['locks'][0]['stale']"
[ "$(nlocks)" -eq 0 ] && pass "no locks left" || fail "no locks left" "$(ls "$R/locks")"

# ---- shared locks: side by side; prune marks beside them, defers deleting ----
hold shared backup 60
expect "backup beside a shared lock" "$STRATA" backup "$T/src"
expect "restore beside a shared lock" "$STRATA" restore latest --target "$T/r2"
expect "check beside a shared lock" "$STRATA" check
OLD=$("$STRATA" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
head -c 50000 /dev/urandom >"$T/src/b"
expect "backup new data" "$STRATA" backup "$T/src"
rm "$T/src/b"
expect "backup without it" "$STRATA" backup "$T/src"
expect "forget beside a shared lock" "$STRATA" forget --keep-last 1
expect "prune beside a backup: marks, defers deleting" "$STRATA" prune
if grep -q "prune plan .* written" "$T/out" && grep -q "^deletion deferred: deleting waits until no other strata uses the repository (repository is in use by backup on host $HOST pid $HOLDER" "$T/out"; then
	pass "prune says why deleting waits"; else fail "prune says why deleting waits" "$(cat "$T/out")"; fi
ls "$R/prune" | grep -q . && pass "the plan stays in the repository" || fail "the plan stays" "no prune/ file"
expect "prune again: still deferred, no second plan" "$STRATA" --json prune
check "deferred --json" "d['deferred'] is not None and d['plan_id'] is None and d['done']['plans_pending']==1"
[ "$(ls "$R/prune" | wc -l)" -eq 1 ] && pass "one plan only" || fail "one plan only" "$(ls "$R/prune")"
kill $HOLDER; wait $HOLDER 2>/dev/null
expect "prune after the backup ended: sweeps" "$STRATA" prune
grep -q "^swept 1 prune plan: deleted [1-9]" "$T/out" && pass "swept the plan" || fail "swept the plan" "$(cat "$T/out")"
[ -z "$(ls "$R/prune")" ] && pass "plan removed after the sweep" || fail "plan removed" "$(ls "$R/prune")"
expect "check after the sweep" "$STRATA" check --read-data

# ---- one prune at a time ----
hold mark prune 60
expect_exit "second prune refused" 11 "$STRATA" prune
err_has "second prune: message" "repository is locked by prune on host $HOST pid $HOLDER"
err_has "second prune: one at a time" "(one prune at a time)"
expect "backup beside a marking prune" "$STRATA" backup "$T/src"
kill $HOLDER; wait $HOLDER 2>/dev/null

# ---- --lock-wait / STRATA_LOCK_WAIT: wait for the holder instead of failing ----
# ms_since START — milliseconds since START ($(date +%s%N)). Milliseconds:
# whole seconds pass a command that merely straddles a second.
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# same_lock_line NAME A B — two stderr files say the same, but for the
# holder's refresh age.
same_lock_line() {
	if [ "$(sed 's/refreshed [0-9]* s ago/refreshed N s ago/' "$2")" = "$(sed 's/refreshed [0-9]* s ago/refreshed N s ago/' "$3")" ] &&
	   [ "$(wc -l <"$3")" -eq 1 ]; then pass "$1"; else fail "$1" "$(cat "$2") / $(cat "$3")"; fi
}
"$STRATA" unlock -q >/dev/null 2>&1   # holders killed above left stale locks
hold exclusive repair 3
start=$(date +%s%N)
expect "backup --lock-wait waits for the holder" "$STRATA" backup --lock-wait 30 "$T/src"
# The holder has nearly 3 s left when hold returns; 2 s leaves a margin.
waited=$(ms_since $start)
[ $waited -ge 2000 ] && pass "it waited (${waited} ms)" || fail "it waited" "returned after ${waited} ms"
wait $HOLDER 2>/dev/null
[ "$(nlocks)" -eq 0 ] && pass "--lock-wait: no lock left after holder and backup" || fail "--lock-wait: no lock left" "$(ls "$R/locks")"
hold exclusive repair 30
# Giving up: the same line and exit code as without waiting, after the wait.
expect_exit "locked without --lock-wait" 11 "$STRATA" backup "$T/src"
cp "$T/err" "$T/err.nowait"
start=$(date +%s%N)
expect_exit "--lock-wait 1 gives up" 11 "$STRATA" --lock-wait 1 backup "$T/src"
waited=$(ms_since $start)
same_lock_line "--lock-wait 1: the same message as without it" "$T/err.nowait" "$T/err"
[ $waited -ge 1000 ] && [ $waited -lt 2500 ] && pass "--lock-wait 1 gave up after about 1 s (${waited} ms)" ||
	fail "--lock-wait 1 gave up after about 1 s" "${waited} ms"
"$STRATA" --json --lock-wait 1s backup "$T/src" >"$T/out" 2>"$T/err"
check "--lock-wait --json: the same error document" "d['error']['code']=='locked' and d['error']['exit']==11 and d['error']['message'].startswith('repository is locked exclusively by repair on host $HOST pid $HOLDER ')"
expect_exit "STRATA_LOCK_WAIT gives up" 11 env STRATA_LOCK_WAIT=1s "$STRATA" backup "$T/src"
same_lock_line "STRATA_LOCK_WAIT=1: the same message" "$T/err.nowait" "$T/err"
start=$(date +%s%N)
expect_exit "--lock-wait 0 overrides STRATA_LOCK_WAIT" 11 env STRATA_LOCK_WAIT=60 "$STRATA" backup --lock-wait 0 "$T/src"
waited=$(ms_since $start)
[ $waited -lt 900 ] && pass "--lock-wait 0: failed at once (${waited} ms)" || fail "--lock-wait 0: failed at once" "${waited} ms"
expect_exit "bad --lock-wait" 2 "$STRATA" backup --lock-wait soon "$T/src"
grep -qxF "strata: backup: --lock-wait soon: give whole seconds, or a number ending in s, m or h (e.g. 90, 10m, 2h), at most a year (see 'strata help backup')" "$T/err" &&
	pass "bad --lock-wait: message" || fail "bad --lock-wait: message" "$(cat "$T/err")"
expect_exit "--lock-wait above a year" 2 "$STRATA" --lock-wait 8761h backup "$T/src"
expect_exit "bad STRATA_LOCK_WAIT" 2 env STRATA_LOCK_WAIT=soon "$STRATA" backup "$T/src"
err_has "bad STRATA_LOCK_WAIT: message" "STRATA_LOCK_WAIT=soon: give whole seconds, or a number ending in s, m or h"
expect_exit "STRATA_LOCK_RETRY_MS below 10" 2 env STRATA_LOCK_RETRY_MS=5 "$STRATA" backup "$T/src"
err_has "bad STRATA_LOCK_RETRY_MS: message" "STRATA_LOCK_RETRY_MS=5: expected milliseconds from 10 to 5000"
# Ended while waiting (SIGTERM, SIGINT): gone at once, and only the
# holder's lock is left. Two signals at different points of the waits.
ls "$R/locks" >"$T/locks.held"
for at in 0.3 1.1; do
	"$STRATA" backup --lock-wait 60 "$T/src" >"$T/w.out" 2>"$T/w.err" &
	W=$!
	sleep $at
	kill -TERM $W
	start=$(date +%s%N)
	wait $W 2>/dev/null; rc=$?
	waited=$(ms_since $start)
	[ $rc -eq 143 ] && [ $waited -lt 1000 ] && [ ! -s "$T/w.err" ] && pass "SIGTERM after $at s of waiting: ends at once (${waited} ms)" ||
		fail "SIGTERM after $at s of waiting: ends at once" "exit $rc after ${waited} ms: $(cat "$T/w.err")"
	ls "$R/locks" | cmp -s - "$T/locks.held" && pass "SIGTERM after $at s of waiting: no lock left" ||
		fail "SIGTERM after $at s of waiting: no lock left" "$(ls "$R/locks")"
done
kill $HOLDER; wait $HOLDER 2>/dev/null

# A real command waiting for a real one: prune with --lock-wait waits for
# a running backup to delete, instead of deferring its deletion.
"$STRATA" unlock -q >/dev/null 2>&1   # the holder ended by SIGTERM left its lock
expect "forget all but the newest" "$STRATA" forget --group-by "" --keep-last 1
(sleep 2; echo late) | "$STRATA" backup --stdin >"$T/slow.out" 2>"$T/slow.err" &
SLOW=$!
wait_lock
start=$(date +%s%N)
expect "prune --lock-wait beside a running backup" "$STRATA" --lock-wait 30 prune --max-unused 0
waited=$(ms_since $start)
wait $SLOW; rc=$?
[ $rc -eq 0 ] && pass "the backup prune waited for completes" || fail "the backup prune waited for completes" "exit $rc: $(cat "$T/slow.err")"
if ! grep -q "deferred" "$T/out" && grep -q "deleted [1-9]" "$T/out" && [ $waited -ge 1000 ]; then
	pass "prune waited for the backup (${waited} ms) and deleted"; else fail "prune waited and deleted" "${waited} ms: $(cat "$T/out")"; fi
[ -z "$(ls "$R/prune")" ] && pass "no prune plan left" || fail "no prune plan left" "$(ls "$R/prune")"
[ "$(nlocks)" -eq 0 ] && pass "no locks left after prune and backup" || fail "no locks left after prune and backup" "$(ls "$R/locks")"
expect "check after prune --lock-wait" "$STRATA" check --read-data

# ---- stale by time; the stopped holder loses its lock and stops ----
"$STRATA" unlock -q >/dev/null 2>&1   # holders killed above left stale locks
NSNAP=$("$STRATA" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
(sleep 6; echo late) | env STRATA_LOCK_STALE=2 STRATA_LOCK_REFRESH=1 "$STRATA" backup --stdin >"$T/slow.out" 2>"$T/slow.err" &
SLOW=$!
wait_lock
kill -STOP $SLOW   # $! of a pipeline is its last process: strata (env execs it)
expect_exit "exclusive refused while the backup's lock is fresh" 11 "$T/holdlock" "$R" exclusive repair 0
sleep 3
expect "unlock --dry-run: stale by time" "$STRATA" unlock --dry-run
grep -q "^would remove .*shared lock of backup .*not refreshed for" "$T/out" && pass "stale: not refreshed" || fail "stale: not refreshed" "$(cat "$T/out")"
if hold exclusive repair 1; then
	wait $HOLDER 2>/dev/null
	pass "an exclusive lock is taken over a stale one"
fi
kill -CONT $SLOW
wait $SLOW; rc=$?
[ $rc -eq 11 ] && pass "stopped backup exits 11 on resume" || fail "stopped backup exits 11 on resume" "exit $rc: $(cat "$T/slow.err")"
grep -q "was not refreshed for .*another process may have taken the repository; stopping at once" "$T/slow.err" &&
	pass "lost lock: message" || fail "lost lock: message" "$(cat "$T/slow.err")"
N2=$("$STRATA" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$N2" -eq "$NSNAP" ] && pass "no snapshot from the backup that lost its lock" || fail "no snapshot written" "$NSNAP -> $N2"
expect "unlock cleans up" "$STRATA" unlock

# ---- a stale lock is caught at the point of no return, even when the
# refresher thread never ran (refresh interval far beyond the timeout) ----
NSNAP=$("$STRATA" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
(sleep 4; echo late) | env STRATA_LOCK_STALE=2 STRATA_LOCK_REFRESH=3600 "$STRATA" backup --stdin >"$T/slow.out" 2>"$T/slow.err"
rc=$?
[ $rc -eq 11 ] && pass "stale at commit: exit 11" || fail "stale at commit: exit 11" "exit $rc: $(cat "$T/slow.err")"
grep -q "was not refreshed for .*another process may have taken the repository; stopping at once (no snapshot written" "$T/slow.err" &&
	pass "stale at commit: message" || fail "stale at commit: message" "$(cat "$T/slow.err")"
N2=$("$STRATA" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$N2" -eq "$NSNAP" ] && pass "stale at commit: no snapshot" || fail "stale at commit: no snapshot" "$NSNAP -> $N2"
"$STRATA" unlock -q >/dev/null 2>&1

# ---- a lock removed under a running process ----
(sleep 5; echo late) | env STRATA_LOCK_REFRESH=1 "$STRATA" backup --stdin >"$T/slow.out" 2>"$T/slow.err" &
SLOW=$!
wait_lock
expect "unlock --remove-all" "$STRATA" unlock --remove-all
grep -q "^removed .*shared lock of backup" "$T/out" && pass "remove-all removes a live lock" || fail "remove-all removes a live lock" "$(cat "$T/out")"
wait $SLOW; rc=$?
[ $rc -eq 11 ] && grep -q "was removed by another process" "$T/slow.err" &&
	pass "a process whose lock was removed stops" || fail "a process whose lock was removed stops" "exit $rc: $(cat "$T/slow.err")"

# ---- files in locks/ that are no lock of this repository ----
# Whoever can write locks/ can make them, but can delete any lock as well:
# every command ignores them, with one warning each, and `strata unlock`
# removes them (FORMAT.md §14). A "newer version" in the clear header is
# believed only of a lock sealed with the repository's key.
ID7=$(printf '%064d' 7)
ID8=$(printf '%064d' 8)
ID9=$(printf '%064d' 9)
head -c 300 /dev/urandom >"$R/locks/$ID7"
expect "random bytes in locks/: backup proceeds" "$STRATA" backup "$T/src"
err_has "random bytes in locks/: one warning naming it" \
	"strata: warning: ignoring locks/$ID7: not a sealed lock file; \`strata unlock\` removes it"
"$T/forgelock" "$R" fakenewer "$ID8" || fail "forge a lock" "fakenewer"
expect "a forged \"newer\" lock: prune proceeds" "$STRATA" prune
if grep -qxF "strata: warning: ignoring locks/$ID8: fails authentication (not sealed with this repository's key); \`strata unlock\` removes it" "$T/err"; then
	pass "a forged \"newer\" lock: prune warns, naming it"; else fail "a forged \"newer\" lock: prune warns, naming it" "$(head -c 600 "$T/err")"; fi
rm "$R/locks/$ID7"
"$T/forgelock" "$R" foreign "$ID9" || fail "forge a lock" "foreign"
expect "a lock sealed with another key: repair proceeds" "$STRATA" repair index
if grep -qxF "strata: warning: ignoring locks/$ID9: fails authentication (not sealed with this repository's key); \`strata unlock\` removes it" "$T/err"; then
	pass "a lock sealed with another key: warning names it"; else fail "a lock sealed with another key: warning names it" "$(head -c 600 "$T/err")"; fi
expect "unlock removes what is no lock" "$STRATA" --json unlock
check "unlock --json: both removed, and why" "d['removed']==2 and d['kept']==0 and all(l['action']=='removed' and l['stale'] and l['why']=='not a lock of this repository, ignored: fails authentication (not sealed with this repository\\'s key)' for l in d['locks'])"
[ "$(nlocks)" -eq 0 ] && pass "no junk left in locks/" || fail "no junk left in locks/" "$(ls "$R/locks")"

# ---- authentic locks this strata cannot read: they block ----
"$T/forgelock" "$R" newer "$ID7" || fail "forge a lock" "newer"
expect_exit "a lock of a newer version blocks prune" 11 "$STRATA" prune
err_has "newer lock: message" \
	"strata: repository has a lock written by a newer strata (locks/$ID7); upgrade strata, or if no other strata is running, remove it with \`strata unlock --remove-all\`"
expect_exit "a lock of a newer version blocks backup" 11 "$STRATA" backup "$T/src"
expect "unlock keeps a newer lock" "$STRATA" unlock
grep -q "^kept     00000000  cannot be read: written by a newer strata$" "$T/out" && pass "unlock says why it keeps it" ||
	fail "unlock says why it keeps it" "$(cat "$T/out")"
[ "$(nlocks)" -eq 1 ] && pass "newer lock kept without --remove-all" || fail "newer lock kept" "$(nlocks)"
expect "unlock --remove-all removes it" "$STRATA" unlock --remove-all
"$T/forgelock" "$R" notrecord "$ID8" || fail "forge a lock" "notrecord"
expect_exit "an authentic lock that is no lock record blocks" 11 "$STRATA" backup "$T/src"
err_has "unreadable lock: message" "cannot be read (locks/$ID8: sealed with this repository's key, but not a lock record)"
expect "unlock keeps an unreadable lock" "$STRATA" unlock
[ "$(nlocks)" -eq 1 ] && pass "unreadable lock kept without --remove-all" || fail "unreadable kept" "$(nlocks)"
expect "unlock --remove-all removes it" "$STRATA" unlock --remove-all
expect "backup after unlock" "$STRATA" backup "$T/src"
expect "check at the end" "$STRATA" check --read-data
[ "$(nlocks)" -eq 0 ] && pass "every command removed its lock" || fail "every command removed its lock" "$(ls "$R/locks")"

e2e_done
