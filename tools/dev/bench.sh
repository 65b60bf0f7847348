#!/bin/sh
# bench.sh — strata against restic and borg on chain-like data.
#
#   sh tools/dev/bench.sh [SIZE]          (make bench SIZE=2G; SIZE defaults to 2G)
#
# Generates a node-like data set with build/tools/dev/gen_chain_data, then for
# strata, restic (repository v2, --compression auto) and borg (repokey-blake2,
# zstd,3), interleaved step by step:
#   first    first backup of the data set
#   incr1    gen_chain_data advance 1, then an incremental backup
#   incr1kc  gen_chain_data advance 1, then an incremental backup with
#            strata's key cache on (--key-cache, tools/cli/doc/commands.md "Key cache"; its
#            entry made by an untimed `snapshots` run before): what a job
#            run every block with STRATA_KEY_CACHE set costs. The peers
#            back up the same block as in incr1.
#   incr20   gen_chain_data advance 20, then an incremental backup
#   restore  restore the latest snapshot (to a tmpfs) and diff -r it
#   check    a check that reads all data
#   prune    forget all but the latest snapshot, then prune (borg: prune + compact)
#   small    many small files (a copy of /usr/share): first backup, unchanged
#            re-backup, restore + diff -r; strata against restic
#   prims    strata's primitive throughputs (build/tools/dev/bench_chunker,
#            strata bench-primitives), when present
#   pg       a PostgreSQL data directory (initdb, then pgbench -i -s
#            PG_SCALE; the server stopped, so checkpointed, before each
#            backup): pg-first, then pg-t1000 after 1,000 more pgbench
#            transactions and pg-t20000 after 20,000 more, then pg-restore
#            (restore + diff -r); strata, restic and borg side by side
#   lsm      a RocksDB database written by db_bench (fillrandom of
#            LSM_KEYS keys: 32-byte keys, 256-byte values that compress to
#            half, snappy tables as RocksDB's default), flushed and compacted
#            (db_bench compact) before each backup: lsm-first, then three
#            rounds lsm-incr1..3 of overwriting LSM_KEYS/20 random keys and
#            compacting, then lsm-restore
# Each tool run reports wall seconds, CPU seconds (user+sys), peak RSS and the
# repository bytes added (du -sb before/after), then ratios strata/peer.
#
# Environment:
#   BENCH_STEPS  steps to run, e.g. "first incr1 restore" (default: all);
#                first runs too when a later chain step needs it
#   BENCH_TOOLS  tools to run (default "strata restic borg")
#   KEEP=1       keep the work directory
#   BENCH_DIR    work directory (default /var/tmp/strata-bench.PID)
#   BENCH_OUT    also copy the raw results (TSV) to this file
#   SEED         generator seed (default 1)
#   SMALL_SRC    small-files source (default /usr/share); SMALL_MAX caps the
#                copy (default 1G)
#   STRATA       strata binary (default build/strata)
#   PG_SCALE     pgbench scale of the pg step (default 10: a 160 MiB data
#                directory; the issue's figures used 50, 1.5 GB)
#   LSM_KEYS     keys of the lsm step (default 1000000: about 200 MiB of
#                tables)
#   BENCH_TIMEOUT  seconds before one tool run is killed (default 7200)
#   BENCH_WARM=0 skip touching 80 % of the memory up front (see warm_memory;
#                on a box whose memory other jobs hold it can take minutes)
#
# Exit status: 0 when every run succeeded and every restore was bit-exact;
# 1 otherwise (in particular when strata is missing or any strata command
# fails: its rows read "strata: FAILED (reason)" and the peers still run).
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)   # tools/dev/ -> the checkout
SIZE=${1:-${SIZE:-}}
[ -n "$SIZE" ] || SIZE=2G
SEED=${SEED:-1}
KEEP=${KEEP:-0}
STRATA=${STRATA:-$ROOT/build/strata}
TOOLS=${BENCH_TOOLS:-strata restic borg}
SMALL_SRC=${SMALL_SRC:-/usr/share}
SMALL_MAX=${SMALL_MAX:-1G}
WORK=${BENCH_DIR:-/var/tmp/strata-bench.$$}
TIMEOUT=${BENCH_TIMEOUT:-7200}
TIME=/usr/bin/time
PG_SCALE=${PG_SCALE:-10}
LSM_KEYS=${LSM_KEYS:-1000000}
ALL_STEPS="first incr1 incr1kc incr20 restore check prune small pg lsm prims"
STEPS=${BENCH_STEPS:-all}
[ "$STEPS" = all ] && STEPS=$ALL_STEPS

