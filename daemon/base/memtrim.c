// SPDX-License-Identifier: LGPL-2.1-or-later
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/memtrim.h"

void fdw_memtrim_init(struct fdw_memtrim *t)
{
	memset(t, 0, sizeof(*t));
}

bool fdw_memtrim_tick(struct fdw_memtrim *t, uint64_t heap, uint64_t now_ns)
{
	uint64_t prev = t->prev, fell, need;

	t->prev = heap;
	if (heap > t->peak)
		t->peak = heap;
	if (t->running)
		return false;
	fell = t->peak - heap;
	need = t->peak / FDW_MEMTRIM_DROP_FRAC;
	if (need < FDW_MEMTRIM_MIN_DROP)
		need = FDW_MEMTRIM_MIN_DROP;
	if (fell < need)
		return false;
	/* still falling fast (a burst's exits being applied): next tick */
	if (prev > heap && (prev - heap) * 8 > fell)
		return false;
	if (t->last_ns && now_ns - t->last_ns < FDW_MEMTRIM_MIN_INTERVAL_NS)
		return false;
	t->running = true;
	t->last_ns = now_ns;
	return true;
}

void fdw_memtrim_run(struct fdw_memtrim_job *j)
{
	uint64_t t0;

	j->rss_before = fdw_rss_bytes();
	t0 = fdw_now_mono();
	(void)malloc_trim(0);
	j->ns = fdw_now_mono() - t0;
	j->rss_after = fdw_rss_bytes();
}

void fdw_memtrim_done(struct fdw_memtrim *t, const struct fdw_memtrim_job *j, uint64_t heap)
{
	t->running = false;
	t->trims++;
	if (j->rss_before > j->rss_after)
		t->returned_bytes += j->rss_before - j->rss_after;
	t->last_us = j->ns / 1000;
	if (t->last_us > t->max_us)
		t->max_us = t->last_us;
	t->peak = heap;
	t->prev = heap;
}

uint64_t fdw_memtrim_heap(struct fdw_memtrim *t, uint64_t now_ns, bool fresh,
			  uint64_t *mmapped)
{
	uint64_t every;

	if (!t) {
		struct mallinfo2 mi = mallinfo2();

		if (mmapped)
			*mmapped = (uint64_t)mi.hblkhd;
		return (uint64_t)mi.uordblks;
	}
	every = t->heap_cost_ns * FDW_HEAP_READ_DUTY;
	if (every < FDW_HEAP_READ_EVERY_NS)
		every = FDW_HEAP_READ_EVERY_NS;
	if (!t->running && (fresh || !t->heap_reads || now_ns - t->heap_at_ns >= every)) {
		uint64_t t0 = fdw_now_mono();
		struct mallinfo2 mi = mallinfo2();

		t->heap_cost_ns = fdw_now_mono() - t0;
		t->heap_in_use = (uint64_t)mi.uordblks;
		t->heap_mmapped = (uint64_t)mi.hblkhd;
		t->heap_at_ns = now_ns;
		t->heap_reads++;
	}
	if (mmapped)
		*mmapped = t->heap_mmapped;
	return t->heap_in_use;
}

uint64_t fdw_rss_bytes(void)
{
	char buf[128], *p, *end;
	unsigned long long resident;
	long page = sysconf(_SC_PAGESIZE);
	ssize_t n;
	int fd;

	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "size resident shared ...", in pages */
	p = strchr(buf, ' ');
	if (!p || page <= 0)
		return 0;
	errno = 0;
	resident = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1 || (*end != ' ' && *end != '\n'))
		return 0;
	return (uint64_t)resident * (uint64_t)page;
}
