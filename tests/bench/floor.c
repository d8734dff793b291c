// SPDX-License-Identifier: GPL-2.0
/*
 * floor: attach the empty programs of floor.bpf.o (sched_switch and
 * sched_wakeup), say so, and stay attached until SIGINT or SIGTERM.
 *
 *   floor [OBJ]     OBJ defaults to floor.bpf.o next to this binary
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t done;

static void on_signal(int sig)
{
	(void)sig;
	done = 1;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct sigaction sa = { .sa_handler = on_signal };
	int n = 0, err;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: floor [OBJ]\n");
		return 2;
	}
	if (argc == 2) {
		snprintf(path, sizeof(path), "%s", argv[1]);
	} else {
		ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 16);
		char *slash;

		if (len < 0 || !(slash = memrchr(path, '/', (size_t)len))) {
			fprintf(stderr, "floor: cannot find my own directory\n");
			return 1;
		}
		strcpy(slash + 1, "floor.bpf.o");
	}
	libbpf_set_print(quiet);
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		fprintf(stderr, "floor: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "floor: load %s: %s\n", path, strerror(-err));
		bpf_object__close(obj);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "floor: attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			bpf_object__close(obj);
			return 1;
		}
		n++;
	}
	printf("Tracing sched_switch and sched_wakeup with %d empty programs... Ctrl-C to end.\n", n);
	fflush(stdout);
	while (!done)
		pause();
	bpf_object__close(obj); /* the links go with the process */
	return 0;
}
