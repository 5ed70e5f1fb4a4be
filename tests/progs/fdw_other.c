/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fds that enter or leave a table outside the ordinary creating syscalls
 * (see test_other_paths.py): io_uring requests (openat, close, socket,
 * accept, recvmsg with SCM_RIGHTS, fixed-fd install), clone/clone3 with
 * CLONE_PIDFD, ioctls that return fds, fanotify events read(), bpf maps,
 * the new mount API (open_tree_attr too), POSIX message queues, landlock,
 * seccomp listeners and the fds a seccomp supervisor installs in the
 * notified process (SECCOMP_IOCTL_NOTIF_ADDFD), SO_PEERPIDFD, memfd_secret,
 * and 32-bit compat syscalls (int $0x80).
 *
 * Checkpoint keys: fds=FD,... (new fds), closed=FD,... ; unavailable=ERRNO
 * when the machine refused the operation (the driver then skips it).
 */
#include "fdwt.h"

#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/landlock.h>
#include <linux/mount.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#ifndef IORING_OP_FIXED_FD_INSTALL_NR
#define IORING_OP_FIXED_FD_INSTALL_NR 54
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467 /* Linux 6.15, the same number everywhere */
#endif

static char *dir, *pa;

static void step_fds(const char *name, int ret, const char *extra)
{
	if (ret < 0) {
		fprintf(stderr, "%s: note: %s unavailable: %s\n", fdwt_prog, name, strerror(errno));
		cp(name, "unavailable=%d", errno);
	} else {
		cp(name, "fds=%d%s%s", ret, extra ? " " : "", extra ? extra : "");
	}
}

