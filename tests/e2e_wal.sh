# e2e_wal.sh — WAL archiving without a PostgreSQL server: wal-push and
# wal-fetch on synthetic segments, with PostgreSQL's exit-status rules
# (0 only for a complete DEST, 1 only for a file the archive does not hold,
# 128 for every other failure), identical and conflicting re-pushes, no
# partial DEST after a failure or a kill, .history/.backup/.partial files,
# the prefetch spool, wal-list and wal-prune. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

export STRATA_REPOSITORY="$R"
W="$T/wal"
mkdir -p "$W" "$T/pg_wal"

# mkseg NAME RANDOM_BYTES — a 16 MiB segment, zeros but for a random head
# (real segments of a quiet server look like this).
mkseg() {
	python3 -c 'import os,sys; b=bytearray(16 << 20); n=int(sys.argv[2]); b[:n]=os.urandom(n); open(sys.argv[1],"wb").write(b)' "$W/$1" "$2"
}

# exits NAME CODE CMD... — exit status CODE exactly.
exits() {
	n=$1; code=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc -eq "$code" ]; then pass "$n"; else fail "$n" "exit $rc, wanted $code: $(head -c 300 "$T/err")"; fi
}

# no_partial NAME DEST — neither DEST nor a temporary file beside it
# (DEST.tmp*) exists.
no_partial() {
	if [ ! -e "$2" ] && [ -z "$(find "$(dirname "$2")" -maxdepth 1 -name "$(basename "$2").tmp*")" ]; then
		pass "$1"
	else
		fail "$1" "$(ls -l "$2"* 2>&1)"
	fi
}

expect "init" "$STRATA" init
SEG1=000000010000000000000001
SEG2=000000010000000000000002
SEG3=000000010000000000000003
SEG5=000000010000000000000005
for s in 1 2 3 5; do mkseg "00000001000000000000000$s" 65536; done
mkseg 000000010000000000000006 8000000
printf 'history of timeline 2\n' >"$W/00000002.history"
printf 'START WAL LOCATION: 0/3000028 (file %s)\n' "$SEG3" >"$W/$SEG3.00000028.backup"
head -c 1000000 "$W/$SEG5" >"$W/$SEG5.partial"

# ---- push ----
exits "wal-push a segment" 0 "$STRATA" wal-push "$W/$SEG1"
exits "identical re-push succeeds" 0 "$STRATA" -v wal-push "$W/$SEG1"
if grep -q "already archived" "$T/out"; then pass "re-push says already archived"; else fail "re-push says already archived" "$(cat "$T/out")"; fi
for f in $SEG2 $SEG3 $SEG5 000000010000000000000006 00000002.history $SEG3.00000028.backup $SEG5.partial; do
	exits "wal-push $f" 0 "$STRATA" wal-push "$W/$f"
done
cp "$W/$SEG2" "$T/other/$SEG2" 2>/dev/null || { mkdir -p "$T/other"; cp "$W/$SEG2" "$T/other/$SEG2"; }
flip_byte "$T/other/$SEG2" 100
"$STRATA" wal-push "$T/other/$SEG2" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -ne 0 ] && grep -q "ALREADY ARCHIVED WITH DIFFERENT CONTENT" "$T/err"; then
	pass "conflicting re-push fails loudly (exit $rc)"
else
	fail "conflicting re-push fails loudly" "exit $rc: $(cat "$T/err")"
fi
"$STRATA" wal-fetch "$SEG2" "$T/check2" >/dev/null 2>&1
if cmp -s "$T/check2" "$W/$SEG2"; then pass "the archived segment is unchanged"; else fail "the archived segment is unchanged" "content differs"; fi
exits "wal-push of a non-WAL name: usage error" 2 "$STRATA" wal-push "$T/check2"
exits "wal-push of a missing file" 4 "$STRATA" wal-push "$W/000000010000000000000099"
size=$(du -sk "$R" | cut -f1)
# 5 segments of 16 MiB (80 MiB of mostly zeros; 8.3 MB random in all).
if [ "$size" -lt 12000 ]; then pass "mostly-zero segments shrink (repository $size KiB for 80 MiB of WAL)"; else fail "mostly-zero segments shrink" "repository is $size KiB"; fi

