# e2e_check.sh — `strata check` and `strata repair` against injected faults.
#
# One pristine repository with three snapshots (small chunks and packs, so
# there are many packs) is copied, with its local cache, for every fault:
# random bit flips in data blobs and in trailers, a truncated pack, a
# deleted pack, a deleted local index, a deleted index file, two chunks'
# ciphertext swapped, a pack replaced by another repository's, a corrupted
# snapshot file, a corrupted tree. For each: the right command (structure
# check, or --read-data) detects it with exit status 1 and names the exact
# pack, chunk, offset, snapshots and paths; an independent oracle (`strata
# dump` of every file of every snapshot, `strata ls` for trees) must fail on
# exactly the reported (snapshot, path) pairs. Then repair, a backup of the
# sources again, a clean `check --read-data`, and bit-exact restores of
# every snapshot. Also: no false report on healthy repositories, subsets
# 1/7..7/7 read every pack exactly once, --json, --metrics-file, exit codes.
# CHECK_SEED=N replays the random choices. POSIX sh.
# Each part below builds its own pristine repository; tests/run.sh runs
# the parts side by side.
# e2e-parts: healthy dataflips trailers added deleted swapped lost snaptree
. "$(dirname "$0")/e2e_lib.sh"

# A private copy of the binary: other work may relink build/strata meanwhile.
cp "$STRATA" "$T/strata" && STRATA="$T/strata"
SEED=${CHECK_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# seed $SEED (CHECK_SEED=$SEED replays this run)"
S="$T/src"
SRCREL="${S#/}"
PRISTINE="$T/pristine"
H="$T/h.py"

cat >"$H" <<'EOF'
import json, sys, random, os, struct, math
cmd, a = sys.argv[1], sys.argv[2:]
def load(p):
    return json.load(open(p))
if cmd == "users":        # snapshot path  (file users of damaged chunks)
    out = set()
    for c in load(a[0])["damaged_chunks"]:
        for u in c["users"]:
            if not u["tree"]:
                out.add(u["snapshot"] + " " + u["path"])
    print("\n".join(sorted(out)))
elif cmd == "treesnaps":  # snapshots with an unreadable directory
    out = set()
    for c in load(a[0])["damaged_chunks"]:
        for u in c["users"]:
            if u["tree"]:
                out.add(u["snapshot"])
    print("\n".join(sorted(out)))
elif cmd == "chunks":     # id pack offset length reason type
    for c in load(a[0])["damaged_chunks"]:
        print(c["id"], c["pack"] or "-", c.get("offset", "-"), c.get("length", "-"), c["reason"], c["type"])
elif cmd == "problems":   # kind severity object
    for p in load(a[0])["problems"]:
        print(p["kind"], p["severity"], p["object"] or "-")
elif cmd == "packsread":
    print("\n".join(load(a[0])["packs_read"]))
elif cmd == "eval":
    d = load(a[0]); print(eval(a[1]))
elif cmd == "ranges":     # every file user's range matches its chunk's raw length
    us = [(u, c) for c in load(a[0])["damaged_chunks"] if c["pack"] for u in c["users"] if not u["tree"]]
    print(bool(us) and all(u["length"] == c["raw_length"] for u, c in us))
elif cmd == "area":       # bytes before the trailer: footer = trailer length u32 LE || magic
    b = open(a[0], "rb").read()
    print(len(b) - 12 - struct.unpack("<I", b[-12:-8])[0])
elif cmd == "rand":       # seed salt n -> integer in [0, n)
    print(random.Random(a[0] + ":" + a[1]).randrange(int(a[2])))
elif cmd == "flip":       # path offset bit
    p, off, bit = a[0], int(a[1]), int(a[2])
    b = bytearray(open(p, "rb").read()); b[off] ^= 1 << bit; open(p, "wb").write(b)
elif cmd == "flipevery":  # path step: one bit in every step bytes before the trailer
    p, step = a[0], int(a[1])
    b = bytearray(open(p, "rb").read())
    area = len(b) - 12 - struct.unpack("<I", b[-12:-8])[0]
    for off in range(0, area, step):
        b[off] ^= 1
    open(p, "wb").write(b)
elif cmd == "insert":     # path offset n: n bytes of garbage inserted at offset
    p, off, n = a[0], int(a[1]), int(a[2])
    b = bytearray(open(p, "rb").read())
    b[off:off] = os.urandom(n)
    open(p, "wb").write(b)
elif cmd == "duptail":    # path: the trailer and footer appended again (a valid footer at the end)
    p = a[0]
    b = open(p, "rb").read()
    t = 12 + struct.unpack("<I", b[-12:-8])[0]
    open(p, "wb").write(b + b[-t:])
elif cmd == "swap":       # path off1 len1 off2 len2 (adjacent): B || A in their place
    p, o1, l1, o2, l2 = a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4])
    b = bytearray(open(p, "rb").read())
    assert o2 == o1 + l1
    A, B = b[o1:o1 + l1], b[o2:o2 + l2]
    b[o1:o2 + l2] = B + A
    open(p, "wb").write(b)
