/* user/sym/cpython.c: the CPython layouts poolscope knows (see cpython.h).
 *
 * Each row is offsetof()/sizeof() printed by tests/unit/fixtures/
 * cpython_layout.c compiled against that version's internal headers
 * (Include/internal/pycore_runtime.h with Py_BUILD_CORE), and checked
 * against the _PyRuntime symbol size of a real interpreter of the version:
 * a row is trusted only for a binary whose _PyRuntime has exactly that
 * size. Versions without a row stay "_PyRuntime+0x..." (their data symbol),
 * never a guessed GIL. */
#include "sym/cpython.h"
#include <string.h>

/* _Py_DebugOffsets (3.13's Include/internal/pycore_runtime.h): the fields
 * read, as byte offsets from the start of _PyRuntime. */
#define DBG_COOKIE "xdebugpy"
#define DBG_VERSION 8
#define DBG_FREE_THREADED 16
#define DBG_RUNTIME_SIZE 24
#define DBG_INTERP_GIL 120 /* interpreter_state.gil_runtime_state */

static const struct cpython_layout layouts[] = {
	/* Debian 12's python3.11 3.11.2 (python3.11-dev headers); pyenv's
	 * 3.11.7 has the same numbers */
	{ 3, 11, 0x28b20, 0x168, 0xd0, 0, false, "3.11.2 (Debian 12), 3.11.7" },
	{ 3, 12, 0x704a8, 0x12e78, 0xd0, 0x410, false, "3.12.1" },
	{ 3, 13, 0x452b8, 0x17768, 0xd0, 0x1e48, true, "3.13.0" },
};

static uint64_t u64_at(const void *head, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)head + off, sizeof(v));
	return v;
}

/* 3.13+: the debug offsets the interpreter carries must say what the row
 * says, or the row does not describe this build. */
static bool debug_offsets_agree(const struct cpython_layout *l, uint64_t py_version,
				const void *head, size_t head_len)
{
	if (!head || head_len < DBG_INTERP_GIL + 8 || memcmp(head, DBG_COOKIE, 8))
		return false;
	return u64_at(head, DBG_VERSION) == py_version && u64_at(head, DBG_FREE_THREADED) == 0 &&
	       u64_at(head, DBG_RUNTIME_SIZE) == l->runtime_size &&
	       u64_at(head, DBG_INTERP_GIL) == l->interp_gil_off;
}

const struct cpython_layout *cpython_match(uint64_t py_version, uint64_t runtime_size,
					   const void *head, size_t head_len)
{
	unsigned major = (py_version >> 24) & 0xff, minor = (py_version >> 16) & 0xff;

	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		const struct cpython_layout *l = &layouts[i];

		if (l->major != major || l->minor != minor || l->runtime_size != runtime_size)
			continue;
		if (l->debug_offsets && !debug_offsets_agree(l, py_version, head, head_len))
			continue;
		return l;
	}
	return NULL;
}

const char *cpython_lock_at(const struct cpython_layout *l, uint64_t off)
{
	if (l && off >= l->gil_off && off - l->gil_off < l->gil_size)
		return "CPython GIL";
	return NULL;
}

const struct cpython_layout *cpython_layouts(size_t *n)
{
	*n = sizeof(layouts) / sizeof(layouts[0]);
	return layouts;
}
