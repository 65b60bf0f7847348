# e2e_coredump.sh — strata keeps its memory (the password, the master key,
# S3 credentials, plaintext) out of core files and away from other
# processes (issue 27, finding 7; FORMAT.md §14 "Core dumps"). A strata
# command held waiting for its password on a FIFO is looked at from
# outside: its core size limit is 0 (soft and hard), and run as uid 65534
# it is non-dumpable (/proc/PID/* owned by root, its environment unreadable
# to its own user), while its /proc/PID/stat start time (which lock
# liveness reads) stays readable. STRATA_ALLOW_CORE_DUMP=1 leaves the limit
# and dumpability as they were, with a warning; another value keeps them
# off, with a warning. Run as uid 65534 and non-dumpable, the commands
# that read /proc/self (a tar export linked through /proc/self/fd, lock
# liveness through /proc/self/ns/pid) still work. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

AS=""
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
STRATA_EXE=$(readlink -f "$STRATA")
N="$T/nb"   # a corner of the scratch directory uid 65534 may use
mkdir -p "$N/src"
chmod 711 "$T"
chmod 755 "$N/src"
printf 'just a file\n' >"$N/src/f"
printf 'nobody password\n' >"$N/pw"
chmod 644 "$N/pw" "$N/src/f"
[ -n "$AS" ] && chown -R 65534:65534 "$N"
export STRATA_CACHE_DIR="$N/cache"
STRATA_PASSWORD_FILE="$N/pw" expect "init" $AS "$STRATA" -r "$N/repo" init -q
STRATA_PASSWORD_FILE="$N/pw" expect "backup" $AS "$STRATA" -r "$N/repo" backup -q "$N/src"

# blocked WHO CMD... — start CMD (a strata command line whose global
# options end with --password-file "$N/fifo") in the background and return
# once strata has opened the FIFO: past main's first lines, it now waits
# for the password. Its PID in $BPID, stderr in $T/blocked.err. WHO is
# "as-nobody" or "as-me". The FIFO is held open read-write here (fd 3), so
# strata's open does not block, only its read. The process must be strata
# itself (/proc/PID/exe): right after the fork, before `3>&-` applies, the
# child still holds this shell's fd 3 on the FIFO.
blocked() {
	who=$1; shift
	rm -f "$N/fifo"
	mkfifo -m 0666 "$N/fifo"
	exec 3<>"$N/fifo"
	if [ "$who" = as-nobody ]; then
		$AS "$@" >"$T/blocked.out" 2>"$T/blocked.err" 3>&- &
	else
		"$@" >"$T/blocked.out" 2>"$T/blocked.err" 3>&- &
	fi
	BPID=$!
	i=0
	while [ "$(readlink "/proc/$BPID/exe")" != "$STRATA_EXE" ] ||
	      ! ls -l "/proc/$BPID/fd" 2>/dev/null | grep -q -- "-> $N/fifo\$"; do
		i=$((i + 1))
		if [ $i -gt 400 ] || ! kill -0 $BPID 2>/dev/null; then
			echo "  blocked: strata did not open the FIFO: $(cat "$T/blocked.err")"
			return 1
		fi
		sleep 0.05
	done
}

# release — give the blocked strata its password and wait for it; its
# exit status in $BRC.
release() {
	cat "$N/pw" >&3
	exec 3>&-
	wait $BPID
	BRC=$?
}

# core_limit PID — "SOFT HARD" of the core file size in /proc/PID/limits.
core_limit() { awk '/^Max core file size/ { print $5, $6 }' "/proc/$1/limits"; }

