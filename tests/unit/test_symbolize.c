/* tests/unit/test_symbolize.c: the symbolizer against real processes.
 *
 * Fixture programs (tests/unit/fixtures, built into $BUILD/tests/fixtures by
 * tests/tests.mk) print the addresses of their own functions, which is the
 * independent truth: each printed address plus a small offset must resolve to
 * the printed name, in a PIE, a -no-pie executable with a compressed .symtab,
 * a stripped executable with a .gnu_debuglink file, and their shared
 * libraries, while the process runs and after it exited. Kernel addresses are
 * checked against /proc/kallsyms read independently. */
#include "sym/symbolize.h"
#include "check.h"
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FRAME_OFF 3 /* resolve an address inside the function, not its start */

static char fixture_dir[PATH_MAX];

/* Every printed function resolves to its name; exe functions to module
 * exe_base, lib functions to lib_base. tag names the checks. */
static void check_fixture_resolves(struct symbolizer *s, const struct fixture *fx, const char *tag,
				   const char *exe_base, const char *lib_base)
{
	char name[160];

	int nfns = 0;

	for (int i = 0; i < fx->nfns; i++)
		nfns += !strcmp(fx->fns[i].where, "exe") || !strcmp(fx->fns[i].where, "lib");
	snprintf(name, sizeof(name), "%s: fixture printed its 4 functions", tag);
	CHECK(name, nfns == 4, "got %d", nfns);
	for (int i = 0; i < fx->nfns; i++) {
		struct sym_frame f;

		if (strcmp(fx->fns[i].where, "exe") && strcmp(fx->fns[i].where, "lib"))
			continue;
		const char *want_mod = strcmp(fx->fns[i].where, "exe") ? lib_base : exe_base;
		int err = symbolize_user(s, fx->pid, fx->fns[i].addr + FRAME_OFF, &f);


		snprintf(name, sizeof(name), "%s: %s %s resolves to its name", tag, fx->fns[i].where,
			 fx->fns[i].name);
		CHECK(name, err == 0 && f.name && !strcmp(f.name, fx->fns[i].name) && f.offset == FRAME_OFF,
		      "err %d name %s offset %" PRIu64, err, f.name ? f.name : "(null)", f.offset);
		snprintf(name, sizeof(name), "%s: %s %s is in module %s", tag, fx->fns[i].where,
			 fx->fns[i].name, want_mod);
		CHECK(name, f.module && !strcmp(base_name(f.module), want_mod) && f.module_off > 0,
		      "module %s off 0x%" PRIx64, f.module ? f.module : "(null)", f.module_off);
	}
}

/* Read through libelf, independently of the symbolizer. */
static void elf_facts(const char *path, int *e_type, bool *symtab_compressed)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	GElf_Shdr sh;
	Elf *elf;

	*e_type = -1;
	*symtab_compressed = false;
	elf_version(EV_CURRENT);
	if (fd < 0)
		return;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && gelf_getehdr(elf, &eh))
		*e_type = eh.e_type;
	while (elf && (scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB && (sh.sh_flags & SHF_COMPRESSED))
			*symtab_compressed = true;
	elf_end(elf);
	close(fd);
}

/* The GNU build-id of path as readelf -n prints it ("" if none). */
static void readelf_build_id(const char *path, char *out, size_t len)
{
	char cmd[PATH_MAX + 64], line[256];
	FILE *p;

	out[0] = '\0';
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		if (sscanf(line, " Build ID: %127s", out) == 1)
			break;
	if (p)
		pclose(p);
	(void)len;
}

/* The frame's mapping holds the address, and its build-id is the file's. */
static void check_frame_module(const struct sym_frame *f, uint64_t addr, const char *file,
			       const char *tag)
{
	char want[128], name[160];

	readelf_build_id(file, want, sizeof(want));
	snprintf(name, sizeof(name), "%s: the frame's mapping holds the address", tag);
	CHECK(name, f->map_start <= addr && addr < f->map_end && f->map_pgoff <= f->module_off,
	      "map [0x%" PRIx64 ", 0x%" PRIx64 ") off 0x%" PRIx64 ", addr 0x%" PRIx64, f->map_start,
	      f->map_end, f->map_pgoff, addr);
	snprintf(name, sizeof(name), "%s: build-id is the one readelf -n prints", tag);
	CHECK(name, *want && f->build_id && !strcmp(f->build_id, want), "got %s, readelf %s",
	      f->build_id ? f->build_id : "(null)", *want ? want : "(none)");
}

