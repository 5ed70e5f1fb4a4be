// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Chunked answers: GET /v1/events sends {"events":[...]}, GET
 * /v1/processes {"processes":[...]}, GET /v1/processes/PID/fds the
 * table with its "fds":[...], GET /v1/leaks {"alerts":[...]} and GET
 * /v1/races {"races":[...]} (alerts carry their evidence: kilobytes
 * each), with `Transfer-Encoding: chunked`:
 * CHUNK_EVENTS events, or STREAM_ITEMS fds or processes (at most about
 * STREAM_BYTES), per chunk, the next chunk rendered only when the previous
 * one is written and the socket's
 * queue is below STREAM_QUEUE_MAX. libuv reports a completed write on the
 * next turn of the loop, so one answer costs one chunk's work per turn and
 * other clients are served in between; a client that stops reading holds
 * one chunk, and is dropped by the write timeout (http.c).
 *
 * The answer covers the history entries from the first one asked for to
 * the newest one at the time of the request (end_seq); entries the history
 * overwrites before they are sent are left out (their seq is missing).
 * The processes are those of the model at the request, in pid order, each
 * rendered as it is when its chunk is (one that exited meanwhile is left
 * out); a table is walked by fd number, each chunk as the table is then,
 * and ends with "complete":false when the process went away before its
 * last fd. The cursors are numbers (a pid, an fd), never pointers: the
 * model changes between chunks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "base/log.h"
#include "server/internal.h"
#include "server/render.h"

#define CHUNK_EVENTS 128		  /* events per chunk */
#define STREAM_ITEMS 256		  /* fds or processes per chunk */
#define STREAM_SCAN 8192		  /* fd numbers looked at per chunk (sparse tables) */
#define STREAM_BYTES (32 * 1024)	  /* a chunk ends past this */
#define STREAM_QUEUE_MAX (64 * 1024)	  /* render the next chunk below this */
#define STREAM_ALERTS_MAX 16		  /* alerts per chunk */

/* `text` (len bytes) as one HTTP chunk, after `prefix` (NULL: none). */
static struct wbuf *chunk(const char *prefix, const char *text, size_t len)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	struct wbuf *b = srv_wbuf_new(plen + len + 32);
	int n;

	if (!b)
		return NULL;
	if (plen) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(b->data, prefix, plen);
	n = sprintf(b->data + plen, "%zx\r\n", len);
	memcpy(b->data + plen + (size_t)n, text, len);
	memcpy(b->data + plen + (size_t)n + len, "\r\n", 2);
	b->len = plen + (size_t)n + len + 2;
	return b;
}

/* The next CHUNK_EVENTS events from next_seq on into `f`; true when the
 * answer's elements are all out. */
static bool events_chunk(struct client *c, FILE *f, bool *oom)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	const struct fdw_history *h = deps->history;
	uint64_t i = srv_history_find(h, c->next_seq);
	unsigned int n = 0;

	for (; i < h->len && n < CHUNK_EVENTS; i++) {
		const struct fdw_history_entry *e = fdw_history_at(h, i);
		json_t *o;
		char *line;

		if (e->seq >= c->end_seq)
			break;
		c->next_seq = e->seq + 1;
		if ((c->follow_pid && e->pid != c->follow_pid) ||
		    !srv_client_sees_pid(c, e->pid, e->seq))
			continue;
		o = fdw_render_event(deps, e);
		line = o ? json_dumps(o, DUMP_FLAGS) : NULL;
		json_decref(o);
		if (!line) {
			*oom = true;
			return true;
		}
		(void)fprintf(f, "%s%s", c->stream_comma ? "," : "", line);
		free(line);
		c->stream_comma = true;
		n++;
	}
	return i == h->len || fdw_history_at(h, i)->seq >= c->end_seq;
}

/*
 * The next fds of the table from fd number stream_pos on. The process is
 * looked up again for every chunk: it may have exited, changed its table
 * (exec, unshare) or its owner since the last one. *cut: it went away (or
 * out of the client's sight) before the end.
 */
