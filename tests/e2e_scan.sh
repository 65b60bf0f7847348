#!/bin/sh
# e2e_scan.sh — the parallel scan (store/backup/scan.h) builds the very
# tree the serial walk builds: on a tree of many nested directories, odd
# names, symlinks, hard links, a sparse file, a FIFO, empty directories
# and excluded entries, the source path's tree ID is the same with
# STRATA_SCAN_THREADS=1 (the serial walk), with 4 workers on an empty
# files cache (every file read) and with the default on a warm one; a
# restore of the parallel snapshot is bit-exact with hard links kept.
. tests/e2e_lib.sh

SRC="$T/src"
O="$T/o"
mkdir -p "$SRC" "$O"
python3 - "$SRC" <<'PY'
import os, random, sys
root = sys.argv[1]
random.seed(34)
# 120 directories three levels deep, 12 small files each
for a in range(6):
    for b in range(4):
        for c in range(5):
            d = os.path.join(root, "a%d" % a, "b%d" % b, "c%d" % c)
            os.makedirs(d)
            for f in range(12):
                with open(os.path.join(d, "f%02d" % f), "wb") as fh:
                    fh.write(random.randbytes(random.randrange(0, 3000)))
odd = os.path.join(root, "odd")
os.makedirs(odd)
for name in ["sp ace", "new\nline", "-dash", "\u00e9t\u00e9", "\x01ctl", "A", "a", "a.b", "a-b",
             "Z" * 255, "tab\there", "*star", "back\\slash"]:
    with open(os.path.join(odd, name), "wb") as fh:
        fh.write(name.encode("utf-8", "surrogateescape") * 3)
os.makedirs(os.path.join(root, "empty", "deeper", "still"))
os.symlink("../odd/A", os.path.join(root, "a0", "link-file"))
os.symlink("/nonexistent/dangling", os.path.join(root, "a0", "link-dangling"))
os.symlink("b1", os.path.join(root, "a0", "link-dir"))
with open(os.path.join(root, "a1", "hard"), "wb") as fh:
    fh.write(random.randbytes(5000))
os.link(os.path.join(root, "a1", "hard"), os.path.join(root, "a2", "hard2"))
os.link(os.path.join(root, "a1", "hard"), os.path.join(root, "a3", "b0", "hard3"))
with open(os.path.join(root, "sparse"), "wb") as fh:
    fh.truncate(8 << 20)
    fh.seek(3 << 20)
    fh.write(random.randbytes(70000))
os.mkfifo(os.path.join(root, "a4", "fifo"))
os.makedirs(os.path.join(root, "a5", "skipdir", "inner"))
with open(os.path.join(root, "a5", "skipdir", "inner", "x"), "wb") as fh:
    fh.write(b"excluded")
with open(os.path.join(root, "a5", "b0", "drop.skip"), "wb") as fh:
    fh.write(b"excluded too")
PY
chmod 0750 "$SRC/a1"
chmod 0600 "$SRC/odd/A"

# tree_of SNAPSHOT — the tree ID of $SRC in the snapshot.
tree_of() {
	"$STRATA" -r "$R" ls "$1" "$SRC" --json | python3 -c "
import json, sys
print([e['subtree'] for e in json.load(sys.stdin) if e['path'] == sys.argv[1]][0])" "${SRC#/}"
}
# backup_as NAME ENV... — back up $SRC with the environment given; prints
# the snapshot's ID, keeps the JSON in $O/NAME.json.
backup_as() {
	n=$1; shift
	env "$@" "$STRATA" -r "$R" backup "$SRC" $EXCL --json >"$O/$n.json" 2>"$O/$n.err" ||
		{ fail "backup-$n" "$(head -c 400 "$O/$n.err")"; return; }
	json_in 'd["snapshot_id"]' <"$O/$n.json"
}
files_of() { json_in 'd["summary"]["files"], d["summary"]["dirs"]' <"$O/$1.json"; }

expect init "$STRATA" -r "$R" init

EXCL=""
s_serial=$(backup_as serial STRATA_SCAN_THREADS=1)
s_cold=$(backup_as cold STRATA_SCAN_THREADS=4 STRATA_CACHE_DIR="$T/cache2")
s_warm=$(backup_as warm)
t_serial=$(tree_of "$s_serial")
t_cold=$(tree_of "$s_cold")
t_warm=$(tree_of "$s_warm")
if [ -n "$t_serial" ] && [ "$t_serial" = "$t_cold" ] && [ "$t_serial" = "$t_warm" ]; then
	pass same-tree-id
else
	fail same-tree-id "serial $t_serial, 4 workers cold $t_cold, default warm $t_warm"
fi
if [ "$(files_of serial)" = "$(files_of cold)" ] && [ "$(files_of serial)" = "$(files_of warm)" ]; then
	pass same-counts
else
	fail same-counts "serial $(files_of serial), cold $(files_of cold), warm $(files_of warm)"
fi
r=$(json_in 'd["summary"]["files_unchanged"] == d["summary"]["files"] and d["summary"]["files"] > 1400' <"$O/warm.json")
[ "$r" = True ] && pass warm-all-unchanged || fail warm-all-unchanged "$(files_of warm): $r"

# Excluded names: left out alike by the workers and the walk.
EXCL="--exclude skipdir --exclude *.skip"
x_serial=$(tree_of "$(backup_as xserial STRATA_SCAN_THREADS=1)")
x_par=$(tree_of "$(backup_as xpar STRATA_SCAN_THREADS=3)")
if [ -n "$x_serial" ] && [ "$x_serial" = "$x_par" ] && [ "$x_serial" != "$t_serial" ]; then
	pass excluded-same-tree-id
else
	fail excluded-same-tree-id "serial $x_serial, parallel $x_par (without excludes $t_serial)"
fi

# A restore of the parallel snapshot: bit-exact, hard links kept.
expect restore "$STRATA" -r "$R" restore "$s_cold" --target "$T/restore"
# diff -r cannot compare FIFOs: checked, then out of its way.
[ -p "$T/restore$SRC/a4/fifo" ] && pass fifo-kept || fail fifo-kept "$(ls -l "$T/restore$SRC/a4")"
rm -f "$SRC/a4/fifo" "$T/restore$SRC/a4/fifo"
same_tree restore-bit-exact "$SRC" "$T/restore$SRC"
i1=$(stat -c %i "$T/restore$SRC/a1/hard")
i2=$(stat -c %i "$T/restore$SRC/a2/hard2")
i3=$(stat -c %i "$T/restore$SRC/a3/b0/hard3")
[ "$i1" = "$i2" ] && [ "$i1" = "$i3" ] && pass hard-links-kept || fail hard-links-kept "inodes $i1 $i2 $i3"
m=$(stat -c '%a' "$T/restore$SRC/a1" "$T/restore$SRC/odd/A" | paste -sd' ')
[ "$m" = "750 600" ] && pass modes-kept || fail modes-kept "$m"

e2e_done
