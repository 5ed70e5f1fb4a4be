// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sys/pidinfo: /proc/PID/{stat,limits,cgroup} and /proc/stat read from a
 * fake proc root in a temporary directory (odd comms, unlimited limits,
 * cgroup v1 and v2), its reader of "KEY value" lines, and a few figures of
 * this very process from /proc.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sys/syscall.h>

#include "check.h"
#include "sys/pidinfo.h"

static char root[] = "/tmp/fdw-test-pidinfo-XXXXXX";

/* ROOT/PID/NAME (pid 0: ROOT/NAME) holding `text`. */
static void put(uint32_t pid, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	if (pid) {
		snprintf(path, sizeof(path), "%s/%u", root, pid);
		(void)mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/%u/%s", root, pid, name);
	} else {
		snprintf(path, sizeof(path), "%s/%s", root, name);
	}
	f = fopen(path, "we");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_stat(void)
{
	struct fdw_pid_stat st;

	/* a comm with ") (" and spaces: it ends at the last ')'; tpgid -1 */
	put(10, "stat", "10 (a) (b c) S 7 10 10 0 -1 4194560 90 0 0 0 1 2 0 0 20 0 1 0 "
			"987654 1000 10 18446744073709551615\n");
	CHECK_EQ(fdw_pid_stat_read(root, 10, &st), 0);
	CHECK_STR(st.comm, "a) (b c");
	CHECK_EQ(st.state, 'S');
	CHECK_EQ(st.ppid, 7);
	CHECK_EQ(st.flags, 4194560);
	CHECK_EQ(st.starttime, 987654);
	CHECK_EQ(st.startstack, 0); /* a line cut before field 28 */
	CHECK(!(st.flags & FDW_PF_KTHREAD));
	/* the whole line (a shell's, 52 fields): startstack, field 28 */
	put(15, "stat", "15 (bash) S 14 15 15 34816 15 4194560 1130 0 0 0 1 0 0 0 20 0 1 0 "
			"421337 8318976 1318 18446744073709551615 94367053975552 94367054889581 "
			"140725398521680 0 0 0 65536 3686404 1266761467 1 0 0 17 1 0 0 0 0 0 "
			"94367055133488 94367055182792 94367086886912 140725398529305 "
			"140725398529311 140725398529311 140725398532078 0\n");
	CHECK_EQ(fdw_pid_stat_read(root, 15, &st), 0);
	CHECK_EQ(st.starttime, 421337);
	CHECK_EQ(st.rss, 1318);
	CHECK_EQ(st.startstack, 140725398521680ull);
	/* a kernel thread; a comm of the longest length the kernel gives */
	put(11, "stat", "11 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 "
			"33 0 0\n");
	CHECK_EQ(fdw_pid_stat_read(root, 11, &st), 0);
	CHECK_STR(st.comm, "kworker/0:1-eve");
	CHECK(st.flags & FDW_PF_KTHREAD);
	CHECK_EQ(st.ppid, 2);
	CHECK_EQ(st.starttime, 33);
	/* cut short, garbled, missing: errors, and *out untouched */
	memset(&st, 0x5a, sizeof(st));
	put(12, "stat", "12 (short) S 1 12 12\n");
	CHECK_EQ(fdw_pid_stat_read(root, 12, &st), -EBADMSG);
	put(13, "stat", "13 (x) S 1 13 13 0 -1 4x 0 0 0 0 0 0 0 0 20 0 1 0 5\n");
	CHECK_EQ(fdw_pid_stat_read(root, 13, &st), -EBADMSG);
	put(14, "stat", "14 no parentheses S 1\n");
	CHECK_EQ(fdw_pid_stat_read(root, 14, &st), -EBADMSG);
	CHECK_EQ(fdw_pid_stat_read(root, 99, &st), -ESRCH);
	CHECK_EQ(st.ppid, 0x5a5a5a5a);
	/* this very process, from the real /proc */
	CHECK_EQ(fdw_pid_stat_read(NULL, (uint32_t)getpid(), &st), 0);
	CHECK_EQ(st.ppid, getppid());
	CHECK_STR(st.comm, "test-pidinfo");
	CHECK(st.starttime > 0);
	CHECK(st.startstack > 0); /* a process may look at its own */
}

static void test_limits(void)
{
	static const char head[] =
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max cpu time              unlimited            unlimited            seconds   \n";
	char text[1024];
	uint64_t soft = 0, hard = 0;
	struct rlimit rl;

	snprintf(text, sizeof(text), "%s%s%s", head,
		 "Max open files            1024                 524288               files     \n",
		 "Max locked memory         8388608              8388608              bytes     \n");
	put(20, "limits", text);
	CHECK_EQ(fdw_pid_limits_read(root, 20, &soft, &hard), 0);
	CHECK_EQ(soft, 1024);
	CHECK_EQ(hard, 524288);
	snprintf(text, sizeof(text), "%s%s", head,
		 "Max open files            unlimited            unlimited            files     \n");
	put(21, "limits", text);
	CHECK_EQ(fdw_pid_limits_read(root, 21, &soft, &hard), 0);
	CHECK(soft == (uint64_t)RLIM_INFINITY && hard == (uint64_t)RLIM_INFINITY);
	put(22, "limits", head);
	CHECK_EQ(fdw_pid_limits_read(root, 22, &soft, &hard), -EBADMSG);
	CHECK_EQ(fdw_pid_limits_read(root, 99, &soft, &hard), -ESRCH);
	/* prlimit of this process agrees with getrlimit */
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK_EQ(fdw_pid_nofile_limit(NULL, (uint32_t)getpid(), &soft, &hard), 0);
	CHECK(soft == rl.rlim_cur && hard == rl.rlim_max);
}

static void test_units(void)
{
	char unit[128];

	put(1, "cgroup", "0::/system.slice/nginx.service\n");
	put(2, "cgroup", "0::/user.slice/user-1000.slice/session-3.scope\n");
	put(3, "cgroup", "0::/system.slice/postgresql@15-main.service/x/y\n");
	put(4, "cgroup", "0::/\n");
	put(5, "cgroup", "12:pids:/system.slice/cron.service\n"
			 "1:name=systemd:/system.slice/cron.service\n");
	put(6, "cgroup", "0::/machine.slice\n");
	CHECK_EQ(fdw_pid_unit(root, 1, unit, sizeof(unit)), 0);
	CHECK_STR(unit, "nginx.service");
	CHECK_EQ(fdw_pid_unit(root, 2, unit, sizeof(unit)), 0);
	CHECK_STR(unit, "session-3.scope");
	CHECK_EQ(fdw_pid_unit(root, 3, unit, sizeof(unit)), 0);
	CHECK_STR(unit, "postgresql@15-main.service");
	CHECK_EQ(fdw_pid_unit(root, 4, unit, sizeof(unit)), 0);
	CHECK_STR(unit, "");
	CHECK_EQ(fdw_pid_unit(root, 5, unit, sizeof(unit)), 0);
	CHECK_STR(unit, "cron.service");
	CHECK_EQ(fdw_pid_unit(root, 6, unit, sizeof(unit)), 0);
	CHECK_STR(unit, "machine.slice");
	CHECK(fdw_pid_unit(root, 7, unit, sizeof(unit)) < 0);
	/* a cgroup v2 line after v1 lines without a unit */
	put(8, "cgroup", "3:cpu:/\n2:memory:/\n0::/system.slice/fdw-demo.service\n");
	CHECK_EQ(fdw_pid_unit(root, 8, unit, sizeof(unit)), 0);
	CHECK_STR(unit, "fdw-demo.service");
}

/* a fake ROOT/PID/exe symlink to `target` */
static void put_exe(uint32_t pid, const char *target)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%u", root, pid);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%u/exe", root, pid);
	CHECK_EQ(symlink(target, path), 0);
}

