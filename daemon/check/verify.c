// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The model against /proc (check/check.h): GET /v1/verify and the periodic
 * audit. A running process changes its table while we look, so one
 * comparison can show a difference that is only an event still in flight.
 * Each check is repeated (drain, read /proc, drain, compare) up to three
 * times and only the differences seen every time are reported, minus those
 * at fds a record changed between the two drains (window_fds).
 *
 * A check is a run of steps: the /proc reads go to the thread pool the
 * daemon lends (offload), the drains and comparisons stay on the loop, and
 * the loop serves other clients in between. Checking a whole host costs
 * the loop one comparison at a time, never the host's worth of /proc reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/hash.h"
#include "base/hashmap.h"
#include "base/json.h"
#include "base/log.h"
#include "check/check.h"
#include "model/history.h"
#include "pipeline/pipeline.h"
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
	const char *target; /* owned (a copy, both sides) */
};

struct fdlist {
	struct fdent *v;
	size_t n, cap;
	bool owned;
	int err;
	struct fdw_targets *names; /* kernel side: the names, for the model */
};

struct diff {
	int fd;
	int kind;
	bool in_flight; /* a thread was changing the fd (mark_in_flight) */
	bool running;	/* a thread kept running: could not tell */
};

struct difflist {
	struct diff *v;
	size_t n, cap;
};

/* fd numbers (sorted once window_fds() is done) */
struct intlist {
	int *v;
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
	if (FDW_GROW(l->v, l->n, l->cap, 64) < 0)
		return -ENOMEM;
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
		return;
	}
	if (l->names)
		fdw_targets_add(l->names, fi);
}

static int cmp_fdent(const void *a, const void *b)
{
	int x = ((const struct fdent *)a)->fd, y = ((const struct fdent *)b)->fd;

	return x < y ? -1 : x > y;
}

