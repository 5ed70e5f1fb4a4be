// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * JSON rendering (server/render.c) field by field: events from the history,
 * fd tables built by the model from synthetic events over a fake /proc,
 * processes, status (from a stats snapshot). Then check/verify.c against a
 * real child process through the real /proc (our own child: no privileges
 * needed). No daemon: a model, a history and a pipeline without a capture
 * (server_fixture.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture/syscalls.h"
#include "check.h"
#include "detect/leaks.h"
#include "server/metrics.h"
#include "server/render.h"
#include "server/stats.h"
#include "server_fixture.h"

#define PID 100
#define FILES 0xffff888000001000ull
#define SEC 1000000000ull
#define EPOCH 1700000000ll /* fixed_realtime() below: CLOCK_MONOTONIC 0 is this */

/* ---- a fake kernel table (what /proc would show for every tid) ---------- */

struct fake_fd {
	bool open;
	bool cloexec;
	uint64_t ino;
	uint32_t mode;
	char target[64];
};

#define FAKE_MAX 64
static struct fake_fd fake[FAKE_MAX];

static void fake_set(int fd, const char *target, uint32_t mode, uint64_t ino, bool cloexec)
{
	fake[fd] = (struct fake_fd){ .open = true, .cloexec = cloexec, .ino = ino, .mode = mode };
	snprintf(fake[fd].target, sizeof(fake[fd].target), "%s", target);
}

static int fake_read_fd(void *u, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	if (fd < 0 || fd >= FAKE_MAX || !fake[fd].open)
		return -ENOENT;
	memset(out, 0, sizeof(*out)); /* kfile 0: not known, as from /proc */
	out->fd = fd;
	out->cloexec = fake[fd].cloexec;
	out->ino = fake[fd].ino;
	out->dev = 1;
	out->mode = fake[fd].mode;
	snprintf(out->target, sizeof(out->target), "%s", fake[fd].target);
	return 0;
}

static int fake_read_table(void *u, uint32_t tid,
			   void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_fd_info fi;

	for (int fd = 0; fd < FAKE_MAX; fd++)
		if (fake_read_fd(u, tid, fd, &fi) == 0)
			cb(cbdata, &fi);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct fx F;
static const struct fdw_server_deps *const D = &F.deps;
static uint64_t next_seq;

/* A fixed offset between the clocks, so "ts" values are exact. */
static double fixed_realtime(uint64_t mono_ns)
{
	return (double)((int64_t)mono_ns + EPOCH * (int64_t)SEC) / 1e9;
}

static struct fdw_event sys_event(uint16_t nr, int64_t ret, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct fdw_event ev = { 0 };

	ev.seq = ++next_seq;
	ev.ts = 10 * SEC + next_seq * SEC; /* whole seconds: exact doubles */
	ev.files = FILES;
	ev.pid = PID;
	ev.tid = PID;
	ev.type = FDW_REC_SYSCALL;
	ev.nr = nr;
	ev.ret = ret;
	ev.args[0] = a0;
	ev.args[1] = a1;
	ev.args[2] = a2;
	return ev;
}

static void install(struct fdw_event *ev, int fd0, int fd1, uint64_t ino, uint32_t mode)
{
	ev->nfds = fd1 >= 0 ? 2 : 1;
	ev->fds[0] = fd0;
	ev->fds[1] = fd1;
	ev->file = 0xffff888100000000ull + ino;
	ev->ino = ino;
	ev->dev = 1;
	ev->mode = mode;
}

/* Apply to the model and keep in the history; returns the rendered event. */
static json_t *apply(struct fdw_event *ev)
{
	const struct fdw_history_entry *e;

	fdw_model_apply(&F.model, ev);
	e = fdw_history_push(&F.history, ev, "cat");
	/* the end of a batch, as every query sees it: targets read */
	fdw_pipeline_drain(&F.pipeline);
	return fdw_render_event(D, e);
}

/* Render without touching the model. */
static json_t *render_only(const struct fdw_event *ev, const char *comm)
{
	return fdw_render_event(D, fdw_history_push(&F.history, ev, comm));
}

static json_t *get(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static long long ival(const json_t *o, const char *k)
{
	const json_t *v = get(o, k);

	return json_is_integer(v) ? json_integer_value(v) : -999999;
}

static const char *sval(const json_t *o, const char *k)
{
	return json_string_value(get(o, k));
}

static double rval(const json_t *o, const char *k)
{
	return json_number_value(get(o, k));
}

/* The JSON must always serialize (valid UTF-8 everywhere). */
static void check_dumps(const json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_ENCODE_ANY);

	CHECK(s != NULL);
	free(s);
}

/* ---- events --------------------------------------------------------------- */

static void test_events(void)
{
	struct fdw_event ev;
	json_t *o, *fds;

	/* dup2 by name, signed fds, success without errno */
	ev = sys_event(FDW_SYS_DUP2, 10, 3, 10, 0);
	o = render_only(&ev, "cat");
	CHECK_STR(sval(o, "syscall"), "dup2");
	CHECK_EQ(ival(o, "oldfd"), 3);
	CHECK_EQ(ival(o, "newfd"), 10);
	CHECK_EQ(ival(o, "ret"), 10);
	CHECK(!get(o, "errno"));
	CHECK_EQ(ival(o, "pid"), PID);
	CHECK_EQ(ival(o, "tid"), PID);
	CHECK_EQ(ival(o, "seq"), (long long)ev.seq);
	CHECK_STR(sval(o, "comm"), "cat");
	CHECK(rval(o, "ts") == (double)(EPOCH + 10 + (long long)ev.seq));
	CHECK(!get(o, "fds"));
	CHECK(!get(o, "flags")); /* dup2 has no third argument */
	check_dumps(o);
	json_decref(o);

	/* a failure: negative ret and the errno name; fd -1 stays -1 */
	ev = sys_event(FDW_SYS_DUP2, -EBADF, (uint64_t)-1, 10, 0);
	o = render_only(&ev, "cat");
	CHECK_EQ(ival(o, "oldfd"), -1);
	CHECK_EQ(ival(o, "ret"), -EBADF);
	CHECK_STR(sval(o, "errno"), "EBADF");
	json_decref(o);

	/* a 64-bit register with garbage above an int fd: the int the kernel uses */
	ev = sys_event(FDW_SYS_CLOSE, -EMFILE, 0xdeadbeef00000007ull, 0, 0);
	o = render_only(&ev, "cat");
	CHECK_EQ(ival(o, "fd"), 7);
	CHECK_STR(sval(o, "errno"), "EMFILE");
	json_decref(o);

	/* kernel-internal restart codes seen at sys_exit */
	ev = sys_event(FDW_SYS_ACCEPT4, -512, 3, 0x7ffc0000, 0x7ffc0010);
	ev.args[3] = O_CLOEXEC;
	o = render_only(&ev, "srv");
	CHECK_STR(sval(o, "errno"), "ERESTARTSYS");
	CHECK_EQ(ival(o, "fd"), 3);
	CHECK(!get(o, "addr"));	   /* pointers are not rendered */
	CHECK(!get(o, "addrlen"));
	CHECK_EQ(ival(o, "flags"), O_CLOEXEC);
	CHECK_STR(sval(o, "comm"), "srv");
	json_decref(o);

	/* openat: dirfd signed, path from the capture, flags unsigned */
	ev = sys_event(FDW_SYS_OPENAT, 3, (uint64_t)(int64_t)AT_FDCWD, 0x7ffc1000, O_RDONLY | O_CLOEXEC);
	ev.args[3] = 0644;
	ev.path = "/etc/passwd";
	o = render_only(&ev, "cat");
	CHECK_EQ(ival(o, "dirfd"), AT_FDCWD);
	CHECK_STR(sval(o, "path"), "/etc/passwd");
	CHECK_EQ(ival(o, "flags"), O_CLOEXEC);
	CHECK_EQ(ival(o, "mode"), 0644);
	json_decref(o);

	/* a path that is not UTF-8 still renders (escaped) and serializes */
	ev.path = "/tmp/caf\xe9\xff";
	o = render_only(&ev, "caf\xc3\xa9");
	CHECK_STR(sval(o, "path"), "/tmp/caf\\xe9\\xff");
	CHECK_STR(sval(o, "comm"), "caf\xc3\xa9");
	check_dumps(o);
	json_decref(o);

	/* without a captured path there is no path field */
	ev.path = NULL;
	o = render_only(&ev, "cat");
	CHECK(!get(o, "path"));
	json_decref(o);

	/* pipe2: the installed fds, not the pointer */
	ev = sys_event(FDW_SYS_PIPE2, 0, 0x7ffc2000, O_CLOEXEC, 0);
	install(&ev, 4, 5, 77, S_IFIFO);
	o = render_only(&ev, "cat");
	fds = get(o, "fds");
	CHECK_EQ(json_array_size(fds), 2);
	CHECK_EQ(json_integer_value(json_array_get(fds, 0)), 4);
	CHECK_EQ(json_integer_value(json_array_get(fds, 1)), 5);
	CHECK(!get(o, "pipefd"));
	CHECK(!get(o, "truncated"));
	json_decref(o);

	/* fcntl: cmd by number and by name */
	ev = sys_event(FDW_SYS_FCNTL, 20, 3, F_DUPFD_CLOEXEC, 20);
	o = render_only(&ev, "cat");
	CHECK_EQ(ival(o, "cmd"), F_DUPFD_CLOEXEC);
	CHECK_STR(sval(o, "cmd_name"), "F_DUPFD_CLOEXEC");
	CHECK_EQ(ival(o, "arg"), 20);
	json_decref(o);
	ev = sys_event(FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	o = render_only(&ev, "cat");
	CHECK_STR(sval(o, "cmd_name"), "F_SETFD");
	json_decref(o);
	ev = sys_event(FDW_SYS_FCNTL, 0, 3, F_DUPFD, 0);
	o = render_only(&ev, "cat");
	CHECK_STR(sval(o, "cmd_name"), "F_DUPFD");
	json_decref(o);

	/* an unsigned argument beyond JSON's integers stays exact, as a string */
	ev = sys_event(FDW_SYS_UNSHARE, -EINVAL, UINT64_MAX, 0, 0);
	o = render_only(&ev, "cat");
	CHECK_STR(sval(o, "flags"), "18446744073709551615");
	json_decref(o);

	/* process events */
	ev = (struct fdw_event){ .seq = ++next_seq, .ts = 20 * SEC, .pid = PID, .tid = PID,
				 .type = FDW_REC_FORK, .child_pid = 200, .child_tid = 200,
				 .flags = FDW_F_SHARED_FILES };
	o = render_only(&ev, "cat");
	CHECK_STR(sval(o, "syscall"), "fork");
	CHECK_EQ(ival(o, "child_pid"), 200);
	CHECK_EQ(ival(o, "child_tid"), 200);
	CHECK(json_is_false(get(o, "thread")));
	CHECK(json_is_true(get(o, "shared_files")));
	CHECK(!get(o, "ret"));
	json_decref(o);

	ev = (struct fdw_event){ .seq = ++next_seq, .ts = 21 * SEC, .pid = PID, .tid = PID,
				 .type = FDW_REC_EXEC, .child_pid = 101 };
	memcpy(ev.comm, "ls", 3);
	o = render_only(&ev, "cat");
	CHECK_STR(sval(o, "syscall"), "exec");
	CHECK_STR(sval(o, "comm"), "ls"); /* the new program */
	CHECK_EQ(ival(o, "old_tid"), 101);
	json_decref(o);

	ev = (struct fdw_event){ .seq = ++next_seq, .ts = 22 * SEC, .pid = PID, .tid = PID,
				 .type = FDW_REC_EXIT, .exit_code = 256, .flags = FDW_F_GROUP_DEAD };
	o = render_only(&ev, "ls");
	CHECK_STR(sval(o, "syscall"), "exit");
	CHECK_EQ(ival(o, "exit_code"), 256);
	CHECK(json_is_true(get(o, "group_dead")));
	json_decref(o);

	/* io_uring */
	ev = sys_event(0, 9, 0, 0, 0);
	ev.type = FDW_REC_URING;
	ev.aux = 18;
	o = render_only(&ev, "uring");
	CHECK_STR(sval(o, "syscall"), "io_uring");
	CHECK_EQ(ival(o, "opcode"), 18);
	CHECK_STR(sval(o, "opcode_name"), "openat");
	CHECK_EQ(ival(o, "ret"), 9);
	json_decref(o);
}

/* ---- tables ----------------------------------------------------------------- */

static const json_t *fd_obj(const json_t *table, int fd)
{
	const json_t *fds = get(table, "fds");

	for (size_t i = 0; i < json_array_size(fds); i++)
		if (ival(json_array_get(fds, i), "fd") == fd)
			return json_array_get(fds, i);
	return NULL;
}

static void test_tables(void)
{
	uint32_t tid = PID;
	struct fdw_event ev;
	struct fdw_proc *p;
	const struct fdw_table *t;
	const json_t *f, *og, *h;
	json_t *o, *tab, *procs, *hist;
	long long prev = -1;
	bool sorted = true;

	/* a process found by the /proc scan: 0, 1, 2 on a terminal */
	for (int fd = 0; fd < 3; fd++)
		fake_set(fd, "/dev/pts/0", S_IFCHR | 0620, 3, false);
	CHECK_EQ(fdw_model_add_scanned(&F.model, PID, 1, "cat", &tid, 1, 5 * SEC), 0);

	/* then events (the fake kernel changes with them) */
	fake_set(3, "/etc/passwd", S_IFREG | 0644, 11, true);
	ev = sys_event(FDW_SYS_OPENAT, 3, (uint64_t)(int64_t)AT_FDCWD, 0, O_RDONLY | O_CLOEXEC);
	ev.path = "/etc/passwd";
	install(&ev, 3, -1, 11, S_IFREG | 0644);
	json_decref(apply(&ev));

	fake[10] = fake[3];
	fake[10].cloexec = false;
	ev = sys_event(FDW_SYS_DUP2, 10, 3, 10, 0);
	o = apply(&ev);
	CHECK_STR(sval(o, "syscall"), "dup2");
	CHECK_EQ(ival(o, "oldfd"), 3);
	CHECK_EQ(ival(o, "newfd"), 10);
	json_decref(o);

	fake[10].open = false;
	ev = sys_event(FDW_SYS_CLOSE, 0, 10, 0, 0);
	json_decref(apply(&ev)); /* generation 1 closed by close */

	fake[10] = fake[3];
	fake[10].cloexec = false;
	ev = sys_event(FDW_SYS_DUP2, 10, 3, 10, 0);
	json_decref(apply(&ev)); /* generation 2 */

	fake_set(4, "pipe:[77]", S_IFIFO | 0600, 77, true);
	fake_set(5, "pipe:[77]", S_IFIFO | 0600, 77, true);
	ev = sys_event(FDW_SYS_PIPE2, 0, 0, O_CLOEXEC, 0);
	install(&ev, 4, 5, 77, S_IFIFO | 0600);
	json_decref(apply(&ev));

	/* anon inodes and sockets with no S_IFMT bits: typed by their target */
	fake_set(6, "anon_inode:[eventfd]", 0600, 6, false);
	ev = sys_event(FDW_SYS_EVENTFD2, 6, 0, 0, 0);
	install(&ev, 6, -1, 6, 0600);
	json_decref(apply(&ev));
	fake_set(7, "socket:[88]", 0, 88, false);
	ev = sys_event(FDW_SYS_SOCKET, 7, 1, 1, 0);
	install(&ev, 7, -1, 88, 0);
	json_decref(apply(&ev));

	/* generation 2 of fd 10 replaced by dup2(4, 10): generation 3 */
	fake[10] = fake[4];
	fake[10].cloexec = false;
	ev = sys_event(FDW_SYS_DUP2, 10, 4, 10, 0);
	json_decref(apply(&ev));

	/* a failed dup changes nothing */
	ev = sys_event(FDW_SYS_DUP, -EMFILE, 3, 0, 0);
	o = apply(&ev);
	CHECK_STR(sval(o, "errno"), "EMFILE");
	json_decref(o);

	p = fdw_model_proc(&F.model, PID);
	CHECK(p != NULL);
	if (!p)
		return;
	tab = fdw_render_table(D, p);
	CHECK(tab != NULL);
	if (!tab)
		return;
	check_dumps(tab);
	CHECK_EQ(ival(tab, "pid"), PID);
	CHECK_STR(sval(tab, "comm"), "cat");
	CHECK(json_is_false(get(tab, "stale")));
	t = fdw_model_proc_table(&F.model, p);
	CHECK_EQ(ival(tab, "table"), (long long)t->id);
	CHECK_EQ(json_array_size(get(tab, "fds")), 9); /* 0-7 and 10 */
	for (size_t i = 0; i < json_array_size(get(tab, "fds")); i++) {
		long long fd = ival(json_array_get(get(tab, "fds"), i), "fd");

		sorted &= fd > prev;
		prev = fd;
	}
	CHECK(sorted);

	/* from the scan */
	f = fd_obj(tab, 0);
	CHECK_STR(sval(f, "target"), "/dev/pts/0");
	CHECK_STR(sval(f, "type"), "chr");
	CHECK(json_is_false(get(f, "cloexec")));
	CHECK_EQ(ival(f, "generation"), 1);
	og = get(f, "origin");
	CHECK_STR(sval(og, "source"), "procfs");
	CHECK(json_is_null(get(og, "syscall")));
	CHECK(json_is_null(get(og, "tid")));
	CHECK(json_is_null(get(og, "from_fd")));

	/* from openat */
	f = fd_obj(tab, 3);
	CHECK_STR(sval(f, "target"), "/etc/passwd");
	CHECK_STR(sval(f, "type"), "reg");
	CHECK(json_is_true(get(f, "cloexec")));
	og = get(f, "origin");
	CHECK_STR(sval(og, "syscall"), "openat");
	CHECK_STR(sval(og, "source"), "event");
	CHECK_EQ(ival(og, "tid"), PID);
	CHECK(json_is_null(get(og, "from_fd")));
	CHECK(json_is_real(get(og, "ts")));

	f = fd_obj(tab, 4);
	CHECK_STR(sval(f, "type"), "fifo");
	CHECK_STR(sval(f, "target"), "pipe:[77]");
	CHECK(json_is_true(get(f, "cloexec")));
	/* a pipe's two ends are two open file descriptions */
	CHECK(ival(f, "ofd") != ival(fd_obj(tab, 5), "ofd"));
	CHECK_STR(sval(fd_obj(tab, 6), "type"), "anon");
	CHECK_STR(sval(fd_obj(tab, 7), "type"), "sock");

	/* fd 10: third generation, a dup of 4 */
	f = fd_obj(tab, 10);
	CHECK_EQ(ival(f, "generation"), 3);
	CHECK_STR(sval(f, "target"), "pipe:[77]");
	CHECK(json_is_false(get(f, "cloexec")));
	CHECK_EQ(ival(f, "ofd"), ival(fd_obj(tab, 4), "ofd")); /* one open file description */
	og = get(f, "origin");
	CHECK_STR(sval(og, "syscall"), "dup2");
	CHECK_EQ(ival(og, "from_fd"), 4);
	CHECK(!get(f, "history")); /* the table view has none */
	json_decref(tab);

	/* one fd with its history, newest first (as GET /v1/processes/PID/fds/FD
	 * adds it, routes.c) */
	t = fdw_model_proc_table(&F.model, p);
	o = fdw_render_fd(D, t, 10, fdw_table_slot(t, 10), false);
	CHECK(!get(o, "history")); /* fdw_render_fd renders none itself */
	hist = fdw_render_slot_history(D, fdw_table_slot(t, 10), NULL, NULL);
	CHECK(o && hist && json_object_set_new(o, "history", hist) == 0);
	h = get(o, "history");
	CHECK_EQ(json_array_size(h), 2);
	CHECK_EQ(ival(json_array_get(h, 0), "generation"), 2);
	CHECK_EQ(ival(json_array_get(h, 1), "generation"), 1);
	CHECK_STR(sval(json_array_get(h, 0), "target"), "/etc/passwd");
	CHECK_STR(sval(get(json_array_get(h, 0), "origin"), "syscall"), "dup2");
	CHECK_EQ(ival(get(json_array_get(h, 0), "origin"), "from_fd"), 3);
	CHECK_STR(sval(get(json_array_get(h, 0), "closed"), "syscall"), "dup2"); /* clobbered */
	CHECK_STR(sval(get(json_array_get(h, 1), "closed"), "syscall"), "close");
	CHECK(rval(get(json_array_get(h, 1), "closed"), "ts") <
	      rval(get(json_array_get(h, 0), "closed"), "ts"));
	check_dumps(o);
	json_decref(o);
	/* its origin hidden (a client that may not see it): all null but the
	 * source; the rest as it is */
	o = fdw_render_fd(D, t, 10, fdw_table_slot(t, 10), true);
	og = get(o, "origin");
	CHECK_STR(sval(og, "source"), "hidden");
	CHECK(json_is_null(get(og, "syscall")) && json_is_null(get(og, "tid")) &&
	      json_is_null(get(og, "pid")) && json_is_null(get(og, "comm")) &&
	      json_is_null(get(og, "ts")) && json_is_null(get(og, "from_fd")));
	CHECK_STR(sval(o, "target"), "pipe:[77]");
	json_decref(o);

	/* a closed slot renders without a target; its history is still there */
	fake[10].open = false;
	ev = sys_event(FDW_SYS_CLOSE, 0, 10, 0, 0);
	json_decref(apply(&ev));
	o = fdw_render_slot_history(D, fdw_table_slot(t, 10), NULL, NULL);
	CHECK_EQ(json_array_size(o), 3);
	json_decref(o);
	o = fdw_render_fd(D, t, 10, fdw_table_slot(t, 10), false);
	CHECK(json_is_null(get(o, "target")));
	CHECK(json_is_null(get(o, "ofd")));
	json_decref(o);
	o = fdw_render_fd(D, t, 40, NULL, false); /* never used */
	CHECK_EQ(ival(o, "generation"), 0);
	json_decref(o);
	o = fdw_render_slot_history(D, NULL, NULL, NULL);
	CHECK(json_is_array(o));
	CHECK_EQ(json_array_size(o), 0);
	json_decref(o);

	/* processes, sorted by pid */
	tid = 300;
	CHECK_EQ(fdw_model_add_scanned(&F.model, 300, 1, "zz", &tid, 1, 5 * SEC), 0);
	tid = 200;
	CHECK_EQ(fdw_model_add_scanned(&F.model, 200, 1, "yy", &tid, 1, 5 * SEC), 0);
	procs = fdw_render_processes(D, NULL, NULL);
	o = get(procs, "processes");
	CHECK_EQ(json_array_size(o), 3);
	CHECK_EQ(ival(json_array_get(o, 0), "pid"), 100);
	CHECK_EQ(ival(json_array_get(o, 1), "pid"), 200);
	CHECK_EQ(ival(json_array_get(o, 2), "pid"), 300);
	CHECK_EQ(ival(json_array_get(o, 0), "fds"), 8);
	CHECK_STR(sval(json_array_get(o, 2), "comm"), "zz");
	CHECK_EQ(ival(json_array_get(o, 0), "threads"), 1);
	CHECK(ival(json_array_get(o, 0), "table") != ival(json_array_get(o, 1), "table"));
	/* no detector state here: the trend is unknown, not 0 */
	CHECK(json_is_null(get(json_array_get(o, 0), "limit_soft")));
	CHECK(json_is_null(get(json_array_get(o, 0), "growth_per_min")));
	json_decref(procs);

	/* a stale table says so */
	p = fdw_model_proc(&F.model, 200);
	fdw_model_proc_table(&F.model, p)->stale = true;
	tab = fdw_render_table(D, p);
	CHECK(json_is_true(get(tab, "stale")));
	CHECK(get(tab, "stale_error") == NULL); /* lost records: no read failed */
	json_decref(tab);
	/* ... and why, when a re-read failed: in the table, and in the list */
	fdw_model_proc_table(&F.model, p)->read_err = EACCES;
	tab = fdw_render_table(D, p);
	CHECK_STR(sval(tab, "stale_error"), "EACCES");
	json_decref(tab);
	tab = fdw_render_table_head(D, p);
	CHECK_STR(sval(tab, "stale_error"), "EACCES");
	json_decref(tab);
	procs = fdw_render_processes(D, NULL, NULL);
	CHECK_STR(sval(json_array_get(get(procs, "processes"), 1), "stale_error"), "EACCES");
	CHECK(get(json_array_get(get(procs, "processes"), 0), "stale_error") == NULL);
	json_decref(procs);
	fdw_model_proc_table(&F.model, p)->read_err = 0;
}

static void test_status(void)
{
	struct fdw_stats st;
	json_t *o;

	CHECK_EQ(fdw_stats_collect(D, &F.opts, NULL, &st), 0);
	o = fdw_render_status(&st);
	fdw_stats_release(&st);
	const char *keys[] = { "version", "abi", "pid", "uptime_s", "events_received",
			       "events_lost", "events_lost_per_cpu", "events_dropped_decode",
			       "processes", "tables", "fds", "stale_tables", "resyncs",
			       "resync_fds_failed", "audit", "history", "limits", "dropped",
			       "ring_backlog_bytes", "drains_partial", "loss", "fd_history",
			       "given_up", "fd_names" };

	CHECK(o != NULL);
	for (size_t i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!get(o, keys[i])) {
			fprintf(stderr, "status lacks %s\n", keys[i]);
			CHECK(get(o, keys[i]) != NULL);
		}
	CHECK_EQ(ival(o, "abi"), FDW_ABI_VERSION);
	CHECK_EQ(ival(o, "pid"), getpid());
	CHECK_EQ(ival(o, "processes"), 3);
	CHECK_EQ(ival(o, "tables"), 3);
	CHECK_EQ(ival(o, "stale_tables"), 1);
	CHECK_EQ(ival(o, "events_lost"), 0);
	CHECK_EQ(json_array_size(get(o, "events_lost_per_cpu")), 0);
	CHECK_EQ(ival(get(o, "history"), "capacity"), 64);
	CHECK_EQ(ival(get(o, "history"), "size"), (long long)F.history.len);
	CHECK_EQ(ival(get(o, "limits"), "max_clients"), 7);
	CHECK_EQ(ival(get(o, "dropped"), "clients"), 0);
	CHECK_EQ(ival(get(o, "dropped"), "followers"), 0);
	CHECK_EQ(ival(get(o, "audit"), "runs"), 0);
	/* the slot histories: the model's figures and bounds */
	CHECK_EQ(ival(get(o, "fd_history"), "slots"), (long long)F.model.stats.history_entries);
	CHECK_EQ(ival(get(o, "fd_history"), "max_slots"), (long long)F.model.max_history);
	CHECK_EQ(ival(get(o, "fd_history"), "bytes"), (long long)F.model.stats.history_bytes);
	CHECK_EQ(ival(get(o, "fd_history"), "max_bytes"), 64 << 20);
	CHECK_EQ(ival(get(o, "fd_history"), "evicted"), 0);
	CHECK_EQ(ival(get(o, "fd_history"), "refused"), 0);
	/* the pipe and socketpair ends given up (exec-leak's hand-over) */
	CHECK_EQ(ival(get(o, "given_up"), "tables"), (long long)F.model.stats.given_up_tables);
	CHECK_EQ(ival(get(o, "given_up"), "evicted"), (long long)F.model.stats.given_up_evicted);
	/* the names, each once (the placeholder of a name not kept is one) */
	CHECK_EQ(ival(get(o, "fd_names"), "names"), (long long)F.model.strings.len);
	CHECK(ival(get(o, "fd_names"), "names") >= 1);
	CHECK_EQ(ival(get(o, "fd_names"), "bytes"), (long long)F.model.strings.bytes);
	CHECK_EQ(ival(get(o, "fd_names"), "max_bytes"), 256 << 20);
	CHECK_EQ(ival(get(o, "fd_names"), "refused"), 0);
	check_dumps(o);
	json_decref(o);

	o = fdw_render_error("no such process: %d", 42);
	CHECK_STR(sval(o, "error"), "no such process: 42");
	json_decref(o);
}

static void test_bytes(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "" },
		{ "plain", "plain" },
		{ "\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9" },		  /* été */
		{ "\xf0\x9f\x90\xa7", "\xf0\x9f\x90\xa7" },		  /* 4 bytes */
		{ "a\xc3", "a\\xc3" },					  /* cut short */
		{ "\xc0\xaf", "\\xc0\\xaf" },				  /* overlong */
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },			  /* surrogate */
		{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" },		  /* > U+10FFFF */
		{ "x\xe2\x82", "x\\xe2\\x82" },				  /* truncated 3 */
	};
	json_t *j;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = fdw_json_bytes(cases[i].in);
		CHECK_STR(json_string_value(j), cases[i].out);
		check_dumps(j);
		json_decref(j);
	}
	j = fdw_json_bytes(NULL);
	CHECK(json_is_null(j));
	json_decref(j);
}

