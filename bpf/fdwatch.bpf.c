// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fdwatch kernel side: one program per syscall exit that changes a
 * descriptor table, plus fork/exec/exit of tasks. Each emits one record
 * (include/fdwatch_event.h) into one BPF ring buffer.
 *
 * Cost is the design constraint: every process on the host pays for these
 * hooks. So:
 *  - per-syscall tracepoints (syscalls:sys_exit_*), never raw_syscalls, so
 *    untraced syscalls pay only the kernel's bitmap test;
 *  - exit hooks only: the arguments are read from the task's saved user
 *    registers (bpf_task_pt_regs, compat.bpf.h), which still hold them at
 *    the syscall's exit, so one hook per syscall gives arguments and return
 *    value together;
 *  - syscall records are stamped with jiffies unless precise_ts:
 *    bpf_ktime_get_ns() costs ~25 ns per call in these VMs and the coarse
 *    clock is not allowed in tracepoint programs. Task records (rare) carry
 *    both clocks so the daemon converts to within a tick. Order comes from
 *    the ring;
 *  - no consumer wakeup per record (BPF_RB_NO_WAKEUP): the daemon consumes
 *    on a timer and on demand, and a forced wakeup fires past wakeup_bytes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "fdwatch_event.h"
#include "compat.bpf.h"
#include "consts.bpf.h"
#include "maps.bpf.h"
#include "fdtable.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_CMSGS 4
#define MAX_MMSGS 4
#define MAX_MMSGS_CHECKED 64 /* messages checked for control data */

static __always_inline void fill_hdr(struct fdw_hdr *h, __u16 type, __u16 size,
				     __u64 pid_tgid, struct task_struct *task, bool precise)
{
	h->type = type;
	h->abi = FDW_ABI_VERSION;
	h->size = size;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	if (precise) {
		h->flags = 0;
		h->ts = bpf_ktime_get_ns();
	} else {
		h->flags = FDW_F_JIFFIES;
		h->ts = bpf_jiffies64();
	}
	h->files = (__u64)task->files;
}

/* The user stack of a process the leak detector investigates: id + 1, or 0. */
static __always_inline __u32 user_stack(struct trace_event_raw_sys_exit *ctx, __u64 pid_tgid)
{
	__u32 tgid = pid_tgid >> 32;
	long id;

	if (!nr_stack_tgids || !bpf_map_lookup_elem(&stack_tgids, &tgid))
		return 0;
	id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	return id >= 0 ? (__u32)id + 1 : 0;
}

/*
 * Reserve and fill the common part of a syscall record. Arguments come
 * from the saved user registers (compat.bpf.h).
 */
static __always_inline struct fdw_sys_event *
begin_sys(struct trace_event_raw_sys_exit *ctx, __u16 nr, __u32 size)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task;
	struct fdw_sys_event *e;
	struct pt_regs *regs;

	if ((pid_tgid >> 32) == self_tgid)
		return NULL;
	e = reserve(size, pid_tgid >> 32);
	if (!e)
		return NULL;
	task = bpf_get_current_task_btf();
	fill_hdr(&e->hdr, FDW_REC_SYSCALL, size, pid_tgid, task, precise_ts);
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	e->nr = nr;
	e->nfds = 0;
	e->stack = user_stack(ctx, pid_tgid);
	e->ret = ctx->ret;
	e->args[0] = PT_REGS_PARM1_SYSCALL(regs);
	e->args[1] = PT_REGS_PARM2_SYSCALL(regs);
	e->args[2] = PT_REGS_PARM3_SYSCALL(regs);
	e->args[3] = PT_REGS_PARM4_SYSCALL(regs);
	e->args[4] = PT_REGS_PARM5_SYSCALL(regs);
	e->args[5] = PT_REGS_PARM6_SYSCALL(regs);
	return e;
}

/* An fd record's fields past the syscall, before anything fills them */
static __always_inline void clear_fd_fields(struct fdw_fd_event *e)
{
	e->file = 0;
	e->ino = 0;
	e->dev = 0;
	e->mode = 0;
	e->aux = 0;
	e->files[0] = 0;
	e->files[1] = 0;
}

static __always_inline struct fdw_fd_event *
begin_fd(struct trace_event_raw_sys_exit *ctx, __u16 nr, __u32 size)
{
	struct fdw_fd_event *e = (struct fdw_fd_event *)begin_sys(ctx, nr, size);

	if (!e)
		return NULL;
	clear_fd_fields(e);
	return e;
}

#include "races.bpf.h"

/*
 * The dup family and close: struct fdw_short_event. For a close in a shared
 * table, returns what is at the number now (*looked says whether it looked,
 * for a close that closed an fd): a file another task installed after the
 * close, sent in the record for an EBADF close too. Its
 * record may be before this one in the ring or after it; the daemon skips
 * the close only if the slot holds that very file when the close is
 * applied (docs/architecture.md: threads racing for a number).
 */
static __always_inline struct file *sys_short(struct trace_event_raw_sys_exit *ctx, __u16 nr,
					      bool *looked)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct file *now = NULL;
	struct fdw_short_event *e;
	struct task_struct *task;
	struct pt_regs *regs;

	*looked = false;
	if ((pid_tgid >> 32) == self_tgid)
		return NULL;
	e = reserve(sizeof(*e), pid_tgid >> 32);
	if (!e)
		return NULL;
	task = bpf_get_current_task_btf();
	fill_hdr(&e->hdr, FDW_REC_SHORT, sizeof(*e), pid_tgid, task, precise_ts);
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	e->nr = nr;
	e->pad = 0;
	e->stack = user_stack(ctx, pid_tgid);
	e->ret = (__s32)ctx->ret;
	e->args[0] = (__s32)PT_REGS_PARM1_SYSCALL(regs);
	if (nr == FDW_SYS_CLOSE) {
		/* an EBADF close too: another task may have installed a file
		 * at the number right after, its record first */
		if (task->files->count.counter > 1) {
			now = file_at(task, e->args[0]);
			*looked = ctx->ret != -EBADF_;
		}
		e->close.now_lo = (__u32)(__u64)now;
		e->close.now_hi = (__u32)((__u64)now >> 32);
	} else {
		e->args[1] = (__s32)PT_REGS_PARM2_SYSCALL(regs);
		e->args[2] = (__s32)PT_REGS_PARM3_SYSCALL(regs);
	}
	submit(e, sizeof(*e));
	return now;
}

