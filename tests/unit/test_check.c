// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * check/ (verify and audit) against a real child process through the real
 * /proc (our own child: no privileges needed), with a model, history and
 * pipeline but no daemon, no loop and no probes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/clock.h"
#include "capture/syscalls.h"
#include "check.h"
#include "sys/pidinfo.h"
#include "check/check.h"
#include "sys/procfs.h"

static int ops_read_fd(void *u, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	return fdw_proc_read_fd("/proc", tid, fd, out);
}

static int ops_read_table(void *u, uint32_t tid,
			  void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	return fdw_proc_read_table("/proc", tid, cb, cbdata);
}

static const json_t *get(const json_t *o, const char *k)
{
	return json_object_get(o, k);
}

static long long ival(const json_t *o, const char *k)
{
	return json_integer_value(get(o, k));
}

static const char *sval(const json_t *o, const char *k)
{
	return json_string_value(get(o, k));
}

static const json_t *find_diff(const json_t *diffs, int fd, const char *kind)
{
	for (size_t i = 0; i < json_array_size(diffs); i++) {
		const json_t *d = json_array_get(diffs, i);

		if (ival(d, "fd") == fd && !strcmp(sval(d, "kind"), kind))
			return d;
	}
	return NULL;
}

/* A child holding fd 20 without close-on-exec and 21 with it, paused (or
 * spinning in user space: always "running" in /proc/PID/syscall). */
static pid_t spawn_child_that(bool spin)
{
	int ready[2];
	pid_t child;
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		int a = open("/dev/null", O_RDONLY), b = open("/dev/zero", O_RDONLY);

		(void)dup2(a, 20);
		(void)dup3(b, 21, O_CLOEXEC);
		(void)close(a);
		(void)close(b);
		(void)write(ready[1], "x", 1);
		if (spin)
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test */
		for (volatile unsigned long n = 0; spin; n++)
			;
		pause();
		_exit(0);
	}
	(void)close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		child = -1;
	(void)close(ready[0]);
	return child;
}

static pid_t spawn_child(void)
{
	return spawn_child_that(false);
}

struct world {
	struct fdw_model model;
	struct fdw_history history;
	struct fdw_pipeline pipeline;
	struct fdw_checker checker;
};

static void world_init(struct world *w, unsigned int sample)
{
	struct fdw_model_ops ops = { .read_fd = ops_read_fd, .read_table = ops_read_table };

	fdw_model_init(&w->model, &ops);
	w->model.max_procs = 1000;
	w->model.max_fds = 100000;
	w->model.max_fd_number = 1u << 20;
	CHECK_EQ(fdw_history_init(&w->history, 16), 0);
	fdw_pipeline_init(&w->pipeline, &w->model, &w->history, "/proc");
	fdw_checker_init(&w->checker, &w->model, &w->pipeline, "/proc", sample);
}

static void world_free(struct world *w)
{
	fdw_model_free(&w->model);
	fdw_history_free(&w->history);
	fdw_pipeline_free(&w->pipeline);
}

static void apply(struct world *w, uint32_t tid, uint16_t nr, int64_t ret, uint64_t arg0)
{
	static uint64_t seq;
	struct fdw_event ev = { .seq = ++seq, .type = FDW_REC_SYSCALL, .pid = tid, .tid = tid,
				.nr = nr, .ret = ret, .args = { arg0 } };

	fdw_model_apply(&w->model, &ev);
}

/* Make the model wrong in each of the four ways verify reports. */
static void corrupt(struct world *w, uint32_t tid)
{
	struct fdw_table *t;
	struct fdw_slot *s;

	apply(w, tid, FDW_SYS_DUP, 30, 20); /* extra: the model dups 20 to 30 */
	t = fdw_model_proc_table(&w->model, fdw_model_proc(&w->model, tid));
	s = fdw_table_slot(t, 20);
	CHECK(fdw_slot_open(s));
	if (s)
		s->cloexec = true; /* cloexec */
	s = fdw_table_slot(t, 21);
	if (fdw_slot_open(s)) {
		fdw_strtab_put(&w->model.strings, fdw_slot_ofd(s)->target);
		fdw_slot_ofd(s)->target = fdw_strtab_get(&w->model.strings, "/not/null"); /* target */
	}
	apply(w, tid, FDW_SYS_CLOSE, 0, 0); /* missing: the model closes 0 */
}

static void test_verify(void)
{
	static struct world w;
	pid_t child = spawn_child();
	uint32_t tid = (uint32_t)child;
	json_t *diffs, *o;
	int err = 0;

	CHECK(child > 0);
	if (child <= 0)
		return;
	world_init(&w, 8);
	CHECK_EQ(fdw_model_add_scanned(&w.model, tid, getpid(), "child", &tid, 1, 1), 0);

	/* freshly read: no difference */
	diffs = json_array();
	CHECK_EQ(fdw_verify_proc(&w.checker, fdw_model_proc(&w.model, tid), diffs), 0);
	CHECK_EQ(json_array_size(diffs), 0);
	json_decref(diffs);

	corrupt(&w, tid);
	diffs = json_array();
	CHECK_EQ(fdw_verify_proc(&w.checker, fdw_model_proc(&w.model, tid), diffs), 4);
	CHECK_STR(sval(find_diff(diffs, 30, "extra"), "model"), "/dev/null");
	CHECK(json_is_null(get(find_diff(diffs, 30, "extra"), "kernel")));
	CHECK(json_is_true(get(find_diff(diffs, 20, "cloexec"), "model")));
	CHECK(json_is_false(get(find_diff(diffs, 20, "cloexec"), "kernel")));
	CHECK_STR(sval(find_diff(diffs, 21, "target"), "model"), "/not/null");
	CHECK_STR(sval(find_diff(diffs, 21, "target"), "kernel"), "/dev/zero");
	CHECK(find_diff(diffs, 0, "missing") != NULL);
	CHECK(json_is_null(get(find_diff(diffs, 0, "missing"), "model")));
	CHECK_EQ(ival(json_array_get(diffs, 0), "pid"), child);
	/* blocked in pause(), which changes no fd: nothing to wait for */
	CHECK(get(find_diff(diffs, 30, "extra"), "thread_running") == NULL);
	CHECK(get(find_diff(diffs, 0, "missing"), "thread_running") == NULL);
	json_decref(diffs);

	/* the whole answer reports it and repairs the table */
	o = fdw_verify(&w.checker, tid, &err);
	CHECK(json_is_false(get(o, "ok")));
	CHECK_EQ(ival(o, "checked"), 1);
	CHECK_EQ(json_array_size(get(o, "differences")), 4);
	json_decref(o);
	CHECK_EQ(w.checker.stats.divergences, 1);
	o = fdw_verify(&w.checker, 0, &err);
	CHECK(json_is_true(get(o, "ok")));
	CHECK_EQ(ival(o, "checked"), 1);
	json_decref(o);

	/* the process goes away: not a difference */
	(void)kill(child, SIGKILL);
	(void)waitpid(child, NULL, 0);
	diffs = json_array();
	CHECK_EQ(fdw_verify_proc(&w.checker, fdw_model_proc(&w.model, tid), diffs), -ESRCH);
	json_decref(diffs);
	o = fdw_verify(&w.checker, tid, &err);
	CHECK(o == NULL);
	CHECK_EQ(err, -ENOENT);
	/* and, /proc having no trace of it, the model no longer holds it */
	CHECK(fdw_model_proc(&w.model, tid) == NULL);
	CHECK_EQ(w.pipeline.stats.ghosts_dropped, 1);
	o = fdw_verify(&w.checker, 999999999, &err);
	CHECK(o == NULL);
	CHECK_EQ(err, -ENOENT);
	world_free(&w);
}

/*
 * Names the model did not keep (past max_name_bytes) are not differences:
 * the fds are the kernel's, only their names were refused (an audit that
 * counted them would re-read such a table at every round, for ever). A
 * look at the table takes them once there is room.
 */
static void test_verify_names_refused(void)
{
	static struct world w;
	pid_t child = spawn_child();
	uint32_t tid = (uint32_t)child;
	const struct fdw_slot *s;
	struct fdw_proc *p;
	uint64_t refused;
	json_t *diffs;

	CHECK(child > 0);
	if (child <= 0)
		return;
	world_init(&w, 8);
	w.model.max_name_bytes = w.model.strings.bytes; /* the placeholder alone */
	CHECK_EQ(fdw_model_add_scanned(&w.model, tid, getpid(), "child", &tid, 1, 1), 0);
	p = fdw_model_proc(&w.model, tid);
	s = fdw_table_slot(fdw_model_proc_table(&w.model, p), 20);
	CHECK(fdw_slot_open(s) && fdw_target_refused(fdw_slot_ofd(s)->target));
	refused = w.model.stats.names_refused;
	CHECK(refused >= 2);
	diffs = json_array();
	CHECK_EQ(fdw_verify_proc(&w.checker, p, diffs), 0);
	CHECK_EQ(json_array_size(diffs), 0);
	json_decref(diffs);
	CHECK_EQ(w.model.stats.names_refused, refused); /* not counted again */
	/* room: a look at the table names them */
	w.model.max_name_bytes = 1u << 20;
	fdw_model_refresh_targets(&w.model, p);
	s = fdw_table_slot(fdw_model_proc_table(&w.model, p), 20);
	CHECK(fdw_slot_open(s) && fdw_slot_ofd(s)->target &&
	      !strcmp(fdw_slot_ofd(s)->target, "/dev/null"));
	(void)kill(child, SIGKILL);
	(void)waitpid(child, NULL, 0);
	world_free(&w);
}

/*
 * A process that runs all along cannot say which syscall it is in: an extra
 * or missing fd is listed as such (and counted), marked thread_running;
 * differences in fds it holds are not marked. (Here, without a pool, the
 * check looks once; in the pool it asks again for up to 50 ms.)
 */
