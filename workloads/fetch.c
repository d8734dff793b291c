/* fetch.c: URL fetching with libcurl and the driver shared by io-threads and
 * io-procs (see fetch.h). Every transfer has a total and a connect timeout, so a
 * dead or silent server costs at most --timeout-ms per request, never a hang. */
#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "httpd_sim.h"

#define LOCAL_URL_FMT "http://127.0.0.1:%d/item/%d"

struct url_tally {
	int requests;
	int failed;
	char last_err[160];
};

struct io_run {
	const struct io_workload *w;
	const char **urls;		/* user URLs, request i fetches urls[i % nurls] */
	int nurls;			/* 0: local httpd-sim */
	int local_port;
	int nrequests;
	long timeout_ms;
	bool quiet;
	struct url_tally *tally;	/* per user URL, or [0] for all local ones */
};

struct fetcher {
	CURL *curl;
	uint64_t bytes;
	char errbuf[CURL_ERROR_SIZE];
};

static void request_url(const struct io_run *run, int i, char *buf, size_t size)
{
	if (run->nurls)
		snprintf(buf, size, "%s", run->urls[i % run->nurls]);
	else
		snprintf(buf, size, LOCAL_URL_FMT, run->local_port, i + 1);
}

static size_t count_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct fetcher *f = userdata;

	(void)data;
	f->bytes += size * nmemb;
	return size * nmemb;
}

