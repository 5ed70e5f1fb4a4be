/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pipeline: the one owner of the ring buffer's consumption. Every
 * record goes
 *
 *   capture (ring) -> decode -> timestamp -> model (observers: detectors)
 *                  -> history -> on_event (wired to the follow streams)
 *
 * and whatever keeps the model honest on the way: the start-up /proc scan,
 * and re-reading the tables whose records the kernel lost. Nothing else
 * consumes the ring: the server and the checks ask fdw_pipeline_drain()
 * for read-your-writes; detectors never drain.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/hashmap.h"
#include "capture/capture.h"
#include "capture/snapshot.h"
#include "model/history.h"
#include "model/model.h"

struct fdw_pipeline_stats {
	uint64_t events_received; /* records taken from the ring */
	uint64_t events_bad;	  /* records that failed to decode */
	uint64_t lost_handled;	  /* kernel-lost records already resynced for */
	uint64_t loss_resyncs;	  /* processes re-read after lost records */
	uint64_t ghosts_dropped;  /* processes dropped because /proc had no trace */
	uint64_t scan_errors;	  /* processes the /proc scan could not add */
	uint64_t drains;	  /* fdw_pipeline_drain() calls */
	uint64_t drains_partial;  /* fdw_pipeline_drain_for() that ran out of budget */
	uint64_t resync_refused;  /* re-reads not queued (out of memory): left stale */
	uint64_t resync_offloaded; /* re-reads done off the loop */
	uint64_t resync_retried;   /* ... read again: the table changed meanwhile */
	uint64_t resync_waits;	   /* queued re-reads put back: the table's last
				    * read was too recent (fdw_model_resync_due) */
	uint64_t loop_lag_max_ms; /* the loop's worst lateness, set by daemon.c's tick */
	bool scan_snapshot;	  /* the start-up scan read the BPF snapshot (else /proc) */
	uint64_t scan_fds;	  /* fds the snapshot held */
	uint64_t scan_from_proc;  /* processes it did not show, read from /proc */
	uint64_t scan_exited;	  /* zombies and exiting processes /proc still showed */
	uint64_t scan_ms;	  /* the start-up scan's duration */
	uint64_t discover_runs;	  /* /proc pid scans after lost records */
	uint64_t discovered;	  /* processes they added (their fork record was lost) */
	uint64_t discover_deferred; /* ... left for the next scan: past FDW_DISCOVER_BATCH */
	uint64_t forks_stale;	  /* children queued for a re-read: forked from a stale table */
	uint64_t addfd_unresolved; /* seccomp ADDFDs whose target the probe could not
				    * tell: its process (or every one) re-read */
	uint64_t addfd_rereads;	   /* ... whole-host re-reads they made (spaced by
				    * FDW_ADDFD_ALL_EVERY_NS) */
};

/* Processes waiting for a re-read after lost records, in order, once each. */
struct fdw_resync_queue {
	uint32_t *v; /* ring of pids */
	size_t head, n, cap;
	struct fdw_hashmap set; /* the pids in v */
};

/* Run work(arg) off the loop (a worker thread), then done(arg) on it: 0,
 * or -errno when it cannot (then neither runs). */
typedef int (*fdw_offload_fn)(void *userdata, void (*work)(void *arg), void (*done)(void *arg),
			      void *arg);

/* Whole-host re-reads for seccomp ADDFDs of unknown target: at most one per. */
#define FDW_ADDFD_ALL_EVERY_NS (10 * 1000000000ull)

/* Re-reads of tables running off the loop at once. */
#define FDW_RESYNC_JOBS_MAX 2
/* The default offload_min_fds. */
#define FDW_RESYNC_OFFLOAD_MIN_FDS 512

/* New processes one /proc scan after lost records adds; the rest wait for
 * the next scan (counted in discover_deferred). */
#define FDW_DISCOVER_BATCH 1024

struct fdw_resync_job;
struct fdw_discover_job;

struct fdw_pipeline {
	struct fdw_capture *capture; /* NULL until fdw_pipeline_attach() */
	struct fdw_model *model;
	struct fdw_history *history;
	const char *proc_root;
	/* each event once applied (history entry); optional */
	void (*on_event)(void *userdata, const struct fdw_history_entry *e);
	/* records were lost; the events from `since_seq` on (those applied
	 * since the last look at the lost count) may follow one of them, such
	 * as a setuid program's exec. `tgids`: the processes (keys) whose
	 * records were lost since that look; NULL when not all of them are
	 * known (the kernel's per-process map overflowed): any may have.
	 * Optional */
	void (*on_lost)(void *userdata, uint64_t since_seq, const struct fdw_hashmap *tgids);
	void *userdata;

