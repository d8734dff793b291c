/* user/sym/elf_syms.c: ELF files parsed into sorted function and data-object
 * symbols, with their PT_LOAD segments, a separate debug file when stripped,
 * and whether they hold a CPython runtime of a known layout (see
 * elf_syms.h). */
#include "sym/elf_syms.h"
#include "sym/cpython.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How far back a lookup walks for a symbol enclosing a smaller one. */
#define NESTED_LOOKBACK 16
#define DEBUG_DIR "/usr/lib/debug"

long name_pool_add(struct name_pool *p, const char *name)
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

int grow_array(void **arr, size_t *cap, size_t need, size_t elem)
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

/* ---- symbol tables -------------------------------------------------------- */

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

/* Both tables of one file, and the two symbols that identify a CPython
 * runtime when the file exports them (st_size 0: not seen), with the type
 * its code objects have. */
struct builders {
	struct sym_builder funcs, objs;
	GElf_Sym py_runtime, py_version, py_code_type;
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

static int builder_add(struct sym_builder *b, uint64_t start, uint64_t size, uint64_t sect_end,
		       const char *name, int rank)
{
	char unversioned[512];
	const char *at = strchr(name, '@');
	long off;

	/* "pthread_cond_signal@@GLIBC_2.3.2" in a .symtab: the version is
	 * not part of the function's name */
	if (at && at > name && (size_t)(at - name) < sizeof(unversioned)) {
		snprintf(unversioned, sizeof(unversioned), "%.*s", (int)(at - name), name);
		name = unversioned;
	}
	if (grow_array((void **)&b->raw, &b->cap, b->n + 1, sizeof(*b->raw)))
		return b->err = -ENOMEM;
	off = name_pool_add(&b->names, name);
	if (off < 0)
		return b->err = (int)off;
	b->raw[b->n++] = (struct raw_sym){ .start = start, .size = size, .sect_end = sect_end,
					   .name_off = (size_t)off, .rank = rank };
	return 0;
}

/* The end of the allocated section holding sym, UINT64_MAX if unknown. */
static uint64_t section_end(Elf *elf, const GElf_Sym *sym)
{
	GElf_Shdr sh;

	if (sym->st_shndx < SHN_LORESERVE && gelf_getshdr(elf_getscn(elf, sym->st_shndx), &sh) &&
	    (sh.sh_flags & SHF_ALLOC) && sh.sh_size)
		return sh.sh_addr + sh.sh_size;
	return UINT64_MAX;
}

static void note_cpython(struct builders *b, const GElf_Sym *sym, const char *name)
{
	if (!strcmp(name, "_PyRuntime"))
		b->py_runtime = *sym;
	else if (!strcmp(name, "Py_Version"))
		b->py_version = *sym;
	else if (!strcmp(name, "PyCode_Type"))
		b->py_code_type = *sym;
}

/* Functions and sized data objects of one symbol section. main: the
 * section is the mapped file's own (its data can be read), not a debug
 * file's. */
static void collect_symbols(Elf *elf, Elf_Scn *scn, struct builders *b, bool from_symtab,
			    bool main)
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
	for (i = 1; i < n && !b->funcs.err && !b->objs.err; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		type = GELF_ST_TYPE(sym.st_info);
		if (sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
			continue;
		if (type != STT_FUNC && type != STT_GNU_IFUNC && (type != STT_OBJECT || !sym.st_size))
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		if (type == STT_OBJECT) {
			if (main)
				note_cpython(b, &sym, name);
			builder_add(&b->objs, sym.st_value, sym.st_size, UINT64_MAX, name,
				    sym_rank(&sym, name, from_symtab));
		} else {
			builder_add(&b->funcs, sym.st_value, sym.st_size, section_end(elf, &sym), name,
				    sym_rank(&sym, name, from_symtab));
		}
	}
}

/* Adds the symbols of every section of type sh_type; returns how many. */
static size_t collect_type(Elf *elf, Elf64_Word sh_type, struct builders *b, bool main)
{
	Elf_Scn *scn = NULL;
	size_t before = b->funcs.n + b->objs.n;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && sh.sh_type == sh_type)
			collect_symbols(elf, scn, b, sh_type == SHT_SYMTAB, main);
	return b->funcs.n + b->objs.n - before;
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
static int build_symtab(struct elf_symtab *t, struct sym_builder *b)
{
	size_t i, n = 0;

	if (!b->n)
		return 0;
	qsort(b->raw, b->n, sizeof(*b->raw), cmp_raw);
	t->syms = calloc(b->n, sizeof(*t->syms));
	if (!t->syms)
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
		t->syms[n].start = r->start;
		t->syms[n].end = r->start + size < r->start ? UINT64_MAX : r->start + size;
		t->syms[n].name = (const char *)(uintptr_t)r->name_off;
		n++;
	}
	t->names = b->names.buf;
	b->names.buf = NULL;
	for (i = 0; i < n; i++)
		t->syms[i].name = t->names + (uintptr_t)t->syms[i].name;
	t->n = n;
	return 0;
}

