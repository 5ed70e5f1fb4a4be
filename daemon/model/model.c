// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The descriptor-table model: its lifecycle, its processes and tasks, and
 * the observers it tells of changes. See model.h for the data model;
 * table.c holds the tables, apply.c applies events, resync.c re-reads
 * tables from /proc.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "model/internal.h"

/* ---- observers --------------------------------------------------------- */

/* Tell every observer that wants `kind`, in registration order (the
 * inline fdw__notify() returned already when none does). */
void fdw__notify_slow(struct fdw_model *m, struct fdw_proc *p, const struct fdw_event *ev,
		      enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *s)
{
	for (unsigned int i = 0; i < m->nobservers; i++) {
		const struct fdw_model_observer *o = &m->observers[i];

		if (o->on_fd_event && (o->fd_events & FDW_FDEV_BIT(kind)))
			o->on_fd_event(o->userdata, p, ev, kind, fd, s);
	}
}

static void observers_mask(struct fdw_model *m)
{
	m->fd_events = 0;
	for (unsigned int i = 0; i < m->nobservers; i++)
		if (m->observers[i].on_fd_event)
			m->fd_events |= m->observers[i].fd_events;
}

/* ---- processes and tasks ----------------------------------------------- */

void fdw__task_set_table(struct fdw_model *m, struct fdw_task *task, struct fdw_table *t)
{
	struct fdw_table *old = task->table;

	if (old == t)
		return;
	if (t)
		t->users++;
	task->table = t;
	if (old && --old->users == 0)
		fdw__table_free(m, old);
}

