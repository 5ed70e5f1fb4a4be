/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Process structure and file tables (see test_proc.py). One scenario per
 * invocation: fdw_proc SCENARIO
 *
 *   fork         fork copies the table; both change it independently
 *   exec         a child fails one exec, then execs: CLOEXEC fds go
 *   exec_self    the driver's own child execs (same pid, new comm)
 *   threads      threads share one table; thread exits do not hurt it
 *   thread_exec  a non-leader thread execs (de_thread)
 *   clone_files  clone(CLONE_FILES) without CLONE_THREAD shares; unshare splits
 *   close_range_unshare  CLOSE_RANGE_UNSHARE in a sharing child splits
 *   last_user    the table outlives the process that created it
 *   vfork        vfork+exec, and posix_spawn with file actions
 *   pid_reuse    a new process gets the pid of a dead one (clone3 set_tid)
 *
 *   fdw_proc helper [announce KEY=VAL...]   the program exec'd by the above
 */
#include "fdwt.h"

#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/close_range.h>
#include <linux/sched.h>

static char *dir, *pa, *pb, *pc;
static const char *self_exe = "/proc/self/exe";

/* Memory shared with children made by clone() (no CLONE_VM). */
struct shared {
	int fd[8];
	pid_t pid;
};
static struct shared *sh;

static void setup(void)
{
	dir = make_tmpdir("proc");
	pa = make_file(dir, "a");
	pb = make_file(dir, "b");
	pc = make_file(dir, "c");
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
}

static pid_t spawn_clone(int (*fn)(void *), int flags)
{
	size_t sz = 256 * 1024;
	char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
			   -1, 0);
	pid_t pid;

	if (stack == MAP_FAILED)
		die("mmap stack");
	pid = clone(fn, stack + sz, flags | SIGCHLD, NULL);
	if (pid < 0)
		die("clone");
	return pid;
}

/* ---- helper: what the exec scenarios run */

static int helper(int argc, char **argv)
{
	int a, b;

	if (argc > 2 && strcmp(argv[2], "announce") == 0) {
		struct fdwt_sb sb = {0};
		int i;

		for (i = 3; i < argc; i++) {
			if (strncmp(argv[i], "dir=", 4) == 0)
				dir = argv[i] + 4;
			sb_add(&sb, "%s%s", i > 3 ? " " : "", argv[i]);
		}
		cp("exec_self", "%s", sb_str(&sb));
		a = sys_open("/dev/null", O_RDONLY, 0);
		b = sys_open("/dev/zero", O_RDONLY | O_CLOEXEC, 0);
		if (a < 0 || b < 0)
			die("helper open");
		cp("exec_self_opened", "plain=%d cloexec=%d", a, b);
		rm_rf(dir);
		return 0;
	}
	stop_self();
	a = sys_open("/dev/null", O_RDONLY, 0);
	b = sys_open("/dev/zero", O_RDONLY | O_CLOEXEC, 0);
	if (a < 0 || b < 0)
		die("helper open");
	stop_self();
	return 0;
}

/* ---- fork */

static int sc_fork(void)
{
	int a = xopen(pa, O_RDONLY), b = xopen(pb, O_RDONLY | O_CLOEXEC), p[2], e;
	pid_t child;

	if (pipe(p) < 0)
		die("pipe");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		int c;

		close(p[1]);
		c = xopen(pc, O_RDONLY);
		expect(sys_dup2(a, 60) == 60, "dup2");
		sh->fd[0] = c;
		stop_self();
		close(c);
		sh->fd[1] = xopen(pa, O_RDONLY | O_CLOEXEC);
		stop_self();
		_exit(0);
	}
	close(p[0]);
	wait_stopped(child);
	e = xopen(pc, O_RDONLY);
	cp("fork", "pids=%d,%d child=%d inherited=%d,%d,%d child_only=%d,60 parent_only=%d "
	   "closed_in_child=%d closed_in_parent=%d",
	   getpid(), child, child, a, b, p[1], sh->fd[0], e, p[1], p[0]);
	wait_stopped(child);
	cp("fork_child_again", "pids=%d,%d child=%d closed_in_child=%d child_only=%d", getpid(),
	   child, child, sh->fd[0], sh->fd[1]);
	wait_exit0(child);
	cp("fork_child_exited", "gone=%d", child);
	return 0;
}

/* ---- exec */

struct exec_fds {
	int keep[4], gone[4];
};

