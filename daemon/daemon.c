// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The event pipeline: every ring-buffer record goes
 *   capture.c (ring) -> here: decode -> model -> history -> API followers
 * plus what keeps the model honest: the initial /proc scan and the
 * re-reading of tables whose records the kernel lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "server/api.h"
#include "capture/capture.h"
#include "daemon.h"
#include "capture/decode.h"
#include "sys/procfs.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t fdw_now_mono(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

double fdw_daemon_realtime(const struct fdw_daemon *d, uint64_t mono_ns)
{
	return (double)((int64_t)mono_ns + d->mono_to_real_ns) / 1e9;
}

/* ---- model <-> /proc -------------------------------------------------- */

static int ops_read_fd(void *userdata, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	struct fdw_daemon *d = userdata;

	return fdw_proc_read_fd(d->cfg.proc_root, tid, fd, out);
}

static int ops_read_target(void *userdata, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	struct fdw_daemon *d = userdata;

	return fdw_proc_read_target(d->cfg.proc_root, tid, fd, out);
}

static int ops_same_table(void *userdata, uint32_t tid1, uint32_t tid2)
{
	return fdw_proc_same_table(tid1, tid2);
}

static int ops_read_table(void *userdata, uint32_t tid,
			  void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_daemon *d = userdata;

	return fdw_proc_read_table(d->cfg.proc_root, tid, cb, cbdata);
}

static int ops_same_file(void *userdata, uint32_t tid1, int fd1, uint32_t tid2, int fd2)
{
	return fdw_proc_same_file(tid1, fd1, tid2, fd2);
}

static uint64_t ops_ring_position(void *userdata)
{
	struct fdw_daemon *d = userdata;

	return fdw_capture_position(d->capture);
}

static int ops_read_proc(void *userdata, uint32_t pid, char comm[16], uint32_t *ppid)
{
	struct fdw_daemon *d = userdata;

	return fdw_proc_read_stat(d->cfg.proc_root, pid, comm, ppid);
}

/* The leak detectors (daemon/leaks.c) follow the model's changes. */
static void ops_on_fd_event(void *userdata, struct fdw_proc *p, const struct fdw_event *ev,
			    int kind, int fd, const struct fdw_slot *slot)
{
	struct fdw_daemon *d = userdata;

	if (d->leaks)
		fdw_leaks_on_fd_event(d->leaks, p, ev, kind, fd, slot);
}

static void ops_on_proc_exit(void *userdata, struct fdw_proc *p)
{
	struct fdw_daemon *d = userdata;

	if (d->leaks)
		fdw_leaks_on_proc_exit(d->leaks, p);
}

/* ---- records ---------------------------------------------------------- */

/*
 * Syscall records carry jiffies (cheap); task records carry CLOCK_MONOTONIC
 * and jiffies together. Convert the former with the latest pair: exact to
 * within one tick. Before the first pair, the time of consumption stands in.
 */
static void normalize_ts(struct fdw_daemon *d, struct fdw_event *ev)
{
	if (ev->type == FDW_REC_FORK || ev->type == FDW_REC_EXEC || ev->type == FDW_REC_EXIT) {
		if (ev->hz) {
			d->ns_per_jiffy = 1000000000ull / ev->hz;
			d->cal_mono_ns = ev->ts;
			d->cal_jiffies = ev->jiffies;
		}
		return;
	}
	if (!(ev->flags & FDW_F_JIFFIES))
		return;
	if (d->ns_per_jiffy)
		ev->ts = d->cal_mono_ns +
			 (uint64_t)((int64_t)(ev->ts - d->cal_jiffies) * (int64_t)d->ns_per_jiffy);
	else
		ev->ts = fdw_now_mono();
}

static int on_record(void *userdata, const void *data, size_t size, uint64_t pos)
{
	struct fdw_daemon *d = userdata;
	const struct fdw_history_entry *he;
	struct fdw_proc *p;
	struct fdw_event ev;
	int r;

	d->events_received++;
	r = fdw_decode(data, size, &ev);
	if (r < 0) {
		if (d->events_bad++ == 0)
			log_err("undecodable record (%s, %zu bytes): "
					"probe/daemon ABI mismatch?", strerror(-r), size);
		/* a record we cannot read is a lost record for every table */
		fdw_model_mark_all_stale(&d->model);
		d->resync_all = true;
		return 0;
	}
	ev.seq = ++d->seq;
	ev.ring_pos = pos;
	normalize_ts(d, &ev);
	/* ring order is time order: keep stamps from running backwards when a
	 * fresh calibration pair moves the conversion by part of a tick */
	if (ev.ts < d->last_ts)
		ev.ts = d->last_ts;
	d->last_ts = ev.ts;
	fdw_model_apply(&d->model, &ev);
	if (fdw_capture_fanotify_event(d->capture, &ev)) {
		p = fdw_model_proc(&d->model, ev.pid);
		if (p)
			(void)fdw_model_resync_proc(&d->model, p);
	}
	p = fdw_model_proc(&d->model, ev.pid);
	he = fdw_history_push(&d->history, &ev, p ? p->comm : ev.comm);
	fdw_api_publish(d, he);
	return 0;
}