static void test_exe_name(void)
{
	char name[16];

	put_exe(31, "/usr/bin/bash");
	put_exe(32, "/usr/bin/dash (deleted)");
	put_exe(33, "/opt/a/very-long-program-name");
	put_exe(34, "busybox");
	CHECK_EQ(fdw_pid_exe_name(root, 31, name, sizeof(name)), 0);
	CHECK_STR(name, "bash");
	CHECK_EQ(fdw_pid_exe_name(root, 32, name, sizeof(name)), 0);
	CHECK_STR(name, "dash");
	CHECK_EQ(fdw_pid_exe_name(root, 33, name, sizeof(name)), -ENAMETOOLONG);
	CHECK_STR(name, "");
	CHECK_EQ(fdw_pid_exe_name(root, 34, name, sizeof(name)), 0);
	CHECK_STR(name, "busybox");
	CHECK_EQ(fdw_pid_exe_name(root, 99, name, sizeof(name)), -ESRCH);
	CHECK_EQ(fdw_pid_exe_name(root, 31, name, 0), -EINVAL);
	/* this process, in the real /proc */
	CHECK_EQ(fdw_pid_exe_name(NULL, (uint32_t)getpid(), name, sizeof(name)), 0);
	CHECK(!strncmp(name, "test-pidinfo", 12));
}

