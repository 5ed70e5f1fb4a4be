/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the server's files share and nobody else sees (libuv's
 * src/unix/internal.h habit; the srv_ prefix marks it):
 *
 *   http.c    connections: accept, parse the request head, write buffers,
 *             timeouts, responses, closing
 *   routes.c  what a request asks: the /v1 routes and GET /metrics
 *   follow.c  follow streams (events and alerts) and their one fan-out
 *   stream.c  chunked answers (events, processes, a process's fds), a
 *             chunk per completed write
 *   pool.c    a work item of the server's in libuv's thread pool, with the
 *             clients waiting for it (refresh.c's and access.c's)
 *   refresh.c a table's names read in libuv's thread pool before its answer
 *   access.c  who sees what; owners read in the pool before an answer
 *   listen.c  the socket file and the listeners; start, stop, free
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <http_parser.h>
#include <jansson.h>
#include <uv.h>

#include "base/hashmap.h"
#include "server/render.h"
#include "server/server.h"

/* 16 digits: microseconds on an epoch timestamp, no 0.1 -> 0.10000000000000001 */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(FDW_RENDER_REAL_PRECISION))
#define READ_BUF (64 * 1024)

/* ---- shared, refcounted write buffers ----------------------------------- */

struct wbuf {
	unsigned int refs;
	size_t len;
	char data[];
};

/* Room for `cap` bytes, one reference, len 0. NULL when out of memory. */
struct wbuf *srv_wbuf_new(size_t cap);
void srv_wbuf_unref(struct wbuf *b);

/* ---- connections -------------------------------------------------------- */

enum client_state {
	C_READING,    /* waiting for the request head */
	C_RESPONDING, /* one response queued (or streamed); linger when written */
	C_LINGER,     /* response sent, write side shut: drop input until EOF */
	C_FOLLOWING,  /* chunked NDJSON stream */
	C_CLOSING,
};

/* The connection slot a client holds (counted in the server while held). */
enum client_slot {
	SLOT_NONE,
	SLOT_API,     /* one of max_clients */
	SLOT_METRICS, /* one of the metrics listener's */
	SLOT_REFUSED, /* being refused: its request gets a 503 */
	SLOT_LINGER,  /* answered: only waiting for the hang-up */
};

/* Why a connection is refused (SLOT_REFUSED). */
enum srv_admit {
	SRV_ADMIT,	/* a slot is free for it */
	SRV_FULL,	/* every slot it may use is taken */
	SRV_UID_SHARE,	/* its uid holds its share already */
	SRV_PEER_SHARE, /* its process holds its share already */
};

/* Slots held now, in all and by the uid and the process asking. */
struct srv_held {
	unsigned int total, uid, peer;
};

/*
 * May a connection of `uid` take one of `max` API slots, given what is
 * held? Every process (root's too) and every uid but root holds at most
 * srv_share(max) slots; the last srv_root_reserve(max) slots are root's
 * alone, so that `fdwatch status` as root gets through whatever other
 * users hold. Pure (the unit test calls it).
 */
enum srv_admit srv_slot_admit(uint64_t max, const struct srv_held *held, uid_t uid);
unsigned int srv_share(uint64_t max);
unsigned int srv_root_reserve(uint64_t max);

/*
 * Verify runs (check.h: FDW_VERIFY_RUNS_MAX at once, then the checker says
 * -EBUSY). The last SRV_VERIFY_RESERVE of them are kept for privileged
 * clients (root, the socket group), and one unprivileged uid runs at most
 * SRV_VERIFY_PER_UID at once, so that one user's checks of its own big
 * process never leave root without a slot. `running`: runs in flight;
 * `uid_runs`: those of the asking client's uid (unprivileged clients').
 * Pure (the unit test calls it).
 */
#define SRV_VERIFY_RESERVE 1
#define SRV_VERIFY_PER_UID 1
enum srv_verify_admit {
	SRV_VERIFY_ADMIT,
	SRV_VERIFY_FULL,	/* every run is taken (the checker's refusal) */
	SRV_VERIFY_UID_SHARE,	/* its uid runs SRV_VERIFY_PER_UID already */
	SRV_VERIFY_USERS_SHARE, /* only the privileged clients' reserve is left */
};
enum srv_verify_admit srv_verify_admit(unsigned int running, unsigned int uid_runs,
				       bool privileged);

enum stream_kind {
	STREAM_EVENTS, /* GET /v1/events */
	STREAM_FDS,    /* GET /v1/processes/PID/fds */
	STREAM_PROCS,  /* GET /v1/processes */
	STREAM_ALERTS, /* GET /v1/leaks (without a live process's sites) */
	STREAM_RACES,  /* GET /v1/races */
};

