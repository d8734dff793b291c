/* user/sym/py_names.h: the Python frames of a snapshot's records, folded
 * into their user stacks.
 *
 * A record (an on-CPU sample, an off-CPU span, a futex wait and its waker)
 * taken in a CPython thread carries a Python stack beside its native one.
 * Both become one user stack: the native frames below the interpreter (the
 * C code the Python function is in: a system call wrapper, take_gil, a C
 * extension), then the Python frames, "qualname (file:line)", in place of
 * the interpreter's own (_PyEval_EvalFrameDefault and what calls it).
 * Where the native walk is complete (an interpreter built with frame
 * pointers) each call of the eval loop is replaced by its own Python
 * frames, keeping the C frames of other modules between them (a C
 * extension calling back into Python); otherwise (Debian's python3.11 has
 * no frame pointers) all Python frames go above the native frames found
 * below the first eval-loop frame or unmapped ("[unknown]") one. A stack
 * cut at PS_PY_DEPTH frames has "[more Python frames]" at its root. */
#ifndef POOLSCOPE_PY_NAMES_H
#define POOLSCOPE_PY_NAMES_H
#include "model/snapshot.h"

/* The root frame of a truncated Python stack. */
#define PY_TRUNCATED_FRAME "[more Python frames]"

/* After stacks_symbolize: point every record with a Python stack at a new
 * user stack holding both (ids with PY_MERGED_STACK set, the same for the
 * same pair of stacks in every snapshot of one trace). */
#define PY_MERGED_STACK 0x10000000
void python_stacks_merge(struct ps_snapshot *s);

/* The name of one Python frame (an entry of ps_pystack.frames) whose code
 * object is c (NULL: not recorded), into buf. */
const char *python_frame_name(const struct ps_pycode *c, uint64_t frame, char *buf, size_t len);

#endif
