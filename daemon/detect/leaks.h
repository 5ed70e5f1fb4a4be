/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Leak detectors, per process, fed by the model:
 *
 * - growth: once a second the process's open fd count goes into a ring
 *   (fast detector: a least-squares trend over the last fast_window
 *   seconds) and the minimum of every slow_interval seconds into another
 *   (slow detector: the same over up to slow_window intervals). A trend
 *   counts only when it is steep enough, rises by enough fds, fits a line
 *   (R^2), rises at most steps, and is not levelling off (the second half
 *   of the window rises at least half as fast as the first). Spikes (a
 *   burst of connections that closes again) and plateaus (a server that
 *   warmed up) fail those tests; the minimum per interval of the slow
 *   detector ignores load that comes and goes. The rate and the time to
 *   the RLIMIT_NOFILE soft limit (read with prlimit, refreshed) go into
 *   the alert.
 * - exhaustion: open fds at or above exhaustion_ratio of the soft limit;
 *   and any EMFILE/ENFILE the process got back (fd-limit-hit).
 * - leak sites: the still-open fds grouped by where they were created
 *   (creating syscall, the syscall that created the open file description,
 *   target pattern, creating command), with captured user stacks inside a
 *   site, ranked by count. A growing process gets its stacks captured
 *   (fdw_capture_watch_stacks) so new fds carry them.
 * - leaks into children: fds without close-on-exec (other than 0, 1, 2)
 *   that survived an exec, with their provenance.
 *
 * Every resource is bounded and what a bound refused is counted.
 *
 * Files: leaks.c (per-process state, the alert lifecycle, the detectors'
 * registration and dispatch), detector.h (the interface, inside detect/),
 * growth.c, exhaustion.c, limits.c (EMFILE/ENFILE), exec_leak.c, stacks.c
 * (user stacks), sites.c (grouping, JSON), evidence.c, config.c.
 * Library-like: no loop, no timer, no draining; /proc through sys/pidinfo.
 *
 * Wiring (daemon.c does it): the alert store is opened first and its
 * on_change publishes fires and resolves; fdw_leaks_new() with the model,
 * the store and the capture (stacks); the model observer calls
 * fdw_leaks_on_fd_event/on_proc_exit, and its index goes to
 * fdw_leaks_set_observer_index(); every second, after draining the
 * pipeline, fdw_leaks_tick(); at shutdown fdw_leaks_free() before the
 * capture and the model are freed (the model's exits then are a shutdown,
 * not process exits).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alerts/alerts.h"
#include "model/model.h"
#include "sys/pidinfo.h" /* fdw_boot_time(), which metrics.c gets through here */

struct fdw_capture;

#define FDW_LEAK_SHELLS_LEN 192 /* exec_leak_shells, with its NUL */

struct fdw_leak_config {
	/* growth, fast: one sample of the open fd count per second */
	unsigned int fast_window;      /* samples (s) looked at */
	unsigned int fast_min_samples; /* before the fast detector may fire */
	double fast_min_rate;	       /* fds per second */
	unsigned int fast_min_rise;    /* fds over the window */
	/* growth, slow: the minimum of each interval */
	unsigned int slow_interval;    /* s */
	unsigned int slow_window;      /* intervals looked at */
	unsigned int slow_min_samples; /* intervals before the slow detector may fire */
	double slow_min_rate;	       /* fds per minute */
	unsigned int slow_min_rise;    /* fds over the window */
	double min_fit;		       /* R^2 of the line */
	double min_rising;	       /* fraction of steps that rise */
	unsigned int growth_quiet;     /* s without growth before fd-growth resolves */
	/* exhaustion */
	double exhaustion_ratio;       /* of the soft limit */
	unsigned int limit_refresh;    /* s between prlimit reads of a process */
	unsigned int limit_quiet;      /* s without EMFILE/ENFILE before fd-limit-hit resolves */
	bool exec_leaks;	       /* report fds leaked across exec */
	unsigned int exec_min_age;     /* s the leaking process must outlive the first such
					* exec (short-lived shells are no news) */
	/* shells, comma-separated, matched against the creating thread's
	 * command and the creator's executable: an fd a shell made without
	 * close-on-exec is a redirection it set up for its commands */
	char exec_leak_shells[FDW_LEAK_SHELLS_LEN];
	unsigned int evidence_refresh; /* s between evidence updates of a firing alert */
	/* races and misuse (races.c) */
	bool races;		       /* report double-close, use-after-close, ... */
	unsigned int race_quiet;       /* s without a new finding before a race alert resolves */
	unsigned int max_race_procs;   /* processes with findings kept */
	bool race_deep;		       /* deep mode (fd-reuse) for processes with a finding */
	unsigned int max_deep;	       /* processes in deep mode at once */
	unsigned int race_preclose_ms; /* a dup2/dup3 over a fd another thread uses, then a
					* close of it within this: the pre-close idiom */
	/* bounds */
	unsigned int max_procs;	       /* processes with detector state */
	unsigned int max_watch;	       /* processes with user stack capture */
	unsigned int max_stacks;       /* distinct stacks kept */
	unsigned int max_sites;	       /* sites in an answer */
	unsigned int sample_fds;       /* sample fds per site */
};

