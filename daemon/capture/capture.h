/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel side, seen from the daemon: loads and attaches the probes
 * (bpf/fdwatch.bpf.c through its generated skeleton) and consumes their
 * ring buffer from the libuv loop without busy polling.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct fdw_capture;

struct fdw_capture_opts {
	uint64_t ringbuf_bytes;	   /* power of two, >= page size */
	uint64_t wakeup_bytes;	   /* fill level that forces a wakeup */
	unsigned int consume_interval_ms;
	bool precise_ts;
	bool races_io;		   /* EBADF probes on read/write/send/recv/epoll_wait too */
	uint32_t self_tgid;
	/* every record, in ring order, with its position in the ring (from 1,
	 * increasing); a negative return aborts the drain */
	int (*on_record)(void *userdata, const void *data, size_t size, uint64_t pos);
	/* after each batch of records (optional, same userdata) */
	void (*on_batch)(void *userdata);
	/* records of `pid` (0: of every process) were not all captured: its
	 * table needs re-reading (optional, same userdata) */
	void (*on_stale)(void *userdata, uint32_t pid);
	void *userdata;
};

/* Mount tracefs if needed, open, load and attach. 0 or -errno (logged). */
int fdw_capture_open(struct fdw_capture **out, const struct fdw_capture_opts *opts);
/* Register the ring buffer's epoll fd and the consume timer on the loop. */
int fdw_capture_start(struct fdw_capture *c, uv_loop_t *loop);
/* Close the loop handles (their close callbacks run on the loop). */
void fdw_capture_stop(struct fdw_capture *c);
/* Detach and free; after the loop has run the close callbacks. NULL-safe. */
void fdw_capture_free(struct fdw_capture *c);

/* The ring buffer map's fd (the snapshot iterator reads its position). */
int fdw_capture_ring_fd(const struct fdw_capture *c);

/* The ring position the next record will get: every record below it was
 * reserved, so its syscall had completed, before this call. */
uint64_t fdw_capture_position(struct fdw_capture *c);

/* Consume everything committed so far. Returns records consumed, -EAGAIN
 * when a record reserved before the call was still being written 10 ms
 * later (a preempted probe: the records after it wait), or -errno. */
int fdw_capture_drain(struct fdw_capture *c);
/* The same within about budget_ns: 1 when everything committed before the
 * call was consumed, 0 when the budget ran out first, or -errno. */
int fdw_capture_drain_for(struct fdw_capture *c, uint64_t budget_ns);
/* Bytes committed to the ring and not consumed yet. */
uint64_t fdw_capture_backlog(const struct fdw_capture *c);

/* Records the kernel could not queue (ring full), per CPU and in total. */
uint64_t fdw_capture_lost(struct fdw_capture *c, uint64_t *per_cpu, unsigned int max,
			  unsigned int *ncpus);
/* Forced wakeups so far (all CPUs). */
uint64_t fdw_capture_wakeups(struct fdw_capture *c);

/*
 * Pop processes that lost records since the last call: fills up to `max`
 * pids, returns how many, and the records they account for in *accounted.
 */
unsigned int fdw_capture_lost_pids(struct fdw_capture *c, uint32_t *pids, unsigned int max,
				   uint64_t *accounted);

/*
 * Deep mode for a process (fd-reuse: each thread's last file per fd number,
 * bpf/races.bpf.h): 0 or -errno (-E2BIG: the kernel map is full). The
 * first one attaches the read/write/send/recv probes from the thread pool
 * unless opts.races_io did at start.
 */
int fdw_capture_deep(struct fdw_capture *c, uint32_t tgid, bool on);

/* Start or stop capturing user stacks for a process's fd syscalls. */
int fdw_capture_watch_stacks(struct fdw_capture *c, uint32_t tgid, bool on);
/* The frames of captured stack `stack` (event's stack field): count or -errno. */
int fdw_capture_read_stack(struct fdw_capture *c, uint32_t stack, uint64_t *ips, unsigned int max);
/* Forget a stack once nothing refers to it (the map is bounded). */
void fdw_capture_drop_stack(struct fdw_capture *c, uint32_t stack);

struct fdw_event;
/*
 * The first fanotify_init record of a group that hands out event fds (not
 * FAN_REPORT_FID and the like) attaches the fanotify read probe, from the
 * thread pool (the loop never waits for it); the callers of fanotify_init
 * until it is on are reported to on_stale then. Cheap for other events.
 */
void fdw_capture_fanotify_event(struct fdw_capture *c, const struct fdw_event *ev);

/* The kernel's fanotify file operations address, as the start-up
 * snapshot read it from a fanotify file held then: the read probe's filter
 * (otherwise learnt from the first fanotify_init record). */
void fdw_capture_set_fanotify_fops(struct fdw_capture *c, uint64_t f_op);
/* Is the fanotify read probe attached (it is, once any process has held a
 * fanotify file since the daemon started, or held one when it started)? */
bool fdw_capture_fanotify_on(const struct fdw_capture *c);

/* Probes attached / that failed to attach (optional ones), for status. */
unsigned int fdw_capture_probes(struct fdw_capture *c, const char **names, unsigned int max,
				bool attached);
