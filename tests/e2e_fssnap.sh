# e2e_fssnap.sh — backup --fs-snapshot (store/backup/fssnap.h) on a btrfs
# of its own on a loop device (tests/btrfs_loop.sh), and backup --as: the
# source read from a read-only snapshot and recorded under its original
# path (snapshots, ls, restore), the files cache matched across
# snapshots (bytes_read of an incremental), the snapshot deleted at the
# end, after an error and after SIGTERM, the leftover of a SIGKILLed run
# deleted by the next one, nested subvolumes, auto on another filesystem,
# and the errors for missing privileges and bad combinations.
# RocksDB and PostgreSQL under load: e2e_fssnap_db.sh.
. "$(dirname "$0")/e2e_lib.sh"
. "$(dirname "$0")/btrfs_loop.sh"

MNT="$T/mnt"
KILL=""
trap 'for p in $KILL; do kill -9 "$p" 2>/dev/null; done; btrfs_loop_umount; chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2', wanted '$3'"; fi; }
has() { if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "'$3' not in: $(head -c 400 "$2")"; fi; }
leftovers() { ls -a "$1" | grep -c '^\.strata-snap-'; }
nsnaps() { "$STRATA" -r "$R" --include-partial --json snapshots 2>/dev/null | json_in 'len(d)'; }

"$STRATA" -r "$R" init -q || { fail "init" "cannot create the repository"; e2e_done; }

# ---- usage errors need no btrfs ----
expect_exit "--fs-snapshot with a bad mode: exit 2" 2 "$STRATA" -r "$R" backup "$T" --fs-snapshot zfs
has "--fs-snapshot with a bad mode: says the modes" "$T/err" "--fs-snapshot wants btrfs, auto or none: 'zfs'"
expect_exit "--fs-snapshot with --freeze-pid: exit 2" 2 "$STRATA" -r "$R" backup "$T" --fs-snapshot btrfs --freeze-pid $$
has "--fs-snapshot with --freeze-pid: says why" "$T/err" "--freeze-pid and --fs-snapshot exclude each other"
expect_exit "--as with --freeze-pid: exit 2" 2 "$STRATA" -r "$R" backup "$T" --as /x --freeze-pid $$
expect_exit "--fs-snapshot with --stdin: exit 2" 2 "$STRATA" -r "$R" backup --stdin --fs-snapshot btrfs
has "--fs-snapshot with --stdin: says why" "$T/err" "--fs-snapshot needs PATHs"
expect_exit "--as with two PATHs: exit 2" 2 "$STRATA" -r "$R" backup "$T/a" "$T/b" --as /x
has "--as with two PATHs: says why" "$T/err" "--as takes one PATH (the mounted copy), got 2"
expect_exit "--as with --fs-snapshot: exit 2" 2 "$STRATA" -r "$R" backup "$T/a" --as /x --fs-snapshot auto
expect_exit "--as of a copy that is not there: exit 4" 4 "$STRATA" -r "$R" backup "$T/nothing" --as /var/lib/node
has "--as of a copy that is not there: names it" "$T/err" "--as /var/lib/node: cannot read $T/nothing, the copy to back up: No such file or directory; nothing was backed up"

# ---- auto on a filesystem without snapshots ----
mkdir -p "$T/plain"
printf 'plain\n' >"$T/plain/f"
FST=$(stat -f -c %T "$T/plain")
if [ "$FST" = btrfs ]; then
	echo "SKIP auto on another filesystem: $T is on btrfs"
else
	"$STRATA" -r "$R" --json backup "$T/plain" --fs-snapshot auto >"$T/auto.json" 2>"$T/auto.err"
	check "auto on $FST: exit 0" "$?" 0
	has "auto on $FST: says it reads live" "$T/auto.err" "--fs-snapshot auto: $T/plain is on "
	has "auto on $FST: ... not btrfs: read live" "$T/auto.err" "not btrfs: read live, not from a filesystem snapshot"
	check "auto on $FST: --json says live" "$(json "$T/auto.json" 'd["fs_snapshot"]["sources"][0]["live"]')" True
	expect_exit "btrfs on $FST: exit 4" 4 "$STRATA" -r "$R" backup "$T/plain" --fs-snapshot btrfs
	has "btrfs on $FST: says so" "$T/err" "--fs-snapshot btrfs: $T/plain is on "
