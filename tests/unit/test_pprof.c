/* tests/unit/test_pprof.c: the pprof writer on a hand-made snapshot,
 * decoded by protoc against the fields of google/pprof's profile.proto that
 * it writes (the schema is written here: field numbers are facts). Checks
 * string_table[0], the sample types per kind, locations leaf first with
 * kernel frames above user ones, addresses, mappings with build-ids,
 * functions, labels, the period and times. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "check.h"
#include "model/model.h"
#include "render/pprof.h"

#define MS 1000000ull
#define START (1000 * MS)
#define KADDR 0xffffffff81000100ull

static const char schema[] =
	"syntax = \"proto3\";\n"
	"package perftools.profiles;\n"
	"message Profile {\n"
	"  repeated ValueType sample_type = 1;\n"
	"  repeated Sample sample = 2;\n"
	"  repeated Mapping mapping = 3;\n"
	"  repeated Location location = 4;\n"
	"  repeated Function function = 5;\n"
	"  repeated string string_table = 6;\n"
	"  int64 time_nanos = 9;\n"
	"  int64 duration_nanos = 10;\n"
	"  ValueType period_type = 11;\n"
	"  int64 period = 12;\n"
	"  repeated int64 comment = 13;\n"
	"  int64 default_sample_type = 14;\n"
	"}\n"
	"message ValueType { int64 type = 1; int64 unit = 2; }\n"
	"message Sample {\n"
	"  repeated uint64 location_id = 1;\n"
	"  repeated int64 value = 2;\n"
	"  repeated Label label = 3;\n"
	"}\n"
	"message Label { int64 key = 1; int64 str = 2; int64 num = 3; int64 num_unit = 4; }\n"
	"message Mapping {\n"
	"  uint64 id = 1; uint64 memory_start = 2; uint64 memory_limit = 3;\n"
	"  uint64 file_offset = 4; int64 filename = 5; int64 build_id = 6;\n"
	"  bool has_functions = 7;\n"
	"}\n"
	"message Location {\n"
	"  uint64 id = 1; uint64 mapping_id = 2; uint64 address = 3;\n"
	"  repeated Line line = 4;\n"
	"}\n"
	"message Line { uint64 function_id = 1; int64 line = 2; }\n"
	"message Function {\n"
	"  uint64 id = 1; int64 name = 2; int64 system_name = 3; int64 filename = 4;\n"
	"}\n";

static struct ps_snapshot snap;
static struct model model;

static char *xdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

/* A stack with names and frames leaf first, in module (index + 1). */
static int32_t add_stack(uint32_t tgid, bool user, const char *const *names, const uint64_t *ips,
			 uint32_t n, uint32_t module)
{
	struct ps_stack *st;

	snap.stacks = realloc(snap.stacks, (snap.nstacks + 1) * sizeof(*snap.stacks));
	st = &snap.stacks[snap.nstacks];
	memset(st, 0, sizeof(*st));
	st->id = (int32_t)snap.nstacks + 1;
	st->tgid = user ? tgid : 0;
	st->user = user;
	st->nframes = n;
	st->ips = calloc(n, sizeof(uint64_t));
	st->names = calloc(n, sizeof(char *));
	st->frames = calloc(n, sizeof(*st->frames));
	for (uint32_t k = 0; k < n; k++) {
		st->ips[k] = ips[k];
		st->names[k] = xdup(names[k]);
		st->frames[k] = (struct ps_frame){ .module = module, .named = true };
	}
	snap.nstacks++;
	return st->id;
}

static void add_rec(struct ps_stack_rec **recs, uint32_t *n, uint32_t tid, int32_t u, int32_t k,
		    uint64_t value, uint64_t count)
{
	*recs = realloc(*recs, (*n + 1) * sizeof(**recs));
	(*recs)[(*n)++] = (struct ps_stack_rec){
		.key = { .tgid = 10, .pid = tid, .ustack = u, .kstack = k },
		.val = { .value = value, .count = count },
	};
}

