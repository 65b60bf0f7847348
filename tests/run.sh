#!/bin/sh
# run.sh — run every unit-test binary and end-to-end script; count PASS/FAIL
# lines and finish with "N passed, N failed". Exit non-zero on any failure.
# Environment: BUILD (build directory, default "build"); TESTS (a space-
# separated list of test names to run instead of all).
BUILD=${BUILD:-build}
STRATA=$(cd "$(dirname "$0")/.." && pwd)/$BUILD/strata
export STRATA BUILD
log=$(mktemp)
trap 'rm -f "$log"' EXIT
crashed=0
for t in "$BUILD"/tests/test_* tests/e2e_*.sh; do
	[ -e "$t" ] || continue
	case "$t" in *.o|*.d) continue ;; esac
	name=$(basename "$t" .sh)
	[ "$name" = e2e_lib ] && continue     # sourced by the others
	if [ -n "$TESTS" ]; then
		case " $TESTS " in *" $name "*) ;; *) continue ;; esac
	fi
	echo "== $name"
	case "$t" in
	*.sh) sh "$t" >"$log.one" 2>&1; rc=$? ;;
	*)    "$t" >"$log.one" 2>&1; rc=$? ;;
	esac
	cat "$log.one"
	cat "$log.one" >>"$log"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$log.one"; then
		echo "FAIL $name (exited $rc without reporting a failure)"
		echo "FAIL $name" >>"$log"
	fi
	rm -f "$log.one"
done
passed=$(grep -c '^PASS ' "$log")
failed=$(grep -c '^FAIL ' "$log")
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
