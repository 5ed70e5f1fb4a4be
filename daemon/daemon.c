// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The wiring layer (daemon.h): modules are created, connected and started
 * here and nowhere else. Follow one record: capture/ (ring) ->
 * pipeline/ (decode, model, history) -> model observers (detect/) and the
 * pipeline's on_event (server/ follow streams); queries come in through
 * server/, which asks the pipeline to drain before it answers.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "base/clock.h"
#include "base/lockfile.h"
#include "base/log.h"
#include "capture/capture.h"
#include "capture/snapshot.h"
#include "daemon.h"
#include "server/server.h"
#include "sys/procfs.h"

#define TICK_MS 1000
#define SAVE_EVERY_TICKS 5 /* the alert store is written at most this often (and at exit) */
#define STATE_LOCK "fdwatchd.lock" /* in the state directory */

/* ---- model <-> /proc -------------------------------------------------- */

static int ops_read_fd(void *userdata, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	struct fdw_daemon *d = userdata;

	return fdw_proc_read_fd(d->cfg.proc_root, tid, fd, out);
}

static int ops_read_target(void *userdata, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	struct fdw_daemon *d = userdata;

	return fdw_procfs_read_target(d->procfs, tid, fd, out);
}

/* During the start-up scan the pipeline holds a snapshot of every table
 * (one BPF iterator pass): it answers first; what it does not hold (tasks
 * born since) is asked of /proc and kcmp. */

static int ops_same_table(void *userdata, uint32_t tid1, uint32_t tid2)
{
	struct fdw_daemon *d = userdata;
	int r = fdw_snapshot_same_table(d->pipeline.snapshot, tid1, tid2);

	return r != -ENOENT ? r : fdw_proc_same_table(tid1, tid2);
}

static int ops_read_table(void *userdata, uint32_t tid,
			  void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_daemon *d = userdata;
	int r;

	/* after the start-up scan this runs in the thread pool too (re-reads
	 * after lost records): it touches nothing of the daemon's then */
	if (!d->pipeline.snapshot)
		return fdw_proc_read_table(d->cfg.proc_root, tid, cb, cbdata);
	r = fdw_snapshot_read_table(d->pipeline.snapshot, d->procfs, tid, cb, cbdata);
	d->snap_read_tid = 0;
	if (r != -ENOENT) {
		/* as of when the iterator read this task, not as of now */
		d->snap_read_tid = tid;
		d->snap_read_pos = fdw_snapshot_position(d->pipeline.snapshot, tid);
		d->snap_read_end = fdw_snapshot_read_end(d->pipeline.snapshot, tid);
		if (!d->snap_read_pos) {
			d->snap_read_pos = d->pipeline.snapshot_pos;
			d->snap_read_end = 0; /* unknown: the model takes now's */
		}
		return r;
	}
	return fdw_proc_read_table(d->cfg.proc_root, tid, cb, cbdata);
}

static uint64_t ops_table_position(void *userdata, uint32_t tid, uint64_t *end)
{
	struct fdw_daemon *d = userdata;

	if (!d->pipeline.snapshot || !d->snap_read_tid || d->snap_read_tid != tid)
		return 0;
	*end = d->snap_read_end;
	return d->snap_read_pos;
}

/* One bpf() call and one read for the whole table's names. */
static int ops_read_targets(void *userdata, uint32_t tid,
			    void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_daemon *d = userdata;
	struct fdw_snapshot *s;
	int r;

	if (!d->snapshotter)
		return -ENOTSUP;
	r = fdw_snapshot_take(d->snapshotter, tid, &s);
	if (r < 0)
		return r;
	r = fdw_snapshot_read_table(s, d->procfs, tid, cb, cbdata);
	fdw_snapshot_free(s);
	return r == -ENOENT ? 0 : r; /* no fd at all */
}

/* The same from libuv's thread pool: its own iterator links and its own
 * /proc directory cache (d->procfs is the loop's); the snapshot programs
 * and the configuration do not change while the daemon runs, and the loop
 * runs until the work is done before the daemon is freed. Without them,
 * /proc itself (fd by fd, in this thread). */
