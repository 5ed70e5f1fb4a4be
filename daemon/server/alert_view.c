// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The alert store as a client sees it: GET /v1/leaks and /v1/races (stream.c,
 * routes.c), the backlog of their ?follow=1 and what is published to their
 * followers (follow.c) all take the alerts through here.
 *
 * Which alerts: those of a process the client may see (the alert records its
 * owner, alerts/alerts.h; access.c srv_client_sees_owner()).
 *
 * What of them: race evidence (detect/races.c) names the generation of the
 * fd a finding hit: the file, who opened it and who closed it. A root
 * program that opens a file, drops to a user and execs (su, cron, a login
 * shell) becomes the user's, and a race of the user's program on that
 * number would show the user what root opened, which GET /v1/events and a
 * slot's history (routes.c history_shown) hide: the same rule applies here.
 * A generation whose "created" or "closed" origin is an event the client
 * may not see (srv_client_sees_pid() at that event's seq) is shown as
 * {"generation": N, "hidden": true, "target": null, "created": null,
 * "closed": null}; fd-reuse's "reopened" and "target" alike. The alert is
 * copied for that client only; everyone else shares it.
 */
#include <string.h>

#include "alerts/alerts.h"
#include "base/search.h"
#include "server/internal.h"

/* ---- what of an alert ------------------------------------------------------ */

/* Is origin `o` (origin_json of detect/races.c; null: none) an event `c`
 * may not see? One without a seq (found in /proc, inherited) counts as of
 * the start of what is known of its process, as in a slot's history. */
static bool origin_hidden(struct client *c, const json_t *o, uint32_t pid)
{
	const json_t *opid, *seq;

	if (!json_is_object(o))
		return false;
	opid = json_object_get(o, "pid");
	seq = json_object_get(o, "seq");
	if (json_is_integer(opid) && json_integer_value(opid) > 0)
		pid = (uint32_t)json_integer_value(opid);
	return !srv_client_sees_pid(c, pid,
				    json_is_integer(seq) && json_integer_value(seq) > 0
					    ? (uint64_t)json_integer_value(seq)
					    : 0);
}

static bool gen_hidden(struct client *c, const json_t *g, uint32_t pid)
{
	return json_is_object(g) && (origin_hidden(c, json_object_get(g, "created"), pid) ||
				     origin_hidden(c, json_object_get(g, "closed"), pid));
}

static bool reopened_hidden(struct client *c, const json_t *f, uint32_t pid)
{
	return origin_hidden(c, json_object_get(f, "reopened"), pid);
}

/* What in finding f c may not see: 1 when there is some (hidden in f
 * itself, a copy, when `apply`), 0 when none, -1 when out of memory. */
static int finding_hide(struct client *c, json_t *f, uint32_t pid, bool apply)
{
	json_t *g = json_object_get(f, "generation");
	bool hid = false;

	if (gen_hidden(c, g, pid)) {
		hid = true;
		if (apply) {
			json_t *h = json_pack("{s:O, s:b, s:n, s:n, s:n}", "generation",
					      json_object_get(g, "generation"), "hidden", true,
					      "target", "created", "closed");

			if (!h || json_object_set_new(f, "generation", h) < 0)
				return -1;
		}
	}
	if (reopened_hidden(c, f, pid)) {
		hid = true;
		if (apply && (json_object_set_new(f, "reopened", json_null()) < 0 ||
			      json_object_set_new(f, "target", json_null()) < 0 ||
			      json_object_set_new(f, "reopened_hidden", json_true()) < 0))
			return -1;
	}
	return hid;
}

json_t *srv_alert_view(struct client *c, json_t *alert)
{
	json_t *findings, *copy, *f;
	uint32_t pid;
	bool any = false;
	size_t i;

	if (!alert)
		return NULL;
	findings = json_object_get(json_object_get(alert, "evidence"), "findings");
	if (c->privileged || !json_array_size(findings))
		return json_incref(alert);
	pid = (uint32_t)json_integer_value(json_object_get(alert, "pid"));
	json_array_foreach(findings, i, f) {
		if (finding_hide(c, f, pid, false) > 0) {
			any = true;
			break;
		}
	}
	if (!any)
		return json_incref(alert);
	copy = json_deep_copy(alert);
	findings = json_object_get(json_object_get(copy, "evidence"), "findings");
	json_array_foreach(findings, i, f) {
		if (finding_hide(c, f, pid, true) < 0) {
			json_decref(copy);
			return NULL;
		}
	}
	return copy;
}

/* ---- which alerts ----------------------------------------------------------- */

/* qsort(3)-style: the alert at elem against the id at key, ids up to *key
 * counting as below it (the first above *key is the lower bound) */
static int alert_after_cmp(const void *elem, const void *key)
{
	return (*(struct fdw_alert *const *)elem)->id <= *(const uint64_t *)key ? -1 : 1;
}

json_t *srv_alerts_next(struct client *c, uint64_t *after, uint32_t pid, bool races, bool *oom)
{
	const struct fdw_alerts *s = c->srv->deps.alerts;
	size_t i;

	if (!s)
		return NULL;
	for (i = FDW_LOWER_BOUND(after, s->v, s->n, alert_after_cmp); i < s->n; i++) {
		const struct fdw_alert *a = s->v[i];
		json_t *o, *v;

		*after = a->id;
		if ((races && !fdw_alert_kind_is_race(a->kind)) || (pid && a->pid != pid) ||
		    !srv_client_sees_owner(c, a->uid, a->gid))
			continue;
		o = fdw_alert_json(a);
		v = srv_alert_view(c, o);
		json_decref(o);
		if (!v)
			*oom = true;
		return v;
	}
	return NULL;
}
