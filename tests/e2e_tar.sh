# e2e_tar.sh — tar streams in and out (store/tar/tar.c) through the binary:
# a directory backed up and written back with `restore --tar` / `--tar-zst`
# extracts identical with GNU tar (content, modes, mtimes, symlinks, hard
# links, odd names); archives made by GNU tar (gnu and pax formats, plain,
# gzip and zstd) imported with `backup --stdin-tar` restore identical; a
# tar.gz imported twice adds almost nothing the second time; bad input
# (garbage, empty, cut short, "..") fails or is skipped with a clear error
# and writes no snapshot; a failed export leaves no FILE. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

S="$T/src"

# meta DIR — one line per entry: path, type, mode, size (not for
# directories), mtime in whole seconds, link target.
meta() {
	(cd "$1" && find . -mindepth 1 \( -type d -printf '%P|%y|%m|-|%T@|\n' \) -o \
	                                -printf '%P|%y|%m|%s|%T@|%l\n') |
		awk -F'|' '{ sub(/\..*/, "", $5); print $1, $2, $3, $4, $5, $6 }' | LC_ALL=C sort
}

# same NAME A B — identical content (diff -r, FIFOs aside) and metadata.
same() {
	if ! diff -r --no-dereference -x fifo "$2" "$3" >"$T/diff" 2>&1; then
		fail "$1" "$(head -c 400 "$T/diff")"
	elif ! meta "$2" >"$T/m1" || ! meta "$3" >"$T/m2" || ! diff "$T/m1" "$T/m2" >"$T/diff"; then
		fail "$1" "metadata differs: $(head -c 400 "$T/diff")"
	else
		pass "$1"
	fi
}

# added FILE — bytes_added of a `backup --json` result.
added() {
	json "$1" 'd["summary"]["bytes_added"]'
}

nsnaps() {
	"$STRATA" -r "$R" snapshots --json | json_in 'len(d)'
}

# ---- a source tree ----
mkdir -p "$S/d1/d2/d3" "$S/private" "$S/uni"
printf 'hello\n' >"$S/a.txt"
: >"$S/empty"
head -c 3000000 /dev/urandom >"$S/d1/random-3m"
head -c 200000 /dev/zero >"$S/d1/zeros"
printf 'deep\n' >"$S/d1/d2/d3/deep.txt"
printf 'secret\n' >"$S/private/key"
chmod 0700 "$S/private"
chmod 0600 "$S/private/key"
printf '#!/bin/sh\n' >"$S/run.sh"
chmod 0755 "$S/run.sh"
ln -s a.txt "$S/rel-link"
ln -s does/not/exist "$S/dangling"
printf 'linked\n' >"$S/hl1"
ln "$S/hl1" "$S/d1/hl2"
mkfifo "$S/fifo"
printf 'u\n' >"$S/uni/héllo wörld ✓.txt"
odd=$(printf '\001\377 name')
printf 'odd\n' >"$S/uni/$odd"
long=$(printf 'x%.0s' $(seq 1 150))
printf 'long\n' >"$S/d1/$long"
touch -d '2001-02-03 04:05:06' "$S/a.txt" "$S/d1/random-3m"
touch -h -d '2010-10-10 10:10:10' "$S/rel-link"
for d in "$S/d1/d2/d3" "$S/d1/d2" "$S/d1" "$S/private" "$S/uni"; do touch -d '2005-05-05 05:05:05' "$d"; done

expect "init" "$STRATA" -r "$R" init
"$STRATA" -r "$R" --json backup "$S" >"$T/j0" 2>"$T/err"
SNAP=$(json "$T/j0" 'd["snapshot_id"]' 2>/dev/null)
if [ -n "$SNAP" ]; then pass "backup of a directory"; else fail "backup of a directory" "$(cat "$T/err")"; fi