struct srv_job;

/* What a request reads the owners of (access.c, srv_owners_then). */
enum srv_owners_for {
	SRV_OWNERS_PROCS,  /* every process the model has */
	SRV_OWNERS_EVENTS, /* the pids of the history's events (of owners_pid, 0: all) */
};
struct fdw_verify_run;

/* A namespace, as stat(2) of /proc/PID/ns/NAME tells it apart (access.c).
 * A client must share SRV_NS_N with the daemon: its pid and user ones. */
struct srv_ns {
	dev_t dev;
	ino_t ino;
};
#define SRV_NS_N 2

enum follow_kind {
	FOLLOW_NONE,
	FOLLOW_EVENTS, /* /v1/events?follow=1: history entries */
	FOLLOW_ALERTS, /* /v1/leaks?follow=1: alerts fired and resolved */
};

struct client {
	struct client *prev, *next;
	struct fdw_server *srv;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_pipe_t pipe; /* the unix socket */
		uv_tcp_t tcp;	/* the metrics listener */
	} conn;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	http_parser parser;
	enum client_state state;
	enum client_slot slot;
	enum srv_admit refused;	   /* SLOT_REFUSED: why */
	unsigned int open_handles; /* conn, timer: freed when both closed */
	size_t head_len;
	char *url;
	size_t url_len, url_cap;
	bool head_done;
	bool metrics; /* from the metrics listener: GET /metrics only */
	/* a chunked answer being produced (stream.c): history entries with
	 * next_seq <= seq < end_seq of follow_pid (0: all); a process's fds
	 * from fd number stream_pos on; the processes from stream_pids[stream_pos]
	 * on. Numbers, never pointers into the model: it changes between chunks */
	bool streaming;
	bool stream_comma; /* an element was sent: the next one needs a ',' */
	enum stream_kind stream_kind;
	uint64_t end_seq;
	uint32_t stream_pid;   /* STREAM_FDS: whose table; STREAM_ALERTS, _RACES:
				* whose alerts (0: all) */
	uint64_t stream_pos;   /* STREAM_FDS: next fd number; STREAM_PROCS: index;
				* STREAM_ALERTS, _RACES: the last alert id looked at */
	uint32_t *stream_pids; /* STREAM_PROCS: the pids at the request, ascending */
	size_t stream_npids;
	/* the item in the thread pool it waits for (pool.c): names
	 * (refresh.c) or owners (access.c), one at most (one request a
	 * connection, and a waiter's c->job is NULL again before it is
	 * woken); detached (its slot among the item's waiters cleared) when
	 * the client closes first */
	struct srv_job *job;
	void (*refresh_then)(struct client *c, uint32_t pid); /* when the names are in */
	void (*owners_then)(struct client *c); /* when the owners are in */
	enum srv_owners_for owners_for;
	bool owners_joined;	/* waits for another client's item, then looks again */
	uint32_t owners_pid;	/* SRV_OWNERS_EVENTS: whose (0: all); the events' pid */
	uint64_t owners_limit;	/* ... and how many (GET /v1/events) */
	struct fdw_verify_run *verify; /* a check this client waits for */
	uint32_t verify_pid;
	uint64_t verify_seq;	/* the first event after the request (routes.c verify_done) */
	/* waiting for its turn to produce more output (http.c's pump queue) */
	bool pump_queued;
	struct client *pump_prev, *pump_next;
	/* follow streams (follow.c) */
	enum follow_kind follow; /* counted in nfollowers unless FOLLOW_NONE */
	bool live;		 /* past the backlog: fed by the fan-out */
	uint32_t follow_pid;	 /* 0: every process */
	uint64_t next_seq;	 /* events: the first one not sent yet */
	/* peer credentials at connect time, for per-request authorization */
	uid_t uid;
	gid_t gid;
	pid_t peer_pid;
	/* root or group fdwatch: sees every process (access.c) */
	bool privileged;
	/* in another pid or user namespace than the daemon's, or one that
	 * could not be told (srv_peer_ns()): every request is refused (403) */
	bool other_pidns;
};

