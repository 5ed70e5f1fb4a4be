/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What /proc says about one process beyond its fds (its stat line, its
 * RLIMIT_NOFILE, its systemd unit), and the host figures needed to read
 * them (boot time, clock tick). Every function returns 0 or -errno
 * (-ESRCH: no such process, -EBADMSG: a line it cannot parse) and writes
 * its outputs only on success (fdw_pid_syscalls_*: what was read before an
 * error stays in `out`); files are opened O_CLOEXEC. `root` is the
 * proc mount, NULL meaning "/proc" (tests pass a directory of fakes).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FDW_PF_KTHREAD 0x00200000u /* a kernel thread (flags, field 9) */
#define FDW_PF_EXITING 0x00000004u /* in do_exit(): its files go, or went */

/* The fields of ROOT/PID/stat the daemon uses. */
struct fdw_pid_stat {
	char comm[16];	    /* NUL-terminated; may itself hold spaces and ')' */
	char state;	    /* 'R', 'S', 'Z', ... */
	uint32_t ppid;
	uint32_t flags;	    /* PF_* (e.g. FDW_PF_KTHREAD) */
	uint64_t utime, stime; /* CPU time in clock ticks */
	uint64_t starttime; /* clock ticks after boot: with the pid, the process's identity */
	uint64_t vsize;	    /* bytes */
	int64_t rss;	    /* pages */
	/* the address space's stack start (field 28): a new one at every exec
	 * (placed at random, and below the new program's arguments), the same
	 * across fork and prctl(PR_SET_NAME); 0 when the kernel hides it (the
	 * reader may not ptrace the process) or there is none */
	uint64_t startstack;
};

/* The one parser of ROOT/PID/stat. */
int fdw_pid_stat_read(const char *root, uint32_t pid, struct fdw_pid_stat *out);

/* Does the task still have an fd table: not a zombie, not exiting? */
static inline bool fdw_pid_stat_live(const struct fdw_pid_stat *st)
{
	return st->state != 'Z' && st->state != 'X' && !(st->flags & FDW_PF_EXITING);
}

/* The "Max open files" line of ROOT/PID/limits (readable by every user);
 * "unlimited" is RLIM_INFINITY. */
int fdw_pid_limits_read(const char *root, uint32_t pid, uint64_t *soft, uint64_t *hard);

/* RLIMIT_NOFILE of a process: prlimit(2), which needs CAP_SYS_RESOURCE for
 * another user's process; on -EPERM, ROOT/PID/limits. */
int fdw_pid_nofile_limit(const char *root, uint32_t pid, uint64_t *soft, uint64_t *hard);

/* The owner of a process for access control (server/access.c): its uid
 * when the real, effective, saved and filesystem uids of ROOT/PID/status
 * are all that uid and the file is that uid's too (the kernel's own test
 * before it shows another process's /proc/PID/fd: a process that is not
 * dumpable has its /proc files owned by root), its gids are one gid and
 * it holds no capability, else FDW_OWNER_MIXED: a setuid program, also
 * once it dropped back to its caller's uid, or a daemon between
 * identities, belongs to nobody but root. A process in a user namespace
 * below the daemon's is, whatever its own uids and capabilities, the
 * owner's of its outermost one below the daemon's (NS_GET_PARENT,
 * NS_GET_OWNER_UID): that uid has CAP_SYS_PTRACE over all of it, any
 * other is refused (FDW_OWNER_MIXED when that cannot be read). */
#define FDW_OWNER_MIXED ((uint32_t)-2)
#define FDW_OWNER_UNKNOWN ((uint32_t)-1)
/* *gid (NULL: not wanted): the gid a client of uid *owner must have too
 * (its SO_PEERCRED gid; supplementary groups play no part, as in the
 * kernel's ptrace_may_access): the process's real, effective and saved
 * gid, one gid. FDW_OWNER_GID_ANY when any gid will do (the owner of a
 * user namespace, by its capability) or when *owner is FDW_OWNER_MIXED. */
#define FDW_OWNER_GID_ANY ((uint32_t)-1)
int fdw_pid_owner_read(const char *root, uint32_t pid, uint32_t *owner, uint32_t *gid);