elif cmd == "match":      # json oracle: reported file users and unreadable directories
    d = load(a[0])        # must account for exactly the files dump cannot restore
    orc = set(l.strip() for l in open(a[1]) if l.strip())
    files, dirs = set(), set()
    for c in d["damaged_chunks"]:
        for u in c["users"]:
            (dirs if u["tree"] else files).add((u["snapshot"], u["path"]))
    def below(s, p, ds, dp):
        return s == ds and (dp == "" or p.startswith(dp + "/"))
    rep = {s + " " + p for s, p in files}
    extra = rep - orc
    missed = {o for o in orc if o not in rep and
              not any(below(*o.split(" ", 1), ds, dp) for ds, dp in dirs)}
    idle = {dp for ds, dp in dirs if not any(below(*o.split(" ", 1), ds, dp) for o in orc)}
    if not extra and not missed and not idle and orc:
        print(True)
    else:
        print("reported but restorable: %s; not reported: %s; directories without damage: %s; oracle size %d"
              % (sorted(extra)[:3], sorted(missed)[:3], sorted(idle)[:3], len(orc)))
elif cmd == "cut":        # json snapshot path src out: src without the damaged byte ranges
    drop = sorted((u["offset"], u["length"]) for c in load(a[0])["damaged_chunks"]
                  for u in c["users"] if not u["tree"] and u["snapshot"] == a[1] and u["path"] == a[2])
    b, out, at = open(a[3], "rb").read(), bytearray(), 0
    for off, ln in drop:
        out += b[at:off]; at = off + ln
    out += b[at:]
    open(a[4], "wb").write(out)
elif cmd == "repaired":   # repair-json snapshot -> new id if repaired, else status
    for x in load(a[0])["snapshots"]:
        if x["id"] == a[1]:
            print(x["new_id"] if x["status"] == "repaired" else x["status"])
elif cmd == "subset":     # n t pack-id... -> the IDs in subset n/t, one a line
    print("\n".join(p for p in a[2:] if int(p[:8], 16) % int(a[1]) == int(a[0]) - 1))
EOF
py() { python3 -S "$H" "$@"; }   # stdlib only: -S leaves out the site module (e2e_lib.sh)

# ---- the pristine repository: three snapshots of a changing tree ----
mkdir -p "$S/d1/sub" "$S/d2"
i=0
for f in a b c d e; do
	i=$((i + 1))
	head -c $((i * 9000 + 1500)) /dev/urandom >"$S/d1/$f.bin"
done
head -c 40000 /dev/urandom >"$S/d2/big.bin"
head -c 700 /dev/urandom >"$S/d1/sub/small.bin"
printf 'text file\n' >"$S/top.txt"
$STRATA -r "$R" init --chunk-min 1K --chunk-avg 4K --chunk-max 16K --pack-size 96K >/dev/null 2>&1 ||
	fail setup "init failed"
snap() {   # snap K — back up the source, keep a copy of it as it was
	$STRATA -r "$R" backup "$S" -q >/dev/null 2>"$T/err" || fail "setup backup $1" "$(cat "$T/err")"
	rm -rf "$T/copy$1"
	cp -a "$S" "$T/copy$1"
}
snap 1
head -c 30000 /dev/urandom >"$S/d1/b.bin"                 # rewritten
head -c 5000 /dev/urandom >>"$S/d1/c.bin"                 # grown
rm "$S/d1/d.bin"
head -c 12000 /dev/urandom >"$S/d2/new.bin"
snap 2
head -c 25000 /dev/urandom >"$S/d1/a.bin"
head -c 3000 /dev/urandom >"$S/d1/sub/later.bin"
snap 3
SNAPS=$($STRATA -r "$R" snapshots --json | python3 -S -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)))')
# The oracles below compare against these three: without them they would
# have nothing to find.
[ "$(echo $SNAPS | wc -w)" -eq 3 ] && pass "setup: three snapshots" || fail "setup: three snapshots" "SNAPS=$SNAPS"
cp -a "$R" "$PRISTINE"
cp -a "$STRATA_CACHE_DIR" "$PRISTINE.cache"
NPACKS=$(find "$R/data" "$R/tree" -type f | wc -l)
echo "# $NPACKS packs, snapshots: $SNAPS"

# fresh — a new copy of the pristine repository and of its cache.
fresh() {
	chmod -R u+rwX "$R" "$STRATA_CACHE_DIR" 2>/dev/null
	rm -rf "$R" "$STRATA_CACHE_DIR"
	cp -a "$PRISTINE" "$R"
	cp -a "$PRISTINE.cache" "$STRATA_CACHE_DIR"
}