/* ---- the stream writers: the same bytes as the jansson tree dumped -------- */

#define DUMPS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(FDW_RENDER_REAL_PRECISION))

struct mem {
	FILE *f;
	char *buf;
	size_t len;
};

static FILE *mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	CHECK(m->f != NULL);
	return m->f;
}

/* What was written to m equals json_dumps(o) (o stolen). */
static void check_same(struct mem *m, json_t *o, const char *what)
{
	char *want = o ? json_dumps(o, DUMPS) : NULL;

	CHECK(fclose(m->f) == 0);
	CHECK(want != NULL);
	if (want && strcmp(want, m->buf)) {
		fprintf(stderr, "%s:\n  tree:   %s\n  writer: %s\n", what, want, m->buf);
		CHECK(!"writer differs from the dumped tree");
	}
	free(want);
	free(m->buf);
	json_decref(o);
}

/* The leak detector's view of the system, for test_put's trend case. */
static int put_limit(void *u, uint32_t pid, uint64_t *soft, uint64_t *hard)
{
	(void)u;
	(void)pid;
	*soft = 1024;
	*hard = 4096;
	return 0;
}

static int put_start(void *u, uint32_t pid, uint64_t *ticks)
{
	(void)u;
	*ticks = pid;
	return 0;
}

static int put_unit(void *u, uint32_t pid, char *buf, size_t len)
{
	(void)u;
	(void)pid;
	snprintf(buf, len, "%s", "");
	return 0;
}

