// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The periodic audit (check/check.h): each round compares the next few
 * processes with /proc, round-robin by pid, and re-reads any table found
 * wrong. No timer here: the wiring layer calls fdw_audit_run().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/hashmap.h"
#include "base/log.h"
#include "check/check.h"
#include "sys/procfs.h"

#define AUDIT_LOG_DIFFS 5 /* differences detailed per process (debug) */

static void log_diffs(const json_t *diffs)
{
	for (size_t i = 0; i < json_array_size(diffs) && i < AUDIT_LOG_DIFFS; i++) {
		char *s = json_dumps(json_array_get(diffs, i), JSON_COMPACT);

		if (s)
			log_debug("audit:   %s", s);
		free(s);
	}
}

static void check_one(struct fdw_checker *c, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(c->model, pid);
	json_t *diffs;
	char comm[17];
	int r;

	if (!p)
		return;
	diffs = json_array();
	if (!diffs)
		return;
	r = fdw_verify_proc(c, p, diffs);
	if (r < 0) {
		/* gone (-ESRCH) is normal, and if /proc has no trace of it the
		 * model must not keep it; other failures are not divergences */
		p = fdw_model_proc(c->model, pid);
		if (r == -ESRCH && p)
			(void)fdw_pipeline_drop_if_gone(c->pipeline, p);
		if (r != -ESRCH)
			log_debug("audit: pid %u not checked: %s", pid,
				strerror(-r));
		json_decref(diffs);
		return;
	}
	c->stats.checked++;
	if (r > 0) {
		c->stats.divergences++;
		p = fdw_model_proc(c->model, pid); /* the drains may have ended it */
		if (p) {
			memcpy(comm, p->comm, 16);
			comm[16] = '\0';
			r = fdw_model_resync_proc(c->model, p);
			if (r < 0) {
				/* resync_proc may have tried a thread that is gone (its
				 * exit lost): re-read through the tid verify just used */
				struct fdw_table *t = fdw_model_proc_table(c->model, p);
				uint32_t tid = fdw_model_proc_tid(c->model, p);

				if (t && tid && fdw_model_resync(c->model, t, tid) == 0)
					r = 0;
			}
			if (r < 0)
				log_warning("audit: pid %u (%s) diverged from /proc: %zu "
					"differences; re-reading the table failed: %s",
					pid, comm, json_array_size(diffs), strerror(-r));
			else
				log_warning("audit: pid %u (%s) diverged from /proc: %zu "
					"differences; table re-read",
					pid, comm, json_array_size(diffs));
			log_diffs(diffs);
		}
	}
	json_decref(diffs);
}

static int list_cb(void *data, uint32_t pid)
{
	return fdw_hashmap_put(data, pid, (void *)1) < 0 ? -ENOMEM : 0;
}

/*
 * Processes the model holds but /proc does not list exited while their
 * exit record was lost (or came before a /proc read that still saw them):
 * drop them, so no ghost outlives one audit period. The model is drained
 * first and /proc listed after, so every process it holds existed before
 * the listing started.
 */
static void sweep_ghosts(struct fdw_checker *c)
{
	struct fdw_hashmap live;
	uint32_t *pids;
	size_t n = 0, it = 0;
	uint64_t key;

	fdw_pipeline_drain(c->pipeline);
	fdw_hashmap_init(&live);
	if (fdw_proc_list_pids(c->proc_root, list_cb, &live) < 0) {
		fdw_hashmap_free(&live);
		return;
	}
	pids = malloc((fdw_hashmap_size(&c->model->procs) + 1) * sizeof(*pids));
	if (pids) {
		while (fdw_hashmap_next(&c->model->procs, &it, &key, NULL))
			if (!fdw_hashmap_get(&live, key))
				pids[n++] = (uint32_t)key;
		for (size_t i = 0; i < n; i++) {
			struct fdw_proc *p = fdw_model_proc(c->model, pids[i]);

			if (p)
				(void)fdw_pipeline_drop_if_gone(c->pipeline, p);
		}
		free(pids);
	}
	fdw_hashmap_free(&live);
}

void fdw_audit_run(struct fdw_checker *c)
{
	uint32_t self = (uint32_t)getpid(), *pids;
	size_t n = 0, it = 0, start, take;
	uint64_t key;

	c->stats.runs++;
	pids = malloc((fdw_hashmap_size(&c->model->procs) + 1) * sizeof(*pids));
	if (!pids)
		return;
	/* the daemon's own table changes as it reads /proc: not checked */
	while (fdw_hashmap_next(&c->model->procs, &it, &key, NULL))
		if ((uint32_t)key != self)
			pids[n++] = (uint32_t)key;
	qsort(pids, n, sizeof(*pids), fdw_cmp_u32);
	for (start = 0; start < n && pids[start] <= c->audit_cursor; start++)
		;
	take = c->audit_sample < n ? c->audit_sample : n;
	for (size_t i = 0; i < take; i++) {
		uint32_t pid = pids[(start + i) % n];

		c->audit_cursor = pid;
		check_one(c, pid);
	}
	free(pids);
	sweep_ghosts(c);
}
