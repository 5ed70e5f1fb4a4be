// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The leak detectors (daemon/detect/) on synthetic fd counts and synthetic
 * events: leaks of every speed are reported in time, servers with load,
 * spikes and warm-up are not; the textbook leak is one site; the alert
 * lifecycle follows the processes. No privileges needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>

#include "alerts/alerts.h"
#include "check.h"
#include "detect/detector.h" /* the detector interface (test_detector_interface) */
#include "detect/leaks.h"
#include "model/model.h"
#include "pipeline/pipeline.h" /* the re-read after lost records (test_lost_identity) */
#include "capture/syscalls.h"

#define NS 1000000000ull

/* ---- a deterministic PRNG for load noise ---- */

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

/* ---- configuration ---- */

static void test_config(void)
{
	struct fdw_leak_config c;

	fdw_leak_config_default(&c);
	CHECK_EQ(c.fast_window, 30);
	CHECK(c.exec_leaks);
	CHECK_EQ(c.fast_min_samples, 30);
	CHECK_EQ(fdw_leak_config_set(&c, "fast_window=20"), 0);
	CHECK_EQ(c.fast_window, 20);
	CHECK_EQ(fdw_leak_fast_min_samples(&c), 20); /* never more than the window */
	CHECK_EQ(fdw_leak_config_set(&c, "fast_min_rate=0.5"), 0);
	CHECK(c.fast_min_rate == 0.5);
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leaks=0"), 0);
	CHECK(!c.exec_leaks);
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leaks=2"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "fast_window=1000"), -EINVAL); /* > ring */
	CHECK_EQ(fdw_leak_config_set(&c, "fast_window=2.5"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "fast_window="), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "fast_window"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "no_such=1"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "=1"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "exhaustion_ratio=0.8x"), -EINVAL);
	/* the shells: a list of commands */
	CHECK(fdw_leak_comm_listed(c.exec_leak_shells, "bash"));
	CHECK(fdw_leak_comm_listed(c.exec_leak_shells, "csh"));
	CHECK(fdw_leak_comm_listed(c.exec_leak_shells, "sh"));
	CHECK(!fdw_leak_comm_listed(c.exec_leak_shells, "bas"));
	CHECK(!fdw_leak_comm_listed(c.exec_leak_shells, "python3"));
	CHECK(!fdw_leak_comm_listed(c.exec_leak_shells, ""));
	CHECK(!fdw_leak_comm_listed(c.exec_leak_shells, NULL));
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leak_shells=,bash"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leak_shells=bash,,sh"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leak_shells=bash sh"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leak_shells=a0123456789abcdef"), -EINVAL);
	CHECK(fdw_leak_comm_listed(c.exec_leak_shells, "bash")); /* unchanged */
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leak_shells=rc,es"), 0);
	CHECK(fdw_leak_comm_listed(c.exec_leak_shells, "es"));
	CHECK(!fdw_leak_comm_listed(c.exec_leak_shells, "bash"));
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leak_shells="), 0); /* none */
	CHECK(!fdw_leak_comm_listed(c.exec_leak_shells, "rc"));
	CHECK_EQ(fdw_leak_config_set(&c, "exec_leak_shells=bash,sh"), 0);
	CHECK_EQ(fdw_leak_config_set(&c, "race_preclose_ms=60001"), -EINVAL);
	CHECK_EQ(fdw_leak_config_set(&c, "race_preclose_ms=0"), 0);
	/* the order of the keys does not matter: a window set after the
	 * samples does not cut them to the window in effect before */
	CHECK_EQ(fdw_leak_config_set(&c, "fast_min_samples=50"), 0);
	CHECK_EQ(fdw_leak_config_set(&c, "fast_window=60"), 0);
	CHECK_EQ(fdw_leak_fast_min_samples(&c), 50);
	CHECK_EQ(fdw_leak_config_set(&c, "slow_min_samples=40"), 0);
	CHECK_EQ(fdw_leak_config_set(&c, "slow_window=45"), 0);
	CHECK_EQ(fdw_leak_slow_min_samples(&c), 40);
	CHECK_EQ(fdw_leak_config_set(&c, "slow_window=12"), 0);
	CHECK_EQ(fdw_leak_slow_min_samples(&c), 12);
	CHECK_EQ(fdw_leak_config_set(&c, "slow_window=45"), 0); /* and back */
	CHECK_EQ(fdw_leak_slow_min_samples(&c), 40);
	/* min samples follow a smaller window */
	CHECK_EQ(fdw_leak_config_set(&c, "fast_window=8"), 0);
	CHECK_EQ(fdw_leak_fast_min_samples(&c), 8);
	/* printed on one line, in a buffer, like snprintf */
	{
		char buf[1024], small[16];
		int n = fdw_leak_config_print(&c, buf, sizeof(buf));

		CHECK(n > 0 && (size_t)n == strlen(buf));
		/* as set (read back, it is the same configuration) */
		CHECK(!strncmp(buf, "fast_window=8 fast_min_samples=50 fast_min_rate=0.5 ", 52));
		CHECK(strstr(buf, " exec_leaks=0 ") != NULL);
		CHECK(strstr(buf, " exec_leak_shells=bash,sh ") != NULL);
		CHECK(strchr(buf, '\n') == NULL);
		CHECK(buf[n - 1] != ' ');
		CHECK_EQ(fdw_leak_config_print(&c, small, sizeof(small)), n);
		CHECK_STR(small, "fast_window=8 f");
	}
}

static void test_pattern(void)
{
	char b[256];

	fdw_leak_pattern("/tmp/req-123.log", b, sizeof(b));
	CHECK_STR(b, "/tmp/req-*.log");
	fdw_leak_pattern("socket:[4711]", b, sizeof(b));
	CHECK_STR(b, "socket:[*]");
	fdw_leak_pattern("/proc/42/stat", b, sizeof(b));
	CHECK_STR(b, "/proc/*/stat");
	fdw_leak_pattern("anon_inode:[eventfd]", b, sizeof(b));
	CHECK_STR(b, "anon_inode:[eventfd]");
	/* digits inside words are names */
	fdw_leak_pattern("/usr/lib/libfoo2.so", b, sizeof(b));
	CHECK_STR(b, "/usr/lib/libfoo2.so");
	fdw_leak_pattern("/tmp/9a8f3c/x", b, sizeof(b));
	CHECK_STR(b, "/tmp/9a8f3c/x");
	fdw_leak_pattern("/tmp/fdwleak-_xejfe81/file", b, sizeof(b));
	CHECK_STR(b, "/tmp/fdwleak-_xejfe81/file");
	fdw_leak_pattern("/tmp/a1b22c333/x-4", b, sizeof(b));
	CHECK_STR(b, "/tmp/a1b22c333/x-*");
	fdw_leak_pattern("12ab/34", b, sizeof(b));
	CHECK_STR(b, "12ab/*");
	fdw_leak_pattern(NULL, b, sizeof(b));
	CHECK_STR(b, "unknown");
	fdw_leak_pattern("/a/12345678", b, 5);
	CHECK_STR(b, "/a/*");
}

/* ---- the trend ---- */

static void test_trend(void)
{
	uint32_t v[20];
	struct fdw_trend t;

	for (int i = 0; i < 20; i++)
		v[i] = 100 + 5 * (uint32_t)i;
	fdw_trend_fit(v, 20, &t);
	CHECK(t.slope > 4.999 && t.slope < 5.001);
	CHECK(t.r2 > 0.999);
	CHECK(t.rising == 1.0);
	CHECK_EQ(t.first, 100);
	CHECK_EQ(t.last, 195);
	CHECK(t.slope_recent > 4.999 && t.slope_recent < 5.001);
	for (int i = 0; i < 20; i++)
		v[i] = 7;
	fdw_trend_fit(v, 20, &t);
	CHECK(t.slope == 0 && t.r2 == 0 && t.rising == 0);
	fdw_trend_fit(v, 0, &t);
	CHECK_EQ(t.n, 0);
}

/*
 * Feed `secs` one-second samples from f(t) and return the first second at
 * which the detector said "growing" (-1: never); *rate gets its rate then.
 */
typedef uint32_t (*series_fn)(unsigned int t);

static long first_growth(const struct fdw_leak_config *c, series_fn f, unsigned int secs,
			 double *rate, int *detector)
{
	struct fdw_leak_series s;
	struct fdw_growth g;

	memset(&s, 0, sizeof(s));
	for (unsigned int t = 0; t < secs; t++) {
		CHECK_EQ(fdw_leak_series_push(&s, c, f(t)), 0);
		if (fdw_leak_growth(c, &s, &g)) {
			if (rate)
				*rate = g.rate_per_s;
			if (detector)
				*detector = g.detector;
			fdw_leak_series_reset(&s);
			return (long)t;
		}
	}
	fdw_leak_series_reset(&s);
	return -1;
}

/* Seconds during which the detector would capture stacks (suspect). */
static unsigned int suspect_seconds(const struct fdw_leak_config *c, series_fn f,
				    unsigned int secs)
{
	struct fdw_leak_series s;
	struct fdw_growth g;
	unsigned int n = 0;

	memset(&s, 0, sizeof(s));
	for (unsigned int t = 0; t < secs; t++) {
		CHECK_EQ(fdw_leak_series_push(&s, c, f(t)), 0);
		(void)fdw_leak_growth(c, &s, &g);
		n += g.suspect;
	}
	fdw_leak_series_reset(&s);
	return n;
}

static uint32_t fast_leak(unsigned int t)
{
	return 10 + 20 * t; /* tens of fds per second */
}

static uint32_t fast_leak_noisy(unsigned int t)
{
	return 50 + 20 * t + rnd(30); /* ... under some load */
}

static uint32_t slow_leak_loaded(unsigned int t)
{
	/* a server: 2000 fds, up to 300 connections coming and going, and a
	 * leak of 3 fds a minute */
	return 2000 + rnd(300) + 3 * t / 60;
}

static uint32_t very_slow_leak(unsigned int t)
{
	return 40 + t / 60; /* one fd a minute */
}

static uint32_t steady_server(unsigned int t)
{
	(void)t;
	return 3000 + rnd(400);
}

static uint32_t spiky(unsigned int t)
{
	/* every 30 s a burst of 500 fds for 3 s */
	return 100 + (t % 30 < 3 ? 500 : 0) + rnd(5);
}

static uint32_t warm_up(unsigned int t)
{
	/* a pool warming up: 100 fds a second for 10 s, then steady */
	return 20 + (t < 10 ? 100 * t : 1000) + rnd(3);
}

static uint32_t server_ramp(unsigned int t)
{
	/* a server under rising load: ~2 connections a second for a minute
	 * on top of 1000 fds, then steady (seen with nginx under wrk) */
	return 1000 + 2 * (t < 60 ? t : 60) + rnd(10);
}

static uint32_t connection_surges(unsigned int t)
{
	/* a server whose held connections surge and ebb (nginx under the
	 * bpf suite's load): ~50 new connections a second for 19 s, held for
	 * 12 s, closed within 5 s; again every minute */
	unsigned int p = t % 60;
	uint32_t top = 24 + 50 * 19;

	if (p < 19)
		return 24 + 50 * p + rnd(40);
	if (p < 31)
		return top + rnd(40);
	if (p < 36)
		return top - (top - 300) * (p - 30) / 5 + rnd(40);
	return 300 + rnd(40);
}

static uint32_t leak_then_stop(unsigned int t)
{
	return 10 + 20 * (t < 40 ? t : 40);
}

static uint32_t steady_then_leak(unsigned int t)
{
	return t < 600 ? 40 : 40 + 20 * (t - 600);
}

static void test_growth_detectors(void)
{
	struct fdw_leak_config c;
	struct fdw_leak_series s;
	struct fdw_growth g;
	double rate = 0;
	int det = 0;
	long at;

	fdw_leak_config_default(&c);

	/* a steady leak of tens of fds per second: within 30 s */
	at = first_growth(&c, fast_leak, 3600, &rate, &det);
	CHECK(at >= 0 && at <= 30);
	CHECK_EQ(det, FDW_GROWTH_FAST);
	CHECK(rate > 19.9 && rate < 20.1);
	at = first_growth(&c, fast_leak_noisy, 3600, &rate, &det);
	CHECK(at >= 0 && at <= 30);
	CHECK(rate > 18 && rate < 22);

	/* a slow one of a few fds per minute under load: within the hour */
	at = first_growth(&c, slow_leak_loaded, 7200, &rate, &det);
	CHECK(at >= 0 && at <= 3600);
	CHECK_EQ(det, FDW_GROWTH_SLOW);
	CHECK(rate * 60 > 2 && rate * 60 < 4);
	at = first_growth(&c, very_slow_leak, 7200, &rate, &det);
	CHECK(at >= 0 && at <= 3600);
	CHECK(rate * 60 > 0.9 && rate * 60 < 1.1);

	/* servers: load, spikes, warm-up are no leaks (two hours each) */
	CHECK_EQ(first_growth(&c, steady_server, 7200, NULL, NULL), -1);
	CHECK_EQ(first_growth(&c, spiky, 7200, NULL, NULL), -1);
	CHECK_EQ(first_growth(&c, server_ramp, 7200, NULL, NULL), -1);
	CHECK_EQ(first_growth(&c, warm_up, 7200, NULL, NULL), -1);
	/* nor a surge of held connections: straight for 19 s, then it holds;
	 * the fast detector wants its whole window of growth (a window of 15
	 * samples fired here) */
	CHECK_EQ(first_growth(&c, connection_surges, 7200, NULL, NULL), -1);
	{
		struct fdw_leak_config half = c;

		half.fast_min_samples = 15;
		CHECK(first_growth(&half, connection_surges, 7200, NULL, NULL) >= 0);
	}
	/* nor worth capturing stacks (it costs every syscall of the process) */
	CHECK_EQ(suspect_seconds(&c, steady_server, 7200), 0);
	CHECK_EQ(suspect_seconds(&c, spiky, 7200), 0);
	CHECK(suspect_seconds(&c, fast_leak, 30) > 0);

	/* a leak that stops is no longer growing once the window moved on */
	memset(&s, 0, sizeof(s));
	for (unsigned int t = 0; t < 40 + c.fast_window + 2; t++)
		CHECK_EQ(fdw_leak_series_push(&s, &c, leak_then_stop(t)), 0);
	CHECK(!fdw_leak_growth(&c, &s, &g));
	CHECK(!g.suspect);
	fdw_leak_series_reset(&s);

	/* a flat series keeps no rings; the first change makes them, holding
	 * the same values as if they had been there all along */
	memset(&s, 0, sizeof(s));
	for (unsigned int t = 0; t < 3 * c.slow_interval; t++)
		CHECK_EQ(fdw_leak_series_push(&s, &c, 100), 0);
	CHECK(!s.ring && s.coarse_n == 3);
	CHECK(!fdw_leak_growth(&c, &s, &g) && !g.suspect);
	{
		uint32_t v[FDW_LEAK_FINE];
		unsigned int n = leak_series_last(&s, 8, v);

		CHECK_EQ(n, 8);
		for (unsigned int i = 0; i < n; i++)
			CHECK_EQ(v[i], 100);
		for (unsigned int t = 0; t < c.slow_interval; t++)
			CHECK_EQ(fdw_leak_series_push(&s, &c, 90 + t), 0);
		CHECK(s.ring && s.coarse_n == 4);
		n = leak_series_last(&s, 3, v);
		CHECK(n == 3 && v[0] == 87 + c.slow_interval && v[2] == 89 + c.slow_interval);
		CHECK(s.ring[FDW_LEAK_FINE + 2] == 100 && s.ring[FDW_LEAK_FINE + 3] == 90);
		if (c.slow_interval >= FDW_LEAK_FINE)
			CHECK_EQ(leak_series_last(&s, FDW_LEAK_FINE, v), FDW_LEAK_FINE);
	}
	fdw_leak_series_reset(&s);
	CHECK(!s.ring && !s.samples);
	fdw_leak_series_reset(NULL);
	/* steady, then a leak: found as fast as from the start */
	at = first_growth(&c, steady_then_leak, 3600, &rate, &det);
	CHECK(at >= 600 && at <= 630);
	CHECK_EQ(det, FDW_GROWTH_FAST);

	/* the thresholds are the configuration's */
	CHECK_EQ(fdw_leak_config_set(&c, "fast_min_rate=50"), 0);
	CHECK(first_growth(&c, fast_leak, 60, NULL, &det) == -1);
}

/* ---- a fake kernel for the model ---- */

#define PID 4242
#define CHILD 4343
#define FILES 0xffff888000002000ull

static uint64_t seq, mono;

static int no_fd(void *u, uint32_t tid, int fd, struct fdw_fd_info *out)
{
	return -ENOENT;
}

/* A scanned shell that holds fds its ancestors left open without
 * close-on-exec, as every shell in a CI runner or an IDE terminal may:
 * /dev/null at 10 and a pipe at 251. Every other task: an empty table. */
static uint32_t stray_tid;

static int empty_table(void *u, uint32_t tid,
		       void (*cb)(void *cbdata, const struct fdw_fd_info *fi), void *cbdata)
{
	struct fdw_fd_info fi;

	if (!stray_tid || tid != stray_tid)
		return 0;
	memset(&fi, 0, sizeof(fi));
	fi.fd = 10;
	fi.ino = 6;
	fi.dev = 5;
	fi.mode = S_IFCHR;
	strcpy(fi.target, "/dev/null");
	cb(cbdata, &fi);
	fi.fd = 251;
	fi.ino = 29681952;
	fi.dev = 14;
	fi.mode = S_IFIFO;
	strcpy(fi.target, "pipe:[29681952]");
	cb(cbdata, &fi);
	return 0;
}

static struct fdw_leaks *leaks_for_hooks;
static int leaks_obs_idx = -1;

static void hook_fd(void *u, struct fdw_proc *p, const struct fdw_event *ev,
		    enum fdw_fd_event_kind kind, int fd, const struct fdw_slot *s)
{
	fdw_leaks_on_fd_event(leaks_for_hooks, p, ev, kind, fd, s);
}

static void hook_exit(void *u, struct fdw_proc *p)
{
	fdw_leaks_on_proc_exit(leaks_for_hooks, p);
}

static void model_new(struct fdw_model *m)
{
	struct fdw_model_ops ops = {
		.read_fd = no_fd,
		.read_table = empty_table,
	};
	struct fdw_model_observer obs = {
		.name = "leaks",
		.on_fd_event = hook_fd,
		.on_proc_exit = hook_exit,
	};

	fdw_model_init(m, &ops);
	leaks_obs_idx = fdw_model_add_observer(m, &obs);
	CHECK(leaks_obs_idx >= 0);
}

static struct fdw_event sys(uint32_t pid, uint64_t files, unsigned int nr, int64_t ret,
			    uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct fdw_event ev = {
		.seq = ++seq,
		.ts = mono ? mono : seq,
		.files = files,
		.pid = pid,
		.tid = pid,
		.type = FDW_REC_SYSCALL,
		.nr = nr,
		.ret = ret,
		.args = { a0, a1, a2 },
	};
	return ev;
}

static void apply(struct fdw_model *m, struct fdw_event ev)
{
	fdw_model_apply(m, &ev);
}

