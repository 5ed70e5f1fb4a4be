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
 * The work item belongs to the server, not to the client: a client asking
 * for the same table meanwhile joins it; a client that closes meanwhile
 * only detaches (its pointer in the item is cleared), and
 * the item is freed when the pool hands it back. The server counts the
 * item as one of its handles, so that it is not freed before.
 *
 * Bounded: at most REFRESH_MAX_JOBS reads in flight (the pool has eight
 * threads, main.c, and the owners' reads and the capture use it too) and
 * tables of at most
 * REFRESH_MAX_FDS fds (names up to REFRESH_MAX_BYTES); past a bound the
 * answer goes out with the names the model has and the skip is counted
 * (status: dropped.name_refreshes).
 */
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "base/log.h"
#include "model/model.h"
#include "pipeline/pipeline.h"
#include "server/internal.h"

#define REFRESH_MAX_JOBS 2
#define REFRESH_MAX_FDS 65536
#define REFRESH_MAX_BYTES (16u << 20)

struct srv_refresh {
	uv_work_t req;
	struct fdw_server *s;
	struct srv_refresh *next; /* the server's reads in flight */
	/* the clients waiting for it (a second client asking for the same
	 * table joins the read in flight); NULL: that client closed */
	struct client **waiters;
	size_t nwaiters, waiters_cap;
	const struct fdw_model_ops *ops;
	uint32_t pid, tid;
	int err;
	struct fdw_targets targets;
};

/* In a thread of the pool: nothing of the loop's is touched. */
static void refresh_work(uv_work_t *req)
{
	struct srv_refresh *r = req->data;

	r->err = r->ops->read_targets_mt(r->ops->userdata, r->tid, fdw_targets_add, &r->targets);
}

/* On the loop. */
static bool has_waiters(const struct srv_refresh *r)
{
	for (size_t i = 0; i < r->nwaiters; i++)
		if (r->waiters[i])
			return true;
	return false;
}

static bool proc_table_stale(struct fdw_model *m, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(m, pid);
	const struct fdw_table *t = p ? fdw_model_proc_table(m, p) : NULL;

	return t && t->stale;
}

static void refresh_done(uv_work_t *req, int status)
{
	struct srv_refresh *r = req->data;
	struct fdw_server *s = r->s;

	for (struct srv_refresh **pp = &s->refreshes; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	s->refreshing--;
	if (has_waiters(r)) {
		struct fdw_model *m = s->deps.model;
		struct fdw_proc *p = fdw_model_proc(m, r->pid);

		if (r->targets.over)
			s->refresh_skipped++;
		else if (p && status == 0 && r->err == 0)
			fdw_model_apply_targets(m, p, &r->targets);
		else
			log_debug("api: names of pid %u not read: %s", r->pid,
				  status < 0 ? uv_strerror(status) : strerror(-r->err));
	}
	/* while the names were read, the table may have been marked for a
	 * re-read (a probe attached late, lost records): take it now, as
	 * the request's own drain would have, rather than answer "stale" */
	if (has_waiters(r) && s->deps.pipeline && proc_table_stale(s->deps.model, r->pid))
		fdw_pipeline_drain(s->deps.pipeline);
	for (size_t i = 0; i < r->nwaiters; i++) {
		struct client *c = r->waiters[i];

		if (!c)
			continue;
		c->refresh = NULL;
		if (c->state == C_RESPONDING && !c->streaming)
			c->refresh_then(c, r->pid);
	}
	fdw_targets_free(&r->targets);
	free(r->waiters);
	free(r);
	srv_put(s);
}

void srv_refresh_detach(struct client *c)
{
	struct srv_refresh *r = c->refresh;

	if (!r)
		return;
	for (size_t i = 0; i < r->nwaiters; i++)
		if (r->waiters[i] == c)
			r->waiters[i] = NULL;
	c->refresh = NULL;
}

void srv_refresh_cancel(struct fdw_server *s)
{
	for (struct srv_refresh *r = s->refreshes; r; r = r->next)
		(void)uv_cancel((uv_req_t *)&r->req); /* done with UV_ECANCELED */
}

/* `c` waits for `r` too. false when out of memory. */
static bool wait_for(struct srv_refresh *r, struct client *c)
{
	if (FDW_GROW(r->waiters, r->nwaiters, r->waiters_cap, 4) < 0)
		return false;
	r->waiters[r->nwaiters++] = c;
	c->refresh = r;
	/* waiting: no output yet; the write timer bounds the wait */
	c->state = C_RESPONDING;
	srv_client_write_timer(c);
	return true;
}

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
	for (r = s->refreshes; r; r = r->next)
		if (r->pid == pid && r->tid == fdw_model_proc_tid(m, p) && wait_for(r, c))
			return;
	if (t->nopen > REFRESH_MAX_FDS || s->refreshing >= REFRESH_MAX_JOBS || s->stopping) {
		s->refresh_skipped++;
		then(c, pid);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		s->refresh_skipped++;
		then(c, pid);
		return;
	}
	r->req.data = r;
	r->s = s;
	r->ops = &m->ops;
	r->pid = pid;
	r->tid = fdw_model_proc_tid(m, p);
	r->targets.max_fds = REFRESH_MAX_FDS;
	r->targets.max_bytes = REFRESH_MAX_BYTES;
	if (!wait_for(r, c) ||
	    uv_queue_work(s->loop, &r->req, refresh_work, refresh_done) < 0) {
		c->refresh = NULL;
		free(r->waiters);
		free(r);
		s->refresh_skipped++;
		then(c, pid);
		return;
	}
	s->handles++; /* the server outlives the work item (srv_put) */
	s->refreshing++;
	r->next = s->refreshes;
	s->refreshes = r;
}
