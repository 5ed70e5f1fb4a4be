// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The HTTP API on the unix socket: see api.h and docs/api.md. The same
 * server answers GET /metrics on the optional loopback TCP listener
 * (--metrics-listen), with the text metrics.c renders.
 *
 * A connection reads one request head (http_parser, paused at the end of
 * the head: bodies and pipelined requests are ignored), answers it and
 * closes. A follow request turns the connection into a follower: it gets
 * the recent events from the history, in batches written as the socket
 * takes them, then every new event as fdw_api_publish() sees it. Followers
 * track the next sequence number they need, so the switch from history to
 * live events neither loses nor repeats one.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <http_parser.h>
#include <jansson.h>

#include "base/log.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/render.h"
#include "check/check.h"

#define HEAD_MAX (16 * 1024)		  /* request line + headers */
#define READ_TIMEOUT_MS 10000		  /* to send a whole request head */
#define WRITE_TIMEOUT_MS 30000		  /* to take a whole response */
#define LINGER_MS 2000			  /* to hang up after our response */
#define REJECT_TIMEOUT_MS 2000		  /* for a refused client's request */
#define FOLLOW_QUEUE_MAX (4u * 1024 * 1024) /* queued for one follower */
#define BACKLOG_BATCH (64 * 1024)	  /* bytes of history per write */
#define BACKLOG_LOW_WATER (256 * 1024)	  /* refill below this */
#define REJECT_MAX 16			  /* connections being refused at once */
#define DEFAULT_MAX_CLIENTS 64
#define METRICS_MAX_CLIENTS 16		  /* scrapers at once, apart from max_clients */
#define EVENTS_DEFAULT_LIMIT 100
#define LISTEN_BACKLOG 128
#define READ_BUF (64 * 1024)
/* 16 digits: microseconds on an epoch timestamp, no 0.1 -> 0.10000000000000001 */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(16))

/* ---- shared, refcounted write buffers ----------------------------------- */

struct wbuf {
	unsigned int refs;
	size_t len;
	char data[];
};

static struct wbuf *wbuf_new(size_t cap)
{
	struct wbuf *b = malloc(sizeof(*b) + cap);

	if (!b)
		return NULL;
	b->refs = 1;
	b->len = 0;
	return b;
}

static void wbuf_unref(struct wbuf *b)
{
	if (b && --b->refs == 0)
		free(b);
}

struct wreq {
	uv_write_t req;
	struct wbuf *buf;
};

/* ---- state -------------------------------------------------------------- */

enum client_state {
	C_READING,    /* waiting for the request head */
	C_RESPONDING, /* one response queued; linger when written */
	C_LINGER,     /* response sent, write side shut: drop input until EOF */
	C_FOLLOWING,  /* chunked event stream */
	C_CLOSING,
};

struct client {
	struct client *prev, *next;
	struct fdw_api *api;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_pipe_t pipe; /* the unix socket */
		uv_tcp_t tcp;	/* the metrics listener */
	} conn;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	http_parser parser;
	enum client_state state;
	unsigned int open_handles; /* conn, timer: freed when both closed */
	size_t head_len;
	char *url;
	size_t url_len, url_cap;
	bool head_done;
	bool metrics;	/* from the metrics listener: GET /metrics only */
	bool rejected;	/* over its bound: its request gets a 503 */
	bool follower;	/* counted in nfollowers */
	bool live;	/* follower past the backlog */
	bool alerts;	/* follower of /v1/leaks (alerts, not events) */
	uint32_t follow_pid;
	uint64_t next_seq; /* follower: first event it has not been sent */
	/* peer credentials at connect time, for per-request authorization */
	uid_t uid;
	gid_t gid;
	pid_t peer_pid;
};

struct fdw_api {
	struct fdw_daemon *d;
	uv_pipe_t listener;
	bool listening;
	bool stopping;
	char *path;
	dev_t sock_dev;
	ino_t sock_ino;
	uv_tcp_t mlistener;   /* --metrics-listen */
	bool has_mlistener;
	unsigned int mport;   /* bound port (for port 0) */
	struct client *clients;
	unsigned int nclients; /* served (not rejected) unix connections */
	unsigned int nmclients; /* served (not rejected) metrics connections */
	unsigned int nfollowers;
	unsigned int nrejecting;
	uint64_t dropped_clients;
	uint64_t dropped_mclients;
	uint64_t dropped_followers;
	unsigned int handles; /* listeners + clients not yet freed */
	char rbuf[READ_BUF];  /* every read lands here and is handled at once */
};

static void client_close(struct client *c);
static void client_linger(struct client *c);
static void follow_pump(struct client *c);

/* ---- lifetime ----------------------------------------------------------- */

static void api_put(struct fdw_api *api)
{
	if (--api->handles > 0 || !api->stopping)
		return;
	free(api->path);
	free(api);
}

static void on_client_handle_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	struct fdw_api *api = c->api;

	if (--c->open_handles > 0)
		return;
	free(c->url);
	free(c);
	api_put(api);
}