# ---- fetch: exit statuses ----
exits "wal-fetch a segment" 0 "$STRATA" wal-fetch --prefetch 0 "$SEG1" "$T/pg_wal/RECOVERYXLOG"
if cmp -s "$T/pg_wal/RECOVERYXLOG" "$W/$SEG1"; then pass "fetched segment is byte-exact"; else fail "fetched segment is byte-exact" "differs"; fi
printf 'junk' >"$T/pg_wal/RECOVERYXLOG"
exits "wal-fetch over an existing DEST" 0 "$STRATA" wal-fetch --prefetch 0 "$SEG2" "$T/pg_wal/RECOVERYXLOG"
if cmp -s "$T/pg_wal/RECOVERYXLOG" "$W/$SEG2"; then pass "existing DEST replaced whole"; else fail "existing DEST replaced whole" "differs"; fi
for f in 00000002.history $SEG3.00000028.backup $SEG5.partial; do
	exits "wal-fetch $f" 0 "$STRATA" wal-fetch "$f" "$T/pg_wal/got"
	if cmp -s "$T/pg_wal/got" "$W/$f"; then pass "$f byte-exact"; else fail "$f byte-exact" "differs"; fi
done
exits "missing segment: exit 1" 1 "$STRATA" wal-fetch 000000010000000000000004 "$T/pg_wal/RECOVERYXLOG4"
no_partial "missing segment: no DEST" "$T/pg_wal/RECOVERYXLOG4"
exits "missing history file: exit 1" 1 "$STRATA" wal-fetch 00000003.history "$T/pg_wal/RECOVERYHISTORY"
exits "not a WAL name: exit 128" 128 "$STRATA" wal-fetch RECOVERYXLOG "$T/pg_wal/x"
exits "usage error: exit 128" 128 "$STRATA" wal-fetch "$SEG1"
exits "unknown option: exit 128" 128 "$STRATA" wal-fetch --bogus "$SEG1" "$T/pg_wal/x"
exits "--help: exit 0" 0 "$STRATA" wal-fetch --help
exits "wrong password: exit 128" 128 env STRATA_PASSWORD_FILE= STRATA_PASSWORD=wrong "$STRATA" wal-fetch "$SEG1" "$T/pg_wal/x"
exits "no repository: exit 128" 128 "$STRATA" -r "$T/nothing-here" wal-fetch "$SEG1" "$T/pg_wal/x"
exits "unreachable S3 endpoint: exit 128" 128 env AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y STRATA_S3_RETRIES=0 \
	"$STRATA" -r "s3:http://127.0.0.1:9/bucket/p" wal-fetch "$SEG1" "$T/pg_wal/x"
no_partial "failures leave no DEST" "$T/pg_wal/x"

# A descriptor copied under another name is refused, not taken as absent.
cp "$R/wal/00000001/$SEG1" "$T/desc-backup"
cp "$R/wal/00000001/$SEG2" "$R/wal/00000001/000000010000000000000007"
exits "descriptor under a foreign name: exit 128" 128 "$STRATA" wal-fetch 000000010000000000000007 "$T/pg_wal/x7"
if grep -q "describes $SEG2" "$T/err"; then pass "... and says so"; else fail "foreign descriptor message" "$(cat "$T/err")"; fi
rm -f "$R/wal/00000001/000000010000000000000007"
printf 'garbage' >"$R/wal/00000001/$SEG1"
exits "damaged descriptor: exit 128" 128 "$STRATA" wal-fetch "$SEG1" "$T/pg_wal/x1"
cp "$T/desc-backup" "$R/wal/00000001/$SEG1"

