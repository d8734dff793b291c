/* user/sym/elf_syms.h: the ELF files behind a process's mappings, each
 * parsed once into sorted function and data-object symbols (internal to
 * user/sym: symbolize.c resolves addresses against them).
 *
 * A file is cached by (dev, inode, size, mtime). Its symbols come from
 * .symtab and .dynsym, or from a separate debug file (build-id or
 * .gnu_debuglink under /usr/lib/debug, or a debuginfod server later through
 * elf_file_add_debug) when it is stripped. */
#ifndef POOLSCOPE_ELF_SYMS_H
#define POOLSCOPE_ELF_SYMS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define ELF_FILE_BUCKETS 509
#define ELF_BUILD_ID_MAX 70 /* hex digits kept (a SHA-1 id has 40) */

struct cpython_layout;

struct elf_sym {
	uint64_t start, end; /* [start, end) in ELF virtual addresses */
	const char *name;
};

struct elf_seg {
	uint64_t offset, vaddr, filesz, memsz;
	bool exec;
};

struct elf_symtab {
	struct elf_sym *syms;
	size_t n;
	char *names; /* backs syms[].name */
};

struct elf_file {
	struct elf_file *next; /* cache bucket chain */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct elf_symtab funcs;   /* STT_FUNC, STT_GNU_IFUNC */
	struct elf_symtab objs;    /* STT_OBJECT with a size: data and bss */
	struct elf_seg *segs;      /* PT_LOAD */
	size_t nsegs;
	/* CPython's runtime state lives in this file's data (_PyRuntime) and
	 * its layout is one poolscope knows: the GIL can be named. */
	const struct cpython_layout *cpython;
	/* A CPython runtime, known or not: the vaddrs of _PyRuntime and
	 * PyCode_Type, and Py_Version (0: none exported, before 3.11) */
	uint64_t py_runtime, py_code_type, py_version;
	char build_id[ELF_BUILD_ID_MAX + 1]; /* "" if none */
	bool no_symtab;            /* stripped and no local debug file */
};

struct elf_cache {
	struct elf_file *files[ELF_FILE_BUCKETS];
	unsigned long parsed, hits;
};

/* The cached parse of the file open at fd (path names it, for debuglink
 * lookups), parsing it on first sight; takes ownership of fd. NULL if fd
 * is not a regular file or memory ran out. */
struct elf_file *elf_cache_get(struct elf_cache *c, int fd, const char *path);
void elf_cache_free(struct elf_cache *c);

/* Add the .symtab of a debug file (fd, owned by the caller) to f; its
 * build-id must match f's. 0, -EINVAL (not a matching debug file) or
 * -ENOMEM. */
int elf_file_add_debug(struct elf_file *f, int fd);

/* The symbol of t containing vaddr (the innermost of nested ones), or NULL. */
const struct elf_sym *elf_symtab_find(const struct elf_symtab *t, uint64_t vaddr);
/* File offset -> ELF virtual address through the PT_LOAD holding it. */
bool elf_file_off_to_vaddr(const struct elf_file *f, uint64_t off, uint64_t *vaddr);
/* Whether vaddr lies in a PT_LOAD's memory image (its bss included). */
bool elf_file_has_vaddr(const struct elf_file *f, uint64_t vaddr);

/* A growable pool of NUL-terminated names, referenced by offset while it
 * grows (shared with the kallsyms loader). */
struct name_pool {
	char *buf;
	size_t len, cap;
};
long name_pool_add(struct name_pool *p, const char *name);
/* Grow *arr (of *cap elements of elem bytes) to hold need. 0 or -ENOMEM. */
int grow_array(void **arr, size_t *cap, size_t need, size_t elem);

#endif
