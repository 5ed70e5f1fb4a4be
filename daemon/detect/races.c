// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Races and misuse of descriptors (issue 9), from the model's events:
 *
 *   double-close     close() returned EBADF: the fd was not open. The
 *                    slot's history says who created the generation that
 *                    was open before and who closed it, or that the table
 *                    never had the number open. A thread closing a run of
 *                    three or more numbers (in_sweep) is the classic
 *                    close-everything loop, not a bug: excused (counted).
 *   use-after-close  a syscall using an fd (read, fstat, lseek, send, ...)
 *                    returned EBADF (bpf/races.bpf.h) and the fd had been
 *                    closed. When the kernel saw the fd open at the exit and
 *                    so does the model, the EBADF was about the access mode
 *                    (write() on an O_RDONLY fd): not a finding. When the
 *                    kernel saw it closed but the model still has it open,
 *                    the close's record is behind this one in the ring (two
 *                    threads): the finding waits for the next tick, by when
 *                    the slot's history names the close.
 *   close-in-flight  close/dup2/dup3/close_range found another thread of
 *                    the table blocked in a syscall on the fd (the kernel
 *                    walks the threads, races.bpf.h).
 *   dup2-clobber     dup2/dup3 replaced an open fd above 2 that another
 *                    thread of the process created: the atomic replace hid
 *                    a close. A replacement by the same file (a log
 *                    reopened under its path) is excused.
 *
 * The pre-close idiom (OpenJDK's way to abort a blocked call on a channel
 * it closes): dup2(placeholder, fd), signal the blocked threads, close(fd)
 * once none is in a call on it, within milliseconds. The number stays
 * allocated until that close, so nothing can reuse it under the blocked
 * call, and a dup2 followed by a close is no more than a close. A
 * close-in-flight or dup2-clobber of a dup2/dup3 waits (struct race_wait,
 * RACE_PRECLOSE_WAIT per process, the excess dropped and counted) until
 * the generation it installed is closed, which excuses it when that came
 * within race_preclose_ms of the dup2; past that, it is a finding. A close
 * while a thread is still blocked makes its own close-in-flight.
 *
 * Findings are kept per process and kind (RACE_FINDINGS distinct ones, a
 * repeat of the same site only counts), in state allocated on the first
 * one (max_race_procs processes); each kind is one alert per process,
 * fired (or refreshed) at the tick after a new finding, resolved after
 * race_quiet seconds without one or when the process exits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "capture/capture.h"
#include "capture/syscalls.h"
#include "detect/detector.h"
#include "detect/evidence.h"

static const enum fdw_alert_kind alert_kind[RACE_KINDS] = {
	[RACE_DOUBLE_CLOSE] = FDW_ALERT_DOUBLE_CLOSE,
	[RACE_USE_AFTER_CLOSE] = FDW_ALERT_USE_AFTER_CLOSE,
	[RACE_CLOSE_IN_FLIGHT] = FDW_ALERT_CLOSE_IN_FLIGHT,
	[RACE_DUP2_CLOBBER] = FDW_ALERT_DUP2_CLOBBER,
	[RACE_FD_REUSE] = FDW_ALERT_FD_REUSE,
};

#define EBADF_RET (-(int64_t)EBADF)

/* ---- state ------------------------------------------------------------------ */

/*
 * Findings state is kept for max_race_procs processes, until they exit.
 * Shared by owner as the alert store is (fdw_alerts_admit): system
 * accounts' processes may take it all; any other owner (a user's uid,
 * "mixed", "unknown") at most a quarter, and those owners together all
 * but the last eighth. Before, one user's 1,024 idle two-thread
 * processes, each with one double close, took every slot for as long as
 * they lived, and no other process on the host had a race finding again.
 */
static bool race_owner_admit(struct fdw_leaks *l, uint32_t owner)
{
	size_t max = l->cfg.max_race_procs;

	if (fdw_alert_owner_system(owner))
		return true;
	return (uintptr_t)fdw_hashmap_get(&l->race_owners, owner) < fdw_alerts_share(max) &&
	       l->race_users < max - fdw_alerts_reserve(max);
}

static int race_owner_count(struct fdw_leaks *l, uint32_t owner, int d)
{
	uintptr_t n = (uintptr_t)fdw_hashmap_get(&l->race_owners, owner);

	if (fdw_alert_owner_system(owner))
		return 0;
	if (d < 0) {
		if (!n)
			return 0;
		if (n == 1)
			(void)fdw_hashmap_remove(&l->race_owners, owner);
		else
			(void)fdw_hashmap_put(&l->race_owners, owner, (void *)(n - 1));
		l->race_users--;
		return 0;
	}
	if (fdw_hashmap_put(&l->race_owners, owner, (void *)(n + 1)) < 0)
		return -ENOMEM;
	l->race_users++;
	return 0;
}

static struct leak_races *races_get(struct fdw_leaks *l, struct leak_proc *st)
{
	uint32_t owner;

