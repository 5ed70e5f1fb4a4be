// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Follow streams: a follow request turns the connection into a chunked
 * NDJSON stream.
 *
 * - events (/v1/events?follow=1): the recent events from the history, in
 *   batches written as the socket takes them (the backlog), then every new
 *   event as fdw_server_publish_event() sees it. Followers track the next
 *   sequence number they need, so the switch from history to live events
 *   neither loses nor repeats one.
 * - alerts (/v1/leaks?follow=1): the current and recent alerts, in
 *   batches by id written as the socket takes them (the backlog; an alert
 *   carries its evidence, kilobytes: a full store is megabytes), then each
 *   fire and resolve as fdw_server_publish_alert() sees it. During the
 *   backlog a change of an alert sent already is sent at once, one of an
 *   alert still to come is left to the backlog (which sends it as it is
 *   then): none lost, none older after newer.
 *
 * Both kinds go through one fan-out (publish()): the line is rendered once
 * for every follower. A follower with more than FOLLOW_QUEUE_MAX queued is
 * dropped at once, and one that takes none of its queued output for the
 * write timeout (http.c) is dropped then: both count as slow readers.
 *
 * The backlog is sent one batch per completed write: libuv reports a
 * write's completion on the next turn of the loop, so other clients are
 * served between two batches, and one batch is all a follower has queued.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "base/log.h"
#include "server/internal.h"
#include "server/render.h"

#define FOLLOW_QUEUE_MAX (4u * 1024 * 1024) /* queued for one follower */
#define BACKLOG_BATCH (64 * 1024)	     /* bytes of history per write */
#define BACKLOG_EVENTS 128		     /* events per write, at most */
#define BACKLOG_LOW_WATER (256 * 1024)	     /* refill below this */

/* One NDJSON line as an HTTP chunk: "<hex>\r\n<json>\n\r\n". NULL on failure. */
static struct wbuf *json_chunk(const json_t *o, size_t flags)
{
	char *text = o ? json_dumps(o, flags) : NULL;
	struct wbuf *b = NULL;
	size_t len;

	if (!text)
		return NULL;
	len = strlen(text);
	b = srv_wbuf_new(len + 32);
	if (b)
		b->len = (size_t)sprintf(b->data, "%zx\r\n%s\n\r\n", len + 1, text);
	free(text);
	return b;
}

static struct wbuf *event_chunk(const struct fdw_server *s, const struct fdw_history_entry *e)
{
	json_t *o = fdw_render_event(&s->deps, e);
	struct wbuf *b = json_chunk(o, DUMP_FLAGS);

	json_decref(o);
	return b;
}

static bool pid_matches(const struct client *c, uint32_t pid)
{
	return !c->follow_pid || pid == c->follow_pid;
}

/* An event this follower asked for and may see. */
static bool event_for(struct client *c, const struct fdw_history_entry *e)
{
	return pid_matches(c, e->pid) && srv_client_sees_pid(c, e->pid, e->seq);
}

/* Dropped for a reason other than its reading (that is srv_client_drop_slow). */
static void follower_drop(struct client *c, const char *why)
{
	c->srv->dropped_followers++;
	log_debug("api: follower uid %u pid %d dropped: %s", c->uid, (int)c->peer_pid, why);
	srv_client_close(c);
}

/*
 * Turn the connection into a follow stream: the chunked NDJSON response
 * head, follower state, no request timeout. 0, or -errno after closing the
 * client.
 */
static int stream_open(struct client *c, enum follow_kind kind)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: application/x-ndjson\r\n"
				   "Transfer-Encoding: chunked\r\n"
				   "Cache-Control: no-store\r\n"
				   "Connection: close\r\n\r\n";
	struct wbuf *b = srv_wbuf_new(sizeof(head));

	if (!b) {
		srv_client_close(c);
		return -ENOMEM;
	}
	memcpy(b->data, head, sizeof(head) - 1);
	b->len = sizeof(head) - 1;
	c->state = C_FOLLOWING;
	c->follow = kind;
	c->srv->nfollowers++;
	(void)uv_timer_stop(&c->timer);
	if (srv_client_write(c, b) < 0) {
		srv_wbuf_unref(b);
		srv_client_close(c);
		return -EIO;
	}
	srv_wbuf_unref(b);
	return 0;
}

/* ---- the fan-out ---------------------------------------------------------- */

/* One thing to send to the followers of its kind. */
struct publication {
	enum follow_kind kind;
	uint32_t pid;
	const struct fdw_history_entry *event; /* FOLLOW_EVENTS */
	const struct fdw_alert *alert;	       /* FOLLOW_ALERTS */
	json_t *alert_json;		       /* ... its JSON, made for the first taker */
};

