/* user/render/pprof.c: stacks as a gzip-compressed pprof profile (see
 * pprof.h). The field numbers are those of google/pprof's
 * proto/profile.proto (package perftools.profiles):
 *   Profile    sample_type 1, sample 2, mapping 3, location 4, function 5,
 *              string_table 6, time_nanos 9, duration_nanos 10,
 *              period_type 11, period 12, comment 13, default_sample_type 14
 *   ValueType  type 1, unit 2 (string indices)
 *   Sample     location_id 1 (packed), value 2 (packed), label 3
 *   Label      key 1, str 2, num 3 (string indices but num)
 *   Mapping    id 1, memory_start 2, memory_limit 3, file_offset 4,
 *              filename 5, build_id 6, has_functions 7
 *   Location   id 1, mapping_id 2, address 3, line 4
 *   Line       function_id 1
 *   Function   id 1, name 2, system_name 3, filename 4
 * Strings, functions and locations are interned in hash tables, so each is
 * written once whatever the number of samples naming it. */
#include "render/pprof.h"
#include "render/pb.h"
#include "model/stacks.h"
#include "sys/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13, PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
	LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3,
	MAPPING_ID = 1, MAPPING_MEMORY_START = 2, MAPPING_MEMORY_LIMIT = 3, MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5, MAPPING_BUILD_ID = 6, MAPPING_HAS_FUNCTIONS = 7,
	LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1,
	FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4,
};

#define MAX_LOCS (2 * PS_STACK_DEPTH + 2)

/* ---- interning ---------------------------------------------------------- */

/* An open-addressing table of 3-word keys to ids 1.., growing at half full. */
struct idmap {
	struct { uint64_t k[3]; uint64_t id; } *slots;
	uint32_t cap, n;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x9e3779b97f4a7c15ull + (h >> 29);
}

static uint64_t *idmap_slot(struct idmap *m, const uint64_t k[3])
{
	uint64_t h = mix(mix(mix(0, k[0]), k[1]), k[2]);

	for (uint32_t b = h & (m->cap - 1);; b = (b + 1) & (m->cap - 1))
		if (!m->slots[b].id || !memcmp(m->slots[b].k, k, sizeof(m->slots[b].k))) {
			memcpy(m->slots[b].k, k, sizeof(m->slots[b].k));
			return &m->slots[b].id;
		}
}

/* The id of key k, *fresh set when it was just given the next id. */
static uint64_t idmap_get(struct idmap *m, uint64_t a, uint64_t b, uint64_t c, bool *fresh)
{
	const uint64_t k[3] = { a, b, c };

	if ((m->n + 1) * 2 > m->cap) {
		struct idmap old = *m;

		m->cap = m->cap ? m->cap * 2 : 1024;
		m->slots = xcalloc(m->cap, sizeof(*m->slots));
		for (uint32_t i = 0; i < old.cap; i++)
			if (old.slots[i].id)
				*idmap_slot(m, old.slots[i].k) = old.slots[i].id;
		free(old.slots);
	}
	uint64_t *id = idmap_slot(m, k);
	*fresh = !*id;
	if (!*id)
		*id = ++m->n;
	return *id;
}

/* The string table: strings in order, and an open-addressing index of
 * them (index + 1, 0: empty) that grows at half full. */
struct strtab {
	char **strs;
	uint32_t n, cap;
	uint32_t *slots;
	uint32_t nslots;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint32_t *str_slot(struct strtab *t, const char *s)
{
	uint32_t b = hash_str(s) & (t->nslots - 1);

	while (t->slots[b] && strcmp(t->strs[t->slots[b] - 1], s))
		b = (b + 1) & (t->nslots - 1);
	return &t->slots[b];
}

/* The string's index in the table, added on first use. */
static int64_t str_id(struct strtab *t, const char *s)
{
	if ((t->n + 1) * 2 > t->nslots) {
		free(t->slots);
		t->nslots = t->nslots ? t->nslots * 2 : 1024;
		t->slots = xcalloc(t->nslots, sizeof(*t->slots));
		for (uint32_t i = 0; i < t->n; i++)
			*str_slot(t, t->strs[i]) = i + 1;
	}
	uint32_t *slot = str_slot(t, s);
	if (*slot)
		return *slot - 1;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 1024;
		t->strs = xrealloc(t->strs, t->cap * sizeof(*t->strs));
	}
	t->strs[t->n] = xstrdup(s);
	*slot = ++t->n;
	return t->n - 1;
}