/* ---- a minimal io_uring */

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array;
	unsigned *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r)
{
	struct io_uring_params p;
	size_t sqsz, cqsz;
	char *sq, *cq;

	memset(&p, 0, sizeof(p));
	r->fd = (int)syscall(SYS_io_uring_setup, 8, &p);
	if (r->fd < 0)
		return -1;
	sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
	sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		die("mmap sq");
	cq = (p.features & IORING_FEAT_SINGLE_MMAP)
		     ? sq
		     : mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
			    IORING_OFF_CQ_RING);
	if (cq == MAP_FAILED)
		die("mmap cq");
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		die("mmap sqes");
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Submits one request and returns its result (negative errno on failure). */
static int ring_run(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask, head;
	int res;

	r->sqes[idx] = *sqe;
	r->sq_array[idx] = idx;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(SYS_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		die("io_uring_enter");
	head = *r->cq_head;
	while (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		;
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int unix_pair_listener(const char *path, int *client)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || *client < 0)
		die("socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0 ||
	    connect(*client, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("listener %s", path);
	return l;
}

static void uring(void)
{
	struct ring r;
	struct io_uring_sqe sqe;
	int res, fd, l, c, sv[2];
	char sock[108];

	if (ring_init(&r) < 0) {
		step_fds("uring_openat", -1, NULL);
		return;
	}
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_OPENAT;
	sqe.fd = AT_FDCWD;
	sqe.addr = (unsigned long)pa;
	sqe.open_flags = O_RDONLY;
	res = ring_run(&r, &sqe);
	errno = -res;
	step_fds("uring_openat", res, NULL);

	fd = xopen(pa, O_RDONLY);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_CLOSE;
	sqe.fd = fd;
	res = ring_run(&r, &sqe);
	expect(res == 0 && !fd_is_open(fd), "io_uring close: %d", res);
	cp("uring_close", "closed=%d", fd);

	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_SOCKET;
	sqe.fd = AF_UNIX;
	sqe.off = SOCK_DGRAM;
	res = ring_run(&r, &sqe);
	errno = -res;
	step_fds("uring_socket", res, NULL);

	snprintf(sock, sizeof(sock), "%s/l.sock", dir);
	l = unix_pair_listener(sock, &c);
	memset(&sqe, 0, sizeof(sqe));
	sqe.opcode = IORING_OP_ACCEPT;
	sqe.fd = l;
	res = ring_run(&r, &sqe);
	errno = -res;
	step_fds("uring_accept", res, NULL);

	/* recvmsg through the ring: SCM_RIGHTS installs fds */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	{
		int send[2] = {fd = xopen(pa, O_RDONLY), l};
		char data = 'x', cbuf[CMSG_SPACE(sizeof(send))], rbuf[CMSG_SPACE(sizeof(send))];
		struct iovec iov = {.iov_base = &data, .iov_len = 1};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		int got[2];

		memset(cbuf, 0, sizeof(cbuf));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(send));
		memcpy(CMSG_DATA(cm), send, sizeof(send));
		if (sendmsg(sv[0], &mh, 0) != 1)
			die("sendmsg");
		close(fd);
		memset(rbuf, 0, sizeof(rbuf));
		mh.msg_control = rbuf;
		mh.msg_controllen = sizeof(rbuf);
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = IORING_OP_RECVMSG;
		sqe.fd = sv[1];
		sqe.addr = (unsigned long)&mh;
		sqe.len = 1;
		res = ring_run(&r, &sqe);
		cm = CMSG_FIRSTHDR(&mh);
		if (res == 1 && cm && cm->cmsg_type == SCM_RIGHTS) {
			memcpy(got, CMSG_DATA(cm), sizeof(got));
			cp("uring_recvmsg", "fds=%d,%d", got[0], got[1]);
		} else {
			cp("uring_recvmsg", "unavailable=%d", res < 0 ? -res : 0);
		}
	}

	/* a registered (fixed) file installed into the table */
	fd = xopen(pa, O_RDONLY | O_CLOEXEC);
	if (syscall(SYS_io_uring_register, r.fd, IORING_REGISTER_FILES, &fd, 1) < 0) {
		cp("uring_fixed_fd_install", "unavailable=%d", errno);
	} else {
		close(fd);
		memset(&sqe, 0, sizeof(sqe));
		sqe.opcode = IORING_OP_FIXED_FD_INSTALL_NR;
		sqe.fd = 0;
		sqe.flags = IOSQE_FIXED_FILE;
		res = ring_run(&r, &sqe);
		errno = -res;
		step_fds("uring_fixed_fd_install", res, NULL);
	}
}

/* ---- fds a seccomp supervisor installs in the notified process */

#define ADDFD_PLAIN 6 /* notifications answered by a plain ADDFD, then CONTINUE */
#define ADDFD_ALL (ADDFD_PLAIN + 2) /* + one SETFD onto fd 0, + one ADDFD_FLAG_SEND */

static void send_fd(int sock, int fd)
{
	char data = 'l', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;

	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &mh, 0) != 1)
		die("sendmsg listener");
}

static int recv_fd(int sock)
{
	char data, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &data, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg listener");
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1; /* the child could not make one: it said why */
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/*
 * The child: stops its getppid() calls for a supervisor (us), which installs
 * ADDFD_ALL fds in it: plain ones (close-on-exec every other time), one with
 * SECCOMP_ADDFD_FLAG_SETFD onto fd 0 (open, known to the model), one with
 * SECCOMP_ADDFD_FLAG_SEND (getppid returns it). The child has no syscall of
 * its own that installs them: only the supervisor's ioctl tells.
 */
static void seccomp_child(int sock)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	char list[ADDFD_ALL * 12] = "";
	int l, fds[ADDFD_ALL];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("PR_SET_NO_NEW_PRIVS");
	l = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			 &prog);
	if (l < 0) {
		int err = errno;

		(void)write(sock, "x", 1);
		cp("seccomp_addfd", "unavailable=%d", err);
		_exit(0);
	}
	send_fd(sock, l);
	close(l);
	for (int i = 0; i < ADDFD_ALL; i++) {
		long r = syscall(SYS_getppid);

		if (r < 0)
			die("getppid %d", i);
	}
	/* the numbers, from the supervisor */
	if (read(sock, fds, sizeof(fds)) != (ssize_t)sizeof(fds))
		die("read fd numbers");
	for (int i = 0; i < ADDFD_ALL; i++) {
		expect(fd_is_open(fds[i]), "addfd %d: fd %d not open", i, fds[i]);
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", i ? "," : "",
			 fds[i]);
	}
	expect(fds[ADDFD_PLAIN] == 0, "SETFD onto 0 gave %d", fds[ADDFD_PLAIN]);
	cp("seccomp_addfd", "fds=%s", list);
	close(sock);
	_exit(0);
}

