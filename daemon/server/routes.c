// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * What a request asks (docs/api.md): the /v1 routes on the unix socket,
 * GET /metrics on the metrics listener. Every answer that reads the model
 * asks the pipeline to drain first (read-your-writes); /v1/status and
 * /metrics format one stats snapshot (stats.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "base/clock.h"
#include "base/log.h"
#include "check/check.h"
#include "detect/leaks.h"
#include "model/model.h"
#include "pipeline/pipeline.h"
#include "server/internal.h"
#include "server/metrics.h"
#include "server/render.h"
#include "server/stats.h"
#include "sys/pidinfo.h"

#define EVENTS_DEFAULT_LIMIT 100

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

/* The query parameters the routes know; the others are ignored. */
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
		q += plen;
		len -= plen;
		if (amp) {
			q++;
			len--;
		}
	}
}

/* ?pid=, ?limit= and ?follow= checked in this order, each when the route
 * takes it (its output non-NULL): false after answering 400. */
static bool query_check(struct client *c, const struct query *qs, uint64_t *pid,
			uint64_t *limit, bool *follow)
{
	if (qs->has_pid && (parse_uint(qs->pid, qs->pid_len, INT_MAX, pid) < 0 || !*pid)) {
		srv_respond_error(c, 400, "bad pid");
		return false;
	}
	if (limit && qs->has_limit && parse_uint(qs->limit, qs->limit_len, UINT64_MAX, limit) < 0) {
		srv_respond_error(c, 400, "bad limit");
		return false;
	}
	if (follow && qs->has_follow && parse_bool(qs->follow, qs->follow_len, follow) < 0) {
		srv_respond_error(c, 400, "bad follow (1 or 0)");
		return false;
	}
	return true;
}

static bool path_is(const char *p, size_t len, const char *lit)
{
	return strlen(lit) == len && !memcmp(p, lit, len);
}

static bool path_has_prefix(const char *p, size_t len, const char *lit)
{
	size_t n = strlen(lit);

	return len >= n && !memcmp(p, lit, n);
}

/* Read-your-writes: every record committed before the request, applied. */
static void drain(struct client *c)
{
	if (c->srv->deps.pipeline)
		fdw_pipeline_drain(c->srv->deps.pipeline);
}

/*
 * Status and metrics are figures, not the model: they drain for at most
 * this long and report how far behind they are (ring_backlog_bytes), so a
 * backlog never holds them (fdwatch status p99 < 100 ms under churn).
 */
#define STATUS_DRAIN_BUDGET_NS (20 * 1000000ull)

static void drain_bounded(struct client *c)
{
	if (c->srv->deps.pipeline)
		(void)fdw_pipeline_drain_for(c->srv->deps.pipeline, STATUS_DRAIN_BUDGET_NS);
}

/* ---- /v1 ------------------------------------------------------------------- */

static bool visible_pid(void *userdata, uint32_t pid)
{
	return srv_client_sees_pid(userdata, pid, UINT64_MAX);
}

/* An unprivileged client's own figures: its processes, their open fds and
 * their firing alerts (the host's totals are not its to know). */
static void own_figures(struct client *c, uint64_t *procs, uint64_t *fds, uint64_t *firing)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	size_t it = 0;
	void *v;

	while (deps->model && fdw_hashmap_next(&deps->model->procs, &it, NULL, &v)) {
		struct fdw_proc *p = v;
		const struct fdw_table *t;

		if (!visible_pid(c, p->pid))
			continue;
		t = fdw_model_proc_table_peek(deps->model, p); /* counts */
		(*procs)++;
		*fds += t ? t->nopen : 0;
	}
	for (size_t i = 0; deps->alerts && i < deps->alerts->n; i++) {
		const struct fdw_alert *a = deps->alerts->v[i];

		*firing += a->state == FDW_ALERT_FIRING && srv_client_sees_owner(c, a->uid, a->gid);
	}
}

/* The status, once the owners an unprivileged client's figures need are
 * read (srv_owners_then). */
