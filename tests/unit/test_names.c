/* tests/unit/test_names.c: the symbolizer's newer lookups against real
 * processes: data objects holding a lock (in .data, .bss, a bss large
 * enough to spill into an anonymous mapping, a library's exported lock,
 * the heap, the stack), JIT code through a perf map, demangled C++ and Rust
 * names, and CPython's GIL inside _PyRuntime.
 *
 * The independent truths: the addresses the fixtures print of their own
 * objects and functions (tests/unit/fixture.h), the names as their sources
 * declare them, /proc/PID/maps read here, the mangled names in .symtab read
 * here through libelf, the interpreter's own internal headers (the
 * cpython_layout-* generators, tests/tests.mk) and the address of
 * _PyRuntime the interpreter itself reports (ctypes, i.e. dlsym). */
#include "sym/cpython.h"
#include "sym/demangle.h"
#include "sym/symbolize.h"
#include "check.h"
#include "fixture.h"

#include <dirent.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>

static char fixture_dir[PATH_MAX];

/* The path of the mapping of pid holding addr, as /proc/PID/maps lists it
 * ("" for anonymous), or NULL if none. */
static const char *maps_path_of(pid_t pid, uint64_t addr, char *buf, size_t len)
{
	char fname[64], line[PATH_MAX + 128];
	const char *found = NULL;
	FILE *fp;

	snprintf(fname, sizeof(fname), "/proc/%d/maps", pid);
	fp = fopen(fname, "r");
	while (fp && !found && fgets(line, sizeof(line), fp)) {
		uint64_t lo, hi;
		int at = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %*s %*s %*s %n", &lo, &hi, &at) < 2 ||
		    addr < lo || addr >= hi)
			continue;
		snprintf(buf, len, "%.*s", (int)strcspn(line + at, "\n"), line + at);
		found = buf;
	}
	if (fp)
		fclose(fp);
	return found;
}

/* The .symtab name of the function at vaddr of an ELF file, read here. */
static bool symtab_name_at(const char *path, uint64_t vaddr, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	bool found = false;
	GElf_Shdr sh;
	Elf *elf;

	elf_version(EV_CURRENT);
	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize && !found; i++) {
			GElf_Sym sym;

			if (gelf_getsym(d, (int)i, &sym) && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
			    sym.st_value == vaddr) {
				snprintf(buf, len, "%s", elf_strptr(elf, sh.sh_link, sym.st_name));
				found = true;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

/* The ELF vaddr of runtime address addr of the file path mapped in pid:
 * its file offset (from /proc/PID/maps) through the file's PT_LOAD
 * segments (read here with libelf). */
static uint64_t elf_vaddr(pid_t pid, const char *path, uint64_t addr)
{
	char fname[64], line[PATH_MAX + 128];
	uint64_t off = UINT64_MAX, v = 0;
	size_t nph = 0;
	FILE *fp;
	int fd;
	Elf *elf;

	snprintf(fname, sizeof(fname), "/proc/%d/maps", pid);
	fp = fopen(fname, "r");
	while (fp && fgets(line, sizeof(line), fp)) {
		uint64_t lo, hi, pgoff;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64, &lo, &hi, &pgoff) == 3 &&
		    addr >= lo && addr < hi) {
			off = addr - lo + pgoff;
			break;
		}
	}
	if (fp)
		fclose(fp);
	fd = open(path, O_RDONLY);
	elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	if (elf && !elf_getphdrnum(elf, &nph))
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X) &&
			    off >= ph.p_offset && off - ph.p_offset < ph.p_filesz)
				v = off - ph.p_offset + ph.p_vaddr;
		}
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return v;
}

/* ---- data objects ----------------------------------------------------------- */

