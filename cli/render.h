/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Human renderings of the daemon's JSON answers (docs/api.md). Pure: they
 * write to the given streams and take "now" as a parameter, so the unit
 * test can drive them with literal JSON.
 *
 * Each returns 0, -EBADMSG when the document lacks what the API promises,
 * -ENOMEM, or -EIO when writing failed.
 */
#ifndef FDWATCH_CLI_RENDER_H
#define FDWATCH_CLI_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "output.h"

struct fdw_render {
	FILE *out;
	FILE *err;		/* warnings (stale tables) */
	double now;		/* unix time, for ages */
	bool headings;
};

int fdw_render_status(const struct fdw_render *r, const json_t *doc);
int fdw_render_ps(const struct fdw_render *r, const json_t *doc);
int fdw_render_fds(const struct fdw_render *r, const json_t *doc);
/* GET /v1/processes/PID/fds/FD */
int fdw_render_fd(const struct fdw_render *r, const json_t *doc);
/* Only the history table of a /fds/FD body (also used for its 404 body);
 * prints nothing when there is no history. */
int fdw_render_fd_history(const struct fdw_render *r, const json_t *doc);
int fdw_render_events(const struct fdw_render *r, const json_t *doc);
/* Sets *ok from the document's "ok". */
int fdw_render_verify(const struct fdw_render *r, const json_t *doc,
		      bool *ok);
int fdw_render_leaks(const struct fdw_render *r, const json_t *doc);

/* Streams: fixed-width lines, one per object. */
int fdw_render_event_heading(const struct fdw_render *r);
int fdw_render_event_line(const struct fdw_render *r, const json_t *ev);
int fdw_render_leak_heading(const struct fdw_render *r);
int fdw_render_leak_line(const struct fdw_render *r, const json_t *alert);

/* Cell formatters, exposed for the unit test. */

/* Text of a JSON value for a cell: strings as they are, integers, reals
 * (%g), booleans as yes/no, null or missing as "-", anything else as
 * compact JSON. Returns a malloc'd string or NULL on ENOMEM. */
char *fdw_json_text(const json_t *v);

/* "name=value ..." for every field of an event except seq, ts, pid, tid,
 * comm, syscall, ret and errno, in the daemon's order; numbers the decoder
 * knows symbolically, and without the daemon's NAME_name(s) fields. Strings that are
 * empty or hold spaces, quotes or control characters are JSON-quoted.
 * Returns a malloc'd string ("" when none) or NULL on ENOMEM. */
char *fdw_event_args(const json_t *ev);

/* The human form of integer field key of an event, decoded the way strace
 * prints it (common/symbols.h): "O_RDONLY|O_CLOEXEC", "AT_FDCWD", "0644".
 * NULL when the field is not one the decoder knows (or on ENOMEM). */
char *fdw_event_decoded(const json_t *ev, const char *key, const json_t *val);

/* RET column: "10", "-9 (EBADF)", "-" when the event has no ret. */
void fdw_event_ret(char *buf, size_t size, const json_t *ev);

#endif /* FDWATCH_CLI_RENDER_H */
