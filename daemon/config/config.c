// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fdwatchd's configuration (config/config.h). One table describes every
 * option: its name, where it lands in struct fdw_config, its range, whether
 * a reload may change it, and its help line. The command-line parser, the
 * configuration file's keys, the reload and --help are built from it, so an
 * option cannot exist in one and not the others.
 *
 * The file is read with inih (Debian: libinih-dev), through a line reader
 * of our own that counts lines, so every error names its line, and that
 * refuses what inih would take silently: over-long lines (inih splits
 * them), indented continuation lines, inline comments, keys set twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "config/config.h"
#include "server/metrics.h"

enum opt_kind {
	OPT_STR,    /* const char * */
	OPT_U64,    /* uint64_t in [min, max] */
	OPT_UINT,   /* unsigned int in [min, max] */
	OPT_FLAG,   /* bool: no argument on the command line, yes/no in a file */
	OPT_MIB,    /* uint64_t bytes, given in MiB, a power of two in [min, max] */
	OPT_LEAK,   /* NAME=VALUE for struct fdw_leak_config ([leak] in a file) */
	OPT_LISTEN, /* a loopback HOST:PORT (const char *); empty in a file: off */
	OPT_CONFIG, /* the file itself (command line only) */
};

enum {
	F_LIVE = 1 << 0, /* may change at a reload */
	F_CLI = 1 << 1,	 /* command line only */
};

struct opt {
	const char *name;
	enum opt_kind kind;
	size_t off; /* in struct fdw_config */
	uint64_t min, max;
	const char *arg;  /* the argument's name in --help */
	const char *help; /* the rest of the --help line, default included */
	unsigned int flags;
	char shortopt;
};

#define F(field) offsetof(struct fdw_config, field)

