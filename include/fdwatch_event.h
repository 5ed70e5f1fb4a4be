/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record ABI between bpf/fdwatch.bpf.c (producer) and fdwatchd
 * (consumer). Every record starts with struct fdw_hdr; `type` says which
 * struct follows, `abi` must equal FDW_ABI_VERSION, `size` is the record's
 * full size in bytes. Fixed-width fields only, explicit padding.
 */
#ifndef FDWATCH_EVENT_H
#define FDWATCH_EVENT_H

#ifdef __bpf__
/* vmlinux.h provides __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define FDW_ABI_VERSION 3

/* Record kinds. */
enum {
	FDW_REC_SYSCALL = 1, /* struct fdw_sys_event */
	FDW_REC_FORK = 2,    /* struct fdw_task_event: a task (process or thread) was created */
	FDW_REC_EXEC = 3,    /* struct fdw_task_event: exec completed */
	FDW_REC_EXIT = 4,    /* struct fdw_task_event: a task exited */
	FDW_REC_URING = 5,   /* struct fdw_sys_event: an io_uring request changed the table */
	FDW_REC_BADF = 6,    /* struct fdw_badf_event: a syscall on an fd failed with EBADF */
	FDW_REC_INFLIGHT = 7,/* struct fdw_inflight_event: an fd closed or replaced while
			      * another thread of its table was blocked in a syscall on it */
	FDW_REC_REUSE = 8,   /* struct fdw_reuse_event: a thread (of a deep-mode process)
			      * used an fd number that names another file than at its
			      * previous use */
	FDW_REC_SHORT = 9,   /* struct fdw_short_event: dup, dup2, dup3, close */
	FDW_REC_MAX,
};

/*
 * The syscalls fdwatch follows. Numbered by fdwatch (not by the kernel's
 * syscall table) so the ABI does not depend on the architecture.
 * daemon/capture/syscalls.c maps them to names and argument names.
 */
