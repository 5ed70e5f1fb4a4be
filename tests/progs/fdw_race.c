/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fdw_race MODE [ARG]: descriptor races and misuse, made deterministic with
 * barriers (and, for a thread that must be blocked in a syscall, by reading
 * its /proc/self/task/TID/syscall until it is), for tests/integration/
 * test_races.py. One checkpoint per run:
 *
 *   CP <mode> pid=P fd=N opener=TID closer=TID culprit=TID [blocked=TID]
 *
 * Findings (each must be reported):
 *   double-close        thread A opens fd, B closes it, A closes it again
 *   never-opened        one close() of a number that was never open
 *   pipe-twice          one thread closes a pipe's two ends, then both again
 *                       (two adjacent numbers: no close-everything loop)
 *   use-after-close S   A opens, B closes, A calls S on it (EBADF): S is one of
 *                       fstat lseek read write fcntl ioctl shutdown epoll_ctl
 *                       openat dup2 sendto
 *   close-in-flight     A blocks in read() on a pipe, B closes its read end
 *   dup2-in-flight      the same, B dup2()s /dev/null onto it
 *   range-in-flight     the same, B close_range()s it
 *   dup2-clobber        A opens /dev/zero, B dup2()s /dev/null onto it
 *   dup2-late-close     the same, and B closes it 2.5 s later (past
 *                       race_preclose_ms: no pre-close)
 *   preclose-blocked    A blocks in read() on a pipe, B dup2()s a placeholder
 *                       over it and closes it while A is still blocked (the
 *                       close is the finding: the number is free under A's
 *                       call)
 *   fd-reuse            deep mode: first a double close (any finding puts the
 *                       process in deep mode; checkpoint "armed", the driver
 *                       waits for that finding), then A uses a socket at N
 *                       (fstat), B closes N and opens a file there, A uses N
 *                       again: it now talks to the file
 *   exec-leak-race      A opens a file without O_CLOEXEC, B forks and the child
 *                       execs sleep, then A sets FD_CLOEXEC: too late
 *   spam N              hostile: N double closes over many numbers (the
 *                       caller runs it as an unprivileged user)
 *   leak-exec-threads   beside an idle thread, /dev/null opened without
 *                       O_CLOEXEC, a fork whose child execs sleep: a plain
 *                       exec-leak (checkpoint fd=, child=)
 *   keep-both-threads   beside an idle thread, a pipe without O_CLOEXEC, a
 *                       fork whose child execs sleep with both ends: both
 *                       leak (checkpoint fd=, fd2=, child=)
 * Clean programs (nothing must be reported):
 *   clean-stdio         save stdout with dup, dup2 a file onto 1 and
 *                       /dev/null onto 0, restore, close the copy
 *   clean-closeall      open and close some fds, then close 3..1023 (the
 *                       daemonizing close-everything loop)
 *   clean-closeall-gaps the same loop over a table with holes: six fds
 *                       from the lowest free, three of them closed before
 *                       (the loop gets EBADF between the ones it closes)
 *   clean-probe         fcntl(F_GETFD/F_GETFL) on a closed fd
 *   clean-mode          write() on an O_RDONLY fd, read() on O_WRONLY (EBADF
 *                       for the access mode, the fd is open)
 *   clean-negative      close(-1), read(-1), fstat(-1)
 *   clean-epoll         A waits in epoll_wait; B removes a socket from the
 *                       set and closes it, then wakes A through an eventfd
 *   clean-reopen        B reopens A's log file under the same path onto A's fd
 *   clean-preclose      OpenJDK's pre-close, three times with one placeholder
 *                       (a socketpair end, the other closed): B blocks in
 *                       accept() on the listener the main thread made; main
 *                       dup2()s the placeholder over it and signals B
 *                       (SIGUSR1, no SA_RESTART), B returns EINTR and closes
 *                       the number (ServerSocketChannel); then twice B
 *                       blocks in read() on a socket it made, main dup2()s,
 *                       signals, joins B, closes it (SocketChannel)
 *   clean-exec-threads H  beside an idle thread, 10 times (30 for
 *                       notify) a fork whose child hands fds to the program
 *                       it execs as correct programs do (no exec-leak): H is
 *                       passfds (a pipe
 *                       made O_CLOEXEC, the child clears the bit of its read
 *                       end, F_SETFD, and execs sleep: python's pass_fds),
 *                       notify (a pipe without O_CLOEXEC, the child closes
 *                       the read end, makes the write end close-on-exec and
 *                       execs true, which exits at once: git's
 *                       start_command), keep (a pipe without O_CLOEXEC, the
 *                       child closes the read end and execs sleep with the
 *                       write end: the pipe idiom). A fork beside another
 *                       thread has the child's table read from /proc when
 *                       the fork is applied, by when the child has done all
 *                       that; the model lost it and reported the fds
 *   clean-handoff       deep mode (armed as for fd-reuse); the numbers of
 *                       sockets handed between threads: B uses A's socket at
 *                       N and closes it, A makes another at N, B uses it; A
 *                       closes it and makes another socket at N, B uses it
 */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "fdwt.h"

static pthread_barrier_t bar;
static int shared_fd = -1, shared_fd2 = -1;
static pid_t a_tid;
static const char *use_sc = "fstat";
static volatile int a_err;
static char tmpdir_path[256];

static void sync2(void)
{
	int r = pthread_barrier_wait(&bar);

	if (r && r != PTHREAD_BARRIER_SERIAL_THREAD)
		die("pthread_barrier_wait");
}

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Until thread `tid` is blocked in syscall `nr` with first argument `arg0`. */
static void wait_blocked(pid_t tid, long nr, long arg0)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	for (;;) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;
		long got_nr;
		unsigned long got_a0;

		if (fd < 0)
			die("open %s", path);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (sscanf(buf, "%ld %lx", &got_nr, &got_a0) == 2 && got_nr == nr &&
			    (long)got_a0 == arg0)
				return;
		}
		sched_yield();
	}
}

