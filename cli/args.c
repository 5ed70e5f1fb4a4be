// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Command-line parsing for the fdwatch CLI. Hand-written rather than
 * getopt_long() so that it is reentrant (no global optind), never prints,
 * and accepts options on either side of the command without permuting
 * argv.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

enum opt_id {
	OPT_SOCKET,
	OPT_JSON,
	OPT_NOHEADINGS,
	OPT_HELP,
	OPT_VERSION,
	OPT_PID,
	OPT_LIMIT,
	OPT_FOLLOW,
};

struct opt_def {
	const char *name;	/* long name, without "--" */
	char short_name;	/* 0: none */
	bool has_arg;
	enum opt_id id;
};

static const struct opt_def opt_defs[] = {
	{ "socket", 0, true, OPT_SOCKET },
	{ "json", 'J', false, OPT_JSON },
	{ "noheadings", 'n', false, OPT_NOHEADINGS },
	{ "help", 'h', false, OPT_HELP },
	{ "version", 'V', false, OPT_VERSION },
	{ "pid", 'p', true, OPT_PID },
	{ "limit", 0, true, OPT_LIMIT },
	{ "follow", 'f', false, OPT_FOLLOW },
};

static const struct {
	const char *name;
	enum fdw_cmd cmd;
} cmd_defs[] = {
	{ "status", FDW_CMD_STATUS },
	{ "ps", FDW_CMD_PS },
	{ "fds", FDW_CMD_FDS },
	{ "events", FDW_CMD_EVENTS },
	{ "verify", FDW_CMD_VERIFY },
	{ "leaks", FDW_CMD_LEAKS },
	{ "races", FDW_CMD_RACES },
	{ "help", FDW_CMD_HELP },
};

#define MAX_POSITIONAL 4

/* What the loop collected before per-command validation. */
struct parse_state {
	const char *socket;
	const char *pos[MAX_POSITIONAL];
	int npos;
	bool too_many;
	bool help;
	bool version;
	bool pid_opt;	/* --pid given */
	bool limit_opt;
	bool follow_opt;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct fdw_args *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(a->error, sizeof(a->error), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int fdw_parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max || v > INT_MAX)
		return -ERANGE;
	*out = (int)v;
	return 0;
}

static int parse_number(struct fdw_args *a, const char *what, const char *s,
			long min, int *out)
{
	int r;

	r = fdw_parse_int(s, min, INT_MAX, out);
	if (r == -ERANGE)
		return fail(a, "%s out of range: '%s'", what, s);
	if (r < 0)
		return fail(a, "invalid %s: '%s'", what, s);
	return 0;
}

static const struct opt_def *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++)
		if (strlen(opt_defs[i].name) == len &&
		    !strncmp(opt_defs[i].name, name, len))
			return &opt_defs[i];
	return NULL;
}

static const struct opt_def *find_short(char c)
{
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++)
		if (opt_defs[i].short_name && opt_defs[i].short_name == c)
			return &opt_defs[i];
	return NULL;
}

static int apply(struct fdw_args *a, struct parse_state *st,
		 const struct opt_def *o, const char *val)
{
	switch (o->id) {
	case OPT_SOCKET:
		if (!val || !*val)
			return fail(a, "--socket: empty path");
		st->socket = val;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_NOHEADINGS:
		a->noheadings = true;
		return 0;
	case OPT_HELP:
		st->help = true;
		return 0;
	case OPT_VERSION:
		st->version = true;
		return 0;
	case OPT_PID:
		st->pid_opt = true;
		a->has_pid = true;
		return parse_number(a, "PID", val, 1, &a->pid);
	case OPT_LIMIT:
		st->limit_opt = true;
		a->has_limit = true;
		return parse_number(a, "limit", val, 0, &a->limit);
	case OPT_FOLLOW:
		st->follow_opt = true;
		a->follow = true;
		return 0;
	}
	return fail(a, "internal error: unhandled option");
}

