// SPDX-License-Identifier: LGPL-2.1-or-later
/* The periodic audit: see audit.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "check/audit.h"
#include "check/verify.h"

#define AUDIT_LOG_DIFFS 5 /* differences detailed per process (verbose) */

struct fdw_audit {
	uv_timer_t timer;
	struct fdw_daemon *d;
};

/* One daemon per process; daemon.h has no field for the audit. */
static struct fdw_audit *the_audit;
/* Last pid checked: the next run starts after it (kept across restarts of
 * the timer so fdw_audit_run() alone also goes round). */
static uint32_t audit_cursor;

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void log_diffs(const json_t *diffs)
{
	for (size_t i = 0; i < json_array_size(diffs) && i < AUDIT_LOG_DIFFS; i++) {
		char *s = json_dumps(json_array_get(diffs, i), JSON_COMPACT);

		if (s)
			log_debug("audit:   %s", s);
		free(s);
	}
}

static void check_one(struct fdw_daemon *d, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(&d->model, pid);
	json_t *diffs;
	char comm[17];
	int r;

	if (!p)
		return;
	diffs = json_array();
	if (!diffs)
		return;
	r = fdw_verify_proc(d, p, diffs);
	if (r < 0) {
		/* gone (-ESRCH) is normal; other failures are not divergences */
		if (r != -ESRCH)
			log_debug("audit: pid %u not checked: %s", pid,
				strerror(-r));
		json_decref(diffs);
		return;
	}
	d->audit.checked++;
	if (r > 0) {
		d->audit.divergences++;
		p = fdw_model_proc(&d->model, pid); /* the drains may have ended it */
		if (p) {
			memcpy(comm, p->comm, 16);
			comm[16] = '\0';
			r = fdw_model_resync_proc(&d->model, p);
			if (r < 0) {
				/* resync_proc may have tried a thread that is gone (its
				 * exit lost): re-read through the tid verify just used */
				struct fdw_table *t = fdw_model_proc_table(&d->model, p);
				uint32_t tid = fdw_model_proc_tid(&d->model, p);

				if (t && tid && fdw_model_resync(&d->model, t, tid) == 0)
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

void fdw_audit_run(struct fdw_daemon *d)
{
	uint32_t self = (uint32_t)getpid(), *pids;
	size_t n = 0, it = 0, start, take;
	uint64_t key;

	d->audit.runs++;
	pids = malloc((fdw_hashmap_size(&d->model.procs) + 1) * sizeof(*pids));
	if (!pids)
		return;
	/* the daemon's own table changes as it reads /proc: not checked */
	while (fdw_hashmap_next(&d->model.procs, &it, &key, NULL))
		if ((uint32_t)key != self)
			pids[n++] = (uint32_t)key;
	qsort(pids, n, sizeof(*pids), cmp_u32);
	for (start = 0; start < n && pids[start] <= audit_cursor; start++)
		;
	take = d->cfg.audit_sample < n ? d->cfg.audit_sample : n;
	for (size_t i = 0; i < take; i++) {
		uint32_t pid = pids[(start + i) % n];

		audit_cursor = pid;
		check_one(d, pid);
	}
	free(pids);
}

static void on_timer(uv_timer_t *t)
{
	struct fdw_audit *a = t->data;

	if (!a->d->ready)
		return;
	fdw_audit_run(a->d);
}

static void on_close(uv_handle_t *h)
{
	free(h->data);
}

int fdw_audit_start(struct fdw_daemon *d)
{
	uint64_t ms = (uint64_t)d->cfg.audit_interval_s * 1000;
	struct fdw_audit *a;
	int r;

	if (!d->cfg.audit_interval_s || !d->cfg.audit_sample)
		return 0;
	if (the_audit)
		return -EALREADY;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->d = d;
	r = uv_timer_init(d->loop, &a->timer);
	if (r < 0) {
		free(a);
		return r;
	}
	a->timer.data = a;
	r = uv_timer_start(&a->timer, on_timer, ms, ms);
	if (r < 0) {
		uv_close((uv_handle_t *)&a->timer, on_close);
		return r;
	}
	the_audit = a;
	return 0;
}

void fdw_audit_stop(struct fdw_daemon *d)
{
	struct fdw_audit *a = the_audit;

	(void)d;
	if (!a)
		return;
	the_audit = NULL;
	(void)uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, on_close);
}