	if (st->races)
		return st->races;
	if (l->stats.race_procs >= l->cfg.max_race_procs) {
		l->stats.race_dropped_procs++;
		return NULL;
	}
	owner = leak_owner(l, st);
	if (!race_owner_admit(l, owner)) {
		l->stats.race_dropped_procs++;
		l->stats.race_dropped_procs_share++;
		return NULL;
	}
	st->races = calloc(1, sizeof(*st->races));
	if (!st->races)
		return NULL;
	if (race_owner_count(l, owner, 1) < 0) {
		free(st->races);
		st->races = NULL;
		return NULL;
	}
	st->races->owner = owner;
	st->races->sweep_fd = -2;
	l->stats.race_procs++;
	return st->races;
}

static void origin_of_event(struct fdw_origin *o, const struct fdw_event *ev,
			    const struct fdw_proc *p)
{
	memset(o, 0, sizeof(*o));
	o->nr = ev->nr;
	o->source = FDW_SRC_EVENT;
	o->from_fd = -1;
	o->tid = ev->tid;
	o->pid = ev->pid;
	o->ts = ev->ts;
	o->seq = ev->seq;
	memcpy(o->comm, p->comm, sizeof(o->comm));
}

/* Fill the generation a finding hit from slot history entry h. */
static void gen_from_hist(struct race_finding *f, const struct fdw_fd_history *h)
{
	char name[FDW_OFD_NAME_BUF];
	const char *t = fdw_fd_history_target(h, name);

	f->has_gen = true;
	f->generation = h->generation;
	f->origin = *fdw_origin_at(h->origin);
	f->closed = *fdw_origin_at(h->closed);
	snprintf(f->target, sizeof(f->target), "%s", t ? t : "");
}

/* The newest closed generation of a slot created before event `seq` (0: any). */
static const struct fdw_fd_history *closed_gen(const struct fdw_model *m, const struct fdw_slot *s,
					       uint64_t seq)
{
	for (unsigned int i = 0; s && i < fdw_slot_nhist(m, s); i++) {
		const struct fdw_fd_history *h = fdw_slot_history(m, s, i);
		uint64_t hseq = h ? fdw_origin_at(h->origin)->seq : 0;

		if (h && (!seq || !hseq || hseq < seq))
			return h;
	}
	return NULL;
}

/* Two findings are one site: same fd, same syscall, same creator of the
 * generation hit (or both never opened). */
static bool same_site(const struct race_finding *a, const struct race_finding *b)
{
	return a->fd == b->fd && a->nr == b->nr && a->other_nr == b->other_nr &&
	       a->never_opened == b->never_opened && a->origin.nr == b->origin.nr &&
	       a->pending == b->pending;
}

/*
 * A process with a finding is worth watching closer: deep mode (each
 * thread's last file per fd number, in the kernel) finds fd-reuse.
 */
static void deep_on(struct fdw_leaks *l, struct leak_races *r, uint32_t pid)
{
	if (r->deep || r->deep_refused || !l->cfg.race_deep || !l->capture)
		return;
	if (l->stats.race_deep >= l->cfg.max_deep || fdw_capture_deep(l->capture, pid, true) < 0) {
		r->deep_refused = true;
		l->stats.race_deep_refused++;
		return;
	}
	r->deep = true;
	l->stats.race_deep++;
}

/* Keep finding f (copied) of kind k; a repeat of a kept site counts in it. */
static struct race_finding *add_finding(struct fdw_leaks *l, struct leak_races *r,
					enum race_kind k, const struct race_finding *f)
{
	struct leak_race_kind *rk = &r->k[k];

	rk->total++;
	rk->fresh++;
	rk->last_ts = f->ts;
	l->stats.race_findings[k]++;
	for (unsigned int i = 0; i < rk->n; i++) {
		if (same_site(&rk->f[i], f)) {
			rk->f[i].count++;
			rk->f[i].last_ts = f->ts;
			rk->f[i].tid = f->tid;
			l->stats.race_repeats++;
			return &rk->f[i];
		}
	}
	if (!rk->f)
		rk->f = calloc(RACE_FINDINGS, sizeof(*rk->f));
	if (!rk->f || rk->n >= RACE_FINDINGS) {
		rk->dropped++;
		l->stats.race_dropped++;
		return NULL;
	}
	rk->f[rk->n] = *f;
	rk->f[rk->n].count = 1;
	rk->f[rk->n].last_ts = f->ts;
	return &rk->f[rk->n++];
}

static struct race_finding *report(struct fdw_leaks *l, struct leak_races *r, enum race_kind k,
				   const struct race_finding *f, uint32_t pid)
{
	deep_on(l, r, pid);
	return add_finding(l, r, k, f);
}

static void new_finding(struct race_finding *f, const struct fdw_event *ev, int fd)
{
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->nr = ev->nr;
	f->tid = ev->tid;
	f->seq = ev->seq;
	f->ts = ev->ts;
}

/* ---- the pre-close idiom ----------------------------------------------------- */

static uint64_t preclose_ns(const struct fdw_leaks *l)
{
	return (uint64_t)l->cfg.race_preclose_ms * 1000000ull;
}

