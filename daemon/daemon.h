/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's state, shared by its parts: capture (ring buffer), model,
 * history, API. One instance, owned by main.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "alerts/alerts.h"
#include "model/history.h"
#include "detect/leaks.h"
#include "model/model.h"

struct fdw_capture;
struct fdw_api;

struct fdw_config {
	const char *socket_path;
	const char *state_dir;
	const char *metrics_listen; /* "127.0.0.1:9464" or NULL */
	const char *proc_root;	    /* "/proc" */
	uint64_t history_size;
	uint64_t max_procs;
	uint64_t max_fds;
	uint64_t max_clients;
	uint64_t ringbuf_bytes;
	unsigned int audit_interval_s; /* 0: off */
	unsigned int audit_sample;     /* processes per audit run */
	unsigned int consume_interval_ms;
	bool precise_ts;
	bool verbose;
	struct fdw_leak_config leak; /* --leak NAME=VALUE (daemon/leaks.h) */
	unsigned int max_alerts;     /* alerts kept, firing and recent */
	unsigned int metrics_top;    /* (command, unit) groups in /metrics */
};

struct fdw_audit_stats {
	uint64_t runs;
	uint64_t checked;
	uint64_t divergences;
};

struct fdw_daemon {
	struct fdw_config cfg;
	uv_loop_t *loop;
	struct fdw_model model;
	struct fdw_history history;
	struct fdw_capture *capture;
	struct fdw_api *api;	      /* the API and the metrics listener */
	struct fdw_alerts alerts;     /* leak alerts (daemon/alerts.h) */
	struct fdw_leaks *leaks;      /* detectors; NULL when not running */
	struct fdw_audit_stats audit;
	uint64_t start_mono_ns;	   /* CLOCK_MONOTONIC at start */
	int64_t mono_to_real_ns;   /* add to a CLOCK_MONOTONIC ns to get realtime ns */
	uint64_t events_received;
	uint64_t events_bad;	   /* records that failed to decode */
	uint64_t seq;		   /* last event sequence number */
	uint64_t cal_mono_ns;	   /* a (CLOCK_MONOTONIC, jiffies) pair from a task record */
	uint64_t cal_jiffies;
	uint64_t ns_per_jiffy;	   /* from the kernel's CONFIG_HZ; 0 until known */
	uint64_t last_ts;	   /* the stream's latest stamp: stamps never go back */
	uint64_t lost_seen;	   /* kernel-lost records already handled */
	uint64_t scan_errors;	   /* processes the /proc scan could not add */
	bool resync_all;	   /* lost records of unknown owner: re-read all */
	bool ready;
};

int fdw_daemon_init(struct fdw_daemon *d, uv_loop_t *loop);
/* Load and attach the probes; start consuming on the loop. */
int fdw_daemon_open_capture(struct fdw_daemon *d);
/* Add every process in /proc to the model (after the probes are attached,
 * so nothing falls between the scan and the events). */
int fdw_daemon_scan(struct fdw_daemon *d);
/* After the loop has closed every handle. */
void fdw_daemon_free(struct fdw_daemon *d);

uint64_t fdw_now_mono(void);

/* The leak detectors and the alert store (temporary wiring, for merge):
 * open the store in cfg.state_dir, create the detectors, start their 1 s
 * timer (drain, tick, save the store now and then); fires and resolves go
 * to the API's followers. 0 or -errno. fdw_daemon_free() frees them. */
int fdw_daemon_leaks_start(struct fdw_daemon *d);
/* Stop the timer (the loop closes it). Safe when not started. */
void fdw_daemon_leaks_stop(struct fdw_daemon *d);

/* Drain every record the kernel has committed into the model (read-your-writes). */
void fdw_daemon_drain(struct fdw_daemon *d);

/* Kernel-side lost records per CPU; *ncpus set; returns the total. */
uint64_t fdw_daemon_lost(struct fdw_daemon *d, uint64_t *per_cpu, unsigned int max_cpus,
			 unsigned int *ncpus);

/* CLOCK_MONOTONIC ns to seconds since the epoch (for JSON "ts"). */
double fdw_daemon_realtime(const struct fdw_daemon *d, uint64_t mono_ns);
