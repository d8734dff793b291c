/* user/stacks.h: names for the snapshot's captured stacks, and the folded
 * form flame graphs use ("comm;root;...;leaf", user frames, then "-", then
 * kernel frames marked "_[k]"). */
#ifndef POOLSCOPE_STACKS_H
#define POOLSCOPE_STACKS_H
#include <stddef.h>
#include "model/snapshot.h"
#include "sym/symbolize.h"

/* Fill names[] of every stack in s. A process whose memory map was never
 * snapshotted is resolved with its parent's (forked children share it). */
void stacks_symbolize(struct ps_snapshot *s, struct symbolizer *sym);

/* Append the frames of stack (id, tgid, user) root first, ';'-separated, to
 * buf at *len (kept NUL-terminated, truncated at cap). No-op for id < 0;
 * a stack that could not be captured appends "[lost]". */
void stack_append(const struct ps_snapshot *s, int32_t id, uint32_t tgid, bool user, char *buf,
		  size_t cap, size_t *len);

/* "comm;user...;-;kernel..." for a (thread, stacks) record into buf. */
const char *stack_folded(const struct ps_snapshot *s, const char *comm, uint32_t tgid,
			 int32_t ustack, int32_t kstack, char *buf, size_t cap);

/* The leaf-most user frame of a stack that is not in libc/libpthread/ld.so,
 * i.e. the program's own function that made the call (NULL if none). */
const char *stack_caller(const struct ps_snapshot *s, int32_t id, uint32_t tgid);

#endif
