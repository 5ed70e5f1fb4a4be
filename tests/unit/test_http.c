// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The HTTP request path without BPF: the server on a temporary unix socket
 * (and the metrics listener on 127.0.0.1:0), on a uv loop, over a small
 * hand-built model (this process, read from /proc, and a few history
 * entries). A plain socket sends requests; the test turns the loop between
 * reads, so everything runs on one thread. The server runs with short
 * timeouts (HEADER_MS, WRITE_MS) so that the timeout cases take a second.
 * At the end the loop closes with no live handle and no fd is left open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "base/clock.h"
#include "check.h"
#include "server/internal.h" /* fake peer credentials, the slot rules */
#include "server_fixture.h"

#define TIMEOUT_MS 5000
#define MAX_CLIENTS 16 /* a share of 4 per uid and process, 2 for root alone */
#define HEADER_MS 1000
#define WRITE_MS 1000

static uv_loop_t loop;
static struct fx F;
static struct fdw_server *S;
static char sock_path[108];

/* ---- a client ----------------------------------------------------------- */

static int connect_unix(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		(void)close(fd);
		fd = -1;
	}
	CHECK(fd >= 0);
	return fd;
}

static int connect_metrics(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)fdw_server_metrics_port(S));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		(void)close(fd);
		fd = -1;
	}
	CHECK(fd >= 0);
	return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n <= 0) {
			CHECK(!"write");
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

/* Turn the loop for about `ms` milliseconds. */
static void spin(int ms)
{
	uint64_t end = fdw_now_mono() + (uint64_t)ms * 1000000;

	while (fdw_now_mono() < end) {
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		(void)poll(NULL, 0, 1);
	}
}

/*
 * Read what the server sends, turning the loop meanwhile, until EOF (or
 * until `until` appears, when not NULL). The text is NUL-terminated in buf.
 * true when EOF (or `until`) came before the timeout.
 */
static bool read_reply(int fd, char *buf, size_t cap, const char *until)
{
	uint64_t end = fdw_now_mono() + (uint64_t)TIMEOUT_MS * 1000000;
	size_t len = 0;

	buf[0] = '\0';
	while (fdw_now_mono() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		(void)uv_run(&loop, UV_RUN_NOWAIT);
		if (poll(&p, 1, 1) <= 0)
			continue;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return true; /* EOF, or a reset: the server hung up */
		len += (size_t)n;
		buf[len] = '\0';
		if (until && strstr(buf, until))
			return true;
		if (len == cap - 1)
			return false;
	}
	return false;
}

struct reply {
	int status;
	char head[2048];
	const char *body;
	char raw[256 * 1024];
};

/* One request on a new connection; the whole reply up to EOF (a chunked
 * body joined). */
static void exchange(int fd, const char *req, struct reply *r)
{
	char *sep;

	memset(r, 0, sizeof(*r));
	send_all(fd, req, strlen(req));
	CHECK(read_reply(fd, r->raw, sizeof(r->raw), NULL));
	(void)close(fd);
	if (sscanf(r->raw, "HTTP/1.1 %d ", &r->status) != 1)
		r->status = -1;
	sep = strstr(r->raw, "\r\n\r\n");
	if (sep) {
		snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - r->raw), r->raw);
		r->body = sep + 4;
		if (strstr(r->head, "\r\nTransfer-Encoding: chunked"))
			CHECK(dechunk(sep + 4) >= 1);
	} else {
		r->body = "";
	}
}

static void get(const char *target, struct reply *r)
{
	char req[512];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: fdwatch\r\n\r\n", target);
	exchange(connect_unix(), req, r);
}

static json_t *body_json(const struct reply *r)
{
	json_t *j = json_loads(r->body, 0, NULL);

	CHECK(j != NULL);
	return j;
}

static void check_error(const char *target, int status, const char *msg)
{
	static struct reply r;
	json_t *j;

	get(target, &r);
	CHECK_EQ(r.status, status);
	j = body_json(&r);
	CHECK_STR(json_string_value(json_object_get(j, "error")), msg);
	json_decref(j);
}

static unsigned int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	unsigned int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* ---- the cases ----------------------------------------------------------- */

static void test_status(void)
{
	static struct reply r;
	json_t *j;

	get("/v1/status", &r);
	CHECK_EQ(r.status, 200);
	CHECK(strstr(r.head, "\r\nContent-Type: application/json\r\n") != NULL);
	CHECK(strstr(r.head, "\r\nConnection: close") != NULL);
	j = body_json(&r);
	CHECK(json_is_true(json_object_get(j, "ready")));
	CHECK_EQ(json_integer_value(json_object_get(j, "processes")),
		 fdw_hashmap_size(&F.model.procs));
	CHECK_EQ(json_integer_value(json_object_get(j, "fds")), F.model.stats.fds);
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(j, "history"), "size")), 3);
	json_decref(j);
}

static void test_routes(void)
{
	static struct reply r;
	char target[64];
	json_t *j;

	snprintf(target, sizeof(target), "/v1/processes/%d/fds", getpid());
	get(target, &r);
	CHECK_EQ(r.status, 200);
	j = body_json(&r);
	CHECK_EQ(json_integer_value(json_object_get(j, "pid")), getpid());
	CHECK(json_array_size(json_object_get(j, "fds")) > 0);
	json_decref(j);

	get("/v1/events?limit=2", &r);
	CHECK_EQ(r.status, 200);
	j = body_json(&r);
	CHECK_EQ(json_array_size(json_object_get(j, "events")), 2);
	CHECK_EQ(json_integer_value(json_object_get(json_array_get(json_object_get(j, "events"), 1),
						    "seq")), 3);
	json_decref(j);
	get("/v1/events?pid=4242", &r);
	j = body_json(&r);
	CHECK_EQ(json_array_size(json_object_get(j, "events")), 1);
	json_decref(j);

	check_error("/nope", 404, "no such path");
	check_error("/v1/processes/1", 404, "no such path");
	check_error("/v1/processes/999999999/fds", 404, "no such process: 999999999");
}

static void test_queries(void)
{
	check_error("/v1/events?pid=abc", 400, "bad pid");
	check_error("/v1/events?pid=0", 400, "bad pid");
	check_error("/v1/events?pid=99999999999", 400, "bad pid");
	check_error("/v1/events?limit=-1", 400, "bad limit");
	check_error("/v1/events?follow=maybe", 400, "bad follow (1 or 0)");
	/* checked in order: pid, limit, follow */
	check_error("/v1/events?follow=x&limit=y", 400, "bad limit");
	check_error("/v1/leaks?pid=1x", 400, "bad pid");
	check_error("/v1/verify?pid=", 400, "bad pid");
	check_error("/v1/processes/12ab/fds", 400, "bad pid");
	check_error("/v1/processes/1/fds/x", 400, "bad fd number");
}