static void status_answer(struct client *c)
{
	struct fdw_server *s = c->srv;
	struct fdw_stats st;

	drain_bounded(c);
	if (fdw_stats_collect(&s->deps, &s->opts, s, &st) < 0) {
		srv_respond(c, 500, NULL, NULL);
		return;
	}
	if (c->privileged) {
		srv_respond(c, 200, fdw_render_status(&st), NULL);
	} else {
		uint64_t procs = 0, fds = 0, firing = 0;

		own_figures(c, &procs, &fds, &firing);
		srv_respond(c, 200, fdw_render_status_own(&st, procs, fds, firing), NULL);
	}
	fdw_stats_release(&st);
}

static void route_status(struct client *c, const char *rest, size_t rlen, const char *q,
			 size_t qlen)
{
	/* which processes there are, then their owners read off the loop
	 * (an unprivileged client's figures ask for every one) */
	drain_bounded(c);
	c->owners_for = SRV_OWNERS_PROCS;
	srv_owners_then(c, status_answer);
}

static void processes_answer(struct client *c)
{
	drain(c);
	/* streamed: a chunk per completed write (stream.c) */
	srv_stream_processes(c);
}

static void route_processes(struct client *c, const char *rest, size_t rlen, const char *q,
			    size_t qlen)
{
	drain(c);
	c->owners_for = SRV_OWNERS_PROCS;
	srv_owners_then(c, processes_answer);
}

/* An unprivileged client's view of a slot's history: a generation is
 * shown when its open and its close are events the client may see (the
 * process was the client's then, as GET /v1/events has it); one without an
 * event (inherited, found in /proc) is judged as of the start of what is
 * known of the process, so what a root program opened and closed before it
 * dropped to the user and exec'd is not shown to the user. */
struct history_view {
	struct client *c;
	uint32_t pid;
};

static bool history_shown(void *userdata, const struct fdw_origin *o)
{
	const struct history_view *v = userdata;

	return srv_client_sees_origin(v->c, v->pid, o, false);
}

/* One fd of a process with its history (200), or the 404 for a closed fd,
 * with the history of its number. */
static json_t *fd_doc(struct client *c, struct fdw_proc *p, int fd, bool *open)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	const struct fdw_table *t = fdw_model_proc_table(deps->model, p);
	const struct fdw_slot *s = fdw_table_slot(t, fd);
	struct history_view v = { .c = c, .pid = p->pid };
	bool (*shown)(void *, const struct fdw_origin *) = c->privileged ? NULL : history_shown;
	json_t *o, *f;

	*open = fdw_slot_open(s);
	if (*open) {
		f = fdw_render_fd(deps, t, fd, s,
				  !srv_client_sees_origin(c, p->pid, fdw_slot_origin(s), true));
		if (f && json_object_set_new(f, "history",
					     fdw_render_slot_history(deps, s, shown, &v)) < 0) {
			json_decref(f);
			f = NULL;
		}
		return json_pack("{s:I, s:o, s:o, s:b, s:o}", "pid", (json_int_t)p->pid, "comm",
				 fdw_json_bytes(p->comm), "table",
				 t ? json_integer((json_int_t)t->id) : json_null(), "stale",
				 (t && t->stale) || p->lost, "fd", f);
	}
	o = fdw_render_error("fd %d is not open in pid %u", fd, p->pid);
	if (o) {
		(void)json_object_set_new(o, "pid", json_integer(p->pid));
		(void)json_object_set_new(o, "history", fdw_render_slot_history(deps, s, shown, &v));
	}
	return o;
}

