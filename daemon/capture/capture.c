// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Load and attach the probes, and consume their ring buffer from the loop.
 *
 * The probes submit with BPF_RB_NO_WAKEUP (a wakeup per record costs
 * microseconds), so the ring buffer's epoll fd only fires when a probe
 * forces a wakeup past the fill threshold. A loop timer consumes the rest;
 * requests drain it on demand (fdw_capture_drain).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sched.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "base/log.h"
#include "base/clock.h"
#include "capture/capture.h"
#include "capture/event.h"
#include "fdwatch.skel.h"
#include "fdwatch_event.h"

#define TRACEFS "/sys/kernel/tracing"
#define MAX_PROBES 192
#define FANOTIFY_PENDING 64	  /* fanotify users re-read once exit_read is on */
#define DETACH_THREADS 32	  /* links detached at once at exit */
#define DETACH_STACK (64 << 10)

/*
 * The ring buffer, mapped as the kernel's UAPI lays it out: the consumer
 * page (ours to write), then the producer page and the data area mapped
 * twice so a record that wraps reads contiguously.
 */
struct ring {
	int map_fd;
	size_t page_size;
	size_t size;		  /* data area bytes (power of two) */
	unsigned long *consumer_pos;
	const unsigned long *producer_pos;
	const uint8_t *data;
	void *cons_map, *prod_map;
	size_t prod_len;
};

struct fdw_capture {
	struct fdwatch_bpf *skel;
	struct ring rb;
	struct bpf_link *links[MAX_PROBES];
	const char *attached[MAX_PROBES];
	const char *failed[MAX_PROBES];
	unsigned int nattached, nfailed, nlinks;
	/* exit_read: attached once, from the libuv thread pool, after the
	 * first fanotify_init record; never detached before exit */
	uv_work_t read_work;
	struct bpf_link *read_link; /* the worker's result */
	int read_err;
	enum { READ_IDLE, READ_ATTACHING, READ_DONE } read_state;
	/* the hot EBADF probes, attached from the thread pool for the first
	 * deep-mode process when races_io did not attach them at start */
	uv_work_t io_work;
	struct bpf_link *io_links[32];
	const char *io_names[32];
	unsigned int nio_links;
	enum { IO_IDLE, IO_ATTACHING, IO_DONE } io_state;
	uint32_t read_pids[FANOTIFY_PENDING]; /* fanotify_init callers meanwhile */
	unsigned int nread_pids;
	bool read_pids_overflow;
	uv_loop_t *loop;
	uv_poll_t poll;	/* on wake_fd */
	int wake_fd;	/* an epoll set: the ring's fd, edge-triggered */
	uv_timer_t timer;
	uv_idle_t idle; /* a backlog's next slice, at the next loop iteration */
	bool handles_open;
	unsigned int pending_close;
	unsigned int interval_ms;
	uint64_t slices_cut; /* consume callbacks that left a backlog for later */
	int ncpus;
	struct fdw_capture_opts opts;
};

/* Probes the daemon cannot work without; the others are attached if the
 * kernel has them. arm64 has no open(2) and no dup2(2) (its C library
 * calls openat and dup3): their tracepoints do not exist there. */
static const char *const required[] = {
	"exit_dup", "exit_dup3", "exit_fcntl", "exit_close", "exit_close_range",
	"exit_openat", "exit_socket", "exit_pipe2", "exit_accept4",
	"task_fork", "task_exec", "task_exit",
#if !defined(__aarch64__)
	"exit_dup2", "exit_open",
#endif
};

static bool is_required(const char *name)
{
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!strcmp(required[i], name))
			return true;
	return false;
}

/*
 * EBADF probes (bpf/races.bpf.h) on the hottest syscalls: every read,
 * write, send, recv, epoll_wait and stat of the host would pay ~20 ns for
 * them (7-9% of a 64-byte pipe write+read or of an fstat), so they load
 * only with opts.races_io (fdwatchd --races-io; docs/races.md has the
 * figures, bench/races_tax.c measures them).
 */
static const char *const io_badf[] = {
	"badf_read", "badf_write", "badf_pread64", "badf_pwrite64", "badf_readv",
	"badf_writev", "badf_preadv", "badf_pwritev", "badf_sendto", "badf_recvfrom",
	"badf_sendmsg", "badf_sendmmsg", "badf_epoll_wait", "badf_epoll_pwait",
	"badf_newfstatat", "badf_statx", /* glibc's fstat(), and every stat by path */
};

