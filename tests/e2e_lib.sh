# e2e_lib.sh — sourced by tests/e2e_*.sh. Gives each script a scratch
# directory, a password file, a repository path and pass/fail helpers.
# Each check prints "PASS name" or "FAIL name: why"; tests/run.sh counts them.
set -u
# Version-manager shims (pyenv's are a bash script per call: ~0.5 s of CPU
# for each python3 or aws start on this machine, against 0.05 s for the
# program itself) leave PATH; the tests run Debian's python3 and awscli.
PATH=$(printf '%s\n' "$PATH" | tr ':' '\n' | grep -v '/\.pyenv/' | paste -sd: -)
export PATH
STRATA=${STRATA:-$(pwd)/build/strata}
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-e2e.XXXXXX")
trap 'chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
export STRATA_CACHE_DIR="$T/cache"
printf 'correct horse battery staple\n' >"$T/pw"
export STRATA_PASSWORD_FILE="$T/pw"
unset STRATA_PASSWORD STRATA_REPOSITORY
# Repositories made by `init` get a key file with Argon2id's smallest
# settings (tools/cli/cmd_init.c): every command still unwraps its key
# through Argon2id, in microseconds instead of ~0.1 s of CPU. The key files
# of `key add` and `key passwd` keep the default settings (e2e_core's key
# checks run on both kinds); a script that needs the defaults throughout
# unsets it (e2e_keycache).
export STRATA_TESTONLY_WEAK_KDF=1
R="$T/repo"
E2E_FAILED=0

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; E2E_FAILED=1; }

# expect NAME CMD... — the command must exit 0.
expect() {
	n=$1; shift
	if "$@" >"$T/out" 2>"$T/err"; then pass "$n"; else fail "$n" "exit $? : $(head -c 400 "$T/err")"; fi
}

# expect_exit NAME CODE CMD... — the command must exit with CODE.
expect_exit() {
	n=$1; code=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ "$rc" -eq "$code" ]; then pass "$n"; else fail "$n" "exit $rc, wanted $code: $(head -c 400 "$T/err")"; fi
}

# same_tree NAME A B — both trees hold identical content and metadata.
same_tree() {
	if diff -r --no-dereference "$2" "$3" >"$T/diff" 2>&1; then pass "$1"; else fail "$1" "$(head -c 400 "$T/diff")"; fi
}

e2e_done() { exit $E2E_FAILED; }

# e2e_part NAME — true when this run includes part NAME of the script.
# A script that declares "# e2e-parts: A B ..." on a line of its own is run
# by tests/run.sh once per part, side by side, with E2E_PART set to each in
# turn (each run has its own scratch directory, so a part repeats whatever
# setup it needs); run by hand without E2E_PART, it runs every part.
e2e_part() { [ -z "${E2E_PART:-}" ] || [ "$E2E_PART" = "$1" ]; }

# json FILE EXPR — print the Python expression EXPR, in which d is the JSON
# document in FILE; a file that is not one JSON document is an error.
# These helpers need only the standard library: python3 -S leaves out the
# site module and its .pth hooks, a good part of each start-up (Debian's
# python3 here: ~0.05 s of CPU instead of ~0.07), and scripts call them
# hundreds of times.
json() {
	python3 -S -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    sys.exit("not one JSON document: %s" % e)
print(eval(sys.argv[2]))' "$1" "$2"
}

# json_in EXPR — the same over standard input.
json_in() { python3 -S -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# flip_byte FILE OFFSET — invert every bit of the byte at OFFSET (writing a
# fixed byte instead leaves random content unchanged once in 256 runs).
flip_byte() {
	python3 -S -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(int(sys.argv[2])); b=f.read(1)[0]; f.seek(int(sys.argv[2])); f.write(bytes([b ^ 0xff]))' "$1" "$2"
}