MNT=""        # tmpfs we mounted (unmounted on exit)
SHM=""        # /dev/shm directory we made (removed on exit)
FAIL=0        # exit status
STRATA_BAD="" # why strata steps cannot run any more, when set
STRATA_SMALL_BAD=""

die() { echo "bench: $*" >&2; exit 1; }

cleanup() {
	rc=$?
	set +e
	if [ -n "$MNT" ]; then umount "$MNT" 2>/dev/null || umount -l "$MNT"; fi
	[ -n "$SHM" ] && rm -rf "$SHM"
	if [ "$KEEP" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit "$rc"
}

want() { case " $STEPS " in *" $1 "*) return 0 ;; esac; return 1; }
has_tool() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }
drop_tool() { TOOLS=$(echo " $TOOLS " | sed "s/ $1 / /; s/^ *//; s/ *$//"); }

for s in $STEPS; do
	case " $ALL_STEPS " in *" $s "*) ;; *) die "unknown step '$s' (steps: $ALL_STEPS)" ;; esac
done
CHAIN=0
for s in incr1 incr1kc incr20 restore check prune; do
	if want $s && ! want first; then
		echo "note: step '$s' needs the first backup; running 'first' too"
		STEPS="first $STEPS"
	fi
done
for s in first incr1 incr1kc incr20 restore check prune; do want $s && CHAIN=1; done

