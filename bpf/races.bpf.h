/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Descriptor races and misuse (issue 9), kernel side. Included once, by
 * fdwatch.bpf.c, after begin_sys().
 *
 * - EBADF: exit hooks on the syscalls that use an fd; the first test is
 *   `ret == -EBADF`, so a correct program's calls cost one compare and emit
 *   nothing. The record names the fd argument that was not open at the exit
 *   (and says when every candidate still was: an fd open for another use,
 *   e.g. write() on an O_RDONLY fd, which the daemon does not report).
 *   Negative fds (close(-1), read(-1, ...)) are counted, never sent.
 * - In flight: at the exit of close/dup2/dup3/close_range in a process with
 *   more than one thread, walk the sibling threads (open-coded
 *   bpf_iter_task, BPF_TASK_ITER_PROC_THREADS) and read each sleeping one's
 *   syscall number and fd argument from its saved user registers. A thread
 *   blocked in read/recv/accept/write/... on the number just closed keeps
 *   the old file until its call returns (close(2), "Multithreaded
 *   processes and close()"): one record per such thread.
 */
#ifndef FDWATCH_RACES_BPF_H
#define FDWATCH_RACES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "fdwatch_event.h"
#include "compat.bpf.h"
#include "maps.bpf.h"
#include "fdtable.bpf.h"

#define EBADF_ 9
#define F_GETFD_ 1
#define F_GETFL_ 3
#define TASK_INTERRUPTIBLE_ 0x1
#define TASK_UNINTERRUPTIBLE_ 0x2

/*
 * The open-coded task iterator (Linux 6.7+). Declared here rather than
 * taken from vmlinux.h so that a vmlinux.h of an older kernel still builds:
 * the verifier checks the kernel's prototype and the stack slot's size
 * (struct bpf_iter_task is three u64s), libbpf only the kinds. On a kernel
 * without it the call is dead code (bpf_ksym_exists) and nothing is walked.
 */
struct bpf_iter_task___fdw {
	__u64 __opaque[3];
} __attribute__((aligned(8)));
#define BPF_TASK_ITER_PROC_THREADS_ 2

extern int bpf_iter_task_new(struct bpf_iter_task___fdw *it, struct task_struct *task,
			     unsigned int flags) __weak __ksym;
extern struct task_struct *bpf_iter_task_next(struct bpf_iter_task___fdw *it) __weak __ksym;
extern void bpf_iter_task_destroy(struct bpf_iter_task___fdw *it) __weak __ksym;

/* The in-flight walk is skipped when the daemon says so (no kfunc, tests). */
const volatile bool inflight_walk = true;

/*
 * Threads walked per close, then counted (FDW_STAT_INFLIGHT_TRUNC). A
 * writable global, not a constant, on purpose: compared with a constant,
 * the walk's counter decides a branch at every iteration, so the verifier
 * keeps it precise and checks the loop body once per possible count (256
 * times over, seconds per program at every start); against a value it
 * cannot know, the counter stays imprecise and the loop converges at once.
 */
__u32 inflight_max_threads = 256;

/*
 * Deep mode (fd-reuse), for the processes in deep_tgids only: each thread's
 * last use of each fd number, with the file it named then (struct file and
 * inode). A use that finds another file there sends FDW_REC_REUSE (a close
 * and reopen of the same inode into the same recycled struct file is not
 * seen: the same file again). The daemon decides whether
 * that is a finding (another thread closed and reopened the number).
 */
__u32 nr_deep_tgids = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);   /* tgid */
	__type(value, __u8);
} deep_tgids SEC(".maps");

struct reuse_key {
	__u32 tid;
	__s32 fd;
};

struct reuse_val {
	__u64 file;
	__u64 ino;
	__u32 mode;
	__u16 nr;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* ~1.5 MB; deep processes' threads x numbers */
	__type(key, struct reuse_key);
	__type(value, struct reuse_val);
} last_use SEC(".maps");

static __always_inline __u64 regs_arg(struct pt_regs *regs, int i)
{
	switch (i) {
	case 0:
		return PT_REGS_PARM1_SYSCALL(regs);
	case 1:
		return PT_REGS_PARM2_SYSCALL(regs);
	case 2:
		return PT_REGS_PARM3_SYSCALL(regs);
	case 3:
		return PT_REGS_PARM4_SYSCALL(regs);
	default:
		return PT_REGS_PARM5_SYSCALL(regs);
	}
}