static void build(void)
{
	static const char *const user[] = { "compute", "main" };
	static const uint64_t user_ips[] = { 0x401000, 0x402005 };
	static const char *const kern[] = { "schedule_[k]", "do_syscall_64_[k]" };
	static const uint64_t kern_ips[] = { KADDR, KADDR + 0x1005 };
	static const char *const comms[] = { "worker", "main thread" };

	memset(&snap, 0, sizeof(snap));
	snap.start_ns = START;
	snap.end_ns = START + 2000 * MS;
	snap.nr_cpus = 1;
	snap.attach_mode = "tp_btf";
	snap.locks = snap.offcpu = snap.oncpu = true;
	snap.sample_hz = 99;
	snap.nthreads = 2;
	snap.threads = calloc(2, sizeof(struct ps_thread));
	snap.thread_cpu_ns = calloc(2, sizeof(uint64_t));
	snap.cpus = calloc(1, sizeof(struct ps_cpu));
	snap.migr = calloc(1, sizeof(struct ps_cpu_migr));
	for (int i = 0; i < 2; i++) {
		snap.threads[i].tid = 11 + i;
		snap.threads[i].tgid = 10;
		snprintf(snap.threads[i].comm, sizeof(snap.threads[i].comm), "%s", comms[i]);
		snap.threads[i].first_ns = START;
	}
	snap.nmodules = 2;
	snap.modules = calloc(2, sizeof(*snap.modules));
	snap.modules[0] = (struct ps_module){ .path = xdup("/usr/bin/app"),
					      .build_id = xdup("0123456789abcdef0123456789abcdef01234567"),
					      .start = 0x400000, .end = 0x500000, .pgoff = 0x1000 };
	snap.modules[1] = (struct ps_module){ .path = xdup("[kernel.kallsyms]"), .kernel = true };
	int32_t u = add_stack(10, true, user, user_ips, 2, 1);
	int32_t k = add_stack(0, false, kern, kern_ips, 2, 2);
	add_rec(&snap.oncpu_recs, &snap.n_oncpu, 11, u, -1, 5, 5);
	add_rec(&snap.oncpu_recs, &snap.n_oncpu, 12, u, k, 3, 3);
	add_rec(&snap.oncpu_recs, &snap.n_oncpu, 12, u, -1, 0, 0); /* no value: no sample */
	add_rec(&snap.offcpu_recs, &snap.n_offcpu, 11, -2 /* lost */, k, 2500, 2);
	snap.futex_recs = calloc(1, sizeof(*snap.futex_recs));
	snap.n_futex = 1;
	snap.futex_recs[0] = (struct ps_futex_rec){
		.key = { .tgid = 10, .pid = 12, .ustack = u, .uaddr = 0x7f00aa10 },
		.st = { .waits = 4, .wait_ns = 9 * MS, .busy_ns = 9 * MS, .max_ns = 3 * MS,
			.waker_ustack = -1 },
	};
	model_build(&snap, &model);
}

/* protoc's text, flattened: one "path value" per scalar, path like
 * "sample#1.label#0.key" (#n: the n-th block of that name in its parent). */
struct flat {
	char lines[512][256];
	int n;
};

static void flatten(const char *text, struct flat *f)
{
	char path[8][80];
	struct { char name[64]; int count; } seen[8][16];
	int nseen[8] = { 0 }, depth = 0;
	const char *line = text;

	f->n = 0;
	while (*line && f->n < 512) {
		const char *end = strchr(line, '\n');
		char buf[256], name[64], value[192];
		size_t len = end ? (size_t)(end - line) : strlen(line);

		snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
		line += len + (end ? 1 : 0);
		if (sscanf(buf, " %63s {", name) == 1 && strstr(buf, "{")) {
			int c = 0, i;

			for (i = 0; i < nseen[depth] && strcmp(seen[depth][i].name, name); i++)
				;
			if (i == nseen[depth] && i < 16) {
				snprintf(seen[depth][i].name, sizeof(seen[depth][i].name), "%s", name);
				seen[depth][i].count = 0;
				nseen[depth]++;
			}
			if (i < 16)
				c = seen[depth][i].count++;
			if (depth < 7) {
				snprintf(path[depth], sizeof(path[depth]), "%s#%d", name, c);
				nseen[++depth] = 0;
			}
		} else if (strstr(buf, "}") && !strstr(buf, ":")) {
			if (depth)
				depth--;
		} else if (sscanf(buf, " %63[^:]: %191[^\n]", name, value) == 2) {
			int n = 0;

			for (int d = 0; d < depth; d++)
				n += snprintf(f->lines[f->n] + n, sizeof(f->lines[0]) - n, "%s.", path[d]);
			snprintf(f->lines[f->n] + n, sizeof(f->lines[0]) - n, "%s %s", name, value);
			f->n++;
		}
	}
}

/* The value of the path's first line, or NULL; the k-th with nth. */
static const char *get_nth(const struct flat *f, const char *path, int nth)
{
	size_t len = strlen(path);

	for (int i = 0; i < f->n; i++)
		if (!strncmp(f->lines[i], path, len) && f->lines[i][len] == ' ' && nth-- == 0)
			return f->lines[i] + len + 1;
	return NULL;
}

