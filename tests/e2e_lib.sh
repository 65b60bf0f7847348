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
# json_in EXPR — the same over standard input.
# Both ask one Python per script (tests/json_server.py, started at the first
# call): a python3 start costs ~0.05 s of CPU and the scripts call these
# thousands of times in a run. Output, standard error and exit status are
# what `python3 -c 'd = json.load(...); print(eval(EXPR))'` gives. The lock
# keeps calls from background subshells apart.
E2E_TESTS=$(cd "$(dirname "$0")" && pwd)
[ -f "$E2E_TESTS/json_server.py" ] || E2E_TESTS=$(pwd)/tests   # sourced from elsewhere
E2E_JS="$T/.json-server"
# json_up — the server is running (started here if need be, waiting up to
# 30 s for its pid file, less if it fails); false if it cannot start:
# json_ask then runs the one-off python itself.
json_up() {
	if [ ! -p "$E2E_JS/back" ]; then
		[ -f "$E2E_TESTS/json_server.py" ] || return 1
		mkdir -p "$E2E_JS" && mkfifo "$E2E_JS/in" "$E2E_JS/back" || return 1
		(python3 -S "$E2E_TESTS/json_server.py" "$E2E_JS" $$ </dev/null >"$E2E_JS/log" 2>&1 9>&- &)
		_js_i=0
		while [ ! -s "$E2E_JS/pid" ] && [ ! -s "$E2E_JS/log" ] && [ $_js_i -lt 600 ]; do
			sleep 0.05; _js_i=$((_js_i + 1))
		done
	fi
	[ -s "$E2E_JS/pid" ] && read -r _js_pid <"$E2E_JS/pid" && kill -0 "$_js_pid" 2>/dev/null
}
json_ask() {   # json_ask KIND FILE EXPR
	{
		flock 9
		if ! json_up; then
			if [ "$1" = file ]; then
				python3 -S -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    sys.exit("not one JSON document: %s" % e)
print(eval(sys.argv[2]))' "$2" "$3"
			else
				python3 -S -c "import json,sys; d=json.load(open(sys.argv[1])); print($3)" "$2"
			fi
			return
		fi
		# Each request is numbered and its status line names the number:
		# an open of the FIFO that meets the server's previous answer
		# still closing reads EOF (seen under load: the caller then took
		# the previous answer, and every later one was one behind), and
		# the answer to a request whose caller was killed is not ours.
		_js_n=0
		[ -s "$E2E_JS/seq" ] && read -r _js_n <"$E2E_JS/seq"
		_js_n=$((_js_n + 1))
		echo "$_js_n" >"$E2E_JS/seq"
		printf '%s' "$2" >"$E2E_JS/file"
		printf '%s' "$3" >"$E2E_JS/expr"
		printf '%s' "$PWD" >"$E2E_JS/cwd"
		echo "$1 $_js_n" >"$E2E_JS/in"
		_js_got=
		while [ "$_js_got" != "$_js_n" ]; do
			_js_got= _js_st=
			read -r _js_got _js_st <"$E2E_JS/back"
		done
		cat "$E2E_JS/out"
		[ -s "$E2E_JS/err" ] && cat "$E2E_JS/err" >&2
		return "${_js_st:-1}"
	} 9>>"$T/.json-lock"
}
json() {
	case $1 in /*) set -- "$1" "$2" ;; *) set -- "$PWD/$1" "$2" ;; esac
	json_ask file "$1" "$2"
}
json_in() {
	mkdir -p "$E2E_JS" && _js_in=$(mktemp "$E2E_JS/stdin.XXXXXX") && cat >"$_js_in" &&
		json_ask stdin "$_js_in" "$1"
}

# flip_byte FILE OFFSET — invert every bit of the byte at OFFSET (writing a
# fixed byte instead leaves random content unchanged once in 256 runs).
flip_byte() {
	python3 -S -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(int(sys.argv[2])); b=f.read(1)[0]; f.seek(int(sys.argv[2])); f.write(bytes([b ^ 0xff]))' "$1" "$2"
}
