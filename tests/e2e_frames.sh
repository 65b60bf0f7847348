# e2e_frames.sh — frames (format version 3, store/FORMAT.md §9a) end to
# end, on compressible data: a log of repeated text lines and a
# PostgreSQL-like relation file of 8 KiB pages (base/16384/16385):
#   - init --format-version 3 writes VERSION 3; a format 2 repository
#     backed up from the same data never gets a frame (stats, reader);
#   - the format 3 backup stores frames of 2 or more chunks (stats --json,
#     and the independent reader's listing of the trailers), and fewer
#     bytes than format 2;
#   - restore (and --verify), dump and the independent reader give the
#     files back bit for bit; check --read-data and the reader's
#     verify-packs --read-data pass; a WAL segment is framed too and
#     wal-fetch gives it back bit for bit;
#   - one byte flipped inside a frame: check --read-data names exactly the
#     frame's member chunks (the reader's listing), each failing
#     authentication, and the one file using them (text and --json), and
#     restore fails naming that file; repair index --read-data salvages
#     the pack's healthy chunks, the other file reads back bit for bit;
#   - a second snapshot of changed files, forget of the first and prune
#     --max-unused 0: a pack with a partly dead frame is repacked (its
#     live members framed again), check --read-data is clean and the
#     second snapshot restores bit for bit.
# POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"
READER="python3 -S $(cd "$(dirname "$0")" && pwd)/reader/strata_reader.py"

S="$T/src"
mkdir -p "$S/base/16384"
# Redundancy longer than a chunk (32 KiB on average), which compressing
# each chunk alone cannot see: the log repeats a 48 KiB block of lines with
# a few changed, and the pages draw their tuples from a pool of 400
# records (as rows of one table share keys and values).
python3 -S - "$S" <<'EOF'
import random, sys
src = sys.argv[1]
r = random.Random(33)
hexid = lambda: "%032x" % r.getrandbits(128)
block = ["2026-12-07T12:00:%02d.%03dZ INFO session=%s user=%s action=%s bytes=%d\n" % (
    i % 60, i % 1000, hexid(), hexid()[:12], r.choice(["read", "write", "list", "stat"]), r.randrange(10 ** 6))
    for i in range(400)]
with open(src + "/log.txt", "w") as f:
    for k in range(60):
        for line in block:
            f.write(line if r.random() > 0.02 else line.replace("INFO", "WARN %d" % k))
pool = [b"%s|%s|%d|" % (hexid().encode(), hexid().encode()[:20], r.randrange(10 ** 9)) for _ in range(400)]
with open(src + "/base/16384/16385", "wb") as f:
    for p in range(600):
        page = p.to_bytes(8, "little") + bytes(16) + b"".join(r.choice(pool) for _ in range(110))
        f.write(page[:8192].ljust(8192, b"\0"))
EOF

R2="$T/repo2" R3="$T/repo3"
expect frames_init3 "$STRATA" -r "$R3" init --format-version 3
v=$(od -An -tu4 -j8 -N4 "$R3/config" | tr -d ' ')
if [ "$v" = 3 ]; then pass frames_config_version_3; else fail frames_config_version_3 "VERSION $v"; fi
expect frames_init2 "$STRATA" -r "$R2" init
expect frames_backup3 "$STRATA" -r "$R3" backup "$S"
expect frames_backup2 "$STRATA" -r "$R2" backup "$S"

# stats: frames in format 3 only, and fewer stored bytes.
"$STRATA" -r "$R3" stats --json >"$T/st3" 2>"$T/err" && "$STRATA" -r "$R2" stats --json >"$T/st2" 2>>"$T/err"
f3=$(json "$T/st3" 'd["frames"]') m3=$(json "$T/st3" 'd["frame_members"]') f2=$(json "$T/st2" 'd["frames"]')
b3=$(json "$T/st3" 'd["stored_bytes"]') b2=$(json "$T/st2" 'd["stored_bytes"]')
if [ "$f3" -gt 0 ] && [ "$m3" -ge $((2 * f3)) ]; then pass "frames_written ($f3 frames, $m3 chunks)"
else fail frames_written "frames $f3, members $m3: $(cat "$T/err")"; fi
if [ "$f2" = 0 ]; then pass frames_none_in_format_2; else fail frames_none_in_format_2 "$f2 frames"; fi
if [ "$b3" -lt "$b2" ]; then pass "frames_store_less ($b3 against $b2 bytes)"; else fail frames_store_less "$b3 >= $b2"; fi

