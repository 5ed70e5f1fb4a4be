// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Connections: accept, give a slot (or refuse), read one request head
 * (http_parser, paused at the end of the head: bodies and pipelined
 * requests are ignored), hand it to routes.c, write the answer and close.
 * Every connection has one timer, in every state: for the request head,
 * then for the client to take each piece of the answer (or of a follow
 * stream's output), then for the hang-up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "check/check.h"
#include "server/internal.h"
#include "server/render.h"

#define HEAD_MAX (16 * 1024)	/* request line + headers */
#define HEADER_TIMEOUT_MS 5000	/* to send a whole request head */
#define WRITE_TIMEOUT_MS 10000	/* to take the next piece of the output */
#define LINGER_MS 2000		/* to hang up after our response */
#define LINGER_MAX 256		/* connections lingering at once; more: closed */
#define REJECT_TIMEOUT_MS 2000	/* for a refused client's request */
#define REJECT_MAX 16		/* refused connections whose heads are read */
#define DEFAULT_MAX_CLIENTS 64
#define METRICS_MAX_CLIENTS 16	/* scrapers at once, apart from max_clients */
#define RESPONSE_HEAD_MAX 512
#define PUMP_BUDGET 8		/* chunks produced per turn of the loop, all clients */

/* ---- write buffers ------------------------------------------------------ */

struct wbuf *srv_wbuf_new(size_t cap)
{
	struct wbuf *b = malloc(sizeof(*b) + cap);

	if (!b)
		return NULL;
	b->refs = 1;
	b->len = 0;
	return b;
}

void srv_wbuf_unref(struct wbuf *b)
{
	if (b && --b->refs == 0)
		free(b);
}

struct wreq {
	uv_write_t req;
	struct wbuf *buf;
};

/* ---- lifetime ----------------------------------------------------------- */

static void on_client_handle_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	struct fdw_server *s = c->srv;

	if (--c->open_handles > 0)
		return;
	srv_stream_free(c);
	free(c->url);
	free(c);
	srv_put(s);
}

/* Give up the slot `c` holds (it keeps its connection). */
static void slot_release(struct client *c)
{
	struct fdw_server *s = c->srv;

	switch (c->slot) {
	case SLOT_API:
		s->nclients--;
		break;
	case SLOT_METRICS:
		s->nmclients--;
		break;
	case SLOT_REFUSED:
		s->nrejecting--;
		break;
	case SLOT_LINGER:
		s->nlinger--;
		break;
	case SLOT_NONE:
		break;
	}
	c->slot = SLOT_NONE;
}

static void slot_take(struct client *c, enum client_slot slot)
{
	struct fdw_server *s = c->srv;

	slot_release(c);
	c->slot = slot;
	switch (slot) {
	case SLOT_API:
		s->nclients++;
		break;
	case SLOT_METRICS:
		s->nmclients++;
		break;
	case SLOT_REFUSED:
		s->nrejecting++;
		break;
	case SLOT_LINGER:
		s->nlinger++;
		break;
	case SLOT_NONE:
		break;
	}
}

/* ---- the pump queue ----------------------------------------------------- */

void srv_pump_enqueue(struct client *c)
{
	struct fdw_server *s = c->srv;

	if (c->pump_queued || s->stopping)
		return;
	c->pump_queued = true;
	c->pump_next = NULL;
	c->pump_prev = s->pump_tail;
	if (s->pump_tail)
		s->pump_tail->pump_next = c;
	else
		s->pump_head = c;
	s->pump_tail = c;
	(void)uv_idle_start(&s->pumper, srv_on_pump); /* no-op when started */
}

static void pump_remove(struct client *c)
{
	struct fdw_server *s = c->srv;

	if (!c->pump_queued)
		return;
	if (c->pump_prev)
		c->pump_prev->pump_next = c->pump_next;
	else
		s->pump_head = c->pump_next;
	if (c->pump_next)
		c->pump_next->pump_prev = c->pump_prev;
	else
		s->pump_tail = c->pump_prev;
	c->pump_prev = c->pump_next = NULL;
	c->pump_queued = false;
}

