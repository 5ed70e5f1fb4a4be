/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the fdwatch test programs.
 *
 * Protocol with the Python driver (tests/integration/fdwtest.py): at each
 * checkpoint the program writes ONE line to stdout,
 *
 *     CP <name> pid=<its pid> [key=value ...]
 *
 * (values never contain spaces; lists are comma-separated) and then stops
 * itself with raise(SIGSTOP). A key `pids=` lists every process that is
 * stopped at this checkpoint (the writer first); the writer has already
 * waited for the others to stop. The driver compares, then sends SIGCONT.
 *
 * Exit codes: 0 success, 2 a setup call failed, 3 the kernel did not behave
 * as the program expected (the program's premise is wrong, not fdwatch).
 */
#ifndef FDWT_H
#define FDWT_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* scripts/sanitize.sh builds these programs with ASan too: what they leave
 * allocated at exit is theirs, not fdwatchd's; LeakSanitizer is for the
 * daemon (and the CLI). Without ASan nothing calls this. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

#define FDWT_UNUSED __attribute__((unused))

static FDWT_UNUSED const char *fdwt_prog = "fdwt";

#define die(...) fdwt_die(__FILE__, __LINE__, errno, __VA_ARGS__)
#define expect(cond, ...)                                                        \
	do {                                                                     \
		if (!(cond))                                                     \
			fdwt_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);       \
	} while (0)

static FDWT_UNUSED __attribute__((noreturn, format(printf, 4, 5))) void
fdwt_die(const char *file, int line, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s[%d]: error: %s:%d: %s: %s\n", fdwt_prog, getpid(), file, line,
		msg, strerror(err));
	exit(2);
}

static FDWT_UNUSED __attribute__((noreturn, format(printf, 4, 5))) void
fdwt_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	char msg[512];
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s[%d]: unexpected: %s:%d: (%s) %s [errno %d %s]\n", fdwt_prog,
		getpid(), file, line, cond, msg, err, strerror(err));
	exit(3);
}

/* A growable string for key=value lists. */
struct fdwt_sb {
	char *buf;
	size_t len, cap;
};

static FDWT_UNUSED __attribute__((format(printf, 2, 3))) void
sb_add(struct fdwt_sb *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = sb->cap - sb->len;

		va_start(ap, fmt);
		n = vsnprintf(sb->buf ? sb->buf + sb->len : NULL, sb->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf");
		if (sb->buf && (size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		sb->cap = (sb->cap + (size_t)n + 1) * 2;
		sb->buf = realloc(sb->buf, sb->cap);
		if (!sb->buf)
			die("realloc");
		sb->buf[sb->len] = '\0';
	}
}

/* Appends `,v` (or `v` when empty) to the list. */
static FDWT_UNUSED void sb_addint(struct fdwt_sb *sb, long v)
{
	sb_add(sb, "%s%ld", (sb->len && sb->buf[sb->len - 1] != '=') ? "," : "", v);
}

static FDWT_UNUSED const char *sb_str(struct fdwt_sb *sb)
{
	return sb->buf ? sb->buf : "";
}

static FDWT_UNUSED void sb_reset(struct fdwt_sb *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

static FDWT_UNUSED void fdwt_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write checkpoint");
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Writes the checkpoint line without stopping. */
static FDWT_UNUSED __attribute__((format(printf, 2, 3))) void
cp_line(const char *name, const char *fmt, ...)
{
	struct fdwt_sb sb = {0};
	va_list ap;
	char *extra = NULL;

	if (fmt) {
		va_start(ap, fmt);
		if (vasprintf(&extra, fmt, ap) < 0)
			die("vasprintf");
		va_end(ap);
	}
	sb_add(&sb, "CP %s pid=%ld%s%s\n", name, (long)syscall(SYS_getpid), extra ? " " : "", extra ? extra : "");
	/* One write(): lines of concurrent writers on the same pipe stay whole
	 * below PIPE_BUF; longer ones only come from one writer at a time. */
	fdwt_write_all(STDOUT_FILENO, sb.buf, sb.len);
	free(extra);
	free(sb.buf);
}

/* Stops the whole process. Not raise(): after a raw clone() without
 * CLONE_VM|CLONE_THREAD glibc's cached thread id is the parent's. */
static FDWT_UNUSED void stop_self(void)
{
	(void)syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
}

/* Announces a checkpoint and stops until the driver continues us. */
#define cp(name, ...)                                                            \
	do {                                                                     \
		cp_line(name, __VA_ARGS__);                                      \
		stop_self();                                                     \
	} while (0)

/* Waits until `pid` (our child) has stopped. */
static FDWT_UNUSED void wait_stopped(pid_t pid)
{
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WUNTRACED | __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("waitpid(%d, WUNTRACED)", pid);
		if (WIFSTOPPED(st))
			return;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			fprintf(stderr, "%s: child %d ended (status 0x%x) instead of stopping\n",
				fdwt_prog, pid, st);
			exit(2);
		}
	}
}

/* Waits until `pid` (our child) has exited with status 0. */
static FDWT_UNUSED void wait_exit0(pid_t pid)
{
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("waitpid(%d)", pid);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			return;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			fprintf(stderr, "%s: child %d failed (status 0x%x)\n", fdwt_prog, pid, st);
			exit(2);
		}
	}
}

