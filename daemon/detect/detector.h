/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inside detect/ only (other folders use leaks.h): the interface every
 * detector implements, the per-process state they share, and the one
 * fire/refresh/resolve helper they all use.
 *
 * A detector is a table of hooks, each optional. leaks.c calls them in
 * registration order (growth, exhaustion, limits, exec-leak, stacks):
 *
 *   on_proc_new   a process got detector state (zeroed): set up, and adopt
 *                 the alert of the detector's kind that fires for the
 *                 process from before a restart
 *   on_fd_event   the model changed a table (FDW_FDEV_*); the process may
 *                 have no state yet (leak_proc_get() creates it)
 *   on_tick       once a second, for every process with state, with its table
 *   on_proc_exit  the state goes away (the process exited, or the detectors
 *                 stop): release what the detector holds for it
 *
 * Alert lifecycle, the same for every detector (struct leak_alert):
 *
 *   a = leak_alert_current(l, &la);          firing now, or NULL
 *   if (condition) {
 *           if (leak_alert_fresh(l, &la, ...)) update figures only; return
 *           build evidence; leak_alert_fire(l, &la, kind, ...);
 *   } else if (a && cleared) {
 *           leak_alert_resolve(l, &la, now_real, "why %u", ...);
 *   }
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "alerts/alerts.h"
#include "base/clock.h"
#include "base/hashmap.h"
#include "detect/leaks.h"
#include "model/model.h"

struct fdw_symbolizer;

/* ---- per-process state ---------------------------------------------------- */

/* One detector's alert for one process. */
struct leak_alert {
	uint64_t id;	      /* the alert firing, 0 when none */
	uint64_t evidence_ts; /* CLOCK_MONOTONIC ns its evidence was last built */
};

struct leak_growth {
	struct fdw_leak_series series;
	struct fdw_growth growth; /* the last tick's verdict */
	bool growing;
	struct leak_alert alert;
	uint64_t since;		  /* CLOCK_MONOTONIC of the growth window's start */
	uint32_t base, peak;	  /* fds before the growth, most fds since */
	uint64_t suspect_ts;	  /* last tick that was growing or suspect */
};

struct leak_exhaustion {
	struct leak_alert alert;
};

/* EMFILE / ENFILE */
struct leak_limits {
	uint64_t fails, fails_reported, last_fail;
	int last_errno;
	uint16_t last_nr;
	uint32_t last_tid;
	struct leak_alert alert;
};

#define LEAK_EXEC_FDS 64     /* exec-leaked fds remembered per process */
#define LEAK_EXEC_CHILDREN 8 /* children remembered per process */
#define LEAK_SHELL_NAMES 4   /* names judged per exec record (exec_shell_listed) */

/* What an exec leak left to report: the fds and the children that got
 * them. Allocated at a process's first exec leak (most processes never
 * have one: inline, it was two thirds of every process's state), freed
 * when the alert resolves or the process exits. */
struct leak_exec_log {
	struct {
		int fd;
		uint64_t ofd; /* the model's OFD id; 0: any (recovered from the state file) */
		bool race;    /* its creator set close-on-exec after the fork: too late */
		bool confirmed; /* looked at for a lock (exec_confirm) and kept */
	} fds[LEAK_EXEC_FDS];
	struct {
		uint32_t pid;
		char comm[16];
		uint64_t ts;
		uint64_t seq; /* its exec's event */
		unsigned int nfds;
	} children[LEAK_EXEC_CHILDREN]; /* ring, the newest last */
};

/* Fds this process created that went through exec into the programs its
 * forks ran (copied by fork, then not closed on exec): exec_leak.c. */
struct leak_exec {
	struct leak_exec_log *log; /* NULL: none so far (nfds and nchildren 0) */
	unsigned int nrace; /* of which the race form */
	unsigned int nfds;
	json_t *leaked; /* their provenance, as the child saw them */
	unsigned int children_head, nchildren;
	uint64_t children_total, seq;
	uint64_t pending_since;
	bool pending;
	/* the base name of the program's executable, for exec_leak_shells
	 * (a script's command is its own name): read once per program */
	uint64_t exe_exec; /* the exec_count it was read at, + 1; 0: not read */
	char exe[16];	   /* "" unknown, or too long to be a listed name */
	struct leak_alert alert;
};

