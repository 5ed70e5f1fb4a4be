/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The dup family's edge cases, one checkpoint each (see test_dup.py):
 * dup into a hole, dup2 replacing / same fd / bad oldfd, dup3 flags and
 * EINVAL, fcntl F_DUPFD / F_DUPFD_CLOEXEC / F_SETFD, double close,
 * close_range plain / CLOEXEC / UNSHARE, EMFILE, closing everything.
 */
#include "fdwt.h"

#include <linux/close_range.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
	char *dir, *pa, *pb, *pc;
	int f1, f2, f3, fb, d, r, e, want, i;
	int at50, dfd, dfdc, high, top, c;
	struct rlimit rl;

	fdwt_init(argc, argv);
	dir = make_tmpdir("dup");
	pa = make_file(dir, "a");
	pb = make_file(dir, "b");
	pc = make_file(dir, "c");
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	for (i = 40; i < 1100; i++)
		expect(!fd_is_open(i), "fd %d open at start; this test needs 40..1099 free", i);

	/* 1. dup takes the lowest free number (a hole we make), without CLOEXEC. */
	f1 = xopen(pa, O_RDONLY);
	f2 = xopen(pb, O_RDONLY);
	f3 = xopen(pc, O_RDONLY | O_CLOEXEC);
	if (sys_close(f2) < 0)
		die("close");
	want = lowest_free(0);
	expect(want == f2, "lowest free %d, hole %d", want, f2);
	d = sys_dup(f3);
	expect(d == want, "dup returned %d, expected %d", d, want);
	expect(!fd_cloexec(d), "dup result has CLOEXEC");
	cp("dup", "hole=%d src=%d ret=%d", f2, f3, d);

	/* 2. dup2 into slot 100: first fill it, then replace, then same, then bad. */
	r = sys_fcntl(f1, F_DUPFD, 100);
	expect(r == 100, "F_DUPFD 100 returned %d", r);
	cp("fdupfd_100", "src=%d ret=%d path=%s", f1, r, pa);

	fb = xopen(pb, O_RDONLY);
	r = sys_dup2(fb, 100);
	expect(r == 100, "dup2 replace returned %d", r);
	cp("dup2_replace", "oldfd=%d newfd=100 ret=%d old_path=%s new_path=%s", fb, r, pa, pb);

	r = sys_dup2(100, 100);
	expect(r == 100, "dup2(100,100) returned %d", r);
	cp("dup2_same", "oldfd=100 newfd=100 ret=%d", r);

	expect(!fd_is_open(99), "fd 99 open");
	r = sys_dup2(99, 100);
	e = errno;
	expect(r == -1 && e == EBADF, "dup2(99,100) returned %d", r);
	expect(fd_is_open(100), "dup2 with bad oldfd closed newfd");
	cp("dup2_badfd", "oldfd=99 newfd=100 ret=%d errno=%d", r, e);

	/* 3. dup3: O_CLOEXEC on a new and on a replaced slot; EINVAL cases. */
	r = sys_dup3(fb, 101, O_CLOEXEC);
	expect(r == 101 && fd_cloexec(101), "dup3 O_CLOEXEC new slot: %d", r);
	r = sys_dup3(f1, 100, O_CLOEXEC);
	expect(r == 100 && fd_cloexec(100), "dup3 O_CLOEXEC replacing: %d", r);
	r = sys_dup3(fb, fb, 0);
	e = errno;
	expect(r == -1 && e == EINVAL, "dup3(fd, fd) returned %d", r);
	r = sys_dup3(fb, 102, 0x1);
	expect(r == -1 && errno == EINVAL, "dup3 bogus flags returned %d", r);
	expect(!fd_is_open(102), "dup3 with bad flags installed 102");
	r = sys_dup3(fb, 103, 0);
	expect(r == 103 && !fd_cloexec(103), "dup3 plain: %d", r);
	cp("dup3", "src=%d cloexec_new=101 replaced=100 replaced_src=%d plain=103 same_fd=%d same_ret=-%d",
	   fb, f1, fb, e);

	/* 4. fcntl F_DUPFD / F_DUPFD_CLOEXEC: lowest free >= arg. */
	at50 = sys_fcntl(f1, F_DUPFD, 50);
	expect(at50 == 50, "F_DUPFD 50 returned %d", at50);
	want = lowest_free(50);
	dfd = sys_fcntl(f1, F_DUPFD, 50);
	expect(dfd == want && !fd_cloexec(dfd), "F_DUPFD 50 again returned %d (want %d)", dfd,
	       want);
	want = lowest_free(50);
	dfdc = sys_fcntl(fb, F_DUPFD_CLOEXEC, 50);
	expect(dfdc == want && fd_cloexec(dfdc), "F_DUPFD_CLOEXEC returned %d (want %d)", dfdc,
	       want);
	high = sys_fcntl(f1, F_DUPFD, 1000);
	expect(high == 1000, "F_DUPFD 1000 returned %d", high);
	r = sys_fcntl(f1, F_DUPFD, (int)rl.rlim_cur);
	expect(r == -1 && errno == EINVAL, "F_DUPFD at the limit returned %d", r);
	top = (int)rl.rlim_cur - 1;
	r = sys_dup2(fb, top);
	expect(r == top, "dup2 to the top slot %d returned %d", top, r);
	cp("fcntl_dupfd", "src=%d src_cloexec=%d at50=%d dupfd=%d dupfd_cloexec=%d high=%d top=%d",
	   f1, fb, at50, dfd, dfdc, high, top);

	/* 5. F_SETFD sets and clears the bit; on a closed fd it fails. */
	expect(sys_fcntl(dfd, F_SETFD, FD_CLOEXEC) == 0 && fd_cloexec(dfd), "F_SETFD set");
	expect(sys_fcntl(dfdc, F_SETFD, 0) == 0 && !fd_cloexec(dfdc), "F_SETFD clear");
	r = sys_fcntl(99, F_SETFD, FD_CLOEXEC);
	expect(r == -1 && errno == EBADF, "F_SETFD on closed fd returned %d", r);
	cp("setfd", "set=%d cleared=%d", dfd, dfdc);

	/* 6. close twice. */
	c = xopen(pc, O_RDONLY);
	expect(sys_close(c) == 0, "first close");
	r = sys_close(c);
	expect(r == -1 && errno == EBADF, "second close returned %d", r);
	cp("close_twice", "fd=%d", c);

	/* 7. close_range over 200..209 with a hole at 203. */
	for (i = 200; i < 210; i++)
		expect(sys_dup2(fb, i) == i, "dup2 %d", i);
	expect(sys_close(203) == 0, "close 203");
	expect(sys_close_range(200, 204, 0) == 0, "close_range 200-204");
	for (i = 200; i < 205; i++)
		expect(!fd_is_open(i), "fd %d still open after close_range", i);
	cp("close_range", "first=200 last=204");

	expect(sys_close_range(205, 209, CLOSE_RANGE_CLOEXEC) == 0, "close_range CLOEXEC");
	for (i = 205; i < 210; i++)
		expect(fd_is_open(i) && fd_cloexec(i), "fd %d after CLOSE_RANGE_CLOEXEC", i);
	cp("close_range_cloexec", "first=205 last=209");

	expect(sys_close_range(206, 207, CLOSE_RANGE_UNSHARE) == 0, "close_range UNSHARE");
	expect(!fd_is_open(206) && !fd_is_open(207), "CLOSE_RANGE_UNSHARE left fds open");
	cp("close_range_unshare", "first=206 last=207");

	expect(sys_fcntl(208, F_SETFD, 0) == 0, "clear 208");
	expect(sys_close_range(208, 208, CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) == 0,
	       "close_range UNSHARE|CLOEXEC");
	expect(fd_is_open(208) && fd_cloexec(208), "UNSHARE|CLOEXEC on 208");
	r = sys_close_range(10, 5, 0);
	expect(r == -1 && errno == EINVAL, "close_range(10,5) returned %d", r);
	expect(sys_close_range(top + 1, ~0U, 0) == 0, "close_range past the top");
	cp("close_range_misc", "cloexec=208");

	/* 8. EMFILE: soft limit at the lowest free number, then dup and open. */
	want = lowest_free(0);
	{
		struct rlimit low = {.rlim_cur = (rlim_t)want, .rlim_max = rl.rlim_max};
		int r1, e1, r2, e2;

		if (setrlimit(RLIMIT_NOFILE, &low) < 0)
			die("setrlimit");
		r1 = sys_dup(f1);
		e1 = errno;
		r2 = sys_open(pa, O_RDONLY, 0);
		e2 = errno;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die("setrlimit restore");
		expect(r1 == -1 && e1 == EMFILE, "dup at the limit returned %d", r1);
		expect(r2 == -1 && e2 == EMFILE, "open at the limit returned %d", r2);
		cp("emfile", "dup_ret=-%d open_ret=-%d", e1, e2);
	}

	/* 9. Close everything above stderr. */
	expect(sys_close_range(3, ~0U, 0) == 0, "close_range 3..");
	cp("close_all", NULL);

	rm_rf(dir);
	return 0;
}
