// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * base/fs.c's fdw_read_all(): a pipe written in pieces (and a signal in
 * the middle) is read to its end, an empty one is 0 bytes, a full buffer
 * stops the read with the rest left in the pipe, a bad fd is -EBADF.
 * (fdw_mkdir_parents() is tested with the lock file it serves.)
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fs.h"
#include "check.h"

static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
	(void)sig;
	signals++;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct writer {
	int fd;
	pthread_t reader;
};

/* "ab", a signal to the reader blocked in read(), "cd", "ef", end of file */
static void *write_pieces(void *arg)
{
	struct writer *w = arg;
	static const char *const pieces[] = { "ab", "cd", "ef" };

	for (size_t i = 0; i < 3; i++) {
		sleep_ms(30);
		if (i == 1) {
			(void)pthread_kill(w->reader, SIGUSR1);
			sleep_ms(30);
		}
		(void)!write(w->fd, pieces[i], 2);
	}
	(void)close(w->fd);
	return NULL;
}

static int make_pipe(int p[2])
{
	int r = pipe2(p, O_CLOEXEC);

	CHECK_EQ(r, 0);
	return r;
}

static void test_pieces(void)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: EINTR */
	struct writer w;
	pthread_t t;
	char buf[64];
	int p[2];

	if (make_pipe(p) < 0)
		return;
	CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
	w.fd = p[1];
	w.reader = pthread_self();
	CHECK_EQ(pthread_create(&t, NULL, write_pieces, &w), 0);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(fdw_read_all(p[0], buf, sizeof(buf)), 6);
	CHECK_STR(buf, "abcdef");
	CHECK_EQ(signals, 1);
	(void)pthread_join(t, NULL);
	/* read again at the end: 0 */
	CHECK_EQ(fdw_read_all(p[0], buf, sizeof(buf)), 0);
	(void)close(p[0]);
}

static void test_empty(void)
{
	char buf[8] = "x";
	int p[2];

	if (make_pipe(p) < 0)
		return;
	(void)close(p[1]);
	CHECK_EQ(fdw_read_all(p[0], buf, sizeof(buf)), 0);
	CHECK_EQ(buf[0], 'x');
	/* no room: nothing read, not even from a pipe with no writer */
	CHECK_EQ(fdw_read_all(p[0], buf, 0), 0);
	(void)close(p[0]);
}

static void test_full(void)
{
	char buf[8];
	int p[2];

	if (make_pipe(p) < 0)
		return;
	/* more than fits, the writer still open: the read stops at cap
	 * without waiting for the end of the file */
	CHECK_EQ(write(p[1], "0123456789", 10), 10);
	CHECK_EQ(fdw_read_all(p[0], buf, sizeof(buf)), 8);
	CHECK(!memcmp(buf, "01234567", 8));
	(void)close(p[1]);
	CHECK_EQ(fdw_read_all(p[0], buf, sizeof(buf)), 2);
	CHECK(!memcmp(buf, "89", 2));
	(void)close(p[0]);
}

static void test_errors(void)
{
	char buf[8];
	int p[2];

	CHECK_EQ(fdw_read_all(-1, buf, sizeof(buf)), -EBADF);
	if (make_pipe(p) < 0)
		return;
	/* the write end cannot be read */
	CHECK_EQ(fdw_read_all(p[1], buf, sizeof(buf)), -EBADF);
	(void)close(p[0]);
	(void)close(p[1]);
}

int main(void)
{
	alarm(20); /* a read that waits for ever fails the test */
	test_pieces();
	test_empty();
	test_full();
	test_errors();
	return check_summary();
}