/* ---- the profile being built -------------------------------------------- */

struct used_mapping {
	uint32_t module;             /* index + 1 into the snapshot's modules */
	bool all_named;
	uint64_t lo, hi;             /* kernel: the addresses seen */
};

struct builder {
	const struct model *m;
	enum stack_kind kind;
	struct strtab str;
	struct pb samples, locations, functions;
	struct idmap fn_ids, loc_ids;
	uint64_t *mapping_of;        /* snapshot module -> mapping id, 0: not yet */
	struct used_mapping *maps;
	uint32_t nmaps;
	uint64_t period;             /* on-CPU: ns per sample */
	uint32_t nsamples;
};

static void put_u64(struct pb *b, uint32_t field, uint64_t v)
{
	if (v) /* proto3: defaults are left out */
		pb_uint64(b, field, v);
}

static uint64_t mapping_id(struct builder *b, uint32_t module, bool named, uint64_t addr)
{
	const struct ps_module *mod = snapshot_module(b->m->snap, module);

	if (!mod)
		return 0;
	uint64_t *id = &b->mapping_of[module - 1];
	if (!*id) {
		b->maps[b->nmaps] = (struct used_mapping){ .module = module, .all_named = true,
							   .lo = addr, .hi = addr };
		*id = ++b->nmaps;
	}
	struct used_mapping *u = &b->maps[*id - 1];
	u->all_named &= named;
	if (addr < u->lo)
		u->lo = addr;
	if (addr > u->hi)
		u->hi = addr;
	return *id;
}

static uint64_t function_id(struct builder *b, const char *name, const char *file)
{
	int64_t n = str_id(&b->str, name), f = str_id(&b->str, file ? file : "");
	bool fresh;
	uint64_t id = idmap_get(&b->fn_ids, n, f, 0, &fresh);

	if (fresh) {
		size_t msg = pb_begin(&b->functions, PROFILE_FUNCTION);
		pb_uint64(&b->functions, FUNCTION_ID, id);
		put_u64(&b->functions, FUNCTION_NAME, n);
		put_u64(&b->functions, FUNCTION_SYSTEM_NAME, n);
		put_u64(&b->functions, FUNCTION_FILENAME, f);
		pb_end(&b->functions, msg);
	}
	return id;
}

static uint64_t location_id(struct builder *b, uint64_t mapping, uint64_t addr, uint64_t function)
{
	bool fresh;
	uint64_t id = idmap_get(&b->loc_ids, mapping, addr, function, &fresh);

	if (fresh) {
		size_t msg = pb_begin(&b->locations, PROFILE_LOCATION);
		pb_uint64(&b->locations, LOCATION_ID, id);
		put_u64(&b->locations, LOCATION_MAPPING_ID, mapping);
		put_u64(&b->locations, LOCATION_ADDRESS, addr);
		size_t line = pb_begin(&b->locations, LOCATION_LINE);
		pb_uint64(&b->locations, LINE_FUNCTION_ID, function);
		pb_end(&b->locations, line);
		pb_end(&b->locations, msg);
	}
	return id;
}

/* The frame's function name: the folded name without the kernel mark. */
static const char *frame_name(const char *name, bool user, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (user || n < 4 || strcmp(name + n - 4, "_[k]"))
		return name;
	snprintf(buf, len, "%.*s", (int)(n - 4), name);
	return buf;
}

/* Append the locations of stack (id, tgid, user), leaf first, to locs.
 * Which stacks and placeholders appear follows stack_append (stacks.c),
 * so the profile's stacks are the folded export's. */