static void test_boot_time(void)
{
	char text[8192];
	size_t o;
	double bt = 0;

	/* a long "intr" line before btime */
	o = (size_t)snprintf(text, sizeof(text), "cpu  1 2 3 4\nintr 12345");
	while (o < sizeof(text) - 200)
		o += (size_t)snprintf(text + o, sizeof(text) - o, " 0");
	snprintf(text + o, sizeof(text) - o, "\nctxt 42\nbtime 1700000000\nprocesses 7\n");
	put(0, "stat", text);
	CHECK_EQ(fdw_boot_time_read(root, &bt), 0);
	CHECK(bt == 1700000000.0);
	put(0, "stat", "cpu  1 2 3 4\n");
	CHECK_EQ(fdw_boot_time_read(root, &bt), -EBADMSG);
	CHECK(fdw_boot_time() > 1e9);
	CHECK(fdw_clk_tck() > 0);
}

/* The one reader of "KEY value" lines (stat's btime, limits, timens_offsets). */
static void test_keyed_line(void)
{
	static char big[20000];
	char path[256], buf[32];
	size_t o = 0;

	snprintf(path, sizeof(path), "%s/keyed", root);
	/* present: the value without the blanks after the key or the newline */
	put(0, "keyed", "alpha 1\nbeta \t 2 3\t\ngamma 4");
	CHECK_EQ(fdw_keyed_line_read(path, "beta", buf, sizeof(buf)), 4);
	CHECK_STR(buf, "2 3\t");
	/* the last line, with no newline; a tab after the key (status's "Uid:") */
	CHECK_EQ(fdw_keyed_line_read(path, "gamma", buf, sizeof(buf)), 1);
	CHECK_STR(buf, "4");
	put(0, "keyed", "Uid:\t0\t1\t2\t3\n");
	CHECK_EQ(fdw_keyed_line_read(path, "Uid:", buf, sizeof(buf)), 7);
	CHECK_STR(buf, "0\t1\t2\t3");
	/* absent, or only the key's own prefix or a longer key: -EBADMSG, buf untouched */
	strcpy(buf, "kept");
	put(0, "keyed", "alpha 1\nbetamax 2\nbet 3\n beta 4\nbeta\n");
	CHECK_EQ(fdw_keyed_line_read(path, "beta", buf, sizeof(buf)), -EBADMSG);
	CHECK_STR(buf, "kept");
	/* a key that is the prefix of an earlier key: the line of its own */
	put(0, "keyed", "boottime_x 9\nboottime 7 8\nboottime 5 6\n");
	CHECK_EQ(fdw_keyed_line_read(path, "boottime", buf, sizeof(buf)), 3);
	CHECK_STR(buf, "7 8");
	/* an empty file, a missing one */
	put(0, "keyed", "");
	CHECK_EQ(fdw_keyed_line_read(path, "beta", buf, sizeof(buf)), -EBADMSG);
	CHECK_EQ(fdw_keyed_line_read("/nonexistent/keyed", "beta", buf, sizeof(buf)),
		 -ENOENT);
	/* a line far longer than buf before the key (stat's "intr") */
	o += (size_t)snprintf(big + o, sizeof(big) - o, "intr 1");
	while (o < sizeof(big) - 100)
		o += (size_t)snprintf(big + o, sizeof(big) - o, " 0");
	snprintf(big + o, sizeof(big) - o, "\nbeta 42\n");
	put(0, "keyed", big);
	CHECK_EQ(fdw_keyed_line_read(path, "beta", buf, sizeof(buf)), 2);
	CHECK_STR(buf, "42");
	/* the key's own line too long for buf: refused, not cut; one that just fits */
	CHECK_EQ(fdw_keyed_line_read(path, "intr", buf, sizeof(buf)), -EBADMSG);
	CHECK_STR(buf, "42");
	put(0, "keyed", "beta 0123456789012345678901234567890\n");
	CHECK_EQ(fdw_keyed_line_read(path, "beta", buf, sizeof(buf)), 31);
	CHECK_EQ(strlen(buf), 31);
	put(0, "keyed", "beta 01234567890123456789012345678901\n");
	CHECK_EQ(fdw_keyed_line_read(path, "beta", buf, sizeof(buf)), -EBADMSG);
}