static int ops_read_targets_mt(void *userdata, uint32_t tid,
			       void (*cb)(void *cbdata, const struct fdw_fd_info *fi),
			       void *cbdata)
{
	struct fdw_daemon *d = userdata;
	struct fdw_procfs *pf = NULL;
	struct fdw_snapshot *s = NULL;
	int r = d->snapshotter ? fdw_snapshot_take(d->snapshotter, tid, &s) : -ENOTSUP;

	if (r == 0)
		r = fdw_procfs_new(&pf, d->cfg.proc_root);
	if (r == 0) {
		r = fdw_snapshot_read_table(s, pf, tid, cb, cbdata);
		r = r == -ENOENT ? 0 : r; /* no fd at all */
	} else {
		log_debug("names of task %u: snapshot: %s; /proc instead", tid, strerror(-r));
		r = fdw_proc_read_table(d->cfg.proc_root, tid, cb, cbdata);
	}
	fdw_procfs_free(pf);
	fdw_snapshot_free(s);
	return r;
}

static int ops_same_file(void *userdata, uint32_t tid1, int fd1, uint32_t tid2, int fd2)
{
	return fdw_proc_same_file(tid1, fd1, tid2, fd2);
}

static int ops_cmp_file(void *userdata, uint32_t tid1, int fd1, uint32_t tid2, int fd2)
{
	struct fdw_daemon *d = userdata;
	int r = fdw_snapshot_cmp_file(d->pipeline.snapshot, tid1, fd1, tid2, fd2);

	return r != -ENOENT ? r : fdw_proc_cmp_file(tid1, fd1, tid2, fd2);
}

static uint64_t ops_ring_position(void *userdata)
{
	struct fdw_daemon *d = userdata;

	/* a table the snapshot served says its own (ops_table_position) */
	return d->capture ? fdw_capture_position(d->capture) : 0;
}

static int ops_read_proc(void *userdata, uint32_t pid, char comm[16], uint32_t *ppid)
{
	struct fdw_daemon *d = userdata;

	return fdw_proc_read_stat(d->cfg.proc_root, pid, comm, ppid);
}

/* ---- detectors follow the model --------------------------------------- */

/* The observer is registered at init, before the detectors exist, and
 * outlives them at shutdown (the model's last exits are no process exits):
 * it forwards only while they run. */

static void obs_fd_event(void *userdata, struct fdw_proc *p, const struct fdw_event *ev,
			 enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *slot)
{
	struct fdw_daemon *d = userdata;

	if (d->leaks)
		fdw_leaks_on_fd_event(d->leaks, p, ev, kind, fd, slot);
}

static void obs_proc_exit(void *userdata, struct fdw_proc *p)
{
	struct fdw_daemon *d = userdata;

	if (d->leaks)
		fdw_leaks_on_proc_exit(d->leaks, p);
}

/* ---- libuv's thread pool: the pipeline's /proc re-reads, the alert store -- */

struct offload_req {
	uv_work_t req;
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
};

static void offload_work(uv_work_t *req)
{
	struct offload_req *o = req->data;

	o->work(o->arg);
}

static void offload_after(uv_work_t *req, int status)
{
	struct offload_req *o = req->data;

	/* status is UV_ECANCELED only after uv_cancel, which nobody calls */
	o->done(o->arg);
	free(o);
}

static int offload(void *userdata, void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
	struct fdw_daemon *d = userdata;
	struct offload_req *o = calloc(1, sizeof(*o));
	int r;

	if (!o)
		return -ENOMEM;
	o->work = work;
	o->done = done;
	o->arg = arg;
	o->req.data = o;
	r = uv_queue_work(d->loop, &o->req, offload_work, offload_after);
	if (r < 0)
		free(o);
	return r;
}

/* ---- the alert store is written in the thread pool ---------------------- */

/* The worker reads d->save_job, set before the job is queued and cleared
 * in save_done, on the loop, after the worker is done. */
static void save_work(void *arg)
{
	struct fdw_daemon *d = arg;

	fdw_alerts_save_write(d->save_job);
}