static void test_bad_requests(void)
{
	static struct reply r;
	char *big;

	/* a method other than GET */
	exchange(connect_unix(), "POST /v1/status HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK_EQ(r.status, 405);
	CHECK(strstr(r.head, "\r\nAllow: GET") != NULL);

	/* a request line that is not HTTP */
	exchange(connect_unix(), "HELLO THERE\r\n\r\n", &r);
	CHECK_EQ(r.status, 400);
	CHECK(strstr(r.body, "malformed request") != NULL);

	/* a target http_parser takes but the URL parser does not */
	exchange(connect_unix(), "GET http://[::1 HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ(r.status, 400);

	/* a head over 16 KiB: 413 (Content Too Large), whatever follows */
	big = malloc(20000 + 64);
	if (big) {
		int n = sprintf(big, "GET /v1/status HTTP/1.1\r\nX-Big: ");

		memset(big + n, 'a', 20000);
		big[n + 20000] = '\0';
		exchange(connect_unix(), big, &r);
		CHECK_EQ(r.status, 413);
		CHECK(strstr(r.body, "request head larger than 16384 bytes") != NULL);
		free(big);
	}
}

/* One request per connection: the answer says Connection: close, a second
 * request on the same connection (pipelined, or after the answer) is not
 * answered, and the server hangs up. */
static void test_one_request_per_connection(void)
{
	static struct reply r;
	int fd;

	exchange(connect_unix(),
		 "GET /v1/status HTTP/1.1\r\nHost: a\r\n\r\n"
		 "GET /v1/processes HTTP/1.1\r\nHost: a\r\n\r\n", &r);
	CHECK_EQ(r.status, 200);
	CHECK(strstr(r.head, "\r\nConnection: close") != NULL);
	CHECK(strstr(r.body, "HTTP/1.1") == NULL); /* one response only */

	fd = connect_unix();
	send_all(fd, "GET /v1/status HTTP/1.1\r\n\r\n", 27);
	CHECK(read_reply(fd, r.raw, sizeof(r.raw), "\"alerts\""));
	CHECK(strncmp(r.raw, "HTTP/1.1 200 ", 13) == 0);
	(void)write(fd, "GET /v1/status HTTP/1.1\r\n\r\n", 27); /* may fail: shut down */
	CHECK(read_reply(fd, r.raw, sizeof(r.raw), NULL));
	CHECK(strstr(r.raw, "HTTP/1.1") == NULL); /* EOF, no second answer */
	(void)close(fd);
}

/* Clients that go away mid-request or before reading the answer. */
static void test_disconnects(void)
{
	struct fdw_server_counters sc;
	static struct reply r;
	int fd;

	fd = connect_unix();
	send_all(fd, "GET /v1/sta", 11);
	spin(20);
	(void)close(fd);
	fd = connect_unix();
	send_all(fd, "GET /v1/processes HTTP/1.1\r\n\r\n", 30);
	(void)close(fd); /* the answer's write meets a closed socket */
	fd = connect_unix();
	(void)close(fd); /* nothing at all */
	spin(50);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.clients, 0);
	get("/v1/status", &r);
	CHECK_EQ(r.status, 200);
}

static void test_not_ready(void)
{
	static struct reply r;

	F.ready = false;
	check_error("/v1/processes", 503, "daemon not ready");
	check_error("/nope", 503, "daemon not ready");
	get("/v1/status", &r);
	CHECK_EQ(r.status, 200);
	F.ready = true;
}

/* The slot rules alone, for the default 64: 16 per uid and process, 8
 * for root alone. */
static void test_slot_rules(void)
{
	CHECK_EQ(srv_share(64), 16);
	CHECK_EQ(srv_root_reserve(64), 8);
	CHECK_EQ(srv_slot_admit(64, &(struct srv_held){ 0, 0, 0 }, 1000), SRV_ADMIT);
	CHECK_EQ(srv_slot_admit(64, &(struct srv_held){ 20, 15, 15 }, 1000), SRV_ADMIT);
	CHECK_EQ(srv_slot_admit(64, &(struct srv_held){ 20, 16, 3 }, 1000), SRV_UID_SHARE);
	CHECK_EQ(srv_slot_admit(64, &(struct srv_held){ 20, 16, 3 }, 0), SRV_ADMIT);
	CHECK_EQ(srv_slot_admit(64, &(struct srv_held){ 20, 16, 16 }, 0), SRV_PEER_SHARE);
	/* the reserve: 56 for everybody, the last 8 for root */
	CHECK_EQ(srv_slot_admit(64, &(struct srv_held){ 56, 0, 0 }, 1000), SRV_FULL);
	CHECK_EQ(srv_slot_admit(64, &(struct srv_held){ 56, 0, 0 }, 0), SRV_ADMIT);
	CHECK_EQ(srv_slot_admit(64, &(struct srv_held){ 64, 0, 0 }, 0), SRV_FULL);
	/* small limits still leave one slot to anybody */
	CHECK_EQ(srv_slot_admit(1, &(struct srv_held){ 0, 0, 0 }, 1000), SRV_ADMIT);
	CHECK_EQ(srv_slot_admit(3, &(struct srv_held){ 1, 1, 1 }, 1000), SRV_UID_SHARE);
	CHECK_EQ(srv_slot_admit(3, &(struct srv_held){ 2, 0, 0 }, 1000), SRV_FULL);
}

/* Connect with these credentials (the server reads them at accept). */
static int connect_as(uid_t uid, pid_t pid)
{
	int fd;

	S->fake_cred = true;
	S->fake_uid = uid;
	S->fake_pid = pid;
	fd = connect_unix();
	spin(5);
	S->fake_cred = false;
	return fd;
}

static void check_refused(int fd, const char *msg)
{
	static struct reply r;

	exchange(fd, "GET /v1/status HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ(r.status, 503);
	if (!strstr(r.body, msg))
		fprintf(stderr, "503 body: %s (expected %s)\n", r.body, msg);
	CHECK(strstr(r.body, msg) != NULL);
}

/* A fake client in another pid namespace, root's too, is answered 403 at
 * every request, as it was at accept (the flag is read then, not per
 * request); one in ours is served. */
static void test_other_pidns(void)
{
	static struct reply r;
	const char *const targets[] = { "/v1/status", "/v1/processes", "/v1/events", "/nope" };
	struct fdw_server_counters k0, k1;
	char req[128];
	int fd;

	fdw_server_counters(S, &k0);

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		for (uid_t uid = 0; uid <= 1000; uid += 1000) {
			S->fake_other_pidns = true;
			fd = connect_as(uid, 7000 + (int)i);
			S->fake_other_pidns = false; /* after the accept: no matter */
			snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", targets[i]);
			exchange(fd, req, &r);
			CHECK_EQ(r.status, 403);
			CHECK(strstr(r.body, "another pid or user namespace") != NULL);
		}
	}
	/* POST too: the namespace is judged before anything else */
	S->fake_other_pidns = true;
	fd = connect_as(0, 7100);
	S->fake_other_pidns = false;
	exchange(fd, "POST /v1/status HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
	CHECK_EQ(r.status, 403);
	/* counted, once per connection (status dropped.clients_pidns) */
	fdw_server_counters(S, &k1);
	CHECK_EQ(k1.dropped_pidns - k0.dropped_pidns, 9);
	/* the same credentials in our namespace, and a real client, are served */
	exchange(connect_as(0, 7101), "GET /v1/status HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ(r.status, 200);
	get("/v1/status", &r);
	CHECK_EQ(r.status, 200);
	fdw_server_counters(S, &k0);
	CHECK_EQ(k0.dropped_pidns, k1.dropped_pidns);
	CHECK(r.body && strstr(r.body, "\"clients_pidns\":") != NULL);
}

/*
 * A root in another pid namespace (a container's, sharing the host's user
 * namespace) is no root for the slots either: it holds a uid's share at
 * most and none of root's reserve, so that it cannot lock the host's root
 * out with connections that are only ever answered 403.
 */
static void test_other_pidns_slots(void)
{
	struct fdw_server_counters sc;
	static struct reply r;
	int hold[MAX_CLIENTS], n = 0;

	S->fake_other_pidns = true;
	for (int i = 0; i < MAX_CLIENTS; i++)
		hold[n++] = connect_as(0, 7200 + i);
	S->fake_other_pidns = false;
	spin(20);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.clients, 4); /* a uid's share of 16 */
	/* the host's root gets in */
	exchange(connect_as(0, 7300), "GET /v1/status HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ(r.status, 200);
	while (n)
		(void)close(hold[--n]);
	spin(20);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.clients, 0);
}

/*
 * srv_peer_ns() on real peers: a child that connects from this pid
 * namespace, one from a new pid namespace (as root, else in a new user
 * namespace too), one that exited before the accept, one in a new user
 * namespace alone (newns 3), and the pids alone.
 */
static int peer_child(const char *path, int newns)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	pid_t pid = fork();
	int fd, st;
	char b;

	if (pid != 0)
		return pid;
	if (newns == 3) {
		/* a user namespace alone: the same pid namespace */
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(2);
	} else if (newns && unshare(CLONE_NEWPID) < 0 &&
		   unshare(CLONE_NEWUSER | CLONE_NEWPID) < 0) {
		_exit(2);
	}
	/* in a new pid namespace, only a child is in it */
	pid = newns && newns != 3 ? fork() : 0;
	if (pid < 0)
		_exit(3);
	if (pid > 0)
		_exit(waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : 4);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		_exit(5);
	if (newns == 2)
		_exit(0); /* gone before the accept */
	(void)read(fd, &b, 1); /* alive until the test is done with it */
	_exit(0);
}

static int peer_check(int listener, pid_t child, bool reap_first)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, st, r;

	if (reap_first)
		CHECK_EQ(waitpid(child, &st, 0), child);
	fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	CHECK(fd >= 0);
	if (fd < 0)
		return -EBADF;
	CHECK_EQ(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len), 0);
	r = srv_peer_ns(S, fd, cred.pid);
	(void)close(fd);
	if (!reap_first) {
		CHECK_EQ(waitpid(child, &st, 0), child);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	return r;
}

