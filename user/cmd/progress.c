/* user/cmd/progress.c: the progress line on stderr while tracing (see
 * cli.h).
 *
 * The traced command often prints to the same terminal, and a line redrawn
 * in place would get its output appended ("...busy 98% 97%task 1/6 ...").
 * So the line lives on the terminal's last row, kept out of the scrolling
 * region (DECSTBM, as apt's progress bar does): the command's output
 * scrolls above it. Where the terminal's size is unknown it is redrawn in
 * place instead. */
#include "cmd/cli.h"
#include "sys/util.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static struct {
	bool shown;       /* drawn, in place or on the last row */
	int rows, cols;   /* the terminal's, when the last row is reserved; 0: in place */
	bool ended;       /* a Ctrl-C's line was ended */
} pg;

static bool term_size(int *rows, int *cols)
{
	struct winsize ws;

	if (ioctl(2, TIOCGWINSZ, &ws) || ws.ws_row < 3 || ws.ws_col < 20)
		return false;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return true;
}

/* Give the scrolling region every row but the last (the cursor's row moves
 * up one if it was the last: a newline made room first); DECSTBM homes the
 * cursor, hence the save and restore around it. */
static void set_region(int rows, bool make_room)
{
	fprintf(stderr, "%s\0337\033[1;%dr\0338%s", make_room ? "\n" : "", rows - 1,
		make_room ? "\033[1A" : "");
}

/* The whole screen scrolls again; the last row is cleared. */
static void release_region(void)
{
	if (!pg.rows)
		return;
	fprintf(stderr, "\0337\033[r\033[%d;1H\033[K\0338", pg.rows);
	fflush(stderr);
	pg.rows = 0;
}

void cli_progress(void *arg, struct session *s, uint64_t elapsed_ns)
{
	struct session_counts c;
	char line[256], ev[32];
	int n, rows, cols;

	(void)arg;
	if (!isatty(2) || !getenv("TERM") || !strcmp(getenv("TERM"), "dumb"))
		return;
	session_counts(s, &c);
	n = snprintf(line, sizeof(line), "poolscope: %.1f s, %s %s, %llu dropped, %u %s",
		     elapsed_ns / 1e9, fmt_count(c.events, ev, sizeof(ev)), c.events == 1 ? "event" : "events",
		     (unsigned long long)c.dropped, c.threads, c.threads == 1 ? "thread" : "threads");
	for (int i = 0; i < c.nr_cpus && n < 72; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%.0f%%", i ? " " : "; busy ", c.busy_pct[i]);
	if (!term_size(&rows, &cols)) {
		release_region();
		fprintf(stderr, "\r\033[K%.79s", line);
		pg.shown = true;
		return;
	}
	if (!pg.rows)
		atexit(release_region);
	if (rows != pg.rows)   /* the first time, or the terminal was resized */
		set_region(rows, !pg.rows);
	pg.rows = rows;
	pg.cols = cols;
	fprintf(stderr, "\0337\033[%d;1H\033[K%.*s\0338", rows, cols - 1 < 79 ? cols - 1 : 79, line);
	fflush(stderr);
	pg.shown = true;
}

void cli_progress_clear(void)
{
	/* on the last row it stays: what is printed scrolls above it */
	if (pg.shown && !pg.rows) {
		fputs("\r\033[K", stderr);
		pg.shown = false;
	}
}

/* A Ctrl-C typed at the terminal is echoed there as "^C" without a newline
 * (ECHO with ECHOCTL): erasing a progress line drawn in place takes it
 * away, else what follows starts on the next line, not after the "^C". */
static void end_ctrl_c_line(void)
{
	bool from_user = true;
	struct termios t;
	int fd;

	if (session_stop_count())
		session_stop_signal(&from_user);
	if ((pg.shown && !pg.rows) || pg.ended || from_user)
		return;
	pg.ended = true;
	/* where the echo went: the controlling terminal, output or not */
	fd = isatty(1) ? 1 : isatty(2) ? 2 : open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 && !tcgetattr(fd, &t) && (t.c_lflag & ECHO) && (t.c_lflag & ECHOCTL)) {
		fflush(stdout);
		fflush(stderr);
		if (write(fd, "\n", 1) != 1)
			ps_warn("cannot end the terminal's line: %s", strerror(errno));
	}
	if (fd > 2)
		close(fd);
}

void cli_progress_end(void)
{
	end_ctrl_c_line();
	release_region();
	cli_progress_clear();
	pg.shown = false;
}
