# e2e_reader.sh — an independent reader (tests/reader/strata_reader.py,
# written from store/FORMAT.md alone, in Python with libsodium and libzstd
# through ctypes) reads repositories strata wrote: format 1, 2 and 3 (frames), default
# and tiny chunks, several snapshots, a file of many chunks, a directory
# whose tree is split into parts (§11), names that are not UTF-8. Its
# snapshot list must equal `strata snapshots --json`, its listing
# `strata ls --json`, its restores strata's byte for byte, and its FastCDC
# (§13) the cut points strata chose. One part per repository kind, side
# by side under tests/run.sh.
# e2e-parts: v1 v2 v3 small
. "$(dirname "$0")/e2e_lib.sh"
READER="python3 -S $(cd "$(dirname "$0")" && pwd)/reader/strata_reader.py"
S="$T/src"

# The source: random data (many chunks, stored raw), zeros (every chunk cut
# at MAX), JSON-like text (compressed blobs), a directory of 3,000 entries
# (its TREE is over 256 KiB), names and a symlink target that are not
# UTF-8, a hard link, a FIFO, an empty file, a file 00 01 00 beside an empty
# directory (the file's chunk ID is the empty tree's, §10).
python3 -S - "$S" <<'EOF'
import os, random, sys
s = os.fsencode(sys.argv[1])
rnd = random.Random(32)
os.makedirs(s + b"/many")
os.makedirs(s + b"/caf\xe9/sub")
with open(s + b"/random.bin", "wb") as f:
    f.write(rnd.randbytes(3 << 20))
with open(s + b"/zeros.bin", "wb") as f:
    f.write(bytes(700000))
with open(s + b"/blocks.json", "wb") as f:
    for i in range(30000):
        f.write(b'{"height":%d,"hash":"%064x","txs":%d}\n' % (i, rnd.getrandbits(256), rnd.randrange(5000)))
for i in range(3000):
    with open(s + b"/many/entry-%05d-with-a-name-long-enough-to-fill-the-tree" % i, "wb") as f:
        f.write(b"%d\n" % i)
with open(s + b"/caf\xe9/n\xff\xfe.txt", "wb") as f:
    f.write(rnd.randbytes(70000))
open(s + b"/caf\xe9/sub/empty", "wb").close()
os.symlink(b"../random.bin", s + b"/caf\xe9/link")
os.symlink(b"nowhere-\xe9", s + b"/caf\xe9/badlink")
os.link(s + b"/random.bin", s + b"/hardlink.bin")
os.mkfifo(s + b"/fifo")
os.makedirs(s + b"/collide/emptydir")
with open(s + b"/collide/f", "wb") as f:
    f.write(b"\x00\x01\x00")
EOF

# The stdin stream of snapshot 3.
python3 -S -c 'import random,sys; sys.stdout.buffer.write(random.Random(7).randbytes(1500000))' >"$T/stream"

# check_snapshots TAG REPO — the reader's list equals strata's, field by field.
check_snapshots() {
	"$STRATA" -r "$2" snapshots --json >"$T/snap.strata" 2>"$T/err" &&
	$READER "$2" snapshots >"$T/snap.reader" 2>>"$T/err" &&
	python3 -S - "$T/snap.strata" "$T/snap.reader" >"$T/cmp" 2>&1 <<'EOF'
import base64, json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def text(v):   # the reader keeps FORMAT.md's {"b64": ...}; strata prints U+FFFD
    if isinstance(v, dict):
        return base64.b64decode(v["b64"]).decode(errors="replace")
    return v
assert len(a) == len(b) and len(a) > 0, "%d snapshots vs %d" % (len(a), len(b))
for x, y in zip(a, b):
    for k in ("id", "short_id", "time", "host", "user", "tags", "paths", "labels", "tree", "parent"):
        v = y[k]
        if k in ("host", "user"):
            v = text(v)
        elif k in ("tags", "paths"):
            v = [text(e) for e in v]
        assert x[k] == v, "%s: %s %r vs %r" % (x["id"][:8], k, x[k], y[k])
    assert y["time_ns"] > 2**53
EOF
	if [ $? -eq 0 ]; then pass "$1"; else fail "$1" "$(cat "$T/err" "$T/cmp" | head -c 600)"; fi
}

# same_content NAME A B — same entries, types, file bytes and link targets.
same_content() {
	if python3 -S - "$2" "$3" >"$T/cmp" 2>&1 <<'EOF'
import os, stat, sys
def walk(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, root).encode(errors="surrogateescape")
            if stat.S_ISREG(st.st_mode):
                out[rel] = ("file", open(p, "rb").read())
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(os.fsencode(p)))
            else:
                out[rel] = (stat.S_IFMT(st.st_mode), b"")
    return out
a, b = walk(sys.argv[1]), walk(sys.argv[2])
assert a.keys() == b.keys(), "entries differ: %r" % sorted(a.keys() ^ b.keys())[:5]
bad = [k for k in a if a[k] != b[k]]
assert not bad, "differ: %r" % bad[:5]
assert len(a) > 0
EOF
	then pass "$1"; else fail "$1" "$(head -c 600 "$T/cmp")"; fi
}

