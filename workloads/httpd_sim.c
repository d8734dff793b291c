/* httpd_sim.c: the "httpd-sim" slow HTTP endpoint (see httpd_sim.h).
 *
 * One process, one thread, one poll() loop: a connection whose request is complete
 * gets a due time (now + latency) and no thread; the poll timeout is the earliest
 * due time, so any number of connections wait their delay concurrently. Each
 * connection serves one request at a time (HTTP/1.1 keep-alive, pipelined requests
 * wait their turn); requests with a Content-Length body have the body skipped.
 */
#include "httpd_sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CONN_IN_MAX 8192	/* request head limit; larger gets 431 */
#define CONN_OUT_MAX 1024

struct conn {
	int fd;
	char in[CONN_IN_MAX];
	size_t in_len;
	size_t body_left;	/* request body bytes still to skip */
	double due;		/* response time of the pending request; 0: none */
	int status;		/* of the pending response */
	bool head_only;		/* HEAD: no body */
	bool close_after;	/* Connection: close, HTTP/1.0, or a bad request */
	char path[128];
	uint64_t id;		/* request number */
	char out[CONN_OUT_MAX];
	size_t out_len, out_off;
};

struct server {
	const struct httpd_sim_config *cfg;
	int listen_fd, ctl_fd;
	struct conn **conns;
	int nconns, cap;
	struct httpd_sim_stats stats;
};

static void conn_close(struct server *s, int i)
{
	close(s->conns[i]->fd);
	free(s->conns[i]);
	s->conns[i] = s->conns[--s->nconns];
}

static void accept_conns(struct server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;
		int one = 1;

		if (fd < 0)
			return;	/* EAGAIN, or out of fds: retried on the next poll */
		if (s->nconns == s->cap) {
			int cap = s->cap ? 2 * s->cap : 64;
			struct conn **grown = realloc(s->conns, cap * sizeof(*grown));

			if (!grown) {
				close(fd);
				return;
			}
			s->conns = grown;
			s->cap = cap;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		s->conns[s->nconns++] = c;
		s->stats.connections++;
	}
}

/* Copies the path for the JSON body, keeping only characters safe in a JSON string. */
static void copy_path(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size; i++)
		dst[n++] = (src[i] >= 0x20 && src[i] < 0x7f && src[i] != '"' && src[i] != '\\') ?
			   src[i] : '_';
	dst[n] = '\0';
}

/* Value of header name (case-insensitive) in head[0..len), or NULL. */
static const char *find_header(const char *head, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;

	while (p && ++p < end) {
		const char *eol = memchr(p, '\n', end - p);

		if (!eol)
			break;
		if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			*vlen = eol - v - (eol > v && eol[-1] == '\r');
			return v;
		}
		p = eol;
	}
	return NULL;
}

/* Parses one complete request head from c->in, if there is one, and schedules its
 * response. */
static void parse_request(struct server *s, struct conn *c, double now)
{
	char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	size_t head_len, vlen;
	const char *v, *sp1, *sp2;

	if (!end) {
		if (c->in_len == sizeof(c->in)) {	/* head too large */
			c->status = 431;
			c->close_after = true;
			c->in_len = 0;
			goto schedule;
		}
		return;
	}
	head_len = end + 4 - c->in;
	sp1 = memchr(c->in, ' ', head_len);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', head_len - (sp1 + 1 - c->in)) : NULL;
	if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		c->status = 400;
		c->close_after = true;
		copy_path(c->path, sizeof(c->path), "", 0);
	} else {
		c->head_only = sp1 - c->in == 4 && memcmp(c->in, "HEAD", 4) == 0;
		copy_path(c->path, sizeof(c->path), sp1 + 1, sp2 - sp1 - 1);
		c->close_after = sp2[8] == '0';	/* HTTP/1.0 closes unless asked to keep */
		v = find_header(c->in, head_len, "Connection", &vlen);
		if (v && vlen == 5 && strncasecmp(v, "close", 5) == 0)
			c->close_after = true;
		if (v && vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0)
			c->close_after = false;
		v = find_header(c->in, head_len, "Content-Length", &vlen);
		c->body_left = v ? strtoull(v, NULL, 10) : 0;
		c->status = 200;
		if (s->cfg->fail_every && (s->stats.requests + 1) % s->cfg->fail_every == 0)
			c->status = 503;
	}
	memmove(c->in, c->in + head_len, c->in_len - head_len);
	c->in_len -= head_len;
schedule:
	c->id = ++s->stats.requests;
	c->due = now + s->cfg->latency_ms / 1000.0;
}

static void skip_body(struct conn *c)
{
	size_t n = c->body_left < c->in_len ? c->body_left : c->in_len;

	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
	c->body_left -= n;
}

static void build_response(struct server *s, struct conn *c)
{
	const char *reason = c->status == 200 ? "OK" : c->status == 503 ? "Service Unavailable" :
			     c->status == 431 ? "Request Header Fields Too Large" : "Bad Request";
	char body[512];
	int blen;

	if (c->status == 200)
		blen = snprintf(body, sizeof(body), "{\"id\":%llu,\"path\":\"%s\",\"delay_ms\":%d}\n",
				(unsigned long long)c->id, c->path, s->cfg->latency_ms);
	else
		blen = snprintf(body, sizeof(body), "{\"id\":%llu,\"error\":\"%s\"}\n",
				(unsigned long long)c->id, reason);
	if (c->status != 200)
		s->stats.errors_sent++;
	c->out_len = snprintf(c->out, sizeof(c->out),
			      "HTTP/1.1 %d %s\r\nServer: httpd-sim\r\nContent-Type: application/json\r\n"
			      "Content-Length: %d\r\nConnection: %s\r\n\r\n%s",
			      c->status, reason, blen, c->close_after ? "close" : "keep-alive",
			      c->head_only ? "" : body);
	c->out_off = 0;
	c->due = 0;
}

