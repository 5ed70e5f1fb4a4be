// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The model against /proc (check/check.h). A running process changes its
 * table while we look, so one comparison can show a difference that is only
 * an event still in flight. Each check is repeated (drain, read /proc,
 * drain, compare) up to three times and only the differences seen every
 * time are reported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/json.h"
#include "check/check.h"
#include "sys/pidinfo.h"
#include "sys/procfs.h"

#define VERIFY_ROUNDS 3
#define VERIFY_PAUSE_NS 1000000 /* between rounds that found differences */

enum { D_MISSING, D_EXTRA, D_TARGET, D_CLOEXEC };

static const char *const kind_names[] = {
	[D_MISSING] = "missing",
	[D_EXTRA] = "extra",
	[D_TARGET] = "target",
	[D_CLOEXEC] = "cloexec",
};

/* One side's view of a table, sorted by fd. */
struct fdent {
	int fd;
	bool cloexec;
	const char *target; /* owned (kernel side) or borrowed (model side) */
};

struct fdlist {
	struct fdent *v;
	size_t n, cap;
	bool owned;
	int err;
};

struct diff {
	int fd;
	int kind;
};

struct difflist {
	struct diff *v;
	size_t n, cap;
};

static void fdlist_clear(struct fdlist *l)
{
	if (l->owned)
		for (size_t i = 0; i < l->n; i++)
			free((char *)l->v[i].target); /* strdup'd by kernel_cb */
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int fdlist_add(struct fdlist *l, int fd, bool cloexec, const char *target)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct fdent *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = (struct fdent){ .fd = fd, .cloexec = cloexec, .target = target };
	return 0;
}

static void kernel_cb(void *data, const struct fdw_fd_info *fi)
{
	struct fdlist *l = data;
	char *t;

	if (l->err)
		return;
	t = strdup(fi->target);
	if (!t || fdlist_add(l, fi->fd, fi->cloexec, t) < 0) {
		free(t);
		l->err = -ENOMEM;
	}
}

static int cmp_fdent(const void *a, const void *b)
{
	int x = ((const struct fdent *)a)->fd, y = ((const struct fdent *)b)->fd;

	return x < y ? -1 : x > y;
}

static int read_kernel(struct fdw_checker *c, uint32_t tid, struct fdlist *k)
{
	int r;

	k->owned = true;
	r = fdw_proc_read_table(c->proc_root, tid, kernel_cb, k);
	if (r == -ENOENT || r == -ESRCH)
		return -ESRCH;
	if (r < 0)
		return r;
	if (k->err)
		return k->err;
	if (k->n) /* qsort(NULL, 0, ...) is undefined (UBSan) */
		qsort(k->v, k->n, sizeof(*k->v), cmp_fdent);
	return 0;
}

