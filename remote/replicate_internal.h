/* replicate_internal.h — what replicate.c and replicate_mirror.c share. */
#ifndef STRATA_REMOTE_REPLICATE_INTERNAL_H
#define STRATA_REMOTE_REPLICATE_INTERNAL_H

#include "remote/replicate.h"

/* replicate_mirror_pass — the mirror pass of replicate_run (replicate.h),
 * after a complete copy pass: plan, and unless opts->dry_run delete. *res
 * is zeroed first and counts what was deleted (with dry_run, what would
 * be). Errors: -ENOENT (the source lists no key file), opts->mirror's
 * index_packs errors, listing and deletion errors (what was deleted
 * before stays deleted: each deletion leaves a valid repository). */
int replicate_mirror_pass(Backend *src, Backend *dst, const ReplicateOptions *opts, ReplicateMirrorResult *res,
                          RemoteErr *err);

#endif
