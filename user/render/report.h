/* user/report.h: the renderers of a model: the text report a person reads
 * top to bottom, and the same content as JSON. */
#ifndef POOLSCOPE_REPORT_H
#define POOLSCOPE_REPORT_H
#include <stdbool.h>
#include <stdio.h>
#include "model/model.h"
#include "model/diagnose.h"
#include "model/groups.h"
#include "render/json.h"

struct report_opts {
	const char *title;        /* what was traced, e.g. "cpu-threads -w 2" */
	char *const *argv;        /* the traced command, for JSON (NULL ok) */
	bool wide;                /* every thread, wider columns */
	int exit_status;          /* the workload's, -1 when none */
	unsigned max_cells;       /* width of the per-core strip; 0: 60 */
	unsigned interval;        /* attach -i: interval number (1..), 0: the whole trace */
	bool brief;               /* header, per-core table and top threads only */
	bool compact;             /* JSON on one line (one object per interval) */
	uint64_t wall_start;      /* CLOCK_REALTIME ns of the window's start, 0 if unknown */
	/* attach -a: a verdict per busy program instead of one for the machine */
	const struct program_group *groups;
	int ngroups;
};

/* The diagnosis d (of m, computed once by the caller) ends both. */
void report_text(FILE *out, const struct model *m, const struct diagnosis *d,
		 const struct report_opts *o);
void report_json(FILE *out, const struct model *m, const struct diagnosis *d,
		 const struct report_opts *o);

/* text printed from column at, wrapped at spaces so that no line passes
 * width (a word wider than a line stays whole); continuation lines are
 * indented by indent. Ends the line. */
void report_wrap_words(FILE *out, const char *text, size_t at, size_t indent, size_t width);

/* "\nDIAGNOSIS  <label> (confidence 0.92, high)\n  paragraph..." indented
 * by two columns, so lines stay within 80 columns. */
void report_diagnosis_text(FILE *out, const struct diagnosis *d);
/* Key "diagnosis" into the current JSON object: {"key", "verdict" (the same
 * string), "label", "confidence", "confidence_word", "text" (the paragraph
 * unwrapped: one line), "evidence": {name: value, ...}, "lock": {the lock's
 * identity fields} or null}. */
void report_diagnosis_json(struct json *j, const struct diagnosis *d);
/* The fields that name a lock and size its waiting (tgid, comm, caller,
 * lock_name, lock_symbol, stack, addrs, addr_symbols, waiters, waits,
 * wait_ns, share_waiters), into the current
 * JSON object: one writer for the report's locks and the diagnosis's. */
void json_lock_fields(struct json *j, const struct lock_summary *l);

#endif
