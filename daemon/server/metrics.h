/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prometheus metrics in the text exposition format 0.0.4, with # HELP and
 * # TYPE for every family. routes.c serves them as GET /metrics on a loopback
 * TCP address (--metrics-listen 127.0.0.1:PORT, off by default).
 *
 * - the daemon's health: events received and lost, tracked processes,
 *   tables and fds, resyncs, audit results, what each bound dropped, and the
 *   usual process_* figures of fdwatchd itself;
 * - open fds per group of processes, a group being (command, systemd unit):
 *   the groups with a growing process first, then the largest, at most
 *   opts.metrics_top of them, the rest summed under command="_other". One
 *   series per group, never one per pid, so short-lived processes do not
 *   grow the number of series;
 * - alerts firing, fired and resolved, by kind; growth rate and time to
 *   the fd limit for groups with a growing process.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/server.h"
#include "server/render.h"
#include "server/stats.h"

/*
 * "127.0.0.1:9464", "[::1]:9464", "localhost:9464" (port 0: any free port).
 * 0, -EINVAL (syntax) or -EPERM (not a loopback address: metrics carry
 * process names and must not leave the host unless a proxy decides so).
 */
int fdw_metrics_parse_listen(const char *s, struct sockaddr_storage *out, socklen_t *len);

/*
 * The exposition text of snapshot `st` (every figure /v1/status shows too
 * comes from it), the groups of deps->model (at most `top`, 0: 20) and
 * fdwatchd's own process_* figures. A process `named` (NULL: all) does not
 * let through is counted under command="_user" instead of its command: *body (malloc'd, NUL-terminated, the
 * caller frees it) and *len, set only on success. 0 or -ENOMEM.
 */
int fdw_metrics_render(const struct fdw_server_deps *deps, const struct fdw_stats *st,
		       unsigned int top, fdw_render_filter *named, void *userdata, char **body,
		       size_t *len);
