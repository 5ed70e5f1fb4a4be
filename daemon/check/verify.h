/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Comparing the model with the kernel (GET /v1/verify, the periodic audit).
 *
 * A running process changes its table while we look, so one comparison can
 * show a difference that is only an event still in flight. Each check is
 * repeated (drain, read /proc, drain, compare) up to three times and only
 * the differences seen every time are reported.
 */
#pragma once

#include <stdint.h>

#include <jansson.h>

#include "daemon.h"

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
int fdw_verify_proc(struct fdw_daemon *d, struct fdw_proc *p, json_t *diffs);

/*
 * {"ok","checked","errors","differences"} for one process, or for every
 * process when pid is 0 (the daemon itself excluded: reading its own /proc
 * entry changes its own table). NULL with *err = -ENOENT for an unknown
 * pid, another -errno on failure.
 */
json_t *fdw_verify(struct fdw_daemon *d, uint32_t pid, int *err);