static void do_open(struct fdw_model *m, uint32_t pid, uint64_t files, int fd, const char *path,
		    int flags)
{
	struct fdw_event ev = sys(pid, files, FDW_SYS_OPENAT, fd, (uint64_t)AT_FDCWD, 0, flags);

	ev.nfds = 1;
	ev.fds[0] = fd;
	ev.file = 0xffff888100000000ull + seq * 256;
	ev.kfiles[0] = ev.file;
	ev.ino = 5000 + seq;
	ev.dev = 1;
	ev.mode = S_IFREG | 0644;
	ev.path = path;
	fdw_model_apply(m, &ev);
}

static void do_pipe(struct fdw_model *m, uint32_t pid, int r, int w)
{
	struct fdw_event ev = sys(pid, FILES, FDW_SYS_PIPE2, 0, 0, O_CLOEXEC, 0);

	ev.nfds = 2;
	ev.fds[0] = r;
	ev.fds[1] = w;
	ev.file = 0xffff888200000000ull + seq * 256;
	ev.kfiles[0] = ev.file;
	ev.kfiles[1] = ev.file + 128;
	ev.ino = 9000 + seq;
	ev.mode = S_IFIFO;
	fdw_model_apply(m, &ev);
}

static void start(struct fdw_model *m, uint32_t pid)
{
	uint32_t tids[] = { pid };

	CHECK_EQ(fdw_model_add_scanned(m, pid, 1, "leaky", tids, 1, 1), 0);
}

/* ---- leak sites ---- */

static void test_sites(void)
{
	struct fdw_model m;
	struct fdw_leak_site *sites = NULL;
	uint64_t dropped = 0;
	struct fdw_table *t;
	size_t n = 0;

	model_new(&m);
	leaks_for_hooks = NULL;
	start(&m, PID);
	/* the textbook leak, 50 times: open, dup, close the original */
	for (int i = 0; i < 50; i++) {
		do_open(&m, PID, FILES, 3, "/var/lib/app/data.db", O_RDONLY);
		apply(&m, sys(PID, FILES, FDW_SYS_DUP, 4 + i, 3, 0, 0));
		apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0));
		/* a clean loop beside it, which must not show */
		do_open(&m, PID, FILES, 3, "/etc/hosts", O_RDONLY | O_CLOEXEC);
		apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3, 0, 0));
	}
	/* and files of one pattern, and a pipe */
	for (int i = 0; i < 7; i++) {
		char path[64];

		snprintf(path, sizeof(path), "/tmp/job-%d.out", 100 + i);
		do_open(&m, PID, FILES, 60 + i, path, O_WRONLY);
	}
	do_pipe(&m, PID, 70, 71);
	t = fdw_model_proc_table(&m, fdw_model_proc(&m, PID));
	CHECK(t != NULL);
	CHECK_EQ(fdw_leak_sites(t, 0, NULL, NULL, 16, &sites, &n, &dropped), 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(dropped, 0);
	if (n == 3) {
		CHECK_EQ(sites[0].count, 50);
		CHECK_EQ(sites[0].nr, FDW_SYS_DUP);
		CHECK_EQ(sites[0].ofd_nr, FDW_SYS_OPENAT);
		CHECK_STR(sites[0].pattern, "/var/lib/app/data.db");
		CHECK_STR(sites[0].comm, "leaky");
		CHECK_EQ(sites[0].without_stack, 50);
		CHECK_EQ(sites[0].nsamples, FDW_SITE_SAMPLES);
		CHECK_EQ(sites[0].samples[0], 4);
		CHECK_EQ(sites[1].count, 7);
		CHECK_STR(sites[1].pattern, "/tmp/job-*.out");
		CHECK_EQ(sites[1].nr, FDW_SYS_OPENAT);
		CHECK_EQ(sites[2].count, 2);
		CHECK_EQ(sites[2].nr, FDW_SYS_PIPE2);
		CHECK_STR(sites[2].type, "fifo");
	}
	free(sites);
	/* bounded: the largest one only, the rest counted */
	CHECK_EQ(fdw_leak_sites(t, 0, NULL, NULL, 1, &sites, &n, &dropped), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(dropped, 2);
	CHECK(n == 1 && sites[0].count == 50);
	free(sites);
	/* `since` ranks by what was created recently */
	CHECK_EQ(fdw_leak_sites(t, mono + seq - 1, NULL, NULL, 4, &sites, &n, &dropped), 0);
	CHECK(n == 3 && sites[0].nr == FDW_SYS_PIPE2 && sites[0].recent == 2);
	free(sites);
	fdw_model_free(&m);
}

/*
 * A temp-file leak: mkstemp's names all differ ("tmp" and six random
 * letters and digits), so each fd was a site of its own, and 5,000 leaked
 * files ranked below a lone /dev/null (sorted by pattern among equals),
 * past 4,096 of them not even counted. Their directory's site holds them
 * all; lone files with fewer than 8 alike in a directory stay as they are.
 */
static void test_sites_lone_files(void)
{
	static const char az[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	struct fdw_model m;
	struct fdw_leak_site *sites = NULL;
	uint64_t dropped = 0, x = 88172645463325252ull;
	struct fdw_table *t;
	size_t n = 0;

	model_new(&m);
	leaks_for_hooks = NULL;
	start(&m, PID);
	do_open(&m, PID, FILES, 3, "/dev/null", O_RDONLY);
	do_open(&m, PID, FILES, 4, "/etc/hosts", O_RDONLY);
	do_open(&m, PID, FILES, 5, "/etc/passwd", O_RDONLY);
	for (int i = 0; i < 5000; i++) {
		char path[64] = "/tmp/leak/tmp";

		for (int k = 0; k < 6; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			path[13 + k] = az[x % (sizeof(az) - 1)];
		}
		path[19] = '\0';
		do_open(&m, PID, FILES, 10 + i, path, O_RDWR);
	}
	t = fdw_model_proc_table(&m, fdw_model_proc(&m, PID));
	CHECK_EQ(fdw_leak_sites(t, 0, NULL, NULL, 16, &sites, &n, &dropped), 0);
	CHECK(n >= 1);
	if (n >= 1) {
		CHECK_STR(sites[0].pattern, "/tmp/leak/*");
		CHECK_EQ(sites[0].count, 5000);
		CHECK_EQ(sites[0].nr, FDW_SYS_OPENAT);
		CHECK_EQ(sites[0].nsamples, FDW_SITE_SAMPLES);
	}
	CHECK_EQ(n, 4); /* and /dev/null, /etc/hosts, /etc/passwd */
	CHECK_EQ(dropped, 0);
	for (size_t i = 1; i < n; i++)
		CHECK_EQ(sites[i].count, 1);
	free(sites);
	fdw_model_free(&m);
}

/* ---- the detectors with alerts, in (synthetic) time ---- */

static uint64_t fake_soft = 1000;

static int fake_limit(void *u, uint32_t pid, uint64_t *soft, uint64_t *hard)
{
	*soft = fake_soft;
	*hard = 4096;
	return 0;
}

static int fake_start(void *u, uint32_t pid, uint64_t *ticks)
{
	*ticks = (uint64_t)pid * 10;
	return 0;
}

static int fake_unit(void *u, uint32_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "leaky.service");
	return 0;
}

static unsigned int count_lines(const char *log, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = log; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* pids whose program is bash, whatever their command (a #! script's) */
#define FAKE_BASH_FIRST 6041
#define FAKE_BASH_LAST 6042
static unsigned int fake_exe_reads;

static int fake_exe(void *u, uint32_t pid, char *buf, size_t len)
{
	fake_exe_reads++;
	snprintf(buf, len, "%s", pid >= FAKE_BASH_FIRST && pid <= FAKE_BASH_LAST ? "bash" : "prog");
	return 0;
}

/* What /proc/PID/fdinfo/FD says of locks (test_exec_locked): fake_locks[]
 * answers for (pid, fd), with the inode the caller expects; any other fd
 * holds none. */
static struct {
	uint32_t pid;
	int fd;
	uint64_t ino; /* what the caller must pass (0: anything) */
	int answer;   /* 1, 0 or -errno */
} fake_locks[8];
static unsigned int fake_nlocks, fake_lock_reads;

static int fake_fd_locked(void *u, uint32_t pid, int fd, uint64_t ino)
{
	fake_lock_reads++;
	for (unsigned int i = 0; i < fake_nlocks; i++)
		if (fake_locks[i].pid == pid && fake_locks[i].fd == fd)
			return !fake_locks[i].ino || fake_locks[i].ino == ino ? fake_locks[i].answer : 0;
	return 0;
}

static void fake_lock(uint32_t pid, int fd, uint64_t ino, int answer)
{
	if (fake_nlocks < sizeof(fake_locks) / sizeof(fake_locks[0]))
		fake_locks[fake_nlocks++] = (typeof(fake_locks[0])){ pid, fd, ino, answer };
}

static const struct fdw_leak_ops fake_ops = {
	.read_limit = fake_limit,
	.read_start = fake_start,
	.read_unit = fake_unit,
	.read_exe = fake_exe,
	.read_fd_locked = fake_fd_locked,
};

/* A model, an alert store (not persisted, silent) and the detectors on
 * them, reading the fake system above. */
static struct fdw_leaks *leaks_setup(struct fdw_model *m, struct fdw_alerts *store,
				     const struct fdw_leak_config *c)
{
	struct fdw_leaks *l = NULL;

	CHECK_EQ(fdw_alerts_init(store, 100, NULL), 0);
	store->log = NULL;
	model_new(m);
	CHECK_EQ(fdw_leaks_new(&l, c, &(struct fdw_leaks_deps){
				.model = m, .alerts = store, .ops = &fake_ops }), 0);
	leaks_for_hooks = l;
	fdw_leaks_set_observer_index(l, leaks_obs_idx);
	return l;
}

/* An exec-leak test's detectors: exec_min_age `age` s, a large soft limit,
 * the clock at NS. */
static struct fdw_leaks *exec_setup(struct fdw_model *m, struct fdw_alerts *store,
				    struct fdw_leak_config *c, const char *age)
{
	struct fdw_leaks *l;

	fdw_leak_config_default(c);
	CHECK_EQ(fdw_leak_config_set(c, age), 0);
	fake_soft = 65536;
	fake_nlocks = 0;
	l = leaks_setup(m, store, c);
	mono = NS;
	return l;
}

static void leaks_teardown(struct fdw_leaks *l, struct fdw_model *m, struct fdw_alerts *store)
{
	fdw_leaks_free(l);
	fdw_model_free(m);
	fdw_alerts_free(store);
	fake_soft = 1000;
	mono = 0;
}

static void test_alert_lifecycle(void)
{
	struct fdw_leak_config c;
	struct fdw_leak_procinfo pi;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_alert *g, *ex, *hit;
	struct fdw_model m;
	char *log = NULL;
	size_t loglen = 0;
	FILE *logf = open_memstream(&log, &loglen);
	double real = 1.7e9;
	int fd = 3;
	json_t *site;

	fdw_leak_config_default(&c);
	CHECK_EQ(fdw_leak_config_set(&c, "limit_quiet=5"), 0);
	CHECK_EQ(fdw_leak_config_set(&c, "growth_quiet=20"), 0);
	l = leaks_setup(&m, &store, &c);
	store.log = logf;
	start(&m, PID);
	mono = NS;

	/* 20 fds a second, the textbook way, until near the limit */
	for (int s = 0; s < 45; s++) {
		for (int i = 0; i < 20; i++, fd++) {
			mono += NS / 40;
			do_open(&m, PID, FILES, 1000, "/srv/leaky.db", O_RDONLY);
			apply(&m, sys(PID, FILES, FDW_SYS_DUP, fd, 1000, 0, 0));
			apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 1000, 0, 0));
		}
		mono += NS / 2;
		fdw_leaks_tick(l, mono, real += 1);
		if (s == 29) {
			/* reported within 30 s, once */
			g = fdw_alerts_find_firing(&store, FDW_ALERT_GROWTH, PID, PID * 10);
			CHECK(g != NULL);
		}
	}
	g = fdw_alerts_find_firing(&store, FDW_ALERT_GROWTH, PID, PID * 10);
	CHECK(g != NULL);
	if (g) {
		const json_t *ev = g->evidence;

		CHECK_STR(json_string_value(json_object_get(ev, "detector")), "fast");
		CHECK(json_real_value(json_object_get(ev, "rate_per_min")) > 1100);
		CHECK(json_real_value(json_object_get(ev, "rate_per_min")) < 1300);
		CHECK_EQ(json_integer_value(json_object_get(ev, "limit_soft")), 1000);
		CHECK(json_is_number(json_object_get(ev, "seconds_to_limit")));
		site = json_array_get(json_object_get(ev, "sites"), 0);
		CHECK_STR(json_string_value(json_object_get(site, "syscall")), "dup");
		CHECK_STR(json_string_value(json_object_get(site, "opened_by")), "openat");
		CHECK_STR(json_string_value(json_object_get(site, "target")), "/srv/leaky.db");
		CHECK(json_integer_value(json_object_get(site, "count")) > 500);
		CHECK(g->rate_per_s > 18 && g->rate_per_s < 22);
		CHECK(strstr(g->summary, "dup of openat /srv/leaky.db") != NULL);
		{
			/* the window's fd counts, for a sparkline: bounded, rising
			 * by 20 a second, oldest first */
			const json_t *series = json_object_get(ev, "series");
			size_t n = json_array_size(series);

			CHECK(n >= 10 && n <= FDW_LEAK_FINE);
			CHECK_EQ(json_integer_value(json_object_get(ev, "series_step_s")), 1);
			if (n >= 2)
				CHECK_EQ(json_integer_value(json_array_get(series, n - 1)) -
						 json_integer_value(json_array_get(series, n - 2)),
					 20);
		}
	}
	{
		/* GET /v1/processes' figures: ~1200 fds/min, the soft limit */
		struct fdw_leak_trend tr;

		CHECK(fdw_leaks_proc_trend(l, fdw_model_proc(&m, PID), &tr));
		CHECK(tr.limit_known && tr.soft == 1000);
		CHECK(tr.samples >= 2);
		CHECK(tr.per_min > 1100 && tr.per_min < 1300);
	}
	/* 900 of 1000: exhaustion too */
	ex = fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, PID, PID * 10);
	CHECK(ex != NULL);
	CHECK(fdw_leaks_proc_info(l, fdw_model_proc(&m, PID), &pi));
	CHECK(pi.growing && pi.soft == 1000 && !strcmp(pi.unit, "leaky.service"));

	/* EMFILE came back: fd-limit-hit, once however often it happens */
	for (int i = 0; i < 5; i++) {
		mono += NS / 10;
		apply(&m, sys(PID, FILES, FDW_SYS_OPENAT, -EMFILE, (uint64_t)AT_FDCWD, 0, 0));
	}
	fdw_leaks_tick(l, mono += NS, real += 1);
	hit = fdw_alerts_find_firing(&store, FDW_ALERT_LIMIT_HIT, PID, PID * 10);
	CHECK(hit != NULL);
	if (hit) {
		CHECK_EQ(json_integer_value(json_object_get(hit->evidence, "failures")), 5);
		CHECK_STR(json_string_value(json_object_get(hit->evidence, "errno")), "EMFILE");
		CHECK_STR(json_string_value(json_object_get(hit->evidence, "syscall")), "openat");
	}
	/* the growth stopped: while its alert still fires, its evidence says
	 * so (no rate, no projection, the fds now), not the last refresh */
	for (int s = 0; s < 3; s++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(g && g->state == FDW_ALERT_FIRING);
	if (g && g->state == FDW_ALERT_FIRING) {
		CHECK(json_real_value(json_object_get(g->evidence, "rate_per_min")) == 0);
		CHECK(json_is_null(json_object_get(g->evidence, "seconds_to_limit")));
		CHECK_EQ(json_integer_value(json_object_get(g->evidence, "fds")),
			 fdw_model_proc_table(&m, fdw_model_proc(&m, PID))->nopen);
		CHECK(g->rate_per_s == 0 && g->eta_s < 0);
	}
	/* no more failures: resolved after limit_quiet; growth stopped too */
	for (int s = 0; s < 37; s++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_LIMIT_HIT, PID, PID * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_GROWTH, PID, PID * 10) == NULL);
	CHECK(g && g->state == FDW_ALERT_RESOLVED && strstr(g->resolution, "stopped growing"));
	CHECK(ex && ex->state == FDW_ALERT_FIRING);

	/* the limit is raised (prlimit): exhaustion clears at the next read */
	fake_soft = 100000;
	for (int s = 0; s < 12; s++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(ex && ex->state == FDW_ALERT_RESOLVED);

	/* the process lowers its own limit (setrlimit: no event) and hits
	 * it within limit_refresh: the EMFILE makes the limit be read again
	 * before the alert tells it */
	fake_soft = 150;
	apply(&m, sys(PID, FILES, FDW_SYS_OPENAT, -EMFILE, (uint64_t)AT_FDCWD, 0, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	hit = fdw_alerts_find_firing(&store, FDW_ALERT_LIMIT_HIT, PID, PID * 10);
	CHECK(hit != NULL);
	if (hit) {
		CHECK(strstr(hit->summary, "soft limit 150") != NULL);
		CHECK_EQ(json_integer_value(json_object_get(hit->evidence, "limit_soft")), 150);
	}
	/* ... under the fds it holds: no growth towards the limit (the fds
	 * came first), so no fd-exhaustion; fd-limit-hit tells the failures */
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, PID, PID * 10) == NULL);

	/* exit: nothing fires for it any more */
	{
		struct fdw_event ev = {
			.seq = ++seq, .ts = mono, .files = FILES, .pid = PID, .tid = PID,
			.type = FDW_REC_EXIT, .flags = FDW_F_GROUP_DEAD,
		};
		fdw_model_apply(&m, &ev);
	}
	CHECK_EQ(store.stats.firing[FDW_ALERT_GROWTH] + store.stats.firing[FDW_ALERT_EXHAUSTION] +
			 store.stats.firing[FDW_ALERT_LIMIT_HIT],
		 0);
	CHECK_EQ(fdw_leaks_stats(l)->procs, 0);
	fflush(logf);
	/* each fire and each resolve logged once, with a priority (growth,
	 * exhaustion and limit-hit, then limit-hit again) */
	CHECK_EQ(count_lines(log, "<4>fdwatchd: leak alert"), 4);
	CHECK_EQ(count_lines(log, "<5>fdwatchd: leak alert"), 4);
	CHECK_EQ(count_lines(log, "firing: fd-growth pid 4242 (leaky)"), 1);
	leaks_teardown(l, &m, &store);
	fclose(logf);
	free(log);
}

/* Servers do not fire: a process with load that comes and goes. */
static void test_server_no_alert(void)
{
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_model m;
	int open_now = 0;

	fake_soft = 65536;
	l = leaks_setup(&m, &store, NULL);
	start(&m, PID);
	mono = NS;
	/* 2000 fds held, then an hour of 0..400 connections */
	for (int fd = 10; fd < 2010; fd++)
		do_open(&m, PID, FILES, fd, "/srv/static/file", O_RDONLY | O_CLOEXEC);
	for (int s = 0; s < 3600; s++) {
		int want = (int)rnd(400);

		for (; open_now < want; open_now++) {
			struct fdw_event ev = sys(PID, FILES, FDW_SYS_ACCEPT4, 3000 + open_now, 3, 0, 0);

			ev.nfds = 1;
			ev.fds[0] = 3000 + open_now;
			ev.file = 0xffff888300000000ull + seq * 256;
			ev.kfiles[0] = ev.file;
			ev.ino = 70000 + seq;
			ev.mode = S_IFSOCK;
			fdw_model_apply(&m, &ev);
		}
		for (; open_now > want; open_now--)
			apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 3000 + open_now - 1, 0, 0));
		fdw_leaks_tick(l, mono += NS, 1.7e9 + s);
	}
	CHECK_EQ(store.n, 0);
	leaks_teardown(l, &m, &store);
}

