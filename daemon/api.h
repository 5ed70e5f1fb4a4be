/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The HTTP/1.1 API on a unix socket (docs/api.md): libuv for I/O,
 * http_parser for requests, render.c for the bodies. One request per
 * connection (`Connection: close`), except follow streams, which stay open
 * and receive chunked NDJSON until the client goes away or falls behind.
 *
 * Bounded: at most cfg.max_clients connections, 16 KiB of request head,
 * 10 s to send a request, 30 s to take a response, 4 MiB queued for a
 * follower. What a bound refuses is counted.
 */
#pragma once

#include <stdint.h>

#include "daemon.h"

struct fdw_api;

/* Bind and listen on d->cfg.socket_path; sets d->api. 0 or -errno
 * (-EADDRINUSE when another daemon answers on the socket). */
int fdw_api_start(struct fdw_daemon *d);

/* Close the listener and every client, remove the socket file. The memory
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

/* Connections refused (max_clients) and followers dropped (too slow). NULL
 * gives 0. */
uint64_t fdw_api_dropped_clients(const struct fdw_api *api);
uint64_t fdw_api_dropped_followers(const struct fdw_api *api);
/* Connections and followers now. */
unsigned int fdw_api_clients(const struct fdw_api *api);
unsigned int fdw_api_followers(const struct fdw_api *api);
