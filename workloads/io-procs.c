/* io-procs: URL fetches on a process pool.
 *
 * The same fetches as io-threads spread over worker processes (multiprocessing.Pool
 * for IO): it overlaps the waits just as well, at the price of a process, an
 * address space and a curl handle per worker. Traced, each worker process blocks
 * on its socket; the parent blocks in poll() on the result pipe.
 */
#include "fetch.h"

static const struct io_workload io_procs = {
	.name = "io-procs",
	.describe = "slow-server URL fetches, a process pool (libcurl): IO overlaps",
	.description =
		"Fetches URLs on a pool of forked worker processes, one libcurl easy handle per "
		"process, reused across requests (HTTP/1.1 keep-alive). Workers pull request "
		"numbers from one shared pipe and send results back through another; the parent "
		"prints the status code and time of each request as it completes.\n\n"
		"With no --url, it first starts httpd-sim, a local HTTP endpoint on 127.0.0.1 in a "
		"separate process (single-threaded, poll()-based) that answers every request after "
		"--latency-ms with a small JSON body: a slow remote API that needs no network. "
		"httpd-sim exits with the workload, even if the workload is killed.\n\n"
		"Failed requests (connection refused, timeout, non-2xx status) are counted, listed "
		"per URL on stderr and make the exit status 1. A worker process that dies is "
		"reported, its request counts as failed and the exit status is 3.",
	.pool = POOL_PROCS,
};

int main(int argc, char **argv)
{
	return io_main(&io_procs, argc, argv);
}
