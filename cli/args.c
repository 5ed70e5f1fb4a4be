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
#include <time.h>

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
	OPT_OUTPUT,
	OPT_LIST_COLUMNS,
	OPT_RAW,
	OPT_SYSCALL,
	OPT_COMM,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_FAILED,
	OPT_SORT,
	OPT_COLOR,
	OPT_NO_PAGER,
	OPT_INTERVAL,
	OPT_MAX,
};

#define CMD_BIT(c) (1u << (c))
#define ANY_CMD 0u	/* valid with every command */
#define TABLE_CMDS (CMD_BIT(FDW_CMD_PS) | CMD_BIT(FDW_CMD_FDS) | CMD_BIT(FDW_CMD_FD) | \
		    CMD_BIT(FDW_CMD_EVENTS) | CMD_BIT(FDW_CMD_LEAKS) | CMD_BIT(FDW_CMD_VERIFY))

struct opt_def {
	const char *name;	/* long name, without "--" */
	char short_name;	/* 0: none */
	bool has_arg;
	enum opt_id id;
	unsigned int cmds;	/* CMD_BIT()s it is valid with; ANY_CMD: all */
};

static const struct opt_def opt_defs[] = {
	{ "socket", 0, true, OPT_SOCKET, ANY_CMD },
	{ "json", 'J', false, OPT_JSON, ANY_CMD },
	{ "noheadings", 'n', false, OPT_NOHEADINGS, ANY_CMD },
	{ "help", 'h', false, OPT_HELP, ANY_CMD },
	{ "version", 'V', false, OPT_VERSION, ANY_CMD },
	{ "pid", 'p', true, OPT_PID,
	  CMD_BIT(FDW_CMD_EVENTS) | CMD_BIT(FDW_CMD_PS) | CMD_BIT(FDW_CMD_FDS) |
	  CMD_BIT(FDW_CMD_LEAKS) | CMD_BIT(FDW_CMD_TOP) | CMD_BIT(FDW_CMD_RACES) },
	{ "limit", 0, true, OPT_LIMIT, CMD_BIT(FDW_CMD_EVENTS) },
	{ "follow", 'f', false, OPT_FOLLOW,
	  CMD_BIT(FDW_CMD_EVENTS) | CMD_BIT(FDW_CMD_LEAKS) | CMD_BIT(FDW_CMD_RACES) },
	{ "output", 'o', true, OPT_OUTPUT, TABLE_CMDS },
	{ "list-columns", 0, false, OPT_LIST_COLUMNS, TABLE_CMDS },
	{ "raw", 'r', false, OPT_RAW, ANY_CMD },
	{ "syscall", 0, true, OPT_SYSCALL, CMD_BIT(FDW_CMD_EVENTS) },
	{ "comm", 0, true, OPT_COMM, CMD_BIT(FDW_CMD_EVENTS) },
	{ "since", 0, true, OPT_SINCE, CMD_BIT(FDW_CMD_EVENTS) },
	{ "until", 0, true, OPT_UNTIL, CMD_BIT(FDW_CMD_EVENTS) },
	{ "failed", 0, false, OPT_FAILED, CMD_BIT(FDW_CMD_EVENTS) },
	{ "sort", 's', true, OPT_SORT, CMD_BIT(FDW_CMD_PS) | CMD_BIT(FDW_CMD_TOP) },
	{ "color", 0, true, OPT_COLOR, ANY_CMD },
	{ "no-pager", 0, false, OPT_NO_PAGER, ANY_CMD },
	{ "interval", 'd', true, OPT_INTERVAL, CMD_BIT(FDW_CMD_TOP) },
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
	{ "top", FDW_CMD_TOP },
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
	bool given[OPT_MAX];	/* options seen, for per-command checks */
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

/* "1,2,3" into a->pids. */
static int parse_pids(struct fdw_args *a, const char *val)
{
	const char *p = val;
	char buf[16];

	if (!val || !*val)
		return fail(a, "invalid PID: ''");
	while (*p) {
		size_t len = strcspn(p, ",");
		int pid, r;

		if (len >= sizeof(buf))
			return fail(a, "PID out of range: '%.*s'", (int)len, p);
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (a->npids == FDW_MAX_PIDS)
			return fail(a, "too many PIDs (at most %d)", FDW_MAX_PIDS);
		r = parse_number(a, "PID", buf, 1, &pid);
		if (r < 0)
			return r;
		a->pids[a->npids++] = pid;
		p += len;
		if (*p == ',' && !*++p)
			return fail(a, "invalid PID: ''");
	}
	a->has_pid = true;
	a->pid = a->pids[0];
	return 0;
}

static int apply(struct fdw_args *a, struct parse_state *st,
		 const struct opt_def *o, const char *val)
{
	double t;
	int ms;

	st->given[o->id] = true;
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
		a->npids = 0;	/* the last -p wins */
		return parse_pids(a, val);
	case OPT_LIMIT:
		a->has_limit = true;
		return parse_number(a, "limit", val, 0, &a->limit);
	case OPT_FOLLOW:
		a->follow = true;
		return 0;
	case OPT_OUTPUT:
		if (!*val || !strcmp(val, "+"))
			return fail(a, "--output: no columns given");
		a->output = val;
		return 0;
	case OPT_LIST_COLUMNS:
		a->list_columns = true;
		return 0;
	case OPT_RAW:
		a->raw = true;
		return 0;
	case OPT_SYSCALL:
		if (!*val)
			return fail(a, "--syscall: no syscall given");
		a->syscalls = val;
		return 0;
	case OPT_COMM:
		if (!*val)
			return fail(a, "--comm: no command given");
		a->comms = val;
		return 0;
	case OPT_SINCE:
	case OPT_UNTIL:
		if (fdw_parse_time(val, 0, &t) < 0)
			return fail(a, "invalid time: '%s' (try 10m, 14:30, 2026-01-31 14:30:00, @1790000000)",
				    val);
		*(o->id == OPT_SINCE ? &a->since : &a->until) = val;
		return 0;
	case OPT_FAILED:
		a->failed = true;
		return 0;
	case OPT_SORT:
		if (strcmp(val, "pid") && strcmp(val, "fds") && strcmp(val, "growth") &&
		    strcmp(val, "limit"))
			return fail(a, "invalid sort key: '%s' (pid, fds, growth or limit)", val);
		a->sort = val;
		return 0;
	case OPT_COLOR:
		if (!strcmp(val, "auto"))
			a->color = FDW_COLOR_AUTO;
		else if (!strcmp(val, "always"))
			a->color = FDW_COLOR_ALWAYS;
		else if (!strcmp(val, "never"))
			a->color = FDW_COLOR_NEVER;
		else
			return fail(a, "invalid --color: '%s' (auto, always or never)", val);
		return 0;
	case OPT_NO_PAGER:
		a->no_pager = true;
		return 0;
	case OPT_INTERVAL: {
		char *end;
		double secs;

		errno = 0;
		secs = strtod(val, &end);
		if (!*val || *end || errno || !(secs >= 0.1 && secs <= 3600))
			return fail(a, "invalid interval: '%s' (0.1 to 3600 seconds)", val);
		ms = (int)(secs * 1000 + 0.5);
		a->interval_ms = ms;
		return 0;
	}
	case OPT_MAX:
		break;
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

/* "'events'", "'events' and 'leaks'", "'ps', 'fds' and 'top'" */
static void cmd_list(unsigned int cmds, char *buf, size_t size)
{
	size_t len = 0, n = 0, total = 0;

	for (size_t i = 0; i < sizeof(cmd_defs) / sizeof(cmd_defs[0]); i++)
		if (cmds & CMD_BIT(cmd_defs[i].cmd))
			total++;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(cmd_defs) / sizeof(cmd_defs[0]) && len < size; i++) {
		if (!(cmds & CMD_BIT(cmd_defs[i].cmd)))
			continue;
		n++;
		len += (size_t)snprintf(buf + len, size - len, "%s'%s'",
					n == 1 ? "" : n == total ? " and " : ", ",
					cmd_defs[i].name);
	}
}

static const struct opt_def *opt_by_id(enum opt_id id)
{
	for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++)
		if (opt_defs[i].id == id)
			return &opt_defs[i];
	return NULL;
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
		if (nargs < 1 && (st->given[OPT_PID] || st->given[OPT_LIST_COLUMNS]))
			break;
		if (nargs < 1)
			return fail(a, "fds: missing PID");
		if (nargs > 2)
			return fail(a, "fds: too many arguments");
		if (st->given[OPT_PID])
			return fail(a, "fds: give PID or -p PID[,PID...], not both");
		r = parse_number(a, "PID", st->pos[1], 1, &a->pid);
		if (r < 0)
			return r;
		a->has_pid = true;
		a->pids[0] = a->pid;
		a->npids = 1;
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

	for (int id = 0; id < OPT_MAX; id++) {
		const struct opt_def *o = opt_by_id((enum opt_id)id);
		char cmds[128];

		if (!st->given[id] || !o || o->cmds == ANY_CMD ||
		    (o->cmds & CMD_BIT(a->cmd)))
			continue;
		cmd_list(o->cmds, cmds, sizeof(cmds));
		return fail(a, "option '--%s' is only valid with %s", o->name, cmds);
	}
	if (a->cmd == FDW_CMD_FDS && st->given[OPT_PID]) {
		if (nargs)
			return fail(a, "fds: give PID or -p PID[,PID...], not both");
	}
	if (a->list_columns && (a->cmd == FDW_CMD_FD))
		return fail(a, "option '--list-columns' is not valid with 'fds PID FD'");
	if (a->cmd == FDW_CMD_TOP && (a->json || a->follow))
		return fail(a, "top: --json is not available (use ps --json)");
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
	a->interval_ms = 1000;

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
		/* `fdwatch CMD --help` (or `fdwatch help CMD`): that command's */
		for (int k = 0; k < st.npos; k++)
			for (size_t i = 0; i < sizeof(cmd_defs) / sizeof(cmd_defs[0]); i++)
				if (!strcmp(cmd_defs[i].name, st.pos[k]) &&
				    cmd_defs[i].cmd != FDW_CMD_HELP && !a->help_cmd)
					a->help_cmd = cmd_defs[i].cmd;
		a->cmd = FDW_CMD_HELP;
		return 0;
	}
	if (st.npos >= 2 && !strcmp(st.pos[0], "help")) {
		for (size_t i = 0; i < sizeof(cmd_defs) / sizeof(cmd_defs[0]); i++)
			if (!strcmp(cmd_defs[i].name, st.pos[1]) &&
			    cmd_defs[i].cmd != FDW_CMD_HELP)
				a->help_cmd = cmd_defs[i].cmd;
		if (!a->help_cmd)
			return fail(a, "unknown command '%s'", st.pos[1]);
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
	case FDW_CMD_TOP:
		return "top";
	case FDW_CMD_RACES:
		return "races";
	case FDW_CMD_MAX:
		break;
	}
	return "?";
}

