# e2e_progress.sh — the live progress line, without screenshots: commands
# run under a pseudo-terminal (python3's pty module), their raw output is
# captured, and the checker looks at the bytes. On a terminal: a line with
# files, bytes and a rate (an ETA where the total is known) redrawn in place
# ("\r\033[K") several times but at most ~5 a second, and erased
# ("\r\033[K") before anything else is printed and at the end. Never: with
# stderr redirected to a file, with --quiet or with --json (not one escape
# byte). For backup (a throttled source so it lasts about 2 s), backup
# --verbose, restore, check --read-data, replicate and prune. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

export STRATA_REPOSITORY="$R"
S="$T/src"

# ptyrun.py OUT CMD... — run CMD with stdin, stdout and stderr on a new
# 120x40 pseudo-terminal; write everything it printed to OUT; exit with
# CMD's status.
cat >"$T/ptyrun.py" <<'EOF'
import fcntl, os, pty, struct, sys, termios
out, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
data = b""
while True:
    try:
        b = os.read(fd, 65536)
    except OSError:   # EIO: the child closed the terminal
        break
    if not b:
        break
    data += b
_, st = os.waitpid(pid, 0)
open(out, "wb").write(data)
sys.exit(os.waitstatus_to_exitcode(st))
EOF

# lines.py FILE MODE [ARG] — judge the captured bytes:
#   draws N REGEX   at least N progress draws, each "\r\033[K" + a line; the
#                   first one matches REGEX; the last draw is followed by
#                   "\r\033[K" (erased) and, after that, only other output
#   rate SECONDS    no more than 5 draws a second (+1) over SECONDS
#   clean           not one escape byte
#   verbose         every line that is not a progress draw starts on a
#                   clean line (after an erase or a newline)
cat >"$T/lines.py" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
mode = sys.argv[2]
ERASE = "\r\x1b[K"
# A draw: an erase followed by text up to the next \r or \n.
draws = [m for m in re.finditer(r"\r\x1b\[K([^\r\n]+?)(?=\r|\n|$)", data)]
progress = [m for m in draws if re.search(r"/s(,|$)", m.group(1))]
def die(msg):
    print(msg + " | output: " + repr(data[:300]) + " ... " + repr(data[-300:]))
    sys.exit(1)
if mode == "draws":
    n, rx = int(sys.argv[3]), sys.argv[4]
    if len(progress) < n:
        die("%d progress draws, wanted at least %d" % (len(progress), n))
    if not re.search(rx, progress[0].group(1)) and not re.search(rx, progress[-1].group(1)):
        die("no draw matches %r: %r" % (rx, progress[-1].group(1)))
    last = progress[-1]
    if not data.startswith(ERASE, last.end()):
        die("the last progress line is not erased: %r" % data[last.end():last.end() + 40])
    rest = data[last.end() + len(ERASE):]
    if re.search(r"/s(,|$)", rest.split("\n")[0]) or "\x1b" in rest:
        die("progress after the final erase: %r" % rest[:80])
    print("%d draws, last %r" % (len(progress), last.group(1)))
elif mode == "rate":
    secs = float(sys.argv[3])
    if len(progress) > 5 * secs + 2:
        die("%d draws in %.1f s" % (len(progress), secs))
    print("%d draws in %.1f s" % (len(progress), secs))
elif mode == "clean":
    if "\x1b" in data:
        die("escape sequence found")
    print("no escape byte in %d bytes" % len(data))
elif mode == "verbose":
    # Strip the erases: whatever follows an erase starts a fresh line.
    for m in re.finditer(r"(new|changed|unchanged) +/", data):
        before = data[max(0, m.start() - 3):m.start()]
        if not (before.endswith("\n") or before.endswith(ERASE[-3:]) or m.start() == 0):
            die("a --verbose line shares the terminal line with progress: %r" % data[max(0, m.start() - 60):m.end() + 20])
    print("verbose lines start on clean lines")
