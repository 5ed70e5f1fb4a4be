// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * GET /v1/races, GET /v1/leaks (chunked, a few alerts a chunk) and the
 * backlog of GET /v1/leaks?follow=1 (a batch per write) while the alert
 * store changes under them: the server on a temporary unix socket over
 * the test fixture, with a store of STORE_MAX alerts, on one thread (the
 * test turns the loop between reads, and changes the store between two
 * chunks). Checked: the JSON is whole for 0, 16, 17 and many alerts; an
 * alert evicted or fired between two chunks (the store's array shifts)
 * neither makes another one skipped nor sent twice; a follower sees each
 * alert of its backlog once, in id order, and a change of an alert during
 * the backlog once, never an older state after a newer one; an
 * unprivileged client sees its own alerts alone, on every path.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "check.h"
#include "server/internal.h" /* fake peer credentials */
#include "server_fixture.h"
#include "sys/pidinfo.h"

#define TIMEOUT_MS 5000
#define STORE_MAX 256 /* a user's share: 64 firing */
#define USER_UID 1000

static uv_loop_t loop;
static struct fx F;
static struct fdw_server *S;
static char sock_path[108];
static uint32_t next_pid = 10000;

/* ---- the store ---------------------------------------------------------- */

/* as fdwatchd's on_alert_change: fires and resolves to the followers */
static void on_change(void *u, const struct fdw_alert *a, bool updated)
{
	if (!updated)
		fdw_server_publish_alert(S, a);
}

static struct fdw_alert *fire(uint32_t uid)
{
	struct fdw_alert_proc p = { .pid = next_pid++, .start_ticks = 1, .comm = "racer",
				    .uid = uid, .gid = FDW_OWNER_GID_ANY };
	struct fdw_alert *a = fdw_alerts_fire(&F.alerts, FDW_ALERT_DOUBLE_CLOSE, &p, 1.0,
					      "a double close",
					      json_pack("{s:s}", "pad", "0123456789abcdef"));

	CHECK(a != NULL);
	return a;
}

static void store_reset(void)
{
	fdw_alerts_free(&F.alerts);
	CHECK_EQ(fdw_alerts_init(&F.alerts, STORE_MAX, NULL), 0);
	F.alerts.on_change = on_change;
}

/* ---- a client ------------------------------------------------------------ */

static int connect_as(bool user)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint64_t end = fdw_now_mono() + 5000000;

	S->fake_cred = user;
	S->fake_uid = USER_UID;
	S->fake_gid = USER_UID;
	S->fake_pid = getpid();
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	while (fdw_now_mono() < end) /* accepted with those credentials */
		(void)uv_run(&loop, UV_RUN_NOWAIT);
	S->fake_cred = false;
	return fd;
}