/* The model's side borrows the targets: valid until the next drain. */
static int read_model(const struct fdw_table *t, struct fdlist *m)
{
	for (uint32_t fd = 0; t && fd < t->nslots; fd++) {
		const struct fdw_slot *s = t->slots[fd];

		if (!fdw_slot_open(s))
			continue;
		if (fdlist_add(m, (int)fd, s->cloexec, s->ofd->target) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int diff_add(struct difflist *l, int fd, int kind)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct diff *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = (struct diff){ .fd = fd, .kind = kind };
	return 0;
}

static bool same_target(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* Differences between two sorted lists, sorted by (fd, kind). */
static int compare(const struct fdlist *k, const struct fdlist *m, struct difflist *out)
{
	size_t i = 0, j = 0;
	int r = 0;

	while (!r && (i < k->n || j < m->n)) {
		if (j == m->n || (i < k->n && k->v[i].fd < m->v[j].fd)) {
			r = diff_add(out, k->v[i++].fd, D_MISSING);
		} else if (i == k->n || m->v[j].fd < k->v[i].fd) {
			r = diff_add(out, m->v[j++].fd, D_EXTRA);
		} else {
			if (!same_target(k->v[i].target, m->v[j].target))
				r = diff_add(out, k->v[i].fd, D_TARGET);
			if (!r && k->v[i].cloexec != m->v[j].cloexec)
				r = diff_add(out, k->v[i].fd, D_CLOEXEC);
			i++;
			j++;
		}
	}
	return r;
}

/* Keep in `cand` only what `seen` has too (both sorted by fd, kind). */
static void intersect(struct difflist *cand, const struct difflist *seen)
{
	size_t i = 0, j = 0, n = 0;

	while (i < cand->n && j < seen->n) {
		const struct diff *a = &cand->v[i], *b = &seen->v[j];

		if (a->fd == b->fd && a->kind == b->kind) {
			cand->v[n++] = *a;
			i++;
			j++;
		} else if (a->fd < b->fd || (a->fd == b->fd && a->kind < b->kind)) {
			i++;
		} else {
			j++;
		}
	}
	cand->n = n;
}

static const struct fdent *find(const struct fdlist *l, int fd)
{
	struct fdent key = { .fd = fd };

	return bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_fdent);
}

static json_t *side_value(const struct fdent *e, int kind)
{
	if (!e)
		return json_null();
	if (kind == D_CLOEXEC)
		return json_boolean(e->cloexec);
	return fdw_json_bytes(e->target);
}

/*
 * Drop differences of fds a thread is changing right now: a close that
 * blocks (the last reference of a file released inside it) shows in /proc
 * before its syscall returns, and the model follows completed syscalls.
 */
static void drop_in_flight(struct fdw_checker *c, uint32_t pid, struct difflist *dl)
{
	size_t n = 0;

	for (size_t i = 0; i < dl->n; i++) {
		const struct diff *df = &dl->v[i];

		if ((df->kind == D_EXTRA || df->kind == D_MISSING) &&
		    fdw_pid_fd_in_flight(c->proc_root, pid, df->fd) == 1) {
			c->stats.in_flight++;
			continue;
		}
		dl->v[n++] = *df;
	}
	dl->n = n;
}

static int append_diffs(json_t *diffs, uint32_t pid, const struct difflist *dl,
			const struct fdlist *k, const struct fdlist *m)
{
	for (size_t i = 0; i < dl->n; i++) {
		const struct diff *df = &dl->v[i];
		json_t *o = json_pack("{s:I, s:i, s:s, s:o, s:o}", "pid", (json_int_t)pid,
				      "fd", df->fd, "kind", kind_names[df->kind],
				      "model", side_value(find(m, df->fd), df->kind),
				      "kernel", side_value(find(k, df->fd), df->kind));

		if (!o || json_array_append_new(diffs, o) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void pause_briefly(void)
{
	struct timespec ts = { 0, VERIFY_PAUSE_NS };

	(void)nanosleep(&ts, NULL);
}

int fdw_verify_proc(struct fdw_checker *c, struct fdw_proc *p, json_t *diffs)
{
	struct fdlist k = { 0 }, m = { 0 };
	struct difflist cand = { 0 }, seen = { 0 };
	uint32_t pid = p->pid;
	int r = 0;

	for (int round = 0; round < VERIFY_ROUNDS; round++) {
		uint32_t tid;

		if (round)
			pause_briefly();
		fdlist_clear(&k);
		fdlist_clear(&m);
		seen.n = 0;

		fdw_pipeline_drain(c->pipeline);
		p = fdw_model_proc(c->model, pid);
		tid = p ? fdw_model_proc_tid(c->model, p) : 0;
		if (!tid) {
			r = -ESRCH;
			goto out;
		}
		r = read_kernel(c, tid, &k);
		if (r < 0)
			goto out;
		fdw_pipeline_drain(c->pipeline);
		p = fdw_model_proc(c->model, pid);
		/* names of files renamed or deleted since they were opened */
		if (p)
			fdw_model_refresh_targets(c->model, p);
		if (!p) {
			r = -ESRCH;
			goto out;
		}
		r = read_model(fdw_model_proc_table(c->model, p), &m);
		if (r < 0)
			goto out;
		r = compare(&k, &m, round ? &seen : &cand);
		if (r < 0)
			goto out;
		if (round)
			intersect(&cand, &seen);
		if (!cand.n)
			break;
	}
	drop_in_flight(c, pid, &cand);
	r = append_diffs(diffs, pid, &cand, &k, &m);
	if (r == 0)
		r = (int)cand.n;
out:
	fdlist_clear(&k);
	fdlist_clear(&m);
	free(cand.v);
	free(seen.v);
	return r;
}

/*
 * A table verify found wrong is known wrong: re-read it now rather than go
 * on serving it (the answer still reports what was found). Counted with the
 * audit's divergences: both are the model caught disagreeing with /proc.
 */
static void repair(struct fdw_checker *c, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(c->model, pid);

	c->stats.divergences++;
	if (p) {
		fdw_model_mark_proc_stale(c->model, p);
		(void)fdw_model_resync_proc(c->model, p);
	}
}

/* A process that went away while we looked: if /proc has no trace of it,
 * its exit was lost or is still in flight; either way the model drops it. */
static void forget_if_gone(struct fdw_checker *c, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(c->model, pid);

	if (p)
		(void)fdw_pipeline_drop_if_gone(c->pipeline, p);
}

void fdw_checker_init(struct fdw_checker *c, struct fdw_model *m, struct fdw_pipeline *pl,
		      const char *proc_root, unsigned int audit_sample)
{
	*c = (struct fdw_checker){
		.model = m,
		.pipeline = pl,
		.proc_root = proc_root ? proc_root : "/proc",
		.audit_sample = audit_sample,
	};
}

json_t *fdw_verify(struct fdw_checker *c, uint32_t pid, int *err)
{
	json_t *diffs = json_array();
	uint64_t checked = 0, errors = 0;
	uint32_t *pids = NULL;
	size_t n = 0;
	json_t *o;
	int r;

	if (!diffs) {
		*err = -ENOMEM;
		return NULL;
	}
	fdw_pipeline_drain(c->pipeline);
	if (pid) {
		struct fdw_proc *p = fdw_model_proc(c->model, pid);

		r = p ? fdw_verify_proc(c, p, diffs) : -ENOENT;
		if (r == -ESRCH) {
			r = -ENOENT; /* it exited while we looked */
			forget_if_gone(c, pid);
		}
		if (r > 0)
			repair(c, pid);
		if (r < 0) {
			json_decref(diffs);
			*err = r;
			return NULL;
		}
		checked = 1;
	} else {
		size_t it = 0;
		uint64_t key;
		uint32_t self = (uint32_t)getpid();

		pids = malloc((fdw_hashmap_size(&c->model->procs) + 1) * sizeof(*pids));
		if (!pids) {
			json_decref(diffs);
			*err = -ENOMEM;
			return NULL;
		}
		while (fdw_hashmap_next(&c->model->procs, &it, &key, NULL))
			if ((uint32_t)key != self)
				pids[n++] = (uint32_t)key;
		qsort(pids, n, sizeof(*pids), fdw_cmp_u32);
		for (size_t i = 0; i < n; i++) {
			/* the drains of earlier checks may have ended it */
			struct fdw_proc *p = fdw_model_proc(c->model, pids[i]);

			if (!p)
				continue;
			r = fdw_verify_proc(c, p, diffs);
			if (r == -ENOMEM) {
				free(pids);
				json_decref(diffs);
				*err = r;
				return NULL;
			}
			if (r == -ESRCH) {
				forget_if_gone(c, pids[i]);
				continue;
			}
			if (r < 0)
				errors++;
			else
				checked++;
			if (r > 0)
				repair(c, pids[i]);
		}
		free(pids);
	}
	o = json_pack("{s:b, s:I, s:I, s:o}", "ok", json_array_size(diffs) == 0, "checked",
		      (json_int_t)checked, "errors", (json_int_t)errors, "differences", diffs);
	if (!o)
		*err = -ENOMEM;
	return o;
}
