// SPDX-License-Identifier: LGPL-2.1-or-later
/* One snapshot of every layer's counters: see stats.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/hashmap.h"
#include "base/memtrim.h"
#include "check/check.h"
#include "model/model.h"
#include "pipeline/pipeline.h"
#include "server/stats.h"

/*
 * Tables of the model and how many are stale, each table counted once:
 * tables are shared between tasks (threads, CLONE_FILES), and a table seen
 * only in /proc is not in m->tables (that map holds the bound ones), so
 * walk the tasks. 0 or -ENOMEM.
 */
static int count_tables(struct fdw_model *m, uint64_t *ntables, uint64_t *nstale)
{
	struct fdw_hashmap seen;
	size_t it = 0;
	void *v;
	int r = 0;

	*ntables = *nstale = 0;
	fdw_hashmap_init(&seen);
	while (fdw_hashmap_next(&m->tasks, &it, NULL, &v)) {
		struct fdw_table *t = ((struct fdw_task *)v)->table;

		if (!t || fdw_hashmap_get(&seen, (uint64_t)(uintptr_t)t))
			continue;
		r = fdw_hashmap_put(&seen, (uint64_t)(uintptr_t)t, t);
		if (r < 0)
			break;
		(*ntables)++;
		*nstale += t->stale;
	}
	fdw_hashmap_free(&seen);
	return r;
}

static int collect_model(struct fdw_model *m, struct fdw_stats *st)
{
	const struct fdw_model_stats *ms = &m->stats;

	st->processes = fdw_hashmap_size(&m->procs);
	st->fds = ms->fds;
	st->ofds = ms->ofds;
	st->resyncs = ms->resyncs;
	st->rereads_inline = ms->resyncs_asked - ms->resyncs_deferred;
	st->rereads_deferred = ms->resyncs_deferred;
	st->pool_reads_partial = ms->snapshots_partial;
	st->pool_reads_refused = ms->snapshots_stale;
	st->resync_failed = ms->resync_failed;
	st->anomalies = ms->anomalies;
	st->stale_closes = ms->stale_closes;
	st->unknown_tasks = ms->unknown_task;
	st->table_splits = ms->table_splits;
	st->dropped_procs = ms->dropped_procs;
	st->dropped_fds = ms->dropped_fds;
	st->fd_history_slots = ms->history_entries;
	st->fd_history_max = m->max_history;
	st->fd_history_bytes = ms->history_bytes;
	st->fd_history_max_bytes = m->max_history_bytes;
	st->fd_history_evicted = ms->history_evicted;
	st->fd_history_refused = ms->history_dropped;
	st->given_up_tables = ms->given_up_tables;
	st->given_up_evicted = ms->given_up_evicted;
	st->fd_names = m->strings.len;
	st->fd_names_bytes = m->strings.bytes;
	st->fd_names_max_bytes = m->max_name_bytes;
	st->fd_names_refused = ms->names_refused;
	st->targets_unsearched = ms->targets_unsearched;
	st->pids_reused = ms->pids_reused;
	st->execs_found = ms->execs_found;
	return count_tables(m, &st->tables, &st->stale_tables);
}

/* Kernel-lost records, per CPU and in total (one read: the total is the
 * sum of the array shown next to it). 0 or -ENOMEM. */
static int collect_lost(struct fdw_pipeline *pl, struct fdw_stats *st)
{
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	unsigned int max = conf > 0 && conf < 65536 ? (unsigned int)conf : 1024;
	unsigned int ncpus = 0;

	st->lost_per_cpu = calloc(max, sizeof(*st->lost_per_cpu));
	if (!st->lost_per_cpu)
		return -ENOMEM;
	st->events_lost = fdw_pipeline_lost(pl, st->lost_per_cpu, max, &ncpus);
	st->ncpus = ncpus < max ? ncpus : max;
	return 0;
}

static void collect_alerts(const struct fdw_alerts *a, const struct fdw_leaks *l,
			   struct fdw_stats *st)
{
	const struct fdw_leak_stats *ls = fdw_leaks_stats(l);

	if (a) {
		st->alerts = a->stats;
		st->alerts.save_pending_ms = fdw_alerts_save_pending_ms(a, fdw_now_mono());
		st->alerts_stored = a->n;
		for (int k = 0; k < FDW_ALERT_KINDS; k++)
			st->alerts_firing += a->stats.firing[k];
	}
	if (ls)
		st->leaks = *ls;
}

