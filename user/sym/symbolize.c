/* user/sym/symbolize.c: resolve user and kernel stack addresses to function
 * names, and lock addresses to the data objects holding them.
 *
 * A process snapshot is the list of mappings from /proc/TGID/maps; those of
 * ELF files point at a cached, already parsed file (elf_syms.c): parsing
 * happens when the snapshot is taken (through /proc/TGID/map_files while
 * the process lives, so deleted or replaced files still resolve), which is
 * why a process can be symbolized after it exited. A runtime code address
 * becomes an ELF virtual address through the mapping's start and file
 * offset and the PT_LOAD segment holding that offset, which covers PIE,
 * shared libraries and ET_EXEC alike; a data address through the file's
 * load bias, which also reaches its bss (the anonymous mapping after its
 * data). JIT code resolves through the process's perf map. Kernel addresses
 * use /proc/kallsyms, loaded once on first use. Every string handed out
 * lives in storage owned by the symbolizer and freed only by
 * symbolizer_free.
 */
#include "sym/symbolize.h"
#include "sym/cpython.h"
#include "sym/debuginfod.h"
#include "sym/demangle.h"
#include "sym/elf_syms.h"
#include "sym/perfmap.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_BUCKETS 1021
#define STR_BUCKETS 1021
#define DEMANGLE_BUCKETS 4093
/* An address this far past the nearest kernel text symbol lies in a gap
 * after a text region (past _etext, between modules), not in a function. */
#define KSYM_MAX_SPAN (1u << 20)
/* How many mappings back from an anonymous one a file's bss may start
 * (data, then bss; a guard or relro page between is allowed). */
#define BSS_LOOKBACK 3
/* How many more mappings than it has now a process's snapshot may keep
 * from older snapshots (regions unmapped since). */
#define KEPT_MAPPINGS_MAX 4096

struct mapping {
	uint64_t start, end, pgoff;
	const char *module;    /* interned path or "[heap]"-like name; NULL: anonymous */
	struct elf_file *file; /* NULL: not an ELF file with code in this process */
	uint64_t bias;         /* runtime address - ELF vaddr (when file) */
	bool exec;
};

struct process {
	struct process *next;
	int tgid;
	uid_t uid;             /* owner of /proc/TGID: who may write its perf map */
	struct mapping *maps;
	size_t nmaps;
	struct perf_map jit;
};

struct ksym {
	uint64_t addr;
	const char *name;
	const char *module;
	int rank;
};

struct interned {
	struct interned *next;
	char str[];
};

/* A mangled name (by the address of its storage) and how it is shown. */
struct demangled {
	struct demangled *next;
	const char *mangled, *shown;
};

struct symbolizer {
	struct process *procs[PROC_BUCKETS];
	struct elf_cache elfs;
	struct interned *strings[STR_BUCKETS];
	struct demangled *demangled[DEMANGLE_BUCKETS];
	struct ksym *ksyms;
	size_t nksyms;
	char *knames;
	int kernel_err; /* result of loading kallsyms, once loaded */
	char kernel_build_id[72]; /* from /sys/kernel/notes, "" if none */
	bool kernel_loaded;
	struct symbolizer_stats stats;
};

static const char kernel_module[] = "[kernel]";

/* ---- small helpers ------------------------------------------------------ */

static uint64_t hash_str(const char *str)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *str; str++)
		h = (h ^ (unsigned char)*str) * 1099511628211ull;
	return h;
}

/* Strings that must outlive process snapshots (module paths) live here. */
static const char *intern(struct symbolizer *s, const char *str)
{
	size_t b = hash_str(str) % STR_BUCKETS, len = strlen(str);
	struct interned *it;

	for (it = s->strings[b]; it; it = it->next)
		if (!strcmp(it->str, str))
			return it->str;
	it = malloc(sizeof(*it) + len + 1);
	if (!it)
		return NULL;
	memcpy(it->str, str, len + 1);
	it->next = s->strings[b];
	s->strings[b] = it;
	return it->str;
}

/* name as a person reads it: demangled once, on first lookup (demangling
 * every symbol of a C++ library at parse time would cost far more). */
