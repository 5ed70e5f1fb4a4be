// SPDX-License-Identifier: LGPL-2.1-or-later
/* Leak detectors: see leaks.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "capture/capture.h"
#include "detect/leaks.h"
#include "sys/pidinfo.h"
#include "base/json.h"
#include "sys/symbolize.h"
#include "capture/syscalls.h"

#define NS 1000000000ull
#define EXEC_FDS_MAX 64	      /* exec-leaked fds remembered per exec */
#define SITES_INTERNAL_MAX 4096 /* distinct sites while grouping one table */
#define STACK_FRAMES_SHOWN 16
#define UNWATCH_AFTER_S 120    /* stack capture ends this long after suspicion */
#define REVIEW_EVERY 5	      /* ticks between checks of firing alerts' processes */

/* ---- configuration ------------------------------------------------------- */

void fdw_leak_config_default(struct fdw_leak_config *c)
{
	*c = (struct fdw_leak_config){
		.fast_window = 30,
		.fast_min_samples = 15,
		/* the fast detector is for tens of fds a second; slower trends
		 * are the slow detector's, whose per-interval minima ignore the
		 * connections a loaded server opens and closes (a server ramping
		 * up at ~2 fds/s for half a minute is no leak) */
		.fast_min_rate = 5.0,
		.fast_min_rise = 60,
		.slow_interval = 60,
		.slow_window = 60,
		.slow_min_samples = 10,
		.slow_min_rate = 1.0,
		.slow_min_rise = 20,
		.min_fit = 0.8,
		.min_rising = 0.5,
		.growth_quiet = 300,
		.exhaustion_ratio = 0.9,
		.limit_refresh = 10,
		.limit_quiet = 60,
		.exec_leaks = true,
		.exec_min_age = 10,
		.evidence_refresh = 10,
		.max_procs = 65536,
		.max_watch = 64,
		.max_stacks = 4096,
		.max_sites = 16,
		.sample_fds = 4,
	};
}

enum { T_UINT, T_DOUBLE, T_BOOL };

static const struct setting {
	const char *name;
	int type;
	size_t off;
	double min, max;
} settings[] = {
#define U(n, lo, hi) { #n, T_UINT, offsetof(struct fdw_leak_config, n), lo, hi }
#define D(n, lo, hi) { #n, T_DOUBLE, offsetof(struct fdw_leak_config, n), lo, hi }
	U(fast_window, 4, FDW_LEAK_FINE),
	U(fast_min_samples, 4, FDW_LEAK_FINE),
	D(fast_min_rate, 0.001, 1e9),
	U(fast_min_rise, 1, 1e9),
	U(slow_interval, 1, 86400),
	U(slow_window, 4, FDW_LEAK_COARSE),
	U(slow_min_samples, 4, FDW_LEAK_COARSE),
	D(slow_min_rate, 0.001, 1e9),
	U(slow_min_rise, 1, 1e9),
	D(min_fit, 0, 1),
	D(min_rising, 0, 1),
	U(growth_quiet, 1, 86400 * 7),
	D(exhaustion_ratio, 0.01, 1),
	U(limit_refresh, 1, 86400),
	U(limit_quiet, 1, 86400 * 7),
	{ "exec_leaks", T_BOOL, offsetof(struct fdw_leak_config, exec_leaks), 0, 1 },
	U(exec_min_age, 0, 86400),
	U(evidence_refresh, 1, 86400),
	U(max_procs, 1, 1 << 24),
	U(max_watch, 0, 256),
	U(max_stacks, 1, 1 << 20),
	U(max_sites, 1, 1024),
	U(sample_fds, 0, FDW_SITE_SAMPLES),
#undef U
#undef D
};

int fdw_leak_config_set(struct fdw_leak_config *c, const char *kv)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	char *end;
	double v;

	if (!eq || eq == kv || !eq[1])
		return -EINVAL;
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const struct setting *s = &settings[i];

		if (strlen(s->name) != (size_t)(eq - kv) || memcmp(s->name, kv, (size_t)(eq - kv)))
			continue;
		errno = 0;
		v = strtod(eq + 1, &end);
		if (errno || *end || end == eq + 1 || !isfinite(v) || v < s->min || v > s->max)
			return -EINVAL;
		switch (s->type) {
		case T_UINT:
			if (v != floor(v))
				return -EINVAL;
			*(unsigned int *)((char *)c + s->off) = (unsigned int)v;
			break;
		case T_DOUBLE:
			*(double *)((char *)c + s->off) = v;
			break;
		case T_BOOL:
			if (v != 0 && v != 1)
				return -EINVAL;
			*(bool *)((char *)c + s->off) = v != 0;
			break;
		}
		if (c->fast_min_samples > c->fast_window)
			c->fast_min_samples = c->fast_window;
		if (c->slow_min_samples > c->slow_window)
			c->slow_min_samples = c->slow_window;
		return 0;
	}
	return -EINVAL;
}

int fdw_leak_config_print(const struct fdw_leak_config *c, char *buf, size_t len)
{
	size_t n = sizeof(settings) / sizeof(settings[0]), o = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct setting *s = &settings[i];
		const char *p = (const char *)c + s->off;
		char val[32];
		int r;

		if (s->type == T_UINT)
			snprintf(val, sizeof(val), "%u", *(const unsigned int *)p);
		else if (s->type == T_DOUBLE)
			snprintf(val, sizeof(val), "%g", *(const double *)p);
		else
			snprintf(val, sizeof(val), "%d", *(const bool *)p ? 1 : 0);
		r = snprintf(o < len ? buf + o : NULL, o < len ? len - o : 0, "%s%s=%s",
			     i ? " " : "", s->name, val);
		if (r < 0)
			return -EINVAL;
		o += (size_t)r;
	}
	return o > INT_MAX ? -EOVERFLOW : (int)o;
}

/* ---- the growth detector --------------------------------------------------- */

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

/* The last k values of a ring, oldest first. */
static unsigned int ring_last(const uint32_t *ring, unsigned int cap, unsigned int n,
			      unsigned int head, unsigned int k, uint32_t *out)
{
	if (k > n)
		k = n;
	for (unsigned int i = 0; i < k; i++)
		out[i] = ring[(head + cap - k + i) % cap];
	return k;
}