# The independent reader sees the same frames in the trailers (ENTRIES
# version 2), none in format 2.
$READER "$R3" frames >"$T/frames" 2>"$T/err"
if [ "$(wc -l <"$T/frames")" = "$f3" ] && awk 'NF < 5 || NF > 11 { exit 1 }' "$T/frames"; then
	pass frames_reader_lists_them
else fail frames_reader_lists_them "$(wc -l <"$T/frames") lines, stats $f3: $(head -c 300 "$T/err")"; fi
$READER "$R2" frames >"$T/frames2" 2>"$T/err"
if [ $? -eq 0 ] && [ ! -s "$T/frames2" ]; then pass frames_reader_none_in_format_2
else fail frames_reader_none_in_format_2 "$(head -c 300 "$T/frames2" "$T/err")"; fi

# Reads: restore, restore --verify, dump, the reader.
expect frames_restore "$STRATA" -r "$R3" restore latest --target "$T/r1"
same_tree frames_restore_bit_exact "$S" "$T/r1$S"
expect frames_restore_verify "$STRATA" -r "$R3" restore latest --verify --target "$T/r2"
same_tree frames_restore_verify_bit_exact "$S" "$T/r2$S"
"$STRATA" -r "$R3" dump latest "$S/base/16384/16385" >"$T/dumped" 2>"$T/err"
if cmp -s "$T/dumped" "$S/base/16384/16385"; then pass frames_dump_bit_exact; else fail frames_dump_bit_exact "$(head -c 300 "$T/err")"; fi
expect frames_reader_restore python3 -S "$(dirname "$0")/reader/strata_reader.py" "$R3" restore latest "$T/r3"
if cmp -s "$T/r3$S/log.txt" "$S/log.txt" && cmp -s "$T/r3$S/base/16384/16385" "$S/base/16384/16385"; then
	pass frames_reader_restore_bit_exact
else fail frames_reader_restore_bit_exact "differs"; fi
expect frames_check_read_data "$STRATA" -r "$R3" check --read-data
expect frames_reader_verify_packs $READER "$R3" verify-packs --read-data

# A WAL segment (the log with its letters' case swapped: new chunks) goes
# through the same pipeline: framed, and wal-fetch
# reads its chunks back from the frames.
mkdir -p "$T/wal"
python3 -S -c 'import sys; d = open(sys.argv[1], "rb").read().swapcase(); open(sys.argv[2], "wb").write((d * (16 * 2**20 // len(d) + 1))[:16 * 2**20])' \
	"$S/log.txt" "$T/wal/000000010000000000000001"
expect frames_wal_push "$STRATA" -r "$R3" wal-push "$T/wal/000000010000000000000001"
"$STRATA" -r "$R3" stats --json >"$T/st3w" 2>"$T/err"
if [ "$(json "$T/st3w" 'd["frames"]')" -gt "$f3" ]; then pass frames_wal_framed; else fail frames_wal_framed "$(cat "$T/st3w" "$T/err")"; fi
expect frames_wal_fetch "$STRATA" -r "$R3" wal-fetch 000000010000000000000001 "$T/walback"
if cmp -s "$T/walback" "$T/wal/000000010000000000000001"; then pass frames_wal_fetch_bit_exact; else fail frames_wal_fetch_bit_exact "differs"; fi

# ---- one byte flipped inside a frame ----
RC="$T/repoc"
cp -R "$R3" "$RC"
read -r fpack foff flen fmembers <"$T/frames"
flip_byte "$RC/data/$(echo "$fpack" | cut -c1-2)/$fpack" $((foff + flen / 2))
expect_exit frames_damage_exit 1 "$STRATA" -r "$RC" check --read-data --json
cp "$T/out" "$T/dmg.json"
want=$(echo $fmembers | tr ' ' '\n' | sort | tr '\n' ' ')
got=$(json "$T/dmg.json" '" ".join(sorted(c["id"] for c in d["damaged_chunks"])) + " "')
if [ "$got" = "$want" ]; then pass "frames_damage_names_every_member ($(echo $fmembers | wc -w) chunks)"
else fail frames_damage_names_every_member "got [$got] want [$want]"; fi
place=$(json "$T/dmg.json" 'all(c["reason"] == "auth_failed" and c["type"] == "data" and c["pack"] == "'"$fpack"'" and c["offset"] == '"$foff"' and c["length"] == '"$flen"' for c in d["damaged_chunks"])')
if [ "$place" = True ]; then pass frames_damage_reason_and_place
else fail frames_damage_reason_and_place "$(head -c 600 "$T/dmg.json")"; fi
dpath=$(json "$T/dmg.json" '"|".join(sorted(set(u["path"] for c in d["damaged_chunks"] for u in c["users"])))')
case "$dpath" in
"${S#/}/log.txt"|"${S#/}/base/16384/16385") pass "frames_damage_names_the_file ($dpath)" ;;
*) fail frames_damage_names_the_file "paths [$dpath]" ;;
esac
expect_exit frames_damage_text_exit 1 "$STRATA" -r "$RC" check --read-data
n=$(echo $fmembers | wc -w)
if grep -q "^damaged or missing chunks ($n):" "$T/out" &&
   [ "$(grep -c 'its frame fails authentication (its bytes changed)' "$T/out")" = "$n" ] &&
   [ "$(grep -c "snapshot [0-9a-f]*: $dpath, bytes " "$T/out")" = "$n" ]; then
	pass frames_damage_text_report