[ -x "$TIME" ] || die "GNU time is required at $TIME (apt-get install time)"
[ -e "$WORK" ] && die "work directory $WORK already exists"
mkdir -p "$WORK/logs"
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ------------------------------------------------------------ peers
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
install_pkg() { # COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "installing $2 ..."
	{ $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" ||
	  { $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2"; }
	} >"$WORK/logs/install-$2" 2>&1 || true
	command -v "$1" >/dev/null 2>&1
}
if has_tool restic && ! install_pkg restic restic; then
	echo "restic: missing and could not be installed; skipped"; drop_tool restic; FAIL=1
fi
if has_tool borg && ! install_pkg borg borgbackup; then
	echo "borg: missing and could not be installed; skipped"; drop_tool borg; FAIL=1
fi
if has_tool strata && [ ! -x "$STRATA" ]; then
	STRATA_BAD="binary $STRATA missing"
	STRATA_SMALL_BAD=$STRATA_BAD
fi

# ------------------------------------------------------------ generator
GEN=$ROOT/build/tools/dev/gen_chain_data
if [ $CHAIN = 1 ] && { [ ! -x "$GEN" ] ||
	[ -n "$(find "$ROOT/tools/dev/gen_chain_data.c" -newer "$GEN" 2>/dev/null)" ]; }; then
	if ! (cd "$ROOT" && make -s build/tools/dev/gen_chain_data) >"$WORK/logs/make-gen" 2>&1; then
		# someone's unfinished library file must not stop the benchmark
		mkdir -p "$WORK/bin"
		GEN=$WORK/bin/gen_chain_data
		${CC:-cc} -std=c11 -O2 -o "$GEN" "$ROOT/tools/dev/gen_chain_data.c" ||
			die "cannot build gen_chain_data"
	fi
fi

# ------------------------------------------------------------ environment
PW=$WORK/password
echo "strata-bench-password" >"$PW"
export STRATA_PASSWORD_FILE="$PW" STRATA_CACHE_DIR="$WORK/strata-cache"
export RESTIC_PASSWORD_FILE="$PW" RESTIC_CACHE_DIR="$WORK/restic-cache"
export BORG_PASSPHRASE=strata-bench-password
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_BASE_DIR="$WORK/borg-home" BORG_CACHE_DIR="$WORK/borg-cache" BORG_CONFIG_DIR="$WORK/borg-config"
DATA=$WORK/data
SMALL=$WORK/small
RESULTS=$WORK/results.tsv
: >"$RESULTS"

bytes_of() { if [ -e "$1" ]; then du -sb "$1" | cut -f1; else echo 0; fi; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
warm() { find "$1" -type f -exec cat {} + >/dev/null 2>&1 || true; }
# On a VM whose host maps guest memory on first touch (Firecracker here),
# the first program to use never-touched memory pays the host's faults: a
# 2 GiB restore into a new tmpfs took 5.1 s (6.4 s of kernel CPU) before
# and 3.0 s after this. Strata runs first in every step, so it would pay
# most. Touch 80 % of the available memory once, up front.
warm_memory() {
	python3 - <<'PY' || echo "   (could not warm memory)"
import mmap
want = 0
for line in open("/proc/meminfo"):
    if line.startswith("MemAvailable:"):
        want = int(line.split()[1]) * 1024 * 8 // 10
step = 1 << 30
maps = []
for _ in range(want // step):
    m = mmap.mmap(-1, step)
    for i in range(0, step, 4096):
        m[i] = 1
    maps.append(m)
for m in maps:
    m.close()
print("   touched %.1f GiB of memory once" % (len(maps) * step / 2**30))
PY
}
human_size() { # 2G -> bytes
	awk -v s="$1" 'BEGIN { n = s + 0; u = toupper(substr(s, length(n "") + 1, 1));
		m = u == "K" ? 1024 : u == "M" ? 1048576 : u == "G" ? 1073741824 : u == "T" ? 1099511627776 : 1;
		printf "%.0f", n * m }'
}

# record STEP TOOL STATUS WALL CPU RSS_KB ADDED SRC_BYTES NOTE
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# fail_row STEP TOOL REASON: a run that did not happen or did not succeed
fail_row() {
	record "$1" "$2" FAILED - - - - - "$3"
	echo "  $2: FAILED ($3)"
	FAIL=1
}

# timed STEP TOOL REPO SRC_BYTES CMD...: run CMD under GNU time; a result row.
# Returns the command's status.
timed() {
	t_step=$1 t_tool=$2 t_repo=$3 t_src=$4
	shift 4
	t_log=$WORK/logs/$t_step-$t_tool
	echo "$*" >"$t_log.cmd"
	t_b0=$(bytes_of "$t_repo")
	t_rc=0
	"$TIME" -f '%e %U %S %M' -o "$t_log.time" timeout "$TIMEOUT" "$@" \
		>"$t_log.out" 2>"$t_log.err" </dev/null || t_rc=$?
	sync
	t_b1=$(bytes_of "$t_repo")
	if [ $t_rc -ne 0 ]; then
		t_why=$(grep -v '^[[:space:]]*$' "$t_log.err" | tail -n 1 | cut -c1-100)
		[ $t_rc -eq 124 ] && t_why="timed out after $TIMEOUT s"
		fail_row "$t_step" "$t_tool" "exit $t_rc: ${t_why:-no message}"
		return $t_rc
	fi
	# shellcheck disable=SC2046 # split "wall user sys rss" into $1..$4
	set -- $(tail -n 1 "$t_log.time")
	t_cpu=$(awk -v u="$2" -v s="$3" 'BEGIN { printf "%.2f", u + s }')
	record "$t_step" "$t_tool" ok "$1" "$t_cpu" "$4" $((t_b1 - t_b0)) "$t_src" ""
	printf '  %-7s %8.2f s wall %8.2f s cpu %7.1f MiB rss %10s MiB added\n' \
		"$t_tool" "$1" "$t_cpu" "$(awk -v k="$4" 'BEGIN { print k / 1024 }')" "$(mib $((t_b1 - t_b0)))"
	return 0
}

# note_last STEP TOOL NOTE: attach a note to the last row of STEP/TOOL
note_last() {
	awk -F '\t' -v OFS='\t' -v s="$1" -v t="$2" -v n="$3" \
		'{ if ($1 == s && $2 == t) last = NR; line[NR] = $0 }
		 END { for (i = 1; i <= NR; i++) { if (i == last) { split(line[i], f, "\t");
		       f[9] = f[9] == "" ? n : f[9] "; " n; line[i] = f[1];
		       for (j = 2; j <= 9; j++) line[i] = line[i] OFS f[j] } print line[i] } }' \
		"$RESULTS" >"$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
}

# restored_root TARGET SRC: where a tool put SRC under TARGET
restored_root() {
	probe=$(cd "$2" && find . -type f | head -n 1)
	for c in "$1$2" "$1/$(basename "$2")" "$1"; do
		if [ -e "$c/$probe" ]; then echo "$c"; return 0; fi
	done
	echo "$1"
}

# ------------------------------------------------------------ restore target
RT=""
RT_SIZE=0
# This VM reports free memory to its host in 8 MiB blocks (virtio-balloon
# free page reporting, page_reporting_order=11 on the kernel command line),
# and the host drops it: the first touch of such a page faults on the
# host. A restore into a tmpfs touches a page for every byte it writes, so
# the tool that ran 2 s or more after the memory was freed paid ~2.5 s of
# kernel time for 2 GiB (perf: copy_folio_from_iter_atomic), and the next
# tool, which found the pages just freed by the previous one's restore,
# did not: strata 3.7 s cold against 1.5 s, restic 5.5 s against 3.9 s.
# Before each timed restore into memory, write and delete a file of the
# restore's size there, so that every tool finds the same just-freed pages.
prefault() { # BYTES
	[ -n "$MNT$SHM" ] || return 0
	dd if=/dev/zero of="$RT/.prefault" bs=1M count=$(( $1 / 1048576 + 64 )) status=none 2>/dev/null || true
	rm -f "$RT/.prefault"
}

setup_restore_target() { # NEED_BYTES: a place that holds NEED_BYTES restored
	need=$(( $1 + $1 / 8 + 67108864 ))
	avail=$(awk '/^MemAvailable:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
	if [ -n "$MNT" ] && [ "$need" -gt "$RT_SIZE" ]; then
		# a later step restores more than the tmpfs was sized for
		if [ "$need" -le $(( avail * 7 / 10 )) ] &&
		   mount -o remount,size=$(( need / 1048576 ))m "$MNT" 2>/dev/null; then
			RT_SIZE=$need
		else
			RT=$WORK/restore
			mkdir -p "$RT"
			echo "restore target: disk ($RT, not enough memory for a tmpfs)"
		fi
	fi
	[ -n "$RT" ] && return 0
	if [ "$need" -gt $(( avail * 7 / 10 )) ]; then
		RT=$WORK/restore
		RT_KIND="disk ($RT, not enough memory for a tmpfs)"
	elif [ "$(id -u)" = 0 ] && mkdir -p "$WORK/rt" &&
	     mount -t tmpfs -o size=$(( need / 1048576 ))m,mode=0700 strata-bench "$WORK/rt" 2>/dev/null; then
		MNT=$WORK/rt
		RT=$MNT
		RT_SIZE=$need
		RT_KIND="tmpfs mounted at $RT"
	elif [ -d /dev/shm ] && [ -w /dev/shm ]; then
		SHM=/dev/shm/strata-bench-restore.$$
		RT=$SHM
		RT_KIND="/dev/shm ($RT)"
	else
		RT=$WORK/restore
		RT_KIND="disk ($RT)"
	fi
	mkdir -p "$RT"
	echo "restore target: $RT_KIND"
}

# verify STEP TOOL TARGET SRC: diff -r the restore against the source
verify() {
	v_root=$(restored_root "$3" "$4")
	if diff -r --no-dereference "$4" "$v_root" >"$WORK/logs/$1-$2.diff" 2>&1; then
		note_last "$1" "$2" "bit-exact"
		echo "  $2: restore is bit-exact"
	else
		n=$(wc -l <"$WORK/logs/$1-$2.diff")
		note_last "$1" "$2" "NOT bit-exact ($n diff lines)"
		echo "  $2: restore is NOT bit-exact ($n diff lines):"
		head -n 5 "$WORK/logs/$1-$2.diff" | sed 's/^/    /'
		FAIL=1
	fi
}

# ------------------------------------------------------------ tool runs
R_STRATA=$WORK/repo-strata
R_RESTIC=$WORK/repo-restic
R_BORG=$WORK/repo-borg
BORG_LAST=""

strata_run() { # STEP REPO SRC_BYTES ARGS... ; honours STRATA_BAD
	s_step=$1 s_repo=$2 s_src=$3
	shift 3
	if [ -n "$STRATA_BAD" ]; then fail_row "$s_step" strata "$STRATA_BAD"; return 1; fi
	timed "$s_step" strata "$s_repo" "$s_src" "$STRATA" -r "$s_repo" "$@"
}

init_repos() { # STRATA_REPO RESTIC_REPO BORG_REPO (empty: skip)
	if has_tool strata && [ -n "$1" ]; then
		if [ -z "$STRATA_BAD" ] &&
		   ! "$STRATA" -r "$1" init >"$WORK/logs/init-strata.out" 2>&1; then
			STRATA_BAD="init failed: $(tail -n 1 "$WORK/logs/init-strata.out" | cut -c1-80)"
			echo "strata: FAILED ($STRATA_BAD)"
			FAIL=1
		fi
	fi
	if has_tool restic && [ -n "$2" ]; then
		restic -r "$2" init --repository-version 2 >"$WORK/logs/init-restic.out" 2>&1 ||
			{ echo "restic init failed:"; cat "$WORK/logs/init-restic.out"; drop_tool restic; FAIL=1; }
	fi
	if has_tool borg && [ -n "$3" ]; then
		borg init -e repokey-blake2 "$3" >"$WORK/logs/init-borg.out" 2>&1 ||
			{ echo "borg init failed:"; cat "$WORK/logs/init-borg.out"; drop_tool borg; FAIL=1; }
	fi
}

backup_step() { # STEP
	b_src=$(bytes_of "$DATA")
	warm "$DATA"
	echo "== $1: backup of $(mib "$b_src") MiB"
	for tool in $TOOLS; do
		case $tool in
		strata)
			kc=""
			if [ "$1" = incr1kc ] && [ -z "$STRATA_BAD" ]; then
				kc="--key-cache 600"
				"$STRATA" -r "$R_STRATA" $kc snapshots --latest 1 >"$WORK/logs/incr1kc-prime.out" 2>&1 ||
					echo "  strata: priming the key cache failed: $(tail -n 1 "$WORK/logs/incr1kc-prime.out")"
			fi
			if ! strata_run "$1" "$R_STRATA" "$b_src" $kc backup "$DATA" && [ "$1" = first ]; then
				STRATA_BAD="first backup failed"
			fi
			if [ -n "$kc" ]; then "$STRATA" -r "$R_STRATA" key uncache -q >/dev/null 2>&1 || true; fi ;;
		restic)
			timed "$1" restic "$R_RESTIC" "$b_src" \
				restic -r "$R_RESTIC" --compression auto backup --host bench "$DATA" || true ;;
		borg)
			if timed "$1" borg "$R_BORG" "$b_src" \
				env -C "$(dirname "$DATA")" borg create --compression zstd,3 \
				"$R_BORG::$1" "$(basename "$DATA")"; then
				BORG_LAST=$1
			fi ;;
		esac
	done
}