/* ---- lost records ----------------------------------------------------- */

/*
 * Re-read a process's tables; one that /proc no longer has exited while its
 * records were lost (its exit among them): forget it rather than keep a
 * phantom.
 */
static void resync_or_drop(struct fdw_daemon *d, struct fdw_proc *p)
{
	char path[64];

	if (fdw_model_resync_proc(&d->model, p) != -ESRCH)
		return;
	snprintf(path, sizeof(path), "%s/%u", d->cfg.proc_root, p->pid);
	if (access(path, F_OK) < 0 && errno == ENOENT)
		fdw_model_drop_proc(&d->model, p);
}

static void resync_everything(struct fdw_daemon *d)
{
	size_t it = 0;
	uint64_t key;
	void *v;
	uint32_t *pids = malloc((fdw_hashmap_size(&d->model.procs) + 1) * sizeof(*pids));
	size_t n = 0;

	if (!pids)
		return;
	while (fdw_hashmap_next(&d->model.procs, &it, &key, &v))
		pids[n++] = (uint32_t)key;
	for (size_t i = 0; i < n; i++) {
		struct fdw_proc *p = fdw_model_proc(&d->model, pids[i]);

		if (p)
			resync_or_drop(d, p);
	}
	free(pids);
	d->resync_all = false;
}

/*
 * The kernel counts records it could not queue, per CPU, and which
 * processes they belonged to. Mark those processes' tables stale and re-read
 * them from /proc now; if the per-process map overflowed, re-read all.
 */
static void handle_lost(struct fdw_daemon *d)
{
	uint64_t lost = fdw_capture_lost(d->capture, NULL, 0, NULL), accounted = 0;
	uint32_t pids[256];
	unsigned int n;

	if (lost == d->lost_seen && !d->resync_all)
		return;
	if (lost != d->lost_seen)
		log_warning("kernel lost %llu records (ring buffer full); "
				"re-reading the affected tables from /proc",
			(unsigned long long)(lost - d->lost_seen));
	do {
		uint64_t acc;

		n = fdw_capture_lost_pids(d->capture, pids, 256, &acc);
		accounted += acc;
		for (unsigned int i = 0; i < n; i++) {
			struct fdw_proc *p = fdw_model_proc(&d->model, pids[i]);

			if (p) {
				fdw_model_mark_proc_stale(&d->model, p);
				resync_or_drop(d, p);
			}
		}
	} while (n == 256);
	if (accounted < lost - d->lost_seen)
		d->resync_all = true;
	d->lost_seen = lost;
	if (d->resync_all) {
		fdw_model_mark_all_stale(&d->model);
		resync_everything(d);
	}
}

void fdw_daemon_drain(struct fdw_daemon *d)
{
	if (!d->capture)
		return;
	(void)fdw_capture_drain(d->capture);
	handle_lost(d);
	/* a resync above may have raced new records: take them too */
	(void)fdw_capture_drain(d->capture);
}

uint64_t fdw_daemon_lost(struct fdw_daemon *d, uint64_t *per_cpu, unsigned int max_cpus,
			 unsigned int *ncpus)
{
	if (!d->capture) {
		if (ncpus)
			*ncpus = 0;
		return 0;
	}
	return fdw_capture_lost(d->capture, per_cpu, max_cpus, ncpus);
}

/* ---- /proc scan -------------------------------------------------------- */

static int scan_one(void *data, uint32_t pid)
{
	struct fdw_daemon *d = data;
	uint32_t *tids = NULL, ppid = 0;
	unsigned int n = 0;
	char comm[16];
	int r;

	if (pid == (uint32_t)getpid())
		return 0;
	if (fdw_proc_is_kernel_thread(d->cfg.proc_root, pid))
		return 0; /* no fd table of its own */
	if (fdw_proc_read_stat(d->cfg.proc_root, pid, comm, &ppid) < 0)
		return 0; /* gone, or a kernel thread we cannot read */
	if (fdw_proc_list_tasks(d->cfg.proc_root, pid, &tids, &n) < 0)
		return 0;
	r = fdw_model_add_scanned(&d->model, pid, ppid, comm, tids, n, fdw_now_mono());
	if (r < 0 && r != -ESRCH)
		d->scan_errors++;
	free(tids);
	return 0;
}

int fdw_daemon_scan(struct fdw_daemon *d)
{
	int r;

	fdw_model_scan_begin(&d->model);
	r = fdw_proc_list_pids(d->cfg.proc_root, scan_one, d);
	fdw_model_scan_end(&d->model);
	return r;
}

