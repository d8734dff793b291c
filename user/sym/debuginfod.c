/* user/sym/debuginfod.c: libdebuginfod through dlopen, as elfutils' libdwfl
 * loads it itself (see debuginfod.h). A static poolscope (the 6.1 kernel
 * test's) has no dlopen worth using: it builds with POOLSCOPE_STATIC and
 * never fetches. */
#include "sym/debuginfod.h"
#include <elfutils/debuginfod.h>
#include <errno.h>
#include <stdlib.h>
#ifndef POOLSCOPE_STATIC
#include <dlfcn.h>
#endif

struct sym_debuginfod {
	void *lib;
	debuginfod_client *client;
	debuginfod_client *(*begin)(void);
	int (*find)(debuginfod_client *, const unsigned char *, int, char **);
	void (*end)(debuginfod_client *);
};

#ifdef POOLSCOPE_STATIC
struct sym_debuginfod *sym_debuginfod_open(void)
{
	return NULL;
}
#else
struct sym_debuginfod *sym_debuginfod_open(void)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	struct sym_debuginfod *d;

	if (!urls || !*urls)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->lib = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!d->lib)
		goto fail;
	*(void **)&d->begin = dlsym(d->lib, "debuginfod_begin");
	*(void **)&d->find = dlsym(d->lib, "debuginfod_find_debuginfo");
	*(void **)&d->end = dlsym(d->lib, "debuginfod_end");
	if (!d->begin || !d->find || !d->end)
		goto fail;
	d->client = d->begin();
	if (d->client)
		return d;
fail:
	if (d->lib)
		dlclose(d->lib);
	free(d);
	return NULL;
}
#endif

int sym_debuginfod_find(struct sym_debuginfod *d, const char *build_id)
{
	char *path = NULL;
	int fd;

	if (!d)
		return -ENOSYS;
	/* length 0: build_id is the hex string itself */
	fd = d->find(d->client, (const unsigned char *)build_id, 0, &path);
	free(path);
	return fd;
}

void sym_debuginfod_close(struct sym_debuginfod *d)
{
	if (!d)
		return;
	d->end(d->client);
#ifndef POOLSCOPE_STATIC
	dlclose(d->lib);
#endif
	free(d);
}