static void exec_setup(struct exec_fds *x)
{
	int a = xopen(pa, O_RDONLY);

	x->keep[0] = a;
	x->gone[0] = xopen(pb, O_RDONLY | O_CLOEXEC);
	x->gone[1] = sys_dup3(a, 70, O_CLOEXEC);
	x->keep[1] = xopen(pc, O_RDONLY | O_CLOEXEC);
	expect(sys_fcntl(x->keep[1], F_SETFD, 0) == 0, "F_SETFD 0");
	x->gone[2] = xopen(pa, O_RDONLY);
	expect(sys_fcntl(x->gone[2], F_SETFD, FD_CLOEXEC) == 0, "F_SETFD");
	x->gone[3] = sys_dup2(a, 90);
	expect(sys_close_range(90, 90, CLOSE_RANGE_CLOEXEC) == 0, "close_range CLOEXEC");
	x->keep[2] = sys_dup2(x->gone[0], 91); /* dup drops CLOEXEC */
	x->keep[3] = sys_fcntl(x->gone[0], F_DUPFD, 92);
}

static int sc_exec(void)
{
	struct exec_fds x;
	pid_t child;

	exec_setup(&x);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		char *args[] = {"fdw_proc", "helper", NULL};

		expect(execv("/nonexistent/fdwatch", args) < 0 && errno == ENOENT, "exec nonexistent");
		stop_self();
		execv(self_exe, args);
		die("execv");
	}
	wait_stopped(child);
	cp("exec_failed", "pids=%d,%d child=%d keep=%d,%d,%d,%d cloexec=%d,%d,%d,%d", getpid(), child,
	   child, x.keep[0], x.keep[1], x.keep[2], x.keep[3], x.gone[0], x.gone[1], x.gone[2],
	   x.gone[3]);
	wait_stopped(child);
	cp("exec", "pids=%d,%d child=%d keep=%d,%d,%d,%d gone=%d,%d,%d,%d", getpid(), child, child,
	   x.keep[0], x.keep[1], x.keep[2], x.keep[3], x.gone[0], x.gone[1], x.gone[2], x.gone[3]);
	wait_stopped(child);
	cp("exec_helper_opened", "pids=%d,%d child=%d", getpid(), child, child);
	wait_exit0(child);
	return 0;
}

static int sc_exec_self(void)
{
	struct exec_fds x;
	char k[128], g[128], d[256];
	char *args[] = {"fdw_proc", "helper", "announce", k, g, d, NULL};

	exec_setup(&x);
	snprintf(k, sizeof(k), "keep=%d,%d,%d,%d", x.keep[0], x.keep[1], x.keep[2], x.keep[3]);
	snprintf(g, sizeof(g), "gone=%d,%d,%d,%d", x.gone[0], x.gone[1], x.gone[2], x.gone[3]);
	snprintf(d, sizeof(d), "dir=%s", dir);
	cp("before_exec_self", "%s %s", k, g);
	execv(self_exe, args);
	die("execv");
}

/* ---- threads */

static int thr_pipe[2], go_pipe[2];

static void *thr_main(void *arg)
{
	int *out = arg;
	char c;

	out[0] = (int)syscall(SYS_gettid);
	out[1] = xopen(pb, O_RDONLY | O_CLOEXEC);
	out[2] = xopen(pc, O_RDONLY);
	expect(sys_close(out[3]) == 0, "close in thread");
	if (write(thr_pipe[1], "r", 1) != 1)
		die("write");
	if (read(go_pipe[0], &c, 1) != 1)
		die("read");
	return NULL;
}

static void *thr_churn(void *arg)
{
	int fds[20], i;

	(void)arg;
	/* threads racing for the same low fd numbers: a close in one thread and
	 * the open that reuses the number in another complete close together */
	for (i = 0; i < 2000; i++) {
		int fd = sys_open(pa, O_RDONLY, 0);

		if (fd < 0)
			die("open");
		expect(sys_close(fd) == 0, "close");
	}
	for (i = 0; i < 20; i++)
		fds[i] = xopen(i % 2 ? pa : pb, O_RDONLY | (i % 3 ? O_CLOEXEC : 0));
	for (i = 0; i < 20; i += 2)
		expect(sys_close(fds[i]) == 0, "close");
	return NULL;
}

static int sc_threads(void)
{
	pthread_t t, ts[8];
	int out[4], i;
	char c;

	if (pipe2(thr_pipe, O_CLOEXEC) < 0 || pipe2(go_pipe, O_CLOEXEC) < 0)
		die("pipe2");
	out[3] = xopen(pa, O_RDONLY);
	if (pthread_create(&t, NULL, thr_main, out))
		die("pthread_create");
	if (read(thr_pipe[0], &c, 1) != 1)
		die("read");
	cp("threads", "tid=%d thread_fds=%d,%d closed=%d", out[0], out[1], out[2], out[3]);
	if (write(go_pipe[1], "g", 1) != 1)
		die("write");
	if (pthread_join(t, NULL))
		die("pthread_join");
	cp("thread_exited", "tid=%d thread_fds=%d,%d", out[0], out[1], out[2]);
	for (i = 0; i < 8; i++)
		if (pthread_create(&ts[i], NULL, thr_churn, NULL))
			die("pthread_create");
	for (i = 0; i < 8; i++)
		if (pthread_join(ts[i], NULL))
			die("pthread_join");
	cp("threads_churn", NULL);
	return 0;
}