/* Sends what is pending. Returns false when the connection is finished. */
static bool send_pending(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->out_off += n;
	}
	c->out_len = c->out_off = 0;
	return !c->close_after;
}

/* Reads what arrived. Returns false when the peer closed or failed. */
static bool receive(struct conn *c)
{
	while (c->in_len < sizeof(c->in)) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);

		if (n == 0)
			return false;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		c->in_len += n;
	}
	return true;
}

/* Serves until the control pipe closes. */
static void serve(struct server *s)
{
	struct pollfd *pfd = NULL;
	int pfd_cap = 0;

	for (;;) {
		double now = wl_now(), next_due = 0;
		int timeout = -1, n = 2;

		if (pfd_cap < s->nconns + 2) {
			pfd_cap = 2 * (s->nconns + 2);
			pfd = realloc(pfd, pfd_cap * sizeof(*pfd));
			if (!pfd)
				_exit(1);
		}
		pfd[0] = (struct pollfd){ .fd = s->ctl_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (int i = 0; i < s->nconns; i++) {
			struct conn *c = s->conns[i];

			pfd[n++] = (struct pollfd){ .fd = c->fd,
				.events = (c->in_len < sizeof(c->in) ? POLLIN : 0) |
					  (c->out_len ? POLLOUT : 0) };
			if (c->due && (!next_due || c->due < next_due))
				next_due = c->due;
		}
		if (next_due)
			timeout = next_due <= now ? 0 : (int)((next_due - now) * 1000.0 + 0.999);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			_exit(1);
		if (pfd[0].revents) {
			free(pfd);
			return;	/* the parent closed the control pipe, or died */
		}
		if (pfd[1].revents)
			accept_conns(s);

		now = wl_now();
		/* pfd[2..] map to conns[0..] as they were before accept_conns() appended;
		 * walk down so conn_close()'s swap-with-last never skips an entry. */
		for (int i = n - 3; i >= 0; i--) {
			struct conn *c = s->conns[i];
			bool alive = true;

			if (pfd[i + 2].revents & (POLLIN | POLLHUP | POLLERR))
				alive = receive(c);
			if (alive && c->due && c->due <= now)
				build_response(s, c);
			if (alive && c->out_len)
				alive = send_pending(c);
			if (alive && !c->due && !c->out_len) {
				skip_body(c);
				if (!c->body_left)
					parse_request(s, c, now);
			}
			if (!alive)
				conn_close(s, i);
		}
	}
}

/* Child side of httpd_sim_start(). */
static void __attribute__((noreturn)) server_main(const struct httpd_sim_config *cfg, int ctl_fd,
						 int report_fd, pid_t parent)
{
	struct server s = { .cfg = cfg, .ctl_fd = ctl_fd };
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int one = 1, port;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)	/* the parent died before the line above */
		_exit(0);
	prctl(PR_SET_NAME, "httpd-sim");
	wl_raise_nofile();

	s.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s.listen_fd < 0 ||
	    setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s.listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(s.listen_fd, SOMAXCONN) < 0 ||
	    getsockname(s.listen_fd, (struct sockaddr *)&addr, &alen) < 0) {
		fprintf(stderr, "httpd-sim: cannot listen on 127.0.0.1: %s\n", strerror(errno));
		_exit(1);
	}
	port = ntohs(addr.sin_port);
	if (write(report_fd, &port, sizeof(port)) != sizeof(port))
		_exit(1);

	serve(&s);

	if (write(report_fd, &s.stats, sizeof(s.stats)) != sizeof(s.stats))
		_exit(1);
	_exit(0);
}

int httpd_sim_start(const struct httpd_sim_config *cfg, struct httpd_sim *srv)
{
	int ctl[2], report[2], err;
	pid_t parent = getpid();
	ssize_t n;

	if (pipe2(ctl, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(report, O_CLOEXEC) < 0) {
		err = -errno;
		close(ctl[0]);
		close(ctl[1]);
		return err;
	}
	fflush(NULL);
	srv->pid = fork();
	if (srv->pid == 0) {
		close(ctl[1]);
		close(report[0]);
		server_main(cfg, ctl[0], report[1], parent);
	}
	err = srv->pid < 0 ? -errno : 0;
	close(ctl[0]);
	close(report[1]);
	srv->ctl_fd = ctl[1];
	srv->report_fd = report[0];
	if (err < 0) {
		wl_error("cannot start httpd-sim: %s", strerror(-err));
		goto fail;
	}
	do
		n = read(srv->report_fd, &srv->port, sizeof(srv->port));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(srv->port))
		return 0;
	err = -EIO;
	wl_error("httpd-sim did not start");
	waitpid(srv->pid, NULL, 0);
fail:
	close(srv->ctl_fd);
	close(srv->report_fd);
	srv->pid = 0;
	return err;
}

int httpd_sim_stop(struct httpd_sim *srv, struct httpd_sim_stats *stats)
{
	int status = 0;
	ssize_t n;

	memset(stats, 0, sizeof(*stats));
	if (srv->pid <= 0)
		return -ESRCH;
	close(srv->ctl_fd);
	do
		n = read(srv->report_fd, stats, sizeof(*stats));
	while (n < 0 && errno == EINTR);
	if (n != sizeof(*stats))
		memset(stats, 0, sizeof(*stats));
	close(srv->report_fd);
	while (waitpid(srv->pid, &status, 0) < 0 && errno == EINTR)
		;
	srv->pid = 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}