/* ---- findings ---------------------------------------------------------------- */

static void *a_double_close(void *unused)
{
	a_tid = gettid_();
	shared_fd = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
	sync2(); /* opened */
	sync2(); /* B closed it */
	expect(sys_close(shared_fd) < 0 && errno == EBADF, "second close of %d", shared_fd);
	return NULL;
}

static int do_use(int fd)
{
	struct stat st;
	char c = 'x';
	int n;

	if (!strcmp(use_sc, "fstat"))
		return (int)syscall(SYS_fstat, fd, &st);
	if (!strcmp(use_sc, "lseek"))
		return (int)syscall(SYS_lseek, fd, 0, SEEK_SET);
	if (!strcmp(use_sc, "read"))
		return (int)syscall(SYS_read, fd, &c, 1);
	if (!strcmp(use_sc, "write"))
		return (int)syscall(SYS_write, fd, &c, 1);
	if (!strcmp(use_sc, "fcntl"))
		return sys_fcntl(fd, F_SETFL, O_NONBLOCK);
	if (!strcmp(use_sc, "ioctl"))
		return (int)syscall(SYS_ioctl, fd, FIONREAD, &n);
	if (!strcmp(use_sc, "shutdown"))
		return (int)syscall(SYS_shutdown, fd, SHUT_RDWR);
	if (!strcmp(use_sc, "sendto"))
		return (int)syscall(SYS_sendto, fd, &c, 1, 0, NULL, 0);
	if (!strcmp(use_sc, "openat"))
		return sys_openat(fd, "x", O_RDONLY | O_CLOEXEC, 0);
	if (!strcmp(use_sc, "dup2"))
		return sys_dup2(fd, fd + 1);
	if (!strcmp(use_sc, "epoll_ctl")) {
		struct epoll_event ee = { .events = EPOLLIN };

		return (int)syscall(SYS_epoll_ctl, shared_fd2, EPOLL_CTL_ADD, fd, &ee);
	}
	errno = EINVAL;
	return -2;
}

