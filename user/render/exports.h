/* user/exports.h: stack exports: folded stacks (flamegraph.pl, inferno,
 * speedscope) and poolscope's own interactive SVG flame graph. */
#ifndef POOLSCOPE_EXPORTS_H
#define POOLSCOPE_EXPORTS_H
#include <stdio.h>
#include "model/model.h"

enum stack_kind { STACKS_OFFCPU, STACKS_ONCPU, STACKS_FUTEX };

/* "offcpu" | "oncpu" | "futex" -> kind; -EINVAL for anything else. */
int stack_kind_parse(const char *s, enum stack_kind *out);
const char *stack_kind_name(enum stack_kind k);
/* Whether the trace captured this kind (its option was on). */
bool stack_kind_captured(const struct model *m, enum stack_kind k);
/* One line per stack, "comm;root;...;leaf VALUE": off-CPU and futex waits in
 * microseconds, on-CPU in samples. 0 or -errno. */
int export_folded(FILE *out, const struct model *m, enum stack_kind k);
int export_svg(FILE *out, const struct model *m, enum stack_kind k);

#endif