static void test_peer_pidns(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int listener, sp[2];

	snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/fdwatch-test-http.%d/ns.sock", getpid());
	listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(listener >= 0);
	CHECK_EQ(bind(listener, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ(listen(listener, 4), 0);

	CHECK_EQ(peer_check(listener, peer_child(a.sun_path, 0), false), 1);
	CHECK_EQ(peer_check(listener, peer_child(a.sun_path, 1), false), 0);
	CHECK(peer_check(listener, peer_child(a.sun_path, 2), true) < 0);
	CHECK_EQ(peer_check(listener, peer_child(a.sun_path, 3), false), 0); /* userns */

	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	CHECK_EQ(srv_peer_ns(S, sp[0], getpid()), 1);
	(void)close(sp[0]);
	(void)close(sp[1]);
	CHECK_EQ(srv_peer_ns(S, -1, getpid()), 1);
	CHECK_EQ(srv_peer_ns(S, -1, 0), 0); /* the kernel could not name it */
	(void)close(listener);
	(void)unlink(a.sun_path);
}

/* Over a share or max_clients: the request is read and answered 503, and
 * counted. One process (this test) holds at most its share; one uid too;
 * the last slots are root's. */
static void test_shares(void)
{
	struct fdw_server_counters sc;
	static struct reply r;
	int hold[MAX_CLIENTS], n = 0;
	char msg[128];

	/* this process, with its real credentials: 4 of 16 */
	for (int i = 0; i < 4; i++)
		hold[n++] = connect_unix();
	spin(20);
	/* root is bound by its process's share, other users by their uid's first */
	if (getuid() == 0)
		snprintf(msg, sizeof(msg), "too many connections from pid %d (4 of 16)", getpid());
	else
		snprintf(msg, sizeof(msg), "too many connections from uid %u (4 of 16)", getuid());
	check_refused(connect_unix(), msg);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.dropped_clients, 1);
	CHECK_EQ(sc.dropped_share, 1);
	while (n)
		(void)close(hold[--n]);
	spin(20);

	/* uid 1000 from four processes, then a fifth */
	for (int i = 0; i < 4; i++)
		hold[n++] = connect_as(1000, 100 + i);
	check_refused(connect_as(1000, 200), "too many connections from uid 1000 (4 of 16)");
	/* other users up to 14 of 16: the last two are root's */
	for (int i = 0; i < 10; i++)
		hold[n++] = connect_as(1001 + i / 4, 300 + i);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.clients, 14);
	check_refused(connect_as(2000, 400), "too many clients (14)");
	exchange(connect_as(0, 500), "GET /v1/status HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ(r.status, 200);
	/* root fills its reserve; then nobody */
	hold[n++] = connect_as(0, 501);
	hold[n++] = connect_as(0, 502);
	check_refused(connect_as(0, 503), "too many clients (16)");
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.dropped_clients, 4);
	CHECK_EQ(sc.dropped_share, 2);
	while (n)
		(void)close(hold[--n]);
	spin(20);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.clients, 0);
}

/* An empty request line or an HTTP/0.9 one: 400 at once, not after the
 * header timeout. */
static void test_bad_request_lines(void)
{
	static const char *const lines[] = { "\r\n\r\n", "\n", "GET /\r\n",
					     "GET / HTTP/0.9\r\n\r\n" };
	static struct reply r;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		uint64_t t0 = fdw_now_mono();

		exchange(connect_unix(), lines[i], &r);
		CHECK_EQ(r.status, 400);
		CHECK(strstr(r.body, "malformed request") != NULL);
		CHECK(fdw_now_mono() - t0 < (uint64_t)HEADER_MS / 2 * 1000000);
	}
	/* a version http_parser reads but nobody speaks: 505; 1.0 is fine */
	exchange(connect_unix(), "GET /v1/status HTTP/9.9\r\n\r\n", &r);
	CHECK_EQ(r.status, 505);
	CHECK(strstr(r.body, "HTTP/9.9 is not supported") != NULL);
	exchange(connect_unix(), "GET /v1/status HTTP/1.0\r\n\r\n", &r);
	CHECK_EQ(r.status, 200);
}

/* No whole request head within the header timeout: closed and counted. */
static void test_header_timeout(void)
{
	struct fdw_server_counters sc, sc0;
	static struct reply r;
	uint64_t t0, ms;
	int fd;

	fdw_server_counters(S, &sc0);
	fd = connect_unix();
	t0 = fdw_now_mono();
	send_all(fd, "GET /v1/sta", 11);
	CHECK(read_reply(fd, r.raw, sizeof(r.raw), NULL));
	ms = (fdw_now_mono() - t0) / 1000000;
	(void)close(fd);
	CHECK(ms >= HEADER_MS - 100 && ms < HEADER_MS + 1000);
	CHECK_EQ(r.raw[0], '\0'); /* no answer: it asked nothing */
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.request_timeouts, sc0.request_timeouts + 1);
	CHECK_EQ(sc.clients, 0);
}

/* Both kinds of follow stream, fed by the one fan-out. */
static void test_follow(void)
{
	struct fdw_server_counters sc;
	struct fdw_event ev = { .seq = 4, .ts = 4000, .pid = 4242, .tid = 4242,
				.type = FDW_REC_EXIT, .exit_code = 7 };
	static char buf[64 * 1024];
	int ev_fd, al_fd, other_fd;
	struct fdw_alert *alert;

	ev_fd = connect_unix();
	send_all(ev_fd, "GET /v1/events?follow=1&pid=4242&limit=5 HTTP/1.1\r\n\r\n", 53);
	CHECK(read_reply(ev_fd, buf, sizeof(buf), "\"seq\":2"));
	CHECK(strstr(buf, "Transfer-Encoding: chunked") != NULL);
	al_fd = connect_unix();
	send_all(al_fd, "GET /v1/leaks?follow=1 HTTP/1.1\r\n\r\n", 35);
	CHECK(read_reply(al_fd, buf, sizeof(buf), "\r\n\r\n"));
	other_fd = connect_unix(); /* a follower of another pid */
	send_all(other_fd, "GET /v1/events?follow=1&pid=1 HTTP/1.1\r\n\r\n", 43);
	spin(20);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.followers, 3);

	fdw_server_publish_event(S, fdw_history_push(&F.history, &ev, "worker"));
	CHECK(read_reply(ev_fd, buf, sizeof(buf), "\"exit_code\":7"));
	alert = fdw_alerts_fire(&F.alerts, FDW_ALERT_GROWTH,
				&(struct fdw_alert_proc){ .pid = 4242, .start_ticks = 1,
							  .comm = "worker", .uid = 0,
							  .gid = FDW_OWNER_GID_ANY },
				1.0, "fd growth", NULL);
	CHECK(alert != NULL);
	fdw_server_publish_alert(S, alert);
	CHECK(read_reply(al_fd, buf, sizeof(buf), "\"kind\":\"fd-growth\""));
	/* the other follower got neither: only its response head */
	spin(20);
	{
		ssize_t n = recv(other_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		buf[n > 0 ? n : 0] = '\0';
		CHECK(strstr(buf, "HTTP/1.1 200 OK") != NULL);
		CHECK(strstr(buf, "\"seq\"") == NULL && strstr(buf, "fd-growth") == NULL);
	}

	(void)close(ev_fd);
	(void)close(al_fd);
	(void)close(other_fd);
	spin(20);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.followers, 0);
	fdw_alerts_free(&F.alerts); /* the store empty again for the others */
	CHECK_EQ(fdw_alerts_init(&F.alerts, 16, NULL), 0);
}

/* Fill the history with `n` more events (seq from 100 on). */
static void history_fill(unsigned int n)
{
	struct fdw_event ev = { .type = FDW_REC_EXIT, .pid = 4343, .tid = 4343 };

	for (unsigned int i = 0; i < n; i++) {
		ev.seq = 100 + i;
		ev.ts = ev.seq * 1000;
		ev.exit_code = (int)i;
		(void)fdw_history_push(&F.history, &ev, "filler");
	}
}

/* Append what `fd` has to *buf (of *len, capacity cap) without waiting.
 * false at EOF or error. */