static void *a_use_after_close(void *unused)
{
	int sv[2];

	a_tid = gettid_();
	if (!strcmp(use_sc, "shutdown") || !strcmp(use_sc, "sendto")) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			die("socketpair");
		shared_fd = sv[0];
		shared_fd2 = sv[1];
	} else if (!strcmp(use_sc, "openat")) {
		shared_fd = xopen(tmpdir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else if (!strcmp(use_sc, "write")) {
		if (pipe2(sv, O_CLOEXEC))
			die("pipe2");
		shared_fd = sv[1];
		shared_fd2 = sv[0];
	} else {
		if (pipe2(sv, O_CLOEXEC))
			die("pipe2");
		shared_fd = sv[0];
		shared_fd2 = sv[1];
		if (!strcmp(use_sc, "epoll_ctl")) {
			close(sv[1]);
			shared_fd2 = epoll_create1(EPOLL_CLOEXEC);
			if (shared_fd2 < 0)
				die("epoll_create1");
		}
	}
	sync2(); /* opened */
	sync2(); /* B closed it */
	expect(do_use(shared_fd) < 0 && errno == EBADF, "%s on closed fd %d", use_sc, shared_fd);
	return NULL;
}

static void *a_in_flight(void *unused)
{
	char c;

	a_tid = gettid_();
	sync2(); /* the pipe exists */
	/* blocks until B writes, after B closed (or replaced) the read end */
	expect(read(shared_fd, &c, 1) == 1, "read on the old pipe");
	return NULL;
}

static void *a_clobber(void *unused)
{
	a_tid = gettid_();
	shared_fd = xopen("/dev/zero", O_RDONLY | O_CLOEXEC);
	sync2();
	sync2();
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* ServerSocketChannel: blocked in accept until pre-closed, then closes */
static void *a_accept(void *unused)
{
	a_tid = gettid_();
	sync2(); /* the listener exists */
	expect(accept4(shared_fd, NULL, NULL, SOCK_CLOEXEC) < 0 && errno == EINTR,
	       "accept interrupted");
	/* the JDK's tryFinishClose: no thread in a call on it any more */
	expect(close(shared_fd) == 0, "close of the pre-closed listener");
	return NULL;
}

/* SocketChannel: makes a socket, blocks in read until pre-closed */
static void *a_sock_read(void *unused)
{
	int sv[2];
	char c;

	a_tid = gettid_();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	shared_fd = sv[0];
	shared_fd2 = sv[1];
	sync2(); /* the socket exists */
	expect(read(shared_fd, &c, 1) < 0 && errno == EINTR, "read interrupted");
	return NULL;
}

static void *a_reopen(void *unused)
{
	char *path;

	a_tid = gettid_();
	path = make_file(tmpdir_path, "log");
	shared_fd = xopen(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	free(path);
	sync2();
	sync2();
	return NULL;
}

static void *a_epoll(void *unused)
{
	struct epoll_event ev;

	a_tid = gettid_();
	sync2(); /* the set exists */
	expect(epoll_wait(shared_fd2, &ev, 1, -1) == 1, "epoll_wait");
	return NULL;
}

static void *a_idle(void *unused);
static pthread_t start_a(void *(*fn)(void *));
static void join_a(pthread_t t);

static int fstat_fd(int fd)
{
	struct stat st;

	return (int)syscall(SYS_fstat, fd, &st);
}

/* A double close by two threads: a finding, which puts us in deep mode. */
static void arm(void)
{
	int fd = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
	pthread_t t;

	t = start_a(a_idle);
	expect(sys_close(fd) == 0, "close");
	expect(sys_close(fd) < 0 && errno == EBADF, "close again");
	sync2();
	join_a(t);
	cp("armed", "fd=%d", fd);
}

static void *a_reuse(void *unused)
{
	int sv[2];

	a_tid = gettid_();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	shared_fd = sv[0];
	shared_fd2 = sv[1];
	expect(fstat_fd(shared_fd) == 0, "fstat the socket");
	sync2(); /* A used it */
	sync2(); /* B closed it and opened a file there */
	expect(fstat_fd(shared_fd) == 0, "fstat what is there now");
	return NULL;
}

static void *a_handoff(void *unused)
{
	int sv[2];

	a_tid = gettid_();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		die("socketpair");
	shared_fd = sv[0];
	sync2(); /* made */
	sync2(); /* B used and closed it */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || sv[0] != shared_fd)
		die("socketpair at %d", shared_fd);
	sync2(); /* made again */
	sync2(); /* B used it */
	expect(close(shared_fd) == 0, "close");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || sv[0] != shared_fd)
		die("socketpair at %d", shared_fd);
	sync2(); /* made a third */
	sync2(); /* B used it */
	return NULL;
}

static void *a_exec_race(void *unused)
{
	char *path = make_file(tmpdir_path, "secret");

	a_tid = gettid_();
	shared_fd = sys_open(path, O_RDONLY, 0); /* no O_CLOEXEC: the bug */
	if (shared_fd < 0)
		die("open %s", path);
	free(path);
	sync2(); /* opened */
	sync2(); /* B forked */
	expect(sys_fcntl(shared_fd, F_SETFD, FD_CLOEXEC) == 0, "F_SETFD");
	return NULL;
}

static void *a_idle(void *unused)
{
	a_tid = gettid_();
	sync2();
	return NULL;
}

static pthread_t start_a(void *(*fn)(void *))
{
	pthread_t t;

	if (pthread_barrier_init(&bar, NULL, 2))
		die("pthread_barrier_init");
	if (pthread_create(&t, NULL, fn, NULL))
		die("pthread_create");
	return t;
}

static void join_a(pthread_t t)
{
	if (pthread_join(t, NULL))
		die("pthread_join");
}

/* A second thread that idles until the end: EBADF of single-threaded
 * processes is excused, so the clean modes and the spam run with two. */
static bool needs_idle(const char *mode)
{
	return !strcmp(mode, "spam") || !strcmp(mode, "clean-closeall") ||
	       !strcmp(mode, "clean-closeall-gaps") ||
	       !strcmp(mode, "clean-probe") || !strcmp(mode, "clean-mode") ||
	       !strcmp(mode, "clean-negative") || !strcmp(mode, "clean-stdio") ||
	       !strcmp(mode, "clean-exec-threads") || !strcmp(mode, "leak-exec-threads") ||
	       !strcmp(mode, "keep-both-threads");
}

/* One child of clean-exec-threads (see the top of the file); waited for. */
static void exec_handover(const char *how)
{
	int p[2], passfds = !strcmp(how, "passfds"), notify = !strcmp(how, "notify");
	pid_t child;
	char b;

	if (!passfds && !notify && strcmp(how, "keep"))
		die("clean-exec-threads: no hand-over %s", how);
	expect(pipe2(p, passfds ? O_CLOEXEC : 0) == 0, "pipe2");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		if (passfds) {
			if (sys_fcntl(p[0], F_SETFD, 0) < 0)
				_exit(126);
			execl("/bin/sleep", "sleep", "0.2", (char *)NULL);
		} else {
			if (sys_close(p[0]) < 0)
				_exit(126);
			if (notify) {
				if (sys_fcntl(p[1], F_SETFD, FD_CLOEXEC) < 0)
					_exit(126);
				execl("/bin/true", "true", (char *)NULL);
			}
			execl("/bin/sleep", "sleep", "0.2", (char *)NULL);
		}
		_exit(127);
	}
	expect(close(p[1]) == 0, "close");
	/* EOF: notify's exec closed the write end, keep's sleep exited */
	if (!passfds)
		while (read(p[0], &b, 1) > 0)
			;
	expect(close(p[0]) == 0, "close");
	wait_exit0(child);
}

