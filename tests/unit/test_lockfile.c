// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * base/lockfile.c: the lock is exclusive (a second open file description
 * is refused even in the same process), the refusal names the holder's
 * pid, closing releases it, missing directories are created, and a FIFO
 * or a symlink in its place is refused without blocking.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/lockfile.h"
#include "check.h"

static char dir[] = "/tmp/fdw-test-lockfile-XXXXXX";

int main(void)
{
	char path[300], fifo[300], link[300], text[32] = "";
	pid_t holder = -1;
	int a = -1, b = -1, fd;
	ssize_t n;

	alarm(20); /* a blocking open would hang the test: fail it instead */
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* fdw_mkdir_parents: every directory above the file, none for it */
	{
		struct stat st;

		snprintf(path, sizeof(path), "%s/p/q/r/file", dir);
		CHECK_EQ(fdw_mkdir_parents(path), 0);
		CHECK_EQ(fdw_mkdir_parents(path), 0); /* again: they exist */
		snprintf(path, sizeof(path), "%s/p/q/r", dir);
		CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
		snprintf(path, sizeof(path), "%s/p/q/r/file", dir);
		CHECK(stat(path, &st) < 0 && errno == ENOENT);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		CHECK(fd >= 0);
		if (fd >= 0)
			(void)close(fd);
		/* a file where a directory should be */
		snprintf(path, sizeof(path), "%s/p/q/r/file/x", dir);
		CHECK_EQ(fdw_mkdir_parents(path), -ENOTDIR);
	}
	/* missing parents are created */
	snprintf(path, sizeof(path), "%s/run/fdwatch/fdwatchd.lock", dir);
	CHECK_EQ(fdw_lockfile_take(path, &a, &holder), 0);
	CHECK(a >= 0);
	CHECK_EQ(holder, 0);
	CHECK((fcntl(a, F_GETFD) & FD_CLOEXEC) != 0);
	/* the file names the holder */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(n > 0);
	CHECK_EQ(strtol(text, NULL, 10), getpid());

	/* a second open file description is refused, naming the holder */
	CHECK_EQ(fdw_lockfile_take(path, &b, &holder), -EWOULDBLOCK);
	CHECK_EQ(b, -1);
	CHECK_EQ(holder, getpid());

	/* closing releases it; the file stays */
	CHECK_EQ(close(a), 0);
	CHECK_EQ(fdw_lockfile_take(path, &b, &holder), 0);
	CHECK(b >= 0);
	if (b >= 0)
		close(b);
	CHECK_EQ(access(path, F_OK), 0);

	/* a FIFO in its place: refused at once, not a hang in open() */
	snprintf(fifo, sizeof(fifo), "%s/fifo.lock", dir);
	CHECK_EQ(mkfifo(fifo, 0600), 0);
	b = -1;
	CHECK_EQ(fdw_lockfile_take(fifo, &b, &holder), -EINVAL);
	CHECK_EQ(b, -1);
	/* a symlink is not followed */
	snprintf(link, sizeof(link), "%s/link.lock", dir);
	CHECK_EQ(symlink(path, link), 0);
	CHECK_EQ(fdw_lockfile_take(link, &b, &holder), -ELOOP);

	(void)unlink(link);
	(void)unlink(fifo);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/run/fdwatch", dir);
	(void)rmdir(path);
	snprintf(path, sizeof(path), "%s/run", dir);
	(void)rmdir(path);
	(void)rmdir(dir);
	return check_summary();
}