int fdw_stats_collect(const struct fdw_server_deps *deps, const struct fdw_server_opts *o,
		      const struct fdw_server *s, struct fdw_stats *out)
{
	struct fdw_stats st = { 0 };
	uint64_t now = fdw_now_mono();
	int r = 0;

	st.ready = !deps->ready || *deps->ready;
	{
		uint64_t mmapped = 0;
		uint64_t in_use = fdw_memtrim_heap(deps->memtrim, now, false, &mmapped);

		/* the OFDs' blocks are mapped apart from malloc's heap */
		st.heap_bytes = in_use + mmapped + fdw_model_ofd_bytes();
		fdw_model_origin_usage(&st.origins, &st.origin_bytes);
		st.rss_bytes = fdw_rss_bytes();
		if (deps->memtrim) {
			st.trims = deps->memtrim->trims;
			st.trim_returned_bytes = deps->memtrim->returned_bytes;
			st.trim_last_us = deps->memtrim->last_us;
			st.trim_max_us = deps->memtrim->max_us;
		}
	}
	st.uptime_s = now > deps->start_mono_ns ? (double)(now - deps->start_mono_ns) / 1e9 : 0.0;
	if (deps->pipeline) {
		st.events_received = deps->pipeline->stats.events_received;
		st.events_bad = deps->pipeline->stats.events_bad;
		st.loop_lag_max_ms = deps->pipeline->stats.loop_lag_max_ms;
		st.scan_snapshot = deps->pipeline->stats.scan_snapshot;
		st.scan_fds = deps->pipeline->stats.scan_fds;
		st.scan_from_proc = deps->pipeline->stats.scan_from_proc;
		st.scan_exited = deps->pipeline->stats.scan_exited;
		if (deps->pipeline->capture) {
			const char *names[1];

			st.probes_attached =
				fdw_capture_probes(deps->pipeline->capture, names, 0, true);
			st.probes_failed =
				fdw_capture_probes(deps->pipeline->capture, names, 0, false);
			st.fanotify_read = fdw_capture_fanotify_on(deps->pipeline->capture);
		}
		st.scan_ms = deps->pipeline->stats.scan_ms;
		st.loss_resyncs = deps->pipeline->stats.loss_resyncs;
		st.resync_refused = deps->pipeline->stats.resync_refused;
		st.ghosts_dropped = deps->pipeline->stats.ghosts_dropped;
		st.discover_runs = deps->pipeline->stats.discover_runs;
		st.discovered = deps->pipeline->stats.discovered;
		st.discover_deferred = deps->pipeline->stats.discover_deferred;
		st.forks_stale = deps->pipeline->stats.forks_stale;
		st.reread_waits = deps->pipeline->stats.resync_waits;
		st.addfd_unresolved = deps->pipeline->stats.addfd_unresolved;
		st.addfd_rereads = deps->pipeline->stats.addfd_rereads;
		st.ring_backlog_bytes = fdw_pipeline_backlog(deps->pipeline);
		st.drains_partial = deps->pipeline->stats.drains_partial;
		st.ring_wakeups = fdw_pipeline_wakeups(deps->pipeline);
		r = collect_lost(deps->pipeline, &st);
	}
	if (r == 0 && deps->model)
		r = collect_model(deps->model, &st);
	if (r < 0) {
		fdw_stats_release(&st);
		return r;
	}
	if (deps->history) {
		st.history_len = deps->history->len;
		st.history_cap = deps->history->cap;
		st.history_dropped = deps->history->dropped;
	}
	if (deps->checker) {
		st.audit_runs = deps->checker->stats.runs;
		st.audit_checked = deps->checker->stats.checked;
		st.audit_divergences = deps->checker->stats.divergences;
		st.audit_skipped = deps->checker->stats.audit_skipped;
		st.audit_inconclusive = deps->checker->stats.inconclusive;
		st.verify_refused = deps->checker->stats.verify_refused;
		st.verify_diffs_truncated = deps->checker->stats.diffs_truncated;
		st.verify_missing = deps->checker->stats.processes_missing;
	}
	collect_alerts(deps->alerts, deps->leaks, &st);
	fdw_server_counters(s, &st.server);
	/* refused by the server's shares before the checker was asked */
	st.verify_refused += st.server.verify_share;
	st.max_procs = o->max_procs;
	st.max_fds = o->max_fds;
	st.max_clients = o->max_clients;
	*out = st;
	return 0;
}

void fdw_stats_release(struct fdw_stats *st)
{
	if (!st)
		return;
	free(st->lost_per_cpu);
	st->lost_per_cpu = NULL;
	st->ncpus = 0;
}