/* Off the loop: touches nothing but `k` (and its names). */
static int read_kernel(const char *proc_root, uint32_t tid, struct fdlist *k)
{
	int r;

	k->owned = true;
	r = fdw_proc_read_table(proc_root, tid, kernel_cb, k);
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

/* The model's side, with copies of the targets: the differences are
 * rendered a step later, after the loop ran other work (capture slices
 * that may close those fds and free their names). */
static int read_model(const struct fdw_table *t, struct fdlist *m)
{
	m->owned = true;
	for (uint32_t fd = 0; t && fd < t->nslots; fd++) {
		const struct fdw_slot *s = fdw_table_slot(t, (int)fd);
		char buf[FDW_OFD_NAME_BUF], *target;
		const char *name;

		if (!fdw_slot_open(s))
			continue;
		name = fdw_ofd_target(fdw_slot_ofd(s), buf);
		target = name ? strdup(name) : NULL;
		if ((name && !target) || fdlist_add(m, (int)fd, s->cloexec, target) < 0) {
			free(target);
			return -ENOMEM;
		}
	}
	return 0;
}

static int diff_add(struct difflist *l, int fd, int kind)
{
	if (FDW_GROW(l->v, l->n, l->cap, 16) < 0)
		return -ENOMEM;
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
			/* a name the model did not keep (max_name_bytes) is
			 * not a difference: the fd is the same */
			if (!same_target(k->v[i].target, m->v[j].target) &&
			    !fdw_target_refused(m->v[j].target))
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

	if (!l->n)
		return NULL; /* l->v may be NULL: not bsearch's to take */
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

/* An fd argument or result as the kernel takes it: its low 32 bits. */
static int intlist_add(struct intlist *l, uint64_t raw)
{
	int v = (int)(uint32_t)raw;

	if (v < 0)
		return 0; /* an error, AT_FDCWD */
	if (FDW_GROW(l->v, l->n, l->cap, 64) < 0)
		return -ENOMEM;
	l->v[l->n++] = (int)v;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * The fds of pid's table that the records applied after event `after` (up
 * to `last`, the pipeline's latest) may have changed: the round's window,
 * from the drain before the /proc read to the drain after it. The read
 * took the table at some moment in between, so a difference at such an fd
 * may be the model being later (or earlier) than the read, not wrong: a
 * process that opens and closes one number in a loop shows it "missing"
 * or "extra" in every round. Only the records that change a table count,
 * and of each only the fds it changes. Sets *all when it cannot say which
 * (an exec, close_range, io_uring, more fds than an entry holds, or the
 * window's start already overwritten in the history: the check is then
 * inconclusive). Another process sharing the table (CLONE_FILES without
 * CLONE_THREAD) is not looked at. 0 or -ENOMEM.
 */
static int window_fds(const struct fdw_history *h, uint64_t after, uint64_t last, uint32_t pid,
		      struct intlist *out, bool *all)
{
	uint64_t covered = last + 1; /* the oldest event looked at */
	int r = 0;

	out->n = 0;
	*all = false;
	if (last <= after)
		return 0; /* nothing was applied meanwhile */
	for (uint64_t i = h ? h->len : 0; !r && i-- > 0;) {
		const struct fdw_history_entry *e = fdw_history_at(h, i);

		if (e->seq <= after)
			break;
		covered = e->seq;
		if (e->pid != pid)
			continue;
		if (e->type == FDW_REC_EXEC || e->type == FDW_REC_URING) {
			*all = true;
			return 0;
		}
		/* fork and exit leave the table as it was; BADF, in-flight and
		 * reuse records change nothing */
		if (e->type != FDW_REC_SYSCALL)
			continue;
		/* a failed syscall changed nothing, but close: EINTR and EIO
		 * close the fd on Linux too */
		if ((int64_t)e->ret < 0 && (e->nr != FDW_SYS_CLOSE || (int64_t)e->ret == -EBADF))
			continue;
		if (e->nr == FDW_SYS_CLOSE_RANGE || e->nfds > FDW_HISTORY_INLINE_FDS) {
			*all = true;
			return 0;
		}
		switch (e->nr) {
		case FDW_SYS_CLOSE:
		case FDW_SYS_IOCTL: /* FIOCLEX, FIONCLEX */
			r = intlist_add(out, e->u.args[0]);
			break;
		case FDW_SYS_FCNTL: /* F_SETFD's fd; F_DUPFD's new one */
			r = intlist_add(out, e->u.args[0]);
			if (!r && ((uint32_t)e->u.args[1] == F_DUPFD ||
				   (uint32_t)e->u.args[1] == F_DUPFD_CLOEXEC))
				r = intlist_add(out, (uint64_t)e->ret);
			break;
		case FDW_SYS_DUP:
		case FDW_SYS_DUP2:
		case FDW_SYS_DUP3:
			r = intlist_add(out, (uint64_t)e->ret);
			break;
		default:
			break;
		}
		/* the fds it installed */
		for (unsigned int k = 0; !r && k < e->nfds; k++)
			r = intlist_add(out, (uint64_t)(uint32_t)e->fds[k]);
	}
	if (r)
		return r;
	if (covered != after + 1) {
		*all = true; /* the window's first events are no longer kept */
		return 0;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_int);
	return 0;
}

/*
 * Drop the candidates at fds the round's window changed (window_fds).
 * 0, 1 when it cannot tell which (cand left as it is), or -ENOMEM.
 */
static int drop_window_changes(struct fdw_checker *c, uint32_t pid, uint64_t after,
			       struct difflist *cand, struct intlist *touched)
{
	size_t n = 0;
	bool all;
	int r;

	if (!cand->n)
		return 0;
	r = window_fds(c->pipeline->history, after, c->pipeline->seq, pid, touched, &all);
	if (r)
		return r;
	if (all)
		return 1;
	for (size_t i = 0; i < cand->n; i++) {
		int fd = cand->v[i].fd;

		if (touched->n &&
		    bsearch(&fd, touched->v, touched->n, sizeof(*touched->v), cmp_int)) {
			c->stats.window_changes++;
			continue;
		}
		cand->v[n++] = cand->v[i];
	}
	cand->n = n;
	return 0;
}

/*
 * Drop differences of fds a thread is changing right now: a close that
 * blocks (the last reference of a file released inside it) shows in /proc
 * before its syscall returns, and the model follows completed syscalls.
 * Every thread is read once, whatever the number of differences. A thread
 * caught running says nothing: the running ones are read again every 1 ms
 * while a difference is unexplained, for up to IN_FLIGHT_BUDGET_NS (CI:
 * fdwatchd-detach's bpf_link close under stress-ng, read once as
 * "running", counted a divergence); only in the pool (`may_wait`): the
 * loop never sleeps on it. The budget counts the first read too (a process
 * of many thousand threads may get no second look); four verifies and the
 * audit can hold the pool's threads about that long (one more re-read past
 * it at most).
 */
#define IN_FLIGHT_BUDGET_NS (50 * 1000000ull)

/* Mark what `sc` explains; true when every extra or missing fd is. */
static bool explain_in_flight(const struct fdw_pid_syscalls *sc, void *arg)
{
	struct difflist *dl = arg;
	bool all = true;

	for (size_t i = 0; i < dl->n; i++) {
		struct diff *df = &dl->v[i];

		if (df->kind != D_EXTRA && df->kind != D_MISSING)
			continue;
		for (size_t j = 0; j < sc->n && !df->in_flight; j++)
			df->in_flight = fdw_syscall_changes_fd(&sc->v[j], df->fd);
		all &= df->in_flight;
	}
	return all;
}

static void mark_in_flight(const char *proc_root, uint32_t pid, struct difflist *dl,
			   bool may_wait)
{
	struct fdw_pid_syscalls sc = { 0 };
	bool any = false;
	int r;

	for (size_t i = 0; i < dl->n; i++) {
		dl->v[i].in_flight = false;
		dl->v[i].running = false;
		any |= dl->v[i].kind == D_EXTRA || dl->v[i].kind == D_MISSING;
	}
	if (!any)
		return; /* a target or a close-on-exec bit: no syscall explains it */
	r = fdw_pid_syscalls_settle(proc_root, pid, may_wait ? IN_FLIGHT_BUDGET_NS : 0,
				    explain_in_flight, dl, &sc);
	if (r < 0 && r != -ESRCH)
		(void)explain_in_flight(&sc, dl); /* what was read before -ENOMEM */
	if (r != -ESRCH && sc.nrunning) {
		for (size_t i = 0; i < dl->n; i++)
			dl->v[i].running = !dl->v[i].in_flight &&
					   (dl->v[i].kind == D_EXTRA || dl->v[i].kind == D_MISSING);
	}
	fdw_pid_syscalls_free(&sc);
}

/* On the loop, after mark_in_flight: keep what no syscall was changing. */
static void drop_in_flight(struct fdw_checker *c, struct difflist *dl)
{
	size_t n = 0;

	for (size_t i = 0; i < dl->n; i++) {
		if (dl->v[i].in_flight) {
			c->stats.in_flight++;
			continue;
		}
		dl->v[n++] = dl->v[i];
	}
	dl->n = n;
}

/* At most `room` of them; the caller counts the rest. */
static int append_diffs(json_t *diffs, uint32_t pid, const struct difflist *dl,
			const struct fdlist *k, const struct fdlist *m, size_t room, bool unsettled)
{
	for (size_t i = 0; i < dl->n && i < room; i++) {
		const struct diff *df = &dl->v[i];
		json_t *o = json_pack("{s:I, s:i, s:s, s:o, s:o}", "pid", (json_int_t)pid,
				      "fd", df->fd, "kind", kind_names[df->kind],
				      "model", side_value(find(m, df->fd), df->kind),
				      "kernel", side_value(find(k, df->fd), df->kind));

		if (o && unsettled && json_object_set_new(o, "unsettled", json_true()) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (o && df->running && json_object_set_new(o, "thread_running", json_true()) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (!o || json_array_append_new(diffs, o) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- a check, in steps --------------------------------------------------- */

static void pause_briefly(void)
{
	struct timespec ts = { 0, VERIFY_PAUSE_NS };

	(void)nanosleep(&ts, NULL);
}

static int list_cb(void *data, uint32_t pid)
{
	return fdw_hashmap_put(data, pid, (void *)1) < 0 ? -ENOMEM : 0;
}

enum run_kind {
	RUN_PROC,   /* fdw_verify_proc: one process, differences to the caller */
	RUN_VERIFY, /* GET /v1/verify: the answer document */
	RUN_AUDIT,  /* a round of the audit: logs, counts, sweeps ghosts */
};

enum run_step {
	ST_PICK,     /* on the loop: the next process, or the end */
	ST_READ,     /* off: /proc/PID/fd of the process (a round) */
	ST_INFLIGHT, /* off: which differing fds a thread is changing */
	ST_LIST,     /* off: the pids /proc lists (ghosts; a verify of all: the unknown) */
	ST_END,
};

struct fdw_verify_run {
	struct fdw_checker *c;
	struct fdw_verify_run *next; /* c->runs */
	enum run_kind kind;
	enum run_step step;
	fdw_verify_done_fn done;
	void (*progress)(void *userdata);
	void *userdata;
	bool in_work;	/* a step in the thread pool: it frees an abandoned run */
	bool abandoned; /* nobody waits: stop at the next step */
	bool starting;	/* inside fdw_verify_start: it frees a run that ended */
	bool ended;
	bool single;	/* one process asked for by pid */

	uint32_t *pids; /* the processes to check, in order */
	size_t npids, next_pid;

	const char *proc_root;

	/* the process being checked */
	uint32_t pid, tid;
	int round;
	int work_err;
	uint64_t seq_before; /* the pipeline's last event at the round's first drain */
	bool unsettled;	     /* a verify: a window could not say which fds changed */
	bool in_pool;	     /* run_work runs in the pool, not on the loop */
	struct fdlist k, m;
	struct difflist cand, seen;
	struct intlist touched; /* drop_window_changes()'s */
	struct fdw_targets names;
	int result; /* of the last process: differences, or -errno */

	/* the ghost sweep: pids the model held when /proc was listed */
	uint32_t *held; /* sorted */
	size_t nheld;
	struct fdw_hashmap live;
	/* a verify of all: live processes /proc listed and the model did not
	 * hold, with their start (clock ticks after boot) */
	bool find_unknown;
	uint32_t self;
	double list_ticks; /* when the listing began */
	uint32_t *unknown;
	uint64_t *unknown_start;
	size_t nunknown, unknown_cap, unknown_start_cap;
	json_t *missing; /* the answer's missing_processes */

	/* the answer */
	json_t *diffs;
	uint64_t checked, errors, diffs_total;
	int fatal;
};

static void run_clear_proc(struct fdw_verify_run *r)
{
	fdlist_clear(&r->k);
	fdlist_clear(&r->m);
	fdw_targets_free(&r->names);
	r->cand.n = 0;
	r->seen.n = 0;
	r->unsettled = false;
}

static void run_free(struct fdw_verify_run *r)
{
	if (!r)
		return;
	run_clear_proc(r);
	free(r->cand.v);
	free(r->seen.v);
	free(r->touched.v);
	free(r->pids);
	free(r->held);
	free(r->unknown);
	free(r->unknown_start);
	fdw_hashmap_free(&r->live);
	json_decref(r->missing);
	json_decref(r->diffs);
	free(r);
}

/* Out of the checker's list (and counts): from then on it owns nothing of c's. */
static void run_unlink(struct fdw_verify_run *r)
{
	struct fdw_checker *c = r->c;

	if (!c)
		return;
	if (c->audit == r)
		c->audit = NULL;
	for (struct fdw_verify_run **pp = &c->runs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			c->nruns--;
			break;
		}
	r->c = NULL;
}

/* A table found wrong is known wrong: the pipeline re-reads it (off the
 * loop when it is big) rather than serve it. Counted with the audit's
 * divergences: both are the model caught disagreeing with /proc. */
static void repair(struct fdw_checker *c, uint32_t pid)
{
	c->stats.divergences++;
	fdw_pipeline_mark_lost(c->pipeline, pid);
}

/* A process that went away while we looked: if /proc has no trace of it,
 * its exit was lost or is still in flight; either way the model drops it. */
static void forget_if_gone(struct fdw_checker *c, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(c->model, pid);

	if (p)
		(void)fdw_pipeline_drop_if_gone(c->pipeline, p);
}

#define AUDIT_LOG_DIFFS 5 /* differences detailed per process (debug) */

static void audit_result(struct fdw_verify_run *r, uint32_t pid, int res, size_t ndiffs)
{
	struct fdw_checker *c = r->c;
	struct fdw_proc *p;
	char comm[17] = "?";

	if (res == -ESRCH) {
		forget_if_gone(c, pid); /* gone is normal; a ghost is not kept */
		return;
	}
	if (res < 0) {
		log_debug("audit: pid %u not checked: %s", pid, strerror(-res));
		return;
	}
	c->stats.checked++;
	if (!res)
		return;
	p = fdw_model_proc(c->model, pid);
	if (p && fdw_pipeline_drop_if_gone(c->pipeline, p))
		return; /* a zombie: its table reads as empty; not a divergence */
	if (p) {
		memcpy(comm, p->comm, 16);
		comm[16] = '\0';
	}
	log_warning("audit: pid %u (%s) diverged from /proc: %zu differences; table queued "
		    "for a re-read", pid, comm, ndiffs);
	for (size_t i = 0; i < json_array_size(r->diffs) && i < AUDIT_LOG_DIFFS; i++) {
		char *txt = json_dumps(json_array_get(r->diffs, i), JSON_COMPACT);

		if (txt)
			log_warning("audit:   %s", txt); /* rare, and what to report */
		free(txt);
	}
	json_array_clear(r->diffs);
	repair(c, pid);
}

/* What one process's check came to. */
static void proc_result(struct fdw_verify_run *r, int res)
{
	struct fdw_checker *c = r->c;
	size_t n = res > 0 ? (size_t)res : 0;

	r->result = res;
	switch (r->kind) {
	case RUN_PROC:
		break;
	case RUN_AUDIT:
		audit_result(r, r->pid, res, n);
		break;
	case RUN_VERIFY:
		if (res == -ENOMEM) {
			r->fatal = res;
		} else if (res == -ESRCH) {
			forget_if_gone(c, r->pid);
			if (r->single)
				r->fatal = -ENOENT; /* it exited while we looked */
		} else if (res < 0) {
			if (r->single)
				r->fatal = res;
			r->errors++;
		} else {
			r->checked++;
			/* unsettled: the table moved in ways no record names fd
			 * by fd; shown, neither counted nor re-read for that */
			if (res > 0 && !r->unsettled)
				repair(c, r->pid);
		}
		break;
	}
	run_clear_proc(r);
	r->step = ST_PICK;
	if (r->progress && r->kind == RUN_VERIFY)
		r->progress(r->userdata);
}

static void run_end(struct fdw_verify_run *r)
{
	json_t *doc = NULL;
	int err = r->fatal;

	r->ended = true;
	r->step = ST_END;
	if (r->kind == RUN_VERIFY && !err) {
		doc = json_pack("{s:b, s:I, s:I, s:O}", "ok",
				r->diffs_total == 0 && !json_array_size(r->missing), "checked",
				(json_int_t)r->checked, "errors", (json_int_t)r->errors,
				"differences", r->diffs);
		if (doc && r->missing &&
		    json_object_set(doc, "missing_processes", r->missing) < 0) {
			json_decref(doc);
			doc = NULL;
		}
		if (doc && r->diffs_total > json_array_size(r->diffs) &&
		    json_object_set_new(doc, "differences_total",
					json_integer((json_int_t)r->diffs_total)) < 0) {
			json_decref(doc);
			doc = NULL;
		}
		if (!doc)
			err = -ENOMEM;
	}
	run_unlink(r);
	if (r->done && !r->abandoned)
		r->done(r->userdata, doc, err);
	else
		json_decref(doc);
}

static int find_unknown(struct fdw_verify_run *r);

/* Off the loop: nothing of the loop's is touched, only the run's buffers. */
static void run_work(void *arg)
{
	struct fdw_verify_run *r = arg;

	switch (r->step) {
	case ST_READ:
		if (r->round)
			pause_briefly();
		r->k.names = &r->names;
		r->work_err = read_kernel(r->proc_root, r->tid, &r->k);
		break;
	case ST_INFLIGHT:
		mark_in_flight(r->proc_root, r->pid, &r->cand, r->in_pool);
		break;
	case ST_LIST:
		r->list_ticks = (double)fdw_now_boot() / 1e9 * fdw_clk_tck();
		r->work_err = fdw_proc_list_pids(r->proc_root, list_cb, &r->live);
		if (!r->work_err && r->find_unknown)
			r->work_err = find_unknown(r);
		break;
	default:
		break;
	}
}

/* Off the loop: of the pids listed, the live processes (not kernel
 * threads, not zombies or exiting) the model did not hold. 0 or -ENOMEM. */
static int find_unknown(struct fdw_verify_run *r)
{
	size_t it = 0;
	uint64_t key;

	while (fdw_hashmap_next(&r->live, &it, &key, NULL)) {
		uint32_t pid = (uint32_t)key, *tids = NULL;
		struct fdw_pid_stat st;
		unsigned int n = 0;

		if (pid == r->self ||
		    (r->nheld && bsearch(&pid, r->held, r->nheld, sizeof(pid), fdw_cmp_u32)))
			continue;
		if (fdw_pid_stat_read(r->proc_root, pid, &st) < 0 || (st.flags & FDW_PF_KTHREAD))
			continue;
		if (!fdw_pid_stat_live(&st)) {
			if (fdw_proc_list_tasks(r->proc_root, pid, &tids, &n) < 0)
				continue;
			n = fdw_proc_live_tasks(r->proc_root, pid, tids, n);
			free(tids);
			if (!n)
				continue; /* exited: only its reaping is to come */
		}
		if (FDW_GROW(r->unknown, r->nunknown, r->unknown_cap, 16) < 0 ||
		    FDW_GROW(r->unknown_start, r->nunknown, r->unknown_start_cap, 16) < 0)
			return -ENOMEM;
		r->unknown_start[r->nunknown] = st.starttime;
		r->unknown[r->nunknown++] = pid;
	}
	return 0;
}

/* On the loop, after a read of /proc/PID/fd: compare, and say what next. */
static void after_read(struct fdw_verify_run *r)
{
	struct fdw_checker *c = r->c;
	struct fdw_proc *p;
	int err = r->work_err;

	if (err < 0) {
		/* -ESRCH: gone (read_kernel says so for a missing /proc entry) */
		proc_result(r, err);
		return;
	}
	if (!fdw_pipeline_drain(c->pipeline) && r->kind == RUN_AUDIT) {
		/* the model is behind a probe preempted mid-record: a
		 * difference now says nothing (the audit looks again later) */
		proc_result(r, -EAGAIN);
		return;
	}
	p = fdw_model_proc(c->model, r->pid);
	if (!p) {
		proc_result(r, -ESRCH);
		return;
	}
	/* names of files renamed or deleted since they were opened, as read */
	fdw_model_apply_targets(c->model, p, &r->names);
	fdlist_clear(&r->m);
	err = read_model(fdw_model_proc_table(c->model, p), &r->m);
	if (!err) {
		r->seen.n = 0;
		err = compare(&r->k, &r->m, r->round ? &r->seen : &r->cand);
	}
	if (err < 0) {
		proc_result(r, err);
		return;
	}
	if (r->round)
		intersect(&r->cand, &r->seen);
	err = drop_window_changes(c, r->pid, r->seq_before, &r->cand, &r->touched);
	if (err < 0) {
		proc_result(r, err);
		return;
	}
	if (err > 0 && r->kind == RUN_AUDIT) {
		/* the process changed its table in ways the window does not
		 * name fd by fd (exec, io_uring, close_range, or more records
		 * than the history kept): no verdict; the audit comes back to
		 * it. A verify reports what it saw, marked unsettled. */
		c->stats.inconclusive++;
		proc_result(r, -EAGAIN);
		return;
	}
	if (err > 0)
		r->unsettled = true;
	if (!r->cand.n) {
		proc_result(r, 0);
		return;
	}
	if (++r->round < VERIFY_ROUNDS) {
		r->step = ST_READ; /* again, a moment later: in flight, or real? */
		return;
	}
	r->step = ST_INFLIGHT;
}

/* On the loop: catch the model up and keep in r->cand only what still
 * differs from the last /proc read. 0 or -errno (-EAGAIN: behind). */
static int recompare(struct fdw_verify_run *r)
{
	struct fdw_checker *c = r->c;
	struct fdw_proc *p;
	size_t before = r->cand.n;
	int err;

	if (!fdw_pipeline_drain(c->pipeline) && r->kind == RUN_AUDIT)
		return -EAGAIN;
	p = fdw_model_proc(c->model, r->pid);
	if (!p)
		return -ESRCH;
	fdlist_clear(&r->m);
	err = read_model(fdw_model_proc_table(c->model, p), &r->m);
	if (err)
		return err;
	r->seen.n = 0;
	err = compare(&r->k, &r->m, &r->seen);
	if (err)
		return err;
	intersect(&r->cand, &r->seen);
	c->stats.window_changes += before - r->cand.n;
	return 0;
}

static void after_in_flight(struct fdw_verify_run *r)
{
	size_t room = 0;
	int err;

	/* a close that released a file's last reference inside the syscall
	 * (a bpf_link: tens of ms) showed in /proc before its record, and has
	 * returned since: keep what the model, caught up, still has different
	 * from the last read */
	err = recompare(r);
	if (err) {
		proc_result(r, err);
		return;
	}
	drop_in_flight(r->c, &r->cand);
	if (r->diffs && json_array_size(r->diffs) < FDW_VERIFY_MAX_DIFFS)
		room = FDW_VERIFY_MAX_DIFFS - json_array_size(r->diffs);
	if (r->kind == RUN_PROC || r->kind == RUN_AUDIT)
		room = SIZE_MAX; /* the caller's array; the audit's, cleared per process */
	err = append_diffs(r->diffs, r->pid, &r->cand, &r->k, &r->m, room, r->unsettled);
	r->diffs_total += r->cand.n;
	if (r->cand.n > room)
		r->c->stats.diffs_truncated += r->cand.n - room;
	proc_result(r, err < 0 ? err : (int)r->cand.n);
}

/* The audit's ghost sweep, once /proc was listed: a process the model held
 * before the listing started and /proc did not list exited unseen. */
static void after_list(struct fdw_verify_run *r)
{
	struct fdw_checker *c = r->c;

	if (r->work_err == 0)
		for (size_t i = 0; i < r->nheld; i++)
			if (!fdw_hashmap_get(&r->live, r->held[i]))
				forget_if_gone(c, r->held[i]);
	r->step = ST_END;
	if (r->work_err < 0 || !r->find_unknown)
		return;
	/* still unknown once the model caught up (a fork record committed
	 * while /proc was listed is applied now): its fork record was lost.
	 * Born within a tick of the listing: its fork record may still be to
	 * come; not counted. */
	fdw_pipeline_drain(c->pipeline);
	for (size_t i = 0; i < r->nunknown; i++) {
		if (fdw_model_proc(c->model, r->unknown[i]) ||
		    (double)r->unknown_start[i] + 1 >= r->list_ticks)
			continue;
		if (json_array_append_new(r->missing, json_integer(r->unknown[i])) < 0) {
			r->fatal = -ENOMEM;
			return;
		}
	}
	if (json_array_size(r->missing)) {
		c->stats.processes_missing += json_array_size(r->missing);
		/* the repair: /proc scanned for every process the model lacks */
		fdw_pipeline_discover(c->pipeline);
	}
}

/* Every process the model holds but the daemon (reading its own /proc
 * entry changes its own table), into `out` (room for all): how many. */
static size_t model_pids(const struct fdw_model *m, uint32_t *out)
{
	uint32_t self = (uint32_t)getpid();
	size_t it = 0, n = 0;
	uint64_t key;

	while (fdw_hashmap_next(&m->procs, &it, &key, NULL))
		if ((uint32_t)key != self)
			out[n++] = (uint32_t)key;
	return n;
}

/* Every process the model holds but the daemon, by pid. */
static void all_pids(struct fdw_checker *c, struct fdw_verify_run *r)
{
	r->npids = model_pids(c->model, r->pids);
	if (r->npids) /* qsort(NULL, 0, ...) is undefined (UBSan) */
		qsort(r->pids, r->npids, sizeof(*r->pids), fdw_cmp_u32);
}

/* The model's pids, then /proc's (off the loop): every pid held was there
 * before the listing started. */
static bool sweep_prepare(struct fdw_verify_run *r)
{
	struct fdw_model *m = r->c->model;

	fdw_pipeline_drain(r->c->pipeline);
	free(r->held);
	r->nheld = 0;
	r->held = malloc((fdw_hashmap_size(&m->procs) + 1) * sizeof(*r->held));
	if (!r->held)
		return false;
	r->nheld = model_pids(m, r->held);
	if (r->nheld)
		qsort(r->held, r->nheld, sizeof(*r->held), fdw_cmp_u32);
	r->nunknown = 0;
	fdw_hashmap_free(&r->live);
	fdw_hashmap_init(&r->live);
	r->step = ST_LIST;
	return true;
}

/*
 * On the loop: set up the next step that reads /proc. true when there is
 * one (r->step says which), false when the run is over.
 */
static bool next_read(struct fdw_verify_run *r)
{
	struct fdw_checker *c = r->c;

	for (;;) {
		struct fdw_proc *p;

		if (r->abandoned || r->fatal || r->step == ST_END)
			return false;
		if (r->step == ST_INFLIGHT)
			return true;
		if (r->step == ST_PICK) {
			if (r->next_pid == r->npids) {
				if (r->kind != RUN_AUDIT && !r->find_unknown)
					return false;
				return sweep_prepare(r);
			}
			r->pid = r->pids[r->next_pid++];
			if (r->kind == RUN_AUDIT)
				c->audit_cursor = r->pid;
			r->round = 0;
			r->step = ST_READ;
		}
		/* ST_READ: the model first caught up with the ring */
		fdw_pipeline_drain(c->pipeline);
		r->seq_before = c->pipeline->seq;
		p = fdw_model_proc(c->model, r->pid);
		r->tid = p ? fdw_model_proc_tid(c->model, p) : 0;
		if (!p && r->single && !r->round && r->kind == RUN_VERIFY) {
			r->fatal = -ENOENT;
			return false;
		}
		if (!p && r->kind != RUN_PROC && !r->single && !r->round) {
			r->step = ST_PICK; /* the drains of earlier checks ended it */
			continue;
		}
		if (!r->tid) {
			proc_result(r, -ESRCH);
			continue;
		}
		fdlist_clear(&r->k);
		fdw_targets_free(&r->names);
		return true;
	}
}

static void after_work(struct fdw_verify_run *r)
{
	switch (r->step) {
	case ST_READ:
		after_read(r);
		break;
	case ST_INFLIGHT:
		after_in_flight(r);
		break;
	case ST_LIST:
		after_list(r);
		break;
	default:
		break;
	}
}

static void run_advance(struct fdw_verify_run *r);

static void run_work_done(void *arg)
{
	struct fdw_verify_run *r = arg;

	r->in_work = false;
	if (r->abandoned) {
		run_free(r); /* unlinked when abandoned */
		return;
	}
	after_work(r);
	run_advance(r);
}

/* Steps until one waits in the pool, or the end. */
static void run_advance(struct fdw_verify_run *r)
{
	while (next_read(r)) {
		struct fdw_checker *c = r->c;

		r->in_pool = true; /* read by run_work, there */
		if (c->offload && r->kind != RUN_PROC &&
		    c->offload(c->offload_userdata, run_work, run_work_done, r) == 0) {
			r->in_work = true;
			return;
		}
		r->in_pool = false;
		run_work(r); /* no pool: here */
		after_work(r);
	}
	run_end(r);
	if (!r->starting)
		run_free(r);
}

/* ---- the entry points --------------------------------------------------- */

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

static struct fdw_verify_run *run_new(struct fdw_checker *c, enum run_kind kind, size_t npids)
{
	struct fdw_verify_run *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->c = c;
	r->kind = kind;
	r->proc_root = c->proc_root;
	r->step = ST_PICK;
	fdw_hashmap_init(&r->live);
	r->pids = malloc((npids + 1) * sizeof(*r->pids));
	r->diffs = json_array();
	if (!r->pids || !r->diffs) {
		run_free(r);
		return NULL;
	}
	return r;
}

int fdw_verify_proc(struct fdw_checker *c, struct fdw_proc *p, json_t *diffs)
{
	struct fdw_verify_run *r = run_new(c, RUN_PROC, 1);
	int res;

	if (!r)
		return -ENOMEM;
	json_decref(r->diffs);
	r->diffs = json_incref(diffs);
	r->pids[r->npids++] = p->pid;
	r->starting = true;
	run_advance(r);
	res = r->result;
	run_free(r);
	return res;
}

int fdw_verify_start(struct fdw_checker *c, uint32_t pid, fdw_verify_done_fn done,
		     void (*progress)(void *userdata), void *userdata,
		     struct fdw_verify_run **run)
{
	struct fdw_verify_run *r;

	*run = NULL;
	if (c->nruns >= FDW_VERIFY_RUNS_MAX) {
		c->stats.verify_refused++;
		return -EBUSY;
	}
	fdw_pipeline_drain(c->pipeline);
	if (pid && !fdw_model_proc(c->model, pid))
		return -ENOENT;
	r = run_new(c, RUN_VERIFY, pid ? 1 : fdw_hashmap_size(&c->model->procs));
	if (!r)
		return -ENOMEM;
	r->done = done;
	r->progress = progress;
	r->userdata = userdata;
	if (pid) {
		r->single = true;
		r->pids[r->npids++] = pid;
	} else {
		all_pids(c, r);
		/* the model holds every process once the start-up scan ran:
		 * one /proc lists and it lacks is reported (missing_processes) */
		r->missing = json_array();
		if (!r->missing) {
			run_free(r);
			return -ENOMEM;
		}
		r->find_unknown = c->pipeline->covers_all;
		r->self = (uint32_t)getpid();
	}
	r->next = c->runs;
	c->runs = r;
	c->nruns++;
	r->starting = true;
	run_advance(r);
	r->starting = false;
	if (r->ended) {
		run_free(r);
		return 0;
	}
	*run = r;
	return 0;
}

void fdw_verify_abandon(struct fdw_verify_run *r)
{
	if (!r || r->abandoned)
		return;
	r->abandoned = true;
	r->done = NULL;
	run_unlink(r);
	/* a run is either in the pool or ended and freed: the pool's return
	 * frees it */
	if (!r->in_work)
		run_free(r);
}

void fdw_checker_stop(struct fdw_checker *c)
{
	while (c->runs)
		fdw_verify_abandon(c->runs);
	if (c->audit)
		fdw_verify_abandon(c->audit);
}

struct sync_answer {
	json_t *doc;
	int err;
};

static void sync_done(void *userdata, json_t *doc, int err)
{
	struct sync_answer *a = userdata;

	a->doc = doc;
	a->err = err;
}

json_t *fdw_verify(struct fdw_checker *c, uint32_t pid, int *err)
{
	struct sync_answer a = { 0 };
	fdw_offload_fn offload = c->offload;
	struct fdw_verify_run *r;
	int q;

	c->offload = NULL; /* to the end, here */
	q = fdw_verify_start(c, pid, sync_done, NULL, &a, &r);
	c->offload = offload;
	if (q < 0) {
		*err = q;
		return NULL;
	}
	if (!a.doc)
		*err = a.err ? a.err : -ENOMEM;
	return a.doc;
}

void fdw_audit_run(struct fdw_checker *c)
{
	struct fdw_verify_run *r;
	size_t start, take;

	if (c->audit) {
		c->stats.audit_skipped++;
		return;
	}
	c->stats.runs++;
	r = run_new(c, RUN_AUDIT, fdw_hashmap_size(&c->model->procs));
	if (!r)
		return;
	/* the daemon's own table changes as it reads /proc: not checked */
	all_pids(c, r);
	/* round-robin by pid: the `audit_sample` after the cursor */
	for (start = 0; start < r->npids && r->pids[start] <= c->audit_cursor; start++)
		;
	take = c->audit_sample < r->npids ? c->audit_sample : r->npids;
	if (start && take) {
		uint32_t *v = malloc(take * sizeof(*v));

		if (!v) {
			run_free(r);
			return;
		}
		for (size_t i = 0; i < take; i++)
			v[i] = r->pids[(start + i) % r->npids];
		memcpy(r->pids, v, take * sizeof(*v));
		free(v);
	}
	r->npids = take;
	c->audit = r;
	r->starting = true;
	run_advance(r);
	r->starting = false;
	if (r->ended)
		run_free(r);
}
