/* user/sys/push.c: profiles to a Pyroscope ingest endpoint over libcurl
 * (see push.h). */
#include "sys/push.h"
#include "sys/util.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX 4096
#define MESSAGE_MAX 160

static bool key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

int push_check_label(const char *label, const char *cmd)
{
	const char *eq = strchr(label, '=');
	const char *v = eq ? eq + 1 : NULL;
	bool ok = eq && eq > label && *v && !isspace((unsigned char)*v) &&
		  !isspace((unsigned char)v[strlen(v) - 1]) && !strpbrk(v, ",{}=");

	for (const char *p = label; ok && p < eq; p++)
		ok = key_char(*p);
	if (ok && eq - label == 8 && !strncmp(label, "__name__", 8))
		ok = false;
	if (!ok) {
		ps_err("%s: invalid --push-label '%s' (expected KEY=VALUE: a key of letters, digits, "
		       "'_', '.'; a value without ',', '{', '}', '=')", cmd, label);
		return -EINVAL;
	}
	return 0;
}

int push_check_env(const char *cmd)
{
	const char *token = getenv(PUSH_ENV_TOKEN), *user = getenv(PUSH_ENV_USER);
	const char *pass = getenv(PUSH_ENV_PASSWORD);

	if (token && *token && user && *user) {
		ps_err("%s: both %s and %s are set: choose bearer or basic authentication", cmd,
		       PUSH_ENV_TOKEN, PUSH_ENV_USER);
		return -EINVAL;
	}
	if (user && *user && !pass) {
		ps_err("%s: %s is set without %s", cmd, PUSH_ENV_USER, PUSH_ENV_PASSWORD);
		return -EINVAL;
	}
	return 0;
}

const char *push_app_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name && *name ? name : "poolscope");
	for (char *p = buf; *p; p++)
		if (!key_char(*p) && *p != '-' && *p != '/')
			*p = '_';
	return buf;
}

#ifdef PS_NO_CURL
/* A build without libcurl (the static poolscope of the kernel test): the
 * push options are refused before tracing. */
int push_check_url(const char *url, const char *cmd)
{
	ps_err("%s: --push %s: this poolscope was built without libcurl", cmd, url);
	return -EINVAL;
}

int push_send(const struct push_target *t, const struct push_profile *p, const char *cmd,
	      bool *transport)
{
	(void)t, (void)p, (void)cmd, (void)transport;
	return -ENOTSUP;
}
#else
#include <curl/curl.h>


static bool curl_ready;

static int init_curl(void)
{
	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		curl_ready = true;
	return curl_ready ? 0 : -ENOMEM;
}

/* The ingest URL of base: its path ends in /ingest. NULL if base is not an
 * http(s) URL with a host; *why says what is wrong. */
