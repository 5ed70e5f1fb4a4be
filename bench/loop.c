/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdwatch-bench-loop: a tight syscall loop, timed with CLOCK_MONOTONIC.
 *
 *   fdwatch-bench-loop dupclose N   N x (dup(fd) + close), fd open on /dev/null
 *   fdwatch-bench-loop openclose N  N x (open("/etc/hostname") + close): a path
 *                                   copy and a target the daemon must resolve
 *   fdwatch-bench-loop socketclose N N x (socket(AF_UNIX) + close)
 *   fdwatch-bench-loop pipeclose N  N x (pipe2 + close + close)
 *   fdwatch-bench-loop getppid N    N x getppid() (a syscall fdwatch does not trace)
 *   fdwatch-bench-loop piperw N     N x (write + read) of 64 bytes on a pipe: the
 *                                   read probe's cost (it filters fanotify files)
 *   fdwatch-bench-loop forkexit N   N x (fork, the child _exits, waitpid): the
 *                                   fork-heavy row (a fork and an exit record each)
 *
 * Prints one line of key=value pairs:
 *   mode=dupclose iterations=N warmup=W ns_per_iter=X.XX total_ns=T fd_syscalls=S
 * ns_per_iter covers the N timed iterations; fd_syscalls is the number of
 * traced syscalls the loops made (warm-up included), i.e. the events a
 * tracer must deliver for them (for forkexit: the fork and exit records).
 * bench/run.sh reads it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WARMUP_MAX 10000u

static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -errno;
	if (*end != '\0' || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Returns 0, or -errno when dup or close fails. */
static int dupclose(int fd, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int d = dup(fd);

		if (d < 0)
			return -errno;
		if (close(d) < 0)
			return -errno;
	}
	return 0;
}

static int openclose(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return -errno;
		if (close(fd) < 0)
			return -errno;
	}
	return 0;
}

static int socketclose(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		if (close(fd) < 0)
			return -errno;
	}
	return 0;
}

static int pipeclose(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		if (close(p[0]) < 0 || close(p[1]) < 0)
			return -errno;
	}
	return 0;
}

static int getppid_loop(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		(void)getppid();
	return 0;
}

/* 64 bytes: longer than one fanotify event, so the probe's filter runs whole */
static int piperw(const int p[2], uint64_t n)
{
	char buf[64] = { 0 };

	for (uint64_t i = 0; i < n; i++) {
		if (write(p[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return -EIO;
		if (read(p[0], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return -EIO;
	}
	return 0;
}

static int forkexit(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		pid_t pid = fork();
		int st;

		if (pid < 0)
			return -errno;
		if (pid == 0)
			_exit(0);
		while (waitpid(pid, &st, 0) != pid)
			if (errno != EINTR)
				return -errno;
	}
	return 0;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s dupclose|openclose|socketclose|pipeclose|getppid|piperw|forkexit N\n"
		"  dupclose N  N x (dup(fd) + close) on an fd open on /dev/null\n"
		"  openclose N N x (open(\"/etc/hostname\") + close)\n"
		"  socketclose N N x (socket(AF_UNIX, SOCK_STREAM) + close)\n"
		"  pipeclose N N x (pipe2 + close + close)\n"
		"  getppid N   N x getppid()\n"
		"  piperw N    N x (write + read) of 64 bytes on a pipe\n"
		"  forkexit N  N x (fork + the child's _exit + waitpid)\n",
		argv0);
}

int main(int argc, char **argv)
{
	uint64_t n = 0, warmup, t0, t1, fd_syscalls;
	int fd = -1, r;
	const char *mode;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout, argv[0]);
		return 0;
	}
	if (argc != 3) {
		usage(stderr, argv[0]);
		return 2;
	}
	mode = argv[1];
	if (parse_count(argv[2], &n) < 0) {
		fprintf(stderr, "%s: bad iteration count: %s\n", argv[0], argv[2]);
		return 2;
	}
	warmup = n / 10 < WARMUP_MAX ? n / 10 : WARMUP_MAX;

	if (strcmp(mode, "dupclose") == 0) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "%s: open /dev/null: %s\n", argv[0], strerror(errno));
			return 1;
		}
		r = dupclose(fd, warmup);
		t0 = now_ns();
		if (r == 0)
			r = dupclose(fd, n);
		t1 = now_ns();
		fd_syscalls = 2 * (warmup + n);
	} else if (strcmp(mode, "openclose") == 0 || strcmp(mode, "socketclose") == 0 ||
		   strcmp(mode, "pipeclose") == 0) {
		int (*fn)(uint64_t) = mode[0] == 'o' ? openclose :
				      mode[0] == 's' ? socketclose : pipeclose;

		r = fn(warmup);
		t0 = now_ns();
		if (r == 0)
			r = fn(n);
		t1 = now_ns();
		/* pipe2 makes one record for both ends, then two closes */
		fd_syscalls = (mode[0] == 'p' ? 3 : 2) * (warmup + n);
	} else if (strcmp(mode, "getppid") == 0) {
		r = getppid_loop(warmup);
		t0 = now_ns();
		r = getppid_loop(n);
		t1 = now_ns();
		fd_syscalls = 0;
	} else if (strcmp(mode, "piperw") == 0) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0) {
			fprintf(stderr, "%s: pipe2: %s\n", argv[0], strerror(errno));
			return 1;
		}
		r = piperw(p, warmup);
		t0 = now_ns();
		if (r == 0)
			r = piperw(p, n);
		t1 = now_ns();
		(void)close(p[0]);
		(void)close(p[1]);
		fd_syscalls = 0; /* read and write of a pipe make no record */
	} else if (strcmp(mode, "forkexit") == 0) {
		r = forkexit(warmup);
		t0 = now_ns();
		if (r == 0)
			r = forkexit(n);
		t1 = now_ns();
		fd_syscalls = 2 * (warmup + n); /* a fork and an exit record each */
	} else {
		usage(stderr, argv[0]);
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], mode, strerror(-r));
		return 1;
	}
	if (fd >= 0)
		(void)close(fd);

	printf("mode=%s iterations=%" PRIu64 " warmup=%" PRIu64 " ns_per_iter=%.2f total_ns=%" PRIu64
	       " fd_syscalls=%" PRIu64 "\n",
	       mode, n, warmup, (double)(t1 - t0) / (double)n, t1 - t0, fd_syscalls);
	return 0;
}
