# e2e_pitr.sh — choosing snapshots by time and by height through the
# binary: `snapshots --at`, `restore --at`, `restore --at-height`,
# `restore --label` at the boundaries (exactly at, between, before the
# first, after the last), inside a host/tag/label group, with the time
# written in UTC, with an offset, in local time and as @seconds; and the
# errors that name the nearest snapshots. POSIX sh.
. "$(dirname "$0")/e2e_lib.sh"

S="$T/src"
mkdir -p "$S"

# py EXPR ARGS... — print a Python expression (argv in a).
py() {
	e=$1; shift
	python3 -c "import sys,json,datetime; a=sys.argv[1:]; print($e)" "$@"
}

# id_of N — the full ID of the Nth snapshot (0 = oldest) of node1.
times_json() { "$STRATA" -r "$R" snapshots --json --host node1; }

# picked NAME WANT CMD... — CMD (a `snapshots` query) shows exactly the
# snapshot whose short ID is WANT.
picked() {
	n=$1; want=$2; shift 2
	if "$@" --json >"$T/out" 2>"$T/err" &&
	   [ "$(py 'json.load(open(a[0]))[0]["short_id"] if len(json.load(open(a[0]))) == 1 else "many"' "$T/out")" = "$want" ]; then
		pass "$n"
	else
		fail "$n" "wanted $want: $(head -c 300 "$T/out") $(head -c 300 "$T/err")"
	fi
}

# restored NAME WANT CMD... — `restore` CMD writes f with content WANT.
restored() {
	n=$1; want=$2; shift 2
	rm -rf "$T/r"
	if "$@" --target "$T/r" >"$T/out" 2>"$T/err" && [ "$(cat "$T/r$S/f" 2>/dev/null)" = "$want" ]; then
		pass "$n"
	else
		fail "$n" "wanted $want, got '$(cat "$T/r$S/f" 2>/dev/null)': $(head -c 300 "$T/err")"
	fi
}

# errs NAME CODE PATTERN CMD... — exit CODE, one error line matching PATTERN.
errs() {
	n=$1; code=$2; pat=$3; shift 3
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc -eq "$code" ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$pat" "$T/err"; then
		pass "$n"
	else
		fail "$n" "exit $rc (wanted $code): $(head -c 400 "$T/err")"
	fi
}

expect "init" "$STRATA" -r "$R" init
# node1: heights 100, 110, 120, 130 (snapshot content = the height); the
# sleeps put a whole second between snapshots. node2 takes one in between.
for h in 100 110 120 130; do
	printf '%s\n' "$h" >"$S/f"
	"$STRATA" -r "$R" backup "$S" -q --host node1 --tag chain --label "height=$h" || fail "backup height $h" "exit $?"
	if [ "$h" = 110 ]; then
		printf 'node2\n' >"$S/f"
		"$STRATA" -r "$R" backup "$S" -q --host node2 --label "height=115"
	fi
	sleep 1
done
times_json >"$T/snaps.json"
ID0=$(py 'json.load(open(a[0]))[0]["short_id"]' "$T/snaps.json")
ID1=$(py 'json.load(open(a[0]))[1]["short_id"]' "$T/snaps.json")
ID2=$(py 'json.load(open(a[0]))[2]["short_id"]' "$T/snaps.json")
ID3=$(py 'json.load(open(a[0]))[3]["short_id"]' "$T/snaps.json")
T0=$(py 'json.load(open(a[0]))[0]["time"]' "$T/snaps.json")
T1=$(py 'json.load(open(a[0]))[1]["time"]' "$T/snaps.json")
T2=$(py 'json.load(open(a[0]))[2]["time"]' "$T/snaps.json")
if [ -n "$ID3" ]; then pass "four node1 snapshots"; else fail "four node1 snapshots" "$(cat "$T/snaps.json")"; fi

# Times derived from snapshot 1's exact time (ns): one ns before, as
# @seconds, with a +02:00 offset, and in local time in Berlin.
ns1=$(py 'int(datetime.datetime.strptime(a[0][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()) * 10**9 + int(a[0][20:29])' "$T1")
ns2=$(py 'int(datetime.datetime.strptime(a[0][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()) * 10**9 + int(a[0][20:29])' "$T2")
ns0=$(py 'int(datetime.datetime.strptime(a[0][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()) * 10**9 + int(a[0][20:29])' "$T0")
before1="@$(py '"%d.%09d" % divmod(int(a[0]) - 1, 10**9)' "$ns1")"
mid12="@$(py '"%d.%09d" % divmod((int(a[0]) + int(a[1])) // 2, 10**9)' "$ns1" "$ns2")"
at1_off=$(py '(datetime.datetime.fromtimestamp(int(a[0]) // 10**9, datetime.timezone(datetime.timedelta(hours=2))).strftime("%Y-%m-%dT%H:%M:%S") + ".%09d+02:00" % (int(a[0]) % 10**9))' "$ns1")
before0="@$(py '"%d.%09d" % divmod(int(a[0]) - 1, 10**9)' "$ns0")"

