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
 * "closed": null}; fd-reuse's "reopened" and "target" alike; a finding
 * that is itself such an event (root's program closed twice before the
 * drop) keeps its kind, pid and fd alone. The same of
 * exec-leak evidence (detect/exec_leak.c), which names the leaked fds,
 * their files and who opened them: a root program that leaked a file into
 * a child, then dropped to a user and exec'd, and leaked one of the user's
 * into another child, refreshes the same alert, now the user's. A leaked
 * fd whose "origin" or "opened_by" is an event the client may not see is
 * shown as {"fd": N, "hidden": true, "target": null, "type": null,
 * "origin": null, "opened_by": null}, and so is a child whose exec the
 * client may not see (its pid and command). The summaries, which name the
 * first finding's threads, the first leaked fds' files, the newest child
 * and a leak alert's top site, are made again from what is left by the
 * detectors' own functions. Evidence read
 * back from the state file after a restart names events of the earlier run,
 * whose seqs this run cannot judge: alerts/alerts.c marks them
 * "earlier_run", and they are hidden alike. The alert is copied for that
 * client only; everyone else shares it.
 *
 * The copy is of what it changes: the alert, its evidence, their
 * findings, leaked, children and sites arrays and each element of those
 * it hides part of are its own (shallow copies, json_copy(), in place of
 * the shared ones: the same members in the same order); the rest is the
 * store's, shared as when nothing is hidden and read only by the dump
 * that follows at once. The detectors change an alert's evidence in place
 * (growth.c's figures, exec_leak.c's leaked array), never a client's view.
 */
#include <errno.h>
#include <string.h>

#include "alerts/alerts.h"
#include "base/json.h"
#include "base/search.h"
#include "detect/leaks.h"
#include "server/internal.h"

/* ---- what of an alert ------------------------------------------------------ */

/* Member `key` of object o, when an object or an array, replaced by a
 * shallow copy: o's own to change, its members shared still. 0, or -1
 * when out of memory. */
static int own_member(json_t *o, const char *key)
{
	json_t *m = json_object_get(o, key);

	if (!json_is_object(m) && !json_is_array(m))
		return 0;
	return json_object_set_new(o, key, json_copy(m));
}

/* Element i of array a (a's own: own_member) replaced by a shallow copy,
 * to be changed: the copy, or NULL when out of memory. */
static json_t *own_elem(json_t *a, size_t i)
{
	json_t *e = json_copy(json_array_get(a, i));

	return e && json_array_set_new(a, i, e) == 0 ? e : NULL;
}

/* Is origin `o` (origin_json of detect/races.c; null: none) an event `c`
 * may not see? One without a seq (found in /proc, inherited) counts as of
 * the start of what is known of its process, as in a slot's history. */
static bool origin_hidden(struct client *c, const json_t *o, uint32_t pid)
{
	const json_t *opid = json_object_get(o, "pid"), *seq = json_object_get(o, "seq");
	struct fdw_origin og = { 0 };

	if (!json_is_object(o))
		return false;
	if (json_is_true(json_object_get(o, "earlier_run")))
		return true; /* alerts/alerts.c: whose it was is not known */
	if (json_is_integer(opid) && json_integer_value(opid) > 0)
		og.pid = (uint32_t)json_integer_value(opid);
	if (json_is_integer(seq) && json_integer_value(seq) > 0)
		og.seq = (uint64_t)json_integer_value(seq);
	return !srv_client_sees_origin(c, pid, &og, false);
}

static bool gen_hidden(struct client *c, const json_t *g, uint32_t pid)
{
	return json_is_object(g) && (json_is_true(json_object_get(g, "earlier_run")) ||
				     origin_hidden(c, json_object_get(g, "created"), pid) ||
				     origin_hidden(c, json_object_get(g, "closed"), pid));
}

static bool reopened_hidden(struct client *c, const json_t *f, uint32_t pid)
{
	return origin_hidden(c, json_object_get(f, "reopened"), pid);
}

/* Every member of object o but those named in keep[] set to null, and
 * "hidden": true: 0, or -1 when out of memory. */
static int hide_all_but(json_t *o, const char *const *keep, size_t nkeep)
{
	const char *key;
	json_t *v;

	json_object_foreach(o, key, v) {
		size_t k = 0;

		while (k < nkeep && strcmp(key, keep[k]))
			k++;
		if (k == nkeep && !json_is_null(v) && json_object_set_new(o, key, json_null()) < 0)
			return -1;
	}
	return json_object_set_new(o, "hidden", json_true());
}