static void verify_done(void *userdata, json_t *doc, int err)
{
	struct client *c = userdata;

	c->verify = NULL;
	/* A user's process that became another's while it was checked (an
	 * exec of a setuid program: the daemon read the new program's fds as
	 * root) is answered like a process that does not exist: the owner
	 * now, and no identity change since the request (it would have moved
	 * the owner's start past verify_seq, access.c). */
	if (doc && c->verify_pid &&
	    (!srv_client_sees_pid(c, c->verify_pid, c->verify_seq) ||
	     !srv_client_sees_pid(c, c->verify_pid, UINT64_MAX))) {
		json_decref(doc);
		doc = NULL;
		err = -ENOENT;
	}
	if (doc)
		srv_respond(c, 200, doc, NULL);
	else if (err == -ENOENT)
		srv_respond_error(c, 404, "no such process: %u", c->verify_pid);
	else
		srv_respond_error(c, 500, "verify failed: %s", strerror(-err));
}

static void verify_progress(void *userdata)
{
	srv_client_write_timer(userdata);
}

/* /v1/processes/PID/fds and /v1/processes/PID/fds/FD; `rest` is after the
 * "/v1/processes/" prefix. */
static void route_process(struct client *c, const char *rest, size_t len, const char *q,
			  size_t qlen)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	const char *slash = memchr(rest, '/', len);
	size_t pid_len = slash ? (size_t)(slash - rest) : len;
	uint64_t pid, fd = 0;
	bool one_fd = false, open;
	struct fdw_proc *p;
	json_t *doc;

	if (!slash) {
		srv_respond_error(c, 404, "no such path");
		return;
	}
	if (path_has_prefix(slash, len - pid_len, "/fds/")) {
		one_fd = true;
		if (parse_uint(slash + 5, len - pid_len - 5, INT_MAX, &fd) < 0) {
			srv_respond_error(c, 400, "bad fd number");
			return;
		}
	} else if (!path_is(slash, len - pid_len, "/fds")) {
		srv_respond_error(c, 404, "no such path");
		return;
	}
	if (parse_uint(rest, pid_len, INT_MAX, &pid) < 0 || !pid) {
		srv_respond_error(c, 400, "bad pid");
		return;
	}
	drain(c);
	p = fdw_model_proc(deps->model, (uint32_t)pid);
	/* another user's process is answered like one that does not exist */
	if (!p || !srv_client_sees_pid(c, (uint32_t)pid, UINT64_MAX)) {
		srv_respond_error(c, 404, "no such process: %llu", (unsigned long long)pid);
		return;
	}
	if (!one_fd) {
		/* the names read off the loop, then streamed (refresh.c, stream.c) */
		srv_refresh_then(c, (uint32_t)pid, srv_stream_fds);
		return;
	}
	fdw_model_refresh_target(deps->model, p, (int)fd); /* this fd's name alone */
	doc = fd_doc(c, p, (int)fd, &open);
	srv_respond(c, open ? 200 : 404, doc, NULL);
}

/* GET /v1/events without follow, once the owners of the history's pids
 * are read (srv_owners_then): c->owners_pid, c->owners_limit. */
static void events_answer(struct client *c)
{
	const struct fdw_history *h = c->srv->deps.history;
	uint64_t pid = c->owners_pid, limit = c->owners_limit, i, n = 0;

	/* the newest `limit` matching entries, then rendered oldest first */
	for (i = h->len; i > 0 && n < limit; i--) {
		const struct fdw_history_entry *e = fdw_history_at(h, i - 1);

		if ((!pid || e->pid == pid) && srv_client_sees_pid(c, e->pid, e->seq))
			n++;
	}
	/* streamed: a chunk per completed write (stream.c) */
	srv_stream_events(c, i, (uint32_t)pid);
}

/* GET /v1/events?follow=1: its backlog asks for the same owners. */
static void follow_answer(struct client *c)
{
	srv_follow_events(c, c->owners_pid, c->owners_limit);
}

static void route_events(struct client *c, const char *rest, size_t rlen, const char *q,
			 size_t qlen)
{
	const struct fdw_history *h = c->srv->deps.history;
	uint64_t pid = 0, limit = EVENTS_DEFAULT_LIMIT;
	bool follow = false;
	struct query qs;

	parse_query(q, qlen, &qs);
	if (!query_check(c, &qs, &pid, &limit, &follow))
		return;
	if (limit > h->cap)
		limit = h->cap;
	drain(c);
	c->owners_for = SRV_OWNERS_EVENTS;
	c->owners_pid = (uint32_t)pid;
	c->owners_limit = limit;
	srv_owners_then(c, follow ? follow_answer : events_answer);
}

