/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The HTTP/1.1 API on a unix socket (docs/api.md): libuv for I/O,
 * http_parser for requests, render.c for the bodies. One request per
 * connection (`Connection: close`), except follow streams, which stay open
 * and receive chunked NDJSON until the client goes away or falls behind.
 *
 * The same server, on an optional second listener (--metrics-listen, a
 * loopback TCP address), answers GET /metrics with the Prometheus text
 * metrics.c renders; nothing else is served there (404, non-GET 405).
 *
 * Bounded: at most cfg.max_clients API connections and 16 metrics
 * connections, 16 KiB of request head, 10 s to send a request, 30 s to take
 * a response, 4 MiB queued for a follower. What a bound refuses is counted.
 */
#pragma once

#include <stdint.h>

#include "daemon.h"

struct fdw_api;

/* Bind and listen on d->cfg.socket_path; sets d->api. 0 or -errno
 * (-EADDRINUSE when another daemon answers on the socket). */
int fdw_api_start(struct fdw_daemon *d);

/* After fdw_api_start(): listen on d->cfg.metrics_listen too (nothing when
 * NULL) and log the address bound ("metrics on http://127.0.0.1:PORT/metrics",
 * the port picked when 0). Logs its own errors. 0 or -errno; on failure
 * fdw_api_stop() still has to be called. */
int fdw_api_start_metrics(struct fdw_daemon *d);

/* Close the listeners and every client, remove the socket file. The memory
 * is released by the close callbacks: run the loop afterwards. d->api is
 * NULL on return. Safe to call twice. */
void fdw_api_stop(struct fdw_daemon *d);

/* An event was stored in the history: send it to the followers. Cheap when
 * nobody follows. */
void fdw_api_publish(struct fdw_daemon *d, const struct fdw_history_entry *e);

/* An alert fired or resolved (its JSON, daemon/alerts.h): send it to the
 * followers of /v1/leaks. Cheap when nobody follows. */
struct json_t;
void fdw_api_publish_alert(struct fdw_daemon *d, struct json_t *alert);

/* Connections refused (max_clients), metrics connections refused and
 * followers dropped (too slow). NULL gives 0. */
uint64_t fdw_api_dropped_clients(const struct fdw_api *api);
uint64_t fdw_api_dropped_metrics_clients(const struct fdw_api *api);
uint64_t fdw_api_dropped_followers(const struct fdw_api *api);
/* Connections and followers now. */
unsigned int fdw_api_clients(const struct fdw_api *api);
unsigned int fdw_api_followers(const struct fdw_api *api);
/* The metrics port actually bound (for port 0), 0 when not listening. */
unsigned int fdw_api_metrics_port(const struct fdw_api *api);