/* The dup family and close: the daemon knows the source fd's identity. */
static __always_inline int sys_plain(struct trace_event_raw_sys_exit *ctx, __u16 nr)
{
	struct fdw_sys_event *e = begin_sys(ctx, nr, sizeof(*e));

	if (e)
		submit(e, sizeof(*e));
	return 0;
}

/* A syscall whose return value, when >= 0, is one new fd. */
static __always_inline int sys_fd(struct trace_event_raw_sys_exit *ctx, __u16 nr)
{
	struct fdw_fd_event *e = begin_fd(ctx, nr, sizeof(*e));

	if (!e)
		return 0;
	if (ctx->ret >= 0) {
		e->fds[0] = ctx->ret;
		e->sys.nfds = 1;
		fill_identity(e, file_at(bpf_get_current_task_btf(), ctx->ret));
	}
	submit(e, sizeof(*e));
	return 0;
}

/* The open family: one new fd plus the path argument. */
static __always_inline int sys_open(struct trace_event_raw_sys_exit *ctx,
				    __u16 nr, int path_arg)
{
	struct fdw_open_event *e;

	/* a dirfd that is not open (AT_FDCWD is negative: counted, not sent) */
	if (path_arg == 1 && ctx->ret == -EBADF_)
		return badf(ctx, nr, 0, -1);
	e = (struct fdw_open_event *)begin_fd(ctx, nr, sizeof(*e));
	if (!e)
		return 0;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path),
				    (const void *)e->fe.sys.args[path_arg & 1]) < 0)
		e->path[0] = '\0';
	if (nr == FDW_SYS_OPENAT2) {
		__u64 how_flags = 0;

		(void)bpf_probe_read_user(&how_flags, sizeof(how_flags),
					  (const void *)e->fe.sys.args[2]);
		e->fe.aux = how_flags;
	}
	if (ctx->ret >= 0) {
		e->fe.fds[0] = ctx->ret;
		e->fe.sys.nfds = 1;
		fill_identity(&e->fe, file_at(bpf_get_current_task_btf(), ctx->ret));
	}
	submit(e, sizeof(*e));
	return 0;
}

/* pipe, pipe2, socketpair: two fds written to a user int[2]. */
static __always_inline int sys_pair(struct trace_event_raw_sys_exit *ctx,
				    __u16 nr, int arr_arg)
{
	struct fdw_fd_event *e = begin_fd(ctx, nr, sizeof(*e));
	struct task_struct *task;
	struct file *f0, *f1;
	int fds[2];

	if (!e)
		return 0;
	task = bpf_get_current_task_btf();
	/* numbers read back from user memory are only trusted where a file
	 * is installed: another thread may have overwritten the array */
	if (ctx->ret == 0 &&
	    !bpf_probe_read_user(fds, sizeof(fds), (const void *)e->sys.args[arr_arg & 3]) &&
	    (f0 = file_at(task, fds[0])) && (f1 = file_at(task, fds[1]))) {
		e->fds[0] = fds[0];
		e->fds[1] = fds[1];
		e->sys.nfds = 2;
		fill_identity(e, f0);
		/* socketpair's second end is another inode: pass its number */
		e->aux = file_ino(f1);
		e->files[1] = (__u64)f1;
	}
	submit(e, sizeof(*e));
	return 0;
}

/*
 * A syscall that writes the number of the fd it installed to user memory
 * (CLONE_PIDFD, clone3's pidfd, SO_PEERPIDFD): trusted only where a file
 * is installed under that number.
 */
static __always_inline int sys_user_fd(struct trace_event_raw_sys_exit *ctx, __u16 nr,
				       const void *uptr, __u64 aux)
{
	struct fdw_fd_event *e = begin_fd(ctx, nr, sizeof(*e));
	struct file *file;
	int fd = -1;

	if (!e)
		return 0;
	e->aux = aux;
	if (!bpf_probe_read_user(&fd, sizeof(fd), uptr) && fd >= 0 &&
	    (file = file_at(bpf_get_current_task_btf(), fd))) {
		e->fds[0] = fd;
		e->sys.nfds = 1;
		fill_identity(e, file);
	}
	submit(e, sizeof(*e));
	return 0;
}

#define SYS_PLAIN(name, NR)                                                    \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                  \
	{                                                                      \
		return sys_plain(ctx, NR);                                     \
	}

#define SYS_FD(name, NR)                                               \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                  \
	{                                                                      \
		return sys_fd(ctx, NR);                                        \
	}

/* dup of an fd that is not open is a use of it (races.bpf.h). */
SEC("tracepoint/syscalls/sys_exit_dup")
int exit_dup(struct trace_event_raw_sys_exit *ctx)
{
	bool looked;

	if (ctx->ret == -EBADF_)
		return badf(ctx, FDW_SYS_DUP, 0, -1);
	sys_short(ctx, FDW_SYS_DUP, &looked);
	return 0;
}

