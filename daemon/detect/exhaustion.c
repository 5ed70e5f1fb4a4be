// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The exhaustion detector (fd-exhaustion): open fds at or above
 * exhaustion_ratio of the RLIMIT_NOFILE soft limit; resolved clearly below
 * it (5 points of hysteresis).
 */
#include <stdio.h>
#include <sys/resource.h>

#include "detect/detector.h"
#include "detect/evidence.h"

static void exhaustion_fire(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			    const struct fdw_table *t, double ratio, uint64_t now,
			    double now_real)
{
	char summary[512], top[320];
	json_t *ev;

	if (leak_alert_fresh(l, &st->exhaustion.alert, now, now_real))
		return;
	ev = json_object();
	if (!ev)
		return;
	(void)json_object_set_new(ev, "fds", json_integer(t->nopen));
	leak_evidence_limits(ev, st);
	(void)json_object_set_new(ev, "ratio", json_real(ratio));
	(void)json_object_set_new(ev, "threshold", json_real(l->cfg.exhaustion_ratio));
	leak_evidence_sites(l, st, t, 0, now, ev, top, sizeof(top));
	snprintf(summary, sizeof(summary),
		 "%u of %llu fds open (%.0f%% of the RLIMIT_NOFILE soft limit)%s%s", t->nopen,
		 (unsigned long long)st->soft, ratio * 100, top[0] ? FDW_LEAK_TOP_SITE : "", top);
	(void)leak_alert_fire(l, &st->exhaustion.alert, FDW_ALERT_EXHAUSTION, p, st, now, now_real,
			      summary, ev);
}

/*
 * The soft limit was lowered under the fds the process holds: no fd gets a
 * number at or above it (open, dup, accept, SCM_RIGHTS refuse), so one
 * there, or more fds than the limit, came before the limit came down. A
 * sandbox that gives up opening files does that (OpenSSH's pre-auth child
 * sets RLIMIT_NOFILE to 1 with its fds open; 0 is not looked at all): no
 * growth towards the limit, which is what this alert warns of. What fails
 * from then on is fd-limit-hit's. Looked at only once the ratio is reached.
 */
static bool exhaustion_lowered(const struct fdw_table *t, uint64_t soft)
{
	if (t->nopen > soft)
		return true;
	for (uint64_t fd = soft; fd < t->nslots; fd++)
		if (fdw_slot_open(fdw_table_slot(t, (int)fd)))
			return true;
	return false;
}

static void exhaustion_tick(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			    const struct fdw_table *t, uint64_t now, double now_real)
{
	struct fdw_alert *a = leak_alert_current(l, &st->exhaustion.alert);
	double ratio;

	if (!st->limit_known || st->soft == (uint64_t)RLIM_INFINITY || !st->soft)
		return;
	ratio = (double)t->nopen / (double)st->soft;
	if (ratio >= l->cfg.exhaustion_ratio && !exhaustion_lowered(t, st->soft))
		exhaustion_fire(l, p, st, t, ratio, now, now_real);
	else if (a && ratio < l->cfg.exhaustion_ratio - 0.05)
		leak_alert_resolve(l, &st->exhaustion.alert, now_real, "%u of %llu fds open (%.0f%%)",
				   t->nopen, (unsigned long long)st->soft, ratio * 100);
}

static void exhaustion_new(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	(void)leak_alert_adopt(l, &st->exhaustion.alert, FDW_ALERT_EXHAUSTION, st);
}

const struct fdw_detector leak_exhaustion_detector = {
	.name = "exhaustion",
	.on_proc_new = exhaustion_new,
	.on_tick = exhaustion_tick,
};
