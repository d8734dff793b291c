/* user/flamegraph.c: folded stacks -> self-contained interactive SVG flame graph.
 *
 * Stacks are merged into a tree in one pass with a hash table keyed by
 * (parent node, frame name), so cost is linear in the number of frames;
 * siblings are then sorted by name with one qsort and the tree is emitted
 * depth first, which makes the output independent of input order. Frames
 * narrower than FG_MIN_WIDTH px are left out (counted in a comment). Colours
 * come from a hash of the frame name, so repeated runs give identical files.
 * The interactive part (hover details, click to zoom, search) is a small
 * inline script that reads each frame's sample offset and width from the
 * fg:x / fg:w attributes and its name from its <title>. */
#include "render/flamegraph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FG_DEFAULT_WIDTH 1200
#define FG_MIN_IMAGE_WIDTH 100
#define FG_XPAD 10
#define FG_FRAME_H 16
#define FG_FONT_SIZE 12
#define FG_FONT_WIDTH 0.59 /* average glyph width / font size, for Verdana */
#define FG_MIN_WIDTH 0.1   /* px; narrower frames are omitted */
#define FG_PAD_TOP (FG_FONT_SIZE * 3)
#define FG_PAD_SUBTITLE (FG_FONT_SIZE * 2)
#define FG_PAD_BOTTOM (FG_FONT_SIZE * 2 + 10)
#define FG_MAX_NODES (1u << 30)
#define FG_NS "urn:x-poolscope:flamegraph"

struct fg_node {
	const char *name; /* points into the caller's stack string */
	uint32_t len;
	uint32_t parent;
	uint32_t hash;      /* of (parent, name), for the child table */
	uint32_t depth;     /* root is 0 */
	uint32_t nchildren;
	uint32_t child0;    /* first child's position in fg_tree.order */
	uint64_t value;
};

struct fg_tree {
	struct fg_node *nodes; /* nodes[0] is the root, "all"; parents precede children */
	uint32_t count, cap;
	uint32_t *slots;       /* open addressing over node indexes; 0 = empty */
	uint32_t mask;
	uint32_t *order;       /* node indexes, siblings contiguous and sorted by name */
};

struct fg_sort_ent {
	const char *name;
	uint32_t len;
	uint32_t parent;
	uint32_t idx;
};

/* Everything the writer needs besides the tree; no state outlives a call. */
struct fg_layout {
	FILE *out;
	const struct flamegraph_opts *opts;
	const char *unit;
	int width, height;
	double plotw;      /* px for the full value range */
	uint64_t total;
	uint32_t max_depth; /* deepest drawn frame */
	int frames_top;     /* y of the top of the frame area */
};

static uint32_t fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* murmur3's finaliser: spreads FNV's weak low bits over the whole word */
static uint32_t mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static int tree_init(struct fg_tree *t)
{
	memset(t, 0, sizeof(*t));
	t->cap = 1024;
	t->nodes = malloc(t->cap * sizeof(*t->nodes));
	t->mask = 2047;
	t->slots = calloc(t->mask + 1, sizeof(*t->slots));
	if (!t->nodes || !t->slots)
		return -ENOMEM;
	t->nodes[0] = (struct fg_node){ .name = "all", .len = 3 };
	t->count = 1;
	return 0;
}

static void tree_free(struct fg_tree *t)
{
	free(t->nodes);
	free(t->slots);
	free(t->order);
}