static void test_verify_running(void)
{
	static struct world w;
	pid_t child = spawn_child_that(true);
	uint32_t tid = (uint32_t)child;
	json_t *diffs;

	CHECK(child > 0);
	if (child <= 0)
		return;
	world_init(&w, 8);
	CHECK_EQ(fdw_model_add_scanned(&w.model, tid, getpid(), "child", &tid, 1, 1), 0);
	corrupt(&w, tid);
	diffs = json_array();
	CHECK_EQ(fdw_verify_proc(&w.checker, fdw_model_proc(&w.model, tid), diffs), 4);
	CHECK(json_is_true(get(find_diff(diffs, 30, "extra"), "thread_running")));
	CHECK(json_is_true(get(find_diff(diffs, 0, "missing"), "thread_running")));
	CHECK(get(find_diff(diffs, 20, "cloexec"), "thread_running") == NULL);
	CHECK(get(find_diff(diffs, 21, "target"), "thread_running") == NULL);
	CHECK_EQ(w.checker.stats.in_flight, 0);
	json_decref(diffs);
	(void)kill(child, SIGKILL);
	(void)waitpid(child, NULL, 0);
	world_free(&w);
}

/* The state letter of a process ('Z': zombie), '?' when unreadable. */
static char state_of(pid_t pid)
{
	struct fdw_pid_stat st;

	return fdw_pid_stat_read("/proc", (uint32_t)pid, &st) == 0 ? st.state : '?';
}

/* A world holding three paused children, scanned. -1 when one could not start. */
static int spawn_world(struct world *w, unsigned int sample, pid_t kids[3], uint32_t tids[3])
{
	world_init(w, sample);
	for (int i = 0; i < 3; i++) {
		kids[i] = spawn_child();
		CHECK(kids[i] > 0);
		if (kids[i] <= 0)
			return -1;
		tids[i] = (uint32_t)kids[i];
		CHECK_EQ(fdw_model_add_scanned(&w->model, tids[i], getpid(), "child", &tids[i], 1,
					       1), 0);
	}
	return 0;
}

/* The end of a spawn_world() test: the world freed, its children killed
 * and reaped. */
static void world_end(struct world *w, const pid_t kids[3])
{
	world_free(w);
	for (int i = 0; i < 3; i++) {
		(void)kill(kids[i], SIGKILL);
		(void)waitpid(kids[i], NULL, 0);
	}
}

/* Rounds of `sample` processes go round by pid; a wrong table is re-read. */
static void test_audit(void)
{
	static struct world w;
	pid_t kids[3];
	uint32_t tids[3];

	if (spawn_world(&w, 2, kids, tids) < 0)
		return;
	corrupt(&w, tids[1]);

	fdw_audit_run(&w.checker);
	CHECK_EQ(w.checker.stats.runs, 1);
	CHECK_EQ(w.checker.stats.checked, 2);
	fdw_audit_run(&w.checker);
	CHECK_EQ(w.checker.stats.runs, 2);
	CHECK_EQ(w.checker.stats.checked, 4);
	/* four checks over three processes: the corrupted one was seen once
	 * at least, counted, and repaired */
	CHECK_EQ(w.checker.stats.divergences, 1);
	{
		json_t *diffs = json_array();

		CHECK_EQ(fdw_verify_proc(&w.checker, fdw_model_proc(&w.model, tids[1]), diffs),
			 0);
		json_decref(diffs);
	}
	/* an empty sample checks nothing */
	w.checker.audit_sample = 0;
	fdw_audit_run(&w.checker);
	CHECK_EQ(w.checker.stats.checked, 4);
	/* exits the model never saw (no probes here: like lost exit records)
	 * leave it at the next round, whichever processes it samples */
	w.checker.audit_sample = 1;
	(void)kill(kids[0], SIGKILL);
	(void)kill(kids[2], SIGKILL);
	(void)waitpid(kids[0], NULL, 0);
	fdw_audit_run(&w.checker);
	CHECK(fdw_model_proc(&w.model, tids[0]) == NULL);
	CHECK(fdw_model_proc(&w.model, tids[1]) != NULL);
	CHECK(w.pipeline.stats.ghosts_dropped >= 1);
	/* a zombie (not reaped) has exited too: once the audit looks at it
	 * (its table reads as empty), dropped, and not counted a divergence */
	{
		uint64_t div = w.checker.stats.divergences;

		for (int i = 0; i < 100 && state_of(kids[2]) != 'Z'; i++)
			usleep(1000);
		w.checker.audit_sample = 3;
		fdw_audit_run(&w.checker);
		CHECK(fdw_model_proc(&w.model, tids[2]) == NULL);
		CHECK(fdw_model_proc(&w.model, tids[1]) != NULL);
		CHECK_EQ(w.pipeline.stats.ghosts_dropped, 2);
		CHECK_EQ(w.checker.stats.divergences, div);
	}
	(void)waitpid(kids[2], NULL, 0);
	fdw_audit_run(&w.checker);
	CHECK(fdw_model_proc(&w.model, tids[2]) == NULL);
	CHECK_EQ(w.pipeline.stats.ghosts_dropped, 2);
	(void)kill(kids[1], SIGKILL);
	(void)waitpid(kids[1], NULL, 0);
	world_free(&w);
}

/*
 * Lost records: the processes' tables are marked stale and re-read from
 * the queue a budget at a time, so one drain never re-reads a whole host.
 * With no budget, each drain re-reads exactly one table.
 */
static void test_lost_resync(void)
{
	static struct world w;
	pid_t kids[3];
	uint32_t tids[3];

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	for (int i = 0; i < 3; i++)
		corrupt(&w, tids[i]);
	w.pipeline.resync_budget_ns = 0;
	for (int i = 0; i < 3; i++)
		fdw_pipeline_mark_lost(&w.pipeline, tids[i]);
	fdw_pipeline_mark_lost(&w.pipeline, tids[0]); /* queued once */
	fdw_pipeline_mark_lost(&w.pipeline, 999999999); /* unknown: ignored */
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 3);
	for (int i = 0; i < 3; i++)
		CHECK(fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[i]))->stale);
	for (int left = 2; left >= 0; left--) {
		fdw_pipeline_drain(&w.pipeline);
		CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), left);
	}
	CHECK_EQ(w.pipeline.stats.loss_resyncs, 3);
	for (int i = 0; i < 3; i++) {
		json_t *diffs = json_array();
		struct fdw_proc *p = fdw_model_proc(&w.model, tids[i]);

		CHECK(!fdw_model_proc_table(&w.model, p)->stale);
		CHECK_EQ(fdw_verify_proc(&w.checker, p, diffs), 0);
		json_decref(diffs);
		(void)kill(kids[i], SIGKILL);
		(void)waitpid(kids[i], NULL, 0);
	}
	world_free(&w);
}

/* ---- re-reads off the loop: a fake thread pool that runs when told ---- */

struct fake_job {
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
};
static struct fake_job fake_jobs[8];
static unsigned int nfake_jobs;
static uint64_t ring_now = 100;

static int fake_offload(void *u, void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
	if (nfake_jobs == 8)
		return -EAGAIN;
	fake_jobs[nfake_jobs++] = (struct fake_job){ work, done, arg };
	return 0;
}

static uint64_t fake_ring_position(void *u)
{
	return ring_now;
}

/* The jobs taken so far, in order; returns how many. */
static unsigned int take_jobs(struct fake_job *out)
{
	unsigned int n = nfake_jobs;

	memcpy(out, fake_jobs, n * sizeof(*out));
	nfake_jobs = 0;
	return n;
}

/* What corrupt() broke is repaired (the kernel's truth is back). */
static bool repaired(struct world *w, uint32_t tid)
{
	struct fdw_table *t = fdw_model_proc_table(&w->model, fdw_model_proc(&w->model, tid));
	const struct fdw_slot *s20 = fdw_table_slot(t, 20), *s21 = fdw_table_slot(t, 21);

	return t && !t->stale && !fdw_slot_open(fdw_table_slot(t, 30)) &&
	       fdw_slot_open(fdw_table_slot(t, 0)) && fdw_slot_open(s20) && !s20->cloexec &&
	       fdw_slot_open(s21) && !strcmp(fdw_slot_ofd(s21)->target, "/dev/zero");
}

/*
 * With an offload, lost records' re-reads read /proc off the loop and the
 * loop applies the snapshot later, unless a record of that table changed
 * numbers it does not name after the read began (close_range): then the
 * snapshot, possibly older than that record, is refused, the table stays
 * stale and is read again. A read still running when the pipeline goes
 * ends into nothing.
 */