/*
 * Finding f of kind k, by the dup2/dup3 whose event was install_seq, waits
 * for a close of what that dup2 installed; with no room it is dropped,
 * counted (a process making RACE_PRECLOSE_WAIT such replaces within the
 * window either does the idiom at that rate, or has findings enough
 * waiting already).
 */
static void preclose_wait(struct fdw_leaks *l, struct leak_races *r, enum race_kind k,
			  const struct race_finding *f, uint64_t install_seq)
{
	struct race_wait *w;

	if (!r->wait)
		r->wait = calloc(RACE_PRECLOSE_WAIT, sizeof(*r->wait));
	if (!r->wait || r->nwait >= RACE_PRECLOSE_WAIT) {
		l->stats.race_preclose_dropped++;
		return;
	}
	w = &r->wait[r->nwait++];
	l->race_waits++;
	w->f = *f;
	w->install_seq = install_seq;
	w->kind = k;
}

static void preclose_drop(struct fdw_leaks *l, struct leak_races *r, unsigned int i)
{
	r->wait[i] = r->wait[--r->nwait];
	if (l->race_waits)
		l->race_waits--;
}

/*
 * The generation of fd that the dup2/dup3 of event install_seq installed
 * was closed at time ts: the findings waiting on it are the idiom when
 * that came within the window (later, they wait for the tick).
 */
static void preclose_closed(struct fdw_leaks *l, struct leak_races *r, int fd,
			    uint64_t install_seq, uint64_t ts)
{
	for (unsigned int i = 0; i < r->nwait;) {
		struct race_wait *w = &r->wait[i];

		if (w->f.fd != fd || w->install_seq != install_seq ||
		    (ts > w->f.ts && ts - w->f.ts > preclose_ns(l))) {
			i++;
			continue;
		}
		l->stats.race_preclose++;
		preclose_drop(l, r, i);
	}
}

/* A close of fd (slot: what it closed) in a process with findings waiting. */
static void on_close(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev, int fd,
		     const struct fdw_slot *slot)
{
	struct leak_proc *st;

	/* every close of the host comes here: nothing to look up while no
	 * finding waits anywhere */
	if (!l->race_waits)
		return;
	st = leak_proc_find(l, p);
	if (!st || !st->races || !st->races->nwait || !fdw_slot_open(slot))
		return;
	preclose_closed(l, st->races, fd, fdw_slot_origin(slot)->seq, ev->ts);
}

/* The waiting past the window are findings now (the pipeline was drained
 * before the tick: a close within the window was applied). */
static void preclose_expire(struct fdw_leaks *l, struct leak_races *r, uint32_t pid,
			    uint64_t now)
{
	for (unsigned int i = 0; i < r->nwait;) {
		struct race_wait *w = &r->wait[i];
		struct race_finding f;
		enum race_kind k;

		if (now <= w->f.ts || now - w->f.ts <= preclose_ns(l)) {
			i++;
			continue;
		}
		f = w->f;
		k = w->kind;
		preclose_drop(l, r, i);
		(void)report(l, r, k, &f, pid);
	}
}

/* ---- the events --------------------------------------------------------------- */

/*
 * A single-threaded process that closes or uses a number it closed itself
 * got EBADF and nothing else: harmless there (shells do it), and no other
 * thread can have reused the number in between. Counted, not reported.
 */
static bool single_threaded(struct fdw_leaks *l, const struct fdw_proc *p,
			    const struct fdw_event *ev, const struct fdw_fd_history *h)
{
	uint32_t closer = h ? fdw_origin_at(h->closed)->tid : 0;

	if (p->ntasks > 1 || (closer && closer != ev->tid))
		return false;
	l->stats.race_single_thread++;
	return true;
}

/*
 * The close-everything loop (a daemon, a child before its exec): one
 * thread closes number after number, up or down, getting EBADF for those
 * not open and closing the few open on its way. SWEEP_RUN numbers in a row
 * make one, counting the open ones it closed on its way (their slot's last
 * close is this thread's, within SWEEP_LATELY_NS; SWEEP_GAP of them at most
 * between two EBADF). Fewer are no loop: a pipe's two ends closed twice
 * (close(p[0]); close(p[1]) run twice) is two findings, not an excuse. A
 * run's findings made before it was SWEEP_RUN long are taken back.
 */
#define SWEEP_RUN 3
#define SWEEP_GAP 16
#define SWEEP_LATELY_NS 1000000ull /* 1 ms: a loop closes a number in a microsecond */

/* Was number n of table t closed by thread tid lately before ts, by a
 * close after event `after_seq`? */
static bool closed_lately(struct fdw_leaks *l, const struct fdw_table *t, int n, uint32_t tid,
			  uint64_t ts, uint64_t after_seq)
{
	const struct fdw_slot *s = n >= 0 ? fdw_table_slot(t, n) : NULL;
	const struct fdw_fd_history *h;
	const struct fdw_origin *c;

	if (!s || fdw_slot_open(s))
		return false;
	h = closed_gen(l->m, s, 0);
	c = h ? fdw_origin_at(h->closed) : NULL;
	return c && c->tid == tid && c->ts <= ts && ts - c->ts <= SWEEP_LATELY_NS &&
	       c->seq > after_seq;
}

