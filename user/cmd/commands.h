/* user/commands.h: the subcommands main() dispatches to. Each returns the
 * process exit status. */
#ifndef POOLSCOPE_COMMANDS_H
#define POOLSCOPE_COMMANDS_H
#include <stdio.h>

#define POOLSCOPE_VERSION "0.1.0"

/* exit statuses of poolscope's own failures (a traced workload's status is
 * passed through otherwise) */
#define EXIT_USAGE 2      /* bad command line */
#define EXIT_TRACE 1      /* could not trace: privileges, kernel, BPF */
#define EXIT_NOCMD 127    /* command not found / not executable */

int cmd_run(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_top(int argc, char **argv);
void compare_usage(FILE *out);
void run_usage(FILE *out);
void attach_usage(FILE *out);
void top_usage(FILE *out);

#endif