static void check_data(struct symbolizer *s, pid_t pid, uint64_t addr, const char *tag,
		       const char *want_name, uint64_t want_off, const char *want_mod)
{
	struct sym_data d;
	char name[200], buf[256];
	int err = symbolize_data(s, pid, addr + want_off, &d);

	snprintf(name, sizeof(name), "%s: %s+0x%" PRIx64 " is named", tag, want_name, want_off);
	CHECK(name, err == 0 && d.region == SYM_REGION_IMAGE && d.name && !strcmp(d.name, want_name) &&
		      d.offset == want_off,
	      "err %d region %d name %s off 0x%" PRIx64, err, d.region, d.name ? d.name : "(null)",
	      d.offset);
	snprintf(name, sizeof(name), "%s: %s lies in module %s", tag, want_name, want_mod);
	CHECK(name, d.module && !strcmp(base_name(d.module), want_mod), "module %s",
	      d.module ? d.module : "(null)");
	if (want_off) {
		char want[160];

		snprintf(want, sizeof(want), "%s+0x%" PRIx64, want_name, want_off);
		snprintf(name, sizeof(name), "%s: formats as %s", tag, want);
		sym_data_format(&d, buf, sizeof(buf));
		CHECK(name, !strcmp(buf, want), "got %s", buf);
	}
}

static void check_fixture_data(struct symbolizer *s, const struct fixture *fx, const char *tag,
			       const char *exe_base, const char *lib_base)
{
	char name[160], path[PATH_MAX + 64], buf[64];
	uint64_t big = fixture_addr(fx, "fixture_big_bss");
	const char *where;
	struct sym_data d;
	int err;

	check_data(s, fx->pid, fixture_addr(fx, "fixture_global_lock"), tag, "fixture_global_lock", 0,
		   exe_base);
	check_data(s, fx->pid, fixture_addr(fx, "fixture_global_lock"), tag, "fixture_global_lock", 16,
		   exe_base);
	check_data(s, fx->pid, fixture_addr(fx, "fixture_static_data"), tag, "fixture_static_data", 8,
		   exe_base);
	check_data(s, fx->pid, big, tag, "fixture_big_bss", 0x80000, exe_base);
	check_data(s, fx->pid, fixture_addr(fx, "lib_exported_lock"), tag, "lib_exported_lock", 4,
		   lib_base);

	err = symbolize_data(s, fx->pid, fixture_addr(fx, "heap") + 8, &d);
	snprintf(name, sizeof(name), "%s: a malloc'd word is heap", tag);
	CHECK(name, err == 0 && d.region == SYM_REGION_HEAP && !d.name &&
		      !strcmp(sym_data_format(&d, buf, sizeof(buf)), "heap"),
	      "err %d region %d name %s", err, d.region, d.name ? d.name : "(null)");
	err = symbolize_data(s, fx->pid, fixture_addr(fx, "stack"), &d);
	snprintf(name, sizeof(name), "%s: a local variable is stack", tag);
	CHECK(name, err == 0 && d.region == SYM_REGION_STACK &&
		      !strcmp(sym_data_format(&d, buf, sizeof(buf)), "stack"),
	      "err %d region %d", err, d.region);
	if (kill(fx->pid, 0))
		return; /* after exit: /proc no longer says where things were */
	where = maps_path_of(fx->pid, big + 0x80000, path, sizeof(path));
	snprintf(name, sizeof(name), "%s: the big bss reaches an anonymous mapping (/proc/PID/maps)", tag);
	CHECK(name, where && !*where, "mapping %s", where ? where : "(none)");
	where = maps_path_of(fx->pid, fixture_addr(fx, "heap"), path, sizeof(path));
	snprintf(name, sizeof(name), "%s: the malloc'd block is in [heap] (/proc/PID/maps)", tag);
	CHECK(name, where && !strcmp(where, "[heap]"), "mapping %s", where ? where : "(none)");
}

static void test_data_objects(struct symbolizer *s, const char *exe_name, const char *lib_base)
{
	char exe[PATH_MAX + 32], tag[64];
	struct fixture fx;
	struct sym_data d;
	int err;

	snprintf(exe, sizeof(exe), "%s/%s", fixture_dir, exe_name);
	snprintf(tag, sizeof(tag), "data %s", exe_name);
	if (fixture_start(exe, &fx) || symbolizer_add_process(s, fx.pid)) {
		CHECK(tag, 0, "cannot run or snapshot %s", exe);
		fixture_stop(&fx);
		return;
	}
	check_fixture_data(s, &fx, tag, exe_name, lib_base);
	fixture_stop(&fx);
	snprintf(tag, sizeof(tag), "data %s after exit", exe_name);
	check_fixture_data(s, &fx, tag, exe_name, lib_base);
	err = symbolize_data(s, fx.pid, 0x1000, &d);
	CHECK("data: an address in no mapping gives -EFAULT", err == -EFAULT && !d.name, "err %d", err);
	symbolizer_forget_process(s, fx.pid);
	err = symbolize_data(s, fx.pid, fixture_addr(&fx, "fixture_global_lock"), &d);
	CHECK("data: a forgotten process gives -ESRCH", err == -ESRCH, "err %d", err);
}