enum srv_verify_admit srv_verify_admit(unsigned int running, unsigned int uid_runs,
				       bool privileged)
{
	if (running >= FDW_VERIFY_RUNS_MAX)
		return SRV_VERIFY_FULL;
	if (privileged)
		return SRV_VERIFY_ADMIT;
	if (uid_runs >= SRV_VERIFY_PER_UID)
		return SRV_VERIFY_UID_SHARE;
	if (running >= FDW_VERIFY_RUNS_MAX - SRV_VERIFY_RESERVE)
		return SRV_VERIFY_USERS_SHARE;
	return SRV_VERIFY_ADMIT;
}

#define VERIFY_LOG_EVERY_NS (60 * 1000000000ull)

/* An unprivileged client over a verify share: 503 with the reason,
 * counted, and a line in the log at most once a minute. */
static bool verify_share_refused(struct client *c)
{
	struct fdw_server *s = c->srv;
	const char *group = s->opts.socket_group ? s->opts.socket_group : FDW_SERVER_GROUP;
	unsigned int uid_runs = 0;
	enum srv_verify_admit v;
	uint64_t now;

	if (c->privileged)
		return false; /* bound by FDW_VERIFY_RUNS_MAX alone: the checker's test */
	/* at most max_clients clients hold a run: a short walk */
	for (const struct client *o = s->clients; o; o = o->next)
		uid_runs += o != c && o->verify && !o->privileged && o->uid == c->uid;
	v = srv_verify_admit(s->deps.checker->nruns, uid_runs, false);
	if (v == SRV_VERIFY_ADMIT || v == SRV_VERIFY_FULL)
		return false;
	s->verify_share++;
	s->verify_unlogged++;
	now = fdw_now_mono();
	if (!s->verify_logged_ns || now - s->verify_logged_ns >= VERIFY_LOG_EVERY_NS) {
		log_notice("api: verify of uid %u (pid %d) refused: %s; %llu verify request%s "
			   "refused for a share since the last such line (dropped.verify_requests"
			   "_share %llu)",
			   (unsigned int)c->uid, (int)c->peer_pid,
			   v == SRV_VERIFY_UID_SHARE ? "its uid runs one already"
						     : "the last run is kept for root",
			   (unsigned long long)s->verify_unlogged,
			   s->verify_unlogged == 1 ? "" : "s",
			   (unsigned long long)s->verify_share);
		s->verify_logged_ns = now;
		s->verify_unlogged = 0;
	}
	if (v == SRV_VERIFY_UID_SHARE)
		srv_respond_error(c, 503, "uid %u runs %u verify already (%u at once per user, "
					  "%u in all); try again when it ends",
				  (unsigned int)c->uid, uid_runs, SRV_VERIFY_PER_UID,
				  FDW_VERIFY_RUNS_MAX);
	else
		srv_respond_error(c, 503, "%u verify runs in progress already (the last of %u is "
					  "kept for root and group %s); try again when they end",
				  s->deps.checker->nruns, FDW_VERIFY_RUNS_MAX, group);
	return true;
}