struct fdw_server {
	struct fdw_server_deps deps;
	struct fdw_server_opts opts;
	uv_loop_t *loop;
	uv_pipe_t listener;
	bool stopping; /* fdw_server_stop() was called */
	bool freeing;  /* fdw_server_free() was called: the last close frees */
	char *path;
	dev_t sock_dev;
	ino_t sock_ino;
	uv_tcp_t mlistener; /* opts.metrics_listen */
	bool has_mlistener;
	unsigned int mport; /* bound port (for port 0) */
	struct client *clients;
	/* clients whose write completed and that have more to produce: served
	 * a few per turn of the loop, first come first served */
	uv_idle_t pumper;
	struct client *pump_head, *pump_tail;
	unsigned int nclients;	/* SLOT_API held */
	unsigned int nmclients; /* SLOT_METRICS held */
	unsigned int nfollowers;
	unsigned int nrejecting; /* SLOT_REFUSED */
	unsigned int nlinger;	 /* SLOT_LINGER */
	uint64_t dropped_clients;
	uint64_t dropped_share; /* of dropped_clients: over a uid's or process's share */
	uint64_t dropped_mclients;
	uint64_t dropped_pidns; /* connections from another pid or user namespace (403) */
	uint64_t dropped_followers;
	uint64_t verify_share;	  /* verify requests refused by srv_verify_admit's shares */
	uint64_t verify_unlogged; /* ... and not logged yet (a line a minute at most) */
	uint64_t verify_logged_ns; /* CLOCK_MONOTONIC of the last such line */
	uint64_t slow_readers;
	uint64_t request_timeouts;
	unsigned int refreshing;  /* names being read in the pool (refresh.c) */
	struct srv_job *refreshes; /* ... those reads */
	uint64_t refresh_skipped; /* answers sent without that read (a bound) */
	unsigned int owners_reading;	/* owner items in the pool (access.c) */
	struct srv_job *owners_jobs;	/* ... those items */
	uint64_t owners_skipped;	/* requests that read owners inline (a bound) */
	struct fdw_hashmap sites_budget; /* uid -> struct srv_sites_budget (routes.c) */
	uint64_t sites_refused;		 /* leak-site answers refused: a uid's budget */
	uint64_t owners_losses;		/* fdw_server_records_lost() calls */
	/* tests: these credentials instead of SO_PEERCRED (test_http.c) */
	bool fake_cred;
	uid_t fake_uid;
	gid_t fake_gid;
	pid_t fake_pid;
	bool fake_other_pidns; /* the fake client is in another pid or user namespace */
	/* access control (access.c) */
	bool has_group;	 /* opts.socket_group exists */
	gid_t group;	 /* its gid */
	bool has_ns;	 /* the daemon's namespaces (/proc/self/ns/) are known: */
	struct srv_ns ns[SRV_NS_N]; /* ... its pid and user namespaces */
	struct fdw_hashmap owners; /* pid -> struct owner */
	uint64_t owners_floor;	   /* entries read from /proc hold from this seq */
	uint64_t last_seq;	   /* the newest event seen */
	uint64_t owners_pruned_ns;
	bool owners_learnt;	   /* every process's owner read once (access.c) */
	size_t owners_learn_it;	   /* where that walk of the model's processes is */
	uint64_t owners_evicted;
	uint64_t owners_refused;
	unsigned int handles; /* listeners + clients not yet closed */
	char rbuf[READ_BUF];  /* every read lands here and is handled at once */
};

/* listen.c: a handle of the server's closed (frees the server after
 * fdw_server_free() once none is left). */
void srv_put(struct fdw_server *s);

/* http.c */
void srv_on_connection(uv_stream_t *listener, int status);
/* The pump queue's handle (listen.c inits and closes it). */
void srv_on_pump(uv_idle_t *h);
/* `c` has more to send (a streamed answer, a follower's backlog): its turn
 * comes on a later turn of the loop. */
void srv_pump_enqueue(struct client *c);
void srv_client_close(struct client *c);
/* Queue `b` (the write takes a reference). 0 or a libuv error. */
int srv_client_write(struct client *c, struct wbuf *b);
/* (Re)start the timer for output the client has to take (progress). */
void srv_client_write_timer(struct client *c);
/* The client did not take its output: count it and close. */
void srv_client_drop_slow(struct client *c, const char *why);
/* Answers; each closes the connection once written (Connection: close).
 * Extra headers, each ending in \r\n, in `headers`. */
void srv_respond_bytes(struct client *c, int status, const char *ctype, const char *body,
		       size_t blen, bool nl, const char *headers);
