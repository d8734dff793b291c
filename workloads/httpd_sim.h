/* httpd_sim.h: a slow local HTTP endpoint for the io-* workloads.
 *
 * httpd_sim_start() forks a single-threaded, poll()-based HTTP/1.1 server named
 * "httpd-sim" on 127.0.0.1 (port chosen by the kernel) that answers every request
 * after a fixed delay with a small JSON body, keeping connections alive, so the
 * workloads behave like clients of a slow remote API with no network. The server
 * exits when the parent closes its control pipe or dies (PR_SET_PDEATHSIG).
 */
#ifndef WL_HTTPD_SIM_H
#define WL_HTTPD_SIM_H

#include <stdint.h>
#include <sys/types.h>

struct httpd_sim_config {
	int latency_ms;		/* delay before each response */
	int fail_every;		/* answer every Nth request with 503; 0: never */
};

struct httpd_sim_stats {
	uint64_t requests;
	uint64_t connections;
	uint64_t errors_sent;	/* non-2xx responses */
};

struct httpd_sim {
	pid_t pid;
	int port;
	int ctl_fd;		/* parent's end; closing it stops the server */
	int report_fd;		/* server -> parent: port at start, stats at exit */
};

/* Starts the server and waits until it listens. Call before creating threads.
 * Returns 0 or a negative errno (after printing why). */
int httpd_sim_start(const struct httpd_sim_config *cfg, struct httpd_sim *srv);

/* Stops the server, reaps it and fills stats (zeroed if unavailable). */
int httpd_sim_stop(struct httpd_sim *srv, struct httpd_sim_stats *stats);

#endif