static const struct opt opts[] = {
	{ "config", OPT_CONFIG, F(config_file), 0, 0, "PATH",
	  "configuration file (default " FDWATCH_CONFIG_FILE ")", F_CLI, 0 },
	{ "check-config", OPT_FLAG, F(check_config), 0, 0, NULL,
	  "read the configuration, report the first error, exit", F_CLI, 0 },
	{ "print-config", OPT_FLAG, F(print_config), 0, 0, NULL,
	  "--check-config, and print the configuration in effect", F_CLI, 0 },
	{ "socket", OPT_STR, F(socket_path), 0, 0, "PATH",
	  "API socket (default /run/fdwatch/fdwatch.sock)", 0, 0 },
	{ "socket-group", OPT_STR, F(socket_group), 0, 0, "NAME",
	  "group that sees every process, like root (default fdwatch)", 0, 0 },
	{ "state-dir", OPT_STR, F(state_dir), 0, 0, "DIR",
	  "persistent state (default /var/lib/fdwatch)", 0, 0 },
	{ "lock-file", OPT_STR, F(lock_file), 0, 0, "PATH",
	  "one instance per host (default /run/fdwatch/fdwatchd.lock)", 0, 0 },
	{ "history", OPT_U64, F(history_size), 1, 100000000, "N",
	  "events kept for `fdwatch events` (default 100000)", 0, 0 },
	{ "metrics-listen", OPT_LISTEN, F(metrics_listen), 0, 0, "A:P",
	  "Prometheus metrics on a loopback TCP address (default off)", 0, 0 },
	{ "metrics-top", OPT_UINT, F(metrics_top), 1, 10000, "N",
	  "(command, unit) groups in the metrics (default 20)", 0, 0 },
	{ "metrics-all-commands", OPT_FLAG, F(metrics_all_commands), 0, 0, NULL,
	  "name every user's commands in the metrics (default: system accounts')", 0, 0 },
	{ "leak", OPT_LEAK, F(leak), 0, 0, "NAME=VALUE",
	  "a detector setting, repeatable (fdwatch.conf(5): windows, bounds [restart])",
	  F_LIVE, 0 },
	{ "max-alerts", OPT_UINT, F(max_alerts), 1, 1000000, "N",
	  "leak alerts kept, firing and recent (default 1000)", 0, 0 },
	{ "max-processes", OPT_U64, F(max_procs), 1, UINT32_MAX, "N",
	  "processes tracked at most (default 1048576)", 0, 0 },
	{ "max-fds", OPT_U64, F(max_fds), 1, UINT64_MAX, "N",
	  "open fds tracked at most, all tables (default 67108864)", 0, 0 },
	{ "max-name-bytes", OPT_U64, F(max_name_bytes), 4096, UINT64_MAX, "N",
	  "bytes of fd target names kept at most (default 268435456)", 0, 0 },
	{ "max-clients", OPT_U64, F(max_clients), 1, 100000, "N",
	  "API connections at once (default 64)", 0, 0 },
	{ "ringbuf-mb", OPT_MIB, F(ringbuf_bytes), 1, 2048, "N",
	  "kernel ring buffer size in MiB, power of two (default 64)", 0, 0 },
	{ "consume-ms", OPT_UINT, F(consume_interval_ms), 1, 10000, "N",
	  "ring-buffer consume period in ms (default 20)", 0, 0 },
	{ "audit-interval", OPT_UINT, F(audit_interval_s), 0, 86400, "SEC",
	  "compare sampled tables with /proc every SEC (default 60, 0 off)", F_LIVE, 0 },
	{ "audit-sample", OPT_UINT, F(audit_sample), 1, 100000, "N",
	  "processes per audit (default 8)", F_LIVE, 0 },
	{ "precise-ts", OPT_FLAG, F(precise_ts), 0, 0, NULL,
	  "nanosecond timestamps (costs ~25 ns per event)", 0, 0 },
	{ "races-io", OPT_FLAG, F(races_io), 0, 0, NULL,
	  "use-after-close on read/write/send/recv/epoll_wait too (costs every such call)", 0, 0 },
	{ "proc-root", OPT_STR, F(proc_root), 0, 0, "DIR", "/proc to read (tests)", 0, 0 },
	{ "verbose", OPT_FLAG, F(verbose), 0, 0, NULL, "debug logging (default off)", F_LIVE,
	  'v' },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void fdw_config_defaults(struct fdw_config *cfg)
{
	*cfg = (struct fdw_config){
		.config_file = FDWATCH_CONFIG_FILE,
		.socket_path = "/run/fdwatch/fdwatch.sock",
		.socket_group = "fdwatch",
		.state_dir = "/var/lib/fdwatch",
		.lock_file = "/run/fdwatch/fdwatchd.lock",
		.proc_root = "/proc",
		.history_size = 100000,
		.max_procs = 1u << 20,
		.max_fds = 1u << 26,
		.max_name_bytes = 256u << 20,
		.max_clients = 64,
		.ringbuf_bytes = 64u << 20,
		.consume_interval_ms = 20,
		.audit_interval_s = 60,
		.audit_sample = 8,
		.max_alerts = 1000,
		.metrics_top = 20,
	};
	fdw_leak_config_default(&cfg->leak);
}

void fdw_config_free(struct fdw_config *cfg)
{
	if (!cfg)
		return;
	for (unsigned int i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	fdw_config_defaults(cfg);
}

const char *fdw_config_option(size_t i, bool *file, bool *live)
{
	if (i >= NOPTS)
		return NULL;
	if (file)
		*file = !(opts[i].flags & F_CLI);
	if (live)
		*live = opts[i].flags & F_LIVE;
	return opts[i].name;
}

void fdw_config_usage(FILE *f)
{
	fprintf(f, "Usage: fdwatchd [OPTIONS]\n"
		   "Track every process's file descriptors with eBPF and serve them as JSON.\n"
		   "Every option but --config and --check-config can be set in the configuration\n"
		   "file (fdwatch.conf(5)); the command line overrides it. [restart]: a reload\n"
		   "(SIGHUP) does not change it.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		char left[40];

		snprintf(left, sizeof(left), "%s%c%s--%s%s%s", o->shortopt ? "-" : "",
			 o->shortopt ? o->shortopt : ' ', o->shortopt ? ", " : "  ", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-25s  %s%s\n", o->shortopt ? left : left + 1, o->help,
			(o->flags & (F_LIVE | F_CLI)) ? "" : " [restart]");
	}
	fprintf(f, "  -h, --help                 this text\n"
		   "  -V, --version              version\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* systemd's booleans */
static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* What a value of option `o` must look like, for error messages. */
static void expected(const struct opt *o, char *buf, size_t len)
{
	switch (o->kind) {
	case OPT_U64:
	case OPT_UINT:
		snprintf(buf, len, "an integer from %llu to %llu", (unsigned long long)o->min,
			 (unsigned long long)o->max);
		break;
	case OPT_MIB:
		snprintf(buf, len, "a power of two from %llu to %llu (MiB)",
			 (unsigned long long)o->min, (unsigned long long)o->max);
		break;
	case OPT_FLAG:
		snprintf(buf, len, "yes or no");
		break;
	case OPT_LISTEN:
		snprintf(buf, len, "a loopback HOST:PORT (127.0.0.0/8 or [::1]), or empty for off");
		break;
	case OPT_LEAK:
		snprintf(buf, len, "a detector setting in its range, see fdwatch.conf(5)");
		break;
	default:
		snprintf(buf, len, "a non-empty path");
		break;
	}
}

/* Keep a copy of `s` in cfg; NULL when out of room or memory. */
static const char *own(struct fdw_config *cfg, const char *s)
{
	char *c;

	if (cfg->nowned >= FDW_CONFIG_MAX_OWNED)
		return NULL;
	c = strdup(s);
	if (c)
		cfg->owned[cfg->nowned++] = c;
	return c;
}

/*
 * Set option `o` from `value` (from a file: strings are copied, a flag
 * takes yes/no). 0, or -EINVAL (-EPERM for a metrics address that is not
 * loopback, -ENOMEM) leaving cfg unchanged.
 */
static int set_opt(struct fdw_config *cfg, const struct opt *o, const char *value, bool file)
{
	char *field = (char *)cfg + o->off;
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint64_t v = 0;
	int r = 0;

	switch (o->kind) {
	case OPT_CONFIG:
		if (file || !*value)
			return -EINVAL;
		cfg->config_file = value;
		cfg->config_explicit = true;
		return 0;
	case OPT_STR:
		if (!*value)
			return -EINVAL;
		value = file ? own(cfg, value) : value;
		if (!value)
			return -ENOMEM;
		*(const char **)field = value;
		return 0;
	case OPT_FLAG:
		if (!file) {
			*(bool *)field = true;
			return 0;
		}
		return parse_bool(value, (bool *)field);
	case OPT_LEAK:
		return fdw_leak_config_set((struct fdw_leak_config *)field, value);
	case OPT_LISTEN:
		if (file && !*value) {
			*(const char **)field = NULL;
			return 0;
		}
		r = fdw_metrics_parse_listen(value, &ss, &sslen);
		if (r < 0)
			return r;
		value = file ? own(cfg, value) : value;
		if (!value)
			return -ENOMEM;
		*(const char **)field = value;
		return 0;
	case OPT_U64:
	case OPT_UINT:
	case OPT_MIB:
		r = parse_u64(value, o->min, o->max, &v);
		break;
	}
	if (r < 0)
		return r;
	if (o->kind == OPT_MIB) {
		if (v & (v - 1))
			return -EINVAL;
		*(uint64_t *)field = v << 20;
	} else if (o->kind == OPT_UINT) {
		*(unsigned int *)field = (unsigned int)v;
	} else {
		*(uint64_t *)field = v;
	}
	return 0;
}

int fdw_config_parse_args(struct fdw_config *cfg, int argc, char **argv)
{
	enum { OPT_FIRST = 256 };
	struct option lopts[NOPTS + 3];
	char shortopts[8] = "hV";
	size_t ns = 2;
	int c;

	for (size_t i = 0; i < NOPTS; i++) {
		lopts[i] = (struct option){ opts[i].name,
					    opts[i].kind == OPT_FLAG ? no_argument
								     : required_argument,
					    NULL, OPT_FIRST + (int)i };
		if (opts[i].shortopt && ns + 1 < sizeof(shortopts))
			shortopts[ns++] = opts[i].shortopt; /* flags only */
	}
	shortopts[ns] = '\0';
	lopts[NOPTS] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[NOPTS + 1] = (struct option){ "version", no_argument, NULL, 'V' };
	lopts[NOPTS + 2] = (struct option){ 0 };

	optind = 0; /* glibc: a fresh scan (the command line is read again at a reload) */
	while ((c = getopt_long(argc, argv, shortopts, lopts, NULL)) != -1) {
		const struct opt *o = NULL;
		int r;

		if (c == 'h') {
			fdw_config_usage(stdout);
			return 1;
		}
		if (c == 'V') {
			printf("fdwatchd %s\n", FDWATCH_VERSION);
			return 1;
		}
		if (c >= OPT_FIRST && c < OPT_FIRST + (int)NOPTS)
			o = &opts[c - OPT_FIRST];
		for (size_t i = 0; !o && c > 0 && i < NOPTS; i++)
			if (opts[i].shortopt == c)
				o = &opts[i];
		if (!o) {
			fdw_config_usage(stderr);
			return -EINVAL;
		}
		r = set_opt(cfg, o, optarg ? optarg : "", false);
		if (r == -EPERM)
			fprintf(stderr, "fdwatchd: --%s: not a loopback address "
					"(127.0.0.0/8 or [::1])\n", o->name);
		if (r < 0) {
			fprintf(stderr, "fdwatchd: invalid value for --%s: '%s'\n", o->name,
				optarg ? optarg : "");
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fdwatchd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* ---- the file --------------------------------------------------------- */

struct file_ctx {
	FILE *f;
	const char *path;
	struct fdw_config *cfg;
	struct fdw_config_error *err;
	unsigned int line;	    /* the line inih is looking at */
	char raw[FDW_CONFIG_MAX_LINE]; /* that line as read */
	unsigned int set_at[NOPTS];   /* line each option was set on */
	char leak_seen[1024];	    /* " name:line name:line ..." of [leak] */
	size_t bytes;
	int rc; /* the first error: -EINVAL, -ENOMEM, -EFBIG */
};

static void file_error(struct file_ctx *x, int rc, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Keep the first error only (the one an operator fixes first). */
static void file_error(struct file_ctx *x, int rc, const char *key, const char *fmt, ...)
{
	char what[384];
	va_list ap;

	if (x->rc)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	x->rc = rc;
	x->err->line = x->line;
	if (key)
		snprintf(x->err->msg, sizeof(x->err->msg), "%s:%u: %s: %s", x->path, x->line, key,
			 what);
	else
		snprintf(x->err->msg, sizeof(x->err->msg), "%s:%u: %s", x->path, x->line, what);
}

/* inih's reader: one line per call, counted; over-long lines refused. */
static char *file_reader(char *str, int num, void *stream)
{
	struct file_ctx *x = stream;
	size_t n;
	int c;

	if (!fgets(str, num, x->f))
		return NULL;
	x->line++;
	n = strlen(str);
	x->bytes += n;
	if (x->bytes > FDW_CONFIG_MAX_BYTES) {
		file_error(x, -EFBIG, NULL, "file larger than %d bytes", FDW_CONFIG_MAX_BYTES);
		return NULL;
	}
	if (n && str[n - 1] != '\n' && !feof(x->f)) {
		file_error(x, -EINVAL, NULL, "line longer than %d characters",
			   FDW_CONFIG_MAX_LINE - 2);
		/* the rest of the line counts too: a file of one endless line
		 * (a symlink to /dev/zero) ends at the bound */
		while ((c = fgetc(x->f)) != EOF && c != '\n') {
			if (++x->bytes > FDW_CONFIG_MAX_BYTES) {
				file_error(x, -EFBIG, NULL, "file larger than %d bytes",
					   FDW_CONFIG_MAX_BYTES);
				return NULL;
			}
		}
		str[0] = '\n'; /* inih sees a blank line */
		str[1] = '\0';
	}
	snprintf(x->raw, sizeof(x->raw), "%s", str);
	{
		/* "[]": inih goes back to the top level, where a key meant
		 * for a section would silently set a global option */
		const char *p = str + strspn(str, " \t");

		if (p[0] == '[' && p[1 + strspn(p + 1, " \t")] == ']')
			file_error(x, -EINVAL, NULL, "empty section name");
	}
	return str;
}

/* Was `name` already set in [leak]? Records it otherwise. */
static unsigned int leak_seen(struct file_ctx *x, const char *name)
{
	size_t len = strlen(name), used = strlen(x->leak_seen);
	const char *p = x->leak_seen;

	while ((p = strstr(p, name))) {
		if (p > x->leak_seen && p[-1] == ' ' && p[len] == ':')
			return (unsigned int)strtoul(p + len + 1, NULL, 10);
		p += len;
	}
	snprintf(x->leak_seen + used, sizeof(x->leak_seen) - used, " %s:%u", name, x->line);
	return 0;
}

static int file_handler(void *user, const char *section, const char *name, const char *value)
{
	struct file_ctx *x = user;
	const char *eq = strchr(x->raw, '=');
	char exp[128];

	if (x->rc)
		return 0; /* only the first error is reported */
	if (!eq || (strchr(x->raw, ':') && strchr(x->raw, ':') < eq)) {
		file_error(x, -EINVAL, name, "expected 'key = value'");
		return 0;
	}
	if (x->raw[0] == ' ' || x->raw[0] == '\t') {
		file_error(x, -EINVAL, NULL, "indented line (continuation lines are not supported)");
		return 0;
	}
	/* inih cuts "value ; comment": refuse both kinds of inline comment */
	for (const char *p = eq ? eq + 1 : NULL; p && *p; p++) {
		if ((*p == ';' || *p == '#') && (p[-1] == ' ' || p[-1] == '\t')) {
			file_error(x, -EINVAL, name,
				   "inline comment (comments are whole lines starting with # or ;)");
			return 0;
		}
	}
	if (!strcmp(section, "leak")) {
		char kv[FDW_CONFIG_MAX_LINE + 2];
		unsigned int first = leak_seen(x, name);

		if (first) {
			file_error(x, -EINVAL, name, "set twice in [leak] (first on line %u)", first);
			return 0;
		}
		snprintf(kv, sizeof(kv), "%s=%s", name, value);
		if (fdw_leak_config_set(&x->cfg->leak, kv) < 0) {
			bool known = false;

			for (size_t i = 0; fdw_leak_config_name(i); i++)
				known |= !strcmp(fdw_leak_config_name(i), name);
			if (known)
				file_error(x, -EINVAL, name, "invalid value '%s' (out of range, "
							     "not a number, or not a list of "
							     "names, see fdwatch.conf(5))",
					   value);
			else
				file_error(x, -EINVAL, name, "unknown key in [leak]");
			return 0;
		}
		return 1;
	}
	if (*section) {
		file_error(x, -EINVAL, name, "key in unknown section [%s] (only [leak] exists)",
			   section);
		return 0;
	}
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		int r;

		if (strcmp(o->name, name))
			continue;
		if (o->flags & F_CLI) {
			file_error(x, -EINVAL, name, "command line only");
			return 0;
		}
		if (o->kind == OPT_LEAK) {
			file_error(x, -EINVAL, name, "detector settings go in a [leak] section");
			return 0;
		}
		if (x->set_at[i]) {
			file_error(x, -EINVAL, name, "set twice (first on line %u)", x->set_at[i]);
			return 0;
		}
		r = set_opt(x->cfg, o, value, true);
		if (r == -ENOMEM) {
			file_error(x, -ENOMEM, name, "out of memory");
			return 0;
		}
		if (r < 0) {
			expected(o, exp, sizeof(exp));
			file_error(x, -EINVAL, name, "invalid value '%s' (expected %s)", value, exp);
			return 0;
		}
		x->set_at[i] = x->line;
		return 1;
	}
	file_error(x, -EINVAL, name, "unknown key");
	return 0;
}

int fdw_config_load_file(struct fdw_config *cfg, const char *path, struct fdw_config_error *err)
{
	struct file_ctx *x;
	struct stat st;
	int fd, r;

	err->msg[0] = '\0';
	err->line = 0;
	x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	/* O_NONBLOCK: a FIFO there must not hold the caller (the event loop,
	 * at a reload) in open() */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-r));
		if (fd >= 0)
			(void)close(fd);
		free(x);
		return r;
	}
	/* /dev/null is the empty configuration (--config /dev/null) */
	if (!S_ISREG(st.st_mode) &&
	    !(S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3)) {
		/* a directory, a FIFO, another device (/dev/zero would never
		 * end) */
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		if (r == -EISDIR)
			snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(EISDIR));
		else
			snprintf(err->msg, sizeof(err->msg), "%s: not a regular file", path);
		(void)close(fd);
		free(x);
		return r;
	}
	/* counted by size too: a line's NUL bytes escape the count of what
	 * is read (strlen) */
	if (S_ISREG(st.st_mode) && st.st_size > FDW_CONFIG_MAX_BYTES) {
		snprintf(err->msg, sizeof(err->msg), "%s: file larger than %d bytes", path,
			 FDW_CONFIG_MAX_BYTES);
		(void)close(fd);
		free(x);
		return -EFBIG;
	}
	x->f = fdopen(fd, "r");
	if (!x->f) {
		r = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-r));
		(void)close(fd);
		free(x);
		return r;
	}
	x->path = path;
	x->cfg = cfg;
	x->err = err;
	r = ini_parse_stream(file_reader, x, file_handler, x);
	if (!x->rc && ferror(x->f)) {
		x->rc = -EIO;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(EIO));
	} else if (r > 0 && (!x->rc || (unsigned int)r < err->line)) {
		/* a line inih could not parse, before any of ours */
		x->rc = 0;
		x->line = (unsigned int)r;
		file_error(x, -EINVAL, NULL,
			   "syntax error (expected 'key = value', '[section]' or a comment)");
	} else if (r == -2 && !x->rc) {
		x->rc = -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(ENOMEM));
	}
	r = x->rc;
	fclose(x->f);
	free(x);
	return r;
}