/* How many numbers next to fd, going `dir` away from it, thread tid
 * closed lately (at most `max`). */
static unsigned int closed_run(struct fdw_leaks *l, const struct fdw_table *t, int fd, int dir,
			       uint32_t tid, uint64_t ts, uint64_t after_seq, unsigned int max)
{
	unsigned int k = 0;

	while (k < max && closed_lately(l, t, fd + dir * (int)(k + 1), tid, ts, after_seq))
		k++;
	return k;
}

/* Take back the double-close finding kept as `seq` (one count of it). */
static void sweep_take_back(struct fdw_leaks *l, struct leak_races *r, uint64_t seq)
{
	struct leak_race_kind *rk = &r->k[RACE_DOUBLE_CLOSE];

	for (unsigned int i = 0; i < rk->n; i++) {
		if (rk->f[i].seq != seq)
			continue;
		if (rk->f[i].count > 1)
			rk->f[i].count--;
		else
			rk->f[i] = rk->f[--rk->n];
		if (rk->total)
			rk->total--;
		if (rk->fresh)
			rk->fresh--;
		if (l->stats.race_findings[RACE_DOUBLE_CLOSE])
			l->stats.race_findings[RACE_DOUBLE_CLOSE]--;
		l->stats.race_sweeps++;
		return;
	}
}

/* Is the EBADF close of fd by ev's thread in a close-everything loop?
 * Moves the run on (r->sweep_*); takes back its earlier findings once it
 * is one. */
static bool in_sweep(struct fdw_leaks *l, struct leak_races *r, struct fdw_proc *p,
		     const struct fdw_event *ev, int fd, const struct fdw_fd_history *h)
{
	const struct fdw_table *t = fdw_model_proc_table(l->m, p);
	const struct fdw_origin *own = h ? fdw_origin_at(h->closed) : NULL;
	int d = fd - r->sweep_fd, dir = d > 0 ? 1 : -1;
	unsigned int gap = (unsigned int)(d > 0 ? d : -d) - 1;

	if (r->sweep_tid == ev->tid && d && gap <= SWEEP_GAP &&
	    (!r->sweep_dir || r->sweep_dir == dir) &&
	    closed_run(l, t, r->sweep_fd, dir, ev->tid, ev->ts, 0, gap) == gap) {
		/* on from the last one, over what it closed on its way */
		r->sweep_dir = dir;
		r->sweep_len += gap + 1;
	} else {
		/* a run of its own, after what it closed just before; not
		 * when it closed this number itself after those (close(a),
		 * close(b), close(b) again is a double close) */
		uint64_t after = own && own->tid == ev->tid ? own->seq : 0;
		unsigned int below = closed_run(l, t, fd, -1, ev->tid, ev->ts, after, SWEEP_RUN - 1);
		unsigned int above = closed_run(l, t, fd, 1, ev->tid, ev->ts, after, SWEEP_RUN - 1);

		r->sweep_tid = ev->tid;
		r->sweep_dir = below > above ? 1 : above > below ? -1 : 0;
		r->sweep_len = 1 + (below > above ? below : above);
		r->sweep_npending = 0;
	}
	r->sweep_fd = fd;
	if (r->sweep_len < SWEEP_RUN)
		return false;
	while (r->sweep_npending)
		sweep_take_back(l, r, r->sweep_pending[--r->sweep_npending]);
	l->stats.race_sweeps++;
	return true;
}

/*
 * close() of an fd that was not open. `slot` is the model's (before this
 * event when the model agreed the fd was closed; when the model had it open
 * it closed it now, and this event is the last close in its history).
 */
static void on_double_close(struct fdw_leaks *l, struct leak_proc *st, struct fdw_proc *p,
			    const struct fdw_event *ev, int fd, const struct fdw_slot *slot)
{
	struct leak_races *r;
	struct race_finding f, *kept;
	const struct fdw_fd_history *h;

	if (fd < 0)
		return; /* close(-1): the probe filters these already */
	r = races_get(l, st);
	if (!r)
		return;
	h = slot ? closed_gen(l->m, slot, 0) : NULL;
	if (in_sweep(l, r, p, ev, fd, h))
		return;
	if (single_threaded(l, p, ev, h))
		return;
	new_finding(&f, ev, fd);
	if (h) {
		gen_from_hist(&f, h);
		if (fdw_origin_at(h->closed)->seq == ev->seq) {
			/* the model had it open: the close that freed it is another
			 * thread's, whose record comes after this one */
			f.concurrent = true;
			memset(&f.closed, 0, sizeof(f.closed));
		}
	} else {
		/* a slot ever used has an origin (the generation wraps) */
		f.never_opened = slot == NULL || !slot->origin;
		if (!f.never_opened)
			return; /* had generations, none kept: nothing to show */
	}
	kept = report(l, r, RACE_DOUBLE_CLOSE, &f, p->pid);
	if (kept && r->sweep_npending < sizeof(r->sweep_pending) / sizeof(r->sweep_pending[0]))
		r->sweep_pending[r->sweep_npending++] = kept->seq;
}