static bool drain_fd(int fd, char *buf, size_t *len, size_t cap)
{
	for (;;) {
		ssize_t n = recv(fd, buf + *len, cap - 1 - *len, MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK;
		if (n == 0)
			return false;
		*len += (size_t)n;
		buf[*len] = '\0';
		if (*len == cap - 1)
			return false;
	}
}

/*
 * A large answer is chunked, one chunk per turn of the loop: a second
 * client asking meanwhile gets its whole answer while the first is still
 * being produced; the first arrives whole, in order, in many chunks.
 */
static void test_chunked_answer(void)
{
	static const char req[] = "GET /v1/events?limit=100000 HTTP/1.1\r\n\r\n";
	size_t cap = 8u << 20, alen = 0, blen = 0, alen_at_b = 0;
	char *a = malloc(cap), *b = malloc(cap), *body;
	uint64_t end = fdw_now_mono() + (uint64_t)TIMEOUT_MS * 1000000;
	bool a_open = true, b_open = true, b_sent = false;
	int afd, bfd = -1, chunks;
	json_t *j, *events;

	if (!a || !b) {
		CHECK(!"out of memory");
		free(a);
		free(b);
		return;
	}
	a[0] = b[0] = '\0';
	afd = connect_unix();
	send_all(afd, req, sizeof(req) - 1);
	while ((a_open || b_open) && fdw_now_mono() < end) {
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		if (a_open)
			a_open = drain_fd(afd, a, &alen, cap);
		if (!b_sent && strstr(a, "\r\n\r\n")) {
			/* the first chunk is out: the second client asks */
			bfd = connect_unix();
			send_all(bfd, "GET /v1/status HTTP/1.1\r\n\r\n", 27);
			b_sent = true;
		}
		if (b_sent && b_open) {
			b_open = drain_fd(bfd, b, &blen, cap);
			if (!b_open)
				alen_at_b = alen;
		}
	}
	CHECK(!a_open && !b_open);
	CHECK(strncmp(b, "HTTP/1.1 200 ", 13) == 0);
	/* the status came while the events were still on their way */
	if (!(alen_at_b > 0 && alen_at_b < alen / 2))
		fprintf(stderr, "status answered after %zu of %zu bytes\n", alen_at_b, alen);
	CHECK(alen_at_b > 0 && alen_at_b < alen / 2);
	CHECK(strstr(a, "\r\nTransfer-Encoding: chunked\r\n") != NULL);
	CHECK(strstr(a, "\r\nContent-Length") == NULL);
	body = strstr(a, "\r\n\r\n");
	chunks = body ? dechunk(body + 4) : -1;
	CHECK(chunks > 10);
	j = body ? json_loads(body + 4, 0, NULL) : NULL;
	CHECK(j != NULL);
	events = json_object_get(j, "events");
	CHECK_EQ(json_array_size(events), F.history.len);
	for (size_t i = 1; i < json_array_size(events); i++)
		if (json_integer_value(json_object_get(json_array_get(events, i), "seq")) <=
		    json_integer_value(json_object_get(json_array_get(events, i - 1), "seq"))) {
			CHECK(!"events in order");
			break;
		}
	json_decref(j);

	/* with a pid: only its events, still whole */
	{
		static struct reply r;

		get("/v1/events?pid=4242&limit=100000", &r);
		j = body_json(&r);
		CHECK_EQ(json_array_size(json_object_get(j, "events")), 2); /* seq 2 and 4 */
		json_decref(j);
		get("/v1/events?limit=0", &r);
		CHECK_STR(r.body, "{\"events\":[]}\n");
	}
	(void)close(afd);
	(void)close(bfd);
	free(a);
	free(b);
}

/* Send `req` and read the answer, turning the loop, until EOF; `between`
 * is called once, when the head and the first chunk are in (the answer is
 * under way). The raw answer in buf (NUL-terminated). */
static size_t read_stream(const char *req, char *buf, size_t cap, void (*between)(void))
{
	uint64_t end = fdw_now_mono() + (uint64_t)TIMEOUT_MS * 1000000;
	int fd = connect_unix();
	bool open = true, called = !between;
	size_t len = 0;

	buf[0] = '\0';
	send_all(fd, req, strlen(req));
	while (open && fdw_now_mono() < end) {
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		open = drain_fd(fd, buf, &len, cap);
		if (!called && strstr(buf, "\r\n\r\n") && len < 64 * 1024) {
			between();
			called = true;
		}
	}
	CHECK(!open);
	CHECK(called);
	(void)close(fd);
	return len;
}

enum { TABLE_FDS = 2000, TABLE_CLOSED = 100 };
static int table_fds[TABLE_FDS];
static int table_closed[TABLE_CLOSED];
static uint32_t table_child;
static uint64_t table_cursor;	 /* the answer's cursor when the table changed */
static json_t *table_after;	 /* the model's fds above it then */

/* Between chunks: the last TABLE_CLOSED fds (not sent yet) close. */
static void close_high_fds(void)
{
	struct fdw_proc *p = fdw_model_proc(&F.model, (uint32_t)getpid());
	const struct fdw_table *t;

	for (struct client *c = S->clients; c; c = c->next)
		if (c->streaming && c->stream_kind == STREAM_FDS)
			table_cursor = c->stream_pos;
	for (int i = 0; i < TABLE_CLOSED; i++) {
		table_closed[i] = table_fds[TABLE_FDS - TABLE_CLOSED + i];
		(void)close(table_closed[i]);
		table_fds[TABLE_FDS - TABLE_CLOSED + i] = -1;
	}
	CHECK_EQ(fdw_model_resync_proc(&F.model, p), 0);
	t = fdw_model_proc_table(&F.model, p);
	table_after = json_array();
	for (uint32_t fd = (uint32_t)table_cursor; t && fd < t->nslots; fd++)
		if (fdw_slot_open(fdw_table_slot(t, (int)fd)))
			(void)json_array_append_new(table_after, json_integer(fd));
}

/* Between chunks: the process leaves the model (it exited). */
static void drop_child(void)
{
	struct fdw_proc *p = fdw_model_proc(&F.model, table_child);

	CHECK(p != NULL);
	if (p)
		fdw_model_drop_proc(&F.model, p);
}

/*
 * The fds of a 2,000-fd table and the processes come chunked, walked by a
 * cursor (an fd number, an index into the pids): fds closed between chunks
 * are not in the answer, which stays valid JSON, in fd order; a process
 * that leaves the model mid-answer ends it with "complete": false.
 */
static void test_chunked_tables(void)
{
	size_t cap = 4u << 20, len;
	char *buf = malloc(cap), *body, req[128];
	uint32_t self = (uint32_t)getpid();
	struct fdw_proc *p = fdw_model_proc(&F.model, self);
	int chunks, fd_max = -1, n0;
	json_t *j, *a;
	pid_t child;

	if (!buf || !p) {
		CHECK(!"out of memory, or this process not in the model");
		free(buf);
		return;
	}
	for (int i = 0; i < TABLE_FDS; i++) {
		/* each its own inode: the fixture's model groups fds on one
		 * inode pairwise (same_file), which would take seconds here */
		table_fds[i] = memfd_create("fdw-test", MFD_CLOEXEC);
		CHECK(table_fds[i] >= 0);
		fd_max = table_fds[i] > fd_max ? table_fds[i] : fd_max;
	}
	CHECK_EQ(fdw_model_resync_proc(&F.model, p), 0);
	n0 = (int)fdw_model_proc_table(&F.model, p)->nopen;
	CHECK(n0 >= TABLE_FDS);

	snprintf(req, sizeof(req), "GET /v1/processes/%u/fds HTTP/1.1\r\n\r\n", self);
	len = read_stream(req, buf, cap, close_high_fds);
	CHECK(len > 0 && strstr(buf, "\r\nTransfer-Encoding: chunked\r\n") != NULL);
	body = strstr(buf, "\r\n\r\n");
	chunks = body ? dechunk(body + 4) : -1;
	if (chunks <= 5)
		fprintf(stderr, "fds answer (%zu bytes): %.300s\n", len, buf);
	CHECK(chunks > 5);
	j = body ? json_loads(body + 4, 0, NULL) : NULL;
	CHECK(j != NULL);
	a = json_object_get(j, "fds");
	CHECK_EQ(json_integer_value(json_object_get(j, "pid")), self);
	CHECK(json_object_get(j, "complete") == NULL);
	/* once each, by number; from the cursor on, as the table was after
	 * the change: none of the fds closed meanwhile */
	CHECK(table_cursor > 0 && table_after != NULL);
	{
		size_t k = 0, nafter = json_array_size(table_after);

		for (size_t i = 0; i < json_array_size(a); i++) {
			json_int_t fd = json_integer_value(json_object_get(json_array_get(a, i), "fd"));

			if (i && fd <= json_integer_value(
					      json_object_get(json_array_get(a, i - 1), "fd"))) {
				CHECK(!"fds in order, once each");
				break;
			}
			if ((uint64_t)fd < table_cursor)
				continue;
			if (k >= nafter ||
			    fd != json_integer_value(json_array_get(table_after, k))) {
				CHECK(!"the answer past the cursor is the table after the change");
				break;
			}
			k++;
		}
		CHECK_EQ(k, nafter);
	}
	CHECK(json_array_size(a) > (size_t)(n0 - TABLE_CLOSED - 10));
	json_decref(table_after);
	table_after = NULL;
	json_decref(j);

	/* a sparse table: more than a chunk's scan of closed numbers before
	 * the last fd (an empty chunk would end the answer early) */
	{
		struct rlimit rl;
		int hi = 20000;

		CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= (rlim_t)hi)
			hi = (int)rl.rlim_max - 1;
		if (rl.rlim_cur <= (rlim_t)hi) {
			rl.rlim_cur = (rlim_t)hi + 1;
			CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
		}
		CHECK(hi > TABLE_FDS + 8192 + 512); /* past a chunk's scan */
		CHECK_EQ(dup2(table_fds[0], hi), hi);
		CHECK_EQ(fdw_model_resync_proc(&F.model, p), 0);
		len = read_stream(req, buf, cap, NULL);
		body = strstr(buf, "\r\n\r\n");
		CHECK(body && dechunk(body + 4) >= 1);
		j = body ? json_loads(body + 4, 0, NULL) : NULL;
		CHECK(j != NULL);
		a = json_object_get(j, "fds");
		CHECK_EQ(json_integer_value(json_object_get(
				 json_array_get(a, json_array_size(a) - 1), "fd")),
			 hi);
		json_decref(j);
		(void)close(hi);
		CHECK_EQ(fdw_model_resync_proc(&F.model, p), 0);
	}

	/* a child with the same fds leaves the model mid-answer */
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	CHECK(child > 0);
	table_child = (uint32_t)child;
	CHECK_EQ(fdw_model_add_scanned(&F.model, table_child, self, "child", &table_child, 1, 1),
		 0);
	snprintf(req, sizeof(req), "GET /v1/processes/%u/fds HTTP/1.1\r\n\r\n", table_child);
	len = read_stream(req, buf, cap, drop_child);
	body = strstr(buf, "\r\n\r\n");
	CHECK(body && dechunk(body + 4) >= 1);
	j = body ? json_loads(body + 4, 0, NULL) : NULL;
	CHECK(j != NULL);
	CHECK(json_is_false(json_object_get(j, "complete")));
	a = json_object_get(j, "fds");
	CHECK(json_array_size(a) > 0 && json_array_size(a) < (size_t)(n0 - TABLE_CLOSED));
	json_decref(j);
	(void)kill(child, SIGKILL);
	(void)waitpid(child, NULL, 0);

	/* the processes, chunked too */
	len = read_stream("GET /v1/processes HTTP/1.1\r\n\r\n", buf, cap, NULL);
	CHECK(strstr(buf, "\r\nTransfer-Encoding: chunked\r\n") != NULL);
	body = strstr(buf, "\r\n\r\n");
	CHECK(body && dechunk(body + 4) >= 1);
	j = body ? json_loads(body + 4, 0, NULL) : NULL;
	a = json_object_get(j, "processes");
	CHECK_EQ(json_array_size(a), 1); /* this process alone: the child left */
	CHECK_EQ(json_integer_value(json_object_get(json_array_get(a, 0), "pid")), self);
	json_decref(j);

	for (int i = 0; i < TABLE_FDS; i++)
		if (table_fds[i] >= 0)
			(void)close(table_fds[i]);
	CHECK_EQ(fdw_model_resync_proc(&F.model, p), 0);
	free(buf);
}

