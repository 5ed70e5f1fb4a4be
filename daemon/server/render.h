/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The model, the history and a stats snapshot as JSON (jansson), in the
 * shapes docs/api.md defines. Pure: nothing here drains, reads /proc or
 * changes state. Every function returns a new reference, or NULL when out
 * of memory. `deps` gives the model and the clock for "ts" fields.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "base/json.h"

#include "model/history.h"
#include "model/model.h"
#include "server/server.h"
#include "server/stats.h"

/* One history entry as an event object (GET /v1/events). */
json_t *fdw_render_event(const struct fdw_server_deps *deps, const struct fdw_history_entry *e);

/*
 * One fd of table `t` (`s` is its slot; a closed or NULL slot renders with
 * a null target). Without its history: GET /v1/processes/PID/fds/FD adds
 * fdw_render_slot_history() itself, filtered for the client. With
 * `hide_origin` (an origin the client may not see: access.c), the origin
 * is all null but "source": "hidden".
 */
json_t *fdw_render_fd(const struct fdw_server_deps *deps, const struct fdw_table *t, int fd,
		      const struct fdw_slot *s, bool hide_origin);

/*
 * The precision of reals in every answer (JSON_REAL_PRECISION of the
 * server's dumps): 16 digits keep microseconds in a Unix time.
 */
#define FDW_RENDER_REAL_PRECISION 16

/*
 * fdw_render_fd(deps, t, fd, s, hide_origin) written to `f` as the server
 * dumps it, without building it (the streamed tables). Errors stay in
 * ferror(f).
 */
void fdw_render_fd_put(FILE *f, const struct fdw_server_deps *deps, const struct fdw_table *t,
		       int fd, const struct fdw_slot *s, bool hide_origin);

/*
 * The "history" array of a slot alone (for a 404 on a closed fd), newest
 * first. With `shown`, only the generations it keeps: it is asked with the
 * origin of each generation and with its close, and the generation is left
 * out unless it says yes to both (an unprivileged client: what the process
 * did before it was the client's is not the client's to see).
 */
json_t *fdw_render_slot_history(const struct fdw_server_deps *deps, const struct fdw_slot *s,
				bool (*shown)(void *userdata, const struct fdw_origin *o),
				void *userdata);

/* {"pid","comm","table","threads","stale","fds":[...]} with fds sorted by number. */
json_t *fdw_render_table(const struct fdw_server_deps *deps, const struct fdw_proc *p);

/* The same without "fds" (a streamed answer sends the fds after it). */
json_t *fdw_render_table_head(const struct fdw_server_deps *deps, const struct fdw_proc *p);

/* One element of "processes": {"pid","ppid","comm","fds",...}. */
json_t *fdw_render_process(const struct fdw_server_deps *deps, const struct fdw_proc *p);

/* fdw_render_process(deps, p) written to `f` as the server dumps it. */
void fdw_render_process_put(FILE *f, const struct fdw_server_deps *deps, const struct fdw_proc *p);

/* The model's pids, ascending (malloc'd; *n of them). NULL when out of memory. */
uint32_t *fdw_render_pids(const struct fdw_model *m, size_t *n);

/* Which processes an answer may show (server/access.c); NULL: all. */
typedef bool fdw_render_filter(void *userdata, uint32_t pid);

/* {"processes":[...]} sorted by pid, those `visible` lets through. */
json_t *fdw_render_processes(const struct fdw_server_deps *deps, fdw_render_filter *visible,
			     void *userdata);

/* GET /v1/status for a client who sees only its own processes: the daemon's
 * identity and health, and the figures of those processes (docs/api.md). */
json_t *fdw_render_status_own(const struct fdw_stats *st, uint64_t procs, uint64_t fds,
			      uint64_t firing);

/* GET /v1/status: the snapshot (stats.h) with the version, abi and pid. */
json_t *fdw_render_status(const struct fdw_stats *st);

/* {"error": msg} */
json_t *fdw_render_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