/* Leaks into children: the parent's fd without cloexec survives the exec. */
/* `parent` (its table `files`, its command `pcomm`) forks `child` onto
 * `child_files`, which execs `comm`: the records of both, at mono */
static void fork_exec(struct fdw_model *m, uint32_t parent, uint64_t files, const char *pcomm,
		      uint32_t child, uint64_t child_files, const char *comm)
{
	struct fdw_event ev = sys(parent, files, 0, 0, 0, 0, 0);

	ev.type = FDW_REC_FORK;
	ev.child_pid = ev.child_tid = child;
	ev.child_files = child_files;
	snprintf(ev.comm, sizeof(ev.comm), "%s", pcomm);
	fdw_model_apply(m, &ev);
	ev = sys(child, child_files, 0, 0, 0, 0, 0);
	ev.type = FDW_REC_EXEC;
	ev.child_pid = child;
	snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
	fdw_model_apply(m, &ev);
}

/*
 * A sandbox lowers RLIMIT_NOFILE under the fds it holds (OpenSSH's
 * pre-auth child: soft and hard 1, seven fds open): no fd-exhaustion, as
 * no growth could have got there. A table full up to the limit fires.
 */
static void test_exhaustion_lowered(void)
{
	struct fdw_alerts store;
	struct fdw_leaks *l;
	struct fdw_model m;
	double real = 1.7e9;

	l = leaks_setup(&m, &store, NULL);
	start(&m, PID);
	mono = NS;
	for (int fd = 0; fd < 7; fd++)
		do_open(&m, PID, FILES, fd, "/dev/null", O_RDWR);
	/* 7 fds open, the limit 1 (700%) */
	fake_soft = 1;
	for (int s = 0; s < 12; s++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, PID, PID * 10) == NULL);
	/* as many fds as the limit, but one at a number above it (9, of 4) */
	for (int fd = 3; fd < 7; fd++)
		apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0, 0));
	do_open(&m, PID, FILES, 9, "/dev/null", O_RDWR);
	fake_soft = 4;
	for (int s = 0; s < 12; s++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, PID, PID * 10) == NULL);
	/* 7 of 7, all below it: exhaustion */
	apply(&m, sys(PID, FILES, FDW_SYS_CLOSE, 0, 9, 0, 0));
	for (int fd = 3; fd < 7; fd++)
		do_open(&m, PID, FILES, fd, "/dev/null", O_RDWR);
	fake_soft = 7;
	for (int s = 0; s < 12; s++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, PID, PID * 10) != NULL);
	fake_soft = 1000;
	leaks_teardown(l, &m, &store);
}

static void test_exec_leak(void)
{
	const uint64_t CHILD_FILES = FILES + 0x1000;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_model m;
	struct fdw_alert *a;
	struct fdw_event ev;
	const json_t *leaked;

	fake_soft = 65536;
	l = leaks_setup(&m, &store, NULL);
	start(&m, PID);
	mono = NS;
	do_open(&m, PID, FILES, 5, "/srv/secret.key", O_RDONLY);     /* leaks */
	do_open(&m, PID, FILES, 6, "/srv/cloexec.db", O_RDONLY | O_CLOEXEC); /* does not */
	fdw_leaks_tick(l, mono += NS, 1.7e9);
	fork_exec(&m, PID, FILES, "leaky", CHILD, CHILD_FILES, "helper");
	/* reported once the parent outlived the exec by exec_min_age */
	fdw_leaks_tick(l, mono += NS, 1.7e9 + 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, PID, PID * 10) == NULL);
	for (int i = 0; i < 10; i++)
		fdw_leaks_tick(l, mono += NS, 1.7e9 + 2 + i);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, PID, PID * 10);
	CHECK(a != NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, CHILD, CHILD * 10) == NULL);
	if (a) {
		leaked = json_object_get(a->evidence, "leaked");
		CHECK_EQ(json_array_size(leaked), 1);
		CHECK_EQ(json_integer_value(json_object_get(json_array_get(leaked, 0), "fd")), 5);
		CHECK_STR(json_string_value(json_object_get(json_array_get(leaked, 0), "target")),
			  "/srv/secret.key");
		CHECK_STR(json_string_value(json_object_get(
				  json_object_get(json_array_get(leaked, 0), "opened_by"), "syscall")),
			  "openat");
		CHECK_EQ(json_integer_value(json_object_get(
				 json_array_get(json_object_get(a->evidence, "children"), 0), "pid")),
			 CHILD);
		CHECK(strstr(a->summary, "helper[4343]") != NULL);
	}
	/* the parent sets close-on-exec: its next fork will not leak, but the
	 * child still holds the fd it got */
	apply(&m, sys(PID, FILES, FDW_SYS_FCNTL, 0, 5, F_SETFD, FD_CLOEXEC));
	fdw_leaks_tick(l, mono += NS, 1.7e9 + 20);
	CHECK(a && a->state == FDW_ALERT_FIRING);
	/* ... and closes it: fixed */
	apply(&m, sys(CHILD, CHILD_FILES, FDW_SYS_CLOSE, 0, 5, 0, 0));
	fdw_leaks_tick(l, mono += NS, 1.7e9 + 20.5);
	CHECK(a && a->state == FDW_ALERT_RESOLVED);
	/* a short-lived parent (a shell running one command): no news */
	{
		const uint32_t SH = 5000, CMD = 5001;
		const uint64_t SH_FILES = FILES + 0x5000, CMD_FILES = FILES + 0x6000;

		start(&m, SH);
		do_open(&m, SH, SH_FILES, 7, "/srv/log", O_WRONLY);
		fork_exec(&m, SH, SH_FILES, "sh", CMD, CMD_FILES, "cat");
		fdw_leaks_tick(l, mono += NS, 1.7e9 + 21);
		for (uint32_t who = CMD; who >= SH; who--) {
			memset(&ev, 0, sizeof(ev));
			ev.seq = ++seq;
			ev.ts = mono;
			ev.pid = ev.tid = who;
			ev.files = who == SH ? SH_FILES : CMD_FILES;
			ev.type = FDW_REC_EXIT;
			ev.flags = FDW_F_GROUP_DEAD;
			fdw_model_apply(&m, &ev);
		}
		for (int i = 0; i < 15; i++)
			fdw_leaks_tick(l, mono += NS, 1.7e9 + 22 + i);
		CHECK_EQ(store.stats.fired[FDW_ALERT_EXEC_LEAK], 1);
	}
	leaks_teardown(l, &m, &store);
}

/*
 * An alert its process's exit resolves carries the exit's time, not the
 * last tick's (up to a second earlier): a hostile tester saw fired_at ==
 * resolved_at for a process killed 1.5 s after its alert fired.
 */
static void test_exit_resolved_at(void)
{
	const uint64_t CHILD_FILES = FILES + 0x1000;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_model m;
	struct fdw_alert *a;
	struct fdw_event ev;
	double d;

	fake_soft = 65536;
	l = leaks_setup(&m, &store, NULL);
	start(&m, PID);
	mono = NS;
	do_open(&m, PID, FILES, 5, "/srv/secret.key", O_RDONLY);
	fdw_leaks_tick(l, mono += NS, 1.7e9);
	fork_exec(&m, PID, FILES, "leaky", CHILD, CHILD_FILES, "helper");
	for (int i = 0; i < 12; i++)
		fdw_leaks_tick(l, mono += NS, 1.7e9 + 1 + i);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, PID, PID * 10);
	CHECK(a != NULL);
	/* the last tick said 1.7e9 + 12; the parent exits 0.75 s after it
	 * (do_exit's record, at that time and in PID's own table) */
	ev = sys(PID, FILES, 0, 0, 0, 0, 0);
	ev.ts = mono + 3 * NS / 4;
	ev.type = FDW_REC_EXIT;
	ev.flags = FDW_F_GROUP_DEAD;
	fdw_model_apply(&m, &ev);
	CHECK(a && a->state == FDW_ALERT_RESOLVED);
	d = a ? a->resolved_at - (1.7e9 + 12.75) : 1;
	fprintf(stderr, "resolved_at - exit time: %.6f s\n", d);
	CHECK(d > -1e-3 && d < 1e-3);
	leaks_teardown(l, &m, &store);
}

/* ---- who leaked it into the exec ---- */

static uint64_t files_of(uint32_t pid)
{
	return FILES + ((uint64_t)pid << 12);
}

static void do_fork(struct fdw_model *m, uint32_t parent, uint32_t child)
{
	struct fdw_event ev = sys(parent, files_of(parent), 0, 0, 0, 0, 0);

	ev.type = FDW_REC_FORK;
	ev.child_pid = ev.child_tid = child;
	ev.child_files = files_of(child);
	strcpy(ev.comm, fdw_model_proc(m, parent) ? fdw_model_proc(m, parent)->comm : "?");
	fdw_model_apply(m, &ev);
}

static void do_exec(struct fdw_model *m, uint32_t pid, const char *comm)
{
	struct fdw_event ev = sys(pid, files_of(pid), 0, 0, 0, 0, 0);

	ev.type = FDW_REC_EXEC;
	ev.child_pid = pid;
	snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
	fdw_model_apply(m, &ev);
}

static void do_exit(struct fdw_model *m, uint32_t pid)
{
	struct fdw_event ev = sys(pid, files_of(pid), 0, 0, 0, 0, 0);

	ev.type = FDW_REC_EXIT;
	ev.flags = FDW_F_GROUP_DEAD;
	fdw_model_apply(m, &ev);
}

/* fork `parent` into `child`, which runs `comm` */
static void spawn(struct fdw_model *m, uint32_t parent, uint32_t child, const char *comm)
{
	do_fork(m, parent, child);
	do_exec(m, child, comm);
}

static void do_socket(struct fdw_model *m, uint32_t pid, int fd, int type)
{
	struct fdw_event ev = sys(pid, files_of(pid), FDW_SYS_SOCKET, fd, AF_UNIX, (uint64_t)type, 0);

	ev.nfds = 1;
	ev.fds[0] = fd;
	ev.file = 0xffff888400000000ull + seq * 256;
	ev.kfiles[0] = ev.file;
	ev.ino = 80000 + seq;
	ev.mode = S_IFSOCK;
	fdw_model_apply(m, &ev);
}

static void do_recv_fd(struct fdw_model *m, uint32_t pid, int fd)
{
	struct fdw_event ev = sys(pid, files_of(pid), FDW_SYS_RECVMSG, 1, 3, 0, 0);

	ev.nfds = 1;
	ev.fds[0] = fd;
	ev.file = 0xffff888500000000ull + seq * 256;
	ev.kfiles[0] = ev.file;
	ev.ino = 90000 + seq;
	ev.mode = S_IFREG;
	fdw_model_apply(m, &ev);
}

#define SYS(m, pid, nr, ret, a0, a1, a2) apply(m, sys(pid, files_of(pid), nr, ret, a0, a1, a2))

static unsigned int exec_alerts(const struct fdw_alerts *store)
{
	return (unsigned int)store->stats.firing[FDW_ALERT_EXEC_LEAK];
}

static const json_t *leaked_fd(const struct fdw_alert *a, unsigned int i)
{
	return json_array_get(json_object_get(a->evidence, "leaked"), i);
}

/* Process `pid` (started at pid * 10) has a firing exec-leak alert for `n`
 * fds, the first of them `fd` (-1: any). A macro: a failure names the
 * caller's line. */
#define CHECK_EXEC_FIRED(store, pid, n, fd)                                                   \
	do {                                                                                  \
		const struct fdw_alert *a_ =                                                  \
			fdw_alerts_find_firing((store), FDW_ALERT_EXEC_LEAK, (pid), (pid) * 10); \
                                                                                              \
		CHECK(a_ != NULL);                                                            \
		if (a_) {                                                                     \
			CHECK_EQ(json_array_size(json_object_get(a_->evidence, "leaked")), (n)); \
			if ((fd) >= 0)                                                        \
				CHECK_EQ(json_integer_value(                                  \
						 json_object_get(leaked_fd(a_, 0), "fd")),    \
					 (fd));                                               \
		}                                                                             \
	} while (0)

/*
 * The exec-leak detector on what a host runs, all under a shell that the
 * daemon found holding stray fds 10 and 251 without close-on-exec: none of
 * the pass-through, set-up and made-inheritable patterns fires; each real
 * leak fires once, against the process that created the fd.
 */