static const char *get(const struct flat *f, const char *path)
{
	return get_nth(f, path, 0);
}

static long long num(const struct flat *f, const char *path)
{
	const char *v = get(f, path);

	return v ? (long long)strtoull(v, NULL, 0) : -1;
}

/* string_table[i] without its quotes */
static const char *str(const struct flat *f, long long i, char *buf, size_t len)
{
	const char *v = i >= 0 ? get_nth(f, "string_table", (int)i) : NULL;

	if (!v)
		return "(none)";
	snprintf(buf, len, "%.*s", (int)strlen(v) - 2, v + 1);
	return buf;
}

static const char *strf(const struct flat *f, const char *path)
{
	static char bufs[8][128];
	static int next;

	return str(f, num(f, path), bufs[next++ % 8], sizeof(bufs[0]));
}

/* Decode the gzipped profile of kind k with protoc into f. */
static bool decode(enum stack_kind k, struct flat *f)
{
	static char dir[] = "/tmp/poolscope-pprof.XXXXXX";
	static bool made;
	struct pprof_opts o = { .time_nanos = 1700000000123456789ull, .comment = "unit test" };
	uint8_t *gz, raw[65536];
	size_t len;
	char path[256], cmd[512], text[65536];
	FILE *fp;

	if (!made && !(made = mkdtemp(dir)))
		return false;
	if (pprof_build(&model, k, &o, &gz, &len))
		return false;
	z_stream z = { .next_in = gz, .avail_in = len, .next_out = raw, .avail_out = sizeof(raw) };
	bool ok = inflateInit2(&z, 15 + 16) == Z_OK && inflate(&z, Z_FINISH) == Z_STREAM_END;
	size_t n = z.total_out;
	inflateEnd(&z);
	free(gz);
	snprintf(path, sizeof(path), "%s/profile.proto", dir);
	fp = fopen(path, "w");
	ok = ok && fp && fputs(schema, fp) >= 0;
	if (fp)
		fclose(fp);
	snprintf(path, sizeof(path), "%s/p.bin", dir);
	fp = fopen(path, "w");
	ok = ok && fp && fwrite(raw, 1, n, fp) == n;
	if (fp)
		fclose(fp);
	snprintf(cmd, sizeof(cmd),
		 "protoc --proto_path=%s --decode=perftools.profiles.Profile profile.proto <%s 2>&1",
		 dir, path);
	fp = ok ? popen(cmd, "r") : NULL;
	n = fp ? fread(text, 1, sizeof(text) - 1, fp) : 0;
	text[n] = '\0';
	ok = fp && pclose(fp) == 0 && ok;
	if (!ok)
		printf("protoc: %s\n", text);
	flatten(text, f);
	return ok;
}

/* The function name of location id */
static const char *loc_name(const struct flat *f, long long id)
{
	char path[64];

	for (int i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "location#%d.id", i);
		if (num(f, path) != id)
			continue;
		snprintf(path, sizeof(path), "location#%d.line#0.function_id", i);
		long long fn = num(f, path);
		for (int j = 0; j < 64; j++) {
			snprintf(path, sizeof(path), "function#%d.id", j);
			if (num(f, path) == fn) {
				snprintf(path, sizeof(path), "function#%d.name", j);
				return strf(f, path);
			}
		}
	}
	return "(none)";
}

static long long loc_field(const struct flat *f, long long id, const char *field)
{
	char path[64];

	for (int i = 0; i < 64; i++) {
		snprintf(path, sizeof(path), "location#%d.id", i);
		if (num(f, path) == id) {
			snprintf(path, sizeof(path), "location#%d.%s", i, field);
			return num(f, path);
		}
	}
	return -1;
}

/* "name,name,..." of sample s's locations, leaf first */
static const char *sample_stack(const struct flat *f, int s, char *buf, size_t len)
{
	char path[64];
	size_t n = 0;
	const char *v;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "sample#%d.location_id", s);
	for (int i = 0; (v = get_nth(f, path, i)) && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", i ? "," : "", loc_name(f, strtoll(v, NULL, 0)));
	return buf;
}

/* Label key of sample s: its str (as text) or num. */
static const char *label(const struct flat *f, int s, const char *key, char *buf, size_t len)
{
	char path[64];

	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "sample#%d.label#%d.key", s, i);
		if (strcmp(strf(f, path), key))
			continue;
		snprintf(path, sizeof(path), "sample#%d.label#%d.str", s, i);
		if (get(f, path))
			return snprintf(buf, len, "%s", strf(f, path)), buf;
		snprintf(path, sizeof(path), "sample#%d.label#%d.num", s, i);
		return snprintf(buf, len, "%lld", num(f, path)), buf;
	}
	return "(none)";
}