/*
 * The systemd unit of a process from ROOT/PID/cgroup (the cgroup v2 line,
 * or v1's name=systemd line): the innermost path component that is a
 * service, scope, socket, mount or swap unit, else the innermost slice;
 * "" when none. Unlike the others, buf is set ("") on failure too.
 */
int fdw_pid_unit(const char *root, uint32_t pid, char *buf, size_t len);

/*
 * The base name of ROOT/PID/exe's target (" (deleted)" dropped): the
 * program a process runs, where its command is a script's name when the
 * script was started by its #! line. buf is "" on failure; -ENAMETOOLONG
 * when the name does not fit.
 */
int fdw_pid_exe_name(const char *root, uint32_t pid, char *buf, size_t len);

/*
 * The first line of file `path` that starts with `key` and a blank (space
 * or tab; "boottime" is not "boottime_x"): the rest of it into buf, the
 * blanks after the key and the newline left out. Its length, -EBADMSG when
 * no line has the key or the line does not fit in len - 1 bytes, -errno
 * of fopen() or reading. Lines before it may be of any length.
 */
int fdw_keyed_line_read(const char *path, const char *key, char *buf, size_t len);

/* The host's boot time, seconds since the epoch (the btime line of ROOT/stat). */
int fdw_boot_time_read(const char *root, double *out);

/* The same from /proc, read once; 0 when unknown. */
double fdw_boot_time(void);

/* Clock ticks per second (the unit of starttime); 100 when sysconf fails. */
double fdw_clk_tck(void);

/*
 * The boottime offset of the reader's time namespace, ns (the boottime
 * line of ROOT/self/timens_offsets): what the kernel adds to a task's
 * start_boottime before ROOT/PID/stat shows it as starttime. -ENOENT
 * without time namespaces (no offset).
 */
int fdw_timens_boottime_read(const char *root, int64_t *out);

/* The same from /proc, read once; 0 when there is none or it is unknown. */
int64_t fdw_timens_boottime(void);

/*
 * What the threads of a process are doing to its table right now: the
 * syscalls that change fds (close, close_range, dup2/dup3 onto an fd) they
 * are blocked in. Such a syscall can block (the last close of a file does
 * its release there), and the table already shows its effect before it
 * returns and its record is written. A thread that is running shows no
 * syscall: its tid is listed in `running`, to read again
 * (fdw_pid_syscalls_reread) after a pause.
 */
struct fdw_thread_syscall {
	uint32_t tid;
	long nr;			/* SYS_* */
	unsigned long long args[3];
};

struct fdw_pid_syscalls {
	struct fdw_thread_syscall *v; /* blocked in an fd-changing syscall */
	size_t n, cap;
	uint32_t *running;	      /* tids caught running */
	size_t nrunning, running_cap;
};

/* Every thread of pid, once: 0, or -errno (-ESRCH: gone, -ENOMEM). */
int fdw_pid_syscalls_read(const char *root, uint32_t pid, struct fdw_pid_syscalls *out);
/* The running ones again (blocked ones found now are added to v). */
int fdw_pid_syscalls_reread(const char *root, uint32_t pid, struct fdw_pid_syscalls *out);
/*
 * Read, then read the running threads again every 1 ms while done() (not
 * NULL) says no and time is left of budget_ns, the first read included
 * (0: read once). done() is asked after each successful read, the last
 * one included; after an error the caller may ask it of the partial `out`
 * itself. The caller keeps `out` (free it).
 */
int fdw_pid_syscalls_settle(const char *root, uint32_t pid, uint64_t budget_ns,
			    bool (*done)(const struct fdw_pid_syscalls *s, void *arg), void *arg,
			    struct fdw_pid_syscalls *out);
/* Does `sc` change fd `fd`: close(fd), close_range over it (not with
 * CLOSE_RANGE_CLOEXEC: that closes nothing), dup2/dup3 onto it. */
bool fdw_syscall_changes_fd(const struct fdw_thread_syscall *sc, int fd);
void fdw_pid_syscalls_free(struct fdw_pid_syscalls *s);