static void test_exec_attribution(void)
{
	enum {
		SH = 6000,     /* found in /proc with fds 10 and 251 */
		LS = 6001,     /* SH runs ls */
		LOOP = 6002,   /* a safe loop in a script, running commands */
		TRUE1 = 6003,
		REDIR = 6004,  /* cmd 3>file, open straight into 3 */
		REDIR2 = 6005, /* cmd 3>file, 3 busy: open 5, dup2 onto 3 */
		PY = 6006,     /* subprocess with pass_fds */
		PYKID = 6007,
		PYKID2 = 6008,
		MAKE = 6009,   /* -j with a jobserver */
		SUBMAKE = 6010,
		RECIPE = 6011,
		SA = 6012,     /* socket activation: dup2 onto fd 3, LISTEN_FDS=1 */
		SAKID = 6013,
		SA2 = 6014,    /* ... the same with F_DUPFD(fd, 3) */
		SA2KID = 6015,
		SH2 = 6016,    /* a shell started later: exec 10</dev/null 251<>fifo */
		WRAP = 6017,   /* ... runs bash -c */
		WKID = 6018,
		SELF = 6019,   /* a wrapper that opens 3 and execs its program */
		LEAKER = 6020, /* opens without O_CLOEXEC, forks, execs: alert */
		HELPER = 6021,
		HELPER2 = 6022,
		HKID = 6023,   /* the helper runs something: pass-through */
		SRV = 6024,    /* a prefork server: opens, forks a worker, which spawns */
		WORKER = 6025,
		CGI = 6026,
		RECV = 6027,   /* received by SCM_RIGHTS, then fork + exec: alert */
		RKID = 6028,
		DUPER = 6029,  /* plain dup (lowest number) of a cloexec fd: alert */
		DKID = 6030,
		ORPHAN = 6031, /* the creator exited: its child, the parent, is blamed */
		OKID = 6032,
		OGKID = 6033,
		LOCKSH = 6034, /* bash: exec 3>lock (open straight into 3); flock 3 */
		FLOCK = 6035,
		SLEEP = 6036,
		VARSH = 6037,  /* bash: exec {v}>file (F_DUPFD from 10: 10 is busy) */
		VKID = 6038,
		SHLEAK = 6039, /* a leaker whose child execs a shell, which execs */
		SHKID = 6040,
		SCRIPT = 6041, /* bash running a #! script: its command is the script's */
		SKID = 6043,
		SKID2 = 6044,
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_alert *a;
	struct fdw_model m;
	double real = 1.8e9;
	const uint32_t sh_tids[] = { SH };

	l = exec_setup(&m, &store, &c, "exec_min_age=0");
	stray_tid = SH;
	CHECK_EQ(fdw_model_add_scanned(&m, SH, 1, "bash", sh_tids, 1, mono), 0);
	stray_tid = 0;
	CHECK(fdw_slot_open(fdw_table_slot(fdw_model_proc_table(&m, fdw_model_proc(&m, SH)), 251)));

	/* found in /proc: nobody knows who made them; SH passes them on */
	spawn(&m, SH, LS, "ls");
	/* the safe loop: open, dup, close both, and a command each round */
	spawn(&m, SH, LOOP, "bash");
	for (int i = 0; i < 3; i++) {
		do_open(&m, LOOP, files_of(LOOP), 3, "/tmp/data", O_RDONLY);
		SYS(&m, LOOP, FDW_SYS_DUP, 4, 3, 0, 0);
		SYS(&m, LOOP, FDW_SYS_CLOSE, 0, 3, 0, 0);
		SYS(&m, LOOP, FDW_SYS_CLOSE, 0, 4, 0, 0);
		spawn(&m, LOOP, TRUE1 + 100 * (uint32_t)i, "true");
	}
	/* cmd 3>file: the child opens (3 is the lowest free) and execs */
	do_fork(&m, LOOP, REDIR);
	do_open(&m, REDIR, files_of(REDIR), 3, "/tmp/out", O_WRONLY | O_CREAT);
	do_exec(&m, REDIR, "cmd");
	/* ... 3 was busy: open elsewhere, dup2 onto 3, close */
	do_fork(&m, LOOP, REDIR2);
	do_open(&m, REDIR2, files_of(REDIR2), 5, "/tmp/out", O_WRONLY | O_CREAT);
	SYS(&m, REDIR2, FDW_SYS_DUP2, 3, 5, 3, 0);
	SYS(&m, REDIR2, FDW_SYS_CLOSE, 0, 5, 0, 0);
	do_exec(&m, REDIR2, "cmd");
	/* pass_fds: cloexec in the parent, cleared in the child (FIONCLEX,
	 * or F_SETFD on older Pythons) */
	spawn(&m, SH, PY, "python3");
	do_open(&m, PY, files_of(PY), 3, "/tmp/passed", O_RDONLY | O_CLOEXEC);
	do_fork(&m, PY, PYKID);
	SYS(&m, PYKID, FDW_SYS_IOCTL, 0, 3, FIONCLEX, 0);
	do_exec(&m, PYKID, "sh");
	{
		const struct fdw_table *t = fdw_model_proc_table(&m, fdw_model_proc(&m, PYKID));
		const struct fdw_slot *s3 = fdw_table_slot(t, 3), *s10 = fdw_table_slot(t, 10);

		/* the model's part: the bits the rule reads */
		CHECK(fdw_slot_open(s3) && s3->inheritable && !s3->cloexec && s3->exec_passed);
		CHECK(fdw_slot_open(s10) && !s10->inheritable && s10->exec_passed);
		CHECK(!fdw_table_slot(fdw_model_proc_table(&m, fdw_model_proc(&m, PY)), 3)->inheritable);
	}
	do_fork(&m, PY, PYKID2);
	SYS(&m, PYKID2, FDW_SYS_FCNTL, 0, 3, F_SETFD, 0);
	do_exec(&m, PYKID2, "sh");
	/* make -j: jobserver pipe cloexec, made inheritable around spawning a
	 * recursive make; the sub-make's recipes get it by pass-through */
	spawn(&m, SH, MAKE, "make");
	{
		struct fdw_event ev = sys(MAKE, files_of(MAKE), FDW_SYS_PIPE2, 0, 0, O_CLOEXEC, 0);

		ev.nfds = 2;
		ev.fds[0] = 3;
		ev.fds[1] = 4;
		ev.file = 0xffff888600000000ull;
		ev.kfiles[0] = ev.file;
		ev.kfiles[1] = ev.file + 128;
		ev.ino = 123456;
		ev.mode = S_IFIFO;
		fdw_model_apply(&m, &ev);
	}
	SYS(&m, MAKE, FDW_SYS_FCNTL, 0, 3, F_SETFD, 0);
	SYS(&m, MAKE, FDW_SYS_FCNTL, 0, 4, F_SETFD, 0);
	do_fork(&m, MAKE, SUBMAKE);
	SYS(&m, MAKE, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	SYS(&m, MAKE, FDW_SYS_FCNTL, 0, 4, F_SETFD, FD_CLOEXEC);
	do_exec(&m, SUBMAKE, "make");
	spawn(&m, SUBMAKE, RECIPE, "sh");
	/* socket activation: the parent dup2s the listener onto 3 */
	spawn(&m, SH, SA, "python3");
	do_socket(&m, SA, 4, SOCK_STREAM | SOCK_CLOEXEC);
	SYS(&m, SA, FDW_SYS_DUP2, 3, 4, 3, 0);
	CHECK(fdw_slot_origin(fdw_table_slot(fdw_model_proc_table(&m, fdw_model_proc(&m, SA)), 3))->flags &
	      FDW_ORIGIN_CHOSEN);
	spawn(&m, SA, SAKID, "server");
	spawn(&m, SH, SA2, "activate");
	do_socket(&m, SA2, 4, SOCK_STREAM | SOCK_CLOEXEC);
	SYS(&m, SA2, FDW_SYS_FCNTL, 3, 4, F_DUPFD, 3);
	spawn(&m, SA2, SA2KID, "server");
	/* a shell started under the daemon: exec 10</dev/null 251<>fifo is
	 * open + dup2 + close; its script's commands get them */
	spawn(&m, SH, SH2, "bash");
	do_open(&m, SH2, files_of(SH2), 3, "/dev/null", O_RDONLY);
	SYS(&m, SH2, FDW_SYS_DUP2, 12, 3, 12, 0);
	SYS(&m, SH2, FDW_SYS_CLOSE, 0, 3, 0, 0);
	spawn(&m, SH2, WRAP, "bash");
	spawn(&m, WRAP, WKID, "ls");
	/* a wrapper that opens its program's fd 3 itself and execs */
	spawn(&m, SH, SELF, "wrapper");
	do_open(&m, SELF, files_of(SELF), 3, "/var/lock/x", O_RDONLY);
	do_exec(&m, SELF, "prog");
	/* the flock(1) idiom: a shell's redirection for its commands, on the
	 * number the open got (no dup2: the number was free) */
	spawn(&m, SH, LOCKSH, "bash");
	do_open(&m, LOCKSH, files_of(LOCKSH), 3, "/tmp/x.lock", O_WRONLY | O_CREAT | O_TRUNC);
	spawn(&m, LOCKSH, FLOCK, "flock");
	spawn(&m, LOCKSH, SLEEP, "sleep");
	/* exec {v}>file: open, F_DUPFD(fd, 10), which got 11, close */
	spawn(&m, SH, VARSH, "bash");
	do_open(&m, VARSH, files_of(VARSH), 3, "/tmp/v.out", O_WRONLY | O_CREAT | O_TRUNC);
	SYS(&m, VARSH, FDW_SYS_FCNTL, 11, 3, F_DUPFD, 10);
	SYS(&m, VARSH, FDW_SYS_CLOSE, 0, 3, 0, 0);
	CHECK(!(fdw_slot_origin(fdw_table_slot(fdw_model_proc_table(&m, fdw_model_proc(&m, VARSH)),
					       11))->flags & FDW_ORIGIN_CHOSEN));
	spawn(&m, VARSH, VKID, "cat");
	/* the same in a script started by its #! line: the command is the
	 * script's name, the executable bash's (read once for the program) */
	spawn(&m, SH, SCRIPT, "backup.sh");
	do_open(&m, SCRIPT, files_of(SCRIPT), 3, "/run/backup.lock", O_WRONLY | O_CREAT);
	fake_exe_reads = 0;
	spawn(&m, SCRIPT, SKID, "flock");
	spawn(&m, SCRIPT, SKID2, "tar");
	CHECK_EQ(fake_exe_reads, 1);
	for (int i = 0; i < 3; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(exec_alerts(&store), 0);
	CHECK(fdw_leaks_stats(l)->exec_fds_excused >= 20);

	/* the real thing: a program opens without O_CLOEXEC, forks, execs */
	spawn(&m, SH2, LEAKER, "leaker");
	do_open(&m, LEAKER, files_of(LEAKER), 3, "/srv/secret.key", O_RDONLY);
	do_open(&m, LEAKER, files_of(LEAKER), 4, "/srv/ok", O_RDONLY | O_CLOEXEC);
	spawn(&m, LEAKER, HELPER, "helper");
	spawn(&m, LEAKER, HELPER2, "helper");	/* the same site again */
	spawn(&m, HELPER, HKID, "ls");		/* the helper passes it on */
	/* a prefork server: opened by the master, spawned by a worker */
	spawn(&m, SH, SRV, "srv");
	do_open(&m, SRV, files_of(SRV), 7, "/var/log/srv.log", O_WRONLY | O_APPEND);
	do_fork(&m, SRV, WORKER);
	spawn(&m, WORKER, CGI, "cgi");
	/* received by SCM_RIGHTS without MSG_CMSG_CLOEXEC */
	spawn(&m, SH, RECV, "recv");
	do_recv_fd(&m, RECV, 6);
	spawn(&m, RECV, RKID, "child");
	/* a plain dup of a cloexec fd gets the lowest number, without cloexec */
	spawn(&m, SH, DUPER, "duper");
	do_open(&m, DUPER, files_of(DUPER), 3, "/srv/db", O_RDONLY | O_CLOEXEC);
	SYS(&m, DUPER, FDW_SYS_DUP, 4, 3, 0, 0);
	spawn(&m, DUPER, DKID, "child");
	/* the creator exited: blame its child, which holds a fork of it */
	spawn(&m, SH, ORPHAN, "orphan");
	do_open(&m, ORPHAN, files_of(ORPHAN), 3, "/srv/o", O_RDONLY);
	do_fork(&m, ORPHAN, OKID);
	do_exit(&m, ORPHAN);
	spawn(&m, OKID, OGKID, "child");
	/* a program that leaks into a shell, which execs something else: the
	 * program is to blame, not the shell */
	spawn(&m, SH, SHLEAK, "shleaker");
	do_open(&m, SHLEAK, files_of(SHLEAK), 3, "/srv/k", O_RDONLY);
	spawn(&m, SHLEAK, SHKID, "sh");
	do_exec(&m, SHKID, "cmd");
	fdw_leaks_tick(l, mono += NS, real += 1);

	CHECK_EQ(exec_alerts(&store), 6);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, SHLEAK, SHLEAK * 10) != NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, LOCKSH, LOCKSH * 10) == NULL);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, LEAKER, LEAKER * 10);
	CHECK(a != NULL);
	if (a) {
		const json_t *by = json_object_get(leaked_fd(a, 0), "opened_by");

		CHECK_EQ(json_array_size(json_object_get(a->evidence, "leaked")), 1);
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 3);
		CHECK_STR(json_string_value(json_object_get(by, "syscall")), "openat");
		CHECK_STR(json_string_value(json_object_get(by, "comm")), "leaker");
		CHECK_EQ(json_integer_value(json_object_get(by, "pid")), LEAKER);
		CHECK_EQ(json_integer_value(json_object_get(a->evidence, "children_total")), 2);
		CHECK(strstr(a->summary, "fd 3 /srv/secret.key (openat by leaker)") != NULL);
	}
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, SRV, SRV * 10);
	CHECK(a != NULL);
	if (a)
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 7);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, RECV, RECV * 10);
	CHECK(a != NULL);
	if (a)
		CHECK_STR(json_string_value(json_object_get(
				  json_object_get(leaked_fd(a, 0), "opened_by"), "syscall")),
			  "recvmsg");
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, DUPER, DUPER * 10);
	CHECK(a != NULL);
	if (a)
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 4);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, OKID, OKID * 10) != NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, WORKER, WORKER * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, HELPER, HELPER * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, SH, SH * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, SH2, SH2 * 10) == NULL);
	/* one alert per site: more children of the leaker add none */
	spawn(&m, LEAKER, 6100, "helper");
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(store.stats.fired[FDW_ALERT_EXEC_LEAK], 6);
	leaks_teardown(l, &m, &store);
}

/* pipe(2) in `pid`: both ends without close-on-exec */
static void do_pipe_plain(struct fdw_model *m, uint32_t pid, int r, int w)
{
	struct fdw_event ev = sys(pid, files_of(pid), FDW_SYS_PIPE2, 0, 0, 0, 0);

	ev.nfds = 2;
	ev.fds[0] = r;
	ev.fds[1] = w;
	ev.file = 0xffff888700000000ull + seq * 256;
	ev.kfiles[0] = ev.file;
	ev.kfiles[1] = ev.file + 128;
	ev.ino = 150000 + seq;
	ev.mode = S_IFIFO;
	fdw_model_apply(m, &ev);
}

/*
 * A pipe end kept on purpose (ninja's console pool: pipe, read end
 * close-on-exec, posix_spawn whose file actions close the read end in the
 * child, close the write end after the spawn; the job holds the write end
 * until it ends, which ninja sees as EOF): the child closed the other end
 * of the pipe between its fork and its exec. Everything else still fires,
 * and an alert stays while a child holds what leaked into it.
 */
static void test_exec_pipe_kept(void)
{
	enum {
		ROOT = 7100,
		NINJA = 7101, /* the console pool, twice */
		JOB = 7102,
		JOB2 = 7103,
		SLEEP = 7104, /* JOB's sh runs a command: the fd passes through */
		LEAKY = 7110, /* the same pipe, the child closes nothing: alert */
		LKID = 7111,
		OTHER = 7120, /* the child closes the other end of another pipe */
		OKID = 7121,
		CLOSER = 7130, /* opens without O_CLOEXEC, forks, execs, closes */
		CKID = 7131,
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_alert *a;
	struct fdw_model m;
	double real = 1.9e9;
	uint64_t excused;

	l = exec_setup(&m, &store, &c, "exec_min_age=2");
	start(&m, ROOT);
	spawn(&m, ROOT, NINJA, "ninja");
	spawn(&m, ROOT, LEAKY, "leaky");
	spawn(&m, ROOT, OTHER, "other");
	spawn(&m, ROOT, CLOSER, "closer");
	excused = fdw_leaks_stats(l)->exec_fds_excused;

	for (uint32_t job = JOB; job <= JOB2; job++) {
		do_pipe_plain(&m, NINJA, 3, 4);
		SYS(&m, NINJA, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
		do_fork(&m, NINJA, job);
		SYS(&m, job, FDW_SYS_CLOSE, 0, 3, 0, 0); /* addclose(output_pipe[0]) */
		do_exec(&m, job, "sh");
		SYS(&m, NINJA, FDW_SYS_CLOSE, 0, 4, 0, 0);
	}
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 2);
	spawn(&m, JOB, SLEEP, "sleep"); /* passed through */

	/* the same, but the child does not close the read end */
	do_pipe_plain(&m, LEAKY, 3, 4);
	SYS(&m, LEAKY, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	do_fork(&m, LEAKY, LKID);
	do_exec(&m, LKID, "sh");
	SYS(&m, LEAKY, FDW_SYS_CLOSE, 0, 4, 0, 0);
	/* the child closes an end of one pipe, and gets another pipe's end */
	do_pipe_plain(&m, OTHER, 3, 4);
	do_pipe_plain(&m, OTHER, 5, 6);
	SYS(&m, OTHER, FDW_SYS_FCNTL, 0, 5, F_SETFD, FD_CLOEXEC);
	SYS(&m, OTHER, FDW_SYS_FCNTL, 0, 6, F_SETFD, FD_CLOEXEC);
	do_fork(&m, OTHER, OKID);
	SYS(&m, OKID, FDW_SYS_CLOSE, 0, 5, 0, 0);
	SYS(&m, OKID, FDW_SYS_DUP2, 1, 6, 1, 0);
	SYS(&m, OKID, FDW_SYS_CLOSE, 0, 6, 0, 0);
	do_exec(&m, OKID, "sh");
	/* the usual leak: open, fork, exec, the parent closes its copy */
	do_open(&m, CLOSER, files_of(CLOSER), 3, "/srv/secret.key", O_RDONLY);
	do_fork(&m, CLOSER, CKID);
	do_exec(&m, CKID, "sleep");
	SYS(&m, CLOSER, FDW_SYS_CLOSE, 0, 3, 0, 0);

	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, NINJA, NINJA * 10) == NULL);
	CHECK_EQ(store.stats.fired[FDW_ALERT_EXEC_LEAK], 3);
	CHECK_EXEC_FIRED(&store, LEAKY, 1, 4);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, OTHER, OTHER * 10);
	CHECK(a != NULL);
	if (a) {
		CHECK_EQ(json_array_size(json_object_get(a->evidence, "leaked")), 2);
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 3);
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 1), "fd")), 4);
	}
	/* the parents closed their copies: the children still hold them */
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, CLOSER, CLOSER * 10);
	CHECK(a != NULL);
	for (int i = 0; i < 3; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(a && a->state == FDW_ALERT_FIRING);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, LEAKY, LEAKY * 10) != NULL);
	CHECK_EQ(store.stats.fired[FDW_ALERT_EXEC_LEAK], 3);
	/* the child is done with it: resolved */
	do_exit(&m, CKID);
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(a && a->state == FDW_ALERT_RESOLVED);
	SYS(&m, LKID, FDW_SYS_CLOSE, 0, 4, 0, 0);
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, LEAKY, LEAKY * 10) == NULL);
	leaks_teardown(l, &m, &store);
}

/*
 * Review of 1fe78f7: the pipe rule must not excuse the classic hang. A
 * child meant to read the pipe on its stdin moves the read end there
 * (dup2(p[0], 0); close(p[0])) and forgets the write end: the program it
 * runs holds the write end of its own stdin and never sees EOF. The child
 * closed "an fd the same pipe(2) call made", but it did not take the pipe
 * apart: the other end is still in it, at fd 0. Likewise the writer that
 * dup2s p[1] onto stdout, closes p[1] and forgets p[0].
 */
static void test_exec_pipe_kept_hang(void)
{
	enum {
		ROOT = 7200,
		PARENT = 7201, /* feeds `sort` through a pipe */
		READER = 7202, /* dup2(3, 0); close(3); exec sort: fd 4 leaks */
		PARENT2 = 7203,
		WRITER = 7204, /* dup2(4, 1); close(4); exec: fd 3 leaks */
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_alert *a;
	struct fdw_model m;
	double real = 1.9e9;

	l = exec_setup(&m, &store, &c, "exec_min_age=2");
	start(&m, ROOT);
	spawn(&m, ROOT, PARENT, "feeder");
	spawn(&m, ROOT, PARENT2, "reader");

	do_pipe_plain(&m, PARENT, 3, 4);
	do_fork(&m, PARENT, READER);
	SYS(&m, READER, FDW_SYS_DUP2, 0, 3, 0, 0);
	SYS(&m, READER, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_exec(&m, READER, "sort");
	SYS(&m, PARENT, FDW_SYS_CLOSE, 0, 3, 0, 0);
	SYS(&m, PARENT, FDW_SYS_FCNTL, 0, 4, F_SETFD, FD_CLOEXEC); /* after the fork */

	do_pipe_plain(&m, PARENT2, 3, 4);
	do_fork(&m, PARENT2, WRITER);
	SYS(&m, WRITER, FDW_SYS_DUP2, 1, 4, 1, 0);
	SYS(&m, WRITER, FDW_SYS_CLOSE, 0, 4, 0, 0);
	do_exec(&m, WRITER, "gen");
	SYS(&m, PARENT2, FDW_SYS_CLOSE, 0, 4, 0, 0);
	SYS(&m, PARENT2, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC); /* after the fork */

	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, PARENT, PARENT * 10);
	CHECK(a != NULL); /* sort holds the write end of its own stdin */
	if (a)
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 4);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, PARENT2, PARENT2 * 10);
	CHECK(a != NULL);
	if (a)
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 3);
	leaks_teardown(l, &m, &store);
}

/*
 * The other end counts only when it goes through the exec: a spawner that
 * keeps its read end on a close-on-exec copy (F_DUPFD_CLOEXEC to 10) and
 * whose child closes the plain one (3) before the exec hands over the
 * write end alone (10 is closed by the exec, above the kept 4 or below
 * it). A child that keeps a second fd on the pipe still fires.
 */
static void test_exec_pipe_kept_cloexec(void)
{
	enum {
		ROOT = 7250,
		SPAWNER = 7251,
		JOB = 7252,   /* close(3); exec: 4 kept, 10 goes with the exec */
		JOB2 = 7253,  /* the same with the copy at 0, below 4 */
		SPAWNER2 = 7254,
		TWICE = 7255, /* close(3); dup2(4, 1); exec: 4 beside 1 fires */
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_alert *a;
	struct fdw_model m;
	double real = 1.9e9;
	uint64_t excused;

	l = exec_setup(&m, &store, &c, "exec_min_age=2");
	start(&m, ROOT);
	spawn(&m, ROOT, SPAWNER, "spawner");
	spawn(&m, ROOT, SPAWNER2, "spawner");
	excused = fdw_leaks_stats(l)->exec_fds_excused;

	do_pipe_plain(&m, SPAWNER, 3, 4);
	SYS(&m, SPAWNER, FDW_SYS_FCNTL, 10, 3, F_DUPFD_CLOEXEC, 10);
	do_fork(&m, SPAWNER, JOB);
	SYS(&m, JOB, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_exec(&m, JOB, "sh");
	SYS(&m, SPAWNER, FDW_SYS_CLOSE, 0, 3, 0, 0);
	SYS(&m, SPAWNER, FDW_SYS_CLOSE, 0, 4, 0, 0);
	SYS(&m, SPAWNER, FDW_SYS_CLOSE, 0, 10, 0, 0);
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 1);

	do_pipe_plain(&m, SPAWNER, 3, 4);
	SYS(&m, SPAWNER, FDW_SYS_FCNTL, 0, 3, F_DUPFD_CLOEXEC, 0); /* 0 was free */
	do_fork(&m, SPAWNER, JOB2);
	SYS(&m, JOB2, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_exec(&m, JOB2, "sh");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 2);

	do_pipe_plain(&m, SPAWNER2, 3, 4);
	SYS(&m, SPAWNER2, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	do_fork(&m, SPAWNER2, TWICE);
	SYS(&m, TWICE, FDW_SYS_CLOSE, 0, 3, 0, 0);
	SYS(&m, TWICE, FDW_SYS_DUP2, 1, 4, 1, 0);
	do_exec(&m, TWICE, "sh");
	SYS(&m, SPAWNER2, FDW_SYS_CLOSE, 0, 4, 0, 0);
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 2);

	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, SPAWNER, SPAWNER * 10) == NULL);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, SPAWNER2, SPAWNER2 * 10);
	CHECK(a != NULL);
	if (a)
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 4);
	leaks_teardown(l, &m, &store);
}

/*
 * The pipe rule's cost: one exec with 16,000 leaked pipe ends (8,000 pipes
 * the child never touched) and 500 kept ones (the child closed the read
 * end of 500 more). The rule reads the child's table once per exec, not
 * once per leaked fd (review of 1fe78f7: 16,000 pipes held the loop 6.1 s).
 */
