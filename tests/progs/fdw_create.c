/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every fd-creating syscall fdwatch follows, with and without its
 * close-on-exec flag, one checkpoint per family (see test_create.py).
 * All calls are raw syscall()s so the syscall the probes see is the one
 * named in the checkpoint.
 *
 * Checkpoint keys:
 *   fds=FD:SYSCALL:CLOEXEC,...   fds this step created (CLOEXEC: 0/1, as requested)
 *   unavailable=SYSCALL:ERRNO,...  optional syscalls this machine refused
 *   failed=SYSCALL:ERRNO,...     deliberate failures (nothing installed)
 *   same=FD                      a call that returned an existing fd (signalfd update)
 */
#include "fdwt.h"

#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <linux/perf_event.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <time.h>

static struct fdwt_sb fds_sb, unav_sb, failed_sb, extra_sb;

static void rec(int fd, const char *sys, int cloexec)
{
	if (fd < 0)
		die("%s", sys);
	expect(fd_cloexec(fd) == cloexec, "%s: fd %d cloexec is %d", sys, fd, !cloexec);
	sb_add(&fds_sb, "%s%d:%s:%d", fds_sb.len ? "," : "", fd, sys, cloexec);
}

/* An optional syscall: records the fd, or why it is unavailable. */
static void rec_opt(int fd, const char *sys, int cloexec)
{
	if (fd >= 0) {
		rec(fd, sys, cloexec);
		return;
	}
	fprintf(stderr, "%s: note: %s unavailable: %s\n", fdwt_prog, sys, strerror(errno));
	sb_add(&unav_sb, "%s%s:%d", unav_sb.len ? "," : "", sys, errno);
}

/* A deliberate failure: must fail with `err` and install nothing. */
static void rec_fail(int ret, const char *sys, int err)
{
	expect(ret == -1 && errno == err, "%s returned %d errno %d, expected errno %d", sys, ret,
	       errno, err);
	sb_add(&failed_sb, "%s%s:%d", failed_sb.len ? "," : "", sys, err);
}

static void step(const char *name)
{
	cp(name, "fds=%s unavailable=%s failed=%s%s%s", sb_str(&fds_sb), sb_str(&unav_sb),
	   sb_str(&failed_sb), extra_sb.len ? " " : "", sb_str(&extra_sb));
	sb_reset(&fds_sb);
	sb_reset(&unav_sb);
	sb_reset(&failed_sb);
	sb_reset(&extra_sb);
}

static int unix_listener(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int l = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);

	if (l < 0)
		die("socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 8) < 0)
		die("bind/listen %s", path);
	return l;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int c = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);

	if (c < 0)
		die("socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s", path);
	return c;
}

static void paths(const char *dir, const char *pa)
{
	char p[4096], longdir[4096];
	int dfd, fd, pp[2], i;
	size_t n;

	/* relative to a dirfd */
	dfd = sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0);
	rec(dfd, "openat", 0);
	rec(sys_openat(dfd, "a", O_RDONLY, 0), "openat", 0);
	/* relative to the cwd */
	if (chdir(dir) < 0)
		die("chdir");
	rec(sys_open("b", O_RDONLY, 0), "open", 0);
	rec(sys_open("./sub/../a", O_RDONLY | O_CLOEXEC, 0), "open", 1);
	if (chdir("/") < 0)
		die("chdir /");
	/* doubled slashes */
	snprintf(p, sizeof(p), "/%s//a", dir);
	rec(sys_open(p, O_RDONLY, 0), "open", 0);
	/* a symlink */
	snprintf(p, sizeof(p), "%s/link", dir);
	if (symlink(pa, p) < 0)
		die("symlink");
	rec(sys_open(p, O_RDONLY, 0), "open", 0);
	/* a path longer than the probe's path buffer */
	n = (size_t)snprintf(longdir, sizeof(longdir), "%s", dir);
	for (i = 0; i < 6; i++) {
		n += (size_t)snprintf(longdir + n, sizeof(longdir) - n,
				      "/d%d_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU", i);
		if (mkdir(longdir, 0700) < 0)
			die("mkdir %s", longdir);
	}
	free(make_file(longdir, "deep file é"));
	snprintf(p, sizeof(p), "%s/deep file é", longdir);
	rec(sys_open(p, O_RDONLY, 0), "open", 0);
	/* reopening a pipe through /proc/self/fd */
	if (syscall(SYS_pipe2, pp, O_CLOEXEC) < 0)
		die("pipe2");
	rec(pp[0], "pipe2", 1);
	rec(pp[1], "pipe2", 1);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", pp[0]);
	rec(sys_open(p, O_RDONLY | O_NONBLOCK, 0), "open", 0);
	/* renamed after open */
	free(make_file(dir, "before-rename"));
	snprintf(p, sizeof(p), "%s/before-rename", dir);
	fd = sys_open(p, O_RDONLY, 0);
	rec(fd, "open", 0);
	snprintf(longdir, sizeof(longdir), "%s/after-rename", dir);
	if (rename(p, longdir) < 0)
		die("rename");
	/* unlinked after open */
	free(make_file(dir, "unlinked"));
	snprintf(p, sizeof(p), "%s/unlinked", dir);
	rec(sys_open(p, O_RDONLY, 0), "open", 0);
	if (unlink(p) < 0)
		die("unlink");
	/* a named FIFO (readlink shows its path, not pipe:[ino]) */
	snprintf(p, sizeof(p), "%s/fifo", dir);
	if (mkfifo(p, 0600) < 0)
		die("mkfifo");
	rec(sys_open(p, O_RDWR | O_NONBLOCK, 0), "open", 0);
	/* ... and one unlinked after open: "PATH (deleted)" */
	snprintf(p, sizeof(p), "%s/fifo-unlinked", dir);
	if (mkfifo(p, 0600) < 0)
		die("mkfifo");
	rec(sys_open(p, O_RDONLY | O_NONBLOCK, 0), "open", 0);
	if (unlink(p) < 0)
		die("unlink");
	/* O_TMPFILE, O_PATH, a directory, a device */
	rec_opt(sys_open(dir, O_TMPFILE | O_RDWR, 0600), "open", 0);
	rec(sys_open(pa, O_PATH, 0), "open", 0);
	rec(sys_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0), "open", 1);
	rec(sys_open("/dev/null", O_WRONLY, 0), "open", 0);
	step("paths");
}

