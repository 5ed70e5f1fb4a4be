// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Leak sites: the open fds of a table grouped by where they were created
 * (creating syscall, the syscall that created the open file description,
 * how the fd came to be, creating command, target pattern), ranked, and as
 * the JSON every alert's evidence and GET /v1/leaks?pid= show.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/hash.h"
#include "base/json.h"
#include "capture/syscalls.h"
#include "detect/detector.h"
#include "detect/evidence.h"

#define SITES_INTERNAL_MAX 4096 /* distinct sites while grouping one table */

/* ---- grouping, pure ------------------------------------------------------------ */

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
	struct site_acc *next; /* same hash bucket */
	uint64_t singles;      /* a directory's site: its lone files' sites */
};

/*
 * Files whose names are all different (mkstemp's, a hash's, a session
 * id's: "/tmp/tmpk2j3h4_x") make a site of one fd each, and the 19,000
 * fds of a textbook temp-file leak ranked below a lone /dev/null. So the
 * lone files of one directory made the same way become one site,
 * "DIR/ *", when there are SITES_DIR_MIN of them or more, and the files past
 * SITES_INTERNAL_MAX sites go to their directory's site.
 */
#define SITES_DIR_MIN 8

/* The sites of one table while it is grouped. */
struct site_group {
	struct fdw_hashmap buckets; /* hash -> struct site_acc chain */
	struct site_acc **all;
	size_t n, cap;
	uint64_t over; /* fds of sites beyond SITES_INTERNAL_MAX */
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
	uint64_t ts = fdw_slot_origin(sl)->ts;

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

static uint64_t site_hash(const struct fdw_slot *sl, const char *pattern)
{
	const struct fdw_origin *so = fdw_slot_origin(sl), *oo = fdw_ofd_origin(fdw_slot_ofd(sl));
	uint64_t h = fdw_fnv(FDW_FNV_OFFSET, &so->nr, sizeof(so->nr));

	h = fdw_fnv(h, &oo->nr, sizeof(oo->nr));
	h = fdw_fnv(h, &so->source, 1);
	h = fdw_fnv(h, so->comm, strnlen(so->comm, sizeof(so->comm)));
	return fdw_fnv(h, pattern, strlen(pattern));
}

static bool site_is(const struct fdw_leak_site *s, const struct fdw_slot *sl, const char *pattern)
{
	const struct fdw_origin *so = fdw_slot_origin(sl);

	return s->nr == so->nr && s->ofd_nr == fdw_ofd_origin(fdw_slot_ofd(sl))->nr &&
	       s->source == so->source && !strncmp(s->comm, so->comm, sizeof(s->comm)) &&
	       !strcmp(s->pattern, pattern);
}

/* "DIR/ *" of a file's pattern in out; false when it names no file. */
static bool dir_pattern(const char *pattern, char *out, size_t len)
{
	const char *slash = strrchr(pattern, '/');

	if (pattern[0] != '/' || !slash || !slash[1] || (size_t)(slash - pattern) + 3 > len)
		return false;
	memcpy(out, pattern, (size_t)(slash - pattern) + 1);
	strcpy(out + (slash - pattern) + 1, "*");
	return true;
}

/* The site of open slot `sl` in *out: 0, 1 when refused (too many sites,
 * counted), or -ENOMEM. With `dir`, its directory's site ("DIR/ *"; 2,
 * not counted, when it names no file). */
static int group_site_in(struct site_group *g, const struct fdw_slot *sl, bool dir,
			 struct site_acc **out)
{
	const struct fdw_ofd *o = fdw_slot_ofd(sl);
	const struct fdw_origin *so = fdw_slot_origin(sl);
	struct site_acc *a, *head;
	char pattern[256], fine[256], buf[FDW_OFD_NAME_BUF];
	const char *target = fdw_ofd_target(o, buf);
	uint64_t h;