# oracle — "snapshot path" for every file of every snapshot that `dump`
# cannot reproduce exactly (independent of check: the restore code path).
oracle() {
	k=0
	for sid in $SNAPS; do
		k=$((k + 1))
		[ -d "$T/copy$k" ] || continue
		(cd "$T/copy$k" && find . -type f | sed 's|^\./||') | while read -r f; do
			if ! $STRATA -r "$R" dump "$sid" "$SRCREL/$f" >"$T/dumped" 2>/dev/null ||
			   ! cmp -s "$T/dumped" "$T/copy$k/$f"; then
				echo "$sid $SRCREL/$f"
			fi
		done
	done | sort
}

# ls_oracle — snapshots whose tree cannot be listed in full.
ls_oracle() {
	for sid in $SNAPS; do
		$STRATA -r "$R" ls "$sid" >/dev/null 2>&1 || echo "$sid"
	done | sort
}

# matches NAME — the report in $T/out accounts for exactly the files the
# oracle in $T/oracle could not restore (a file below a reported unreadable
# directory counts as reported).
matches() {
	if r=$(py match "$T/out" "$T/oracle" 2>&1) && [ "$r" = True ]; then pass "$1"; else
		set -- "$1" "$r" $(head -1 "$T/oracle")
		fail "$1" "$2 (first oracle entry: $($STRATA -r "$R" dump "$3" "$4" 2>&1 >/dev/null | head -c 300))"
	fi
}

# checkj NAME CODE ARGS... — strata check --json ARGS with exit CODE; JSON in $T/out.
checkj() {
	cj=$1; code=$2; shift 2
	$STRATA -r "$R" check --json "$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ "$rc" -eq "$code" ]; then pass "$cj"; else fail "$cj" "exit $rc, wanted $code: $(head -c 300 "$T/err") $(head -c 300 "$T/out")"; fi
}

# truth NAME EXPR — python EXPR over the JSON in $T/out (as d) is True.
truth() {
	if r=$(py eval "$T/out" "$2" 2>&1) && [ "$r" = True ]; then pass "$1"; else fail "$1" "$2 -> $(printf %s "$r" | head -c 300)"; fi
}

# heal NAME [repair-index-args] — repair index, back up every source copy
# again; if damage remains (trees of the old snapshots cannot be produced
# again), repair snapshots --forget. Then check --read-data must be clean,
# every snapshot not damaged must restore bit-exactly, and when the backup
# alone healed the repository, the damaged ones too.
heal() {
	hn=$1; shift
	expect "$hn: repair index" $STRATA -r "$R" repair index "$@"
	for k in 1 2 3; do
		$STRATA -r "$R" backup "$T/copy$k" -q >/dev/null 2>&1
	done
	healed=1
	if ! $STRATA -r "$R" check --read-data >/dev/null 2>&1; then
		healed=0
		expect "$hn: repair snapshots" $STRATA -r "$R" repair snapshots --forget
	fi
	checkj "$hn: check --read-data clean after repair" 0 --read-data
	truth "$hn: no problem left" 'd["damage"] == 0 and d["warnings"] == 0 and d["ok"]'
	k=0
	for sid in $SNAPS; do
		k=$((k + 1))
		what="restores bit-exactly"
		[ -e "$R/snapshots/$sid" ] || continue     # forgotten by repair
		if grep -q "$sid" "$T/damaged_snaps" 2>/dev/null; then
			[ $healed = 1 ] || continue
			what="was damaged, healed by the backup: restores bit-exactly"
		fi
		rm -rf "$T/restore"
		if $STRATA -r "$R" restore "$sid" --target "$T/restore" -q >/dev/null 2>"$T/err"; then
			same_tree "$hn: snapshot $k $what" "$T/restore/$SRCREL" "$T/copy$k"
		else
			fail "$hn: snapshot $k $what" "$(head -c 300 "$T/err")"
		fi
	done
}

# damaged_snaps — snapshots the oracle says are damaged (kept for heal).
note_damaged() {
	cut -d' ' -f1 "$1" | sort -u >"$T/damaged_snaps"
}

if e2e_part healthy; then
# ---- healthy repository: no false report ----
fresh
oracle >"$T/oracle"
[ -s "$T/oracle" ] && fail "healthy: every file of every snapshot restores" "$(head -c 400 "$T/oracle")" ||
	pass "healthy: every file of every snapshot restores"
expect_exit "healthy: check exits 0" 0 $STRATA -r "$R" check
expect_exit "healthy: check --read-data exits 0" 0 $STRATA -r "$R" check --read-data
checkj "healthy: --json" 0 --read-data
truth "healthy: nothing reported, every pack read" \
	"d['ok'] and d['damage'] == 0 and d['warnings'] == 0 and len(d['packs_read']) == $NPACKS and d['snapshots'] == 3"
truth "healthy: bytes read = bytes of the packs" \
	"d['bytes_read'] == $(find "$R/data" "$R/tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"

