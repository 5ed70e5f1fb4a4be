// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Chunked answers: GET /v1/events sends {"events":[...]} with
 * `Transfer-Encoding: chunked`, STREAM_EVENTS events per chunk, the next
 * chunk rendered only when the previous one is written and the socket's
 * queue is below STREAM_QUEUE_MAX. libuv reports a completed write on the
 * next turn of the loop, so one answer costs one chunk's work per turn and
 * other clients are served in between; a client that stops reading holds
 * one chunk, and is dropped by the write timeout (http.c).
 *
 * The answer covers the history entries from the first one asked for to
 * the newest one at the time of the request (end_seq); entries the history
 * overwrites before they are sent are left out (their seq is missing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "server/internal.h"
#include "server/render.h"

#define STREAM_EVENTS 128		  /* events per chunk */
#define STREAM_QUEUE_MAX (64 * 1024)	  /* render the next chunk below this */

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

/* The next STREAM_EVENTS events from next_seq on, and the end of the
 * answer when they are the last. NULL when out of memory. */
static struct wbuf *next_chunk(struct client *c, const char *prefix)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	const struct fdw_history *h = deps->history;
	uint64_t i = srv_history_find(h, c->next_seq);
	unsigned int n = 0;
	struct wbuf *b = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (prefix) /* the first chunk */
		(void)fputs("{\"events\":[", f);
	for (; i < h->len && n < STREAM_EVENTS; i++) {
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
		if (!line)
			goto out;
		(void)fprintf(f, "%s%s", c->stream_comma ? "," : "", line);
		free(line);
		c->stream_comma = true;
		n++;
	}
	if (i == h->len || fdw_history_at(h, i)->seq >= c->end_seq) {
		(void)fputs("]}\n", f);
		c->streaming = false;
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
static void send_next(struct client *c, const char *prefix)
{
	struct wbuf *b = next_chunk(c, prefix);

	if (!b || srv_client_write(c, b) < 0)
		srv_client_close(c);
	srv_wbuf_unref(b);
}

void srv_stream_pump(struct client *c)
{
	if (c->state != C_RESPONDING || !c->streaming ||
	    uv_stream_get_write_queue_size(&c->conn.stream) >= STREAM_QUEUE_MAX)
		return;
	send_next(c, NULL);
}

void srv_stream_events(struct client *c, uint64_t from, uint32_t pid)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "Connection: close\r\n\r\n";
	const struct fdw_history *h = c->srv->deps.history;

	c->follow_pid = pid;
	c->end_seq = h->len ? fdw_history_at(h, h->len - 1)->seq + 1 : 0;
	c->next_seq = from < h->len ? fdw_history_at(h, from)->seq : c->end_seq;
	c->streaming = true;
	c->state = C_RESPONDING;
	srv_client_write_timer(c);
	/* the head with the first chunk; the next when it is written */
	send_next(c, head);
}
