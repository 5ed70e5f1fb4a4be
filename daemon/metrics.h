/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prometheus metrics over HTTP on a loopback TCP address (--metrics-listen
 * 127.0.0.1:PORT, off by default): GET /metrics in the text exposition
 * format 0.0.4, with # HELP and # TYPE for every family.
 *
 * - the daemon's health: events received and lost, tracked processes,
 *   tables and fds, resyncs, audit results, what each bound dropped, and the
 *   usual process_* figures of fdwatchd itself;
 * - open fds per group of processes, a group being (command, systemd unit):
 *   the groups with a growing process first, then the largest, at most
 *   cfg.metrics_top of them, the rest summed under command="_other". One
 *   series per group, never one per pid, so short-lived processes do not
 *   grow the number of series;
 * - alerts firing, fired and resolved, by kind; growth rate and time to
 *   the fd limit for groups with a growing process.
 *
 * libuv TCP, http_parser, one request per connection, bounded: 16
 * connections, 8 KiB of request head, 10 s to send it, 30 s to take the
 * answer. Refused connections are counted.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct fdw_daemon;
struct fdw_metrics;

/*
 * "127.0.0.1:9464", "[::1]:9464", "localhost:9464" (port 0: any free port).
 * 0, -EINVAL (syntax) or -EPERM (not a loopback address: metrics carry
 * process names and must not leave the host unless a proxy decides so).
 */
int fdw_metrics_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len);

/* Listen on d->cfg.metrics_listen (nothing when NULL); sets d->metrics and
 * logs the address. 0 or -errno. */
int fdw_metrics_start(struct fdw_daemon *d);
/* Close the listener and the connections (run the loop afterwards; the
 * memory goes with the last close callback). Safe when not started. */
void fdw_metrics_stop(struct fdw_daemon *d);

/* The exposition text (malloc'd, *len set), NULL when out of memory. */
char *fdw_metrics_render(struct fdw_daemon *d, size_t *len);

/* The port actually bound (for port 0), 0 when not listening. */
unsigned int fdw_metrics_port(const struct fdw_metrics *m);
uint64_t fdw_metrics_dropped_clients(const struct fdw_metrics *m);
