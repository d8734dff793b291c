/* tests/unit/test_pyframes.c: the Python frames of a snapshot, named and
 * folded into its user stacks (sym/py_names.c), and CPython's line table
 * (sym/cpython.c).
 *
 * The independent truths: CPython's own code objects' co_lines(), printed by
 * the interpreters themselves (Debian's python3.11 always, more with
 * POOLSCOPE_PYTHONS=path:path) for the line of every instruction; for the
 * merge, hand-built stacks whose expected order follows from how CPython
 * calls its eval loop (one _PyEval_EvalFrameDefault per entry from C, its
 * frames ending at the entry frame). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "fixture.h"
#include "model/snapshot.h"
#include "model/stacks.h"
#include "sym/cpython.h"
#include "sym/py_names.h"

/* ---- the line table against co_lines() ---------------------------------- */

/* Prints, per code object: "code FIRSTLINENO HEX" then one line per code
 * unit: its line per co_lines() (-1: None). Functions of the standard
 * library (one has a line table longer than poolscope keeps) and one with
 * loops, a multi-line call and a line-less instruction. */
static const char lines_script[] =
	"import argparse, json.decoder, sys\n"
	"def here(n):\n"
	"    total = 0\n"
	"    for i in range(n):\n"
	"        if i % 3:\n"
	"            total += (i *\n"
	"                      2)\n"
	"        else:\n"
	"            total -= 1\n"
	"    return total\n"
	"codes = [here.__code__, json.decoder.JSONDecoder.raw_decode.__code__,\n"
	"         argparse.ArgumentParser._parse_known_args.__code__]\n"
	"for co in codes:\n"
	"    units = len(co.co_code) // 2\n"
	"    line = [-1] * units\n"
	"    for start, end, ln in co.co_lines():\n"
	"        for u in range(start // 2, end // 2):\n"
	"            line[u] = -1 if ln is None else ln\n"
	"    print('code', co.co_firstlineno, co.co_linetable.hex())\n"
	"    print('units', ' '.join(map(str, line)))\n"
	"print('ready', flush=True)\n";

static int hex_bytes(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; hex[0] && hex[1] && hex[0] != '\n' && n < cap; hex += 2) {
		unsigned v;

		if (sscanf(hex, "%2x", &v) != 1)
			return -1;
		out[n++] = v;
	}
	return (int)n;
}

/* Every unit's line from the whole table; from its first PS_PY_LINES_BYTES
 * bytes (what poolscope keeps) a line is right or unknown, never wrong. */
static void check_code(const char *python, int ncode, int firstlineno, const uint8_t *table,
		       int len, char *units)
{
	int wrong = 0, wrong_cut = 0, unknown_cut = 0, lasti = 0, first_bad = -1;
	int cut = len < PS_PY_LINES_BYTES ? len : PS_PY_LINES_BYTES;
	char name[256];

	for (char *tok = strtok(units, " \n"); tok; tok = strtok(NULL, " \n"), lasti++) {
		int want = atoi(tok), got = cpython_addr2line(table, len, firstlineno, lasti);
		int got_cut = cpython_addr2line(table, cut, firstlineno, lasti);

		if (got != want && first_bad < 0)
			first_bad = lasti;
		wrong += got != want;
		wrong_cut += got_cut != want && got_cut != -1;
		unknown_cut += got_cut == -1 && want != -1;
	}
	snprintf(name, sizeof(name), "linetable %s code %d (%d bytes): every instruction's line is "
		 "co_lines()'s", python, ncode, len);
	CHECK(name, lasti > 0 && !wrong, "%d of %d wrong, the first at unit %d", wrong, lasti, first_bad);
	snprintf(name, sizeof(name), "linetable %s code %d: from the first %d bytes, no line is wrong",
		 python, ncode, cut);
	CHECK(name, !wrong_cut && (len > cut || !unknown_cut), "%d wrong, %d unknown", wrong_cut,
	      unknown_cut);
}