/* The model's observer for the detector (it outlives the detector). */
static struct fdw_leaks *trend_leaks;

static void trend_fd(void *u, struct fdw_proc *p, const struct fdw_event *ev,
		     enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *s)
{
	(void)u;
	if (trend_leaks)
		fdw_leaks_on_fd_event(trend_leaks, p, ev, kind, fd, s);
}

static void trend_exit(void *u, struct fdw_proc *p)
{
	(void)u;
	if (trend_leaks)
		fdw_leaks_on_proc_exit(trend_leaks, p);
}

/* Leak detectors on F's model, told of its fd events and exits through an
 * observer of their own (named `name`: an observer is silenced with the
 * detectors it served), and the server's (F.deps.leaks). NULL on failure. */
static struct fdw_leaks *trend_leaks_new(const char *name)
{
	static const struct fdw_leak_ops ops = {
		.read_limit = put_limit,
		.read_start = put_start,
		.read_unit = put_unit,
	};
	struct fdw_leaks *l = NULL;
	int obs;

	CHECK_EQ(fdw_leaks_new(&l, NULL, &(struct fdw_leaks_deps){
				.model = &F.model, .alerts = &F.alerts, .ops = &ops }), 0);
	if (!l)
		return NULL;
	trend_leaks = l;
	obs = fdw_model_add_observer(&F.model, &(struct fdw_model_observer){
		.name = name, .on_fd_event = trend_fd, .on_proc_exit = trend_exit });
	CHECK(obs >= 0);
	fdw_leaks_set_observer_index(l, obs);
	F.deps.leaks = l;
	return l;
}

