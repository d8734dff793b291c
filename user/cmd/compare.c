/* user/cmd/compare.c: `poolscope compare`: run several workloads or
 * commands under tracing, one after another, and print one side-by-side
 * table: the threads-vs-processes lesson as a measurement. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd/catalog.h"
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "model/diagnose.h"
#include "model/hist.h"
#include "render/json.h"
#include "trace/launch.h"
#include "model/model.h"
#include "render/report.h"
#include "sys/privs.h"
#include "sys/util.h"

#define MAX_ENTRIES 16
#define MAX_ARGS 64

struct entry {
	char *argv[MAX_ARGS + 1];
	char path[PATH_MAX];
	char name[64];           /* column label */
	char *owned;             /* the split copy of a workload entry */
	struct ps_snapshot snap;
	struct model m;
	struct diagnosis d;
	int status;
	bool ok, ran;            /* traced and read / attempted */
};

struct compare_opts {
	struct cli_common c;     /* the trace options of run; --json is the table's */
	bool verbose_output;     /* let workloads print to stdout */
	struct entry e[MAX_ENTRIES];
	int n;
};

void compare_usage(FILE *out)
{
	char list[256];

	fprintf(out,
"Usage: poolscope compare [OPTIONS] ENTRY... [-- COMMAND [ARGS...]]...\n"
"\n"
"Run each entry under tracing, one after another, and print one side-by-side\n"
"table: wall time, CPU time, parallelism, per-core busy %% (any task), other\n"
"load (CPUs untraced tasks took), voluntary and involuntary switches, run-queue\n"
"p99, lock wait share, top lock and verdict; a warning when the entries ran\n"
"under different outside load.\n"
"An ENTRY is a bundled workload, optionally with its arguments in one quoted\n"
"word (\"cpu-threads -w 4\"); each `--` starts a command entry that runs to\n"
"the next `--`.\n"
"\n"
"Bundled workloads:\n  %s\n"
"\n"
"Options:\n"
"  --json FILE         write the table as JSON to FILE ('-': stdout)\n"
"  -q, --quiet         no table (with --json)\n"
"  --show-output       let the workloads print to stdout (default: discarded;\n"
"                      their stderr is kept)\n"
"  -h, --help          this help\n"
"  --stacks, --no-locks, --no-python-frames, -F, --slice-ms, --max-threads,\n"
"  --raw-tp, -v: as for poolscope run (see its --help); --folded and --svg\n"
"                      are for run and attach\n"
"\n"
"Ctrl-C stops the entry that is running (as poolscope run does) and the\n"
"series; the table shows what was gathered.\n"
"\n"
"Example (the classic lesson, on this machine's cores):\n"
"  sudo poolscope compare cpu-procs cpu-threads gil-threads io-threads io-procs\n",
		catalog_list(list, sizeof(list)));
}

/* "cpu-threads -w 4" -> argv, resolved to the bundled program. */
static int add_workload(struct compare_opts *o, const char *word)
{
	struct entry *e = &o->e[o->n];
	char *copy = xstrdup(word), *tok, *save = NULL;
	int n = 0, err;

	e->owned = copy;
	for (tok = strtok_r(copy, " \t", &save); tok && n < MAX_ARGS; tok = strtok_r(NULL, " \t", &save))
		e->argv[n++] = tok;
	if (!n) {
		ps_err("compare: empty entry");
		return -EINVAL;
	}
	err = catalog_path(e->argv[0], e->path, sizeof(e->path));
	if (err == -ENOENT) {
		char list[256];

		ps_err("compare: unknown workload '%s' (bundled: %s; commands go after --)", e->argv[0],
		       catalog_list(list, sizeof(list)));
		return -EINVAL;
	}
	if (err) {
		ps_err("compare: workload '%s' is not built: run make", e->argv[0]);
		return -EINVAL;
	}
	snprintf(e->name, sizeof(e->name), "%s", word);
	o->n++;
	return 0;
}