static void test_lost_resync_offloaded(void)
{
	static struct world w;
	struct fake_job jobs[8];
	pid_t kids[3];
	uint32_t tids[3];
	unsigned int n;

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	w.model.ops.ring_position = fake_ring_position;
	w.pipeline.offload = fake_offload;
	w.pipeline.offload_min_fds = 0; /* small tables too, for the test */
	w.pipeline.resync_budget_ns = 60 * 1000000000ull; /* valgrind is slow */
	for (int i = 0; i < 3; i++)
		corrupt(&w, tids[i]);
	for (int i = 0; i < 3; i++)
		fdw_pipeline_mark_lost(&w.pipeline, tids[i]);
	fdw_pipeline_drain(&w.pipeline);
	/* two reads at once; the third waits in the queue */
	n = take_jobs(jobs);
	CHECK_EQ(n, FDW_RESYNC_JOBS_MAX);
	CHECK_EQ(w.pipeline.njobs, 2);
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 3);
	CHECK(!repaired(&w, tids[0]) && !repaired(&w, tids[1]));
	if (n != 2)
		goto out;
	jobs[0].work(jobs[0].arg);
	jobs[1].work(jobs[1].arg); /* both read at ring position 100 */
	/* a record of tids[1]'s table after the read began (a close_range of
	 * numbers nobody has: nothing changes, but the snapshot cannot know) */
	{
		struct fdw_event ev = { .seq = 1000, .ring_pos = 150, .type = FDW_REC_SYSCALL,
					.pid = tids[1], .tid = tids[1], .nr = FDW_SYS_CLOSE_RANGE,
					.ret = 0, .args = { 999, 1000 } };

		fdw_model_apply(&w.model, &ev);
	}
	ring_now = 200;
	jobs[0].done(jobs[0].arg);
	CHECK(repaired(&w, tids[0]));
	/* the first one's end started the queued third */
	n = take_jobs(jobs + 2);
	CHECK_EQ(n, 1);
	jobs[1].done(jobs[1].arg);
	CHECK(!repaired(&w, tids[1]));
	CHECK(fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[1]))->stale);
	CHECK_EQ(w.pipeline.stats.resync_retried, 1);
	CHECK_EQ(w.model.stats.snapshots_stale, 1);
	if (n == 1) {
		jobs[2].work(jobs[2].arg);
		jobs[2].done(jobs[2].arg);
		CHECK(repaired(&w, tids[2]));
	}
	/* read again at the next drain, and now applied */
	fdw_pipeline_drain(&w.pipeline);
	n = take_jobs(jobs);
	CHECK_EQ(n, 1);
	if (n == 1) {
		jobs[0].work(jobs[0].arg);
		jobs[0].done(jobs[0].arg);
	}
	CHECK(repaired(&w, tids[1]));
	CHECK_EQ(w.pipeline.stats.resync_offloaded, 4);
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 0);

	/* a read in flight when the pipeline is freed */
	fdw_pipeline_mark_lost(&w.pipeline, tids[0]);
	fdw_pipeline_drain(&w.pipeline);
	n = take_jobs(jobs);
	CHECK_EQ(n, 1);
	world_free(&w);
	if (n == 1) {
		jobs[0].work(jobs[0].arg);
		jobs[0].done(jobs[0].arg); /* valgrind: no use after free */
	}
	for (int i = 0; i < 3; i++) {
		(void)kill(kids[i], SIGKILL);
		(void)waitpid(kids[i], NULL, 0);
	}
	return;
out:
	world_end(&w, kids);
}

/* A record at ring position 150 for tid's table: after a read taken at 100. */
static void apply_late(struct world *w, uint32_t tid, uint8_t type, uint16_t nr, int64_t ret,
		       uint64_t a0, uint64_t a1, uint64_t a2)
{
	static uint64_t seq = 2000;
	struct fdw_event ev = { .seq = ++seq, .ring_pos = 150, .type = type, .pid = tid,
				.tid = tid, .nr = nr, .ret = ret, .args = { a0, a1, a2 } };

	if (type == FDW_REC_URING)
		ev.aux = (uint8_t)a0;
	fdw_model_apply(&w->model, &ev);
}

/*
 * A busy table: records of it keep coming while its read runs off the
 * loop. The snapshot is applied but for the fds those records changed,
 * which keep the records' state: it was refused whole, read after read,
 * and a busy server's table stayed stale (with the fds io_uring closed)
 * for as long as it was busy. A record that asked for a re-read meanwhile
 * (io_uring's RECVMSG) leaves it applied, stale, and queued again.
 */
static void test_lost_resync_partial(void)
{
	static struct world w;
	struct fake_job jobs[8];
	struct fdw_table *t;
	const struct fdw_slot *s;
	pid_t kids[3];
	uint32_t tids[3];
	unsigned int n;

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	w.model.ops.ring_position = fake_ring_position;
	w.pipeline.offload = fake_offload;
	w.pipeline.offload_min_fds = 0;
	w.pipeline.resync_budget_ns = 60 * 1000000000ull;
	nfake_jobs = 0;
	ring_now = 100;
	corrupt(&w, tids[0]);
	fdw_pipeline_mark_lost(&w.pipeline, tids[0]);
	fdw_pipeline_drain(&w.pipeline);
	n = take_jobs(jobs);
	CHECK_EQ(n, 1);
	if (n != 1)
		goto out;
	jobs[0].work(jobs[0].arg); /* read at 100: 0, 20 and 21 open, 21 not cloexec */
	/* after the read: 20 closed, 21 made close-on-exec; close(-1)
	 * changes nothing (no refusal); a dup's own case is
	 * test_partial_dup_from_wrong_source */
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_CLOSE, 0, 20, 0, 0);
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_FCNTL, 0, 21, F_SETFD, FD_CLOEXEC);
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_CLOSE, -EBADF, (uint64_t)-1, 0, 0);
	ring_now = 200;
	jobs[0].done(jobs[0].arg);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	CHECK_EQ(w.model.stats.snapshots_stale, 0);
	CHECK_EQ(w.model.stats.snapshots_partial, 1);
	CHECK(t && !t->stale && !t->touched);
	if (!t)
		goto out;
	/* the read's: what corrupt() broke */
	CHECK(fdw_slot_open(fdw_table_slot(t, 0)));
	CHECK(!fdw_slot_open(fdw_table_slot(t, 30)));
	/* the records': newer than the read */
	CHECK(!fdw_slot_open(fdw_table_slot(t, 20)));
	s = fdw_table_slot(t, 21);
	CHECK(fdw_slot_open(s) && s->cloexec);
	/* the file the read saw at 21, the bit the record set */
	CHECK(fdw_slot_open(s) && !strcmp(fdw_slot_ofd(s)->target, "/dev/zero"));
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 0);

	/* again, with a RECVMSG (numbers unknown) after the read began; the
	 * table is big enough not to be re-read on the loop */
	w.model.inline_tokens_ns = -1;
	w.model.inline_refill_ns = UINT64_MAX;
	ring_now = 100;
	fdw_pipeline_mark_lost(&w.pipeline, tids[0]);
	fdw_pipeline_drain(&w.pipeline);
	n = take_jobs(jobs);
	CHECK_EQ(n, 1);
	if (n != 1)
		goto out;
	jobs[0].work(jobs[0].arg);
	apply_late(&w, tids[0], FDW_REC_URING, FDW_SYS_IO_URING, 0, 10, 0, 0);
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_CLOSE, 0, 21, 0, 0);
	ring_now = 200;
	jobs[0].done(jobs[0].arg);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	CHECK_EQ(w.model.stats.snapshots_partial, 2);
	CHECK(t && t->stale && t->reread_asked);
	CHECK(t && !fdw_slot_open(fdw_table_slot(t, 21))); /* the record's, not the read's */
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 1);
out:
	world_end(&w, kids);
}

/* tid's table, read (fdw_model_snapshot_read) at ring position 100 without
 * notes, as a read whose fdw_model_read_begin() found no memory; NULL when
 * it has no table. */
static struct fdw_table *read_without_notes(struct world *w, uint32_t tid,
					    struct fdw_table_snapshot *snap)
{
	struct fdw_table *t;

	w->model.ops.ring_position = fake_ring_position;
	t = fdw_model_proc_table(&w->model, fdw_model_proc(&w->model, tid));
	CHECK(t != NULL);
	if (!t)
		return NULL;
	ring_now = 100;
	snap->tid = tid;
	fdw_model_snapshot_read(&w->model.ops, snap);
	CHECK_EQ(snap->err, 0);
	CHECK_EQ(snap->read_pos, 100);
	return t;
}

/* A close(fd) = ret record of tid at ring position pos. */
static void apply_close_at(struct world *w, uint32_t tid, uint64_t pos, int fd, int64_t ret)
{
	static uint64_t seq = 3000;
	struct fdw_event ev = { .seq = ++seq, .ring_pos = pos, .type = FDW_REC_SYSCALL,
				.pid = tid, .tid = tid, .nr = FDW_SYS_CLOSE, .ret = ret,
				.args = { (uint64_t)fd } };

	fdw_model_apply(&w->model, &ev);
}

/*
 * A pool read whose own notes could not be made (fdw_model_read_begin():
 * no memory) comes back after the table was re-read on the loop and
 * another read of it began (a process sharing it, CLONE_FILES): the notes
 * in t->touched are that read's, fresh, not `all`, and know nothing of
 * what came between the first read and the re-read. The first read is
 * older than what the model has: refused (it has no notes of its own),
 * t->read_pos kept.
 */
static void test_snapshot_older_than_reread(void)
{
	static struct world w;
	struct fdw_table_snapshot snap = { 0 };
	struct fdw__touched *notes;
	struct fdw_table *t;
	pid_t kids[3];
	uint32_t tids[3];
	int r;

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	t = read_without_notes(&w, tids[0], &snap);
	if (!t)
		goto out;
	/* re-read on the loop at 200, then another read begins */
	ring_now = 200;
	CHECK_EQ(fdw_model_resync(&w.model, t, tids[0]), 0);
	CHECK_EQ(t->read_pos, 200);
	notes = fdw_model_read_begin(t);
	CHECK(notes != NULL);
	/* a record of the table after both reads began */
	apply_close_at(&w, tids[0], 210, 999, -EBADF);
	CHECK(t->last_pos >= snap.read_pos);
	CHECK(notes && t->touched == notes);
	r = fdw_model_snapshot_apply(&w.model, t, &snap, NULL);
	CHECK_EQ(r, -ESTALE);
	CHECK_EQ(w.model.stats.snapshots_stale, 1);
	CHECK_EQ(w.model.stats.snapshots_partial, 0);
	CHECK_EQ(t->read_pos, 200);
	fdw_model_read_end(notes);
	fdw_model_snapshot_free(&snap);
out:
	world_end(&w, kids);
}

