/* io-threads: URL fetches on a thread pool.
 *
 * The ThreadPoolExecutor lesson: IO-bound work overlaps in threads. Ten threads,
 * each with its own reused libcurl handle, fetch 40 URLs from a local endpoint that
 * takes 50 ms per answer; the run takes about 40 / 10 x 50 ms, not 40 x 50 ms,
 * while the CPU stays nearly idle. Traced, the threads spend their time blocked in
 * poll() on sockets, not runnable.
 */
#include "fetch.h"

static const struct io_workload io_threads = {
	.name = "io-threads",
	.describe = "slow-server URL fetches, a thread pool (libcurl): IO overlaps",
	.description =
		"Fetches URLs on a pool of worker threads, like Python's classic "
		"ThreadPoolExecutor example, one libcurl easy handle per thread, reused across "
		"requests so connections stay open (HTTP/1.1 keep-alive). Prints the status "
		"code and time of each request as it completes.\n\n"
		"With no --url, it first starts httpd-sim, a local HTTP endpoint on 127.0.0.1 in a "
		"separate process (single-threaded, poll()-based) that answers every request after "
		"--latency-ms with a small JSON body: a slow remote API that needs no network. "
		"httpd-sim exits with the workload, even if the workload is killed. With the "
		"defaults, 40 requests of 50 ms on 10 threads take about 0.2 s, not 2 s, and use "
		"little CPU: the threads wait on sockets, not on each other.\n\n"
		"Failed requests (connection refused, timeout, non-2xx status) are counted, listed "
		"per URL on stderr and make the exit status 1.",
	.pool = POOL_THREADS,
};

int main(int argc, char **argv)
{
	return io_main(&io_threads, argc, argv);
}