static const char *shown_name(struct symbolizer *s, const char *name)
{
	size_t b = ((uintptr_t)name >> 3) % DEMANGLE_BUCKETS;
	struct demangled *d;
	char *text;

	if (!sym_is_mangled(name))
		return name;
	for (d = s->demangled[b]; d; d = d->next)
		if (d->mangled == name)
			return d->shown;
	d = malloc(sizeof(*d));
	if (!d)
		return name;
	text = sym_demangle(name);
	d->mangled = name;
	d->shown = text ? intern(s, text) : NULL;
	if (!d->shown)
		d->shown = name;
	free(text);
	d->next = s->demangled[b];
	s->demangled[b] = d;
	return d->shown;
}

/* ---- process snapshots -------------------------------------------------- */

static struct process **proc_slot(struct symbolizer *s, int tgid)
{
	struct process **pp = &s->procs[(unsigned)tgid % PROC_BUCKETS];

	while (*pp && (*pp)->tgid != tgid)
		pp = &(*pp)->next;
	return pp;
}

static const struct process *find_process(const struct symbolizer *s, int tgid)
{
	return *proc_slot((struct symbolizer *)s, tgid);
}

/* Open the file behind a mapping: map_files sees the very file mapped (even
 * deleted or replaced) while the process lives; the path is the fallback,
 * rejected when the mapped file was deleted and the path now names another. */
