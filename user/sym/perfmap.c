/* user/sym/perfmap.c: JIT symbol maps (see perfmap.h). */
#include "sym/perfmap.h"
#include "sym/elf_syms.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A JVM's map can hold a few hundred thousand lines; beyond this the file
 * is not one (or not worth the memory). */
#define PERF_MAP_MAX_LINES (4u << 20)
/* How far back a lookup walks for an older, longer entry still covering an
 * address. */
#define PERF_MAP_LOOKBACK 16

static int cmp_entry(const void *a, const void *b)
{
	const struct perf_map_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* "START SIZE name": 0 and the fields, or -EINVAL. */
static int parse_line(char *line, uint64_t *start, uint64_t *size, char **name)
{
	char *end;

	*start = strtoull(line, &end, 16);
	if (end == line || *end != ' ')
		return -EINVAL;
	line = end + 1;
	*size = strtoull(line, &end, 16);
	if (end == line || *end != ' ' || !*size || *start + *size < *start)
		return -EINVAL;
	*name = end + 1;
	(*name)[strcspn(*name, "\n")] = '\0';
	return **name ? 0 : -EINVAL;
}

static int read_entries(FILE *fp, struct perf_map *m)
{
	struct name_pool names = { 0 };
	size_t cap = 0, line_cap = 0;
	char *line = NULL;
	uint32_t lineno = 0;
	int err = 0;

	while (!err && getline(&line, &line_cap, fp) > 0) {
		uint64_t start, size;
		char *name;
		long off;

		if (++lineno > PERF_MAP_MAX_LINES) {
			err = -EFBIG;
			break;
		}
		if (parse_line(line, &start, &size, &name))
			continue;
		off = name_pool_add(&names, name);
		if (off < 0 || grow_array((void **)&m->e, &cap, m->n + 1, sizeof(*m->e))) {
			err = -ENOMEM;
			break;
		}
		m->e[m->n++] = (struct perf_map_entry){ .start = start, .end = start + size,
							.name = (const char *)(uintptr_t)off,
							.line = lineno };
	}
	free(line);
	if (err) {
		free(names.buf);
		return err;
	}
	m->names = names.buf;
	for (size_t i = 0; i < m->n; i++)
		m->e[i].name = m->names + (uintptr_t)m->e[i].name;
	qsort(m->e, m->n, sizeof(*m->e), cmp_entry);
	return 0;
}

int perf_map_load(struct perf_map *m, const char *path, uid_t owner)
{
	struct stat st;
	FILE *fp;
	int fd, err;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (st.st_uid != owner && st.st_uid != 0) {
		close(fd);
		return -EPERM;
	}
	fp = fdopen(fd, "r");
	if (!fp) {
		close(fd);
		return -ENOMEM;
	}
	perf_map_free(m);
	err = read_entries(fp, m);
	fclose(fp);
	if (err)
		perf_map_free(m);
	return err;
}

const char *perf_map_find(const struct perf_map *m, uint64_t addr, uint64_t *offset)
{
	const struct perf_map_entry *best = NULL;
	size_t lo = 0, hi = m->n;

	while (lo < hi) { /* first entry with start > addr */
		size_t mid = lo + (hi - lo) / 2;

		if (m->e[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo, k = 0; i > 0 && k < PERF_MAP_LOOKBACK; i--, k++) {
		const struct perf_map_entry *e = &m->e[i - 1];

		if (addr < e->end && (!best || e->line > best->line))
			best = e;
	}
	if (!best)
		return NULL;
	if (offset)
		*offset = addr - best->start;
	return best->name;
}

void perf_map_free(struct perf_map *m)
{
	free(m->e);
	free(m->names);
	memset(m, 0, sizeof(*m));
}