static void save_done(void *arg)
{
	struct fdw_daemon *d = arg;

	(void)fdw_alerts_save_end(&d->alerts, d->save_job);
	d->save_job = NULL;
}

/*
 * Every 5 s at most, and a big store less often (1 s per MiB it took: a
 * user's churn of long-evidence alerts made it write 21 MB every 5 s).
 * The loop takes a copy; serialising, writing and fsyncing it wait on
 * the disk, which a stalled or frozen file system can make forever.
 */
static void save_alerts(struct fdw_daemon *d)
{
	int r;

	if (d->save_job || !d->alerts.dirty || d->ticks - d->saved_tick < SAVE_EVERY_TICKS ||
	    d->ticks - d->saved_tick < (d->alerts.saved_bytes >> 20))
		return;
	d->saved_tick = d->ticks;
	d->save_job = fdw_alerts_save_begin(&d->alerts);
	if (!d->save_job)
		return;
	r = offload(d, save_work, save_done, d);
	if (r < 0) {
		/* counted as a failed save; the next tick tries again */
		fdw_alerts_save_cancel(&d->alerts, d->save_job, r);
		d->save_job = NULL;
	}
}

/* ---- freed memory goes back to the system after a burst ---------------- */

static void trim_work(void *arg)
{
	struct fdw_daemon *d = arg;

	fdw_memtrim_run(&d->trim_job);
}

static void trim_done(void *arg)
{
	struct fdw_daemon *d = arg;
	const struct fdw_memtrim_job *j = &d->trim_job;

	fdw_memtrim_done(&d->memtrim, j, fdw_memtrim_heap(&d->memtrim, fdw_now_mono(), true, NULL));
	log_info("memory: RSS %llu -> %llu MiB after a burst (malloc_trim: %.1f ms)",
		 (unsigned long long)(j->rss_before >> 20), (unsigned long long)(j->rss_after >> 20),
		 (double)j->ns / 1e6);
}

/* Every tick: the heap in use against its peak (base/memtrim.h says when). */
static void trim_memory(struct fdw_daemon *d)
{
	uint64_t now = fdw_now_mono(), last = d->memtrim.last_ns;

	if (!fdw_memtrim_tick(&d->memtrim, fdw_memtrim_heap(&d->memtrim, now, false, NULL), now))
		return;
	if (offload(d, trim_work, trim_done, d) < 0) {
		d->memtrim.running = false; /* the next tick tries again */
		d->memtrim.last_ns = last;
	}
}

/* ---- the server follows the pipeline and the alerts -------------------- */

static void on_pipeline_event(void *userdata, const struct fdw_history_entry *e)
{
	struct fdw_daemon *d = userdata;

	if (d->server)
		fdw_server_publish_event(d->server, e);
}

static void on_pipeline_lost(void *userdata, uint64_t since_seq, const struct fdw_hashmap *tgids)
{
	struct fdw_daemon *d = userdata;

	fdw_server_records_lost(d->server, since_seq, tgids);
}

static void on_alert_change(void *userdata, const struct fdw_alert *a, bool updated)
{
	struct fdw_daemon *d = userdata;

	if (updated || !d->server)
		return; /* followers see fires and resolves, not refreshes */
	fdw_server_publish_alert(d->server, a);
}

/* ---- lifecycle --------------------------------------------------------- */

/* Lock `path` for `what`; one line on failure. */
static int take_lock(const char *path, const char *what, int *fd)
{
	pid_t holder = 0;
	int r = fdw_lockfile_take(path, fd, &holder);

	if (r == -EWOULDBLOCK) {
		char pid[32] = "pid unknown";

		if (holder > 0)
			snprintf(pid, sizeof(pid), "pid %ld", (long)holder);
		log_err("%s: another fdwatchd (%s) holds %s; exiting", what, pid, path);
	} else if (r == -EINVAL) {
		log_err("%s: lock file %s is not a regular file; exiting", what, path);
	} else if (r == -ELOOP) {
		log_err("%s: lock file %s is a symbolic link (not followed); exiting", what, path);
	} else if (r < 0) {
		log_err("%s: cannot lock %s: %s", what, path, strerror(-r));
	}
	return r;
}