static void test_linetable(const char *python)
{
	char *const argv[] = { (char *)python, "-c", (char *)lines_script, NULL };
	char name[256], line[1 << 16], units[1 << 17];
	static uint8_t table[1 << 15];
	int ncode = 0, pid;
	int in[2], out[2];

	/* the script prints before "ready": read it all here */
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return;
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	FILE *from = fdopen(out[0], "r");
	while (from && fgets(line, sizeof(line), from) && strcmp(line, "ready\n")) {
		int first, len;

		if (strncmp(line, "code ", 5) || sscanf(line + 5, "%d", &first) != 1)
			continue;
		len = hex_bytes(strchr(line + 5, ' ') + 1, table, sizeof(table));
		if (len <= 0 || !fgets(units, sizeof(units), from) || strncmp(units, "units ", 6))
			break;
		check_code(python, ncode++, first, table, len, units + 6);
	}
	if (from)
		fclose(from);
	close(in[1]);
	waitpid(pid, NULL, 0);
	snprintf(name, sizeof(name), "linetable %s: the interpreter printed its 3 code objects", python);
	CHECK(name, ncode == 3, "%d", ncode);
}

/* ---- frame names --------------------------------------------------------- */

static struct ps_pycode code_of(const char *qualname, const char *file, int first)
{
	struct ps_pycode c = { .firstlineno = first, .qualname_kind = 1, .filename_kind = 1 };

	c.qualname_len = strlen(qualname);
	c.filename_len = strlen(file);
	memcpy(c.qualname, qualname, c.qualname_len < sizeof(c.qualname) ? c.qualname_len : sizeof(c.qualname));
	memcpy(c.filename, file, c.filename_len);
	return c;
}

/* a line table of one entry per line step: "no columns" entries (code 13)
 * of one code unit, each moving the line by +1 */
static void lines_plus_one(struct ps_pycode *c, int units)
{
	for (int i = 0; i < units; i++) {
		c->linetable[2 * i] = 0x80 | 13 << 3;
		c->linetable[2 * i + 1] = 2; /* svarint +1 */
	}
	c->lines_len = 2 * units;
}

static uint64_t frame(uint64_t code, int lasti)
{
	return code | (uint64_t)(lasti + 1) << PS_PY_LASTI_SHIFT;
}

static void test_frame_names(void)
{
	struct ps_pycode c = code_of("Pool.map", "/usr/lib/python3.11/multiprocessing/pool.py", 362);
	char buf[512];

	lines_plus_one(&c, 8);
	CHECK("frame name: qualname (basename:line) of the instruction",
	      !strcmp(python_frame_name(&c, frame(0x1000, 4), buf, sizeof(buf)), "Pool.map (pool.py:367)"),
	      "got %s", buf);
	CHECK("frame name: an unknown instruction shows the first line",
	      !strcmp(python_frame_name(&c, 0x1000, buf, sizeof(buf)), "Pool.map (pool.py:362)"), "got %s", buf);
	CHECK("frame name: an instruction past the table kept shows no line",
	      !strcmp(python_frame_name(&c, frame(0x1000, 20), buf, sizeof(buf)), "Pool.map (pool.py)"),
	      "got %s", buf);
	CHECK("frame name: an unrecorded code object",
	      !strcmp(python_frame_name(NULL, frame(0x1000, 1), buf, sizeof(buf)), "[unknown Python code]"),
	      "got %s", buf);
	/* "grüß;x" in UCS-2 (kind 2), with a ';' that would split a folded frame */
	static const uint16_t ucs2[] = { 'g', 'r', 0xfc, 0xdf, ';', 'x' };
	struct ps_pycode u = code_of("", "<stdin>", 1);
	u.qualname_kind = 2;
	u.qualname_len = sizeof(ucs2);
	memcpy(u.qualname, ucs2, sizeof(ucs2));
	CHECK("frame name: 2-byte text as UTF-8, ';' made '_'",
	      !strcmp(python_frame_name(&u, frame(0x2000, -1), buf, sizeof(buf)), "gr\xc3\xbc\xc3\x9f_x (<stdin>:1)"),
	      "got %s", buf);
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	struct ps_pycode l = code_of(longname, "x.py", 3);
	python_frame_name(&l, 0x3000, buf, sizeof(buf));
	CHECK("frame name: a name longer than kept ends in ...",
	      strlen(buf) == PS_PY_NAME_BYTES + strlen("... (x.py:3)") && strstr(buf, "a... (x.py:3)"),
	      "got %s", buf);
	CHECK("frame shape: a Python frame is recognized", stack_python_frame("crunch (cpu.py:6)", 17) &&
	      stack_python_frame("<module> (<string>)", 19), "no");
	CHECK("frame shape: C and C++ frames are not",
	      !stack_python_frame("pool::Worker::run_task(int)", 27) && !stack_python_frame("take_gil", 8) &&
	      !stack_python_frame("std::vector<int> (x y)", 22), "yes");
}

