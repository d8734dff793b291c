/* user/main.c: poolscope's entry point: subcommand dispatch and help. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include "cmd/catalog.h"
#include "cmd/commands.h"
#include "sys/util.h"
#include "version.h" /* generated: POOLSCOPE_BUILD_ID (tools/git-version) */

static void usage(FILE *out)
{
	fprintf(out,
"Usage: poolscope COMMAND [OPTIONS] ...\n"
"\n"
"poolscope traces the Linux scheduler with eBPF to show how a pool of threads\n"
"or processes shares the CPU cores: who ran where and for how long, how long\n"
"runnable threads waited, how they were switched (voluntary/involuntary) and\n"
"migrated. It answers \"threads or processes, and why is this pool slow?\"\n"
"with the kernel's facts.\n"
"\n"
"Commands:\n"
"  run       run a bundled workload or a command under tracing, print the report\n"
"  attach    trace running processes (-p PID), threads, or the whole machine\n"
"  top       watch them live: each core's busy bar, run queue, threads, locks\n"
"  compare   run several workloads/commands and compare them side by side\n"
"  list      list the bundled workloads\n"
"  help      help on a command (poolscope help run)\n"
"  version   print the version and the git describe of the build\n"
"\n"
"Tracing needs root (CAP_BPF and CAP_PERFMON): use sudo.\n"
"See `poolscope run --help` for the report and its options.\n"
"\n"
"Examples:\n"
"  sudo poolscope run cpu-threads             a bundled workload, traced\n"
"  sudo poolscope run -- make -j2             any command\n"
"  sudo poolscope attach -p 1234 -d 10        a running process, for 10 s\n"
"  sudo poolscope top --comm nginx            the cores live, as nginx uses them\n"
"  sudo poolscope compare cpu-procs cpu-threads gil-threads\n"
"  poolscope list                             the bundled workloads\n"
"  poolscope help attach                      one command's options\n");
}

int cmd_list(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("Bundled workloads (poolscope run NAME [ARGS]; NAME --help for their options):\n");
	catalog_print();
	return 0;
}

static const struct {
	const char *name;
	void (*usage)(FILE *out);
} helps[] = {
	{ "run", run_usage }, { "attach", attach_usage }, { "top", top_usage },
	{ "compare", compare_usage },
};

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_LEN(helps) && argc == 2; i++)
		if (!strcmp(argv[1], helps[i].name)) {
			helps[i].usage(stdout);
			return 0;
		}
	/* list, help and version are said in the general help */
	if (argc == 2 && (!strcmp(argv[1], "list") || !strcmp(argv[1], "help") ||
			  !strcmp(argv[1], "version"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 2)
		ps_err("help: one command at a time (poolscope help %s)", argv[1]);
	else
		ps_err("help: no command '%s' (run, attach, top, compare, list, help, version)", argv[1]);
	return EXIT_USAGE;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("poolscope %s (%s)\n", POOLSCOPE_VERSION, POOLSCOPE_BUILD_ID);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "run", cmd_run },
	{ "attach", cmd_attach },
	{ "top", cmd_top },
	{ "compare", cmd_compare },
	{ "list", cmd_list },
	{ "help", cmd_help },
	{ "version", cmd_version },
};

int main(int argc, char **argv)
{
	ps_mark_start();
	/* A fixed threshold: blocks of 256 KiB and more (a snapshot's thread
	 * table, an interval's JSON) are mapped and unmapped, never left as
	 * holes in the heap. glibc's default raises the threshold to the
	 * largest block freed, after which they come from the heap, and a long
	 * attach's resident set grew by the fragments (16 to 33 MB and back
	 * between intervals, measured under thread churn). */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc, argv);
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	ps_err("unknown command '%s' (try poolscope --help)", argv[1]);
	return EXIT_USAGE;
}