/*
 * Once per turn of the loop (an idle handle: the loop does not block while
 * it runs): PUMP_BUDGET clients produce their next chunk. Not in the write
 * callback itself: libuv may run those several times in one turn.
 */
void srv_on_pump(uv_idle_t *h)
{
	struct fdw_server *s = h->data;

	for (int n = 0; n < PUMP_BUDGET && s->pump_head; n++) {
		struct client *c = s->pump_head;

		pump_remove(c);
		if (c->state == C_RESPONDING && c->streaming)
			srv_stream_pump(c);
		else if (c->state == C_FOLLOWING && !c->live)
			srv_follow_pump(c);
	}
	if (!s->pump_head)
		(void)uv_idle_stop(h);
}

/* ---- lifetime (continued) ----------------------------------------------- */

void srv_client_close(struct client *c)
{
	struct fdw_server *s = c->srv;

	if (c->state == C_CLOSING)
		return;
	pump_remove(c);
	srv_job_detach(c);
	if (c->verify) {
		fdw_verify_abandon(c->verify);
		c->verify = NULL;
	}
	c->state = C_CLOSING;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	slot_release(c);
	if (c->follow != FOLLOW_NONE)
		s->nfollowers--;
	uv_close(&c->conn.handle, on_client_handle_closed);
	uv_close((uv_handle_t *)&c->timer, on_client_handle_closed);
}

void srv_client_drop_slow(struct client *c, const char *why)
{
	struct fdw_server *s = c->srv;

	s->slow_readers++;
	if (c->state == C_FOLLOWING)
		s->dropped_followers++;
	log_debug("api: uid %u pid %d: %s dropped: %s", c->uid, (int)c->peer_pid,
		  c->state == C_FOLLOWING ? "follower" : "answer", why);
	srv_client_close(c);
}

static void on_timeout(uv_timer_t *t)
{
	struct client *c = t->data;

	switch (c->state) {
	case C_READING:
		if (c->slot != SLOT_REFUSED)
			c->srv->request_timeouts++;
		log_debug("api: uid %u pid %d: no request head in time", c->uid,
			  (int)c->peer_pid);
		srv_client_close(c);
		break;
	case C_RESPONDING:
	case C_FOLLOWING:
		srv_client_drop_slow(c, "output not taken in time");
		break;
	default:
		srv_client_close(c);
		break;
	}
}

static void timer_restart(struct client *c, uint64_t ms)
{
	(void)uv_timer_stop(&c->timer);
	(void)uv_timer_start(&c->timer, on_timeout, ms, 0);
}

void srv_client_write_timer(struct client *c)
{
	const struct fdw_server_opts *o = &c->srv->opts;

	timer_restart(c, o->write_timeout_ms ? o->write_timeout_ms : WRITE_TIMEOUT_MS);
}

/* ---- writing ------------------------------------------------------------ */

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct client *c = req->data;

	if (c->state != C_CLOSING && status < 0)
		srv_client_close(c);
}

/*
 * The response is out: send FIN and read until the client hangs up (or
 * LINGER_MS), so input we never read (a body, a pipelined request) does
 * not turn our close into a reset that destroys the response in flight.
 */
static void client_linger(struct client *c)
{
	c->state = C_LINGER;
	if (c->srv->nlinger >= LINGER_MAX) {
		srv_client_close(c); /* a flood: no grace */
		return;
	}
	/* answered: its slot is free for the next client */
	slot_take(c, SLOT_LINGER);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, &c->conn.stream, on_shutdown) < 0) {
		srv_client_close(c);
		return;
	}
	timer_restart(c, LINGER_MS);
	/* every client reads from accept on: on_read drops what comes now */
}