/* Memory mapped after the first snapshot is known after an update; memory
 * unmapped since stays known (addresses captured before still resolve). */
static void test_update(struct symbolizer *s)
{
	pid_t me = getpid();
	struct sym_data d;
	char *late;
	int err;

	symbolizer_add_process(s, me);
	late = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (late == MAP_FAILED) {
		CHECK("update: mmap", 0, "errno %d", errno);
		return;
	}
	err = symbolize_data(s, me, (uint64_t)(uintptr_t)late + 64, &d);
	CHECK("update: memory mapped after the snapshot is unknown", err == -EFAULT, "err %d", err);
	err = symbolizer_update_process(s, me);
	err = err ? err : symbolize_data(s, me, (uint64_t)(uintptr_t)late + 64, &d);
	CHECK("update: after an update it is heap", err == 0 && d.region == SYM_REGION_HEAP,
	      "err %d region %d", err, d.region);
	munmap(late, 1 << 16);
	err = symbolizer_update_process(s, me);
	err = err ? err : symbolize_data(s, me, (uint64_t)(uintptr_t)late + 64, &d);
	CHECK("update: unmapped since, it stays known", err == 0 && d.region == SYM_REGION_HEAP,
	      "err %d region %d", err, d.region);
	err = symbolizer_add_process(s, me);
	err = err ? err : symbolize_data(s, me, (uint64_t)(uintptr_t)late + 64, &d);
	CHECK("update: a fresh snapshot (after exec) forgets it", err == -EFAULT, "err %d", err);
	symbolizer_forget_process(s, me);
}