/*
 * The same read without notes of its own, and no re-read in between: a
 * record closes fd 1 after it began (nothing notes it), then a second read
 * begins with notes, and a record of another fd is noted. The first read
 * saw fd 1 open: applied with the second read's notes (which know nothing
 * of the close) it put fd 1 back in the model. Refused: the read has no
 * notes of its own and records came since it began.
 */
static void test_snapshot_other_reads_notes(void)
{
	static struct world w;
	struct fdw_table_snapshot snap = { 0 };
	struct fdw__touched *notes;
	struct fdw_table *t;
	pid_t kids[3];
	uint32_t tids[3];
	int r;

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	/* the read without notes, at 100: the child holds fd 1 */
	t = read_without_notes(&w, tids[0], &snap);
	if (!t)
		goto out;
	CHECK(fdw_slot_open(fdw_table_slot(t, 1)));
	/* a close of fd 1 at 150 (the model's; the child keeps its fd) */
	apply_close_at(&w, tids[0], 150, 1, 0);
	CHECK(!fdw_slot_open(fdw_table_slot(t, 1)));
	/* a second read begins at 160, and a record of fd 999 is noted */
	ring_now = 160;
	notes = fdw_model_read_begin(t);
	CHECK(notes != NULL);
	apply_close_at(&w, tids[0], 170, 999, -EBADF);
	CHECK(t->last_pos >= snap.read_pos);
	CHECK(notes && t->touched == notes);
	r = fdw_model_snapshot_apply(&w.model, t, &snap, NULL);
	CHECK_EQ(r, -ESTALE);
	CHECK_EQ(w.model.stats.snapshots_partial, 0);
	CHECK(!fdw_slot_open(fdw_table_slot(t, 1)));
	fdw_model_read_end(notes);
	fdw_model_snapshot_free(&snap);
out:
	world_end(&w, kids);
}

/* ---- review of a093de6: holes in the partial apply (h-review) ---------- */

/* One offloaded read of tids[0]'s table at ring position 100, taken. */
static bool one_read(struct world *w, uint32_t tid, struct fake_job *job)
{
	struct fake_job jobs[8];
	unsigned int n;

	w->model.ops.ring_position = fake_ring_position;
	w->pipeline.offload = fake_offload;
	w->pipeline.offload_min_fds = 0;
	w->pipeline.resync_budget_ns = 60 * 1000000000ull;
	nfake_jobs = 0;
	ring_now = 100;
	fdw_pipeline_mark_lost(&w->pipeline, tid);
	fdw_pipeline_drain(&w->pipeline);
	n = take_jobs(jobs);
	CHECK_EQ(n, 1);
	if (n != 1)
		return false;
	*job = jobs[0];
	job->work(job->arg); /* read at 100 */
	return true;
}

/* child becomes a clone(CLONE_FILES) child of parent (no CLONE_THREAD): a
 * process of its own on parent's table (a record at ring position 50). */
static void share_files(struct world *w, uint32_t parent, uint32_t child)
{
	struct fdw_event ev = { .seq = 1, .ring_pos = 50, .type = FDW_REC_FORK, .pid = parent,
				.tid = parent, .child_pid = child, .child_tid = child,
				.flags = FDW_F_SHARED_FILES };

	fdw_model_apply(&w->model, &ev);
}

static void kill_kids(pid_t kids[3])
{
	for (int i = 0; i < 3; i++) {
		(void)kill(kids[i], SIGKILL);
		(void)waitpid(kids[i], NULL, 0);
	}
}

/*
 * (1) A dup after the read began copies the model's OFD of its source. The
 * table is stale: that source may be wrong (here: a close and reopen of 21
 * as another file, lost before the read). The dup'd fd is kept as the
 * model has it, the source taken from the read: fd 40 is left on the old
 * file, not sharing 21's open file description as in the kernel, and the
 * table is trusted (not stale).
 */
static void test_partial_dup_from_wrong_source(void)
{
	static struct world w;
	struct fake_job job;
	struct fdw_table *t;
	struct fdw_slot *s;
	pid_t kids[3];
	uint32_t tids[3];

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	s = fdw_table_slot(t, 21);
	CHECK(fdw_slot_open(s));
	if (!fdw_slot_open(s))
		goto out;
	/* the model's 21 is another file than the kernel's (records lost) */
	fdw_slot_ofd(s)->ino += 1000;
	fdw_strtab_put(&w.model.strings, fdw_slot_ofd(s)->target);
	fdw_slot_ofd(s)->target = fdw_strtab_get(&w.model.strings, "/old/file");
	if (!one_read(&w, tids[0], &job))
		goto out;
	/* after the read: dup(21) = 40; in the kernel 40 shares 21's /dev/zero */
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_DUP, 40, 21, 0, 0);
	ring_now = 200;
	job.done(job.arg);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	CHECK(t && fdw_slot_open(fdw_table_slot(t, 21)) && fdw_slot_open(fdw_table_slot(t, 40)));
	if (!t || !fdw_slot_open(fdw_table_slot(t, 21)) || !fdw_slot_open(fdw_table_slot(t, 40)))
		goto out;
	/* either the model is right, or it says it may not be */
	CHECK(t->stale || fdw_slot_ofd(fdw_table_slot(t, 40)) == fdw_slot_ofd(fdw_table_slot(t, 21)));
	CHECK(t->stale || !strcmp(fdw_slot_ofd(fdw_table_slot(t, 40))->target, "/dev/zero"));
out:
	world_free(&w);
	kill_kids(kids);
}

/* The kernel's close-on-exec bit of pid's fd. */
static bool proc_cloexec(uint32_t pid, int fd)
{
	char path[64], line[128];
	bool cloexec = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/fdinfo/%d", pid, fd);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags:", 6))
			cloexec = (strtoul(line + 6, NULL, 8) & O_CLOEXEC) != 0;
	fclose(f);
	return cloexec;
}

/*
 * (2) FIOCLEX on an fd the model does not have (stale: it missed the open)
 * noted FLAGS only, and changed nothing. The read shows the fd (without
 * the bit, before the ioctl); the partial apply took "the record's bit"
 * from the closed slot: false, where the kernel's fd 0 was close-on-exec.
 * Now the kernel is asked about the fd at once (its state noted as the
 * record's).
 */
static void test_partial_fioclex_missing_fd(void)
{
	static struct world w;
	struct fake_job job;
	struct fdw_table *t;
	const struct fdw_slot *s;
	pid_t kids[3];
	uint32_t tids[3];

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	uint64_t anomalies;

	corrupt(&w, tids[0]); /* the model closed 0: missing */
	if (!one_read(&w, tids[0], &job)) /* the read sees 0, not cloexec */
		goto out;
	/* the kernel is asked about 0 then (as for F_SETFD): its answer is
	 * the record's, newer than the read (this fake child never made the
	 * ioctl: the kernel's bit stays clear, so the bit itself cannot tell) */
	anomalies = w.model.stats.anomalies;
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_IOCTL, 0, 0, FIOCLEX, 0);
	CHECK_EQ(w.model.stats.anomalies, anomalies + 1);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	CHECK(t && fdw_slot_open(fdw_table_slot(t, 0)));
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_CLOSE, 0, 20, 0, 0);
	ring_now = 200;
	job.done(job.arg);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	s = t ? fdw_table_slot(t, 0) : NULL;
	CHECK(fdw_slot_open(s));
	CHECK(!t || t->stale || (fdw_slot_open(s) && s->cloexec == proc_cloexec(tids[0], 0)));
out:
	world_free(&w);
	kill_kids(kids);
}

/*
 * (3) Two processes on one table (clone(CLONE_FILES) without
 * CLONE_THREAD): a read of it for each, the second queued after a record
 * of the table. job_running() is per pid, and fdw_model_read_begin() of
 * the second frees the first's notes: the first snapshot is applied with
 * the second's (empty) ones and undoes the close of 20 that came after it
 * began. The table is trusted with fd 20 open.
 */
static void test_partial_two_reads_one_table(void)
{
	static struct world w;
	struct fake_job jobs[8], j1;
	struct fdw_table *t;
	pid_t kids[3];
	uint32_t tids[3];
	unsigned int n;

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	/* tids[1] becomes a clone(CLONE_FILES) child of tids[0] */
	share_files(&w, tids[0], tids[1]);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	CHECK(t && t == fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[1])));
	if (!t || t != fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[1])))
		goto out;
	if (!one_read(&w, tids[0], &j1)) /* A's read at 100 sees 20 open */
		goto out;
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_CLOSE, 0, 20, 0, 0); /* at 150 */
	ring_now = 160;
	fdw_pipeline_mark_lost(&w.pipeline, tids[1]);
	fdw_pipeline_drain(&w.pipeline);
	n = take_jobs(jobs);
	CHECK_EQ(n, 0); /* B's read of the same table waits for A's */
	j1.done(j1.arg);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	CHECK(!t || t->stale || !fdw_slot_open(fdw_table_slot(t, 20)));
	fdw_pipeline_drain(&w.pipeline);
	n = take_jobs(jobs);
	CHECK_EQ(n, 1); /* then B's */
	for (unsigned int i = 0; i < n; i++) {
		jobs[i].work(jobs[i].arg);
		jobs[i].done(jobs[i].arg);
	}
out:
	world_free(&w);
	kill_kids(kids);
}

/*
 * (4) Records lost while the read ran: the loss marks the table stale
 * (fdw__table_mark_stale: `all`), which the commit says refuses the read
 * whole. But `all` is only looked at when a record of the table came
 * after the read began: with none (the lost ones are not applied), the
 * snapshot, maybe older than the lost changes, is applied and the table
 * trusted.
 */
