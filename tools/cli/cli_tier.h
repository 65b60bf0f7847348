/* cli_tier.h — the --storage-class option of init, backup and replicate.
 *
 * Owns: checking a tier rule "data=CLASS,metadata=CLASS" (either part may
 * be left out) and handing it to the S3 backend, which reads it from
 * STRATA_S3_STORAGE_CLASS (remote/backend.h) when it opens a location; a
 * "?storage_class=" option in the location itself still wins.
 * data = data/ packs (file content); metadata = config, keys, index files,
 * snapshots and tree packs: everything listing, ls, check (structure) and
 * restore planning read, so those never touch cold data.
 *
 * Never: opens a backend. Local repositories ignore the rule.
 */
#ifndef STRATA_TOOLS_CLI_TIER_H
#define STRATA_TOOLS_CLI_TIER_H

#include "store/error.h"

/* cli_tier_set — check spec and make it the S3 backend's rule for every
 * location opened afterwards in this process. STRATA_EUSAGE naming the bad
 * part (an unknown class, or metadata in GLACIER or DEEP_ARCHIVE, which
 * no command could read without a restore); -ENOMEM. */
int cli_tier_set(const char *spec, StrataErr *err);

#endif
