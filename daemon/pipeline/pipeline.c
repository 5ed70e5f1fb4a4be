// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The pipeline (pipeline/pipeline.h): ring -> decode -> model -> history ->
 * on_event, plus the start-up scan and the resync after lost records.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/grow.h"
#include "base/hash.h"
#include "base/log.h"
#include "capture/decode.h"
#include "pipeline/pipeline.h"
#include "sys/pidinfo.h"
#include "sys/procfs.h"

#define LOST_PIDS_BATCH 256
#define RESYNC_BUDGET_NS (10 * 1000000ull) /* of re-reads per drain */
#define LOSS_LOG_NS (10 * FDW_NSEC_PER_SEC)    /* between loss warnings */

void fdw_pipeline_init(struct fdw_pipeline *p, struct fdw_model *m, struct fdw_history *h,
		       const char *proc_root)
{
	*p = (struct fdw_pipeline){
		.model = m,
		.history = h,
		.proc_root = proc_root ? proc_root : "/proc",
	};
	fdw_hashmap_init(&p->resync.set);
	p->resync_budget_ns = RESYNC_BUDGET_NS;
	p->offload_min_fds = FDW_RESYNC_OFFLOAD_MIN_FDS;
}

struct fdw_resync_job {
	struct fdw_pipeline *p; /* NULL once the pipeline is gone */
	uint32_t pid;
	uint64_t table_id;
	struct fdw_model_ops ops; /* a copy: the worker touches nothing else */
	struct fdw_table_snapshot snap;
	uint64_t read_ns; /* the worker's read: part of the table's re-read cost */
	bool one_of_many; /* a process with tables of its own per thread: the
			   * job reads the table of snap.tid, one of them */
	struct fdw__touched *notes; /* the fds records change meanwhile
				     * (fdw_model_read_begin); the job's */
};

/* A scan of /proc's pids after lost records (discover_work, off the loop). */
struct fdw_found_proc {
	uint32_t pid, ppid;
	uint64_t start_ticks, start_stack; /* its stat line's starttime, startstack */
	char comm[16];
	uint32_t *tids; /* live ones, leader first */
	unsigned int ntids;
};

struct fdw_discover_job {
	struct fdw_pipeline *p; /* NULL once the pipeline is gone */
	char *proc_root;
	uint32_t self;
	uint32_t *known; /* the model's pids when the scan began, sorted */
	size_t nknown;
	uint32_t *listed; /* /proc's, sorted */
	size_t nlisted, listed_cap;
	struct fdw_found_proc *found; /* listed, not known, alive, not kernel threads */
	size_t nfound, found_cap;
	uint64_t over; /* not looked at: past FDW_DISCOVER_BATCH */
	int err;
};

static void discover_free(struct fdw_discover_job *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nfound; i++)
		free(d->found[i].tids);
	free(d->found);
	free(d->listed);
	free(d->known);
	free(d->proc_root);
	free(d);
}

void fdw_pipeline_free(struct fdw_pipeline *p)
{
	/* reads still running finish into nothing */
	for (unsigned int i = 0; i < p->njobs; i++)
		p->jobs[i]->p = NULL;
	p->njobs = 0;
	if (p->discover)
		p->discover->p = NULL;
	p->discover = NULL;
	fdw_hashmap_free(&p->resync.set);
	free(p->resync.v);
	p->resync = (struct fdw_resync_queue){ 0 };
}

size_t fdw_pipeline_resync_pending(const struct fdw_pipeline *p)
{
	return p->resync.n + p->njobs;
}

static void resync_enqueue(struct fdw_pipeline *p, uint32_t pid);

/*
 * A fork (or a clone with a table of its own) copies the parent's table as
 * the model has it: from a stale table, a stale copy. Queue the child's own
 * re-read (the parent's, queued or running, reads the parent only).
 */
static void fork_check_stale(struct fdw_pipeline *p, const struct fdw_event *ev)
{
	struct fdw_task *task;

	if (ev->type != FDW_REC_FORK || (ev->flags & FDW_F_SHARED_FILES))
		return;
	task = fdw_hashmap_get(&p->model->tasks, ev->child_tid);
	if (!task || !task->proc || !task->table || !task->table->stale)
		return;
	if (task->table->reread_asked)
		return; /* its own record asked (fdw_model_take_wanted queues it) */
	p->stats.forks_stale++;
	resync_enqueue(p, task->proc->pid);
}

void fdw_pipeline_attach(struct fdw_pipeline *p, struct fdw_capture *c)
{
	p->capture = c;
}

/* ---- records ---------------------------------------------------------- */

/*
 * Syscall records carry jiffies (cheap); task records carry CLOCK_MONOTONIC
 * and jiffies together. Convert the former with the latest pair: exact to
 * within one tick. Before the first pair, the time of consumption stands in.
 */
