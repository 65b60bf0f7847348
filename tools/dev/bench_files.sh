#!/bin/sh
# bench_files.sh — strata against restic on a tree of many small files
# (issue 34, "a million files").
#
#   sh tools/dev/bench_files.sh [FILES]    (make bench-files FILES=1000000)
#
# Builds the tree with build/tools/dev/gen_files (FILES files in
# directories of 1,000, each 1-8 KiB of incompressible bytes: 4.6 GB at
# 1,000,000 files), then for strata and restic (repository v2,
# --compression auto), step by step, strata first:
#   first      first backup
#   unchanged  re-backup with nothing changed
#   changed    100 files rewritten (gen_files change), then a backup
#   appended   4 KiB appended to one file, then a backup
#   restore    restore the latest snapshot, then diff -r (untimed); the
#              targets are removed only after every tool's restore: on
#              ext4 without a journal, inode allocation skips inodes
#              freed in the last 5-300 s one by one (recently_deleted),
#              and a restore right after removing the previous tool's
#              100,000 files spent most of its time there
#   cache      the local cache's size after these runs (du -sb; strata's
#              files cache and index apart)
# Each run reports wall and CPU seconds and peak RSS (GNU time); the table
# ends with restic/strata ratios (above 1: strata faster or smaller). Repositories, caches and the restore
# targets sit in the work directory (on disk, as the source does).
#
# With BENCH_CHANGES=1 (root; BENCH_DIR inside a btrfs subvolume) the
# steps after the first backup are instead those of change tracking
# (tools/cli/doc/changes.md), strata with the key cache on
# (STRATA_KEY_CACHE, FORMAT.md 6a: an every-block schedule keeps it),
# each BENCH_ROUNDS times (default 3), restic beside each:
#   unch-btrfs / chg-btrfs      nothing changed, 100 files changed:
#                               --fs-snapshot btrfs, btrfs generations
#   unch-journal / chg-journal  the same with `strata watch` running (one
#                               untimed backup first: the first one after
#                               the watcher starts scans)
#   chg-scan                    100 files changed, --changes scan (the
#                               parallel full scan; at most 2 rounds)
# restic (first round only) has no change tracking: its rows are full
# scans of the same state. The journal steps are skipped where `strata
# watch` cannot mark the filesystem (inside a btrfs subvolume other than
# the top level: fanotify refuses it).
# The first backup is made with --fs-snapshot btrfs too.
#
# Environment:
#   BENCH_DIR  work directory (default /var/tmp/strata-bench-files.PID);
#              about 5 times the tree's size is needed
#   BENCH_REUSE=1  BENCH_DIR holds a kept run's tree, repositories and
#              caches (KEEP=1): no generation, init or first backup
#   BENCH_CACHE_DIR  where the local caches go (default BENCH_DIR): with
#              BENCH_CHANGES=1 a directory off the btrfs under test, as a
#              real setup has (LMDB's writes and fsyncs through a
#              loop-mounted btrfs cost tens of milliseconds each here)
#   KEEP=1     keep the work directory
#   STRATA     strata binary (default build/strata)
#   BENCH_TOOLS  tools to run (default "strata restic")
#   BENCH_OUT  also copy the raw results (TSV) to this file
#   BENCH_PAGECACHE  the page cache each tool's first backup and restore
#              start from: "warm" (default: the tree, and for a restore
#              the tool's repository, read once untimed just before),
#              "cold" (root: caches dropped just before) or "as-is".
#              Without it the first tool pays the cold reads and the
#              second finds the tree cached: at 1,000,000 files on a
#              loop-mounted btrfs, strata first (cold) took 100 s against
#              restic's 95 (cached); 100,000 files both cold 6.0 s against
#              10.0, both warm 1.6 s against 6.5
#
# Exit status: 0 when every run succeeded and every restore was bit-exact.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FILES=${1:-${FILES:-1000000}}
KEEP=${KEEP:-0}
STRATA=${STRATA:-$ROOT/build/strata}
TOOLS=${BENCH_TOOLS:-strata restic}
WORK=${BENCH_DIR:-/var/tmp/strata-bench-files.$$}
TIME=/usr/bin/time
GEN=$ROOT/build/tools/dev/gen_files
FAIL=0