/* ---- JIT code: perf maps ------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (!fp)
		return -1;
	fputs(text, fp);
	return fclose(fp);
}

static void check_jit(struct symbolizer *s, pid_t pid, uint64_t addr, const char *tag,
		      const char *want, uint64_t want_off)
{
	struct sym_frame f;
	int err = symbolize_user(s, pid, addr, &f);

	CHECK(tag, err == 0 && f.name && !strcmp(f.name, want) && f.offset == want_off && !f.module,
	      "err %d name %s offset 0x%" PRIx64, err, f.name ? f.name : "(null)", f.offset);
}

static void test_perf_map(struct symbolizer *s)
{
	char exe[PATH_MAX + 32], map[64], text[512], link[PATH_MAX + 32];
	struct symbolizer_stats st;
	struct sym_frame f;
	struct fixture fx;
	uint64_t jit;
	int err;

	snprintf(exe, sizeof(exe), "%s/fixture_pie", fixture_dir);
	if (fixture_start(exe, &fx) || symbolizer_add_process(s, fx.pid)) {
		CHECK("jit: fixture runs", 0, "cannot run or snapshot %s", exe);
		fixture_stop(&fx);
		return;
	}
	jit = fixture_addr(&fx, "jit");
	err = symbolize_user(s, fx.pid, jit + 0x10, &f);
	CHECK("jit: anonymous code without a perf map gives -ENXIO", err == -ENXIO && !f.name, "err %d", err);
	snprintf(map, sizeof(map), "/tmp/perf-%d.map", fx.pid);
	err = symbolizer_load_perf_map(s, fx.pid);
	CHECK("jit: no perf map gives -ENOENT", err == -ENOENT, "err %d", err);
	/* a bad line, a function, one replaced by a later line, code mapped
	 * after the snapshot was taken (address in no mapping) */
	snprintf(text, sizeof(text),
		 "not a line\n%" PRIx64 " 40 LazyCompile:~hot_fn /app/x.js:3\n"
		 "0x%" PRIx64 " 0x100 old_stub\n%" PRIx64 " 100 Interpreter;replaced\n"
		 "7f0000001000 20 late_fn\n",
		 jit, jit + 0x200, jit + 0x200);
	if (write_file(map, text)) {
		CHECK("jit: perf map written", 0, "cannot write %s", map);
		fixture_stop(&fx);
		return;
	}
	err = symbolizer_load_perf_map(s, fx.pid);
	symbolizer_stats(s, &st);
	CHECK("jit: perf map read (4 entries, the bad line skipped)", err == 0 && st.jit_syms == 4,
	      "err %d entries %lu", err, st.jit_syms);
	check_jit(s, fx.pid, jit + 0x10, "jit: a JIT function resolves with its offset",
		  "LazyCompile:~hot_fn /app/x.js:3", 0x10);
	check_jit(s, fx.pid, jit + 0x230, "jit: a later line replaces an earlier one",
		  "Interpreter;replaced", 0x30);
	check_jit(s, fx.pid, 0x7f0000001008, "jit: code mapped after the snapshot resolves", "late_fn", 8);
	err = symbolize_user(s, fx.pid, jit + 0x80, &f);
	CHECK("jit: a gap between JIT functions stays unresolved", err == -ENXIO && !f.name, "err %d", err);
	fixture_stop(&fx);
	err = symbolizer_load_perf_map(s, fx.pid);
	check_jit(s, fx.pid, jit + 0x10, "jit: the map is read again after the process exited",
		  "LazyCompile:~hot_fn /app/x.js:3", 0x10);
	CHECK("jit: reading it after exit finds it in /tmp", err == 0, "err %d", err);
	if (geteuid() == 0) {
		err = chown(map, 12345, 12345) ? -errno : symbolizer_load_perf_map(s, fx.pid);
		CHECK("jit: a perf map owned by another user is refused", err == -EPERM, "err %d", err);
	}
	unlink(map);
	snprintf(link, sizeof(link), "%s/fixture_pie", fixture_dir);
	err = symlink(link, map) ? -errno : symbolizer_load_perf_map(s, fx.pid);
	CHECK("jit: a perf map that is a symlink is not followed", err == -ELOOP, "err %d", err);
	unlink(map);
	symbolizer_forget_process(s, fx.pid);
}

/* ---- demangling ---------------------------------------------------------- */

/* Each function the fixture printed resolves to the name its source gives
 * it (or shown_as, how the scheme renders it), and the binary's .symtab
 * holds it mangled (mangled_prefix). */
static void check_demangled(struct symbolizer *s, const char *exe_name, const char *mangled_prefix,
			    const char *shown_as)
{
	char exe[PATH_MAX + 32], name[400], raw[512];
	struct fixture fx;

	snprintf(exe, sizeof(exe), "%s/%s", fixture_dir, exe_name);
	if (fixture_start(exe, &fx) || symbolizer_add_process(s, fx.pid) || !fx.nfns) {
		snprintf(name, sizeof(name), "demangle: %s runs", exe_name);
		CHECK(name, 0, "cannot run or snapshot %s", exe);
		fixture_stop(&fx);
		return;
	}
	for (int i = 0; i < fx.nfns; i++) {
		bool data = !strcmp(fx.fns[i].where, "data");
		const char *got = NULL;
		struct sym_frame f;
		struct sym_data d;
		int err;

		if (data) {
			err = symbolize_data(s, fx.pid, fx.fns[i].addr, &d);
			got = d.name;
		} else {
			err = symbolize_user(s, fx.pid, fx.fns[i].addr + 1, &f);
			got = f.name;
			snprintf(name, sizeof(name), "demangle %s: %s is mangled in .symtab (%s...)",
				 exe_name, fx.fns[i].name, mangled_prefix);
			bool in_symtab = symtab_name_at(exe, elf_vaddr(fx.pid, exe, fx.fns[i].addr), raw,
							sizeof(raw));
			CHECK(name, in_symtab && !strncmp(raw, mangled_prefix, strlen(mangled_prefix)),
			      "symtab: %s", in_symtab ? raw : "(not found)");
		}
		const char *want = shown_as ? shown_as : fx.fns[i].name;

		snprintf(name, sizeof(name), "demangle %s: %s resolves to %s", exe_name,
			 data ? "object" : "function", want);
		CHECK(name, err == 0 && got && !strcmp(got, want), "err %d got %s", err,
		      got ? got : "(null)");
	}
	fixture_stop(&fx);
	symbolizer_forget_process(s, fx.pid);
}

