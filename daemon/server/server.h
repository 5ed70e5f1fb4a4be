/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The HTTP/1.1 API on a unix socket (docs/api.md): libuv for I/O,
 * http_parser for requests, render.c for the bodies. One request per
 * connection (`Connection: close`), except follow streams, which stay open
 * and receive chunked NDJSON until the client goes away or falls behind.
 *
 * The same server, on an optional second listener (opts.metrics_listen, a
 * loopback TCP address), answers GET /metrics with the Prometheus text
 * metrics.c renders; nothing else is served there (404, non-GET 405).
 *
 * Bounded: at most opts.max_clients API connections (a quarter of them per
 * uid and per process, an eighth kept for root) and 16 metrics
 * connections, 16 KiB of request head, 5 s to send it, 10 s to take each
 * piece of an answer or of a follow stream's output, 4 MiB queued for a
 * follower; large answers are produced a chunk at a time, as the client
 * takes them. What a bound refuses is counted.
 *
 * The server knows the layers below it only through struct fdw_server_deps
 * (read-only, except that a request asks the pipeline to drain first, for
 * read-your-writes). The wiring layer connects the pipeline's on_event to
 * fdw_server_publish_event() and the alert store's on_change to
 * fdw_server_publish_alert().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "model/history.h"

struct fdw_model;
struct fdw_pipeline;
struct fdw_checker;
struct fdw_alerts;
struct fdw_alert;
struct fdw_leaks;
struct fdw_memtrim;
struct fdw_server;

/* What the server reads (and the pipeline it asks to drain). Pointers must
 * outlive the server. */
struct fdw_server_deps {
	struct fdw_model *model;
	struct fdw_history *history;
	struct fdw_pipeline *pipeline; /* drained before every answer */
	struct fdw_checker *checker;   /* GET /v1/verify; NULL: 503 */
	struct fdw_alerts *alerts;     /* GET /v1/leaks; NULL: 503 */
	struct fdw_leaks *leaks;       /* leak sites and groups; may be NULL */
	struct fdw_memtrim *memtrim; /* malloc_trim's counters and heap reads; may be NULL */
	const bool *ready;	       /* start-up done; NULL: always ready */
	uint64_t start_mono_ns;	       /* CLOCK_MONOTONIC at daemon start (uptime) */
	/* CLOCK_MONOTONIC ns to seconds since the epoch for "ts" fields; NULL:
	 * fdw_mono_to_real() (tests pin it to compare exact values) */
	double (*realtime)(uint64_t mono_ns);
	/* a process's owner (sys/pidinfo.h fdw_pid_owner_read), for access
	 * control, with the gid a client of that uid needs (*gid is
	 * FDW_OWNER_GID_ANY when not set); NULL: read from /proc (tests pin it).
	 * Called on the loop and from threads of libuv's pool, concurrently
	 * (access.c srv_owners_then): it must be thread-safe */
	int (*read_owner)(void *userdata, uint32_t pid, uint32_t *uid, uint32_t *gid);
	void *owner_userdata;
};

/* The group whose members see everything, like root (server/access.c). */
#define FDW_SERVER_GROUP "fdwatch"
/* The highest uid of a system account (Debian's SYS_UID_MAX). */
#define FDW_METRICS_SYSTEM_UID_MAX 999u

struct fdw_server_opts {
	const char *socket_path;    /* the API's unix socket */
	/* the socket's group, whose members see every process (root does
	 * anyway); NULL: FDW_SERVER_GROUP. A group that does not exist: the
	 * socket stays root's group, and only root sees everything. */
	const char *socket_group;
	const char *metrics_listen; /* "127.0.0.1:9464" or NULL: no metrics */
	uint64_t max_clients;	    /* API connections at once; 0: 64 */
	unsigned int header_timeout_ms; /* to send a request head; 0: 5000 */
	unsigned int write_timeout_ms;	/* output not taken for this long: dropped; 0: 10000 */
	unsigned int metrics_top;   /* (command, unit) groups in /metrics; 0: 20 */
	/* name the commands of every user's processes in /metrics; false: only
	 * those of system accounts (uid <= FDW_METRICS_SYSTEM_UID_MAX), the
	 * others counted under command="_user" */
	bool metrics_all_commands;
	/* shown in /v1/status "limits" (the model enforces them) */
	uint64_t max_procs;
	uint64_t max_fds;
};

