# e2e_core.sh — the strata binary end to end on a local repository:
# init, backup of a tree with every kind of entry, restore bit-exact with
# metadata, deduplication, --stdin/dump, excludes, --include, --overwrite,
# keys, --json shapes, and the exact error line and exit code of each
# failure a user meets first. POSIX sh (run by tests/run.sh with sh).
. "$(dirname "$0")/e2e_lib.sh"

S="$T/src"          # the source tree
PW2="$T/pw2"        # a second password, for key tests
printf 'second password\n' >"$PW2"

# json FILE EXPR — evaluate a Python expression over the JSON document in
# FILE (bound to d) and print it; exit 1 when FILE is not one JSON document.

# check NAME EXPR — EXPR (Python, d = the JSON in $T/out) must be true.
check() {
	if r=$(json "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $(printf %s "$r" | head -c 200) in $(tr -d '\n' <"$T/out" | head -c 600)"; fi
}

# one_error_line NAME — stderr of the last command is exactly one line
# "strata: ..." (containing $2 when given).
one_error_line() {
	if [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^strata: ' "$T/err" &&
	   { [ -z "${2:-}" ] || grep -qi -- "$2" "$T/err"; }; then
		pass "$1"
	else
		fail "$1" "stderr was: $(head -c 300 "$T/err")"
	fi
}

# meta DIR — one line per entry below DIR: path, type, mode, size (not for
# directories: their size depends on the filesystem), mtime, link target.
meta() {
	(cd "$1" && find . -mindepth 1 \( -type d -printf '%P %y %m - %T@\n' \) -o \
	                                -printf '%P %y %m %s %T@ %l\n') | LC_ALL=C sort
}

# ---- a source tree with every kind of entry ----
mkdir -p "$S/d1/d2/d3" "$S/private" "$S/shared" "$S/skipdir" "$S/uni"
printf 'marker\n' >"$S/top-marker.txt"
printf 'hello, world\n' >"$S/a.txt"
: >"$S/empty"
printf 'deep\n' >"$S/d1/d2/d3/deep.txt"
head -c 100000 /dev/urandom >"$S/d1/random-100k"
printf 'secret\n' >"$S/private/key"
chmod 0700 "$S/private"
chmod 0600 "$S/private/key"
chmod 0644 "$S/a.txt"
printf '#!/bin/sh\necho hi\n' >"$S/run.sh"
chmod 0755 "$S/run.sh"
chmod 2775 "$S/shared"
printf 'in shared\n' >"$S/shared/f"
ln -s /etc/hostname "$S/abs-link"
ln -s a.txt "$S/rel-link"
ln -s ../d1/d2 "$S/uni/dir-link"
ln -s does/not/exist "$S/dangling-link"
printf 'linked\n' >"$S/hl1"
ln "$S/hl1" "$S/hl2"
mkfifo "$S/fifo"
printf 'unicode\n' >"$S/uni/héllo wörld ✓.txt"
printf 'cjk\n' >"$S/uni/日本語"
odd=$(printf '\001\377 name')
printf 'odd bytes\n' >"$S/uni/$odd"
printf 'log\n' >"$S/drop.log"
printf 'skipped\n' >"$S/skipdir/inside"
head -c 20971520 /dev/urandom >"$S/big"
# Just past 2 GiB (2^31, where a signed 32-bit offset or length wraps):
# every further GiB of holes cost ~1.6 s of CPU to read, chunk and hash.
truncate -s 2G "$S/sparse"
for off in 0 262144 524288; do   # in 4 KiB blocks: 0, 1 GiB, 2 GiB (the file ends 4 KiB past it)
	head -c 4096 /dev/urandom | dd of="$S/sparse" bs=4096 seek=$off conv=notrunc status=none
done
head -c 4096 /dev/urandom | dd of="$S/sparse" bs=4096 seek=524287 conv=notrunc status=none
# Files ending in a hole (all-zero chunks are not written): sized after
# their content, whole (diff -r below).
head -c 100000 /dev/urandom >"$S/tailhole"
truncate -s 8M "$S/tailhole"
truncate -s 3M "$S/allhole"
touch -d '2001-02-03 04:05:06.123456789' "$S/a.txt"
touch -d '1999-12-31 23:59:59' "$S/empty" "$S/big"
touch -h -d '2010-10-10 10:10:10' "$S/rel-link"
for d in "$S/d1/d2/d3" "$S/d1/d2" "$S/d1" "$S/private" "$S/shared" "$S/uni"; do
	touch -d '2005-05-05 05:05:05.5' "$d"
done

# ---- help, version, usage errors ----
expect "help" "$STRATA" --help
if grep -q 'Exit codes' "$T/out" && grep -q 'backup' "$T/out"; then pass "help lists commands and exit codes"; else fail "help content" "$(head -c 200 "$T/out")"; fi
expect "help backup" "$STRATA" help backup
if grep -q 'Examples' "$T/out" && grep -q -- '--exclude' "$T/out"; then pass "help backup teaches"; else fail "help backup content" "$(head -c 200 "$T/out")"; fi
expect "backup --help" "$STRATA" backup --help
expect "version" "$STRATA" version
cp "$T/out" "$T/version.out"
expect "--version" "$STRATA" --version
if grep -q '^strata .*(repository format [0-9]*)$' "$T/out" && cmp -s "$T/out" "$T/version.out"; then
	pass "--version prints what version prints"
else
	fail "--version output" "$(head -c 200 "$T/out")"
fi
expect_exit "no command" 2 "$STRATA"
expect_exit "unknown command" 2 "$STRATA" frobnicate
one_error_line "unknown command: one line" "frobnicate"
expect_exit "unknown option" 2 "$STRATA" -r "$R" backup --bogus "$S"
one_error_line "unknown option: one line" "--bogus"
expect_exit "restore without --target" 2 "$STRATA" -r "$R" restore latest
one_error_line "restore without --target: one line" "target"
expect_exit "bad --compression" 2 "$STRATA" -r "$R" backup --compression 99 "$S"
expect_exit "no repository given" 2 env -u STRATA_REPOSITORY "$STRATA" snapshots
one_error_line "no repository given: one line" "repo"
expect_exit "help for unknown command" 2 "$STRATA" help frobnicate

# ---- errors before a repository exists ----
expect_exit "missing repository" 10 "$STRATA" -r "$T/nope" snapshots
one_error_line "missing repository: one line"
"$STRATA" -r "$T/nope" --json snapshots >"$T/out" 2>"$T/err"
check "missing repository --json" "d['error']['code']=='no_repository' and d['error']['exit']==10 and len(d['error']['message'])>0"

# ---- init ----
expect "init" "$STRATA" -r "$R" init
expect_exit "init again refused" 4 "$STRATA" -r "$R" init
one_error_line "init again: one line"
export STRATA_REPOSITORY="$R"
expect "cat config" "$STRATA" cat config
if json "$T/out" 'd' >/dev/null 2>&1; then pass "cat config is JSON"; else fail "cat config is JSON" "$(head -c 200 "$T/out")"; fi

# ---- wrong password ----
printf 'not the password\n' >"$T/badpw"
expect_exit "wrong password" 12 "$STRATA" --password-file "$T/badpw" snapshots
one_error_line "wrong password: one line"
"$STRATA" --json --password-file "$T/badpw" snapshots >"$T/out" 2>"$T/err"
check "wrong password --json" "d['error']['code']=='wrong_password' and d['error']['exit']==12"
expect_exit "wrong password from STRATA_PASSWORD" 12 env -u STRATA_PASSWORD_FILE STRATA_PASSWORD=nope "$STRATA" snapshots
expect "password from STRATA_PASSWORD" env -u STRATA_PASSWORD_FILE STRATA_PASSWORD='correct horse battery staple' "$STRATA" snapshots
expect "password file without trailing newline" sh -c "printf 'correct horse battery staple' >'$T/pw-nonl' && '$STRATA' --password-file '$T/pw-nonl' snapshots"
expect_exit "missing password file" 4 "$STRATA" --password-file "$T/no-such-pw" snapshots
one_error_line "missing password file: one line" "no-such-pw"

# ---- first backup ----
expect "backup" "$STRATA" --json backup --tag t1 --tag t2 --label height=42 --host e2e-host \
	--exclude '*.log' --exclude-file /dev/null "$S"
cp "$T/out" "$T/backup1.json"
check "backup --json shape" "len(d['snapshot_id'])==64 and all(k in d['summary'] for k in ('files','dirs','files_new','files_changed','files_unchanged','bytes_total','bytes_read','bytes_added','bytes_stored','chunks_new','tree_bytes_added','errors','duration_s'))"
check "backup counts new files" "d['summary']['files_new']>=15 and d['summary']['errors']==0"
check "backup stores the big file once" "d['summary']['bytes_added'] < 2**31 and d['summary']['bytes_total'] > 2**31"
if grep -q "$(printf '\033')" "$T/err"; then fail "no progress line when stderr is not a tty" "escape codes on stderr"; else pass "no progress line when stderr is not a tty"; fi
SNAP1=$(json "$T/backup1.json" "d['snapshot_id']")
rm "$S/drop.log"   # excluded above: the restore must match the tree without it

expect "snapshots --json" "$STRATA" snapshots --json
check "snapshots --json fields" "len(d)==1 and d[0]['id']=='$SNAP1' and d[0]['short_id']=='$SNAP1'[:8] and d[0]['host']=='e2e-host' and sorted(d[0]['tags'])==['t1','t2'] and d[0]['labels']=={'height':'42'} and d[0]['parent'] is None and len(d[0]['tree'])==64 and isinstance(d[0]['paths'],list) and 'user' in d[0] and d[0]['summary']['files']>=15"
check "snapshots --json time is RFC 3339 UTC with ns" "__import__('re').fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z', d[0]['time']) is not None"
expect "snapshots table" "$STRATA" snapshots
if grep -q "^$(printf %.8s "$SNAP1")  [0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9:]\{8\}  e2e-host" "$T/out"; then pass "snapshots table row"; else fail "snapshots table row" "$(cat "$T/out")"; fi
expect "cat snapshot" "$STRATA" cat snapshot "$(printf %.8s "$SNAP1")"
check "cat snapshot is the snapshot" "d['id']=='$SNAP1'"

# Where the snapshot keeps the source tree: the prefix before top-marker.txt.
expect "ls --json" "$STRATA" ls latest --json
P=$(json "$T/out" "[e['path'] for e in d if e['path'].endswith('top-marker.txt')][0][:-len('top-marker.txt')]")
if [ $? -eq 0 ]; then pass "ls finds the marker"; else fail "ls finds the marker" "$(head -c 300 "$T/out")"; fi
check "ls --json entries" "any(e['path']=='${P}rel-link' and e['type']=='symlink' and e['link_target']=='a.txt' for e in d) and any(e['path']=='${P}fifo' and e['type']=='fifo' for e in d) and any(e['path']=='${P}big' and e['size']==20971520 and e['type']=='file' for e in d) and any(e['path']=='${P}private' and e['mode']==0o700 and e['type']=='dir' for e in d)"
check "ls --json odd-byte name carries its bytes" "any(e.get('path_hex','').endswith('01ff206e616d65') for e in d)"
check "exclude --exclude glob" "not any(e['path'].endswith('drop.log') for e in d)"
expect "ls human" "$STRATA" ls latest "${P}d1"
if grep -q '^-rw-r--r-- *5  .*d1/d2/d3/deep.txt$' "$T/out" && ! grep -q 'top-marker' "$T/out"; then pass "ls human under a path"; else fail "ls human under a path" "$(head -c 400 "$T/out")"; fi
expect "ls shows symlink targets" "$STRATA" ls latest "${P}rel-link"
if grep -q 'rel-link -> a.txt$' "$T/out"; then pass "ls symlink arrow"; else fail "ls symlink arrow" "$(cat "$T/out")"; fi

# ---- restore: content and metadata ----
D="$T/restore1"
expect "restore" "$STRATA" restore latest --target "$D"
RS="$D/$P"
# diff -r cannot compare FIFOs ("is a fifo while ... is a fifo"); the
# metadata listing below checks the FIFO instead. The 2 GiB sparse file
# is compared once, by the cmp below (reading its holes costs seconds).
if diff -r --no-dereference -x fifo -x sparse "$S" "$RS" >"$T/diff" 2>&1; then pass "restore content (diff -r)"; else fail "restore content (diff -r)" "$(head -c 400 "$T/diff")"; fi
meta "$S" >"$T/meta-src"
meta "$RS" >"$T/meta-dst"
if cmp -s "$T/meta-src" "$T/meta-dst"; then pass "restore metadata (type, mode, size, mtime, link)"; else fail "restore metadata" "$(diff "$T/meta-src" "$T/meta-dst" | head -c 600)"; fi
# Compared where either file has data (SEEK_DATA/SEEK_HOLE): a range that is
# a hole in both reads as zeros in both, and cmp spent seconds reading GiBs
# of them. A restore written dense makes its whole length data: then every
# byte is compared, as cmp did.
if python3 -S -c '
import os, sys
a, b = (open(p, "rb") for p in sys.argv[1:3])
size = os.fstat(a.fileno()).st_size
if size != os.fstat(b.fileno()).st_size:
    sys.exit("sizes differ")
def data(f):
    out, pos = [], 0
    while pos < size:
        try:
            start = os.lseek(f.fileno(), pos, os.SEEK_DATA)
        except OSError:
            break
        end = os.lseek(f.fileno(), start, os.SEEK_HOLE)
        out.append((start, end))
        pos = end
    return out
for start, end in sorted(data(a) + data(b)):
    a.seek(start); b.seek(start)
    while start < end:
        n = min(end - start, 1 << 20)
        if a.read(n) != b.read(n):
            sys.exit("differ in [%d, %d)" % (start, start + n))
        start += n' "$S/sparse" "$RS/sparse" 2>"$T/sparse.err"; then
	pass "sparse 2 GiB file bit-exact"
else
	fail "sparse 2 GiB file bit-exact" "$(cat "$T/sparse.err")"
fi
if cmp -s "$S/big" "$RS/big"; then pass "20 MiB random file bit-exact"; else fail "20 MiB random file bit-exact" "cmp differs"; fi
if [ -e "$RS/hl1" ] && [ "$(stat -c %i "$RS/hl1")" = "$(stat -c %i "$RS/hl2")" ]; then pass "hard link preserved"; else fail "hard link preserved" "different inodes"; fi
if [ -p "$RS/fifo" ]; then pass "fifo restored"; else fail "fifo restored" "not a fifo"; fi
if [ "$(stat -c %a "$RS/shared")" = 2775 ]; then pass "setgid directory mode"; else fail "setgid directory mode" "$(stat -c %a "$RS/shared")"; fi
kb=$(du -k "$RS/sparse" | cut -f1)
if [ "$kb" -lt 65536 ]; then echo "NOTE sparse file stays sparse (${kb} KiB allocated)"; else echo "NOTE sparse file restored dense (${kb} KiB allocated)"; fi

# ---- restore --verify: the same tree, every chunk re-hashed ----
expect "restore --verify" "$STRATA" restore latest --verify --target "$T/restore-verify" --include "${P}big"
if cmp -s "$S/big" "$T/restore-verify/${P}big"; then pass "restore --verify bit-exact"; else fail "restore --verify bit-exact" "cmp differs"; fi

# ---- restore into a non-empty target ----
expect_exit "restore over existing files refused" 4 "$STRATA" restore latest --target "$D"
one_error_line "restore over existing files: one line"
printf 'changed\n' >"$RS/a.txt"
# The first restore left "shared" group-writable (2775): as root, a second
# restore over it stops there unless --allow-foreign-dirs (FORMAT.md §14).
FOREIGN=""
if [ "$(id -u)" = 0 ]; then
	FOREIGN=--allow-foreign-dirs
	expect_exit "restore --overwrite as root over a group-writable directory: exit 4" 4 \
		"$STRATA" restore latest --target "$D" --overwrite
	one_error_line "restore --overwrite as root over a group-writable directory: one line naming it and the option" \
		"^strata: ${P}shared: existing directory writable by group or others (mode 2775, no sticky bit): restoring as root into a directory another user can change is refused (they could swap its entries for links while the restore runs); check the directory, or pass --allow-foreign-dirs\$"
	expect_exit "restore over a group-writable directory --json: refused" 4 \
		"$STRATA" --json restore latest --target "$D" --overwrite
	check "restore over a group-writable directory --json: code refused" "d['error']['code']=='refused' and d['error']['exit']==4"
fi
expect "restore --overwrite" "$STRATA" restore latest --target "$D" --overwrite $FOREIGN
if cmp -s "$S/a.txt" "$RS/a.txt"; then pass "restore --overwrite replaced the file"; else fail "restore --overwrite replaced the file" "content differs"; fi

# ---- restore --include ----
D2="$T/restore2"
expect "restore --include" "$STRATA" restore latest --target "$D2" --include "${P}d1"
if cmp -s "$S/d1/d2/d3/deep.txt" "$D2/${P}d1/d2/d3/deep.txt" && [ ! -e "$D2/${P}a.txt" ] && [ ! -e "$D2/${P}big" ]; then
	pass "restore --include restores only that path"
else
	fail "restore --include restores only that path" "$(cd "$D2" && find . | head -20 | tr '\n' ' ')"
fi

# ---- restore --json, --quiet, options after operands ----
expect "restore --json" "$STRATA" restore latest --json --target "$T/restore3" --include "${P}a.txt"
check "restore --json shape" "d['files']==1 and d['bytes']==len('hello, world\\n') and d['errors']==0 and len(d['snapshot_id'])==64 and d['target']=='$T/restore3'"
expect "restore --quiet" "$STRATA" --quiet restore latest --target "$T/restore4" --include "${P}a.txt"
if [ ! -s "$T/out" ] && [ ! -s "$T/err" ]; then pass "--quiet prints nothing"; else fail "--quiet prints nothing" "$(head -c 200 "$T/out" "$T/err")"; fi
expect_exit "missing --exclude-file" 2 "$STRATA" backup --exclude-file "$T/no-such-excludes" "$S"
one_error_line "missing --exclude-file: one line" "no-such-excludes"
expect_exit "bad --label" 2 "$STRATA" backup --label nokey "$S"
expect_exit "non-UTF-8 --tag refused" 2 "$STRATA" backup --tag "$(printf 'bad\377')" "$S"
expect_exit "non-UTF-8 --host refused" 2 "$STRATA" backup --host "$(printf 'h\377')" "$S"
expect_exit "dump of a directory" 2 "$STRATA" dump latest "${P}d1"

# ---- not found ----
expect_exit "unknown snapshot" 14 "$STRATA" restore ffffffff --target "$T/r-none"
one_error_line "unknown snapshot: one line"
expect_exit "unknown snapshot (ls)" 14 "$STRATA" ls 0000abcd
"$STRATA" --json ls 0000abcd >"$T/out" 2>"$T/err"
check "unknown snapshot --json" "d['error']['code']=='not_found' and d['error']['exit']==14"
expect_exit "unknown path (dump)" 14 "$STRATA" dump latest "${P}no/such/file"
one_error_line "unknown path (dump): one line"
expect_exit "unknown path (ls)" 14 "$STRATA" ls latest "${P}no-such-dir"

# ---- dedup: unchanged second backup adds almost nothing ----
expect "second backup" "$STRATA" --json backup --tag t1 --host e2e-host --exclude '*.log' "$S"
check "unchanged backup adds < 64 KiB" "d['summary']['bytes_added'] < 65536 and d['summary']['files_new']==0 and d['summary']['files_changed']==0"
SNAP2=$(json "$T/out" "d['snapshot_id']")
expect "snapshots after second backup" "$STRATA" snapshots --json
check "second snapshot has the first as parent" "len(d)==2 and d[1]['id']=='$SNAP2' and d[1]['parent']=='$SNAP1'"
expect "snapshots --latest 1" "$STRATA" snapshots --json --latest 1
check "snapshots --latest 1" "len(d)==1 and d[0]['id']=='$SNAP2'"
expect "snapshots --tag t2" "$STRATA" snapshots --json --tag t2
check "snapshots --tag filters" "len(d)==1 and d[0]['id']=='$SNAP1'"

# ---- one inserted byte in the 20 MiB file ----
{ head -c 10000000 "$S/big"; printf 'X'; tail -c +10000001 "$S/big"; } >"$T/big.new"
mv "$T/big.new" "$S/big"
expect "backup after a one-byte insert" "$STRATA" --json backup --host e2e-host --exclude '*.log' "$S"
check "one-byte insert adds < 512 KiB" "d['summary']['bytes_added'] < 524288 and d['summary']['files_changed']+d['summary']['files_new']>=1"
check "one-byte insert stores < 512 KiB" "d['summary']['bytes_stored'] < 524288"
expect "dump the changed file" sh -c "'$STRATA' dump latest '${P}big' >'$T/big.dump'"
if cmp -s "$S/big" "$T/big.dump"; then pass "dump bit-exact"; else fail "dump bit-exact" "cmp differs"; fi

# ---- --verbose lists files ----
printf 'new file\n' >"$S/added-later"
expect "backup --verbose" "$STRATA" --verbose backup --host e2e-host --exclude '*.log' "$S"
if grep -q 'new .*added-later' "$T/out" && grep -q 'unchanged .*a.txt' "$T/out"; then pass "--verbose prints file status"; else fail "--verbose prints file status" "$(head -c 400 "$T/out")"; fi
if grep -q 'snapshot [0-9a-f]\{8\} saved' "$T/out"; then pass "human summary"; else fail "human summary" "$(tail -5 "$T/out")"; fi

# ---- --exclude-file ----
printf 'log\n' >"$S/drop.log"
printf '# comment\n\n*skipdir\n*.log\n' >"$T/excludes"
expect "backup --exclude-file" "$STRATA" --json backup --exclude-file "$T/excludes" --parent "$(printf %.8s "$SNAP1")" "$S"
SNAPX=$(json "$T/out" "d['snapshot_id']")
expect "cat snapshot with --parent" "$STRATA" cat snapshot "$SNAPX"
check "--parent is recorded" "d['parent']=='$SNAP1'"
expect_exit "--parent unknown" 14 "$STRATA" backup --parent ffffffff "$S"
one_error_line "--parent unknown: one line" "parent"
expect "ls excluded snapshot" "$STRATA" ls --json "$SNAPX"
check "--exclude-file skips matches" "not any('skipdir' in e['path'] or e['path'].endswith('.log') for e in d) and any(e['path'].endswith('top-marker.txt') for e in d)"

# ---- --stdin round trip ----
head -c 3000000 /dev/urandom >"$T/stream.bin"
expect "backup --stdin" sh -c "'$STRATA' --json backup --stdin --stdin-name stream.bin --tag stream <'$T/stream.bin'"
SNAPS=$(json "$T/out" "d['snapshot_id']")
expect "ls stdin snapshot" "$STRATA" ls --json "$SNAPS"
SP=$(json "$T/out" "[e['path'] for e in d if e['path'].endswith('stream.bin')][0]")
expect "dump stdin stream" sh -c "'$STRATA' dump '$SNAPS' '$SP' >'$T/stream.out'"
if cmp -s "$T/stream.bin" "$T/stream.out"; then pass "--stdin round trip bit-exact"; else fail "--stdin round trip bit-exact" "cmp differs"; fi
expect_exit "--stdin with paths" 2 "$STRATA" backup --stdin "$S"

# ---- unreadable files: warning, snapshot written, exit 3 ----
# Root reads any file, so as root this part runs as nobody (setpriv) in a
# world-accessible corner of the scratch directory.
AS=""
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null && AS="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
if [ "$(id -u)" != 0 ] || [ -n "$AS" ]; then
	U="$T/unpriv"
	mkdir -p "$U/src"
	chmod 711 "$T"
	chmod 777 "$U"
	printf 'readable\n' >"$U/src/ok"
	printf 'locked\n' >"$U/src/unreadable"
	chmod 000 "$U/src/unreadable"
	chmod 755 "$U/src"
	cp "$T/pw" "$U/pw"
	chmod 644 "$U/pw" "$U/src/ok"
	export STRATA_CACHE_DIR="$U/cache"
	expect "unprivileged init" $AS "$STRATA" -r "$U/repo" --password-file "$U/pw" init
	expect_exit "unreadable file: partial (exit 3)" 3 $AS "$STRATA" -r "$U/repo" --password-file "$U/pw" backup "$U/src"
	if grep -q '^strata: warning: .*unreadable' "$T/err"; then pass "unreadable file: warning line"; else fail "unreadable file: warning line" "$(head -c 300 "$T/err")"; fi
	if grep -q 'snapshot [0-9a-f]\{8\} saved' "$T/out"; then pass "unreadable file: snapshot still written"; else fail "unreadable file: snapshot still written" "$(head -c 300 "$T/out")"; fi
	expect_exit "unreadable file --json" 3 $AS "$STRATA" -r "$U/repo" --password-file "$U/pw" --json backup "$U/src"
	check "unreadable file --json counts the error" "d['summary']['errors']==1 and len(d['snapshot_id'])==64"
	# Both snapshots are partial: latest skips them, --include-partial not.
	expect_exit "latest skips partial snapshots (exit 14)" 14 $AS "$STRATA" -r "$U/repo" --password-file "$U/pw" ls latest
	if grep -qx "strata: no complete snapshot found: the repository holds only 2 partial snapshots (some files vanished, were unreadable or changed while read); --include-partial lets latest pick one" "$T/err"; then
		pass "latest skips partial snapshots: the message says so"
	else
		fail "latest skips partial snapshots: the message says so" "$(head -c 300 "$T/err")"
	fi
	expect "snapshot with an unreadable file lists the readable one" $AS "$STRATA" -r "$U/repo" --password-file "$U/pw" ls --json --include-partial latest
	check "readable file is in the partial snapshot" "any(e['path'].endswith('src/ok') for e in d)"
	chmod 700 "$T"
	export STRATA_CACHE_DIR="$T/cache"
else
	echo "NOTE running as root without setpriv: unreadable-file test skipped"
fi

# ---- stats ----
expect "stats --json" "$STRATA" stats --json
check "stats fields" "d['snapshots']>=5 and d['logical_bytes']>d['unique_bytes']>0 and d['dedup_ratio']>1 and d['packs']>0 and d['stored_bytes']>0 and 'compression_ratio' in d and 'unique_chunks' in d"
expect "stats human" "$STRATA" stats

# ---- keys ----
expect "key list" "$STRATA" key list --json
check "one key at first" "len(d)==1 and d[0]['current'] is True"
K1=$(json "$T/out" "d[0]['id']")
expect "key add" "$STRATA" key add --new-password-file "$PW2"
expect "key list after add" "$STRATA" key list --json
check "two keys" "len(d)==2"
K2=$(json "$T/out" "[k['id'] for k in d if not k['current']][0]")
expect "second password opens" "$STRATA" --password-file "$PW2" snapshots
expect_exit "removing the key in use refused" 4 "$STRATA" key remove "$(printf %.8s "$K1")"
one_error_line "removing the key in use: one line"
expect "remove first key with the second password" "$STRATA" --password-file "$PW2" key remove "$(printf %.8s "$K1")"
expect_exit "first password no longer opens" 12 "$STRATA" snapshots
expect_exit "removing the last key refused" 4 "$STRATA" --password-file "$PW2" key remove "$K2"
printf 'third password\n' >"$T/pw3"
expect "key passwd" env STRATA_NEW_PASSWORD_FILE="$T/pw3" "$STRATA" --password-file "$PW2" key passwd
expect_exit "old password after passwd" 12 "$STRATA" --password-file "$PW2" snapshots
expect "new password after passwd" "$STRATA" --password-file "$T/pw3" snapshots
expect_exit "key remove unknown" 14 "$STRATA" --password-file "$T/pw3" key remove ffffffff
expect_exit "key bad subcommand" 2 "$STRATA" key frob

# ---- damaged data: exit 1 naming the chunk and pack ----
# Two bytes flipped 100000 bytes into every data pack big enough: the
# 20 MiB file's chunks are in some of them.
cp -a "$R" "$T/repo-damaged"
for pack in "$T"/repo-damaged/data/*/*; do
	[ "$(stat -c %s "$pack")" -gt 200000 ] &&
		printf '\125\252' | dd of="$pack" bs=1 seek=100000 conv=notrunc status=none
done
DMG="-r $T/repo-damaged --cache-dir $T/cache-damaged --password-file $T/pw3"
expect_exit "damaged pack: restore" 1 "$STRATA" $DMG restore "$SNAP1" --include "${P}big" --target "$T/restore-damaged"
one_error_line "damaged pack: restore names chunk and pack" "chunk .* in pack "
expect_exit "damaged pack: dump" 1 "$STRATA" $DMG dump "$SNAP1" "${P}big"
"$STRATA" $DMG --json restore "$SNAP1" --include "${P}big" --target "$T/restore-damaged2" >"$T/out" 2>"$T/err"
check "damaged pack --json" "d['error']['code'] in ('damaged','auth_failed') and d['error']['exit']==1"

# ---- unsupported repository version ----
cp -a "$R" "$T/repo-v99"
printf '\143\000\000\000' | dd of="$T/repo-v99/config" bs=1 seek=8 conv=notrunc status=none
expect_exit "unsupported version" 13 "$STRATA" -r "$T/repo-v99" --password-file "$T/pw3" snapshots
one_error_line "unsupported version: one line"

# ---- a source path whose name is not UTF-8 is kept in the snapshot ----
ODD="$T/odd-$(printf 'n\377')"
mkdir -p "$ODD" && printf 'x' >"$ODD/f"
"$STRATA" -r "$T/repo-odd" --password-file "$T/pw3" init >/dev/null 2>&1
"$STRATA" -r "$T/repo-odd" --password-file "$T/pw3" backup "$ODD" >/dev/null 2>"$T/err"
"$STRATA" -r "$T/repo-odd" --password-file "$T/pw3" snapshots --json >"$T/out" 2>>"$T/err"
check "non-UTF-8 source path kept in snapshot" "len(d)==1 and len(d[0]['paths'])==1 and d[0]['paths'][0].endswith('n\ufffd')"
"$STRATA" -r "$T/repo-odd" --password-file "$T/pw3" restore latest --target "$T/odd-out" >/dev/null 2>&1
cmp -s "$ODD/f" "$T/odd-out$ODD/f" && pass "non-UTF-8 source path restores" || fail "non-UTF-8 source path restores" "missing or different"

e2e_done