static bool fds_chunk(struct client *c, FILE *f, bool *cut)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	struct fdw_proc *p = fdw_model_proc(deps->model, c->stream_pid);
	const struct fdw_table *t;
	unsigned int n = 0, scanned = 0;
	uint64_t fd;

	if (!p || !srv_client_sees_pid(c, c->stream_pid, UINT64_MAX)) {
		*cut = true;
		return true;
	}
	t = fdw_model_proc_table(deps->model, p);
	for (fd = c->stream_pos; t && fd < t->nslots; fd++) {
		const struct fdw_slot *s = fdw_table_slot(t, (int)fd);

		if (n >= STREAM_ITEMS || scanned++ >= STREAM_SCAN || ftell(f) >= STREAM_BYTES)
			break;
		if (!fdw_slot_open(s))
			continue;
		if (c->stream_comma)
			(void)putc_unlocked(',', f);
		fdw_render_fd_put(f, deps, t, (int)fd, s,
				  !srv_client_sees_origin(c, p->pid, fdw_slot_origin(s), true));
		c->stream_comma = true;
		n++;
	}
	c->stream_pos = fd;
	return !t || fd >= t->nslots;
}

/* The next processes from stream_pids[stream_pos] on (those still there
 * and visible to the client). */
static bool procs_chunk(struct client *c, FILE *f)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	unsigned int n = 0;
	size_t i;

	for (i = c->stream_pos; i < c->stream_npids; i++) {
		struct fdw_proc *p;

		if (n >= STREAM_ITEMS || ftell(f) >= STREAM_BYTES)
			break;
		p = fdw_model_proc(deps->model, c->stream_pids[i]);
		if (!p || (!c->privileged && !srv_client_sees_pid(c, p->pid, UINT64_MAX)))
			continue;
		if (c->stream_comma)
			(void)putc_unlocked(',', f);
		fdw_render_process_put(f, deps, p);
		c->stream_comma = true;
		n++;
	}
	c->stream_pos = i;
	return i >= c->stream_npids;
}

/*
 * The next alerts after id stream_pos (the store is sorted by id) that the
 * client may see, of stream_pid alone when not 0, of the race kinds alone
 * for GET /v1/races. An alert that comes or goes between chunks is in the
 * answer or not as the store is when its chunk is made.
 */
static bool alerts_chunk(struct client *c, FILE *f, bool races, bool *oom)
{
	for (unsigned int n = 0; n < STREAM_ALERTS_MAX && ftell(f) < STREAM_BYTES; n++) {
		json_t *o = srv_alerts_next(c, &c->stream_pos, c->stream_pid, races, oom);
		char *text;

		if (!o)
			return !*oom;
		text = json_dumps(o, DUMP_FLAGS);
		json_decref(o);
		if (!text) {
			*oom = true;
			return false;
		}
		if (c->stream_comma)
			(void)putc_unlocked(',', f);
		(void)fputs(text, f);
		free(text);
		c->stream_comma = true;
	}
	return false;
}

void srv_stream_free(struct client *c)
{
	free(c->stream_pids);
	c->stream_pids = NULL;
	c->stream_npids = 0;
	c->streaming = false;
}

/* The next chunk of the answer (after `prefix`, the head, on the first),
 * and the end of the answer when it is the last. NULL when out of memory. */
static struct wbuf *next_chunk(struct client *c, const char *prefix, const char *open)
{
	struct wbuf *b = NULL;
	char *text = NULL;
	size_t len = 0;
	bool done, cut = false, oom = false;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (open) /* the first chunk: what comes before the elements */
		(void)fputs(open, f);
	/* never an empty chunk: "0\r\n\r\n" would end the answer (a stretch
	 * of STREAM_SCAN closed fd numbers in a sparse table gives nothing) */
	do {
		switch (c->stream_kind) {
		case STREAM_FDS:
			done = fds_chunk(c, f, &cut);
			break;
		case STREAM_PROCS:
			done = procs_chunk(c, f);
			break;
		case STREAM_ALERTS:
		case STREAM_RACES:
			done = alerts_chunk(c, f, c->stream_kind == STREAM_RACES, &oom);
			break;
		case STREAM_EVENTS:
		default:
			done = events_chunk(c, f, &oom);
			break;
		}
	} while (!done && !oom && ftell(f) == 0);
	if (oom)
		goto out;
	if (done) {
		/* the process went away between chunks: still valid JSON, and
		 * says that it is not the whole table (docs/api.md) */
		(void)fputs(cut ? "],\"complete\":false}\n" : "]}\n", f);
		srv_stream_free(c);
	}
	if (fflush(f) != 0 || ferror(f))
		goto out;
	b = chunk(prefix, text, len);
	if (b && !c->streaming) {
		/* the last chunk, then the empty one that ends the answer */
		struct wbuf *nb = realloc(b, sizeof(*b) + b->len + 5);

		if (nb) {
			memcpy(nb->data + nb->len, "0\r\n\r\n", 5);
			nb->len += 5;
		} else {
			free(b);
		}
		b = nb;
	}
out:
	(void)fclose(f);
	free(text);
	return b;
}