static int tree_grow_slots(struct fg_tree *t)
{
	uint32_t mask = t->mask * 2 + 1;
	uint32_t *slots = calloc((size_t)mask + 1, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (uint32_t idx = 1; idx < t->count; idx++) {
		uint32_t i = t->nodes[idx].hash & mask;

		while (slots[i])
			i = (i + 1) & mask;
		slots[i] = idx;
	}
	free(t->slots);
	t->slots = slots;
	t->mask = mask;
	return 0;
}

/* Find or add the child of parent named name[0..len); its index in *idx. */
static int tree_child(struct fg_tree *t, uint32_t parent, const char *name, uint32_t len,
		      uint32_t *idx)
{
	uint32_t h = mix32(fnv1a(name, len) ^ (parent * 0x9e3779b1u));
	uint32_t i;
	int err;

	/* keep the load factor at or under one half */
	if ((size_t)(t->count + 1) * 2 > (size_t)t->mask + 1) {
		err = tree_grow_slots(t);
		if (err)
			return err;
	}
	for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
		const struct fg_node *nd = &t->nodes[t->slots[i]];

		if (nd->hash == h && nd->parent == parent && nd->len == len &&
		    memcmp(nd->name, name, len) == 0) {
			*idx = t->slots[i];
			return 0;
		}
	}
	if (t->count >= FG_MAX_NODES)
		return -ENOMEM;
	if (t->count == t->cap) {
		struct fg_node *nodes = realloc(t->nodes, (size_t)t->cap * 2 * sizeof(*nodes));

		if (!nodes)
			return -ENOMEM;
		t->nodes = nodes;
		t->cap *= 2;
	}
	t->nodes[t->count] = (struct fg_node){
		.name = name,
		.len = len,
		.parent = parent,
		.hash = h,
		.depth = t->nodes[parent].depth + 1,
	};
	t->nodes[parent].nchildren++;
	t->slots[i] = t->count;
	*idx = t->count++;
	return 0;
}

/* Add one stack; empty frames ("a;;b") are skipped. */
static int tree_add(struct fg_tree *t, const char *stack, uint64_t value)
{
	uint32_t parent = 0, idx;
	const char *p = stack;
	int err;

	if (t->nodes[0].value > UINT64_MAX - value)
		return -EOVERFLOW;
	t->nodes[0].value += value;
	while (*p) {
		const char *end = strchrnul(p, ';');
		size_t len = end - p;

		if (len > UINT32_MAX)
			return -EINVAL;
		if (len) {
			err = tree_child(t, parent, p, len, &idx);
			if (err)
				return err;
			/* cannot overflow: never more than the root's sum */
			t->nodes[idx].value += value;
			parent = idx;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int sort_ent_cmp(const void *a, const void *b)
{
	const struct fg_sort_ent *x = a, *y = b;
	int c;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);
	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* Sort every node's children by name into t->order and set child0. */
static int tree_order(struct fg_tree *t)
{
	uint32_t n = t->count - 1;
	struct fg_sort_ent *ents;

	free(t->slots); /* the child table is done with; give its memory back */
	t->slots = NULL;
	t->order = malloc((n ? n : 1) * sizeof(*t->order));
	ents = malloc((n ? n : 1) * sizeof(*ents));
	if (!t->order || !ents) {
		free(ents);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct fg_node *nd = &t->nodes[i + 1];

		ents[i] = (struct fg_sort_ent){ nd->name, nd->len, nd->parent, i + 1 };
	}
	qsort(ents, n, sizeof(*ents), sort_ent_cmp);
	for (uint32_t i = 0; i < n; i++) {
		t->order[i] = ents[i].idx;
		if (i == 0 || ents[i - 1].parent != ents[i].parent)
			t->nodes[ents[i].parent].child0 = i;
	}
	free(ents);
	return 0;
}

/* Length of the valid XML-safe UTF-8 sequence at s, or 0 if it is not one
 * (bad encoding, surrogate, U+FFFE/U+FFFF, or a control character XML 1.0
 * forbids). Such bytes are written as '?' so xmllint always accepts us. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;

	if (c < 0x80)
		return (c >= 0x20 || c == '\t') ? 1 : 0;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, surrogate, or past U+10FFFF */
	if (c == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))
		return 0;
	return n;
}

/* Characters (code points; each bad byte counts one) in s[0..len). */
static size_t xml_chars(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t chars = 0;

	for (size_t i = 0; i < len; chars++) {
		size_t n = utf8_seq_len(u + i, len - i);

		i += n ? n : 1;
	}
	return chars;
}

/* Write at most max_chars characters of s[0..len) as XML character data. */
static void xml_escape(FILE *out, const char *s, size_t len, size_t max_chars)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len && max_chars; max_chars--) {
		size_t n = utf8_seq_len(u + i, len - i);

		switch (n ? u[i] : 0) {
		case 0:
			fputc('?', out);
			i++;
			continue;
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			fwrite(s + i, 1, n, out);
		}
		i += n;
	}
}

static void xml_escape_str(FILE *out, const char *s)
{
	xml_escape(out, s, strlen(s), SIZE_MAX);
}