# ---- default: no core file, as the user who runs it ----
if blocked as-me "$STRATA" -r "$N/repo" --password-file "$N/fifo" snapshots; then
	lim=$(core_limit $BPID)
	release
	if [ "$lim" = "0 0" ]; then pass "core file size limit is 0 (soft and hard)"; else fail "core file size limit" "/proc/PID/limits says '$lim'"; fi
	if [ $BRC -eq 0 ] && grep -q "^[0-9a-f]\{8\} " "$T/blocked.out"; then pass "the command then runs normally"; else fail "the command then runs normally" "exit $BRC: $(cat "$T/blocked.err")"; fi
	if [ ! -s "$T/blocked.err" ]; then pass "nothing on stderr by default"; else fail "nothing on stderr by default" "$(cat "$T/blocked.err")"; fi
else
	fail "core file size limit" "strata never waited for its password"
	exec 3>&-
fi

# ---- as uid 65534: non-dumpable ----
if [ -n "$AS" ]; then
	if blocked as-nobody env STRATA_PASSWORD=in-the-environment "$STRATA" -r "$N/repo" --password-file "$N/fifo" snapshots; then
		lim=$(core_limit $BPID)
		owner=$(stat -c %u "/proc/$BPID/status")
		uid=$(awk '/^Uid:/ { print $2 }' "/proc/$BPID/status")
		$AS cat "/proc/$BPID/environ" >/dev/null 2>"$T/environ.err"; env_rc=$?
		start=$($AS sh -c 'sed "s/.*) //" "/proc/$1/stat" | cut -d" " -f20' sh $BPID)
		release
		if [ "$uid" = 65534 ] && [ "$lim" = "0 0" ]; then pass "as uid 65534: core file size limit 0"; else fail "as uid 65534: core limit" "uid $uid, limit '$lim'"; fi
		if [ "$owner" = 0 ]; then pass "as uid 65534: non-dumpable (/proc/PID/* owned by root)"; else fail "as uid 65534: non-dumpable" "/proc/PID/status owned by uid $owner"; fi
		if [ $env_rc -ne 0 ] && grep -q "Permission denied" "$T/environ.err"; then
			pass "as uid 65534: its own user cannot read its environment"
		else
			fail "as uid 65534: environment readable" "exit $env_rc: $(cat "$T/environ.err")"
		fi
		case "$start" in
		''|0|*[!0-9]*) fail "as uid 65534: start time readable" "'$start'" ;;
		*) pass "as uid 65534: its start time is still readable by its user (lock liveness)" ;;
		esac
		if [ $BRC -eq 0 ]; then pass "as uid 65534: the command then runs normally"; else fail "as uid 65534: command" "exit $BRC: $(cat "$T/blocked.err")"; fi
	else
		fail "as uid 65534" "strata never waited for its password"
		exec 3>&-
	fi

	# ---- STRATA_ALLOW_CORE_DUMP=1: both left as they were ----
	# (An ASan build's runtime lowers the soft limit itself unless told not to.)
	want=$($AS sh -c 'ulimit -c 2048 && exec cat /proc/self/limits' | awk '/^Max core file size/ { print $5, $6 }')
	if blocked as-nobody sh -c 'ulimit -c 2048 && exec env STRATA_ALLOW_CORE_DUMP=1 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}disable_coredump=0" "$@"' sh \
		"$STRATA" -r "$N/repo" --password-file "$N/fifo" snapshots; then
		lim=$(core_limit $BPID)
		owner=$(stat -c %u "/proc/$BPID/status")
		$AS cat "/proc/$BPID/environ" 2>/dev/null | tr '\0' '\n' >"$T/environ"
		release
		if [ -n "$want" ] && [ "$want" != "0 0" ] && [ "$lim" = "$want" ]; then
			pass "STRATA_ALLOW_CORE_DUMP=1: the core limit is left as it was ($lim)"
		else
			fail "STRATA_ALLOW_CORE_DUMP=1: core limit" "'$lim', wanted '$want'"
		fi
		if [ "$owner" = 65534 ] && grep -qx "STRATA_ALLOW_CORE_DUMP=1" "$T/environ"; then
			pass "STRATA_ALLOW_CORE_DUMP=1: dumpable (/proc/PID/* owned by uid 65534, environment readable)"
		else
			fail "STRATA_ALLOW_CORE_DUMP=1: dumpable" "/proc/PID/status owned by $owner"
		fi
		if [ $BRC -eq 0 ] && [ "$(cat "$T/blocked.err")" = "strata: warning: STRATA_ALLOW_CORE_DUMP=1: core dumps and ptrace are allowed; a crash may write the key, credentials and plaintext to disk" ]; then
			pass "STRATA_ALLOW_CORE_DUMP=1: one warning line"
		else
			fail "STRATA_ALLOW_CORE_DUMP=1: warning" "exit $BRC: $(cat "$T/blocked.err")"
		fi
	else
		fail "STRATA_ALLOW_CORE_DUMP=1" "strata never waited for its password"
		exec 3>&-
	fi

	# ---- any other value: still off, and said so ----
	if blocked as-nobody env STRATA_ALLOW_CORE_DUMP=yes "$STRATA" -r "$N/repo" --password-file "$N/fifo" snapshots; then
		lim=$(core_limit $BPID)
		owner=$(stat -c %u "/proc/$BPID/status")
		release
		if [ "$lim" = "0 0" ] && [ "$owner" = 0 ] &&
		   [ "$(cat "$T/blocked.err")" = "strata: warning: STRATA_ALLOW_CORE_DUMP=yes: only 1 allows core dumps; they stay off" ]; then
			pass "STRATA_ALLOW_CORE_DUMP=yes: still off, one warning line"
		else
			fail "STRATA_ALLOW_CORE_DUMP=yes" "limit '$lim', owner $owner: $(cat "$T/blocked.err")"
		fi
	else
		fail "STRATA_ALLOW_CORE_DUMP=yes" "strata never waited for its password"
		exec 3>&-
	fi

	# ---- non-dumpable and unprivileged, what reads /proc/self works ----
	# A tar export links its O_TMPFILE through /proc/self/fd (no
	# CAP_DAC_READ_SEARCH); lock liveness compares /proc/self/ns/pid.
	export STRATA_PASSWORD_FILE="$N/pw"
	(umask 022; $AS "$STRATA" -r "$N/repo" restore latest --tar "$N/export.tar" -q) 2>"$T/err"; rc=$?
	if [ $rc -eq 0 ] && [ "$(stat -c '%a %u' "$N/export.tar")" = "600 65534" ] &&
	   [ "$(tar -xOf "$N/export.tar" "${N#/}/src/f" 2>/dev/null)" = "just a file" ]; then
		pass "as uid 65534: restore --tar writes a complete 0600 export"
	else
		fail "as uid 65534: restore --tar" "exit $rc, $(ls -l "$N" | grep export): $(cat "$T/err")"
	fi
	mkfifo -m 0666 "$N/stream"
	$AS "$STRATA" -r "$N/repo" backup --stdin --stdin-name held <"$N/stream" >/dev/null 2>&1 &
	HOLDER=$!
	exec 4>"$N/stream"
	i=0
	while [ -z "$(ls "$N/repo/locks" 2>/dev/null)" ] && [ $i -lt 400 ] && kill -0 $HOLDER 2>/dev/null; do
		i=$((i + 1)); sleep 0.05
	done
	kill -9 $HOLDER 2>/dev/null; wait $HOLDER 2>/dev/null
	exec 4>&-
	$AS "$STRATA" -r "$N/repo" unlock --dry-run >"$T/out" 2>"$T/err"
	if grep -q "^would remove .*process $HOLDER on this machine is gone" "$T/out"; then
		pass "as uid 65534: a killed holder's lock is known stale (lock liveness reads /proc/self)"
	else
		fail "as uid 65534: stale lock" "$(cat "$T/out" "$T/err")"
	fi
else
	echo "SKIP as uid 65534: needs root and setpriv"
fi

e2e_done