# ---- export: restore --tar, then GNU tar extracts it ----
"$STRATA" -r "$R" restore "$SNAP" --tar - >"$T/out.tar" 2>"$T/err"
if [ $? -eq 0 ] && [ -s "$T/out.tar" ]; then pass "restore --tar - writes a stream"; else fail "restore --tar - writes a stream" "$(cat "$T/err")"; fi
if grep -q "^wrote snapshot .* as a tar stream to standard output" "$T/err"; then pass "summary on stderr, not in the stream"; else fail "summary on stderr" "$(cat "$T/err")"; fi
mkdir "$T/x1"
if tar -x -C "$T/x1" -f "$T/out.tar" 2>"$T/err"; then pass "GNU tar extracts it"; else fail "GNU tar extracts it" "$(head -c 300 "$T/err")"; fi
same "tar -x of restore --tar is identical" "$S" "$T/x1$S"
if [ -p "$T/x1$S/fifo" ]; then pass "fifo in the stream"; else fail "fifo in the stream" "not a fifo"; fi
i1=$(stat -c %i "$T/x1$S/hl1" 2>/dev/null); i2=$(stat -c %i "$T/x1$S/d1/hl2" 2>/dev/null)
if [ -n "$i1" ] && [ "$i1" = "$i2" ]; then pass "hard links stay hard links"; else fail "hard links stay hard links" "inodes $i1 $i2"; fi

expect "restore --tar-zst FILE" "$STRATA" -r "$R" restore "$SNAP" --tar-zst "$T/out.tar.zst"
mkdir "$T/x2"
if zstd -q -d -c "$T/out.tar.zst" | tar -x -C "$T/x2" 2>"$T/err"; then pass "zstd | tar -x"; else fail "zstd | tar -x" "$(head -c 300 "$T/err")"; fi
same "tar-zst round trip is identical" "$S" "$T/x2$S"
if [ -z "$(find "$T" -maxdepth 1 -name 'out.tar*.tmp*')" ]; then pass "no temporary file left"; else fail "no temporary file left" "$(ls "$T" | grep tmp)"; fi
expect_exit "--json with a tar on stdout is refused" 2 "$STRATA" -r "$R" --json restore latest --tar -
expect_exit "--tar with --target is refused" 2 "$STRATA" -r "$R" restore latest --tar - --target "$T/nope"

# ---- an exported FILE holds plaintext: private, and only strata's own ----
# (issue 27, finding 2) With umask 022 the export of a tree holding a 0600
# file is itself 0600; a file of uid 65534 and a symlink planted at the
# temporary name earlier versions used (FILE.tmp-strata) are neither
# written through nor become FILE; FILE is bit-exact the stream `--tar -`
# gives (once decompressed, and but for the zero padding libarchive adds to
# a last 10 KiB block on standard output only), and extracts identical.
P="$T/priv"
mkdir "$P"
# same_stream A B — the tar streams in A and B (zstd-compressed if named
# *zst) are the same bytes once trailing zero bytes are dropped.
same_stream() {
	python3 -S - "$1" "$2" <<'PY'
import subprocess, sys
def body(p):
    b = subprocess.run(["zstd", "-q", "-d", "-c", p], capture_output=True, check=True).stdout if p.endswith("zst") else open(p, "rb").read()
    return b.rstrip(b"\0")
a, b = body(sys.argv[1]), body(sys.argv[2])
sys.exit(0 if a == b and len(a) > 10240 else 1)
PY
}
"$STRATA" -r "$R" restore "$SNAP" --tar - >"$T/ref.tar" 2>/dev/null
for kind in tar tar-zst; do
	f="$P/export.$kind"
	(umask 022; "$STRATA" -r "$R" restore "$SNAP" --$kind "$f" -q) 2>"$T/err"; rc=$?
	if [ $rc -eq 0 ] && [ "$(stat -c '%a %u %F' "$f")" = "600 $(id -u) regular file" ]; then
		pass "--$kind FILE with umask 022 and a 0600 file inside: FILE is 0600 and ours"
	else
		fail "--$kind FILE mode" "exit $rc, $(stat -c '%a %u %F' "$f" 2>&1): $(cat "$T/err")"
	fi
	if same_stream "$f" "$T/ref.tar"; then pass "--$kind FILE is bit-exact the stream on stdout"; else fail "--$kind FILE bit-exact" "differs from the stream"; fi
	for plant in file symlink; do
		g="$P/planted-$plant.$kind"
		if [ $plant = file ]; then
			printf 'planted by uid 65534\n' >"$g.tmp-strata"
			chown 65534:65534 "$g.tmp-strata" && chmod 0666 "$g.tmp-strata"
		else
			ln -s "$P/elsewhere" "$g.tmp-strata"
		fi
		(umask 022; "$STRATA" -r "$R" restore "$SNAP" --$kind "$g" -q) 2>"$T/err"; rc=$?
		if [ $rc -eq 0 ] && [ "$(stat -c '%a %u %F' "$g")" = "600 $(id -u) regular file" ] && same_stream "$g" "$T/ref.tar"; then
			pass "--$kind with a $plant planted at FILE.tmp-strata: FILE is ours, 0600, complete"
		else
			fail "--$kind with a planted $plant" "exit $rc, $(stat -c '%a %u %F' "$g" 2>&1): $(cat "$T/err")"
		fi
		if [ $plant = file ] && [ "$(stat -c %u "$g.tmp-strata" 2>&1) $(cat "$g.tmp-strata" 2>&1)" = "65534 planted by uid 65534" ]; then
			pass "--$kind: the planted file is left as it was"
		elif [ $plant = symlink ] && [ -L "$g.tmp-strata" ] && [ ! -e "$P/elsewhere" ]; then
			pass "--$kind: nothing is written through the planted symlink"
		else
			fail "--$kind: planted $plant touched" "$(ls -la "$P")"
		fi
		rm -f "$g.tmp-strata"
	done
