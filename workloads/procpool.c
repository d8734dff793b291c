/* procpool.c: a fixed-size process pool, the shape of multiprocessing.Pool.
 *
 * The parent forks N workers, then feeds task indices into one shared pipe (the
 * task queue): each idle worker blocks in read() on it, so tasks go to whichever
 * worker frees up first. Workers write fixed-size records to one result pipe, a
 * START before each task and a DONE after it; both are smaller than PIPE_BUF, so
 * writes from many workers never interleave. The parent polls the two pipes and a
 * signalfd for SIGCHLD: a worker that dies is reaped at once, reported with its
 * signal, and the task it had started is reported as failed. The pool goes on
 * with the workers left; it never waits for a result that cannot come.
 */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

enum record_kind { RECORD_START = 1, RECORD_DONE = 2 };

struct pool_record {
	int32_t kind;
	int32_t slot;		/* worker slot, 0..nworkers-1 */
	struct task_result res;
};

_Static_assert(sizeof(struct pool_record) <= PIPE_BUF, "pipe writes of records must be atomic");

struct procpool {
	const struct pool_job *job;
	int task_wr;		/* parent's end of the task queue, -1 once closed */
	int result_rd;
	int nworkers;
	int next_task;		/* next index to put into the queue */
	pid_t *pids;		/* by slot; 0 once reaped */
	int *running;		/* by slot: task started and not done, or -1 */
	double *started_at;	/* by slot */
	char *reported;		/* by task */
	int live;
	struct pool_outcome *out;
};

/* Writes one record; a blocking pipe write of <= PIPE_BUF bytes is all or nothing. */
static int write_record(int fd, const struct pool_record *rec)
{
	ssize_t n;

	do
		n = write(fd, rec, sizeof(*rec));
	while (n < 0 && errno == EINTR);
	return n == sizeof(*rec) ? 0 : -EPIPE;
}

static void __attribute__((noreturn))
procpool_worker(const struct pool_job *job, int slot, int task_rd, int result_wr)
{
	void *wstate = NULL;
	struct pool_record rec = { .slot = slot };
	int32_t task;
	ssize_t n;

	if (job->worker_init && job->worker_init(job->ctx, &wstate) < 0)
		_exit(1);
	for (;;) {
		n = read(task_rd, &task, sizeof(task));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(task))
			break;	/* EOF: the queue is closed and empty */
		rec.kind = RECORD_START;
		rec.res.task = task;
		if (write_record(result_wr, &rec) < 0)
			_exit(1);
		pool_run_task(job, wstate, task, getpid(), &rec.res);
		rec.kind = RECORD_DONE;
		if (write_record(result_wr, &rec) < 0)
			_exit(1);
	}
	if (job->worker_fini)
		job->worker_fini(job->ctx, wstate);
	_exit(0);
}

static void report(struct procpool *pp, const struct task_result *res)
{
	if (pp->reported[res->task])
		return;
	pp->reported[res->task] = 1;
	pp->out->failed += !res->ok;
	pp->job->task_done(pp->job->ctx, res);
}

/* Puts as many task indices into the queue as fit; closes it after the last. */
static void feed_tasks(struct procpool *pp)
{
	int32_t batch[PIPE_BUF / sizeof(int32_t)];

	while (pp->task_wr >= 0 && pp->next_task < pp->job->ntasks) {
		int n = 0;
		ssize_t w;

		while (n < (int)(sizeof(batch) / sizeof(batch[0])) && pp->next_task + n < pp->job->ntasks) {
			batch[n] = pp->next_task + n;
			n++;
		}
		/* <= PIPE_BUF on a non-blocking pipe: written whole or not at all. */
		w = write(pp->task_wr, batch, n * sizeof(batch[0]));
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w < 0)
			break;	/* EPIPE: no worker left to read */
		pp->next_task += w / sizeof(batch[0]);
	}
	if (pp->task_wr >= 0) {
		close(pp->task_wr);
		pp->task_wr = -1;
	}
}

/* Reads every record available now. */
static void drain_results(struct procpool *pp)
{
	struct pool_record rec;

	for (;;) {
		ssize_t n = read(pp->result_rd, &rec, sizeof(rec));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(rec) || rec.slot < 0 || rec.slot >= pp->nworkers ||
		    rec.res.task < 0 || rec.res.task >= pp->job->ntasks)
			return;
		if (rec.kind == RECORD_START) {
			pp->running[rec.slot] = rec.res.task;
			pp->started_at[rec.slot] = wl_now();
		} else {
			pp->running[rec.slot] = -1;
			report(pp, &rec.res);
		}
	}
}

static void worker_gone(struct procpool *pp, int slot, int status)
{
	pid_t pid = pp->pids[slot];
	int task = pp->running[slot];
	char why[128];

	pp->pids[slot] = 0;
	pp->live--;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && task < 0)
		return;
	pp->out->workers_died++;
	if (WIFSIGNALED(status))
		snprintf(why, sizeof(why), "worker %d killed by signal %d (%s)", pid,
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(why, sizeof(why), "worker %d exited with status %d", pid, WEXITSTATUS(status));
	if (task >= 0) {
		struct task_result res;

		wl_error("%s while running task %d/%d; the task is lost", why, task + 1,
			 pp->job->ntasks);
		pool_fail_task(&res, task, pid, why);
		res.secs = wl_now() - pp->started_at[slot];
		pp->running[slot] = -1;
		report(pp, &res);
	} else {
		wl_error("%s", why);
	}
}

