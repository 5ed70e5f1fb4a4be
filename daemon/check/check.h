/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checking the model against the kernel: on request (GET /v1/verify,
 * daemon/check/verify.c) and periodically on a sample (the audit,
 * daemon/check/audit.c). Both ask the pipeline to drain first, so a
 * difference is never just an event still in the ring. No loop, no timer:
 * the wiring layer calls fdw_audit_run() on its own schedule.
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
};

struct fdw_checker {
	struct fdw_model *model;
	struct fdw_pipeline *pipeline;
	const char *proc_root;
	unsigned int audit_sample; /* processes per audit round */
	uint32_t audit_cursor;	   /* last pid audited: the next round starts after it */
	struct fdw_check_stats stats;
};

void fdw_checker_init(struct fdw_checker *c, struct fdw_model *m, struct fdw_pipeline *pl,
		      const char *proc_root, unsigned int audit_sample);

/*
 * Compare process `p` (its table as /proc/PID/fd shows it) with the
 * kernel. Appends one {"pid","fd","kind","model","kernel"} object per
 * difference to `diffs` (kind: "missing" kernel has the fd, the model not;
 * "extra" the reverse; "target"; "cloexec"). Returns the number of
 * differences, -ESRCH when the process went away meanwhile (not a
 * difference), or another -errno (e.g. -EACCES).
 *
 * The drains may free `p`: look the process up again by pid afterwards.
 */
int fdw_verify_proc(struct fdw_checker *c, struct fdw_proc *p, json_t *diffs);

/*
 * {"ok","checked","errors","differences"} for one process, or for every
 * process when pid is 0 (the daemon itself excluded: reading its own /proc
 * entry changes its own table). NULL with *err = -ENOENT for an unknown
 * pid, another -errno on failure. Tables found wrong are re-read.
 */
json_t *fdw_verify(struct fdw_checker *c, uint32_t pid, int *err);

/* One audit round: the next `audit_sample` processes after the cursor,
 * then every process the model holds that /proc no longer lists is dropped. */
void fdw_audit_run(struct fdw_checker *c);
