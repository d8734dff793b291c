/* fetch.h: the IO-bound task of the io-* workloads and their shared driver.
 *
 * A task fetches one URL with libcurl's easy interface; each worker owns one easy
 * handle for the whole run, so connections are reused (HTTP keep-alive). With no
 * --url, the driver starts httpd-sim, a local endpoint that answers after a fixed
 * delay, and fetches http://127.0.0.1:PORT/item/N from it.
 */
#ifndef WL_FETCH_H
#define WL_FETCH_H

#include "pool.h"

struct io_workload {
	const char *name;
	const char *describe;		/* one line */
	const char *description;	/* --help paragraph(s) */
	enum pool_kind pool;
};

/* The whole program for an io-* workload. Returns the exit status. */
int io_main(const struct io_workload *w, int argc, char **argv);

#endif