static void trend_leaks_free(struct fdw_leaks *l)
{
	F.deps.leaks = NULL;
	fdw_leaks_free(l);
	trend_leaks = NULL;
}

/* Every process written with a leak detector behind it (limit_soft and
 * growth_per_min from its trend, null without one); `PID`'s table grows
 * an fd a second, so its trend has a limit and a slope. */
static void test_put_trend(void)
{
	struct fdw_leaks *l = trend_leaks_new("leaks");
	struct fdw_event ev;
	struct mem m;
	bool seen = false;
	size_t it = 0;
	void *v;

	if (!l)
		return;
	for (int s = 1; s <= 6; s++) {
		ev = sys_event(FDW_SYS_DUP, 100 + s, 0, 0, 0);
		json_decref(apply(&ev));
		fdw_leaks_tick(l, (uint64_t)s * SEC, 1.7e9 + s);
	}
	while (fdw_hashmap_next(&F.model.procs, &it, NULL, &v)) {
		struct fdw_proc *p = v;

		fdw_render_process_put(mem_open(&m), D, p);
		if (p->pid == PID) {
			CHECK(fflush(m.f) == 0);
			seen = strstr(m.buf, "\"limit_soft\":1024,") &&
			       !strstr(m.buf, "\"growth_per_min\":null");
		}
		check_same(&m, fdw_render_process(D, p), "process with a trend");
	}
	CHECK(seen);
	trend_leaks_free(l);
}

