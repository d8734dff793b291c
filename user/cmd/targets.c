/* user/cmd/targets.c: the targets of attach and top (see targets.h). */
#include "cmd/targets.h"
#include "cmd/cli.h"
#include "sys/procfs.h"
#include "sys/util.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_TID = 2000, OPT_COMM, OPT_CGROUP, OPT_CHILDREN };

static const struct option target_longopts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "tid", required_argument, NULL, OPT_TID },
	{ "comm", required_argument, NULL, OPT_COMM },
	{ "cgroup", required_argument, NULL, OPT_CGROUP },
	{ "all", no_argument, NULL, 'a' },
	{ "children", no_argument, NULL, OPT_CHILDREN },
	{ 0 },
};

void targets_init(struct targets *t, const char *cmd)
{
	memset(t, 0, sizeof(*t));
	t->cmd = cmd;
}

const struct option *targets_longopts(const struct option *own)
{
	static struct option merged[32];
	size_t n = 0;

	for (const struct option *p = own; p->name && n < ARRAY_LEN(merged) - 1; p++)
		merged[n++] = *p;
	for (const struct option *p = target_longopts; p->name && n < ARRAY_LEN(merged) - 1; p++)
		merged[n++] = *p;
	memset(&merged[n], 0, sizeof(merged[n]));
	return merged;
}

void targets_usage(FILE *out)
{
	fprintf(out,
"Targets (exactly one kind):\n"
"  -p, --pid LIST      process IDs, comma-separated\n"
"  --tid LIST          single threads (thread IDs), comma-separated\n"
"  --comm NAME         every process named NAME (its comm, at most 15\n"
"                      characters), and those that start or exec with that\n"
"                      name later (ends at Ctrl-C or -d)\n"
"  --cgroup CGROUP     every task of a cgroup subtree, and those that move or\n"
"                      are born into it later; a task that moves out stops\n"
"                      being traced (ends at Ctrl-C, -d, or when the cgroup is\n"
"                      removed). CGROUP is its directory (/sys/fs/cgroup/pool),\n"
"                      a path in the hierarchy CPU limits live in\n"
"                      (/system.slice/nginx.service) or CONTROLLER:PATH\n"
"                      (cpu:/pool: in that controller's v1 hierarchy)\n"
"  -a, --all           every task on the machine but poolscope (never ends by\n"
"                      itself); attach gives a verdict for each of the 3\n"
"                      busiest programs\n"
"\n"
"Options:\n"
"  --children          also trace processes the targets fork from now on\n");
}

/* "12,34" -> ids; every id a positive decimal. */
static int parse_ids(struct targets *t, const char *arg, const char *what, int *ids, int *n)
{
	char buf[4096], *tok, *save = NULL;
	uint64_t v;

	snprintf(buf, sizeof(buf), "%s", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (parse_u64(tok, 1, 0x3fffffff, &v)) {
			ps_err("%s: invalid %s '%s' (expected positive numbers, comma-separated)", t->cmd,
			       what, tok);
			return -EINVAL;
		}
		if (*n == TARGETS_MAX) {
			ps_err("%s: at most %d %ss", t->cmd, TARGETS_MAX, what);
			return -EINVAL;
		}
		ids[(*n)++] = v;
	}
	if (!*n) {
		ps_err("%s: empty %s list", t->cmd, what);
		return -EINVAL;
	}
	return 0;
}

int targets_parse(struct targets *t, int c, const char *arg)
{
	switch (c) {
	case 'p': return parse_ids(t, arg, "PID", t->pids, &t->npids) ? -EINVAL : 1;
	case OPT_TID: return parse_ids(t, arg, "TID", t->tids, &t->ntids) ? -EINVAL : 1;
	case OPT_COMM: t->comm = arg; return 1;
	case OPT_CGROUP:
		if (t->cgroup) {
			ps_err("%s: give --cgroup once", t->cmd);
			return -EINVAL;
		}
		t->cgroup_arg = arg;   /* resolved after the options (--help first) */
		t->cgroup = true;
		return 1;
	case 'a': t->all = true; return 1;
	case OPT_CHILDREN: t->children = true; return 1;
	}
	return 0;
}

