/* user/sym/cpython.c: the CPython layouts poolscope knows (see cpython.h),
 * and the line table decoder.
 *
 * Each row is offsetof()/sizeof() printed by tests/unit/fixtures/
 * cpython_layout.c compiled against that version's internal headers
 * (Include/internal/pycore_runtime.h, pycore_frame.h with Py_BUILD_CORE),
 * and checked against the _PyRuntime symbol size of a real interpreter of
 * the version: a row is trusted only for a binary whose _PyRuntime has
 * exactly that size (and, from 3.13, whose _Py_DebugOffsets agree).
 * Versions without a row stay "_PyRuntime+0x..." (their data symbol) and
 * native frames, never a guessed GIL or frame. */
#include "sym/cpython.h"
#include <string.h>

/* _Py_DebugOffsets (3.13's Include/internal/pycore_runtime.h): the fields
 * read, as byte offsets from the start of _PyRuntime. */
#define DBG_COOKIE "xdebugpy"
#define DBG_VERSION 8
#define DBG_FREE_THREADED 16
#define DBG_RUNTIME_SIZE 24
#define DBG_INTERP_GIL 120 /* interpreter_state.gil_runtime_state */

#define NO PS_PY_NO_OFF
/* The string and bytes objects did not change from 3.11 to 3.13 but for
 * 3.11's wstr, which makes its string headers larger. */
#define STRINGS(ascii, compact) .str_length = 0x10, .str_state = 0x20, .str_ascii_data = ascii, \
	.str_compact_data = compact, .str_kind_shift = 2, .str_compact_shift = 5,                  \
	.str_ascii_shift = 6, .bytes_size = 0x10, .bytes_data = 0x20, .ob_type = 0x8

static const struct cpython_layout layouts[] = {
	/* Debian 12's python3.11 3.11.2 (python3.11-dev headers); pyenv's
	 * 3.11.7 has the same numbers */
	{ 3, 11, 0x28b20, 0x168, 0xd0, 0, false, "3.11.2 (Debian 12), 3.11.7",
	  { .threads_head = 0xe648, .ts_next = 0x8, .ts_native_tid = 0xa0, .ts_frame = 0x38,
	    .cframe_frame = 0x8, .fr_code = 0x20, .fr_previous = 0x30, .fr_instr = 0x38,
	    .fr_owner = 0x45, .fr_is_entry = 0x44, .fr_size = 0x48, .owner_cstack = NO,
	    .co_filename = 0x70, .co_qualname = 0x80, .co_firstlineno = 0x48, .co_linetable = 0x88,
	    .co_code = 0xb8, STRINGS(0x30, 0x48) } },
	{ 3, 12, 0x704a8, 0x12e78, 0xd0, 0x410, false, "3.12.1",
	  { .threads_head = 0x12ab0, .ts_next = 0x8, .ts_native_tid = 0x90, .ts_frame = 0x38,
	    .cframe_frame = 0, .fr_code = 0, .fr_previous = 0x8, .fr_instr = 0x38,
	    .fr_owner = 0x46, .fr_is_entry = NO, .fr_size = 0x48, .owner_cstack = 3,
	    .co_filename = 0x70, .co_qualname = 0x80, .co_firstlineno = 0x44, .co_linetable = 0x88,
	    .co_code = 0xc0, STRINGS(0x28, 0x38) } },
	{ 3, 13, 0x452b8, 0x17768, 0xd0, 0x1e48, true, "3.13.0",
	  { .threads_head = 0x175d0, .ts_next = 0x8, .ts_native_tid = 0xa0, .ts_frame = 0x48,
	    .cframe_frame = NO, .fr_code = 0, .fr_previous = 0x8, .fr_instr = 0x38,
	    .fr_owner = 0x46, .fr_is_entry = NO, .fr_size = 0x48, .owner_cstack = 3,
	    .co_filename = 0x70, .co_qualname = 0x80, .co_firstlineno = 0x44, .co_linetable = 0x88,
	    .co_code = 0xc8, STRINGS(0x28, 0x38) } },
};

/* _Py_DebugOffsets (3.13) of the fields the frame walk reads: its offset
 * in the debug offsets, and the row's value it must equal. */
struct dbg_field {
	size_t at;
	size_t field;   /* offsetof(struct ps_py_offsets, ...) */
};
#define PYOFF(f) offsetof(struct ps_py_offsets, f)
static const struct dbg_field dbg_fields[] = {
	{ 168, PYOFF(ts_next) }, { 184, PYOFF(ts_frame) }, { 200, PYOFF(ts_native_tid) },
	{ 232, PYOFF(fr_previous) }, { 240, PYOFF(fr_code) }, { 248, PYOFF(fr_instr) },
	{ 256, PYOFF(fr_size) }, { 264, PYOFF(fr_owner) }, { 280, PYOFF(co_filename) },
	{ 296, PYOFF(co_qualname) }, { 304, PYOFF(co_linetable) }, { 312, PYOFF(co_firstlineno) },
	{ 344, PYOFF(co_code) },
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
	if (!head || head_len < CPYTHON_HEAD_BYTES || memcmp(head, DBG_COOKIE, 8))
		return false;
	for (size_t i = 0; i < sizeof(dbg_fields) / sizeof(dbg_fields[0]); i++) {
		uint32_t v;

		memcpy(&v, (const char *)&l->frames + dbg_fields[i].field, sizeof(v));
		if (u64_at(head, dbg_fields[i].at) != v)
			return false;
	}
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

/* The line table: entries of one first byte (bit 7 set; bits 3-6 a code,
 * bits 0-2 the code units covered - 1) and the bytes after it; the line
 * changes by a signed varint (codes 13, 14), by code - 10 (10-12) or not
 * at all; code 15 has no line. Varints hold 6 bits a byte, low first, 0x40
 * marking more. */
static bool varint(const uint8_t *t, size_t len, size_t *at, unsigned *out)
{
	unsigned v = 0;

	for (unsigned shift = 0; *at < len && shift < 32; shift += 6) {
		uint8_t b = t[(*at)++];

		v |= (unsigned)(b & 63) << shift;
		if (!(b & 64)) {
			*out = v;
			return true;
		}
	}
	return false;
}

static bool line_delta(const uint8_t *t, size_t len, size_t at, int *delta)
{
	unsigned code = (t[at] >> 3) & 15, v;

	*delta = 0;
	if (code == 13 || code == 14) {
		at++;
		if (!varint(t, len, &at, &v))
			return false;
		*delta = v & 1 ? -(int)(v >> 1) : (int)(v >> 1);
	} else if (code >= 10 && code <= 12) {
		*delta = code - 10;
	}
	return true;
}

int cpython_addr2line(const uint8_t *table, size_t len, int firstlineno, int lasti)
{
	int line = firstlineno, shown = -1;
	long end = 0;
	size_t at = 0;

	if (lasti < 0)
		return firstlineno;
	while (end <= lasti) {
		int delta;

		if (at >= len || !(table[at] & 128) || !line_delta(table, len, at, &delta))
			return -1;
		line += delta;
		shown = ((table[at] >> 3) & 15) == 15 ? -1 : line;
		end += (table[at] & 7) + 1;
		do
			at++;
		while (at < len && !(table[at] & 128));
	}
	return shown;
}

const struct cpython_layout *cpython_layouts(size_t *n)
{
	*n = sizeof(layouts) / sizeof(layouts[0]);
	return layouts;
}
