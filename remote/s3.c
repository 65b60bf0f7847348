/* s3.c — the S3 backend. Placeholder until the libcurl implementation
 * lands: every S3 location is refused with -ENOTSUP. */
#include "remote/backend.h"
#include "remote/backend_internal.h"

#include <errno.h>

int backend_s3_open(const char *location, Backend **out_be, RemoteErr *err)
{
	(void)out_be;
	return backend_err_set(err, -ENOTSUP, "%s: S3 backend not built yet", location);
}
