// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fdwatchd's configuration (config/config.h). One table describes every
 * option: its name, where it lands in struct fdw_config, its range and its
 * help line. The command-line parser and --help are built from it, so an
 * option cannot exist in one and not the other.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config/config.h"
#include "server/metrics.h"

enum opt_kind {
	OPT_STR,    /* const char * */
	OPT_U64,    /* uint64_t in [min, max] */
	OPT_UINT,   /* unsigned int in [min, max] */
	OPT_FLAG,   /* bool, no argument */
	OPT_MIB,    /* uint64_t bytes, given in MiB, a power of two in [min, max] */
	OPT_LEAK,   /* NAME=VALUE for struct fdw_leak_config */
	OPT_LISTEN, /* a loopback HOST:PORT (const char *) */
};

struct opt {
	const char *name;
	enum opt_kind kind;
	size_t off; /* in struct fdw_config */
	uint64_t min, max;
	const char *arg;  /* the argument's name in --help */
	const char *help; /* the rest of the --help line, default included */
};

#define F(field) offsetof(struct fdw_config, field)

static const struct opt opts[] = {
	{ "socket", OPT_STR, F(socket_path), 0, 0, "PATH",
	  "API socket (default /run/fdwatch/fdwatch.sock)" },
	{ "state-dir", OPT_STR, F(state_dir), 0, 0, "DIR",
	  "persistent state (default /var/lib/fdwatch)" },
	{ "lock-file", OPT_STR, F(lock_file), 0, 0, "PATH",
	  "one instance per host (default /run/fdwatch/fdwatchd.lock)" },
	{ "history", OPT_U64, F(history_size), 1, 100000000, "N",
	  "events kept for `fdwatch events` (default 100000)" },
	{ "metrics-listen", OPT_LISTEN, F(metrics_listen), 0, 0, "A:P",
	  "Prometheus metrics on a loopback TCP address" },
	{ "metrics-top", OPT_UINT, F(metrics_top), 1, 10000, "N",
	  "(command, unit) groups in the metrics (default 20)" },
	{ "leak", OPT_LEAK, F(leak), 0, 0, "NAME=VALUE",
	  "a leak detector setting, repeatable (fdwatchd(8))" },
	{ "max-alerts", OPT_UINT, F(max_alerts), 1, 1000000, "N",
	  "leak alerts kept, firing and recent (default 1000)" },
	{ "max-processes", OPT_U64, F(max_procs), 1, UINT32_MAX, "N",
	  "processes tracked at most (default 1048576)" },
	{ "max-fds", OPT_U64, F(max_fds), 1, UINT64_MAX, "N",
	  "open fds tracked at most, all tables (default 67108864)" },
	{ "max-clients", OPT_U64, F(max_clients), 1, 100000, "N",
	  "API connections at once (default 64)" },
	{ "ringbuf-mb", OPT_MIB, F(ringbuf_bytes), 1, 2048, "N",
	  "kernel ring buffer size in MiB, power of two (default 64)" },
	{ "consume-ms", OPT_UINT, F(consume_interval_ms), 1, 10000, "N",
	  "ring-buffer consume period in ms (default 20)" },
	{ "audit-interval", OPT_UINT, F(audit_interval_s), 0, 86400, "SEC",
	  "compare sampled tables with /proc every SEC (default 60, 0 off)" },
	{ "audit-sample", OPT_UINT, F(audit_sample), 1, 100000, "N",
	  "processes per audit (default 8)" },
	{ "precise-ts", OPT_FLAG, F(precise_ts), 0, 0, NULL,
	  "nanosecond timestamps (costs ~25 ns per event)" },
	{ "races-io", OPT_FLAG, F(races_io), 0, 0, NULL,
	  "use-after-close on read/write/send/recv/epoll_wait too (costs every such call)" },
	{ "proc-root", OPT_STR, F(proc_root), 0, 0, "DIR", "/proc to read (tests)" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

void fdw_config_defaults(struct fdw_config *cfg)
{
	*cfg = (struct fdw_config){
		.socket_path = "/run/fdwatch/fdwatch.sock",
		.state_dir = "/var/lib/fdwatch",
		.lock_file = "/run/fdwatch/fdwatchd.lock",
		.proc_root = "/proc",
		.history_size = 100000,
		.max_procs = 1u << 20,
		.max_fds = 1u << 26,
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

void fdw_config_usage(FILE *f)
{
	fprintf(f, "Usage: fdwatchd [OPTIONS]\n"
		   "Track every process's file descriptors with eBPF and serve them as JSON.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[40];

		snprintf(left, sizeof(left), "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-21s  %s\n", left, opts[i].help);
	}
	fprintf(f, "  -v, --verbose          more logging\n"
		   "  -h, --help             this text\n"
		   "  -V, --version          version\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Set option `o` from `value`. 0, or -EINVAL (with -EPERM for a metrics
 * address that is not loopback) leaving cfg unchanged. */
static int set_opt(struct fdw_config *cfg, const struct opt *o, const char *value)
{
	char *field = (char *)cfg + o->off;
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint64_t v = 0;
	int r = 0;

	switch (o->kind) {
	case OPT_STR:
		*(const char **)field = value;
		return 0;
	case OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case OPT_LEAK:
		return fdw_leak_config_set((struct fdw_leak_config *)field, value);
	case OPT_LISTEN:
		r = fdw_metrics_parse_listen(value, &ss, &sslen);
		if (r == 0)
			*(const char **)field = value;
		return r;
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
	struct option lopts[NOPTS + 4];
	int c;

	for (size_t i = 0; i < NOPTS; i++)
		lopts[i] = (struct option){ opts[i].name,
					    opts[i].kind == OPT_FLAG ? no_argument
								     : required_argument,
					    NULL, OPT_FIRST + (int)i };
	lopts[NOPTS] = (struct option){ "verbose", no_argument, NULL, 'v' };
	lopts[NOPTS + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	lopts[NOPTS + 2] = (struct option){ "version", no_argument, NULL, 'V' };
	lopts[NOPTS + 3] = (struct option){ 0 };

	while ((c = getopt_long(argc, argv, "vhV", lopts, NULL)) != -1) {
		const struct opt *o;
		int r;

		switch (c) {
		case 'v':
			cfg->verbose = true;
			continue;
		case 'h':
			fdw_config_usage(stdout);
			return 1;
		case 'V':
			printf("fdwatchd %s\n", FDWATCH_VERSION);
			return 1;
		default:
			if (c < OPT_FIRST || c >= OPT_FIRST + (int)NOPTS) {
				fdw_config_usage(stderr);
				return -EINVAL;
			}
		}
		o = &opts[c - OPT_FIRST];
		r = set_opt(cfg, o, optarg);
		if (r == -EPERM)
			fprintf(stderr, "fdwatchd: --%s: not a loopback address "
					"(127.0.0.0/8 or [::1])\n", o->name);
		if (r < 0) {
			fprintf(stderr, "fdwatchd: invalid value for --%s: '%s'\n", o->name,
				optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fdwatchd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}
