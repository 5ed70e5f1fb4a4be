// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sys/procfs against a fake /proc built in a temporary directory (the
 * daemon's --proc-root), then against the real /proc for this process.
 * No privileges needed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sys/pidinfo.h"
#include "sys/procfs.h"

#define O_CLOEXEC_OCTAL "02000000" /* how fdinfo's flags: line shows it */

static char root[64]; /* the fake /proc */

/* ---- building the fake tree ------------------------------------------- */

static void mkdirf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mkdirf(const char *fmt, ...)
{
	char path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void put(const char *text, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(const char *text, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	f = fopen(path, "we");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	CHECK(fclose(f) == 0);
}

/* /proc/PID/fd/FD -> target, with fdinfo/FD holding `fdinfo` (NULL: none) */
static void fake_fd(uint32_t pid, int fd, const char *target, const char *fdinfo)
{
	char path[512];

	mkdirf("%s/%u", root, pid);
	mkdirf("%s/%u/fd", root, pid);
	mkdirf("%s/%u/fdinfo", root, pid);
	snprintf(path, sizeof(path), "%s/%u/fd/%d", root, pid, fd);
	CHECK(symlink(target, path) == 0);
	if (fdinfo)
		put(fdinfo, "%s/%u/fdinfo/%d", root, pid, fd);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* How many fds this process has open (to catch leaks). */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the DIR's own */
}

static uint32_t kdev(dev_t d)
{
	return (uint32_t)(((major(d) & 0xfff) << 20) | (minor(d) & 0xfffff));
}

/* ---- the fake /proc ---------------------------------------------------- */

static void test_stat(void)
{
	struct fdw_pid_stat st;
	char comm[16];
	uint32_t ppid = 0;

	/* comm holds spaces and parentheses: the last ')' ends it */
	mkdirf("%s/1234", root);
	put("1234 (a) b)) S 77 1234 1234 0 -1 4194560 0 0\n", "%s/1234/stat", root);
	CHECK_EQ(fdw_proc_read_stat(root, 1234, comm, &ppid), 0);
	CHECK_STR(comm, "a) b)");
	CHECK_EQ(ppid, 77);
	CHECK_EQ(fdw_pid_stat_read(root, 1234, &st), 0);
	CHECK(!(st.flags & FDW_PF_KTHREAD));

	mkdirf("%s/1235", root);
	put("1235 (my (odd) prog) R 1 1 1 0 -1 0\n", "%s/1235/stat", root);
	CHECK_EQ(fdw_proc_read_stat(root, 1235, comm, NULL), 0);
	CHECK_STR(comm, "my (odd) prog");

	/* longer than the kernel's 15 characters: cut */
	mkdirf("%s/1236", root);
	put("1236 (0123456789abcdefXYZ) S 2 0 0 0 -1 0\n", "%s/1236/stat", root);
	CHECK_EQ(fdw_proc_read_stat(root, 1236, comm, &ppid), 0);
	CHECK_STR(comm, "0123456789abcde");
	CHECK_EQ(ppid, 2);

	/* PF_KTHREAD in the flags field */
	mkdirf("%s/2", root);
	put("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0\n", "%s/2/stat", root);
	CHECK_EQ(fdw_pid_stat_read(root, 2, &st), 0);
	CHECK(st.flags & FDW_PF_KTHREAD);

	/* no such process: -ESRCH; a malformed line: -EBADMSG */
	CHECK_EQ(fdw_proc_read_stat(root, 999, comm, &ppid), -ESRCH);
	mkdirf("%s/1237", root);
	put("1237 no parentheses S 1\n", "%s/1237/stat", root);
	CHECK_EQ(fdw_proc_read_stat(root, 1237, comm, &ppid), -EBADMSG);
	/* one parser (sys/pidinfo.c) for every reader: a line without its
	 * fields is malformed whatever the caller wants from it */
	put("1237 (x)\n", "%s/1237/stat", root);
	CHECK_EQ(fdw_proc_read_stat(root, 1237, comm, &ppid), -EBADMSG);
	CHECK_EQ(fdw_proc_read_stat(root, 1237, comm, NULL), -EBADMSG);
	put("", "%s/1237/stat", root);
	CHECK_EQ(fdw_proc_read_stat(root, 1237, comm, &ppid), -ESRCH);
}

static int count_pid(void *data, uint32_t pid)
{
	uint32_t *seen = data;

	seen[0]++;
	if (pid == 1234)
		seen[1]++;
	return 0;
}

static int stop_at_first(void *data, uint32_t pid)
{
	(*(unsigned int *)data)++;
	return -EINTR;
}

/* Task tid of process pid in the fake tree, its stat line made from state
 * and flags; the leader's (tid == pid) is the process's stat too. */
static void fake_task(uint32_t pid, uint32_t tid, char state, unsigned int flags)
{
	char line[128];

	snprintf(line, sizeof(line), "%u (t) %c 1 %u %u 0 -1 %u 0 0\n", tid, state, pid, pid,
		 flags);
	mkdirf("%s/%u", root, pid);
	mkdirf("%s/%u/task", root, pid);
	mkdirf("%s/%u/task/%u", root, pid, tid);
	put(line, "%s/%u/task/%u/stat", root, pid, tid);
	if (tid == pid)
		put(line, "%s/%u/stat", root, pid);
}

/* Processes whose exit /proc still shows: zombies, PF_EXITING, a zombie
 * leader whose threads run on (not exited). */
static void test_exited(void)
{
	uint32_t tids[3];

	fake_task(3000, 3000, 'S', 4194560);
	CHECK(!fdw_proc_exited(root, 3000));

	/* a zombie: leader Z, its only task Z */
	fake_task(3001, 3001, 'Z', 4227084);
	CHECK(fdw_proc_exited(root, 3001));
	tids[0] = 3001;
	CHECK_EQ(fdw_proc_live_tasks(root, 3001, tids, 1), 0);

	/* in do_exit(): running, PF_EXITING (0x4) */
	fake_task(3004, 3004, 'R', 4194564);
	CHECK(fdw_proc_exited(root, 3004));

	/* the leader exited alone; thread 3003 runs, thread 3005 is exiting */
	fake_task(3002, 3002, 'Z', 4227084);
	fake_task(3002, 3003, 'S', 4194368);
	fake_task(3002, 3005, 'R', 4194372);
	CHECK(!fdw_proc_exited(root, 3002));
	tids[0] = 3002, tids[1] = 3003, tids[2] = 3005;
	CHECK_EQ(fdw_proc_live_tasks(root, 3002, tids, 3), 1);
	CHECK_EQ(tids[0], 3003);

	/* gone: exited; a zombie leader whose task list is gone: exited */
	CHECK(fdw_proc_exited(root, 3999));
	mkdirf("%s/3006", root);
	put("3006 (z) Z 1 3006 3006 0 -1 4227084 0 0\n", "%s/3006/stat", root);
	CHECK(fdw_proc_exited(root, 3006));
}

static void test_lists(void)
{
	uint32_t *tids = NULL, seen[2] = { 0, 0 };
	unsigned int n = 0, calls = 0;

	mkdirf("%s/1234/task", root);
	mkdirf("%s/1234/task/1240", root);
	mkdirf("%s/1234/task/1234", root);
	mkdirf("%s/1234/task/1238", root);
	CHECK_EQ(fdw_proc_list_tasks(root, 1234, &tids, &n), 0);
	CHECK_EQ(n, 3);
	if (tids && n == 3) {
		CHECK_EQ(tids[0], 1234); /* leader first */
		CHECK((tids[1] == 1238 && tids[2] == 1240) || (tids[1] == 1240 && tids[2] == 1238));
	}
	free(tids);
	CHECK_EQ(fdw_proc_list_tasks(root, 999, &tids, &n), -ESRCH);

	/* numeric entries only */
	mkdirf("%s/self", root);
	mkdirf("%s/sys", root);
	mkdirf("%s/12x", root);
	CHECK_EQ(fdw_proc_list_pids(root, count_pid, seen), 0);
	CHECK_EQ(seen[0], 5); /* 2, 1234, 1235, 1236, 1237 */
	CHECK_EQ(seen[1], 1);
	/* a callback's error stops the walk and is returned */
	CHECK_EQ(fdw_proc_list_pids(root, stop_at_first, &calls), -EINTR);
	CHECK_EQ(calls, 1);
}

struct table_seen {
	unsigned int n;
	bool fd3, fd4, cloexec3, cloexec4;
};

static void table_cb(void *data, const struct fdw_fd_info *fi)
{
	struct table_seen *t = data;

	t->n++;
	if (fi->fd == 3) {
		t->fd3 = true;
		t->cloexec3 = fi->cloexec;
	} else if (fi->fd == 4) {
		t->fd4 = true;
		t->cloexec4 = fi->cloexec;
	}
}

static void test_fds(void)
{
	struct fdw_fd_info *fi = calloc(1, sizeof(*fi));
	struct table_seen seen = { 0 };
	char real[128];
	struct stat st;

	if (!fi) {
		CHECK(fi != NULL);
		return;
	}
	/* fd 3: a deleted file (the link dangles: no inode); fd 4: a real
	 * file; fd 5: an anonymous inode; fd 6: fdinfo without flags */
	snprintf(real, sizeof(real), "%s/real-file", root);
	put("x", "%s", real);
	CHECK(stat(real, &st) == 0);
	fake_fd(1234, 3, "/var/log/old.log (deleted)",
		"pos:\t0\nflags:\t" O_CLOEXEC_OCTAL "\nmnt_id:\t25\n");
	fake_fd(1234, 4, real, "pos:\t0\nflags:\t0100002\nmnt_id:\t25\n");
	fake_fd(1234, 5, "anon_inode:[eventfd]", "pos:\t0\nflags:\t02\n");
	fake_fd(1234, 6, real, "pos:\t0\n");
	fake_fd(1234, 7, real, NULL);

	CHECK_EQ(fdw_proc_read_fd(root, 1234, 3, fi), 0);
	CHECK_EQ(fi->fd, 3);
	CHECK_STR(fi->target, "/var/log/old.log (deleted)");
	CHECK(fi->cloexec);
	CHECK_EQ(fi->ino, 0);

	CHECK_EQ(fdw_proc_read_fd(root, 1234, 4, fi), 0);
	CHECK_STR(fi->target, real);
	CHECK(!fi->cloexec);
	CHECK_EQ(fi->ino, st.st_ino);
	CHECK_EQ(fi->dev, kdev(st.st_dev));
	CHECK_EQ(fi->mode, S_IFREG);

	CHECK_EQ(fdw_proc_read_fd(root, 1234, 5, fi), 0);
	CHECK_STR(fi->target, "anon_inode:[eventfd]");
	CHECK_EQ(fi->mode, 0);

	CHECK_EQ(fdw_proc_read_fd(root, 1234, 6, fi), -EIO);	/* no flags: line */
	CHECK_EQ(fdw_proc_read_fd(root, 1234, 7, fi), -ENOENT); /* no fdinfo */
	CHECK_EQ(fdw_proc_read_fd(root, 1234, 8, fi), -ENOENT); /* not open */
	CHECK_EQ(fdw_proc_read_fd(root, 1234, -1, fi), -EINVAL);
	CHECK_EQ(fdw_proc_read_fd(root, 999, 3, fi), -ESRCH);	/* no process */
	mkdirf("%s/1235/fd", root); /* fd/ without fdinfo/ */
	CHECK_EQ(fdw_proc_read_fd(root, 1235, 3, fi), -ESRCH);

	/* the table: fds whose fdinfo cannot be read are skipped (closed
	 * between readdir and read) */
	CHECK_EQ(fdw_proc_read_table(root, 1234, table_cb, &seen), 0);
	CHECK_EQ(seen.n, 3);
	CHECK(seen.fd3 && seen.cloexec3);
	CHECK(seen.fd4 && !seen.cloexec4);
	CHECK_EQ(fdw_proc_read_table(root, 999, table_cb, &seen), -ESRCH);
	free(fi);
}

/*
 * Locks in fdinfo: "lock:" lines of FLOCK, OFDLCK and POSIX locks are
 * locks held; a lease is not; neither is an fd whose inode is not the
 * one asked about. Then the real kernel: flock(2) and OFD locks show in
 * every holder of the open file description (a fork child too), a POSIX
 * lock only in the process that took it.
 */
static void test_fd_locks(void)
{
	static const char head[] = "pos:\t0\nflags:\t0100001\nmnt_id:\t25\nino:\t4242\n";
	char path[128], text[512];
	struct stat st;
	int f, p[2], r;
	pid_t kid;

	snprintf(text, sizeof(text), "%slock:\t1: FLOCK  ADVISORY  WRITE 77 fe:00:4242 0 EOF\n", head);
	fake_fd(4321, 3, "/tmp/x/lk", text);
	snprintf(text, sizeof(text), "%slock:\t1: OFDLCK ADVISORY  WRITE -1 fe:00:4242 0 EOF\n", head);
	fake_fd(4321, 4, "/tmp/x/ofd", text);
	snprintf(text, sizeof(text),
		 "%slock:\t1: LEASE  ACTIVE    READ 77 fe:00:4242 0 EOF\n"
		 "lock:\t2: POSIX  ADVISORY  READ 77 fe:00:4242 0 99\n", head);
	fake_fd(4321, 5, "/tmp/x/posix", text);
	snprintf(text, sizeof(text), "%slock:\t1: LEASE  ACTIVE    READ 77 fe:00:4242 0 EOF\n", head);
	fake_fd(4321, 6, "/tmp/x/lease", text);
	fake_fd(4321, 7, "/tmp/x/none", head);
	fake_fd(4321, 8, "/tmp/x/old", "pos:\t0\nflags:\t01\nlock:\t1: FLOCK  ADVISORY  WRITE 77 "
					  "fe:00:4242 0 EOF\n"); /* no ino: line */
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 3, 4242), 1);
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 3, 0), 1);
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 3, 4243), 0); /* another file by now */
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 4, 4242), 1);
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 5, 4242), 1);
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 6, 4242), 0);
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 7, 4242), 0);
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 8, 4242), 1);
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, 9, 0), -ENOENT);
	CHECK_EQ(fdw_proc_fd_locked(root, 4399, 3, 0), -ESRCH);
	CHECK_EQ(fdw_proc_fd_locked(root, 4321, -1, 0), -EINVAL);

	/* the real kernel */
	snprintf(path, sizeof(path), "%s/lock-file", root);
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(f >= 0);
	if (f < 0)
		return;
	CHECK(fstat(f, &st) == 0);
	CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)getpid(), f, st.st_ino), 0);
	CHECK(flock(f, LOCK_EX) == 0);
	CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)getpid(), f, st.st_ino), 1);
	CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)getpid(), f, st.st_ino + 1), 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	kid = fork();
	if (kid == 0) {
		char c;

		(void)close(p[1]);
		_exit(read(p[0], &c, 1) < 0);
	}
	CHECK(kid > 0);
	/* the child holds the OFD, and with it the flock */
	CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)kid, f, st.st_ino), 1);
	CHECK(flock(f, LOCK_UN) == 0);
	CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)kid, f, st.st_ino), 0);
	/* a POSIX lock is this process's, not the child's */
	CHECK(lockf(f, F_LOCK, 0) == 0);
	CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)getpid(), f, st.st_ino), 1);
	CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)kid, f, st.st_ino), 0);
	CHECK(lockf(f, F_ULOCK, 0) == 0);
	CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)getpid(), f, st.st_ino), 0);