/* Does follower `c` take `p`? An event follower past the backlog takes
 * each sequence number once: this moves its next_seq on. */
static bool follower_takes(struct client *c, const struct publication *p)
{
	if (c->state != C_FOLLOWING || c->follow != p->kind)
		return false;
	if (p->kind == FOLLOW_EVENTS) {
		if (!c->live || p->event->seq < c->next_seq)
			return false;
		c->next_seq = p->event->seq + 1;
		return event_for(c, p->event);
	}
	if (!c->live && p->alert->id > c->next_seq)
		return false; /* the backlog has it still to come */
	return pid_matches(c, p->pid) && srv_client_sees_owner(c, p->alert->uid, p->alert->gid);
}

/* The line of alert publication p for follower c: the one every follower
 * shares (*shared, made on the first call), or c's own when part of its
 * evidence is hidden from c (alert_view.c). NULL when out of memory. */
static struct wbuf *alert_line(struct client *c, struct publication *p, struct wbuf **shared)
{
	struct wbuf *line;
	json_t *v;

	if (!p->alert_json && !(p->alert_json = fdw_alert_json(p->alert)))
		return NULL;
	v = srv_alert_view(c, p->alert_json);
	if (v != p->alert_json) {
		line = json_chunk(v, JSON_COMPACT); /* NULL for v NULL */
		json_decref(v);
		return line;
	}
	json_decref(v);
	if (!*shared && !(*shared = json_chunk(p->alert_json, JSON_COMPACT)))
		return NULL;
	(*shared)->refs++;
	return *shared;
}

static void publish(struct fdw_server *s, struct publication *p)
{
	struct wbuf *shared = NULL, *line;
	struct client *c, *next;

	if (!s || s->stopping || !s->nfollowers)
		return;
	for (c = s->clients; c; c = next) {
		next = c->next;
		if (!follower_takes(c, p))
			continue;
		if (uv_stream_get_write_queue_size(&c->conn.stream) > FOLLOW_QUEUE_MAX) {
			srv_client_drop_slow(c, "more than 4 MiB queued");
			continue;
		}
		if (p->kind == FOLLOW_EVENTS) {
			/* rendered once for every follower */
			if (!shared)
				shared = event_chunk(s, p->event);
			line = shared;
			if (line)
				line->refs++;
		} else {
			line = alert_line(c, p, &shared);
		}
		if (!line) {
			/* out of memory: a follower that would miss this line
			 * sees its stream end instead (loss is never silent) */
			srv_client_close(c);
			continue;
		}
		if (srv_client_write(c, line) < 0)
			srv_client_close(c);
		srv_wbuf_unref(line);
	}
	srv_wbuf_unref(shared);
	json_decref(p->alert_json);
}

void fdw_server_publish_event(struct fdw_server *s, const struct fdw_history_entry *e)
{
	if (!s || !e || s->stopping)
		return;
	srv_access_note_event(s, e); /* forks and execs: whose process is whose */
	/* every event of the host comes here: nothing to build without followers */
	if (!s->nfollowers)
		return;
	if (e)
		publish(s, &(struct publication){
				   .kind = FOLLOW_EVENTS, .pid = e->pid, .event = e });
}

void fdw_server_publish_alert(struct fdw_server *s, const struct fdw_alert *a)
{
	if (a)
		publish(s, &(struct publication){
				   .kind = FOLLOW_ALERTS, .pid = a->pid, .alert = a });
}

/* ---- events: the backlog ---------------------------------------------------- */

