/* user/sys/privs.h: who the invoking user is under sudo, dropping to that
 * user for the traced workload, and acting with that user's file
 * permissions. */
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
/* Run the calls between as_invoker and as_root with the invoking user's
 * file permissions (fsuid/fsgid): what they create is the user's. */
void as_invoker(const struct invoker *inv);
void as_root(const struct invoker *inv);

#endif