/* What `fd` has now, appended; false at EOF. */
static bool drain(int fd, char *buf, size_t *len, size_t cap)
{
	for (;;) {
		ssize_t n = recv(fd, buf + *len, cap - 1 - *len, MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		if (n == 0 || *len + (size_t)n == cap - 1)
			return false;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
}

static char buf[4 << 20];

/*
 * GET `target` as root or the user; `between` is called once when the head
 * and the first chunk are in. The answer's array (`key`), and its chunks
 * in *nchunks.
 */
static json_t *get_alerts(const char *target, const char *key, bool user, void (*between)(void),
			  int *nchunks)
{
	uint64_t end = fdw_now_mono() + (uint64_t)TIMEOUT_MS * 1000000;
	int fd = connect_as(user);
	bool open = true, called = !between;
	size_t len = 0;
	char req[256], *body;
	json_t *doc, *arr;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
	CHECK_EQ(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	buf[0] = '\0';
	while (open && fdw_now_mono() < end) {
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		open = drain(fd, buf, &len, sizeof(buf));
		if (!called && strstr(buf, "\r\n\r\n")) {
			between();
			called = true;
		}
	}
	CHECK(!open);
	(void)close(fd);
	body = strstr(buf, "\r\n\r\n");
	CHECK(body && strstr(buf, "Transfer-Encoding: chunked"));
	if (!body)
		return json_array();
	*nchunks = dechunk(body + 4);
	CHECK(*nchunks >= 1);
	doc = json_loads(body + 4, 0, NULL);
	if (!doc)
		fprintf(stderr, "not JSON: %.300s\n", body + 4);
	CHECK(doc != NULL);
	arr = json_incref(json_object_get(doc, key));
	json_decref(doc);
	CHECK(json_is_array(arr));
	return arr ? arr : json_array();
}

/* The ids of `arr`, strictly ascending (else a CHECK fails); their count. */
static size_t ids_of(json_t *arr, uint64_t *ids, size_t cap)
{
	size_t i, n = json_array_size(arr);

	for (i = 0; i < n && i < cap; i++) {
		ids[i] = (uint64_t)json_integer_value(json_object_get(json_array_get(arr, i), "id"));
		if (i && ids[i] <= ids[i - 1]) {
			fprintf(stderr, "id %llu after %llu\n", (unsigned long long)ids[i],
				(unsigned long long)ids[i - 1]);
			CHECK(!"ids ascending, each once");
		}
	}
	return n;
}

/* ---- the cases -------------------------------------------------------------- */

/* 0, 1, 16, 17, 33 alerts: whole JSON, every one, in order. */
static void test_sizes(void)
{
	static const unsigned int sizes[] = { 0, 1, 16, 17, 33 };
	uint64_t ids[STORE_MAX];

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		int chunks = 0;
		json_t *a;

		store_reset();
		for (unsigned int i = 0; i < sizes[k]; i++)
			(void)fire(0);
		a = get_alerts("/v1/races", "races", false, NULL, &chunks);
		CHECK_EQ(ids_of(a, ids, STORE_MAX), sizes[k]);
		json_decref(a);
		a = get_alerts("/v1/leaks", "alerts", false, NULL, &chunks);
		CHECK_EQ(ids_of(a, ids, STORE_MAX), sizes[k]);
		json_decref(a);
		/* the user has none of them: an empty array, still whole */
		a = get_alerts("/v1/races", "races", true, NULL, &chunks);
		CHECK_EQ(json_array_size(a), 0);
		json_decref(a);
	}
}

/* Between the first and the second chunk, the store is full: five new
 * alerts evict the five oldest (resolved, sent already) and the array
 * shifts by five under the answer's cursor. */
static void evict_five(void)
{
	for (unsigned int i = 0; i < 5; i++)
		(void)fire(0);
}

static void test_store_shifts(void)
{
	uint64_t ids[2 * STORE_MAX];
	int chunks = 0;
	json_t *a;
	size_t n;

	store_reset();
	for (unsigned int i = 0; i < STORE_MAX; i++)
		(void)fire(0);
	for (unsigned int i = 0; i < 5; i++)
		fdw_alerts_resolve(&F.alerts, F.alerts.v[i], 2.0, "gone");
	a = get_alerts("/v1/races", "races", false, evict_five, &chunks);
	n = ids_of(a, ids, 2 * STORE_MAX);
	json_decref(a);
	CHECK(chunks > 2);
	/* ids 1..STORE_MAX sent as they were, and the five new ones: each once */
	CHECK_EQ(n, STORE_MAX + 5);
	CHECK_EQ(ids[0], 1);
	CHECK_EQ(ids[n - 1], STORE_MAX + 5);
	CHECK_EQ(F.alerts.n, STORE_MAX);
}

/* The user's alerts alone (every third alert is the user's), on every path. */
static void test_user_view(void)
{
	uint64_t ids[STORE_MAX];
	unsigned int mine = 0;
	int chunks = 0;
	json_t *a;
	size_t n;
	char target[64];

	store_reset();
	for (unsigned int i = 0; i < 48; i++)
		mine += fire(i % 3 ? 0 : USER_UID)->uid == USER_UID;
	a = get_alerts("/v1/races", "races", true, NULL, &chunks);
	n = ids_of(a, ids, STORE_MAX);
	CHECK_EQ(n, mine);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(json_integer_value(json_object_get(json_array_get(a, i), "uid")), USER_UID);
	json_decref(a);
	a = get_alerts("/v1/leaks", "alerts", true, NULL, &chunks);
	CHECK_EQ(json_array_size(a), mine);
	json_decref(a);
	/* ?pid= of root's process (not live: the alerts alone): none */
	snprintf(target, sizeof(target), "/v1/races?pid=%u", F.alerts.v[1]->pid);
	a = get_alerts(target, "races", true, NULL, &chunks);
	CHECK_EQ(json_array_size(a), 0);
	json_decref(a);
	snprintf(target, sizeof(target), "/v1/leaks?pid=%u", F.alerts.v[1]->pid);
	a = get_alerts(target, "alerts", true, NULL, &chunks);
	CHECK_EQ(json_array_size(a), 0);
	json_decref(a);
	snprintf(target, sizeof(target), "/v1/leaks?pid=%u", F.alerts.v[0]->pid);
	a = get_alerts(target, "alerts", true, NULL, &chunks);
	CHECK_EQ(json_array_size(a), 1);
	json_decref(a);
	/* root: all */
	a = get_alerts("/v1/races", "races", false, NULL, &chunks);
	CHECK_EQ(json_array_size(a), 48);
	json_decref(a);
}

/*
 * The follow stream's backlog while the store changes: after its first
 * batch, an alert sent already resolves, one still to come resolves, a
 * new one fires, and five are evicted (the array shifts). Every alert is
 * in the stream once, in id order, but the one sent already, whose resolve
 * follows; none firing after it was seen resolved. The user's follower
 * sees its own alone.
 */
static void test_follow_backlog(bool user)
{
	uint64_t end = fdw_now_mono() + (uint64_t)TIMEOUT_MS * 1000000;
	static char seen_state[4 * STORE_MAX];
	unsigned int lines = 0, alerts = 0, stale = 0, foreign = 0, mine = 0, late = 0;
	uint64_t last = 0, sent_id = 0, later_id = 0;
	bool changed = false;
	size_t len = 0;
	int fd;
	char *p;

	store_reset();
	for (unsigned int i = 0; i < STORE_MAX; i++)
		mine += fire(user && i % 5 == 1 ? USER_UID : 0)->uid == USER_UID || !user;
	fd = connect_as(user);
	CHECK_EQ(write(fd, "GET /v1/leaks?follow=1 HTTP/1.1\r\n\r\n", 35), 35);
	buf[0] = '\0';
	while (fdw_now_mono() < end) {
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		(void)drain(fd, buf, &len, sizeof(buf));
		if (!changed && strstr(buf, "\r\n\r\n") && strstr(buf, "\"id\":")) {
			/* the first batch is in: the store changes */
			struct fdw_alert *sent = F.alerts.v[1];
			struct fdw_alert *later = F.alerts.v[STORE_MAX - 5];

			sent_id = sent->id;
			later_id = later->id;
			fdw_alerts_resolve(&F.alerts, sent, 3.0, "sent already");
			fdw_alerts_resolve(&F.alerts, later, 3.0, "still to come");
			for (unsigned int i = 0; i < 5; i++) /* resolved, then evicted */
				fdw_alerts_resolve(&F.alerts, F.alerts.v[2 + 2 * i], 3.0, "x");
			for (unsigned int i = 0; i < 5; i++)
				mine += fire(user ? USER_UID : 0) != NULL;
			changed = true;
		}
		(void)poll(NULL, 0, 1);
		if (changed && fdw_now_mono() + 3000ull * 1000000 > end)
			break; /* two seconds after the start: all in */
	}
	(void)close(fd);
	for (unsigned int t = 0; t < 20; t++)
		(void)uv_run(&loop, UV_RUN_NOWAIT);
	CHECK(changed);
	memset(seen_state, 0, sizeof(seen_state));
	for (p = strstr(buf, "\n{"); p; p = strstr(p + 1, "\n{")) {
		json_t *a = json_loads(p + 1, JSON_DISABLE_EOF_CHECK, NULL);
		uint64_t id = (uint64_t)json_integer_value(json_object_get(a, "id"));
		const char *st = json_string_value(json_object_get(a, "state"));
		bool resolved = st && !strcmp(st, "resolved");

		CHECK(a != NULL && id > 0 && id < sizeof(seen_state));
		if (!a || !id || id >= sizeof(seen_state))
			break;
		lines++;
		if (user && json_integer_value(json_object_get(a, "uid")) != USER_UID)
			foreign++;
		/* firing twice or after resolved, resolved twice */
		if ((seen_state[id] && !resolved) || seen_state[id] == 2)
			stale++;
		if (!seen_state[id]) {
			alerts++;
			if (id < last)
				late++;
			else
				last = id;
		}
		seen_state[id] = resolved ? 2 : 1;
		json_decref(a);
	}
	fprintf(stderr, "follow (%s): %u lines, %u alerts of %u, out of order %u, stale %u, "
		"foreign %u\n", user ? "user" : "root", lines, alerts, mine, late, stale, foreign);
	CHECK_EQ(foreign, 0);
	CHECK_EQ(stale, 0);
	CHECK_EQ(late, 0);
	CHECK_EQ(alerts, mine);
	CHECK_EQ(seen_state[sent_id], 2);  /* its resolve came */
	CHECK_EQ(seen_state[later_id], 2); /* sent as it was then */
}

/* ---- the server's life ---------------------------------------------------- */

static int setup(void)
{
	CHECK_EQ(uv_loop_init(&loop), 0);
	if (fx_init(&F, NULL, 64) < 0)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "/tmp/fdwatch-test-http-alerts.%d.sock",
		 getpid());
	F.opts.socket_path = sock_path;
	CHECK_EQ(fdw_server_start(&S, &loop, &F.opts, &F.deps), 0);
	return S ? 0 : -1;
}

static void teardown(void)
{
	fdw_server_stop(S);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	fdw_server_free(S);
	fx_free(&F);
	CHECK_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (setup() == 0) {
		test_sizes();
		test_store_shifts();
		test_user_view();
		test_follow_backlog(false);
		test_follow_backlog(true);
	}
	teardown();
	return check_summary();
}