void fdw_leak_series_push(struct fdw_leak_series *s, const struct fdw_leak_config *c,
			  uint32_t nopen)
{
	s->fine[s->fine_head] = nopen;
	s->fine_head = (s->fine_head + 1) % FDW_LEAK_FINE;
	if (s->fine_n < FDW_LEAK_FINE)
		s->fine_n++;
	if (!s->floor_samples || nopen < s->floor)
		s->floor = nopen;
	if (++s->floor_samples >= c->slow_interval) {
		s->coarse[s->coarse_head] = s->floor;
		s->coarse_head = (s->coarse_head + 1) % FDW_LEAK_COARSE;
		if (s->coarse_n < FDW_LEAK_COARSE)
			s->coarse_n++;
		s->floor_samples = 0;
	}
	s->samples++;
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
	n = ring_last(s->fine, FDW_LEAK_FINE, s->fine_n, s->fine_head, c->fast_window, buf);
	fdw_trend_fit(buf, n, &t);
	if (n >= c->fast_min_samples &&
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
	n = ring_last(s->coarse, FDW_LEAK_COARSE, s->coarse_n, s->coarse_head, c->slow_window,
		      buf);
	fdw_trend_fit(buf, n, &t);
	if (n >= c->slow_min_samples &&
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
	if (n >= 3 && n * 2 >= c->slow_min_samples &&
	    t.slope >= c->slow_min_rate * c->slow_interval / 120.0 &&
	    (double)t.last - t.first >= c->slow_min_rise / 2.0 && t.rising >= c->min_rising &&
	    t.r2 >= c->min_fit * 0.75)
		g->suspect = true;
	return false;
}

/* ---- leak sites --------------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Numbers that stand alone (between non-letters: "file-12.log", "[4711]",
 * "/proc/42/") vary from one fd to the next of the same site; digits inside
 * a word ("libfoo2", a hex hash) are part of a name and stay.
 */
void fdw_leak_pattern(const char *target, char *out, size_t len)
{
	const char *s = target ? target : "unknown";
	size_t o = 0;

	if (!len)
		return;
	for (const char *p = s; *p && o + 1 < len; p++) {
		const char *e = p;

		if (!is_digit(*p)) {
			out[o++] = *p;
			continue;
		}
		/* a whole run of digits, alone or part of a word */
		while (is_digit(e[1]))
			e++;
		if ((p == s || !is_alpha(p[-1])) && !is_alpha(e[1])) {
			out[o++] = '*';
		} else {
			for (const char *q = p; q <= e && o + 1 < len; q++)
				out[o++] = *q;
		}
		p = e;
	}
	out[o] = '\0';
}

struct site_acc {
	struct fdw_leak_site s;
	uint64_t hash;
	struct site_acc *next; /* same hash bucket */
};

static int cmp_site(const void *x, const void *y, void *ctx)
{
	const struct fdw_leak_site *a = *(const struct fdw_leak_site *const *)x;
	const struct fdw_leak_site *b = *(const struct fdw_leak_site *const *)y;
	uint64_t since = *(const uint64_t *)ctx;

	if (since && a->recent != b->recent)
		return a->recent > b->recent ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	/* older first; unknown (0) last */
	if (a->oldest_ts != b->oldest_ts) {
		if (!a->oldest_ts || !b->oldest_ts)
			return a->oldest_ts ? -1 : 1;
		return a->oldest_ts < b->oldest_ts ? -1 : 1;
	}
	return strcmp(a->pattern, b->pattern);
}

static void site_add_fd(struct fdw_leak_site *s, int fd, const struct fdw_slot *sl,
			uint64_t since, uint32_t stack)
{
	uint64_t ts = sl->origin.ts;

	s->count++;
	if (since && ts >= since)
		s->recent++;
	if (ts && (!s->oldest_ts || ts < s->oldest_ts))
		s->oldest_ts = ts;
	if (ts > s->newest_ts)
		s->newest_ts = ts;
	if (s->nsamples < FDW_SITE_SAMPLES)
		s->samples[s->nsamples++] = fd;
	if (!stack) {
		s->without_stack++;
		return;
	}
	for (unsigned int i = 0; i < s->nstacks; i++)
		if (s->stacks[i].stack == stack) {
			s->stacks[i].count++;
			return;
		}
	if (s->nstacks < FDW_SITE_STACKS) {
		s->stacks[s->nstacks].stack = stack;
		s->stacks[s->nstacks].count = 1;
		s->nstacks++;
	} else {
		s->other_stacks++;
	}
}

int fdw_leak_sites(const struct fdw_table *t, uint64_t since, fdw_leak_stack_fn stack_of,
		   void *userdata, unsigned int max, struct fdw_leak_site **out, size_t *n,
		   uint64_t *dropped)
{
	struct fdw_hashmap buckets;
	struct site_acc **all = NULL;
	struct fdw_leak_site *res = NULL, **order = NULL;
	size_t nall = 0, cap = 0, keep;
	uint64_t over = 0;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (dropped)
		*dropped = 0;
	if (!t)
		return 0;
	fdw_hashmap_init(&buckets);
	for (uint32_t fd = 0; fd < t->nslots; fd++) {
		const struct fdw_slot *sl = t->slots[fd];
		const struct fdw_ofd *o;
		struct site_acc *a, *head;
		char pattern[256];
		uint64_t h;

		if (!fdw_slot_open(sl))
			continue;
		o = sl->ofd;
		fdw_leak_pattern(o->target ? o->target : o->path_arg, pattern, sizeof(pattern));
		h = fdw_fnv(FDW_FNV_OFFSET, &sl->origin.nr, sizeof(sl->origin.nr));
		h = fdw_fnv(h, &o->origin.nr, sizeof(o->origin.nr));
		h = fdw_fnv(h, &sl->origin.source, 1);
		h = fdw_fnv(h, sl->origin.comm, strnlen(sl->origin.comm, sizeof(sl->origin.comm)));
		h = fdw_fnv(h, pattern, strlen(pattern));
		head = fdw_hashmap_get(&buckets, h);
		for (a = head; a; a = a->next)
			if (a->s.nr == sl->origin.nr && a->s.ofd_nr == o->origin.nr &&
			    a->s.source == sl->origin.source &&
			    !strncmp(a->s.comm, sl->origin.comm, sizeof(a->s.comm)) &&
			    !strcmp(a->s.pattern, pattern))
				break;
		if (!a) {
			if (nall >= SITES_INTERNAL_MAX) {
				over++;
				continue;
			}
			if (nall == cap) {
				size_t nc = cap ? cap * 2 : 32;
				struct site_acc **na = realloc(all, nc * sizeof(*na));

				if (!na) {
					r = -ENOMEM;
					goto out;
				}
				all = na;
				cap = nc;
			}
			a = calloc(1, sizeof(*a));
			if (!a) {
				r = -ENOMEM;
				goto out;
			}
			a->s.nr = sl->origin.nr;
			a->s.ofd_nr = o->origin.nr;
			a->s.source = sl->origin.source;
			memcpy(a->s.comm, sl->origin.comm, sizeof(a->s.comm));
			a->s.comm[sizeof(a->s.comm) - 1] = '\0';
			snprintf(a->s.pattern, sizeof(a->s.pattern), "%s", pattern);
			a->s.type = fdw_fd_type_name(o->mode, o->target);
			a->hash = h;
			a->next = head;
			if (fdw_hashmap_put(&buckets, h, a) < 0) {
				free(a);
				r = -ENOMEM;
				goto out;
			}
			all[nall++] = a;
		}
		site_add_fd(&a->s, (int)fd, sl, since,
			    stack_of ? stack_of(userdata, (int)fd, sl) : 0);
	}
	order = malloc((nall + 1) * sizeof(*order));
	if (!order) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nall; i++)
		order[i] = &all[i]->s;
	qsort_r(order, nall, sizeof(*order), cmp_site, &since);
	keep = nall < max ? nall : max;
	res = calloc(keep + 1, sizeof(*res));
	if (!res) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < keep; i++)
		res[i] = *order[i];
	*out = res;
	*n = keep;
	if (dropped)
		*dropped = over + (nall - keep);
out:
	for (size_t i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	free(order);
	fdw_hashmap_free(&buckets);
	return r;
}

/* ---- per-process state ------------------------------------------------------------ */

struct leak_stack {
	uint32_t id; /* stack id + 1, as events carry it */
	uint32_t refs;
	uint32_t pid;
	unsigned int n;
	uint64_t ips[FDW_STACK_DEPTH];
	char **names; /* symbolized lazily */
};

struct exec_fd {
	int fd;
	uint64_t ofd; /* the model's OFD id; 0: any (recovered from the state file) */
};

#define EXEC_CHILDREN 8

struct exec_child {
	uint32_t pid;
	char comm[16];
	uint64_t ts;
	unsigned int nfds;
};

struct leak_proc {
	uint32_t pid;
	uint64_t start_ticks;
	double start_time;
	uint64_t exec_count;
	uint64_t created;
	struct fdw_leak_series series;
	/* RLIMIT_NOFILE */
	uint64_t soft, hard, limit_ts;
	bool limit_known;
	/* systemd unit */
	char unit[128];
	bool unit_known;
	/* growth */
	struct fdw_growth growth;
	bool growing;
	uint64_t growth_alert;
	uint64_t growth_since; /* CLOCK_MONOTONIC of the growth window's start */
	uint32_t growth_base, growth_peak;
	uint64_t growth_evidence_ts;
	uint64_t suspect_ts;
	/* exhaustion */
	uint64_t exhaust_alert, exhaust_evidence_ts;
	/* EMFILE / ENFILE */
	uint64_t fails, fails_reported, last_fail, limit_evidence_ts;
	int last_fail_errno;
	uint16_t last_fail_nr;
	uint32_t last_fail_tid;
	uint64_t limit_alert;
	/* leaks into children: fds of this process that went through exec into
	 * the programs it runs (inherited by fork, then not closed on exec) */
	struct exec_fd exec_fds[EXEC_FDS_MAX];
	unsigned int n_exec_fds;
	json_t *exec_leaked; /* their provenance, as the child saw them */
	struct exec_child children[EXEC_CHILDREN]; /* ring, the newest last */
	unsigned int children_head, nchildren;
	uint64_t children_total, exec_seq;
	uint64_t exec_pending_since;
	bool exec_pending;
	uint64_t exec_alert;
	/* stacks */
	bool watching, watch_refused;
	struct fdw_hashmap fdstacks; /* fd -> (generation << 32 | stack) */
	struct fdw_symbolizer *sym;
	bool sym_failed;
};

struct fdw_leaks {
	struct fdw_leak_config cfg;
	struct fdw_model *m;
	struct fdw_alerts *alerts;
	struct fdw_capture *capture;
	struct fdw_leak_ops ops;
	struct fdw_hashmap stacks; /* stack id+1 -> struct leak_stack */
	struct fdw_leak_stats stats;
	double started_real;
	uint64_t last_mono;
	double last_real;
};

/* ---- the real system ----------------------------------------------------------------- */

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

/* ---- stacks -------------------------------------------------------------------------- */

static void stack_free(struct leak_stack *s)
{
	if (!s)
		return;
	for (unsigned int i = 0; s->names && i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s);
}

static struct leak_stack *stack_ref(struct fdw_leaks *l, uint32_t id, uint32_t pid)
{
	struct leak_stack *s = fdw_hashmap_get(&l->stacks, id);
	int n;

	if (s) {
		s->refs++;
		return s;
	}
	if (!l->capture || fdw_hashmap_size(&l->stacks) >= l->cfg.max_stacks) {
		l->stats.dropped_stacks++;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	n = fdw_capture_read_stack(l->capture, id, s->ips, FDW_STACK_DEPTH);
	if (n <= 0 || fdw_hashmap_put(&l->stacks, id, s) < 0) {
		l->stats.dropped_stacks++;
		free(s);
		return NULL;
	}
	s->id = id;
	s->n = (unsigned int)n;
	s->pid = pid;
	s->refs = 1;
	l->stats.stacks = fdw_hashmap_size(&l->stacks);
	return s;
}

static void stack_unref(struct fdw_leaks *l, uint32_t id)
{
	struct leak_stack *s = fdw_hashmap_get(&l->stacks, id);

	if (!s || --s->refs > 0)
		return;
	(void)fdw_hashmap_remove(&l->stacks, id);
	/* the kernel's map is bounded too: forget it there as well */
	fdw_capture_drop_stack(l->capture, id);
	stack_free(s);
	l->stats.stacks = fdw_hashmap_size(&l->stacks);
}

static inline void *pack_fdstack(uint32_t generation, uint32_t stack)
{
	return (void *)(uintptr_t)(((uint64_t)generation << 32) | stack);
}

static void fdstack_forget(struct fdw_leaks *l, struct leak_proc *st, int fd)
{
	void *v;

	if (!fdw_hashmap_size(&st->fdstacks))
		return;
	v = fdw_hashmap_remove(&st->fdstacks, (uint64_t)fd);
	if (v)
		stack_unref(l, (uint32_t)(uintptr_t)v);
}

static void watch(struct fdw_leaks *l, struct leak_proc *st, bool on)
{
	if (!l->capture || st->watching == on)
		return;
	if (on) {
		if (l->stats.watching >= l->cfg.max_watch ||
		    fdw_capture_watch_stacks(l->capture, st->pid, true) < 0) {
			if (!st->watch_refused)
				l->stats.dropped_watch++;
			st->watch_refused = true;
			return;
		}
		st->watching = true;
		l->stats.watching++;
	} else {
		(void)fdw_capture_watch_stacks(l->capture, st->pid, false);
		st->watching = false;
		l->stats.watching--;
		/* its stacks are named already; the ELF files need not stay open */
		fdw_symbolizer_free(st->sym);
		st->sym = NULL;
		st->sym_failed = false;
	}
}

/* ---- state lifecycle ----------------------------------------------------------------- */

static void state_free(struct fdw_leaks *l, struct leak_proc *st)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	if (!st)
		return;
	watch(l, st, false);
	while (fdw_hashmap_next(&st->fdstacks, &it, &key, &v))
		stack_unref(l, (uint32_t)(uintptr_t)v);
	fdw_hashmap_free(&st->fdstacks);
	fdw_symbolizer_free(st->sym);
	json_decref(st->exec_leaked);
	free(st);
	l->stats.procs--;
}

static uint64_t firing_id(struct fdw_leaks *l, enum fdw_alert_kind k, const struct leak_proc *st)
{
	struct fdw_alert *a = fdw_alerts_find_firing(l->alerts, k, st->pid, st->start_ticks);

	return a ? a->id : 0;
}

/* Alerts that fire for this process from before a restart: adopt them. */
static void adopt_alerts(struct fdw_leaks *l, struct leak_proc *st, uint32_t nopen, uint64_t now)
{
	struct fdw_alert *a;

	st->growth_alert = firing_id(l, FDW_ALERT_GROWTH, st);
	if (st->growth_alert) {
		a = fdw_alerts_get(l->alerts, st->growth_alert);
		st->growth_base = (uint32_t)json_integer_value(
			json_object_get(a->evidence, "from_fds"));
		st->growth_peak = nopen;
		st->growth_since = now;
	}
	st->exhaust_alert = firing_id(l, FDW_ALERT_EXHAUSTION, st);
	st->limit_alert = firing_id(l, FDW_ALERT_LIMIT_HIT, st);
	if (st->limit_alert)
		st->last_fail = now;
	st->exec_alert = firing_id(l, FDW_ALERT_EXEC_LEAK, st);
	if (st->exec_alert) {
		const json_t *arr, *o;
		size_t i;

		a = fdw_alerts_get(l->alerts, st->exec_alert);
		arr = json_object_get(a->evidence, "leaked");
		json_array_foreach(arr, i, o) {
			if (st->n_exec_fds >= EXEC_FDS_MAX)
				break;
			st->exec_fds[st->n_exec_fds].fd =
				(int)json_integer_value(json_object_get(o, "fd"));
			st->exec_fds[st->n_exec_fds].ofd = 0; /* ids do not survive a restart */
			st->n_exec_fds++;
		}
		st->exec_leaked = json_is_array(arr) ? json_deep_copy(arr) : NULL;
	}
}

static struct leak_proc *state_get(struct fdw_leaks *l, struct fdw_proc *p, uint64_t now)
{
	struct leak_proc *st = p->detect;
	uint64_t ticks;

	if (st)
		return st;
	if (l->stats.procs >= l->cfg.max_procs) {
		l->stats.dropped_procs++;
		return NULL;
	}
	if (l->ops.read_start(l->ops.userdata, p->pid, &ticks) < 0)
		return NULL; /* gone already */
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->pid = p->pid;
	st->start_ticks = ticks;
	st->start_time = fdw_boot_time() + (double)ticks / fdw_clk_tck();
	st->exec_count = p->exec_count;
	st->created = now;
	fdw_hashmap_init(&st->fdstacks);
	p->detect = st;
	l->stats.procs++;
	adopt_alerts(l, st, 0, now);
	return st;
}

static struct fdw_alert_proc alert_proc(const struct leak_proc *st, const struct fdw_proc *p)
{
	return (struct fdw_alert_proc){
		.pid = st->pid,
		.start_ticks = st->start_ticks,
		.start_time = st->start_time,
		.comm = p->comm,
	};
}

/* ---- evidence ------------------------------------------------------------------------ */

static void fmt_duration(double s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "?");
	else if (s < 120)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0fm", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%.1fh", s / 3600);
	else
		snprintf(buf, len, "%.1fd", s / 86400);
}