static int open_mapped_file(int tgid, const struct mapping *m, const char *path,
			    bool deleted, unsigned long maps_ino)
{
	char buf[PATH_MAX + 64];
	struct stat st;
	int fd;

	snprintf(buf, sizeof(buf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, tgid, m->start, m->end);
	fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	/* The process's own view of the path (another mount namespace). */
	if (snprintf(buf, sizeof(buf), "/proc/%d/root%s", tgid, path) < (int)sizeof(buf))
		fd = open(buf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && deleted && (fstat(fd, &st) || st.st_ino != maps_ino)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int cmp_mapping(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The load bias of an executable mapping of f, from the first file offset
 * it maps that an executable PT_LOAD holds (the mapping starts on a page,
 * the segment need not; the page it starts on may also hold the end of the
 * segment before, whose vaddr is a page off, so only code segments count). */
static bool mapping_bias(const struct mapping *m, const struct elf_file *f, uint64_t *bias)
{
	uint64_t len = m->end - m->start;

	for (size_t i = 0; i < f->nsegs; i++) {
		const struct elf_seg *sg = &f->segs[i];
		uint64_t off = m->pgoff > sg->offset ? m->pgoff : sg->offset;

		if (!sg->exec || !sg->filesz || off - m->pgoff >= len || off - sg->offset >= sg->filesz)
			continue;
		*bias = m->start + (off - m->pgoff) - (sg->vaddr + (off - sg->offset));
		return true;
	}
	return false;
}

/* Every mapping of a file with code gets the file and the bias of the
 * nearest executable mapping of it: one load of an ELF file has one bias,
 * and its data, relro and rodata mappings are read through it. */
static void share_code_files(struct mapping *maps, const unsigned long *inos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (maps[i].file && !mapping_bias(&maps[i], maps[i].file, &maps[i].bias))
			maps[i].file = NULL;
	for (size_t j = 0; j < n; j++) {
		const struct mapping *best = NULL;

		if (maps[j].exec || !maps[j].module)
			continue;
		for (size_t i = 0; i < n; i++)
			if (maps[i].exec && maps[i].file && maps[i].module == maps[j].module &&
			    inos[i] == inos[j] &&
			    (!best || llabs((long long)(maps[i].start - maps[j].start)) <
					      llabs((long long)(best->start - maps[j].start))))
				best = &maps[i];
		if (best) {
			maps[j].file = best->file;
			maps[j].bias = best->bias;
		}
	}
}

/* One line of /proc/PID/maps, parsed in place. */
struct maps_line {
	uint64_t start, end, pgoff;
	unsigned long ino;
	char perms[8];
	char *path;          /* "" for anonymous */
	bool deleted;
};

static bool parse_maps_line(char *line, struct maps_line *ml)
{
	static const char deleted_sfx[] = " (deleted)";
	const size_t sfx = sizeof(deleted_sfx) - 1;
	unsigned int dev_major, dev_minor;
	int path_at = -1;
	size_t len;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %lu %n", &ml->start, &ml->end,
		   ml->perms, &ml->pgoff, &dev_major, &dev_minor, &ml->ino, &path_at) < 7 ||
	    path_at < 0 || ml->end <= ml->start)
		return false;
	ml->path = line + path_at;
	len = strcspn(ml->path, "\n");
	ml->path[len] = '\0';
	ml->deleted = len > sfx && !strcmp(ml->path + len - sfx, deleted_sfx);
	if (ml->deleted)
		ml->path[len - sfx] = '\0';
	return true;
}

/* The ELF file of an executable mapping: the one of the mapping before when
 * it maps the same file, else parsed (or found in the cache). */
static struct elf_file *code_file(struct symbolizer *s, int tgid, const struct mapping *m,
				  const struct maps_line *ml, const struct mapping *prev,
				  unsigned long prev_ino)
{
	int fd;

	if (prev && prev->module == m->module && prev_ino == ml->ino && prev->file)
		return prev->file;
	fd = open_mapped_file(tgid, m, ml->path, ml->deleted, ml->ino);
	return fd >= 0 ? elf_cache_get(&s->elfs, fd, ml->path) : NULL;
}

/* Every mapping of tgid. ELF files are parsed for their executable
 * mappings only (data-only files such as locale archives are never read);
 * the other mappings of a file with code share its parse. */
static int read_maps(struct symbolizer *s, int tgid, FILE *fp, struct mapping **out, size_t *nout)
{
	struct mapping *maps = NULL;
	unsigned long *inos = NULL;
	size_t nmaps = 0, cap = 0, icap = 0, line_cap = 0;
	char *line = NULL;
	int err = 0;

	while (getline(&line, &line_cap, fp) > 0) {
		struct maps_line ml;
		struct mapping *m;

		if (!parse_maps_line(line, &ml))
			continue;
		if (grow_array((void **)&maps, &cap, nmaps + 1, sizeof(*maps)) ||
		    grow_array((void **)&inos, &icap, nmaps + 1, sizeof(*inos))) {
			err = -ENOMEM;
			break;
		}
		m = &maps[nmaps];
		*m = (struct mapping){ .start = ml.start, .end = ml.end, .pgoff = ml.pgoff,
				       .exec = strchr(ml.perms, 'x') != NULL };
		inos[nmaps++] = ml.ino;
		if (!*ml.path)
			continue; /* anonymous: heap, thread stacks, bss, JIT code */
		m->module = intern(s, ml.path);
		if (!m->module) {
			err = -ENOMEM;
			break;
		}
		if (ml.path[0] == '/' && m->exec)
			m->file = code_file(s, tgid, m, &ml, nmaps > 1 ? &maps[nmaps - 2] : NULL,
					    nmaps > 1 ? inos[nmaps - 2] : 0);
	}
	if (!err && ferror(fp))
		err = -EIO;
	if (!err)
		share_code_files(maps, inos, nmaps);
	free(line);
	free(inos);
	if (err) {
		free(maps);
		return err;
	}
	qsort(maps, nmaps, sizeof(*maps), cmp_mapping);
	*out = maps;
	*nout = nmaps;
	return 0;
}

static int append_piece(struct mapping **arr, size_t *n, size_t *cap, const struct mapping *m,
			uint64_t start, uint64_t end)
{
	if (grow_array((void **)arr, cap, *n + 1, sizeof(**arr)))
		return -ENOMEM;
	(*arr)[*n] = *m;
	(*arr)[*n].start = start;
	(*arr)[*n].end = end;
	(*arr)[*n].pgoff = m->pgoff + (start - m->start);
	(*n)++;
	return 0;
}

/* The parts of old's mappings that no mapping of cur (sorted) covers any
 * more, appended to cur, which is sorted again (the kernel merges adjacent
 * anonymous mappings, so a region unmapped since may be part of a larger
 * one that partly remains). 0 or -ENOMEM. */
static int keep_unmapped(struct mapping **cur, size_t *ncur, const struct mapping *old, size_t nold)
{
	size_t n = *ncur, cap = *ncur, j = 0;

	/* a process that maps and unmaps all day would grow this without end */
	if (nold > *ncur + KEPT_MAPPINGS_MAX)
		return 0;
	for (size_t i = 0; i < nold; i++) {
		uint64_t at = old[i].start;

		while (j < *ncur && (*cur)[j].end <= at)
			j++;
		for (size_t k = j; at < old[i].end; k++) {
			uint64_t next = k < *ncur && (*cur)[k].start < old[i].end ? (*cur)[k].start : old[i].end;

			if (next > at && append_piece(cur, &n, &cap, &old[i], at, next))
				return -ENOMEM;
			if (k >= *ncur || (*cur)[k].start >= old[i].end)
				break;
			if ((*cur)[k].end > at)
				at = (*cur)[k].end;
		}
	}
	if (n != *ncur)
		qsort(*cur, n, sizeof(**cur), cmp_mapping);
	*ncur = n;
	return 0;
}

static int snapshot_process(struct symbolizer *s, int tgid, bool keep_old)
{
	struct mapping *maps = NULL;
	size_t nmaps = 0;
	struct process **pp, *p;
	char fname[64];
	struct stat st;
	int err;
	FILE *fp;

	if (!s || tgid <= 0)
		return -EINVAL;
	snprintf(fname, sizeof(fname), "/proc/%d/maps", tgid);
	fp = fopen(fname, "re");
	if (!fp)
		return errno == ENOENT ? -ESRCH : -errno;
	err = read_maps(s, tgid, fp, &maps, &nmaps);
	fclose(fp);
	if (err)
		return err;
	pp = proc_slot(s, tgid);
	p = *pp;
	if (p && keep_old && keep_unmapped(&maps, &nmaps, p->maps, p->nmaps)) {
		free(maps);
		return -ENOMEM;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p) {
			free(maps);
			return -ENOMEM;
		}
		p->tgid = tgid;
		*pp = p;
		s->stats.processes++;
	}
	snprintf(fname, sizeof(fname), "/proc/%d", tgid);
	if (!stat(fname, &st))
		p->uid = st.st_uid;
	free(p->maps);
	p->maps = maps;
	p->nmaps = nmaps;
	return 0;
}

int symbolizer_add_process(struct symbolizer *s, int tgid)
{
	return snapshot_process(s, tgid, false);
}

int symbolizer_update_process(struct symbolizer *s, int tgid)
{
	return snapshot_process(s, tgid, true);
}

static void process_free(struct process *p)
{
	free(p->maps);
	perf_map_free(&p->jit);
	free(p);
}

void symbolizer_forget_process(struct symbolizer *s, int tgid)
{
	struct process **pp, *p;

	if (!s)
		return;
	pp = proc_slot(s, tgid);
	p = *pp;
	if (!p)
		return;
	*pp = p->next;
	s->stats.jit_syms -= p->jit.n;
	process_free(p);
	s->stats.processes--;
}

int symbolizer_load_perf_map(struct symbolizer *s, int tgid)
{
	struct process *p;
	char path[96];
	size_t before;
	int err;

	if (!s)
		return -EINVAL;
	p = *proc_slot(s, tgid);
	if (!p)
		return -ESRCH;
	before = p->jit.n;
	/* the process's own /tmp while it lives (a container's), else ours */
	snprintf(path, sizeof(path), "/proc/%d/root/tmp/perf-%d.map", tgid, tgid);
	err = perf_map_load(&p->jit, path, p->uid);
	if (err == -ENOENT || err == -ESRCH || err == -ENOTDIR) {
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", tgid);
		err = perf_map_load(&p->jit, path, p->uid);
	}
	s->stats.jit_syms += p->jit.n - before;
	return err;
}

int symbolizer_fetch_debuginfo(struct symbolizer *s)
{
	struct sym_debuginfod *d;
	int added = 0;

	if (!s)
		return 0;
	for (size_t b = 0; b < ELF_FILE_BUCKETS; b++)
		for (struct elf_file *f = s->elfs.files[b]; f; f = f->next)
			if (f->no_symtab && f->build_id[0])
				goto fetch;
	return 0;
fetch:
	d = sym_debuginfod_open();
	if (!d)
		return 0;
	for (size_t b = 0; b < ELF_FILE_BUCKETS; b++) {
		for (struct elf_file *f = s->elfs.files[b]; f; f = f->next) {
			int fd;

			if (!f->no_symtab || !f->build_id[0])
				continue;
			f->no_symtab = false; /* asked once, found or not */
			fd = sym_debuginfod_find(d, f->build_id);
			if (fd < 0)
				continue;
			if (!elf_file_add_debug(f, fd))
				added++;
			close(fd);
		}
	}
	sym_debuginfod_close(d);
	s->stats.debuginfod += added;
	return added;
}

/* ---- lookups ------------------------------------------------------------ */

static const struct mapping *find_mapping(const struct process *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < p->maps[mid].start)
			hi = mid;
		else if (addr >= p->maps[mid].end)
			lo = mid + 1;
		else
			return &p->maps[mid];
	}
	return NULL;
}