/* Fixed two decimals without printf's locale-dependent radix character. */
static void put_fixed2(FILE *out, double v)
{
	unsigned long long hundredths = v > 0 ? (unsigned long long)(v * 100.0 + 0.5) : 0;

	fprintf(out, "%llu.%02llu", hundredths / 100, hundredths % 100);
}

/* 1234567 -> "1,234,567", as flamegraph.pl prints sample counts */
static void put_grouped(FILE *out, uint64_t v)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);

	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			fputc(',', out);
		fputc(digits[i], out);
	}
}

static bool is_kernel_frame(const char *name, size_t len)
{
	return len >= 4 && memcmp(name + len - 4, "_[k]", 4) == 0;
}

/* Deterministic fill from the name: the hue family says what the frame is
 * (user, kernel, the "-" user/kernel separator), the hash varies the shade. */
static void put_fill(FILE *out, const char *name, size_t len, enum flamegraph_palette palette)
{
	uint32_t h = mix32(fnv1a(name, len));
	double v1 = (h & 0x3ff) / 1023.0, v2 = ((h >> 10) & 0x3ff) / 1023.0;
	double v3 = ((h >> 20) & 0x3ff) / 1023.0;
	int r, g, b;

	if (len == 1 && name[0] == '-') {
		r = g = b = 190;
	} else if (is_kernel_frame(name, len)) {
		if (palette == FG_PALETTE_IO) { /* aqua */
			r = 50 + 60 * v1;
			g = 165 + 55 * v1;
			b = 165 + 55 * v1;
		} else { /* orange to amber */
			r = 235 + 20 * v3;
			g = 150 + 60 * v1;
			b = 30 * v2;
		}
	} else {
		if (palette == FG_PALETTE_IO) { /* flamegraph.pl's "io" blues */
			r = 80 + 60 * v1;
			g = r;
			b = 190 + 55 * v1;
		} else { /* the red half of flamegraph.pl's "hot" */
			r = 205 + 50 * v3;
			g = 20 + 90 * v1;
			b = 10 + 50 * v2;
		}
	}
	fprintf(out, "rgb(%d,%d,%d)", r, g, b);
}

static void put_pct(FILE *out, uint64_t value, uint64_t total)
{
	put_fixed2(out, (double)value * 100.0 / (double)total);
}

/* Label that fits w px, cut with ".." as flamegraph.pl does; the script's
 * fit() uses the same rule after zooming. */
static void put_label(FILE *out, const char *name, size_t len, double w)
{
	double room = (w - 6) / (FG_FONT_SIZE * FG_FONT_WIDTH);
	size_t fits = room > 0 ? (size_t)room : 0;
	size_t chars;

	if (fits < 3)
		return;
	chars = xml_chars(name, len);
	if (chars <= fits) {
		xml_escape(out, name, len, SIZE_MAX);
	} else {
		xml_escape(out, name, len, fits - 2);
		fputs("..", out);
	}
}

static const char fg_style[] =
	"text { font-family: Verdana, \"DejaVu Sans\", sans-serif; font-size: 12px; fill: rgb(0,0,0); }\n"
	"#title { text-anchor: middle; font-size: 17px; }\n"
	"#subtitle { text-anchor: middle; fill: rgb(110,110,110); }\n"
	"#nosamples { text-anchor: middle; fill: rgb(110,110,110); font-size: 15px; }\n"
	"#unzoom, #search { cursor: pointer; opacity: 0.7; }\n"
	"#unzoom:hover, #search:hover { opacity: 1; }\n"
	"#search, #matched { text-anchor: end; }\n"
	"#frames > g { cursor: pointer; }\n"
	"#frames > g:hover > rect { stroke: rgb(0,0,0); stroke-width: 0.5; }\n"
	"#frames text { pointer-events: none; }\n"
	".hide { display: none; }\n"
	".parent { opacity: 0.5; }\n";