static CURLU *ingest_url(const char *base, const char **why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *path = NULL;
	CURLU *ok = NULL;

	*why = "not a URL";
	if (!u || curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		*why = "expected http:// or https://";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		*why = "no host";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	size_t n = strlen(path);
	if (n < 7 || strcmp(path + n - 7, "/ingest")) {
		char *p = xcalloc(n + 8, 1);

		snprintf(p, n + 8, "%s%s", path, n && path[n - 1] == '/' ? "ingest" : "/ingest");
		curl_url_set(u, CURLUPART_PATH, p, 0);
		free(p);
	}
	ok = u;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	if (!ok)
		curl_url_cleanup(u);
	return ok;
}

int push_check_url(const char *url, const char *cmd)
{
	const char *why;
	CURLU *u;

	if (init_curl()) {
		ps_err("%s: cannot initialize libcurl", cmd);
		return -EINVAL;
	}
	u = ingest_url(url, &why);
	if (!u) {
		ps_err("%s: invalid --push URL '%s': %s", cmd, url, why);
		return -EINVAL;
	}
	curl_url_cleanup(u);
	return 0;
}

/* A label value from free text (the host name): the characters the name
 * syntax uses become '_'. */
static void label_value(char *v)
{
	for (; *v; v++)
		if (strchr(",{}= ", *v))
			*v = '_';
}

/* "APP.KIND{host=...,k=v,...}"; a --push-label host= replaces the host. */
static void series_name(const struct push_target *t, const char *kind, char *buf, size_t len)
{
	char host[256] = "";
	bool own_host = false;
	size_t n;

	for (int i = 0; i < t->nlabels; i++)
		own_host |= !strncmp(t->labels[i], "host=", 5);
	if (!own_host && gethostname(host, sizeof(host) - 1) == 0) {
		host[sizeof(host) - 1] = '\0';
		label_value(host);
	}
	n = snprintf(buf, len, "%s.%s{", t->app, kind);
	if (*host)
		n += snprintf(buf + n, n < len ? len - n : 0, "host=%s", host);
	for (int i = 0; i < t->nlabels && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%s", n && buf[n - 1] != '{' ? "," : "",
			      t->labels[i]);
	if (n < len)
		snprintf(buf + n, len - n, "}");
}

struct reply {
	char buf[REPLY_MAX];
	size_t len;
};

static size_t on_reply(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t take = size * n;

	if (take > sizeof(r->buf) - 1 - r->len)
		take = sizeof(r->buf) - 1 - r->len;
	memcpy(r->buf + r->len, data, take);
	r->len += take;
	r->buf[r->len] = '\0';
	return size * n; /* the rest is dropped, not an error */
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	const struct push_target *t = arg;

	(void)a, (void)b, (void)c, (void)d;
	return t->abort && t->abort(t->abort_arg); /* non-zero aborts the transfer */
}

/* The server's message in one short printable line: a JSON error's
 * "message" (Pyroscope's), else the reply's first line. */
static const char *server_message(const char *reply, char *buf, size_t len)
{
	const char *m = strstr(reply, "\"message\"");
	char end = '\n';
	size_t n = 0;

	if (m && (m = strchr(m + 9, ':'))) {
		for (m++; *m == ' '; m++)
			;
		if (*m == '"')
			m++, end = '"';
	} else {
		for (m = reply; *m == '\n' || *m == '\r' || *m == ' '; m++)
			;
	}
	for (; *m && *m != end && *m != '\n' && *m != '\r' && n + 1 < len; m++) {
		if (*m == '\\' && m[1])
			m++;
		buf[n++] = isprint((unsigned char)*m) ? *m : '?';
	}
	buf[n] = '\0';
	return n ? buf : "(no message)";
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void add_query(CURLU *u, const char *key, const char *value)
{
	char *kv = xcalloc(strlen(key) + strlen(value) + 2, 1);

	sprintf(kv, "%s=%s", key, value);
	/* URLENCODE with APPENDQUERY encodes what follows the first '=' */
	curl_url_set(u, CURLUPART_QUERY, kv, CURLU_APPENDQUERY | CURLU_URLENCODE);
	free(kv);
}

static void add_query_u64(CURLU *u, const char *key, uint64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	add_query(u, key, num);
}

static CURL *request(const struct push_target *t, CURLU *u, const struct push_profile *p,
		     struct curl_slist **headers, struct reply *reply)
{
	CURL *c = curl_easy_init();
	const char *token = getenv(PUSH_ENV_TOKEN), *user = getenv(PUSH_ENV_USER);
	const char *org = t->org_id ? t->org_id : getenv(PUSH_ENV_ORG_ID);
	unsigned timeout = t->timeout_ms ? t->timeout_ms : PUSH_DEFAULT_TIMEOUT_MS;
	char line[1024];

	if (!c)
		return NULL;
	*headers = curl_slist_append(NULL, t->format == PUSH_PPROF ?
				     "Content-Type: application/octet-stream" :
				     "Content-Type: text/plain");
	*headers = curl_slist_append(*headers, "Expect:"); /* no 100-continue round trip */
	if (org && *org) {
		snprintf(line, sizeof(line), "X-Scope-OrgID: %s", org);
		*headers = curl_slist_append(*headers, line);
	}
	if (token && *token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		*headers = curl_slist_append(*headers, line);
	} else if (user && *user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, getenv(PUSH_ENV_PASSWORD));
	}
	curl_easy_setopt(c, CURLOPT_CURLU, u);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "poolscope");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout < PUSH_CONNECT_TIMEOUT_MS ? timeout : PUSH_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)t);
	return c;
}