/* ---- thread_exec */

static void *thr_exec(void *arg)
{
	char *args[] = {"fdw_proc", "helper", NULL};

	(void)arg;
	execv(self_exe, args);
	die("execv from thread");
}

static int sc_thread_exec(void)
{
	struct exec_fds x;
	pid_t child;

	exec_setup(&x);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, thr_exec, NULL))
			die("pthread_create");
		for (;;)
			pause();
	}
	wait_stopped(child);
	cp("thread_exec", "pids=%d,%d child=%d keep=%d,%d,%d,%d gone=%d,%d,%d,%d", getpid(), child,
	   child, x.keep[0], x.keep[1], x.keep[2], x.keep[3], x.gone[0], x.gone[1], x.gone[2],
	   x.gone[3]);
	wait_stopped(child);
	cp("thread_exec_opened", "pids=%d,%d child=%d", getpid(), child, child);
	wait_exit0(child);
	return 0;
}

/* ---- clone_files */

static int cf_child(void *arg)
{
	(void)arg;
	sh->fd[1] = xopen(pb, O_RDONLY);
	stop_self();
	expect(sys_close(sh->fd[0]) == 0, "close shared fd");
	stop_self();
	if (unshare(CLONE_FILES) < 0)
		die("unshare(CLONE_FILES)");
	sh->fd[3] = xopen(pc, O_RDONLY | O_CLOEXEC);
	expect(sys_close(sh->fd[1]) == 0, "close after unshare");
	stop_self();
	_exit(0);
}

static int sc_clone_files(void)
{
	pid_t child;
	int e;

	sh->fd[0] = xopen(pa, O_RDONLY);
	child = spawn_clone(cf_child, CLONE_FILES);
	wait_stopped(child);
	sh->fd[2] = xopen(pc, O_RDONLY);
	expect(fd_is_open(sh->fd[1]), "fd opened by the CLONE_FILES child not visible");
	cp("clone_files", "pids=%d,%d child=%d shared=%d,%d,%d child_opened=%d parent_opened=%d",
	   getpid(), child, child, sh->fd[0], sh->fd[1], sh->fd[2], sh->fd[1], sh->fd[2]);
	wait_stopped(child);
	expect(!fd_is_open(sh->fd[0]), "fd closed by the CLONE_FILES child still open");
	cp("clone_files_close", "pids=%d,%d child=%d closed=%d", getpid(), child, child, sh->fd[0]);
	wait_stopped(child);
	e = xopen(pa, O_RDONLY);
	expect(fd_is_open(sh->fd[1]), "close after unshare reached the parent");
	cp("unshare", "pids=%d,%d child=%d child_only=%d parent_only=%d closed_in_child=%d", getpid(),
	   child, child, sh->fd[3], e, sh->fd[1]);
	wait_exit0(child);
	cp("unshare_child_exited", "gone=%d", child);
	return 0;
}

/* ---- close_range_unshare */

static int cru_child(void *arg)
{
	(void)arg;
	expect(sys_close_range(110, 112, CLOSE_RANGE_UNSHARE) == 0, "CLOSE_RANGE_UNSHARE");
	stop_self();
	_exit(0);
}

static int cru_child2(void *arg)
{
	(void)arg;
	expect(sys_close_range(113, 114, CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) == 0,
	       "CLOSE_RANGE_UNSHARE|CLOEXEC");
	stop_self();
	_exit(0);
}

static int sc_close_range_unshare(void)
{
	int a = xopen(pa, O_RDONLY), i;
	pid_t child;

	for (i = 110; i < 115; i++)
		expect(sys_dup2(a, i) == i, "dup2");
	child = spawn_clone(cru_child, CLONE_FILES);
	wait_stopped(child);
	cp("close_range_unshare", "pids=%d,%d child=%d closed_in_child=110,111,112", getpid(), child,
	   child);
	wait_exit0(child);
	child = spawn_clone(cru_child2, CLONE_FILES);
	wait_stopped(child);
	cp("close_range_unshare_cloexec", "pids=%d,%d child=%d cloexec_in_child=113,114", getpid(),
	   child, child);
	wait_exit0(child);
	return 0;
}

/* ---- last_user */

static int lu_child(void *arg)
{
	pid_t creator = (pid_t)(long)arg;

	while (getppid() == creator)
		usleep(1000);
	sh->fd[1] = xopen(pb, O_RDONLY);
	stop_self();
	_exit(0);
}