static void client_close(struct client *c)
{
	struct fdw_api *api = c->api;

	if (c->state == C_CLOSING)
		return;
	c->state = C_CLOSING;
	if (c->prev)
		c->prev->next = c->next;
	else
		api->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (c->rejected)
		api->nrejecting--;
	else if (c->metrics)
		api->nmclients--;
	else
		api->nclients--;
	if (c->follower)
		api->nfollowers--;
	uv_close(&c->conn.handle, on_client_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_client_handle_closed);
}

static bool verbose(const struct fdw_api *api)
{
	return fdw_log_get_max() >= LOG_DEBUG;
}

/* ---- writing -------------------------------------------------------------- */

static void on_timeout(uv_timer_t *t);

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct client *c = req->data;

	if (c->state != C_CLOSING && status < 0)
		client_close(c);
}

/*
 * The response is out: send FIN and read until the client hangs up (or
 * LINGER_MS), so input we never read (a body, a pipelined request) does
 * not turn our close into a reset that destroys the response in flight.
 */
static void client_linger(struct client *c)
{
	c->state = C_LINGER;
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, &c->conn.stream, on_shutdown) < 0) {
		client_close(c);
		return;
	}
	(void)uv_timer_stop(&c->timer);
	(void)uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
	/* every client reads from accept on: on_read drops what comes now */
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct client *c = req->data;

	wbuf_unref(w->buf);
	free(w);
	if (c->state == C_CLOSING)
		return; /* cancelled by the close */
	if (status < 0) {
		client_close(c);
		return;
	}
	if (c->state == C_RESPONDING) {
		if (uv_stream_get_write_queue_size(&c->conn.stream) == 0)
			client_linger(c);
	} else if (c->state == C_FOLLOWING && !c->live) {
		follow_pump(c);
	}
}

static int client_write(struct client *c, struct wbuf *b)
{
	struct wreq *w = malloc(sizeof(*w));
	uv_buf_t ub = uv_buf_init(b->data, (unsigned int)b->len);
	int r;

	if (!w)
		return -ENOMEM;
	w->buf = b;
	b->refs++;
	w->req.data = c;
	r = uv_write(&w->req, &c->conn.stream, &ub, 1, on_write);
	if (r < 0) {
		b->refs--;
		free(w);
	}
	return r;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static void on_timeout(uv_timer_t *t)
{
	struct client *c = t->data;

	if (verbose(c->api))
		log_debug("api: uid %u pid %d: %s timed out", c->uid,
			(int)c->peer_pid,
			c->state == C_READING ? "request" : c->state == C_LINGER ? "hang-up" : "response");
	client_close(c);
}

/*
 * Send `status` with `blen` bytes of `body` as `ctype` (and a newline when
 * `nl`), close once written. Extra headers, each ending in \r\n, in
 * `headers`.
 */
static void respond_bytes(struct client *c, int status, const char *ctype, const char *body,
			  size_t blen, bool nl, const char *headers)
{
	size_t total = blen + (nl ? 1 : 0);
	struct wbuf *b;
	int n, r;

	b = wbuf_new(total + 512);
	if (!b) {
		client_close(c);
		return;
	}
	n = snprintf(b->data, 512,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "Connection: close\r\n"
		     "%s\r\n",
		     status, status_text(status), ctype, total, headers ? headers : "");
	if (n < 0 || n >= 512) {
		wbuf_unref(b);
		client_close(c);
		return;
	}
	memcpy(b->data + n, body, blen);
	if (nl)
		b->data[n + blen] = '\n';
	b->len = (size_t)n + total;
	c->state = C_RESPONDING;
	(void)uv_timer_stop(&c->timer);
	(void)uv_timer_start(&c->timer, on_timeout, WRITE_TIMEOUT_MS, 0);
	r = client_write(c, b);
	wbuf_unref(b);
	if (r < 0)
		client_close(c);
}

/*
 * Send `status` with the JSON text `text` (taken and freed; NULL: out of
 * memory, a 500) and close once written. Extra headers, each ending in
 * \r\n, in `headers`.
 */
static void respond_text(struct client *c, int status, char *text, const char *headers)
{
	static const char fallback[] = "{\"error\": \"internal error\"}";
	const char *payload = text ? text : fallback;

	if (!text)
		status = status == 200 ? 500 : status;
	respond_bytes(c, status, "application/json", payload, strlen(payload), true, headers);
	free(text);
}

/* respond_text() for a JSON value (stolen; NULL: out of memory). */
static void respond(struct client *c, int status, json_t *body, const char *headers)
{
	char *text = body ? json_dumps(body, DUMP_FLAGS) : NULL;

	json_decref(body);
	respond_text(c, status, text, headers);
}

__attribute__((format(printf, 3, 4)))
static void respond_error(struct client *c, int status, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->metrics) /* scrapers get plain text, not the API's JSON */
		respond_bytes(c, status, "text/plain; charset=utf-8", msg, strlen(msg), true,
			      status == 405 ? "Allow: GET\r\n" : NULL);
	else
		respond(c, status, fdw_render_error("%s", msg),
			status == 405 ? "Allow: GET\r\n" : NULL);
}

/* ---- follow streams --------------------------------------------------------- */

