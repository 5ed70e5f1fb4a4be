// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Leaking (and clean) programs for the leak detector tests
 * (tests/integration/test_leaks*.py). Each mode prints lines "WORD k=v ..."
 * on stdout that tell the driver what it did, so the tests derive what the
 * daemon must report from the program's own account; commands come as lines
 * on stdin; EOF on stdin ends the program.
 *
 *   dup RATE SECONDS PATH    the textbook leak: open PATH, dup it, close the
 *                            original, RATE times a second for SECONDS
 *                            (0: until stdin says "stop"); prints
 *                            "DONE leaked=N first=FD last=FD" and holds them
 *   slow PER_MIN SECONDS     one UNIX datagram socket leaked PER_MIN times a
 *                            minute; "DONE leaked=N"
 *   steady SECONDS BURST     clean but spiky: every second opens BURST files
 *                            and sockets and closes them all; "DONE"
 *   exhaust LIMIT PATH       soft RLIMIT_NOFILE := LIMIT, opens PATH up to 95%
 *                            ("FULL fds=N limit=L"); on "emfile", opens until
 *                            EMFILE ("EMFILE fds=N failures=K"); on "release",
 *                            closes down to the first 10 fds ("RELEASED fds=N")
 *   exec PATH [sh]           opens PATH without close-on-exec, a cloexec pipe
 *                            and a socket without cloexec, prints "PARENT
 *                            pid=P leaked=A,B cloexec=C,D", forks and execs
 *                            itself as "child" (with "sh": execs /bin/sh,
 *                            which execs it); waits for it
 *   child                    (after exec) prints "CHILD pid=C"; on "close"
 *                            closes every fd above 2 ("CLOSED")
 *
 * Built with frame pointers: the daemon walks user stacks by them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

/* scripts/sanitize.sh builds these programs with ASan too: what they leave
 * allocated at exit is theirs, not fdwatchd's; LeakSanitizer is for the
 * daemon (and the CLI). Without ASan nothing calls this. */
const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

#define NOINLINE __attribute__((noinline))

