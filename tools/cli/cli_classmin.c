/* cli_classmin.c — see cli_classmin.h. */
#include "tools/cli/cli_classmin.h"

#include <stdio.h>
#include <string.h>

#define DAY_S 86400

/* https://aws.amazon.com/s3/pricing/ and "Amazon S3 storage classes":
 * an object deleted, overwritten or transitioned before the minimum is
 * billed for the rest of it. INTELLIGENT_TIERING has no minimum since
 * 2021; ONEZONE_IA 30 days like STANDARD_IA. */
static const struct {
	const char *name;
	int days;
	double usd;   /* per GiB-month, first tier */
} classes[] = {
	{ "STANDARD",            0,   0.023 },
	{ "INTELLIGENT_TIERING", 0,   0.023 },
	{ "STANDARD_IA",         30,  0.0125 },
	{ "ONEZONE_IA",          30,  0.01 },
	{ "GLACIER_IR",          90,  0.004 },
	{ "GLACIER",             90,  0.0036 },
	{ "DEEP_ARCHIVE",        180, 0.00099 },
};

void cli_classmin(const char *cls, int64_t *out_min_s, double *out_usd_gib_month)
{
	*out_min_s = 0;
	*out_usd_gib_month = classes[0].usd;
	if (!cls)
		return;
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strcmp(cls, classes[i].name) == 0) {
			*out_min_s = (int64_t)classes[i].days * DAY_S;
			*out_usd_gib_month = classes[i].usd;
			return;
		}
}

void cli_classmin_of_rule(const char *rule, const char *kind, char *out, size_t cap)
{
	size_t kl = strlen(kind);
	const char *p = rule;

	if (cap)
		out[0] = '\0';
	while (p && *p) {
		size_t n = strcspn(p, ",");
		if (n > kl && strncmp(p, kind, kl) == 0 && p[kl] == '=') {
			snprintf(out, cap, "%.*s", (int)(n - kl - 1), p + kl + 1);
			return;
		}
		p += n;
		if (*p == ',')
			p++;
	}
}
