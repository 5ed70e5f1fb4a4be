/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the server's files share and nobody else sees (libuv's
 * src/unix/internal.h habit; the srv_ prefix marks it):
 *
 *   http.c    connections: accept, parse the request head, write buffers,
 *             timeouts, responses, closing
 *   routes.c  what a request asks: the /v1 routes and GET /metrics
 *   follow.c  follow streams (events and alerts) and their one fan-out
 *   listen.c  the socket file and the listeners; start, stop, free
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <http_parser.h>
#include <jansson.h>
#include <uv.h>

#include "server/server.h"

/* 16 digits: microseconds on an epoch timestamp, no 0.1 -> 0.10000000000000001 */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(16))
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
	C_RESPONDING, /* one response queued; linger when written */
	C_LINGER,     /* response sent, write side shut: drop input until EOF */
	C_FOLLOWING,  /* chunked NDJSON stream */
	C_CLOSING,
};

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
	unsigned int open_handles; /* conn, timer: freed when both closed */
	size_t head_len;
	char *url;
	size_t url_len, url_cap;
	bool head_done;
	bool metrics;  /* from the metrics listener: GET /metrics only */
	bool rejected; /* over its bound: its request gets a 503 */
	/* follow streams (follow.c) */
	enum follow_kind follow; /* counted in nfollowers unless FOLLOW_NONE */
	bool live;		 /* past the backlog: fed by the fan-out */
	uint32_t follow_pid;	 /* 0: every process */
	uint64_t next_seq;	 /* events: the first one not sent yet */
	/* peer credentials at connect time, for per-request authorization */
	uid_t uid;
	gid_t gid;
	pid_t peer_pid;
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
	unsigned int nclients;	/* served (not rejected) unix connections */
	unsigned int nmclients; /* served (not rejected) metrics connections */
	unsigned int nfollowers;
	unsigned int nrejecting;
	uint64_t dropped_clients;
	uint64_t dropped_mclients;
	uint64_t dropped_followers;
	unsigned int handles; /* listeners + clients not yet closed */
	char rbuf[READ_BUF];  /* every read lands here and is handled at once */
};

/* listen.c: a handle of the server's closed (frees the server after
 * fdw_server_free() once none is left). */
void srv_put(struct fdw_server *s);

/* http.c */
void srv_on_connection(uv_stream_t *listener, int status);
void srv_client_close(struct client *c);
/* Queue `b` (the write takes a reference). 0 or a libuv error. */
int srv_client_write(struct client *c, struct wbuf *b);
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