static void test_exec_pipe_cost(void)
{
	enum {
		ROOT = 7300,
		PARENT = 7301,
		KID = 7302,
		LEAKED = 8000, /* pipes whose both ends leak */
		KEPT = 500,    /* pipes whose read end the child closes */
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	const struct fdw_table *t;
	struct fdw_alert *a;
	struct fdw_model m;
	double real = 1.9e9;
	uint64_t excused, slots, dropped;

	l = exec_setup(&m, &store, &c, "exec_min_age=2");
	start(&m, ROOT);
	spawn(&m, ROOT, PARENT, "fanout");
	for (int i = 0; i < LEAKED + KEPT; i++)
		do_pipe_plain(&m, PARENT, 3 + 2 * i, 4 + 2 * i);
	do_fork(&m, PARENT, KID);
	for (int i = LEAKED; i < LEAKED + KEPT; i++)
		SYS(&m, KID, FDW_SYS_CLOSE, 0, 3 + 2 * i, 0, 0);
	excused = fdw_leaks_stats(l)->exec_fds_excused;
	slots = fdw_leaks_stats(l)->exec_pipe_slots;
	dropped = fdw_leaks_stats(l)->dropped_exec_fds;
	do_exec(&m, KID, "worker");
	CHECK(l->exec_pipes == NULL); /* freed after the exec's last fd */
	t = fdw_model_proc_table(&m, fdw_model_proc(&m, KID));
	CHECK(t != NULL);
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, KEPT);
	/* one walk of the child's table for the whole exec */
	CHECK(t && fdw_leaks_stats(l)->exec_pipe_slots - slots <= t->nslots);
	CHECK(fdw_leaks_stats(l)->exec_pipe_slots - slots >= 2 * (LEAKED + KEPT));
	CHECK_EQ(fdw_leaks_stats(l)->dropped_exec_fds - dropped, 2 * LEAKED - LEAK_EXEC_FDS);
	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, PARENT, PARENT * 10);
	CHECK(a != NULL);
	if (a)
		CHECK_EQ(json_array_size(json_object_get(a->evidence, "leaked")), LEAK_EXEC_FDS);
	leaks_teardown(l, &m, &store);
}

/* socketpair(2) in `pid`: both ends without close-on-exec, two sockets */
static void do_socketpair_plain(struct fdw_model *m, uint32_t pid, int a, int b)
{
	struct fdw_event ev = sys(pid, files_of(pid), FDW_SYS_SOCKETPAIR, 0, 1 /* AF_UNIX */,
				  1 /* SOCK_STREAM */, 0);

	ev.nfds = 2;
	ev.fds[0] = a;
	ev.fds[1] = b;
	ev.file = 0xffff888800000000ull + seq * 256;
	ev.kfiles[0] = ev.file;
	ev.kfiles[1] = ev.file + 128;
	ev.ino = 250000 + 2 * seq;
	ev.aux = 250001 + 2 * seq; /* the second end's own inode */
	ev.mode = S_IFSOCK;
	fdw_model_apply(m, &ev);
}

/*
 * The socketpair hand-over, the pipe rule's twin: socketpair without
 * SOCK_CLOEXEC, fork, the child closes sv[0] and execs a program that
 * keeps sv[1], the parent closes sv[1] and talks over sv[0]. And the pipe
 * idiom with close_range(2) for the child's close. Still reported, as for
 * pipes: a child that closed nothing of the pair, one that keeps both
 * ends (dup2(sv[0], 0); close(sv[0]); sv[1] forgotten), a plain socket,
 * and a close_range that did not cover the other end.
 */
static void test_exec_pair_kept(void)
{
	enum {
		ROOT = 7400,
		PAIR = 7401,	 /* socketpair; child close(3); exec: kept */
		PKID = 7402,
		RANGE = 7403,	 /* pipe; child close_range(3, 3); exec: kept */
		RKID = 7404,
		RANGE2 = 7405,	 /* socketpair; child close_range(3, 3) */
		R2KID = 7406,
		NOCLOSE = 7410,	 /* socketpair; the child closes nothing: fires 3, 4 */
		NKID = 7411,
		BOTH = 7412,	 /* dup2(3, 0); close(3); 4 forgotten: fires 4 */
		BKID = 7413,
		MISS = 7414,	 /* pipe; close_range(5, 9) misses 3: fires 3, 4 */
		MKID = 7415,
		SOCK = 7416,	 /* two sockets (not a pair); the child closes one */
		SKID = 7417,
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_alert *a;
	struct fdw_model m;
	double real = 1.9e9;
	uint64_t excused;

	l = exec_setup(&m, &store, &c, "exec_min_age=2");
	start(&m, ROOT);
	spawn(&m, ROOT, PAIR, "pair");
	spawn(&m, ROOT, RANGE, "range");
	spawn(&m, ROOT, RANGE2, "range2");
	spawn(&m, ROOT, NOCLOSE, "noclose");
	spawn(&m, ROOT, BOTH, "both");
	spawn(&m, ROOT, MISS, "miss");
	spawn(&m, ROOT, SOCK, "sock");
	excused = fdw_leaks_stats(l)->exec_fds_excused;

	do_socketpair_plain(&m, PAIR, 3, 4);
	do_fork(&m, PAIR, PKID);
	SYS(&m, PKID, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_exec(&m, PKID, "helper");
	SYS(&m, PAIR, FDW_SYS_CLOSE, 0, 4, 0, 0);
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 1);

	do_pipe_plain(&m, RANGE, 3, 4);
	do_fork(&m, RANGE, RKID);
	SYS(&m, RKID, FDW_SYS_CLOSE_RANGE, 0, 3, 3, 0);
	do_exec(&m, RKID, "worker");
	SYS(&m, RANGE, FDW_SYS_CLOSE, 0, 4, 0, 0);
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 2);

	do_socketpair_plain(&m, RANGE2, 3, 4);
	do_fork(&m, RANGE2, R2KID);
	SYS(&m, R2KID, FDW_SYS_CLOSE_RANGE, 0, 3, 3, 0);
	do_exec(&m, R2KID, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 3);

	do_socketpair_plain(&m, NOCLOSE, 3, 4);
	do_fork(&m, NOCLOSE, NKID);
	do_exec(&m, NKID, "helper");
	SYS(&m, NOCLOSE, FDW_SYS_CLOSE, 0, 4, 0, 0);

	do_socketpair_plain(&m, BOTH, 3, 4);
	do_fork(&m, BOTH, BKID);
	SYS(&m, BKID, FDW_SYS_DUP2, 0, 3, 0, 0);
	SYS(&m, BKID, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_exec(&m, BKID, "helper");

	do_pipe_plain(&m, MISS, 3, 4);
	do_fork(&m, MISS, MKID);
	SYS(&m, MKID, FDW_SYS_CLOSE_RANGE, 0, 5, 9, 0);
	do_exec(&m, MKID, "worker");

	do_socket(&m, SOCK, 3, SOCK_STREAM);
	do_socket(&m, SOCK, 4, SOCK_STREAM);
	do_fork(&m, SOCK, SKID);
	SYS(&m, SKID, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_exec(&m, SKID, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 3);

	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, PAIR, PAIR * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, RANGE, RANGE * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, RANGE2, RANGE2 * 10) == NULL);
	CHECK_EXEC_FIRED(&store, NOCLOSE, 2, -1);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, BOTH, BOTH * 10);
	CHECK(a != NULL); /* its stdin's peer is its own fd 4 */
	if (a) {
		CHECK_EQ(json_array_size(json_object_get(a->evidence, "leaked")), 1);
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 4);
	}
	CHECK_EXEC_FIRED(&store, MISS, 2, -1);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, SOCK, SOCK * 10);
	CHECK(a != NULL);
	if (a)
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 4);
	CHECK_EQ(store.stats.fired[FDW_ALERT_EXEC_LEAK], 4);
	leaks_teardown(l, &m, &store);
}

/*
 * A socketpair meant for one child that leaks into another (the classic
 * hang): the parent hands sv[1] to a helper (whose close of sv[0] excuses
 * it there), closes its own copy of sv[1], then forks a second child that
 * closed nothing and execs with sv[0]. That child's table is still its
 * parent's set, whose history shows the parent's close of sv[1]: a close
 * by the pair's maker, before the fork, so sv[0] still fires. A child
 * that closed sv[0] before a second fork hands sv[1] to its own child
 * (the double fork): that close was made in the grandchild's lineage
 * after it left the maker, and excuses sv[1] there (it fired before the
 * ends given up were carried through forks).
 */
static void test_exec_pair_kept_other_child(void)
{
	enum {
		ROOT = 7500,
		PAR = 7501,    /* socketpair (3, 4) */
		HELPER = 7502, /* close(3); exec with 4: excused */
		OTHER = 7503,  /* forked after the parent's close(4); execs with 3 */
		MID = 7504,    /* inherits (3, 4), closes 3, forks GRAND */
		GRAND = 7505,  /* execs with 4: the double fork, excused */
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_alert *a;
	struct fdw_model m;
	double real = 1.9e9;
	uint64_t excused;

	l = exec_setup(&m, &store, &c, "exec_min_age=2");
	start(&m, ROOT);
	spawn(&m, ROOT, PAR, "server");
	excused = fdw_leaks_stats(l)->exec_fds_excused;
	do_socketpair_plain(&m, PAR, 3, 4);
	do_fork(&m, PAR, MID);
	do_fork(&m, PAR, HELPER);
	SYS(&m, HELPER, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_exec(&m, HELPER, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 1);
	SYS(&m, PAR, FDW_SYS_CLOSE, 0, 4, 0, 0);
	do_fork(&m, PAR, OTHER);
	do_exec(&m, OTHER, "ls");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 1);
	SYS(&m, MID, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_fork(&m, MID, GRAND);
	do_exit(&m, MID);
	do_exec(&m, GRAND, "cat");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 2);

	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, PAR, PAR * 10);
	CHECK(a != NULL);
	if (a) {
		const json_t *kids = json_object_get(a->evidence, "children");
		size_t n = json_array_size(json_object_get(a->evidence, "leaked"));

		/* 3 into ls; not the helper, nor cat */
		CHECK_EQ(n, 1);
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 3);
		CHECK_EQ(json_array_size(kids), 1);
		for (size_t i = 0; i < json_array_size(kids); i++)
			CHECK(json_integer_value(json_object_get(json_array_get(kids, i), "pid")) ==
			      OTHER);
	}
	leaks_teardown(l, &m, &store);
}

/*
 * The note of an end given up goes one fork down, not further: the middle
 * process of a double fork gave up sv[0] and hands sv[1] to the child it
 * forks, which execs. A grandchild that does not exec but stays as a
 * server (tmux: socketpair; fork; close(pair[0]); daemon(); the server
 * talks to the client over pair[1]) and forks children that exec with
 * pair[1] leaks it into each of them (a pane's shell holding the client's
 * connection: the client never sees EOF). Those children were excused by
 * the note the server inherited from the middle process (review of
 * 11a1032..3b66aca). The server's own give-up still goes one fork down.
 */
static void test_exec_pair_lineage_depth(void)
{
	enum {
		ROOT = 7700,
		C1 = 7701, M1 = 7702, S1 = 7703, K1 = 7704, K1b = 7705, /* pair: fires 4 */
		C2 = 7706, M2 = 7707, S2 = 7708, K2 = 7709,		 /* pipe: fires 4 */
		C3 = 7710, M3 = 7711, S3 = 7712, K3 = 7713, /* S closes 3 itself: excused */
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_model m;
	double real = 1.9e9;
	uint64_t excused, tables, max_fds;

	l = exec_setup(&m, &store, &c, "exec_min_age=2");
	start(&m, ROOT);
	spawn(&m, ROOT, C1, "client");
	spawn(&m, ROOT, C2, "client");
	spawn(&m, ROOT, C3, "client");
	excused = fdw_leaks_stats(l)->exec_fds_excused;

	/* the server, two forks below the middle's close, forks panes */
	do_socketpair_plain(&m, C1, 3, 4);
	do_fork(&m, C1, M1);
	SYS(&m, C1, FDW_SYS_CLOSE, 0, 4, 0, 0);
	SYS(&m, M1, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_fork(&m, M1, S1);
	do_exit(&m, M1);
	do_fork(&m, S1, K1);
	do_exec(&m, K1, "sh");
	do_fork(&m, S1, K1b);
	do_exec(&m, K1b, "sh");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 0);

	do_pipe_plain(&m, C2, 3, 4);
	do_fork(&m, C2, M2);
	SYS(&m, M2, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_fork(&m, M2, S2);
	do_exit(&m, M2);
	do_fork(&m, S2, K2);
	do_exec(&m, K2, "sh");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 0);

	/* the middle only made sv[0] close-on-exec; the server closes it
	 * and hands sv[1] to its child: that child's parent gave it up */
	do_socketpair_plain(&m, C3, 3, 4);
	do_fork(&m, C3, M3);
	SYS(&m, M3, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	do_fork(&m, M3, S3);
	do_exit(&m, M3);
	SYS(&m, S3, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_fork(&m, S3, K3);
	do_exec(&m, K3, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 1);

	/* a fork burst: the children of S1 (whose note is its parent's) get
	 * none; those of S3 (which gave sv[0] up itself) one each, which goes
	 * with them */
	tables = m.stats.given_up_tables;
	for (uint32_t i = 0; i < 200; i++)
		do_fork(&m, S1, 7800 + i);
	CHECK_EQ(m.stats.given_up_tables, tables);
	for (uint32_t i = 0; i < 200; i++)
		do_fork(&m, S3, 8000 + i);
	CHECK_EQ(m.stats.given_up_tables, tables + 200);
	for (uint32_t i = 0; i < 200; i++) {
		do_exit(&m, 7800 + i);
		do_exit(&m, 8000 + i);
	}
	CHECK_EQ(m.stats.given_up_tables, tables);
	/* the same past the fd bound (a fork then copies the table) */
	max_fds = m.max_fds;
	m.max_fds = m.stats.fds;
	do_fork(&m, S1, 7800);
	do_fork(&m, S3, 8000);
	CHECK_EQ(m.stats.given_up_tables, tables + 1);
	CHECK(fdw_model_proc_table(&m, fdw_model_proc(&m, 7800))->given_up == NULL);
	CHECK(fdw_model_proc_table(&m, fdw_model_proc(&m, 8000))->given_up != NULL);
	do_exit(&m, 7800);
	do_exit(&m, 8000);
	m.max_fds = max_fds;
	CHECK_EQ(m.stats.given_up_tables, tables);

	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EXEC_FIRED(&store, C1, 1, 4);
	CHECK_EXEC_FIRED(&store, C2, 1, 4);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, C3, C3 * 10) == NULL);
	leaks_teardown(l, &m, &store);
}

/*
 * The hand-over made by another process of the lineage than the one that
 * execs, or by making the other end close-on-exec instead of closing it:
 * the model notes, per table, the pipe and socketpair ends a process
 * other than their maker gave up (closed, or made close-on-exec), and a
 * fork copies the note into the child (struct fdw_given_up). Excused:
 * the double fork (socketpair; fork; close(sv[0]); fork; exit; exec in
 * the grandchild), its pipe twin, the child's F_SETFD FD_CLOEXEC,
 * FIOCLEX or close_range CLOSE_RANGE_CLOEXEC on the other end, and the
 * middle process's F_SETFD before the second fork. Still reported: the
 * middle process's close after the second fork (the grandchild got both
 * ends), the maker closing (or marking) its own copy before forking a
 * child that execs with the other end, a close-on-exec the parent made
 * before the fork with a child that did nothing (the classic hang), and
 * a close_range CLOSE_RANGE_CLOEXEC that missed the other end, and the
 * close made by a process that shares the maker's table (CLONE_FILES):
 * the maker's table, the maker's close; and a child that marks the other
 * end close-on-exec and clears the bit again (it keeps both). The note
 * is bounded (FDW_GIVEN_UP ends a table, the oldest dropped and counted)
 * and goes with the exec and with the table.
 */
static void test_exec_pair_lineage(void)
{
	enum {
		ROOT = 7600,
		C1 = 7601, M1 = 7602, G1 = 7603,   /* socketpair double fork: excused */
		C2 = 7604, M2 = 7605, G2 = 7606,   /* pipe double fork: excused */
		C3 = 7607, M3 = 7608, G3 = 7609,   /* M closes after forking G: fires 3, 4 */
		C4 = 7610, K4 = 7611,		   /* the maker closes 3, forks: fires 4 */
		C5 = 7612, K5 = 7613,		   /* child F_SETFD(3, FD_CLOEXEC): excused */
		C6 = 7614, K6 = 7615,		   /* child close_range(3, 3, CLOEXEC): excused */
		C7 = 7616, K7 = 7617,		   /* pipe, child FIOCLEX on 3: excused */
		C8 = 7618, K8 = 7619,		   /* parent F_SETFD(3), child nothing: fires 4 */
		C9 = 7620, K9 = 7621,		   /* close_range(5, 9, CLOEXEC) misses: fires 3, 4 */
		C10 = 7622, M10 = 7623, G10 = 7624, /* M F_SETFD(3), forks G: excused */
		C11 = 7625, M11 = 7626, G11 = 7627, /* the maker marks 3, forks M: fires 4 */
		C12 = 7628, M12 = 7629, G12 = 7630, /* M gives up 9 ends: the first dropped */
		C13 = 7631, S13 = 7632, K13 = 7633, /* S shares C's table (CLONE_FILES), closes
						     * 3; C forks K: fires 4 */
		C14 = 7634, K14 = 7635, /* child marks 3, then clears the bit: fires 4 */
		C15 = 7636, M15 = 7637, G15 = 7638, /* M's full note wrapped, G adds one: the
						     * oldest goes, in G as in M: fires 11, 13 */
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_model m;
	double real = 1.9e9;
	const uint32_t makers[] = { C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13,
				    C14 };
	struct fdw_event ev;
	uint64_t excused, evicted;

	l = exec_setup(&m, &store, &c, "exec_min_age=2");
	start(&m, ROOT);
	for (size_t i = 0; i < sizeof(makers) / sizeof(makers[0]); i++)
		spawn(&m, ROOT, makers[i], "server");
	excused = fdw_leaks_stats(l)->exec_fds_excused;

	/* (a) the double fork, M's close before the second fork */
	do_socketpair_plain(&m, C1, 3, 4);
	do_fork(&m, C1, M1);
	SYS(&m, C1, FDW_SYS_CLOSE, 0, 4, 0, 0);
	SYS(&m, M1, FDW_SYS_CLOSE, 0, 3, 0, 0);
	CHECK(m.stats.given_up_tables >= 1);
	do_fork(&m, M1, G1);
	do_exit(&m, M1);
	do_exec(&m, G1, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 1);
	/* the exec dropped the grandchild's note, the exit the middle's */
	CHECK_EQ(m.stats.given_up_tables, 0);

	do_pipe_plain(&m, C2, 3, 4);
	do_fork(&m, C2, M2);
	SYS(&m, M2, FDW_SYS_CLOSE_RANGE, 0, 3, 3, 0);
	do_fork(&m, M2, G2);
	do_exit(&m, M2);
	do_exec(&m, G2, "worker");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 2);

	/* M closes after G inherited both ends */
	do_socketpair_plain(&m, C3, 3, 4);
	do_fork(&m, C3, M3);
	do_fork(&m, M3, G3);
	SYS(&m, M3, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_exec(&m, G3, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 2);

	/* the maker's own close of the other end excuses nothing */
	do_socketpair_plain(&m, C4, 3, 4);
	SYS(&m, C4, FDW_SYS_CLOSE, 0, 3, 0, 0);
	do_fork(&m, C4, K4);
	do_exec(&m, K4, "ls");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 2);

	/* (b) the child makes the other end close-on-exec */
	do_socketpair_plain(&m, C5, 3, 4);
	do_fork(&m, C5, K5);
	SYS(&m, K5, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	do_exec(&m, K5, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 3);

	do_socketpair_plain(&m, C6, 3, 4);
	do_fork(&m, C6, K6);
	SYS(&m, K6, FDW_SYS_CLOSE_RANGE, 0, 3, 3, 4 /* CLOSE_RANGE_CLOEXEC */);
	do_exec(&m, K6, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 4);

	do_pipe_plain(&m, C7, 3, 4);
	do_fork(&m, C7, K7);
	SYS(&m, K7, FDW_SYS_IOCTL, 0, 3, FIOCLEX, 0);
	do_exec(&m, K7, "worker");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 5);

	/* the classic hang: the parent marked its end, the child did nothing */
	do_socketpair_plain(&m, C8, 3, 4);
	SYS(&m, C8, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	do_fork(&m, C8, K8);
	do_exec(&m, K8, "ls");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 5);

	do_pipe_plain(&m, C9, 3, 4);
	do_fork(&m, C9, K9);
	SYS(&m, K9, FDW_SYS_CLOSE_RANGE, 0, 5, 9, 4);
	do_exec(&m, K9, "worker");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 5);

	/* (a) and (b): the middle process marks the other end */
	do_socketpair_plain(&m, C10, 3, 4);
	do_fork(&m, C10, M10);
	SYS(&m, M10, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	do_fork(&m, M10, G10);
	do_exit(&m, M10);
	do_exec(&m, G10, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 6);

	/* ... but not the maker, two forks up */
	do_socketpair_plain(&m, C11, 3, 4);
	SYS(&m, C11, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	do_fork(&m, C11, M11);
	do_fork(&m, M11, G11);
	do_exit(&m, M11);
	do_exec(&m, G11, "ls");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 6);

	/* the bound: M gives up the other end of 9 pairs, then forks G */
	evicted = m.stats.given_up_evicted;
	for (int i = 0; i < 9; i++)
		do_socketpair_plain(&m, C12, 10 + 2 * i, 11 + 2 * i);
	do_fork(&m, C12, M12);
	for (int i = 0; i < 9; i++)
		SYS(&m, M12, FDW_SYS_CLOSE, 0, 10 + 2 * i, 0, 0);
	CHECK_EQ(m.stats.given_up_evicted - evicted, 9 - FDW_GIVEN_UP);
	do_fork(&m, M12, G12);
	do_exit(&m, M12);
	do_exec(&m, G12, "helper");
	/* 8 excused, the first pair's 11 reported */
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 6 + FDW_GIVEN_UP);

	/* a process on the maker's own table closes the other end: the
	 * maker's table, the maker's close */
	do_socketpair_plain(&m, C13, 3, 4);
	ev = sys(C13, files_of(C13), 0, 0, 0, 0, 0);
	ev.type = FDW_REC_FORK;
	ev.flags = FDW_F_SHARED_FILES;
	ev.child_pid = ev.child_tid = S13;
	ev.child_files = files_of(C13);
	fdw_model_apply(&m, &ev);
	apply(&m, sys(S13, files_of(C13), FDW_SYS_CLOSE, 0, 3, 0, 0));
	CHECK(!fdw_slot_open(fdw_table_slot(fdw_model_proc_table(&m, fdw_model_proc(&m, C13)), 3)));
	do_exit(&m, S13); /* (a fork beside another user of the table is re-read) */
	do_fork(&m, C13, K13);
	do_exec(&m, K13, "ls");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 6 + FDW_GIVEN_UP);

	/* the note outlives the bit, not the rule: 3 is kept (made inheritable
	 * on purpose, not reported), so 4 is not the only end kept */
	do_socketpair_plain(&m, C14, 3, 4);
	do_fork(&m, C14, K14);
	SYS(&m, K14, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	SYS(&m, K14, FDW_SYS_FCNTL, 0, 3, F_SETFD, 0);
	do_exec(&m, K14, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 7 + FDW_GIVEN_UP);

	/* a fork copies a full note oldest first: M gives up 9 ends (the
	 * first dropped, so its oldest is no longer its first), G gives up
	 * one more of its own; the one that goes is M's oldest left (pair 1),
	 * not its newest (pair 8) */
	for (int i = 0; i < 10; i++)
		do_socketpair_plain(&m, C15, 10 + 2 * i, 11 + 2 * i);
	do_fork(&m, C15, M15);
	for (int i = 0; i < 9; i++)
		SYS(&m, M15, FDW_SYS_CLOSE, 0, 10 + 2 * i, 0, 0);
	do_fork(&m, M15, G15);
	do_exit(&m, M15);
	SYS(&m, G15, FDW_SYS_CLOSE, 0, 28, 0, 0);
	do_exec(&m, G15, "helper");
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 7 + 2 * FDW_GIVEN_UP);

	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, C1, C1 * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, C2, C2 * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, C5, C5 * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, C6, C6 * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, C7, C7 * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, C10, C10 * 10) == NULL);
	CHECK_EXEC_FIRED(&store, C3, 2, -1);
	CHECK_EXEC_FIRED(&store, C4, 1, 4);
	CHECK_EXEC_FIRED(&store, C8, 1, 4);
	CHECK_EXEC_FIRED(&store, C9, 2, -1);
	CHECK_EXEC_FIRED(&store, C11, 1, 4);
	CHECK_EXEC_FIRED(&store, C12, 1, 11);
	CHECK_EXEC_FIRED(&store, C13, 1, 4);
	CHECK_EXEC_FIRED(&store, C14, 1, 4);
	CHECK_EXEC_FIRED(&store, C15, 2, 11);
	{
		const struct fdw_alert *a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, C15,
								   C15 * 10);

		CHECK(a && json_integer_value(json_object_get(leaked_fd(a, 1), "fd")) == 13);
	}
	CHECK_EQ(store.stats.fired[FDW_ALERT_EXEC_LEAK], 9);
	leaks_teardown(l, &m, &store);
}

