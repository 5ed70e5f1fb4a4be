/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Known syscalls whose events test_events.py looks for: dup2 into slot
 * 100, a failing close, a later dup2 (for --follow), a dup/close loop,
 * and a child that forks, execs and exits.
 */
#include "fdwt.h"

int main(int argc, char **argv)
{
	char *dir, *pa;
	int a, r, c, e, i, d = -1, loops = 50;
	pid_t child;

	fdwt_init(argc, argv);
	if (argc > 1 && strcmp(argv[1], "exit") == 0)
		return 0;
	dir = make_tmpdir("events");
	pa = make_file(dir, "a");
	a = xopen(pa, O_RDONLY);
	expect(!fd_is_open(99) && !fd_is_open(100), "fds 99/100 must be free");
	r = sys_dup2(a, 100);
	expect(r == 100, "dup2");
	c = sys_close(99);
	e = errno;
	expect(c == -1 && e == EBADF, "close(99)");
	cp("did", "oldfd=%d newfd=100 ret=%d badfd=99 close_ret=-%d tid=%ld", a, r, e,
	   (long)syscall(SYS_gettid));

	r = sys_dup2(a, 101);
	expect(r == 101, "dup2");
	cp("did2", "oldfd=%d newfd=101 ret=%d", a, r);

	for (i = 0; i < loops; i++) {
		d = sys_dup(a);
		expect(d >= 0 && sys_close(d) == 0, "dup/close");
	}
	cp("loop", "n=%d fd=%d src=%d", loops, d, a);

	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		char *args[] = {"fdw_events", "exit", NULL};

		execv("/proc/self/exe", args);
		die("execv");
	}
	wait_exit0(child);
	cp("proc_events", "child=%d", child);
	rm_rf(dir);
	return 0;
}
