// SPDX-License-Identifier: LGPL-2.1-or-later
/* base/log: the journald priority prefix, filtering by priority, streams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "check.h"

int main(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK(f != NULL);
	if (!f)
		return check_summary();
	fdw_log_set_stream(f);
	log_warning("audit: pid %u diverged", 42u);
	log_err("cannot %s", "scan");
	log_debug("hidden at the default level");
	fdw_log_set_max(LOG_DEBUG);
	log_debug("shown with --verbose");
	fdw_log_set_max(LOG_INFO);
	log_info("ready");
	fdw_log_to(NULL, LOG_ERR, "dropped: no stream");
	fdw_log_to(f, LOG_NOTICE, "to an explicit stream");
	fflush(f);
	CHECK_STR(buf, "<4>fdwatchd: audit: pid 42 diverged\n"
		       "<3>fdwatchd: cannot scan\n"
		       "<7>fdwatchd: shown with --verbose\n"
		       "<6>fdwatchd: ready\n"
		       "<5>fdwatchd: to an explicit stream\n");
	fdw_log_set_stream(NULL);
	fclose(f);
	free(buf);
	return check_summary();
}