fi

if ! btrfs_loop_mount "$MNT" 300M; then
	echo "SKIP btrfs snapshots: $BTRFS_SKIP"
	e2e_done
fi

# ---- round trip: read from the snapshot, recorded under the original path ----
S="$MNT/node"
btrfs subvolume create "$S" >/dev/null
mkdir -p "$S/db/sub" "$S/empty"
head -c 3000000 /dev/urandom >"$S/db/big.sst"
printf 'MANIFEST-000005\n' >"$S/db/CURRENT"
for i in 1 2 3 4 5 6 7 8; do head -c $((i * 1000)) /dev/urandom >"$S/db/sub/f$i"; done
ln -s db/CURRENT "$S/link"
ln "$S/db/CURRENT" "$S/hardlink"
chmod 640 "$S/db/big.sst"
"$STRATA" -r "$R" --json backup "$S" --fs-snapshot btrfs >"$T/b1.json" 2>"$T/b1.err"
check "first backup: exit 0" "$?" 0
SN=$(json "$T/b1.json" 'd["fs_snapshot"]["sources"][0]["snapshot"]')
case "$SN" in
"$S"/.strata-snap-*) pass "--json names the snapshot read ($SN)" ;;
*) fail "--json names the snapshot read" "got '$SN'" ;;
esac
check "the snapshot is deleted at the end" "$(leftovers "$S")" 0
check "snapshots: the original path is recorded" "$("$STRATA" -r "$R" cat snapshot latest | json_in 'd["paths"]')" "['$S']"
"$STRATA" -r "$R" ls latest >"$T/ls" 2>&1
has "ls: files under the original path" "$T/ls" "${S#/}/db/big.sst"
if grep -q strata-snap "$T/ls"; then fail "ls: no path of the snapshot" "$(grep strata-snap "$T/ls" | head -3)"; else pass "ls: no path of the snapshot"; fi
"$STRATA" -r "$R" restore latest --target "$T/r1" -q
same_tree "restore: bit-exact, under the original path" "$S" "$T/r1$S"
check "restore: the hard link is one" "$(stat -c %i "$T/r1$S/hardlink")" "$(stat -c %i "$T/r1$S/db/CURRENT")"

# ---- the files cache across snapshots: only what changed is read ----
"$STRATA" -r "$R" --json backup "$S" --fs-snapshot btrfs >"$T/b2.json" 2>&1
check "unchanged: nothing read" "$(json "$T/b2.json" 'd["summary"]["bytes_read"]')" 0
check "unchanged: every file from the files cache" "$(json "$T/b2.json" 'd["summary"]["files_unchanged"]')" 11
head -c 4096 /dev/urandom >"$S/db/sub/block-000001"
"$STRATA" -r "$R" --json backup "$S" --fs-snapshot btrfs >"$T/b3.json" 2>&1
check "one new 4 KiB block: 4096 bytes read" "$(json "$T/b3.json" 'd["summary"]["bytes_read"]')" 4096
check "one new 4 KiB block: its parent is the last snapshot" \
	"$("$STRATA" -r "$R" cat snapshot latest | json_in 'd["parent"][:8]')" "$(json "$T/b2.json" 'd["short_id"]')"
# A live backup of the same path uses the same cache entries: same device.
"$STRATA" -r "$R" --json backup "$S" >"$T/b4.json" 2>&1
check "a live backup after it: nothing read" "$(json "$T/b4.json" 'd["summary"]["bytes_read"]')" 0
check "no snapshot left" "$(leftovers "$S")" 0