done
# On standard output libarchive pads the last 10 KiB block with zeros;
# after zstd they would be junk past the frame, which `zstd -d` refuses.
"$STRATA" -r "$R" restore "$SNAP" --tar-zst - >"$T/stdout.tar.zst" 2>/dev/null
if zstd -q -t "$T/stdout.tar.zst" 2>"$T/err" && same_stream "$T/stdout.tar.zst" "$T/ref.tar"; then
	pass "--tar-zst - is a zstd stream zstd accepts whole, holding the same tar"
else
	fail "--tar-zst - on stdout" "$(cat "$T/err")"
fi
rm -rf "$T/x4" && mkdir "$T/x4"
if tar -x -C "$T/x4" -f "$P/export.tar" 2>"$T/err"; then
	same "the private export extracts identical" "$S" "$T/x4$S"
	if [ "$(stat -c %a "$T/x4$S/private/key")" = 600 ] && [ "$(tar -tvf "$P/export.tar" 2>/dev/null | grep -c '^-rw------- .*/private/key$')" = 1 ]; then
		pass "the 0600 file is in the export, still 0600"
	else
		fail "the 0600 file in the export" "$(tar -tvf "$P/export.tar" 2>/dev/null | grep private)"
	fi
else
	fail "the private export extracts" "$(head -c 300 "$T/err")"
fi
if [ "$(ls -A "$P" | tr '\n' ' ')" = "export.tar export.tar-zst planted-file.tar planted-file.tar-zst planted-symlink.tar planted-symlink.tar-zst " ]; then pass "nothing else left beside the exports"; else fail "left beside the exports" "$(ls -A "$P")"; fi
# --tar-mode: exactly MODE, whatever the umask; a bad MODE and a MODE
# without FILE are usage errors naming the option.
(umask 077; "$STRATA" -r "$R" restore "$SNAP" --tar "$P/shared.tar" --tar-mode 0640 -q)
if [ "$(stat -c %a "$P/shared.tar" 2>&1)" = 640 ] && same_stream "$P/shared.tar" "$T/ref.tar"; then
	pass "--tar-mode 0640 with umask 077 gives 0640"
else
	fail "--tar-mode 0640" "$(stat -c %a "$P/shared.tar" 2>&1)"
fi
expect_exit "--tar-mode 0644 replaces a 0600 FILE" 0 "$STRATA" -r "$R" restore "$SNAP" --tar "$P/shared.tar" --tar-mode 644 -q
if [ "$(stat -c %a "$P/shared.tar")" = 644 ]; then pass "... and FILE is 0644"; else fail "--tar-mode 644" "$(stat -c %a "$P/shared.tar")"; fi
for bad in 0999 1777 rw-r--r-- ''; do
	expect_exit "--tar-mode '$bad' is refused" 2 "$STRATA" -r "$R" restore "$SNAP" --tar "$P/bad.tar" --tar-mode "$bad"
	if grep -qx "strata: restore: --tar-mode wants an octal permission mode from 0 to 0777, such as 0600 or 0640: $bad (see 'strata help restore')" "$T/err"; then
		pass "--tar-mode '$bad': the message names the option"
	else
		fail "--tar-mode '$bad' message" "$(cat "$T/err")"
	fi