# Damaged chunk data: 128, and no partial DEST.
"$STRATA" --json wal-push "$W/000000010000000000000006" >/dev/null
for p in "$R"/data/*/*; do
	sz=$(stat -c %s "$p")
	[ "$sz" -gt 4000000 ] || continue
	cp "$p" "$T/pack-backup"; PACK="$p"
	chmod u+w "$p"
	printf 'XXXXXXXXXXXXXXXX' | dd of="$p" bs=1 seek=$((sz / 2)) conv=notrunc status=none
done
exits "damaged data: exit 128" 128 "$STRATA" wal-fetch --prefetch 0 000000010000000000000006 "$T/pg_wal/x6"
no_partial "damaged data: no DEST" "$T/pg_wal/x6"
if [ -n "${PACK:-}" ]; then cp "$T/pack-backup" "$PACK"; fi
exits "repaired data: exit 0" 0 "$STRATA" wal-fetch --prefetch 0 000000010000000000000006 "$T/pg_wal/x6"

# Killed mid-fetch: DEST is absent or complete, never partial. A timed kill
# mostly lands while the repository is still being opened (Argon2id), so
# poll the process's open files for its temporary file in pg_wal/ (an
# unnamed O_TMPFILE shows as "pg_wal/#INODE (deleted)", a named one as
# pg_wal/k.tmp-...) and kill -9 once it is there; only those runs count.
# The dying process leaves nothing in pg_wal/ (O_TMPFILE) or at most its
# named temporary file. Bounded attempts.
writing() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q -e "$T/pg_wal/#" -e "$T/pg_wal/k.tmp"; }
bad=0 hits=0 tries=0 left=0
while [ $tries -lt 20 ] && [ $hits -lt 3 ]; do
	tries=$((tries + 1))
	rm -f "$T/pg_wal/k" "$T/pg_wal/k.tmp"*
	"$STRATA" wal-fetch --prefetch 0 000000010000000000000006 "$T/pg_wal/k" >/dev/null 2>&1 &
	pid=$!
	while ! writing $pid && kill -0 $pid 2>/dev/null; do :; done
	writing $pid && hit=1 || hit=0
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	hits=$((hits + hit))
	if [ -e "$T/pg_wal/k" ] && ! cmp -s "$T/pg_wal/k" "$W/000000010000000000000006"; then bad=1; fi
	if [ -n "$(find "$T/pg_wal" -name 'k.tmp*')" ]; then left=$((left + 1)); fi
done
if [ $bad -eq 0 ] && [ $hits -gt 0 ]; then
	pass "interrupted fetch leaves no partial DEST ($hits of $tries kills landed mid-write)"
elif [ $bad -ne 0 ]; then
	fail "interrupted fetch" "a partial DEST was found"
else
	fail "interrupted fetch" "no kill landed while the temporary file was open in $tries tries"
fi
if [ $left -eq 0 ]; then pass "... and leaves no temporary file in pg_wal/ (O_TMPFILE)"; else fail "interrupted fetch" "$left runs left a k.tmp* file"; fi
exits "a fetch after an interrupted one" 0 "$STRATA" wal-fetch --prefetch 0 000000010000000000000006 "$T/pg_wal/k"
if cmp -s "$T/pg_wal/k" "$W/000000010000000000000006" && [ -z "$(find "$T/pg_wal" -name 'k.tmp*')" ]; then pass "... is complete, no .tmp left"; else fail "fetch after interruption" "differs or .tmp left"; fi

# Names planted beside DEST (issue 27: predictable temporary names): the
# DEST.tmp earlier versions wrote through O_TRUNC, as a symlink to a file
# elsewhere and as a file of uid 65534. Neither is written, and DEST is
# this process's own complete 0600 file, whatever the umask.
ln -s "$T/victim" "$T/pg_wal/s.tmp"
(umask 0; "$STRATA" wal-fetch --prefetch 0 "$SEG1" "$T/pg_wal/s") >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && [ ! -e "$T/victim" ] && [ -L "$T/pg_wal/s.tmp" ] && cmp -s "$T/pg_wal/s" "$W/$SEG1" &&
   [ "$(stat -c '%a %F' "$T/pg_wal/s")" = "600 regular file" ]; then
	pass "wal-fetch: a symlink planted at DEST.tmp is not written through"
else
	fail "wal-fetch: planted symlink" "exit $rc, victim: $(ls -l "$T/victim" 2>&1), $(ls -l "$T/pg_wal" | grep ' s')"
fi
printf 'planted\n' >"$T/pg_wal/o.tmp"
chown 65534:65534 "$T/pg_wal/o.tmp" && chmod 0666 "$T/pg_wal/o.tmp"
"$STRATA" wal-fetch --prefetch 0 "$SEG1" "$T/pg_wal/o" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 0 ] && [ "$(stat -c '%a %u' "$T/pg_wal/o")" = "600 $(id -u)" ] && cmp -s "$T/pg_wal/o" "$W/$SEG1" &&
   [ "$(stat -c %u "$T/pg_wal/o.tmp") $(cat "$T/pg_wal/o.tmp")" = "65534 planted" ]; then
	pass "wal-fetch: a file of another user at DEST.tmp is left alone, DEST is ours"
else
	fail "wal-fetch: planted file" "exit $rc, $(ls -l "$T/pg_wal" | grep ' o')"
fi
rm -f "$T/pg_wal/s" "$T/pg_wal/s.tmp" "$T/pg_wal/o" "$T/pg_wal/o.tmp"

# ---- prefetch ----
spool=$(ls -d "$STRATA_CACHE_DIR"/*/wal-spool 2>/dev/null | head -1)
rm -f "$spool"/0* 2>/dev/null
# The spool's lock is not opened through a symlink planted at its name
# (the worker, run in the foreground here, gives up instead).
if [ -n "$spool" ]; then
	rm -f "$spool/lock"
	ln -s "$T/lock-victim" "$spool/lock"
	"$STRATA" -q wal-fetch --prefetch-worker --prefetch 2 "$SEG1" >/dev/null 2>&1
	if [ ! -e "$T/lock-victim" ] && [ ! -e "$spool/$SEG2" ]; then
		pass "prefetch: a symlink at the spool's lock is not followed"
	else
		fail "prefetch: spool lock symlink" "$(ls -l "$T/lock-victim" "$spool" 2>&1)"
	fi
	rm -f "$spool/lock"
