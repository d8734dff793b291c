/* tests/unit/test_flamegraph.c: the SVG flame graph writer and the folded
 * line parser. Documents are checked with xmllint (an independent XML
 * parser) and by reading the frames' titles and rect widths back. */
#include "check.h"
#include "render/flamegraph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Render to a malloc'd string; NULL (and *err set) on failure. */
static char *render(const struct folded_stack *stacks, size_t n, const struct flamegraph_opts *opts,
		    int *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		*err = -errno;
		return NULL;
	}
	*err = flamegraph_write_svg(f, stacks, n, opts);
	fclose(f);
	if (*err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool have_xmllint(void)
{
	return system("command -v xmllint >/dev/null 2>&1") == 0;
}

/* 1 if xmllint --noout accepts the document, 0 if not, -1 if xmllint is missing. */
static int xmllint_ok(const char *svg)
{
	char path[] = "/tmp/test_flamegraph_XXXXXX";
	char cmd[128];
	int fd, rc;
	FILE *f;

	if (!svg)
		return 0;
	if (!have_xmllint())
		return -1;
	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return 0;
	}
	fputs(svg, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	rc = system(cmd);
	unlink(path);
	return rc == 0;
}

static void check_xml(const char *name, const char *svg)
{
	int ok = xmllint_ok(svg);

	CHECK(name, ok == 1, "%s",
	      ok < 0 ? "xmllint not found: install libxml2-utils" : "xmllint --noout rejected the SVG");
}

static size_t count_substr(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The frame element whose <title> starts with "name (" (name as escaped in XML). */
static const char *find_frame(const char *svg, const char *name)
{
	char key[512];

	snprintf(key, sizeof(key), "<title>%s (", name);
	return strstr(svg, key);
}

/* An attribute of the first <rect> after the frame's title, or -1. */
static double frame_rect_attr(const char *svg, const char *name, const char *attr)
{
	const char *p = find_frame(svg, name);
	char key[64];

	if (!p || !(p = strstr(p, "<rect ")))
		return -1;
	snprintf(key, sizeof(key), " %s=\"", attr);
	p = strstr(p, key);
	return p ? strtod(p + strlen(key), NULL) : -1;
}

static double frame_width(const char *svg, const char *name)
{
	return frame_rect_attr(svg, name, "width");
}

static void test_known_stacks(void)
{
	static const char *const names[] = { "main",      "read_file",    "vfs_read_[k]",
					     "-",         "parse_config", "[unknown]" };
	const struct folded_stack stacks[] = {
		{ "main;read_file;-;vfs_read_[k]", 40 },
		{ "main;parse_config", 50 },
		{ "main;[unknown]", 10 },
	};
	const struct flamegraph_opts opts = { .title = "Off-CPU time", .unit = "us",
					      .subtitle = "pid 42", .palette = FG_PALETTE_IO };
	int err;
	char *svg = render(stacks, 3, &opts, &err);

	CHECK("known stacks: written", svg != NULL, "err %d", err);
	if (!svg)
		return;
	check_xml("known stacks: well-formed per xmllint", svg);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char what[96];

		snprintf(what, sizeof(what), "known stacks: frame %s present", names[i]);
		CHECK(what, find_frame(svg, names[i]) != NULL, "no <title> for %s", names[i]);
	}
	CHECK("known stacks: title, subtitle and unit shown",
	      strstr(svg, ">Off-CPU time</text>") && strstr(svg, ">pid 42</text>") &&
		      strstr(svg, "<title>main (100 us, 100.00%)</title>"),
	      "title/subtitle/unit text missing");
	CHECK("known stacks: interactive parts embedded",
	      strstr(svg, "<script") && strstr(svg, "<![CDATA[") && strstr(svg, "Reset Zoom") &&
		      strstr(svg, ">Search<") && strstr(svg, "id=\"details\"") &&
		      !strstr(svg, "href="),
	      "script, zoom, search or details missing, or an external reference present");
	free(svg);
}

/* Parse "rgb(r,g,b)" from the frame's fill; false if absent. */
static bool frame_rgb(const char *svg, const char *name, int rgb[3])
{
	const char *p = find_frame(svg, name);

	if (!p || !(p = strstr(p, "fill=\"rgb(")))
		return false;
	return sscanf(p, "fill=\"rgb(%d,%d,%d)", &rgb[0], &rgb[1], &rgb[2]) == 3;
}

static void test_palettes(void)
{
	const struct folded_stack stacks[] = { { "main;-;schedule_[k]", 10 } };
	struct flamegraph_opts opts = { .palette = FG_PALETTE_IO };
	int err, user[3], kern[3], sep[3];
	char *io = render(stacks, 1, &opts, &err), *hot;

	opts.palette = FG_PALETTE_HOT;
	hot = render(stacks, 1, &opts, &err);
	CHECK("palettes: written", io && hot, "err %d", err);
	if (!io || !hot)
		goto out;
	CHECK("palettes: io user frame blue-ish",
	      frame_rgb(io, "main", user) && user[2] > user[0] + 50, "rgb %d,%d,%d", user[0], user[1],
	      user[2]);
	CHECK("palettes: io kernel frame blue-ish, another hue than user",
	      frame_rgb(io, "schedule_[k]", kern) && kern[2] > kern[0] + 50 && kern[1] > user[1] + 30,
	      "rgb %d,%d,%d", kern[0], kern[1], kern[2]);
	CHECK("palettes: separator grey", frame_rgb(io, "-", sep) && sep[0] == sep[1] && sep[1] == sep[2],
	      "rgb %d,%d,%d", sep[0], sep[1], sep[2]);
	CHECK("palettes: hot user frame warm",
	      frame_rgb(hot, "main", user) && user[0] > 200 && user[2] < 100, "rgb %d,%d,%d", user[0],
	      user[1], user[2]);
	CHECK("palettes: hot kernel frame warm, another hue than user",
	      frame_rgb(hot, "schedule_[k]", kern) && kern[0] > 200 && kern[1] > user[1] + 10,
	      "rgb %d,%d,%d", kern[0], kern[1], kern[2]);
out:
	free(io);
	free(hot);
}

static void test_proportional_widths(void)
{
	const struct folded_stack stacks[] = { { "main;big", 75 }, { "main;small", 25 } };
	const struct flamegraph_opts opts = { .width = 1000 };
	int err;
	char *svg = render(stacks, 2, &opts, &err);
	double big, small, all;

	CHECK("widths: written", svg != NULL, "err %d", err);
	if (!svg)
		return;
	big = frame_width(svg, "big");
	small = frame_width(svg, "small");
	all = frame_width(svg, "all");
	CHECK("widths: 75% frame is 3x the 25% frame",
	      small > 0 && big / small > 2.97 && big / small < 3.03, "big %.2f small %.2f", big, small);
	CHECK("widths: root spans the plot (width minus 2 x 10 px padding)", all > 979 && all < 981,
	      "root %.2f", all);
	CHECK("widths: 75% of the plot", big > 734 && big < 736, "big %.2f", big);
	CHECK("widths: siblings side by side",
	      frame_rect_attr(svg, "small", "x") > frame_rect_attr(svg, "big", "x") + big - 0.02,
	      "big x %.2f small x %.2f", frame_rect_attr(svg, "big", "x"),
	      frame_rect_attr(svg, "small", "x"));
	free(svg);
}

static void test_merging(void)
{
	const struct folded_stack stacks[] = {
		{ "main;work", 10 }, { "main;idle", 30 }, { "main;work", 10 }, { "main;;work", 5 },
	};
	const struct folded_stack shuffled[] = {
		{ "main;work", 10 }, { "main;;work", 5 }, { "main;idle", 30 }, { "main;work", 10 },
	};
	int err, err2;
	char *svg = render(stacks, 4, NULL, &err), *svg2 = render(shuffled, 4, NULL, &err2);

	CHECK("merging: written", svg && svg2, "err %d %d", err, err2);
	if (!svg || !svg2)
		goto out;
	CHECK("merging: identical stacks summed into one frame",
	      count_substr(svg, "<title>work (") == 1 &&
		      strstr(svg, "<title>work (25 samples, 45.45%)</title>"),
	      "%zu work frames", count_substr(svg, "<title>work ("));
	CHECK("merging: common prefix is one frame", count_substr(svg, "<title>main (") == 1,
	      "%zu main frames", count_substr(svg, "<title>main ("));
	CHECK("merging: output independent of input order", strcmp(svg, svg2) == 0,
	      "shuffled input changed the SVG");
out:
	free(svg);
	free(svg2);
}

static void test_escaping(void)
{
	const struct folded_stack stacks[] = {
		{ "main;std::vector<int, A&B>::push_back;say \"hi\" 'x'", 3 },
		{ "main;bad\x01\xff utf8", 1 },
	};
	int err;
	char *svg = render(stacks, 2, NULL, &err);

	CHECK("escaping: written", svg != NULL, "err %d", err);
	if (!svg)
		return;
	check_xml("escaping: well-formed per xmllint", svg);
	CHECK("escaping: < > & escaped",
	      find_frame(svg, "std::vector&lt;int, A&amp;B&gt;::push_back") != NULL &&
		      !strstr(svg, "<int"),
	      "template frame not escaped");
	CHECK("escaping: quotes escaped", find_frame(svg, "say &quot;hi&quot; &apos;x&apos;") != NULL,
	      "quotes not escaped");
	CHECK("escaping: control bytes and bad UTF-8 replaced", find_frame(svg, "bad?? utf8") != NULL,
	      "bytes not replaced");
	free(svg);
}

static void test_empty(void)
{
	const struct folded_stack zero[] = { { "main;idle", 0 } };
	int err, err2;
	char *svg = render(NULL, 0, NULL, &err), *svg2 = render(zero, 1, NULL, &err2);

	CHECK("empty: written", svg && svg2, "err %d %d", err, err2);
	if (!svg || !svg2)
		goto out;
	check_xml("empty: well-formed per xmllint", svg);
	CHECK("empty: says no samples", strstr(svg, "no samples") && !strstr(svg, "<title>"),
	      "no 'no samples' text, or frames drawn");
	CHECK("empty: all-zero values also say no samples", strstr(svg2, "no samples") != NULL,
	      "no 'no samples' text");
out:
	free(svg);
	free(svg2);
}

static void test_bad_input(void)
{
	const struct folded_stack null_stack[] = { { NULL, 1 } };
	const struct folded_stack big[] = { { "a", UINT64_MAX }, { "b", 1 } };
	const struct flamegraph_opts narrow = { .width = 10 };
	const struct folded_stack one[] = { { "a", 1 } };
	FILE *f = fopen("/dev/null", "w");

	CHECK("bad input: NULL file", flamegraph_write_svg(NULL, one, 1, NULL) == -EINVAL, "not -EINVAL");
	CHECK("bad input: NULL stacks", f && flamegraph_write_svg(f, NULL, 1, NULL) == -EINVAL,
	      "not -EINVAL");
	CHECK("bad input: NULL stack string", f && flamegraph_write_svg(f, null_stack, 1, NULL) == -EINVAL,
	      "not -EINVAL");
	CHECK("bad input: width too small", f && flamegraph_write_svg(f, one, 1, &narrow) == -EINVAL,
	      "not -EINVAL");
	CHECK("bad input: values summing past 2^64", f && flamegraph_write_svg(f, big, 2, NULL) == -EOVERFLOW,
	      "not -EOVERFLOW");
	if (f)
		fclose(f);
}

static void test_layout(void)
{
	const struct folded_stack stacks[] = {
		{ "main;a_function_with_a_rather_long_name_that_cannot_fit;leaf", 44000 },
		{ "main;other", 1000000 },
		{ "main;tiny", 1 },
	};
	struct flamegraph_opts opts = { .inverted = true };
	int err, err2;
	char *svg = render(stacks, 3, &opts, &err), *again = render(stacks, 3, &opts, &err2);

	CHECK("layout: written", svg && again, "err %d %d", err, err2);
	if (!svg || !again)
		goto out;
	check_xml("layout: inverted graph well-formed per xmllint", svg);
	CHECK("layout: repeated runs give identical output", strcmp(svg, again) == 0, "outputs differ");
	CHECK("layout: frame narrower than 0.1 px omitted and counted",
	      !find_frame(svg, "tiny") && strstr(svg, "1 narrower than 0.10 px omitted"),
	      "tiny frame drawn or not counted");
	CHECK("layout: long label truncated with ..", strstr(svg, ">a_fu..</text>") != NULL,
	      "no truncated label");
	CHECK("layout: inverted puts children below the root",
	      frame_rect_attr(svg, "leaf", "y") > frame_rect_attr(svg, "main", "y") &&
		      frame_rect_attr(svg, "main", "y") > frame_rect_attr(svg, "all", "y"),
	      "y order wrong");
	CHECK("layout: default title for inverted", strstr(svg, ">Icicle Graph</text>") != NULL,
	      "no default title");
out:
	free(svg);
	free(again);
}

static void test_parse_line(void)
{
	struct folded_stack fs = { 0 };
	char good[] = "main;read;vfs_read_[k] 42\n";
	char spaces[] = "[unknown] (deleted);foo bar 7";
	char trailing[] = "a;b 5   \r\n";
	char max[] = "a 18446744073709551615";
	char zero[] = "a 0";
	char no_value[] = "a;b;c\n";
	char blank_value[] = "a;b \n";
	char negative[] = "a;b -5";
	char non_numeric[] = "a;b 12x";
	char decimal[] = "a;b 1.5";
	char overflow[] = "a 18446744073709551616";
	char no_stack[] = "   5";
	char empty[] = "";

	CHECK("parse: good line", folded_parse_line(good, &fs) == 0 &&
					  strcmp(fs.stack, "main;read;vfs_read_[k]") == 0 && fs.value == 42,
	      "got '%s' %llu", fs.stack ? fs.stack : "", (unsigned long long)fs.value);
	CHECK("parse: frames with spaces, value after the last space",
	      folded_parse_line(spaces, &fs) == 0 &&
		      strcmp(fs.stack, "[unknown] (deleted);foo bar") == 0 && fs.value == 7,
	      "got '%s' %llu", fs.stack, (unsigned long long)fs.value);
	CHECK("parse: trailing spaces and CRLF ignored",
	      folded_parse_line(trailing, &fs) == 0 && strcmp(fs.stack, "a;b") == 0 && fs.value == 5,
	      "got '%s' %llu", fs.stack, (unsigned long long)fs.value);
	CHECK("parse: UINT64_MAX", folded_parse_line(max, &fs) == 0 && fs.value == UINT64_MAX,
	      "got %llu", (unsigned long long)fs.value);
	CHECK("parse: zero", folded_parse_line(zero, &fs) == 0 && fs.value == 0, "rejected");
	CHECK("parse: no value", folded_parse_line(no_value, &fs) == -EINVAL, "accepted");
	CHECK("parse: blank value", folded_parse_line(blank_value, &fs) == -EINVAL, "accepted");
	CHECK("parse: negative", folded_parse_line(negative, &fs) == -EINVAL, "accepted");
	CHECK("parse: non-numeric", folded_parse_line(non_numeric, &fs) == -EINVAL, "accepted");
	CHECK("parse: decimal", folded_parse_line(decimal, &fs) == -EINVAL, "accepted");
	CHECK("parse: overflow", folded_parse_line(overflow, &fs) == -EINVAL, "accepted");
	CHECK("parse: no stack", folded_parse_line(no_stack, &fs) == -EINVAL, "accepted");
	CHECK("parse: empty line", folded_parse_line(empty, &fs) == -EINVAL, "accepted");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Time one render of n stacks into a temp file; check it is well-formed. */
static void check_large(const char *name, struct folded_stack *stacks, size_t n)
{
	char path[] = "/tmp/test_flamegraph_big_XXXXXX";
	char what[128], cmd[128];
	int fd = mkstemp(path), err = -EIO, lint = -1;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	double start, secs = 0;

	if (f) {
		start = now_s();
		err = flamegraph_write_svg(f, stacks, n, NULL);
		secs = now_s() - start;
		fclose(f);
		if (have_xmllint()) {
			snprintf(cmd, sizeof(cmd), "xmllint --noout --huge %s", path);
			lint = system(cmd) == 0;
		}
	}
	if (fd >= 0)
		unlink(path);
	snprintf(what, sizeof(what), "%s: written in < 2 s", name);
	CHECK(what, err == 0 && secs < 2.0, "err %d, %.2f s", err, secs);
	snprintf(what, sizeof(what), "%s: well-formed per xmllint", name);
	CHECK(what, lint == 1, "%s", lint < 0 ? "xmllint not found: install libxml2-utils" : "rejected");
}

/* 100k stacks of depth 127: a shared trunk, 500 branches, a unique leaf each. */
static void test_large(void)
{
	enum { N = 100000, DEPTH = 127, TRUNK = 60 };
	struct folded_stack *stacks = calloc(N, sizeof(*stacks));
	bool ok = stacks != NULL;

	for (size_t i = 0; i < N && ok; i++) {
		char *s = malloc(DEPTH * 10), *p = s;

		if (!s) {
			ok = false;
			break;
		}
		for (int d = 0; d < DEPTH - 1; d++)
			p += d < TRUNK ? sprintf(p, "trunk%d;", d) : sprintf(p, "f%zu_%d;", i % 500, d);
		sprintf(p, "leaf%zu_[k]", i);
		stacks[i] = (struct folded_stack){ s, 1 + i % 7 };
	}
	CHECK("large: input built", ok, "out of memory");
	if (ok)
		check_large("large: 100k stacks depth 127", stacks, N);
	/* the same strings again as 100k siblings of one parent */
	for (size_t i = 0; i < N && ok; i++)
		sprintf((char *)stacks[i].stack, "main;sibling_%zu", i);
	if (ok)
		check_large("large: 100k siblings", stacks, N);
	for (size_t i = 0; stacks && i < N; i++)
		free((char *)stacks[i].stack);
	free(stacks);
}

int main(void)
{
	if (!have_xmllint())
		CHECK("xmllint available", false, "xmllint not found: install libxml2-utils");
	test_known_stacks();
	test_palettes();
	test_proportional_widths();
	test_merging();
	test_escaping();
	test_empty();
	test_bad_input();
	test_layout();
	test_parse_line();
	test_large();
	return check_failures() != 0;
}