enum {
	FDW_SYS_UNKNOWN = 0,
	FDW_SYS_DUP,
	FDW_SYS_DUP2,
	FDW_SYS_DUP3,
	FDW_SYS_FCNTL,
	FDW_SYS_CLOSE,
	FDW_SYS_CLOSE_RANGE,
	FDW_SYS_OPEN,
	FDW_SYS_OPENAT,
	FDW_SYS_OPENAT2,
	FDW_SYS_CREAT,
	FDW_SYS_SOCKET,
	FDW_SYS_SOCKETPAIR,
	FDW_SYS_ACCEPT,
	FDW_SYS_ACCEPT4,
	FDW_SYS_PIPE,
	FDW_SYS_PIPE2,
	FDW_SYS_EVENTFD,
	FDW_SYS_EVENTFD2,
	FDW_SYS_EPOLL_CREATE,
	FDW_SYS_EPOLL_CREATE1,
	FDW_SYS_SIGNALFD,
	FDW_SYS_SIGNALFD4,
	FDW_SYS_TIMERFD_CREATE,
	FDW_SYS_INOTIFY_INIT,
	FDW_SYS_INOTIFY_INIT1,
	FDW_SYS_FANOTIFY_INIT,
	FDW_SYS_MEMFD_CREATE,
	FDW_SYS_USERFAULTFD,
	FDW_SYS_PERF_EVENT_OPEN,
	FDW_SYS_PIDFD_OPEN,
	FDW_SYS_PIDFD_GETFD,
	FDW_SYS_OPEN_BY_HANDLE_AT,
	FDW_SYS_IO_URING_SETUP,
	FDW_SYS_RECVMSG,
	FDW_SYS_RECVMMSG,
	FDW_SYS_UNSHARE,
	FDW_SYS_CLONE,	/* only CLONE_PIDFD matters here; task creation is FDW_REC_FORK */
	FDW_SYS_CLONE3,
	FDW_SYS_MEMFD_SECRET,
	FDW_SYS_BPF,
	FDW_SYS_SECCOMP,
	FDW_SYS_FSOPEN,
	FDW_SYS_FSMOUNT,
	FDW_SYS_FSPICK,
	FDW_SYS_OPEN_TREE,
	FDW_SYS_MQ_OPEN,
	FDW_SYS_LANDLOCK_CREATE_RULESET,
	FDW_SYS_IOCTL,	  /* FIOCLEX/FIONCLEX, and the ioctls that return a new fd */
	FDW_SYS_GETSOCKOPT, /* only SO_PEERPIDFD: it installs a pidfd */
	FDW_SYS_READ,	  /* only on fanotify fds: each event read installs an fd */
	FDW_SYS_IO_URING, /* not a syscall: an io_uring request (FDW_REC_URING) */
	/* Syscalls that use an fd: traced only when they fail with EBADF
	 * (FDW_REC_BADF), or seen in flight by FDW_REC_INFLIGHT. */
	FDW_SYS_WRITE,
	FDW_SYS_PREAD64,
	FDW_SYS_PWRITE64,
	FDW_SYS_READV,
	FDW_SYS_WRITEV,
	FDW_SYS_PREADV,
	FDW_SYS_PWRITEV,
	FDW_SYS_FSTAT,
	FDW_SYS_NEWFSTATAT,
	FDW_SYS_STATX,
	FDW_SYS_LSEEK,
	FDW_SYS_SENDTO,
	FDW_SYS_RECVFROM,
	FDW_SYS_SENDMSG,
	FDW_SYS_SENDMMSG,
	FDW_SYS_EPOLL_CTL,
	FDW_SYS_EPOLL_WAIT,
	FDW_SYS_EPOLL_PWAIT,
	FDW_SYS_SHUTDOWN,
	FDW_SYS_CONNECT,
	FDW_SYS_BIND,
	FDW_SYS_LISTEN,
	FDW_SYS_GETSOCKNAME,
	FDW_SYS_GETPEERNAME,
	FDW_SYS_SETSOCKOPT,
	FDW_SYS_FSYNC,
	FDW_SYS_FDATASYNC,
	FDW_SYS_FTRUNCATE,
	FDW_SYS_FCHMOD,
	FDW_SYS_FCHOWN,
	FDW_SYS_FCHDIR,
	FDW_SYS_FLOCK,
	FDW_SYS_FSTATFS,
	FDW_SYS_GETDENTS64,
	FDW_SYS_SENDFILE,
	FDW_SYS_SPLICE,
	FDW_SYS_TEE,
	FDW_SYS_COPY_FILE_RANGE,
	FDW_SYS_FALLOCATE,
	FDW_SYS_UNLINKAT,
	FDW_SYS_MKDIRAT,
	FDW_SYS_RENAMEAT2,
	FDW_SYS_LINKAT,
	FDW_SYS_SYMLINKAT,
	FDW_SYS_READLINKAT,
	FDW_SYS_FACCESSAT2,
	FDW_SYS_FCHMODAT,
	FDW_SYS_FCHOWNAT,
	FDW_SYS_UTIMENSAT,
	FDW_SYS_EXECVEAT,
	FDW_SYS_INOTIFY_ADD_WATCH,
	FDW_SYS_POLL,	  /* in flight only */
	FDW_SYS_PPOLL,	  /* in flight only */
	FDW_SYS_SELECT,	  /* in flight only */
	FDW_SYS_PSELECT6, /* in flight only */
	/* Added after the list above: appended so the numbers above keep theirs. */
	FDW_SYS_OPEN_TREE_ATTR,
	/*
	 * Not a syscall: ioctl(SECCOMP_IOCTL_NOTIF_ADDFD) installed an fd in the
	 * notified process. hdr.pid/tid/files are that process's (the target),
	 * not the supervisor's; args are the supervisor's tgid, the
	 * notification id, the addfd flags, srcfd (the supervisor's), newfd
	 * and newfd_flags; ret is the fd in the target. hdr.pid 0: the probe
	 * could not tell the target (hdr.tid then is the target's thread id in
	 * the supervisor's pid namespace when that is the initial one, else 0).
	 */
	FDW_SYS_SECCOMP_ADDFD,
	FDW_SYS_MAX,
};