static void test_pie(struct symbolizer *s)
{
	char exe[PATH_MAX + 32];
	struct fixture fx;
	struct sym_frame f;
	const char *name_before;
	int e_type, err;
	bool compressed;

	snprintf(exe, sizeof(exe), "%s/fixture_pie", fixture_dir);
	elf_facts(exe, &e_type, &compressed);
	CHECK("pie fixture is ET_DYN", e_type == ET_DYN, "e_type %d", e_type);
	if (fixture_start(exe, &fx)) {
		CHECK("pie fixture starts", 0, "cannot run %s", exe);
		fixture_stop(&fx);
		return;
	}
	err = symbolizer_add_process(s, fx.pid);
	CHECK("pie: snapshot of a live process", err == 0, "err %d", err);
	check_fixture_resolves(s, &fx, "pie", "fixture_pie", "libfixture.so");

	uint64_t lib_addr = fixture_addr(&fx, "lib_global_fn") + FRAME_OFF;
	char lib[PATH_MAX + 32];
	symbolize_user(s, fx.pid, lib_addr, &f);
	snprintf(lib, sizeof(lib), "%s/libfixture.so", fixture_dir);
	check_frame_module(&f, lib_addr, lib, "pie: library frame");
	symbolize_user(s, fx.pid, fixture_addr(&fx, "pie_static_fn") + FRAME_OFF, &f);
	check_frame_module(&f, fixture_addr(&fx, "pie_static_fn") + FRAME_OFF, exe, "pie: program frame");
	name_before = f.name;
	fixture_stop(&fx);
	CHECK("pie: fixture has exited", kill(fx.pid, 0) == -1 && errno == ESRCH, "kill: %d", errno);
	check_fixture_resolves(s, &fx, "pie after exit", "fixture_pie", "libfixture.so");
	err = symbolizer_add_process(s, fx.pid);
	CHECK("pie: re-snapshot of an exited process fails with -ESRCH", err == -ESRCH, "err %d", err);
	err = symbolize_user(s, fx.pid, fixture_addr(&fx, "pie_static_fn"), &f);
	CHECK("pie: a failed refresh keeps the old snapshot", err == 0, "err %d", err);

	symbolizer_forget_process(s, fx.pid);
	err = symbolize_user(s, fx.pid, fixture_addr(&fx, "pie_static_fn"), &f);
	CHECK("forgotten process gives -ESRCH", err == -ESRCH && !f.name && !f.module, "err %d", err);
	CHECK("names outlive forget_process", name_before && !strcmp(name_before, "pie_static_fn"),
	      "name %s", name_before ? name_before : "(null)");
}

static void test_nopie_compressed(struct symbolizer *s)
{
	char exe[PATH_MAX + 32];
	struct fixture fx;
	int e_type, err;
	bool compressed;

	snprintf(exe, sizeof(exe), "%s/fixture_nopie", fixture_dir);
	elf_facts(exe, &e_type, &compressed);
	CHECK("nopie fixture is ET_EXEC", e_type == ET_EXEC, "e_type %d", e_type);
	CHECK("nopie fixture has a compressed .symtab", compressed, "no SHF_COMPRESSED .symtab");
	if (fixture_start(exe, &fx)) {
		CHECK("nopie fixture starts", 0, "cannot run %s", exe);
		fixture_stop(&fx);
		return;
	}
	err = symbolizer_add_process(s, fx.pid);
	CHECK("nopie: snapshot", err == 0, "err %d", err);
	check_fixture_resolves(s, &fx, "nopie", "fixture_nopie", "libfixture.so");
	fixture_stop(&fx);
	symbolizer_forget_process(s, fx.pid);
}

static void test_stripped(struct symbolizer *s)
{
	char exe[PATH_MAX + 32];
	struct fixture fx;
	struct sym_frame f;
	uint64_t addr;
	int err;

	snprintf(exe, sizeof(exe), "%s/fixture_stripped", fixture_dir);
	if (fixture_start(exe, &fx)) {
		CHECK("stripped fixture starts", 0, "cannot run %s", exe);
		fixture_stop(&fx);
		return;
	}
	err = symbolizer_add_process(s, fx.pid);
	CHECK("stripped: snapshot", err == 0, "err %d", err);
	addr = fixture_addr(&fx, "stripped_static_fn");
	err = symbolize_user(s, fx.pid, addr + FRAME_OFF, &f);
	CHECK("stripped exe: static function found through .gnu_debuglink",
	      err == 0 && f.name && !strcmp(f.name, "stripped_static_fn"), "err %d name %s", err,
	      f.name ? f.name : "(null)");
	addr = fixture_addr(&fx, "lib_global_fn");
	err = symbolize_user(s, fx.pid, addr + FRAME_OFF, &f);
	CHECK("stripped lib: exported function found in .dynsym",
	      err == 0 && f.name && !strcmp(f.name, "lib_global_fn"), "err %d name %s", err,
	      f.name ? f.name : "(null)");
	addr = fixture_addr(&fx, "lib_static_fn");
	err = symbolize_user(s, fx.pid, addr + FRAME_OFF, &f);
	CHECK("stripped lib: static function gives module only (-ENOENT)",
	      err == -ENOENT && !f.name && f.module &&
		      !strcmp(base_name(f.module), "libfixture_stripped.so") && f.module_off,
	      "err %d name %s module %s", err, f.name ? f.name : "(null)",
	      f.module ? f.module : "(null)");
	fixture_stop(&fx);
	symbolizer_forget_process(s, fx.pid);
}