	fdw_leak_pattern(target, pattern, sizeof(pattern));
	if (dir) {
		if (!dir_pattern(pattern, fine, sizeof(fine)))
			return 2;
		memcpy(pattern, fine, sizeof(pattern));
	}
	h = site_hash(sl, pattern);
	head = fdw_hashmap_get(&g->buckets, h);
	for (a = head; a; a = a->next)
		if (site_is(&a->s, sl, pattern)) {
			*out = a;
			return 0;
		}
	if (g->n >= SITES_INTERNAL_MAX) {
		g->over++;
		return 1;
	}
	if (FDW_GROW(g->all, g->n, g->cap, 32) < 0)
		return -ENOMEM;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->s.nr = so->nr;
	a->s.ofd_nr = fdw_ofd_origin(o)->nr;
	a->s.source = so->source;
	memcpy(a->s.comm, so->comm, sizeof(a->s.comm));
	a->s.comm[sizeof(a->s.comm) - 1] = '\0';
	snprintf(a->s.pattern, sizeof(a->s.pattern), "%s", pattern);
	a->s.type = fdw_fd_type_name(fdw_ofd_mode(o), target);
	a->next = head;
	if (fdw_hashmap_put(&g->buckets, h, a) < 0) {
		free(a);
		return -ENOMEM;
	}
	g->all[g->n++] = a;
	*out = a;
	return 0;
}

static int group_site(struct site_group *g, const struct fdw_slot *sl, struct site_acc **out)
{
	return group_site_in(g, sl, false, out);
}

/* Files past the sites' bound (in `dirs` already), and the lone files of
 * `g` with SITES_DIR_MIN or more alike in a directory, into `dirs`; then
 * dirs' sites into g (a lone file's own site left with count 0). */
static int group_dirs(struct site_group *g, struct site_group *dirs, const struct fdw_table *t,
		      uint64_t since, fdw_leak_stack_fn stack_of, void *userdata)
{
	struct site_acc *d;
	int r;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < g->n; i++) {
			struct fdw_leak_site *s = &g->all[i]->s;
			const struct fdw_slot *sl;
			int fd;

			if (s->count != 1 || !s->nsamples)
				continue;
			fd = s->samples[0];
			sl = fdw_table_slot(t, fd);
			r = group_site_in(dirs, sl, true, &d);
			if (r < 0)
				return r;
			if (r == 1)
				dirs->over--; /* still counted in its own site */
			if (r)
				continue;
			if (!pass) {
				d->singles++;
			} else if (d->singles >= SITES_DIR_MIN || d->s.count) {
				site_add_fd(&d->s, fd, sl, since,
					    stack_of ? stack_of(userdata, fd, sl) : 0);
				s->count = 0; /* counted in its directory's */
			}
		}
	}
	for (size_t i = 0; i < dirs->n; i++) {
		if (!dirs->all[i]->s.count) {
			free(dirs->all[i]);
			continue;
		}
		if (FDW_GROW(g->all, g->n, g->cap, 32) < 0) {
			free(dirs->all[i]);
			return -ENOMEM;
		}
		g->all[g->n++] = dirs->all[i];
	}
	dirs->n = 0;
	return 0;
}

/* The first `max` sites by rank, copied into a malloc'd array. */
static int group_rank(struct site_group *g, uint64_t since, unsigned int max,
		      struct fdw_leak_site **out, size_t *n)
{
	struct fdw_leak_site **order = malloc((g->n + 1) * sizeof(*order)), *res;
	size_t keep = g->n < max ? g->n : max;

	size_t nsites = 0;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < g->n; i++)
		if (g->all[i]->s.count) /* not a lone file counted in its directory's */
			order[nsites++] = &g->all[i]->s;
	qsort_r(order, nsites, sizeof(*order), cmp_site, &since);
	keep = nsites < max ? nsites : max;
	res = calloc(keep + 1, sizeof(*res));
	if (!res) {
		free(order);
		return -ENOMEM;
	}
	for (size_t i = 0; i < keep; i++)
		res[i] = *order[i];
	free(order);
	*out = res;
	*n = keep;
	g->over += nsites - keep; /* (the caller's dropped) */
	return 0;
}

int fdw_leak_sites(const struct fdw_table *t, uint64_t since, fdw_leak_stack_fn stack_of,
		   void *userdata, unsigned int max, struct fdw_leak_site **out, size_t *n,
		   uint64_t *dropped)
{
	struct site_group g = { 0 }, dirs = { 0 };
	int r = 0;

	*out = NULL;
	*n = 0;
	if (dropped)
		*dropped = 0;
	if (!t)
		return 0;
	fdw_hashmap_init(&g.buckets);
	fdw_hashmap_init(&dirs.buckets);
	for (uint32_t fd = 0; fd < t->nslots && r >= 0; fd++) {
		const struct fdw_slot *sl = fdw_table_slot(t, (int)fd);
		struct site_acc *a;

		if (!fdw_slot_open(sl))
			continue;
		r = group_site(&g, sl, &a);
		if (r == 1) { /* past the bound: its directory's site, if any */
			r = group_site_in(&dirs, sl, true, &a);
			if (r == 0 || r == 1)
				g.over--; /* counted there (or in dirs.over) */
			if (r == 2)
				r = 1;
		}
		if (r == 0)
			site_add_fd(&a->s, (int)fd, sl, since,
				    stack_of ? stack_of(userdata, (int)fd, sl) : 0);
	}
	if (r >= 0)
		r = group_dirs(&g, &dirs, t, since, stack_of, userdata);
	if (r >= 0)
		r = group_rank(&g, since, max, out, n);
	if (r >= 0 && dropped)
		*dropped = g.over + dirs.over;
	for (size_t i = 0; i < g.n; i++)
		free(g.all[i]);
	for (size_t i = 0; i < dirs.n; i++)
		free(dirs.all[i]);
	free(g.all);
	free(dirs.all);
	fdw_hashmap_free(&g.buckets);
	fdw_hashmap_free(&dirs.buckets);
	return r < 0 ? r : 0;
}

