/* cli_producer.h — `backup --stdin-from-command -- CMD [ARGS...]`: run the
 * program whose standard output is the data, and say whether it succeeded.
 *
 * Owns: starting the producer (no shell: posix_spawnp of argv; its stdout
 * a pipe strata reads, its stdin and stderr strata's own), its exit status
 * and the message naming it, ending it when strata stops early, and
 * SIGTERM/SIGINT while it runs: the handler terminates the producer and
 * strata then dies of the same signal, before any snapshot is written.
 *
 * Global state (tools/ only): the running producer's pid, for that
 * handler; one producer per process. Never: reads the data (the backup
 * engine reads the pipe).
 */
#ifndef STRATA_TOOLS_CLI_PRODUCER_H
#define STRATA_TOOLS_CLI_PRODUCER_H

#include <stdint.h>
#include <sys/types.h>

#include "store/error.h"

typedef struct CliProducer {
	pid_t pid;                /* 0 once reaped */
	int fd;                   /* read end of its stdout; -1 once closed */
	const char *name;         /* argv[0], for messages */
	int status;               /* waitpid status once reaped */
} CliProducer;

/* cli_producer_start — start argv (argv[0] looked up in PATH) with its
 * stdout on a pipe whose read end is p->fd, default signal dispositions
 * and an empty signal mask. Errors: STRATA_EPRODUCER when it cannot be run
 * (the message names it and says why), -errno for pipes and memory. */
int cli_producer_start(CliProducer *p, char *const argv[], StrataErr *err);

/* cli_producer_finish — the reader reached the end of the stream after
 * bytes: read what the reader left to the real end (a tar reader stops at
 * the archive's end blocks; the producer must not die of SIGPIPE), wait
 * for the producer to exit. 0 when it exited 0, else STRATA_EPRODUCER:
 * "producer NAME failed with exit code N after writing B bytes; no
 * snapshot was written" (or "was killed by signal S (NAME)"). Fits
 * BackupOptions.stream_end. */
int cli_producer_finish(void *p, uint64_t bytes, StrataErr *err);

/* cli_producer_abort — the backup failed with *err before the stream's
 * end was accepted: end the producer and reap it. When the producer had
 * closed its output and then failed on its own (the usual cause of a cut
 * short stream), *err becomes its failure, the reader's error appended;
 * otherwise *err stays. Returns err->code. */
int cli_producer_abort(CliProducer *p, StrataErr *err);

#endif