/* leak-exec-threads, keep-both-threads: the child execs sleep 60 with
 * what it got; fd2 -1 for one fd. */
static pid_t exec_leaking(int *fd, int *fd2, bool pipe_both)
{
	int p[2];
	pid_t child;

	if (pipe_both) {
		expect(pipe(p) == 0, "pipe");
		*fd = p[0];
		*fd2 = p[1];
	} else {
		*fd = xopen("/dev/null", O_RDONLY);
		*fd2 = -1;
	}
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	return child;
}

static int run_mode(const char *mode, const char *arg);

static int run(const char *mode, const char *arg)
{
	pthread_t t;
	int r;

	if (!needs_idle(mode))
		return run_mode(mode, arg);
	t = start_a(a_idle);
	r = run_mode(mode, arg);
	sync2();
	join_a(t);
	return r;
}

static int run_mode(const char *mode, const char *arg)
{
	pid_t me = gettid_();
	pthread_t t;
	int p[2], fd, g;

	if (!strcmp(mode, "double-close")) {
		t = start_a(a_double_close);
		sync2();
		expect(sys_close(shared_fd) == 0, "close %d", shared_fd);
		sync2();
		join_a(t);
		cp(mode, "fd=%d opener=%d closer=%d culprit=%d", shared_fd, a_tid, me, a_tid);
	} else if (!strcmp(mode, "never-opened")) {
		/* a second thread: single-threaded EBADF closes are excused */
		t = start_a(a_idle);
		fd = lowest_free(700);
		expect(sys_close(fd) < 0 && errno == EBADF, "close %d", fd);
		sync2();
		join_a(t);
		cp(mode, "fd=%d culprit=%d", fd, me);
	} else if (!strcmp(mode, "pipe-twice")) {
		int pp[2];

		t = start_a(a_idle);
		expect(pipe2(pp, O_CLOEXEC) == 0, "pipe2");
		expect(close(pp[0]) == 0 && close(pp[1]) == 0, "close the pipe");
		expect(sys_close(pp[0]) < 0 && errno == EBADF, "close %d again", pp[0]);
		expect(sys_close(pp[1]) < 0 && errno == EBADF, "close %d again", pp[1]);
		sync2();
		join_a(t);
		cp(mode, "fd=%d fd2=%d culprit=%d", pp[0], pp[1], me);
	} else if (!strcmp(mode, "use-after-close")) {
		use_sc = arg;
		t = start_a(a_use_after_close);
		sync2();
		expect(sys_close(shared_fd) == 0, "close %d", shared_fd);
		sync2();
		join_a(t);
		cp(mode, "fd=%d opener=%d closer=%d culprit=%d syscall=%s", shared_fd, a_tid, me,
		   a_tid, use_sc);
	} else if (!strcmp(mode, "close-in-flight") || !strcmp(mode, "dup2-in-flight") ||
		   !strcmp(mode, "range-in-flight")) {
		if (pipe2(p, O_CLOEXEC))
			die("pipe2");
		shared_fd = p[0];
		t = start_a(a_in_flight);
		sync2();
		wait_blocked(a_tid, SYS_read, p[0]);
		if (!strcmp(mode, "close-in-flight")) {
			expect(sys_close(p[0]) == 0, "close %d", p[0]);
		} else if (!strcmp(mode, "range-in-flight")) {
			expect(sys_close_range(p[0], p[0], 0) == 0, "close_range %d", p[0]);
		} else {
			g = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
			expect(sys_dup2(g, p[0]) == p[0], "dup2 onto %d", p[0]);
			close(g);
		}
		expect(write(p[1], "x", 1) == 1, "write"); /* the blocked read returns */
		join_a(t);
		cp(mode, "fd=%d opener=%d closer=%d culprit=%d blocked=%d", p[0], me, me, me,
		   a_tid);
	} else if (!strcmp(mode, "dup2-clobber") || !strcmp(mode, "dup2-late-close")) {
		t = start_a(a_clobber);
		sync2();
		g = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
		expect(sys_dup2(g, shared_fd) == shared_fd, "dup2");
		close(g);
		sync2();
		join_a(t);
		if (!strcmp(mode, "dup2-late-close")) {
			usleep(2500 * 1000);
			expect(sys_close(shared_fd) == 0, "close");
		}
		cp(mode, "fd=%d opener=%d closer=%d culprit=%d", shared_fd, a_tid, me, me);
	} else if (!strcmp(mode, "preclose-blocked")) {
		if (pipe2(p, O_CLOEXEC))
			die("pipe2");
		shared_fd = p[0];
		g = xopen("/dev/null", O_RDONLY | O_CLOEXEC); /* the placeholder */
		t = start_a(a_in_flight);
		sync2();
		wait_blocked(a_tid, SYS_read, p[0]);
		expect(sys_dup2(g, p[0]) == p[0], "dup2 onto %d", p[0]);
		expect(sys_close(p[0]) == 0, "close %d", p[0]); /* A still blocked */
		expect(write(p[1], "x", 1) == 1, "write"); /* the blocked read returns */
		join_a(t);
		cp(mode, "fd=%d opener=%d closer=%d culprit=%d blocked=%d", p[0], me, me, me,
		   a_tid);
	} else if (!strcmp(mode, "clean-preclose")) {
		struct sigaction sa = { .sa_handler = on_usr1 }; /* no SA_RESTART */
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int sp[2], ph;

		if (sigaction(SIGUSR1, &sa, NULL))
			die("sigaction");
		/* the placeholder, made once: a socketpair end, the other closed */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
			die("socketpair");
		close(sp[1]);
		ph = sp[0];
		/* ServerSocketChannel.close() with a thread in accept() */
		shared_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (shared_fd < 0 || bind(shared_fd, (struct sockaddr *)&sin, sizeof(sin)) ||
		    listen(shared_fd, 8))
			die("listener");
		t = start_a(a_accept);
		sync2();
		wait_blocked(a_tid, SYS_accept4, shared_fd);
		expect(sys_dup2(ph, shared_fd) == shared_fd, "pre-close of the listener");
		if (pthread_kill(t, SIGUSR1))
			die("pthread_kill");
		join_a(t); /* it closed the number */
		/* SocketChannel.close() with a reader blocked, twice */
		for (int i = 0; i < 2; i++) {
			t = start_a(a_sock_read);
			sync2();
			wait_blocked(a_tid, SYS_read, shared_fd);
			expect(sys_dup2(ph, shared_fd) == shared_fd, "pre-close of the socket");
			if (pthread_kill(t, SIGUSR1))
				die("pthread_kill");
			join_a(t); /* no thread in a call on it: the real close */
			expect(sys_close(shared_fd) == 0 && close(shared_fd2) == 0, "close");
		}
		cp(mode, "fd=%d", shared_fd);
	} else if (!strcmp(mode, "fd-reuse")) {
		char *path = make_file(tmpdir_path, "db");

		arm();
		t = start_a(a_reuse);
		sync2();
		expect(sys_close(shared_fd) == 0, "close");
		g = xopen(path, O_RDWR | O_CLOEXEC);
		expect(g == shared_fd, "the file got %d, not %d", g, shared_fd);
		sync2();
		join_a(t);
		free(path);
		cp(mode, "fd=%d opener=%d closer=%d reopener=%d culprit=%d", shared_fd, a_tid, me,
		   me, a_tid);
	} else if (!strcmp(mode, "clean-handoff")) {
		arm();
		t = start_a(a_handoff);
		sync2();
		expect(fstat_fd(shared_fd) == 0, "use 1");
		expect(close(shared_fd) == 0, "close");
		sync2();
		sync2();
		expect(fstat_fd(shared_fd) == 0, "use 2");
		sync2();
		sync2();
		expect(fstat_fd(shared_fd) == 0, "use 3");
		sync2();
		join_a(t);
		cp(mode, "fd=%d", shared_fd);
	} else if (!strcmp(mode, "exec-leak-race")) {
		pid_t child;

		t = start_a(a_exec_race);
		sync2();
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			/* exec once the parent's copy is close-on-exec: the order
			 * the race has when the fork wins by a little */
			char path[64], buf[256];

			snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)getppid(), shared_fd);
			for (;;) {
				int f = open(path, O_RDONLY | O_CLOEXEC);
				ssize_t n = f >= 0 ? read(f, buf, sizeof(buf) - 1) : -1;
				char *fl;

				if (f >= 0)
					close(f);
				if (n > 0) {
					buf[n] = '\0';
					fl = strstr(buf, "flags:");
					if (fl && (strtoul(fl + 6, NULL, 8) & O_CLOEXEC))
						break;
				}
				sched_yield();
			}
			execl("/bin/sleep", "sleep", "60", (char *)NULL);
			_exit(127);
		}
		sync2();
		join_a(t);
		/* the child has exec'd once /proc shows sleep */
		for (;;) {
			char buf[64] = "", path[64];
			int f;

			snprintf(path, sizeof(path), "/proc/%d/comm", child);
			f = open(path, O_RDONLY | O_CLOEXEC);
			if (f >= 0) {
				(void)!read(f, buf, sizeof(buf) - 1);
				close(f);
			}
			if (!strncmp(buf, "sleep", 5))
				break;
			sched_yield();
		}
		cp(mode, "fd=%d opener=%d forker=%d child=%d", shared_fd, a_tid, me, child);
	} else if (!strcmp(mode, "clean-exec-threads")) {
		/* true exits at once: more rounds */
		int n = arg && !strcmp(arg, "notify") ? 30 : 10;

		for (int i = 0; i < n; i++)
			exec_handover(arg ? arg : "");
		cp(mode, "n=%d", n);
	} else if (!strcmp(mode, "leak-exec-threads") || !strcmp(mode, "keep-both-threads")) {
		int fd2;
		pid_t child = exec_leaking(&fd, &fd2, !strcmp(mode, "keep-both-threads"));

		cp(mode, "fd=%d fd2=%d child=%d", fd, fd2, (int)child);
		kill(child, SIGKILL);
	} else if (!strcmp(mode, "spam")) {
		long n = arg ? atol(arg) : 10000;

		g = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
		for (long i = 0; i < n; i++) {
			/* distinct numbers, each open before: a distinct finding each */
			fd = 100 + (int)(i % 400) * 2;
			expect(sys_dup2(g, fd) == fd, "dup2 %d", fd);
			expect(sys_close(fd) == 0, "close %d", fd);
			expect(sys_close(fd) < 0 && errno == EBADF, "close %d again", fd);
		}
		cp(mode, "n=%ld", n);
	} else if (!strcmp(mode, "clean-stdio")) {
		char *path = make_file(tmpdir_path, "out");
		int save = dup(1), f = xopen(path, O_WRONLY | O_CLOEXEC);

		expect(save >= 0, "dup 1");
		expect(dup2(f, 1) == 1, "dup2 onto 1");
		close(f);
		expect(write(1, "x\n", 2) == 2, "write");
		g = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
		expect(dup2(g, 0) == 0, "dup2 onto 0");
		close(g);
		expect(dup2(save, 1) == 1, "restore 1");
		close(save);
		free(path);
		cp(mode, NULL);
	} else if (!strcmp(mode, "clean-closeall")) {
		for (int i = 0; i < 3; i++)
			close(xopen("/dev/null", O_RDONLY | O_CLOEXEC));
		for (fd = 3; fd < 1024; fd++)
			(void)sys_close(fd);
		cp(mode, NULL);
	} else if (!strcmp(mode, "clean-closeall-gaps")) {
		int v[6];

		for (int i = 0; i < 6; i++)
			v[i] = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
		close(v[1]);
		close(v[3]);
		close(v[4]);
		for (fd = 3; fd < 1024; fd++)
			(void)sys_close(fd);
		cp(mode, "fd=%d", v[0]);
	} else if (!strcmp(mode, "clean-probe")) {
		fd = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
		close(fd);
		expect(sys_fcntl(fd, F_GETFD, 0) < 0 && errno == EBADF, "F_GETFD");
		expect(sys_fcntl(fd, F_GETFL, 0) < 0 && errno == EBADF, "F_GETFL");
		cp(mode, "fd=%d", fd);
	} else if (!strcmp(mode, "clean-mode")) {
		char c = 'x';

		fd = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
		g = xopen("/dev/null", O_WRONLY | O_CLOEXEC);
		expect(syscall(SYS_write, fd, &c, 1) < 0 && errno == EBADF, "write O_RDONLY");
		expect(syscall(SYS_read, g, &c, 1) < 0 && errno == EBADF, "read O_WRONLY");
		expect(syscall(SYS_ftruncate, fd, 0) < 0, "ftruncate O_RDONLY");
		close(fd);
		close(g);
		cp(mode, NULL);
	} else if (!strcmp(mode, "clean-negative")) {
		struct stat st;
		char c;

		expect(sys_close(-1) < 0 && errno == EBADF, "close(-1)");
		expect(syscall(SYS_read, -1, &c, 1) < 0 && errno == EBADF, "read(-1)");
		expect(syscall(SYS_fstat, -1, &st) < 0 && errno == EBADF, "fstat(-1)");
		cp(mode, NULL);
	} else if (!strcmp(mode, "clean-epoll")) {
		struct epoll_event ee = { .events = EPOLLIN };
		int sv[2], efd;

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			die("socketpair");
		efd = eventfd(0, EFD_CLOEXEC);
		shared_fd2 = epoll_create1(EPOLL_CLOEXEC);
		if (efd < 0 || shared_fd2 < 0)
			die("eventfd/epoll_create1");
		ee.data.fd = sv[0];
		expect(epoll_ctl(shared_fd2, EPOLL_CTL_ADD, sv[0], &ee) == 0, "add sock");
		ee.data.fd = efd;
		expect(epoll_ctl(shared_fd2, EPOLL_CTL_ADD, efd, &ee) == 0, "add efd");
		t = start_a(a_epoll);
		sync2();
		wait_blocked(a_tid, SYS_epoll_wait, shared_fd2);
		expect(epoll_ctl(shared_fd2, EPOLL_CTL_DEL, sv[0], NULL) == 0, "del sock");
		expect(close(sv[0]) == 0 && close(sv[1]) == 0, "close sockets");
		expect(eventfd_write(efd, 1) == 0, "wake");
		join_a(t);
		close(efd);
		close(shared_fd2);
		cp(mode, NULL);
	} else if (!strcmp(mode, "clean-reopen")) {
		char *path;

		t = start_a(a_reopen);
		sync2();
		path = make_file(tmpdir_path, "log");
		g = xopen(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		expect(sys_dup2(g, shared_fd) == shared_fd, "dup2");
		close(g);
		free(path);
		sync2();
		join_a(t);
		cp(mode, "fd=%d", shared_fd);
	} else {
		fprintf(stderr, "fdw_race: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *dir;
	int r;

	fdwt_init(argc, argv);
	if (argc < 2) {
		fprintf(stderr, "usage: fdw_race MODE [ARG]\n");
		return 2;
	}
	dir = make_tmpdir("race");
	snprintf(tmpdir_path, sizeof(tmpdir_path), "%s", dir);
	r = run(argv[1], argc > 2 ? argv[2] : NULL);
	rm_rf(dir);
	free(dir);
	return r;
}