int fdw_config_load(struct fdw_config *cfg, int argc, char **argv, struct fdw_config_error *err)
{
	FILE *saved_err = stderr;
	int r;

	err->msg[0] = '\0';
	err->line = 0;
	/* the command line first, for --config (and its errors, once) */
	fdw_config_free(cfg);
	r = fdw_config_parse_args(cfg, argc, argv);
	if (r)
		return r;
	r = fdw_config_load_file(cfg, cfg->config_file, err);
	if (r == -ENOENT && !cfg->config_explicit)
		r = 0; /* the default file is optional */
	if (r < 0)
		return -EINVAL;
	/* then the command line over the file (already checked: quietly) */
	stderr = fopen("/dev/null", "we");
	if (!stderr)
		stderr = saved_err;
	r = fdw_config_parse_args(cfg, argc, argv);
	if (stderr != saved_err)
		fclose(stderr);
	stderr = saved_err;
	if (r)
		return r;
	/* what only the whole configuration tells: a socket path that does
	 * not fit sockaddr_un would pass --check-config and fail at bind */
	if (cfg->socket_path &&
	    strlen(cfg->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err->msg, sizeof(err->msg), "socket: path longer than %zu bytes: %s",
			 sizeof(((struct sockaddr_un *)0)->sun_path) - 1, cfg->socket_path);
		return -EINVAL;
	}
	return 0;
}