# The generator's writes are flushed before any tool runs: otherwise the
# first tool to fsync (strata, which runs first in every step) pays for
# writing them out (ext4 commits them with its journal): 77 MB of new
# block data made strata's 1-block incremental 0.64 s instead of 0.45 s.
advance() { # N
	echo "== gen_chain_data advance $1"
	"$TIME" -f '   %e s wall' "$GEN" advance "$DATA" "$1" 2>&1
	sync
}

# Each tool's repository is read once before its restore and its check,
# like the source before a backup: all three then read packs from the page
# cache, whichever way they wrote them (strata writes packs with O_DIRECT,
# so they are not cached after its backup; restic and borg's are).
repo_of() {
	case $1 in strata) echo "$R_STRATA" ;; restic) echo "$R_RESTIC" ;; borg) echo "$R_BORG" ;; esac
}

restore_step() { # [STEP] (default restore)
	r_step=${1:-restore}
	r_src=$(bytes_of "$DATA")
	setup_restore_target "$r_src"
	echo "== $r_step: latest snapshot ($(mib "$r_src") MiB) to $RT"
	for tool in $TOOLS; do
		t=$RT/restore-$tool
		rm -rf "$t"
		mkdir -p "$t"
		warm "$(repo_of $tool)"
		prefault "$r_src"
		case $tool in
		strata)
			if strata_run "$r_step" "$R_STRATA" "$r_src" restore latest --target "$t"; then
				verify "$r_step" strata "$t" "$DATA"
			fi ;;
		restic)
			if timed "$r_step" restic "$R_RESTIC" "$r_src" \
				restic -r "$R_RESTIC" restore latest --target "$t"; then
				verify "$r_step" restic "$t" "$DATA"
			fi ;;
		borg)
			if [ -z "$BORG_LAST" ]; then
				fail_row "$r_step" borg "no archive"
			elif timed "$r_step" borg "$R_BORG" "$r_src" \
				env -C "$t" borg extract "$R_BORG::$BORG_LAST"; then
				verify "$r_step" borg "$t" "$DATA"
			fi ;;
		esac
		rm -rf "$t"
	done
}