static void test_partial_loss_during_read(void)
{
	static struct world w;
	struct fake_job job;
	struct fdw_table *t;
	pid_t kids[3];
	uint32_t tids[3];

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	if (!one_read(&w, tids[0], &job))
		goto out;
	/* a drain after the read began counts records of tids[0] lost */
	fdw_model_mark_proc_stale(&w.model, fdw_model_proc(&w.model, tids[0]));
	ring_now = 200;
	job.done(job.arg);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[0]));
	CHECK(t && t->stale);
out:
	world_free(&w);
	kill_kids(kids);
}

/*
 * (5) A job whose process exited meanwhile (its table lives on in a
 * clone(CLONE_FILES) sibling) leaves its notes on the table: every record
 * of it then goes through fdw__touch_slow, growing a bitmap nobody reads,
 * until the table is read again or freed.
 */
static void test_partial_touched_left(void)
{
	static struct world w;
	struct fake_job job;
	struct fdw_table *t;
	pid_t kids[3];
	uint32_t tids[3];

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	share_files(&w, tids[0], tids[1]);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[1]));
	if (!one_read(&w, tids[0], &job))
		goto out;
	{
		struct fdw_event ev = { .seq = 2, .ring_pos = 150, .type = FDW_REC_EXIT,
					.pid = tids[0], .tid = tids[0], .flags = FDW_F_GROUP_DEAD };

		fdw_model_apply(&w.model, &ev);
	}
	CHECK(fdw_model_proc(&w.model, tids[0]) == NULL);
	job.done(job.arg);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[1]));
	CHECK(t && !t->touched);
out:
	world_free(&w);
	kill_kids(kids);
}

/*
 * (6) close(-1) (EBADF) during the read: a common harmless call in cleanup
 * paths. apply_close notes fd -1, which fdw__touch_slow takes as `all`:
 * the read is refused whole, as every read of a busy table was before this
 * commit, though the close changed nothing.
 */
static void test_partial_close_minus_one(void)
{
	static struct world w;
	struct fake_job job;
	pid_t kids[3];
	uint32_t tids[3];

	if (spawn_world(&w, 8, kids, tids) < 0)
		return;
	corrupt(&w, tids[0]);
	if (!one_read(&w, tids[0], &job))
		goto out;
	apply_late(&w, tids[0], FDW_REC_SYSCALL, FDW_SYS_CLOSE, -EBADF, (uint64_t)-1, 0, 0);
	ring_now = 200;
	job.done(job.arg);
	CHECK_EQ(w.model.stats.snapshots_stale, 0);
	CHECK(repaired(&w, tids[0]));
out:
	world_free(&w);
	kill_kids(kids);
}

static int ops_cmp_file(void *u, uint32_t t1, int fd1, uint32_t t2, int fd2)
{
	return fdw_proc_cmp_file(t1, fd1, t2, fd2);
}

/* A child holding /dev/null at 40, its dup at 41, and /dev/null opened
 * again at 42 (same inode, its own open file description), paused. */
static pid_t spawn_dups_child(void)
{
	int ready[2];
	pid_t child;
	char c;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY);

		(void)dup2(a, 40);
		(void)dup2(a, 41);
		(void)dup2(b, 42);
		(void)close(a);
		(void)close(b);
		(void)write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	(void)close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		child = -1;
	(void)close(ready[0]);
	return child;
}

/*
 * The worker also asks which fds share an open file description (kcmp), so
 * the loop applies a big table without a syscall per fd: dups share one
 * OFD, a second open of the same file has its own, and an OFD the model
 * had right keeps its identity.
 */
static void test_offloaded_groups(void)
{
	static struct world w;
	struct fake_job jobs[8];
	pid_t child = spawn_dups_child();
	uint32_t tid = (uint32_t)child;
	struct fdw_table *t;
	struct fdw_slot *s40, *s42;
	uint64_t id40;
	unsigned int n;

	CHECK(child > 0);
	if (child <= 0)
		return;
	world_init(&w, 8);
	w.model.ops.cmp_file = ops_cmp_file;
	w.model.ops.ring_position = fake_ring_position;
	w.pipeline.offload = fake_offload;
	w.pipeline.offload_min_fds = 0;
	CHECK_EQ(fdw_model_add_scanned(&w.model, tid, getpid(), "child", &tid, 1, 1), 0);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tid));
	s40 = fdw_table_slot(t, 40);
	s42 = fdw_table_slot(t, 42);
	CHECK(fdw_slot_open(s40) && fdw_slot_open(s42) && fdw_slot_open(fdw_table_slot(t, 41)));
	if (!fdw_slot_open(s40) || !fdw_slot_open(s42))
		goto out;
	CHECK(fdw_slot_ofd(fdw_table_slot(t, 41)) == fdw_slot_ofd(s40) && fdw_slot_ofd(s42) != fdw_slot_ofd(s40));
	id40 = fdw_ofd_id(fdw_slot_ofd(s40));
	/* make the model wrong: 42 a dup of 40, 41 a file of its own */
	apply(&w, tid, FDW_SYS_DUP2, 42, 40);
	{
		struct fdw_event ev = { .seq = 77, .type = FDW_REC_SYSCALL, .pid = tid, .tid = tid,
					.nr = FDW_SYS_OPENAT, .ret = 41, .nfds = 1, .fds = { 41 },
					.ino = 12345, .dev = 1, .mode = 0020000 };

		fdw_model_apply(&w.model, &ev);
	}
	CHECK(fdw_slot_ofd(fdw_table_slot(t, 42)) == fdw_slot_ofd(s40));
	fdw_pipeline_mark_lost(&w.pipeline, tid);
	fdw_pipeline_drain(&w.pipeline);
	n = take_jobs(jobs);
	CHECK_EQ(n, 1);
	if (n != 1)
		goto out;
	jobs[0].work(jobs[0].arg);
	jobs[0].done(jobs[0].arg);
	t = fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tid));
	CHECK(!t->stale);
	CHECK(fdw_slot_open(fdw_table_slot(t, 40)) && fdw_slot_open(fdw_table_slot(t, 41)) &&
	      fdw_slot_open(fdw_table_slot(t, 42)));
	if (fdw_slot_open(fdw_table_slot(t, 41)) && fdw_slot_open(fdw_table_slot(t, 42))) {
		CHECK(fdw_slot_ofd(fdw_table_slot(t, 41)) == fdw_slot_ofd(fdw_table_slot(t, 40)));
		CHECK(fdw_slot_ofd(fdw_table_slot(t, 42)) != fdw_slot_ofd(fdw_table_slot(t, 40)));
		CHECK_EQ(fdw_ofd_id(fdw_slot_ofd(fdw_table_slot(t, 40))), id40);
		CHECK_STR(fdw_slot_ofd(fdw_table_slot(t, 41))->target, "/dev/null");
	}
out:
	world_free(&w);
	(void)kill(child, SIGKILL);
	(void)waitpid(child, NULL, 0);
}


/* Run the fake pool's jobs (and those their ends queue) until none is left;
 * returns how many ran. */
static unsigned int run_all_jobs(void)
{
	struct fake_job jobs[8];
	unsigned int total = 0, n;

	while ((n = take_jobs(jobs)) > 0)
		for (unsigned int i = 0; i < n; i++, total++) {
			jobs[i].work(jobs[i].arg);
			jobs[i].done(jobs[i].arg);
		}
	return total;
}

struct answer {
	int calls;
	json_t *doc;
	int err;
	int progress;
};

static void answer_done(void *userdata, json_t *doc, int err)
{
	struct answer *a = userdata;

	a->calls++;
	a->doc = doc;
	a->err = err;
}

static void answer_progress(void *userdata)
{
	((struct answer *)userdata)->progress++;
}

/*
 * With a pool, a check reads /proc in it one step at a time: nothing is
 * answered until the steps ran, every process is checked, the wrong table
 * is queued for a re-read; at most FDW_VERIFY_RUNS_MAX run at once; a run
 * whose client went away ends without a call; one audit round at a time.
 */
