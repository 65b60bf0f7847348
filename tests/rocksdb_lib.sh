# rocksdb_lib.sh — sourced by the e2e scripts that back up a RocksDB
# database under write load (e2e_freeze_rocksdb.sh for --freeze-pid and
# live reads, e2e_fssnap_db.sh for --fs-snapshot), after e2e_lib.sh.
#
#   rocksdb_start DB         start db_bench filling DB with small write
#                            buffers and target files, so it flushes and
#                            compacts all the time and deletes tables a
#                            moment after writing them; DBP is its PID.
#                            Returns once the database exists. 2 MB/s of
#                            writes flush a 64 KiB buffer ~20 times a
#                            second; unlimited, db_bench kept one of the
#                            two CPUs busy for the whole test and grew the
#                            database every backup, restore and scan reads.
#   rocksdb_restored_ok ID DB  restore snapshot ID into $T/rdb and check it:
#                            0 when `ldb checkconsistency` says OK and
#                            `ldb scan` returns keys; else a NOTE line on
#                            stdout saying why, and 1.
#   rocksdb_backups DB N EXPR OPTION...
#                            N backups of DB with OPTION... (--freeze-pid
#                            PID, --fs-snapshot btrfs), 0.3 s apart, each
#                            one's --json report in $T/rb$i.json (a failed
#                            backup is a FAIL line and leaves no report);
#                            sets ROCKS_TAKEN (backups that exited 0),
#                            ROCKS_CHANGED (those with new files: the load
#                            is real) and ROCKS_NOTES (the json EXPR of
#                            each report, for a NOTE line).
#   rocksdb_restore_all DB N rocksdb_restored_ok for each report
#                            rocksdb_backups left; sets ROCKS_CLEAN.
rocksdb_start() {
	db_bench --benchmarks=fillrandom --db="$1" --num=1000000000 --duration=600 --value_size=100 \
		--benchmark_write_rate_limit=2097152 \
		--write_buffer_size=65536 --target_file_size_base=65536 --max_bytes_for_level_base=262144 \
		--compression_type=none --stats_interval_seconds=0 >"$T/db_bench.log" 2>&1 &
	DBP=$!
	n=0; while [ ! -e "$1/CURRENT" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
	sleep 1
}
rocksdb_restored_ok() {
	rm -rf "$T/rdb"
	if ! "$STRATA" -r "$R" restore "$1" --target "$T/rdb" -q; then
		echo "NOTE RocksDB snapshot $1: restore failed"
		return 1
	fi
	ldb --db="$T/rdb$2" checkconsistency >"$T/ldb.out" 2>&1
	rrc=$?
	# --no_value: every block is still read and its checksum verified;
	# only the values are not printed (the count is of keys).
	keys=$(ldb --db="$T/rdb$2" scan --no_value 2>/dev/null | wc -l)
	rm -rf "$T/rdb"
	[ $rrc -eq 0 ] && [ "$(tail -n 1 "$T/ldb.out")" = OK ] && [ "$keys" -gt 0 ] && return 0
	echo "NOTE RocksDB snapshot $1: checkconsistency exit $rrc: $(tail -n 1 "$T/ldb.out" | head -c 200); $keys keys"
	return 1
}
rocksdb_backups() {
	rb_db=$1 rb_n=$2 rb_expr=$3
	shift 3
	ROCKS_TAKEN=0; ROCKS_CHANGED=0; ROCKS_NOTES=""
	i=0
	while [ $i -lt "$rb_n" ]; do
		i=$((i + 1))
		"$STRATA" -r "$R" --json backup "$rb_db" "$@" >"$T/rb$i.json" 2>"$T/rb$i.err"
		rc=$?
		if [ $rc -ne 0 ]; then
			fail "RocksDB backup $i: exit 0" "exit $rc: $(head -c 300 "$T/rb$i.err") $(head -c 300 "$T/rb$i.json")"
			rm -f "$T/rb$i.json"
			continue
		fi
		ROCKS_TAKEN=$((ROCKS_TAKEN + 1))
		ROCKS_NOTES="$ROCKS_NOTES $(json "$T/rb$i.json" "$rb_expr")"
		[ "$(json "$T/rb$i.json" 'd["summary"]["files_new"]')" -gt 0 ] && ROCKS_CHANGED=$((ROCKS_CHANGED + 1))
		sleep 0.3
	done
}
rocksdb_restore_all() {
	ROCKS_CLEAN=0
	i=0
	while [ $i -lt "$2" ]; do
		i=$((i + 1))
		[ -s "$T/rb$i.json" ] || continue
		rocksdb_restored_ok "$(json "$T/rb$i.json" 'd["snapshot_id"]')" "$1" && ROCKS_CLEAN=$((ROCKS_CLEAN + 1))
	done
}