/* One NDJSON line as an HTTP chunk: "<hex>\r\n<json>\n\r\n". NULL on failure. */
static struct wbuf *json_chunk(const json_t *o, size_t flags)
{
	char *text = o ? json_dumps(o, flags) : NULL;
	struct wbuf *b = NULL;
	size_t len;

	if (!text)
		return NULL;
	len = strlen(text);
	b = wbuf_new(len + 32);
	if (b)
		b->len = (size_t)sprintf(b->data, "%zx\r\n%s\n\r\n", len + 1, text);
	free(text);
	return b;
}

static struct wbuf *event_chunk(const struct fdw_daemon *d, const struct fdw_history_entry *e)
{
	json_t *o = fdw_render_event(d, e);
	struct wbuf *b = json_chunk(o, DUMP_FLAGS);

	json_decref(o);
	return b;
}

/* Index of the oldest history entry with seq >= `seq` (len if none). */
static uint64_t history_find(const struct fdw_history *h, uint64_t seq)
{
	uint64_t lo = 0, hi = h->len;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (fdw_history_at(h, mid)->ev.seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool matches(const struct client *c, const struct fdw_history_entry *e)
{
	return !c->follow_pid || e->ev.pid == c->follow_pid;
}

static void follower_drop(struct client *c, const char *why)
{
	c->api->dropped_followers++;
	if (verbose(c->api))
		log_debug("api: follower uid %u pid %d dropped: %s", c->uid,
			(int)c->peer_pid, why);
	client_close(c);
}

/*
 * Send the backlog (history from next_seq on) while the socket takes it;
 * on_write calls again as it drains. Past the newest entry the follower
 * goes live and fdw_api_publish() takes over.
 */
static void follow_pump(struct client *c)
{
	const struct fdw_daemon *d = c->api->d;
	const struct fdw_history *h = &d->history;

	while (c->state == C_FOLLOWING && !c->live &&
	       uv_stream_get_write_queue_size(&c->conn.stream) < BACKLOG_LOW_WATER) {
		uint64_t i = history_find(h, c->next_seq);
		struct wbuf *batch;
		size_t cap = BACKLOG_BATCH * 2;

		if (i == h->len) {
			c->live = true;
			return;
		}
		if (i == 0 && c->next_seq && fdw_history_at(h, 0)->ev.seq > c->next_seq) {
			/* the history was overwritten before we sent it */
			follower_drop(c, "fell behind the history");
			return;
		}
		batch = wbuf_new(cap);
		if (!batch) {
			client_close(c);
			return;
		}
		for (; i < h->len && batch->len < BACKLOG_BATCH; i++) {
			const struct fdw_history_entry *e = fdw_history_at(h, i);
			struct wbuf *line;

			c->next_seq = e->ev.seq + 1;
			if (!matches(c, e))
				continue;
			line = event_chunk(d, e);
			if (!line)
				continue;
			if (batch->len + line->len > cap) {
				struct wbuf *nb;

				cap = (batch->len + line->len) * 2;
				nb = realloc(batch, sizeof(*nb) + cap);
				if (!nb) {
					wbuf_unref(line);
					break;
				}
				batch = nb;
			}
			memcpy(batch->data + batch->len, line->data, line->len);
			batch->len += line->len;
			wbuf_unref(line);
		}
		if (batch->len && client_write(c, batch) < 0) {
			wbuf_unref(batch);
			client_close(c);
			return;
		}
		wbuf_unref(batch);
	}
}

/*
 * Turn the connection into a follow stream: the chunked NDJSON response
 * head, follower state, no request timeout. 0, or -errno after closing the
 * client.
 */
static int stream_open(struct client *c)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: application/x-ndjson\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "Cache-Control: no-store\r\n"
				   "Connection: close\r\n\r\n";
	struct wbuf *b = wbuf_new(sizeof(head));

	if (!b) {
		client_close(c);
		return -ENOMEM;
	}
	memcpy(b->data, head, sizeof(head) - 1);
	b->len = sizeof(head) - 1;
	c->state = C_FOLLOWING;
	c->follower = true;
	c->api->nfollowers++;
	(void)uv_timer_stop(&c->timer);
	if (client_write(c, b) < 0) {
		wbuf_unref(b);
		client_close(c);
		return -EIO;
	}
	wbuf_unref(b);
	return 0;
}

static void follow_start(struct client *c, uint32_t pid, uint64_t limit)
{
	const struct fdw_history *h = &c->api->d->history;
	uint64_t i = h->len, n = 0;

	/* the backlog starts at the limit-th newest matching event */
	c->follow_pid = pid;
	while (i > 0 && n < limit) {
		if (matches(c, fdw_history_at(h, i - 1)))
			n++;
		i--;
	}
	if (i < h->len)
		c->next_seq = fdw_history_at(h, i)->ev.seq;
	else if (h->len)
		c->next_seq = fdw_history_at(h, h->len - 1)->ev.seq + 1;
	else
		c->next_seq = 0;

	if (stream_open(c) < 0)
		return;
	follow_pump(c);
}

void fdw_api_publish(struct fdw_daemon *d, const struct fdw_history_entry *e)
{
	struct fdw_api *api = d->api;
	struct wbuf *line = NULL;
	struct client *c, *next;

	if (!api || !api->nfollowers || !e)
		return;
	for (c = api->clients; c; c = next) {
		next = c->next;
		if (c->state != C_FOLLOWING || !c->live || c->alerts || e->ev.seq < c->next_seq)
			continue;
		c->next_seq = e->ev.seq + 1;
		if (!matches(c, e))
			continue;
		if (uv_stream_get_write_queue_size(&c->conn.stream) > FOLLOW_QUEUE_MAX) {
			follower_drop(c, "more than 4 MiB queued");
			continue;
		}
		if (!line) {
			line = event_chunk(d, e); /* rendered once for every follower */
			if (!line)
				return;
		}
		if (client_write(c, line) < 0)
			client_close(c);
	}
	wbuf_unref(line);
}

/* ---- alert streams (/v1/leaks?follow=1) ------------------------------------ */

/* One JSON object as an NDJSON line in an HTTP chunk. NULL on failure. */

void fdw_api_publish_alert(struct fdw_daemon *d, json_t *alert)
{
	struct fdw_api *api = d->api;
	struct wbuf *line = NULL;
	struct client *c, *next;
	uint32_t pid;

	if (!api || !api->nfollowers || !alert)
		return;
	pid = (uint32_t)json_integer_value(json_object_get(alert, "pid"));
	for (c = api->clients; c; c = next) {
		next = c->next;
		if (c->state != C_FOLLOWING || !c->alerts || (c->follow_pid && c->follow_pid != pid))
			continue;
		if (uv_stream_get_write_queue_size(&c->conn.stream) > FOLLOW_QUEUE_MAX) {
			follower_drop(c, "more than 4 MiB queued");
			continue;
		}
		if (!line) {
			line = json_chunk(alert, JSON_COMPACT);
			if (!line)
				return;
		}
		if (client_write(c, line) < 0)
			client_close(c);
	}
	wbuf_unref(line);
}

/* The current and recent alerts, then each fire and resolve as it happens. */
static void leaks_follow_start(struct client *c, uint32_t pid)
{
	json_t *doc = fdw_alerts_json(&c->api->d->alerts, pid, false), *a;
	size_t i;

	if (!doc) {
		client_close(c);
		return;
	}
	c->alerts = true;
	c->live = true;
	c->follow_pid = pid;
	if (stream_open(c) < 0) {
		json_decref(doc);
		return;
	}
	json_array_foreach(json_object_get(doc, "alerts"), i, a) {
		struct wbuf *line = json_chunk(a, JSON_COMPACT);

		if (line && client_write(c, line) < 0) {
			wbuf_unref(line);
			client_close(c);
			break;
		}
		wbuf_unref(line);
	}
	json_decref(doc);
}

/* ---- request parsing ------------------------------------------------------- */

/* A decimal number made of digits only, at most `max`. */
static int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	char buf[24];
	char *end;
	unsigned long long v;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || *end || end == buf || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

struct query {
	const char *pid, *limit, *follow;
	size_t pid_len, limit_len, follow_len;
	bool has_pid, has_limit, has_follow;
};

static void parse_query(const char *q, size_t len, struct query *out)
{
	memset(out, 0, sizeof(*out));
	while (len) {
		const char *amp = memchr(q, '&', len);
		size_t plen = amp ? (size_t)(amp - q) : len;
		const char *eq = memchr(q, '=', plen);
		size_t klen = eq ? (size_t)(eq - q) : plen;
		const char *v = eq ? eq + 1 : q + plen;
		size_t vlen = eq ? plen - klen - 1 : 0;

		if (klen == 3 && !memcmp(q, "pid", 3)) {
			out->pid = v, out->pid_len = vlen, out->has_pid = true;
		} else if (klen == 5 && !memcmp(q, "limit", 5)) {
			out->limit = v, out->limit_len = vlen, out->has_limit = true;
		} else if (klen == 6 && !memcmp(q, "follow", 6)) {
			out->follow = v, out->follow_len = vlen, out->has_follow = true;
			if (!eq) /* "?follow" alone */
				out->follow = "1", out->follow_len = 1;
		}
		/* other parameters are ignored */
		q += plen;
		len -= plen;
		if (amp) {
			q++;
			len--;
		}
	}
}

static int parse_bool(const char *s, size_t len, bool *out)
{
	if ((len == 1 && *s == '1') || (len == 4 && !memcmp(s, "true", 4)))
		*out = true;
	else if ((len == 1 && *s == '0') || (len == 5 && !memcmp(s, "false", 5)))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* ---- routes ----------------------------------------------------------------- */

static bool path_is(const char *p, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(p, lit, len);
}

static bool path_has_prefix(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return len >= n && !memcmp(p, lit, n);
}

static void route_status(struct client *c)
{
	struct fdw_daemon *d = c->api->d;

	fdw_daemon_drain(d);
	respond(c, 200, fdw_render_status(d), NULL);
}

static void route_processes(struct client *c)
{
	struct fdw_daemon *d = c->api->d;

	fdw_daemon_drain(d);
	respond(c, 200, fdw_render_processes(d), NULL);
}

static json_t *table_doc(struct fdw_daemon *d, struct fdw_proc *p, int fd, bool *open)
{
	const struct fdw_table *t = fdw_model_proc_table(&d->model, p);
	const struct fdw_slot *s = fdw_table_slot(t, fd);
	json_t *o;

	*open = fdw_slot_open(s);
	if (*open) {
		return json_pack("{s:I, s:o, s:o, s:b, s:o}", "pid", (json_int_t)p->pid, "comm",
				 fdw_json_bytes(p->comm), "table",
				 t ? json_integer((json_int_t)t->id) : json_null(), "stale",
				 (t && t->stale) || p->lost, "fd",
				 fdw_render_fd(d, t, fd, s, true));
	}
	o = fdw_render_error("fd %d is not open in pid %u", fd, p->pid);
	if (o) {
		(void)json_object_set_new(o, "pid", json_integer(p->pid));
		(void)json_object_set_new(o, "history", fdw_render_slot_history(d, s));
	}
	return o;
}

/* /v1/processes/PID/fds and /v1/processes/PID/fds/FD; rest is after the
 * "/v1/processes/" prefix. */
static void route_process(struct client *c, const char *rest, size_t len)
{
	struct fdw_daemon *d = c->api->d;
	const char *slash = memchr(rest, '/', len);
	size_t pid_len = slash ? (size_t)(slash - rest) : len;
	uint64_t pid, fd = 0;
	bool one_fd = false, open;
	struct fdw_proc *p;
	json_t *doc;

	if (!slash) {
		respond_error(c, 404, "no such path");
		return;
	}
	rest += pid_len;
	len -= pid_len;
	if (path_has_prefix(rest, len, "/fds/")) {
		one_fd = true;
		if (parse_uint(rest + 5, len - 5, INT_MAX, &fd) < 0) {
			respond_error(c, 400, "bad fd number");
			return;
		}
	} else if (!path_is(rest, len, "/fds")) {
		respond_error(c, 404, "no such path");
		return;
	}
	if (parse_uint(rest - pid_len, pid_len, INT_MAX, &pid) < 0 || !pid) {
		respond_error(c, 400, "bad pid");
		return;
	}
	fdw_daemon_drain(d);
	p = fdw_model_proc(&d->model, (uint32_t)pid);
	if (!p) {
		respond_error(c, 404, "no such process: %llu", (unsigned long long)pid);
		return;
	}
	fdw_model_refresh_targets(&d->model, p);
	if (!one_fd) {
		respond(c, 200, fdw_render_table(d, p), NULL);
		return;
	}
	doc = table_doc(d, p, (int)fd, &open);
	respond(c, open ? 200 : 404, doc, NULL);
}

/* {"events":[...]} built one event at a time: a history of 100,000 events
 * as one jansson tree would cost far more than its text. */
static char *events_text(const struct fdw_daemon *d, uint64_t from, uint32_t pid)
{
	const struct fdw_history *h = &d->history;
	char *buf = NULL;
	size_t len = 0;
	bool first = true;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	(void)fputs("{\"events\":[", f);
	for (uint64_t i = from; i < h->len; i++) {
		const struct fdw_history_entry *e = fdw_history_at(h, i);
		json_t *o;
		char *line;

		if (pid && e->ev.pid != pid)
			continue;
		o = fdw_render_event(d, e);
		line = o ? json_dumps(o, DUMP_FLAGS) : NULL;
		json_decref(o);
		if (!line) {
			(void)fclose(f);
			free(buf);
			return NULL;
		}
		(void)fprintf(f, "%s%s", first ? "" : ",", line);
		free(line);
		first = false;
	}
	(void)fputs("]}", f);
	if (ferror(f)) {
		(void)fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void route_events(struct client *c, const char *q, size_t qlen)
{
	struct fdw_daemon *d = c->api->d;
	const struct fdw_history *h = &d->history;
	uint64_t pid = 0, limit = EVENTS_DEFAULT_LIMIT, i, n = 0;
	bool follow = false;
	struct query qs;

	parse_query(q, qlen, &qs);
	if (qs.has_pid && (parse_uint(qs.pid, qs.pid_len, INT_MAX, &pid) < 0 || !pid)) {
		respond_error(c, 400, "bad pid");
		return;
	}
	if (qs.has_limit && parse_uint(qs.limit, qs.limit_len, UINT64_MAX, &limit) < 0) {
		respond_error(c, 400, "bad limit");
		return;
	}
	if (qs.has_follow && parse_bool(qs.follow, qs.follow_len, &follow) < 0) {
		respond_error(c, 400, "bad follow (1 or 0)");
		return;
	}
	if (limit > h->cap)
		limit = h->cap;
	fdw_daemon_drain(d);
	if (follow) {
		follow_start(c, (uint32_t)pid, limit);
		return;
	}
	/* the newest `limit` matching entries, then rendered oldest first */
	for (i = h->len; i > 0 && n < limit; i--)
		if (!pid || fdw_history_at(h, i - 1)->ev.pid == pid)
			n++;
	respond_text(c, 200, events_text(d, i, (uint32_t)pid), NULL);
}

static void route_verify(struct client *c, const char *q, size_t qlen)
{
	struct fdw_daemon *d = c->api->d;
	uint64_t pid = 0;
	struct query qs;
	json_t *doc;
	int err = 0;

	parse_query(q, qlen, &qs);
	if (qs.has_pid && (parse_uint(qs.pid, qs.pid_len, INT_MAX, &pid) < 0 || !pid)) {
		respond_error(c, 400, "bad pid");
		return;
	}
	doc = fdw_verify(&d->checker, (uint32_t)pid, &err);
	if (doc)
		respond(c, 200, doc, NULL);
	else if (err == -ENOENT)
		respond_error(c, 404, "no such process: %llu", (unsigned long long)pid);
	else
		respond_error(c, 500, "verify failed: %s", strerror(-err));
}

/* GET /v1/leaks[?pid=PID][&follow=1]: alerts (daemon/alerts.c); with a pid,
 * the live process's leak sites too (daemon/leaks.c). */
static void route_leaks(struct client *c, const char *q, size_t qlen)
{
	struct fdw_daemon *d = c->api->d;
	uint64_t pid = 0;
	bool follow = false;
	struct fdw_proc *p;
	struct query qs;
	json_t *doc, *sites;

	parse_query(q, qlen, &qs);
	if (qs.has_pid && (parse_uint(qs.pid, qs.pid_len, INT_MAX, &pid) < 0 || !pid)) {
		respond_error(c, 400, "bad pid");
		return;
	}
	if (qs.has_follow && parse_bool(qs.follow, qs.follow_len, &follow) < 0) {
		respond_error(c, 400, "bad follow (1 or 0)");
		return;
	}
	fdw_daemon_drain(d);
	if (follow) {
		leaks_follow_start(c, (uint32_t)pid);
		return;
	}
	doc = fdw_alerts_json(&d->alerts, (uint32_t)pid, false);
	p = pid ? fdw_model_proc(&d->model, (uint32_t)pid) : NULL;
	if (doc && p) {
		fdw_model_refresh_targets(&d->model, p);
		sites = fdw_leaks_sites_json(d->leaks, p);
		if (sites)
			(void)json_object_update(doc, sites);
		json_decref(sites);
	}
	respond(c, 200, doc, NULL);
}

/* A client of the metrics listener: GET /metrics, the exposition text. */
static void dispatch_metrics(struct client *c, const char *path, size_t plen)
{
	struct fdw_daemon *d = c->api->d;
	size_t len;
	char *body;
	int r;

	if (path_is(path, plen, "/")) {
		static const char hint[] = "fdwatchd: metrics at /metrics\n";

		respond_bytes(c, 200, "text/plain; charset=utf-8", hint, sizeof(hint) - 1, false,
			      NULL);
		return;
	}
	if (!path_is(path, plen, "/metrics")) {
		respond_error(c, 404, "not found: try /metrics");
		return;
	}
	fdw_daemon_drain(d);
	r = fdw_metrics_render(d, &body, &len);
	if (r < 0) {
		respond_error(c, 500, "cannot render the metrics: %s", strerror(-r));
		return;
	}
	respond_bytes(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, false,
		      NULL);
	free(body);
}

static void dispatch(struct client *c)
{
	struct http_parser_url u;
	const char *path, *query = "";
	size_t plen, qlen = 0;

	if (c->metrics) {
		if (verbose(c->api))
			log_debug("metrics: %s %.*s",
				http_method_str(c->parser.method),
				(int)(c->url_len > 200 ? 200 : c->url_len), c->url ? c->url : "");
	} else if (verbose(c->api))
		log_debug("api: uid %u pid %d: %s %.*s", c->uid,
			(int)c->peer_pid, http_method_str(c->parser.method),
			(int)(c->url_len > 200 ? 200 : c->url_len), c->url ? c->url : "");
	if (c->parser.method != HTTP_GET) {
		respond_error(c, 405, "only GET is supported");
		return;
	}
	http_parser_url_init(&u);
	if (!c->url || http_parser_parse_url(c->url, c->url_len, 0, &u) ||
	    !(u.field_set & (1 << UF_PATH))) {
		respond_error(c, 400, "bad request target");
		return;
	}
	path = c->url + u.field_data[UF_PATH].off;
	plen = u.field_data[UF_PATH].len;
	if (c->metrics) {
		dispatch_metrics(c, path, plen);
		return;
	}
	if (u.field_set & (1 << UF_QUERY)) {
		query = c->url + u.field_data[UF_QUERY].off;
		qlen = u.field_data[UF_QUERY].len;
	}
	if (path_is(path, plen, "/v1/status")) {
		route_status(c);
		return;
	}
	if (!c->api->d->ready) {
		respond_error(c, 503, "daemon not ready");
		return;
	}
	if (path_is(path, plen, "/v1/processes"))
		route_processes(c);
	else if (path_has_prefix(path, plen, "/v1/processes/"))
		route_process(c, path + 14, plen - 14);
	else if (path_is(path, plen, "/v1/events"))
		route_events(c, query, qlen);
	else if (path_is(path, plen, "/v1/leaks"))
		route_leaks(c, query, qlen);
	else if (path_is(path, plen, "/v1/verify"))
		route_verify(c, query, qlen);
	else
		respond_error(c, 404, "no such path");
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct client *c = p->data;

	if (c->url_len + len + 1 > c->url_cap) {
		size_t cap = c->url_cap ? c->url_cap : 256;
		char *nu;

		while (cap < c->url_len + len + 1)
			cap *= 2;
		if (cap > HEAD_MAX + 1)
			return -1; /* cannot happen: the head is bounded */
		nu = realloc(c->url, cap);
		if (!nu)
			return -1;
		c->url = nu;
		c->url_cap = cap;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct client *c = p->data;

	c->head_done = true;
	http_parser_pause(p, 1); /* the body and anything after are not ours */
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
};

/* ---- reading ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->api->rbuf, sizeof(c->api->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct client *c = s->data;
	size_t feed, done;
	enum http_errno herr;

	if (c->state == C_CLOSING)
		return;
	if (nread < 0) {
		/* EOF or error: the client is gone (a follower ends this way) */
		client_close(c);
		return;
	}
	if (nread == 0 || c->state != C_READING)
		return; /* after the head, input is read and dropped */
	feed = (size_t)nread;
	if (feed > HEAD_MAX - c->head_len)
		feed = HEAD_MAX - c->head_len;
	done = http_parser_execute(&c->parser, &parser_settings, buf->base, feed);
	c->head_len += done;
	herr = HTTP_PARSER_ERRNO(&c->parser);
	if (c->head_done && (herr == HPE_OK || herr == HPE_PAUSED)) {
		if (c->rejected)
			respond_error(c, 503, "too many clients (%u)",
				      c->metrics ? c->api->nmclients : c->api->nclients);
		else
			dispatch(c);
	} else if (herr != HPE_OK) {
		respond_error(c, 400, "malformed request: %s", http_errno_description(herr));
	} else if (c->head_len >= HEAD_MAX) {
		respond_error(c, 413, "request head larger than %d bytes", HEAD_MAX);
	}
}

/* ---- accepting ---------------------------------------------------------------- */

static void peer_credentials(struct client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	c->peer_pid = 0;
	if (uv_fileno(&c->conn.handle, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->peer_pid = cred.pid;
}

static void on_connection(uv_stream_t *server, int status)
{
	struct fdw_api *api = server->data;
	bool metrics = server == (uv_stream_t *)&api->mlistener;
	uint64_t max = api->d->cfg.max_clients ? api->d->cfg.max_clients : DEFAULT_MAX_CLIENTS;
	struct client *c;
	int r;

	if (status < 0) {
		log_warning("%s: accept: %s", metrics ? "metrics" : "api",
			uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->api = api;
	c->metrics = metrics;
	if (metrics)
		r = uv_tcp_init(server->loop, &c->conn.tcp);
	else
		r = uv_pipe_init(server->loop, &c->conn.pipe, 0);
	if (r < 0) {
		free(c);
		return;
	}
	c->conn.handle.data = c;
	(void)uv_timer_init(server->loop, &c->timer); /* cannot fail */
	c->timer.data = c;
	c->open_handles = 2;
	api->handles++;
	/* in the list before anything can close it */
	c->next = api->clients;
	if (api->clients)
		api->clients->prev = c;
	api->clients = c;
	if (metrics)
		c->rejected = api->nmclients >= METRICS_MAX_CLIENTS;
	else
		c->rejected = api->nclients >= max;
	if (c->rejected)
		api->nrejecting++;
	else if (metrics)
		api->nmclients++;
	else
		api->nclients++;
	if (uv_accept(server, &c->conn.stream) < 0) {
		client_close(c);
		return;
	}
	if (metrics) {
		/* TCP has no peer credentials; loopback only anyway */
		c->uid = (uid_t)-1;
		c->gid = (gid_t)-1;
		if (verbose(api))
			log_debug("metrics: connection%s",
				c->rejected ? " (refused: busy)" : "");
	} else {
		peer_credentials(c);
		if (verbose(api))
			log_debug("api: connection from pid %d uid %u gid %u%s",
				(int)c->peer_pid, c->uid, c->gid,
				c->rejected ? " (refused: busy)" : "");
	}
	if (c->rejected) {
		if (metrics)
			api->dropped_mclients++;
		else
			api->dropped_clients++;
		if (api->nrejecting > REJECT_MAX) {
			client_close(c); /* a flood: not even a 503 */
			return;
		}
	}
	/* a refused client's request is read too, so that the 503 reaches it */
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (uv_read_start(&c->conn.stream, on_alloc, on_read) < 0 ||
	    uv_timer_start(&c->timer, on_timeout,
			   c->rejected ? REJECT_TIMEOUT_MS : READ_TIMEOUT_MS, 0) < 0)
		client_close(c);
}

/* ---- the socket ------------------------------------------------------------------ */

static int mkdir_parents(const char *path)
{
	char *dir = strdup(path), *slash;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	free(dir);
	return r;
}

/* A socket file left at `path`: remove it if nobody answers there. */
static int clear_stale_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST; /* not ours to remove */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r == 0)
		r = -EADDRINUSE; /* another fdwatchd is serving it */
	else if (errno == ECONNREFUSED)
		r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	else
		r = -errno;
	(void)close(fd);
	return r;
}

static void on_listener_closed(uv_handle_t *h)
{
	api_put(h->data);
}

int fdw_api_start(struct fdw_daemon *d)
{
	const char *path = d->cfg.socket_path;
	struct fdw_api *api;
	struct stat st;
	mode_t old_umask;
	int r;

	if (d->api)
		return -EALREADY;
	if (!path || !*path)
		return -EINVAL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG; /* libuv would cut it short */
	r = mkdir_parents(path);
	if (r < 0)
		return r;
	r = clear_stale_socket(path);
	if (r < 0)
		return r;
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->d = d;
	api->path = strdup(path);
	if (!api->path) {
		free(api);
		return -ENOMEM;
	}
	r = uv_pipe_init(d->loop, &api->listener, 0);
	if (r < 0) {
		free(api->path);
		free(api);
		return r;
	}
	api->listener.data = api;
	api->handles = 1;
	/* no moment where the socket is more open than 0660 */
	old_umask = umask(0117);
	r = uv_pipe_bind(&api->listener, path);
	(void)umask(old_umask);
	if (r < 0)
		goto fail;
	if (chmod(path, 0660) < 0 || stat(path, &st) < 0) {
		r = -errno;
		(void)unlink(path);
		goto fail;
	}
	api->sock_dev = st.st_dev;
	api->sock_ino = st.st_ino;
	r = uv_listen((uv_stream_t *)&api->listener, LISTEN_BACKLOG, on_connection);
	if (r < 0) {
		(void)unlink(path);
		goto fail;
	}
	api->listening = true;
	d->api = api;
	return 0;
fail:
	api->stopping = true;
	uv_close((uv_handle_t *)&api->listener, on_listener_closed);
	return r;
}

int fdw_api_start_metrics(struct fdw_daemon *d)
{
	const char *listen = d->cfg.metrics_listen;
	struct fdw_api *api = d->api;
	struct sockaddr_storage ss;
	char host[INET6_ADDRSTRLEN] = "?";
	socklen_t slen;
	int namelen, r;

	if (!listen)
		return 0;
	if (!api)
		return -ENOTCONN;
	if (api->has_mlistener)
		return -EALREADY;
	r = fdw_metrics_parse_listen(listen, &ss, &slen);
	if (r < 0) {
		log_err("--metrics-listen %s: %s", listen,
			r == -EPERM ? "not a loopback address (127.0.0.0/8 or [::1])"
				    : "expected HOST:PORT (127.0.0.1:9464, [::1]:9464)");
		return r;
	}
	r = uv_tcp_init(d->loop, &api->mlistener);
	if (r < 0) {
		log_err("metrics: %s", uv_strerror(r));
		return r;
	}
	api->mlistener.data = api;
	api->handles++;
	api->has_mlistener = true; /* from here on, fdw_api_stop() closes it */
	r = uv_tcp_bind(&api->mlistener, (const struct sockaddr *)&ss, 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&api->mlistener, LISTEN_BACKLOG, on_connection);
	if (r < 0) {
		log_err("metrics: cannot listen on %s: %s", listen,
			uv_strerror(r));
		return r;
	}
	namelen = sizeof(ss);
	r = uv_tcp_getsockname(&api->mlistener, (struct sockaddr *)&ss, &namelen);
	if (r < 0) {
		log_err("metrics: getsockname: %s", uv_strerror(r));
		return r;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		(void)inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		api->mport = ntohs(a->sin_port);
		log_info("metrics on http://%s:%u/metrics", host, api->mport);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		(void)inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		api->mport = ntohs(a->sin6_port);
		log_info("metrics on http://[%s]:%u/metrics", host,
			api->mport);
	}
	return 0;
}

void fdw_api_stop(struct fdw_daemon *d)
{
	struct fdw_api *api = d->api;
	struct stat st;

	if (!api)
		return;
	d->api = NULL;
	api->stopping = true;
	/* remove the socket only if it is still the one we made */
	if (stat(api->path, &st) == 0 && st.st_dev == api->sock_dev &&
	    st.st_ino == api->sock_ino)
		(void)unlink(api->path);
	while (api->clients)
		client_close(api->clients);
	if (api->has_mlistener)
		uv_close((uv_handle_t *)&api->mlistener, on_listener_closed);
	uv_close((uv_handle_t *)&api->listener, on_listener_closed);
}

uint64_t fdw_api_dropped_clients(const struct fdw_api *api)
{
	return api ? api->dropped_clients : 0;
}

uint64_t fdw_api_dropped_metrics_clients(const struct fdw_api *api)
{
	return api ? api->dropped_mclients : 0;
}

unsigned int fdw_api_metrics_port(const struct fdw_api *api)
{
	return api ? api->mport : 0;
}

uint64_t fdw_api_dropped_followers(const struct fdw_api *api)
{
	return api ? api->dropped_followers : 0;
}

unsigned int fdw_api_clients(const struct fdw_api *api)
{
	return api ? api->nclients : 0;
}

unsigned int fdw_api_followers(const struct fdw_api *api)
{
	return api ? api->nfollowers : 0;
}