/* JIT code: in an anonymous mapping, or in one mapped after the snapshot. */
static int jit_frame(const struct process *p, const struct mapping *m, uint64_t addr,
		     struct sym_frame *out)
{
	const char *name = perf_map_find(&p->jit, addr, &out->offset);

	if (name) {
		out->name = name;
		return 0;
	}
	return m && m->exec ? -ENXIO : -EFAULT;
}

int symbolize_user(struct symbolizer *s, int tgid, uint64_t addr, struct sym_frame *out)
{
	const struct process *p;
	const struct mapping *m;
	const struct elf_sym *sym;
	uint64_t file_off, vaddr;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	p = find_process(s, tgid);
	if (!p)
		return -ESRCH;
	m = find_mapping(p, addr);
	if (!m || !m->module)
		return jit_frame(p, m, addr, out);
	if (!m->exec)
		return -EFAULT;
	file_off = addr - m->start + m->pgoff;
	out->module = m->module;
	out->module_off = file_off;
	out->map_start = m->start;
	out->map_end = m->end;
	out->map_pgoff = m->pgoff;
	if (m->file && m->file->build_id[0])
		out->build_id = m->file->build_id;
	if (!m->file || !elf_file_off_to_vaddr(m->file, file_off, &vaddr))
		return -ENOENT;
	sym = elf_symtab_find(&m->file->funcs, vaddr);
	if (!sym)
		return -ENOENT;
	out->name = shown_name(s, sym->name);
	out->offset = vaddr - sym->start;
	return 0;
}

