// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fdwatchd: configuration, the loop, exit status. Everything else is wired
 * in daemon.c.
 *
 * Start-up: the host and state-directory locks first (a second instance
 * exits 1 naming the first one's pid), then the probes attached, then the
 * /proc scan (so nothing falls in between), then the API socket, then
 * READY=1. Shutdown on SIGTERM/SIGINT:
 * every handle closed, probes detached, socket removed, the loop ends empty.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "capture/capture.h"
#include "config/config.h"
#include "daemon.h"

int main(int argc, char **argv)
{
	static struct fdw_daemon daemon_state;
	struct fdw_daemon *d = &daemon_state;
	uv_loop_t loop;
	int r;

	fdw_config_defaults(&d->cfg);
	r = fdw_config_parse_args(&d->cfg, argc, argv);
	if (r)
		return r > 0 ? 0 : 2;
	if (d->cfg.verbose)
		fdw_log_set_max(LOG_DEBUG);
	/* one instance per host and per state directory, before any probe */
	if (fdw_daemon_lock(d) < 0) {
		fdw_daemon_unlock(d);
		return 1;
	}
	/* a peer that goes away must not kill us mid-write */
	(void)signal(SIGPIPE, SIG_IGN);

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
	return r < 0 ? 1 : 0;
}