static void on_write(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct client *c = req->data;

	srv_wbuf_unref(w->buf);
	free(w);
	if (c->state == C_CLOSING)
		return; /* cancelled by the close */
	if (status < 0) {
		srv_client_close(c);
		return;
	}
	if (c->state == C_RESPONDING) {
		srv_client_write_timer(c); /* progress */
		if (c->streaming)
			srv_pump_enqueue(c);
		else if (uv_stream_get_write_queue_size(&c->conn.stream) == 0)
			client_linger(c);
	} else if (c->state == C_FOLLOWING) {
		/* the timer runs while output waits for the client */
		if (uv_stream_get_write_queue_size(&c->conn.stream) == 0)
			(void)uv_timer_stop(&c->timer);
		else
			srv_client_write_timer(c);
		if (!c->live)
			srv_pump_enqueue(c);
	}
}

int srv_client_write(struct client *c, struct wbuf *b)
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
		return r;
	}
	if (c->state == C_FOLLOWING && !uv_is_active((uv_handle_t *)&c->timer) &&
	    uv_stream_get_write_queue_size(&c->conn.stream) > 0)
		srv_client_write_timer(c);
	return 0;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Internal Server Error";
	}
}

void srv_respond_bytes(struct client *c, int status, const char *ctype, const char *body,
		       size_t blen, bool nl, const char *headers)
{
	size_t total = blen + (nl ? 1 : 0);
	struct wbuf *b;
	int n, r;

	b = srv_wbuf_new(total + RESPONSE_HEAD_MAX);
	if (!b) {
		srv_client_close(c);
		return;
	}
	n = snprintf(b->data, RESPONSE_HEAD_MAX,
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "Connection: close\r\n"
		     "%s\r\n",
		     status, status_text(status), ctype, total, headers ? headers : "");
	if (n < 0 || n >= RESPONSE_HEAD_MAX) {
		srv_wbuf_unref(b);
		srv_client_close(c);
		return;
	}
	memcpy(b->data + n, body, blen);
	if (nl)
		b->data[n + blen] = '\n';
	b->len = (size_t)n + total;
	c->state = C_RESPONDING;
	srv_client_write_timer(c);
	r = srv_client_write(c, b);
	srv_wbuf_unref(b);
	if (r < 0)
		srv_client_close(c);
}

void srv_respond_text(struct client *c, int status, char *text, const char *headers)
{
	static const char fallback[] = "{\"error\": \"internal error\"}";
	const char *payload = text ? text : fallback;

	if (!text)
		status = status == 200 ? 500 : status;
	srv_respond_bytes(c, status, "application/json", payload, strlen(payload), true, headers);
	free(text);
}

void srv_respond(struct client *c, int status, json_t *body, const char *headers)
{
	char *text = body ? json_dumps(body, DUMP_FLAGS) : NULL;

	json_decref(body);
	srv_respond_text(c, status, text, headers);
}

void srv_respond_error(struct client *c, int status, const char *fmt, ...)
{
	const char *allow = status == 405 ? "Allow: GET\r\n" : NULL;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->metrics) /* scrapers get plain text, not the API's JSON */
		srv_respond_bytes(c, status, "text/plain; charset=utf-8", msg, strlen(msg), true,
				  allow);
	else
		srv_respond(c, status, fdw_render_error("%s", msg), allow);
}

/* ---- the request head --------------------------------------------------- */

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

/* A header name is a token (RFC 9110 5.1): "Host : x" and the like are
 * refused, not guessed at (http_parser lets whitespace through). */
static int on_header_field(http_parser *p, const char *at, size_t len)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)at[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || (ch && strchr(tchar, ch))))
			return -1;
	}
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
	.on_header_field = on_header_field,
	.on_headers_complete = on_headers_complete,
};

