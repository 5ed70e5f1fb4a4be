/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdwatch top: a live view of the host's processes by open fds, refreshed
 * every interval, in plain ANSI (works over ssh in any VT100-like
 * terminal). Keys sort, select and open one process's fd table; q and ^C
 * quit with the terminal restored.
 */
#ifndef FDWATCH_CLI_TOP_H
#define FDWATCH_CLI_TOP_H

#include "args.h"
#include "client.h"
#include "render.h"

/* Runs until q, ^C or SIGTERM. Returns an exit code (FDW_EXIT_*). */
int fdw_top(struct fdw_client *c, const struct fdw_args *a, const struct fdw_render *r);

/*
 * The pure part, for tests: the screen for these answers (procs: GET
 * /v1/processes, leaks: GET /v1/leaks, races: GET /v1/races or NULL when
 * the daemon has none), as lines of at most cols characters, into f.
 */
struct fdw_top_view {
	const char *sort;	/* "fds" (default), "growth", "limit", "pid" */
	int selected_pid;	/* highlighted row, 0: the first */
	int rows, cols;		/* terminal size */
	bool color, utf8;
	double now;
};
struct fdw_top_hist;	/* fd counts top saw, per pid (may be NULL) */
int fdw_top_render(FILE *f, const struct fdw_top_view *v, const json_t *procs,
		   const json_t *leaks, const json_t *races,
		   const struct fdw_top_hist *hist, int *selected_pid);

#endif /* FDWATCH_CLI_TOP_H */