static void test_demangle(struct symbolizer *s)
{
	char *d;

	check_demangled(s, "fixture_cpp", "_ZN4pool", NULL);
	/* legacy: the path, the hash dropped; v0 writes a method of an
	 * inherent impl as <Type>::method (as rustc-demangle does) */
	check_demangled(s, "fixture_rust_legacy", "_ZN12fixture_rust4pool6Worker8run_task17h", NULL);
	check_demangled(s, "fixture_rust_v0", "_RNvM", "<fixture_rust::pool::Worker>::run_task");
	d = sym_demangle("main");
	CHECK("demangle: a C name is left alone", !d && !sym_is_mangled("main"), "got %s", d);
	free(d);
	d = sym_demangle("_Zfoo_not_mangled");
	CHECK("demangle: a name that only looks mangled gives NULL", !d, "got %s", d);
	free(d);
}

/* ---- CPython ------------------------------------------------------------- */

static const struct cpython_layout *table_row(unsigned major, unsigned minor, uint64_t size)
{
	size_t n;
	const struct cpython_layout *l = cpython_layouts(&n);

	for (size_t i = 0; i < n; i++)
		if (l[i].major == major && l[i].minor == minor && l[i].runtime_size == size)
			return &l[i];
	return NULL;
}

/* The generator's "frames name=0x.. ..." line against the row's frame
 * offsets, field by field (every field of struct ps_py_offsets). */
static void check_frames_line(const char *line, const struct cpython_layout *l, unsigned major,
			      unsigned minor)
{
	static const struct { const char *name; size_t off; } fields[] = {
#define FIELD(f) { #f, offsetof(struct ps_py_offsets, f) },
		PS_PY_OFFSETS(FIELD)
#undef FIELD
	};
	char name[200], want[64];

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *at;
		uint32_t row = 0;
		unsigned long hdr = ~0ul;

		snprintf(want, sizeof(want), " %s=", fields[i].name);
		at = strstr(line, want);
		if (at)
			hdr = strtoul(at + strlen(want), NULL, 16);
		if (l)
			memcpy(&row, (const char *)&l->frames + fields[i].off, sizeof(row));
		snprintf(name, sizeof(name), "cpython %u.%u: the table's %s is where the headers put it",
			 major, minor, fields[i].name);
		CHECK(name, at && l && hdr == row, "headers %#lx, table %#x%s", hdr, row,
		      !at ? " (not printed)" : !l ? " (no row)" : "");
	}
}

/* Every cpython_layout-* generator built (one per python3.X-dev found):
 * the headers and the table agree. */
static void test_cpython_table(void)
{
	DIR *dir = opendir(fixture_dir);
	struct dirent *e;
	int checked = 0;

	while (dir && (e = readdir(dir))) {
		char cmd[PATH_MAX + 300], line[256], frames[2048], name[200];
		uint64_t size, gil, gil_size, interp;
		unsigned major, minor;
		FILE *p;

		if (strncmp(e->d_name, "cpython_layout-", 15))
			continue;
		snprintf(cmd, sizeof(cmd), "'%s/%s'", fixture_dir, e->d_name);
		p = popen(cmd, "r");
		if (!p || !fgets(line, sizeof(line), p) ||
		    sscanf(line, "%u.%u %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64, &major, &minor,
			   &size, &gil, &gil_size, &interp) != 6 || !fgets(frames, sizeof(frames), p) ||
		    strncmp(frames, "frames ", 7)) {
			CHECK(e->d_name, 0, "no layout lines from %s", cmd);
			if (p)
				pclose(p);
			continue;
		}
		pclose(p);
		const struct cpython_layout *l = table_row(major, minor, size);
		check_frames_line(frames + 6, l, major, minor);
		snprintf(name, sizeof(name), "cpython %u.%u: the table's GIL is where the headers put it",
			 major, minor);
		CHECK(name, l && l->gil_off == gil && l->gil_size == gil_size && l->interp_gil_off == interp,
		      "headers: size %#" PRIx64 " gil %#" PRIx64 " (%#" PRIx64 ") interp %#" PRIx64
		      "; table row %s", size, gil, gil_size, interp, l ? "differs" : "missing");
		checked++;
	}
	if (dir)
		closedir(dir);
	CHECK("cpython: a layout generator was built (python3.11-dev)", checked > 0,
	      "no cpython_layout-* in %s", fixture_dir);
}