static bool is_io_badf(const char *name)
{
	for (size_t i = 0; i < sizeof(io_badf) / sizeof(io_badf[0]); i++)
		if (!strcmp(io_badf[i], name))
			return true;
	return false;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static int ensure_tracefs(void)
{
	struct stat st;

	if (stat(TRACEFS "/events", &st) == 0 || stat("/sys/kernel/debug/tracing/events", &st) == 0)
		return 0;
	if (mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		int r = -errno;

		log_err("tracefs is not mounted at " TRACEFS
				" and mounting it failed: %s", strerror(-r));
		return r;
	}
	log_notice("tracefs was not mounted; mounted it at " TRACEFS );
	return 0;
}

/* The tracepoint a program's section names exists in this kernel? */
static bool tracepoint_exists(const char *sec)
{
	char path[256];
	struct stat st;

	if (strncmp(sec, "tracepoint/", 11))
		return true; /* tp_btf: checked by the loader */
	snprintf(path, sizeof(path), TRACEFS "/events/%s", sec + 11);
	if (stat(path, &st) == 0)
		return true;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tracing/events/%s", sec + 11);
	return stat(path, &st) == 0;
}

static int ring_map(struct ring *r, int map_fd, size_t size)
{
	r->map_fd = map_fd;
	r->page_size = (size_t)sysconf(_SC_PAGESIZE);
	r->size = size;
	r->cons_map = mmap(NULL, r->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (r->cons_map == MAP_FAILED) {
		r->cons_map = NULL;
		return -errno;
	}
	r->prod_len = r->page_size + 2 * size;
	r->prod_map = mmap(NULL, r->prod_len, PROT_READ, MAP_SHARED, map_fd,
			   (off_t)r->page_size);
	if (r->prod_map == MAP_FAILED) {
		r->prod_map = NULL;
		return -errno;
	}
	r->consumer_pos = r->cons_map;
	r->producer_pos = r->prod_map;
	r->data = (const uint8_t *)r->prod_map + r->page_size;
	return 0;
}

static void ring_unmap(struct ring *r)
{
	if (r->cons_map)
		munmap(r->cons_map, r->page_size);
	if (r->prod_map)
		munmap(r->prod_map, r->prod_len);
	r->cons_map = r->prod_map = NULL;
}

/*
 * Consume every record committed when called. Unlike libbpf's consumer, which publishes
 * consumer_pos after each record, this publishes it once per batch (and
 * every ring/16 bytes): each publication is a cache line the producing CPUs
 * must re-read, and at millions of records per second that cost is paid by
 * every traced syscall.
 */
/* Records consumed between two looks at the clock in a bounded drain. */
#define DRAIN_CHUNK 2048

/* Records applied between two looks at the clock within a batch, when it
 * has a deadline: a record's cost follows what it does (an exec into a
 * program with 19,000 inherited fds is milliseconds), so 2,048 of them
 * between looks held the loop for seconds. */
#define DEADLINE_EVERY 16

/* Consume at most `max` records (0: every committed one), and none past
 * `deadline` (CLOCK_MONOTONIC ns, 0: none), when *cut says so. */
static int ring_consume_until(struct fdw_capture *c, unsigned int max, uint64_t deadline,
			      bool *cut)
{
	struct ring *r = &c->rb;
	unsigned long cons, prod, published;
	const unsigned long mask = r->size - 1, step = r->size / 16;
	int n = 0;

	if (!r->cons_map)
		return 0;
	cons = published = __atomic_load_n(r->consumer_pos, __ATOMIC_RELAXED);
	prod = __atomic_load_n(r->producer_pos, __ATOMIC_ACQUIRE);
	while (cons < prod) {
		const uint32_t *hdr = (const uint32_t *)(r->data + (cons & mask));
		uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		unsigned long pos = cons;

		if (len & BPF_RINGBUF_BUSY_BIT)
			break; /* reserved, not yet submitted */
		cons += ((len & ~BPF_RINGBUF_DISCARD_BIT) + BPF_RINGBUF_HDR_SZ + 7) & ~7ul;
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			n++;
			/* positions count from 1: 0 means "not from the ring" */
			if (c->opts.on_record(c->opts.userdata,
					      (const uint8_t *)hdr + BPF_RINGBUF_HDR_SZ,
					      len & ~BPF_RINGBUF_DISCARD_BIT, pos + 1) < 0)
				break;
		}
		if (cons - published >= step) {
			__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
			published = cons;
		}
		if (max && (unsigned int)n >= max)
			break;
		if (deadline && n % DEADLINE_EVERY == 0 && fdw_now_mono() >= deadline) {
			*cut = true;
			break;
		}
		/* only what was committed when the drain began: a producer
		 * faster than us must not keep the loop (and requests,
		 * signals) waiting; the next drain takes the rest */
	}
	if (cons != published)
		__atomic_store_n(r->consumer_pos, cons, __ATOMIC_RELEASE);
	if (n && c->opts.on_batch)
		c->opts.on_batch(c->opts.userdata);
	return n;
}

static int ring_consume_max(struct fdw_capture *c, unsigned int max)
{
	return ring_consume_until(c, max, 0, NULL);
}

static int ring_consume(struct fdw_capture *c)
{
	return ring_consume_max(c, 0);
}

/* Attached later, off the loop (see fdw_capture_fanotify_event), and the
 * hot EBADF probes unless races_io (see fdw_capture_deep). */
static bool on_demand(const struct fdw_capture *c, const char *name)
{
	return !strcmp(name, "exit_read") || (!c->opts.races_io && is_io_badf(name));
}

/*
 * Attach every loaded program but the on-demand one. An optional probe that
 * fails is listed and skipped; a required one fails the start.
 */
static int attach_all(struct fdw_capture *c)
{
	struct bpf_program *prog;
	int r;

	bpf_object__for_each_program(prog, c->skel->obj) {
		const char *name = bpf_program__name(prog);
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) || on_demand(c, name))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			r = -errno;
			if (is_required(name)) {
				log_err("cannot attach %s: %s", name,
					strerror(-r));
				return r;
			}
			log_warning("optional probe %s not attached: %s", name,
				strerror(-r));
			if (c->nfailed < MAX_PROBES)
				c->failed[c->nfailed++] = name;
			continue;
		}
		if (c->nlinks < MAX_PROBES) {
			c->links[c->nlinks++] = link;
			c->attached[c->nattached++] = name;
		} else {
			bpf_link__destroy(link);
		}
	}
	for (unsigned int i = 0; i < c->nfailed; i++)
		if (is_required(c->failed[i])) {
			log_err("required tracepoint for %s missing",
				c->failed[i]);
			return -ENOENT;
		}
	return 0;
}

