/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Opens fds up to RLIMIT_NOFILE (soft limit raised to TARGET, default
 * 20000) with a mix of creating syscalls, until EMFILE (see test_limit.py).
 *
 *   fdw_limit [TARGET [strict]]
 *
 * A hard limit below TARGET lowers the target to it, with a note on stderr;
 * with "strict" (CI) it is an error instead: the test must not quietly
 * shrink. The "full" checkpoint reports target= (asked) and hard=.
 * A pipe needing two slots when one is left fails with EMFILE and
 * installs nothing; dups then fill the last slots.
 */
#include "fdwt.h"

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>

static int count_open(void)
{
	int fd, n = 0;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	for (fd = 0; fd < (int)rl.rlim_cur; fd++)
		n += fd_is_open(fd);
	return n;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	char *dir, *pa;
	int base, n = 0, pipe_emfile = 0, r, pp[2], i;
	long want = 20000, target, hard;
	int strict;

	fdwt_init(argc, argv);
	if (argc > 1)
		want = strtol(argv[1], NULL, 10);
	strict = argc > 2 && !strcmp(argv[2], "strict");
	target = want;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	hard = rl.rlim_max == RLIM_INFINITY ? -1 : (long)rl.rlim_max;
	if (hard >= 0 && hard < want) {
		if (strict) {
			errno = 0;
			die("hard RLIMIT_NOFILE %ld < target %ld (strict: not lowering it)", hard,
			    want);
		}
		fprintf(stderr, "%s: note: hard limit %ld < %ld: using it\n", fdwt_prog, hard, want);
		want = hard;
	}
	rl.rlim_cur = (rlim_t)want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit %ld", want);
	dir = make_tmpdir("limit");
	pa = make_file(dir, "a");
	base = xopen(pa, O_RDONLY);

	for (i = 0;; i++) {
		switch (i % 6) {
		case 0:
			r = sys_dup(base);
			break;
		case 1:
			r = sys_open(pa, O_RDONLY | (i % 12 == 1 ? O_CLOEXEC : 0), 0);
			break;
		case 2:
			r = (int)syscall(SYS_pipe2, pp, i % 4 == 2 ? O_CLOEXEC : 0);
			if (r == 0)
				r = pp[0];
			else if (errno == EMFILE)
				pipe_emfile = 1;
			break;
		case 3:
			r = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM, 0);
			break;
		case 4:
			r = (int)syscall(SYS_eventfd2, 0, EFD_CLOEXEC);
			break;
		default:
			r = sys_fcntl(base, F_DUPFD_CLOEXEC, 0);
			break;
		}
		if (r < 0) {
			if (errno != EMFILE)
				die("creating fd #%d", n);
			if (pipe_emfile || i % 6 != 2)
				break;
		}
		n++;
	}
	/* fill whatever single slots remain with dup */
	while ((r = sys_dup(base)) >= 0)
		n++;
	expect(errno == EMFILE, "dup at the limit");
	r = (int)syscall(SYS_pipe2, pp, 0);
	expect(r == -1 && errno == EMFILE, "pipe2 at the limit");
	expect(count_open() == want, "open fds %d != limit %ld", count_open(), want);
	cp("full", "limit=%ld open=%d target=%ld hard=%ld", want, count_open(), target, hard);

	expect(sys_close_range(1000, 9999, 0) == 0, "close_range");
	cp("half_closed", "first=1000 last=9999 open=%d", count_open());

	while (sys_fcntl(base, F_DUPFD, 0) >= 0)
		;
	expect(errno == EMFILE, "F_DUPFD at the limit");
	cp("refilled", "open=%d", count_open());

	expect(sys_close_range(3, ~0U, 0) == 0, "close_range");
	cp("emptied", "open=%d", count_open());
	rm_rf(dir);
	return 0;
}
