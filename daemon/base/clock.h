/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Time: CLOCK_MONOTONIC nanoseconds inside, seconds since the epoch outside. */
#pragma once

#include <stdint.h>

#define FDW_NSEC_PER_SEC 1000000000ull

uint64_t fdw_now_mono(void);
/* CLOCK_BOOTTIME nanoseconds (what /proc/PID/stat's starttime counts). */
uint64_t fdw_now_boot(void);
/* Seconds since the epoch now. */
double fdw_now_real(void);
/* A CLOCK_MONOTONIC stamp as seconds since the epoch (for JSON "ts"), by
 * today's offset between the two clocks. */
double fdw_mono_to_real(uint64_t mono_ns);
