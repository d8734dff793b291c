/* harness.h: what every bundled workload shares.
 *
 * A workload declares its options in a table; wl_parse_args() turns the table into
 * getopt parsing with one-line validation errors (exit status 2), a man-page style
 * --help and a one-line --describe. The rest is the measuring side: a monotonic
 * clock, the CPU time of the process and its reaped children, and the one summary
 * line that the test suite and poolscope parse.
 */
#ifndef WL_HARNESS_H
#define WL_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

/* Exit statuses, the same for every workload (each --help lists them). */
enum {
	WL_EXIT_OK = 0,
	WL_EXIT_TASKS_FAILED = 1,	/* some tasks failed (bad result, HTTP error) */
	WL_EXIT_USAGE = 2,		/* invalid arguments */
	WL_EXIT_WORKER_DIED = 3,	/* a pool worker died; its task was lost */
};

/* wl_parse_args() result meaning "arguments are fine, run the workload". */
#define WL_RUN (-1)

enum wl_opt_kind {
	WL_OPT_FLAG,		/* bool */
	WL_OPT_INT,		/* long long, decimal digits only */
	WL_OPT_SIZE,		/* uint64_t, decimal with optional k/M/G suffix (10^3/6/9) */
	WL_OPT_SIZE_LIST,	/* struct wl_u64_list, comma-separated WL_OPT_SIZE values */
	WL_OPT_DOUBLE,		/* double */
	WL_OPT_STRING,		/* const char * */
	WL_OPT_STRING_LIST,	/* struct wl_str_list, option may repeat */
};

struct wl_u64_list {
	uint64_t *v;
	int n;
};

struct wl_str_list {
	const char **v;
	int n;
};

struct wl_option {
	const char *name;	/* long name, without "--"; NULL ends a table */
	char short_name;	/* 0: long form only */
	enum wl_opt_kind kind;
	const char *arg;	/* value placeholder in --help: "N", "MS" */
	const char *what;	/* noun for error lines: "worker count" */
	double min, max;	/* accepted range of numbers (and of each list item) */
	void *value;		/* parsed value goes here; holds the default before */
	const char *help;	/* sentences for --help */
	const char *default_text; /* shown as the default; NULL: printed from *value */
};

struct wl_program {
	const char *name;
	const char *describe;	/* one line: --describe, `poolscope list` */
	const char *description; /* --help DESCRIPTION; '\n' breaks a line */
	const struct wl_option *options; /* NULL-name terminated */
};

/* Parses argv against prog->options. Returns WL_RUN when the workload should run,
 * else the exit status to return (0 after --help/--describe, 2 after an error line).
 * Also starts the wall clock used by wl_summary() and sets up the process the same
 * way for every workload (line-buffered stdout, SIGPIPE ignored, SIGCHLD default). */
int wl_parse_args(const struct wl_program *prog, int argc, char **argv);

/* "NAME: message" on stderr, one line. */
void wl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

const char *wl_name(void);
int wl_online_cpus(void);
double wl_now(void);			/* CLOCK_MONOTONIC seconds */
double wl_cpu_seconds(void);		/* user+sys of self and reaped children */

/* Prints the summary line:
 *   summary: workload=NAME tasks=N failed=N wall_s=W cpu_s=C parallelism=P
 * Both times count from wl_parse_args(). Every child must have been waited for,
 * or its CPU time is missing. */
void wl_summary(int tasks, int failed);

/* Raises the open-file soft limit to the hard limit (pools of sockets). */
void wl_raise_nofile(void);

#endif
