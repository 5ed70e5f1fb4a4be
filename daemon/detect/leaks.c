// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The detectors' shared part (see leaks.h and detector.h): per-process
 * state, the alert lifecycle every detector uses, the registration of the
 * detectors and the dispatch of the model's changes and of the ticks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "detect/detector.h"
#include "sys/pidinfo.h"
#include "sys/procfs.h"

#define REVIEW_EVERY 5 /* ticks between checks of firing alerts' processes */

/*
 * Where a process's state lives: the model's per-observer slot, at the index
 * fdw_model_add_observer() gave us (none before the wiring sets it).
 */
static inline struct leak_proc *leak_state_get(const struct fdw_leaks *l,
					       const struct fdw_proc *p)
{
	return l->obs_idx >= 0 ? fdw_proc_state(p, l->obs_idx) : NULL;
}

static inline void leak_state_set(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st)
{
	if (l->obs_idx >= 0)
		fdw_proc_set_state(p, l->obs_idx, st);
}

/* ---- registration ------------------------------------------------------------- */

static const struct fdw_detector *const builtin[] = {
	&leak_growth_detector, /* the order the checks always ran in */
	&leak_exhaustion_detector,
	&leak_limits_detector,
	&leak_exec_detector,
	&leak_stacks_detector,
	&leak_races_detector,
};

int fdw_leaks_add_detector(struct fdw_leaks *l, const struct fdw_detector *d)
{
	if (l->ndet >= LEAK_DETECTORS_MAX)
		return -ENOSPC;
	l->det[l->ndet++] = d;
	return 0;
}

/* ---- per-process state ---------------------------------------------------------- */

struct leak_proc *leak_proc_find(struct fdw_leaks *l, const struct fdw_proc *p)
{
	return p ? leak_state_get(l, p) : NULL;
}

struct leak_proc *leak_proc_get(struct fdw_leaks *l, struct fdw_proc *p, uint64_t now)
{
	struct leak_proc *st = leak_state_get(l, p);
	uint64_t ticks;

	if (st)
		return st;
	if (l->stats.procs >= l->cfg.max_procs) {
		l->stats.dropped_procs++;
		return NULL;
	}
	/* the model's identity of the process when it has one (a read now
	 * could see another process under a reused pid) */
	ticks = p->start_ticks;
	if (!ticks && l->ops.read_start(l->ops.userdata, p->pid, &ticks) < 0)
		return NULL; /* gone already */
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->pid = p->pid;
	st->start_ticks = ticks;
	st->start_time = fdw_boot_time() + (double)ticks / fdw_clk_tck();
	st->exec_count = p->exec_count;
	leak_state_set(l, p, st);
	l->stats.procs++;
	for (unsigned int i = 0; i < l->ndet; i++)
		if (l->det[i]->on_proc_new)
			l->det[i]->on_proc_new(l, st, now);
	return st;
}

static void leak_proc_free(struct fdw_leaks *l, struct fdw_proc *p)
{
	struct leak_proc *st = leak_state_get(l, p);

	if (!st)
		return;
	for (unsigned int i = 0; i < l->ndet; i++)
		if (l->det[i]->on_proc_exit)
			l->det[i]->on_proc_exit(l, st);
	fdw_leak_series_reset(&st->growth.series);
	free(st->unit);
	free(st);
	leak_state_set(l, p, NULL);
	l->stats.procs--;
}

uint32_t leak_owner(struct fdw_leaks *l, struct leak_proc *st)
{
	uint32_t uid, gid;

	if (st->owner_exec == st->exec_count + 1)
		return st->owner;
	if (!l->ops.read_owner || l->ops.read_owner(l->ops.userdata, st->pid, &uid, &gid) < 0)
		uid = FDW_OWNER_UNKNOWN;
	st->owner = uid;
	st->owner_exec = st->exec_count + 1;
	return uid;
}

/* ---- the alert lifecycle ---------------------------------------------------------- */

struct fdw_alert *leak_alert_current(struct fdw_leaks *l, struct leak_alert *la)
{
	struct fdw_alert *a = la->id ? fdw_alerts_get(l->alerts, la->id) : NULL;

	if (a && a->state == FDW_ALERT_FIRING)
		return a;
	la->id = 0;
	return NULL;
}