/*
 * Whether the running kernel has the function `name` (a kfunc the probes
 * may call: bpf/fdtable.bpf.h's have_rdonly_cast). A read-only flag and not
 * bpf_ksym_exists(): that loads the kfunc's address as an ld_imm64, which
 * kernels before 6.4 reject for a function even in dead code.
 */
static bool kernel_has_func(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool has;

	if (!btf)
		return false;
	has = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) >= 0;
	btf__free(btf);
	return has;
}

int fdw_capture_open(struct fdw_capture **out, const struct fdw_capture_opts *opts)
{
	struct fdw_capture *c;
	struct bpf_program *prog;
	int r;

	libbpf_set_print(libbpf_log);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->opts = *opts;
	c->wake_fd = -1;
	c->interval_ms = opts->consume_interval_ms ? opts->consume_interval_ms : 20;
	c->ncpus = libbpf_num_possible_cpus();
	if (c->ncpus <= 0) {
		r = c->ncpus ? c->ncpus : -EINVAL;
		goto fail;
	}
	r = ensure_tracefs();
	if (r < 0)
		goto fail;

	c->skel = fdwatch_bpf__open();
	if (!c->skel) {
		r = -errno;
		log_err("cannot open BPF object: %s", strerror(-r));
		goto fail;
	}
	c->skel->rodata->self_tgid = opts->self_tgid;
	c->skel->rodata->precise_ts = opts->precise_ts;
	c->skel->rodata->wakeup_bytes = opts->wakeup_bytes;
	c->skel->rodata->have_rdonly_cast = kernel_has_func("bpf_rdonly_cast");
	r = bpf_map__set_max_entries(c->skel->maps.events, (uint32_t)opts->ringbuf_bytes);
	if (r < 0)
		goto fail;
	bpf_object__for_each_program(prog, c->skel->obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!tracepoint_exists(sec)) {
			if (is_required(bpf_program__name(prog))) {
				r = -ENOENT;
				log_err("the kernel has no tracepoint %s, which fdwatch needs", sec);
				goto fail;
			}
			(void)bpf_program__set_autoload(prog, false);
			if (c->nfailed < MAX_PROBES)
				c->failed[c->nfailed++] = bpf_program__name(prog);
		}
	}
	r = fdwatch_bpf__load(c->skel);
	if (r < 0) {
		log_err("cannot load BPF programs: %s", strerror(-r));
		goto fail;
	}
	r = attach_all(c);
	if (r < 0)
		goto fail;
	r = ring_map(&c->rb, bpf_map__fd(c->skel->maps.events),
		     bpf_map__max_entries(c->skel->maps.events));
	if (r < 0) {
		log_err("cannot map the ring buffer: %s", strerror(-r));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	fdw_capture_free(c);
	return r;
}