else fail frames_damage_text_report "$(head -c 800 "$T/out")"; fi
expect_exit frames_damage_restore_fails 1 "$STRATA" -r "$RC" restore latest --target "$T/rc"
if grep -q "$dpath" "$T/err"; then pass frames_damage_restore_names_file; else fail frames_damage_restore_names_file "$(head -c 400 "$T/err")"; fi
# repair index --read-data salvages the damaged pack: its healthy chunks,
# members of other frames included, are stored again and the pack goes;
# the other file then reads back bit for bit, and every pack left is sound.
expect frames_repair_salvage "$STRATA" -r "$RC" repair index --read-data
if grep -q '1 salvaged' "$T/out"; then pass frames_repair_salvaged_one_pack; else fail frames_repair_salvaged_one_pack "$(head -c 400 "$T/out")"; fi
case "$dpath" in
*/log.txt) other="$S/base/16384/16385" ;;
*) other="$S/log.txt" ;;
esac
"$STRATA" -r "$RC" dump latest "$other" >"$T/other" 2>"$T/err"
if cmp -s "$T/other" "$other"; then pass frames_repair_other_file_bit_exact; else fail frames_repair_other_file_bit_exact "$(head -c 300 "$T/err")"; fi
expect frames_repair_packs_sound $READER "$RC" verify-packs --read-data

# ---- a partly dead frame: prune repacks its live members ----
python3 -S - "$S" <<'EOF'
import sys
src = sys.argv[1]
log = open(src + "/log.txt", "rb").read()
open(src + "/log.txt", "wb").write(log[: len(log) * 3 // 5] + b"a new tail line\n" * 100)
with open(src + "/base/16384/16385", "r+b") as f:
    for p in (3, 70, 300):
        f.seek(p * 8192 + 400)
        f.write(b"UPDATED" * 20)
EOF
for r in "$R3" "$R2"; do
	expect "frames_backup_changed ($(basename "$r"))" "$STRATA" -r "$r" backup "$S"
done
first=$("$STRATA" -r "$R3" snapshots --json | python3 -S -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
expect frames_forget_first "$STRATA" -r "$R3" forget "$first"
expect frames_prune "$STRATA" -r "$R3" prune --max-unused 0
if grep -Eq '^repack: +[1-9][0-9]* packs' "$T/out" && grep -q 'with the live blobs of repacked packs' "$T/out"; then
	pass frames_prune_repacks_partly_dead_frame
else fail frames_prune_repacks_partly_dead_frame "$(head -c 800 "$T/out")"; fi
"$STRATA" -r "$R3" stats --json >"$T/st3p" 2>"$T/err"
if [ "$(json "$T/st3p" 'd["frames"]')" -gt 0 ]; then pass frames_kept_after_prune; else fail frames_kept_after_prune "$(cat "$T/st3p" "$T/err")"; fi
expect frames_check_after_prune "$STRATA" -r "$R3" check --read-data
expect frames_reader_verify_after_prune $READER "$R3" verify-packs --read-data
expect frames_restore_after_prune "$STRATA" -r "$R3" restore latest --target "$T/r4"
same_tree frames_restore_after_prune_bit_exact "$S" "$T/r4$S"
"$STRATA" -r "$R2" stats --json >"$T/st2" 2>"$T/err"
if [ "$(json "$T/st2" 'd["frames"]')" = 0 ]; then pass frames_none_in_format_2_later; else fail frames_none_in_format_2_later "$(cat "$T/st2")"; fi

e2e_done