#define FDW_LEAK_FINE 64   /* fast ring capacity (fast_window <= this) */
#define FDW_LEAK_COARSE 64 /* slow ring capacity (slow_window <= this) */

/* The samples before a growth detector may fire: at most its window. The
 * setting is kept as given, so the order of the keys does not matter
 * (fast_min_samples=60 then fast_window=120 is 60, not the default
 * window's 30); a window set smaller than it is what wins. */
static inline unsigned int fdw_leak_fast_min_samples(const struct fdw_leak_config *c)
{
	return c->fast_min_samples < c->fast_window ? c->fast_min_samples : c->fast_window;
}

static inline unsigned int fdw_leak_slow_min_samples(const struct fdw_leak_config *c)
{
	return c->slow_min_samples < c->slow_window ? c->slow_min_samples : c->slow_window;
}

void fdw_leak_config_default(struct fdw_leak_config *c);
/* "name=value"; 0 or -EINVAL (unknown name, bad value). */
int fdw_leak_config_set(struct fdw_leak_config *c, const char *name_value);
/*
 * "name=value name=value ..." of every setting, on one line without a
 * newline (for a log line: log_debug("leak detectors: %s", buf)). Like
 * snprintf: always NUL-terminated when len > 0, truncated to fit; returns
 * the length the whole text needs (>= len: truncated), or -errno.
 */
int fdw_leak_config_print(const struct fdw_leak_config *c, char *buf, size_t len);
/*
 * A reload: copy into `dst` the settings of `src` that may change while the
 * detectors run (thresholds); the names of those that differ but need a
 * restart (windows, bounds) go to `restart`, "leak.NAME leak.NAME ..."
 * (NUL-terminated when len > 0, truncated to fit). Returns how many
 * settings were copied.
 */
int fdw_leak_config_merge(struct fdw_leak_config *dst, const struct fdw_leak_config *src,
			  char *restart, size_t len);
/* Is `comm` one of the comma-separated names in `list`? */
bool fdw_leak_comm_listed(const char *list, const char *comm);
/* The i-th setting's name, NULL past the last (documentation checks). */
const char *fdw_leak_config_name(size_t i);

/* ---- the growth detector, pure (unit-tested on synthetic series) ---- */

/*
 * Zeroed, it is empty. Most processes hold the same number of fds for
 * ever: while every sample pushed equals the first (`flat`), both rings are
 * all `flat` and are not stored; they are allocated at the first sample
 * that differs. fdw_leak_series_reset() frees them.
 */
struct fdw_leak_series {
	uint32_t *ring;			    /* FDW_LEAK_FINE then FDW_LEAK_COARSE values,
					     * NULL while all are `flat` */
	uint32_t flat;
	unsigned int fine_n, fine_head;	    /* head: next write */
	unsigned int coarse_n, coarse_head;
	uint32_t floor;			    /* minimum of the interval in progress */
	unsigned int floor_samples;
	uint64_t samples;		    /* pushed in total */
};

