// SPDX-License-Identifier: LGPL-2.1-or-later
/* base/memtrim.c: when a trim is due (a big, settled fall; rate-limited). */
#include <stdint.h>

#include "base/memtrim.h"
#include "check.h"

#define MIB (1ull << 20)
#define SEC 1000000000ull

static void test_policy(void)
{
	struct fdw_memtrim t;
	struct fdw_memtrim_job j = { .rss_before = 200 * MIB, .rss_after = 150 * MIB, .ns = 7000000 };
	uint64_t now = 100 * SEC;

	fdw_memtrim_init(&t);
	/* growth and small falls: nothing */
	CHECK(!fdw_memtrim_tick(&t, 20 * MIB, now));
	CHECK(!fdw_memtrim_tick(&t, 100 * MIB, now += SEC));
	CHECK(!fdw_memtrim_tick(&t, 90 * MIB, now += SEC)); /* 10 MiB: under the minimum */
	CHECK_EQ(t.peak, 100 * MIB);
	/* still falling fast: waits for it to settle */
	CHECK(!fdw_memtrim_tick(&t, 30 * MIB, now += SEC));
	CHECK(fdw_memtrim_tick(&t, 29 * MIB, now += SEC));
	CHECK(t.running);
	CHECK(!fdw_memtrim_tick(&t, 28 * MIB, now += SEC)); /* one at a time */
	fdw_memtrim_done(&t, &j, 28 * MIB);
	CHECK(!t.running);
	CHECK_EQ(t.trims, 1);
	CHECK_EQ(t.returned_bytes, 50 * MIB);
	CHECK_EQ(t.last_us, 7000);
	CHECK_EQ(t.max_us, 7000);
	CHECK_EQ(t.peak, 28 * MIB);
	/* the next burst, within the interval: waits for it */
	CHECK(!fdw_memtrim_tick(&t, 120 * MIB, now += SEC));
	CHECK(!fdw_memtrim_tick(&t, 40 * MIB, now += SEC));
	CHECK(!fdw_memtrim_tick(&t, 40 * MIB, now += SEC));
	now = t.last_ns + FDW_MEMTRIM_MIN_INTERVAL_NS;
	CHECK(fdw_memtrim_tick(&t, 40 * MIB, now));
	j.rss_after = j.rss_before + MIB; /* RSS grew meanwhile: nothing returned */
	j.ns = 2000000;
	fdw_memtrim_done(&t, &j, 40 * MIB);
	CHECK_EQ(t.returned_bytes, 50 * MIB);
	CHECK_EQ(t.last_us, 2000);
	CHECK_EQ(t.max_us, 7000);
	/* a big heap must fall by a quarter of its peak, not only 16 MiB */
	CHECK(!fdw_memtrim_tick(&t, 400 * MIB, now += 20 * SEC));
	CHECK(!fdw_memtrim_tick(&t, 320 * MIB, now += SEC));
	CHECK(!fdw_memtrim_tick(&t, 320 * MIB, now += SEC));
	CHECK(!fdw_memtrim_tick(&t, 300 * MIB, now += SEC)); /* 20 of 100 MiB in a tick */
	CHECK(fdw_memtrim_tick(&t, 299 * MIB, now += SEC));
}

static void test_run(void)
{
	struct fdw_memtrim_job j = { 0 };

	CHECK(fdw_rss_bytes() > 0);
	fdw_memtrim_run(&j);
	CHECK(j.rss_before > 0);
	CHECK(j.rss_after > 0);
}

int main(void)
{
	test_policy();
	test_run();
	return check_summary();
}
