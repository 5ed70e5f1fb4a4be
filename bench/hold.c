// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Hold many fds open until killed, for the start-up benchmark
 * (bench/startup.sh): `fdwatch-bench-hold same PATH N` opens PATH N times
 * (N open file descriptions on one inode: the start-up scan's grouping
 * worst case); `fdwatch-bench-hold dups N` opens /dev/null once and dups
 * it to N fds (one open file description for all: the "one log file, many
 * fds" case); `fdwatch-bench-hold pipes N` makes N/2 pipes;
 * `fdwatch-bench-hold idle N` forks N children that only wait (dying with
 * it); `fdwatch-bench-hold forks FDS N` opens /dev/null FDS times (an
 * open file description and an origin each), then forks N children that
 * only wait, holding them all (bench/fork_memory.sh). Prints "ready" on
 * stdout when it holds them all.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rlimit rl;
	char *end;
	long n;

	if (argc < 3 ||
	    (strcmp(argv[1], "same") && strcmp(argv[1], "dups") && strcmp(argv[1], "pipes") &&
	     strcmp(argv[1], "idle") && strcmp(argv[1], "forks")) ||
	    ((!strcmp(argv[1], "same") || !strcmp(argv[1], "forks")) && argc < 4)) {
		fprintf(stderr, "usage: %s same PATH N | dups N | pipes N | idle N | forks FDS N\n",
			argv[0]);
		return 2;
	}
	n = strtol(argv[argc - 1], &end, 10);
	if (*end || n <= 0) {
		fprintf(stderr, "%s: not a count: %s\n", argv[0], argv[argc - 1]);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!strcmp(argv[1], "forks")) {
		long fds = strtol(argv[2], &end, 10);

		if (*end || fds <= 0) {
			fprintf(stderr, "%s: not a count: %s\n", argv[0], argv[2]);
			return 2;
		}
		for (long i = 0; i < fds; i++) {
			if (open("/dev/null", O_RDONLY) < 0) {
				perror("open /dev/null");
				return 1;
			}
		}
	}
	if (!strcmp(argv[1], "idle") || !strcmp(argv[1], "forks")) {
		pid_t parent = getpid();

		for (long i = 0; i < n; i++) {
			pid_t c = fork();

			if (c < 0) {
				perror("fork");
				return 1;
			}
			if (c == 0) {
				(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
				if (getppid() != parent)
					_exit(0);
				for (;;)
					pause();
			}
		}
		n = 0;
	}
	if (!strcmp(argv[1], "dups")) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			perror("open /dev/null");
			return 1;
		}
		for (long i = 1; i < n; i++) {
			if (fcntl(fd, F_DUPFD_CLOEXEC, 0) < 0) {
				perror("dup");
				return 1;
			}
		}
		n = 0;
	}
	for (long i = 0; i < n;) {
		int p[2];

		if (!strcmp(argv[1], "same")) {
			if (open(argv[2], O_RDONLY | O_CLOEXEC) < 0) {
				perror("open");
				return 1;
			}
			i++;
		} else {
			if (pipe2(p, O_CLOEXEC) < 0) {
				perror("pipe2");
				return 1;
			}
			i += 2;
		}
	}
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}