static void test_oncpu(void)
{
	static struct flat f;
	char a[256], b[64], c[64], d[64];

	CHECK("oncpu: protoc decodes the gunzipped profile", decode(STACKS_ONCPU, &f), "see above");
	CHECK("oncpu: string_table[0] is \"\"", get(&f, "string_table") &&
	      !strcmp(get(&f, "string_table"), "\"\""), "first string %s", get(&f, "string_table"));
	CHECK("oncpu: sample types samples/count, cpu/nanoseconds; cpu the default",
	      !strcmp(strf(&f, "sample_type#0.type"), "samples") &&
		      !strcmp(strf(&f, "sample_type#0.unit"), "count") &&
		      !strcmp(strf(&f, "sample_type#1.type"), "cpu") &&
		      !strcmp(strf(&f, "sample_type#1.unit"), "nanoseconds") &&
		      !strcmp(strf(&f, "default_sample_type"), "cpu"),
	      "%s/%s %s/%s default %s", strf(&f, "sample_type#0.type"), strf(&f, "sample_type#0.unit"),
	      strf(&f, "sample_type#1.type"), strf(&f, "sample_type#1.unit"),
	      strf(&f, "default_sample_type"));
	CHECK("oncpu: period_type cpu/nanoseconds, period 1e9/99",
	      !strcmp(strf(&f, "period_type#0.type"), "cpu") &&
		      !strcmp(strf(&f, "period_type#0.unit"), "nanoseconds") && num(&f, "period") == 10101010,
	      "%s/%s %lld", strf(&f, "period_type#0.type"), strf(&f, "period_type#0.unit"), num(&f, "period"));
	CHECK("oncpu: time_nanos, duration_nanos (the window), comment",
	      num(&f, "time_nanos") == 1700000000123456789ll && num(&f, "duration_nanos") == 2000 * (long long)MS &&
		      !strcmp(strf(&f, "comment"), "unit test"),
	      "%lld %lld %s", num(&f, "time_nanos"), num(&f, "duration_nanos"), strf(&f, "comment"));
	CHECK("oncpu: two samples (a record without value has none)", get(&f, "sample#1.value") &&
	      !get(&f, "sample#2.value"), "%s", get(&f, "sample#2.value"));
	CHECK("oncpu: a user stack leaf first", !strcmp(sample_stack(&f, 0, a, sizeof(a)), "compute,main"),
	      "%s", a);
	CHECK("oncpu: kernel frames (no _[k]) above the user frames",
	      !strcmp(sample_stack(&f, 1, a, sizeof(a)), "schedule,do_syscall_64,compute,main"), "%s", a);
	CHECK("oncpu: values samples and samples x period",
	      num(&f, "sample#0.value") == 5 && strtoll(get_nth(&f, "sample#0.value", 1), NULL, 0) == 5 * 10101010ll,
	      "%s %s", get(&f, "sample#0.value"), get_nth(&f, "sample#0.value", 1));
	CHECK("oncpu: labels pid and tid (numbers), comm (the folded root: ' ' -> '_')",
	      !strcmp(label(&f, 1, "pid", b, sizeof(b)), "10") &&
		      !strcmp(label(&f, 1, "tid", c, sizeof(c)), "12") &&
		      !strcmp(label(&f, 1, "comm", d, sizeof(d)), "main_thread"),
	      "%s %s %s", b, c, d);
	long long leaf = strtoll(get_nth(&f, "sample#0.location_id", 0), NULL, 0);
	long long caller = strtoll(get_nth(&f, "sample#0.location_id", 1), NULL, 0);
	CHECK("oncpu: the leaf's address as captured, a caller's minus one (its call)",
	      loc_field(&f, leaf, "address") == 0x401000 && loc_field(&f, caller, "address") == 0x402004,
	      "%llx %llx", loc_field(&f, leaf, "address"), loc_field(&f, caller, "address"));
	long long m = loc_field(&f, leaf, "mapping_id");
	int mi = -1;
	for (int i = 0; i < 4; i++) {
		char p[32];

		snprintf(p, sizeof(p), "mapping#%d.id", i);
		if (num(&f, p) == m)
			mi = i;
	}
	char p[5][40];
	const char *fields[] = { "memory_start", "memory_limit", "file_offset", "filename", "build_id" };
	for (int i = 0; i < 5; i++)
		snprintf(p[i], sizeof(p[i]), "mapping#%d.%s", mi, fields[i]);
	CHECK("oncpu: the program's mapping first, with its range, offset, file and build-id",
	      mi == 0 && num(&f, p[0]) == 0x400000 && num(&f, p[1]) == 0x500000 && num(&f, p[2]) == 0x1000 &&
		      !strcmp(strf(&f, p[3]), "/usr/bin/app") &&
		      !strcmp(strf(&f, p[4]), "0123456789abcdef0123456789abcdef01234567"),
	      "mapping #%d %llx-%llx off %llx %s %s", mi, num(&f, p[0]), num(&f, p[1]), num(&f, p[2]),
	      strf(&f, p[3]), strf(&f, p[4]));
	CHECK("oncpu: the kernel's mapping spans the kernel addresses seen",
	      !strcmp(strf(&f, "mapping#1.filename"), "[kernel.kallsyms]") &&
		      num(&f, "mapping#1.memory_start") == (long long)KADDR &&
		      num(&f, "mapping#1.memory_limit") == (long long)(KADDR + 0x1005),
	      "%s %llx-%llx", strf(&f, "mapping#1.filename"), num(&f, "mapping#1.memory_start"),
	      num(&f, "mapping#1.memory_limit"));
	CHECK("oncpu: functions name their file", !strcmp(strf(&f, "function#0.filename"), "/usr/bin/app") &&
	      !strcmp(strf(&f, "function#0.name"), strf(&f, "function#0.system_name")),
	      "%s", strf(&f, "function#0.filename"));
}