/*
 * Clients that stop reading: a large answer holds one chunk queued at most
 * and is dropped after the write timeout; so is a follower replaying the
 * history. Both counted as slow readers (the follower as a dropped
 * follower too).
 */
static void test_slow_readers(void)
{
	struct fdw_server_counters sc0, sc;
	static char buf[64 * 1024];
	uint64_t t0, ms;
	size_t maxq = 0;
	int fd, ffd;
	bool open;

	fdw_server_counters(S, &sc0);
	fd = connect_unix();
	send_all(fd, "GET /v1/events?limit=100000 HTTP/1.1\r\n\r\n", 40);
	ffd = connect_unix();
	send_all(ffd, "GET /v1/events?follow=1&limit=100000 HTTP/1.1\r\n\r\n", 49);
	t0 = fdw_now_mono();
	while (fdw_now_mono() - t0 < (uint64_t)(WRITE_MS + 1500) * 1000000) {
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		(void)poll(NULL, 0, 1);
		for (struct client *c = S->clients; c; c = c->next) {
			size_t q = uv_stream_get_write_queue_size(&c->conn.stream);

			maxq = q > maxq ? q : maxq;
		}
		fdw_server_counters(S, &sc);
		if (sc.slow_readers == sc0.slow_readers + 2)
			break;
	}
	ms = (fdw_now_mono() - t0) / 1000000;
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.slow_readers, sc0.slow_readers + 2);
	CHECK_EQ(sc.dropped_followers, sc0.dropped_followers + 1);
	CHECK(ms >= WRITE_MS - 100);
	CHECK(maxq <= 256 * 1024 + 64 * 1024); /* one chunk or backlog batch over the mark */
	CHECK(S->clients == NULL); /* both closed */
	/* what came is a cut answer: never the last chunk */
	open = true;
	while (open) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		open = n > 0;
		if (n > 0) {
			buf[n] = '\0';
			CHECK(strstr(buf, "\r\n0\r\n\r\n") == NULL);
		}
	}
	(void)close(fd);
	(void)close(ffd);
}