/* --comm: the kernel picks the processes of that name, now and later; those
 * running now are the first targets (their cgroups are read at the start). */
static int find_comm(struct targets *t)
{
	int n = procfs_find_comm(t->comm, getpid(), t->pids, TARGETS_MAX);

	if (n < 0) {
		ps_err("%s: cannot read /proc: %s", t->cmd, strerror(-n));
		return n;
	}
	t->ncomm = n;
	if (!n)
		ps_info("no process named '%s' yet: tracing those that start or exec with that name",
			t->comm);
	return 0;
}

static void make_title(struct targets *t)
{
	size_t n = snprintf(t->title, sizeof(t->title), "%s %s", t->cmd,
			    t->all ? "-a (every task)" : t->comm ? "--comm " :
			    t->cgroup ? "--cgroup " : t->ntids ? "--tid" : "-p");

	if (t->comm)
		snprintf(t->title + n, sizeof(t->title) - n, "%s (%d %s at the start)", t->comm,
			 t->ncomm, t->ncomm == 1 ? "process" : "processes");
	if (t->cgroup)
		snprintf(t->title + n, sizeof(t->title) - n, "%.300s (%s)", t->cg.path,
			 cgroupfs_kind_name(t->cg.h.kind));
	for (int i = 0; !t->comm && !t->cgroup && i < t->npids + t->ntids && n < sizeof(t->title); i++)
		n += snprintf(t->title + n, sizeof(t->title) - n, "%s%d", i ? "," : " ",
			      i < t->npids ? t->pids[i] : t->tids[i - t->npids]);
}

int targets_finish(struct targets *t, struct tracer_opts *tr)
{
	int kinds = !!t->npids + !!t->ntids + !!t->comm + t->all + t->cgroup;

	if (kinds != 1) {
		ps_err(kinds ? "%s: give one kind of target: -p, --tid, --comm, --cgroup or -a" :
			       "%s: no target (-p PID, --tid TID, --comm NAME, --cgroup CGROUP or -a)",
		       t->cmd);
		return -EINVAL;
	}
	if (t->comm && !strncmp(t->comm, "--", 2)) {
		ps_err("%s: --comm needs a process name, not '%s'", t->cmd, t->comm);
		return -EINVAL;
	}
	if (t->comm && find_comm(t))
		return -EINVAL;
	if (t->cgroup) {
		char err[CG_PATH_MAX * 3];

		if (cgroupfs_resolve(t->cgroup_arg, &t->cg, err, sizeof(err))) {
			ps_err("%s: %s", t->cmd, err);
			return -EINVAL;
		}
		tr->cg_hier = t->cg.h.kind;
		tr->cg_id = t->cg.id;
	}
	tr->all = t->all;
	tr->tids = t->ntids > 0;
	tr->no_follow_forks = !t->children;
	tr->comm = t->comm;
	make_title(t);
	return 0;
}

/* Drop the ids of tasks that are gone, with one warning each; an error when
 * none is left (a prefork server recycles workers: a list can be stale by
 * the time it is typed). */
static int live_ids(const struct targets *t, int *ids, int *n, const char *what)
{
	int k = 0, given = *n;

	for (int i = 0; i < given; i++) {
		if (ids[i] == getpid()) {
			ps_err("%s: refusing to trace poolscope itself (%s %d)", t->cmd, what, ids[i]);
			return -EINVAL;
		}
		if (procfs_alive(ids[i]))
			ids[k++] = ids[i];
		else if (given > 1)
			ps_warn("no %s %d (it exited?): tracing the others", what, ids[i]);
	}
	*n = k;
	if (given && !k) {
		if (given == 1)
			ps_err("%s: no %s with %s %d", t->cmd, strcmp(what, "PID") ? "thread" : "process",
			       what, ids[0]);
		else
			ps_err("%s: none of the %ss is alive", t->cmd, what);
		return -ESRCH;
	}
	return 0;
}