# ---- subsets: 1/7 .. 7/7 read every pack exactly once ----
: >"$T/allread"
ok=1
for n in 1 2 3 4 5 6 7; do
	$STRATA -r "$R" check --read-data-subset "$n/7" --json >"$T/out" 2>"$T/err" || ok=0
	py packsread "$T/out" | sed '/^$/d' >"$T/read$n"
	cat "$T/read$n" >>"$T/allread"
	py subset "$n" 7 $(find "$R/data" "$R/tree" -type f -printf '%f\n') | sed '/^$/d' | sort >"$T/want$n"
	sort "$T/read$n" | cmp -s - "$T/want$n" || ok=0
done
[ $ok = 1 ] && pass "subsets: each N/7 reads exactly the packs whose ID mod 7 is N-1" ||
	fail "subsets: each N/7 reads exactly the packs whose ID mod 7 is N-1" "mismatch"
if [ "$(sort "$T/allread" | uniq | wc -l)" -eq "$NPACKS" ] && [ "$(wc -l <"$T/allread")" -eq "$NPACKS" ]; then
	pass "subsets: 1/7..7/7 read all $NPACKS packs, each exactly once"
else
	fail "subsets: 1/7..7/7 read all $NPACKS packs, each exactly once" \
		"$(wc -l <"$T/allread") reads, $(sort -u "$T/allread" | wc -l) distinct"
fi
checkj "subsets: 25% --json" 0 --read-data-subset 25%
truth "subsets: 25% reads a quarter of the packs, rounded up" \
	"len(d['packs_read']) == -(-$NPACKS * 25 // 100) and d['subset'] == '25%'"
expect_exit "subsets: 0/7 is a usage error" 2 $STRATA -r "$R" check --read-data-subset 0/7
expect_exit "subsets: 8/7 is a usage error" 2 $STRATA -r "$R" check --read-data-subset 8/7
expect_exit "subsets: 0% is a usage error" 2 $STRATA -r "$R" check --read-data-subset 0%
expect_exit "subsets: junk is a usage error" 2 $STRATA -r "$R" check --read-data-subset 1/x

# ---- exit codes when the check cannot run; metrics ----
expect_exit "exit 10 without a repository" 10 $STRATA -r "$T/nothing" check
printf 'wrong\n' >"$T/badpw"
expect_exit "exit 12 with a wrong password" 12 $STRATA -r "$R" --password-file "$T/badpw" check
mkdir -p "$T/prom"
expect_exit "metrics: healthy check" 0 $STRATA -r "$R" check --read-data --metrics-file "$T/prom/strata.prom" --job weekly
if grep -q '^strata_check_success{job="weekly"} 1$' "$T/prom/strata.prom" &&
   grep -q '^strata_check_exit_code{job="weekly"} 0$' "$T/prom/strata.prom" &&
   grep -q '^# TYPE strata_check_bytes_verified gauge$' "$T/prom/strata.prom" &&
   grep -q '^strata_check_problems{job="weekly",severity="damage"} 0$' "$T/prom/strata.prom" &&
   [ "$(ls "$T/prom" | wc -l)" -eq 1 ]; then
	pass "metrics: textfile with success 1, labels, no temporary left"
else
	fail "metrics: textfile with success 1, labels, no temporary left" "$(head -c 400 "$T/prom/strata.prom"; ls "$T/prom")"
fi
expect_exit "metrics: written when the check cannot run" 12 $STRATA -r "$R" --password-file "$T/badpw" check --metrics-file "$T/prom/strata.prom"
grep -q '^strata_check_exit_code{job="check"} 12$' "$T/prom/strata.prom" &&
	grep -q '^strata_check_success{job="check"} 0$' "$T/prom/strata.prom" &&
	pass "metrics: exit code 12 and success 0 recorded" || fail "metrics: exit code 12 and success 0 recorded" "$(cat "$T/prom/strata.prom")"

# ---- backups running beside the check: no false report ----
fresh
mkdir -p "$T/busy"
ok=1
for i in 1 2 3 4 5 6; do
	head -c $((150000 + i * 7000)) /dev/urandom >"$T/busy/f$i"
	$STRATA -r "$R" backup "$T/busy" -q >/dev/null 2>&1 &
	$STRATA -r "$R" check --read-data --json >"$T/out" 2>"$T/err" ||
		{ ok=0; echo "# run $i: $(head -c 300 "$T/err") $(head -c 600 "$T/out")"; }
	wait
done
# The backups ran (a failed one would leave the check alone with an
# unchanging repository): three snapshots before, six more.
n=$(ls "$R/snapshots" | wc -l)
[ "$n" -eq 9 ] || { ok=0; echo "# $n snapshots after six concurrent backups, not 9"; }
[ $ok = 1 ] && pass "concurrent backups: check never reports damage" ||
	fail "concurrent backups: check never reports damage" "see above"
fi

