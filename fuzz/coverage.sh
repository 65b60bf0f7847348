#!/bin/sh
# coverage.sh — source-based line and branch coverage of the decoders
# reached by each harness's saved inputs (clang + llvm-cov).
#
#   sh fuzz/coverage.sh [HARNESS...]
#
# Builds each harness with fuzz/replay.c and -fprofile-instr-generate
# -fcoverage-mapping into build-fuzz/cov/, replays fuzz/corpus,
# fuzz/regressions and fuzz/corpus-work (what fuzz/run.sh found), and
# prints llvm-cov's per-function report for the functions that harness
# targets. Numbers for fuzz/README.md come from here.
set -u
cd "$(dirname "$0")/.." || exit 1
CLANG=${CLANG:-clang}
OUT=build-fuzz/cov
PKGS="libzstd libsodium libcrypto lmdb libcurl libarchive jansson expat libkeyutils"
CFLAGS="-std=c11 -g -O0 -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -pthread $(pkg-config --cflags $PKGS)"
PROF="-fprofile-instr-generate -fcoverage-mapping"
LIBS="$(pkg-config --libs $PKGS) -pthread -lm"
mkdir -p "$OUT/obj" || exit 1

objs=""
for src in chunker/*.c store/*.c store/*/*.c remote/*.c remote/*/*.c; do
	obj="$OUT/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ]; then
		$CLANG $CFLAGS $PROF -c -o "$obj" "$src" || exit 1
	fi
	objs="$objs $obj"
done

# The functions each harness is there to exercise (regular expressions
# over llvm-cov's function names).
targets() {
	case $1 in
	fuzz_tree)          echo 'tree_decode|tree_encode|rd_u8|rd_uv|rd_sv|rd_bytes|valid_name|dup_bytes' ;;
	fuzz_pack_trailer)  echo 'pack_footer_decode|pack_trailer_decode|pack_trailer_parse|sealed_decode' ;;
	fuzz_trailer_plain) echo 'pack_trailer_parse' ;;
	fuzz_indexfile)     echo 'indexfile_decode' ;;
	fuzz_keyfile)       echo 'keyfile_info|keyfile_info_open|keyfile_unwrap|keyfile_kdf_in_bounds|parse|salt_of|open_who|info_open|codec_unb64|codec_pwhash' ;;
	fuzz_snapshot)      echo 'snapshot_decode|json_strv|summary_from|snapshot_label' ;;
	fuzz_config)        echo 'repo_config_parse|sealed_decode|valid_params' ;;
	fuzz_s3_xml)        echo 's3xml_|on_start|on_end|on_text|on_doctype|xml_run|list_end|error_end|upload_id_end|parse_u64|put_escaped' ;;
	fuzz_chunker)       echo 'fastcdc_init|fastcdc_cut' ;;
	fuzz_codec)         echo 'codec_blob_open|codec_blob_seal|codec_open_with|codec_decompress|codec_unhex|codec_unb64' ;;
	fuzz_lock)          echo 'lock_record_parse|lock_record_decode|lock_record_encode|lock_text_copy|utf8_char_len|mode_parse' ;;
	*)                  echo '.' ;;
	esac
}

if [ $# -gt 0 ]; then harnesses="$*"; else harnesses=$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done); fi
for h in $harnesses; do
	$CLANG $CFLAGS $PROF -o "$OUT/$h" fuzz/replay.c "fuzz/$h.c" $objs $LIBS || exit 1
	rm -f "$OUT/$h.profraw"
	LLVM_PROFILE_FILE="$OUT/$h.profraw" "$OUT/$h" "fuzz/corpus/$h" "fuzz/regressions/$h" \
		"fuzz/corpus-work/$h" >/dev/null || { echo "$h: replay failed"; exit 1; }
	llvm-profdata merge -sparse -o "$OUT/$h.profdata" "$OUT/$h.profraw" || exit 1
	echo "== $h"
	llvm-cov report "$OUT/$h" -instr-profile="$OUT/$h.profdata" -show-functions \
		chunker/*.c store/*.c store/*/*.c remote/*.c remote/*/*.c 2>/dev/null |
		awk -v re="$(targets "$h")" '
			/^Name/ && !hdr { print; hdr = 1 }
			{ n = $1; sub(/^.*:/, "", n) }
			n ~ "^(" re ")$" { print }'
done
