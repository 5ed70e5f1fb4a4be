/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One snapshot of every layer's counters, taken once per request. Both
 * GET /v1/status (render.c) and GET /metrics (metrics.c) format THIS
 * struct, so a figure that appears in both is the same number by
 * construction; a figure is computed here and nowhere else.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "alerts/alerts.h"
#include "detect/leaks.h"
#include "server/server.h"

struct fdw_stats {
	bool ready;
	double uptime_s;

	/* pipeline and capture */
	uint64_t events_received;
	uint64_t events_bad;	/* failed to decode */
	uint64_t events_lost;	/* kernel side, the sum of lost_per_cpu */
	uint64_t *lost_per_cpu; /* ncpus entries (malloc'd; fdw_stats_release) */
	unsigned int ncpus;
	uint64_t loop_lag_max_ms; /* the event loop's worst lateness (1 s tick) */
	bool scan_snapshot;	  /* the start-up scan: the BPF snapshot, or /proc */
	uint64_t scan_fds;
	uint64_t scan_from_proc;
	uint64_t scan_exited;
	unsigned int probes_attached, probes_failed;
	bool fanotify_read; /* the on-demand fanotify read probe is on */
	uint64_t heap_bytes; /* malloc'd and in use (mallinfo2), and the OFDs'
			      * blocks (fdw_model_ofd_bytes) */
	uint64_t origins, origin_bytes; /* the origins' arena: records in use, its blocks */
	uint64_t rss_bytes;		/* the daemon's resident set (/proc/self/statm) */
	/* freed memory given back after bursts (base/memtrim.h) */
	uint64_t trims, trim_returned_bytes, trim_last_us, trim_max_us;
	uint64_t scan_ms;
	/* after lost records (pipeline.h's counters of the same names) */
	uint64_t loss_resyncs, resync_refused, ghosts_dropped, discover_runs, discovered,
		discover_deferred, forks_stale, addfd_unresolved, addfd_rereads;
	uint64_t verify_missing; /* live processes a verify found the model lacked */
	/* re-reads records asked for: done at once, queued; queued ones put
	 * back because the table was read too recently */
	uint64_t rereads_inline, rereads_deferred, reread_waits;
	uint64_t pool_reads_partial, pool_reads_refused; /* off-loop reads' snapshots */
	uint64_t pids_reused, execs_found; /* model.h's counters of the same names */
	uint64_t ring_backlog_bytes; /* records committed, not applied yet */
	uint64_t drains_partial;     /* status/metrics answered before catching up */
	uint64_t ring_wakeups;	     /* the probes woke the daemon: the ring was filling */

	/* model */
	uint64_t processes;
	uint64_t tables;       /* distinct tables of the model's tasks */
	uint64_t stale_tables; /* of those, known wrong until re-read */
	uint64_t fds;
	uint64_t ofds;
	uint64_t resyncs;
	uint64_t resync_failed;
	uint64_t anomalies;
	uint64_t stale_closes;	/* closes applied after another task's reopen: skipped */
	uint64_t unknown_tasks;
	uint64_t table_splits;
	uint64_t dropped_procs;
	uint64_t dropped_fds;
	/* the fds' slot histories (`fdwatch fds PID FD`), host-wide */
	uint64_t fd_history_slots, fd_history_max, fd_history_bytes, fd_history_max_bytes,
		fd_history_evicted, fd_history_refused;
	/* pipe and socketpair ends given up in a lineage (struct fdw_given_up):
	 * tables with some, and ends dropped past the bound */
	uint64_t given_up_tables, given_up_evicted;
	/* the fds' target names, each distinct one once (the histories' too):
	 * how many, their bytes, the bound, fds whose name was not kept */
	uint64_t fd_names, fd_names_bytes, fd_names_max_bytes, fd_names_refused;
	uint64_t targets_unsearched; /* moved fds a flush did not look for (budget) */

	/* history */
	uint64_t history_len;
	uint64_t history_cap;
	uint64_t history_dropped;

	/* check (audit and verify) */
	uint64_t audit_runs;
	uint64_t audit_checked;
	uint64_t audit_divergences;
	uint64_t audit_skipped;		 /* rounds not started: the last still ran */
	uint64_t audit_inconclusive;	 /* processes left without a verdict */
	uint64_t verify_refused;	 /* verify requests refused: past FDW_VERIFY_RUNS_MAX,
					  * or a share (server.verify_share) */
	uint64_t verify_diffs_truncated; /* differences past an answer's bound */

	/* alerts and leak detectors */
	struct fdw_alert_stats alerts;
	uint64_t alerts_firing; /* the sum of alerts.firing[] */
	uint64_t alerts_stored;
	struct fdw_leak_stats leaks; /* zeros without detectors */

	/* the server itself, and its limits */
	struct fdw_server_counters server;
	uint64_t max_procs;
	uint64_t max_fds;
	uint64_t max_clients;
};

/*
 * Fill *out from deps (NULL members give zeros), the limits in `o` and the
 * server's counters (`s` NULL: zeros). Reads only; the caller drains the
 * pipeline first if it wants read-your-writes. 0 or -ENOMEM (then *out
 * holds no allocation). Release with fdw_stats_release().
 */
int fdw_stats_collect(const struct fdw_server_deps *deps, const struct fdw_server_opts *o,
		      const struct fdw_server *s, struct fdw_stats *out);
void fdw_stats_release(struct fdw_stats *st);
