// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fdwatchd: options, start-up order, signals, shutdown.
 *
 * Start-up: probes attached first, then the /proc scan (so nothing falls in
 * between), then the API socket, then READY=1. Shutdown on SIGTERM/SIGINT:
 * every handle closed, probes detached, socket removed, the loop ends empty.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "base/log.h"
#include "server/api.h"
#include "check/audit.h"
#include "capture/capture.h"
#include "daemon.h"
#include "server/metrics.h"

static struct fdw_daemon daemon_state;
static uv_signal_t sig_term, sig_int;
static uv_timer_t housekeeping;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: fdwatchd [OPTIONS]\n"
		"Track every process's file descriptors with eBPF and serve them as JSON.\n\n"
		"  --socket PATH          API socket (default /run/fdwatch/fdwatch.sock)\n"
		"  --state-dir DIR        persistent state (default /var/lib/fdwatch)\n"
		"  --history N            events kept for `fdwatch events` (default 100000)\n"
		"  --metrics-listen A:P   Prometheus metrics on a loopback TCP address\n"
		"  --metrics-top N        (command, unit) groups in the metrics (default 20)\n"
		"  --leak NAME=VALUE      a leak detector setting, repeatable (fdwatchd(8))\n"
		"  --max-alerts N         leak alerts kept, firing and recent (default 1000)\n"
		"  --max-processes N      processes tracked at most (default 1048576)\n"
		"  --max-fds N            open fds tracked at most, all tables (default 67108864)\n"
		"  --max-clients N        API connections at once (default 64)\n"
		"  --ringbuf-mb N         kernel ring buffer size in MiB, power of two (default 64)\n"
		"  --consume-ms N         ring-buffer consume period in ms (default 20)\n"
		"  --audit-interval SEC   compare sampled tables with /proc every SEC (default 60, 0 off)\n"
		"  --audit-sample N       processes per audit (default 8)\n"
		"  --precise-ts           nanosecond timestamps (costs ~25 ns per event)\n"
		"  --proc-root DIR        /proc to read (tests)\n"
		"  -v, --verbose          more logging\n"
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

static int parse_args(int argc, char **argv, struct fdw_config *cfg)
{
	enum {
		OPT_SOCKET = 256, OPT_STATE, OPT_HISTORY, OPT_METRICS, OPT_MAXP, OPT_MAXF,
		OPT_MAXC, OPT_RB, OPT_CONSUME, OPT_AUDIT, OPT_AUDIT_SAMPLE, OPT_PRECISE,
		OPT_PROC, OPT_LEAK, OPT_MAX_ALERTS, OPT_METRICS_TOP,
	};
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "history", required_argument, NULL, OPT_HISTORY },
		{ "metrics-listen", required_argument, NULL, OPT_METRICS },
		{ "max-processes", required_argument, NULL, OPT_MAXP },
		{ "max-fds", required_argument, NULL, OPT_MAXF },
		{ "max-clients", required_argument, NULL, OPT_MAXC },
		{ "ringbuf-mb", required_argument, NULL, OPT_RB },
		{ "consume-ms", required_argument, NULL, OPT_CONSUME },
		{ "audit-interval", required_argument, NULL, OPT_AUDIT },
		{ "audit-sample", required_argument, NULL, OPT_AUDIT_SAMPLE },
		{ "precise-ts", no_argument, NULL, OPT_PRECISE },
		{ "proc-root", required_argument, NULL, OPT_PROC },
		{ "leak", required_argument, NULL, OPT_LEAK },
		{ "max-alerts", required_argument, NULL, OPT_MAX_ALERTS },
		{ "metrics-top", required_argument, NULL, OPT_METRICS_TOP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{},
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "vhV", opts, NULL)) != -1) {
		int r = 0;

		switch (c) {
		case OPT_SOCKET:
			cfg->socket_path = optarg;
			break;
		case OPT_STATE:
			cfg->state_dir = optarg;
			break;
		case OPT_METRICS: {
			struct sockaddr_storage ss;
			socklen_t sslen;

			cfg->metrics_listen = optarg;
			r = fdw_metrics_parse_listen(optarg, &ss, &sslen);
			if (r == -EPERM)
				fprintf(stderr, "fdwatchd: --metrics-listen: not a loopback address "
						"(127.0.0.0/8 or [::1])\n");
			break;
		}
		case OPT_PROC:
			cfg->proc_root = optarg;
			break;
		case OPT_HISTORY:
			r = parse_u64(optarg, 1, 100000000, &cfg->history_size);
			break;
		case OPT_MAXP:
			r = parse_u64(optarg, 1, UINT32_MAX, &cfg->max_procs);
			break;
		case OPT_MAXF:
			r = parse_u64(optarg, 1, UINT64_MAX, &cfg->max_fds);
			break;
		case OPT_MAXC:
			r = parse_u64(optarg, 1, 100000, &cfg->max_clients);
			break;
		case OPT_RB:
			r = parse_u64(optarg, 1, 2048, &v);
			if (!r && (v & (v - 1)))
				r = -EINVAL;
			cfg->ringbuf_bytes = v << 20;
			break;
		case OPT_CONSUME:
			r = parse_u64(optarg, 1, 10000, &v);
			cfg->consume_interval_ms = (unsigned int)v;
			break;
		case OPT_AUDIT:
			r = parse_u64(optarg, 0, 86400, &v);
			cfg->audit_interval_s = (unsigned int)v;
			break;
		case OPT_AUDIT_SAMPLE:
			r = parse_u64(optarg, 1, 100000, &v);
			cfg->audit_sample = (unsigned int)v;
			break;
		case OPT_PRECISE:
			cfg->precise_ts = true;
			break;
		case OPT_LEAK:
			r = fdw_leak_config_set(&cfg->leak, optarg);
			break;
		case OPT_MAX_ALERTS:
			r = parse_u64(optarg, 1, 1000000, &v);
			cfg->max_alerts = (unsigned int)v;
			break;
		case OPT_METRICS_TOP:
			r = parse_u64(optarg, 1, 10000, &v);
			cfg->metrics_top = (unsigned int)v;
			break;
		case 'v':
			cfg->verbose = true;
			fdw_log_set_max(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		case 'V':
			printf("fdwatchd %s\n", FDWATCH_VERSION);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "fdwatchd: invalid value for --%s: '%s'\n",
				opts[c - OPT_SOCKET].name, optarg);
			return r;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "fdwatchd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void notify_status(struct fdw_daemon *d)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notifyf(0, "STATUS=%" PRIu64 " processes, %" PRIu64 " fds, %" PRIu64
			    " events, %" PRIu64 " lost",
			 (uint64_t)fdw_hashmap_size(&d->model.procs), d->model.stats.fds,
			 d->events_received, fdw_daemon_lost(d, NULL, 0, NULL));
#endif
}

