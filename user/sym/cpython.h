/* user/sym/cpython.h: where CPython keeps its GIL and its threads' frames,
 * by interpreter version.
 *
 * CPython's global state is one exported object, _PyRuntime, and the GIL's
 * mutex and condition variables (the futex words its threads wait on) lie
 * inside it at an offset fixed by the version's internal headers: in
 * _PyRuntime.ceval.gil up to 3.11, in the main interpreter's _gil
 * (_PyRuntime._main_interpreter._gil) from 3.12. The interpreter is told
 * apart by Py_Version (PY_VERSION_HEX, exported since 3.11) and the size of
 * _PyRuntime, which must equal sizeof(_PyRuntimeState) of the layout; 3.13+
 * also starts _PyRuntime with _Py_DebugOffsets, checked when present.
 *
 * The frame walk (bpf/python.bpf.h) reads the thread states of the main
 * interpreter (inside _PyRuntime), their current _PyInterpreterFrame and
 * its code object at the offsets of the layout's `frames`; the line of a
 * frame comes from the code object's line table (cpython_addr2line). */
#ifndef POOLSCOPE_CPYTHON_H
#define POOLSCOPE_CPYTHON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "poolscope.h"

/* How many bytes of _PyRuntime's initial contents cpython_match reads
 * (3.13's _Py_DebugOffsets, up to the code object's offsets). */
#define CPYTHON_HEAD_BYTES 352

struct cpython_layout {
	unsigned major, minor;
	uint64_t runtime_size;     /* sizeof(_PyRuntimeState) */
	uint64_t gil_off;          /* struct _gil_runtime_state inside _PyRuntime */
	uint64_t gil_size;
	uint64_t interp_gil_off;   /* offsetof(PyInterpreterState, _gil) (3.12+) */
	bool debug_offsets;        /* _PyRuntime starts with _Py_DebugOffsets */
	const char *checked;       /* the headers the numbers come from */
	struct ps_py_offsets frames; /* what the frame walk reads */
};

/* The known layout of the interpreter whose Py_Version is py_version and
 * whose _PyRuntime is runtime_size bytes starting with head (head_len of
 * its initial bytes, NULL when in bss), or NULL: unknown version or build
 * (a debug or free-threaded build has another size). */
const struct cpython_layout *cpython_match(uint64_t py_version, uint64_t runtime_size,
					   const void *head, size_t head_len);
/* "CPython GIL" when offset off of _PyRuntime lies in l's GIL, else NULL. */
const char *cpython_lock_at(const struct cpython_layout *l, uint64_t off);
/* The line of the instruction at index lasti (in code units; -1: none yet)
 * of a code object that starts at firstlineno, from its line table
 * (co_linetable, the format of 3.11+: Objects/locations.md), of which len
 * bytes are known; -1 when the table says the instruction has no line or
 * the known bytes end before it. */
int cpython_addr2line(const uint8_t *table, size_t len, int firstlineno, int lasti);
/* Every layout poolscope knows (for tests): n set to their number. */
const struct cpython_layout *cpython_layouts(size_t *n);

#endif