static void on_bad_fd(struct fdw_leaks *l, struct leak_proc *st, struct fdw_proc *p,
		      const struct fdw_event *ev, int fd, const struct fdw_slot *slot)
{
	struct leak_races *r;
	struct race_finding f;
	const struct fdw_fd_history *h;

	if (fdw_slot_open(slot)) {
		if (ev->race_flags & FDW_BADF_OPEN_AT_EXIT) {
			/* open before and after: the access mode was wrong */
			l->stats.race_wrong_mode++;
			return;
		}
		/* the kernel had it closed: the close is behind us in the ring */
		r = races_get(l, st);
		if (!r)
			return;
		new_finding(&f, ev, fd);
		f.pending = true;
		(void)report(l, r, RACE_USE_AFTER_CLOSE, &f, p->pid);
		return;
	}
	h = closed_gen(l->m, slot, ev->seq);
	if (!h) {
		l->stats.race_never_opened++;
		return;
	}
	if (single_threaded(l, p, ev, h))
		return;
	r = races_get(l, st);
	if (!r)
		return;
	new_finding(&f, ev, fd);
	gen_from_hist(&f, h);
	(void)report(l, r, RACE_USE_AFTER_CLOSE, &f, p->pid);
}

static void on_in_flight(struct fdw_leaks *l, struct leak_proc *st, struct fdw_proc *p,
			 const struct fdw_event *ev, int fd, const struct fdw_slot *slot)
{
	struct leak_races *r = races_get(l, st);
	const struct fdw_fd_history *h;
	struct race_finding f;

	if (!r)
		return;
	new_finding(&f, ev, fd);
	f.other_nr = ev->other_nr;
	f.other_tid = ev->other_tid;
	memcpy(f.other_comm, ev->comm, sizeof(f.other_comm));
	/* the generation the close ended: the newest in the history */
	h = closed_gen(l->m, slot, 0);
	if (h)
		gen_from_hist(&f, h);
	if ((ev->nr == FDW_SYS_DUP2 || ev->nr == FDW_SYS_DUP3) && l->cfg.race_preclose_ms &&
	    slot) {
		/* a replace: the pre-close idiom, when a close of what it put
		 * there follows (this record comes after the dup2's) */
		const struct fdw_origin *so = fdw_slot_origin(slot);
		const struct fdw_origin *ho = h ? fdw_origin_at(h->origin) : NULL;
		const struct fdw_origin *hc = h ? fdw_origin_at(h->closed) : NULL;

		if (fdw_slot_open(slot) && so->tid == ev->tid && so->nr == ev->nr &&
		    so->seq < ev->seq) {
			preclose_wait(l, r, RACE_CLOSE_IN_FLIGHT, &f, so->seq);
			return;
		}
		if (!fdw_slot_open(slot) && ho && hc && ho->tid == ev->tid && ho->nr == ev->nr &&
		    ho->seq < ev->seq && hc->ts >= ho->ts && hc->ts - ho->ts <= preclose_ns(l)) {
			/* closed already: the whole idiom before this record */
			l->stats.race_preclose++;
			return;
		}
	}
	(void)report(l, r, RACE_CLOSE_IN_FLIGHT, &f, p->pid);
}

/* dup2/dup3 is about to replace the open fd `fd` (slot: the old generation). */
static void on_clobber(struct fdw_leaks *l, struct leak_proc *st, struct fdw_proc *p,
		       const struct fdw_event *ev, int fd, const struct fdw_slot *slot)
{
	const struct fdw_table *t = fdw_model_proc_table(l->m, p);
	const struct fdw_origin *so;
	char buf[FDW_OFD_NAME_BUF], src_buf[FDW_OFD_NAME_BUF];
	const char *target, *src_target;
	const struct fdw_slot *src;
	struct leak_races *r;
	struct race_finding f;

	if (fd <= 2 || !fdw_slot_open(slot) || (ev->nr != FDW_SYS_DUP2 && ev->nr != FDW_SYS_DUP3))
		return;
	/* created by another thread of this process, by a syscall we saw */
	so = fdw_slot_origin(slot);
	if (so->source != FDW_SRC_EVENT || so->pid != ev->pid || !so->tid || so->tid == ev->tid)
		return;
	/* the same file again (a log reopened under its path): no surprise */
	src = fdw_table_slot(t, (int)ev->args[0]);
	target = fdw_ofd_target(fdw_slot_ofd(slot), buf);
	if (fdw_slot_open(src) && target && (src_target = fdw_ofd_target(fdw_slot_ofd(src), src_buf)) &&
	    !strcmp(src_target, target))
		return;
	r = races_get(l, st);
	if (!r)
		return;
	new_finding(&f, ev, fd);
	f.has_gen = true;
	f.generation = slot->generation;
	f.origin = *fdw_slot_origin(slot);
	origin_of_event(&f.closed, ev, p);
	f.closed.from_fd = (int32_t)ev->args[0];
	snprintf(f.target, sizeof(f.target), "%s", target ? target : "");
	/* the generation this dup2 installs has its event for an origin */
	if (l->cfg.race_preclose_ms) {
		preclose_wait(l, r, RACE_DUP2_CLOBBER, &f, ev->seq);
		return;
	}
	(void)report(l, r, RACE_DUP2_CLOBBER, &f, p->pid);
}