int fdw_parse_time(const char *s, double now, double *out)
{
	struct tm tm;
	const char *end;
	char *e;
	double v;
	time_t t;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '@') {
		errno = 0;
		v = strtod(s + 1, &e);
		if (e == s + 1 || *e || errno || v < 0)
			return -EINVAL;
		*out = v;
		return 0;
	}
	/* 30s, 5m, 2h, 1d ago */
	if (s[0] >= '0' && s[0] <= '9') {
		errno = 0;
		v = strtod(s, &e);
		if (e != s && !errno && e[0] && !e[1] && strchr("smhd", e[0]) &&
		    strspn(s, "0123456789.") == (size_t)(e - s)) {
			static const double unit[] = { ['s' - 'd'] = 1, ['m' - 'd'] = 60,
						       ['h' - 'd'] = 3600, [0] = 86400 };

			*out = now - v * unit[e[0] - 'd'];
			return 0;
		}
	}
	t = (time_t)now;
	if (!localtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	/* YYYY-MM-DD[ HH:MM[:SS]] (strptime's %Y alone would take "14:30") */
	end = strspn(s, "0123456789") == 4 && s[4] == '-' ? strptime(s, "%Y-%m-%d", &tm) : NULL;
	if (end) {
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		if (*end == ' ' || *end == 'T')
			end++;
		else if (*end)
			return -EINVAL;
	} else {
		end = s;
	}
	if (*end) {
		const char *e2 = strptime(end, "%H:%M:%S", &tm);

		if (!e2 || *e2) {
			tm.tm_sec = 0;
			e2 = strptime(end, "%H:%M", &tm);
			if (!e2 || *e2)
				return -EINVAL;
		}
	}
	tm.tm_isdst = -1;
	{
		/* mktime() normalizes 2026-02-30 to March 2: a date that does
		 * not exist is refused, not moved */
		int mday = tm.tm_mday, mon = tm.tm_mon, year = tm.tm_year;

		t = mktime(&tm);
		if (t == (time_t)-1 || tm.tm_mday != mday || tm.tm_mon != mon ||
		    tm.tm_year != year)
			return -EINVAL;
	}
	*out = (double)t;
	return 0;
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
	      "  ps [--sort KEY]         tracked processes\n"
	      "  fds PID | -p PID,...    open file descriptors\n"
	      "  fds PID FD              one descriptor and the history of its slot\n"
	      "  events [-p PID] [--limit N] [-f] [filters]\n"
	      "                          recent fd-table events, decoded like strace\n"
	      "                          (-f: follow live)\n"
	      "  verify [PID]            compare the model with /proc now\n"
	      "  leaks [-f]              leak alerts (-f: follow live)\n"
	      "  top                     live view of processes by open fds\n"
	      "  races [-p PID] [-f]     race and misuse findings (double-close,\n"
	      "                          use-after-close, close-in-flight, ...)\n"
	      "  explain KIND            what a finding means and what to do\n"
	      "  help COMMAND            that command's options and examples\n"
	      "\n"
	      "Options (before or after the command):\n"
	      "      --socket PATH       daemon socket (default $FDWATCH_SOCKET, else\n"
	      "                          " FDW_DEFAULT_SOCKET ")\n"
	      "  -J, --json              print the daemon's JSON (events and -f\n"
	      "                          streams: one object per line)\n"
	      "  -o, --output COLS       columns to print (+COLS: add to the defaults)\n"
	      "      --list-columns      the columns a command can print\n"
	      "  -n, --noheadings        don't print table headings\n"
	      "  -r, --raw               no alignment: one space between columns\n"
	      "  -p, --pid PID[,PID...]  only these processes (ps, fds, events, leaks,\n"
	      "                          top)\n"
	      "      --limit N           events: at most N recent events\n"
	      "      --syscall LIST      events: only these syscalls (comma list)\n"
	      "      --comm LIST         events: only these commands\n"
	      "      --since TIME        events: from TIME (10m, 14:30, @UNIXTIME,\n"
	      "      --until TIME                2026-01-31 14:30:00)\n"
	      "      --failed            events: only failed calls\n"
	      "  -s, --sort KEY          ps, top: pid, fds, growth (fds/min) or limit\n"
	      "                          (share of RLIMIT_NOFILE)\n"
	      "  -f, --follow            events, leaks: stream until interrupted\n"
	      "  -d, --interval SECS     top: refresh period (default 1)\n"
	      "      --color WHEN        auto (default: on a terminal, unless\n"
	      "                          $NO_COLOR), always or never\n"
	      "      --no-pager          don't page long tables on a terminal\n"
	      "  -h, --help              show this help (COMMAND --help: that command's)\n"
	      "  -V, --version           show the version\n"
	      "\n"
	      "Exit status:\n"
	      "  0  success\n"
	      "  1  fdwatchd cannot be reached, or it answered an error\n"
	      "  2  usage error\n"
	      "  3  verify found differences between the model and /proc\n", f);
}