/* The time namespace's boottime offset that /proc adds to starts. */
static void test_timens(void)
{
	char path[256];
	int64_t off = 7;

	snprintf(path, sizeof(path), "%s/self", root);
	(void)mkdir(path, 0755);
	/* none (a kernel without time namespaces): -ENOENT, off untouched */
	CHECK_EQ(fdw_timens_boottime_read(root, &off), -ENOENT);
	CHECK_EQ(off, 7);
	put(0, "self/timens_offsets", "monotonic           0         0\n"
				      "boottime            0         0\n");
	CHECK_EQ(fdw_timens_boottime_read(root, &off), 0);
	CHECK_EQ(off, 0);
	/* a namespace whose boot was set 3.5 s back (unshare -T --boottime) */
	put(0, "self/timens_offsets", "monotonic 100 0\nboottime -4 500000000\n");
	CHECK_EQ(fdw_timens_boottime_read(root, &off), 0);
	CHECK_EQ(off, -3500000000ll);
	put(0, "self/timens_offsets", "boottime 86400 7\n");
	CHECK_EQ(fdw_timens_boottime_read(root, &off), 0);
	CHECK_EQ(off, 86400000000007ll);
	/* garbled: refused, off untouched */
	put(0, "self/timens_offsets", "boottime 12 x\n");
	CHECK_EQ(fdw_timens_boottime_read(root, &off), -EBADMSG);
	put(0, "self/timens_offsets", "boottime 1 1000000000\n");
	CHECK_EQ(fdw_timens_boottime_read(root, &off), -EBADMSG);
	put(0, "self/timens_offsets", "monotonic 0 0\n");
	CHECK_EQ(fdw_timens_boottime_read(root, &off), -EBADMSG);
	CHECK_EQ(off, 86400000000007ll);
	/* this process's (the initial namespace here, or whatever it runs in) */
	off = 1;
	if (fdw_timens_boottime_read(NULL, &off) == 0)
		CHECK_EQ(fdw_timens_boottime(), off);
	else
		CHECK_EQ(fdw_timens_boottime(), 0);
}

/* A thread of PID inside SYSCALL_LINE (the task dir made by hand). */
static void put_task(uint32_t pid, uint32_t tid, const char *line)
{
	char name[64];

	put(pid, "stat", "x"); /* makes ROOT/PID */
	snprintf(name, sizeof(name), "task");
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/%u/task", root, pid);
		(void)mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/%u/task/%u", root, pid, tid);
		(void)mkdir(path, 0755);
	}
	snprintf(name, sizeof(name), "task/%u/syscall", tid);
	put(pid, name, line);
}

/* Does fd `*arg` change in a syscall of the list? */
static bool changes(const struct fdw_pid_syscalls *sc, void *arg)
{
	for (size_t i = 0; i < sc->n; i++)
		if (fdw_syscall_changes_fd(&sc->v[i], *(const int *)arg))
			return true;
	return false;
}

