/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading the kernel's truth from /proc: a task's fds, one fd, process
 * lists, limits. All functions return 0 or -errno and open everything
 * O_CLOEXEC. `root` is "/proc" except in tests (a fake tree: --proc-root).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* One open fd as /proc shows it (/proc/TID/fd/N and fdinfo/N). */
struct fdw_fd_info {
	int fd;
	bool cloexec;	  /* O_CLOEXEC in fdinfo's flags */
	uint64_t ino;	  /* of the open file (stat through the link) */
	uint32_t dev;	  /* the kernel's encoding: major << 20 | minor */
	uint32_t mode;	  /* S_IFMT bits; 0 for anon inodes */
	uint64_t kfile;	  /* the kernel's struct file address when the reader
			   * knows it (the start-up snapshot), else 0 */
	char target[4096]; /* readlink(/proc/TID/fd/N) */
};

/*
 * The target of an fd whose path the kernel cannot name: readlink gives
 * ENAMETOOLONG for a file deeper than PATH_MAX. The fd is open all the
 * same (its stat through the link works): it is read with this target, not
 * left out as if closed. No d_path name looks like it.
 */
#define FDW_TARGET_TOO_LONG "(name too long)"

/* One fd of task `tid` (works for any thread id: /proc/TID/fd/FD). */
int fdw_proc_read_fd(const char *root, uint32_t tid, int fd, struct fdw_fd_info *out);

/*
 * A /proc context: its root and a small cache of open /proc/TID/fd
 * directories. Its owner (the daemon) creates it and passes it in; one
 * thread uses it. The readers below that keep nothing open take the root
 * path alone.
 */
struct fdw_procfs;

/* root: "/proc" (NULL means that), or a test's fake. 0 or -ENOMEM. */
int fdw_procfs_new(struct fdw_procfs **out, const char *root);
/* Close the cached directories and free. NULL-safe. */
void fdw_procfs_free(struct fdw_procfs *pf);

/* Only target, ino, dev and mode of one fd (no fdinfo: cloexec is false):
 * readlinkat + fstatat through the cached directory, no open per call
 * (this runs for every fd-creating event). */
int fdw_procfs_read_target(struct fdw_procfs *pf, uint32_t tid, int fd, struct fdw_fd_info *out);

/* kcmp(KCMP_FILES): 1 when two tasks share one file table. */
int fdw_proc_same_table(uint32_t tid1, uint32_t tid2);

/*
 * Does fd `fd` of process `pid` hold a lock: a "lock:" line of FLOCK
 * (flock(2)) or OFDLCK (F_OFD_SETLK: both held by the open file
 * description, so shown for every fd on it, in every process) or POSIX
 * (fcntl F_SETLK, lockf: shown only in the process that holds it) in
 * ROOT/PID/fdinfo/FD. Leases and waiting requests are not locks held.
 * `ino` (0: any) is the inode the caller means: an fd whose fdinfo names
 * another (the number was reused since) holds none of its locks. 1 when
 * it does, 0 when not, -errno (-ESRCH: no such process, -ENOENT: no such
 * fd). root NULL: /proc.
 */
int fdw_proc_fd_locked(const char *root, uint32_t pid, int fd, uint64_t ino);

/* Every open fd of task `tid`, in no particular order. */
int fdw_proc_read_table(const char *root, uint32_t tid,
			void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata);

/* comm (without newline) and ppid of a process. */
int fdw_proc_read_stat(const char *root, uint32_t pid, char comm[16], uint32_t *ppid);

/* Thread ids of a process, leader first. *tids is malloc'd. */
int fdw_proc_list_tasks(const char *root, uint32_t pid, uint32_t **tids, unsigned int *n);

/*
 * Keep of tids[0..n) (tasks of process pid) those that still have an fd
 * table, in order; returns how many. A task that is exiting (PF_EXITING:
 * exit_files() follows) or a zombie has none. A process with none left has
 * exited: only its reaping, which nothing traces, is still to come.
 */
unsigned int fdw_proc_live_tasks(const char *root, uint32_t pid, uint32_t *tids, unsigned int n);

/* Has process pid exited (every task exiting or a zombie), or gone? false
 * when it has not, or when /proc would not say (EACCES, ENOMEM). */
bool fdw_proc_exited(const char *root, uint32_t pid);

/* Call cb for every numeric entry of /proc. */
int fdw_proc_list_pids(const char *root, int (*cb)(void *data, uint32_t pid), void *data);

/* kcmp(KCMP_FILE): 1 when the two fds share an open file description,
 * 0 when not, -errno when the kernel cannot tell. */
int fdw_proc_same_file(uint32_t tid1, int fd1, uint32_t tid2, int fd2);

/* kcmp(KCMP_FILE) as the kernel answers it: 0 when the two fds share an
 * open file description, 1 when fd1's comes first, 2 when it comes after
 * (a total order on the kernel's struct file addresses, obfuscated but
 * consistent for the kernel's lifetime), 3 when unordered; -errno when the
 * kernel cannot tell. Sorting by it groups fds in O(N log N) calls. */
int fdw_proc_cmp_file(uint32_t tid1, int fd1, uint32_t tid2, int fd2);

/* RLIMIT_NOFILE soft and hard limits of a process (prlimit). */
int fdw_proc_nofile_limit(uint32_t pid, uint64_t *soft, uint64_t *hard);
