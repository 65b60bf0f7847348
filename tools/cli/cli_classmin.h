/* cli_classmin.h — S3 storage classes' minimum storage durations and
 * prices, for `replicate --mirror`'s early-deletion rule.
 *
 * Owns: the table below (AWS S3, us-east-1 list prices, 2026), and
 * reading the class of data/ and of metadata out of a tier rule
 * "data=CLASS,metadata=CLASS" (cli_tier.h).
 * Never: opens a backend or talks to S3 (the class an object was uploaded
 * in is the rule's: S3 listings give it, but a lifecycle transition can
 * move an object later, and the minimum then counts from that).
 */
#ifndef STRATA_TOOLS_CLI_CLASSMIN_H
#define STRATA_TOOLS_CLI_CLASSMIN_H

#include <stddef.h>
#include <stdint.h>

/* cli_classmin — the minimum storage duration (seconds; 0 for none) and
 * the storage price (USD per GiB-month) of class; an unknown class or
 * NULL (STANDARD) has 0 and the STANDARD price. */
void cli_classmin(const char *cls, int64_t *out_min_s, double *out_usd_gib_month);

/* cli_classmin_of_rule — the class rule (a tier spec; NULL or "": none)
 * names for "data" or "metadata" (kind), copied into out (cap bytes); ""
 * when the rule gives none. */
void cli_classmin_of_rule(const char *rule, const char *kind, char *out, size_t cap);

#endif
