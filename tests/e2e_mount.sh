# e2e_mount.sh — `strata mount`: the FUSE view of a repository. Always:
# help, usage and mountpoint errors. Where /dev/fuse and fusermount3 work:
# mount, list by-id / by-time / by-label / latest, compare files read
# through the mount with the source (whole, and at random offsets with dd
# skip=), metadata, read-only, new snapshots appearing, unmount. Where FUSE
# cannot mount here, prints "SKIP: <reason>" for those. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

S="$T/src"
M="$T/mnt"
export STRATA_REPOSITORY="$R"
MPID=""

# Unmount and stop our strata before e2e_lib's cleanup removes $T.
cleanup() {
	if [ -n "$MPID" ]; then
		fusermount3 -u "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
		kill "$MPID" 2>/dev/null
		wait "$MPID" 2>/dev/null
	fi
	chmod -R u+rwX "$T" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

# ---- always: help and errors ----
expect "mount --help" "$STRATA" mount --help
if grep -q 'by-id' "$T/out" && grep -q 'by-label' "$T/out" && grep -q 'fusermount3 -u' "$T/out"; then
	pass "mount --help explains the layout"
else
	fail "mount --help content" "$(head -c 300 "$T/out")"
fi
expect "help mount" "$STRATA" help mount
expect_exit "mount: no mountpoint" 2 "$STRATA" mount
expect_exit "mount: two mountpoints" 2 "$STRATA" mount "$T" "$T"
expect_exit "mount: bad --refresh" 2 "$STRATA" mount --refresh soon "$T"

mkdir -p "$S/d1/d2" "$M"
"$STRATA" init -q --chunk-min 16K --chunk-avg 64K --chunk-max 256K >/dev/null 2>&1 || { fail "init" "cannot init"; e2e_done; }
head -c 3000000 /dev/urandom >"$S/big.bin"
printf 'hello\n' >"$S/small.txt"
printf 'deep\n' >"$S/d1/d2/deep.txt"
printf 'secret\n' >"$S/d1/private"
chmod 0600 "$S/d1/private"
ln -s small.txt "$S/link"
: >"$S/empty"
touch -d '2003-04-05 06:07:08' "$S/small.txt"
expect "backup 1" "$STRATA" backup -q --label height=1234 "$S"
printf 'changed\n' >"$S/small.txt"
expect "backup 2" "$STRATA" backup -q --label height=1235 --label kind=node "$S"
"$STRATA" snapshots --json >"$T/snaps"
S1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["short_id"])' "$T/snaps")
S2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[1]["short_id"])' "$T/snaps")
P=${S#/}

# A strata built without libfuse3 says so before anything else.
"$STRATA" -r "$T/no-repo" mount "$M" >"$T/out" 2>"$T/err"
rc=$?
if grep -q 'built without FUSE support' "$T/err"; then
	if [ $rc -eq 4 ] && [ "$(wc -l <"$T/err")" -eq 1 ]; then pass "mount: a strata built without FUSE says so (exit 4, one line)"; else fail "mount: no-FUSE message" "exit $rc: $(cat "$T/err")"; fi
	echo "SKIP: mountpoint, password and mounted checks: this strata was built without libfuse3"
	e2e_done
fi
if [ $rc -eq 10 ]; then pass "mount: no repository, exit 10"; else fail "mount: no repository" "exit $rc: $(cat "$T/err")"; fi

expect_exit "mount: missing mountpoint" 4 "$STRATA" mount "$T/nope"
if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^strata: mountpoint $T/nope: No such file or directory" "$T/err"; then
	pass "mount: missing mountpoint, one clear line"
else
	fail "mount: missing mountpoint message" "$(cat "$T/err")"
fi
expect_exit "mount: mountpoint is a file" 4 "$STRATA" mount "$S/small.txt"
if grep -q "not a directory" "$T/err"; then pass "mount: file as mountpoint, clear line"; else fail "mount: file as mountpoint" "$(cat "$T/err")"; fi
printf 'not the password\n' >"$T/badpw"
expect_exit "mount: wrong password" 12 "$STRATA" --password-file "$T/badpw" mount "$M"

# ---- can FUSE mount here? ----
skip=""
if [ ! -c /dev/fuse ]; then
	skip="no /dev/fuse on this machine"
elif ! command -v fusermount3 >/dev/null 2>&1; then
	skip="fusermount3 not installed (Debian: fuse3)"
fi
if [ -z "$skip" ]; then
	"$STRATA" mount --refresh 0 "$M" >"$T/mount.out" 2>"$T/mount.err" &
	MPID=$!
	i=0
	while [ $i -lt 100 ] && ! mountpoint -q "$M" 2>/dev/null && kill -0 "$MPID" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if ! mountpoint -q "$M" 2>/dev/null; then
		if grep -qi 'fuse' "$T/mount.err" && [ "$(grep -c '^strata: ' "$T/mount.err")" -eq 1 ]; then
			# libfuse's own line says why, then strata's one error line.
			pass "mount: a FUSE failure is reported clearly"
			skip="FUSE cannot mount here: $(head -n 1 "$T/mount.err")"
		else
			fail "mount: did not mount" "$(head -c 400 "$T/mount.err")"
		fi
		kill "$MPID" 2>/dev/null
		wait "$MPID" 2>/dev/null
		MPID=""
	fi
fi
if [ -n "$skip" ]; then
	echo "SKIP: mounted checks: $skip"
	e2e_done
fi
pass "mount: mounted"
if grep -q "^serving 2 snapshots at $M (read-only)" "$T/mount.out"; then pass "mount: says what it serves"; else fail "mount: banner" "$(cat "$T/mount.out")"; fi

# ---- the layout ----
if [ "$(ls "$M" | tr '\n' ' ')" = "by-id by-label by-time latest " ]; then pass "mount: top level"; else fail "mount: top level" "$(ls "$M")"; fi
if [ "$(ls "$M/by-id" | tr '\n' ' ')" = "$(printf '%s\n%s\n' "$S1" "$S2" | sort | tr '\n' ' ')" ]; then
	pass "mount: by-id lists both short IDs"
else
	fail "mount: by-id" "$(ls "$M/by-id")"
fi
if [ "$(readlink "$M/latest")" = "by-id/$S2" ]; then pass "mount: latest -> newest"; else fail "mount: latest" "$(readlink "$M/latest")"; fi
if [ "$(ls "$M/by-time" | grep -c '^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]')" -eq 2 ]; then
	pass "mount: by-time has both, named by time"
else
	fail "mount: by-time" "$(ls "$M/by-time")"
fi
if [ "$(ls "$M/by-label" | tr '\n' ' ')" = "height=1234 height=1235 kind=node " ]; then pass "mount: by-label lists every label"; else fail "mount: by-label" "$(ls "$M/by-label")"; fi
t1=$(ls "$M/by-label/height=1234" | grep -v '^latest$')
if [ "$(ls "$M/by-label/height=1234" | wc -l)" -eq 2 ] && [ "$(readlink "$M/by-label/height=1234/latest")" = "$t1" ] &&
   cmp -s "$M/by-label/height=1234/$t1/$P/small.txt" "$M/by-id/$S1/$P/small.txt"; then
	pass "mount: by-label/height=1234 holds snapshot 1"
else
	fail "mount: by-label/height=1234" "$(ls -l "$M/by-label/height=1234")"
fi
t2=$(readlink "$M/by-label/kind=node/latest")
if [ -n "$t2" ] && [ -d "$M/by-time/$t2" ] && [ "$(cat "$M/by-time/$t2/$P/small.txt")" = changed ]; then
	pass "mount: by-time and by-label reach the same snapshot"
else
	fail "mount: by-time/by-label" "$t2"
fi
expect_exit "mount: unknown ID is ENOENT" 2 ls "$M/by-id/ffffffff"

# ---- files: content, random access, metadata ----
if cmp -s "$M/latest/$P/big.bin" "$S/big.bin"; then pass "mount: whole file equals the source"; else fail "mount: cmp big.bin" "differs"; fi
"$STRATA" ls --json latest "$P/big.bin" >"$T/ls.json" 2>/dev/null
nchunks=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["chunks"])' "$T/ls.json")
if [ "$nchunks" -gt 4 ]; then pass "mount: big.bin spans $nchunks chunks"; else fail "mount: chunking" "$nchunks chunks"; fi
ok=1
for spec in "4096 0 1" "4096 1 3" "1000 777 5" "65536 20 2" "4096 732 10" "1 2999999 1" "7 428571 9"; do
	set -- $spec
	dd if="$M/by-id/$S2/$P/big.bin" bs="$1" skip="$2" count="$3" of="$T/via" status=none 2>/dev/null
	dd if="$S/big.bin" bs="$1" skip="$2" count="$3" of="$T/want" status=none
	cmp -s "$T/via" "$T/want" || { ok=0; echo "differs at bs=$1 skip=$2 count=$3"; }