/* Through fdw_pid_syscalls_settle: 1 when a thread of pid is blocked in a
 * syscall changing fd, -EAGAIN when one still ran at the last look, 0, or
 * -errno; *took_ns: how long it asked. */
static int in_flight(uint32_t pid, int fd, uint64_t budget_ns, uint64_t *took_ns)
{
	struct fdw_pid_syscalls sc = { 0 };
	struct timespec a, b;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &a);
	r = fdw_pid_syscalls_settle(pid ? root : NULL, pid ? pid : (uint32_t)getpid(), budget_ns,
				    changes, &fd, &sc);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (took_ns)
		*took_ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000ull + (uint64_t)b.tv_nsec -
			   (uint64_t)a.tv_nsec;
	if (r == 0)
		r = changes(&sc, &fd) ? 1 : sc.nrunning ? -EAGAIN : 0;
	fdw_pid_syscalls_free(&sc);
	return r;
}

static void test_in_flight(void)
{
	char line[128];

	/* close(98) blocked in the kernel, on the second thread */
	put_task(50, 50, "running\n");
	snprintf(line, sizeof(line), "%d 0x62 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n", SYS_close);
	put_task(50, 51, line);
	CHECK_EQ(in_flight(50, 98, 0, NULL), 1);
	CHECK_EQ(in_flight(50, 97, 0, NULL), -EAGAIN); /* thread 50 runs */
	/* close_range(3, ~0U, 0) covers every fd from 3 */
	snprintf(line, sizeof(line), "%d 0x3 0xffffffff 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n",
		 SYS_close_range);
	put_task(52, 52, line);
	CHECK_EQ(in_flight(52, 2, 0, NULL), 0);
	CHECK_EQ(in_flight(52, 3, 0, NULL), 1);
	CHECK_EQ(in_flight(52, 19999, 0, NULL), 1);
	/* dup3(4, 9, 0): 9 is being replaced, 4 is not */
	snprintf(line, sizeof(line), "%d 0x4 0x9 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n", SYS_dup3);
	put_task(53, 53, line);
	CHECK_EQ(in_flight(53, 9, 0, NULL), 1);
	CHECK_EQ(in_flight(53, 4, 0, NULL), 0);
	/* read(98, ...) uses the fd, it does not change it; not in a syscall */
	snprintf(line, sizeof(line), "%d 0x62 0x7f00 0x10 0x0 0x0 0x0 0x7ffc 0x7f00\n", SYS_read);
	put_task(54, 54, line);
	CHECK_EQ(in_flight(54, 98, 0, NULL), 0);
	put_task(55, 55, "-1 0x7ffc 0x7f00\n");
	CHECK_EQ(in_flight(55, 98, 0, NULL), 0);
	CHECK_EQ(in_flight(56, 98, 0, NULL), -ESRCH);
	/* this very process, which is in read() of /proc/self/task/TID/syscall */
	CHECK_EQ(in_flight(0, 0, 0, NULL), 0);
}

/* Replaces ROOT/PID/task/TID/syscall with `line` after `ms` (a rename: a
 * reader never sees it half written). */
struct later {
	uint32_t pid, tid;
	unsigned int ms;
	char line[128];
	unsigned int then_ms; /* and back to "running" that much later (0: no) */
};

static void write_syscall_line(const struct later *l, const char *line)
{
	char tmp[256], path[256];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/%u/task/%u/syscall.new", root, l->pid, l->tid);
	snprintf(path, sizeof(path), "%s/%u/task/%u/syscall", root, l->pid, l->tid);
	f = fopen(tmp, "we");
	if (!f)
		return;
	fputs(line, f);
	fclose(f);
	(void)rename(tmp, path);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000l };

	(void)nanosleep(&ts, NULL);
}

static void *write_later(void *arg)
{
	const struct later *l = arg;

	sleep_ms(l->ms);
	write_syscall_line(l, l->line);
	if (l->then_ms) {
		sleep_ms(l->then_ms);
		write_syscall_line(l, "running\n");
	}
	return NULL;
}

/* A thread caught running (waiting for a CPU between the sleeps of a close
 * that releases a bpf_link) is asked again while the budget lasts; every
 * running thread each time, not the first one until the budget is gone. */
