// SPDX-License-Identifier: LGPL-2.1-or-later
/* base/memtrim.c: when a trim is due (a big, settled fall; rate-limited). */
#include <stdint.h>
#include <stdlib.h>

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

/* mallinfo2 is read at most every second (or 100 times its cost), never
 * while a trim runs; `fresh` reads now. */
static void test_heap_reads(void)
{
	struct fdw_memtrim t;
	uint64_t now = 100 * SEC, mm = 0, h;
	void *held = malloc(4096);

	fdw_memtrim_init(&t);
	h = fdw_memtrim_heap(&t, now, false, &mm);
	/* the figure itself is malloc's (ASan's allocator answers 0): only
	 * when it is read is checked */
	CHECK(held && h == t.heap_in_use && mm == t.heap_mmapped);
	CHECK_EQ(t.heap_reads, 1);
	CHECK_EQ(t.heap_at_ns, now);
	/* the tick, a status and a scrape in the same second: one read */
	(void)fdw_memtrim_heap(&t, now + SEC / 2, false, NULL);
	(void)fdw_memtrim_heap(&t, now + SEC - 1, false, NULL);
	CHECK_EQ(t.heap_reads, 1);
	(void)fdw_memtrim_heap(&t, now + SEC, false, NULL);
	CHECK_EQ(t.heap_reads, 2);
	/* a costly read spaces the next: 100 times its cost */
	t.heap_cost_ns = 30000000; /* 30 ms */
	(void)fdw_memtrim_heap(&t, now + 2 * SEC, false, NULL);
	CHECK_EQ(t.heap_reads, 2);
	t.heap_cost_ns = 30000000;
	(void)fdw_memtrim_heap(&t, now + 4 * SEC, true, NULL); /* fresh: now */
	CHECK_EQ(t.heap_reads, 3);
	/* a trim in the pool holds malloc's locks: the last figure */
	t.running = true;
	CHECK_EQ(fdw_memtrim_heap(&t, now + 100 * SEC, true, NULL), t.heap_in_use);
	CHECK_EQ(t.heap_reads, 3);
	free(held);
}

/* No trimmer (a server without the daemon's): malloc's figures now, every
 * call; nothing to keep them in. */
static void test_heap_no_trimmer(void)
{
	uint64_t mm = UINT64_MAX;

	/* the figure itself is malloc's (0 under ASan): only that it is
	 * read, and given back, is checked */
	(void)fdw_memtrim_heap(NULL, 100 * SEC, false, &mm);
	CHECK(mm != UINT64_MAX);
	(void)fdw_memtrim_heap(NULL, 100 * SEC, false, NULL);
}

int main(void)
{
	test_policy();
	test_run();
	test_heap_reads();
	test_heap_no_trimmer();
	return check_summary();
}