static void test_cpython_match(void)
{
	const struct cpython_layout *l311 = table_row(3, 11, 0x28b20), *l313 = table_row(3, 13, 0x452b8);
	unsigned char head[CPYTHON_HEAD_BYTES] = "xdebugpy";
	uint64_t v = 0x030d00f0, size = 0x452b8, gil = 0x1e48;

	CHECK("cpython: 3.11.2's Py_Version and size match", l311 &&
	      cpython_match(0x030b02f0, 0x28b20, NULL, 0) == l311, "no match");
	CHECK("cpython: another size (a debug build) does not match",
	      !cpython_match(0x030b02f0, 0x28b28, NULL, 0), "matched");
	CHECK("cpython: 3.10 is not known", !cpython_match(0x030a0df0, 0x28b20, NULL, 0), "matched");
	if (!l311)
		return;
	CHECK("cpython: the GIL's first byte is the GIL",
	      cpython_lock_at(l311, l311->gil_off) != NULL, "NULL");
	CHECK("cpython: its last byte too",
	      cpython_lock_at(l311, l311->gil_off + l311->gil_size - 1) != NULL, "NULL");
	CHECK("cpython: the bytes around it are not",
	      !cpython_lock_at(l311, l311->gil_off - 1) && !cpython_lock_at(l311, l311->gil_off + l311->gil_size),
	      "named");
	memcpy(head + 8, &v, 8);
	memcpy(head + 24, &size, 8);
	memcpy(head + 120, &gil, 8);
	CHECK("cpython: 3.13 with only its GIL's debug offsets does not match",
	      !cpython_match(v, size, head, sizeof(head)), "matched");
	/* 3.13.0's _Py_DebugOffsets of the thread state, frame and code object
	 * (Include/internal/pycore_runtime.h): what the frame walk reads */
	static const struct { size_t at; uint64_t v; } dbg[] = {
		{ 168, 0x8 }, { 184, 0x48 }, { 200, 0xa0 }, { 232, 0x8 }, { 240, 0 }, { 248, 0x38 },
		{ 256, 0x48 }, { 264, 0x46 }, { 280, 0x70 }, { 296, 0x80 }, { 304, 0x88 },
		{ 312, 0x44 }, { 344, 0xc8 },
	};
	for (size_t i = 0; i < sizeof(dbg) / sizeof(dbg[0]); i++)
		memcpy(head + dbg[i].at, &dbg[i].v, 8);
	CHECK("cpython: 3.13 with its _Py_DebugOffsets matches", l313 &&
	      cpython_match(v, size, head, sizeof(head)) == l313, "no match");
	uint64_t moved = 0x50;
	memcpy(head + 200, &moved, 8);
	CHECK("cpython: 3.13 whose native_thread_id moved does not",
	      !cpython_match(v, size, head, sizeof(head)), "matched");
	memcpy(head + 200, &dbg[2].v, 8);
	CHECK("cpython: 3.13 without _Py_DebugOffsets does not", !cpython_match(v, size, NULL, 0),
	      "matched");
	gil += 8;
	memcpy(head + 120, &gil, 8);
	CHECK("cpython: 3.13 whose debug offsets disagree does not",
	      !cpython_match(v, size, head, sizeof(head)), "matched");
}