static void add_stack(struct builder *b, int32_t id, uint32_t tgid, bool user, uint64_t *locs,
		      uint32_t *n)
{
	const struct ps_stack *st = snapshot_stack(b->m->snap, id, tgid, user);
	char buf[256];

	if (!st || !st->names) {
		if (id >= 0 || id == -14 /* EFAULT: no user context */ || *n >= MAX_LOCS)
			return;
		uint64_t fn = function_id(b, user ? "[user stack lost]" : "[kernel stack lost]", NULL);
		locs[(*n)++] = location_id(b, 0, 0, fn);
		return;
	}
	for (uint32_t k = 0; k < st->nframes && *n < MAX_LOCS; k++) {
		uint32_t module = st->frames ? st->frames[k].module : 0;
		bool named = st->frames ? st->frames[k].named : true;
		const struct ps_module *mod = snapshot_module(b->m->snap, module);
		/* the address resolved: a return address's call instruction */
		uint64_t addr = k ? st->ips[k] - 1 : st->ips[k];
		uint64_t map = mapping_id(b, module, named, addr);
		uint64_t fn = function_id(b, frame_name(st->names[k], user, buf, sizeof(buf)),
					  mod ? mod->path : NULL);

		locs[(*n)++] = location_id(b, map, addr, fn);
	}
}

static void label_num(struct builder *b, const char *key, int64_t v)
{
	size_t msg = pb_begin(&b->samples, SAMPLE_LABEL);
	put_u64(&b->samples, LABEL_KEY, str_id(&b->str, key));
	pb_int64(&b->samples, LABEL_NUM, v);
	pb_end(&b->samples, msg);
}

static void label_str(struct builder *b, const char *key, const char *v)
{
	size_t msg = pb_begin(&b->samples, SAMPLE_LABEL);
	put_u64(&b->samples, LABEL_KEY, str_id(&b->str, key));
	put_u64(&b->samples, LABEL_STR, str_id(&b->str, v));
	pb_end(&b->samples, msg);
}

/* One sample: the thread's stacks (kernel above user, leaf first), two
 * values, the thread's labels; lock (futex samples) adds the lock's. */
static void add_sample(struct builder *b, const struct ps_stack_key *key, uint64_t v0, uint64_t v1,
		       uint64_t uaddr, const struct lock_summary *lock)
{
	const struct ps_snapshot *s = b->m->snap;
	uint64_t locs[MAX_LOCS];
	uint32_t n = 0;
	char comm[PS_COMM_LEN + 1], addr[32];

	if (key->kstack >= 0)
		add_stack(b, key->kstack, 0, false, locs, &n);
	add_stack(b, key->ustack, key->tgid, true, locs, &n);

	size_t msg = pb_begin(&b->samples, PROFILE_SAMPLE);
	size_t packed = pb_begin(&b->samples, SAMPLE_LOCATION_ID);
	for (uint32_t i = 0; i < n; i++)
		pb_packed_uint64(&b->samples, locs[i]);
	pb_end(&b->samples, packed);
	packed = pb_begin(&b->samples, SAMPLE_VALUE);
	pb_packed_int64(&b->samples, v0);
	pb_packed_int64(&b->samples, v1);
	pb_end(&b->samples, packed);
	label_num(b, "pid", key->tgid);
	label_num(b, "tid", key->pid);
	/* the folded export's root frame, so the two name threads alike */
	snprintf(comm, sizeof(comm), "%s", stack_thread_comm(s, key->pid));
	for (char *p = comm; *p; p++)
		if (*p == ';' || *p == ' ')
			*p = '_';
	label_str(b, "comm", *comm ? comm : "?");
	if (lock) {
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)uaddr);
		label_str(b, "futex", addr);
		label_str(b, "lock", lock->caller ? lock->caller : "?");
		label_str(b, "lock_class", lock_class_name(lock->cls));
	}
	pb_end(&b->samples, msg);
	b->nsamples++;
}