if e2e_part dataflips; then
# ---- bit flips in data blobs: only --read-data sees them ----
TRIALS=${CHECK_TRIALS:-5}
t=0
while [ $t -lt "$TRIALS" ]; do
	t=$((t + 1))
	fresh
	set -- $(find "$R/data" -type f | sort)
	shift "$(py rand "$SEED" "pack$t" $#)"
	P=$1; PID=$(basename "$P")
	OFF=$(py rand "$SEED" "off$t" "$(py area "$P")")
	py flip "$P" "$OFF" "$(py rand "$SEED" "bit$t" 8)"
	sc="data flip $t (pack ${PID%${PID#????????}} offset $OFF)"
	expect_exit "$sc: structure check does not read data (exit 0)" 0 $STRATA -r "$R" check
	checkj "$sc: check --read-data exits 1" 1 --read-data
	py chunks "$T/out" >"$T/chunks"
	if [ "$(wc -l <"$T/chunks")" -eq 1 ] &&
	   awk -v p="$PID" -v o="$OFF" '$2 == p && $3 <= o && o < $3 + $4 && $5 == "auth_failed" {ok=1} END {exit !ok}' "$T/chunks"; then
		pass "$sc: exactly the chunk holding the flipped byte is reported"
	else
		fail "$sc: exactly the chunk holding the flipped byte is reported" "$(cat "$T/chunks")"
	fi
	truth "$sc: the pack's hash mismatch is reported" \
		"any(p['kind'] == 'pack_hash' and p['object'] == '$PID' for p in d['problems'])"
	truth "$sc: byte ranges are the chunk's length" "$(py ranges "$T/out")"
	oracle >"$T/oracle"
	matches "$sc: reported snapshots and paths = those dump cannot restore"
	note_damaged "$T/oracle"
	if [ $t -eq 1 ]; then
		# What the real repair would do (it rewrites this pack and the
		# index), the dry run only says: every file of the repository stays.
		(cd "$R" && find . -type f ! -path './locks/*' | LC_ALL=C sort | xargs sha256sum) >"$T/files0"
		expect "$sc: repair --read-data --dry-run runs" $STRATA -r "$R" repair index --read-data --dry-run
		(cd "$R" && find . -type f ! -path './locks/*' | LC_ALL=C sort | xargs sha256sum) >"$T/files1"
		if grep -q '^dry run, nothing changed: ' "$T/out" && grep -q "pack ${PID%${PID#????????}}.*: would be rewritten" "$T/out" &&
		   [ -s "$T/files0" ] && cmp -s "$T/files0" "$T/files1"; then
			pass "$sc: repair --dry-run names the pack and changes nothing"
		else
			fail "$sc: repair --dry-run names the pack and changes nothing" "$(head -c 300 "$T/out"; diff "$T/files0" "$T/files1" | head -c 300)"
		fi
		checkj "$sc: check --read-data still exits 1 after the dry run" 1 --read-data
		heal "$sc" --read-data
	fi
done
fi

if e2e_part trailers; then
# ---- bit flips in trailers: the structure check sees them ----
t=0
while [ $t -lt 3 ]; do
	t=$((t + 1))
	fresh
	set -- $(find "$R/data" "$R/tree" -type f | sort)
	shift "$(py rand "$SEED" "tpack$t" $#)"
	P=$1; PID=$(basename "$P")
	AREA=$(py area "$P")
	SIZE=$(stat -c %s "$P")
	OFF=$((AREA + $(py rand "$SEED" "toff$t" $((SIZE - AREA)))))
	py flip "$P" "$OFF" "$(py rand "$SEED" "tbit$t" 8)"
	sc="trailer flip $t (pack ${PID%${PID#????????}} offset $OFF of $SIZE)"
	checkj "$sc: structure check exits 1" 1
	truth "$sc: the pack's trailer is named" \
		"any(p['kind'] == 'pack_trailer' and p['object'] == '$PID' and p['severity'] == 'damage' for p in d['problems'])"
	truth "$sc: no chunk is damaged (the index still locates them)" "d['damaged_chunks'] == []"
	checkj "$sc: read-data verifies its chunks through the index" 1 --read-data
	truth "$sc: every chunk intact, pack hash mismatch reported" \
		"d['damaged_chunks'] == [] and any(p['kind'] == 'pack_hash' and p['object'] == '$PID' for p in d['problems'])"
	: >"$T/damaged_snaps"
	[ $t -eq 1 ] && heal "$sc"
done

# ---- a truncated pack ----
fresh
set -- $(find "$R/data" -type f | sort)
shift "$(py rand "$SEED" truncpack $#)"
P=$1; PID=$(basename "$P")
truncate -s $(($(stat -c %s "$P") / 2)) "$P"
sc="truncated pack"
checkj "$sc: structure check exits 1" 1
truth "$sc: size and trailer problems name the pack" \
	"{(p['kind'], p['object']) for p in d['problems']} >= {('pack_size', '$PID'), ('pack_trailer', '$PID')}"
