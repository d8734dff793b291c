/* user/sys/output.h: output files that never lie about having been
 * written. A new or regular file is written to a temporary file beside it
 * and renamed into place at the end, so an interrupted or failed run leaves
 * the old file (or none), never a truncated one; a device or FIFO (/dev/null,
 * /dev/full, a pipe) is written in place. A write error (ENOSPC, EIO) is one
 * line naming the file and the cause. */
#ifndef POOLSCOPE_OUTPUT_H
#define POOLSCOPE_OUTPUT_H
#include <stdbool.h>
#include <stdio.h>
#include "sys/privs.h"

struct output {
	const char *path;          /* as given; "-" is standard output */
	FILE *f;                   /* write here (memory, written out at flush/commit) */
	char *tmp;                 /* renamed to path by output_commit; NULL: in place */
	const struct invoker *inv;
	int fd;                    /* the file (or 1), -1 when closed */
	char *buf;                 /* f's memory */
	size_t len;
};

/* Open path for writing with the invoking user's file permissions (the file
 * is theirs; a directory or file they cannot write is refused), never
 * through a symlink. Prints one error line on failure; 0 or -errno. */
int output_open(struct output *o, const struct invoker *inv, const char *path);
/* Flush and close; rename into place. 0, or -errno after one line
 * "CMD: writing PATH: cause" (the temporary file removed). */
int output_commit(struct output *o, const char *cmd);
/* Write out what was written so far (one interval's JSON line), keeping
 * the file open. 0, or -errno after one line. */
int output_flush(struct output *o, const char *cmd);
/* Close without keeping anything written (an error before the end). */
void output_discard(struct output *o);

#endif