int fdw_capture_ring_fd(const struct fdw_capture *c)
{
	return c && c->skel ? bpf_map__fd(c->skel->maps.events) : -1;
}

uint64_t fdw_capture_backlog(const struct fdw_capture *c)
{
	unsigned long prod, cons;

	if (!c || !c->rb.cons_map || !c->rb.prod_map)
		return 0;
	cons = __atomic_load_n(c->rb.consumer_pos, __ATOMIC_RELAXED);
	prod = __atomic_load_n(c->rb.producer_pos, __ATOMIC_ACQUIRE);
	return prod > cons ? prod - cons : 0;
}


int fdw_capture_drain_for(struct fdw_capture *c, uint64_t budget_ns)
{
	unsigned long target;
	uint64_t t0;
	int r;

	if (!c || !c->rb.cons_map)
		return 1;
	target = __atomic_load_n(c->rb.producer_pos, __ATOMIC_ACQUIRE);
	t0 = fdw_now_mono();
	for (;;) {
		bool cut = false;

		r = ring_consume_until(c, DRAIN_CHUNK, t0 + budget_ns, &cut);
		if (r < 0)
			return r;
		if (__atomic_load_n(c->rb.consumer_pos, __ATOMIC_RELAXED) >= target)
			return 1;
		if (cut || fdw_now_mono() - t0 >= budget_ns)
			return 0;
		if (r == 0)
			sched_yield(); /* a record reserved but not yet submitted */
	}
}

uint64_t fdw_capture_position(struct fdw_capture *c)
{
	if (!c || !c->rb.prod_map)
		return 0;
	return __atomic_load_n(c->rb.producer_pos, __ATOMIC_ACQUIRE) + 1;
}

/*
 * Everything committed before the call, including records that were
 * reserved (BUSY) but not yet submitted then, which a probe on another CPU
 * finishes within microseconds: wait for those, briefly, so an answer never
 * misses a syscall that completed before its request.
 */
int fdw_capture_drain(struct fdw_capture *c)
{
	unsigned long target;
	struct timespec start, now;
	int n = 0, r;

	if (!c || !c->rb.cons_map)
		return 0;
	target = __atomic_load_n(c->rb.producer_pos, __ATOMIC_ACQUIRE);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		r = ring_consume(c);
		if (r < 0)
			return r;
		n += r;
		if (__atomic_load_n(c->rb.consumer_pos, __ATOMIC_RELAXED) >= target)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000000000l + now.tv_nsec - start.tv_nsec >
		    10000000l)
			return -EAGAIN; /* a probe stuck mid-record: the rest next time */
		sched_yield();
	}
	return n;
}

/* Of consumption per loop callback: a backlog (the daemon fell behind a
 * burst) is worked off in slices, with requests and signals in between. */
#define CONSUME_SLICE_NS (5 * 1000000ull)

static void on_timer(uv_timer_t *h);

static void on_idle(uv_idle_t *h);

/*
 * Consume for about CONSUME_SLICE_NS; when records are left, come back at
 * the next loop iteration, after the loop polled its fds (an idle handle:
 * once per iteration, and the poll does not block while it is active).
 * Not a 0 ms timer re-armed from its own callback: libuv 1.44 (Debian 12)
 * runs timers until none is due, and such a timer is due again at once,
 * so a producer faster than the consumer (a sanitizer build under one
 * core's churn) kept the loop in its timer phase: no request was read for
 * the whole 20 s of the churn.
 */