/* Write the next chunk (after `prefix`); closes the client on failure. */
static void send_next(struct client *c, const char *prefix, const char *open)
{
	struct wbuf *b = next_chunk(c, prefix, open);

	if (!b || srv_client_write(c, b) < 0)
		srv_client_close(c);
	srv_wbuf_unref(b);
}

void srv_stream_pump(struct client *c)
{
	if (c->state != C_RESPONDING || !c->streaming ||
	    uv_stream_get_write_queue_size(&c->conn.stream) >= STREAM_QUEUE_MAX)
		return;
	send_next(c, NULL, NULL);
}

static const char head[] = "HTTP/1.1 200 OK\r\n"
			   "Content-Type: application/json\r\n"
			   "Transfer-Encoding: chunked\r\n"
			   "Connection: close\r\n\r\n";

/* Start the answer: the head with the first chunk; the next when it is written. */
static void stream_start(struct client *c, enum stream_kind kind, const char *open)
{
	c->stream_kind = kind;
	c->stream_comma = false;
	c->streaming = true;
	c->state = C_RESPONDING;
	srv_client_write_timer(c);
	send_next(c, head, open);
}

void srv_stream_events(struct client *c, uint64_t from, uint32_t pid)
{
	const struct fdw_history *h = c->srv->deps.history;

	c->follow_pid = pid;
	c->end_seq = h->len ? fdw_history_at(h, h->len - 1)->seq + 1 : 0;
	c->next_seq = from < h->len ? fdw_history_at(h, from)->seq : c->end_seq;
	stream_start(c, STREAM_EVENTS, "{\"events\":[");
}

void srv_stream_fds(struct client *c, uint32_t pid)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	struct fdw_proc *p = fdw_model_proc(deps->model, pid);
	json_t *o;
	char *text, *open;
	size_t len;

	/* the caller checked; the model may have changed since (a refresh in
	 * the thread pool took a while) */
	if (!p || !srv_client_sees_pid(c, pid, UINT64_MAX)) {
		srv_respond_error(c, 404, "no such process: %u", pid);
		return;
	}
	o = fdw_render_table_head(deps, p);
	text = o ? json_dumps(o, DUMP_FLAGS) : NULL;
	json_decref(o);
	len = text ? strlen(text) : 0;
	if (len < 2 || text[len - 1] != '}') {
		free(text);
		srv_respond(c, 500, NULL, NULL);
		return;
	}
	/* {"pid":..,"stale":false} -> {"pid":..,"stale":false,"fds":[ */
	open = malloc(len + 8);
	if (!open) {
		free(text);
		srv_respond(c, 500, NULL, NULL);
		return;
	}
	memcpy(open, text, len - 1);
	memcpy(open + len - 1, ",\"fds\":[", 9);
	free(text);
	c->stream_pid = pid;
	c->stream_pos = 0;
	stream_start(c, STREAM_FDS, open);
	free(open);
}

void srv_stream_processes(struct client *c)
{
	c->stream_pids = fdw_render_pids(c->srv->deps.model, &c->stream_npids);
	if (!c->stream_pids) {
		srv_respond(c, 500, NULL, NULL);
		return;
	}
	c->stream_pos = 0;
	stream_start(c, STREAM_PROCS, "{\"processes\":[");
}

void srv_stream_alerts(struct client *c, uint32_t pid, bool races)
{
	c->stream_pid = pid;
	c->stream_pos = 0;
	stream_start(c, races ? STREAM_RACES : STREAM_ALERTS,
		     races ? "{\"races\":[" : "{\"alerts\":[");
}