/* JSON value `body` (stolen; NULL: out of memory, a 500). */
void srv_respond(struct client *c, int status, json_t *body, const char *headers);
/* JSON text `text` (taken and freed; NULL: out of memory, a 500). */
void srv_respond_text(struct client *c, int status, char *text, const char *headers);
/* {"error": ...} (plain text on the metrics listener). */
void srv_respond_error(struct client *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* routes.c: a complete request head with this path and query. */
void srv_route(struct client *c, const char *path, size_t plen, const char *query, size_t qlen);

/* follow.c */
/* Start a follow stream of events from the `limit`-th newest one of `pid`
 * (0: every process), then live. */
void srv_follow_events(struct client *c, uint32_t pid, uint64_t limit);
/* The current and recent alerts of `pid` (0: all), then each fire and
 * resolve as it happens. */
void srv_follow_alerts(struct client *c, uint32_t pid);
/* A write completed on a follower still sending its backlog: send more. */
void srv_follow_pump(struct client *c);
/* Index of the oldest history entry with seq >= `seq` (h->len if none). */
uint64_t srv_history_find(const struct fdw_history *h, uint64_t seq);

/* access.c: who may see what (the one test every route applies) */
/* getgrnam of the socket group into s->group, s->has_group: 1 found, 0 not,
 * -errno. May block on NSS: at start and reload only. */
int srv_access_resolve(struct fdw_server *s);
/* The daemon's pid and user namespaces into s->ns: 0, -errno. At start. */
int srv_access_ns_self(struct fdw_server *s);
/* Is the peer of socket `fd` (-1: none) with SO_PEERCRED pid `pid` in the
 * daemon's pid and user namespaces? 1 yes, 0 no, -errno unknown (refuse
 * it). Reads /proc/PID/ns/{pid,user}: at accept only. */
int srv_peer_ns(const struct fdw_server *s, int fd, pid_t pid);
/* c->privileged from its credentials (read already) and, for supplementary
 * groups, its socket `fd` (-1: none). */
void srv_access_classify(struct client *c, uv_os_fd_t fd);
/* Every history entry the server sees (before any filter): keeps the
 * owners' cache in step with forks and execs. No syscall. */
void srv_access_note_event(struct fdw_server *s, const struct fdw_history_entry *e);
/* Read the owner of `pid` now and hold it as its owner all along (a
 * process there when the daemon became ready). No-op when known. */
void srv_access_learn(struct fdw_server *s, uint32_t pid);
/* The owner of `pid` at event `seq` (UINT64_MAX: now); FDW_OWNER_UNKNOWN
 * (sys/pidinfo.h) when unknown. *gid (NULL: not wanted): the gid a client
 * of that uid needs too, FDW_OWNER_GID_ANY for any. May read
 * /proc/PID/status once. */
uint32_t srv_owner_of(struct fdw_server *s, uint32_t pid, uint64_t seq, uint32_t *gid);
/* May `c` see what a process of `uid` and `gid` (srv_owner_of) owns? */
bool srv_client_sees_owner(const struct client *c, uint32_t uid, uint32_t gid);
/* May `c` see process `pid` (at event `seq`; UINT64_MAX: as it is now)?
 * Every route that names a process or shows its data asks this. */
bool srv_client_sees_pid(struct client *c, uint32_t pid, uint64_t seq);
/* May `c` see origin `o` (who made or closed an fd) of process `pid`? Not
 * when it is an event of another identity's (a root program opened it,
 * then dropped to the client's uid and exec'd: GET /v1/events hides that
 * open), judged at its seq for its own pid (the process's when none). An
 * origin with no event (found in /proc; NULL) is seen when `seqless_seen`
 * (an open fd's: it names no one), else judged as of the start of what is
 * known of the process (an earlier generation: its file is not /proc's). */
bool srv_client_sees_origin(struct client *c, uint32_t pid, const struct fdw_origin *o,
			    bool seqless_seen);

/* ---- alert_view.c: the alert store as a client sees it ---------------------- */

/* Alert `alert` (fdw_alert_json) as `c` may see it: a new reference to it,
 * or to a copy with the race evidence `c` may not see hidden. NULL when
 * out of memory (or alert NULL). */
json_t *srv_alert_view(struct client *c, json_t *alert);
/* The next alert of the store after id *after that `c` may see (of `pid`
 * alone when not 0, of the race kinds alone when `races`), as
 * srv_alert_view() has it; *after moves to the last alert looked at. NULL
 * when none is left, or out of memory (then *oom). */
json_t *srv_alerts_next(struct client *c, uint64_t *after, uint32_t pid, bool races, bool *oom);
/* The leak sites of `doc` ({"sites": [...]}, detect/sites.c) of process
 * `pid` as `c` may see them, hidden in place. 0 or -ENOMEM. */
int srv_sites_view(struct client *c, json_t *doc, uint32_t pid);
void srv_access_free(struct fdw_server *s);
/* May `c` have leak sites grouped on the loop now (access.c: an
 * unprivileged uid's share of the loop's time)? false: refused, counted. */
bool srv_sites_admit(struct client *c, uint64_t now);
/* `ns` of the loop spent on c's leak sites, taken from its uid's share. */
void srv_sites_charge(struct client *c, uint64_t ns, uint64_t now);
/* Read the owners that c's request (c->owners_for) will need from /proc in
 * libuv's thread pool, take them into the cache on the loop, then
 * then(c) answers. At once for a privileged client or when few are to be
 * read; past a bound (items in flight, pids an item) the rest are read
 * inline by srv_owner_of() as before (counted). */
void srv_owners_then(struct client *c, void (*then)(struct client *c));

/* stream.c */
/* Answer {"events":[...]}: the history from index `from` on (of `pid`,
 * 0: all), in chunks, one chunk per completed write. */
void srv_stream_events(struct client *c, uint64_t from, uint32_t pid);
/* Answer {"pid",...,"fds":[...]}: process `pid`'s open fds by number, in
 * chunks; each chunk as the model is when it is rendered. */
void srv_stream_fds(struct client *c, uint32_t pid);
/* Answer {"processes":[...]}: those the client sees, by pid, in chunks. */
void srv_stream_processes(struct client *c);
/* GET /v1/leaks ({"alerts":[...]}) or, with `races`, GET /v1/races
 * ({"races":[...]}): the alert store's alerts the client may see (of `pid`
 * alone when not 0), a few per chunk, in id order. */
void srv_stream_alerts(struct client *c, uint32_t pid, bool races);
/* A write of a streamed answer completed: the next chunk or the end. */
void srv_stream_pump(struct client *c);
/* The client is closing: free what its answer held. */
void srv_stream_free(struct client *c);

/* refresh.c: the names of process `pid`'s fds read in libuv's thread pool
 * (the BPF iterator pass), applied on the loop, then then(c, pid) answers
 * (its fds streamed, its leak sites). Falls back to answering at once
 * (names as the model has them) when the
 * model has no thread-safe reader, the table is over the bound or too many
 * reads are in flight (counted). */
void srv_refresh_then(struct client *c, uint32_t pid,
		      void (*then)(struct client *c, uint32_t pid));

/* pool.c: a work item of the server's in libuv's thread pool, with the
 * clients waiting for it. A kind embeds struct srv_job first in its own
 * struct and says what is done with it: */
struct srv_job_ops {
	/* in a thread of the pool: nothing of the loop's is touched */
	void (*work)(struct srv_job *j);
	/* on the loop when the pool hands it back (status 0, or UV_ECANCELED
	 * when the server stopped first), before the waiters are woken */
	void (*done)(struct srv_job *j, int status);
	/* on the loop: a waiter that is still there and still to be answered
	 * (C_RESPONDING, not streaming); its c->job is NULL again */
	void (*wake)(struct srv_job *j, struct client *c);
	/* what the item holds besides itself (NULL: nothing) */
	void (*release)(struct srv_job *j);
};

struct srv_job {
	uv_work_t req;
	struct fdw_server *s;
	const struct srv_job_ops *ops;
	struct srv_job *next;	 /* in the server's list of its kind in flight */
	struct srv_job **list;	 /* ... that list */
	unsigned int *inflight;	 /* ... and its count */
	struct client **waiters; /* NULL: that client closed */
	size_t nwaiters, waiters_cap;
};

/* A zeroed item of `size` bytes (struct srv_job first) for `s`, done as
 * `ops` says. NULL when out of memory. */
void *srv_job_new(struct fdw_server *s, const struct srv_job_ops *ops, size_t size);
/* An item not queued (or not queued yet), or one handed back: its own
 * parts (ops->release), its waiters, itself. NULL-safe. */
void srv_job_free(struct srv_job *j);
/* `c` waits for `j` too (c->job; the write timer bounds the wait). false
 * when out of memory. */
bool srv_job_wait(struct srv_job *j, struct client *c);
/* Does a client wait for `j` still? */
bool srv_job_waited(const struct srv_job *j);
/* The client closes: the item it waits for, if any, goes on without it. */
void srv_job_detach(struct client *c);
/* Into the pool: in `list` (the server's items of its kind in flight) and
 * counted in `*inflight` and the server's handles until it is handed back
 * and freed. 0 or a libuv error (then nothing was done). */
int srv_job_queue(struct srv_job *j, struct srv_job **list, unsigned int *inflight);
/* The server stops: the items of `list` not started yet are not started
 * (one under way finishes; the loop runs until it has). */
void srv_jobs_cancel(struct srv_job *list);
