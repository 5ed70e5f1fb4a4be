// SPDX-License-Identifier: LGPL-2.1-or-later
#include <time.h>

#include "base/clock.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * FDW_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t fdw_now_mono(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

double fdw_now_real(void)
{
	return (double)clock_ns(CLOCK_REALTIME) / 1e9;
}

/*
 * The offset between the clocks, read as two clock_gettime calls, moves by
 * their distance each time (tens of ns): two events with the same
 * monotonic stamp, converted one after the other, could come out in the
 * wrong order. So the offset is kept, and taken anew only when it moved by
 * more than STEP_NS (the wall clock was set) or slewed for a second.
 */
#define STEP_NS 1000000ll	     /* 1 ms */
#define REFRESH_NS 1000000000ull /* 1 s */

static int64_t clock_offset(void)
{
	/* the loop's (and the CLI's) alone: no thread converts stamps */
	static int64_t off;
	static uint64_t at;
	uint64_t mono = clock_ns(CLOCK_MONOTONIC);
	int64_t now;

	if (at && mono - at < REFRESH_NS)
		return off;
	now = (int64_t)clock_ns(CLOCK_REALTIME) - (int64_t)mono;
	if (!at || now - off > STEP_NS || off - now > STEP_NS)
		off = now;
	at = mono;
	return off;
}

double fdw_mono_to_real(uint64_t mono_ns)
{
	return (double)((int64_t)mono_ns + clock_offset()) / 1e9;
}

uint64_t fdw_now_boot(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}