/*
 * Bind and listen on o->socket_path (its parent directories made, a stale
 * socket file replaced). `o` and `deps` are copied (the strings in `o` are
 * not: they must outlive the server). 0 or -errno (-EADDRINUSE when another
 * daemon answers on the socket); *out set only on success.
 */
int fdw_server_start(struct fdw_server **out, uv_loop_t *loop, const struct fdw_server_opts *o,
		     const struct fdw_server_deps *deps);

/* After fdw_server_start(): listen on opts.metrics_listen too (nothing when
 * NULL) and log the address bound ("metrics on http://127.0.0.1:PORT/metrics",
 * the port picked when 0). Logs its own errors. 0 or -errno; on failure
 * fdw_server_stop() still has to be called. */
int fdw_server_start_metrics(struct fdw_server *s);

/* Close the listeners and every client, remove the socket file. Publishing
 * is a no-op from here on. Safe to call twice and with NULL. */
void fdw_server_stop(struct fdw_server *s);

/* Stop if needed, and release the memory once the loop has run the close
 * callbacks (at once when they have run already). NULL-safe. */
void fdw_server_free(struct fdw_server *s);

/* Resolve the socket group's gid again (at reload: start did it once) and
 * give the socket to it. 1 when the group exists, 0 when not (the socket
 * is root's group then), -errno. Clients connected before keep the access
 * they had. */
int fdw_server_reload_access(struct fdw_server *s);

/* An event was stored in the history: send it to the followers of
 * /v1/events. Cheap when nobody follows. NULL-safe. */
void fdw_server_publish_event(struct fdw_server *s, const struct fdw_history_entry *e);

/* Records were lost (the pipeline's on_lost): a setuid or setgid
 * program's exec may be among them, so the owner of every process that may
 * have changed is read again before the events from `since_seq` on are
 * attributed to it: those of `tgids` (keys: the processes whose records
 * were lost; NULL: any process's may have been), those that came to be
 * since `since_seq` (forks of them) and those seen to exit (their pid may
 * be a new process's whose fork was lost). NULL-safe. */
struct fdw_hashmap;
void fdw_server_records_lost(struct fdw_server *s, uint64_t since_seq,
			     const struct fdw_hashmap *tgids);

/* An alert fired or resolved (alerts/alerts.h): send it to the followers
 * of /v1/leaks, as each may see it. Cheap when nobody follows. NULL-safe. */
void fdw_server_publish_alert(struct fdw_server *s, const struct fdw_alert *a);

/* Read-only counters; NULL gives 0. */
struct fdw_server_counters {
	unsigned int clients;	      /* API connections now (not refused ones) */
	unsigned int followers;	      /* follow streams now */
	uint64_t dropped_clients;     /* refused: max_clients, or a share of it */
	uint64_t dropped_share;	      /* of those: over a uid's or a process's share */
	uint64_t dropped_mclients;    /* refused: metrics connections */
	uint64_t dropped_pidns;	      /* refused: clients in another pid or user namespace */
	uint64_t dropped_followers;   /* dropped: too slow, or behind the history */
	uint64_t slow_readers;	      /* dropped: output not taken (answers, followers) */
	uint64_t request_timeouts;    /* closed: no whole request head in time */
	uint64_t name_refreshes;      /* fds answers sent without re-reading the
				       * names (a bound: table size, reads in flight) */
	uint64_t owner_prefetches;    /* unprivileged answers that read owners on
				       * the loop (a bound: pids, items in flight) */
	uint64_t verify_share;	      /* verify requests refused: a uid's share, or
				       * only the privileged clients' reserve left */
	uint64_t owners_refused;      /* process owners not cached (full): hidden
				       * from unprivileged clients instead */
	uint64_t leak_sites;	      /* GET /v1/leaks?pid= refused (429): the
				       * uid's share of the loop's time used up */
};
void fdw_server_counters(const struct fdw_server *s, struct fdw_server_counters *out);
/* The metrics port actually bound (for port 0), 0 when not listening. */
unsigned int fdw_server_metrics_port(const struct fdw_server *s);
