# strata — build, test, fuzz and benchmark.
#
#   make deps        install Debian -dev packages that are missing (needs root or sudo)
#   make test-deps   also what the tests drive: awscli, PostgreSQL, zstd, Node.js + npm, curl
#   make             build ./strata
#   make test        unit tests + end-to-end tests, side by side; ends with
#                    "N passed, N failed" (test-unit, test-e2e: one half;
#                    fuzz-replay: the saved fuzz inputs; TESTS="a b": some)
#   make test-asan   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz        run every libFuzzer harness for FUZZ_SECONDS each (clang)
#   make bench       benchmark against restic and borg (SIZE=2G by default), then
#                    the S3 comparison below (S3_SIZE=512M; skipped without node/npm)
#   make bench-s3    backup/restore via a local S3 server, strata vs restic (SIZE=512M)
#   make bench-files many small files, strata vs restic (FILES=1000000; issue 34)
#   make bench-wal   WAL archiving and recovery with PostgreSQL, strata vs pgBackRest (root)
#   make bench-frames a pgbench data directory: format 2 vs format 3 (frames) vs restic
#   make demo        init, backup, snapshots, restore, verify on a temp repository

CC       ?= cc
PREFIX   ?= /usr/local
BUILD    ?= build
PKGS      = libzstd libsodium libcrypto lmdb libcurl libarchive jansson expat libkeyutils
DEB_PKGS  = build-essential pkg-config libzstd-dev libsodium-dev liblmdb-dev \
            libcurl4-openssl-dev libssl-dev libarchive-dev libjansson-dev libexpat1-dev libkeyutils-dev python3 \
            libfuse3-dev fuse3
# What the end-to-end tests drive besides strata: the aws CLI as an
# independent S3 client, a PostgreSQL server for PITR, the zstd tool,
# RocksDB's db_bench and ldb (a database written under --freeze-pid),
# btrfs-progs (a btrfs on a loop device for --fs-snapshot), and
# Node.js + npm for the S3 server (added only when `node` is missing: a
# NodeSource nodejs bundles npm and conflicts with Debian's).
TEST_DEB_PKGS = awscli postgresql zstd procps util-linux rocksdb-tools btrfs-progs curl
OPT      ?= -O2 -g
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wvla -Wpointer-arith -Wcast-qual -Wundef -Wwrite-strings \
            -Wno-unused-parameter -Wno-format-truncation -Wno-unknown-warning-option
CPPFLAGS += -I. -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
CFLAGS   += -std=c11 $(OPT) $(WARN) -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(SAN)
# libcurl and libarchive are not linked: remote/s3/curl_api.c loads libcurl
# when an S3 backend opens, store/tar/archive_api.c libarchive when a tar
# import or export starts.
LDLIBS   += $(shell pkg-config --libs $(filter-out libcurl libarchive,$(PKGS)) 2>/dev/null) -ldl -pthread -lm
LDFLAGS  += $(SAN)
# FUSE (`strata mount`) is optional and lives in tools/cli/mount_fuse.c alone:
# only that object gets fuse3's flags and only build/strata links it;
# without fuse3 the module builds as a stub that says so. The other
# tools/cli/mount_*.c files (the mount's layout, file system and caches) are
# plain parts of build/strata.
ifeq ($(shell pkg-config --exists fuse3 2>/dev/null && echo yes),yes)
FUSE_CFLAGS = -DSTRATA_HAVE_FUSE $(shell pkg-config --cflags fuse3)
FUSE_LIBS   = $(shell pkg-config --libs fuse3)
endif