static void test_metrics_listener(void)
{
	static struct reply r;

	CHECK(fdw_server_metrics_port(S) > 0);
	exchange(connect_metrics(), "GET /metrics HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ(r.status, 200);
	CHECK(strstr(r.head, "Content-Type: text/plain; version=0.0.4") != NULL);
	CHECK(strstr(r.body, "\nfdwatch_tracked_processes 1\n") != NULL);
	exchange(connect_metrics(), "GET /v1/status HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ(r.status, 404);
	exchange(connect_metrics(), "PUT /metrics HTTP/1.1\r\n\r\n", &r);
	CHECK_EQ(r.status, 405);
	CHECK(strstr(r.head, "text/plain") != NULL);
}

/* ---- verify slots ----------------------------------------------------------- */

/* A thread pool that runs nothing: a verify run waits in it, holding its
 * slot, until its client goes (then its done frees it). */
struct parked {
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
};
static struct parked parked[16];
static unsigned int nparked;

static int park(void *u, void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
	if (nparked == sizeof(parked) / sizeof(parked[0]))
		return -EAGAIN;
	parked[nparked++] = (struct parked){ work, done, arg };
	return 0;
}

/* Run the parked items now, on this thread, and those they park, until
 * none is left (or `rounds` of them). */
static void run_parked(unsigned int rounds)
{
	while (nparked && rounds--) {
		struct parked p = parked[--nparked];

		p.work(p.arg);
		p.done(p.arg);
		spin(5);
	}
}

#define VERIFY_KIDS 8
static uint32_t verify_kids[VERIFY_KIDS];

/* verify_kids[i] belongs to uid 1000 + i / 2 */
static int kid_owner(void *u, uint32_t pid, uint32_t *uid, uint32_t *gid)
{
	for (unsigned int i = 0; i < VERIFY_KIDS; i++)
		if (verify_kids[i] == pid) {
			*uid = 1000 + i / 2;
			return 0;
		}
	return fdw_pid_owner_read(NULL, pid, uid, gid);
}

/* A verify request sent as `uid`; the connection (its answer not read). */
static int verify_as(uid_t uid, uint32_t pid)
{
	char req[128];
	int fd = connect_as(uid, 5000 + (pid_t)uid);

	if (pid)
		snprintf(req, sizeof(req), "GET /v1/verify?pid=%u HTTP/1.1\r\n\r\n", pid);
	else
		snprintf(req, sizeof(req), "GET /v1/verify HTTP/1.1\r\n\r\n");
	send_all(fd, req, strlen(req));
	spin(30);
	return fd;
}

/* Still waiting for its check: nothing answered yet. */
static bool waiting(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	spin(20);
	return poll(&p, 1, 0) == 0;
}

static void check_verify_refused(int fd, const char *msg)
{
	static struct reply r;

	CHECK(read_reply(fd, r.raw, sizeof(r.raw), NULL));
	if (!strstr(r.raw, "HTTP/1.1 503") || !strstr(r.raw, msg))
		fprintf(stderr, "verify answered: %.300s (expected 503, %s)\n", r.raw, msg);
	CHECK(strstr(r.raw, "HTTP/1.1 503") != NULL);
	CHECK(strstr(r.raw, msg) != NULL);
	(void)close(fd);
}

/*
 * One user's verify runs cannot take every slot: a uid runs one at a time,
 * and the last of the 4 is root's; both refusals say why and are counted.
 */
static void test_verify_shares(void)
{
	uint32_t self = (uint32_t)getpid();
	struct fdw_server_counters sc;
	static struct reply r;
	int held[4], more[3], rootfd, n = 0;
	uint64_t refused0 = F.checker.stats.verify_refused;
	json_t *doc;

	CHECK_EQ(srv_verify_admit(0, 0, false), SRV_VERIFY_ADMIT);
	CHECK_EQ(srv_verify_admit(1, 1, false), SRV_VERIFY_UID_SHARE);
	CHECK_EQ(srv_verify_admit(3, 0, false), SRV_VERIFY_USERS_SHARE);
	CHECK_EQ(srv_verify_admit(3, 0, true), SRV_VERIFY_ADMIT);
	CHECK_EQ(srv_verify_admit(4, 0, true), SRV_VERIFY_FULL);

	for (unsigned int i = 0; i < VERIFY_KIDS; i++) {
		pid_t k = fork();

		if (k == 0) {
			pause();
			_exit(0);
		}
		CHECK(k > 0);
		verify_kids[i] = (uint32_t)k;
		CHECK_EQ(fdw_model_add_scanned(&F.model, verify_kids[i], self, "big",
					       &verify_kids[i], 1, 1), 0);
	}
	F.checker.offload = park;
	S->deps.read_owner = kid_owner;

	/* uid 1000 checks its processes 4 times at once: one runs, the others
	 * are refused, and root's check still gets in */
	held[n++] = verify_as(1000, verify_kids[0]);
	for (int i = 0; i < 3; i++)
		more[i] = verify_as(1000, verify_kids[i % 2]);
	rootfd = verify_as(0, verify_kids[0]);
	CHECK(waiting(held[0]));
	CHECK(waiting(rootfd));
	CHECK_EQ(F.checker.nruns, 2);
	for (int i = 0; i < 3; i++)
		check_verify_refused(more[i], "uid 1000 runs 1 verify already (1 at once per user");
	(void)close(rootfd);
	spin(20);
	CHECK_EQ(F.checker.nruns, 1);
	/* two other users take two more; the fourth is root's */
	held[n++] = verify_as(1001, verify_kids[2]);
	held[n++] = verify_as(1002, verify_kids[4]);
	CHECK(waiting(held[1]) && waiting(held[2]));
	CHECK_EQ(F.checker.nruns, 3);
	check_verify_refused(verify_as(1001, verify_kids[3]), "uid 1001 runs 1 verify");
	/* a user with no run yet: only root's slot is left */
	check_verify_refused(verify_as(1003, verify_kids[6]),
			     "3 verify runs in progress already (the last of 4 is kept for root "
			     "and group");
	CHECK_EQ(F.checker.nruns, 3);
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.verify_share, 5);
	/* root, every process and one */
	held[n++] = verify_as(0, 0);
	CHECK(waiting(held[3]));
	CHECK_EQ(F.checker.nruns, 4);
	check_verify_refused(verify_as(0, verify_kids[0]), "4 verify runs in progress already");
	CHECK_EQ(F.checker.stats.verify_refused, refused0 + 1);
	get("/v1/status", &r);
	doc = body_json(&r);
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(doc, "dropped"),
						    "verify_requests")), (json_int_t)refused0 + 6);
	CHECK_EQ(json_integer_value(json_object_get(json_object_get(doc, "dropped"),
						    "verify_requests_share")), 5);
	json_decref(doc);

	/* the clients go: their runs end, the slots are free again */
	while (n)
		(void)close(held[--n]);
	spin(50);
	CHECK_EQ(F.checker.nruns, 0);
	for (unsigned int i = 0; i < nparked; i++)
		parked[i].done(parked[i].arg);
	nparked = 0;
	F.checker.offload = NULL;
	S->deps.read_owner = NULL;
	for (unsigned int i = 0; i < VERIFY_KIDS; i++) {
		(void)kill((pid_t)verify_kids[i], SIGKILL);
		(void)waitpid((pid_t)verify_kids[i], NULL, 0);
	}
}

/*
 * A user checks its own process, which execs a setuid program while the
 * check waits in the pool: the daemon then reads the root program's fds,
 * and the answer (differences name the kernel's files) is not the user's.
 * It is answered like a process that does not exist; root's check of the
 * same process is answered.
 */
static void test_verify_owner_change(void)
{
	static struct reply r;
	pid_t kid = fork();
	int ufd, rfd;
	struct fdw_event ex = { .type = FDW_REC_EXEC, .flags = FDW_F_OWNER };

	if (kid == 0) {
		pause();
		_exit(0);
	}
	CHECK(kid > 0);
	verify_kids[0] = (uint32_t)kid; /* uid 1000's (kid_owner) */
	CHECK_EQ(fdw_model_add_scanned(&F.model, verify_kids[0], (uint32_t)getpid(), "prog",
				       &verify_kids[0], 1, 1), 0);
	F.checker.offload = park;
	S->deps.read_owner = kid_owner;

	ufd = verify_as(1000, verify_kids[0]);
	rfd = verify_as(0, verify_kids[0]);
	CHECK(waiting(ufd) && waiting(rfd));
	/* the exec of a setuid-root program, its owner in its record */
	ex.pid = ex.tid = (uint32_t)kid;
	ex.seq = fdw_history_at(&F.history, F.history.len - 1)->seq + 1;
	ex.ts = ex.seq * 1000;
	ex.child_tid = 0;  /* uid 0 */
	ex.exit_code = 0; /* gid 0 */
	fdw_server_publish_event(S, fdw_history_push(&F.history, &ex, "suidprog"));
	run_parked(64);
	CHECK_EQ(nparked, 0);
	CHECK(read_reply(ufd, r.raw, sizeof(r.raw), NULL));
	if (!strstr(r.raw, "HTTP/1.1 404"))
		fprintf(stderr, "the user's verify of a process root's since: %.200s\n", r.raw);
	CHECK(strstr(r.raw, "HTTP/1.1 404") != NULL);
	CHECK(strstr(r.raw, "no such process") != NULL);
	CHECK(read_reply(rfd, r.raw, sizeof(r.raw), NULL));
	CHECK(strstr(r.raw, "HTTP/1.1 200") != NULL);
	(void)close(ufd);
	(void)close(rfd);
	F.checker.offload = NULL;
	S->deps.read_owner = NULL;
	(void)kill(kid, SIGKILL);
	(void)waitpid(kid, NULL, 0);
	verify_kids[0] = 0;
}

/* ---- owners read off the loop --------------------------------------------- */

/*
 * An unprivileged client's status, process list and event list ask for
 * the owner of every process: OWN_PIDS of them never read (or marked for
 * a re-read, as after lost records, or past their TTL) were each a /proc
 * read on the loop, 0.3 s of a blocked loop for 5,000 processes. They are
 * read in the thread pool first (access.c srv_owners_then): the reader
 * never runs on the loop's thread for them, and the answer is the same.
 */
#define OWN_PIDS 500

static pid_t own_kids[OWN_PIDS];     /* idle children in the model ... */
static uint8_t own_mine[(1u << 22) / 8]; /* ... by pid: those the test gives uid 1000 */

static pthread_t own_loop_thread;
static atomic_uint own_on_loop, own_in_pool;
static pthread_mutex_t own_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t own_cv = PTHREAD_COND_INITIALIZER;
static bool own_gate_closed; /* pool reads wait while set */
/* a pid whose pool reads are from before its exec: uid 1000's */
static _Atomic uint32_t own_pool_before;

static int own_owner(void *u, uint32_t pid, uint32_t *uid, uint32_t *gid)
{
	(void)u;
	(void)gid;
	if (pthread_equal(pthread_self(), own_loop_thread)) {
		atomic_fetch_add(&own_on_loop, 1);
	} else {
		atomic_fetch_add(&own_in_pool, 1);
		pthread_mutex_lock(&own_mu);
		while (own_gate_closed)
			pthread_cond_wait(&own_cv, &own_mu);
		pthread_mutex_unlock(&own_mu);
		if (pid == atomic_load(&own_pool_before)) {
			*uid = 1000;
			return 0;
		}
	}
	*uid = pid < (1u << 22) && (own_mine[pid / 8] & (1u << (pid % 8))) ? 1000 : 0;
	return 0;
}

/* root's, for the entries that fill the owners' cache (pids past pid_max) */
static int own_root(void *u, uint32_t pid, uint32_t *uid, uint32_t *gid)
{
	(void)u;
	(void)pid;
	(void)gid;
	*uid = 0;
	return 0;
}

static void own_gate(bool closed)
{
	pthread_mutex_lock(&own_mu);
	own_gate_closed = closed;
	pthread_cond_broadcast(&own_cv);
	pthread_mutex_unlock(&own_mu);
}

/* GET `target` as uid 1000; the reply's JSON. */
static json_t *own_get(const char *target)
{
	static struct reply r;
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", target);
	exchange(connect_as(1000, 7500), req, &r);
	CHECK_EQ(r.status, 200);
	return body_json(&r);
}