/* dup2/dup3 onto an open fd close it: another thread may be blocked on it. */
static __always_inline int sys_dup2(struct trace_event_raw_sys_exit *ctx, __u16 nr)
{
	struct pt_regs *regs;
	bool looked;
	__u32 newfd;

	if (ctx->ret == -EBADF_)
		return badf(ctx, nr, 0, -1);
	sys_short(ctx, nr, &looked);
	regs = user_regs();
	newfd = (__u32)PT_REGS_PARM2_SYSCALL(regs);
	if (ctx->ret >= 0 && (__u32)PT_REGS_PARM1_SYSCALL(regs) != newfd)
		inflight(ctx, nr, newfd, newfd);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_dup2")
int exit_dup2(struct trace_event_raw_sys_exit *ctx)
{
	return sys_dup2(ctx, FDW_SYS_DUP2);
}

SEC("tracepoint/syscalls/sys_exit_dup3")
int exit_dup3(struct trace_event_raw_sys_exit *ctx)
{
	return sys_dup2(ctx, FDW_SYS_DUP3);
}

/* close: any result but EBADF closed the fd (EINTR and EIO too, on Linux). */
SEC("tracepoint/syscalls/sys_exit_close")
int exit_close(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task;
	__u32 fd;

	bool looked;

	/* reopened already (by another thread): a thread blocked on the number
	 * now may be on the new file; say nothing */
	if (sys_short(ctx, FDW_SYS_CLOSE, &looked) || ctx->ret == -EBADF_)
		return 0;
	task = bpf_get_current_task_btf();
	if (!multi_threaded(task))
		return 0;
	fd = (__u32)PT_REGS_PARM1_SYSCALL(user_regs());
	if (!looked && file_at(task, (int)fd))
		return 0;
	inflight(ctx, FDW_SYS_CLOSE, fd, fd);
	return 0;
}

#define CLOSE_RANGE_CLOEXEC_ (1u << 2)

SEC("tracepoint/syscalls/sys_exit_close_range")
int exit_close_range(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs;

	sys_plain(ctx, FDW_SYS_CLOSE_RANGE);
	regs = user_regs();
	if (ctx->ret == 0 && !(PT_REGS_PARM3_SYSCALL(regs) & CLOSE_RANGE_CLOEXEC_))
		inflight(ctx, FDW_SYS_CLOSE_RANGE, (__u32)PT_REGS_PARM1_SYSCALL(regs),
			 (__u32)PT_REGS_PARM2_SYSCALL(regs));
	return 0;
}

SYS_FD(pidfd_getfd, FDW_SYS_PIDFD_GETFD)

/* Creators whose return value is the new fd. */
SYS_FD(socket, FDW_SYS_SOCKET)

/* accept on a listening fd that is not open: a use of it. */
#define SYS_ACCEPT(name, NR)                                                   \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                  \
	{                                                                      \
		if (ctx->ret == -EBADF_)                                       \
			return badf(ctx, NR, 0, -1);                           \
		return sys_fd(ctx, NR);                                        \
	}

SYS_ACCEPT(accept, FDW_SYS_ACCEPT)
SYS_ACCEPT(accept4, FDW_SYS_ACCEPT4)
SYS_FD(eventfd, FDW_SYS_EVENTFD)
SYS_FD(eventfd2, FDW_SYS_EVENTFD2)
SYS_FD(epoll_create, FDW_SYS_EPOLL_CREATE)
SYS_FD(epoll_create1, FDW_SYS_EPOLL_CREATE1)
SYS_FD(signalfd, FDW_SYS_SIGNALFD)
SYS_FD(signalfd4, FDW_SYS_SIGNALFD4)
SYS_FD(timerfd_create, FDW_SYS_TIMERFD_CREATE)
SYS_FD(inotify_init, FDW_SYS_INOTIFY_INIT)
SYS_FD(inotify_init1, FDW_SYS_INOTIFY_INIT1)
SYS_FD(memfd_create, FDW_SYS_MEMFD_CREATE)
SYS_FD(userfaultfd, FDW_SYS_USERFAULTFD)
SYS_FD(perf_event_open, FDW_SYS_PERF_EVENT_OPEN)
SYS_FD(pidfd_open, FDW_SYS_PIDFD_OPEN)
SYS_FD(open_by_handle_at, FDW_SYS_OPEN_BY_HANDLE_AT)
SYS_FD(io_uring_setup, FDW_SYS_IO_URING_SETUP)
SYS_FD(memfd_secret, FDW_SYS_MEMFD_SECRET)
SYS_FD(fsopen, FDW_SYS_FSOPEN)
SYS_FD(fsmount, FDW_SYS_FSMOUNT)
SYS_FD(fspick, FDW_SYS_FSPICK)
SYS_FD(open_tree, FDW_SYS_OPEN_TREE)
SYS_FD(open_tree_attr, FDW_SYS_OPEN_TREE_ATTR) /* Linux 6.15+: optional */
SYS_FD(mq_open, FDW_SYS_MQ_OPEN)

/* The open family: the path is argument 0 (open, creat) or 1 (the *at ones). */
#define SYS_OPEN(name, NR, path_arg)                                           \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                  \
	{                                                                      \
		return sys_open(ctx, NR, path_arg);                            \
	}

SYS_OPEN(open, FDW_SYS_OPEN, 0)
SYS_OPEN(creat, FDW_SYS_CREAT, 0)
SYS_OPEN(openat, FDW_SYS_OPENAT, 1)
SYS_OPEN(openat2, FDW_SYS_OPENAT2, 1)

/* Two fds through a user int[2]: argument 0 (pipe*) or 3 (socketpair). */
#define SYS_PAIR(name, NR, arr_arg)                                            \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)                  \
	{                                                                      \
		return sys_pair(ctx, NR, arr_arg);                             \
	}

SYS_PAIR(pipe, FDW_SYS_PIPE, 0)
SYS_PAIR(pipe2, FDW_SYS_PIPE2, 0)
SYS_PAIR(socketpair, FDW_SYS_SOCKETPAIR, 3)

/* fcntl: only the commands that create fds or change FD_CLOEXEC. */
SEC("tracepoint/syscalls/sys_exit_fcntl")
int exit_fcntl(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();
	__u64 cmd = PT_REGS_PARM2_SYSCALL(regs);

	/* F_GETFD/F_GETFL are how programs ask whether an fd is open */
	if (ctx->ret == -EBADF_ && cmd != F_GETFD_ && cmd != F_GETFL_)
		return badf(ctx, FDW_SYS_FCNTL, 0, -1);
	if (cmd != F_DUPFD_ && cmd != F_DUPFD_CLOEXEC_ && cmd != F_SETFD_)
		return 0;
	return sys_plain(ctx, FDW_SYS_FCNTL);
}

/* ---- seccomp user notifications: fds installed in another process ---- */

#define MAX_NOTIFS 32 /* pending notifications of one filter walked */

/* The struct file at `fd` of a table known by address only, NULL if none. */
static __always_inline struct file *file_in(__u64 files_addr, int fd)
{
	struct files_struct *files = (struct files_struct *)files_addr;
	struct file *file = NULL;
	struct fdtable *fdt;

	if (fd < 0 || !files)
		return NULL;
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), BPF_CORE_READ(fdt, fd) + fd))
		return NULL;
	return file;
}