/* The inode the model has for fd `fd` of `pid` (0: none). */
static uint64_t ino_of(struct fdw_model *m, uint32_t pid, int fd)
{
	const struct fdw_slot *s = fdw_table_slot(fdw_model_proc_table(m, fdw_model_proc(m, pid)), fd);

	return fdw_slot_ofd(s) ? fdw_slot_ofd(s)->ino : 0;
}

/*
 * Lock wrappers: flock(1) FILE CMD opens FILE without close-on-exec, takes
 * the lock, forks, and its child execs CMD with the fd, so that the lock
 * is held while CMD runs. An fd that holds a lock (fdinfo's "lock:" lines)
 * when the leak is confirmed is not reported; the lock is read then, once
 * per fd, not at the exec. Everything else still fires: an unlocked fd
 * beside a locked one, the race form on a locked fd, an fd whose lock
 * cannot be read, and a lock on another file now at the same number.
 */
static void test_exec_locked(void)
{
	enum {
		FLOCK = 7000, /* flock /tmp/x/lk sleep 25 */
		SLEEP = 7001,
		LEAKER = 7002, /* the same, without a lock: fires */
		LKID = 7003,
		MIXED = 7004, /* a locked fd and an unlocked one: fires for one */
		MKID = 7005,
		RACER = 7006, /* locked, but made close-on-exec after the fork */
		RKID = 7007,
		CLOSER = 7008, /* locked, closed in the creator after the spawn: */
		CKID = 7009,   /* the lock is read in the child */
		NOREAD = 7010, /* fdinfo cannot be read: fires */
		NKID = 7011,
		REUSED = 7012, /* the number holds another (locked) file by now */
		UKID = 7013,
	};
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_alert *a;
	struct fdw_model m;
	double real = 1.9e9;
	uint64_t excused;

	l = exec_setup(&m, &store, &c, "exec_min_age=5");
	start(&m, FLOCK);
	do_open(&m, FLOCK, files_of(FLOCK), 3, "/tmp/x/lk", O_RDONLY | O_CREAT | O_NOCTTY);
	fake_lock(FLOCK, 3, ino_of(&m, FLOCK, 3), 1);
	CHECK(ino_of(&m, FLOCK, 3) != 0);
	start(&m, LEAKER);
	do_open(&m, LEAKER, files_of(LEAKER), 3, "/srv/secret.key", O_RDONLY);
	start(&m, MIXED);
	do_open(&m, MIXED, files_of(MIXED), 3, "/run/mixed.lock", O_RDWR | O_CREAT);
	do_open(&m, MIXED, files_of(MIXED), 4, "/srv/mixed.db", O_RDWR);
	fake_lock(MIXED, 3, ino_of(&m, MIXED, 3), 1);
	start(&m, RACER);
	do_open(&m, RACER, files_of(RACER), 3, "/run/racer.lock", O_RDWR | O_CREAT);
	fake_lock(RACER, 3, 0, 1);
	start(&m, CLOSER);
	do_open(&m, CLOSER, files_of(CLOSER), 5, "/run/closer.lock", O_RDWR | O_CREAT);
	fake_lock(CKID, 5, ino_of(&m, CLOSER, 5), 1); /* flock: every holder shows it */
	start(&m, NOREAD);
	do_open(&m, NOREAD, files_of(NOREAD), 3, "/run/noread.lock", O_RDWR | O_CREAT);
	fake_lock(NOREAD, 3, 0, -EACCES);
	start(&m, REUSED);
	do_open(&m, REUSED, files_of(REUSED), 3, "/srv/reused", O_RDWR);
	fake_lock(REUSED, 3, ino_of(&m, REUSED, 3) + 1, 1); /* fdinfo: another inode */
	fake_lock_reads = 0;
	excused = fdw_leaks_stats(l)->exec_fds_excused;

	spawn(&m, FLOCK, SLEEP, "sleep");
	spawn(&m, LEAKER, LKID, "helper");
	spawn(&m, MIXED, MKID, "helper");
	do_fork(&m, RACER, RKID);
	SYS(&m, RACER, FDW_SYS_FCNTL, 0, 3, F_SETFD, FD_CLOEXEC);
	do_exec(&m, RKID, "helper");
	spawn(&m, CLOSER, CKID, "helper");
	SYS(&m, CLOSER, FDW_SYS_CLOSE, 0, 5, 0, 0);
	spawn(&m, NOREAD, NKID, "helper");
	spawn(&m, REUSED, UKID, "helper");
	/* nothing is read at the exec nor before exec_min_age */
	for (int i = 0; i < 4; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(fake_lock_reads, 0);
	CHECK_EQ(exec_alerts(&store), 0);
	fdw_leaks_tick(l, mono += NS, real += 1);
	/* one read per fd: FLOCK, LEAKER, MIXED x2, CLOSER (in its child),
	 * NOREAD (then in its child, which says no lock), REUSED; not
	 * RACER's (the race form is no hand-over) */
	CHECK_EQ(fake_lock_reads, 8);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, FLOCK, FLOCK * 10) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, CLOSER, CLOSER * 10) == NULL);
	CHECK_EQ(fdw_leaks_stats(l)->exec_fds_excused - excused, 3); /* FLOCK, MIXED's 3, CLOSER */
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, LEAKER, LEAKER * 10) != NULL);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, MIXED, MIXED * 10);
	CHECK(a != NULL);
	if (a) {
		CHECK_EQ(json_array_size(json_object_get(a->evidence, "leaked")), 1);
		CHECK_EQ(json_integer_value(json_object_get(leaked_fd(a, 0), "fd")), 4);
		CHECK_EQ(json_integer_value(json_object_get(a->evidence, "fds")), 1);
		CHECK(strstr(a->summary, "1 fd without") != NULL);
		CHECK(strstr(a->summary, "/run/mixed.lock") == NULL);
	}
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, RACER, RACER * 10);
	CHECK(a != NULL);
	if (a)
		CHECK(json_is_true(json_object_get(leaked_fd(a, 0), "race")));
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, NOREAD, NOREAD * 10) != NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, REUSED, REUSED * 10) != NULL);
	CHECK_EQ(exec_alerts(&store), 5);

	/* later ticks read nothing again; another command of the same
	 * wrapper is looked at once more (the lock may be gone by then) */
	for (int i = 0; i < 10; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(fake_lock_reads, 8);
	spawn(&m, FLOCK, 7100, "sleep");
	spawn(&m, MIXED, 7101, "helper"); /* firing already: confirmed at once */
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(fake_lock_reads, 9); /* MIXED's fd 3 again; 4 is known */
	for (int i = 0; i < 5; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(fake_lock_reads, 10); /* FLOCK's, after exec_min_age */
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, FLOCK, FLOCK * 10) == NULL);
	CHECK_EQ(exec_alerts(&store), 5);
	/* the lock is released (flock -u) and a command gets the fd: a leak */
	fake_nlocks = 0;
	spawn(&m, FLOCK, 7102, "sleep");
	for (int i = 0; i < 6; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	a = fdw_alerts_find_firing(&store, FDW_ALERT_EXEC_LEAK, FLOCK, FLOCK * 10);
	CHECK(a != NULL);
	if (a) {
		CHECK(strstr(a->summary, "fd 3 /tmp/x/lk") != NULL);
		CHECK_EQ(json_integer_value(json_object_get(a->evidence, "children_total")), 1);
	}
	leaks_teardown(l, &m, &store);
}

/* ---- the detector interface ---- */

static char tick_order[64];
static unsigned int fake_new, fake_fd_events, fake_exits;

static void fake_tick(char who)
{
	size_t n = strlen(tick_order);

	if (n + 1 < sizeof(tick_order)) {
		tick_order[n] = who;
		tick_order[n + 1] = '\0';
	}
}

static void fake_a_tick(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			const struct fdw_table *t, uint64_t now, double now_real)
{
	fake_tick('a');
}

static void fake_b_tick(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			const struct fdw_table *t, uint64_t now, double now_real)
{
	fake_tick('b');
}

static void fake_on_new(struct fdw_leaks *l, struct leak_proc *st, uint64_t now)
{
	fake_new++;
}

static void fake_on_fd(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
		       fdw_leak_fdev_kind kind, int fd, const struct fdw_slot *slot)
{
	fake_fd_events++;
}

static unsigned int fake_fail_events;

static void fake_on_fd_fail(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			    fdw_leak_fdev_kind kind, int fd, const struct fdw_slot *slot)
{
	CHECK_EQ(kind, FDW_FDEV_FAIL);
	fake_fail_events++;
}

static void fake_on_exit(struct fdw_leaks *l, struct leak_proc *st)
{
	fake_exits++;
}

/* Every registered detector gets every hook: the built-ins, in their
 * order, then the ones added. */
static void test_detector_interface(void)
{
	static const char *const builtin[] = { "growth", "exhaustion", "limits", "exec-leak",
					       "stacks", "races" };
	const struct fdw_detector a = {
		.name = "fake-a", .on_proc_new = fake_on_new, .on_fd_event = fake_on_fd,
		.fd_events = ~0u, .on_tick = fake_a_tick, .on_proc_exit = fake_on_exit,
	};
	/* wants failures only: the opens below never reach it */
	const struct fdw_detector c = {
		.name = "fake-c", .on_fd_event = fake_on_fd_fail,
		.fd_events = FDW_LEAK_FDEV(FDW_FDEV_FAIL),
	};
	const struct fdw_detector b = { .name = "fake-b", .on_tick = fake_b_tick };
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct leak_proc *st;
	struct fdw_model m;

	fake_soft = 10; /* fds 0 to 9 open: exhaustion */
	l = leaks_setup(&m, &store, NULL);
	CHECK_EQ(l->ndet, 6);
	for (unsigned int i = 0; i < 6 && i < l->ndet; i++)
		CHECK_STR(l->det[i]->name, builtin[i]);
	CHECK_EQ(fdw_leaks_add_detector(l, &a), 0);
	CHECK_EQ(fdw_leaks_add_detector(l, &b), 0);
	CHECK_EQ(fdw_leaks_add_detector(l, &c), 0);
	start(&m, PID);
	start(&m, CHILD);
	mono = NS;
	for (int fd = 0; fd < 10; fd++)
		do_open(&m, PID, FILES, fd, "/srv/held", O_RDONLY);
	CHECK_EQ(fake_fd_events, 10);
	CHECK_EQ(fake_fail_events, 0);
	for (int s = 0; s < 3; s++)
		fdw_leaks_tick(l, mono += NS, 1.7e9 + s);
	/* each tick, each process: a then b, once */
	CHECK_STR(tick_order, "abababababab");
	CHECK_EQ(fake_new, 2);
	CHECK_EQ(fdw_leaks_stats(l)->procs, 2);
	/* and the built-ins ran: growth sampled, exhaustion fired, limits too */
	st = leak_proc_find(l, fdw_model_proc(&m, PID));
	CHECK(st && st->growth.series.samples == 3);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, PID, PID * 10) != NULL);
	apply(&m, sys(PID, FILES, FDW_SYS_OPENAT, -EMFILE, (uint64_t)AT_FDCWD, 0, 0));
	CHECK_EQ(fake_fd_events, 11);
	CHECK_EQ(fake_fail_events, 1);
	fdw_leaks_tick(l, mono += NS, 1.7e9 + 3);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_LIMIT_HIT, PID, PID * 10) != NULL);
	/* bounded */
	while (l->ndet < LEAK_DETECTORS_MAX)
		CHECK_EQ(fdw_leaks_add_detector(l, &b), 0);
	CHECK_EQ(fdw_leaks_add_detector(l, &b), -ENOSPC);
	/* state goes away on exit, and at the end */
	{
		struct fdw_event ev = {
			.seq = ++seq, .ts = mono, .pid = CHILD, .tid = CHILD,
			.type = FDW_REC_EXIT, .flags = FDW_F_GROUP_DEAD,
		};
		fdw_model_apply(&m, &ev);
	}
	CHECK_EQ(fake_exits, 1);
	CHECK_EQ(fdw_leaks_stats(l)->procs, 1);
	leaks_teardown(l, &m, &store);
	CHECK_EQ(fake_exits, 2);
}

/* ---- races (detect/races.c) ---- */

static struct fdw_event tsys(uint32_t tid, unsigned int nr, int64_t ret, uint64_t a0,
			     uint64_t a1)
{
	struct fdw_event ev = sys(PID, FILES, nr, ret, a0, a1, 0);

	ev.tid = tid;
	return ev;
}

static void t_open(struct fdw_model *m, uint32_t tid, int fd, const char *path)
{
	struct fdw_event ev = tsys(tid, FDW_SYS_OPENAT, fd, (uint64_t)AT_FDCWD, 0);

	ev.nfds = 1;
	ev.fds[0] = fd;
	ev.file = 0xffff888300000000ull + seq * 256;
	ev.kfiles[0] = ev.file;
	ev.ino = 7000 + seq;
	ev.dev = 1;
	ev.mode = S_IFREG | 0644;
	ev.path = path;
	fdw_model_apply(m, &ev);
}

static void t_badf(struct fdw_model *m, uint32_t tid, unsigned int nr, int fd, uint32_t flags)
{
	struct fdw_event ev = tsys(tid, nr, -EBADF, (uint64_t)fd, 0);

	ev.type = FDW_REC_BADF;
	ev.race_fd = fd;
	ev.race_flags = flags;
	fdw_model_apply(m, &ev);
}

static struct fdw_alert *race_alert(struct fdw_alerts *store, enum fdw_alert_kind k)
{
	return fdw_alerts_find_firing(store, k, PID, PID * 10);
}

static const json_t *finding(const struct fdw_alert *a, size_t i)
{
	return a ? json_array_get(json_object_get(a->evidence, "findings"), i) : NULL;
}

static json_int_t jint(const json_t *o, const char *path1, const char *path2)
{
	const json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_integer_value(v);
}