static void normalize_ts(struct fdw_pipeline *p, struct fdw_event *ev)
{
	if (ev->type == FDW_REC_FORK || ev->type == FDW_REC_EXEC || ev->type == FDW_REC_EXIT) {
		if (ev->hz) {
			p->ns_per_jiffy = FDW_NSEC_PER_SEC / ev->hz;
			p->cal_mono_ns = ev->ts;
			p->cal_jiffies = ev->jiffies;
		}
		return;
	}
	if (!(ev->flags & FDW_F_JIFFIES))
		return;
	if (p->ns_per_jiffy)
		ev->ts = p->cal_mono_ns +
			 (uint64_t)((int64_t)(ev->ts - p->cal_jiffies) * (int64_t)p->ns_per_jiffy);
	else
		ev->ts = fdw_now_mono();
}

/*
 * A seccomp ADDFD whose target process the probe could not tell
 * (include/fdwatch_event.h: FDW_SYS_SECCOMP_ADDFD with pid 0): an fd was
 * installed in some table. The thread id, when the probe had one, names
 * the process to re-read; without it every table is re-read. Never applied
 * to a table: true when the record was handled here.
 */
static bool addfd_unresolved(struct fdw_pipeline *p, const struct fdw_event *ev)
{
	struct fdw_task *task;

	if (ev->type != FDW_REC_SYSCALL || ev->nr != FDW_SYS_SECCOMP_ADDFD || ev->pid)
		return false;
	if (ev->ret < 0)
		return true;
	p->stats.addfd_unresolved++;
	task = ev->tid ? fdw_hashmap_get(&p->model->tasks, ev->tid) : NULL;
	if (task && task->proc) {
		fdw_pipeline_mark_lost(p, task->proc->pid);
	} else if (!p->addfd_all_wanted) {
		/* wrong somewhere from now: every table says so at once; the
		 * re-read of them all is spaced (resync_some) */
		fdw_model_mark_all_stale(p->model);
		p->addfd_all_wanted = true;
	}
	return true;
}

int fdw_pipeline_on_record(void *userdata, const void *data, size_t size, uint64_t pos)
{
	struct fdw_pipeline *p = userdata;
	const struct fdw_history_entry *he;
	struct fdw_proc *proc;
	struct fdw_event ev;
	int r;

	p->stats.events_received++;
	r = fdw_decode(data, size, &ev);
	if (r < 0) {
		if (p->stats.events_bad++ == 0)
			log_err("undecodable record (%s, %zu bytes): probe/daemon ABI mismatch?",
				strerror(-r), size);
		/* a record we cannot read is a lost record for every table */
		fdw_model_mark_all_stale(p->model);
		p->resync_all = true;
		return 0;
	}
	ev.seq = ++p->seq;
	ev.ring_pos = pos;
	normalize_ts(p, &ev);
	/* ring order is time order: keep stamps from running backwards when a
	 * fresh calibration pair moves the conversion by part of a tick */
	if (ev.ts < p->last_ts)
		ev.ts = p->last_ts;
	p->last_ts = ev.ts;
	if (!addfd_unresolved(p, &ev))
		fdw_model_apply(p->model, &ev);
	fork_check_stale(p, &ev);
	/* tables the record left unknown and too dear to read at once */
	while (p->model->nwanted)
		resync_enqueue(p, fdw_model_take_wanted(p->model));
	fdw_capture_fanotify_event(p->capture, &ev);
	proc = fdw_model_event_proc(p->model, &ev);
	he = fdw_history_push(p->history, &ev, proc ? proc->comm : ev.comm);
	if (he && p->on_event)
		p->on_event(p->userdata, he);
	return 0;
}

void fdw_pipeline_on_stale(void *userdata, uint32_t pid)
{
	struct fdw_pipeline *p = userdata;

	/* the same queue as lost records: re-read at the next drain, within
	 * its budget, not here on the loop */
	if (pid)
		fdw_pipeline_mark_lost(p, pid);
	else
		p->resync_all = true;
}

void fdw_pipeline_on_batch(void *userdata)
{
	struct fdw_pipeline *p = userdata;

	fdw_model_flush_pending(p->model);
}

/* ---- lost records ----------------------------------------------------- */

/*
 * proc exited and `st` is another process under its pid (both records
 * lost): proc goes as an exit takes it, the other one comes as a process a
 * scan found (its live threads; none when it is exiting too), its table
 * read from /proc like any queued one.
 */
static void replace_reused(struct fdw_pipeline *p, struct fdw_proc *proc,
			   const struct fdw_pid_stat *st)
{
	uint32_t pid = proc->pid, *tids = NULL;
	unsigned int n = 0;

	if (fdw_proc_list_tasks(p->proc_root, pid, &tids, &n) < 0)
		n = 0;
	else if (!fdw_pid_stat_live(st))
		n = fdw_proc_live_tasks(p->proc_root, pid, tids, n);
	if (fdw_model_replace_proc(p->model, proc, st, tids, n, fdw_now_mono()) < 0)
		p->stats.scan_errors++;
	else if (fdw_model_proc(p->model, pid))
		resync_enqueue(p, pid);
	free(tids);
}