/* The ELF image an address of mapping i lies in: its own file's, or for an
 * anonymous mapping the bss of a file mapped just before it. */
static const struct mapping *image_of(const struct process *p, size_t i, uint64_t addr)
{
	if (p->maps[i].file)
		return &p->maps[i];
	if (p->maps[i].module)
		return NULL;
	for (size_t k = 1; k <= BSS_LOOKBACK && k <= i; k++) {
		const struct mapping *m = &p->maps[i - k];

		if (m->file && elf_file_has_vaddr(m->file, addr - m->bias))
			return m;
	}
	return NULL;
}

static void data_in_image(struct symbolizer *s, const struct mapping *m, uint64_t addr,
			  struct sym_data *out)
{
	uint64_t vaddr = addr - m->bias;
	const struct elf_sym *obj = elf_symtab_find(&m->file->objs, vaddr);

	out->region = SYM_REGION_IMAGE;
	out->module = m->module;
	out->module_off = vaddr;
	if (!obj)
		return;
	out->name = shown_name(s, obj->name);
	out->offset = vaddr - obj->start;
	if (m->file->cpython && !strcmp(obj->name, "_PyRuntime"))
		out->lock = cpython_lock_at(m->file->cpython, out->offset);
}

int symbolize_data(struct symbolizer *s, int tgid, uint64_t addr, struct sym_data *out)
{
	const struct process *p;
	const struct mapping *m, *img;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	p = find_process(s, tgid);
	if (!p)
		return -ESRCH;
	m = find_mapping(p, addr);
	if (!m)
		return -EFAULT;
	img = image_of(p, (size_t)(m - p->maps), addr);
	if (img) {
		data_in_image(s, img, addr, out);
	} else if (!m->module || !strcmp(m->module, "[heap]")) {
		out->region = SYM_REGION_HEAP;
	} else if (!strncmp(m->module, "[stack", 6)) {
		out->region = SYM_REGION_STACK;
	} else {
		out->region = SYM_REGION_FILE;
		out->module = m->module;
		out->module_off = addr - m->start + m->pgoff;
	}
	return 0;
}

