/* user/sym/symbolize.h: turn captured stack addresses into function names,
 * and lock addresses into the data objects that hold them.
 *
 * User addresses are resolved against a snapshot of /proc/TGID/maps taken by
 * symbolizer_add_process (so a process can be symbolized after it exited) and
 * the ELF symbol tables of the mapped files, parsed once per file and cached;
 * JIT code against the process's perf map (/tmp/perf-PID.map). C++ and Rust
 * names come out demangled. Kernel addresses are resolved against
 * /proc/kallsyms, loaded on first use. Not thread-safe: one symbolizer per
 * thread. */
#ifndef POOLSCOPE_SYMBOLIZE_H
#define POOLSCOPE_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symbolizer;

struct sym_frame {
	const char *name;    /* function name, or NULL if unresolved */
	uint64_t offset;     /* addr - symbol start */
	const char *module;  /* path of the mapped file (or "[kernel]"), NULL if unknown */
	uint64_t module_off; /* file offset within module (for module+0xoff output) */
	const char *build_id; /* the module's GNU build-id in lowercase hex, NULL if none */
	/* user frames: the executable mapping holding the address, as
	 * /proc/PID/maps listed it ([start, end), file offset); 0 for kernel */
	uint64_t map_start, map_end, map_pgoff;
};

struct symbolizer_stats {
	unsigned long elf_parsed;     /* ELF files opened and parsed (cache misses) */
	unsigned long elf_cache_hits; /* mappings served by an already parsed file */
	unsigned long processes;      /* process snapshots currently held */
	unsigned long kernel_syms;    /* text symbols loaded from /proc/kallsyms */
	unsigned long jit_syms;       /* entries read from perf maps */
	unsigned long debuginfod;     /* debug files fetched from DEBUGINFOD_URLS */
};

/* Where a data address (a futex word) lies. */
enum sym_region {
	SYM_REGION_NONE,   /* in no mapping of the snapshot */
	SYM_REGION_IMAGE,  /* an ELF file's data or bss: name, or module and vaddr */
	SYM_REGION_FILE,   /* another mapped file (shared memory): module, module_off */
	SYM_REGION_HEAP,   /* [heap] or an anonymous mapping (thread stacks too) */
	SYM_REGION_STACK,  /* the main thread's [stack] */
};

struct sym_data {
	enum sym_region region;
	const char *name;     /* data object (STT_OBJECT) holding it, or NULL */
	uint64_t offset;      /* addr - object start */
	const char *module;   /* path of the file it belongs to, or NULL */
	uint64_t module_off;  /* IMAGE: ELF virtual address; FILE: file offset */
	const char *lock;     /* a lock a runtime keeps there ("CPython GIL"), or NULL */
};

struct symbolizer *symbolizer_new(void);
void symbolizer_free(struct symbolizer *s);

/* Snapshot /proc/TGID/maps now and parse the executable files it maps, so
 * the process's addresses resolve after it exits. Calling again refreshes
 * (e.g. after exec); on failure an older snapshot is kept.
 * 0, -ESRCH (no such process) or another -errno. */
int symbolizer_add_process(struct symbolizer *s, int tgid);
/* Snapshot /proc/TGID/maps again, keeping the mappings of the older
 * snapshot that no longer exist (a library unloaded, an arena unmapped:
 * addresses captured earlier still resolve), for a process that has not
 * exec'd: what it mapped since (thread arenas, dlopen'd libraries) resolves
 * too. Like symbolizer_add_process when tgid has no snapshot yet. */
int symbolizer_update_process(struct symbolizer *s, int tgid);
/* Drop a process's snapshot (e.g. after exec, before re-adding). */
void symbolizer_forget_process(struct symbolizer *s, int tgid);

/* Read the process's perf map (/tmp/perf-TGID.map, as it sees /tmp while it
 * lives), replacing the one read before: JIT code resolves through it. Call
 * it when the process exits and at the end of the trace (JITs append to the
 * file as they compile). 0, -ESRCH (no snapshot), -ENOENT (no map), -EPERM
 * (not owned by the process's user or root) or -errno. */
int symbolizer_load_perf_map(struct symbolizer *s, int tgid);

/* Fetch, from the debuginfod servers in DEBUGINFOD_URLS, the debug files of
 * the stripped files parsed so far that have a build-id and no local debug
 * file (once per file); slow (network), so call it at naming time, not while
 * tracing. Returns how many were added, 0 when DEBUGINFOD_URLS is unset. */
int symbolizer_fetch_debuginfo(struct symbolizer *s);

/* Resolve one user address of process tgid. Returns 0 if a symbol was found
 * (an ELF function, or a JIT symbol from the perf map: module NULL), -ENOENT
 * if only the module is known (out->module, out->module_off set), -ESRCH if
 * tgid has no snapshot, -EFAULT if addr is in no executable mapping, -ENXIO
 * if it is in an anonymous one that no perf map names (JIT code). The
 * mapping (map_*) is set whenever the module is; the build-id when the file
 * has one. Strings stay valid until symbolizer_free. */
int symbolize_user(struct symbolizer *s, int tgid, uint64_t addr, struct sym_frame *out);

/* Resolve a data address of process tgid (where a lock lives): the data
 * object of an ELF file's .symtab/.dynsym (STT_OBJECT with a size) holding
 * it, and, inside a runtime poolscope knows, what the runtime keeps there
 * (CPython's GIL in _PyRuntime). Returns 0 when out->region is set (even if
 * no object is named), -ESRCH if tgid has no snapshot, -EFAULT if addr is
 * in no mapping. */
int symbolize_data(struct symbolizer *s, int tgid, uint64_t addr, struct sym_data *out);

/* A CPython interpreter mapped in a process: the executable or libpython
 * that holds its _PyRuntime. */
struct sym_cpython {
	const struct cpython_layout *layout; /* NULL: a version or build poolscope does not know */
	uint64_t runtime;     /* the address of _PyRuntime in the process */
	uint64_t code_type;   /* ... of PyCode_Type, 0 if not exported */
	uint64_t version;     /* Py_Version (PY_VERSION_HEX), 0 if not exported (before 3.11) */
	const char *module;   /* the file's path */
};

/* The CPython runtime in process tgid's snapshot: 0, -ENOENT (none mapped)
 * or -ESRCH (no snapshot). */
int symbolizer_cpython(struct symbolizer *s, int tgid, struct sym_cpython *out);

/* Resolve a kernel address from /proc/kallsyms (loaded lazily once); the
 * kernel's own frames carry its build-id from /sys/kernel/notes. Returns
 * 0, -EPERM if kallsyms hides addresses (not root / kptr_restrict), -EFAULT
 * if addr is outside the kernel's text symbols, or -errno reading kallsyms. */
int symbolize_kernel(struct symbolizer *s, uint64_t addr, struct sym_frame *out);

/* Format one frame for a folded stack: "name" when known, else
 * "module+0xoff" (basename of module), else "[unknown]"; with kernel=true
 * the suffix "_[k]" is appended. Writes into buf (truncating), returns buf. */
const char *sym_frame_format(const struct sym_frame *f, bool kernel, char *buf, size_t len);

/* Format a data address: "object+0xoff" ("object" at offset 0), else
 * "module+0xvaddr" (basename), "heap", "stack", or "" when unknown. */
const char *sym_data_format(const struct sym_data *d, char *buf, size_t len);

void symbolizer_stats(const struct symbolizer *s, struct symbolizer_stats *out);

#endif
