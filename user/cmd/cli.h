/* user/cmd/cli.h: what `run` and `attach` share on the command line (the trace
 * and report options) and how they write their outputs (text report, JSON,
 * folded stacks, SVG flame graphs). */
#ifndef POOLSCOPE_CLI_H
#define POOLSCOPE_CLI_H
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include "render/exports.h"
#include "render/timeline.h"
#include "model/model.h"
#include "sys/output.h"
#include "sys/privs.h"
#include "sys/push.h"
#include "trace/session.h"
#include "render/report.h"
#include "trace/tracer.h"

#define CLI_MAX_EXPORTS 9

enum cli_export_format { EXPORT_FOLDED, EXPORT_SVG, EXPORT_PPROF };

struct cli_export {
	enum stack_kind kind;
	enum cli_export_format format;
	const char *path;
	struct output out;
};

/* --push: the profiles of every captured kind to a Pyroscope server, at the
 * end of the trace, or after each interval (attach -i) instead. */
struct cli_push {
	struct push_target t;        /* .url NULL: no push */
	const char *app;             /* --push-app, NULL: the command's name */
	char app_buf[64];
	bool intervals;
	bool failed;                 /* some push failed: the exit status says so */
};

struct cli_common {
	struct tracer_opts tr;
	const char *json_path;
	struct output json;          /* .f NULL: no JSON */
	bool wide, quiet;
	struct cli_export exports[CLI_MAX_EXPORTS];
	int nexports;
	const char *perfetto_path, *timeline_html_path;   /* --perfetto, --timeline-html */
	struct output perfetto, timeline_html;
	struct cli_push push;
};

/* JSON goes to standard output (then there is no text report). */
static inline bool cli_json_stdout(const struct cli_common *o)
{
	return o->json.f && o->json.fd == 1;
}

/* The shared long options (NULL-terminated) and short option letters. */
extern const struct option cli_common_longopts[];
#define CLI_COMMON_SHORTOPTS "qwvF:"

/* Defaults: locks on, no stacks. */
void cli_common_init(struct cli_common *o);
/* Handle one getopt result; 1 if it was a common option, 0 if not, -EINVAL
 * after printing "CMD: ..." for a bad value. */
int cli_common_parse(int c, const char *arg, const char *cmd, struct cli_common *o);
/* A -d/-i value: seconds > 0 (fractions allowed) into ns; -EINVAL after
 * "CMD: invalid OPTION ..." */
int cli_parse_seconds(const char *arg, const char *cmd, const char *option, uint64_t *ns);
/* --stacks "offcpu,oncpu" | "all" | "none" into t; -EINVAL after an error line. */
int cli_parse_stacks(const char *arg, const char *cmd, struct tracer_opts *t);
/* Merge a command's own long options with the common ones (static storage). */
const struct option *cli_longopts(const struct option *own);
/* The same with only the common options named in common (NULL-terminated). */
const struct option *cli_longopts_some(const struct option *own, const char *const *common);
/* The common options' help text. */
void cli_common_usage(FILE *out);
/* Open the JSON and export files before tracing (a bad path fails first),
 * and check the push options; app_name is APP of the pushed series' names
 * unless --push-app gave one. */
int cli_open_outputs(struct cli_common *o, const struct invoker *inv, const char *cmd,
		     const char *app_name);
/* Tracing failed: remove the temporary output files. */
void cli_discard_outputs(struct cli_common *o);
/* The progress line on stderr when it is a terminal (elapsed, events,
 * drops, threads, each core's busy share), as a session_loop tick; cleared
 * before anything else is printed. */
void cli_progress(void *arg, struct session *s, uint64_t elapsed_ns);
void cli_progress_clear(void);
/* The same when tracing has ended; after a Ctrl-C typed at the terminal,
 * what is printed next starts on a line of its own (not after the "^C"). */
void cli_progress_end(void);
/* One interval's report (attach -i): brief text, one JSON line (files stay
 * open), and its profiles pushed with --push. */
void cli_emit_interval(struct cli_common *o, const struct model *m, const struct diagnosis *d,
		       const struct report_opts *ro);
/* Text report (unless quiet or JSON on stdout), JSON, exports; the files
 * are committed (renamed into place); then the push (unless intervals were
 * pushed). 0, or -errno after one line naming the file or the push and the
 * cause (also when an interval's push failed). */
int cli_emit(struct cli_common *o, const struct model *m, const struct diagnosis *d,
	     const struct report_opts *ro, const char *cmd);

#endif