static json_t *jnum_or_null(bool known, double v)
{
	return known ? json_real(v) : json_null();
}

static json_t *syscall_json(uint16_t nr)
{
	return nr != FDW_SYS_UNKNOWN && fdw_syscall_name(nr) ? json_string(fdw_syscall_name(nr))
							      : json_null();
}

static double age_s(uint64_t ts, uint64_t now)
{
	return ts && now > ts ? (double)(now - ts) / 1e9 : 0;
}

static json_t *origin_json(const struct fdw_origin *o, uint64_t now)
{
	return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o}",
			 "syscall", syscall_json(o->nr),
			 "source", fdw_origin_source_name(o->source),
			 "pid", o->pid ? json_integer(o->pid) : json_null(),
			 "tid", o->tid ? json_integer(o->tid) : json_null(),
			 "comm", o->comm[0] ? fdw_json_bytes(o->comm) : json_null(),
			 "from_fd", o->from_fd >= 0 ? json_integer(o->from_fd) : json_null(),
			 "age_s", jnum_or_null(o->ts != 0, age_s(o->ts, now)));
}

/* One fd with where it (and its open file description) came from. */
static json_t *slot_json(int fd, const struct fdw_slot *s, uint64_t now)
{
	const struct fdw_ofd *o = fdw_slot_open(s) ? s->ofd : NULL;

	if (!o)
		return json_pack("{s:i, s:n}", "fd", fd, "target");
	return json_pack("{s:i, s:o, s:s, s:b, s:I, s:o, s:o}",
			 "fd", fd,
			 "target", fdw_json_bytes(o->target ? o->target : o->path_arg),
			 "type", fdw_fd_type_name(o->mode, o->target),
			 "cloexec", s->cloexec,
			 "ofd", (json_int_t)o->id,
			 "origin", origin_json(&s->origin, now),
			 "opened_by", origin_json(&o->origin, now));
}

