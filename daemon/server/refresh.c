// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * GET /v1/processes/PID/fds shows renamed and deleted files by their names
 * now: the whole table's names are read in one BPF iterator pass (the
 * model's read_targets_mt, daemon.c), which for a 20,000-fd process takes
 * tens of milliseconds in the kernel. That read runs in libuv's thread
 * pool; the names are applied on the loop when it completes (each fd only
 * if it still has the inode it had when read), then the answer is
 * streamed (stream.c).
 *
 * The work item belongs to the server, not to the client (pool.c): a
 * client asking for the same table meanwhile joins it; a client that
 * closes meanwhile only detaches, and the item is freed when the pool
 * hands it back.
 *
 * Bounded: at most REFRESH_MAX_JOBS reads in flight (the pool has eight
 * threads, main.c, and the owners' reads and the capture use it too) and
 * tables of at most
 * REFRESH_MAX_FDS fds (names up to REFRESH_MAX_BYTES); past a bound the
 * answer goes out with the names the model has and the skip is counted
 * (status: dropped.name_refreshes).
 */
#include <stddef.h>
#include <string.h>

#include "base/log.h"
#include "model/model.h"
#include "pipeline/pipeline.h"
#include "server/internal.h"

#define REFRESH_MAX_JOBS 2
#define REFRESH_MAX_FDS 65536
#define REFRESH_MAX_BYTES (16u << 20)

struct srv_refresh {
	struct srv_job job; /* first: the pool's item (pool.c) */
	const struct fdw_model_ops *ops;
	uint32_t pid, tid;
	int err;
	struct fdw_targets targets;
};
_Static_assert(offsetof(struct srv_refresh, job) == 0, "srv_job_new() allocates it");

/* In a thread of the pool: nothing of the loop's is touched. */
static void refresh_work(struct srv_job *j)
{
	struct srv_refresh *r = (struct srv_refresh *)j;

	r->err = r->ops->read_targets_mt(r->ops->userdata, r->tid, fdw_targets_add, &r->targets);
}

static bool proc_table_stale(struct fdw_model *m, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(m, pid);
	const struct fdw_table *t = p ? fdw_model_proc_table(m, p) : NULL;

	return t && t->stale;
}

/* On the loop: the names applied for the clients still waiting. */
static void refresh_done(struct srv_job *j, int status)
{
	struct srv_refresh *r = (struct srv_refresh *)j;
	struct fdw_server *s = j->s;
	struct fdw_model *m = s->deps.model;
	struct fdw_proc *p;

	if (!srv_job_waited(j))
		return;
	p = fdw_model_proc(m, r->pid);
	if (r->targets.over)
		s->refresh_skipped++;
	else if (p && status == 0 && r->err == 0)
		fdw_model_apply_targets(m, p, &r->targets);
	else
		log_debug("api: names of pid %u not read: %s", r->pid,
			  status < 0 ? uv_strerror(status) : strerror(-r->err));
	/* while the names were read, the table may have been marked for a
	 * re-read (a probe attached late, lost records): take it now, as
	 * the request's own drain would have, rather than answer "stale" */
	if (s->deps.pipeline && proc_table_stale(m, r->pid))
		fdw_pipeline_drain(s->deps.pipeline);
}

static void refresh_wake(struct srv_job *j, struct client *c)
{
	c->refresh_then(c, ((struct srv_refresh *)j)->pid);
}

static void refresh_release(struct srv_job *j)
{
	fdw_targets_free(&((struct srv_refresh *)j)->targets);
}

static const struct srv_job_ops refresh_ops = {
	.work = refresh_work,
	.done = refresh_done,
	.wake = refresh_wake,
	.release = refresh_release,
};

void srv_refresh_then(struct client *c, uint32_t pid, void (*then)(struct client *c, uint32_t pid))
{
	struct fdw_server *s = c->srv;
	struct fdw_model *m = s->deps.model;
	struct fdw_proc *p = fdw_model_proc(m, pid);
	const struct fdw_table *t = p ? fdw_model_proc_table(m, p) : NULL;
	struct srv_refresh *r;

	c->refresh_then = then;

	if (!t) {
		then(c, pid); /* no table: nothing to name */
		return;
	}
	if (!m->ops.read_targets_mt) {
		/* no reader for the pool (the unit tests' fakes): on the loop */
		fdw_model_refresh_targets(m, p);
		then(c, pid);
		return;
	}
	/* the same table's names on their way already: wait for them */
	for (struct srv_job *j = s->refreshes; j; j = j->next) {
		r = (struct srv_refresh *)j;
		if (r->pid == pid && r->tid == fdw_model_proc_tid(m, p) && srv_job_wait(j, c))
			return;
	}
	if (t->nopen > REFRESH_MAX_FDS || s->refreshing >= REFRESH_MAX_JOBS || s->stopping) {
		s->refresh_skipped++;
		then(c, pid);
		return;
	}
	r = srv_job_new(s, &refresh_ops, sizeof(*r));
	if (!r) {
		s->refresh_skipped++;
		then(c, pid);
		return;
	}
	r->ops = &m->ops;
	r->pid = pid;
	r->tid = fdw_model_proc_tid(m, p);
	r->targets.max_fds = REFRESH_MAX_FDS;
	r->targets.max_bytes = REFRESH_MAX_BYTES;
	if (!srv_job_wait(&r->job, c) ||
	    srv_job_queue(&r->job, &s->refreshes, &s->refreshing) < 0) {
		srv_job_detach(c);
		srv_job_free(&r->job);
		s->refresh_skipped++;
		then(c, pid);
		return;
	}
}