done
expect_exit "--tar-mode with --tar - is refused" 2 "$STRATA" -r "$R" restore "$SNAP" --tar - --tar-mode 0600
if grep -qx "strata: restore: --tar-mode sets the mode of a --tar/--tar-zst FILE; it does not apply to standard output (see 'strata help restore')" "$T/err"; then
	pass "--tar-mode with --tar -: the message says why"
else
	fail "--tar-mode with --tar - message" "$(cat "$T/err")"
fi
expect_exit "--tar FILE naming a directory is refused" 4 "$STRATA" -r "$R" restore "$SNAP" --tar "$P"
if grep -qx "strata: $P is a directory; give a file name" "$T/err" && [ -d "$P" ]; then
	pass "--tar DIRECTORY: the message names it"
else
	fail "--tar DIRECTORY message" "$(cat "$T/err")"
fi
# A FIFO or a device at FILE would be replaced by a regular file (as root:
# /dev/null), not written into: refused, left as it was.
mkfifo "$P/fifo.tar"
[ "$(id -u)" = 0 ] && mknod "$P/null.tar" c 1 3
for node in fifo.tar null.tar; do
	[ -e "$P/$node" ] || continue
	type=$(stat -c %F "$P/$node")
	expect_exit "--tar FILE naming a $type is refused" 4 "$STRATA" -r "$R" restore "$SNAP" --tar "$P/$node"
	if grep -qx "strata: $P/$node is a FIFO, socket or device, which would be replaced by a file; give a file name" "$T/err" &&
	   [ "$(stat -c %F "$P/$node")" = "$type" ]; then
		pass "--tar FILE naming a $type: the message says why, the $type stays"
	else
		fail "--tar FILE naming a $type" "$(stat -c %F "$P/$node"): $(cat "$T/err")"
	fi
	rm -f "$P/$node"
done

# ---- import: archives made by GNU tar ----
(cd "$S" && tar --format=gnu -cf "$T/gnu.tar" .)
(cd "$S" && tar --format=pax -cf "$T/pax.tar" .)
(cd "$S" && tar -czf "$T/src.tar.gz" .)
(cd "$S" && tar -cf - . | zstd -q -c >"$T/src.tar.zst")
for f in gnu.tar pax.tar src.tar.zst; do
	if "$STRATA" -r "$R" backup --stdin-tar --stdin-name "$f" --tag import -q <"$T/$f" 2>"$T/err"; then
		pass "import $f"
	else
		fail "import $f" "$(head -c 300 "$T/err")"
	fi
	rm -rf "$T/r"
	expect "restore imported $f" "$STRATA" -r "$R" restore latest --target "$T/r"
	same "imported $f restores identical" "$S" "$T/r"
done
i1=$(stat -c '%i %h' "$T/r/hl1" 2>/dev/null); i2=$(stat -c '%i %h' "$T/r/d1/hl2" 2>/dev/null)
if [ -n "$i1" ] && [ "$i1" = "$i2" ]; then pass "imported hard links restore as hard links"; else fail "imported hard links" "$i1 / $i2"; fi
if [ "$("$STRATA" -r "$R" snapshots --json --tag import | json_in 'd[-1]["paths"]')" = "['src.tar.zst']" ]; then
	pass "--stdin-name names the snapshot's path"
else
	fail "--stdin-name names the snapshot's path" "paths differ"
fi

# An imported snapshot exports to the same tree again.
"$STRATA" -r "$R" restore latest --tar "$T/re.tar" -q
mkdir "$T/x3"
tar -x -C "$T/x3" -f "$T/re.tar" 2>/dev/null
same "import then export is identical" "$S" "$T/x3"