void leak_alert_seen(struct fdw_alert *a, double now_real)
{
	a->last_seen = now_real;
	a->recovered = false;
}

struct fdw_alert *leak_alert_fresh(struct fdw_leaks *l, struct leak_alert *la, uint64_t now,
				   double now_real)
{
	struct fdw_alert *a = leak_alert_current(l, la);

	if (!a || now - la->evidence_ts >= (uint64_t)l->cfg.evidence_refresh * FDW_NSEC_PER_SEC)
		return NULL;
	leak_alert_seen(a, now_real);
	return a;
}

struct fdw_alert *leak_alert_fire(struct fdw_leaks *l, struct leak_alert *la,
				  enum fdw_alert_kind kind, const struct fdw_proc *p,
				  const struct leak_proc *st, uint64_t now, double now_real,
				  const char *summary, json_t *evidence)
{
	struct fdw_alert_proc ap = {
		.pid = st->pid,
		.start_ticks = st->start_ticks,
		.start_time = st->start_time,
		.comm = p->comm,
		.uid = FDW_OWNER_UNKNOWN,
		.gid = FDW_OWNER_GID_ANY,
	};
	struct fdw_alert *a;

	/* one /proc read per fire or refresh (a tick's work, not an event's) */
	if (l->ops.read_owner)
		(void)l->ops.read_owner(l->ops.userdata, st->pid, &ap.uid, &ap.gid);
	a = fdw_alerts_fire(l->alerts, kind, &ap, now_real, summary, evidence);

	if (a)
		la->id = a->id;
	la->evidence_ts = now;
	return a;
}

void leak_alert_resolve(struct fdw_leaks *l, struct leak_alert *la, double now_real,
			const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	fdw_alerts_resolve(l->alerts, leak_alert_current(l, la), now_real, why);
	la->id = 0;
}

struct fdw_alert *leak_alert_adopt(struct fdw_leaks *l, struct leak_alert *la,
				   enum fdw_alert_kind kind, const struct leak_proc *st)
{
	struct fdw_alert *a = fdw_alerts_find_firing(l->alerts, kind, st->pid, st->start_ticks);

	la->id = a ? a->id : 0;
	return a;
}

/* ---- ticks -------------------------------------------------------------------------- */

static void refresh_limit(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	uint64_t soft, hard;

	if (st->limit_known &&
	    now - st->limit_ts < (uint64_t)l->cfg.limit_refresh * FDW_NSEC_PER_SEC)
		return;
	st->limit_ts = now;
	if (l->ops.read_limit(l->ops.userdata, st->pid, &soft, &hard) == 0) {
		st->soft = soft;
		st->hard = hard;
		st->limit_known = true;
	}
}

static void tick_proc(struct fdw_leaks *l, struct fdw_proc *p, uint64_t now, double now_real)
{
	/* counts only: a detector that reads slots takes a view
	 * (fdw_model_table_view), so an idle fork child keeps sharing its
	 * parent's slots */
	struct fdw_table *t = fdw_model_proc_table_peek(l->m, p);
	struct leak_proc *st;

	if (!t)
		return;
	st = leak_proc_get(l, p, now);
	if (!st)
		return;
	if (st->exec_count != p->exec_count) {
		/* a new program: its trend starts again, its unit and symbols are new */
		st->exec_count = p->exec_count;
		fdw_leak_series_reset(&st->growth.series);
		st->unit_known = false;
		leak_symbols_forget(st);
	}
	refresh_limit(l, st, now);
	for (unsigned int i = 0; i < l->ndet; i++)
		if (l->det[i]->on_tick)
			l->det[i]->on_tick(l, p, st, t, now, now_real);
}

/* Firing alerts whose process is gone (exits seen while the daemon was
 * down, or processes without detector state). */
static void review_alerts(struct fdw_leaks *l, double now_real)
{
	struct fdw_alerts *s = l->alerts;

	for (size_t i = 0; i < s->n; i++) {
		struct fdw_alert *a = s->v[i];
		struct fdw_proc *p;
		struct leak_proc *st;
		uint64_t ticks;

		if (a->state != FDW_ALERT_FIRING)
			continue;
		p = fdw_model_proc(l->m, a->pid);
		st = leak_proc_find(l, p);
		if (st) {
			if (st->start_ticks != a->start_ticks)
				fdw_alerts_resolve(s, a, now_real, "process exited (pid reused)");
			continue;
		}
		if (p)
			continue; /* no state (bounded): cannot judge */
		if (l->ops.read_start(l->ops.userdata, a->pid, &ticks) < 0 ||
		    ticks != a->start_ticks)
			fdw_alerts_resolve(s, a, now_real, "process exited");
	}
}