static void test_verify_offloaded(void)
{
	static struct world w;
	struct fdw_verify_run *run, *runs[FDW_VERIFY_RUNS_MAX];
	struct answer a = { 0 }, others[FDW_VERIFY_RUNS_MAX] = { 0 }, gone = { 0 };
	pid_t kids[3];
	uint32_t tids[3];
	unsigned int steps;

	nfake_jobs = 0;
	if (spawn_world(&w, 2, kids, tids) < 0)
		return;
	w.checker.offload = fake_offload;
	corrupt(&w, tids[1]);

	CHECK_EQ(fdw_verify_start(&w.checker, 0, answer_done, answer_progress, &a, &run), 0);
	CHECK(run != NULL);
	CHECK_EQ(a.calls, 0);
	CHECK_EQ(nfake_jobs, 1); /* one /proc read at a time */
	steps = run_all_jobs();
	/* 3 processes; the wrong one read three times, then its in-flight check */
	CHECK_EQ(steps, 1 + 1 + 3 + 1);
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(a.progress, 3);
	CHECK(json_is_false(get(a.doc, "ok")));
	CHECK_EQ(ival(a.doc, "checked"), 3);
	CHECK_EQ(json_array_size(get(a.doc, "differences")), 4);
	CHECK_EQ(w.checker.stats.divergences, 1);
	CHECK_EQ(w.checker.nruns, 0);
	json_decref(a.doc);
	/* queued for a re-read, which a drain takes (the run's own next
	 * drain, here) */
	CHECK(w.pipeline.stats.loss_resyncs >= 1);
	fdw_pipeline_drain(&w.pipeline);
	CHECK(repaired(&w, tids[1]));

	/* a bound on runs at once, refusals counted */
	for (int i = 0; i < FDW_VERIFY_RUNS_MAX; i++)
		CHECK_EQ(fdw_verify_start(&w.checker, tids[i % 3], answer_done, NULL, &others[i],
					  &runs[i]), 0);
	CHECK_EQ(fdw_verify_start(&w.checker, tids[0], answer_done, NULL, &gone, &run), -EBUSY);
	CHECK_EQ(w.checker.stats.verify_refused, 1);
	/* the client of the first goes away while its read is in the pool */
	fdw_verify_abandon(runs[0]);
	CHECK_EQ(w.checker.nruns, FDW_VERIFY_RUNS_MAX - 1);
	run_all_jobs();
	CHECK_EQ(others[0].calls, 0);
	for (int i = 1; i < FDW_VERIFY_RUNS_MAX; i++) {
		CHECK_EQ(others[i].calls, 1);
		CHECK(json_is_true(get(others[i].doc, "ok")));
		json_decref(others[i].doc);
	}
	/* the differences are rendered a step after they were found (the
	 * in-flight check runs in the pool): the model changes meanwhile and
	 * the names it had then are freed. The in-flight step compares the
	 * caught-up model again and renders from that copy (rendering the
	 * older one was a use after free: ASan/valgrind) */
	corrupt(&w, tids[2]);
	memset(&a, 0, sizeof(a));
	CHECK_EQ(fdw_verify_start(&w.checker, tids[2], answer_done, NULL, &a, &run), 0);
	{
		struct fake_job jobs[8];
		unsigned int n;

		for (int round = 0; round < 3; round++) {
			n = take_jobs(jobs);
			CHECK_EQ(n, 1);
			if (n != 1)
				break;
			jobs[0].work(jobs[0].arg);
			jobs[0].done(jobs[0].arg); /* the next round, then the in-flight check */
		}
		/* fd 21 ("/not/null" in the model) closes before its difference is
		 * rendered: its open file description and name are freed */
		apply(&w, tids[2], FDW_SYS_CLOSE, 0, 21);
		/* and number 21 is reused until its history forgets that name */
		for (int i = 0; i < FDW_SLOT_HISTORY + 1; i++) {
			apply(&w, tids[2], FDW_SYS_DUP, 21, 20);
			apply(&w, tids[2], FDW_SYS_CLOSE, 0, 21);
		}
		CHECK(!fdw_slot_open(fdw_table_slot(
			fdw_model_proc_table(&w.model, fdw_model_proc(&w.model, tids[2])), 21)));
		CHECK_EQ(run_all_jobs(), 1);
	}
	CHECK_EQ(a.calls, 1);
	/* the in-flight step compares the caught-up model with the last read:
	 * 21 is no longer a target difference (a "missing" no round saw);
	 * the others stand, rendered from the model as it is now */
	CHECK(find_diff(get(a.doc, "differences"), 21, "target") == NULL);
	CHECK(json_is_true(get(find_diff(get(a.doc, "differences"), 20, "cloexec"), "model")));
	CHECK(find_diff(get(a.doc, "differences"), 30, "extra") != NULL);
	json_decref(a.doc);
	fdw_pipeline_drain(&w.pipeline); /* the repair */

	/* an unknown pid is answered at once */
	CHECK_EQ(fdw_verify_start(&w.checker, 999999999, answer_done, NULL, &gone, &run),
		 -ENOENT);

	/* the audit: one round at a time */
	fdw_audit_run(&w.checker);
	CHECK(w.checker.audit != NULL);
	fdw_audit_run(&w.checker);
	CHECK_EQ(w.checker.stats.audit_skipped, 1);
	CHECK_EQ(w.checker.stats.runs, 1);
	run_all_jobs(); /* two processes, then the ghost sweep's /proc listing */
	CHECK(w.checker.audit == NULL);
	CHECK_EQ(w.checker.stats.checked, 2);
	/* shutdown with a round in the pool: it ends into nothing */
	fdw_audit_run(&w.checker);
	fdw_checker_stop(&w.checker);
	CHECK(w.checker.audit == NULL);
	run_all_jobs();
	CHECK_EQ(w.checker.stats.checked, 2);
	for (int i = 0; i < 3; i++) {
		(void)kill(kids[i], SIGKILL);
		(void)waitpid(kids[i], NULL, 0);
	}
	world_free(&w);
}

/* A close of `fd` as the ring gives it: through the pipeline (its seq, its
 * history entry), as a drain applies it. */
static void ring_close(struct world *w, uint32_t pid, int fd)
{
	struct fdw_short_event e = {
		.hdr = { .type = FDW_REC_SHORT, .abi = FDW_ABI_VERSION, .size = sizeof(e),
			 .pid = pid, .tid = pid, .ts = 1 },
		.nr = FDW_SYS_CLOSE,
		.ret = 0,
	};

	e.close.fd = fd;
	CHECK_EQ(fdw_pipeline_on_record(&w->pipeline, &e, sizeof(e), ++ring_now), 0);
}

/* A struct fdw_sys_event (or a BADF record) through the pipeline. */
static void ring_sys(struct world *w, uint32_t pid, uint16_t type, uint16_t nr, int64_t ret,
		     uint64_t a0, uint64_t a1)
{
	struct fdw_badf_event b = {
		.sys = { .hdr = { .type = type, .abi = FDW_ABI_VERSION, .pid = pid, .tid = pid,
				  .ts = 1 },
			 .nr = nr, .ret = ret, .args = { a0, a1 } },
		.fd = (int32_t)a0,
	};
	size_t len = type == FDW_REC_BADF ? sizeof(b) : sizeof(b.sys);

	b.sys.hdr.size = (uint16_t)len;
	CHECK_EQ(fdw_pipeline_on_record(&w->pipeline, &b, len, ++ring_now), 0);
}

/* Records that name fd 0 but change no fd there. */
static void window_not_fd_changes(struct world *w, uint32_t pid)
{
	ring_sys(w, pid, FDW_REC_SYSCALL, FDW_SYS_EVENTFD2, 9, 0, 0);
	ring_sys(w, pid, FDW_REC_BADF, FDW_SYS_READ, -EBADF, 0, 0);
	ring_sys(w, pid, FDW_REC_SYSCALL, FDW_SYS_FCNTL, 0, 20, F_SETFD);
}

/* A dup that returned 31 and a close of 21 that failed with EINTR
 * (which closes it on Linux): as if the read came just before them. */
static void window_fd_changes(struct world *w, uint32_t pid)
{
	ring_sys(w, pid, FDW_REC_SYSCALL, FDW_SYS_DUP, 31, 20, 0);
	ring_sys(w, pid, FDW_REC_SYSCALL, FDW_SYS_CLOSE, -EINTR, 21, 0);
}

/* What each job's window holds, for run_window(). */
struct window {
	int fd;		    /* closed in each window from job `from` on; -1: none */
	unsigned int from;
	uint32_t other;	    /* and `nother` closes of another process's fd 5 */
	int nother;
	void (*extra)(struct world *w, uint32_t pid); /* more records of the process */
	bool audit;	    /* an audit round instead of a verify (no doc) */
};

/* Each job (the rounds' /proc reads, then the in-flight step): the work,
 * then the window's records; returns the answer's "ok" (-1: no answer), or
 * for an audit whether its round ended. */
static int run_window(struct world *w, uint32_t tid, const struct window *win, json_t **doc)
{
	struct fdw_verify_run *run;
	struct answer a = { 0 };
	struct fake_job jobs[8];
	unsigned int n, job = 0;

	*doc = NULL;
	if (win->audit)
		fdw_audit_run(&w->checker);
	else
		CHECK_EQ(fdw_verify_start(&w->checker, tid, answer_done, NULL, &a, &run), 0);
	while ((n = take_jobs(jobs)) > 0) {
		for (unsigned int i = 0; i < n; i++, job++) {
			jobs[i].work(jobs[i].arg); /* /proc/PID/fd is read here */
			if (win->fd >= 0 && job >= win->from)
				ring_close(w, tid, win->fd);
			if (win->extra)
				win->extra(w, tid);
			for (int k = 0; k < win->nother; k++)
				ring_close(w, win->other, 5);
			jobs[i].done(jobs[i].arg);
		}
	}
	if (win->audit)
		return w->checker.audit == NULL; /* the round ended */
	if (a.calls != 1)
		return -1;
	*doc = a.doc;
	return json_is_true(get(a.doc, "ok"));
}

/*
 * A process that opens and closes one number in a loop: the record of a
 * change can be applied after the /proc read that did not see it, in
 * every round (the test script's own fdinfo reads, in test_stress). Not a
 * divergence; a difference at an fd no record of the window named still
 * is one, and so is any difference once the windows are quiet.
 */