struct leak_stacks {
	bool watching, watch_refused;
	struct fdw_hashmap fdstacks; /* fd -> (generation << 32 | stack) */
	struct fdw_symbolizer *sym;
	bool sym_failed;
};

/* ---- races (races.c) ---- */

enum race_kind {
	RACE_DOUBLE_CLOSE = 0,	 /* FDW_ALERT_DOUBLE_CLOSE */
	RACE_USE_AFTER_CLOSE,	 /* FDW_ALERT_USE_AFTER_CLOSE */
	RACE_CLOSE_IN_FLIGHT,	 /* FDW_ALERT_CLOSE_IN_FLIGHT */
	RACE_DUP2_CLOBBER,	 /* FDW_ALERT_DUP2_CLOBBER */
	RACE_FD_REUSE,		 /* FDW_ALERT_FD_REUSE (deep mode) */
	RACE_KINDS,
};

#define RACE_FINDINGS 16 /* distinct findings kept per process and kind */

/* One finding: what a thread did to fd, and the generation of fd it hit. */
struct race_finding {
	int fd;
	uint16_t nr;	   /* the failing, closing or replacing syscall */
	uint16_t other_nr; /* close-in-flight: the blocked syscall */
	uint32_t tid;	   /* the thread that did it */
	uint32_t other_tid;/* close-in-flight: the blocked thread */
	char other_comm[16];
	uint64_t seq;	   /* its event */
	uint64_t ts, last_ts; /* CLOCK_MONOTONIC ns, first and latest */
	uint64_t count;	   /* times seen (same site) */
	bool never_opened; /* the model never saw fd open in this table */
	bool pending;	   /* use-after-close whose close record is still to come */
	bool concurrent;   /* double-close racing the close that freed it */
	bool has_gen;
	uint32_t generation;
	struct fdw_origin origin; /* the generation hit: who created it */
	struct fdw_origin closed; /* ... and who closed (or replaced) it */
	struct fdw_origin reopened; /* fd-reuse: who created what the number names now */
	char target[96];	    /* the generation hit's file */
	char reopened_target[96];   /* fd-reuse: what the number names now */
};

struct leak_race_kind {
	struct race_finding *f; /* RACE_FINDINGS, allocated on the first finding */
	unsigned int n;
	uint64_t total, dropped;
	uint64_t fresh;	   /* findings (or repeats) since the alert was last fired */
	uint64_t last_ts;  /* CLOCK_MONOTONIC of the newest finding */
};

#define RACE_PRECLOSE_WAIT 32 /* pre-close candidates waiting per process */

/*
 * A close-in-flight or dup2-clobber by a dup2/dup3 that may be the
 * pre-close idiom (a placeholder dup2'd over the fd, the number closed a
 * moment later): it waits race_preclose_ms for a close of the generation
 * that dup2 installed, which excuses it; then it is a finding.
 */
struct race_wait {
	struct race_finding f;
	uint64_t install_seq; /* the dup2/dup3's event: the placeholder's origin */
	enum race_kind kind;
};

/* Allocated on a process's first finding (each kind's list on its first). */
struct leak_races {
	struct leak_race_kind k[RACE_KINDS];
	struct race_wait *wait; /* RACE_PRECLOSE_WAIT, allocated on the first */
	unsigned int nwait;
	/* the run of numbers the last EBADF close is in (races.c, the
	 * close-everything loop) */
	uint32_t sweep_tid;
	int sweep_fd;	       /* its last EBADF number */
	int sweep_dir;	       /* +1 up, -1 down, 0 not known yet */
	unsigned int sweep_len; /* numbers in a row so far */
	unsigned int sweep_npending;
	uint64_t sweep_pending[2]; /* findings of the run so far (seqs): taken
				    * back when it turns out a loop */
	bool deep;	    /* deep mode (fd-reuse) on for the process */
	bool deep_refused;
	uint32_t owner;	    /* the owner it counts for in race_owners (races.c) */
};