/* Reaps every worker that has exited. Once waitpid() has seen a worker exit, all
 * it wrote is in the pipe: reading the pipe then, before looking at which task it
 * held, keeps a task it finished from being counted as lost. */
static void reap_workers(struct procpool *pp)
{
	for (int slot = 0; slot < pp->nworkers; slot++) {
		int status;

		if (pp->pids[slot] > 0 && waitpid(pp->pids[slot], &status, WNOHANG) == pp->pids[slot]) {
			drain_results(pp);
			worker_gone(pp, slot, status);
		}
	}
}

static int start_workers(struct procpool *pp, int task_pipe[2], int result_pipe[2], int sigfd,
			 const sigset_t *old_mask)
{
	pid_t parent = getpid();
	int started = 0;

	fflush(NULL);	/* children must not flush the parent's buffers again */
	for (int slot = 0; slot < pp->nworkers; slot++) {
		pid_t pid = fork();

		if (pid < 0) {
			wl_error("cannot start worker process %d of %d: %s", slot + 1, pp->nworkers,
				 strerror(errno));
			break;
		}
		if (pid == 0) {
			close(sigfd);
			close(task_pipe[1]);
			close(result_pipe[0]);
			sigprocmask(SIG_SETMASK, old_mask, NULL);
			/* Die with the parent: a worker outliving its pool is a leak. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			procpool_worker(pp->job, slot, task_pipe[0], result_pipe[1]);
		}
		pp->pids[slot] = pid;
		pp->live++;
		started++;
	}
	return started;
}

int procpool_run(const struct pool_job *job, int nworkers, struct pool_outcome *out)
{
	struct procpool pp = { .job = job, .nworkers = nworkers, .task_wr = -1, .result_rd = -1,
			       .out = out };
	int task_pipe[2] = { -1, -1 }, result_pipe[2] = { -1, -1 };
	sigset_t chld, old_mask;
	int sigfd = -1, err = 0;

	memset(out, 0, sizeof(*out));
	pp.pids = calloc(nworkers, sizeof(*pp.pids));
	pp.running = malloc(nworkers * sizeof(*pp.running));
	pp.started_at = calloc(nworkers, sizeof(*pp.started_at));
	pp.reported = calloc(job->ntasks, 1);
	if (!pp.pids || !pp.running || !pp.started_at || !pp.reported) {
		err = -ENOMEM;
		goto out_free;
	}
	for (int i = 0; i < nworkers; i++)
		pp.running[i] = -1;

	/* SIGCHLD arrives through a signalfd, so worker deaths wake the poll loop. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old_mask);
	sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0 || pipe2(task_pipe, O_CLOEXEC) < 0 || pipe2(result_pipe, O_CLOEXEC) < 0) {
		err = -errno;
		wl_error("cannot set up the process pool: %s", strerror(errno));
		goto out_close;
	}
	if (!start_workers(&pp, task_pipe, result_pipe, sigfd, &old_mask)) {
		err = -ECHILD;
		goto out_close;
	}
	close(task_pipe[0]);
	close(result_pipe[1]);
	task_pipe[0] = result_pipe[1] = -1;
	pp.task_wr = task_pipe[1];
	pp.result_rd = result_pipe[0];
	task_pipe[1] = result_pipe[0] = -1;
	fcntl(pp.task_wr, F_SETFL, O_NONBLOCK);
	fcntl(pp.result_rd, F_SETFL, O_NONBLOCK);

	while (pp.live > 0) {
		struct pollfd pfd[3] = {
			{ .fd = pp.result_rd, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = pp.task_wr, .events = POLLOUT },	/* ignored once -1 */
		};
		struct signalfd_siginfo si;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			wl_error("poll: %s", strerror(errno));
			break;
		}
		if (pfd[2].revents)
			feed_tasks(&pp);
		if (pfd[0].revents)
			drain_results(&pp);
		if (pfd[1].revents) {
			while (read(sigfd, &si, sizeof(si)) == sizeof(si))
				;
			reap_workers(&pp);
		}
	}
	drain_results(&pp);

	/* Tasks never started or never finished: no worker is left to run them. */
	for (int t = 0; t < job->ntasks; t++) {
		struct task_result res;

		if (pp.reported[t])
			continue;
		pool_fail_task(&res, t, 0, "not run: no worker process left");
		report(&pp, &res);
	}
	/* Should the loop have left early, still reap every child (CPU time, no zombies). */
	for (int slot = 0; slot < nworkers; slot++) {
		int status;

		if (pp.pids[slot] > 0 && waitpid(pp.pids[slot], &status, 0) == pp.pids[slot]) {
			drain_results(&pp);
			worker_gone(&pp, slot, status);
		}
	}
out_close:
	for (int i = 0; i < 2; i++) {
		if (task_pipe[i] >= 0)
			close(task_pipe[i]);
		if (result_pipe[i] >= 0)
			close(result_pipe[i]);
	}
	if (pp.task_wr >= 0)
		close(pp.task_wr);
	if (pp.result_rd >= 0)
		close(pp.result_rd);
	if (sigfd >= 0)
		close(sigfd);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
out_free:
	free(pp.reported);
	free(pp.started_at);
	free(pp.running);
	free(pp.pids);
	return err;
}
