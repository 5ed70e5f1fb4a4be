/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A process that builds its table before fdwatchd starts (see
 * test_prestart.py): regular files, a pipe, sockets, an eventfd, a memfd,
 * a hole, a high fd (a dup of a), a second open of a's file, an unlinked
 * file, a CLONE_FILES sibling sharing the table, and a thread.
 * It stops; the driver starts the daemon; then every party changes the table.
 */
#include "fdwt.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

static char *pa, *pb, *pc;
static int go_child[2], go_thread[2], done_thread[2];
static volatile int *shared_fd;
static int thread_fd, thread_tid;

static int sibling(void *arg)
{
	char c;

	(void)arg;
	stop_self();
	if (read(go_child[0], &c, 1) != 1)
		die("read");
	*shared_fd = xopen(pb, O_RDONLY);
	stop_self();
	_exit(0);
}

static void *thread_main(void *arg)
{
	char c;

	(void)arg;
	if (read(go_thread[0], &c, 1) != 1)
		die("read");
	thread_tid = (int)syscall(SYS_gettid);
	thread_fd = xopen(pa, O_RDONLY | O_CLOEXEC);
	if (write(done_thread[1], "d", 1) != 1)
		die("write");
	return NULL;
}

int main(int argc, char **argv)
{
	char *dir;
	int a, b, p[2], s, e, m, hole, n, a2, del;
	pid_t sib;
	pthread_t t;
	char c;

	fdwt_init(argc, argv);
	dir = make_tmpdir("prestart");
	pa = make_file(dir, "a");
	pb = make_file(dir, "b");
	pc = make_file(dir, "c");
	shared_fd = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared_fd == MAP_FAILED)
		die("mmap");
	if (pipe2(go_child, O_CLOEXEC) < 0 || pipe2(go_thread, O_CLOEXEC) < 0 ||
	    pipe2(done_thread, O_CLOEXEC) < 0)
		die("pipe2");
	a = xopen(pa, O_RDONLY);
	b = xopen(pb, O_RDONLY | O_CLOEXEC);
	hole = xopen(pa, O_RDONLY);
	if (pipe(p) < 0)
		die("pipe");
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	e = eventfd(0, 0);
	m = memfd_create("fdwt-prestart", 0);
	if (s < 0 || e < 0 || m < 0)
		die("socket/eventfd/memfd");
	expect(sys_dup2(a, 5000) == 5000, "dup2 5000");
	expect(sys_close(hole) == 0, "close");
	/* the same file opened again: its own open file description */
	a2 = xopen(pa, O_RDONLY);
	/* a file unlinked while open: "... (deleted)" */
	del = xopen(pc, O_RDONLY);
	if (unlink(pc) < 0)
		die("unlink");
	{
		size_t sz = 256 * 1024;
		char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (stack == MAP_FAILED)
			die("mmap");
		sib = clone(sibling, stack + sz, CLONE_FILES | SIGCHLD, NULL);
		if (sib < 0)
			die("clone");
	}
	if (pthread_create(&t, NULL, thread_main, NULL))
		die("pthread_create");
	wait_stopped(sib);
	cp("before_daemon", "pids=%d,%d sibling=%d a=%d b=%d hole=%d high=5000 a2=%d deleted=%d",
	   getpid(), sib, sib, a, b, hole, a2, del);

	/* the daemon runs now: the thread, the sibling and we change the table */
	if (write(go_thread[1], "g", 1) != 1 || read(done_thread[0], &c, 1) != 1)
		die("thread handshake");
	if (pthread_join(t, NULL))
		die("pthread_join");
	if (write(go_child[1], "g", 1) != 1)
		die("write");
	wait_stopped(sib);
	expect(sys_dup2(b, a) == a, "dup2 over a pre-existing fd");
	expect(sys_close(p[1]) == 0, "close pre-existing");
	n = xopen(pa, O_RDONLY);
	cp("after_daemon", "pids=%d,%d sibling=%d thread_tid=%d thread_fd=%d sibling_fd=%d "
	   "replaced=%d replaced_from=%d closed=%d new=%d",
	   getpid(), sib, sib, thread_tid, thread_fd, *shared_fd, a, b, p[1], n);
	wait_exit0(sib);
	rm_rf(dir);
	return 0;
}
