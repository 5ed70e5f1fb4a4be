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

/* Client-side filters of events (the daemon filters by one pid only). */
struct fdw_event_filter {
	const char *syscalls;	/* comma list, NULL: any */
	const char *comms;	/* comma list of exact commands, NULL: any */
	bool has_since, has_until;
	double since, until;	/* unix time, inclusive */
	bool failed;		/* only ret < 0 */
};

struct fdw_render {
	FILE *out;
	FILE *err;		/* warnings (stale tables) */
	double now;		/* unix time, for ages */
	bool headings;
	const char *output;	/* -o COLS / +COLS, NULL: the defaults */
	bool raw;		/* -r */
	bool color;		/* SGR colors (decided by the caller) */
	bool utf8;		/* sparklines in Unicode blocks */
	const int *pids;	/* -p: only these (ps, fds, events, leaks) */
	size_t npids;
	const char *sort;	/* ps: "pid" (default), "fds", "growth", "limit" */
	const struct fdw_event_filter *filter;	/* events, NULL: all */
};

/*
 * The columns of a view ("ps", "fds", "events", "leaks", "verify"):
 * check -o COLS (0, or -EINVAL with a message in err), print the list.
 */
int fdw_columns_check(const char *view, const char *output, char *err, size_t size);
int fdw_columns_list(const struct fdw_render *r, const char *view);

/* The processes of a /v1/processes array in --sort order ("pid" or NULL:
 * by pid; "fds", "growth", "limit": largest first, then by pid). *out is a
 * malloc'd array of json_array_size(procs) borrowed pointers. */
int fdw_sort_processes(const json_t *procs, const char *sort, const json_t ***out);

/*
 * fdw_render_ps() and fdw_render_fds() of the answer's text (JSON, as
 * fdw_json_valid() checks it), the same output: the members beside the
 * array parsed, then each element of the array alone, made a row and
 * freed, never the whole answer as one tree (for 20,000 fds: half the
 * time, a fifth of the memory). -EBADMSG when it is not such an answer.
 */
int fdw_render_ps_text(const struct fdw_render *r, const char *text, size_t len);
int fdw_render_fds_text(const struct fdw_render *r, const char *text, size_t len);

/* The warning for a stale fd table (doc: a /fds answer), on r->err. */
void fdw_warn_stale(const struct fdw_render *r, const json_t *doc);

/* Does the event pass the filter (and r's pids)? */
bool fdw_event_wanted(const struct fdw_render *r, const json_t *ev);

/* The sparkline of a leak alert's evidence.series (width chars at most);
 * "" when it has none. */
void fdw_alert_trend(const json_t *alert, char *buf, size_t size, size_t width,
		     bool utf8);

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

/* The call as strace prints it, from the same decoding: "openat(AT_FDCWD,
 * \"/etc/hosts\", O_RDONLY|O_CLOEXEC, 0) = 3", "close(99) = -9 (EBADF)".
 * Returns a malloc'd string or NULL on ENOMEM. */
char *fdw_event_call(const json_t *ev);

/* RET column: "10", "-9 (EBADF)", "-" when the event has no ret. */
void fdw_event_ret(char *buf, size_t size, const json_t *ev);

#endif /* FDWATCH_CLI_RENDER_H */