EOF

# judge NAME FILE MODE ARGS... — pass when lines.py agrees.
judge() {
	n=$1; shift
	if r=$(python3 -S "$T/lines.py" "$@" 2>&1); then pass "$n ($r)"; else fail "$n" "$(printf %s "$r" | head -c 700)"; fi
}

# pty NAME OUT CMD... — run CMD under the pseudo-terminal; it must exit 0.
pty() {
	n=$1; out=$2; shift 2
	if python3 -S "$T/ptyrun.py" "$out" "$@"; then pass "$n: exit 0"; else fail "$n" "exit $?: $(head -c 300 "$out" | tr '\r\033' '  ')"; fi
}

# slow_source — about 3 MB of random bytes over about 2 s (12 pieces of
# 256 KB, 0.15 s apart). The sleeps make it last (the display's lifetime,
# the draws counted and their rate); the bytes only have to move the
# counters (they were 2 MB pieces: 24 MB read, chunked and stored per
# stream, six streams).
cat >"$T/slow.sh" <<'EOF'
i=0
while [ $i -lt 12 ]; do head -c 256000 /dev/urandom; sleep 0.15; i=$((i + 1)); done
EOF

mkdir -p "$S/d"
i=0
while [ $i -lt 130 ]; do head -c 1500000 /dev/urandom >"$S/d/f$i"; i=$((i + 1)); done
"$STRATA" init -q || { fail init "cannot init"; e2e_done; }

# ---- backup: a throttled stream, so the display lives about 2 s ----
t0=$(date +%s.%N)
pty "backup --stdin on a terminal" "$T/b1" sh -c "sh '$T/slow.sh' | '$STRATA' backup --stdin --stdin-name slow.bin"
t1=$(date +%s.%N)
judge "backup: progress line with files, bytes and a rate, erased at the end" "$T/b1" draws 4 '^[0-9]+ files, [0-9.]+ (B|KiB|MiB), [0-9.]+ (B|KiB|MiB)/s, slow\.bin$'
judge "backup: at most 5 redraws a second" "$T/b1" rate "$(echo "$t1 - $t0" | bc 2>/dev/null || echo 2)"
if grep -q 'snapshot [0-9a-f]\{8\} saved' "$T/b1"; then pass "backup: the summary follows the erased line"; else fail "backup: summary" "$(tail -c 300 "$T/b1")"; fi

# ---- backup of a directory (195 MB), --verbose: file lines never share the progress line ----
pty "backup --verbose on a terminal" "$T/b2" "$STRATA" --verbose backup "$S"
judge "backup --verbose: progress with the current file" "$T/b2" draws 1 '^[0-9]+ files, .*/s, .*/d/f[0-9]+$'
judge "backup --verbose: file lines start on clean lines" "$T/b2" verbose
if grep -q 'new .*d/f129' "$T/b2"; then pass "backup --verbose lists files"; else fail "backup --verbose lists files" "$(head -c 300 "$T/b2")"; fi

# ---- never without a terminal on stderr, or with --quiet / --json ----
pty "backup, stderr to a file" "$T/b3" sh -c "sh '$T/slow.sh' | '$STRATA' backup --stdin --stdin-name slow2.bin 2>'$T/b3.err'"
judge "stderr to a file: no escape in it" "$T/b3.err" clean
judge "stderr to a file: no escape on the terminal either" "$T/b3" clean
sh "$T/slow.sh" | "$STRATA" backup --stdin --stdin-name slow3.bin >"$T/b4.out" 2>"$T/b4.err"
judge "no terminal at all: stderr clean" "$T/b4.err" clean
pty "backup --quiet on a terminal" "$T/b5" sh -c "sh '$T/slow.sh' | '$STRATA' --quiet backup --stdin --stdin-name slow4.bin"
judge "--quiet: no progress" "$T/b5" clean
pty "backup --json on a terminal" "$T/b6" sh -c "sh '$T/slow.sh' | '$STRATA' --json backup --stdin --stdin-name slow5.bin"
judge "--json: no progress" "$T/b6" clean
if tr -d '\r' <"$T/b6" | python3 -S -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null; then pass "--json on a terminal: one JSON document"; else fail "--json on a terminal: one JSON document" "$(head -c 300 "$T/b6")"; fi