/*
 * GET `route` as uid 1000, its owners to read: the reply's `field` (a
 * count, or with `list` a list's length) is `want`, and every owner was
 * read in the pool, none on the loop. The reply's JSON, for more checks.
 */
static json_t *own_ask(const char *what, const char *route, const char *field, bool list,
		       size_t want)
{
	json_t *doc, *v;

	atomic_store(&own_in_pool, 0);
	doc = own_get(route);
	fprintf(stderr, "%s: %u reads on the loop, %u in the pool\n", what,
		atomic_load(&own_on_loop), atomic_load(&own_in_pool));
	v = json_object_get(doc, field);
	if (list)
		CHECK_EQ(json_array_size(v), want);
	else
		CHECK_EQ(json_integer_value(v), (json_int_t)want);
	CHECK_EQ(atomic_load(&own_on_loop), 0);
	CHECK(atomic_load(&own_in_pool) >= OWN_PIDS);
	return doc;
}

/* A child of `ppid` that waits (killed by the caller), in the model as
 * found in /proc, with no owner entry: a loss marks every pid
 * (records_lost from 1), so nothing known of it is trusted. Its pid. */
static pid_t own_idle_kid(uint32_t ppid)
{
	pid_t kid = fork();
	uint32_t x = (uint32_t)kid;

	if (kid == 0) {
		pause();
		_exit(0);
	}
	CHECK(kid > 0);
	CHECK_EQ(fdw_model_add_scanned(&F.model, x, ppid, "idle", &x, 1, 1), 0);
	fdw_server_records_lost(S, 1, NULL);
	return kid;
}

/* uid 1000's status on a connection as `pid`, the pool's owner reads held
 * (own_gate) until own_status_release(fd): once one of them is in the
 * pool. The connection. */
static int own_status_held(pid_t pid)
{
	int fd;

	atomic_store(&own_in_pool, 0);
	own_gate(true);
	fd = connect_as(1000, pid);
	send_all(fd, "GET /v1/status HTTP/1.1\r\n\r\n", 27);
	for (int i = 0; i < 2000 && !atomic_load(&own_in_pool); i++)
		spin(1);
	CHECK(atomic_load(&own_in_pool) > 0);
	return fd;
}

/* The pool's reads go on: the request on `fd` is answered (its reply's
 * raw text), and no owner read is left in flight. */
static const char *own_status_release(int fd)
{
	static struct reply r;

	own_gate(false);
	memset(&r, 0, sizeof(r));
	CHECK(read_reply(fd, r.raw, sizeof(r.raw), NULL));
	(void)close(fd);
	for (int i = 0; i < 2000 && S->owners_reading; i++)
		spin(1);
	CHECK_EQ(S->owners_reading, 0);
	return r.raw;
}

static void test_owners_off_loop(void)
{
	uint32_t self = (uint32_t)getpid();
	const struct fdw_history_entry *last = fdw_history_at(&F.history, F.history.len - 1);
	struct fdw_event ev = { .type = FDW_REC_EXIT };
	struct fdw_server_counters sc;
	static struct reply r1;
	int fd1, fd2;
	json_t *doc;

	own_loop_thread = pthread_self();
	/* earlier tests' children are gone (their owners may still be cached
	 * as uid 1000's): only this process and the idle ones below */
	for (;;) {
		size_t it = 0;
		void *v;
		struct fdw_proc *other = NULL;

		while (!other && fdw_hashmap_next(&F.model.procs, &it, NULL, &v))
			if (((struct fdw_proc *)v)->pid != self)
				other = v;
		if (!other)
			break;
		fdw_model_drop_proc(&F.model, other);
	}
	for (uint32_t i = 0; i < OWN_PIDS; i++) {
		uint32_t pid;

		own_kids[i] = fork();
		if (own_kids[i] == 0) {
			pause();
			_exit(0);
		}
		CHECK(own_kids[i] > 0);
		pid = (uint32_t)own_kids[i];
		if (i % 2)
			own_mine[pid / 8] |= (uint8_t)(1u << (pid % 8));
		CHECK_EQ(fdw_model_add_scanned(&F.model, pid, self, "idle", &pid, 1, 1), 0);
		ev.seq = last->seq + 1 + i;
		ev.ts = ev.seq * 1000;
		ev.pid = ev.tid = pid;
		(void)fdw_history_push(&F.history, &ev, "idle");
	}
	S->deps.read_owner = own_owner;

	/* never read: every owner read in the pool, none on the loop */
	doc = own_ask("status, owners unknown", "/v1/status", "processes", false, OWN_PIDS / 2);
	CHECK_STR(json_string_value(json_object_get(doc, "scope")), "own");
	json_decref(doc);

	/* every owner to be read again (as past its TTL): the same figures */
	fdw_server_records_lost(S, 1, NULL);
	json_decref(own_ask("status, owners stale", "/v1/status", "processes", false,
			    OWN_PIDS / 2));

	/* the process list and the event list: the same */
	fdw_server_records_lost(S, 1, NULL);
	json_decref(own_ask("processes", "/v1/processes", "processes", true, OWN_PIDS / 2));
	fdw_server_records_lost(S, 1, NULL);
	json_decref(own_ask("events", "/v1/events?limit=5000", "events", true, OWN_PIDS / 2));
	/* a follow stream's backlog: the same */
	fdw_server_records_lost(S, 1, NULL);
	{
		static const char req[] = "GET /v1/events?follow=1&limit=5000 HTTP/1.1\r\n\r\n";
		static char buf[128 * 1024];
		char until[64];
		int fd = connect_as(1000, 7504);

		snprintf(until, sizeof(until), "\"seq\":%llu",
			 (unsigned long long)(last->seq + OWN_PIDS)); /* the newest: odd */
		send_all(fd, req, sizeof(req) - 1);
		CHECK(read_reply(fd, buf, sizeof(buf), until));
		(void)close(fd);
		spin(5);
	}
	fprintf(stderr, "processes, events, follow: %u reads on the loop\n",
		atomic_load(&own_on_loop));
	CHECK_EQ(atomic_load(&own_on_loop), 0);

	/* a client that closes while its owners are read, and one that joined
	 * it: the first only detaches, the second is answered */
	fdw_server_records_lost(S, 1, NULL);
	fd1 = own_status_held(7501);
	fd2 = connect_as(1000, 7502);
	send_all(fd2, "GET /v1/processes HTTP/1.1\r\n\r\n", 30);
	spin(20);
	CHECK_EQ(S->owners_reading, 1); /* the second joined the first's */
	/* a request with no owner to read (no event of pid 1 in the history)
	 * does not wait for the item in flight */
	exchange(connect_as(1000, 7503), "GET /v1/events?pid=1 HTTP/1.1\r\n\r\n", &r1);
	CHECK_EQ(r1.status, 200);
	CHECK_EQ(S->owners_reading, 1);
	(void)close(fd1);
	spin(20);
	CHECK(strncmp(own_status_release(fd2), "HTTP/1.1 200", 12) == 0);
	CHECK_EQ(atomic_load(&own_on_loop), 0);
	/* nothing was over a bound */
	fdw_server_counters(S, &sc);
	CHECK_EQ(sc.owner_prefetches, 0);

	/* a second exec with no owner record (a setuid program) drained while
	 * the owners are read in the pool: that read may be from before it,
	 * and must not be taken for the program's owner (fail open). The
	 * first exec left its mark already, which the second does not change. */
	{
		uint32_t p = (uint32_t)own_kids[1]; /* uid 1000's */
		struct fdw_event ex = { .type = FDW_REC_EXEC };
		uint64_t seq0 = fdw_history_at(&F.history, F.history.len - 1)->seq;
		char target[96];
		size_t shown = 0;
		json_t *evs;

		fdw_server_records_lost(S, 1, NULL);
		ex.pid = ex.tid = p;
		ex.seq = seq0 + 1;
		ex.ts = ex.seq * 1000;
		fdw_server_publish_event(S, fdw_history_push(&F.history, &ex, "prog"));
		fd1 = own_status_held(7505);
		/* the setuid program: root's from now on, but the pool's read
		 * of it was from before */
		ex.seq = seq0 + 2;
		ex.ts = ex.seq * 1000;
		own_mine[p / 8] &= (uint8_t)~(1u << (p % 8));
		atomic_store(&own_pool_before, p);
		fdw_server_publish_event(S, fdw_history_push(&F.history, &ex, "suidprog"));
		(void)own_status_release(fd1);
		atomic_store(&own_pool_before, 0);
		snprintf(target, sizeof(target), "/v1/events?pid=%u&limit=5000", p);
		doc = own_get(target);
		evs = json_object_get(doc, "events");
		for (size_t i = 0; i < json_array_size(evs); i++)
			if ((uint64_t)json_integer_value(json_object_get(json_array_get(evs, i),
									 "seq")) >= seq0 + 2)
				shown++;
		fprintf(stderr, "setuid exec during a pool read: %zu of its events shown to uid 1000\n",
			shown);
		CHECK_EQ(shown, 0);
		json_decref(doc);
	}

	/* a pid with no entry, read in the pool; meanwhile records are lost
	 * (its exit and a fork reusing its pid among them, for all the daemon
	 * knows) and it is root's: the read from before is not taken */
	{
		pid_t kid = own_idle_kid(self);
		uint32_t x = (uint32_t)kid, seq1; /* its fork not seen: no entry */
		struct fdw_event e2 = { .type = FDW_REC_EXIT };
		char target[96];
		size_t shown = 0;
		json_t *evs;

		fd1 = own_status_held(7506);
		atomic_store(&own_pool_before, x); /* 1000's in the pool, root's else */
		fdw_server_records_lost(S, S->last_seq + 1, NULL);
		(void)own_status_release(fd1);
		atomic_store(&own_pool_before, 0);
		/* the new process's event */
		seq1 = (uint32_t)fdw_history_at(&F.history, F.history.len - 1)->seq + 1;
		e2.seq = seq1;
		e2.ts = e2.seq * 1000;
		e2.pid = e2.tid = x;
		fdw_server_publish_event(S, fdw_history_push(&F.history, &e2, "rootprog"));
		snprintf(target, sizeof(target), "/v1/events?pid=%u&limit=5000", x);
		doc = own_get(target);
		evs = json_object_get(doc, "events");
		shown = json_array_size(evs);
		fprintf(stderr, "loss during a pool read of a pid with no entry: %zu events shown\n",
			shown);
		CHECK_EQ(shown, 0);
		json_decref(doc);
		fdw_model_drop_proc(&F.model, fdw_model_proc(&F.model, x));
		(void)kill(kid, SIGKILL);
		(void)waitpid(kid, NULL, 0);
	}

	/* a pid with no entry, read in the pool; meanwhile its process exits
	 * and root's fork takes the pid, but the owners' cache is full and
	 * makes no entry for it (no loss: nothing else says): the read from
	 * before is not taken for root's process */
	{
		pid_t kid = own_idle_kid(self);
		uint32_t x = (uint32_t)kid, filler = 1u << 22; /* past any pid_max */
		struct fdw_event fe = { .type = FDW_REC_FORK }, e2 = { .type = FDW_REC_EXIT };
		uint64_t refused, seq;
		char target[96];
		size_t shown;

		fd1 = own_status_held(7507);
		atomic_store(&own_pool_before, x); /* 1000's in the pool, root's else */
		/* the cache full (no prune within the second) */
		S->deps.read_owner = own_root;
		refused = S->owners_refused;
		while (S->owners_refused == refused) {
			S->owners_pruned_ns = fdw_now_mono();
			srv_access_learn(S, filler++);
		}
		S->deps.read_owner = own_owner;
		/* root forks; the child has pid x: refused an entry */
		seq = fdw_history_at(&F.history, F.history.len - 1)->seq + 1;
		fe.seq = seq;
		fe.ts = seq * 1000;
		fe.pid = fe.tid = self;
		fe.child_pid = fe.child_tid = x;
		refused = S->owners_refused;
		S->owners_pruned_ns = fdw_now_mono();
		fdw_server_publish_event(S, fdw_history_push(&F.history, &fe, "rootd"));
		CHECK_EQ(S->owners_refused, refused + 1); /* premise */
		CHECK(fdw_hashmap_get(&S->owners, x) == NULL);
		S->owners_pruned_ns = 0; /* the cache may be pruned again */
		(void)own_status_release(fd1);
		atomic_store(&own_pool_before, 0);
		/* the new process's event, and its fds */
		e2.seq = seq + 1;
		e2.ts = e2.seq * 1000;
		e2.pid = e2.tid = x;
		fdw_server_publish_event(S, fdw_history_push(&F.history, &e2, "rootprog"));
		snprintf(target, sizeof(target), "/v1/events?pid=%u&limit=5000", x);
		doc = own_get(target);
		shown = json_array_size(json_object_get(doc, "events"));
		json_decref(doc);
		snprintf(target, sizeof(target), "GET /v1/processes/%u/fds HTTP/1.1\r\n\r\n", x);
		exchange(connect_as(1000, 7508), target, &r1);
		fprintf(stderr,
			"cache full, pid reused during a pool read: %zu events shown, fds: %d\n",
			shown, r1.status);
		CHECK_EQ(shown, 0);
		CHECK_EQ(r1.status, 404);
		while (filler > (1u << 22))
			free(fdw_hashmap_remove(&S->owners, --filler));
		fdw_model_drop_proc(&F.model, fdw_model_proc(&F.model, x));
		(void)kill(kid, SIGKILL);
		(void)waitpid(kid, NULL, 0);
	}

	/* a privileged client reads nothing first */
	get("/v1/status", &r1);
	CHECK_EQ(r1.status, 200);
	S->deps.read_owner = NULL;
	for (uint32_t i = 0; i < OWN_PIDS; i++) {
		struct fdw_proc *p = fdw_model_proc(&F.model, (uint32_t)own_kids[i]);

		if (p)
			fdw_model_drop_proc(&F.model, p);
		(void)kill(own_kids[i], SIGKILL);
		(void)waitpid(own_kids[i], NULL, 0);
	}
}