static json_t *fd_json(const struct fdw_table *t, int fd, uint64_t now)
{
	return slot_json(fd, fdw_table_slot(t, fd), now);
}

static void stack_names(struct fdw_leaks *l, struct leak_stack *s, struct leak_proc *st)
{
	char buf[512];

	if (s->names)
		return;
	s->names = calloc(s->n, sizeof(*s->names));
	if (!s->names)
		return;
	if (st && st->pid == s->pid && !st->sym && !st->sym_failed)
		st->sym_failed = fdw_symbolizer_new(st->pid, &st->sym) < 0;
	for (unsigned int i = 0; i < s->n; i++) {
		(void)fdw_symbolize(st && st->pid == s->pid ? st->sym : NULL, s->ips[i], i > 0,
				    buf, sizeof(buf));
		s->names[i] = strdup(buf);
	}
}

static uint32_t stack_of_fd(void *u, int fd, const struct fdw_slot *s)
{
	struct leak_proc *st = u;
	uintptr_t v;

	if (!st || !fdw_hashmap_size(&st->fdstacks))
		return 0;
	v = (uintptr_t)fdw_hashmap_get(&st->fdstacks, (uint64_t)fd);
	if (!v || (uint32_t)((uint64_t)v >> 32) != s->generation)
		return 0;
	return (uint32_t)v;
}

static json_t *site_json(struct fdw_leaks *l, struct leak_proc *st, const struct fdw_table *t,
			 const struct fdw_leak_site *s, uint64_t since, uint64_t now)
{
	json_t *o, *samples = json_array(), *stacks = json_array();

	for (unsigned int i = 0; samples && i < s->nsamples && i < l->cfg.sample_fds; i++)
		(void)json_array_append_new(samples, fd_json(t, s->samples[i], now));
	for (unsigned int i = 0; stacks && i < s->nstacks; i++) {
		struct leak_stack *ls = fdw_hashmap_get(&l->stacks, s->stacks[i].stack);
		json_t *frames = json_array();

		if (!ls || !frames) {
			json_decref(frames);
			continue;
		}
		stack_names(l, ls, st);
		for (unsigned int f = 0; ls->names && f < ls->n && f < STACK_FRAMES_SHOWN; f++)
			if (ls->names[f])
				(void)json_array_append_new(frames, json_string(ls->names[f]));
		(void)json_array_append_new(stacks,
			json_pack("{s:I, s:o}", "count", (json_int_t)s->stacks[i].count,
				  "frames", frames));
	}
	o = json_pack("{s:o, s:o, s:s, s:o, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:I, s:I}",
		      "syscall", syscall_json(s->nr),
		      "opened_by", syscall_json(s->ofd_nr),
		      "source", fdw_origin_source_name(s->source),
		      "target", fdw_json_bytes(s->pattern),
		      "type", s->type ? s->type : "unknown",
		      "comm", s->comm[0] ? fdw_json_bytes(s->comm) : json_null(),
		      "count", (json_int_t)s->count,
		      "oldest_age_s", jnum_or_null(s->oldest_ts != 0, age_s(s->oldest_ts, now)),
		      "newest_age_s", jnum_or_null(s->newest_ts != 0, age_s(s->newest_ts, now)),
		      "sample_fds", samples ? samples : json_array(),
		      "stacks", stacks ? stacks : json_array(),
		      "other_stacks", (json_int_t)s->other_stacks,
		      "without_stack", (json_int_t)s->without_stack);
	if (o && since)
		(void)json_object_set_new(o, "recent", json_integer((json_int_t)s->recent));
	return o;
}

