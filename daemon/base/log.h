/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging with syslog priorities. Each line goes to stderr as
 * "<P>fdwatchd: ...", the prefix journald reads as the priority; with no
 * journal behind stderr it is still one greppable line per message.
 *
 *   log_warning("audit: pid %u diverged", pid);
 *
 * log_debug() prints only after fdw_log_set_max(LOG_DEBUG) (--verbose).
 * Library-like modules return -errno; the layer that knows the context
 * logs, once.
 */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

/* Messages above `prio` are dropped (default LOG_INFO). */
void fdw_log_set_max(int prio);
int fdw_log_get_max(void);
/* Where lines go (default stderr; tests pass a memstream). NULL: stderr. */
void fdw_log_set_stream(FILE *f);

void fdw_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same line to an explicit stream (a module that logs to its own
 * stream, e.g. the alert store, whose tests capture it); NULL: dropped. */
void fdw_log_to(FILE *f, int prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fdw_logv(int prio, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_emerg(...) fdw_log(LOG_EMERG, __VA_ARGS__)
#define log_err(...) fdw_log(LOG_ERR, __VA_ARGS__)
#define log_warning(...) fdw_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) fdw_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) fdw_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) fdw_log(LOG_DEBUG, __VA_ARGS__)