truth "$sc: damaged chunks lie past the end of that pack" \
	"d['damaged_chunks'] and all(c['pack'] == '$PID' and c['reason'] == 'truncated' for c in d['damaged_chunks'])"
oracle >"$T/oracle"
matches "$sc: reported snapshots and paths = those dump cannot restore"
checkj "$sc: read-data agrees" 1 --read-data
matches "$sc: read-data reports the same paths"
note_damaged "$T/oracle"
heal "$sc"
fi

if e2e_part added; then
# ---- bytes added to a pack: every byte must belong to an authenticated object ----
# read-data hashes a pack against its name only when it is found damaged
# (FORMAT.md "Check"); these faults leave every blob authentic, so what
# finds them is the trailer's end-to-end cover of the pack.
for where in gap front appended trailer; do
	fresh
	set -- $(find "$R/data" -type f | sort)
	shift "$(py rand "$SEED" "add$where" $#)"
	P=$1; PID=$(basename "$P")
	AREA=$(py area "$P")
	case $where in
	gap)      py insert "$P" "$AREA" 100; what="100 bytes between the last chunk and the trailer" ;;
	front)    py insert "$P" 0 64; what="64 bytes before the first chunk" ;;
	appended) head -c 50 /dev/urandom >>"$P"; what="50 bytes after the footer" ;;
	trailer)  py duptail "$P"; what="the trailer and footer appended again" ;;
	esac
	sc="added bytes: $what"
	checkj "$sc: structure check exits 1" 1
	truth "$sc: size and trailer problems name the pack" \
		"{(p['kind'], p['object']) for p in d['problems'] if p['severity'] == 'damage'} == {('pack_size', '$PID'), ('pack_trailer', '$PID')}"
	checkj "$sc: check --read-data exits 1" 1 --read-data
	truth "$sc: read-data also finds the pack does not hash to its name" \
		"any(p['kind'] == 'pack_hash' and p['object'] == '$PID' for p in d['problems'])"
	if [ $where = front ]; then
		truth "$sc: every chunk the index puts in the pack fails authentication" \
			"d['damaged_chunks'] and all(c['pack'] == '$PID' and c['reason'] == 'auth_failed' for c in d['damaged_chunks'])"
	else
		truth "$sc: no chunk is damaged (the index still locates them)" "d['damaged_chunks'] == []"
	fi
	if [ $where = gap ]; then
		oracle >"$T/oracle"
		[ -s "$T/oracle" ] && fail "$sc: every file still restores" "$(head -c 300 "$T/oracle")" ||
			pass "$sc: every file still restores"
		: >"$T/damaged_snaps"
		heal "$sc"
	fi
done

# ---- --pack-hash: every pack hashed against its name ----
fresh
checkj "pack-hash: healthy repository, exit 0" 0 --read-data --pack-hash
truth "pack-hash: nothing reported, every pack read" \
	"d['ok'] and d['damage'] == 0 and d['warnings'] == 0 and len(d['packs_read']) == $NPACKS"
set -- $(find "$R/data" -type f | sort)
shift "$(py rand "$SEED" phpack $#)"
P=$1; PID=$(basename "$P")
py flip "$P" "$(py rand "$SEED" phoff "$(py area "$P")")" 2
checkj "pack-hash: a flipped bit, exit 1" 1 --read-data --pack-hash
truth "pack-hash: one damaged chunk and the pack's hash, nothing else" \
	"len(d['damaged_chunks']) == 1 and [(p['kind'], p['object']) for p in d['problems']] == [('pack_hash', '$PID')]"
expect_exit "pack-hash: without --read-data it changes nothing (exit 0)" 0 $STRATA -r "$R" check --pack-hash
fi

if e2e_part deleted; then
# ---- a deleted pack ----
fresh
set -- $(find "$R/data" -type f | sort)
shift "$(py rand "$SEED" delpack $#)"
P=$1; PID=$(basename "$P")
rm "$P"
sc="deleted pack"
checkj "$sc: structure check exits 1" 1
truth "$sc: the missing pack is named" \
	"any(p['kind'] == 'pack_missing' and p['object'] == '$PID' for p in d['problems'])"
truth "$sc: its chunks are reported at their offsets" \
	"d['damaged_chunks'] and all(c['pack'] == '$PID' and c['reason'] == 'pack_missing' and c['offset'] >= 0 for c in d['damaged_chunks'])"
truth "$sc: byte ranges are the chunk's length" "$(py ranges "$T/out")"
oracle >"$T/oracle"
matches "$sc: reported snapshots and paths = those dump cannot restore"
note_damaged "$T/oracle"
heal "$sc"