# ---- restore: the snapshot's totals give an ETA (one thread, and 10 ms
# per progress call, so that it lasts long enough for a few draws: 186 MB
# restore in under 0.2 s on tmpfs, one draw) ----
SNAP=$("$STRATA" snapshots --json --path "$S" | python3 -S -c 'import json,sys; print(json.load(sys.stdin)[-1]["short_id"])')
pty "restore on a terminal" "$T/r1" env STRATA_TESTONLY_PROGRESS_DELAY_MS=10 "$STRATA" restore "$SNAP" --threads 1 --target "$T/restore"
judge "restore: files and bytes out of their totals, rate, ETA, erased" "$T/r1" draws 2 '^[0-9]+/130 files, [0-9.]+ (B|KiB|MiB)/[0-9.]+ MiB, [0-9.]+ (B|KiB|MiB)/s(, ETA [0-9hms]+)?'
if grep -q 'ETA [0-9]' "$T/r1"; then pass "restore: an ETA is shown"; else fail "restore: an ETA is shown" "$(head -c 400 "$T/r1" | tr '\r\033' '  ')"; fi
# Same options as the restore above (--threads 1: it draws), so only --quiet differs.
pty "restore --quiet on a terminal" "$T/r2" env STRATA_TESTONLY_PROGRESS_DELAY_MS=10 "$STRATA" --quiet restore "$SNAP" --threads 1 --target "$T/restore2"
judge "restore --quiet: no progress" "$T/r2" clean

# ---- check --read-data: phase, packs out of the total (10 ms per
# progress call: on tmpfs the read-data phase can end before its first draw) ----
pty "check --read-data on a terminal" "$T/c1" env STRATA_TESTONLY_PROGRESS_DELAY_MS=10 "$STRATA" check --read-data
judge "check: read-data phase with packs done/total, erased" "$T/c1" draws 1 '^(index|packs|read-data|snapshots): [0-9]+(/[0-9]+)? (index files|packs|snapshots), '
if grep -q 'read-data: [0-9]*/[0-9]* packs, ' "$T/c1"; then pass "check: the read-data phase is shown"; else fail "check: the read-data phase is shown" "$(head -c 400 "$T/c1" | tr '\r\033' '  ')"; fi
"$STRATA" check --read-data >"$T/c2.out" 2>"$T/c2.err"
judge "check, stderr not a terminal: clean" "$T/c2.err" clean

# ---- replicate: phases, objects out of what is missing ----
pty "replicate on a terminal" "$T/p1" "$STRATA" replicate --to "$T/replica"
judge "replicate: phase, objects done/todo, bytes, rate, erased" "$T/p1" draws 1 '^(keys|config|packs|wal|index|snapshots): [0-9]+/[0-9]+ objects, '

# ---- prune: marking snapshots, repacking, deleting ----
# Forget the throttled streams: their packs go.
for id in $("$STRATA" snapshots --json | python3 -S -c 'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)[:-1]))'); do
	"$STRATA" forget -q "$id" >/dev/null 2>&1
done
pty "prune on a terminal" "$T/q1" "$STRATA" prune --max-unused 0
judge "prune: phase progress, erased" "$T/q1" draws 1 '^(mark|repack|delete): [0-9]+(/[0-9]+)? (snapshots|packs), '
"$STRATA" prune >"$T/q2.out" 2>"$T/q2.err"
judge "prune, stderr not a terminal: clean" "$T/q2.err" clean

e2e_done