/* Kept free of "]]>" so the CDATA section cannot end early. */
static const char fg_script[] =
	"\"use strict\";\n"
	"var FG = \"" FG_NS "\", MATCH_FILL = \"rgb(230,0,230)\";\n"
	"var frames, details, unzoombtn, searchbtn, matched;\n"
	"var total, xpad, plotw, charw, inverted, list = [], searchterm = null;\n"
	"function init(evt) {\n"
	"\tframes = document.getElementById(\"frames\");\n"
	"\tdetails = document.getElementById(\"details\").firstChild;\n"
	"\tunzoombtn = document.getElementById(\"unzoom\");\n"
	"\tsearchbtn = document.getElementById(\"search\");\n"
	"\tmatched = document.getElementById(\"matched\");\n"
	"\ttotal = +frames.getAttributeNS(FG, \"total\");\n"
	"\txpad = +frames.getAttributeNS(FG, \"xpad\");\n"
	"\tplotw = +frames.getAttributeNS(FG, \"plotw\");\n"
	"\tcharw = +frames.getAttributeNS(FG, \"charw\");\n"
	"\tinverted = frames.getAttributeNS(FG, \"inverted\") === \"1\";\n"
	"\tfor (var g = frames.firstChild; g; g = g.nextSibling) {\n"
	"\t\tif (g.nodeType !== 1)\n"
	"\t\t\tcontinue;\n"
	"\t\tvar title = g.getElementsByTagName(\"title\")[0].textContent;\n"
	"\t\tvar rect = g.getElementsByTagName(\"rect\")[0];\n"
	"\t\tg.fg = { g: g, rect: rect, text: g.getElementsByTagName(\"text\")[0],\n"
	"\t\t\ttitle: title, name: title.slice(0, title.lastIndexOf(\" (\")),\n"
	"\t\t\tx: +g.getAttributeNS(FG, \"x\"), w: +g.getAttributeNS(FG, \"w\"),\n"
	"\t\t\ty: +rect.getAttribute(\"y\"), fill: rect.getAttribute(\"fill\") };\n"
	"\t\tlist.push(g.fg);\n"
	"\t}\n"
	"\tframes.addEventListener(\"mouseover\", function (e) {\n"
	"\t\tvar f = frame_of(e.target);\n"
	"\t\tif (f)\n"
	"\t\t\tdetails.nodeValue = \"Function: \" + f.title;\n"
	"\t});\n"
	"\tframes.addEventListener(\"mouseout\", function () { details.nodeValue = \" \"; });\n"
	"\tframes.addEventListener(\"click\", function (e) {\n"
	"\t\tvar f = frame_of(e.target);\n"
	"\t\tif (f)\n"
	"\t\t\tzoom(f);\n"
	"\t});\n"
	"\tunzoombtn.addEventListener(\"click\", unzoom);\n"
	"\tsearchbtn.addEventListener(\"click\", function () {\n"
	"\t\tif (searchterm !== null)\n"
	"\t\t\treset_search();\n"
	"\t\telse\n"
	"\t\t\tsearch_prompt();\n"
	"\t});\n"
	"\twindow.addEventListener(\"keydown\", function (e) {\n"
	"\t\tif ((e.ctrlKey || e.metaKey) && (e.key === \"f\" || e.keyCode === 70)) {\n"
	"\t\t\te.preventDefault();\n"
	"\t\t\tsearch_prompt();\n"
	"\t\t} else if (e.key === \"Escape\") {\n"
	"\t\t\tif (searchterm !== null)\n"
	"\t\t\t\treset_search();\n"
	"\t\t\telse\n"
	"\t\t\t\tunzoom();\n"
	"\t\t}\n"
	"\t});\n"
	"}\n"
	"function frame_of(el) {\n"
	"\tfor (; el && el !== frames; el = el.parentNode)\n"
	"\t\tif (el.fg)\n"
	"\t\t\treturn el.fg;\n"
	"\treturn null;\n"
	"}\n"
	"function label(name, w) {\n"
	"\tvar fits = Math.floor((w - 6) / charw);\n"
	"\tif (fits < 3)\n"
	"\t\treturn \"\";\n"
	"\treturn name.length <= fits ? name : name.slice(0, fits - 2) + \"..\";\n"
	"}\n"
	"function place(f, x, w, cls) {\n"
	"\tf.g.setAttribute(\"class\", cls);\n"
	"\tif (cls === \"hide\")\n"
	"\t\treturn;\n"
	"\tf.rect.setAttribute(\"x\", x.toFixed(2));\n"
	"\tf.rect.setAttribute(\"width\", w.toFixed(2));\n"
	"\tf.text.setAttribute(\"x\", (x + 3).toFixed(2));\n"
	"\tf.text.textContent = label(f.name, w);\n"
	"}\n"
	"function zoom(z) {\n"
	"\tif (z.w >= total) {\n"
	"\t\tunzoom();\n"
	"\t\treturn;\n"
	"\t}\n"
	"\tunzoombtn.setAttribute(\"class\", \"\");\n"
	"\tfor (var i = 0; i < list.length; i++) {\n"
	"\t\tvar f = list[i], deeper = inverted ? f.y > z.y : f.y < z.y;\n"
	"\t\tif (f === z || (deeper && f.x >= z.x && f.x + f.w <= z.x + z.w))\n"
	"\t\t\tplace(f, xpad + (f.x - z.x) * plotw / z.w, f.w * plotw / z.w, \"\");\n"
	"\t\telse if (!deeper && f.y !== z.y && f.x <= z.x && f.x + f.w >= z.x + z.w)\n"
	"\t\t\tplace(f, xpad, plotw, \"parent\");\n"
	"\t\telse\n"
	"\t\t\tplace(f, 0, 0, \"hide\");\n"
	"\t}\n"
	"}\n"
	"function unzoom() {\n"
	"\tunzoombtn.setAttribute(\"class\", \"hide\");\n"
	"\tfor (var i = 0; i < list.length; i++) {\n"
	"\t\tvar f = list[i];\n"
	"\t\tplace(f, xpad + f.x * plotw / total, f.w * plotw / total, \"\");\n"
	"\t}\n"
	"}\n"
	"function search_prompt() {\n"
	"\tvar term = prompt(\"Search frames (regular expression):\", searchterm || \"\");\n"
	"\tif (term)\n"
	"\t\tsearch(term);\n"
	"}\n"
	"function search(term) {\n"
	"\tvar re, hits = [], covered = 0, end = 0;\n"
	"\ttry {\n"
	"\t\tre = new RegExp(term);\n"
	"\t} catch (err) {\n"
	"\t\tre = new RegExp(term.replace(/[.*+?^${}()|[\\]\\\\]/g, \"\\\\$&\"));\n"
	"\t}\n"
	"\tfor (var i = 0; i < list.length; i++) {\n"
	"\t\tvar f = list[i], hit = re.test(f.name);\n"
	"\t\tf.rect.setAttribute(\"fill\", hit ? MATCH_FILL : f.fill);\n"
	"\t\tif (hit)\n"
	"\t\t\thits.push(f);\n"
	"\t}\n"
	"\t/* frames nest, so count each matched range once: outermost first */\n"
	"\thits.sort(function (a, b) { return a.x - b.x || b.w - a.w; });\n"
	"\tfor (var j = 0; j < hits.length; j++) {\n"
	"\t\tif (hits[j].x + hits[j].w > end) {\n"
	"\t\t\tcovered += hits[j].x + hits[j].w - Math.max(hits[j].x, end);\n"
	"\t\t\tend = hits[j].x + hits[j].w;\n"
	"\t\t}\n"
	"\t}\n"
	"\tsearchterm = term;\n"
	"\tsearchbtn.firstChild.nodeValue = \"Reset Search\";\n"
	"\tmatched.firstChild.nodeValue = \"Matched: \" + (100 * covered / total).toFixed(2) + \"%\";\n"
	"}\n"
	"function reset_search() {\n"
	"\tfor (var i = 0; i < list.length; i++)\n"
	"\t\tlist[i].rect.setAttribute(\"fill\", list[i].fill);\n"
	"\tsearchterm = null;\n"
	"\tsearchbtn.firstChild.nodeValue = \"Search\";\n"
	"\tmatched.firstChild.nodeValue = \" \";\n"
	"}\n";