check_step() {
	c_src=$(bytes_of "$DATA")
	echo "== check: read all data"
	for tool in $TOOLS; do
		warm "$(repo_of $tool)"
		case $tool in
		strata) strata_run check "$R_STRATA" "$c_src" check --read-data || true ;;
		restic) timed check restic "$R_RESTIC" "$c_src" restic -r "$R_RESTIC" check --read-data || true ;;
		borg)   timed check borg "$R_BORG" "$c_src" borg check --verify-data "$R_BORG" || true ;;
		esac
	done
}

# forget+prune on the same history: keep the newest snapshot, drop the
# others, delete what only they needed (borg: prune, then compact).
prune_step() {
	p_src=$(bytes_of "$DATA")
	echo "== prune: forget all but the latest snapshot, then reclaim space"
	for tool in $TOOLS; do
		case $tool in
		strata) strata_run prune "$R_STRATA" "$p_src" forget --keep-last 1 --prune || true ;;
		restic) timed prune restic "$R_RESTIC" "$p_src" \
			restic -r "$R_RESTIC" forget --keep-last 1 --prune || true ;;
		borg)   timed prune borg "$R_BORG" "$p_src" \
			sh -c 'borg prune --keep-last 1 "$1" && borg compact "$1"' sh "$R_BORG" || true ;;
		esac
	done
}