/* ---- folding into the user stacks ---------------------------------------- */

#define TGID 10
enum { PYEXE = 1, LIBC, EXT };

struct nat { const char *name; uint32_t module; bool named; };

static void add_native(struct ps_snapshot *s, int32_t id, const struct nat *f, uint32_t n)
{
	struct ps_stack *st;

	s->stacks = realloc(s->stacks, (s->nstacks + 1) * sizeof(*s->stacks));
	st = &s->stacks[s->nstacks++];
	*st = (struct ps_stack){ .id = id, .tgid = TGID, .user = true, .nframes = n };
	st->ips = calloc(n, sizeof(uint64_t));
	st->names = calloc(n, sizeof(char *));
	st->frames = calloc(n, sizeof(struct ps_frame));
	for (uint32_t k = 0; k < n; k++) {
		st->ips[k] = 0x400000 + k;
		st->names[k] = strdup(f[k].name);
		st->frames[k] = (struct ps_frame){ .module = f[k].module, .named = f[k].named };
	}
}

static void add_py(struct ps_snapshot *s, int32_t id, const uint64_t *frames, uint16_t n, bool truncated)
{
	struct ps_pystack_rec *r;

	s->pystacks = realloc(s->pystacks, (s->n_pystacks + 1) * sizeof(*s->pystacks));
	r = &s->pystacks[s->n_pystacks++];
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->st.tgid = TGID;
	r->st.n = n;
	r->st.truncated = truncated;
	memcpy(r->st.frames, frames, n * sizeof(*frames));
}

static void add_code(struct ps_snapshot *s, uint64_t addr, const char *qualname, const char *file, int first)
{
	s->pycodes = realloc(s->pycodes, (s->n_pycodes + 1) * sizeof(*s->pycodes));
	s->pycodes[s->n_pycodes].key = (struct ps_pycode_key){ .tgid = TGID, .code = addr };
	s->pycodes[s->n_pycodes++].code = code_of(qualname, file, first);
}

static void add_rec(struct ps_snapshot *s, int32_t ustack, int32_t pystack)
{
	s->offcpu_recs = realloc(s->offcpu_recs, (s->n_offcpu + 1) * sizeof(*s->offcpu_recs));
	s->offcpu_recs[s->n_offcpu++] = (struct ps_stack_rec){
		.key = { .tgid = TGID, .pid = 11, .ustack = ustack, .kstack = -1, .pystack = pystack },
		.val = { .value = 1000, .count = 1 },
	};
}

static const char *folded(const struct ps_snapshot *s, int32_t ustack, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	stack_append(s, ustack, TGID, true, buf, cap, &len);
	return buf;
}

/* Debian's python3.11 has no frame pointers: the native walk stops after
 * the leaf or wanders (an unmapped frame, garbage above); the Python frames
 * go above the native frames below the first eval-loop or unmapped one. */
