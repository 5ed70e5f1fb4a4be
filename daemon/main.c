// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fdwatchd: configuration, the loop, exit status. Everything else is wired
 * in daemon.c.
 *
 * Configuration: defaults, the file, the command line over it (config/);
 * --check-config stops there. Start-up: the host and state-directory locks
 * first (a second instance exits 1 naming the first one's pid), then the
 * probes attached, then the /proc scan (so nothing falls in between), then
 * the API socket, then READY=1. SIGHUP reloads the configuration. Shutdown
 * on SIGTERM/SIGINT: every handle closed, probes detached, socket removed,
 * the loop ends empty.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "capture/capture.h"
#include "config/config.h"
#include "daemon.h"

/*
 * --check-config, or a configuration that stops the start: 0 after --help
 * or --version; 1 for a bad file under --check-config, 2 for a bad command
 * line or a bad file at start (systemd does not restart on 2:
 * RestartPreventExitStatus=2). --print-config prints the configuration in
 * effect on stdout.
 */
static int check_config(struct fdw_config *cfg, int r, const struct fdw_config_error *err)
{
	bool check = cfg->check_config || cfg->print_config;
	int rc = 0;

	if (r > 0) {
		rc = 0;
	} else if (r < 0 && !err->msg[0]) {
		rc = 2; /* the command line: already said on stderr */
	} else if (r < 0 && check) {
		fprintf(stderr, "fdwatchd: %s\n", err->msg);
		rc = 1;
	} else if (r < 0) {
		log_err("%s", err->msg);
		rc = 2;
	} else {
		if (cfg->print_config)
			fdw_config_print(cfg, stdout);
		fprintf(stderr, "fdwatchd: configuration OK (%s%s)\n", cfg->config_file,
			access(cfg->config_file, F_OK) ? " absent: defaults and command line" : "");
	}
	fdw_config_free(cfg);
	return rc;
}

/* the thread pool's size: the API's items (four at most) and the daemon's own */
#define FDW_POOL_THREADS "8"

int main(int argc, char **argv)
{
	static struct fdw_daemon daemon_state;
	struct fdw_daemon *d = &daemon_state;
	uv_loop_t loop;
	int r;

	struct fdw_config_error err;

	fdw_config_defaults(&d->cfg);
	r = fdw_config_load(&d->cfg, argc, argv, &err);
	if (d->cfg.check_config || d->cfg.print_config || r)
		return check_config(&d->cfg, r, &err);
	d->argc = argc; /* a reload reads the file and the command line again */
	d->argv = argv;
	if (d->cfg.verbose)
		fdw_log_set_max(LOG_DEBUG);
	/* one instance per host and per state directory, before any probe */
	if (fdw_daemon_lock(d) < 0) {
		fdw_daemon_unlock(d);
		return 1;
	}
	/* a peer that goes away must not kill us mid-write */
	(void)signal(SIGPIPE, SIG_IGN);
	/* a reload asked for before the loop handles SIGHUP is not a kill */
	(void)signal(SIGHUP, SIG_IGN);

	/* libuv's thread pool has four threads unless told. The API's reads
	 * for clients (server/refresh.c's names, server/access.c's owners: at
	 * most two items each, up to a second or so each) could take all four
	 * at an unprivileged user's asking, and the pipeline's /proc re-reads
	 * and the alert store's writes would wait behind them: room for
	 * those too. An operator's UV_THREADPOOL_SIZE is kept. */
	(void)setenv("UV_THREADPOOL_SIZE", FDW_POOL_THREADS, 0);
	r = uv_loop_init(&loop);
	if (r < 0) {
		log_err("uv_loop_init: %s", uv_strerror(r));
		return 1;
	}
	r = fdw_daemon_init(d, &loop);
	if (r < 0)
		log_err("init: %s", strerror(-r));
	else
		r = fdw_daemon_start(d);
	/* on success until SIGTERM; on failure, runs the close callbacks */
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	fdw_daemon_free(d);
	if (uv_loop_close(&loop) == UV_EBUSY) {
		log_err("loop closed with live handles");
		r = r ? r : -EBUSY;
	}
	fdw_daemon_unlock(d); /* after the probes are detached */
	fdw_config_free(&d->cfg);
	return r < 0 ? 1 : 0;
}