struct leak_proc {
	uint32_t pid;
	uint64_t start_ticks;	/* /proc/PID/stat starttime: the identity alerts carry */
	double start_time;
	uint64_t exec_count;	/* of the program the state describes */
	/* RLIMIT_NOFILE, refreshed every limit_refresh s */
	uint64_t soft, hard, limit_ts;
	bool limit_known;
	/* systemd unit, read on first use (NULL: none, or not read yet) */
	char *unit;
	bool unit_known;
	struct leak_growth growth;
	struct leak_exhaustion exhaustion;
	struct leak_limits limits;
	struct leak_exec exec;
	struct leak_stacks stacks;
	struct leak_races *races;		/* NULL until a finding */
	struct leak_alert race_alert[RACE_KINDS];
	/* its owner (leak_owner), read once per program: owner_exec is the
	 * exec_count it was read at plus one, 0 before the first read */
	uint32_t owner;
	uint64_t owner_exec;
};

/* ---- the interface ----------------------------------------------------- */

/* A bit of struct fdw_detector.fd_events. */
#define FDW_LEAK_FDEV(kind) (1u << (kind))

struct fdw_detector {
	const char *name;
	void (*on_proc_new)(struct fdw_leaks *l, struct leak_proc *st, uint64_t now);
	void (*on_fd_event)(struct fdw_leaks *l, struct fdw_proc *p, const struct fdw_event *ev,
			    fdw_leak_fdev_kind kind, int fd, const struct fdw_slot *slot);
	/* the kinds on_fd_event wants, FDW_LEAK_FDEV(kind) bits: every event
	 * of the host goes through here, the others are not even called */
	unsigned int fd_events;
	void (*on_tick)(struct fdw_leaks *l, struct fdw_proc *p, struct leak_proc *st,
			const struct fdw_table *t, uint64_t now, double now_real);
	void (*on_proc_exit)(struct fdw_leaks *l, struct leak_proc *st);
};

extern const struct fdw_detector leak_growth_detector;	   /* growth.c */
extern const struct fdw_detector leak_exhaustion_detector; /* exhaustion.c */
extern const struct fdw_detector leak_limits_detector;	   /* limits.c */
extern const struct fdw_detector leak_exec_detector;	   /* exec_leak.c */
extern const struct fdw_detector leak_stacks_detector;	   /* stacks.c */
extern const struct fdw_detector leak_races_detector;	   /* races.c */

#define LEAK_DETECTORS_MAX 12

/* The detectors' shared state (leaks.c). */
struct fdw_leaks {
	/* exec_leak.c's looks at exec_leak_shells for one exec record (its
	 * seq: the list cannot change within it): its fds' creators' commands
	 * and executables are a few names, which alternate fd by fd, each
	 * judged once rather than once per fd (exec_shell_listed) */
	struct leak_shell_name {
		uint64_t seq; /* the exec record it was judged for */
		char name[16];
		bool hit;     /* in exec_leak_shells */
	} shells[LEAK_SHELL_NAMES];
	unsigned int shells_next; /* the one to replace */
	struct fdw_leak_config cfg;
	struct fdw_model *m;
	struct fdw_alerts *alerts;
	struct fdw_capture *capture;
	struct fdw_leak_ops ops;
	struct fdw_hashmap stacks; /* stack id+1 -> struct leak_stack (stacks.c) */
	struct fdw_leak_stats stats;
	uint64_t race_waits; /* findings waiting for a pre-close, all processes */
	/* processes with findings state by owner (races.c): uid -> count,
	 * for owners other than system accounts only, and their sum */
	struct fdw_hashmap race_owners;
	uint64_t race_users;
	const struct fdw_detector *det[LEAK_DETECTORS_MAX];
	unsigned int ndet;
	int obs_idx;		   /* the model's observer index (at merge) */
	double started_real;	   /* first tick */
	uint64_t last_mono;	   /* last tick */
	double last_real;
	/* the pipe rule's view of the exec being applied (exec_leak.c), NULL
	 * between execs */
	struct leak_exec_pipes *exec_pipes;
};

