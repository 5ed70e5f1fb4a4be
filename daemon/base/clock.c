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

double fdw_mono_to_real(uint64_t mono_ns)
{
	int64_t off = (int64_t)clock_ns(CLOCK_REALTIME) - (int64_t)clock_ns(CLOCK_MONOTONIC);

	return (double)((int64_t)mono_ns + off) / 1e9;
}

uint64_t fdw_now_boot(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}