# ---- a source path below the subvolume's root; two in one subvolume ----
"$STRATA" -r "$R" --json backup "$S/db/sub" "$S/empty" --fs-snapshot btrfs >"$T/b5.json" 2>&1
check "two paths in one subvolume: one snapshot" \
	"$(json "$T/b5.json" 'd["fs_snapshot"]["sources"][0]["snapshot"] == d["fs_snapshot"]["sources"][1]["snapshot"]')" True
"$STRATA" -r "$R" restore latest --target "$T/r5" -q
same_tree "two paths below the subvolume root: restored" "$S/db/sub" "$T/r5$S/db/sub"

# ---- a nested subvolume is not in the snapshot: read live, partial ----
btrfs subvolume create "$S/nested" >/dev/null
printf 'nested\n' >"$S/nested/n"
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs >"$T/out" 2>"$T/err"
check "nested subvolume: exit 3 (partial)" "$?" 3
has "nested subvolume: says why and what to do" "$T/err" "$S/nested: not in the filesystem snapshot (a nested subvolume or another filesystem mounted there): read live, so not point-in-time; give it as a source path of its own (a subvolume then gets its own snapshot), or --exclude it"
"$STRATA" -r "$R" --include-partial restore latest --target "$T/r6" -q
check "nested subvolume: its files read live" "$(cat "$T/r6$S/nested/n")" nested
expect "nested subvolume excluded: exit 0" "$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --exclude "$S/nested"
"$STRATA" -r "$R" --json backup "$S" "$S/nested" --fs-snapshot btrfs >"$T/nest.json" 2>"$T/err"
check "nested subvolume given as a source path too: exit 0" "$?" 0
check "nested subvolume given as a source path too: read from a snapshot of its own" \
	"$(json "$T/nest.json" 'd["fs_snapshot"]["sources"][1]["snapshot"].startswith("'"$S/nested/.strata-snap-"'")')" True
"$STRATA" -r "$R" restore latest --target "$T/r7" -q
check "nested subvolume given as a source path too: restored" "$(cat "$T/r7$S/nested/n")" nested
check "nested subvolume given as a source path too: no snapshot left" "$(leftovers "$S/nested")" 0
btrfs subvolume delete "$S/nested" >/dev/null

# ---- cleanup after an error, after SIGTERM, and after SIGKILL ----
n0=$(nsnaps)
expect_exit "an error after the snapshot was made: exit 14" 14 \
	"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --parent ffffffff
check "after the error: the snapshot is deleted" "$(leftovers "$S")" 0
check "after the error: no snapshot saved" "$(nsnaps)" "$n0"