static __always_inline int deep_use(struct trace_event_raw_sys_exit *ctx, __u16 nr, int a)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	struct fdw_reuse_event *e;
	struct reuse_val *old, cur = {};
	struct reuse_key key;
	struct task_struct *task;
	struct fdw_ident id;
	struct file *file;
	int fd;

	if (!nr_deep_tgids || !bpf_map_lookup_elem(&deep_tgids, &tgid))
		return 0;
	stat_inc(FDW_STAT_DEEP_USES);
	fd = (int)regs_arg(user_regs(), a);
	task = bpf_get_current_task_btf();
	file = file_at(task, fd);
	if (!file)
		return 0;
	key.tid = (__u32)pid_tgid;
	key.fd = fd;
	cur.file = (__u64)file;
	if (file_ident(file, &id)) {
		cur.ino = id.ino;
		cur.mode = id.mode;
	}
	/* a struct file freed by a close is often the very one the next open
	 * gets (the slab's last freed object): the inode tells them apart */
	old = bpf_map_lookup_elem(&last_use, &key);
	if (old && old->file == cur.file && old->ino == cur.ino && old->mode == cur.mode)
		return 0;
	cur.nr = nr;
	if (old) {
		stat_inc(FDW_STAT_DEEP_REUSES);
		e = (struct fdw_reuse_event *)begin_sys(ctx, nr, sizeof(*e));
		if (e) {
			e->sys.hdr.type = FDW_REC_REUSE;
			e->fd = fd;
			e->old_nr = old->nr;
			e->pad = 0;
			e->old_mode = old->mode;
			e->new_mode = cur.mode;
			e->old_ino = old->ino;
			e->new_ino = cur.ino;
			submit(e, sizeof(*e));
		}
	}
	(void)bpf_map_update_elem(&last_use, &key, &cur, BPF_ANY);
	return 0;
}

/*
 * The syscall failed with EBADF: report it, naming the fd argument (`a`,
 * or `b` when >= 0) that is not open now.
 */
static __always_inline int badf(struct trace_event_raw_sys_exit *ctx, __u16 nr, int a, int b)
{
	struct task_struct *task;
	struct fdw_badf_event *e;
	struct pt_regs *regs;
	int fa, fb = -1, fd;
	__u32 flags = 0;

	if (ctx->ret != -EBADF_)
		return deep_use(ctx, nr, a);
	regs = user_regs();
	fa = (int)regs_arg(regs, a);
	if (b >= 0)
		fb = (int)regs_arg(regs, b);
	if (fa < 0 && fb < 0) {
		stat_inc(FDW_STAT_BADF_NEG);
		return 0;
	}
	task = bpf_get_current_task_btf();
	if (fa >= 0 && !file_at(task, fa)) {
		fd = fa;
	} else if (fb >= 0 && !file_at(task, fb)) {
		fd = fb;
	} else {
		fd = fa >= 0 ? fa : fb;
		flags |= FDW_BADF_OPEN_AT_EXIT;
	}
	e = (struct fdw_badf_event *)begin_sys(ctx, nr, sizeof(*e));
	if (!e)
		return 0;
	e->sys.hdr.type = FDW_REC_BADF;
	e->fd = fd;
	e->bflags = flags;
	submit(e, sizeof(*e));
	return 0;
}

/* A syscall traced for EBADF only: fd argument `a` (and `b`, -1: none). */
#define SYS_BADF2(name, NR, a, b)                                              \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int badf_##name(struct trace_event_raw_sys_exit *ctx)                  \
	{                                                                      \
		return badf(ctx, NR, a, b);                                    \
	}
#define SYS_BADF(name, NR, a) SYS_BADF2(name, NR, a, -1)

/* The hot I/O syscalls: attached by the daemon only in "io" mode (see
 * daemon/capture/capture.c: every read and write on the host pays). */