done
[ $ok = 1 ] && pass "mount: random-access reads (dd skip=) equal the source" || fail "mount: random access" "see above"
# Reading past the end returns nothing.
dd if="$M/by-id/$S2/$P/big.bin" bs=4096 skip=10000 count=1 of="$T/via" status=none 2>/dev/null
if [ ! -s "$T/via" ]; then pass "mount: read past the end is empty"; else fail "mount: read past end" "$(wc -c <"$T/via") bytes"; fi
if [ "$(cat "$M/by-id/$S1/$P/small.txt")" = hello ] && [ "$(cat "$M/by-id/$S2/$P/small.txt")" = changed ]; then
	pass "mount: each snapshot shows its own content"
else
	fail "mount: per-snapshot content" "differs"
fi
if [ "$(stat -c '%a %s %Y' "$M/by-id/$S1/$P/small.txt")" = "$(touch -d '2003-04-05 06:07:08' "$T/ref" && printf '644 6 %s' "$(stat -c %Y "$T/ref")")" ] &&
   [ "$(stat -c '%a %s' "$M/latest/$P/d1/private")" = "600 7" ] &&
   [ "$(stat -c '%F' "$M/latest/$P/d1")" = directory ]; then
	pass "mount: modes, sizes, mtimes"
else
	fail "mount: metadata" "$(stat -c '%n %a %s %Y' "$M/by-id/$S1/$P/small.txt" "$M/latest/$P/d1/private")"
