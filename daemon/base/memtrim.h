/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Giving freed memory back to the system after a burst.
 *
 * glibc's malloc keeps what a burst freed: a daemon whose model grew to
 * half a million fds and shrank back held its peak RSS for good (the freed
 * chunks sit between live ones in the main arena; only the top of the heap
 * is given back on its own). malloc_trim(0) hands every free page back
 * (MADV_DONTNEED), but it walks each arena holding that arena's lock: the
 * loop's own mallocs wait meanwhile. So it runs in the thread pool, only
 * after the heap in use fell a lot since its highest point (at least
 * FDW_MEMTRIM_MIN_DROP and a FDW_MEMTRIM_DROP_FRAC-th of that peak), once
 * the fall has settled (the last tick's fall is small against the whole),
 * and at most every FDW_MEMTRIM_MIN_INTERVAL_NS.
 *
 * No loop, no timer: the wiring layer calls fdw_memtrim_tick() from its
 * tick with the heap in use, runs fdw_memtrim_run() in a pool thread when
 * told to, and fdw_memtrim_done() back on the loop.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define FDW_MEMTRIM_MIN_DROP (16ull << 20)
#define FDW_MEMTRIM_DROP_FRAC 4
#define FDW_MEMTRIM_MIN_INTERVAL_NS (10ull * 1000000000ull)

struct fdw_memtrim {
	uint64_t peak;	  /* heap in use: the highest since the last trim */
	uint64_t prev;	  /* ... at the last tick */
	uint64_t last_ns; /* CLOCK_MONOTONIC the last trim started at; 0: never */
	bool running;	  /* a trim is in the pool */
	/* counters (status memory.*, metrics fdwatch_malloc_trim*) */
	uint64_t trims;
	uint64_t returned_bytes; /* RSS before minus after each trim, summed: an
				  * estimate (the loop allocates meanwhile) */
	uint64_t last_us, max_us; /* how long malloc_trim() took */
	/* malloc's own figures (fdw_memtrim_heap), as last read */
	uint64_t heap_in_use, heap_mmapped;
	uint64_t heap_at_ns, heap_cost_ns; /* when, and what the read cost */
	uint64_t heap_reads;
};

/* What one trim measured, filled in the pool. */
struct fdw_memtrim_job {
	uint64_t rss_before, rss_after; /* bytes */
	uint64_t ns;			/* malloc_trim()'s own time */
};

void fdw_memtrim_init(struct fdw_memtrim *t);
/* The heap in use now (malloc's arenas, mallinfo2 uordblks), at `now_ns`:
 * true when a trim should start now (t->running is then set). */
bool fdw_memtrim_tick(struct fdw_memtrim *t, uint64_t heap, uint64_t now_ns);
/* In a pool thread: malloc_trim(0), timed, with the RSS around it. */
void fdw_memtrim_run(struct fdw_memtrim_job *j);
/* Back on the loop: count it; the heap in use now is the next peak. */
void fdw_memtrim_done(struct fdw_memtrim *t, const struct fdw_memtrim_job *j, uint64_t heap);
/*
 * malloc's heap in use (mallinfo2 uordblks; *mmapped: hblkhd) as of a read
 * at most FDW_HEAP_READ_EVERY_NS or FDW_HEAP_READ_DUTY times its own cost
 * ago, whichever is longer, and never while a trim runs (it would wait for
 * it). mallinfo2() walks every free chunk under its arena's lock: 22-37 ms
 * with 500,000 free chunks after a burst (a reviewer's measure), and the
 * 1 s tick and each status and scrape read it. `fresh`: read now (after a
 * trim, when the walk is short). t NULL (no trimmer: a server without the
 * daemon's): read now, every call, nothing kept.
 */
#define FDW_HEAP_READ_EVERY_NS 1000000000ull
#define FDW_HEAP_READ_DUTY 100
uint64_t fdw_memtrim_heap(struct fdw_memtrim *t, uint64_t now_ns, bool fresh,
			  uint64_t *mmapped);
/* This process's resident set in bytes (/proc/self/statm), 0 when unread. */
uint64_t fdw_rss_bytes(void);
