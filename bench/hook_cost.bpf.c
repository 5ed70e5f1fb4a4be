// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Empty hooks, three ways, for bench/hook_cost.c: what the kernel charges a
 * syscall for a BPF program at its exit before the program does anything.
 *
 *  tp_*       per-syscall exit tracepoints (syscalls:sys_exit_dup, _close),
 *             what fdwatch attaches: the perf-trace path runs only for the
 *             syscalls that have a program;
 *  raw_switch one tp_btf/sys_exit program for every syscall, a switch on
 *             the number calling a subprogram per traced syscall (the
 *             number list is about as long as fdwatch's);
 *  raw_tail   the same dispatching by a tail call through a program array
 *             indexed by the number.
 *
 * The bodies only add the return value to a counter, so that the calls
 * are not optimized away.
 *
 * Then the same tracepoints writing a 64-byte record, two ways (what a
 * record costs on top of the hook, and what the one design not built
 * would save; bench/RESULTS.md, "What would buy more"):
 *
 *  ring       bpf_ringbuf_reserve + stores + bpf_ringbuf_submit (no
 *             wakeup): fdwatch's way, one total order across CPUs;
 *  own        a slot of this CPU's region of an mmap-able array (plain
 *             stores, the slot index a per-CPU counter), stamped with a
 *             global sequence (one atomic add) for a merge in user space.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#if defined(bpf_target_x86)
#define NR_OF(regs) ((regs)->orig_ax)
#define NR_DUP 32
#define NR_CLOSE 3
#elif defined(bpf_target_arm64)
#define NR_OF(regs) ((regs)->syscallno)
#define NR_DUP 23
#define NR_CLOSE 57
#else
#error "x86_64 or arm64"
#endif

__u64 hits = 0;

SEC("tracepoint/syscalls/sys_exit_dup")
int tp_dup(struct trace_event_raw_sys_exit *ctx)
{
	hits += ctx->ret;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_close")
int tp_close(struct trace_event_raw_sys_exit *ctx)
{
	hits += ctx->ret;
	return 0;
}

static __noinline int on_dup(long ret)
{
	hits += ret;
	return 0;
}

static __noinline int on_close(long ret)
{
	hits += ret;
	return 0;
}

static __noinline int on_other(long ret)
{
	hits += ret + 1;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(raw_switch, struct pt_regs *regs, long ret)
{
	long nr = NR_OF(regs);

	switch (nr) {
	case NR_DUP:
		return on_dup(ret);
	case NR_CLOSE:
		return on_close(ret);
	/* 35 more numbers, about as many as fdwatch traces (x86_64's; on
	 * arm64 they are just numbers: getppid is none of them on either) */
	case 0: case 2: case 16: case 22: case 33: case 41: case 43: case 47:
	case 53: case 55: case 56: case 59: case 72: case 85: case 213: case 253:
	case 254: case 257: case 272: case 283: case 284: case 288: case 290:
	case 291: case 292: case 293: case 299: case 300: case 317: case 321:
	case 322: case 435: case 436: case 437: case 444:
		return on_other(ret);
	}
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u32);
} by_nr SEC(".maps");

SEC("tp_btf/sys_exit")
int BPF_PROG(raw_tail, struct pt_regs *regs, long ret)
{
	bpf_tail_call(ctx, &by_nr, (__u32)NR_OF(regs));
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(tail_dup, struct pt_regs *regs, long ret)
{
	hits += ret;
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(tail_close, struct pt_regs *regs, long ret)
{
	hits += ret;
	return 0;
}

/* 64 bytes, as fdwatch's short record with the ring's header */
struct rec {
	__u64 seq;
	__u64 ts;
	__u32 pid;
	__u32 tid;
	__s64 ret;
	__u32 nr;
	__u32 pad;
	__u64 args[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} rb SEC(".maps");

#define OWN_SLOTS 4096 /* per CPU: 256 KiB (the map is sized at load) */
#define OWN_CPUS 1024

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, OWN_SLOTS); /* x the CPUs, set by hook_cost.c */
	__type(key, __u32);
	__type(value, struct rec);
} own SEC(".maps");

struct own_cpu {
	__u32 next;
} __attribute__((aligned(64)));

static struct own_cpu own_next[OWN_CPUS] SEC(".bss");
__u64 own_seq = 0;
__u64 ring_full = 0;

static __always_inline void fill(struct rec *r, struct trace_event_raw_sys_exit *ctx, __u32 nr)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	r->ts = bpf_jiffies64();
	r->pid = pid_tgid >> 32;
	r->tid = (__u32)pid_tgid;
	r->ret = ctx->ret;
	r->nr = nr;
	r->pad = 0;
	r->args[0] = ctx->ret;
	r->args[1] = 0;
	r->args[2] = 0;
}

static __always_inline int ring_rec(struct trace_event_raw_sys_exit *ctx, __u32 nr)
{
	struct rec *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);

	if (!r) {
		ring_full++;
		return 0;
	}
	fill(r, ctx, nr);
	r->seq = 0;
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	return 0;
}

static __always_inline int own_rec(struct trace_event_raw_sys_exit *ctx, __u32 nr)
{
	__u32 cpu = bpf_get_smp_processor_id(), key;
	struct own_cpu *c;
	struct rec *r;

	if (cpu >= OWN_CPUS)
		return 0;
	c = &own_next[cpu];
	key = cpu * OWN_SLOTS + (c->next++ % OWN_SLOTS);
	r = bpf_map_lookup_elem(&own, &key);
	if (!r)
		return 0;
	fill(r, ctx, nr);
	r->seq = __sync_fetch_and_add(&own_seq, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_dup")
int ring_dup(struct trace_event_raw_sys_exit *ctx)
{
	return ring_rec(ctx, NR_DUP);
}

SEC("tracepoint/syscalls/sys_exit_close")
int ring_close(struct trace_event_raw_sys_exit *ctx)
{
	return ring_rec(ctx, NR_CLOSE);
}

SEC("tracepoint/syscalls/sys_exit_dup")
int own_dup(struct trace_event_raw_sys_exit *ctx)
{
	return own_rec(ctx, NR_DUP);
}

SEC("tracepoint/syscalls/sys_exit_close")
int own_close(struct trace_event_raw_sys_exit *ctx)
{
	return own_rec(ctx, NR_CLOSE);
}