static void symtab_free(struct elf_symtab *t)
{
	free(t->syms);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

static void builder_free(struct sym_builder *b)
{
	free(b->raw);
	free(b->names.buf);
}

const struct elf_sym *elf_symtab_find(const struct elf_symtab *t, uint64_t vaddr)
{
	size_t lo = 0, hi = t->n, i, k;

	while (lo < hi) { /* first symbol with start > vaddr */
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo, k = 0; i > 0 && k < NESTED_LOOKBACK; i--, k++)
		if (vaddr < t->syms[i - 1].end)
			return &t->syms[i - 1];
	return NULL;
}

bool elf_file_off_to_vaddr(const struct elf_file *f, uint64_t off, uint64_t *vaddr)
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

bool elf_file_has_vaddr(const struct elf_file *f, uint64_t vaddr)
{
	for (size_t i = 0; i < f->nsegs; i++)
		if (vaddr >= f->segs[i].vaddr && vaddr - f->segs[i].vaddr < f->segs[i].memsz)
			return true;
	return false;
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
			.memsz = ph.p_memsz,
			.exec = ph.p_flags & PF_X,
		};
	}
	return 0;
}

/* ---- CPython ------------------------------------------------------------- */

/* len bytes at vaddr of section shndx as the file holds them; false for
 * bss or out of range. */
static bool read_at(Elf *elf, size_t shndx, uint64_t vaddr, void *buf, size_t len)
{
	GElf_Shdr sh;
	Elf_Data *d;

	if (shndx == SHN_UNDEF || shndx >= SHN_LORESERVE ||
	    !section_ready(elf_getscn(elf, shndx), &sh) || sh.sh_type == SHT_NOBITS ||
	    (sh.sh_flags & SHF_COMPRESSED) || vaddr < sh.sh_addr || len > sh.sh_size ||
	    vaddr - sh.sh_addr > sh.sh_size - len)
		return false;
	d = elf_getdata_rawchunk(elf, (int64_t)(sh.sh_offset + (vaddr - sh.sh_addr)), len, ELF_T_BYTE);
	if (!d || !d->d_buf || d->d_size < len)
		return false;
	memcpy(buf, d->d_buf, len);
	return true;
}

/* A file exporting _PyRuntime and Py_Version is a CPython interpreter (or
 * libpython): match its version and runtime size against the known
 * layouts, with the start of _PyRuntime's initial contents for 3.13's
 * _Py_DebugOffsets. */
static const struct cpython_layout *probe_cpython(Elf *elf, const struct builders *b,
						  struct elf_file *f)
{
	unsigned char head[CPYTHON_HEAD_BYTES];
	uint64_t version;
	size_t head_len = sizeof(head);

