/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An exclusive lock on a file: flock(LOCK_EX|LOCK_NB), held as long as the
 * descriptor is open and dropped by the kernel when the holder dies, so it
 * is never stale. The holder writes its pid into the file; a refused caller
 * reads it to name who holds the lock. The file is never removed (removing
 * a lock file lets two processes lock two different inodes).
 *
 *   int fd;
 *   pid_t holder;
 *   r = fdw_lockfile_take("/run/fdwatch/fdwatchd.lock", &fd, &holder);
 *   ... close(fd) releases it.
 */
#pragma once

#include <sys/types.h>

/*
 * Open (creating it and its missing parent directories) and lock `path`.
 * The file is opened O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC and must be a regular
 * file. Returns 0 with the descriptor in *fd; -EWOULDBLOCK when another
 * process holds it, with its pid in *holder (0 when the file does not name
 * one); -EINVAL when `path` is not a regular file; or another -errno.
 */
int fdw_lockfile_take(const char *path, int *fd, pid_t *holder);