/*
 * The task that pending notification `id` of the listener `listener` (an
 * anon file whose private_data is the struct seccomp_filter) stopped: the
 * filter's list of struct seccomp_knotif, walked for at most MAX_NOTIFS
 * entries. Reads are fault-safe; the id must match, so a listener being
 * torn down meanwhile yields "not found", not a wrong task.
 */
static __always_inline bool notif_task(struct file *listener, __u64 id, __u64 *filter_out,
				       struct notif_target *out)
{
	struct seccomp_filter *filter;
	struct list_head *head, *pos;
	struct notification *notif;
	__u64 off = bpf_core_field_offset(struct seccomp_knotif, list);

	*filter_out = 0;
	if (!listener)
		return false;
	filter = BPF_CORE_READ(listener, private_data);
	*filter_out = (__u64)filter;
	notif = filter ? BPF_CORE_READ(filter, notif) : NULL;
	if (!notif)
		return false;
	head = &notif->notifications;
	pos = BPF_CORE_READ(notif, notifications.next);
	for (int i = 0; i < MAX_NOTIFS; i++) {
		struct seccomp_knotif *k;
		struct task_struct *t;

		if (!pos || pos == head)
			return false;
		k = (struct seccomp_knotif *)((char *)pos - off);
		if (BPF_CORE_READ(k, id) == id) {
			t = BPF_CORE_READ(k, task);
			if (!t)
				return false;
			out->tgid = BPF_CORE_READ(t, tgid);
			out->tid = BPF_CORE_READ(t, pid);
			out->files = (__u64)BPF_CORE_READ(t, files);
			return out->tgid != 0;
		}
		pos = BPF_CORE_READ(pos, next);
	}
	return false;
}

/*
 * SECCOMP_IOCTL_NOTIF_RECV returned notification {id, pid, ...} to the
 * supervisor: remember which task it stopped. The pid there is in the
 * supervisor's pid namespace, so the task comes from the kernel's own
 * list; when the list is longer than the walk, the pid stands in if the
 * supervisor's namespace is the initial one (the daemon finds the process
 * from the thread id).
 */
static __always_inline int seccomp_recv(struct pt_regs *regs)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct notif_target t = {};
	struct notif_key key = {};
	struct {
		__u64 id;
		__u32 pid;
	} un;

	if (bpf_probe_read_user(&un, sizeof(un), (const void *)PT_REGS_PARM3_SYSCALL(regs)))
		return 0;
	key.id = un.id;
	if (!notif_task(file_at(task, (int)PT_REGS_PARM1_SYSCALL(regs)), un.id, &key.filter, &t)) {
		if (!key.filter)
			return 0;
		t.tgid = 0;
		t.tid = BPF_CORE_READ(task, thread_pid, level) == 0 ? un.pid : 0;
		t.files = 0;
	}
	(void)bpf_map_update_elem(&seccomp_notifs, &key, &t, BPF_ANY);
	return 0;
}

/*
 * SECCOMP_IOCTL_NOTIF_ADDFD returned the number of the fd the notified
 * task installed (a copy of the supervisor's srcfd: the same struct file)
 * in its own table, before it resumed. One record in the target's name
 * (include/fdwatch_event.h: FDW_SYS_SECCOMP_ADDFD); the target's slot is
 * checked to hold that file, else the record asks for a re-read.
 */
static __always_inline int seccomp_addfd(struct trace_event_raw_sys_exit *ctx,
					 struct pt_regs *regs)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *task = bpf_get_current_task_btf();
	struct notif_target t = {}, *found;
	struct notif_key key = {};
	struct fdw_fd_event *e;
	struct file *src;
	struct {
		__u64 id;
		__u32 flags;
		__u32 srcfd;
		__u32 newfd;
		__u32 newfd_flags;
	} a;

	if ((pid_tgid >> 32) == self_tgid ||
	    bpf_probe_read_user(&a, sizeof(a), (const void *)PT_REGS_PARM3_SYSCALL(regs)))
		return 0;
	key.id = a.id;
	key.filter = (__u64)BPF_CORE_READ(file_at(task, (int)PT_REGS_PARM1_SYSCALL(regs)),
					  private_data);
	found = key.filter ? bpf_map_lookup_elem(&seccomp_notifs, &key) : NULL;
	if (found && found->tgid) {
		t = *found;
	} else if (!notif_task(file_at(task, (int)PT_REGS_PARM1_SYSCALL(regs)), a.id,
			       &key.filter, &t)) {
		/* received before the probes were on, or past the walk */
		t.tgid = 0;
		t.tid = found ? found->tid : 0;
		t.files = 0;
	}
	/* ADDFD_FLAG_SEND answered the notification: no ADDFD can follow */
	if ((a.flags & SECCOMP_ADDFD_FLAG_SEND_) && found)
		(void)bpf_map_delete_elem(&seccomp_notifs, &key);
	/* a lost record: the target's table (or every table) is re-read */
	e = reserve(sizeof(*e), t.tgid ? t.tgid : pid_tgid >> 32);
	if (!e)
		return 0;
	fill_hdr(&e->sys.hdr, FDW_REC_SYSCALL, sizeof(*e), (__u64)t.tgid << 32 | t.tid, task,
		 precise_ts);
	e->sys.hdr.files = t.files;
	e->sys.nr = FDW_SYS_SECCOMP_ADDFD;
	e->sys.nfds = 0;
	e->sys.stack = 0;
	e->sys.ret = ctx->ret;
	e->sys.args[0] = pid_tgid >> 32;
	e->sys.args[1] = a.id;
	e->sys.args[2] = a.flags;
	e->sys.args[3] = a.srcfd;
	e->sys.args[4] = a.newfd;
	e->sys.args[5] = a.newfd_flags;
	clear_fd_fields(e);
	if (t.tgid) {
		src = file_at(task, (int)a.srcfd);
		e->fds[0] = (__s32)ctx->ret;
		e->sys.nfds = 1;
		fill_identity(e, src);
		if (!src || file_in(t.files, (int)ctx->ret) != src)
			e->sys.hdr.flags |= FDW_F_TRUNCATED;
	}
	submit(e, sizeof(*e));
	return 0;
}