/*
 * Deep mode: thread ev->tid used fd, which names another file than at its
 * previous use. A finding when another thread closed the file it used and
 * another thread put a different kind of file there: the handoff of a
 * number between threads (it closed it itself, or the number now holds the
 * same kind of file, made the same way: the next accepted client) is what
 * correct programs do.
 */
static void on_reuse(struct fdw_leaks *l, struct leak_proc *st, struct fdw_proc *p,
		     const struct fdw_event *ev, int fd, const struct fdw_slot *slot)
{
	char buf[FDW_OFD_NAME_BUF];
	const struct fdw_fd_history *h;
	const char *target;
	const struct fdw_origin *so;
	struct leak_races *r;
	struct race_finding f;

	if (!fdw_slot_open(slot))
		return;
	h = closed_gen(l->m, slot, 0);
	so = fdw_slot_origin(slot);
	if (so->tid == ev->tid || !so->tid || (h && fdw_origin_at(h->closed)->tid == ev->tid) ||
	    ((ev->old_mode & S_IFMT) == (ev->mode & S_IFMT) &&
	     (!h || fdw_origin_at(h->origin)->nr == so->nr))) {
		l->stats.race_reuse_excused++;
		return;
	}
	r = races_get(l, st);
	if (!r)
		return;
	new_finding(&f, ev, fd);
	f.other_nr = ev->other_nr;
	if (h)
		gen_from_hist(&f, h);
	f.reopened = *fdw_slot_origin(slot);
	/* not f.target: that is the closed generation's (gen_from_hist) */
	target = fdw_ofd_target(fdw_slot_ofd(slot), buf);
	snprintf(f.reopened_target, sizeof(f.reopened_target), "%s", target ? target : "");
	(void)add_finding(l, r, RACE_FD_REUSE, &f);
}

static void races_on_fd_event(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			      fdw_leak_fdev_kind kind, int fd, const struct fdw_slot *slot)
{
	struct leak_proc *st;

	if (!l->cfg.races)
		return;
	if (kind == FDW_FDEV_CLOSE) {
		/* every close of the host: no state made for it */
		on_close(l, p, ev, fd, slot);
		return;
	}
	st = leak_proc_get(l, p, ev->ts);
	if (!st)
		return;
	switch (kind) {
	case FDW_FDEV_DOUBLE_CLOSE:
		if (ev->ret == EBADF_RET)
			on_double_close(l, st, p, ev, fd, slot);
		break;
	case FDW_FDEV_BAD_FD:
		on_bad_fd(l, st, p, ev, fd, slot);
		break;
	case FDW_FDEV_IN_FLIGHT:
		on_in_flight(l, st, p, ev, fd, slot);
		break;
	case FDW_FDEV_CLOBBER:
		on_clobber(l, st, p, ev, fd, slot);
		break;
	case FDW_FDEV_REUSE:
		on_reuse(l, st, p, ev, fd, slot);
		break;
	default:
		break;
	}
}

/* ---- evidence and alerts ------------------------------------------------------- */

static double real_of(uint64_t ts, uint64_t now, double now_real)
{
	return now_real - (double)(now > ts ? now - ts : 0) / 1e9;
}

static json_t *origin_json(const struct fdw_origin *o, uint64_t now, double now_real)
{
	if (!o->nr && !o->tid && !o->ts)
		return json_null();
	/* "seq": the event's (GET /v1/events), also what tells whether a
	 * client may see it (server/alert_view.c) */
	return json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "syscall", leak_json_syscall(o->nr),
			 "source", fdw_origin_source_name(o->source),
			 "seq", o->seq ? json_integer((json_int_t)o->seq) : json_null(),
			 "pid", o->pid ? json_integer(o->pid) : json_null(),
			 "tid", o->tid ? json_integer(o->tid) : json_null(),
			 "comm", o->comm[0] ? fdw_json_bytes(o->comm) : json_null(),
			 "from_fd", o->from_fd >= 0 ? json_integer(o->from_fd) : json_null(),
			 "time", leak_json_num(o->ts != 0, real_of(o->ts, now, now_real)),
			 "age_s", leak_json_num(o->ts != 0, leak_age_s(o->ts, now)));
}