void fdw_leaks_tick(struct fdw_leaks *l, uint64_t now_mono, double now_real)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	if (!l)
		return;
	if (!l->started_real)
		l->started_real = now_real;
	l->last_mono = now_mono;
	l->last_real = now_real;
	/* an exec whose last fd the exec-leak detector was not asked about */
	leak_exec_pipes_free(l);
	while (fdw_hashmap_next(&l->m->procs, &it, &key, &v))
		tick_proc(l, v, now_mono, now_real);
	if (l->stats.ticks++ % REVIEW_EVERY == 0)
		review_alerts(l, now_real);
}

/* ---- the model observer ------------------------------------------------------------ */

void fdw_leaks_on_fd_event(void *leaks, struct fdw_proc *p, const struct fdw_event *ev,
			   fdw_leak_fdev_kind kind, int fd, const struct fdw_slot *slot)
{
	struct fdw_leaks *l = leaks;

	if (!l || !p)
		return;
	for (unsigned int i = 0; i < l->ndet; i++)
		if (l->det[i]->on_fd_event && (l->det[i]->fd_events & FDW_LEAK_FDEV(kind)))
			l->det[i]->on_fd_event(l, p, ev, kind, fd, slot);
}

/*
 * When the exit the model is applying happened, in wall-clock time: the
 * last tick's, plus how much later the latest record applied was (the
 * exit's own, or the one that led to a re-read finding the process
 * gone). The tick alone is up to a second early: an alert fired and
 * resolved at the same tick read as a process that died at once.
 */
static double exit_real(const struct fdw_leaks *l)
{
	uint64_t ts = l->m ? l->m->applied_ts : 0;

	if (!l->last_real)
		return (double)time(NULL);
	if (ts > l->last_mono)
		return l->last_real + (double)(ts - l->last_mono) / 1e9;
	return l->last_real;
}

void fdw_leaks_on_proc_exit(void *leaks, struct fdw_proc *p)
{
	struct fdw_leaks *l = leaks;
	struct leak_proc *st;

	if (!l || !p)
		return;
	st = leak_state_get(l, p);
	if (!st)
		return;
	fdw_alerts_resolve_proc(l->alerts, st->pid, st->start_ticks, exit_real(l), "process exited");
	leak_proc_free(l, p);
}

void fdw_leaks_set_observer_index(struct fdw_leaks *l, int idx)
{
	l->obs_idx = idx;
}

uint32_t fdw_leaks_fd_events(const struct fdw_leaks *l)
{
	uint32_t mask = 0;

	for (unsigned int i = 0; l && i < l->ndet; i++)
		if (l->det[i]->on_fd_event)
			mask |= l->det[i]->fd_events;
	return mask;
}

/* ---- queries ------------------------------------------------------------------------ */

bool fdw_leaks_proc_info(struct fdw_leaks *l, struct fdw_proc *p, struct fdw_leak_procinfo *out)
{
	struct leak_proc *st = l ? leak_proc_find(l, p) : NULL;
	struct fdw_alert *a;

	memset(out, 0, sizeof(*out));
	out->unit = "";
	out->eta_s = -1;
	if (!st)
		return false;
	if (!st->unit_known) {
		char unit[128] = "";

		(void)l->ops.read_unit(l->ops.userdata, st->pid, unit, sizeof(unit));
		free(st->unit);
		st->unit = unit[0] ? strdup(unit) : NULL;
		/* out of memory: shown as none, read again next time */
		st->unit_known = st->unit || !unit[0];
	}
	out->unit = st->unit ? st->unit : "";
	if (st->limit_known) {
		out->soft = st->soft;
		out->hard = st->hard;
	}
	a = leak_alert_current(l, &st->growth.alert);
	if (a) {
		out->growing = true;
		out->rate_per_s = a->rate_per_s;
		out->eta_s = a->eta_s;
	}
	return true;
}