# The test hook holds strata at a file's open, while it reads the snapshot.
HOLD='[ "$1" = open ] || exit 0; touch "'"$T"'/at-open"; n=0; while [ ! -e "'"$T"'/go" ] && [ $n -lt 300 ]; do sleep 0.05; n=$((n+1)); done'
held_backup() {
	rm -f "$T/at-open" "$T/go"
	STRATA_TEST_BACKUP_HOOK="$HOLD" "$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs --force-reread >"$T/held.out" 2>"$T/held.err" &
	HP=$!
	KILL="$KILL $HP"
	n=0; while [ ! -e "$T/at-open" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
}
held_backup
check "SIGTERM: the snapshot exists while strata reads it" "$(leftovers "$S")" 1
kill -TERM "$HP"
wait "$HP"
rc=$?
touch "$T/go"
check "SIGTERM: strata ends by the signal (143)" "$rc" 143
check "SIGTERM: the snapshot is deleted" "$(leftovers "$S")" 0
check "SIGTERM: no snapshot saved" "$(nsnaps)" "$n0"

held_backup
{ kill -KILL "$HP"; wait "$HP"; } 2>/dev/null
touch "$T/go"
LEFT=$(ls -a "$S" | grep '^\.strata-snap-')
check "SIGKILL: the snapshot is left behind" "$(leftovers "$S")" 1
"$STRATA" -r "$R" backup "$S" --fs-snapshot btrfs >"$T/out" 2>"$T/err"
check "the next run after SIGKILL: exit 0" "$?" 0
has "the next run deletes the leftover and says so" "$T/err" "deleted the filesystem snapshot $S/$LEFT left by an earlier run (process $HP, which ended without deleting it)"
check "the next run: nothing left" "$(leftovers "$S")" 0

# A snapshot of a run still going on is not touched, nor backed up.
btrfs subvolume snapshot -r "$S" "$S/.strata-snap-$$-$(cut -d' ' -f22 /proc/$$/stat)" >/dev/null
"$STRATA" -r "$R" --json backup "$S" --fs-snapshot btrfs >"$T/b7.json" 2>"$T/err"
check "a running run's snapshot: exit 0" "$?" 0
check "a running run's snapshot: left alone" "$(leftovers "$S")" 1
check "a running run's snapshot: not in the backup" \
	"$("$STRATA" -r "$R" ls latest | grep -c strata-snap)" 0
btrfs subvolume delete "$S"/.strata-snap-* >/dev/null

# ---- --as: a copy taken by the operator, recorded under the original path ----
btrfs subvolume snapshot -r "$S" "$MNT/copy" >/dev/null
"$STRATA" -r "$R" --json backup "$MNT/copy" --as "$S" >"$T/as.json" 2>"$T/err"
check "--as: exit 0" "$?" 0
check "--as: recorded under the original path" "$("$STRATA" -r "$R" cat snapshot latest | json_in 'd["paths"]')" "['$S']"
check "--as: its parent is the last snapshot of that path" \
	"$("$STRATA" -r "$R" cat snapshot latest | json_in 'd["parent"][:8]')" "$(json "$T/b7.json" 'd["short_id"]')"
check "--as: the files cache matches (nothing read)" "$(json "$T/as.json" 'd["summary"]["bytes_read"]')" 0
"$STRATA" -r "$R" restore latest --target "$T/ras" -q
same_tree "--as: restores the copy under the original path" "$MNT/copy" "$T/ras$S"
btrfs subvolume delete "$MNT/copy" >/dev/null

# ---- privileges: a user who may create but not delete snapshots ----
if command -v setpriv >/dev/null 2>&1; then
	U="$MNT/user"
	btrfs subvolume create "$U" >/dev/null
	printf 'user data\n' >"$U/f"
	chown -R 65534:65534 "$U"
	chmod 755 "$T" "$MNT"
	mkdir -p "$T/urepo" "$T/ucache" && chown 65534:65534 "$T/urepo" "$T/ucache" && chmod 644 "$T/pw"
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env STRATA_CACHE_DIR="$T/ucache" "$STRATA" "$@"; }
	as_nobody -r "$T/urepo/r" init -q
	expect_exit "without CAP_SYS_ADMIN nor user_subvol_rm_allowed: exit 4" 4 \
		as_nobody -r "$T/urepo/r" backup "$U" --fs-snapshot btrfs
	has "the privilege error says what is needed and what to do" "$T/err" \
		"--fs-snapshot: strata could create a snapshot of the btrfs subvolume $U but not delete it: that needs CAP_SYS_ADMIN (run strata as root) or the mount option user_subvol_rm_allowed on $MNT (\`mount -o remount,user_subvol_rm_allowed $MNT\`, as root); nothing was backed up"
	check "the privilege error: no snapshot made" "$(leftovers "$U")" 0
	mount -o remount,user_subvol_rm_allowed "$MNT"
	expect "with user_subvol_rm_allowed, as the subvolume's owner: exit 0" \
		as_nobody -r "$T/urepo/r" backup "$U" --fs-snapshot btrfs
	check "with user_subvol_rm_allowed: the snapshot is deleted" "$(leftovers "$U")" 0
	chmod 600 "$T/pw"
else
	echo "SKIP privileges: setpriv is missing"
fi

e2e_done