/*
 * Re-read a process's tables; one that /proc no longer has, or shows as a
 * zombie, exited while its records were lost (its exit among them): forget
 * it rather than keep a phantom (its reaping will not be traced). One that
 * is alive takes its command and parent from the same read (a rename,
 * PR_SET_NAME, or a reparenting shows), and a new program when its stack
 * start changed (an exec whose record was lost). One /proc shows with
 * another start is another process: the pid was reused.
 */
bool fdw_pipeline_drop_if_gone(struct fdw_pipeline *p, struct fdw_proc *proc)
{
	struct fdw_pid_stat st;
	int r = fdw_pid_stat_read(p->proc_root, proc->pid, &st);

	if (r == 0 && fdw_model_proc_other(proc, &st)) {
		replace_reused(p, proc, &st);
		return true;
	}
	if (r == 0 && fdw_pid_stat_live(&st)) {
		(void)fdw_model_proc_set_stat(p->model, proc, &st, fdw_now_mono());
		return false;
	}
	if (!fdw_proc_exited(p->proc_root, proc->pid))
		return false;
	fdw_model_drop_proc(p->model, proc);
	p->stats.ghosts_dropped++;
	return true;
}

/* A zombie's table reads as empty, not as gone: asked either way. `pt`:
 * its tables when they were just listed, else NULL. */
static void resync_or_drop(struct fdw_pipeline *p, struct fdw_proc *proc,
			   const struct fdw_proc_tables *pt)
{
	p->stats.loss_resyncs++;
	if (pt)
		(void)fdw_model_resync_tables(p->model, proc, pt);
	else
		(void)fdw_model_resync_proc(p->model, proc);
	(void)fdw_pipeline_drop_if_gone(p, proc);
}