die() { echo "bench-files: $*" >&2; exit 1; }
PAGECACHE=${BENCH_PAGECACHE:-warm}
case "$PAGECACHE" in
warm | as-is) ;;
cold) [ "$(id -u)" = 0 ] || die "BENCH_PAGECACHE=cold needs root (drop_caches)" ;;
*) die "BENCH_PAGECACHE: warm, cold or as-is, not $PAGECACHE" ;;
esac
# settle DIR — before a timed first backup or restore: DIR's files read
# once (warm) or every clean page dropped (cold), so that each tool starts
# from the same state.
settle() {
	case "$PAGECACHE" in
	warm) find "$1" -type f -exec cat {} + >/dev/null ;;
	cold) sync && echo 3 >/proc/sys/vm/drop_caches ;;
	esac
}
has_tool() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }

[ -x "$TIME" ] || die "GNU time is required at $TIME (apt-get install time)"
[ -x "$STRATA" ] || die "strata binary $STRATA missing (make)"
[ -x "$GEN" ] || die "generator $GEN missing (make build/tools/dev/gen_files)"
CHANGES=${BENCH_CHANGES:-0}
REUSE=${BENCH_REUSE:-0}
ROUNDS=${BENCH_ROUNDS:-3}
if [ "$REUSE" = 1 ]; then
	[ -d "$WORK/data" ] || die "BENCH_REUSE=1: no kept run in $WORK"
	KEEP=1
else
	[ -e "$WORK" ] && die "work directory $WORK already exists"
fi
if [ "$CHANGES" = 1 ]; then
	[ "$(id -u)" = 0 ] || die "BENCH_CHANGES=1 needs root (btrfs tree search, fanotify)"
	mkdir -p "$WORK"
	[ "$(stat -f -c %T "$WORK")" = btrfs ] || die "BENCH_CHANGES=1: $WORK is not on btrfs"
	export STRATA_KEY_CACHE=86400