static void seccomp_addfd(void)
{
	int sv[2], l, fds[ADDFD_ALL];
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		close(sv[0]);
		seccomp_child(sv[1]);
	}
	close(sv[1]);
	l = recv_fd(sv[0]);
	for (int i = 0; l >= 0 && i < ADDFD_ALL; i++) {
		struct seccomp_notif n;
		struct seccomp_notif_addfd a;
		struct seccomp_notif_resp resp;
		int src;

		memset(&n, 0, sizeof(n));
		if (ioctl(l, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0)
			die("SECCOMP_IOCTL_NOTIF_RECV");
		src = xopen(pa, O_RDONLY | O_CLOEXEC);
		memset(&a, 0, sizeof(a));
		a.id = n.id;
		a.srcfd = (unsigned)src;
		a.newfd_flags = i % 2 ? O_CLOEXEC : 0;
		if (i == ADDFD_PLAIN) {
			a.flags = SECCOMP_ADDFD_FLAG_SETFD;
			a.newfd = 0;
		} else if (i == ADDFD_PLAIN + 1) {
			a.flags = SECCOMP_ADDFD_FLAG_SEND;
		}
		fds[i] = ioctl(l, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
		if (fds[i] < 0)
			die("SECCOMP_IOCTL_NOTIF_ADDFD %d", i);
		close(src);
		if (a.flags & SECCOMP_ADDFD_FLAG_SEND)
			continue; /* answered: getppid returned the fd */
		memset(&resp, 0, sizeof(resp));
		resp.id = n.id;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		if (ioctl(l, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0)
			die("SECCOMP_IOCTL_NOTIF_SEND");
	}
	if (l >= 0) {
		fdwt_write_all(sv[0], (const char *)fds, sizeof(fds));
		close(l);
	}
	close(sv[0]);
	wait_exit0(child);
}

/* ---- the rest */

static int32_t compat_syscall2(int nr, int a, int b)
{
	int32_t ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b) : "memory");
	return ret;
}

/*
 * FDW_COMPAT_PROBE=1 (test_other_paths.py, before the run): exit 0 when
 * this kernel runs 32-bit syscalls (int $0x80), 1 when not. A kernel built
 * with IA32_EMULATION_DEFAULT_DISABLED, or booted ia32_emulation=off,
 * kills the caller with a general protection fault: nobody can make a
 * compat syscall there, so there is no such path to test.
 */