static void consume_slice(struct fdw_capture *c)
{
	uint64_t t0 = fdw_now_mono();

	for (;;) {
		bool cut = false;
		int r = ring_consume_until(c, DRAIN_CHUNK, t0 + CONSUME_SLICE_NS, &cut);

		if (cut)
			break;
		if (r < DRAIN_CHUNK) {
			/* caught up (or an error: the next period retries) */
			if (c->handles_open)
				(void)uv_idle_stop(&c->idle);
			return;
		}
		if (fdw_now_mono() - t0 >= CONSUME_SLICE_NS)
			break;
	}
	c->slices_cut++;
	if (c->handles_open)
		(void)uv_idle_start(&c->idle, on_idle);
}

static void on_idle(uv_idle_t *h)
{
	consume_slice(h->data);
}

/* A probe forced a wakeup: the ring is filling faster than the timer drains it. */
static void on_poll(uv_poll_t *h, int status, int events)
{
	struct fdw_capture *c = h->data;
	struct epoll_event ev;

	/* take the edge (one fd in the set: one call); a later wakeup makes the
	 * set readable again */
	(void)epoll_wait(c->wake_fd, &ev, 1, 0);
	consume_slice(c);
}

static void on_timer(uv_timer_t *h)
{
	consume_slice(h->data);
}

/*
 * Two ways to consume: the timer (consume-ms), and the probes' forced
 * wakeups (bpf/maps.bpf.h: submit) when the ring fills faster than that.
 * The ring's fd polls readable whenever any record is unread (level
 * triggered): polled directly, it would wake the loop for every few
 * records and undo the batching. Edge-triggered in an epoll set of its
 * own, it reports only the wakeups, each of them, whenever they come.
 */
int fdw_capture_start(struct fdw_capture *c, uv_loop_t *loop)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int r;

	c->wake_fd = epoll_create1(EPOLL_CLOEXEC);
	if (c->wake_fd < 0)
		return -errno;
	if (epoll_ctl(c->wake_fd, EPOLL_CTL_ADD, c->rb.map_fd, &ev) < 0) {
		r = -errno;
		(void)close(c->wake_fd);
		c->wake_fd = -1;
		return r;
	}
	r = uv_poll_init(loop, &c->poll, c->wake_fd);
	if (r < 0)
		return r;
	c->poll.data = c;
	r = uv_timer_init(loop, &c->timer);
	if (r < 0) {
		uv_close((uv_handle_t *)&c->poll, NULL);
		return r;
	}
	c->timer.data = c;
	r = uv_idle_init(loop, &c->idle);
	if (r < 0) {
		uv_close((uv_handle_t *)&c->poll, NULL);
		uv_close((uv_handle_t *)&c->timer, NULL);
		return r;
	}
	c->idle.data = c;
	c->loop = loop;
	c->handles_open = true;
	r = uv_poll_start(&c->poll, UV_READABLE, on_poll);
	if (r < 0)
		return r;
	return uv_timer_start(&c->timer, on_timer, c->interval_ms, c->interval_ms);
}

void fdw_capture_stop(struct fdw_capture *c)
{
	if (!c || !c->handles_open)
		return;
	c->handles_open = false;
	uv_close((uv_handle_t *)&c->poll, NULL);
	uv_close((uv_handle_t *)&c->timer, NULL);
	uv_close((uv_handle_t *)&c->idle, NULL);
}

struct detach_job {
	struct bpf_link **links;
	unsigned int n;
	unsigned int next; /* atomic: the next link to detach */
};

static void *detach_worker(void *arg)
{
	struct detach_job *j = arg;
	unsigned int i;

	while ((i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)) < j->n)
		bpf_link__destroy(j->links[i]);
	return NULL;
}

/*
 * Detaching a syscall tracepoint's program waits for an RCU grace period
 * (tens of ms each on these kernels): one after the other, 60 probes took
 * over 5 s at shutdown. Waiters of the same grace period share it, so
 * detach from several threads at once. A thread that cannot be created
 * leaves its share to the others and to the caller.
 */
static void detach_all(struct bpf_link **links, unsigned int n)
{
	struct detach_job job = { .links = links, .n = n };
	pthread_t threads[DETACH_THREADS];
	unsigned int nthreads = 0, want = n < DETACH_THREADS ? n : DETACH_THREADS;
	pthread_attr_t attr;
	bool attr_ok = pthread_attr_init(&attr) == 0;

	if (attr_ok)
		(void)pthread_attr_setstacksize(&attr, DETACH_STACK);
	while (nthreads + 1 < want &&
	       pthread_create(&threads[nthreads], attr_ok ? &attr : NULL, detach_worker, &job) == 0)
		nthreads++;
	(void)detach_worker(&job);
	for (unsigned int i = 0; i < nthreads; i++)
		(void)pthread_join(threads[i], NULL);
	if (attr_ok)
		(void)pthread_attr_destroy(&attr);
}