int main(int argc, char **argv)
{
	char *dir, *pa, sockpath[108];
	int fd, sv[2], pp[2], l, c, pidfd;
	sigset_t mask;

	fdwt_init(argc, argv);
	dir = make_tmpdir("create");
	pa = make_file(dir, "a");
	free(make_file(dir, "b"));
	{
		char sub[512];

		snprintf(sub, sizeof(sub), "%s/sub", dir);
		if (mkdir(sub, 0700) < 0)
			die("mkdir");
	}

	/* open family */
	rec(sys_open(pa, O_RDONLY, 0), "open", 0);
	rec(sys_open(pa, O_RDONLY | O_CLOEXEC, 0), "open", 1);
	rec_fail(sys_open("/nonexistent/fdwatch", O_RDONLY, 0), "open", ENOENT);
	step("open");

	rec(sys_openat(AT_FDCWD, pa, O_RDWR, 0), "openat", 0);
	rec(sys_openat(AT_FDCWD, pa, O_RDONLY | O_CLOEXEC, 0), "openat", 1);
	step("openat");

	{
		struct open_how how = {.flags = O_RDONLY};

		rec((int)syscall(SYS_openat2, AT_FDCWD, pa, &how, sizeof(how)), "openat2", 0);
		how.flags = O_RDONLY | O_CLOEXEC;
		rec((int)syscall(SYS_openat2, AT_FDCWD, pa, &how, sizeof(how)), "openat2", 1);
		how.flags = O_RDONLY;
		how.resolve = RESOLVE_BENEATH;
		rec_fail((int)syscall(SYS_openat2, AT_FDCWD, "/etc/passwd", &how, sizeof(how)),
			 "openat2", EXDEV);
	}
	step("openat2");

	{
		char p[512];

		snprintf(p, sizeof(p), "%s/created", dir);
		rec((int)syscall(SYS_creat, p, 0600), "creat", 0);
	}
	step("creat");

	/* sockets */
	rec((int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0), "socket", 0);
	rec((int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), "socket", 1);
	rec((int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0), "socket", 0);
	rec((int)syscall(SYS_socket, AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0),
	    "socket", 1);
	rec_fail((int)syscall(SYS_socket, 12345, SOCK_STREAM, 0), "socket", EAFNOSUPPORT);
	step("socket");

	if (syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	rec(sv[0], "socketpair", 0);
	rec(sv[1], "socketpair", 0);
	if (syscall(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	rec(sv[0], "socketpair", 1);
	rec(sv[1], "socketpair", 1);
	step("socketpair");

	snprintf(sockpath, sizeof(sockpath), "%s/listen.sock", dir);
	l = unix_listener(sockpath);
	rec(l, "socket", 0);
	c = unix_connect(sockpath);
	rec(c, "socket", 0);
	rec((int)syscall(SYS_accept, l, NULL, NULL), "accept", 0);
	c = unix_connect(sockpath);
	rec(c, "socket", 0);
	rec((int)syscall(SYS_accept4, l, NULL, NULL, 0), "accept4", 0);
	c = unix_connect(sockpath);
	rec(c, "socket", 0);
	rec((int)syscall(SYS_accept4, l, NULL, NULL, SOCK_CLOEXEC), "accept4", 1);
	rec_fail((int)syscall(SYS_accept4, l, NULL, NULL, 0x1), "accept4", EINVAL);
	step("accept");

	/* pipes */
	if (syscall(SYS_pipe, pp) < 0)
		die("pipe");
	rec(pp[0], "pipe", 0);
	rec(pp[1], "pipe", 0);
	if (syscall(SYS_pipe2, pp, 0) < 0)
		die("pipe2");
	rec(pp[0], "pipe2", 0);
	rec(pp[1], "pipe2", 0);
	if (syscall(SYS_pipe2, pp, O_CLOEXEC) < 0)
		die("pipe2");
	rec(pp[0], "pipe2", 1);
	rec(pp[1], "pipe2", 1);
	step("pipe");

	rec((int)syscall(SYS_eventfd, 0), "eventfd", 0);
	rec((int)syscall(SYS_eventfd2, 0, 0), "eventfd2", 0);
	rec((int)syscall(SYS_eventfd2, 0, EFD_CLOEXEC), "eventfd2", 1);
	step("eventfd");

	rec((int)syscall(SYS_epoll_create, 1), "epoll_create", 0);
	rec((int)syscall(SYS_epoll_create1, 0), "epoll_create1", 0);
	rec((int)syscall(SYS_epoll_create1, EPOLL_CLOEXEC), "epoll_create1", 1);
	rec_fail((int)syscall(SYS_epoll_create, 0), "epoll_create", EINVAL);
	step("epoll");

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	rec((int)syscall(SYS_signalfd, -1, &mask, 8), "signalfd", 0);
	rec((int)syscall(SYS_signalfd4, -1, &mask, 8, 0), "signalfd4", 0);
	fd = (int)syscall(SYS_signalfd4, -1, &mask, 8, SFD_CLOEXEC);
	rec(fd, "signalfd4", 1);
	step("signalfd");
	/* updating an existing signalfd returns that fd: nothing new */
	sigaddset(&mask, SIGUSR2);
	expect(syscall(SYS_signalfd4, fd, &mask, 8, 0) == fd, "signalfd update");
	sb_add(&extra_sb, "same=%d", fd);
	step("signalfd_update");

	rec((int)syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0), "timerfd_create", 0);
	rec((int)syscall(SYS_timerfd_create, CLOCK_MONOTONIC, TFD_CLOEXEC), "timerfd_create", 1);
	step("timerfd");

	rec((int)syscall(SYS_inotify_init), "inotify_init", 0);
	rec((int)syscall(SYS_inotify_init1, 0), "inotify_init1", 0);
	rec((int)syscall(SYS_inotify_init1, IN_CLOEXEC), "inotify_init1", 1);
	step("inotify");

	rec_opt((int)syscall(SYS_fanotify_init, FAN_CLASS_NOTIF, O_RDONLY), "fanotify_init", 0);
	rec_opt((int)syscall(SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY),
		"fanotify_init", 1);
	step("fanotify");

	rec((int)syscall(SYS_memfd_create, "fdwt", 0), "memfd_create", 0);
	rec((int)syscall(SYS_memfd_create, "fdwt-cloexec", MFD_CLOEXEC), "memfd_create", 1);
	step("memfd");

	rec_opt((int)syscall(SYS_userfaultfd, 0), "userfaultfd", 0);
	rec_opt((int)syscall(SYS_userfaultfd, O_CLOEXEC), "userfaultfd", 1);
	step("userfaultfd");

	{
		struct perf_event_attr pa_attr = {
			.type = PERF_TYPE_SOFTWARE,
			.size = sizeof(pa_attr),
			.config = PERF_COUNT_SW_CPU_CLOCK,
			.disabled = 1,
		};

		rec_opt((int)syscall(SYS_perf_event_open, &pa_attr, 0, -1, -1, 0), "perf_event_open", 0);
		rec_opt((int)syscall(SYS_perf_event_open, &pa_attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC),
			"perf_event_open", 1);
	}
	step("perf_event_open");

	/* pidfds are always close-on-exec */
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	rec(pidfd, "pidfd_open", 1);
	step("pidfd_open");

	fd = sys_open(pa, O_RDONLY, 0);
	rec(fd, "open", 0);
	rec((int)syscall(SYS_pidfd_getfd, pidfd, fd, 0), "pidfd_getfd", 1);
	rec_fail((int)syscall(SYS_pidfd_getfd, pidfd, 4321, 0), "pidfd_getfd", EBADF);
	sb_add(&extra_sb, "getfd_src=%d", fd);
	step("pidfd_getfd");

	{
		struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
		int mount_id, mfd;

		if (!fh)
			die("malloc");
		fh->handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(AT_FDCWD, pa, fh, &mount_id, 0) < 0) {
			sb_add(&unav_sb, "open_by_handle_at:%d", errno);
		} else {
			mfd = sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0);
			rec(mfd, "openat", 0);
			rec_opt((int)syscall(SYS_open_by_handle_at, mfd, fh, O_RDONLY),
				"open_by_handle_at", 0);
			rec_opt((int)syscall(SYS_open_by_handle_at, mfd, fh, O_RDONLY | O_CLOEXEC),
				"open_by_handle_at", 1);
		}
		free(fh);
	}
	step("open_by_handle_at");

	{
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		/* io_uring fds are always close-on-exec */
		rec_opt((int)syscall(SYS_io_uring_setup, 4, &p), "io_uring_setup", 1);
	}
	step("io_uring_setup");

	paths(dir, pa);

	expect(sys_close_range(3, ~0U, 0) == 0, "close_range");
	cp("close_all", NULL);
	rm_rf(dir);
	return 0;
}