static void build_snapshot(struct ps_snapshot *s)
{
	static const struct nat gil_wait[] = {
		{ "__futex_abstimed_wait_common", LIBC, true }, { "python3.11+0xf94ed", PYEXE, false },
		{ "_PyEval_EvalFrameDefault", PYEXE, true }, { "[unknown]", 0, false },
		{ "clone3", LIBC, true },
	};
	/* an interpreter with frame pointers: two eval-loop calls, a C
	 * extension's function between them */
	static const struct nat fp_walk[] = {
		{ "sock_recv", EXT, true }, { "_PyEval_EvalFrameDefault", PYEXE, true },
		{ "_PyFunction_Vectorcall", PYEXE, true }, { "ext_call", EXT, true },
		{ "_PyEval_EvalFrameDefault", PYEXE, true }, { "thread_run", PYEXE, true },
		{ "start_thread", LIBC, true }, { "clone3", LIBC, true },
	};
	const uint64_t crunch[] = { frame(0x1000, -1), frame(0x2000, -1), frame(0x3000, -1) | PS_PY_ENTRY };
	const uint64_t fetch[] = { frame(0x4000, -1), frame(0x5000, -1) | PS_PY_ENTRY,
				   frame(0x6000, -1), frame(0x3000, -1) | PS_PY_ENTRY };
	/* one group where the native walk has two eval-loop calls */
	const uint64_t fetch_one[] = { frame(0x4000, -1), frame(0x5000, -1), frame(0x6000, -1) };

	memset(s, 0, sizeof(*s));
	add_native(s, 5, gil_wait, 5);
	add_native(s, 6, fp_walk, 8);
	add_py(s, PS_PY_STACK | 1, crunch, 3, false);
	add_py(s, PS_PY_STACK | 2, fetch, 4, false);
	add_py(s, PS_PY_STACK | 3, crunch, 3, true);
	add_py(s, PS_PY_STACK | 4, fetch_one, 3, false);
	add_code(s, 0x1000, "crunch", "/tmp/cpu.py", 7);
	add_code(s, 0x2000, "worker", "/usr/lib/python3.11/multiprocessing/pool.py", 125);
	add_code(s, 0x3000, "Thread._bootstrap", "/usr/lib/python3.11/threading.py", 995);
	add_code(s, 0x4000, "fetch", "io.py", 12);
	add_code(s, 0x5000, "Thread.run", "/usr/lib/python3.11/threading.py", 975);
	/* 0x6000 not recorded (a code object that could not be read) */
	add_rec(s, 5, PS_PY_STACK | 1);
	add_rec(s, 6, PS_PY_STACK | 2);
	add_rec(s, 5, PS_PY_STACK | 3);
	add_rec(s, 6, PS_PY_STACK | 4);
	add_rec(s, 5, PS_PY_NONE);
	add_rec(s, -14, PS_PY_STACK | 1);   /* no native stack (-EFAULT) */
	s->n_futex = 1;
	s->futex_recs = calloc(1, sizeof(*s->futex_recs));
	s->futex_recs[0] = (struct ps_futex_rec){
		.key = { .tgid = TGID, .pid = 12, .ustack = 5, .pystack = PS_PY_STACK | 1, .uaddr = 0xa5b8f8 },
		.st = { .waits = 3, .wait_ns = 3000, .woken_by_traced = 1, .waker_ustack = 5,
			.waker_pystack = PS_PY_STACK | 3 },
	};
}