fi
mkdir -p "$WORK/logs"
cleanup() {
	rc=$?
	if [ "$KEEP" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

if has_tool restic && ! command -v restic >/dev/null 2>&1; then
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	echo "installing restic ..."
	{ $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic ||
	  { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic; }
	} >"$WORK/logs/install-restic" 2>&1 || true
	command -v restic >/dev/null 2>&1 || { echo "restic: missing and could not be installed; skipped"
		TOOLS=strata; FAIL=1; }
fi

PW=$WORK/password
echo "strata-bench-password" >"$PW"
CACHES=${BENCH_CACHE_DIR:-$WORK}
export STRATA_PASSWORD_FILE="$PW" STRATA_CACHE_DIR="$CACHES/strata-cache"
export RESTIC_PASSWORD_FILE="$PW" RESTIC_CACHE_DIR="$CACHES/restic-cache"
DATA=$WORK/data
RESULTS=$WORK/results.tsv
: >"$RESULTS"
R_STRATA=$WORK/repo-strata
R_RESTIC=$WORK/repo-restic

echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; page cache: $PAGECACHE"
if [ "$REUSE" != 1 ]; then
	echo "== generating $FILES files in $DATA"
	t0=$(date +%s)
	"$GEN" create "$DATA" "$FILES" || die "generator failed"
	echo "   $(du -sb "$DATA" | cut -f1) bytes in $(( $(date +%s) - t0 )) s"
fi

# timed STEP TOOL CMD...: one row of results.tsv (step tool wall cpu rss_kb)
timed() {
	t_step=$1 t_tool=$2
	shift 2
	t_log=$WORK/logs/$t_step-$t_tool
	if ! "$TIME" -f '%e %U %S %M' -o "$t_log.time" "$@" >"$t_log.out" 2>"$t_log.err" </dev/null; then
		echo "  $t_tool: FAILED: $(tail -n 1 "$t_log.err")"
		printf '%s\t%s\tFAILED\t-\t-\n' "$t_step" "$t_tool" >>"$RESULTS"
		FAIL=1
		return 1
	fi
	# shellcheck disable=SC2046
	set -- $(tail -n 1 "$t_log.time")
	cpu=$(awk -v u="$2" -v s="$3" 'BEGIN { printf "%.2f", u + s }')
	# With --json: which way strata found the changes (BENCH_CHANGES=1).
	t_mode=$(grep -o '"mode": *"[a-z]*"' "$t_log.out" 2>/dev/null | head -n 1 | sed 's/.*"\([a-z]*\)"$/ \1/')
	printf '%s\t%s\t%s\t%s\t%s\n' "$t_step" "$t_tool" "$1" "$cpu" "$4" >>"$RESULTS"
	printf '  %-7s %8.2f s wall %8.2f s cpu %7.1f MiB rss   (load %s)%s\n' "$t_tool" "$1" "$cpu" \
		"$(awk -v k="$4" 'BEGIN { print k / 1024 }')" "$(cut -d' ' -f1 /proc/loadavg)" "$t_mode"
}

backup() { # STEP [STRATA OPTION...]
	b_step=$1
	shift
	[ "$b_step" = first ] && has_tool strata && settle "$DATA"
	has_tool strata && { timed "$b_step" strata "$STRATA" -r "$R_STRATA" backup "$DATA" "$@" || true; }
	[ "$b_step" = first ] && has_tool restic && settle "$DATA"
	has_tool restic && { timed "$b_step" restic restic -r "$R_RESTIC" --compression auto backup --host bench "$DATA" || true; }
	return 0
}

report_table() {
	echo
	echo "== $FILES files: strata against restic (wall s, cpu s, peak RSS MiB; cache bytes)"
	awk -F '\t' '
		function ratio(a, b) { return b + 0 > 0 ? a / b : 0 }
		{ w[$1, $2] = $3; c[$1, $2] = $4; r[$1, $2] = $5; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
		END {
			printf "%-15s %26s %26s %8s\n", "step", "strata", "restic", "restic/strata"
			for (i = 1; i <= n; i++) {
				s = order[i]
				if (s == "cache") {
					printf "%-15s %23.1f MB %23.1f MB %8.2f\n", s, w[s, "strata"] / 1e6, w[s, "restic"] / 1e6,
					       ratio(w[s, "restic"], w[s, "strata"])
					continue
				}
				printf "%-15s %7s s %6s cpu %5.0f MiB %7s s %6s cpu %5.0f MiB %8.2f\n", s,
				       w[s, "strata"], c[s, "strata"], r[s, "strata"] / 1024,
				       w[s, "restic"], c[s, "restic"], r[s, "restic"] / 1024,
				       ratio(w[s, "restic"], w[s, "strata"])
			}
		}' "$RESULTS"
}

WATCH=""
stop_watch() { [ -n "$WATCH" ] && { kill "$WATCH" 2>/dev/null; wait "$WATCH" 2>/dev/null; }; WATCH=""; }
# changes_steps: BENCH_CHANGES=1's steps (see the top).
changes_steps() {
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		r=$((r + 1))
		echo "== btrfs change tracking, round $r"
		# restic in the first round only: each of its runs is a full scan
		# (minutes at 1,000,000 files) and the same in every round.
		[ $r = 2 ] && TOOLS=strata
		backup "unch-btrfs.$r" --fs-snapshot btrfs --json
		"$GEN" change "$DATA" "$FILES" 100 "$((100 + r))"
		backup "chg-btrfs.$r" --fs-snapshot btrfs --json
	done
	TOOLS=strata
	echo "== change journal: strata watch"
	"$STRATA" watch "$DATA" >"$WORK/logs/watch.out" 2>"$WORK/logs/watch.err" &
	WATCH=$!
	i=0
	while [ ! -s "$WORK/logs/watch.out" ] && [ $i -lt 200 ] && kill -0 "$WATCH" 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	if ! kill -0 "$WATCH" 2>/dev/null; then
		# fanotify refuses filesystem marks inside a btrfs subvolume other
		# than the top level (EXDEV): there, btrfs generations serve.
		echo "  skipped: $(tail -n 1 "$WORK/logs/watch.err")"
		WATCH=""
	else
		"$STRATA" -r "$R_STRATA" backup "$DATA" -q >"$WORK/logs/watch-first" 2>&1 || die "backup after watch failed"
		r=0
		while [ $r -lt "$ROUNDS" ]; do
			r=$((r + 1))
			echo "== change journal, round $r"
			backup "unch-journal.$r" --json
			"$GEN" change "$DATA" "$FILES" 100 "$((200 + r))"
			backup "chg-journal.$r" --json
		done
		stop_watch
	fi
	r=0
	while [ $r -lt "$ROUNDS" ] && [ $r -lt 2 ]; do
		r=$((r + 1))
		echo "== full parallel scan, round $r"
		"$GEN" change "$DATA" "$FILES" 100 "$((300 + r))"
		backup "chg-scan.$r" --changes scan --json
	done
}

if [ "$REUSE" != 1 ]; then
	has_tool strata && { "$STRATA" -r "$R_STRATA" init >"$WORK/logs/init-strata" 2>&1 || die "strata init failed"; }
	has_tool restic && { restic -r "$R_RESTIC" init --repository-version 2 >"$WORK/logs/init-restic" 2>&1 ||
		die "restic init failed"; }
	echo "== first backup"
	if [ "$CHANGES" = 1 ]; then backup first --fs-snapshot btrfs; else backup first; fi
fi
if [ "$CHANGES" = 1 ]; then
	trap 'stop_watch; exit 130' INT TERM HUP
	changes_steps
	echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
	report_table
	exit $FAIL
fi
echo "== unchanged re-backup"
backup unchanged
echo "== 100 files changed"
"$GEN" change "$DATA" "$FILES" 100 1
backup changed
echo "== 1 file appended"
"$GEN" append "$DATA" "$FILES" 1
backup appended
echo "== restore"
for tool in $TOOLS; do
	t=$WORK/restore-$tool
	mkdir -p "$t"
	if [ $tool = strata ]; then
		settle "$R_STRATA"
		timed restore strata "$STRATA" -r "$R_STRATA" restore latest --target "$t" || continue
	else
		settle "$R_RESTIC"
		timed restore restic restic -r "$R_RESTIC" restore latest --target "$t" || continue
	fi
	root=$t
	[ -d "$t$DATA" ] && root=$t$DATA
	if ! diff -r "$DATA" "$root" >"$WORK/logs/diff-$tool" 2>&1; then
		echo "  $tool: restore differs from the source ($(wc -l <"$WORK/logs/diff-$tool") lines of diff)"
		FAIL=1
	fi
done
for tool in $TOOLS; do rm -rf "$WORK/restore-$tool"; done
echo "== local cache"
if has_tool strata; then
	sc=$(du -sb "$STRATA_CACHE_DIR" | cut -f1)
	sf=$(du -sb "$STRATA_CACHE_DIR"/*/files* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
	si=$(du -sb "$STRATA_CACHE_DIR"/*/index* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
	printf 'cache\tstrata\t%s\t-\t-\n' "$sc" >>"$RESULTS"
	echo "  strata  $sc bytes (files cache $sf, index $si)"
fi
if has_tool restic; then
	rc_=$(du -sb "$RESTIC_CACHE_DIR" | cut -f1)
	printf 'cache\trestic\t%s\t-\t-\n' "$rc_" >>"$RESULTS"
	echo "  restic  $rc_ bytes"
fi
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"

report_table
[ -n "${BENCH_OUT:-}" ] && cp "$RESULTS" "$BENCH_OUT"
exit $FAIL