static void route_verify(struct client *c, const char *rest, size_t rlen, const char *q,
			 size_t qlen)
{
	uint64_t pid = 0;
	struct query qs;
	int err = 0;

	parse_query(q, qlen, &qs);
	if (!query_check(c, &qs, &pid, NULL, NULL))
		return;
	if (!c->srv->deps.checker) {
		srv_respond_error(c, 503, "no checker");
		return;
	}
	if (!c->privileged && !pid) {
		srv_respond_error(c, 403, "verify of every process is for root and group %s; "
					  "ask for one of yours with ?pid=",
				  c->srv->opts.socket_group ? c->srv->opts.socket_group
							    : FDW_SERVER_GROUP);
		return;
	}
	if (pid && !srv_client_sees_pid(c, (uint32_t)pid, UINT64_MAX)) {
		srv_respond_error(c, 404, "no such process: %llu", (unsigned long long)pid);
		return;
	}
	if (verify_share_refused(c))
		return;
	c->verify_pid = (uint32_t)pid;
	c->verify_seq = c->srv->last_seq + 1;
	err = fdw_verify_start(c->srv->deps.checker, (uint32_t)pid, verify_done, verify_progress,
			       c, &c->verify);
	if (err == -EBUSY) {
		srv_respond_error(c, 503, "%u verify runs in progress already; try again when "
					  "they end", FDW_VERIFY_RUNS_MAX);
	} else if (err < 0) {
		verify_done(c, NULL, err);
	} else if (c->verify) {
		/* the answer comes when the check ends; each process checked
		 * is progress (the write timeout restarts) */
		c->state = C_RESPONDING;
		srv_client_write_timer(c);
	}
}

/* The alerts of `pid`, and the live process's leak sites (once its names
 * were read: srv_refresh_then). */
static void leaks_answer(struct client *c, uint32_t pid)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	json_t *arr = json_array(), *doc = NULL, *sites, *a;
	struct fdw_proc *p = fdw_model_proc(deps->model, pid);
	uint64_t after = 0;
	bool oom = false;

	/* a pid's alerts are few (one per kind and start of the process) */
	while (arr && !oom && (a = srv_alerts_next(c, &after, pid, false, &oom)))
		if (json_array_append_new(arr, a) < 0)
			oom = true;
	if (arr && !oom)
		doc = json_pack("{s:O}", "alerts", arr);
	json_decref(arr);
	if (doc && p && srv_client_sees_pid(c, pid, UINT64_MAX)) {
		uint64_t t0 = fdw_now_mono();

		sites = fdw_leaks_sites_json(deps->leaks, p);
		if (sites && srv_sites_view(c, sites, pid) < 0) {
			json_decref(sites);
			sites = NULL;
		}
		if (sites)
			(void)json_object_update(doc, sites);
		json_decref(sites);
		srv_sites_charge(c, fdw_now_mono() - t0, fdw_now_mono());
	}
	srv_respond(c, 200, doc, NULL);
}

/* GET /v1/leaks[?pid=PID][&follow=1]: alerts (alerts/alerts.c); with a pid,
 * the live process's leak sites too (detect/leaks.c). */
static void route_leaks(struct client *c, const char *rest, size_t rlen, const char *q,
			size_t qlen)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	uint64_t pid = 0;
	bool follow = false;
	struct fdw_proc *p;
	struct query qs;

	parse_query(q, qlen, &qs);
	if (!query_check(c, &qs, &pid, NULL, &follow))
		return;
	if (!deps->alerts) {
		srv_respond_error(c, 503, "no leak detection");
		return;
	}
	drain(c);
	if (follow) {
		srv_follow_alerts(c, (uint32_t)pid);
		return;
	}
	p = pid ? fdw_model_proc(deps->model, (uint32_t)pid) : NULL;
	if (p && srv_client_sees_pid(c, (uint32_t)pid, UINT64_MAX)) {
		if (!srv_sites_admit(c, fdw_now_mono())) {
			srv_respond_error(c, 429,
					  "leak sites: uid %u used its share of the daemon's time "
					  "(a tenth) for them; ask again in a second",
					  (unsigned int)c->uid);
			return;
		}
		/* the leak sites name files: their names now, read off the loop */
		srv_refresh_then(c, (uint32_t)pid, leaks_answer);
		return;
	}
	/* no live process of the client's: the alerts alone, a few per
	 * chunk (a full store's evidence is megabytes: never at once) */
	srv_stream_alerts(c, (uint32_t)pid, false);
}

/* GET /v1/races[?pid=PID][&follow=1]: the race and misuse findings
 * (double-close, use-after-close, close-in-flight, dup2-clobber) and the
 * exec-leak alerts, firing and recent. Bounded by the alert store. */
