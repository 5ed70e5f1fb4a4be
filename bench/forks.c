/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdwatch-bench-forks: a fork churner at a given rate, spread over
 * PARENTS long-lived parents.
 *
 *   fdwatch-bench-forks PARENTS RATE SECS [CHILD_MS]
 *
 * Forks PARENTS idle parents, then for SECS seconds tells one after the
 * other (round robin, SIGUSR1) to fork a child, RATE children a second
 * in all: each child opens /dev/null, closes it, sleeps CHILD_MS (0 by
 * default: the daemon sees it gone when it looks) and exits; its parent
 * reaps it and waits for the next signal. With PARENTS 1 it is one
 * parent forking RATE times a second; with PARENTS > 5 x RATE each parent
 * forks less often than every 5 s (a host of many workers, each forking
 * now and then: the daemon's cached owner of each parent is past its TTL
 * at each of its forks, server/access.c). Prints "forks=N" (the signals
 * sent) at the end. bench/follow_owners.py runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static unsigned int child_ms;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A parent: a child per SIGUSR1, until SIGTERM. */
static void parent(const sigset_t *wait_mask)
{
	for (;;) {
		pid_t c;

		while (!go)
			sigsuspend(wait_mask);
		go = 0;
		c = fork();
		if (c == 0) {
			int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

			if (fd >= 0)
				close(fd);
			if (child_ms)
				usleep(child_ms * 1000u);
			_exit(0);
		}
		if (c > 0 && !child_ms)
			(void)waitpid(c, NULL, 0);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t block, wait_mask;
	long parents;
	double rate, secs;
	pid_t *pids;
	uint64_t t0, forks = 0;

	if (argc == 5)
		child_ms = (unsigned int)strtoul(argv[4], NULL, 10);
	if ((argc != 4 && argc != 5) || (parents = strtol(argv[1], NULL, 10)) <= 0 ||
	    (rate = strtod(argv[2], NULL)) <= 0 || (secs = strtod(argv[3], NULL)) <= 0) {
		fprintf(stderr, "usage: %s PARENTS RATE SECS [CHILD_MS]\n", argv[0]);
		return 2;
	}
	pids = calloc((size_t)parents, sizeof(*pids));
	if (!pids)
		return 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	(void)sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGUSR1);
	for (long i = 0; i < parents; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			fprintf(stderr, "fork: %s\n", strerror(errno));
			parents = i;
			break;
		}
		if (pids[i] == 0)
			parent(&wait_mask);
	}
	t0 = now_ns();
	for (;;) {
		uint64_t el = now_ns() - t0, due;
		struct timespec ts = { .tv_nsec = 1000000 };

		if (el >= (uint64_t)(secs * 1e9))
			break;
		due = (uint64_t)((double)el / 1e9 * rate);
		for (; forks < due; forks++)
			(void)kill(pids[forks % (uint64_t)parents], SIGUSR1);
		nanosleep(&ts, NULL);
	}
	usleep(200000); /* the last children */
	for (long i = 0; i < parents; i++)
		(void)kill(pids[i], SIGKILL);
	for (long i = 0; i < parents; i++)
		(void)waitpid(pids[i], NULL, 0);
	printf("forks=%llu\n", (unsigned long long)forks);
	free(pids);
	return 0;
}
