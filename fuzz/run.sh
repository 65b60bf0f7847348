#!/bin/sh
# run.sh — build every fuzz/fuzz_*.c harness with libFuzzer, ASan and UBSan
# (clang), then run each for SECONDS (default 20) from its seed corpus.
#
#   sh fuzz/run.sh [SECONDS] [HARNESS...]     (`make fuzz FUZZ_SECONDS=N`)
#
# The library sources are compiled directly into build-fuzz/ with coverage
# instrumentation. New inputs go to fuzz/corpus-work/<harness>/ (not in
# git); fuzz/corpus/<harness>/ (seeds, see tools/dev/fuzz_seeds.c) and
# fuzz/regressions/<harness>/ (past findings) are read only. A crash, leak,
# timeout or broken property leaves its input in build-fuzz/artifacts/ and
# makes the script exit 1 after the remaining harnesses have run.
# fuzz/<harness>.dict, when present, is the harness's libFuzzer dictionary.
# A per-harness summary (runs, exec/s, coverage) ends the output.
#
# Environment: CLANG (default clang), FUZZ_JOBS (parallel harnesses,
# default 1), FUZZ_FLAGS (extra libFuzzer options).
set -u
cd "$(dirname "$0")/.." || exit 1
SECS=${1:-20}
[ $# -gt 0 ] && shift
CLANG=${CLANG:-clang}
OUT=build-fuzz
PKGS="libzstd libsodium libcrypto lmdb libcurl libarchive jansson expat libkeyutils"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -pthread -lm"

command -v "$CLANG" >/dev/null 2>&1 || { echo "fuzz: $CLANG not found (libFuzzer needs clang)"; exit 1; }
mkdir -p "$OUT/obj" "$OUT/artifacts" "$OUT/logs" || exit 1

# The library, instrumented for coverage but without libFuzzer's main.
objs=""
for src in chunker/*.c store/*.c store/*/*.c remote/*.c remote/*/*.c; do
	obj="$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find chunker store remote -name '*.h' -newer "$obj" 2>/dev/null | head -1)" ]; then
		$CLANG $CFLAGS $SAN -fsanitize=fuzzer-no-link -c -o "$obj" "$src" || { echo "fuzz: cannot compile $src"; exit 1; }
	fi
	objs="$objs $obj"
done
rm -f "$OUT/libstrata-fuzz.a"
ar rcs "$OUT/libstrata-fuzz.a" $objs || exit 1

if [ $# -gt 0 ]; then
	harnesses="$*"
else
	harnesses=$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done)
fi
for h in $harnesses; do
	$CLANG $CFLAGS $SAN -fsanitize=fuzzer -o "$OUT/$h" "fuzz/$h.c" "$OUT/libstrata-fuzz.a" $LIBS ||
		{ echo "fuzz: cannot build $h"; exit 1; }
done

run_one() {
	h=$1
	mkdir -p "fuzz/corpus-work/$h"
	# -timeout: a single input running 10 s is a finding (a hang).
	# -rss_limit_mb: allocations the input cannot back show up here.
	dirs="fuzz/corpus-work/$h"
	for d in "fuzz/corpus/$h" "fuzz/regressions/$h"; do
		[ -d "$d" ] && dirs="$dirs $d"
	done
	dict=""
	[ -f "fuzz/$h.dict" ] && dict="-dict=fuzz/$h.dict"
	"./$OUT/$h" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$OUT/artifacts/$h-" $dict ${FUZZ_FLAGS:-} $dirs >"$OUT/logs/$h.log" 2>&1
	echo $? >"$OUT/logs/$h.rc"
}

jobs=${FUZZ_JOBS:-1}
running=0
for h in $harnesses; do
	echo "fuzz: $h for ${SECS}s"
	run_one "$h" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

failed=0
printf '\n%-20s %10s %8s %6s %6s  %s\n' harness runs exec/s cov ft result
for h in $harnesses; do
	log="$OUT/logs/$h.log"
	rc=$(cat "$OUT/logs/$h.rc" 2>/dev/null || echo 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FINDING (exit $rc): see $log and $OUT/artifacts/$h-*"
		failed=1
	fi
	printf '%-20s %10s %8s %6s %6s  %s\n' "$h" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $failed