/*
 * An idle fork child keeps sharing its parent's slots while the daemon
 * only counts them: the 1 s sampling of every process, the process list
 * (tree and streamed), status and a metrics scrape. Its fds answer makes
 * its own view (inherited fds), which the counts then agree with.
 */
static void test_idle_child_shares(void)
{
	struct fdw_leaks *l = trend_leaks_new("leaks2");
	struct fdw_proc *child;
	struct fdw_table *ct;
	struct fdw_stats st;
	struct fdw_event ev;
	uint64_t copies;
	char *text = NULL;
	size_t len = 0;
	json_t *o;
	struct mem m;

	if (!l)
		return;
	ev = (struct fdw_event){ .seq = ++next_seq, .ts = 30 * SEC, .pid = PID, .tid = PID,
				 .type = FDW_REC_FORK, .child_pid = 600, .child_tid = 600,
				 .child_files = 0xffff888000660000ull };
	json_decref(apply(&ev));
	child = fdw_model_proc(&F.model, 600);
	CHECK(child != NULL);
	if (!child)
		goto out;
	ct = fdw_model_proc_table_peek(&F.model, child);
	CHECK(ct && ct->borrowed && ct->nopen > 0);
	copies = F.model.stats.table_copies;
	for (int s = 1; s <= 3; s++)
		fdw_leaks_tick(l, (uint64_t)(30 + s) * SEC, 1.7e9 + 30 + s);
	json_decref(fdw_render_processes(D, NULL, NULL));
	fdw_render_process_put(mem_open(&m), D, child);
	check_same(&m, fdw_render_process(D, child), "a borrowing child");
	CHECK_EQ(fdw_stats_collect(D, &F.opts, NULL, &st), 0);
	CHECK_EQ(fdw_metrics_render(D, &st, 5, NULL, NULL, &text, &len), 0);
	fdw_stats_release(&st);
	free(text);
	CHECK(ct->borrowed);
	CHECK_EQ(F.model.stats.table_copies, copies);
	/* its fds: its own view now, every fd inherited */
	o = fdw_render_table(D, child);
	CHECK(!ct->borrowed);
	CHECK(o && json_array_size(get(o, "fds")) == ct->nopen);
	for (size_t i = 0; o && i < json_array_size(get(o, "fds")); i++)
		CHECK_STR(sval(get(json_array_get(get(o, "fds"), i), "origin"), "source"), "inherit");
	json_decref(o);
	ev = (struct fdw_event){ .seq = ++next_seq, .ts = 34 * SEC, .pid = 600, .tid = 600,
				 .type = FDW_REC_EXIT, .flags = FDW_F_GROUP_DEAD };
	json_decref(apply(&ev));
out:
	trend_leaks_free(l);
}