static int parse_long(struct fdw_args *a, struct parse_state *st, int argc,
		      char *const *argv, int *i)
{
	const char *name = argv[*i] + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct opt_def *o = find_long(name, len);
	const char *val = NULL;

	if (!o)
		return fail(a, "unknown option '--%.*s'", (int)len, name);
	if (o->has_arg) {
		if (eq) {
			val = eq + 1;
		} else {
			if (*i + 1 >= argc)
				return fail(a, "option '--%s' requires an argument",
					    o->name);
			val = argv[++*i];
		}
	} else if (eq) {
		return fail(a, "option '--%s' doesn't allow an argument",
			    o->name);
	}
	return apply(a, st, o, val);
}

static int parse_short(struct fdw_args *a, struct parse_state *st, int argc,
		       char *const *argv, int *i)
{
	const char *p = argv[*i] + 1;

	for (; *p; p++) {
		const struct opt_def *o = find_short(*p);
		const char *val = NULL;
		int r;

		if (!o)
			return fail(a, "unknown option '-%c'", *p);
		if (o->has_arg) {
			if (p[1]) {
				val = p + 1;
			} else {
				if (*i + 1 >= argc)
					return fail(a, "option '-%c' requires an argument",
						    *p);
				val = argv[++*i];
			}
			return apply(a, st, o, val);
		}
		r = apply(a, st, o, NULL);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool takes_follow(enum fdw_cmd cmd)
{
	return cmd == FDW_CMD_EVENTS || cmd == FDW_CMD_LEAKS || cmd == FDW_CMD_RACES;
}

/* Check positionals and command-specific options once the command is known. */
static int validate(struct fdw_args *a, const struct parse_state *st)
{
	const char *name = st->pos[0];
	int nargs = st->npos - 1;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cmd_defs) / sizeof(cmd_defs[0]); i++)
		if (!strcmp(cmd_defs[i].name, name))
			break;
	if (i == sizeof(cmd_defs) / sizeof(cmd_defs[0]))
		return fail(a, "unknown command '%s'", name);
	a->cmd = cmd_defs[i].cmd;

	if (st->too_many)
		return fail(a, "%s: too many arguments", name);

	switch (a->cmd) {
	case FDW_CMD_FDS:
		if (nargs < 1)
			return fail(a, "fds: missing PID");
		if (nargs > 2)
			return fail(a, "fds: too many arguments");
		r = parse_number(a, "PID", st->pos[1], 1, &a->pid);
		if (r < 0)
			return r;
		a->has_pid = true;
		if (nargs == 2) {
			r = parse_number(a, "fd", st->pos[2], 0, &a->fd);
			if (r < 0)
				return r;
			a->has_fd = true;
			a->cmd = FDW_CMD_FD;
		}
		break;
	case FDW_CMD_VERIFY:
		if (nargs > 1)
			return fail(a, "verify: too many arguments");
		if (nargs == 1) {
			r = parse_number(a, "PID", st->pos[1], 1, &a->pid);
			if (r < 0)
				return r;
			a->has_pid = true;
		}
		break;
	default:
		if (nargs > 0)
			return fail(a, "%s: unexpected argument '%s'", name,
				    st->pos[1]);
		break;
	}

	if (st->pid_opt && a->cmd == FDW_CMD_RACES)
		; /* races --pid PID */
	else if ((st->pid_opt || st->limit_opt) && a->cmd != FDW_CMD_EVENTS)
		return fail(a, "option '--%s' is only valid with 'events'",
			    st->pid_opt ? "pid" : "limit");
	if (st->follow_opt && !takes_follow(a->cmd))
		return fail(a, "option '--follow' is only valid with 'events' and 'leaks'");
	return 0;
}

