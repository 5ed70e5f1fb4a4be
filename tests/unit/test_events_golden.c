// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Golden test of GET /v1/events objects: one or more events of EVERY
 * syscall fdwatch traces (daemon/capture/syscalls.c), plus io_uring, fork,
 * exec and exit records, rendered by server/render.c and compared line by
 * line with tests/golden/events.jsonl: the raw numbers and the decoded
 * names beside them (common/symbols.c). The CLI's golden test
 * (cli/test_golden.c) renders the same file for humans.
 *
 *   test-events-golden GOLDEN            compare
 *   test-events-golden --write GOLDEN    rewrite it (review the diff!)
 *
 * A syscall added to the table without a case here fails the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "capture/syscalls.h"
#include "check.h"
#include "model/history.h"
#include "server/render.h"
#include "server/server.h"

#define SEC 1000000000ull

static double fixed_realtime(uint64_t mono_ns)
{
	return 1700000000.0 + (double)mono_ns / 1e9;
}

struct gcase {
	uint16_t type;
	uint16_t nr;
	uint64_t args[6];
	int64_t ret;
	const char *path;
	int nfds;
	int32_t fds[4];
	uint64_t aux;
	uint16_t flags;
	uint32_t child;
	int32_t exit_code;
};

#define SYS(n, ...) { .type = FDW_REC_SYSCALL, .nr = FDW_SYS_##n, __VA_ARGS__ }
#define A(...) .args = { __VA_ARGS__ }
#define FDS(...) .fds = { __VA_ARGS__ }
#define U32MAX 0xffffffffull
#define NEG(x) ((uint64_t)(uint32_t)(int32_t)(x)) /* an int argument as its register */