# check_repo TAG REPO — everything the reader does, on every snapshot.
check_repo() {
	tag=$1 repo=$2
	check_snapshots "$tag: snapshot list equals strata's" "$repo"

	# Wrong password: refused by the key file's AEAD, exit 1, one line.
	printf 'not the password\n' >"$T/badpw"
	$READER "$repo" snapshots --password-file "$T/badpw" >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc -eq 1 ] && [ "$(cat "$T/err")" = "strata_reader: wrong password (no key file opens with it)" ]; then
		pass "$tag: wrong password refused"
	else fail "$tag: wrong password refused" "exit $rc: $(cat "$T/err")"; fi

	expect "$tag: every pack's trailer matches the index, every blob opens" $READER "$repo" verify-packs --read-data

	snapno=0
	for id in $(json "$T/snap.strata" '" ".join(s["id"] for s in d)'); do
		snapno=$((snapno + 1))
		rm -rf "$T/rs" "$T/rr"
		"$STRATA" -r "$repo" restore "$id" --target "$T/rs" >/dev/null 2>"$T/err" ||
			fail "$tag: strata restores snapshot $snapno" "$(head -c 300 "$T/err")"
		expect "$tag: reader restores snapshot $snapno" $READER "$repo" restore "$id" "$T/rr"
		same_content "$tag: snapshot $snapno restored bit-exact" "$T/rs" "$T/rr"

		"$STRATA" -r "$repo" ls "$id" --json >"$T/ls.strata" 2>"$T/err" &&
		$READER "$repo" ls "$id" >"$T/ls.reader" 2>>"$T/err"
		if python3 -S -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a = [{k: v for k, v in x.items() if k not in ("nlink", "mode_string")} for x in a]
assert len(a) == len(b) > 0 and a == b, [(x, y) for x, y in zip(a, b) if x != y][:1] or (len(a), len(b))
' "$T/ls.strata" "$T/ls.reader" >"$T/cmp" 2>&1; then pass "$tag: snapshot $snapno listing equals strata ls"
		else fail "$tag: snapshot $snapno listing equals strata ls" "$(cat "$T/err" "$T/cmp" | head -c 600)"; fi
	done
	[ $snapno -eq 4 ] && pass "$tag: four snapshots" || fail "$tag: four snapshots" "$snapno"
}

# dump_check NAME REPO SNAPSHOT PATH ORIGINAL — the reader's dump of one
# file is the original bytes and strata's dump.
dump_check() {
	$READER "$2" dump "$3" "$4" "$T/d.reader" 2>"$T/err" &&
	"$STRATA" -r "$2" dump "$3" "$4" >"$T/d.strata" 2>>"$T/err" &&
	cmp "$T/d.reader" "$5" >>"$T/err" 2>&1 && cmp "$T/d.reader" "$T/d.strata" >>"$T/err" 2>&1
	if [ $? -eq 0 ] && [ -s "$5" ]; then pass "$1"; else fail "$1" "$(head -c 400 "$T/err")"; fi
}

# cuts_check NAME REPO SNAPSHOT PATH ORIGINAL — the chunk lengths in the
# tree are the reader's own FastCDC cuts of the original bytes (§13).
cuts_check() {
	$READER "$2" chunks "$3" "$4" >"$T/c.tree" 2>"$T/err" &&
	$READER "$2" rechunk "$5" >"$T/c.mine" 2>>"$T/err" &&
	cmp "$T/c.tree" "$T/c.mine" >>"$T/err" 2>&1
	if [ $? -eq 0 ] && [ "$(wc -l <"$T/c.tree")" -gt 1 ]; then pass "$1 ($(wc -l <"$T/c.tree") chunks)"
	else fail "$1" "$(head -c 400 "$T/err")"; fi
}