static void put_header(const struct fg_layout *l, bool interactive)
{
	FILE *out = l->out;
	const char *title = l->opts->title;
	bool hot = l->opts->palette != FG_PALETTE_IO;

	if (!title)
		title = l->opts->inverted ? "Icicle Graph" : "Flame Graph";
	fputs("<?xml version=\"1.0\" standalone=\"no\"?>\n", out);
	fprintf(out,
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\"%s"
		" xmlns=\"http://www.w3.org/2000/svg\" xmlns:fg=\"" FG_NS "\">\n",
		l->width, l->height, l->width, l->height,
		interactive ? " onload=\"init(evt)\"" : "");
	/* the background gradients of flamegraph.pl's hot and io palettes */
	fprintf(out,
		"<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
		"<stop stop-color=\"#eeeeee\" offset=\"5%%\"/>"
		"<stop stop-color=\"%s\" offset=\"95%%\"/></linearGradient></defs>\n",
		hot ? "#eeeeb0" : "#e0e0ff");
	fprintf(out, "<style type=\"text/css\"><![CDATA[\n%s]]></style>\n", fg_style);
	if (interactive)
		fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n",
			fg_script);
	fputs("<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"url(#background)\"/>\n",
	      out);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"%d\">", l->width / 2, FG_FONT_SIZE * 2);
	xml_escape_str(out, title);
	fputs("</text>\n", out);
	if (l->opts->subtitle) {
		fprintf(out, "<text id=\"subtitle\" x=\"%d\" y=\"%d\">", l->width / 2,
			FG_FONT_SIZE * 4);
		xml_escape_str(out, l->opts->subtitle);
		fputs("</text>\n", out);
	}
}