	f->py_runtime = b->py_runtime.st_size ? b->py_runtime.st_value : 0;
	f->py_code_type = b->py_code_type.st_size ? b->py_code_type.st_value : 0;
	if (!b->py_runtime.st_size || b->py_version.st_size != sizeof(version) ||
	    !read_at(elf, b->py_version.st_shndx, b->py_version.st_value, &version, sizeof(version)))
		return NULL;
	f->py_version = version;
	if (b->py_runtime.st_size < head_len)
		head_len = b->py_runtime.st_size;
	if (!read_at(elf, b->py_runtime.st_shndx, b->py_runtime.st_value, head, head_len))
		head_len = 0; /* in bss: no _Py_DebugOffsets */
	return cpython_match(version, b->py_runtime.st_size, head_len ? head : NULL, head_len);
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

/* elf as a debug file of f: ELF with a .symtab and, when both have a
 * build-id, the same one. */
static bool debug_file_matches(Elf *elf, const struct elf_file *f)
{
	char other_id[ELF_BUILD_ID_MAX + 1];

	return elf_kind(elf) == ELF_K_ELF && has_symtab(elf) &&
	       (!f->build_id[0] || !read_build_id(elf, other_id, sizeof(other_id)) ||
		!strcmp(f->build_id, other_id));
}

/* Open candidate as a debug file for f: it must be another file that
 * matches (debug_file_matches). */
static Elf *open_debug_candidate(const char *candidate, const struct elf_file *f, int *fd_out)
{
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
	if (debug_file_matches(elf, f)) {
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
	char candidate[PATH_MAX], dir[PATH_MAX];
	const char *link, *slash, *id = f->build_id;
	Elf *dbg;

	if (strlen(id) > 2) {
		snprintf(candidate, sizeof(candidate), DEBUG_DIR "/.build-id/%.2s/%s.debug", id, id + 2);
		dbg = open_debug_candidate(candidate, f, fd_out);
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
		dbg = open_debug_candidate(candidate, f, fd_out);
		if (dbg)
			return dbg;
	}
	return NULL;
}

/* ---- parsing -------------------------------------------------------------- */

static int build_both(struct elf_file *f, struct builders *b)
{
	int err = b->funcs.err ? b->funcs.err : b->objs.err;

	if (!err)
		err = build_symtab(&f->funcs, &b->funcs);
	if (!err)
		err = build_symtab(&f->objs, &b->objs);
	return err;
}

static void builders_free(struct builders *b)
{
	builder_free(&b->funcs);
	builder_free(&b->objs);
}

/* Parse fd into f. A file that is not ELF or has no symbols still yields a
 * usable (empty) entry: its frames resolve to module+offset. */
static int elf_file_parse(struct elf_file *f, int fd, const char *path)
{
	struct builders b = { 0 };
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
	read_build_id(elf, f->build_id, sizeof(f->build_id));
	if (!collect_type(elf, SHT_SYMTAB, &b, true)) {
		/* Stripped: the debug file's .symtab, plus .dynsym below. */
		dbg = open_debug_file(elf, f, path, &dbg_fd);
		if (dbg)
			collect_type(dbg, SHT_SYMTAB, &b, false);
		f->no_symtab = !dbg;
	}
	collect_type(elf, SHT_DYNSYM, &b, true);
	f->cpython = probe_cpython(elf, &b, f);
	err = build_both(f, &b);
out:
	if (dbg)
		elf_end(dbg);
	if (dbg_fd >= 0)
		close(dbg_fd);
	elf_end(elf);
	builders_free(&b);
	return err;
}

/* The symbols t already has, into b below any the debug file brings. */
static void readd(struct sym_builder *b, const struct elf_symtab *t)
{
	for (size_t i = 0; i < t->n && !b->err; i++)
		builder_add(b, t->syms[i].start, t->syms[i].end - t->syms[i].start, UINT64_MAX,
			    t->syms[i].name, 0);
}

int elf_file_add_debug(struct elf_file *f, int fd)
{
	struct builders b = { 0 };
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	int err = -EINVAL;

	if (!elf)
		return -EINVAL;
	if (!f->build_id[0] || !debug_file_matches(elf, f))
		goto out;
	collect_type(elf, SHT_SYMTAB, &b, false);
	readd(&b.funcs, &f->funcs);
	readd(&b.objs, &f->objs);
	if (b.funcs.err || b.objs.err) {
		err = -ENOMEM;
		goto out;
	}
	symtab_free(&f->funcs);
	symtab_free(&f->objs);
	err = build_both(f, &b);
	f->no_symtab = false;
out:
	elf_end(elf);
	builders_free(&b);
	return err;
}

static void elf_file_free(struct elf_file *f)
{
	symtab_free(&f->funcs);
	symtab_free(&f->objs);
	free(f->segs);
	free(f);
}

struct elf_file *elf_cache_get(struct elf_cache *c, int fd, const char *path)
{
	struct stat st;
	struct elf_file *f;
	size_t b;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	b = (size_t)(st.st_dev * 31 + st.st_ino) % ELF_FILE_BUCKETS;
	for (f = c->files[b]; f; f = f->next) {
		if (f->dev == st.st_dev && f->ino == st.st_ino && f->size == st.st_size &&
		    f->mtime.tv_sec == st.st_mtim.tv_sec && f->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			c->hits++;
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
	c->parsed++;
	if (elf_file_parse(f, fd, path)) {
		close(fd);
		elf_file_free(f);
		return NULL;
	}
	close(fd);
	f->next = c->files[b];
	c->files[b] = f;
	return f;
}

void elf_cache_free(struct elf_cache *c)
{
	for (size_t i = 0; i < ELF_FILE_BUCKETS; i++) {
		while (c->files[i]) {
			struct elf_file *f = c->files[i];

			c->files[i] = f->next;
			elf_file_free(f);
		}
	}
}