/* a second thread `tid` of PID, on its table */
static void t_two_threads(struct fdw_model *m, uint32_t tid)
{
	struct fdw_event ev = sys(PID, FILES, 0, 0, 0, 0, 0);

	ev.type = FDW_REC_FORK;
	ev.flags = FDW_F_THREAD | FDW_F_SHARED_FILES;
	ev.child_pid = PID;
	ev.child_tid = tid;
	ev.child_files = FILES;
	fdw_model_apply(m, &ev);
}

static void test_races(void)
{
	const uint32_t T2 = PID + 1;
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l;
	struct fdw_event ev;
	struct fdw_alert *a;
	const json_t *f, *g;
	struct fdw_model m;
	double real = 1.8e9;
	char want[256];

	fdw_leak_config_default(&c);
	c.race_quiet = 5;
	l = leaks_setup(&m, &store, &c);
	start(&m, PID);
	mono = NS;
	t_two_threads(&m, T2);

	/* double-close: T2 opens 5, PID closes it, T2 closes it again */
	t_open(&m, T2, 5, "/srv/a");
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 5, 0));
	apply(&m, tsys(T2, FDW_SYS_CLOSE, -EBADF, 5, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	a = race_alert(&store, FDW_ALERT_DOUBLE_CLOSE);
	CHECK(a != NULL);
	f = finding(a, 0);
	CHECK_EQ(jint(f, "fd", NULL), 5);
	CHECK_EQ(jint(f, "tid", NULL), T2);
	g = json_object_get(f, "generation");
	CHECK_EQ(jint(g, "created", "tid"), T2);
	CHECK_STR(json_string_value(json_object_get(json_object_get(g, "created"), "syscall")),
		  "openat");
	CHECK_EQ(jint(g, "closed", "tid"), PID);
	CHECK(json_is_false(json_object_get(f, "never_opened")));
	CHECK(jint(f, "seq", NULL) > 0); /* server/alert_view.c judges it */
	snprintf(want, sizeof(want), "thread %u closed fd 5 again (closed by thread %u before)", T2,
		 PID);
	CHECK_STR(a ? a->summary : NULL, want);

	/* the close-everything loop after 20 was used: excused */
	t_open(&m, PID, 20, "/srv/b");
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 20, 0));
	for (int fd = 20; fd < 60; fd++)
		apply(&m, tsys(PID, FDW_SYS_CLOSE, -EBADF, (uint64_t)fd, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	a = race_alert(&store, FDW_ALERT_DOUBLE_CLOSE);
	CHECK_EQ(jint(a ? a->evidence : NULL, "total", NULL), 1);
	CHECK(fdw_leaks_stats(l)->race_sweeps >= 39);

	/* EBADF on an fd open before and after: the access mode */
	t_open(&m, PID, 6, "/srv/c");
	t_badf(&m, T2, FDW_SYS_WRITE, 6, FDW_BADF_OPEN_AT_EXIT);
	CHECK_EQ(fdw_leaks_stats(l)->race_wrong_mode, 1);
	/* EBADF whose close comes after it in the ring: confirmed at the tick */
	t_open(&m, PID, 7, "/srv/d");
	t_badf(&m, T2, FDW_SYS_READ, 7, 0);
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 7, 0));
	/* and one whose close never shows: dropped */
	t_open(&m, PID, 8, "/srv/e");
	t_badf(&m, T2, FDW_SYS_FSTAT, 8, 0);
	/* a plain use after close */
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 6, 0));
	t_badf(&m, T2, FDW_SYS_LSEEK, 6, 0);
	/* never opened: counted, not reported */
	t_badf(&m, T2, FDW_SYS_LSEEK, 900, 0);
	fdw_leaks_tick(l, mono += NS, real += 1);
	a = race_alert(&store, FDW_ALERT_USE_AFTER_CLOSE);
	CHECK(a != NULL);
	CHECK_EQ(json_array_size(json_object_get(a ? a->evidence : NULL, "findings")), 2);
	for (size_t i = 0; i < 2; i++) {
		f = finding(a, i);
		g = json_object_get(f, "generation");
		CHECK_EQ(jint(f, "tid", NULL), T2);
		CHECK_EQ(jint(g, "closed", "tid"), PID);
		CHECK(jint(f, "fd", NULL) == 7 || jint(f, "fd", NULL) == 6);
	}
	CHECK_EQ(fdw_leaks_stats(l)->race_unconfirmed, 1);
	CHECK_EQ(fdw_leaks_stats(l)->race_never_opened, 1);
	f = finding(a, 0);
	snprintf(want, sizeof(want), "thread %u called %s on fd %d after thread %u closed it (+1 more)",
		 T2, jint(f, "fd", NULL) == 6 ? "lseek" : "read", (int)jint(f, "fd", NULL), PID);
	CHECK_STR(a ? a->summary : NULL, want);

	/* close-in-flight */
	t_open(&m, PID, 11, "/srv/f");
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 11, 0));
	ev = tsys(PID, FDW_SYS_CLOSE, 0, 0, 0);
	ev.type = FDW_REC_INFLIGHT;
	ev.race_fd = 11;
	ev.other_tid = T2;
	ev.other_nr = FDW_SYS_READ;
	strcpy(ev.comm, "worker");
	fdw_model_apply(&m, &ev);
	/* dup2-clobber: T2's fd 9 replaced by PID; a reopen of the same path is not */
	t_open(&m, T2, 9, "/srv/g");
	t_open(&m, PID, 10, "/srv/h");
	apply(&m, tsys(PID, FDW_SYS_DUP2, 9, 10, 9));
	t_open(&m, T2, 12, "/srv/log");
	t_open(&m, PID, 13, "/srv/log");
	apply(&m, tsys(PID, FDW_SYS_DUP2, 12, 13, 12));
	fdw_leaks_tick(l, mono += NS, real += 1);
	/* the clobber waits race_preclose_ms for a close of 9 (the pre-close
	 * idiom): none comes */
	CHECK(race_alert(&store, FDW_ALERT_DUP2_CLOBBER) == NULL);
	fdw_leaks_tick(l, mono += NS, real += 1);
	a = race_alert(&store, FDW_ALERT_CLOSE_IN_FLIGHT);
	f = finding(a, 0);
	CHECK_EQ(jint(f, "blocked_tid", NULL), T2);
	CHECK_EQ(jint(f, "fd", NULL), 11);
	CHECK_EQ(jint(json_object_get(f, "generation"), "created", "tid"), PID);
	snprintf(want, sizeof(want), "thread %u closed fd 11 while thread %u was blocked in read on it",
		 PID, T2);
	CHECK_STR(a ? a->summary : NULL, want);
	a = race_alert(&store, FDW_ALERT_DUP2_CLOBBER);
	CHECK_EQ(json_array_size(json_object_get(a ? a->evidence : NULL, "findings")), 1);
	f = finding(a, 0);
	CHECK_EQ(jint(f, "fd", NULL), 9);
	CHECK_EQ(jint(json_object_get(f, "generation"), "created", "tid"), T2);
	snprintf(want, sizeof(want), "thread %u's dup2 replaced fd 9, which thread %u had opened",
		 PID, T2);
	CHECK_STR(a ? a->summary : NULL, want);

	/* bounded: distinct double closes past RACE_FINDINGS are counted */
	for (int fd = 100; fd < 140; fd += 2) {
		t_open(&m, PID, fd, "/srv/x");
		apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0));
		apply(&m, tsys(T2, FDW_SYS_CLOSE, -EBADF, (uint64_t)fd, 0));
	}
	fdw_leaks_tick(l, mono += NS, real += 1);
	a = race_alert(&store, FDW_ALERT_DOUBLE_CLOSE);
	CHECK_EQ(json_array_size(json_object_get(a ? a->evidence : NULL, "findings")), RACE_FINDINGS);
	CHECK_EQ(jint(a ? a->evidence : NULL, "dropped", NULL), 1 + 20 - RACE_FINDINGS);
	CHECK_EQ(fdw_leaks_stats(l)->race_dropped, 1 + 20 - RACE_FINDINGS);

	/* quiet for race_quiet seconds: resolved */
	for (int s = 0; s < 6; s++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(race_alert(&store, FDW_ALERT_DOUBLE_CLOSE) == NULL);
	CHECK(race_alert(&store, FDW_ALERT_USE_AFTER_CLOSE) == NULL);
	CHECK_EQ(store.stats.resolved[FDW_ALERT_DOUBLE_CLOSE], 1);
	leaks_teardown(l, &m, &store);

	/* a single-threaded process closing twice what it closed: excused */
	l = leaks_setup(&m, &store, NULL);
	start(&m, PID);
	mono = NS;
	t_open(&m, PID, 5, "/srv/a");
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 5, 0));
	apply(&m, tsys(PID, FDW_SYS_CLOSE, -EBADF, 5, 0));
	t_badf(&m, PID, FDW_SYS_FSTAT, 5, 0);
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(race_alert(&store, FDW_ALERT_DOUBLE_CLOSE) == NULL);
	CHECK(race_alert(&store, FDW_ALERT_USE_AFTER_CLOSE) == NULL);
	CHECK_EQ(fdw_leaks_stats(l)->race_single_thread, 2);
	leaks_teardown(l, &m, &store);
}

/* The fds of the double-close findings of the alert, as "30,31," (static). */
static const char *dc_fds(struct fdw_alerts *store)
{
	static char buf[256];
	struct fdw_alert *a = race_alert(store, FDW_ALERT_DOUBLE_CLOSE);
	const json_t *fs = json_object_get(a ? a->evidence : NULL, "findings");
	int want[64], n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < json_array_size(fs) && n < 64; i++)
		want[n++] = (int)jint(json_array_get(fs, i), "fd", NULL);
	/* ascending: the store keeps no order */
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && want[k - 1] > want[k]; k--) {
			int x = want[k];

			want[k] = want[k - 1];
			want[k - 1] = x;
		}
	for (int i = 0; i < n; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%d,", want[i]);
	return buf;
}

/*
 * The close-everything loop's excuse, and what it is not: a run of fewer
 * than three numbers (a pipe's two ends closed twice), a thread closing
 * again what it just closed after its neighbours, and numbers closed long
 * before are double closes; a loop that closes open fds on its way
 * (EBADF for the numbers between them) is one loop.
 */
