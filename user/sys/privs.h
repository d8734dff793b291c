/* user/privs.h: who the invoking user is under sudo, dropping to that user
 * for the traced workload, and opening output files as that user. */
#ifndef POOLSCOPE_PRIVS_H
#define POOLSCOPE_PRIVS_H
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

struct invoker {
	bool sudo;          /* SUDO_UID/SUDO_GID set and we are root */
	uid_t uid;
	gid_t gid;
};

/* Read SUDO_UID/SUDO_GID; 0 or -EINVAL for malformed values. */
int invoker_get(struct invoker *inv);
/* In a child about to exec: become the invoking user, supplementary groups
 * dropped, as perf and strace do. 0 or -errno. */
int invoker_drop(const struct invoker *inv);
/* Open path for writing ("-" is stdout) with the invoking user's file
 * permissions (so the file is theirs and a directory they cannot write is
 * refused), never through a symlink. Prints one error line on failure. */
FILE *output_open(const struct invoker *inv, const char *path);

#endif
