// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The traced syscalls' names, argument names and close-on-exec rules. An
 * argument name is a key of the event object beside seq, ts, pid, tid,
 * comm, syscall, ret, errno: never one of those (pidfd_open's pid is
 * "target_pid").
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "capture/syscalls.h"

#define N FDW_ARG_NONE
#define FD FDW_ARG_FD
#define I FDW_ARG_INT
#define U FDW_ARG_UINT
#define P FDW_ARG_PTR
#define S FDW_ARG_PATH

#define ARGS(...) { __VA_ARGS__ }

/* Flag values the kernel ABI fixes; all the *_CLOEXEC below equal O_CLOEXEC
 * except where noted. */
#define CLOEXEC_1 0x1u		    /* MFD_, FAN_, FSOPEN_, FSMOUNT_, FSPICK_CLOEXEC */
#define PERF_FLAG_FD_CLOEXEC_ 0x8u
#define MSG_CMSG_CLOEXEC_ 0x40000000u

static const struct fdw_syscall_info table[FDW_SYS_MAX] = {
	[FDW_SYS_DUP] = { "dup", { "oldfd" }, ARGS(FD), FDW_CLOEXEC_NEVER },
	[FDW_SYS_DUP2] = { "dup2", { "oldfd", "newfd" }, ARGS(FD, FD), FDW_CLOEXEC_NEVER },
	[FDW_SYS_DUP3] = { "dup3", { "oldfd", "newfd", "flags" }, ARGS(FD, FD, U),
			   FDW_CLOEXEC_ARG, 2, O_CLOEXEC },
	[FDW_SYS_FCNTL] = { "fcntl", { "fd", "cmd", "arg" }, ARGS(FD, I, U) },
	[FDW_SYS_CLOSE] = { "close", { "fd" }, ARGS(FD) },
	[FDW_SYS_CLOSE_RANGE] = { "close_range", { "first", "last", "flags" }, ARGS(U, U, U) },
	[FDW_SYS_OPEN] = { "open", { "path", "flags", "mode" }, ARGS(S, U, U),
			   FDW_CLOEXEC_ARG, 1, O_CLOEXEC },
	[FDW_SYS_OPENAT] = { "openat", { "dirfd", "path", "flags", "mode" }, ARGS(FD, S, U, U),
			     FDW_CLOEXEC_ARG, 2, O_CLOEXEC },
	[FDW_SYS_OPENAT2] = { "openat2", { "dirfd", "path", "how", "size" }, ARGS(FD, S, P, U),
			      FDW_CLOEXEC_AUX, 0, O_CLOEXEC },
	[FDW_SYS_CREAT] = { "creat", { "path", "mode" }, ARGS(S, U), FDW_CLOEXEC_NEVER },
	[FDW_SYS_SOCKET] = { "socket", { "domain", "type", "protocol" }, ARGS(I, U, I),
			     FDW_CLOEXEC_ARG, 1, O_CLOEXEC },
	[FDW_SYS_SOCKETPAIR] = { "socketpair", { "domain", "type", "protocol", "sv" },
				 ARGS(I, U, I, P), FDW_CLOEXEC_ARG, 1, O_CLOEXEC },
	[FDW_SYS_ACCEPT] = { "accept", { "fd", "addr", "addrlen" }, ARGS(FD, P, P),
			     FDW_CLOEXEC_NEVER, 0, 0, NULL },
	[FDW_SYS_ACCEPT4] = { "accept4", { "fd", "addr", "addrlen", "flags" }, ARGS(FD, P, P, U),
			      FDW_CLOEXEC_ARG, 3, O_CLOEXEC },
	[FDW_SYS_PIPE] = { "pipe", { "pipefd" }, ARGS(P), FDW_CLOEXEC_NEVER },
	[FDW_SYS_PIPE2] = { "pipe2", { "pipefd", "flags" }, ARGS(P, U), FDW_CLOEXEC_ARG, 1, O_CLOEXEC },
	[FDW_SYS_EVENTFD] = { "eventfd", { "initval" }, ARGS(U), FDW_CLOEXEC_NEVER, 0, 0,
			      "anon_inode:[eventfd]" },
	[FDW_SYS_EVENTFD2] = { "eventfd2", { "initval", "flags" }, ARGS(U, U), FDW_CLOEXEC_ARG, 1,
			       O_CLOEXEC, "anon_inode:[eventfd]" },
	[FDW_SYS_EPOLL_CREATE] = { "epoll_create", { "size" }, ARGS(I), FDW_CLOEXEC_NEVER, 0, 0,
				   "anon_inode:[eventpoll]" },
	[FDW_SYS_EPOLL_CREATE1] = { "epoll_create1", { "flags" }, ARGS(U), FDW_CLOEXEC_ARG, 0,
				    O_CLOEXEC, "anon_inode:[eventpoll]" },
	[FDW_SYS_SIGNALFD] = { "signalfd", { "fd", "mask", "sizemask" }, ARGS(FD, P, U),
			       FDW_CLOEXEC_NEVER, 0, 0, "anon_inode:[signalfd]" },
	[FDW_SYS_SIGNALFD4] = { "signalfd4", { "fd", "mask", "sizemask", "flags" },
				ARGS(FD, P, U, U), FDW_CLOEXEC_ARG, 3, O_CLOEXEC,
				"anon_inode:[signalfd]" },
	[FDW_SYS_TIMERFD_CREATE] = { "timerfd_create", { "clockid", "flags" }, ARGS(I, U),
				     FDW_CLOEXEC_ARG, 1, O_CLOEXEC, "anon_inode:[timerfd]" },
	[FDW_SYS_INOTIFY_INIT] = { "inotify_init", { NULL }, ARGS(N), FDW_CLOEXEC_NEVER, 0, 0,
				   "anon_inode:inotify" },
	[FDW_SYS_INOTIFY_INIT1] = { "inotify_init1", { "flags" }, ARGS(U), FDW_CLOEXEC_ARG, 0,
				    O_CLOEXEC, "anon_inode:inotify" },
	[FDW_SYS_FANOTIFY_INIT] = { "fanotify_init", { "flags", "event_f_flags" }, ARGS(U, U),
				    FDW_CLOEXEC_ARG, 0, CLOEXEC_1, "anon_inode:[fanotify]" },
	[FDW_SYS_MEMFD_CREATE] = { "memfd_create", { "name", "flags" }, ARGS(P, U),
				   FDW_CLOEXEC_ARG, 1, CLOEXEC_1 },
	[FDW_SYS_USERFAULTFD] = { "userfaultfd", { "flags" }, ARGS(U), FDW_CLOEXEC_ARG, 0,
				  O_CLOEXEC, "anon_inode:[userfaultfd]" },
	[FDW_SYS_PERF_EVENT_OPEN] = { "perf_event_open",
				      { "attr", "target_pid", "cpu", "group_fd", "flags" },
				      ARGS(P, I, I, FD, U), FDW_CLOEXEC_ARG, 4,
				      PERF_FLAG_FD_CLOEXEC_, "anon_inode:[perf_event]" },
	[FDW_SYS_PIDFD_OPEN] = { "pidfd_open", { "target_pid", "flags" }, ARGS(I, U), FDW_CLOEXEC_ALWAYS,
				 0, 0, "anon_inode:[pidfd]" },
	[FDW_SYS_PIDFD_GETFD] = { "pidfd_getfd", { "pidfd", "targetfd", "flags" },
				  ARGS(FD, I, U), FDW_CLOEXEC_ALWAYS },
	[FDW_SYS_OPEN_BY_HANDLE_AT] = { "open_by_handle_at", { "mount_fd", "handle", "flags" },
					ARGS(FD, P, U), FDW_CLOEXEC_ARG, 2, O_CLOEXEC },
	[FDW_SYS_IO_URING_SETUP] = { "io_uring_setup", { "entries", "params" }, ARGS(U, P),
				     FDW_CLOEXEC_ALWAYS, 0, 0, "anon_inode:[io_uring]" },
	[FDW_SYS_RECVMSG] = { "recvmsg", { "fd", "msg", "flags" }, ARGS(FD, P, U),
			      FDW_CLOEXEC_ARG, 2, MSG_CMSG_CLOEXEC_ },
	[FDW_SYS_RECVMMSG] = { "recvmmsg", { "fd", "msgvec", "vlen", "flags", "timeout" },
			       ARGS(FD, P, U, U, P), FDW_CLOEXEC_ARG, 3, MSG_CMSG_CLOEXEC_ },
	[FDW_SYS_UNSHARE] = { "unshare", { "flags" }, ARGS(U) },
	[FDW_SYS_CLONE] = { "clone", { "flags", "stack", "parent_tid", "child_tid", "tls" },
			    ARGS(U, P, P, P, P), FDW_CLOEXEC_ALWAYS, 0, 0, "anon_inode:[pidfd]" },
	[FDW_SYS_CLONE3] = { "clone3", { "args", "size" }, ARGS(P, U), FDW_CLOEXEC_ALWAYS, 0, 0,
			     "anon_inode:[pidfd]" },
	[FDW_SYS_MEMFD_SECRET] = { "memfd_secret", { "flags" }, ARGS(U), FDW_CLOEXEC_ARG, 0,
				   O_CLOEXEC, "secretmem" },
	[FDW_SYS_BPF] = { "bpf", { "cmd", "attr", "size" }, ARGS(I, P, U), FDW_CLOEXEC_ALWAYS },
	[FDW_SYS_SECCOMP] = { "seccomp", { "op", "flags", "args" }, ARGS(U, U, P),
			      FDW_CLOEXEC_ALWAYS, 0, 0, "anon_inode:seccomp notify" },
	[FDW_SYS_FSOPEN] = { "fsopen", { "fsname", "flags" }, ARGS(P, U), FDW_CLOEXEC_ARG, 1,
			     CLOEXEC_1, "anon_inode:[fscontext]" },
	[FDW_SYS_FSMOUNT] = { "fsmount", { "fs_fd", "flags", "attr_flags" }, ARGS(FD, U, U),
			      FDW_CLOEXEC_ARG, 1, CLOEXEC_1 },
	[FDW_SYS_FSPICK] = { "fspick", { "dirfd", "path", "flags" }, ARGS(FD, P, U),
			     FDW_CLOEXEC_ARG, 2, CLOEXEC_1, "anon_inode:[fscontext]" },
	[FDW_SYS_OPEN_TREE] = { "open_tree", { "dirfd", "path", "flags" }, ARGS(FD, P, U),
				FDW_CLOEXEC_ARG, 2, O_CLOEXEC },
	[FDW_SYS_OPEN_TREE_ATTR] = { "open_tree_attr", { "dirfd", "path", "flags", "attr", "size" },
				     ARGS(FD, P, U, P, U), FDW_CLOEXEC_ARG, 2, O_CLOEXEC },
	/* the notified process's record (include/fdwatch_event.h): the
	 * supervisor's pid is an argument, srcfd is the supervisor's fd */
	[FDW_SYS_SECCOMP_ADDFD] = { "seccomp_addfd",
				    { "supervisor_pid", "id", "addfd_flags", "srcfd", "newfd",
				      "newfd_flags" },
				    ARGS(I, U, U, I, I, U), FDW_CLOEXEC_ARG, 5, O_CLOEXEC },
	[FDW_SYS_MQ_OPEN] = { "mq_open", { "name", "oflag", "mode", "attr" }, ARGS(P, U, U, P),
			      FDW_CLOEXEC_ALWAYS },
	[FDW_SYS_LANDLOCK_CREATE_RULESET] = { "landlock_create_ruleset",
					      { "attr", "size", "flags" }, ARGS(P, U, U),
					      FDW_CLOEXEC_ALWAYS, 0, 0,
					      "anon_inode:landlock-ruleset" },
	[FDW_SYS_IOCTL] = { "ioctl", { "fd", "cmd", "arg" }, ARGS(FD, U, U) },
	[FDW_SYS_GETSOCKOPT] = { "getsockopt", { "fd", "level", "optname", "optval", "optlen" },
				 ARGS(FD, I, I, P, P), FDW_CLOEXEC_ALWAYS, 0, 0,
				 "anon_inode:[pidfd]" },
	[FDW_SYS_READ] = { "read", { "fd", "buf", "count" }, ARGS(FD, P, U) },
	[FDW_SYS_IO_URING] = { "io_uring", { "opcode" }, ARGS(U) },
	[FDW_SYS_WRITE] = { "write", { "fd", "buf", "count" }, ARGS(FD, P, U) },
	[FDW_SYS_PREAD64] = { "pread64", { "fd", "buf", "count", "offset" }, ARGS(FD, P, U, U) },
	[FDW_SYS_PWRITE64] = { "pwrite64", { "fd", "buf", "count", "offset" }, ARGS(FD, P, U, U) },
	[FDW_SYS_READV] = { "readv", { "fd", "iov", "iovcnt" }, ARGS(FD, P, U) },
	[FDW_SYS_WRITEV] = { "writev", { "fd", "iov", "iovcnt" }, ARGS(FD, P, U) },
	[FDW_SYS_PREADV] = { "preadv", { "fd", "iov", "iovcnt" }, ARGS(FD, P, U) },
	[FDW_SYS_PWRITEV] = { "pwritev", { "fd", "iov", "iovcnt" }, ARGS(FD, P, U) },
	[FDW_SYS_FSTAT] = { "fstat", { "fd", "statbuf" }, ARGS(FD, P) },
	[FDW_SYS_NEWFSTATAT] = { "newfstatat", { "dirfd", "path", "statbuf", "flags" }, ARGS(FD, P, P, U) },
	[FDW_SYS_STATX] = { "statx", { "dirfd", "path", "flags", "mask", "statxbuf" }, ARGS(FD, P, U, U, P) },
	[FDW_SYS_LSEEK] = { "lseek", { "fd", "offset", "whence" }, ARGS(FD, I, I) },
	[FDW_SYS_SENDTO] = { "sendto", { "fd", "buf", "len", "flags" }, ARGS(FD, P, U, U) },
	[FDW_SYS_RECVFROM] = { "recvfrom", { "fd", "buf", "len", "flags" }, ARGS(FD, P, U, U) },
	[FDW_SYS_SENDMSG] = { "sendmsg", { "fd", "msg", "flags" }, ARGS(FD, P, U) },
	[FDW_SYS_SENDMMSG] = { "sendmmsg", { "fd", "msgvec", "vlen", "flags" }, ARGS(FD, P, U, U) },
	[FDW_SYS_EPOLL_CTL] = { "epoll_ctl", { "epfd", "op", "fd", "event" }, ARGS(FD, I, FD, P) },
	[FDW_SYS_EPOLL_WAIT] = { "epoll_wait", { "epfd", "events", "maxevents", "timeout" }, ARGS(FD, P, I, I) },
	[FDW_SYS_EPOLL_PWAIT] = { "epoll_pwait", { "epfd", "events", "maxevents", "timeout" }, ARGS(FD, P, I, I) },
	[FDW_SYS_SHUTDOWN] = { "shutdown", { "fd", "how" }, ARGS(FD, I) },
	[FDW_SYS_CONNECT] = { "connect", { "fd", "addr", "addrlen" }, ARGS(FD, P, U) },
	[FDW_SYS_BIND] = { "bind", { "fd", "addr", "addrlen" }, ARGS(FD, P, U) },
	[FDW_SYS_LISTEN] = { "listen", { "fd", "backlog" }, ARGS(FD, I) },
	[FDW_SYS_GETSOCKNAME] = { "getsockname", { "fd", "addr", "addrlen" }, ARGS(FD, P, P) },
	[FDW_SYS_GETPEERNAME] = { "getpeername", { "fd", "addr", "addrlen" }, ARGS(FD, P, P) },
	[FDW_SYS_SETSOCKOPT] = { "setsockopt", { "fd", "level", "optname" }, ARGS(FD, I, I) },
	[FDW_SYS_FSYNC] = { "fsync", { "fd" }, ARGS(FD) },
	[FDW_SYS_FDATASYNC] = { "fdatasync", { "fd" }, ARGS(FD) },
	[FDW_SYS_FTRUNCATE] = { "ftruncate", { "fd", "length" }, ARGS(FD, U) },
	[FDW_SYS_FCHMOD] = { "fchmod", { "fd", "mode" }, ARGS(FD, U) },
	[FDW_SYS_FCHOWN] = { "fchown", { "fd", "owner", "group" }, ARGS(FD, I, I) },
	[FDW_SYS_FCHDIR] = { "fchdir", { "fd" }, ARGS(FD) },
	[FDW_SYS_FLOCK] = { "flock", { "fd", "operation" }, ARGS(FD, I) },
	[FDW_SYS_FSTATFS] = { "fstatfs", { "fd", "buf" }, ARGS(FD, P) },
	[FDW_SYS_GETDENTS64] = { "getdents64", { "fd", "dirp", "count" }, ARGS(FD, P, U) },
	[FDW_SYS_SENDFILE] = { "sendfile", { "out_fd", "in_fd", "offset", "count" }, ARGS(FD, FD, P, U) },
	[FDW_SYS_SPLICE] = { "splice", { "fd_in", "off_in", "fd_out", "off_out", "len", "flags" }, ARGS(FD, P, FD, P, U, U) },
	[FDW_SYS_TEE] = { "tee", { "fd_in", "fd_out", "len", "flags" }, ARGS(FD, FD, U, U) },
	[FDW_SYS_COPY_FILE_RANGE] = { "copy_file_range", { "fd_in", "off_in", "fd_out", "off_out", "len", "flags" }, ARGS(FD, P, FD, P, U, U) },
	[FDW_SYS_FALLOCATE] = { "fallocate", { "fd", "mode", "offset", "len" }, ARGS(FD, I, U, U) },
	[FDW_SYS_UNLINKAT] = { "unlinkat", { "dirfd", "path", "flags" }, ARGS(FD, P, U) },
	[FDW_SYS_MKDIRAT] = { "mkdirat", { "dirfd", "path", "mode" }, ARGS(FD, P, U) },
	[FDW_SYS_RENAMEAT2] = { "renameat2", { "olddirfd", "oldpath", "newdirfd", "newpath", "flags" }, ARGS(FD, P, FD, P, U) },
	[FDW_SYS_LINKAT] = { "linkat", { "olddirfd", "oldpath", "newdirfd", "newpath", "flags" }, ARGS(FD, P, FD, P, U) },
	[FDW_SYS_SYMLINKAT] = { "symlinkat", { "target", "newdirfd", "linkpath" }, ARGS(P, FD, P) },
	[FDW_SYS_READLINKAT] = { "readlinkat", { "dirfd", "path", "buf", "bufsiz" }, ARGS(FD, P, P, U) },
	[FDW_SYS_FACCESSAT2] = { "faccessat2", { "dirfd", "path", "mode", "flags" }, ARGS(FD, P, U, U) },
	[FDW_SYS_FCHMODAT] = { "fchmodat", { "dirfd", "path", "mode" }, ARGS(FD, P, U) },
	[FDW_SYS_FCHOWNAT] = { "fchownat", { "dirfd", "path", "owner", "group", "flags" }, ARGS(FD, P, I, I, U) },
	[FDW_SYS_UTIMENSAT] = { "utimensat", { "dirfd", "path", "times", "flags" }, ARGS(FD, P, P, U) },
	[FDW_SYS_EXECVEAT] = { "execveat", { "dirfd", "path", "argv", "envp", "flags" }, ARGS(FD, P, P, P, U) },
	[FDW_SYS_INOTIFY_ADD_WATCH] = { "inotify_add_watch", { "fd", "path", "mask" }, ARGS(FD, P, U) },
	[FDW_SYS_POLL] = { "poll", { "fds", "nfds", "timeout" }, ARGS(P, U, I) },
	[FDW_SYS_PPOLL] = { "ppoll", { "fds", "nfds", "tmo_p", "sigmask" }, ARGS(P, U, P, P) },
	[FDW_SYS_SELECT] = { "select", { "nfds", "readfds", "writefds", "exceptfds", "timeout" }, ARGS(I, P, P, P, P) },
	[FDW_SYS_PSELECT6] = { "pselect6", { "nfds", "readfds", "writefds", "exceptfds", "timeout", "sigmask" }, ARGS(I, P, P, P, P, P) },
};