static CURLU *request_url(const struct push_target *t, const struct push_profile *p)
{
	const char *why;
	CURLU *u = ingest_url(t->url, &why);
	char name[2048];

	if (!u)
		return NULL;
	series_name(t, p->kind, name, sizeof(name));
	add_query(u, "name", name);
	add_query_u64(u, "from", p->from_s);
	add_query_u64(u, "until", p->until_s);
	add_query(u, "format", t->format == PUSH_PPROF ? "pprof" : "folded");
	add_query_u64(u, "sampleRate", p->sample_rate);
	add_query(u, "spyName", "poolscope");
	add_query(u, "units", p->units);
	add_query(u, "aggregationType", "sum");
	return u;
}

int push_send(const struct push_target *t, const struct push_profile *p, const char *cmd,
	      bool *transport)
{
	static const unsigned backoff_ms[PUSH_TRIES - 1] = { 500, 1000 };
	unsigned timeout = t->timeout_ms ? t->timeout_ms : PUSH_DEFAULT_TIMEOUT_MS;
	char why[512] = "", msg[MESSAGE_MAX + 1];
	int err = -EIO;

	if (transport)
		*transport = false;
	if (init_curl())
		return -ENOMEM;
	CURLU *u = request_url(t, p);
	if (!u) {
		ps_err("%s: invalid --push URL '%s'", cmd, t->url);
		return -EINVAL;
	}
	int attempt;
	for (attempt = 0; attempt < PUSH_TRIES; attempt++) {
		struct reply reply = { .len = 0 };
		struct curl_slist *headers = NULL;
		CURL *c = request(t, u, p, &headers, &reply);
		long status = 0;
		bool again = false;

		if (!c) {
			snprintf(why, sizeof(why), "cannot start libcurl");
			break;
		}
		CURLcode rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_cleanup(c);
		curl_slist_free_all(headers);
		if (rc == CURLE_OK && status >= 200 && status < 300) {
			err = 0;
			break;
		}
		if (rc == CURLE_OK) {
			snprintf(why, sizeof(why), "refused: HTTP %ld: %s", status,
				 server_message(reply.buf, msg, sizeof(msg)));
			again = status == 429 || status >= 500;
			err = status >= 500 ? -EAGAIN : -EACCES;
		} else if (rc == CURLE_OPERATION_TIMEDOUT) {
			snprintf(why, sizeof(why), "no answer within %.1f s (timeout)", timeout / 1e3);
			err = -ETIMEDOUT;
		} else if (rc == CURLE_ABORTED_BY_CALLBACK) {
			snprintf(why, sizeof(why), "stopped by a signal");
			err = -EINTR;
		} else {
			snprintf(why, sizeof(why), "%s", curl_easy_strerror(rc));
			again = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
				rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
			err = -ECONNREFUSED;
		}
		if (transport)
			*transport = rc != CURLE_OK;
		if (!again || attempt + 1 == PUSH_TRIES ||
		    (t->abort && t->abort(t->abort_arg)))
			break;
		sleep_ms(backoff_ms[attempt]);
	}
	if (err) {
		char *full = NULL;

		curl_url_get(u, CURLUPART_URL, &full, CURLU_NO_DEFAULT_PORT);
		char *q = full ? strchr(full, '?') : NULL;
		if (q)
			*q = '\0'; /* the query is long and says nothing new */
		char tries[32] = "";

		if (attempt > 0)
			snprintf(tries, sizeof(tries), " (tried %d times)", attempt + 1);
		ps_err("%s: push of %s to %s failed: %s%s", cmd, p->kind, full ? full : t->url, why,
		       tries);
		curl_free(full);
	}
	curl_url_cleanup(u);
	return err;
}
#endif