# ---- the local index deleted: a cache, rebuilt; no damage ----
fresh
sc="deleted local index"
# The directory store/index.h names (INDEX_CACHE_SUBDIR); a name that no
# longer matches would delete nothing and test nothing.
set -- "$STRATA_CACHE_DIR"/*/index3
[ -d "$1" ] && pass "$sc: the index directory is there" || fail "$sc: the index directory is there" "$1"
rm -rf "$@"
checkj "$sc: check rebuilds it and exits 0" 0 --read-data
truth "$sc: nothing reported" "d['ok'] and d['warnings'] == 0"
oracle >"$T/oracle"
[ -s "$T/oracle" ] && fail "$sc: every file restores" "$(head -c 300 "$T/oracle")" || pass "$sc: every file restores"

# ---- a stored index file deleted ----
fresh
set -- $(find "$R/index" -type f | sort)
shift "$(py rand "$SEED" delindex $#)"
rm "$1"
sc="deleted index file"
checkj "$sc: structure check exits 1" 1
truth "$sc: its packs are reported unindexed (warnings)" \
	"d['warnings'] > 0 and all(p['kind'] == 'pack_unindexed' for p in d['problems'] if p['severity'] == 'warning')"
truth "$sc: missing chunks point at the pack still holding them" \
	"d['damaged_chunks'] and all(c['reason'] in ('not_indexed', 'tree_unreadable') for c in d['damaged_chunks']) and any('repair index' in c['message'] for c in d['damaged_chunks'])"
oracle >"$T/oracle"
matches "$sc: reported snapshots and paths = those dump cannot restore"
expect "$sc: repair index" $STRATA -r "$R" repair index
checkj "$sc: clean after repair index alone (nothing was lost)" 0 --read-data
truth "$sc: nothing left" "d['ok'] and d['warnings'] == 0"
: >"$T/damaged_snaps"
heal "$sc"
fi

if e2e_part swapped; then
# ---- two chunks' ciphertext swapped ----
fresh
set -- $(find "$R/data" -type f | sort)
shift "$(py rand "$SEED" swappack $#)"
P=$1; PID=$(basename "$P")
# Learn the pack's layout from check itself on a scratch copy with a bit
# flipped in every 32 bytes (every blob has at least 41).
cp "$P" "$T/orig.pack"
py flipevery "$P" 32
$STRATA -r "$R" check --read-data --json >"$T/out" 2>/dev/null
py chunks "$T/out" | awk -v p="$PID" '$2 == p {print $3, $4, $1}' | sort -n >"$T/layout"
cp "$T/orig.pack" "$P"
if [ "$(wc -l <"$T/layout")" -ge 2 ]; then
	i=$(py rand "$SEED" swapat $(($(wc -l <"$T/layout") - 1)))
	set -- $(sed -n "$((i + 1)),$((i + 2))p" "$T/layout" | tr '\n' ' ')
	py swap "$P" "$1" "$2" "$4" "$5"
	A=$3; B=$6
	sc="swapped chunks"
	expect_exit "$sc: structure check does not read data (exit 0)" 0 $STRATA -r "$R" check
	checkj "$sc: check --read-data exits 1" 1 --read-data
	truth "$sc: exactly the two chunks are reported, at their offsets" \
		"sorted((c['id'], c['offset']) for c in d['damaged_chunks']) == sorted([('$A', $1), ('$B', $4)]) and all(c['pack'] == '$PID' for c in d['damaged_chunks'])"
	oracle >"$T/oracle"
	matches "$sc: reported snapshots and paths = those dump cannot restore"
	note_damaged "$T/oracle"
	heal "$sc" --read-data
else
	fail "swapped chunks: layout" "pack has fewer than two chunks"
fi

# ---- a pack replaced by one of another repository ----
fresh
R2="$T/other"
$STRATA -r "$R2" init --chunk-min 1K --chunk-avg 4K --chunk-max 16K --pack-size 96K >/dev/null 2>&1
$STRATA -r "$R2" backup "$T/copy1" -q >/dev/null 2>&1
set -- $(find "$R/data" -type f | sort)
shift "$(py rand "$SEED" replpack $#)"
P=$1; PID=$(basename "$P")
set -- $(find "$R2/data" -type f | sort)
cp "$1" "$P"
sc="pack from another repository"
checkj "$sc: structure check exits 1" 1
truth "$sc: its trailer fails authentication" \
	"any(p['kind'] == 'pack_trailer' and p['object'] == '$PID' for p in d['problems'])"
checkj "$sc: check --read-data exits 1" 1 --read-data
truth "$sc: every chunk the index puts there is reported" \
	"d['damaged_chunks'] and all(c['pack'] == '$PID' for c in d['damaged_chunks'])"
oracle >"$T/oracle"
matches "$sc: reported snapshots and paths = those dump cannot restore"
note_damaged "$T/oracle"
heal "$sc" --read-data
fi

if e2e_part lost; then
# ---- lost data whose sources are gone: repair snapshots ----
fresh
set -- $(find "$R/data" -type f | sort)
shift "$(py rand "$SEED" gonepack $#)"
rm "$1"
sc="lost data, sources gone"
checkj "$sc: structure check exits 1" 1
cp "$T/out" "$T/lost.json"
expect "$sc: repair index" $STRATA -r "$R" repair index
expect "$sc: repair snapshots --dry-run" $STRATA -r "$R" repair snapshots --dry-run
if [ "$(ls "$R/snapshots" | wc -l)" -eq 3 ]; then pass "$sc: the dry run saved nothing"; else fail "$sc: the dry run saved nothing" "$(ls "$R/snapshots")"; fi
$STRATA -r "$R" repair snapshots --json >"$T/rs.json" 2>"$T/err" &&
	pass "$sc: repair snapshots" || fail "$sc: repair snapshots" "$(head -c 300 "$T/err")"
checkj "$sc: the originals are still damaged (no --forget)" 1
k=0
for sid in $SNAPS; do
	k=$((k + 1))
	new=$(py repaired "$T/rs.json" "$sid")
	if ! grep -q "$sid" "$T/lost.json"; then
		[ "$new" = intact ] && pass "$sc: snapshot $k untouched" || fail "$sc: snapshot $k untouched" "$new"
		continue
	fi
	$STRATA -r "$R" cat snapshot "$new" >"$T/out" 2>"$T/err"
	truth "$sc: snapshot $k rewritten, tagged and labelled" \
		"'repaired' in d['tags'] and d['labels'].get('repaired-from') == '$sid' and int(d['labels']['repaired-files']) > 0"
	rm -rf "$T/restore"
	$STRATA -r "$R" restore "$new" --target "$T/restore" -q >/dev/null 2>"$T/err" ||
		fail "$sc: snapshot $k repaired copy restores" "$(head -c 300 "$T/err")"
	ok=1
	for f in $(cd "$T/copy$k" && find . -type f | sed 's|^\./||'); do
		py cut "$T/lost.json" "$sid" "$SRCREL/$f" "$T/copy$k/$f" "$T/expected"
		cmp -s "$T/expected" "$T/restore/$SRCREL/$f" || { ok=0; echo "# differs: $f"; }
	done
	[ $ok = 1 ] && pass "$sc: snapshot $k: every file is its healthy chunks, in order" ||
		fail "$sc: snapshot $k: every file is its healthy chunks, in order" "see above"
done
expect "$sc: repair snapshots --forget" $STRATA -r "$R" repair snapshots --forget
checkj "$sc: check --read-data clean" 0 --read-data
truth "$sc: the originals of damaged snapshots are gone" \
	"d['snapshots'] == 3 and d['ok'] and d['warnings'] == 0"
fi

if e2e_part snaptree; then
# ---- a corrupted snapshot file ----
fresh
set -- $SNAPS
VICTIM=$2
py flip "$R/snapshots/$VICTIM" 40 3
sc="corrupted snapshot"
checkj "$sc: structure check exits 1" 1
truth "$sc: the snapshot file is named, nothing else" \
	"[(p['kind'], p['object']) for p in d['problems']] == [('snapshot', '$VICTIM')] and d['snapshots'] == 2"
expect "$sc: repair snapshots --forget removes it" $STRATA -r "$R" repair snapshots --forget
echo "$VICTIM" >"$T/damaged_snaps"
heal "$sc"

# ---- a corrupted tree ----
fresh
set -- $(find "$R/tree" -type f | sort)
shift "$(py rand "$SEED" treepack $#)"
P=$1; PID=$(basename "$P")
OFF=$(py rand "$SEED" treeoff "$(py area "$P")")
py flip "$P" "$OFF" 5
sc="corrupted tree (pack ${PID%${PID#????????}} offset $OFF)"
checkj "$sc: structure check exits 1" 1
truth "$sc: an unreadable tree is reported with its directories" \
	"any(c['type'] in ('tree', 'tree part') and any(u['tree'] for u in c['users']) for c in d['damaged_chunks'])"
py treesnaps "$T/out" >"$T/reported"
ls_oracle >"$T/lsoracle"
if [ -s "$T/reported" ] && cmp -s "$T/reported" "$T/lsoracle"; then
	pass "$sc: snapshots reported = those ls cannot list"
else
	fail "$sc: snapshots reported = those ls cannot list" "$(tr '\n' ' ' <"$T/reported") vs $(tr '\n' ' ' <"$T/lsoracle")"
fi
oracle >"$T/oracle"
matches "$sc: reported paths and directories = files dump cannot restore"
checkj "$sc: read-data names the chunk holding the flipped byte" 1 --read-data
py chunks "$T/out" >"$T/chunks"
awk -v p="$PID" -v o="$OFF" '$2 == p && $3 <= o && o < $3 + $4 {ok=1} END {exit !ok}' "$T/chunks" &&
	pass "$sc: exact chunk, pack and offset" || fail "$sc: exact chunk, pack and offset" "$(cat "$T/chunks")"
note_damaged "$T/oracle"
heal "$sc" --read-data
fi

e2e_done