int fdw_config_merge_reload(struct fdw_config *cur, const struct fdw_config *next, char *restart,
			    size_t len)
{
	size_t o = 0;
	int changed = 0;

	if (len)
		restart[0] = '\0';
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *op = &opts[i];
		char *d = (char *)cur + op->off;
		const char *s = (const char *)next + op->off;
		size_t size;
		bool same;

		switch (op->kind) {
		case OPT_STR:
		case OPT_LISTEN:
		case OPT_CONFIG: {
			const char *a = *(const char *const *)d, *b = *(const char *const *)s;

			same = a == b || (a && b && !strcmp(a, b));
			size = 0; /* strings are never copied: none is live */
			break;
		}
		case OPT_LEAK: {
			char names[512];
			size_t n;

			changed += fdw_leak_config_merge((struct fdw_leak_config *)d,
							 (const struct fdw_leak_config *)s, names,
							 sizeof(names));
			n = strlen(names);
			if (n && o < len) {
				int w = snprintf(restart + o, len - o, "%s%s", o ? " " : "", names);

				o += w > 0 ? (size_t)w : 0;
			}
			continue;
		}
		case OPT_FLAG:
			size = sizeof(bool);
			same = !memcmp(d, s, size);
			break;
		case OPT_UINT:
			size = sizeof(unsigned int);
			same = !memcmp(d, s, size);
			break;
		default:
			size = sizeof(uint64_t);
			same = !memcmp(d, s, size);
			break;
		}
		if (same || (op->flags & F_CLI))
			continue;
		if ((op->flags & F_LIVE) && size) {
			memcpy(d, s, size);
			changed++;
		} else if (o < len) {
			int w = snprintf(restart + o, len - o, "%s%s", o ? " " : "", op->name);

			o += w > 0 ? (size_t)w : 0;
		}
	}
	return changed;
}