for variant in v1 v2 v3 small; do
	e2e_part $variant || continue
	repo="$T/repo-$variant"
	case $variant in
	v1)    init="--format-version 1" ;;
	v2)    init="" ;;
	v3)    init="--format-version 3" ;;   # frames (§9a)
	small) init="--chunk-min 64 --chunk-avg 256 --chunk-max 1024" ;;
	esac
	rm -rf "$T/cache"
	expect "$variant: init" "$STRATA" -r "$repo" init $init

	# Snapshot 1: the whole source. Snapshot 2: random.bin grew (an
	# append-aware backup keeps its old chunk list) and blocks.json changed
	# in place. Snapshot 3: standard input. Snapshot 4: a path that is not
	# UTF-8, from another host.
	cp "$S/random.bin" "$T/random.1"
	expect "$variant: backup 1" "$STRATA" -r "$repo" backup "$S" --tag daily --label height=100
	python3 -S -c 'import random,sys; open(sys.argv[1],"ab").write(random.Random(9).randbytes(400000))' "$S/random.bin"
	python3 -S -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(100000); f.write(b"CHANGED")' "$S/blocks.json"
	expect "$variant: backup 2" "$STRATA" -r "$repo" backup "$S" --tag daily --tag extra --label height=200 --label kind=test
	expect "$variant: backup 3 (stdin)" sh -c '"$1" -r "$2" backup --stdin --stdin-name stream.bin --tag db <"$3"' _ "$STRATA" "$repo" "$T/stream"
	expect "$variant: backup 4 (non-UTF-8 path)" "$STRATA" -r "$repo" backup "$S/$(printf 'caf\351')" --host other-host

	check_repo "$variant" "$repo"
	if [ $variant = v3 ]; then
		# The restores above read members from frames: there are some.
		$READER "$repo" frames >"$T/frames" 2>"$T/err"
		if [ -s "$T/frames" ] && awk 'NF < 5 { exit 1 }' "$T/frames"; then
			pass "v3: packs hold frames of 2 or more chunks ($(wc -l <"$T/frames") frames)"
		else fail "v3: packs hold frames of 2 or more chunks" "$(head -c 300 "$T/frames" "$T/err")"; fi
	fi

	ids=$(json "$T/snap.strata" '" ".join(s["id"] for s in d)')
	s1=$(echo "$ids" | cut -d' ' -f1) s2=$(echo "$ids" | cut -d' ' -f2) s3=$(echo "$ids" | cut -d' ' -f3)
	dump_check "$variant: dump of a file of many chunks, snapshot 1" "$repo" "$s1" "$S/random.bin" "$T/random.1"
	dump_check "$variant: dump of the grown file, snapshot 2" "$repo" "$s2" "$S/random.bin" "$S/random.bin"
	dump_check "$variant: dump of a non-UTF-8 name" "$repo" "$s2" "$S/$(printf 'caf\351/n\377\376.txt')" "$S/$(printf 'caf\351/n\377\376.txt')"
	dump_check "$variant: dump of standard input" "$repo" "$s3" "/stream.bin" "$T/stream"

	# A tree in parts: the reader saw an object of form 0x01 (§11).
	$READER "$repo" trees "$s1" >"$T/trees" 2>"$T/err"
	if awk '$1 > 1 && $2 > 262144 && $3 ~ /\/many$/ { f = 1 } END { exit !f }' "$T/trees"; then
		pass "$variant: the 3,000-entry directory is a multi-part tree ($(awk '$3 ~ /\/many$/ { print $1 }' "$T/trees") parts)"
	else fail "$variant: the 3,000-entry directory is a multi-part tree" "$(cat "$T/trees" "$T/err" | head -c 400)"; fi

	cuts_check "$variant: cut points of random data" "$repo" "$s1" "$S/random.bin" "$T/random.1"
	cuts_check "$variant: cut points of a grown file (append-aware)" "$repo" "$s2" "$S/random.bin" "$S/random.bin"
	cuts_check "$variant: cut points of zeros (all at MAX)" "$repo" "$s1" "$S/zeros.bin" "$S/zeros.bin"
	cuts_check "$variant: cut points of text" "$repo" "$s2" "$S/blocks.json" "$S/blocks.json"
	cuts_check "$variant: cut points of standard input" "$repo" "$s3" "/stream.bin" "$T/stream"

	# Put the source back for the next repository.
	cp "$T/random.1" "$S/random.bin"
	python3 -S -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(100000); f.write(b"{\"height\"")' "$S/blocks.json"
done

# The reader finds the names the format says: format 1 names files by
# BLAKE2b-256 of their bytes, format 2 by SHA-256 (§3).
if e2e_part v1; then
	f1=$(ls "$T/repo-v1/snapshots" | head -n 1)
	if [ -n "$f1" ] && [ "$(b2sum -l 256 "$T/repo-v1/snapshots/$f1" | cut -c1-64)" = "$f1" ]; then
		pass "format 1 names by BLAKE2b-256"
	else fail "format 1 names by BLAKE2b-256" "$f1"; fi
fi
if e2e_part v2; then
	f2=$(ls "$T/repo-v2/snapshots" | head -n 1)
	if [ -n "$f2" ] && [ "$(sha256sum "$T/repo-v2/snapshots/$f2" | cut -c1-64)" = "$f2" ]; then
		pass "format 2 names by SHA-256"
	else fail "format 2 names by SHA-256" "$f2"; fi

	# A damaged blob is refused with a message naming the pack and chunk.
	pack=$(find "$T/repo-v2/data" -type f | head -n 1)
	flip_byte "$pack" 100
	$READER "$T/repo-v2" verify-packs --read-data >/dev/null 2>"$T/err"; rc=$?
	if [ $rc -eq 1 ] && grep -q "^strata_reader: data/../[0-9a-f]\{64\} blob [0-9a-f]\{16\}: fails authentication$" "$T/err"; then
		pass "a damaged blob fails authentication"
	else fail "a damaged blob fails authentication" "exit $rc: $(head -c 300 "$T/err")"; fi
fi

e2e_done