/* ---- as JSON ------------------------------------------------------------------------- */

static json_t *site_stacks_json(struct fdw_leaks *l, struct leak_proc *st,
				const struct fdw_leak_site *s)
{
	json_t *stacks = json_array();

	for (unsigned int i = 0; stacks && i < s->nstacks; i++) {
		json_t *frames = leak_stack_frames(l, st, s->stacks[i].stack);

		if (!frames)
			continue;
		(void)json_array_append_new(stacks,
			json_pack("{s:I, s:o}", "count", (json_int_t)s->stacks[i].count,
				  "frames", frames));
	}
	return stacks ? stacks : json_array();
}

static json_t *site_json(struct fdw_leaks *l, struct leak_proc *st, const struct fdw_table *t,
			 const struct fdw_leak_site *s, uint64_t since, uint64_t now)
{
	json_t *o, *samples = json_array();

	for (unsigned int i = 0; samples && i < s->nsamples && i < l->cfg.sample_fds; i++)
		(void)json_array_append_new(samples, leak_json_slot(s->samples[i],
					    fdw_table_slot(t, s->samples[i]), now));
	o = json_pack("{s:o, s:o, s:s, s:o, s:s, s:o, s:I, s:o, s:o, s:o, s:o, s:I, s:I}",
		      "syscall", leak_json_syscall(s->nr),
		      "opened_by", leak_json_syscall(s->ofd_nr),
		      "source", fdw_origin_source_name(s->source),
		      "target", fdw_json_bytes(s->pattern),
		      "type", s->type ? s->type : "unknown",
		      "comm", s->comm[0] ? fdw_json_bytes(s->comm) : json_null(),
		      "count", (json_int_t)s->count,
		      "oldest_age_s", leak_json_num(s->oldest_ts != 0, leak_age_s(s->oldest_ts, now)),
		      "newest_age_s", leak_json_num(s->newest_ts != 0, leak_age_s(s->newest_ts, now)),
		      "sample_fds", samples ? samples : json_array(),
		      "stacks", site_stacks_json(l, st, s),
		      "other_stacks", (json_int_t)s->other_stacks,
		      "without_stack", (json_int_t)s->without_stack);
	if (o && since)
		(void)json_object_set_new(o, "recent", json_integer((json_int_t)s->recent));
	return o;
}

void fdw_leak_site_describe(const json_t *site, char *top, size_t len)
{
	const char *sc = json_string_value(json_object_get(site, "syscall"));
	const char *oc = json_string_value(json_object_get(site, "opened_by"));
	const char *target = json_string_value(json_object_get(site, "target"));
	const json_t *recent = json_object_get(site, "recent");
	long long n = json_integer_value(recent ? recent : json_object_get(site, "count"));

	if (!target)
		target = "?";
	if (json_is_true(json_object_get(site, "hidden")))
		snprintf(top, len, "%lld x (hidden) %s", n, target);
	else if (sc && oc && strcmp(sc, oc))
		snprintf(top, len, "%lld x %s of %s %s", n, sc, oc, target);
	else
		snprintf(top, len, "%lld x %s %s", n, sc ? sc : "(found in /proc)", target);
}

void leak_evidence_sites(struct fdw_leaks *l, struct leak_proc *st, const struct fdw_table *t,
			 uint64_t since, uint64_t now, json_t *ev, char *top, size_t toplen)
{
	struct fdw_leak_site *sites = NULL;
	uint64_t dropped = 0;
	size_t n = 0;
	json_t *arr = NULL;

	if (toplen)
		top[0] = '\0';
	t = fdw_model_table_view(l->m, (struct fdw_table *)t); /* its own origins */
	if (fdw_leak_sites(t, since, leak_stack_of_fd, st, l->cfg.max_sites, &sites, &n,
			   &dropped) == 0) {
		l->stats.dropped_sites += dropped;
		arr = json_array();
		for (size_t i = 0; arr && i < n; i++)
			(void)json_array_append_new(arr, site_json(l, st, t, &sites[i], since, now));
		if (toplen && json_array_size(arr))
			fdw_leak_site_describe(json_array_get(arr, 0), top, toplen);
		free(sites);
	}
	(void)json_object_set_new(ev, "sites", arr ? arr : json_array());
	(void)json_object_set_new(ev, "sites_dropped", json_integer((json_int_t)dropped));
}

json_t *fdw_leaks_sites_json(struct fdw_leaks *l, struct fdw_proc *p)
{
	struct leak_proc *st;
	json_t *o;
	char top[8];

	if (!l || !p)
		return NULL;
	st = leak_proc_find(l, p);
	o = json_object();
	if (!o)
		return NULL;
	leak_evidence_sites(l, st, fdw_model_proc_table(l->m, p), 0, fdw_now_mono(), o, top,
			    sizeof(top));
	(void)json_object_set_new(o, "stacks_captured", json_boolean(st && st->stacks.watching));
	return o;
}