void fdw_config_print(const struct fdw_config *cfg, FILE *f)
{
	char buf[2048];
	char *p, *sp;

	fprintf(f, "# fdwatchd %s: the configuration in effect\n", FDWATCH_VERSION);
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		const char *field = (const char *)cfg + o->off;

		if (o->flags & F_CLI || o->kind == OPT_LEAK)
			continue;
		fprintf(f, "%s =%s", o->name,
			(o->kind == OPT_STR || o->kind == OPT_LISTEN) &&
					!*(const char *const *)field
				? ""
				: " ");
		switch (o->kind) {
		case OPT_STR:
		case OPT_LISTEN:
			fprintf(f, "%s\n", *(const char *const *)field ? *(const char *const *)field
								       : "");
			break;
		case OPT_FLAG:
			fprintf(f, "%s\n", *(const bool *)field ? "yes" : "no");
			break;
		case OPT_UINT:
			fprintf(f, "%u\n", *(const unsigned int *)field);
			break;
		case OPT_MIB:
			fprintf(f, "%llu\n", (unsigned long long)(*(const uint64_t *)field >> 20));
			break;
		default:
			fprintf(f, "%llu\n", (unsigned long long)*(const uint64_t *)field);
			break;
		}
	}
	fprintf(f, "\n[leak]\n");
	(void)fdw_leak_config_print(&cfg->leak, buf, sizeof(buf));
	for (p = strtok_r(buf, " ", &sp); p; p = strtok_r(NULL, " ", &sp)) {
		char *eq = strchr(p, '=');

		if (eq)
			fprintf(f, "%.*s = %s\n", (int)(eq - p), p, eq + 1);
	}
}
