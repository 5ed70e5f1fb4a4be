// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The growth detector (fd-growth): the trend of a process's open fd count,
 * fast and slow (see leaks.h), and the alert it raises. The trend functions
 * are pure; the detector below feeds them one sample a tick.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "detect/detector.h"
#include "detect/evidence.h"

#define UNWATCH_AFTER_S 120 /* stack capture ends this long after suspicion */

/* ---- the trend, pure ------------------------------------------------------ */

static double fit_slope(const uint32_t *v, unsigned int n, double *r2)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0, mx, my, cxx, cxy, cyy;

	if (n < 2) {
		if (r2)
			*r2 = 0;
		return 0;
	}
	for (unsigned int i = 0; i < n; i++) {
		double x = i, y = v[i];

		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		syy += y * y;
	}
	mx = sx / n;
	my = sy / n;
	cxx = sxx - n * mx * mx;
	cxy = sxy - n * mx * my;
	cyy = syy - n * my * my;
	if (r2)
		*r2 = cyy > 1e-9 && cxx > 0 ? (cxy * cxy) / (cxx * cyy) : 0;
	return cxx > 0 ? cxy / cxx : 0;
}

void fdw_trend_fit(const uint32_t *v, unsigned int n, struct fdw_trend *t)
{
	unsigned int rises = 0, h = n / 2;

	memset(t, 0, sizeof(*t));
	t->n = n;
	if (!n)
		return;
	t->first = v[0];
	t->last = v[n - 1];
	t->min = t->max = v[0];
	for (unsigned int i = 1; i < n; i++) {
		if (v[i] > v[i - 1])
			rises++;
		if (v[i] < t->min)
			t->min = v[i];
		if (v[i] > t->max)
			t->max = v[i];
	}
	t->rising = n > 1 ? (double)rises / (n - 1) : 0;
	t->slope_recent = fit_slope(v + (n > 4 ? n - 4 : 0), n > 4 ? 4 : n, NULL);
	t->slope = fit_slope(v, n, &t->r2);
	if (n >= 4) {
		t->slope_first = fit_slope(v, h, NULL);
		t->slope_second = fit_slope(v + h, n - h, NULL);
	}
}

/* The last k values of the fine (or the coarse) ring, oldest first. */
static unsigned int series_ring_last(const struct fdw_leak_series *s, bool coarse, unsigned int k,
				     uint32_t *out)
{
	unsigned int cap = coarse ? FDW_LEAK_COARSE : FDW_LEAK_FINE;
	unsigned int n = coarse ? s->coarse_n : s->fine_n;
	unsigned int head = coarse ? s->coarse_head : s->fine_head;
	const uint32_t *ring = s->ring ? s->ring + (coarse ? FDW_LEAK_FINE : 0) : NULL;

	if (k > n)
		k = n;
	for (unsigned int i = 0; i < k; i++)
		out[i] = ring ? ring[(head + cap - k + i) % cap] : s->flat;
	return k;
}

unsigned int leak_series_last(const struct fdw_leak_series *s, unsigned int k, uint32_t *out)
{
	return series_ring_last(s, false, k > FDW_LEAK_FINE ? FDW_LEAK_FINE : k, out);
}

int fdw_leak_series_push(struct fdw_leak_series *s, const struct fdw_leak_config *c,
			 uint32_t nopen)
{
	if (!s->samples) {
		s->flat = nopen;
	} else if (!s->ring && nopen != s->flat) {
		/* the first change: until now every value was `flat` */
		uint32_t *ring = malloc((FDW_LEAK_FINE + FDW_LEAK_COARSE) * sizeof(*ring));

		if (!ring)
			return -ENOMEM;
		for (unsigned int i = 0; i < FDW_LEAK_FINE + FDW_LEAK_COARSE; i++)
			ring[i] = s->flat;
		s->ring = ring;
	}
	if (s->ring)
		s->ring[s->fine_head] = nopen;
	s->fine_head = (s->fine_head + 1) % FDW_LEAK_FINE;
	if (s->fine_n < FDW_LEAK_FINE)
		s->fine_n++;
	if (!s->floor_samples || nopen < s->floor)
		s->floor = nopen;
	if (++s->floor_samples >= c->slow_interval) {
		if (s->ring)
			s->ring[FDW_LEAK_FINE + s->coarse_head] = s->floor;
		s->coarse_head = (s->coarse_head + 1) % FDW_LEAK_COARSE;
		if (s->coarse_n < FDW_LEAK_COARSE)
			s->coarse_n++;
		s->floor_samples = 0;
	}
	s->samples++;
	return 0;
}