/* Sites of a table as a JSON array; the top one's one-line description. */
static json_t *sites_json(struct fdw_leaks *l, struct leak_proc *st, const struct fdw_table *t,
			  uint64_t since, uint64_t now, char *top, size_t toplen, uint64_t *ndropped)
{
	struct fdw_leak_site *sites = NULL;
	uint64_t dropped = 0;
	size_t n = 0;
	json_t *arr;

	if (top && toplen)
		top[0] = '\0';
	*ndropped = 0;
	if (fdw_leak_sites(t, since, stack_of_fd, st, l->cfg.max_sites, &sites, &n, &dropped) < 0)
		return json_array();
	l->stats.dropped_sites += dropped;
	*ndropped = dropped;
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		(void)json_array_append_new(arr, site_json(l, st, t, &sites[i], since, now));
	if (n && top && toplen) {
		const char *nr = fdw_syscall_name(sites[0].nr);
		const char *onr = fdw_syscall_name(sites[0].ofd_nr);

		if (sites[0].nr != FDW_SYS_UNKNOWN && sites[0].ofd_nr != sites[0].nr &&
		    sites[0].ofd_nr != FDW_SYS_UNKNOWN)
			snprintf(top, toplen, "%llu x %s of %s %s",
				 (unsigned long long)(since ? sites[0].recent : sites[0].count),
				 nr ? nr : "?", onr ? onr : "?", sites[0].pattern);
		else
			snprintf(top, toplen, "%llu x %s %s",
				 (unsigned long long)(since ? sites[0].recent : sites[0].count),
				 sites[0].nr != FDW_SYS_UNKNOWN && nr ? nr : "(found in /proc)",
				 sites[0].pattern);
	}
	free(sites);
	return arr ? arr : json_array();
}

static void set_limits(json_t *o, const struct leak_proc *st)
{
	bool known = st->limit_known && st->soft != (uint64_t)RLIM_INFINITY;

	(void)json_object_set_new(o, "limit_soft", known ? json_integer((json_int_t)st->soft)
							  : json_null());
	(void)json_object_set_new(o, "limit_hard",
				  st->limit_known && st->hard != (uint64_t)RLIM_INFINITY
					  ? json_integer((json_int_t)st->hard) : json_null());
}

static double growth_eta(const struct leak_proc *st, uint32_t nopen, double rate)
{
	if (!st->limit_known || st->soft == (uint64_t)RLIM_INFINITY || rate <= 0)
		return -1;
	if (nopen >= st->soft)
		return 0;
	return (double)(st->soft - nopen) / rate;
}

/* ---- the detectors, per process and tick ----------------------------------------------- */

static void refresh_limit(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	uint64_t soft, hard;

	if (st->limit_known && now - st->limit_ts < (uint64_t)l->cfg.limit_refresh * NS)
		return;
	st->limit_ts = now;
	if (l->ops.read_limit(l->ops.userdata, st->pid, &soft, &hard) == 0) {
		st->soft = soft;
		st->hard = hard;
		st->limit_known = true;
	}
}

static void fire_growth(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			const struct fdw_table *t, uint64_t now, double now_real, bool full)
{
	const struct fdw_growth *g = &st->growth;
	struct fdw_alert_proc ap = alert_proc(st, p);
	double eta = growth_eta(st, t->nopen, g->rate_per_s);
	char summary[512], top[320], w[32], e[32];
	struct fdw_alert *a = st->growth_alert ? fdw_alerts_get(l->alerts, st->growth_alert)
					       : NULL;
	uint64_t dropped;
	json_t *ev;

	if (a && a->state != FDW_ALERT_FIRING)
		a = NULL;
	if (a && !full) {
		/* between evidence refreshes: the figures only */
		a->last_seen = now_real;
		a->recovered = false;
		a->rate_per_s = g->rate_per_s;
		a->eta_s = eta;
		return;
	}
	ev = json_object();
	if (!ev)
		return;
	fmt_duration(g->window_s, w, sizeof(w));
	fmt_duration(eta, e, sizeof(e));
	(void)json_object_set_new(ev, "detector",
				  json_string(g->detector == FDW_GROWTH_FAST ? "fast" : "slow"));
	(void)json_object_set_new(ev, "fds", json_integer(t->nopen));
	(void)json_object_set_new(ev, "from_fds", json_integer(st->growth_base));
	(void)json_object_set_new(ev, "peak_fds", json_integer(st->growth_peak));
	(void)json_object_set_new(ev, "window_s", json_real(g->window_s));
	(void)json_object_set_new(ev, "rate_per_min", json_real(g->rate_per_s * 60));
	(void)json_object_set_new(ev, "fit_r2", json_real(g->r2));
	(void)json_object_set_new(ev, "rising_fraction", json_real(g->rising));
	set_limits(ev, st);
	(void)json_object_set_new(ev, "seconds_to_limit", jnum_or_null(eta >= 0, eta));
	(void)json_object_set_new(ev, "growing_since_s",
				  json_real(age_s(st->growth_since, now)));
	(void)json_object_set_new(ev, "stacks_captured", json_boolean(st->watching));
	(void)json_object_set_new(ev, "sites",
				  sites_json(l, st, t, st->growth_since, now, top, sizeof(top),
					     &dropped));
	(void)json_object_set_new(ev, "sites_dropped", json_integer((json_int_t)dropped));
	snprintf(summary, sizeof(summary),
		 "open fds grew %u -> %u in %s (%.1f/min, %s trend, R2 %.2f)%s%s%s%s%s",
		 g->from, g->to, w, g->rate_per_s * 60,
		 g->detector == FDW_GROWTH_FAST ? "fast" : "slow", g->r2,
		 eta >= 0 ? "; soft limit in ~" : "", eta >= 0 ? e : "",
		 top[0] ? "; top site: " : "", top, "");
	a = fdw_alerts_fire(l->alerts, FDW_ALERT_GROWTH, &ap, now_real, summary, ev);
	if (a) {
		a->rate_per_s = g->rate_per_s;
		a->eta_s = eta;
		st->growth_alert = a->id;
	}
	st->growth_evidence_ts = now;
}