SYS_BADF(read, FDW_SYS_READ, 0)
SYS_BADF(write, FDW_SYS_WRITE, 0)
SYS_BADF(pread64, FDW_SYS_PREAD64, 0)
SYS_BADF(pwrite64, FDW_SYS_PWRITE64, 0)
SYS_BADF(readv, FDW_SYS_READV, 0)
SYS_BADF(writev, FDW_SYS_WRITEV, 0)
SYS_BADF(preadv, FDW_SYS_PREADV, 0)
SYS_BADF(pwritev, FDW_SYS_PWRITEV, 0)
SYS_BADF(sendto, FDW_SYS_SENDTO, 0)
SYS_BADF(recvfrom, FDW_SYS_RECVFROM, 0)
SYS_BADF(sendmsg, FDW_SYS_SENDMSG, 0)
SYS_BADF(sendmmsg, FDW_SYS_SENDMMSG, 0)
SYS_BADF(epoll_wait, FDW_SYS_EPOLL_WAIT, 0)
SYS_BADF(epoll_pwait, FDW_SYS_EPOLL_PWAIT, 0)
SYS_BADF(newfstatat, FDW_SYS_NEWFSTATAT, 0) /* glibc's fstat(), and stat by path */
SYS_BADF(statx, FDW_SYS_STATX, 0)

/* The others: rarer, always on. */
SYS_BADF(newfstat, FDW_SYS_FSTAT, 0)
SYS_BADF(lseek, FDW_SYS_LSEEK, 0)
SYS_BADF2(epoll_ctl, FDW_SYS_EPOLL_CTL, 0, 2)
SYS_BADF(shutdown, FDW_SYS_SHUTDOWN, 0)
SYS_BADF(connect, FDW_SYS_CONNECT, 0)
SYS_BADF(bind, FDW_SYS_BIND, 0)
SYS_BADF(listen, FDW_SYS_LISTEN, 0)
SYS_BADF(getsockname, FDW_SYS_GETSOCKNAME, 0)
SYS_BADF(getpeername, FDW_SYS_GETPEERNAME, 0)
SYS_BADF(setsockopt, FDW_SYS_SETSOCKOPT, 0)
SYS_BADF(fsync, FDW_SYS_FSYNC, 0)
SYS_BADF(fdatasync, FDW_SYS_FDATASYNC, 0)
SYS_BADF(ftruncate, FDW_SYS_FTRUNCATE, 0)
SYS_BADF(fchmod, FDW_SYS_FCHMOD, 0)
SYS_BADF(fchown, FDW_SYS_FCHOWN, 0)
SYS_BADF(fchdir, FDW_SYS_FCHDIR, 0)
SYS_BADF(flock, FDW_SYS_FLOCK, 0)
SYS_BADF(fstatfs, FDW_SYS_FSTATFS, 0)
SYS_BADF(getdents64, FDW_SYS_GETDENTS64, 0)
SYS_BADF2(sendfile64, FDW_SYS_SENDFILE, 0, 1)
SYS_BADF2(splice, FDW_SYS_SPLICE, 0, 2)
SYS_BADF2(tee, FDW_SYS_TEE, 0, 1)
SYS_BADF2(copy_file_range, FDW_SYS_COPY_FILE_RANGE, 0, 2)
SYS_BADF(fallocate, FDW_SYS_FALLOCATE, 0)
SYS_BADF(unlinkat, FDW_SYS_UNLINKAT, 0)
SYS_BADF(mkdirat, FDW_SYS_MKDIRAT, 0)
SYS_BADF2(renameat2, FDW_SYS_RENAMEAT2, 0, 2)
SYS_BADF2(linkat, FDW_SYS_LINKAT, 0, 2)
SYS_BADF(symlinkat, FDW_SYS_SYMLINKAT, 1)
SYS_BADF(readlinkat, FDW_SYS_READLINKAT, 0)
SYS_BADF(faccessat2, FDW_SYS_FACCESSAT2, 0)
SYS_BADF(fchmodat, FDW_SYS_FCHMODAT, 0)
SYS_BADF(fchownat, FDW_SYS_FCHOWNAT, 0)
SYS_BADF(utimensat, FDW_SYS_UTIMENSAT, 0)
SYS_BADF(execveat, FDW_SYS_EXECVEAT, 0)
SYS_BADF(inotify_add_watch, FDW_SYS_INOTIFY_ADD_WATCH, 0)