#ifdef F_OFD_SETLK
	{
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		CHECK(fcntl(f, F_OFD_SETLK, &fl) == 0);
		CHECK_EQ(fdw_proc_fd_locked(NULL, (uint32_t)kid, f, st.st_ino), 1);
	}
#endif
	(void)close(p[1]);
	(void)close(p[0]);
	r = -1;
	if (kid > 0)
		CHECK(waitpid(kid, &r, 0) == kid && r == 0);
	(void)close(f);
}

/* The cached reader: targets without fdinfo, directories kept open, a
 * tid whose directory was replaced (a reused id) read again, no fd leak. */
static void test_procfs_cache(void)
{
	struct fdw_fd_info *fi = calloc(1, sizeof(*fi));
	struct fdw_procfs *pf = NULL;
	int before = open_fds();
	char path[512];

	if (!fi) {
		CHECK(fi != NULL);
		return;
	}
	CHECK_EQ(fdw_procfs_new(&pf, root), 0);
	CHECK_EQ(fdw_procfs_read_target(pf, 1234, 3, fi), 0);
	CHECK_STR(fi->target, "/var/log/old.log (deleted)");
	CHECK(!fi->cloexec); /* not read by this one */
	CHECK_EQ(fdw_procfs_read_target(pf, 1234, 7, fi), 0); /* needs no fdinfo */
	CHECK_EQ(fdw_procfs_read_target(pf, 1234, 8, fi), -ENOENT);
	CHECK_EQ(fdw_procfs_read_target(pf, 999, 3, fi), -ESRCH);
	CHECK_EQ(fdw_procfs_read_target(pf, 1234, -1, fi), -EINVAL);
	CHECK_EQ(fdw_procfs_read_target(NULL, 1234, 3, fi), -EINVAL);
	CHECK_EQ(open_fds(), before + 1); /* 1234's fd directory */

	/* 1234's directory replaced: the cached one is stale */
	snprintf(path, sizeof(path), "%s/1234/fd", root);
	rm_tree(path);
	fake_fd(1234, 9, "/new/file (deleted)", NULL);
	CHECK_EQ(fdw_procfs_read_target(pf, 1234, 9, fi), 0);
	CHECK_STR(fi->target, "/new/file (deleted)");

	/* more tids than the cache holds: the oldest are closed */
	for (uint32_t tid = 3000; tid < 3040; tid++) {
		fake_fd(tid, 0, "/dev/null", NULL);
		CHECK_EQ(fdw_procfs_read_target(pf, tid, 0, fi), 0);
	}
	CHECK(open_fds() <= before + 16);
	CHECK_EQ(fdw_procfs_read_target(pf, 1234, 9, fi), 0);
	fdw_procfs_free(pf);
	fdw_procfs_free(NULL);
	CHECK_EQ(open_fds(), before);
	free(fi);
}