static void check_growth(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			 const struct fdw_table *t, uint64_t now, double now_real)
{
	struct fdw_alert *a = st->growth_alert ? fdw_alerts_get(l->alerts, st->growth_alert)
					       : NULL;
	char why[256], q[32];

	if (a && a->state != FDW_ALERT_FIRING) {
		a = NULL;
		st->growth_alert = 0;
	}
	st->growing = fdw_leak_growth(&l->cfg, &st->series, &st->growth);
	if (st->growing || st->growth.suspect)
		st->suspect_ts = now;
	if (st->growing) {
		if (!a) {
			st->growth_since = now - (uint64_t)(st->growth.window_s * 1e9);
			if (st->growth_since > now)
				st->growth_since = 0;
			st->growth_base = st->growth.from;
			st->growth_peak = t->nopen;
		}
		if (t->nopen > st->growth_peak)
			st->growth_peak = t->nopen;
		watch(l, st, true);
		fire_growth(l, p, st, t, now, now_real,
			    !a || now - st->growth_evidence_ts >=
					  (uint64_t)l->cfg.evidence_refresh * NS);
		return;
	}
	if (st->growth.suspect)
		watch(l, st, true);
	else if (st->watching && !a && now - st->suspect_ts > UNWATCH_AFTER_S * NS)
		watch(l, st, false);
	if (!a)
		return;
	/* firing, but not growing now: no rate, no projection */
	a->rate_per_s = 0;
	a->eta_s = -1;
	if (t->nopen > st->growth_peak)
		st->growth_peak = t->nopen;
	if (st->growth_peak > st->growth_base &&
	    t->nopen <= st->growth_base + (st->growth_peak - st->growth_base) / 2) {
		snprintf(why, sizeof(why), "fds released: %u open (peak %u, %u before the growth)",
			 t->nopen, st->growth_peak, st->growth_base);
		fdw_alerts_resolve(l->alerts, a, now_real, why);
		st->growth_alert = 0;
	} else if (now_real - fmax(a->last_seen, l->started_real) >= l->cfg.growth_quiet) {
		fmt_duration(l->cfg.growth_quiet, q, sizeof(q));
		snprintf(why, sizeof(why), "stopped growing: %u fds open, no growth for %s",
			 t->nopen, q);
		fdw_alerts_resolve(l->alerts, a, now_real, why);
		st->growth_alert = 0;
	}
}

static void check_exhaustion(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			     const struct fdw_table *t, uint64_t now, double now_real)
{
	struct fdw_alert *a = st->exhaust_alert ? fdw_alerts_get(l->alerts, st->exhaust_alert)
						: NULL;
	double ratio;
	char summary[512], top[320], why[128];
	uint64_t dropped;
	json_t *ev;

	if (a && a->state != FDW_ALERT_FIRING) {
		a = NULL;
		st->exhaust_alert = 0;
	}
	if (!st->limit_known || st->soft == (uint64_t)RLIM_INFINITY || !st->soft)
		return;
	ratio = (double)t->nopen / (double)st->soft;
	if (ratio >= l->cfg.exhaustion_ratio) {
		if (a && now - st->exhaust_evidence_ts < (uint64_t)l->cfg.evidence_refresh * NS) {
			a->last_seen = now_real;
			a->recovered = false;
			return;
		}
		ev = json_object();
		if (!ev)
			return;
		(void)json_object_set_new(ev, "fds", json_integer(t->nopen));
		set_limits(ev, st);
		(void)json_object_set_new(ev, "ratio", json_real(ratio));
		(void)json_object_set_new(ev, "threshold", json_real(l->cfg.exhaustion_ratio));
		(void)json_object_set_new(ev, "sites", sites_json(l, st, t, 0, now, top,
								  sizeof(top), &dropped));
		(void)json_object_set_new(ev, "sites_dropped", json_integer((json_int_t)dropped));
		snprintf(summary, sizeof(summary),
			 "%u of %llu fds open (%.0f%% of the RLIMIT_NOFILE soft limit)%s%s",
			 t->nopen, (unsigned long long)st->soft, ratio * 100,
			 top[0] ? "; top site: " : "", top);
		{
			struct fdw_alert_proc ap = alert_proc(st, p);

			a = fdw_alerts_fire(l->alerts, FDW_ALERT_EXHAUSTION, &ap, now_real,
					    summary, ev);
		}
		if (a)
			st->exhaust_alert = a->id;
		st->exhaust_evidence_ts = now;
		return;
	}
	/* hysteresis: resolve clearly below the threshold */
	if (a && ratio < l->cfg.exhaustion_ratio - 0.05) {
		snprintf(why, sizeof(why), "%u of %llu fds open (%.0f%%)", t->nopen,
			 (unsigned long long)st->soft, ratio * 100);
		fdw_alerts_resolve(l->alerts, a, now_real, why);
		st->exhaust_alert = 0;
	}
}

static void check_limit_hits(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			     const struct fdw_table *t, uint64_t now, double now_real)
{
	struct fdw_alert *a = st->limit_alert ? fdw_alerts_get(l->alerts, st->limit_alert)
					      : NULL;
	const char *en = fdw_errno_name(st->last_fail_errno), *sn;
	char summary[512], top[320], why[128], q[32];
	uint64_t dropped;
	json_t *ev;

	if (a && a->state != FDW_ALERT_FIRING) {
		a = NULL;
		st->limit_alert = 0;
	}
	if (st->fails > st->fails_reported && a &&
	    now - st->limit_evidence_ts < (uint64_t)l->cfg.evidence_refresh * NS) {
		/* a process failing in a loop: count, do not regroup its table each time */
		(void)json_object_set_new(a->evidence, "failures",
					  json_integer((json_int_t)st->fails));
		a->last_seen = now_real;
		a->recovered = false;
		st->fails_reported = st->fails;
		return;
	}
	if (st->fails > st->fails_reported) {
		sn = fdw_syscall_name(st->last_fail_nr);
		ev = json_object();
		if (!ev)
			return;
		(void)json_object_set_new(ev, "failures", json_integer((json_int_t)st->fails));
		(void)json_object_set_new(ev, "errno", json_string(en ? en : "?"));
		(void)json_object_set_new(ev, "syscall", syscall_json(st->last_fail_nr));
		(void)json_object_set_new(ev, "tid", json_integer(st->last_fail_tid));
		(void)json_object_set_new(ev, "fds", json_integer(t->nopen));
		set_limits(ev, st);
		(void)json_object_set_new(ev, "sites", sites_json(l, st, t, 0, now, top,
								  sizeof(top), &dropped));
		(void)json_object_set_new(ev, "sites_dropped", json_integer((json_int_t)dropped));
		snprintf(summary, sizeof(summary),
			 "%s failed with %s (%llu time%s): %u fds open, soft limit %s%s%s",
			 sn ? sn : "a syscall", en ? en : "?", (unsigned long long)st->fails,
			 st->fails == 1 ? "" : "s", t->nopen,
			 st->limit_known && st->soft != (uint64_t)RLIM_INFINITY
				 ? (snprintf(q, sizeof(q), "%llu", (unsigned long long)st->soft), q)
				 : "unlimited",
			 top[0] ? "; top site: " : "", top);
		{
			struct fdw_alert_proc ap = alert_proc(st, p);

			a = fdw_alerts_fire(l->alerts, FDW_ALERT_LIMIT_HIT, &ap, now_real, summary,
					    ev);
		}
		if (a)
			st->limit_alert = a->id;
		st->fails_reported = st->fails;
		st->limit_evidence_ts = now;
		return;
	}
	if (a && now - st->last_fail >= (uint64_t)l->cfg.limit_quiet * NS) {
		fmt_duration(l->cfg.limit_quiet, q, sizeof(q));
		snprintf(why, sizeof(why), "no EMFILE/ENFILE for %s (%u fds open)", q, t->nopen);
		fdw_alerts_resolve(l->alerts, a, now_real, why);
		st->limit_alert = 0;
	}
}