# The tree (README "Layout"): chunker/ -> store/ (the format; its engines
# in store/<operation>/, threads and buffers in store/sys/) -> remote/
# (backends; S3 in remote/s3/); tools/cli/ is the strata program,
# tools/dev/ the developers' generators and probes, tools/dist/ what
# operators install.
CHUNKER_SRC = $(wildcard chunker/*.c)
STORE_SRC   = $(wildcard store/*.c store/*/*.c)
REMOTE_SRC  = $(wildcard remote/*.c remote/*/*.c)
# strata_wal_fetch.c is a program of its own (libc and libsodium), not part of strata.
CLI_SRC     = $(filter-out tools/cli/strata_wal_fetch.c,$(wildcard tools/cli/*.c))
AUX_SRC     = $(wildcard tools/dev/*.c)
LIB_SRC     = $(CHUNKER_SRC) $(STORE_SRC) $(REMOTE_SRC)
LIB_OBJ     = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ     = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC    = $(wildcard tests/test_*.c)
TEST_BIN    = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
AUX_BIN     = $(AUX_SRC:tools/dev/%.c=$(BUILD)/tools/dev/%)
FUZZ_SRC    = $(wildcard fuzz/fuzz_*.c)

.PHONY: all test test-unit test-e2e test-asan fuzz fuzz-replay bench bench-s3 bench-files bench-wal bench-frames demo man deps test-deps install clean

all: $(BUILD)/strata $(BUILD)/strata-wal-fetch $(AUX_BIN)
ifeq ($(BUILD),build)
	@ln -sf build/strata strata
endif

# The cheap restore_command client of the WAL fetcher: libc and libsodium only, so that a
# call served from the spool does not pay for loading strata's libraries.
$(BUILD)/strata-wal-fetch: $(BUILD)/tools/cli/strata_wal_fetch.o
	$(CC) $(LDFLAGS) -o $@ $^ -lsodium

$(BUILD)/strata: $(LIB_OBJ) $(CLI_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(FUSE_LIBS)

$(BUILD)/tools/cli/mount_fuse.o: CPPFLAGS += $(FUSE_CFLAGS)

$(BUILD)/libstrata.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libstrata.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tools/dev/%: $(BUILD)/tools/dev/%.o $(BUILD)/libstrata.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Tests run side by side (tests/run.sh: JOBS, default 2 x CPUs + 1); the build
# before them uses every CPU too.
NPROC := $(shell nproc 2>/dev/null || echo 1)

test: deps test-deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(TEST_BIN)
	@BUILD=$(BUILD) sh tests/run.sh

test-unit: deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(TEST_BIN)
	@BUILD=$(BUILD) KIND=unit sh tests/run.sh

test-e2e: deps test-deps
	@$(MAKE) --no-print-directory -j$(NPROC) all $(BUILD)/libstrata.a
	@BUILD=$(BUILD) KIND=e2e sh tests/run.sh

# Every saved fuzz input (seeds and past findings) through its harness,
# without libFuzzer; also part of make test.
fuzz-replay: deps
	@$(MAKE) --no-print-directory -j$(NPROC) $(BUILD)/libstrata.a
	@BUILD=$(BUILD) TESTS=e2e_fuzz_replay sh tests/run.sh

test-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test

fuzz:
	sh fuzz/run.sh $(FUZZ_SECONDS)

S3_SIZE ?= 512M
bench: deps
	@$(MAKE) --no-print-directory all
	sh tools/dev/bench.sh $(SIZE)
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then \
		echo "sh tools/dev/bench_s3.sh $(S3_SIZE)"; sh tools/dev/bench_s3.sh $(S3_SIZE); \
	else \
		echo "bench: S3 comparison skipped: it needs node and npm (then: make bench-s3)"; \
	fi

bench-s3: all
	sh tools/dev/bench_s3.sh $(SIZE)

# Many small files (issue 34): strata and restic on a generated tree of
# FILES files (1,000,000 by default, 4.6 GB; needs ~3.5x that in /var/tmp).
FILES ?= 1000000
bench-files: all $(BUILD)/tools/dev/gen_files
	sh tools/dev/bench_files.sh $(FILES)

# WAL archiving and recovery with PostgreSQL, strata and pgBackRest side by
# side (installs pgbackrest when missing; needs root). BENCH_WAL_SCALE=20.
bench-wal: all
	sh tools/dev/bench_wal.sh

# Format 2 against format 3 (frames, store/FORMAT.md 9a) and restic on a
# PostgreSQL data directory after pgbench (BENCH_FRAMES_SCALE=10).
BENCH_FRAMES_SCALE ?= 10
bench-frames: all
	sh tools/dev/bench_frames.sh $(BENCH_FRAMES_SCALE)

# The man page, from the same text as --help: install takes it from the
# binary being installed; `make man` refreshes the copy kept in tools/cli/.
$(BUILD)/strata.1: $(BUILD)/strata tools/cli/gen_man.sh
	sh tools/cli/gen_man.sh $(BUILD)/strata >$@.tmp && mv $@.tmp $@

man: $(BUILD)/strata.1
	cp $(BUILD)/strata.1 tools/cli/strata.1

demo: deps
	@$(MAKE) --no-print-directory all
	sh tools/dev/demo.sh

# Install the Debian packages of $$pkgs that are missing (sudo when not root).
APT_MISSING = missing=""; for p in $$pkgs; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

deps:
	@pkgs="$(DEB_PKGS)"; $(APT_MISSING)

test-deps:
	@pkgs="$(TEST_DEB_PKGS)"; \
	command -v node >/dev/null 2>&1 || pkgs="$$pkgs nodejs"; \
	command -v npm >/dev/null 2>&1 || pkgs="$$pkgs npm"; \
	$(APT_MISSING)

install: all $(BUILD)/strata.1
	install -D -m 0755 $(BUILD)/strata $(DESTDIR)$(PREFIX)/bin/strata
	install -D -m 0755 $(BUILD)/strata-wal-fetch $(DESTDIR)$(PREFIX)/bin/strata-wal-fetch
	install -D -m 0755 tools/dist/strata-verify-pg $(DESTDIR)$(PREFIX)/bin/strata-verify-pg
	install -D -m 0644 $(BUILD)/strata.1 $(DESTDIR)$(PREFIX)/share/man/man1/strata.1

clean:
	rm -rf build build-asan build-fuzz build-clang strata

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
