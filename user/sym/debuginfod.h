/* user/sym/debuginfod.h: fetch a stripped binary's debug file by build-id
 * from the servers in DEBUGINFOD_URLS (elfutils' libdebuginfod, loaded at
 * run time: poolscope runs without it, and only where a user set the
 * variable does it ask the network). Fetched files are cached by the
 * client (~/.cache/debuginfod_client). */
#ifndef POOLSCOPE_DEBUGINFOD_H
#define POOLSCOPE_DEBUGINFOD_H

struct sym_debuginfod;

/* A client, or NULL when DEBUGINFOD_URLS is unset or empty or
 * libdebuginfod.so.1 cannot be loaded. */
struct sym_debuginfod *sym_debuginfod_open(void);
/* The debug file of build_id (lowercase hex) as an open fd the caller
 * closes, or -errno (-ENOENT: no server has it). */
int sym_debuginfod_find(struct sym_debuginfod *d, const char *build_id);
void sym_debuginfod_close(struct sym_debuginfod *d);

#endif