static int fetch_worker_init(void *ctx, void **wstate)
{
	const struct io_run *run = ctx;
	struct fetcher *f = calloc(1, sizeof(*f));
	char agent[64];

	if (!f || !(f->curl = curl_easy_init())) {
		free(f);
		return -ENOMEM;
	}
	snprintf(agent, sizeof(agent), "poolscope-%s/1", run->w->name);
	curl_easy_setopt(f->curl, CURLOPT_NOSIGNAL, 1L);	/* threads: no SIGALRM timeouts */
	curl_easy_setopt(f->curl, CURLOPT_TIMEOUT_MS, run->timeout_ms);
	curl_easy_setopt(f->curl, CURLOPT_CONNECTTIMEOUT_MS, run->timeout_ms);
	curl_easy_setopt(f->curl, CURLOPT_WRITEFUNCTION, count_body);
	curl_easy_setopt(f->curl, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->curl, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(f->curl, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(f->curl, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(f->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(f->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(f->curl, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	curl_easy_setopt(f->curl, CURLOPT_USERAGENT, agent);
	*wstate = f;
	return 0;
}

static void fetch_worker_fini(void *ctx, void *wstate)
{
	struct fetcher *f = wstate;

	(void)ctx;
	curl_easy_cleanup(f->curl);
	free(f);
}

static void fetch_run_task(void *ctx, void *wstate, struct task_result *res)
{
	const struct io_run *run = ctx;
	struct fetcher *f = wstate;
	char url[2048];
	long code = 0;
	CURLcode rc;

	request_url(run, res->task, url, sizeof(url));
	f->bytes = 0;
	f->errbuf[0] = '\0';
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	rc = curl_easy_perform(f->curl);
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
	res->code = code;
	res->value = f->bytes;
	if (rc != CURLE_OK)
		snprintf(res->err, sizeof(res->err), "%.*s", (int)sizeof(res->err) - 1,
			 f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc));
	else if (code < 200 || code > 299)
		snprintf(res->err, sizeof(res->err), "HTTP status %ld", code);
	else
		res->ok = 1;
}

static void fetch_task_done(void *ctx, const struct task_result *res)
{
	struct io_run *run = ctx;
	struct url_tally *t = &run->tally[run->nurls ? res->task % run->nurls : 0];
	char url[2048], status[8];

	t->requests++;
	if (!res->ok) {
		t->failed++;
		snprintf(t->last_err, sizeof(t->last_err), "%s", res->err);
	}
	if (run->quiet)
		return;
	request_url(run, res->task, url, sizeof(url));
	snprintf(status, sizeof(status), res->code ? "%d" : "ERR", res->code);
	printf("req %d/%d %s %.1f ms %llu B %s %d %s%s%s%s\n", res->task + 1, run->nrequests,
	       status, res->secs * 1000, (unsigned long long)res->value,
	       run->w->pool == POOL_PROCS ? "pid" : "tid", res->worker, url,
	       res->ok ? "" : " (", res->err, res->ok ? "" : ")");
}

/* Appends the URLs of file (one per line; blank lines and #comments skipped). */
static int read_url_file(const char *path, struct wl_str_list *urls)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int before = urls->n;

	if (!f) {
		wl_error("cannot read URL file '%s': %s", path, strerror(errno));
		return -errno;
	}
	while (getline(&line, &cap, f) > 0) {
		char *p = line + strspn(line, " \t"), *end;
		const char **grown;

		p[strcspn(p, "\r\n")] = '\0';
		for (end = p + strlen(p); end > p && (end[-1] == ' ' || end[-1] == '\t'); end--)
			end[-1] = '\0';
		if (!*p || *p == '#')
			continue;
		grown = realloc(urls->v, (urls->n + 1) * sizeof(*urls->v));
		if (!grown || !(grown[urls->n] = strdup(p))) {
			urls->v = grown ? grown : urls->v;
			free(line);
			fclose(f);
			return -ENOMEM;
		}
		urls->v = grown;
		urls->n++;
	}
	free(line);
	fclose(f);
	if (urls->n == before) {
		wl_error("no URLs in URL file '%s'", path);
		return -EINVAL;
	}
	return 0;
}

static void report_failures(const struct io_run *run)
{
	char url[2048];

	for (int i = 0; i < (run->nurls ? run->nurls : 1); i++) {
		const struct url_tally *t = &run->tally[i];

		if (!t->failed)
			continue;
		if (run->nurls)
			snprintf(url, sizeof(url), "%s", run->urls[i]);
		else
			snprintf(url, sizeof(url), "http://127.0.0.1:%d/item/*", run->local_port);
		wl_error("%s: %d of %d requests failed (last: %s)", url, t->failed, t->requests,
			 t->last_err);
	}
}

int io_main(const struct io_workload *w, int argc, char **argv)
{
	long long workers = 10, nrequests = 0, latency_ms = 50, timeout_ms = 5000, fail_every = 0;
	struct wl_str_list urls = { 0 };
	const char *url_file = NULL;
	bool quiet = false;
	char workers_help[96];
	const struct wl_option options[] = {
		{ "workers", 'w', WL_OPT_INT, "N", "worker count", 1, 4096, &workers, workers_help, NULL },
		{ "requests", 'n', WL_OPT_INT, "N", "request count", 1, 1000000, &nrequests,
		  "Number of requests. With --url/--url-file the URLs are fetched in turn, "
		  "wrapping around.", "40; with --url/--url-file, one request per URL" },
		{ "latency-ms", 0, WL_OPT_INT, "MS", "latency", 0, 60000, &latency_ms,
		  "Delay before the local endpoint answers each request, in milliseconds: the "
		  "simulated slow remote API.", NULL },
		{ "timeout-ms", 0, WL_OPT_INT, "MS", "timeout", 1, 3600000, &timeout_ms,
		  "Limit of each transfer, connecting included, in milliseconds "
		  "(CURLOPT_TIMEOUT_MS and CURLOPT_CONNECTTIMEOUT_MS). A request that hits it "
		  "fails.", NULL },
		{ "fail-every", 0, WL_OPT_INT, "N", "failure period", 0, 1000000, &fail_every,
		  "Make the local endpoint answer every Nth request with HTTP 503, to see failures "
		  "counted; 0 never.", NULL },
		{ "url", 'u', WL_OPT_STRING_LIST, "URL", "URL", 0, 0, &urls,
		  "Fetch URL instead of the local endpoint (no endpoint is started then). "
		  "Repeatable. Only http and https are allowed.", "none" },
		{ "url-file", 0, WL_OPT_STRING, "FILE", "URL file", 0, 0, &url_file,
		  "Fetch the URLs listed in FILE, one per line (blank lines and lines starting "
		  "with # are skipped), after any --url.", "none" },
		{ "quiet", 'q', WL_OPT_FLAG, "", "", 0, 0, &quiet,
		  "Print only errors and the summary line, not one line per request.", NULL },
		{ 0 },
	};
	const struct wl_program prog = { w->name, w->describe, w->description, options };
	struct io_run run = { .w = w };
	struct pool_job job = {
		.ctx = &run,
		.worker_init = fetch_worker_init,
		.worker_fini = fetch_worker_fini,
		.run_task = fetch_run_task,
		.task_done = fetch_task_done,
	};
	struct httpd_sim_config sim_cfg;
	struct httpd_sim sim = { 0 };
	struct httpd_sim_stats sim_stats;
	struct pool_outcome outcome = { 0 };
	int rc;

	snprintf(workers_help, sizeof(workers_help), "Number of %s, each with one curl handle.",
		 pool_workers_noun(w->pool));
	rc = wl_parse_args(&prog, argc, argv);
	if (rc != WL_RUN)
		return rc;
	if (url_file && read_url_file(url_file, &urls) < 0)
		return WL_EXIT_USAGE;

	run.urls = urls.v;
	run.nurls = urls.n;
	run.nrequests = nrequests ? nrequests : run.nurls ? run.nurls : 40;
	run.timeout_ms = timeout_ms;
	run.quiet = quiet;
	run.tally = calloc(run.nurls ? run.nurls : 1, sizeof(*run.tally));
	job.ntasks = run.nrequests;
	wl_raise_nofile();	/* one socket per worker, maybe thousands */

	/* The endpoint first: fork before curl or any thread exists. */
	if (!run.nurls) {
		sim_cfg = (struct httpd_sim_config){ .latency_ms = latency_ms, .fail_every = fail_every };
		if (httpd_sim_start(&sim_cfg, &sim) < 0) {
			wl_summary(run.nrequests, run.nrequests);
			return WL_EXIT_TASKS_FAILED;
		}
		run.local_port = sim.port;
	}
	if (!run.tally || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		wl_error("cannot initialise libcurl");
		outcome.failed = run.nrequests;
	} else {
		pool_run(w->pool, &job, workers, &outcome);
		curl_global_cleanup();
	}
	if (!run.nurls) {
		httpd_sim_stop(&sim, &sim_stats);
		if (!quiet)
			printf("httpd-sim: %llu requests on %llu connections, %llu error responses, "
			       "latency %lld ms\n", (unsigned long long)sim_stats.requests,
			       (unsigned long long)sim_stats.connections,
			       (unsigned long long)sim_stats.errors_sent, latency_ms);
	}
	report_failures(&run);
	wl_summary(run.nrequests, outcome.failed);
	free(run.tally);
	return pool_exit_status(&outcome);
}
