/* user/cmd/top.c: `poolscope top`: the targets of attach, watched live. Every
 * interval (-i) the trace so far is read, the interval since the last one
 * is modelled and diagnosed as attach -i does, and the screen
 * (render/top_view.c) is drawn with ncurses; keys are read every slice of
 * the session loop. Leaving (q, Ctrl-C, SIGTERM, the terminal closing)
 * ends the loop, restores the terminal (endwin) and detaches. */
#include <curses.h>
#include <term.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "cmd/targets.h"
#include "model/diagnose.h"
#include "model/model.h"
#include "model/snapdiff.h"
#include "render/top_view.h"
#include "sys/util.h"

#define TOP_DEFAULT_INTERVAL_NS 1000000000ull

struct top_opts {
	struct cli_common c;         /* only the trace options top takes */
	struct targets t;
	uint64_t duration_ns, interval_ns;
};

void top_usage(FILE *out)
{
	fprintf(out,
"Usage: poolscope top [OPTIONS] -p PID[,PID...]\n"
"       poolscope top [OPTIONS] --tid TID[,TID...] | --comm NAME | -a\n"
"       poolscope top [OPTIONS] --cgroup CGROUP\n"
"\n"
"Watch the cores live: a full-screen view of the targets (as attach takes\n"
"them), refreshed every interval, drawn with ncurses for the terminal TERM\n"
"names (80x24 is enough; no mouse, so ssh and tmux are fine). It shows each\n"
"core's busy bar (# the traced threads, = other tasks), run-queue p99 and\n"
"switches per second and its top threads, the top contended lock, the\n"
"threads, the verdict of the last interval and the events dropped so far.\n"
"Every number is of the last interval.\n"
"\n"
"Keys: q quit; p pause (tracing goes on); s sort the threads by the next\n"
"column (on-CPU, run-queue wait, switches, lock wait, TID; S: back); 1\n"
"per-core or per-thread view; Ctrl-L draw again. Leaving (q, Ctrl-C, SIGTERM,\n"
"the terminal closing, or the targets exiting) restores the terminal and\n"
"detaches.\n"
"\n");
	targets_usage(out);
	fprintf(out,
"  -i, --interval SECONDS  refresh every SECONDS (default 1, fractions allowed)\n"
"  -d, --duration SECONDS  quit after this long\n"
"  -h, --help          this help\n"
"\n"
"Trace options (as for attach):\n"
"  --no-locks          no futex tracing (no lock row, no lock verdict)\n"
"  --locks             futex waits traced (the default)\n"
"  --futex-source SRC  where futex waits are seen: sched (default) or syscalls\n"
"  --max-threads N     thread slots in the kernel (default %d)\n"
"  --raw-tp            raw tracepoints instead of tp_btf (for testing)\n"
"  -v, --verbose       libbpf's messages (printed when top ends)\n"
"\n"
"Messages printed while the screen is up are kept and printed when it ends.\n"
"\n"
"Exit status: 0; 2 for a bad command line or target, or when standard input\n"
"or output is not a terminal; 1 if tracing could not start.\n"
"\n"
"Examples:\n"
"  sudo poolscope top -p 1234\n"
"  sudo poolscope top --comm nginx -i 2\n"
"  sudo poolscope top -a\n", PS_DEFAULT_MAX_THREADS);
}

static int parse_args(int argc, char **argv, struct top_opts *o)
{
	static const char *const common[] = {
		"locks", "no-locks", "futex-source", "max-threads", "raw-tp", "verbose", NULL,
	};

	targets_init(&o->t, "top");
	o->interval_ns = TOP_DEFAULT_INTERVAL_NS;
	return targets_parse_args(argc, argv, &o->t, &o->c, common, "v", top_usage, &o->duration_ns,
				  &o->interval_ns);
}

/* --- the screen ---------------------------------------------------------- */

/* While curses owns the terminal, what poolscope writes to stderr (libbpf,
 * warnings) would scribble over the screen: it goes to a file, printed when
 * the screen ends. */
static struct {
	bool up;
	int saved_stderr, held;      /* the terminal's stderr; the file meanwhile */
	struct top_screen scr;
	attr_t attrs[TOP_ATTRS];
} screen = { .saved_stderr = -1, .held = -1 };

static void hold_stderr(void)
{
	FILE *f = tmpfile();

	fflush(stderr);
	if (!f)
		return;
	screen.held = dup(fileno(f));
	fclose(f);
	screen.saved_stderr = dup(2);
	if (screen.held < 0 || screen.saved_stderr < 0 || dup2(screen.held, 2) < 0) {
		close(screen.held);
		close(screen.saved_stderr);
		screen.held = screen.saved_stderr = -1;
	}
}