static int compat_probe(void)
{
	int status;
	pid_t child = fork();

	if (child < 0)
		die("fork");
	if (child == 0) {
		(void)compat_syscall2(20, 0, 0); /* getpid */
		_exit(0);
	}
	if (waitpid(child, &status, 0) != child)
		die("waitpid");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/*
 * FDW_BUSY=HOLD,CLOSE,SECONDS (test_busy_table.py): a busy server's table.
 * Holds HOLD fds of /dev/null and says "HOLDING FIRST LAST"; at a line on
 * stdin, opens and closes an fd every millisecond for SECONDS; after one
 * second of it, closes the last CLOSE held fds through io_uring (numbers no
 * record says) and says "CLOSED FIRST LAST"; at the end, "DONE".
 */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int busy(const char *spec)
{
	const struct timespec ms = { 0, 1000000 };
	unsigned int hold, nclose, secs;
	struct io_uring_sqe sqe;
	bool closed = false;
	struct rlimit rl;
	struct ring r;
	double t0;
	char go[8];
	int *fds;

	if (sscanf(spec, "%u,%u,%u", &hold, &nclose, &secs) != 3 || !hold || nclose > hold)
		die("FDW_BUSY=HOLD,CLOSE,SECONDS, not %s", spec);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = rl.rlim_max < hold + 64 ? rl.rlim_max : hold + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit");
	fds = calloc(hold, sizeof(*fds));
	if (!fds || ring_init(&r) < 0)
		die("busy: set-up");
	for (unsigned int i = 0; i < hold; i++)
		fds[i] = xopen("/dev/null", O_RDONLY | O_CLOEXEC);
	printf("HOLDING %d %d\n", fds[0], fds[hold - 1]);
	if (!fgets(go, sizeof(go), stdin))
		return 1;
	t0 = now_s();
	while (now_s() - t0 < secs) {
		close(xopen("/dev/null", O_RDONLY | O_CLOEXEC));
		if (!closed && now_s() - t0 >= 1) {
			for (unsigned int i = hold - nclose; i < hold; i++) {
				memset(&sqe, 0, sizeof(sqe));
				sqe.opcode = IORING_OP_CLOSE;
				sqe.fd = fds[i];
				if (ring_run(&r, &sqe) != 0)
					die("io_uring close %d", fds[i]);
			}
			printf("CLOSED %d %d\n", fds[hold - nclose], fds[hold - 1]);
			closed = true;
		}
		nanosleep(&ms, NULL);
	}
	printf("DONE\n");
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	int fd, r, pidfd = -1;
	pid_t child;

	fdwt_init(argc, argv);
	if (getenv("FDW_BUSY"))
		return busy(getenv("FDW_BUSY"));
#if defined(__x86_64__)
	if (getenv("FDW_COMPAT_PROBE"))
		return compat_probe();
#endif
	dir = make_tmpdir("other");
	pa = make_file(dir, "a");

	uring();

	/* clone with CLONE_PIDFD (raw: fork-like, no new stack) */
	child = (pid_t)syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, NULL, 0);
	if (child == 0)
		_exit(0);
	if (child > 0)
		wait_exit0(child);
	step_fds("clone_pidfd", child < 0 ? -1 : pidfd, NULL);
	{
		int pfd = -1;
		struct clone_args ca = {.flags = CLONE_PIDFD, .pidfd = (unsigned long)&pfd,
					.exit_signal = SIGCHLD};

		child = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (child == 0)
			_exit(0);
		if (child > 0)
			wait_exit0(child);
		step_fds("clone3_pidfd", child < 0 ? -1 : pfd, NULL);
	}

	/* ioctls that return new fds */
	{
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

		if (m < 0 || unlockpt(m) < 0)
			die("ptmx");
		r = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
		step_fds("ioctl_tiocgptpeer", r, NULL);
	}
	fd = xopen("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	r = ioctl(fd, NS_GET_USERNS);
	step_fds("ioctl_ns_get_userns", r, NULL);
	{
		/* PIDFD_GET_NET_NAMESPACE (Linux 6.11) on a pidfd of ourselves */
		int self = (int)syscall(SYS_pidfd_open, getpid(), 0);

		if (self < 0)
			die("pidfd_open");
		r = ioctl(self, _IO(0xFF, 4), 0);
		step_fds("ioctl_pidfd_get_netns", r, NULL);
	}
	fd = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		/* USERFAULTFD_IOC_NEW */
		r = ioctl(fd, _IO(0xAA, 0x00), O_CLOEXEC);
		step_fds("ioctl_userfaultfd_new", r, NULL);
	}

	/* fanotify: read() of an event installs an fd for the accessed file */
	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC, O_RDONLY);
	if (fd >= 0 && fanotify_mark(fd, FAN_MARK_ADD, FAN_OPEN, AT_FDCWD, pa) == 0) {
		char buf[4096];
		struct fanotify_event_metadata *md = (void *)buf;
		ssize_t n;

		close(xopen(pa, O_RDONLY | O_CLOEXEC));
		n = read(fd, buf, sizeof(buf));
		if (n < (ssize_t)sizeof(*md) || md->fd < 0)
			die("fanotify read");
		step_fds("fanotify_read", md->fd, NULL);
	} else {
		step_fds("fanotify_read", -1, NULL);
	}

	/* bpf map */
	{
		union bpf_attr at;

		memset(&at, 0, sizeof(at));
		at.map_type = BPF_MAP_TYPE_ARRAY;
		at.key_size = 4;
		at.value_size = 8;
		at.max_entries = 1;
		r = (int)syscall(SYS_bpf, BPF_MAP_CREATE, &at, sizeof(at));
		step_fds("bpf_map_create", r, NULL);
	}

	/* the mount API */
	r = (int)syscall(SYS_fsopen, "tmpfs", 0);
	step_fds("fsopen", r, NULL);
	if (r >= 0) {
		int fs = r;

		if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			die("fsconfig");
		r = (int)syscall(SYS_fsmount, fs, 0, 0);
		step_fds("fsmount", r, NULL);
	}
	r = (int)syscall(SYS_fspick, AT_FDCWD, "/proc", 0);
	step_fds("fspick", r, NULL);
	r = (int)syscall(SYS_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLONE);
	step_fds("open_tree", r, NULL);
	/* open_tree_attr (Linux 6.15) without OPEN_TREE_CLONE: no privilege
	 * needed, so any user can fill a table with these */
	r = (int)syscall(SYS_open_tree_attr, AT_FDCWD, "/tmp", 0, NULL, 0);
	if (r >= 0) {
		int r2 = (int)syscall(SYS_open_tree_attr, AT_FDCWD, dir, OPEN_TREE_CLOEXEC, NULL, 0);
		int r3 = (int)syscall(SYS_open_tree_attr, AT_FDCWD, "/tmp", 0, NULL, 0);
		char extra[64];

		if (r2 < 0 || r3 < 0)
			die("open_tree_attr");
		snprintf(extra, sizeof(extra), "more=%d,%d", r2, r3);
		step_fds("open_tree_attr", r, extra);
	} else {
		step_fds("open_tree_attr", r, NULL);
	}

	seccomp_addfd();

	/* a POSIX message queue */
	{
		char name[64];

		snprintf(name, sizeof(name), "fdwt-%d", getpid());
		r = (int)syscall(SYS_mq_open, name, O_CREAT | O_RDWR, 0600, NULL);
		step_fds("mq_open", r, NULL);
		(void)syscall(SYS_mq_unlink, name);
	}

	{
		struct landlock_ruleset_attr la = {.handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE};

		r = (int)syscall(SYS_landlock_create_ruleset, &la, sizeof(la), 0);
		step_fds("landlock_create_ruleset", r, NULL);
	}

	r = (int)syscall(SYS_memfd_secret, 0);
	step_fds("memfd_secret", r, NULL);

	/* SO_PEERPIDFD on a connected unix socket (Linux 6.5) */
	{
		int sv[2], pfd = -1;
		socklen_t len = sizeof(pfd);

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair");
		r = getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD, &pfd, &len);
		step_fds("so_peerpidfd", r < 0 ? -1 : pfd, NULL);
	}

	/* a seccomp user-notification listener (allow-all filter) */
	{
		struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
		struct sock_fprog prog = {.len = 1, .filter = f};

		r = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
				 &prog);
		step_fds("seccomp_listener", r, NULL);
	}

	/* 32-bit compat syscalls from a 64-bit process: dup2 (63), close (6);
	 * not where the kernel runs none (compat_probe) */
#if defined(__x86_64__)
	if (getenv("FDW_NO_COMPAT"))
		goto no_compat;
	fd = xopen(pa, O_RDONLY);
	r = compat_syscall2(63, fd, 170);
	if (r < 0)
		errno = -r;
	step_fds("compat_dup2", r, NULL);
	if (r == 170) {
		r = compat_syscall2(6, 170, 0);
		expect(r == 0 && !fd_is_open(170), "compat close: %d", r);
		cp("compat_close", "closed=170");
	}
no_compat:
#endif
	expect(sys_close_range(3, ~0U, 0) == 0, "close_range");
	cp("close_all", NULL);
	rm_rf(dir);
	return 0;
}
