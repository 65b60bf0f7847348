# e2e_crash.sh — crash safety: two backups and a prune running side by
# side, each killed with SIGKILL at a random moment (at least 100 kills that
# land while the process runs); after each round `check` passes (every 5th
# round `check --read-data`), another backup completes, and snapshots
# restore bit-exactly; at the end every snapshot restores and --read-data
# passes. Then a full disk (ENOSPC) on a small tmpfs: a clear error, a
# valid repository, and recovery.
# POSIX sh (run by tests/run.sh with sh). tests/run.sh runs three parts
# side by side: the kills split in two halves (kills1, kills2), each with
# its own repository, and the full disk (enospc).
# e2e-parts: kills1 kills2 enospc
. "$(dirname "$0")/e2e_lib.sh"

# A private copy: other work may relink build/strata while this runs.
cp "$STRATA" "$T/strata" && STRATA="$T/strata"
export STRATA_REPOSITORY="$R"
SMALL="--chunk-min 1K --chunk-avg 4K --chunk-max 16K --pack-size 96K"
# Sanitizer builds run several times slower: fewer kills in the same time.
case "${BUILD:-build}" in *asan*) KILLS_DEFAULT=40 ;; *) KILLS_DEFAULT=100 ;; esac
KILLS_WANTED=${KILLS_WANTED:-$KILLS_DEFAULT}
# The loop runs until enough kills landed, at most MAX_ITER rounds (each
# lands two to three kills, about 2.3; about 45 rounds reach 100 kills). A
# budget in rounds, not seconds: a loaded machine takes longer, not fewer
# kills.
MAX_ITER=${MAX_ITER:-200}
# Two parts share the kills: half each (all of them when run by hand).
case "${E2E_PART:-}" in kills1|kills2) KILLS_WANTED=$(( (KILLS_WANTED + 1) / 2 )) ;; esac

# ids — the snapshot IDs: file names under snapshots/ (no password needed)
ids() { ls "$R/snapshots" 2>/dev/null; }
# rand N — a random number in [0, N) (shell arithmetic: od's number, no awk)
rand() { echo $(( $(od -An -N4 -tu4 /dev/urandom) % $1 )); }

if e2e_part kills1 || e2e_part kills2; then
S="$T/src"
mkdir -p "$S" "$T/expect"
i=0; while [ $i -lt 30 ]; do head -c 20000 /dev/urandom >"$S/f$i"; i=$((i + 1)); done
head -c 2000000 /dev/urandom >"$S/big"
expect "init" "$STRATA" init $SMALL

# record ID — keep the source as snapshot ID holds it.
record() { rm -rf "$T/expect/$1"; cp -a "$S" "$T/expect/$1"; }
# mutate — change the source a little: one file rewritten, one added, one removed.
mutate() {
	n=$(rand 1000)
	head -c $((5000 + $(rand 40000))) /dev/urandom >"$S/f$(rand 30)"
	head -c 30000 /dev/urandom >"$S/n$n"
	victim=$(ls "$S" | grep '^n' | head -1)
	[ $(ls "$S" | grep -c '^n') -gt 5 ] && rm -f "$S/$victim"
	# a bigger change each time (1 to 4 MB: 10 to 40 packs of 96 KiB), so
	# that a backup runs long enough to be hit: with 0.5 to 2 MB a quiet
	# machine's backups mostly ended before their kill, and the parts
	# needed about 5 times the rounds (and the CPU) for their kills
	head -c $((1000000 + $(rand 3000000))) /dev/urandom >"$S/big"
}
# verify_restore ID — restore ID and compare with what was recorded.
verify_restore() {
	rm -rf "$T/rs"
	"$STRATA" restore "$1" --target "$T/rs" >/dev/null 2>"$T/rs.err" &&
		diff -r "$T/rs$S" "$T/expect/$1" >/dev/null 2>&1
}

t0=$(date +%s%N)
expect "first backup" "$STRATA" --json backup "$S"
DUR=$(( ($(date +%s%N) - t0) / 1000000 ))
record "$(json "$T/out" "d['snapshot_id']")"