static int cmp_int(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Close every fd but the sorted keep[0..n): async-signal-safe. */
static void close_all_but(const int *keep, unsigned int n)
{
	unsigned int from = 0;

	for (unsigned int i = 0; i <= n; i++) {
		unsigned int to = i < n ? (unsigned int)keep[i] : ~0u;

		if (to > from)
			(void)syscall(SYS_close_range, from, to - 1, 0);
		from = to + 1;
	}
}

/*
 * The links' last references, handed to a child that holds nothing else.
 * Each syscall tracepoint's perf event, when its last reference goes,
 * unregisters under the kernel's event_mutex and waits there for an
 * RCU-tasks-trace and an RCU grace period: ~30 ms per probe, one probe at
 * a time whatever the number of threads, so 2 s for ours. The daemon
 * disables every event and closes its copies at once (not the last
 * references: nothing waits); the child waits until then (EOF on a pipe),
 * and its exit does the kernel's part without holding up the daemon's.
 * Returns the pipe's write end to close when done, or -errno (no child:
 * the caller detaches itself).
 */
static int handoff_links(struct fdw_capture *c)
{
	int keep[MAX_PROBES + 1], p[2];
	unsigned int n = 0;
	sigset_t all;
	pid_t pid;
	char b;

	if (!c->nlinks)
		return -ENOENT;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	for (unsigned int i = 0; i < c->nlinks; i++) {
		int fd = bpf_link__fd(c->links[i]);

		if (fd >= 0)
			keep[n++] = fd;
	}
	keep[n++] = p[0];
	qsort(keep, n, sizeof(keep[0]), cmp_int);
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		(void)close(p[0]);
		(void)close(p[1]);
		return r;
	}
	if (pid == 0) {
		/* only async-signal-safe calls from here */
		(void)sigfillset(&all);
		(void)sigprocmask(SIG_SETMASK, &all, NULL);
		(void)prctl(PR_SET_NAME, "fdwatchd-detach", 0, 0, 0);
		close_all_but(keep, n);
		while (read(p[0], &b, 1) < 0 && errno == EINTR)
			;
		/* the kernel's part, here; closed one by one so that fd
		 * checkers (valgrind --track-fds) see nothing left open */
		for (unsigned int i = 0; i < n; i++)
			(void)close(keep[i]);
		_exit(0);
	}
	(void)close(p[0]);
	return p[1];
}

void fdw_capture_free(struct fdw_capture *c)
{
	int release;

	if (!c)
		return;
	ring_unmap(&c->rb);
	release = handoff_links(c);
	detach_all(c->links, c->nlinks);
	fdwatch_bpf__destroy(c->skel);
	if (release >= 0)
		(void)close(release);
	if (c->wake_fd >= 0)
		(void)close(c->wake_fd); /* its poll handle was closed (fdw_capture_stop) */
	free(c);
}

static uint64_t read_stat(struct fdw_capture *c, uint32_t key, uint64_t *per_cpu,
			  unsigned int max, unsigned int *ncpus)
{
	uint64_t *vals, total = 0;

	if (!c || !c->skel)
		return 0;
	vals = calloc((size_t)c->ncpus, sizeof(*vals));
	if (!vals)
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stats), &key, vals) == 0) {
		for (int i = 0; i < c->ncpus; i++) {
			total += vals[i];
			if (per_cpu && (unsigned int)i < max)
				per_cpu[i] = vals[i];
		}
	}
	if (ncpus)
		*ncpus = (unsigned int)c->ncpus < max ? (unsigned int)c->ncpus : max;
	free(vals);
	return total;
}

uint64_t fdw_capture_lost(struct fdw_capture *c, uint64_t *per_cpu, unsigned int max,
			  unsigned int *ncpus)
{
	return read_stat(c, FDW_STAT_LOST, per_cpu, max, ncpus);
}

uint64_t fdw_capture_wakeups(struct fdw_capture *c)
{
	return read_stat(c, FDW_STAT_WAKEUPS, NULL, 0, NULL);
}