static void test_in_flight_running(void)
{
	struct later l = { .pid = 60, .tid = 61, .ms = 50 };
	struct later l2 = { .pid = 62, .tid = 66, .ms = 20, .then_ms = 200 };
	struct fdw_pid_syscalls sc = { 0 };
	char line[128];
	uint64_t took;
	pthread_t t;
	int made;

	snprintf(l.line, sizeof(l.line), "%d 0x124 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n",
		 SYS_close);
	put_task(60, 60, "-1 0x7ffc 0x7f00\n");
	put_task(60, 61, "running\n");
	/* asked once: cannot tell */
	CHECK_EQ(in_flight(60, 292, 0, &took), -EAGAIN);
	CHECK(took < 1000000000ull);
	/* asked again until it blocks in close(292), 50 ms on */
	made = pthread_create(&t, NULL, write_later, &l);
	CHECK_EQ(made, 0);
	CHECK_EQ(in_flight(60, 292, 5000ull * 1000000ull, &took), 1);
	CHECK(took >= 1000000ull);	       /* it paused */
	CHECK(took < 4000ull * 1000000ull); /* and stopped once it knew */
	if (made == 0)
		(void)pthread_join(t, NULL);
	/* blocked in another fd's close: no, at once */
	CHECK_EQ(in_flight(60, 293, 5000ull * 1000000ull, &took), 0);
	CHECK(took < 4000ull * 1000000ull);
	/* running all along: the budget is spent, then cannot tell */
	put_task(60, 61, "running\n");
	CHECK_EQ(in_flight(60, 292, 20ull * 1000000ull, &took), -EAGAIN);
	CHECK(took >= 19ull * 1000000ull);
	CHECK(took < 4000ull * 1000000ull); /* and no longer */

	/* six busy threads and one blocked in close(292) from 20 ms to 220 ms
	 * on: seen, while the busy ones were being asked too (in whatever
	 * order the directory lists them: on ext4 here, 66 comes last) */
	snprintf(l2.line, sizeof(l2.line), "%d 0x124 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n",
		 SYS_close);
	for (uint32_t tid = 62; tid <= 68; tid++)
		put_task(62, tid, "running\n");
	made = pthread_create(&t, NULL, write_later, &l2);
	CHECK_EQ(made, 0);
	CHECK_EQ(in_flight(62, 292, 1000ull * 1000000ull, NULL), 1);
	if (made == 0)
		(void)pthread_join(t, NULL);

	/* one read lists every thread: two fd-changing syscalls, one that
	 * changes none, one running; read again, the running one only */
	snprintf(line, sizeof(line), "%d 0x5 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n", SYS_close);
	put_task(70, 70, line);
	snprintf(line, sizeof(line), "%d 0x3 0x7 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n", SYS_dup3);
	put_task(70, 71, line);
	snprintf(line, sizeof(line), "%d 0x5 0x7f00 0x10 0x0 0x0 0x0 0x7ffc 0x7f00\n", SYS_read);
	put_task(70, 72, line);
	put_task(70, 73, "running\n");
	CHECK_EQ(fdw_pid_syscalls_read(root, 70, &sc), 0);
	CHECK_EQ(sc.n, 2);
	CHECK_EQ(sc.nrunning, 1);
	CHECK(sc.nrunning == 1 && sc.running[0] == 73);
	CHECK(changes(&sc, &(int){ 5 }));
	CHECK(changes(&sc, &(int){ 7 }));
	CHECK(!changes(&sc, &(int){ 3 })); /* dup3's source */
	snprintf(line, sizeof(line), "%d 0x9 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n", SYS_close);
	put_task(70, 73, line);
	put_task(70, 71, "running\n"); /* not read again: it was blocked */
	CHECK_EQ(fdw_pid_syscalls_reread(root, 70, &sc), 0);
	CHECK_EQ(sc.n, 3);
	CHECK_EQ(sc.nrunning, 0);
	CHECK(changes(&sc, &(int){ 9 }));
	/* three running, the middle one then blocked in close(4): the other two
	 * are kept, each once */
	for (uint32_t tid = 80; tid <= 82; tid++)
		put_task(80, tid, "running\n");
	CHECK_EQ(fdw_pid_syscalls_read(root, 80, &sc), 0);
	CHECK_EQ(sc.n, 0);
	CHECK_EQ(sc.nrunning, 3);
	snprintf(line, sizeof(line), "%d 0x4 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x7f00\n", SYS_close);
	put_task(80, 81, line);
	CHECK_EQ(fdw_pid_syscalls_reread(root, 80, &sc), 0);
	CHECK_EQ(sc.n, 1);
	CHECK(sc.n == 1 && sc.v[0].tid == 81);
	CHECK_EQ(sc.nrunning, 2);
	CHECK(sc.nrunning == 2 && sc.running[0] + sc.running[1] == 80 + 82 &&
	      sc.running[0] != sc.running[1]);
	CHECK(changes(&sc, &(int){ 4 }));
	/* close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) closes nothing */
	snprintf(line, sizeof(line), "%d 0x3 0xffffffff 0x4 0x0 0x0 0x0 0x7ffc 0x7f00\n",
		 SYS_close_range);
	put_task(84, 84, line);
	CHECK_EQ(in_flight(84, 5, 0, NULL), 0);
	fdw_pid_syscalls_free(&sc);
	CHECK(sc.v == NULL && sc.running == NULL && sc.n == 0);
	fdw_pid_syscalls_free(NULL);
}

