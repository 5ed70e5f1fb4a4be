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

/*
 * seccomp user notifications a supervisor received
 * (SECCOMP_IOCTL_NOTIF_RECV), by listener and id: the task each one
 * stopped, into which SECCOMP_IOCTL_NOTIF_ADDFD installs fds. LRU: an
 * answered notification's entry ages out; a lookup that misses walks the
 * filter's pending list instead (fdwatch.bpf.c: notif_task).
 */
struct notif_key {
	__u64 filter; /* struct seccomp_filter of the listener */
	__u64 id;
};

struct notif_target {
	__u32 tgid; /* 0: not found; tid is then the supervisor's view of it */
	__u32 tid;
	__u64 files;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct notif_key);
	__type(value, struct notif_target);
} seccomp_notifs SEC(".maps");

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
 * When to wake the consumer. Not per record: a wakeup is a self-IPI
 * (irq_work), microseconds in a VM; the daemon's timer consumes the ring.
 * Only when the fill reaches a higher multiple of wakeup_bytes than it had:
 * the daemon is behind. Looking costs a helper call (bpf_ringbuf_query,
 * ~7 ns a record here), so each CPU looks at one record in FILL_EVERY and
 * remembers the level it saw: a wakeup comes FILL_EVERY of that CPU's
 * records late, or one level late when its last look predates a drain;
 * once per CPU that sees the level rise. With many CPUs producing, up to
 * FILL_EVERY - 1 records per CPU go by unlooked at: a ring of a few MiB
 * on a large host has less headroom than that suggests. A line of its own
 * per CPU (64 bytes; half a line on arm64 parts with 128-byte lines).
 * bpf_get_smp_processor_id() is inlined on x86-64 since 6.10 and on arm64
 * since 6.11, a helper call before.
 */
#define FILL_EVERY 16
#define FILL_CPUS 1024 /* CPUs above: look at every record */

struct fill_check {
	__u32 n;     /* records submitted on this CPU (mod 2^32) */
	__u32 level; /* fill / wakeup_bytes at the last look */
} __attribute__((aligned(64)));

static struct fill_check fill[FILL_CPUS] SEC(".bss");

/* At most the ring space a record of `size` bytes takes: its header, and the
 * rounding of the whole up to 8 bytes. */
#define RINGBUF_FOOTPRINT_MAX(size) ((size) + BPF_RINGBUF_HDR_SZ + 8)

static __always_inline void submit(void *rec, __u32 size)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 flags = BPF_RB_NO_WAKEUP, avail, level;
	struct fill_check *f;

	if (cpu >= FILL_CPUS) {
		/* no line of its own: the record that crosses the threshold */
		avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
		if (avail >= wakeup_bytes && avail < wakeup_bytes + RINGBUF_FOOTPRINT_MAX(size)) {
			flags = BPF_RB_FORCE_WAKEUP;
			stat_inc(FDW_STAT_WAKEUPS);
		}
		bpf_ringbuf_submit(rec, flags);
		return;
	}
	f = &fill[cpu];
	if (++f->n % FILL_EVERY) {
		bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
		return;
	}
	level = wakeup_bytes ? bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) / wakeup_bytes : 0;
	if (level > f->level) {
		flags = BPF_RB_FORCE_WAKEUP;
		stat_inc(FDW_STAT_WAKEUPS);
	}
	f->level = (__u32)level;
	bpf_ringbuf_submit(rec, flags);
}

#endif /* FDWATCH_MAPS_BPF_H */