static void die(const char *what)
{
	fprintf(stderr, "fdw_leak[%d]: %s: %s\n", getpid(), what, strerror(errno));
	exit(2);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* A command line from stdin, waiting at most timeout_ms (-1: forever).
 * Returns 1 with a line, 0 on timeout, -1 on EOF. */
static int command(char *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	size_t o = 0;
	int r;

	r = poll(&pfd, 1, timeout_ms);
	if (r == 0)
		return 0;
	if (r < 0)
		return errno == EINTR ? 0 : -1;
	/* a whole line: the driver writes one at a time */
	while (o + 1 < len) {
		char c;
		ssize_t n = read(0, &c, 1);

		if (n <= 0)
			return -1;
		if (c == '\n')
			break;
		buf[o++] = c;
	}
	buf[o] = '\0';
	return 1;
}

static void hold(void)
{
	char buf[64];

	while (command(buf, sizeof(buf), -1) >= 0)
		;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep until `deadline` (monotonic s), or a command arrives ("stop": 1). */
static int pace(double deadline)
{
	char buf[64];
	double left = deadline - now_s();
	int r;

	if (left <= 0)
		return 0;
	r = command(buf, sizeof(buf), (int)(left * 1000) + 1);
	if (r < 0)
		exit(0);
	return r > 0 && !strcmp(buf, "stop");
}

/* ---- the textbook leak ---- */

static NOINLINE int leak_once(const char *path)
{
	int fd = open(path, O_RDONLY), copy;

	if (fd < 0)
		die("open");
	copy = dup(fd);
	if (copy < 0)
		die("dup");
	close(fd); /* the original only: the copy leaks */
	return copy;
}

static NOINLINE void leak_loop(double rate, double seconds, const char *path)
{
	double t0 = now_s();
	long n = 0;
	int first = -1, last = -1;

	say("START pid=%d", getpid());
	for (;;) {
		double t = t0 + (double)(n + 1) / rate;

		if (seconds > 0 && t - t0 > seconds)
			break;
		last = leak_once(path);
		if (first < 0)
			first = last;
		n++;
		if (pace(t))
			break;
	}
	say("DONE leaked=%ld first=%d last=%d", n, first, last);
	hold();
}

/* ---- a slow leak ---- */

static NOINLINE int leak_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	return fd;
}

static void slow_loop(double per_min, double seconds)
{
	double t0 = now_s();
	long n = 0;

	say("START pid=%d", getpid());
	for (;;) {
		double t = t0 + (double)(n + 1) * 60.0 / per_min;

		if (seconds > 0 && t - t0 > seconds)
			break;
		(void)leak_socket();
		n++;
		if (pace(t))
			break;
	}
	say("DONE leaked=%ld", n);
	hold();
}

/* ---- clean, with spikes ---- */

static void steady_loop(double seconds, int burst)
{
	double t0 = now_s();
	int *fds = calloc((size_t)burst * 2, sizeof(int));
	long rounds = 0;

	if (!fds)
		die("calloc");
	say("START pid=%d", getpid());
	while (now_s() - t0 < seconds) {
		for (int i = 0; i < burst; i++) {
			fds[2 * i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
			fds[2 * i + 1] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fds[2 * i] < 0 || fds[2 * i + 1] < 0)
				die("open/socket");
		}
		/* hold them a moment, as a request would */
		usleep(200000);
		for (int i = 0; i < 2 * burst; i++)
			close(fds[i]);
		rounds++;
		if (pace(t0 + rounds))
			break;
	}
	free(fds);
	say("DONE rounds=%ld", rounds);
	hold();
}

/* ---- exhaustion ---- */

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 65536; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

static void exhaust(long limit, const char *path)
{
	struct rlimit rl;
	char buf[64];
	int failures = 0, fds;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit");
	rl.rlim_cur = (rlim_t)limit;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit");
	say("START pid=%d", getpid());
	for (fds = count_fds(); fds < limit * 95 / 100; fds++)
		if (open(path, O_RDONLY | O_CLOEXEC) < 0)
			die("open");
	fds = count_fds();
	say("FULL fds=%d limit=%ld", fds, limit);
	while (command(buf, sizeof(buf), -1) > 0) {
		if (!strcmp(buf, "emfile")) {
			for (;;) {
				int fd = open(path, O_RDONLY | O_CLOEXEC);

				if (fd >= 0)
					continue;
				if (errno != EMFILE)
					die("open (expected EMFILE)");
				if (++failures >= 3)
					break;
			}
			say("EMFILE fds=%d failures=%d", count_fds(), failures);
		} else if (!strcmp(buf, "release")) {
			for (int fd = 10; fd < limit; fd++)
				close(fd);
			say("RELEASED fds=%d", count_fds());
		}
	}
}

/* ---- leaks into children ---- */

static void exec_parent(const char *self, const char *path, bool via_sh)
{
	int keep, p[2], sock, status;
	pid_t child;

	keep = open(path, O_RDONLY); /* no O_CLOEXEC: leaks into the child */
	if (keep < 0)
		die("open");
	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe2");
	sock = socket(AF_UNIX, SOCK_STREAM, 0); /* no SOCK_CLOEXEC either */
	if (sock < 0)
		die("socket");
	say("PARENT pid=%d leaked=%d,%d cloexec=%d,%d", getpid(), keep, sock, p[0], p[1]);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		if (via_sh)
			execl("/bin/sh", "sh", "-c", "exec \"$0\" child", self, (char *)NULL);
		else
			execl(self, self, "child", (char *)NULL);
		die("exec");
	}
	if (waitpid(child, &status, 0) < 0)
		die("waitpid");
	exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

static void exec_child(void)
{
	char buf[64];

	say("CHILD pid=%d", getpid());
	while (command(buf, sizeof(buf), -1) > 0) {
		if (!strcmp(buf, "close")) {
			for (int fd = 3; fd < 1024; fd++)
				close(fd);
			say("CLOSED");
		}
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(mode, "dup") && argc == 5)
		leak_loop(atof(argv[2]), atof(argv[3]), argv[4]);
	else if (!strcmp(mode, "slow") && argc == 4)
		slow_loop(atof(argv[2]), atof(argv[3]));
	else if (!strcmp(mode, "steady") && argc == 4)
		steady_loop(atof(argv[2]), atoi(argv[3]));
	else if (!strcmp(mode, "exhaust") && argc == 4)
		exhaust(atol(argv[2]), argv[3]);
	else if (!strcmp(mode, "exec") &&
		 (argc == 3 || (argc == 4 && !strcmp(argv[3], "sh")))) {
		/* exec the real path: the child's command is its base name */
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n <= 0)
			die("readlink /proc/self/exe");
		self[n] = '\0';
		exec_parent(self, argv[2], argc == 4);
	}
	else if (!strcmp(mode, "child") && argc == 2)
		exec_child();
	else {
		fprintf(stderr, "usage: fdw_leak dup RATE SECONDS PATH | slow PER_MIN SECONDS | "
				"steady SECONDS BURST | exhaust LIMIT PATH | exec PATH [sh] | child\n");
		return 2;
	}
	return 0;
}