/* fdw_hdr.flags */
#define FDW_F_TRUNCATED (1u << 0) /* not every installed fd fits in the record */
#define FDW_F_GROUP_DEAD (1u << 1) /* exit: last thread of the thread group */
#define FDW_F_SHARED_FILES (1u << 2) /* fork: child shares the parent's file table */
#define FDW_F_THREAD (1u << 3) /* fork: CLONE_THREAD */
#define FDW_F_JIFFIES (1u << 4) /* hdr.ts is jiffies, not CLOCK_MONOTONIC ns */
#define FDW_F_OWNER (1u << 5) /* exec: child_tid is the new program's owner as the
			       * kernel's /proc shows it: the uid when its real,
			       * effective, saved and fs uids are that uid, its gids
			       * one gid, it holds no capability and it is dumpable;
			       * in a user namespace, the uid owning its outermost
			       * one; else FDW_EXEC_OWNER_NOBODY. exit_code is
			       * the gid the owner needs too (its real, effective
			       * and saved gid), FDW_EXEC_OWNER_ANY_GID when any
			       * will do (a namespace's owner, nobody's) */
#define FDW_EXEC_OWNER_NOBODY 0xfffffffeu /* daemon/sys/pidinfo.h FDW_OWNER_MIXED */
#define FDW_EXEC_OWNER_ANY_GID 0xffffffffu /* daemon/sys/pidinfo.h FDW_OWNER_GID_ANY */

#define FDW_COMM_LEN 16
#define FDW_STACK_DEPTH 32 /* user frames kept per captured stack */
#define FDW_MAX_FDS 8	 /* fds carried by one record (pipe, socketpair, SCM_RIGHTS) */
#define FDW_PATH_LEN 256 /* user path argument of the open family, truncated */

struct fdw_hdr {
	__u16 type;  /* FDW_REC_* */
	__u16 abi;   /* FDW_ABI_VERSION */
	__u16 size;  /* sizeof the whole record */
	__u16 flags; /* FDW_F_* */
	__u32 pid;   /* thread group id, as user space calls it a pid */
	__u32 tid;   /* thread id */
	__u64 ts;    /* CLOCK_MONOTONIC ns, or jiffies when flags has FDW_F_JIFFIES
		      * (cheap; the daemon converts with the task records' pairs) */
	__u64 files; /* kernel address of the task's files_struct: the table's identity */
};

/*
 * One completed syscall. `args` are the raw arguments in order (a0..a5);
 * `ret` is the raw return value (negative errno on failure). The dup family
 * and close send just this (hdr.size == sizeof(struct fdw_sys_event)): the
 * daemon already knows the source fd.
 */
struct fdw_sys_event {
	struct fdw_hdr hdr;
	__u16 nr;   /* FDW_SYS_* */
	__u16 nfds; /* entries valid in fdw_fd_event.fds[] (0 in a plain record) */
	__u32 stack; /* user stack: id in the `stacks` map + 1; 0 when not captured */
	__s64 ret;
	__u64 args[6];
};

/*
 * The dup family and close, the hottest records: what the daemon needs of
 * them (the source fd it already knows) in 56 bytes, 64 with the ring's
 * own header, against 104 for a struct fdw_sys_event: one cache line to
 * write and to read instead of two. Their arguments and results are 32
 * bits: the daemon sign-extends the result and the fd (close(-1)) and
 * zero-extends the rest (dup2's newfd, dup3's flags), as the kernel reads
 * them.
 */
struct fdw_short_event {
	struct fdw_hdr hdr; /* type FDW_REC_SHORT */
	__u16 nr;	    /* FDW_SYS_DUP, _DUP2, _DUP3, _CLOSE */
	__u16 pad;
	__u32 stack;	    /* as in struct fdw_sys_event */
	__s32 ret;
	union {
		__s32 args[3];
		/*
		 * close, in a table other tasks share: the struct file at the
		 * number when the probe looked, after this record had its place
		 * in the ring (another task reopened it), split in two; 0 when
		 * none. Its install's record may be before this one or after:
		 * the daemon skips the close only if the slot holds that file
		 * when the close is applied.
		 */
		struct {
			__s32 fd;
			__u32 now_lo, now_hi;
		} close;
	};
};

/*
 * A syscall that installs fds: `fds[0..nfds)` are the installed numbers,
 * `file` the kernel address of fds[0]'s struct file (the identity of its open
 * file description), `ino`/`dev`/`mode` its inode.
 */
struct fdw_fd_event {
	struct fdw_sys_event sys;
	__u64 file;
	__u64 ino;
	__u32 dev;
	__u32 mode; /* inode i_mode: S_IFMT bits tell the type */
	__u64 aux;  /* syscall-specific: openat2 how.flags, clone3 flags, io_uring opcode,
		    * pipe/socketpair: the second fd's inode number */
	__s32 fds[FDW_MAX_FDS];
	__u64 files[FDW_MAX_FDS]; /* struct file of each fd (files[0] == file) */
};

