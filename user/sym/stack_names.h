/* user/sym/stack_names.h: give the frames of a snapshot's captured stacks
 * their names, with the symbolizer. */
#ifndef POOLSCOPE_STACK_NAMES_H
#define POOLSCOPE_STACK_NAMES_H
#include "model/snapshot.h"
#include "sym/symbolize.h"

/* Fill names[] of every stack in s. A process whose memory map was never
 * snapshotted is resolved with its parent's (forked children share it). */
void stacks_symbolize(struct ps_snapshot *s, struct symbolizer *sym);

#endif