/* ---- the real /proc, this process ------------------------------------- */

struct self_seen {
	int file_fd, pipe_fd;
	const char *pipe_target; /* expected */
	bool file, pipe, file_cloexec, pipe_cloexec, pipe_target_ok;
};

static void self_cb(void *data, const struct fdw_fd_info *fi)
{
	struct self_seen *s = data;

	if (fi->fd == s->file_fd) {
		s->file = true;
		s->file_cloexec = fi->cloexec;
	} else if (fi->fd == s->pipe_fd) {
		s->pipe = true;
		s->pipe_cloexec = fi->cloexec;
		s->pipe_target_ok = !strcmp(fi->target, s->pipe_target);
	}
}

/* /proc/self/comm without its newline (the test's name, or valgrind's). */
static const char *self_comm(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/comm", "re");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)size, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
	return buf;
}

/* A real zombie has exited; once reaped, it is gone (exited too). */
static void test_real_zombie(void)
{
	struct fdw_pid_stat st = { 0 };
	pid_t child = fork();

	if (child == 0)
		_exit(0);
	CHECK(child > 0);
	if (child <= 0)
		return;
	for (int i = 0; i < 1000 && (fdw_pid_stat_read("/proc", (uint32_t)child, &st) < 0 ||
				     st.state != 'Z'); i++)
		usleep(1000);
	CHECK_EQ(st.state, 'Z');
	CHECK(fdw_proc_exited("/proc", (uint32_t)child));
	CHECK_EQ(waitpid(child, NULL, 0), child);
	CHECK(fdw_proc_exited("/proc", (uint32_t)child));
}