static void test_race_sweeps(void)
{
	const uint32_t T2 = PID + 1;
	struct fdw_alerts store;
	struct fdw_leaks *l;
	struct fdw_model m;
	double real = 1.8e9;

	l = leaks_setup(&m, &store, NULL);
	start(&m, PID);
	mono = NS;
	t_two_threads(&m, T2);

	/* a pipe's two ends, closed twice by the same thread */
	t_open(&m, T2, 30, "pipe:[1]");
	t_open(&m, T2, 31, "pipe:[1]");
	apply(&m, tsys(T2, FDW_SYS_CLOSE, 0, 30, 0));
	apply(&m, tsys(T2, FDW_SYS_CLOSE, 0, 31, 0));
	apply(&m, tsys(T2, FDW_SYS_CLOSE, -EBADF, 30, 0));
	apply(&m, tsys(T2, FDW_SYS_CLOSE, -EBADF, 31, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_STR(dc_fds(&store), "30,31,");

	/* a loop over 100..130 that closes 100 and 102 (open) on its way: the
	 * EBADF of 101 is part of it */
	t_open(&m, PID, 100, "/srv/a");
	t_open(&m, PID, 102, "/srv/b");
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 100, 0));
	apply(&m, tsys(PID, FDW_SYS_CLOSE, -EBADF, 101, 0));
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 102, 0));
	for (int fd = 103; fd <= 130; fd++)
		apply(&m, tsys(PID, FDW_SYS_CLOSE, -EBADF, (uint64_t)fd, 0));
	/* the same loop down: 230..200, 229 open */
	t_open(&m, PID, 229, "/srv/c");
	apply(&m, tsys(PID, FDW_SYS_CLOSE, -EBADF, 230, 0));
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 229, 0));
	for (int fd = 228; fd >= 200; fd--)
		apply(&m, tsys(PID, FDW_SYS_CLOSE, -EBADF, (uint64_t)fd, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_STR(dc_fds(&store), "30,31,");
	CHECK(fdw_leaks_stats(l)->race_sweeps >= 28 + 29);

	/* three closed in a row, then the last one again */
	t_open(&m, T2, 300, "/srv/d");
	t_open(&m, T2, 301, "/srv/e");
	t_open(&m, T2, 302, "/srv/f");
	for (int fd = 300; fd <= 302; fd++)
		apply(&m, tsys(T2, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0));
	apply(&m, tsys(T2, FDW_SYS_CLOSE, -EBADF, 302, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_STR(dc_fds(&store), "30,31,302,");

	/* closed a second ago, closed again now: no loop of the neighbours */
	t_open(&m, T2, 400, "/srv/g");
	t_open(&m, T2, 401, "/srv/h");
	t_open(&m, T2, 402, "/srv/i");
	for (int fd = 400; fd <= 402; fd++)
		apply(&m, tsys(T2, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	for (int fd = 401; fd <= 402; fd++)
		apply(&m, tsys(T2, FDW_SYS_CLOSE, -EBADF, (uint64_t)fd, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_STR(dc_fds(&store), "30,31,302,401,402,");
	leaks_teardown(l, &m, &store);
}

/*
 * fd-reuse: T2 used fd 5 (a socket then, in the kernel's deep record), T3
 * opened /srv/old there, PID closed it and T3 reopened it as /srv/new; T2
 * uses 5 again. The finding's generation is the one closed (/srv/old);
 * "target" is what the number names now (/srv/new).
 */
static void test_races_reuse(void)
{
	const uint32_t T2 = PID + 1, T3 = PID + 2;
	struct fdw_alerts store;
	struct fdw_leaks *l;
	struct fdw_event ev;
	struct fdw_model m;
	const json_t *f, *g;
	double real = 1.8e9;

	l = leaks_setup(&m, &store, NULL);
	start(&m, PID);
	mono = NS;
	t_two_threads(&m, T2);
	t_two_threads(&m, T3);
	t_open(&m, T3, 5, "/srv/old");
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 5, 0));
	t_open(&m, T3, 5, "/srv/new");
	ev = tsys(T2, FDW_SYS_FSTAT, 0, 5, 0);
	ev.type = FDW_REC_REUSE;
	ev.race_fd = 5;
	ev.other_nr = FDW_SYS_FSTAT;
	ev.old_mode = S_IFSOCK | 0777;
	ev.mode = S_IFREG | 0644;
	fdw_model_apply(&m, &ev);
	fdw_leaks_tick(l, mono += NS, real += 1);
	f = finding(race_alert(&store, FDW_ALERT_FD_REUSE), 0);
	CHECK(f != NULL);
	g = json_object_get(f, "generation");
	CHECK_EQ(jint(g, "created", "tid"), T3);
	CHECK_EQ(jint(g, "closed", "tid"), PID);
	CHECK_EQ(jint(f, "reopened", "tid"), T3);
	CHECK_STR(json_string_value(json_object_get(f, "target")), "/srv/new");
	CHECK_STR(json_string_value(json_object_get(g, "target")), "/srv/old");
	leaks_teardown(l, &m, &store);
}

/* Owners for test_race_procs_share: pids from 30000 are users' (uid
 * 1000 + (pid - 30000) / 1000), the others root's. */
static int share_owner(void *u, uint32_t pid, uint32_t *uid, uint32_t *gid)
{
	*uid = pid >= 30000 ? 1000 + (pid - 30000) / 1000 : 0;
	*gid = *uid;
	return 0;
}

/* Process `pid` (table `files`, a second thread pid + 1): the second
 * thread opens 5, the first closes it, the second closes it again. */
static void proc_double_close(struct fdw_model *m, uint32_t pid, uint64_t files)
{
	struct fdw_event ev;

	start(m, pid);
	ev = sys(pid, files, 0, 0, 0, 0, 0);
	ev.type = FDW_REC_FORK;
	ev.flags = FDW_F_THREAD | FDW_F_SHARED_FILES;
	ev.child_pid = pid;
	ev.child_tid = pid + 1;
	ev.child_files = files;
	fdw_model_apply(m, &ev);
	ev = sys(pid, files, FDW_SYS_OPENAT, 5, (uint64_t)AT_FDCWD, 0, 0);
	ev.tid = pid + 1;
	ev.nfds = 1;
	ev.fds[0] = 5;
	ev.file = 0xffff888400000000ull + seq * 256;
	ev.kfiles[0] = ev.file;
	ev.ino = 9000 + seq;
	ev.dev = 1;
	ev.mode = S_IFREG | 0644;
	ev.path = "/srv/x";
	fdw_model_apply(m, &ev);
	apply(m, sys(pid, files, FDW_SYS_CLOSE, 0, 5, 0, 0));
	ev = sys(pid, files, FDW_SYS_CLOSE, -EBADF, 5, 0, 0);
	ev.tid = pid + 1;
	fdw_model_apply(m, &ev);
}

/*
 * Findings state is shared by owner as the alert store is: with 8
 * processes' worth, a user's processes take 2, users together 7, and a
 * process of root's still gets one. Before, the first 8 processes with a
 * double close took it all for as long as they lived (a user's idle
 * flood), and root's double close was never reported.
 */
static void test_race_procs_share(void)
{
	struct fdw_leak_ops ops = fake_ops;
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l = NULL;
	struct fdw_model m;
	double real = 1.8e9;
	uint32_t pid;

	fdw_leak_config_default(&c);
	c.max_race_procs = 8;
	ops.read_owner = share_owner;
	CHECK_EQ(fdw_alerts_init(&store, 100, NULL), 0);
	store.log = NULL;
	model_new(&m);
	CHECK_EQ(fdw_leaks_new(&l, &c, &(struct fdw_leaks_deps){
				.model = &m, .alerts = &store, .ops = &ops }), 0);
	leaks_for_hooks = l;
	fdw_leaks_set_observer_index(l, leaks_obs_idx);
	mono = NS;

	/* uid 1000: ten processes, two kept */
	for (pid = 30000; pid < 30020; pid += 2)
		proc_double_close(&m, pid, FILES + pid * 0x1000ull);
	CHECK_EQ(fdw_leaks_stats(l)->race_procs, 2);
	CHECK_EQ(fdw_leaks_stats(l)->race_dropped_procs_share, 8);
	/* uids 1001 to 1003: three each; the users' 7 are full at 1003's first */
	for (uint32_t u = 1; u <= 3; u++)
		for (pid = 30000 + u * 1000; pid < 30000 + u * 1000 + 6; pid += 2)
			proc_double_close(&m, pid, FILES + pid * 0x1000ull);
	CHECK_EQ(fdw_leaks_stats(l)->race_procs, 7);
	CHECK_EQ(fdw_leaks_stats(l)->race_dropped_procs_share, 8 + 1 + 1 + 2);
	/* root's process gets the last one */
	proc_double_close(&m, PID, FILES);
	CHECK_EQ(fdw_leaks_stats(l)->race_procs, 8);
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(race_alert(&store, FDW_ALERT_DOUBLE_CLOSE) != NULL);
	CHECK_EQ(store.stats.firing[FDW_ALERT_DOUBLE_CLOSE], 8);
	/* a kept process of uid 1000 exits: its place is 1000's again */
	apply(&m, (struct fdw_event){ .seq = ++seq, .ts = mono, .type = FDW_REC_EXIT,
				      .files = FILES + 30000 * 0x1000ull, .pid = 30000,
				      .tid = 30000, .flags = FDW_F_GROUP_DEAD });
	CHECK_EQ(fdw_leaks_stats(l)->race_procs, 7);
	proc_double_close(&m, 30100, FILES + 30100 * 0x1000ull);
	CHECK_EQ(fdw_leaks_stats(l)->race_procs, 8);
	CHECK_EQ(fdw_leaks_stats(l)->race_dropped_procs, fdw_leaks_stats(l)->race_dropped_procs_share);
	leaks_teardown(l, &m, &store);
}

/* the kernel's walk at the exit of `nr` of fd by tid: `blocked` in read on it */
static void t_inflight(struct fdw_model *m, uint32_t tid, unsigned int nr, int fd,
		       uint32_t blocked)
{
	struct fdw_event ev = tsys(tid, nr, 0, 0, 0);

	ev.type = FDW_REC_INFLIGHT;
	ev.race_fd = fd;
	ev.other_tid = blocked;
	ev.other_nr = FDW_SYS_ACCEPT;
	strcpy(ev.comm, "blocked");
	fdw_model_apply(m, &ev);
}

/* thread `tid` dup2s `ph` over `fd`, with `blocked` blocked on fd (0: none) */
static void t_preclose(struct fdw_model *m, uint32_t tid, int ph, int fd, uint32_t blocked)
{
	apply(m, tsys(tid, FDW_SYS_DUP2, fd, (uint64_t)ph, (uint64_t)fd));
	if (blocked)
		t_inflight(m, tid, FDW_SYS_DUP2, fd, blocked);
}

static size_t nfindings(struct fdw_alerts *store, enum fdw_alert_kind k)
{
	struct fdw_alert *a = race_alert(store, k);

	return a ? json_array_size(json_object_get(a->evidence, "findings")) : 0;
}

/*
 * OpenJDK's pre-close: a placeholder (one end of a socketpair, made once)
 * dup2'd over a channel's fd that other threads are blocked on, then, once
 * they left their calls, a close of the number: neither close-in-flight
 * nor dup2-clobber. Without the close, or with it after race_preclose_ms,
 * both are findings; a close while a thread is still blocked is one.
 */
static void test_races_preclose(void)
{
	const uint32_t T2 = PID + 1, T3 = PID + 2;
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_leaks *l;
	struct fdw_model m;
	const json_t *f;
	double real = 1.8e9;

	fdw_leak_config_default(&c);
	CHECK_EQ(c.race_preclose_ms, 1000);
	l = leaks_setup(&m, &store, &c);
	start(&m, PID);
	mono = NS;
	t_two_threads(&m, T2);
	t_two_threads(&m, T3);
	t_open(&m, PID, 3, "/srv/placeholder"); /* the socketpair end */
	/* ServerSocketChannel.close(): PID's listener 4, T2 in accept on it;
	 * T2 returns (EINTR) and closes it itself (tryFinishClose) */
	t_open(&m, PID, 4, "/srv/listener");
	t_preclose(&m, PID, 3, 4, T2);
	mono += NS / 100;
	apply(&m, tsys(T2, FDW_SYS_CLOSE, 0, 4, 0));
	/* SocketChannel.close(): T2's socket 5, T2 and T3 blocked on it
	 * (reader, writer): close-in-flight twice, dup2-clobber; PID closes */
	t_open(&m, T2, 5, "/srv/socket");
	t_preclose(&m, PID, 3, 5, T2);
	t_inflight(&m, PID, FDW_SYS_DUP2, 5, T3);
	mono += NS / 2;
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 5, 0));
	/* the number reused at once, pre-closed again: the same placeholder */
	t_open(&m, T2, 5, "/srv/socket2");
	t_preclose(&m, PID, 3, 5, 0);
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 5, 0));
	/* and with dup3 */
	t_open(&m, T2, 6, "/srv/socket3");
	apply(&m, tsys(PID, FDW_SYS_DUP3, 6, 3, 6));
	t_inflight(&m, PID, FDW_SYS_DUP3, 6, T3);
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 6, 0));
	for (int i = 0; i < 3; i++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(race_alert(&store, FDW_ALERT_CLOSE_IN_FLIGHT) == NULL);
	CHECK(race_alert(&store, FDW_ALERT_DUP2_CLOBBER) == NULL);
	CHECK_EQ(fdw_leaks_stats(l)->race_preclose, 7);
	CHECK_EQ(fdw_leaks_stats(l)->race_findings[RACE_CLOSE_IN_FLIGHT], 0);

	/* the record of the walk after the close (the close came first): the
	 * whole idiom is in the history already */
	t_open(&m, T2, 7, "/srv/socket4");
	apply(&m, tsys(PID, FDW_SYS_DUP2, 7, 3, 7));
	apply(&m, tsys(T2, FDW_SYS_CLOSE, 0, 7, 0));
	t_inflight(&m, PID, FDW_SYS_DUP2, 7, T3);
	fdw_leaks_tick(l, mono += NS, real += 1);
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK(race_alert(&store, FDW_ALERT_CLOSE_IN_FLIGHT) == NULL);
	CHECK(race_alert(&store, FDW_ALERT_DUP2_CLOBBER) == NULL);
	CHECK_EQ(fdw_leaks_stats(l)->race_preclose, 9);

	/* a close while the thread is still blocked: its own close-in-flight
	 * (the number is free under the call); the dup2's is excused */
	t_open(&m, T2, 8, "/srv/socket5");
	t_preclose(&m, PID, 3, 8, T3);
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 8, 0));
	t_inflight(&m, PID, FDW_SYS_CLOSE, 8, T3);
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(nfindings(&store, FDW_ALERT_CLOSE_IN_FLIGHT), 1);
	f = finding(race_alert(&store, FDW_ALERT_CLOSE_IN_FLIGHT), 0);
	CHECK_STR(json_string_value(json_object_get(f, "syscall")), "close");
	CHECK_EQ(jint(f, "fd", NULL), 8);
	CHECK(race_alert(&store, FDW_ALERT_DUP2_CLOBBER) == NULL);

	/* no close: a real replace under a blocked call, and of T2's fd */
	t_open(&m, T2, 9, "/srv/socket6");
	t_preclose(&m, PID, 3, 9, T2);
	fdw_leaks_tick(l, mono += NS / 2, real += 0.5);
	CHECK(race_alert(&store, FDW_ALERT_DUP2_CLOBBER) == NULL); /* waits */
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(nfindings(&store, FDW_ALERT_CLOSE_IN_FLIGHT), 2);
	CHECK_EQ(nfindings(&store, FDW_ALERT_DUP2_CLOBBER), 1);
	f = finding(race_alert(&store, FDW_ALERT_DUP2_CLOBBER), 0);
	CHECK_EQ(jint(f, "fd", NULL), 9);
	CHECK_EQ(jint(json_object_get(f, "generation"), "created", "tid"), T2);
	/* a close long after (the number was the placeholder for seconds):
	 * the findings stand */
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 9, 0));
	/* a close after the window, before the tick that would confirm */
	t_open(&m, T2, 10, "/srv/socket7");
	t_preclose(&m, PID, 3, 10, T2);
	mono += 2 * NS;
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 10, 0));
	fdw_leaks_tick(l, mono += NS / 10, real += 2);
	CHECK_EQ(nfindings(&store, FDW_ALERT_CLOSE_IN_FLIGHT), 3);
	CHECK_EQ(nfindings(&store, FDW_ALERT_DUP2_CLOBBER), 2);
	/* a close of another generation at the number does not excuse: the
	 * placeholder replaced by another dup2 of T2's (a clobber of PID's
	 * placeholder, which that close excuses), then that closed */
	t_open(&m, T2, 11, "/srv/socket8");
	t_preclose(&m, PID, 3, 11, 0);
	t_open(&m, T2, 12, "/srv/other");
	apply(&m, tsys(T2, FDW_SYS_DUP2, 11, 12, 11));
	apply(&m, tsys(T2, FDW_SYS_CLOSE, 0, 11, 0));
	fdw_leaks_tick(l, mono += 2 * NS, real += 2);
	CHECK_EQ(nfindings(&store, FDW_ALERT_DUP2_CLOBBER), 3);
	CHECK_EQ(fdw_leaks_stats(l)->race_preclose, 12);
	CHECK_EQ(fdw_leaks_stats(l)->race_preclose_dropped, 0);

	/* bounded: candidates past RACE_PRECLOSE_WAIT are dropped, counted */
	for (int fd = 100; fd < 100 + RACE_PRECLOSE_WAIT + 8; fd++) {
		t_open(&m, T2, fd, "/srv/many");
		t_preclose(&m, PID, 3, fd, 0);
	}
	CHECK_EQ(fdw_leaks_stats(l)->race_preclose_dropped, 8);
	/* the count of waiting findings (every close of the host skips the
	 * detector while it is 0) follows them */
	CHECK_EQ(l->race_waits, RACE_PRECLOSE_WAIT);
	for (int fd = 100; fd < 100 + RACE_PRECLOSE_WAIT + 8; fd++)
		apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, (uint64_t)fd, 0));
	fdw_leaks_tick(l, mono += 2 * NS, real += 2);
	CHECK_EQ(fdw_leaks_stats(l)->race_preclose, 12 + RACE_PRECLOSE_WAIT);
	CHECK_EQ(l->race_waits, 0);
	CHECK_EQ(nfindings(&store, FDW_ALERT_DUP2_CLOBBER), 3);
	/* and a process that exits with findings waiting gives its back */
	t_open(&m, T2, 200, "/srv/last");
	t_preclose(&m, PID, 3, 200, 0);
	CHECK_EQ(l->race_waits, 1);
	{
		struct fdw_event ev = { .seq = 1u << 30, .ts = mono, .files = FILES, .pid = PID,
					.tid = PID, .type = FDW_REC_EXIT, .flags = FDW_F_GROUP_DEAD };

		fdw_model_apply(&m, &ev);
	}
	CHECK_EQ(l->race_waits, 0);
	leaks_teardown(l, &m, &store);

	/* race_preclose_ms=0: the idiom is reported at once */
	fdw_leak_config_default(&c);
	CHECK_EQ(fdw_leak_config_set(&c, "race_preclose_ms=0"), 0);
	l = leaks_setup(&m, &store, &c);
	start(&m, PID);
	mono = NS;
	t_two_threads(&m, T2);
	t_open(&m, PID, 3, "/srv/placeholder");
	t_open(&m, T2, 5, "/srv/socket");
	t_preclose(&m, PID, 3, 5, T2);
	apply(&m, tsys(PID, FDW_SYS_CLOSE, 0, 5, 0));
	fdw_leaks_tick(l, mono += NS, real += 1);
	CHECK_EQ(nfindings(&store, FDW_ALERT_CLOSE_IN_FLIGHT), 1);
	CHECK_EQ(nfindings(&store, FDW_ALERT_DUP2_CLOBBER), 1);
	CHECK_EQ(fdw_leaks_stats(l)->race_preclose, 0);
	leaks_teardown(l, &m, &store);
}

/* ---- pid reuse and lost execs, found by the re-read after lost records ---- */

static char ident_root[] = "/tmp/fdwt-ident-XXXXXX";

/* A live process in the fake /proc: its stat line (and its one task's)
 * with its command, start and stack start. */
static void ident_proc(uint32_t pid, const char *comm, uint64_t start, uint64_t stack)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u", ident_root, pid);
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/%u/task", ident_root, pid);
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
	snprintf(path, sizeof(path), "%s/%u/task/%u", ident_root, pid, pid);
	CHECK(mkdir(path, 0755) == 0 || errno == EEXIST);
	for (int i = 0; i < 2; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s/%u/stat", ident_root, pid);
		else
			snprintf(path, sizeof(path), "%s/%u/task/%u/stat", ident_root, pid, pid);
		f = fopen(path, "we");
		CHECK(f != NULL);
		if (!f)
			return;
		fprintf(f, "%u (%s) S 1 %u %u 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %llu 1000 10 "
			   "18446744073709551615 1 1 %llu 0 0 0\n",
			pid, comm, pid, pid, (unsigned long long)start, (unsigned long long)stack);
		CHECK(fclose(f) == 0);
	}
}

static int ident_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* fork `parent` into `child` with the start (clock ticks) and stack start
 * its record carries */
static void fork_ident(struct fdw_model *m, uint32_t parent, uint32_t child, uint64_t ticks,
		       uint64_t stack)
{
	uint64_t ns_per_tick = (uint64_t)(1e9 / fdw_clk_tck());
	struct fdw_event ev = sys(parent, files_of(parent), 0, 0, 0, 0, 0);

	ev.type = FDW_REC_FORK;
	ev.child_pid = ev.child_tid = child;
	ev.child_files = files_of(child);
	ev.start_boottime = ticks * ns_per_tick + 1;
	ev.start_stack = stack;
	strcpy(ev.comm, "leaky");
	fdw_model_apply(m, &ev);
}

static unsigned int trend_samples(struct fdw_leaks *l, struct fdw_model *m, uint32_t pid)
{
	struct fdw_leak_trend tr;

	return fdw_leaks_proc_trend(l, fdw_model_proc(m, pid), &tr) ? tr.samples : 0;
}

/*
 * Four children of one parent lose records (a full ring) and are re-read
 * from /proc:
 *  - OLD, at its fd limit (fd-exhaustion firing), exited and its pid went
 *    to another process (its exit and the other's fork lost): /proc shows
 *    another start. OLD's alert resolves as at an exit ("process
 *    exited"), counted (pids_reused); the newcomer is a new process, its
 *    own command and start, its table read, no alert of OLD's;
 *  - KEPT, at its limit too, the same start: the same process, its
 *    alert still firing;
 *  - RENAMER renamed itself (PR_SET_NAME): a new command, the same stack
 *    start: no new program, its trend goes on;
 *  - EXECER exec'd the same file (the same command): a new stack start, a
 *    new program (execs_found), its trend starts again.
 */
static void test_lost_identity(void)
{
	enum { PARENT = 7000, OLD = 7001, KEPT = 7002, RENAMER = 7003, EXECER = 7004 };
	const uint64_t STACK = 0x7ffc00000000ull;
	struct fdw_alert *old_alert, *kept_alert;
	struct fdw_proc *p, *kept;
	struct fdw_leak_config c;
	struct fdw_alerts store;
	struct fdw_pipeline pl;
	struct fdw_history h;
	struct fdw_leaks *l;
	struct fdw_model m;
	unsigned int renamer_samples, execer_samples;
	double real = 1.7e9;

	CHECK(mkdtemp(ident_root) != NULL);
	stray_tid = 0;
	fdw_leak_config_default(&c);
	l = leaks_setup(&m, &store, &c);
	CHECK_EQ(fdw_history_init(&h, 16), 0);
	fdw_pipeline_init(&pl, &m, &h, ident_root);
	pl.resync_budget_ns = 60 * NS; /* every re-read in one drain, under ASan too */
	start(&m, PARENT);
	mono = NS;
	fake_soft = 30;
	for (uint32_t pid = OLD; pid <= EXECER; pid++)
		fork_ident(&m, PARENT, pid, 1000 + pid, STACK + ((uint64_t)pid << 12));
	/* OLD and KEPT: 27 of 30 fds open (3 to 29) */
	for (int fd = 3; fd < 30; fd++) {
		do_open(&m, OLD, files_of(OLD), fd, "/var/lib/old.db", O_RDONLY);
		do_open(&m, KEPT, files_of(KEPT), fd, "/var/lib/kept.db", O_RDONLY);
	}
	for (int s = 0; s < 5; s++)
		fdw_leaks_tick(l, mono += NS, real += 1);
	/* the alerts carry the starts the fork records gave */
	old_alert = fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, OLD, 1000 + OLD);
	kept_alert = fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, KEPT, 1000 + KEPT);
	CHECK(old_alert != NULL);
	CHECK(kept_alert != NULL);
	if (!old_alert || !kept_alert)
		goto out;
	renamer_samples = trend_samples(l, &m, RENAMER);
	execer_samples = trend_samples(l, &m, EXECER);
	CHECK(renamer_samples >= 5);
	CHECK_EQ(execer_samples, renamer_samples);
	kept = fdw_model_proc(&m, KEPT);

	/* what /proc shows after the loss */
	ident_proc(OLD, "newcomer", 5555, STACK + 0x999000);
	ident_proc(KEPT, "leaky", 1000 + KEPT, STACK + ((uint64_t)KEPT << 12));
	ident_proc(RENAMER, "renamed", 1000 + RENAMER, STACK + ((uint64_t)RENAMER << 12));
	ident_proc(EXECER, "leaky", 1000 + EXECER, STACK + 0x777000);
	for (uint32_t pid = OLD; pid <= EXECER; pid++)
		fdw_pipeline_mark_lost(&pl, pid);
	fdw_pipeline_drain(&pl);
	CHECK_EQ(fdw_pipeline_resync_pending(&pl), 0);

	/* OLD exited: its alert resolved as an exit resolves it, counted */
	CHECK_EQ(old_alert->state, FDW_ALERT_RESOLVED);
	CHECK(old_alert->resolution && strstr(old_alert->resolution, "process exited"));
	CHECK_EQ(m.stats.pids_reused, 1);
	/* the newcomer: a new process, read as one */
	p = fdw_model_proc(&m, OLD);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(p->comm, "newcomer");
		CHECK_EQ(p->start_ticks, 5555);
		CHECK_EQ(p->start_stack, STACK + 0x999000);
		CHECK_EQ(p->exec_count, 0);
		CHECK(fdw_model_proc_table(&m, p) && !fdw_model_proc_table(&m, p)->stale);
	}
	/* KEPT: the same process, its alert untouched */
	CHECK(fdw_model_proc(&m, KEPT) == kept);
	CHECK_EQ(kept_alert->state, FDW_ALERT_FIRING);
	/* the renamer: its new command, the same program */
	p = fdw_model_proc(&m, RENAMER);
	CHECK(p && !strcmp(p->comm, "renamed") && p->exec_count == 0);
	/* the execer: a new program, the same command */
	p = fdw_model_proc(&m, EXECER);
	CHECK(p && !strcmp(p->comm, "leaky") && p->exec_count == 1);
	CHECK_EQ(m.stats.execs_found, 1);
	CHECK_EQ(m.stats.pids_reused, 1);

	fdw_leaks_tick(l, mono += NS, real += 1);
	/* the renamer's trend goes on; the new program's starts again */
	CHECK_EQ(trend_samples(l, &m, RENAMER), renamer_samples + 1);
	CHECK_EQ(trend_samples(l, &m, EXECER), 1);
	/* nothing of OLD's fires under the newcomer's identity, nor under OLD's */
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, OLD, 5555) == NULL);
	CHECK(fdw_alerts_find_firing(&store, FDW_ALERT_EXHAUSTION, OLD, 1000 + OLD) == NULL);
out:
	fdw_pipeline_free(&pl);
	fdw_history_free(&h);
	leaks_teardown(l, &m, &store);
	(void)nftw(ident_root, ident_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	test_config();
	test_pattern();
	test_trend();
	test_growth_detectors();
	test_sites();
	test_sites_lone_files();
	test_alert_lifecycle();
	test_server_no_alert();
	test_exhaustion_lowered();
	test_exec_leak();
	test_exit_resolved_at();
	test_exec_attribution();
	test_exec_locked();
	test_exec_pipe_kept();
	test_exec_pipe_kept_hang();
	test_exec_pipe_kept_cloexec();
	test_exec_pipe_cost();
	test_exec_pair_lineage();
	test_exec_pair_lineage_depth();
	test_exec_pair_kept();
	test_exec_pair_kept_other_child();
	test_detector_interface();
	test_races();
	test_race_sweeps();
	test_races_reuse();
	test_races_preclose();
	test_race_procs_share();
	test_lost_identity();
	return check_summary();
}
