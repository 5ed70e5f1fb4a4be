/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The start-up snapshot: a task_file iterator that writes, for every open fd
 * of every task owning a descriptor table, its identity (struct file and
 * files_struct addresses, the same the probes report), inode, close-on-exec
 * bit and target (d_path, what readlink(/proc/PID/fd/N) shows). One read of
 * the iterator replaces a readlink, a stat, an fdinfo read per fd and the
 * kcmp calls that grouped shared open files. Loaded only for the scan.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "fdwatch_snapshot.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define S_IFMT 00170000

struct snap_buf {
	struct fdw_snap_rec rec;
	char target[FDW_SNAP_TARGET_MAX + 8];
};

/* The probes' ring buffer (the daemon passes its fd in before load): only
 * its producer position is read, to stamp each record. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

static __always_inline __u64 ring_pos(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_PROD_POS) + 1;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct snap_buf);
} snap_buf SEC(".maps");

static __always_inline bool fd_cloexec(struct files_struct *files, __u32 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	unsigned long *bits, word = 0;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	bits = BPF_CORE_READ(fdt, close_on_exec);
	if (bpf_probe_read_kernel(&word, sizeof(word), &bits[fd / (8 * sizeof(long))]))
		return false;
	return (word >> (fd % (8 * sizeof(long)))) & 1;
}

/* Every task with a descriptor table: which tasks existed when the
 * snapshot was taken, and which share a table. */
SEC("iter/task")
int tasks(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct fdw_snap_rec rec = { .size = sizeof(rec), .flags = FDW_SNAP_TASK };

	if (!task)
		return 0;
	rec.files = (__u64)BPF_CORE_READ(task, files);
	if (!rec.files)
		return 0; /* kernel threads, tasks past exit_files() */
	rec.tgid = BPF_CORE_READ(task, tgid);
	rec.tid = BPF_CORE_READ(task, pid);
	rec.pos = ring_pos();
	bpf_seq_write(seq, &rec, sizeof(rec));
	return 0;
}

SEC("iter/task_file")
int snapshot(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct files_struct *files;
	struct inode *inode;
	struct snap_buf *b;
	__u32 zero = 0, sz;
	long n;

	if (!task) {
		/* the walk's end (the iterator's stop, called once): where the
		 * last task's table was done with */
		struct fdw_snap_rec end = { .size = sizeof(end), .flags = FDW_SNAP_END };

		end.pos = ring_pos();
		bpf_seq_write(seq, &end, sizeof(end));
		return 0;
	}
	if (!file)
		return 0;
	b = bpf_map_lookup_elem(&snap_buf, &zero);
	if (!b)
		return 0;
	files = BPF_CORE_READ(task, files);
	b->rec.flags = 0;
	/* before this fd is read: a record below it is reflected in it */
	b->rec.pos = ring_pos();
	b->rec.tgid = BPF_CORE_READ(task, tgid);
	b->rec.tid = BPF_CORE_READ(task, pid);
	b->rec.fd = ctx->fd;
	b->rec.f_flags = BPF_CORE_READ(file, f_flags);
	b->rec.files = (__u64)files;
	b->rec.kfile = (__u64)file;
	b->rec.f_op = (__u64)BPF_CORE_READ(file, f_op);
	b->rec.mode = 0;
	b->rec.dev = 0;
	b->rec.ino = 0;
	inode = BPF_CORE_READ(file, f_inode);
	if (inode) {
		b->rec.ino = BPF_CORE_READ(inode, i_ino);
		b->rec.mode = BPF_CORE_READ(inode, i_mode) & S_IFMT;
		b->rec.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	}
	if (files && fd_cloexec(files, ctx->fd))
		b->rec.flags |= FDW_SNAP_CLOEXEC;
	/* d_path writes the name and its NUL at the buffer's start, and
	 * returns the length with the NUL */
	n = bpf_d_path((struct path *)&file->f_path, b->target, sizeof(b->target));
	if (n <= 0 || n > FDW_SNAP_TARGET_MAX) {
		b->rec.flags |= FDW_SNAP_NO_TARGET;
		n = 1;
	}
	n -= 1;
	/* records stay 8-byte aligned in the stream: pad after the name */
	sz = (sizeof(b->rec) + (__u32)n + 7) & ~7u;
	if (sz > sizeof(*b))
		return 0;
	b->rec.target_len = n;
	b->rec.size = sz;
	bpf_seq_write(seq, b, sz);
	return 0;
}