static void release_stderr(void)
{
	char buf[4096];
	ssize_t n;

	if (screen.held < 0)
		return;
	fflush(stderr);
	dup2(screen.saved_stderr, 2);
	close(screen.saved_stderr);
	if (lseek(screen.held, 0, SEEK_SET) == 0)
		while ((n = read(screen.held, buf, sizeof(buf))) > 0)
			if (write(2, buf, n) != n)
				break;
	close(screen.held);
	screen.held = screen.saved_stderr = -1;
}

/* The one way out of curses: after q, a signal, the targets' exit, and at
 * exit() (an allocation failure) too. */
static void screen_end(void)
{
	if (!screen.up)
		return;
	screen.up = false;
	endwin();
	release_stderr();
	top_screen_free(&screen.scr);
}

static void set_colors(void)
{
	static const struct { int fg, bg; attr_t extra; } pairs[TOP_ATTRS] = {
		[TOP_TRACED] = { COLOR_GREEN, -1, A_BOLD },
		[TOP_OTHER] = { COLOR_BLUE, -1, A_BOLD },
		[TOP_WARN] = { COLOR_RED, -1, A_BOLD },
	};

	screen.attrs[TOP_TITLE] = A_REVERSE;
	screen.attrs[TOP_HEADER] = A_BOLD;
	screen.attrs[TOP_SORTED] = A_BOLD | A_UNDERLINE;
	screen.attrs[TOP_WARN] = A_BOLD;
	if (!has_colors() || start_color() == ERR)
		return;
	use_default_colors();
	for (int a = 0; a < TOP_ATTRS; a++) {
		if (!pairs[a].fg)
			continue;
		init_pair(a, pairs[a].fg, pairs[a].bg);
		screen.attrs[a] = COLOR_PAIR(a) | pairs[a].extra;
	}
}

/* Before anything is loaded: a TERM that terminfo does not know (or none,
 * as in a static build's initramfs) is one line, not a loaded tracer. */
static bool terminal_known(void)
{
	int err = 0;

	if (setupterm(NULL, 1, &err) == OK) {
		del_curterm(cur_term);
		return true;
	}
	ps_err("top: the terminal type '%s' (TERM) is not in terminfo",
	       getenv("TERM") ? getenv("TERM") : "");
	return false;
}

static int screen_begin(void)
{
	if (!newterm(NULL, stdout, stdin)) {
		ps_err("top: cannot use the terminal '%s' (TERM)", getenv("TERM") ? getenv("TERM") : "");
		return -ENOTTY;
	}
	screen.up = true;
	atexit(screen_end);
	hold_stderr();
	cbreak();               /* Ctrl-C stays a signal: the session's stop */
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	set_colors();
	return 0;
}

static void screen_draw(const struct top_view *v)
{
	int rows, cols;

	getmaxyx(stdscr, rows, cols);
	erase();
	top_screen_resize(&screen.scr, rows, cols);
	top_render(v, &screen.scr);
	for (int r = 0; r < rows; r++) {
		const char *text = top_row(&screen.scr, r);
		const unsigned char *attr = screen.scr.attr + (size_t)r * cols;

		/* the last cell of the last row scrolls some terminals: leave it */
		int n = r == rows - 1 ? cols - 1 : cols;

		for (int c = 0; c < n;) {
			int run = 1;

			while (c + run < n && attr[c + run] == attr[c])
				run++;
			attrset(screen.attrs[attr[c]]);
			mvaddnstr(r, c, text + c, run);
			c += run;
		}
	}
	attrset(A_NORMAL);
	refresh();
}

/* --- the loop ------------------------------------------------------------ */

struct top_run {
	struct top_opts *o;
	struct session *ss;
	struct ps_snapshot base;     /* the last interval's end */
	struct ps_snapshot last;     /* the last interval (the model's snapshot) */
	struct model m;
	struct diagnosis d;
	bool have_model, quit;
	bool closed;                 /* the terminal closed: SIGHUP, or its hangup seen */
	uint64_t wall_of_mono;       /* CLOCK_REALTIME - CLOCK_MONOTONIC */
	struct top_view v;
};

static void draw(struct top_run *r)
{
	struct session_counts c;

	session_counts(r->ss, &c);
	r->v.dropped = c.dropped;
	r->v.elapsed_ns = mono_ns() - r->ss->started_ns;
	r->v.m = r->have_model ? &r->m : NULL;
	r->v.d = r->have_model ? &r->d : NULL;
	screen_draw(&r->v);
}

