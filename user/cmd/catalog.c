/* user/cmd/catalog.c: bundled workload catalogue (see catalog.h). The
 * programs live in $POOLSCOPE_WORKLOADS_DIR when it is set; otherwise in
 * workloads/ beside the poolscope binary (the build tree), or in
 * ../libexec/poolscope from the binary's directory (make install, the .deb).
 * Descriptions come from each program's --describe, so they are written
 * once, in the workload. */
#include "cmd/catalog.h"
#include "render/report.h"
#include "sys/util.h"
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const catalog_names[] = {
	"cpu-procs", "cpu-threads", "gil-threads", "io-threads", "io-procs", "oversubscribed", NULL,
};

enum { MAX_DIRS = 2 };

/* The directories to look in, in order; returns how many (0: none known). */
static int workloads_dirs(char dirs[MAX_DIRS][PATH_MAX])
{
	const char *env = getenv("POOLSCOPE_WORKLOADS_DIR");
	char exe[PATH_MAX], *bindir, *prefix;
	ssize_t n;

	/* an explicit directory is the only one: no silent fallback */
	if (env && *env) {
		snprintf(dirs[0], PATH_MAX, "%s", env);
		return 1;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	bindir = dirname(exe);
	snprintf(dirs[0], PATH_MAX, "%s/workloads", bindir);
	prefix = dirname(bindir);
	snprintf(dirs[1], PATH_MAX, "%s/libexec/poolscope", strcmp(prefix, "/") ? prefix : "");
	return 2;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

int catalog_path(const char *name, char *buf, size_t len)
{
	char dirs[MAX_DIRS][PATH_MAX];
	int known = 0, ndirs, missing = 0;

	for (const char *const *n = catalog_names; *n; n++)
		known |= !strcmp(*n, name);
	if (!known)
		return -ENOENT;
	ndirs = workloads_dirs(dirs);
	if (!ndirs)
		return -ENOEXEC;
	for (int i = 0; i < ndirs; i++) {
		snprintf(buf, len, "%s/%s", dirs[i], name);
		if (!access(buf, X_OK))
			return 0;
	}
	/* name the missing program in the directory that exists, if one does */
	for (int i = 0; i < ndirs; i++)
		if (is_dir(dirs[i])) {
			missing = i;
			break;
		}
	snprintf(buf, len, "%s/%s", dirs[missing], name);
	return -ENOEXEC;
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
		printf("  %-15s ", *n);
		report_wrap_words(stdout, desc, 18, 18, 80);
	}
}
