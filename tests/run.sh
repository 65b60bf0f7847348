#!/bin/sh
# run.sh — run every unit-test binary and end-to-end script, JOBS at a time,
# print each one's output as a block when it finishes, and end with
# "N passed, N failed". Exit non-zero on any failure.
#
# Environment:
#   BUILD  build directory (default "build")
#   TESTS  a space-separated list of test names to run instead of all
#          (a name is the file name without ".sh": test_pack e2e_core; a
#          script's name runs all its parts, e2e_check:dataflips one part)
#   KIND   "unit" (build/tests/test_*) or "e2e" (tests/e2e_*.sh); default both
#   TMPDIR where the scripts' scratch directories go (default /dev/shm
#          when it has 8 GiB free, else /tmp)
#   JOBS   tests run at once (default: 2 x CPUs + 1; most e2e scripts spend
#          much of their time waiting on the disk, servers, locks and child
#          processes: on 2 CPUs, 3 at a time used 1.0 CPU on average, 5 at
#          a time 1.9)
#
# Each e2e script makes its own scratch directory (tests/e2e_lib.sh) and
# picks free ports, so scripts run side by side. A script with a line
# "# e2e-parts: A B ..." runs once per part (E2E_PART=A, named
# e2e_x:A), so that one long script does not keep a CPU busy alone at the
# end while the others have finished. The longest tests start
# first: $BUILD/test-times keeps each test's last duration (tests/durations,
# measured once, stands in on a fresh checkout); a test neither knows starts
# before the known ones.
# Version-manager shims (pyenv's are a bash script per call: ~0.5 s of CPU
# for each python3 or aws start on this machine, against 0.05 s for the
# program itself) leave PATH; the tests run Debian's python3 and awscli.
PATH=$(printf '%s\n' "$PATH" | tr ':' '\n' | grep -v '/\.pyenv/' | paste -sd: -)
export PATH
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STRATA=$ROOT/$BUILD/strata
export STRATA BUILD

# One test: run it, keep its output, exit code and duration, then print the
# block under a lock so that blocks of parallel tests do not interleave.
if [ "${1:-}" = --one ]; then
	out=$2 name=$3 path=$4
	start=$(date +%s%N)
	case "$name" in
	*:*) E2E_PART=${name#*:}; export E2E_PART ;;
	esac
	# The JSON helpers' server (tests/json_server.py) is no child of the
	# script: it writes its own CPU seconds here, added below.
	E2E_EXTRA_CPU="$out/$name.extra-cpu"
	export E2E_EXTRA_CPU
	case "$path" in
	*.sh) sh "$path" >"$out/$name.out" 2>&1 ;;
	*)    "$path" >"$out/$name.out" 2>&1 ;;
	esac
	rc=$?
	end=$(date +%s%N)
	times >"$out/$name.cpu"    # its second line: the test's user and system CPU
	secs=$(( (end - start) / 1000000 ))
	secs=$(printf '%d.%01d' $((secs / 1000)) $((secs % 1000 / 100)))
	cat "$E2E_EXTRA_CPU" >>"$out/$name.cpu" 2>/dev/null
	cpu=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); c += a[1] * 60 + a[2] } }
	           NR > 2 { c += $1 }
	           END { printf "%.1f", c }' "$out/$name.cpu")
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$out/$name.out"; then
		echo "FAIL $name (exited $rc without reporting a failure)" >>"$out/$name.out"
	fi
	echo "$secs $name $cpu" >"$out/$name.time"
	{
		flock 9
		echo "== $name ($secs s, CPU $cpu s)"
		cat "$out/$name.out"
	} 9>"$out/.print"
	exit 0
fi

# Scratch on tmpfs when TMPDIR is unset and /dev/shm has room (8 GiB: five
# scripts at a time hold a few GiB): the scripts create and delete hundreds
# of thousands of files, and on ext4 that has seen such churn the kernel's
# search for a free inode (find_inode_bit, recently_deleted) took most of a
# script's CPU (e2e_freeze: 9-15 s of CPU with /tmp, 3-4 s with /dev/shm).
# Set TMPDIR to keep the scripts on a disk file system.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
   [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -ge 8388608 ] 2>/dev/null; then
	TMPDIR=/dev/shm
	export TMPDIR
fi
KIND=${KIND:-all}
JOBS=${JOBS:-$(( $(nproc 2>/dev/null || echo 1) * 2 + 1 ))}
out=$(mktemp -d "${TMPDIR:-/tmp}/strata-run.XXXXXX")
trap 'rm -rf "$out"' EXIT
times=$BUILD/test-times

cd "$ROOT" || exit 1
: >"$out/list"
for t in "$BUILD"/tests/test_* tests/e2e_*.sh; do
	[ -e "$t" ] || continue
	case "$t" in *.o|*.d) continue ;; esac
	case "$KIND:$t" in unit:*.sh|e2e:"$BUILD"/*) continue ;; esac
	base=$(basename "$t" .sh)
	[ "$base" = e2e_lib ] && continue     # sourced by the others
	names=$base
	case "$t" in
	*.sh) parts=$(sed -n 's/^# e2e-parts: *//p' "$t" | head -n 1)
	      [ -n "$parts" ] && names=$(for p in $parts; do printf '%s:%s ' "$base" "$p"; done) ;;
	esac
	for name in $names; do
		if [ -n "${TESTS:-}" ]; then
			case " $TESTS " in *" $name "*|*" $base "*) ;; *) continue ;; esac
		fi
		# Sort key: the last known duration; unknown tests first.
		secs=$(cat "$times" tests/durations 2>/dev/null | awk -v n="$name" '$2 == n { print $1; exit }')
		echo "${secs:-99999} $name $t" >>"$out/list"
	done
done

sort -k1,1 -rn "$out/list" | while read -r _ name t; do
	printf '%s\n%s\n' "$name" "$t"
done | xargs -d '\n' -n 2 -P "$JOBS" sh "$0" --one "$out"

# Durations for the next run's order (kept for tests not run this time).
if ls "$out"/*.time >/dev/null 2>&1; then
	{ cat "$out"/*.time; [ -f "$times" ] && cat "$times"; } |
		awk '!seen[$2]++' >"$times.tmp" && mv "$times.tmp" "$times"
fi
ran=$(ls "$out"/*.out 2>/dev/null | wc -l)
passed=$(cat "$out"/*.out 2>/dev/null | grep -c '^PASS ')
failed=$(cat "$out"/*.out 2>/dev/null | grep -c '^FAIL ')
if [ "$failed" -gt 0 ]; then
	echo
	echo "failures:"
	grep -h '^FAIL ' "$out"/*.out
fi
echo
cpu=$(cat "$out"/*.time 2>/dev/null | awk '{ c += $3 } END { printf "%.0f", c }')
echo "$ran tests run, $JOBS at a time, $cpu s of CPU (user + system)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
