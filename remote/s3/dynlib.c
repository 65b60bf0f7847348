/* dynlib.c — see dynlib.h. */
#include "remote/s3/dynlib.h"

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

const void *dynlib_get(DynLib *lib, char *msg, size_t msg_len)
{
	int ok;

	pthread_mutex_lock(&lib->lock);
	if (!lib->tried) {
		lib->tried = 1;
		lib->ok = dynlib_load(lib->soname, lib->package, lib->syms, lib->n, lib->table,
		                      lib->msg, sizeof lib->msg) == 0 &&
		          (!lib->after_load ||
		           lib->after_load(lib->table, lib->msg, sizeof lib->msg) == 0);
	}
	ok = lib->ok;
	if (!ok && msg && msg_len)
		snprintf(msg, msg_len, "%s", lib->msg);
	pthread_mutex_unlock(&lib->lock);
	return ok ? lib->table : NULL;
}