fi
if [ "$(readlink "$M/latest/$P/link")" = small.txt ] && [ "$(cat "$M/latest/$P/link")" = changed ]; then
	pass "mount: symlinks"
else
	fail "mount: symlinks" "$(readlink "$M/latest/$P/link")"
fi
if [ -f "$M/latest/$P/empty" ] && [ ! -s "$M/latest/$P/empty" ] && [ "$(cat "$M/latest/$P/d1/d2/deep.txt")" = deep ]; then
	pass "mount: empty files and deep paths"
else
	fail "mount: empty/deep" "differs"
fi
if (cd "$M/latest/$P" && find . | LC_ALL=C sort) >"$T/a" && (cd "$S" && find . | LC_ALL=C sort) >"$T/b" && cmp -s "$T/a" "$T/b"; then
	pass "mount: the snapshot's tree lists exactly the source"
else
	fail "mount: tree listing" "$(diff "$T/a" "$T/b" | head -c 300)"
fi

# ---- read-only ----
if ! (printf x >"$M/latest/$P/small.txt") 2>/dev/null && ! touch "$M/latest/$P/new" 2>/dev/null &&
   ! mkdir "$M/by-id/x" 2>/dev/null && [ "$(cat "$M/latest/$P/small.txt")" = changed ]; then
	pass "mount: read-only"
else
	fail "mount: read-only" "a write went through"
fi

# ---- a new snapshot appears; unmount ----
printf 'third\n' >"$S/small.txt"
expect "backup 3 while mounted" "$STRATA" backup -q "$S"
S3=$("$STRATA" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["short_id"])')
if [ "$(ls "$M/by-id" | wc -l)" -eq 3 ] && [ "$(readlink "$M/latest")" = "by-id/$S3" ] &&
   [ "$(cat "$M/latest/$P/small.txt")" = third ]; then
	pass "mount: new snapshots appear (--refresh 0)"
else
	fail "mount: refresh" "$(ls "$M/by-id")"
fi

expect "unmount" fusermount3 -u "$M"
i=0
while [ $i -lt 100 ] && kill -0 "$MPID" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$MPID" 2>/dev/null; then
	fail "mount: exits after unmount" "still running"
else
	wait "$MPID"
	rc=$?
	MPID=""
	if [ $rc -eq 0 ] && ! mountpoint -q "$M"; then pass "mount: exits 0 after unmount"; else fail "mount: exit after unmount" "exit $rc"; fi
fi

# SIGTERM unmounts too.
"$STRATA" mount "$M" >/dev/null 2>"$T/mount.err" &
MPID=$!
i=0
while [ $i -lt 100 ] && ! mountpoint -q "$M" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
if mountpoint -q "$M"; then
	kill -TERM "$MPID"
	i=0
	while [ $i -lt 100 ] && kill -0 "$MPID" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
	if ! kill -0 "$MPID" 2>/dev/null && ! mountpoint -q "$M"; then
		wait "$MPID"
		MPID=""
		pass "mount: SIGTERM unmounts and exits"
	else
		fail "mount: SIGTERM" "still mounted or running"
	fi
else
	fail "mount: second mount" "$(head -c 300 "$T/mount.err")"
fi

e2e_done