static const struct gcase cases[] = {
	SYS(DUP, A(3), .ret = 4),
	SYS(DUP2, A(3, 10), .ret = 10),
	SYS(DUP3, A(3, 10, 02000000), .ret = 10),
	SYS(DUP3, A(3, 10, 0), .ret = -22),
	SYS(FCNTL, A(3, 1030, 10), .ret = 11),			/* F_DUPFD_CLOEXEC */
	SYS(FCNTL, A(4, 2, 1), .ret = 0),			/* F_SETFD FD_CLOEXEC */
	SYS(FCNTL, A(4, 2, 0), .ret = 0),			/* F_SETFD 0 */
	SYS(FCNTL, A(4, 0, 20), .ret = 20),			/* F_DUPFD */
	SYS(CLOSE, A(99), .ret = -9),
	SYS(CLOSE, A(3), .ret = -512),				/* ERESTARTSYS */
	SYS(CLOSE_RANGE, A(3, U32MAX, 4), .ret = 0),		/* CLOSE_RANGE_CLOEXEC */
	SYS(CLOSE_RANGE, A(3, 9, 2), .ret = 0),			/* CLOSE_RANGE_UNSHARE */
	SYS(OPEN, A(0, 01101, 0644), .path = "/tmp/out", .ret = 3),
	SYS(OPENAT, A(NEG(-100), 0, 02000000, 0), .path = "/etc/passwd", .ret = 3),
	SYS(OPENAT, A(5, 0, 02200000 | 04000, 0), .path = "sub", .ret = -2),
	SYS(OPENAT, A(NEG(-100), 0, 020200002, 0600), .path = "/tmp", .ret = 4), /* O_TMPFILE */
	SYS(OPENAT, A(NEG(-100), 0, 0x40000000 | 1, 0), .path = "/x", .ret = -22),
	SYS(OPENAT2, A(NEG(-100), 0, 0, 24), .path = "/etc/hosts", .aux = 02000000, .ret = 3),
	SYS(CREAT, A(0, 0600), .path = "/tmp/new", .ret = 3),
	SYS(SOCKET, A(1, 02000001, 0), .ret = 3),		/* AF_UNIX SOCK_STREAM|SOCK_CLOEXEC */
	SYS(SOCKET, A(10, 04002, 17), .ret = -97),		/* AF_INET6 SOCK_DGRAM|SOCK_NONBLOCK UDP */
	SYS(SOCKET, A(16, 3, 0), .ret = 5),			/* AF_NETLINK SOCK_RAW NETLINK_ROUTE */
	SYS(SOCKETPAIR, A(1, 02000005, 0, 0), .ret = 0, .nfds = 2, FDS(3, 4)),
	SYS(ACCEPT, A(3, 0, 0), .ret = 5),
	SYS(ACCEPT4, A(3, 0, 0, 02004000), .ret = 5),
	SYS(PIPE, A(0), .ret = 0, .nfds = 2, FDS(3, 4)),
	SYS(PIPE2, A(0, 02004000), .ret = 0, .nfds = 2, FDS(3, 4)),
	SYS(PIPE2, A(0, 0), .ret = -24, .nfds = 0),		/* EMFILE */
	SYS(EVENTFD, A(0), .ret = 3),
	SYS(EVENTFD2, A(0, 02004001), .ret = 3),
	SYS(EPOLL_CREATE, A(1), .ret = 3),
	SYS(EPOLL_CREATE1, A(02000000), .ret = 3),
	SYS(SIGNALFD, A(NEG(-1), 0, 8), .ret = 3),
	SYS(SIGNALFD4, A(NEG(-1), 0, 8, 02000000), .ret = 3),
	SYS(TIMERFD_CREATE, A(1, 02004000), .ret = 3),
	SYS(INOTIFY_INIT, .ret = 3),
	SYS(INOTIFY_INIT1, A(02000000), .ret = 3),
	SYS(FANOTIFY_INIT, A(0x201, 0100000), .ret = 3),	/* FAN_CLOEXEC|FAN_REPORT_FID */
	SYS(MEMFD_CREATE, A(0, 3), .ret = 3),			/* MFD_CLOEXEC|MFD_ALLOW_SEALING */
	SYS(USERFAULTFD, A(02000001), .ret = 3),
	SYS(PERF_EVENT_OPEN, A(0, 0, NEG(-1), NEG(-1), 8), .ret = 3),
	SYS(PIDFD_OPEN, A(1234, 0), .ret = 3),
	SYS(PIDFD_GETFD, A(3, 5, 0), .ret = 4),
	SYS(OPEN_BY_HANDLE_AT, A(3, 0, 0), .ret = -1),
	SYS(IO_URING_SETUP, A(8, 0), .ret = 3),
	SYS(RECVMSG, A(3, 0, 0x40000000), .ret = 10, .nfds = 1, FDS(4)),
	SYS(RECVMMSG, A(3, 0, 2, 0x40000040, 0), .ret = 1, .nfds = 2, FDS(4, 5)),
	SYS(UNSHARE, A(0x20400), .ret = 0),			/* CLONE_FILES|CLONE_NEWNS */
	SYS(CLONE, A(0x1011, 0, 0, 0, 0), .ret = 4242),		/* CLONE_PIDFD|SIGCHLD */
	SYS(CLONE3, A(0, 88), .ret = 4243),
	SYS(MEMFD_SECRET, A(02000000), .ret = 3),
	SYS(BPF, A(5, 0, 144), .ret = 3),			/* BPF_PROG_LOAD */
	SYS(SECCOMP, A(1, 8, 0), .ret = 3),			/* FILTER, NEW_LISTENER */
	SYS(FSOPEN, A(0, 1), .ret = 3),
	SYS(FSMOUNT, A(3, 1, 0x11), .ret = 4),			/* RDONLY|NOATIME */
	SYS(FSPICK, A(NEG(-100), 0, 9), .ret = 3),
	SYS(OPEN_TREE, A(NEG(-100), 0, 02000000 | 0x8000 | 1), .ret = 3),
	SYS(MQ_OPEN, A(0, 02000102, 0600, 0), .ret = 3),
	SYS(LANDLOCK_CREATE_RULESET, A(0, 16, 0), .ret = 3),
	SYS(IOCTL, A(3, 0x5441, 0402), .ret = 4),		/* TIOCGPTPEER O_RDWR|O_NOCTTY */
	SYS(IOCTL, A(3, 0x5451, 0), .ret = 0),			/* FIOCLEX */
	SYS(IOCTL, A(3, 0xb701, 0), .ret = 5),			/* NS_GET_USERNS */
	SYS(GETSOCKOPT, A(3, 1, 77, 0, 0), .ret = 0, .nfds = 1, FDS(4)),
	SYS(READ, A(3, 0, 4096), .ret = 24, .nfds = 1, FDS(6)),
	SYS(WRITE, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(PREAD64, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(PWRITE64, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(READV, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(WRITEV, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(PREADV, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(PWRITEV, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FSTAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(NEWFSTATAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(STATX, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(LSEEK, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SENDTO, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(RECVFROM, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SENDMSG, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SENDMMSG, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(EPOLL_CTL, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(EPOLL_WAIT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(EPOLL_PWAIT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SHUTDOWN, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(CONNECT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(BIND, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(LISTEN, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(GETSOCKNAME, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(GETPEERNAME, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SETSOCKOPT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FSYNC, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FDATASYNC, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FTRUNCATE, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FCHMOD, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FCHOWN, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FCHDIR, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FLOCK, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FSTATFS, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(GETDENTS64, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SENDFILE, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SPLICE, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(TEE, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(COPY_FILE_RANGE, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FALLOCATE, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(UNLINKAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(MKDIRAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(RENAMEAT2, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(LINKAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SYMLINKAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(READLINKAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FACCESSAT2, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FCHMODAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(FCHOWNAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(UTIMENSAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(EXECVEAT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(INOTIFY_ADD_WATCH, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(POLL, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(PPOLL, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(SELECT, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(PSELECT6, A(9), .ret = -9),			/* EBADF: use after close */
	SYS(OPEN_TREE_ATTR, A(NEG(-100), 0, 02000000 | 0x8000 | 1, 0, 32), .ret = 3),
	SYS(SECCOMP_ADDFD, A(4242, 7, 0, 5, 0, 02000000), .ret = 9, .nfds = 1, FDS(9)),
	SYS(SECCOMP_ADDFD, A(4242, 8, 1, 5, 0, 0), .ret = 0, .nfds = 1, FDS(0)), /* SETFD */
	SYS(IOCTL, A(3, 0x894c, 0), .ret = 6),			/* SIOCGSKNS */
	SYS(IOCTL, A(3, 0x8010b70b, 0), .ret = 7),		/* NS_MNT_GET_NEXT */
	{ .type = FDW_REC_URING, .nr = FDW_SYS_IO_URING, .aux = 18, .ret = 7, .nfds = 1, FDS(7) },
	{ .type = FDW_REC_URING, .nr = FDW_SYS_IO_URING, .aux = 19, .ret = 0, .nfds = 1, FDS(7) },
	{ .type = FDW_REC_FORK, .child = 4300, .flags = 0 },
	{ .type = FDW_REC_EXEC, .child = 100 },
	{ .type = FDW_REC_EXIT, .exit_code = 256, .flags = 1u << 1 },
};

static char *render_all(void)
{
	struct fdw_server_deps deps = { .realtime = fixed_realtime };
	struct fdw_history h;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (fdw_history_init(&h, 256) < 0)
		return NULL;
	deps.history = &h; /* entries are unpacked through their history */
	f = open_memstream(&out, &len);
	for (size_t i = 0; f && i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct gcase *c = &cases[i];
		struct fdw_event ev = { 0 };
		const struct fdw_history_entry *e;
		json_t *o;
		char *s;

		ev.seq = i + 1;
		ev.ts = (i + 1) * SEC;
		ev.pid = 100;
		ev.tid = 101;
		ev.type = c->type;
		ev.nr = c->nr;
		ev.ret = c->ret;
		ev.aux = c->aux;
		ev.flags = c->flags;
		ev.child_pid = c->child;
		ev.child_tid = c->child;
		ev.exit_code = c->exit_code;
		memcpy(ev.args, c->args, sizeof(ev.args));
		ev.nfds = (uint16_t)c->nfds;
		for (int k = 0; k < c->nfds; k++)
			ev.fds[k] = c->fds[k];
		ev.path = c->path;
		if (c->type == FDW_REC_EXEC)
			memcpy(ev.comm, "newprog", 8);
		e = fdw_history_push(&h, &ev, "app");
		o = e ? fdw_render_event(&deps, e) : NULL;
		s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		fprintf(f, "%s\n", s ? s : "(render failed)");
		free(s);
		json_decref(o);
	}
	if (f)
		fclose(f);
	fdw_history_free(&h);
	return out;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int ch;

	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	while (m && (ch = fgetc(f)) != EOF)
		fputc(ch, m);
	if (m)
		fclose(m);
	fclose(f);
	return buf;
}

/* Every traced syscall has at least one case. */
static void test_coverage(void)
{
	for (unsigned int nr = 1; nr < FDW_SYS_MAX; nr++) {
		bool found = false;

		if (!fdw_syscall_info(nr))
			continue;
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			if (cases[i].nr == nr)
				found = true;
		if (!found)
			fprintf(stderr, "no golden case for %s\n", fdw_syscall_name(nr));
		CHECK(found);
	}
}

/* Compare line by line, reporting the first few differences. */
static void test_golden(const char *golden)
{
	char *got = render_all(), *want = slurp(golden);
	char *gs, *ws, *gl, *wl;
	int line = 0, shown = 0;

	CHECK(got != NULL);
	if (!want)
		fprintf(stderr, "cannot read %s: %s\n", golden, strerror(errno));
	CHECK(want != NULL);
	if (!got || !want)
		goto out;
	gl = strtok_r(got, "\n", &gs);
	wl = strtok_r(want, "\n", &ws);
	while (gl || wl) {
		line++;
		if (!gl || !wl || strcmp(gl, wl)) {
			if (shown++ < 5)
				fprintf(stderr, "%s:%d:\n  want %s\n  got  %s\n", golden, line,
					wl ? wl : "(end)", gl ? gl : "(end)");
			CHECK(!"golden line differs");
		} else {
			CHECK(true);
		}
		gl = gl ? strtok_r(NULL, "\n", &gs) : NULL;
		wl = wl ? strtok_r(NULL, "\n", &ws) : NULL;
	}
out:
	free(got);
	free(want);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--write")) {
		char *got = render_all();
		FILE *f = got ? fopen(argv[2], "we") : NULL;

		if (!f || fputs(got, f) < 0 || fclose(f)) {
			perror(argv[2]);
			return 1;
		}
		free(got);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s [--write] GOLDEN\n", argv[0]);
		return 2;
	}
	test_coverage();
	test_golden(argv[1]);
	printf("%u passed, %u failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}