static void on_interval(void *arg, struct ps_snapshot *cur)
{
	struct top_run *r = arg;
	struct ps_snapshot d;

	snapshot_interval(&r->base, cur, &d, true);
	if (r->v.paused) {
		/* keep showing the interval paused on; the next one starts here */
		snapshot_free(&d);
		return;
	}
	if (r->have_model) {
		model_free(&r->m);
		snapshot_free(&r->last);
	}
	r->last = d;
	model_build(&r->last, &r->m);
	diagnose(&r->m, &r->d);
	r->have_model = true;
	r->v.wall_end_ns = r->last.end_ns + r->wall_of_mono;
	draw(r);
}

/* A terminal that was hung up reads as end of file, which getch() reports
 * as no key; poll says it (the closing normally sends SIGHUP, but not when
 * the session's leader ignores it). */
static bool terminal_gone(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Keys, every slice; the screen is drawn again when one changed it. */
static void on_tick(void *arg, struct session *s, uint64_t elapsed_ns)
{
	struct top_run *r = arg;
	bool changed = false;
	int ch;

	(void)s;
	(void)elapsed_ns;
	if (terminal_gone()) {
		r->closed = r->quit = true;
		return;
	}
	while ((ch = getch()) != ERR) {
		switch (ch) {
		case 'q': case 'Q': r->quit = true; break;
		case 'p': case 'P': r->v.paused = !r->v.paused; break;
		case 's': r->v.sort = (r->v.sort + 1) % TOP_SORTS; break;
		case 'S': r->v.sort = (r->v.sort + TOP_SORTS - 1) % TOP_SORTS; break;
		case '1': r->v.mode = r->v.mode == TOP_PER_CORE ? TOP_PER_THREAD : TOP_PER_CORE; break;
		case 12: clearok(curscr, TRUE); break;     /* Ctrl-L */
		case KEY_RESIZE: break;
		default: continue;
		}
		changed = true;
	}
	if (changed && !r->quit)
		draw(r);
}

static bool on_stop(void *arg, int sig, bool from_user)
{
	struct top_run *r = arg;

	(void)from_user;
	r->closed |= sig == SIGHUP;
	return false;
}

static bool alive(void *arg)
{
	struct top_run *r = arg;

	return !r->quit && targets_alive(&r->o->t, r->ss);
}

int cmd_top(int argc, char **argv)
{
	struct top_opts o = { 0 };
	struct session ss;
	enum session_end end;

	session_signals_init();
	if (parse_args(argc, argv, &o) || targets_check(&o.t))
		return EXIT_USAGE;
	if (!isatty(0) || !isatty(1)) {
		ps_err("top: needs a terminal on standard input and output "
		       "(attach -i prints interval reports)");
		return EXIT_USAGE;
	}
	if (!terminal_known())
		return EXIT_USAGE;
	if (session_open(&ss, &o.c.tr))
		return EXIT_TRACE;
	if (targets_add(&o.t, &ss) || session_start(&ss)) {
		session_close(&ss, NULL);
		return EXIT_TRACE;
	}
	char title[sizeof(o.t.title) + 32];
	struct top_run r = {
		.o = &o, .ss = &ss, .wall_of_mono = realtime_ns() - mono_ns(),
		.v = { .title = title, .interval_ns = o.interval_ns },
	};
	/* -p and --tid say whose they are */
	snprintf(title, sizeof(title), o.t.npids || o.t.ntids ? "%s (%s)" : "%s", o.t.title,
		 targets_name(&o.t));
	if (!targets_alive(&o.t, &ss)) {
		ps_err("top: the target%s exited before tracing started",
		       o.t.npids + o.t.ntids > 1 ? "s" : "");
		session_close(&ss, NULL);
		return EXIT_TRACE;
	}
	if (screen_begin()) {
		session_close(&ss, NULL);
		return EXIT_TRACE;
	}
	draw(&r);
	struct session_loop loop = {
		.duration_ns = o.duration_ns, .interval_ns = o.interval_ns, .arg = &r,
		.alive = alive, .tick = on_tick, .interval = on_interval, .on_stop = on_stop,
	};
	end = session_run(&ss, &loop);
	screen_end();
	session_close(&ss, NULL);
	if (r.closed)
		ps_info("top: the terminal closed");
	else if (end == SESSION_END_DONE && !r.quit)
		ps_info("top: the traced %s exited", o.t.ntids ? "threads" : "processes");
	if (r.have_model) {
		model_free(&r.m);
		snapshot_free(&r.last);
	}
	snapshot_free(&r.base);
	return 0;
}