void fdw_help_cmd(FILE *f, enum fdw_cmd cmd)
{
	switch (cmd) {
	case FDW_CMD_STATUS:
		fputs("Usage: fdwatch status [-J]\n\n"
		      "The daemon's counters: events received and lost, processes and fds\n"
		      "tracked, stale tables, resyncs, audit divergences.\n\n"
		      "Examples:\n"
		      "  fdwatch status\n"
		      "  fdwatch status -J | jq .events_lost\n", f);
		break;
	case FDW_CMD_PS:
		fputs("Usage: fdwatch ps [-p PID,...] [-s pid|fds|growth|limit] [-o COLS] [-n] [-r] [-J]\n\n"
		      "Tracked processes. --sort fds, growth (fds/min over the last minute)\n"
		      "and limit (share of the RLIMIT_NOFILE soft limit) put the largest first.\n\n"
		      "Examples:\n"
		      "  fdwatch ps --sort fds\n"
		      "  fdwatch ps -s growth -o PID,COMMAND,FDS,GROWTH\n"
		      "  fdwatch ps -o +LIMIT,THREADS\n"
		      "  fdwatch ps -n -r -o PID          # one pid per line, for scripts\n"
		      "  fdwatch ps --list-columns\n", f);
		break;
	case FDW_CMD_FDS:
	case FDW_CMD_FD:
		fputs("Usage: fdwatch fds PID [FD] [-o COLS] [-n] [-r] [-J]\n"
		      "       fdwatch fds -p PID[,PID...] [-o COLS]\n\n"
		      "The open file descriptors of processes as the daemon models them: target,\n"
		      "close-on-exec, shared open file description, which syscall made each\n"
		      "and when. With FD: that descriptor and the earlier generations of its slot.\n\n"
		      "Examples:\n"
		      "  fdwatch fds 4242\n"
		      "  fdwatch fds -p 4242,4243 -o PID,FD,TYPE,TARGET\n"
		      "  fdwatch fds 4242 7\n", f);
		break;
	case FDW_CMD_EVENTS:
		fputs("Usage: fdwatch events [-p PID,...] [--limit N] [-f] [--syscall LIST]\n"
		      "                      [--comm LIST] [--since TIME] [--until TIME] [--failed]\n"
		      "                      [-o COLS] [-n] [-r] [-J]\n\n"
		      "Recent fd-table events, arguments decoded the way strace prints them\n"
		      "(O_RDONLY|O_CLOEXEC, AT_FDCWD, AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC) and\n"
		      "errno names beside failed returns. -f follows new events live. The\n"
		      "filters apply to both. TIME: 10m (ago), 14:30, 2026-01-31 14:30:00,\n"
		      "@UNIXTIME.\n\n"
		      "Examples:\n"
		      "  fdwatch events -p 4242 --limit 50\n"
		      "  fdwatch events --syscall openat,socket --failed\n"
		      "  fdwatch events --comm nginx --since 10m\n"
		      "  fdwatch events -f --syscall close_range,dup3\n"
		      "  fdwatch events -o TIME,PID,SYSCALL,RET\n", f);
		break;
	case FDW_CMD_VERIFY:
		fputs("Usage: fdwatch verify [PID] [-J]\n\n"
		      "Compare the model with /proc now. Exit status 3 when they differ.\n\n"
		      "Examples:\n"
		      "  fdwatch verify\n"
		      "  fdwatch verify 4242\n", f);
		break;
	case FDW_CMD_LEAKS:
		fputs("Usage: fdwatch leaks [-p PID,...] [-f] [-o COLS] [-n] [-r] [-J]\n\n"
		      "Leak alerts, firing and recent. A growing process's fd count over the\n"
		      "alert window is drawn as a sparkline (TREND), next to its rate and the\n"
		      "time left to its RLIMIT_NOFILE soft limit.\n\n"
		      "Examples:\n"
		      "  fdwatch leaks\n"
		      "  fdwatch leaks -f\n"
		      "  fdwatch leaks -o ID,PID,TREND,RATE,ETA\n", f);
		break;
	case FDW_CMD_TOP:
		fputs("Usage: fdwatch top [-p PID,...] [-s pid|fds|growth|limit] [-d SECS]\n\n"
		      "A live view of the processes with the most open fds, refreshed every\n"
		      "second: growth rate (fds/min), share of RLIMIT_NOFILE and the time left\n"
		      "to it, firing alerts, race findings, and the fd count's trend (the alert\n"
		      "window of a growing process).\n\n"
		      "Keys:\n"
		      "  f g l p      sort by fds, growth, limit share, pid\n"
		      "  Up/Down j/k  select a process\n"
		      "  Enter        open the selected process's fd table (Up/Down/PgUp/PgDn\n"
		      "               scroll it; Esc, q: back)\n"
		      "  q, Ctrl-C    quit (the terminal is restored)\n\n"
		      "Examples:\n"
		      "  fdwatch top\n"
		      "  fdwatch top -s growth -d 2\n", f);
		break;
	case FDW_CMD_RACES:
		fputs("Usage: fdwatch races [-p PID] [-f] [-J]\n\n"
		      "Race and misuse findings on unmodified programs: double-close,\n"
		      "use-after-close, close-in-flight (an fd closed while another thread is\n"
		      "blocked on it), dup2-clobber, fd-reuse (deep mode) and exec-leak, each\n"
		      "with the threads involved and who created and closed the fd.\n"
		      "`fdwatch explain KIND` says what a kind means and what to do.\n\n"
		      "Examples:\n"
		      "  fdwatch races\n"
		      "  fdwatch races -p 1234 -J\n"
		      "  fdwatch races -f\n"
		      "  fdwatch explain close-in-flight\n", f);
		break;
	default:
		fdw_help(f);
		break;
	}
}