/*
 * ioctl: FIOCLEX/FIONCLEX set/clear close-on-exec; a few commands return a
 * new fd (the pty peer, namespaces, pidfs namespaces, userfaultfd, KVM);
 * seccomp's ADDFD installs one in another process (above).
 * Everything else leaves the table alone and is filtered here.
 */
SEC("tracepoint/syscalls/sys_exit_ioctl")
int exit_ioctl(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();
	__u32 cmd = (__u32)PT_REGS_PARM2_SYSCALL(regs);

	if (ctx->ret == -EBADF_)
		return badf(ctx, FDW_SYS_IOCTL, 0, -1);
	if (cmd == FIOCLEX_ || cmd == FIONCLEX_)
		return sys_plain(ctx, FDW_SYS_IOCTL);
	if (ctx->ret < 0)
		return 0;
	switch (cmd) {
	case TIOCGPTPEER_:
	case NS_GET_USERNS_:
	case NS_GET_PARENT_:
	case NS_MNT_GET_NEXT_:
	case NS_MNT_GET_PREV_:
	case SIOCGSKNS_:
	case TUNGETDEVNETNS_:
	case PIDFD_GET_CGROUP_NAMESPACE_ ... PIDFD_GET_UTS_NAMESPACE_:
	case USERFAULTFD_IOC_NEW_:
	case KVM_CREATE_VM_:
	case KVM_CREATE_VCPU_:
	case KVM_GET_STATS_FD_:
		return sys_fd(ctx, FDW_SYS_IOCTL);
	case SECCOMP_IOCTL_NOTIF_RECV_:
		return seccomp_recv(regs);
	default:
		/* an extensible-argument ioctl: its size field may grow */
		if ((cmd & ~IOC_SIZE_MASK_) == (SECCOMP_IOCTL_NOTIF_ADDFD_ & ~IOC_SIZE_MASK_))
			return seccomp_addfd(ctx, regs);
		return 0;
	}
}

/*
 * getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, optval, optlen) installs a pidfd
 * and writes its number to optval.
 */
SEC("tracepoint/syscalls/sys_exit_getsockopt")
int exit_getsockopt(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();

	if (ctx->ret == -EBADF_)
		return badf(ctx, FDW_SYS_GETSOCKOPT, 0, -1);
	if (ctx->ret != 0 || PT_REGS_PARM2_SYSCALL(regs) != SOL_SOCKET_ ||
	    PT_REGS_PARM3_SYSCALL(regs) != SO_PEERPIDFD_)
		return 0;
	return sys_user_fd(ctx, FDW_SYS_GETSOCKOPT, (const void *)PT_REGS_PARM4_SYSCALL(regs), 0);
}

/* unshare: only CLONE_FILES splits the table. */
SEC("tracepoint/syscalls/sys_exit_unshare")
int exit_unshare(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();

	if (!(PT_REGS_PARM1_SYSCALL(regs) & CLONE_FILES_))
		return 0;
	return sys_plain(ctx, FDW_SYS_UNSHARE);
}

/*
 * clone with CLONE_PIDFD stores a pidfd through parent_tid. x86_64 and
 * arm64 (CLONE_BACKWARDS) differ after it, not before: clone(flags, stack,
 * parent_tid, ...).
 */
SEC("tracepoint/syscalls/sys_exit_clone")
int exit_clone(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();

	if (ctx->ret <= 0 || !(PT_REGS_PARM1_SYSCALL(regs) & CLONE_PIDFD_))
		return 0;
	return sys_user_fd(ctx, FDW_SYS_CLONE, (const void *)PT_REGS_PARM3_SYSCALL(regs), 0);
}

/* clone3: struct clone_args { __u64 flags; __u64 pidfd; ... } */
SEC("tracepoint/syscalls/sys_exit_clone3")
int exit_clone3(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();
	__u64 head[2] = {};

	if (ctx->ret <= 0 ||
	    bpf_probe_read_user(head, sizeof(head), (const void *)PT_REGS_PARM1_SYSCALL(regs)) ||
	    !(head[0] & CLONE_PIDFD_))
		return 0;
	return sys_user_fd(ctx, FDW_SYS_CLONE3, (const void *)head[1], head[0]);
}

/* bpf(2): only the commands that return a new fd. */
SEC("tracepoint/syscalls/sys_exit_bpf")
int exit_bpf(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();
	__u64 cmd = PT_REGS_PARM1_SYSCALL(regs);

	if (ctx->ret < 0)
		return 0;
	switch (cmd) {
	case BPF_MAP_CREATE:
	case BPF_PROG_LOAD:
	case BPF_OBJ_GET:
	case BPF_PROG_GET_FD_BY_ID:
	case BPF_MAP_GET_FD_BY_ID:
	case BPF_RAW_TRACEPOINT_OPEN:
	case BPF_BTF_LOAD:
	case BPF_BTF_GET_FD_BY_ID:
	case BPF_LINK_CREATE:
	case BPF_LINK_GET_FD_BY_ID:
	case BPF_ENABLE_STATS:
	case BPF_ITER_CREATE:
	case BPF_TOKEN_CREATE_:
		return sys_fd(ctx, FDW_SYS_BPF);
	default:
		return 0;
	}
}

/* seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER) */
SEC("tracepoint/syscalls/sys_exit_seccomp")
int exit_seccomp(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();

	if (ctx->ret < 0 || PT_REGS_PARM1_SYSCALL(regs) != SECCOMP_SET_MODE_FILTER_ ||
	    !(PT_REGS_PARM2_SYSCALL(regs) & SECCOMP_FILTER_FLAG_NEW_LISTENER_))
		return 0;
	return sys_fd(ctx, FDW_SYS_SECCOMP);
}

