/* user/sym/perfmap.h: JIT symbol maps, /tmp/perf-PID.map, the format perf
 * reads ("START SIZE name" per line, hex numbers): written by node
 * --perf-basic-prof, a JVM on `jcmd PID Compiler.perfmap`, CPython 3.12+
 * with -X perf, and other JITs. */
#ifndef POOLSCOPE_PERFMAP_H
#define POOLSCOPE_PERFMAP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct perf_map_entry {
	uint64_t start, end;
	const char *name;
	uint32_t line;               /* later lines replace earlier ones */
};

struct perf_map {
	struct perf_map_entry *e;    /* sorted by start */
	size_t n;
	char *names;
};

/* Read path into m (replacing what it held). The file must be a regular
 * file (not followed through a symlink) owned by owner or root, as perf
 * requires. 0, -ENOENT, -EPERM (another owner), -EFBIG, -ENOMEM or -errno. */
int perf_map_load(struct perf_map *m, const char *path, uid_t owner);
/* The JIT symbol holding addr (*offset: addr - its start), or NULL. */
const char *perf_map_find(const struct perf_map *m, uint64_t addr, uint64_t *offset);
void perf_map_free(struct perf_map *m);

#endif