	struct fdw_pipeline_stats stats;
	uint64_t seq;	       /* last event sequence number */
	uint64_t cal_mono_ns;  /* a (CLOCK_MONOTONIC, jiffies) pair from a task record */
	uint64_t cal_jiffies;
	uint64_t ns_per_jiffy; /* from the kernel's CONFIG_HZ; 0 until known */
	uint64_t last_ts;      /* the stream's latest stamp: stamps never go back */
	bool resync_all;       /* lost records of unknown owner: re-read all */
	bool addfd_all_wanted; /* a seccomp ADDFD of unknown target: re-read all ... */
	uint64_t addfd_all_at; /* ... spaced: CLOCK_MONOTONIC of the last time */
	struct fdw_resync_queue resync;
	uint64_t resync_budget_ns; /* of re-reads per drain (at least one table) */
	/* Where the re-reads after lost records read /proc (a big table takes
	 * a while): off the loop when set (daemon.c: the libuv thread pool),
	 * the snapshot applied on the loop unless a newer record of the table
	 * came meanwhile (then read again). NULL: on the loop, as before. */
	fdw_offload_fn offload;
	void *offload_userdata;
	/* tables with fewer open fds are re-read on the loop still (a few
	 * hundred fds take well under a millisecond, and the drain that asked
	 * gets an exact table: read-your-writes) */
	uint32_t offload_min_fds;
	struct fdw_resync_job *jobs[FDW_RESYNC_JOBS_MAX];
	unsigned int njobs;
	uint64_t loss_logged;	 /* lost count at the last warning */
	uint64_t loss_logged_at; /* CLOCK_MONOTONIC ns of that warning */
	/* during the start-up scan only: every table as one BPF iterator pass
	 * saw it (capture/snapshot.h), and the ring position before it */
	struct fdw_snapshotter *snapshotter; /* daemon.c's; NULL: /proc only */
	struct fdw_snapshot *snapshot;
	uint64_t snapshot_pos;
	double snapshot_ticks; /* CLOCK_BOOTTIME then, in /proc's clock ticks */
	/* After lost records: a scan of /proc's pids (off the loop) for the
	 * processes whose fork (or exit) records were among them. */
	bool discover_wanted;
	struct fdw_discover_job *discover; /* in flight */
	bool covers_all;	 /* the start-up scan ran: every process should be known */
	uint64_t loss_check_pos; /* ring position when the lost count was last read */
	uint64_t loss_check_seq; /* ... and the last event sequence number then */
};

void fdw_pipeline_init(struct fdw_pipeline *p, struct fdw_model *m, struct fdw_history *h,
		       const char *proc_root);
void fdw_pipeline_free(struct fdw_pipeline *p);

/* The kernel lost records of `pid`: mark its tables stale and queue them
 * for a re-read (drains re-read the queue within resync_budget_ns). */
void fdw_pipeline_mark_lost(struct fdw_pipeline *p, uint32_t pid);

/* Ask for a scan of /proc's pids at the next drain: processes the model
 * does not know are added and queued for a re-read, processes /proc no
 * longer lists are dropped. Done after every lost-records warning. */
void fdw_pipeline_discover(struct fdw_pipeline *p);

/* Tables queued for a re-read after lost records (stale until then). */
size_t fdw_pipeline_resync_pending(const struct fdw_pipeline *p);

/* The capture options' record callback: hand it to fdw_capture_open()
 * with `p` as userdata, then fdw_pipeline_attach(). */
int fdw_pipeline_on_record(void *userdata, const void *data, size_t size, uint64_t pos);
void fdw_pipeline_attach(struct fdw_pipeline *p, struct fdw_capture *c);
/* The capture options' batch callback: the batch's new fds that are still
 * open get their targets read (fdw_model_flush_pending). */
void fdw_pipeline_on_batch(void *userdata);
/* The capture options' stale callback: mark `pid`'s tables stale and queue
 * them for a re-read at the next drain (0: all), as for lost records. */
void fdw_pipeline_on_stale(void *userdata, uint32_t pid);

/* Add every process in /proc to the model (after the probes are attached,
 * so nothing falls between the scan and the events). The tables come from
 * one pass of the BPF snapshot (p->snapshot, which the model's ops consult
 * while it is set) when it loads, else from /proc. 0 or -errno. */
int fdw_pipeline_scan(struct fdw_pipeline *p);

/* Apply every record the kernel has committed so far, then re-read the
 * tables of processes whose records were lost (read-your-writes: after
 * this, the model reflects every syscall that returned before the call,
 * with the kernel's targets: pending ones are read last). false when it
 * could not: a probe preempted mid-record held the records after it (the
 * model is behind; the next drain takes them). */
bool fdw_pipeline_drain(struct fdw_pipeline *p);

/*
 * The same for answers that may be a little behind (status, metrics): stop
 * consuming after about budget_ns, so a backlog of records (a burst the
 * loop has not caught up with) cannot hold the answer. true when it caught
 * up with everything committed before the call; false when the model is
 * as of an earlier point (fdw_pipeline_backlog() tells how far behind).
 */
bool fdw_pipeline_drain_for(struct fdw_pipeline *p, uint64_t budget_ns);

/* Bytes of records committed to the ring and not applied yet. */
uint64_t fdw_pipeline_backlog(const struct fdw_pipeline *p);

/* Times the probes woke the daemon because the ring filled (fdw_capture_wakeups). */
uint64_t fdw_pipeline_wakeups(const struct fdw_pipeline *p);

/*
 * Forget `proc` when /proc no longer has it (its exit record was lost, or
 * came before a /proc read that still saw it): true when dropped (proc is
 * freed). A live one takes its command, parent and program from /proc (an
 * exec whose record was lost starts a new program:
 * fdw_model_proc_set_stat). One whose pid /proc shows with another start
 * exited and its pid was reused: dropped as an exit drops it, and the
 * process now under the pid added and queued for a re-read
 * (fdw_model_replace_proc); true.
 */
bool fdw_pipeline_drop_if_gone(struct fdw_pipeline *p, struct fdw_proc *proc);

/* Kernel-side lost records, per CPU (if per_cpu) and in total. */
uint64_t fdw_pipeline_lost(const struct fdw_pipeline *p, uint64_t *per_cpu, unsigned int max_cpus,
			   unsigned int *ncpus);