/* The open family (open, openat, openat2, creat) carries the path argument. */
struct fdw_open_event {
	struct fdw_fd_event fe;
	char path[FDW_PATH_LEN];
};

/*
 * A syscall that uses an fd failed with EBADF: the fd was not open (or not
 * open for that use). `fd` is the argument that was not open at the
 * syscall's exit (the first fd argument when all were).
 */
struct fdw_badf_event {
	struct fdw_sys_event sys; /* hdr.type FDW_REC_BADF; ret -EBADF */
	__s32 fd;
	__u32 bflags;		  /* FDW_BADF_* */
};

#define FDW_BADF_OPEN_AT_EXIT (1u << 0) /* a file was installed at fd at the exit: the
					 * fd is open for another use, or reopened */

/*
 * Deep mode (fd-reuse): thread hdr.tid used `fd` (syscall sys.nr, result
 * sys.ret), which names another file than at this thread's previous use of
 * the number (syscall old_nr). The files' inode numbers and types.
 */
struct fdw_reuse_event {
	struct fdw_sys_event sys; /* hdr.type FDW_REC_REUSE */
	__s32 fd;
	__u16 old_nr;
	__u16 pad;
	__u32 old_mode;
	__u32 new_mode;
	__u64 old_ino;
	__u64 new_ino;
};

/*
 * close/dup2/dup3/close_range of `fd` (hdr: the closing thread) found
 * `other_tid`, a thread sharing the table, blocked in syscall `other_nr`
 * (FDW_SYS_*) whose fd argument is `fd`. The record follows the closing
 * syscall's own record.
 */
struct fdw_inflight_event {
	struct fdw_hdr hdr;
	__u16 nr;	/* the closing syscall (FDW_SYS_*) */
	__u16 other_nr; /* the blocked one (FDW_SYS_*) */
	__u32 other_tid;
	__s32 fd;
	__u32 threads;	/* threads looked at */
	__u64 other_arg0;
	__u64 other_state; /* the blocked thread's __state */
	char other_comm[FDW_COMM_LEN];
};

/* fork, exec, exit of one task. */
struct fdw_task_event {
	struct fdw_hdr hdr;
	__u32 child_pid;  /* fork: new task's tgid; exec: old tid (see de_thread) */
	__u32 child_tid;  /* fork: new task's tid; exec with FDW_F_OWNER: its owner */
	__u64 child_files;/* fork: the new task's files_struct */
	__s32 exit_code;  /* exit; exec with FDW_F_OWNER: its owner's gid */
	__u32 hz;	  /* the kernel's CONFIG_HZ (0 if unknown) */
	__u64 jiffies;	  /* jiffies beside hdr.ts (CLOCK_MONOTONIC): lets the daemon
			   * convert FDW_F_JIFFIES stamps */
	char comm[FDW_COMM_LEN];
	/* fork: the child's, exec and exit: the task's task->start_boottime
	 * (CLOCK_BOOTTIME ns; a process's is its leader's, which an exec by
	 * another thread takes over): what /proc/PID/stat's starttime shows in
	 * clock ticks, the process's identity with its pid. 0 if unknown. */
	__u64 start_boottime;
	/* fork, exec: the address space's mm->start_stack (/proc/PID/stat's
	 * startstack): a fork child's is its parent's, an exec makes a new one
	 * (the stack is placed at random, and holds the new program's
	 * arguments). 0 if unknown (exit, a kernel thread). */
	__u64 start_stack;
};

/* Per-CPU counters kept by the BPF side, read by the daemon. */
enum {
	FDW_STAT_LOST = 0,     /* ring buffer full: record dropped */
	FDW_STAT_EMITTED = 1,  /* records submitted */
	FDW_STAT_WAKEUPS = 2,  /* forced consumer wakeups */
	FDW_STAT_BADF_NEG = 3, /* EBADF on a negative fd (-1, ...): not reported */
	FDW_STAT_INFLIGHT_TRUNC = 4, /* thread walks cut at the bound */
	FDW_STAT_DEEP_USES = 5,	/* uses checked in deep mode */
	FDW_STAT_DEEP_REUSES = 6, /* ... that found another file (FDW_REC_REUSE) */
	FDW_STAT_MAX,
};

#endif /* FDWATCH_EVENT_H */
