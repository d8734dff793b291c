/* user/cmd/catalog.h: the bundled workloads: their names, where their programs
 * are installed, and their one-line descriptions. */
#ifndef POOLSCOPE_CATALOG_H
#define POOLSCOPE_CATALOG_H
#include <stddef.h>

/* NULL-terminated list of bundled workload names. */
extern const char *const catalog_names[];
/* Full path of workload `name` into buf (catalog.c says where it looks); 0,
 * -ENOENT (not a bundled name) or -ENOEXEC (bundled but its program is
 * missing: not built; buf names the path it expected). */
int catalog_path(const char *name, char *buf, size_t len);
/* "cpu-procs, cpu-threads, ..." */
const char *catalog_list(char *buf, size_t len);
/* Print "NAME  description" for every workload. */
void catalog_print(void);

#endif
