/* harness.c: option parsing, --help/--describe, clocks and the summary line shared
 * by every bundled workload (see harness.h). Parsing never exits: it returns the
 * status for main() to return, so each program keeps one exit path. */
#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define HELP_WIDTH 78
#define OPT_VAL_BASE 256	/* getopt values of long-only options */
#define WL_LIST_MAX 1000000	/* items in one comma-separated list */

static const char *prog_name = "workload";
/* The summary measures wall and CPU time over the same window, from the start of
 * argument parsing: the CPU the dynamic loader spent before main() (several ms
 * for libcurl's dependencies) is left out, or short runs would show parallelism
 * above the core count. */
static double start_time, start_cpu;

const char *wl_name(void)
{
	return prog_name;
}

void wl_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

double wl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double tv_seconds(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

double wl_cpu_seconds(void)
{
	struct rusage self, children;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	return tv_seconds(self.ru_utime) + tv_seconds(self.ru_stime) +
	       tv_seconds(children.ru_utime) + tv_seconds(children.ru_stime);
}

int wl_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

void wl_summary(int tasks, int failed)
{
	double wall = wl_now() - start_time;
	double cpu = wl_cpu_seconds() - start_cpu;

	printf("summary: workload=%s tasks=%d failed=%d wall_s=%.3f cpu_s=%.3f parallelism=%.3f\n",
	       prog_name, tasks, failed, wall, cpu, wall > 0 ? cpu / wall : 0.0);
	fflush(stdout);
}

void wl_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* --- number parsing ------------------------------------------------------ */

/* Decimal integer, optionally with a k/M/G suffix. Rejects signs other than a
 * leading '-', blanks, trailing junk and overflow. */
static int parse_integer(const char *s, bool suffixes, long long *out)
{
	char *end;
	long long v;

	if (!*s || isspace((unsigned char)*s) || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	if (suffixes && *end) {
		long long mult = *end == 'k' || *end == 'K' ? 1000LL :
				 *end == 'M' ? 1000000LL :
				 *end == 'G' ? 1000000000LL : 0;
		if (!mult)
			return -EINVAL;
		if (__builtin_mul_overflow(v, mult, &v))
			return -ERANGE;
		end++;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void range_error(const struct wl_option *o, const char *text, int len)
{
	if (o->kind == WL_OPT_DOUBLE)
		wl_error("invalid %s '%.*s' (expected %g..%g)", o->what, len, text, o->min, o->max);
	else
		wl_error("invalid %s '%.*s' (expected %.0f..%.0f)", o->what, len, text, o->min, o->max);
}

/* One number of option o from text[0..len). */
static int parse_number(const struct wl_option *o, const char *text, int len, double *out)
{
	char buf[64];
	long long v;
	double d;
	char *end;

	if (len <= 0 || len >= (int)sizeof(buf))
		goto bad;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (o->kind == WL_OPT_DOUBLE) {
		if (isspace((unsigned char)buf[0]))
			goto bad;
		errno = 0;
		d = strtod(buf, &end);
		if (end == buf || *end || errno || !isfinite(d))
			goto bad;
	} else {
		if (parse_integer(buf, o->kind != WL_OPT_INT, &v) < 0)
			goto bad;
		d = (double)v;
	}
	if (d < o->min || d > o->max)
		goto bad;
	*out = d;
	return 0;
bad:
	range_error(o, text, len);
	return -EINVAL;
}

static int list_append(void **v, int *n, size_t elem, const void *item)
{
	void *grown = realloc(*v, (*n + 1) * elem);

	if (!grown)
		return -ENOMEM;
	memcpy((char *)grown + *n * elem, item, elem);
	*v = grown;
	(*n)++;
	return 0;
}

static int set_option(const struct wl_option *o, const char *arg)
{
	double d;

	if ((o->kind == WL_OPT_STRING || o->kind == WL_OPT_STRING_LIST) && !*arg) {
		wl_error("invalid %s '' (expected a non-empty value)", o->what);
		return -EINVAL;
	}
	switch (o->kind) {
	case WL_OPT_FLAG:
		*(bool *)o->value = true;
		return 0;
	case WL_OPT_INT:
		if (parse_number(o, arg, strlen(arg), &d) < 0)
			return -EINVAL;
		*(long long *)o->value = (long long)d;
		return 0;
	case WL_OPT_SIZE:
		if (parse_number(o, arg, strlen(arg), &d) < 0)
			return -EINVAL;
		*(uint64_t *)o->value = (uint64_t)d;
		return 0;
	case WL_OPT_DOUBLE:
		if (parse_number(o, arg, strlen(arg), &d) < 0)
			return -EINVAL;
		*(double *)o->value = d;
		return 0;
	case WL_OPT_STRING:
		*(const char **)o->value = arg;
		return 0;
	case WL_OPT_STRING_LIST: {
		struct wl_str_list *l = o->value;

		return list_append((void **)&l->v, &l->n, sizeof(*l->v), &arg);
	}
	case WL_OPT_SIZE_LIST: {
		struct wl_u64_list *l = o->value;
		const char *p = arg;

		/* A new list replaces the default one. */
		l->v = NULL;
		l->n = 0;
		for (;;) {
			const char *comma = strchr(p, ',');
			int len = comma ? (int)(comma - p) : (int)strlen(p);
			uint64_t item;

			if (parse_number(o, p, len, &d) < 0)
				return -EINVAL;
			item = (uint64_t)d;
			if (l->n >= WL_LIST_MAX || list_append((void **)&l->v, &l->n, sizeof(item), &item) < 0) {
				wl_error("invalid %s list: too many items", o->what);
				return -EINVAL;
			}
			if (!comma)
				return 0;
			p = comma + 1;
		}
	}
	}
	return -EINVAL;
}

/* --- --help ---------------------------------------------------------------- */

/* Prints text word-wrapped at HELP_WIDTH, every line indented; '\n' in text forces
 * a line break (an empty line between paragraphs is "\n\n"). */
static void print_wrapped(int indent, const char *text)
{
	const char *p = text;

	while (*p) {
		int col = indent;
		bool first = true;

		if (*p != '\n')
			printf("%*s", indent, "");
		while (*p && *p != '\n') {
			const char *w = p;
			int len;

			while (*p && *p != ' ' && *p != '\n')
				p++;
			len = p - w;
			if (!first && col + 1 + len > HELP_WIDTH) {
				printf("\n%*s", indent, "");
				col = indent;
				first = true;
			}
			printf("%s%.*s", first ? "" : " ", len, w);
			col += len + !first;
			first = false;
			while (*p == ' ')
				p++;
		}
		putchar('\n');
		if (*p == '\n')
			p++;
	}
}

static void print_default(const struct wl_option *o)
{
	char buf[512];

	if (o->default_text) {
		snprintf(buf, sizeof(buf), "Default: %s.", o->default_text);
	} else {
		switch (o->kind) {
		case WL_OPT_INT:
			snprintf(buf, sizeof(buf), "Default: %lld.", *(long long *)o->value);
			break;
		case WL_OPT_SIZE:
			snprintf(buf, sizeof(buf), "Default: %llu.",
				 (unsigned long long)*(uint64_t *)o->value);
			break;
		case WL_OPT_DOUBLE:
			snprintf(buf, sizeof(buf), "Default: %g.", *(double *)o->value);
			break;
		default:
			return;
		}
	}
	print_wrapped(8, buf);
}

static void print_help(const struct wl_program *prog)
{
	const struct wl_option *o;
	char name[512];

	snprintf(name, sizeof(name), "%s - %s", prog->name, prog->describe);
	printf("NAME\n");
	print_wrapped(4, name);
	printf("\n");
	printf("SYNOPSIS\n    %s [OPTION]...\n\n", prog->name);
	printf("DESCRIPTION\n");
	print_wrapped(4, prog->description);
	printf("\nOPTIONS\n");
	for (o = prog->options; o->name; o++) {
		const char *arg = o->kind == WL_OPT_FLAG ? "" : o->arg;

		if (o->short_name)
			printf("    -%c, --%s%s%s\n", o->short_name, o->name, *arg ? " " : "", arg);
		else
			printf("    --%s%s%s\n", o->name, *arg ? " " : "", arg);
		print_wrapped(8, o->help);
		if (o->kind == WL_OPT_INT || o->kind == WL_OPT_SIZE || o->kind == WL_OPT_SIZE_LIST ||
		    o->kind == WL_OPT_DOUBLE)
			printf(o->kind == WL_OPT_DOUBLE ? "        Accepted: %g..%g%s.\n" :
			       "        Accepted: %.0f..%.0f%s.\n", o->min, o->max,
			       o->kind == WL_OPT_SIZE || o->kind == WL_OPT_SIZE_LIST ?
			       " (suffixes k, M, G multiply by 10^3, 10^6, 10^9)" : "");
		print_default(o);
	}
	printf("    --describe\n        Print a one-line description and exit.\n");
	printf("    -h, --help\n        Print this help and exit.\n");
	printf("\nOUTPUT\n");
	print_wrapped(4, "One line per task as it completes (unless --quiet), then one summary line:\n"
		      "summary: workload=NAME tasks=N failed=N wall_s=W cpu_s=C parallelism=P\n"
		      "where cpu_s is user+sys time of the workload and its waited-for children "
		      "(getrusage RUSAGE_SELF + RUSAGE_CHILDREN) and wall_s the elapsed time, both "
		      "counted from the start of main() to the end of the run, and "
		      "parallelism = cpu_s / wall_s. Errors go to stderr, one line each.");
	printf("\nEXIT STATUS\n");
	printf("    0   every task completed\n");
	printf("    1   some tasks failed (listed on stderr)\n");
	printf("    2   invalid arguments\n");
	printf("    3   a pool worker died; the tasks it held are counted as failed\n");
}

/* --- parsing --------------------------------------------------------------- */

int wl_parse_args(const struct wl_program *prog, int argc, char **argv)
{
	enum { HELP = OPT_VAL_BASE - 1, DESCRIBE = OPT_VAL_BASE - 2 };
	struct option longopts[64];
	char shortopts[3 * 64 + 4] = ":h";
	int n = 0, c;

	start_time = wl_now();
	start_cpu = wl_cpu_seconds();
	prog_name = prog->name;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);	/* inherited SIG_IGN would make waitpid() useless */

	for (const struct wl_option *o = prog->options; o->name; o++, n++) {
		if (n >= 60)
			return WL_EXIT_USAGE;
		longopts[n] = (struct option){ o->name, o->kind == WL_OPT_FLAG ? no_argument :
					       required_argument, NULL,
					       o->short_name ? o->short_name : OPT_VAL_BASE + n };
		if (o->short_name) {
			size_t len = strlen(shortopts);

			shortopts[len++] = o->short_name;
			if (o->kind != WL_OPT_FLAG)
				shortopts[len++] = ':';
			shortopts[len] = '\0';
		}
	}
	longopts[n++] = (struct option){ "help", no_argument, NULL, HELP };
	longopts[n++] = (struct option){ "describe", no_argument, NULL, DESCRIBE };
	longopts[n] = (struct option){ 0 };

	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct wl_option *o = NULL;

		if (c == 'h' || c == HELP) {
			print_help(prog);
			return WL_EXIT_OK;
		}
		if (c == DESCRIBE) {
			printf("%s\n", prog->describe);
			return WL_EXIT_OK;
		}
		if (c == '?') {
			const char *bad = argv[optind - 1];

			/* glibc: optopt is 0 for an unknown long option, the option's value
			 * for a known one given a value it does not take (--quiet=1). */
			if (strncmp(bad, "--", 2) == 0 && optopt)
				wl_error("option '%.*s' takes no value (try --help)",
					 (int)strcspn(bad, "="), bad);
			else if (strncmp(bad, "--", 2) == 0 || !optopt)
				wl_error("unknown option '%s' (try --help)", bad);
			else
				wl_error("unknown option '-%c' (try --help)", optopt);
			return WL_EXIT_USAGE;
		}
		if (c == ':') {
			wl_error("option '%s' needs a value (try --help)", argv[optind - 1]);
			return WL_EXIT_USAGE;
		}
		for (int i = 0; prog->options[i].name; i++)
			if (prog->options[i].short_name ? prog->options[i].short_name == c :
			    OPT_VAL_BASE + i == c)
				o = &prog->options[i];
		if (!o || set_option(o, optarg) < 0)
			return WL_EXIT_USAGE;
	}
	if (optind < argc) {
		wl_error("unexpected argument '%s' (try --help)", argv[optind]);
		return WL_EXIT_USAGE;
	}
	return WL_RUN;
}