static FDWT_UNUSED int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static FDWT_UNUSED int fd_cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);

	if (f < 0)
		die("F_GETFD %d", fd);
	return !!(f & FD_CLOEXEC);
}

/* Lowest fd number >= from that is not open. */
static FDWT_UNUSED int lowest_free(int from)
{
	while (fd_is_open(from))
		from++;
	return from;
}

/* A private temporary directory, removed by the driver if we crash. */
static FDWT_UNUSED char *make_tmpdir(const char *tag)
{
	char *p;

	if (asprintf(&p, "/tmp/fdwt-%s-XXXXXX", tag) < 0)
		die("asprintf");
	if (!mkdtemp(p))
		die("mkdtemp");
	return p;
}

/* Creates (or truncates) dir/name and returns its path. */
static FDWT_UNUSED char *make_file(const char *dir, const char *name)
{
	char *p;
	int fd;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		die("asprintf");
	fd = open(p, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		die("create %s", p);
	if (write(fd, "fdwatch\n", 8) != 8)
		die("write %s", p);
	close(fd);
	return p;
}

/* Raw system calls, so that the syscall the probes see is the one named
 * (glibc may implement one call with another, e.g. open() with openat). */
#define sys_dup(a) ((int)syscall(SYS_dup, (a)))
#define sys_dup2(a, b) ((int)syscall(SYS_dup2, (a), (b)))
#define sys_dup3(a, b, f) ((int)syscall(SYS_dup3, (a), (b), (f)))
#define sys_fcntl(a, c, x) ((int)syscall(SYS_fcntl, (a), (c), (x)))
#define sys_close(a) ((int)syscall(SYS_close, (a)))
#define sys_close_range(a, b, f) ((int)syscall(SYS_close_range, (a), (b), (f)))
#define sys_open(p, f, m) ((int)syscall(SYS_open, (p), (f), (m)))
#define sys_openat(d, p, f, m) ((int)syscall(SYS_openat, (d), (p), (f), (m)))

static FDWT_UNUSED int xopen(const char *path, int flags)
{
	int fd = open(path, flags, 0600);

	if (fd < 0)
		die("open %s", path);
	return fd;
}

static FDWT_UNUSED void fdwt_init(int argc, char **argv)
{
	(void)argc;
	fdwt_prog = argv[0];
	/* Unbuffered so that a crash does not lose diagnostics. */
	setvbuf(stdout, NULL, _IONBF, 0);
}

static FDWT_UNUSED int fdwt_rm_one(const char *path, const struct stat *st, int type,
				     struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

/* Removes a tree made by make_tmpdir(). */
static FDWT_UNUSED void rm_rf(const char *dir)
{
	if (!dir || strncmp(dir, "/tmp/fdwt-", 10) != 0)
		return;
	(void)nftw(dir, fdwt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif /* FDWT_H */
