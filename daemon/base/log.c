// SPDX-License-Identifier: LGPL-2.1-or-later
#include <stdio.h>

#include "base/log.h"

static int log_max = LOG_INFO;
static FILE *log_stream;

void fdw_log_set_max(int prio)
{
	log_max = prio;
}

int fdw_log_get_max(void)
{
	return log_max;
}

void fdw_log_set_stream(FILE *f)
{
	log_stream = f;
}

static void log_line(FILE *f, int prio, const char *fmt, va_list ap)
{
	char line[2048];

	if (!f || prio > log_max)
		return;
	/* one write per line, so lines of concurrent writers never interleave */
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(f, "<%d>fdwatchd: %s\n", prio & LOG_PRIMASK, line);
	fflush(f);
}

void fdw_logv(int prio, const char *fmt, va_list ap)
{
	log_line(log_stream ? log_stream : stderr, prio, fmt, ap);
}

void fdw_log_to(FILE *f, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(f, prio, fmt, ap);
	va_end(ap);
}

void fdw_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fdw_logv(prio, fmt, ap);
	va_end(ap);
}
