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
	keys=$(ldb --db="$T/rdb$2" scan 2>/dev/null | wc -l)
	rm -rf "$T/rdb"
	[ $rrc -eq 0 ] && [ "$(tail -n 1 "$T/ldb.out")" = OK ] && [ "$keys" -gt 0 ] && return 0
	echo "NOTE RocksDB snapshot $1: checkconsistency exit $rrc: $(tail -n 1 "$T/ldb.out" | head -c 200); $keys keys"
	return 1
}
