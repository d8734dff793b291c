/* user/symbolize.h: turn captured stack addresses into function names.
 *
 * User addresses are resolved against a snapshot of /proc/TGID/maps taken by
 * symbolizer_add_process (so a process can be symbolized after it exited) and
 * the ELF symbol tables of the mapped files, parsed once per file and cached.
 * Kernel addresses are resolved against /proc/kallsyms, loaded on first use.
 * Not thread-safe: one symbolizer per thread. */
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
};

struct symbolizer *symbolizer_new(void);
void symbolizer_free(struct symbolizer *s);

/* Snapshot /proc/TGID/maps now and parse the executable files it maps, so
 * the process's addresses resolve after it exits. Calling again refreshes
 * (e.g. after exec); on failure an older snapshot is kept.
 * 0, -ESRCH (no such process) or another -errno. */
int symbolizer_add_process(struct symbolizer *s, int tgid);
/* Drop a process's snapshot (e.g. after exec, before re-adding). */
void symbolizer_forget_process(struct symbolizer *s, int tgid);

/* Resolve one user address of process tgid. Returns 0 if a symbol was found,
 * -ENOENT if only the module is known (out->module, out->module_off set),
 * -ESRCH if tgid has no snapshot, -EFAULT if addr is in no executable mapping,
 * -ENXIO if it is in an anonymous one (JIT code). The mapping (map_*) is set
 * whenever the module is; the build-id when the file has one. Strings stay
 * valid until symbolizer_free. */
int symbolize_user(struct symbolizer *s, int tgid, uint64_t addr, struct sym_frame *out);

/* Resolve a kernel address from /proc/kallsyms (loaded lazily once); the
 * kernel's own frames carry its build-id from /sys/kernel/notes. Returns
 * 0, -EPERM if kallsyms hides addresses (not root / kptr_restrict), -EFAULT
 * if addr is outside the kernel's text symbols, or -errno reading kallsyms. */
int symbolize_kernel(struct symbolizer *s, uint64_t addr, struct sym_frame *out);

/* Format one frame for a folded stack: "name" when known, else
 * "module+0xoff" (basename of module), else "[unknown]"; with kernel=true
 * the suffix "_[k]" is appended. Writes into buf (truncating), returns buf. */
const char *sym_frame_format(const struct sym_frame *f, bool kernel, char *buf, size_t len);

void symbolizer_stats(const struct symbolizer *s, struct symbolizer_stats *out);

#endif
