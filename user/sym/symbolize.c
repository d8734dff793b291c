/* user/symbolize.c: resolve user and kernel stack addresses to function names.
 *
 * A process snapshot is the list of executable mappings from /proc/TGID/maps,
 * each pointing at a cached, already parsed ELF file: parsing happens when the
 * snapshot is taken (through /proc/TGID/map_files while the process lives, so
 * deleted or replaced files still resolve), which is why a process can be
 * symbolized after it exited. ELF files are cached by (dev, inode, size,
 * mtime) and parsed once into a sorted array of function symbols taken from
 * .symtab and .dynsym, or from a separate debug file (build-id or
 * .gnu_debuglink under /usr/lib/debug) when the file is stripped. A runtime
 * address becomes an ELF virtual address through the mapping's start and file
 * offset and the PT_LOAD segment holding that offset, which covers PIE,
 * shared libraries and ET_EXEC alike. Kernel addresses use /proc/kallsyms,
 * loaded once on first use. Every string handed out lives in storage owned by
 * the symbolizer and freed only by symbolizer_free.
 */
#include "sym/symbolize.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROC_BUCKETS 1021
#define FILE_BUCKETS 509
#define STR_BUCKETS 1021
/* An address this far past the nearest kernel text symbol lies in a gap
 * after a text region (past _etext, between modules), not in a function. */
#define KSYM_MAX_SPAN (1u << 20)
/* How far back a lookup walks for a symbol enclosing a smaller one. */
#define NESTED_LOOKBACK 16
#define DEBUG_DIR "/usr/lib/debug"

struct sym {
	uint64_t start, end; /* [start, end) in ELF virtual addresses */
	const char *name;
};

struct elf_seg {
	uint64_t offset, vaddr, filesz;
	bool exec;
};

struct elf_file {
	struct elf_file *next; /* cache bucket chain */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct sym *syms;
	size_t nsyms;
	char *names; /* backs syms[].name */
	struct elf_seg *segs;
	size_t nsegs;
	char build_id[72];   /* lowercase hex, "" if none */
};

struct mapping {
	uint64_t start, end, pgoff;
	const char *module;    /* interned path or "[vdso]"-like name; NULL: anonymous */
	struct elf_file *file; /* NULL: not a readable ELF file */
};

struct process {
	struct process *next;
	int tgid;
	struct mapping *maps;
	size_t nmaps;
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

struct symbolizer {
	struct process *procs[PROC_BUCKETS];
	struct elf_file *files[FILE_BUCKETS];
	struct interned *strings[STR_BUCKETS];
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

/* A growable byte pool of NUL-terminated names, referenced by offset while
 * it grows. */
struct name_pool {
	char *buf;
	size_t len, cap;
};

static long pool_add(struct name_pool *p, const char *name)
{
	size_t n = strlen(name) + 1;

	if (p->len + n > p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4096;
		char *buf;

		while (cap < p->len + n)
			cap *= 2;
		buf = realloc(p->buf, cap);
		if (!buf)
			return -ENOMEM;
		p->buf = buf;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, name, n);
	p->len += n;
	return (long)(p->len - n);
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *narr;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	narr = realloc(*arr, ncap * elem);
	if (!narr)
		return -ENOMEM;
	*arr = narr;
	*cap = ncap;
	return 0;
}

/* ---- ELF symbol tables ---------------------------------------------------- */

struct raw_sym {
	uint64_t start, size, sect_end;
	size_t name_off;
	int rank; /* higher wins among aliases at one address */
};

struct sym_builder {
	struct raw_sym *raw;
	size_t n, cap;
	struct name_pool names;
	int err;
};

static int sym_rank(const GElf_Sym *sym, const char *name, bool from_symtab)
{
	int bind = GELF_ST_BIND(sym->st_info);
	int rank = bind == STB_GLOBAL ? 30 : bind == STB_WEAK ? 20 : 10;

	/* Prefer "malloc" over "__libc_malloc", sized over unsized. */
	if (name[0] != '_')
		rank += 4;
	if (sym->st_size)
		rank += 2;
	if (from_symtab)
		rank += 1;
	return rank;
}

/* Compressed sections (SHF_COMPRESSED) must be inflated before their data or
 * strings are read; libelf does it in place with zlib. */
static Elf_Scn *section_ready(Elf_Scn *scn, GElf_Shdr *sh)
{
	if (!scn || !gelf_getshdr(scn, sh))
		return NULL;
	if (sh->sh_flags & SHF_COMPRESSED) {
		if (elf_compress(scn, 0, 0) < 0 || !gelf_getshdr(scn, sh))
			return NULL;
	}
	return scn;
}

static void collect_symbols(Elf *elf, Elf_Scn *scn, struct sym_builder *b, bool from_symtab)
{
	GElf_Shdr sh, strsh;
	Elf_Data *data;
	size_t n, i, symsz = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);

