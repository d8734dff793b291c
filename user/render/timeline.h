/* user/render/timeline.h: the --timeline exports: a Perfetto trace and a
 * self-contained HTML page of the cores and threads over time. */
#ifndef POOLSCOPE_RENDER_TIMELINE_H
#define POOLSCOPE_RENDER_TIMELINE_H
#include <stdio.h>
#include "model/diagnose.h"
#include "model/model.h"
#include "render/report.h"

/* The Perfetto protobuf trace (perfetto.c); 0 or -EIO. */
int export_perfetto(FILE *out, const struct model *m, const struct diagnosis *d);
/* The HTML page (timeline_html.c): no network, the verdict at the top;
 * 0 or -EIO. */
int export_timeline_html(FILE *out, const struct model *m, const struct diagnosis *d,
			 const struct report_opts *ro);

#endif