static void exec_leaks_reset(struct leak_proc *st)
{
	st->n_exec_fds = 0;
	json_decref(st->exec_leaked);
	st->exec_leaked = NULL;
	st->nchildren = st->children_head = 0;
	st->children_total = 0;
}

static void check_exec_leaks(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			     const struct fdw_table *t, uint64_t now, double now_real)
{
	struct fdw_alert *a = st->exec_alert ? fdw_alerts_get(l->alerts, st->exec_alert) : NULL;
	const struct exec_child *last;
	unsigned int still = 0;
	char summary[768], why[160];
	size_t o = 0, i;
	const json_t *f;

	if (a && a->state != FDW_ALERT_FIRING) {
		a = NULL;
		st->exec_alert = 0;
	}
	if (st->exec_pending && !a &&
	    now - st->exec_pending_since < (uint64_t)l->cfg.exec_min_age * NS) {
		/* not yet: a shell that runs a command and exits is no news */
		return;
	}
	if (st->exec_pending) {
		json_t *ev = json_object(), *kids = json_array();
		struct fdw_alert_proc ap = alert_proc(st, p);

		st->exec_pending = false;
		if (!ev || !kids) {
			json_decref(ev);
			json_decref(kids);
			return;
		}
		for (unsigned int k = 0; k < st->nchildren; k++) {
			const struct exec_child *c =
				&st->children[(st->children_head + EXEC_CHILDREN - st->nchildren + k) %
					      EXEC_CHILDREN];

			(void)json_array_append_new(kids,
				json_pack("{s:I, s:o, s:f, s:i}", "pid", (json_int_t)c->pid,
					  "comm", fdw_json_bytes(c->comm), "age_s", age_s(c->ts, now),
					  "fds", (int)c->nfds));
		}
		last = &st->children[(st->children_head + EXEC_CHILDREN - 1) % EXEC_CHILDREN];
		o = (size_t)snprintf(summary, sizeof(summary),
				     "%u fd%s without close-on-exec went into %s it ran (%llu so "
				     "far, last %s[%u]):",
				     st->n_exec_fds, st->n_exec_fds == 1 ? "" : "s",
				     st->children_total == 1 ? "a program" : "programs",
				     (unsigned long long)st->children_total, last->comm, last->pid);
		json_array_foreach(st->exec_leaked, i, f) {
			const json_t *by = json_object_get(f, "opened_by");
			const char *sc = json_string_value(json_object_get(by, "syscall"));
			const char *cm = json_string_value(json_object_get(by, "comm"));

			if (i >= 4 || o >= sizeof(summary))
				break;
			o += (size_t)snprintf(summary + o, sizeof(summary) - o,
					      "%s fd %d %s (%s%s%s)", i ? "," : "",
					      (int)json_integer_value(json_object_get(f, "fd")),
					      json_string_value(json_object_get(f, "target")) ?: "?",
					      sc ? sc : "found in /proc", cm ? " by " : "",
					      cm ? cm : "");
		}
		if (json_array_size(st->exec_leaked) > 4 && o < sizeof(summary))
			snprintf(summary + o, sizeof(summary) - o, ", ...");
		(void)json_object_set_new(ev, "fds", json_integer(st->n_exec_fds));
		(void)json_object_set(ev, "leaked",
				      st->exec_leaked ? st->exec_leaked : json_array());
		(void)json_object_set_new(ev, "children_total",
					  json_integer((json_int_t)st->children_total));
		(void)json_object_set_new(ev, "children", kids);
		a = fdw_alerts_fire(l->alerts, FDW_ALERT_EXEC_LEAK, &ap, now_real, summary, ev);
		if (a)
			st->exec_alert = a->id;
		return;
	}
	if (!a)
		return;
	/* still leaking: the same open file description, still not cloexec */
	for (unsigned int k = 0; k < st->n_exec_fds; k++) {
		const struct fdw_slot *s = fdw_table_slot(t, st->exec_fds[k].fd);

		if (fdw_slot_open(s) && !s->cloexec &&
		    (!st->exec_fds[k].ofd || s->ofd->id == st->exec_fds[k].ofd))
			still++;
	}
	if (still) {
		a->last_seen = now_real;
		return;
	}
	snprintf(why, sizeof(why), "the leaked fd%s %s closed or close-on-exec now",
		 st->n_exec_fds == 1 ? "" : "s", st->n_exec_fds == 1 ? "is" : "are");
	fdw_alerts_resolve(l->alerts, a, now_real, why);
	st->exec_alert = 0;
	exec_leaks_reset(st);
}

static void tick_proc(struct fdw_leaks *l, struct fdw_proc *p, uint64_t now, double now_real)
{
	struct fdw_table *t = fdw_model_proc_table(l->m, p);
	struct leak_proc *st;

	if (!t)
		return;
	st = state_get(l, p, now);
	if (!st)
		return;
	if (st->exec_count != p->exec_count) {
		/* a new program: its trend starts again */
		st->exec_count = p->exec_count;
		memset(&st->series, 0, sizeof(st->series));
		st->unit_known = false;
		fdw_symbolizer_free(st->sym);
		st->sym = NULL;
		st->sym_failed = false;
	}
	fdw_leak_series_push(&st->series, &l->cfg, t->nopen);
	refresh_limit(l, st, now);
	check_growth(l, p, st, t, now, now_real);
	check_exhaustion(l, p, st, t, now, now_real);
	check_limit_hits(l, p, st, t, now, now_real);
	check_exec_leaks(l, p, st, t, now, now_real);
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
		st = p ? p->detect : NULL;
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
	while (fdw_hashmap_next(&l->m->procs, &it, &key, &v))
		tick_proc(l, v, now_mono, now_real);
	if (l->stats.ticks++ % REVIEW_EVERY == 0)
		review_alerts(l, now_real);
}

/* ---- model hooks -------------------------------------------------------------------- */

/*
 * An fd without close-on-exec survived the exec of `p`. The leak belongs to
 * the process that let it through: the parent when the fd came with the
 * fork (the usual spawn), else `p` itself (it opened the fd, then exec'd).
 * Noted now, while the child's table still shows where the fd came from
 * (short-lived children are gone by the next tick); reported at the tick.
 */