/* ---- in flight ------------------------------------------------------------ */

/*
 * The FDW_SYS_* of a raw syscall number that blocks on an fd, and the
 * index of its second fd argument (0: none; the first is argument 0);
 * FDW_SYS_UNKNOWN (a zero entry) when it is not one. poll/select wait on a
 * user array another task's memory holds: not read here (not exact from a
 * non-sleepable program).
 *
 * A table, not a switch: in the thread walk's loop a switch's 27 constant
 * results were 27 verifier states per iteration (the results decide
 * branches, so the verifier keeps them precise), ~3 s of verification for
 * each of the four programs that walk (close, close_range, dup2, dup3) at
 * every start; a load at a variable index of a read-only array is one
 * unknown value.
 */
struct blocking_call {
	__u16 nr;     /* FDW_SYS_* */
	__u16 second; /* index of a second fd argument, 0: none */
};

#define BLOCKING_NR_MAX 512

static const struct blocking_call blocking_calls[BLOCKING_NR_MAX] = {
#if defined(bpf_target_x86)
	[0] = { FDW_SYS_READ, 0 },
	[1] = { FDW_SYS_WRITE, 0 },
	[16] = { FDW_SYS_IOCTL, 0 },
	[17] = { FDW_SYS_PREAD64, 0 },
	[18] = { FDW_SYS_PWRITE64, 0 },
	[19] = { FDW_SYS_READV, 0 },
	[20] = { FDW_SYS_WRITEV, 0 },
	[40] = { FDW_SYS_SENDFILE, 1 },
	[42] = { FDW_SYS_CONNECT, 0 },
	[43] = { FDW_SYS_ACCEPT, 0 },
	[44] = { FDW_SYS_SENDTO, 0 },
	[45] = { FDW_SYS_RECVFROM, 0 },
	[46] = { FDW_SYS_SENDMSG, 0 },
	[47] = { FDW_SYS_RECVMSG, 0 },
	[73] = { FDW_SYS_FLOCK, 0 },
	[74] = { FDW_SYS_FSYNC, 0 },
	[75] = { FDW_SYS_FDATASYNC, 0 },
	[232] = { FDW_SYS_EPOLL_WAIT, 0 },
	[275] = { FDW_SYS_SPLICE, 2 },
	[276] = { FDW_SYS_TEE, 1 },
	[281] = { FDW_SYS_EPOLL_PWAIT, 0 },
	[288] = { FDW_SYS_ACCEPT4, 0 },
	[295] = { FDW_SYS_PREADV, 0 },
	[296] = { FDW_SYS_PWRITEV, 0 },
	[299] = { FDW_SYS_RECVMMSG, 0 },
	[307] = { FDW_SYS_SENDMMSG, 0 },
	[326] = { FDW_SYS_COPY_FILE_RANGE, 2 },
#elif defined(bpf_target_arm64)
	[22] = { FDW_SYS_EPOLL_PWAIT, 0 },
	[29] = { FDW_SYS_IOCTL, 0 },
	[32] = { FDW_SYS_FLOCK, 0 },
	[63] = { FDW_SYS_READ, 0 },
	[64] = { FDW_SYS_WRITE, 0 },
	[65] = { FDW_SYS_READV, 0 },
	[66] = { FDW_SYS_WRITEV, 0 },
	[67] = { FDW_SYS_PREAD64, 0 },
	[68] = { FDW_SYS_PWRITE64, 0 },
	[69] = { FDW_SYS_PREADV, 0 },
	[70] = { FDW_SYS_PWRITEV, 0 },
	[71] = { FDW_SYS_SENDFILE, 1 },
	[76] = { FDW_SYS_SPLICE, 2 },
	[77] = { FDW_SYS_TEE, 1 },
	[82] = { FDW_SYS_FSYNC, 0 },
	[83] = { FDW_SYS_FDATASYNC, 0 },
	[202] = { FDW_SYS_ACCEPT, 0 },
	[203] = { FDW_SYS_CONNECT, 0 },
	[206] = { FDW_SYS_SENDTO, 0 },
	[207] = { FDW_SYS_RECVFROM, 0 },
	[211] = { FDW_SYS_SENDMSG, 0 },
	[212] = { FDW_SYS_RECVMSG, 0 },
	[242] = { FDW_SYS_ACCEPT4, 0 },
	[243] = { FDW_SYS_RECVMMSG, 0 },
	[269] = { FDW_SYS_SENDMMSG, 0 },
	[285] = { FDW_SYS_COPY_FILE_RANGE, 2 },
#endif
};