int fdw_args_parse(struct fdw_args *a, int argc, char *const *argv,
		   const char *env_socket)
{
	struct parse_state st = { 0 };
	bool end_of_opts = false;
	int r;

	memset(a, 0, sizeof(*a));
	a->socket = FDW_DEFAULT_SOCKET;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!end_of_opts && !strcmp(arg, "--")) {
			end_of_opts = true;
			continue;
		}
		if (!end_of_opts && arg[0] == '-' && arg[1] == '-') {
			r = parse_long(a, &st, argc, argv, &i);
		} else if (!end_of_opts && arg[0] == '-' && arg[1]) {
			r = parse_short(a, &st, argc, argv, &i);
		} else {
			if (st.npos < MAX_POSITIONAL)
				st.pos[st.npos++] = arg;
			else
				st.too_many = true;
			r = 0;
		}
		if (r < 0)
			return r;
	}

	if (st.socket)
		a->socket = st.socket;
	else if (env_socket && *env_socket)
		a->socket = env_socket;

	if (st.help) {
		a->cmd = FDW_CMD_HELP;
		return 0;
	}
	if (st.version) {
		a->cmd = FDW_CMD_VERSION;
		return 0;
	}
	if (st.npos == 0)
		return fail(a, "no command given");
	r = validate(a, &st);
	if (r < 0)
		a->cmd = FDW_CMD_NONE;
	return r;
}

const char *fdw_cmd_name(enum fdw_cmd cmd)
{
	switch (cmd) {
	case FDW_CMD_NONE:
		return "none";
	case FDW_CMD_HELP:
		return "help";
	case FDW_CMD_VERSION:
		return "version";
	case FDW_CMD_STATUS:
		return "status";
	case FDW_CMD_PS:
		return "ps";
	case FDW_CMD_FDS:
	case FDW_CMD_FD:
		return "fds";
	case FDW_CMD_EVENTS:
		return "events";
	case FDW_CMD_VERIFY:
		return "verify";
	case FDW_CMD_LEAKS:
		return "leaks";
	case FDW_CMD_RACES:
		return "races";
	}
	return "?";
}

void fdw_usage(FILE *f)
{
	fputs("Usage: fdwatch [OPTIONS] COMMAND [ARGS]\n"
	      "Try 'fdwatch --help' for more information.\n", f);
}

void fdw_help(FILE *f)
{
	fputs("Usage: fdwatch [OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
	      "\n"
	      "Query fdwatchd, the file descriptor tracking daemon.\n"
	      "\n"
	      "Commands:\n"
	      "  status                  daemon counters\n"
	      "  ps                      tracked processes\n"
	      "  fds PID                 open file descriptors of PID\n"
	      "  fds PID FD              one descriptor and the history of its slot\n"
	      "  events [--pid PID] [--limit N] [-f]\n"
	      "                          recent fd-table events (-f: follow live)\n"
	      "  verify [PID]            compare the model with /proc now\n"
	      "  leaks [-f]              leak alerts (-f: follow live)\n"
	      "  races [--pid PID] [-f]  race and misuse findings (double-close,\n"
	      "                          use-after-close, close-in-flight, ...)\n"
	      "  explain KIND            what a finding means and what to do\n"
	      "\n"
	      "Options (before or after the command):\n"
	      "      --socket PATH       daemon socket (default $FDWATCH_SOCKET, else\n"
	      "                          " FDW_DEFAULT_SOCKET ")\n"
	      "  -J, --json              print the daemon's JSON (events and -f\n"
	      "                          streams: one object per line)\n"
	      "  -n, --noheadings        don't print table headings\n"
	      "  -p, --pid PID           events: only this process\n"
	      "      --limit N           events: at most N recent events\n"
	      "  -f, --follow            events, leaks: stream until interrupted\n"
	      "  -h, --help              show this help\n"
	      "  -V, --version           show the version\n"
	      "\n"
	      "Exit status:\n"
	      "  0  success\n"
	      "  1  fdwatchd cannot be reached, or it answered an error\n"
	      "  2  usage error\n"
	      "  3  verify found differences between the model and /proc\n", f);
}