static void put_frame(const struct fg_layout *l, const struct fg_node *nd, uint64_t x)
{
	FILE *out = l->out;
	double px = FG_XPAD + (double)x * l->plotw / (double)l->total;
	double pw = (double)nd->value * l->plotw / (double)l->total;
	int y = l->opts->inverted ? l->frames_top + (int)nd->depth * FG_FRAME_H
				  : l->frames_top + (int)(l->max_depth - nd->depth) * FG_FRAME_H;

	fprintf(out, "<g fg:x=\"%llu\" fg:w=\"%llu\"><title>", (unsigned long long)x,
		(unsigned long long)nd->value);
	xml_escape(out, nd->name, nd->len, SIZE_MAX);
	fputs(" (", out);
	put_grouped(out, nd->value);
	fputc(' ', out);
	xml_escape_str(out, l->unit);
	fputs(", ", out);
	put_pct(out, nd->value, l->total);
	fputs("%)</title><rect x=\"", out);
	put_fixed2(out, px);
	fprintf(out, "\" y=\"%d\" width=\"", y);
	put_fixed2(out, pw);
	fprintf(out, "\" height=\"%d\" fill=\"", FG_FRAME_H - 1);
	put_fill(out, nd->name, nd->len, l->opts->palette);
	fputs("\" rx=\"2\" ry=\"2\"/><text x=\"", out);
	put_fixed2(out, px + 3);
	fprintf(out, "\" y=\"%d.5\">", y + 10);
	put_label(out, nd->name, nd->len, pw);
	fputs("</text></g>\n", out);
}

static bool frame_drawn(const struct fg_layout *l, uint64_t value)
{
	return (double)value * l->plotw / (double)l->total >= FG_MIN_WIDTH;
}