/* A binary deleted after the process started still resolves, through
 * /proc/PID/map_files (which needs root). */
static void test_deleted_binary(struct symbolizer *s)
{
	char tmpl[] = "/tmp/poolscope-sym.XXXXXX", exe[PATH_MAX + 32], cmd[3 * PATH_MAX];
	struct fixture fx;
	struct sym_frame f;
	int err;

	if (geteuid() != 0) {
		printf("SKIP: deleted binary resolves (map_files needs root)\n");
		return;
	}
	if (!mkdtemp(tmpl))
		return;
	snprintf(exe, sizeof(exe), "%s/fixture_pie", tmpl);
	snprintf(cmd, sizeof(cmd), "cp '%s/fixture_pie' '%s/libfixture.so' '%s/'", fixture_dir,
		 fixture_dir, tmpl);
	if (system(cmd) != 0 || fixture_start(exe, &fx)) {
		CHECK("deleted binary: copy starts", 0, "cannot copy/run %s", exe);
		rmdir(tmpl);
		return;
	}
	unlink(exe);
	snprintf(cmd, sizeof(cmd), "%s/libfixture.so", tmpl);
	unlink(cmd);
	rmdir(tmpl);
	err = symbolizer_add_process(s, fx.pid);
	CHECK("deleted binary: snapshot", err == 0, "err %d", err);
	err = symbolize_user(s, fx.pid, fixture_addr(&fx, "pie_static_fn") + FRAME_OFF, &f);
	CHECK("deleted binary: static function still resolves",
	      err == 0 && f.name && !strcmp(f.name, "pie_static_fn") && f.module &&
		      !strcmp(f.module, exe),
	      "err %d name %s module %s", err, f.name ? f.name : "(null)",
	      f.module ? f.module : "(null)");
	err = symbolize_user(s, fx.pid, fixture_addr(&fx, "lib_static_fn") + FRAME_OFF, &f);
	CHECK("deleted library: static function still resolves",
	      err == 0 && f.name && !strcmp(f.name, "lib_static_fn"), "err %d", err);
	fixture_stop(&fx);
	symbolizer_forget_process(s, fx.pid);
}

/* 100 processes of one binary parse it once. */
static void test_cache(void)
{
	struct symbolizer *s = symbolizer_new();
	struct symbolizer_stats st1, st2, st3;
	struct fixture fx1, fx2;
	char exe[PATH_MAX + 32];
	int ok1, ok2;

	snprintf(exe, sizeof(exe), "%s/fixture_pie", fixture_dir);
	ok1 = fixture_start(exe, &fx1) == 0;
	ok2 = fixture_start(exe, &fx2) == 0;
	if (!s || !ok1 || !ok2) {
		CHECK("cache: two fixtures start", 0, "symbolizer %p, starts %d %d", (void *)s, ok1, ok2);
		goto out;
	}
	symbolizer_add_process(s, fx1.pid);
	symbolizer_stats(s, &st1);
	CHECK("cache: first process parses its files", st1.elf_parsed >= 3 && st1.processes == 1,
	      "parsed %lu processes %lu", st1.elf_parsed, st1.processes);
	symbolizer_add_process(s, fx2.pid);
	symbolizer_stats(s, &st2);
	CHECK("cache: second process of the same binary parses nothing",
	      st2.elf_parsed == st1.elf_parsed && st2.elf_cache_hits >= st1.elf_cache_hits + 3 &&
		      st2.processes == 2,
	      "parsed %lu -> %lu, hits %lu -> %lu", st1.elf_parsed, st2.elf_parsed,
	      st1.elf_cache_hits, st2.elf_cache_hits);
	symbolizer_add_process(s, fx1.pid);
	symbolizer_stats(s, &st3);
	CHECK("cache: refreshing a snapshot parses nothing and keeps one entry",
	      st3.elf_parsed == st1.elf_parsed && st3.processes == 2, "parsed %lu processes %lu",
	      st3.elf_parsed, st3.processes);
out:
	if (ok1)
		fixture_stop(&fx1);
	if (ok2)
		fixture_stop(&fx2);
	symbolizer_free(s);
}