int fdw_daemon_lock(struct fdw_daemon *d)
{
	char *path;
	size_t len;
	int r;

	d->host_lock_fd = d->state_lock_fd = -1;
	r = take_lock(d->cfg.lock_file, "one fdwatchd per host", &d->host_lock_fd);
	if (r < 0)
		return r;
	if (!d->cfg.state_dir || !*d->cfg.state_dir)
		return 0; /* nothing persisted: nothing to share */
	len = strlen(d->cfg.state_dir) + sizeof("/" STATE_LOCK);
	path = malloc(len);
	if (!path) {
		log_err("state directory lock: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	snprintf(path, len, "%s/%s", d->cfg.state_dir, STATE_LOCK);
	r = take_lock(path, "state directory", &d->state_lock_fd);
	free(path);
	return r;
}

void fdw_daemon_unlock(struct fdw_daemon *d)
{
	if (d->state_lock_fd >= 0)
		(void)close(d->state_lock_fd);
	if (d->host_lock_fd >= 0)
		(void)close(d->host_lock_fd);
	d->state_lock_fd = d->host_lock_fd = -1;
}

/* fs.nr_open: the largest fd table the kernel allows, so no fd number above */
static uint64_t read_nr_open(void)
{
	char buf[32] = "";
	unsigned long long v;
	char *end;
	ssize_t n;
	int fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 1u << 20;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 1u << 20;
	buf[n] = '\0';
	v = strtoull(buf, &end, 10);
	if (end == buf || (*end && *end != '\n') || !v)
		return 1u << 20;
	return v;
}

int fdw_daemon_init(struct fdw_daemon *d, uv_loop_t *loop)
{
	struct fdw_model_ops ops = {
		.read_fd = ops_read_fd,
		.read_target = ops_read_target,
		.same_table = ops_same_table,
		.read_table = ops_read_table,
		.read_targets = ops_read_targets,
		.read_targets_mt = ops_read_targets_mt,
		.table_position = ops_table_position,
		.read_proc = ops_read_proc,
		.same_file = ops_same_file,
		.cmp_file = ops_cmp_file,
		.ring_position = ops_ring_position,
		.userdata = d,
	};
	int r;

	/* kcmp() takes pids of our own PID namespace: with another /proc (a
	 * daemon in a container reading the host's: the service tests) the
	 * model does without it: no open file descriptions or fd tables
	 * recognised as shared (a failing kcmp per candidate made the scan of
	 * a process with 20000 fds on one inode quadratic) */
	if (strcmp(d->cfg.proc_root, "/proc")) {
		ops.same_table = NULL;
		ops.same_file = NULL;
		ops.cmp_file = NULL;
		log_notice("proc root %s: shared files and tables are not recognised",
			   d->cfg.proc_root);
	}
	d->loop = loop;
	fdw_memtrim_init(&d->memtrim);
	r = fdw_procfs_new(&d->procfs, d->cfg.proc_root);
	if (r < 0)
		return r;
	fdw_model_init(&d->model, &ops);
	r = fdw_model_add_observer(&d->model, &(struct fdw_model_observer){
		.name = "leaks",
		.on_fd_event = obs_fd_event,
		.on_proc_exit = obs_proc_exit,
		.userdata = d,
	});
	if (r < 0)
		return r;
	d->leaks_obs = r;
	d->model.max_procs = d->cfg.max_procs;
	d->model.max_fd_number = read_nr_open();
	d->model.max_fds = d->cfg.max_fds;
	d->model.max_name_bytes = d->cfg.max_name_bytes;
	/* the histories' names are among those: a quarter at most (64 MiB by
	 * default), so that closed fds cannot take the room of open ones */
	d->model.max_history_bytes = d->cfg.max_name_bytes / 4;
	r = fdw_history_init(&d->history, d->cfg.history_size);
	if (r < 0)
		return r;
	fdw_pipeline_init(&d->pipeline, &d->model, &d->history, d->cfg.proc_root);
	d->pipeline.on_event = on_pipeline_event;
	d->pipeline.on_lost = on_pipeline_lost;
	d->pipeline.userdata = d;
	d->pipeline.offload = offload;
	d->pipeline.offload_userdata = d;
	fdw_checker_init(&d->checker, &d->model, &d->pipeline, d->cfg.proc_root,
			 d->cfg.audit_sample);
	d->checker.offload = offload;
	d->checker.offload_userdata = d;
	d->start_mono_ns = fdw_now_mono();
	return 0;
}

static int open_capture(struct fdw_daemon *d)
{
	struct fdw_capture_opts o = {
		.ringbuf_bytes = d->cfg.ringbuf_bytes,
		.wakeup_bytes = d->cfg.ringbuf_bytes / 4,
		.consume_interval_ms = d->cfg.consume_interval_ms,
		.precise_ts = d->cfg.precise_ts,
		.races_io = d->cfg.races_io,
		.self_tgid = (uint32_t)getpid(),
		.on_record = fdw_pipeline_on_record,
		.on_batch = fdw_pipeline_on_batch,
		.on_stale = fdw_pipeline_on_stale,
		.userdata = &d->pipeline,
	};
	int r;

	r = fdw_capture_open(&d->capture, &o);
	if (r < 0)
		return r;
	fdw_pipeline_attach(&d->pipeline, d->capture);
	/* the iterators: the start-up scan, and whole tables' names at once
	 * (the model reads /proc instead when they do not load) */
	if (!d->cfg.proc_root || !strcmp(d->cfg.proc_root, "/proc")) {
		r = fdw_snapshotter_new(&d->snapshotter, fdw_capture_ring_fd(d->capture));
		if (r < 0)
			log_warning("BPF task_file iterator unavailable (%s): the start-up scan "
				    "and name refreshes read /proc fd by fd",
				    strerror(-r));
		d->pipeline.snapshotter = d->snapshotter;
	}
	return fdw_capture_start(d->capture, d->loop);
}

static void notify_status(struct fdw_daemon *d)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notifyf(0, "STATUS=%" PRIu64 " processes, %" PRIu64 " fds, %" PRIu64
			    " events, %" PRIu64 " lost%s",
			 (uint64_t)fdw_hashmap_size(&d->model.procs), d->model.stats.fds,
			 d->pipeline.stats.events_received,
			 fdw_pipeline_lost(&d->pipeline, NULL, 0, NULL),
			 d->reload_failed ? "; last reload failed, old configuration kept" : "");
#endif
}

/* Every second: lost records are noticed even when nobody asks; the
 * watchdog is fed from the loop, so a stuck loop is restarted. */
#define TICK_DRAIN_BUDGET_NS (20 * 1000000ull)

static void on_tick(uv_timer_t *t)
{
	struct fdw_daemon *d = t->data;
	uint64_t now = uv_now(d->loop);

	/* how late it fired: the longest the loop was kept from its work */
	if (d->tick_due_ms && now > d->tick_due_ms &&
	    now - d->tick_due_ms > d->pipeline.stats.loop_lag_max_ms)
		d->pipeline.stats.loop_lag_max_ms = now - d->tick_due_ms;
	d->tick_due_ms = now + TICK_MS;
	/* bounded: a backlog is the capture's slices' to work off, between
	 * requests; the tick only notices losses once caught up */
	(void)fdw_pipeline_drain_for(&d->pipeline, TICK_DRAIN_BUDGET_NS);
	d->ticks++;
	if (d->leaks)
		fdw_leaks_tick(d->leaks, fdw_now_mono(), fdw_now_real());
	fdw_alerts_tick(&d->alerts, fdw_now_real()); /* rate-limited lines' summaries */
	save_alerts(d);
	trim_memory(d);
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "WATCHDOG=1");
#endif
	notify_status(d);
}