static void test_merge(void)
{
	struct ps_snapshot s, again;
	char buf[4096], name[256];
	const struct ps_stack_rec *r;

	build_snapshot(&s);
	python_stacks_merge(&s);
	r = s.offcpu_recs;
	for (int i = 0; i < 6; i++) {
		bool merged = r[i].key.ustack > 0 && (r[i].key.ustack & PY_MERGED_STACK);

		snprintf(name, sizeof(name), "merge: record %d %s", i,
			 i == 4 ? "without a Python stack keeps its user stack" : "points at a merged stack");
		CHECK(name, i == 4 ? r[i].key.ustack == 5 : merged, "ustack %#x", (unsigned)r[i].key.ustack);
	}
	CHECK("merge: no frame pointers: Python frames above the native ones below the eval loop",
	      !strcmp(folded(&s, r[0].key.ustack, buf, sizeof(buf)),
		      "Thread._bootstrap (threading.py:995);worker (pool.py:125);crunch (cpu.py:7);"
		      "python3.11+0xf94ed;__futex_abstimed_wait_common"), "got %s", buf);
	CHECK("merge: frame pointers: each eval-loop call replaced by its Python frames, a C "
	      "extension's frame between them kept",
	      !strcmp(folded(&s, r[1].key.ustack, buf, sizeof(buf)),
		      "Thread._bootstrap (threading.py:995);[unknown Python code];ext_call;"
		      "Thread.run (threading.py:975);fetch (io.py:12);sock_recv"), "got %s", buf);
	CHECK("merge: a truncated Python stack has a root frame saying so",
	      !strcmp(folded(&s, r[2].key.ustack, buf, sizeof(buf)),
		      PY_TRUNCATED_FRAME ";Thread._bootstrap (threading.py:995);worker (pool.py:125);"
		      "crunch (cpu.py:7);python3.11+0xf94ed;__futex_abstimed_wait_common"), "got %s", buf);
	CHECK("merge: eval-loop calls and Python groups that do not agree: all Python frames "
	      "above the leaf's native ones",
	      !strcmp(folded(&s, r[3].key.ustack, buf, sizeof(buf)),
		      "[unknown Python code];Thread.run (threading.py:975);fetch (io.py:12);sock_recv"),
	      "got %s", buf);
	CHECK("merge: no native stack: the Python frames alone",
	      !strcmp(folded(&s, r[5].key.ustack, buf, sizeof(buf)),
		      "Thread._bootstrap (threading.py:995);worker (pool.py:125);crunch (cpu.py:7)"),
	      "got %s", buf);
	CHECK("merge: the same pair of stacks is one merged stack",
	      r[5].key.ustack != r[0].key.ustack && s.futex_recs[0].key.ustack == r[0].key.ustack,
	      "waiter %#x, record 0 %#x", (unsigned)s.futex_recs[0].key.ustack, (unsigned)r[0].key.ustack);
	CHECK("merge: the futex waiter's caller is its Python function",
	      stack_caller(&s, s.futex_recs[0].key.ustack, TGID) &&
	      !strcmp(stack_caller(&s, s.futex_recs[0].key.ustack, TGID), "crunch (cpu.py:7)"), "got %s",
	      stack_caller(&s, s.futex_recs[0].key.ustack, TGID));
	CHECK("merge: and so is the waker's",
	      (s.futex_recs[0].st.waker_ustack & PY_MERGED_STACK) &&
	      !strcmp(stack_caller(&s, s.futex_recs[0].st.waker_ustack, TGID) ?: "", "crunch (cpu.py:7)"),
	      "waker stack %#x", (unsigned)s.futex_recs[0].st.waker_ustack);
	const struct ps_stack *m = snapshot_stack(&s, r[0].key.ustack, TGID, true);
	CHECK("merge: Python frames are marked, native ones keep their module",
	      m && m->nframes == 5 && !m->frames[0].python && m->frames[0].module == LIBC &&
	      !m->frames[1].python && m->frames[1].module == PYEXE && m->frames[2].python &&
	      m->frames[4].python && !m->frames[4].module, "frames wrong");
	build_snapshot(&again);
	python_stacks_merge(&again);
	bool same = true;
	for (int i = 0; i < 6; i++)
		same &= again.offcpu_recs[i].key.ustack == r[i].key.ustack;
	CHECK("merge: another snapshot of the same trace gives the same ids (interval diffs)", same, "differ");
	snapshot_free(&again);
	snapshot_free(&s);
}

int main(void)
{
	const char *pythons = getenv("POOLSCOPE_PYTHONS");
	char list[4096], *save = NULL;

	test_frame_names();
	test_merge();
	snprintf(list, sizeof(list), "/usr/bin/python3.11%s%s", pythons ? ":" : "", pythons ? pythons : "");
	for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save))
		test_linetable(p);
	return check_failures() != 0;
}
