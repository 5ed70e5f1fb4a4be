// SPDX-License-Identifier: LGPL-2.1-or-later
/* The detectors' settings (--leak NAME=VALUE): see leaks.h. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "detect/leaks.h"

void fdw_leak_config_default(struct fdw_leak_config *c)
{
	*c = (struct fdw_leak_config){
		.fast_window = 30,
		.fast_min_samples = 30,
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
		/* matched against the creating thread's command, and the base
		 * name of its executable (a #! script's command is its name) */
		.exec_leak_shells = "bash,sh,dash,zsh,ksh,mksh,ash,busybox,fish,tcsh,csh",
		.evidence_refresh = 10,
		.races = true,
		.race_quiet = 3600,
		.max_race_procs = 1024,
		/* off: its read/write probes tax every read and write on the
		 * host once on, and any user's finding would turn them on */
		.race_deep = false,
		.max_deep = 64,
		/* the JDK's pre-close closes within milliseconds */
		.race_preclose_ms = 1000,
		.max_procs = 65536,
		.max_watch = 64,
		.max_stacks = 4096,
		.max_sites = 16,
		.sample_fds = 4,
	};
}

enum { T_UINT, T_DOUBLE, T_BOOL, T_LIST };

/*
 * live: the setting may change while the detectors run (a reload): a
 * threshold read where it is used. The others shape state already built
 * (the series' windows, the bounds of what is kept) and need a restart.
 */
static const struct setting {
	const char *name;
	int type;
	size_t off;
	double min, max;
	bool live;
} settings[] = {
#define U(n, lo, hi, lv) { #n, T_UINT, offsetof(struct fdw_leak_config, n), lo, hi, lv }
#define D(n, lo, hi, lv) { #n, T_DOUBLE, offsetof(struct fdw_leak_config, n), lo, hi, lv }
	U(fast_window, 4, FDW_LEAK_FINE, false),
	U(fast_min_samples, 4, FDW_LEAK_FINE, false),
	D(fast_min_rate, 0.001, 1e9, true),
	U(fast_min_rise, 1, 1e9, true),
	U(slow_interval, 1, 86400, false),
	U(slow_window, 4, FDW_LEAK_COARSE, false),
	U(slow_min_samples, 4, FDW_LEAK_COARSE, false),
	D(slow_min_rate, 0.001, 1e9, true),
	U(slow_min_rise, 1, 1e9, true),
	D(min_fit, 0, 1, true),
	D(min_rising, 0, 1, true),
	U(growth_quiet, 1, 86400 * 7, true),
	D(exhaustion_ratio, 0.01, 1, true),
	U(limit_refresh, 1, 86400, true),
	U(limit_quiet, 1, 86400 * 7, true),
	{ "exec_leaks", T_BOOL, offsetof(struct fdw_leak_config, exec_leaks), 0, 1, true },
	U(exec_min_age, 0, 86400, true),
	{ "exec_leak_shells", T_LIST, offsetof(struct fdw_leak_config, exec_leak_shells), 0,
	  FDW_LEAK_SHELLS_LEN - 1, true },
	U(evidence_refresh, 1, 86400, true),
	{ "races", T_BOOL, offsetof(struct fdw_leak_config, races), 0, 1, true },
	U(race_quiet, 1, 86400 * 7, true),
	U(max_race_procs, 1, 1 << 20, false),
	{ "race_deep", T_BOOL, offsetof(struct fdw_leak_config, race_deep), 0, 1, true },
	U(max_deep, 0, 256, false),
	U(race_preclose_ms, 0, 60000, true),
	U(max_procs, 1, 1 << 24, false),
	U(max_watch, 0, 256, false),
	U(max_stacks, 1, 1 << 20, false),
	U(max_sites, 1, 1024, true),
	U(sample_fds, 0, FDW_SITE_SAMPLES, true),
#undef U
#undef D
};

/*
 * A list of commands: names of 1 to 15 bytes (a command's length), no
 * space, '=' or control character, separated by commas; empty: none.
 */
static int set_list(char *dst, size_t size, const char *v)
{
	size_t n = strlen(v), run = 0;

	if (n >= size)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch == ',' || ch == '\0') {
			if (!run && n)
				return -EINVAL; /* an empty name */
			run = 0;
			continue;
		}
		if (ch <= ' ' || ch == '=' || ch == 0x7f || ++run > 15)
			return -EINVAL;
	}
	memset(dst, 0, size);
	memcpy(dst, v, n);
	return 0;
}

bool fdw_leak_comm_listed(const char *list, const char *comm)
{
	size_t len = comm ? strnlen(comm, 16) : 0;

	if (!list || !len)
		return false;
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == len && !memcmp(p, comm, n))
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

int fdw_leak_config_set(struct fdw_leak_config *c, const char *kv)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	char *end;
	double v;

	if (!eq || eq == kv)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		const struct setting *s = &settings[i];

		if (strlen(s->name) != (size_t)(eq - kv) || memcmp(s->name, kv, (size_t)(eq - kv)))
			continue;
		if (s->type == T_LIST)
			return set_list((char *)c + s->off, (size_t)s->max + 1, eq + 1);
		if (!eq[1])
			return -EINVAL;
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
		char val[FDW_LEAK_SHELLS_LEN];
		int r;

		if (s->type == T_LIST)
			snprintf(val, sizeof(val), "%s", p);
		else if (s->type == T_UINT)
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

static size_t setting_size(const struct setting *s)
{
	switch (s->type) {
	case T_UINT:
		return sizeof(unsigned int);
	case T_DOUBLE:
		return sizeof(double);
	case T_LIST:
		return (size_t)s->max + 1;
	default:
		return sizeof(bool);
	}
}

int fdw_leak_config_merge(struct fdw_leak_config *dst, const struct fdw_leak_config *src,
			  char *restart, size_t len)
{
	size_t n = sizeof(settings) / sizeof(settings[0]), o = 0;
	int changed = 0;

	if (len)
		restart[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct setting *s = &settings[i];
		char *d = (char *)dst + s->off;
		const char *p = (const char *)src + s->off;

		if (s->type == T_LIST ? !strcmp(d, p) : !memcmp(d, p, setting_size(s)))
			continue;
		if (s->live) {
			memcpy(d, p, setting_size(s));
			changed++;
			continue;
		}
		if (o < len) {
			int r = snprintf(restart + o, len - o, "%sleak.%s", o ? " " : "", s->name);

			o += r > 0 ? (size_t)r : 0;
		}
	}
	return changed;
}

const char *fdw_leak_config_name(size_t i)
{
	return i < sizeof(settings) / sizeof(settings[0]) ? settings[i].name : NULL;
}