static void on_audit(uv_timer_t *t)
{
	struct fdw_daemon *d = t->data;

	if (d->ready)
		fdw_audit_run(&d->checker);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct fdw_daemon *d = h->data;

	log_info("%s, shutting down", strsignal(signum));
	fdw_daemon_stop(d);
}

static void on_sighup(uv_signal_t *h, int signum)
{
	(void)fdw_daemon_reload(h->data);
}

/* (Re)start the audit timer from cfg.audit_interval_s (0: off). */
static void arm_audit(struct fdw_daemon *d)
{
	uint64_t audit_ms = (uint64_t)d->cfg.audit_interval_s * 1000;

	(void)uv_timer_stop(&d->audit);
	if (audit_ms && d->cfg.audit_sample)
		(void)uv_timer_start(&d->audit, on_audit, audit_ms, audit_ms);
}

static void start_timers(struct fdw_daemon *d)
{
	/* the loop's clock stood still through the start-up (probes, scan):
	 * without this, the first tick counted all of it as loop lag */
	uv_update_time(d->loop);
	(void)uv_timer_init(d->loop, &d->tick);
	d->tick.data = d;
	(void)uv_timer_start(&d->tick, on_tick, TICK_MS, TICK_MS);
	d->tick_due_ms = uv_now(d->loop) + TICK_MS;
	(void)uv_timer_init(d->loop, &d->audit);
	d->audit.data = d;
	arm_audit(d);
	(void)uv_signal_init(d->loop, &d->sig_term);
	(void)uv_signal_init(d->loop, &d->sig_int);
	(void)uv_signal_init(d->loop, &d->sig_hup);
	d->sig_term.data = d->sig_int.data = d->sig_hup.data = d;
	(void)uv_signal_start(&d->sig_term, on_signal, SIGTERM);
	(void)uv_signal_start(&d->sig_int, on_signal, SIGINT);
	(void)uv_signal_start(&d->sig_hup, on_sighup, SIGHUP);
}