	if (!section_ready(scn, &sh) || !symsz)
		return;
	if (!section_ready(elf_getscn(elf, sh.sh_link), &strsh))
		return;
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf)
		return;
	n = data->d_size / symsz;
	for (i = 1; i < n && !b->err; i++) {
		GElf_Sym sym;
		GElf_Shdr secsh;
		const char *name;
		int type;
		long off;
		uint64_t sect_end = UINT64_MAX;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		if (sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		if (sym.st_shndx < SHN_LORESERVE &&
		    gelf_getshdr(elf_getscn(elf, sym.st_shndx), &secsh) &&
		    (secsh.sh_flags & SHF_ALLOC) && secsh.sh_size)
			sect_end = secsh.sh_addr + secsh.sh_size;
		if (grow((void **)&b->raw, &b->cap, b->n + 1, sizeof(*b->raw))) {
			b->err = -ENOMEM;
			return;
		}
		off = pool_add(&b->names, name);
		if (off < 0) {
			b->err = (int)off;
			return;
		}
		b->raw[b->n++] = (struct raw_sym){
			.start = sym.st_value,
			.size = sym.st_size,
			.sect_end = sect_end,
			.name_off = (size_t)off,
			.rank = sym_rank(&sym, name, from_symtab),
		};
	}
}

/* Adds the symbols of every section of type sh_type; returns how many. */
static size_t collect_type(Elf *elf, Elf64_Word sh_type, struct sym_builder *b)
{
	Elf_Scn *scn = NULL;
	size_t before = b->n;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == sh_type)
			collect_symbols(elf, scn, b, sh_type == SHT_SYMTAB);
	return b->n - before;
}

static int cmp_raw(const void *a, const void *b)
{
	const struct raw_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return y->rank - x->rank;
}

/* Sort, keep the best-ranked alias per address, and give size-0 symbols the
 * distance to the next symbol (bounded by their section). */
static int build_symbols(struct elf_file *f, struct sym_builder *b)
{
	size_t i, n = 0;

	if (!b->n)
		return 0;
	qsort(b->raw, b->n, sizeof(*b->raw), cmp_raw);
	f->syms = calloc(b->n, sizeof(*f->syms));
	if (!f->syms)
		return -ENOMEM;
	for (i = 0; i < b->n; i++) {
		struct raw_sym *r = &b->raw[i];
		uint64_t size = r->size;
		size_t j;

		if (i && r->start == b->raw[i - 1].start)
			continue;
		for (j = i + 1; j < b->n && b->raw[j].start == r->start; j++)
			if (b->raw[j].size > size)
				size = b->raw[j].size;
		if (!size) {
			uint64_t end = j < b->n ? b->raw[j].start : UINT64_MAX;

			if (r->sect_end > r->start && r->sect_end < end)
				end = r->sect_end;
			size = end == UINT64_MAX ? 1 : end - r->start;
		}
		f->syms[n].start = r->start;
		f->syms[n].end = r->start + size < r->start ? UINT64_MAX : r->start + size;
		f->syms[n].name = (const char *)(uintptr_t)r->name_off;
		n++;
	}
	f->names = b->names.buf;
	b->names.buf = NULL;
	for (i = 0; i < n; i++)
		f->syms[i].name = f->names + (uintptr_t)f->syms[i].name;
	f->nsyms = n;
	return 0;
}

static const struct sym *find_symbol(const struct elf_file *f, uint64_t vaddr)
{
	size_t lo = 0, hi = f->nsyms, i, k;

	while (lo < hi) { /* first symbol with start > vaddr */
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo, k = 0; i > 0 && k < NESTED_LOOKBACK; i--, k++)
		if (vaddr < f->syms[i - 1].end)
			return &f->syms[i - 1];
	return NULL;
}