/* What in finding i of `findings` c may not see: 1 when there is some
 * (hidden, when `apply`, in a copy of the finding: own_elem), 0 when
 * none, -1 when out of memory. The finding itself (its "pid" at its
 * "seq": what a thread did, and when) is {"kind", "pid", "fd", "hidden":
 * true, the rest null}. */
static int finding_hide(struct client *c, json_t *findings, size_t i, uint32_t pid, bool apply)
{
	static const char *const keep[] = { "kind", "pid", "fd" };
	json_t *f = json_array_get(findings, i), *g = json_object_get(f, "generation");
	bool self = origin_hidden(c, f, pid);
	bool gen = !self && gen_hidden(c, g, pid), reopened = !self && reopened_hidden(c, f, pid);

	if (!self && !gen && !reopened)
		return 0;
	if (!apply)
		return 1;
	f = own_elem(findings, i);
	if (!f)
		return -1;
	if (self)
		return hide_all_but(f, keep, sizeof(keep) / sizeof(keep[0])) < 0 ? -1 : 1;
	if (gen) {
		json_t *h = json_pack("{s:O, s:b, s:n, s:n, s:n}", "generation",
				      json_object_get(g, "generation"), "hidden", true, "target",
				      "created", "closed");

		if (!h || json_object_set_new(f, "generation", h) < 0)
			return -1;
	}
	if (reopened && (json_object_set_new(f, "reopened", json_null()) < 0 ||
			 json_object_set_new(f, "target", json_null()) < 0 ||
			 json_object_set_new(f, "reopened_hidden", json_true()) < 0))
		return -1;
	return 1;
}

/* exec-leak evidence (detect/exec_leak.c): is leaked fd f (leak_json_slot
 * of detect/evidence.c) one whose creation `c` may not see? Its "origin"
 * (the slot's, the creator's syscall) or its "opened_by" (the open file
 * description's, maybe another process's). */
static bool leaked_hidden(struct client *c, const json_t *f, uint32_t pid)
{
	return json_is_true(json_object_get(f, "earlier_run")) ||
	       origin_hidden(c, json_object_get(f, "origin"), pid) ||
	       origin_hidden(c, json_object_get(f, "opened_by"), pid);
}

/*
 * Leak sites (detect/sites.c: fd-growth and fd-exhaustion evidence, and
 * GET /v1/leaks?pid=): a site groups open fds made the same way, with how
 * (syscall, opened_by, the command, stacks) and sample fds. A site one of
 * whose samples is hidden (leaked_hidden: made in the process's root days)
 * keeps what /proc shows the user anyway (target, type, count) and hides
 * the rest: {"hidden": true, "source": "hidden", syscall/opened_by/comm
 * null, no samples, no stacks}.
 */
static bool site_hidden(struct client *c, const json_t *site, uint32_t pid)
{
	const json_t *f;
	size_t i;

	json_array_foreach(json_object_get(site, "sample_fds"), i, f)
		if (leaked_hidden(c, f, pid))
			return true;
	return false;
}

static int site_hide(json_t *site)
{
	static const char *const nulls[] = { "syscall", "opened_by", "comm", "oldest_age_s",
					     "newest_age_s" };

	for (size_t k = 0; k < sizeof(nulls) / sizeof(nulls[0]); k++)
		if (json_object_set_new(site, nulls[k], json_null()) < 0)
			return -1;
	if (json_object_set_new(site, "source", json_string("hidden")) < 0 ||
	    json_object_set_new(site, "sample_fds", json_array()) < 0 ||
	    json_object_set_new(site, "stacks", json_array()) < 0 ||
	    json_object_set_new(site, "hidden", json_true()) < 0)
		return -1;
	return 0;
}

/* The sites of array `sites` c may not see: 1 when there is one (hidden,
 * when `apply`, in copies of them in `sites`: own_elem), 0 when none, -1
 * when out of memory. */
static int sites_hide(struct client *c, json_t *sites, uint32_t pid, bool apply)
{
	json_t *site;
	int any = 0;
	size_t i;

	json_array_foreach(sites, i, site) {
		if (!site_hidden(c, site, pid))
			continue;
		if (!apply)
			return 1;
		any = 1;
		site = own_elem(sites, i);
		if (!site || site_hide(site) < 0)
			return -1;
	}
	return any;
}

/* A leak alert's summary names its top site (detect/sites.c, after
 * FDW_LEAK_TOP_SITE): said again when that site is hidden. 0, or -1 when
 * out of memory. */
static int top_site_hide(json_t *alert, const json_t *sites)
{
	const char *sum = json_string_value(json_object_get(alert, "summary"));
	const char *at = sum ? strstr(sum, FDW_LEAK_TOP_SITE) : NULL;
	const json_t *top = json_array_get(sites, 0);
	char desc[320], buf[768];

	if (!at || !json_is_true(json_object_get(top, "hidden")))
		return 0;
	fdw_leak_site_describe(top, desc, sizeof(desc));
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - sum), sum, FDW_LEAK_TOP_SITE, desc);
	return json_object_set_new(alert, "summary", fdw_json_bytes(buf));
}

