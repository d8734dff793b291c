/* user/sym/stack_names.h: give the frames of a snapshot's captured stacks
 * and its futex words their names, with the symbolizer. */
#ifndef POOLSCOPE_STACK_NAMES_H
#define POOLSCOPE_STACK_NAMES_H
#include "model/snapshot.h"
#include "sym/symbolize.h"

/* Fill names[] and frames[] of every stack in s, and s->modules with the
 * modules the frames lie in (their file, mapping and build-id). A process whose memory map was never
 * snapshotted is resolved with its parent's (forked children share it). */
void stacks_symbolize(struct ps_snapshot *s, struct symbolizer *sym);
/* Fill addr_names with every futex word of futex_recs: the data object
 * holding it ("_PyRuntime+0x1b0", "heap") and the runtime lock it is
 * ("CPython GIL"), resolved like the stacks. */
void futex_addrs_symbolize(struct ps_snapshot *s, struct symbolizer *sym);

#endif