static int add_command(struct compare_opts *o, char **argv, int argc)
{
	struct entry *e = &o->e[o->n];
	int n = argc < MAX_ARGS ? argc : MAX_ARGS;

	if (!argc) {
		ps_err("compare: empty command after --");
		return -EINVAL;
	}
	memcpy(e->argv, argv, n * sizeof(char *));
	if (launch_resolve_command(argv[0], e->path, sizeof(e->path))) {
		ps_err("compare: %s: command not found", argv[0]);
		return -ENOEXEC;
	}
	size_t len = 0;
	for (int i = 0; i < n && len < sizeof(e->name); i++)
		len += snprintf(e->name + len, sizeof(e->name) - len, "%s%s", i ? " " : "", argv[i]);
	o->n++;
	return 0;
}

static int parse_args(int argc, char **argv, struct compare_opts *o)
{
	static const struct option own[] = {
		{ "show-output", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const struct option *longopts = cli_longopts(own);
	int ch, i, err;

	optind = 1;
	opterr = 0;
	cli_common_init(&o->c);
	while ((ch = getopt_long(argc, argv, "+:h" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		err = cli_common_parse(ch, optarg, "compare", &o->c);
		if (err < 0)
			return err;
		if (err) {
			if (o->c.nexports || o->c.push.t.url) {
				ps_err("compare: --folded, --svg, --pprof and --push are for run and "
				       "attach (one trace each)");
				return -EINVAL;
			}
			continue;
		}
		switch (ch) {
		case 'O': o->verbose_output = true; break;
		case 'h': compare_usage(stdout); exit(0);
		case ':':
			ps_err("compare: option '%s' needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			ps_err("compare: unknown option '%s' (see poolscope compare --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	/* entries: words until "--", then commands separated by "--" */
	for (i = optind; i < argc && strcmp(argv[i], "--"); i++) {
		if (o->n == MAX_ENTRIES) {
			ps_err("compare: at most %d entries", MAX_ENTRIES);
			return -EINVAL;
		}
		if (add_workload(o, argv[i]))
			return -EINVAL;
	}
	while (i < argc) {
		int start = ++i;

		while (i < argc && strcmp(argv[i], "--"))
			i++;
		if (o->n == MAX_ENTRIES) {
			ps_err("compare: at most %d entries", MAX_ENTRIES);
			return -EINVAL;
		}
		int err = add_command(o, argv + start, i - start);
		if (err)
			return err;
	}
	if (!o->n) {
		ps_err("compare: nothing to compare (give bundled workloads and/or -- COMMAND)");
		return -EINVAL;
	}
	return 0;
}

/* "    top lock: take_gil on CPython GIL in python3 1234, 29% of its
 * waiters' time", broken after the comma when wider than 80 columns. */
static void print_top_lock(FILE *f, const struct lock_summary *l)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "    top lock: %s%s%s in %s %u, %.0f%% of its waiters' time",
			 l->caller ? l->caller : "?", l->name ? " on " : "", l->name ? l->name : "",
			 l->comm, l->tgid, 100 * l->share_waiters);
	char *comma = strrchr(line, ',');

	if (n > 80 && comma)
		fprintf(f, "%.*s\n     %s\n", (int)(comma - line + 1), line, comma + 1);
	else
		fprintf(f, "%s\n", line);
}

/* The share of thread time in contended lock waits (all such locks). */
static double lock_share(const struct model *m)
{
	double s = 0;

	for (uint32_t i = 0; i < m->nlocks; i++)
		if (m->locks[i].contended)
			s += m->locks[i].share_all;
	return s;
}

/* The entries ran under different outside load when the CPUs untraced
 * tasks took differ by half a CPU or more: their times do not compare. */
#define OTHER_LOAD_SPREAD 0.5

/* The least and most CPUs untraced tasks took during an entry; false if
 * no entry ran. */
static bool other_load_range(const struct compare_opts *o, double *lo, double *hi)
{
	*lo = 1e9;
	*hi = -1;
	for (int i = 0; i < o->n; i++) {
		if (!o->e[i].ok)
			continue;
		*lo = o->e[i].m.other_cpus < *lo ? o->e[i].m.other_cpus : *lo;
		*hi = o->e[i].m.other_cpus > *hi ? o->e[i].m.other_cpus : *hi;
	}
	return *hi >= 0;
}

static void warn_other_load(FILE *f, const struct compare_opts *o)
{
	double lo, hi;

	if (other_load_range(o, &lo, &hi) && hi - lo >= OTHER_LOAD_SPREAD)
		fprintf(f, "WARNING: the entries ran under different outside load (untraced tasks\n"
			"  took %.2f to %.2f CPUs): their times and parallelism do not compare\n", lo, hi);
}

static void print_table(FILE *f, const struct compare_opts *o)
{
	char w[16], c[16], r[16], busy[32], vi[32], v[16], iv[16];

	fprintf(f, "\nCOMPARE  (%d CPUs; parallelism = traced CPU time / wall)\n", o->e[0].m.nr_cpus);
	fprintf(f, "%-17s %6s %6s %5s %-7s %5s %10s %8s %6s\n", "entry", "wall", "CPU", "par",
		"busy %", "other", "vol/invol", "runq p99", "lockw");
	for (int i = 0; i < o->n; i++) {
		const struct entry *e = &o->e[i];
		size_t n = 0;

		if (!e->ok) {
			fprintf(f, "%-17.17s (%s)\n", e->name, e->ran ? "failed" : "not run: stopped");
			continue;
		}
		busy[0] = '\0';
		if (e->m.nr_cpus <= 3)
			for (int k = 0; k < e->m.nr_cpus; k++)
				n += snprintf(busy + n, sizeof(busy) - n, "%s%.0f", k ? "/" : "",
					      e->m.cores[k].busy_pct);
		else
			snprintf(busy, sizeof(busy), "avg %.0f", e->m.busy_pct);
		snprintf(vi, sizeof(vi), "%s/%s", fmt_count(e->m.vol, v, sizeof(v)),
			 fmt_count(e->m.invol, iv, sizeof(iv)));
		fprintf(f, "%-17.17s %6s %6s %5.2f %-7s %5.2f %10s %8s %5.1f%%\n", e->name,
			fmt_dur(e->m.wall_ns, w, sizeof(w)), fmt_dur(e->m.oncpu_ns, c, sizeof(c)),
			e->m.parallelism, busy, e->m.other_cpus, vi,
			fmt_dur(e->m.runq_p99_ns, r, sizeof(r)), 100 * lock_share(&e->m));
	}
	fprintf(f, "  (busy %%: each core's busy share, any task, as in run; other: CPUs taken by\n"
		"   untraced tasks; lockw: thread time in contended futex waits)\n");
	warn_other_load(f, o);
	fprintf(f, "\nVERDICTS\n");
	for (int i = 0; i < o->n; i++) {
		const struct entry *e = &o->e[i];
		const struct lock_summary *l = e->ok ? e->d.lock : NULL;

		if (!e->ok)
			continue;
		char line[256];
		int n = snprintf(line, sizeof(line), "  %-20.20s %s (%s)", e->name, e->d.label,
				 diagnose_confidence_word(e->d.confidence));

		if (n <= 80)
			fprintf(f, "%s\n", line);
		else
			fprintf(f, "  %-20.20s\n    %s (%s)\n", e->name, e->d.label,
				diagnose_confidence_word(e->d.confidence));
		if (l)
			print_top_lock(f, l);
	}
}

static void write_json(FILE *f, const struct compare_opts *o)
{
	struct json j;

	json_init(&j, f, true);
	json_object_begin(&j);
	json_kv_u64(&j, "version", 1);
	double lo, hi;
	bool any = other_load_range(o, &lo, &hi);
	json_kv_bool(&j, "outside_load_differs", any && hi - lo >= OTHER_LOAD_SPREAD);
	json_kv_double(&j, "other_load_cpus_min", any ? lo : 0);
	json_kv_double(&j, "other_load_cpus_max", any ? hi : 0);
	json_key(&j, "entries");
	json_array_begin(&j);
	for (int i = 0; i < o->n; i++) {
		const struct entry *e = &o->e[i];

		json_object_begin(&j);
		json_kv_string(&j, "entry", e->name);
		json_kv_bool(&j, "ok", e->ok);
		if (e->ok) {
			json_kv_u64(&j, "exit_status", e->status < 0 ? 0 : e->status);
			json_kv_u64(&j, "wall_ns", e->m.wall_ns);
			json_kv_u64(&j, "cpu_ns", e->m.oncpu_ns);
			json_kv_double(&j, "parallelism", e->m.parallelism);
			json_key(&j, "core_busy_pct");
			json_array_begin(&j);
			for (int k = 0; k < e->m.nr_cpus; k++)
				json_double(&j, e->m.cores[k].busy_pct);
			json_array_end(&j);
			json_key(&j, "core_traced_pct");
			json_array_begin(&j);
			for (int k = 0; k < e->m.nr_cpus; k++)
				json_double(&j, e->m.cores[k].traced_pct);
			json_array_end(&j);
			json_kv_double(&j, "other_load_cpus", e->m.other_cpus);
			json_kv_u64(&j, "vol", e->m.vol);
			json_kv_u64(&j, "invol", e->m.invol);
			json_kv_u64(&j, "runq_p99_ns", e->m.runq_p99_ns);
			json_kv_double(&j, "lock_wait_share", lock_share(&e->m));
			json_key(&j, "top_lock");
			if (e->d.lock) {
				json_object_begin(&j);
				json_kv_string(&j, "caller", e->d.lock->caller ? e->d.lock->caller : "");
				json_kv_string(&j, "lock_name", e->d.lock->name ? e->d.lock->name : "");
				json_kv_u64(&j, "tgid", e->d.lock->tgid);
				json_kv_double(&j, "share_waiters", e->d.lock->share_waiters);
				json_object_end(&j);
			} else {
				json_null(&j);
			}
			json_kv_string(&j, "verdict", e->d.key);
			report_diagnosis_json(&j, &e->d);
		}
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
}

int cmd_compare(int argc, char **argv)
{
	struct compare_opts *o = xcalloc(1, sizeof(*o));
	struct invoker inv;
	FILE *json;
	int rc = 0, devnull = -1;
	bool stopped = false;

	session_signals_init();
	int err = parse_args(argc, argv, o);
	if (err) {
		free(o);
		return err == -ENOEXEC ? EXIT_NOCMD : EXIT_USAGE;
	}
	if (invoker_get(&inv)) {
		ps_err("compare: malformed SUDO_UID/SUDO_GID in the environment");
		free(o);
		return EXIT_USAGE;
	}
	if (cli_open_outputs(&o->c, &inv, "compare", NULL)) {
		free(o);
		return EXIT_USAGE;
	}
	json = o->c.json.f;
	bool json_stdout = cli_json_stdout(&o->c);
	if (!o->verbose_output)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	for (int i = 0; i < o->n; i++) {
		struct entry *e = &o->e[i];
		struct launch l = {
			.argv = e->argv, .path = e->path, .inv = &inv, .tr = &o->c.tr,
			.child_stdout = devnull >= 0 ? devnull : json_stdout ? 2 : -1,
			.cmd = "compare",
		};

		fprintf(stderr, "poolscope: compare: %d/%d %s\n", i + 1, o->n, e->name);
		e->ran = true;
		rc = launch_traced(&l, &e->snap, &e->status);
		if (rc) {
			/* tracing itself failed: the next entries would too */
			if (rc == EXIT_TRACE)
				break;
			continue;
		}
		e->ok = true;
		model_build(&e->snap, &e->m);
		diagnose(&e->m, &e->d);
		if (e->status != 0)
			ps_warn("compare: %s exited with status %d", e->name, e->status);
		if (launch_stopped()) {
			cli_progress_end();
			ps_warn("compare: stopped by a signal after %d of %d entries", i + 1, o->n);
			stopped = true;
			break;
		}
	}
	if (devnull >= 0)
		close(devnull);
	if (!json_stdout && !o->c.quiet && o->e[0].ok) {
		struct output table;

		output_open(&table, NULL, "-");
		print_table(table.f, o);
		if (output_commit(&table, "compare") && !rc)
			rc = EXIT_TRACE;
	}
	if (json) {
		write_json(json, o);
		if (output_commit(&o->c.json, "compare") && !rc)
			rc = EXIT_TRACE;
	}
	for (int i = 0; i < o->n; i++) {
		if (o->e[i].ok) {
			model_free(&o->e[i].m);
			snapshot_free(&o->e[i].snap);
		} else if (!rc && !stopped) {
			rc = EXIT_TRACE;
		}
		if (o->e[i].ok && o->e[i].status != 0 && !rc)
			rc = 1;
		free(o->e[i].owned);
	}
	free(o);
	return stopped ? 128 + SIGINT : rc;
}
