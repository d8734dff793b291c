/* user/catalog.c: bundled workload catalogue (see catalog.h). Programs live
 * in workloads/ beside the poolscope binary (the build tree), or in
 * $POOLSCOPE_WORKLOADS_DIR. Descriptions come from each program's
 * --describe, so they are written once, in the workload. */
#include "cmd/catalog.h"
#include "sys/util.h"
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const catalog_names[] = {
	"cpu-procs", "cpu-threads", "gil-threads", "io-threads", "io-procs", "oversubscribed", NULL,
};

static const char *workloads_dir(char *buf, size_t len)
{
	const char *env = getenv("POOLSCOPE_WORKLOADS_DIR");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	snprintf(buf, len, "%s/workloads", dirname(exe));
	return buf;
}

int catalog_path(const char *name, char *buf, size_t len)
{
	char dir[PATH_MAX];
	int known = 0;

	for (const char *const *n = catalog_names; *n; n++)
		known |= !strcmp(*n, name);
	if (!known)
		return -ENOENT;
	if (!workloads_dir(dir, sizeof(dir)))
		return -ENOEXEC;
	snprintf(buf, len, "%s/%s", dir, name);
	return access(buf, X_OK) ? -ENOEXEC : 0;
}

const char *catalog_list(char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (const char *const *n = catalog_names; *n && o < len; n++)
		o += snprintf(buf + o, len - o, "%s%s", o ? ", " : "", *n);
	return buf;
}

void catalog_print(void)
{
	for (const char *const *n = catalog_names; *n; n++) {
		char path[PATH_MAX], cmd[PATH_MAX + 32], desc[512] = "";
		FILE *p;

		if (catalog_path(*n, path, sizeof(path))) {
			printf("  %-15s (not built: run make)\n", *n);
			continue;
		}
		snprintf(cmd, sizeof(cmd), "'%s' --describe 2>/dev/null", path);
		p = popen(cmd, "r");
		if (p) {
			if (!fgets(desc, sizeof(desc), p))
				desc[0] = '\0';
			pclose(p);
		}
		desc[strcspn(desc, "\n")] = '\0';
		printf("  %-15s %s\n", *n, desc);
	}
}