static bool file_off_to_vaddr(const struct elf_file *f, uint64_t off, uint64_t *vaddr)
{
	const struct elf_seg *best = NULL;
	size_t i;

	for (i = 0; i < f->nsegs; i++) {
		const struct elf_seg *sg = &f->segs[i];

		if (off < sg->offset || off - sg->offset >= sg->filesz)
			continue;
		if (!best || (sg->exec && !best->exec))
			best = sg;
	}
	if (!best)
		return false;
	*vaddr = off - best->offset + best->vaddr;
	return true;
}

static int read_segments(Elf *elf, struct elf_file *f)
{
	size_t n, i;

	if (elf_getphdrnum(elf, &n) || !n)
		return 0;
	f->segs = calloc(n, sizeof(*f->segs));
	if (!f->segs)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		f->segs[f->nsegs++] = (struct elf_seg){
			.offset = ph.p_offset,
			.vaddr = ph.p_vaddr,
			.filesz = ph.p_filesz,
			.exec = ph.p_flags & PF_X,
		};
	}
	return 0;
}

/* ---- separate debug files ----------------------------------------------- */

/* The GNU build-id note as lowercase hex, or false. */
static bool read_build_id(Elf *elf, char *hex, size_t len)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off, next;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		while ((next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			off = next;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((char *)data->d_buf + name_off, "GNU", 4) &&
			    nh.n_descsz > 0 && nh.n_descsz * 2 < len) {
				const unsigned char *id = (unsigned char *)data->d_buf + desc_off;
				size_t i;

				for (i = 0; i < nh.n_descsz; i++)
					snprintf(hex + 2 * i, 3, "%02x", id[i]);
				return true;
			}
		}
	}
	return false;
}

static const char *read_debuglink(Elf *elf)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".gnu_debuglink"))
			continue;
		if (!section_ready(scn, &sh))
			return NULL;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_size || !memchr(data->d_buf, 0, data->d_size))
			return NULL;
		return data->d_buf;
	}
	return NULL;
}

static bool has_symtab(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB && sh.sh_size)
			return true;
	return false;
}

/* Open candidate as a debug file for the binary (dev, ino, build_id):
 * it must be another file, carry a .symtab and, when both have a build-id,
 * the same one. */
static Elf *open_debug_candidate(const char *candidate, const struct elf_file *f,
				 const char *build_id, int *fd_out)
{
	char other_id[128];
	struct stat st;
	Elf *elf;
	int fd = open(candidate, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_dev == f->dev && st.st_ino == f->ino))
		goto fail;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		goto fail;
	if (elf_kind(elf) == ELF_K_ELF && has_symtab(elf) &&
	    (!build_id || !read_build_id(elf, other_id, sizeof(other_id)) ||
	     !strcmp(build_id, other_id))) {
		*fd_out = fd;
		return elf;
	}
	elf_end(elf);
fail:
	close(fd);
	return NULL;
}

static Elf *open_debug_file(Elf *elf, const struct elf_file *f, const char *path, int *fd_out)
{
	char build_id[128], candidate[PATH_MAX], dir[PATH_MAX];
	const char *link, *slash;
	bool have_id = read_build_id(elf, build_id, sizeof(build_id));
	Elf *dbg;

	if (have_id && strlen(build_id) > 2) {
		snprintf(candidate, sizeof(candidate), DEBUG_DIR "/.build-id/%.2s/%s.debug",
			 build_id, build_id + 2);
		dbg = open_debug_candidate(candidate, f, build_id, fd_out);
		if (dbg)
			return dbg;
	}
	link = read_debuglink(elf);
	slash = path ? strrchr(path, '/') : NULL;
	if (!link || !slash || strchr(link, '/'))
		return NULL;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	/* gdb's order: next to the binary, in .debug/, under /usr/lib/debug. */
	static const char *const where[][2] = { { "", "/" }, { "", "/.debug/" }, { DEBUG_DIR, "/" } };
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		if (snprintf(candidate, sizeof(candidate), "%s%s%s%s", where[i][0], dir, where[i][1],
			     link) >= (int)sizeof(candidate))
			continue;
		dbg = open_debug_candidate(candidate, f, have_id ? build_id : NULL, fd_out);
		if (dbg)
			return dbg;
	}
	return NULL;
}

/* Parse fd into f. A file that is not ELF or has no symbols still yields a
 * usable (empty) entry: its frames resolve to module+offset. */
