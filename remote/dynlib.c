/* dynlib.c — see dynlib.h. */
#include "remote/dynlib.h"

#include <dlfcn.h>
#include <stdio.h>

int dynlib_load(const char *soname, const char *package, const DynSym *syms, size_t n,
                void *table, char *msg, size_t msg_len)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		const char *e = dlerror();

		snprintf(msg, msg_len, "cannot load %s (install %s): %s", soname, package,
		         e ? e : "unknown error");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		void *p = dlsym(lib, syms[i].name);

		if (!p) {
			snprintf(msg, msg_len, "%s has no %s", soname, syms[i].name);
			return -1;
		}
		/* dlsym into a function pointer: POSIX guarantees the conversion. */
		*(void **)((char *)table + syms[i].offset) = p;
	}
	return 0;
}