static void exec_leak_note(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			   int fd, const struct fdw_slot *slot)
{
	struct fdw_proc *owner = p;
	struct leak_proc *st;
	struct exec_child *c;

	if (slot->origin.source == FDW_SRC_INHERIT && p->ppid && p->ppid != p->pid) {
		struct fdw_proc *parent = fdw_model_proc(l->m, p->ppid);

		if (parent)
			owner = parent;
	}
	st = state_get(l, owner, ev->ts);
	if (!st)
		return;
	if (st->exec_seq != ev->seq) {
		/* the first fd of this exec: one more child */
		st->exec_seq = ev->seq;
		st->children_total++;
		c = &st->children[st->children_head];
		st->children_head = (st->children_head + 1) % EXEC_CHILDREN;
		if (st->nchildren < EXEC_CHILDREN)
			st->nchildren++;
		c->pid = p->pid;
		memcpy(c->comm, p->comm, sizeof(c->comm));
		c->ts = ev->ts;
		c->nfds = 0;
	}
	st->children[(st->children_head + EXEC_CHILDREN - 1) % EXEC_CHILDREN].nfds++;
	if (!st->exec_pending)
		st->exec_pending_since = ev->ts;
	st->exec_pending = true;
	for (unsigned int i = 0; i < st->n_exec_fds; i++)
		if (st->exec_fds[i].fd == fd &&
		    (!st->exec_fds[i].ofd || st->exec_fds[i].ofd == slot->ofd->id)) {
			st->exec_fds[i].ofd = slot->ofd->id;
			return; /* known already (an earlier child) */
		}
	if (st->n_exec_fds >= EXEC_FDS_MAX) {
		l->stats.dropped_exec_fds++;
		return;
	}
	st->exec_fds[st->n_exec_fds].fd = fd;
	st->exec_fds[st->n_exec_fds].ofd = slot->ofd->id;
	st->n_exec_fds++;
	if (!st->exec_leaked)
		st->exec_leaked = json_array();
	if (st->exec_leaked)
		(void)json_array_append_new(st->exec_leaked, slot_json(fd, slot, ev->ts));
}

void fdw_leaks_on_fd_event(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			   int kind, int fd, const struct fdw_slot *slot)
{
	struct leak_proc *st;

	if (!l || !p)
		return;
	st = p->detect;
	switch (kind) {
	case FDW_FDEV_OPEN:
		if (!st)
			return;
		if (ev->stack && st->watching && slot) {
			struct leak_stack *s = stack_ref(l, ev->stack, p->pid);
			void *old;

			if (!s) {
				fdstack_forget(l, st, fd);
				return;
			}
			old = fdw_hashmap_get(&st->fdstacks, (uint64_t)fd);
			if (fdw_hashmap_put(&st->fdstacks, (uint64_t)fd,
					    pack_fdstack(slot->generation, ev->stack)) < 0) {
				stack_unref(l, ev->stack);
				return;
			}
			if (old)
				stack_unref(l, (uint32_t)(uintptr_t)old);
		} else {
			fdstack_forget(l, st, fd);
		}
		break;
	case FDW_FDEV_CLOSE:
	case FDW_FDEV_CLOBBER:
		if (st)
			fdstack_forget(l, st, fd);
		break;
	case FDW_FDEV_FAIL:
		if (ev->ret != -EMFILE && ev->ret != -ENFILE)
			return;
		st = state_get(l, p, ev->ts);
		if (!st)
			return;
		st->fails++;
		st->last_fail = ev->ts > l->last_mono ? ev->ts : l->last_mono;
		st->last_fail_errno = (int)-ev->ret;
		st->last_fail_nr = ev->nr;
		st->last_fail_tid = ev->tid;
		break;
	case FDW_FDEV_EXEC_LEAK:
		if (!l->cfg.exec_leaks || fd <= 2 || !fdw_slot_open(slot))
			return;
		exec_leak_note(l, p, ev, fd, slot);
		break;
	}
}

void fdw_leaks_on_proc_exit(struct fdw_leaks *l, struct fdw_proc *p)
{
	struct leak_proc *st;

	if (!l || !p || !p->detect)
		return;
	st = p->detect;
	fdw_alerts_resolve_proc(l->alerts, st->pid, st->start_ticks,
				l->last_real ? l->last_real : (double)time(NULL), "process exited");
	state_free(l, st);
	p->detect = NULL;
}

/* ---- queries ------------------------------------------------------------------------ */

json_t *fdw_leaks_sites_json(struct fdw_leaks *l, struct fdw_proc *p)
{
	struct fdw_table *t;
	uint64_t dropped, now;
	char top[8];
	json_t *arr, *o;

	if (!l || !p)
		return NULL;
	t = fdw_model_proc_table(l->m, p);
	now = fdw_now_mono();
	arr = sites_json(l, p->detect, t, 0, now, top, sizeof(top), &dropped);
	o = json_pack("{s:o, s:I, s:b}", "sites", arr, "sites_dropped", (json_int_t)dropped,
		      "stacks_captured", p->detect && ((struct leak_proc *)p->detect)->watching);
	return o;
}

bool fdw_leaks_proc_info(struct fdw_leaks *l, struct fdw_proc *p, struct fdw_leak_procinfo *out)
{
	struct leak_proc *st = p ? p->detect : NULL;
	struct fdw_alert *a;

	memset(out, 0, sizeof(*out));
	out->unit = "";
	out->eta_s = -1;
	if (!l || !st)
		return false;
	if (!st->unit_known) {
		st->unit_known = true;
		(void)l->ops.read_unit(l->ops.userdata, st->pid, st->unit, sizeof(st->unit));
	}
	out->unit = st->unit;
	if (st->limit_known) {
		out->soft = st->soft;
		out->hard = st->hard;
	}
	a = st->growth_alert ? fdw_alerts_get(l->alerts, st->growth_alert) : NULL;
	if (a && a->state == FDW_ALERT_FIRING) {
		out->growing = true;
		out->rate_per_s = a->rate_per_s;
		out->eta_s = a->eta_s;
	}
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

/* ---- lifecycle ------------------------------------------------------------------------ */

int fdw_leaks_new(struct fdw_leaks **out, const struct fdw_leak_config *cfg,
		  struct fdw_model *m, struct fdw_alerts *alerts, struct fdw_capture *capture,
		  const struct fdw_leak_ops *ops)
{
	struct fdw_leaks *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	if (cfg)
		l->cfg = *cfg;
	else
		fdw_leak_config_default(&l->cfg);
	l->m = m;
	l->alerts = alerts;
	l->capture = capture;
	if (ops) {
		l->ops = *ops;
	} else {
		l->ops.read_limit = sys_read_limit;
		l->ops.read_start = sys_read_start;
		l->ops.read_unit = sys_read_unit;
	}
	fdw_hashmap_init(&l->stacks);
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
	while (fdw_hashmap_next(&l->m->procs, &it, &key, &v)) {
		struct fdw_proc *p = v;

		state_free(l, p->detect);
		p->detect = NULL;
	}
	/* what is left has no fd referring to it any more */
	it = 0;
	while (fdw_hashmap_next(&l->stacks, &it, &key, &v))
		stack_free(v);
	fdw_hashmap_free(&l->stacks);
	free(l);
}