uint64_t srv_history_find(const struct fdw_history *h, uint64_t seq)
{
	uint64_t lo = 0, hi = h->len;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (fdw_history_at(h, mid)->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Append `line` to *batch (of capacity *cap), growing it. false when out
 * of memory (the batch is intact). */
static bool batch_append(struct wbuf **batch, size_t *cap, const struct wbuf *line)
{
	struct wbuf *b = *batch;

	if (b->len + line->len > *cap) {
		size_t nc = (b->len + line->len) * 2;
		struct wbuf *nb = realloc(b, sizeof(*nb) + nc);

		if (!nb)
			return false;
		*batch = b = nb;
		*cap = nc;
	}
	memcpy(b->data + b->len, line->data, line->len);
	b->len += line->len;
	return true;
}

/* About BACKLOG_BATCH bytes (BACKLOG_EVENTS events at most) of the
 * history from index `i` on. NULL when out of memory. */
static struct wbuf *backlog_batch(struct client *c, const struct fdw_history *h, uint64_t i)
{
	size_t cap = BACKLOG_BATCH * 2;
	struct wbuf *batch = srv_wbuf_new(cap);
	unsigned int n = 0;

	for (; batch && i < h->len && batch->len < BACKLOG_BATCH && n < BACKLOG_EVENTS; i++) {
		const struct fdw_history_entry *e = fdw_history_at(h, i);
		struct wbuf *line;
		bool ok;

		c->next_seq = e->seq + 1;
		if (!event_for(c, e))
			continue;
		line = event_chunk(c->srv, e);
		if (!line)
			continue;
		ok = batch_append(&batch, &cap, line);
		srv_wbuf_unref(line);
		n++;
		if (!ok)
			break;
	}
	return batch;
}

static void alerts_pump(struct client *c);

/*
 * Send one batch of the backlog (history from next_seq on); on_write calls
 * again when it is written. Past the newest entry the follower goes live
 * and the fan-out takes over.
 */
void srv_follow_pump(struct client *c)
{
	const struct fdw_history *h = c->srv->deps.history;

	if (c->follow == FOLLOW_ALERTS) {
		alerts_pump(c);
		return;
	}

	while (c->state == C_FOLLOWING && !c->live &&
	       uv_stream_get_write_queue_size(&c->conn.stream) < BACKLOG_LOW_WATER) {
		uint64_t i = srv_history_find(h, c->next_seq);
		struct wbuf *batch;

		if (i == h->len) {
			c->live = true;
			return;
		}
		if (i == 0 && c->next_seq && fdw_history_at(h, 0)->seq > c->next_seq) {
			/* the history was overwritten before we sent it */
			follower_drop(c, "fell behind the history");
			return;
		}
		batch = backlog_batch(c, h, i);
		if (!batch || (batch->len && srv_client_write(c, batch) < 0)) {
			srv_wbuf_unref(batch);
			srv_client_close(c);
			return;
		}
		if (batch->len) {
			srv_wbuf_unref(batch);
			return; /* the next batch when this one is written */
		}
		srv_wbuf_unref(batch); /* nothing of its pid there: look further */
	}
}

void srv_follow_events(struct client *c, uint32_t pid, uint64_t limit)
{
	const struct fdw_history *h = c->srv->deps.history;
	uint64_t i = h->len, n = 0;

	/* the backlog starts at the limit-th newest matching event */
	c->follow_pid = pid;
	while (i > 0 && n < limit) {
		if (event_for(c, fdw_history_at(h, i - 1)))
			n++;
		i--;
	}
	if (i < h->len)
		c->next_seq = fdw_history_at(h, i)->seq;
	else if (h->len)
		c->next_seq = fdw_history_at(h, h->len - 1)->seq + 1;
	else
		c->next_seq = 0;

	if (stream_open(c, FOLLOW_EVENTS) < 0)
		return;
	srv_follow_pump(c);
}

/* ---- alerts ------------------------------------------------------------------ */

/* About BACKLOG_BATCH bytes (BACKLOG_ALERTS alerts at most) of the alerts
 * after id next_seq (the store is sorted by id) that the follower takes;
 * *end when no alert is left. NULL when out of memory. */
#define BACKLOG_ALERTS 16

static struct wbuf *alerts_batch(struct client *c, bool *end)
{
	size_t cap = BACKLOG_BATCH * 2;
	struct wbuf *batch = srv_wbuf_new(cap);
	bool oom = false;

	*end = false;
	if (!batch)
		return NULL;
	for (unsigned int n = 0; n < BACKLOG_ALERTS && batch->len < BACKLOG_BATCH; n++) {
		json_t *o = srv_alerts_next(c, &c->next_seq, c->follow_pid, false, &oom);
		struct wbuf *line;
		bool ok;

		if (!o && !oom) {
			*end = true;
			break;
		}
		line = json_chunk(o, JSON_COMPACT);
		json_decref(o);
		ok = line && batch_append(&batch, &cap, line);
		srv_wbuf_unref(line);
		if (!ok) {
			srv_wbuf_unref(batch);
			return NULL;
		}
	}
	return batch;
}

static void alerts_pump(struct client *c)
{
	while (c->state == C_FOLLOWING && !c->live &&
	       uv_stream_get_write_queue_size(&c->conn.stream) < BACKLOG_LOW_WATER) {
		bool end;
		struct wbuf *batch = alerts_batch(c, &end);
		size_t len = batch ? batch->len : 0;

		if (!batch || (len && srv_client_write(c, batch) < 0)) {
			srv_wbuf_unref(batch);
			srv_client_close(c);
			return;
		}
		srv_wbuf_unref(batch);
		if (end) {
			c->live = true;
			return;
		}
		if (len)
			return; /* the next batch when this one is written */
	}
}

void srv_follow_alerts(struct client *c, uint32_t pid)
{
	c->live = false;
	c->follow_pid = pid;
	c->next_seq = 0; /* the last alert id sent (ids start at 1) */
	if (stream_open(c, FOLLOW_ALERTS) < 0)
		return;
	alerts_pump(c);
}
