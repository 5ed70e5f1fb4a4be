/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The object's maps and globals, and the ring buffer's output path.
 * Included once, by fdwatch.bpf.c: the definitions below are the ones the
 * skeleton (fdwatch.skel.h) names.
 */
#ifndef FDWATCH_MAPS_BPF_H
#define FDWATCH_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "fdwatch_event.h"

extern unsigned int CONFIG_HZ __kconfig __weak;

/* Tunables, set by the daemon between open and load. */
const volatile __u32 self_tgid = 0;	 /* the daemon itself: not traced */
const volatile bool precise_ts = false;	 /* bpf_ktime_get_ns() vs coarse */
const volatile __u64 wakeup_bytes = 1 << 20; /* force a wakeup past this fill */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by the daemon before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FDW_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/*
 * User stacks, captured only for the processes the leak detector is
 * investigating (stack_tgids): a stack walk costs far too much to pay on
 * every syscall of every process. nr_stack_tgids lets the common path skip
 * even the hash lookup.
 */
__u32 nr_stack_tgids = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);   /* tgid */
	__type(value, __u8);
} stack_tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, FDW_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/*
 * The struct file_operations of fanotify files, learned from the first
 * fanotify_init that returns one (fdwatch.bpf.c: learn_fanotify): read() on
 * a file with these ops installs an fd per event. 0 until then, and the read
 * probe returns at once. The file itself is the filter, so there is no map
 * of fanotify fds for anyone to fill, nor entries to go stale when an fd is
 * dup2'ed over, closed by close_range, dropped at exec or exit, inherited
 * by fork or passed over a socket.
 */
__u64 fanotify_fops = 0;

/* Which processes lost records, so the daemon re-reads just their tables. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);   /* tgid */
	__type(value, __u64); /* records lost */
} lost_tgids SEC(".maps");

static __always_inline void stat_inc(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &key);

	if (v)
		(*v)++;
}

static __always_inline void count_lost(__u32 tgid)
{
	__u64 one = 1, *c;

	stat_inc(FDW_STAT_LOST);
	c = bpf_map_lookup_elem(&lost_tgids, &tgid);
	if (c)
		__sync_fetch_and_add(c, 1);
	else
		bpf_map_update_elem(&lost_tgids, &tgid, &one, BPF_NOEXIST);
}

static __always_inline void *reserve(__u32 size, __u32 tgid)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		count_lost(tgid);
	return rec;
}

/*
 * At most the ring space a record of `size` bytes takes: its header, and the
 * rounding of the whole up to 8 bytes.
 */
#define RINGBUF_FOOTPRINT_MAX(size) ((size) + BPF_RINGBUF_HDR_SZ + 8)

/*
 * Wake the consumer only when this record is the one that crosses the fill
 * threshold: a wakeup is a self-IPI (irq_work), microseconds in a VM, and
 * forcing one on every record past the threshold would bill each of them.
 * The daemon's timer consumes the rest.
 */
static __always_inline void submit(void *rec, __u32 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (avail >= wakeup_bytes && avail < wakeup_bytes + RINGBUF_FOOTPRINT_MAX(size)) {
		flags = BPF_RB_FORCE_WAKEUP;
		stat_inc(FDW_STAT_WAKEUPS);
	}
	bpf_ringbuf_submit(rec, flags);
}

#endif /* FDWATCH_MAPS_BPF_H */