static json_t *finding_json(enum race_kind k, const struct leak_proc *st,
			    const struct race_finding *f, uint64_t now, double now_real)
{
	/* "seq": its (first) event, what tells whether a client may see it
	 * (server/alert_view.c) */
	json_t *o = json_pack("{s:s, s:i, s:i, s:o, s:I, s:o, s:I, s:f, s:f, s:b}",
			      "kind", fdw_alert_kind_name(alert_kind[k]),
			      "pid", (int)st->pid,
			      "fd", f->fd,
			      "seq", f->seq ? json_integer((json_int_t)f->seq) : json_null(),
			      "tid", (json_int_t)f->tid,
			      "syscall", leak_json_syscall(f->nr),
			      "count", (json_int_t)f->count,
			      "time", real_of(f->ts, now, now_real),
			      "last_time", real_of(f->last_ts, now, now_real),
			      "never_opened", f->never_opened);

	if (!o)
		return NULL;
	if (k == RACE_CLOSE_IN_FLIGHT) {
		(void)json_object_set_new(o, "blocked_tid", json_integer(f->other_tid));
		(void)json_object_set_new(o, "blocked_syscall", leak_json_syscall(f->other_nr));
		(void)json_object_set_new(o, "blocked_comm", fdw_json_bytes(f->other_comm));
	}
	if (f->concurrent)
		(void)json_object_set_new(o, "concurrent", json_true());
	if (k == RACE_FD_REUSE) {
		(void)json_object_set_new(o, "previous_syscall", leak_json_syscall(f->other_nr));
		(void)json_object_set_new(o, "reopened", origin_json(&f->reopened, now, now_real));
		(void)json_object_set_new(o, "target", f->reopened_target[0]
							       ? fdw_json_bytes(f->reopened_target)
							       : json_null());
	}
	if (f->has_gen) {
		json_t *g = json_pack("{s:I, s:o, s:o, s:o}",
				      "generation", (json_int_t)f->generation,
				      "target", f->target[0] ? fdw_json_bytes(f->target) : json_null(),
				      "created", origin_json(&f->origin, now, now_real),
				      "closed", origin_json(&f->closed, now, now_real));

		(void)json_object_set_new(o, "generation", g ? g : json_null());
	} else {
		(void)json_object_set_new(o, "generation", json_null());
	}
	return o;
}

/* The thread of origin `key` of finding f's generation: "(hidden)" when
 * server/alert_view.c hid the generation, else its tid (0: none known). */
static const char *gen_tid(const json_t *f, const char *key, char *buf, size_t len)
{
	const json_t *g = json_object_get(f, "generation");

	if (json_is_true(json_object_get(g, "hidden")))
		return "(hidden)";
	snprintf(buf, len, "%lld",
		 (long long)json_integer_value(json_object_get(json_object_get(g, key), "tid")));
	return buf;
}

void fdw_race_summary(const json_t *ev, char *buf, size_t len)
{
	const json_t *findings = json_object_get(ev, "findings");
	const json_t *f = json_array_get(findings, 0);
	const char *kind = json_string_value(json_object_get(f, "kind"));
	const char *sc = json_string_value(json_object_get(f, "syscall"));
	long long tid = json_integer_value(json_object_get(f, "tid"));
	int fd = (int)json_integer_value(json_object_get(f, "fd"));
	char t1[24], t2[24];
	size_t o;

	if (!sc)
		sc = "?";
	if (json_is_true(json_object_get(f, "hidden"))) {
		/* server/alert_view.c: not the client's to see */
		snprintf(buf, len, "%s on fd %d (hidden)", kind ? kind : "race", fd);
	} else {
		switch (fdw_alert_kind_from_name(kind)) {
		case FDW_ALERT_DOUBLE_CLOSE:
			if (json_is_true(json_object_get(f, "never_opened")))
				snprintf(buf, len, "thread %lld closed fd %d, which was never opened",
					 tid, fd);
			else if (json_is_true(json_object_get(f, "concurrent")))
				snprintf(buf, len,
					 "threads closed fd %d twice at once (thread %lld second)",
					 fd, tid);
			else
				snprintf(buf, len,
					 "thread %lld closed fd %d again (closed by thread %s before)",
					 tid, fd, gen_tid(f, "closed", t1, sizeof(t1)));
			break;
		case FDW_ALERT_USE_AFTER_CLOSE:
			snprintf(buf, len, "thread %lld called %s on fd %d after thread %s closed it",
				 tid, sc, fd, gen_tid(f, "closed", t1, sizeof(t1)));
			break;
		case FDW_ALERT_CLOSE_IN_FLIGHT: {
			const char *bsc = json_string_value(json_object_get(f, "blocked_syscall"));

			snprintf(buf, len, "thread %lld %s fd %d while thread %lld was blocked in %s on it",
				 tid, !strcmp(sc, "close") || !strcmp(sc, "close_range") ? "closed"
											  : "replaced",
				 fd, (long long)json_integer_value(json_object_get(f, "blocked_tid")),
				 bsc ? bsc : "?");
			break;
		}
		case FDW_ALERT_DUP2_CLOBBER:
			snprintf(buf, len, "thread %lld's %s replaced fd %d, which thread %s had opened",
				 tid, sc, fd, gen_tid(f, "created", t1, sizeof(t1)));
			break;
		case FDW_ALERT_FD_REUSE: {
			const char *psc = json_string_value(json_object_get(f, "previous_syscall"));
			const json_t *ro = json_object_get(f, "reopened");

			if (json_is_true(json_object_get(f, "reopened_hidden")))
				snprintf(t2, sizeof(t2), "(hidden)");
			else
				snprintf(t2, sizeof(t2), "%lld",
					 (long long)json_integer_value(json_object_get(ro, "tid")));
			snprintf(buf, len,
				 "thread %lld called %s on fd %d, which thread %s closed and thread %s "
				 "reopened since its %s",
				 tid, sc, fd, gen_tid(f, "closed", t1, sizeof(t1)), t2, psc ? psc : "?");
			break;
		}
		default:
			snprintf(buf, len, "fd %d", fd);
			break;
		}
	}
	o = strlen(buf);
	if (json_array_size(findings) > 1 && o + 32 < len)
		snprintf(buf + o, len - o, " (+%zu more)", json_array_size(findings) - 1);
}