/* A whole head: the method and the target, then the route. */
static void request(struct client *c)
{
	int shown = (int)(c->url_len > 200 ? 200 : c->url_len);
	const char *url = c->url ? c->url : "";
	struct http_parser_url u;

	if (c->metrics)
		log_debug("metrics: %s %.*s", http_method_str(c->parser.method), shown, url);
	else
		log_debug("api: uid %u pid %d: %s %.*s", c->uid, (int)c->peer_pid,
			  http_method_str(c->parser.method), shown, url);
	if (c->other_pidns) {
		/* access.c: its uid says nothing of what it may see there */
		srv_respond_error(c, 403,
				  "client in another pid or user namespace than fdwatchd's (a "
				  "container, a sandbox?): refused, fdwatchd's pids are not that "
				  "namespace's and its uid does not tell which processes the kernel "
				  "shows it; run fdwatch in fdwatchd's namespaces (on the host), or "
				  "a fdwatchd in the container");
		return;
	}
	if (c->parser.method != HTTP_GET) {
		srv_respond_error(c, 405, "only GET is supported");
		return;
	}
	http_parser_url_init(&u);
	if (!c->url || http_parser_parse_url(c->url, c->url_len, 0, &u) ||
	    !(u.field_set & (1 << UF_PATH))) {
		srv_respond_error(c, 400, "bad request target");
		return;
	}
	srv_route(c, c->url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len,
		  u.field_set & (1 << UF_QUERY) ? c->url + u.field_data[UF_QUERY].off : "",
		  u.field_set & (1 << UF_QUERY) ? u.field_data[UF_QUERY].len : 0);
}

/* A refused client's request: the 503 that says why. */
static void refuse(struct client *c)
{
	struct fdw_server *s = c->srv;
	uint64_t max = s->opts.max_clients ? s->opts.max_clients : DEFAULT_MAX_CLIENTS;

	if (c->metrics)
		srv_respond_error(c, 503, "too many clients (%u)", s->nmclients);
	else if (c->refused == SRV_UID_SHARE)
		srv_respond_error(c, 503, "too many connections from uid %u (%u of %llu)", c->uid,
				  srv_share(max), (unsigned long long)max);
	else if (c->refused == SRV_PEER_SHARE)
		srv_respond_error(c, 503, "too many connections from pid %d (%u of %llu)",
				  (int)c->peer_pid, srv_share(max), (unsigned long long)max);
	else
		srv_respond_error(c, 503, "too many clients (%u)", s->nclients);
}

/* ---- reading ------------------------------------------------------------ */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *c = h->data;

	*buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct client *c = stream->data;
	size_t feed, done;
	enum http_errno herr;

	if (c->state == C_CLOSING)
		return;
	if (nread < 0) {
		/* EOF or error: the client is gone (a follower ends this way) */
		srv_client_close(c);
		return;
	}
	if (nread == 0 || c->state != C_READING)
		return; /* after the head, input is read and dropped */
	if (c->head_len == 0 && (buf->base[0] == '\r' || buf->base[0] == '\n')) {
		/* http_parser would wait for a request line after empty ones */
		srv_respond_error(c, 400, "malformed request: empty request line");
		return;
	}
	feed = (size_t)nread;
	if (feed > HEAD_MAX - c->head_len)
		feed = HEAD_MAX - c->head_len;
	done = http_parser_execute(&c->parser, &parser_settings, buf->base, feed);
	c->head_len += done;
	herr = HTTP_PARSER_ERRNO(&c->parser);
	if (c->parser.http_major == 0 && c->parser.http_minor == 9) {
		/* "GET /" alone: http_parser takes it as HTTP/0.9 and waits for
		 * headers that such a client never sends */
		srv_respond_error(c, 400, "malformed request: HTTP/0.9 is not supported");
	} else if (c->head_done && (herr == HPE_OK || herr == HPE_PAUSED) &&
		   c->parser.http_major != 1) {
		/* http_parser takes any digits for a version: HTTP/9.9 too */
		srv_respond_error(c, 505, "HTTP/%u.%u is not supported (HTTP/1.x only)",
				  c->parser.http_major, c->parser.http_minor);
	} else if (c->head_done && (herr == HPE_OK || herr == HPE_PAUSED)) {
		if (c->slot == SLOT_REFUSED)
			refuse(c);
		else
			request(c);
	} else if (herr != HPE_OK) {
		srv_respond_error(c, 400, "malformed request: %s", http_errno_description(herr));
	} else if (c->head_len >= HEAD_MAX) {
		srv_respond_error(c, 413, "request head larger than %d bytes", HEAD_MAX);
	}
}

