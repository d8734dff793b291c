/* user/cmd/targets.h: what `attach` and `top` trace, as they take it on the
 * command line: processes (-p), threads (--tid), a name (--comm, later
 * processes too), a cgroup subtree (--cgroup) or every task (-a), with
 * --children; the checks before tracing, adding them to the session, and
 * whether they still live. */
#ifndef POOLSCOPE_TARGETS_H
#define POOLSCOPE_TARGETS_H
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include "sys/cgroupfs.h"
#include "trace/session.h"
#include "trace/tracer.h"

#define TARGETS_MAX 256

struct targets {
	const char *cmd;                 /* "attach", "top": error lines start with it */
	int pids[TARGETS_MAX], npids;    /* -p, or --comm's matches */
	int tids[TARGETS_MAX], ntids;    /* --tid */
	const char *comm;
	int ncomm;                       /* --comm: processes of that name at the start */
	const char *cgroup_arg;          /* --cgroup, resolved into cg after the options */
	struct cg_target cg;
	bool cgroup, all, children;
	char title[512];                 /* "attach -p 12,34", "top --comm nginx (...)" */
};

/* The short option letters of the targets (-p, -a). */
#define TARGETS_SHORTOPTS "p:a"

struct cli_common;
/* The command line of a command that watches targets (attach, top): the
 * targets, -d SECONDS, -i SECONDS, -h (usage, then exit 0), and the common
 * options named in common (NULL: all; short letters in common_short), then
 * targets_finish. *duration_ns and *interval_ns are set only when given.
 * -EINVAL after one error line. */
int targets_parse_args(int argc, char **argv, struct targets *t, struct cli_common *c,
		       const char *const *common, const char *common_short, void (*usage)(FILE *),
		       uint64_t *duration_ns, uint64_t *interval_ns);

void targets_init(struct targets *t, const char *cmd);
/* own's long options followed by the targets' (static storage; pass the
 * result to cli_longopts). */
const struct option *targets_longopts(const struct option *own);
/* Handle one getopt result: 1 if it was a target option, 0 if not, -EINVAL
 * after one error line. */
int targets_parse(struct targets *t, int c, const char *arg);
/* After the options: exactly one kind of target, --comm's and --cgroup's
 * resolved, the tracer options they imply set in tr, the title made.
 * -EINVAL after one error line. */
int targets_finish(struct targets *t, struct tracer_opts *tr);
/* Before tracing: drop ids of tasks that are gone (an error when none is
 * left), warn of kernel threads, add the existing children (--children). */
int targets_check(struct targets *t);
/* The targets' help lines ("Targets (exactly one kind):" ...), then
 * "Options:" and --children (the command's own options follow). */
void targets_usage(FILE *out);
/* What the targets are called: the name or the first target's comm. */
const char *targets_name(const struct targets *t);
/* Add them to the session; -errno after one error line. */
int targets_add(const struct targets *t, struct session *s);
/* Whether any target still lives (-a and --comm never end by themselves;
 * --cgroup ends when the cgroup is removed). With --children, processes
 * they forked count too. */
bool targets_alive(const struct targets *t, struct session *s);

#endif
