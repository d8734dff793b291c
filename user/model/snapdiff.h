/* user/snapdiff.h: snapshots derived from others: what happened between
 * two snapshots of one trace (the interval reports of `attach -i`), and the
 * part of one that concerns some processes (attach -a's programs). */
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

/* out = the part of s that concerns processes tgids (n of them): their
 * threads, processes, futex waits and stacks; the cores as they were (any
 * task), with the traced time of those threads only, so that the rest of
 * the traced tasks counts as other load. Without slices (they are not kept
 * per thread). Free out with snapshot_free. */
void snapshot_filter(const struct ps_snapshot *s, const uint32_t *tgids, uint32_t n,
		     struct ps_snapshot *out);

#endif
