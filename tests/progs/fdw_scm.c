/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SCM_RIGHTS between two processes (see test_scm.py). The parent sends,
 * the child receives, reports the fd numbers it got over a pipe, and stops;
 * the parent then announces the checkpoint for both.
 *
 * Checkpoint keys: child=PID sent=FDS (in the sender, in order)
 * received=FDS (in the receiver, in order) cloexec=0|1 syscall=NAME
 * receiver=PID.
 */
#include "fdwt.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#define MAXFDS 253 /* SCM_MAX_FD */

struct report {
	int n;
	int flags; /* msg_flags of the (first) message */
	int fds[MAXFDS];
};

static int st[2], dg[2], rep[2];

static void send_fds(int sock, const int *fds, int n)
{
	char data = 'x';
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	size_t clen = CMSG_SPACE(sizeof(int) * (size_t)n);
	char *cbuf = calloc(1, clen);
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = clen};
	struct cmsghdr *cm;

	if (!cbuf)
		die("calloc");
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
	if (sendmsg(sock, &mh, 0) != 1)
		die("sendmsg %d fds", n);
	free(cbuf);
}

/* Collects the fds of every SCM_RIGHTS message in mh into r. */
static void collect(struct msghdr *mh, struct report *r)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		int k, n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (k = 0; k < n && r->n < MAXFDS; k++)
			memcpy(&r->fds[r->n++], CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
	}
}

/* recvmsg with room for `room` fds. */
static void recv_fds(int sock, int flags, int room, struct report *r)
{
	char data[8];
	struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
	size_t clen = CMSG_SPACE(sizeof(int) * (size_t)room);
	char *cbuf = calloc(1, clen);
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = clen};

	if (!cbuf)
		die("calloc");
	if (recvmsg(sock, &mh, flags) < 1)
		die("recvmsg");
	r->flags = mh.msg_flags;
	collect(&mh, r);
	free(cbuf);
}

