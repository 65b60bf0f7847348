#!/bin/sh
# e2e_fuzz_replay.sh — replay every saved fuzz input inside `make test`.
#
# Builds each fuzz/fuzz_*.c harness with fuzz/replay.c as its main()
# (no libFuzzer: any $CC will do) against $BUILD/libstrata.a, with the
# sanitizer flags of the build ($SAN, set by `make test-asan`), and runs it
# over fuzz/corpus/<harness>/ and fuzz/regressions/<harness>/. A harness
# aborts on a broken property, so every seed and every past finding stays a
# regression test. Prints PASS/FAIL per harness.
. tests/e2e_lib.sh

BUILD=${BUILD:-build}
CC=${CC:-cc}
PKGS="libzstd libsodium libcrypto lmdb libcurl libarchive jansson expat libkeyutils"
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
      -Wpointer-arith -Wcast-qual -Wundef -Wwrite-strings -Wno-unused-parameter
      -Wno-format-truncation -Wno-unknown-warning-option"
OUT="$BUILD/fuzz-replay"
mkdir -p "$OUT"

if [ ! -f "$BUILD/libstrata.a" ]; then
	fail fuzz_replay "$BUILD/libstrata.a is missing (run make first)"
	e2e_done
fi
for src in fuzz/fuzz_*.c; do
	h=$(basename "$src" .c)
	# shellcheck disable=SC2086 # word splitting of flag lists is intended
	if ! $CC -std=c11 -O1 -g -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread $WARN ${SAN:-} \
		$(pkg-config --cflags $PKGS) -o "$OUT/$h" fuzz/replay.c "$src" "$BUILD/libstrata.a" \
		$(pkg-config --libs $PKGS) -pthread -lm ${SAN:-} >"$T/cc" 2>&1; then
		fail "replay_$h" "does not build: $(head -c 600 "$T/cc")"
		continue
	fi
	# replay.c skips a missing directory: a harness without inputs would
	# pass having run nothing.
	if "$OUT/$h" "fuzz/corpus/$h" "fuzz/regressions/$h" >"$T/out" 2>"$T/err"; then
		case $(cat "$T/out") in
		"0 inputs"*) fail "replay_$h" "no inputs in fuzz/corpus/$h or fuzz/regressions/$h" ;;
		*) pass "replay_$h ($(cat "$T/out"))" ;;
		esac
	else
		fail "replay_$h" "$(tail -c 800 "$T/err")"
	fi
done
e2e_done
