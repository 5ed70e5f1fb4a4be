/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Leak alerts: what the detectors (leaks.c) found, with a lifecycle.
 *
 * An alert names a kind and one process by (pid, start time): a pid that
 * is reused is another process. It fires once; while it fires the detector
 * refreshes it (fdw_alerts_fire() on the same key updates the evidence and
 * is not logged again); it resolves once, when the condition clears or the
 * process exits. Every fire and every resolve is logged once, with a syslog
 * priority prefix, and handed to the on_change hook (the API's followers);
 * past FDW_ALERT_LOG_BURST_SYSTEM lines a minute about system accounts'
 * processes, or FDW_ALERT_LOG_BURST_USERS about everybody else's, the
 * lines are counted instead, and one line a minute says how many were not
 * logged.
 *
 * The store is bounded (max alerts; the oldest resolved alert makes room,
 * and when every alert is firing the new one is refused and counted) and
 * shared (fdw_alerts_admit(): one owner's processes cannot take it all) and
 * persisted as one JSON file in the state directory, replaced atomically
 * (temp file, fsync, rename, fsync of the directory): a crash leaves the
 * old file or the new one, never a mix. A file that cannot be read back is
 * moved aside and reported, and the daemon starts without it.
 *
 * Library-like: no loop, no timer. The caller decides when to save.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

enum fdw_alert_kind {
	FDW_ALERT_GROWTH = 0,	  /* "fd-growth": the open fd count keeps rising */
	FDW_ALERT_EXHAUSTION = 1, /* "fd-exhaustion": near RLIMIT_NOFILE */
	FDW_ALERT_LIMIT_HIT = 2,  /* "fd-limit-hit": EMFILE/ENFILE returned */
	FDW_ALERT_EXEC_LEAK = 3,  /* "exec-leak": fds without cloexec survived exec */
	/* races and misuse (detect/races.c) */
	FDW_ALERT_DOUBLE_CLOSE = 4,    /* "double-close": close() of an fd not open */
	FDW_ALERT_USE_AFTER_CLOSE = 5, /* "use-after-close": EBADF from a closed fd */
	FDW_ALERT_CLOSE_IN_FLIGHT = 6, /* "close-in-flight": closed while another thread
					* was blocked in a syscall on it */
	FDW_ALERT_DUP2_CLOBBER = 7,    /* "dup2-clobber": dup2/dup3 silently closed an fd
					* another thread created */
	FDW_ALERT_FD_REUSE = 8,	       /* "fd-reuse": a thread used a number another thread
					* closed and reopened since its previous use */
	FDW_ALERT_KINDS,
};

enum fdw_alert_state {
	FDW_ALERT_FIRING = 0,
	FDW_ALERT_RESOLVED = 1,
};

/*
 * Alert ids run from 1 to FDW_ALERT_ID_MAX, the largest JSON integer the
 * API and the state file carry (signed 64-bit), so no id is ever shown
 * negative. After FDW_ALERT_ID_MAX numbering starts again at 1, skipping
 * the ids of alerts still kept (logged once per wrap): at a million alerts
 * a second that is 292,000 years away, so only a damaged or edited state
 * file gets there. A state file with an id or next_id above it does not
 * parse and is set aside as corrupt; a next_id below 1 is ignored.
 */
#define FDW_ALERT_ID_MAX ((uint64_t)INT64_MAX)

struct fdw_alert {
	uint64_t id;		/* 1..FDW_ALERT_ID_MAX, unique in the store (persisted) */
	enum fdw_alert_kind kind;
	enum fdw_alert_state state;
	uint32_t pid;
	uint64_t start_ticks;	/* /proc/PID/stat starttime: the process's identity */
	double start_time;	/* the same as seconds since the epoch */
	char comm[16];
	/* the process's owner (sys/pidinfo.h's fdw_pid_owner_read): who besides
	 * root and group fdwatch may see the alert; FDW_OWNER_UNKNOWN: nobody */
	uint32_t uid;
	/* ... and the gid that user must have too (FDW_OWNER_GID_ANY: any) */
	uint32_t gid;
	double fired_at;	/* seconds since the epoch */
	double resolved_at;	/* 0 while firing */
	double last_seen;	/* last time a detector confirmed the condition */
	char *summary;		/* one line */
	char *resolution;	/* why it resolved, NULL while firing */
	json_t *evidence;	/* object, owned */
	/* figures the metrics export, kept beside the evidence */
	double rate_per_s;	/* growth: fds per second */
	double eta_s;		/* growth: seconds to the soft limit, < 0 unknown */
	bool recovered;		/* loaded from the state file, not yet re-confirmed */
};

/*
 * The store's share rules. Processes of system accounts (an owner uid up to
 * FDW_ALERT_SYSTEM_UID_MAX: root, services; the line the metrics draw too)
 * may fill the store. Every other owner (a user's uid, and the owners the
 * access code cannot name: "mixed" for a setuid program, "unknown", each
 * counted as one owner) holds at most fdw_alerts_share(max) firing alerts,
 * and those owners together at most max - fdw_alerts_reserve(max): the
 * rest is kept for system accounts' processes. An alert over a bound is
 * refused and counted (stats.dropped, stats.dropped_share), and logged at
 * most once a minute with the number refused since. Resolved alerts are
 * not counted: they make room first.
 */
#define FDW_ALERT_SYSTEM_UID_MAX 999u
/* a quarter of the store (at least 1) */
size_t fdw_alerts_share(size_t max);
/* an eighth of the store (1 below 16 alerts, none for 1) */
size_t fdw_alerts_reserve(size_t max);
static inline bool fdw_alert_owner_system(uint32_t uid)
{
	return uid <= FDW_ALERT_SYSTEM_UID_MAX;
}

/* Fire and resolve lines logged per minute about system accounts'
 * processes, and about all the others together; past it they are counted
 * (lines_suppressed). */
#define FDW_ALERT_LOG_BURST_SYSTEM 1000
#define FDW_ALERT_LOG_BURST_USERS 10
#define FDW_ALERT_LOG_WINDOW_S 60.0

enum fdw_alert_admit {
	FDW_ALERT_ADMIT,
	FDW_ALERT_FULL,	       /* every alert fires: refused (any owner) */
	FDW_ALERT_UID_SHARE,   /* its owner holds its share of the store */
	FDW_ALERT_USERS_SHARE, /* non-system owners hold all but the reserve */
};

struct fdw_alert_ratelimit {
	bool on;	     /* a window is open */
	double start;	     /* since when (seconds, the callers' clock) */
	unsigned int lines;  /* logged in it */
	uint64_t suppressed; /* not logged in it */
};

enum { FDW_ALERT_RL_SYSTEM, FDW_ALERT_RL_USERS, FDW_ALERT_RL_REFUSED, FDW_ALERT_RLS };

struct fdw_alert_stats {
	uint64_t fired[FDW_ALERT_KINDS];
	uint64_t resolved[FDW_ALERT_KINDS];
	uint64_t firing[FDW_ALERT_KINDS]; /* now */
	uint64_t dropped;	/* refused: the store was full of firing alerts, or
				 * the owner was over its share (fdw_alerts_admit) */
	uint64_t dropped_share;	/* of dropped: over a share (not a full store) */
	uint64_t lines_suppressed; /* fire/resolve lines not logged (rate limit) */
	uint64_t evicted;	/* resolved alerts forgotten to make room */
	uint64_t saves;
	uint64_t save_errors;
	uint64_t save_ms_last;	/* how long the last save took (off the loop) */
	uint64_t save_ms_max;	/* ... the longest */
	uint64_t save_pending_ms; /* the one in flight has waited (filled by the stats) */
	uint64_t load_errors;	/* corrupt state files set aside */
};

struct fdw_alerts {
	struct fdw_alert **v; /* sorted by id */
	size_t n, cap;
	size_t max;	      /* at most this many alerts kept */
	uint64_t next_id;     /* 1..FDW_ALERT_ID_MAX */
	char *path;	      /* state file, NULL: not persisted */
	char boot_id[40];     /* this boot (firing alerts of another boot are stale) */
	bool dirty;
	bool saving;	      /* a save is in flight (fdw_alerts_save_begin) */
	bool save_stall_logged; /* ... and has waited FDW_ALERT_SAVE_STALL_MS (said once) */
	uint64_t save_started_ns; /* CLOCK_MONOTONIC when it began */
	bool save_failing;    /* the last save failed (log once per streak) */
	bool save_trimmed;    /* the last save left evidence out (logged once) */
	size_t saved_bytes;   /* the last save's size */
	FILE *log;	      /* fire/resolve lines; NULL: silent */
	struct fdw_alert_stats stats;
	struct fdw_alert_ratelimit rl[FDW_ALERT_RLS]; /* lines; refusals */
	char refused_last[192];	/* the last refusal not logged, for the summary */
	/* an alert fired, was updated (updated=true) or resolved */
	void (*on_change)(void *userdata, const struct fdw_alert *a, bool updated);
	void *userdata;
};

const char *fdw_alert_kind_name(enum fdw_alert_kind k);
/* A race or misuse kind, listed by GET /v1/races (exec-leak too). */
static inline bool fdw_alert_kind_is_race(enum fdw_alert_kind k)
{
	return k == FDW_ALERT_EXEC_LEAK || (k >= FDW_ALERT_DOUBLE_CLOSE && k < FDW_ALERT_KINDS);
}
/* -1 when unknown */
int fdw_alert_kind_from_name(const char *name);
const char *fdw_alert_state_name(enum fdw_alert_state s);

/* `state_dir` NULL: not persisted. 0 or -errno (-ENOMEM). */
int fdw_alerts_init(struct fdw_alerts *s, size_t max, const char *state_dir);
void fdw_alerts_free(struct fdw_alerts *s);

/*
 * Read the state file. Missing: 0. Unreadable, corrupt or not a regular
 * file (a FIFO there is opened O_NONBLOCK, never waited on: -EINVAL): the
 * file is renamed to "<file>.corrupt", one line is logged, the store stays
 * empty, and -EBADMSG (or the -errno) is returned: the caller goes on. Firing
 * alerts of an earlier boot are resolved ("host rebooted").
 */
int fdw_alerts_load(struct fdw_alerts *s, double now);

/* Write the state file atomically if anything changed. 0 or -errno
 * (-EBUSY: a save is in flight); a failure is logged once until a save
 * succeeds again. Waits on the disk: the daemon's loop saves in three steps
 * instead (below); this is them. */
int fdw_alerts_save(struct fdw_alerts *s);

/*
 * A save off the loop. _begin, on the loop, takes a copy of the store
 * (NULL: nothing changed, no file, a save in flight, or no memory: that
 * one counted as a failed save) and marks it clean; _write, on any thread, serialises, writes and fsyncs
 * the copy, touching nothing else; _end, on the loop, counts and logs the
 * outcome, marks the store dirty again when it failed, and frees the job.
 * A change made in between is the next save's.
 */
struct fdw_alerts_save_job;
struct fdw_alerts_save_job *fdw_alerts_save_begin(struct fdw_alerts *s);
void fdw_alerts_save_write(struct fdw_alerts_save_job *j);
int fdw_alerts_save_end(struct fdw_alerts *s, struct fdw_alerts_save_job *j);
/* _end for a job that could not be handed to a thread (-errno): a failed save. */
void fdw_alerts_save_cancel(struct fdw_alerts *s, struct fdw_alerts_save_job *j, int err);
/* How long the save in flight has waited (ms), 0 when none. A write that
 * waits on the disk past FDW_ALERT_SAVE_STALL_MS is logged once (by
 * fdw_alerts_tick). */
#define FDW_ALERT_SAVE_STALL_MS 60000u
uint64_t fdw_alerts_save_pending_ms(const struct fdw_alerts *s, uint64_t now_ns);

/* The firing alert of this kind for this process, or NULL. */
struct fdw_alert *fdw_alerts_find_firing(struct fdw_alerts *s, enum fdw_alert_kind kind,
					 uint32_t pid, uint64_t start_ticks);
/* By id (binary search), or NULL. */
struct fdw_alert *fdw_alerts_get(struct fdw_alerts *s, uint64_t id);

struct fdw_alert_proc {
	uint32_t pid;
	uint64_t start_ticks;
	double start_time;
	const char *comm;
	uint32_t uid; /* its owner, FDW_OWNER_UNKNOWN (sys/pidinfo.h) when not known */
	uint32_t gid; /* the gid its owner needs (FDW_OWNER_GID_ANY: any) */
};

/*
 * Fire (or, when one fires already for this kind and process, refresh) an
 * alert. `evidence` is stolen (may be NULL). Returns the alert, NULL when
 * the store refused it (counted) or out of memory.
 */
struct fdw_alert *fdw_alerts_fire(struct fdw_alerts *s, enum fdw_alert_kind kind,
				  const struct fdw_alert_proc *proc, double now,
				  const char *summary, json_t *evidence);

/* Would a new alert of a process of `uid` be kept (no refresh: a new
 * one)? The share rules above; FDW_ALERT_FULL when every alert fires. */
enum fdw_alert_admit fdw_alerts_admit(const struct fdw_alerts *s, uint32_t uid);

/* Every second or so: the rate-limited lines' summaries ("N not logged in
 * the last minute") are written when their minute is over, even when no
 * other line comes. */
void fdw_alerts_tick(struct fdw_alerts *s, double now);

/* Resolve a firing alert (no-op otherwise). */
void fdw_alerts_resolve(struct fdw_alerts *s, struct fdw_alert *a, double now,
			const char *reason);

/* Resolve every firing alert of a process (it exited). */
void fdw_alerts_resolve_proc(struct fdw_alerts *s, uint32_t pid, uint64_t start_ticks,
			     double now, const char *reason);

/* One alert as the API shows it. */
json_t *fdw_alert_json(const struct fdw_alert *a);