void fdw_leak_series_reset(struct fdw_leak_series *s)
{
	if (!s)
		return;
	free(s->ring);
	memset(s, 0, sizeof(*s));
}

/*
 * A trend that a leak makes and a server's load does not: steep, long,
 * straight, rising at most steps, not levelling off (the second half rises
 * at least half as fast as the first, and the last steps still rise: a pool
 * that warmed up has plateaued, and so have its last few values), and still at its
 * top (a spike falls back).
 */
static bool trend_grows(const struct fdw_trend *t, double min_slope, double min_rise,
			double min_fit, double min_rising)
{
	double rise = (double)t->last - (double)t->first;

	return t->slope >= min_slope && rise >= min_rise && t->r2 >= min_fit &&
	       t->rising >= min_rising && t->slope_second >= 0.5 * t->slope_first &&
	       t->slope_second > 0 && t->slope_recent >= 0.5 * t->slope &&
	       (double)t->last >= (double)t->max - fmax(2.0, 0.05 * rise);
}

bool fdw_leak_growth(const struct fdw_leak_config *c, const struct fdw_leak_series *s,
		     struct fdw_growth *g)
{
	uint32_t buf[FDW_LEAK_FINE > FDW_LEAK_COARSE ? FDW_LEAK_FINE : FDW_LEAK_COARSE] = { 0 };
	struct fdw_trend t;
	unsigned int n;

	memset(g, 0, sizeof(*g));
	/* fast: the last fast_window one-second samples */
	n = series_ring_last(s, false, c->fast_window, buf);
	fdw_trend_fit(buf, n, &t);
	if (n >= fdw_leak_fast_min_samples(c) &&
	    trend_grows(&t, c->fast_min_rate, c->fast_min_rise, c->min_fit, c->min_rising)) {
		g->detector = FDW_GROWTH_FAST;
		g->rate_per_s = t.slope;
		g->r2 = t.r2;
		g->rising = t.rising;
		g->from = t.first;
		g->to = t.last;
		g->window_s = n - 1;
		return true;
	}
	/* half-way there, and already straight: worth the cost of stacks */
	if (n >= 5 && t.slope >= c->fast_min_rate / 2 &&
	    (double)t.last - t.first >= c->fast_min_rise / 3.0 && t.rising >= c->min_rising &&
	    t.r2 >= c->min_fit * 0.75)
		g->suspect = true;
	/* slow: the floors of the last slow_window intervals */
	n = series_ring_last(s, true, c->slow_window, buf);
	fdw_trend_fit(buf, n, &t);
	if (n >= fdw_leak_slow_min_samples(c) &&
	    trend_grows(&t, c->slow_min_rate * c->slow_interval / 60.0, c->slow_min_rise,
			c->min_fit, c->min_rising)) {
		g->detector = FDW_GROWTH_SLOW;
		g->suspect = false;
		g->rate_per_s = t.slope / c->slow_interval;
		g->r2 = t.r2;
		g->rising = t.rising;
		g->from = t.first;
		g->to = t.last;
		g->window_s = (double)(n - 1) * c->slow_interval;
		return true;
	}
	if (n >= 3 && n * 2 >= fdw_leak_slow_min_samples(c) &&
	    t.slope >= c->slow_min_rate * c->slow_interval / 120.0 &&
	    (double)t.last - t.first >= c->slow_min_rise / 2.0 && t.rising >= c->min_rising &&
	    t.r2 >= c->min_fit * 0.75)
		g->suspect = true;
	return false;
}


/* ---- the detector ------------------------------------------------------------ */

