# e2e_exit_codes.sh — every row of the exit-code table, provoked by a real
# condition, with its exit status and its one error line ("strata: ...",
# the only line on stderr that is not a warning). Also: the table printed
# by `strata --help` and the one in tools/cli/doc/commands.md list the same codes, --json
# errors carry the same status, and wal-fetch follows PostgreSQL's rules
# (0, 1, 128). POSIX sh; the disk-full row needs root (a small tmpfs).
. "$(dirname "$0")/e2e_lib.sh"

README="$(cd "$(dirname "$0")/.." && pwd)/tools/cli/doc/commands.md"
S="$T/src"
mkdir -p "$S/d"
printf 'hello\n' >"$S/a.txt"
head -c 400000 /dev/urandom >"$S/d/random.bin"

# row NAME CODE PATTERN CMD... — CMD exits CODE and stderr holds exactly one
# line that is not a warning: "strata: " followed by a match of PATTERN
# (grep -E). CODE 0 wants an empty stderr.
row() {
	n=$1; code=$2; pat=$3; shift 3
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	grep -v '^strata: warning: ' "$T/err" >"$T/errline"
	if [ "$rc" -ne "$code" ]; then
		fail "$n: exit $code" "exit $rc: $(head -c 400 "$T/err")"
	elif [ "$code" -eq 0 ]; then
		if [ -s "$T/errline" ]; then fail "$n: exit 0, quiet stderr" "$(head -c 300 "$T/err")"; else pass "$n: exit 0"; fi
	elif [ "$(wc -l <"$T/errline")" -eq 1 ] && grep -Eq "^strata: ($pat)" "$T/errline"; then
		pass "$n: exit $code, one line"
	else
		fail "$n: exit $code, one line" "stderr: $(head -c 400 "$T/err")"
	fi
}

# json_row NAME CODE CMD... — with --json the same failure is one JSON error
# document on stdout whose "exit" is CODE, and the process exits CODE.
json_row() {
	n=$1; code=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -eq "$code" ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
e = d["error"]
sys.exit(0 if e["exit"] == int(sys.argv[2]) and e["code"] and e["message"] else 1)' "$T/out" "$code" 2>/dev/null; then
		pass "$n: --json error, exit $code"
	else
		fail "$n: --json error, exit $code" "exit $rc: $(head -c 300 "$T/out")"
	fi
}

# ---- one table: --help and README agree ----
"$STRATA" --help | sed -n '/^Exit codes:/,/^$/p' | grep -Eo '^  [0-9]+' | tr -d ' ' | sort -n >"$T/help-codes"
sed -n '/^## Exit codes/,/^## /p' "$README" | grep -Eo '^\| *[0-9]+ *\|' | tr -d '| ' | sort -n >"$T/readme-codes"
if [ -s "$T/help-codes" ] && cmp -s "$T/help-codes" "$T/readme-codes" &&
   [ "$(tr '\n' ' ' <"$T/help-codes")" = "0 1 2 3 4 10 11 12 13 14 " ]; then
	pass "strata --help and tools/cli/doc/commands.md list the same exit codes"
else
	fail "exit-code tables" "help: $(tr '\n' ' ' <"$T/help-codes") README: $(tr '\n' ' ' <"$T/readme-codes")"
fi

# ---- 0 ----
row "init" 0 "" "$STRATA" -r "$R" init -q
export STRATA_REPOSITORY="$R"
row "backup" 0 "" "$STRATA" backup -q "$S"

# ---- 2 usage ----
row "unknown option" 2 "backup: unknown option --bogus \(see 'strata help backup'\)" "$STRATA" backup --bogus "$S"
row "missing argument" 2 "restore: missing --target DIR" "$STRATA" restore latest
row "unknown command" 2 "unknown command 'frobnicate'" "$STRATA" frobnicate
row "bad number" 2 "backup: --compression wants a zstd level" "$STRATA" backup --compression 99 "$S"
json_row "usage" 2 "$STRATA" --json backup --bogus "$S"

# ---- 10 no repository ----
mkdir -p "$T/empty"
row "no repository" 10 "no repository at $T/empty \(run \`strata init\` to create one\)" "$STRATA" -r "$T/empty" snapshots
row "no repository (missing directory)" 10 "no repository at $T/missing" "$STRATA" -r "$T/missing" restore latest --target "$T/r0"
json_row "no repository" 10 "$STRATA" -r "$T/empty" --json snapshots

# ---- 12 wrong password ----
printf 'not it\n' >"$T/badpw"
row "wrong password" 12 "wrong password|no key" "$STRATA" --password-file "$T/badpw" snapshots
json_row "wrong password" 12 "$STRATA" --json --password-file "$T/badpw" snapshots