static void on_housekeeping(uv_timer_t *t)
{
	struct fdw_daemon *d = t->data;

	/* lost records are noticed here even when nobody asks */
	fdw_daemon_drain(d);
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "WATCHDOG=1");
#endif
	notify_status(d);
}

static void shutdown_daemon(struct fdw_daemon *d)
{
	if (!d->ready)
		return;
	d->ready = false;
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "STOPPING=1");
#endif
	fdw_audit_stop(d);
	fdw_daemon_leaks_stop(d);
	fdw_api_stop(d);
	fdw_capture_stop(d->capture);
	uv_close((uv_handle_t *)&housekeeping, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
	uv_close((uv_handle_t *)&sig_int, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct fdw_daemon *d = h->data;

	log_info("%s, shutting down", strsignal(signum));
	shutdown_daemon(d);
}

int main(int argc, char **argv)
{
	struct fdw_daemon *d = &daemon_state;
	uv_loop_t loop;
	int r;

	d->cfg = (struct fdw_config){
		.socket_path = "/run/fdwatch/fdwatch.sock",
		.state_dir = "/var/lib/fdwatch",
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
	fdw_leak_config_default(&d->cfg.leak);
	if (parse_args(argc, argv, &d->cfg) < 0)
		return 2;
	/* a peer that goes away must not kill us mid-write */
	signal(SIGPIPE, SIG_IGN);

	r = uv_loop_init(&loop);
	if (r < 0) {
		log_err("uv_loop_init: %s", uv_strerror(r));
		return 1;
	}
	r = fdw_daemon_init(d, &loop);
	if (r < 0) {
		log_err("init: %s", strerror(-r));
		goto out;
	}
	r = fdw_daemon_open_capture(d);
	if (r < 0)
		goto out;
	r = fdw_daemon_scan(d);
	if (r < 0) {
		log_err("cannot scan %s: %s", d->cfg.proc_root,
			strerror(-r));
		goto out_capture;
	}
	fdw_daemon_drain(d);
	r = fdw_api_start(d);
	if (r < 0) {
		log_err("cannot serve on %s: %s", d->cfg.socket_path,
			strerror(-r));
		goto out_capture;
	}
	r = fdw_audit_start(d);
	if (r < 0) {
		log_err("audit: %s", strerror(-r));
		fdw_api_stop(d);
		goto out_capture;
	}
	r = fdw_daemon_leaks_start(d);
	if (r < 0)
		log_err("leak detectors: %s", strerror(-r));
	else
		r = fdw_api_start_metrics(d); /* logs its own errors */
	if (r < 0) {
		fdw_daemon_leaks_stop(d);
		fdw_audit_stop(d);
		fdw_api_stop(d);
		goto out_capture;
	}
	uv_timer_init(&loop, &housekeeping);
	housekeeping.data = d;
	uv_timer_start(&housekeeping, on_housekeeping, 1000, 1000);
	uv_signal_init(&loop, &sig_term);
	uv_signal_init(&loop, &sig_int);
	sig_term.data = sig_int.data = d;
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	d->ready = true;
	log_info("ready: %zu processes, %llu fds, serving on %s",
		fdw_hashmap_size(&d->model.procs), (unsigned long long)d->model.stats.fds,
		d->cfg.socket_path);
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "READY=1");
#endif
	notify_status(d);
	r = uv_run(&loop, UV_RUN_DEFAULT);
	r = 0;
	goto out;
out_capture:
	fdw_capture_stop(d->capture);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
out:
	fdw_daemon_free(d);
	if (uv_loop_close(&loop) == UV_EBUSY) {
		log_err("loop closed with live handles");
		r = r ? r : -EBUSY;
	}
	return r < 0 ? 1 : 0;
}
