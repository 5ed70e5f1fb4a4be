/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The model, the history and the daemon's counters as JSON (jansson), in the
 * shapes docs/api.md defines. Pure: nothing here drains, reads /proc or
 * changes state. Every function returns a new reference, or NULL when out
 * of memory.
 */
#pragma once

#include <stdbool.h>

#include <jansson.h>

#include "base/json.h" /* fdw_json_bytes() */
#include "daemon.h"

/* One history entry as an event object (GET /v1/events). */
json_t *fdw_render_event(const struct fdw_daemon *d, const struct fdw_history_entry *e);

/*
 * One fd of table `t` (`s` is its slot; a closed or NULL slot renders with
 * a null target). With `with_history`, "history" lists the slot's earlier
 * generations, newest first.
 */
json_t *fdw_render_fd(const struct fdw_daemon *d, const struct fdw_table *t, int fd,
		      const struct fdw_slot *s, bool with_history);

/* The "history" array of a slot alone (for a 404 on a closed fd). */
json_t *fdw_render_slot_history(const struct fdw_daemon *d, const struct fdw_slot *s);

/* {"pid","comm","table","threads","stale","fds":[...]} with fds sorted by number. */
json_t *fdw_render_table(const struct fdw_daemon *d, const struct fdw_proc *p);

/* {"processes":[...]} sorted by pid. */
json_t *fdw_render_processes(const struct fdw_daemon *d);

/* GET /v1/status. */
json_t *fdw_render_status(struct fdw_daemon *d);

/* "reg", "dir", ... for an OFD (from its mode, else inferred from its target). */
const char *fdw_render_fd_type(const struct fdw_ofd *o);

/* {"error": msg} */
json_t *fdw_render_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
