/* error.c — see error.h. */
#include "store/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *strata_strerror(int code)
{
	switch (code) {
	case 0:                 return "success";
	case STRATA_EAUTH:      return "authentication failed (damaged or tampered data)";
	case STRATA_EFORMAT:    return "malformed data";
	case STRATA_EVERSION:   return "unsupported format version";
	case STRATA_ENOTFOUND:  return "not found";
	case STRATA_ELOCKED:    return "repository is locked";
	case STRATA_EPASSWORD:  return "wrong password or no key";
	case STRATA_ENOREPO:    return "repository does not exist";
	case STRATA_EDAMAGED:   return "data damaged";
	case STRATA_EUSAGE:     return "invalid usage";
	case STRATA_EPARTIAL:   return "snapshot saved as partial: some source files vanished, could not be read or changed while read";
	case STRATA_EEXIST:     return "already exists";
	case STRATA_EAMBIGUOUS: return "ambiguous ID prefix";
	case STRATA_EREFUSED:   return "refused";
	case STRATA_EPRODUCER:  return "the program producing the input failed: no snapshot was written";
	default:
		if (code < 0 && code > STRATA_E_FIRST)
			return strerror(-code);
		return "unknown error";
	}
}

int strata_err_set(StrataErr *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int strata_err_prefix(StrataErr *err, const char *fmt, ...)
{
	char head[STRATA_ERRMSG_LEN], old[STRATA_ERRMSG_LEN];
	va_list ap;

	if (!err)
		return 0;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	snprintf(err->msg, sizeof err->msg, "%s: %s", head, old);
	return err->code;
}

void strata_err_clear(StrataErr *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
