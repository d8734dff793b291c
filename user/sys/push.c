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
#include <dlfcn.h>


/* libcurl is loaded when a push is asked for, not linked: with its thirty
 * shared libraries (TLS, Kerberos, LDAP...) linked, every start of poolscope
 * took 7.2 ms instead of 1.2 ms to reach main (500 runs of a bad command
 * line, before the BPF start-up that poolscope keeps short). */
static struct {
	CURLcode (*global_init)(long flags);
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
	CURLUcode (*url_get)(const CURLU *u, CURLUPart what, char **part, unsigned int flags);
	void (*url_cleanup)(CURLU *u);
	void (*free)(void *p);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
} C;
static bool curl_ready;

/* Load libcurl and initialize it once: 0, or -ENOENT after one line. */
static int init_curl(const char *cmd)
{
	static const char lib[] = "libcurl.so.4";
	void *h;

	if (curl_ready)
		return 0;
	h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		ps_err("%s: --push needs %s (Debian: libcurl4): %s", cmd, lib, dlerror());
		return -ENOENT;
	}
	const struct { void **fn; const char *name; } syms[] = {
		{ (void **)&C.global_init, "curl_global_init" }, { (void **)&C.url, "curl_url" },
		{ (void **)&C.url_set, "curl_url_set" }, { (void **)&C.url_get, "curl_url_get" },
		{ (void **)&C.url_cleanup, "curl_url_cleanup" }, { (void **)&C.free, "curl_free" },
		{ (void **)&C.easy_init, "curl_easy_init" },
		{ (void **)&C.easy_setopt, "curl_easy_setopt" },
		{ (void **)&C.easy_perform, "curl_easy_perform" },
		{ (void **)&C.easy_getinfo, "curl_easy_getinfo" },
		{ (void **)&C.easy_cleanup, "curl_easy_cleanup" },
		{ (void **)&C.easy_strerror, "curl_easy_strerror" },
		{ (void **)&C.slist_append, "curl_slist_append" },
		{ (void **)&C.slist_free_all, "curl_slist_free_all" },
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].fn = dlsym(h, syms[i].name);
		if (!*syms[i].fn) {
			ps_err("%s: %s has no %s (libcurl 7.62 or newer is needed)", cmd, lib,
			       syms[i].name);
			return -ENOENT;
		}
	}
	if (C.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ps_err("%s: cannot initialize libcurl", cmd);
		return -ENOMEM;
	}
	curl_ready = true;
	return 0;
}

/* The ingest URL of base: its path ends in /ingest. NULL if base is not an
 * http(s) URL with a host; *why says what is wrong. */
static CURLU *ingest_url(const char *base, const char **why)
{
	CURLU *u = C.url();
	char *scheme = NULL, *host = NULL, *path = NULL;
	CURLU *ok = NULL;

	*why = "not a URL";
	if (!u || C.url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		goto out;
	if (C.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		*why = "expected http:// or https://";
		goto out;
	}
	if (C.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		*why = "no host";
		goto out;
	}
	if (C.url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	size_t n = strlen(path);
	if (n < 7 || strcmp(path + n - 7, "/ingest")) {
		char *p = xcalloc(n + 8, 1);

		snprintf(p, n + 8, "%s%s", path, n && path[n - 1] == '/' ? "ingest" : "/ingest");
		C.url_set(u, CURLUPART_PATH, p, 0);
		free(p);
	}
	ok = u;
out:
	C.free(scheme);
	C.free(host);
	C.free(path);
	if (!ok)
		C.url_cleanup(u);
	return ok;
}

int push_check_url(const char *url, const char *cmd)
{
	const char *why;
	CURLU *u;

	if (init_curl(cmd))
		return -EINVAL;
	u = ingest_url(url, &why);
	if (!u) {
		ps_err("%s: invalid --push URL '%s': %s", cmd, url, why);
		return -EINVAL;
	}
	C.url_cleanup(u);
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
	C.url_set(u, CURLUPART_QUERY, kv, CURLU_APPENDQUERY | CURLU_URLENCODE);
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
	CURL *c = C.easy_init();
	const char *token = getenv(PUSH_ENV_TOKEN), *user = getenv(PUSH_ENV_USER);
	const char *org = t->org_id ? t->org_id : getenv(PUSH_ENV_ORG_ID);
	unsigned timeout = t->timeout_ms ? t->timeout_ms : PUSH_DEFAULT_TIMEOUT_MS;
	char line[1024];

	if (!c)
		return NULL;
	*headers = C.slist_append(NULL, t->format == PUSH_PPROF ?
				     "Content-Type: application/octet-stream" :
				     "Content-Type: text/plain");
	*headers = C.slist_append(*headers, "Expect:"); /* no 100-continue round trip */
	if (org && *org) {
		snprintf(line, sizeof(line), "X-Scope-OrgID: %s", org);
		*headers = C.slist_append(*headers, line);
	}
	if (token && *token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		*headers = C.slist_append(*headers, line);
	} else if (user && *user) {
		C.easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		C.easy_setopt(c, CURLOPT_USERNAME, user);
		C.easy_setopt(c, CURLOPT_PASSWORD, getenv(PUSH_ENV_PASSWORD));
	}
	C.easy_setopt(c, CURLOPT_CURLU, u);
	C.easy_setopt(c, CURLOPT_HTTPHEADER, *headers);
	C.easy_setopt(c, CURLOPT_POST, 1L);
	C.easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
	C.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
	C.easy_setopt(c, CURLOPT_USERAGENT, "poolscope");
	C.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout < PUSH_CONNECT_TIMEOUT_MS ? timeout : PUSH_CONNECT_TIMEOUT_MS));
	C.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout);
	C.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	C.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
	C.easy_setopt(c, CURLOPT_WRITEDATA, reply);
	C.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	C.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	C.easy_setopt(c, CURLOPT_XFERINFODATA, (void *)t);
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
	if (init_curl(cmd))
		return -ENOENT;
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
		CURLcode rc = C.easy_perform(c);
		C.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		C.easy_cleanup(c);
		C.slist_free_all(headers);
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
			snprintf(why, sizeof(why), "%s", C.easy_strerror(rc));
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

		C.url_get(u, CURLUPART_URL, &full, CURLU_NO_DEFAULT_PORT);
		char *q = full ? strchr(full, '?') : NULL;
		if (q)
			*q = '\0'; /* the query is long and says nothing new */
		char tries[32] = "";

		if (attempt > 0)
			snprintf(tries, sizeof(tries), " (tried %d times)", attempt + 1);
		ps_err("%s: push of %s to %s failed: %s%s", cmd, p->kind, full ? full : t->url, why,
		       tries);
		C.free(full);
	}
	C.url_cleanup(u);
	return err;
}
#endif