/*
 * The syscall a sleeping task is in, from its saved registers; -1 when it
 * did not enter the kernel by a syscall (an interrupt or an exception: a
 * page fault's error code sits where the syscall number would).
 */
static __always_inline long task_syscall(struct pt_regs *regs)
{
#if defined(bpf_target_x86)
	/* entry_SYSCALL_64 saves the return address both as ip and (it is in
	 * rcx) as cx, and the flags both as flags and (r11) as r11 */
	if (regs->cx != regs->ip || regs->r11 != regs->flags)
		return -1;
	return (long)regs->orig_ax;
#else
	return (long)regs->syscallno;
#endif
}

/* Another thread shares the table and may be blocked on one of its fds. */
static __always_inline bool multi_threaded(struct task_struct *task)
{
	return task->signal->nr_threads >= 2;
}

static __always_inline bool in_range(long fd, __u32 first, __u32 last)
{
	return fd >= 0 && (__u64)fd >= first && (__u64)fd <= last;
}

/*
 * Called at the exit of a successful close/dup2/dup3/close_range of fds
 * [first, last] (the closing record was submitted already).
 */
static __always_inline void inflight(struct trace_event_raw_sys_exit *ctx, __u16 nr,
				     __u32 first, __u32 last)
{
	struct task_struct *cur = bpf_get_current_task_btf(), *t;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct bpf_iter_task___fdw it;
	__u32 n = 0;

	if (!inflight_walk || (pid_tgid >> 32) == self_tgid || !bpf_ksym_exists(bpf_iter_task_new))
		return;
	if (!multi_threaded(cur))
		return;
	bpf_iter_task_new(&it, cur, BPF_TASK_ITER_PROC_THREADS_);
	while ((t = bpf_iter_task_next(&it))) {
		struct fdw_inflight_event *e;
		struct pt_regs *regs;
		const struct blocking_call *call;
		__u16 onr;
		long sysnr;
		__u64 a0, a1 = (__u64)-1;

		if (++n > inflight_max_threads) {
			stat_inc(FDW_STAT_INFLIGHT_TRUNC);
			break;
		}
		if (t == cur || t->files != cur->files ||
		    !(t->__state & (TASK_INTERRUPTIBLE_ | TASK_UNINTERRUPTIBLE_)))
			continue;
		regs = (struct pt_regs *)bpf_task_pt_regs(t);
		if (!regs)
			continue;
		sysnr = task_syscall(regs);
		if (sysnr < 0 || sysnr >= BLOCKING_NR_MAX)
			continue;
		call = &blocking_calls[sysnr];
		onr = call->nr;
		if (onr == FDW_SYS_UNKNOWN)
			continue;
		a0 = PT_REGS_PARM1_SYSCALL(regs);
		if (call->second == 1)
			a1 = PT_REGS_PARM2_SYSCALL(regs);
		else if (call->second == 2)
			a1 = PT_REGS_PARM3_SYSCALL(regs);
		/* a1 stays -1 (never in range) without a second fd argument */
		if (!in_range((int)a0, first, last) && !in_range((int)a1, first, last))
			continue;
		e = reserve(sizeof(*e), pid_tgid >> 32);
		if (!e)
			break;
		fill_hdr(&e->hdr, FDW_REC_INFLIGHT, sizeof(*e), pid_tgid, cur, precise_ts);
		e->nr = nr;
		e->other_nr = onr;
		e->other_tid = t->pid;
		e->fd = in_range((int)a0, first, last) ? (int)a0 : (int)a1;
		e->threads = n;
		e->other_arg0 = a0;
		e->other_state = t->__state;
		(void)bpf_probe_read_kernel_str(e->other_comm, sizeof(e->other_comm), t->comm);
		submit(e, sizeof(*e));
	}
	bpf_iter_task_destroy(&it);
}

#endif /* FDWATCH_RACES_BPF_H */