static void test_offcpu_futex(void)
{
	static struct flat f;
	char a[256], b[64], c[64], d[64];

	CHECK("offcpu: protoc decodes it", decode(STACKS_OFFCPU, &f), "see above");
	CHECK("offcpu: sample types switches/count, offcpu/nanoseconds; no period",
	      !strcmp(strf(&f, "sample_type#0.type"), "switches") &&
		      !strcmp(strf(&f, "sample_type#1.type"), "offcpu") &&
		      !strcmp(strf(&f, "default_sample_type"), "offcpu") && !get(&f, "period"),
	      "%s %s", strf(&f, "sample_type#0.type"), strf(&f, "sample_type#1.type"));
	CHECK("offcpu: values switches and nanoseconds",
	      num(&f, "sample#0.value") == 2 && strtoll(get_nth(&f, "sample#0.value", 1), NULL, 0) == 2500,
	      "%s", get(&f, "sample#0.value"));
	CHECK("offcpu: a lost user stack is a placeholder frame, as in the folded export",
	      !strcmp(sample_stack(&f, 0, a, sizeof(a)), "schedule,do_syscall_64,[user stack lost]"),
	      "%s", a);

	CHECK("futex: protoc decodes it", decode(STACKS_FUTEX, &f), "see above");
	CHECK("futex: sample types contentions/count, delay/nanoseconds",
	      !strcmp(strf(&f, "sample_type#0.type"), "contentions") &&
		      !strcmp(strf(&f, "sample_type#1.type"), "delay") &&
		      !strcmp(strf(&f, "sample_type#1.unit"), "nanoseconds"),
	      "%s %s", strf(&f, "sample_type#0.type"), strf(&f, "sample_type#1.type"));
	CHECK("futex: values waits and time waited",
	      num(&f, "sample#0.value") == 4 &&
		      strtoll(get_nth(&f, "sample#0.value", 1), NULL, 0) == 9 * (long long)MS,
	      "%s", get(&f, "sample#0.value"));
	CHECK("futex: the lock's labels: futex address, waiting function, class",
	      !strcmp(label(&f, 0, "futex", b, sizeof(b)), "0x7f00aa10") &&
		      !strcmp(label(&f, 0, "lock", c, sizeof(c)), "compute") &&
		      !strcmp(label(&f, 0, "lock_class", d, sizeof(d)), lock_class_name(model.locks[0].cls)),
	      "%s %s %s", b, c, d);
	CHECK("futex: the waiter's user stack", !strcmp(sample_stack(&f, 0, a, sizeof(a)), "compute,main"),
	      "%s", a);
}

int main(void)
{
	build();
	test_oncpu();
	test_offcpu_futex();
	CHECK("sample counts", pprof_samples(&model, STACKS_ONCPU) == 2 &&
	      pprof_samples(&model, STACKS_OFFCPU) == 1 && pprof_samples(&model, STACKS_FUTEX) == 1,
	      "%u %u %u", pprof_samples(&model, STACKS_ONCPU), pprof_samples(&model, STACKS_OFFCPU),
	      pprof_samples(&model, STACKS_FUTEX));
	model_free(&model);
	snapshot_free(&snap);
	if (system("rm -rf /tmp/poolscope-pprof.*"))
		return 1;
	return check_failures() != 0;
}
