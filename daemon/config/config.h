/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdwatchd's configuration: one struct, its defaults, the configuration
 * file (fdwatch.conf(5)) and the command line over it. Every module takes
 * the part it needs from here through the wiring layer (daemon.c); none
 * reads options itself.
 *
 * One table in config.c describes every option: its name (the long option
 * and the file's key), where it lands, its range, whether it may change at
 * a reload, and its --help line.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "detect/leaks.h"

#ifndef FDWATCH_CONFIG_FILE
#define FDWATCH_CONFIG_FILE "/etc/fdwatch/fdwatch.conf"
#endif

#define FDW_CONFIG_MAX_OWNED 32	   /* strings a file can set (one per string key) */
#define FDW_CONFIG_MAX_LINE 200	   /* inih's line buffer, newline included */
#define FDW_CONFIG_MAX_BYTES (1 << 20) /* a larger file is refused */

struct fdw_config {
	const char *config_file;    /* --config, default FDWATCH_CONFIG_FILE */
	bool config_explicit;	    /* given with --config: it must exist */
	bool check_config;	    /* --check-config: parse, report, exit */
	bool print_config;	    /* --print-config: the same, and print it */
	const char *socket_path;
	const char *socket_group;   /* sees everything, like root (server/server.h) */
	const char *state_dir;
	const char *lock_file;	    /* one fdwatchd per host holds it */
	const char *metrics_listen; /* "127.0.0.1:9464" or NULL */
	const char *proc_root;	    /* "/proc" */
	uint64_t history_size;
	uint64_t max_procs;
	uint64_t max_fds;
	uint64_t max_name_bytes;    /* the model's names (targets), in bytes */
	uint64_t max_clients;
	uint64_t ringbuf_bytes;
	unsigned int audit_interval_s; /* 0: off */
	unsigned int audit_sample;     /* processes per audit run */
	unsigned int consume_interval_ms;
	bool precise_ts;
	bool races_io;		    /* use-after-close on the hot I/O syscalls too */
	bool verbose;
	struct fdw_leak_config leak; /* --leak NAME=VALUE, [leak] NAME = VALUE */
	unsigned int max_alerts;     /* alerts kept, firing and recent */
	unsigned int metrics_top;    /* (command, unit) groups in /metrics */
	bool metrics_all_commands;   /* name every user's commands in /metrics */
	/* strings read from a file, freed by fdw_config_free() */
	char *owned[FDW_CONFIG_MAX_OWNED];
	unsigned int nowned;
};

/* "FILE:LINE: KEY: what is wrong", or "FILE: what is wrong" */
struct fdw_config_error {
	char msg[512];
	unsigned int line; /* 0: not about one line */
};

/* Every field at its default (the config file path too). */
void fdw_config_defaults(struct fdw_config *cfg);
/* The strings a file set; cfg is then at its defaults. NULL-safe. */
void fdw_config_free(struct fdw_config *cfg);

/*
 * Parse fdwatchd's command line into `cfg` (on top of what it holds).
 * Returns 0 to run, 1 when --help or --version was answered (exit 0), or
 * -EINVAL after a one-line error on stderr (exit 2).
 */
int fdw_config_parse_args(struct fdw_config *cfg, int argc, char **argv);

/*
 * Read configuration file `path` into `cfg`, over what it holds: keys are
 * the long options' names, [leak] holds the detector settings. 0;
 * -ENOENT when there is no such file (cfg untouched, err says so); -EINVAL
 * on the first bad line, naming file, line and key in err (cfg may hold
 * the lines before it: parse into a scratch config); another -errno when
 * the file cannot be read.
 */
int fdw_config_load_file(struct fdw_config *cfg, const char *path, struct fdw_config_error *err);

/*
 * The whole configuration, as at start and at every reload: defaults, then
 * the file (--config PATH, else FDWATCH_CONFIG_FILE, which may be absent),
 * then the command line over it. `cfg` is freed and rebuilt. 0 to run, 1
 * when --help or --version was answered, -EINVAL for a bad command line
 * (printed on stderr) or a bad file (in err, with its line).
 */
int fdw_config_load(struct fdw_config *cfg, int argc, char **argv, struct fdw_config_error *err);

/*
 * A reload: copy from `next` into `cur` the options that may change while
 * the daemon runs (--help marks the others "restart"); the names of the
 * options that differ but need a restart go to `restart` (space-separated,
 * NUL-terminated when len > 0, truncated to fit). Returns how many options
 * changed and were copied. `next` keeps its strings (free it after).
 */
int fdw_config_merge_reload(struct fdw_config *cur, const struct fdw_config *next, char *restart,
			    size_t len);

/* Every option with its current value, as configuration file lines. */
void fdw_config_print(const struct fdw_config *cfg, FILE *f);

/* The i-th option's name (key), NULL past the last; *file: settable in a
 * file, *live: may change at a reload. For documentation checks. */
const char *fdw_config_option(size_t i, bool *file, bool *live);

void fdw_config_usage(FILE *f);
