/* user/model/stacks.h: stacks in the folded form flame graphs use
 * ("comm;root;...;leaf": user frames, then "-", then kernel frames marked
 * "_[k]"), and the model's off-CPU and on-CPU stack summaries. */
#ifndef POOLSCOPE_STACKS_H
#define POOLSCOPE_STACKS_H
#include <stddef.h>
#include "model/snapshot.h"

/* Append the frames of stack (id, tgid, user) root first, ';'-separated, to
 * buf at *len (kept NUL-terminated, truncated at cap). No-op for id < 0;
 * a stack that could not be captured appends "[lost]". */
void stack_append(const struct ps_snapshot *s, int32_t id, uint32_t tgid, bool user, char *buf,
		  size_t cap, size_t *len);

/* "comm;user...;-;kernel..." for a (thread, stacks) record into buf. */
const char *stack_folded(const struct ps_snapshot *s, const char *comm, uint32_t tgid,
			 int32_t ustack, int32_t kstack, char *buf, size_t cap);

/* The leaf-most user frame of a stack that is not in libc/libpthread/ld.so,
 * i.e. the program's own function that made the call (NULL if none); in a
 * stack with Python frames, the leaf-most of those (the Python function
 * that waited, not the interpreter's C code under it). */
const char *stack_caller(const struct ps_snapshot *s, int32_t id, uint32_t tgid);

/* The spin or lock-slow-path frame a folded stack is in (sync.(*Mutex).lockSlow,
 * runtime.procyield, pthread_spin_lock, a JVM monitor's spin, a kernel
 * spinlock's slow path), or NULL: on-CPU time that waits for a lock. */
const char *stack_spin_frame(const char *folded);

/* Whether a frame's name has the shape of a Python frame,
 * "qualname (file:line)" or "qualname (file)" (sym/py_names.c), for code
 * that only has the folded text. */
bool stack_python_frame(const char *name, size_t len);

/* The comm of thread tid in the snapshot, "?" if unknown. */
const char *stack_thread_comm(const struct ps_snapshot *s, uint32_t tid);

#endif