/* Pending use-after-close findings: the close should have been applied. */
static void confirm_pending(struct fdw_leaks *l, struct leak_races *r, const struct fdw_table *t)
{
	struct leak_race_kind *rk = &r->k[RACE_USE_AFTER_CLOSE];
	bool viewed = false;

	for (unsigned int i = 0; i < rk->n;) {
		struct race_finding *f = &rk->f[i];
		const struct fdw_fd_history *h;

		if (!f->pending) {
			i++;
			continue;
		}
		if (!viewed) { /* its own histories, once there is one to look at */
			t = fdw_model_table_view(l->m, (struct fdw_table *)t);
			viewed = true;
		}
		h = closed_gen(l->m, fdw_table_slot(t, f->fd), f->seq);
		if (h && fdw_origin_at(h->closed)->seq > f->seq) {
			f->pending = false;
			gen_from_hist(f, h);
			i++;
			continue;
		}
		/* no close showed up after it: drop it */
		l->stats.race_unconfirmed += f->count;
		if (rk->fresh >= f->count)
			rk->fresh -= f->count;
		*f = rk->f[--rk->n];
	}
}

static void races_on_tick(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			  const struct fdw_table *t, uint64_t now, double now_real)
{
	struct leak_races *r = st->races;

	if (!r)
		return;
	if (r->nwait)
		preclose_expire(l, r, p->pid, now);
	for (int k = 0; k < RACE_KINDS; k++) {
		struct leak_race_kind *rk = &r->k[k];
		struct fdw_alert *a = leak_alert_current(l, &st->race_alert[k]);
		char summary[256];
		json_t *ev, *arr;
		unsigned int shown = 0;

		if (k == RACE_USE_AFTER_CLOSE)
			confirm_pending(l, r, t);
		if (!rk->fresh) {
			if (a && now - rk->last_ts >= (uint64_t)l->cfg.race_quiet * FDW_NSEC_PER_SEC)
				leak_alert_resolve(l, &st->race_alert[k], now_real,
						   "no new %s for %us",
						   fdw_alert_kind_name(alert_kind[k]),
						   l->cfg.race_quiet);
			continue;
		}
		arr = json_array();
		for (unsigned int i = 0; arr && i < rk->n; i++) {
			if (rk->f[i].pending)
				continue;
			shown++;
			(void)json_array_append_new(arr, finding_json(k, st, &rk->f[i], now,
								      now_real));
		}
		if (!shown) {
			json_decref(arr);
			continue; /* only pending ones: wait */
		}
		rk->fresh = 0;
		ev = json_pack("{s:o, s:I, s:I}", "findings", arr, "total", (json_int_t)rk->total,
			       "dropped", (json_int_t)rk->dropped);
		fdw_race_summary(ev, summary, sizeof(summary));
		(void)leak_alert_fire(l, &st->race_alert[k], alert_kind[k], p, st, now, now_real,
				      summary, ev);
	}
}

static void races_on_proc_new(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	for (int k = 0; k < RACE_KINDS; k++)
		(void)leak_alert_adopt(l, &st->race_alert[k], alert_kind[k], st);
}

static void races_on_proc_exit(struct fdw_leaks *l, struct leak_proc *st)
{
	if (!st->races)
		return;
	for (int k = 0; k < RACE_KINDS; k++)
		free(st->races->k[k].f);
	free(st->races->wait);
	l->race_waits = l->race_waits > st->races->nwait ? l->race_waits - st->races->nwait : 0;
	if (st->races->deep) {
		(void)fdw_capture_deep(l->capture, st->pid, false);
		if (l->stats.race_deep)
			l->stats.race_deep--;
	}
	(void)race_owner_count(l, st->races->owner, -1);
	free(st->races);
	st->races = NULL;
	if (l->stats.race_procs)
		l->stats.race_procs--;
}

const struct fdw_detector leak_races_detector = {
	.name = "races",
	.on_proc_new = races_on_proc_new,
	.on_fd_event = races_on_fd_event,
	.fd_events = FDW_LEAK_FDEV(FDW_FDEV_DOUBLE_CLOSE) | FDW_LEAK_FDEV(FDW_FDEV_BAD_FD) |
		     FDW_LEAK_FDEV(FDW_FDEV_IN_FLIGHT) | FDW_LEAK_FDEV(FDW_FDEV_CLOBBER) |
		     FDW_LEAK_FDEV(FDW_FDEV_REUSE) | FDW_LEAK_FDEV(FDW_FDEV_CLOSE),
	.on_tick = races_on_tick,
	.on_proc_exit = races_on_proc_exit,
};
