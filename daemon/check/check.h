/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checking the model against the kernel (daemon/check/verify.c): on
 * request (GET /v1/verify) and periodically on a sample (the audit). Both ask the pipeline to drain first, so a
 * difference is never just an event still in the ring. No timer: the
 * wiring layer calls fdw_audit_run() on its own schedule and lends its
 * thread pool (offload) for the /proc reads.
 */
#pragma once

#include <stdint.h>

#include <jansson.h>

#include "model/model.h"
#include "pipeline/pipeline.h"

struct fdw_check_stats {
	uint64_t runs;	      /* audit rounds */
	uint64_t checked;     /* processes compared by the audit */
	uint64_t divergences; /* processes found wrong (audit and verify) */
	uint64_t in_flight;   /* differences of fds a syscall was changing: not counted */
	uint64_t window_changes; /* differences of fds a record changed while /proc was
				  * read: not counted */
	uint64_t inconclusive;	 /* audit checks of a process whose table changed in ways
				  * that say no fd (exec, io_uring...): no verdict */
	uint64_t audit_skipped;	  /* audit rounds not started: the last still ran */
	uint64_t verify_refused;  /* verify requests refused: FDW_VERIFY_RUNS_MAX ran */
	uint64_t diffs_truncated; /* differences not listed past FDW_VERIFY_MAX_DIFFS */
	uint64_t processes_missing; /* live processes a verify found the model lacked */
};

/* Verify runs at once (the audit's own round not counted); more are refused. */
#define FDW_VERIFY_RUNS_MAX 4
/* Differences one answer lists; past it, counted ("differences_total"). */
#define FDW_VERIFY_MAX_DIFFS 10000

struct fdw_verify_run; /* verify.c */

struct fdw_checker {
	struct fdw_model *model;
	struct fdw_pipeline *pipeline;
	const char *proc_root;
	unsigned int audit_sample; /* processes per audit round */
	uint32_t audit_cursor;	   /* last pid audited: the next round starts after it */
	struct fdw_check_stats stats;
	/* /proc reads run through this (libuv's thread pool in the daemon);
	 * NULL: checks run to their end in the call that starts them */
	fdw_offload_fn offload;
	void *offload_userdata;
	struct fdw_verify_run *runs; /* verify runs in flight */
	unsigned int nruns;
	struct fdw_verify_run *audit; /* the audit round in flight, if any */
};

void fdw_checker_init(struct fdw_checker *c, struct fdw_model *m, struct fdw_pipeline *pl,
		      const char *proc_root, unsigned int audit_sample);

/* Abandon every check in flight (shutdown): no callback runs after this;
 * reads still in the pool free their run when they come back. */
void fdw_checker_stop(struct fdw_checker *c);

/*
 * A check runs in steps. Per process and round: drain the pipeline, read
 * /proc/PID/fd (and fdinfo) off the loop, drain, take the names read, and
 * compare; a process with differences is read again (up to three rounds,
 * 1 ms apart, the pause taken off the loop too) and only the differences
 * seen every time count; those of fds a thread is changing right now are
 * dropped (another read off the loop). The loop runs other work between
 * steps: checking every process never holds it.
 */

/*
 * Compare process `p` (its table as /proc/PID/fd shows it) with the
 * kernel, to the end, in this call (the unit tests' form). Appends one
 * {"pid","fd","kind","model","kernel"} object per difference to `diffs`
 * (kind: "missing" kernel has the fd, the model not; "extra" the reverse;
 * "target"; "cloexec"). Returns the number of differences, -ESRCH when the
 * process went away meanwhile (not a difference), or another -errno (e.g.
 * -EACCES).
 *
 * The drains may free `p`: look the process up again by pid afterwards.
 */
int fdw_verify_proc(struct fdw_checker *c, struct fdw_proc *p, json_t *diffs);

/*
 * The answer: {"ok","checked","errors","differences"[,"differences_total"]}
 * for one process, or for every process when pid is 0 (the daemon itself
 * excluded: reading its own /proc entry changes its own table). Tables
 * found wrong are queued for a re-read.
 *
 * done(userdata, doc, 0) with the answer (the callee owns it), or
 * done(userdata, NULL, -errno): -ENOENT for an unknown pid. progress, if
 * set, is called after each process checked. Returns 0 and sets *run while
 * the check goes on (done comes later, from the loop), 0 with *run NULL
 * when it ended already (done was called), -EBUSY when
 * FDW_VERIFY_RUNS_MAX run already, or another -errno (done not called).
 */
typedef void (*fdw_verify_done_fn)(void *userdata, json_t *doc, int err);
int fdw_verify_start(struct fdw_checker *c, uint32_t pid, fdw_verify_done_fn done,
		     void (*progress)(void *userdata), void *userdata,
		     struct fdw_verify_run **run);

/* The requester is gone: done is not called; the run stops at its next step. */
void fdw_verify_abandon(struct fdw_verify_run *run);

/* fdw_verify_start run to its end in this call (tests): the answer, or NULL
 * with *err set. */
json_t *fdw_verify(struct fdw_checker *c, uint32_t pid, int *err);

/* Start one audit round: the next `audit_sample` processes after the
 * cursor, then every process the model holds that /proc no longer lists is
 * dropped. Not started (counted) while the last round still runs. */
void fdw_audit_run(struct fdw_checker *c);