/* With --children: the targets' children that already exist, and theirs. */
static void add_children(struct targets *t)
{
	for (int i = 0; i < t->npids && t->npids < TARGETS_MAX; i++) {
		int kids[TARGETS_MAX];
		int n = procfs_children(t->pids[i], kids, TARGETS_MAX);

		for (int k = 0; k < n && t->npids < TARGETS_MAX; k++) {
			bool dup = false;

			for (int j = 0; j < t->npids; j++)
				dup |= t->pids[j] == kids[k];
			if (!dup)
				t->pids[t->npids++] = kids[k];
		}
	}
}

int targets_check(struct targets *t)
{
	if (t->comm || t->cgroup)
		return 0;
	if (live_ids(t, t->pids, &t->npids, "PID") || live_ids(t, t->tids, &t->ntids, "TID"))
		return -EINVAL;
	for (int i = 0; i < t->npids; i++) {
		char comm[64] = "?";

		if (procfs_is_kthread(t->pids[i], comm, sizeof(comm)))
			ps_warn("PID %d (%s) is a kernel thread: tracing it, but it has no user stacks "
				"and never exits", t->pids[i], comm);
	}
	if (t->children)
		add_children(t);
	return 0;
}

const char *targets_name(const struct targets *t)
{
	static struct proc_stat st;

	if (t->comm)
		return t->comm;
	if ((t->npids && procfs_stat(t->pids[0], &st)) || (t->ntids && procfs_stat(t->tids[0], &st)))
		return st.comm;
	return "poolscope";
}

int targets_add(const struct targets *t, struct session *s)
{
	int err = 0;

	for (int i = 0; i < t->npids; i++)
		if ((err = session_add_process(s, t->pids[i])))
			break;
	for (int i = 0; !err && i < t->ncomm; i++)
		session_add_process(s, t->pids[i]);   /* may have exited since */
	for (int i = 0; !err && i < t->ntids; i++)
		err = session_add_thread(s, t->tids[i]);
	if (err)
		ps_err("%s: cannot add the targets: %s", t->cmd, strerror(-err));
	return err;
}

bool targets_alive(const struct targets *t, struct session *s)
{
	if (t->all || t->comm)
		return true;
	if (t->cgroup)
		return cgroupfs_id(&t->cg.h, t->cg.path) == t->cg.id;
	for (int i = 0; i < t->npids; i++)
		if (procfs_alive(t->pids[i]))
			return true;
	for (int i = 0; i < t->ntids; i++)
		if (procfs_alive(t->tids[i]))
			return true;
	if (t->children) {
		static uint32_t tgids[PS_MAX_TGIDS];
		int n = session_processes(s, tgids, PS_MAX_TGIDS);

		for (int i = 0; i < n; i++)
			if (procfs_alive(tgids[i]))
				return true;
	}
	return false;
}

int targets_parse_args(int argc, char **argv, struct targets *t, struct cli_common *co,
		       const char *const *common, const char *common_short, void (*usage)(FILE *),
		       uint64_t *duration_ns, uint64_t *interval_ns)
{
	static const struct option own[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const struct option *longopts = cli_longopts_some(targets_longopts(own), common);
	char shortopts[64];
	int c, err;

	snprintf(shortopts, sizeof(shortopts), ":d:i:h" TARGETS_SHORTOPTS "%s", common_short);
	optind = 1;
	opterr = 0;
	cli_common_init(co);
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		err = cli_common_parse(c, optarg, t->cmd, co);
		if (!err)
			err = targets_parse(t, c, optarg);
		if (err < 0)
			return err;
		if (err)
			continue;
		switch (c) {
		case 'd':
		case 'i':
			if (cli_parse_seconds(optarg, t->cmd, c == 'd' ? "-d/--duration" : "-i/--interval",
					      c == 'd' ? duration_ns : interval_ns))
				return -EINVAL;
			break;
		case 'h': usage(stdout); exit(0);
		case ':':
			ps_err("%s: option '%s' needs a value", t->cmd, argv[optind - 1]);
			return -EINVAL;
		default:
			ps_err("%s: unknown option '%s' (see poolscope %s --help)", t->cmd, argv[optind - 1],
			       t->cmd);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		ps_err("%s: unexpected argument '%s' (PIDs go after -p)", t->cmd, argv[optind]);
		return -EINVAL;
	}
	return targets_finish(t, &co->tr);
}