static __attribute__((noinline)) int test_own_static_fn(int x)
{
	volatile int y = x;

	return y + 1;
}

/* Our own process: this test binary's .symtab and the system libc, whose
 * .symtab Debian strips (so .dynsym, or a debug file if installed). */
static void test_self(struct symbolizer *s)
{
	struct sym_frame f;
	int err = symbolizer_add_process(s, getpid());

	CHECK("self: snapshot", err == 0, "err %d", err);
	err = symbolize_user(s, getpid(), (uint64_t)(uintptr_t)test_own_static_fn + 1, &f);
	CHECK("self: own static function", err == 0 && f.name && !strcmp(f.name, "test_own_static_fn"),
	      "err %d name %s", err, f.name ? f.name : "(null)");
	err = symbolize_user(s, getpid(), (uint64_t)(uintptr_t)getpid + 2, &f);
	CHECK("self: libc getpid", err == 0 && f.name && strstr(f.name, "getpid") && f.offset == 2,
	      "err %d name %s", err, f.name ? f.name : "(null)");
	test_own_static_fn(1);
}

static void test_bad_addresses(struct symbolizer *s)
{
	static const uint64_t bad[] = { 0, 1, 0x1000, 0x00007fffffffffffull, 0xffff800000000000ull,
					0xffffffffffff0000ull, UINT64_MAX };
	struct sym_frame f;
	unsigned int seed = 12345;
	int err, i, bad_rc = 0;
	pid_t me = getpid();
	static int data_var = 1; /* .data: a mapped, non-executable page */

	symbolizer_add_process(s, me);
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		char name[96];

		err = symbolize_user(s, me, bad[i], &f);
		snprintf(name, sizeof(name), "address 0x%" PRIx64 " in no mapping gives -EFAULT", bad[i]);
		CHECK(name, err == -EFAULT && !f.name && !f.module, "err %d", err);
	}
	err = symbolize_user(s, me, (uint64_t)(uintptr_t)&data_var, &f);
	CHECK("data (non-executable) address gives -EFAULT", err == -EFAULT && data_var, "err %d", err);
	err = symbolize_user(s, 0x7ffffff0, 0x401000, &f);
	CHECK("unknown tgid gives -ESRCH", err == -ESRCH, "err %d", err);
	err = symbolizer_add_process(s, 0x3ffffff0);
	CHECK("snapshot of a nonexistent process gives -ESRCH", err == -ESRCH, "err %d", err);
	err = symbolizer_add_process(s, -5);
	CHECK("snapshot of a negative tgid gives -EINVAL", err == -EINVAL, "err %d", err);

	/* Random addresses, many near our own code: no crash, only known codes. */
	for (i = 0; i < 200000; i++) {
		uint64_t addr = ((uint64_t)rand_r(&seed) << 33) ^ ((uint64_t)rand_r(&seed) << 2);

		if (i & 1)
			addr = (uint64_t)(uintptr_t)test_bad_addresses + (uint64_t)rand_r(&seed) % (64u << 20) -
			       (32u << 20);
		err = symbolize_user(s, me, addr, &f);
		if (err && err != -ENOENT && err != -EFAULT && err != -ENXIO)
			bad_rc++;
		err = symbolize_kernel(s, addr | 0xffff000000000000ull, &f);
		if (err && err != -EFAULT && err != -EPERM)
			bad_rc++;
	}
	CHECK("200000 random user and kernel addresses: no crash, only documented errors",
	      bad_rc == 0, "%d unexpected return codes", bad_rc);
	symbolizer_forget_process(s, me);
}

/* Independent truth: kallsyms itself. */
static uint64_t kallsyms_addr(const char *want)
{
	FILE *fp = fopen("/proc/kallsyms", "r");
	char line[512], name[256], type;
	uint64_t addr, found = UINT64_MAX;

	if (!fp)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, name) == 3 &&
		    (type == 'T' || type == 't') && !strcmp(name, want)) {
			found = addr;
			break;
		}
	fclose(fp);
	return found;
}