int symbolizer_cpython(struct symbolizer *s, int tgid, struct sym_cpython *out)
{
	const struct process *p;

	memset(out, 0, sizeof(*out));
	p = s ? find_process(s, tgid) : NULL;
	if (!p)
		return -ESRCH;
	for (size_t i = 0; i < p->nmaps; i++) {
		const struct mapping *m = &p->maps[i];

		if (!m->exec || !m->file || !m->file->py_runtime)
			continue;
		out->layout = m->file->cpython;
		out->runtime = m->file->py_runtime + m->bias;
		out->code_type = m->file->py_code_type ? m->file->py_code_type + m->bias : 0;
		out->version = m->file->py_version;
		out->module = m->module;
		return 0;
	}
	return -ENOENT;
}

/* ---- kernel symbols ----------------------------------------------------- */

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return y->rank - x->rank;
}

/* The running kernel's build-id: /sys/kernel/notes holds its ELF notes
 * (headers of 4-byte words, name and description padded to 4). */
static void kernel_read_build_id(char *hex, size_t len)
{
	unsigned char buf[4096];
	size_t n = 0, off = 0;
	int fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);

	hex[0] = '\0';
	if (fd < 0)
		return;
	ssize_t r = read(fd, buf, sizeof(buf));
	close(fd);
	if (r > 0)
		n = r;
	while (off + 12 <= n) {
		uint32_t namesz, descsz, type;

		memcpy(&namesz, buf + off, 4);
		memcpy(&descsz, buf + off + 4, 4);
		memcpy(&type, buf + off + 8, 4);
		size_t name_at = off + 12, desc_at = name_at + ((namesz + 3) & ~3u);
		size_t next = desc_at + ((descsz + 3) & ~3u);

		if (next > n || next <= off)
			return;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(buf + name_at, "GNU", 4) &&
		    descsz && descsz * 2 < len) {
			for (uint32_t i = 0; i < descsz; i++)
				snprintf(hex + 2 * i, 3, "%02x", buf[desc_at + i]);
			return;
		}
		off = next;
	}
}

static int kernel_load(struct symbolizer *s)
{
	struct name_pool names = { 0 };
	struct ksym *syms = NULL;
	size_t n = 0, cap = 0, i, kept;
	char *line = NULL;
	size_t line_cap = 0;
	bool any_addr = false;
	int err = 0;
	FILE *fp = fopen("/proc/kallsyms", "re");

	if (!fp)
		return -errno;
	while (getline(&line, &line_cap, fp) > 0) {
		char *end, *name, *rest, *mod;
		uint64_t addr = strtoull(line, &end, 16);
		char type;
		long off;

		if (end == line || *end != ' ')
			continue;
		type = end[1];
		if (!type || end[2] != ' ')
			continue;
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		if (addr)
			any_addr = true;
		name = end + 3;
		rest = name + strcspn(name, "\t \n");
		mod = *rest == '\t' || *rest == ' ' ? strchr(rest + 1, '[') : NULL;
		*rest = '\0';
		if (mod)
			mod[strcspn(mod, "\n")] = '\0'; /* "[ext4]" */
		if (!*name)
			continue;
		if (grow_array((void **)&syms, &cap, n + 1, sizeof(*syms))) {
			err = -ENOMEM;
			break;
		}
		off = name_pool_add(&names, name);
		if (off < 0) {
			err = (int)off;
			break;
		}
		syms[n].addr = addr;
		syms[n].name = (const char *)(uintptr_t)off;
		syms[n].module = kernel_module;
		syms[n].rank = (type == 'T') * 2 + (type == 'W');
		if (mod) {
			syms[n].module = intern(s, mod);
			if (!syms[n].module) {
				err = -ENOMEM;
				break;
			}
		}
		n++;
	}
	free(line);
	fclose(fp);
	if (!err && n && !any_addr)
		err = -EPERM;
	if (!err && !n)
		err = -ENODATA;
	if (err) {
		free(syms);
		free(names.buf);
		return err;
	}
	qsort(syms, n, sizeof(*syms), cmp_ksym);
	for (i = 0, kept = 0; i < n; i++) {
		if (kept && syms[kept - 1].addr == syms[i].addr)
			continue; /* alias: the best-ranked one sorted first */
		syms[kept] = syms[i];
		syms[kept].name = names.buf + (uintptr_t)syms[i].name;
		kept++;
	}
	kernel_read_build_id(s->kernel_build_id, sizeof(s->kernel_build_id));
	s->ksyms = syms;
	s->nksyms = kept;
	s->knames = names.buf;
	s->stats.kernel_syms = kept;
	return 0;
}