static void test_window_changes(void)
{
	static struct world w;
	pid_t child = spawn_child();
	uint32_t tid = (uint32_t)child, other = (uint32_t)getpid();
	uint64_t div;
	json_t *doc;

	CHECK(child > 0);
	if (child <= 0)
		return;
	nfake_jobs = 0;
	world_init(&w, 8);
	w.checker.offload = fake_offload;
	CHECK_EQ(fdw_model_add_scanned(&w.model, tid, getpid(), "child", &tid, 1, 1), 0);
	CHECK_EQ(fdw_model_add_scanned(&w.model, other, 1, "self", &other, 1, 1), 0);

	/* every round's window closes fd 20 in the model, after the read saw
	 * it open */
	div = w.checker.stats.divergences;
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = 20 }, &doc), 1);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div);
	CHECK(w.checker.stats.window_changes >= 1);

	/* the model is wrong about 20 now: a quiet check says so */
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = -1 }, &doc), 0);
	CHECK(find_diff(get(doc, "differences"), 20, "missing") != NULL);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 1);
	fdw_pipeline_drain(&w.pipeline); /* the repair */

	/* fd 0 wrong in the model, the windows close 21: 0 still counts */
	apply(&w, tid, FDW_SYS_CLOSE, 0, 0);
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = 21 }, &doc), 0);
	CHECK(find_diff(get(doc, "differences"), 0, "missing") != NULL);
	CHECK(find_diff(get(doc, "differences"), 21, "missing") == NULL);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 2);
	fdw_pipeline_drain(&w.pipeline);

	/* another process's records only: they name no fd of this table */
	apply(&w, tid, FDW_SYS_CLOSE, 0, 0);
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = -1, .other = other,
						       .nother = 3 }, &doc), 0);
	CHECK(find_diff(get(doc, "differences"), 0, "missing") != NULL);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 3);
	fdw_pipeline_drain(&w.pipeline);

	/* the three rounds quiet; the record comes before the in-flight step:
	 * a close that released a bpf_link's last reference inside the
	 * syscall, gone from /proc before its record. The model (fd 30 from a
	 * dup the kernel never made, as if closed since) catches up: not
	 * counted */
	apply(&w, tid, FDW_SYS_DUP, 30, 20);
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = 30, .from = 3 }, &doc), 1);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 3);
	/* the same late record of an fd the model is wrong about the other
	 * way (it lacks 0, which the kernel has): it fixes nothing, counted */
	apply(&w, tid, FDW_SYS_CLOSE, 0, 0);
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = 0, .from = 3 }, &doc), 0);
	CHECK(find_diff(get(doc, "differences"), 0, "missing") != NULL);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 4);
	fdw_pipeline_drain(&w.pipeline);

	/* more records in a window than the history keeps (16 here): which
	 * fds they changed is not known. The audit gives no verdict on the
	 * process (inconclusive: it comes back to it); a verify shows what
	 * it saw, marked unsettled, and neither counts nor re-reads it */
	apply(&w, tid, FDW_SYS_CLOSE, 0, 0);
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = -1, .other = other, .nother = 20,
						       .audit = true }, &doc), 1);
	CHECK(w.checker.stats.inconclusive >= 1);
	CHECK_EQ(w.checker.stats.divergences, div + 4);
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = -1, .other = other,
						       .nother = 20 }, &doc), 0);
	CHECK(json_is_true(get(find_diff(get(doc, "differences"), 0, "missing"), "unsettled")));
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 4);
	fdw_pipeline_drain(&w.pipeline);
	/* and quiet, the audit does count it (and a verify leaves
	 * "unsettled" out) */
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = -1, .audit = true }, &doc), 1);
	CHECK_EQ(w.checker.stats.divergences, div + 5);
	fdw_pipeline_drain(&w.pipeline); /* the repair */

	/* only what changes a table, and only its fds, count in a window:
	 * the model lacks 0 (and the windows hold an eventfd(0) that got 9, a
	 * read failing with EBADF on 0, an F_SETFD on 20 returning 0): 0 is
	 * counted */
	apply(&w, tid, FDW_SYS_CLOSE, 0, 0);
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = -1,
						       .extra = window_not_fd_changes }, &doc), 0);
	CHECK(find_diff(get(doc, "differences"), 0, "missing") != NULL);
	CHECK(get(find_diff(get(doc, "differences"), 0, "missing"), "unsettled") == NULL);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 6);
	fdw_pipeline_drain(&w.pipeline);

	/* what does change it: a dup's new number, a close failing with
	 * EINTR. The model then has 31 and lacks 21, which the kernel read
	 * did not show: not counted */
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = -1,
						       .extra = window_fd_changes }, &doc), 1);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 6);
	/* and no record came to explain them since: a quiet verify shows both */
	CHECK_EQ(run_window(&w, tid, &(struct window){ .fd = -1 }, &doc), 0);
	CHECK(find_diff(get(doc, "differences"), 31, "extra") != NULL);
	CHECK(find_diff(get(doc, "differences"), 21, "missing") != NULL);
	json_decref(doc);
	CHECK_EQ(w.checker.stats.divergences, div + 7);
	fdw_pipeline_drain(&w.pipeline);

	(void)kill(child, SIGKILL);
	(void)waitpid(child, NULL, 0);
	world_free(&w);
}


/* ---- after lost records: processes the model never heard of ----------- */

static char fake_root[] = "/tmp/fdwt-check-XXXXXX";

/* A process in the fake /proc: stat (starting at boot tick 1) and one task. */
static void fake_proc(uint32_t pid, uint32_t ppid, char state, uint32_t flags)
{
	char path[256];
	FILE *f;

	for (int i = 0; i < 3; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s/%u", fake_root, pid);
		else if (i == 1)
			snprintf(path, sizeof(path), "%s/%u/task", fake_root, pid);
		else
			snprintf(path, sizeof(path), "%s/%u/task/%u", fake_root, pid, pid);
		CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
	}
	for (int i = 0; i < 2; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s/%u/stat", fake_root, pid);
		else
			snprintf(path, sizeof(path), "%s/%u/task/%u/stat", fake_root, pid, pid);
		f = fopen(path, "we");
		CHECK(f != NULL);
		if (!f)
			return;
		fprintf(f, "%u (kid%u) %c %u 0 0 0 -1 %u 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\n", pid,
			pid, state, ppid, flags);
		CHECK(fclose(f) == 0);
	}
}

/* The fake kernel's tables: pid*100+fd for fds 0..2 and the pid's own. */
static int fake_extra_fd(uint32_t tid)
{
	return tid == 4010 ? 6 : (int)(tid % 100); /* 4001: 1, 4002: 2 ... */
}

static int fake_read_table(void *u, uint32_t tid,
			   void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_fd_info fi;
	int fds[4] = { 0, 1, 2, 10 + fake_extra_fd(tid) };

	for (int i = 0; i < 4; i++) {
		memset(&fi, 0, sizeof(fi));
		fi.fd = fds[i];
		fi.ino = (uint64_t)tid * 100 + (uint64_t)fds[i];
		fi.dev = 1;
		fi.mode = S_IFREG;
		snprintf(fi.target, sizeof(fi.target), "/f/%u/%d", tid, fds[i]);
		cb(cbdata, &fi);
	}
	return 0;
}