# ---- 13 unsupported version: the config's version field says 99 ----
cp -a "$R" "$T/v99"
printf '\143\000\000\000' | dd of="$T/v99/config" bs=1 seek=8 conv=notrunc status=none
row "newer format version" 13 ".*version" "$STRATA" -r "$T/v99" --cache-dir "$T/cache-v99" snapshots
json_row "newer format version" 13 "$STRATA" -r "$T/v99" --cache-dir "$T/cache-v99" --json snapshots

# ---- 14 not found ----
row "unknown snapshot" 14 ".*ffffffff" "$STRATA" restore ffffffff --target "$T/r1"
P=$("$STRATA" ls --json latest | json_in '[e["path"] for e in d if e["path"].endswith("a.txt")][0][:-5]')
row "unknown path" 14 ".*no/such/file" "$STRATA" dump latest "${P}no/such/file"
row "unknown key" 14 ".*" "$STRATA" key remove ffffffff
row "--at before the first snapshot" 14 ".*" "$STRATA" restore --at '2001-01-01 00:00' --target "$T/r2"
json_row "unknown snapshot" 14 "$STRATA" --json ls ffffffff

# ---- 1 damage: a flipped byte in a pack, found by check --read-data ----
cp -a "$R" "$T/dmg"
pack=$(ls -S "$T"/dmg/data/*/* | head -n 1)
flip_byte "$pack" 1000
DMG="-r $T/dmg --cache-dir $T/cache-dmg"
row "check --read-data on a flipped byte" 1 "damage found: [0-9]+ problems \(listed above\); to repair see \`strata help repair\`" \
	"$STRATA" $DMG check --read-data
if grep -q "pack $(basename "$pack" | cut -c1-16)" "$T/out" || grep -q "$(basename "$pack")" "$T/out"; then
	pass "damage: the report names the pack"
else
	fail "damage: the report names the pack" "$(head -c 400 "$T/out")"
fi
row "restore of damaged data" 1 ".*chunk [0-9a-f]+.* in pack [0-9a-f]+" "$STRATA" $DMG restore latest --target "$T/r3"
json_row "damage" 1 "$STRATA" $DMG --json restore latest --target "$T/r3j"
row "check without --read-data misses a flipped data byte" 0 "" "$STRATA" $DMG check -q

# ---- 3 partial: a file this user cannot read ----
AS=""
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null 2>&1 && AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ "$(id -u)" != 0 ] || [ -n "$AS" ]; then
	U="$T/unpriv"
	mkdir -p "$U/src"
	chmod 711 "$T"
	chmod 777 "$U"
	printf 'readable\n' >"$U/src/ok"
	printf 'locked\n' >"$U/src/secret"
	chmod 000 "$U/src/secret"
	chmod 755 "$U/src"
	chmod 644 "$U/src/ok"
	cp "$T/pw" "$U/pw"
	chmod 644 "$U/pw"
	UR="-r $U/repo --password-file $U/pw --cache-dir $U/cache"
	row "unprivileged init" 0 "" $AS "$STRATA" $UR init -q
	row "unreadable file" 3 "snapshot [0-9a-f]{8} saved as partial: 1 source path vanished, could not be read or changed while being read; latest, --at, --label, the next backup's parent and forget's keep counts skip it \(--include-partial uses it\)" $AS "$STRATA" $UR backup -q "$U/src"
	if grep -q "^strata: warning: $U/src/secret: Permission denied" "$T/err"; then pass "partial: a warning names the file"; else fail "partial: a warning names the file" "$(head -c 300 "$T/err")"; fi
	"$STRATA" $UR --json snapshots >"$T/out" 2>/dev/null
	if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d)==1 and d[0]["summary"]["errors"]==1 else 1)' "$T/out"; then
		pass "partial: the snapshot was written, counting the error"
	else
		fail "partial: the snapshot was written" "$(head -c 300 "$T/out")"
	fi
	# With --json a partial backup prints its summary, not an error.
	$AS "$STRATA" $UR --json backup "$U/src" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 3 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["summary"]["errors"]==1 else 1)' "$T/out"; then
		pass "partial: --json prints the summary with errors 1, exit 3"
	else
		fail "partial: --json" "exit $rc: $(head -c 300 "$T/out")"
	fi
	chmod 700 "$T"
else
	echo "SKIP partial (exit 3): running as root without setpriv, root reads every file"
fi

# ---- 4 runtime failure ----
: >"$T/a-file"
row "repository below a regular file" 4 "local:$T/a-file/keys/[0-9a-f]+: create temporary file failed: Not a directory" \
	"$STRATA" -r "$T/a-file" init
row "missing password file" 4 ".*no-such-pw" "$STRATA" --password-file "$T/no-such-pw" snapshots
row "init over an existing repository" 4 ".*" "$STRATA" init
row "restore over existing files" 4 ".*" sh -c "'$STRATA' restore latest --target '$T/r4' -q && '$STRATA' restore latest --target '$T/r4'"
json_row "runtime failure" 4 "$STRATA" -r "$T/a-file" --json init
if [ "$(id -u)" = 0 ] && mkdir -p "$T/full" && mount -t tmpfs -o size=2m tmpfs "$T/full" 2>/dev/null; then
	row "init on a 2 MiB tmpfs" 0 "" "$STRATA" -r "$T/full/repo" --cache-dir "$T/cache-full" init -q
	head -c 6000000 /dev/urandom >"$T/big.bin"
	row "disk full during backup" 4 "local:$T/full/repo/data/.*: write failed: No space left on device" \
		"$STRATA" -r "$T/full/repo" --cache-dir "$T/cache-full" backup -q "$T/big.bin"
	row "the full repository still opens" 0 "" "$STRATA" -r "$T/full/repo" --cache-dir "$T/cache-full" snapshots -q
	umount "$T/full"
else
	echo "SKIP disk full (exit 4): needs root to mount a small tmpfs"
fi

# ---- 11 locked: a backup that waits on its standard input holds a shared
# lock; a prune waiting (STRATA_LOCK_WAIT) for its exclusive phase holds a
# mark lock ----
nlocks() { ls "$R/locks" 2>/dev/null | wc -l; }
wait_locks() {
	i=0
	while [ "$(nlocks)" -lt "$1" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
}
"$STRATA" backup -q "$S" --tag second >/dev/null 2>&1
"$STRATA" forget -q --keep-last 1 >/dev/null 2>&1
mkfifo "$T/hold"
"$STRATA" backup -q --stdin --stdin-name held <"$T/hold" >/dev/null 2>"$T/held.err" &
HOLD=$!
exec 7>"$T/hold"
wait_locks 1
row "exclusive lock while a backup runs" 11 "repository is in use by backup on host [^ ]+ pid $HOLD \(user [^)]+\) since .*; wait for it to finish, or run \`strata unlock\` if it is stale" \
	"$STRATA" repair index
json_row "locked" 11 "$STRATA" --json repair index
# --max-unused 0: it must have work (a plan to sweep), so it waits.
STRATA_LOCK_WAIT=60 "$STRATA" prune -q --max-unused 0 >"$T/prune.out" 2>"$T/prune.err" 7>&- &
PRUNE=$!
wait_locks 2
sleep 0.5
row "a second prune while one waits" 11 "repository is locked by prune on host [^ ]+ pid $PRUNE \(user [^)]+\) since .*\(one prune at a time\); run \`strata unlock\` if it is stale" \
	"$STRATA" prune
exec 7>&-
wait $HOLD
wait $PRUNE
prc=$?
# The positive report, not just no "deferred": "nothing to delete" must fail.
if [ $prc -eq 0 ] && grep -q '^swept 1 prune plan: deleted [1-9]' "$T/prune.out" && ! grep -q 'deferred' "$T/prune.out"; then
	pass "the waiting prune deletes once the backup ends"
else
	fail "the waiting prune deletes once the backup ends" "exit $prc: $(head -c 300 "$T/prune.out") $(head -c 300 "$T/prune.err")"
fi
row "nothing locked afterwards" 0 "" "$STRATA" repair index -q

# ---- wal-fetch: PostgreSQL's restore_command rules ----
mkdir -p "$T/wal"
head -c 16777216 /dev/zero >"$T/wal/000000010000000000000001"
row "wal-push" 0 "" "$STRATA" wal-push "$T/wal/000000010000000000000001"
row "wal-fetch of an archived file" 0 "" "$STRATA" wal-fetch --prefetch 0 000000010000000000000001 "$T/wal-out"
row "wal-fetch of a file the archive lacks: 1 (end of archive)" 1 ".*000000010000000000000009" \
	"$STRATA" wal-fetch --prefetch 0 000000010000000000000009 "$T/wal-out2"
row "wal-fetch without a repository: 128 (stop recovery)" 128 "no repository at $T/empty" \
	"$STRATA" -r "$T/empty" wal-fetch --prefetch 0 000000010000000000000001 "$T/wal-out3"
row "wal-fetch with a wrong password: 128" 128 "wrong password|no key" \
	"$STRATA" --password-file "$T/badpw" wal-fetch --prefetch 0 000000010000000000000001 "$T/wal-out4"
row "wal-fetch usage error: 128" 128 "wal-fetch: wants NAME and DEST" "$STRATA" wal-fetch onlyname

e2e_done