struct fdw_trend {
	unsigned int n;
	double slope;	    /* per step */
	double r2;
	double rising;	    /* fraction of steps that rose */
	double slope_first, slope_second; /* of each half */
	uint32_t first, last, min, max;
	double slope_recent; /* of the last 4 values */
};

enum { FDW_GROWTH_NONE = 0, FDW_GROWTH_FAST = 1, FDW_GROWTH_SLOW = 2 };

struct fdw_growth {
	int detector;	    /* FDW_GROWTH_* that matched, NONE when not growing */
	bool suspect;	    /* not (yet) growing, but worth capturing stacks */
	double rate_per_s;
	double r2;
	double rising;
	uint32_t from, to;  /* the window's first and last values */
	double window_s;
};

/* Least squares over v[0..n). */
void fdw_trend_fit(const uint32_t *v, unsigned int n, struct fdw_trend *t);
/* 0, or -ENOMEM (the rings could not be allocated: the sample is not kept,
 * the series stays as it was). */
int fdw_leak_series_push(struct fdw_leak_series *s, const struct fdw_leak_config *c,
			 uint32_t nopen);
/* Empty again (frees the rings); NULL-safe. */
void fdw_leak_series_reset(struct fdw_leak_series *s);
/* true when growing (g->detector set). */
bool fdw_leak_growth(const struct fdw_leak_config *c, const struct fdw_leak_series *s,
		     struct fdw_growth *g);

/* ---- leak sites, pure ------------------------------------------------- */

#define FDW_SITE_STACKS 4
#define FDW_SITE_SAMPLES 8

struct fdw_leak_site {
	uint16_t nr;	   /* syscall that created the fd (FDW_SYS_*) */
	uint16_t ofd_nr;   /* syscall that created its open file description */
	uint8_t source;	   /* enum fdw_origin_source of the fd */
	char comm[16];	   /* creating thread's command */
	char pattern[256]; /* target with digit runs as '*' */
	const char *type;  /* "reg", "sock", ... */
	uint64_t count;	   /* still open */
	uint64_t recent;   /* of which created at or after `since` */
	uint64_t oldest_ts, newest_ts; /* CLOCK_MONOTONIC ns of creation, 0 unknown */
	int samples[FDW_SITE_SAMPLES];
	unsigned int nsamples;
	struct {
		uint32_t stack;
		uint64_t count;
	} stacks[FDW_SITE_STACKS];
	unsigned int nstacks;
	uint64_t other_stacks;	/* fds whose stack is not among stacks[] */
	uint64_t without_stack; /* fds created before stacks were captured */
};

/* Stack (id+1) of an open fd, 0 when none was captured. */
typedef uint32_t (*fdw_leak_stack_fn)(void *userdata, int fd, const struct fdw_slot *s);

/*
 * Group the open fds of `t` into sites, ranked by `recent` (when since > 0)
 * then count, then age. *out is malloc'd, at most `max` sites; the number of
 * sites beyond `max` (or beyond the internal bound) in *dropped. 0 or -errno.
 */
int fdw_leak_sites(const struct fdw_table *t, uint64_t since, fdw_leak_stack_fn stack_of,
		   void *userdata, unsigned int max, struct fdw_leak_site **out, size_t *n,
		   uint64_t *dropped);

/* The target with every run of digits replaced by '*'. */
void fdw_leak_pattern(const char *target, char *out, size_t len);

/* ---- the detectors in the daemon -------------------------------------- */