static void fake_world_init(struct world *w)
{
	struct fdw_model_ops ops = { .read_table = fake_read_table };

	fdw_model_init(&w->model, &ops);
	w->model.max_procs = 1000;
	w->model.max_fds = 100000;
	CHECK_EQ(fdw_history_init(&w->history, 16), 0);
	fdw_pipeline_init(&w->pipeline, &w->model, &w->history, fake_root);
	fdw_checker_init(&w->checker, &w->model, &w->pipeline, fake_root, 8);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static bool table_has(struct world *w, uint32_t pid, int fd)
{
	struct fdw_proc *p = fdw_model_proc(&w->model, pid);
	struct fdw_table *t = p ? fdw_model_proc_table(&w->model, p) : NULL;

	return t && fdw_slot_open(fdw_table_slot(t, fd));
}

static bool table_stale(struct world *w, uint32_t pid)
{
	struct fdw_proc *p = fdw_model_proc(&w->model, pid);
	struct fdw_table *t = p ? fdw_model_proc_table(&w->model, p) : NULL;

	return !t || t->stale;
}

/*
 * The model knows 4001 and 4005; /proc lists 4001, 4002 (its fork record
 * lost), 4003 (a zombie), 4004 (a kernel thread), not 4005 (its exit
 * lost). A verify of all reports 4002 missing (not OK); the /proc scan it
 * asks for adds 4002 with its table read, and drops 4005.
 */
static void test_lost_found(void)
{
	static struct world w;
	uint32_t t1 = 4001, t5 = 4005;
	json_t *o, *miss;
	int err = 0;

	CHECK(mkdtemp(fake_root) != NULL);
	fake_proc(4001, 1, 'S', 0);
	fake_proc(4002, 4001, 'S', 0);
	fake_proc(4003, 4001, 'Z', 0);
	fake_proc(4004, 2, 'S', 0x00200000); /* PF_KTHREAD */
	fake_world_init(&w);
	CHECK_EQ(fdw_model_add_scanned(&w.model, 4001, 1, "kid4001", &t1, 1, 1), 0);
	CHECK_EQ(fdw_model_add_scanned(&w.model, 4005, 1, "kid4005", &t5, 1, 1), 0);
	CHECK(table_has(&w, 4001, 11));

	/* before the start-up scan the model claims no completeness */
	o = fdw_verify(&w.checker, 0, &err);
	CHECK(o != NULL);
	CHECK(get(o, "missing_processes") != NULL);
	CHECK_EQ(json_array_size(get(o, "missing_processes")), 0);
	json_decref(o);

	w.pipeline.covers_all = true;
	o = fdw_verify(&w.checker, 0, &err);
	CHECK(o != NULL);
	miss = (json_t *)get(o, "missing_processes");
	CHECK(json_is_false(get(o, "ok")));
	CHECK_EQ(json_array_size(miss), 1);
	CHECK_EQ(json_integer_value(json_array_get(miss, 0)), 4002);
	json_decref(o);
	CHECK_EQ(w.checker.stats.processes_missing, 1);
	CHECK(w.pipeline.discover_wanted);

	/* the drain runs the scan (no pool: here) and the re-read */
	fdw_pipeline_drain(&w.pipeline);
	CHECK_EQ(w.pipeline.stats.discover_runs, 1);
	CHECK_EQ(w.pipeline.stats.discovered, 1);
	CHECK(fdw_model_proc(&w.model, 4002) != NULL);
	CHECK(table_has(&w, 4002, 12));
	CHECK(table_has(&w, 4002, 0));
	CHECK(!table_stale(&w, 4002));
	CHECK_EQ(fdw_model_proc(&w.model, 4002) ? fdw_model_proc(&w.model, 4002)->ppid : 0, 4001);
	CHECK(fdw_model_proc(&w.model, 4003) == NULL); /* zombie */
	CHECK(fdw_model_proc(&w.model, 4004) == NULL); /* kernel thread */
	CHECK(fdw_model_proc(&w.model, 4005) == NULL); /* gone */
	CHECK(fdw_pipeline_resync_pending(&w.pipeline) == 0);

	/* nothing missing any more: verify's list is empty */
	o = fdw_verify(&w.checker, 0, &err);
	CHECK(o != NULL);
	CHECK_EQ(json_array_size(get(o, "missing_processes")), 0);
	json_decref(o);
	world_free(&w);
}

/* A fork record from a parent whose table is stale: the child's copy is
 * stale and queued for its own re-read, although the parent's is queued
 * (or running) already. */
static void test_fork_of_stale(void)
{
	static struct world w;
	struct fdw_task_event t;
	uint32_t t1 = 4001;

	fake_proc(4010, 4001, 'S', 0);
	fake_world_init(&w);
	CHECK_EQ(fdw_model_add_scanned(&w.model, 4001, 1, "kid4001", &t1, 1, 1), 0);
	fdw_pipeline_mark_lost(&w.pipeline, 4001);
	CHECK(table_stale(&w, 4001));
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 1);

	memset(&t, 0, sizeof(t));
	t.hdr.type = FDW_REC_FORK;
	t.hdr.abi = FDW_ABI_VERSION;
	t.hdr.size = sizeof(t);
	t.hdr.pid = t.hdr.tid = 4001;
	t.hdr.ts = 1000;
	t.child_pid = t.child_tid = 4010;
	t.child_files = 0xabc000;
	memcpy(t.comm, "kid4001", 8);
	CHECK_EQ(fdw_pipeline_on_record(&w.pipeline, &t, sizeof(t), 100), 0);
	CHECK(fdw_model_proc(&w.model, 4010) != NULL);
	CHECK(table_stale(&w, 4010));
	CHECK(table_has(&w, 4010, 11)); /* the parent's copy */
	CHECK_EQ(w.pipeline.stats.forks_stale, 1);
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 2);

	fdw_pipeline_drain(&w.pipeline);
	CHECK(!table_stale(&w, 4001));
	CHECK(!table_stale(&w, 4010));
	CHECK(table_has(&w, 4010, 16)); /* its own, as the kernel has it */
	CHECK(!table_has(&w, 4010, 11));
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 0);
	world_free(&w);
	(void)nftw(fake_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A seccomp ADDFD whose target the probe could not tell re-reads every
 * table, but at most every FDW_ADDFD_ALL_EVERY_NS: a supervisor in a nested
 * pid namespace with many notifications pending would otherwise have the
 * host re-read for each ADDFD. The record is counted and never applied.
 */
static void test_addfd_unresolved_spaced(void)
{
	struct world w;

	world_init(&w, 4);
	ring_now = 0;
	ring_sys(&w, 0, FDW_REC_SYSCALL, FDW_SYS_SECCOMP_ADDFD, 5, 0, 0);
	CHECK(fdw_pipeline_drain(&w.pipeline));
	CHECK_EQ(w.pipeline.stats.addfd_unresolved, 1);
	CHECK_EQ(w.pipeline.stats.addfd_rereads, 1);
	/* ten more at once: the next whole re-read waits */
	for (int i = 0; i < 10; i++) {
		ring_sys(&w, 0, FDW_REC_SYSCALL, FDW_SYS_SECCOMP_ADDFD, 5, 0, 0);
		CHECK(fdw_pipeline_drain(&w.pipeline));
	}
	CHECK_EQ(w.pipeline.stats.addfd_unresolved, 11);
	CHECK_EQ(w.pipeline.stats.addfd_rereads, 1);
	CHECK(w.pipeline.addfd_all_wanted);
	/* ... until its time comes: one, for all of them */
	w.pipeline.addfd_all_at -= FDW_ADDFD_ALL_EVERY_NS;
	CHECK(fdw_pipeline_drain(&w.pipeline));
	CHECK(fdw_pipeline_drain(&w.pipeline));
	CHECK_EQ(w.pipeline.stats.addfd_rereads, 2);
	CHECK(!w.pipeline.addfd_all_wanted);
	/* a failed ADDFD installs nothing: not counted */
	ring_sys(&w, 0, FDW_REC_SYSCALL, FDW_SYS_SECCOMP_ADDFD, -EBADF, 0, 0);
	CHECK_EQ(w.pipeline.stats.addfd_unresolved, 11);
	world_free(&w);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/*
 * A process whose threads have tables of their own (one unshared it) is
 * re-read a table at a time in the pool, not whole on the loop: a user
 * holding 15,000 fds with such a thread held the loop about a second for
 * each record asking for a re-read. Both tables end up read and fresh.
 */
static void test_lost_resync_many_tables(void)
{
	static struct world w;
	struct fake_job jobs[8];
	uint32_t tids[2] = { 0, 0 };
	struct fdw_proc *proc;
	struct fdw_task *lt, *tt;
	int ready[2];
	pid_t child;
	unsigned int n;
	char c;
	DIR *d;
	struct dirent *e;
	char path[64];

	if (pipe2(ready, O_CLOEXEC) < 0)
		return;
	child = fork();
	if (child == 0) {
		pthread_t th;

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (pthread_create(&th, NULL, sleeper, NULL) == 0)
			(void)write(ready[1], "x", 1);
		pause();
		_exit(0);
	}
	(void)close(ready[1]);
	CHECK(child > 0 && read(ready[0], &c, 1) == 1);
	(void)close(ready[0]);
	tids[0] = (uint32_t)child;
	snprintf(path, sizeof(path), "/proc/%d/task", child);
	d = opendir(path);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && (uint32_t)atoi(e->d_name) != tids[0])
			tids[1] = (uint32_t)atoi(e->d_name);
	if (d)
		closedir(d);
	CHECK(tids[1] != 0);
	if (!tids[1])
		goto kill;
	world_init(&w, 4);
	w.model.ops.ring_position = fake_ring_position;
	w.pipeline.offload = fake_offload;
	w.pipeline.offload_min_fds = 0; /* every table to the pool, for the test */
	w.pipeline.resync_budget_ns = 60 * 1000000000ull;
	CHECK_EQ(fdw_model_add_scanned(&w.model, tids[0], getpid(), "threads", tids, 2, 1), 0);
	/* the leader's records name one kernel table, the thread's another */
	{
		struct fdw_event ev = { .seq = 1, .ring_pos = 10, .type = FDW_REC_SYSCALL,
					.pid = tids[0], .tid = tids[0], .files = 0xa000,
					.nr = FDW_SYS_CLOSE, .ret = -EBADF, .args = { 999 } };

		fdw_model_apply(&w.model, &ev);
		ev.seq = 2;
		ev.ring_pos = 11;
		ev.tid = tids[1];
		ev.files = 0xb000;
		fdw_model_apply(&w.model, &ev);
	}
	lt = fdw_hashmap_get(&w.model.tasks, tids[0]);
	tt = fdw_hashmap_get(&w.model.tasks, tids[1]);
	CHECK(lt && tt && lt->table && tt->table && lt->table != tt->table);
	proc = fdw_model_proc(&w.model, tids[0]);
	if (proc) {
		struct fdw_proc_tables pt = { 0 };

		CHECK_EQ(fdw_model_proc_tables(&w.model, proc, &pt), 0);
		CHECK_EQ(pt.n, 2);
		fdw_model_proc_tables_free(&pt);
	}
	CHECK(proc);
	if (!lt || !tt || !proc)
		goto out;
	(void)take_jobs(jobs);
	fdw_pipeline_mark_lost(&w.pipeline, tids[0]);
	CHECK(lt->table->stale && tt->table->stale);
	fdw_pipeline_drain(&w.pipeline);
	/* one table in the pool, nothing read on the loop */
	n = take_jobs(jobs);
	CHECK_EQ(n, 1);
	CHECK(lt->table->stale && tt->table->stale);
	ring_now = 300;
	if (n == 1) {
		jobs[0].work(jobs[0].arg);
		jobs[0].done(jobs[0].arg);
	}
	/* then the other */
	n = take_jobs(jobs);
	CHECK_EQ(n, 1);
	CHECK(lt->table->stale != tt->table->stale);
	if (n == 1) {
		jobs[0].work(jobs[0].arg);
		jobs[0].done(jobs[0].arg);
	}
	CHECK(!lt->table->stale && !tt->table->stale);
	CHECK_EQ(w.pipeline.stats.resync_offloaded, 2);
	CHECK_EQ(fdw_pipeline_resync_pending(&w.pipeline), 0);
	CHECK_EQ(proc->lost, 0);
	CHECK(fdw_slot_open(fdw_table_slot(lt->table, 0)) &&
	      fdw_slot_open(fdw_table_slot(tt->table, 0)));
out:
	world_free(&w);
kill:
	(void)kill(child, SIGKILL);
	(void)waitpid(child, NULL, 0);
}

int main(void)
{
	test_verify();
	test_verify_names_refused();
	test_verify_running();
	test_audit();
	test_lost_resync();
	test_lost_resync_offloaded();
	test_lost_resync_partial();
	test_snapshot_older_than_reread();
	test_snapshot_other_reads_notes();
	test_partial_dup_from_wrong_source();
	test_partial_fioclex_missing_fd();
	test_partial_two_reads_one_table();
	test_partial_loss_during_read();
	test_partial_touched_left();
	test_partial_close_minus_one();
	test_offloaded_groups();
	test_verify_offloaded();
	test_window_changes();
	test_lost_found();
	test_fork_of_stale();
	test_addfd_unresolved_spaced();
	test_lost_resync_many_tables();
	return check_summary();
}
