// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The limit-hit detector (fd-limit-hit): a syscall of the process failed
 * with EMFILE or ENFILE. Counted as the failures happen; fired at the next
 * tick, refreshed while they go on, resolved after limit_quiet without one.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

#include "capture/syscalls.h"
#include "detect/detector.h"
#include "detect/evidence.h"

static void limits_on_fd_event(struct fdw_leaks *l, struct fdw_proc *p,
			       const struct fdw_event *ev, fdw_leak_fdev_kind kind, int fd,
			       const struct fdw_slot *slot)
{
	struct leak_proc *st;

	if (kind != FDW_FDEV_FAIL || (ev->ret != -EMFILE && ev->ret != -ENFILE))
		return;
	st = leak_proc_get(l, p, ev->ts);
	if (!st)
		return;
	st->limits.fails++;
	/* the process may have lowered its own limit (setrlimit is no
	 * event): read it again at the next tick, before this is told */
	st->limit_ts = 0;
	st->limits.last_fail = ev->ts > l->last_mono ? ev->ts : l->last_mono;
	st->limits.last_errno = (int)-ev->ret;
	st->limits.last_nr = ev->nr;
	st->limits.last_tid = ev->tid;
}

static json_t *limits_evidence(struct fdw_leaks *l, struct leak_proc *st,
			       const struct fdw_table *t, uint64_t now, char *top, size_t toplen)
{
	const char *en = fdw_errno_name(st->limits.last_errno);
	json_t *ev = json_object();

	if (!ev)
		return NULL;
	(void)json_object_set_new(ev, "failures", json_integer((json_int_t)st->limits.fails));
	(void)json_object_set_new(ev, "errno", json_string(en ? en : "?"));
	(void)json_object_set_new(ev, "syscall", leak_json_syscall(st->limits.last_nr));
	(void)json_object_set_new(ev, "tid", json_integer(st->limits.last_tid));
	(void)json_object_set_new(ev, "fds", json_integer(t->nopen));
	leak_evidence_limits(ev, st);
	leak_evidence_sites(l, st, t, 0, now, ev, top, toplen);
	return ev;
}

static void limits_fire(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			const struct fdw_table *t, uint64_t now, double now_real)
{
	struct leak_limits *ls = &st->limits;
	const char *en = fdw_errno_name(ls->last_errno), *sn = fdw_syscall_name(ls->last_nr);
	char summary[512], top[320], soft[32] = "unlimited";
	struct fdw_alert *a = leak_alert_fresh(l, &ls->alert, now, now_real);
	json_t *ev;

	if (a) {
		/* a process failing in a loop: count, do not regroup its table each time */
		(void)json_object_set_new(a->evidence, "failures",
					  json_integer((json_int_t)ls->fails));
		ls->fails_reported = ls->fails;
		return;
	}
	ev = limits_evidence(l, st, t, now, top, sizeof(top));
	if (!ev)
		return;
	if (st->limit_known && st->soft != (uint64_t)RLIM_INFINITY)
		snprintf(soft, sizeof(soft), "%llu", (unsigned long long)st->soft);
	snprintf(summary, sizeof(summary),
		 "%s failed with %s (%llu time%s): %u fds open, soft limit %s%s%s",
		 sn ? sn : "a syscall", en ? en : "?", (unsigned long long)ls->fails,
		 ls->fails == 1 ? "" : "s", t->nopen, soft, top[0] ? FDW_LEAK_TOP_SITE : "", top);
	(void)leak_alert_fire(l, &ls->alert, FDW_ALERT_LIMIT_HIT, p, st, now, now_real, summary,
			      ev);
	ls->fails_reported = ls->fails;
}

static void limits_tick(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			const struct fdw_table *t, uint64_t now, double now_real)
{
	struct leak_limits *ls = &st->limits;
	struct fdw_alert *a = leak_alert_current(l, &ls->alert);
	char q[32];

	if (ls->fails > ls->fails_reported) {
		limits_fire(l, p, st, t, now, now_real);
	} else if (a && now - ls->last_fail >= (uint64_t)l->cfg.limit_quiet * FDW_NSEC_PER_SEC) {
		leak_fmt_duration(l->cfg.limit_quiet, q, sizeof(q));
		leak_alert_resolve(l, &ls->alert, now_real, "no EMFILE/ENFILE for %s (%u fds open)", q,
				   t->nopen);
	}
}

/* An alert from before a restart: its quiet time starts now. */
static void limits_new(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	if (leak_alert_adopt(l, &st->limits.alert, FDW_ALERT_LIMIT_HIT, st))
		st->limits.last_fail = now;
}

const struct fdw_detector leak_limits_detector = {
	.name = "limits",
	.on_proc_new = limits_new,
	.on_fd_event = limits_on_fd_event,
	.fd_events = FDW_LEAK_FDEV(FDW_FDEV_FAIL),
	.on_tick = limits_tick,
};
