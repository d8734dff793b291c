/* user/sys/push.h: send profiles to a continuous-profiling server's
 * Pyroscope ingest API (`POST /ingest`), with libcurl.
 *
 * One request per profile: the body is the profile (pprof, gzip-compressed,
 * or folded text), the query names the series and the window:
 *   name             APP.KIND{host=HOST,k=v,...} (Pyroscope's key syntax)
 *   from, until      the window in Unix seconds
 *   format           pprof or folded
 *   sampleRate, units, aggregationType, spyName=poolscope
 * Credentials come from the environment only, never the command line (so
 * they are not in `ps` or shell history): PUSH_ENV_TOKEN (bearer) or
 * PUSH_ENV_USER and PUSH_ENV_PASSWORD (basic); PUSH_ENV_ORG_ID (or the
 * target's org_id) sets X-Scope-OrgID, the tenant of a multi-tenant server.
 *
 * Each request has a connect and a total timeout. Refusals that may pass
 * (HTTP 429 and 5xx) and failures to connect are tried again, at most
 * PUSH_TRIES times, after 0.5 s and 1 s; a request that timed out is not
 * (the server is there but slow: a second wait would only double the time
 * the trace's end waits). Failures are one line: the HTTP status and the
 * server's message, or libcurl's reason. */
#ifndef POOLSCOPE_PUSH_H
#define POOLSCOPE_PUSH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUSH_ENV_TOKEN "POOLSCOPE_PUSH_TOKEN"
#define PUSH_ENV_USER "POOLSCOPE_PUSH_USER"
#define PUSH_ENV_PASSWORD "POOLSCOPE_PUSH_PASSWORD"
#define PUSH_ENV_ORG_ID "POOLSCOPE_PUSH_ORG_ID"
#define PUSH_MAX_LABELS 16
#define PUSH_TRIES 3
#define PUSH_DEFAULT_TIMEOUT_MS 10000
#define PUSH_CONNECT_TIMEOUT_MS 3000

enum push_format { PUSH_PPROF, PUSH_FOLDED };

struct push_target {
	const char *url;             /* as given; /ingest is appended to its path */
	const char *app;             /* APP of the name, valid (push_app_name) */
	const char *labels[PUSH_MAX_LABELS]; /* "k=v", checked (push_check_label) */
	int nlabels;
	const char *org_id;          /* NULL: PUSH_ENV_ORG_ID, if set */
	enum push_format format;
	unsigned timeout_ms;         /* total per request; 0: the default */
	/* polled while a request runs: true aborts it (a stop signal) */
	bool (*abort)(void *arg);
	void *abort_arg;
};

struct push_profile {
	const char *kind;            /* KIND of the name: oncpu, offcpu, futex */
	const void *body;
	size_t len;
	uint64_t from_s, until_s;
	uint64_t sample_rate;
	const char *units;           /* samples, nanoseconds, lock_nanoseconds */
};

/* Check the URL (http or https, a host) before tracing: 0, or -EINVAL
 * after one line "CMD: ...". */
int push_check_url(const char *url, const char *cmd);
/* Check one --push-label "k=v" as Pyroscope parses names: the key of
 * letters, digits, '_' and '.', not reserved (__name__); a value without
 * ',', '{', '}' or '=' and without spaces at its ends. 0, or -EINVAL after
 * one line. */
int push_check_label(const char *label, const char *cmd);
/* The credentials in the environment are usable (not both kinds, not a
 * user without password): 0, or -EINVAL after one line. */
int push_check_env(const char *cmd);
/* APP from a name: characters Pyroscope does not allow in an application
 * name become '_'; empty becomes "poolscope". */
const char *push_app_name(const char *name, char *buf, size_t len);

/* Send one profile. 0; -ECONNREFUSED-like -errno after one line
 * "CMD: push of KIND to URL failed: ...". *transport (may be NULL) is set
 * when the server could not be reached or did not answer in time, so the
 * caller need not try its other profiles. */
int push_send(const struct push_target *t, const struct push_profile *p, const char *cmd,
	      bool *transport);

#endif