/* ---- the server's life ---------------------------------------------------- */

static int setup(void)
{
	uint32_t self = (uint32_t)getpid();
	struct fdw_event ev = { .type = FDW_REC_EXIT, .tid = 4242 };

	CHECK_EQ(uv_loop_init(&loop), 0);
	if (fx_init(&F, NULL, 8192) < 0)
		return -1;
	CHECK_EQ(fdw_model_add_scanned(&F.model, self, (uint32_t)getppid(), "tester", &self, 1, 1),
		 0);
	for (uint32_t i = 1; i <= 3; i++) {
		ev.seq = i;
		ev.ts = i * 1000;
		ev.pid = i == 2 ? 4242 : 4000 + i;
		(void)fdw_history_push(&F.history, &ev, "worker");
	}
	snprintf(sock_path, sizeof(sock_path), "/tmp/fdwatch-test-http.%d/sub/api.sock", getpid());
	F.opts.socket_path = sock_path;
	F.opts.metrics_listen = "127.0.0.1:0";
	F.opts.max_clients = MAX_CLIENTS;
	F.opts.header_timeout_ms = HEADER_MS;
	F.opts.write_timeout_ms = WRITE_MS;
	CHECK_EQ(fdw_server_start(&S, &loop, &F.opts, &F.deps), 0);
	if (!S)
		return -1;
	CHECK_EQ(fdw_server_start_metrics(S), 0);
	return 0;
}

static void teardown(void)
{
	struct stat st;
	char dir[128];

	fdw_server_stop(S);
	CHECK(stat(sock_path, &st) < 0 && errno == ENOENT); /* the socket file is gone */
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	fdw_server_free(S);
	fx_free(&F);
	CHECK_EQ(uv_loop_close(&loop), 0);
	snprintf(dir, sizeof(dir), "/tmp/fdwatch-test-http.%d/sub", getpid());
	(void)rmdir(dir);
	*strrchr(dir, '/') = '\0';
	(void)rmdir(dir);
}

int main(void)
{
	unsigned int fds_before;

	uv_loop_t once;

	signal(SIGPIPE, SIG_IGN); /* as fdwatchd: a peer that goes away is no crash */
	/* libuv's first loop makes process-wide fds (its signal lock pipe) */
	(void)uv_loop_init(&once);
	(void)uv_loop_close(&once);
	fds_before = open_fds();
	if (setup() == 0) {
		test_status();
		test_routes();
		test_queries();
		test_bad_requests();
		test_one_request_per_connection();
		test_disconnects();
		test_not_ready();
		test_slot_rules();
		test_shares();
		test_other_pidns();
		test_other_pidns_slots();
		test_peer_pidns();
		test_bad_request_lines();
		test_header_timeout();
		test_follow();
		history_fill(6000);
		test_chunked_answer();
		test_chunked_tables();
		test_slow_readers();
		test_metrics_listener();
		test_verify_shares();
		test_verify_owner_change();
		test_owners_off_loop();
	}
	teardown();
	CHECK_EQ(open_fds(), fds_before);
	return check_summary();
}