static void add_samples(struct builder *b)
{
	const struct ps_snapshot *s = b->m->snap;

	if (b->kind == STACKS_FUTEX) {
		for (uint32_t i = 0; i < s->n_futex; i++) {
			const struct ps_futex_rec *f = &s->futex_recs[i];
			struct ps_stack_key key = { .tgid = f->key.tgid, .pid = f->key.pid,
						    .ustack = f->key.ustack, .kstack = -1 };
			const struct lock_summary *l =
				b->m->futex_lock ? &b->m->locks[b->m->futex_lock[i]] : NULL;

			if (f->st.waits)
				add_sample(b, &key, f->st.waits, f->st.wait_ns, f->key.uaddr, l);
		}
		return;
	}
	bool on = b->kind == STACKS_ONCPU;
	const struct ps_stack_rec *r = on ? s->oncpu_recs : s->offcpu_recs;
	uint32_t n = on ? s->n_oncpu : s->n_offcpu;

	for (uint32_t i = 0; i < n; i++) {
		if (!r[i].val.value)
			continue;
		if (on)
			add_sample(b, &r[i].key, r[i].val.value, r[i].val.value * b->period, 0, NULL);
		else
			add_sample(b, &r[i].key, r[i].val.count, r[i].val.value, 0, NULL);
	}
}

static void value_type(struct pb *p, struct strtab *t, uint32_t field, const char *type,
		       const char *unit)
{
	size_t msg = pb_begin(p, field);
	put_u64(p, VALUE_TYPE_TYPE, str_id(t, type));
	put_u64(p, VALUE_TYPE_UNIT, str_id(t, unit));
	pb_end(p, msg);
}

/* A program's executable, not a library or the kernel: pprof takes the
 * first mapping for the profile's main binary ("File:" of its reports). */
static bool is_program(const struct ps_module *mod)
{
	const char *so = strstr(mod->path, ".so");

	return mod->path[0] == '/' && !(so && (so[3] == '\0' || so[3] == '.'));
}

static void write_mappings(struct builder *b, struct pb *p)
{
	for (uint32_t n = 0; n < 2 * b->nmaps; n++) {
		uint32_t i = n % b->nmaps;
		const struct used_mapping *u = &b->maps[i];
		const struct ps_module *mod = snapshot_module(b->m->snap, u->module);

		if (is_program(mod) != (n < b->nmaps))
			continue; /* programs in the first pass, the rest in the second */
		/* the kernel's image and modules have no mapping of their own
		 * here: their range is the addresses the profile saw in them */
		uint64_t start = mod->kernel ? u->lo : mod->start;
		uint64_t limit = mod->kernel ? u->hi + 1 : mod->end;
		size_t msg = pb_begin(p, PROFILE_MAPPING);

		pb_uint64(p, MAPPING_ID, i + 1);
		put_u64(p, MAPPING_MEMORY_START, start);
		put_u64(p, MAPPING_MEMORY_LIMIT, limit);
		put_u64(p, MAPPING_FILE_OFFSET, mod->kernel ? 0 : mod->pgoff);
		put_u64(p, MAPPING_FILENAME, str_id(&b->str, mod->path));
		if (mod->build_id)
			put_u64(p, MAPPING_BUILD_ID, str_id(&b->str, mod->build_id));
		if (u->all_named)
			pb_bool(p, MAPPING_HAS_FUNCTIONS, true);
		pb_end(p, msg);
	}
}