/* Seconds until the soft limit at `rate`, < 0 unknown. */
static double growth_eta(const struct leak_proc *st, uint32_t nopen, double rate)
{
	if (!st->limit_known || st->soft == (uint64_t)RLIM_INFINITY || rate <= 0)
		return -1;
	if (nopen >= st->soft)
		return 0;
	return (double)(st->soft - nopen) / rate;
}

/*
 * The fd count over the alert's window, for a sparkline: the one-second
 * samples (fast) or the interval floors (slow), oldest first, at most
 * FDW_LEAK_FINE/FDW_LEAK_COARSE values (64), "series_step_s" apart.
 */
static void growth_series(json_t *ev, const struct fdw_leaks *l, const struct leak_proc *st)
{
	const struct fdw_leak_series *s = &st->growth.series;
	const struct fdw_growth *g = &st->growth.growth;
	uint32_t buf[FDW_LEAK_FINE > FDW_LEAK_COARSE ? FDW_LEAK_FINE : FDW_LEAK_COARSE];
	bool slow = g->detector == FDW_GROWTH_SLOW;
	unsigned int n;
	json_t *a;

	n = series_ring_last(s, slow, slow ? l->cfg.slow_window : l->cfg.fast_window, buf);
	a = json_array();
	for (unsigned int i = 0; a && i < n; i++)
		(void)json_array_append_new(a, json_integer(buf[i]));
	if (a)
		(void)json_object_set_new(ev, "series", a);
	(void)json_object_set_new(ev, "series_step_s",
				  json_integer(slow ? (json_int_t)l->cfg.slow_interval : 1));
}

static json_t *growth_evidence(struct fdw_leaks *l, struct leak_proc *st,
			       const struct fdw_table *t, double eta, uint64_t now, char *top,
			       size_t toplen)
{
	const struct fdw_growth *g = &st->growth.growth;
	json_t *ev = json_object();

	if (!ev)
		return NULL;
	(void)json_object_set_new(ev, "detector",
				  json_string(g->detector == FDW_GROWTH_FAST ? "fast" : "slow"));
	(void)json_object_set_new(ev, "fds", json_integer(t->nopen));
	(void)json_object_set_new(ev, "from_fds", json_integer(st->growth.base));
	(void)json_object_set_new(ev, "peak_fds", json_integer(st->growth.peak));
	(void)json_object_set_new(ev, "window_s", json_real(g->window_s));
	(void)json_object_set_new(ev, "rate_per_min", json_real(g->rate_per_s * 60));
	(void)json_object_set_new(ev, "fit_r2", json_real(g->r2));
	(void)json_object_set_new(ev, "rising_fraction", json_real(g->rising));
	leak_evidence_limits(ev, st);
	(void)json_object_set_new(ev, "seconds_to_limit", leak_json_num(eta >= 0, eta));
	(void)json_object_set_new(ev, "growing_since_s",
				  json_real(leak_age_s(st->growth.since, now)));
	(void)json_object_set_new(ev, "stacks_captured", json_boolean(st->stacks.watching));
	growth_series(ev, l, st);
	leak_evidence_sites(l, st, t, st->growth.since, now, ev, top, toplen);
	return ev;
}

/* The figures that change every tick, in the alert and in its evidence
 * (what `fdwatch leaks` shows: a rate and a projection frozen at the last
 * refresh once the growth stopped misled) */
static void growth_live(struct fdw_alert *a, const struct fdw_table *t, double rate, double eta)
{
	a->rate_per_s = rate;
	a->eta_s = eta;
	if (!a->evidence)
		return;
	(void)json_object_set_new(a->evidence, "fds", json_integer(t->nopen));
	(void)json_object_set_new(a->evidence, "rate_per_min", json_real(rate * 60));
	(void)json_object_set_new(a->evidence, "seconds_to_limit", leak_json_num(eta >= 0, eta));
}

