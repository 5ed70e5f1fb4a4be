/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The periodic self-check: every cfg.audit_interval_s seconds, compare
 * cfg.audit_sample processes with /proc (verify.c), round-robin over pids
 * so every process is checked in time. A process that diverged has its
 * tables re-read (fdw_model_resync_proc) and one line is logged. Counts go
 * to d->audit: runs, processes checked, processes that diverged.
 */
#pragma once

#include "daemon.h"

/* Start the timer (nothing when audit_interval_s is 0). 0 or -errno. */
int fdw_audit_start(struct fdw_daemon *d);
/* Stop and close the timer (its memory goes with the close callback).
 * Safe when not started. */
void fdw_audit_stop(struct fdw_daemon *d);
/* One audit run now (what the timer does). */
void fdw_audit_run(struct fdw_daemon *d);
