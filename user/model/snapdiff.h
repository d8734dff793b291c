/* user/snapdiff.h: what happened between two snapshots of one trace, as a
 * snapshot of its own: the interval reports of `attach -i`. */
#ifndef POOLSCOPE_SNAPDIFF_H
#define POOLSCOPE_SNAPDIFF_H
#include "model/snapshot.h"

/* out = cur - prev (prev taken earlier in the same trace). Counters are
 * differences; maxima are kept only when they grew in the interval; threads
 * that exited before the interval are left out. Free out with
 * snapshot_free. */
void snapshot_diff(const struct ps_snapshot *cur, const struct ps_snapshot *prev,
		   struct ps_snapshot *out);

#endif