/* The encoded profile into p. */
static void build(struct builder *b, struct pb *p, const struct pprof_opts *o)
{
	static const char *const types[][4] = {
		[STACKS_OFFCPU] = { "switches", "count", "offcpu", "nanoseconds" },
		[STACKS_ONCPU] = { "samples", "count", "cpu", "nanoseconds" },
		[STACKS_FUTEX] = { "contentions", "count", "delay", "nanoseconds" },
	};
	const char *const *t = types[b->kind];
	unsigned hz = b->m->snap->sample_hz ? b->m->snap->sample_hz : 99;

	str_id(&b->str, ""); /* string_table[0] must be "" */
	b->period = 1000000000ull / hz;
	add_samples(b);

	value_type(p, &b->str, PROFILE_SAMPLE_TYPE, t[0], t[1]);
	value_type(p, &b->str, PROFILE_SAMPLE_TYPE, t[2], t[3]);
	pb_raw(p, b->samples.data, b->samples.len);
	write_mappings(b, p);
	pb_raw(p, b->locations.data, b->locations.len);
	pb_raw(p, b->functions.data, b->functions.len);
	put_u64(p, PROFILE_TIME_NANOS, o && o->time_nanos ? o->time_nanos : 0);
	put_u64(p, PROFILE_DURATION_NANOS, b->m->wall_ns);
	if (b->kind == STACKS_ONCPU) {
		value_type(p, &b->str, PROFILE_PERIOD_TYPE, "cpu", "nanoseconds");
		put_u64(p, PROFILE_PERIOD, b->period);
	}
	if (o && o->comment) {
		size_t packed = pb_begin(p, PROFILE_COMMENT);
		pb_packed_int64(p, str_id(&b->str, o->comment));
		pb_end(p, packed);
	}
	put_u64(p, PROFILE_DEFAULT_SAMPLE_TYPE, str_id(&b->str, t[2]));
	/* last: every string is known now */
	for (uint32_t i = 0; i < b->str.n; i++)
		pb_string(p, PROFILE_STRING_TABLE, b->str.strs[i]);
}

static void builder_free(struct builder *b)
{
	for (uint32_t i = 0; i < b->str.n; i++)
		free(b->str.strs[i]);
	free(b->str.strs);
	free(b->str.slots);
	free(b->fn_ids.slots);
	free(b->loc_ids.slots);
	pb_free(&b->samples);
	pb_free(&b->locations);
	pb_free(&b->functions);
	free(b->mapping_of);
	free(b->maps);
}

static int gzip(const struct pb *p, uint8_t **out, size_t *len)
{
	z_stream z = { 0 };

	/* windowBits 15 + 16: a gzip header and trailer, not zlib's */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	size_t cap = deflateBound(&z, p->len) + 32;
	*out = xcalloc(cap, 1);
	z.next_in = p->data;
	z.avail_in = p->len;
	z.next_out = *out;
	z.avail_out = cap;
	int rc = deflate(&z, Z_FINISH);
	*len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -EIO;
	}
	return 0;
}

int pprof_build(const struct model *m, enum stack_kind k, const struct pprof_opts *o, uint8_t **out,
		size_t *len)
{
	struct builder b = { .m = m, .kind = k };
	uint32_t nmod = m->snap->nmodules;
	struct pb p;
	int err;

	b.mapping_of = xcalloc(nmod ? nmod : 1, sizeof(*b.mapping_of));
	b.maps = xcalloc(nmod ? nmod : 1, sizeof(*b.maps));
	pb_init(&p);
	build(&b, &p, o);
	err = gzip(&p, out, len);
	pb_free(&p);
	builder_free(&b);
	return err;
}

int export_pprof(FILE *out, const struct model *m, enum stack_kind k, const struct pprof_opts *o)
{
	uint8_t *buf;
	size_t len;
	int err = pprof_build(m, k, o, &buf, &len);

	if (err)
		return err;
	if (fwrite(buf, 1, len, out) != len)
		err = -EIO;
	free(buf);
	return err ? err : ferror(out) ? -EIO : 0;
}

uint32_t pprof_samples(const struct model *m, enum stack_kind k)
{
	const struct ps_snapshot *s = m->snap;
	uint32_t n = 0;

	if (k == STACKS_FUTEX) {
		for (uint32_t i = 0; i < s->n_futex; i++)
			n += s->futex_recs[i].st.waits > 0;
		return n;
	}
	const struct ps_stack_rec *r = k == STACKS_ONCPU ? s->oncpu_recs : s->offcpu_recs;
	uint32_t cnt = k == STACKS_ONCPU ? s->n_oncpu : s->n_offcpu;
	for (uint32_t i = 0; i < cnt; i++)
		n += r[i].val.value > 0;
	return n;
}