/* ---- accepting ---------------------------------------------------------- */

static void peer_credentials(struct client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	c->peer_pid = 0;
	if (c->metrics)
		return; /* TCP has no peer credentials; loopback only anyway */
	if (c->srv->fake_cred) {
		c->uid = c->srv->fake_uid;
		c->gid = c->srv->fake_gid;
		c->peer_pid = c->srv->fake_pid;
		c->other_pidns = c->srv->fake_other_pidns;
		c->srv->dropped_pidns += c->other_pidns;
		srv_access_classify(c, -1);
		return;
	}
	/* unknown credentials: uid -1, nobody's processes, not privileged */
	if (uv_fileno(&c->conn.handle, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->peer_pid = cred.pid;
	c->other_pidns = srv_peer_ns(c->srv, fd, cred.pid) != 1;
	c->srv->dropped_pidns += c->other_pidns;
	srv_access_classify(c, fd);
}

/* ---- slots -------------------------------------------------------------- */

unsigned int srv_share(uint64_t max)
{
	return max >= 4 ? (unsigned int)(max / 4) : 1;
}

unsigned int srv_root_reserve(uint64_t max)
{
	if (max >= 16)
		return (unsigned int)(max / 8);
	return max >= 2 ? 1 : 0;
}

enum srv_admit srv_slot_admit(uint64_t max, const struct srv_held *held, uid_t uid)
{
	bool root = uid == 0;

	if (held->total >= max || (!root && held->total >= max - srv_root_reserve(max)))
		return SRV_FULL;
	if (!root && held->uid >= srv_share(max))
		return SRV_UID_SHARE;
	if (held->peer >= srv_share(max))
		return SRV_PEER_SHARE;
	return SRV_ADMIT;
}

/* An API slot for `c` (its credentials read), or why not. */
static enum srv_admit admit(struct fdw_server *s, const struct client *c)
{
	uint64_t max = s->opts.max_clients ? s->opts.max_clients : DEFAULT_MAX_CLIENTS;
	struct srv_held held = { .total = s->nclients };

	/* at most max_clients + REJECT_MAX + LINGER_MAX in the list */
	for (const struct client *o = s->clients; o; o = o->next) {
		if (o == c || o->slot != SLOT_API)
			continue;
		held.uid += o->uid == c->uid;
		held.peer += o->peer_pid == c->peer_pid && o->uid == c->uid;
	}
	/* a root in another pid or user namespace (a container's, answered
	 * 403 at every request) is no root here either: a uid's share at most
	 * and none of root's reserve, or it could lock the host's root out */
	return srv_slot_admit(max, &held, c->other_pidns && c->uid == 0 ? (uid_t)-1 : c->uid);
}

/* A new client with its two handles, in the list; no slot yet. NULL when
 * out of memory. */
static struct client *client_new(struct fdw_server *s, uv_loop_t *loop, bool metrics)
{
	struct client *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return NULL;
	c->srv = s;
	c->metrics = metrics;
	r = metrics ? uv_tcp_init(loop, &c->conn.tcp) : uv_pipe_init(loop, &c->conn.pipe, 0);
	if (r < 0) {
		free(c);
		return NULL;
	}
	c->conn.handle.data = c;
	(void)uv_timer_init(loop, &c->timer); /* cannot fail */
	c->timer.data = c;
	c->open_handles = 2;
	s->handles++;
	/* in the list before anything can close it */
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	return c;
}

static const char *refused_text(const struct client *c)
{
	if (c->slot != SLOT_REFUSED)
		return "";
	switch (c->refused) {
	case SRV_UID_SHARE:
		return " (refused: its uid's share is taken)";
	case SRV_PEER_SHARE:
		return " (refused: its process's share is taken)";
	default:
		return " (refused: busy)";
	}
}

/*
 * The metrics listener is full: its oldest connection that has not sent a
 * whole request head gives way (counted as refused). A scraper sends its
 * request at once, so idle connections any local user can open must not
 * keep Prometheus out; one that sends requests is answered and counts.
 */
static void evict_idle_metrics(struct fdw_server *s)
{
	struct client *victim = NULL;

	for (struct client *o = s->clients; o; o = o->next)
		if (o->slot == SLOT_METRICS && o->state == C_READING && !o->head_done)
			victim = o; /* new ones are at the front: the last is the oldest */
	if (!victim)
		return;
	s->dropped_mclients++;
	log_debug("metrics: an idle connection closed for a new one");
	srv_client_close(victim);
}

/*
 * A refused client past the REJECT_MAX whose request heads are read: the
 * 503 goes out at once, without waiting for the request, and the
 * connection lingers (client_linger(): FIN, then what the client sends is
 * read and dropped until it hangs up or LINGER_MS), so that its request,
 * unread at our close, does not turn the answer into a reset. The answers
 * being written this way and the lingering connections are LINGER_MAX at
 * most together (the daemon's fds: max_clients + REJECT_MAX + LINGER_MAX);
 * past that, a flood gets a plain close.
 */
static void refuse_at_once(struct client *c)
{
	struct fdw_server *s = c->srv;

	/* those answered at once (c among them) and the lingering ones
	 * together stay within LINGER_MAX */
	if (s->nlinger + (s->nrejecting - REJECT_MAX) > LINGER_MAX ||
	    uv_read_start(&c->conn.stream, on_alloc, on_read) < 0) {
		srv_client_close(c); /* a flood: not even a 503 */
		return;
	}
	c->state = C_RESPONDING; /* on_read drops the request */
	refuse(c);
}

void srv_on_connection(uv_stream_t *listener, int status)
{
	struct fdw_server *s = listener->data;
	bool metrics = listener == (uv_stream_t *)&s->mlistener;
	const struct fdw_server_opts *o = &s->opts;
	struct client *c;

	if (status < 0) {
		log_warning("%s: accept: %s", metrics ? "metrics" : "api", uv_strerror(status));
		return;
	}
	c = client_new(s, listener->loop, metrics);
	if (!c)
		return;
	if (uv_accept(listener, &c->conn.stream) < 0) {
		srv_client_close(c);
		return;
	}
	peer_credentials(c);
	if (metrics && s->nmclients >= METRICS_MAX_CLIENTS)
		evict_idle_metrics(s);
	if (metrics)
		c->refused = s->nmclients >= METRICS_MAX_CLIENTS ? SRV_FULL : SRV_ADMIT;
	else
		c->refused = admit(s, c);
	slot_take(c, c->refused != SRV_ADMIT ? SLOT_REFUSED : metrics ? SLOT_METRICS : SLOT_API);
	if (metrics)
		log_debug("metrics: connection%s", refused_text(c));
	else
		log_debug("api: connection from pid %d uid %u gid %u%s%s", (int)c->peer_pid,
			  c->uid, c->gid, c->other_pidns ? " (another pid or user namespace)" : "",
			  refused_text(c));
	if (c->slot == SLOT_REFUSED) {
		if (metrics) {
			s->dropped_mclients++;
		} else {
			s->dropped_clients++;
			s->dropped_share += c->refused != SRV_FULL;
		}
		if (s->nrejecting > REJECT_MAX) {
			refuse_at_once(c);
			return;
		}
	}
	/* a refused client's request is read too, so that the 503 reaches it */
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (uv_read_start(&c->conn.stream, on_alloc, on_read) < 0 ||
	    uv_timer_start(&c->timer, on_timeout,
			   c->slot == SLOT_REFUSED ? REJECT_TIMEOUT_MS
			   : o->header_timeout_ms  ? o->header_timeout_ms
						   : HEADER_TIMEOUT_MS,
			   0) < 0)
		srv_client_close(c);
}
