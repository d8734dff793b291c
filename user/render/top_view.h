/* user/render/top_view.h: the screen of `poolscope top` as plain rows of
 * characters, each with an attribute (traced, other, header, ...), laid out
 * for any terminal size from the model of the last interval. No curses
 * here: cmd/top.c draws the rows, and unit tests read them. ASCII only, so
 * that any TERM and locale shows the same screen. */
#ifndef POOLSCOPE_TOP_VIEW_H
#define POOLSCOPE_TOP_VIEW_H
#include <stdbool.h>
#include <stdint.h>
#include "model/model.h"
#include "model/diagnose.h"

enum top_attr {
	TOP_NORMAL,
	TOP_TITLE,      /* the first and last rows */
	TOP_HEADER,     /* column headers */
	TOP_SORTED,     /* the header of the column the threads are sorted by */
	TOP_TRACED,     /* the traced threads' part of a busy bar */
	TOP_OTHER,      /* the other tasks' part */
	TOP_WARN,       /* dropped events */
	TOP_ATTRS,
};

enum top_sort { TOP_SORT_CPU, TOP_SORT_RUNQ, TOP_SORT_SWITCHES, TOP_SORT_LOCK, TOP_SORT_TID, TOP_SORTS };
enum top_mode { TOP_PER_CORE, TOP_PER_THREAD };

/* What the screen shows. */
struct top_view {
	const char *title;            /* "top -p 1234" */
	const struct model *m;        /* the last interval; NULL before the first */
	const struct diagnosis *d;    /* its verdict */
	uint64_t elapsed_ns;          /* since tracing began */
	uint64_t dropped;             /* since tracing began */
	uint64_t interval_ns;         /* -i */
	uint64_t wall_end_ns;         /* CLOCK_REALTIME of the interval's end; 0: unknown */
	enum top_mode mode;
	enum top_sort sort;
	bool paused;
};

struct top_screen {
	int rows, cols;
	char *text;                   /* rows x (cols + 1): each row NUL-terminated */
	unsigned char *attr;          /* rows x cols: enum top_attr */
};

/* The smallest screen laid out; a smaller one gets one line saying so. */
#define TOP_MIN_COLS 40
#define TOP_MIN_ROWS 8

/* (Re)size s to rows x cols (at least 1 x 1). */
void top_screen_resize(struct top_screen *s, int rows, int cols);
void top_screen_free(struct top_screen *s);
/* Row r's text (cols characters, padded with spaces). */
static inline const char *top_row(const struct top_screen *s, int r)
{
	return s->text + (size_t)r * (s->cols + 1);
}

/* Lay out v on s: every row is rewritten. */
void top_render(const struct top_view *v, struct top_screen *s);

/* "on-CPU", "run-queue wait", ... */
const char *top_sort_name(enum top_sort sort);

#endif