/*
 * exec-leak evidence's "children" (detect/exec_leak.c): the pid and command
 * of each program the fds went into, at its exec's "seq": a child c may not
 * see (a setuid program, another user's) is {"hidden": true, the rest
 * null}. 1 when there is one (hidden, when `apply`, in copies of them in
 * `kids`: own_elem), 0 when none, -1 when out of memory.
 */
static int children_hide(struct client *c, json_t *kids, bool apply)
{
	json_t *k;
	int any = 0;
	size_t i;

	json_array_foreach(kids, i, k) {
		if (!json_is_object(k) || !origin_hidden(c, k, 0))
			continue;
		if (!apply)
			return 1;
		any = 1;
		k = own_elem(kids, i);
		if (!k || hide_all_but(k, NULL, 0) < 0)
			return -1;
	}
	return any;
}

int srv_sites_view(struct client *c, json_t *doc, uint32_t pid)
{
	if (c->privileged || !doc)
		return 0;
	return sites_hide(c, json_object_get(doc, "sites"), pid, true) < 0 ? -ENOMEM : 0;
}

/* What in `alert` c may not see: 1 when there is some (hidden, when
 * `apply`, in alert itself, a shallow copy, and in copies of what it
 * changes: own_member, own_elem), 0 when none, -1 when out of memory. */
static int alert_hide(struct client *c, json_t *alert, uint32_t pid, bool apply)
{
	static const char *const arrays[] = { "findings", "leaked", "children", "sites" };
	json_t *ev, *findings, *leaked, *f;
	char summary[768];
	int any = 0, r;
	size_t i;

	if (apply && own_member(alert, "evidence") < 0)
		return -1;
	ev = json_object_get(alert, "evidence");
	for (i = 0; apply && i < sizeof(arrays) / sizeof(arrays[0]); i++)
		if (own_member(ev, arrays[i]) < 0)
			return -1;
	findings = json_object_get(ev, "findings");
	leaked = json_object_get(ev, "leaked");
	for (i = 0; i < json_array_size(findings); i++) {
		r = finding_hide(c, findings, i, pid, apply);
		if (r < 0)
			return r;
		if (r > 0 && !apply)
			return 1;
		any |= r;
	}
	json_array_foreach(leaked, i, f) {
		json_t *h;

		if (!leaked_hidden(c, f, pid))
			continue;
		if (!apply)
			return 1;
		any = 1;
		h = json_pack("{s:O, s:b, s:n, s:n, s:n, s:n}", "fd", json_object_get(f, "fd"),
			      "hidden", true, "target", "type", "origin", "opened_by");
		if (h && json_is_true(json_object_get(f, "race")) &&
		    json_object_set_new(h, "race", json_true()) < 0) {
			json_decref(h);
			h = NULL;
		}
		if (!h || json_array_set_new(leaked, i, h) < 0)
			return -1;
	}
	r = children_hide(c, json_object_get(ev, "children"), apply);
	if (r < 0)
		return r;
	if (r > 0 && !apply)
		return 1;
	any |= r;
	r = sites_hide(c, json_object_get(ev, "sites"), pid, apply);
	if (r < 0)
		return r;
	if (r > 0 && !apply)
		return 1;
	if (r > 0 && top_site_hide(alert, json_object_get(ev, "sites")) < 0)
		return -1;
	any |= r;
	if (!any)
		return 0;
	/* the summaries name the first finding's threads, the first leaked
	 * fds' files and the newest child too */
	if (json_array_size(json_object_get(ev, "findings")))
		fdw_race_summary(ev, summary, sizeof(summary));
	else if (json_is_array(leaked))
		fdw_leak_exec_summary(ev, summary, sizeof(summary));
	else
		return any;
	if (json_object_set_new(alert, "summary", fdw_json_bytes(summary)) < 0)
		return -1;
	return any;
}

json_t *srv_alert_view(struct client *c, json_t *alert)
{
	json_t *copy;
	uint32_t pid;
	int r;

	if (!alert)
		return NULL;
	if (c->privileged)
		return json_incref(alert);
	pid = (uint32_t)json_integer_value(json_object_get(alert, "pid"));
	if (!alert_hide(c, alert, pid, false))
		return json_incref(alert);
	copy = json_copy(alert);
	r = copy ? alert_hide(c, copy, pid, true) : -1;
	if (r < 0) {
		json_decref(copy);
		return NULL;
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