/* landlock_create_ruleset returns an fd unless asked for the ABI version. */
SEC("tracepoint/syscalls/sys_exit_landlock_create_ruleset")
int exit_landlock_create_ruleset(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();

	/* any flag (VERSION, ERRATA, ...) asks for a number, not an fd */
	if (PT_REGS_PARM3_SYSCALL(regs))
		return 0;
	return sys_fd(ctx, FDW_SYS_LANDLOCK_CREATE_RULESET);
}

/*
 * SCM_RIGHTS: after recvmsg returns, the kernel has rewritten the user's
 * msg_control with the received fds and msg_controllen with its used length.
 * Walk at most MAX_CMSGS headers; anything that does not fit sets
 * FDW_F_TRUNCATED and the daemon re-reads the table from /proc.
 */
static __always_inline void collect_rights(struct fdw_fd_event *e,
					   const struct user_msghdr *umsg)
{
	struct user_msghdr m;
	struct cmsghdr c;
	__u64 off = 0;

	if (bpf_probe_read_user(&m, sizeof(m), umsg) || !m.msg_control ||
	    m.msg_controllen < sizeof(c))
		return;
	for (int i = 0; i < MAX_CMSGS; i++) {
		__u64 n;

		if (off + sizeof(c) > m.msg_controllen)
			return;
		if (bpf_probe_read_user(&c, sizeof(c), m.msg_control + off))
			return;
		if (c.cmsg_len < sizeof(c))
			return;
		/* SCM_PIDFD (SO_PASSPIDFD) installs a pidfd, always close-on-exec
		 * whatever MSG_CMSG_CLOEXEC says: let the daemon read it */
		if (c.cmsg_level == SOL_SOCKET_ && c.cmsg_type == SCM_PIDFD_)
			e->sys.hdr.flags |= FDW_F_TRUNCATED;
		if (c.cmsg_level == SOL_SOCKET_ && c.cmsg_type == SCM_RIGHTS_) {
			n = (c.cmsg_len - sizeof(c)) / sizeof(int);
			for (int j = 0; j < FDW_MAX_FDS; j++) {
				__u32 k = e->sys.nfds;
				int fd;

				if (j >= n)
					break;
				if (k >= FDW_MAX_FDS) {
					e->sys.hdr.flags |= FDW_F_TRUNCATED;
					return;
				}
				if (bpf_probe_read_user(&fd, sizeof(fd),
							m.msg_control + off + sizeof(c) +
								j * sizeof(int)))
					return;
				/* keep the bound visible to the verifier */
				asm volatile("" : "+r"(k));
				k &= FDW_MAX_FDS - 1;
				e->fds[k] = fd;
				e->sys.nfds = k + 1;
			}
			if (n > FDW_MAX_FDS)
				e->sys.hdr.flags |= FDW_F_TRUNCATED;
		}
		off += CMSG_ALIGN_(c.cmsg_len);
	}
	if (off + sizeof(c) <= m.msg_controllen)
		e->sys.hdr.flags |= FDW_F_TRUNCATED;
}

/* Identity of every received fd: each may be an OFD another process holds. */
static __always_inline void fill_rights(struct fdw_fd_event *e)
{
	struct task_struct *task = bpf_get_current_task_btf();

	fill_identity(e, file_at(task, e->fds[0]));
	for (int i = 1; i < FDW_MAX_FDS; i++) {
		if (i >= e->sys.nfds)
			break;
		e->files[i] = (__u64)file_at(task, e->fds[i]);
	}
}

