/* user/flamegraph.h: write folded stacks as a self-contained interactive SVG
 * flame graph (the flamegraph.pl look, no Perl needed).
 *
 * Input is the folded format poolscope exports: "root;...;leaf VALUE", root
 * first, kernel frames ending in "_[k]", a "-" frame between the user and
 * kernel parts. The SVG embeds its own JavaScript: hover details, click to
 * zoom, "Reset Zoom", and search (ctrl-F) with the matched percentage. */
#ifndef POOLSCOPE_FLAMEGRAPH_H
#define POOLSCOPE_FLAMEGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct folded_stack {
	const char *stack; /* "a;b;c", root first */
	uint64_t value;
};

enum flamegraph_palette {
	FG_PALETTE_HOT, /* on-CPU: warm; user frames red, kernel frames orange */
	FG_PALETTE_IO,  /* off-CPU: blue; user frames blue, kernel frames aqua */
};

struct flamegraph_opts {
	const char *title;    /* NULL: "Flame Graph" ("Icicle Graph" if inverted) */
	const char *unit;     /* e.g. "us"; NULL: "samples" */
	const char *subtitle; /* optional, NULL ok */
	int width;            /* px; 0 means 1200; otherwise at least 100 */
	bool inverted;        /* icicle: root at the top */
	enum flamegraph_palette palette;
};

/* Write a complete SVG document to out. Stacks need not be sorted or unique
 * (equal prefixes are merged); zero values are ignored and the output does
 * not depend on input order. Empty input gives a valid "no samples" SVG.
 * opts may be NULL for defaults. Returns 0, -EINVAL (NULL out or stack,
 * bad width), -EOVERFLOW (values sum past 2^64), -ENOMEM or -EIO. */
int flamegraph_write_svg(FILE *out, const struct folded_stack *stacks, size_t n,
			 const struct flamegraph_opts *opts);

/* Parse one folded line, "stack VALUE" with the value after the last blank,
 * in place: the stack is NUL-terminated inside line and out->stack points to
 * it. Trailing whitespace (the newline) is ignored; frames may contain
 * spaces. Returns 0, or -EINVAL if the value is missing, not a plain
 * unsigned decimal, overflows 64 bits, or the stack is empty. */
int folded_parse_line(char *line, struct folded_stack *out);

#endif