/* Add a detector after the built-in ones (tests add fakes). 0 or -ENOSPC. */
int fdw_leaks_add_detector(struct fdw_leaks *l, const struct fdw_detector *d);

/* A process's state, or NULL (leaks.c). */
struct leak_proc *leak_proc_find(struct fdw_leaks *l, const struct fdw_proc *p);
/* The last (up to) k one-second samples of the fd count, oldest first
 * (growth.c); k <= FDW_LEAK_FINE. Returns how many. */
unsigned int leak_series_last(const struct fdw_leak_series *s, unsigned int k, uint32_t *out);
/* The same, created when missing; NULL when refused (max_procs) or the
 * process is gone. */
struct leak_proc *leak_proc_get(struct fdw_leaks *l, struct fdw_proc *p, uint64_t now);

/* The process's owner (fdw_leak_ops.read_owner; FDW_OWNER_UNKNOWN when it
 * cannot be read), read once per program it runs. */
uint32_t leak_owner(struct fdw_leaks *l, struct leak_proc *st);

/* ---- the alert lifecycle (leaks.c) --------------------------------------- */

/* The alert firing, or NULL (forgetting one resolved meanwhile). */
struct fdw_alert *leak_alert_current(struct fdw_leaks *l, struct leak_alert *la);
/* The condition still holds: mark the alert seen now. */
void leak_alert_seen(struct fdw_alert *a, double now_real);
/* The alert firing, seen now, when its evidence is younger than
 * evidence_refresh (update its figures only); NULL: build the evidence and
 * call leak_alert_fire(). */
struct fdw_alert *leak_alert_fresh(struct fdw_leaks *l, struct leak_alert *la, uint64_t now,
				   double now_real);
/* Fire, or refresh with new evidence (stolen). The alert or NULL (refused). */
struct fdw_alert *leak_alert_fire(struct fdw_leaks *l, struct leak_alert *la,
				  enum fdw_alert_kind kind, const struct fdw_proc *p,
				  const struct leak_proc *st, uint64_t now, double now_real,
				  const char *summary, json_t *evidence);
/* Resolve the firing alert with a reason, and forget it. */
void leak_alert_resolve(struct fdw_leaks *l, struct leak_alert *la, double now_real,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Take over the alert of `kind` that fires for this process from before a
 * restart; NULL when none. */
struct fdw_alert *leak_alert_adopt(struct fdw_leaks *l, struct leak_alert *la,
				   enum fdw_alert_kind kind, const struct leak_proc *st);

/* ---- shared between detectors ------------------------------------------------ */

/* Capture user stacks of the process, or stop (stacks.c). */
void leak_watch(struct fdw_leaks *l, struct leak_proc *st, bool on);
/* Forget the process's symbolizer (a new program runs). */
void leak_symbols_forget(struct leak_proc *st);
/* The stack (id+1) of an open fd, 0 when none; fdw_leak_stack_fn on a leak_proc. */
uint32_t leak_stack_of_fd(void *st, int fd, const struct fdw_slot *s);
/* The frames of a stack as a JSON array of names (symbolized on first use),
 * NULL when the stack is not kept. */
json_t *leak_stack_frames(struct fdw_leaks *l, struct leak_proc *st, uint32_t id);
/* Free every stack left (fdw_leaks_free). */
void leak_stacks_free(struct fdw_leaks *l);
/* Forget the pipe rule's view of the last exec (exec_leak.c). */
void leak_exec_pipes_free(struct fdw_leaks *l);

/* "sites" and "sites_dropped" of evidence `ev` from table `t` (sites.c);
 * `top`: a one-line description of the top site, "" when none. */
void leak_evidence_sites(struct fdw_leaks *l, struct leak_proc *st, const struct fdw_table *t,
			 uint64_t since, uint64_t now, json_t *ev, char *top, size_t toplen);
