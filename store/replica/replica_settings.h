/* replica_settings.h — the settings a copy made by `replicate --mirror`
 * keeps about itself, so that later runs honour them.
 *
 * Owns: the sealed file "replica/<id>" (FORMAT.md §12c): the copy's
 * storage-class rule and the minimum ages it implies, and its selection
 * (host, tags, keep rules). Written at the copy by `replicate --mirror`
 * when given explicitly and different from what is stored (the new file
 * first, then the older ones deleted); read by a plain `replicate` to
 * that copy, by `prune` on the copy (the minimum data age) and by `cat
 * replica`.
 * Never: applies the settings (the CLI does).
 * Thread safety: one caller at a time per Repo.
 */
#ifndef STRATA_STORE_REPLICA_SETTINGS_H
#define STRATA_STORE_REPLICA_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "store/error.h"
#include "store/repo.h"

#define REPLICA_SETTINGS_MAX_TAGS 16

typedef struct ReplicaSettings {
	int64_t time_ns;                  /* when written */
	char storage_class[160];          /* tier rule "data=C,metadata=C", "" for none */
	int64_t min_age_data_s;           /* the classes' minimum durations */
	int64_t min_age_tree_s;
	int force_early_delete;
	int selective;                    /* the fields below apply */
	char host[256];                   /* "" any */
	char tags[REPLICA_SETTINGS_MAX_TAGS][128];
	size_t ntags;
	int keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;  /* 0 off, -1 unlimited */
	char keep_within[64];             /* as given ("2y"), "" off */
} ReplicaSettings;

/* replica_settings_load — the newest replica/ file of repo (by time_ns,
 * then name). *out_found = 0 (and *out untouched) when there is none.
 * Errors: STRATA_EFORMAT / STRATA_EAUTH / STRATA_EVERSION naming the
 * file, backend errors. */
int replica_settings_load(Repo *repo, ReplicaSettings *out, int *out_found, StrataErr *err);

/* replica_settings_save — store s (time_ns set here) unless the newest
 * stored settings equal it (time aside); then delete the older files.
 * *out_written = 1 when a file was written. */
int replica_settings_save(Repo *repo, ReplicaSettings *s, int *out_written, StrataErr *err);

/* replica_settings_json — s as compact JSON with sorted keys (FORMAT.md
 * §12c), malloc'ed; NULL when out of memory. */
char *replica_settings_json(const ReplicaSettings *s);

#endif