/* A live interpreter: the futex words of its GIL are named "CPython GIL". */
static void test_cpython_live(struct symbolizer *s, const char *python)
{
	static const char script[] =
		"import ctypes, sys\n"
		"a = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, '_PyRuntime'))\n"
		"print('data %#x _PyRuntime' % a)\n"
		"a = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, 'PyCode_Type'))\n"
		"print('data %#x PyCode_Type' % a)\n"
		"print('ready', flush=True)\n"
		"sys.stdin.read()\n";
	char *const argv[] = { (char *)python, "-c", (char *)script, NULL };
	char name[200], buf[128];
	struct fixture fx;
	struct sym_data d;
	uint64_t rt;
	size_t n;
	int err;

	snprintf(name, sizeof(name), "cpython live %s: runs and says where _PyRuntime is", python);
	if (fixture_start_argv(argv, &fx) || !(rt = fixture_addr(&fx, "_PyRuntime")) ||
	    symbolizer_add_process(s, fx.pid)) {
		CHECK(name, 0, "cannot run or snapshot %s", python);
		fixture_stop(&fx);
		return;
	}
	CHECK(name, 1, "%s", "");
	struct sym_cpython py;
	err = symbolizer_cpython(s, fx.pid, &py);
	snprintf(name, sizeof(name), "cpython live %s: its runtime and code type are where it says", python);
	CHECK(name, !err && py.runtime == rt && py.code_type == fixture_addr(&fx, "PyCode_Type") && py.version,
	      "err %d runtime %#" PRIx64 " (it says %#" PRIx64 ") code type %#" PRIx64 " (%#" PRIx64 ")",
	      err, py.runtime, rt, py.code_type, fixture_addr(&fx, "PyCode_Type"));
	err = symbolize_data(s, fx.pid, rt + 0x40, &d);
	snprintf(name, sizeof(name), "cpython live %s: _PyRuntime+0x40 is named", python);
	CHECK(name, err == 0 && d.name && !strcmp(d.name, "_PyRuntime") && d.offset == 0x40,
	      "err %d name %s off %#" PRIx64, err, d.name ? d.name : "(null)", d.offset);
	/* the GIL's mutex in every known layout is 0x50 into the GIL */
	for (const struct cpython_layout *l = cpython_layouts(&n), *e = l + n; l < e; l++) {
		err = symbolize_data(s, fx.pid, rt + l->gil_off + 0x50, &d);
		if (!d.lock)
			continue;
		snprintf(name, sizeof(name), "cpython live %s: the GIL's mutex is CPython GIL (%u.%u, %s)",
			 python, l->major, l->minor, sym_data_format(&d, buf, sizeof(buf)));
		CHECK(name, !strcmp(d.lock, "CPython GIL") && d.offset == l->gil_off + 0x50, "lock %s", d.lock);
		err = symbolize_data(s, fx.pid, rt + l->gil_off - 8, &d);
		snprintf(name, sizeof(name), "cpython live %s: the word before the GIL is not", python);
		CHECK(name, err == 0 && !d.lock && d.name, "lock %s", d.lock ? d.lock : "(none)");
		fixture_stop(&fx);
		symbolizer_forget_process(s, fx.pid);
		return;
	}
	snprintf(name, sizeof(name), "cpython live %s: its GIL is recognized", python);
	CHECK(name, 0, "no known layout named a GIL word (unknown version or build)");
	fixture_stop(&fx);
	symbolizer_forget_process(s, fx.pid);
}

int main(void)
{
	const char *build = getenv("BUILD"), *pythons = getenv("POOLSCOPE_PYTHONS");
	char list[4096], *save = NULL;
	struct symbolizer *s;

	snprintf(fixture_dir, sizeof(fixture_dir), "%s/tests/fixtures", build && *build ? build : "build");
	s = symbolizer_new();
	CHECK("symbolizer_new", s != NULL, "returned NULL");
	if (!s)
		return 1;
	test_data_objects(s, "fixture_pie", "libfixture.so");
	test_data_objects(s, "fixture_nopie", "libfixture.so");
	test_data_objects(s, "fixture_stripped", "libfixture_stripped.so");
	test_update(s);
	test_perf_map(s);
	test_demangle(s);
	test_cpython_table();
	test_cpython_match();
	/* Debian's interpreter always; more with POOLSCOPE_PYTHONS=path:path */
	snprintf(list, sizeof(list), "/usr/bin/python3.11%s%s", pythons ? ":" : "", pythons ? pythons : "");
	for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save))
		test_cpython_live(s, p);
	symbolizer_free(s);
	return check_failures() != 0;
}
