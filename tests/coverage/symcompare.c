/* tests/coverage/symcompare.c: symbolize the same user addresses of a live
 * process with poolscope's symbolizer or with elfutils' libdwfl (the
 * library perf uses), and say how many got a name, how long it took (CPU
 * time, getrusage) and the peak RSS; one backend per process, so each RSS
 * is its own.
 *
 *   symcompare poolscope|dwfl|dwfl-lines PID ADDRFILE
 *
 * ADDRFILE: one hex address per line (perf script's callchain IPs of the
 * same run). dwfl-lines also asks libdwfl for each address's source line
 * (what adopting it would bring when DWARF is at hand). Prints one line:
 * "backend addrs N named N lines N cpu_ms X rss_kb Y setup_ms Z". */
#include "sym/symbolize.h"

#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
	       ru.ru_stime.tv_usec / 1e3;
}

static long rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static uint64_t *read_addrs(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "r");
	uint64_t *a = NULL, v;
	size_t cap = 0;

	*n = 0;
	while (fp && fscanf(fp, "%" SCNx64, &v) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 4096;
			a = realloc(a, cap * sizeof(*a));
			if (!a)
				exit(1);
		}
		a[(*n)++] = v;
	}
	if (fp)
		fclose(fp);
	return a;
}

static void run_poolscope(int pid, const uint64_t *a, size_t n, size_t *named, double *setup)
{
	struct symbolizer *s = symbolizer_new();
	double t0 = cpu_ms();

	symbolizer_add_process(s, pid);
	symbolizer_load_perf_map(s, pid);
	*setup = cpu_ms() - t0;
	for (size_t i = 0; i < n; i++) {
		struct sym_frame f;

		*named += symbolize_user(s, pid, a[i] - 1, &f) == 0;
	}
	/* freed after the measurement: the RSS is what it held */
}

static void run_dwfl(int pid, const uint64_t *a, size_t n, bool lines, size_t *named,
		     size_t *nlines, double *setup)
{
	static char *debuginfo_path;
	static const Dwfl_Callbacks cb = {
		.find_elf = dwfl_linux_proc_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.debuginfo_path = &debuginfo_path,
	};
	double t0 = cpu_ms();
	Dwfl *dwfl = dwfl_begin(&cb);

	if (!dwfl || dwfl_linux_proc_report(dwfl, pid) || dwfl_report_end(dwfl, NULL, NULL)) {
		fprintf(stderr, "symcompare: libdwfl cannot report process %d\n", pid);
		exit(1);
	}
	*setup = cpu_ms() - t0;
	for (size_t i = 0; i < n; i++) {
		Dwfl_Module *mod = dwfl_addrmodule(dwfl, a[i] - 1);

		if (!mod)
			continue;
		*named += dwfl_module_addrname(mod, a[i] - 1) != NULL;
		if (lines) {
			Dwfl_Line *l = dwfl_module_getsrc(mod, a[i] - 1);
			int lineno = 0;

			*nlines += l && dwfl_lineinfo(l, NULL, &lineno, NULL, NULL, NULL) && lineno;
		}
	}
}

int main(int argc, char **argv)
{
	size_t n, named = 0, nlines = 0;
	double t0, setup = 0;
	uint64_t *a;
	int pid;

	if (argc != 4) {
		fprintf(stderr, "usage: symcompare poolscope|dwfl|dwfl-lines PID ADDRFILE\n");
		return 2;
	}
	pid = atoi(argv[2]);
	a = read_addrs(argv[3], &n);
	t0 = cpu_ms();
	if (!strcmp(argv[1], "poolscope"))
		run_poolscope(pid, a, n, &named, &setup);
	else
		run_dwfl(pid, a, n, !strcmp(argv[1], "dwfl-lines"), &named, &nlines, &setup);
	printf("%s addrs %zu named %zu lines %zu cpu_ms %.1f rss_kb %ld setup_ms %.1f\n", argv[1], n,
	       named, nlines, cpu_ms() - t0, rss_kb(), setup);
	return 0;
}