/* ---- lifecycle --------------------------------------------------------- */

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
		.read_proc = ops_read_proc,
		.on_fd_event = ops_on_fd_event,
		.on_proc_exit = ops_on_proc_exit,
		.same_file = ops_same_file,
		.ring_position = ops_ring_position,
		.userdata = d,
	};
	int r;

	d->loop = loop;
	fdw_model_init(&d->model, &ops);
	d->model.max_procs = d->cfg.max_procs;
	d->model.max_fd_number = read_nr_open();
	d->model.max_fds = d->cfg.max_fds;
	r = fdw_history_init(&d->history, d->cfg.history_size);
	if (r < 0)
		return r;
	d->start_mono_ns = fdw_now_mono();
	d->mono_to_real_ns = (int64_t)clock_ns(CLOCK_REALTIME) - (int64_t)d->start_mono_ns;
	return 0;
}

int fdw_daemon_open_capture(struct fdw_daemon *d)
{
	struct fdw_capture_opts o = {
		.ringbuf_bytes = d->cfg.ringbuf_bytes,
		.wakeup_bytes = d->cfg.ringbuf_bytes / 4,
		.consume_interval_ms = d->cfg.consume_interval_ms,
		.precise_ts = d->cfg.precise_ts,
		.self_tgid = (uint32_t)getpid(),
		.on_record = on_record,
		.userdata = d,
	};
	int r;

	r = fdw_capture_open(&d->capture, &o);
	if (r < 0)
		return r;
	return fdw_capture_start(d->capture, d->loop);
}

/* ---- leak detectors and alerts (temporary wiring, for merge) ------------ */

#define LEAK_SAVE_EVERY_S 5 /* the alert store is written at most this often (and at exit) */

/* One daemon per process: the detectors' 1 s timer. */
static uv_timer_t leak_timer;
static bool leak_timer_on;
static uint64_t leak_saved_tick;

static double now_realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Followers see fires and resolves, not refreshes. */
static void on_alert_change(void *userdata, const struct fdw_alert *a, bool updated)
{
	struct fdw_daemon *d = userdata;
	json_t *o;

	if (updated || !d->api)
		return;
	o = fdw_alert_json(a);
	if (o)
		fdw_api_publish_alert(d, o);
	json_decref(o);
}

static void on_leak_tick(uv_timer_t *t)
{
	struct fdw_daemon *d = t->data;
	uint64_t ticks;

	fdw_daemon_drain(d);
	fdw_leaks_tick(d->leaks, fdw_now_mono(), now_realtime());
	ticks = fdw_leaks_stats(d->leaks)->ticks;
	if (d->alerts.dirty && ticks - leak_saved_tick >= LEAK_SAVE_EVERY_S) {
		(void)fdw_alerts_save(&d->alerts);
		leak_saved_tick = ticks;
	}
}

int fdw_daemon_leaks_start(struct fdw_daemon *d)
{
	int r;

	r = fdw_alerts_init(&d->alerts, d->cfg.max_alerts, d->cfg.state_dir);
	if (r < 0)
		return r;
	d->alerts.on_change = on_alert_change;
	d->alerts.userdata = d;
	/* a corrupt store is reported and set aside: not a reason to stop */
	(void)fdw_alerts_load(&d->alerts, now_realtime());
	r = fdw_leaks_new(&d->leaks, &d->cfg.leak,
			  &(struct fdw_leaks_deps){ .model = &d->model, .alerts = &d->alerts,
						    .capture = d->capture });
	if (r < 0)
		return r;
	r = uv_timer_init(d->loop, &leak_timer);
	if (r < 0)
		return r;
	leak_timer.data = d;
	leak_timer_on = true;
	r = uv_timer_start(&leak_timer, on_leak_tick, 1000, 1000);
	if (r < 0)
		return r;
	if (d->cfg.verbose) {
		char buf[1024];

		(void)fdw_leak_config_print(&d->cfg.leak, buf, sizeof(buf));
		log_debug("leak detectors: %s", buf);
	}
	return 0;
}

void fdw_daemon_leaks_stop(struct fdw_daemon *d)
{
	if (!leak_timer_on)
		return;
	leak_timer_on = false;
	uv_close((uv_handle_t *)&leak_timer, NULL);
}

/* Free the detectors (before the model), save and free the store. */
static void leaks_free(struct fdw_daemon *d)
{
	struct fdw_leaks *l = d->leaks;

	/* the model's exits from here on are a shutdown, not process exits */
	d->leaks = NULL;
	fdw_leaks_free(l);
	(void)fdw_alerts_save(&d->alerts);
	fdw_alerts_free(&d->alerts);
}

void fdw_daemon_free(struct fdw_daemon *d)
{
	fdw_proc_cache_clear();
	/* before the capture (it stops stack capture) and the model (its
	 * exits at shutdown are no process exits) */
	leaks_free(d);
	fdw_capture_free(d->capture);
	d->capture = NULL;
	fdw_model_free(&d->model);
	fdw_history_free(&d->history);
}
