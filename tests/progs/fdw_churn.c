/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A known amount of fd work, or an endless churn of it.
 *
 *   fdw_churn count N    opens /dev/null (fd A), checkpoint "start", then
 *                        exactly N times dup(A) + close of the new fd (raw
 *                        syscalls), checkpoint "done n=N src=A dups=FD,FD"
 *                        (the lowest and highest fd dup returned), exits.
 *                        test_status.py counts these through the API.
 *   fdw_churn load       until killed: open/close, socket/close, pipe/close,
 *                        and every 20th round a fork whose child opens a
 *                        file, dups it and exits (reaped). Prints "START
 *                        pid=P" first. A load generator to stop with
 *                        SIGSTOP (test_status_metrics.py); ~2 ms pause a
 *                        round so it shares the 2-core machine.
 */
#include "fdwt.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

static int count(long n)
{
	int a, d, lo = -1, hi = -1;
	long i;

	a = xopen("/dev/null", O_RDONLY);
	cp("start", "n=%ld src=%d", n, a);
	for (i = 0; i < n; i++) {
		d = sys_dup(a);
		expect(d >= 0, "dup #%ld", i);
		if (lo < 0 || d < lo)
			lo = d;
		if (d > hi)
			hi = d;
		expect(sys_close(d) == 0, "close #%ld", i);
	}
	cp("done", "n=%ld src=%d dups=%d,%d", n, a, lo, hi);
	return 0;
}

static int load(void)
{
	struct timespec pause = { 0, 2000000 };
	unsigned long round;
	int fd, pp[2];
	pid_t child;

	printf("START pid=%d\n", getpid());
	fflush(stdout);
	for (round = 0;; round++) {
		fd = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
		expect(sys_close(fd) == 0, "close");
		fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		expect(fd >= 0 && sys_close(fd) == 0, "socket/close");
		expect(syscall(SYS_pipe2, pp, O_CLOEXEC) == 0, "pipe2");
		expect(sys_close(pp[0]) == 0 && sys_close(pp[1]) == 0, "close pipe");
		if (round % 20 == 0) {
			child = fork();
			if (child < 0)
				die("fork");
			if (child == 0) {
				fd = xopen("/dev/null", O_RDONLY);
				(void)sys_dup(fd);
				_exit(0);
			}
			while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
				;
		}
		nanosleep(&pause, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	fdwt_init(argc, argv);
	if (argc > 2 && !strcmp(argv[1], "count"))
		return count(strtol(argv[2], NULL, 10));
	if (argc > 1 && !strcmp(argv[1], "load"))
		return load();
	fprintf(stderr, "usage: fdw_churn count N | fdw_churn load\n");
	return 2;
}