static void route_races(struct client *c, const char *rest, size_t rlen, const char *q,
			size_t qlen)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	uint64_t pid = 0;
	bool follow = false;
	struct query qs;

	parse_query(q, qlen, &qs);
	if (!query_check(c, &qs, &pid, NULL, &follow))
		return;
	if (!deps->alerts) {
		srv_respond_error(c, 503, "no race detection");
		return;
	}
	drain(c);
	if (follow) {
		srv_follow_alerts(c, (uint32_t)pid);
		return;
	}
	/* another user's findings are not shown (access.c), a few per chunk */
	srv_stream_alerts(c, (uint32_t)pid, true);
}

typedef void route_fn(struct client *c, const char *rest, size_t rlen, const char *q,
		      size_t qlen);

static const struct route {
	const char *path;
	bool prefix;	 /* `path` starts the path; the handler gets the rest */
	bool not_ready;	 /* answered before the daemon is ready */
	route_fn *fn;
} routes[] = {
	{ "/v1/status", false, true, route_status },
	{ "/v1/processes", false, false, route_processes },
	{ "/v1/processes/", true, false, route_process },
	{ "/v1/events", false, false, route_events },
	{ "/v1/leaks", false, false, route_leaks },
	{ "/v1/races", false, false, route_races },
	{ "/v1/verify", false, false, route_verify },
};

static const struct route *route_find(const char *path, size_t plen)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].prefix ? path_has_prefix(path, plen, routes[i].path)
				     : path_is(path, plen, routes[i].path))
			return &routes[i];
	return NULL;
}

/* ---- the metrics listener ------------------------------------------------------ */

/* Anyone on the host can scrape: by default only the commands of system
 * accounts' processes (services, root's) are named in the metrics. */
static bool system_process(void *userdata, uint32_t pid)
{
	return srv_owner_of(userdata, pid, UINT64_MAX, NULL) <= FDW_METRICS_SYSTEM_UID_MAX;
}

/* GET /metrics: the exposition text; "/" a hint; nothing else. */
static void route_metrics(struct client *c, const char *path, size_t plen)
{
	static const char hint[] = "fdwatchd: metrics at /metrics\n";
	struct fdw_server *s = c->srv;
	struct fdw_stats st;
	size_t len;
	char *body;
	int r;

	if (path_is(path, plen, "/")) {
		srv_respond_bytes(c, 200, "text/plain; charset=utf-8", hint, sizeof(hint) - 1,
				  false, NULL);
		return;
	}
	if (!path_is(path, plen, "/metrics")) {
		srv_respond_error(c, 404, "not found: try /metrics");
		return;
	}
	drain_bounded(c);
	r = fdw_stats_collect(&s->deps, &s->opts, s, &st);
	if (r == 0) {
		r = fdw_metrics_render(&s->deps, &st, s->opts.metrics_top,
				       s->opts.metrics_all_commands ? NULL : system_process, s,
				       &body, &len);
		fdw_stats_release(&st);
	}
	if (r < 0) {
		srv_respond_error(c, 500, "cannot render the metrics: %s", strerror(-r));
		return;
	}
	srv_respond_bytes(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len, false,
			  NULL);
	free(body);
}

void srv_route(struct client *c, const char *path, size_t plen, const char *query, size_t qlen)
{
	const struct fdw_server_deps *deps = &c->srv->deps;
	const struct route *r;
	size_t skip;

	if (c->metrics) {
		route_metrics(c, path, plen);
		return;
	}
	r = route_find(path, plen);
	/* before start-up is done, any other path is 503, even an unknown one */
	if (!(r && r->not_ready) && deps->ready && !*deps->ready) {
		srv_respond_error(c, 503, "daemon not ready");
		return;
	}
	if (!r) {
		srv_respond_error(c, 404, "no such path");
		return;
	}
	skip = r->prefix ? strlen(r->path) : plen;
	r->fn(c, path + skip, plen - skip, query, qlen);
}