unsigned int fdw_capture_lost_pids(struct fdw_capture *c, uint32_t *pids, unsigned int max,
				   uint64_t *accounted)
{
	int fd = bpf_map__fd(c->skel->maps.lost_tgids);
	uint32_t key, next;
	uint64_t val;
	unsigned int n = 0;
	bool first = true;

	*accounted = 0;
	/* collect first, delete after: deleting while walking restarts walks */
	while (n < max && bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &val) == 0) {
			pids[n++] = key;
			*accounted += val;
		}
	}
	for (unsigned int i = 0; i < n; i++)
		(void)bpf_map_delete_elem(fd, &pids[i]);
	return n;
}

void fdw_capture_set_fanotify_fops(struct fdw_capture *c, uint64_t f_op)
{
	if (c && c->skel && c->skel->bss && !c->skel->bss->fanotify_fops)
		c->skel->bss->fanotify_fops = f_op;
}

bool fdw_capture_fanotify_on(const struct fdw_capture *c)
{
	return c && c->read_state == READ_DONE && c->read_err == 0;
}

unsigned int fdw_capture_probes(struct fdw_capture *c, const char **names, unsigned int max,
				bool attached)
{
	unsigned int n = attached ? c->nattached : c->nfailed;

	for (unsigned int i = 0; i < n && i < max; i++)
		names[i] = attached ? c->attached[i] : c->failed[i];
	return n;
}

int fdw_capture_watch_stacks(struct fdw_capture *c, uint32_t tgid, bool on)
{
	int fd, r;
	uint8_t one = 1;

	if (!c || !c->skel)
		return -ENODEV;
	fd = bpf_map__fd(c->skel->maps.stack_tgids);
	if (on) {
		r = bpf_map_update_elem(fd, &tgid, &one, BPF_NOEXIST);
		if (r == 0)
			c->skel->bss->nr_stack_tgids++;
		else if (errno == EEXIST)
			r = 0;
		else
			r = -errno;
	} else {
		r = bpf_map_delete_elem(fd, &tgid);
		if (r == 0 && c->skel->bss->nr_stack_tgids)
			c->skel->bss->nr_stack_tgids--;
		r = r < 0 ? -errno : 0;
	}
	return r;
}

int fdw_capture_read_stack(struct fdw_capture *c, uint32_t stack, uint64_t *ips, unsigned int max)
{
	uint64_t frames[FDW_STACK_DEPTH] = { 0 };
	uint32_t id = stack - 1;
	unsigned int n = 0;

	if (!c || !c->skel || !stack)
		return -ENOENT;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.stacks), &id, frames) < 0)
		return -errno;
	while (n < FDW_STACK_DEPTH && n < max && frames[n]) {
		ips[n] = frames[n];
		n++;
	}
	return (int)n;
}

void fdw_capture_drop_stack(struct fdw_capture *c, uint32_t stack)
{
	uint32_t id = stack - 1;

	if (c && c->skel && stack)
		(void)bpf_map_delete_elem(bpf_map__fd(c->skel->maps.stacks), &id);
}

/* ---- exit_read, on demand ---------------------------------------------- */

/*
 * Every read() on the host pays for an attached exit_read: with its filter
 * (fdwatch.bpf.c) it returns at once, but the tracepoint's dispatch alone
 * made a pipe write+read loop ~1.15x slower (bench/loop.c piperw). So it is
 * attached only once some process has created a fanotify file, and then for
 * the daemon's life: attaching and detaching each cost a grace period, and
 * detaching per close let any user stall the loop. The attach runs in the
 * libuv thread pool; the loop only queues it and takes the result.
 */
static void read_attach_work(uv_work_t *w)
{
	struct fdw_capture *c = w->data;

	c->read_link = bpf_program__attach(c->skel->progs.exit_read);
	c->read_err = c->read_link ? 0 : -errno;
}

