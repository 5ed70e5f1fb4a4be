/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdwatchd's configuration: one struct, its defaults, and the command-line
 * parser. Every module takes the part it needs from here through the
 * wiring layer (daemon.c); none reads options itself.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "detect/leaks.h"

struct fdw_config {
	const char *socket_path;
	const char *state_dir;
	const char *lock_file;	    /* one fdwatchd per host holds it */
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
	bool races_io;		    /* use-after-close on the hot I/O syscalls too */
	bool verbose;
	struct fdw_leak_config leak; /* --leak NAME=VALUE (detect/leaks.h) */
	unsigned int max_alerts;     /* alerts kept, firing and recent */
	unsigned int metrics_top;    /* (command, unit) groups in /metrics */
};

/* Every field at its default. */
void fdw_config_defaults(struct fdw_config *cfg);

/*
 * Parse fdwatchd's command line into `cfg` (on top of what it holds).
 * Returns 0 to run, 1 when --help or --version was answered (exit 0), or
 * -EINVAL after a one-line error on stderr (exit 2).
 */
int fdw_config_parse_args(struct fdw_config *cfg, int argc, char **argv);

void fdw_config_usage(FILE *f);
