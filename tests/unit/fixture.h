/* tests/unit/fixture.h: run a fixture program (tests/unit/fixtures) and read
 * what it says about itself, the independent truth of the symbolizer tests.
 *
 * A fixture prints lines up to "ready", then waits for EOF on stdin (so its
 * maps can be read while it lives). Two line forms:
 *   KIND NAME ADDRESS       C fixtures: "exe pie_static_fn 0x55d0..."
 *   KIND ADDRESS NAME...    where NAME has spaces: "exe 0x55d0... long f<long>(long)"
 * KIND is exe, lib, data, heap, stack or jit. Header-only, like check.h. */
#ifndef POOLSCOPE_FIXTURE_H
#define POOLSCOPE_FIXTURE_H
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FNS 16

struct fixture {
	pid_t pid;
	int to_child;
	FILE *from_child;
	int nfns;
	struct {
		char where[8];
		char name[256];
		uint64_t addr;
	} fns[MAX_FNS];
};

static inline const char *base_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

static inline void fixture_parse_line(struct fixture *fx, const char *line)
{
	char where[8], a[256];
	int at = 0;

	if (fx->nfns >= MAX_FNS || sscanf(line, "%7s %255s %n", where, a, &at) < 2)
		return;
	snprintf(fx->fns[fx->nfns].where, sizeof(fx->fns[0].where), "%s", where);
	if (!strncmp(a, "0x", 2)) { /* KIND ADDRESS NAME... */
		fx->fns[fx->nfns].addr = strtoull(a, NULL, 16);
		snprintf(fx->fns[fx->nfns].name, sizeof(fx->fns[0].name), "%.*s",
			 (int)strcspn(line + at, "\n"), line + at);
	} else {
		void *addr;

		if (sscanf(line + at, "%p", &addr) != 1)
			return;
		snprintf(fx->fns[fx->nfns].name, sizeof(fx->fns[0].name), "%s", a);
		fx->fns[fx->nfns].addr = (uint64_t)(uintptr_t)addr;
	}
	fx->nfns++;
}

/* Start argv[0] with argv (NULL-terminated) and read what it prints up to
 * "ready". 0 or -1. */
static inline int fixture_start_argv(char *const argv[], struct fixture *fx)
{
	int in[2], out[2];
	char line[512];

	memset(fx, 0, sizeof(*fx));
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	fx->pid = fork();
	if (fx->pid < 0)
		return -1;
	if (fx->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fx->to_child = in[1];
	fx->from_child = fdopen(out[0], "r");
	while (fx->from_child && fgets(line, sizeof(line), fx->from_child)) {
		if (!strcmp(line, "ready\n"))
			return 0;
		fixture_parse_line(fx, line);
	}
	return -1;
}

static inline int fixture_start(const char *exe, struct fixture *fx)
{
	char *const argv[] = { (char *)exe, NULL };

	return fixture_start_argv(argv, fx);
}

/* Close its stdin so it exits, and reap it. */
static inline void fixture_stop(struct fixture *fx)
{
	if (fx->to_child > 0)
		close(fx->to_child);
	if (fx->from_child)
		fclose(fx->from_child);
	if (fx->pid > 0)
		waitpid(fx->pid, NULL, 0);
	fx->to_child = 0;
	fx->from_child = NULL;
}

/* The address the fixture printed for name (or for KIND "where" with name
 * "-"), 0 if none. */
static inline uint64_t fixture_addr(const struct fixture *fx, const char *name)
{
	for (int i = 0; i < fx->nfns; i++)
		if (!strcmp(fx->fns[i].name, name) || (!strcmp(fx->fns[i].name, "-") &&
							!strcmp(fx->fns[i].where, name)))
			return fx->fns[i].addr;
	return 0;
}

#endif