small_step() {
	max=$(human_size "$SMALL_MAX")
	echo "== small: copying $SMALL_SRC (capped at $SMALL_MAX)"
	mkdir -p "$SMALL"
	total=0
	for e in "$SMALL_SRC"/* "$SMALL_SRC"/.[!.]*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		sz=$(du -sb "$e" 2>/dev/null | cut -f1)
		[ $((total + sz)) -le "$max" ] || continue
		cp -a "$e" "$SMALL/" 2>/dev/null || true
		total=$((total + sz))
	done
	# unreadable or special files would make every tool complain: drop them
	find "$SMALL" ! -type f ! -type d ! -type l -exec rm -f {} + 2>/dev/null || true
	nfiles=$(find "$SMALL" -type f | wc -l)
	s_src=$(bytes_of "$SMALL")
	echo "   $nfiles files, $(mib "$s_src") MiB"
	SR_STRATA=$WORK/repo-small-strata
	SR_RESTIC=$WORK/repo-small-restic
	saved_bad=$STRATA_BAD
	STRATA_BAD=$STRATA_SMALL_BAD
	if has_tool strata && [ -z "$STRATA_BAD" ] &&
	   ! "$STRATA" -r "$SR_STRATA" init >"$WORK/logs/init-small-strata.out" 2>&1; then
		STRATA_BAD="init failed: $(tail -n 1 "$WORK/logs/init-small-strata.out" | cut -c1-80)"
		FAIL=1
	fi
	if has_tool restic && ! restic -r "$SR_RESTIC" init --repository-version 2 \
		>"$WORK/logs/init-small-restic.out" 2>&1; then
		echo "restic init failed"; FAIL=1
	fi
	warm "$SMALL"
	for step in small-first small-again; do
		echo "== $step: backup of $nfiles files"
		for tool in $TOOLS; do
			case $tool in
			strata)
				if ! strata_run "$step" "$SR_STRATA" "$s_src" backup "$SMALL" && [ $step = small-first ]; then
					STRATA_BAD="first backup failed"
				fi ;;
			restic)
				timed "$step" restic "$SR_RESTIC" "$s_src" \
					restic -r "$SR_RESTIC" --compression auto backup --host bench "$SMALL" || true ;;
			esac
		done
	done
	setup_restore_target "$s_src"
	echo "== small-restore"
	for tool in $TOOLS; do
		t=$RT/small-$tool
		rm -rf "$t"
		mkdir -p "$t"
		case $tool in strata) warm "$SR_STRATA" ;; restic) warm "$SR_RESTIC" ;; esac
		prefault "$s_src"
		case $tool in
		strata)
			if strata_run small-restore "$SR_STRATA" "$s_src" restore latest --target "$t"; then
				verify small-restore strata "$t" "$SMALL"
			fi ;;
		restic)
			if timed small-restore restic "$SR_RESTIC" "$s_src" \
				restic -r "$SR_RESTIC" restore latest --target "$t"; then
				verify small-restore restic "$t" "$SMALL"
			fi ;;
		esac
		rm -rf "$t"
	done
	STRATA_BAD=$saved_bad
}

prims_step() {
	echo "== strata primitives"
	bc_bin=$ROOT/build/tools/dev/bench_chunker
	if [ -x "$bc_bin" ]; then
		echo "-- $bc_bin"
		timeout 600 "$bc_bin" 2>&1 | sed 's/^/   /' || echo "   bench_chunker failed"
	else
		echo "   (build/tools/dev/bench_chunker not built: skipped)"
	fi
	if [ -x "$STRATA" ]; then
		if timeout 900 "$STRATA" bench-primitives >"$WORK/logs/prims.out" 2>&1; then
			echo "-- strata bench-primitives"
			sed 's/^/   /' "$WORK/logs/prims.out"
		else
			echo "   (strata bench-primitives not available: $(tail -n 1 "$WORK/logs/prims.out" | cut -c1-80))"
		fi
	else
		echo "   (strata binary missing: bench-primitives skipped)"
	fi
}

# ------------------------------------------------------------ database steps
# db_steps PREFIX: fresh repositories for a database data set in $DATA;
# STRATA_BAD of the chain steps does not carry over.
db_repos() { # PREFIX
	R_STRATA=$WORK/repo-$1-strata R_RESTIC=$WORK/repo-$1-restic R_BORG=$WORK/repo-$1-borg
	BORG_LAST=""
	STRATA_BAD=$STRATA_SMALL_BAD
	init_repos "$R_STRATA" "$R_RESTIC" "$R_BORG"
}

pg_step() {
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r | head -n 1)
	if [ -z "$PGBIN" ] || ! [ -x "$PGBIN/pgbench" ]; then
		echo "== pg: PostgreSQL server binaries and pgbench not found: skipped"
		return 0
	fi
	AS=""
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || { echo "== pg: running as root without a user postgres: skipped"; return 0; }
		AS="runuser -u postgres --"
	fi
	PGW=$WORK/pg
	DATA=$PGW/data
	PGPORT=$(( 20000 + $$ % 10000 ))
	mkdir -p "$PGW/sock"
	[ -n "$AS" ] && chown -R postgres "$PGW"
	echo "== pg: $($PGBIN/postgres --version), pgbench -i -s $PG_SCALE"
	$AS "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --no-sync >"$WORK/logs/pg-initdb" 2>&1 ||
		{ echo "   initdb failed (see logs/pg-initdb)"; FAIL=1; return 0; }
	pgb() { # pgbench ARGS... with the server running; stopped after
		$AS "$PGBIN/pg_ctl" -D "$DATA" -l "$PGW/log" -w -t 120 \
			-o "-p $PGPORT -k $PGW/sock -c listen_addresses= -c synchronous_commit=off" start >/dev/null &&
		$AS "$PGBIN/pgbench" -h "$PGW/sock" -p "$PGPORT" -U postgres "$@" postgres >>"$WORK/logs/pgbench" 2>&1
		pg_rc=$?
		$AS "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1
		return $pg_rc
	}
	t0=$(date +%s)
	pgb -i -q -s "$PG_SCALE" || { echo "   pgbench -i failed (logs/pgbench)"; FAIL=1; return 0; }
	echo "   pgbench -i -s $PG_SCALE: $(( $(date +%s) - t0 )) s, data directory $(mib "$(bytes_of "$DATA")") MiB"
	sync
	db_repos pg
	backup_step pg-first
	for n in 1000 20000; do
		t0=$(date +%s)
		pgb -c 1 -t "$n" || { echo "   pgbench -t $n failed (logs/pgbench)"; FAIL=1; return 0; }
		echo "== pgbench -c 1 -t $n: $(( $(date +%s) - t0 )) s"
		sync
		backup_step "pg-t$n"
	done
	restore_step pg-restore
	[ "$KEEP" = 1 ] || rm -rf "$PGW" "$R_STRATA" "$R_RESTIC" "$R_BORG"
}

lsm_step() {
	if ! command -v db_bench >/dev/null 2>&1; then
		echo "== lsm: db_bench not found (apt-get install rocksdb-tools): skipped"
		return 0
	fi
	DATA=$WORK/lsm
	# Options of a node's key-value store: 64 MiB memtables and tables,
	# snappy blocks (RocksDB's default, LevelDB's only choice); keys of 32
	# bytes (hashes), values of 256 that compress to half.
	LSM_OPTS="--db=$DATA --key_size=32 --value_size=256 --compression_ratio=0.5
		--compression_type=snappy --write_buffer_size=67108864 --target_file_size_base=67108864
		--max_bytes_for_level_base=268435456 --threads=1 --stats_interval_seconds=0 --seed=$SEED"
	lsm_run() { # BENCHMARKS NUM [more db_bench options]
		l_b=$1 l_n=$2
		shift 2
		# shellcheck disable=SC2086 # LSM_OPTS is a list of options
		db_bench $LSM_OPTS --benchmarks="$l_b" --num="$l_n" "$@" >>"$WORK/logs/db_bench" 2>&1
	}
	t0=$(date +%s)
	lsm_run fillrandom,compact "$LSM_KEYS" || { echo "== lsm: db_bench failed (logs/db_bench)"; FAIL=1; return 0; }
	echo "== lsm: db_bench fillrandom of $LSM_KEYS keys + compact: $(( $(date +%s) - t0 )) s, $(mib "$(bytes_of "$DATA")") MiB"
	sync
	db_repos lsm
	backup_step lsm-first
	for i in 1 2 3; do
		lsm_run overwrite,compact $(( LSM_KEYS / 20 )) --use_existing_db=1 --seed=$((SEED + i)) ||
			{ echo "   db_bench overwrite failed (logs/db_bench)"; FAIL=1; return 0; }
		echo "== lsm: overwrite of $(( LSM_KEYS / 20 )) random keys + compact: $(mib "$(bytes_of "$DATA")") MiB"
		sync
		backup_step "lsm-incr$i"
	done
	restore_step lsm-restore
	[ "$KEEP" = 1 ] || rm -rf "$DATA" "$R_STRATA" "$R_RESTIC" "$R_BORG"
}

# ------------------------------------------------------------ report
report() {
	echo
	echo "== results (MB/s = source bytes / wall; MB = 10^6 bytes)"
	awk -F '\t' '
	BEGIN { printf "%-13s %-7s %8s %8s %9s %11s %8s  %s\n",
		"step", "tool", "wall_s", "cpu_s", "rss_MiB", "added_MiB", "MB/s", "note" }
	$3 == "FAILED" { printf "%-13s %-7s %s: FAILED (%s)\n", $1, $2, $2, $9; next }
	{ printf "%-13s %-7s %8.2f %8.2f %9.1f %11.2f %8.1f  %s\n", $1, $2, $4, $5, $6 / 1024,
		$7 / 1048576, ($4 > 0 ? $8 / 1e6 / $4 : 0), $9 }' "$RESULTS"
	if has_tool strata; then
		echo
		echo "== strata against peers: time = peer/strata (\"x faster\"); RSS, bytes = strata/peer"
		awk -F '\t' '
		function r(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-" }
		{ key = $1 SUBSEP $2; ok[key] = ($3 == "ok"); wall[key] = $4; cpu[key] = $5
		  rss[key] = $6; add[key] = $7; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
		END {
			printf "%-13s %-7s %9s %9s %9s %9s\n", "step", "vs", "wall", "cpu", "rss", "bytes"
			for (i = 1; i <= n; i++) {
				s = order[i]; k = s SUBSEP "strata"
				for (p = 1; p <= 2; p++) {
					peer = p == 1 ? "restic" : "borg"; q = s SUBSEP peer
					if (!(q in ok)) continue
					if (!ok[k] || !ok[q]) { printf "%-13s %-7s %9s\n", s, peer, "-"; continue }
					w = r(wall[q], wall[k]); c = r(cpu[q], cpu[k])
					printf "%-13s %-7s %9s %9s %9s %9s\n", s, peer,
						w == "-" ? w : w "x", c == "-" ? c : c "x",
						r(rss[k], rss[q]), r(add[k], add[q])
				}
			}
		}' "$RESULTS"
	fi
	if [ -n "${BENCH_OUT:-}" ]; then cp "$RESULTS" "$BENCH_OUT"; fi
}

# ------------------------------------------------------------ main
echo "strata bench: SIZE=$SIZE steps: $STEPS; tools: $TOOLS"
echo "machine: $(nproc) CPUs, $(awk '/^model name/ { $1 = $2 = $3 = ""; print; exit }' /proc/cpuinfo | sed 's/^ *//'), $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
has_tool restic && echo "restic: $(restic version 2>/dev/null | head -n 1)"
has_tool borg && echo "borg: $(borg --version 2>/dev/null)"
has_tool strata && echo "strata: ${STRATA_BAD:-$STRATA}"
echo "work directory: $WORK"
echo "load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg) (other load skews the figures)"
if [ "${BENCH_WARM:-1}" = 1 ]; then
	echo "== warming memory"
	warm_memory
fi

if [ $CHAIN = 1 ]; then
	echo "== generating $SIZE of chain-like data (seed $SEED)"
	"$TIME" -f '   %e s wall, %U s user, %S s sys' "$GEN" init "$DATA" "$SIZE" --seed "$SEED" 2>&1
	sync   # as in advance()
	for d in "$DATA"/*; do printf '   %-12s %10s MiB\n' "$(basename "$d")" "$(mib "$(bytes_of "$d")")"; done
	init_repos "$R_STRATA" "$R_RESTIC" "$R_BORG"
	backup_step first
	if want incr1; then advance 1; backup_step incr1; fi
	if want incr1kc; then advance 1; backup_step incr1kc; fi
	if want incr20; then advance 20; backup_step incr20; fi
	want restore && restore_step
	want check && check_step
	want prune && prune_step
	# the repositories and data are no longer needed: free the disk
	[ "$KEEP" = 1 ] || rm -rf "$DATA" "$R_STRATA" "$R_RESTIC" "$R_BORG"
fi
if want small; then
	has_tool borg && { saved_tools=$TOOLS; drop_tool borg; }
	small_step
	[ -n "${saved_tools:-}" ] && TOOLS=$saved_tools
fi
want pg && pg_step
want lsm && lsm_step
want prims && prims_step

report
echo "load average at end: $(cut -d ' ' -f 1-3 /proc/loadavg)"
if [ $FAIL -ne 0 ]; then
	echo
	echo "bench: some runs FAILED (see above; KEEP=1 keeps the logs in $WORK/logs)"
fi
exit $FAIL