static void test_put(void)
{
	static const char *const bytes[] = {
		"", "plain", "\xc3\xa9t\xc3\xa9", "\xf0\x9f\x90\xa7", "a\xc3", "\xc0\xaf",
		"\xed\xa0\x80", "\xf4\x90\x80\x80", "x\xe2\x82", "q\"uo\\te/",
		"\x01\x02\x1f\x7f", "\b\f\n\r\t", "pipe:[77]", "\xff\"\xfe\\",
	};
	static const double reals[] = {
		0.0, -0.0, 0.1, 1.5, -2.25, 100.0, 1e-5, 1.25e-7, 1e15, 1e16, 1e17, 1e22,
		123456789012345678.0, 1700000011.0, 1700000011.5, 1795000000.123456,
		1795000000.1234567, 1e300, -1e-300, 5e-324, 2.5e-310,
	};
	struct mem m;
	uint32_t tid = 400;
	struct fdw_proc *p;
	const struct fdw_table *t;
	size_t it = 0;
	void *v;

	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		fdw_json_put_bytes(mem_open(&m), bytes[i]);
		check_same(&m, fdw_json_bytes(bytes[i]), bytes[i]);
	}
	fdw_json_put_bytes(mem_open(&m), NULL);
	check_same(&m, json_null(), "NULL bytes");
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
		fdw_json_put_real(mem_open(&m), reals[i], FDW_RENDER_REAL_PRECISION);
		check_same(&m, json_real(reals[i]), "real");
	}
	/* Unix times (a path of their own): ties to even, whole seconds, the
	 * ends of the range, and values spread over it */
	{
		static const double epochs[] = {
			1795000000.0078125, 1795000000.0234375, 1795000000.0, 1073741824.0,
			2147483647.9999998, 2147483647.9999995, 1073741823.9999999,
			2147483648.0, 1700000000.5, 1795000000.000001,
		};
		uint64_t x = 88172645463325252ull;

		for (size_t i = 0; i < sizeof(epochs) / sizeof(epochs[0]); i++) {
			fdw_json_put_real(mem_open(&m), epochs[i], FDW_RENDER_REAL_PRECISION);
			check_same(&m, json_real(epochs[i]), "epoch");
		}
		for (int i = 0; i < 20000; i++) {
			double e;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
			/* M * 2^-22 with M in [2^52, 2^53): every double of the range */
			e = (double)((x >> 11) | (1ull << 52)) / 4194304.0;
			fdw_json_put_real(mem_open(&m), e, FDW_RENDER_REAL_PRECISION);
			check_same(&m, json_real(e), "epoch");
		}
	}
	fdw_json_put_int(mem_open(&m), INT64_MIN);
	check_same(&m, json_integer(INT64_MIN), "INT64_MIN");
	fdw_json_put_int(mem_open(&m), -1);
	check_same(&m, json_integer(-1), "-1");
	fdw_json_put_u64(mem_open(&m), (uint64_t)INT64_MAX);
	check_same(&m, json_integer(INT64_MAX), "INT64_MAX");
	fdw_json_put_u64(mem_open(&m), UINT64_MAX);
	check_same(&m, json_string("18446744073709551615"), "UINT64_MAX");

	/* a process with odd names and a comm of 16 bytes without a NUL */
	fake_set(8, "/tmp/a \"b\"\\c\x01\xff\xc3\xa9", S_IFREG | 0644, 99, true);
	fake_set(9, "anon_inode:[eventfd]", 0600, 98, false);
	CHECK_EQ(fdw_model_add_scanned(&F.model, 400, 1, "sixteen-bytes-xx", &tid, 1, 5 * SEC),
		 0);
	p = fdw_model_proc(&F.model, 400);
	CHECK(p != NULL);
	if (p)
		memcpy(p->comm, "sixteen-bytes-xx", 16);
	/* a stale table (test_tables) whose re-read /proc refused */
	p = fdw_model_proc(&F.model, 200);
	CHECK(p && fdw_model_proc_table(&F.model, p)->stale);
	if (p)
		fdw_model_proc_table(&F.model, p)->read_err = EACCES;
	/* every fd and slot of every process, open, closed and never used */
	while (fdw_hashmap_next(&F.model.procs, &it, NULL, &v)) {
		p = v;
		t = fdw_model_proc_table(&F.model, p);
		fdw_render_process_put(mem_open(&m), D, p);
		check_same(&m, fdw_render_process(D, p), "process");
		for (int fd = 0; t && fd < (int)t->nslots + 2; fd++) {
			const struct fdw_slot *s = fdw_table_slot(t, fd);

			fdw_render_fd_put(mem_open(&m), D, t, fd, s, false);
			check_same(&m, fdw_render_fd(D, t, fd, s, false), "fd");
			fdw_render_fd_put(mem_open(&m), D, t, fd, s, true);
			check_same(&m, fdw_render_fd(D, t, fd, s, true), "fd, origin hidden");
		}
	}
}

int main(void)
{
	struct fdw_model_ops ops = {
		.read_fd = fake_read_fd,
		.read_table = fake_read_table,
	};

	if (fx_init(&F, &ops, 64) < 0)
		return 2;
	F.opts.max_clients = 7;
	F.deps.realtime = fixed_realtime;

	test_bytes();
	test_events();
	test_tables();
	test_status();
	test_put();
	test_put_trend();
	test_idle_child_shares();

	fx_free(&F);
	return check_summary();
}