static int elf_file_parse(struct elf_file *f, int fd, const char *path)
{
	struct sym_builder b = { 0 };
	Elf *elf, *dbg = NULL;
	int dbg_fd = -1, err = 0;

	/* ELF_C_READ, not _MMAP: sections are pread on demand (only the symbol
	 * tables), and a file truncated under us cannot SIGBUS the profiler. */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return 0;
	if (elf_kind(elf) != ELF_K_ELF)
		goto out;
	err = read_segments(elf, f);
	if (err)
		goto out;
	if (!read_build_id(elf, f->build_id, sizeof(f->build_id)))
		f->build_id[0] = '\0';
	if (!collect_type(elf, SHT_SYMTAB, &b)) {
		/* Stripped: the debug file's .symtab, plus .dynsym below. */
		dbg = open_debug_file(elf, f, path, &dbg_fd);
		if (dbg)
			collect_type(dbg, SHT_SYMTAB, &b);
	}
	collect_type(elf, SHT_DYNSYM, &b);
	err = b.err ? b.err : build_symbols(f, &b);
out:
	if (dbg)
		elf_end(dbg);
	if (dbg_fd >= 0)
		close(dbg_fd);
	elf_end(elf);
	free(b.raw);
	free(b.names.buf);
	return err;
}

static void elf_file_free(struct elf_file *f)
{
	free(f->syms);
	free(f->names);
	free(f->segs);
	free(f);
}

/* The cached parse of the file open at fd, parsing it on first sight. Takes
 * ownership of fd. */