static void test_kernel(struct symbolizer *s)
{
	uint64_t addr = kallsyms_addr("schedule");
	struct symbolizer_stats st;
	struct sym_frame f;
	int err;

	if (addr == UINT64_MAX) {
		CHECK("kallsyms lists schedule", 0, "no schedule in /proc/kallsyms");
		return;
	}
	err = symbolize_kernel(s, addr + 4, &f);
	if (addr == 0) {
		CHECK("hidden kallsyms addresses give -EPERM", err == -EPERM && !f.name, "err %d", err);
		err = symbolize_kernel(s, 0xffffffff81000000ull, &f);
		CHECK("hidden kallsyms: -EPERM again, no crash", err == -EPERM, "err %d", err);
		return;
	}
	CHECK("kernel: schedule+4 resolves to schedule",
	      err == 0 && f.name && !strcmp(f.name, "schedule") && f.offset == 4 && f.module &&
		      !strcmp(f.module, "[kernel]"),
	      "err %d name %s offset %" PRIu64, err, f.name ? f.name : "(null)", f.offset);
	bool hex40 = f.build_id && strlen(f.build_id) == 40 &&
		     strspn(f.build_id, "0123456789abcdef") == 40;
	CHECK("kernel: frames carry the kernel's build-id (/sys/kernel/notes), 40 hex digits",
	      hex40 || access("/sys/kernel/notes", R_OK), "build_id %s",
	      f.build_id ? f.build_id : "(null)");
	err = symbolize_kernel(s, addr, &f);
	CHECK("kernel: schedule itself resolves at offset 0",
	      err == 0 && f.name && !strcmp(f.name, "schedule") && f.offset == 0, "err %d", err);
	err = symbolize_kernel(s, 0, &f);
	CHECK("kernel: address 0 gives -EFAULT", err == -EFAULT && !f.name, "err %d", err);
	err = symbolize_kernel(s, UINT64_MAX, &f);
	CHECK("kernel: address ~0 gives -EFAULT", err == -EFAULT && !f.name, "err %d", err);
	symbolizer_stats(s, &st);
	CHECK("kernel: text symbols loaded", st.kernel_syms > 1000, "%lu symbols", st.kernel_syms);
}

static void test_format(void)
{
	struct sym_frame known = { .name = "do_work", .offset = 12, .module = "/usr/bin/app",
				   .module_off = 0x1234 };
	struct sym_frame module_only = { .module = "/usr/lib/x86_64-linux-gnu/libc.so.6",
					 .module_off = 0x9abc };
	struct sym_frame unknown = { 0 };
	struct sym_frame kernel = { .name = "schedule", .module = "[kernel]" };
	struct sym_frame semi = { .name = "a;b" };
	char buf[128], tiny[5];

	sym_frame_format(&known, false, buf, sizeof(buf));
	CHECK("format: known frame is its name", !strcmp(buf, "do_work"), "got %s", buf);
	sym_frame_format(&module_only, false, buf, sizeof(buf));
	CHECK("format: module-only frame is basename+0xoff", !strcmp(buf, "libc.so.6+0x9abc"), "got %s",
	      buf);
	sym_frame_format(&unknown, false, buf, sizeof(buf));
	CHECK("format: unknown frame", !strcmp(buf, "[unknown]"), "got %s", buf);
	sym_frame_format(NULL, false, buf, sizeof(buf));
	CHECK("format: NULL frame is unknown", !strcmp(buf, "[unknown]"), "got %s", buf);
	sym_frame_format(&kernel, true, buf, sizeof(buf));
	CHECK("format: kernel frame gets _[k]", !strcmp(buf, "schedule_[k]"), "got %s", buf);
	sym_frame_format(&unknown, true, buf, sizeof(buf));
	CHECK("format: unknown kernel frame gets _[k]", !strcmp(buf, "[unknown]_[k]"), "got %s", buf);
	sym_frame_format(&semi, false, buf, sizeof(buf));
	CHECK("format: ';' cannot split a folded frame", !strcmp(buf, "a_b"), "got %s", buf);
	CHECK("format: truncates to the buffer",
	      sym_frame_format(&known, false, tiny, sizeof(tiny)) == tiny && !strcmp(tiny, "do_w"),
	      "got %s", tiny);
}

int main(void)
{
	const char *build = getenv("BUILD");
	struct symbolizer *s;

	snprintf(fixture_dir, sizeof(fixture_dir), "%s/tests/fixtures", build && *build ? build : "build");
	s = symbolizer_new();
	CHECK("symbolizer_new", s != NULL, "returned NULL");
	if (!s)
		return 1;
	test_format();
	test_pie(s);
	test_nopie_compressed(s);
	test_stripped(s);
	test_deleted_binary(s);
	test_self(s);
	test_bad_addresses(s);
	test_kernel(s);
	test_cache();
	symbolizer_free(s);
	return check_failures() != 0;
}