int fdw_daemon_reload(struct fdw_daemon *d)
{
	struct fdw_config next;
	struct fdw_config_error err;
	char restart[512];
	int r, n;

#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "RELOADING=1");
#endif
	d->reloads++;
	/* a small local file (at most FDW_CONFIG_MAX_BYTES): read on the loop */
	fdw_config_defaults(&next);
	r = fdw_config_load(&next, d->argc, d->argv, &err);
	if (r != 0) {
		d->reload_failures++;
		d->reload_failed = true;
		log_err("reload: %s; keeping the configuration in effect",
			err.msg[0] ? err.msg : "invalid command line");
		fdw_config_free(&next);
		r = -EINVAL;
		goto out;
	}
	n = fdw_config_merge_reload(&d->cfg, &next, restart, sizeof(restart));
	fdw_config_free(&next);
	d->reload_failed = false;
	fdw_log_set_max(d->cfg.verbose ? LOG_DEBUG : LOG_INFO);
	d->checker.audit_sample = d->cfg.audit_sample;
	if (d->ready)
		arm_audit(d);
	fdw_leaks_set_config(d->leaks, &d->cfg.leak);
	/* the access group may have been created (or its gid changed) since */
	if (d->server && fdw_server_reload_access(d->server) < 0)
		log_warning("reload: the socket's access group could not be resolved again");
	if (restart[0])
		log_warning("reload: changed in %s but kept until a restart: %s",
			    d->cfg.config_file, restart);
	log_info("reload: configuration read from %s, %d setting%s changed",
		 d->cfg.config_file, n, n == 1 ? "" : "s");
out:
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "READY=1");
#endif
	notify_status(d);
	return r;
}

/*
 * The alert store (a corrupt file is reported and set aside: not a reason
 * to stop) and the detectors, which follow the model as its observer.
 */
static int start_detectors(struct fdw_daemon *d)
{
	char buf[2048];
	int r;

	r = fdw_alerts_init(&d->alerts, d->cfg.max_alerts, d->cfg.state_dir);
	if (r < 0)
		return r;
	d->alerts.on_change = on_alert_change;
	d->alerts.userdata = d;
	(void)fdw_alerts_load(&d->alerts, fdw_now_real());
	r = fdw_leaks_new(&d->leaks, &d->cfg.leak,
			  &(struct fdw_leaks_deps){ .model = &d->model, .alerts = &d->alerts,
						    .capture = d->capture,
						    .proc_root = d->cfg.proc_root });
	if (r < 0)
		return r;
	fdw_leaks_set_observer_index(d->leaks, d->leaks_obs);
	/* the model tells the observer only what some detector wants (bit 0:
	 * a kind that does not exist, when none wants any) */
	(void)fdw_model_set_observer_events(&d->model, d->leaks_obs,
					    fdw_leaks_fd_events(d->leaks) ?: FDW_FDEV_BIT(0));
	(void)fdw_leak_config_print(&d->cfg.leak, buf, sizeof(buf));
	log_debug("leak detectors: %s", buf);
	return 0;
}