/* What leaks.c reads from the system; tests replace it. */
struct fdw_leak_ops {
	int (*read_limit)(void *userdata, uint32_t pid, uint64_t *soft, uint64_t *hard);
	/* /proc/PID/stat starttime (clock ticks since boot) */
	int (*read_start)(void *userdata, uint32_t pid, uint64_t *ticks);
	/* systemd unit from /proc/PID/cgroup ("" when none) */
	int (*read_unit)(void *userdata, uint32_t pid, char *buf, size_t len);
	/* the process's owner (sys/pidinfo.h fdw_pid_owner_read), stored in
	 * its alerts for access control, with the gid it needs; optional
	 * (NULL: owner unknown) */
	int (*read_owner)(void *userdata, uint32_t pid, uint32_t *uid, uint32_t *gid);
	/* the base name of the program it runs (sys/pidinfo.h
	 * fdw_pid_exe_name); optional (NULL: only commands are matched) */
	int (*read_exe)(void *userdata, uint32_t pid, char *buf, size_t len);
	/* does fd hold a lock (sys/procfs.h fdw_proc_fd_locked: 1, 0 or
	 * -errno; ino 0: any file); optional (NULL: locks are not looked at) */
	int (*read_fd_locked)(void *userdata, uint32_t pid, int fd, uint64_t ino);
	void *userdata;
};

struct fdw_leak_stats {
	uint64_t procs;		  /* with detector state now */
	uint64_t dropped_procs;	  /* state refused: max_procs */
	uint64_t watching;	  /* processes with stack capture now */
	uint64_t dropped_watch;	  /* stack capture refused: max_watch or the kernel map */
	uint64_t stacks;	  /* distinct stacks kept now */
	uint64_t dropped_stacks;  /* refused: max_stacks, or read failed */
	uint64_t dropped_sites;	  /* sites beyond the bounds, summed over answers */
	uint64_t dropped_exec_fds;/* exec-leaked fds beyond the per-exec bound */
	uint64_t exec_fds_excused;/* fds through exec that blame nobody: passed
				   * through, set up, made inheritable, locked,
				   * a pipe end kept */
	uint64_t exec_pipe_slots; /* slots the pipe rule read: one walk of the
				   * exec'ing process's table per exec */
	uint64_t ticks;
	/* races (races.c) */
	uint64_t race_findings[8];  /* by kind: double-close, use-after-close,
				     * close-in-flight, dup2-clobber (FDW_ALERT_* - 4) */
	uint64_t race_repeats;	    /* findings that repeated a kept one (counted in it) */
	uint64_t race_dropped;	    /* distinct findings beyond the per-process bound */
	uint64_t race_dropped_procs;/* processes refused findings state: max_race_procs,
				     * or their owner's share of it */
	uint64_t race_dropped_procs_share; /* of those, refused for a share */
	uint64_t race_procs;	    /* processes with findings state now */
	uint64_t race_sweeps;	    /* EBADF closes of a close-everything loop: excused */
	uint64_t race_wrong_mode;   /* EBADF on an fd that was open (wrong access mode) */
	uint64_t race_never_opened; /* EBADF uses of an fd the model never saw open */
	uint64_t race_unconfirmed;  /* use-after-close whose close never showed up */
	uint64_t race_single_thread;/* EBADF of a single-threaded process on a number it
				     * closed itself (or never had): harmless, excused */
	uint64_t race_deep;	    /* processes in deep mode now */
	uint64_t race_deep_refused; /* deep mode refused: max_deep or the kernel map */
	uint64_t race_reuse_excused;/* a number reused in a way the thread knew of (it
				     * closed or reopened it) or for the same kind of file */
	uint64_t race_preclose;	    /* close-in-flight and dup2-clobber by a dup2/dup3
				     * whose placeholder was closed within
				     * race_preclose_ms: the pre-close idiom, excused */
	uint64_t race_preclose_dropped; /* candidates refused: RACE_PRECLOSE_WAIT waiting */
};

struct fdw_leaks;

/* What the detectors work on. The model, the alert store and the capture
 * must outlive them. */
struct fdw_leaks_deps {
	struct fdw_model *model;	/* required */
	struct fdw_alerts *alerts;	/* required */
	struct fdw_capture *capture;	/* NULL: no user stacks */
	const struct fdw_leak_ops *ops; /* NULL: sys/pidinfo on proc_root (and prlimit) */
	const char *proc_root;		/* NULL: /proc */
};

/* `cfg` NULL: the defaults. 0 or -errno. */
int fdw_leaks_new(struct fdw_leaks **out, const struct fdw_leak_config *cfg,
		  const struct fdw_leaks_deps *deps);
