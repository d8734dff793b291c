/* user/sys/privs.c: sudo-aware privilege handling (see privs.h). */
#include "sys/privs.h"
#include "sys/util.h"
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <unistd.h>

int invoker_get(struct invoker *inv)
{
	const char *u = getenv("SUDO_UID"), *g = getenv("SUDO_GID");
	uint64_t uid, gid;

	memset(inv, 0, sizeof(*inv));
	inv->uid = getuid();
	inv->gid = getgid();
	if (!u || !g || geteuid() != 0)
		return 0;
	if (parse_u64(u, 0, 0xfffffffe, &uid) || parse_u64(g, 0, 0xfffffffe, &gid))
		return -EINVAL;
	inv->sudo = true;
	inv->uid = uid;
	inv->gid = gid;
	return 0;
}

int invoker_drop(const struct invoker *inv)
{
	if (!inv->sudo)
		return 0;
	if (setgroups(0, NULL) || setresgid(inv->gid, inv->gid, inv->gid) ||
	    setresuid(inv->uid, inv->uid, inv->uid))
		return -errno;
	return 0;
}

void as_invoker(const struct invoker *inv)
{
	if (inv->sudo) {
		setfsgid(inv->gid);
		setfsuid(inv->uid);
	}
}

void as_root(const struct invoker *inv)
{
	if (inv->sudo) {
		setfsuid(geteuid());
		setfsgid(getegid());
	}
}