static __always_inline bool has_control(const struct user_msghdr *umsg)
{
	__kernel_size_t len = 0;

	(void)bpf_probe_read_user(&len, sizeof(len), &umsg->msg_controllen);
	return len >= sizeof(struct cmsghdr);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();
	const struct user_msghdr *umsg = (const void *)PT_REGS_PARM2_SYSCALL(regs);
	struct fdw_fd_event *e;

	if (ctx->ret == -EBADF_)
		return badf(ctx, FDW_SYS_RECVMSG, 0, -1);
	/* Most recvmsg calls carry no control data: leave them untraced. */
	if (ctx->ret < 0 || !has_control(umsg))
		return 0;
	e = begin_fd(ctx, FDW_SYS_RECVMSG, sizeof(*e));
	if (!e)
		return 0;
	collect_rights(e, umsg);
	if (!e->sys.nfds && !(e->sys.hdr.flags & FDW_F_TRUNCATED)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	if (e->sys.nfds)
		fill_rights(e);
	submit(e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmmsg")
int exit_recvmmsg(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = user_regs();
	const struct mmsghdr *vec = (const void *)PT_REGS_PARM2_SYSCALL(regs);
	struct fdw_fd_event *e;
	long got = ctx->ret;

	if (got == -EBADF_)
		return badf(ctx, FDW_SYS_RECVMMSG, 0, -1);
	if (got <= 0)
		return 0;
	e = begin_fd(ctx, FDW_SYS_RECVMMSG, sizeof(*e));
	if (!e)
		return 0;
	for (int i = 0; i < MAX_MMSGS; i++) {
		if (i >= got)
			break;
		collect_rights(e, &vec[i].msg_hdr);
	}
	/* more messages than walked: only those with control data matter */
	for (int i = MAX_MMSGS; i < MAX_MMSGS_CHECKED; i++) {
		if (i >= got)
			break;
		if (has_control(&vec[i].msg_hdr)) {
			e->sys.hdr.flags |= FDW_F_TRUNCATED;
			break;
		}
	}
	if (got > MAX_MMSGS_CHECKED)
		e->sys.hdr.flags |= FDW_F_TRUNCATED;
	if (!e->sys.nfds && !(e->sys.hdr.flags & FDW_F_TRUNCATED)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	if (e->sys.nfds)
		fill_rights(e);
	submit(e, sizeof(*e));
	return 0;
}

/* struct fanotify_event_metadata, as the UAPI fixes it */
struct fan_meta {
	__u32 event_len;
	__u8 vers;
	__u8 reserved;
	__u16 metadata_len;
	__u64 mask;
	__s32 fd;
	__s32 pid;
};

/*
 * Is `file` a fanotify group's file? anon_inode_getfile*("[fanotify]", ...):
 * an inode of the anonymous inode filesystem under that dentry name. Both
 * are checked so that another file a racing thread installs at the number
 * fanotify_init returned (a pipe, a regular file named "[fanotify]") is
 * never taken for one. Only fanotify_init's exit pays for it.
 */
static __always_inline bool is_fanotify_file(struct file *file)
{
	static const char want[] = "[fanotify]";
	char name[sizeof(want)] = {};
	const unsigned char *dname;

	if (BPF_CORE_READ(file, f_inode, i_sb, s_magic) != ANON_INODE_FS_MAGIC_)
		return false;
	dname = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(name, sizeof(name), dname) != sizeof(want))
		return false;
	for (int i = 0; i < sizeof(want); i++)
		if (name[i] != want[i])
			return false;
	return true;
}

/* Learn fanotify's file operations from the first fanotify file seen. */
static __always_inline void learn_fanotify(struct trace_event_raw_sys_exit *ctx)
{
	struct file *file;

	if (fanotify_fops || ctx->ret < 0)
		return;
	file = file_at(bpf_get_current_task_btf(), ctx->ret);
	if (file && is_fanotify_file(file))
		fanotify_fops = (__u64)BPF_CORE_READ(file, f_op);
}

/* Learns before the self filter: the daemon may open one to learn it. */
SEC("tracepoint/syscalls/sys_exit_fanotify_init")
int exit_fanotify_init(struct trace_event_raw_sys_exit *ctx)
{
	learn_fanotify(ctx);
	return sys_fd(ctx, FDW_SYS_FANOTIFY_INIT);
}

/*
 * read() on a fanotify file installs an fd per event read. Attached once
 * the host has a fanotify user, then for good (daemon/capture/capture.c);
 * every other read returns here after a global (no fanotify file seen
 * yet), the return value (shorter than one event), or the file's ops.
 */
SEC("tracepoint/syscalls/sys_exit_read")
int exit_read(struct trace_event_raw_sys_exit *ctx)
{
	__u64 fops = fanotify_fops;
	long got = ctx->ret;
	struct task_struct *task;
	struct fdw_fd_event *e;
	struct file *rfile;
	__u64 off = 0;

	if (!fops || got < (long)sizeof(struct fan_meta))
		return 0;
	task = bpf_get_current_task_btf();
	rfile = file_at(task, (int)PT_REGS_PARM1_SYSCALL(user_regs()));
	if (!rfile || (__u64)BPF_CORE_READ(rfile, f_op) != fops)
		return 0;
	e = begin_fd(ctx, FDW_SYS_READ, sizeof(*e));
	if (!e)
		return 0;
	for (int i = 0; i < FDW_MAX_FDS; i++) {
		struct fan_meta md;
		struct file *file;
		__u32 k = e->sys.nfds;

		if (off + sizeof(md) > (__u64)got)
			break;
		if (bpf_probe_read_user(&md, sizeof(md), (const void *)(e->sys.args[1] + off)) ||
		    md.event_len < sizeof(md))
			break;
		off += md.event_len;
		if (md.fd < 0 || !(file = file_at(task, md.fd)))
			continue;
		asm volatile("" : "+r"(k));
		k &= FDW_MAX_FDS - 1;
		e->fds[k] = md.fd;
		e->files[k] = (__u64)file;
		e->sys.nfds = k + 1;
	}
	if (off < (__u64)got)
		e->sys.hdr.flags |= FDW_F_TRUNCATED;
	if (e->sys.nfds)
		e->file = e->files[0];
	submit(e, sizeof(*e));
	return 0;
}

/*
 * io_uring installs and closes fds without a syscall of its own. Report the
 * completions that touch the table; the daemon resolves them from /proc.
 */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(uring_complete, void *ring, void *req)
{
	struct io_kiocb *kreq = req;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fdw_fd_event *e;
	__u8 op = BPF_CORE_READ(kreq, opcode);
	__s32 res = BPF_CORE_READ(kreq, cqe.res);

	if (op != IORING_OP_OPENAT && op != IORING_OP_OPENAT2 && op != IORING_OP_RECVMSG &&
	    op != IORING_OP_ACCEPT && op != IORING_OP_SOCKET &&
	    op != IORING_OP_CLOSE && op != IORING_OP_FIXED_FD_INSTALL &&
	    op != IORING_OP_PIPE)
		return 0;
	if ((pid_tgid >> 32) == self_tgid || res < 0)
		return 0;
	e = reserve(sizeof(*e), pid_tgid >> 32);
	if (!e)
		return 0;
	fill_hdr(&e->sys.hdr, FDW_REC_URING, sizeof(*e), pid_tgid, bpf_get_current_task_btf(),
		 precise_ts);
	e->sys.nr = FDW_SYS_IO_URING;
	e->sys.nfds = 0;
	e->sys.stack = 0;
	e->sys.ret = res;
	for (int i = 0; i < ARRAY_SIZE(e->sys.args); i++)
		e->sys.args[i] = 0;
	e->aux = op;
	e->file = 0;
	e->ino = 0;
	e->dev = 0;
	e->mode = 0;
	submit(e, sizeof(*e));
	return 0;
}

static __always_inline void task_comm(struct fdw_task_event *e, struct task_struct *t)
{
	(void)bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), t->comm);
}

/* The identity of t's process and of its program (struct fdw_task_event):
 * its start, and its address space's stack start when it has one. */
static __always_inline void task_identity(struct fdw_task_event *e, struct task_struct *t,
					  bool stack)
{
	struct mm_struct *mm = stack ? t->mm : NULL;

	e->start_boottime = t->start_boottime;
	e->start_stack = mm ? mm->start_stack : 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(task_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fdw_task_event *e;

	if ((pid_tgid >> 32) == self_tgid || (child->flags & PF_KTHREAD_))
		return 0;
	e = reserve(sizeof(*e), pid_tgid >> 32);
	if (!e)
		return 0;
	fill_hdr(&e->hdr, FDW_REC_FORK, sizeof(*e), pid_tgid, bpf_get_current_task_btf(), true);
	e->jiffies = bpf_jiffies64();
	e->hz = CONFIG_HZ;
	e->child_pid = child->tgid;
	e->child_tid = child->pid;
	e->child_files = (__u64)child->files;
	e->exit_code = 0;
	if (child->files == parent->files)
		e->hdr.flags |= FDW_F_SHARED_FILES;
	if (child->tgid == parent->tgid)
		e->hdr.flags |= FDW_F_THREAD;
	task_comm(e, child);
	task_identity(e, child, true);
	submit(e, sizeof(*e));
	return 0;
}

/*
 * The uid that owns the outermost user namespace of `ns` below the initial
 * one (its "level 1" ancestor): it holds CAP_SYS_PTRACE over the whole
 * subtree, and the kernel shows it the fds of every process in there.
 */
static __always_inline __u32 userns_top_owner(struct user_namespace *ns)
{
	/* namespaces nest 33 deep at most (create_user_ns) */
	for (int i = 0; i < 33; i++) {
		if (!ns || BPF_CORE_READ(ns, level) <= 1)
			break;
		ns = BPF_CORE_READ(ns, parent);
	}
	if (!ns || BPF_CORE_READ(ns, level) != 1)
		return FDW_EXEC_OWNER_NOBODY;
	return BPF_CORE_READ(ns, owner.val);
}

/*
 * Whose the new program is, as /proc will show it (server/access.c): the
 * uid when all four uids are that uid, its gids are one gid, it holds no
 * capability and it is dumpable (a setuid or file-capability program is
 * not: its /proc files are root's). In a user namespace, whatever its
 * uids and capabilities, the owner's of its outermost one (sys/pidinfo.c
 * fdw_pid_owner_read): any other uid, the process's own too, is refused
 * its fds (cap_ptrace_access_check: no CAP_SYS_PTRACE in the namespace).
 * Read here because a program can drop to its caller's uid moments after
 * its exec, and a later look at /proc could not tell what it did before.
 */
static __always_inline __u32 exec_owner(struct task_struct *p, __u32 *gid)
{
	const struct cred *c = p->cred;
	struct mm_struct *mm = p->mm;
	unsigned long mmflags = 0;
	__u32 uid;

	*gid = FDW_EXEC_OWNER_ANY_GID;
	if (!c || !mm)
		return FDW_EXEC_OWNER_NOBODY;
	/* mm->flags: an unsigned long, or (6.18) a bitmap whose first word
	 * holds the same bits; the dumpable mode is its low two */
	if (bpf_probe_read_kernel(&mmflags, sizeof(mmflags),
				  (char *)mm + bpf_core_field_offset(struct mm_struct, flags)))
		return FDW_EXEC_OWNER_NOBODY;
	if (BPF_CORE_READ(c, user_ns, level)) {
		/* not dumpable with its mm the initial namespace's (would_dump()
		 * of a program it could not read): the kernel wants
		 * CAP_SYS_PTRACE there, which the owner lacks */
		if ((mmflags & 3) != 1 /* SUID_DUMP_USER */ && BPF_CORE_READ(mm, user_ns, level) == 0)
			return FDW_EXEC_OWNER_NOBODY;
		return userns_top_owner(BPF_CORE_READ(c, user_ns));
	}
	uid = c->uid.val;
	if (c->euid.val != uid || c->suid.val != uid || c->fsuid.val != uid)
		return FDW_EXEC_OWNER_NOBODY;
	/* the kernel hides its fds from the uid too when its gids differ, or
	 * when it holds a capability (sys/pidinfo.c fdw_pid_owner_read) */
	if (c->egid.val != c->gid.val || c->sgid.val != c->gid.val || c->fsgid.val != c->gid.val)
		return FDW_EXEC_OWNER_NOBODY;
	if (c->gid.val >= FDW_EXEC_OWNER_NOBODY)
		return FDW_EXEC_OWNER_NOBODY; /* not told apart from the sentinels */
	if (uid) {
		__u64 prm = 0; /* kernel_cap_t: one u64 (6.3+) or two u32, 8 bytes */

		if (bpf_probe_read_kernel(&prm, sizeof(prm), &c->cap_permitted) || prm)
			return FDW_EXEC_OWNER_NOBODY;
	}
	if ((mmflags & 3) != 1 /* SUID_DUMP_USER */)
		return FDW_EXEC_OWNER_NOBODY;
	/* and only to a user of that gid too (ptrace_may_access compares the
	 * caller's gid with the real, effective and saved gids): a setgid
	 * program, User=alice Group=shadow, is not alice's for alice's gid */
	*gid = c->gid.val;
	return uid;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(task_exec, struct task_struct *p, pid_t old_pid)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fdw_task_event *e;
	__u32 gid;

	if ((pid_tgid >> 32) == self_tgid)
		return 0;
	e = reserve(sizeof(*e), pid_tgid >> 32);
	if (!e)
		return 0;
	fill_hdr(&e->hdr, FDW_REC_EXEC, sizeof(*e), pid_tgid, bpf_get_current_task_btf(), true);
	e->jiffies = bpf_jiffies64();
	e->hz = CONFIG_HZ;
	e->child_pid = old_pid;
	e->child_tid = exec_owner(p, &gid);
	e->hdr.flags |= FDW_F_OWNER;
	e->child_files = 0;
	e->exit_code = (__s32)gid;
	task_comm(e, p);
	task_identity(e, p, true);
	submit(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(task_exit, struct task_struct *p)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct fdw_task_event *e;

	if ((pid_tgid >> 32) == self_tgid || (p->flags & PF_KTHREAD_))
		return 0;
	e = reserve(sizeof(*e), pid_tgid >> 32);
	if (!e)
		return 0;
	fill_hdr(&e->hdr, FDW_REC_EXIT, sizeof(*e), pid_tgid, bpf_get_current_task_btf(), true);
	e->jiffies = bpf_jiffies64();
	e->hz = CONFIG_HZ;
	e->child_pid = 0;
	e->child_tid = 0;
	e->child_files = 0;
	e->exit_code = p->exit_code;
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		e->hdr.flags |= FDW_F_GROUP_DEAD;
	task_comm(e, p);
	task_identity(e, p, false); /* its mm may be gone already */
	submit(e, sizeof(*e));
	return 0;
}