int symbolize_kernel(struct symbolizer *s, uint64_t addr, struct sym_frame *out)
{
	size_t lo = 0, hi;
	const struct ksym *k;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	if (!s->kernel_loaded) {
		s->kernel_err = kernel_load(s);
		s->kernel_loaded = true;
	}
	if (s->kernel_err)
		return s->kernel_err;
	hi = s->nksyms;
	while (lo < hi) { /* first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (s->ksyms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return -EFAULT;
	k = &s->ksyms[lo - 1];
	if (addr - k->addr >= KSYM_MAX_SPAN)
		return -EFAULT;
	out->name = k->name;
	out->offset = addr - k->addr;
	out->module = k->module;
	out->module_off = addr;
	if (k->module == kernel_module && s->kernel_build_id[0])
		out->build_id = s->kernel_build_id;
	return 0;
}

/* ---- formatting and lifetime -------------------------------------------- */

/* ';' separates frames in a folded stack, newlines separate stacks. */
static void folded_safe(char *buf)
{
	for (char *c = buf; *c; c++)
		if (*c == ';' || *c == '\n')
			*c = '_';
}

static const char *base_name(const char *path)
{
	const char *base = strrchr(path, '/');

	return base && base[1] ? base + 1 : path;
}

const char *sym_frame_format(const struct sym_frame *f, bool kernel, char *buf, size_t len)
{
	const char *suffix = kernel ? "_[k]" : "";

	if (!buf || !len)
		return buf;
	if (f && f->name)
		snprintf(buf, len, "%s%s", f->name, suffix);
	else if (f && f->module)
		snprintf(buf, len, "%s+0x%" PRIx64 "%s", base_name(f->module), f->module_off, suffix);
	else
		snprintf(buf, len, "[unknown]%s", suffix);
	folded_safe(buf);
	return buf;
}

const char *sym_data_format(const struct sym_data *d, char *buf, size_t len)
{
	if (!buf || !len)
		return buf;
	buf[0] = '\0';
	if (!d)
		return buf;
	if (d->name && d->offset)
		snprintf(buf, len, "%s+0x%" PRIx64, d->name, d->offset);
	else if (d->name)
		snprintf(buf, len, "%s", d->name);
	else if (d->region == SYM_REGION_HEAP)
		snprintf(buf, len, "heap");
	else if (d->region == SYM_REGION_STACK)
		snprintf(buf, len, "stack");
	else if (d->module)
		snprintf(buf, len, "%s+0x%" PRIx64, base_name(d->module), d->module_off);
	folded_safe(buf);
	return buf;
}

void symbolizer_stats(const struct symbolizer *s, struct symbolizer_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	*out = s->stats;
	out->elf_parsed = s->elfs.parsed;
	out->elf_cache_hits = s->elfs.hits;
}

struct symbolizer *symbolizer_new(void)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	return calloc(1, sizeof(struct symbolizer));
}

void symbolizer_free(struct symbolizer *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < PROC_BUCKETS; i++) {
		while (s->procs[i]) {
			struct process *p = s->procs[i];

			s->procs[i] = p->next;
			process_free(p);
		}
	}
	elf_cache_free(&s->elfs);
	for (i = 0; i < STR_BUCKETS; i++) {
		while (s->strings[i]) {
			struct interned *it = s->strings[i];

			s->strings[i] = it->next;
			free(it);
		}
	}
	for (i = 0; i < DEMANGLE_BUCKETS; i++) {
		while (s->demangled[i]) {
			struct demangled *d = s->demangled[i];

			s->demangled[i] = d->next;
			free(d);
		}
	}
	free(s->ksyms);
	free(s->knames);
	free(s);
}