/* fdw_syscall_changes_fd on its own: which argument each syscall changes,
 * and no other syscall, whatever its arguments */
static void test_changes_fd(void)
{
	struct fdw_thread_syscall sc = { .tid = 1 };

	sc.nr = SYS_close;
	sc.args[0] = 7;
	CHECK(fdw_syscall_changes_fd(&sc, 7));
	CHECK(!fdw_syscall_changes_fd(&sc, 8));
#ifdef SYS_dup2
	sc.nr = SYS_dup2;
	sc.args[0] = 3;
	sc.args[1] = 9;
	CHECK(fdw_syscall_changes_fd(&sc, 9));
	CHECK(!fdw_syscall_changes_fd(&sc, 3));
#endif
	sc.nr = SYS_dup3;
	sc.args[0] = 3;
	sc.args[1] = 9;
	CHECK(fdw_syscall_changes_fd(&sc, 9));
	CHECK(!fdw_syscall_changes_fd(&sc, 3));
	sc.nr = SYS_close_range;
	sc.args[0] = 10;
	sc.args[1] = 12;
	sc.args[2] = 0;
	CHECK(!fdw_syscall_changes_fd(&sc, 9));
	CHECK(fdw_syscall_changes_fd(&sc, 10));
	CHECK(fdw_syscall_changes_fd(&sc, 12));
	CHECK(!fdw_syscall_changes_fd(&sc, 13));
	/* read(5, buf, 9), write(9, ...), dup(9), fcntl(9, F_DUPFD, 9):
	 * they use fds (or make new ones), they close or replace none */
	sc.args[0] = 9;
	sc.args[1] = 9;
	sc.args[2] = 9;
	sc.nr = SYS_read;
	CHECK(!fdw_syscall_changes_fd(&sc, 9));
	sc.nr = SYS_write;
	CHECK(!fdw_syscall_changes_fd(&sc, 9));
	sc.nr = SYS_dup;
	CHECK(!fdw_syscall_changes_fd(&sc, 9));
	sc.nr = SYS_fcntl;
	CHECK(!fdw_syscall_changes_fd(&sc, 9));
	sc.nr = -1; /* blocked outside a syscall */
	CHECK(!fdw_syscall_changes_fd(&sc, 9));
}

int main(void)
{
	char cmd[300];

	if (!mkdtemp(root)) {
		CHECK(!"mkdtemp");
		return check_summary();
	}
	test_stat();
	test_limits();
	test_units();
	test_exe_name();
	test_keyed_line();
	test_boot_time();
	test_timens();
	test_in_flight();
	test_in_flight_running();
	test_changes_fd();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	CHECK_EQ(system(cmd), 0);
	return check_summary();
}