# ---- dedup: the same tar.gz twice ----
"$STRATA" -r "$R" --json backup --stdin-tar <"$T/src.tar.gz" >"$T/j1" 2>"$T/err"
"$STRATA" -r "$R" --json backup --stdin-tar <"$T/src.tar.gz" >"$T/j2" 2>>"$T/err"
a1=$(added "$T/j1" 2>/dev/null || echo x); a2=$(added "$T/j2" 2>/dev/null || echo x)
# The first import already finds the content (the directory backup stored
# it): only trees are new. The second adds nothing at all.
if [ "$a2" != x ] && [ "$a2" -le 4096 ]; then pass "tar.gz imported twice adds almost nothing ($a1 then $a2 bytes)"; else fail "tar.gz imported twice" "added $a1 then $a2: $(head -c 200 "$T/err")"; fi
rm -rf "$T/fresh-repo"
"$STRATA" -r "$T/fresh-repo" init -q 2>/dev/null
"$STRATA" -r "$T/fresh-repo" --json backup --stdin-tar <"$T/src.tar.gz" >"$T/j3" 2>/dev/null
"$STRATA" -r "$T/fresh-repo" --json backup --stdin-tar <"$T/src.tar.gz" >"$T/j4" 2>/dev/null
a3=$(added "$T/j3" 2>/dev/null || echo x); a4=$(added "$T/j4" 2>/dev/null || echo x)
if [ "$a3" != x ] && [ "$a4" != x ] && [ "$a3" -gt 3000000 ] && [ "$a4" -le $((a3 / 1000)) ]; then
	pass "into a fresh repository: $a3 bytes, then $a4"
else
	fail "tar.gz twice into a fresh repository" "added $a3 then $a4"
fi

# ---- bad input ----
n0=$(nsnaps)
echo "this is not an archive" | "$STRATA" -r "$R" backup --stdin-tar >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "not an archive strata can read" "$T/err"; then pass "garbage is refused"; else fail "garbage is refused" "exit $rc: $(cat "$T/err")"; fi
: | "$STRATA" -r "$R" backup --stdin-tar >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 2 ] && grep -q "the input is empty" "$T/err"; then pass "empty input is refused"; else fail "empty input is refused" "exit $rc: $(cat "$T/err")"; fi
head -c 1500000 "$T/gnu.tar" | "$STRATA" -r "$R" backup --stdin-tar >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 4 ] && grep -q "damaged or cut short" "$T/err"; then pass "a cut-short tar fails"; else fail "a cut-short tar fails" "exit $rc: $(cat "$T/err")"; fi
if [ "$(nsnaps)" = "$n0" ]; then pass "no snapshot from bad input"; else fail "no snapshot from bad input" "$n0 -> $(nsnaps)"; fi
expect_exit "--stdin and --stdin-tar exclude each other" 2 "$STRATA" -r "$R" backup --stdin --stdin-tar
expect_exit "--stdin-tar takes no paths" 2 "$STRATA" -r "$R" backup --stdin-tar "$S"

# A member named ../evil is refused (reported), the rest imported.
python3 -S - "$T/evil.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for name, data in (("ok.txt", b"fine\n"), ("../evil", b"x\n"), ("a/../../evil2", b"y\n")):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
EOF
"$STRATA" -r "$R" backup --stdin-tar <"$T/evil.tar" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -eq 3 ] && grep -q 'evil.*"\.\."' "$T/err"; then pass "'..' members are skipped with a warning (exit 3)"; else fail "'..' members" "exit $rc: $(cat "$T/err")"; fi
# The snapshot lacks members of the archive: it is partial, each refused
# member listed with reason "skipped", and latest passes over it.
"$STRATA" -r "$R" --json snapshots >"$T/out" 2>&1
if python3 -S -c '
import json, sys
s = json.load(open(sys.argv[1]))[-1]
sys.exit(0 if s["partial"] is True and s["partial_count"] == 2 and
         sorted((p["path"], p["reason"]) for p in s["partial_paths"]) == [("../evil", "skipped"), ("a/../../evil2", "skipped")]
         else 1)' "$T/out"; then pass "a snapshot with refused members is partial, listing them"; else fail "refused members: partial" "$(head -c 600 "$T/out")"; fi
"$STRATA" -r "$R" ls --include-partial latest >"$T/out" 2>&1
if grep -q "ok.txt" "$T/out" && ! grep -q "evil" "$T/out"; then pass "only the safe member is in the snapshot"; else fail "only the safe member" "$(cat "$T/out")"; fi
"$STRATA" -r "$R" ls latest >"$T/out" 2>&1
if ! grep -q "ok.txt" "$T/out"; then pass "latest passes over the partial import"; else fail "latest passes over the partial import" "$(cat "$T/out")"; fi

