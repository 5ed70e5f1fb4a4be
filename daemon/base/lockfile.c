// SPDX-License-Identifier: LGPL-2.1-or-later
/* An exclusive lock file that names its holder (base/lockfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/lockfile.h"

/* The pid the holder wrote, 0 when there is none (yet). */
static pid_t read_holder(int fd)
{
	char buf[32];
	char *end;
	long v;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n') || v <= 0 || v > 0x7fffffff)
		return 0;
	return (pid_t)v;
}

static int write_pid(int fd)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	ssize_t n;

	if (ftruncate(fd, 0) < 0)
		return -errno;
	n = pwrite(fd, buf, (size_t)len, 0);
	if (n < 0)
		return -errno;
	return n == len ? 0 : -EIO;
}

int fdw_lockfile_take(const char *path, int *fd_out, pid_t *holder)
{
	struct stat st;
	int fd, r;

	if (holder)
		*holder = 0;
	r = fdw_mkdir_parents(path);
	if (r < 0)
		return r;
	/* O_NONBLOCK: a FIFO planted at `path` must not hang us in open() */
	fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto fail;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		if (r == -EWOULDBLOCK && holder) {
			/* the holder writes its pid just after it locks: give it a moment */
			for (int i = 0; i < 20 && !(*holder = read_holder(fd)); i++)
				(void)nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
		}
		goto fail;
	}
	r = write_pid(fd);
	if (r < 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	(void)close(fd);
	return r;
}