static void test_real_proc(void)
{
	struct fdw_fd_info *fi = calloc(1, sizeof(*fi));
	uint32_t self = (uint32_t)getpid(), ppid = 0, *tids = NULL;
	struct self_seen seen = { 0 };
	struct fdw_procfs *pf = NULL;
	char path[128], want[64], comm[16];
	uint64_t soft = 0, hard = 0;
	struct stat fst, pst;
	struct rlimit rl;
	unsigned int n = 0;
	int file, p[2], r;

	snprintf(path, sizeof(path), "%s/real-file", root);
	/* a known file without close-on-exec, a pipe with it */
	file = open(path, O_RDONLY); /* NOLINT: deliberately without O_CLOEXEC */
	CHECK(file >= 0);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	if (!fi || file < 0) {
		free(fi);
		return;
	}
	CHECK(fstat(file, &fst) == 0);
	CHECK(fstat(p[0], &pst) == 0);

	CHECK_EQ(fdw_proc_read_fd("/proc", self, file, fi), 0);
	CHECK_STR(fi->target, path);
	CHECK(!fi->cloexec);
	CHECK_EQ(fi->ino, fst.st_ino);
	CHECK_EQ(fi->dev, kdev(fst.st_dev));
	CHECK_EQ(fi->mode, S_IFREG);

	snprintf(want, sizeof(want), "pipe:[%llu]", (unsigned long long)pst.st_ino);
	CHECK_EQ(fdw_proc_read_fd("/proc", self, p[0], fi), 0);
	CHECK_STR(fi->target, want);
	CHECK(fi->cloexec);
	CHECK_EQ(fi->mode, S_IFIFO);
	CHECK_EQ(fi->ino, pst.st_ino);

	seen.file_fd = file;
	seen.pipe_fd = p[0];
	seen.pipe_target = want;
	CHECK_EQ(fdw_proc_read_table("/proc", self, self_cb, &seen), 0);
	CHECK(seen.file && !seen.file_cloexec);
	CHECK(seen.pipe && seen.pipe_cloexec);
	CHECK(seen.pipe_target_ok);

	CHECK_EQ(fdw_procfs_new(&pf, "/proc"), 0);
	CHECK_EQ(fdw_procfs_read_target(pf, self, file, fi), 0);
	CHECK_STR(fi->target, path);
	CHECK_EQ(fi->ino, fst.st_ino);
	fdw_procfs_free(pf);

	CHECK_EQ(fdw_proc_read_stat("/proc", self, comm, &ppid), 0);
	CHECK_STR(comm, self_comm(want, sizeof(want)));
	CHECK_EQ(ppid, (uint32_t)getppid());
	CHECK_EQ(fdw_proc_list_tasks("/proc", self, &tids, &n), 0);
	CHECK(n >= 1 && tids && tids[0] == self);
	free(tids);
	CHECK(!fdw_proc_exited("/proc", self));
	test_real_zombie();

	/* kcmp may be refused (seccomp, Yama): only check what it says */
	r = fdw_proc_same_table(self, self);
	CHECK(r == 1 || r == -EPERM || r == -ENOSYS);
	r = fdw_proc_same_file(self, p[0], self, p[0]);
	CHECK(r == 1 || r == -EPERM || r == -ENOSYS);
	r = fdw_proc_same_file(self, p[0], self, p[1]);
	CHECK(r == 0 || r == -EPERM || r == -ENOSYS);
	r = fdw_proc_cmp_file(self, p[0], self, p[0]);
	CHECK(r == 0 || r == -EPERM || r == -ENOSYS);
	r = fdw_proc_cmp_file(self, p[0], self, p[1]);
	if (r != -EPERM && r != -ENOSYS) {
		/* two ends of a pipe: distinct files, ordered, antisymmetric */
		CHECK(r == 1 || r == 2);
		CHECK_EQ(fdw_proc_cmp_file(self, p[1], self, p[0]), 3 - r);
	}

	CHECK_EQ(fdw_proc_nofile_limit(self, &soft, &hard), 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK_EQ(soft, rl.rlim_cur);
	CHECK_EQ(hard, rl.rlim_max);

	(void)close(p[0]);
	(void)close(p[1]);
	(void)close(file);
	free(fi);
}

/* An fd on a file deeper than PATH_MAX: readlink(/proc/self/fd/N) fails
 * with ENAMETOOLONG, yet the fd is open. It is read (a fixed target, the
 * file's inode), not left out as closed: a table read that dropped it made
 * a process holding 5,000 such fds count 6 after its first re-read. */
static void too_long_cb(void *data, const struct fdw_fd_info *fi)
{
	struct self_seen *s = data;

	if (fi->fd == s->file_fd) {
		s->file = true;
		s->pipe_target_ok = !strcmp(fi->target, FDW_TARGET_TOO_LONG);
	}
}

static void test_real_too_long(void)
{
	struct fdw_fd_info *fi = calloc(1, sizeof(*fi));
	struct self_seen seen = { 0 };
	struct fdw_procfs *pf = NULL;
	char comp[251], path[128];
	struct stat st;
	int dir, next, file;

	memset(comp, 'd', sizeof(comp) - 1);
	comp[sizeof(comp) - 1] = '\0';
	snprintf(path, sizeof(path), "%s/deep", root);
	CHECK(mkdir(path, 0700) == 0);
	dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dir >= 0);
	for (int i = 0; dir >= 0 && i < 20; i++) { /* 20 * 251 bytes > PATH_MAX */
		CHECK(mkdirat(dir, comp, 0700) == 0);
		next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(dir);
		dir = next;
	}
	file = dir >= 0 ? openat(dir, "leaf", O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	CHECK(file >= 0);
	if (!fi || file < 0) {
		free(fi);
		return;
	}
	CHECK(fstat(file, &st) == 0);
	CHECK_EQ(fdw_proc_read_fd("/proc", (uint32_t)getpid(), file, fi), 0);
	CHECK_STR(fi->target, FDW_TARGET_TOO_LONG);
	CHECK_EQ(fi->ino, st.st_ino);
	CHECK(fi->cloexec);
	CHECK_EQ(fdw_procfs_new(&pf, "/proc"), 0);
	CHECK_EQ(fdw_procfs_read_target(pf, (uint32_t)getpid(), file, fi), 0);
	CHECK_STR(fi->target, FDW_TARGET_TOO_LONG);
	fdw_procfs_free(pf);
	seen.file_fd = file;
	CHECK_EQ(fdw_proc_read_table("/proc", (uint32_t)getpid(), too_long_cb, &seen), 0);
	CHECK(seen.file);
	CHECK(seen.pipe_target_ok);
	close(file);
	/* nftw cannot name the tree either: take it down from below */
	CHECK(unlinkat(dir, "leaf", 0) == 0);
	for (int i = 0; i < 20; i++) {
		next = openat(dir, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(dir);
		dir = next;
		CHECK(dir >= 0 && unlinkat(dir, comp, AT_REMOVEDIR) == 0);
	}
	close(dir);
	free(fi);
}

int main(void)
{
	int before = open_fds();

	snprintf(root, sizeof(root), "/tmp/fdw-procfs-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	test_stat();
	test_lists();
	test_exited(); /* after: its pids would be counted there */
	test_fds();
	test_fd_locks();
	test_procfs_cache();
	test_real_proc();
	test_real_too_long();
	rm_tree(root);
	CHECK_EQ(open_fds(), before);
	return check_summary();
}