static struct elf_file *elf_file_get(struct symbolizer *s, int fd, const char *path)
{
	struct stat st;
	struct elf_file *f;
	size_t b;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	b = (size_t)(st.st_dev * 31 + st.st_ino) % FILE_BUCKETS;
	for (f = s->files[b]; f; f = f->next) {
		if (f->dev == st.st_dev && f->ino == st.st_ino && f->size == st.st_size &&
		    f->mtime.tv_sec == st.st_mtim.tv_sec && f->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			s->stats.elf_cache_hits++;
			close(fd);
			return f;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return NULL;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	s->stats.elf_parsed++;
	if (elf_file_parse(f, fd, path)) {
		close(fd);
		elf_file_free(f);
		return NULL;
	}
	close(fd);
	f->next = s->files[b];
	s->files[b] = f;
	return f;
}

/* ---- process snapshots -------------------------------------------------- */

static struct process **proc_slot(struct symbolizer *s, int tgid)
{
	struct process **pp = &s->procs[(unsigned)tgid % PROC_BUCKETS];

	while (*pp && (*pp)->tgid != tgid)
		pp = &(*pp)->next;
	return pp;
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

int symbolizer_add_process(struct symbolizer *s, int tgid)
{
	static const char deleted_sfx[] = " (deleted)";
	struct mapping *maps = NULL;
	size_t nmaps = 0, cap = 0, prev = SIZE_MAX;
	struct process **pp, *p;
	char fname[64], *line = NULL;
	size_t line_cap = 0;
	unsigned long prev_ino = 0;
	int err = 0;
	FILE *fp;

	if (!s || tgid <= 0)
		return -EINVAL;
	snprintf(fname, sizeof(fname), "/proc/%d/maps", tgid);
	fp = fopen(fname, "re");
	if (!fp)
		return errno == ENOENT ? -ESRCH : -errno;
	while (getline(&line, &line_cap, fp) > 0) {
		uint64_t start, end, pgoff;
		unsigned int dev_major, dev_minor;
		unsigned long ino;
		char perms[8], *path;
		int path_at = -1;
		size_t len;
		bool deleted = false;
		struct mapping *m;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %lu %n", &start, &end,
			   perms, &pgoff, &dev_major, &dev_minor, &ino, &path_at) < 7 ||
		    path_at < 0)
			continue;
		if (!strchr(perms, 'x') || end <= start)
			continue;
		path = line + path_at;
		len = strcspn(path, "\n");
		path[len] = '\0';
		if (len > sizeof(deleted_sfx) - 1 &&
		    !strcmp(path + len - (sizeof(deleted_sfx) - 1), deleted_sfx)) {
			path[len - (sizeof(deleted_sfx) - 1)] = '\0';
			deleted = true;
		}
		if (grow((void **)&maps, &cap, nmaps + 1, sizeof(*maps))) {
			err = -ENOMEM;
			break;
		}
		m = &maps[nmaps++];
		*m = (struct mapping){ .start = start, .end = end, .pgoff = pgoff };
		if (!*path)
			continue; /* anonymous: JIT code or similar */
		m->module = intern(s, path);
		if (!m->module) {
			err = -ENOMEM;
			break;
		}
		if (path[0] != '/')
			continue; /* [vdso], [vsyscall]: no file behind */
		if (prev != SIZE_MAX && maps[prev].module == m->module && prev_ino == ino) {
			m->file = maps[prev].file; /* another executable mapping of one file */
		} else {
			int fd = open_mapped_file(tgid, m, path, deleted, ino);

			m->file = fd >= 0 ? elf_file_get(s, fd, path) : NULL;
		}
		prev = nmaps - 1;
		prev_ino = ino;
	}
	if (!err && ferror(fp))
		err = -EIO;
	free(line);
	fclose(fp);
	if (err) {
		free(maps);
		return err;
	}
	qsort(maps, nmaps, sizeof(*maps), cmp_mapping);

	pp = proc_slot(s, tgid);
	p = *pp;
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
	free(p->maps);
	p->maps = maps;
	p->nmaps = nmaps;
	return 0;
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
	free(p->maps);
	free(p);
	s->stats.processes--;
}

int symbolize_user(struct symbolizer *s, int tgid, uint64_t addr, struct sym_frame *out)
{
	const struct process *p;
	const struct mapping *m = NULL;
	const struct sym *sym;
	size_t lo = 0, hi;
	uint64_t file_off, vaddr;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	p = *proc_slot(s, tgid);
	if (!p)
		return -ESRCH;
	hi = p->nmaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < p->maps[mid].start) {
			hi = mid;
		} else if (addr >= p->maps[mid].end) {
			lo = mid + 1;
		} else {
			m = &p->maps[mid];
			break;
		}
	}
	if (!m)
		return -EFAULT;
	if (!m->module)
		return -ENXIO;
	file_off = addr - m->start + m->pgoff;
	out->module = m->module;
	out->module_off = file_off;
	out->map_start = m->start;
	out->map_end = m->end;
	out->map_pgoff = m->pgoff;
	if (m->file && m->file->build_id[0])
		out->build_id = m->file->build_id;
	if (!m->file || !file_off_to_vaddr(m->file, file_off, &vaddr))
		return -ENOENT;
	sym = find_symbol(m->file, vaddr);
	if (!sym)
		return -ENOENT;
	out->name = sym->name;
	out->offset = vaddr - sym->start;
	return 0;
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
		if (grow((void **)&syms, &cap, n + 1, sizeof(*syms))) {
			err = -ENOMEM;
			break;
		}
		off = pool_add(&names, name);
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

const char *sym_frame_format(const struct sym_frame *f, bool kernel, char *buf, size_t len)
{
	const char *suffix = kernel ? "_[k]" : "";
	char *c;

	if (!buf || !len)
		return buf;
	if (f && f->name) {
		snprintf(buf, len, "%s%s", f->name, suffix);
	} else if (f && f->module) {
		const char *base = strrchr(f->module, '/');

		base = base && base[1] ? base + 1 : f->module;
		snprintf(buf, len, "%s+0x%" PRIx64 "%s", base, f->module_off, suffix);
	} else {
		snprintf(buf, len, "[unknown]%s", suffix);
	}
	/* ';' separates frames in a folded stack, newlines separate stacks. */
	for (c = buf; *c; c++)
		if (*c == ';' || *c == '\n')
			*c = '_';
	return buf;
}

void symbolizer_stats(const struct symbolizer *s, struct symbolizer_stats *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (s)
		*out = s->stats;
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
			free(p->maps);
			free(p);
		}
	}
	for (i = 0; i < FILE_BUCKETS; i++) {
		while (s->files[i]) {
			struct elf_file *f = s->files[i];

			s->files[i] = f->next;
			elf_file_free(f);
		}
	}
	for (i = 0; i < STR_BUCKETS; i++) {
		while (s->strings[i]) {
			struct interned *it = s->strings[i];

			s->strings[i] = it->next;
			free(it);
		}
	}
	free(s->ksyms);
	free(s->knames);
	free(s);
}