static int start_server(struct fdw_daemon *d)
{
	struct fdw_server_opts o = {
		.socket_path = d->cfg.socket_path,
		.metrics_listen = d->cfg.metrics_listen,
		.max_clients = d->cfg.max_clients,
		.metrics_top = d->cfg.metrics_top,
		.socket_group = d->cfg.socket_group,
		.metrics_all_commands = d->cfg.metrics_all_commands,
		.max_procs = d->cfg.max_procs,
		.max_fds = d->cfg.max_fds,
	};
	struct fdw_server_deps deps = {
		.model = &d->model,
		.history = &d->history,
		.pipeline = &d->pipeline,
		.checker = &d->checker,
		.alerts = &d->alerts,
		.leaks = d->leaks,
		.memtrim = &d->memtrim,
		.ready = &d->ready,
		.start_mono_ns = d->start_mono_ns,
	};
	int r;

	r = fdw_server_start(&d->server, d->loop, &o, &deps);
	if (r < 0) {
		log_err("cannot serve on %s: %s", d->cfg.socket_path, strerror(-r));
		return r;
	}
	return fdw_server_start_metrics(d->server); /* logs its own errors */
}

int fdw_daemon_start(struct fdw_daemon *d)
{
	int r;

	r = open_capture(d);
	if (r < 0)
		return r;
	r = fdw_pipeline_scan(&d->pipeline);
	if (r < 0) {
		log_err("cannot scan %s: %s", d->cfg.proc_root, strerror(-r));
		goto fail;
	}
	fdw_pipeline_drain(&d->pipeline);
	r = start_detectors(d);
	if (r < 0) {
		log_err("leak detectors: %s", strerror(-r));
		goto fail;
	}
	/* the server is handed the detectors: after them */
	r = start_server(d);
	if (r < 0)
		goto fail;
	start_timers(d);
	d->ready = true;
	log_info("ready: %zu processes, %llu fds, serving on %s",
		 fdw_hashmap_size(&d->model.procs), (unsigned long long)d->model.stats.fds,
		 d->cfg.socket_path);
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "READY=1");
#endif
	notify_status(d);
	return 0;
fail:
	fdw_server_stop(d->server);
	fdw_capture_stop(d->capture);
	return r;
}

void fdw_daemon_stop(struct fdw_daemon *d)
{
	if (!d->ready)
		return;
	d->ready = false;
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, "STOPPING=1");
#endif
	fdw_server_stop(d->server);
	fdw_checker_stop(&d->checker);
	fdw_capture_stop(d->capture);
	uv_close((uv_handle_t *)&d->tick, NULL);
	uv_close((uv_handle_t *)&d->audit, NULL);
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
}

void fdw_daemon_free(struct fdw_daemon *d)
{
	fdw_server_free(d->server);
	d->server = NULL;
	/* the detectors before the capture (they stop stack capture) and the
	 * model (its exits at shutdown are no process exits) */
	fdw_leaks_free(d->leaks);
	d->leaks = NULL;
	/* uv_run() returned: no save is in flight (its request kept the loop) */
	assert(!d->save_job);
	(void)fdw_alerts_save(&d->alerts);
	fdw_alerts_free(&d->alerts);
	fdw_snapshotter_free(d->snapshotter);
	d->snapshotter = NULL;
	d->pipeline.snapshotter = NULL;
	fdw_capture_free(d->capture);
	d->capture = NULL;
	d->pipeline.capture = NULL;
	fdw_model_free(&d->model);
	fdw_history_free(&d->history);
	fdw_pipeline_free(&d->pipeline);
	fdw_procfs_free(d->procfs);
	d->procfs = NULL;
}
