// SPDX-License-Identifier: LGPL-2.1-or-later
/* server/pool.c: a server's work item in libuv's thread pool with the
 * clients waiting for it. Waiters are woken once the item is handed back,
 * a client that closed (detached) is not, nor one no longer waiting for an
 * answer; the server's list, count and handles come back to nothing;
 * srv_jobs_cancel() keeps the items not started from running; every item
 * is released once, queued or not. One thread in the pool, so that which
 * items have started is known. */
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "server/internal.h"

#define NJOBS 3

struct tjob {
	struct srv_job job; /* first, as srv_job_new() wants */
	int id;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool gate_open, started;
static unsigned int worked[16], done_calls, released; /* by item id */
static int status_of[16]; /* done's status by item; 1: not called */
static unsigned int woken[8];	 /* by client index */
static int woken_by[8];		 /* the item's id */
static struct client clients[8]; /* index = position in this array */

static void t_work(struct srv_job *j)
{
	struct tjob *t = (struct tjob *)j;

	pthread_mutex_lock(&mu);
	worked[t->id]++;
	started = true;
	pthread_cond_broadcast(&cv);
	while (t->id == 0 && !gate_open) /* the first holds the one thread */
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

static void t_done(struct srv_job *j, int status)
{
	struct tjob *t = (struct tjob *)j;

	done_calls++;
	status_of[t->id] = status;
	/* the item is out of the server's list and count before this */
	for (struct srv_job *k = *j->list; k; k = k->next)
		CHECK(k != j);
}

/* second part: waking client 5 closes client 6 (a later waiter of the
 * same item) and has client 5 wait for, and queue, another item (as a
 * joined owners client looks again) */
static struct tjob *requeue;
static struct srv_job **requeue_list;
static unsigned int *requeue_inflight;

static void t_wake(struct srv_job *j, struct client *c)
{
	size_t i = (size_t)(c - clients);

	CHECK(c->job == NULL);
	woken[i]++;
	woken_by[i] = ((struct tjob *)j)->id;
	if (i == 5 && requeue) {
		struct tjob *next = requeue;

		requeue = NULL;
		srv_job_detach(&clients[6]);
		CHECK(srv_job_wait(&next->job, c));
		CHECK_EQ(srv_job_queue(&next->job, requeue_list, requeue_inflight), 0);
	}
}

static void t_release(struct srv_job *j)
{
	(void)j;
	released++;
}

static const struct srv_job_ops t_ops = {
	.work = t_work,
	.done = t_done,
	.wake = t_wake,
	.release = t_release,
};

int main(void)
{
	struct fdw_server *s = calloc(1, sizeof(*s));
	struct srv_job *list = NULL;
	unsigned int inflight = 0;
	struct tjob *jobs[NJOBS];
	uv_loop_t loop;

	/* before the pool's first use: one thread */
	(void)setenv("UV_THREADPOOL_SIZE", "1", 1);
	CHECK(s != NULL);
	CHECK_EQ(uv_loop_init(&loop), 0);
	s->loop = &loop;
	s->opts.write_timeout_ms = 600000; /* the wait's bound: never reached here */
	for (size_t i = 0; i < 8; i++) {
		clients[i].srv = s;
		clients[i].state = C_READING;
		CHECK_EQ(uv_timer_init(&loop, &clients[i].timer), 0);
	}

	/* an item never queued: released and freed, once; NULL is nothing */
	srv_job_free(srv_job_new(s, &t_ops, sizeof(struct tjob)));
	CHECK_EQ(released, 1);
	srv_job_free(NULL);
	released = 0;

	for (int i = 0; i < NJOBS; i++) {
		jobs[i] = srv_job_new(s, &t_ops, sizeof(struct tjob));
		CHECK(jobs[i] != NULL);
		jobs[i]->id = i;
		status_of[i] = 1;
	}
	/* item 0: clients 0, 1 and 2 wait; 1 closes (detaches), 2 is no
	 * longer to be answered when it is handed back */
	for (int i = 0; i < 3; i++)
		CHECK(srv_job_wait(&jobs[0]->job, &clients[i]));
	CHECK(clients[0].job == &jobs[0]->job);
	CHECK_EQ(clients[0].state, C_RESPONDING);
	CHECK(uv_is_active((uv_handle_t *)&clients[0].timer));
	srv_job_detach(&clients[1]);
	CHECK(clients[1].job == NULL);
	srv_job_detach(&clients[1]); /* twice: nothing */
	CHECK(srv_job_waited(&jobs[0]->job));
	clients[2].state = C_LINGER;
	/* item 1: client 3, who closes too (none left); item 2: client 4 */
	CHECK(srv_job_wait(&jobs[1]->job, &clients[3]));
	srv_job_detach(&clients[3]);
	CHECK(!srv_job_waited(&jobs[1]->job));
	CHECK(srv_job_wait(&jobs[2]->job, &clients[4]));

	for (int i = 0; i < NJOBS; i++)
		CHECK_EQ(srv_job_queue(&jobs[i]->job, &list, &inflight), 0);
	CHECK_EQ(inflight, NJOBS);
	CHECK_EQ(s->handles, NJOBS);
	CHECK(list == &jobs[NJOBS - 1]->job); /* newest first */

	/* item 0 holds the one thread: the others are not started, and the
	 * server's stop keeps them from starting */
	pthread_mutex_lock(&mu);
	while (!started)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	srv_jobs_cancel(list);
	pthread_mutex_lock(&mu);
	gate_open = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 100000 && inflight; i++)
		(void)uv_run(&loop, UV_RUN_ONCE);

	fprintf(stderr, "items: %u done, %u released, works run %u %u %u; left %u, handles %u\n",
		done_calls, released, worked[0], worked[1], worked[2], inflight, s->handles);
	CHECK_EQ(inflight, 0);
	CHECK(list == NULL);
	CHECK_EQ(s->handles, 0);
	CHECK_EQ(done_calls, NJOBS);
	CHECK_EQ(released, NJOBS);
	CHECK_EQ(worked[0], 1);
	CHECK_EQ(worked[1], 0); /* cancelled before they started */
	CHECK_EQ(worked[2], 0);
	CHECK_EQ(status_of[0], 0);
	CHECK_EQ(status_of[1], UV_ECANCELED);
	CHECK_EQ(status_of[2], UV_ECANCELED);
	/* woken: client 0 by item 0 (done), client 4 by item 2 (cancelled:
	 * its answer goes out without the read); not the others */
	CHECK_EQ(woken[0], 1);
	CHECK_EQ(woken_by[0], 0);
	CHECK_EQ(woken[4], 1);
	CHECK_EQ(woken_by[4], 2);
	CHECK_EQ(woken[1] + woken[2] + woken[3], 0);
	for (int i = 0; i < 5; i++)
		CHECK(clients[i].job == NULL);

	/* an item's waiters, one of whose wake closes a later waiter and
	 * queues itself on another item: the later one is not woken, the
	 * others are, each once; nothing is left */
	{
		struct tjob *a = srv_job_new(s, &t_ops, sizeof(struct tjob));
		struct tjob *b = srv_job_new(s, &t_ops, sizeof(struct tjob));

		CHECK(a != NULL && b != NULL);
		a->id = 10;
		b->id = 11;
		requeue = b;
		requeue_list = &list;
		requeue_inflight = &inflight;
		for (int i = 5; i < 8; i++)
			CHECK(srv_job_wait(&a->job, &clients[i]));
		CHECK_EQ(srv_job_queue(&a->job, &list, &inflight), 0);
		for (int i = 0; i < 100000 && inflight; i++)
			(void)uv_run(&loop, UV_RUN_ONCE);
		fprintf(stderr, "requeue: woken %u %u %u, left %u, handles %u\n", woken[5],
			woken[6], woken[7], inflight, s->handles);
		CHECK_EQ(inflight, 0);
		CHECK(list == NULL);
		CHECK_EQ(s->handles, 0);
		CHECK(requeue == NULL);
		CHECK_EQ(woken[5], 2); /* by a, then by b */
		CHECK_EQ(woken_by[5], 11);
		CHECK_EQ(woken[6], 0);
		CHECK_EQ(woken[7], 1);
		CHECK_EQ(woken_by[7], 10);
		CHECK_EQ(released, NJOBS + 2);
		for (int i = 5; i < 8; i++)
			CHECK(clients[i].job == NULL);
	}

	/* no live handle left once the clients' timers are closed */
	for (size_t i = 0; i < 8; i++)
		uv_close((uv_handle_t *)&clients[i].timer, NULL);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	CHECK_EQ(uv_loop_close(&loop), 0);
	free(s);
	return check_summary();
}
