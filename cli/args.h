/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Command-line parsing for the fdwatch CLI. Pure: no environment reads, no
 * output, no exit; the caller passes $FDWATCH_SOCKET in and prints errors.
 */
#ifndef FDWATCH_CLI_ARGS_H
#define FDWATCH_CLI_ARGS_H

#include <stdbool.h>
#include <stdio.h>

#define FDW_DEFAULT_SOCKET "/run/fdwatch/fdwatch.sock"

/* Exit codes, documented in --help. */
enum {
	FDW_EXIT_OK = 0,
	FDW_EXIT_FAILURE = 1,	/* cannot reach fdwatchd, or it answered an error */
	FDW_EXIT_USAGE = 2,	/* bad command line */
	FDW_EXIT_MISMATCH = 3,	/* verify: the model differs from /proc */
};

enum fdw_cmd {
	FDW_CMD_NONE = 0,
	FDW_CMD_HELP,		/* -h/--help (or `fdwatch help`) */
	FDW_CMD_VERSION,	/* -V/--version */
	FDW_CMD_STATUS,
	FDW_CMD_PS,
	FDW_CMD_FDS,		/* fds PID */
	FDW_CMD_FD,		/* fds PID FD */
	FDW_CMD_EVENTS,
	FDW_CMD_VERIFY,
	FDW_CMD_LEAKS,
	FDW_CMD_TOP,
	FDW_CMD_MAX,
};

enum fdw_color {
	FDW_COLOR_AUTO = 0,	/* on a terminal, unless $NO_COLOR */
	FDW_COLOR_ALWAYS,
	FDW_COLOR_NEVER,
};

/* At most this many pids in -p PID[,PID...]. */
#define FDW_MAX_PIDS 64

struct fdw_args {
	enum fdw_cmd cmd;
	const char *socket;	/* never NULL after a successful parse */
	bool json;
	bool noheadings;
	bool follow;
	bool has_pid;		/* fds/verify positional PID, or events --pid */
	int pid;
	bool has_fd;
	int fd;
	bool has_limit;
	int limit;
	/* -p PID[,PID...]: pids[0] is also `pid` (has_pid) */
	int pids[FDW_MAX_PIDS];
	size_t npids;
	enum fdw_cmd help_cmd;	/* `fdwatch CMD --help`: that command's help */
	const char *output;	/* -o COLS or +COLS (added to the defaults) */
	bool list_columns;
	bool raw;		/* -r: no alignment, one space between columns */
	/* events filters (comma lists; since/until as given, checked) */
	const char *syscalls;
	const char *comms;
	const char *since;
	const char *until;
	bool failed;
	const char *sort;	/* ps, top: pid, fds, growth, limit */
	enum fdw_color color;
	bool no_pager;
	int interval_ms;	/* top: refresh period */
	char error[256];	/* set when fdw_args_parse() fails */
};

/*
 * Parse argv (argv[0] is the program name). Options may come before or
 * after the command; "--" ends options. env_socket is $FDWATCH_SOCKET or
 * NULL. Returns 0, or -EINVAL with a one-line message in a->error.
 * a->socket may point into argv or env_socket.
 */
int fdw_args_parse(struct fdw_args *a, int argc, char *const *argv,
		   const char *env_socket);

/*
 * Parse a decimal number in [min, max]: digits only (no sign, no spaces,
 * no base prefix), checked with an end pointer and for overflow.
 * Returns 0 and sets *out, or -EINVAL (not a number) / -ERANGE.
 */
int fdw_parse_int(const char *s, long min, long max, int *out);

const char *fdw_cmd_name(enum fdw_cmd cmd);

/*
 * A time for --since/--until, as seconds since the epoch: "30s", "5m",
 * "2h", "1d" (that long before now), "HH:MM[:SS]" (today, local time),
 * "YYYY-MM-DD[ HH:MM[:SS]]", or "@UNIXTIME". 0 or -EINVAL.
 */
int fdw_parse_time(const char *s, double now, double *out);

/* Short usage (for usage errors) and the full --help text. */
void fdw_usage(FILE *f);
void fdw_help(FILE *f);
/* `fdwatch CMD --help`: usage, options and examples of one command. */
void fdw_help_cmd(FILE *f, enum fdw_cmd cmd);

#endif /* FDWATCH_CLI_ARGS_H */