/* Forget every per-process state, stop stack capture. NULL-safe. Call
 * before the model is freed, and let the model not call the two observer
 * functions below afterwards. */
void fdw_leaks_free(struct fdw_leaks *l);

/* One step: sample every process, run the detectors, fire/resolve.
 * now_mono: CLOCK_MONOTONIC ns; now_real: seconds since the epoch. The
 * caller drains the pipeline first. */
void fdw_leaks_tick(struct fdw_leaks *l, uint64_t now_mono, double now_real);

/* The model observer (struct fdw_model_observer): userdata is the struct
 * fdw_leaks. */
typedef enum fdw_fd_event_kind fdw_leak_fdev_kind;
void fdw_leaks_on_fd_event(void *leaks, struct fdw_proc *p, const struct fdw_event *ev,
			   fdw_leak_fdev_kind kind, int fd, const struct fdw_slot *slot);
void fdw_leaks_on_proc_exit(void *leaks, struct fdw_proc *p);
/* The index fdw_model_add_observer() returned (per-process state slot). */
/* The fd event kinds some detector wants (FDW_LEAK_FDEV bits, the model's
 * FDW_FDEV_BIT): the wiring narrows the model observer to them. */
uint32_t fdw_leaks_fd_events(const struct fdw_leaks *l);
void fdw_leaks_set_observer_index(struct fdw_leaks *l, int idx);

/* The sites of a live process as JSON (GET /v1/leaks?pid=). */
json_t *fdw_leaks_sites_json(struct fdw_leaks *l, struct fdw_proc *p);

/* The summary of an exec-leak alert from its evidence (detect/exec_leak.c);
 * a leaked fd marked "hidden" (server/alert_view.c) is named by number
 * alone. */
void fdw_leak_exec_summary(const json_t *evidence, char *summary, size_t len);

/* The summary of a race alert from its evidence (detect/races.c): its first
 * finding, and how many more. A finding, generation or reopening marked
 * hidden (server/alert_view.c) names no thread of it. */
void fdw_race_summary(const json_t *evidence, char *summary, size_t len);

/* "N x SYSCALL [of OPENED_BY] TARGET": leak site `site` (detect/sites.c) in
 * one line, the top site of fd-growth, fd-exhaustion and fd-limit-hit
 * summaries (after FDW_LEAK_TOP_SITE); a site marked hidden
 * (server/alert_view.c) is "N x (hidden) TARGET". */
#define FDW_LEAK_TOP_SITE "; top site: "
void fdw_leak_site_describe(const json_t *site, char *top, size_t len);

/* For the metrics: what the detectors know of a process. */
struct fdw_leak_procinfo {
	uint64_t soft, hard;	/* RLIMIT_NOFILE, 0 when unknown */
	const char *unit;	/* systemd unit, "" when none */
	double rate_per_s;	/* growth rate when growing, else 0 */
	double eta_s;		/* seconds to the soft limit when growing, < 0 unknown */
	bool growing;
};
/* false when the process has no detector state. */
bool fdw_leaks_proc_info(struct fdw_leaks *l, struct fdw_proc *p, struct fdw_leak_procinfo *out);

/* For GET /v1/processes: the limit and the recent trend of a process's
 * open fd count, from the detectors' samples (no /proc read). */
struct fdw_leak_trend {
	uint64_t soft;		/* RLIMIT_NOFILE soft limit, 0 when unknown */
	bool limit_known;
	double per_min;		/* slope of the last minute's samples, fds/min */
	unsigned int samples;	/* how many it was fitted on (< 2: unknown) */
};
/* false when the process has no detector state. */
bool fdw_leaks_proc_trend(struct fdw_leaks *l, const struct fdw_proc *p,
			  struct fdw_leak_trend *out);

const struct fdw_leak_stats *fdw_leaks_stats(const struct fdw_leaks *l);

const struct fdw_leak_config *fdw_leaks_config(const struct fdw_leaks *l);
/* A reload: the running detectors take `c` (after fdw_leak_config_merge,
 * so only live settings differ from what they run with). */
void fdw_leaks_set_config(struct fdw_leaks *l, const struct fdw_leak_config *c);