# kill_all SPAN PID SPAN PID ... — SIGKILL each PID at its own random
# moment within its SPAN ms (at least 20 ms in: the process has started);
# a kill counts only when the process was still running. The round's
# processes wait for each other's locks (--lock-wait) instead of ending on
# a conflict, so each lives through its own work and the waits: a prune
# marks beside the backups, waits for them (holding its mark lock, its plan
# written) and then deletes; a backup started while prune deletes waits.
# The spans adapt, one per role, to what the kills find: a miss (the
# process had ended) shortens its role's span by 15 %, a kill that landed
# lengthens it by 5 %, so about 3 in 4 land and they spread over each
# whole run, its last moments included, whatever the machine's speed.
kill_all() {
	: >"$T/kill-plan"
	while [ $# -gt 1 ]; do
		echo "$((20 + $(rand $1))) $2" >>"$T/kill-plan"
		shift 2
	done
	sort -n "$T/kill-plan" >"$T/kill-order"
	waited=0
	: >"$T/kill-hit"
	while read -r at p; do
		d=$((at - waited))
		sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
		waited=$at
		if kill -9 "$p" 2>/dev/null; then kills=$((kills + 1)); echo "$p" >>"$T/kill-hit"; fi
	done <"$T/kill-order"
}
# adapt SPAN PID — SPAN adapted to whether PID's kill landed.
adapt() { if grep -qxF "$2" "$T/kill-hit"; then echo $(($1 * 105 / 100)); else echo $(($1 * 85 / 100 + 1)); fi; }
# hit PID — 1 if PID's kill landed, else 0
hit() { grep -qxF "$1" "$T/kill-hit" && echo 1 || echo 0; }

# A waiter tries again at least every 50-150 ms (the default pause grows
# to 2.5-7.5 s): the holders it waits for end within a second.
export STRATA_LOCK_RETRY_MS=100
kills=0; iter=0; bad=0; bkills=0; pkills=0; start=$(date +%s)
# First spans from the first backup alone ($DUR ms): two backups side by
# side take about as long; the prune lives through the backups and its
# own sweep.
SPAN_B=$((DUR * 12 / 10)); SPAN_P=$((DUR * 25 / 10))
: >"$T/crash-log"
while [ $kills -lt "$KILLS_WANTED" ] && [ $iter -lt "$MAX_ITER" ]; do
	iter=$((iter + 1))
	ids >"$T/ids-before"
	# prune needs something to do: forget (not killed) now and then
	[ $((iter % 3)) -eq 1 ] && "$STRATA" forget --group-by "" --keep-last 6 -q >/dev/null 2>&1
	mutate
	# Two backups (two hosts) and a prune side by side, each killed at its
	# own moment.
	"$STRATA" backup --lock-wait 60 -q --host h1 "$S" >/dev/null 2>&1 &
	b1=$!
	"$STRATA" backup --lock-wait 60 -q --host h2 "$S" >/dev/null 2>&1 &
	b2=$!
	"$STRATA" prune --lock-wait 60 -q --max-unused 0 >/dev/null 2>&1 &
	pr=$!
	kill_all $SPAN_B $b1 $SPAN_B $b2 $SPAN_P $pr
	# Waiting, none ends on a lock conflict (nor defers its deletion): one
	# its kill missed has done its whole job.
	for p in $b1 $b2 $pr; do
		wait "$p" 2>/dev/null; rc=$?
		if [ $(hit $p) -eq 0 ] && [ $rc -ne 0 ]; then
			bad=$((bad + 1)); echo "iteration $iter: process $p (not killed) exited $rc" >>"$T/crash-log"
		fi
	done
	bkills=$((bkills + $(hit $b1) + $(hit $b2))); pkills=$((pkills + $(hit $pr)))
	SPAN_B=$(adapt "$(adapt $SPAN_B $b1)" $b2); SPAN_P=$(adapt $SPAN_P $pr)
	# A backup killed after writing its snapshot counts as complete.
	for id in $(ids | grep -vxF -f "$T/ids-before"); do record "$id"; done
	# The repository must be valid, whatever the kills interrupted ...
	if [ $((iter % 5)) -eq 0 ]; then ck="--read-data"; else ck=""; fi
	if ! "$STRATA" check $ck >"$T/ck.out" 2>&1; then
		bad=$((bad + 1))
		echo "iteration $iter: check $ck failed: $(tail -3 "$T/ck.out")" >>"$T/crash-log"
		break
	fi
	# ... and the next backup completes from it.
	mutate
	if "$STRATA" --json backup "$S" >"$T/bk.json" 2>"$T/bk.err"; then
		id=$(json "$T/bk.json" "d['snapshot_id']")
		record "$id"
		if [ $((iter % 4)) -eq 0 ] && ! verify_restore "$id"; then
			bad=$((bad + 1)); echo "iteration $iter: latest snapshot $id does not restore: $(cat "$T/rs.err")" >>"$T/crash-log"
		fi
	else
		bad=$((bad + 1)); echo "iteration $iter: next backup failed: $(cat "$T/bk.err")" >>"$T/crash-log"
	fi
done
echo "   $kills kills in $iter iterations ($bkills of backups, $pkills of prunes; spans at the end: backups $SPAN_B ms, prune $SPAN_P ms), $(( $(date +%s) - start )) s"
[ $bad -eq 0 ] && pass "after every kill: check passes (with --read-data every 5th time), the next backup completes, and each process its kill missed succeeded" ||
	fail "crash safety" "$(head -c 800 "$T/crash-log")"
[ $kills -ge "$KILLS_WANTED" ] && pass "at least $KILLS_WANTED kills landed" || fail "enough kills" "only $kills in $iter rounds"

# Everything left restores exactly.
expect "unlock after the kills" "$STRATA" unlock
expect "prune after the kills" "$STRATA" prune
expect "check --read-data after the kills" "$STRATA" check --read-data
nok=0; nbad=0
for id in $(ids); do
	if [ -d "$T/expect/$id" ] && verify_restore "$id"; then nok=$((nok + 1)); else nbad=$((nbad + 1)); echo "   snapshot $id: $(head -c 200 "$T/rs.err")"; fi
done
[ $nbad -eq 0 ] && [ $nok -gt 0 ] && pass "all $nok snapshots restore bit-exactly" || fail "snapshots restore" "$nbad of $((nok + nbad)) differ"
[ -z "$(ls "$R/locks")" ] && pass "no locks left after unlock" || fail "no locks left" "$(ls "$R/locks")"
fi

# ---- a full disk ----
FULL="$T/full"
mkdir -p "$FULL"
if ! e2e_part enospc; then
	:
elif [ "$(id -u)" -ne 0 ]; then
	echo "SKIP enospc: needs root to mount a 20 MiB tmpfs"
elif ! mount -t tmpfs -o size=20m tmpfs "$FULL" 2>"$T/mount.err"; then
	echo "SKIP enospc: cannot mount a tmpfs here: $(cat "$T/mount.err")"
else
	trap 'umount "$FULL" 2>/dev/null; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
	export STRATA_REPOSITORY="$FULL/repo"
	D="$T/fsrc"
	mkdir -p "$D"
	head -c 6000000 /dev/urandom >"$D/a"
	expect "enospc: init on a 20 MiB tmpfs" "$STRATA" init $SMALL
	expect "enospc: backup 6 MB" "$STRATA" --json backup "$D"
	FIRST=$(json "$T/out" "d['snapshot_id']")
	# Another program's 11 MB on the same disk leaves about 3.8 MB: the
	# disk fills while data packs are written (~37 of 96 KiB), well before
	# the 64th pack, where the backup writes an index file. With 8 MB the
	# disk filled right at that moment, and which file got the ENOSPC (a
	# pack or the index file) came down to a few KiB of pack sizes.
	head -c 11000000 /dev/zero >"$FULL/other-program"
	head -c 8000000 /dev/urandom >"$D/b"
	expect_exit "enospc: backup of 8 MB more fails" 4 "$STRATA" backup -q "$D"
	if [ "$(grep -c . "$T/err")" -eq 1 ] && grep -q "^strata: local:$FULL/repo/data/.*: write failed: No space left on device$" "$T/err"; then
		pass "enospc: one clear error line naming the file"; else fail "enospc: one clear error line" "$(cat "$T/err")"; fi
	[ -z "$(find "$FULL/repo" -name '.tmp-*')" ] && pass "enospc: no temporary files left" || fail "enospc: temporary files" "$(find "$FULL/repo" -name '.tmp-*')"
	[ "$(ls "$FULL/repo/snapshots" | wc -l)" -eq 1 ] && pass "enospc: no snapshot from the failed backup" || fail "enospc: snapshots" "$(ls "$FULL/repo/snapshots")"
	[ -z "$(ls "$FULL/repo/locks")" ] && pass "enospc: the failed backup removed its lock" || fail "enospc: lock left" "$(ls "$FULL/repo/locks")"
	# Completely full: not even a lock fits; say so, change nothing.
	dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null
	expect_exit "enospc: no room for a lock" 4 "$STRATA" restore "$FIRST" --target "$T/fr0"
	grep -q "^strata: cannot write lock file locks/[0-9a-f]*: .*No space left on device$" "$T/err" &&
		pass "enospc: lock error names the lock file" || fail "enospc: lock error" "$(cat "$T/err")"
	"$STRATA" --json backup -q "$D" >"$T/out" 2>"$T/err"
	[ "$(json "$T/out" "d['error']['code']" 2>/dev/null)" = os_error ] && pass "enospc --json: os_error" || fail "enospc --json" "$(cat "$T/out")"
	# Space given back: the repository is valid and recovers.
	rm -f "$FULL/filler" "$FULL/other-program"
	expect "enospc: check --read-data" "$STRATA" check --read-data
	expect "enospc: restore the first snapshot" "$STRATA" restore "$FIRST" --target "$T/fr"
	cmp -s "$T/fr$D/a" "$D/a" && pass "enospc: first snapshot intact" || fail "enospc: first snapshot" "differs"
	expect "enospc: prune frees what the failed backup left" "$STRATA" --json prune
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["done"]["packs_deleted"]>0 else 1)' "$T/out" &&
		pass "enospc: prune deleted the leftovers" || fail "enospc: prune deleted the leftovers" "$(cat "$T/out")"
	expect "enospc: the backup fits now" "$STRATA" backup -q "$D"
	expect "enospc: check at the end" "$STRATA" check --read-data
	umount "$FULL"
fi

e2e_done