# ---- snapshots --at ----
picked "--at exactly at a snapshot (UTC, ns)"      "$ID1" "$STRATA" -r "$R" snapshots --host node1 --at "$T1"
picked "--at one ns before it"                      "$ID0" "$STRATA" -r "$R" snapshots --host node1 --at "$before1"
picked "--at between two snapshots"                 "$ID1" "$STRATA" -r "$R" snapshots --host node1 --at "$mid12"
picked "--at with a +02:00 offset"                  "$ID1" "$STRATA" -r "$R" snapshots --host node1 --at "$at1_off"
picked "--at after the last"                        "$ID3" "$STRATA" -r "$R" snapshots --host node1 --at "2200-01-01 00:00:00"
picked "--at exactly the first"                     "$ID0" "$STRATA" -r "$R" snapshots --host node1 --at "$T0"
if [ -e /usr/share/zoneinfo/Europe/Berlin ]; then
	local1=$(TZ=Europe/Berlin py '(datetime.datetime.fromtimestamp(int(a[0]) // 10**9).strftime("%Y-%m-%d %H:%M:%S") + ".%09d" % (int(a[0]) % 10**9))' "$ns1")
	picked "--at in local time (TZ=Europe/Berlin)" "$ID1" env TZ=Europe/Berlin "$STRATA" -r "$R" snapshots --host node1 --at "$local1"
fi
errs "--at before the first: exit 14 naming the earliest" 14 "no snapshot at or before .* (host node1): the earliest is $ID0 at $T0" \
	"$STRATA" -r "$R" snapshots --host node1 --at "$before0"
errs "--at in an empty group" 14 "none in this group" "$STRATA" -r "$R" snapshots --host node9 --at "$T1"
errs "--at with a malformed time" 2 "not a time; expected YYYY-MM-DD" "$STRATA" -r "$R" snapshots --at "yesterday"
errs "--at with an impossible date" 2 "not a time" "$STRATA" -r "$R" snapshots --at "2023-02-29 10:00"
# Without --host, node2's snapshot (taken between 1 and 2) is in the group.
"$STRATA" -r "$R" snapshots --json --host node2 >"$T/n2.json"
ID_N2=$(py 'json.load(open(a[0]))[0]["short_id"]' "$T/n2.json")
T_N2=$(py 'json.load(open(a[0]))[0]["time"]' "$T/n2.json")
picked "--at without a group sees every host" "$ID_N2" "$STRATA" -r "$R" snapshots --at "$T_N2"
picked "--at with a host leaves the others out" "$ID1" "$STRATA" -r "$R" snapshots --at "$T_N2" --host node1

# ---- restore --at, --at-height, --label ----
restored "restore --at exactly at"         110 "$STRATA" -r "$R" restore --host node1 --at "$T1"
restored "restore --at one ns before"      100 "$STRATA" -r "$R" restore --host node1 --at "$before1"
restored "restore --at after the last"     130 "$STRATA" -r "$R" restore --host node1 --at "2200-12-31T23:59:59Z"
restored "restore --at within a tag group" 110 "$STRATA" -r "$R" restore --tag chain --at "$mid12"
errs "restore --at before the first" 14 "the earliest is $ID0" "$STRATA" -r "$R" restore --host node1 --at "$before0" --target "$T/r"

restored "--at-height exactly at"          110 "$STRATA" -r "$R" restore --host node1 --at-height 110
restored "--at-height between"             110 "$STRATA" -r "$R" restore --host node1 --at-height 119
restored "--at-height after the last"      130 "$STRATA" -r "$R" restore --host node1 --at-height 99999999
restored "--at-height over every host"     node2 "$STRATA" -r "$R" restore --at-height 117
errs "--at-height before the first" 14 "no snapshot with height at most 99 (host node1): the lowest is $ID0 (height=100" \
	"$STRATA" -r "$R" restore --host node1 --at-height 99 --target "$T/r"
errs "--at-height wants a number" 2 "whole number" "$STRATA" -r "$R" restore --at-height 12x --target "$T/r"

restored "--label exact"                   120 "$STRATA" -r "$R" restore --label height=120
errs "--label with no exact match names both neighbours" 14 "no snapshot labelled height=125: the nearest are $ID2 (height=120, .*) below and $ID3 (height=130" \
	"$STRATA" -r "$R" restore --label height=125 --target "$T/r"
restored "latest narrowed by --host"       130 "$STRATA" -r "$R" restore latest --host node1
restored "--at narrowed by --label"        110 "$STRATA" -r "$R" restore --at "$mid12" --label height=110

errs "SNAPSHOT and --at exclude each other" 2 "not both" "$STRATA" -r "$R" restore "$ID1" --at "$T1" --target "$T/r"
errs "--at and --at-height exclude each other" 2 "one of --at and --at-height" "$STRATA" -r "$R" restore --at "$T1" --at-height 5 --target "$T/r"
errs "no snapshot named at all" 2 "missing SNAPSHOT" "$STRATA" -r "$R" restore --target "$T/r"
errs "--host with an ID" 2 "already names one" "$STRATA" -r "$R" restore "$ID1" --host node1 --target "$T/r"

e2e_done
