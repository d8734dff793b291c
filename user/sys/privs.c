/* user/privs.c: sudo-aware privilege handling (see privs.h). */
#include "sys/privs.h"
#include "sys/util.h"
#include <errno.h>
#include <fcntl.h>
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

FILE *output_open(const struct invoker *inv, const char *path)
{
	int fd, err;
	FILE *f;

	if (!strcmp(path, "-"))
		return stdout;
	if (inv->sudo) {
		setfsgid(inv->gid);
		setfsuid(inv->uid);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	err = errno;
	if (inv->sudo) {
		setfsuid(geteuid());
		setfsgid(getegid());
	}
	if (fd < 0) {
		if (err == ELOOP)
			ps_err("refusing to write %s: it is a symbolic link", path);
		else
			ps_err("cannot write %s: %s", path, strerror(err));
		return NULL;
	}
	f = fdopen(fd, "w");
	if (!f) {
		ps_err("cannot write %s: %s", path, strerror(errno));
		close(fd);
	}
	return f;
}
