/* user/sys/output.c: output files written whole or not at all (see output.h). */
#include "sys/output.h"
#include "sys/util.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ".NAME.poolscope-PID-N" beside path: hidden, and never a name poolscope
 * would be asked to write. */
static int open_temp(const char *path, char **tmp_out)
{
	char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX + 64];

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	for (int n = 0; n < 100; n++) {
		int fd;

		snprintf(tmp, sizeof(tmp), "%s/.%s.poolscope-%d-%d", dirname(dir), basename(base),
			 (int)getpid(), n);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0) {
			*tmp_out = xstrdup(tmp);
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
		snprintf(dir, sizeof(dir), "%s", path);
		snprintf(base, sizeof(base), "%s", path);
	}
	return -EEXIST;
}

/* Written to memory, then to the file with write(2), which says exactly
 * why it failed: stdio loses the errno of a failed flush in the middle. */
static void start_buffer(struct output *o)
{
	o->buf = NULL;
	o->len = 0;
	o->f = open_memstream(&o->buf, &o->len);
	if (!o->f) {
		ps_err("out of memory");
		exit(1);
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= w;
	}
	return 0;
}

/* What f holds so far, to the fd; f starts afresh. */
static int drain(struct output *o)
{
	int err;

	fclose(o->f);
	err = write_all(o->fd, o->buf, o->len);
	free(o->buf);
	start_buffer(o);
	return err;
}

int output_open(struct output *o, const struct invoker *inv, const char *path)
{
	struct stat st;
	int fd = -1, err = 0;

	memset(o, 0, sizeof(*o));
	o->path = path;
	o->inv = inv;
	o->fd = -1;
	if (!strcmp(path, "-")) {
		o->fd = 1;
		start_buffer(o);
		return 0;
	}
	as_invoker(inv);
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		err = -ELOOP;
	} else if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* a device or FIFO: written in place */
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		err = fd < 0 ? -errno : 0;
	} else {
		/* a file that exists must be writable by the user, as if opened
		 * for writing in place */
		if (lstat(path, &st) == 0) {
			fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				err = -errno;
			else
				close(fd);
		}
		fd = err ? -1 : open_temp(path, &o->tmp);
		if (!err && fd < 0)
			err = fd;
	}
	as_root(inv);
	if (err == -ELOOP)
		ps_err("refusing to write %s: it is a symbolic link", path);
	else if (err)
		ps_err("cannot write %s: %s", path, strerror(-err));
	if (err)
		return err;
	o->fd = fd;
	start_buffer(o);
	return 0;
}

static const char *shown_name(const struct output *o)
{
	return strcmp(o->path, "-") ? o->path : "standard output";
}

int output_flush(struct output *o, const char *cmd)
{
	int err;

	if (!o->f)
		return 0;
	err = drain(o);
	if (err)
		ps_err("%s: writing %s: %s", cmd, shown_name(o), strerror(-err));
	return err;
}

int output_commit(struct output *o, const char *cmd)
{
	int err;

	if (!o->f)
		return 0;
	err = drain(o);
	fclose(o->f);
	free(o->buf);
	o->f = NULL;
	o->buf = NULL;
	if (o->fd != 1 && close(o->fd) && !err)
		err = -errno;
	o->fd = -1;
	if (!err && o->tmp) {
		as_invoker(o->inv);
		if (rename(o->tmp, o->path))
			err = -errno;
		as_root(o->inv);
	}
	if (err) {
		ps_err("%s: writing %s: %s", cmd, shown_name(o), strerror(-err));
		if (o->tmp)
			unlink(o->tmp);
	}
	free(o->tmp);
	o->tmp = NULL;
	return err;
}

void output_discard(struct output *o)
{
	if (o->f) {
		fclose(o->f);
		free(o->buf);
	}
	o->f = NULL;
	o->buf = NULL;
	if (o->fd > 2)
		close(o->fd);
	o->fd = -1;
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
}
