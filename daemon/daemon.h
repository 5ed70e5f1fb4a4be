/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The wiring layer: the one place where modules meet. It owns every
 * module's state, connects each lower layer's callbacks to the layer that
 * listens (model observers -> detectors, pipeline events and alert changes
 * -> the server's follow streams), and owns time (the loop's timers).
 * One instance, owned by main.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "alerts/alerts.h"
#include "check/check.h"
#include "config/config.h"
#include "detect/leaks.h"
#include "base/memtrim.h"
#include "model/history.h"
#include "model/model.h"
#include "pipeline/pipeline.h"

struct fdw_capture;
struct fdw_server;

struct fdw_daemon {
	struct fdw_config cfg;
	uv_loop_t *loop;
	struct fdw_model model;
	struct fdw_procfs *procfs;    /* cfg.proc_root with its fd-directory cache */
	struct fdw_history history;
	struct fdw_pipeline pipeline;
	struct fdw_checker checker;
	struct fdw_capture *capture;
	struct fdw_snapshotter *snapshotter; /* BPF iterators; NULL: /proc only */
	uint32_t snap_read_tid;	 /* the last read_table the snapshot served */
	uint64_t snap_read_pos;	 /* ... and the ring position it was as of */
	uint64_t snap_read_end;	 /* ... and once it was read (0: unknown) */
	struct fdw_server *server; /* the API and the metrics listener */
	struct fdw_alerts alerts; /* alerts (alerts/alerts.h) */
	struct fdw_leaks *leaks;  /* detectors; NULL when not running */
	int leaks_obs;		  /* their model observer index */
	uv_timer_t tick;	  /* 1 s: drain, detectors, watchdog, status */
	uv_timer_t audit;	  /* every audit_interval_s */
	uv_signal_t sig_term, sig_int;
	uv_signal_t sig_hup;	  /* reload the configuration */
	int argc;		  /* the command line, read again at a reload */
	char **argv;
	uint64_t reloads, reload_failures;
	bool reload_failed;	  /* the last reload kept the old configuration */
	uint64_t start_mono_ns;	  /* CLOCK_MONOTONIC at start */
	uint64_t ticks, saved_tick; /* the alert store is saved every few ticks */
	struct fdw_alerts_save_job *save_job; /* ... in the thread pool; NULL: none */
	uint64_t tick_due_ms;	    /* uv_now() the next tick is due at */
	struct fdw_memtrim memtrim; /* freed memory given back after a burst */
	struct fdw_memtrim_job trim_job; /* ... the one in the pool (memtrim.running) */
	bool ready;
	int host_lock_fd;	  /* cfg.lock_file, held until exit */
	int state_lock_fd;	  /* STATE_LOCK in cfg.state_dir, held until exit */
};

/*
 * The first call: lock cfg.lock_file (one fdwatchd per host) and the state
 * directory (one fdwatchd per state directory), before anything is loaded
 * or attached. 0, or -errno after one line naming the holder's pid.
 */
int fdw_daemon_lock(struct fdw_daemon *d);
/* The last call: release both locks (the files stay). */
void fdw_daemon_unlock(struct fdw_daemon *d);

/* Set up the model, history, pipeline and checks from d->cfg. */
int fdw_daemon_init(struct fdw_daemon *d, uv_loop_t *loop);
/*
 * Everything up to READY=1, in order: probes attached, the /proc scan (after
 * the probes, so nothing falls between), the API socket, the detectors, the
 * metrics listener, the timers. 0, or -errno after logging what failed.
 */
int fdw_daemon_start(struct fdw_daemon *d);
/*
 * SIGHUP: read the configuration again (file, then d->argv over it). A bad
 * file is logged with its line and the configuration in effect is kept;
 * options that need a restart are logged and keep their value. 0, or
 * -EINVAL when the old configuration was kept.
 */
int fdw_daemon_reload(struct fdw_daemon *d);
/* Close every handle (the loop then runs their close callbacks). */
void fdw_daemon_stop(struct fdw_daemon *d);
/* After the loop has closed every handle. */
void fdw_daemon_free(struct fdw_daemon *d);
