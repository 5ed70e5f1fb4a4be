/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fanotify churn for test_fanotify_churn.py.
 *
 *   fdw_fan cycles N     N x fanotify_init(FAN_CLASS_NOTIF|FAN_REPORT_FID) +
 *                        close (an unprivileged user may do it)
 *   fdw_fan churn N      N fanotify fds each gone by another path than
 *                        close: dup2 over it, close_range, exec (close-on-
 *                        exec), exit; unprivileged
 *   fdw_fan exec K       (churn's own re-exec: K more rounds)
 *   fdw_fan reader PATH  root: a FAN_OPEN reader on PATH; opens PATH, reads
 *                        the event, checkpoint "read" with fan=FD fd=EVENT_FD
 *   fdw_fan prereader PATH  the same, with a checkpoint "armed" (fan=FD)
 *                        between the mark and the open: the driver starts
 *                        fdwatchd there, after the fanotify_init
 *
 * Unprivileged runs print one line, "ok n=N", and exit 0. A user may hold
 * only fs.fanotify.max_user_groups (128) groups at once: held fds come in
 * batches of BATCH.
 */
#include "fdwt.h"

#include <stdbool.h>
#include <sys/fanotify.h>
#include <sys/resource.h>

#define BATCH 100
#define UNPRIV_FLAGS (FAN_CLASS_NOTIF | FAN_REPORT_FID)

static int fan(unsigned int extra)
{
	int fd = fanotify_init(UNPRIV_FLAGS | extra, 0);

	if (fd < 0)
		die("fanotify_init");
	return fd;
}

static int cycles(long n)
{
	for (long i = 0; i < n; i++)
		if (close(fan(0)) < 0)
			die("close");
	printf("ok n=%ld\n", n);
	return 0;
}

/* Open up to BATCH fanotify fds with `extra` flags; returns the lowest. */
static int batch(unsigned int extra, int k)
{
	int lo = -1;

	for (int i = 0; i < k; i++) {
		int fd = fan(extra);

		if (lo < 0 || fd < lo)
			lo = fd;
	}
	return lo;
}

/* `rounds` x (BATCH close-on-exec fanotify fds, then exec) */
static int exec_rounds(const char *self, long rounds)
{
	char arg[32];

	if (rounds <= 0) {
		printf("ok exec\n");
		return 0;
	}
	(void)batch(FAN_CLOEXEC, BATCH);
	snprintf(arg, sizeof(arg), "%ld", rounds - 1);
	fflush(stdout);
	execl("/proc/self/exe", self, "exec", arg, (char *)NULL);
	die("exec %s", self);
}

static int churn(const char *self, long n)
{
	long rounds = (n + BATCH - 1) / BATCH;
	int null = xopen("/dev/null", O_RDONLY | O_CLOEXEC);

	/* dup2 over each */
	for (long i = 0; i < n; i++) {
		int fd = fan(0);

		if (dup2(null, fd) != fd || close(fd) < 0)
			die("dup2 over %d", fd);
	}
	/* close_range over batches */
	for (long r = 0; r < rounds; r++) {
		int lo = batch(0, BATCH);

		if (syscall(SYS_close_range, lo, ~0u, 0) < 0)
			die("close_range");
	}
	/* exit with a batch held */
	for (long r = 0; r < rounds; r++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			(void)batch(0, BATCH);
			_exit(0);
		}
		wait_exit0(pid);
	}
	printf("ok n=%ld\n", n);
	/* exec dropping close-on-exec batches */
	return exec_rounds(self, rounds);
}

static int reader(const char *path, bool pause)
{
	char buf[4096] __attribute__((aligned(8)));
	struct fanotify_event_metadata *md = (void *)buf;
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		die("fanotify_init (root)");
	if (fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, path) < 0)
		die("fanotify_mark %s", path);
	if (pause)
		cp("armed", "fan=%d", fd);
	close(xopen(path, O_RDONLY | O_CLOEXEC));
	n = read(fd, buf, sizeof(buf));
	expect(n >= (ssize_t)sizeof(*md) && md->fd >= 0, "fanotify read: %zd", n);
	cp("read", "fan=%d fd=%d", fd, md->fd);
	(void)close(md->fd);
	(void)close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;

	fdwt_init(argc, argv);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (argc > 2 && !strcmp(argv[1], "cycles"))
		return cycles(strtol(argv[2], NULL, 10));
	if (argc > 2 && !strcmp(argv[1], "churn"))
		return churn(argv[0], strtol(argv[2], NULL, 10));
	if (argc > 2 && !strcmp(argv[1], "exec"))
		return exec_rounds(argv[0], strtol(argv[2], NULL, 10));
	if (argc > 2 && !strcmp(argv[1], "reader"))
		return reader(argv[2], false);
	if (argc > 2 && !strcmp(argv[1], "prereader"))
		return reader(argv[2], true);
	fprintf(stderr, "usage: fdw_fan cycles N | churn N | reader PATH | prereader PATH\n");
	return 2;
}