# ---- without libarchive (loaded on first use, store/tar/archive_api.c) ----
# In a private mount namespace /dev/null hides the library: the import and
# the export fail with exit 4 and one line naming it and the package, the
# import writes no snapshot and the export no file; other commands work.
lib=$(ldconfig -p 2>/dev/null | awk '/libarchive\.so\.13 .*x86-64/ { print $NF; exit }')
nolib() { unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh "$lib" "$@"; }
# import_refused TITLE REGEX: the import just run (exit status in $rc)
# failed with exit 4 and a single stderr line matching REGEX, and the
# repository still holds the $n0 snapshots it had before.
import_refused() {
	if [ $rc -eq 4 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "$2" "$T/err" &&
	   [ "$(nsnaps)" = "$n0" ]; then
		pass "$1"
	else
		fail "$1" "exit $rc, snapshots $n0 -> $(nsnaps): $(cat "$T/err")"
	fi
}
if [ "$(id -u)" = 0 ] && [ -n "$lib" ] && command -v unshare >/dev/null 2>&1 && nolib true 2>/dev/null; then
	n0=$(nsnaps)
	nolib "$STRATA" -r "$R" backup --stdin-tar --stdin-name nolib <"$T/src.tar.gz" >"$T/out" 2>"$T/err"; rc=$?
	import_refused "no libarchive: tar import exits 4 naming it, no snapshot" \
		'^strata: tar import needs libarchive: cannot load libarchive.so.13 (install libarchive13): '
	nolib "$STRATA" -r "$R" restore "$SNAP" --tar "$T/nolib.tar" >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc -eq 4 ] && [ ! -e "$T/nolib.tar" ] &&
	   grep -q '^strata: tar export needs libarchive: cannot load libarchive.so.13 (install libarchive13): ' "$T/err"; then
		pass "no libarchive: tar export exits 4 naming it, no file"
	else
		fail "no libarchive: tar export" "exit $rc: $(cat "$T/err")"
	fi
	# A library that loads but lacks a function the table needs.
	printf 'int archive_errno(void *a);\nint archive_errno(void *a) { return a != 0; }\n' >"$T/fakearchive.c"
	if ${CC:-cc} -shared -fPIC -o "$T/libfakearchive.so" "$T/fakearchive.c" 2>"$T/fakearchive.err"; then
		unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$T/libfakearchive.so" "$lib" \
			"$STRATA" -r "$R" backup --stdin-tar --stdin-name fakelib <"$T/src.tar.gz" >"$T/out" 2>"$T/err"; rc=$?
		import_refused "libarchive lacking a function: tar import exits 4 naming it, no snapshot" \
			'^strata: tar import needs libarchive: libarchive.so.13 has no archive_error_string$'
	else
		fail "libarchive stub build" "$(head -c 300 "$T/fakearchive.err")"
	fi
	if nolib "$STRATA" -r "$R" snapshots >/dev/null 2>"$T/err"; then
		pass "no libarchive: other commands work"
	else
		fail "no libarchive: snapshots" "$(cat "$T/err")"
	fi
else
	echo "SKIP no libarchive: needs root, unshare and a private mount namespace"
fi

# ---- a failed export leaves no FILE ----
for p in "$R"/data/*/*; do
	[ -f "$p" ] || continue
	size=$(stat -c %s "$p")
	[ "$size" -gt 1000000 ] || continue
	chmod u+w "$p"
	printf 'XXXXXXXX' | dd of="$p" bs=1 seek=$((size / 2)) conv=notrunc status=none
done
"$STRATA" -r "$R" restore "$SNAP" --tar "$T/bad.tar" >"$T/out" 2>"$T/err"; rc=$?
if [ $rc -ne 0 ] && [ ! -e "$T/bad.tar" ] && [ -z "$(find "$T" -maxdepth 1 -name 'bad.tar.tmp*')" ]; then
	pass "damaged data: export fails (exit $rc) and leaves no file"
else
	fail "damaged data export" "exit $rc, files: $(ls "$T" | grep bad)"
fi
# What strata wrote before the damaged chunk stopped it (tar -t of nothing
# fails too, so the stream must not be empty).
"$STRATA" -r "$R" restore "$SNAP" --tar - >"$T/part.tar" 2>"$T/err"
if [ -s "$T/part.tar" ] && ! tar -tf "$T/part.tar" >/dev/null 2>&1; then
	pass "a damaged stream on stdout does not read as a complete tar"
else
	fail "damaged stream on stdout" "$(wc -c <"$T/part.tar") bytes, tar -t accepted it or nothing was written"
fi

e2e_done