static void read_attach_done(uv_work_t *w, int status)
{
	struct fdw_capture *c = w->data;

	c->read_state = READ_DONE;
	if (c->read_link && c->nlinks < MAX_PROBES) {
		c->links[c->nlinks++] = c->read_link;
		c->attached[c->nattached++] = "exit_read";
	} else if (c->read_link) {
		bpf_link__destroy(c->read_link);
	} else {
		log_warning("cannot attach the fanotify read probe: %s",
			    strerror(-(status < 0 ? status : c->read_err)));
		if (c->nfailed < MAX_PROBES)
			c->failed[c->nfailed++] = "exit_read";
	}
	c->read_link = NULL;
	/* reads made before the probe was on installed fds nobody saw */
	if (c->opts.on_stale) {
		for (unsigned int i = 0; i < c->nread_pids; i++)
			c->opts.on_stale(c->opts.userdata, c->read_pids[i]);
		if (c->read_pids_overflow)
			c->opts.on_stale(c->opts.userdata, 0);
	}
	c->nread_pids = 0;
	c->read_pids_overflow = false;
}

/* fanotify_init flags of a group that reports file handles: its events
 * carry FAN_NOFD, never an fd (the kernel's FANOTIFY_FID_BITS:
 * FAN_REPORT_FID, _DIR_FID, _NAME, _TARGET_FID). The only kind an
 * unprivileged user may create. */
#define FAN_FID_BITS_ (0x200u | 0x400u | 0x800u | 0x1000u)

void fdw_capture_fanotify_event(struct fdw_capture *c, const struct fdw_event *ev)
{
	unsigned int i;

	if (!c || c->read_state == READ_DONE || ev->type != FDW_REC_SYSCALL ||
	    ev->nr != FDW_SYS_FANOTIFY_INIT || ev->ret < 0)
		return;
	/* no event fd to follow: the read() probe (a cost on every read on
	 * the host, for good) is not switched on by such a group */
	if (ev->args[0] & FAN_FID_BITS_)
		return;
	for (i = 0; i < c->nread_pids && c->read_pids[i] != ev->pid; i++)
		;
	if (i == c->nread_pids) {
		if (c->nread_pids < FANOTIFY_PENDING)
			c->read_pids[c->nread_pids++] = ev->pid;
		else
			c->read_pids_overflow = true;
	}
	if (c->read_state != READ_IDLE || !c->loop || !c->handles_open)
		return;
	c->read_work.data = c;
	if (uv_queue_work(c->loop, &c->read_work, read_attach_work, read_attach_done) == 0)
		c->read_state = READ_ATTACHING;
}

/* ---- deep mode (fd-reuse) ------------------------------------------------ */

static void io_attach_work(uv_work_t *w)
{
	struct fdw_capture *c = w->data;
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, c->skel->obj) {
		const char *name = bpf_program__name(prog);
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) || !is_io_badf(name) ||
		    c->nio_links >= sizeof(c->io_links) / sizeof(c->io_links[0]))
			continue;
		link = bpf_program__attach(prog);
		if (link) {
			c->io_names[c->nio_links] = name;
			c->io_links[c->nio_links++] = link;
		}
	}
}

static void io_attach_done(uv_work_t *w, int status)
{
	(void)status;
	struct fdw_capture *c = w->data;

	c->io_state = IO_DONE;
	for (unsigned int i = 0; i < c->nio_links; i++) {
		if (c->nlinks < MAX_PROBES) {
			c->links[c->nlinks++] = c->io_links[i];
			c->attached[c->nattached++] = c->io_names[i];
		} else {
			bpf_link__destroy(c->io_links[i]);
		}
	}
	if (!c->nio_links)
		log_warning("cannot attach the I/O probes of the deep mode");
	c->nio_links = 0;
}

int fdw_capture_deep(struct fdw_capture *c, uint32_t tgid, bool on)
{
	int fd, r;
	uint8_t one = 1;

	if (!c || !c->skel)
		return -ENODEV;
	fd = bpf_map__fd(c->skel->maps.deep_tgids);
	if (on) {
		r = bpf_map_update_elem(fd, &tgid, &one, BPF_NOEXIST);
		if (r == 0)
			c->skel->bss->nr_deep_tgids++;
		else if (errno == EEXIST)
			r = 0;
		else
			return -errno;
		/* the read/write/send/recv probes, once, never on the loop */
		if (!c->opts.races_io && c->io_state == IO_IDLE && c->loop && c->handles_open) {
			c->io_work.data = c;
			if (uv_queue_work(c->loop, &c->io_work, io_attach_work, io_attach_done) == 0)
				c->io_state = IO_ATTACHING;
		}
		return 0;
	}
	r = bpf_map_delete_elem(fd, &tgid);
	if (r == 0 && c->skel->bss->nr_deep_tgids)
		c->skel->bss->nr_deep_tgids--;
	return r < 0 ? -errno : 0;
}
