#!/bin/sh
# demo.sh — strata in one minute, on a throw-away local repository:
# init, back up a generated sample tree, change it, back up again, list
# snapshots, restore, and check the restore is identical with diff -r.
# Run from the source tree with `make demo` (or STRATA=/path/to/strata sh tools/dev/demo.sh).
set -eu
STRATA=${STRATA:-$(pwd)/build/strata}
[ -x "$STRATA" ] || { echo "demo: $STRATA not found; run make first" >&2; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo.XXXXXX")
trap 'rm -rf "$W"' EXIT

export STRATA_REPOSITORY="$W/repo"
export STRATA_PASSWORD_FILE="$W/password"
export STRATA_CACHE_DIR="$W/cache"
printf 'demo password\n' >"$STRATA_PASSWORD_FILE"

run() {
	printf '\n$ strata %s\n' "$*"
	"$STRATA" "$@"
}

# A sample tree: text, nested directories, a symlink, an empty file and a
# few MiB of random data (which does not compress, but does deduplicate).
S="$W/sample"
mkdir -p "$S/docs/notes" "$S/data" "$S/empty-dir"
printf 'strata demo\n' >"$S/README"
for i in 1 2 3 4 5; do
	printf 'note %s\n' "$i" >"$S/docs/notes/note-$i.txt"
done
seq 1 20000 >"$S/docs/numbers.txt"
head -c 4194304 /dev/urandom >"$S/data/blob.bin"
: >"$S/data/empty"
ln -s ../README "$S/docs/readme-link"

echo "repository: $STRATA_REPOSITORY"
echo "sample tree: $S"
run init
run backup "$S" --tag demo
printf 'one more line\n' >>"$S/docs/numbers.txt"
cp "$S/data/blob.bin" "$S/data/blob-copy.bin"
run backup "$S" --tag demo
run snapshots
run ls latest | head -n 8
run stats
run restore latest --target "$W/restored"
run check --read-data

# The snapshot keeps the sample's path; find where it landed in the target.
R=$(dirname "$(find "$W/restored" -name README -type f | head -n 1)")
printf '\n$ diff -r %s %s\n' "$S" "$R"
if diff -r --no-dereference "$S" "$R"; then
	echo "demo: restored tree is identical to the source"
else
	echo "demo: FAILED: restored tree differs" >&2
	exit 1
fi