/* Queue a process for a re-read (once: the set filters duplicates). */
static void resync_enqueue(struct fdw_pipeline *p, uint32_t pid)
{
	struct fdw_resync_queue *q = &p->resync;

	if (fdw_hashmap_get(&q->set, pid))
		return;
	/* once per pid, and only pids the model holds: never more than it
	 * may hold */
	if (q->n >= p->model->max_procs) {
		p->stats.resync_refused++;
		return;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		uint32_t *v = malloc(cap * sizeof(*v));

		if (!v) {
			p->stats.resync_refused++;
			return; /* stays stale; the audit re-reads it in time */
		}
		for (size_t i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->head = 0;
		q->cap = cap;
	}
	if (fdw_hashmap_put(&q->set, pid, (void *)1) < 0) {
		p->stats.resync_refused++;
		return;
	}
	q->v[(q->head + q->n++) % q->cap] = pid;
}

/* ---- re-reads off the loop --------------------------------------------- */

static void resync_some(struct fdw_pipeline *p);
static void enqueue_all(struct fdw_pipeline *p);

/* Is a table of proc stale (a process's tables listed again)? Yes when
 * they cannot be listed: its next read finds out. */
static bool proc_any_stale(struct fdw_model *m, struct fdw_proc *proc)
{
	struct fdw_proc_tables pt = { 0 };
	bool any = fdw_model_proc_tables(m, proc, &pt) < 0;

	for (size_t i = 0; i < pt.n && !any; i++)
		any = pt.v[i].table->stale;
	fdw_model_proc_tables_free(&pt);
	return any;
}

/*
 * A table records keep asking to re-read is re-read at most a tenth of the
 * time (fdw_model_resync_due): records that keep leaving a big table unknown
 * (io_uring closes, a fork loop beside a thread) would otherwise have it
 * read back to back. Counted each time one is put back. `pt`: the tables
 * of a process with threads (each must be due), empty for one of one
 * thread.
 */
static bool resync_due(struct fdw_pipeline *p, struct fdw_proc *proc,
		       const struct fdw_proc_tables *pt, uint64_t now)
{
	struct fdw_table *t = proc ? fdw_model_proc_table(p->model, proc) : NULL;
	bool due = true;

	if (!t)
		return true;
	if (proc->ntasks > 1) {
		for (size_t i = 0; i < pt->n && due; i++)
			due = fdw_model_resync_due(pt->v[i].table, now);
	} else {
		due = fdw_model_resync_due(t, now);
	}
	if (!due)
		p->stats.resync_waits++;
	return due;
}

static void job_work(void *arg)
{
	struct fdw_resync_job *job = arg;
	uint64_t t0 = fdw_now_mono();

	fdw_model_snapshot_read(&job->ops, &job->snap);
	job->read_ns = fdw_now_mono() - t0;
}

static void job_forget(struct fdw_pipeline *p, struct fdw_resync_job *job)
{
	for (unsigned int i = 0; i < p->njobs; i++) {
		if (p->jobs[i] == job) {
			p->jobs[i] = p->jobs[--p->njobs];
			return;
		}
	}
}

static void job_done(void *arg)
{
	struct fdw_resync_job *job = arg;
	struct fdw_pipeline *p = job->p;
	struct fdw_proc *proc;
	struct fdw_table *t;
	uint64_t t0;
	int r;

	if (!p)
		goto out;
	job_forget(p, job);
	proc = fdw_model_proc(p->model, job->pid);
	if (!proc)
		goto out; /* exited meanwhile: its exit record dropped it */
	if (job->one_of_many) {
		struct fdw_task *task = fdw_hashmap_get(&p->model->tasks, job->snap.tid);

		t = task && task->proc == proc ? task->table : NULL;
	} else {
		t = fdw_model_proc_table(p->model, proc);
	}
	if (!t || t->id != job->table_id) {
		/* its table was replaced meanwhile (exec, unshare): from a
		 * stale one, so stale too */
		resync_enqueue(p, job->pid);
		goto out;
	}
	t0 = fdw_now_mono();
	r = fdw_model_snapshot_apply(p->model, t, &job->snap, job->notes);
	fdw_model_read_end(job->notes);
	job->notes = NULL;
	/* what it cost, the worker's read included, applied or not: a big
	 * table is read a tenth of the time at most (fdw_model_resync_due) */
	t->reread_at = fdw_now_mono();
	t->reread_ns = t->reread_at - t0 + job->read_ns;
	if (r == 0)
		t->reread_asked = false;
	if (r == -ESTALE || r == 1) {
		/* refused, or applied but asked again meanwhile: read again
		 * (spaced: fdw_model_resync_due) */
		p->stats.resync_retried += r == -ESTALE;
		resync_enqueue(p, job->pid);
	} else if (r < 0) {
		/* the thread read through is gone, or /proc refused: the
		 * reader on the loop tries the other threads, or forgets a
		 * process /proc no longer has */
		resync_or_drop(p, proc, NULL);
	} else if (job->one_of_many && proc_any_stale(p->model, proc)) {
		resync_enqueue(p, job->pid); /* its next table */
	} else if (!fdw_pipeline_drop_if_gone(p, proc)) { /* a zombie reads as empty */
		proc->lost = 0;
		fdw_model_flush_pending(p->model);
	}
	/* the next queued table now, not at the next drain (a table read
	 * again waits for that: its process is busy) */
	if (r != -ESTALE && r != 1)
		resync_some(p);
out:
	fdw_model_read_end(job->notes); /* the process or its table gone */
	fdw_model_snapshot_free(&job->snap);
	free(job);
}

/* A read of proc's table runs for another process (CLONE_FILES without
 * CLONE_THREAD): a second would not know the first's notes. */
static bool table_read_busy(struct fdw_pipeline *p, struct fdw_proc *proc)
{
	return proc && fdw_model_read_busy(fdw_model_proc_table(p->model, proc));
}

static bool job_running(const struct fdw_pipeline *p, uint32_t pid)
{
	for (unsigned int i = 0; i < p->njobs; i++)
		if (p->jobs[i]->pid == pid)
			return true;
	return false;
}

static bool job_queue(struct fdw_pipeline *p, struct fdw_proc *proc, struct fdw_table *t,
		      uint32_t tid, bool one_of_many);

/*
 * A process whose threads do not all share one table (a thread unshared
 * its own): its small stale tables are read here, the first big one in the
 * pool, and job_done() queues the process again while one is left. It was
 * read whole on the loop: a user holding 15,000 fds with one thread of its
 * own held the loop about a second per record asking for a re-read.
 */
static bool job_start_many(struct fdw_pipeline *p, struct fdw_proc *proc,
			   const struct fdw_proc_tables *pt)
{
	for (size_t i = 0; i < pt->n; i++) {
		struct fdw_table *t = pt->v[i].table;

		/* a read of it runs for another process (CLONE_FILES): its
		 * end makes it right, or queues that process again */
		if (!t->stale || fdw_model_read_busy(t))
			continue;
		/* the first big one (or one never read, of any size) */
		if (t->nopen >= p->offload_min_fds || (!t->nopen && !t->resyncs))
			return job_queue(p, proc, t, pt->v[i].tid, true);
		(void)fdw_model_resync(p->model, t, pt->v[i].tid);
	}
	/* all read here */
	p->stats.loss_resyncs++;
	if (!fdw_pipeline_drop_if_gone(p, proc))
		proc->lost = 0;
	return true;
}

/*
 * Read proc's table off the loop. false when it is not (no offload, a small
 * table, out of memory): the caller reads it here. `pt` as for
 * resync_due(): more than one table is read a table at a time.
 */
static bool job_start(struct fdw_pipeline *p, struct fdw_proc *proc,
		      const struct fdw_proc_tables *pt)
{
	struct fdw_model *m = p->model;
	struct fdw_table *t = fdw_model_proc_table(m, proc);
	uint32_t tid = fdw_model_proc_tid(m, proc);

	if (!p->offload || !t || !tid || !m->ops.read_table)
		return false;
	if (proc->ntasks > 1 && pt->n > 1)
		return job_start_many(p, proc, pt);
	/* an empty table never read (a process found in /proc) may be of any
	 * size: off the loop too */
	if (t->nopen < p->offload_min_fds && (t->nopen || t->resyncs))
		return false;
	return job_queue(p, proc, t, tid, false);
}

static bool job_queue(struct fdw_pipeline *p, struct fdw_proc *proc, struct fdw_table *t,
		      uint32_t tid, bool one_of_many)
{
	struct fdw_model *m = p->model;
	struct fdw_resync_job *job;

	job = calloc(1, sizeof(*job));
	if (!job)
		return false;
	job->p = p;
	job->pid = proc->pid;
	job->table_id = t->id;
	job->ops = m->ops;
	job->snap.tid = tid;
	job->one_of_many = one_of_many;
	/* before the worker takes the ring's position: the records applied
	 * meanwhile are noted fd by fd (fdw_model_snapshot_apply) */
	job->notes = fdw_model_read_begin(t);
	if (p->offload(p->offload_userdata, job_work, job_done, job) < 0) {
		fdw_model_read_end(job->notes);
		free(job);
		return false;
	}
	p->jobs[p->njobs++] = job;
	p->stats.loss_resyncs++;
	p->stats.resync_offloaded++;
	return true;
}

/*
 * Re-read queued tables for at most RESYNC_BUDGET_NS (at least one table):
 * under sustained loss a full re-read of a big host would otherwise hold
 * the loop for seconds on every drain. What is left waits for the next
 * drain (a query, the 1 s tick); its tables are marked stale meanwhile.
 */
static void resync_some(struct fdw_pipeline *p)
{
	struct fdw_resync_queue *q = &p->resync;
	struct fdw_proc_tables tables = { 0 };
	uint64_t t0 = fdw_now_mono();
	size_t passed = 0;

	/* every table for ADDFDs of unknown target, at most every
	 * FDW_ADDFD_ALL_EVERY_NS: a supervisor in a nested pid namespace with
	 * many notifications pending would have the host re-read per ADDFD */
	if (p->addfd_all_wanted &&
	    (!p->addfd_all_at || t0 - p->addfd_all_at >= FDW_ADDFD_ALL_EVERY_NS)) {
		p->addfd_all_wanted = false;
		p->addfd_all_at = t0;
		p->stats.addfd_rereads++;
		enqueue_all(p);
	}

	while (q->n > passed) {
		uint32_t pid = q->v[q->head];
		struct fdw_proc *proc;
		int listed = 0;
		bool busy;

		if (p->offload && p->njobs == FDW_RESYNC_JOBS_MAX)
			break; /* the next drain, or a job's end, takes it */
		proc = fdw_model_proc(p->model, pid);
		busy = p->offload && (job_running(p, pid) || table_read_busy(p, proc));
		/* a process with threads: its tables listed once, for the
		 * spacing and the start both (each was a walk over every
		 * task of the host) */
		tables.n = 0;
		if (!busy && proc && proc->ntasks > 1)
			listed = fdw_model_proc_tables(p->model, proc, &tables);
		if (busy || !resync_due(p, proc, &tables, t0)) {
			/* read again once its read ends, or once its last read
			 * is a tenth of the time since: to the back, so the
			 * tables behind it (its children's) are not held */
			q->head = (q->head + 1) % q->cap;
			q->v[(q->head + q->n - 1) % q->cap] = pid;
			passed++;
			continue;
		}
		q->head = (q->head + 1) % q->cap;
		q->n--;
		(void)fdw_hashmap_remove(&q->set, pid);
		if (proc && (listed < 0 || !job_start(p, proc, &tables)))
			resync_or_drop(p, proc, listed == 0 && tables.n ? &tables : NULL);
		if (fdw_now_mono() - t0 >= p->resync_budget_ns)
			break;
	}
	fdw_model_proc_tables_free(&tables);
}

void fdw_pipeline_mark_lost(struct fdw_pipeline *p, uint32_t pid)
{
	struct fdw_proc *proc = fdw_model_proc(p->model, pid);

	if (!proc)
		return;
	fdw_model_mark_proc_stale(p->model, proc);
	resync_enqueue(p, pid);
}

static void enqueue_all(struct fdw_pipeline *p)
{
	size_t it = 0;
	uint64_t key;

	fdw_model_mark_all_stale(p->model);
	while (fdw_hashmap_next(&p->model->procs, &it, &key, NULL))
		resync_enqueue(p, (uint32_t)key);
	p->resync_all = false;
	p->addfd_all_wanted = false; /* this covers it */
}

/* ---- processes the lost records hid ----------------------------------- */

static int discover_list_cb(void *data, uint32_t pid)
{
	struct fdw_discover_job *d = data;

	if (FDW_GROW(d->listed, d->nlisted, d->listed_cap, 1024) < 0)
		return -ENOMEM;
	d->listed[d->nlisted++] = pid;
	return 0;
}

static bool pid_in(const uint32_t *v, size_t n, uint32_t pid)
{
	return n && bsearch(&pid, v, n, sizeof(*v), fdw_cmp_u32);
}

/* Off the loop: /proc's pids, and what the model needs of each it does not
 * know (the same filter as the start-up scan: no kernel threads, no
 * zombies or exiting processes, a leader that exited alone read through
 * its live threads). */
static void discover_work(void *arg)
{
	struct fdw_discover_job *d = arg;

	d->err = fdw_proc_list_pids(d->proc_root, discover_list_cb, d);
	if (d->err < 0)
		return;
	if (d->nlisted)
		qsort(d->listed, d->nlisted, sizeof(*d->listed), fdw_cmp_u32);
	for (size_t i = 0; i < d->nlisted; i++) {
		uint32_t pid = d->listed[i], *tids = NULL;
		struct fdw_found_proc *f;
		struct fdw_pid_stat st;
		unsigned int n = 0;

		if (pid == d->self || pid_in(d->known, d->nknown, pid))
			continue;
		if (d->nfound >= FDW_DISCOVER_BATCH) {
			d->over++;
			continue;
		}
		if (fdw_pid_stat_read(d->proc_root, pid, &st) < 0 || (st.flags & FDW_PF_KTHREAD))
			continue;
		if (fdw_proc_list_tasks(d->proc_root, pid, &tids, &n) < 0)
			continue;
		if (!fdw_pid_stat_live(&st))
			n = fdw_proc_live_tasks(d->proc_root, pid, tids, n);
		if (!n || FDW_GROW(d->found, d->nfound, d->found_cap, 64) < 0) {
			free(tids);
			continue;
		}
		f = &d->found[d->nfound++];
		f->pid = pid;
		f->ppid = st.ppid;
		f->start_ticks = st.starttime;
		f->start_stack = st.startstack;
		memcpy(f->comm, st.comm, sizeof(f->comm));
		f->tids = tids;
		f->ntids = n;
	}
}

static void discover_done(void *arg)
{
	struct fdw_discover_job *d = arg;
	struct fdw_pipeline *p = d->p;

	if (!p)
		goto out;
	p->discover = NULL;
	if (d->err < 0) {
		log_debug("/proc scan after lost records: %s", strerror(-d->err));
		goto out;
	}
	/* known then, not listed now: exited, the exit record among the lost
	 * (a process /proc still shows, such as a pid reused since, is kept) */
	for (size_t i = 0; i < d->nknown; i++) {
		struct fdw_proc *proc;

		if (pid_in(d->listed, d->nlisted, d->known[i]))
			continue;
		proc = fdw_model_proc(p->model, d->known[i]);
		if (proc)
			(void)fdw_pipeline_drop_if_gone(p, proc);
	}
	/* unknown then: added (unless a fork record added it meanwhile) with a
	 * stale table, read off the loop like any queued table */
	for (size_t i = 0; i < d->nfound; i++) {
		const struct fdw_found_proc *f = &d->found[i];
		int r;

		if (fdw_model_proc(p->model, f->pid))
			continue;
		r = fdw_model_add_found(p->model, f->pid, f->ppid, f->comm, f->tids, f->ntids,
					fdw_now_mono());
		if (r < 0) {
			p->stats.scan_errors++;
			continue;
		}
		if (!fdw_model_proc(p->model, f->pid))
			continue;
		fdw_model_proc_identify(fdw_model_proc(p->model, f->pid), f->start_ticks,
					f->start_stack);
		p->stats.discovered++;
		resync_enqueue(p, f->pid);
	}
	if (d->over) {
		p->stats.discover_deferred += d->over;
		p->discover_wanted = true; /* the rest at the next drain */
	}
	resync_some(p);
out:
	discover_free(d);
}

/* Start the /proc scan asked for, unless one runs. */
static void discover_some(struct fdw_pipeline *p)
{
	struct fdw_discover_job *d;
	size_t it = 0;
	uint64_t key;

	if (!p->discover_wanted || p->discover)
		return;
	d = calloc(1, sizeof(*d));
	if (!d)
		return; /* still wanted: the next drain tries again */
	d->p = p;
	d->self = (uint32_t)getpid();
	d->proc_root = strdup(p->proc_root);
	d->known = malloc((fdw_hashmap_size(&p->model->procs) + 1) * sizeof(*d->known));
	if (!d->proc_root || !d->known) {
		discover_free(d);
		return;
	}
	while (fdw_hashmap_next(&p->model->procs, &it, &key, NULL))
		d->known[d->nknown++] = (uint32_t)key;
	if (d->nknown)
		qsort(d->known, d->nknown, sizeof(*d->known), fdw_cmp_u32);
	p->discover_wanted = false;
	p->stats.discover_runs++;
	p->discover = d;
	if (p->offload && p->offload(p->offload_userdata, discover_work, discover_done, d) == 0)
		return;
	discover_work(d); /* no pool: here */
	discover_done(d);
}

void fdw_pipeline_discover(struct fdw_pipeline *p)
{
	p->discover_wanted = true;
}

/*
 * Children forked since the lost count was last read copied their
 * parent's table as the model had it: when the parent lost records then,
 * a wrong copy not marked stale (the fork record came before the loss was
 * seen). Mark and queue them, and their own children forked since.
 */
static void mark_forks_since(struct fdw_pipeline *p, uint64_t since, struct fdw_hashmap *lost)
{
	bool more = true;

	for (int pass = 0; more && pass < 8; pass++) {
		size_t it = 0;
		void *v;

		more = false;
		while (fdw_hashmap_next(&p->model->procs, &it, NULL, &v)) {
			struct fdw_proc *c = v, *parent;
			struct fdw_table *pt;

			if (!c->fork_pos || c->fork_pos < since || fdw_hashmap_get(lost, c->pid))
				continue;
			parent = fdw_model_proc(p->model, c->ppid);
			pt = parent && parent->leader ? parent->leader->table : NULL;
			if (!fdw_hashmap_get(lost, c->ppid) && !(pt && pt->stale))
				continue;
			if (fdw_hashmap_put(lost, c->pid, (void *)1) < 0)
				continue;
			p->stats.forks_stale++;
			fdw_pipeline_mark_lost(p, c->pid);
			more = true;
		}
	}
}

/* One warning per LOSS_LOG_NS with what was lost since the last one. */
static void log_loss(struct fdw_pipeline *p, uint64_t lost)
{
	uint64_t now = fdw_now_mono();

	if (p->loss_logged_at && now - p->loss_logged_at < LOSS_LOG_NS)
		return;
	log_warning("kernel lost %llu records (ring buffer full); "
		    "re-reading the affected tables from /proc",
		    (unsigned long long)(lost - p->loss_logged));
	p->loss_logged = lost;
	p->loss_logged_at = now;
}

/*
 * The kernel counts records it could not queue, per CPU, and which
 * processes they belonged to. Mark those processes' tables stale and queue
 * them for a re-read from /proc; if the per-process map overflowed, all.
 */
static void handle_lost(struct fdw_pipeline *p)
{
	/* every record below this position was committed before the lost
	 * count below was read: none of them follows a loss it does not show */
	uint64_t pos = fdw_capture_position(p->capture), since = p->loss_check_pos;
	uint64_t lost = fdw_capture_lost(p->capture, NULL, 0, NULL), accounted = 0;
	uint64_t since_seq = p->loss_check_seq + 1;
	uint32_t pids[LOST_PIDS_BATCH];
	struct fdw_hashmap lost_set;
	unsigned int n;

	p->loss_check_pos = pos;
	p->loss_check_seq = p->seq;
	if (lost != p->stats.lost_handled || p->resync_all) {
		bool lost_new = lost != p->stats.lost_handled, set_whole = true;

		if (lost_new) {
			log_loss(p, lost);
			/* forks and exits may be among them: what /proc lists
			 * and the model does not, and the reverse */
			p->discover_wanted = true;
		}
		fdw_hashmap_init(&lost_set);
		do {
			uint64_t acc;

			n = fdw_capture_lost_pids(p->capture, pids, LOST_PIDS_BATCH, &acc);
			accounted += acc;
			for (unsigned int i = 0; i < n; i++) {
				if (fdw_hashmap_put(&lost_set, pids[i], (void *)1) < 0)
					set_whole = false;
				fdw_pipeline_mark_lost(p, pids[i]);
			}
		} while (n == LOST_PIDS_BATCH);
		if (accounted < lost - p->stats.lost_handled)
			p->resync_all = true;
		/* whose process is whose (server/access.c): an exec among the
		 * lost records may have changed it; whose, the set says,
		 * unless it is incomplete (then anyone's) */
		if (lost_new && p->on_lost)
			p->on_lost(p->userdata, since_seq,
				   p->resync_all || !set_whole ? NULL : &lost_set);
		p->stats.lost_handled = lost;
		if (p->resync_all)
			enqueue_all(p);
		else if (fdw_hashmap_size(&lost_set))
			mark_forks_since(p, since, &lost_set);
		fdw_hashmap_free(&lost_set);
	}
	resync_some(p);
	discover_some(p);
}

bool fdw_pipeline_drain(struct fdw_pipeline *p)
{
	int r;

	if (!p->capture) {
		resync_some(p);
		discover_some(p);
		fdw_model_flush_pending(p->model);
		return true;
	}
	p->stats.drains++;
	(void)fdw_capture_drain(p->capture);
	handle_lost(p);
	/* a resync above may have raced new records: take them too (and what
	 * the first one could not reach) */
	r = fdw_capture_drain(p->capture);
	/* every answer follows a drain: no target it shows is left pending */
	fdw_model_flush_pending(p->model);
	return r >= 0;
}

bool fdw_pipeline_drain_for(struct fdw_pipeline *p, uint64_t budget_ns)
{
	uint64_t t0 = fdw_now_mono(), used;
	int r;

	if (!p->capture) {
		fdw_pipeline_drain(p);
		return true;
	}
	p->stats.drains++;
	r = fdw_capture_drain_for(p->capture, budget_ns);
	used = fdw_now_mono() - t0;
	if (r == 1 && used < budget_ns) {
		/* caught up: the lost-record handling's re-reads have their own
		 * budget; what they raced comes within what is left of ours */
		handle_lost(p);
		used = fdw_now_mono() - t0;
		if (used < budget_ns)
			r = fdw_capture_drain_for(p->capture, budget_ns - used);
		else
			r = 0;
	} else {
		r = 0;
	}
	fdw_model_flush_pending(p->model);
	if (r != 1)
		p->stats.drains_partial++;
	return r == 1;
}

uint64_t fdw_pipeline_backlog(const struct fdw_pipeline *p)
{
	return p->capture ? fdw_capture_backlog(p->capture) : 0;
}

uint64_t fdw_pipeline_wakeups(const struct fdw_pipeline *p)
{
	return p->capture ? fdw_capture_wakeups(p->capture) : 0;
}

uint64_t fdw_pipeline_lost(const struct fdw_pipeline *p, uint64_t *per_cpu, unsigned int max_cpus,
			   unsigned int *ncpus)
{
	if (!p->capture) {
		if (ncpus)
			*ncpus = 0;
		return 0;
	}
	return fdw_capture_lost(p->capture, per_cpu, max_cpus, ncpus);
}

/* ---- /proc scan -------------------------------------------------------- */

static int scan_one(void *data, uint32_t pid)
{
	struct fdw_pipeline *p = data;
	struct fdw_pid_stat st;
	uint32_t *tids = NULL;
	unsigned int n = 0;
	int r;

	if (pid == (uint32_t)getpid())
		return 0;
	if (fdw_pid_stat_read(p->proc_root, pid, &st) < 0)
		return 0; /* gone */
	if (st.flags & FDW_PF_KTHREAD)
		return 0; /* no fd table of its own */
	if (fdw_proc_list_tasks(p->proc_root, pid, &tids, &n) < 0)
		return 0;
	/*
	 * A zombie, or a process in do_exit(), is still in /proc but its exit
	 * record has been (before our probes, or in the ring before this read,
	 * applied to nothing): added now, nothing would ever remove it, as
	 * reaping is not traced. A leader that exited alone (its threads run
	 * on) has no table to read through: the live threads do.
	 */
	if (!fdw_pid_stat_live(&st)) {
		n = fdw_proc_live_tasks(p->proc_root, pid, tids, n);
		if (!n) {
			p->stats.scan_exited++;
			free(tids);
			return 0;
		}
	}
	if (p->snapshot && !fdw_snapshot_has_process(p->snapshot, pid)) {
		/* born after the snapshot (a clock tick or more after it began):
		 * its fork record adds it, from its parent's table as it was
		 * then. Otherwise (a task the iterator did not show, such as a
		 * pid 1 here) its table is read from /proc. */
		if ((double)st.starttime > p->snapshot_ticks) {
			free(tids);
			return 0;
		}
		p->stats.scan_from_proc++;
	}
	r = fdw_model_add_scanned(p->model, pid, st.ppid, st.comm, tids, n, fdw_now_mono());
	if (r < 0 && r != -ESRCH)
		p->stats.scan_errors++;
	/* its identity, where a fork or exec record applied meanwhile did not
	 * give it */
	fdw_model_proc_identify(fdw_model_proc(p->model, pid), st.starttime, st.startstack);
	free(tids);
	return 0;
}

static void fanotify_holder(void *data, uint32_t pid, int fd, uint64_t f_op)
{
	struct fdw_pipeline *p = data;

	fdw_capture_set_fanotify_fops(p->capture, f_op);
	struct fdw_event ev = { .type = FDW_REC_SYSCALL, .nr = FDW_SYS_FANOTIFY_INIT, .pid = pid,
				.tid = pid, .ret = fd };

	fdw_capture_fanotify_event(p->capture, &ev);
}

int fdw_pipeline_scan(struct fdw_pipeline *p)
{
	uint64_t t0 = fdw_now_mono();
	int r;

	/* the snapshot sees the kernel's tables, not a test's fake /proc */
	if (p->capture && (!p->proc_root || strcmp(p->proc_root, "/proc") == 0)) {
		struct fdw_snapshot_stats st;

		p->snapshot_pos = fdw_capture_position(p->capture);
		p->snapshot_ticks = (double)fdw_now_boot() / 1e9 * fdw_clk_tck();
		r = fdw_snapshot_take(p->snapshotter, 0, &p->snapshot);
		if (r < 0) {
			log_warning("start-up snapshot (BPF task_file iterator) unavailable: %s; "
				    "reading every table from /proc",
				    strerror(-r));
		} else {
			fdw_snapshot_stats(p->snapshot, &st);
			p->stats.scan_snapshot = true;
			p->stats.scan_fds = st.fds;
			log_debug("start-up snapshot: %" PRIu64 " tasks, %" PRIu64 " fds (%" PRIu64
				  " without a name), %" PRIu64 " bytes in %" PRIu64 " ms",
				  st.tasks, st.fds, st.no_target, st.bytes, st.ns / 1000000);
		}
	}
	/* fanotify readers that predate the daemon: as if they had just called
	 * fanotify_init (the read probe is attached, their tables re-read) */
	fdw_snapshot_each_target(p->snapshot, "anon_inode:[fanotify]", fanotify_holder, p);
	fdw_model_scan_begin(p->model);
	r = fdw_proc_list_pids(p->proc_root, scan_one, p);
	fdw_model_scan_end(p->model);
	p->covers_all = true;
	fdw_snapshot_free(p->snapshot);
	p->snapshot = NULL;
	p->stats.scan_ms = (fdw_now_mono() - t0) / 1000000;
	return r;
}
