// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A work item of the server's in libuv's thread pool, with the clients
 * waiting for it: the one shape that a table's names (refresh.c) and the
 * owners an answer needs (access.c) are read in.
 *
 * The item belongs to the server, not to a client: other clients may
 * wait for it too (srv_job_wait); a client that closes meanwhile only
 * detaches (its slot among the waiters is cleared), and the item is freed
 * when the pool hands it back. While in flight it is in a list of the
 * server's (that its kind looks through, and that srv_jobs_cancel() walks
 * when the server stops), counted in a figure of the server's (that its
 * kind bounds), and counted as one of the server's handles, so that the
 * server is not freed before it (srv_put).
 */
#include <stdlib.h>

#include "base/grow.h"
#include "server/internal.h"

void *srv_job_new(struct fdw_server *s, const struct srv_job_ops *ops, size_t size)
{
	struct srv_job *j = calloc(1, size);

	if (!j)
		return NULL;
	j->req.data = j;
	j->s = s;
	j->ops = ops;
	return j;
}

void srv_job_free(struct srv_job *j)
{
	if (!j)
		return;
	if (j->ops->release)
		j->ops->release(j);
	free(j->waiters);
	free(j);
}

bool srv_job_wait(struct srv_job *j, struct client *c)
{
	if (FDW_GROW(j->waiters, j->nwaiters, j->waiters_cap, 4) < 0)
		return false;
	j->waiters[j->nwaiters++] = c;
	c->job = j;
	/* waiting: no output yet; the write timer bounds the wait */
	c->state = C_RESPONDING;
	srv_client_write_timer(c);
	return true;
}

bool srv_job_waited(const struct srv_job *j)
{
	for (size_t i = 0; i < j->nwaiters; i++)
		if (j->waiters[i])
			return true;
	return false;
}

void srv_job_detach(struct client *c)
{
	struct srv_job *j = c->job;

	if (!j)
		return;
	for (size_t i = 0; i < j->nwaiters; i++)
		if (j->waiters[i] == c)
			j->waiters[i] = NULL;
	c->job = NULL;
}

/* In a thread of the pool: nothing of the loop's is touched. */
static void job_work(uv_work_t *req)
{
	struct srv_job *j = req->data;

	j->ops->work(j);
}

/* On the loop: out of the list, the result taken, the waiters still
 * there woken, the item freed. */
static void job_done(uv_work_t *req, int status)
{
	struct srv_job *j = req->data;
	struct fdw_server *s = j->s;

	for (struct srv_job **pp = j->list; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	(*j->inflight)--;
	j->ops->done(j, status);
	for (size_t i = 0; i < j->nwaiters; i++) {
		struct client *c = j->waiters[i];

		if (!c)
			continue;
		c->job = NULL;
		if (c->state == C_RESPONDING && !c->streaming)
			j->ops->wake(j, c);
	}
	srv_job_free(j);
	srv_put(s);
}

int srv_job_queue(struct srv_job *j, struct srv_job **list, unsigned int *inflight)
{
	int r = uv_queue_work(j->s->loop, &j->req, job_work, job_done);

	if (r < 0)
		return r;
	j->s->handles++; /* the server outlives the work item (srv_put) */
	j->list = list;
	j->inflight = inflight;
	(*inflight)++;
	j->next = *list;
	*list = j;
	return 0;
}

void srv_jobs_cancel(struct srv_job *list)
{
	for (struct srv_job *j = list; j; j = j->next)
		(void)uv_cancel((uv_req_t *)&j->req); /* done with UV_ECANCELED */
}