/* Emit the drawn frames depth first, children in name order. */
static int put_frames(const struct fg_layout *l, const struct fg_tree *t)
{
	struct dfs_ent {
		uint32_t node, next;
		uint64_t cursor; /* sample offset of the next child */
	} *stack;
	size_t sp = 0;

	stack = malloc(((size_t)l->max_depth + 1) * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	put_frame(l, &t->nodes[0], 0);
	stack[sp++] = (struct dfs_ent){ 0, 0, 0 };
	while (sp) {
		struct dfs_ent *top = &stack[sp - 1];
		const struct fg_node *nd = &t->nodes[top->node];
		uint32_t child;
		uint64_t x;

		if (top->next == nd->nchildren) {
			sp--;
			continue;
		}
		child = t->order[nd->child0 + top->next++];
		x = top->cursor;
		top->cursor += t->nodes[child].value;
		/* children are never wider than their parent: skip the subtree */
		if (!frame_drawn(l, t->nodes[child].value))
			continue;
		put_frame(l, &t->nodes[child], x);
		stack[sp++] = (struct dfs_ent){ child, 0, x };
	}
	free(stack);
	return 0;
}

static void put_no_samples(struct fg_layout *l)
{
	l->height = FG_PAD_TOP + (l->opts->subtitle ? FG_PAD_SUBTITLE : 0) + 3 * FG_FRAME_H +
		    FG_PAD_BOTTOM;
	put_header(l, false);
	fprintf(l->out, "<text id=\"nosamples\" x=\"%d\" y=\"%d\">no samples</text>\n</svg>\n",
		l->width / 2, l->height - FG_PAD_BOTTOM - FG_FRAME_H);
}

static int write_svg(struct fg_layout *l, struct fg_tree *t)
{
	FILE *out = l->out;
	uint32_t drawn = 0, omitted = 0;
	int err;

	l->total = t->nodes[0].value;
	if (!l->total) {
		put_no_samples(l);
		return 0;
	}
	err = tree_order(t);
	if (err)
		return err;
	for (uint32_t i = 0; i < t->count; i++) {
		if (!frame_drawn(l, t->nodes[i].value)) {
			omitted++;
			continue;
		}
		drawn++;
		if (t->nodes[i].depth > l->max_depth)
			l->max_depth = t->nodes[i].depth;
	}
	l->frames_top = FG_PAD_TOP + (l->opts->subtitle ? FG_PAD_SUBTITLE : 0);
	l->height = l->frames_top + ((int)l->max_depth + 1) * FG_FRAME_H + FG_PAD_BOTTOM;

	put_header(l, true);
	fprintf(out, "<!-- %u frames drawn, %u narrower than ", drawn, omitted);
	put_fixed2(out, FG_MIN_WIDTH);
	fputs(" px omitted -->\n", out);
	fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%d\"> </text>\n", FG_XPAD,
		l->height - FG_PAD_BOTTOM / 2);
	fprintf(out, "<text id=\"unzoom\" class=\"hide\" x=\"%d\" y=\"%d\">Reset Zoom</text>\n",
		FG_XPAD, FG_FONT_SIZE * 2);
	fprintf(out, "<text id=\"search\" x=\"%d\" y=\"%d\">Search</text>\n",
		l->width - FG_XPAD, FG_FONT_SIZE * 2);
	fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%d\"> </text>\n", l->width - FG_XPAD,
		l->height - FG_PAD_BOTTOM / 2);
	fprintf(out, "<g id=\"frames\" fg:total=\"%llu\" fg:xpad=\"%d\" fg:plotw=\"%d\"",
		(unsigned long long)l->total, FG_XPAD, l->width - 2 * FG_XPAD);
	fputs(" fg:charw=\"", out);
	put_fixed2(out, FG_FONT_SIZE * FG_FONT_WIDTH);
	fprintf(out, "\" fg:inverted=\"%d\">\n", l->opts->inverted ? 1 : 0);
	err = put_frames(l, t);
	if (err)
		return err;
	fputs("</g>\n</svg>\n", out);
	return 0;
}

int flamegraph_write_svg(FILE *out, const struct folded_stack *stacks, size_t n,
			 const struct flamegraph_opts *opts)
{
	static const struct flamegraph_opts defaults;
	struct fg_layout layout = { .out = out, .opts = opts ? opts : &defaults };
	struct fg_tree tree;
	int err;

	if (!out || (n && !stacks))
		return -EINVAL;
	layout.width = layout.opts->width ? layout.opts->width : FG_DEFAULT_WIDTH;
	if (layout.width < FG_MIN_IMAGE_WIDTH)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!stacks[i].stack)
			return -EINVAL;
	layout.unit = layout.opts->unit ? layout.opts->unit : "samples";
	layout.plotw = layout.width - 2 * FG_XPAD;

	err = tree_init(&tree);
	for (size_t i = 0; i < n && !err; i++)
		if (stacks[i].value)
			err = tree_add(&tree, stacks[i].stack, stacks[i].value);
	if (!err)
		err = write_svg(&layout, &tree);
	tree_free(&tree);
	if (err)
		return err;
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}

int folded_parse_line(char *line, struct folded_stack *out)
{
	size_t end, sep, stack_end;
	uint64_t value = 0;

	if (!line || !out)
		return -EINVAL;
	end = strlen(line);
	while (end && strchr(" \t\r\n", line[end - 1]))
		end--;
	sep = end;
	while (sep && line[sep - 1] != ' ' && line[sep - 1] != '\t')
		sep--;
	if (sep == 0 || sep == end)
		return -EINVAL; /* no blank, or nothing after the last one */
	for (size_t i = sep; i < end; i++) {
		unsigned digit = (unsigned char)line[i] - '0';

		if (digit > 9 || value > (UINT64_MAX - digit) / 10)
			return -EINVAL;
		value = value * 10 + digit;
	}
	stack_end = sep;
	while (stack_end && (line[stack_end - 1] == ' ' || line[stack_end - 1] == '\t'))
		stack_end--;
	if (stack_end == 0)
		return -EINVAL;
	line[stack_end] = '\0';
	out->stack = line;
	out->value = value;
	return 0;
}