static void growth_fire(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			const struct fdw_table *t, uint64_t now, double now_real)
{
	const struct fdw_growth *g = &st->growth.growth;
	double eta = growth_eta(st, t->nopen, g->rate_per_s);
	struct fdw_alert *a = leak_alert_fresh(l, &st->growth.alert, now, now_real);
	char summary[512], top[320], w[32], e[32];
	json_t *ev;

	if (!a) {
		ev = growth_evidence(l, st, t, eta, now, top, sizeof(top));
		if (!ev)
			return;
		leak_fmt_duration(g->window_s, w, sizeof(w));
		leak_fmt_duration(eta, e, sizeof(e));
		snprintf(summary, sizeof(summary),
			 "open fds grew %u -> %u in %s (%.1f/min, %s trend, R2 %.2f)%s%s%s%s",
			 g->from, g->to, w, g->rate_per_s * 60,
			 g->detector == FDW_GROWTH_FAST ? "fast" : "slow", g->r2,
			 eta >= 0 ? "; soft limit in ~" : "", eta >= 0 ? e : "",
			 top[0] ? FDW_LEAK_TOP_SITE : "", top);
		a = leak_alert_fire(l, &st->growth.alert, FDW_ALERT_GROWTH, p, st, now, now_real,
				    summary, ev);
		if (!a)
			return;
	}
	/* between evidence refreshes, the figures only */
	growth_live(a, t, g->rate_per_s, eta);
}

/* Firing but not growing now: resolved once half the growth was released,
 * or after growth_quiet without growth. */
static void growth_settle(struct fdw_leaks *l, struct leak_proc *st, struct fdw_alert *a,
			  const struct fdw_table *t, double now_real)
{
	struct leak_growth *gs = &st->growth;
	char q[32];

	/* no rate, no projection */
	growth_live(a, t, 0, -1);
	if (t->nopen > gs->peak)
		gs->peak = t->nopen;
	if (gs->peak > gs->base && t->nopen <= gs->base + (gs->peak - gs->base) / 2) {
		leak_alert_resolve(l, &gs->alert, now_real,
				   "fds released: %u open (peak %u, %u before the growth)", t->nopen,
				   gs->peak, gs->base);
	} else if (now_real - fmax(a->last_seen, l->started_real) >= l->cfg.growth_quiet) {
		leak_fmt_duration(l->cfg.growth_quiet, q, sizeof(q));
		leak_alert_resolve(l, &gs->alert, now_real,
				   "stopped growing: %u fds open, no growth for %s", t->nopen, q);
	}
}

static void growth_tick(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			const struct fdw_table *t, uint64_t now, double now_real)
{
	struct leak_growth *gs = &st->growth;
	struct fdw_alert *a = leak_alert_current(l, &gs->alert);

	/* -ENOMEM: the sample is lost, the trend goes on from the others */
	(void)fdw_leak_series_push(&gs->series, &l->cfg, t->nopen);
	gs->growing = fdw_leak_growth(&l->cfg, &gs->series, &gs->growth);
	if (gs->growing || gs->growth.suspect)
		gs->suspect_ts = now;
	if (gs->growing) {
		if (!a) {
			gs->since = now - (uint64_t)(gs->growth.window_s * 1e9);
			if (gs->since > now)
				gs->since = 0;
			gs->base = gs->growth.from;
			gs->peak = t->nopen;
		}
		if (t->nopen > gs->peak)
			gs->peak = t->nopen;
		leak_watch(l, st, true);
		growth_fire(l, p, st, t, now, now_real);
		return;
	}
	if (gs->growth.suspect)
		leak_watch(l, st, true);
	else if (st->stacks.watching && !a &&
		 now - gs->suspect_ts > UNWATCH_AFTER_S * FDW_NSEC_PER_SEC)
		leak_watch(l, st, false);
	if (a)
		growth_settle(l, st, a, t, now_real);
}

/* An alert from before a restart: its growth started before this tick. */
static void growth_new(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	struct fdw_alert *a = leak_alert_adopt(l, &st->growth.alert, FDW_ALERT_GROWTH, st);

	if (!a)
		return;
	st->growth.base = (uint32_t)json_integer_value(json_object_get(a->evidence, "from_fds"));
	st->growth.since = now;
}

const struct fdw_detector leak_growth_detector = {
	.name = "growth",
	.on_proc_new = growth_new,
	.on_tick = growth_tick,
};