static int sc_last_user(void)
{
	pid_t a;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		die("PR_SET_CHILD_SUBREAPER");
	a = fork();
	if (a < 0)
		die("fork");
	if (a == 0) {
		size_t sz = 256 * 1024;
		char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (stack == MAP_FAILED)
			die("mmap");
		sh->fd[0] = xopen(pa, O_RDONLY);
		sh->pid = clone(lu_child, stack + sz, CLONE_FILES | SIGCHLD,
				(void *)(long)getpid());
		if (sh->pid < 0)
			die("clone");
		_exit(0);
	}
	wait_exit0(a);
	wait_stopped(sh->pid);
	cp("last_user", "pids=%d,%d child=%d creator=%d creator_opened=%d child_opened=%d", getpid(),
	   sh->pid, sh->pid, a, sh->fd[0], sh->fd[1]);
	wait_exit0(sh->pid);
	return 0;
}

/* ---- vfork, posix_spawn */

static int sc_vfork(void)
{
	int a = xopen(pa, O_RDONLY), b = xopen(pb, O_RDONLY | O_CLOEXEC);
	char *args[] = {"fdw_proc", "helper", NULL};
	posix_spawn_file_actions_t fa;
	pid_t child;
	int r;

	child = vfork();
	if (child < 0)
		die("vfork");
	if (child == 0) {
		execv(self_exe, args);
		_exit(127);
	}
	wait_stopped(child);
	cp("vfork", "pids=%d,%d child=%d keep=%d gone=%d", getpid(), child, child, a, b);
	wait_stopped(child);
	cp("vfork_helper_opened", "pids=%d,%d child=%d", getpid(), child, child);
	wait_exit0(child);

	if (posix_spawn_file_actions_init(&fa) ||
	    posix_spawn_file_actions_adddup2(&fa, a, 120) ||
	    posix_spawn_file_actions_addclose(&fa, a) ||
	    posix_spawn_file_actions_addopen(&fa, 121, pc, O_RDONLY, 0))
		die("posix_spawn_file_actions");
	r = posix_spawn(&child, self_exe, &fa, NULL, args, NULL);
	if (r) {
		errno = r;
		die("posix_spawn");
	}
	posix_spawn_file_actions_destroy(&fa);
	wait_stopped(child);
	cp("posix_spawn", "pids=%d,%d child=%d dup2=120 opened=121 closed=%d gone=%d", getpid(),
	   child, child, a, b);
	wait_stopped(child);
	cp("posix_spawn_helper_opened", "pids=%d,%d child=%d", getpid(), child, child);
	wait_exit0(child);
	return 0;
}

/* ---- pid_reuse */

static int sc_pid_reuse(void)
{
	pid_t c1, c2;
	int reused = 1;

	c1 = fork();
	if (c1 < 0)
		die("fork");
	if (c1 == 0) {
		int i;

		for (i = 0; i < 5; i++)
			(void)xopen(pa, O_RDONLY);
		(void)sys_dup2(3, 150);
		stop_self();
		_exit(0);
	}
	wait_stopped(c1);
	cp("reuse_before", "pids=%d,%d child=%d", getpid(), c1, c1);
	wait_exit0(c1);
	{
		pid_t tid = c1;
		struct clone_args ca = {
			.exit_signal = SIGCHLD,
			.set_tid = (unsigned long)&tid,
			.set_tid_size = 1,
		};

		c2 = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		if (c2 < 0) {
			fprintf(stderr, "%s: note: clone3(set_tid=%d): %s; using fork\n", fdwt_prog, c1,
				strerror(errno));
			reused = 0;
			c2 = fork();
		}
	}
	if (c2 < 0)
		die("fork");
	if (c2 == 0) {
		(void)xopen(pc, O_RDONLY | O_CLOEXEC);
		(void)xopen(pb, O_RDONLY);
		stop_self();
		_exit(0);
	}
	wait_stopped(c2);
	cp("reuse_after", "pids=%d,%d child=%d old=%d reused=%d", getpid(), c2, c2, c1,
	   reused && c2 == c1);
	wait_exit0(c2);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} sc[] = {
		{"fork", sc_fork},
		{"exec", sc_exec},
		{"exec_self", sc_exec_self},
		{"threads", sc_threads},
		{"thread_exec", sc_thread_exec},
		{"clone_files", sc_clone_files},
		{"close_range_unshare", sc_close_range_unshare},
		{"last_user", sc_last_user},
		{"vfork", sc_vfork},
		{"pid_reuse", sc_pid_reuse},
	};
	size_t i;
	int r;

	fdwt_init(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "helper") == 0)
		return helper(argc, argv);
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCENARIO\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		if (strcmp(argv[1], sc[i].name) == 0) {
			setup();
			r = sc[i].fn();
			rm_rf(dir);
			return r;
		}
	}
	fprintf(stderr, "%s: unknown scenario %s\n", argv[0], argv[1]);
	return 2;
}