struct fdw_proc *fdw__proc_new(struct fdw_model *m, uint32_t pid, uint32_t ppid,
			       const char *comm, uint64_t now)
{
	struct fdw_proc *p;

	if (fdw_hashmap_size(&m->procs) >= m->max_procs) {
		m->stats.dropped_procs++;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->ppid = ppid;
	p->start_ts = now;
	if (comm)
		strncpy(p->comm, comm, sizeof(p->comm) - 1);
	if (fdw_hashmap_put(&m->procs, pid, p) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

void fdw__task_del(struct fdw_model *m, struct fdw_task *task)
{
	struct fdw_proc *p = task->proc;

	if (m->last_task == task)
		m->last_task = NULL;
	if (fdw_hashmap_get(&m->tasks, task->tid) == task)
		(void)fdw_hashmap_remove(&m->tasks, task->tid);
	fdw__task_set_table(m, task, NULL);
	if (p) {
		p->ntasks--;
		if (p->leader == task)
			p->leader = NULL;
	}
	free(task);
}

void fdw__proc_del(struct fdw_model *m, struct fdw_proc *p)
{
	size_t it = 0;
	uint64_t key;
	void *v;
	uint32_t *doomed = NULL;
	size_t n = 0, cap = 0;

	for (unsigned int i = 0; i < m->nobservers; i++) {
		const struct fdw_model_observer *o = &m->observers[i];

		if (o->on_proc_exit)
			o->on_proc_exit(o->userdata, p);
	}
	/* Tasks of this process still listed (their exits were lost). */
	if (p->ntasks) {
		while (fdw_hashmap_next(&m->tasks, &it, &key, &v)) {
			if (((struct fdw_task *)v)->proc != p)
				continue;
			if (n == cap) {
				uint32_t *nd;

				cap = cap ? cap * 2 : 16;
				nd = realloc(doomed, cap * sizeof(*nd));
				if (!nd)
					break;
				doomed = nd;
			}
			doomed[n++] = key;
		}
		for (size_t i = 0; i < n; i++) {
			struct fdw_task *t = fdw_hashmap_get(&m->tasks, doomed[i]);

			if (t)
				fdw__task_del(m, t);
		}
		free(doomed);
	}
	if (fdw_hashmap_get(&m->procs, p->pid) == p)
		(void)fdw_hashmap_remove(&m->procs, p->pid);
	free(p);
}

struct fdw_task *fdw__task_new(struct fdw_model *m, uint32_t tid, struct fdw_proc *p,
			       struct fdw_table *t)
{
	struct fdw_task *old = fdw_hashmap_get(&m->tasks, tid);
	struct fdw_task *task;

	/* tid reuse with a lost exit: the old task is gone */
	if (old) {
		struct fdw_proc *op = old->proc;

		fdw__task_del(m, old);
		if (op && op != p && op->ntasks == 0)
			fdw__proc_del(m, op);
	}
	task = calloc(1, sizeof(*task));
	if (!task)
		return NULL;
	task->tid = tid;
	task->proc = p;
	if (fdw_hashmap_put(&m->tasks, tid, task) < 0) {
		free(task);
		return NULL;
	}
	fdw__task_set_table(m, task, t);
	p->ntasks++;
	if (tid == p->pid)
		p->leader = task;
	return task;
}

struct fdw_proc *fdw_model_proc(struct fdw_model *m, uint32_t pid)
{
	return fdw_hashmap_get(&m->procs, pid);
}

struct fdw_table *fdw_model_proc_table_peek(struct fdw_model *m, struct fdw_proc *p)
{
	uint32_t tid = fdw_model_proc_tid(m, p);
	struct fdw_task *t = tid ? fdw_hashmap_get(&m->tasks, tid) : NULL;

	return t ? t->table : NULL;
}

struct fdw_table *fdw_model_table_view(struct fdw_model *m, struct fdw_table *t)
{
	/* a fork child still on its parent's slots: make its own view (its
	 * fds inherited) before anyone looks (on failure it shows stale) */
	if (t && t->borrowed)
		(void)fdw__table_own(m, t);
	return t;
}

struct fdw_table *fdw_model_proc_table(struct fdw_model *m, struct fdw_proc *p)
{
	return fdw_model_table_view(m, fdw_model_proc_table_peek(m, p));
}

static int proc_tables_add(struct fdw_proc_tables *out, struct fdw_table *t, uint32_t tid)
{
	for (size_t i = 0; i < out->n; i++)
		if (out->v[i].table == t)
			return 0;
	if (FDW_GROW(out->v, out->n, out->cap, 4) < 0)
		return -ENOMEM;
	out->v[out->n++] = (struct fdw_proc_table){ .table = t, .tid = tid };
	return 0;
}

int fdw_model_proc_tables(struct fdw_model *m, struct fdw_proc *p, struct fdw_proc_tables *out)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	out->n = 0;
	if (!p)
		return 0;
	/* one thread, the leader (most processes): no walk over every task
	 * of the host, which made re-reading N processes O(N^2) */
	if (p->ntasks == 1 && p->leader)
		return p->leader->table ? proc_tables_add(out, p->leader->table, p->leader->tid)
					: 0;
	while (fdw_hashmap_next(&m->tasks, &it, &key, &v)) {
		struct fdw_task *task = v;

		if (task->proc != p || !task->table)
			continue;
		if (proc_tables_add(out, task->table, (uint32_t)key) < 0)
			return -ENOMEM;
	}
	return 0;
}

void fdw_model_proc_tables_free(struct fdw_proc_tables *pt)
{
	if (!pt)
		return;
	free(pt->v);
	*pt = (struct fdw_proc_tables){ 0 };
}

uint32_t fdw_model_proc_tid(struct fdw_model *m, struct fdw_proc *p)
{
	size_t it = 0;
	uint64_t key;
	void *v;

	if (!p)
		return 0;
	if (p->leader)
		return p->leader->tid;
	while (fdw_hashmap_next(&m->tasks, &it, &key, &v))
		if (((struct fdw_task *)v)->proc == p)
			return (uint32_t)key;
	return 0;
}

/* ---- after lost records ------------------------------------------------ */

void fdw_model_proc_identify(struct fdw_proc *p, uint64_t start_ticks, uint64_t start_stack)
{
	if (!p)
		return;
	if (!p->start_ticks)
		p->start_ticks = start_ticks;
	if (!p->start_stack)
		p->start_stack = start_stack;
}

bool fdw_model_proc_set_stat(struct fdw_model *m, struct fdw_proc *p,
			     const struct fdw_pid_stat *st, uint64_t now)
{
	bool exec = false;

	if (!p || fdw_model_proc_other(p, st))
		return false;
	/*
	 * Only an exec maps a new stack (at random, below the new program's
	 * arguments); fork copies it, PR_SET_NAME and setuid leave it. A
	 * command that changed alone is a rename, not a new program.
	 */
	if (p->start_stack && st->startstack && st->startstack != p->start_stack) {
		p->exec_count++;
		p->start_ts = now;
		p->exec_found = true;
		m->stats.execs_found++;
		exec = true;
	}
	if (!p->start_ticks)
		p->start_ticks = st->starttime;
	if (st->startstack)
		p->start_stack = st->startstack;
	if (st->comm[0]) {
		_Static_assert(sizeof(p->comm) == sizeof(st->comm), "one comm size");
		memcpy(p->comm, st->comm, sizeof(p->comm));
		p->comm[sizeof(p->comm) - 1] = '\0';
	}
	if (st->ppid)
		p->ppid = st->ppid;
	return exec;
}

void fdw_model_drop_proc(struct fdw_model *m, struct fdw_proc *p)
{
	if (p)
		fdw__proc_del(m, p);
}

void fdw_model_mark_proc_stale(struct fdw_model *m, struct fdw_proc *p)
{
	size_t it = 0;
	void *v;

	/* one thread, the leader: no walk over every task of the host */
	if (p->ntasks == 1 && p->leader) {
		if (p->leader->table)
			fdw__table_mark_stale(p->leader->table);
		return;
	}
	while (fdw_hashmap_next(&m->tasks, &it, NULL, &v)) {
		struct fdw_task *task = v;

		if (task->proc == p && task->table)
			fdw__table_mark_stale(task->table);
	}
}

void fdw_model_mark_all_stale(struct fdw_model *m)
{
	size_t it = 0;
	void *v;

	/* through the tasks: tables seen only in /proc are not in m->tables */
	while (fdw_hashmap_next(&m->tasks, &it, NULL, &v))
		if (((struct fdw_task *)v)->table)
			fdw__table_mark_stale(((struct fdw_task *)v)->table);
}

/* ---- lifecycle --------------------------------------------------------- */

void fdw_model_init(struct fdw_model *m, const struct fdw_model_ops *ops)
{
	memset(m, 0, sizeof(*m));
	fdw_hashmap_init(&m->tasks);
	fdw_hashmap_init(&m->procs);
	fdw_hashmap_init(&m->tables);
	fdw_hashmap_init(&m->hists);
	fdw_keyset_init(&m->ofds, offsetof(struct fdw_ofd, kfile), fdw__ofd_resolve, m);
	fdw_strtab_init(&m->strings);
	fdw__origin_model_new();
	fdw__ofd_model_new();
	m->max_procs = 1u << 20;
	m->max_fds = 1u << 26;
	m->max_history = 1u << 16;
	m->pending_search_budget = 1u << 18; /* a few ms of the loop: a task looked at is a cache miss */
	m->max_history_bytes = 64u << 20;
	/*
	 * Names are shared (a host's fds name a few thousand distinct paths,
	 * a few MiB); what grows past that is a user's fds on distinct long
	 * paths, ~4 KiB each. 256 MiB is 65,536 names of PATH_MAX, or a
	 * million of 256 bytes, and four times the histories' bound: the
	 * names only histories hold leave open fds 192 MiB at least.
	 */
	m->max_name_bytes = 256u << 20;
	m->name_refused = fdw_strtab_get(&m->strings, FDW_NAME_REFUSED);
	m->max_fd_number = 1u << 20; /* the kernel's default nr_open */
	m->inline_tokens_ns = FDW_INLINE_RESYNC_BURST_NS;
	if (ops)
		m->ops = *ops;
}

int fdw_model_add_observer(struct fdw_model *m, const struct fdw_model_observer *o)
{
	if (!m || !o)
		return -EINVAL;
	if (m->nobservers >= FDW_MODEL_MAX_OBSERVERS)
		return -ENOSPC;
	m->observers[m->nobservers] = *o;
	if (!o->fd_events)
		m->observers[m->nobservers].fd_events = FDW_FDEV_ALL;
	m->nobservers++;
	observers_mask(m);
	return (int)m->nobservers - 1;
}

int fdw_model_set_observer_events(struct fdw_model *m, int idx, uint32_t fd_events)
{
	if (!m || idx < 0 || (unsigned int)idx >= m->nobservers)
		return -EINVAL;
	m->observers[idx].fd_events = fd_events ? fd_events : FDW_FDEV_ALL;
	observers_mask(m);
	return 0;
}

void fdw_model_silence_observer(struct fdw_model *m, int idx)
{
	if (m && idx >= 0 && (unsigned int)idx < m->nobservers)
		m->observers[idx].on_fd_event = NULL, m->observers[idx].on_proc_exit = NULL;
}

void fdw_model_free(struct fdw_model *m)
{
	size_t it = 0;
	uint64_t key;
	void *v;
	uint32_t *pids;
	size_t n = 0;

	if (!m)
		return;
	fdw_model_scan_end(m);
	pids = malloc((fdw_hashmap_size(&m->procs) + 1) * sizeof(*pids));
	if (pids) {
		while (fdw_hashmap_next(&m->procs, &it, &key, &v))
			pids[n++] = (uint32_t)key;
		for (size_t i = 0; i < n; i++) {
			struct fdw_proc *p = fdw_hashmap_get(&m->procs, pids[i]);

			if (p)
				fdw__proc_del(m, p);
		}
		free(pids);
	}
	/* tasks without a process cannot exist; tables die with tasks */
	fdw_hashmap_free(&m->tasks);
	fdw_hashmap_free(&m->procs);
	fdw_hashmap_free(&m->tables);
	fdw_keyset_free(&m->ofds);
	fdw_hashmap_free(&m->hists); /* every ring went with its slot */
	free(m->hist_fifo);
	m->hist_fifo = NULL;
	fdw__ofd_model_gone();
	fdw__origin_forget_last(m);
	fdw_strtab_free(&m->strings);
	free(m->pending);
	free(m->wanted);
	m->pending = NULL;
	m->npending = m->pending_cap = 0;
}
