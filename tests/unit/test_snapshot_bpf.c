// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * capture/snapshot.c against the real kernel (bpf suite: root and BPF): a
 * snapshot of this very process, of every task and of this task alone,
 * equals /proc/self/fd and fdinfo — targets (a renamed and an unlinked
 * file, a pipe, a socket), close-on-exec bits — and groups open files as
 * kcmp would: a dup shares its struct file, a second open does not. A
 * one-task snapshot of a thread with a table of its own (unshare) holds
 * that table. Exit 77 when BPF cannot load, unless FDWATCH_REQUIRE_BPF=1.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capture/snapshot.h"

#include "check.h"

struct seen {
	int n;
	int fds[64];
	bool cloexec[64];
	uint64_t kfile[64];
	char target[64][256];
};

static void collect(void *data, const struct fdw_fd_info *fi)
{
	struct seen *s = data;

	if (s->n < 64) {
		s->fds[s->n] = fi->fd;
		s->cloexec[s->n] = fi->cloexec;
		s->kfile[s->n] = fi->kfile;
		snprintf(s->target[s->n], sizeof(s->target[0]), "%.255s", fi->target);
	}
	s->n++;
}

static int idx(const struct seen *s, int fd)
{
	for (int i = 0; i < s->n && i < 64; i++)
		if (s->fds[i] == fd)
			return i;
	return -1;
}

/* The snapshot equals /proc/self/fd (the fds open now, none opened since). */
static void check_against_proc(const struct seen *s, const char *what)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		char p[64], t[256], info[256];
		ssize_t len;
		int i;
		FILE *f;
		bool cloexec = false;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		len = readlink(p, t, sizeof(t) - 1);
		if (len < 0)
			continue;
		t[len] = '\0';
		if (strstr(t, "/proc/") || !strncmp(t, "anon_inode:bpf", 14))
			continue; /* readlink's own dir fd, the snapshot's bpf fds */
		n++;
		i = idx(s, fd);
		if (i < 0) {
			fprintf(stderr, "%s: fd %d (%s) missing\n", what, fd, t);
			CHECK(!"fd missing from the snapshot");
			continue;
		}
		if (strcmp(s->target[i], t)) {
			fprintf(stderr, "%s: fd %d: snapshot '%s', /proc '%s'\n", what, fd,
				s->target[i], t);
			CHECK(!"target differs");
		}
		snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
		f = fopen(p, "re");
		while (f && fgets(info, sizeof(info), f))
			if (!strncmp(info, "flags:", 6))
				cloexec = strtoul(info + 6, NULL, 8) & O_CLOEXEC;
		if (f)
			fclose(f);
		CHECK_EQ(s->cloexec[i], cloexec);
	}
	CHECK(n >= 8);
}

static void *unshared(void *arg)
{
	int *fd = arg;

	if (unshare(CLONE_FILES) < 0)
		return (void *)(long)errno;
	*fd = open("/dev/zero", O_RDONLY | O_CLOEXEC); /* only in this table */
	sleep(5);
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/fdwt-snap.XXXXXX", a[128], b[128], moved[128], gone[128];
	struct fdw_snapshotter *sn;
	struct fdw_snapshot *all, *one;
	struct seen s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	int fa, fdup, fa2, fb, fgone, p[2], sk, tfd = -1, r;
	pthread_t th;

	r = fdw_snapshotter_new(&sn, -1);
	if (r < 0) {
		const char *req = getenv("FDWATCH_REQUIRE_BPF");

		fprintf(stderr, "cannot load the snapshot iterators: %s\n", strerror(-r));
		return req && !strcmp(req, "1") ? 1 : 77;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(moved, sizeof(moved), "%s/moved", dir);
	snprintf(gone, sizeof(gone), "%s/gone", dir);
	fa = open(a, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	fdup = dup(fa);				  /* no close-on-exec, same struct file */
	fa2 = open(a, O_RDONLY);		  /* same inode, a file of its own */
	fb = open(b, O_RDWR | O_CREAT, 0600);
	fgone = open(gone, O_RDWR | O_CREAT, 0600);
	CHECK(fa >= 0 && fdup >= 0 && fa2 >= 0 && fb >= 0 && fgone >= 0);
	CHECK_EQ(rename(b, moved), 0);		  /* named where it is now */
	CHECK_EQ(unlink(gone), 0);		  /* "... (deleted)" */
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	sk = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(sk >= 0);

	CHECK_EQ(fdw_snapshot_take(sn, 0, &all), 0);
	CHECK_EQ(fdw_snapshot_take(sn, (uint32_t)getpid(), &one), 0);
	CHECK(fdw_snapshot_has_process(all, (uint32_t)getpid()));
	if (all)
		CHECK_EQ(fdw_snapshot_read_table(all, NULL, (uint32_t)getpid(), collect, &s1), 0);
	if (one)
		CHECK_EQ(fdw_snapshot_read_table(one, NULL, (uint32_t)getpid(), collect, &s2), 0);
	check_against_proc(&s1, "every task");
	check_against_proc(&s2, "this task");
	CHECK_EQ(s1.n, s2.n);
	if (idx(&s2, fa) >= 0 && idx(&s2, fdup) >= 0 && idx(&s2, fa2) >= 0) {
		CHECK(s2.kfile[idx(&s2, fa)] != 0);
		CHECK(s2.kfile[idx(&s2, fa)] == s2.kfile[idx(&s2, fdup)]);
		CHECK(s2.kfile[idx(&s2, fa)] != s2.kfile[idx(&s2, fa2)]);
		CHECK_EQ(fdw_snapshot_cmp_file(all, (uint32_t)getpid(), fa, (uint32_t)getpid(), fdup), 0);
		CHECK(fdw_snapshot_cmp_file(all, (uint32_t)getpid(), fa, (uint32_t)getpid(), fa2) > 0);
	}
	fdw_snapshot_free(all);
	fdw_snapshot_free(one);

	/* a thread with a table of its own: its one-task snapshot is its table */
	CHECK_EQ(pthread_create(&th, NULL, unshared, &tfd), 0);
	for (int i = 0; i < 200 && tfd < 0; i++)
		usleep(10000);
	CHECK(tfd >= 0);
	{
		char task[64];
		FILE *f = fopen("/proc/self/task", "re"); /* find the thread's tid */
		uint32_t tid = 0;

		(void)f;
		if (f)
			fclose(f);
		for (uint32_t t = (uint32_t)getpid() + 1; t < (uint32_t)getpid() + 64 && !tid; t++) {
			snprintf(task, sizeof(task), "/proc/self/task/%u", t);
			if (access(task, F_OK) == 0)
				tid = t;
		}
		CHECK(tid != 0);
		r = fdw_snapshot_take(sn, tid, &one);
		CHECK_EQ(r, 0);
		if (r == 0) {
			CHECK_EQ(fdw_snapshot_read_table(one, NULL, tid, collect, &s3), 0);
			CHECK(idx(&s3, tfd) >= 0 && !strcmp(s3.target[idx(&s3, tfd)], "/dev/zero"));
			CHECK_EQ(fdw_snapshot_same_table(one, tid, tid), 1);
			fdw_snapshot_free(one);
		}
	}
	pthread_cancel(th);
	pthread_join(th, NULL);
	CHECK_EQ(fdw_snapshot_take(sn, 0x7ffffff0u, &one), -ESRCH); /* no such task */
	fdw_snapshotter_free(sn);
	unlink(a);
	unlink(moved);
	rmdir(dir);
	return check_summary();
}