const struct fdw_syscall_info *fdw_syscall_info(unsigned int nr)
{
	if (nr >= FDW_SYS_MAX || !table[nr].name)
		return NULL;
	return &table[nr];
}

const char *fdw_syscall_name(unsigned int nr)
{
	const struct fdw_syscall_info *si = fdw_syscall_info(nr);

	return si ? si->name : "unknown";
}

unsigned int fdw_syscall_by_name(const char *name)
{
	for (unsigned int nr = 1; nr < FDW_SYS_MAX; nr++)
		if (table[nr].name && !strcmp(table[nr].name, name))
			return nr;
	return FDW_SYS_UNKNOWN;
}

bool fdw_syscall_cloexec(const struct fdw_event *ev)
{
	const struct fdw_syscall_info *si = fdw_syscall_info(ev->nr);

	if (!si)
		return false;
	if (ev->nr == FDW_SYS_IOCTL) {
		switch ((uint32_t)ev->args[1]) {
		case 0x5441: /* TIOCGPTPEER: flags in arg */
		case 0xaa00: /* USERFAULTFD_IOC_NEW: flags in arg */
			return (ev->args[2] & O_CLOEXEC) != 0;
		default:     /* namespaces (nsfs, pidfs, SIOCGSKNS, TUNGETDEVNETNS),
			      * KVM: always O_CLOEXEC */
			return true;
		}
	}
	switch (si->cloexec_rule) {
	case FDW_CLOEXEC_ALWAYS:
		return true;
	case FDW_CLOEXEC_ARG:
		return (ev->args[si->cloexec_arg % 6] & si->cloexec_mask) != 0;
	case FDW_CLOEXEC_AUX:
		return (ev->aux & si->cloexec_mask) != 0;
	case FDW_CLOEXEC_NEVER:
	default:
		return false;
	}
}

const char *fdw_errno_name(int err)
{
	/* strerrorname_np() is glibc 2.32+: Debian 12 has 2.36. */
	return err > 0 ? strerrorname_np(err) : NULL;
}
