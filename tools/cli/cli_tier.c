/* cli_tier.c — see cli_tier.h. */
#include "tools/cli/cli_tier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Classes S3 knows (x-amz-storage-class); anything else is a typo that
 * would otherwise surface only at the first upload as InvalidStorageClass. */
static const char *const known[] = {
	"STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR",
	"GLACIER", "DEEP_ARCHIVE", "REDUCED_REDUNDANCY", "EXPRESS_ONEZONE", NULL,
};

static int known_class(const char *c, size_t len)
{
	for (size_t i = 0; known[i]; i++)
		if (strlen(known[i]) == len && memcmp(known[i], c, len) == 0)
			return 1;
	return 0;
}

static int archive_class(const char *c, size_t len)
{
	return (len == 7 && memcmp(c, "GLACIER", 7) == 0) || (len == 12 && memcmp(c, "DEEP_ARCHIVE", 12) == 0);
}

int cli_tier_set(const char *spec, StrataErr *err)
{
	const char *p = spec;

	if (!*spec)
		goto bad;
	while (*p) {
		size_t n = strcspn(p, ","), kl;
		const char *eq = memchr(p, '=', n);

		if (!eq)
			goto bad;
		kl = (size_t)(eq - p);
		if (!((kl == 4 && memcmp(p, "data", 4) == 0) || (kl == 8 && memcmp(p, "metadata", 8) == 0)))
			goto bad;
		if (!known_class(eq + 1, n - kl - 1))
			return strata_err_set(err, STRATA_EUSAGE, "--storage-class %s: unknown storage class \"%.*s\" "
			                      "(known: STANDARD, STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, "
			                      "GLACIER_IR, GLACIER, DEEP_ARCHIVE)", spec, (int)(n - kl - 1), eq + 1);
		/* Metadata is read by every command (open, snapshots, restore
		 * planning, check): in an archive class none of them would
		 * work without a restore of each object first. */
		if (kl == 8 && archive_class(eq + 1, n - kl - 1))
			return strata_err_set(err, STRATA_EUSAGE, "--storage-class %s: metadata cannot go to %.*s, "
			                      "which must be restored before every read; use STANDARD, STANDARD_IA "
			                      "or GLACIER_IR for metadata", spec, (int)(n - kl - 1), eq + 1);
		p += n;
		if (*p == ',')
			p++;
	}
	if (setenv("STRATA_S3_STORAGE_CLASS", spec, 1) != 0)
		return strata_err_set(err, -errno, "out of memory");
	return 0;
bad:
	return strata_err_set(err, STRATA_EUSAGE, "--storage-class \"%s\": expected data=CLASS,metadata=CLASS "
	                      "(e.g. data=GLACIER,metadata=STANDARD)", spec);
}
