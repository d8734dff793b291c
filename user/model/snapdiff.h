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
/* One interval of a trace: out = cur - *base, where an empty *base (never
 * set) is the trace's start, every counter zero. With advance, cur becomes
 * the base of the next interval (and is left empty). */
void snapshot_interval(struct ps_snapshot *base, struct ps_snapshot *cur, struct ps_snapshot *out,
		       bool advance);

#endif
