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
 *   fdw_churn stress MODE SECONDS [PIDFILE]
 *                        as fast as one core allows for SECONDS, then exits
 *                        0: MODE open (open+close), socket (socket+close),
 *                        pipe (pipe2+close x2), accept (a loopback TCP
 *                        client connects, the server accepts, both close;
 *                        the client with SO_LINGER 0, so no TIME_WAIT
 *                        exhausts the ports), fork (holds 5,000 fds, forks
 *                        children that exit at once and reaps them; their
 *                        pids go to PIDFILE, one per line). Prints "START
 *                        pid=P" when set up, "DONE ops=N secs=S" at the end.
 *                        test_stress_churn.py runs it pinned to one CPU.
 */
#include "fdwt.h"

#include <netinet/in.h>
#include <sys/resource.h>
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

#define STRESS_HELD_FDS 5000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The listening end of the accept mode, on 127.0.0.1 and a free port. */
static int tcp_listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket");
	*addr = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(s, (struct sockaddr *)addr, sizeof(*addr)) < 0 || listen(s, 64) < 0 ||
	    getsockname(s, (struct sockaddr *)addr, &len) < 0)
		die("listen on 127.0.0.1");
	return s;
}

static void accept_once(int lsn, const struct sockaddr_in *addr)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int c, a;

	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	expect(c >= 0, "socket");
	expect(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "SO_LINGER");
	/* loopback: the handshake completes into the backlog at once */
	expect(connect(c, (const struct sockaddr *)addr, sizeof(*addr)) == 0, "connect");
	a = accept4(lsn, NULL, NULL, SOCK_CLOEXEC);
	expect(a >= 0, "accept4");
	expect(close(c) == 0 && close(a) == 0, "close");
}

/* 5,000 fds held (the soft limit raised, so they are far from it) */
static void hold_fds(void)
{
	struct rlimit rl;
	int fd = xopen("/dev/null", O_RDONLY | O_CLOEXEC);

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	if (rl.rlim_cur < 4 * STRESS_HELD_FDS) {
		rl.rlim_cur = rl.rlim_max < 4 * STRESS_HELD_FDS ? rl.rlim_max : 4 * STRESS_HELD_FDS;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit");
	}
	for (int i = 1; i < STRESS_HELD_FDS; i++)
		expect(fcntl(fd, F_DUPFD_CLOEXEC, 0) >= 0, "dup #%d", i);
}

static int stress(const char *mode, double secs, const char *pidfile)
{
	struct sockaddr_in addr;
	unsigned long ops = 0;
	FILE *pids = NULL;
	int lsn = -1, fd, pp[2];
	double t0, end;

	if (!strcmp(mode, "accept"))
		lsn = tcp_listener(&addr);
	else if (!strcmp(mode, "fork"))
		hold_fds();
	else if (strcmp(mode, "open") && strcmp(mode, "socket") && strcmp(mode, "pipe"))
		return fprintf(stderr, "unknown stress mode %s\n", mode), 2;
	if (!strcmp(mode, "fork") && pidfile && !(pids = fopen(pidfile, "we")))
		die("%s", pidfile);
	printf("START pid=%d\n", getpid());
	fflush(stdout);
	t0 = now_s();
	end = t0 + secs;
	/* the clock is read every 256 rounds: a syscall-light loop */
	while ((ops & 255) || now_s() < end) {
		switch (mode[0]) {
		case 'o':
			fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
			expect(fd >= 0 && sys_close(fd) == 0, "open/close");
			break;
		case 's':
			fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			expect(fd >= 0 && sys_close(fd) == 0, "socket/close");
			break;
		case 'p':
			expect(syscall(SYS_pipe2, pp, O_CLOEXEC) == 0, "pipe2");
			expect(sys_close(pp[0]) == 0 && sys_close(pp[1]) == 0, "close pipe");
			break;
		case 'a':
			accept_once(lsn, &addr);
			break;
		case 'f': {
			pid_t child = fork();

			if (child < 0)
				die("fork");
			if (child == 0)
				_exit(0);
			while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
				;
			if (pids)
				fprintf(pids, "%d\n", child);
			break;
		}
		}
		ops++;
	}
	if (pids && fclose(pids) != 0)
		die("%s", pidfile);
	printf("DONE ops=%lu secs=%.3f\n", ops, now_s() - t0);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	fdwt_init(argc, argv);
	if (argc > 2 && !strcmp(argv[1], "count"))
		return count(strtol(argv[2], NULL, 10));
	if (argc > 1 && !strcmp(argv[1], "load"))
		return load();
	if (argc > 3 && !strcmp(argv[1], "stress"))
		return stress(argv[2], strtod(argv[3], NULL), argc > 4 ? argv[4] : NULL);
	fprintf(stderr, "usage: fdw_churn count N | fdw_churn load | "
			"fdw_churn stress open|socket|pipe|accept|fork SECONDS [PIDFILE]\n");
	return 2;
}