else
	fail "prefetch: spool lock symlink" "no spool directory under $STRATA_CACHE_DIR"
fi
exits "wal-fetch starts a prefetch" 0 "$STRATA" wal-fetch --prefetch 4 "$SEG1" "$T/pg_wal/p1"
spool=$(ls -d "$STRATA_CACHE_DIR"/*/wal-spool | head -1)
i=0
while [ $i -lt 50 ] && [ ! -e "$spool/$SEG3" ]; do sleep 0.1; i=$((i + 1)); done
if [ -e "$spool/$SEG2" ] && [ -e "$spool/$SEG3" ] && [ ! -e "$spool/000000010000000000000004" ]; then
	pass "prefetch spools the next segments, up to the first missing one"
else
	fail "prefetch spool" "$(ls "$spool")"
fi
"$STRATA" --json wal-fetch --prefetch 0 "$SEG2" "$T/pg_wal/p2" >"$T/out" 2>"$T/err"
if grep -q '"from_spool": true' "$T/out" && cmp -s "$T/pg_wal/p2" "$W/$SEG2" && [ ! -e "$spool/$SEG2" ]; then
	pass "the next fetch is served from the spool"
else
	fail "served from the spool" "$(cat "$T/out" "$T/err")"
fi
flip_byte "$spool/$SEG3" 10
"$STRATA" --json wal-fetch --prefetch 0 "$SEG3" "$T/pg_wal/p3" >"$T/out" 2>"$T/err"
if grep -q '"from_spool": false' "$T/out" && cmp -s "$T/pg_wal/p3" "$W/$SEG3"; then
	pass "a damaged spool file is ignored"
else
	fail "damaged spool file" "$(cat "$T/out" "$T/err")"
fi

# ---- wal-list ----
"$STRATA" --json wal-list >"$T/out" 2>"$T/err"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t={x["timeline"]: x for x in d}; \
	assert t[1]["segments"] == 5 and t[1]["missing"] == 1 and t[1]["first"].endswith("01") and t[1]["last"].endswith("06"); \
	assert t[1]["segment_size"] == 16 << 20 and t[1]["backup"] == 1 and t[1]["partial"] == 1 and t[2]["history"] == 1' "$T/out" 2>"$T/err2"; then
	pass "wal-list: timelines, range, the gap, other files"
else
	fail "wal-list" "$(cat "$T/out" "$T/err" "$T/err2")"
fi
expect "wal-list table" "$STRATA" wal-list

# ---- wal-prune ----
exits "wal-prune without a base backup is refused" 4 "$STRATA" wal-prune
if grep -q "kind=pg-base" "$T/err"; then pass "... naming the label"; else fail "wal-prune refusal" "$(cat "$T/err")"; fi
mkdir -p "$T/base"
printf 'START WAL LOCATION: 0/3000028 (file %s)\nCHECKPOINT LOCATION: 0/3000060\n' "$SEG3" >"$T/base/backup_label"
printf 'data\n' >"$T/base/PG_VERSION"
(cd "$T/base" && tar -cf - .) | "$STRATA" backup --stdin-tar --label kind=pg-base -q
exits "wal-prune --dry-run" 0 "$STRATA" wal-prune --dry-run
if grep -q "would remove 2 WAL files older than $SEG3" "$T/out"; then pass "... counts segments before the base backup"; else fail "wal-prune --dry-run" "$(cat "$T/out")"; fi
exits "wal-prune" 0 "$STRATA" wal-prune
exits "pruned segment is gone: exit 1" 1 "$STRATA" wal-fetch "$SEG1" "$T/pg_wal/y"
exits "the base backup's start segment stays" 0 "$STRATA" wal-fetch --prefetch 0 "$SEG3" "$T/pg_wal/y"
exits "its .backup file stays" 0 "$STRATA" wal-fetch "$SEG3.00000028.backup" "$T/pg_wal/y"
exits "history files stay" 0 "$STRATA" wal-fetch 00000002.history "$T/pg_wal/y"
exits "wal-prune --before SEGMENT" 0 "$STRATA" wal-prune --before "$SEG5"
exits "... removes up to it" 1 "$STRATA" wal-fetch "$SEG3" "$T/pg_wal/y"
exits "... and keeps it" 0 "$STRATA" wal-fetch --prefetch 0 "$SEG5" "$T/pg_wal/y"
exits "wal-prune --before the base backup" 0 "$STRATA" wal-prune --before latest --dry-run
"$STRATA" backup "$W/00000002.history" -q
exits "wal-prune --before a plain snapshot" 14 "$STRATA" wal-prune --before latest --dry-run
if grep -q "no backup_label" "$T/err"; then pass "... says it is no base backup"; else fail "plain snapshot message" "$(cat "$T/err")"; fi

# Version 1 descriptors (tests/golden/wal-v1, written by strata 0.3.0,
# CONTENT_ID over the whole file) stay readable, and a version 2 writer
# compares a re-push with them.
G="$T/golden-v1"
GDIR=$(cd "$(dirname "$0")" && pwd)/golden/wal-v1
cp -r "$GDIR/repo" "$G"
printf 'golden-wal-v1\n' >"$T/gpw"
gv1() { STRATA_PASSWORD_FILE="$T/gpw" STRATA_REPOSITORY="$G" "$STRATA" "$@"; }
mkdir -p "$T/gv1"
exits "v1 descriptor: segment fetched" 0 gv1 wal-fetch --prefetch 0 000000010000000000000001 "$T/gv1/000000010000000000000001"
exits "v1 descriptor: history fetched" 0 gv1 wal-fetch 00000002.history "$T/gv1/00000002.history"
if [ "$(cd "$T/gv1" && b2sum -l 256 00000002.history 000000010000000000000001)" = "$(cat "$GDIR/expected.b2sum")" ]; then
	pass "v1 descriptors: both files byte-exact"
else
	fail "v1 descriptors byte-exact" "$(cd "$T/gv1" && b2sum -l 256 *)"
fi
exits "v1 descriptor: identical re-push" 0 gv1 --json wal-push "$T/gv1/000000010000000000000001"
if grep -q '"already_archived": true' "$T/out"; then pass "... is found already archived"; else fail "v1 re-push" "$(cat "$T/out")"; fi
printf 'x' | dd of="$T/gv1/000000010000000000000001" bs=1 seek=100 conv=notrunc 2>/dev/null
exits "v1 descriptor: other content under its name" 4 gv1 wal-push "$T/gv1/000000010000000000000001"
if grep -q "ALREADY ARCHIVED WITH DIFFERENT CONTENT" "$T/err"; then pass "... is refused"; else fail "v1 conflict" "$(cat "$T/err")"; fi

e2e_done