bool fdw_leaks_proc_trend(struct fdw_leaks *l, const struct fdw_proc *p,
			  struct fdw_leak_trend *out)
{
	struct leak_proc *st = l ? leak_proc_find(l, p) : NULL;
	uint32_t v[60];
	struct fdw_trend t;
	unsigned int n;

	memset(out, 0, sizeof(*out));
	if (!st)
		return false;
	out->limit_known = st->limit_known && st->soft != (uint64_t)RLIM_INFINITY;
	out->soft = out->limit_known ? st->soft : 0;
	n = leak_series_last(&st->growth.series, 60, v);
	fdw_trend_fit(v, n, &t);
	out->samples = n;
	/* one sample per detector tick (1 s) */
	out->per_min = n >= 2 ? t.slope * 60.0 : 0;
	return true;
}

const struct fdw_leak_stats *fdw_leaks_stats(const struct fdw_leaks *l)
{
	return l ? &l->stats : NULL;
}

const struct fdw_leak_config *fdw_leaks_config(const struct fdw_leaks *l)
{
	return l ? &l->cfg : NULL;
}

void fdw_leaks_set_config(struct fdw_leaks *l, const struct fdw_leak_config *c)
{
	if (l && c)
		l->cfg = *c;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

/* The sys/pidinfo readers, with ops.userdata as the proc root (NULL: /proc). */
static int sys_read_limit(void *root, uint32_t pid, uint64_t *soft, uint64_t *hard)
{
	return fdw_pid_nofile_limit(root, pid, soft, hard);
}

static int sys_read_start(void *root, uint32_t pid, uint64_t *ticks)
{
	struct fdw_pid_stat st;
	int r = fdw_pid_stat_read(root, pid, &st);

	if (r < 0)
		return r;
	*ticks = st.starttime;
	return 0;
}

static int sys_read_unit(void *root, uint32_t pid, char *buf, size_t len)
{
	return fdw_pid_unit(root, pid, buf, len);
}

static int sys_read_owner(void *root, uint32_t pid, uint32_t *uid, uint32_t *gid)
{
	return fdw_pid_owner_read(root, pid, uid, gid);
}

static int sys_read_exe(void *root, uint32_t pid, char *buf, size_t len)
{
	return fdw_pid_exe_name(root, pid, buf, len);
}

static int sys_read_fd_locked(void *root, uint32_t pid, int fd, uint64_t ino)
{
	return fdw_proc_fd_locked(root, pid, fd, ino);
}

int fdw_leaks_new(struct fdw_leaks **out, const struct fdw_leak_config *cfg,
		  const struct fdw_leaks_deps *deps)
{
	struct fdw_leaks *l;

	if (!deps || !deps->model || !deps->alerts)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (cfg)
		l->cfg = *cfg;
	else
		fdw_leak_config_default(&l->cfg);
	l->m = deps->model;
	l->alerts = deps->alerts;
	l->capture = deps->capture;
	if (deps->ops) {
		l->ops = *deps->ops;
	} else {
		l->ops.read_limit = sys_read_limit;
		l->ops.read_start = sys_read_start;
		l->ops.read_unit = sys_read_unit;
		l->ops.read_owner = sys_read_owner;
		l->ops.read_exe = sys_read_exe;
		l->ops.read_fd_locked = sys_read_fd_locked;
		l->ops.userdata = (void *)deps->proc_root;
	}
	l->obs_idx = -1;
	fdw_hashmap_init(&l->stacks);
	fdw_hashmap_init(&l->race_owners);
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		(void)fdw_leaks_add_detector(l, builtin[i]);
	*out = l;
	return 0;
}

void fdw_leaks_free(struct fdw_leaks *l)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	if (!l)
		return;
	while (fdw_hashmap_next(&l->m->procs, &it, &key, &v))
		leak_proc_free(l, v);
	/* the model outlives us: it must not call us with `l` freed (ASan
	 * found fdw_model_free() doing so at every daemon exit) */
	fdw_model_silence_observer(l->m, l->obs_idx);
	leak_stacks_free(l);
	leak_exec_pipes_free(l);
	fdw_hashmap_free(&l->race_owners);
	free(l);
}