static void recvmmsg_fds(int sock, int flags, int nmsg, int room, struct report *r)
{
	struct mmsghdr mm[4];
	struct iovec iov[4];
	char data[4][8];
	char *cbuf[4];
	size_t clen = CMSG_SPACE(sizeof(int) * (size_t)room);
	int i, got;

	memset(mm, 0, sizeof(mm));
	for (i = 0; i < nmsg; i++) {
		cbuf[i] = calloc(1, clen);
		if (!cbuf[i])
			die("calloc");
		iov[i].iov_base = data[i];
		iov[i].iov_len = sizeof(data[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_control = cbuf[i];
		mm[i].msg_hdr.msg_controllen = clen;
	}
	got = recvmmsg(sock, mm, (unsigned)nmsg, flags | MSG_WAITFORONE, NULL);
	if (got < 0)
		die("recvmmsg");
	/* MSG_WAITFORONE may return early: fetch the rest */
	while (got < nmsg) {
		int more = recvmmsg(sock, mm + got, (unsigned)(nmsg - got), flags, NULL);

		if (more < 0)
			die("recvmmsg");
		got += more;
	}
	r->flags = mm[0].msg_hdr.msg_flags;
	for (i = 0; i < nmsg; i++) {
		collect(&mm[i].msg_hdr, r);
		free(cbuf[i]);
	}
}

static void report(const struct report *r)
{
	if (write(rep[1], r, sizeof(*r)) != (ssize_t)sizeof(*r))
		die("write report");
}

static void read_report(struct report *r)
{
	size_t got = 0;

	while (got < sizeof(*r)) {
		ssize_t n = read(rep[0], (char *)r + got, sizeof(*r) - got);

		if (n <= 0)
			die("read report");
		got += (size_t)n;
	}
}

static const char *list(const int *fds, int n)
{
	static struct fdwt_sb sb[2];
	static int which;
	struct fdwt_sb *s = &sb[which ^= 1];
	int i;

	sb_reset(s);
	for (i = 0; i < n; i++)
		sb_add(s, "%s%d", i ? "," : "", fds[i]);
	return sb_str(s);
}

static void child(void)
{
	struct report r;

	close(st[0]);
	close(dg[0]);
	close(rep[0]);
	/* 1 */
	memset(&r, 0, sizeof(r));
	recv_fds(st[1], 0, 8, &r);
	report(&r);
	stop_self();
	/* 2 */
	memset(&r, 0, sizeof(r));
	recv_fds(st[1], MSG_CMSG_CLOEXEC, 8, &r);
	report(&r);
	stop_self();
	/* 3 */
	memset(&r, 0, sizeof(r));
	recvmmsg_fds(dg[1], 0, 2, 4, &r);
	report(&r);
	stop_self();
	/* 4 */
	memset(&r, 0, sizeof(r));
	recvmmsg_fds(dg[1], MSG_CMSG_CLOEXEC, 2, 4, &r);
	report(&r);
	stop_self();
	/* 5 */
	memset(&r, 0, sizeof(r));
	recv_fds(st[1], 0, MAXFDS, &r);
	report(&r);
	stop_self();
	/* 6: room for 2 of the 6 fds sent: the kernel installs 2, MSG_CTRUNC */
	memset(&r, 0, sizeof(r));
	recv_fds(st[1], 0, 2, &r);
	report(&r);
	stop_self();
	/* 7: read() discards the fds */
	{
		char c;

		memset(&r, 0, sizeof(r));
		if (read(st[1], &c, 1) != 1)
			die("read");
		report(&r);
		stop_self();
	}
	/* 8: the child sends to the parent */
	{
		int mine[2];

		mine[0] = (int)syscall(SYS_eventfd2, 7, EFD_CLOEXEC);
		mine[1] = sys_dup(STDIN_FILENO);
		if (mine[0] < 0 || mine[1] < 0)
			die("eventfd/dup");
		send_fds(st[1], mine, 2);
		memset(&r, 0, sizeof(r));
		r.n = 2;
		memcpy(r.fds, mine, sizeof(mine));
		report(&r);
		stop_self();
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	char *dir, *pa;
	int f1, pp[2], e, s, i;
	struct report r;
	pid_t c;

	fdwt_init(argc, argv);
	dir = make_tmpdir("scm");
	pa = make_file(dir, "a");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0 || socketpair(AF_UNIX, SOCK_DGRAM, 0, dg) < 0)
		die("socketpair");
	if (pipe(rep) < 0)
		die("pipe");
	f1 = xopen(pa, O_RDONLY);
	if (pipe(pp) < 0)
		die("pipe");
	e = eventfd(0, 0);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (e < 0 || s < 0)
		die("eventfd/socket");
	c = fork();
	if (c < 0)
		die("fork");
	if (c == 0)
		child();
	close(st[1]);
	close(dg[1]);
	close(rep[1]);

#define STEP(name, cloexec, sys, sent, nsent)                                                  \
	do {                                                                                 \
		memset(&r, 0, sizeof(r));                                                    \
		read_report(&r);                                                             \
		wait_stopped(c);                                                             \
		cp(name, "pids=%d,%d child=%d receiver=%d sent=%s received=%s cloexec=%d "   \
			 "syscall=%s ctrunc=%d",                                             \
		   getpid(), c, c, c, list(sent, nsent), list(r.fds, r.n), cloexec, sys,     \
		   !!(r.flags & MSG_CTRUNC));                                                \
	} while (0)

	{
		int a[3] = {f1, pp[0], e};

		send_fds(st[0], a, 3);
		STEP("recvmsg", 0, "recvmsg", a, 3);
	}
	{
		int a[2] = {pp[1], s};

		send_fds(st[0], a, 2);
		STEP("recvmsg_cloexec", 1, "recvmsg", a, 2);
	}
	{
		int a[4] = {f1, e, pp[0], s};

		send_fds(dg[0], a, 2);
		send_fds(dg[0], a + 2, 2);
		STEP("recvmmsg", 0, "recvmmsg", a, 4);
		send_fds(dg[0], a, 2);
		send_fds(dg[0], a + 2, 2);
		STEP("recvmmsg_cloexec", 1, "recvmmsg", a, 4);
	}
	{
		int a[200];

		for (i = 0; i < 200; i++)
			a[i] = (int[]){f1, e, pp[0], s}[i % 4];
		send_fds(st[0], a, 200);
		STEP("recvmsg_many", 0, "recvmsg", a, 200);
	}
	{
		int a[6] = {f1, e, pp[0], s, pp[1], f1};

		send_fds(st[0], a, 6);
		STEP("recvmsg_ctrunc", 0, "recvmsg", a, 2);
	}
	{
		int a[3] = {f1, e, s};

		send_fds(st[0], a, 3);
		memset(&r, 0, sizeof(r));
		read_report(&r);
		wait_stopped(c);
		cp("read_discards", "pids=%d,%d child=%d", getpid(), c, c);
	}
	{
		struct report got;

		memset(&r, 0, sizeof(r));
		read_report(&r);
		memset(&got, 0, sizeof(got));
		recv_fds(st[0], 0, 8, &got);
		wait_stopped(c);
		cp("to_parent", "pids=%d,%d child=%d receiver=%d sender=%d sent=%s received=%s cloexec=0 "
		   "syscall=recvmsg ctrunc=0",
		   getpid(), c, c, getpid(), c, list(r.fds, r.n), list(got.fds, got.n));
	}
	wait_exit0(c);
	rm_rf(dir);
	return 0;
}
